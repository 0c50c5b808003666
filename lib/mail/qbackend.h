/* qbackend.h - MTA queue backends: postfix, sendmail, null */
#ifndef OE_QBACKEND_H
#define OE_QBACKEND_H

#include <stddef.h>

#include "util/buf.h"
#include "util/strv.h"

/* The closed set of outcomes; replies.c maps them to protocol codes. */
enum qb_status {
	QB_OK,		/* done */
	QB_FAIL,	/* temporary: command failed, try again later */
	QB_BAD,		/* bad argument (never reaches the MTA) */
	QB_DENY,	/* refused: not in the hold queue, token mismatch */
};

enum qb_read { QB_READ_HEADERS, QB_READ_FULL };

struct qb_conf {
	const char *config_directory;	/* postfix -c, "" for default */
	const char *command_directory;	/* where postsuper & co live */
	const char *null_log;		/* null backend: where calls go */
	int	timeout;		/* s, per command */
	char	*queue_directory;	/* filled in by init (postfix) */
	long long max_lifetime;		/* s, init: how long the MTA keeps
					 * a deferred message; 0 unknown */
	/* sendmail (NULL or "": the defaults) */
	const char *sendmail_command;	/* the sendmail binary */
	const char *sendmail_config_file;	/* sendmail -C, "" default */
	const char *sendmail_queue_directory;	/* "" : from the .cf */
	unsigned sendmail_subdirs;	/* init: 1 << (kind - 'a') for each
					 * of qf/, df/, xf/ present */
};

/* Where a message is, as far as openetrn's state machine cares. */
enum qb_qstate {
	QS_GONE,	/* not in the queue: delivered, bounced or deleted */
	QS_HELD,	/* in the hold queue */
	QS_PENDING,	/* incoming/active, or deferred and due: in progress */
	QS_FAILED,	/* deferred after a failed attempt (next try later) */
};

struct qb_qinfo {
	char	*id;		/* queue ID (caller's) */
	enum qb_qstate state;
	char	**rcpt;		/* recipients still in the queue file */
	size_t	nrcpt;
};

/*
 * A queued message's envelope, in the form etrn-milter records it: the
 * sender without <> ("" for the null sender), one line per recipient
 * "address TAB notify TAB orcpt" (NOTIFY and ORCPT as SMTP carries
 * them, "" when not given), ENVID as xtext, RET "FULL", "HDRS" or "".
 */
struct qb_envelope {
	struct buf sender, rcpts, envid;
	const char *ret;
	long long size;		/* octets, as the milter counts them */
	size_t	nrcpt;
};

struct qb_backend {
	const char *name;
	/* Move held messages back to the active queue and schedule them. */
	enum qb_status (*release)(const struct qb_conf *, char *const *,
	    size_t);
	/* Delete messages, only those in the hold queue. */
	enum qb_status (*remove)(const struct qb_conf *, char *const *,
	    size_t);
	/* Queue IDs of every message in the hold queue. */
	enum qb_status (*list_held)(const struct qb_conf *,
	    struct strv *);
	/* Headers or whole message of a queued message. */
	enum qb_status (*read)(const struct qb_conf *, const char *,
	    enum qb_read, struct buf *);
	/* Resolve what the backend needs once (e.g. queue_directory). */
	enum qb_status (*init)(struct qb_conf *);
	/* Put released messages back on hold. */
	enum qb_status (*rehold)(const struct qb_conf *, char *const *,
	    size_t);
	/* State of each of n messages (out[i].id set by the caller). */
	enum qb_status (*status)(const struct qb_conf *, struct qb_qinfo *,
	    size_t);
	/* The same states without recipients, cheaper (nothing opened). */
	enum qb_status (*locate)(const struct qb_conf *, struct qb_qinfo *,
	    size_t);
	/* Out of the hold queue and delivered at once, keeping the queue
	 * IDs: for messages never tried (a sweep's DSNs), one wake-up for
	 * the batch instead of scheduling each.  NULL: use release. */
	enum qb_status (*release_new)(const struct qb_conf *, char *const *,
	    size_t);
	/* Messages in the hold queue whose file was written at or after
	 * since (time_t); NULL where the MTA cannot tell. */
	enum qb_status (*held_since)(const struct qb_conf *, long long,
	    struct strv *);
	/* Submit a new message (a DSN): envelope sender ("" = <>), one
	 * recipient, the message text. */
	enum qb_status (*submit)(const struct qb_conf *, const char *,
	    const char *, const char *, size_t);
	/* The envelope of a queued message (etrnctl reconcile); NULL
	 * where the MTA cannot give it. */
	enum qb_status (*envelope)(const struct qb_conf *, const char *,
	    struct qb_envelope *);
	/* A sweep reading many messages' headers: batch_begin before (no
	 * thread running), batch_end after; in between read_queued reads
	 * the headers of a message the caller found in state (QS_HELD:
	 * the hold queue) from its queue file, postcat when in doubt.
	 * NULL: read(QB_READ_HEADERS) per message. */
	void	(*batch_begin)(const struct qb_conf *);
	void	(*batch_end)(const struct qb_conf *);
	enum qb_status (*read_queued)(const struct qb_conf *, const char *,
	    enum qb_qstate, struct buf *);
};

void	qb_qinfo_free(struct qb_qinfo *, size_t);
enum qb_status qb_read_headers(const struct qb_backend *,
	    const struct qb_conf *, const char *, enum qb_qstate,
	    struct buf *);

const struct qb_backend *qb_lookup(const char *);
const char *qb_status_name(enum qb_status);
int	qb_submit_ok(const char *, const char *);
enum qb_status qb_run(const char *const *, const char *, const char *,
	    size_t, struct buf *, int);
void	qb_env_rcpt(struct qb_envelope *, const char *, const char *,
	    const char *);
void	qb_env_free(struct qb_envelope *);

extern const struct qb_backend qb_postfix;
extern const struct qb_backend qb_sendmail;
extern const struct qb_backend qb_null;

#endif
