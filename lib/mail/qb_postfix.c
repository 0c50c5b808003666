/*
 * NAME
 *	qb_postfix - the Postfix queue backend
 * DESCRIPTION
 *	init: `postconf -h queue_directory maximal_queue_lifetime
 *	bounce_queue_lifetime mail_owner hash_queue_names hash_queue_depth`
 *	once, kept in the qb_conf (the shorter lifetime, in seconds) and,
 *	for the queue file reader, in this module.
 *	release: the hold directory is scanned (fstatat) for each message's
 *	file time; then one `postsuper -H -` with all the queue IDs on stdin
 *	moves them from hold to deferred keeping their arrival time and file
 *	time.  The rule: a file time now or in the past (never tried, or its
 *	retry time came while held): one `postkick public qmgr D` for all,
 *	qmgr's deferred scan takes every file that is due; a file time in
 *	the future (tried, deferred, then put back on hold: the time of its
 *	next retry, which the scan would wait for): `postqueue -i ID` each.
 *	A failed postkick is logged and the release still succeeds: the
 *	files are out of the hold, and qmgr takes them at its next queue
 *	run (queue_run_delay) at the latest.
 *	Hold directory unreadable: `postqueue -i` for every message.  Never
 *	`postqueue -f`, which retries all deferred mail of all destinations.
 *	rehold: `postsuper -h -` with the queue IDs on stdin.
 *	remove: `postsuper -d - hold` (IDs on stdin) deletes only from the
 *	hold queue.  release_new: `postsuper -H -` (IDs on stdin), then
 *	`postkick public qmgr D`: qmgr scans the deferred queue and takes
 *	every file whose time has come, as a DSN's arrival time has (it was
 *	never tried); two commands for a batch, the queue IDs kept, no
 *	second pass through cleanup, and deferred mail that waits for a
 *	retry keeps waiting (docs/dsn-release.md).
 *	list_held: `postqueue -j`, the messages whose queue_name is "hold".
 *	status: one `postqueue -j` for the whole batch (pfqueue.c parses
 *	it).  Not listed: gone.  hold: held.  incoming, active, maildrop:
 *	pending.  deferred: Postfix gives a deferred file the time of its
 *	next attempt as modification time after a failed attempt, and
 *	`postqueue -i`/`-f` set it to now; so a time in the future means
 *	"tried and failed" and a past one "due, in progress".  The deferred
 *	tree is scanned once per call (hashed subdirectories, whatever the
 *	hash_queue_depth) only when a requested message is deferred.
 *	locate: the same states without recipients and without showq: the
 *	queue directories hold, deferred, incoming and active are read
 *	(readdir and fstatat, any hash depth; no queue file is opened),
 *	which costs a few milliseconds where `postqueue -j` over 10,000
 *	messages takes half a second.  IDs not found are looked for in a
 *	second scan before they count as gone.  Without permission to read
 *	the queue (not root) it falls back to status.
 *	Every scan (locate, the deferred times of status, held_since) is
 *	all or nothing: a queue directory or subdirectory that cannot be
 *	opened or read to its end, an entry that is neither a file nor a
 *	directory (symbolic links are not followed) or a tree deeper than
 *	PF_SCAN_DEPTH fails the call, so that a message in a directory that
 *	could not be read is never reported gone.
 *	held_since: the hold directory's files written at or after a time
 *	(a DSN etrnd submitted to the holding dsn_server, after a crash).
 *	read: `postcat -q -h ID` (headers) or `postcat -q -bh ID`.
 *	batch_begin, read_queued, batch_end: between the first two a held
 *	message's headers come from its hold queue file, read by one
 *	pfqfile reader process per batch running as mail_owner (started at
 *	the batch's first read, stopped by batch_end; mail_owner and the
 *	hash_queue settings from init's postconf); postcat for another
 *	queue, without a reader (not root, no mail_owner) and for each file
 *	the reader is in doubt about (logged at debug level); no file in
 *	the hold queue is QB_FAIL, as postcat's failure is.
 *	envelope: `postcat -q -e ID` (see pfqueue.c).
 *	With config_directory set, every command gets `-c DIR`.
 * SECURITY
 *	Every queue ID passes qid_valid() first; postsuper would accept
 *	ALL or "-" and exits 0 on unknown IDs, so outcomes are checked by
 *	looking at the queue, not at exit codes alone.  A queue listing
 *	that does not parse completely is not used at all: a message must
 *	never look "gone" because a line was not understood.
 * DIAGNOSTICS
 *	QB_FAIL (logged) when a command cannot run, fails or times out, or
 *	its output does not parse, or a queue directory cannot be read (one
 *	line per call, naming the directory and the errno); QB_BAD for an
 *	invalid queue ID.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mail/pfqfile.h"
#include "mail/pfqueue.h"
#include "mail/qbackend.h"
#include "mail/qid.h"
#include "util/log.h"
#include "util/xalloc.h"

#define PF_SCAN_DEPTH	4	/* subdirectory levels read below a queue */

/*
 * The queue directories locate() looks in, in the order of the moves a
 * released message makes (hold -> deferred -> active, incoming -> active),
 * so that a move during one scan finds the file in the later directory.
 */
enum pf_qdir { PFQ_HOLD, PFQ_DEFERRED, PFQ_INCOMING, PFQ_ACTIVE, PFQ_NDIRS };
static const char *const pf_qdirs[PFQ_NDIRS] = {
	"hold", "deferred", "incoming", "active",
};

/* A queue file: queue ID (its name), directory, modification time. */
struct pf_mtime {
	char	id[33];
	unsigned char dir;	/* enum pf_qdir */
	time_t	mtime;
};

struct pf_mtimes {
	struct pf_mtime *v;
	size_t	n, cap;
};

static enum qb_status pf_files(const struct qb_conf *, unsigned,
    struct pf_mtimes *, int *);
static const struct pf_mtime *pf_find(const struct pf_mtimes *,
    const char *);

/*
 * pf_cmd - run a Postfix command: "prog [cflag dir] args..."; cflag is
 * "-c" for the queue tools, "-C" for sendmail
 */
static enum qb_status
pf_cmd(const struct qb_conf *qc, const char *prog, const char *cflag,
    const char *const *args, const char *in, size_t inlen, struct buf *out)
{
	const char *argv[16];
	struct buf path = BUF_INIT;
	enum qb_status st;
	int	n = 0;

	buf_printf(&path, "%s/%s", qc->command_directory, prog);
	argv[n++] = path.s;
	if (qc->config_directory && *qc->config_directory) {
		argv[n++] = cflag;
		argv[n++] = qc->config_directory;
	}
	while (*args && n < 15)
		argv[n++] = *args++;
	argv[n] = NULL;
	st = qb_run(argv, path.s, in, inlen, out, qc->timeout);
	buf_free(&path);
	return st;
}

/* pf_ids_stdin - "ID\n" lines; -1 if any ID is invalid */
static int
pf_ids_stdin(char *const *ids, size_t n, struct buf *in)
{
	size_t	i;

	for (i = 0; i < n; i++) {
		if (!qid_valid(ids[i]))
			return -1;
		buf_printf(in, "%s\n", ids[i]);
	}
	return 0;
}

/* pf_unhold - hold -> deferred: postsuper -H - */
static enum qb_status
pf_unhold(const struct qb_conf *qc, char *const *ids, size_t n)
{
	static const char *const hold_args[] = { "-H", "-", NULL };
	struct buf in = BUF_INIT;
	enum qb_status st;

	if (pf_ids_stdin(ids, n, &in) < 0) {
		buf_free(&in);
		return QB_BAD;
	}
	if (n == 0)
		return QB_OK;
	st = pf_cmd(qc, "postsuper", "-c", hold_args, in.s, in.len, NULL);
	buf_free(&in);
	return st;
}

/*
 * pf_due - split ids by the hold file's modification time, read before
 * the release (postsuper -H keeps it): a time in the future is a retry
 * time Postfix set after a failed attempt, and qmgr's deferred scan
 * would skip the file until then; those go to later, the rest (never
 * tried, or whose retry time has come while on hold, or not found in
 * the hold queue) to now.  -1 when the hold queue cannot be read.
 */
static int
pf_due(const struct qb_conf *qc, char *const *ids, size_t n,
    struct strv *now, struct strv *later)
{
	struct pf_mtimes mt = { NULL, 0, 0 };
	const struct pf_mtime *f;
	time_t	t;
	size_t	i;

	if (pf_files(qc, 1u << PFQ_HOLD, &mt, NULL) != QB_OK) {
		free(mt.v);
		return -1;
	}
	t = time(NULL);
	for (i = 0; i < n; i++) {
		f = pf_find(&mt, ids[i]);
		strv_add(f != NULL && f->mtime > t ? later : now, ids[i]);
	}
	free(mt.v);
	return 0;
}

/* pf_schedule - postqueue -i for each message, one call per queue ID */
static enum qb_status
pf_schedule(const struct qb_conf *qc, char *const *ids, size_t n)
{
	enum qb_status st;
	size_t	i;

	for (i = 0; i < n; i++) {
		const char *args[] = { "-i", ids[i], NULL };

		if ((st = pf_cmd(qc, "postqueue", "-c", args, NULL, 0, NULL)) !=
		    QB_OK)
			return st;
	}
	return QB_OK;
}

/*
 * pf_release - hold -> deferred in one postsuper -H, then wake qmgr for
 * the files that are due and schedule the others one by one (see
 * DESCRIPTION).  Never postqueue -f: it would retry every deferred
 * message of every destination at once.
 */
static enum qb_status
pf_release(const struct qb_conf *qc, char *const *ids, size_t n)
{
	static const char *const kick[] = { "public", "qmgr", "D", NULL };
	struct strv now = { NULL, 0, 0 }, later = { NULL, 0, 0 };
	enum qb_status st, st2;
	size_t	i;
	int	known;

	for (i = 0; i < n; i++)
		if (!qid_valid(ids[i]))
			return QB_BAD;
	if (n == 0)
		return QB_OK;
	/* Times unknown: postqueue -i for each takes it whatever its time. */
	known = pf_due(qc, ids, n, &now, &later) == 0;
	if ((st = pf_unhold(qc, ids, n)) != QB_OK)
		goto out;
	if (!known)
		st = pf_schedule(qc, ids, n);
	else {
		/* A failed kick is logged (pf_cmd), but the release stands:
		 * the files are out of the hold, and qmgr finds the due ones
		 * within queue_run_delay anyway. */
		if (now.n > 0)
			(void)pf_cmd(qc, "postkick", "-c", kick, NULL, 0,
			    NULL);
		if ((st2 = pf_schedule(qc, later.v, later.n)) != QB_OK)
			st = st2;
	}
out:
	strv_free(&now);
	strv_free(&later);
	return st;
}

/* pf_rehold - put messages (back) on hold */
static enum qb_status
pf_rehold(const struct qb_conf *qc, char *const *ids, size_t n)
{
	static const char *const args[] = { "-h", "-", NULL };
	struct buf in = BUF_INIT;
	enum qb_status st;

	if (pf_ids_stdin(ids, n, &in) < 0) {
		buf_free(&in);
		return QB_BAD;
	}
	if (n == 0)
		return QB_OK;
	st = pf_cmd(qc, "postsuper", "-c", args, in.s, in.len, NULL);
	buf_free(&in);
	return st;
}

/* pf_lifetime - a Postfix time value (bare number: days) in seconds */
static long long
pf_lifetime(const char *v)
{
	char	*end;
	long long n;

	errno = 0;
	n = strtoll(v, &end, 10);
	if (errno != 0 || end == v || n < 0 || n > 36500)
		return -1;
	switch (*end) {
	case '\0': case 'd': n *= 86400; break;
	case 'w': n *= 7 * 86400; break;
	case 'h': n *= 3600; break;
	case 'm': n *= 60; break;
	case 's': break;
	default: return -1;
	}
	return end[*end != '\0'] == '\0' ? n : -1;
}

/*
 * What the queue file reader needs (pf_init), and the reader of the
 * current batch: one process per sweep, NULL outside a batch.
 */
static struct {
	char	*owner, *hash_queues;
	int	depth;
	int	batch, tried;	/* in a batch; its reader tried */
	struct pfqf_reader *rd;
} pf_qf;

/* pf_reader_conf - keep mail_owner, hash_queue_names, hash_queue_depth */
static void
pf_reader_conf(const char *owner, const char *hash_queues,
    const char *depth)
{
	free(pf_qf.owner);
	free(pf_qf.hash_queues);
	pf_qf.owner = *owner ? xstrdup(owner) : NULL;
	pf_qf.hash_queues = xstrdup(hash_queues);
	pf_qf.depth = atoi(depth);
}

/* pf_init - the queue directory, the queue lifetimes, the reader's
 * settings */
static enum qb_status
pf_init(struct qb_conf *qc)
{
	static const char *const args[] = { "-h", "queue_directory",
		"maximal_queue_lifetime", "bounce_queue_lifetime",
		"mail_owner", "hash_queue_names", "hash_queue_depth", NULL };
	struct buf out = BUF_INIT;
	enum qb_status st;
	char	*line[6], *p, *nl;
	long long life[2];
	int	i, nul;

	if ((st = pf_cmd(qc, "postconf", "-c", args, NULL, 0, &out)) != QB_OK) {
		buf_free(&out);
		return st;
	}
	buf_terminate(&out);
	nul = memchr(out.s, '\0', out.len) != NULL;
	for (i = 0, p = out.s; i < 6; i++) {
		line[i] = p;
		if ((nl = strchr(p, '\n')) != NULL) {
			*nl = '\0';
			p = nl + 1;
		} else
			p += strlen(p);
		for (nl = line[i] + strlen(line[i]); nl > line[i] &&
		    (nl[-1] == ' ' || nl[-1] == '\t' || nl[-1] == '\r'); nl--)
			nl[-1] = '\0';
	}
	if (nul || line[0][0] != '/') {
		log_warnx("postconf: unusable queue_directory \"%.200s\"",
		    line[0]);
		buf_free(&out);
		return QB_FAIL;
	}
	for (i = 0; i < 2; i++)
		if ((life[i] = pf_lifetime(line[i + 1])) < 0)
			log_warnx("postconf: cannot read %s \"%.50s\"",
			    args[i + 2], line[i + 1]);
	qc->max_lifetime = life[0] < 0 || life[1] < 0 ? 0 :
	    life[0] < life[1] ? life[0] : life[1];
	free(qc->queue_directory);
	qc->queue_directory = xstrdup(line[0]);
	pf_reader_conf(line[3], line[4], line[5]);
	buf_free(&out);
	return QB_OK;
}

/* pf_super_hold - "postsuper FLAG - hold", queue IDs on stdin */
static enum qb_status
pf_super_hold(const struct qb_conf *qc, const char *flag, char *const *ids,
    size_t n)
{
	const char *const args[] = { flag, "-", "hold", NULL };
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
	st = pf_cmd(qc, "postsuper", "-c", args, in.s, in.len, NULL);
	buf_free(&in);
	return st;
}

/* pf_remove - delete from the hold queue only: postsuper -d - hold */
static enum qb_status
pf_remove(const struct qb_conf *qc, char *const *ids, size_t n)
{
	return pf_super_hold(qc, "-d", ids, n);
}

/*
 * pf_release_new - messages never tried out of the hold: postsuper -H -,
 * then a deferred-queue scan by qmgr (postsuper wakes nothing; qmgr
 * would look within queue_run_delay)
 */
static enum qb_status
pf_release_new(const struct qb_conf *qc, char *const *ids, size_t n)
{
	static const char *const kick[] = { "public", "qmgr", "D", NULL };
	enum qb_status st;

	if ((st = pf_unhold(qc, ids, n)) == QB_OK && n > 0)
		(void)pf_cmd(qc, "postkick", "-c", kick, NULL, 0, NULL);
	return st;
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

	if ((st = pf_cmd(qc, "postqueue", "-c", args, NULL, 0, &text)) ==
	    QB_OK &&
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
pf_list_held(const struct qb_conf *qc, struct strv *out)
{
	struct pfq_list l = { NULL, 0, 0 };
	enum qb_status st;
	size_t	i;

	if ((st = pf_listing(qc, &l)) != QB_OK)
		return st;
	for (i = 0; i < l.n; i++)
		if (strcmp(l.v[i].queue_name, "hold") == 0 &&
		    qid_valid(l.v[i].queue_id))
			strv_add(out, l.v[i].queue_id);
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
	return pf_cmd(qc, "postcat", "-c", args, NULL, 0, out);
}

/* pf_envelope - `postcat -q -e ID', parsed by pfq_envelope() */
static enum qb_status
pf_envelope(const struct qb_conf *qc, const char *id, struct qb_envelope *e)
{
	const char *args[] = { "-q", "-e", id, NULL };
	struct buf out = BUF_INIT;
	enum qb_status st;

	if (!qid_valid(id))
		return QB_BAD;
	if ((st = pf_cmd(qc, "postcat", "-c", args, NULL, 0, &out)) ==
	    QB_OK && pfq_envelope((char *)buf_terminate(&out), e) < 0) {
		log_warnx("%s: no sender or no recipient in its envelope", id);
		st = QB_DENY;
	}
	buf_free(&out);
	return st;
}

/* pf_mtime_add - remember one queue file */
static void
pf_mtime_add(struct pf_mtimes *mt, const char *id, int dir, time_t mtime)
{
	size_t	len = strlen(id);

	if (len >= sizeof(mt->v[0].id))
		return;		/* qid_valid() said no longer than 32 */
	if (mt->n == mt->cap) {
		mt->cap = mt->cap ? mt->cap * 2 : 64;
		mt->v = xreallocarray(mt->v, mt->cap, sizeof(*mt->v));
	}
	memcpy(mt->v[mt->n].id, id, len + 1);
	mt->v[mt->n].dir = (unsigned char)dir;
	mt->v[mt->n++].mtime = mtime;
}

/*
 * pf_scan_fail - log why the directory path (plus name, when not NULL)
 * could not be read; errno is the cause; -1
 */
static int
pf_scan_fail(const struct buf *path, const char *name)
{
	log_warn("postfix: cannot read %s%s%s",
	    path->s, name ? "/" : "", name ? name : "");
	return -1;
}

static int pf_scan(int, struct buf *, int, int, struct pf_mtimes *);

/*
 * pf_scan_sub - the subdirectory name of the directory d (path) scanned
 * in turn; -1 (logged) when it cannot be, or is deeper than PF_SCAN_DEPTH
 * below its queue
 */
static int
pf_scan_sub(DIR *d, struct buf *path, const char *name, int dir, int depth,
    struct pf_mtimes *mt)
{
	size_t	len = path->len;
	int	sub, rc;

	if (depth >= PF_SCAN_DEPTH) {
		log_warnx("postfix: cannot read %s/%s: more than %d levels of "
		    "subdirectories", path->s, name, PF_SCAN_DEPTH);
		return -1;
	}
	/* O_NONBLOCK: a FIFO must fail (ENOTDIR), not block. */
	if ((sub = openat(dirfd(d), name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_NONBLOCK | O_CLOEXEC)) < 0)
		return pf_scan_fail(path, name);
	buf_printf(path, "/%s", name);
	rc = pf_scan(sub, path, dir, depth + 1, mt);
	path->len = len;
	buf_terminate(path);
	return rc;
}

/*
 * pf_scan - queue files below an open directory (fd is consumed); path
 * names it for the log.  -1 (logged once, with the path and errno) when
 * a directory of the tree cannot be opened or read to its end, or holds
 * an entry that is neither a queue file nor a directory (a symbolic link
 * is not followed) or a directory deeper than PF_SCAN_DEPTH: what cannot
 * be seen must never look gone.  A file that vanishes between readdir
 * and fstatat moved meanwhile and is left to the second scan; a directory
 * (as readdir says) is opened whatever fstatat says, since Postfix never
 * removes one.
 */
static int
pf_scan(int fd, struct buf *path, int dir, int depth, struct pf_mtimes *mt)
{
	struct dirent *e;
	struct stat st;
	DIR	*d;
	int	rc = 0;

	if ((d = fdopendir(fd)) == NULL) {
		rc = pf_scan_fail(path, NULL);
		close(fd);
		return rc;
	}
	for (;;) {
		errno = 0;
		if ((e = readdir(d)) == NULL) {
			if (errno != 0)
				rc = pf_scan_fail(path, NULL);
			break;
		}
		if (e->d_name[0] == '.')
			continue;
		if (e->d_type == DT_DIR)
			st.st_mode = S_IFDIR;
		else if (fstatat(dirfd(d), e->d_name, &st,
		    AT_SYMLINK_NOFOLLOW) < 0) {
			if (errno == ENOENT)
				continue;
			rc = pf_scan_fail(path, e->d_name);
			break;
		}
		if (S_ISREG(st.st_mode)) {
			if (qid_valid(e->d_name))
				pf_mtime_add(mt, e->d_name, dir, st.st_mtime);
		} else if (S_ISDIR(st.st_mode)) {
			if ((rc = pf_scan_sub(d, path, e->d_name, dir, depth,
			    mt)) < 0)
				break;
		} else {
			log_warnx("postfix: cannot read %s/%s: neither a "
			    "file nor a directory", path->s, e->d_name);
			rc = -1;
			break;
		}
	}
	closedir(d);
	return rc;
}

/* pf_mtime_cmp - order by queue ID */
static int
pf_mtime_cmp(const void *a, const void *b)
{
	return strcmp(((const struct pf_mtime *)a)->id,
	    ((const struct pf_mtime *)b)->id);
}

/*
 * pf_files - the files of the queue directories in mask (1 << enum
 * pf_qdir), sorted by queue ID.  When the queue may not be read (not
 * root), *denied is set without a log line, so that the caller can ask
 * showq instead; with denied NULL that is a failure like any other.
 */
static enum qb_status
pf_files(const struct qb_conf *qc, unsigned mask, struct pf_mtimes *mt,
    int *denied)
{
	struct buf path = BUF_INIT;
	int	fd, i;

	if (denied != NULL)
		*denied = 0;
	if (qc->queue_directory == NULL) {
		log_warnx("postfix: queue_directory unknown (init failed?)");
		return QB_FAIL;
	}
	for (i = 0; i < PFQ_NDIRS; i++) {
		if (!(mask & (1u << i)))
			continue;
		buf_reset(&path);
		buf_printf(&path, "%s/%s", qc->queue_directory, pf_qdirs[i]);
		fd = open(path.s, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0 && errno == EACCES && denied != NULL) {
			*denied = 1;
			buf_free(&path);
			return QB_FAIL;
		}
		if (fd < 0)
			(void)pf_scan_fail(&path, NULL);
		if (fd < 0 || pf_scan(fd, &path, i, 0, mt) < 0) {
			buf_free(&path);
			return QB_FAIL;
		}
	}
	buf_free(&path);
	if (mt->n > 1)
		qsort(mt->v, mt->n, sizeof(*mt->v), pf_mtime_cmp);
	return QB_OK;
}

/* pf_deferred - modification times of every deferred queue file */
static enum qb_status
pf_deferred(const struct qb_conf *qc, struct pf_mtimes *mt)
{
	return pf_files(qc, 1u << PFQ_DEFERRED, mt, NULL);
}

/* pf_find - a queue ID in a sorted file list */
static const struct pf_mtime *
pf_find(const struct pf_mtimes *mt, const char *id)
{
	struct pf_mtime key;

	if (mt->n == 0 || strlen(id) >= sizeof(key.id))
		return NULL;
	memcpy(key.id, id, strlen(id) + 1);
	return bsearch(&key, mt->v, mt->n, sizeof(*mt->v), pf_mtime_cmp);
}

/* pf_deferred_state - tried and failed, or due (see DESCRIPTION) */
static enum qb_qstate
pf_deferred_state(const struct pf_mtime *f, time_t now)
{
	return f != NULL && f->mtime > now ? QS_FAILED : QS_PENDING;
}

/* pf_fill - one message's state from the listing and deferred times */
static void
pf_fill(struct qb_qinfo *qi, const struct pfq_msg *m,
    const struct pf_mtimes *mt, time_t now)
{
	size_t	i;

	qb_qinfo_free(qi, 1);
	if (m == NULL) {
		qi->state = QS_GONE;
		return;
	}
	if (strcmp(m->queue_name, "hold") == 0)
		qi->state = QS_HELD;
	else if (strcmp(m->queue_name, "deferred") != 0)
		qi->state = QS_PENDING;	/* incoming, active, maildrop */
	else
		qi->state = pf_deferred_state(pf_find(mt, qi->id), now);
	qi->rcpt = xcalloc(m->nrcpt ? m->nrcpt : 1, sizeof(char *));
	for (i = 0; i < m->nrcpt; i++)
		qi->rcpt[i] = xstrdup(m->rcpt[i]);
	qi->nrcpt = m->nrcpt;
}

/* pf_status - where each message is (see DESCRIPTION) */
static enum qb_status
pf_status(const struct qb_conf *qc, struct qb_qinfo *info, size_t n)
{
	struct pfq_list l = { NULL, 0, 0 };
	struct pf_mtimes mt = { NULL, 0, 0 };
	const struct pfq_msg *m;
	enum qb_status st;
	size_t	i;
	int	deferred = 0;

	for (i = 0; i < n; i++)
		if (!qid_valid(info[i].id))
			return QB_BAD;
	if (n == 0)
		return QB_OK;
	if ((st = pf_listing(qc, &l)) != QB_OK)
		return st;
	for (i = 0; i < n && !deferred; i++)
		if ((m = pfq_find(&l, info[i].id)) != NULL &&
		    strcmp(m->queue_name, "deferred") == 0)
			deferred = 1;
	if (deferred)
		st = pf_deferred(qc, &mt);
	if (st == QB_OK)
		for (i = 0; i < n; i++)
			pf_fill(&info[i], pfq_find(&l, info[i].id), &mt,
			    time(NULL));
	pfq_list_free(&l);
	free(mt.v);
	return st;
}


/* pf_locate - states only, from the queue directories (see DESCRIPTION) */
static enum qb_status
pf_locate(const struct qb_conf *qc, struct qb_qinfo *info, size_t n)
{
	struct pf_mtimes mt = { NULL, 0, 0 };
	const struct pf_mtime *f;
	enum qb_status st = QB_OK;
	size_t	i, missing;
	int	pass, denied = 0;
	time_t	now;

	for (i = 0; i < n; i++)
		if (!qid_valid(info[i].id))
			return QB_BAD;
	for (i = 0; i < n; i++) {
		qb_qinfo_free(&info[i], 1);
		info[i].state = QS_GONE;
	}
	/*
	 * A file that moves against the scan order while the directories
	 * are read is missed: "gone" only when a second scan does not find
	 * it either.
	 */
	for (pass = 0, missing = n; pass < 2 && missing > 0; pass++) {
		mt.n = 0;
		if ((st = pf_files(qc, (1u << PFQ_NDIRS) - 1, &mt, &denied)) !=
		    QB_OK)
			break;
		now = time(NULL);
		for (i = 0, missing = 0; i < n; i++) {
			if (info[i].state != QS_GONE)
				continue;
			if ((f = pf_find(&mt, info[i].id)) == NULL)
				missing++;
			else if (f->dir == PFQ_HOLD)
				info[i].state = QS_HELD;
			else if (f->dir == PFQ_DEFERRED)
				info[i].state = pf_deferred_state(f, now);
			else
				info[i].state = QS_PENDING;
		}
	}
	free(mt.v);
	if (denied)
		return pf_status(qc, info, n);
	return st;
}

/* pf_held_since - hold queue files written at or after since */
static enum qb_status
pf_held_since(const struct qb_conf *qc, long long since,
    struct strv *out)
{
	struct pf_mtimes mt = { NULL, 0, 0 };
	enum qb_status st;
	size_t	i;

	if ((st = pf_files(qc, 1u << PFQ_HOLD, &mt, NULL)) == QB_OK)
		for (i = 0; i < mt.n; i++)
			if ((long long)mt.v[i].mtime >= since)
				strv_add(out, mt.v[i].id);
	free(mt.v);
	return st;
}

/* pf_submit - sendmail(1) with argv: null sender allowed, one recipient */
static enum qb_status
pf_submit(const struct qb_conf *qc, const char *sender, const char *rcpt,
    const char *msg, size_t len)
{
	const char *args[] = { "-f", *sender ? sender : "<>", "-i", "--",
		rcpt, NULL };

	if (!qb_submit_ok(sender, rcpt))
		return QB_BAD;
	return pf_cmd(qc, "sendmail", "-C", args, msg, len, NULL);
}

/* pf_batch_begin - a sweep begins: its first direct read starts the
 * reader (no thread runs in the caller) */
static void
pf_batch_begin(const struct qb_conf *qc)
{
	(void)qc;
	pf_qf.batch = 1;
	pf_qf.tried = 0;
}

/*
 * pf_batch_reader - the sweep's reader, started at the first read (as
 * mail_owner; not as another user, who could not become it); NULL:
 * postcat
 */
static struct pfqf_reader *
pf_batch_reader(const struct qb_conf *qc)
{
	if (pf_qf.rd != NULL || !pf_qf.batch || pf_qf.tried)
		return pf_qf.rd;
	pf_qf.tried = 1;
	if (qc->queue_directory == NULL || pf_qf.owner == NULL ||
	    geteuid() != 0)
		return NULL;
	if ((pf_qf.rd = pfqf_reader_start(qc->queue_directory, pf_qf.owner,
	    pf_qf.hash_queues, pf_qf.depth)) == NULL)
		log_warnx("postfix: queue file reader not started; headers "
		    "are read with postcat");
	return pf_qf.rd;
}

/* pf_batch_end - stop the sweep's reader */
static void
pf_batch_end(const struct qb_conf *qc)
{
	(void)qc;
	pfqf_reader_stop(pf_qf.rd);
	pf_qf.rd = NULL;
	pf_qf.batch = 0;
}

/*
 * pf_read_queued - the headers of a message in state: from the hold
 * queue file through the batch's reader; postcat when there is no
 * reader, for another state, and when the reader is in doubt.  No such
 * file: QB_FAIL, as postcat's failure is
 */
static enum qb_status
pf_read_queued(const struct qb_conf *qc, const char *id,
    enum qb_qstate state, struct buf *out)
{
	int	st;

	if (state != QS_HELD || pf_batch_reader(qc) == NULL)
		return pf_read(qc, id, QB_READ_HEADERS, out);
	switch (st = pfqf_reader_headers(pf_qf.rd, "hold", id, out)) {
	case PFQF_OK:
		return QB_OK;
	case PFQF_GONE:
		log_debug("%s: no file in the hold queue", id);
		return QB_FAIL;
	default:
		log_debug("%s: queue file reader %s: postcat", id,
		    pfqf_status_name(st));
		buf_reset(out);
		return pf_read(qc, id, QB_READ_HEADERS, out);
	}
}

const struct qb_backend qb_postfix = {
	.name = "postfix",
	.release = pf_release,
	.remove = pf_remove,
	.release_new = pf_release_new,
	.list_held = pf_list_held,
	.read = pf_read,
	.init = pf_init,
	.rehold = pf_rehold,
	.status = pf_status,
	.locate = pf_locate,
	.held_since = pf_held_since,
	.submit = pf_submit,
	.envelope = pf_envelope,
	.batch_begin = pf_batch_begin,
	.batch_end = pf_batch_end,
	.read_queued = pf_read_queued,
};
