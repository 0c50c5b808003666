/*
 * NAME
 *	flush - release a domain's held mail on this host, and retry a
 *	release that failed
 * SUMMARY
 *	runner_flush(&r, domain, client); runner_reflush(&r);
 * DESCRIPTION
 *	runner_flush() releases this host's records in state "held" for the
 *	domain named, and only for it: the listener authorized each domain
 *	of an "ETRN @domain" on its own and queued one entry per domain, so
 *	the runner never looks below a domain (an entry with sub 1, written
 *	by an older listener, releases the domain named only).  The queue
 *	is asked first: a record whose message is not
 *	in the queue (yet, or any more) is left alone: it may be a message
 *	still being written, and expiry or reconcile removes it if it stays
 *	so; the others are marked "released" (etrn:released:<host>, one
 *	script per RUN_BATCH) and then released through the backend in one
 *	call for the whole request: a crash or a Redis outage after the MTA
 *	moved them leaves them followed, not recorded as held.  If a
 *	release fails, the messages still on hold are put back to "held";
 *	the ones that left the hold anyway stay marked (all stay marked
 *	when the queue cannot be read then).
 *	A record found marked "released" with its file still on hold (the
 *	release never happened) is released again by the next flush.  When
 *	a release fails, or the queue cannot be read, the domain's flush is
 *	tried again by itself after 10 s, 30 s, 1, 2 and 5 minutes (the
 *	customer's server may be online only a short while; it should not
 *	have to send ETRN again); the retries live in this process only
 *	(struct runner's fl), and runner_reflush(), called by the loop,
 *	runs the first one due.
 *
 *	Layer: above rctx.c (and lease.c below it), below runner.c; it calls
 *	nothing of track.c, expire.c or the loop.  Every change of a record
 *	is a transition of lib/mail/holdrec.c (one script per batch of
 *	queue IDs), made only while this host's lease is held.  Tested alone
 *	by "tests/etrnd/runner-test CONF flush DOMAIN" (t-runner.sh).
 * DIAGNOSTICS
 *	One log line per decision, queue ID first.  runner_flush() returns
 *	-1 when Redis failed, 1 for a refused domain, else 0;
 *	runner_reflush() -1 when Redis failed, else 0.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "etrnd/etrnd.h"
#include "etrnd/rctx.h"
#include "mail/domain.h"
#include "mail/holdrec.h"
#include "mail/qid.h"
#include "mail/rkeys.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/xalloc.h"

/* Delays of the retries of a failed flush, in seconds. */
static const int runner_reflush_delay[] = { 10, 30, 60, 120, 300 };
#define RUN_REFLUSH_TRIES \
	((int)(sizeof(runner_reflush_delay) / sizeof(runner_reflush_delay[0])))

static int runner_flush_domain_try(struct runner *, const char *, const char *,
	    int);

/* runner_list - this host's records indexed for d: held ones, orphans,
 * released ones */
static int
runner_list(struct runner *r, const char *d, struct strv *held,
    struct strv *orphans, struct strv *released)
{
	struct rr_reply rep;
	size_t	i;
	int	rc;

	rc = runner_leased(r, &rep) ? runner_hr(r, holdrec_list(r->redis,
	    r->s->hostname, d, &rep), "list held", &rep) : -1;
	for (i = 0; rc == 0 && i + 1 < rep.nelem; i += 2) {
		const char *q = rep.elems[i], *st = rep.elems[i + 1];

		if (q == NULL || st == NULL || !qid_valid(q))
			log_warnx("domain=%s: bad member \"%.80s\" in the held "
			    "index ignored", d, q ? q : "");
		else if (strcmp(st, RSTATE_HELD) == 0)
			strv_add(held, q);
		else if (strcmp(st, RSTATE_RELEASED) == 0)
			strv_add(released, q);
		else if (*st == '\0')
			strv_add(orphans, q);
		else if (strcmp(st, "-") == 0)
			log_warnx("%s: domain=%s: record is not a hash; "
			    "ignored", q, d);
	}
	rr_reply_free(&rep);
	return rc;
}

/* runner_mark - state=released for ids; those marked are added to out */
static int
runner_mark(struct runner *r, const char *d, const char *client,
    char *const *ids, size_t n, struct strv *out)
{
	struct rr_reply rep;
	size_t	i;
	int	rc;

	rc = runner_leased(r, &rep) ? runner_hr(r,
	    holdrec_mark_released(r->redis, r->s->hostname,
	    (long long)time(NULL), ids, n, &rep), "mark released", &rep) : -1;
	for (i = 0; rc == 0 && i < rep.nelem; i++) {
		if (rep.elems[i] == NULL || !qid_valid(rep.elems[i]))
			continue;
		log_debug("%s: released domain=%s client=%.100s",
		    rep.elems[i], d, client);
		strv_add(out, rep.elems[i]);
	}
	rr_reply_free(&rep);
	return rc;
}

/* runner_unmark - records of a release that did not happen: held again */
static int
runner_unmark(struct runner *r, char *const *ids, size_t n)
{
	struct rr_reply rep;

	size_t	i, m;
	int	rc = 0;

	for (i = 0; rc == 0 && i < n; i += RUN_BATCH) {
		m = n - i < RUN_BATCH ? n - i : RUN_BATCH;
		rc = runner_leased(r, &rep) ? runner_hr(r,
		    holdrec_unmark(r->redis, r->s->hostname, ids + i, m, &rep),
		    "unmark released", &rep) : -1;
		rr_reply_free(&rep);
	}
	return rc;
}

/*
 * runner_left_hold - after a failed release: those out of hold first, their
 * number; -1 when the queue could not be read (ids unchanged)
 */
static long
runner_left_hold(struct runner *r, char **ids, size_t n)
{
	struct qb_qinfo *qi = xcalloc(n, sizeof(*qi));
	char	**tmp = xcalloc(n, sizeof(*tmp));
	size_t	i, lo = 0, hi = n;
	int	ok;

	for (i = 0; i < n; i++)
		qi[i].id = ids[i];
	ok = r->qb->locate(&r->qc, qi, n) == QB_OK;
	for (i = 0; ok && i < n; i++)
		if (qi[i].state != QS_HELD)
			tmp[lo++] = qi[i].id;
		else
			tmp[--hi] = qi[i].id;
	if (ok)
		memcpy(ids, tmp, n * sizeof(*tmp));
	qb_qinfo_free(qi, n);
	free(qi);
	free(tmp);
	return ok ? (long)lo : -1;
}

/*
 * runner_release - mark the request's messages released, release them,
 * unmark what stayed.  The records are marked (one script per RUN_BATCH)
 * before the MTA moves anything: if etrnd dies or Redis fails after
 * postsuper -H, the mail on its way out is already followed by tracking,
 * instead of leaving records that say "held" for mail delivered meanwhile
 * (counted as held until reconcile or the deadline).  Then one backend
 * release for all of them: the MTA's release costs per call, not per
 * message, so batches there would only delay the last message.  A record
 * marked for a release that never happened (a crash before postsuper, a
 * mark that failed half way, or a failed unmark) is released again by the
 * next flush (runner_again), or put back to "held" by tracking after
 * release_timeout.
 */
static int
runner_release(struct runner *r, const char *d, const char *client, char **ids,
    size_t n, size_t *released, int *failed)
{
	struct strv m = { NULL, 0, 0 };
	enum qb_status st;
	size_t	i, k;
	long	left = 0;
	int	rc = 0, rc2 = 0;

	for (i = 0; rc == 0 && i < n; i += RUN_BATCH)
		rc = runner_mark(r, d, client, ids + i,
		    n - i < RUN_BATCH ? n - i : RUN_BATCH, &m);
	if (m.n == 0) {
		strv_free(&m);
		return rc;
	}
	k = m.n;
	if ((st = r->qb->release(&r->qc, m.v, m.n)) != QB_OK &&
	    (left = runner_left_hold(r, m.v, m.n)) < 0) {
		/* No evidence either way: the marks stay, so tracking
		 * follows them and the retry releases what is on hold. */
		log_warnx("flush domain=%s client=%.100s: release of %zu "
		    "messages failed (%s) and the queue cannot be read; all "
		    "stay marked released", d, client, m.n,
		    qb_status_name(st));
		k = 0;
		*failed = 1;
	} else if (st != QB_OK) {
		k = (size_t)left;
		log_warnx("flush domain=%s client=%.100s: release of %zu "
		    "messages failed (%s); %zu left the hold anyway, %zu stay "
		    "held", d, client, m.n, qb_status_name(st), k, m.n - k);
		if (k < m.n) {
			for (i = k; i < m.n; i++)
				log_warnx("%s: not released domain=%s: the "
				    "release failed; stays held", m.v[i], d);
			rc2 = runner_unmark(r, m.v + k, m.n - k);
			*failed = 1;
		}
	}
	*released += k;
	/* Tracking's set in memory (track.c) takes what stays marked. */
	k = st == QB_OK || left < 0 ? m.n : (size_t)left;
	if (k > 0 && r->trk.fresh.n == 0)
		r->trk.fresh_ms = runner_now_ms();
	for (i = 0; i < k; i++)
		strv_add(&r->trk.fresh, m.v[i]);
	strv_free(&m);
	return rc < 0 ? rc : rc2;
}

/* runner_candidates - ask the queue: stale ones out, the rest to release */
static int
runner_candidates(struct runner *r, const char *d, struct strv *held,
    struct strv *stale, struct strv *rel)
{
	struct qb_qinfo *qi;
	size_t	i;
	enum qb_status st;

	if (held->n == 0)
		return 0;
	if ((qi = runner_status(r, held->v, held->n, &st)) != NULL) {
		for (i = 0; i < held->n; i++)
			strv_add(qi[i].state == QS_GONE ? stale : rel,
			    qi[i].id);
		qb_qinfo_free(qi, held->n);
		free(qi);
	}
	if (st != QB_OK)
		log_warnx("flush domain=%s: queue status unavailable (%s), "
		    "nothing released", d, qb_status_name(st));
	return st == QB_OK ? 0 : 1;
}

/*
 * runner_again - records marked released whose file is still on hold: the
 * release never happened (etrnd died between marking and the MTA
 * command, or Redis failed while a failed release was undone).  They go
 * back to held and join this flush instead of waiting release_timeout
 * for tracking.  Tracking runs in this process, never meanwhile, and a
 * second postsuper -H of an "etrnctl release" is harmless.
 */
static int
runner_again(struct runner *r, const char *d, struct strv *released,
    struct strv *held)
{
	struct strv on = { NULL, 0, 0 };
	struct qb_qinfo *qi;
	size_t	i;
	int	rc = 0;

	if (released->n == 0 ||
	    (qi = runner_status(r, released->v, released->n, NULL)) == NULL)
		return 0;
	for (i = 0; i < released->n; i++)
		if (qi[i].state == QS_HELD)
			strv_add(&on, qi[i].id);
	qb_qinfo_free(qi, released->n);
	free(qi);
	if (on.n > 0 && (rc = runner_unmark(r, on.v, on.n)) == 0)
		for (i = 0; i < on.n; i++) {
			log_info("%s: marked released but still on hold, "
			    "released again domain=%s", on.v[i], d);
			strv_add(held, on.v[i]);
		}
	strv_free(&on);
	return rc;
}

/* runner_last_flush - the domain's last_flush counter */
static int
runner_last_flush(struct runner *r, const char *d)
{
	struct rr_reply rep;
	int	rc;

	rc = runner_leased(r, &rep) ? runner_result(r,
	    holdrec_flushed_at(r->redis, d, (long long)time(NULL), &rep),
	    "HSET last_flush", &rep) : -1;
	rr_reply_free(&rep);
	return rc;
}

/*
 * runner_reflush_later - try the flush of d again later (tries: retries
 * done so far); after the last one, say that the next ETRN will do
 */
static void
runner_reflush_later(struct runner *r, const char *d, const char *client,
    int tries)
{
	struct runner_reflush *f = NULL;
	size_t	i;

	for (i = 0; i < r->fl.nreflush; i++)
		if (strcmp(r->fl.reflush[i].domain, d) == 0)
			f = &r->fl.reflush[i];
	if (tries >= RUN_REFLUSH_TRIES) {
		log_warnx("flush domain=%s client=%.100s: release failed %d "
		    "times; held mail waits for the next ETRN", d, client,
		    tries + 1);
		return;
	}
	if (f == NULL) {
		if (r->fl.nreflush == RUNNER_REFLUSH_MAX) {
			log_warnx("flush domain=%s: too many domains to retry; "
			    "held mail waits for the next ETRN", d);
			return;
		}
		f = &r->fl.reflush[r->fl.nreflush++];
		snprintf(f->domain, sizeof(f->domain), "%s", d);
	} else if (f->tries > tries)
		return;		/* a later retry is already set */
	snprintf(f->client, sizeof(f->client), "%s", client);
	f->tries = tries;
	f->due = runner_now_ms() + runner_reflush_delay[tries] * 1000LL;
	log_info("flush domain=%s client=%.100s: release incomplete; retry %d "
	    "of %d in %d s", d, client, tries + 1, RUN_REFLUSH_TRIES,
	    runner_reflush_delay[tries]);
}

/* runner_reflush - the flushes due for a retry; -1 Redis failed */
int
runner_reflush(struct runner *r)
{
	struct runner_reflush f;
	long long now = runner_now_ms();
	size_t	i;

	for (i = 0; i < r->fl.nreflush; i++) {
		if (r->fl.reflush[i].due > now)
			continue;
		f = r->fl.reflush[i];
		r->fl.reflush[i] = r->fl.reflush[--r->fl.nreflush];
		log_info("flush domain=%s client=%.100s: retry %d of %d",
		    f.domain, f.client, f.tries + 1, RUN_REFLUSH_TRIES);
		if (runner_flush_domain_try(r, f.domain, f.client,
		    f.tries + 1) < 0)
			return -1;
		return 0;	/* one per call: the stream is served between */
	}
	return 0;
}

/* runner_flush_domain - release one domain's held mail on this host */
static int
runner_flush_domain(struct runner *r, const char *d, const char *client)
{
	return runner_flush_domain_try(r, d, client, 0);
}

/*
 * runner_flush_domain_try - the same as the tries-th retry: when the queue
 * could not be read or a release failed, another is set
 */
static int
runner_flush_domain_try(struct runner *r, const char *d, const char *client,
    int tries)
{
	struct strv held = { NULL, 0, 0 }, orphans = { NULL, 0, 0 },
	    stale = { NULL, 0, 0 }, rel = { NULL, 0, 0 },
	    released = { NULL, 0, 0 };
	size_t	nrel = 0, nstale = 0;
	int	rc, qs = 1, failed = 0;

	if ((rc = runner_list(r, d, &held, &orphans, &released)) == 0 &&
	    (rc = runner_again(r, d, &released, &held)) == 0 &&
	    (qs = runner_candidates(r, d, &held, &stale, &rel)) == 0) {
		/*
		 * A record without a queue file is not removed here: the
		 * milter writes the record just before Postfix finishes the
		 * file, so it may be a message still arriving.  Expiry (at
		 * the deadline) or reconcile removes records that stay stale.
		 */
		nstale = stale.n;
		rc = runner_gone(r, orphans.v, orphans.n, 0, d, NULL);
		if (rc == 0)
			rc = runner_release(r, d, client, rel.v, rel.n, &nrel,
			    &failed);
		if (rc == 0)
			rc = runner_last_flush(r, d);
	}
	if (rc == 0 && qs == 0)
		log_info("flush domain=%s client=%.100s released=%zu "
		    "not_queued=%zu", d, client, nrel, nstale);
	if (rc == 0 && (qs != 0 || failed))
		runner_reflush_later(r, d, client, tries);
	strv_free(&held);
	strv_free(&orphans);
	strv_free(&stale);
	strv_free(&rel);
	strv_free(&released);
	return rc;
}

/* runner_flush - release this host's held mail for domain, only it */
int
runner_flush(struct runner *r, const char *domain, const char *client)
{
	struct buf norm = BUF_INIT;

	if (client == NULL || *client == '\0')
		client = "-";
	if (dom_normalize(domain, &norm, NULL) < 0 ||
	    strcmp(norm.s, domain) != 0) {
		log_warnx("flush refused: bad domain=\"%.100s\" client=%.100s",
		    domain, client);
		buf_free(&norm);
		return 1;
	}
	buf_free(&norm);
	if (!runner_ready(r))
		return -1;
	return runner_flush_domain(r, domain, client);
}
