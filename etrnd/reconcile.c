/*
 * NAME
 *	reconcile - make the index agree with the MTA's hold queue again
 * SUMMARY
 *	rcn_start(&r, &conf); while (rcn_held(&r, ids, reads) > 0) ...;
 *	rcn_drop_start(&r); while (rcn_drop(&r, n) > 0) ...; rcn_free(&r);
 * DESCRIPTION
 *	The MTA's queue is the truth and Redis the index.  This module
 *	repairs the index after Redis lost data or records were left
 *	behind; `etrnctl reconcile' runs a whole pass for the administrator,
 *	etrnd's queue runner one every reconcile_interval (rcnrun.c), in
 *	steps of bounded size so that it serves flush requests between them.
 *
 *	From the queue: the hold queue is listed once (rcn_start); for each
 *	message the last valid X-ETRN-Hold header (holdtag_parse(), both
 *	times present) is looked for; a message without one was not held by
 *	openetrn and is skipped.  Only a tag whose MAC verifies is trusted:
 *	a forged or unsigned one builds no record and is never ok, even
 *	where a record with its token exists (no version of etrn-milter
 *	wrote unsigned tags); such files are logged and reported as
 *	skipped.  A record
 *	etrn:msg:<host>:<qid> with the tag's token is ok; for etrnctl a
 *	pending one (etrn-milter wrote it, etrnd has not yet seen the
 *	message on hold) is counted now, as etrnd's pending step does
 *	(reported as rebuilt), never written a second time.  Otherwise
 *	the record is built again: domain, token, arrived, expires and
 *	size (as the milter counted it, what byte quotas add up) from the
 *	tag; state held; sender,
 *	recipients (NOTIFY, ORCPT), RET and ENVID from the queue file's
 *	envelope (backend envelope), and the size too for a tag without
 *	size=; the other headers, bounded by
 *	max_header_bytes as the milter does; no client, no delay warning.
 *	One script per message (holdrec_rebuild) writes the record and its
 *	index entries as the milter's does, after taking out the
 *	contributions of a record
 *	with another token, and checks the token again; the counters go up
 *	only when the held ZSET gains the member, so a member that survived
 *	the loss is not counted twice.
 *
 *	etrnd's pass (conf.runner): any record of the queue ID counts as
 *	present, whatever its token or state (one being released, expired,
 *	or written by the milter), and the script checks that again; Redis
 *	is asked first, in one script per step (holdrec_missing), which IDs
 *	have no record, and those are located again before they are read,
 *	so the common
 *	case reads no queue file and a message that left the hold since the
 *	listing is passed over.
 *
 *	From Redis (rcn_drop_start, rcn_drop): the queue IDs of
 *	etrn:expiry:<host> (for etrnctl also etrn:released:<host>; etrnd's
 *	tracking follows those) that were not listed on hold are located;
 *	for those gone the record is read (token, domain, arrival, state),
 *	then they are located again.  A record is dropped with its index
 *	entries (held - 1, bytes - size, oldest recomputed) only when both
 *	looks found no file and neither failed: a queue that cannot be read
 *	is never "gone", the step returns RCN_QUEUE with nothing of it
 *	dropped (holdrec_drop).  Kept too: a record whose token changed
 *	since it was read,
 *	one younger than RCN_GRACE (the milter writes it just before the MTA
 *	finishes the file, and listings leave out unfinished files), and in
 *	etrnd's pass one not in state held (released: tracking's; expiring:
 *	expiry's; others: their writer's).
 *
 *	With conf.dry the same checks are made and reported; nothing is
 *	written.
 * SECURITY
 *	Queue IDs come from the MTA's listing or from Redis and pass
 *	qid_valid() before they reach a key or a command; commands run with
 *	argv, never a shell.  Tags are trusted only when their MAC, keyed
 *	with hold_secret_file, verifies: mail can reach the hold queue
 *	without the milter (the DSN service), so a tag alone proves
 *	nothing.
 * DIAGNOSTICS
 *	conf.note is told what was done with each message that was not
 *	found in order (queue ID, action, domain, why); conf.redis_error of
 *	a failed Redis call, after which the step returns -1.  A hold queue
 *	that cannot be listed or located is logged here and returned as
 *	RCN_QUEUE.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "etrnd/reconcile.h"
#include "mail/holdrec.h"
#include "mail/holdtag.h"
#include "mail/qid.h"
#include "mail/rkeys.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/strv.h"
#include "util/timefmt.h"
#include "util/rargs.h"
#include "util/xalloc.h"

#define RCN_GRACE	30	/* s: a younger record is never dropped */

/* A message to record. */
struct rcn_msg {
	struct holdtag tag;
	struct buf hdrs;
	int	trunc;
	struct qb_envelope env;
};

/* rcn_cmd - one Redis command; -1 told to conf.redis_error */
static int
rcn_cmd(struct rcn *r, const struct rargs *a, struct rr_reply *rep)
{
	if (rpool_command(r->c.redis, a->n, a->v, a->l, rep) == 0)
		return 0;
	if (r->c.redis_error != NULL)
		r->c.redis_error(r->c.arg, rep);
	rr_reply_free(rep);
	return -1;
}

/*
 * rcn_hmget - HMGET nf fields of qid's record; as rcn_cmd().
 * A key that is not a hash is no record (an empty reply, logged): one
 * such key must not stop every pass.
 */
static int
rcn_hmget(struct rcn *r, const char *qid, const char *const *fields, int nf,
    struct rr_reply *rep)
{
	struct buf key = BUF_INIT;
	struct rargs a = RARGS_INIT;
	int	i, rc;

	rkey_msg(&key, r->c.hostname, qid);
	rargs_strs(&a, "HMGET", key.s, NULL);
	for (i = 0; i < nf; i++)
		rargs_str(&a, fields[i]);
	if ((rc = rpool_command(r->c.redis, a.n, a.v, a.l, rep)) < 0 &&
	    rep->status == RR_ERROR && rep->str != NULL &&
	    strncmp(rep->str, "WRONGTYPE", 9) == 0) {
		log_warnx("%s: record is not a hash; ignored", qid);
		rr_reply_free(rep);
		memset(rep, 0, sizeof(*rep));
		rc = 0;
	} else if (rc < 0) {
		if (r->c.redis_error != NULL)
			r->c.redis_error(r->c.arg, rep);
		rr_reply_free(rep);
	}
	rargs_free(&a);
	buf_free(&key);
	return rc;
}

/* rcn_hr - the result rc of a holdrec call; -1 told to conf.redis_error */
static int
rcn_hr(struct rcn *r, int rc, struct rr_reply *rep)
{
	if (rc == 0)
		return 0;
	if (r->c.redis_error != NULL)
		r->c.redis_error(r->c.arg, rep);
	rr_reply_free(rep);
	return -1;
}

/* rcn_note - count what was done with a message and tell the caller */
static void
rcn_note(struct rcn *r, const char *qid, enum rcn_act act, const char *domain,
    const char *why)
{
	r->n[act]++;
	if (r->c.note != NULL)
		r->c.note(r->c.arg, qid, act, domain, why);
}

/* rcn_field_end - the LF ending the header field at p, or its NUL */
static const char *
rcn_field_end(const char *p)
{
	const char *e;

	for (;;) {
		if ((e = strchr(p, '\n')) == NULL)
			return p + strlen(p);
		if (e[1] != ' ' && e[1] != '\t')
			return e;
		p = e + 1;
	}
}

/*
 * rcn_headers - the last signed tag (HOLDTAG_OK) or else the last unsigned
 * or forged one (its status), HOLDTAG_BAD for none; and the other
 * header fields, at most max bytes of whole fields as the milter keeps
 */
static int
rcn_headers(const char *text, size_t max, struct holdtag *t, struct buf *kept,
    int *trunc)
{
	const size_t hl = strlen(HOLDTAG_HEADER);
	struct buf val = BUF_INIT;
	struct holdtag cand;
	const char *p, *e;
	size_t	len;
	int	found = HOLDTAG_BAD, st;

	buf_reset(kept);
	*trunc = 0;
	for (p = text; *p != '\0'; p = *e ? e + 1 : e) {
		e = rcn_field_end(p);
		if ((len = (size_t)(e - p)) == 0)
			break;		/* the end of the header section */
		if (len > hl && strncasecmp(p, HOLDTAG_HEADER ":", hl + 1) ==
		    0) {
			buf_reset(&val);
			buf_add(&val, p + hl + 1, len - hl - 1);
			st = holdtag_parse(buf_terminate(&val), &cand);
			if (st != HOLDTAG_BAD && (found != HOLDTAG_OK ||
			    st == HOLDTAG_OK) && cand.arrived > 0 &&
			    cand.expires > 0) {
				*t = cand;
				found = st;
			}
		} else if (*trunc || kept->len + len + 1 > max)
			*trunc = 1;
		else {
			buf_add(kept, p, len);
			buf_addch(kept, '\n');
		}
	}
	buf_terminate(kept);
	buf_free(&val);
	return found;
}

/*
 * rcn_token - the record's token: *have 0 no record, 1 same, 2 another,
 * 3 same but still pending
 */
static int
rcn_token(struct rcn *r, const char *qid, const char *token, int *have)
{
	static const char *const fields[] = { RF_TOKEN, RF_STATE };
	struct rr_reply rep;

	if (rcn_hmget(r, qid, fields, 2, &rep) < 0)
		return -1;
	*have = rep.nelem < 2 || rep.elems[0] == NULL ? 0 :
	    strcmp(rep.elems[0], token) != 0 ? 2 : rep.elems[1] != NULL &&
	    strcmp(rep.elems[1], RSTATE_PENDING) == 0 ? 3 : 1;
	rr_reply_free(&rep);
	return 0;
}

/* rcn_write - the record and its index entries; 1 written, 0 left alone */
static int
rcn_write(struct rcn *r, const char *qid, struct rcn_msg *m)
{
	struct holdrec_new n;
	struct rr_reply rep;
	int	rc;

	memset(&n, 0, sizeof(n));
	n.qid = qid;
	n.domain = m->tag.domain;
	n.token = m->tag.token;
	n.sender = buf_terminate(&m->env.sender);
	n.rcpts = &m->env.rcpts;
	n.nrcpt = m->env.nrcpt;
	n.size = m->tag.size >= 0 ? m->tag.size : m->env.size;
	n.arrived = m->tag.arrived;
	n.expires = m->tag.expires;
	n.ret = m->env.ret;
	n.envid = buf_terminate(&m->env.envid);
	n.headers = &m->hdrs;
	n.headers_truncated = m->trunc;
	rc = rcn_hr(r, holdrec_rebuild(r->c.redis, r->c.hostname, &n,
	    r->c.runner, &rep), &rep);
	if (rc == 0) {
		rc = rep.type == RRT_INT && rep.integer == 1;
		rr_reply_free(&rep);
	}
	return rc;
}

/* rcn_msg_free - what reading a message allocated */
static void
rcn_msg_free(struct rcn_msg *m)
{
	buf_free(&m->hdrs);
	qb_env_free(&m->env);
}

/* rcn_rebuild - a tagged message without its record; -1 Redis failed */
static int
rcn_rebuild(struct rcn *r, const char *qid, struct rcn_msg *m, int have)
{
	struct buf why = BUF_INIT;
	enum qb_status qs;
	char	when[32];
	int	st = 1;

	if (r->c.qb->envelope == NULL) {
		rcn_note(r, qid, RCN_FAILED, m->tag.domain, "the queue backend "
		    "cannot give the envelope");
		return 0;
	}
	if ((qs = r->c.qb->envelope(r->c.qc, qid, &m->env)) != QB_OK) {
		rcn_note(r, qid, RCN_FAILED, m->tag.domain, qs == QB_DENY ?
		    "no sender or no recipient in its envelope" :
		    "cannot read its envelope");
		return 0;
	}
	if (!r->c.dry && (st = rcn_write(r, qid, m)) < 0)
		return -1;
	timefmt_iso(when, sizeof(when), m->tag.expires);
	buf_printf(&why, "%s; deadline %s", have ? "the record had another "
	    "token" : "no record", when);
	if (m->tag.host[0] && strcasecmp(m->tag.host, r->c.hostname))
		buf_printf(&why, "; tagged on host %s", m->tag.host);
	rcn_note(r, qid, st ? RCN_REBUILT : RCN_OK, m->tag.domain,
	    buf_terminate(&why));
	buf_free(&why);
	return 0;
}

/*
 * rcn_promote - a held message whose record is still pending: counted
 * now, as etrnd's pending step would (holdrec_promote); -1 Redis failed
 */
static int
rcn_promote(struct rcn *r, const char *qid, const char *domain)
{
	struct rr_reply rep;
	char	*id = (char *)qid;
	int	rc = 0, done = 1;

	if (!r->c.dry && (rc = rcn_hr(r, holdrec_promote(r->c.redis,
	    r->c.hostname, &id, 1, &rep), &rep)) == 0) {
		done = rep.type == RRT_ARRAY && rep.nelem > 0;
		rr_reply_free(&rep);
	}
	if (rc == 0)
		rcn_note(r, qid, done ? RCN_REBUILT : RCN_OK, domain,
		    "the record was pending: counted now");
	return rc < 0 ? -1 : 0;
}

/*
 * rcn_untrusted - a tag whose MAC does not verify, or an unsigned one:
 * no record is built from it, whatever record exists (docs/design.md,
 * Forged tags); the file is reported and left to the administrator
 */
static void
rcn_untrusted(struct rcn *r, const char *qid, const struct holdtag *t,
    int tag)
{
	struct buf why = BUF_INIT;

	buf_printf(&why, "%s %s header: ignored, no record built",
	    holdtag_status_name(tag), HOLDTAG_HEADER);
	log_warnx("%s: %s domain=%s", qid, buf_terminate(&why), t->domain);
	rcn_note(r, qid, RCN_SKIPPED, t->domain, why.s);
	buf_free(&why);
}

/* rcn_held_one - one message of the hold queue; -1 Redis failed */
static int
rcn_held_one(struct rcn *r, const char *qid)
{
	struct buf raw = BUF_INIT;
	struct rcn_msg m;
	int	have, rc = 0, tag;

	memset(&m, 0, sizeof(m));
	if (r->c.qb->read(r->c.qc, qid, QB_READ_HEADERS, &raw) != QB_OK) {
		log_err("%s: cannot read its headers from the queue", qid);
		rcn_note(r, qid, RCN_FAILED, NULL, "cannot read its headers");
	} else if ((tag = rcn_headers(buf_terminate(&raw),
	    (size_t)r->c.max_header_bytes, &m.tag, &m.hdrs, &m.trunc)) ==
	    HOLDTAG_BAD)
		rcn_note(r, qid, RCN_SKIPPED, NULL, "no valid " HOLDTAG_HEADER
		    " header: not held by openetrn");
	else if (tag != HOLDTAG_OK)	/* forged or unsigned */
		rcn_untrusted(r, qid, &m.tag, tag);
	else if (rcn_token(r, qid, m.tag.token, &have) < 0)
		rc = -1;
	else if (have == 1 || (have >= 2 && r->c.runner))
		rcn_note(r, qid, RCN_OK, NULL, NULL);	/* pending: its step */
	else if (have == 3)
		rc = rcn_promote(r, qid, m.tag.domain);
	else
		rc = rcn_rebuild(r, qid, &m, have);
	buf_free(&raw);
	rcn_msg_free(&m);
	return rc;
}

/* rcn_start - list the hold queue; 0, or RCN_QUEUE (logged) */
int
rcn_start(struct rcn *r, const struct rcn_conf *c)
{
	enum qb_status st;

	memset(r, 0, sizeof(*r));
	r->c = *c;
	if (c->qb->list_held == NULL || c->qb->read == NULL) {
		log_err("reconcile: the %s queue backend cannot list or read "
		    "the hold queue", c->qb->name);
		return RCN_QUEUE;
	}
	if ((st = c->qb->list_held(c->qc, &r->ids)) != QB_OK) {
		log_err("reconcile: cannot list the %s hold queue (%s): "
		    "nothing done", c->qb->name, qb_status_name(st));
		strv_free(&r->ids);
		return RCN_QUEUE;
	}
	strv_sort(&r->ids);
	r->held = (long long)r->ids.n;
	return 0;
}

/* rcn_missing - which of n queue IDs have no record; -1 Redis failed */
static int
rcn_missing(struct rcn *r, char *const *ids, size_t n, struct strv *out)
{
	struct rr_reply rep;
	size_t	i;
	int	rc;

	if ((rc = rcn_hr(r, holdrec_missing(r->c.redis, r->c.hostname, ids, n,
	    &rep), &rep)) == 0) {
		for (i = 0; i < rep.nelem; i++)
			if (rep.elems[i] != NULL)
				strv_add(out, rep.elems[i]);
		rr_reply_free(&rep);
	}
	return rc;
}

/* rcn_locate - queue states of n queue IDs; NULL (logged) on failure */
static struct qb_qinfo *
rcn_locate(struct rcn *r, char *const *ids, size_t n)
{
	struct qb_qinfo *qi = xcalloc(n ? n : 1, sizeof(*qi));
	enum qb_status st;
	size_t	i;

	for (i = 0; i < n; i++)
		qi[i].id = ids[i];
	st = r->c.qb->locate != NULL ? r->c.qb->locate(r->c.qc, qi, n) :
	    r->c.qb->status(r->c.qc, qi, n);
	if (st != QB_OK) {
		log_err("reconcile: cannot ask the %s queue where %zu "
		    "messages are (%s): nothing done with them",
		    r->c.qb->name, n, qb_status_name(st));
		qb_qinfo_free(qi, n);
		free(qi);
		return NULL;
	}
	return qi;
}

/*
 * rcn_held_runner - etrnd's step: the IDs without record, still on hold,
 * are read (at most max_reads); where it stopped
 */
static int
rcn_held_runner(struct rcn *r, size_t end, size_t max_reads)
{
	struct strv miss = { NULL, 0, 0 };
	struct qb_qinfo *qi = NULL;
	char	**at;
	size_t	i, reads = 0;
	int	rc;

	if ((rc = rcn_missing(r, r->ids.v + r->next, end - r->next,
	    &miss)) == 0 && miss.n > 0 &&
	    (qi = rcn_locate(r, miss.v, miss.n)) == NULL)
		rc = RCN_QUEUE;
	for (i = 0; rc == 0 && i < miss.n; i++) {
		if (qi[i].state != QS_HELD) {
			log_debug("%s: left the hold since the listing",
			    miss.v[i]);
			continue;
		}
		if (reads++ == max_reads) {
			at = bsearch(&miss.v[i], r->ids.v, r->ids.n,
			    sizeof(*r->ids.v), strv_cmp);
			end = at ? (size_t)(at - r->ids.v) : end;
			break;
		}
		rc = rcn_held_one(r, miss.v[i]);
	}
	if (qi != NULL) {
		qb_qinfo_free(qi, miss.n);
		free(qi);
	}
	strv_free(&miss);
	if (rc == 0)
		r->next = end;
	return rc;
}

/*
 * rcn_held - the next max_ids messages of the hold queue, at most
 * max_reads of them read; 1 more to do, 0 done, -1 Redis failed,
 * RCN_QUEUE
 */
int
rcn_held(struct rcn *r, size_t max_ids, size_t max_reads)
{
	size_t	end;
	int	rc = 0;

	end = r->ids.n - r->next > max_ids ? r->next + max_ids : r->ids.n;
	if (r->c.runner) {
		if (end > r->next)
			rc = rcn_held_runner(r, end, max_reads);
	} else
		for (; rc == 0 && r->next < end; r->next++)
			rc = rcn_held_one(r, r->ids.v[r->next]);
	if (rc < 0)
		return rc;
	return r->next < r->ids.n;
}

/*
 * rcn_drop_start - this host's queue IDs in Redis that are not in the
 * hold queue's listing, sorted, once each; -1 Redis failed
 */
int
rcn_drop_start(struct rcn *r)
{
	struct strv all = { NULL, 0, 0 };
	struct buf key = BUF_INIT;
	struct rr_reply rep;
	struct rargs a = RARGS_INIT;
	size_t	i;
	int	pass;

	for (pass = 0; pass < (r->c.runner ? 1 : 2); pass++) {
		if (pass == 0)
			rkey_expiry(&key, r->c.hostname);
		else
			rkey_released(&key, r->c.hostname);
		rargs_reset(&a);
		rargs_strs(&a, "ZRANGE", key.s, "0", "-1", NULL);
		if (rcn_cmd(r, &a, &rep) < 0) {
			rargs_free(&a);
			buf_free(&key);
			strv_free(&all);
			return -1;
		}
		for (i = 0; i < rep.nelem; i++)
			if (rep.elems[i] && qid_valid(rep.elems[i]))
				strv_add(&all, rep.elems[i]);
		rr_reply_free(&rep);
	}
	rargs_free(&a);
	buf_free(&key);
	strv_sort(&all);
	for (i = 0; i < all.n; i++)
		if ((i == 0 || strcmp(all.v[i], all.v[i - 1]) != 0) &&
		    (r->ids.n == 0 || bsearch(&all.v[i], r->ids.v,
		    r->ids.n, sizeof(*r->ids.v), strv_cmp) == NULL))
			strv_add(&r->cand, all.v[i]);
	strv_free(&all);
	r->cnext = 0;
	return 0;
}

/* What a record says, read before the second look at the queue. */
struct rcn_rec {
	char	*token, *domain, *state;
	long long arrived;
};

/* rcn_rec_read - the record of qid ("" fields when none) */
static int
rcn_rec_read(struct rcn *r, const char *qid, struct rcn_rec *rec)
{
	static const char *const fields[] = {
		RF_TOKEN, RF_DOMAIN, RF_ARRIVED, RF_STATE
	};
	struct rr_reply rep;
	int	ok;

	if (rcn_hmget(r, qid, fields, 4, &rep) < 0)
		return -1;
	ok = rep.type == RRT_ARRAY && rep.nelem == 4;
	rec->token = xstrdup(ok && rep.elems[0] ? rep.elems[0] : "");
	rec->domain = xstrdup(ok && rep.elems[1] ? rep.elems[1] : "");
	rec->arrived = ok && rep.elems[2] ? strtoll(rep.elems[2], NULL, 10) :
	    0;
	rec->state = xstrdup(ok && rep.elems[3] ? rep.elems[3] : "");
	rr_reply_free(&rep);
	return 0;
}

/* rcn_rec_free - what rcn_rec_read allocated */
static void
rcn_rec_free(struct rcn_rec *rec)
{
	free(rec->token);
	free(rec->domain);
	free(rec->state);
	memset(rec, 0, sizeof(*rec));
}

/* rcn_drop_one - drop a record whose message is gone; -1 Redis failed */
static int
rcn_drop_one(struct rcn *r, const char *qid, const struct rcn_rec *rec)
{
	struct rr_reply rep;
	int	st = 0, code = *rec->token ? 1 : 2;

	if (!r->c.dry && (st = rcn_hr(r, holdrec_drop(r->c.redis,
	    r->c.hostname, qid, rec->token, r->c.runner ? RSTATE_HELD : "",
	    &rep), &rep)) == 0) {
		code = rep.type == RRT_ARRAY && rep.nelem == 2 &&
		    rep.elems[0] ? (int)strtol(rep.elems[0], NULL, 10) : 0;
		rr_reply_free(&rep);
	}
	if (st < 0)
		return -1;
	if (code == 0)
		log_warnx("%s: its record changed meanwhile: left alone", qid);
	else
		rcn_note(r, qid, RCN_DROPPED, rec->domain, code == 1 ?
		    "no queue file" : "no queue file, no record: index "
		    "entries only");
	return 0;
}

/* rcn_keep - a record not to drop whatever the queue says */
static int
rcn_keep(struct rcn *r, const char *qid, const struct rcn_rec *rec,
    long long now)
{
	long long age = now - rec->arrived;

	if (r->c.runner && *rec->state && strcmp(rec->state, RSTATE_HELD)) {
		log_debug("%s: not in the queue, record in state %s: left to "
		    "its owner", qid, rec->state);
		return 1;
	}
	if (rec->arrived == 0 || age >= RCN_GRACE)
		return 0;
	if (r->c.runner)	/* the next pass looks again */
		log_debug("%s: not in the queue, but recorded %llds ago: "
		    "left alone", qid, age > 0 ? age : 0);
	else
		log_warnx("%s: not in the queue, but recorded %llds ago: "
		    "left alone (run reconcile again in %ds)", qid,
		    age > 0 ? age : 0, RCN_GRACE);
	return 1;
}

/*
 * rcn_gone - of n queue IDs, those that two looks at the queue find gone
 * (their records read between the looks) into *gone and rec; -1 Redis
 * failed, RCN_QUEUE
 */
static int
rcn_gone(struct rcn *r, char *const *ids, size_t n, struct strv *gone,
    struct rcn_rec **rec)
{
	struct strv first = { NULL, 0, 0 };
	struct qb_qinfo *qi;
	struct rcn_rec *fr;
	size_t	i;
	int	rc = 0;

	if ((qi = rcn_locate(r, ids, n)) == NULL)
		return RCN_QUEUE;
	for (i = 0; i < n; i++)
		if (qi[i].state == QS_GONE)
			strv_add(&first, ids[i]);
	qb_qinfo_free(qi, n);
	free(qi);
	fr = xcalloc(first.n ? first.n : 1, sizeof(*fr));
	for (i = 0; rc == 0 && i < first.n; i++)
		rc = rcn_rec_read(r, first.v[i], &fr[i]);
	if (rc == 0 && first.n > 0 &&
	    (qi = rcn_locate(r, first.v, first.n)) == NULL)
		rc = RCN_QUEUE;
	*rec = xcalloc(first.n ? first.n : 1, sizeof(**rec));
	for (i = 0; rc == 0 && i < first.n; i++)
		if (qi[i].state == QS_GONE) {
			(*rec)[gone->n] = fr[i];
			memset(&fr[i], 0, sizeof(fr[i]));
			strv_add(gone, first.v[i]);
		} else
			log_debug("%s: back in the queue at the second look",
			    first.v[i]);
	if (rc == 0 && first.n > 0) {
		qb_qinfo_free(qi, first.n);
		free(qi);
	}
	for (i = 0; i < first.n; i++)
		rcn_rec_free(&fr[i]);
	free(fr);
	strv_free(&first);
	return rc;
}

/*
 * rcn_drop - the next max records without a held file; 1 more to do,
 * 0 done, -1 Redis failed, RCN_QUEUE (nothing of the step dropped)
 */
int
rcn_drop(struct rcn *r, size_t max)
{
	struct strv gone = { NULL, 0, 0 };
	struct rcn_rec *rec = NULL;
	long long now = (long long)time(NULL);
	size_t	i, n;
	int	rc;

	n = r->cand.n - r->cnext > max ? max : r->cand.n - r->cnext;
	if (n == 0)
		return 0;
	rc = rcn_gone(r, r->cand.v + r->cnext, n, &gone, &rec);
	for (i = 0; rc == 0 && i < gone.n; i++)
		if (!rcn_keep(r, gone.v[i], &rec[i], now))
			rc = rcn_drop_one(r, gone.v[i], &rec[i]);
	for (i = 0; rec != NULL && i < gone.n; i++)
		rcn_rec_free(&rec[i]);
	free(rec);
	strv_free(&gone);
	if (rc < 0)
		return rc;
	r->cnext += n;
	return r->cnext < r->cand.n;
}

/* rcn_free - the pass's memory */
void
rcn_free(struct rcn *r)
{
	strv_free(&r->ids);
	strv_free(&r->cand);
	memset(r, 0, sizeof(*r));
}
