/*
 * NAME
 *	store - etrn-milter's Redis reads and writes
 * DESCRIPTION
 *	store_hold() writes a hold record and every index in one Lua script,
 *	so Redis never shows a half-recorded message: the record hash, the
 *	domain's held set, its counters (held, bytes, oldest, received), the
 *	host's expiry and warning indexes and the host's domain set.  When a
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

#include "mail/domstore.h"
#include "mail/rkeys.h"
#include "milter/milter.h"
#include "util/log.h"

/*
 * KEYS: msg held stats expiry warn hostdomains helddomains
 * ARGV: member qid arrived expires warn_at size domain held_prefix
 *       stats_prefix, then field/value pairs of the record
 */
static struct rscript store_hold_script = {
	UNHOLD_LUA
	"local old = redis.call('HMGET', KEYS[1], 'domain', 'size')\n"
	"if old[1] then\n"
	"  unhold(ARGV[8] .. old[1], ARGV[9] .. old[1], ARGV[1], old[2])\n"
	"  redis.call('ZREM', KEYS[4], ARGV[2])\n"
	"  redis.call('ZREM', KEYS[5], ARGV[2])\n"
	"  redis.call('DEL', KEYS[1])\n"
	"end\n"
	"redis.call('HSET', KEYS[1], unpack(ARGV, 10))\n"
	"redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])\n"
	"redis.call('HINCRBY', KEYS[3], 'held', 1)\n"
	"redis.call('HINCRBY', KEYS[3], 'bytes', ARGV[6])\n"
	"redis.call('HINCRBY', KEYS[3], 'received', 1)\n"
	"local first = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')\n"
	"redis.call('HSET', KEYS[3], 'oldest', first[2])\n"
	"redis.call('ZADD', KEYS[4], ARGV[4], ARGV[2])\n"
	"if ARGV[5] ~= '0' then\n"
	"  redis.call('ZADD', KEYS[5], ARGV[5], ARGV[2])\n"
	"end\n"
	"redis.call('SADD', KEYS[6], ARGV[7])\n"
	"redis.call('SADD', KEYS[7], ARGV[7])\n"
	"return 1\n",
	""
};

#define HOLD_KEYS	7
#define HOLD_FIXED	9
#define HOLD_FIELDS	17
#define HOLD_ARGS	(HOLD_KEYS + HOLD_FIXED + 2 * HOLD_FIELDS)

/* store_hold - record a held message (see above) */
int
store_hold(const struct cfg *c, const struct msg *m, const struct rgroup *g,
    const struct hold_info *h, struct buf *err)
{
	struct buf k[HOLD_KEYS], member = BUF_INIT, heldp = BUF_INIT,
	    statsp = BUF_INIT, rcpts = BUF_INIT;
	char	arrived[24], expires[24], warn_at[24], size[24], nrcpt[24];
	const char *av[HOLD_ARGS];
	size_t	al[HOLD_ARGS];
	struct rr_reply r;
	int	n = 0, i, rc;
	const char *host = c->s.hostname;

	for (i = 0; i < HOLD_KEYS; i++)
		buf_init(&k[i]);
	rkey_msg(&k[0], host, h->qid);
	rkey_held(&k[1], h->domain);
	rkey_stats(&k[2], h->domain);
	rkey_expiry(&k[3], host);
	rkey_warn(&k[4], host);
	rkey_hostdomains(&k[5], host);
	rkey_helddomains(&k[6]);
	rkey_member(&member, host, h->qid);
	rkey_held(&heldp, "");		/* the prefixes "etrn:held:" and */
	rkey_stats(&statsp, "");	/* "etrn:stats:" for the old record */
	record_rcpts(&rcpts, m, g);
	snprintf(arrived, sizeof(arrived), "%lld", h->arrived);
	snprintf(expires, sizeof(expires), "%lld", h->expires);
	snprintf(warn_at, sizeof(warn_at), "%lld", h->warn_at);
	snprintf(size, sizeof(size), "%llu", m->size);
	snprintf(nrcpt, sizeof(nrcpt), "%zu", g->n);

#define ARG(s, l) do { av[n] = (s); al[n] = (l); n++; } while (0)
#define STR(s) ARG((s), strlen(s))
#define FIELD(name, s) do { STR(name); STR(s); } while (0)
	for (i = 0; i < HOLD_KEYS; i++)
		ARG(k[i].s, k[i].len);
	STR(member.s);
	STR(h->qid);
	STR(arrived);
	STR(expires);
	STR(warn_at);
	STR(size);
	STR(h->domain);
	STR(heldp.s);
	STR(statsp.s);
	FIELD(RF_DOMAIN, h->domain);
	FIELD(RF_HOST, host);
	FIELD(RF_QUEUEID, h->qid);
	FIELD(RF_TOKEN, h->token);
	FIELD(RF_STATE, RSTATE_HELD);
	FIELD(RF_SENDER, m->sender);
	STR(RF_RCPTS);
	ARG(rcpts.s, rcpts.len);
	FIELD(RF_NRCPT, nrcpt);
	FIELD(RF_SIZE, size);
	FIELD(RF_ARRIVED, arrived);
	FIELD(RF_EXPIRES, expires);
	FIELD(RF_WARN_AT, warn_at);
	FIELD(RF_RET, m->ret ? m->ret : "");
	FIELD(RF_ENVID, m->envid ? m->envid : "");
	FIELD(RF_CLIENT, h->client ? h->client : "");
	STR(RF_HEADERS);
	ARG(m->headers.len ? m->headers.s : "", m->headers.len);
	FIELD(RF_HDR_TRUNC, m->headers_truncated ? "1" : "0");
#undef FIELD
#undef STR
#undef ARG
	rc = rpool_script(c->redis, &store_hold_script, HOLD_KEYS, n, av, al,
	    &r);
	if (rc < 0)
		buf_printf(err, "%s", r.str ? r.str : "redis error");
	rr_reply_free(&r);
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
