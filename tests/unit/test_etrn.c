/* test_etrn - ETRN argument parsing, authorization, replies, rate limit */
#include "config.h"

#include <stdlib.h>

#include "etrnd/listener.h"
#include "mail/replies.h"
#include "tap.h"

static const struct {
	const char *arg;
	const char *domain;	/* NULL: syntax error */
	int	sub, queue;
} parses[] = {
	{ "dialup.test", "dialup.test", 0, 0 },
	{ "DIALUP.Test.", "dialup.test", 0, 0 },
	{ "@dialup.test", "dialup.test", 1, 0 },
	{ "#dialup.test", "dialup.test", 0, 1 },
	{ "b\xc3\xbc" "cher.test", "xn--bcher-kva.test", 0, 0 },
	{ "", NULL, 0, 0 },
	{ "@", NULL, 0, 0 },
	{ "@@dialup.test", NULL, 0, 0 },
	{ "dialup.test extra", NULL, 0, 0 },
	{ "dialup.test;rm", NULL, 0, 0 },
	{ "etrn:*", NULL, 0, 0 },
	{ "[127.0.0.1]", NULL, 0, 0 },
	{ "a\r\nQUIT", NULL, 0, 0 },
};

static void
test_parse(void)
{
	struct etrn_req r;
	size_t	i;
	int	rc;

	for (i = 0; i < sizeof(parses) / sizeof(parses[0]); i++) {
		rc = etrn_parse(parses[i].arg, &r);
		if (parses[i].domain == NULL) {
			CHECK(rc < 0, "'%s' accepted as '%s'", parses[i].arg,
			    r.domain);
			continue;
		}
		CHECK(rc == 0 && strcmp(r.domain, parses[i].domain) == 0 &&
		    r.sub == parses[i].sub && r.queue == parses[i].queue,
		    "'%s': got rc %d domain '%s' sub %d queue %d", parses[i].arg,
		    rc, r.domain, r.sub, r.queue);
		CHECK_STR(r.node, parses[i].arg, "node as given");
	}
}

static void
test_authorize(void)
{
	struct domlist dl;
	struct etrn_req r;
	struct buf why = BUF_INIT;
	const char *w;

	domlist_init(&dl);
	domlist_add(&dl, "dialup.test", 0, -1, &w);
	domlist_add(&dl, "own.test", 0, -1, &w);
	dl.v[dl.n - 1].allow = strdup("192.0.2.0/24");
	domlist_add(&dl, ".parent.test", 0, -1, &w);
	domlist_add(&dl, "bad.test", 0, -1, &w);
	dl.v[dl.n - 1].allow = strdup("not-a-network");
	domlist_sort(&dl);

#define AUTH(arg, client, dflt, want, reason) do {                      \
	buf_reset(&why);                                                \
	etrn_parse(arg, &r);                                            \
	CHECK(etrn_authorize(&dl, dflt, &r, client, &why) == (want) &&  \
	    strstr(buf_terminate(&why), reason) != NULL,                \
	    "%s from %s: reason '%s'", arg, client,                     \
	    why.len ? why.s : "");                                      \
} while (0)
	AUTH("dialup.test", "127.0.0.1", "127.0.0.0/8", ETRN_STARTED, "");
	AUTH("dialup.test", "10.1.1.1", "127.0.0.0/8", ETRN_NOT_ALLOWED,
	    "client 10.1.1.1 is not authorized");
	AUTH("dialup.test", "127.0.0.1", "", ETRN_NOT_ALLOWED,
	    "no ETRN clients are authorized");
	AUTH("own.test", "192.0.2.9", "", ETRN_STARTED, "");
	AUTH("own.test", "127.0.0.1", "127.0.0.0/8", ETRN_NOT_ALLOWED,
	    "not authorized");
	AUTH("x.parent.test", "127.0.0.1", "127.0.0.1", ETRN_STARTED, "");
	AUTH("parent.test", "127.0.0.1", "127.0.0.1", ETRN_NOT_ALLOWED,
	    "not a dial-up domain");
	AUTH("@parent.test", "127.0.0.1", "127.0.0.1", ETRN_STARTED, "");
	AUTH("other.test", "127.0.0.1", "0.0.0.0/0", ETRN_NOT_ALLOWED,
	    "not a dial-up domain");
	AUTH("bad.test", "127.0.0.1", "0.0.0.0/0", ETRN_NOT_ALLOWED,
	    "not authorized");
#undef AUTH
	domlist_free(&dl);
	buf_free(&why);
}

static void
test_replies(void)
{
	struct buf b = BUF_INIT;

	reply_etrn(&b, ETRN_STARTED, "dialup.test", 3, NULL);
	CHECK_STR(b.s, "253 OK, 3 pending messages for node dialup.test "
	    "started\r\n", "253");
	buf_reset(&b);
	reply_etrn(&b, ETRN_STARTED, "dialup.test", 1, NULL);
	CHECK_STR(b.s, "253 OK, 1 pending message for node dialup.test "
	    "started\r\n", "253 singular");
	buf_reset(&b);
	reply_etrn(&b, ETRN_NOTHING, "dialup.test", 0, NULL);
	CHECK_STR(b.s, "251 OK, no messages waiting for node dialup.test\r\n",
	    "251");
	buf_reset(&b);
	reply_etrn(&b, ETRN_UNAVAILABLE, "dialup.test", 0, NULL);
	CHECK_STR(b.s, "458 Unable to queue messages for node dialup.test\r\n",
	    "458");
	buf_reset(&b);
	reply_etrn(&b, ETRN_NOT_ALLOWED, "dialup.test", 0, "why");
	CHECK_STR(b.s, "459 Node dialup.test not allowed: why\r\n", "459");
	buf_free(&b);
}

static void
test_rate(void)
{
	struct listener l;
	int	i, ok = 0;

	memset(&l, 0, sizeof(l));
	for (i = 0; i < 15; i++)
		ok += rate_allow(&l, "192.0.2.1", 6000, 10);
	CHECK_INT(ok, 10, "10 per minute");
	CHECK(rate_allow(&l, "192.0.2.2", 6000, 10), "other client");
	CHECK(rate_allow(&l, "192.0.2.1", 6060, 10), "next minute");
	rate_purge(&l, 6060 + 120);
	for (i = 0; i < RATE_BUCKETS; i++)
		CHECK(l.rates[i] == NULL, "purged bucket %d", i);
}

int
main(void)
{
	test_parse();
	test_authorize();
	test_replies();
	test_rate();
	return TAP_DONE();
}
