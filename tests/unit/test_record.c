/* test_record - envelope parsing and the hold/split plan */
#include "config.h"

#include <stdlib.h>

#include "milter/milter.h"
#include "tap.h"

/* add - a recipient marked dial-up or not */
static void
add(struct msg *m, const char *arg, int dialup)
{
	struct buf why = BUF_INIT;
	char	*noargs[] = { NULL };

	CHECK(record_add_rcpt(m, arg, noargs, &why) == 0, "rcpt %s: %s", arg,
	    why.len ? why.s : "");
	m->rcpt[m->nrcpt - 1].dialup = dialup;
	buf_free(&why);
}

/* test_plans - hold and split plans for mixed recipients */
static void
test_plans(void)
{
	struct msg m;
	struct plan p;
	struct buf why = BUF_INIT;

	memset(&m, 0, sizeof(m));
	CHECK(record_set_sender(&m, "<s@example.org>", NULL, &why) == 0,
	    "from");
	add(&m, "<a@example.com>", 0);
	CHECK(record_plan_make(&m, &p) == 0 && p.ngroups == 0 && p.hold == -1,
	    "no dial-up recipient: pass");
	record_plan_free(&p);

	record_set_sender(&m, "<s@example.org>", NULL, &why);
	add(&m, "<a@dialup.test>", 1);
	add(&m, "<b@DIALUP.test>", 1);
	CHECK(record_plan_make(&m, &p) == 1 && p.ngroups == 1 && p.hold == 0 &&
	    p.groups[0].n == 2 && p.nother == 0, "one domain: hold");
	CHECK_STR(p.groups[0].domain, "dialup.test", "domain normalised");
	record_plan_free(&p);

	record_set_sender(&m, "<s@example.org>", NULL, &why);
	add(&m, "<a@example.com>", 0);
	add(&m, "<b@dialup.test>", 1);
	add(&m, "<c@dialup2.test>", 1);
	add(&m, "<d@dialup.test>", 1);
	CHECK(record_plan_make(&m, &p) == 1 && p.ngroups == 2 && p.hold == -1 &&
	    p.nother == 1, "mixed: copies only, original not held");
	CHECK(p.groups[0].n == 2 && p.groups[0].idx[1] == 3,
	    "group collects both dialup.test recipients");
	record_plan_free(&p);

	record_set_sender(&m, "<s@example.org>", NULL, &why);
	add(&m, "<b@dialup.test>", 1);
	add(&m, "<c@dialup2.test>", 1);
	CHECK(record_plan_make(&m, &p) == 1 && p.ngroups == 2 && p.hold == 0,
	    "two dial-up domains: first held, second copied");
	record_plan_free(&p);
	record_reset(&m);
	buf_free(&why);
}

/* test_envelope - the envelope model: sender, recipients, ESMTP values */
static void
test_envelope(void)
{
	struct msg m;
	struct buf why = BUF_INIT, rec = BUF_INIT;
	char	*mail_ok[] = { "RET=hdrs", "ENVID=QQ314159", "SIZE=100",
		"BODY=8BITMIME", NULL };
	char	*mail_bad[] = { "RET=MAYBE", NULL };
	char	*body_bad[] = { "BODY=9BIT", NULL };
	char	*utf8[] = { "SMTPUTF8", NULL };
	char	*envid_bad[] = { "ENVID=a\r\nb", NULL };
	char	*rcpt_ok[] = { "NOTIFY=SUCCESS,FAILURE",
		"ORCPT=rfc822;a+40dialup.test", NULL };
	char	*rcpt_bad[] = { "ORCPT=no-type", NULL };
	char	*rcpt_crlf[] = { "NOTIFY=NEVER\r\nX-Injected: 1", NULL };
	struct plan p;

	memset(&m, 0, sizeof(m));
	CHECK(record_set_sender(&m, "<>", mail_ok, &why) == 0, "null sender");
	CHECK_STR(m.sender, "", "null sender stored empty");
	CHECK_STR(m.ret, "HDRS", "RET normalised");
	CHECK_STR(m.envid, "QQ314159", "ENVID");
	CHECK_STR(m.body, "8BITMIME", "BODY");
	CHECK(!m.smtputf8, "no SMTPUTF8");
	CHECK(record_set_sender(&m, "<s@x.test>", mail_bad, &why) < 0,
	    "bad RET refused");
	buf_reset(&why);
	CHECK(record_set_sender(&m, "<s@x.test>", envid_bad, &why) < 0,
	    "ENVID with CRLF refused");
	buf_reset(&why);
	CHECK(record_set_sender(&m, "<s@x.test>", body_bad, &why) < 0,
	    "bad BODY refused");
	buf_reset(&why);
	CHECK(record_set_sender(&m, "<s@x.test>", utf8, &why) == 0 &&
	    m.smtputf8, "SMTPUTF8");
	buf_reset(&why);
	CHECK(record_set_sender(&m, "<s@x.test>\r\nRCPT TO:<x@y>", NULL, &why) <
	    0, "sender with CRLF refused");
	buf_reset(&why);
	record_set_sender(&m, "<s@x.test>", NULL, &why);
	CHECK(record_add_rcpt(&m, "<a@dialup.test>", rcpt_ok, &why) == 0,
	    "rcpt with DSN");
	CHECK(record_add_rcpt(&m, "<b@dialup.test>", rcpt_bad, &why) < 0,
	    "ORCPT without type refused");
	buf_reset(&why);
	CHECK(record_add_rcpt(&m, "<b@dialup.test>", rcpt_crlf, &why) < 0,
	    "NOTIFY with CRLF refused");
	buf_reset(&why);
	CHECK(record_add_rcpt(&m, "<b\tc@dialup.test>", NULL, &why) < 0,
	    "TAB in address refused");
	buf_reset(&why);
	CHECK(record_add_rcpt(&m, "<b@dialup.test>", NULL, &why) == 0, "plain");
	CHECK_INT(m.nrcpt, 2, "refused recipients not kept");
	m.rcpt[0].dialup = m.rcpt[1].dialup = 1;
	record_plan_make(&m, &p);
	record_rcpts(&rec, &m, &p.groups[0]);
	CHECK_STR(rec.s, "a@dialup.test\tSUCCESS,FAILURE\t"
	    "rfc822;a+40dialup.test\nb@dialup.test\t\t\n", "record recipients");
	record_plan_free(&p);

	record_add_header(&m, "Subject", "hello", 40);
	record_add_header(&m, "X-Long", "0123456789012345678901234567890123",
	    40);
	record_add_header(&m, "X-After", "x", 40);
	CHECK_STR(m.headers.s, "Subject: hello\n", "bounded header copy");
	CHECK(m.headers_truncated == 1, "truncation recorded");
	CHECK_INT(m.size, 16 + 45 + 11, "size counts every header");
	record_reset(&m);
	buf_free(&why);
	buf_free(&rec);
}

/*
 * test_reason - the quarantine reason fits the 100 octets Postfix keeps:
 * whole up to an 83-octet domain, cut with "..." beyond, never inside a
 * UTF-8 sequence
 */
static void
test_reason(void)
{
	char	d83[84], d84[85], d253[254], utf[90];
	struct buf b = BUF_INIT, want = BUF_INIT;

	memset(d83, 'a', 83), d83[83] = '\0';
	memset(d84, 'b', 84), d84[84] = '\0';
	memset(d253, 'c', 253), d253[253] = '\0';
	d253[63] = d253[127] = d253[191] = '.';
	/* 79 octets, then a two-octet sequence across the cut at 80 */
	memset(utf, 'u', sizeof(utf) - 1), utf[sizeof(utf) - 1] = '\0';
	utf[79] = (char)0xc3, utf[80] = (char)0xa9;

	record_reason(&b, "dialup.test");
	CHECK_STR(b.s, "held for ETRN by dialup.test", "short domain");
	record_reason(&b, d83);
	buf_reset(&want), buf_printf(&want, "held for ETRN by %s", d83);
	CHECK_STR(b.s, want.s, "83 octets: whole");
	CHECK_INT(b.len, REASON_MAX, "83 octets: length");
	record_reason(&b, d84);
	buf_reset(&want), buf_printf(&want, "held for ETRN by %.80s...", d84);
	CHECK_STR(b.s, want.s, "84 octets: cut");
	CHECK_INT(b.len, REASON_MAX, "84 octets: length");
	record_reason(&b, d253);
	buf_reset(&want), buf_printf(&want, "held for ETRN by %.80s...", d253);
	CHECK_STR(b.s, want.s, "253 octets: cut");
	CHECK_INT(strlen(b.s), REASON_MAX, "253 octets: length");
	record_reason(&b, utf);
	buf_reset(&want), buf_printf(&want, "held for ETRN by %.79s...", utf);
	CHECK_STR(b.s, want.s, "cut before a UTF-8 sequence");
	buf_free(&b);
	buf_free(&want);
}

int
main(void)
{
	test_plans();
	test_envelope();
	test_reason();
	return TAP_DONE();
}
