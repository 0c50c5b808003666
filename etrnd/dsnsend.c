/*
 * NAME
 *	dsnsend - hand a DSN to the MTA through a service that holds it
 * SUMMARY
 *	dsn_submit(&runner, rcpt, text, len, qid, sizeof(qid), &err);
 *	dsn_find_held(&runner, since, message_id, qid, sizeof(qid));
 *	dsn_release(&runner, ids, n, out); dsn_release_one(&runner, qid);
 * DESCRIPTION
 *	With dsn_server set, a DSN is submitted by SMTP (null sender, one
 *	recipient) to an smtpd of the MTA that puts every message it
 *	accepts on hold (Postfix: check_client_access static:HOLD), and its
 *	queue ID is taken from the "250 ... queued as ID" reply.  Only after
 *	the ID is recorded does the queue runner release the DSN.  So a DSN
 *	the MTA took while etrnd could not record it (killed, Redis down)
 *	is still on hold, unseen by anyone, when etrnd goes on: it looks for
 *	it (dsn_find_held: the hold queue files written since the attempt
 *	began, by their Message-ID, which is derived from the hold token)
 *	and releases that one instead of sending another.  Release is
 *	requeue where the backend has it (Postfix: one `postsuper -r - hold`
 *	for a sweep's DSNs, through pickup at once), else release.
 * SECURITY
 *	The recipient (the original envelope sender) is refused if it holds
 *	a control character, so it cannot add an SMTP command.  Found files
 *	are matched on the whole Message-ID value.
 * DIAGNOSTICS
 *	dsn_submit: 0 accepted (qid may be empty if the reply named none),
 *	1 refused for good (5xx, or an address SMTP cannot carry), -1
 *	try again; the reason in err.  dsn_find_held: 1 found, 0 not, -1
 *	the queue could not be read.  dsn_release: which DSNs are out of the
 *	hold queue, -1 when the queue cannot be asked.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "etrnd/runner.h"
#include "mail/holdtag.h"
#include "util/log.h"
#include "util/smtpc.h"

/* dsn_submit - one DSN to dsn_server (see DESCRIPTION) */
int
dsn_submit(struct runner *r, const char *rcpt, const char *text, size_t len,
    char *qid, size_t qidsize, struct buf *err)
{
	struct smtpc s;
	const unsigned char *p;
	int	utf8 = 0, rc = -1;

	*qid = '\0';
	for (p = (const unsigned char *)rcpt; *p; p++) {
		if (*p < 32 || *p == 127) {
			buf_cat(err, "the address holds a control character");
			return 1;
		}
		utf8 |= *p >= 128;
	}
	if (*rcpt == '\0') {
		buf_cat(err, "empty address");
		return 1;
	}
	if (smtpc_open(&s, r->s->dsn_server, (int)r->s->dsn_timeout * 1000,
	    "DSN server", r->s->hostname, err) < 0)
		return -1;
	if (utf8 && !s.smtputf8) {
		buf_cat(err, "DSN server does not offer SMTPUTF8");
		rc = 1;
	} else if (smtpc_cmd(&s, 2, "MAIL FROM:<>%s", utf8 ? " SMTPUTF8" :
	    "") == 0 && smtpc_cmd(&s, 2, "RCPT TO:<%s>", rcpt) == 0 &&
	    smtpc_cmd(&s, 3, "DATA") == 0 && smtpc_data(&s, text, len) == 0 &&
	    smtpc_cmd(&s, 2, NULL) == 0) {
		if (smtpc_queued_as(&s, qid, qidsize) == NULL ||
		    !qid_valid(qid))
			*qid = '\0';
		(void)smtpc_cmd(&s, 2, "QUIT");
		rc = 0;
	} else if (s.last.s != NULL && s.last.s[0] == '5')
		rc = 1;
	smtpc_close(&s);
	return rc;
}

/* dsn_message_id_is - is the header block's Message-ID value want */
static int
dsn_message_id_is(const char *hdrs, const char *want)
{
	const char *p, *v, *e;
	size_t	n = strlen(want);

	for (p = hdrs; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 :
	    NULL) {
		if (*p == '\n')
			break;		/* end of the header */
		if (strncasecmp(p, "Message-ID:", 11) != 0)
			continue;
		for (v = p + 11; *v == ' ' || *v == '\t'; v++)
			;
		for (e = v; *e && *e != '\n' && *e != '\r'; e++)
			;
		while (e > v && (e[-1] == ' ' || e[-1] == '\t'))
			e--;
		return (size_t)(e - v) == n && strncmp(v, want, n) == 0;
	}
	return 0;
}

/* dsn_find_held - a held DSN with this Message-ID written since */
int
dsn_find_held(struct runner *r, long long since, const char *msgid,
    char *qid, size_t qidsize)
{
	struct qb_idlist ids = { NULL, 0, 0 };
	struct buf hdrs = BUF_INIT;
	size_t	i;
	int	found = 0;

	*qid = '\0';
	if (r->qb->held_since == NULL)
		return 0;
	if (run_qb(r->qb->held_since(&r->qc, since, &ids), "hold queue") !=
	    QB_OK) {
		qb_idlist_free(&ids);
		return -1;
	}
	for (i = 0; i < ids.n && !found; i++) {
		buf_reset(&hdrs);
		if (r->qb->read(&r->qc, ids.id[i], QB_READ_HEADERS, &hdrs) !=
		    QB_OK)
			continue;	/* gone meanwhile: not a held DSN */
		if (dsn_message_id_is(buf_terminate(&hdrs), msgid) &&
		    strlen(ids.id[i]) < qidsize) {
			snprintf(qid, qidsize, "%s", ids.id[i]);
			found = 1;
		}
	}
	buf_free(&hdrs);
	qb_idlist_free(&ids);
	return found;
}

/*
 * dsn_release - held DSNs out of the hold queue (requeued, or released
 * where the backend cannot requeue); out[i] = 1 for each that is out
 * (or was out already: released before etrnd stopped), 0 for one still
 * held.  -1 when the queue cannot be asked.
 */
int
dsn_release(struct runner *r, char *const *ids, size_t n, int *out)
{
	struct qb_qinfo *qi;
	enum qb_status st;
	size_t	i;

	if (n == 0)
		return 0;
	(void)run_qb(r->qb->requeue ? r->qb->requeue(&r->qc, ids, n) :
	    r->qb->release(&r->qc, ids, n), "DSN release");
	/* Whatever the command said: the queue tells what is out. */
	if ((qi = run_status(r, ids, n, &st)) == NULL)
		return -1;
	for (i = 0; i < n; i++)
		out[i] = qi[i].state != QS_HELD;
	qb_qinfo_free(qi, n);
	free(qi);
	return 0;
}

/* dsn_release_one - one held DSN out of the hold queue: 0, or -1 */
int
dsn_release_one(struct runner *r, const char *qid)
{
	char	*ids[1];
	int	out = 0;

	ids[0] = (char *)(uintptr_t)qid;
	return dsn_release(r, ids, 1, &out) == 0 && out ? 0 : -1;
}
