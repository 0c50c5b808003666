/*
 * NAME
 *	holdrec - the hold record and its indexes: every transition, and
 *	the decoder of a record read back
 * SUMMARY
 *	st = holdrec_decode(&hgetall_reply, &rec, &why);
 *	rc = holdrec_store(pool, host, &new, &rep);	(and the others)
 * DESCRIPTION
 *	This module owns etrn:msg:<host>:<queueid> and the indexes and
 *	counters that follow it: etrn:held:<domain>, etrn:stats:<domain>
 *	(held, bytes, oldest, received, flushed, expired), this host's
 *	expiry, warn, released and pending indexes, and the sets
 *	etrn:hostdomains:<host> and etrn:helddomains.  Every change of a
 *	record's state is one function here and one Lua script, built only
 *	from the names of rkeys.h; no program writes a record otherwise
 *	(docs/design.md, Records and indexes, has the state machine):
 *
 *	pending -> held            holdrec_promote (batch)
 *	(none) -> pending          holdrec_store (milter intake)
 *	(none) -> held             holdrec_rebuild (reconcile, from a tag)
 *	held -> released           holdrec_mark_released (batch)
 *	released -> held           holdrec_unmark, holdrec_rehold (batch)
 *	held -> expiring           holdrec_expire_begin (compare and set),
 *	                           holdrec_expire_begin_many (batch)
 *	expiring -> released       holdrec_to_tracking
 *	any -> (none)              holdrec_gone (batch), holdrec_finish,
 *	                           holdrec_finish_many (batch),
 *	                           holdrec_drop, holdrec_drop_pending
 *	holdrec_expire_now moves a deadline, holdrec_dsn_state records
 *	where a DSN or delay warning is (sending, queued with its queue
 *	ID, sent, none; holdrec_dsn_many for a batch of expiring records)
 *	and holdrec_warn_done takes a message out of the
 *	warning index; holdrec_flushed_at sets a domain's last_flush,
 *	holdrec_released_drop removes a damaged member of the released
 *	index; holdrec_list, holdrec_missing and holdrec_load (a batch of
 *	records in one call, walked with holdrec_load_next) only read.
 *
 *	Each script is safe to run again after a crash between two of
 *	them: a transition acts only on a record in its from-state, and a
 *	record's share of the counters goes with its membership of the
 *	domain's held set (added and removed with ZADD/ZREM results), so
 *	no counter moves twice.
 *
 *	A hold record (docs/redis-keys.md, field names in rkeys.h) comes
 *	back from Redis as an HGETALL reply: field, value, field, value.
 *	holdrec_decode() is the one place that turns such a reply into a
 *	struct holdrec, and it trusts nothing: Redis is shared, and a
 *	record can be damaged by hand, by another program or by a bug.
 *	It checks that the reply is pairs of strings without NUL octets,
 *	that the state is one of pending, held, released, expiring, that
 *	the domain is a hostname, the token 32 lowercase hex digits, the
 *	times and the size decimal numbers (no sign, no spaces, no
 *	overflow), a DSN state one of sending, queued, sent, none, and a
 *	DSN queue ID a queue ID.  Fields it does not know are ignored; of
 *	a field given twice the first counts, as with a hash.
 * DIAGNOSTICS
 *	holdrec_decode(): HOLDREC_OK, HOLDREC_NONE for an empty reply (no
 *	such key), or HOLDREC_BAD with *why (when why is not NULL) set to a
 *	static text that names the first field found wrong.  The
 *	transitions return rpool_script()'s result: 0 and the reply, or -1
 *	and the failure in the reply; they log nothing.
 */
#include "config.h"

#include <ctype.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mail/domain.h"
#include "mail/holdrec.h"
#include "mail/holdtag.h"
#include "mail/qid.h"
#include "mail/rkeys.h"
#include "util/rargs.h"
#include "util/xalloc.h"

#define HOLDREC_MAX_NUM	((1LL << 53) - 1)	/* past any time or size */

/* What a field must look like. */
enum hr_kind { HK_ANY, HK_STATE, HK_DOMAIN, HK_TOKEN, HK_DSN, HK_QID,
	HK_NUM, HK_TIME };

static const struct hr_field {
	const char *name;
	size_t	off;		/* of the const char * in struct holdrec */
	enum hr_kind kind;
	int	need;		/* a record without it is not valid */
} hr_fields[] = {
	{ RF_STATE, offsetof(struct holdrec, state), HK_STATE, 1 },
	{ RF_DOMAIN, offsetof(struct holdrec, domain), HK_DOMAIN, 1 },
	{ RF_TOKEN, offsetof(struct holdrec, token), HK_TOKEN, 1 },
	{ RF_SENDER, offsetof(struct holdrec, sender), HK_ANY, 0 },
	{ RF_RCPTS, offsetof(struct holdrec, rcpts), HK_ANY, 0 },
	{ RF_RET, offsetof(struct holdrec, ret), HK_ANY, 0 },
	{ RF_ENVID, offsetof(struct holdrec, envid), HK_ANY, 0 },
	{ RF_HEADERS, offsetof(struct holdrec, headers), HK_ANY, 0 },
	{ RF_DSN_STATE, offsetof(struct holdrec, dsn_state), HK_DSN, 0 },
	{ RF_WARNED, offsetof(struct holdrec, warned), HK_DSN, 0 },
	{ RF_DSN_SINCE, offsetof(struct holdrec, dsn_since), HK_TIME, 0 },
	{ RF_DSN_QID, offsetof(struct holdrec, dsn_qid), HK_QID, 0 },
	{ RF_WARN_SINCE, offsetof(struct holdrec, warn_since), HK_TIME, 0 },
	{ RF_WARN_QID, offsetof(struct holdrec, warn_qid), HK_QID, 0 },
};

static const struct hr_number {
	const char *name;
	size_t	off;		/* of the long long in struct holdrec */
	int	need;
} hr_numbers[] = {
	{ RF_ARRIVED, offsetof(struct holdrec, arrived), 1 },
	{ RF_EXPIRES, offsetof(struct holdrec, expires), 1 },
	{ RF_SIZE, offsetof(struct holdrec, size), 0 },
};

/* holdrec_num - a decimal number up to HOLDREC_MAX_NUM, else -1 */
static long long
holdrec_num(const char *s)
{
	long long n = 0;

	if (*s == '\0')
		return -1;
	for (; *s; s++) {
		if (!isdigit((unsigned char)*s) || n > HOLDREC_MAX_NUM / 10)
			return -1;
		n = n * 10 + (*s - '0');
	}
	return n <= HOLDREC_MAX_NUM ? n : -1;
}

/* holdrec_token - HOLD_TOKEN_LEN lowercase hex digits */
static int
holdrec_token(const char *s)
{
	size_t	n;

	for (n = 0; s[n]; n++)
		if (!isdigit((unsigned char)s[n]) && (s[n] < 'a' || s[n] > 'f'))
			return 0;
	return n == HOLD_TOKEN_LEN;
}

/* holdrec_valid - does a present value have its field's form */
static int
holdrec_valid(enum hr_kind kind, const char *v)
{
	switch (kind) {
	case HK_STATE:
		return strcmp(v, RSTATE_PENDING) == 0 ||
		    strcmp(v, RSTATE_HELD) == 0 ||
		    strcmp(v, RSTATE_RELEASED) == 0 ||
		    strcmp(v, RSTATE_EXPIRING) == 0;
	case HK_DOMAIN:
		return dom_valid_hostname(v);
	case HK_TOKEN:
		return holdrec_token(v);
	case HK_DSN:
		return *v == '\0' || strcmp(v, RDSN_SENDING) == 0 ||
		    strcmp(v, RDSN_QUEUED) == 0 || strcmp(v, RDSN_SENT) == 0 ||
		    strcmp(v, RDSN_NONE) == 0;
	case HK_QID:
		return *v == '\0' || qid_valid(v);
	case HK_TIME:
		return *v == '\0' || holdrec_num(v) >= 0;
	default:
		return 1;
	}
}

/* holdrec_find - the value of the first field called name, or NULL */
static const char *
holdrec_find(const struct rr_reply *rep, const char *name)
{
	size_t	i;

	for (i = 0; i + 1 < rep->nelem; i += 2)
		if (strcmp(rep->elems[i], name) == 0)
			return rep->elems[i + 1];
	return NULL;
}

/* holdrec_decode - an HGETALL reply into hr: HOLDREC_OK, _NONE, _BAD */
int
holdrec_decode(const struct rr_reply *rep, struct holdrec *hr,
    const char **why)
{
	const char *dummy, *v;
	size_t	i;

	if (why == NULL)
		why = &dummy;
	*why = NULL;
	for (i = 0; i < sizeof(hr_fields) / sizeof(hr_fields[0]); i++)
		*(const char **)((char *)hr + hr_fields[i].off) = "";
	hr->arrived = hr->expires = hr->size = 0;
	if (rep->status != RR_OK || rep->type != RRT_ARRAY) {
		*why = "not a hash";
		return HOLDREC_BAD;
	}
	if (rep->nelem == 0)
		return HOLDREC_NONE;
	if (rep->nelem % 2 != 0) {
		*why = "a field without a value";
		return HOLDREC_BAD;
	}
	for (i = 0; i < rep->nelem; i++) {
		if (rep->elems[i] == NULL || strlen(rep->elems[i]) !=
		    rep->elen[i]) {
			*why = "a field that is not a string";
			return HOLDREC_BAD;
		}
	}
	for (i = 0; i < sizeof(hr_fields) / sizeof(hr_fields[0]); i++) {
		const struct hr_field *f = &hr_fields[i];

		if ((v = holdrec_find(rep, f->name)) == NULL) {
			if (f->need) {
				*why = f->name;
				return HOLDREC_BAD;
			}
			continue;
		}
		if (!holdrec_valid(f->kind, v)) {
			*why = f->name;
			return HOLDREC_BAD;
		}
		*(const char **)((char *)hr + f->off) = v;
	}
	for (i = 0; i < sizeof(hr_numbers) / sizeof(hr_numbers[0]); i++) {
		const struct hr_number *f = &hr_numbers[i];
		long long n = 0;

		if ((v = holdrec_find(rep, f->name)) == NULL) {
			if (f->need) {
				*why = f->name;
				return HOLDREC_BAD;
			}
		} else if ((n = holdrec_num(v)) < 0) {
			*why = f->name;
			return HOLDREC_BAD;
		}
		*(long long *)((char *)hr + f->off) = n;
	}
	return HOLDREC_OK;
}

/*
 * HR_UNHOLD - unhold(held, stats, member, size, counter) removes member
 * from the held set and, only if it was there, its share of held and
 * bytes (a size that is not a whole number below 2^53, as in a damaged
 * record, counts 0: a HINCRBY by "-0" or "1.5" would fail the whole
 * script); counter (nil: none) goes up by one; oldest is recomputed.
 */
#define HR_UNHOLD \
	"local function unhold(held, stats, member, size, counter)\n" \
	"  if redis.call('ZREM', held, member) == 1 then\n" \
	"    redis.call('HINCRBY', stats, '" SF_HELD "', -1)\n" \
	"    local n = math.floor(tonumber(size) or 0)\n" \
	"    if n > 0 and n < 2^53 then\n" \
	"      redis.call('HINCRBY', stats, '" SF_BYTES "', -n)\n" \
	"    end\n" \
	"  end\n" \
	"  if counter then redis.call('HINCRBY', stats, counter, 1) end\n" \
	"  local f = redis.call('ZRANGE', held, 0, 0, 'WITHSCORES')\n" \
	"  if f[2] then redis.call('HSET', stats, '" SF_OLDEST "', f[2])\n" \
	"  else redis.call('HDEL', stats, '" SF_OLDEST "') end\n" \
	"end\n"

/*
 * HR_PROMOTE - promote(msg, qid, member, held_prefix, stats_prefix,
 * expiry, warn, pending) turns state pending into held and only then
 * adds the record to etrn:held:<domain>, the counters (held, bytes,
 * received, oldest) and the expiry and warning indexes; qid leaves the
 * pending index in any case.  Returns the domain, or "" when the record
 * was not pending.
 */
#define HR_PROMOTE \
	"local function promote(k, q, m, hp, sp, expiry, warn, pending)\n" \
	"  local f = redis.call('HMGET', k, '" RF_STATE "', '" RF_DOMAIN \
	"',\n    '" RF_SIZE "', '" RF_ARRIVED "', '" RF_EXPIRES "', '" \
	RF_WARN_AT "')\n" \
	"  redis.call('ZREM', pending, q)\n" \
	"  if f[1] ~= '" RSTATE_PENDING "' or not f[2] then return '' end\n" \
	"  local held, stats = hp .. f[2], sp .. f[2]\n" \
	"  redis.call('HSET', k, '" RF_STATE "', '" RSTATE_HELD "')\n" \
	"  if redis.call('ZADD', held, tonumber(f[4]) or 0, m) == 1 then\n" \
	"    redis.call('HINCRBY', stats, '" SF_HELD "', 1)\n" \
	"    local n = math.floor(tonumber(f[3]) or 0)\n" \
	"    if n > 0 and n < 2^53 then\n" \
	"      redis.call('HINCRBY', stats, '" SF_BYTES "', n)\n" \
	"    end\n" \
	"  end\n" \
	"  redis.call('HINCRBY', stats, '" SF_RECEIVED "', 1)\n" \
	"  local first = redis.call('ZRANGE', held, 0, 0, 'WITHSCORES')\n" \
	"  redis.call('HSET', stats, '" SF_OLDEST "', first[2])\n" \
	"  redis.call('ZADD', expiry, tonumber(f[5]) or 0, q)\n" \
	"  if f[6] and f[6] ~= '0' and f[6] ~= '' then\n" \
	"    redis.call('ZADD', warn, tonumber(f[6]) or 0, q)\n" \
	"  end\n" \
	"  return f[2]\n" \
	"end\n"

/*
 * KEYS: msg pending expiry warn hostdomains helddomains
 * ARGV: member qid arrived_ms domain held_prefix stats_prefix, then
 *       field/value pairs of the record
 */
static struct rscript hr_store_script = {
	HR_UNHOLD
	"local old = redis.call('HMGET', KEYS[1], '" RF_DOMAIN "', '"
	RF_SIZE "')\n"
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

/*
 * KEYS: msg held stats expiry warn released hostdomains helddomains
 * ARGV: member qid arrived expires size domain held_prefix stats_prefix
 *       token keep ("1": any record is left alone), then field/value
 *       pairs of the record.
 * Returns 0 when the record has the token (left alone), 1 when written.
 */
static struct rscript hr_rebuild_script = {
	HR_UNHOLD
	"if ARGV[10] == '1' and redis.call('EXISTS', KEYS[1]) == 1 then\n"
	"  return 0\n"
	"end\n"
	"local old = redis.call('HMGET', KEYS[1], '" RF_DOMAIN "', '"
	RF_SIZE "', '" RF_TOKEN "')\n"
	"if old[3] == ARGV[9] then return 0 end\n"
	"if old[1] then\n"
	"  unhold(ARGV[7] .. old[1], ARGV[8] .. old[1], ARGV[1], old[2])\n"
	"end\n"
	"redis.call('DEL', KEYS[1])\n"
	"redis.call('ZREM', KEYS[5], ARGV[2])\n"
	"redis.call('ZREM', KEYS[6], ARGV[2])\n"
	"redis.call('HSET', KEYS[1], unpack(ARGV, 11))\n"
	"if redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1]) == 1 then\n"
	"  redis.call('HINCRBY', KEYS[3], '" SF_HELD "', 1)\n"
	"  redis.call('HINCRBY', KEYS[3], '" SF_BYTES "', ARGV[5])\n"
	"end\n"
	"local first = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')\n"
	"redis.call('HSET', KEYS[3], '" SF_OLDEST "', first[2])\n"
	"redis.call('ZADD', KEYS[4], ARGV[4], ARGV[2])\n"
	"redis.call('SADD', KEYS[7], ARGV[6])\n"
	"redis.call('SADD', KEYS[8], ARGV[6])\n"
	"return 1\n",
	""
};

/*
 * KEYS: pending expiry warn; ARGV: msg_prefix held_prefix stats_prefix
 * member_prefix, then qids found on hold.  Returns qid, domain of each
 * record promoted.
 */
static struct rscript hr_promote_script = {
	HR_PROMOTE
	"local out = {}\n"
	"for i = 5, #ARGV do\n"
	"  local q = ARGV[i]\n"
	"  local d = promote(ARGV[1] .. q, q, ARGV[4] .. q, ARGV[2], ARGV[3],\n"
	"    KEYS[2], KEYS[3], KEYS[1])\n"
	"  if d ~= '' then\n"
	"    out[#out + 1] = q\n"
	"    out[#out + 1] = d\n"
	"  end\n"
	"end\n"
	"return out\n",
	""
};

/*
 * KEYS: pending; ARGV: msg_prefix cutoff_ms, then qids not on hold.
 * Entries recorded at or before cutoff leave the index, and their record
 * too while it is pending.  Returns qid, domain of each record dropped.
 */
static struct rscript hr_drop_pending_script = {
	"local out = {}\n"
	"for i = 3, #ARGV do\n"
	"  local q = ARGV[i]\n"
	"  local s = redis.call('ZSCORE', KEYS[1], q)\n"
	"  if s and tonumber(s) <= tonumber(ARGV[2]) then\n"
	"    local k = ARGV[1] .. q\n"
	"    local f = redis.call('HMGET', k, '" RF_STATE "', '" RF_DOMAIN
	"')\n"
	"    if f[1] == '" RSTATE_PENDING "' then\n"
	"      redis.call('DEL', k)\n"
	"      out[#out + 1] = q\n"
	"      out[#out + 1] = f[2] or ''\n"
	"    end\n"
	"    redis.call('ZREM', KEYS[1], q)\n"
	"  end\n"
	"end\n"
	"return out\n",
	""
};

/* KEYS: held; ARGV: member prefix, msg prefix.  Returns qid, state...
 * A record that is not a hash gives state "-". */
static struct rscript hr_list_script = {
	"local out, n = {}, #ARGV[1]\n"
	"for _, m in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do\n"
	"  if string.sub(m, 1, n) == ARGV[1] then\n"
	"    local q = string.sub(m, n + 1)\n"
	"    local s = redis.pcall('HGET', ARGV[2] .. q, '" RF_STATE "')\n"
	"    out[#out + 1] = q\n"
	"    out[#out + 1] = type(s) == 'table' and '-' or s or ''\n"
	"  end\n"
	"end\n"
	"return out\n",
	""
};

/* KEYS: none; ARGV: msg prefix, qids.  Returns the qids without record. */
static struct rscript hr_missing_script = {
	"local out = {}\n"
	"for i = 2, #ARGV do\n"
	"  if redis.call('EXISTS', ARGV[1] .. ARGV[i]) == 0 then\n"
	"    out[#out + 1] = ARGV[i]\n"
	"  end\n"
	"end\n"
	"return out\n",
	""
};

/* KEYS: released; ARGV: msg prefix, now, qids.  Returns marked qids. */
static struct rscript hr_mark_script = {
	"local out = {}\n"
	"for i = 3, #ARGV do\n"
	"  local k = ARGV[1] .. ARGV[i]\n"
	"  if redis.call('HGET', k, '" RF_STATE "') == '" RSTATE_HELD "' then\n"
	"    redis.call('HSET', k, '" RF_STATE "', '" RSTATE_RELEASED "', '"
	RF_RELEASED_AT "',\n"
	"      ARGV[2])\n"
	"    redis.call('ZADD', KEYS[1], ARGV[2], ARGV[i])\n"
	"    out[#out + 1] = ARGV[i]\n"
	"  end\n"
	"end\n"
	"return out\n",
	""
};

/* KEYS: released; ARGV: msg prefix, qids.  Records still in state
 * released go back to held (a release that did not happen). */
static struct rscript hr_unmark_script = {
	"for i = 2, #ARGV do\n"
	"  local k = ARGV[1] .. ARGV[i]\n"
	"  if redis.call('HGET', k, '" RF_STATE "') == '" RSTATE_RELEASED
	"' then\n"
	"    redis.call('HSET', k, '" RF_STATE "', '" RSTATE_HELD "')\n"
	"    redis.call('HDEL', k, '" RF_RELEASED_AT "')\n"
	"  end\n"
	"  redis.call('ZREM', KEYS[1], ARGV[i])\n"
	"end\n"
	"return {}\n",
	""
};

/*
 * KEYS: expiry warn released; ARGV: msg held_prefix stats_prefix
 * member_prefix track domain, then qids.  track "1": records in state
 * released, counted as flushed; "0": records in state held, not
 * counted.  A qid without record: its index entries go (the held one
 * only when domain is given).  Returns qid, code (1 removed, 2 no
 * record, 0 left alone), domain for each.
 */
static struct rscript hr_gone_script = {
	HR_UNHOLD
	"local out, track = {}, ARGV[5] == '1'\n"
	"local want = track and '" RSTATE_RELEASED "' or '" RSTATE_HELD "'\n"
	"for i = 7, #ARGV do\n"
	"  local q = ARGV[i]\n"
	"  local k = ARGV[1] .. q\n"
	"  local r = redis.call('HMGET', k, '" RF_STATE "', '" RF_DOMAIN
	"', '" RF_SIZE "')\n"
	"  local code, d = 0, r[2] or ARGV[6]\n"
	"  if r[1] == want and r[2] then\n"
	"    redis.call('DEL', k)\n"
	"    unhold(ARGV[2] .. r[2], ARGV[3] .. r[2], ARGV[4] .. q, r[3],\n"
	"      track and '" SF_FLUSHED "' or nil)\n"
	"    code = 1\n"
	"  elseif redis.call('EXISTS', k) == 0 then\n"
	"    if ARGV[6] ~= '' then\n"
	"      redis.call('ZREM', ARGV[2] .. ARGV[6], ARGV[4] .. q)\n"
	"    end\n"
	"    code = 2\n"
	"  end\n"
	"  if code ~= 0 then\n"
	"    redis.call('ZREM', KEYS[1], q)\n"
	"    redis.call('ZREM', KEYS[2], q)\n"
	"  end\n"
	"  if code ~= 0 or track then redis.call('ZREM', KEYS[3], q) end\n"
	"  out[#out + 1] = q\n"
	"  out[#out + 1] = code\n"
	"  out[#out + 1] = d\n"
	"end\n"
	"return out\n",
	""
};

/*
 * KEYS: released; ARGV: msg prefix, then per message qid, n, n addresses
 * still queued.  Records in state released go back to held (reholds + 1,
 * same deadline); when fewer addresses are queued than the record has,
 * and each of them matches a record line (case-insensitively), only the
 * matching lines are kept.  Returns qid, domain, code (0 left alone, 1
 * held, 2 held with recipients rewritten), reholds, nrcpt per message.
 */
static struct rscript hr_rehold_script = {
	"local out, i = {}, 2\n"
	"while i <= #ARGV do\n"
	"  local q, n = ARGV[i], tonumber(ARGV[i + 1])\n"
	"  local listed, hit = {}, {}\n"
	"  for j = 1, n do listed[string.lower(ARGV[i + 1 + j])] = true end\n"
	"  i = i + 2 + n\n"
	"  local k = ARGV[1] .. q\n"
	"  local r = redis.call('HMGET', k, '" RF_STATE "', '" RF_DOMAIN
	"', '" RF_RCPTS "',\n"
	"    '" RF_NRCPT "')\n"
	"  local code, reholds, nr = 0, 0, tonumber(r[4]) or 0\n"
	"  if r[1] == '" RSTATE_RELEASED "' then\n"
	"    redis.call('HSET', k, '" RF_STATE "', '" RSTATE_HELD "')\n"
	"    redis.call('HDEL', k, '" RF_RELEASED_AT "')\n"
	"    reholds = redis.call('HINCRBY', k, '" RF_REHOLDS "', 1)\n"
	"    code = 1\n"
	"    if n < nr and r[3] then\n"
	"      local text, kept, all = r[3], {}, true\n"
	"      if string.sub(text, -1) ~= '\\n' then text = text .. '\\n' end\n"
	"      for line in string.gmatch(text, '([^\\n]*)\\n') do\n"
	"        local a = string.lower(string.match(line, '^[^\\t]*'))\n"
	"        if listed[a] then kept[#kept + 1] = line; hit[a] = true end\n"
	"      end\n"
	"      for a in pairs(listed) do\n"
	"        if not hit[a] then all = false end\n"
	"      end\n"
	"      if all and #kept > 0 and #kept < nr then\n"
	"        redis.call('HSET', k, '" RF_RCPTS "',\n"
	"          table.concat(kept, '\\n') .. '\\n', '" RF_NRCPT "', #kept)\n"
	"        nr, code = #kept, 2\n"
	"      end\n"
	"    end\n"
	"  end\n"
	"  redis.call('ZREM', KEYS[1], q)\n"
	"  out[#out + 1] = q\n"
	"  out[#out + 1] = r[2] or ''\n"
	"  out[#out + 1] = code\n"
	"  out[#out + 1] = reholds\n"
	"  out[#out + 1] = nr\n"
	"end\n"
	"return out\n",
	""
};

/*
 * KEYS: msg expiry; ARGV: now qid.  Returns {code, state}: 1 scheduled,
 * 0 no record, 2 in another state (left alone).
 */
static struct rscript hr_expire_now_script = {
	"local r = redis.call('HMGET', KEYS[1], '" RF_STATE "', '"
	RF_EXPIRES "')\n"
	"if not r[1] then return {0, ''} end\n"
	"if r[1] ~= '" RSTATE_HELD "' and r[1] ~= '" RSTATE_RELEASED "' then\n"
	"  return {2, r[1]}\n"
	"end\n"
	"local e, old = ARGV[1], tonumber(r[2])\n"
	"if old and old > 0 and old < tonumber(e) then e = r[2] end\n"
	"redis.call('HSET', KEYS[1], '" RF_EXPIRES "', e)\n"
	"redis.call('ZADD', KEYS[2], e, ARGV[2])\n"
	"return {1, r[1]}\n",
	""
};

/* KEYS: msg; ARGV: now.  held -> expiring; returns {1}, else {0}. */
static struct rscript hr_expire_begin_script = {
	"if redis.call('HGET', KEYS[1], '" RF_STATE "') ~= '" RSTATE_HELD
	"' then\n"
	"  return {0}\n"
	"end\n"
	"redis.call('HSET', KEYS[1], '" RF_STATE "', '" RSTATE_EXPIRING "', '"
	RF_EXPIRE_AT "',\n"
	"  ARGV[1])\n"
	"return {1}\n",
	""
};

/*
 * KEYS: msg released; ARGV: now qid.  expiring -> released and listed
 * for tracking; returns {1}, else {0}.
 */
static struct rscript hr_to_tracking_script = {
	"if redis.call('HGET', KEYS[1], '" RF_STATE "') ~= '" RSTATE_EXPIRING
	"' then\n"
	"  return {0}\n"
	"end\n"
	"redis.call('HSET', KEYS[1], '" RF_STATE "', '" RSTATE_RELEASED "', '"
	RF_RELEASED_AT "',\n"
	"  ARGV[1])\n"
	"redis.call('ZADD', KEYS[2], ARGV[1], ARGV[2])\n"
	"return {1}\n",
	""
};

/*
 * KEYS: msg expiry warn released; ARGV: held_prefix stats_prefix member
 * qid expired(1/0).  Deletes the record and its index entries (only the
 * entries when the key is not a hash).  Returns 1, or 0 without record.
 */
static struct rscript hr_finish_script = {
	HR_UNHOLD
	"local r = redis.pcall('HMGET', KEYS[1], '" RF_DOMAIN "', '" RF_SIZE
	"')\n"
	"if r.err then r = {} end\n"
	"redis.call('ZREM', KEYS[2], ARGV[4])\n"
	"redis.call('ZREM', KEYS[3], ARGV[4])\n"
	"redis.call('ZREM', KEYS[4], ARGV[4])\n"
	"if not r[1] then return 0 end\n"
	"redis.call('DEL', KEYS[1])\n"
	"unhold(ARGV[1] .. r[1], ARGV[2] .. r[1], ARGV[3], r[2],\n"
	"  ARGV[5] == '1' and '" SF_EXPIRED "' or nil)\n"
	"return 1\n",
	""
};

/*
 * KEYS: msg expiry warn released; ARGV: held_prefix stats_prefix member
 * qid token ("" : no record) state ("" : any).  Returns {code, domain}:
 * 0 the record changed since it was read, or is in another state (left
 * alone), 1 dropped, 2 index entries only (no record, or a key that is
 * not a hash: deleted).
 */
static struct rscript hr_drop_script = {
	HR_UNHOLD
	"local r = redis.pcall('HMGET', KEYS[1], '" RF_DOMAIN "', '" RF_SIZE
	"', '" RF_TOKEN "', '" RF_STATE "')\n"
	"if r.err then r = {} end\n"
	"if (r[3] or '') ~= ARGV[5] then return {0, ''} end\n"
	"if ARGV[6] ~= '' and r[4] and r[4] ~= ARGV[6] then\n"
	"  return {0, ''}\n"
	"end\n"
	"redis.call('ZREM', KEYS[2], ARGV[4])\n"
	"redis.call('ZREM', KEYS[3], ARGV[4])\n"
	"redis.call('ZREM', KEYS[4], ARGV[4])\n"
	"redis.call('DEL', KEYS[1])\n"
	"if not r[1] then return {2, ''} end\n"
	"unhold(ARGV[1] .. r[1], ARGV[2] .. r[1], ARGV[3], r[2])\n"
	"return {1, r[1]}\n",
	""
};

/* KEYS: none; ARGV: msg prefix, qids.  Returns per qid n, then the n
 * strings of its HGETALL (n -1: the key is not a hash). */
static struct rscript hr_load_script = {
	"local out = {}\n"
	"for i = 2, #ARGV do\n"
	"  local r = redis.pcall('HGETALL', ARGV[1] .. ARGV[i])\n"
	"  if r.err then\n"
	"    out[#out + 1] = -1\n"
	"  else\n"
	"    out[#out + 1] = #r\n"
	"    for j = 1, #r do out[#out + 1] = r[j] end\n"
	"  end\n"
	"end\n"
	"return out\n",
	""
};

/* KEYS: none; ARGV: msg prefix, now, qids.  held -> expiring for each;
 * returns the qids moved. */
static struct rscript hr_begin_many_script = {
	"local out = {}\n"
	"for i = 3, #ARGV do\n"
	"  local k = ARGV[1] .. ARGV[i]\n"
	"  if redis.call('HGET', k, '" RF_STATE "') == '" RSTATE_HELD "' then\n"
	"    redis.call('HSET', k, '" RF_STATE "', '" RSTATE_EXPIRING "', '"
	RF_EXPIRE_AT "',\n"
	"      ARGV[2])\n"
	"    out[#out + 1] = ARGV[i]\n"
	"  end\n"
	"end\n"
	"return out\n",
	""
};

/*
 * KEYS: none; ARGV: msg prefix, dsn state, then per message qid, since,
 * dsn qid, Message-ID ("": field left as it is).  Only records in state
 * expiring are written (no record is made anew); returns their qids.
 */
static struct rscript hr_dsn_many_script = {
	"local out = {}\n"
	"for i = 3, #ARGV - 3, 4 do\n"
	"  local k = ARGV[1] .. ARGV[i]\n"
	"  if redis.call('HGET', k, '" RF_STATE "') == '" RSTATE_EXPIRING
	"' then\n"
	"    local f = {'" RF_DSN_STATE "', ARGV[2]}\n"
	"    if ARGV[i + 1] ~= '' then\n"
	"      f[#f + 1] = '" RF_DSN_SINCE "'; f[#f + 1] = ARGV[i + 1]\n"
	"    end\n"
	"    if ARGV[i + 2] ~= '' then\n"
	"      f[#f + 1] = '" RF_DSN_QID "'; f[#f + 1] = ARGV[i + 2]\n"
	"    end\n"
	"    if ARGV[i + 3] ~= '' then\n"
	"      f[#f + 1] = '" RF_DSN_ID "'; f[#f + 1] = ARGV[i + 3]\n"
	"    end\n"
	"    redis.call('HSET', k, unpack(f))\n"
	"    out[#out + 1] = ARGV[i]\n"
	"  end\n"
	"end\n"
	"return out\n",
	""
};

/*
 * KEYS: expiry warn released; ARGV: held_prefix stats_prefix
 * member_prefix msg_prefix expired(1/0), qids.  holdrec_finish for each;
 * returns qid, code (1 removed, 0 no record) per qid.
 */
static struct rscript hr_finish_many_script = {
	HR_UNHOLD
	"local out = {}\n"
	"for i = 6, #ARGV do\n"
	"  local q = ARGV[i]\n"
	"  local k = ARGV[4] .. q\n"
	"  local r = redis.pcall('HMGET', k, '" RF_DOMAIN "', '" RF_SIZE "')\n"
	"  if r.err then r = {} end\n"
	"  redis.call('ZREM', KEYS[1], q)\n"
	"  redis.call('ZREM', KEYS[2], q)\n"
	"  redis.call('ZREM', KEYS[3], q)\n"
	"  local code = 0\n"
	"  if r[1] then\n"
	"    redis.call('DEL', k)\n"
	"    unhold(ARGV[1] .. r[1], ARGV[2] .. r[1], ARGV[3] .. q, r[2],\n"
	"      ARGV[5] == '1' and '" SF_EXPIRED "' or nil)\n"
	"    code = 1\n"
	"  end\n"
	"  out[#out + 1] = q\n"
	"  out[#out + 1] = code\n"
	"end\n"
	"return out\n",
	""
};

/* The keys and key prefixes of one host. */
struct hr_keys {
	struct buf msgp, heldp, statsp, memberp;	/* prefixes */
	struct buf expiry, warn, released, pending, hostdomains, helddomains;
};

/* hr_keys_init - this host's keys and prefixes */
static void
hr_keys_init(struct hr_keys *k, const char *host)
{
	memset(k, 0, sizeof(*k));
	rkey_msg(&k->msgp, host, "");
	rkey_held(&k->heldp, "");
	rkey_stats(&k->statsp, "");
	rkey_member(&k->memberp, host, "");
	rkey_expiry(&k->expiry, host);
	rkey_warn(&k->warn, host);
	rkey_released(&k->released, host);
	rkey_pending(&k->pending, host);
	rkey_hostdomains(&k->hostdomains, host);
	rkey_helddomains(&k->helddomains);
}

/* hr_keys_free - what hr_keys_init made */
static void
hr_keys_free(struct hr_keys *k)
{
	buf_free(&k->msgp);
	buf_free(&k->heldp);
	buf_free(&k->statsp);
	buf_free(&k->memberp);
	buf_free(&k->expiry);
	buf_free(&k->warn);
	buf_free(&k->released);
	buf_free(&k->pending);
	buf_free(&k->hostdomains);
	buf_free(&k->helddomains);
}

/* hr_run - run a script with nkeys keys, free the arguments and keys */
static int
hr_run(struct rpool *rp, struct rscript *sc, int nkeys, struct rargs *a,
    struct hr_keys *k, struct rr_reply *rep)
{
	int	rc;

	/* Every transition: WAIT for a replica when configured. */
	rc = rpool_script_wait(rp, sc, nkeys, a->n, a->v, a->l, rep);
	rargs_free(a);
	hr_keys_free(k);
	return rc;
}

/* hr_ids - append n queue IDs */
static void
hr_ids(struct rargs *a, char *const *ids, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++)
		rargs_str(a, ids[i]);
}

/* hr_prefix_ids - run sc with ARGV the record key prefix and n queue IDs */
static int
hr_prefix_ids(struct rpool *rp, const char *host, struct rscript *sc,
    char *const *ids, size_t n, struct rr_reply *rep)
{
	struct hr_keys k;
	struct rargs a = RARGS_INIT;

	hr_keys_init(&k, host);
	rargs_buf(&a, &k.msgp);
	hr_ids(&a, ids, n);
	return hr_run(rp, sc, 0, &a, &k, rep);
}

/* hr_or - s, or "" for NULL */
static const char *
hr_or(const char *s)
{
	return s != NULL ? s : "";
}

/* hr_record - the field/value pairs of a new record in state st */
static void
hr_record(struct rargs *a, const char *host, const struct holdrec_new *n,
    const char *st, char num[5][24])
{
	snprintf(num[0], 24, "%zu", n->nrcpt);
	snprintf(num[1], 24, "%lld", n->size);
	snprintf(num[2], 24, "%lld", n->arrived);
	snprintf(num[3], 24, "%lld", n->expires);
	snprintf(num[4], 24, "%lld", n->warn_at);
	rargs_strs(a, RF_DOMAIN, n->domain, RF_HOST, host, RF_QUEUEID, n->qid,
	    RF_TOKEN, n->token, RF_STATE, st, RF_SENDER, NULL);
	rargs_str(a, hr_or(n->sender));
	rargs_str(a, RF_RCPTS);
	if (n->rcpts != NULL)
		rargs_buf(a, n->rcpts);
	else
		rargs_str(a, "");
	rargs_strs(a, RF_NRCPT, num[0], RF_SIZE, num[1], RF_ARRIVED, num[2],
	    RF_EXPIRES, num[3], RF_WARN_AT, num[4], RF_RET, NULL);
	rargs_str(a, hr_or(n->ret));
	rargs_str(a, RF_ENVID);
	rargs_str(a, hr_or(n->envid));
	rargs_str(a, RF_CLIENT);
	rargs_str(a, hr_or(n->client));
	rargs_str(a, RF_HEADERS);
	if (n->headers != NULL)
		rargs_buf(a, n->headers);
	else
		rargs_str(a, "");
	rargs_strs(a, RF_HDR_TRUNC, n->headers_truncated ? "1" : "0", NULL);
}

/*
 * holdrec_store - the milter's record, state pending, and its pending
 * entry (score arrived_ms) and domain sets; a record with the same queue
 * ID is taken out of the held set, counters and indexes first.  Reply 1.
 */
int
holdrec_store(struct rpool *rp, const char *host, const struct holdrec_new *n,
    struct rr_reply *rep)
{
	struct hr_keys k;
	struct buf msg = BUF_INIT, member = BUF_INIT;
	struct rargs a = RARGS_INIT;
	char	ms[24], num[5][24];
	int	rc;

	hr_keys_init(&k, host);
	rkey_msg(&msg, host, n->qid);
	rkey_member(&member, host, n->qid);
	snprintf(ms, sizeof(ms), "%lld", n->arrived_ms);
	rargs_buf(&a, &msg);
	rargs_buf(&a, &k.pending);
	rargs_buf(&a, &k.expiry);
	rargs_buf(&a, &k.warn);
	rargs_buf(&a, &k.hostdomains);
	rargs_buf(&a, &k.helddomains);
	rargs_strs(&a, member.s, n->qid, ms, n->domain, k.heldp.s,
	    k.statsp.s, NULL);
	hr_record(&a, host, n, RSTATE_PENDING, num);
	rc = hr_run(rp, &hr_store_script, 6, &a, &k, rep);
	buf_free(&msg);
	buf_free(&member);
	return rc;
}

/*
 * holdrec_rebuild - a record in state held from a verified hold tag, with
 * its held entry, counters, expiry entry and domain sets.  A record with
 * the same token is left alone, as is any record when keep is set;
 * another record of the queue ID is replaced.  Reply 1 written, 0 left.
 */
int
holdrec_rebuild(struct rpool *rp, const char *host,
    const struct holdrec_new *n, int keep, struct rr_reply *rep)
{
	struct hr_keys k;
	struct buf msg = BUF_INIT, member = BUF_INIT, held = BUF_INIT,
	    stats = BUF_INIT;
	struct rargs a = RARGS_INIT;
	char	num[5][24], size[24], arrived[24], expires[24];
	int	rc;

	hr_keys_init(&k, host);
	rkey_msg(&msg, host, n->qid);
	rkey_member(&member, host, n->qid);
	rkey_held(&held, n->domain);
	rkey_stats(&stats, n->domain);
	snprintf(size, sizeof(size), "%lld", n->size);
	snprintf(arrived, sizeof(arrived), "%lld", n->arrived);
	snprintf(expires, sizeof(expires), "%lld", n->expires);
	rargs_buf(&a, &msg);
	rargs_buf(&a, &held);
	rargs_buf(&a, &stats);
	rargs_buf(&a, &k.expiry);
	rargs_buf(&a, &k.warn);
	rargs_buf(&a, &k.released);
	rargs_buf(&a, &k.hostdomains);
	rargs_buf(&a, &k.helddomains);
	rargs_strs(&a, member.s, n->qid, arrived, expires, size, n->domain,
	    k.heldp.s, k.statsp.s, n->token, keep ? "1" : "0", NULL);
	hr_record(&a, host, n, RSTATE_HELD, num);
	rc = hr_run(rp, &hr_rebuild_script, 8, &a, &k, rep);
	buf_free(&msg);
	buf_free(&member);
	buf_free(&held);
	buf_free(&stats);
	return rc;
}

/*
 * holdrec_promote - pending -> held for n queue IDs found on hold, and
 * counted; each leaves the pending index.  Reply: qid, domain of each
 * record promoted.
 */
int
holdrec_promote(struct rpool *rp, const char *host, char *const *ids,
    size_t n, struct rr_reply *rep)
{
	struct hr_keys k;
	struct rargs a = RARGS_INIT;

	hr_keys_init(&k, host);
	rargs_buf(&a, &k.pending);
	rargs_buf(&a, &k.expiry);
	rargs_buf(&a, &k.warn);
	rargs_strs(&a, k.msgp.s, k.heldp.s, k.statsp.s, k.memberp.s, NULL);
	hr_ids(&a, ids, n);
	return hr_run(rp, &hr_promote_script, 3, &a, &k, rep);
}

/*
 * holdrec_drop_pending - pending entries written at or before cutoff_ms
 * (ms since 1970) leave the index, with their record while it is still
 * pending.  Reply: qid, domain of each record dropped.
 */
int
holdrec_drop_pending(struct rpool *rp, const char *host, long long cutoff_ms,
    char *const *ids, size_t n, struct rr_reply *rep)
{
	struct hr_keys k;
	struct rargs a = RARGS_INIT;
	char	cut[24];

	hr_keys_init(&k, host);
	snprintf(cut, sizeof(cut), "%lld", cutoff_ms);
	rargs_buf(&a, &k.pending);
	rargs_strs(&a, k.msgp.s, cut, NULL);
	hr_ids(&a, ids, n);
	return hr_run(rp, &hr_drop_pending_script, 1, &a, &k, rep);
}

/*
 * holdrec_list - this host's members of etrn:held:<domain>.  Reply: qid,
 * state per member; state "" without record, "-" when not a hash.
 */
int
holdrec_list(struct rpool *rp, const char *host, const char *domain,
    struct rr_reply *rep)
{
	struct hr_keys k;
	struct buf held = BUF_INIT;
	struct rargs a = RARGS_INIT;
	int	rc;

	hr_keys_init(&k, host);
	rkey_held(&held, domain);
	rargs_buf(&a, &held);
	rargs_strs(&a, k.memberp.s, k.msgp.s, NULL);
	rc = hr_run(rp, &hr_list_script, 1, &a, &k, rep);
	buf_free(&held);
	return rc;
}

/* holdrec_missing - reply: those of n queue IDs that have no record */
int
holdrec_missing(struct rpool *rp, const char *host, char *const *ids,
    size_t n, struct rr_reply *rep)
{
	return hr_prefix_ids(rp, host, &hr_missing_script, ids, n, rep);
}

/*
 * holdrec_mark_released - held -> released (released_at now, listed in
 * etrn:released:<host>) for n queue IDs.  Reply: the qids marked.
 */
int
holdrec_mark_released(struct rpool *rp, const char *host, long long now,
    char *const *ids, size_t n, struct rr_reply *rep)
{
	struct hr_keys k;
	struct rargs a = RARGS_INIT;
	char	t[24];

	hr_keys_init(&k, host);
	snprintf(t, sizeof(t), "%lld", now);
	rargs_buf(&a, &k.released);
	rargs_strs(&a, k.msgp.s, t, NULL);
	hr_ids(&a, ids, n);
	return hr_run(rp, &hr_mark_script, 1, &a, &k, rep);
}

/*
 * holdrec_unmark - released -> held for a release that did not happen;
 * each qid leaves etrn:released:<host>.  Reply: empty.
 */
int
holdrec_unmark(struct rpool *rp, const char *host, char *const *ids,
    size_t n, struct rr_reply *rep)
{
	struct hr_keys k;
	struct rargs a = RARGS_INIT;

	hr_keys_init(&k, host);
	rargs_buf(&a, &k.released);
	rargs_buf(&a, &k.msgp);
	hr_ids(&a, ids, n);
	return hr_run(rp, &hr_unmark_script, 1, &a, &k, rep);
}

/*
 * holdrec_gone - records of messages no longer in the queue: with track,
 * those released (counted flushed), else those held (stale, not
 * counted); a qid without record loses its index entries (its held entry
 * of domain when domain is not NULL).  Reply: qid, code (1 removed, 2 no
 * record, 0 left alone), domain per qid.
 */
int
holdrec_gone(struct rpool *rp, const char *host, int track,
    const char *domain, char *const *ids, size_t n, struct rr_reply *rep)
{
	struct hr_keys k;
	struct rargs a = RARGS_INIT;

	hr_keys_init(&k, host);
	rargs_buf(&a, &k.expiry);
	rargs_buf(&a, &k.warn);
	rargs_buf(&a, &k.released);
	rargs_strs(&a, k.msgp.s, k.heldp.s, k.statsp.s, k.memberp.s,
	    track ? "1" : "0", hr_or(domain), NULL);
	hr_ids(&a, ids, n);
	return hr_run(rp, &hr_gone_script, 3, &a, &k, rep);
}

/*
 * holdrec_rehold - released -> held (reholds + 1) for messages back on
 * hold, keeping only the recipients still queued when they all match.
 * Reply: qid, domain, code (0 left alone, 1 held, 2 held with recipients
 * rewritten), reholds, nrcpt per message.
 */
int
holdrec_rehold(struct rpool *rp, const char *host,
    const struct holdrec_rehold *m, size_t n, struct rr_reply *rep)
{
	struct hr_keys k;
	struct rargs a = RARGS_INIT;
	char	(*num)[24] = xcalloc(n ? n : 1, sizeof(*num));
	size_t	i, j;
	int	rc;

	hr_keys_init(&k, host);
	rargs_buf(&a, &k.released);
	rargs_buf(&a, &k.msgp);
	for (i = 0; i < n; i++) {
		snprintf(num[i], sizeof(num[i]), "%zu", m[i].nrcpt);
		rargs_str(&a, m[i].qid);
		rargs_str(&a, num[i]);
		for (j = 0; j < m[i].nrcpt; j++)
			rargs_str(&a, m[i].rcpt[j]);
	}
	rc = hr_run(rp, &hr_rehold_script, 1, &a, &k, rep);
	free(num);
	return rc;
}

/*
 * hr_one - run a script on one record: KEYS msg and, when index is not
 * NULL, that index; ARGV now and, with an index, the queue ID
 */
static int
hr_one(struct rpool *rp, const char *host, const char *qid, long long now,
    struct rscript *sc, const struct buf *index, struct hr_keys *k,
    struct rr_reply *rep)
{
	struct buf msg = BUF_INIT;
	struct rargs a = RARGS_INIT;
	char	t[24];
	int	rc;

	rkey_msg(&msg, host, qid);
	snprintf(t, sizeof(t), "%lld", now);
	rargs_buf(&a, &msg);
	if (index != NULL)
		rargs_buf(&a, index);
	rargs_str(&a, t);
	if (index != NULL)
		rargs_str(&a, qid);
	rc = hr_run(rp, sc, index != NULL ? 2 : 1, &a, k, rep);
	buf_free(&msg);
	return rc;
}

/*
 * holdrec_expire_now - a held or released record's deadline to now (an
 * earlier one kept), and its expiry entry.  Reply: {code, state}: 1
 * scheduled, 0 no record, 2 in another state (left alone).
 */
int
holdrec_expire_now(struct rpool *rp, const char *host, const char *qid,
    long long now, struct rr_reply *rep)
{
	struct hr_keys k;

	hr_keys_init(&k, host);
	return hr_one(rp, host, qid, now, &hr_expire_now_script, &k.expiry,
	    &k, rep);
}

/* holdrec_expire_begin - held -> expiring (compare and set); reply {1},
 * or {0} when the record was not held */
int
holdrec_expire_begin(struct rpool *rp, const char *host, const char *qid,
    long long now, struct rr_reply *rep)
{
	struct hr_keys k;

	hr_keys_init(&k, host);
	return hr_one(rp, host, qid, now, &hr_expire_begin_script, NULL, &k,
	    rep);
}

/*
 * holdrec_to_tracking - expiring -> released, listed for tracking (the
 * message left the hold by other means); reply {1}, or {0} when the
 * record was not expiring
 */
int
holdrec_to_tracking(struct rpool *rp, const char *host, const char *qid,
    long long now, struct rr_reply *rep)
{
	struct hr_keys k;

	hr_keys_init(&k, host);
	return hr_one(rp, host, qid, now, &hr_to_tracking_script,
	    &k.released, &k, rep);
}

/*
 * holdrec_finish - delete the record, its index entries and its share of
 * the counters, expired + 1 when expired is set; a second call finds no
 * record and changes no counter.  Reply 1, or 0 without record.
 */
int
holdrec_finish(struct rpool *rp, const char *host, const char *qid,
    int expired, struct rr_reply *rep)
{
	struct hr_keys k;
	struct buf msg = BUF_INIT, member = BUF_INIT;
	struct rargs a = RARGS_INIT;
	int	rc;

	hr_keys_init(&k, host);
	rkey_msg(&msg, host, qid);
	rkey_member(&member, host, qid);
	rargs_buf(&a, &msg);
	rargs_buf(&a, &k.expiry);
	rargs_buf(&a, &k.warn);
	rargs_buf(&a, &k.released);
	rargs_strs(&a, k.heldp.s, k.statsp.s, member.s, qid,
	    expired ? "1" : "0", NULL);
	rc = hr_run(rp, &hr_finish_script, 4, &a, &k, rep);
	buf_free(&msg);
	buf_free(&member);
	return rc;
}

/*
 * holdrec_load - the records of n queue IDs in one call; walk the reply
 * with holdrec_load_next()
 */
int
holdrec_load(struct rpool *rp, const char *host, char *const *ids,
    size_t n, struct rr_reply *rep)
{
	return hr_prefix_ids(rp, host, &hr_load_script, ids, n, rep);
}

/*
 * holdrec_load_next - the next record of holdrec_load's reply, from *pos:
 * 1 with view set to its HGETALL reply (for holdrec_decode; it points
 * into rep, not to be freed), 0 the key is not a hash, -1 the reply ends
 * or is malformed
 */
int
holdrec_load_next(const struct rr_reply *rep, size_t *pos,
    struct rr_reply *view)
{
	long long n;
	char	*end;

	memset(view, 0, sizeof(*view));
	if (rep->type != RRT_ARRAY || *pos >= rep->nelem ||
	    rep->elems[*pos] == NULL)
		return -1;
	n = strtoll(rep->elems[*pos], &end, 10);
	if (*end != '\0' || n < -1 || (unsigned long long)(n + 1) >
	    rep->nelem - *pos)
		return -1;
	(*pos)++;
	if (n < 0)
		return 0;
	view->status = RR_OK;
	view->type = RRT_ARRAY;
	view->elems = rep->elems + *pos;
	view->elen = rep->elen + *pos;
	view->nelem = (size_t)n;
	*pos += (size_t)n;
	return 1;
}

/* holdrec_expire_begin_many - held -> expiring for n queue IDs; reply:
 * the qids moved (the others were not held) */
int
holdrec_expire_begin_many(struct rpool *rp, const char *host, long long now,
    char *const *ids, size_t n, struct rr_reply *rep)
{
	struct hr_keys k;
	struct rargs a = RARGS_INIT;
	char	t[24];

	hr_keys_init(&k, host);
	snprintf(t, sizeof(t), "%lld", now);
	rargs_strs(&a, k.msgp.s, t, NULL);
	hr_ids(&a, ids, n);
	return hr_run(rp, &hr_begin_many_script, 0, &a, &k, rep);
}

/*
 * holdrec_dsn_many - the failure DSN of n expiring records in state (an
 * RDSN_*), each with its since, queue ID on hold and Message-ID when not
 * NULL; a record not in state expiring (or gone) is left alone.  Reply:
 * the qids written.
 */
int
holdrec_dsn_many(struct rpool *rp, const char *host, const char *state,
    const struct holdrec_dsn *d, size_t n, struct rr_reply *rep)
{
	struct hr_keys k;
	struct rargs a = RARGS_INIT;
	size_t	i;

	hr_keys_init(&k, host);
	rargs_strs(&a, k.msgp.s, state, NULL);
	for (i = 0; i < n; i++)
		rargs_strs(&a, d[i].qid, hr_or(d[i].since), hr_or(d[i].dsn_qid),
		    hr_or(d[i].msgid), NULL);
	return hr_run(rp, &hr_dsn_many_script, 0, &a, &k, rep);
}

/*
 * holdrec_finish_many - holdrec_finish for n queue IDs in one call.
 * Reply: qid, code (1 removed, 0 no record) per qid.
 */
int
holdrec_finish_many(struct rpool *rp, const char *host, int expired,
    char *const *ids, size_t n, struct rr_reply *rep)
{
	struct hr_keys k;
	struct rargs a = RARGS_INIT;

	hr_keys_init(&k, host);
	rargs_buf(&a, &k.expiry);
	rargs_buf(&a, &k.warn);
	rargs_buf(&a, &k.released);
	rargs_strs(&a, k.heldp.s, k.statsp.s, k.memberp.s, k.msgp.s,
	    expired ? "1" : "0", NULL);
	hr_ids(&a, ids, n);
	return hr_run(rp, &hr_finish_many_script, 3, &a, &k, rep);
}

/*
 * holdrec_drop - reconcile: drop the record of a message no longer
 * queued, if it still has token ("": no record was read) and, when state
 * is not "", that state.  Reply {code, domain}: 0 changed meanwhile (left
 * alone), 1 dropped, 2 index entries only.
 */
int
holdrec_drop(struct rpool *rp, const char *host, const char *qid,
    const char *token, const char *state, struct rr_reply *rep)
{
	struct hr_keys k;
	struct buf msg = BUF_INIT, member = BUF_INIT;
	struct rargs a = RARGS_INIT;
	int	rc;

	hr_keys_init(&k, host);
	rkey_msg(&msg, host, qid);
	rkey_member(&member, host, qid);
	rargs_buf(&a, &msg);
	rargs_buf(&a, &k.expiry);
	rargs_buf(&a, &k.warn);
	rargs_buf(&a, &k.released);
	rargs_strs(&a, k.heldp.s, k.statsp.s, member.s, qid, hr_or(token),
	    hr_or(state), NULL);
	rc = hr_run(rp, &hr_drop_script, 4, &a, &k, rep);
	buf_free(&msg);
	buf_free(&member);
	return rc;
}

/*
 * holdrec_dsn_state - where the failure DSN (warning 0) or the delay
 * warning (warning 1) is: state RDSN_*, and when not NULL the time it
 * was handed over after (since), its queue ID on hold (dsn_qid) and, for
 * the failure DSN, its Message-ID.  One HSET; reply its count.
 */
int
holdrec_dsn_state(struct rpool *rp, const char *host, const char *qid,
    int warning, const char *state, const char *since, const char *dsn_qid,
    const char *msgid, struct rr_reply *rep)
{
	struct buf msg = BUF_INIT;
	struct rargs a = RARGS_INIT;
	int	rc;

	rkey_msg(&msg, host, qid);
	rargs_strs(&a, "HSET", msg.s, warning ? RF_WARNED : RF_DSN_STATE,
	    state, NULL);
	if (since != NULL)
		rargs_strs(&a, warning ? RF_WARN_SINCE : RF_DSN_SINCE, since,
		    NULL);
	if (dsn_qid != NULL)
		rargs_strs(&a, warning ? RF_WARN_QID : RF_DSN_QID, dsn_qid,
		    NULL);
	if (msgid != NULL && !warning)
		rargs_strs(&a, RF_DSN_ID, msgid, NULL);
	rc = rpool_command_wait(rp, a.n, a.v, a.l, rep);
	rargs_free(&a);
	buf_free(&msg);
	return rc;
}

/* holdrec_warn_done - qid leaves the warning index; reply ZREM's count */
int
holdrec_warn_done(struct rpool *rp, const char *host, const char *qid,
    struct rr_reply *rep)
{
	struct buf warn = BUF_INIT;
	struct rargs a = RARGS_INIT;
	int	rc;

	rkey_warn(&warn, host);
	rargs_strs(&a, "ZREM", warn.s, qid, NULL);
	rc = rpool_command(rp, a.n, a.v, a.l, rep);
	rargs_free(&a);
	buf_free(&warn);
	return rc;
}

/*
 * holdrec_released_drop - a member of etrn:released:<host> that is no
 * queue ID (written by hand or damaged) leaves it; reply ZREM's count
 */
int
holdrec_released_drop(struct rpool *rp, const char *host, const char *member,
    struct rr_reply *rep)
{
	struct buf rel = BUF_INIT;
	struct rargs a = RARGS_INIT;
	int	rc;

	rkey_released(&rel, host);
	rargs_strs(&a, "ZREM", rel.s, member, NULL);
	rc = rpool_command(rp, a.n, a.v, a.l, rep);
	rargs_free(&a);
	buf_free(&rel);
	return rc;
}

/* holdrec_flushed_at - the domain's last_flush counter: a flush at now */
int
holdrec_flushed_at(struct rpool *rp, const char *domain, long long now,
    struct rr_reply *rep)
{
	struct buf stats = BUF_INIT;
	struct rargs a = RARGS_INIT;
	char	t[24];
	int	rc;

	rkey_stats(&stats, domain);
	snprintf(t, sizeof(t), "%lld", now);
	rargs_strs(&a, "HSET", stats.s, SF_LAST_FLUSH, t, NULL);
	rc = rpool_command(rp, a.n, a.v, a.l, rep);
	rargs_free(&a);
	buf_free(&stats);
	return rc;
}
