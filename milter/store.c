/*
 * NAME
 *	store - etrn-milter's Redis reads and writes
 * DESCRIPTION
 *	store_hold() writes a hold record in state "pending" in one Lua
 *	script: the record hash, its entry in etrn:pending:<host> (score:
 *	arrival in ms) and the domain sets.  The milter writes it before it
 *	tags and quarantines the message, and a later milter or cleanup may
 *	still reject the message, so a pending record counts nowhere: not in
 *	the domain's held set, counters, expiry or warning indexes.  etrnd
 *	promotes it to "held" (and counts it) once it finds the message on
 *	hold, or drops it after pending_timeout (etrnd/pending.c).  When a
 *	record with the same host and queue ID already exists (Postfix
 *	reused the ID of a message whose file is gone), its contributions
 *	are taken out first (held set, counters, oldest, expiry and warning
 *	entries) so counts stay right.
 *
 *	store_fetch_domains() reads the dial-up domain set (domstore.c).
 *
 *	Key names come from rkeys; the scripts receive them (or, for keys
 *	that depend on stored data, their prefixes) as arguments.
 * DIAGNOSTICS
 *	-1 with a reason in *err when Redis cannot be reached, times out or
 *	answers with an error.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mail/domstore.h"
#include "mail/rkeys.h"
#include "milter/milter.h"
#include "util/log.h"
#include "util/rargs.h"

/*
 * KEYS: msg pending expiry warn hostdomains helddomains
 * ARGV: member qid arrived_ms domain held_prefix stats_prefix, then
 *       field/value pairs of the record
 */
static struct rscript store_hold_script = {
	UNHOLD_LUA
	"local old = redis.call('HMGET', KEYS[1], 'domain', 'size')\n"
	"if old[1] then\n"
	"  unhold(ARGV[5] .. old[1], ARGV[6] .. old[1], ARGV[1], old[2])\n"
	"  redis.call('ZREM', KEYS[3], ARGV[2])\n"
	"  redis.call('ZREM', KEYS[4], ARGV[2])\n"
	"  redis.call('DEL', KEYS[1])\n"
	"end\n"
	"redis.call('HSET', KEYS[1], unpack(ARGV, 7))\n"
	"redis.call('ZADD', KEYS[2], ARGV[3], ARGV[2])\n"
	"redis.call('SADD', KEYS[5], ARGV[4])\n"
	"redis.call('SADD', KEYS[6], ARGV[4])\n"
	"return 1\n",
	""
};

#define HOLD_KEYS	6

/* store_hold - record a message about to be held, pending (see above) */
int
store_hold(const struct cfg *c, const struct msg *m, const struct rgroup *g,
    const struct hold_info *h, struct buf *err)
{
	struct buf k[HOLD_KEYS], member = BUF_INIT, heldp = BUF_INIT,
	    statsp = BUF_INIT, rcpts = BUF_INIT;
	char	arrived[24], arrived_ms[24], expires[24], warn_at[24],
	    size[24], nrcpt[24];
	struct timespec ts;
	struct rargs a = RARGS_INIT;
	struct rr_reply r;
	int	i, rc;
	const char *host = c->s.hostname;

	for (i = 0; i < HOLD_KEYS; i++)
		buf_init(&k[i]);
	rkey_msg(&k[0], host, h->qid);
	rkey_pending(&k[1], host);
	rkey_expiry(&k[2], host);
	rkey_warn(&k[3], host);
	rkey_hostdomains(&k[4], host);
	rkey_helddomains(&k[5]);
	rkey_member(&member, host, h->qid);
	rkey_held(&heldp, "");		/* the prefixes "etrn:held:" and */
	rkey_stats(&statsp, "");	/* "etrn:stats:" for the old record */
	record_rcpts(&rcpts, m, g);
	snprintf(arrived, sizeof(arrived), "%lld", h->arrived);
	clock_gettime(CLOCK_REALTIME, &ts);
	snprintf(arrived_ms, sizeof(arrived_ms), "%lld",
	    (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
	snprintf(expires, sizeof(expires), "%lld", h->expires);
	snprintf(warn_at, sizeof(warn_at), "%lld", h->warn_at);
	snprintf(size, sizeof(size), "%llu", m->size);
	snprintf(nrcpt, sizeof(nrcpt), "%zu", g->n);

	for (i = 0; i < HOLD_KEYS; i++)
		rargs_buf(&a, &k[i]);
	rargs_strs(&a, member.s, h->qid, arrived_ms, h->domain, heldp.s,
	    statsp.s, NULL);
	rargs_strs(&a,
	    RF_DOMAIN, h->domain,
	    RF_HOST, host,
	    RF_QUEUEID, h->qid,
	    RF_TOKEN, h->token,
	    RF_STATE, RSTATE_PENDING,
	    RF_SENDER, m->sender,
	    NULL);
	rargs_str(&a, RF_RCPTS);
	rargs_buf(&a, &rcpts);
	rargs_strs(&a,
	    RF_NRCPT, nrcpt,
	    RF_SIZE, size,
	    RF_ARRIVED, arrived,
	    RF_EXPIRES, expires,
	    RF_WARN_AT, warn_at,
	    RF_RET, m->ret ? m->ret : "",
	    RF_ENVID, m->envid ? m->envid : "",
	    RF_CLIENT, h->client ? h->client : "",
	    NULL);
	rargs_str(&a, RF_HEADERS);
	rargs_buf(&a, &m->headers);
	rargs_strs(&a, RF_HDR_TRUNC, m->headers_truncated ? "1" : "0", NULL);
	rc = rpool_script(c->redis, &store_hold_script, HOLD_KEYS, a.n, a.v,
	    a.l, &r);
	if (rc < 0)
		buf_printf(err, "%s", r.str ? r.str : "redis error");
	rr_reply_free(&r);
	rargs_free(&a);
	for (i = 0; i < HOLD_KEYS; i++)
		buf_free(&k[i]);
	buf_free(&member);
	buf_free(&heldp);
	buf_free(&statsp);
	buf_free(&rcpts);
	return rc;
}

/* store_fetch_domains - the dial-up domains and their hold settings */
int
store_fetch_domains(const struct cfg *c, struct domlist *dl, struct buf *err)
{
	return domstore_fetch(c->redis, dl, err);
}
