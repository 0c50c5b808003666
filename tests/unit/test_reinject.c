/* test_reinject - a split copy is never downgraded (reinject_lacks) */
#include "config.h"

#include <stdlib.h>

#include "milter/milter.h"
#include "util/smtpc.h"
#include "tap.h"

/* One case: the envelope, what the server offers, and the verdict. */
struct lack_case {
	const char *name;
	const char *ret, *envid, *body;
	int	smtputf8;
	const char *notify, *orcpt;	/* of the copied recipient */
	const char *other_notify;	/* of a recipient not in the copy */
	int	dsn, eightbit, utf8;	/* the server's EHLO */
	const char *want;		/* substring of the reason, NULL: ok */
};

static const struct lack_case cases[] = {
	{ .name = "plain message, bare server", .want = NULL },
	{ .name = "NOTIFY=NEVER, no DSN", .notify = "NEVER",
	    .want = "does not offer DSN" },
	{ .name = "NOTIFY=NEVER, DSN", .notify = "NEVER", .dsn = 1,
	    .want = NULL },
	{ .name = "ORCPT, no DSN", .orcpt = "rfc822;b@dialup.test",
	    .want = "does not offer DSN" },
	{ .name = "RET, no DSN", .ret = "HDRS", .eightbit = 1, .utf8 = 1,
	    .want = "does not offer DSN" },
	{ .name = "ENVID, no DSN", .envid = "X1",
	    .want = "does not offer DSN" },
	{ .name = "NOTIFY only outside the copy", .other_notify = "NEVER",
	    .want = NULL },
	{ .name = "BODY=8BITMIME, no 8BITMIME", .body = "8BITMIME", .dsn = 1,
	    .want = "does not offer 8BITMIME" },
	{ .name = "BODY=8BITMIME, 8BITMIME", .body = "8BITMIME",
	    .eightbit = 1, .want = NULL },
	{ .name = "BODY=7BIT, no 8BITMIME", .body = "7BIT", .want = NULL },
	{ .name = "BINARYMIME", .body = "BINARYMIME", .dsn = 1, .eightbit = 1,
	    .utf8 = 1, .want = "BINARYMIME" },
	{ .name = "SMTPUTF8, no SMTPUTF8", .smtputf8 = 1, .dsn = 1,
	    .eightbit = 1, .want = "does not offer SMTPUTF8" },
	{ .name = "SMTPUTF8, SMTPUTF8", .smtputf8 = 1, .utf8 = 1,
	    .want = NULL },
};

/* run - one case */
static void
run(const struct lack_case *c)
{
	struct rcpt r[2];
	size_t	idx[1] = { 0 };
	struct rgroup g = { "dialup.test", idx, 1 };
	struct msg m;
	struct smtpc s;
	const char *got;

	memset(&m, 0, sizeof(m));
	memset(r, 0, sizeof(r));
	memset(&s, 0, sizeof(s));
	m.sender = (char *)"s@example.org";
	m.ret = (char *)c->ret;
	m.envid = (char *)c->envid;
	m.body = (char *)c->body;
	m.smtputf8 = c->smtputf8;
	r[0].addr = (char *)"b@dialup.test";
	r[0].notify = (char *)c->notify;
	r[0].orcpt = (char *)c->orcpt;
	r[1].addr = (char *)"a@example.com";
	r[1].notify = (char *)c->other_notify;
	m.rcpt = r;
	m.nrcpt = 2;
	s.dsn = c->dsn;
	s.eightbit = c->eightbit;
	s.smtputf8 = c->utf8;
	got = reinject_lacks(&m, &g, &s);
	if (c->want == NULL)
		CHECK(got == NULL, "%s: got '%s', want none", c->name, got);
	else
		CHECK(got != NULL && strstr(got, c->want) != NULL,
		    "%s: got '%s', want '%s'", c->name, got ? got : "(none)",
		    c->want);
}

int
main(void)
{
	size_t	i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		run(&cases[i]);
	return TAP_DONE();
}
