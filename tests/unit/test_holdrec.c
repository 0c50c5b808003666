/* test_holdrec - decoding hold records read back from Redis */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "mail/holdrec.h"
#include "tap.h"

#define TOKEN	"0123456789abcdef0123456789abcdef"

/* A record as etrn-milter writes it (milter/store.c), then etrnd. */
static const char *const good[] = {
	"domain", "dialup.test", "host", "mx.lab.test", "queueid",
	"4Xz1nN0Qb2zN4Vk", "token", TOKEN, "state", "held", "sender",
	"s@example.org", "recipients", "u1@dialup.test", "nrcpt", "1",
	"size", "1234", "arrived", "1790000000", "expires", "1790432000",
	"ret", "HDRS", "envid", "", "client", "127.0.0.1", "headers",
	"Subject: x\n", "dsn_state", "queued", "dsn_since", "1790432001",
	"dsn_queue_id", "695DCA72210", NULL
};

/* reply - an HGETALL reply of these strings, with field f set to v */
static void
reply(struct rr_reply *rep, const char *const *kv, const char *f,
    const char *v)
{
	size_t	i, n;

	for (n = 0; kv[n]; n++)
		;
	memset(rep, 0, sizeof(*rep));
	rep->type = RRT_ARRAY;
	rep->elems = calloc(n + 2, sizeof(char *));
	rep->elen = calloc(n + 2, sizeof(size_t));
	for (i = 0; i < n; i++) {
		rep->elems[i] = (char *)kv[i];
		if (f && i % 2 == 1 && strcmp(kv[i - 1], f) == 0)
			rep->elems[i] = (char *)v;
	}
	rep->nelem = n;
	for (i = 0; i < n; i++)
		rep->elen[i] = strlen(rep->elems[i]);
}

/* decode - the result of decoding good[] with f set to v */
static int
decode(const char *f, const char *v, struct holdrec *hr, const char **why)
{
	struct rr_reply rep;
	int	st;

	reply(&rep, good, f, v);
	st = holdrec_decode(&rep, hr, why);
	free(rep.elems);
	free(rep.elen);
	return st;
}

static const struct {
	const char *field, *value;
} bad[] = {
	{ "state", "" }, { "state", "HELD" }, { "state", "held " },
	{ "state", "gone" },
	{ "domain", "" }, { "domain", "-d" }, { "domain", "a..b" },
	{ "domain", "dialup.test\n" }, { "domain", "ALL;x" },
	{ "token", "" }, { "token", "xyz" }, { "token", TOKEN "0" },
	{ "token", "0123456789ABCDEF0123456789abcdef" },
	{ "arrived", "" }, { "arrived", "-1" }, { "arrived", "+5" },
	{ "arrived", " 5" }, { "arrived", "5x" },
	{ "arrived", "99999999999999999999999" },
	{ "expires", "1e9" }, { "expires", "0x10" },
	{ "size", "-100" }, { "size", "18446744073709551617" },
	{ "dsn_state", "maybe" }, { "dsn_since", "now" },
	{ "dsn_queue_id", "ALL" }, { "dsn_queue_id", "-d" },
};

int
main(void)
{
	struct holdrec hr;
	struct rr_reply rep;
	const char *why;
	char	*nul[] = { "state", "held\0x", "domain", "dialup.test" };
	size_t	nullen[] = { 5, 6, 6, 11 };
	size_t	i;

	CHECK_INT(decode(NULL, NULL, &hr, &why), HOLDREC_OK, "good record");
	CHECK_STR(hr.state, "held", "state");
	CHECK_STR(hr.domain, "dialup.test", "domain");
	CHECK_STR(hr.token, TOKEN, "token");
	CHECK_STR(hr.sender, "s@example.org", "sender");
	CHECK_STR(hr.dsn_qid, "695DCA72210", "dsn_queue_id");
	CHECK_STR(hr.warned, "", "absent field");
	CHECK_INT(hr.arrived, 1790000000, "arrived");
	CHECK_INT(hr.expires, 1790432000, "expires");
	CHECK_INT(hr.size, 1234, "size");
	CHECK(why == NULL, "why set for a good record: %s", why);

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why = NULL;
		CHECK_INT(decode(bad[i].field, bad[i].value, &hr, &why),
		    HOLDREC_BAD, bad[i].value);
		CHECK(why && strcmp(why, bad[i].field) == 0,
		    "%s=%s: why '%s'", bad[i].field, bad[i].value,
		    why ? why : "(null)");
	}

	/* Missing required fields; a first value wins over a second. */
	{
		const char *no_token[] = { "state", "held", "domain", "d.test",
			"arrived", "1", "expires", "2", NULL };
		const char *twice[] = { "state", "released", "domain",
			"d.test", "token", TOKEN, "arrived", "1", "expires",
			"2", "state", "bogus", NULL };

		reply(&rep, no_token, NULL, NULL);
		CHECK_INT(holdrec_decode(&rep, &hr, &why), HOLDREC_BAD,
		    "no token");
		CHECK_STR(why, "token", "no token: why");
		free(rep.elems);
		free(rep.elen);
		reply(&rep, twice, NULL, NULL);
		CHECK_INT(holdrec_decode(&rep, &hr, NULL), HOLDREC_OK,
		    "field twice");
		CHECK_STR(hr.state, "released", "field twice: the first");
		free(rep.elems);
		free(rep.elen);
	}

	/* Shapes: empty, odd, nil element, NUL inside, not an array. */
	memset(&rep, 0, sizeof(rep));
	rep.type = RRT_ARRAY;
	CHECK_INT(holdrec_decode(&rep, &hr, &why), HOLDREC_NONE, "empty");
	CHECK_STR(hr.state, "", "empty: state");
	rep.elems = nul;
	rep.elen = nullen;
	rep.nelem = 3;
	CHECK_INT(holdrec_decode(&rep, &hr, &why), HOLDREC_BAD, "odd");
	rep.nelem = 4;
	CHECK_INT(holdrec_decode(&rep, &hr, &why), HOLDREC_BAD, "NUL");
	nul[1] = NULL;
	nullen[1] = 0;
	CHECK_INT(holdrec_decode(&rep, &hr, &why), HOLDREC_BAD, "nil");
	memset(&rep, 0, sizeof(rep));
	rep.type = RRT_STR;
	CHECK_INT(holdrec_decode(&rep, &hr, &why), HOLDREC_BAD, "string");
	rep.type = RRT_ARRAY;
	rep.status = RR_ERROR;
	CHECK_INT(holdrec_decode(&rep, &hr, &why), HOLDREC_BAD, "error");
	return TAP_DONE();
}
