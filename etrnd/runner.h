/* runner.h - helpers shared by the queue runner's modules */
#ifndef OE_RUNNER_H
#define OE_RUNNER_H

#include "etrnd/etrnd.h"
#include "util/rargs.h"

long long runner_now_ms(void);
int	runner_cmd(struct runner *, const char *, struct rargs *,
	    struct rr_reply *);
int	runner_leased(struct runner *, struct rr_reply *);
int	runner_result(int, const char *, const struct rr_reply *);
int	runner_hr(int, const char *, struct rr_reply *);
int	runner_script(struct runner *, struct rscript *, const char *, int,
	    struct rargs *, struct rr_reply *);
enum qb_status runner_qb(enum qb_status, const char *);
struct qb_qinfo *runner_status(struct runner *, char *const *, size_t,
	    enum qb_status *);
int	runner_redis_down(void);
int	runner_redis_io(void);
int	runner_qb_down(void);
void	runner_ctx_reset(void);
int	runner_ready(struct runner *);
int	runner_gone(struct runner *, char *const *, size_t, int, const char *,
	    size_t *);

/* The flush of a domain (runner_flush, in etrnd.h) tried again later. */
int	runner_reflush(struct runner *);

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
