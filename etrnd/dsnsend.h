/* dsnsend.h - DSNs to dsn_server over several sessions at once */
#ifndef OE_DSNSEND_H
#define OE_DSNSEND_H

#include <stddef.h>

#include "util/buf.h"

struct runner;

#define DSN_SESSIONS	4	/* sessions (worker threads) at most */
#define DSNSEND_UNTRIED	(-3)	/* dsnsend_job.st: not tried (stopping) */

/* One DSN for dsnsend_submit_many(): in, then out. */
struct dsnsend_job {
	const char *rcpt;	/* the original's envelope sender */
	const char *text;	/* the DSN */
	size_t	len;
	int	st;		/* out: dsnsend_submit's result */
	char	qid[64];	/* out: its queue ID on hold, or "" */
	struct buf err;		/* out: why, or how it was downgraded */
};

void	dsnsend_submit_many(struct runner *, struct dsnsend_job *, size_t);
int	dsnsend_find_held_many(struct runner *, long long, char *const *,
	    size_t, char (*)[64]);

#endif
