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
 *	- on hold: promoted to "held" in one script, and only then added to
 *	  etrn:held:<domain>, the counters (held, bytes, received, oldest),
 *	  etrn:expiry:<host> and etrn:warn:<host>;
 *	- in no queue directory, or deferred (not on hold, so no hold of
 *	  ours), and recorded more than pending_timeout ago: the record is
 *	  dropped.  The script checks the state and the arrival again, so a
 *	  record written anew for the same queue ID meanwhile stays;
 *	- incoming or active (still being written or looked at): it waits.
 *	A queue that cannot be read (the backend fails the call) is no
 *	evidence: nothing is promoted or dropped in that pass.  An entry
 *	whose record is missing or no longer pending (promoted by etrnctl
 *	reconcile) only leaves the index.
 * DIAGNOSTICS
 *	One line per promoted or dropped record, queue ID first; Redis and
 *	backend failures are logged once per outage by runner.c.  Returns
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
#include "mail/qid.h"
#include "mail/rkeys.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/xalloc.h"

#define PEND_MAX	"10000"	/* pending records looked at per pass */

/*
 * KEYS: pending expiry warn; ARGV: msg_prefix held_prefix stats_prefix
 * member_prefix, then qids found on hold.  Returns qid, domain of each
 * record promoted.
 */
static struct rscript pend_promote_script = {
	PROMOTE_LUA
	"local out = {}\n"
	"for i = 5, #ARGV do\n"
	"  local q = ARGV[i]\n"
	"  local d = promote(ARGV[1] .. q, q, ARGV[4] .. q, ARGV[2], ARGV[3],\n"
	"    KEYS[2], KEYS[3], KEYS[1])\n"
	"  if d ~= '' then\n"
	"    out[#out + 1] = q\n"
	"    out[#out + 1] = d\n"
	"  end\n"
	"end\n"
	"return out\n",
	""
};

/*
 * KEYS: pending; ARGV: msg_prefix cutoff_ms, then qids not on hold.
 * Entries recorded at or before cutoff leave the index, and their record
 * too while it is pending.  Returns qid, domain of each record dropped.
 */
static struct rscript pend_drop_script = {
	"local out = {}\n"
	"for i = 3, #ARGV do\n"
	"  local q = ARGV[i]\n"
	"  local s = redis.call('ZSCORE', KEYS[1], q)\n"
	"  if s and tonumber(s) <= tonumber(ARGV[2]) then\n"
	"    local k = ARGV[1] .. q\n"
	"    local f = redis.call('HMGET', k, '" RF_STATE "', '" RF_DOMAIN
	"')\n"
	"    if f[1] == '" RSTATE_PENDING "' then\n"
	"      redis.call('DEL', k)\n"
	"      out[#out + 1] = q\n"
	"      out[#out + 1] = f[2] or ''\n"
	"    end\n"
	"    redis.call('ZREM', KEYS[1], q)\n"
	"  end\n"
	"end\n"
	"return out\n",
	""
};

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

/* pend_apply - run the promote or drop script; log each record */
static int
pend_apply(struct runner *r, const char *key, struct strv *ids,
    int promote, long long cutoff)
{
	struct buf msg = BUF_INIT, heldp = BUF_INIT, statsp = BUF_INIT,
	    member = BUF_INIT, expiry = BUF_INIT, warn = BUF_INIT;
	struct rargs a = RARGS_INIT;
	struct rr_reply rep;
	char	cut[24];
	size_t	i;
	int	rc, n = 0;

	if (ids->n == 0)
		return 0;
	rkey_msg(&msg, r->s->hostname, "");
	rargs_str(&a, key);
	if (promote) {
		rkey_expiry(&expiry, r->s->hostname);
		rkey_warn(&warn, r->s->hostname);
		rkey_held(&heldp, "");
		rkey_stats(&statsp, "");
		rkey_member(&member, r->s->hostname, "");
		rargs_str(&a, expiry.s);
		rargs_str(&a, warn.s);
		rargs_str(&a, msg.s);
		rargs_str(&a, heldp.s);
		rargs_str(&a, statsp.s);
		rargs_str(&a, member.s);
	} else {
		snprintf(cut, sizeof(cut), "%lld", cutoff);
		rargs_str(&a, msg.s);
		rargs_str(&a, cut);
	}
	for (i = 0; i < ids->n; i++)
		rargs_str(&a, ids->v[i]);
	rc = promote ? runner_script(r, &pend_promote_script,
	    "promote pending", 3, &a, &rep) : runner_script(r,
	    &pend_drop_script, "drop pending", 1, &a, &rep);
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
	rargs_free(&a);
	buf_free(&msg);
	buf_free(&heldp);
	buf_free(&statsp);
	buf_free(&member);
	buf_free(&expiry);
	buf_free(&warn);
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
	if ((m = pend_apply(r, key.s, &held, 1, 0)) < 0 ||
	    (n = pend_apply(r, key.s, &gone, 0, cutoff)) < 0)
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
