/*
 * NAME
 *	qb_postfix - the Postfix queue backend
 * DESCRIPTION
 *	release: `postsuper -H -` with the queue IDs on stdin moves them from
 *	hold to deferred keeping their arrival time; then each is scheduled
 *	with `postqueue -i ID` (small batches) or the deferred queue is
 *	flushed once with `postqueue -f` (large batches: one call instead
 *	of one per message).
 *	remove: `postsuper -d ID hold` deletes only from the hold queue.
 *	list_held: `postqueue -j`, the lines whose queue_name is "hold".
 *	read: `postcat -q -h ID` (headers) or `postcat -q -bh ID`.
 *	With config_directory set, every command gets `-c DIR`.
 * SECURITY
 *	Every queue ID passes qid_valid() first; postsuper would accept
 *	ALL or "-" and exits 0 on unknown IDs, so outcomes are checked by
 *	looking at the queue, not at exit codes alone.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mail/holdtag.h"
#include "mail/qbackend.h"
#include "util/log.h"
#include "util/spawn.h"

#define PF_FLUSH_BATCH	20	/* above this, one postqueue -f */

/* pf_cmd - run a Postfix command: "prog [-c dir] args..." */
static enum qb_status
pf_cmd(const struct qb_conf *qc, const char *prog, const char *const *args,
    const char *in, size_t inlen, struct buf *out)
{
	const char *argv[16];
	struct buf path = BUF_INIT, err = BUF_INIT;
	struct spawn_result res;
	int	n = 0, rc;

	buf_printf(&path, "%s/%s", qc->command_directory, prog);
	argv[n++] = path.s;
	if (qc->config_directory && *qc->config_directory) {
		argv[n++] = "-c";
		argv[n++] = qc->config_directory;
	}
	while (*args && n < 15)
		argv[n++] = *args++;
	argv[n] = NULL;
	rc = spawn_run(argv, in, inlen, out, &err, qc->timeout, &res);
	if (rc < 0 || !res.exited || res.status != 0) {
		log_warnx("%s failed: %s%s%.200s", path.s,
		    rc < 0 ? "could not run" : res.timed_out ? "timed out" :
		    !res.exited ? "killed by signal" : "exit status non-zero",
		    err.len ? ": " : "", err.len ? buf_terminate(&err) : "");
		buf_free(&path);
		buf_free(&err);
		return QB_FAIL;
	}
	buf_free(&path);
	buf_free(&err);
	return QB_OK;
}

/* pf_release - hold -> deferred, then schedule */
static enum qb_status
pf_release(const struct qb_conf *qc, char *const *ids, size_t n)
{
	static const char *const hold_args[] = { "-H", "-", NULL };
	static const char *const flush_args[] = { "-f", NULL };
	struct buf in = BUF_INIT;
	enum qb_status st;
	size_t	i;

	for (i = 0; i < n; i++) {
		if (!qid_valid(ids[i])) {
			buf_free(&in);
			return QB_BAD;
		}
		buf_printf(&in, "%s\n", ids[i]);
	}
	if (n == 0)
		return QB_OK;
	st = pf_cmd(qc, "postsuper", hold_args, in.s, in.len, NULL);
	buf_free(&in);
	if (st != QB_OK)
		return st;
	if (n > PF_FLUSH_BATCH)
		return pf_cmd(qc, "postqueue", flush_args, NULL, 0, NULL);
	for (i = 0; i < n; i++) {
		const char *args[] = { "-i", ids[i], NULL };

		if ((st = pf_cmd(qc, "postqueue", args, NULL, 0, NULL)) !=
		    QB_OK)
			return st;
	}
	return QB_OK;
}

/* pf_remove - delete from the hold queue only */
static enum qb_status
pf_remove(const struct qb_conf *qc, const char *id)
{
	const char *args[] = { "-d", id, "hold", NULL };

	if (!qid_valid(id))
		return QB_BAD;
	return pf_cmd(qc, "postsuper", args, NULL, 0, NULL);
}

/* pf_listing - postqueue -j, parsed; QB_FAIL unless every line parses */
static enum qb_status
pf_listing(const struct qb_conf *qc, struct pfq_list *l)
{
	static const char *const args[] = { "-j", NULL };
	struct buf text = BUF_INIT;
	enum qb_status st;
	const char *why = NULL;
	size_t	line = 0;

	if ((st = pf_cmd(qc, "postqueue", args, NULL, 0, &text)) == QB_OK &&
	    pfq_parse(text.s ? text.s : "", text.len, l, &line, &why) < 0) {
		log_warnx("postqueue -j: line %zu: %s; queue listing not used",
		    line, why);
		st = QB_FAIL;
	}
	buf_free(&text);
	if (st != QB_OK)
		pfq_list_free(l);
	else
		pfq_sort(l);
	return st;
}

/* pf_list_held - queue IDs in the hold queue */
static enum qb_status
pf_list_held(const struct qb_conf *qc, struct qb_idlist *out)
{
	struct pfq_list l = { NULL, 0, 0 };
	enum qb_status st;
	size_t	i;

	if ((st = pf_listing(qc, &l)) != QB_OK)
		return st;
	for (i = 0; i < l.n; i++)
		if (strcmp(l.v[i].queue_name, "hold") == 0 &&
		    qid_valid(l.v[i].queue_id))
			qb_idlist_add(out, l.v[i].queue_id);
	pfq_list_free(&l);
	return QB_OK;
}

/* pf_read - message headers or the whole message */
static enum qb_status
pf_read(const struct qb_conf *qc, const char *id, enum qb_read what,
    struct buf *out)
{
	const char *args[] = { "-q", what == QB_READ_FULL ? "-bh" : "-h", id,
		NULL };

	if (!qid_valid(id))
		return QB_BAD;
	return pf_cmd(qc, "postcat", args, NULL, 0, out);
}

const struct qb_backend qb_postfix = {
	.name = "postfix",
	.release = pf_release,
	.remove = pf_remove,
	.list_held = pf_list_held,
	.read = pf_read,
};
