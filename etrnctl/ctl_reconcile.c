/*
 * NAME
 *	ctl_reconcile - etrnctl reconcile: rebuild the index from the queue
 * SYNOPSIS
 *	etrnctl reconcile [--dry-run]
 * DESCRIPTION
 *	After Redis lost data, or records were left behind, this makes
 *	Redis agree with the MTA's hold queue again: one whole pass of
 *	reconcile.c (the module etrnd's queue runner also runs every
 *	reconcile_interval), here without bounds on its steps, over the
 *	records of etrn:expiry:<host> and etrn:released:<host>, and with a
 *	record of another token rebuilt from the tag.  This file only
 *	collects what was done and prints it.
 *
 *	With --dry-run the same checks are made and reported; nothing is
 *	written.
 * SECURITY
 *	See reconcile.c: queue IDs pass qid_valid(), commands run with
 *	argv, only tags whose MAC verifies (HOLDTAG_OK) are trusted.
 * DIAGNOSTICS
 *	One line per message rebuilt, dropped, skipped or failed, then
 *	"reconcile: held=N ok=N rebuilt=N dropped=N skipped=N".  Exit 1 when
 *	a message could not be read or Redis failed (the lines so far are
 *	printed).  With the Postfix backend it must run as root.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "etrnctl/ctl.h"
#include "etrnd/reconcile.h"
#include "mail/holdtag.h"
#include "util/log.h"
#include "util/xalloc.h"

/* What was done with one message. */
struct ctlr_item {
	char	*qid;
	enum rcn_act act;
	char	*domain;	/* NULL: unknown */
	char	*why;
};

/* One run. */
struct ctlr_out {
	struct ctl *c;
	struct rcn *run;
	int	dry;
	struct ctlr_item *v;
	size_t	nv, cap;
};

/* ctlr_reconcile_args - nothing, or --dry-run */
int
ctlr_reconcile_args(int argc, char **argv)
{
	if (argc == 0 || (argc == 1 && strcmp(argv[0], "--dry-run") == 0))
		return 0;
	return -1;
}

/* ctlr_note - remember what was done with a message (reconcile.c's note) */
static void
ctlr_note(void *arg, const char *qid, enum rcn_act act, const char *domain,
    const char *why)
{
	struct ctlr_out *r = arg;
	struct ctlr_item *it;

	if (act == RCN_OK)
		return;
	if (r->nv == r->cap) {
		r->cap = r->cap ? r->cap * 2 : 16;
		r->v = xreallocarray(r->v, r->cap, sizeof(*r->v));
	}
	it = &r->v[r->nv++];
	it->qid = xstrdup(qid);
	it->act = act;
	it->domain = domain && *domain ? xstrdup(domain) : NULL;
	it->why = xstrdup(why ? why : "");
}

/* ctlr_redis_error - a failed Redis call, as etrnctl reports them */
static void
ctlr_redis_error(void *arg, const struct rr_reply *rep)
{
	struct ctlr_out *r = arg;

	if (rep->status == RR_IO)
		log_err("cannot reach Redis at %s: %s", r->c->s.redis_server,
		    rep->str ? rep->str : "I/O error");
	else
		log_err("Redis at %s answered: %s", r->c->s.redis_server,
		    rep->str ? rep->str : "unexpected reply");
}

static const char *const ctlr_verb[RCN_NACT][2] = {
	{ "ok", "ok" }, { "rebuilt", "would rebuild" },
	{ "dropped", "would drop" }, { "skipped", "skipped" },
	{ "failed", "failed" },
};

/* ctlr_report_text - one line per message, the summary */
static void
ctlr_report_text(struct ctlr_out *r)
{
	struct buf *o = &r->c->out;
	const struct ctlr_item *it;
	size_t	i;
	const long long *n = r->run->n;

	for (i = 0; i < r->nv; i++) {
		it = &r->v[i];
		buf_printf(o, "%s %s: %s%s%s\n", ctlr_verb[it->act][r->dry],
		    it->qid, it->domain ? it->domain : "",
		    it->domain ? ", " : "", it->why);
	}
	buf_printf(o, "reconcile: held=%lld ok=%lld rebuilt=%lld "
	    "dropped=%lld skipped=%lld", r->run->held, n[RCN_OK],
	    n[RCN_REBUILT], n[RCN_DROPPED], n[RCN_SKIPPED]);
	if (n[RCN_FAILED] > 0)
		buf_printf(o, " failed=%lld", n[RCN_FAILED]);
	buf_addch(o, '\n');
	if (r->dry)
		buf_cat(o, "dry run: nothing was changed\n");
	else if (n[RCN_REBUILT] > 0)
		buf_cat(o, "note: a rebuilt record has no client and no "
		    "delay warning: they are not in the queue file\n");
}

/* ctlr_report_json - the same as one JSON object */
static void
ctlr_report_json(struct ctlr_out *r)
{
	static const char *const key[RCN_NACT] = { "ok", "rebuilt",
		"dropped", "skipped", "failed" };
	struct jw w;
	size_t	i;

	jw_init(&w, &r->c->out);
	jw_open(&w, '{');
	jw_key(&w, "host");
	jw_str(&w, r->c->s.hostname);
	jw_key(&w, "dry_run");
	jw_bool(&w, r->dry);
	jw_key(&w, "held");
	jw_int(&w, r->run->held);
	for (i = 0; i < RCN_NACT; i++) {
		jw_key(&w, key[i]);
		jw_int(&w, r->run->n[i]);
	}
	jw_key(&w, "messages");
	jw_open(&w, '[');
	for (i = 0; i < r->nv; i++) {
		jw_open(&w, '{');
		jw_key(&w, "id");
		jw_str(&w, r->v[i].qid);
		jw_key(&w, "action");
		jw_str(&w, key[r->v[i].act]);
		jw_key(&w, "domain");
		jw_str(&w, r->v[i].domain);
		jw_key(&w, "detail");
		jw_str(&w, r->v[i].why);
		jw_close(&w, '}');
	}
	jw_close(&w, ']');
	jw_close(&w, '}');
}

/* ctlr_free - the run's memory */
static void
ctlr_free(struct ctlr_out *r)
{
	size_t	i;

	for (i = 0; i < r->nv; i++) {
		free(r->v[i].qid);
		free(r->v[i].domain);
		free(r->v[i].why);
	}
	free(r->v);
}

/* ctlr_reconcile - etrnctl reconcile [--dry-run] */
int
ctlr_reconcile(struct ctl *c, int argc, char **argv)
{
	struct ctlr_out r;
	struct rcn run;
	struct rcn_conf rc_conf;
	struct ctl_qb q;
	struct buf err = BUF_INIT;
	int	rc = CTL_ERR, st;

	memset(&r, 0, sizeof(r));
	memset(&run, 0, sizeof(run));
	r.c = c;
	r.run = &run;
	r.dry = argc == 1 && strcmp(argv[0], "--dry-run") == 0;
	if (strcmp(c->s.mta, "postfix") == 0 && geteuid() != 0) {
		log_err("reconcile reads Postfix's queue files: run etrnctl "
		    "reconcile as root");
		return CTL_ERR;
	}
	if (holdtag_key_load(c->s.hold_secret_file, &err) < 0) {
		log_err("hold_secret_file: %s", buf_terminate(&err));
		buf_free(&err);
		return CTL_ERR;
	}
	if (ctl_qb_open(c, &q, "reconcile") < 0)
		return CTL_ERR;
	memset(&rc_conf, 0, sizeof(rc_conf));
	rc_conf.redis = c->redis;
	rc_conf.qb = q.qb;
	rc_conf.qc = &q.qc;
	rc_conf.hostname = c->s.hostname;
	rc_conf.max_header_bytes = c->s.max_header_bytes;
	rc_conf.dry = r.dry;
	rc_conf.note = ctlr_note;
	rc_conf.redis_error = ctlr_redis_error;
	rc_conf.arg = &r;
	if ((st = rcn_start(&run, &rc_conf)) == 0 &&
	    (st = rcn_held(&run, SIZE_MAX, SIZE_MAX)) == 0 &&
	    (st = rcn_drop_start(&run)) == 0)
		st = rcn_drop(&run, SIZE_MAX);
	if (st == RCN_QUEUE)
		ctl_qb_hint(c, "reconcile");
	if (st == 0 && run.n[RCN_FAILED] == 0)
		rc = CTL_OK;
	if (st == 0 || r.nv > 0 || run.held > 0) {
		if (c->json)
			ctlr_report_json(&r);
		else
			ctlr_report_text(&r);
	}
	rcn_free(&run);
	ctlr_free(&r);
	ctl_qb_close(&q);
	return rc;
}
