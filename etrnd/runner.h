/* runner.h - the queue runner's modules above its context (rctx.h) */
#ifndef OE_RUNNER_H
#define OE_RUNNER_H

#include "etrnd/etrnd.h"
#include "etrnd/rctx.h"

/* dsnsend.c: DSNs through a service that holds them (dsn_server). */
int	dsnsend_submit(struct runner *, const char *, const char *, size_t,
	    char *, size_t, struct buf *);
int	dsnsend_find_held(struct runner *, long long, const char *, char *,
	    size_t);
int	dsnsend_release(struct runner *, char *const *, size_t, int *);
int	dsnsend_release_one(struct runner *, const char *);
void	dsnsend_end(struct runner *);

/* expire.c: return held mail past its deadline, send delay warnings. */
int	expire_sweep(struct runner *);

/* rcnrun.c: reconcile every reconcile_interval, one step per call. */
int	rcnrun_step(struct runner *);
/* pending.c: count recorded mail once on hold, drop what never got there. */
int	pending_sweep(struct runner *);

#endif
