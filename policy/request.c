/*
 * NAME
 *	request - dispatch a policy request, ask Redis, answer "action="
 * DESCRIPTION
 *	A request type table (only smtpd_access_policy exists) and, within
 *	it, a table by protocol_state:
 *
 *	ETRN	etrn_domain is parsed and the client authorized as etrnd
 *		does (lib/mail/etrnauth.c: rate limit, dial-up entry, its
 *		allow list or etrn_allow) or by a SASL login listed in the
 *		entry's sasl_users; then the flush request is queued on the
 *		stream every etrnd reads, by the script etrnd and etrnctl
 *		use (lib/mail/flushreq.c).  The answer is OK (Postfix then
 *		replies 250 itself), 459 or 458.
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

	policy_action(&out, a, reason);
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
	const char *av[3];
	int	i, rc;

	rkey_domain(&k[0], c->entry);
	rkey_held(&k[1], c->domain);
	rkey_stats(&k[2], c->domain);
	for (i = 0; i < 3; i++)
		av[i] = k[i].s;
	rc = ra_script(c->pd->redis, &facts_script, cb, c, 3, 3, av, NULL);
	for (i = 0; i < 3; i++)
		buf_free(&k[i]);
	if (rc == 0)
		c->busy = 1;
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

/* reply_begin - a reply arrived; 0 if the connection went away */
static int
reply_begin(struct conn *c)
{
	c->busy = 0;
	if (c->dead) {
		conn_close(c);
		return 0;
	}
	return 1;
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
	    c->etrn.domain : "-", policy_action_code(a), extra ? " " : "",
	    extra ? extra : "");
	buf_free(&p);
}

/* etrn_refuse - log and answer a refusal with c->reason */
static void
etrn_refuse(struct conn *c, enum pol_action a)
{
	struct buf x = BUF_INIT;

	buf_printf(&x, "reason=%s", buf_terminate(&c->reason));
	etrn_log(c, a, x.s);
	answer(c, a, c->reason.s);
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

/* etrn_queued_cb - the flush-request script's answer */
static void
etrn_queued_cb(struct rr_reply *r, void *arg)
{
	struct conn *c = arg;
	struct buf x = BUF_INIT;
	long long n;
	int	busy;
	const char *id;

	if (!reply_begin(c))
		return;
	if (flushreq_result(r, &n, &busy, &id) < 0) {
		log_warnx("%s: redis: %s", c->id, r->str ? r->str :
		    "unexpected reply");
		etrn_down(c);
	} else {
		buf_printf(&x, "pending=%lld queued=%s", n, n == 0 ? "no" :
		    busy ? "already" : "yes");
		etrn_log(c, POL_OK, x.s);
		answer(c, POL_OK, NULL);
	}
	buf_free(&x);
	conn_resume(c);
}

/* etrn_queue - run the shared flush-request script */
static int
etrn_queue(struct conn *c)
{
	const struct oe_settings *s = c->pd->s;
	struct flushreq f;
	struct flushreq_args a;
	int	rc;

	f.domain = c->etrn.domain;
	f.sub = 0;		/* Postfix strips "@": a domain only */
	f.client = client_of(c);
	f.via = s->hostname;
	f.lock_ttl = s->flush_lock_time;
	f.now = (long long)time(NULL);
	f.force = 0;
	flushreq_args(&a, &f);
	rc = ra_script(c->pd->redis, &flushreq_script, etrn_queued_cb, c,
	    FLUSHREQ_KEYS, FLUSHREQ_ARGC, a.av, NULL);
	flushreq_args_free(&a);
	if (rc == 0)
		c->busy = 1;
	return rc;
}

/* etrn_facts_cb - the entry's sasl_users: authorize, then queue */
static void
etrn_facts_cb(struct rr_reply *r, void *arg)
{
	struct conn *c = arg;
	enum pol_action a;

	if (!reply_begin(c))
		return;
	if (!facts_ok(r)) {
		log_warnx("%s: redis: %s", c->id, r->str ? r->str :
		    "unexpected reply");
		etrn_down(c);
	} else if ((a = decide_etrn(c->by_addr, r->elems[2],
	    pattr_get(&c->req, PA_SASL_USERNAME), &c->reason)) != POL_OK) {
		etrn_refuse(c, a);
	} else if (etrn_queue(c) < 0)
		etrn_down(c);
	conn_resume(c);
}

/* req_etrn - protocol_state=ETRN */
static int
req_etrn(struct conn *c)
{
	struct policyd *pd = c->pd;
	const struct dom_entry *e;

	if (etrn_parse(pattr_get(&c->req, PA_ETRN_DOMAIN), &c->etrn) < 0) {
		buf_cat(&c->reason, "not a dial-up domain here");
		etrn_refuse(c, POL_ETRN_DENIED);
		return 0;
	}
	if (!ratetab_allow(pd->rates, client_of(c), (long long)time(NULL),
	    pd->s->etrn_rate_limit)) {
		etrn_log(c, POL_ETRN_RATE, "reason=rate-limit");
		answer(c, POL_ETRN_RATE, NULL);
		return 0;
	}
	if (!pd->dw.loaded || !ra_connected(pd->redis)) {
		etrn_down(c);
		return 0;
	}
	c->by_addr = etrn_authorize(&pd->dw.domains, pd->s->etrn_allow, &c->etrn,
	    client_of(c), &c->reason);
	if ((e = etrn_entry(&pd->dw.domains, &c->etrn)) == NULL) {
		etrn_refuse(c, POL_ETRN_DENIED);
		return 0;
	}
	snprintf(c->entry, sizeof(c->entry), "%s", e->name);
	snprintf(c->domain, sizeof(c->domain), "%s", c->etrn.domain);
	if (facts(c, etrn_facts_cb) < 0)
		etrn_down(c);
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
	    policy_action_code(a));
	answer(c, a, NULL);
}

/* rcpt_facts_cb - the domain's held mail against its limits */
static void
rcpt_facts_cb(struct rr_reply *r, void *arg)
{
	struct conn *c = arg;
	const struct oe_settings *s;
	struct quota q;
	enum pol_action a;

	if (!reply_begin(c))
		return;
	s = c->pd->s;
	if (!facts_ok(r)) {
		log_warnx("%s: redis: %s", c->id, r->str ? r->str :
		    "unexpected reply");
		rcpt_down(c);
		conn_resume(c);
		return;
	}
	memset(&q, 0, sizeof(q));
	if (decide_limit(r->elems[0], CONF_INT, s->max_messages,
	    &q.max_messages) < 0)
		log_warnx("domain=%s bad %s \"%.40s\" in Redis, using the "
		    "default", c->entry, DF_MAX_MESSAGES, r->elems[0]);
	if (decide_limit(r->elems[1], CONF_SIZE, s->max_bytes,
	    &q.max_bytes) < 0)
		log_warnx("domain=%s bad %s \"%.40s\" in Redis, using the "
		    "default", c->entry, DF_MAX_BYTES, r->elems[1]);
	q.held = strtoll(r->elems[3], NULL, 10);
	q.bytes = strtoll(r->elems[4], NULL, 10);
	q.size = strtoll(pattr_get(&c->req, PA_SIZE), NULL, 10);
	if ((a = decide_quota(&q, c->domain, &c->reason)) != POL_DUNNO)
		log_info("%s: rcpt client=%s domain=%s action=%s held=%lld "
		    "bytes=%lld reason=quota", c->id, client_of(c), c->domain,
		    policy_action_code(a), q.held, q.bytes);
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

	if (addr_domain(pattr_get(&c->req, PA_RECIPIENT), &d, NULL) < 0 ||
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
int
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
