/*
 * test_smqueue - Sendmail queue control files, sendmail.cf options, time
 * values and queue IDs (smqueue.c), on text shaped like Sendmail 8.17's;
 * then the sendmail backend's file operations (init, locate, list_held,
 * read, remove and its locking) on a queue directory made here.  Commands
 * (release, rehold, submit) are tested against a real Sendmail in
 * tests/sendmail/t-sendmail.sh.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <utime.h>

#include "mail/qbackend.h"
#include "mail/smqueue.h"
#include "util/buf.h"
#include "failreaddir.h"
#include "tap.h"

/* A quarantined item as Sendmail 8.17 writes it (hf file). */
static const char qf_held[] =
	"V8\n"
	"T1795458310\n"
	"K0\n"
	"N0\n"
	"P30330\n"
	"I8/1/262274\n"
	"qheld for ETRN by dialup.test\n"
	"MDeferred\n"
	"Fbs\n"
	"$_localhost [127.0.0.1]\n"
	"$rESMTP\n"
	"${daemon_flags}\n"
	"S<s@example.org>\n"
	"MDSN: RET=HDRS\n"
	"rRFC822; u@dialup.test\n"
	"RPFD:u@dialup.test\n"
	"RPF:<v@dialup.test>\n"
	"H?P?Return-Path: <\201g>\n"
	"H??Received: from x (localhost [127.0.0.1])\n"
	"\tby mx.lab.test (8.17.1.9/8.17.1.9) with ESMTP id 6AN5tWjV014046\n"
	"\tfor <u@dialup.test>; Sat, 28 Nov 2026 23:00:00 GMT\n"
	"H??Subject: a test\n"
	"H?D?Date: Sat, 28 Nov 2026 23:00:00 +0000\n"
	"H?${MailFrom}?X-Cond: kept\n"
	"H??X-ETRN-Hold: dialup.test; host=mx.lab.test;\n"
	"\ttoken=0123456789abcdef0123456789abcdef;\n"
	"\tarrived=1795458310; expires=1795890310\n"
	".\n";

static const char hdrs_want[] =
	"Received: from x (localhost [127.0.0.1])\n"
	"\tby mx.lab.test (8.17.1.9/8.17.1.9) with ESMTP id 6AN5tWjV014046\n"
	"\tfor <u@dialup.test>; Sat, 28 Nov 2026 23:00:00 GMT\n"
	"Subject: a test\n"
	"Date: Sat, 28 Nov 2026 23:00:00 +0000\n"
	"X-Cond: kept\n"
	"X-ETRN-Hold: dialup.test; host=mx.lab.test;\n"
	"\ttoken=0123456789abcdef0123456789abcdef;\n"
	"\tarrived=1795458310; expires=1795890310\n";

/* test_qf - one complete control file */
static void
test_qf(void)
{
	struct smq_qf qf;
	struct buf h = BUF_INIT;
	const char *why;

	CHECK_INT(smq_qf_parse(qf_held, sizeof(qf_held) - 1, &qf, &h, &why),
	    0, "parse");
	CHECK_INT(qf.ctime, 1795458310, "T");
	CHECK_INT(qf.lasttry, 0, "K");
	CHECK_INT(qf.ntries, 0, "N");
	CHECK_INT(qf.quarantined, 1, "q");
	CHECK_INT(qf.nrcpt, 2, "R lines");
	if (qf.nrcpt == 2) {
		CHECK_STR(qf.rcpt[0], "u@dialup.test", "R 1");
		CHECK_STR(qf.rcpt[1], "v@dialup.test", "R 2 (without its <>)");
	}
	CHECK_STR(buf_terminate(&h), hdrs_want, "headers");
	smq_qf_free(&qf);
	buf_free(&h);
}

/* An item with DSN parameters: ENVID, RET=HDRS, NOTIFY and ORCPT. */
static const char qf_dsn[] =
	"V8\n"
	"T1795458310\n"
	"qheld for ETRN by dialup.test\n"
	"Fbdn\n"
	"S<>\n"
	"Zabc+2Bdef\n"
	"Qrfc822;orig+2Bx@dialup.test\n"
	"RPNSF:<u@dialup.test>\n"
	"RPN:v@dialup.test\n"
	"RPFD:w@dialup.test\n"
	"H??Subject: a\n"
	".\n";

/* test_envelope - the envelope as etrn-milter records it */
static void
test_envelope(void)
{
	struct qb_envelope e;
	struct smq_qf qf;
	const char *why;

	memset(&e, 0, sizeof(e));
	CHECK_INT(smq_qf_parse(qf_dsn, sizeof(qf_dsn) - 1, &qf, NULL, &why),
	    0, "parse with DSN lines");
	CHECK_INT(smq_qf_envelope(&qf, 1234, &e), 0, "envelope");
	CHECK_STR(e.sender.s, "", "S<>: the null sender");
	CHECK_STR(e.envid.s, "abc+2Bdef", "Z: ENVID kept as xtext");
	CHECK_STR(e.ret, "HDRS", "F d and n: RET=HDRS");
	CHECK_INT(e.size, 1234, "size");
	CHECK_INT(e.nrcpt, 3, "three recipients");
	CHECK_STR(e.rcpts.s,
	    "u@dialup.test\tSUCCESS,FAILURE\trfc822;orig+2Bx@dialup.test\n"
	    "v@dialup.test\tNEVER\t\n"
	    "w@dialup.test\t\t\n", "recipients: NOTIFY, ORCPT of the Q line");
	qb_env_free(&e);
	smq_qf_free(&qf);

	memset(&e, 0, sizeof(e));
	CHECK_INT(smq_qf_parse(qf_held, sizeof(qf_held) - 1, &qf, NULL, &why),
	    0, "parse without DSN lines");
	CHECK_INT(smq_qf_envelope(&qf, 1, &e), 0, "envelope");
	CHECK_STR(e.sender.s, "s@example.org", "S<s@example.org>");
	CHECK_STR(e.ret, "", "no F d: no RET");
	CHECK_STR(e.envid.s, "", "no Z: no ENVID");
	qb_env_free(&e);
	smq_qf_free(&qf);

	memset(&e, 0, sizeof(e));
	CHECK_INT(smq_qf_parse("V8\nRPF:a@b\n.\n", 13, &qf, NULL, &why), 0,
	    "parse without S");
	CHECK_INT(smq_qf_envelope(&qf, 1, &e), -1, "no sender: no envelope");
	qb_env_free(&e);
	smq_qf_free(&qf);
}

/* Control files that must not be used. */
static const struct {
	const char *text, *why;
} bad_qf[] = {
	{ "V8\nT1\nH??Subject: x\n", "no closing \".\" line" },
	{ "V8\nT1\n.", "last line not complete" },
	{ "T1\n.\n", "no V line" },
	{ "V8\nH?P\n.\n", "bad header line" },
	{ "V8\nHno colon\n.\n", "bad header line" },
	{ "V8\nH??: empty name\n.\n", "bad header line" },
	{ "", "no closing \".\" line" },
};

/* test_qf_bad - incomplete or odd files are refused with a reason */
static void
test_qf_bad(void)
{
	struct smq_qf qf;
	struct buf h = BUF_INIT;
	const char *why;
	size_t	i;

	for (i = 0; i < sizeof(bad_qf) / sizeof(bad_qf[0]); i++) {
		buf_reset(&h);
		CHECK_INT(smq_qf_parse(bad_qf[i].text, strlen(bad_qf[i].text),
		    &qf, &h, &why), -1, bad_qf[i].text);
		CHECK_STR(why ? why : "(null)", bad_qf[i].why, bad_qf[i].text);
		smq_qf_free(&qf);
	}
	/* A released item after a failed attempt: no q line, K and N set. */
	CHECK_INT(smq_qf_parse("V8\nK1795458400\nN2\n.\n", 20, &qf, NULL,
	    &why), 0, "no headers wanted");
	CHECK_INT(qf.quarantined, 0, "released");
	CHECK_INT(qf.lasttry, 1795458400, "K");
	CHECK_INT(qf.ntries, 2, "N");
	smq_qf_free(&qf);
	buf_free(&h);
}

static const struct {
	const char *v;
	int	def;
	long long want;
} times[] = {
	{ "5d", 'd', 5 * 86400 }, { "4h", 'd', 4 * 3600 },
	{ "1d12h", 'd', 86400 + 12 * 3600 }, { "90", 'm', 90 * 60 },
	{ "2w", 'd', 14 * 86400 }, { "30s", 'd', 30 }, { "", 'd', -1 },
	{ "5x", 'd', -1 }, { "d", 'd', -1 }, { "-5d", 'd', -1 },
	{ "999999999999d", 'd', -1 },
};

/* test_time - Sendmail time values */
static void
test_time(void)
{
	size_t	i;

	for (i = 0; i < sizeof(times) / sizeof(times[0]); i++)
		CHECK_INT(smq_time(times[i].v, times[i].def), times[i].want,
		    times[i].v);
}

static const struct {
	const char *cf, *qdir, *why;
	long long life;
} cfs[] = {
	{ "# comment\nO QueueDirectory=/var/spool/mqueue\n"
	    "O Timeout.queuereturn=3d\n", "/var/spool/mqueue", NULL,
	    3 * 86400 },
	{ "O QueueDirectory = /q/x  \nO Timeout.queuereturn.normal=1w\n",
	    "/q/x", NULL, 7 * 86400 },
	{ "OQ/old/style\n", "/old/style", NULL, 5 * 86400 },
	{ "O Timeout.queuereturn=5d\n", "", "no QueueDirectory option",
	    5 * 86400 },
	{ "O QueueDirectory=relative\n", "", "QueueDirectory is not an "
	    "absolute path", 0 },
	{ "O QueueDirectory=/var/spool/mqueue/q*\n", "",
	    "several queue directories (a * in QueueDirectory) are not "
	    "supported", 0 },
	{ "O QueueDirectoryX=/a\nO QueueDirectory=/b\n", "/b", NULL,
	    5 * 86400 },
};

/* test_cf - QueueDirectory and Timeout.queuereturn from a .cf */
static void
test_cf(void)
{
	struct buf q = BUF_INIT;
	const char *why;
	long long life;
	size_t	i;
	int	rc;

	for (i = 0; i < sizeof(cfs) / sizeof(cfs[0]); i++) {
		buf_reset(&q);
		rc = smq_cf_parse(cfs[i].cf, strlen(cfs[i].cf), &q, &life,
		    &why);
		if (cfs[i].why == NULL) {
			CHECK_INT(rc, 0, cfs[i].cf);
			CHECK_STR(buf_terminate(&q), cfs[i].qdir, cfs[i].cf);
			CHECK_INT(life, cfs[i].life, cfs[i].cf);
		} else {
			CHECK_INT(rc, -1, cfs[i].cf);
			CHECK_STR(why ? why : "(null)", cfs[i].why, cfs[i].cf);
		}
	}
	buf_free(&q);
}

static const struct {
	const char *id;
	int	ok;
} qids[] = {
	{ "6AN5tWjV014046", 1 }, { "6AN5tWjV1014046", 1 },
	{ "6AN5tWjV01404", 0 },		/* too short: -qI would match more */
	{ "00001", 0 }, { "6AN5tWjV01404x", 0 }, { "-qQ", 0 },
	{ "6AN5tWjV014046/", 0 }, { "../5tWjV014046", 0 }, { "", 0 },
	{ "6AN5tWjV014046123456789", 0 },
};

/* test_qid - whole Sendmail queue IDs only */
static void
test_qid(void)
{
	size_t	i;

	for (i = 0; i < sizeof(qids) / sizeof(qids[0]); i++)
		CHECK_INT(smq_qid_valid(qids[i].id), qids[i].ok, qids[i].id);
}

#define ID_HELD	"6AN5tWjV014046"
#define ID_FAILED	"6AN5tWjV014047"
#define ID_PENDING	"6AN5tWjV014048"
#define ID_GONE		"6AN5tWjV014049"

/* put - write a file below dir */
static void
put(const char *dir, const char *name, const char *text)
{
	char	path[512];
	FILE	*fp;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((fp = fopen(path, "w")) == NULL) {
		perror(path);
		exit(2);
	}
	fputs(text, fp);
	fclose(fp);
}

/* exists - a file below dir */
static int
exists(const char *dir, const char *name)
{
	char	path[512];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return lstat(path, &st) == 0;
}

/*
 * locker - a child that holds a lock on dir/name (kind 'f': flock, 'p':
 * fcntl) until killed; returns its PID once the lock is held
 */
static pid_t
locker(const char *dir, const char *name, int kind)
{
	char	path[512], c;
	struct flock fl;
	int	p[2], fd;
	pid_t	pid;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (pipe(p) < 0 || (pid = fork()) < 0)
		exit(2);
	if (pid == 0) {
		close(p[0]);
		if ((fd = open(path, O_RDWR)) < 0)
			_exit(1);
		memset(&fl, 0, sizeof(fl));
		fl.l_type = F_WRLCK;
		if (kind == 'f' ? flock(fd, LOCK_EX) : fcntl(fd, F_SETLKW, &fl))
			_exit(1);
		if (write(p[1], "x", 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	close(p[1]);
	if (read(p[0], &c, 1) != 1)
		exit(2);
	close(p[0]);
	return pid;
}

/* unlock - end a locker */
static void
unlock(pid_t pid)
{
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

/* test_backend - file operations on a made-up queue directory */
static void
test_backend(void)
{
	const struct qb_backend *qb = qb_lookup("sendmail");
	char	dir[] = "/tmp/test_smqueue.XXXXXX", cf[600], text[256];
	char	*ids[] = { (char *)ID_HELD };
	char	*bad[] = { (char *)"00001" };
	char	*pend[] = { (char *)ID_PENDING };
	struct qb_qinfo qi[4];
	struct strv l = { NULL, 0, 0 };
	struct qb_conf qc;
	struct buf b = BUF_INIT;
	struct utimbuf ut;
	time_t	now = time(NULL);
	pid_t	pid;
	int	i;

	CHECK(qb != NULL && qb->locate != NULL && qb->remove != NULL,
	    "backend sendmail with locate and remove");
	if (qb == NULL || mkdtemp(dir) == NULL)
		return;
	snprintf(cf, sizeof(cf), "O QueueDirectory=%s\n"
	    "O Timeout.queuereturn=7d\n", dir);
	put(dir, "sendmail.cf", cf);
	snprintf(cf, sizeof(cf), "%s/sendmail.cf", dir);
	memset(&qc, 0, sizeof(qc));
	qc.sendmail_command = "/bin/true";
	qc.sendmail_config_file = cf;
	qc.timeout = 10;
	CHECK_INT(qb->init(&qc), QB_OK, "init");
	CHECK_STR(qc.queue_directory ? qc.queue_directory : "", dir,
	    "queue directory from the .cf");
	CHECK_INT(qc.max_lifetime, 7 * 86400, "Timeout.queuereturn");

	put(dir, "hf" ID_HELD, qf_held);
	put(dir, "df" ID_HELD, "the body\n");
	snprintf(text, sizeof(text), "V8\nT%lld\nK%lld\nN1\nRPF:a@b\n.\n",
	    (long long)now - 100, (long long)now);
	put(dir, "qf" ID_FAILED, text);
	ut.actime = ut.modtime = now;
	snprintf(cf, sizeof(cf), "%s/qf%s", dir, ID_FAILED);
	utime(cf, &ut);
	/* Released after an earlier attempt: K older than the file. */
	snprintf(text, sizeof(text), "V8\nK%lld\nN1\n.\n",
	    (long long)now - 3600);
	put(dir, "qf" ID_PENDING, text);

	memset(qi, 0, sizeof(qi));
	qi[0].id = (char *)ID_HELD;
	qi[1].id = (char *)ID_FAILED;
	qi[2].id = (char *)ID_PENDING;
	qi[3].id = (char *)ID_GONE;
	CHECK_INT(qb->locate(&qc, qi, 4), QB_OK, "locate");
	CHECK_INT(qi[0].state, QS_HELD, "hf file: held");
	CHECK_INT(qi[1].state, QS_FAILED, "tried, then written: failed");
	CHECK_INT(qi[2].state, QS_PENDING, "released, not tried: pending");
	CHECK_INT(qi[3].state, QS_GONE, "no file: gone");
	CHECK_INT(qb->status(&qc, qi, 4), QB_OK, "status");
	CHECK_INT(qi[1].nrcpt, 1, "status: recipients");
	if (qi[1].nrcpt == 1)
		CHECK_STR(qi[1].rcpt[0], "a@b", "status: recipient");
	qb_qinfo_free(qi, 4);
	qi[0].id = (char *)"6AN5tWjV01404";
	CHECK_INT(qb->locate(&qc, qi, 1), QB_BAD, "short ID refused");

	CHECK_INT(qb->list_held(&qc, &l), QB_OK, "list_held");
	CHECK(l.n == 1 && strcmp(l.v[0], ID_HELD) == 0, "list_held: %zu IDs",
	    l.n);
	strv_free(&l);
	CHECK_INT(qb->held_since(&qc, (long long)now + 3600, &l), QB_OK,
	    "held_since");
	CHECK_INT(l.n, 0, "nothing written in the future");
	strv_free(&l);

	CHECK_INT(qb->read(&qc, ID_HELD, QB_READ_HEADERS, &b), QB_OK, "read");
	CHECK_STR(buf_terminate(&b), hdrs_want, "read: headers");
	buf_reset(&b);
	CHECK_INT(qb->read(&qc, ID_HELD, QB_READ_FULL, &b), QB_OK, "read full");
	CHECK(b.len > 10 && strcmp(b.s + b.len - 10, "\nthe body\n") == 0,
	    "read full: header, empty line, body");
	buf_reset(&b);
	CHECK_INT(qb->read(&qc, ID_GONE, QB_READ_HEADERS, &b), QB_DENY,
	    "read: gone");

	CHECK_INT(qb->remove(&qc, bad, 1), QB_BAD, "remove: bad ID");
	CHECK_INT(qb->remove(&qc, pend, 1), QB_DENY, "remove: not held");
	CHECK(exists(dir, "qf" ID_PENDING), "a queued item is never removed");
	for (i = 0; i < 2; i++) {
		pid = locker(dir, "hf" ID_HELD, i ? 'p' : 'f');
		CHECK_INT(qb->remove(&qc, ids, 1), QB_FAIL, i ?
		    "remove: fcntl-locked" : "remove: flock-locked");
		unlock(pid);
		CHECK(exists(dir, "hf" ID_HELD), "a locked item is kept");
	}
	CHECK_INT(qb->remove(&qc, ids, 1), QB_OK, "remove");
	CHECK(!exists(dir, "hf" ID_HELD) && !exists(dir, "df" ID_HELD),
	    "hf and df deleted");
	CHECK_INT(qb->remove(&qc, ids, 1), QB_DENY, "remove again");

	buf_free(&b);
	free(qc.queue_directory);
	snprintf(cf, sizeof(cf), "%s/qf%s", dir, ID_FAILED);
	unlink(cf);
	snprintf(cf, sizeof(cf), "%s/qf%s", dir, ID_PENDING);
	unlink(cf);
	snprintf(cf, sizeof(cf), "%s/sendmail.cf", dir);
	unlink(cf);
	rmdir(dir);
}

/*
 * test_subdirs - control files in qf/ (a link, as Sendmail allows): a qf/
 * that cannot be read later fails locate and list_held, never "gone"
 */
static void
test_subdirs(void)
{
	const struct qb_backend *qb = qb_lookup("sendmail");
	char	dir[] = "/tmp/test_smqueue.XXXXXX", cf[600], qd[600];
	char	real[600], moved[600];
	struct qb_qinfo qi[2];
	struct strv l = { NULL, 0, 0 };
	struct qb_conf qc;

	if (qb == NULL || mkdtemp(dir) == NULL)
		return;
	snprintf(real, sizeof(real), "%s/qf.real", dir);
	snprintf(qd, sizeof(qd), "%s/qf", dir);
	snprintf(moved, sizeof(moved), "%s/qf.moved", dir);
	CHECK(mkdir(real, 0700) == 0 && symlink("qf.real", qd) == 0,
	    "qf/ a link to qf.real/");
	snprintf(cf, sizeof(cf), "O QueueDirectory=%s\n", dir);
	put(dir, "sendmail.cf", cf);
	snprintf(cf, sizeof(cf), "%s/sendmail.cf", dir);
	put(real, "hf" ID_HELD, qf_held);
	memset(&qc, 0, sizeof(qc));
	qc.sendmail_command = "/bin/true";
	qc.sendmail_config_file = cf;
	qc.timeout = 10;
	CHECK_INT(qb->init(&qc), QB_OK, "init");
	memset(qi, 0, sizeof(qi));
	qi[0].id = (char *)ID_HELD;
	qi[1].id = (char *)ID_GONE;
	CHECK_INT(qb->locate(&qc, qi, 2), QB_OK, "locate in qf/");
	CHECK_INT(qi[0].state, QS_HELD, "hf file in the linked qf/: held");
	CHECK_INT(qi[1].state, QS_GONE, "no file: gone");

	readdir_fail = 1;
	CHECK_INT(qb->list_held(&qc, &l), QB_FAIL,
	    "list_held: a readdir error fails the call");
	CHECK_INT(qb->locate(&qc, qi, 2), QB_FAIL,
	    "locate: no file, and its directory does not read: fail");
	readdir_fail = 0;
	strv_free(&l);

	CHECK(rename(real, moved) == 0, "qf.real/ moved away");
	CHECK_INT(qb->locate(&qc, qi, 2), QB_FAIL,
	    "locate: qf/ unreadable: fail, not gone");
	CHECK_INT(qb->list_held(&qc, &l), QB_FAIL, "list_held: fail");
	strv_free(&l);
	CHECK(mkdir(real, 0700) == 0, "an empty qf.real/");
	CHECK_INT(qb->locate(&qc, qi, 2), QB_OK, "locate: empty qf/");
	CHECK_INT(qi[0].state, QS_GONE, "readable and empty: gone");
	CHECK(rmdir(real) == 0 && rename(moved, real) == 0, "qf.real/ back");
	CHECK_INT(qb->locate(&qc, qi, 2), QB_OK, "locate: qf/ back");
	CHECK_INT(qi[0].state, QS_HELD, "held again");
	CHECK_INT(qb->list_held(&qc, &l), QB_OK, "list_held");
	CHECK_INT(l.n, 1, "list_held: one");
	strv_free(&l);
	qb_qinfo_free(qi, 2);
	free(qc.queue_directory);
	snprintf(cf, sizeof(cf), "rm -rf '%s'", dir);
	if (system(cf) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
}

int
main(void)
{
	test_qf();
	test_envelope();
	test_qf_bad();
	test_time();
	test_cf();
	test_qid();
	test_backend();
	test_subdirs();
	return TAP_DONE();
}
