/*
 * NAME
 *	sentinel - the Redis master as Redis Sentinel names it
 * SUMMARY
 *	sn = sentinel_new(&ha, timeout_ms);
 *	sentinel_master(sn, host, hsize, port, psize, &gen, &why);
 *	sentinel_stale(sn, gen, why);	sentinel_good(sn);
 * DESCRIPTION
 *	With redis_sentinels set, no program is given the master's address:
 *	it asks the Sentinels in turn (SENTINEL get-master-addr-by-name),
 *	starting with the last one that answered, and keeps the answer
 *	until a connection to it fails or it refuses a write (READONLY,
 *	MISCONF), or ROLE says it is no longer the master.  Then the
 *	master is "stale" and the next connection asks again.  Asks that
 *	find nothing, and masters that keep failing, are spaced by a capped
 *	exponential backoff (100 ms to 1 s); until the backoff has passed,
 *	sentinel_master() fails at once, so callers answer 4xx or 458
 *	without waiting.
 *
 *	Each answer gets a new generation number: the pools drop idle
 *	connections of an older generation, so no connection made to a
 *	demoted master is used after the master changed.
 *
 *	The asks are blocking (bounded by the timeout per Sentinel) and
 *	serialized by a mutex; the pools share one object per program.
 * DIAGNOSTICS
 *	Every change of master is logged: "redis: master NAME is now
 *	HOST:PORT (was ...)".  A failed ask is logged once per outage and
 *	then at most once a minute, with the Sentinels' answers: a master
 *	name that no Sentinel knows is named.
 */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <hiredis/hiredis.h>

#include "util/log.h"
#include "util/net.h"
#include "util/sentinel.h"
#include "util/xalloc.h"

#define SN_MAX		16	/* Sentinels in the list */
#define SN_BACKOFF_MIN	100	/* ms */
#define SN_BACKOFF_MAX	1000
#define SN_LOG_EVERY	60000	/* ms between repeated failure lines */

struct sentinel {
	struct net_addr addr[SN_MAX];
	int	n;
	int	first;		/* the one that answered last */
	char	*name;
	char	*password;
	int	timeout_ms;
	pthread_mutex_t lock;
	int	known;		/* host/port is the master */
	char	host[256];
	char	port[8];
	unsigned gen;
	long long next_ask;	/* monotonic ms */
	int	backoff;	/* ms; 0 right after a good master */
	long long logged_at;	/* last failure line, 0: none this outage */
};

/* sn_now - monotonic milliseconds */
static long long
sn_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* sn_parse - the list into addr[]; -1 and why on a bad entry */
static int
sn_parse(const char *list, struct net_addr *addr, int *n, struct buf *why)
{
	char	item[300];
	const char *p = list, *e;
	size_t	len;

	*n = 0;
	while (*p != '\0') {
		p += strspn(p, ", \t");
		if (*p == '\0')
			break;
		e = p + strcspn(p, ", \t");
		len = (size_t)(e - p);
		if (*n == SN_MAX || len + 6 > sizeof(item))
			goto bad;
		snprintf(item, sizeof(item), "inet:%.*s", (int)len, p);
		if (net_parse(item, &addr[*n]) < 0 ||
		    addr[*n].kind != NET_INET)
			goto bad;
		(*n)++;
		p = e;
	}
	if (*n > 0)
		return 0;
	buf_printf(why, "no Sentinel in \"%s\"", list);
	return -1;
bad:
	buf_printf(why, "bad Sentinel \"%.*s\" (expected host:port, at most "
	    "%d)", (int)strcspn(p, ", \t"), p, SN_MAX);
	return -1;
}

/* sentinel_check - is list a good redis_sentinels value */
int
sentinel_check(const char *list, struct buf *why)
{
	struct net_addr addr[SN_MAX];
	int	n;

	return sn_parse(list, addr, &n, why);
}

/* sentinel_new - NULL without Sentinels or with a bad list */
struct sentinel *
sentinel_new(const struct redis_ha *ha, int timeout_ms)
{
	struct sentinel *sn;
	struct buf why = BUF_INIT;

	if (ha == NULL || ha->sentinels == NULL || *ha->sentinels == '\0')
		return NULL;
	sn = xcalloc(1, sizeof(*sn));
	if (sn_parse(ha->sentinels, sn->addr, &sn->n, &why) < 0) {
		buf_free(&why);
		free(sn);
		return NULL;
	}
	sn->name = xstrdup(ha->master_name ? ha->master_name : "");
	sn->password = xstrdup(ha->sentinel_password ?
	    ha->sentinel_password : "");
	/* The event loop of etrnd waits for an ask: keep it short. */
	sn->timeout_ms = timeout_ms < 1000 ? timeout_ms : 1000;
	pthread_mutex_init(&sn->lock, NULL);
	return sn;
}

/* sentinel_free - release */
void
sentinel_free(struct sentinel *sn)
{
	if (sn == NULL)
		return;
	pthread_mutex_destroy(&sn->lock);
	free(sn->name);
	free(sn->password);
	free(sn);
}

/* sentinel_name - the master's name */
const char *
sentinel_name(const struct sentinel *sn)
{
	return sn->name;
}

/* sentinel_is_readonly - an error that means "ask for the master again" */
int
sentinel_is_readonly(const char *err)
{
	return err != NULL && (strncmp(err, "READONLY", 8) == 0 ||
	    strncmp(err, "MISCONF", 7) == 0 || strncmp(err, "MASTERDOWN",
	    10) == 0);
}

/* sn_ask_one - ask Sentinel i; 0 and host/port, or -1 and why */
static int
sn_ask_one(struct sentinel *sn, int i, char *host, char *port,
    struct buf *why)
{
	const struct net_addr *a = &sn->addr[i];
	const char *av[3];
	struct timeval tv;
	redisContext *c;
	redisReply *r = NULL;
	int	rc = -1;

	tv.tv_sec = sn->timeout_ms / 1000;
	tv.tv_usec = (sn->timeout_ms % 1000) * 1000;
	c = redisConnectWithTimeout(a->host, atoi(a->port), tv);
	if (c == NULL || c->err || redisSetTimeout(c, tv) != REDIS_OK) {
		buf_printf(why, "; %s:%s: %s", a->host, a->port,
		    c ? c->errstr : "no memory");
		goto out;
	}
	if (*sn->password) {
		av[0] = "AUTH";
		av[1] = sn->password;
		r = redisCommandArgv(c, 2, av, NULL);
		if (r == NULL || r->type == REDIS_REPLY_ERROR) {
			buf_printf(why, "; %s:%s: AUTH: %s", a->host, a->port,
			    r ? r->str : c->errstr);
			goto out;
		}
		freeReplyObject(r);
	}
	av[0] = "SENTINEL";
	av[1] = "get-master-addr-by-name";
	av[2] = sn->name;
	r = redisCommandArgv(c, 3, av, NULL);
	if (r == NULL || r->type == REDIS_REPLY_ERROR)
		buf_printf(why, "; %s:%s: %s", a->host, a->port,
		    r ? r->str : c->errstr);
	else if (r->type == REDIS_REPLY_NIL)
		buf_printf(why, "; %s:%s: no master named \"%s\"", a->host,
		    a->port, sn->name);
	else if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
	    r->element[0]->type != REDIS_REPLY_STRING ||
	    r->element[1]->type != REDIS_REPLY_STRING ||
	    r->element[0]->len >= sizeof(sn->host) ||
	    r->element[1]->len >= sizeof(sn->port))
		buf_printf(why, "; %s:%s: unexpected reply", a->host,
		    a->port);
	else {
		memcpy(host, r->element[0]->str, r->element[0]->len + 1);
		memcpy(port, r->element[1]->str, r->element[1]->len + 1);
		rc = 0;
	}
out:
	if (r)
		freeReplyObject(r);
	if (c)
		redisFree(c);
	return rc;
}

/* sn_ask - ask the Sentinels in turn; called with the lock held */
static int
sn_ask(struct sentinel *sn, struct buf *why)
{
	char	host[256], port[8];
	int	k, i;

	for (k = 0; k < sn->n; k++) {
		i = (sn->first + k) % sn->n;
		if (sn_ask_one(sn, i, host, port, why) < 0)
			continue;
		sn->first = i;
		if (strcmp(host, sn->host) != 0 || strcmp(port, sn->port) != 0)
			log_info("redis: master %s is now %s:%s (was %s%s%s)",
			    sn->name, host, port, *sn->host ? sn->host : "none",
			    *sn->host ? ":" : "", sn->port);
		else if (sn->logged_at != 0)
			log_info("redis: master %s is %s:%s again", sn->name,
			    host, port);
		memcpy(sn->host, host, sizeof(host));
		memcpy(sn->port, port, sizeof(port));
		sn->known = 1;
		sn->gen++;
		sn->logged_at = 0;
		return 0;
	}
	return -1;
}

/* sn_fail - an ask or a master failed: back off, log once in a while */
static void
sn_fail(struct sentinel *sn, long long now, const char *why)
{
	sn->known = 0;
	sn->next_ask = now + sn->backoff;
	sn->backoff = sn->backoff == 0 ? SN_BACKOFF_MIN :
	    sn->backoff * 2 > SN_BACKOFF_MAX ? SN_BACKOFF_MAX :
	    sn->backoff * 2;
	if (sn->logged_at == 0 || now - sn->logged_at >= SN_LOG_EVERY) {
		log_warnx("redis: master %s: %s", sn->name, why);
		sn->logged_at = now;
	}
}

/*
 * sentinel_master - the master's host and port and their generation;
 * -1 and why (no master known now) when the Sentinels do not answer or
 * the backoff has not passed yet
 */
int
sentinel_master(struct sentinel *sn, char *host, size_t hsize, char *port,
    size_t psize, unsigned *gen, struct buf *why)
{
	struct buf err = BUF_INIT;
	long long now;
	int	rc = 0;

	pthread_mutex_lock(&sn->lock);
	now = sn_now();
	if (!sn->known && now < sn->next_ask) {
		buf_printf(why, "no master known for %s (asking the "
		    "Sentinels again in %lld ms)", sn->name,
		    sn->next_ask - now);
		rc = -1;
	} else if (!sn->known) {
		buf_printf(&err, "no Sentinel gave master %s", sn->name);
		if (sn_ask(sn, &err) < 0) {
			sn_fail(sn, now, buf_terminate(&err));
			buf_printf(why, "%s", buf_terminate(&err));
			rc = -1;
		}
	}
	if (rc == 0) {
		snprintf(host, hsize, "%s", sn->host);
		snprintf(port, psize, "%s", sn->port);
		*gen = sn->gen;
	}
	pthread_mutex_unlock(&sn->lock);
	buf_free(&err);
	return rc;
}

/* sentinel_stale - the master of generation gen failed: ask again */
void
sentinel_stale(struct sentinel *sn, unsigned gen, const char *why)
{
	struct buf b = BUF_INIT;

	pthread_mutex_lock(&sn->lock);
	if (sn->known && sn->gen == gen) {
		buf_printf(&b, "%s:%s: %s; asking the Sentinels", sn->host,
		    sn->port, why);
		sn_fail(sn, sn_now(), buf_terminate(&b));
	}
	pthread_mutex_unlock(&sn->lock);
	buf_free(&b);
}

/* sentinel_good - ROLE said master: the next failure asks at once */
void
sentinel_good(struct sentinel *sn)
{
	pthread_mutex_lock(&sn->lock);
	sn->backoff = 0;
	pthread_mutex_unlock(&sn->lock);
}
