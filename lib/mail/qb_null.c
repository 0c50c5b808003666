/*
 * NAME
 *	qb_null - a backend that only records what it was asked
 * DESCRIPTION
 *	For transcript tests and dry runs: each call appends one line
 *	("release ID...", "remove ID") to null_log when that is set.  The
 *	hold queue it reports is empty and reads find nothing.
 */
#include "config.h"

#include <stdio.h>

#include "mail/holdtag.h"
#include "mail/qbackend.h"

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
null_remove(const struct qb_conf *qc, const char *id)
{
	char	*ids[1] = { (char *)id };

	return null_log(qc, "remove", ids, 1);
}

/* null_list_held - nothing is held */
static enum qb_status
null_list_held(const struct qb_conf *qc, struct qb_idlist *out)
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

const struct qb_backend qb_null = {
	.name = "null",
	.release = null_release,
	.remove = null_remove,
	.list_held = null_list_held,
	.read = null_read,
};
