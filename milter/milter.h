/* milter.h - etrn-milter's internal interfaces */
#ifndef OE_MILTER_H
#define OE_MILTER_H

#include <stdio.h>
#include <time.h>

#include "mail/domain.h"
#include "mail/settings.h"
#include "util/buf.h"
#include "util/redis_sync.h"

/* A loaded configuration, shared by reference (swapped on SIGUSR1). */
struct cfg {
	struct oe_settings s;
	struct rpool *redis;
	int	refs;
};

struct cfg *cfg_acquire(void);
void	cfg_release(struct cfg *);
int	cfg_reload(const char *);
int	cfg_install(const char *, struct buf *);

/* Dial-up domain cache (domcache.c). */
enum dc_result { DC_NO, DC_YES, DC_UNKNOWN };

int	domcache_start(void);
void	domcache_refresh_now(void);
enum dc_result domcache_lookup(const char *, long long *, long long *);

/* One envelope recipient. */
struct rcpt {
	char	*arg;		/* as given to RCPT TO, with brackets */
	char	*addr;		/* without brackets */
	char	*domain;	/* normalised, NULL if none or invalid */
	char	*notify;	/* NOTIFY= value, NULL if absent */
	char	*orcpt;		/* ORCPT= value, NULL if absent */
	int	dialup;		/* recipient domain is a dial-up domain */
	long long hold_time;	/* from the matching entry */
	long long warn_time;
};

/* The message in progress. */
struct msg {
	char	*sender;	/* without brackets, "" for <> */
	char	*ret;		/* RET= value: FULL or HDRS */
	char	*envid;		/* ENVID= value */
	char	*body;		/* BODY= value: 7BIT, 8BITMIME, ... */
	int	smtputf8;	/* MAIL had SMTPUTF8 */
	struct rcpt *rcpt;
	size_t	nrcpt, rcap;
	struct buf headers;	/* bounded copy for the hold record */
	int	headers_truncated;
	unsigned long long size;
	int	ntags;		/* X-ETRN-Hold headers the message came with */
	int	planned;	/* plan made (after the last RCPT) */
	int	need_copy;	/* keep a copy for re-injection */
	FILE	*spool;
	int	spool_error;
};

/* Per SMTP connection. */
struct conn {
	struct cfg *cfg;
	char	*client;	/* "name[addr]" */
	char	*client_addr;
	int	dsn;		/* on the MTA daemon dsn_daemon_name */
	struct msg msg;
};

/* Groups of recipients by dial-up domain, and what to do (record.c). */
struct rgroup {
	const char *domain;
	size_t	*idx;		/* into msg.rcpt */
	size_t	n;
};

struct plan {
	struct rgroup *groups;
	size_t	ngroups;
	size_t	nother;		/* recipients not in a dial-up domain */
	long	hold;		/* group held with the original, -1: none */
};

void	record_reset(struct msg *);
int	record_add_rcpt(struct msg *, const char *, char **, struct buf *);
int	record_set_sender(struct msg *, const char *, char **, struct buf *);
void	record_add_header(struct msg *, const char *, const char *, size_t);
int	record_plan_make(const struct msg *, struct plan *);
void	record_plan_free(struct plan *);
void	record_rcpts(struct buf *, const struct msg *, const struct rgroup *);
#define REASON_MAX	100	/* octets of a quarantine reason Postfix keeps
				 */
void	record_reason(struct buf *, const char *);
int	record_esmtp_ok(const char *);

/* Hold and split at end of message (hold.c). */
struct hold_result {
	int	tempfail;	/* tell the client 451 */
	int	held;		/* quarantine the original */
	char	token[33];
	const char *domain;
};

/* Re-injection of per-domain copies (reinject.c). */
struct smtpc;
int	reinject_copy(const struct cfg *, struct msg *, const struct rgroup *,
	    struct buf *, struct buf *);
const char *reinject_lacks(const struct msg *, const struct rgroup *,
	    const struct smtpc *);
int	reinject_probe(const struct cfg *);

/* Redis writes (store.c). */
struct hold_info {
	const char *qid;
	const char *domain;
	const char *token;
	const char *client;
	long long arrived, expires, warn_at;
};
int	store_hold(const struct cfg *, const struct msg *,
	    const struct rgroup *, const struct hold_info *, struct buf *);
int	store_fetch_domains(const struct cfg *, struct domlist *, struct buf *);

#endif
