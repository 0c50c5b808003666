/* runner.h - helpers shared by the queue runner's modules */
#ifndef OE_RUNNER_H
#define OE_RUNNER_H

#include "etrnd/etrnd.h"

/* Arguments for rpool_command/rpool_script (not copied). */
struct rargs {
	const char **v;
	size_t	*l;
	int	n, cap;
};

#define RARGS_INIT { NULL, NULL, 0, 0 }

void	rargs_add(struct rargs *, const char *, size_t);
void	rargs_str(struct rargs *, const char *);
void	rargs_free(struct rargs *);
long long run_now_ms(void);
int	run_cmd(struct runner *, const char *, struct rargs *,
	    struct rr_reply *);
int	run_script(struct runner *, struct rscript *, const char *, int,
	    struct rargs *, struct rr_reply *);
enum qb_status run_qb(enum qb_status, const char *);
struct qb_qinfo *run_status(struct runner *, char *const *, size_t,
	    enum qb_status *);

/* dsnsend.c: DSNs through a service that holds them (dsn_server). */
int	dsn_submit(struct runner *, const char *, const char *, size_t,
	    char *, size_t, struct buf *);
int	dsn_find_held(struct runner *, long long, const char *, char *,
	    size_t);
int	dsn_release(struct runner *, char *const *, size_t, int *);
int	dsn_release_one(struct runner *, const char *);

/* expire.c: return held mail past its deadline, send delay warnings. */
int	expire_sweep(struct runner *);

/* rcnrun.c: reconcile every reconcile_interval, one step per call. */
int	rcnrun_step(struct runner *);
/* pending.c: count recorded mail once on hold, drop what never got there. */
int	pending_sweep(struct runner *);

#endif
