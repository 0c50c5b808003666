/*
 * NAME
 *	request - the policy protocol: read requests, ask Redis, answer
 * DESCRIPTION
 *	The protocol of etrn-policy's connections, above the line-server
 *	core (lib/util/lserver.c), which owns them and their limits:
 *	request_input() feeds the input to pattr.c and dispatches every
 *	complete request; requests are answered strictly in order,
 *	pipelined input waits while one waits for Redis or while answers
 *	are unread.  Postfix keeps its connection open between requests;
 *	so does etrn-policy, up to policy_max_requests answers (then it
 *	closes the connection after the last one; Postfix opens another).
 *
 *	A request type table (only smtpd_access_policy exists) and, within
 *	it, a table by protocol_state:
 *
 *	ETRN	Postfix strips the "@" of "ETRN @domain" before it asks,
 *		so etrn_domain d is always taken as "@d": d and every held
 *		domain below it (asked from Redis first), each authorized
 *		on its own as etrnd does (lib/mail/etrnauth.c: the entry
 *		that governs it, its allow list or etrn_allow) or by a SASL
 *		login listed in that entry's sasl_users (a second script
 *		reads them); then one flush request per authorized domain
 *		is queued on the stream every etrnd reads, by the script
 *		etrnd and etrnctl use (lib/mail/flushreq.c).  The answer is
 *		OK (Postfix then replies 250 itself), 458, or 459 with one
 *		text for every refusal; the reason is logged only.
 *	RCPT	for a recipient in a dial-up domain the domain's held mail
 *		is compared with its max_messages and max_bytes: 452 4.2.2
 *		when full, else DUNNO.
 *	other	DUNNO.
 *
 *	The per-domain facts (limits, sasl_users, held count and bytes)
 *	come in one script; the decision is decide.c's.  While Redis is
 *	unreachable (or the domain list not yet read) the answer is
 *	policy_redis_down_etrn or policy_redis_down_rcpt.
 * SECURITY
 *	A protocol error (see pattr.c) closes the connection without an
 *	answer, as the policy protocol expects of a server that cannot
 *	trust what follows.
 *	etrn_domain and the recipient's domain are normalised (host name
 *	syntax, lowercase) before they reach a key; Redis sees them only as
 *	script arguments.  Attribute values are logged only in normalised
 *	form, or made printable first.
 * DIAGNOSTICS
 *	One line per ETRN and per refused recipient: connection ID, client,
 *	domain, action and pending count or reason.  An unknown request type
 *	is a protocol error (logged; the connection is closed).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mail/flushreq.h"
#include "mail/rkeys.h"
#include "policy/decide.h"
#include "policy/policyd.h"
#include "util/log.h"
#include "util/rargs.h"
#include "util/xalloc.h"

/*
 * KEYS: domain entry hash, held index, stats.
 * Returns {max_messages, max_bytes, sasl_users, held count, bytes}.
 */
static struct rscript facts_script = {
	"local p = redis.call('HMGET', KEYS[1], '" DF_MAX_MESSAGES "',\n"
	"  '" DF_MAX_BYTES "', '" DF_SASL_USERS "')\n"
	"return {p[1] or '', p[2] or '', p[3] or '',\n"
	"  redis.call('ZCARD', KEYS[2]),\n"
	"  redis.call('HGET', KEYS[3], '" SF_BYTES "') or '0'}\n",
	""
};

#define FACTS_N	5

struct req_type {
	const char *name;	/* value of request= or protocol_state= */
	int	(*handle)(struct conn *);
};

/* conn_answer - queue an answer; the next request may start */
static void
conn_answer(struct conn *c, const char *s, size_t len)
{
	ls_write(c->lc, s, len);
	pattr_reset(&c->req);
	buf_reset(&c->reason);
	ls_deadline(c->lc);
	if (c->lc->commands >= c->pd->s->policy_max_requests)
		ls_limit(c->lc, LS_COMMANDS);
}

/* conn_busy - a request waits for Redis */
static void
conn_busy(struct conn *c)
{
	ls_busy(c->lc);
}

/* conn_unbusy - Redis answered; 0: the connection is gone, forget it */
static int
conn_unbusy(struct conn *c)
{
	return ls_unbusy(c->lc);
}

/* conn_resume - after an asynchronous answer, go on with the input */
static void
conn_resume(struct conn *c)
{
	ls_resume(c->lc);
}

/* printable - a copy of s for a log line, control bytes as '?' */
static const char *
printable(struct buf *b, const char *s, size_t max)
{
	size_t	i;

	buf_reset(b);
	for (i = 0; s[i] && i < max; i++)
		buf_addch(b, (unsigned char)s[i] < 0x20 ||
		    (unsigned char)s[i] == 0x7f ? '?' : s[i]);
	return buf_terminate(b);
}

/* answer - send an action; log it unless quiet */
static void
answer(struct conn *c, enum pol_action a, const char *reason)
{
	struct buf out = BUF_INIT;

	decide_action(&out, a, reason);
	conn_answer(c, out.s, out.len);
	buf_free(&out);
}

/* client_of - the client address attribute, or "unknown" */
static const char *
client_of(const struct conn *c)
{
	const char *a = pattr_get(&c->req, PA_CLIENT_ADDRESS);

	return *a ? a : "unknown";
}

/* facts - ask for the facts of c->entry / c->domain */
static int
facts(struct conn *c, ra_cb *cb)
{
	struct buf k[3] = { BUF_INIT, BUF_INIT, BUF_INIT };
	struct rargs a = RARGS_INIT;
	int	i, rc;

	rkey_domain(&k[0], c->entry);
	rkey_held(&k[1], c->domain);
	rkey_stats(&k[2], c->domain);
	for (i = 0; i < 3; i++)
		rargs_buf(&a, &k[i]);
	rc = ra_script(c->pd->redis, &facts_script, cb, c, 3, a.n, a.v, a.l);
	rargs_free(&a);
	for (i = 0; i < 3; i++)
		buf_free(&k[i]);
	if (rc == 0)
		conn_busy(c);
	return rc;
}

/* facts_ok - is r the script's answer */
static int
facts_ok(const struct rr_reply *r)
{
	size_t	i;

	if (r->status != RR_OK || r->type != RRT_ARRAY || r->nelem != FACTS_N)
		return 0;
	for (i = 0; i < FACTS_N; i++)
		if (r->elems[i] == NULL)
			return 0;
	return 1;
}

/* request_reply_begin - a reply arrived; 0 if the connection went away */
static int
request_reply_begin(struct conn *c)
{
	return conn_unbusy(c);
}

/* etrn_log - one line per ETRN */
static void
etrn_log(struct conn *c, enum pol_action a, const char *extra)
{
	struct buf p = BUF_INIT;
	const char *sasl = pattr_get(&c->req, PA_SASL_USERNAME);

	log_info("%s: etrn client=%s%s%s domain=%s action=%s%s%s", c->id,
	    client_of(c), *sasl ? " sasl_username=" : "",
	    *sasl ? printable(&p, sasl, 64) : "", c->etrn.domain[0] ?
	    c->etrn.domain : "-", decide_action_code(a), extra ? " " : "",
	    extra ? extra : "");
	buf_free(&p);
}

/* etrn_refuse - log c->reason, answer the one refusal text */
static void
etrn_refuse(struct conn *c, enum pol_action a)
{
	struct buf x = BUF_INIT;

	buf_printf(&x, "reason=%s", buf_terminate(&c->reason));
	etrn_log(c, a, x.s);
	answer(c, a, NULL);
	buf_free(&x);
}

/* etrn_down - Redis unavailable: the configured answer */
static void
etrn_down(struct conn *c)
{
	enum pol_action a = c->pd->s->policy_redis_down_etrn ==
	    POLICY_DOWN_ETRN_DUNNO ? POL_DUNNO : POL_ETRN_DOWN;

	etrn_log(c, a, "reason=redis-unavailable");
	answer(c, a, NULL);
}

/* redis_failed - log an error reply, or one not of the expected shape */
static void
redis_failed(const struct conn *c, const struct rr_reply *r)
{
	log_warnx("%s: redis: %s", c->id, r->str ? r->str :
	    "unexpected reply");
}

/* etrn_failed - a script for an ETRN failed: 458, then the next request */
static void
etrn_failed(struct conn *c, const struct rr_reply *r)
{
	redis_failed(c, r);
	etrn_down(c);
	conn_resume(c);
}

/* etrn_queued_cb - the flush-request script's answer */
static void
etrn_queued_cb(struct rr_reply *r, void *arg)
{
	struct conn *c = arg;
	struct buf x = BUF_INIT;
	long long n;
	int	busy;
	const char *id;

	if (!request_reply_begin(c))
		return;
	if (flushreq_result(r, &n, &busy, &id) < 0) {
		redis_failed(c, r);
		etrn_down(c);
	} else {
		buf_printf(&x, "pending=%lld queued=%s domains=%zu/%zu", n,
		    n == 0 ? "no" : busy ? "already" : "yes", c->etrn.nok,
		    c->etrn.ncand);
		etrn_log(c, POL_OK, x.s);
		answer(c, POL_OK, NULL);
	}
	buf_free(&x);
	conn_resume(c);
}

/* etrn_queue - run the shared flush-request script for a->ok */
static int
etrn_queue(struct conn *c, const struct etrn_auth *a)
{
	const struct oe_settings *s = c->pd->s;
	struct flushreq f;
	struct flushreq_args fa;
	int	rc;

	f.domains = a->ok;
	f.ndomains = a->nok;
	f.client = client_of(c);
	f.via = s->hostname;
	f.lock_ttl = s->flush_lock_time;
	f.now = (long long)time(NULL);
	f.force = 0;
	flushreq_args(&fa, &f);
	rc = ra_script(c->pd->redis, &flushreq_script, etrn_queued_cb, c,
	    FLUSHREQ_KEYS, fa.args.n, fa.args.v, fa.args.l);
	flushreq_args_free(&fa);
	if (rc == 0)
		conn_busy(c);
	return rc;
}

/* etrn_finish - queue what a authorizes, or refuse */
static void
etrn_finish(struct conn *c, struct etrn_auth *a)
{
	c->etrn.ncand = a->n;
	if (etrnauth_verdict(a, client_of(c), NULL) != ETRN_STARTED)
		etrn_refuse(c, POL_ETRN_DENIED);
	else {
		c->etrn.nok = a->nok;
		if (etrn_queue(c, a) < 0)
			etrn_down(c);
	}
}

/*
 * KEYS: the entry hash of each candidate the address did not authorize.
 * ARGV: per key its domain, then the domains the address authorized.
 * Returns {domain, by_address, sasl_users, ...}: one triple per domain,
 * by_address "1" or "0", sasl_users "" where none (or not needed).
 */
static struct rscript sasl_script = {
	"local out, nk = {}, #KEYS\n"
	"for i = 1, #ARGV do\n"
	"  out[#out + 1] = ARGV[i]\n"
	"  if i <= nk then\n"
	"    out[#out + 1] = '0'\n"
	"    out[#out + 1] = redis.call('HGET', KEYS[i],\n"
	"      '" DF_SASL_USERS "') or ''\n"
	"  else\n"
	"    out[#out + 1] = '1'\n"
	"    out[#out + 1] = ''\n"
	"  end\n"
	"end\n"
	"return out\n",
	""
};

/* etrn_sasl_cb - sasl_users of the entries: authorize by login, queue */
static void
etrn_sasl_cb(struct rr_reply *r, void *arg)
{
	struct conn *c = arg;
	const char *user = pattr_get(&c->req, PA_SASL_USERNAME);
	struct etrn_auth a;
	size_t	i;

	if (!request_reply_begin(c))
		return;
	if (r->status != RR_OK || r->type != RRT_ARRAY || r->nelem % 3) {
		etrn_failed(c, r);
		return;
	}
	etrnauth_init(&a);
	for (i = 0; i + 2 < r->nelem; i += 3) {
		if (r->elems[i] == NULL || r->elems[i + 1] == NULL ||
		    r->elems[i + 2] == NULL)
			continue;
		if (a.n == a.cap) {
			a.cap = a.cap ? a.cap * 2 : 8;
			a.v = xreallocarray(a.v, a.cap, sizeof(a.v[0]));
		}
		a.v[a.n].domain = r->elems[i];
		a.v[a.n].entry = NULL;
		a.v[a.n].why = decide_etrn(strcmp(r->elems[i + 1], "1") == 0 ?
		    ETRN_STARTED : ETRN_NOT_ALLOWED, r->elems[i + 2], user,
		    &c->reason) == POL_OK ? EW_OK : EW_NOT_LISTED;
		a.n++;
	}
	etrn_finish(c, &a);
	etrnauth_free(&a);
	conn_resume(c);
}

/* etrn_sasl - ask for the sasl_users of the entries not authorizing c */
static int
etrn_sasl(struct conn *c, const struct etrn_auth *a)
{
	struct buf *k = xcalloc(a->n + 1, sizeof(k[0]));
	struct rargs av = RARGS_INIT;
	size_t	i, nk = 0;
	int	rc;

	for (i = 0; i < a->n; i++)
		if (a->v[i].entry != NULL && a->v[i].why != EW_OK) {
			rkey_domain(&k[nk], a->v[i].entry->name);
			rargs_buf(&av, &k[nk]);
			nk++;
		}
	for (i = 0; i < a->n; i++)
		if (a->v[i].entry != NULL && a->v[i].why != EW_OK)
			rargs_str(&av, a->v[i].domain);
	for (i = 0; i < a->n; i++)
		if (a->v[i].why == EW_OK)
			rargs_str(&av, a->v[i].domain);
	rc = ra_script(c->pd->redis, &sasl_script, etrn_sasl_cb, c, (int)nk,
	    av.n, av.v, av.l);
	for (i = 0; i < nk; i++)
		buf_free(&k[i]);
	free(k);
	rargs_free(&av);
	if (rc == 0)
		conn_busy(c);
	return rc;
}

/* etrn_below_cb - the held domains below d: authorize each, go on */
static void
etrn_below_cb(struct rr_reply *r, void *arg)
{
	struct conn *c = arg;
	struct policyd *pd = c->pd;
	struct etrn_auth a;
	size_t	i;
	int	login = 0;

	if (!request_reply_begin(c))
		return;
	if (flushreq_below_result(r) < 0) {
		etrn_failed(c, r);
		return;
	}
	etrnauth_init(&a);
	(void)etrnauth_authorize(&pd->dw.domains, pd->s->etrn_allow, &c->etrn,
	    r->elems, r->nelem, client_of(c), &a, &c->reason);
	/* A SASL login may authorize what the address did not. */
	if (*pattr_get(&c->req, PA_SASL_USERNAME) != '\0')
		for (i = 0; i < a.n; i++)
			if (a.v[i].entry != NULL && a.v[i].why != EW_OK)
				login = 1;
	if (!login)
		etrn_finish(c, &a);
	else if (etrn_sasl(c, &a) < 0)
		etrn_down(c);
	etrnauth_free(&a);
	conn_resume(c);
}

/*
 * req_etrn - protocol_state=ETRN.  etrn_domain d is taken as "@d":
 * Postfix has stripped the "@", so "ETRN d" cannot be told from it.
 */
static int
req_etrn(struct conn *c)
{
	struct policyd *pd = c->pd;
	struct flushreq_below b;
	int	rc;

	if (etrnauth_parse(pattr_get(&c->req, PA_ETRN_DOMAIN), &c->etrn) < 0) {
		buf_cat(&c->reason, "bad domain syntax");
		etrn_refuse(c, POL_ETRN_DENIED);
		return 0;
	}
	c->etrn.sub = 1;
	if (!etrnauth_rate_allow(pd->rates, client_of(c),
	    (int)pd->s->client_ipv4_prefix, (int)pd->s->client_ipv6_prefix,
	    (long long)time(NULL), pd->s->etrn_rate_limit)) {
		etrn_log(c, POL_ETRN_RATE, "reason=rate-limit");
		answer(c, POL_ETRN_RATE, NULL);
		return 0;
	}
	if (!pd->dw.loaded || !ra_connected(pd->redis)) {
		etrn_down(c);
		return 0;
	}
	flushreq_below_args(&b, c->etrn.domain);
	rc = ra_script(pd->redis, &flushreq_below_script, etrn_below_cb, c,
	    FLUSHREQ_BELOW_KEYS, b.args.n, b.args.v, b.args.l);
	flushreq_below_free(&b);
	if (rc < 0)
		etrn_down(c);
	else
		conn_busy(c);
	return 0;
}

/* rcpt_down - Redis unavailable: the configured answer */
static void
rcpt_down(struct conn *c)
{
	static const enum pol_action down[] = {
		[POLICY_DOWN_RCPT_DEFER_IF_PERMIT] =
		    POL_RCPT_DOWN_DEFER_IF_PERMIT,
		[POLICY_DOWN_RCPT_DEFER] = POL_RCPT_DOWN_DEFER,
		[POLICY_DOWN_RCPT_DUNNO] = POL_DUNNO,
	};
	enum pol_action a = down[c->pd->s->policy_redis_down_rcpt];

	log_info("%s: rcpt client=%s domain=%s action=%s "
	    "reason=redis-unavailable", c->id, client_of(c), c->domain,
	    decide_action_code(a));
	answer(c, a, NULL);
}

/* rcpt_facts_cb - the domain's held mail against its limits */
static void
rcpt_facts_cb(struct rr_reply *r, void *arg)
{
	struct conn *c = arg;
	const struct oe_settings *s;
	struct buf why = BUF_INIT;
	struct quota q;
	enum pol_action a;

	if (!request_reply_begin(c))
		return;
	s = c->pd->s;
	if (!facts_ok(r)) {
		redis_failed(c, r);
		rcpt_down(c);
		conn_resume(c);
		return;
	}
	memset(&q, 0, sizeof(q));
	if (decide_limit(DF_MAX_MESSAGES, r->elems[0], s->max_messages,
	    &q.max_messages, &why) < 0)
		log_warnx("domain=%s %s \"%.40s\" in Redis ignored, using the "
		    "default: %s", c->entry, DF_MAX_MESSAGES, r->elems[0],
		    buf_terminate(&why));
	buf_reset(&why);
	if (decide_limit(DF_MAX_BYTES, r->elems[1], s->max_bytes,
	    &q.max_bytes, &why) < 0)
		log_warnx("domain=%s %s \"%.40s\" in Redis ignored, using the "
		    "default: %s", c->entry, DF_MAX_BYTES, r->elems[1],
		    buf_terminate(&why));
	buf_free(&why);
	q.held = strtoll(r->elems[3], NULL, 10);
	q.bytes = strtoll(r->elems[4], NULL, 10);
	q.size = strtoll(pattr_get(&c->req, PA_SIZE), NULL, 10);
	if ((a = decide_quota(&q, c->domain, &c->reason)) != POL_DUNNO)
		log_info("%s: rcpt client=%s domain=%s action=%s held=%lld "
		    "bytes=%lld reason=quota", c->id, client_of(c), c->domain,
		    decide_action_code(a), q.held, q.bytes);
	else
		log_debug("%s: rcpt domain=%s held=%lld bytes=%lld: within "
		    "quota", c->id, c->domain, q.held, q.bytes);
	answer(c, a, buf_terminate(&c->reason));
	conn_resume(c);
}

/* req_rcpt - protocol_state=RCPT: held-mail quota of dial-up domains */
static int
req_rcpt(struct conn *c)
{
	struct policyd *pd = c->pd;
	struct buf d = BUF_INIT;
	const struct dom_entry *e;

	if (dom_addr_domain(pattr_get(&c->req, PA_RECIPIENT), &d, NULL) < 0 ||
	    d.len >= sizeof(c->domain)) {
		buf_free(&d);
		answer(c, POL_DUNNO, NULL);
		return 0;
	}
	memcpy(c->domain, d.s, d.len + 1);
	buf_free(&d);
	if (!pd->dw.loaded) {
		rcpt_down(c);
		return 0;
	}
	if ((e = domlist_match(&pd->dw.domains, c->domain)) == NULL) {
		answer(c, POL_DUNNO, NULL);
		return 0;
	}
	snprintf(c->entry, sizeof(c->entry), "%s", e->name);
	if (!ra_connected(pd->redis) || facts(c, rcpt_facts_cb) < 0)
		rcpt_down(c);
	return 0;
}

/* req_other - any other protocol state: no opinion */
static int
req_other(struct conn *c)
{
	answer(c, POL_DUNNO, NULL);
	return 0;
}

static const struct req_type states[] = {
	{ "ETRN", req_etrn },
	{ "RCPT", req_rcpt },
	{ NULL, req_other },
};

/* req_access - request=smtpd_access_policy: by protocol_state */
static int
req_access(struct conn *c)
{
	const char *st = pattr_get(&c->req, PA_PROTOCOL_STATE);
	const struct req_type *t;

	for (t = states; t->name != NULL; t++)
		if (strcmp(t->name, st) == 0)
			break;
	c->etrn.domain[0] = '\0';
	c->domain[0] = c->entry[0] = '\0';
	return t->handle(c);
}

static const struct req_type requests[] = {
	{ "smtpd_access_policy", req_access },
	{ NULL, NULL },
};

/* request_dispatch - a complete request; -1: protocol error, close */
static int
request_dispatch(struct conn *c)
{
	const struct req_type *t;
	struct buf p = BUF_INIT;

	for (t = requests; t->name != NULL; t++)
		if (strcmp(t->name, pattr_get(&c->req, PA_REQUEST)) == 0)
			return t->handle(c);
	log_warnx("%s: protocol error: unknown request type \"%s\"; closing",
	    c->id, printable(&p, pattr_get(&c->req, PA_REQUEST), 64));
	buf_free(&p);
	return -1;
}

/* request_input - read and dispatch complete requests */
void
request_input(struct ls_conn *lc, struct evbuffer *in)
{
	struct conn *c = lc->ctx;
	struct evbuffer_iovec v;
	enum pattr_status st;
	size_t	used;

	while (ls_ready(lc) && evbuffer_get_length(in) > 0) {
		if (evbuffer_peek(in, -1, NULL, &v, 1) < 1)
			break;
		st = pattr_feed(&c->req, v.iov_base, v.iov_len, &used);
		evbuffer_drain(in, used);
		if (st == PATTR_ERROR) {
			log_warnx("%s: protocol error: %s; closing", c->id,
			    c->req.error);
			ls_bye(lc);
			return;
		}
		if (st == PATTR_DONE && (ls_command(lc) < 0 ||
		    request_dispatch(c) < 0)) {
			ls_bye(lc);
			return;
		}
	}
}

/* request_open - a connection the core admitted */
int
request_open(struct ls_conn *lc)
{
	struct policyd *pd = ls_arg(lc->srv);
	struct conn *c = xcalloc(1, sizeof(*c));

	c->pd = pd;
	c->lc = lc;
	c->id = lc->id;
	pattr_init(&c->req, (size_t)pd->s->policy_max_line,
	    (size_t)pd->s->policy_max_attrs);
	buf_init(&c->reason);
	lc->ctx = c;
	return 0;
}

/* request_bye - refused or cut off: the protocol has no last words */
void
request_bye(struct ls_conn *lc, enum ls_limit why)
{
	(void)lc;
	(void)why;
}

/* request_free - the core is done with the connection */
void
request_free(struct ls_conn *lc)
{
	struct conn *c = lc->ctx;

	if (c == NULL)
		return;
	if (lc->eof && (c->req.nattrs || c->req.line.len))
		log_info("%s: connection closed in a request", c->id);
	pattr_free(&c->req);
	buf_free(&c->reason);
	free(c);
	lc->ctx = NULL;
}
