/*
 * NAME
 *	dsn-dump - write a DSN built by dsn_build() for a fixed scenario
 * SUMMARY
 *	dsn-dump failed-hdrs|failed-full|delayed|utf8|injection|empty|
 *	    global-full|global-hdrs [7bit|noutf8]
 * DESCRIPTION
 *	For t-dsn-parse.sh, which parses the output with Python's email
 *	package.  Each scenario fills a struct dsn_input with fixed values
 *	(fixed times, so only the boundary differs between runs):
 *	  failed-hdrs  failed, RET=HDRS: headers with CRLF line ends and a
 *	               folded X-ETRN-Hold header; ENVID and ORCPT in xtext;
 *	               one recipient with NOTIFY=NEVER (not listed)
 *	  failed-full  failed, RET=FULL: a whole message with an 8bit body
 *	               that holds an "X-ETRN-Hold:" line and boundary-like
 *	               lines
 *	  delayed      delayed: Will-Retry-Until, NOTIFY=DELAY only
 *	  utf8         a UTF-8 recipient (RFC 6533 utf-8 address type)
 *	  injection    header injection attempts in ENVID, ORCPT, the
 *	               sender, a recipient, and a forged MIME structure in
 *	               the returned message
 *	  empty        failed with no original: a note instead
 *	  global-full  RET=FULL of a message with raw UTF-8 headers
 *	               (SMTPUTF8): returned as message/global
 *	  global-hdrs  the same with RET=HDRS: message/global-headers
 *	With 7bit or noutf8 the DSN is then downgraded (dsn_downgrade) as
 *	for a server without 8BITMIME or without SMTPUTF8.
 * DIAGNOSTICS
 *	Exit 0 with the message on stdout, 1 when dsn_build() fails (the
 *	reason on stderr), 2 for an unknown scenario.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "mail/dsn.h"

#define ARRIVED	1790000000LL
#define DAY	86400LL
#define TOKEN	"0123456789abcdef0123456789abcdef"

/* Point the input at a recipient array or an original (string literal). */
#define RCPTS(v) (in->rcpt = (v), in->nrcpt = sizeof(v) / sizeof((v)[0]))
#define ORIG(s, f) (in->original = (s), in->original_len = sizeof(s) - 1, \
	in->original_is_full = (f))

static const char hdrs[] =
    "Received: from client.example.org (client.example.org [192.0.2.7])\r\n"
    "\tby mx.lab.test (Postfix) with ESMTP id 4Xz1nN0Qb2zN4Vk\r\n"
    "X-ETRN-Hold: dialup.test; host=mx.lab.test;\r\n"
    " token=" TOKEN ";\r\n"
    "\tarrived=1790000000; expires=1790432000\r\n"
    "From: Alice <alice@example.org>\r\n"
    "To: bob@dialup.test, carol@dialup.test\r\n"
    "Subject: Minutes\r\n"
    "Message-ID: <minutes.1@example.org>\r\n"
    "Date: Sat, 21 Sep 2026 10:00:00 +0000\r\n"
    "\r\n";

static const char full[] =
    "From: Alice <alice@example.org>\n"
    "To: bob@dialup.test\n"
    "x-etrn-hold : dialup.test; host=mx.lab.test; token=" TOKEN ";\n"
    "\tarrived=1790000000; expires=1790432000\n"
    "Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\n"
    "Message-ID: <greetings.1@example.org>\n"
    "Date: Sat, 21 Sep 2026 10:00:00 +0000\n"
    "MIME-Version: 1.0\n"
    "Content-Type: text/plain; charset=utf-8\n"
    "Content-Transfer-Encoding: 8bit\n"
    "\n"
    "Gr\xc3\xbc\xc3\x9f" "e aus K\xc3\xb6ln.\n"
    "X-ETRN-Hold: this body line stays\n"
    "--=_openetrn_\n"
    "--=_openetrn_0123456789abcdef0123456789abcdef--\n";

static const char injection[] =
    "From: Mallory <mallory@example.org>\n"
    "To: bob@dialup.test\n"
    "Subject: hello\n"
    "Message-ID: <inject.1@example.org>\n"
    "Date: Sat, 21 Sep 2026 10:00:00 +0000\n"
    "\n"
    "--=_openetrn_\n"
    "Content-Type: text/plain\n"
    "\n"
    "X-Injected: 3\n"
    "--=_openetrn_--\n";

static const char global[] =
    "From: J\xc3\xb6rg <j\xc3\xb6rg@example.org>\n"
    "To: bob@dialup.test\n"
    "Subject: Gr\xc3\xbc\xc3\x9f" "e aus K\xc3\xb6ln\n"
    "Message-ID: <global.1@example.org>\n"
    "Date: Sat, 21 Sep 2026 10:00:00 +0000\n"
    "MIME-Version: 1.0\n"
    "Content-Type: text/plain; charset=utf-8\n"
    "Content-Transfer-Encoding: 8bit\n"
    "\n"
    "Gr\xc3\xbc\xc3\x9f" "e.\n";

static const struct dsn_rcpt r_hdrs[] = {
	{ "bob@dialup.test", "FAILURE,DELAY",
	    "rfc822;bob+2Bfilter@dialup.test" },
	{ "carol@dialup.test", "NEVER", NULL },
	{ "dave@dialup.test", NULL, NULL },
};
static const struct dsn_rcpt r_full[] = {
	{ "bob@dialup.test", "failure", "rfc822;bob@dialup.test" },
};
static const struct dsn_rcpt r_delayed[] = {
	{ "bob@dialup.test", "DELAY", NULL },
	{ "carol@dialup.test", "FAILURE", NULL },
};
static const struct dsn_rcpt r_utf8[] = {
	{ "j\xc3\xb6rg@dialup.test", NULL, NULL },
	{ "\xe5\x8d\x9a@dialup.test", NULL, "utf-8;\\x{535A}@dialup.test" },
};
static const struct dsn_rcpt r_injection[] = {
	{ "bob@dialup.test", NULL, "rfc822;a+0D+0AX-Injected:+201" },
	{ "eve@dialup.test\r\nX-Injected: 2", NULL,
	    "rfc822;x+0AFinal-Recipient:+20rfc822;+20evil@x" },
};

/* scenario - fill the input for a scenario name; -1 if unknown */
static int
scenario(const char *name, struct dsn_input *in)
{
	memset(in, 0, sizeof(*in));
	in->action = DSN_FAILED;
	in->reporting_mta = "mx.lab.test";
	in->domain = "dialup.test";
	in->queue_id = "4Xz1nN0Qb2zN4Vk";
	in->token = TOKEN;
	in->sender = "alice@example.org";
	in->arrived = ARRIVED;
	in->expires = ARRIVED + 5 * DAY;
	in->now = in->expires + 120;
	if (strcmp(name, "failed-hdrs") == 0) {
		in->envid = "QQ314159+2Bx";
		in->ret = "HDRS";
		RCPTS(r_hdrs);
		ORIG(hdrs, 0);
	} else if (strcmp(name, "failed-full") == 0) {
		in->ret = "FULL";
		RCPTS(r_full);
		ORIG(full, 1);
	} else if (strcmp(name, "delayed") == 0) {
		in->action = DSN_DELAYED;
		in->now = ARRIVED + 2 * DAY + 3 * 3600;
		RCPTS(r_delayed);
		ORIG(hdrs, 0);
	} else if (strcmp(name, "utf8") == 0) {
		in->sender = "al\xc3\xaf" "ce@example.org";
		RCPTS(r_utf8);
		ORIG(full, 1);
	} else if (strcmp(name, "injection") == 0) {
		in->envid = "x+0D+0ABcc:+20evil@x";
		in->sender = "a@b\nBcc: evil@example.net";
		in->queue_id = "4Xz1nN0Qb2zN4Vk\nX-Injected: 4";
		RCPTS(r_injection);
		ORIG(injection, 1);
	} else if (strcmp(name, "global-full") == 0 ||
	    strcmp(name, "global-hdrs") == 0) {
		in->ret = name[7] == 'f' ? "FULL" : "HDRS";
		RCPTS(r_full);
		ORIG(global, name[7] == 'f');
	} else if (strcmp(name, "empty") == 0) {
		RCPTS(r_full);
		in->original = "";
	} else
		return -1;
	return 0;
}

int
main(int argc, char **argv)
{
	struct dsn_input in;
	struct buf out = BUF_INIT, err = BUF_INIT, down = BUF_INIT;
	const char *mode = argc == 3 ? argv[2] : "";

	if (argc < 2 || argc > 3 || scenario(argv[1], &in) < 0 ||
	    (*mode && strcmp(mode, "7bit") != 0 &&
	    strcmp(mode, "noutf8") != 0)) {
		fprintf(stderr, "usage: dsn-dump failed-hdrs|failed-full|"
		    "delayed|utf8|injection|empty|global-full|global-hdrs "
		    "[7bit|noutf8]\n");
		return 2;
	}
	if (dsn_build(&in, &out, &err) < 0) {
		fprintf(stderr, "dsn-dump: %s\n", err.s);
		return 1;
	}
	if (*mode && dsn_downgrade(out.s, out.len, *mode == 'n', 0,
	    &down) < 0) {
		fprintf(stderr, "dsn-dump: cannot downgrade\n");
		return 1;
	}
	if (*mode)
		fwrite(down.s, 1, down.len, stdout);
	else
		fwrite(out.s, 1, out.len, stdout);
	buf_free(&out);
	buf_free(&down);
	buf_free(&err);
	return fflush(stdout) == 0 ? 0 : 1;
}
