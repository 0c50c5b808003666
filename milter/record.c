/*
 * NAME
 *	record - the message model and the hold/split decision (pure)
 * DESCRIPTION
 *	Everything here is free of libmilter and Redis so it is unit-tested
 *	directly: parsing of the envelope and its DSN parameters (RFC 3461
 *	RET, ENVID, NOTIFY, ORCPT), the bounded header copy kept in the
 *	hold record, and record_plan_make(), which decides what happens to a
 *	message:
 *	- no recipient in a dial-up domain: pass untouched;
 *	- all recipients in one dial-up domain: hold the message;
 *	- otherwise: every dial-up domain whose recipients cannot stay with
 *	  the original gets its own copy, re-injected with only those
 *	  recipients (and held when it comes back through the milter); the
 *	  original keeps the other recipients.  When every recipient is in
 *	  some dial-up domain, the first domain stays with the original and
 *	  is held.
 * SECURITY
 *	Addresses and parameter values with control characters, spaces
 *	(outside quotes) or overlong text are refused here, so nothing from
 *	the envelope can split a record line or a header later.
 */
#include "config.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mail/domain.h"
#include "milter/milter.h"
#include "util/xalloc.h"

#define ADDR_MAX	1000
#define ESMTP_VALUE_MAX	500

/* record_esmtp_ok - printable ASCII without space, bounded */
int
record_esmtp_ok(const char *v)
{
	size_t	n;

	for (n = 0; v[n]; n++)
		if ((unsigned char)v[n] <= 32 || (unsigned char)v[n] >= 127 ||
		    n >= ESMTP_VALUE_MAX)
			return 0;
	return n > 0;
}

/* record_addr_ok - no control characters, bounded; UTF-8 allowed (SMTPUTF8) */
static int
record_addr_ok(const char *a)
{
	size_t	n;

	for (n = 0; a[n]; n++)
		if ((unsigned char)a[n] < 32 || a[n] == 127 || n >= ADDR_MAX)
			return 0;
	return 1;
}

/* record_addr_strip - copy without surrounding angle brackets */
static char *
record_addr_strip(const char *arg)
{
	size_t	len = strlen(arg);

	if (len >= 2 && arg[0] == '<' && arg[len - 1] == '>')
		return xstrndup(arg + 1, len - 2);
	return xstrdup(arg);
}

/* record_param - "NAME=value" match; value pointer or NULL */
static const char *
record_param(const char *arg, const char *name)
{
	size_t	n = strlen(name);

	if (strncasecmp(arg, name, n) == 0 && arg[n] == '=')
		return arg + n + 1;
	return NULL;
}

/* record_reset - forget the message, keep nothing */
void
record_reset(struct msg *m)
{
	size_t	i;

	free(m->sender);
	free(m->ret);
	free(m->envid);
	free(m->body);
	for (i = 0; i < m->nrcpt; i++) {
		free(m->rcpt[i].arg);
		free(m->rcpt[i].addr);
		free(m->rcpt[i].domain);
		free(m->rcpt[i].notify);
		free(m->rcpt[i].orcpt);
	}
	free(m->rcpt);
	buf_free(&m->headers);
	if (m->spool)
		fclose(m->spool);
	memset(m, 0, sizeof(*m));
}

/* record_set_sender - MAIL FROM and its parameters; -1 with a reason */
int
record_set_sender(struct msg *m, const char *arg, char **args, struct buf *why)
{
	const char *v;

	record_reset(m);
	if (!record_addr_ok(arg)) {
		buf_cat(why, "invalid sender address");
		return -1;
	}
	m->sender = record_addr_strip(arg);
	for (; args && *args; args++) {
		if ((v = record_param(*args, "RET")) != NULL) {
			if (strcasecmp(v, "FULL") != 0 &&
			    strcasecmp(v, "HDRS") != 0) {
				buf_cat(why, "invalid RET parameter");
				return -1;
			}
			free(m->ret);
			m->ret = xstrdup(strcasecmp(v, "FULL") ? "HDRS" :
			    "FULL");
		} else if ((v = record_param(*args, "ENVID")) != NULL) {
			if (!record_esmtp_ok(v) || strlen(v) > 100) {
				buf_cat(why, "invalid ENVID parameter");
				return -1;
			}
			free(m->envid);
			m->envid = xstrdup(v);
		} else if ((v = record_param(*args, "BODY")) != NULL) {
			if (strcasecmp(v, "7BIT") != 0 &&
			    strcasecmp(v, "8BITMIME") != 0 &&
			    strcasecmp(v, "BINARYMIME") != 0) {
				buf_cat(why, "invalid BODY parameter");
				return -1;
			}
			free(m->body);
			m->body = xstrdup(v);
		} else if (strcasecmp(*args, "SMTPUTF8") == 0)
			m->smtputf8 = 1;
		/* SIZE, AUTH, ...: not carried over to copies */
	}
	return 0;
}

/* record_add_rcpt - RCPT TO and its parameters; -1 with a reason */
int
record_add_rcpt(struct msg *m, const char *arg, char **args, struct buf *why)
{
	struct rcpt r;
	struct buf dom = BUF_INIT;
	const char *v;

	memset(&r, 0, sizeof(r));
	if (!record_addr_ok(arg)) {
		buf_cat(why, "invalid recipient address");
		return -1;
	}
	for (; args && *args; args++) {
		if ((v = record_param(*args, "NOTIFY")) != NULL) {
			if (!record_esmtp_ok(v) || r.notify) {
				buf_cat(why, "invalid NOTIFY parameter");
				goto bad;
			}
			r.notify = xstrdup(v);
		} else if ((v = record_param(*args, "ORCPT")) != NULL) {
			if (!record_esmtp_ok(v) || strchr(v, ';') == NULL ||
			    r.orcpt) {
				buf_cat(why, "invalid ORCPT parameter");
				goto bad;
			}
			r.orcpt = xstrdup(v);
		}
	}
	r.arg = xstrdup(arg);
	r.addr = record_addr_strip(arg);
	if (dom_addr_domain(r.addr, &dom, NULL) == 0)
		r.domain = buf_steal(&dom);
	buf_free(&dom);
	if (m->nrcpt == m->rcap) {
		m->rcap = m->rcap ? m->rcap * 2 : 8;
		m->rcpt = xreallocarray(m->rcpt, m->rcap, sizeof(*m->rcpt));
	}
	m->rcpt[m->nrcpt++] = r;
	return 0;
bad:
	free(r.notify);
	free(r.orcpt);
	return -1;
}

/* record_add_header - count size, keep a bounded copy for the record */
void
record_add_header(struct msg *m, const char *name, const char *value,
    size_t max)
{
	size_t	len = strlen(name) + 2 + strlen(value) + 1;

	m->size += len + 1;	/* CRLF on the wire */
	if (m->headers_truncated || m->headers.len + len > max) {
		m->headers_truncated = 1;
		return;
	}
	buf_printf(&m->headers, "%s: %s\n", name, value);
}

/* record_plan_group - group of a domain, created if new */
static struct rgroup *
record_plan_group(struct plan *p, const char *domain)
{
	size_t	i;

	for (i = 0; i < p->ngroups; i++)
		if (strcmp(p->groups[i].domain, domain) == 0)
			return &p->groups[i];
	p->groups = xreallocarray(p->groups, p->ngroups + 1,
	    sizeof(*p->groups));
	memset(&p->groups[p->ngroups], 0, sizeof(*p->groups));
	p->groups[p->ngroups].domain = domain;
	return &p->groups[p->ngroups++];
}

/* record_plan_make - group dial-up recipients; 1 when anything is held */
int
record_plan_make(const struct msg *m, struct plan *p)
{
	struct rgroup *g;
	size_t	i;

	memset(p, 0, sizeof(*p));
	p->hold = -1;
	for (i = 0; i < m->nrcpt; i++) {
		if (!m->rcpt[i].dialup || m->rcpt[i].domain == NULL) {
			p->nother++;
			continue;
		}
		g = record_plan_group(p, m->rcpt[i].domain);
		g->idx = xreallocarray(g->idx, g->n + 1, sizeof(size_t));
		g->idx[g->n++] = i;
	}
	if (p->ngroups > 0 && p->nother == 0)
		p->hold = 0;
	return p->ngroups > 0;
}

/* record_plan_free - release the groups */
void
record_plan_free(struct plan *p)
{
	size_t	i;

	for (i = 0; i < p->ngroups; i++)
		free(p->groups[i].idx);
	free(p->groups);
	memset(p, 0, sizeof(*p));
}

/* record_rcpts - "addr TAB notify TAB orcpt" lines for a group */
void
record_rcpts(struct buf *b, const struct msg *m, const struct rgroup *g)
{
	size_t	i;

	buf_reset(b);
	for (i = 0; i < g->n; i++) {
		const struct rcpt *r = &m->rcpt[g->idx[i]];

		buf_printf(b, "%s\t%s\t%s\n", r->addr,
		    r->notify ? r->notify : "", r->orcpt ? r->orcpt : "");
	}
	buf_terminate(b);
}

/*
 * record_reason - the quarantine reason, "held for ETRN by <domain>", at
 * most REASON_MAX octets.  Postfix keeps the first 100 octets of the
 * text a milter gives smfi_quarantine() (milter8.c, SMFIR_QUARANTINE:
 * "if (saved_size > 100) saved_size = 100") and logs them as cleanup's
 * "milter-hold: ...;" line; a longer text is cut there without a mark.
 * A domain longer than fits (up to 253 octets) is cut here and ends in
 * "...", never inside a UTF-8 sequence (normalised domains are A-labels,
 * ASCII, but the rule costs nothing).
 */
void
record_reason(struct buf *b, const char *domain)
{
	static const char prefix[] = "held for ETRN by ", cut[] = "...";
	size_t	room = REASON_MAX - (sizeof(prefix) - 1), n = strlen(domain);

	buf_reset(b);
	buf_cat(b, prefix);
	if (n > room) {
		n = room - (sizeof(cut) - 1);
		while (n > 0 && ((unsigned char)domain[n] & 0xC0) == 0x80)
			n--;
	}
	buf_add(b, domain, n);
	if (n < strlen(domain))
		buf_cat(b, cut);
	buf_terminate(b);
}
