/*
 * NAME
 *	redis_sync - a pool of blocking hiredis connections with timeouts
 * SUMMARY
 *	pool = rpool_new(server, password, db, timeout_ms);
 *	rpool_command(pool, argc, argv, argvlen, &reply);
 *	rpool_script(pool, &script, nkeys, argc, argv, argvlen, &reply);
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

#include <hiredis/hiredis.h>

#include "util/buf.h"
#include "util/net.h"
#include "util/rargs.h"
#include "util/redis_reply.h"
#include "util/redis_sync.h"
#include "util/xalloc.h"

#define RPOOL_MAX_IDLE	16

struct rpool {
	struct net_addr addr;
	char	*password;
	int	db;
	int	timeout_ms;
	pthread_mutex_t lock;
	redisContext *idle[RPOOL_MAX_IDLE];
	int	nidle;
};

/* rpool_new - pool for one server; NULL if the address is bad */
struct rpool *
rpool_new(const char *server, const char *password, int db, int timeout_ms)
{
	struct rpool *rp = xcalloc(1, sizeof(*rp));

	if (net_parse(server, &rp->addr) < 0 || rp->addr.kind == NET_INET_AT) {
		free(rp);
		return NULL;
	}
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
		redisFree(rp->idle[--rp->nidle]);
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

/* rpool_connect - new context with timeouts, AUTH and SELECT */
static redisContext *
rpool_connect(struct rpool *rp, struct rr_reply *out)
{
	struct timeval tv;
	redisContext *c;
	char	dbs[16], why[128];
	const char *av[2];

	tv.tv_sec = rp->timeout_ms / 1000;
	tv.tv_usec = (rp->timeout_ms % 1000) * 1000;
	if (rp->addr.kind == NET_UNIX)
		c = redisConnectUnixWithTimeout(rp->addr.path, tv);
	else
		c = redisConnectWithTimeout(rp->addr.host,
		    atoi(rp->addr.port), tv);
	if (c == NULL || c->err) {
		rpool_set_io(out, "redis connect", c ? c->errstr : "no memory");
		if (c)
			redisFree(c);
		return NULL;
	}
	if (redisSetTimeout(c, tv) != REDIS_OK) {
		rpool_set_io(out, "redis timeout", c->errstr);
		redisFree(c);
		return NULL;
	}
	if (*rp->password) {
		av[0] = "AUTH";
		av[1] = rp->password;
		if (rpool_simple(c, 2, av, why, sizeof(why)) < 0) {
			rpool_set_io(out, "redis AUTH", why);
			redisFree(c);
			return NULL;
		}
	}
	if (rp->db != 0) {
		snprintf(dbs, sizeof(dbs), "%d", rp->db);
		av[0] = "SELECT";
		av[1] = dbs;
		if (rpool_simple(c, 2, av, why, sizeof(why)) < 0) {
			rpool_set_io(out, "redis SELECT", why);
			redisFree(c);
			return NULL;
		}
	}
	return c;
}

/* rpool_get - an idle connection or a new one */
static redisContext *
rpool_get(struct rpool *rp, struct rr_reply *out)
{
	redisContext *c = NULL;

	pthread_mutex_lock(&rp->lock);
	if (rp->nidle > 0)
		c = rp->idle[--rp->nidle];
	pthread_mutex_unlock(&rp->lock);
	return c ? c : rpool_connect(rp, out);
}

/* rpool_put - return a healthy connection, drop a broken one */
static void
rpool_put(struct rpool *rp, redisContext *c)
{
	if (c->err == 0) {
		pthread_mutex_lock(&rp->lock);
		if (rp->nidle < RPOOL_MAX_IDLE) {
			rp->idle[rp->nidle++] = c;
			c = NULL;
		}
		pthread_mutex_unlock(&rp->lock);
	}
	if (c)
		redisFree(c);
}

/* rpool_command - one command; 0 unless RR_IO or RR_ERROR */
int
rpool_command(struct rpool *rp, int argc, const char **argv,
    const size_t *argvlen, struct rr_reply *out)
{
	redisContext *c;
	redisReply *r;

	if ((c = rpool_get(rp, out)) == NULL)
		return -1;
	r = redisCommandArgv(c, argc, argv, argvlen);
	if (r == NULL) {
		rpool_set_io(out, "redis", c->err == REDIS_ERR_IO && errno ==
		    EAGAIN ? "timeout" : c->errstr);
		if (c->err == 0)
			c->err = REDIS_ERR_IO;
		rpool_put(rp, c);
		return -1;
	}
	rr_from_hiredis(r, out);
	freeReplyObject(r);
	rpool_put(rp, c);
	return out->status == RR_ERROR ? -1 : 0;
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

/* rpool_script - EVALSHA; on NOSCRIPT (a restarted Redis) load again */
int
rpool_script(struct rpool *rp, struct rscript *sc, int nkeys, int argc,
    const char **argv, const size_t *argvlen, struct rr_reply *out)
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
		rc = rpool_command(rp, a.n, a.v, a.l, out);
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

