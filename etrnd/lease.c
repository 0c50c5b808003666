/*
 * NAME
 *	lease - one etrnd per host identity: the lease etrn:lease:<host>
 * SUMMARY
 *	l = lease_new(settings); lease_start(l, err);	(before the fork)
 *	if (lease_hold(l, pool)) ...act on this host's records...
 *	lease_release(l, pool); lease_free(l);
 * DESCRIPTION
 *	Two etrnd with one hostname would each act on the other's records:
 *	find its queue IDs missing from their own queue and drop them, or
 *	both return one message at its deadline.  So the queue runner acts
 *	on etrn:msg:<host>:* only while it holds the lease etrn:lease:<host>,
 *	a string "instance=I pid=P host=N started=T proc=B" (I random for
 *	each start, B the kernel's boot ID and pid namespace) with the TTL
 *	etrnd_lease_time.  It is taken with SET NX,
 *	renewed every third of the TTL by a script that sets it only while
 *	it names this instance, and deleted at a clean stop by a script that
 *	deletes it only then.  A holder killed with SIGKILL leaves it to
 *	expire, or to be taken over at once by an etrnd of the same kernel
 *	boot and pid namespace that finds its pid gone (lease_stale(); one
 *	script replaces exactly the stale value).  On another machine, or in
 *	another pid namespace, a pid proves nothing: only the TTL frees it.
 *
 *	The holder's own clock bounds the lease: it counts as held until
 *	the TTL has run from the moment the last successful renewal was
 *	sent, whatever happens meanwhile.  When renewals fail (Redis away,
 *	too slow), the runner stops acting before the key can expire in
 *	Redis and another etrnd take it, and starts again once it has
 *	renewed or taken it again.  The runner asks lease_hold() before each
 *	of its Redis commands (rctx.c: runner_cmd, runner_script), so the
 *	lease is renewed within long steps too, and a step under way when it
 *	lapses stops at its next command.  Found held by another etrnd
 *	after this one held it (taken over after an outage longer than the
 *	TTL, or deleted by hand and taken), the lease is not fought for:
 *	the runner touches no record, logs the holder, and goes on only if
 *	the key is free again.
 *
 *	lease_start() is the check at start: the lease is taken, or the
 *	holder is named and etrnd refuses to start.  With Redis unreachable
 *	etrnd starts anyway (a warning) and lease_hold() tries every second
 *	until it takes the lease; finding another holder then, before this
 *	instance ever held it, is the refusal at start postponed
 *	(lease_refused(): etrnd stops, exit 1).  The pid in the value is
 *	written again when it changes (after daemon()).
 *
 *	The runner's lowest layer (runner.c has the map): it calls lib/
 *	only; rctx.c and runner.c call it.
 * DIAGNOSTICS
 *	lease_start() returns -1 with the error in err when another etrnd
 *	holds the lease: "another etrnd serves host X: pid P on N since T".
 *	Taking, losing, regaining and releasing are logged once per change,
 *	each line with the key and, for another holder, its pid, machine,
 *	start time and instance.
 */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "etrnd/lease.h"
#include "mail/holdtag.h"
#include "mail/rkeys.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/rargs.h"
#include "util/xalloc.h"

#define LEASE_RETRY_MS	1000	/* next try after Redis failed */

struct lease {
	const struct oe_settings *s;
	struct buf key;			/* etrn:lease:<host> */
	struct buf mine;		/* "instance=I ": this instance */
	struct buf other;		/* the other holder last logged */
	struct buf proc;		/* boot:nsdev:nsino, see lease_proc() */
	long long started;		/* Unix time of this start */
	long long ttl_ms;
	long long until;		/* monotonic ms: held until; 0: not */
	long long next;			/* monotonic ms: next renewal or try */
	pid_t	pid;			/* pid in the value last written */
	int	ever;			/* held at least once */
	int	refused;		/* another held it before we ever did */
	int	down;			/* a Redis failure was logged */
};

/* Outcomes of one try. */
enum { LEASE_IO = -1, LEASE_OTHER, LEASE_OURS, LEASE_GONE };

/* KEYS: lease; ARGV: "instance=I ", value, ttl ms.  1: renewed, 0: no
 * key, else the other holder's value. */
static struct rscript lease_renew_script = {
	"local v = redis.call('GET', KEYS[1])\n"
	"if not v then return 0 end\n"
	"if string.sub(v, 1, #ARGV[1]) ~= ARGV[1] then return v end\n"
	"redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])\n"
	"return 1\n",
	""
};

/* KEYS: lease; ARGV: "instance=I ".  1: deleted, 0: not ours. */
static struct rscript lease_release_script = {
	"local v = redis.call('GET', KEYS[1])\n"
	"if v and string.sub(v, 1, #ARGV[1]) == ARGV[1] then\n"
	"  redis.call('DEL', KEYS[1])\n"
	"  return 1\n"
	"end\n"
	"return 0\n",
	""
};

/* KEYS: lease; ARGV: the stale value, the new value, ttl ms.  1: taken
 * over, 0: no key, else the value found instead. */
static struct rscript lease_takeover_script = {
	"local v = redis.call('GET', KEYS[1])\n"
	"if v ~= ARGV[1] then return v or 0 end\n"
	"redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])\n"
	"return 1\n",
	""
};

/* lease_now_ms - monotonic clock (lease.c calls nothing of the runner) */
static long long
lease_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * lease_proc - where a pid means one process: this kernel's boot and pid
 * namespace ("-" where /proc does not tell); a lease naming the same is
 * stale once its pid is gone
 */
static void
lease_proc(struct buf *out)
{
	char	boot[64] = "";
	struct stat st;
	FILE	*f;

	if ((f = fopen("/proc/sys/kernel/random/boot_id", "r")) != NULL) {
		if (fgets(boot, sizeof(boot), f) == NULL)
			*boot = '\0';
		fclose(f);
	}
	boot[strspn(boot, "0123456789abcdef-")] = '\0';
	if (*boot == '\0' || stat("/proc/self/ns/pid", &st) < 0)
		buf_cat(out, "-");
	else
		buf_printf(out, "%s:%llx:%llu", boot,
		    (unsigned long long)st.st_dev,
		    (unsigned long long)st.st_ino);
}

/* lease_new - a lease for this start: random instance, not held */
struct lease *
lease_new(const struct oe_settings *s)
{
	struct lease *l = xcalloc(1, sizeof(*l));
	char	id[HOLD_TOKEN_LEN + 1];

	if (holdtag_token_new(id, sizeof(id)) < 0)
		log_fatalx("lease: no random bytes for the instance ID");
	l->s = s;
	buf_init(&l->key);
	buf_init(&l->mine);
	buf_init(&l->other);
	buf_init(&l->proc);
	lease_proc(&l->proc);
	rkey_lease(&l->key, s->hostname);
	buf_printf(&l->mine, LF_INSTANCE "=%s ", id);
	l->started = (long long)time(NULL);
	l->ttl_ms = s->etrnd_lease_time * 1000;
	return l;
}

/* lease_value - what the key holds: this instance, pid, machine, start */
static void
lease_value(struct lease *l, struct buf *v)
{
	char	node[256];

	if (gethostname(node, sizeof(node)) < 0 || *node == '\0')
		snprintf(node, sizeof(node), "-");
	node[sizeof(node) - 1] = '\0';
	node[strcspn(node, " \t\r\n")] = '\0';
	l->pid = getpid();
	buf_reset(v);
	buf_printf(v, "%s" LF_PID "=%ld " LF_HOST "=%s " LF_STARTED "=%lld "
	    LF_PROC "=%s", l->mine.s, (long)l->pid, node, l->started,
	    l->proc.s);
}

/* lease_field - the value of name=... in a lease value, into out */
static const char *
lease_field(const char *v, const char *name, struct buf *out)
{
	size_t	n = strlen(name), len;

	buf_reset(out);
	while (*v) {
		len = strcspn(v, " ");
		if (len > n && strncmp(v, name, n) == 0 && v[n] == '=')
			buf_add(out, v + n + 1, len - n - 1);
		v += len;
		v += strspn(v, " ");
	}
	return out->len ? buf_terminate(out) : "?";
}

/* lease_holder - "pid P on N since T (instance I)" of a lease value */
static void
lease_holder(const char *v, struct buf *out)
{
	struct buf f = BUF_INIT;
	char	when[64];
	struct tm tm;
	time_t	t;

	t = (time_t)strtoll(lease_field(v, LF_STARTED, &f), NULL, 10);
	if (t <= 0 || localtime_r(&t, &tm) == NULL ||
	    strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S %z", &tm) == 0)
		snprintf(when, sizeof(when), "?");
	buf_reset(out);
	buf_printf(out, "pid %.20s", lease_field(v, LF_PID, &f));
	buf_printf(out, " on %.255s", lease_field(v, LF_HOST, &f));
	buf_printf(out, " since %s", when);
	buf_printf(out, " (instance %.40s)", lease_field(v, LF_INSTANCE, &f));
	buf_free(&f);
}

/* lease_refusal - the error of a refused start, into err */
static void
lease_refusal(const struct lease *l, const char *v, struct buf *err)
{
	struct buf who = BUF_INIT;

	lease_holder(v, &who);
	buf_reset(err);
	buf_printf(err, "another etrnd serves host %s: %s; refusing to start "
	    "(lease %s; one left by a killed etrnd expires within %llds)",
	    l->s->hostname, buf_terminate(&who), l->key.s,
	    l->s->etrnd_lease_time);
	buf_free(&who);
}

/* lease_redis - a Redis result: log an outage once; rc */
static int
lease_redis(struct lease *l, int rc, const struct rr_reply *rep)
{
	if (rc < 0 && !l->down) {
		log_warnx("lease %s: redis failed: %.300s; retrying", l->key.s,
		    rep->str ? rep->str : "no reply");
		l->down = 1;
	} else if (rc == 0)
		l->down = 0;
	return rc;
}

/* lease_args - this instance's value into v, the TTL in ms into ttl */
static void
lease_args(struct lease *l, struct buf *v, char *ttl, size_t len)
{
	lease_value(l, v);
	snprintf(ttl, len, "%lld", l->ttl_ms);
}

/* lease_holder_from - the other holder's value, from rep, into holder */
static int
lease_holder_from(struct buf *holder, const struct rr_reply *rep)
{
	buf_reset(holder);
	buf_add(holder, rep->str, rep->len);
	buf_terminate(holder);
	return LEASE_OTHER;
}

/* lease_take - SET NX PX; LEASE_OURS, LEASE_OTHER (key exists), LEASE_IO */
static int
lease_take(struct lease *l, struct rpool *rp)
{
	struct buf v = BUF_INIT;
	struct rr_reply rep;
	char	ttl[24];
	struct rargs a = RARGS_INIT;
	int	rc;

	lease_args(l, &v, ttl, sizeof(ttl));
	rargs_strs(&a, "SET", l->key.s, v.s, "NX", "PX", ttl, NULL);
	rc = lease_redis(l, rpool_command(rp, a.n, a.v, a.l, &rep), &rep);
	if (rc == 0)
		rc = rep.status == RR_NIL ? LEASE_OTHER : LEASE_OURS;
	else
		rc = LEASE_IO;
	rr_reply_free(&rep);
	rargs_free(&a);
	buf_free(&v);
	return rc;
}

/*
 * lease_cas - run a compare-and-set script sc on the key: from expected
 * to this instance's value, with the TTL; as lease_redis(), rep filled
 */
static int
lease_cas(struct lease *l, struct rpool *rp, struct rscript *sc,
    const char *expected, struct rr_reply *rep)
{
	struct buf v = BUF_INIT;
	char	ttl[24];
	struct rargs a = RARGS_INIT;
	int	rc;

	lease_args(l, &v, ttl, sizeof(ttl));
	rargs_strs(&a, l->key.s, expected, v.s, ttl, NULL);
	rc = lease_redis(l, rpool_script(rp, sc, 1, a.n, a.v, a.l, rep), rep);
	rargs_free(&a);
	buf_free(&v);
	return rc;
}

/* lease_renew - compare-and-renew; LEASE_OURS, LEASE_GONE, LEASE_IO, or
 * LEASE_OTHER with the other holder's value in holder */
static int
lease_renew(struct lease *l, struct rpool *rp, struct buf *holder)
{
	struct rr_reply rep;
	int	rc;

	rc = lease_cas(l, rp, &lease_renew_script, l->mine.s, &rep);
	if (rc < 0)
		rc = LEASE_IO;
	else if (rep.type == RRT_STR)
		rc = lease_holder_from(holder, &rep);
	else
		rc = rep.type == RRT_INT && rep.integer == 1 ? LEASE_OURS :
		    LEASE_GONE;
	rr_reply_free(&rep);
	return rc;
}

/*
 * lease_stale - v names an etrnd of this kernel and pid namespace that no
 * longer runs (killed with SIGKILL): its pid is gone, or is this process
 */
static int
lease_stale(const struct lease *l, const char *v)
{
	struct buf f = BUF_INIT;
	long	pid;
	int	stale = 0;

	if (strcmp(l->proc.s, "-") != 0 &&
	    strcmp(lease_field(v, LF_PROC, &f), l->proc.s) == 0) {
		pid = strtol(lease_field(v, LF_PID, &f), NULL, 10);
		stale = pid > 0 && ((pid_t)pid == getpid() ||
		    (kill((pid_t)pid, 0) < 0 && errno == ESRCH));
	}
	buf_free(&f);
	return stale;
}

/* lease_takeover - replace the stale value in holder, only it; as
 * lease_renew() */
static int
lease_takeover(struct lease *l, struct rpool *rp, struct buf *holder)
{
	struct buf who = BUF_INIT;
	struct rr_reply rep;
	int	rc;

	rc = lease_cas(l, rp, &lease_takeover_script, buf_terminate(holder),
	    &rep);
	if (rc < 0)
		rc = LEASE_IO;
	else if (rep.type == RRT_INT && rep.integer == 1) {
		lease_holder(holder->s, &who);
		log_warnx("lease %s: taken over from %s, which no longer runs",
		    l->key.s, buf_terminate(&who));
		rc = LEASE_OURS;
	} else if (rep.type == RRT_STR)
		rc = lease_holder_from(holder, &rep);
	else
		rc = LEASE_GONE;
	rr_reply_free(&rep);
	buf_free(&who);
	return rc;
}

/*
 * lease_try - renew the lease, or take it: SET NX, and when the key
 * exists, the renewal script (it may still be ours: a renewal whose
 * reply was lost, or a lease that ran out on our clock only)
 */
static int
lease_try(struct lease *l, struct rpool *rp, struct buf *holder)
{
	int	rc, tries;

	for (tries = 0; tries < 2; tries++) {
		if (l->until == 0 &&
		    (rc = lease_take(l, rp)) != LEASE_OTHER)
			return rc;
		if ((rc = lease_renew(l, rp, holder)) == LEASE_OTHER &&
		    lease_stale(l, buf_terminate(holder)))
			rc = lease_takeover(l, rp, holder);
		if (rc != LEASE_GONE)
			return rc;
		if (l->until != 0)	/* deleted, or lost by Redis */
			log_warnx("lease %s: gone from redis while held; "
			    "taking it again", l->key.s);
		l->until = 0;	/* expired meanwhile: SET NX again */
	}
	return LEASE_IO;
}

/* lease_other - another etrnd holds the lease: log it once per holder */
static void
lease_other(struct lease *l, const char *v)
{
	struct buf who = BUF_INIT;

	if (l->other.len > 0 && strcmp(buf_terminate(&l->other), v) == 0)
		return;
	buf_reset(&l->other);
	buf_cat(&l->other, v);
	if (!l->ever) {
		/* Redis was away at start: the refusal, postponed. */
		l->refused = 1;
		lease_refusal(l, v, &who);
		log_err("%s", buf_terminate(&who));
	} else {
		lease_holder(v, &who);
		log_err("lease %s: taken by another etrnd (%s); this host's "
		    "records are left alone until the lease is free",
		    l->key.s, buf_terminate(&who));
	}
	buf_free(&who);
}

/*
 * lease_start - take the lease before the listener is forked: -1 when
 * another etrnd holds it, the error in err (the caller logs it); Redis
 * unreachable is no error (the runner takes the lease later, and acts on
 * no record before)
 */
int
lease_start(struct lease *l, struct buf *err)
{
	const struct oe_settings *s = l->s;
	struct rpool *rp;
	struct buf holder = BUF_INIT;
	long long now = lease_now_ms();
	int	rc;

	if ((rp = rpool_new(s->redis_server, s->redis_password,
	    (int)s->redis_db, (int)s->redis_timeout, &s->redis_ha)) == NULL)
		return 0;	/* runner_init says why */
	rc = lease_try(l, rp, &holder);
	if (rc == LEASE_OURS) {
		l->until = now + l->ttl_ms;
		l->next = now + l->ttl_ms / 3;
		l->ever = 1;
		log_info("lease %s taken: ttl=%llds", l->key.s,
		    s->etrnd_lease_time);
	} else if (rc == LEASE_OTHER)
		lease_refusal(l, buf_terminate(&holder), err);
	else
		log_warnx("lease %s: redis unreachable; starting, but this "
		    "host's records are left alone until the lease is held",
		    l->key.s);
	rpool_free(rp);
	buf_free(&holder);
	return rc == LEASE_OTHER ? -1 : 0;
}

/*
 * lease_hold - renew (or take) the lease when due; 1 while it is held.
 * Called before every step of the runner's loop.
 */
int
lease_hold(struct lease *l, struct rpool *rp)
{
	struct buf holder = BUF_INIT;
	long long now = lease_now_ms();
	int	rc;

	if (l->until != 0 && now >= l->until) {
		log_warnx("lease %s: not renewed within %llds (%s); this "
		    "host's records are left alone until it is held again",
		    l->key.s, l->s->etrnd_lease_time, l->down ?
		    "redis unreachable" : "runner too slow");
		l->until = 0;
		l->next = 0;
	}
	if (rp == NULL || (now < l->next && l->pid == getpid()))
		return l->until > now;
	rc = lease_try(l, rp, &holder);
	if (rc == LEASE_OURS) {
		if (l->until == 0)
			log_info("lease %s %s: ttl=%llds", l->key.s,
			    l->ever ? "held again" : "taken",
			    l->s->etrnd_lease_time);
		l->until = now + l->ttl_ms;
		l->next = now + l->ttl_ms / 3;
		l->ever = 1;
		buf_reset(&l->other);
	} else if (rc == LEASE_OTHER) {
		l->until = 0;
		lease_other(l, buf_terminate(&holder));
		l->next = now + l->ttl_ms / 3;
	} else
		l->next = now + (LEASE_RETRY_MS < l->ttl_ms / 3 ?
		    LEASE_RETRY_MS : l->ttl_ms / 3);
	buf_free(&holder);
	return l->until > now;
}

/* lease_wait_ms - time until the next renewal is due (0: now) */
long long
lease_wait_ms(const struct lease *l)
{
	long long ms = l->next - lease_now_ms();

	return ms > 0 ? ms : 0;
}

/* lease_refused - another etrnd held the lease before this one ever did */
int
lease_refused(const struct lease *l)
{
	return l->refused;
}

/* lease_release - delete the lease if it is still ours (a clean stop) */
void
lease_release(struct lease *l, struct rpool *rp)
{
	struct rr_reply rep;
	struct rargs a = RARGS_INIT;
	int	rc;

	if (!l->ever || rp == NULL)
		return;
	rargs_strs(&a, l->key.s, l->mine.s, NULL);
	rc = rpool_script(rp, &lease_release_script, 1, a.n, a.v, a.l, &rep);
	rargs_free(&a);
	if (rc < 0)
		log_warnx("lease %s: not released (%.300s); it expires within "
		    "%llds", l->key.s, rep.str ? rep.str : "no reply",
		    l->s->etrnd_lease_time);
	else if (rep.type == RRT_INT && rep.integer == 1)
		log_info("lease %s released", l->key.s);
	rr_reply_free(&rep);
	l->until = 0;
	l->ever = 0;
}

/* lease_free - free the lease (lease_release() first for a clean stop) */
void
lease_free(struct lease *l)
{
	if (l == NULL)
		return;
	buf_free(&l->key);
	buf_free(&l->mine);
	buf_free(&l->other);
	buf_free(&l->proc);
	free(l);
}
