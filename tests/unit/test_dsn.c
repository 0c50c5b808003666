/* test_dsn - NOTIFY decisions, xtext, Message-IDs, DSN structure, injection */
#include "config.h"

#include <stdlib.h>

#include "mail/dsn.h"
#include "mail/holdtag.h"
#include "tap.h"

#define ARRIVED	1790000000LL	/* Mon, 21 Sep 2026 14:13:20 +0000 */
#define DAY	86400LL
#define TOKEN	"0123456789abcdef0123456789abcdef"
#define TEST_KEY "0123456789abcdef0123456789abcdef test key"
#define NITEMS(v) (sizeof(v) / sizeof((v)[0]))

static const struct {
	enum dsn_action act;
	const char *notify, *sender;
	int	want;
} wanted[] = {
	{ DSN_FAILED, NULL, "s@example.org", 1 },
	{ DSN_DELAYED, NULL, "s@example.org", 1 },
	{ DSN_FAILED, "", "s@example.org", 1 },
	{ DSN_FAILED, NULL, "", 0 },
	{ DSN_DELAYED, NULL, "", 0 },
	{ DSN_FAILED, NULL, "<>", 0 },
	{ DSN_FAILED, NULL, NULL, 0 },
	{ DSN_FAILED, "FAILURE", "", 0 },
	{ DSN_FAILED, "NEVER", "s@example.org", 0 },
	{ DSN_DELAYED, "never", "s@example.org", 0 },
	{ DSN_FAILED, "FAILURE", "s@example.org", 1 },
	{ DSN_FAILED, "failure", "s@example.org", 1 },
	{ DSN_FAILED, "SUCCESS,FAILURE", "s@example.org", 1 },
	{ DSN_FAILED, "DELAY", "s@example.org", 0 },
	{ DSN_FAILED, "SUCCESS", "s@example.org", 0 },
	{ DSN_FAILED, "SUCCESS,DELAY", "s@example.org", 0 },
	{ DSN_DELAYED, "DELAY", "s@example.org", 1 },
	{ DSN_DELAYED, "Failure,Delay", "s@example.org", 1 },
	{ DSN_DELAYED, "FAILURE", "s@example.org", 0 },
	{ DSN_DELAYED, "SUCCESS,FAILURE", "s@example.org", 0 },
	{ DSN_FAILED, "FAILURES", "s@example.org", 0 },
	{ DSN_FAILED, "XFAILURE", "s@example.org", 0 },
	{ DSN_FAILED, "FAILURE,NEVER", "s@example.org", 0 },
};

static const struct {
	const char *in;
	int	ok;
	const char *out;
} xtexts[] = {
	{ "", 0, "" },
	{ "QQ314159", 0, "QQ314159" },
	{ "a+2Bb", 0, "a+b" },
	{ "a+2bb", 0, "a+b" },			/* lowercase accepted */
	{ "rfc822;user+40host", 0, "rfc822;user@host" },
	{ "+3D+2B", 0, "=+" },
	{ "x+0D+0ABcc:+20evil", 0, "x\r\nBcc: evil" },
	{ "a+", -1, "" },
	{ "a+2", -1, "" },
	{ "a+2G", -1, "" },
	{ "a+G2", -1, "" },
	{ "a=b", -1, "" },
	{ "a b", -1, "" },
	{ "a\nb", -1, "" },
	{ "a\x7f", -1, "" },
	{ "caf\xc3\xa9", -1, "" },
};

/* Each once in the top header; the last one is optional. */
static const char *const top_names[] = { "From", "To", "Subject", "Date",
	"Message-ID", "Auto-Submitted", "MIME-Version", "Content-Type",
	"Content-Transfer-Encoding" };
static const char *const ds_names[] = { "Reporting-MTA",
	"X-Openetrn-Queue-ID", "Original-Envelope-Id", "Arrival-Date",
	"Original-Recipient", "Final-Recipient", "Action", "Status",
	"Diagnostic-Code", "Will-Retry-Until" };

static const char hdrs[] =
    "Received: from client.example.org\r\n"
    "\tby mx.lab.test (Postfix) with ESMTP id 4Xz1nN0Qb2zN4Vk\r\n"
    "X-ETRN-Hold: dialup.test; host=mx.lab.test;\r\n"
    " token=" TOKEN ";\r\n"
    "\tarrived=1790000000; expires=1790432000\r\n"
    "Subject: Minutes\r\n"
    "X-Bare: a\rb\r\n"
    "\r\n"
    "body that is not returned with headers\r\n";

/* test_wanted - NOTIFY and the null sender */
static void
test_wanted(void)
{
	size_t	i;

	for (i = 0; i < NITEMS(wanted); i++)
		CHECK(dsn_wanted(wanted[i].act, wanted[i].notify,
		    wanted[i].sender) == wanted[i].want,
		    "dsn_wanted(%s, %s, %s): want %d",
		    wanted[i].act == DSN_FAILED ? "failed" : "delayed",
		    wanted[i].notify ? wanted[i].notify : "NULL",
		    wanted[i].sender ? wanted[i].sender : "NULL",
		    wanted[i].want);
}

/* test_xtext - decoding and malformed input */
static void
test_xtext(void)
{
	struct buf b = BUF_INIT;
	size_t	i;
	int	st;

	for (i = 0; i < NITEMS(xtexts); i++) {
		st = dsn_xtext_decode(xtexts[i].in, &b);
		CHECK_INT(st, xtexts[i].ok, xtexts[i].in);
		if (st == 0)
			CHECK_STR(b.s, xtexts[i].out, xtexts[i].in);
	}
	CHECK(dsn_xtext_decode("a+00b", &b) == 0 && b.len == 3 &&
	    b.s[1] == '\0', "+00 decodes to NUL, counted in len");
	buf_free(&b);
}

/* test_message_id - deterministic, keyed, well formed, no token */
static void
test_message_id(void)
{
	struct buf a = BUF_INIT, b = BUF_INIT;

	dsn_message_id(&a, DSN_FAILED, TOKEN, "mx.lab.test");
	CHECK(strncmp(a.s, "<expired.", 9) == 0 && strlen(a.s) == 9 + 32 +
	    13 && strspn(a.s + 9, "0123456789abcdef") == 32 &&
	    strcmp(a.s + 41, "@mx.lab.test>") == 0, "failed id '%s'", a.s);
	CHECK(strstr(a.s, TOKEN) == NULL, "the token shows in '%s'", a.s);
	dsn_message_id(&b, DSN_FAILED, TOKEN, "mx.lab.test");
	CHECK_STR(b.s, a.s, "same input, same id");
	dsn_message_id(&b, DSN_DELAYED, TOKEN, "mx.lab.test");
	CHECK(strncmp(b.s, "<delayed.", 9) == 0 && strstr(b.s, TOKEN) ==
	    NULL && strcmp(a.s + 9, b.s + 9) != 0, "delayed id '%s'", b.s);
	dsn_message_id(&b, DSN_FAILED, TOKEN, "mx2.lab.test");
	CHECK(strcmp(a.s, b.s) != 0, "other host, other id");
	dsn_message_id(&b, DSN_FAILED, "fedcba9876543210fedcba9876543210",
	    "mx.lab.test");
	CHECK(strcmp(a.s, b.s) != 0, "other token, other id");
	holdtag_key_set("another key, another installation", 33);
	dsn_message_id(&b, DSN_FAILED, TOKEN, "mx.lab.test");
	CHECK(strcmp(a.s, b.s) != 0, "other key, other id");
	holdtag_key_set(TEST_KEY, sizeof(TEST_KEY) - 1);
	dsn_message_id(&b, DSN_FAILED, "ab>\r\nX: y", "h<o@st");
	CHECK(strncmp(b.s, "<expired.", 9) == 0 && strspn(b.s + 9,
	    "0123456789abcdef") == 32 && strcmp(b.s + 41, "@h_o_st>") == 0,
	    "hostile parts '%s'", b.s);
	dsn_message_id(&b, DSN_FAILED, "", NULL);
	CHECK_STR(b.s, "<expired.invalid@invalid>", "missing parts");
	buf_free(&a);
	buf_free(&b);
}

/* input - a failed DSN with three recipients, one not wanting it */
static void
input(struct dsn_input *in, const struct dsn_rcpt *r, size_t n)
{
	memset(in, 0, sizeof(*in));
	in->action = DSN_FAILED;
	in->reporting_mta = "mx.lab.test";
	in->domain = "dialup.test";
	in->queue_id = "4Xz1nN0Qb2zN4Vk";
	in->token = TOKEN;
	in->sender = "alice@example.org";
	in->envid = "QQ314159+2Bx";
	in->arrived = ARRIVED;
	in->expires = ARRIVED + 5 * DAY;
	in->now = in->expires + 120;
	in->rcpt = r;
	in->nrcpt = n;
	in->original = hdrs;
	in->original_len = sizeof(hdrs) - 1;
}

/* starts - does s start with prefix */
static int
starts(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* line_is - does the line at p start with "name:" */
static int
line_is(const char *p, const char *name)
{
	size_t	n = strlen(name);

	return strncmp(p, name, n) == 0 && p[n] == ':';
}

/* count_field - lines of [p, end) starting with "name:" */
static int
count_field(const char *p, const char *end, const char *name)
{
	int	n = 0;

	for (; p < end; p = strchr(p, '\n') + 1)
		n += line_is(p, name);
	return n;
}

/* fields_known - every line of [p, end) is a known field, folded or blank */
static int
fields_known(const char *p, const char *end, const char *const *names,
    size_t nnames)
{
	size_t	i;
	int	ok;

	for (; p < end; p = strchr(p, '\n') + 1) {
		ok = *p == '\n' || *p == ' ' || *p == '\t';
		for (i = 0; !ok && i < nnames; i++)
			ok = line_is(p, names[i]);
		if (!ok || (*p == ' ' && p[1] == '\n')) {
			fprintf(stderr, "unexpected line: %.*s\n",
			    (int)(strchr(p, '\n') - p), p);
			return 0;
		}
	}
	return 1;
}

/* Where the parts of a built DSN are. */
struct parsed {
	char	bnd[128];
	const char *hend;	/* end of the top header (at the blank line) */
	const char *part[3];	/* start of each part's header */
	const char *pend[3];	/* end of each part's content */
};

/* parse - find the boundary and the three parts; 0 on success */
static int
parse(const char *m, struct parsed *ps)
{
	const char *p, *q;
	char	delim[140];
	size_t	n;
	int	i;

	memset(ps, 0, sizeof(*ps));
	if ((p = strstr(m, "\n\n")) == NULL)
		return -1;
	ps->hend = p + 1;
	if ((p = strstr(m, "boundary=\"")) == NULL || p > ps->hend)
		return -1;
	p += strlen("boundary=\"");
	if ((q = strchr(p, '"')) == NULL || (n = (size_t)(q - p)) == 0 ||
	    n > 70 || strspn(p, "0123456789abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ'()+_,-./:=?") < n)
		return -1;
	memcpy(ps->bnd, p, n);
	snprintf(delim, sizeof(delim), "\n--%s", ps->bnd);
	p = ps->hend;
	for (i = 0; i < 3; i++) {
		if ((p = strstr(p, delim)) == NULL || p[strlen(delim)] != '\n')
			return -1;
		if (i > 0)
			ps->pend[i - 1] = p + 1;
		ps->part[i] = p = p + strlen(delim) + 1;
	}
	if ((p = strstr(p, delim)) == NULL || strcmp(p + strlen(delim),
	    "--\n") != 0)
		return -1;
	ps->pend[2] = p + 1;
	return 0;
}

/* body_of - the content of a part, after its header */
static const char *
body_of(const struct parsed *ps, int i)
{
	const char *p = strstr(ps->part[i], "\n\n");

	return p && p < ps->pend[i] ? p + 2 : ps->pend[i];
}

/* has - does [p, end) contain s */
static int
has(const char *p, const char *end, const char *s)
{
	const char *q = strstr(p, s);

	return q != NULL && q + strlen(s) <= end;
}

/* has_text - does [p, end) contain s, line breaks read as spaces */
static int
has_text(const char *p, const char *end, const char *s)
{
	char	*t = strndup(p, (size_t)(end - p)), *q;
	int	found;

	for (q = t; *q; q++)
		if (*q == '\n')
			*q = ' ';
	found = strstr(t, s) != NULL;
	free(t);
	return found;
}

/* check_structure - what every DSN must look like */
static void
check_structure(const char *m, struct parsed *ps, int nrcpt)
{
	const char *ds;
	size_t	i;

	CHECK(parse(m, ps) == 0, "structure: %s", m);
	if (ps->hend == NULL || ps->pend[2] == NULL)
		return;
	for (i = 0; i < NITEMS(top_names) - 1; i++)
		CHECK_INT(count_field(m, ps->hend, top_names[i]), 1,
		    top_names[i]);
	CHECK(fields_known(m, ps->hend, top_names, NITEMS(top_names)),
	    "top header: only known fields");
	CHECK(count_field(m, ps->hend, "Content-Transfer-Encoding") <= 1,
	    "Content-Transfer-Encoding");
	CHECK(strchr(m, '\r') == NULL, "no CR anywhere");
	CHECK(has(ps->part[1], ps->pend[1],
	    "Content-Type: message/delivery-status\n"), "part 2 type");
	ds = body_of(ps, 1);
	CHECK(fields_known(ds, ps->pend[1], ds_names, NITEMS(ds_names)),
	    "delivery-status: only known fields");
	CHECK_INT(count_field(ds, ps->pend[1], "Reporting-MTA"), 1,
	    "Reporting-MTA");
	CHECK_INT(count_field(ds, ps->pend[1], "Final-Recipient"), nrcpt,
	    "Final-Recipient per recipient");
	CHECK_INT(count_field(ds, ps->pend[1], "Action"), nrcpt, "Action");
	CHECK_INT(count_field(ds, ps->pend[1], "Status"), nrcpt, "Status");
	CHECK_INT(count_field(ds, ps->pend[1], "Diagnostic-Code"), nrcpt,
	    "Diagnostic-Code");
}

/* test_failed - RET=HDRS failure report */
static void
test_failed(void)
{
	static const struct dsn_rcpt r[] = {
		{ "bob@dialup.test", "FAILURE", "rfc822;bob+2Bf@dialup.test" },
		{ "carol@dialup.test", "NEVER", NULL },
		{ "dave@dialup.test", NULL, NULL },
	};
	struct dsn_input in;
	struct buf out = BUF_INIT, err = BUF_INIT, mid = BUF_INIT;
	struct parsed ps;
	const char *m, *ds, *o;

	input(&in, r, NITEMS(r));
	CHECK(dsn_build(&in, &out, &err) == 0, "build: %s", err.s);
	m = out.s;
	check_structure(m, &ps, 2);
	if (ps.pend[2] == NULL)
		goto done;
	dsn_message_id(&mid, DSN_FAILED, TOKEN, "mx.lab.test");
	CHECK(strstr(m, mid.s) != NULL, "Message-ID from dsn_message_id");
	CHECK(starts(m, "From: Mail Delivery System "
	    "<MAILER-DAEMON@mx.lab.test>\nTo: alice@example.org\n"
	    "Subject: Undelivered Mail Returned to Sender\n"
	    "Date: Sat, 26 Sep 2026 14:15:20 +0000\n"),
	    "top header: %.200s", m);
	CHECK(has(m, ps.hend, "\nAuto-Submitted: auto-replied\n"), "auto");
	CHECK(!has(m, ps.hend, "Content-Transfer-Encoding"), "7bit");
	CHECK(has(ps.part[0], ps.pend[0], "charset=us-ascii"), "us-ascii");
	CHECK(has(ps.part[0], ps.pend[0], "dialup.test"), "text: domain");
	CHECK(has_text(ps.part[0], ps.pend[0], "Mail for the domain "
	    "dialup.test is held here until the domain's own mail server "
	    "connects and collects it (SMTP ETRN). It did not connect to "
	    "collect your "
	    "message within 5 days of its arrival on Mon, 21 Sep 2026 "
	    "14:13:20 +0000."), "text: domain, ETRN, duration, arrival");
	CHECK(has_text(ps.part[0], ps.pend[0], "is returned to you and will "
	    "not be delivered."), "text: not delivered");
	CHECK(has_text(ps.part[0], ps.pend[0],
	    "Its headers are attached to this report."),
	    "text: headers attached");
	CHECK(!has(ps.part[0], ps.pend[0], "carol"), "text: NEVER left out");
	ds = body_of(&ps, 1);
	CHECK(starts(ds, "Reporting-MTA: dns; mx.lab.test\n"
	    "X-Openetrn-Queue-ID: 4Xz1nN0Qb2zN4Vk\n"
	    "Original-Envelope-Id: QQ314159+x\n"
	    "Arrival-Date: Mon, 21 Sep 2026 14:13:20 +0000\n\n"
	    "Original-Recipient: rfc822;bob+f@dialup.test\n"
	    "Final-Recipient: rfc822; bob@dialup.test\n"
	    "Action: failed\nStatus: 4.4.7\n"
	    "Diagnostic-Code: X-Openetrn; held for ETRN: dialup.test did not "
	    "connect within\n 5 days\n\n"
	    "Final-Recipient: rfc822; dave@dialup.test\n"),
	    "delivery-status: %s", ds);
	CHECK(!has(ds, ps.pend[1], "Will-Retry-Until"), "no retry when failed");
	CHECK(has(ps.part[2], ps.pend[2],
	    "Content-Type: text/rfc822-headers\n"),
	    "part 3 type");
	o = body_of(&ps, 2);
	CHECK(starts(o, "Received: from client.example.org\n\tby mx.lab.test "
	    "(Postfix) with ESMTP id 4Xz1nN0Qb2zN4Vk\nSubject: Minutes\n"
	    "X-Bare: a b\n\n--"), "headers returned: %s", o);
done:
	buf_free(&out);
	buf_free(&err);
	buf_free(&mid);
}

/* test_delayed - the delay warning */
static void
test_delayed(void)
{
	static const struct dsn_rcpt r[] = {
		{ "bob@dialup.test", "DELAY", NULL },
		{ "carol@dialup.test", "FAILURE", NULL },
	};
	struct dsn_input in;
	struct buf out = BUF_INIT, err = BUF_INIT;
	struct parsed ps;
	const char *ds;

	input(&in, r, NITEMS(r));
	in.action = DSN_DELAYED;
	in.envid = NULL;
	in.now = ARRIVED + 2 * DAY + 3 * 3600 + 59;
	CHECK(dsn_build(&in, &out, &err) == 0, "build: %s", err.s);
	check_structure(out.s, &ps, 1);
	if (ps.pend[2] == NULL)
		goto done;
	CHECK(has(out.s, ps.hend,
	    "\nSubject: Delayed Mail (still being held)\n"),
	    "subject");
	dsn_message_id(&err, DSN_DELAYED, TOKEN, "mx.lab.test");
	CHECK(has(out.s, ps.hend, err.s), "id");
	CHECK(strstr(out.s, TOKEN) == NULL, "the token shows in the DSN");
	buf_reset(&err);
	CHECK(has_text(ps.part[0], ps.pend[0], "in the 2 days 3 hours since "
	    "its arrival on Mon, 21 Sep 2026 14:13:20 +0000."), "held for");
	CHECK(has_text(ps.part[0], ps.pend[0], "is still held and will be kept "
	    "until Sat, 26 Sep 2026 14:13:20 +0000."), "still held, until");
	ds = body_of(&ps, 1);
	CHECK(!has(ds, ps.pend[1], "Original-Envelope-Id"), "no envid");
	CHECK(has(ds, ps.pend[1], "\nAction: delayed\nStatus: 4.4.1\n"),
	    "action and status");
	CHECK(has(ds, ps.pend[1], "\nWill-Retry-Until: Sat, 26 Sep 2026 "
	    "14:13:20 +0000\n"), "Will-Retry-Until");
	CHECK(has(ds, ps.pend[1], "within\n 2 days 3 hours\n"), "diagnostic");
done:
	buf_free(&out);
	buf_free(&err);
}

/* test_full - RET=FULL, 8bit content, boundary-like lines in the body */
static void
test_full(void)
{
	static const char orig[] =
	    "Subject: x\nX-ETRN-HOLD:dialup.test; token=" TOKEN "\n"
	    "\tarrived=1\nX-ETRN-Holder: kept\n\n"
	    "K\xc3\xb6ln\nX-ETRN-Hold: body line kept\n"
	    "--=_openetrn_\n--=_openetrn_--\n";
	static const struct dsn_rcpt r[] = {
		{ "j\xc3\xb6rg@dialup.test", NULL, NULL },
		{ "bad\xff@dialup.test", NULL, NULL },
	};
	struct dsn_input in;
	struct buf out = BUF_INIT, err = BUF_INIT;
	struct parsed ps;
	const char *o;

	input(&in, r, NITEMS(r));
	in.original = orig;
	in.original_len = sizeof(orig) - 1;
	in.original_is_full = 1;
	CHECK(dsn_build(&in, &out, &err) == 0, "build: %s", err.s);
	check_structure(out.s, &ps, 2);
	if (ps.pend[2] == NULL)
		goto done;
	CHECK(has(out.s, ps.hend, "\nContent-Transfer-Encoding: 8bit\n"),
	    "top 8bit");
	CHECK(has(ps.part[0], ps.pend[0], "charset=utf-8\n"
	    "Content-Transfer-Encoding: 8bit\n"), "text part utf-8");
	CHECK(has(ps.part[0], ps.pend[0], "    j\xc3\xb6rg@dialup.test\n"),
	    "UTF-8 recipient listed");
	CHECK(has(ps.part[0], ps.pend[0], "    bad?@dialup.test\n"),
	    "invalid UTF-8 made '?'");
	CHECK(has_text(ps.part[0], ps.pend[0],
	    "A copy is attached to this report."),
	    "text: copy attached");
	CHECK(has(body_of(&ps, 1), ps.pend[1], "\nFinal-Recipient: utf-8; "
	    "j\\x{F6}rg@dialup.test\n"), "RFC 6533 utf-8 address type");
	CHECK(has(body_of(&ps, 1), ps.pend[1], "\nFinal-Recipient: utf-8; "
	    "bad?@dialup.test\n"), "invalid UTF-8 in the xtext form");
	CHECK(has(ps.part[2], ps.pend[2], "Content-Type: message/rfc822\n"
	    "Content-Transfer-Encoding: 8bit\n\n"), "part 3 type");
	o = body_of(&ps, 2);
	CHECK(starts(o, "Subject: x\nX-ETRN-Holder: kept\n\nK\xc3\xb6ln\n"
	    "X-ETRN-Hold: body line kept\n--=_openetrn_\n"
	    "--=_openetrn_--\n\n--"),
	    "message returned: %s", o);
done:
	buf_free(&out);
	buf_free(&err);
}

/* test_injection - nothing from the input adds a header line */
static void
test_injection(void)
{
	static const struct dsn_rcpt r[] = {
		{ "bob@dialup.test", NULL, "rfc822;a+0D+0AX-Injected:+201" },
		{ "eve@dialup.test\r\nX-Injected: 2", "FAILURE", NULL },
		{ "ann@dialup.test", NULL, "rfc822;ann+00@dialup.test" },
	};
	struct dsn_input in;
	struct buf out = BUF_INIT, err = BUF_INIT;
	struct parsed ps;
	const char *ds;

	input(&in, r, NITEMS(r));
	in.envid = "x+0D+0ABcc:+20evil@x";
	in.sender = "a@b\nBcc: evil@example.net";
	in.queue_id = "4Xz1nN0Qb2zN4Vk\nX-Injected: 3";
	in.domain = "dialup.test\nX-Injected: 4";
	in.reporting_mta = "mx.lab.test\r\nX-Injected: 5";
	CHECK(dsn_build(&in, &out, &err) == 0, "build: %s", err.s);
	check_structure(out.s, &ps, 3);
	if (ps.pend[2] == NULL)
		goto done;
	CHECK(strstr(out.s, "\nX-Injected") == NULL, "X-Injected line");
	CHECK(strstr(out.s, "\nBcc") == NULL, "Bcc line");
	CHECK(has(out.s, ps.hend, "\nTo: a@b?Bcc: evil@example.net\n"), "To");
	ds = body_of(&ps, 1);
	CHECK(has(ds, ps.pend[1], "\nOriginal-Envelope-Id: x+0D+0ABcc:+20evil"
	    "@x\n"), "envid with controls kept as xtext");
	CHECK(has(ds, ps.pend[1], "\nOriginal-Recipient: rfc822;a+0D+0A"
	    "X-Injected:+201\n"), "orcpt with controls kept as xtext");
	CHECK(has(ds, ps.pend[1], "\nOriginal-Recipient: rfc822;ann+00@"
	    "dialup.test\n"), "orcpt with NUL kept as xtext");
	CHECK(has(ds, ps.pend[1], "\nFinal-Recipient: rfc822; eve@dialup.test"
	    "??X-Injected: 2\n"), "recipient controls made '?'");
done:
	buf_free(&out);
	buf_free(&err);
}

/* test_refused - no DSN at all */
static void
test_refused(void)
{
	static const struct dsn_rcpt never[] = {
		{ "bob@dialup.test", "NEVER", NULL },
		{ "carol@dialup.test", "SUCCESS", NULL },
	};
	static const struct dsn_rcpt ok[] = {
		{ "bob@dialup.test", NULL, NULL },
	};
	struct dsn_rcpt longr[1];
	struct dsn_input in;
	struct buf out = BUF_INIT, err = BUF_INIT;
	char	*addr;

	input(&in, never, NITEMS(never));
	CHECK(dsn_build(&in, &out, &err) < 0 && err.len > 0 && out.len == 0,
	    "no recipient wants it");
	buf_reset(&err);
	input(&in, ok, NITEMS(ok));
	in.sender = "";
	CHECK(dsn_build(&in, &out, &err) < 0 && err.len > 0, "null sender");
	buf_reset(&err);
	input(&in, ok, NITEMS(ok));
	in.token = NULL;
	CHECK(dsn_build(&in, &out, &err) < 0 && err.len > 0, "no token");
	buf_reset(&err);
	addr = malloc(1201);
	memset(addr, 'a', 1200);
	addr[1200] = '\0';
	longr[0].addr = addr;
	longr[0].notify = longr[0].orcpt = NULL;
	input(&in, longr, 1);
	CHECK(dsn_build(&in, &out, &err) < 0 && strstr(err.s, "998") != NULL,
	    "overlong address refused: %s", err.s ? err.s : "");
	free(addr);
	buf_free(&out);
	buf_free(&err);
}

/* test_folding - long values folded, lines within limits */
static void
test_folding(void)
{
	static const struct dsn_rcpt r[] = {
		{ "bob@dialup.test", NULL, NULL },
	};
	struct dsn_input in;
	struct buf out = BUF_INIT, err = BUF_INIT, host = BUF_INIT;
	struct parsed ps;
	const char *p, *e;
	int	i;

	for (i = 0; i < 5; i++)
		buf_cat(&host, "abcdefghijklmnopqrstuvwxyz"
		    "0123456789abcdefghijk.");
	buf_cat(&host, "example");
	input(&in, r, NITEMS(r));
	in.reporting_mta = host.s;
	in.domain = host.s;
	in.original = "";
	in.original_len = 0;
	CHECK(dsn_build(&in, &out, &err) == 0, "build: %s", err.s);
	check_structure(out.s, &ps, 1);
	for (p = out.s; *p; p = e + 1) {
		e = strchr(p, '\n');
		CHECK(e - p <= 78 || memchr(p + 1, ' ', (size_t)(e - p - 1)) ==
		    NULL, "unfolded line: %.*s", (int)(e - p), p);
		CHECK(e - p <= 998, "line > 998");
	}
	if (ps.pend[2] != NULL)
		CHECK(has(ps.part[2], ps.pend[2], "text/plain") &&
		    has(ps.part[2], ps.pend[2], "not available") &&
		    !has(ps.part[0], ps.pend[0], "attached"),
		    "empty original: a note, nothing said attached");
	buf_free(&out);
	buf_free(&err);
	buf_free(&host);
}

/*
 * What the returned part is declared as, and what the DSN must declare
 * in MAIL FROM (dsn_needs), by the kind of original (RFC 6152, 6531-6533).
 */
static const char o_ascii[] = "Subject: plain\r\n\r\nplain body\r\n";
static const char o_body8[] = "Subject: plain\r\n\r\n"
    "Gr\xc3\xbc\xc3\x9f" "e\r\n";
static const char o_hdr8[] = "Subject: Gr\xc3\xbc\xc3\x9f" "e\r\n"
    "From: J\xc3\xb6rg <j\xc3\xb6rg@example.org>\r\n\r\nplain body\r\n";
static const char o_latin1[] = "Subject: Gr\xfc\xdf" "e\r\n\r\nbody\r\n";
static const char o_fake[] = "Subject: plain\r\n\r\n"
    "Content-Type: message/global\r\n\r\n\xc3\xa9\r\n";

static const struct {
	const char *name;
	const char *orig;
	size_t	len;
	int	full;
	const char *sender, *rcpt;
	const char *want_type;
	int	want_needs;
	int	want_cte8;	/* part 3 has Content-Transfer-Encoding: 8bit */
} kinds[] = {
#define O(s) s, sizeof(s) - 1
	{ "ascii, HDRS", O(o_ascii), 0, NULL, NULL,
	    "text/rfc822-headers", 0, 0 },
	{ "ascii, FULL", O(o_ascii), 1, NULL, NULL, "message/rfc822", 0, 0 },
	{ "8-bit body, FULL", O(o_body8), 1, NULL, NULL, "message/rfc822",
	    DSN_8BITMIME, 1 },
	{ "8-bit body, HDRS", O(o_body8), 0, NULL, NULL,
	    "text/rfc822-headers", 0, 0 },
	{ "UTF-8 header, FULL", O(o_hdr8), 1, NULL, NULL, "message/global",
	    DSN_8BITMIME | DSN_GLOBAL, 1 },
	{ "UTF-8 header, HDRS", O(o_hdr8), 0, NULL, NULL,
	    "message/global-headers", DSN_8BITMIME | DSN_GLOBAL, 1 },
	{ "Latin-1 header, FULL", O(o_latin1), 1, NULL, NULL,
	    "message/rfc822", DSN_8BITMIME, 1 },
	{ "UTF-8 sender, ascii original", O(o_ascii), 1,
	    "j\xc3\xb6rg@example.org", NULL, "message/rfc822",
	    DSN_8BITMIME | DSN_SMTPUTF8, 0 },
	{ "UTF-8 recipient, ascii original", O(o_ascii), 0, NULL,
	    "b\xc3\xa9@dialup.test", "text/rfc822-headers", DSN_8BITMIME, 0 },
	{ "message/global only in the body", O(o_fake), 1, NULL, NULL,
	    "message/rfc822", DSN_8BITMIME, 1 },
#undef O
};

/* test_kinds - content type of the original and MAIL FROM parameters */
static void
test_kinds(void)
{
	struct dsn_rcpt r = { "bob@dialup.test", NULL, NULL };
	struct dsn_input in;
	struct buf out = BUF_INIT, err = BUF_INIT, ct = BUF_INIT;
	struct parsed ps;
	size_t	i;
	int	got;

	for (i = 0; i < NITEMS(kinds); i++) {
		r.addr = kinds[i].rcpt ? kinds[i].rcpt : "bob@dialup.test";
		input(&in, &r, 1);
		if (kinds[i].sender)
			in.sender = kinds[i].sender;
		in.original = kinds[i].orig;
		in.original_len = kinds[i].len;
		in.original_is_full = kinds[i].full;
		buf_reset(&err);
		CHECK(dsn_build(&in, &out, &err) == 0, "%s: build: %s",
		    kinds[i].name, err.s);
		check_structure(out.s, &ps, 1);
		if (ps.pend[2] == NULL)
			continue;
		buf_reset(&ct);
		buf_printf(&ct, "Content-Type: %s\n", kinds[i].want_type);
		CHECK(has(ps.part[2], body_of(&ps, 2), ct.s),
		    "%s: part 3 got '%.*s', want '%s'", kinds[i].name,
		    (int)(body_of(&ps, 2) - ps.part[2]), ps.part[2],
		    kinds[i].want_type);
		CHECK(has(ps.part[2], body_of(&ps, 2),
		    "Content-Transfer-Encoding: 8bit\n") == kinds[i].want_cte8,
		    "%s: part 3 8bit CTE: want %d", kinds[i].name,
		    kinds[i].want_cte8);
		got = dsn_needs(out.s, out.len);
		CHECK(got == kinds[i].want_needs, "%s: dsn_needs got %#x, "
		    "want %#x", kinds[i].name, (unsigned)got,
		    (unsigned)kinds[i].want_needs);
	}
	buf_free(&out);
	buf_free(&err);
	buf_free(&ct);
}


/* qp_lines_ok - every line of [p, end) at most 76 octets, none ending in
 * white space, no octet >= 0x80 (RFC 2045 6.7) */
static int
qp_lines_ok(const char *p, const char *end)
{
	const char *e;

	for (; p < end; p = e + 1) {
		if ((e = memchr(p, '\n', (size_t)(end - p))) == NULL)
			e = end;
		if (e - p > 76 || (e > p && (e[-1] == ' ' || e[-1] == '\t')))
			return 0;
		for (; p < e; p++)
			if ((unsigned char)*p >= 0x80)
				return 0;
	}
	return 1;
}

/* A long 8-bit line, trailing blanks, '=': quoted-printable's cases. */
static const char o_qp[] = "Subject: Gr\xc3\xbc\xc3\x9f" "e =?x?= \r\n"
    "X-Long: \xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
    "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
    "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
    "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9 \t\r\n\r\n"
    "body\t\r\n";

/* The downgrade of each kind: the type of part 3 and its encoding. */
static const struct {
	const char *name;
	const char *orig;
	size_t	len;
	int	full, eightbit, utf8;
	const char *want_type, *want_cte;	/* NULL: no CTE line */
	int	want_same;	/* the message is left byte for byte */
} downs[] = {
#define O(s) s, sizeof(s) - 1
	{ "ascii, no 8BITMIME", O(o_ascii), 1, 0, 0, "message/rfc822", NULL,
	    1 },
	{ "8-bit body, no 8BITMIME", O(o_body8), 1, 0, 0,
	    "text/rfc822-headers", NULL, 0 },
	{ "8-bit body, no SMTPUTF8", O(o_body8), 1, 1, 0, "message/rfc822",
	    "8bit", 1 },
	{ "Latin-1 header, no 8BITMIME", O(o_latin1), 1, 0, 0,
	    "text/rfc822-headers", "quoted-printable", 0 },
	{ "UTF-8 header, no 8BITMIME", O(o_hdr8), 1, 0, 0, "message/global",
	    "quoted-printable", 0 },
	{ "UTF-8 header HDRS, no SMTPUTF8", O(o_hdr8), 0, 1, 0,
	    "message/global-headers", "quoted-printable", 0 },
	{ "UTF-8 header, both offered", O(o_hdr8), 1, 1, 1, "message/global",
	    "8bit", 1 },
	{ "long lines, no 8BITMIME", O(o_qp), 0, 0, 0,
	    "message/global-headers", "quoted-printable", 0 },
#undef O
};

/* test_downgrade - dsn_downgrade for servers without 8BITMIME, SMTPUTF8 */
static void
test_downgrade(void)
{
	struct dsn_rcpt r = { "bob@dialup.test", NULL, NULL };
	struct dsn_input in;
	struct buf out = BUF_INIT, err = BUF_INIT, d = BUF_INIT,
	    want = BUF_INIT;
	struct parsed ps;
	const char *b;
	size_t	i;

	for (i = 0; i < NITEMS(downs); i++) {
		input(&in, &r, 1);
		in.original = downs[i].orig;
		in.original_len = downs[i].len;
		in.original_is_full = downs[i].full;
		CHECK(dsn_build(&in, &out, &err) == 0, "%s: build",
		    downs[i].name);
		CHECK(dsn_downgrade(out.s, out.len, downs[i].eightbit,
		    downs[i].utf8, &d) == 0, "%s: downgrade", downs[i].name);
		if (downs[i].want_same) {
			CHECK(d.len == out.len && memcmp(d.s, out.s,
			    d.len) == 0, "%s: changed: '%s'", downs[i].name,
			    d.s);
			continue;
		}
		check_structure(d.s, &ps, 1);
		if (ps.pend[2] == NULL)
			continue;
		b = body_of(&ps, 2);
		buf_reset(&want);
		buf_printf(&want, "Content-Type: %s\n", downs[i].want_type);
		CHECK(has(ps.part[2], b, want.s), "%s: part 3 got '%.*s', "
		    "want '%s'", downs[i].name, (int)(b - ps.part[2]),
		    ps.part[2], downs[i].want_type);
		CHECK(has(ps.part[2], b, "Content-Transfer-Encoding:") ==
		    (downs[i].want_cte != NULL), "%s: part 3 CTE",
		    downs[i].name);
		if (downs[i].want_cte != NULL) {
			buf_reset(&want);
			buf_printf(&want, "Content-Transfer-Encoding: %s\n",
			    downs[i].want_cte);
			CHECK(has(ps.part[2], b, want.s), "%s: want '%s'",
			    downs[i].name, want.s);
		}
		if (!downs[i].eightbit) {
			CHECK(dsn_needs(d.s, d.len) == 0, "%s: still needs "
			    "%#x", downs[i].name, (unsigned)dsn_needs(d.s,
			    d.len));
			CHECK(!has(d.s, d.s + d.len, "Content-Transfer-"
			    "Encoding: 8bit"), "%s: 8bit declared",
			    downs[i].name);
		}
		if (downs[i].want_cte != NULL && strcmp(downs[i].want_cte,
		    "quoted-printable") == 0)
			CHECK(qp_lines_ok(b, ps.pend[2]), "%s: not QP-safe: "
			    "'%.*s'", downs[i].name, (int)(ps.pend[2] - b), b);
		CHECK(has_text(d.s, d.s + d.len, "Only the headers of your "
		    "message are attached") == (strcmp(downs[i].want_type,
		    "text/rfc822-headers") == 0 && downs[i].full),
		    "%s: the note on headers only", downs[i].name);
	}
	/* A sender that looks like a boundary parameter (found by fuzzing). */
	input(&in, &r, 1);
	in.sender = "a@b boundary=\"zz\"";
	in.original = o_hdr8;
	in.original_len = sizeof(o_hdr8) - 1;
	in.original_is_full = 1;
	CHECK(dsn_build(&in, &out, &err) == 0, "boundary sender: build");
	CHECK(dsn_needs(out.s, out.len) == (DSN_8BITMIME | DSN_GLOBAL),
	    "boundary sender: needs %#x", (unsigned)dsn_needs(out.s, out.len));
	CHECK(dsn_downgrade(out.s, out.len, 0, 0, &d) == 0 &&
	    dsn_needs(d.s, d.len) == 0, "boundary sender: downgrade");
	CHECK(dsn_downgrade("Subject: x\n\nno MIME\n", 21, 0, 0, &d) < 0 &&
	    d.len == 0, "not a DSN: want -1");
	buf_free(&out);
	buf_free(&err);
	buf_free(&d);
	buf_free(&want);
}

int
main(void)
{
	holdtag_key_set(TEST_KEY, sizeof(TEST_KEY) - 1);
	test_wanted();
	test_xtext();
	test_message_id();
	test_failed();
	test_delayed();
	test_full();
	test_injection();
	test_refused();
	test_folding();
	test_kinds();
	test_downgrade();
	return TAP_DONE();
}
