/*
 * NAME
 *	qb_null - a backend that only records what it was asked
 * DESCRIPTION
 *	For transcript tests and dry runs: each call appends one line
 *	("release ID...", "rehold ID...", "remove ID") to null_log when that
 *	is set.  The hold queue it reports is empty and reads find nothing.
 *	status (and locate) reports every message as held, unless the file
 *	"<null_log>.status" exists: its lines "QUEUEID STATE" (STATE one of
 *	gone, held, pending, failed) set the answer for those IDs, so a test
 *	can play the MTA.  init has nothing to resolve.
 * DIAGNOSTICS
 *	QB_BAD for an invalid queue ID; QB_FAIL when null_log cannot be
 *	written.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "mail/qbackend.h"
#include "mail/qid.h"
#include "util/buf.h"

/* null_log - append one line */
static enum qb_status
null_log(const struct qb_conf *qc, const char *op, char *const *ids,
    size_t n)
{
	FILE	*fp;
	size_t	i;

	for (i = 0; i < n; i++)
		if (!qid_valid(ids[i]))
			return QB_BAD;
	if (qc->null_log == NULL || *qc->null_log == '\0')
		return QB_OK;
	if ((fp = fopen(qc->null_log, "a")) == NULL)
		return QB_FAIL;
	fputs(op, fp);
	for (i = 0; i < n; i++)
		fprintf(fp, " %s", ids[i]);
	fputc('\n', fp);
	return fclose(fp) == 0 ? QB_OK : QB_FAIL;
}

/* null_release - record a release */
static enum qb_status
null_release(const struct qb_conf *qc, char *const *ids, size_t n)
{
	return null_log(qc, "release", ids, n);
}

/* null_remove - record a removal */
static enum qb_status
null_remove(const struct qb_conf *qc, char *const *ids, size_t n)
{
	return null_log(qc, "remove", ids, n);
}

/* null_release_new - record a release of new messages */
static enum qb_status
null_release_new(const struct qb_conf *qc, char *const *ids, size_t n)
{
	return null_log(qc, "release_new", ids, n);
}

/* null_list_held - nothing is held */
static enum qb_status
null_list_held(const struct qb_conf *qc, struct strv *out)
{
	(void)qc;
	(void)out;
	return QB_OK;
}

/* null_read - nothing to read */
static enum qb_status
null_read(const struct qb_conf *qc, const char *id, enum qb_read what,
    struct buf *out)
{
	(void)qc;
	(void)what;
	(void)out;
	return qid_valid(id) ? QB_DENY : QB_BAD;
}

/* null_init - nothing to resolve */
static enum qb_status
null_init(struct qb_conf *qc)
{
	(void)qc;
	return QB_OK;
}

/* null_rehold - record a rehold */
static enum qb_status
null_rehold(const struct qb_conf *qc, char *const *ids, size_t n)
{
	return null_log(qc, "rehold", ids, n);
}

/* null_state - a state word of the status file */
static int
null_state(const char *word, enum qb_qstate *st)
{
	static const struct {
		const char *name;
		enum qb_qstate st;
	} states[] = {
		{ "gone", QS_GONE }, { "held", QS_HELD },
		{ "pending", QS_PENDING }, { "failed", QS_FAILED },
	};
	size_t	i;

	for (i = 0; i < sizeof(states) / sizeof(states[0]); i++)
		if (strcmp(word, states[i].name) == 0) {
			*st = states[i].st;
			return 0;
		}
	return -1;
}

/* null_status - held, or what "<null_log>.status" says */
static enum qb_status
null_status(const struct qb_conf *qc, struct qb_qinfo *info, size_t n)
{
	struct buf path = BUF_INIT;
	char	line[128], id[64], word[16];
	enum qb_qstate st;
	FILE	*fp = NULL;
	size_t	i;

	for (i = 0; i < n; i++)
		if (!qid_valid(info[i].id))
			return QB_BAD;
	for (i = 0; i < n; i++) {
		qb_qinfo_free(&info[i], 1);
		info[i].state = QS_HELD;
	}
	if (qc->null_log != NULL && *qc->null_log != '\0') {
		buf_printf(&path, "%s.status", qc->null_log);
		fp = fopen(path.s, "r");
		buf_free(&path);
	}
	while (fp != NULL && fgets(line, sizeof(line), fp) != NULL)
		if (sscanf(line, "%63s %15s", id, word) == 2 &&
		    null_state(word, &st) == 0)
			for (i = 0; i < n; i++)
				if (strcmp(info[i].id, id) == 0)
					info[i].state = st;
	if (fp != NULL)
		fclose(fp);
	return QB_OK;
}

/* null_submit - record the recipient; the message goes to <null_log>.mail */
static enum qb_status
null_submit(const struct qb_conf *qc, const char *sender, const char *rcpt,
    const char *msg, size_t len)
{
	struct buf path = BUF_INIT;
	FILE	*fp;
	int	ok;

	(void)sender;
	if (qc->null_log == NULL || *qc->null_log == '\0')
		return QB_OK;
	buf_printf(&path, "%s.mail", qc->null_log);
	fp = fopen(path.s, "a");
	buf_free(&path);
	if (fp == NULL)
		return QB_FAIL;
	ok = fwrite(msg, 1, len, fp) == len;
	ok = fclose(fp) == 0 && ok;
	if (!ok)
		return QB_FAIL;
	fp = fopen(qc->null_log, "a");
	if (fp == NULL)
		return QB_FAIL;
	fprintf(fp, "submit %s\n", rcpt);
	return fclose(fp) == 0 ? QB_OK : QB_FAIL;
}

const struct qb_backend qb_null = {
	.name = "null",
	.release = null_release,
	.remove = null_remove,
	.release_new = null_release_new,
	.list_held = null_list_held,
	.read = null_read,
	.init = null_init,
	.rehold = null_rehold,
	.status = null_status,
	.locate = null_status,
	.submit = null_submit,
};
