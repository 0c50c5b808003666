/* reconcile.h - the index made to agree with the hold queue again */
#ifndef OE_RECONCILE_H
#define OE_RECONCILE_H

#include <stddef.h>

#include "mail/qbackend.h"
#include "util/redis_sync.h"

/* What was done with one message. */
enum rcn_act { RCN_OK, RCN_REBUILT, RCN_DROPPED, RCN_SKIPPED, RCN_FAILED,
	RCN_NACT };

/* Told about every message not found in order (queue ID first). */
typedef void rcn_note_fn(void *, const char *, enum rcn_act, const char *,
    const char *);
/* Told about a failed Redis call (the reply says why). */
typedef void rcn_error_fn(void *, const struct rr_reply *);

struct rcn_conf {
	struct rpool *redis;
	const struct qb_backend *qb;
	const struct qb_conf *qc;
	const char *hostname;
	long long max_header_bytes;
	int	dry;		/* check and report, change nothing */
	int	runner;		/* etrnd's own pass: any record is present,
				 * only records in state held are dropped */
	rcn_note_fn *note;
	rcn_error_fn *redis_error;
	void	*arg;
};

/* One pass: rcn_start, rcn_held until 0, rcn_drop_start, rcn_drop
 * until 0, rcn_free. */
struct rcn {
	struct rcn_conf c;
	long long held;			/* messages in the hold queue */
	long long n[RCN_NACT];		/* messages per outcome */
	struct strv ids;		/* the hold queue, sorted */
	size_t	next;			/* ids: the next to look at */
	struct strv cand;		/* records without a held file */
	size_t	cnext;			/* cand: the next to look at */
};

int	rcn_start(struct rcn *, const struct rcn_conf *);
int	rcn_held(struct rcn *, size_t, size_t);
int	rcn_drop_start(struct rcn *);
int	rcn_drop(struct rcn *, size_t);
void	rcn_free(struct rcn *);

#define RCN_QUEUE	(-2)	/* the queue could not be read: stop */

#endif
