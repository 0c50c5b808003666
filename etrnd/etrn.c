/*
 * NAME
 *	etrn - the ETRN command: parse, authorize, count, queue the flush
 * DESCRIPTION
 *	The argument is parsed and the client authorized by etrnarg.c; the
 *	count and the request are one script (flushreq.c) that every host's
 *	queue runner reads from the stream etrn:flush.
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
#include "mail/flushreq.h"
#include "mail/replies.h"
#include "mail/rkeys.h"
#include "util/log.h"

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
	int	busy;
	const char *id;

	ss->busy = 0;
	if (ss->dead) {
		session_close(ss);
		return;
	}
	if (flushreq_result(r, &n, &busy, &id) < 0) {
		log_warnx("%s: redis: %s", ss->id, r->str ? r->str :
		    "unexpected reply");
		etrn_finish(ss, ETRN_UNAVAILABLE, 0, NULL);
	} else
		etrn_finish(ss, n == 0 ? ETRN_NOTHING : busy ?
		    ETRN_IN_PROGRESS : ETRN_STARTED, n, NULL);
	session_resume(ss);
}

/* etrn_request - run the flush-request script for an authorized request */
static int
etrn_request(struct session *ss)
{
	struct listener *l = ss->l;
	struct flushreq f;
	struct flushreq_args a;
	int	rc;

	f.domain = ss->req.domain;
	f.sub = ss->req.sub;
	f.client = ss->addr;
	f.via = l->s->hostname;
	f.lock_ttl = l->s->flush_lock_time;
	f.now = (long long)time(NULL);
	f.force = 0;
	flushreq_args(&a, &f);
	rc = ra_script(l->redis, &flushreq_script, etrn_reply_cb, ss,
	    FLUSHREQ_KEYS, FLUSHREQ_ARGC, a.av, NULL);
	flushreq_args_free(&a);
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
	if (!l->dw.loaded || !ra_connected(l->redis)) {
		etrn_finish(ss, ETRN_UNAVAILABLE, 0, NULL);
		return;
	}
	if ((o = etrn_authorize(&l->dw.domains, l->s->etrn_allow, &ss->req,
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
