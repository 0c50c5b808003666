/*
 * NAME
 *	etrn - the ETRN command: parse, authorize, count, queue the flush
 * DESCRIPTION
 *	The argument is parsed and the client authorized by etrnauth.c.  For
 *	"@domain" Redis is asked first for the held domains below it
 *	(flushreq_below_script); each is authorized on its own against the
 *	allow list of the entry that governs it, and only the authorized
 *	ones are named in the request.  The count and the request are one
 *	script (flushreq.c) that every host's queue runner reads from the
 *	stream etrn:flush, one entry per domain.
 * SECURITY
 *	The argument is validated before use; it reaches Redis only as a
 *	script argument (never as a command or key pattern) and a reply
 *	only in its normalised form or as typed after validation.
 * DIAGNOSTICS
 *	One log line per ETRN: session, client, argument, result code,
 *	pending count and domains authorized of those considered, or the
 *	reason for a refusal (which the reply never shows: every refusal
 *	has the same text).
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

	reply_etrn(&out, o, ss->req.node, n);
	log_info("%s: client=%s etrn=%s domain=%s sub=%d result=%.3s "
	    "pending=%lld domains=%zu/%zu%s%s", ss->id, ss->addr,
	    ss->req.node, ss->req.domain, ss->req.sub, out.s, n, ss->req.nok,
	    ss->req.ncand, reason ? " reason=" : "", reason ? reason : "");
	ls_write(ss->c, out.s, out.len);
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

	if (!ls_unbusy(ss->c))
		return;
	if (flushreq_result(r, &n, &busy, &id) < 0) {
		log_warnx("%s: redis: %s", ss->id, r->str ? r->str :
		    "unexpected reply");
		etrn_finish(ss, ETRN_UNAVAILABLE, 0, NULL);
	} else
		etrn_finish(ss, n == 0 ? ETRN_NOTHING : busy ?
		    ETRN_IN_PROGRESS : ETRN_STARTED, n, NULL);
	ls_resume(ss->c);
}

/* etrn_request - run the flush-request script for the authorized domains */
static int
etrn_request(struct session *ss, const struct etrn_auth *a)
{
	struct listener *l = ss->l;
	struct flushreq f;
	struct flushreq_args fa;
	int	rc;

	f.domains = a->ok;
	f.ndomains = a->nok;
	f.client = ss->addr;
	f.via = l->s->hostname;
	f.lock_ttl = l->s->flush_lock_time;
	f.now = (long long)time(NULL);
	f.force = 0;
	flushreq_args(&fa, &f);
	rc = ra_script(l->redis, &flushreq_script, etrn_reply_cb, ss,
	    FLUSHREQ_KEYS, fa.args.n, fa.args.v, fa.args.l);
	flushreq_args_free(&fa);
	return rc;
}

/*
 * etrn_decide - authorize each domain the request covers (below: the
 * held domains under "@domain"), then queue or refuse; 1: queueing
 */
static int
etrn_decide(struct session *ss, char *const *below, size_t n)
{
	struct listener *l = ss->l;
	struct buf reason = BUF_INIT;
	struct etrn_auth a;
	enum etrn_outcome o;
	int	busy = 0;

	etrnauth_init(&a);
	o = etrnauth_authorize(&l->dw.domains, l->s->etrn_allow, &ss->req,
	    below, n, ss->addr, &a, &reason);
	ss->req.ncand = a.n;
	ss->req.nok = a.nok;
	if (o != ETRN_STARTED)
		etrn_finish(ss, ETRN_NOT_ALLOWED, 0, buf_terminate(&reason));
	else if (etrn_request(ss, &a) < 0)
		etrn_finish(ss, ETRN_UNAVAILABLE, 0, NULL);
	else {
		ls_busy(ss->c);
		busy = 1;
	}
	etrnauth_free(&a);
	buf_free(&reason);
	return busy;
}

/* etrn_below_cb - the held domains below "@domain": decide */
static void
etrn_below_cb(struct rr_reply *r, void *arg)
{
	struct session *ss = arg;

	if (!ls_unbusy(ss->c))
		return;
	if (flushreq_below_result(r) < 0) {
		log_warnx("%s: redis: %s", ss->id, r->str ? r->str :
		    "unexpected reply");
		etrn_finish(ss, ETRN_UNAVAILABLE, 0, NULL);
	} else if (etrn_decide(ss, r->elems, r->nelem))
		return;
	ls_resume(ss->c);
}

/* etrn_ask_below - ask Redis for the held domains below "@domain" */
static int
etrn_ask_below(struct session *ss)
{
	struct flushreq_below b;
	int	rc;

	flushreq_below_args(&b, ss->req.domain);
	rc = ra_script(ss->l->redis, &flushreq_below_script, etrn_below_cb,
	    ss, FLUSHREQ_BELOW_KEYS, b.args.n, b.args.v, b.args.l);
	flushreq_below_free(&b);
	return rc;
}

/* etrn_command - handle "ETRN arg" (arg already split off) */
void
etrn_command(struct session *ss, const char *arg)
{
	struct listener *l = ss->l;

	if (etrnauth_parse(arg, &ss->req) < 0) {
		ss->errors++;
		snprintf(ss->req.node, sizeof(ss->req.node), "%s", "-");
		etrn_finish(ss, ETRN_SYNTAX, 0, NULL);
		return;
	}
	if (!listener_rate_allow(l, ss->addr, (long long)time(NULL),
	    l->s->etrn_rate_limit)) {
		etrn_finish(ss, ETRN_RATE_LIMITED, 0, NULL);
		return;
	}
	if (!l->dw.loaded || !ra_connected(l->redis)) {
		etrn_finish(ss, ETRN_UNAVAILABLE, 0, NULL);
		return;
	}
	if (!ss->req.sub)
		(void)etrn_decide(ss, NULL, 0);
	else if (etrn_ask_below(ss) < 0)
		etrn_finish(ss, ETRN_UNAVAILABLE, 0, NULL);
	else
		ls_busy(ss->c);
}
