/*
 * NAME
 *	flushreq - queue a flush request on the stream every host reads
 * DESCRIPTION
 *	One Lua script, shared by etrnd's listener (ETRN) and etrnctl
 *	(flush), so counting and queueing are atomic and worded once: it
 *	counts the held messages of the domain on all hosts (with sub, also
 *	of its subdomains, from etrn:helddomains), records last_etrn and
 *	last_etrn_client (not for an admin's forced flush), and unless
 *	nothing is held or, for ETRN, a flush of the domain started less
 *	than flush_lock_time ago (marker etrn:flushing:<domain>, SET NX),
 *	appends the request to etrn:flush.
 *
 *	flushreq_result() reads the answer: pending count, whether a flush
 *	was already under way, and the stream entry's ID ("" if none).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>

#include "mail/flushreq.h"
#include "mail/rkeys.h"

/*
 * KEYS: held helddomains flushing stream stats
 * ARGV: domain sub held_prefix lock_ttl client via now maxlen force
 * Returns {pending, in_progress, stream entry ID or ""}.
 */
struct rscript flushreq_script = {
	"local n = redis.call('ZCARD', KEYS[1])\n"
	"if ARGV[2] == '1' then\n"
	"  local suffix = '.' .. ARGV[1]\n"
	"  for _, d in ipairs(redis.call('SMEMBERS', KEYS[2])) do\n"
	"    if #d > #suffix and string.sub(d, -#suffix) == suffix then\n"
	"      n = n + redis.call('ZCARD', ARGV[3] .. d)\n"
	"    end\n"
	"  end\n"
	"end\n"
	"if ARGV[9] ~= '1' then\n"
	"  redis.call('HSET', KEYS[5], '" SF_LAST_ETRN "', ARGV[7],\n"
	"    '" SF_LAST_CLIENT "', ARGV[5])\n"
	"end\n"
	"if n == 0 then return {0, 0, ''} end\n"
	"if ARGV[9] == '1' then\n"
	"  redis.call('SET', KEYS[3], ARGV[5], 'EX', ARGV[4])\n"
	"elseif not redis.call('SET', KEYS[3], ARGV[5], 'NX', 'EX',\n"
	"    ARGV[4]) then\n"
	"  return {n, 1, ''}\n"
	"end\n"
	"local id = redis.call('XADD', KEYS[4], 'MAXLEN', '~', ARGV[8], '*',\n"
	"  '" FF_DOMAIN "', ARGV[1], '" FF_SUB "', ARGV[2],\n"
	"  '" FF_CLIENT "', ARGV[5], '" FF_VIA "', ARGV[6],\n"
	"  '" FF_TIME "', ARGV[7])\n"
	"return {n, 0, id}\n",
	""
};

/* flushreq_args - the script's keys and arguments for a request */
void
flushreq_args(struct flushreq_args *a, const struct flushreq *f)
{
	int	i;

	for (i = 0; i < FLUSHREQ_KEYS; i++)
		buf_init(&a->k[i]);
	buf_init(&a->prefix);
	rkey_held(&a->k[0], f->domain);
	rkey_helddomains(&a->k[1]);
	rkey_flushing(&a->k[2], f->domain);
	rkey_flush_stream(&a->k[3]);
	rkey_stats(&a->k[4], f->domain);
	rkey_held(&a->prefix, "");
	snprintf(a->ttl, sizeof(a->ttl), "%lld", f->lock_ttl);
	snprintf(a->now, sizeof(a->now), "%lld", f->now);
	for (i = 0; i < FLUSHREQ_KEYS; i++)
		a->av[i] = a->k[i].s;
	a->av[i++] = f->domain;
	a->av[i++] = f->sub ? "1" : "0";
	a->av[i++] = a->prefix.s;
	a->av[i++] = a->ttl;
	a->av[i++] = f->client;
	a->av[i++] = f->via;
	a->av[i++] = a->now;
	a->av[i++] = FLUSH_STREAM_MAXLEN;
	a->av[i++] = f->force ? "1" : "0";
}

/* flushreq_args_free - release the key buffers */
void
flushreq_args_free(struct flushreq_args *a)
{
	int	i;

	for (i = 0; i < FLUSHREQ_KEYS; i++)
		buf_free(&a->k[i]);
	buf_free(&a->prefix);
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
