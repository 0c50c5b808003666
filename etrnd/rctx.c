/*
 * NAME
 *	rctx - the queue runner's context, bottom layer: Redis calls made
 *	under the lease, backend results, failures logged once
 * SUMMARY
 *	runner_cmd(r, what, &args, &rep); runner_script(r, sc, what, n,
 *	&args, &rep); rc = runner_hr(r, rc, what, &rep); runner_leased(r,
 *	&rep); runner_qb(r, st, what); runner_status(r, ids, n, &st);
 *	runner_ready(r); runner_gone(r, ids, n, track, domain, &done);
 * DESCRIPTION
 *	What every layer of the runner above it uses (runner.c has the
 *	map): a Redis command or script runs only while this host's lease
 *	is held (runner_leased(), lease.c), and its failure is logged once
 *	per outage (runner_result(r, ); runner_hr(r, ) for a holdrec transition,
 *	which answers an array); a queue backend failure likewise
 *	(runner_qb(r, )).  runner_status() asks the backend where n messages
 *	are, in one call.  runner_ready() says whether the Redis pool and
 *	the backend can be used, running the backend's init at most every
 *	RUN_QB_BACKOFF_MS after a failure (its timing in struct runner's
 *	ctx).  runner_gone() removes the records of messages that left the
 *	queue (holdrec_gone, one script per RUN_BATCH), for flush.c and
 *	track.c alike.
 *
 *	It calls lease.c and lib/ only, nothing of the runner above it.
 *	The "failure logged" flags (r->ctx) are set by runner_result(),
 *	runner_hr() and runner_qb() and read by the layers above through
 *	runner_redis_down(), runner_redis_io() and runner_qb_down();
 *	runner_init() and runner_free() clear them with the rest of struct
 *	runner.
 *
 *	Tested alone: tests/etrnd/runner-test links this file with the
 *	layers above it; no layer needs the loop (runner-test calls
 *	runner_flush, runner_track and pending_sweep directly).
 * DIAGNOSTICS
 *	The helpers return -1 (or the backend's status) on failure, after
 *	one log line per episode: "redis: WHAT failed: ...; retrying",
 *	"queue: WHAT failed (STATUS); retrying", and one line when it works
 *	again.  Without the lease the Redis helpers fail like an outage
 *	("lease not held"), so the request at hand is read again later.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "etrnd/lease.h"
#include "etrnd/rctx.h"
#include "mail/holdrec.h"
#include "util/log.h"
#include "util/xalloc.h"

/* runner_now_ms - monotonic clock */
long long
runner_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* runner_result - one result of a Redis call: log an outage once; rc */
int
runner_result(struct runner *r, int rc, const char *what,
    const struct rr_reply *rep)
{
	if (rc < 0) {
		if (!r->ctx.redis_down)
			log_warnx("redis: %s failed: %.300s; retrying", what,
			    rep->str ? rep->str : "no reply");
		r->ctx.redis_down = 1;
		r->ctx.redis_io = rep->status == RR_IO;
	} else if (r->ctx.redis_down) {
		log_info("redis: working again");
		r->ctx.redis_down = 0;
	}
	return rc;
}

/*
 * runner_leased - 1 while this host's lease is held (or there is none: the
 * runner's tests).  Else rep is a failure like an outage, so that no
 * record is touched and the flush request at hand is read again later.
 */
int
runner_leased(struct runner *r, struct rr_reply *rep)
{
	if (r->lease == NULL || lease_hold(r->lease, r->redis))
		return 1;
	memset(rep, 0, sizeof(*rep));
	rep->status = RR_IO;
	rep->str = xstrdup("lease not held");
	r->ctx.redis_io = 1;
	return 0;
}

/* runner_cmd - a command; -1 (logged once) on failure */
int
runner_cmd(struct runner *r, const char *what, struct rargs *a,
    struct rr_reply *rep)
{
	if (!runner_leased(r, rep))
		return -1;
	return runner_result(r, rpool_command(r->redis, a->n, a->v, a->l, rep),
	    what, rep);
}

/*
 * runner_hr - the result of a script (a holdrec transition) run while the
 * lease was held: an array reply is expected; -1 (logged once) on failure
 */
int
runner_hr(struct runner *r, int rc, const char *what, struct rr_reply *rep)
{
	if (rc == 0 && rep->type != RRT_ARRAY && rep->status != RR_NIL) {
		rr_reply_free(rep);
		rep->str = xstrdup("unexpected reply");
		rc = -1;
	}
	return runner_result(r, rc, what, rep);
}

/* runner_script - a script with nkeys keys; -1 (logged once) on failure */
int
runner_script(struct runner *r, struct rscript *sc, const char *what,
    int nkeys, struct rargs *a, struct rr_reply *rep)
{
	if (!runner_leased(r, rep))
		return -1;
	return runner_hr(r, rpool_script(r->redis, sc, nkeys, a->n, a->v, a->l,
	    rep), what, rep);
}

/* runner_qb - a backend result: log a failure once per episode */
enum qb_status
runner_qb(struct runner *r, enum qb_status st, const char *what)
{
	if (st != QB_OK) {
		if (!r->ctx.qb_down)
			log_warnx("queue: %s failed (%s); retrying", what,
			    qb_status_name(st));
		r->ctx.qb_down = 1;
	} else if (r->ctx.qb_down) {
		log_info("queue: %s works again", what);
		r->ctx.qb_down = 0;
	}
	return st;
}

/* runner_status - queue states (no recipients) of n messages in one backend
 * call (failure logged once), NULL on failure; *st says why if st is not
 * NULL */
struct qb_qinfo *
runner_status(struct runner *r, char *const *ids, size_t n, enum qb_status *st)
{
	struct qb_qinfo *qi = xcalloc(n ? n : 1, sizeof(*qi));
	enum qb_status s;
	size_t	i;

	for (i = 0; i < n; i++)
		qi[i].id = ids[i];
	s = runner_qb(r, r->qb->locate(&r->qc, qi, n), "queue status");
	if (st != NULL)
		*st = s;
	if (s != QB_OK) {
		qb_qinfo_free(qi, n);
		free(qi);
		return NULL;
	}
	return qi;
}

/* runner_redis_down - 1 while a Redis failure is logged and not over */
int
runner_redis_down(const struct runner *r)
{
	return r->ctx.redis_down;
}

/* runner_redis_io - 1 when the last Redis failure was I/O (an outage) */
int
runner_redis_io(const struct runner *r)
{
	return r->ctx.redis_io;
}

/* runner_qb_down - 1 while a backend failure is logged and not over */
int
runner_qb_down(const struct runner *r)
{
	return r->ctx.qb_down;
}

/*
 * runner_ready - Redis pool and backend usable.  A failed backend init is
 * tried again after RUN_QB_BACKOFF_MS, not at each call: every try runs
 * a command, whose SIGCHLD makes runner_loop() return and be called again.
 */
int
runner_ready(struct runner *r)
{
	long long now;

	if (r->redis == NULL || r->qb == NULL)
		return 0;
	if (r->ctx.qb_ready || r->qb->init == NULL)
		return r->ctx.qb_ready = 1;
	if ((now = runner_now_ms()) < r->ctx.next_init)
		return 0;
	if (runner_qb(r, r->qb->init(&r->qc), "backend init") != QB_OK) {
		r->ctx.next_init = now + RUN_QB_BACKOFF_MS;
		return 0;
	}
	/* Released mail deferred after the MTA's lifetime is bounced by
	 * the MTA instead of going back on hold (docs/etrnd.md). */
	if (r->qc.max_lifetime > 0 && r->qc.max_lifetime <= r->s->hold_time)
		log_warnx("%s: the MTA's queue lifetime (%llds; Postfix: "
		    "maximal_queue_lifetime, bounce_queue_lifetime; "
		    "Sendmail: Timeout.queuereturn) is not longer than "
		    "hold_time (%llds): released mail that is deferred may "
		    "be returned by the MTA instead of being held again",
		    r->qb->name, r->qc.max_lifetime, r->s->hold_time);
	return r->ctx.qb_ready = 1;
}

/* runner_gone_log - one line per message the gone script handled */
static size_t
runner_gone_log(const struct rr_reply *rep, int track)
{
	size_t	i, n = 0;

	for (i = 0; i + 2 < rep->nelem; i += 3) {
		const char *q = rep->elems[i], *code = rep->elems[i + 1],
		    *d = rep->elems[i + 2];

		if (q == NULL || code == NULL)
			continue;
		d = d ? d : "";
		if (strcmp(code, "1") == 0 && track)
			log_info("%s: left the queue after ETRN domain=%s", q,
			    d);
		else if (strcmp(code, "1") == 0)
			log_info("%s: stale record removed domain=%s "
			    "reason=not in the queue", q, d);
		else if (strcmp(code, "2") == 0)
			log_info("%s: index entries without a record removed "
			    "domain=%s", q, *d ? d : "-");
		else
			continue;
		n++;
	}
	return n;
}

/* runner_gone - records whose message left the queue (holdrec_gone) */
int
runner_gone(struct runner *r, char *const *ids, size_t n, int track,
    const char *domain, size_t *done)
{
	struct rr_reply rep;
	size_t	i, m;
	int	rc = 0;

	for (i = 0; rc == 0 && i < n; i += RUN_BATCH) {
		m = n - i < RUN_BATCH ? n - i : RUN_BATCH;
		rc = runner_leased(r, &rep) ? runner_hr(r,
		    holdrec_gone(r->redis, r->s->hostname, track, domain,
		    ids + i, m, &rep), "remove records", &rep) : -1;
		if (rc == 0 && done != NULL)
			*done += runner_gone_log(&rep, track);
		rr_reply_free(&rep);
	}
	return rc;
}
