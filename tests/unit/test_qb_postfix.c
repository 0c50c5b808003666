/*
 * test_qb_postfix - the postqueue -j reader (pfqueue.c) on real and
 * hostile lines, and the Postfix backend's status decisions with stand-in
 * postqueue/postconf scripts and a fake queue directory.
 */
#include "config.h"

#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <utime.h>

#include "mail/pfqueue.h"
#include "mail/qbackend.h"
#include "util/buf.h"
#include "failreaddir.h"
#include "tap.h"

#define LINE_HOLD "{\"queue_name\": \"hold\", \"queue_id\": " \
	"\"4jYDrQ15t3z1bZ43\", \"arrival_time\": 1795458310, " \
	"\"message_size\": 452, \"forced_expire\": false, \"sender\": " \
	"\"s@example.org\", \"recipients\": [{\"address\": " \
	"\"u1@dialup.test\"}]}"
#define LINE_DEFER "{\"queue_name\": \"deferred\", \"queue_id\": " \
	"\"4jYDrQ1Xbpz1bYMK\", \"arrival_time\": 1795458310, " \
	"\"message_size\": 452, \"forced_expire\": false, \"sender\": " \
	"\"s@example.org\", \"recipients\": [{\"address\": " \
	"\"u2@dialup.test\", \"delay_reason\": \"connect to " \
	"127.0.0.1[127.0.0.1]:23403: Connection refused\"}, {\"address\": " \
	"\"u3@dialup.test\", \"delay_reason\": \"x\"}]}"

/* Lines that parse: queue name, ID, recipients joined by '|'. */
static const struct {
	const char *line, *name, *id, *rcpts;
} good[] = {
	{ LINE_HOLD, "hold", "4jYDrQ15t3z1bZ43", "u1@dialup.test" },
	{ LINE_DEFER, "deferred", "4jYDrQ1Xbpz1bYMK",
	    "u2@dialup.test|u3@dialup.test" },
	{ "{\"queue_id\":\"ABCDE\",\"queue_name\":\"active\"}", "active",
	    "ABCDE", "" },
	{ " { \"queue_name\" : \"hold\" , \"queue_id\" : \"ABCDE\" , "
	    "\"recipients\" : [ ] } \r", "hold", "ABCDE", "" },
	{ "{\"queue_name\": \"hold\", \"queue_id\": \"ABCDE\", \"recipients\":"
	    " [{\"address\": \"\\\"a b\\\"@x.test\"}, {\"address\": "
	    "\"a\\\\b@x.test\"}, {\"address\": \"a\\/b@x.test\"}]}", "hold",
	    "ABCDE", "\"a b\"@x.test|a\\b@x.test|a/b@x.test" },
	{ "{\"queue_name\": \"hold\", \"queue_id\": \"ABCDE\", \"recipients\":"
	    " [{\"address\": \"\\u00e9\\u00E9@x.test\"}, {\"address\": "
	    "\"\\ud83d\\ude00@x\"}, {\"address\": \"t\\tn\\nd\\u007F@x\"}]}",
	    "hold", "ABCDE", "\xc3\xa9\xc3\xa9@x.test|\xf0\x9f\x98\x80@x|"
	    "t\tn\nd\x7f@x" },
	/* Unusable strings become "", the line still counts. */
	{ "{\"queue_name\": \"hold\", \"queue_id\": \"ABCDE\", \"recipients\":"
	    " [{\"address\": \"a\\u0000b@x\"}, {\"address\": \"\\ud800x@x\"},"
	    " {\"address\": \"\\udc00@x\"}, {\"address\": \"\\ud800\\u0041\"},"
	    " {\"address\": \"ok@x\"}]}", "hold", "ABCDE", "||||ok@x" },
	/* Every other field skipped, whatever its shape. */
	{ "{\"x\": {\"a\": [1, -2.5e+3, 0, true, null, {\"b\": []}]}, "
	    "\"queue_name\": \"incoming\", \"y\": \"\\\"}\", \"queue_id\": "
	    "\"ABCDE\", \"z\": -0.0E-1, \"recipients\": [{\"delay_reason\": "
	    "{\"k\": [\"v\"]}, \"address\": \"r@x\", \"n\": 1}]}", "incoming",
	    "ABCDE", "r@x" },
	{ "{\"queue_name\": \"hold\", \"queue_id\": \"ABCDE\", "
	    "\"sender\": \"\xc3\xa9@x\"}", "hold", "ABCDE", "" },
};

/* Lines that must be refused as a whole. */
static const char *const bad[] = {
	"", "   ", "{}", "[]", "null", "\"x\"", "{\"queue_name\": \"hold\"}",
	"{\"queue_id\": \"ABCDE\"}",
	"{\"queue_name\": \"hold\", \"queue_id\": \"ABCDE\"} x",
	"{\"queue_name\": \"hold\", \"queue_id\": \"ABCDE\"}}",
	"{\"queue_name\": \"hold\", \"queue_id\": \"ABCDE\",}",
	"{\"queue_name\": \"hold\" \"queue_id\": \"ABCDE\"}",
	"{\"queue_name\": \"hold\", \"queue_id\": \"ABCDE\", "
	    "\"queue_id\": \"FGHIJ\"}",
	"{\"queue_name\": \"hold\", \"queue_id\": \"A\\xBCDE\"}",
	"{\"queue_name\": \"hold\", \"queue_id\": \"A\\u12G4\"}",
	"{\"queue_name\": \"hold\", \"queue_id\": \"A\\u12\"}",
	"{\"queue_name\": \"hold\", \"queue_id\": \"A\tB\"}",
	"{\"queue_name\": \"hold\", \"queue_id\": \"AB\nCD\"}",
	"{\"queue_name\": \"hold\", \"queue_id\": 12345}",
	"{\"queue_name\": \"hold\", \"queue_id\": \"ABCDE\", \"n\": 01}",
	"{\"queue_name\": \"hold\", \"queue_id\": \"ABCDE\", \"n\": -}",
	"{\"queue_name\": \"hold\", \"queue_id\": \"ABCDE\", \"n\": 1.}",
	"{\"queue_name\": \"hold\", \"queue_id\": \"ABCDE\", \"n\": 1e}",
	"{\"queue_name\": \"hold\", \"queue_id\": \"ABCDE\", \"n\": tru}",
	"{\"queue_name\": \"hold\", \"queue_id\": \"ABCDE\", \"n\": }",
	"{\"queue_name\": \"hold\", \"queue_id\": \"ABCDE\", "
	    "\"recipients\": {}}",
	"{\"queue_name\": \"hold\", \"queue_id\": \"ABCDE\", "
	    "\"recipients\": [\"a@x\"]}",
	"{\"queue_name\": \"hold\", \"queue_id\": \"ABCDE\", "
	    "\"recipients\": [{}]}",
	"{\"queue_name\": \"hold\", \"queue_id\": \"ABCDE\", "
	    "\"recipients\": [{\"delay_reason\": \"x\"}]}",
	"{\"queue_name\": \"hold\", \"queue_id\": \"ABCDE\", "
	    "\"recipients\": [{\"address\": \"a\", \"address\": \"b\"}]}",
	"{\"queue_name\": \"hold\", \"queue_id\": \"ABCDE\", "
	    "\"recipients\": [{\"address\": \"a@x\"},]}",
	"{\"queue_name\": \"hold\", \"queue_id\": \"ABCDE\", "
	    "\"recipients\": [], \"recipients\": []}",
	"{\"queue_name\": \"hold\", \"queue_id\": \"ABCDE\", "
	    "\"recipients\": [{\"address\": \"a@x\"}]",
	"{\"queue_name\": \"hold\", \"queue_id\": \"ABCDE\", "
	    "\"recipients\": [{\"address\": 7}]}",
};

/* join - recipients as "a|b|c" */
static const char *
join(const struct pfq_msg *m, struct buf *b)
{
	size_t	i;

	buf_reset(b);
	buf_terminate(b);
	for (i = 0; i < m->nrcpt; i++) {
		if (i)
			buf_addch(b, '|');
		buf_cat(b, m->rcpt[i]);
	}
	return b->s;
}

/* test_lines - postqueue -j lines parsed */
static void
test_lines(void)
{
	struct pfq_msg m;
	struct buf b = BUF_INIT;
	const char *why;
	size_t	i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		why = "";
		CHECK(pfq_parse_line(good[i].line, strlen(good[i].line), &m,
		    &why) == 0, "good[%zu] refused: %s", i, why);
		if (m.queue_name == NULL)
			continue;
		CHECK_STR(m.queue_name, good[i].name, "queue_name");
		CHECK_STR(m.queue_id, good[i].id, "queue_id");
		CHECK_STR(join(&m, &b), good[i].rcpts, "recipients");
		pfq_msg_free(&m);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why = NULL;
		CHECK(pfq_parse_line(bad[i], strlen(bad[i]), &m, &why) < 0 &&
		    why != NULL && m.queue_name == NULL && m.rcpt == NULL,
		    "bad[%zu] accepted: %s", i, bad[i]);
	}
	buf_free(&b);
}

/*
 * test_truncated - every proper prefix of a good line is a truncated
 * line: refused
 */
static void
test_truncated(void)
{
	struct pfq_msg m;
	const char *line = LINE_DEFER, *why;
	size_t	n, len = strlen(line), refused = 0;

	for (n = 0; n < len; n++)
		if (pfq_parse_line(line, n, &m, &why) < 0)
			refused++;
		else
			pfq_msg_free(&m);
	CHECK_INT(refused, len, "truncations refused");
}

/*
 * test_huge - huge strings: kept as "" (address) or skipped; deep
 * nesting refused
 */
static void
test_huge(void)
{
	struct buf line = BUF_INIT, b = BUF_INIT;
	struct pfq_msg m;
	const char *why = "";
	size_t	i;

	buf_cat(&line, "{\"queue_name\": \"hold\", \"queue_id\": \"ABCDE\", "
	    "\"sender\": \"");
	for (i = 0; i < 100000; i++)
		buf_cat(&line, i % 2 ? "\\u0041" : "x");
	buf_cat(&line, "\", \"recipients\": [{\"address\": \"");
	for (i = 0; i < PFQ_MAX_STR + 1; i++)
		buf_addch(&line, 'a');
	buf_cat(&line, "\"}, {\"address\": \"");
	for (i = 0; i < PFQ_MAX_STR; i++)
		buf_addch(&line, 'b');
	buf_cat(&line, "\"}]}");
	CHECK(pfq_parse_line(line.s, line.len, &m, &why) == 0,
	    "huge strings: %s", why);
	CHECK_INT(m.nrcpt, 2, "huge: recipients");
	if (m.nrcpt == 2) {
		CHECK_STR(m.rcpt[0], "", "too long: unusable");
		CHECK_INT(strlen(m.rcpt[1]), PFQ_MAX_STR, "longest kept");
	}
	pfq_msg_free(&m);

	buf_reset(&line);
	buf_cat(&line, "{\"queue_name\": \"hold\", \"queue_id\": \"ABCDE\", "
	    "\"x\": ");
	for (i = 0; i < 100000; i++)
		buf_addch(&line, '[');
	CHECK(pfq_parse_line(line.s, line.len, &m, &why) < 0,
	    "deep nesting refused");
	buf_free(&line);
	buf_free(&b);
}

/* test_listing - queue listings read from a directory tree */
static void
test_listing(void)
{
	const char *text = LINE_DEFER "\n\n" LINE_HOLD "\n"
	    "{\"queue_name\": \"active\", \"queue_id\": \"AAAAA\"}\n";
	const char *badtext = LINE_HOLD "\n" LINE_HOLD "x\n" LINE_DEFER "\n";
	struct pfq_list l = { NULL, 0, 0 };
	const struct pfq_msg *m;
	const char *why = NULL;
	size_t	line = 0;

	CHECK(pfq_parse(text, strlen(text), &l, &line, &why) == 0,
	    "listing: %s", why ? why : "");
	CHECK_INT(l.n, 3, "listing: messages");
	pfq_sort(&l);
	m = pfq_find(&l, "4jYDrQ15t3z1bZ43");
	CHECK(m && strcmp(m->queue_name, "hold") == 0, "find hold");
	m = pfq_find(&l, "4jYDrQ1Xbpz1bYMK");
	CHECK(m && m->nrcpt == 2, "find deferred");
	CHECK(pfq_find(&l, "AAAAA") != NULL, "find active");
	CHECK(pfq_find(&l, "BBBBB") == NULL, "absent");
	CHECK(pfq_find(&l, "") == NULL, "empty ID never found");
	pfq_list_free(&l);

	CHECK(pfq_parse(badtext, strlen(badtext), &l, &line, &why) < 0,
	    "bad listing refused");
	CHECK_INT(line, 2, "bad line number");
	pfq_list_free(&l);
	CHECK(pfq_parse("", 0, &l, &line, &why) == 0 && l.n == 0, "empty");
	pfq_list_free(&l);
}

/* put - write a file */
static void
put(const char *dir, const char *name, const char *text, mode_t mode)
{
	struct buf path = BUF_INIT;
	FILE	*fp;

	buf_printf(&path, "%s/%s", dir, name);
	if ((fp = fopen(path.s, "w")) != NULL) {
		fputs(text, fp);
		fclose(fp);
		chmod(path.s, mode);
	}
	buf_free(&path);
}

/* touch_at - set a file's times */
static void
touch_at(const char *dir, const char *name, time_t t)
{
	struct buf path = BUF_INIT;
	struct utimbuf ut = { t, t };

	buf_printf(&path, "%s/%s", dir, name);
	utime(path.s, &ut);
	buf_free(&path);
}

/*
 * fake_postfix - stand-in commands in top: postconf prints top/spool
 * and the lifetimes 7d and 36h, postqueue prints top/listing;
 * postqueue, postsuper (and its stdin) and postkick log their calls to
 * top/calls.  A deferred tree with one file due in the future (a
 * failed attempt) and one in the past (due); hold, active
 * and incoming with the files the listing names (DEFERNOFILE has none).
 */
static void
fake_postfix(const char *top)
{
	struct buf b = BUF_INIT;

	buf_printf(&b, "#!/bin/sh\necho '%s/spool '\necho 7d\necho 36h\n",
	    top);
	put(top, "postconf", b.s, 0755);
	buf_reset(&b);
	buf_printf(&b, "#!/bin/sh\necho \"postqueue $*\" >>'%s/calls'\n"
	    "cat '%s/listing'\n", top, top);
	put(top, "postqueue", b.s, 0755);
	buf_reset(&b);
	buf_printf(&b, "#!/bin/sh\necho \"postsuper $*\" >>'%s/calls'\n"
	    "sed 's/^/  /' >>'%s/calls'\n", top, top);
	put(top, "postsuper", b.s, 0755);
	buf_reset(&b);
	buf_printf(&b, "#!/bin/sh\necho \"postkick $*\" >>'%s/calls'\n",
	    top);
	put(top, "postkick", b.s, 0755);
	put(top, "listing",
	    "{\"queue_name\": \"hold\", \"queue_id\": \"HOLD1\"}\n"
	    "{\"queue_name\": \"deferred\", \"queue_id\": \"DEFERFAIL\", "
	    "\"recipients\": [{\"address\": \"a@x\"}, {\"address\": "
	    "\"b@x\"}]}\n"
	    "{\"queue_name\": \"deferred\", \"queue_id\": \"DEFERDUE\"}\n"
	    "{\"queue_name\": \"deferred\", \"queue_id\": \"DEFERNOFILE\"}\n"
	    "{\"queue_name\": \"active\", \"queue_id\": \"ACTIVE1\"}\n"
	    "{\"queue_name\": \"incoming\", \"queue_id\": \"INCOMING1\"}\n",
	    0644);
	buf_reset(&b);
	buf_printf(&b, "%s/spool", top);
	mkdir(b.s, 0755);
	buf_cat(&b, "/deferred");
	mkdir(b.s, 0755);
	buf_cat(&b, "/A");
	mkdir(b.s, 0755);
	put(b.s, "DEFERDUE", "", 0600);
	touch_at(b.s, "DEFERDUE", time(NULL) - 300);
	buf_cat(&b, "/B");
	mkdir(b.s, 0755);
	put(b.s, "DEFERFAIL", "", 0600);
	touch_at(b.s, "DEFERFAIL", time(NULL) + 300);
	buf_reset(&b);
	buf_printf(&b, "%s/spool/hold", top);
	mkdir(b.s, 0755);
	put(b.s, "HOLD1", "", 0600);
	buf_reset(&b);
	buf_printf(&b, "%s/spool/active", top);
	mkdir(b.s, 0755);
	put(b.s, "ACTIVE1", "", 0600);
	buf_reset(&b);
	buf_printf(&b, "%s/spool/incoming", top);
	mkdir(b.s, 0755);
	put(b.s, "INCOMING1", "", 0600);
	buf_free(&b);
}

/* test_status - the backend's status decisions with the stand-in commands */
static void
test_status(void)
{
	char	top[] = "/tmp/test_qb_postfix.XXXXXX", sh[128], moved[128];
	char	*ids[] = { "HOLD1", "DEFERFAIL", "DEFERDUE", "DEFERNOFILE",
		"ACTIVE1", "GONE1", "INCOMING1" };
	enum qb_qstate want[] = { QS_HELD, QS_FAILED, QS_PENDING, QS_PENDING,
		QS_PENDING, QS_GONE, QS_PENDING };
	struct qb_qinfo qi[7];
	struct qb_conf qc;
	struct strv held = { NULL, 0, 0 };
	size_t	i;

	if (mkdtemp(top) == NULL)
		return;
	fake_postfix(top);
	memset(&qc, 0, sizeof(qc));
	qc.config_directory = "";
	qc.command_directory = top;
	qc.timeout = 10;
	CHECK(qb_postfix.init(&qc) == QB_OK && qc.queue_directory != NULL &&
	    strncmp(qc.queue_directory, top, strlen(top)) == 0 &&
	    strcmp(qc.queue_directory + strlen(top), "/spool") == 0, "init");
	CHECK(qc.max_lifetime == 36 * 3600, "init: the shorter lifetime, %lld",
	    qc.max_lifetime);
	memset(qi, 0, sizeof(qi));
	for (i = 0; i < 7; i++)
		qi[i].id = ids[i];
	CHECK(qb_postfix.status(&qc, qi, 7) == QB_OK, "status");
	for (i = 0; i < 7; i++)
		CHECK(qi[i].state == want[i], "%s: state %d, want %d", ids[i],
		    (int)qi[i].state, (int)want[i]);
	CHECK(qi[1].nrcpt == 2 && strcmp(qi[1].rcpt[1], "b@x") == 0,
	    "recipients of DEFERFAIL");
	qb_qinfo_free(qi, 7);
	CHECK(qb_postfix.list_held(&qc, &held) == QB_OK && held.n == 1 &&
	    strcmp(held.v[0], "HOLD1") == 0, "list_held");
	strv_free(&held);

	/* locate: the directories alone (DEFERNOFILE has no file: gone) */
	want[3] = QS_GONE;
	for (i = 0; i < 7; i++)
		qi[i].id = ids[i];
	put(top, "listing", "garbage\n", 0644);	/* showq is not asked */
	CHECK(qb_postfix.locate(&qc, qi, 7) == QB_OK, "locate");
	for (i = 0; i < 7; i++)
		CHECK(qi[i].state == want[i] && qi[i].nrcpt == 0,
		    "locate %s: state %d, want %d", ids[i], (int)qi[i].state,
		    (int)want[i]);
	qi[0].id = "bad id";
	CHECK(qb_postfix.locate(&qc, qi, 1) == QB_BAD, "locate: bad ID");
	qi[0].id = "HOLD1";
	snprintf(sh, sizeof(sh), "%s/spool/active", top);
	snprintf(moved, sizeof(moved), "%s/spool/active.moved", top);
	if (rename(sh, moved) == 0) {
		snprintf(sh, sizeof(sh), "%s/spool", top);
		put(sh, "active", "", 0600);	/* a file, not a directory */
	}
	CHECK(qb_postfix.locate(&qc, qi, 1) == QB_FAIL,
	    "locate: unreadable queue directory: fail, not gone");

	qi[0].id = "bad id";
	CHECK(qb_postfix.status(&qc, qi, 1) == QB_BAD, "bad ID refused");
	put(top, "listing", LINE_HOLD "\n{\"queue_name\": \"hold\"\n", 0644);
	qi[0].id = "4jYDrQ15t3z1bZ43";
	CHECK(qb_postfix.status(&qc, qi, 1) == QB_FAIL,
	    "unparsable listing: fail, not gone");
	CHECK(qb_postfix.list_held(&qc, &held) == QB_FAIL && held.n == 0,
	    "unparsable listing: list_held fails");
	strv_free(&held);
	free(qc.queue_directory);
	snprintf(sh, sizeof(sh), "rm -rf '%s'", top);
	if (system(sh) != 0)
		fprintf(stderr, "could not remove %s\n", top);
}

/* fake_init - stand-in commands and queue in a new top; 0 if set up */
static int
fake_init(char *top, struct qb_conf *qc)
{
	if (mkdtemp(top) == NULL)
		return -1;
	fake_postfix(top);
	memset(qc, 0, sizeof(*qc));
	qc->config_directory = "";
	qc->command_directory = top;
	qc->timeout = 10;
	return qb_postfix.init(qc) == QB_OK ? 0 : -1;
}

/*
 * test_unreadable - the scans are all or nothing: a queue
 * subdirectory that cannot be read fails locate, status (deferred
 * times) and held_since, and the states of a failed call are not
 * "gone".
 */
static void
test_unreadable(void)
{
	char	top[] = "/tmp/test_qb_postfix.XXXXXX", a[160], b[160];
	char	*ids[] = { "HOLD1", "DEFERFAIL", "GONE1" };
	struct qb_qinfo qi[3];
	struct qb_conf qc;
	struct strv held = { NULL, 0, 0 };
	size_t	i;

	if (fake_init(top, &qc) < 0) {
		CHECK(0, "fake postfix");
		return;
	}
	memset(qi, 0, sizeof(qi));
	for (i = 0; i < 3; i++)
		qi[i].id = ids[i];
	CHECK(qb_postfix.locate(&qc, qi, 3) == QB_OK &&
	    qi[1].state == QS_FAILED && qi[2].state == QS_GONE, "locate");

	/* deferred/B (DEFERFAIL's) behind a symbolic link: not followed */
	snprintf(a, sizeof(a), "%s/spool/deferred/A/B", top);
	snprintf(b, sizeof(b), "%s/spool/B.real", top);
	CHECK(rename(a, b) == 0 && symlink("../../B.real", a) == 0,
	    "deferred/A/B made a link");
	CHECK(qb_postfix.locate(&qc, qi, 3) == QB_FAIL,
	    "locate: a linked subdirectory fails the call");
	CHECK(qb_postfix.status(&qc, qi, 3) == QB_FAIL,
	    "status: the deferred times cannot be read: fail");
	CHECK(qb_postfix.held_since(&qc, 0, &held) == QB_OK && held.n == 1,
	    "held_since: the hold queue alone is readable");
	strv_free(&held);
	unlink(a);
	CHECK(rename(b, a) == 0, "deferred/A/B back");
	CHECK(qb_postfix.locate(&qc, qi, 3) == QB_OK &&
	    qi[1].state == QS_FAILED, "locate: readable again");

	/* readdir ending in an error is not the end of the directory */
	readdir_fail = 1;
	CHECK(qb_postfix.locate(&qc, qi, 3) == QB_FAIL,
	    "locate: a readdir error fails the call");
	CHECK(qb_postfix.held_since(&qc, 0, &held) == QB_FAIL && held.n == 0,
	    "held_since: a readdir error fails the call");
	readdir_fail = 0;

	/* a FIFO in the hold queue: neither file nor directory */
	snprintf(a, sizeof(a), "%s/spool/hold/F", top);
	CHECK(mkfifo(a, 0600) == 0, "mkfifo");
	CHECK(qb_postfix.held_since(&qc, 0, &held) == QB_FAIL && held.n == 0,
	    "held_since: a FIFO fails the call");
	CHECK(qb_postfix.locate(&qc, qi, 3) == QB_FAIL,
	    "locate: a FIFO fails the call");
	unlink(a);

	/* a tree deeper than Postfix makes it */
	snprintf(a, sizeof(a), "%s/spool/hold/1/2/3/4/5", top);
	for (i = strlen(top) + strlen("/spool/hold/1"); i <= strlen(a);
	    i += 2) {
		b[0] = a[i];
		a[i] = '\0';
		(void)mkdir(a, 0755);
		a[i] = b[0];
	}
	CHECK(qb_postfix.locate(&qc, qi, 3) == QB_FAIL,
	    "locate: five levels below hold/ fail the call");
	qb_qinfo_free(qi, 3);
	free(qc.queue_directory);
	snprintf(a, sizeof(a), "rm -rf '%s'", top);
	if (system(a) != 0)
		fprintf(stderr, "could not remove %s\n", top);
}

/* slurp - a file's text ("" when it cannot be read) */
static void
slurp(const char *dir, const char *name, struct buf *out)
{
	struct buf path = BUF_INIT;
	char	chunk[512];
	size_t	len;
	FILE	*f;

	buf_reset(out);
	buf_printf(&path, "%s/%s", dir, name);
	if ((f = fopen(path.s, "r")) != NULL) {
		while ((len = fread(chunk, 1, sizeof(chunk), f)) > 0)
			buf_add(out, chunk, len);
		fclose(f);
	}
	buf_terminate(out);
	buf_free(&path);
}

/*
 * test_release - one postsuper -H for every message, one qmgr wake-up
 * for those due, postqueue -i for each whose hold file has a retry time
 * in the future, never postqueue -f
 */
static void
test_release(void)
{
	char	top[] = "/tmp/test_qb_postfix.XXXXXX", hold[160], sh[200];
	char	*ids[30], names[30][16];
	struct qb_conf qc;
	struct buf calls = BUF_INIT, want = BUF_INIT;
	size_t	i;

	if (fake_init(top, &qc) < 0) {
		CHECK(0, "fake postfix");
		return;
	}
	snprintf(hold, sizeof(hold), "%s/spool/hold", top);
	buf_printf(&want, "postsuper -H -\n");
	for (i = 0; i < 30; i++) {
		snprintf(names[i], sizeof(names[i]), "%s%02zu",
		    i == 7 ? "RETRY" : "NEW", i);
		ids[i] = names[i];
		put(hold, names[i], "", 0600);
		touch_at(hold, names[i], time(NULL) + (i == 7 ? 300 : -300));
		buf_printf(&want, "  %s\n", names[i]);
	}
	buf_printf(&want, "postkick public qmgr D\npostqueue -i RETRY07\n");
	CHECK(qb_postfix.release(&qc, ids, 30) == QB_OK, "release 30");
	slurp(top, "calls", &calls);
	CHECK_STR(calls.s, want.s, "one postsuper -H, one kick, one -i");

	/* all due: the kick alone; an invalid ID: nothing at all */
	snprintf(sh, sizeof(sh), "%s/calls", top);
	unlink(sh);
	CHECK(qb_postfix.release(&qc, ids + 10, 2) == QB_OK, "release 2");
	slurp(top, "calls", &calls);
	CHECK_STR(calls.s, "postsuper -H -\n  NEW10\n  NEW11\n"
	    "postkick public qmgr D\n", "due messages: no postqueue");
	unlink(sh);
	ids[3] = "bad id";
	CHECK(qb_postfix.release(&qc, ids, 30) == QB_BAD, "bad ID refused");
	slurp(top, "calls", &calls);
	CHECK_STR(calls.s, "", "bad ID: no command");
	buf_free(&calls);
	buf_free(&want);
	free(qc.queue_directory);
	snprintf(sh, sizeof(sh), "rm -rf '%s'", top);
	if (system(sh) != 0)
		fprintf(stderr, "could not remove %s\n", top);
}

/* test_envelope - postcat -e output to the form the milter records */
static void
test_envelope(void)
{
	static const char out[] =
	    "*** ENVELOPE RECORDS hold/4ABCD12345 ***\n"
	    "message_size:             812             292               2"
	    "               0             812               0\n"
	    "message_arrival_time: Sat Nov 28 23:00:00 2026\n"
	    "create_time: Sat Nov 28 23:00:00 2026\n"
	    "named_attribute: rewrite_context=local\n"
	    "sender_fullname: \n"
	    "sender: s@example.org\n"
	    "named_attribute: envelope_id=id 1+x\n"
	    "named_attribute: ret_flags=2\n"
	    "original_recipient: U@dialup.test\n"
	    "named_attribute: notify_flags=6\n"
	    "named_attribute: dsn_orig_rcpt=rfc822;U@dialup.test\n"
	    "recipient: u@dialup.test\n"
	    "named_attribute: dsn_orig_rcpt=rfc822;alias+1@x.test\n"
	    "done_recipient: d@dialup.test\n"
	    "named_attribute: notify_flags=1\n"
	    "named_attribute: dsn_orig_rcpt=x400;a=b c\n"
	    "recipient: v@dialup.test\n"
	    "*** HEADER EXTRACTED hold/4ABCD12345 ***\n"
	    "*** MESSAGE FILE END hold/4ABCD12345 ***\n";
	struct qb_envelope e;
	char	*text = strdup(out);

	memset(&e, 0, sizeof(e));
	CHECK_INT(pfq_envelope(text, &e), 0, "postcat -e parses");
	CHECK_STR(e.sender.s, "s@example.org", "sender");
	CHECK_INT(e.size, 812, "message_size");
	CHECK_STR(e.ret, "HDRS", "ret_flags 2: HDRS");
	CHECK_STR(e.envid.s, "id+201+2Bx", "ENVID as xtext");
	CHECK_INT(e.nrcpt, 2, "the delivered recipient left out");
	CHECK_STR(e.rcpts.s,
	    "U@dialup.test\tSUCCESS,FAILURE\t\n"
	    "v@dialup.test\tNEVER\tx400;a+3Db+20c\n",
	    "original address, NOTIFY words, ORCPT only where given");
	qb_env_free(&e);
	free(text);

	text = strdup("*** ENVELOPE RECORDS hold/4ABCD12345 ***\n"
	    "recipient: u@dialup.test\n");
	memset(&e, 0, sizeof(e));
	CHECK_INT(pfq_envelope(text, &e), -1, "no sender: not used");
	qb_env_free(&e);
	free(text);
}

int
main(void)
{
	test_envelope();
	test_lines();
	test_truncated();
	test_huge();
	test_listing();
	test_status();
	test_unreadable();
	test_release();
	return TAP_DONE();
}
