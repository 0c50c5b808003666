/*
 * NAME
 *	pending - etrnd's queue runner: count a recorded message once it is
 *	on hold, drop the record of one that never got there
 * SUMMARY
 *	pending_sweep(&r);	(from runner_loop, every queue_run_interval)
 * DESCRIPTION
 *	etrn-milter writes a message's record before the MTA has put the
 *	message on hold: a later milter may still reject it at end of data,
 *	or the MTA's cleanup fail.  So the record is written in state
 *	"pending" and indexed only in etrn:pending:<host> (score: arrival
 *	in ms); it is in no held set, counter, expiry or warning index, and
 *	counts for no ETRN reply, statistic or quota.
 *
 *	pending_sweep() asks the queue backend where each of this host's
 *	pending messages is (the oldest PEND_MAX of them per pass):
 *	- on hold: promoted to "held" (holdrec_promote, one script for the
 *	  batch), and only then added to
 *	  etrn:held:<domain>, the counters (held, bytes, received, oldest),
 *	  etrn:expiry:<host> and etrn:warn:<host>;
 *	- in no queue directory, or deferred (not on hold, so no hold of
 *	  ours), and recorded more than pending_timeout ago: the record is
 *	  dropped (holdrec_drop_pending).  The script checks the state and
 *	  the arrival again, so a
 *	  record written anew for the same queue ID meanwhile stays;
 *	- incoming or active (still being written or looked at): it waits.
 *	A queue that cannot be read (the backend fails the call) is no
 *	evidence: nothing is promoted or dropped in that pass.  An entry
 *	whose record is missing or no longer pending (promoted by etrnctl
 *	reconcile) only leaves the index.
 *
 *	Layer 2 of the runner (runner.c has the map): it calls rctx.c only,
 *	and runner_loop() calls it.
 * DIAGNOSTICS
 *	One line per promoted or dropped record, queue ID first; Redis and
 *	backend failures are logged once per outage by rctx.c.  Returns
 *	-1 when Redis or the queue failed, else the number of records
 *	promoted or dropped.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "etrnd/etrnd.h"
#include "etrnd/runner.h"
#include "mail/holdrec.h"
#include "mail/qid.h"
#include "mail/rkeys.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/xalloc.h"

#define PEND_MAX	"10000"	/* pending records looked at per pass */

/* pend_now_ms - wall clock in ms, the milter's arrival scale */
static long long
pend_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* pend_list - the oldest pending queue IDs and their arrival (ms) */
static int
pend_list(struct runner *r, const char *key, struct strv *ids,
    long long **ms)
{
	struct rargs a = RARGS_INIT;
	struct rr_reply rep;
	size_t	i;
	int	rc;

	rargs_str(&a, "ZRANGE");
	rargs_str(&a, key);
	rargs_str(&a, "0");
	rargs_str(&a, PEND_MAX);
	rargs_str(&a, "WITHSCORES");
	rc = runner_cmd(r, "list pending", &a, &rep);
	*ms = xcalloc(rep.nelem / 2 + 1, sizeof(**ms));
	for (i = 0; rc == 0 && i + 1 < rep.nelem; i += 2) {
		const char *q = rep.elems[i], *sc = rep.elems[i + 1];

		if (q == NULL || sc == NULL || !qid_valid(q)) {
			log_warnx("bad member \"%.80s\" in %s ignored",
			    q ? q : "", key);
			continue;
		}
		(*ms)[ids->n] = strtoll(sc, NULL, 10);
		strv_add(ids, q);
	}
	rr_reply_free(&rep);
	rargs_free(&a);
	return rc;
}

/* pend_apply - holdrec_promote or holdrec_drop_pending; log each record */
static int
pend_apply(struct runner *r, struct strv *ids, int promote, long long cutoff)
{
	struct rr_reply rep;
	size_t	i;
	int	rc, n = 0;

	if (ids->n == 0)
		return 0;
	if (!runner_leased(r, &rep))
		rc = -1;
	else if (promote)
		rc = runner_hr(r, holdrec_promote(r->redis, r->s->hostname,
		    ids->v, ids->n, &rep), "promote pending", &rep);
	else
		rc = runner_hr(r, holdrec_drop_pending(r->redis, r->s->hostname,
		    cutoff, ids->v, ids->n, &rep), "drop pending", &rep);
	for (i = 0; rc == 0 && i + 1 < rep.nelem; i += 2, n++)
		if (promote)
			log_info("%s: on hold, counted: domain=%s",
			    rep.elems[i], rep.elems[i + 1]);
		else
			log_info("%s: pending record dropped: domain=%s "
			    "reason=\"not on hold after pending_timeout "
			    "(%llds)\"", rep.elems[i], rep.elems[i + 1],
			    r->s->pending_timeout);
	rr_reply_free(&rep);
	return rc < 0 ? -1 : n;
}

/* pending_sweep - promote or drop this host's pending records (above) */
int
pending_sweep(struct runner *r)
{
	struct strv ids = { NULL, 0, 0 }, held = { NULL, 0, 0 },
	    gone = { NULL, 0, 0 };
	struct qb_qinfo *qi = NULL;
	struct buf key = BUF_INIT;
	long long *ms = NULL, cutoff;
	int	rc, n = 0, m;
	size_t	i;

	rkey_pending(&key, r->s->hostname);
	if ((rc = pend_list(r, key.s, &ids, &ms)) < 0 || ids.n == 0)
		goto out;
	if ((qi = runner_status(r, ids.v, ids.n, NULL)) == NULL) {
		rc = -1;	/* no evidence: nothing promoted or dropped */
		goto out;
	}
	cutoff = pend_now_ms() - r->s->pending_timeout * 1000;
	for (i = 0; i < ids.n; i++)
		if (qi[i].state == QS_HELD)
			strv_add(&held, ids.v[i]);
		else if ((qi[i].state == QS_GONE ||
		    qi[i].state == QS_FAILED) && ms[i] <= cutoff)
			strv_add(&gone, ids.v[i]);
	if ((m = pend_apply(r, &held, 1, 0)) < 0 ||
	    (n = pend_apply(r, &gone, 0, cutoff)) < 0)
		rc = -1;
	else
		n += m;
out:
	if (qi != NULL) {
		qb_qinfo_free(qi, ids.n);
		free(qi);
	}
	free(ms);
	strv_free(&ids);
	strv_free(&held);
	strv_free(&gone);
	buf_free(&key);
	return rc < 0 ? -1 : n;
}
