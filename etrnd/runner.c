/*
 * NAME
 *	runner - etrnd's queue runner, top layer: the flush stream's loop and
 *	the schedule of the steps below it
 * SUMMARY
 *	runner_init(&r, settings); runner_loop(&r); runner_free(&r);
 * DESCRIPTION
 *	runner_loop() consumes the stream etrn:flush with this host's
 *	consumer group etrnd:<host> (consumer name: the host name): first
 *	the entries it read earlier but never acknowledged, then new ones.
 *	Each entry is handed to runner_flush() and acknowledged once the
 *	release was attempted.  Every queue_run_interval it calls
 *	runner_track(), which runs a pass only when one is due (track.c
 *	spaces them by the delivery rate).  It returns when etrnd_stop,
 *	etrnd_child_exited or etrnd_reload (SIGHUP: main.c tells the
 *	service manager) is set; its timing survives the return, so being
 *	re-entered after every SIGCHLD (MTA commands are child processes
 *	too) costs nothing.
 *
 *	The runner's files, in layers: a file calls only functions of the
 *	files below it (and of lib/), never one above.
 *	  runner.c   this file: runner_init/free, the stream, runner_loop
 *	  flush.c    runner_flush, its retries (runner_reflush)
 *	  track.c    runner_track
 *	  expire.c, dsnsend.c (expire calls dsnsend), pending.c,
 *	  rcnrun.c (calls reconcile.c)
 *	  rctx.c     the context: Redis and backend helpers, runner_ready,
 *	             runner_gone (shared by flush and tracking)
 *	  lease.c    this host's lease
 *	The state the layers keep between calls is in struct runner
 *	(etrnd.h), one member per layer; rctx.c alone keeps the "failure
 *	logged" flags of its result helpers, read through its functions.
 *
 *	The flush stream's read is this file's own script; every change of
 *	a record is a transition of lib/mail/holdrec.c, made only while
 *	this host's lease is held.  Re-reading a stream entry cannot release
 *	a message twice: only records in state "held" are released.
 * DIAGNOSTICS
 *	A Redis failure is logged once per outage (and its end once); the
 *	loop waits and retries and never exits.  A flush request whose
 *	flush failed on a Redis outage is read again after it; after an
 *	error reply, which would only repeat, it is dropped.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "etrnd/etrnd.h"
#include "etrnd/lease.h"
#include "etrnd/runner.h"
#include "mail/rkeys.h"
#include "util/buf.h"
#include "util/log.h"

#define RUN_READ_COUNT	"50"	/* stream entries per read */
#define RUN_QB_TIMEOUT	60	/* s, per MTA command */
#define RUN_RETRY_MS	1000	/* pause after a failure */

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

/* runner_pause - sleep up to ms, in slices, until told to return */
static void
runner_pause(long long ms)
{
	struct timespec ts = { 0, 100 * 1000000L };

	for (; ms > 0 && !etrnd_stop && !etrnd_child_exited; ms -= 100)
		nanosleep(&ts, NULL);
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
	rc = runner_result(r, rc, "XGROUP CREATE", &rep);
	rr_reply_free(&rep);
	rargs_free(&a);
	buf_free(&stream);
	buf_free(&group);
	return rc;
}

/* runner_init - Redis pool, queue backend, consumer group */
int
runner_init(struct runner *r, struct oe_settings *s)
{
	memset(r, 0, sizeof(*r));
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
	    (int)s->redis_db, (int)s->redis_timeout, &s->redis_ha);
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
	runner_track_free(r);
	rpool_free(r->redis);
	free(r->qc.queue_directory);
	memset(r, 0, sizeof(*r));
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
	if (rc < 0 && runner_redis_io(r))
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
		if ((n = runner_entries(r, &rep)) < 0 && !runner_redis_down(r))
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
			r->next_track = runner_now_ms() + (runner_qb_down(r) ?
			    RUN_QB_BACKOFF_MS : spent * 4 >
			    r->s->queue_run_interval ? spent * 4 :
			    r->s->queue_run_interval);
			if (lease_hold(r->lease, r->redis) &&
			    rcnrun_step(r) > 0)
				more = 1;	/* a reconcile pass goes on */
			/* Expiry still behind: go on after a look at the
			 * stream, so flush requests are served meanwhile. */
			if (more && !runner_qb_down(r))
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
