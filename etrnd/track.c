/*
 * NAME
 *	track - follow each released message until it is gone or back on
 *	hold
 * SUMMARY
 *	runner_track(&r);	(from runner_loop, every queue_run_interval)
 *	runner_track_free(&r);	(from runner_free)
 * DESCRIPTION
 *	runner_track() looks at every released message when a pass is due:
 *	gone from the queue
 *	-> the record is deleted, counters updated (held - 1, bytes - size,
 *	flushed + 1); deferred after a failed attempt, or still not
 *	delivered after release_timeout -> back on hold (the queue is asked
 *	again after the rehold, and only what is really on hold is marked
 *	held), recipients that were delivered are dropped from the record.
 *	A queue that cannot be read (the backend fails the whole call) is
 *	no evidence: nothing is dropped, counted, released or put back on
 *	hold in that pass, and the next pass starts afresh.
 *
 *	The released set is kept in memory (struct runner's trk, sorted by
 *	queue ID): flush.c hands over what it released (trk.fresh), and a
 *	pass reads only ZCARD of etrn:released:<host>.  It is loaded again
 *	(ZRANGE) at the first pass, after a Redis failure, every
 *	TRK_RELOAD_MS, and when the count differs from the set (released by
 *	expiry, etrnctl or another path, or removed elsewhere).  Passes are
 *	spaced by the delivery rate seen: when about half of what is left
 *	should be gone, at least queue_run_interval and at most TRK_MAX_MS
 *	apart, never after the set's first release_timeout; a release makes
 *	a pass due one queue_run_interval after it.  With nothing released
 *	a call costs the ZCARD only.
 *
 *	Layer: above rctx.c (and lease.c below it), below runner.c; it calls
 *	nothing of flush.c, expire.c or the loop.  Every change of a record
 *	is a transition of lib/mail/holdrec.c (one script per batch of
 *	queue IDs), made only while this host's lease is held.  Tested alone
 *	by "tests/etrnd/runner-test CONF track" (t-runner.sh).
 * DIAGNOSTICS
 *	One log line per decision, queue ID first.  runner_track() returns
 *	-1 when Redis failed, else 0.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "etrnd/etrnd.h"
#include "etrnd/rctx.h"
#include "mail/holdrec.h"
#include "mail/qid.h"
#include "mail/rkeys.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/xalloc.h"

#define TRK_MAX_MS	10000	/* ms, longest gap between two passes */
#define TRK_RELOAD_MS	30000	/* ms, the set reloaded from Redis */

/* A released message being tracked. */
enum runner_act { ACT_NONE, ACT_GONE, ACT_REHOLD, ACT_HELD };

struct titem {
	long long released_at;
	enum runner_act act;
	const char *why;
};

/* runner_drop_bad - remove a member that is no queue ID from the index */
static void
runner_drop_bad(struct runner *r, const char *member)
{
	struct rr_reply rep;

	log_warnx("released index: bad member \"%.80s\" removed", member);
	if (runner_leased(r, &rep))
		(void)runner_result(r, holdrec_released_drop(r->redis,
		    r->s->hostname, member, &rep), "ZREM released", &rep);
	rr_reply_free(&rep);
}

/* runner_classify - what to do with each released message */
static void
runner_classify(struct runner *r, const struct qb_qinfo *qi, struct titem *ti,
    size_t n)
{
	long long now = (long long)time(NULL);
	size_t	i;
	int	late;

	for (i = 0; i < n; i++) {
		late = now - ti[i].released_at >= r->s->release_timeout;
		ti[i].act = ACT_NONE;
		switch (qi[i].state) {
		case QS_GONE:
			ti[i].act = ACT_GONE;
			break;
		case QS_FAILED:
			ti[i].act = ACT_REHOLD;
			ti[i].why = "deferred";
			break;
		case QS_PENDING:
			if (late) {
				ti[i].act = ACT_REHOLD;
				ti[i].why = "timeout";
			}
			break;
		case QS_HELD:
			if (late) {
				ti[i].act = ACT_HELD;
				ti[i].why = "timeout-on-hold";
			}
			break;
		}
	}
}

/* runner_verify - after a rehold: held ones are marked, gone ones too */
static void
runner_verify(struct runner *r, struct qb_qinfo *qi, struct titem *ti,
    const size_t *idx, size_t k)
{
	struct qb_qinfo *v = xcalloc(k, sizeof(*v));
	size_t	i;
	int	ok;

	for (i = 0; i < k; i++)
		v[i].id = qi[idx[i]].id;
	ok = runner_qb(r, r->qb->status(&r->qc, v, k), "queue status") == QB_OK;
	for (i = 0; i < k; i++) {
		struct qb_qinfo *q = &qi[idx[i]];
		struct titem *t = &ti[idx[i]];

		t->act = ACT_NONE;
		if (!ok)
			continue;
		if (v[i].state == QS_GONE)
			t->act = ACT_GONE;
		else if (v[i].state != QS_HELD)
			log_debug("%s: not on hold yet after the rehold, "
			    "trying again later", q->id);
		else {
			t->act = ACT_HELD;
			qb_qinfo_free(q, 1);
			q->rcpt = v[i].rcpt;
			q->nrcpt = v[i].nrcpt;
			v[i].rcpt = NULL;
			v[i].nrcpt = 0;
		}
	}
	qb_qinfo_free(v, k);
	free(v);
}

/* runner_rehold - backend rehold for ACT_REHOLD, then check the queue */
static void
runner_rehold(struct runner *r, struct qb_qinfo *qi, struct titem *ti,
    size_t n)
{
	char	**ids = xcalloc(n, sizeof(*ids));
	size_t	*idx = xcalloc(n, sizeof(*idx));
	size_t	i, k = 0, b, m;

	for (i = 0; i < n; i++)
		if (ti[i].act == ACT_REHOLD) {
			idx[k] = i;
			ids[k++] = qi[i].id;
		}
	for (b = 0; b < k; b += RUN_BATCH) {
		m = k - b < RUN_BATCH ? k - b : RUN_BATCH;
		if (runner_qb(r, r->qb->rehold(&r->qc, ids + b, m), "rehold") ==
		    QB_OK)
			runner_verify(r, qi, ti, idx + b, m);
		else
			for (i = b; i < b + m; i++)
				ti[idx[i]].act = ACT_NONE;
	}
	free(ids);
	free(idx);
}

/* runner_held_log - one line per message put back on hold */
static void
runner_held_log(const struct rr_reply *rep, struct titem *const *t)
{
	size_t	i, j;

	for (i = 0, j = 0; i + 4 < rep->nelem; i += 5, j++) {
		const char *q = rep->elems[i], *d = rep->elems[i + 1],
		    *code = rep->elems[i + 2];

		if (q == NULL || d == NULL || code == NULL)
			continue;
		if (strcmp(code, "0") == 0)
			log_warnx("%s: not marked held: the record is not in "
			    "state released", q);
		else
			log_info("%s: back on hold domain=%s reason=%s "
			    "reholds=%s nrcpt=%s%s", q, d, t[j]->why,
			    rep->elems[i + 3] ? rep->elems[i + 3] : "?",
			    rep->elems[i + 4] ? rep->elems[i + 4] : "?",
			    strcmp(code, "2") == 0 ?
			    " delivered_recipients_dropped=yes" : "");
	}
}

/* runner_held - records of ACT_HELD messages back to state held */
static int
runner_held(struct runner *r, struct qb_qinfo *qi, struct titem *ti, size_t n)
{
	struct holdrec_rehold *m = xcalloc(n ? n : 1, sizeof(*m));
	struct titem **t = xcalloc(n ? n : 1, sizeof(*t));
	struct rr_reply rep;
	size_t	i = 0, cnt;
	int	rc = 0;

	while (rc == 0 && i < n) {
		for (cnt = 0; i < n && cnt < RUN_BATCH; i++) {
			if (ti[i].act != ACT_HELD)
				continue;
			t[cnt] = &ti[i];
			m[cnt].qid = qi[i].id;
			m[cnt].rcpt = qi[i].rcpt;
			m[cnt++].nrcpt = qi[i].nrcpt;
		}
		if (cnt == 0)
			break;
		rc = runner_leased(r, &rep) ? runner_hr(r,
		    holdrec_rehold(r->redis, r->s->hostname, m, cnt, &rep),
		    "mark held", &rep) : -1;
		if (rc == 0)
			runner_held_log(&rep, t);
		rr_reply_free(&rep);
	}
	free(m);
	free(t);
	return rc;
}

/* runner_track_gone - records of ACT_GONE messages removed, counted */
static int
runner_track_gone(struct runner *r, const struct qb_qinfo *qi,
    const struct titem *ti, size_t n)
{
	char	**ids = xcalloc(n ? n : 1, sizeof(*ids));
	size_t	i, k = 0, done = 0;
	int	rc;

	for (i = 0; i < n; i++)
		if (ti[i].act == ACT_GONE)
			ids[k++] = qi[i].id;
	rc = k ? runner_gone(r, ids, k, 1, NULL, &done) : 0;
	free(ids);
	return rc;
}

/* runner_track_cmp - released messages by queue ID */
static int
runner_track_cmp(const void *a, const void *b)
{
	return strcmp(((const struct runner_tmsg *)a)->id,
	    ((const struct runner_tmsg *)b)->id);
}

/* runner_track_add - one more message in the set (unsorted) */
static void
runner_track_add(struct runner *r, const char *id, long long at)
{
	if (r->trk.n == r->trk.cap) {
		r->trk.cap = r->trk.cap ? r->trk.cap * 2 : 64;
		r->trk.m = xreallocarray(r->trk.m, r->trk.cap,
		    sizeof(*r->trk.m));
	}
	r->trk.m[r->trk.n].id = xstrdup(id);
	r->trk.m[r->trk.n++].at = at;
}

/* runner_track_clear - empty the set in memory */
static void
runner_track_clear(struct runner *r)
{
	size_t	i;

	for (i = 0; i < r->trk.n; i++)
		free(r->trk.m[i].id);
	r->trk.n = 0;
}

/* runner_track_free - the set in memory and flush.c's hand-off */
void
runner_track_free(struct runner *r)
{
	runner_track_clear(r);
	free(r->trk.m);
	strv_free(&r->trk.fresh);
	memset(&r->trk, 0, sizeof(r->trk));
}

/* runner_track_count - ZCARD of this host's released index */
static int
runner_track_count(struct runner *r, long long *count)
{
	struct buf key = BUF_INIT;
	struct rargs a = RARGS_INIT;
	struct rr_reply rep;
	int	rc;

	rkey_released(&key, r->s->hostname);
	rargs_str(&a, "ZCARD");
	rargs_str(&a, key.s);
	rc = runner_cmd(r, "ZCARD released", &a, &rep);
	*count = rc == 0 && rep.type == RRT_INT ? rep.integer : -1;
	rr_reply_free(&rep);
	rargs_free(&a);
	buf_free(&key);
	return rc;
}

/* runner_track_load - the set from Redis: IDs and release times */
static int
runner_track_load(struct runner *r)
{
	struct buf key = BUF_INIT;
	struct rargs a = RARGS_INIT;
	struct rr_reply rep;
	size_t	i;
	int	rc;

	rkey_released(&key, r->s->hostname);
	rargs_str(&a, "ZRANGE");
	rargs_str(&a, key.s);
	rargs_str(&a, "0");
	rargs_str(&a, "-1");
	rargs_str(&a, "WITHSCORES");
	rc = runner_cmd(r, "ZRANGE released", &a, &rep);
	runner_track_clear(r);
	strv_free(&r->trk.fresh);	/* Redis has them */
	r->trk.valid = rc == 0;
	r->trk.loaded = runner_now_ms();
	for (i = 0; rc == 0 && rep.type == RRT_ARRAY && i + 1 < rep.nelem;
	    i += 2)
		if (rep.elems[i] == NULL || !qid_valid(rep.elems[i])) {
			runner_drop_bad(r, rep.elems[i] ? rep.elems[i] : "");
			r->trk.valid = 0;	/* count again next pass */
		} else
			runner_track_add(r, rep.elems[i], rep.elems[i + 1] ?
			    strtoll(rep.elems[i + 1], NULL, 10) : 0);
	if (r->trk.n > 1)	/* qsort() wants a base even for none */
		qsort(r->trk.m, r->trk.n, sizeof(*r->trk.m), runner_track_cmp);
	rr_reply_free(&rep);
	rargs_free(&a);
	buf_free(&key);
	return rc;
}

/*
 * runner_track_absorb - the IDs flush.c released since the last call join
 * the set (one already in it keeps its entry); a pass is due one
 * queue_run_interval after the release at the latest
 */
static void
runner_track_absorb(struct runner *r)
{
	long long at = (long long)time(NULL) -
	    (runner_now_ms() - r->trk.fresh_ms) / 1000;
	struct runner_tmsg key;
	size_t	i, n = r->trk.n;

	if (r->trk.fresh.n == 0)
		return;
	if (n == 0)
		r->trk.since = r->trk.fresh_ms;
	for (i = 0; i < r->trk.fresh.n; i++) {
		key.id = r->trk.fresh.v[i];
		if (n == 0 || bsearch(&key, r->trk.m, n, sizeof(*r->trk.m),
		    runner_track_cmp) == NULL)
			runner_track_add(r, key.id, at);
	}
	if (r->trk.n > 1)
		qsort(r->trk.m, r->trk.n, sizeof(*r->trk.m), runner_track_cmp);
	if (r->trk.next > r->trk.fresh_ms + r->s->queue_run_interval)
		r->trk.next = r->trk.fresh_ms + r->s->queue_run_interval;
	strv_free(&r->trk.fresh);
	r->trk.fresh_ms = 0;
}

/* runner_track_forget - messages gone or back on hold leave the set */
static void
runner_track_forget(struct runner *r, const struct titem *ti)
{
	size_t	i, k = 0;

	for (i = 0; i < r->trk.n; i++)
		if (ti[i].act == ACT_GONE || ti[i].act == ACT_HELD)
			free(r->trk.m[i].id);
		else
			r->trk.m[k++] = r->trk.m[i];
	r->trk.n = k;
}

/*
 * runner_track_pace - when the next pass is due.  With a delivery rate
 * seen (gone of the set during the time since the last pass), when about
 * half of what is left should be gone; with none seen, twice the last
 * gap; between queue_run_interval and TRK_MAX_MS, and never after the
 * first release_timeout of the set.
 */
static void
runner_track_pace(struct runner *r, long long start, size_t gone)
{
	long long min = r->s->queue_run_interval, w, dl, now, dt;
	size_t	i;

	dt = start - r->trk.since;
	if (r->trk.n == 0)
		w = min;
	else if (gone > 0 && dt > 0)
		w = (long long)r->trk.n * dt / (long long)gone / 2;
	else
		w = r->trk.wait * 2;
	w = w > TRK_MAX_MS ? TRK_MAX_MS : w;
	now = (long long)time(NULL);
	for (i = 0; i < r->trk.n; i++) {
		dl = (r->trk.m[i].at + r->s->release_timeout - now) * 1000;
		if (dl < w)
			w = dl;
	}
	w = w < min ? min : w;
	r->trk.wait = w;
	r->trk.since = start;
	r->trk.next = start + w;
}

/*
 * runner_track_sync - the set checked against Redis: reloaded after a
 * failure, every TRK_RELOAD_MS, and when the index's size differs (a
 * release by expiry, reconcile or etrnctl; a record removed elsewhere)
 */
static int
runner_track_sync(struct runner *r)
{
	long long count;

	if (runner_track_count(r, &count) < 0) {
		r->trk.valid = 0;
		return -1;
	}
	if (r->trk.valid && count == (long long)r->trk.n &&
	    runner_now_ms() - r->trk.loaded < TRK_RELOAD_MS)
		return 0;
	if (r->trk.valid && count != (long long)r->trk.n)
		log_debug("released index: %lld in Redis, %zu followed; "
		    "reloaded", count, r->trk.n);
	return runner_track_load(r);
}

/*
 * runner_track - one pass over this host's released messages, when due
 * (see runner_track_pace); the set is kept in memory (runner_track_sync)
 */
int
runner_track(struct runner *r)
{
	struct qb_qinfo *qi;
	struct titem *ti;
	size_t	i, n, gone = 0;
	long long start;
	int	rc;

	if (!runner_ready(r))
		return -1;
	start = runner_now_ms();
	runner_track_absorb(r);
	if (start < r->trk.next)
		return 0;
	if (runner_track_sync(r) < 0)
		return -1;
	if ((n = r->trk.n) == 0) {
		r->trk.since = start;
		r->trk.next = 0;	/* nothing to follow: each call asks */
		return 0;
	}
	qi = xcalloc(n, sizeof(*qi));
	ti = xcalloc(n, sizeof(*ti));
	for (i = 0; i < n; i++) {
		qi[i].id = r->trk.m[i].id;
		ti[i].released_at = r->trk.m[i].at;
	}
	rc = 0;
	if (runner_qb(r, r->qb->locate(&r->qc, qi, n), "queue status") ==
	    QB_OK) {
		runner_classify(r, qi, ti, n);
		runner_rehold(r, qi, ti, n);
		rc = runner_track_gone(r, qi, ti, n);
		if (rc == 0)
			rc = runner_held(r, qi, ti, n);
		for (i = 0; i < n; i++)
			gone += ti[i].act == ACT_GONE;
	} else
		gone = 0;	/* no evidence: the same set next time */
	qb_qinfo_free(qi, n);
	free(qi);
	if (rc == 0)
		runner_track_forget(r, ti);
	else
		r->trk.valid = 0;	/* Redis failed: reload next pass */
	free(ti);
	runner_track_pace(r, start, gone);
	return rc;
}
