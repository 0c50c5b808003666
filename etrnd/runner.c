/*
 * NAME
 *	runner - etrnd's queue runner: release held mail on flush requests,
 *	then follow each released message until it is gone or back on hold
 * SUMMARY
 *	runner_init(&r, settings); runner_loop(&r); runner_free(&r);
 *	runner_flush(&r, domain, client); runner_track(&r);
 * DESCRIPTION
 *	runner_loop() consumes the stream etrn:flush with this host's
 *	consumer group etrnd:<host> (consumer name: the host name): first
 *	the entries it read earlier but never acknowledged, then new ones.
 *	Each entry is handed to runner_flush() and acknowledged once the
 *	release was attempted.  Every queue_run_interval it calls
 *	runner_track().  It returns when etrnd_stop, etrnd_child_exited or
 *	etrnd_reload (SIGHUP: main.c tells the service manager) is set;
 *	its timing survives the return, so being re-entered after
 *	every SIGCHLD (MTA commands are child processes too) costs nothing.
 *
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
 *	have to send ETRN again); the retries live in this process only.
 *
 *	runner_track() looks at every released message: gone from the queue
 *	-> the record is deleted, counters updated (held - 1, bytes - size,
 *	flushed + 1); deferred after a failed attempt, or still not
 *	delivered after release_timeout -> back on hold (the queue is asked
 *	again after the rehold, and only what is really on hold is marked
 *	held), recipients that were delivered are dropped from the record.
 *	A queue that cannot be read (the backend fails the whole call) is
 *	no evidence: nothing is dropped, counted, released or put back on
 *	hold in that pass, and the next pass starts afresh.
 *
 *	Every change of a record is a transition of lib/mail/holdrec.c
 *	(one script per batch of queue IDs), made only while this host's
 *	lease is held; the flush stream's read is this file's own script.
 *	Re-reading a stream entry cannot release a message twice: only
 *	records in state "held" are released.
 * DIAGNOSTICS
 *	One log line per decision, queue ID first.  A Redis failure is logged
 *	once per outage (and its end once); the loop waits and retries and
 *	never exits.  runner_flush() returns -1 when Redis failed (the entry
 *	is read again after an outage; after an error reply, which would
 *	only repeat, it is dropped), 1 for a refused domain, else 0;
 *	runner_track() -1 when Redis failed, else 0.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "etrnd/etrnd.h"
#include "etrnd/lease.h"
#include "etrnd/runner.h"
#include "mail/domain.h"
#include "mail/holdrec.h"
#include "mail/qid.h"
#include "mail/rkeys.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/xalloc.h"

#define RUN_BATCH	1000	/* queue IDs per Redis script or rehold call */
#define RUN_READ_COUNT	"50"	/* stream entries per read */
#define RUN_QB_TIMEOUT	60	/* s, per MTA command */
#define RUN_RETRY_MS	1000	/* pause after a failure */
#define RUN_QB_BACKOFF_MS 30000	/* next try after the MTA failed */

/*
 * Failures logged once per episode.  runner_result(), runner_hr() and
 * runner_qb() take no runner (expire.c and dsnsend.c call them so), so
 * this stays here, read elsewhere through runner_redis_down(),
 * runner_redis_io() and runner_qb_down(); the rest of the runner's state
 * is in struct runner.
 */
static struct {
	int	redis_down;	/* a Redis failure was logged */
	int	redis_io;	/* the last failure was I/O (not an error) */
	int	qb_down;	/* a queue backend failure was logged */
} rs;

/* Delays of the retries of a failed flush, in seconds. */
static const int runner_reflush_delay[] = { 10, 30, 60, 120, 300 };
#define RUN_REFLUSH_TRIES \
	((int)(sizeof(runner_reflush_delay) / sizeof(runner_reflush_delay[0])))

static int runner_flush_domain_try(struct runner *, const char *, const char *,
	    int);

/* A released message being tracked. */
enum runner_act { ACT_NONE, ACT_GONE, ACT_REHOLD, ACT_HELD };

struct titem {
	long long released_at;
	enum runner_act act;
	const char *why;
};

/*
 * KEYS: stream; ARGV: group consumer count id.  Flattens XREADGROUP:
 * "" then per entry id, nfields (-1: deleted), fields...; with no entry,
 * the first element is the last ID in the stream (for XREAD BLOCK).
 * Creates the group when it is missing (stream deleted, first start).
 */
static struct rscript runner_read_script = {
	"local r = redis.pcall('XREADGROUP', 'GROUP', ARGV[1], ARGV[2],\n"
	"  'COUNT', ARGV[3], 'STREAMS', KEYS[1], ARGV[4])\n"
	"if type(r) == 'table' and r.err then\n"
	"  if not string.find(r.err, 'NOGROUP', 1, true) then return r end\n"
	"  redis.call('XGROUP', 'CREATE', KEYS[1], ARGV[1], '$', 'MKSTREAM')\n"
	"  r = false\n"
	"end\n"
	"local out = {''}\n"
	"if r and r[1] then\n"
	"  for _, e in ipairs(r[1][2]) do\n"
	"    out[#out + 1] = e[1]\n"
	"    if e[2] then\n"
	"      out[#out + 1] = #e[2]\n"
	"      for _, v in ipairs(e[2]) do out[#out + 1] = v end\n"
	"    else out[#out + 1] = -1 end\n"
	"  end\n"
	"end\n"
	"if #out == 1 then\n"
	"  local l = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)\n"
	"  out[1] = l[1] and l[1][1] or '0-0'\n"
	"end\n"
	"return out\n",
	""
};

/* runner_now_ms - monotonic clock */
long long
runner_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* runner_pause - sleep up to ms, in slices, until told to return */
static void
runner_pause(long long ms)
{
	struct timespec ts = { 0, 100 * 1000000L };

	for (; ms > 0 && !etrnd_stop && !etrnd_child_exited; ms -= 100)
		nanosleep(&ts, NULL);
}

/* runner_result - one result of a Redis call: log an outage once; rc */
int
runner_result(int rc, const char *what, const struct rr_reply *rep)
{
	if (rc < 0) {
		if (!rs.redis_down)
			log_warnx("redis: %s failed: %.300s; retrying", what,
			    rep->str ? rep->str : "no reply");
		rs.redis_down = 1;
		rs.redis_io = rep->status == RR_IO;
	} else if (rs.redis_down) {
		log_info("redis: working again");
		rs.redis_down = 0;
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
	rs.redis_io = 1;
	return 0;
}

/* runner_cmd - a command; -1 (logged once) on failure */
int
runner_cmd(struct runner *r, const char *what, struct rargs *a,
    struct rr_reply *rep)
{
	if (!runner_leased(r, rep))
		return -1;
	return runner_result(rpool_command(r->redis, a->n, a->v, a->l, rep),
	    what, rep);
}

/*
 * runner_hr - the result of a script (a holdrec transition) run while the
 * lease was held: an array reply is expected; -1 (logged once) on failure
 */
int
runner_hr(int rc, const char *what, struct rr_reply *rep)
{
	if (rc == 0 && rep->type != RRT_ARRAY && rep->status != RR_NIL) {
		rr_reply_free(rep);
		rep->str = xstrdup("unexpected reply");
		rc = -1;
	}
	return runner_result(rc, what, rep);
}

/* runner_script - a script with nkeys keys; -1 (logged once) on failure */
int
runner_script(struct runner *r, struct rscript *sc, const char *what,
    int nkeys, struct rargs *a, struct rr_reply *rep)
{
	if (!runner_leased(r, rep))
		return -1;
	return runner_hr(rpool_script(r->redis, sc, nkeys, a->n, a->v, a->l,
	    rep), what, rep);
}

/* runner_qb - a backend result: log a failure once per episode */
enum qb_status
runner_qb(enum qb_status st, const char *what)
{
	if (st != QB_OK) {
		if (!rs.qb_down)
			log_warnx("queue: %s failed (%s); retrying", what,
			    qb_status_name(st));
		rs.qb_down = 1;
	} else if (rs.qb_down) {
		log_info("queue: %s works again", what);
		rs.qb_down = 0;
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
	s = runner_qb(r->qb->locate(&r->qc, qi, n), "queue status");
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
runner_redis_down(void)
{
	return rs.redis_down;
}

/* runner_redis_io - 1 when the last Redis failure was I/O (an outage) */
int
runner_redis_io(void)
{
	return rs.redis_io;
}

/* runner_qb_down - 1 while a backend failure is logged and not over */
int
runner_qb_down(void)
{
	return rs.qb_down;
}

/* runner_ctx_reset - forget the failures logged (runner_init, runner_free) */
void
runner_ctx_reset(void)
{
	memset(&rs, 0, sizeof(rs));
}

/* runner_group - create this host's consumer group (exists: fine) */
static int
runner_group(struct runner *r)
{
	struct buf stream = BUF_INIT, group = BUF_INIT;
	struct rargs a = RARGS_INIT;
	struct rr_reply rep;
	int	rc;

	rkey_flush_stream(&stream);
	rkey_flush_group(&group, r->s->hostname);
	rargs_str(&a, "XGROUP");
	rargs_str(&a, "CREATE");
	rargs_str(&a, stream.s);
	rargs_str(&a, group.s);
	rargs_str(&a, "$");
	rargs_str(&a, "MKSTREAM");
	rc = rpool_command(r->redis, a.n, a.v, a.l, &rep);
	if (rc < 0 && rep.status == RR_ERROR && rep.str != NULL &&
	    strncmp(rep.str, "BUSYGROUP", 9) == 0)
		rc = 0;
	else if (rc == 0)
		log_info("created consumer group %s on %s", group.s, stream.s);
	rc = runner_result(rc, "XGROUP CREATE", &rep);
	rr_reply_free(&rep);
	rargs_free(&a);
	buf_free(&stream);
	buf_free(&group);
	return rc;
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
	if (runner_qb(r->qb->init(&r->qc), "backend init") != QB_OK) {
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

/* runner_init - Redis pool, queue backend, consumer group */
int
runner_init(struct runner *r, struct oe_settings *s)
{
	memset(r, 0, sizeof(*r));
	runner_ctx_reset();
	r->s = s;
	r->qc.config_directory = s->postfix_config_directory;
	r->qc.command_directory = s->postfix_command_directory;
	r->qc.sendmail_command = s->sendmail_command;
	r->qc.sendmail_config_file = s->sendmail_config_file;
	r->qc.sendmail_queue_directory = s->sendmail_queue_directory;
	r->qc.null_log = s->null_backend_log;
	r->qc.timeout = RUN_QB_TIMEOUT;
	if ((r->qb = qb_lookup(s->mta)) == NULL) {
		log_err("queue runner: unknown mta \"%s\"", s->mta);
		return -1;
	}
	r->redis = rpool_new(s->redis_server, s->redis_password,
	    (int)s->redis_db, (int)s->redis_timeout);
	if (r->redis == NULL) {
		log_err("queue runner: bad redis_server \"%s\"",
		    s->redis_server);
		return -1;
	}
	if (!runner_ready(r))
		return -1;
	return runner_group(r) < 0 ? -1 : 0;
}

/* runner_free - release what runner_init made, and the lease */
void
runner_free(struct runner *r)
{
	if (r->lease != NULL) {
		lease_release(r->lease, r->redis);
		lease_free(r->lease);
	}
	rpool_free(r->redis);
	free(r->qc.queue_directory);
	memset(r, 0, sizeof(*r));
	runner_ctx_reset();
}

/* runner_ack - acknowledge one stream entry */
static int
runner_ack(struct runner *r, const char *eid)
{
	struct buf stream = BUF_INIT, group = BUF_INIT;
	struct rargs a = RARGS_INIT;
	struct rr_reply rep;
	int	rc;

	rkey_flush_stream(&stream);
	rkey_flush_group(&group, r->s->hostname);
	rargs_str(&a, "XACK");
	rargs_str(&a, stream.s);
	rargs_str(&a, group.s);
	rargs_str(&a, eid);
	rc = runner_cmd(r, "XACK", &a, &rep);
	rr_reply_free(&rep);
	rargs_free(&a);
	buf_free(&stream);
	buf_free(&group);
	return rc;
}

/* runner_entry - one flush request: flush, then acknowledge */
static int
runner_entry(struct runner *r, const char *eid, char **f, const size_t *fl,
    long long nf)
{
	/* sub is read for the log only: the runner never expands it. */
	const char *domain = NULL, *sub = "0", *client = "-", *via = "-";
	long long i;
	int	rc = 1;

	for (i = 0; i + 1 < nf; i += 2) {
		if (f[i] == NULL || f[i + 1] == NULL ||
		    strlen(f[i + 1]) != fl[i + 1])
			continue;
		if (strcmp(f[i], FF_DOMAIN) == 0)
			domain = f[i + 1];
		else if (strcmp(f[i], FF_SUB) == 0)
			sub = f[i + 1];
		else if (strcmp(f[i], FF_CLIENT) == 0)
			client = f[i + 1];
		else if (strcmp(f[i], FF_VIA) == 0)
			via = f[i + 1];
	}
	if (nf < 0)
		log_warnx("flush request %s: deleted from the stream, dropped",
		    eid);
	else if (domain == NULL)
		log_warnx("flush request %s: no domain, dropped", eid);
	else {
		log_debug("flush request %s: domain=%.260s sub=%.3s "
		    "client=%.100s via=%.100s", eid, domain, sub, client, via);
		rc = runner_flush(r, domain, client);
	}
	if (rc < 0 && runner_redis_io())
		return -1;	/* read again when Redis is back */
	if (rc < 0)		/* an answer, not an outage: would repeat */
		log_warnx("flush request %s: dropped after a Redis error", eid);
	return runner_ack(r, eid);
}

/* runner_entries - walk the flattened read reply; count entries or -1 */
static int
runner_entries(struct runner *r, const struct rr_reply *rep)
{
	size_t	i = 1;
	long long nf;
	int	n = 0;

	while (i + 1 < rep->nelem) {
		const char *eid = rep->elems[i];

		if (eid == NULL || rep->elems[i + 1] == NULL)
			return -1;
		nf = strtoll(rep->elems[i + 1], NULL, 10);
		i += 2;
		if (nf > (long long)(rep->nelem - i))
			return -1;
		if (runner_entry(r, eid, rep->elems + i, rep->elen + i, nf) < 0)
			return -1;
		i += nf > 0 ? (size_t)nf : 0;
		n++;
	}
	return n;
}

/* runner_read - read entries (id "0": our pending ones, ">": new ones) */
static int
runner_read(struct runner *r, const char *id, struct buf *last)
{
	struct buf stream = BUF_INIT, group = BUF_INIT;
	struct rargs a = RARGS_INIT;
	struct rr_reply rep;
	int	n = -1;

	rkey_flush_stream(&stream);
	rkey_flush_group(&group, r->s->hostname);
	rargs_str(&a, stream.s);
	rargs_str(&a, group.s);
	rargs_str(&a, r->s->hostname);
	rargs_str(&a, RUN_READ_COUNT);
	rargs_str(&a, id);
	if (runner_script(r, &runner_read_script, "XREADGROUP", 1, &a,
	    &rep) == 0 && rep.nelem > 0 && rep.elems[0] != NULL) {
		buf_reset(last);
		buf_cat(last, rep.elems[0]);
		if ((n = runner_entries(r, &rep)) < 0 && !runner_redis_down())
			log_warnx("flush stream: malformed reply");
	}
	rr_reply_free(&rep);
	rargs_free(&a);
	buf_free(&stream);
	buf_free(&group);
	return n;
}

/* runner_wait - block until the stream has an entry after last, or ms */
static void
runner_wait(struct runner *r, const char *last, long long ms)
{
	struct buf stream = BUF_INIT;
	struct rargs a = RARGS_INIT;
	struct rr_reply rep;
	char	bms[24];

	snprintf(bms, sizeof(bms), "%lld", ms);
	rkey_flush_stream(&stream);
	rargs_str(&a, "XREAD");
	rargs_str(&a, "BLOCK");
	rargs_str(&a, bms);
	rargs_str(&a, "STREAMS");
	rargs_str(&a, stream.s);
	rargs_str(&a, *last ? last : "$");
	if (runner_cmd(r, "XREAD BLOCK", &a, &rep) < 0)
		runner_pause(RUN_RETRY_MS);
	rr_reply_free(&rep);
	rargs_free(&a);
	buf_free(&stream);
}

/* runner_block_ms - how long to block: to the next track, below the timeout */
static long long
runner_block_ms(struct runner *r)
{
	long long ms = r->next_track - runner_now_ms();
	long long cap = r->s->redis_timeout * 3 / 4;

	if (ms > cap)
		ms = cap;
	return ms;
}

/*
 * runner_loop - serve flush requests and track (see DESCRIPTION).  Every
 * step needs this host's lease (lease.c), renewed here when due: without
 * it nothing is released, tracked or expired.  Another etrnd found
 * holding it before this one ever did stops etrnd (a refused start).
 */
void
runner_loop(struct runner *r)
{
	struct buf last = BUF_INIT;
	int	pending = 1, n;
	long long ms, start, spent;
	int	more;

	if (r->lease == NULL)	/* etrnd takes it at start, tests here */
		r->lease = lease_new(r->s);
	while (!etrnd_stop && !etrnd_child_exited && !etrnd_reload) {
		if (!lease_hold(r->lease, r->redis)) {
			if (lease_refused(r->lease))
				etrnd_stop = 1;
			runner_pause(RUN_RETRY_MS);
			pending = 1;
			continue;
		}
		if (!runner_ready(r)) {
			runner_pause(RUN_RETRY_MS);
			continue;
		}
		if ((start = runner_now_ms()) >= r->next_track) {
			(void)pending_sweep(r);
			(void)runner_track(r);
			more = lease_hold(r->lease, r->redis) &&
			    expire_sweep(r) > 0;
			/*
			 * A pass reads the queue directories (and, for a
			 * message put back on hold, the queue listing): on a
			 * big queue, wait four times as long as the pass
			 * took, so tracking never takes more than a fifth of
			 * the time from delivery.
			 */
			spent = runner_now_ms() - start;
			r->next_track = runner_now_ms() + (runner_qb_down() ?
			    RUN_QB_BACKOFF_MS : spent * 4 >
			    r->s->queue_run_interval ? spent * 4 :
			    r->s->queue_run_interval);
			if (lease_hold(r->lease, r->redis) &&
			    rcnrun_step(r) > 0)
				more = 1;	/* a reconcile pass goes on */
			/* Expiry still behind: go on after a look at the
			 * stream, so flush requests are served meanwhile. */
			if (more && !runner_qb_down())
				r->next_track = runner_now_ms() + 50;
			continue;
		}
		if (r->fl.nreflush > 0 && runner_reflush(r) < 0) {
			runner_pause(RUN_RETRY_MS);
			continue;
		}
		if (!lease_hold(r->lease, r->redis))
			continue;
		if ((n = runner_read(r, pending ? "0" : ">", &last)) < 0) {
			pending = 1;
			runner_pause(RUN_RETRY_MS);
		} else if (pending)
			pending = n > 0;
		else if (n == 0 && (ms = runner_block_ms(r)) > 0) {
			/* Wake for the lease's renewal, never past it. */
			if (ms > lease_wait_ms(r->lease))
				ms = lease_wait_ms(r->lease);
			if (ms > 0)
				runner_wait(r, last.s ? last.s : "", ms);
		}
	}
	buf_free(&last);
}

/* runner_list - this host's records indexed for d: held ones, orphans,
 * released ones */
static int
runner_list(struct runner *r, const char *d, struct strv *held,
    struct strv *orphans, struct strv *released)
{
	struct rr_reply rep;
	size_t	i;
	int	rc;

	rc = runner_leased(r, &rep) ? runner_hr(holdrec_list(r->redis,
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
		rc = runner_leased(r, &rep) ? runner_hr(holdrec_gone(r->redis,
		    r->s->hostname, track, domain, ids + i, m, &rep),
		    "remove records", &rep) : -1;
		if (rc == 0 && done != NULL)
			*done += runner_gone_log(&rep, track);
		rr_reply_free(&rep);
	}
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

	rc = runner_leased(r, &rep) ? runner_hr(holdrec_mark_released(r->redis,
	    r->s->hostname, (long long)time(NULL), ids, n, &rep),
	    "mark released", &rep) : -1;
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
		rc = runner_leased(r, &rep) ? runner_hr(holdrec_unmark(r->redis,
		    r->s->hostname, ids + i, m, &rep), "unmark released",
		    &rep) : -1;
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

	rc = runner_leased(r, &rep) ? runner_result(holdrec_flushed_at(r->redis,
	    d, (long long)time(NULL), &rep), "HSET last_flush", &rep) : -1;
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

/* runner_track_load - this host's released messages and release times */
static int
runner_track_load(struct runner *r, struct rr_reply *rep)
{
	struct buf key = BUF_INIT;
	struct rargs a = RARGS_INIT;
	int	rc;

	rkey_released(&key, r->s->hostname);
	rargs_str(&a, "ZRANGE");
	rargs_str(&a, key.s);
	rargs_str(&a, "0");
	rargs_str(&a, "-1");
	rargs_str(&a, "WITHSCORES");
	rc = runner_cmd(r, "ZRANGE released", &a, rep);
	if (rc == 0 && rep->type != RRT_ARRAY)
		rep->nelem = 0;
	rargs_free(&a);
	buf_free(&key);
	return rc;
}

/* runner_drop_bad - remove a member that is no queue ID from the index */
static void
runner_drop_bad(struct runner *r, const char *member)
{
	struct rr_reply rep;

	log_warnx("released index: bad member \"%.80s\" removed", member);
	if (runner_leased(r, &rep))
		(void)runner_result(holdrec_released_drop(r->redis,
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
	ok = runner_qb(r->qb->status(&r->qc, v, k), "queue status") == QB_OK;
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
		if (runner_qb(r->qb->rehold(&r->qc, ids + b, m), "rehold") ==
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
		rc = runner_leased(r, &rep) ? runner_hr(holdrec_rehold(r->redis,
		    r->s->hostname, m, cnt, &rep), "mark held", &rep) : -1;
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

/* runner_track - one pass over this host's released messages */
int
runner_track(struct runner *r)
{
	struct rr_reply rep;
	struct qb_qinfo *qi;
	struct titem *ti;
	size_t	i, n = 0;
	int	rc;

	if (!runner_ready(r))
		return -1;
	if (runner_track_load(r, &rep) < 0) {
		rr_reply_free(&rep);
		return -1;
	}
	qi = xcalloc(rep.nelem / 2 + 1, sizeof(*qi));
	ti = xcalloc(rep.nelem / 2 + 1, sizeof(*ti));
	for (i = 0; i + 1 < rep.nelem; i += 2) {
		if (rep.elems[i] == NULL || !qid_valid(rep.elems[i])) {
			runner_drop_bad(r, rep.elems[i] ? rep.elems[i] : "");
			continue;
		}
		qi[n].id = rep.elems[i];
		ti[n++].released_at = rep.elems[i + 1] ?
		    strtoll(rep.elems[i + 1], NULL, 10) : 0;
	}
	rc = 0;
	if (n > 0 && runner_qb(r->qb->locate(&r->qc, qi, n), "queue status") ==
	    QB_OK) {
		runner_classify(r, qi, ti, n);
		runner_rehold(r, qi, ti, n);
		rc = runner_track_gone(r, qi, ti, n);
		if (rc == 0)
			rc = runner_held(r, qi, ti, n);
	}
	qb_qinfo_free(qi, n);
	free(qi);
	free(ti);
	rr_reply_free(&rep);
	return rc;
}
