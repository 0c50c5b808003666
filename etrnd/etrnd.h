/* etrnd.h - etrnd's internal interfaces */
#ifndef OE_ETRND_H
#define OE_ETRND_H

#include <signal.h>

#include "mail/qbackend.h"
#include "mail/settings.h"
#include "util/redis_sync.h"
#include "util/strv.h"

struct lease;

#define RUNNER_REFLUSH_MAX 32	/* domains waiting for a flush retry */

/* A domain's flush to try again later (flush.c). */
struct runner_reflush {
	char	domain[256];
	char	client[64];
	long long due;			/* monotonic ms */
	int	tries;			/* retries done */
};

/* A released message tracking follows (track.c). */
struct runner_tmsg {
	char	*id;			/* queue ID */
	long long at;			/* released at, time(NULL) */
};

/* The queue runner (runner.c): the root process. */
struct runner {
	struct oe_settings *s;		/* current settings */
	struct rpool *redis;		/* blocking Redis pool */
	const struct qb_backend *qb;	/* queue backend */
	struct qb_conf qc;
	struct lease *lease;		/* this host's lease (lease.c): no
					 * record is touched without it */
	/* What the runner keeps between calls, by the layer that owns it;
	 * runner_init() and runner_free() clear it all. */
	struct {			/* rctx.c */
		int	redis_down;	/* a Redis failure was logged */
		int	redis_io;	/* the last failure was I/O */
		int	qb_down;	/* a backend failure was logged */
		int	qb_ready;	/* backend init done */
		long long next_init;	/* monotonic ms: next init try */
	}	ctx;
	struct {			/* flush.c */
		struct runner_reflush reflush[RUNNER_REFLUSH_MAX];
		size_t	nreflush;
	}	fl;
	struct {			/* track.c; flush.c adds to fresh */
		struct runner_tmsg *m;	/* this host's released set, sorted
					 * by ID: Redis's as last seen */
		size_t	n, cap;
		int	valid;		/* m is Redis's (no failure since) */
		struct strv fresh;	/* released by flush.c since */
		long long fresh_ms;	/* monotonic ms of fresh's first */
		long long loaded;	/* monotonic ms: last full load */
		long long since;	/* monotonic ms: the last pass */
		long long next;		/* monotonic ms: next pass due */
		long long wait;		/* ms: the last gap chosen */
	}	trk;
	long long next_track;		/* runner.c: monotonic ms, next
					 * runner_track() */
};

/* Set by signal handlers in main.c; the runner loop checks them. */
extern volatile sig_atomic_t etrnd_stop;
extern volatile sig_atomic_t etrnd_reload;
extern volatile sig_atomic_t etrnd_child_exited;

int	runner_init(struct runner *, struct oe_settings *);
void	runner_loop(struct runner *);	/* until etrnd_stop */
void	runner_free(struct runner *);
/* One pass over this host's released messages when due; tests, the loop. */
int	runner_track(struct runner *);
void	runner_track_free(struct runner *);	/* the set in memory */
/* Release this host's held mail for a domain (sub: and subdomains). */
int	runner_flush(struct runner *, const char *, const char *);
/* The first failed flush due for its retry (flush.c); for the loop. */
int	runner_reflush(struct runner *);

/* The listener (listener.c, session.c, etrn.c): the unprivileged child. */
struct ssl_ctx_st;
int	listener_main(struct oe_settings *, const char *, int *, int, int *,
	    int, int, struct ssl_ctx_st *);

#endif
