/*
 * NAME
 *	reinject - submit one dial-up domain's copy of a split message
 * DESCRIPTION
 *	A message whose recipients are not all in one dial-up domain is
 *	split: each dial-up domain that must leave the original gets a copy
 *	sent by SMTP to reinject_server (a dedicated smtpd of the same MTA,
 *	with the same milters), addressed only to that domain's recipients.
 *	The copy comes back through etrn-milter as a single-domain message
 *	and is held like any other.  The envelope is kept: the sender, RET,
 *	ENVID, BODY, SMTPUTF8, and each recipient's NOTIFY and ORCPT.
 *
 *	Never downgraded: a copy that carries a parameter of an extension
 *	the server does not announce in its EHLO reply (DSN for RET, ENVID,
 *	NOTIFY or ORCPT; 8BITMIME for BODY=8BITMIME; SMTPUTF8) is not sent,
 *	because dropping NOTIFY=NEVER would send DSNs the sender refused,
 *	and dropping BODY or SMTPUTF8 would mislabel the content.
 *	BODY=BINARYMIME is never re-injected: it needs BDAT, and this client
 *	sends DATA.  BODY=7BIT goes only to a server with 8BITMIME (it is
 *	that extension's parameter, and 7bit the default without it).
 *
 *	reinject_probe() asks the server's EHLO once and logs which of the
 *	above would make splits fail (etrn-milter calls it from its
 *	background thread at start and after SIGUSR1, see domcache.c); it is
 *	confcheck_reinject(), which etrn-milter -t runs too.
 *
 *	The message text is the milter's spooled copy of the headers and
 *	body; lines are sent with CRLF endings and dot-stuffed.
 * DIAGNOSTICS
 *	-1 with the server's reply (or the I/O error) in *err.  The caller
 *	tempfails the original, so nothing is lost: the client retries.  A
 *	copy accepted before a later failure may then arrive twice, which
 *	is SMTP's usual at-least-once outcome.  A missing extension is
 *	such a failure, reported as "reinject_server does not offer DSN"
 *	(8BITMIME, SMTPUTF8) before MAIL FROM is sent.
 *	reinject_probe: 0 with a warning per missing extension, -1 with a
 *	warning when the server could not be asked.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "mail/confcheck.h"
#include "milter/milter.h"
#include "util/log.h"
#include "util/smtpc.h"

/* reinject_has_dsn - does group g's copy carry any DSN parameter */
static int
reinject_has_dsn(const struct msg *m, const struct rgroup *g)
{
	size_t	i;

	if (m->ret != NULL || m->envid != NULL)
		return 1;
	for (i = 0; i < g->n; i++)
		if (m->rcpt[g->idx[i]].notify != NULL ||
		    m->rcpt[g->idx[i]].orcpt != NULL)
			return 1;
	return 0;
}

/* reinject_lacks - why server s cannot take g's copy as is; NULL if it can */
const char *
reinject_lacks(const struct msg *m, const struct rgroup *g,
    const struct smtpc *s)
{
	if (m->body != NULL && strcasecmp(m->body, "BINARYMIME") == 0)
		return "BODY=BINARYMIME cannot be re-injected (needs BDAT)";
	if (m->smtputf8 && !s->smtputf8)
		return "reinject_server does not offer SMTPUTF8";
	if (m->body != NULL && strcasecmp(m->body, "8BITMIME") == 0 &&
	    !s->eightbit)
		return "reinject_server does not offer 8BITMIME "
		    "(BODY=8BITMIME)";
	if (!s->dsn && reinject_has_dsn(m, g))
		return "reinject_server does not offer DSN (the copy has "
		    "NOTIFY, ORCPT, RET or ENVID)";
	return NULL;
}

/* reinject_txn - one SMTP transaction for the copy */
static int
reinject_txn(struct smtpc *s, struct msg *m, const struct rgroup *g,
    struct buf *queued)
{
	const char *why;
	size_t	i;

	/* Refuse rather than drop a parameter (see DESCRIPTION). */
	if ((why = reinject_lacks(m, g, s)) != NULL) {
		buf_cat(s->err, why);
		return -1;
	}
	if (smtpc_cmd(s, 2, "MAIL FROM:<%s>%s%s%s%s%s%s%s", m->sender,
	    m->ret ? " RET=" : "", m->ret ? m->ret : "",
	    m->envid ? " ENVID=" : "", m->envid ? m->envid : "",
	    s->eightbit && m->body ? " BODY=" : "",
	    s->eightbit && m->body ? m->body : "",
	    m->smtputf8 ? " SMTPUTF8" : "") < 0)
		return -1;
	for (i = 0; i < g->n; i++) {
		const struct rcpt *r = &m->rcpt[g->idx[i]];

		if (smtpc_cmd(s, 2, "RCPT TO:<%s>%s%s%s%s", r->addr,
		    r->notify ? " NOTIFY=" : "", r->notify ? r->notify : "",
		    r->orcpt ? " ORCPT=" : "", r->orcpt ? r->orcpt : "") < 0)
			return -1;
	}
	if (smtpc_cmd(s, 3, "DATA") < 0 || smtpc_data_file(s, m->spool) < 0 ||
	    smtpc_cmd(s, 2, NULL) < 0)
		return -1;
	buf_reset(queued);
	buf_add(queued, s->last.s, s->last.len);
	(void)smtpc_cmd(s, 2, "QUIT");
	return 0;
}

/* reinject_copy - send group g's copy; the server's final reply in
 * *queued, or -1 with *err set */
int
reinject_copy(const struct cfg *c, struct msg *m, const struct rgroup *g,
    struct buf *queued, struct buf *err)
{
	struct smtpc s;
	int	rc;

	if (m->spool == NULL || m->spool_error) {
		buf_cat(err, "no spooled copy of the message");
		return -1;
	}
	if (smtpc_open(&s, c->s.reinject_server,
	    (int)c->s.reinject_timeout * 1000, "re-injection server",
	    c->s.hostname, err) < 0)
		return -1;
	rc = reinject_txn(&s, m, g, queued);
	smtpc_close(&s);
	return rc;
}

/* reinject_probe - log which extensions reinject_server lacks */
int
reinject_probe(const struct cfg *c)
{
	return confcheck_reinject(&c->s);
}
