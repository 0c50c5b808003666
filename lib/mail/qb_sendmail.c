/*
 * NAME
 *	qb_sendmail - the Sendmail queue backend
 * DESCRIPTION
 *	etrn-milter quarantines a held message (smfi_quarantine): Sendmail
 *	renames its control file from qfID to hfID and leaves it out of
 *	every queue run but those asked for with -qQ.  This backend works
 *	on that queue directory:
 *	init: the queue directory is sendmail_queue_directory or the
 *	QueueDirectory option of the .cf (sendmail_config_file, else
 *	/etc/mail/sendmail.cf); the queue lifetime is Timeout.queuereturn
 *	(5 days when the .cf does not set it).  A queue directory with
 *	subdirectories qf/, df/ and xf/ (directories or links to them) is
 *	understood, the layout found at init kept; several queue
 *	directories (queue groups, QueueDirectory=.../q*) are not.
 *	release: `sendmail -qQ -qIID... -Q` takes the items out of
 *	quarantine (hf back to qf), then `sendmail -qIID...` runs them at
 *	once, in the foreground; up to SM_BATCH IDs a command.
 *	rehold: `sendmail -qIID... -Q"reason"` quarantines again.
 *	remove: the hf file is opened and locked the way Sendmail locks a
 *	queue file it works on, without waiting: flock (Debian's build)
 *	and an fcntl lock as well (builds with HASFLOCK 0).  Still the same
 *	file once locked, it is unlinked, then its df and xf files.  A
 *	locked item (a queue run has it) is left for the next attempt, an
 *	item not in quarantine is never touched.
 *	list_held: the hf files; held_since: those written since a time.
 *	read: the H lines of the control file (hf, or qf once released) as
 *	"Name: value" lines; for the whole message followed by an empty
 *	line and the df file.
 *	envelope: the control file's S, Z, F, Q and R lines (smqueue.c); the
 *	size is the queued message's (df file and headers), which includes
 *	the headers Sendmail adds after the milter saw the message.
 *	status and locate: hf file present: held; neither hf nor qf, in
 *	two looks (quarantining writes the new file before it unlinks the
 *	old one): gone; a qf file that was tried (N) and whose last attempt
 *	(K) is not older than the file: failed (Sendmail rewrites the file
 *	right after an attempt; releasing does not change K); any other qf:
 *	pending.  status adds the recipients (R).  A read problem is never
 *	"gone": a control file that cannot be opened for another reason
 *	than ENOENT, or not found in a directory that then cannot be opened
 *	and read, fails the call; so does a list_held or held_since whose
 *	directory read ends in an error.
 *	submit: `sendmail -odb -oi -f SENDER -- RCPT` (sender "<>" for the
 *	null sender), the message on stdin.
 *	Every command gets `-C sendmail_config_file` when that is set.
 * SECURITY
 *	Every queue ID passes smq_qid_valid() first: whole Sendmail IDs
 *	only, since -qI matches substrings.  Files are opened with
 *	O_NOFOLLOW below the configured queue directory.  Commands are
 *	exec'd with argv, never through a shell.
 * DIAGNOSTICS
 *	QB_FAIL (logged) when a command cannot run, fails or times out, a
 *	queue file cannot be read or does not parse, or an item to delete
 *	is locked; QB_DENY when an item to delete is not in quarantine;
 *	QB_BAD for an invalid queue ID.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/file.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mail/qbackend.h"
#include "mail/smqueue.h"
#include "util/log.h"
#include "util/xalloc.h"

#define SM_BATCH	50	/* queue IDs per sendmail command */
#define SM_DEFAULT_CF	"/etc/mail/sendmail.cf"
#define SM_REHOLD_REASON "held for ETRN (not taken)"

/* sm_command - the sendmail binary */
static const char *
sm_command(const struct qb_conf *qc)
{
	return qc->sendmail_command && *qc->sendmail_command ?
	    qc->sendmail_command : "/usr/sbin/sendmail";
}

/* sm_cf - the .cf file given with -C, "" for Sendmail's own default */
static const char *
sm_cf(const struct qb_conf *qc)
{
	return qc->sendmail_config_file ? qc->sendmail_config_file : "";
}

/* sm_cmd - run "sendmail [-C cf] args..." */
static enum qb_status
sm_cmd(const struct qb_conf *qc, const char *const *args, size_t nargs,
    const char *in, size_t inlen, struct buf *out)
{
	const char **argv = xcalloc(nargs + 4, sizeof(char *));
	struct buf what = BUF_INIT;
	enum qb_status st;
	size_t	n = 0, i;

	argv[n++] = sm_command(qc);
	if (*sm_cf(qc)) {
		argv[n++] = "-C";
		argv[n++] = sm_cf(qc);
	}
	for (i = 0; i < nargs; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	buf_printf(&what, "%s %s", argv[0], nargs ? args[0] : "");
	st = qb_run(argv, buf_terminate(&what), in, inlen, out, qc->timeout);
	buf_free(&what);
	free(argv);
	return st;
}

/*
 * sm_batch - run sendmail with first, "-qIID" for up to SM_BATCH IDs,
 * then last (NULL: none), for all n IDs
 */
static enum qb_status
sm_batch(const struct qb_conf *qc, const char *first, char *const *ids,
    size_t n, const char *last)
{
	const char *args[SM_BATCH + 2];
	struct buf opt[SM_BATCH];
	enum qb_status st = QB_OK;
	size_t	i, b, k, m;

	for (i = 0; i < n; i++)
		if (!smq_qid_valid(ids[i]))
			return QB_BAD;
	for (i = 0; i < SM_BATCH; i++)
		buf_init(&opt[i]);
	for (b = 0; b < n && st == QB_OK; b += m) {
		m = n - b < SM_BATCH ? n - b : SM_BATCH;
		k = 0;
		if (first != NULL)
			args[k++] = first;
		for (i = 0; i < m; i++) {
			buf_reset(&opt[i]);
			buf_printf(&opt[i], "-qI%s", ids[b + i]);
			args[k++] = opt[i].s;
		}
		if (last != NULL)
			args[k++] = last;
		st = sm_cmd(qc, args, k, NULL, 0, NULL);
	}
	for (i = 0; i < SM_BATCH; i++)
		buf_free(&opt[i]);
	return st;
}

/* sm_release - out of quarantine, then one queue run for them */
static enum qb_status
sm_release(const struct qb_conf *qc, char *const *ids, size_t n)
{
	enum qb_status st;

	if ((st = sm_batch(qc, "-qQ", ids, n, "-Q")) != QB_OK)
		return st;
	return sm_batch(qc, NULL, ids, n, NULL);
}

/* sm_rehold - quarantine again */
static enum qb_status
sm_rehold(const struct qb_conf *qc, char *const *ids, size_t n)
{
	return sm_batch(qc, NULL, ids, n, "-Q" SM_REHOLD_REASON);
}

/*
 * sm_read_file - append a whole file below the queue directory, and its
 * modification time when mtime is not NULL; -1 with errno set
 */
static int
sm_read_file(const char *path, struct buf *out, time_t *mtime)
{
	char	chunk[8192];
	struct stat st;
	ssize_t	got;
	int	fd;

	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0)
		return -1;
	if (mtime != NULL) {
		if (fstat(fd, &st) < 0) {
			close(fd);
			return -1;
		}
		*mtime = st.st_mtime;
	}
	while ((got = read(fd, chunk, sizeof(chunk))) != 0) {
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0 || out->len + (size_t)got > SMQ_MAX_FILE) {
			if (got >= 0)
				errno = EFBIG;
			close(fd);
			return -1;
		}
		buf_add(out, chunk, (size_t)got);
	}
	close(fd);
	return 0;
}

/* sm_is_dir - a directory (Sendmail allows qf/ and co. to be links) */
static int
sm_is_dir(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* sm_subdir_bit - the bit of sendmail_subdirs for a kind of file */
static unsigned
sm_subdir_bit(char kind)
{
	return 1u << ((kind == 'h' ? 'q' : kind) - 'a');
}

/*
 * sm_path - the file "<kind>fID": in <qd>/<kind>f/ when Sendmail keeps
 * such files in a subdirectory (kind 'h' lives with 'q'), else in <qd>;
 * the layout is the one init found, so that a subdirectory that cannot
 * be read later is an error, not an empty queue
 */
static void
sm_path(const struct qb_conf *qc, char kind, const char *id, struct buf *p)
{
	buf_reset(p);
	buf_cat(p, qc->queue_directory);
	if (qc->sendmail_subdirs & sm_subdir_bit(kind))
		buf_printf(p, "/%cf", kind == 'h' ? 'q' : kind);
	if (id != NULL)
		buf_printf(p, "/%cf%s", kind, id);
	buf_terminate(p);
}

/*
 * sm_dir_readable - the directory of the control files opens and reads:
 * only then is a control file not found there gone; -1 logged
 */
static int
sm_dir_readable(const struct qb_conf *qc)
{
	struct buf dir = BUF_INIT;
	DIR	*d;
	int	rc = 0;

	sm_path(qc, 'q', NULL, &dir);
	errno = 0;
	if ((d = opendir(dir.s)) == NULL || (readdir(d) == NULL &&
	    errno != 0)) {
		log_warn("sendmail: cannot read %s", dir.s);
		rc = -1;
	}
	if (d != NULL)
		closedir(d);
	buf_free(&dir);
	return rc;
}

/* sm_init - queue directory and lifetime (see DESCRIPTION) */
static enum qb_status
sm_init(struct qb_conf *qc)
{
	const char *cf = *sm_cf(qc) ? sm_cf(qc) : SM_DEFAULT_CF, *why;
	const char *qdir = qc->sendmail_queue_directory;
	struct buf text = BUF_INIT, dir = BUF_INIT;
	const char *kinds = "qdx", *kind;
	long long life;

	if (qdir == NULL)
		qdir = "";
	if (access(sm_command(qc), X_OK) < 0) {
		log_warn("sendmail: cannot run %s", sm_command(qc));
		return QB_FAIL;
	}
	if (sm_read_file(cf, &text, NULL) < 0) {
		log_warn("sendmail: cannot read %s", cf);
		buf_free(&text);
		return QB_FAIL;
	}
	if (smq_cf_parse(text.s ? text.s : "", text.len, &dir, &life,
	    &why) < 0 && *qdir == '\0') {
		log_warnx("sendmail: %s: %s", cf, why);
		buf_free(&text);
		buf_free(&dir);
		return QB_FAIL;
	}
	buf_free(&text);
	free(qc->queue_directory);
	qc->queue_directory = xstrdup(*qdir ? qdir : buf_terminate(&dir));
	qc->max_lifetime = life;
	if (!sm_is_dir(qc->queue_directory)) {
		log_warnx("sendmail: queue directory %s is not a directory",
		    qc->queue_directory);
		buf_free(&dir);
		return QB_FAIL;
	}
	qc->sendmail_subdirs = 0;
	for (kind = kinds; *kind; kind++) {
		buf_reset(&dir);
		buf_printf(&dir, "%s/%cf", qc->queue_directory, *kind);
		if (sm_is_dir(buf_terminate(&dir)))
			qc->sendmail_subdirs |= sm_subdir_bit(*kind);
	}
	buf_free(&dir);
	return QB_OK;
}

/* sm_lock - lock an open queue file as Sendmail does, without waiting */
static int
sm_lock(int fd)
{
	struct flock fl;

	if (flock(fd, LOCK_EX | LOCK_NB) < 0)
		return -1;
	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	return fcntl(fd, F_SETLK, &fl);
}

/* sm_remove_one - delete one quarantined item (see DESCRIPTION) */
static enum qb_status
sm_remove_one(const struct qb_conf *qc, const char *id)
{
	struct buf path = BUF_INIT;
	struct stat fst, pst;
	enum qb_status st = QB_OK;
	const char kinds[] = { 'd', 'x' };
	size_t	i;
	int	fd;

	sm_path(qc, 'h', id, &path);
	if ((fd = open(path.s, O_RDWR | O_NOFOLLOW | O_CLOEXEC)) < 0) {
		if (errno != ENOENT)
			log_warn("sendmail: %s: cannot open %s", id, path.s);
		buf_free(&path);
		return errno == ENOENT ? QB_DENY : QB_FAIL;
	}
	if (sm_lock(fd) < 0) {
		log_warnx("%s: locked by a queue run, not deleted now", id);
		st = QB_FAIL;
	} else if (fstat(fd, &fst) < 0 || lstat(path.s, &pst) < 0 ||
	    fst.st_ino != pst.st_ino || fst.st_dev != pst.st_dev ||
	    fst.st_nlink == 0) {
		st = QB_DENY;	/* released or deleted before we locked it */
	} else if (unlink(path.s) < 0) {
		log_warn("sendmail: cannot delete %s", path.s);
		st = QB_FAIL;
	} else
		for (i = 0; i < sizeof(kinds); i++) {
			sm_path(qc, kinds[i], id, &path);
			if (unlink(path.s) < 0 && errno != ENOENT)
				log_warn("sendmail: cannot delete %s", path.s);
		}
	close(fd);
	buf_free(&path);
	return st;
}

/* sm_remove - delete quarantined items only; the worst outcome */
static enum qb_status
sm_remove(const struct qb_conf *qc, char *const *ids, size_t n)
{
	enum qb_status st = QB_OK, one;
	size_t	i;

	for (i = 0; i < n; i++)
		if (!smq_qid_valid(ids[i]))
			return QB_BAD;
	if (n > 0 && qc->queue_directory == NULL)
		return QB_FAIL;
	for (i = 0; i < n; i++)
		if ((one = sm_remove_one(qc, ids[i])) == QB_FAIL ||
		    (one == QB_DENY && st == QB_OK))
			st = one;
	return st;
}

/* sm_scan - hf files (written at or after since) into out */
static enum qb_status
sm_scan(const struct qb_conf *qc, long long since, struct strv *out)
{
	struct buf dir = BUF_INIT;
	struct dirent *e;
	struct stat st;
	DIR	*d;
	int	err;

	if (qc->queue_directory == NULL)
		return QB_FAIL;
	sm_path(qc, 'q', NULL, &dir);
	if ((d = opendir(dir.s)) == NULL) {
		log_warn("sendmail: cannot read %s", dir.s);
		buf_free(&dir);
		return QB_FAIL;
	}
	for (;;) {
		errno = 0;
		if ((e = readdir(d)) == NULL)
			break;
		if (e->d_name[0] != 'h' || e->d_name[1] != 'f' ||
		    !smq_qid_valid(e->d_name + 2))
			continue;
		if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) <
		    0) {
			if (errno == ENOENT)	/* released meanwhile */
				continue;
			break;
		}
		if (S_ISREG(st.st_mode) && (long long)st.st_mtime >= since)
			strv_add(out, e->d_name + 2);
	}
	if ((err = errno) != 0)
		log_warn("sendmail: cannot read %s%s%s", dir.s, e ? "/" : "",
		    e ? e->d_name : "");
	closedir(d);
	buf_free(&dir);
	return err != 0 ? QB_FAIL : QB_OK;
}

/* sm_list_held - every quarantined item */
static enum qb_status
sm_list_held(const struct qb_conf *qc, struct strv *out)
{
	return sm_scan(qc, -1, out);
}

/* sm_held_since - quarantined items written at or after since */
static enum qb_status
sm_held_since(const struct qb_conf *qc, long long since,
    struct strv *out)
{
	return sm_scan(qc, since, out);
}

/*
 * sm_control - read and parse the control file of id: 'h' or 'q' into
 * *kind, 0 if there is none (hf, then qf, twice: see DESCRIPTION);
 * QB_DENY when it does not parse (it may have been replaced meanwhile);
 * hdrs may be NULL
 */
static enum qb_status
sm_control(const struct qb_conf *qc, const char *id, char *kind,
    struct smq_qf *qf, struct buf *hdrs, time_t *mtime)
{
	static const char kinds[] = { 'h', 'q', 'h', 'q' };
	struct buf path = BUF_INIT, text = BUF_INIT;
	enum qb_status st = QB_OK;
	const char *why;
	size_t	i;

	memset(qf, 0, sizeof(*qf));
	*kind = 0;
	for (i = 0; i < sizeof(kinds); i++) {
		sm_path(qc, kinds[i], id, &path);
		if (sm_read_file(path.s, &text, mtime) == 0)
			break;
		if (errno != ENOENT) {
			log_warn("sendmail: cannot read %s", path.s);
			st = QB_FAIL;
			break;
		}
		buf_reset(&text);
	}
	if (st == QB_OK && i == sizeof(kinds) && sm_dir_readable(qc) < 0)
		st = QB_FAIL;	/* not found where nothing can be found */
	if (st == QB_OK && i < sizeof(kinds)) {
		if (smq_qf_parse(text.s ? text.s : "", text.len, qf, hdrs,
		    &why) < 0) {
			smq_qf_free(qf);
			if (hdrs != NULL)
				buf_reset(hdrs);
			st = QB_DENY;
		} else
			*kind = kinds[i];
	}
	buf_free(&path);
	buf_free(&text);
	return st;
}

/* sm_find - sm_control, once more when a file moved while it was read */
static enum qb_status
sm_find(const struct qb_conf *qc, const char *id, char *kind,
    struct smq_qf *qf, struct buf *hdrs, time_t *mtime)
{
	enum qb_status st;
	int	try;

	if (qc->queue_directory == NULL) {
		log_warnx("sendmail: queue directory unknown (init failed?)");
		return QB_FAIL;
	}
	for (try = 0; try < 3; try++)
		if ((st = sm_control(qc, id, kind, qf, hdrs, mtime)) !=
		    QB_DENY)
			return st;
	log_warnx("%s: sendmail: control file does not parse", id);
	return QB_FAIL;
}

/* sm_read - headers, or headers, an empty line and the body */
static enum qb_status
sm_read(const struct qb_conf *qc, const char *id, enum qb_read what,
    struct buf *out)
{
	struct buf path = BUF_INIT;
	struct smq_qf qf;
	enum qb_status st;
	time_t	mtime;
	char	kind;

	if (!smq_qid_valid(id))
		return QB_BAD;
	if ((st = sm_find(qc, id, &kind, &qf, out, &mtime)) != QB_OK)
		return st;
	smq_qf_free(&qf);
	if (kind == 0)
		return QB_DENY;
	if (what == QB_READ_FULL) {
		buf_addch(out, '\n');
		sm_path(qc, 'd', id, &path);
		if (sm_read_file(path.s, out, NULL) < 0) {
			log_warn("sendmail: cannot read %s", path.s);
			st = QB_FAIL;
		}
		buf_free(&path);
	}
	return st;
}

/* sm_state - the state of one item from its control file */
static enum qb_qstate
sm_state(char kind, const struct smq_qf *qf, time_t mtime)
{
	if (kind == 0)
		return QS_GONE;
	if (kind == 'h')
		return QS_HELD;
	return qf->ntries > 0 && qf->lasttry >= (long long)mtime - 1 ?
	    QS_FAILED : QS_PENDING;
}

/* sm_states - state (and with rcpt set, recipients) of each message */
static enum qb_status
sm_states(const struct qb_conf *qc, struct qb_qinfo *info, size_t n,
    int rcpt)
{
	struct smq_qf qf;
	enum qb_status st;
	size_t	i, j;
	time_t	mtime = 0;
	char	kind;

	for (i = 0; i < n; i++)
		if (!smq_qid_valid(info[i].id))
			return QB_BAD;
	for (i = 0; i < n; i++) {
		qb_qinfo_free(&info[i], 1);
		if ((st = sm_find(qc, info[i].id, &kind, &qf, NULL, &mtime)) !=
		    QB_OK)
			return st;
		info[i].state = sm_state(kind, &qf, mtime);
		if (rcpt && kind != 0) {
			info[i].rcpt = xcalloc(qf.nrcpt ? qf.nrcpt : 1,
			    sizeof(char *));
			for (j = 0; j < qf.nrcpt; j++)
				info[i].rcpt[j] = xstrdup(qf.rcpt[j]);
			info[i].nrcpt = qf.nrcpt;
		}
		smq_qf_free(&qf);
	}
	return QB_OK;
}

/* sm_status - states and recipients */
static enum qb_status
sm_status(const struct qb_conf *qc, struct qb_qinfo *info, size_t n)
{
	return sm_states(qc, info, n, 1);
}

/* sm_locate - states only */
static enum qb_status
sm_locate(const struct qb_conf *qc, struct qb_qinfo *info, size_t n)
{
	return sm_states(qc, info, n, 0);
}

/*
 * sm_envelope - from the control file; the size is the data file's and
 * the headers', each header line counted with CRLF
 */
static enum qb_status
sm_envelope(const struct qb_conf *qc, const char *id, struct qb_envelope *e)
{
	struct buf hdrs = BUF_INIT, path = BUF_INIT;
	struct smq_qf qf;
	struct stat sb;
	enum qb_status st;
	long long size = 0;
	time_t	mtime;
	size_t	i;
	char	kind;

	if (!smq_qid_valid(id))
		return QB_BAD;
	if ((st = sm_find(qc, id, &kind, &qf, &hdrs, &mtime)) != QB_OK)
		return st;
	if (kind == 0)
		st = QB_DENY;
	else {
		sm_path(qc, 'd', id, &path);
		if (stat(path.s, &sb) == 0)
			size = (long long)sb.st_size;
		for (i = 0; i < hdrs.len; i++)
			size += hdrs.s[i] == '\n' ? 2 : 1;
		if (smq_qf_envelope(&qf, size + 2, e) < 0) {
			log_warnx("%s: sendmail: no sender or no recipient in "
			    "its control file", id);
			st = QB_DENY;
		}
	}
	smq_qf_free(&qf);
	buf_free(&hdrs);
	buf_free(&path);
	return st;
}

/* sm_submit - a new message (a DSN) through sendmail, argv only */
static enum qb_status
sm_submit(const struct qb_conf *qc, const char *sender, const char *rcpt,
    const char *msg, size_t len)
{
	const char *args[] = { "-odb", "-oi", "-f", *sender ? sender : "<>",
		"--", rcpt };

	if (!qb_submit_ok(sender, rcpt))
		return QB_BAD;
	return sm_cmd(qc, args, sizeof(args) / sizeof(args[0]), msg, len,
	    NULL);
}

const struct qb_backend qb_sendmail = {
	.name = "sendmail",
	.release = sm_release,
	.remove = sm_remove,
	.list_held = sm_list_held,
	.read = sm_read,
	.init = sm_init,
	.rehold = sm_rehold,
	.status = sm_status,
	.locate = sm_locate,
	.held_since = sm_held_since,
	.submit = sm_submit,
	.envelope = sm_envelope,
};
