/*
 * NAME
 *	rcnrun - etrnd's queue runner reconciles by itself
 * SUMMARY
 *	while (rcnrun_step(&runner) > 0) serve the flush stream;
 * DESCRIPTION
 *	Redis can lose acknowledged writes (a crash under appendfsync
 *	everysec, an asynchronous failover, a FLUSHALL).  A held message
 *	whose record is lost would stay on hold for ever (ETRN finds nothing
 *	to release, Postfix never expires the hold queue), and a record whose
 *	message is gone would count against its domain until its deadline.
 *	So the runner runs reconcile.c's pass itself: at start and then
 *	every reconcile_interval (0: never), as etrnd's pass (conf.runner):
 *	a held file with a valid tag and no record at all gets its record
 *	back, with the deadline of the tag; a record in state held whose
 *	file two looks at the queue find gone is dropped; any record of a
 *	held file counts as present.
 *
 *	A pass is cut into steps, one per call: the listing of the hold
 *	queue, then RCNRUN_IDS queue IDs looked up in Redis (with at most
 *	RCNRUN_READS queue files read, for the records to rebuild) per
 *	step, then RCNRUN_DROP records without a held file per step.
 *	runner_loop() calls a step with its tracking and expiry, and while
 *	a pass is not finished it comes back after a look at the flush
 *	stream, so flush requests wait for one step at most.
 *
 *	A step that finds the queue unreadable or Redis failing ends the
 *	pass with nothing of that step done; the next pass comes after
 *	RCNRUN_RETRY_MS, or reconcile_interval if that is sooner.
 *
 *	Layer 3 of the runner (runner.c has the map): it calls reconcile.c
 *	and rctx.c, and runner_loop() calls it.
 * DIAGNOSTICS
 *	One line per message rebuilt ("ID: record rebuilt from its hold
 *	tag domain=D reason=...") or dropped ("ID: record dropped
 *	domain=D reason=..."), a warning per message that could not be
 *	rebuilt, and a summary line after a pass that changed anything.
 */
#include "config.h"

#include <string.h>

#include "etrnd/etrnd.h"
#include "etrnd/reconcile.h"
#include "etrnd/runner.h"
#include "util/log.h"

#define RCNRUN_IDS	500	/* queue IDs looked up in Redis per step */
#define RCNRUN_READS	20	/* queue files read per step */
#define RCNRUN_DROP	200	/* records without held file per step */
#define RCNRUN_RETRY_MS	60000	/* after a failed pass */

enum rcnrun_phase { RP_IDLE, RP_HELD, RP_DROP };

/* The pass under way (one runner per process). */
static struct {
	enum rcnrun_phase phase;
	long long due;		/* monotonic ms: the next pass; 0 at start */
	long long started;	/* monotonic ms */
	struct rcn run;
} rr;

/* rcnrun_note - one line per message changed or not rebuilt */
static void
rcnrun_note(void *arg, const char *qid, enum rcn_act act, const char *domain,
    const char *why)
{
	(void)arg;
	if (domain == NULL || *domain == '\0')
		domain = "-";
	switch (act) {
	case RCN_REBUILT:
		log_info("%s: record rebuilt from its hold tag domain=%s "
		    "reason=\"%s\"", qid, domain, why);
		break;
	case RCN_DROPPED:
		log_info("%s: record dropped domain=%s reason=\"%s\"", qid,
		    domain, why);
		break;
	case RCN_FAILED:
		log_warnx("%s: record not rebuilt domain=%s reason=\"%s\"",
		    qid, domain, why);
		break;
	case RCN_SKIPPED:
		log_debug("%s: on hold without record: %s", qid, why);
		break;
	default:
		break;
	}
}

/* rcnrun_redis_error - a failed Redis call ends the pass */
static void
rcnrun_redis_error(void *arg, const struct rr_reply *rep)
{
	(void)arg;
	log_warnx("reconcile: redis failed: %.300s; pass stopped",
	    rep->str ? rep->str : "no reply");
}

/* rcnrun_end - the pass is over (rc < 0: it failed) */
static void
rcnrun_end(struct runner *r, int rc)
{
	long long now = runner_now_ms(), next;
	const long long *n = rr.run.n;

	next = r->s->reconcile_interval * 1000;
	if (rc < 0 && next > RCNRUN_RETRY_MS)
		next = RCNRUN_RETRY_MS;
	rr.due = now + next;
	if (rc == 0 && (n[RCN_REBUILT] || n[RCN_DROPPED] || n[RCN_FAILED]))
		log_info("reconcile: held=%lld rebuilt=%lld dropped=%lld "
		    "failed=%lld ms=%lld", rr.run.held, n[RCN_REBUILT],
		    n[RCN_DROPPED], n[RCN_FAILED], now - rr.started);
	else if (rc == 0)
		log_debug("reconcile: held=%lld nothing to do ms=%lld",
		    rr.run.held, now - rr.started);
	rcn_free(&rr.run);
	rr.phase = RP_IDLE;
}

/* rcnrun_begin - list the hold queue; 0 started, -1 not now */
static int
rcnrun_begin(struct runner *r)
{
	struct rcn_conf c;

	memset(&c, 0, sizeof(c));
	c.redis = r->redis;
	c.qb = r->qb;
	c.qc = &r->qc;
	c.hostname = r->s->hostname;
	c.max_header_bytes = r->s->max_header_bytes;
	c.runner = 1;
	c.note = rcnrun_note;
	c.redis_error = rcnrun_redis_error;
	rr.started = runner_now_ms();
	if (rcn_start(&rr.run, &c) < 0) {
		rcnrun_end(r, -1);
		return -1;
	}
	rr.phase = RP_HELD;
	return 0;
}

/*
 * rcnrun_step - one step of the pass when one is under way or due; 1
 * when the pass goes on (call again soon), else 0
 */
int
rcnrun_step(struct runner *r)
{
	int	rc;

	if (r->s->reconcile_interval == 0)
		return 0;
	if (rr.phase == RP_IDLE) {
		if (rr.due != 0 && runner_now_ms() < rr.due)
			return 0;
		return rcnrun_begin(r) == 0;
	}
	if (rr.phase == RP_HELD) {
		if ((rc = rcn_held(&rr.run, RCNRUN_IDS, RCNRUN_READS)) == 0) {
			if ((rc = rcn_drop_start(&rr.run)) == 0) {
				rr.phase = RP_DROP;
				return 1;
			}
		}
	} else
		rc = rcn_drop(&rr.run, RCNRUN_DROP);
	if (rc > 0)
		return 1;
	rcnrun_end(r, rc);
	return 0;
}
