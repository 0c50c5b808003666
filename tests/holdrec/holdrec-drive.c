/*
 * NAME
 *	holdrec-drive - every hold record transition against a real Redis
 * SUMMARY
 *	holdrec-drive unix:/path/to/redis.sock
 * DESCRIPTION
 *	Runs each function of lib/mail/holdrec.c on an empty Redis (the
 *	caller's throwaway server; it writes keys under etrn:) and checks
 *	the record, its indexes and the domain's counters after each, the
 *	batch forms with several queue IDs in one call, and the crash
 *	points between two steps: each transition run a second time (as
 *	after a crash before its result was acted on) must change nothing
 *	or converge, and no counter may move twice.
 * DIAGNOSTICS
 *	One "ok N - what" or "not ok N - what: got ..., want ..." line per
 *	check (TAP); exit 0 when all passed, 1 otherwise, 2 when Redis
 *	cannot be used.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mail/holdrec.h"
#include "mail/rkeys.h"
#include "util/buf.h"
#include "util/rargs.h"
#include "util/redis_sync.h"

#define HOST	"mx.test"
#define DOM	"d.test"
#define TOKEN_A	"0123456789abcdef0123456789abcdef"
#define TOKEN_B	"fedcba9876543210fedcba9876543210"

static struct rpool *rp;
static int ntest, nfail;

/* ok - one check */
static void
ok(int cond, const char *what)
{
	ntest++;
	if (cond)
		printf("ok %d - %s\n", ntest, what);
	else {
		printf("not ok %d - %s\n", ntest, what);
		nfail++;
	}
}

/* is - one check of a string: got against want (NULL: absent) */
static void
is(const char *got, const char *want, const char *what)
{
	int	same = (got == NULL && want == NULL) || (got != NULL &&
	    want != NULL && strcmp(got, want) == 0);

	ntest++;
	if (same) {
		printf("ok %d - %s\n", ntest, what);
		return;
	}
	printf("not ok %d - %s: got '%s', want '%s'\n", ntest, what,
	    got ? got : "(none)", want ? want : "(none)");
	nfail++;
}

/* cmd - a command from C strings up to NULL; the reply, exits on error */
static void
cmd(struct rr_reply *r, ...)
{
	struct rargs a = RARGS_INIT;
	const char *s;
	va_list	ap;

	va_start(ap, r);
	while ((s = va_arg(ap, const char *)) != NULL)
		rargs_str(&a, s);
	va_end(ap);
	if (rpool_command(rp, a.n, a.v, a.l, r) < 0) {
		fprintf(stderr, "redis: %s\n", r->str ? r->str : "failed");
		exit(2);
	}
	rargs_free(&a);
}

/* value - a one-string answer into out ("" with a NULL return: nil) */
static const char *
value(char *out, size_t len, struct rr_reply *r)
{
	const char *v = NULL;

	if (r->status == RR_OK && r->type == RRT_STR) {
		snprintf(out, len, "%s", r->str);
		v = out;
	} else if (r->status == RR_OK && r->type == RRT_INT) {
		snprintf(out, len, "%lld", r->integer);
		v = out;
	}
	rr_reply_free(r);
	return v;
}

/* field - a field of this host's record qid, NULL when absent */
static const char *
field(const char *qid, const char *f)
{
	static char v[4][256];
	static int i;
	struct buf k = BUF_INIT;
	struct rr_reply r;

	rkey_msg(&k, HOST, qid);
	cmd(&r, "HGET", k.s, f, NULL);
	buf_free(&k);
	i = (i + 1) % 4;
	return value(v[i], sizeof(v[i]), &r);
}

/* counter - a counter of DOM, NULL when absent */
static const char *
counter(const char *f)
{
	static char v[4][64];
	static int i;
	struct buf k = BUF_INIT;
	struct rr_reply r;

	rkey_stats(&k, DOM);
	cmd(&r, "HGET", k.s, f, NULL);
	buf_free(&k);
	i = (i + 1) % 4;
	return value(v[i], sizeof(v[i]), &r);
}

/* score - member's score in a zset of this host ("held": DOM's set) */
static const char *
score(const char *index, const char *qid)
{
	static char v[4][64];
	static int i;
	struct buf k = BUF_INIT, m = BUF_INIT;
	struct rr_reply r;

	if (strcmp(index, "held") == 0) {
		rkey_held(&k, DOM);
		rkey_member(&m, HOST, qid);
	} else {
		if (strcmp(index, "expiry") == 0)
			rkey_expiry(&k, HOST);
		else if (strcmp(index, "warn") == 0)
			rkey_warn(&k, HOST);
		else if (strcmp(index, "released") == 0)
			rkey_released(&k, HOST);
		else
			rkey_pending(&k, HOST);
		buf_cat(&m, qid);
	}
	cmd(&r, "ZSCORE", k.s, m.s, NULL);
	buf_free(&k);
	buf_free(&m);
	i = (i + 1) % 4;
	return value(v[i], sizeof(v[i]), &r);
}

/* exists - does this host's record qid exist */
static int
exists(const char *qid)
{
	struct buf k = BUF_INIT;
	struct rr_reply r;
	int	n;

	rkey_msg(&k, HOST, qid);
	cmd(&r, "EXISTS", k.s, NULL);
	n = r.type == RRT_INT && r.integer == 1;
	rr_reply_free(&r);
	buf_free(&k);
	return n;
}

/* elem - element i of an array reply, NULL past its end */
static const char *
elem(const struct rr_reply *r, size_t i)
{
	return r->type == RRT_ARRAY && i < r->nelem ? r->elems[i] : NULL;
}

/* call - a transition's result: must succeed */
static void
call(int rc, struct rr_reply *r, const char *what)
{
	if (rc < 0) {
		printf("not ok %d - %s: %s\n", ++ntest, what,
		    r->str ? r->str : "failed");
		nfail++;
	}
}

/* newrec - a record of DOM for qid: 2 recipients, size 100 */
static void
newrec(struct holdrec_new *n, struct buf *rc, const char *qid,
    const char *token, long long arrived)
{
	memset(n, 0, sizeof(*n));
	buf_reset(rc);
	buf_cat(rc, "a@" DOM "\t\t\nb@" DOM "\t\t\n");
	n->qid = qid;
	n->domain = DOM;
	n->token = token;
	n->sender = "s@example.org";
	n->rcpts = rc;
	n->nrcpt = 2;
	n->size = 100;
	n->arrived = arrived;
	n->expires = arrived + 3600;
	n->warn_at = arrived + 600;
	n->arrived_ms = arrived * 1000;
}

/* t_store_promote - intake, promote (batch, twice), reused queue ID */
static void
t_store_promote(void)
{
	struct holdrec_new n;
	struct buf rc = BUF_INIT;
	struct rr_reply r;
	char	*ids[] = { "A00001", "A00002", "A0000F" };

	newrec(&n, &rc, "A00001", TOKEN_A, 1000);
	call(holdrec_store(rp, HOST, &n, &r), &r, "store");
	rr_reply_free(&r);
	newrec(&n, &rc, "A00002", TOKEN_A, 900);
	call(holdrec_store(rp, HOST, &n, &r), &r, "store");
	rr_reply_free(&r);
	is(field("A00001", RF_STATE), RSTATE_PENDING, "store: pending");
	is(score("pending", "A00001"), "1000000", "store: pending index");
	is(score("held", "A00001"), NULL, "store: not in the held set");
	is(score("expiry", "A00001"), NULL, "store: not in expiry");
	is(counter(SF_HELD), NULL, "store: not counted");

	call(holdrec_promote(rp, HOST, ids, 3, &r), &r, "promote");
	ok(r.nelem == 4, "promote: batch of 3, two records promoted");
	is(elem(&r, 1), DOM, "promote: domain returned");
	rr_reply_free(&r);
	is(field("A00001", RF_STATE), RSTATE_HELD, "promote: held");
	is(score("pending", "A00001"), NULL, "promote: out of pending");
	is(score("held", "A00002"), "900", "promote: held set, arrival");
	is(score("expiry", "A00001"), "4600", "promote: expiry index");
	is(score("warn", "A00001"), "1600", "promote: warning index");
	is(counter(SF_HELD), "2", "promote: held counted");
	is(counter(SF_BYTES), "200", "promote: bytes counted");
	is(counter(SF_RECEIVED), "2", "promote: received counted");
	is(counter(SF_OLDEST), "900", "promote: oldest");

	/* A crash after the script, before the log: run again. */
	call(holdrec_promote(rp, HOST, ids, 3, &r), &r, "promote again");
	ok(r.nelem == 0, "promote again: nothing promoted");
	rr_reply_free(&r);
	is(counter(SF_HELD), "2", "promote again: held not doubled");
	is(counter(SF_RECEIVED), "2", "promote again: received not doubled");

	/* A reused queue ID: the old record's share goes first. */
	newrec(&n, &rc, "A00002", TOKEN_B, 2000);
	call(holdrec_store(rp, HOST, &n, &r), &r, "store over held");
	rr_reply_free(&r);
	is(counter(SF_HELD), "1", "store over held: old share out");
	is(counter(SF_BYTES), "100", "store over held: old bytes out");
	is(counter(SF_OLDEST), "1000", "store over held: oldest recomputed");
	is(score("expiry", "A00002"), NULL, "store over held: expiry out");
	is(field("A00002", RF_STATE), RSTATE_PENDING, "store over held: "
	    "pending");
	buf_free(&rc);
}

/* t_drop_pending - old pending records go, new ones stay */
static void
t_drop_pending(void)
{
	struct holdrec_new n;
	struct buf rc = BUF_INIT;
	struct rr_reply r;
	char	*ids[] = { "A00002", "A00003" };

	newrec(&n, &rc, "A00003", TOKEN_A, 5000);
	call(holdrec_store(rp, HOST, &n, &r), &r, "store");
	rr_reply_free(&r);
	/* A00002 was written at 2000000 ms, A00003 at 5000000 */
	call(holdrec_drop_pending(rp, HOST, 3000000, ids, 2, &r), &r,
	    "drop_pending");
	ok(r.nelem == 2 && elem(&r, 0) && strcmp(elem(&r, 0), "A00002") == 0,
	    "drop_pending: the old one dropped");
	rr_reply_free(&r);
	ok(!exists("A00002"), "drop_pending: record gone");
	is(score("pending", "A00002"), NULL, "drop_pending: index entry gone");
	ok(exists("A00003"), "drop_pending: the young one kept");
	is(score("pending", "A00003"), "5000000", "drop_pending: young "
	    "entry kept");
	call(holdrec_drop_pending(rp, HOST, 3000000, ids, 2, &r), &r,
	    "drop_pending again");
	ok(r.nelem == 0, "drop_pending again: nothing");
	rr_reply_free(&r);
	is(counter(SF_HELD), "1", "drop_pending: counters untouched");
	buf_free(&rc);
}

/* t_release - list, mark (batch), crash, unmark, rehold, gone */
static void
t_release(void)
{
	struct holdrec_rehold rh;
	struct rr_reply r;
	char	*ids[] = { "A00001", "A00003" };
	char	*one[] = { "A00003" };
	char	*rcpt[] = { "B@D.TEST" };

	call(holdrec_promote(rp, HOST, one, 1, &r), &r, "promote");
	rr_reply_free(&r);
	call(holdrec_list(rp, HOST, DOM, &r), &r, "list");
	ok(r.nelem == 4, "list: two held");
	is(elem(&r, 1), RSTATE_HELD, "list: state");
	rr_reply_free(&r);

	call(holdrec_mark_released(rp, HOST, 7000, ids, 2, &r), &r, "mark");
	ok(r.nelem == 2, "mark: batch, both marked");
	rr_reply_free(&r);
	is(field("A00001", RF_STATE), RSTATE_RELEASED, "mark: released");
	is(field("A00003", RF_RELEASED_AT), "7000", "mark: released_at");
	is(score("released", "A00003"), "7000", "mark: released index");
	is(counter(SF_HELD), "2", "mark: still counted held");

	/* Crash: marked, never released nor unmarked; the next flush. */
	call(holdrec_mark_released(rp, HOST, 8000, ids, 2, &r), &r,
	    "mark again");
	ok(r.nelem == 0, "mark again: nothing marked twice");
	rr_reply_free(&r);
	is(score("released", "A00001"), "7000", "mark again: time kept");
	call(holdrec_unmark(rp, HOST, ids, 2, &r), &r, "unmark");
	rr_reply_free(&r);
	is(field("A00001", RF_STATE), RSTATE_HELD, "unmark: held again");
	is(field("A00001", RF_RELEASED_AT), NULL, "unmark: released_at gone");
	is(score("released", "A00001"), NULL, "unmark: out of the index");
	call(holdrec_unmark(rp, HOST, ids, 2, &r), &r, "unmark again");
	rr_reply_free(&r);
	is(field("A00003", RF_STATE), RSTATE_HELD, "unmark again: converges");

	/* Released, deferred: back on hold with one recipient left. */
	call(holdrec_mark_released(rp, HOST, 9000, ids, 2, &r), &r, "mark");
	rr_reply_free(&r);
	rh.qid = "A00001";
	rh.rcpt = rcpt;
	rh.nrcpt = 1;
	call(holdrec_rehold(rp, HOST, &rh, 1, &r), &r, "rehold");
	is(elem(&r, 2), "2", "rehold: held, recipients rewritten");
	is(elem(&r, 3), "1", "rehold: reholds 1");
	rr_reply_free(&r);
	is(field("A00001", RF_STATE), RSTATE_HELD, "rehold: held");
	is(field("A00001", RF_NRCPT), "1", "rehold: nrcpt");
	is(field("A00001", RF_RCPTS), "b@" DOM "\t\t\n", "rehold: recipients");
	is(score("released", "A00001"), NULL, "rehold: out of released");
	call(holdrec_rehold(rp, HOST, &rh, 1, &r), &r, "rehold again");
	is(elem(&r, 2), "0", "rehold again: left alone");
	rr_reply_free(&r);
	is(field("A00001", RF_REHOLDS), "1", "rehold again: reholds kept");

	/* Delivered: gone with tracking, twice. */
	call(holdrec_gone(rp, HOST, 1, NULL, one, 1, &r), &r, "gone");
	is(elem(&r, 1), "1", "gone: removed");
	rr_reply_free(&r);
	ok(!exists("A00003"), "gone: record deleted");
	is(score("held", "A00003"), NULL, "gone: out of the held set");
	is(score("expiry", "A00003"), NULL, "gone: out of expiry");
	is(score("warn", "A00003"), NULL, "gone: out of warn");
	is(score("released", "A00003"), NULL, "gone: out of released");
	is(counter(SF_HELD), "1", "gone: held - 1");
	is(counter(SF_BYTES), "100", "gone: bytes - size");
	is(counter(SF_FLUSHED), "1", "gone: flushed + 1");
	call(holdrec_gone(rp, HOST, 1, NULL, one, 1, &r), &r, "gone again");
	is(elem(&r, 1), "2", "gone again: no record");
	rr_reply_free(&r);
	is(counter(SF_FLUSHED), "1", "gone again: flushed not doubled");
	is(counter(SF_HELD), "1", "gone again: held not doubled");
}

/* t_expire - expire_now, begin, DSN states, to_tracking, finish twice */
static void
t_expire(void)
{
	struct rr_reply r;

	call(holdrec_expire_now(rp, HOST, "A00001", 4000, &r), &r,
	    "expire_now");
	is(elem(&r, 0), "1", "expire_now: scheduled");
	rr_reply_free(&r);
	is(score("expiry", "A00001"), "4000", "expire_now: expiry index");
	is(field("A00001", RF_EXPIRES), "4000", "expire_now: expires");
	call(holdrec_expire_now(rp, HOST, "A00009", 4000, &r), &r,
	    "expire_now");
	is(elem(&r, 0), "0", "expire_now: no record");
	rr_reply_free(&r);

	call(holdrec_expire_begin(rp, HOST, "A00001", 4100, &r), &r, "begin");
	is(elem(&r, 0), "1", "expire_begin: held -> expiring");
	rr_reply_free(&r);
	is(field("A00001", RF_STATE), RSTATE_EXPIRING, "expire_begin: state");
	is(field("A00001", RF_EXPIRE_AT), "4100", "expire_begin: started");
	call(holdrec_expire_begin(rp, HOST, "A00001", 4200, &r), &r, "begin");
	is(elem(&r, 0), "0", "expire_begin again: not held, left alone");
	rr_reply_free(&r);
	is(field("A00001", RF_EXPIRE_AT), "4100", "expire_begin again: kept");

	call(holdrec_dsn_state(rp, HOST, "A00001", 0, RDSN_SENDING, "4100",
	    NULL, NULL, &r), &r, "dsn sending");
	rr_reply_free(&r);
	is(field("A00001", RF_DSN_STATE), RDSN_SENDING, "dsn: sending");
	is(field("A00001", RF_DSN_SINCE), "4100", "dsn: since");
	call(holdrec_dsn_state(rp, HOST, "A00001", 0, RDSN_QUEUED, NULL,
	    "B00001", NULL, &r), &r, "dsn queued");
	rr_reply_free(&r);
	is(field("A00001", RF_DSN_QID), "B00001", "dsn: queued as");
	call(holdrec_dsn_state(rp, HOST, "A00001", 0, RDSN_SENT, NULL, NULL,
	    "<m@x>", &r), &r, "dsn sent");
	rr_reply_free(&r);
	is(field("A00001", RF_DSN_STATE), RDSN_SENT, "dsn: sent");
	is(field("A00001", RF_DSN_ID), "<m@x>", "dsn: Message-ID");
	call(holdrec_dsn_state(rp, HOST, "A00001", 1, RDSN_NONE, NULL, NULL,
	    NULL, &r), &r, "warning none");
	rr_reply_free(&r);
	is(field("A00001", RF_WARNED), RDSN_NONE, "warning: none");
	call(holdrec_warn_done(rp, HOST, "A00001", &r), &r, "warn_done");
	rr_reply_free(&r);
	is(score("warn", "A00001"), NULL, "warn_done: out of warn");

	call(holdrec_to_tracking(rp, HOST, "A00001", 4300, &r), &r,
	    "to_tracking");
	is(elem(&r, 0), "1", "to_tracking: expiring -> released");
	rr_reply_free(&r);
	is(score("released", "A00001"), "4300", "to_tracking: listed");
	call(holdrec_to_tracking(rp, HOST, "A00001", 4400, &r), &r,
	    "to_tracking again");
	is(elem(&r, 0), "0", "to_tracking again: left alone");
	rr_reply_free(&r);

	call(holdrec_finish(rp, HOST, "A00001", 1, &r), &r, "finish");
	ok(r.type == RRT_INT && r.integer == 1, "finish: deleted");
	rr_reply_free(&r);
	ok(!exists("A00001"), "finish: no record");
	is(score("held", "A00001"), NULL, "finish: out of the held set");
	is(score("expiry", "A00001"), NULL, "finish: out of expiry");
	is(score("released", "A00001"), NULL, "finish: out of released");
	is(counter(SF_HELD), "0", "finish: held 0");
	is(counter(SF_BYTES), "0", "finish: bytes 0");
	is(counter(SF_EXPIRED), "1", "finish: expired 1");
	is(counter(SF_OLDEST), NULL, "finish: no oldest");
	call(holdrec_finish(rp, HOST, "A00001", 1, &r), &r, "finish again");
	ok(r.type == RRT_INT && r.integer == 0, "finish again: no record");
	rr_reply_free(&r);
	is(counter(SF_EXPIRED), "1", "finish again: expired not doubled");
	is(counter(SF_HELD), "0", "finish again: held not doubled");
}

/* t_rebuild - from a tag, again with the same token, with another */
static void
t_rebuild(void)
{
	struct holdrec_new n;
	struct buf rc = BUF_INIT;
	struct rr_reply r;
	char	*ids[] = { "A00007", "A00008" };

	newrec(&n, &rc, "A00007", TOKEN_A, 3000);
	n.warn_at = 0;
	call(holdrec_rebuild(rp, HOST, &n, 0, &r), &r, "rebuild");
	ok(r.type == RRT_INT && r.integer == 1, "rebuild: written");
	rr_reply_free(&r);
	is(field("A00007", RF_STATE), RSTATE_HELD, "rebuild: held");
	is(score("held", "A00007"), "3000", "rebuild: held set");
	is(score("expiry", "A00007"), "6600", "rebuild: expiry");
	is(counter(SF_HELD), "1", "rebuild: counted");
	is(counter(SF_BYTES), "100", "rebuild: bytes");

	call(holdrec_rebuild(rp, HOST, &n, 0, &r), &r, "rebuild again");
	ok(r.type == RRT_INT && r.integer == 0, "rebuild, same token: left");
	rr_reply_free(&r);
	is(counter(SF_HELD), "1", "rebuild, same token: held unchanged");
	is(counter(SF_BYTES), "100", "rebuild, same token: bytes unchanged");

	n.token = TOKEN_B;
	n.size = 50;
	call(holdrec_rebuild(rp, HOST, &n, 1, &r), &r, "rebuild keep");
	ok(r.type == RRT_INT && r.integer == 0, "rebuild, keep: left alone");
	rr_reply_free(&r);
	call(holdrec_rebuild(rp, HOST, &n, 0, &r), &r, "rebuild other");
	ok(r.type == RRT_INT && r.integer == 1, "rebuild, other token: "
	    "replaced");
	rr_reply_free(&r);
	is(field("A00007", RF_TOKEN), TOKEN_B, "rebuild, other token: token");
	is(counter(SF_HELD), "1", "rebuild, other token: held unchanged");
	is(counter(SF_BYTES), "50", "rebuild, other token: bytes replaced");

	call(holdrec_missing(rp, HOST, ids, 2, &r), &r, "missing");
	ok(r.nelem == 1 && strcmp(elem(&r, 0), "A00008") == 0,
	    "missing: the one without record");
	rr_reply_free(&r);

	call(holdrec_drop(rp, HOST, "A00007", TOKEN_A, RSTATE_HELD, &r), &r,
	    "drop");
	is(elem(&r, 0), "0", "drop, another token: left alone");
	rr_reply_free(&r);
	call(holdrec_drop(rp, HOST, "A00007", TOKEN_B, RSTATE_RELEASED, &r),
	    &r, "drop");
	is(elem(&r, 0), "0", "drop, another state: left alone");
	rr_reply_free(&r);
	call(holdrec_drop(rp, HOST, "A00007", TOKEN_B, RSTATE_HELD, &r), &r,
	    "drop");
	is(elem(&r, 0), "1", "drop: dropped");
	is(elem(&r, 1), DOM, "drop: domain");
	rr_reply_free(&r);
	ok(!exists("A00007"), "drop: no record");
	is(score("expiry", "A00007"), NULL, "drop: out of expiry");
	is(counter(SF_HELD), "0", "drop: held 0");
	is(counter(SF_BYTES), "0", "drop: bytes 0");
	call(holdrec_drop(rp, HOST, "A00007", "", "", &r), &r, "drop again");
	is(elem(&r, 0), "2", "drop again: index entries only");
	rr_reply_free(&r);
	is(counter(SF_HELD), "0", "drop again: held not moved");
	buf_free(&rc);
}

/* t_stale - a held record without queue file, and an orphan member */
static void
t_stale(void)
{
	struct holdrec_new n;
	struct buf rc = BUF_INIT, k = BUF_INIT, m = BUF_INIT;
	struct rr_reply r;
	char	*ids[] = { "A00010", "A00011" };

	newrec(&n, &rc, "A00010", TOKEN_A, 6000);
	call(holdrec_rebuild(rp, HOST, &n, 0, &r), &r, "rebuild");
	rr_reply_free(&r);
	rkey_held(&k, DOM);
	rkey_member(&m, HOST, "A00011");
	cmd(&r, "ZADD", k.s, "10", m.s, NULL);
	rr_reply_free(&r);
	call(holdrec_gone(rp, HOST, 0, DOM, ids, 2, &r), &r, "gone stale");
	is(elem(&r, 1), "1", "gone stale: record removed");
	is(elem(&r, 4), "2", "gone stale: orphan member removed");
	rr_reply_free(&r);
	is(score("held", "A00011"), NULL, "gone stale: orphan out");
	is(counter(SF_HELD), "0", "gone stale: held 0");
	is(counter(SF_FLUSHED), "1", "gone stale: not counted flushed");
	call(holdrec_flushed_at(rp, DOM, 6100, &r), &r, "flushed_at");
	rr_reply_free(&r);
	is(counter(SF_LAST_FLUSH), "6100", "flushed_at: last_flush");
	rkey_released(&k, HOST);
	cmd(&r, "ZADD", k.s, "1", "bad member", NULL);
	rr_reply_free(&r);
	call(holdrec_released_drop(rp, HOST, "bad member", &r), &r,
	    "released_drop");
	ok(r.type == RRT_INT && r.integer == 1, "released_drop: removed");
	rr_reply_free(&r);
	buf_free(&rc);
	buf_free(&k);
	buf_free(&m);
}

/* numdiff - counter f of DOM minus base (a counter absent counts 0) */
static long long
numdiff(const char *f, long long base)
{
	const char *v = counter(f);

	return (v ? atoll(v) : 0) - base;
}

/* t_expire_many_load - the batch read: a record, not a hash, none */
static void
t_expire_many_load(void)
{
	struct rr_reply r, v;
	struct holdrec h;
	struct buf k = BUF_INIT;
	char	*ids[] = { "A00011", "A00015", "A00016" };
	size_t	pos = 0;

	rkey_msg(&k, HOST, "A00015");
	cmd(&r, "SET", k.s, "x", NULL);
	rr_reply_free(&r);
	call(holdrec_load(rp, HOST, ids, 3, &r), &r, "load");
	ok(holdrec_load_next(&r, &pos, &v) == 1 && holdrec_decode(&v, &h,
	    NULL) == HOLDREC_OK && strcmp(h.state, RSTATE_HELD) == 0,
	    "load: a held record, decoded");
	ok(holdrec_load_next(&r, &pos, &v) == 0, "load: not a hash");
	ok(holdrec_load_next(&r, &pos, &v) == 1 && holdrec_decode(&v, &h,
	    NULL) == HOLDREC_NONE, "load: no record");
	ok(holdrec_load_next(&r, &pos, &v) == -1, "load: end of the batch");
	rr_reply_free(&r);
	cmd(&r, "DEL", k.s, NULL);
	rr_reply_free(&r);
	buf_free(&k);
}

/* t_expire_many_dsn - DSN states for a batch, one record not expiring */
static void
t_expire_many_dsn(void)
{
	struct holdrec_dsn d[3] = {
		{ "A00011", "5100", NULL, NULL },
		{ "A00012", "5100", NULL, NULL },
		{ "A00013", "5100", NULL, NULL },	/* released */
	};
	struct rr_reply r;

	call(holdrec_dsn_many(rp, HOST, RDSN_SENDING, d, 3, &r), &r,
	    "dsn_many sending");
	ok(r.nelem == 2, "dsn_many sending: the two expiring written");
	rr_reply_free(&r);
	is(field("A00011", RF_DSN_STATE), RDSN_SENDING, "dsn_many: sending");
	is(field("A00012", RF_DSN_SINCE), "5100", "dsn_many: since");
	is(field("A00013", RF_DSN_STATE), NULL, "dsn_many: released left");
	d[0].since = d[1].since = NULL;
	d[0].dsn_qid = "B00011";
	d[1].dsn_qid = "B00012";
	call(holdrec_dsn_many(rp, HOST, RDSN_QUEUED, d, 2, &r), &r,
	    "dsn_many queued");
	rr_reply_free(&r);
	is(field("A00011", RF_DSN_QID), "B00011", "dsn_many: queued as");
	is(field("A00012", RF_DSN_SINCE), "5100", "dsn_many: since kept");
	d[0].dsn_qid = d[1].dsn_qid = NULL;
	d[0].msgid = "<m11@x>";
	call(holdrec_dsn_many(rp, HOST, RDSN_SENT, d, 1, &r), &r,
	    "dsn_many sent");
	rr_reply_free(&r);
	is(field("A00011", RF_DSN_STATE), RDSN_SENT, "dsn_many: sent");
	is(field("A00011", RF_DSN_ID), "<m11@x>", "dsn_many: Message-ID");
	is(field("A00011", RF_DSN_QID), "B00011", "dsn_many: queue ID kept");
	call(holdrec_dsn_many(rp, HOST, RDSN_NONE, d + 1, 1, &r), &r,
	    "dsn_many none");
	rr_reply_free(&r);
	is(field("A00012", RF_DSN_STATE), RDSN_NONE, "dsn_many: none");
	/* Run again after a crash: the same values, nothing else. */
	call(holdrec_dsn_many(rp, HOST, RDSN_SENT, d, 1, &r), &r,
	    "dsn_many sent again");
	ok(r.nelem == 1, "dsn_many sent again: converges");
	rr_reply_free(&r);
}

/*
 * t_expire_many - the batch forms of expiry: load, begin (one record
 * released, one without record), DSN states, finish; each run again
 */
static void
t_expire_many(void)
{
	struct holdrec_new n;
	struct buf rc = BUF_INIT;
	struct rr_reply r;
	char	*ids[] = { "A00011", "A00012", "A00013", "A00016" };
	char	*rel[] = { "A00013" };
	long long held, bytes, expired;
	size_t	i;

	for (i = 0; i < 3; i++) {
		newrec(&n, &rc, ids[i], TOKEN_A, 5000);
		call(holdrec_store(rp, HOST, &n, &r), &r, "store");
		rr_reply_free(&r);
	}
	call(holdrec_promote(rp, HOST, ids, 3, &r), &r, "promote");
	rr_reply_free(&r);
	call(holdrec_mark_released(rp, HOST, 5050, rel, 1, &r), &r, "mark");
	rr_reply_free(&r);
	held = numdiff(SF_HELD, 0);
	bytes = numdiff(SF_BYTES, 0);
	expired = numdiff(SF_EXPIRED, 0);
	t_expire_many_load();

	call(holdrec_expire_begin_many(rp, HOST, 5100, ids, 4, &r), &r,
	    "begin_many");
	ok(r.nelem == 2 && strcmp(r.elems[0], "A00011") == 0 &&
	    strcmp(r.elems[1], "A00012") == 0, "begin_many: the two held");
	rr_reply_free(&r);
	is(field("A00011", RF_STATE), RSTATE_EXPIRING, "begin_many: expiring");
	is(field("A00012", RF_EXPIRE_AT), "5100", "begin_many: started");
	is(field("A00013", RF_STATE), RSTATE_RELEASED, "begin_many: released "
	    "left alone");
	ok(!exists("A00016"), "begin_many: no record made");
	call(holdrec_expire_begin_many(rp, HOST, 5200, ids, 4, &r), &r,
	    "begin_many again");
	ok(r.nelem == 0, "begin_many again: none moved");
	rr_reply_free(&r);
	is(field("A00011", RF_EXPIRE_AT), "5100", "begin_many again: kept");

	t_expire_many_dsn();

	call(holdrec_finish_many(rp, HOST, 1, ids, 2, &r), &r, "finish_many");
	ok(r.nelem == 4 && strcmp(r.elems[1], "1") == 0 &&
	    strcmp(r.elems[3], "1") == 0, "finish_many: both removed");
	rr_reply_free(&r);
	ok(!exists("A00011") && !exists("A00012"), "finish_many: no records");
	is(score("held", "A00012"), NULL, "finish_many: out of the held set");
	is(score("expiry", "A00011"), NULL, "finish_many: out of expiry");
	is(score("warn", "A00011"), NULL, "finish_many: out of warn");
	ok(numdiff(SF_HELD, held) == -2, "finish_many: held - 2");
	ok(numdiff(SF_BYTES, bytes) == -200, "finish_many: bytes - 200");
	ok(numdiff(SF_EXPIRED, expired) == 2, "finish_many: expired + 2");
	/* A crash before the log: run again; one ID never had a record. */
	call(holdrec_finish_many(rp, HOST, 1, ids, 4, &r), &r,
	    "finish_many again");
	ok(r.nelem == 8 && strcmp(r.elems[1], "0") == 0 &&
	    strcmp(r.elems[5], "1") == 0 && strcmp(r.elems[7], "0") == 0,
	    "finish_many again: only the released record removed");
	rr_reply_free(&r);
	ok(numdiff(SF_EXPIRED, expired) == 3, "finish_many again: expired "
	    "counts the one record removed");
	ok(numdiff(SF_HELD, held) == -3, "finish_many again: held not "
	    "doubled");
	is(score("released", "A00013"), NULL, "finish_many: out of released");
	buf_free(&rc);
}

/* main - connect, run the steps in order */
int
main(int argc, char **argv)
{
	struct rr_reply r;

	if (argc != 2) {
		fprintf(stderr, "usage: holdrec-drive unix:/path\n");
		return 2;
	}
	if ((rp = rpool_new(argv[1], NULL, 0, 5000, NULL)) == NULL) {
		fprintf(stderr, "bad address %s\n", argv[1]);
		return 2;
	}
	cmd(&r, "FLUSHDB", NULL);
	rr_reply_free(&r);
	t_store_promote();
	t_drop_pending();
	t_release();
	t_expire();
	t_rebuild();
	t_stale();
	t_expire_many();
	printf("1..%d\n", ntest);
	rpool_free(rp);
	return nfail ? 1 : 0;
}
