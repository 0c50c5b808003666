/*
 * NAME
 *	redis_async - hiredis async on libevent, with timeouts and reconnect
 * SUMMARY
 *	ra = ra_new(base, server, password, db, timeout_ms, &ha);
 *	ra_command(ra, cb, arg, argc, argv, argvlen);
 *	ra_script(ra, &script, cb, arg, nkeys, argc, argv, argvlen);
 * DESCRIPTION
 *	Debian's hiredis 0.14 has no command timeouts, so each command gets
 *	its own libevent timer.  When a timer fires the command's callback
 *	gets RR_IO "timeout" and the connection is dropped (a Redis that
 *	does not answer one command will not answer the next), which hands
 *	every other pending command an RR_IO reply too.  A dropped or failed
 *	connection is never reused: hiredis cannot recover a context, so a
 *	new one is made after a capped exponential backoff (100 ms to 5 s).
 *
 *	While there is no connection, ra_command() fails at once (-1) and
 *	the caller answers without waiting.  Callbacks run exactly once.
 *
 *	AUTH and SELECT are sent first on each new connection; commands
 *	queue behind them.
 *
 *	With Sentinels (ha->sentinels, see sentinel.c) each new connection
 *	goes to the master the Sentinels name (asked with a blocking call
 *	bounded by 1 s per Sentinel), and ROLE follows AUTH and SELECT: a
 *	server that is not the master is disconnected at once, and a
 *	command queued behind ROLE gets READONLY from it rather than being
 *	written.  A lost connection, a timeout, or a READONLY or MISCONF
 *	reply makes the Sentinels be asked again; the backoff is capped at
 *	1 s then.  No WAIT here: the listener and the policy server only
 *	queue flush requests, which an ETRN repeats (docs/design.md).
 * DIAGNOSTICS
 *	One warning when the connection is lost or cannot be made, one info
 *	line when it is back; not one per retry.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>
#include <hiredis/async.h>
#include <hiredis/adapters/libevent.h>

#include "util/log.h"
#include "util/net.h"
#include "util/rargs.h"
#include "util/redis_async.h"
#include "util/redis_reply.h"
#include "util/sentinel.h"
#include "util/xalloc.h"

#define RA_BACKOFF_MIN	100	/* ms */
#define RA_BACKOFF_MAX	5000
#define RA_BACKOFF_SN	1000	/* with Sentinels: a new master is near */

struct ra {
	struct event_base *base;
	struct net_addr addr;
	char	*server;
	char	*password;
	int	db;
	int	timeout_ms;
	struct sentinel *sn;	/* NULL: addr is the server */
	unsigned gen;		/* of the Sentinels' answer in use */
	int	backoff_max;
	redisAsyncContext *ctx;
	int	connected;	/* connect callback said OK */
	int	backoff;	/* ms */
	int	down_logged;
	struct event *retry;
};

struct ra_pending {
	struct ra *ra;
	ra_cb	*cb;
	void	*arg;
	struct event *timer;
	int	done;		/* callback already called (timeout) */
	int	argc;
	char	**argv;		/* copies of the arguments */
	size_t	*argvlen;
};

static void ra_connect(struct ra *);

/* ra_tv - milliseconds as a timeval */
static struct timeval
ra_tv(int ms)
{
	struct timeval tv;

	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	return tv;
}

/* ra_retry_cb - the backoff timer: try to connect again */
static void
ra_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	ra_connect(arg);
}

/* ra_schedule - connect again after the backoff */
static void
ra_schedule(struct ra *ra)
{
	struct timeval tv = ra_tv(ra->backoff);

	evtimer_add(ra->retry, &tv);
	ra->backoff = ra->backoff * 2 > ra->backoff_max ? ra->backoff_max :
	    ra->backoff * 2;
}

/* ra_stale - with Sentinels: the master in use failed, ask again */
static void
ra_stale(struct ra *ra, const char *why)
{
	if (ra->sn != NULL)
		sentinel_stale(ra->sn, ra->gen, why);
}

/* ra_on_connect - hiredis connect callback */
static void
ra_on_connect(const redisAsyncContext *c, int status)
{
	struct ra *ra = c->data;

	if (status != REDIS_OK) {
		if (!ra->down_logged)
			log_warnx("redis %s: connect failed: %s", ra->server,
			    c->errstr);
		ra->down_logged = 1;
		ra->ctx = NULL;		/* hiredis frees it */
		ra_stale(ra, c->errstr);
		ra_schedule(ra);
		return;
	}
	ra->connected = 1;
	ra->backoff = RA_BACKOFF_MIN;
	if (ra->down_logged)
		log_info("redis %s: connected again", ra->server);
	ra->down_logged = 0;
}

/* ra_on_disconnect - hiredis disconnect callback */
static void
ra_on_disconnect(const redisAsyncContext *c, int status)
{
	struct ra *ra = c->data;

	(void)status;
	if (ra == NULL)
		return;
	if (!ra->down_logged && ra->connected)
		log_warnx("redis %s: connection lost%s%s", ra->server,
		    c->err ? ": " : "", c->err ? c->errstr : "");
	ra->down_logged = 1;
	ra->ctx = NULL;
	ra->connected = 0;
	if (ra->retry != NULL) {
		ra_stale(ra, c->err ? c->errstr : "connection lost");
		ra_schedule(ra);
	}
}

/* ra_setup_cb - replies to AUTH/SELECT: nothing to do */
static void
ra_setup_cb(redisAsyncContext *c, void *r, void *priv)
{
	(void)c;
	(void)priv;
	if (r && ((redisReply *)r)->type == REDIS_REPLY_ERROR)
		log_warnx("redis: AUTH/SELECT refused: %s",
		    ((redisReply *)r)->str);
}

/* ra_role_cb - ROLE after connecting: anything but master hangs up */
static void
ra_role_cb(redisAsyncContext *c, void *reply, void *priv)
{
	redisReply *r = reply;
	struct ra *ra = c->data;

	(void)priv;
	if (r == NULL || ra == NULL)
		return;
	if (r->type == REDIS_REPLY_ARRAY && r->elements > 0 &&
	    r->element[0]->type == REDIS_REPLY_STRING &&
	    strcmp(r->element[0]->str, "master") == 0) {
		sentinel_good(ra->sn);
		return;
	}
	log_warnx("redis %s: not the master (%s), asking the Sentinels",
	    ra->server, r->type == REDIS_REPLY_ARRAY && r->elements > 0 &&
	    r->element[0]->type == REDIS_REPLY_STRING ? r->element[0]->str :
	    r->type == REDIS_REPLY_ERROR ? r->str : "no role");
	ra_stale(ra, "ROLE is not master");
	redisAsyncDisconnect(c);
}

/* ra_target - the address to connect to; -1 when no master is known */
static int
ra_target(struct ra *ra, char *host, size_t hsize, char *port, size_t psize)
{
	struct buf why = BUF_INIT;

	snprintf(host, hsize, "%s", ra->addr.host);
	snprintf(port, psize, "%s", ra->addr.port);
	if (ra->sn == NULL)
		return 0;
	if (sentinel_master(ra->sn, host, hsize, port, psize, &ra->gen,
	    &why) == 0) {
		free(ra->server);
		ra->server = xmalloc(strlen(host) + strlen(port) + 2);
		sprintf(ra->server, "%s:%s", host, port);
		buf_free(&why);
		return 0;
	}
	if (!ra->down_logged)
		log_warnx("redis: %s", buf_terminate(&why));
	ra->down_logged = 1;
	buf_free(&why);
	return -1;
}

/* ra_connect - start a new connection */
static void
ra_connect(struct ra *ra)
{
	redisAsyncContext *c;
	char	dbs[16], host[256], port[8];

	if (ra_target(ra, host, sizeof(host), port, sizeof(port)) < 0) {
		ra_schedule(ra);
		return;
	}
	if (ra->addr.kind == NET_UNIX)
		c = redisAsyncConnectUnix(ra->addr.path);
	else
		c = redisAsyncConnect(host, atoi(port));
	if (c == NULL || c->err) {
		if (!ra->down_logged)
			log_warnx("redis %s: %s", ra->server,
			    c ? c->errstr : "out of memory");
		ra->down_logged = 1;
		ra_stale(ra, c ? c->errstr : "out of memory");
		if (c)
			redisAsyncFree(c);
		ra_schedule(ra);
		return;
	}
	c->data = ra;
	ra->ctx = c;
	ra->connected = 0;
	redisLibeventAttach(c, ra->base);
	redisAsyncSetConnectCallback(c, ra_on_connect);
	redisAsyncSetDisconnectCallback(c, ra_on_disconnect);
	if (*ra->password)
		redisAsyncCommand(c, ra_setup_cb, NULL, "AUTH %s",
		    ra->password);
	if (ra->db != 0) {
		snprintf(dbs, sizeof(dbs), "%d", ra->db);
		redisAsyncCommand(c, ra_setup_cb, NULL, "SELECT %s", dbs);
	}
	if (ra->sn != NULL)
		redisAsyncCommand(c, ra_role_cb, NULL, "ROLE");
}

/*
 * ra_new - client for one server, or for the master the Sentinels of ha
 * name (ha NULL or without Sentinels: server); connects in the
 * background
 */
struct ra *
ra_new(struct event_base *base, const char *server, const char *password,
    int db, int timeout_ms, const struct redis_ha *ha)
{
	struct ra *ra = xcalloc(1, sizeof(*ra));

	if (net_parse(server, &ra->addr) < 0 || ra->addr.kind == NET_INET_AT) {
		free(ra);
		return NULL;
	}
	ra->backoff_max = RA_BACKOFF_MAX;
	if (ha != NULL && ha->sentinels != NULL && *ha->sentinels != '\0') {
		if ((ra->sn = sentinel_new(ha, timeout_ms)) == NULL) {
			free(ra);
			return NULL;
		}
		ra->addr.kind = NET_INET;
		ra->backoff_max = RA_BACKOFF_SN;
	}
	ra->base = base;
	ra->server = xstrdup(server);
	ra->password = xstrdup(password ? password : "");
	ra->db = db;
	ra->timeout_ms = timeout_ms;
	ra->backoff = RA_BACKOFF_MIN;
	ra->retry = evtimer_new(base, ra_retry_cb, ra);
	ra_connect(ra);
	return ra;
}

/* ra_free - close; pending callbacks get RR_IO */
void
ra_free(struct ra *ra)
{
	if (ra == NULL)
		return;
	event_free(ra->retry);
	ra->retry = NULL;
	if (ra->ctx) {
		redisAsyncContext *c = ra->ctx;

		/* Our own close (a stop): not logged as a lost connection. */
		ra->ctx = NULL;
		ra->connected = 0;
		redisAsyncFree(c);
	}
	sentinel_free(ra->sn);
	free(ra->server);
	free(ra->password);
	free(ra);
}

/* ra_connected - is a connection up */
int
ra_connected(const struct ra *ra)
{
	return ra->ctx != NULL && ra->connected;
}

/* ra_pending_free - release a pending command */
static void
ra_pending_free(struct ra_pending *p)
{
	int	i;

	if (p->timer)
		event_free(p->timer);
	for (i = 0; i < p->argc; i++)
		free(p->argv[i]);
	free(p->argv);
	free(p->argvlen);
	free(p);
}

/* ra_finish - call the user callback once */
static void
ra_finish(struct ra_pending *p, struct rr_reply *r)
{
	if (p->done)
		return;
	p->done = 1;
	p->cb(r, p->arg);
}

/* ra_io - finish with an RR_IO reply */
static void
ra_io(struct ra_pending *p, const char *why)
{
	struct rr_reply r;

	memset(&r, 0, sizeof(r));
	r.status = RR_IO;
	r.str = xstrdup(why);
	r.len = strlen(why);
	ra_finish(p, &r);
	rr_reply_free(&r);
}

/* ra_reply_cb - hiredis reply (NULL: connection gone) */
static void
ra_reply_cb(redisAsyncContext *c, void *reply, void *priv)
{
	struct ra_pending *p = priv;
	redisReply *r = reply;
	struct rr_reply out;

	if (r == NULL) {
		ra_io(p, "redis connection lost");
	} else if (r->type == REDIS_REPLY_ERROR && p->ra->sn != NULL &&
	    sentinel_is_readonly(r->str) && c->data != NULL) {
		/* Not the master (any more): nothing written; ask again. */
		ra_stale(p->ra, r->str);
		redisAsyncDisconnect(c);
	}
	if (r != NULL && !p->done) {
		rr_from_hiredis(r, &out);
		ra_finish(p, &out);
		rr_reply_free(&out);
	}
	ra_pending_free(p);
}

/* ra_timeout_cb - no reply in time: fail it, drop the connection */
static void
ra_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct ra_pending *p = arg;
	struct ra *ra = p->ra;

	(void)fd;
	(void)what;
	ra_io(p, "redis timeout");
	if (ra->ctx) {
		redisAsyncContext *c = ra->ctx;

		log_warnx("redis %s: no reply within %d ms, reconnecting",
		    ra->server, ra->timeout_ms);
		ra->down_logged = 1;
		ra->ctx = NULL;
		ra->connected = 0;
		ra_stale(ra, "timeout");
		redisAsyncFree(c);	/* pending callbacks get NULL */
		ra_schedule(ra);
	}
}

/* ra_start - copy the arguments, send, arm the timer */
static int
ra_start(struct ra *ra, ra_cb *cb, void *arg, int argc, const char **argv,
    const size_t *argvlen)
{
	struct timeval tv = ra_tv(ra->timeout_ms);
	struct ra_pending *p;
	int	i;

	if (ra->ctx == NULL)
		return -1;
	p = xcalloc(1, sizeof(*p));
	p->ra = ra;
	p->cb = cb;
	p->arg = arg;
	p->argc = argc;
	p->argv = xcalloc((size_t)argc, sizeof(char *));
	p->argvlen = xcalloc((size_t)argc, sizeof(size_t));
	for (i = 0; i < argc; i++) {
		p->argvlen[i] = argvlen ? argvlen[i] : strlen(argv[i]);
		p->argv[i] = xmalloc(p->argvlen[i] + 1);
		memcpy(p->argv[i], argv[i], p->argvlen[i]);
		p->argv[i][p->argvlen[i]] = '\0';
	}
	p->timer = evtimer_new(ra->base, ra_timeout_cb, p);
	if (redisAsyncCommandArgv(ra->ctx, ra_reply_cb, p, argc,
	    (const char **)p->argv, p->argvlen) != REDIS_OK) {
		ra_pending_free(p);
		return -1;
	}
	evtimer_add(p->timer, &tv);
	return 0;
}

/* ra_command - send a command; -1 at once when not connected */
int
ra_command(struct ra *ra, ra_cb *cb, void *arg, int argc, const char **argv,
    const size_t *argvlen)
{
	return ra_start(ra, cb, arg, argc, argv, argvlen);
}

/*
 * ra_script - run a Lua script.  Always EVAL with the body: Redis keeps
 * the compiled script by its SHA1, the body costs only bytes on loopback,
 * and a restarted Redis (which forgets loaded scripts) needs no retry.
 */
int
ra_script(struct ra *ra, const struct rscript *sc, ra_cb *cb, void *arg,
    int nkeys, int argc, const char **argv, const size_t *argvlen)
{
	struct rargs a = RARGS_INIT;
	char	nk[16];
	int	i, rc;

	snprintf(nk, sizeof(nk), "%d", nkeys);
	rargs_strs(&a, "EVAL", sc->body, nk, NULL);
	for (i = 0; i < argc; i++)
		rargs_add(&a, argv[i], argvlen ? argvlen[i] : strlen(argv[i]));
	rc = ra_start(ra, cb, arg, a.n, a.v, a.l);
	rargs_free(&a);
	return rc;
}
