/*
 * NAME
 *	ctl_reconcile - etrnctl reconcile: rebuild the index from the queue
 * SYNOPSIS
 *	etrnctl reconcile [--dry-run]
 * DESCRIPTION
 *	After Redis lost data, or records were left behind, this makes
 *	Redis agree with the MTA's hold queue again, in two passes.
 *
 *	From the queue: for each message in the hold queue (backend
 *	list_held) the headers are read (backend read) and the last valid
 *	X-ETRN-Hold header (folded lines joined, holdtag_parse(), both
 *	times present) is looked for; a message without one was not held
 *	by openetrn and is skipped.  When etrn:msg:<host>:<qid> exists with
 *	the tag's token it is counted as ok.  Otherwise the record is built
 *	again: domain, token, arrived and expires from the tag; host this
 *	host's hostname; state held; sender, recipients (with NOTIFY and
 *	ORCPT), size, RET and ENVID from the queue file's envelope (backend
 *	envelope: `postcat -e', or Sendmail's control file); headers from the queue file without the tag,
 *	bounded by max_header_bytes as the milter does.  client and warn_at
 *	are not in the queue file: client is empty and no delay warning is
 *	sent.  One Lua script per message writes the record and its index
 *	entries as milter/store.c does (held ZSET, stats held/bytes/oldest,
 *	expiry ZSET, hostdomains, helddomains), after taking out the
 *	contributions of a record with another token; the script checks the
 *	token again, so a record written meanwhile is left alone.  The
 *	counters are raised only when the held ZSET gains the member, so a
 *	member that survived the data loss is not counted twice.
 *
 *	From Redis: every queue ID in etrn:expiry:<host> and
 *	etrn:released:<host> that is not in the hold queue is asked about
 *	(backend status, one call); when the MTA no longer has it at all
 *	(QS_GONE) its record and index entries are dropped (held - 1, bytes
 *	- size, oldest recomputed), unless the record's token changed since
 *	it was read, before the status was asked, or the record is younger
 *	than RC_GRACE: the milter writes it just before Postfix finishes the
 *	queue file, and the queue listing leaves out unfinished files.
 *
 *	With --dry-run the same checks are made and reported; nothing is
 *	written.
 * SECURITY
 *	Queue IDs come from the MTA's listing or from Redis and pass
 *	qid_valid() before they reach a key or a command; commands run with
 *	argv, never a shell.  Tags cannot be forged from outside: the milter
 *	removes incoming ones.
 * DIAGNOSTICS
 *	One line per message rebuilt, dropped, skipped or failed, then
 *	"reconcile: held=N ok=N rebuilt=N dropped=N skipped=N".  Exit 1 when
 *	a message could not be read or Redis failed (the lines so far are
 *	printed).  With the Postfix backend it must run as root.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "etrnd/ctl.h"
#include "mail/holdtag.h"
#include "mail/rkeys.h"
#include "util/log.h"
#include "util/xalloc.h"

#define RC_GRACE	30	/* s: a younger record is never dropped */

enum rc_act { RC_OK, RC_REBUILT, RC_DROPPED, RC_SKIPPED, RC_FAILED,
	RC_NACT };

/* What was done with one message. */
struct rc_item {
	char	*qid;
	enum rc_act act;
	char	*domain;	/* NULL: unknown */
	char	*why;
};

/* One run. */
struct rcn {
	struct ctl *c;
	struct ctl_qb q;
	int	dry;
	long long held, n[RC_NACT];
	struct rc_item *v;
	size_t	nv, cap;
	struct strv seen;	/* queue IDs in the hold queue */
};

/* A message to record. */
struct rc_msg {
	struct holdtag tag;
	struct buf hdrs;
	int	trunc;
	struct qb_envelope env;
};

/*
 * KEYS: msg held stats expiry warn released hostdomains helddomains
 * ARGV: member qid arrived expires size domain held_prefix stats_prefix
 *       token, then field/value pairs of the record.
 * Returns 0 when the record has the token (left alone), 1 when written.
 */
static struct rscript rebuild_script = {
	UNHOLD_LUA
	"local old = redis.call('HMGET', KEYS[1], '" RF_DOMAIN "', '"
	RF_SIZE "', '" RF_TOKEN "')\n"
	"if old[3] == ARGV[9] then return 0 end\n"
	"if old[1] then\n"
	"  unhold(ARGV[7] .. old[1], ARGV[8] .. old[1], ARGV[1], old[2])\n"
	"end\n"
	"redis.call('DEL', KEYS[1])\n"
	"redis.call('ZREM', KEYS[5], ARGV[2])\n"
	"redis.call('ZREM', KEYS[6], ARGV[2])\n"
	"redis.call('HSET', KEYS[1], unpack(ARGV, 10))\n"
	"if redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1]) == 1 then\n"
	"  redis.call('HINCRBY', KEYS[3], '" SF_HELD "', 1)\n"
	"  redis.call('HINCRBY', KEYS[3], '" SF_BYTES "', ARGV[5])\n"
	"end\n"
	"local first = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')\n"
	"redis.call('HSET', KEYS[3], '" SF_OLDEST "', first[2])\n"
	"redis.call('ZADD', KEYS[4], ARGV[4], ARGV[2])\n"
	"redis.call('SADD', KEYS[7], ARGV[6])\n"
	"redis.call('SADD', KEYS[8], ARGV[6])\n"
	"return 1\n",
	""
};

/*
 * KEYS: msg expiry warn released; ARGV: held_prefix stats_prefix member
 * qid token ("" : no record).  Returns {code, domain}: 0 the record
 * changed since it was read (left alone), 1 dropped, 2 index entries
 * only (no record).
 */
static struct rscript drop_script = {
	UNHOLD_LUA
	"local r = redis.call('HMGET', KEYS[1], '" RF_DOMAIN "', '" RF_SIZE
	"', '" RF_TOKEN "')\n"
	"if (r[3] or '') ~= ARGV[5] then return {0, ''} end\n"
	"redis.call('ZREM', KEYS[2], ARGV[4])\n"
	"redis.call('ZREM', KEYS[3], ARGV[4])\n"
	"redis.call('ZREM', KEYS[4], ARGV[4])\n"
	"redis.call('DEL', KEYS[1])\n"
	"if not r[1] then return {2, ''} end\n"
	"unhold(ARGV[1] .. r[1], ARGV[2] .. r[1], ARGV[3], r[2])\n"
	"return {1, r[1]}\n",
	""
};

/* cmd_reconcile_args - nothing, or --dry-run */
int
cmd_reconcile_args(int argc, char **argv)
{
	if (argc == 0 || (argc == 1 && strcmp(argv[0], "--dry-run") == 0))
		return 0;
	return -1;
}

/* rc_note - remember what was done with a message */
static void
rc_note(struct rcn *r, const char *qid, enum rc_act act, const char *domain,
    const char *why)
{
	struct rc_item *it;

	r->n[act]++;
	if (act == RC_OK)
		return;
	if (r->nv == r->cap) {
		r->cap = r->cap ? r->cap * 2 : 16;
		r->v = xreallocarray(r->v, r->cap, sizeof(*r->v));
	}
	it = &r->v[r->nv++];
	it->qid = xstrdup(qid);
	it->act = act;
	it->domain = domain && *domain ? xstrdup(domain) : NULL;
	it->why = xstrdup(why);
}

/* rc_field_end - the LF ending the header field at p, or its NUL */
static const char *
rc_field_end(const char *p)
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
 * rc_headers - the last valid tag (0 found, -1 none) and the other
 * header fields, at most max bytes of whole fields as the milter keeps
 */
static int
rc_headers(const char *text, size_t max, struct holdtag *t, struct buf *kept,
    int *trunc)
{
	const size_t hl = strlen(HOLDTAG_HEADER);
	struct buf val = BUF_INIT;
	struct holdtag cand;
	const char *p, *e;
	size_t	len;
	int	found = 0;

	buf_reset(kept);
	*trunc = 0;
	for (p = text; *p != '\0'; p = *e ? e + 1 : e) {
		e = rc_field_end(p);
		if ((len = (size_t)(e - p)) == 0)
			break;		/* the end of the header section */
		if (len > hl && strncasecmp(p, HOLDTAG_HEADER ":", hl + 1) ==
		    0) {
			buf_reset(&val);
			buf_add(&val, p + hl + 1, len - hl - 1);
			if (holdtag_parse(buf_terminate(&val), &cand) == 0 &&
			    cand.arrived > 0 && cand.expires > 0) {
				*t = cand;
				found = 1;
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
	return found ? 0 : -1;
}

/* rc_token - the record's token: *have 0 no record, 1 same, 2 another */
static int
rc_token(struct rcn *r, const char *qid, const char *token, int *have)
{
	struct buf key = BUF_INIT;
	struct rr_reply rep;
	int	rc;

	rkey_msg(&key, r->c->s.hostname, qid);
	rc = ctl_redis(r->c, &rep, "HGET", key.s, RF_TOKEN, NULL);
	buf_free(&key);
	if (rc < 0)
		return -1;
	*have = rep.status == RR_NIL || rep.str == NULL ? 0 :
	    strcmp(rep.str, token) == 0 ? 1 : 2;
	rr_reply_free(&rep);
	return 0;
}

#define RB_KEYS		8
#define RB_FIXED	9
#define RB_FIELDS	17
#define RB_ARGS		(RB_KEYS + RB_FIXED + 2 * RB_FIELDS)

/* rc_keys - the rebuild script's keys; k[RB_KEYS..+2]: member, prefixes */
static void
rc_keys(struct rcn *r, const char *qid, const char *domain, struct buf *k)
{
	const char *host = r->c->s.hostname;
	int	i;

	for (i = 0; i < RB_KEYS + 3; i++)
		buf_init(&k[i]);
	rkey_msg(&k[0], host, qid);
	rkey_held(&k[1], domain);
	rkey_stats(&k[2], domain);
	rkey_expiry(&k[3], host);
	rkey_warn(&k[4], host);
	rkey_released(&k[5], host);
	rkey_hostdomains(&k[6], host);
	rkey_helddomains(&k[7]);
	rkey_member(&k[8], host, qid);
	rkey_held(&k[9], "");
	rkey_stats(&k[10], "");
}

/* rc_write - the record and its index entries; 1 written, 0 left alone */
static int
rc_write(struct rcn *r, const char *qid, struct rc_msg *m)
{
	struct buf k[RB_KEYS + 3];
	char	arrived[24], expires[24], size[24], nrcpt[24];
	const char *av[RB_ARGS];
	struct rr_reply rep;
	int	n = 0, i, rc;

	rc_keys(r, qid, m->tag.domain, k);
	snprintf(arrived, sizeof(arrived), "%lld", m->tag.arrived);
	snprintf(expires, sizeof(expires), "%lld", m->tag.expires);
	snprintf(size, sizeof(size), "%lld", m->env.size);
	snprintf(nrcpt, sizeof(nrcpt), "%zu", m->env.nrcpt);
#define FIELD(name, s) do { av[n++] = (name); av[n++] = (s); } while (0)
	for (i = 0; i < RB_KEYS; i++)
		av[n++] = k[i].s;
	av[n++] = k[8].s;
	av[n++] = qid;
	av[n++] = arrived;
	av[n++] = expires;
	av[n++] = size;
	av[n++] = m->tag.domain;
	av[n++] = k[9].s;
	av[n++] = k[10].s;
	av[n++] = m->tag.token;
	FIELD(RF_DOMAIN, m->tag.domain);
	FIELD(RF_HOST, r->c->s.hostname);
	FIELD(RF_QUEUEID, qid);
	FIELD(RF_TOKEN, m->tag.token);
	FIELD(RF_STATE, RSTATE_HELD);
	FIELD(RF_SENDER, m->env.sender.s);
	FIELD(RF_RCPTS, m->env.rcpts.s);
	FIELD(RF_NRCPT, nrcpt);
	FIELD(RF_SIZE, size);
	FIELD(RF_ARRIVED, arrived);
	FIELD(RF_EXPIRES, expires);
	FIELD(RF_WARN_AT, "0");
	FIELD(RF_RET, m->env.ret ? m->env.ret : "");
	FIELD(RF_ENVID, m->env.envid.s);
	FIELD(RF_CLIENT, "");
	FIELD(RF_HEADERS, m->hdrs.s);
	FIELD(RF_HDR_TRUNC, m->trunc ? "1" : "0");
#undef FIELD
	rc = ctl_script(r->c, &rebuild_script, RB_KEYS, n, av, &rep);
	if (rc == 0) {
		rc = rep.type == RRT_INT && rep.integer == 1;
		rr_reply_free(&rep);
	}
	for (i = 0; i < RB_KEYS + 3; i++)
		buf_free(&k[i]);
	return rc;
}

/* rc_msg_free - what reading a message allocated */
static void
rc_msg_free(struct rc_msg *m)
{
	buf_free(&m->hdrs);
	qb_env_free(&m->env);
}

/* rc_rebuild - a tagged message without its record; -1 Redis failed */
static int
rc_rebuild(struct rcn *r, const char *qid, struct rc_msg *m, int have)
{
	struct buf why = BUF_INIT;
	enum qb_status qs;
	char	when[32];
	int	st = 1;

	if (r->q.qb->envelope == NULL) {
		rc_note(r, qid, RC_FAILED, m->tag.domain, "the queue backend "
		    "cannot give the envelope");
		return 0;
	}
	if ((qs = r->q.qb->envelope(&r->q.qc, qid, &m->env)) != QB_OK) {
		rc_note(r, qid, RC_FAILED, m->tag.domain, qs == QB_DENY ?
		    "no sender or no recipient in its envelope" :
		    "cannot read its envelope");
		return 0;
	}
	if (!r->dry && (st = rc_write(r, qid, m)) < 0)
		return -1;
	ctl_iso_time(when, sizeof(when), m->tag.expires);
	buf_printf(&why, "%s; deadline %s", have ? "the record had another "
	    "token" : "no record", when);
	if (m->tag.host[0] && strcasecmp(m->tag.host, r->c->s.hostname))
		buf_printf(&why, "; tagged on host %s", m->tag.host);
	rc_note(r, qid, st ? RC_REBUILT : RC_OK, m->tag.domain,
	    buf_terminate(&why));
	buf_free(&why);
	return 0;
}

/* rc_held_one - one message of the hold queue; -1 Redis failed */
static int
rc_held_one(struct rcn *r, const char *qid)
{
	struct buf raw = BUF_INIT;
	struct rc_msg m;
	int	have, rc = 0;

	memset(&m, 0, sizeof(m));
	if (r->q.qb->read(&r->q.qc, qid, QB_READ_HEADERS, &raw) != QB_OK) {
		log_err("%s: cannot read its headers from the queue", qid);
		rc_note(r, qid, RC_FAILED, NULL, "cannot read its headers");
	} else if (rc_headers(buf_terminate(&raw),
	    (size_t)r->c->s.max_header_bytes, &m.tag, &m.hdrs, &m.trunc) < 0)
		rc_note(r, qid, RC_SKIPPED, NULL, "no valid " HOLDTAG_HEADER
		    " header: not held by openetrn");
	else if (rc_token(r, qid, m.tag.token, &have) < 0)
		rc = -1;
	else if (have == 1)
		rc_note(r, qid, RC_OK, NULL, NULL);
	else
		rc = rc_rebuild(r, qid, &m, have);
	buf_free(&raw);
	rc_msg_free(&m);
	return rc;
}

/* rc_held - the pass over the hold queue; -1 reported */
static int
rc_held(struct rcn *r)
{
	struct qb_idlist ids = { NULL, 0, 0 };
	enum qb_status st;
	size_t	i;
	int	rc = 0;

	if ((st = r->q.qb->list_held(&r->q.qc, &ids)) != QB_OK) {
		log_err("cannot list the %s hold queue (%s)", r->c->s.mta,
		    qb_status_name(st));
		ctl_qb_hint(r->c, "reconcile");
		return -1;
	}
	r->held = (long long)ids.n;
	for (i = 0; i < ids.n && rc == 0; i++) {
		strv_add(&r->seen, ids.id[i]);
		rc = rc_held_one(r, ids.id[i]);
	}
	strv_sort(&r->seen);	/* for rc_candidates' bsearch */
	qb_idlist_free(&ids);
	return rc;
}

/* rc_cmp - strcmp for qsort and bsearch on a strv */
static int
rc_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * rc_candidates - this host's queue IDs in Redis that are not in the hold
 * queue (r->seen, sorted), sorted, once each
 */
static int
rc_candidates(struct rcn *r, struct strv *out)
{
	struct strv all = { NULL, 0, 0 };
	struct buf key = BUF_INIT;
	struct rr_reply rep;
	size_t	i;
	int	pass;

	for (pass = 0; pass < 2; pass++) {
		if (pass == 0)
			rkey_expiry(&key, r->c->s.hostname);
		else
			rkey_released(&key, r->c->s.hostname);
		if (ctl_redis(r->c, &rep, "ZRANGE", key.s, "0", "-1",
		    NULL) < 0) {
			buf_free(&key);
			strv_free(&all);
			return -1;
		}
		for (i = 0; i < rep.nelem; i++)
			if (rep.elems[i] && qid_valid(rep.elems[i]))
				strv_add(&all, rep.elems[i]);
		rr_reply_free(&rep);
	}
	buf_free(&key);
	strv_sort(&all);
	for (i = 0; i < all.n; i++)
		if ((i == 0 || strcmp(all.v[i], all.v[i - 1]) != 0) &&
		    (r->seen.n == 0 || bsearch(&all.v[i], r->seen.v,
		    r->seen.n, sizeof(*r->seen.v), rc_cmp) == NULL))
			strv_add(out, all.v[i]);
	strv_free(&all);
	return 0;
}

/* rc_tokens - each record's token, domain, arrived ("" when none) */
static int
rc_tokens(struct rcn *r, const struct strv *ids, struct strv *tok,
    struct strv *dom, struct strv *arr)
{
	struct buf key = BUF_INIT;
	struct rr_reply rep;
	size_t	i;
	int	ok;

	for (i = 0; i < ids->n; i++) {
		rkey_msg(&key, r->c->s.hostname, ids->v[i]);
		if (ctl_redis(r->c, &rep, "HMGET", key.s, RF_TOKEN, RF_DOMAIN,
		    RF_ARRIVED, NULL) < 0) {
			buf_free(&key);
			return -1;
		}
		ok = rep.type == RRT_ARRAY && rep.nelem == 3;
		strv_add(tok, ok && rep.elems[0] ? rep.elems[0] : "");
		strv_add(dom, ok && rep.elems[1] ? rep.elems[1] : "");
		strv_add(arr, ok && rep.elems[2] ? rep.elems[2] : "");
		rr_reply_free(&rep);
	}
	buf_free(&key);
	return 0;
}

/* rc_drop_one - drop a record whose message is gone; -1 Redis failed */
static int
rc_drop_one(struct rcn *r, const char *qid, const char *token,
    const char *domain)
{
	struct buf k[7];
	struct rr_reply rep;
	const char *av[9];
	int	i, st = 0, code = *token ? 1 : 2;

	for (i = 0; i < 7; i++)
		buf_init(&k[i]);
	rkey_msg(&k[0], r->c->s.hostname, qid);
	rkey_expiry(&k[1], r->c->s.hostname);
	rkey_warn(&k[2], r->c->s.hostname);
	rkey_released(&k[3], r->c->s.hostname);
	rkey_held(&k[4], "");
	rkey_stats(&k[5], "");
	rkey_member(&k[6], r->c->s.hostname, qid);
	for (i = 0; i < 7; i++)
		av[i] = k[i].s;
	av[7] = qid;
	av[8] = token;
	if (!r->dry && (st = ctl_script(r->c, &drop_script, 4, 9, av,
	    &rep)) == 0) {
		code = rep.type == RRT_ARRAY && rep.nelem == 2 &&
		    rep.elems[0] ? (int)ctl_ll(rep.elems[0]) : 0;
		rr_reply_free(&rep);
	}
	for (i = 0; i < 7; i++)
		buf_free(&k[i]);
	if (st < 0)
		return -1;
	if (code == 0)
		log_warnx("%s: its record changed meanwhile: left alone", qid);
	else
		rc_note(r, qid, RC_DROPPED, domain, code == 1 ?
		    "no queue file" : "no queue file, no record: index "
		    "entries only");
	return 0;
}

/* rc_young - a record too young to drop (its queue file may be unfinished) */
static int
rc_young(struct rcn *r, const char *qid, const char *arrived)
{
	long long age = r->c->now - ctl_ll(arrived);

	if (*arrived == '\0' || age >= RC_GRACE)
		return 0;
	log_warnx("%s: not in the queue, but recorded %llds ago: left alone "
	    "(run reconcile again in %ds)", qid, age > 0 ? age : 0, RC_GRACE);
	return 1;
}

/* rc_drop - the pass over this host's records; -1 reported */
static int
rc_drop(struct rcn *r)
{
	struct strv ids = { NULL, 0, 0 }, tok = { NULL, 0, 0 },
	    dom = { NULL, 0, 0 }, arr = { NULL, 0, 0 };
	struct qb_qinfo *qi = NULL;
	enum qb_status st;
	size_t	i;
	int	rc;

	/* Tokens first: a record written after the status is kept. */
	if ((rc = rc_candidates(r, &ids)) == 0 && ids.n > 0)
		rc = rc_tokens(r, &ids, &tok, &dom, &arr);
	if (rc == 0 && ids.n > 0) {
		qi = xcalloc(ids.n, sizeof(*qi));
		for (i = 0; i < ids.n; i++)
			qi[i].id = ids.v[i];
		if ((st = r->q.qb->status(&r->q.qc, qi, ids.n)) != QB_OK) {
			log_err("cannot ask the %s queue where the messages "
			    "are (%s)", r->c->s.mta, qb_status_name(st));
			ctl_qb_hint(r->c, "reconcile");
			rc = -1;
		}
		for (i = 0; rc == 0 && i < ids.n; i++)
			if (qi[i].state == QS_GONE &&
			    !rc_young(r, ids.v[i], arr.v[i]))
				rc = rc_drop_one(r, ids.v[i], tok.v[i],
				    dom.v[i]);
		qb_qinfo_free(qi, ids.n);
		free(qi);
	}
	strv_free(&ids);
	strv_free(&tok);
	strv_free(&dom);
	strv_free(&arr);
	return rc;
}

static const char *const rc_verb[RC_NACT][2] = {
	{ "ok", "ok" }, { "rebuilt", "would rebuild" },
	{ "dropped", "would drop" }, { "skipped", "skipped" },
	{ "failed", "failed" },
};

/* rc_report_text - one line per message, the summary */
static void
rc_report_text(struct rcn *r)
{
	struct buf *o = &r->c->out;
	const struct rc_item *it;
	size_t	i;

	for (i = 0; i < r->nv; i++) {
		it = &r->v[i];
		buf_printf(o, "%s %s: %s%s%s\n", rc_verb[it->act][r->dry],
		    it->qid, it->domain ? it->domain : "",
		    it->domain ? ", " : "", it->why);
	}
	buf_printf(o, "reconcile: held=%lld ok=%lld rebuilt=%lld "
	    "dropped=%lld skipped=%lld", r->held, r->n[RC_OK],
	    r->n[RC_REBUILT], r->n[RC_DROPPED], r->n[RC_SKIPPED]);
	if (r->n[RC_FAILED] > 0)
		buf_printf(o, " failed=%lld", r->n[RC_FAILED]);
	buf_addch(o, '\n');
	if (r->dry)
		buf_cat(o, "dry run: nothing was changed\n");
	else if (r->n[RC_REBUILT] > 0)
		buf_cat(o, "note: a rebuilt record has no client and no "
		    "delay warning: they are not in the queue file\n");
}

/* rc_report_json - the same as one JSON object */
static void
rc_report_json(struct rcn *r)
{
	static const char *const key[RC_NACT] = { "ok", "rebuilt",
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
	jw_int(&w, r->held);
	for (i = 0; i < RC_NACT; i++) {
		jw_key(&w, key[i]);
		jw_int(&w, r->n[i]);
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

/* rc_free - the run's memory */
static void
rc_free(struct rcn *r)
{
	size_t	i;

	for (i = 0; i < r->nv; i++) {
		free(r->v[i].qid);
		free(r->v[i].domain);
		free(r->v[i].why);
	}
	free(r->v);
	strv_free(&r->seen);
	ctl_qb_close(&r->q);
}

/* cmd_reconcile - etrnctl reconcile [--dry-run] */
int
cmd_reconcile(struct ctl *c, int argc, char **argv)
{
	struct rcn r;
	int	rc = CTL_ERR, st;

	memset(&r, 0, sizeof(r));
	r.c = c;
	r.dry = argc == 1 && strcmp(argv[0], "--dry-run") == 0;
	if (strcmp(c->s.mta, "postfix") == 0 && geteuid() != 0) {
		log_err("reconcile reads Postfix's queue files: run etrnctl "
		    "reconcile as root");
		return CTL_ERR;
	}
	if (ctl_qb_open(c, &r.q, "reconcile") < 0)
		return CTL_ERR;
	if ((st = rc_held(&r)) == 0)
		st = rc_drop(&r);
	if (st == 0 && r.n[RC_FAILED] == 0)
		rc = CTL_OK;
	if (st == 0 || r.nv > 0 || r.held > 0) {
		if (c->json)
			rc_report_json(&r);
		else
			rc_report_text(&r);
	}
	rc_free(&r);
	return rc;
}
