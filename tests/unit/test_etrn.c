/*
 * test_etrn - ETRN argument parsing, authorization of each domain of
 * "@domain" on its own, replies, the flush request, the prefix rate limit
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mail/etrnauth.h"
#include "mail/flushreq.h"
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

/* test_parse - ETRN arguments parsed: forms, case, refusals */
static void
test_parse(void)
{
	struct etrn_req r;
	size_t	i;
	int	rc;

	for (i = 0; i < sizeof(parses) / sizeof(parses[0]); i++) {
		rc = etrnauth_parse(parses[i].arg, &r);
		if (parses[i].domain == NULL) {
			CHECK(rc < 0, "'%s' accepted as '%s'", parses[i].arg,
			    r.domain);
			continue;
		}
		CHECK(rc == 0 && strcmp(r.domain, parses[i].domain) == 0 &&
		    r.sub == parses[i].sub && r.queue == parses[i].queue,
		    "'%s': got rc %d domain '%s' sub %d queue %d",
		    parses[i].arg, rc, r.domain, r.sub, r.queue);
		CHECK_STR(r.node, parses[i].arg, "node as given");
	}
}

/* The dial-up list of the authorization cases. */
static const struct {
	const char *name;
	const char *allow;	/* NULL: etrn_allow */
} entries[] = {
	{ ".isp.test", "127.0.0.2" },		/* customer A */
	{ "cust.isp.test", "127.0.0.3" },	/* customer B */
	{ "dialup.test", NULL },
	{ "own.test", "192.0.2.0/24" },
	{ ".parent.test", NULL },
	{ "bad.test", "not-a-network" },
	{ "nobody.test", "" },
};

#define A	"127.0.0.2"
#define B	"127.0.0.3"

/*
 * held: what Redis says is held below the domain (blank separated, "-"
 * for a NULL element); ok: the domains authorized, in order; reason: a
 * part of the logged reason of a refusal.
 */
static const struct {
	const char *arg, *held, *client, *dflt;
	enum etrn_outcome want;
	const char *ok, *reason;
} auths[] = {
	/* @parent: each held domain by the entry that governs it */
	{ "@isp.test", "x.isp.test cust.isp.test", A, "", ETRN_STARTED,
	    "x.isp.test", NULL },
	{ "@isp.test", "x.isp.test cust.isp.test", B, "", ETRN_STARTED,
	    "cust.isp.test", NULL },
	{ "@isp.test", "cust.isp.test x.cust.isp.test", A, "", ETRN_STARTED,
	    "x.cust.isp.test", NULL },
	{ "@isp.test", "cust.isp.test", A, "", ETRN_NOT_ALLOWED, "",
	    "client 127.0.0.2 is not authorized for cust.isp.test" },
	{ "@isp.test", "cust.isp.test", "127.0.0.9", "", ETRN_NOT_ALLOWED,
	    "", "client 127.0.0.9 is not authorized for cust.isp.test" },
	/* nothing held below: only isp.test itself, no dial-up domain */
	{ "@isp.test", "", B, "", ETRN_NOT_ALLOWED, "",
	    "not a dial-up domain" },
	{ "@isp.test", "", A, "", ETRN_NOT_ALLOWED, "",
	    "not a dial-up domain" },
	{ "@ISP.test.", "x.isp.test y.isp.test", A, "", ETRN_STARTED,
	    "x.isp.test y.isp.test", NULL },
	{ "@cust.isp.test", "x.cust.isp.test", B, "", ETRN_STARTED,
	    "cust.isp.test", NULL },
	{ "@cust.isp.test", "x.cust.isp.test", A, "", ETRN_STARTED,
	    "x.cust.isp.test", NULL },
	/* what Redis returns is checked again */
	{ "@isp.test", "- xisp.test X.ISP.TEST isp.test.evil.test isp.test "
	    "a..isp.test .isp.test z.isp.test", A, "", ETRN_STARTED,
	    "z.isp.test", NULL },
	/* a domain alone: subdomains are never considered */
	{ "cust.isp.test", "x.cust.isp.test", A, "", ETRN_NOT_ALLOWED, "",
	    "client 127.0.0.2 is not authorized for cust.isp.test" },
	{ "cust.isp.test", "", B, "", ETRN_STARTED, "cust.isp.test", NULL },
	{ "x.isp.test", "y.x.isp.test", A, "", ETRN_STARTED, "x.isp.test",
	    NULL },
	{ "#x.isp.test", "y.x.isp.test", A, "", ETRN_STARTED, "x.isp.test",
	    NULL },
	{ "isp.test", "x.isp.test", A, "", ETRN_NOT_ALLOWED, "",
	    "not a dial-up domain" },
	/* allow lists and etrn_allow */
	{ "dialup.test", "", "127.0.0.1", "127.0.0.0/8", ETRN_STARTED,
	    "dialup.test", NULL },
	{ "dialup.test", "", "10.1.1.1", "127.0.0.0/8", ETRN_NOT_ALLOWED, "",
	    "client 10.1.1.1 is not authorized for dialup.test" },
	{ "dialup.test", "", "127.0.0.1", "", ETRN_NOT_ALLOWED, "",
	    "no ETRN clients are authorized" },
	{ "nobody.test", "", "127.0.0.1", "0.0.0.0/0", ETRN_NOT_ALLOWED, "",
	    "no ETRN clients are authorized" },
	{ "own.test", "", "192.0.2.9", "", ETRN_STARTED, "own.test", NULL },
	{ "own.test", "", "127.0.0.1", "127.0.0.0/8", ETRN_NOT_ALLOWED, "",
	    "not authorized" },
	{ "dialup.test", "", "x;y", "0.0.0.0/0", ETRN_NOT_ALLOWED, "",
	    "the client is not authorized" },
	{ "x.parent.test", "", "127.0.0.1", "127.0.0.1", ETRN_STARTED,
	    "x.parent.test", NULL },
	{ "parent.test", "", "127.0.0.1", "127.0.0.1", ETRN_NOT_ALLOWED, "",
	    "not a dial-up domain" },
	{ "@parent.test", "", "127.0.0.1", "127.0.0.1", ETRN_NOT_ALLOWED, "",
	    "not a dial-up domain" },
	{ "@parent.test", "a.parent.test", "127.0.0.1", "127.0.0.1",
	    ETRN_STARTED, "a.parent.test", NULL },
	{ "other.test", "", "127.0.0.1", "0.0.0.0/0", ETRN_NOT_ALLOWED, "",
	    "not a dial-up domain" },
	{ "@other.test", "a.other.test", "127.0.0.1", "0.0.0.0/0",
	    ETRN_NOT_ALLOWED, "", "not a dial-up domain" },
	{ "bad.test", "", "127.0.0.1", "0.0.0.0/0", ETRN_NOT_ALLOWED, "",
	    "not authorized" },
};

/* split - held list text into words; "-" is a NULL element */
static size_t
split(const char *text, char *copy, size_t size, char **v, size_t max)
{
	char	*p;
	size_t	n = 0;

	snprintf(copy, size, "%s", text);
	for (p = strtok(copy, " "); p != NULL && n < max; p = strtok(NULL, " "))
		v[n++] = strcmp(p, "-") == 0 ? NULL : p;
	return n;
}

/* test_authorize - authorization entry by entry, @parent included */
static void
test_authorize(void)
{
	struct domlist dl;
	struct etrn_req r;
	struct etrn_auth a;
	struct buf why = BUF_INIT, ok = BUF_INIT;
	char	copy[512], *held[16];
	const char *w;
	enum etrn_outcome o;
	size_t	i, j, n;

	domlist_init(&dl);
	for (i = 0; i < sizeof(entries) / sizeof(entries[0]); i++) {
		CHECK(domlist_add(&dl, entries[i].name, 0, -1, &w) == 0,
		    "entry %s: %s", entries[i].name, w);
		if (entries[i].allow != NULL)
			dl.v[dl.n - 1].allow = strdup(entries[i].allow);
	}
	domlist_sort(&dl);
	for (i = 0; i < sizeof(auths) / sizeof(auths[0]); i++) {
		buf_reset(&why);
		buf_reset(&ok);
		CHECK(etrnauth_parse(auths[i].arg, &r) == 0, "parse %s",
		    auths[i].arg);
		n = split(auths[i].held, copy, sizeof(copy), held, 16);
		etrnauth_init(&a);
		o = etrnauth_authorize(&dl, auths[i].dflt, &r, held, n,
		    auths[i].client, &a, &why);
		for (j = 0; j < a.nok; j++)
			buf_printf(&ok, "%s%s", j ? " " : "", a.ok[j]);
		buf_terminate(&ok);
		buf_terminate(&why);
		CHECK(o == auths[i].want && strcmp(ok.s, auths[i].ok) == 0,
		    "case %zu: %s [%s] from %s: got %s '%s', want %s '%s' "
		    "(reason '%s')", i, auths[i].arg, auths[i].held,
		    auths[i].client, o == ETRN_STARTED ? "yes" : "no", ok.s,
		    auths[i].want == ETRN_STARTED ? "yes" : "no", auths[i].ok,
		    why.s);
		if (auths[i].reason != NULL)
			CHECK(strstr(why.s, auths[i].reason) != NULL,
			    "case %zu: reason: got '%s', want '%s'", i, why.s,
			    auths[i].reason);
		else
			CHECK(why.len == 0, "case %zu: reason '%s' for a yes",
			    i, why.s);
		etrnauth_free(&a);
	}
	domlist_free(&dl);
	buf_free(&why);
	buf_free(&ok);
}

/* test_replies - the RFC 1985 reply texts */
static void
test_replies(void)
{
	struct buf b = BUF_INIT;

	reply_etrn(&b, ETRN_STARTED, "dialup.test", 3);
	CHECK_STR(b.s, "253 OK, 3 pending messages for node dialup.test "
	    "started\r\n", "253");
	buf_reset(&b);
	reply_etrn(&b, ETRN_STARTED, "dialup.test", 1);
	CHECK_STR(b.s, "253 OK, 1 pending message for node dialup.test "
	    "started\r\n", "253 singular");
	buf_reset(&b);
	reply_etrn(&b, ETRN_NOTHING, "dialup.test", 0);
	CHECK_STR(b.s, "251 OK, no messages waiting for node dialup.test\r\n",
	    "251");
	buf_reset(&b);
	reply_etrn(&b, ETRN_UNAVAILABLE, "dialup.test", 0);
	CHECK_STR(b.s, "458 Unable to queue messages for node dialup.test\r\n",
	    "458");
	buf_reset(&b);
	reply_etrn(&b, ETRN_NOT_ALLOWED, "@Dialup.test", 0);
	CHECK_STR(b.s, "459 4.7.1 @Dialup.test: ETRN not allowed here\r\n",
	    "459: one text, the node as typed");
	buf_free(&b);
}

/*
 * test_flushreq - the flush request names exactly the domains given,
 * each with sub 0
 */
static void
test_flushreq(void)
{
	static const char *const doms[] = { "x.isp.test", "y.isp.test" };
	struct flushreq f = { doms, 2, "127.0.0.2", "mx.test", 60, 1000, 0 };
	struct flushreq_args a;

	flushreq_args(&a, &f);
	CHECK_INT(a.args.n, FLUSHREQ_KEYS + FLUSHREQ_FIXED + 2, "argc");
	CHECK_STR(a.args.v[0], "etrn:flush", "stream key");
	CHECK_STR(a.args.v[1], "etrn:held:", "held prefix");
	CHECK_STR(a.args.v[10], "2", "number of domains");
	CHECK_STR(a.args.v[11], "x.isp.test", "first domain");
	CHECK_STR(a.args.v[12], "y.isp.test", "second domain");
	CHECK(strstr(flushreq_script.body, "'sub', '0'") != NULL,
	    "stream entries have sub 0");
	flushreq_args_free(&a);
}

/*
 * Rate limit by network: clients of one IPv6 /64 (or IPv4 prefix) share
 * one count; another network has its own.
 */
enum vary { V6_LOW, V6_IID, V6_NET, V4, V4_MAPPED };

static const struct {
	enum vary vary;		/* which part of the address varies */
	int	v4, v6;
	int	want;		/* of 20 ETRNs, with a limit of 10 */
} rates[] = {
	{ V6_LOW, 32, 64, 10 },		/* 2001:db8:1:2::N */
	{ V6_IID, 32, 64, 10 },		/* 2001:db8:1:2:N::1 */
	{ V6_LOW, 32, 128, 20 },
	{ V6_NET, 32, 64, 20 },		/* 2001:db8:1:N::1 */
	{ V6_NET, 32, 48, 10 },
	{ V4, 32, 64, 20 },		/* 192.0.2.N */
	{ V4, 24, 64, 10 },
	{ V4_MAPPED, 24, 64, 10 },	/* ::ffff:192.0.2.N */
};

/* rate_addr - client j of a rates[] case */
static void
rate_addr(char *addr, size_t size, enum vary v, int j)
{
	switch (v) {
	case V6_LOW:
		snprintf(addr, size, "2001:db8:1:2::%x", j);
		break;
	case V6_IID:
		snprintf(addr, size, "2001:db8:1:2:%x::1", j);
		break;
	case V6_NET:
		snprintf(addr, size, "2001:db8:1:%x::1", j);
		break;
	case V4:
		snprintf(addr, size, "192.0.2.%d", j);
		break;
	case V4_MAPPED:
		snprintf(addr, size, "::ffff:192.0.2.%d", j);
		break;
	}
}

/* test_rate - the rate limit as a token bucket */
static void
test_rate(void)
{
	struct rate_entry *tab[RATE_BUCKETS];
	char	addr[64];
	size_t	i;
	int	j, ok;

	for (i = 0; i < sizeof(rates) / sizeof(rates[0]); i++) {
		memset(tab, 0, sizeof(tab));
		for (ok = 0, j = 1; j <= 20; j++) {
			rate_addr(addr, sizeof(addr), rates[i].vary, j);
			ok += etrnauth_rate_allow(tab, addr, rates[i].v4,
			    rates[i].v6, 6000, 10);
		}
		CHECK(ok == rates[i].want, "case %zu /%d /%d: got %d of 20, "
		    "want %d", i, rates[i].v4, rates[i].v6, ok, rates[i].want);
		CHECK(etrnauth_rate_allow(tab, "2001:db8:9:9::1", rates[i].v4,
		    rates[i].v6, 6000, 10), "another /64 after case %zu", i);
		etrnauth_rate_purge(tab, 6000 + 120);
	}
	memset(tab, 0, sizeof(tab));
	for (ok = 0, j = 0; j < 15; j++)
		ok += etrnauth_rate_allow(tab, "192.0.2.1", 32, 64, 6000, 10);
	CHECK_INT(ok, 10, "10 per minute");
	CHECK(etrnauth_rate_allow(tab, "192.0.2.2", 32, 64, 6000, 10),
	    "other client");
	CHECK(etrnauth_rate_allow(tab, "192.0.2.1", 32, 64, 6060, 10),
	    "next minute");
	etrnauth_rate_purge(tab, 6060 + 120);
	for (j = 0; j < RATE_BUCKETS; j++)
		CHECK(tab[j] == NULL, "purged bucket %d", j);

	/*
	 * No calendar minute: 3 at 6059 and none at 6060 (a fixed window
	 * would start again there); one every 20 s after; refused ones add
	 * nothing; a clock stepped back changes nothing.
	 */
	for (ok = 0, j = 0; j < 3; j++)
		ok += etrnauth_rate_allow(tab, "192.0.2.1", 32, 64, 6059, 3);
	CHECK_INT(ok, 3, "a burst of the limit");
	CHECK(!etrnauth_rate_allow(tab, "192.0.2.1", 32, 64, 6060, 3),
	    "the minute's edge is no reset");
	CHECK(!etrnauth_rate_allow(tab, "192.0.2.1", 32, 64, 6078, 3),
	    "19 s later");
	CHECK(etrnauth_rate_allow(tab, "192.0.2.1", 32, 64, 6079, 3),
	    "20 s later: one more");
	CHECK(!etrnauth_rate_allow(tab, "192.0.2.1", 32, 64, 6079, 3),
	    "and only one");
	CHECK(!etrnauth_rate_allow(tab, "192.0.2.1", 32, 64, 5000, 3),
	    "clock stepped back: still full");
	CHECK(etrnauth_rate_allow(tab, "192.0.2.1", 32, 64, 5020, 3),
	    "20 s after the step");
	etrnauth_rate_purge(tab, 5079);
	for (ok = 0, j = 0; j < RATE_BUCKETS; j++)
		ok += tab[j] != NULL;
	CHECK_INT(ok, 1, "not purged within a minute");
	etrnauth_rate_purge(tab, 5080);
	for (j = 0; j < RATE_BUCKETS; j++)
		CHECK(tab[j] == NULL, "purged bucket %d after a minute", j);
}

int
main(void)
{
	test_parse();
	test_authorize();
	test_replies();
	test_flushreq();
	test_rate();
	return TAP_DONE();
}
