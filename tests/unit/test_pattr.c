/* test_pattr - policy attribute reader, decisions and answers (pure) */
#include "config.h"

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/decide.h"
#include "policy/pattr.h"
#include "tap.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define REQ "request=smtpd_access_policy\nprotocol_state=ETRN\n" \
	"client_address=192.0.2.1\netrn_domain=DialUp.test\nfoo=bar\n\n"

static const struct {
	const char *in;
	size_t	chunk;		/* feed in pieces of this size; 0: whole */
	enum pattr_status want;
	const char *error;	/* PATTR_ERROR: the reason */
	const char *domain;	/* PATTR_DONE: etrn_domain */
} feeds[] = {
	{ REQ, 0, PATTR_DONE, NULL, "DialUp.test" },
	{ REQ, 1, PATTR_DONE, NULL, "DialUp.test" },
	{ REQ, 7, PATTR_DONE, NULL, "DialUp.test" },
	{ "request=smtpd_access_policy\r\netrn_domain=a.test\r\n\r\n", 0,
	    PATTR_DONE, NULL, "a.test" },
	{ "request=smtpd_access_policy\netrn_domain=\n\n", 0, PATTR_DONE,
	    NULL, "" },
	{ "request=smtpd_access_policy\nrecipient=a=b@c\n\n", 0, PATTR_DONE,
	    NULL, "" },
	{ "request=smtpd_access_policy\n", 0, PATTR_MORE, NULL, NULL },
	{ "request=smtpd_access_policy\nclient_address=1.2", 3, PATTR_MORE,
	    NULL, NULL },
	{ "\n", 0, PATTR_ERROR, "empty request", NULL },
	{ "protocol_state=ETRN\n\n", 0, PATTR_ERROR, "no request attribute",
	    NULL },
	{ "request=smtpd_access_policy\nno equals sign\n\n", 0, PATTR_ERROR,
	    "line without \"=\"", NULL },
	{ "request=smtpd_access_policy\n=value\n\n", 0, PATTR_ERROR,
	    "attribute without a name", NULL },
	{ "request=smtpd_access_policy\nrequest=x\n\n", 0, PATTR_ERROR,
	    "attribute sent twice", NULL },
	{ "request=smtpd_access_policy\nfoo=a\0b\n\n", 0, PATTR_ERROR,
	    "NUL byte in request", NULL },
	{ "a=1\nb=2\nc=3\nd=4\ne=5\nf=6\ng=7\nh=8\ni=9\n\n", 0, PATTR_ERROR,
	    "too many attributes", NULL },
	/* 40 bytes is the limit below (+1 for a CR): 42 without an LF is
	 * too long before the LF comes */
	{ "request=smtpd_access_policy\nx=0123456789012345678901234567890123"
	    "456789", 0, PATTR_ERROR, "attribute line too long", NULL },
	{ "request=smtpd_access_policy\nx=0123456789012345678901234567890123"
	    "45678\n\n", 5, PATTR_ERROR, "attribute line too long", NULL },
	{ "request=smtpd_access_policy\nx=0123456789012345678901234567890123"
	    "4567\r\n\n", 0, PATTR_DONE, NULL, "" },
	{ "request=smtpd_access_policy\nx=0123456789012345678901234567890123"
	    "4567\r\n\n", 1, PATTR_DONE, NULL, "" },
};

/* feed - feed in pieces until DONE or ERROR; the status */
static enum pattr_status
feed(struct pattr *p, const char *in, size_t len, size_t chunk, size_t *tot)
{
	enum pattr_status st = PATTR_MORE;
	size_t	off = 0, n, used;

	if (chunk == 0)
		chunk = len;
	while (off < len) {
		n = len - off < chunk ? len - off : chunk;
		st = pattr_feed(p, in + off, n, &used);
		off += used;
		if (st != PATTR_MORE)
			break;
	}
	*tot = off;
	return st;
}

/* test_feeds - requests split across reads at every offset */
static void
test_feeds(void)
{
	struct pattr p;
	enum pattr_status st;
	size_t	i, len, used;

	for (i = 0; i < sizeof(feeds) / sizeof(feeds[0]); i++) {
		pattr_init(&p, 40, 8);
		len = strlen(feeds[i].in);
		if (strstr(feeds[i].in, "foo=a") != NULL)
			len += 4;	/* the bytes after the NUL */
		st = feed(&p, feeds[i].in, len, feeds[i].chunk, &used);
		CHECK(st == feeds[i].want, "case %zu: status %d, want %d (%s)",
		    i, st, feeds[i].want, p.error ? p.error : "");
		if (st == PATTR_ERROR && feeds[i].error)
			CHECK_STR(p.error, feeds[i].error, "error");
		if (st == PATTR_DONE && feeds[i].domain) {
			CHECK_STR(pattr_get(&p, PA_ETRN_DOMAIN),
			    feeds[i].domain, "etrn_domain");
			CHECK_INT(used, len, "all input used");
		}
		pattr_free(&p);
	}
}

/* test_pipelined - several requests in one read */
static void
test_pipelined(void)
{
	struct pattr p;
	const char *two = REQ "request=smtpd_access_policy\n"
	    "protocol_state=RCPT\nrecipient=u@dialup.test\nsize=100\n\n";
	size_t	used, len = strlen(two);

	pattr_init(&p, 256, 20);
	CHECK(pattr_feed(&p, two, len, &used) == PATTR_DONE, "first");
	CHECK_INT(used, strlen(REQ), "stops after the first request");
	CHECK_STR(pattr_get(&p, PA_PROTOCOL_STATE), "ETRN", "state 1");
	CHECK_STR(pattr_get(&p, PA_CLIENT_ADDRESS), "192.0.2.1", "client");
	CHECK_STR(pattr_get(&p, PA_RECIPIENT), "", "no recipient yet");
	pattr_reset(&p);
	CHECK(pattr_feed(&p, two + used, len - used, &used) == PATTR_DONE,
	    "second");
	CHECK_STR(pattr_get(&p, PA_PROTOCOL_STATE), "RCPT", "state 2");
	CHECK_STR(pattr_get(&p, PA_RECIPIENT), "u@dialup.test", "recipient");
	CHECK_STR(pattr_get(&p, PA_SIZE), "100", "size");
	CHECK_STR(pattr_get(&p, PA_ETRN_DOMAIN), "", "reset forgot it");
	CHECK_STR(pattr_name(PA_SASL_USERNAME), "sasl_username", "name");
	pattr_free(&p);
}

/* test_actions - the action words of the answers */
static void
test_actions(void)
{
	static const struct {
		enum pol_action a;
		const char *reason, *want;
	} acts[] = {
		{ POL_OK, NULL, "action=OK\n\n" },
		{ POL_DUNNO, "ignored", "action=DUNNO\n\n" },
		{ POL_ETRN_DENIED, "why", "action=459 4.7.1 ETRN not allowed "
		    "here\n\n" },
		{ POL_ETRN_DENIED, NULL, "action=459 4.7.1 ETRN not allowed "
		    "here\n\n" },
		{ POL_ETRN_RATE, NULL, "action=458 4.7.1 Too many ETRN "
		    "requests, try again later\n\n" },
		{ POL_ETRN_DOWN, NULL, "action=458 4.3.0 Unable to queue "
		    "messages, try again later\n\n" },
		{ POL_QUOTA, "full", "action=452 4.2.2 full\n\n" },
		{ POL_RCPT_DOWN_DEFER_IF_PERMIT, NULL, "action=DEFER_IF_PERMIT "
		    "4.3.0 Held mail quota cannot be checked, try again "
		    "later\n\n" },
		{ POL_RCPT_DOWN_DEFER, NULL, "action=DEFER 4.3.0 Held mail "
		    "quota cannot be checked, try again later\n\n" },
	};
	struct buf b = BUF_INIT;
	size_t	i;

	for (i = 0; i < sizeof(acts) / sizeof(acts[0]); i++) {
		buf_reset(&b);
		decide_action(&b, acts[i].a, acts[i].reason);
		CHECK_STR(buf_terminate(&b), acts[i].want, "action");
	}
	buf_free(&b);
}

/* test_decide - decisions for ETRN and RCPT requests */
static void
test_decide(void)
{
	struct buf why = BUF_INIT;
	struct quota q;
	long long n;

	CHECK(decide_etrn(ETRN_STARTED, "", "", &why) == POL_OK, "by addr");
	buf_cat(&why, "client 10.0.0.1 is not authorized for it");
	CHECK(decide_etrn(ETRN_NOT_ALLOWED, "bob", "bob", &why) == POL_OK &&
	    why.len == 0, "by SASL login");
	buf_cat(&why, "client 10.0.0.1 is not authorized for it");
	CHECK(decide_etrn(ETRN_NOT_ALLOWED, "bob", "Bob", &why) ==
	    POL_ETRN_DENIED, "SASL login case counts");
	CHECK(decide_etrn(ETRN_NOT_ALLOWED, "", "", &why) == POL_ETRN_DENIED,
	    "neither");

	memset(&q, 0, sizeof(q));
	q.held = 1000000;
	q.bytes = 1LL << 40;
	buf_reset(&why);
	CHECK(decide_quota(&q, "d.test", &why) == POL_DUNNO, "no limits");
	q.max_messages = 3;
	q.held = 2;
	q.bytes = 0;
	CHECK(decide_quota(&q, "d.test", &why) == POL_DUNNO, "2 of 3");
	q.held = 3;
	CHECK(decide_quota(&q, "d.test", &why) == POL_QUOTA, "3 of 3");
	CHECK_STR(buf_terminate(&why), "Held mail for d.test is over its "
	    "quota: 3 messages, limit 3", "reason");
	memset(&q, 0, sizeof(q));
	q.max_bytes = 1000;
	q.bytes = 999;
	buf_reset(&why);
	CHECK(decide_quota(&q, "d.test", &why) == POL_DUNNO, "999 of 1000");
	q.size = 2;
	CHECK(decide_quota(&q, "d.test", &why) == POL_QUOTA, "SIZE= too big");
	q.size = 1;
	buf_reset(&why);
	CHECK(decide_quota(&q, "d.test", &why) == POL_DUNNO, "SIZE= fits");
	q.size = 0;
	q.bytes = 1000;
	CHECK(decide_quota(&q, "d.test", &why) == POL_QUOTA, "1000 of 1000");

	CHECK(decide_limit(DF_MAX_MESSAGES, NULL, 7, &n, &why) == 0 && n == 7,
	    "missing");
	CHECK(decide_limit(DF_MAX_MESSAGES, "", 7, &n, &why) == 0 && n == 7,
	    "empty");
	CHECK(decide_limit(DF_MAX_MESSAGES, "0", 7, &n, &why) == 0 && n == 0,
	    "0: none");
	CHECK(decide_limit(DF_MAX_BYTES, "10m", 0, &n, &why) == 0 &&
	    n == 10485760, "size");
	CHECK(decide_limit(DF_MAX_MESSAGES, "x", 7, &n, &why) < 0 && n == 7,
	    "bad");
	CHECK(decide_limit(DF_MAX_MESSAGES, "-1", 7, &n, &why) < 0 && n == 7,
	    "negative");
	/* The bounds of the file settings (max_messages to 10^9). */
	buf_reset(&why);
	CHECK(decide_limit(DF_MAX_MESSAGES, "2000000000", 7, &n, &why) < 0 &&
	    n == 7 && strstr(buf_terminate(&why), "out of range") != NULL,
	    "max_messages over its bound: %s", why.s);
	buf_free(&why);
}

/* test_corpus - the fuzz corpus through the fuzz target */
static void
test_corpus(void)
{
	const char *top = getenv("top_srcdir");
	char	path[4096], data[65536];
	struct dirent *de;
	DIR	*d;
	FILE	*fp;
	size_t	n;
	int	files = 0;

	snprintf(path, sizeof(path), "%s/tests/policy/corpus",
	    top ? top : ".");
	if ((d = opendir(path)) == NULL) {
		CHECK(0, "cannot open %s", path);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/tests/policy/corpus/%s",
		    top ? top : ".", de->d_name);
		if ((fp = fopen(path, "rb")) == NULL)
			continue;
		n = fread(data, 1, sizeof(data), fp);
		fclose(fp);
		LLVMFuzzerTestOneInput((const uint8_t *)data, n);
		files++;
	}
	closedir(d);
	CHECK(files > 0, "no corpus files");
}

int
main(void)
{
	test_feeds();
	test_pipelined();
	test_actions();
	test_decide();
	test_corpus();
	return TAP_DONE();
}
