/*
 * NAME
 *	redis_sync - a pool of blocking hiredis connections with timeouts
 * SUMMARY
 *	pool = rpool_new(server, password, db, timeout_ms, &ha);
 *	rpool_command(pool, argc, argv, argvlen, &reply);
 *	rpool_script(pool, &script, nkeys, argc, argv, argvlen, &reply);
 *	rpool_command_wait(...);  rpool_script_wait(...);
 * DESCRIPTION
 *	libmilter runs one thread per SMTP session; a mutex-guarded stack of
 *	idle connections lets sessions share a few connections without a
 *	connect per message.  A connection that saw an I/O error is freed,
 *	never reused (hiredis cannot recover a context).  Connect and every
 *	command are bounded by the timeout.
 *
 *	Arguments are always passed as argv/argvlen (binary safe); no user
 *	data is ever a hiredis format string.  Replies are converted here
 *	into struct rr_reply so no other module reads redisReply.
 *
 *	rpool_script() loads a Lua script once (SCRIPT LOAD) and runs it with
 *	EVALSHA, loading it again after NOSCRIPT (Redis restarted).
 *
 *	With Sentinels (ha->sentinels, see sentinel.c) the pool connects to
 *	the master the Sentinels name and checks with ROLE that it is one;
 *	a connection failure, a READONLY or MISCONF error or a ROLE that is
 *	not master makes the Sentinels be asked again, and idle connections
 *	to the old master are dropped.  A command refused with READONLY
 *	(nothing written) is sent once more to the new master.
 *
 *	The _wait forms mark the writes that must survive a failover: with
 *	ha->wait_ms set and replicas attached to the master (ROLE, checked
 *	again every 5 s, or every second while there is none), WAIT 1
 *	wait_ms follows on the same
 *	connection.  A WAIT that reaches no replica is logged (at most once
 *	a minute) and the write stands: Redis cannot take it back.
 * DIAGNOSTICS
 *	RR_IO for connect failures, timeouts and lost connections (text in
 *	reply->str); RR_ERROR for errors Redis returned.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <hiredis/hiredis.h>

#include "util/buf.h"
#include "util/log.h"
#include "util/net.h"
#include "util/rargs.h"
#include "util/redis_reply.h"
#include "util/redis_sync.h"
#include "util/sentinel.h"
#include "util/xalloc.h"

#define RPOOL_MAX_IDLE	16
#define RPOOL_ROLE_EVERY 5000	/* ms between replica counts */
#define RPOOL_ROLE_NONE	1000	/* the same while there is none */
#define RPOOL_WAIT_LOG	60000	/* ms between "no replica" lines */

struct rconn {
	redisContext *c;
	unsigned gen;		/* the Sentinels' answer it was made for */
};

struct rpool {
	struct net_addr addr;
	char	*password;
	int	db;
	int	timeout_ms;
	struct sentinel *sn;	/* NULL: addr is the server */
	int	wait_ms;	/* 0: no WAIT */
	pthread_mutex_t lock;
	struct rconn idle[RPOOL_MAX_IDLE];
	int	nidle;
	int	nrepl;		/* replicas at the last ROLE */
	long long role_at;	/* monotonic ms of the last ROLE */
	long long wait_logged;	/* last "no replica" line */
};

/* rpool_now - monotonic milliseconds */
static long long
rpool_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * rpool_new - pool for one server, or for the master the Sentinels of
 * ha name (ha NULL or without Sentinels: server); NULL if an address is
 * bad
 */
struct rpool *
rpool_new(const char *server, const char *password, int db, int timeout_ms,
    const struct redis_ha *ha)
{
	struct rpool *rp = xcalloc(1, sizeof(*rp));

	if (net_parse(server, &rp->addr) < 0 || rp->addr.kind == NET_INET_AT) {
		free(rp);
		return NULL;
	}
	if (ha != NULL && ha->sentinels != NULL && *ha->sentinels != '\0') {
		if ((rp->sn = sentinel_new(ha, timeout_ms)) == NULL) {
			free(rp);
			return NULL;
		}
		rp->addr.kind = NET_INET;
	}
	rp->wait_ms = ha != NULL ? ha->wait_ms : 0;
	rp->password = xstrdup(password ? password : "");
	rp->db = db;
	rp->timeout_ms = timeout_ms;
	pthread_mutex_init(&rp->lock, NULL);
	return rp;
}

/* rpool_free - close idle connections, free the pool */
void
rpool_free(struct rpool *rp)
{
	if (rp == NULL)
		return;
	while (rp->nidle > 0)
		redisFree(rp->idle[--rp->nidle].c);
	sentinel_free(rp->sn);
	pthread_mutex_destroy(&rp->lock);
	free(rp->password);
	free(rp);
}

/* rpool_set_io - an RR_IO reply with a reason */
static int
rpool_set_io(struct rr_reply *out, const char *what, const char *why)
{
	struct buf b = BUF_INIT;

	memset(out, 0, sizeof(*out));
	out->status = RR_IO;
	buf_printf(&b, "%s: %s", what, why && *why ? why : "I/O error");
	out->len = b.len;
	out->str = buf_steal(&b);
	return -1;
}

/* rpool_simple - run a setup command on a new context; on failure why
 * (size bytes) says what Redis answered */
static int
rpool_simple(redisContext *c, int argc, const char **argv, char *why,
    size_t size)
{
	redisReply *r = redisCommandArgv(c, argc, argv, NULL);
	int	ok = r != NULL && r->type != REDIS_REPLY_ERROR;

	if (!ok)
		snprintf(why, size, "%s", r == NULL ? c->errstr :
		    r->str != NULL ? r->str : "refused");
	if (r)
		freeReplyObject(r);
	return ok ? 0 : -1;
}

/* rpool_role - ROLE: 1 master (replica count kept), 0 not, -1 I/O */
static int
rpool_role(struct rpool *rp, redisContext *c, char *why, size_t size)
{
	const char *av[1] = { "ROLE" };
	redisReply *r = redisCommandArgv(c, 1, av, NULL);
	int	rc = 0;

	if (r == NULL) {
		snprintf(why, size, "ROLE: %s", c->errstr);
		return -1;
	}
	if (r->type == REDIS_REPLY_ARRAY && r->elements >= 3 &&
	    r->element[0]->type == REDIS_REPLY_STRING &&
	    strcmp(r->element[0]->str, "master") == 0) {
		pthread_mutex_lock(&rp->lock);
		rp->nrepl = r->element[2]->type == REDIS_REPLY_ARRAY ?
		    (int)r->element[2]->elements : 0;
		rp->role_at = rpool_now();
		pthread_mutex_unlock(&rp->lock);
		rc = 1;
	} else
		snprintf(why, size, "ROLE says %s, not master",
		    r->type == REDIS_REPLY_ARRAY && r->elements > 0 &&
		    r->element[0]->type == REDIS_REPLY_STRING ?
		    r->element[0]->str : r->type == REDIS_REPLY_ERROR ?
		    r->str : "something else");
	freeReplyObject(r);
	return rc;
}

/* rpool_fail - a new context failed at what: RR_IO, ask the Sentinels */
static redisContext *
rpool_fail(struct rpool *rp, redisContext *c, unsigned gen,
    struct rr_reply *out, const char *what, const char *why)
{
	rpool_set_io(out, what, why);
	if (rp->sn != NULL)
		sentinel_stale(rp->sn, gen, out->str);
	if (c)
		redisFree(c);
	return NULL;
}

/* rpool_auth - AUTH and SELECT on a new context; *what failed */
static int
rpool_auth(struct rpool *rp, redisContext *c, const char **what, char *why,
    size_t size)
{
	char	dbs[16];
	const char *av[2];

	if (*rp->password) {
		av[0] = "AUTH";
		av[1] = rp->password;
		*what = "redis AUTH";
		if (rpool_simple(c, 2, av, why, size) < 0)
			return -1;
	}
	if (rp->db != 0) {
		snprintf(dbs, sizeof(dbs), "%d", rp->db);
		av[0] = "SELECT";
		av[1] = dbs;
		*what = "redis SELECT";
		if (rpool_simple(c, 2, av, why, size) < 0)
			return -1;
	}
	return 0;
}

/*
 * rpool_connect - new context with timeouts, AUTH and SELECT; with
 * Sentinels, to the master of generation gen, checked with ROLE
 */
static redisContext *
rpool_connect(struct rpool *rp, const char *host, const char *port,
    unsigned gen, struct rr_reply *out)
{
	struct timeval tv;
	redisContext *c;
	const char *what = "redis";
	char	why[160];

	tv.tv_sec = rp->timeout_ms / 1000;
	tv.tv_usec = (rp->timeout_ms % 1000) * 1000;
	if (rp->addr.kind == NET_UNIX)
		c = redisConnectUnixWithTimeout(rp->addr.path, tv);
	else
		c = redisConnectWithTimeout(host, atoi(port), tv);
	if (c == NULL || c->err)
		return rpool_fail(rp, c, gen, out, "redis connect",
		    c ? c->errstr : "no memory");
	if (redisSetTimeout(c, tv) != REDIS_OK)
		return rpool_fail(rp, c, gen, out, "redis timeout",
		    c->errstr);
	if (rpool_auth(rp, c, &what, why, sizeof(why)) < 0)
		return rpool_fail(rp, c, gen, out, what, why);
	if (rp->sn != NULL) {
		if (rpool_role(rp, c, why, sizeof(why)) != 1)
			return rpool_fail(rp, c, gen, out, "redis", why);
		sentinel_good(rp->sn);
	}
	return c;
}

/* rpool_get - an idle connection or a new one, to the current master */
static redisContext *
rpool_get(struct rpool *rp, unsigned *gen, struct rr_reply *out)
{
	struct buf why = BUF_INIT;
	redisContext *c = NULL, *old[RPOOL_MAX_IDLE];
	char	host[256], port[8];
	int	nold = 0;

	*gen = 0;
	snprintf(host, sizeof(host), "%s", rp->addr.host);
	snprintf(port, sizeof(port), "%s", rp->addr.port);
	if (rp->sn != NULL && sentinel_master(rp->sn, host, sizeof(host),
	    port, sizeof(port), gen, &why) < 0) {
		rpool_set_io(out, "redis", buf_terminate(&why));
		buf_free(&why);
		return NULL;
	}
	pthread_mutex_lock(&rp->lock);
	while (c == NULL && rp->nidle > 0) {
		rp->nidle--;
		if (rp->idle[rp->nidle].gen == *gen)
			c = rp->idle[rp->nidle].c;
		else
			old[nold++] = rp->idle[rp->nidle].c;
	}
	pthread_mutex_unlock(&rp->lock);
	while (nold > 0)
		redisFree(old[--nold]);
	return c ? c : rpool_connect(rp, host, port, *gen, out);
}

/* rpool_put - return a healthy connection, drop a broken one */
static void
rpool_put(struct rpool *rp, redisContext *c, unsigned gen)
{
	if (c->err == 0) {
		pthread_mutex_lock(&rp->lock);
		if (rp->nidle < RPOOL_MAX_IDLE) {
			rp->idle[rp->nidle].c = c;
			rp->idle[rp->nidle++].gen = gen;
			c = NULL;
		}
		pthread_mutex_unlock(&rp->lock);
	}
	if (c)
		redisFree(c);
}

/*
 * rpool_wait - after a write on c: WAIT 1 wait_ms when the master has
 * replicas.  The write stands whatever WAIT says; fewer than one replica
 * is logged, at most once a minute, and the replicas are counted again.
 */
static void
rpool_wait(struct rpool *rp, redisContext *c, unsigned gen)
{
	char	ms[16], why[160];
	const char *av[3] = { "WAIT", "1", ms };
	redisReply *r;
	long long now = rpool_now();
	int	count, nrepl;

	pthread_mutex_lock(&rp->lock);
	count = rp->role_at == 0 || now - rp->role_at >= (rp->nrepl > 0 ?
	    RPOOL_ROLE_EVERY : RPOOL_ROLE_NONE);
	pthread_mutex_unlock(&rp->lock);
	if (count && rpool_role(rp, c, why, sizeof(why)) != 1) {
		if (c->err == 0)	/* a replica now: never again */
			c->err = REDIS_ERR_OTHER;
		if (rp->sn != NULL)
			sentinel_stale(rp->sn, gen, why);
		return;
	}
	pthread_mutex_lock(&rp->lock);
	nrepl = rp->nrepl;
	pthread_mutex_unlock(&rp->lock);
	if (nrepl == 0)
		return;
	snprintf(ms, sizeof(ms), "%d", rp->wait_ms);
	r = redisCommandArgv(c, 3, av, NULL);
	if (r != NULL && r->type == REDIS_REPLY_INTEGER && r->integer >= 1) {
		freeReplyObject(r);
		return;
	}
	pthread_mutex_lock(&rp->lock);
	rp->role_at = 0;
	count = rp->wait_logged == 0 || now - rp->wait_logged >=
	    RPOOL_WAIT_LOG;
	if (count)
		rp->wait_logged = now;
	pthread_mutex_unlock(&rp->lock);
	if (count)
		log_warnx("redis: WAIT 1 %d: %s (the write stands)",
		    rp->wait_ms, r == NULL ? c->errstr :
		    r->type == REDIS_REPLY_ERROR ? r->str :
		    "no replica acknowledged it in time");
	if (r)
		freeReplyObject(r);
}

/* rpool_exec - one command, then WAIT when wait is set */
static int
rpool_exec(struct rpool *rp, int argc, const char **argv,
    const size_t *argvlen, struct rr_reply *out, int wait)
{
	redisContext *c;
	redisReply *r;
	unsigned gen;
	int	attempt;

	for (attempt = 0;; attempt++) {
		if ((c = rpool_get(rp, &gen, out)) == NULL)
			return -1;
		r = redisCommandArgv(c, argc, argv, argvlen);
		if (r == NULL) {
			rpool_set_io(out, "redis", c->err == REDIS_ERR_IO &&
			    errno == EAGAIN ? "timeout" : c->errstr);
			if (c->err == 0)
				c->err = REDIS_ERR_IO;
			if (rp->sn != NULL)
				sentinel_stale(rp->sn, gen, out->str);
			rpool_put(rp, c, gen);
			return -1;
		}
		rr_from_hiredis(r, out);
		freeReplyObject(r);
		if (out->status != RR_ERROR || rp->sn == NULL ||
		    !sentinel_is_readonly(out->str))
			break;
		/* Not the master (any more): ask; nothing was written. */
		sentinel_stale(rp->sn, gen, out->str);
		c->err = REDIS_ERR_OTHER;
		rpool_put(rp, c, gen);
		if (attempt > 0 || strncmp(out->str, "READONLY", 8) != 0)
			return -1;
		rr_reply_free(out);
	}
	if (wait && rp->wait_ms > 0 && out->status != RR_ERROR)
		rpool_wait(rp, c, gen);
	rpool_put(rp, c, gen);
	return out->status == RR_ERROR ? -1 : 0;
}

/* rpool_command - one command; 0 unless RR_IO or RR_ERROR */
int
rpool_command(struct rpool *rp, int argc, const char **argv,
    const size_t *argvlen, struct rr_reply *out)
{
	return rpool_exec(rp, argc, argv, argvlen, out, 0);
}

/* rpool_command_wait - a write that must reach a replica (see above) */
int
rpool_command_wait(struct rpool *rp, int argc, const char **argv,
    const size_t *argvlen, struct rr_reply *out)
{
	return rpool_exec(rp, argc, argv, argvlen, out, 1);
}

/* rpool_script_sha - the script's SHA1, loaded once per pool */
static int
rpool_script_sha(struct rpool *rp, struct rscript *sc, char *sha,
    struct rr_reply *out)
{
	const char *av[3] = { "SCRIPT", "LOAD", sc->body };

	pthread_mutex_lock(&rp->lock);
	memcpy(sha, sc->sha, sizeof(sc->sha));
	pthread_mutex_unlock(&rp->lock);
	if (sha[0] != '\0')
		return 0;
	if (rpool_command(rp, 3, av, NULL, out) < 0)
		return -1;
	if (out->type != RRT_STR || out->len != 40) {
		rr_reply_free(out);
		return rpool_set_io(out, "redis SCRIPT LOAD",
		    "unexpected reply");
	}
	pthread_mutex_lock(&rp->lock);
	memcpy(sc->sha, out->str, 41);
	memcpy(sha, sc->sha, sizeof(sc->sha));
	pthread_mutex_unlock(&rp->lock);
	rr_reply_free(out);
	return 0;
}

/* rpool_run - EVALSHA; on NOSCRIPT (a restarted Redis) load again */
static int
rpool_run(struct rpool *rp, struct rscript *sc, int nkeys, int argc,
    const char **argv, const size_t *argvlen, struct rr_reply *out,
    int wait)
{
	struct rargs a = RARGS_INIT;
	char	nk[16], sha[41];
	int	i, rc, attempt;

	snprintf(nk, sizeof(nk), "%d", nkeys);
	for (attempt = 0, rc = -1; attempt < 2; attempt++) {
		if ((rc = rpool_script_sha(rp, sc, sha, out)) < 0)
			break;
		rargs_reset(&a);
		rargs_strs(&a, "EVALSHA", sha, nk, NULL);
		for (i = 0; i < argc; i++)
			rargs_add(&a, argv[i], argvlen ? argvlen[i] :
			    strlen(argv[i]));
		rc = rpool_exec(rp, a.n, a.v, a.l, out, wait);
		if (rc == 0 || out->status != RR_ERROR ||
		    strncmp(out->str, "NOSCRIPT", 8) != 0)
			break;
		rr_reply_free(out);
		pthread_mutex_lock(&rp->lock);
		sc->sha[0] = '\0';
		pthread_mutex_unlock(&rp->lock);
	}
	rargs_free(&a);
	return rc;
}


/* rpool_script - run a script */
int
rpool_script(struct rpool *rp, struct rscript *sc, int nkeys, int argc,
    const char **argv, const size_t *argvlen, struct rr_reply *out)
{
	return rpool_run(rp, sc, nkeys, argc, argv, argvlen, out, 0);
}

/* rpool_script_wait - a script whose writes must reach a replica */
int
rpool_script_wait(struct rpool *rp, struct rscript *sc, int nkeys, int argc,
    const char **argv, const size_t *argvlen, struct rr_reply *out)
{
	return rpool_run(rp, sc, nkeys, argc, argv, argvlen, out, 1);
}
