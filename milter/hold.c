/*
 * NAME
 *	hold - what etrn-milter does at end of message
 * DESCRIPTION
 *	hold_eom() turns the plan (record.c) into milter actions, in an
 *	order chosen so that a failure at any step leaves nothing lost:
 *	1. forged X-ETRN-Hold headers are deleted from every message (on
 *	   the DSN daemon too);
 *	2. each dial-up domain that must leave the original is re-injected
 *	   as its own copy (reinject.c); any failure tempfails the
 *	   original, before anything else was changed;
 *	3. the copied recipients are removed from the original;
 *	4. for the domain held with the original: the hold record is
 *	   written to Redis first, then the tag header, signed with the
 *	   installation's secret (holdtag.c), is added and the message
 *	   quarantined.  If Redis fails the original is tempfailed
 *	   (on_redis_error = tempfail) or passed on unheld (accept: it then
 *	   waits in the deferred queue and expires like any undeliverable
 *	   mail).  The record is written "pending": it counts nowhere
 *	   until etrnd finds the message on hold, and one whose message
 *	   never reaches the hold queue is dropped after pending_timeout
 *	   (etrnd/pending.c).
 *	On the MTA daemon named by dsn_daemon_name (the {daemon_name}
 *	macro), where etrnd submits DSNs, every message is put on hold
 *	(quarantined) as it is, without a record: etrnd notes its queue ID
 *	and releases it itself (etrnd/dsnsend.c).  Recipients there are not
 *	looked up, so a DSN to a dial-up domain is not held for ETRN.
 * DIAGNOSTICS
 *	One log line per decision, queue ID first: held, split, pass (in
 *	verbose mode), tempfail with the reason.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libmilter/mfapi.h>

#include "mail/holdtag.h"
#include "mail/qid.h"
#include "mail/replies.h"
#include "milter/hold.h"
#include "milter/milter.h"
#include "util/log.h"

/* hold_reply - set an SMTP reply from the table; the sfsistat */
sfsistat
hold_reply(SMFICTX *ctx, enum reply_id id)
{
	const struct reply *r = reply_get(id);

	(void)smfi_setreply(ctx, (char *)r->code, (char *)r->dsn,
	    (char *)r->text);
	return r->code[0] == '4' ? SMFIS_TEMPFAIL : SMFIS_REJECT;
}

/* hold_untag - delete X-ETRN-Hold headers the message came with */
static void
hold_untag(SMFICTX *ctx, const char *qid, int ntags)
{
	int	i;

	for (i = ntags; i >= 1; i--)
		if (smfi_chgheader(ctx, (char *)HOLDTAG_HEADER, i, NULL) !=
		    MI_SUCCESS)
			log_warnx("%s: could not delete an incoming %s header",
			    qid, HOLDTAG_HEADER);
	if (ntags > 0)
		log_info("%s: removed %d incoming %s header%s", qid, ntags,
		    HOLDTAG_HEADER, ntags > 1 ? "s" : "");
}

/* hold_split - re-inject each copy, then drop its recipients */
static int
hold_split(SMFICTX *ctx, struct conn *cn, const char *qid,
    const struct plan *p)
{
	struct buf err = BUF_INIT, queued = BUF_INIT;
	struct msg *m = &cn->msg;
	size_t	i, j;

	for (i = 0; i < p->ngroups; i++) {
		if ((long)i == p->hold)
			continue;
		if (reinject_copy(cn->cfg, m, &p->groups[i], &queued,
		    &err) < 0) {
			log_warnx("%s: tempfail: copy for domain=%s failed: %s",
			    qid, p->groups[i].domain, buf_terminate(&err));
			buf_free(&err);
			buf_free(&queued);
			return -1;
		}
		log_info("%s: split domain=%s nrcpt=%zu copy=\"%s\"", qid,
		    p->groups[i].domain, p->groups[i].n,
		    buf_terminate(&queued));
	}
	for (i = 0; i < p->ngroups; i++) {
		if ((long)i == p->hold)
			continue;
		for (j = 0; j < p->groups[i].n; j++) {
			const struct rcpt *r = &m->rcpt[p->groups[i].idx[j]];

			if (smfi_delrcpt(ctx, r->arg) != MI_SUCCESS)
				log_warnx("%s: could not remove recipient "
				    "<%s> from the original", qid, r->addr);
		}
	}
	buf_free(&err);
	buf_free(&queued);
	return 0;
}

/* hold_times - arrival, deadline and warning time for a group */
static void
hold_times(const struct conn *cn, const struct rcpt *r, struct hold_info *h)
{
	long long hold = r->hold_time > 0 ? r->hold_time :
	    cn->cfg->s.hold_time;
	long long warn = r->warn_time >= 0 ? r->warn_time :
	    cn->cfg->s.warn_time;

	h->arrived = (long long)time(NULL);
	h->expires = h->arrived + hold;
	h->warn_at = warn > 0 && warn < hold ? h->arrived + warn : 0;
}

/* hold_original - record, tag and quarantine the original */
static sfsistat
hold_original(SMFICTX *ctx, struct conn *cn, const char *qid,
    const struct rgroup *g)
{
	struct msg *m = &cn->msg;
	struct hold_info h;
	struct holdtag t;
	struct buf err = BUF_INIT, val = BUF_INIT, reason = BUF_INIT;
	sfsistat rc = SMFIS_CONTINUE;

	memset(&h, 0, sizeof(h));
	memset(&t, 0, sizeof(t));
	h.qid = qid;
	h.domain = g->domain;
	h.client = cn->client;
	hold_times(cn, &m->rcpt[g->idx[0]], &h);
	if (holdtag_token_new(t.token, sizeof(t.token)) < 0) {
		log_err("%s: tempfail: no random bytes for a hold token", qid);
		return hold_reply(ctx, R_HOLD_TEMPFAIL);
	}
	h.token = t.token;
	if (store_hold(cn->cfg, m, g, &h, &err) < 0) {
		if (cn->cfg->s.on_redis_error == ON_ERROR_ACCEPT) {
			log_warnx("%s: accepted without hold: domain=%s "
			    "reason=\"%s\" (on_redis_error = accept)", qid,
			    g->domain, buf_terminate(&err));
			buf_free(&err);
			return SMFIS_CONTINUE;
		}
		log_warnx("%s: tempfail: domain=%s reason=\"%s\"", qid,
		    g->domain, buf_terminate(&err));
		buf_free(&err);
		return hold_reply(ctx, R_HOLD_TEMPFAIL);
	}
	snprintf(t.domain, sizeof(t.domain), "%s", g->domain);
	snprintf(t.host, sizeof(t.host), "%s", cn->cfg->s.hostname);
	t.arrived = h.arrived;
	t.expires = h.expires;
	t.size = (long long)m->size;	/* the record's (store.c) */
	holdtag_format(&val, &t);
	record_reason(&reason, g->domain);
	if (smfi_addheader(ctx, (char *)HOLDTAG_HEADER, val.s) != MI_SUCCESS ||
	    smfi_quarantine(ctx, reason.s) != MI_SUCCESS) {
		log_err("%s: tempfail: the MTA refused the tag or quarantine",
		    qid);
		rc = hold_reply(ctx, R_HOLD_TEMPFAIL);
	} else
		log_info("%s: held domain=%s from=<%s> nrcpt=%zu size=%llu "
		    "expires=%lld token=%s", qid, g->domain, m->sender, g->n,
		    m->size, h.expires, t.token);
	buf_free(&val);
	buf_free(&reason);
	return rc;
}

/* hold_dsn - a DSN from etrnd: on hold, no record (see above) */
static sfsistat
hold_dsn(SMFICTX *ctx, struct conn *cn, const char *qid)
{
	if (smfi_quarantine(ctx, (char *)"openetrn DSN, released by etrnd") !=
	    MI_SUCCESS) {
		log_err("%s: tempfail: the MTA refused to hold a DSN from %s",
		    qid ? qid : "NOQUEUE", cn->client);
		return hold_reply(ctx, R_HOLD_TEMPFAIL);
	}
	log_info("%s: DSN held for etrnd: daemon=%s client=%s nrcpt=%zu",
	    qid ? qid : "NOQUEUE", cn->cfg->s.dsn_daemon_name, cn->client,
	    cn->msg.nrcpt);
	return SMFIS_CONTINUE;
}

/* hold_eom - end of message (see above) */
sfsistat
hold_eom(SMFICTX *ctx, struct conn *cn)
{
	const char *qid = smfi_getsymval(ctx, (char *)"{i}");
	struct msg *m = &cn->msg;
	struct plan p;
	sfsistat rc = SMFIS_CONTINUE;

	if (qid != NULL && !qid_valid(qid))
		qid = NULL;
	if (cn->dsn) {
		hold_untag(ctx, qid ? qid : "NOQUEUE", m->ntags);
		return hold_dsn(ctx, cn, qid);
	}
	if (record_plan_make(m, &p) && qid == NULL) {
		log_err("NOQUEUE: tempfail: no valid queue ID macro {i} at end "
		    "of message");
		record_plan_free(&p);
		return hold_reply(ctx, R_NO_QUEUEID);
	}
	hold_untag(ctx, qid ? qid : "NOQUEUE", m->ntags);
	if (p.ngroups == 0) {
		log_debug("%s: pass nrcpt=%zu", qid ? qid : "NOQUEUE",
		    m->nrcpt);
	} else if (hold_split(ctx, cn, qid, &p) < 0)
		rc = hold_reply(ctx, R_SPLIT_TEMPFAIL);
	else if (p.hold >= 0)
		rc = hold_original(ctx, cn, qid, &p.groups[p.hold]);
	record_plan_free(&p);
	return rc;
}
