/* rctx.h - the queue runner's context (rctx.c): the bottom layer */
#ifndef OE_RCTX_H
#define OE_RCTX_H

#include "etrnd/etrnd.h"
#include "util/rargs.h"

#define RUN_BATCH	1000	/* queue IDs per Redis script or rehold call */
#define RUN_QB_BACKOFF_MS 30000	/* next try after the MTA failed */

long long runner_now_ms(void);
int	runner_cmd(struct runner *, const char *, struct rargs *,
	    struct rr_reply *);
int	runner_leased(struct runner *, struct rr_reply *);
int	runner_result(struct runner *, int, const char *,
	    const struct rr_reply *);
int	runner_hr(struct runner *, int, const char *, struct rr_reply *);
int	runner_script(struct runner *, struct rscript *, const char *, int,
	    struct rargs *, struct rr_reply *);
enum qb_status runner_qb(struct runner *, enum qb_status, const char *);
struct qb_qinfo *runner_status(struct runner *, char *const *, size_t,
	    enum qb_status *);
int	runner_redis_down(const struct runner *);
int	runner_redis_io(const struct runner *);
int	runner_qb_down(const struct runner *);
int	runner_ready(struct runner *);
int	runner_gone(struct runner *, char *const *, size_t, int, const char *,
	    size_t *);

#endif
