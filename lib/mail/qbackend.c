/*
 * NAME
 *	qbackend - registry of MTA queue backends
 * DESCRIPTION
 *	A backend is a const struct of operations found by name; an
 *	unknown name is a configuration error at start-up.  MTA differences
 *	live in the backend, not in #ifdefs.  qb_run() runs one MTA command
 *	for a backend (argv, no shell, bounded by the timeout) and logs why
 *	it failed, with its error output.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "mail/qbackend.h"
#include "util/log.h"
#include "util/spawn.h"

static const struct qb_backend *const qb_all[] = { &qb_postfix, &qb_sendmail,
	&qb_null };

/* qb_lookup - backend by name, NULL if unknown */
const struct qb_backend *
qb_lookup(const char *name)
{
	size_t	i;

	for (i = 0; i < sizeof(qb_all) / sizeof(qb_all[0]); i++)
		if (strcmp(qb_all[i]->name, name) == 0)
			return qb_all[i];
	return NULL;
}

/* qb_run - run argv (see DESCRIPTION): QB_OK, or QB_FAIL logged as what */
enum qb_status
qb_run(const char *const *argv, const char *what, const char *in,
    size_t inlen, struct buf *out, int timeout)
{
	struct buf err = BUF_INIT;
	struct spawn_result res;
	int	rc;

	rc = spawn_run(argv, in, inlen, out, &err, timeout, &res);
	if (rc == 0 && res.exited && res.status == 0) {
		buf_free(&err);
		return QB_OK;
	}
	while (err.len > 0 && (err.s[err.len - 1] == '\n' ||
	    err.s[err.len - 1] == '\r'))
		err.len--;
	if (rc == 0 && !res.timed_out && !res.exited)
		log_warnx("%s failed: killed by signal %d (%s)%s%.200s", what,
		    res.signal, strsignal(res.signal), err.len ? ": " : "",
		    err.len ? buf_terminate(&err) : "");
	else
		log_warnx("%s failed: %s%s%.200s", what, rc < 0 ?
		    "could not run" : res.timed_out ? "timed out" :
		    "exit status non-zero", err.len ? ": " : "",
		    err.len ? buf_terminate(&err) : "");
	buf_free(&err);
	return QB_FAIL;
}

/*
 * qb_submit_ok - may sender and rcpt go on a submit command line: no
 * control character, a recipient, neither taken for an option
 */
int
qb_submit_ok(const char *sender, const char *rcpt)
{
	const char *p;

	for (p = rcpt; *p; p++)
		if ((unsigned char)*p < 32 || *p == 127)
			return 0;
	for (p = sender; *p; p++)
		if ((unsigned char)*p < 32 || *p == 127)
			return 0;
	return *rcpt != '\0' && *rcpt != '-' && *sender != '-';
}

/* qb_status_name - for log lines */
const char *
qb_status_name(enum qb_status st)
{
	switch (st) {
	case QB_OK:
		return "ok";
	case QB_FAIL:
		return "fail";
	case QB_BAD:
		return "bad";
	case QB_DENY:
		return "deny";
	}
	return "?";
}

/* qb_env_rcpt - one recipient line: address, NOTIFY, ORCPT (or "") */
void
qb_env_rcpt(struct qb_envelope *e, const char *addr, const char *notify,
    const char *orcpt)
{
	buf_printf(&e->rcpts, "%s\t%s\t%s\n", addr, notify, orcpt);
	e->nrcpt++;
}

/* qb_env_free - release */
void
qb_env_free(struct qb_envelope *e)
{
	buf_free(&e->sender);
	buf_free(&e->rcpts);
	buf_free(&e->envid);
	memset(e, 0, sizeof(*e));
}

/*
 * qb_qinfo_free - release the recipients backends filled in (the IDs are
 * the caller's)
 */
void
qb_qinfo_free(struct qb_qinfo *qi, size_t n)
{
	size_t	i, j;

	for (i = 0; i < n; i++) {
		for (j = 0; j < qi[i].nrcpt; j++)
			free(qi[i].rcpt[j]);
		free(qi[i].rcpt);
		qi[i].rcpt = NULL;
		qi[i].nrcpt = 0;
	}
}

/*
 * qb_read_headers - a queued message's headers, the message known to be
 * in state: read_queued where the backend has it, else read
 */
enum qb_status
qb_read_headers(const struct qb_backend *qb, const struct qb_conf *qc,
    const char *id, enum qb_qstate state, struct buf *out)
{
	if (qb->read_queued != NULL)
		return qb->read_queued(qc, id, state, out);
	return qb->read(qc, id, QB_READ_HEADERS, out);
}
