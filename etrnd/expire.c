/*
 * NAME
 *	expire - return held mail at its deadline, warn senders before
 * SUMMARY
 *	expire_sweep(&runner);
 * DESCRIPTION
 *	Called by the queue runner every queue_run_interval.  It works on up
 *	to EXP_BATCH of this host's messages whose deadline has passed
 *	(etrn:expiry:<host>) and runs each through a state machine kept in
 *	its Redis record, so that a crash at any point resumes where it
 *	stopped:
 *	  held -> expiring                  (runner_flush leaves it alone)
 *	  the queue file is checked: in the hold queue and carrying the
 *	  record's token in a tag whose MAC verifies; gone -> the record is
 *	  dropped; another token, or only a forged or unsigned tag -> the
 *	  record is dropped and the file left alone (a reused ID; the
 *	  forged or unsigned tag is logged)
 *	  dsn_state: (unset) -> sending (-> queued) -> sent | none; with
 *	  dsn_server the sweep's DSNs wait on hold and are released
 *	  together (one command) before any file is deleted
 *	  the queue file is deleted and checked gone
 *	  the record and its index entries are removed, expired + 1
 *	A sweep is a batch of up to EXP_BATCH messages taken through
 *	stages, each written for the whole batch before the next begins, so
 *	that a crash leaves every message of the batch at the same step:
 *	  the queue listed once (the state of every due message);
 *	  the records read (one script, holdrec_load);
 *	  held -> expiring (one script, holdrec_expire_begin_many);
 *	  each queue file checked (hold queue, token; qb_read_headers()
 *	  through one reader process per sweep, postcat when in doubt) and
 *	  its DSN built (at most EXP_DSN_BYTES of DSN text per sweep);
 *	  records in dsn_state sending from before a crash: their DSNs
 *	  looked for on hold (one listing, by Message-ID) and recorded
 *	  queued, the others built anew;
 *	  the DSNs recorded sending (one script), submitted over up to
 *	  DSN_SESSIONS sessions at once (dsnsend_submit_many, worker
 *	  threads that neither log nor touch Redis) in chunks growing from
 *	  EXP_CHUNK_MIN to EXP_CHUNK_MAX, each chunk recorded queued with
 *	  the DSNs' queue IDs (one script) when it ends;
 *	  DSNs not wanted or impossible recorded none (one script);
 *	  the DSNs released (one postsuper -H and a qmgr wake-up, queue IDs
 *	  kept) and recorded sent with their Message-IDs (one script);
 *	  the originals deleted (one postsuper -d), checked gone (one
 *	  listing), their records removed (one script, holdrec_finish_many).
 *	While more is due than one sweep takes, the delete runs in a thread
 *	of its own (exp_bg) and the next sweep, which leaves that batch out,
 *	checks it gone and removes its records just before its own delete:
 *	postsuper -d, the slowest command, overlaps the next batch's DSNs.
 *	A session that breaks under a DSN after carrying others (-2) may
 *	have had it taken: after the chunk such DSNs are looked for on hold
 *	(one listing) and only the ones not found are submitted once more.
 *	Without dsn_server each DSN goes to sendmail(1) as it is built.
 *	dsnsend_end() closes the sessions at the end of the sweep.
 *	A DSN is sent only to a non-null sender and only for recipients
 *	whose NOTIFY asks for failures (dsn.c).  Its Message-ID is derived
 *	from the hold token with the secret key (holdtag_derive(): it does
 *	not show the token), so should etrnd die between handing the DSN
 *	to the MTA and recording "sent", the copy sent again on restart has
 *	the same Message-ID as the first: recipients' systems see it as a
 *	duplicate.  Nothing is deleted before its DSN is out.
 *
 *	Delay warnings (etrn:warn:<host>): a held message past its warn_at
 *	gets one "delayed" DSN when NOTIFY allows (warned: sending -> sent).
 *	A message released at its deadline is left to the tracking
 *	(runner.c): delivered, or back on hold and expired at the next
 *	sweep.  Every change of the record is a holdrec.c transition
 *	(the batch forms above; holdrec_dsn_state, holdrec_to_tracking,
 *	holdrec_finish and holdrec_warn_done for one message).
 * DIAGNOSTICS
 *	One log line per message: "QID: expired domain=D held=... dsn=..."
 *	or why it was dropped; failures are retried at the next sweep,
 *	except a DSN the DSN server refused for now (4xx, or no answer):
 *	logged with the queue ID at each attempt, tried again after 30 s.
 */
#include "config.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "etrnd/dsnsend.h"
#include "etrnd/runner.h"
#include "mail/dsn.h"
#include "mail/holdrec.h"
#include "mail/holdtag.h"
#include "mail/qid.h"
#include "mail/rkeys.h"
#include "util/log.h"
#include "util/xalloc.h"

#define EXP_BATCH	2000	/* messages worked on per sweep */
#define EXP_FETCH	"4000"	/* due entries looked at per sweep */
#define EXP_DSN_BYTES	(64 * 1024 * 1024)	/* DSN text a sweep, at most */
#define EXP_CHUNK_MIN	4	/* DSNs submitted before the first record */
#define EXP_CHUNK_MAX	256	/* ... and at most between two records */
#define EXP_DSN_RETRY	30	/* s: a DSN refused for now waits this long */
#define EXP_DSN_RETRY_S	"30 s"	/* the same, for the log */

/* A hold record and the HGETALL reply it was decoded from. */
struct rec {
	struct rr_reply rep;
	struct holdrec h;
};

/* The record's fields of one kind of DSN. */
struct dkind {
	enum dsn_action act;
	const char *state, *since, *qid;
};

/*
 * DSNs the DSN server refused for now (a full queue, say), each tried
 * again after EXP_DSN_RETRY rather than at every sweep; the message is
 * not looked at meanwhile (no queue file read, no hold queue scan).  Kept
 * in this process only: after a restart each is tried at once, as after
 * a crash.
 */
static struct {
	char	qid[64];
	enum dsn_action act;
	time_t	next;
} exp_wait[EXP_BATCH];

static const struct dkind dk_failed = {
	DSN_FAILED, RF_DSN_STATE, RF_DSN_SINCE, RF_DSN_QID
};
static const struct dkind dk_delayed = {
	DSN_DELAYED, RF_WARNED, RF_WARN_SINCE, RF_WARN_QID
};

/*
 * exp_load - read a record; 1 found, 0 none, -1 Redis failed, -2 not a
 * valid record (logged)
 */
static int
exp_load(struct runner *r, const char *qid, struct rec *rc)
{
	struct buf key = BUF_INIT;
	struct rargs a = RARGS_INIT;
	const char *why;
	int	st;

	memset(rc, 0, sizeof(*rc));
	rkey_msg(&key, r->s->hostname, qid);
	rargs_str(&a, "HGETALL");
	rargs_str(&a, key.s);
	st = runner_cmd(r, "HGETALL", &a, &rc->rep);
	rargs_free(&a);
	buf_free(&key);
	if (st < 0 && rc->rep.status == RR_ERROR && rc->rep.str != NULL &&
	    strncmp(rc->rep.str, "WRONGTYPE", 9) == 0) {
		/* Not a hash, so no record: its index entries go. */
		log_warnx("%s: record is not a hash; ignored", qid);
		rr_reply_free(&rc->rep);
		memset(&rc->rep, 0, sizeof(rc->rep));
		return 0;
	}
	if (st < 0)
		return -1;
	switch (holdrec_decode(&rc->rep, &rc->h, &why)) {
	case HOLDREC_OK:
		return 1;
	case HOLDREC_NONE:
		return 0;
	default:
		log_warnx("%s: hold record unreadable (%s): left as it is; "
		    "delete it to have it rebuilt from the hold tag", qid, why);
		return -2;
	}
}

/*
 * exp_dsnst - record where a DSN is (holdrec_dsn_state): the failure DSN's
 * or, with k the delay warning's, state and, when not NULL, since, its
 * queue ID and Message-ID; -1 (logged once) when Redis failed
 */
static int
exp_dsnst(struct runner *r, const char *qid, const struct dkind *k,
    const char *state, const char *since, const char *dqid, const char *mid)
{
	struct rr_reply rep;
	int	st;

	st = runner_leased(r, &rep) ? runner_result(r, holdrec_dsn_state(
	    r->redis, r->s->hostname, qid, k->act == DSN_DELAYED, state, since,
	    dqid, mid, &rep), "HSET", &rep) : -1;
	rr_reply_free(&rep);
	return st;
}

/*
 * exp_to_tracking - hand an expiring message found out of the hold
 * (released by hand) to tracking, which settles it (delivered, or back
 * on hold and expired next sweep)
 */
static int
exp_to_tracking(struct runner *r, const char *qid)
{
	struct rr_reply rep;
	int	st;

	st = runner_leased(r, &rep) ? runner_hr(r, holdrec_to_tracking(r->redis,
	    r->s->hostname, qid, (long long)time(NULL), &rep),
	    "hand to tracking", &rep) : -1;
	rr_reply_free(&rep);
	return st;
}

/* exp_finish - drop the record and its index entries */
static int
exp_finish(struct runner *r, const char *qid, int expired)
{
	struct rr_reply rep;
	int	st;

	(void)holdrec_finish(r->redis, r->s->hostname, qid, expired, &rep);
	st = rep.status == RR_OK ? 0 : -1;
	if (st < 0)
		log_warnx("%s: redis: %s", qid, rep.str ? rep.str : "error");
	rr_reply_free(&rep);
	return st;
}

/* exp_tag - does the queued message carry the record's token: 1, 0, -1 */
static int
exp_tag(struct runner *r, const char *qid, const char *token,
    struct buf *hdrs)
{
	struct holdtag t;
	struct buf val = BUF_INIT;
	const char *p, *e;
	int	found = 0, st;

	buf_reset(hdrs);
	if (runner_qb(r, qb_read_headers(r->qb, &r->qc, qid, QS_HELD, hdrs),
	    "read headers") != QB_OK)
		return -1;
	buf_terminate(hdrs);
	for (p = hdrs->s; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 :
	    NULL) {
		if (strncasecmp(p, HOLDTAG_HEADER ":", strlen(HOLDTAG_HEADER) +
		    1) != 0)
			continue;
		/* The value with its continuation lines. */
		buf_reset(&val);
		for (e = p + strlen(HOLDTAG_HEADER) + 1; *e; e++) {
			if (*e == '\n' && e[1] != ' ' && e[1] != '\t')
				break;
			buf_addch(&val, *e);
		}
		/* Only a tag whose MAC verifies is trusted; a forged or
		 * unsigned one never (docs/design.md, Forged tags). */
		st = holdtag_parse(buf_terminate(&val), &t);
		if (st == HOLDTAG_FORGED || st == HOLDTAG_UNSIGNED)
			log_warnx("%s: %s %s header ignored%s domain=%s", qid,
			    st == HOLDTAG_FORGED ? "forged" : "unsigned",
			    HOLDTAG_HEADER, st == HOLDTAG_FORGED ? " (its MAC "
			    "does not verify)" : "", t.domain);
		else if (st == HOLDTAG_OK && strcmp(t.token, token) == 0)
			found = 1;
	}
	buf_free(&val);
	return found;
}

/* exp_rcpts - split the record's recipient lines (in place in copy) */
static size_t
exp_rcpts(char *copy, struct dsn_rcpt **out)
{
	char	*line, *save = NULL, *f2, *f3;
	size_t	n = 0;

	*out = NULL;
	for (line = strtok_r(copy, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		f2 = strchr(line, '\t');
		f3 = f2 ? strchr(f2 + 1, '\t') : NULL;
		if (f2)
			*f2++ = '\0';
		if (f3)
			*f3++ = '\0';
		*out = xreallocarray(*out, n + 1, sizeof(**out));
		(*out)[n].addr = line;
		(*out)[n].notify = f2 && *f2 ? f2 : NULL;
		(*out)[n].orcpt = f3 && *f3 ? f3 : NULL;
		n++;
	}
	return n;
}

/* exp_wanted - does any recipient want this DSN */
static int
exp_wanted(enum dsn_action act, const struct rec *rc)
{
	struct dsn_rcpt *v;
	char	*copy = xstrdup(rc->h.rcpts);
	size_t	n = exp_rcpts(copy, &v), i;
	int	want = 0;

	for (i = 0; i < n && !want; i++)
		want = dsn_wanted(act, v[i].notify, rc->h.sender);
	free(v);
	free(copy);
	return want;
}

/* exp_build - the DSN's text in msg: 0, or 1 if it cannot be built */
static int
exp_build(struct runner *r, const char *qid, const struct rec *rc,
    enum dsn_action act, const struct buf *original, int full,
    struct buf *msg)
{
	struct dsn_input in;
	struct buf err = BUF_INIT;
	char	*copy = xstrdup(rc->h.rcpts);
	struct dsn_rcpt *v;
	int	st = -1;

	memset(&in, 0, sizeof(in));
	in.action = act;
	in.reporting_mta = r->s->hostname;
	in.domain = rc->h.domain;
	in.queue_id = qid;
	in.token = rc->h.token;
	in.sender = rc->h.sender;
	in.envid = *rc->h.envid ? rc->h.envid : NULL;
	in.ret = *rc->h.ret ? rc->h.ret : NULL;
	in.arrived = rc->h.arrived;
	in.expires = rc->h.expires;
	in.now = (long long)time(NULL);
	in.nrcpt = exp_rcpts(copy, &v);
	in.rcpt = v;
	in.original = original->s ? original->s : "";
	in.original_len = original->len;
	in.original_is_full = full;
	if (dsn_build(&in, msg, &err) < 0) {
		/* Permanent (e.g. an address too long for a DSN line). */
		log_err("%s: cannot build a DSN for <%s>: %s", qid,
		    rc->h.sender, buf_terminate(&err));
		st = 1;
	} else
		st = 0;
	free(v);
	free(copy);
	buf_free(&err);
	return st;
}

/* exp_wait_slot - the entry of qid's DSN act, or the oldest one */
static size_t
exp_wait_slot(const char *qid, enum dsn_action act)
{
	size_t	i, old = 0;

	for (i = 0; i < EXP_BATCH; i++) {
		if (exp_wait[i].act == act && strcmp(exp_wait[i].qid, qid) == 0)
			return i;
		if (exp_wait[i].next < exp_wait[old].next)
			old = i;
	}
	return old;
}

/* exp_may_try - may the DSN act of qid be submitted now */
static int
exp_may_try(const char *qid, enum dsn_action act)
{
	size_t	i = exp_wait_slot(qid, act);

	return exp_wait[i].act != act || strcmp(exp_wait[i].qid, qid) != 0 ||
	    exp_wait[i].next <= time(NULL);
}

/* exp_try_later - the DSN act of qid refused for now: EXP_DSN_RETRY */
static void
exp_try_later(const char *qid, enum dsn_action act)
{
	size_t	i = exp_wait_slot(qid, act);

	snprintf(exp_wait[i].qid, sizeof(exp_wait[i].qid), "%s", qid);
	exp_wait[i].act = act;
	exp_wait[i].next = time(NULL) + EXP_DSN_RETRY;
}

/*
 * exp_held_dsn - with dsn_server: the queue ID of this DSN on hold from
 * an earlier attempt (state queued, or sending and found), in held
 * ("" none); -1 when that cannot be known now
 */
static int
exp_held_dsn(struct runner *r, const char *qid, const struct rec *rc,
    const struct dkind *k, const char *const cur[3], char *held,
    size_t size)
{
	struct buf mid = BUF_INIT;
	int	st;

	*held = '\0';
	if (strcmp(cur[0], "queued") == 0 && qid_valid(cur[2])) {
		snprintf(held, size, "%s", cur[2]);
		return 0;
	}
	/* "sending" without a time: sendmail(1) was used, nothing held. */
	if (strcmp(cur[0], "sending") != 0 || *cur[1] == '\0')
		return 0;
	dsn_message_id(&mid, k->act, rc->h.token, r->s->hostname);
	st = dsnsend_find_held(r, atoll(cur[1]), mid.s, held, size);
	buf_free(&mid);
	if (st <= 0)
		return st;
	log_info("%s: DSN found on hold as %s, submitted before; releasing "
	    "it", qid, held);
	return exp_dsnst(r, qid, k, RDSN_QUEUED, NULL, held, NULL);
}

/*
 * exp_let_go - a DSN of kind k left on hold by an earlier attempt,
 * released without sending another: 1 released, 0 none held, -1 retry
 */
static int
exp_let_go(struct runner *r, const char *qid, const struct rec *rc,
    const struct dkind *k, const char *const cur[3])
{
	char	held[64];

	if (*r->s->dsn_server == '\0')
		return 0;
	if (exp_held_dsn(r, qid, rc, k, cur, held, sizeof(held)) < 0)
		return -1;
	if (*held == '\0')
		return 0;
	return dsnsend_release_one(r, held) < 0 ? -1 : 1;
}

/*
 * exp_resubmit - the sweep's DSN session broke under a DSN submitted
 * since now (dsnsend_submit -2): the DSN on hold already if it is there
 * (by its Message-ID, as after a crash), else submitted once more on a
 * new session; dsnsend_submit's result
 */
static int
exp_resubmit(struct runner *r, const char *qid, const struct rec *rc,
    const struct dkind *k, const char *now, const struct buf *msg,
    char *held, size_t size, struct buf *err)
{
	struct buf mid = BUF_INIT;
	int	st;

	dsn_message_id(&mid, k->act, rc->h.token, r->s->hostname);
	st = dsnsend_find_held(r, atoll(now), mid.s, held, size);
	buf_free(&mid);
	if (st < 0)
		return -1;
	if (st > 0) {
		log_info("%s: DSN found on hold as %s after the DSN session "
		    "broke", qid, held);
		buf_reset(err);
		return 0;
	}
	log_debug("%s: DSN session broke (%s); submitting again", qid,
	    buf_terminate(err));
	buf_reset(err);
	st = dsnsend_submit(r, rc->h.sender, msg->s, msg->len, held, size,
	    err);
	return st == -2 ? -1 : st;
}

/*
 * exp_deliver - hand the DSN of kind k to the MTA once: 0 handed over, 2
 * on hold with its queue ID added to later (not NULL), for the caller to
 * release, 1 it cannot be sent (not buildable, refused for good), -1 try
 * again at the next sweep.  cur: the record's state, since and queue ID
 * of k.
 * Without dsn_server it goes to sendmail(1) with state "sending".  With
 * it: "sending" and the time, submitted, "queued" with the DSN's queue
 * ID, released (dsnsend.c); a retry in state "sending" first looks for
 * the DSN on hold.
 */
static int
exp_deliver(struct runner *r, const char *qid, const struct rec *rc,
    const struct dkind *k, const char *const cur[3],
    const struct buf *original, int full, struct strv *later)
{
	struct buf msg = BUF_INIT, err = BUF_INIT;
	char	held[64], now[24];
	int	st;

	if (*r->s->dsn_server == '\0') {
		if (exp_dsnst(r, qid, k, RDSN_SENDING, NULL, NULL, NULL) < 0)
			return -1;
		if ((st = exp_build(r, qid, rc, k->act, original, full,
		    &msg)) == 0 && runner_qb(r, r->qb->submit(&r->qc, "",
		    rc->h.sender, msg.s, msg.len), "DSN submission") != QB_OK)
			st = -1;
		buf_free(&msg);
		return st;
	}
	if (exp_held_dsn(r, qid, rc, k, cur, held, sizeof(held)) < 0)
		return -1;
	if (*held == '\0') {
		if (!exp_may_try(qid, k->act))
			return -1;
		if ((st = exp_build(r, qid, rc, k->act, original, full,
		    &msg)) != 0) {
			buf_free(&msg);
			return st;
		}
		snprintf(now, sizeof(now), "%lld", (long long)time(NULL) - 1);
		if (exp_dsnst(r, qid, k, RDSN_SENDING, now, NULL,
		    NULL) < 0) {
			buf_free(&msg);
			return -1;
		}
		st = dsnsend_submit(r, rc->h.sender, msg.s, msg.len, held,
		    sizeof(held), &err);
		if (st == -2)
			st = exp_resubmit(r, qid, rc, k, now, &msg, held,
			    sizeof(held), &err);
		buf_free(&msg);
		if (st < 0)
			exp_try_later(qid, k->act);
		if (st != 0)
			log_warnx("%s: DSN to <%s> %s: %s", qid, rc->h.sender,
			    st > 0 ? "refused for good, none sent" :
			    "not submitted, trying again in " EXP_DSN_RETRY_S,
			    buf_terminate(&err));
		else if (err.len > 0)	/* how it was made fit */
			log_info("%s: DSN to <%s> %s", qid, rc->h.sender,
			    buf_terminate(&err));
		buf_free(&err);
		if (st != 0)
			return st;
		if (*held == '\0') {
			log_warnx("%s: the DSN server named no queue ID; the "
			    "DSN is looked for on hold at the next sweep", qid);
			return -1;
		}
		if (exp_dsnst(r, qid, k, RDSN_QUEUED, NULL, held,
		    NULL) < 0)
			return -1;
		log_info("%s: DSN to <%s> on hold as %s", qid, rc->h.sender,
		    held);
	}
	if (later != NULL) {
		strv_add(later, held);
		return 2;
	}
	return dsnsend_release_one(r, held);
}

/* exp_dsn - the failure DSN, once (dsn_state), for an expiring record:
 * 0 sent or none due, 2 on hold for the caller to release (its queue ID
 * added to later), -1 try again later */
static int
exp_dsn(struct runner *r, const char *qid, const struct rec *rc,
    struct buf *hdrs, const char **outcome, struct strv *later)
{
	struct buf full = BUF_INIT, mid = BUF_INIT;
	const char *cur[3] = { rc->h.dsn_state, rc->h.dsn_since,
	    rc->h.dsn_qid };
	int	want_full = strcasecmp(rc->h.ret, "FULL") == 0, st;

	*outcome = rc->h.dsn_state;
	if (strcmp(rc->h.dsn_state, "sent") == 0 ||
	    strcmp(rc->h.dsn_state, "none") == 0)
		return 0;
	*outcome = "none";
	if (!exp_wanted(DSN_FAILED, rc))
		return exp_dsnst(r, qid, &dk_failed, RDSN_NONE, NULL, NULL,
		    NULL);
	*outcome = "sent";
	if (want_full && strcmp(rc->h.dsn_state, "queued") != 0 &&
	    runner_qb(r, r->qb->read(&r->qc, qid, QB_READ_FULL, &full),
	    "read message") != QB_OK) {
		buf_free(&full);
		return -1;
	}
	st = exp_deliver(r, qid, rc, &dk_failed, cur, want_full ? &full : hdrs,
	    want_full, later);
	buf_free(&full);
	if (st < 0 || st == 2)
		return st;
	if (st > 0) {
		*outcome = "impossible";
		return exp_dsnst(r, qid, &dk_failed, RDSN_NONE, NULL, NULL,
		    NULL);
	}
	dsn_message_id(&mid, DSN_FAILED, rc->h.token, r->s->hostname);
	st = exp_dsnst(r, qid, &dk_failed, RDSN_SENT, NULL, NULL, mid.s);
	buf_free(&mid);
	return st;
}

/* exp_check_queue - given its queue state: on hold with our token (1)? */
static int
exp_check_queue(struct runner *r, const char *qid, const struct rec *rc,
    enum qb_qstate state, struct buf *hdrs)
{
	int	tag;

	const char *cur[3] = { rc->h.dsn_state, rc->h.dsn_since,
	    rc->h.dsn_qid };

	/* A DSN on hold from an attempt before the file went: let go. */
	if (state != QS_HELD && exp_let_go(r, qid, rc, &dk_failed, cur) < 0)
		return -1;
	if (state == QS_GONE) {
		/* After a crash between the delete and the record's removal
		 * the file is gone because we deleted it: count it. */
		int	ours = strcmp(rc->h.dsn_state, "sent") == 0 ||
		    strcmp(rc->h.dsn_state, "none") == 0;

		log_info("%s: %s", qid, ours ? "expired earlier; record "
		    "removed now" : "record dropped at its deadline: no queue "
		    "file");
		return exp_finish(r, qid, ours) < 0 ? -1 : 0;
	}
	if (state != QS_HELD) {	/* released by someone: tracking decides */
		log_info("%s: not on hold at its deadline, left to tracking",
		    qid);
		return exp_to_tracking(r, qid) < 0 ? -1 : 0;
	}
	if ((tag = exp_tag(r, qid, rc->h.token, hdrs)) < 0)
		return -1;
	if (tag == 0) {
		log_warnx("%s: queue file does not carry token %s (a reused "
		    "queue ID?): record dropped, file left alone", qid,
		    rc->h.token);
		return exp_finish(r, qid, 0) < 0 ? -1 : 0;
	}
	return 1;
}


/*
 * One due message through the sweep's stages.  rc.rep is a view into the
 * sweep's holdrec_load reply (never freed on its own).
 */
struct exm {
	const char *qid;
	enum qb_qstate qs;
	struct rec rc;
	int	go;		/* still in the sweep */
	int	job;		/* its DSN's index in the jobs, or -1 */
	int	none;		/* to be recorded dsn_state none */
	const char *dsn;	/* the outcome for the log */
	char	held[64];	/* its DSN on hold, or "" */
	char	*mid;		/* that DSN's Message-ID */
};

/* The sweep: its messages, their records, and its DSNs to submit. */
struct sweep {
	struct exm *m;
	size_t	n;
	struct rr_reply load;	/* holdrec_load: the records */
	struct dsnsend_job *job;
	size_t	njob;
	struct buf *msg;	/* job i's text */
	char	since[24];	/* the jobs' "sending" time */
	size_t	hint;		/* exp_find: where to look first */
};

/* exp_ids - the queue IDs of the messages still in the sweep for which
 * pick(m) holds, in *ids; how many */
static size_t
exp_ids(struct sweep *sw, int (*pick)(const struct exm *), char ***ids)
{
	size_t	i, n = 0;

	*ids = xcalloc(sw->n ? sw->n : 1, sizeof(char *));
	for (i = 0; i < sw->n; i++)
		if (sw->m[i].go && (pick == NULL || pick(&sw->m[i])))
			(*ids)[n++] = (char *)(uintptr_t)sw->m[i].qid;
	return n;
}

/* exp_find - the message of qid, or NULL; looked for from the one after
 * the last found (replies come in the order of the sweep) */
static struct exm *
exp_find(struct sweep *sw, const char *qid)
{
	size_t	i, k;

	for (k = 0; k < sw->n; k++) {
		i = (sw->hint + k) % sw->n;
		if (strcmp(sw->m[i].qid, qid) == 0) {
			sw->hint = i + 1;
			return &sw->m[i];
		}
	}
	return NULL;
}

/*
 * exp_dsn_batch - one holdrec_dsn_many script: the failure DSN of the
 * messages in d in state; a message not written (not expiring any more,
 * or Redis failed: -1 returned) leaves the sweep
 */
static int
exp_dsn_batch(struct runner *r, struct sweep *sw, const char *state,
    const struct holdrec_dsn *d, size_t n)
{
	struct rr_reply rep;
	struct exm *m;
	size_t	i;
	int	st;

	if (n == 0)
		return 0;
	st = runner_leased(r, &rep) ? runner_hr(r, holdrec_dsn_many(r->redis,
	    r->s->hostname, state, d, n, &rep), "DSN state", &rep) : -1;
	for (i = 0; i < n; i++)
		if ((m = exp_find(sw, d[i].qid)) != NULL)
			m->go = -m->go;		/* out unless written */
	for (i = 0; st == 0 && i < rep.nelem; i++)
		if (rep.elems[i] && (m = exp_find(sw, rep.elems[i])) != NULL &&
		    m->go < 0)
			m->go = -m->go;
	for (i = 0; i < n; i++)
		if ((m = exp_find(sw, d[i].qid)) != NULL && m->go < 0)
			m->go = 0;
	rr_reply_free(&rep);
	return st;
}

/* exp_load_all - stage 1: the records of ids (one script), decoded; the
 * ones without record lose their index entries (one script); 0, or -1 */
static int
exp_load_all(struct runner *r, struct sweep *sw)
{
	struct rr_reply rep;
	char	**ids, **none;
	const char *why;
	size_t	i, pos = 0, nn = 0, n = exp_ids(sw, NULL, &ids);
	int	st;

	st = runner_leased(r, &sw->load) ? runner_hr(r, holdrec_load(r->redis,
	    r->s->hostname, ids, n, &sw->load), "HGETALL", &sw->load) : -1;
	none = xcalloc(n ? n : 1, sizeof(char *));
	for (i = 0; st == 0 && i < sw->n; i++) {
		struct exm *m = &sw->m[i];

		if (!m->go)
			continue;
		st = holdrec_load_next(&sw->load, &pos, &m->rc.rep);
		if (st < 0)
			break;
		m->go = 0;
		if (st == 0) {
			/* Not a hash, so no record: its index entries go. */
			log_warnx("%s: record is not a hash; ignored", m->qid);
			none[nn++] = (char *)(uintptr_t)m->qid;
		} else if ((st = holdrec_decode(&m->rc.rep, &m->rc.h, &why)) ==
		    HOLDREC_NONE)
			none[nn++] = (char *)(uintptr_t)m->qid;
		else if (st != HOLDREC_OK) {
			log_warnx("%s: hold record unreadable (%s): left as "
			    "it is; delete it to have it rebuilt from the "
			    "hold tag", m->qid, why);
			exp_try_later(m->qid, DSN_FAILED);
		} else
			m->go = 1;
		st = 0;
	}
	if (st == 0 && nn > 0) {
		(void)holdrec_finish_many(r->redis, r->s->hostname, 0, none, nn,
		    &rep);
		rr_reply_free(&rep);
	}
	free(none);
	free(ids);
	return st;
}

/* exp_is_held - pick: a record in state held */
static int
exp_is_held(const struct exm *m)
{
	return strcmp(m->rc.h.state, RSTATE_HELD) == 0;
}

/* exp_begin_all - stage 2: held -> expiring (one script); only records
 * expiring stay in the sweep; 0, or -1 */
static int
exp_begin_all(struct runner *r, struct sweep *sw)
{
	struct rr_reply rep;
	struct exm *m;
	char	**ids;
	size_t	i, n = exp_ids(sw, exp_is_held, &ids);
	int	st = 0;

	if (n > 0) {
		st = runner_leased(r, &rep) ? runner_hr(r,
		    holdrec_expire_begin_many(r->redis, r->s->hostname,
		    (long long)time(NULL), ids, n, &rep), "state change",
		    &rep) : -1;
		for (i = 0; st == 0 && i < rep.nelem; i++)
			if (rep.elems[i] && (m = exp_find(sw,
			    rep.elems[i])) != NULL)
				m->rc.h.state = RSTATE_EXPIRING;
		rr_reply_free(&rep);
	}
	for (i = 0; i < sw->n; i++)
		if (sw->m[i].go && strcmp(sw->m[i].rc.h.state,
		    RSTATE_EXPIRING) != 0)
			sw->m[i].go = 0;
	free(ids);
	return st;
}

/*
 * exp_classify - stage 3 for one expiring message: checked in the queue
 * (exp_check_queue), then where its failure DSN is: done (sent, none),
 * to be marked none (not wanted, or cannot be built: m->none), on
 * hold already (m->held), or to be submitted (a job, its text built
 * now).  Without dsn_server the DSN goes to sendmail(1) here, as one
 * message.  The message leaves the sweep when it cannot go on now.
 */
static void
exp_classify(struct runner *r, struct sweep *sw, struct exm *m,
    struct buf *hdrs, size_t *bytes)
{
	struct buf full = BUF_INIT, *msg;
	const struct holdrec *h = &m->rc.h;
	int	want_full = strcasecmp(h->ret, "FULL") == 0, st;

	m->go = 0;
	if (exp_check_queue(r, m->qid, &m->rc, m->qs, hdrs) != 1)
		return;
	m->dsn = h->dsn_state;
	if (strcmp(h->dsn_state, "sent") == 0 ||
	    strcmp(h->dsn_state, "none") == 0) {
		m->go = 1;
		return;
	}
	m->dsn = "none";
	if (!exp_wanted(DSN_FAILED, &m->rc)) {
		m->none = m->go = 1;
		return;
	}
	m->dsn = "sent";
	if (*r->s->dsn_server == '\0') {
		m->go = exp_dsn(r, m->qid, &m->rc, hdrs, &m->dsn, NULL) >= 0;
		return;
	}
	if (strcmp(h->dsn_state, RDSN_QUEUED) == 0 && qid_valid(h->dsn_qid)) {
		snprintf(m->held, sizeof(m->held), "%s", h->dsn_qid);
		m->go = 1;
		return;
	}
	if (strcmp(h->dsn_state, RDSN_SENDING) == 0 && *h->dsn_since) {
		m->go = 2;	/* looked for on hold first (exp_find_held) */
		return;
	}
	if (want_full && runner_qb(r, r->qb->read(&r->qc, m->qid, QB_READ_FULL,
	    &full), "read message") != QB_OK) {
		buf_free(&full);
		return;
	}
	msg = &sw->msg[sw->njob];
	buf_reset(msg);
	st = exp_build(r, m->qid, &m->rc, DSN_FAILED, want_full ? &full :
	    hdrs, want_full, msg);
	buf_free(&full);
	m->go = 1;
	if (st != 0) {
		m->dsn = "impossible";
		m->none = 1;
		return;
	}
	*bytes += msg->len;
	m->job = (int)sw->njob++;
}

/* exp_is_looked_for - pick: a DSN sending since before the sweep */
static int
exp_is_looked_for(const struct exm *m)
{
	return m->go == 2;
}

/*
 * exp_find_held - after a crash: the DSNs in state sending from before,
 * looked for on hold (one listing of the hold queue, by Message-ID);
 * found ones are recorded queued, the others need a new submission
 * (their text built by exp_classify, called again)
 */
static int
exp_find_held(struct runner *r, struct sweep *sw, struct buf *hdrs,
    size_t *bytes)
{
	struct holdrec_dsn *d;
	struct buf mid = BUF_INIT;
	char	**ids, **mids, (*found)[64];
	long long since = 0;
	size_t	i, nd = 0, n = exp_ids(sw, exp_is_looked_for, &ids);
	int	st;

	if (n == 0) {
		free(ids);
		return 0;
	}
	mids = xcalloc(n, sizeof(char *));
	found = xcalloc(n, sizeof(*found));
	d = xcalloc(n, sizeof(*d));
	for (i = 0; i < n; i++) {
		struct exm *m = exp_find(sw, ids[i]);

		dsn_message_id(&mid, DSN_FAILED, m->rc.h.token,
		    r->s->hostname);
		mids[i] = buf_steal(&mid);
		if (since == 0 || atoll(m->rc.h.dsn_since) < since)
			since = atoll(m->rc.h.dsn_since);
	}
	st = dsnsend_find_held_many(r, since, mids, n, found);
	for (i = 0; i < n; i++) {
		struct exm *m = exp_find(sw, ids[i]);

		m->go = 0;
		if (st < 0)
			continue;
		if (found[i][0] != '\0') {
			log_info("%s: DSN found on hold as %s, submitted "
			    "before; releasing it", m->qid, found[i]);
			snprintf(m->held, sizeof(m->held), "%s", found[i]);
			d[nd].qid = m->qid;
			d[nd++].dsn_qid = m->held;
			m->go = 1;
		} else {
			m->rc.h.dsn_state = "";
			exp_classify(r, sw, m, hdrs, bytes);
			if (m->none)	/* cannot be built now: tried later */
				m->go = m->none = 0;
		}
	}
	if (nd > 0)
		(void)exp_dsn_batch(r, sw, RDSN_QUEUED, d, nd);
	for (i = 0; i < n; i++)
		free(mids[i]);
	free(mids);
	free(found);
	free(d);
	free(ids);
	return st < 0 ? -1 : 0;
}

/* exp_job_log - the outcome of m's DSN submission, logged as it was
 * decided; m->held its queue ID on hold, or m leaves the sweep */
static void
exp_job_log(struct exm *m, struct dsnsend_job *j)
{
	const char *sender = m->rc.h.sender;

	if (j->st == DSNSEND_UNTRIED) {
		m->go = 0;	/* stopping: sending, looked for at restart */
		return;
	}
	if (j->st < 0)
		exp_try_later(m->qid, DSN_FAILED);
	if (j->st != 0)
		log_warnx("%s: DSN to <%s> %s: %s", m->qid, sender, j->st > 0 ?
		    "refused for good, none sent" : "not submitted, trying "
		    "again in " EXP_DSN_RETRY_S, buf_terminate(&j->err));
	else if (j->err.len > 0)	/* how it was made fit */
		log_info("%s: DSN to <%s> %s", m->qid, sender,
		    buf_terminate(&j->err));
	if (j->st > 0) {
		m->dsn = "impossible";
		m->none = 1;
	} else if (j->st < 0)
		m->go = 0;
	else if (*j->qid == '\0') {
		log_warnx("%s: the DSN server named no queue ID; the DSN is "
		    "looked for on hold at the next sweep", m->qid);
		m->go = 0;
	} else
		snprintf(m->held, sizeof(m->held), "%s", j->qid);
}

/*
 * exp_broken - the jobs whose used session broke under them (-2): looked
 * for on hold (one listing, by Message-ID, as after a crash), the others
 * submitted once more on a new session
 */
static void
exp_broken(struct runner *r, struct sweep *sw, struct exm **jm, size_t lo,
    size_t hi)
{
	struct buf mid = BUF_INIT;
	char	**mids = xcalloc(hi - lo, sizeof(char *));
	char	(*found)[64] = xcalloc(hi - lo, sizeof(*found));
	size_t	i, n = 0;
	int	st;

	for (i = lo; i < hi; i++)
		if (sw->job[i].st == -2) {
			dsn_message_id(&mid, DSN_FAILED, jm[i]->rc.h.token,
			    r->s->hostname);
			mids[n++] = buf_steal(&mid);
		}
	st = n > 0 ? dsnsend_find_held_many(r, atoll(sw->since), mids, n,
	    found) : 0;
	for (i = lo, n = 0; i < hi; i++) {
		struct dsnsend_job *j = &sw->job[i];

		if (j->st != -2)
			continue;
		free(mids[n]);
		if (st >= 0 && found[n][0] != '\0') {
			log_info("%s: DSN found on hold as %s after the DSN "
			    "session broke", jm[i]->qid, found[n]);
			snprintf(j->qid, sizeof(j->qid), "%s", found[n]);
			buf_reset(&j->err);
			j->st = 0;
		} else if (st < 0)
			j->st = -1;
		else {
			log_debug("%s: DSN session broke (%s); submitting "
			    "again", jm[i]->qid, buf_terminate(&j->err));
			buf_reset(&j->err);
			j->st = dsnsend_submit(r, j->rcpt, j->text, j->len,
			    j->qid, sizeof(j->qid), &j->err);
			if (j->st == -2)
				j->st = -1;
		}
		n++;
	}
	free(mids);
	free(found);
}

/* exp_leased - is this host's lease held (runner_leased, no reply kept) */
static int
exp_leased(struct runner *r)
{
	struct rr_reply rep;

	if (runner_leased(r, &rep))
		return 1;
	rr_reply_free(&rep);
	return 0;
}

/*
 * exp_submit_all - stage 4: every job recorded sending (one script),
 * then submitted over the DSN sessions in chunks (the first small, so
 * that a stalled server still lets the DSNs taken before it be
 * recorded), each chunk's DSNs recorded queued (one script) as it ends
 */
static void
exp_submit_all(struct runner *r, struct sweep *sw)
{
	struct holdrec_dsn *d = xcalloc(sw->njob ? sw->njob : 1, sizeof(*d));
	struct exm **jm = xcalloc(sw->njob ? sw->njob : 1, sizeof(*jm)), *m;
	size_t	i, nd, lo, hi, chunk = EXP_CHUNK_MIN;

	for (i = 0; i < sw->n; i++)
		if (sw->m[i].go && sw->m[i].job >= 0)
			jm[sw->m[i].job] = &sw->m[i];
	snprintf(sw->since, sizeof(sw->since), "%lld",
	    (long long)time(NULL) - 1);
	for (i = 0; i < sw->njob; i++) {
		d[i].qid = jm[i]->qid;
		d[i].since = sw->since;
		sw->job[i].rcpt = jm[i]->rc.h.sender;
		sw->job[i].text = sw->msg[i].s ? sw->msg[i].s : "";
		sw->job[i].len = sw->msg[i].len;
	}
	if (exp_dsn_batch(r, sw, RDSN_SENDING, d, sw->njob) < 0) {
		free(d);
		free(jm);
		return;
	}
	/* Each chunk only while this host's lease is held (lease.c): a
	 * lost lease stops the sweep between two chunks. */
	for (lo = 0; lo < sw->njob && !etrnd_stop && exp_leased(r); lo = hi) {
		hi = lo + chunk < sw->njob ? lo + chunk : sw->njob;
		chunk = chunk * 2 < EXP_CHUNK_MAX ? chunk * 2 : EXP_CHUNK_MAX;
		/* A message no longer expiring (left the sweep) is not
		 * submitted: its job is skipped. */
		for (i = lo; i < hi; i++)
			if (!jm[i]->go)
				sw->job[i].text = NULL;
		dsnsend_submit_many(r, sw->job + lo, hi - lo);
		exp_broken(r, sw, jm, lo, hi);
		for (i = lo, nd = 0; i < hi; i++) {
			if (!jm[i]->go)
				continue;
			exp_job_log(jm[i], &sw->job[i]);
			if (jm[i]->go && *jm[i]->held) {
				memset(&d[nd], 0, sizeof(d[nd]));
				d[nd].qid = jm[i]->qid;
				d[nd++].dsn_qid = jm[i]->held;
			}
		}
		if (exp_dsn_batch(r, sw, RDSN_QUEUED, d, nd) < 0)
			break;	/* still sending: looked for on hold later */
		for (i = 0; i < nd; i++)
			if ((m = exp_find(sw, d[i].qid)) != NULL && m->go)
				log_info("%s: DSN to <%s> on hold as %s",
				    d[i].qid, m->rc.h.sender, d[i].dsn_qid);
	}
	/* Not tried (stopping): still sending, looked for at restart. */
	for (i = 0; i < sw->n; i++) {
		m = &sw->m[i];
		if (m->go && m->job >= 0 && *m->held == '\0' && !m->none)
			m->go = 0;
	}
	free(d);
	free(jm);
}

/* exp_is_none - pick: a DSN to be recorded none */
static int
exp_is_none(const struct exm *m)
{
	return m->none;
}

/* exp_is_held_dsn - pick: a DSN on hold, to be released */
static int
exp_is_held_dsn(const struct exm *m)
{
	return *m->held != '\0';
}

/*
 * exp_release_all - stage 5: DSNs not wanted or impossible recorded none
 * (one script); the sweep's DSNs on hold released (one command) and
 * recorded sent with their Message-IDs (one script); a message whose
 * DSN is still on hold leaves the sweep (the next one goes on from
 * dsn_state queued)
 */
static void
exp_release_all(struct runner *r, struct sweep *sw)
{
	struct holdrec_dsn *d = xcalloc(sw->n ? sw->n : 1, sizeof(*d));
	struct buf mid = BUF_INIT;
	char	**ids, **dq;
	int	*out;
	size_t	i, n, k;

	n = exp_ids(sw, exp_is_none, &ids);
	for (i = 0; i < n; i++)
		d[i].qid = ids[i];
	(void)exp_dsn_batch(r, sw, RDSN_NONE, d, n);
	free(ids);
	n = exp_ids(sw, exp_is_held_dsn, &ids);
	dq = xcalloc(n ? n : 1, sizeof(char *));
	out = xcalloc(n ? n : 1, sizeof(int));
	for (i = 0; i < n; i++)
		dq[i] = exp_find(sw, ids[i])->held;
	if (n > 0 && dsnsend_release(r, dq, n, out) < 0)
		memset(out, 0, n * sizeof(int));
	for (i = k = 0; i < n; i++) {
		struct exm *m = exp_find(sw, ids[i]);

		if (!out[i]) {
			log_warnx("%s: DSN %s not released yet; trying again",
			    m->qid, m->held);
			m->go = 0;
			continue;
		}
		dsn_message_id(&mid, DSN_FAILED, m->rc.h.token,
		    r->s->hostname);
		m->mid = buf_steal(&mid);
		memset(&d[k], 0, sizeof(d[k]));
		d[k].qid = m->qid;
		d[k++].msgid = m->mid;
	}
	(void)exp_dsn_batch(r, sw, RDSN_SENT, d, k);
	free(out);
	free(dq);
	free(ids);
	free(d);
}

/*
 * A batch whose originals are being deleted (its DSNs are out and
 * recorded sent) by a thread of its own, while the next sweep builds and
 * submits its DSNs; the next sweep leaves these messages out, and checks
 * them gone and removes their records (exp_bg_finish) before it deletes
 * its own.  Only while more is due than one sweep takes; a crash meanwhile
 * leaves records in dsn_state sent, finished at the restart.
 */
struct expd {
	char	*qid, *domain, *sender, *dsn;
	long long arrived;
};

static struct {
	int	on;
	int	thread;		/* tid runs */
	pthread_t tid;
	const struct qb_backend *qb;
	struct qb_conf qc;	/* a copy: a reload may free the runner's */
	struct expd *d;
	char	**ids;		/* sorted by queue ID, for exp_bg_has */
	size_t	n;
	enum qb_status st;
} exp_bg;

/* exp_bg_cmp - order of two queue IDs (qsort, bsearch) */
static int
exp_bg_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* exp_bg_has - is qid in the batch being deleted */
static int
exp_bg_has(const char *qid)
{
	return exp_bg.on && bsearch(&qid, exp_bg.ids, exp_bg.n,
	    sizeof(char *), exp_bg_cmp) != NULL;
}

/* exp_dup - a copy of s, NULL kept */
static char *
exp_dup(const char *s)
{
	return s != NULL ? xstrdup(s) : NULL;
}

/* exp_bg_conf - a deep copy of the backend's settings */
static void
exp_bg_conf(struct qb_conf *to, const struct qb_conf *from)
{
	*to = *from;
	to->config_directory = exp_dup(from->config_directory);
	to->command_directory = exp_dup(from->command_directory);
	to->null_log = exp_dup(from->null_log);
	to->queue_directory = exp_dup(from->queue_directory);
	to->sendmail_command = exp_dup(from->sendmail_command);
	to->sendmail_config_file = exp_dup(from->sendmail_config_file);
	to->sendmail_queue_directory = exp_dup(
	    from->sendmail_queue_directory);
}

/* exp_bg_conf_free - what exp_bg_conf made */
static void
exp_bg_conf_free(struct qb_conf *c)
{
	free((char *)(uintptr_t)c->config_directory);
	free((char *)(uintptr_t)c->command_directory);
	free((char *)(uintptr_t)c->null_log);
	free(c->queue_directory);
	free((char *)(uintptr_t)c->sendmail_command);
	free((char *)(uintptr_t)c->sendmail_config_file);
	free((char *)(uintptr_t)c->sendmail_queue_directory);
}

/* exp_bg_run - the thread: one remove command; it logs nothing */
static void *
exp_bg_run(void *arg)
{
	(void)arg;
	exp_bg.st = exp_bg.qb->remove(&exp_bg.qc, exp_bg.ids, exp_bg.n);
	return NULL;
}

/*
 * exp_gone - the deleted originals d checked gone (one listing), their
 * records removed (one script), each logged expired
 */
static void
exp_gone(struct runner *r, const struct expd *d, char **ids, size_t n)
{
	struct qb_qinfo *qi;
	struct rr_reply rep;
	char	**gone;
	size_t	i, ng = 0;
	int	st;

	if (n == 0 || (qi = runner_status(r, ids, n, NULL)) == NULL)
		return;
	gone = xcalloc(n, sizeof(char *));
	for (i = 0; i < n; i++) {
		if (qi[i].state != QS_GONE)
			log_warnx("%s: still queued after delete; retrying",
			    ids[i]);
		else
			gone[ng++] = ids[i];
	}
	qb_qinfo_free(qi, n);
	free(qi);
	st = ng == 0 ? -1 : runner_leased(r, &rep) ? runner_hr(r,
	    holdrec_finish_many(r->redis, r->s->hostname, 1, gone, ng, &rep),
	    "finish", &rep) : -1;
	if (ng > 0)
		rr_reply_free(&rep);
	for (i = 0; st == 0 && i < n; i++)
		if (bsearch(&d[i].qid, gone, ng, sizeof(char *),
		    exp_bg_cmp) != NULL)
			log_info("%s: expired domain=%s held=%llds from=<%s> "
			    "dsn=%s", d[i].qid, d[i].domain,
			    (long long)time(NULL) - d[i].arrived, d[i].sender,
			    d[i].dsn);
	free(gone);
}

/* exp_bg_finish - wait for the batch being deleted, settle it */
static void
exp_bg_finish(struct runner *r)
{
	size_t	i;

	if (!exp_bg.on)
		return;
	if (exp_bg.thread)
		pthread_join(exp_bg.tid, NULL);
	(void)runner_qb(r, exp_bg.st, "delete");
	exp_gone(r, exp_bg.d, exp_bg.ids, exp_bg.n);
	for (i = 0; i < exp_bg.n; i++) {
		free(exp_bg.d[i].qid);
		free(exp_bg.d[i].domain);
		free(exp_bg.d[i].sender);
		free(exp_bg.d[i].dsn);
	}
	free(exp_bg.d);
	free(exp_bg.ids);
	exp_bg_conf_free(&exp_bg.qc);
	memset(&exp_bg, 0, sizeof(exp_bg));
}

/*
 * exp_delete_all - stage 6: the originals deleted (one command), checked
 * gone (one listing), their records removed (one script); with bg, by a
 * thread, settled at the next sweep (see exp_bg)
 */
static void
exp_delete_all(struct runner *r, struct sweep *sw, int bg)
{
	struct expd *d;
	char	**ids;
	size_t	i, n = exp_ids(sw, NULL, &ids);

	exp_bg_finish(r);
	if (n == 0) {
		free(ids);
		return;
	}
	d = xcalloc(n, sizeof(*d));
	for (i = 0; i < n; i++) {
		struct exm *m = exp_find(sw, ids[i]);

		d[i].qid = xstrdup(m->qid);
		d[i].domain = xstrdup(m->rc.h.domain);
		d[i].sender = xstrdup(m->rc.h.sender);
		d[i].dsn = xstrdup(m->dsn);
		d[i].arrived = m->rc.h.arrived;
		ids[i] = d[i].qid;
	}
	qsort(ids, n, sizeof(char *), exp_bg_cmp);
	exp_bg.qb = r->qb;
	exp_bg_conf(&exp_bg.qc, &r->qc);
	exp_bg.d = d;
	exp_bg.ids = ids;
	exp_bg.n = n;
	if (bg && !etrnd_stop && pthread_create(&exp_bg.tid, NULL, exp_bg_run,
	    NULL) == 0) {
		exp_bg.on = exp_bg.thread = 1;
		return;
	}
	exp_bg.st = exp_bg.qb->remove(&exp_bg.qc, ids, n);
	exp_bg.on = 1;
	exp_bg_finish(r);
}

/* exp_sweep_free - what a sweep holds */
static void
exp_sweep_free(struct sweep *sw)
{
	size_t	i;

	for (i = 0; i < sw->n; i++) {
		free(sw->m[i].mid);
		buf_free(&sw->msg[i]);
		buf_free(&sw->job[i].err);
	}
	free(sw->m);
	free(sw->msg);
	free(sw->job);
	rr_reply_free(&sw->load);
}

/*
 * exp_deadlines - the due deadlines as one batch, stage by stage (see
 * DESCRIPTION), each stage written for the whole batch before the next
 * begins; how many were worked on, or -1
 */
static int
exp_deadlines(struct runner *r, struct strv *due)
{
	struct buf hdrs = BUF_INIT;
	struct qb_qinfo *qi;
	struct sweep sw;
	size_t	i, bytes = 0;
	int	worked = 0, more = 0;

	if (due->n == 0)
		return 0;
	if ((qi = runner_status(r, due->v, due->n, NULL)) == NULL)
		return -1;
	memset(&sw, 0, sizeof(sw));
	sw.m = xcalloc(EXP_BATCH, sizeof(*sw.m));
	sw.msg = xcalloc(EXP_BATCH, sizeof(*sw.msg));
	sw.job = xcalloc(EXP_BATCH, sizeof(*sw.job));
	/* A DSN refused for now is not even read before its retry; the
	 * batch being deleted is settled first (exp_bg). */
	for (i = 0; i < due->n; i++) {
		if (!exp_may_try(due->v[i], DSN_FAILED) ||
		    exp_bg_has(due->v[i]))
			continue;
		if (sw.n == EXP_BATCH) {
			more = 1;
			break;
		}
		sw.m[sw.n].qid = due->v[i];
		sw.m[sw.n].qs = qi[i].state;
		sw.m[sw.n].job = -1;
		sw.m[sw.n++].go = 1;
	}
	qb_qinfo_free(qi, due->n);
	free(qi);
	if (exp_load_all(r, &sw) < 0) {
		exp_sweep_free(&sw);
		return -1;
	}
	for (i = 0; i < sw.n; i++)
		worked += sw.m[i].go && strcmp(sw.m[i].rc.h.state,
		    RSTATE_RELEASED) != 0;
	if (exp_begin_all(r, &sw) == 0) {
		for (i = 0; i < sw.n && !etrnd_stop; i++) {
			if (!sw.m[i].go)
				continue;
			if (bytes > EXP_DSN_BYTES) {
				sw.m[i].go = 0;	/* the next sweep's */
				continue;
			}
			exp_classify(r, &sw, &sw.m[i], &hdrs, &bytes);
		}
		for (; i < sw.n; i++)
			sw.m[i].go = 0;
		if (exp_find_held(r, &sw, &hdrs, &bytes) == 0)
			exp_submit_all(r, &sw);
		exp_release_all(r, &sw);
		exp_delete_all(r, &sw, more);
	}
	buf_free(&hdrs);
	exp_sweep_free(&sw);
	return worked;
}

/* warn_one - the delay warning for one held message, once */
static void
warn_one(struct runner *r, const char *qid)
{
	struct buf hdrs = BUF_INIT;
	struct rr_reply rep;
	struct rec rc;
	const char *outcome = "none";
	int	st;

	if (!exp_may_try(qid, DSN_DELAYED))
		return;
	if ((st = exp_load(r, qid, &rc)) < 0) {
		if (st == -2)
			exp_try_later(qid, DSN_DELAYED);
		rr_reply_free(&rc.rep);
		return;
	}
	if (rc.rep.nelem > 0 && strcmp(rc.h.warned, "sent") != 0 &&
	    strcmp(rc.h.warned, "none") != 0 && (*rc.h.warned ||
	    strcmp(rc.h.state, RSTATE_HELD) == 0)) {
		const char *cur[3] = { rc.h.warned, rc.h.warn_since,
		    rc.h.warn_qid };

		/* Past its deadline already (etrnd was down): the failure
		 * DSN follows at once, a warning now would only confuse.
		 * Released or expiring meanwhile: no new warning, but one
		 * on hold from before is let go. */
		if (strcmp(rc.h.state, RSTATE_HELD) != 0 ||
		    rc.h.expires <= (long long)time(NULL)) {
			if ((st = exp_let_go(r, qid, &rc, &dk_delayed,
			    cur)) < 0) {
				rr_reply_free(&rc.rep);
				return;
			}
			outcome = st > 0 ? "sent" : "none";
		} else if (exp_wanted(DSN_DELAYED, &rc)) {
			buf_cat(&hdrs, rc.h.headers);
			if ((st = exp_deliver(r, qid, &rc, &dk_delayed, cur,
			    &hdrs, 0, NULL)) < 0) {
				buf_free(&hdrs);
				rr_reply_free(&rc.rep);
				return;
			}
			outcome = st == 0 ? "sent" : "impossible";
		}
		if (exp_dsnst(r, qid, &dk_delayed, strcmp(outcome, "sent") ==
		    0 ? RDSN_SENT : RDSN_NONE, NULL, NULL, NULL) < 0) {
			buf_free(&hdrs);
			rr_reply_free(&rc.rep);
			return;
		}
		log_info("%s: delay warning domain=%s from=<%s> dsn=%s", qid,
		    rc.h.domain, rc.h.sender, outcome);
	}
	/* Done, or nothing to do (gone, released, expiring): unlist it. */
	if (runner_leased(r, &rep))
		(void)runner_result(r, holdrec_warn_done(r->redis,
		    r->s->hostname, qid, &rep), "ZREM", &rep);
	rr_reply_free(&rep);
	buf_free(&hdrs);
	rr_reply_free(&rc.rep);
}

/* exp_due - queue IDs whose score in key is due */
static int
exp_due(struct runner *r, const char *key, struct strv *out)
{
	struct rargs a = RARGS_INIT;
	struct rr_reply rep;
	char	now[24];
	size_t	i;
	int	st;

	snprintf(now, sizeof(now), "%lld", (long long)time(NULL));
	rargs_str(&a, "ZRANGEBYSCORE");
	rargs_str(&a, key);
	rargs_str(&a, "-inf");
	rargs_str(&a, now);
	rargs_str(&a, "LIMIT");
	rargs_str(&a, "0");
	rargs_str(&a, EXP_FETCH);
	st = runner_cmd(r, "ZRANGEBYSCORE", &a, &rep);
	for (i = 0; st == 0 && rep.type == RRT_ARRAY && i < rep.nelem; i++)
		if (rep.elems[i] && qid_valid(rep.elems[i]))
			strv_add(out, rep.elems[i]);
	rr_reply_free(&rep);
	rargs_free(&a);
	return st;
}

/* expire_sweep - due delay warnings, then due deadlines; 1 when more
 * deadlines are due than one sweep works on, 0, or -1 */
int
expire_sweep(struct runner *r)
{
	struct strv warn = { NULL, 0, 0 }, due = { NULL, 0, 0 };
	struct buf key = BUF_INIT;
	size_t	i;
	int	st;

	/* One queue file reader and one DSN session for the sweep. */
	if (r->qb->batch_begin != NULL)
		r->qb->batch_begin(&r->qc);
	rkey_warn(&key, r->s->hostname);
	st = exp_due(r, key.s, &warn);
	for (i = 0; i < warn.n && !etrnd_stop; i++)
		warn_one(r, warn.v[i]);
	rkey_expiry(&key, r->s->hostname);
	if (st == 0)
		st = exp_due(r, key.s, &due);
	if (st == 0 && (st = exp_deadlines(r, &due)) >= 0)
		st = st >= EXP_BATCH;
	if (st <= 0)	/* no more due now: the last batch settled too */
		exp_bg_finish(r);
	dsnsend_end(r);
	if (r->qb->batch_end != NULL)
		r->qb->batch_end(&r->qc);
	strv_free(&warn);
	strv_free(&due);
	buf_free(&key);
	return st;
}
