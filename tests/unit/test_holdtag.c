/* test_holdtag - tag header round trip, parsing of hostile values, IDs */
#include "config.h"

#include "mail/holdtag.h"
#include "tap.h"

static const struct {
	const char *qid;
	int	ok;
} qids[] = {
	{ "695DCA72210", 1 },	/* Postfix short */
	{ "4Xz1nN0Qb2zN4Vk", 1 },	/* Postfix long */
	{ "6AN5tWjV014046", 1 },	/* Sendmail */
	{ "ALL", 0 }, { "-", 0 }, { "", 0 }, { "ABCD", 0 },
	{ "695DCA72210;id", 0 }, { "../../etc", 0 }, { "-d ALL", 0 },
	{ "695DCA72210\n", 0 },
	{ "0123456789abcdef0123456789abcdefX", 0 },	/* 33 */
};

static const char *const bad_tags[] = {
	"",
	"dialup.test",					/* no token */
	"dialup.test; token=xyz",			/* not hex */
	"dialup.test; token=0123456789abcdef0123456789ABCDEF", /* upper */
	"bad domain; token=0123456789abcdef0123456789abcdef",
	"dialup.test; token=0123456789abcdef0123456789abcdef; arrived=x",
	"dialup.test; token=0123456789abcdef0123456789abcdef0",
	"dialup.test; junk",
};

int
main(void)
{
	struct holdtag t, u;
	struct buf b = BUF_INIT;
	char	tok[33], tok2[33];
	size_t	i;

	for (i = 0; i < sizeof(qids) / sizeof(qids[0]); i++)
		CHECK(qid_valid(qids[i].qid) == qids[i].ok,
		    "qid_valid('%s'): got %d, want %d", qids[i].qid,
		    qid_valid(qids[i].qid), qids[i].ok);
	CHECK(hold_token_new(tok, sizeof(tok)) == 0 && strlen(tok) == 32,
	    "token");
	CHECK(hold_token_new(tok2, sizeof(tok2)) == 0 &&
	    strcmp(tok, tok2) != 0, "tokens differ");
	CHECK(hold_token_new(tok, 10) < 0, "short buffer refused");

	memset(&t, 0, sizeof(t));
	strcpy(t.domain, "dialup.test");
	strcpy(t.host, "mx.lab.test");
	strcpy(t.token, "0123456789abcdef0123456789abcdef");
	t.arrived = 1790000000;
	t.expires = 1790432000;
	holdtag_format(&b, &t);
	CHECK_STR(b.s, "dialup.test; host=mx.lab.test; "
	    "token=0123456789abcdef0123456789abcdef;\n\tarrived=1790000000; "
	    "expires=1790432000", "format");
	CHECK(holdtag_parse(b.s, &u) == 0, "parse own format");
	CHECK_STR(u.domain, t.domain, "domain");
	CHECK_STR(u.host, t.host, "host");
	CHECK_STR(u.token, t.token, "token");
	CHECK_INT(u.arrived, t.arrived, "arrived");
	CHECK_INT(u.expires, t.expires, "expires");
	/* As Postfix shows it after folding with CRLF. */
	CHECK(holdtag_parse(" dialup.test; host=mx.lab.test;\r\n\t"
	    "token=0123456789abcdef0123456789abcdef; future=1", &u) == 0,
	    "folded with CRLF, unknown field ignored");
	for (i = 0; i < sizeof(bad_tags) / sizeof(bad_tags[0]); i++)
		CHECK(holdtag_parse(bad_tags[i], &u) < 0,
		    "bad tag %zu '%s' accepted", i, bad_tags[i]);
	buf_free(&b);
	return TAP_DONE();
}
