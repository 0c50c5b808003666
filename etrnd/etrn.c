/*
 * NAME
 *	etrn - the ETRN command: parse, authorize, count, queue the flush
 * DESCRIPTION
 *	The argument is parsed and the client authorized by etrnarg.c.
 *	The rest is one Lua script, so counting and queueing are atomic: it
 *	counts the held messages (all hosts; with "@", subdomains too),
 *	records last_etrn and last_etrn_client, and, unless nothing is held
 *	or a flush of the node started less than flush_lock_time ago, sets
 *	the marker etrn:flushing:<domain> and appends the request to the
 *	stream etrn:flush that every host's queue runner reads.
 * SECURITY
 *	The argument is validated before use; it reaches Redis only as a
 *	script argument (never as a command or key pattern) and a reply
 *	only in its normalised form or as typed after validation.
 * DIAGNOSTICS
 *	One log line per ETRN: session, client, argument, result code and
 *	pending count, or the reason for a refusal.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "etrnd/listener.h"
#include "mail/domain.h"
#include "mail/replies.h"
#include "mail/rkeys.h"
#include "util/log.h"

/*
 * KEYS: held, helddomains, flushing, stream, stats
 * ARGV: domain sub held_prefix lock_ttl client via now maxlen
 * Returns {pending, in_progress}.
 */
static const struct rscript etrn_script = {
	"local n = redis.call('ZCARD', KEYS[1])\n"
	"if ARGV[2] == '1' then\n"
	"  local suffix = '.' .. ARGV[1]\n"
	"  for _, d in ipairs(redis.call('SMEMBERS', KEYS[2])) do\n"
	"    if #d > #suffix and string.sub(d, -#suffix) == suffix then\n"
	"      n = n + redis.call('ZCARD', ARGV[3] .. d)\n"
	"    end\n"
	"  end\n"
	"end\n"
	"redis.call('HSET', KEYS[5], '" SF_LAST_ETRN "', ARGV[7],\n"
	"  '" SF_LAST_CLIENT "', ARGV[5])\n"
	"if n == 0 then return {0, 0} end\n"
	"if not redis.call('SET', KEYS[3], ARGV[5], 'NX', 'EX', ARGV[4]) then\n"
	"  return {n, 1}\n"
	"end\n"
	"redis.call('XADD', KEYS[4], 'MAXLEN', '~', ARGV[8], '*',\n"
	"  '" FF_DOMAIN "', ARGV[1], '" FF_SUB "', ARGV[2],\n"
	"  '" FF_CLIENT "', ARGV[5], '" FF_VIA "', ARGV[6],\n"
	"  '" FF_TIME "', ARGV[7])\n"
	"return {n, 0}\n",
	""
};

/* etrn_finish - reply, log, let the session go on */
static void
etrn_finish(struct session *ss, enum etrn_outcome o, long long n,
    const char *reason)
{
	struct buf out = BUF_INIT;

	reply_etrn(&out, o, ss->req.node, n, reason);
	log_info("%s: client=%s etrn=%s domain=%s sub=%d result=%.3s "
	    "pending=%lld%s%s", ss->id, ss->addr, ss->req.node,
	    ss->req.domain, ss->req.sub, out.s, n, reason ? " reason=" : "",
	    reason ? reason : "");
	session_reply(ss, out.s, out.len);
	buf_free(&out);
}

/* etrn_reply_cb - the script's answer */
static void
etrn_reply_cb(struct rr_reply *r, void *arg)
{
	struct session *ss = arg;
	long long n;

	ss->busy = 0;
	if (ss->dead) {
		session_close(ss);
		return;
	}
	if (r->status != RR_OK || r->type != RRT_ARRAY || r->nelem != 2 ||
	    r->elems[0] == NULL || r->elems[1] == NULL) {
		log_warnx("%s: redis: %s", ss->id, r->str ? r->str :
		    "unexpected reply");
		etrn_finish(ss, ETRN_UNAVAILABLE, 0, NULL);
	} else {
		n = strtoll(r->elems[0], NULL, 10);
		etrn_finish(ss, n == 0 ? ETRN_NOTHING : r->elems[1][0] == '1' ?
		    ETRN_IN_PROGRESS : ETRN_STARTED, n, NULL);
	}
	session_resume(ss);
}

/* etrn_request - run the script for an authorized request */
static int
etrn_request(struct session *ss)
{
	struct listener *l = ss->l;
	struct buf k[5], prefix = BUF_INIT;
	char	ttl[24], now[24];
	const char *av[13];
	int	i, rc;

	for (i = 0; i < 5; i++)
		buf_init(&k[i]);
	rkey_held(&k[0], ss->req.domain);
	rkey_helddomains(&k[1]);
	rkey_flushing(&k[2], ss->req.domain);
	rkey_flush_stream(&k[3]);
	rkey_stats(&k[4], ss->req.domain);
	rkey_held(&prefix, "");
	snprintf(ttl, sizeof(ttl), "%lld", l->s->flush_lock_time);
	snprintf(now, sizeof(now), "%lld", (long long)time(NULL));
	for (i = 0; i < 5; i++)
		av[i] = k[i].s;
	av[5] = ss->req.domain;
	av[6] = ss->req.sub ? "1" : "0";
	av[7] = prefix.s;
	av[8] = ttl;
	av[9] = ss->addr;
	av[10] = l->s->hostname;
	av[11] = now;
	av[12] = FLUSH_STREAM_MAXLEN;
	rc = ra_script(l->redis, &etrn_script, etrn_reply_cb, ss, 5, 13, av,
	    NULL);
	for (i = 0; i < 5; i++)
		buf_free(&k[i]);
	buf_free(&prefix);
	return rc;
}

/* etrn_command - handle "ETRN arg" (arg already split off) */
void
etrn_command(struct session *ss, const char *arg)
{
	struct listener *l = ss->l;
	struct buf reason = BUF_INIT;
	enum etrn_outcome o;

	if (etrn_parse(arg, &ss->req) < 0) {
		ss->errors++;
		snprintf(ss->req.node, sizeof(ss->req.node), "%s", "-");
		etrn_finish(ss, ETRN_SYNTAX, 0, NULL);
		return;
	}
	if (!rate_allow(l, ss->addr, (long long)time(NULL),
	    l->s->etrn_rate_limit)) {
		etrn_finish(ss, ETRN_RATE_LIMITED, 0, NULL);
		return;
	}
	if (!l->domains_loaded || !ra_connected(l->redis)) {
		etrn_finish(ss, ETRN_UNAVAILABLE, 0, NULL);
		return;
	}
	if ((o = etrn_authorize(&l->domains, l->s->etrn_allow, &ss->req,
	    ss->addr, &reason)) != ETRN_STARTED) {
		etrn_finish(ss, o, 0, buf_terminate(&reason));
		buf_free(&reason);
		return;
	}
	buf_free(&reason);
	ss->busy = 1;
	if (etrn_request(ss) < 0) {
		ss->busy = 0;
		etrn_finish(ss, ETRN_UNAVAILABLE, 0, NULL);
	}
}
