/*
 * NAME
 *	dsnsend - hand a DSN to the MTA through a service that holds it
 * SUMMARY
 *	dsnsend_submit(&runner, rcpt, text, len, qid, sizeof(qid), &err);
 *	dsnsend_find_held(&runner, since, message_id, qid, sizeof(qid));
 *	dsnsend_release(&runner, ids, n, out);
 *	dsnsend_release_one(&runner, qid);
 *	dsnsend_submit_many(&runner, jobs, n);
 *	dsnsend_find_held_many(&runner, since, message_ids, n, qids);
 *	dsnsend_end(&runner);
 * DESCRIPTION
 *	With dsn_server set, a DSN is submitted by SMTP (null sender, one
 *	recipient) to an smtpd of the MTA that puts every message it
 *	accepts on hold (Postfix: check_client_access static:HOLD), and its
 *	queue ID is taken from the "250 ... queued as ID" reply.  A sweep's
 *	DSNs share up to DSN_SESSIONS sessions (smtpc_send: MAIL, RCPT and
 *	DATA pipelined where the server offers PIPELINING):
 *	dsnsend_submit_many runs one worker thread per session, each taking
 *	the next DSN of the batch, so the MTA's smtpd and cleanup work on
 *	several at once; the workers log nothing and touch neither Redis
 *	nor the queue (the caller does, after they are joined).  Sessions
 *	are opened at their first DSN and closed by dsnsend_end() at the
 *	end of the sweep, so no idle timeout of the server falls inside
 *	one.  A session that breaks under a DSN
 *	after carrying others may have been closed by the server, or may
 *	have taken the DSN before it broke: dsnsend_submit says so (-2),
 *	and the caller looks for the DSN on hold before submitting it once
 *	more on a new session.  Only after
 *	the ID is recorded does the queue runner release the DSN.  So a DSN
 *	the MTA took while etrnd could not record it (killed, Redis down)
 *	is still on hold, unseen by anyone, when etrnd goes on: it looks for
 *	it (dsnsend_find_held: the hold queue files from the null sender
 *	written since the attempt began, by their Message-ID, which is
 *	derived from the hold token with the secret key, dsn.c) and
 *	releases that one instead of sending another;
 *	dsnsend_find_held_many does so for a batch with one listing.  Release is
 *	release_new where the backend has it (Postfix: one `postsuper -H -`
 *	for a sweep's DSNs and one `postkick public qmgr D`, the queue IDs
 *	kept), else release.
 *
 *	MAIL FROM declares what the DSN carries (dsn_needs): BODY=8BITMIME
 *	when any octet is 8-bit; SMTPUTF8 for a UTF-8 recipient or UTF-8 in
 *	the DSN's own header, and for a returned message/global where the
 *	server offers it.  8-bit data is never sent undeclared: a server
 *	without 8BITMIME, or without SMTPUTF8 for a message/global part,
 *	gets the DSN downgraded (dsn_downgrade: quoted-printable, or an
 *	8-bit message/rfc822 as its headers), and err says so on success;
 *	a UTF-8 recipient or DSN header cannot be downgraded and needs
 *	SMTPUTF8.
 * SECURITY
 *	The recipient (the original envelope sender) is refused if it holds
 *	a control character, so it cannot add an SMTP command.  Found files
 *	are matched on the whole Message-ID value and must have the null
 *	envelope sender; the Message-ID cannot be guessed without the
 *	secret key.
 * DIAGNOSTICS
 *	dsnsend_submit: 0 accepted (qid may be empty if the reply named
 *	none), 1 refused for good (5xx, or an address SMTP cannot carry),
 *	-1 try again, -2 the used session broke (see above); the reason in
 *	err (with 0: how the DSN was downgraded, or nothing).
 *	dsnsend_find_held: 1 found, 0 not, -1 the queue could not be read
 *	(also when a held file's headers could not be read while it is
 *	still there).  dsnsend_release: which DSNs
 *	are out of the hold queue, -1 when the queue cannot be asked.
 */
#include "config.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "etrnd/dsnsend.h"
#include "etrnd/runner.h"
#include "mail/dsn.h"
#include "mail/qid.h"
#include "util/log.h"
#include "util/smtpc.h"

/*
 * dsnsend_fit - the DSN text made fit for server s (dsn_downgrade into
 * alt), text, len and need updated; the extension s lacks, NULL if it fits
 */
static const char *
dsnsend_fit(const struct smtpc *s, const char **text, size_t *len,
    int *need, struct buf *alt)
{
	if (!((*need & DSN_8BITMIME) && !s->eightbit) &&
	    !((*need & DSN_GLOBAL) && !s->smtputf8))
		return NULL;
	/* RFC 6533 6.3, RFC 6532 3.7: encoded, or headers only. */
	if (dsn_downgrade(*text, *len, s->eightbit, s->smtputf8, alt) == 0) {
		*text = alt->s;
		*len = alt->len;
		*need = dsn_needs(alt->s, alt->len);
	}
	return s->eightbit ? "SMTPUTF8" : "8BITMIME";
}

/*
 * The sweep's sessions with dsn_server: session 0 is the main thread's
 * (dsnsend_submit), each of the DSN_SESSIONS is one worker's while
 * dsnsend_submit_many runs; each is opened at its first DSN and closed by
 * dsnsend_end(); used counts the DSNs it carried (a failure on a used
 * session may be its idle end, and the DSN may have been taken).
 */
struct dsess {
	struct smtpc s;
	struct buf err;
	int	open;
	unsigned used;
};

static struct dsess ds[DSN_SESSIONS];

/* dsnsend_close - QUIT one session, if open */
static void
dsnsend_close(struct dsess *d)
{
	if (!d->open)
		return;
	d->s.err = &d->err;
	smtpc_close(&d->s);
	buf_free(&d->err);
	d->open = 0;
	d->used = 0;
}

/* dsnsend_end - QUIT the sweep's sessions */
void
dsnsend_end(struct runner *r)
{
	size_t	i;

	(void)r;
	for (i = 0; i < DSN_SESSIONS; i++)
		dsnsend_close(&ds[i]);
}

/* dsnsend_session - d open, opened now if need be: 0, or -1 */
static int
dsnsend_session(struct runner *r, struct dsess *d, struct buf *err)
{
	if (d->open)
		return 0;
	buf_reset(&d->err);
	if (smtpc_open(&d->s, r->s->dsn_server, (int)r->s->dsn_timeout * 1000,
	    "DSN server", r->s->hostname, &d->err) < 0) {
		buf_add(err, d->err.s, d->err.len);
		return -1;
	}
	d->open = 1;
	d->used = 0;
	return 0;
}

/* dsnsend_addr_ok - can SMTP carry rcpt: 1 yes (*utf8 set if UTF-8), 0 */
static int
dsnsend_addr_ok(const char *rcpt, int *utf8, struct buf *err)
{
	const unsigned char *p;

	for (p = (const unsigned char *)rcpt; *p; p++) {
		if (*p < 32 || *p == 127) {
			buf_cat(err, "the address holds a control character");
			return 0;
		}
		*utf8 |= *p >= 128;
	}
	if (*rcpt == '\0') {
		buf_cat(err, "empty address");
		return 0;
	}
	return 1;
}

/*
 * dsnsend_fits - can session d carry the DSN: 1 yes (text and len
 * perhaps downgraded into alt, *down the extension the server lacks), 0
 * no (why in err)
 */
static int
dsnsend_fits(const struct dsess *d, const char **text, size_t *len,
    int *need, int *utf8, struct buf *alt, const char **down,
    struct buf *err)
{
	*utf8 |= (*need & DSN_SMTPUTF8) != 0;
	if (*utf8 && !d->s.smtputf8) {
		buf_cat(err, "DSN server does not offer SMTPUTF8");
		return 0;
	}
	if ((*down = dsnsend_fit(&d->s, text, len, need, alt)) != NULL &&
	    (*need & DSN_8BITMIME) && !d->s.eightbit) {
		buf_cat(err, "the DSN cannot be made 7-bit");
		return 0;
	}
	return 1;
}

/*
 * dsnsend_on - one DSN on session d (see dsnsend_submit); logs nothing
 * and touches no shared state, so that workers may call it
 */
static int
dsnsend_on(struct runner *r, struct dsess *d, const char *rcpt,
    const char *text, size_t len, char *qid, size_t qidsize,
    struct buf *err)
{
	struct smtpc_msg m;
	struct buf alt = BUF_INIT;
	const char *down = NULL;
	char	params[32];
	int	utf8 = 0, rc, need = dsn_needs(text, len);
	enum smtpc_status st;

	*qid = '\0';
	if (!dsnsend_addr_ok(rcpt, &utf8, err))
		return 1;
	if (dsnsend_session(r, d, err) < 0)
		return -1;
	if (!dsnsend_fits(d, &text, &len, &need, &utf8, &alt, &down, err)) {
		buf_free(&alt);
		return 1;
	}
	snprintf(params, sizeof(params), "%s%s", need & DSN_8BITMIME ?
	    " BODY=8BITMIME" : "", utf8 || ((need & DSN_GLOBAL) &&
	    d->s.smtputf8) ? " SMTPUTF8" : "");
	memset(&m, 0, sizeof(m));
	m.from = "";
	m.mail_params = params;
	m.rcpts = &rcpt;
	m.nrcpt = 1;
	m.text = text;
	m.len = len;
	buf_reset(&d->err);
	d->s.err = &d->err;
	st = smtpc_send(&d->s, &m);
	buf_free(&alt);
	if (st == SMTPC_IO) {
		buf_add(err, d->err.s, d->err.len);
		rc = d->used > 0 ? -2 : -1;
		dsnsend_close(d);
		return rc;
	}
	d->used++;
	if (st != SMTPC_SENT) {
		buf_add(err, buf_terminate(&d->s.last), d->s.last.len);
		/* 421: the server closes the session (RFC 5321 3.8). */
		if (strncmp(d->s.last.s, "421", 3) == 0)
			dsnsend_close(d);
		return st == SMTPC_PERM ? 1 : -1;
	}
	if (qid_queued_as(buf_terminate(&d->s.last), qid, qidsize) == NULL ||
	    !qid_valid(qid))
		*qid = '\0';
	if (down != NULL)
		buf_printf(err, "downgraded for a DSN server without %s", down);
	return 0;
}

/*
 * dsnsend_submit - one DSN to dsn_server on the main thread's session
 * (see DESCRIPTION): 0 taken (qid from the reply, or ""), 1 refused for
 * good, -1 try again, -2 the session, which had carried DSNs before,
 * broke (closed now): this DSN may have been taken; look for it on hold
 * before submitting it again
 */
int
dsnsend_submit(struct runner *r, const char *rcpt, const char *text, size_t len,
    char *qid, size_t qidsize, struct buf *err)
{
	return dsnsend_on(r, &ds[0], rcpt, text, len, qid, qidsize, err);
}

/* A dsnsend_submit_many run: the jobs and the next one to take. */
struct dsnsend_run {
	struct runner *r;
	struct dsnsend_job *job;
	size_t	n, next;
	pthread_mutex_t mu;
};

/* A worker: its run and its session. */
struct dsnsend_worker {
	struct dsnsend_run *run;
	struct dsess *d;
	pthread_t tid;
};

/* dsnsend_work - a worker: take jobs until none is left (or a stop) */
static void *
dsnsend_work(void *arg)
{
	struct dsnsend_worker *w = arg;
	struct dsnsend_run *run = w->run;
	struct dsnsend_job *j;
	size_t	i;

	for (;;) {
		pthread_mutex_lock(&run->mu);
		i = etrnd_stop ? run->n : run->next++;
		pthread_mutex_unlock(&run->mu);
		if (i >= run->n)
			return NULL;
		j = &run->job[i];
		if (j->text == NULL)	/* skipped by the caller */
			continue;
		j->st = dsnsend_on(run->r, w->d, j->rcpt, j->text, j->len,
		    j->qid, sizeof(j->qid), &j->err);
	}
}

/*
 * dsnsend_submit_many - n DSNs over up to DSN_SESSIONS sessions at once,
 * one worker thread each; job[i].st is dsnsend_submit's result, or
 * DSNSEND_UNTRIED for a job not tried (etrnd stopping, or its text
 * NULL: skipped).  The workers
 * log nothing and touch neither Redis nor the queue.
 */
void
dsnsend_submit_many(struct runner *r, struct dsnsend_job *job, size_t n)
{
	struct dsnsend_worker w[DSN_SESSIONS];
	struct dsnsend_run run;
	size_t	i, k, started = 0;

	for (i = 0; i < n; i++) {
		job[i].st = DSNSEND_UNTRIED;
		job[i].qid[0] = '\0';
	}
	memset(&run, 0, sizeof(run));
	run.r = r;
	run.job = job;
	run.n = n;
	pthread_mutex_init(&run.mu, NULL);
	k = n / 8 + 1 < DSN_SESSIONS ? n / 8 + 1 : DSN_SESSIONS;
	for (i = 0; i < k; i++) {
		w[i].run = &run;
		w[i].d = &ds[i];
		/* The first worker is this thread (below). */
		if (i > 0 && pthread_create(&w[i].tid, NULL, dsnsend_work,
		    &w[i]) != 0)
			break;
		started = i + 1;
	}
	(void)dsnsend_work(&w[0]);
	for (i = 1; i < started; i++)
		pthread_join(w[i].tid, NULL);
	pthread_mutex_destroy(&run.mu);
}

/* dsnsend_message_id - the header block's Message-ID value in *v, its
 * length; 0 without one */
static size_t
dsnsend_message_id(const char *hdrs, const char **v)
{
	const char *p, *e;

	for (p = hdrs; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 :
	    NULL) {
		if (*p == '\n')
			break;		/* end of the header */
		if (strncasecmp(p, "Message-ID:", 11) != 0)
			continue;
		for (*v = p + 11; **v == ' ' || **v == '\t'; (*v)++)
			;
		for (e = *v; *e && *e != '\n' && *e != '\r'; e++)
			;
		while (e > *v && (e[-1] == ' ' || e[-1] == '\t'))
			e--;
		return (size_t)(e - *v);
	}
	return 0;
}

/* dsnsend_message_id_is - is the header block's Message-ID value want */
static int
dsnsend_message_id_is(const char *hdrs, const char *want)
{
	const char *v;
	size_t	n = dsnsend_message_id(hdrs, &v);

	return n > 0 && n == strlen(want) && strncmp(v, want, n) == 0;
}

/*
 * dsnsend_null_sender - is the queued message's envelope sender null: only
 * such a file can be a DSN of ours (anyone may submit a message with a
 * chosen Message-ID to the holding service); 0 when unknown
 */
static int
dsnsend_null_sender(struct runner *r, const char *qid)
{
	struct qb_envelope env;
	int	null;

	if (r->qb->envelope == NULL)
		return 0;
	memset(&env, 0, sizeof(env));
	null = r->qb->envelope(&r->qc, qid, &env) == QB_OK &&
	    env.sender.len == 0;
	qb_env_free(&env);
	if (!null)
		log_warnx("%s: held with the Message-ID of a DSN of ours but "
		    "not from the null sender: ignored", qid);
	return null;
}

/* dsnsend_gone - the queue says the file of qid is gone */
static int
dsnsend_gone(struct runner *r, char *qid)
{
	struct qb_qinfo *qi;
	int	gone;

	if ((qi = runner_status(r, &qid, 1, NULL)) == NULL)
		return 0;
	gone = qi[0].state == QS_GONE;
	qb_qinfo_free(qi, 1);
	free(qi);
	return gone;
}

/* dsnsend_find_held - a held DSN with this Message-ID written since */
int
dsnsend_find_held(struct runner *r, long long since, const char *msgid,
    char *qid, size_t qidsize)
{
	struct strv ids = { NULL, 0, 0 };
	struct buf hdrs = BUF_INIT;
	size_t	i;
	int	found = 0;

	*qid = '\0';
	if (r->qb->held_since == NULL)
		return 0;
	if (runner_qb(r, r->qb->held_since(&r->qc, since, &ids),
	    "hold queue") != QB_OK) {
		strv_free(&ids);
		return -1;
	}
	for (i = 0; i < ids.n && !found; i++) {
		buf_reset(&hdrs);
		if (qb_read_headers(r->qb, &r->qc, ids.v[i], QS_HELD,
		    &hdrs) != QB_OK) {
			/* Gone meanwhile: not a held DSN.  Still there, or
			 * not known: it may be ours, so no answer now. */
			found = dsnsend_gone(r, ids.v[i]) ? 0 : -1;
			continue;
		}
		if (dsnsend_message_id_is(buf_terminate(&hdrs), msgid) &&
		    strlen(ids.v[i]) < qidsize &&
		    dsnsend_null_sender(r, ids.v[i])) {
			snprintf(qid, qidsize, "%s", ids.v[i]);
			found = 1;
		}
	}
	buf_free(&hdrs);
	strv_free(&ids);
	return found;
}

/*
 * dsnsend_release - held DSNs out of the hold queue (release_new, or
 * release where the backend has no such call); out[i] = 1 for each that
 * is out (or was out already: released before etrnd stopped), 0 for one
 * still held.  -1 when the queue cannot be asked.
 */
int
dsnsend_release(struct runner *r, char *const *ids, size_t n, int *out)
{
	struct qb_qinfo *qi;
	enum qb_status st;
	size_t	i;

	if (n == 0)
		return 0;
	(void)runner_qb(r, r->qb->release_new ? r->qb->release_new(&r->qc, ids,
	    n) : r->qb->release(&r->qc, ids, n), "DSN release");
	/* Whatever the command said: the queue tells what is out. */
	if ((qi = runner_status(r, ids, n, &st)) == NULL)
		return -1;
	for (i = 0; i < n; i++)
		out[i] = qi[i].state != QS_HELD;
	qb_qinfo_free(qi, n);
	free(qi);
	return 0;
}

/* dsnsend_release_one - one held DSN out of the hold queue: 0, or -1 */
int
dsnsend_release_one(struct runner *r, const char *qid)
{
	char	*ids[1];
	int	out = 0;

	ids[0] = (char *)(uintptr_t)qid;
	return dsnsend_release(r, ids, 1, &out) == 0 && out ? 0 : -1;
}

/*
 * dsnsend_find_held_many - dsnsend_find_held for n Message-IDs at once:
 * the hold queue listed once, each held file since then read once;
 * qid[i] the DSN with msgid[i] found, or "".  How many were found, or -1
 * when the queue could not be read (then nothing is known).
 */
int
dsnsend_find_held_many(struct runner *r, long long since,
    char *const *msgid, size_t n, char (*qid)[64])
{
	struct strv ids = { NULL, 0, 0 };
	struct buf hdrs = BUF_INIT;
	const char *v;
	size_t	i, j, len;
	int	found = 0;

	for (j = 0; j < n; j++)
		qid[j][0] = '\0';
	if (r->qb->held_since == NULL || n == 0)
		return 0;
	if (runner_qb(r, r->qb->held_since(&r->qc, since, &ids),
	    "hold queue") != QB_OK) {
		strv_free(&ids);
		return -1;
	}
	for (i = 0; i < ids.n && found >= 0; i++) {
		buf_reset(&hdrs);
		if (qb_read_headers(r->qb, &r->qc, ids.v[i], QS_HELD,
		    &hdrs) != QB_OK) {
			if (!dsnsend_gone(r, ids.v[i]))
				found = -1;	/* may be ours: no answer */
			continue;
		}
		if ((len = dsnsend_message_id(buf_terminate(&hdrs), &v)) == 0 ||
		    strlen(ids.v[i]) >= sizeof(qid[0]))
			continue;
		for (j = 0; j < n; j++)
			if (qid[j][0] == '\0' && strlen(msgid[j]) == len &&
			    strncmp(v, msgid[j], len) == 0)
				break;
		if (j < n && dsnsend_null_sender(r, ids.v[i])) {
			snprintf(qid[j], sizeof(qid[j]), "%s", ids.v[i]);
			found++;
		}
	}
	buf_free(&hdrs);
	strv_free(&ids);
	return found;
}
