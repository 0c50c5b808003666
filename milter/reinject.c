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
 *	The message text is the milter's spooled copy of the headers and
 *	body; lines are sent with CRLF endings and dot-stuffed.
 * DIAGNOSTICS
 *	-1 with the server's reply (or the I/O error) in *err.  The caller
 *	tempfails the original, so nothing is lost: the client retries.  A
 *	copy accepted before a later failure may then arrive twice, which
 *	is SMTP's usual at-least-once outcome.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "milter/milter.h"
#include "util/smtpc.h"

/* reinject_txn - one SMTP transaction for the copy */
static int
reinject_txn(struct smtpc *s, struct msg *m, const struct rgroup *g,
    struct buf *queued)
{
	size_t	i;

	if (m->smtputf8 && !s->smtputf8) {
		buf_cat(s->err, "re-injection server does not offer SMTPUTF8");
		return -1;
	}
	if (smtpc_cmd(s, 2, "MAIL FROM:<%s>%s%s%s%s%s%s%s", m->sender,
	    s->dsn && m->ret ? " RET=" : "", s->dsn && m->ret ? m->ret : "",
	    s->dsn && m->envid ? " ENVID=" : "",
	    s->dsn && m->envid ? m->envid : "",
	    s->eightbit && m->body ? " BODY=" : "",
	    s->eightbit && m->body ? m->body : "",
	    m->smtputf8 ? " SMTPUTF8" : "") < 0)
		return -1;
	for (i = 0; i < g->n; i++) {
		const struct rcpt *r = &m->rcpt[g->idx[i]];

		if (smtpc_cmd(s, 2, "RCPT TO:<%s>%s%s%s%s", r->addr,
		    s->dsn && r->notify ? " NOTIFY=" : "",
		    s->dsn && r->notify ? r->notify : "",
		    s->dsn && r->orcpt ? " ORCPT=" : "",
		    s->dsn && r->orcpt ? r->orcpt : "") < 0)
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
