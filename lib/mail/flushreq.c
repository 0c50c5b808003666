/*
 * NAME
 *	flushreq - queue a flush request on the stream every host reads
 * DESCRIPTION
 *	One Lua script, shared by etrnd's listener (ETRN), etrn-policy and
 *	etrnctl (flush), so counting and queueing are atomic and worded
 *	once.  It is given the domains the caller has authorized (for
 *	"@domain" the caller first asks flushreq_below_script for the held
 *	domains below it and decides on each), and for each one: counts its
 *	held messages on all hosts, records last_etrn and last_etrn_client
 *	(not for an admin's forced flush), and unless nothing is held or,
 *	for ETRN, a flush of that domain started less than flush_lock_time
 *	ago (marker etrn:flushing:<domain>, SET NX), appends one entry for
 *	it, sub 0, to etrn:flush.  A runner therefore releases exactly the
 *	domains named, on every host: no entry names a domain the client
 *	was not authorized for, and none asks the runner to look below it.
 *
 *	flushreq_result() reads the answer: pending count (of the named
 *	domains), whether a flush was already under way for all of those
 *	with mail, and the first stream entry's ID ("" if none).
 *
 *	flushreq_below_script returns the members of etrn:helddomains below
 *	a domain (suffix "." domain) whose etrn:held:<domain> is not empty,
 *	sorted (so the stream's order does not depend on the set's), and
 *	filtered in Redis so the set is not copied whole.
 * SECURITY
 *	Domains reach Redis only as script arguments; the script builds the
 *	per-domain keys from the prefixes of rkeys.c (design.md: no Redis
 *	Cluster).  What the below script returns is checked again by the
 *	caller (etrnauth_below()) before it is used.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mail/flushreq.h"
#include "mail/rkeys.h"

/*
 * KEYS: stream
 * ARGV: held_prefix stats_prefix flushing_prefix lock_ttl client via now
 *	 maxlen force ndomains domain...
 * Returns {pending, in_progress, first stream entry ID or ""}.
 */
struct rscript flushreq_script = {
	"local n, queued, busy, first = 0, 0, 0, ''\n"
	"for i = 11, 10 + tonumber(ARGV[10]) do\n"
	"  local d = ARGV[i]\n"
	"  local c = redis.call('ZCARD', ARGV[1] .. d)\n"
	"  if ARGV[9] ~= '1' then\n"
	"    redis.call('HSET', ARGV[2] .. d, '" SF_LAST_ETRN "', ARGV[7],\n"
	"      '" SF_LAST_CLIENT "', ARGV[5])\n"
	"  end\n"
	"  if c > 0 then\n"
	"    n = n + c\n"
	"    local lock\n"
	"    if ARGV[9] == '1' then\n"
	"      lock = redis.call('SET', ARGV[3] .. d, ARGV[5], 'EX', ARGV[4])\n"
	"    else\n"
	"      lock = redis.call('SET', ARGV[3] .. d, ARGV[5], 'NX', 'EX',\n"
	"        ARGV[4])\n"
	"    end\n"
	"    if lock then\n"
	"      local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[8],\n"
	"        '*', '" FF_DOMAIN "', d, '" FF_SUB "', '0',\n"
	"        '" FF_CLIENT "', ARGV[5], '" FF_VIA "', ARGV[6],\n"
	"        '" FF_TIME "', ARGV[7])\n"
	"      if first == '' then first = id end\n"
	"      queued = queued + 1\n"
	"    else\n"
	"      busy = busy + 1\n"
	"    end\n"
	"  end\n"
	"end\n"
	"if n == 0 then return {0, 0, ''} end\n"
	"if queued == 0 then return {n, 1, ''} end\n"
	"return {n, 0, first}\n",
	""
};

/*
 * KEYS: helddomains
 * ARGV: domain held_prefix
 * Returns the held domains below domain.
 */
struct rscript flushreq_below_script = {
	"local suffix, out = '.' .. ARGV[1], {}\n"
	"for _, d in ipairs(redis.call('SMEMBERS', KEYS[1])) do\n"
	"  if #d > #suffix and string.sub(d, -#suffix) == suffix and\n"
	"      redis.call('ZCARD', ARGV[2] .. d) > 0 then\n"
	"    out[#out + 1] = d\n"
	"  end\n"
	"end\n"
	"table.sort(out)\n"
	"return out\n",
	""
};

/* flushreq_args - the script's keys and arguments for a request */
void
flushreq_args(struct flushreq_args *a, const struct flushreq *f)
{
	size_t	i;

	buf_init(&a->stream);
	buf_init(&a->held);
	buf_init(&a->stats);
	buf_init(&a->flushing);
	rkey_flush_stream(&a->stream);
	rkey_held(&a->held, "");
	rkey_stats(&a->stats, "");
	rkey_flushing(&a->flushing, "");
	snprintf(a->ttl, sizeof(a->ttl), "%lld", f->lock_ttl);
	snprintf(a->now, sizeof(a->now), "%lld", f->now);
	snprintf(a->nd, sizeof(a->nd), "%zu", f->ndomains);
	memset(&a->args, 0, sizeof(a->args));
	rargs_strs(&a->args, a->stream.s, a->held.s, a->stats.s,
	    a->flushing.s, a->ttl, f->client, f->via, a->now,
	    FLUSH_STREAM_MAXLEN, f->force ? "1" : "0", a->nd, NULL);
	for (i = 0; i < f->ndomains; i++)
		rargs_str(&a->args, f->domains[i]);
}

/* flushreq_args_free - release the key buffers and the vector */
void
flushreq_args_free(struct flushreq_args *a)
{
	buf_free(&a->stream);
	buf_free(&a->held);
	buf_free(&a->stats);
	buf_free(&a->flushing);
	rargs_free(&a->args);
}

/* flushreq_result - pending count, in progress, entry ID; -1 if odd */
int
flushreq_result(const struct rr_reply *r, long long *pending,
    int *in_progress, const char **id)
{
	if (r->status != RR_OK || r->type != RRT_ARRAY || r->nelem != 3 ||
	    r->elems[0] == NULL || r->elems[1] == NULL || r->elems[2] == NULL)
		return -1;
	*pending = strtoll(r->elems[0], NULL, 10);
	*in_progress = r->elems[1][0] == '1';
	*id = r->elems[2];
	return 0;
}

/* flushreq_below_args - keys and arguments of the below script */
void
flushreq_below_args(struct flushreq_below *b, const char *domain)
{
	buf_init(&b->key);
	buf_init(&b->prefix);
	rkey_helddomains(&b->key);
	rkey_held(&b->prefix, "");
	b->args = (struct rargs)RARGS_INIT;
	rargs_strs(&b->args, b->key.s, domain, b->prefix.s, NULL);
}

/* flushreq_below_free - release the key buffers */
void
flushreq_below_free(struct flushreq_below *b)
{
	buf_free(&b->key);
	buf_free(&b->prefix);
	rargs_free(&b->args);
}

/* flushreq_below_result - 0 when r is the below script's answer */
int
flushreq_below_result(const struct rr_reply *r)
{
	return r->status == RR_OK && r->type == RRT_ARRAY ? 0 : -1;
}
