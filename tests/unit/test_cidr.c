/* test_cidr - network lists for ETRN authorization */
#include "config.h"

#include "util/cidr.h"
#include "tap.h"

static const struct {
	const char *list;
	const char *addr;
	int	want;
} cases[] = {
	{ "192.0.2.0/24", "192.0.2.77", 1 },
	{ "192.0.2.0/24", "192.0.3.1", 0 },
	{ "192.0.2.128/25", "192.0.2.127", 0 },
	{ "192.0.2.128/25", "192.0.2.200", 1 },
	{ "10.0.0.0/8, 127.0.0.1", "127.0.0.1", 1 },
	{ "10.0.0.0/8 127.0.0.1", "127.0.0.2", 0 },
	{ "0.0.0.0/0", "203.0.113.9", 1 },
	{ "2001:db8::/32", "2001:db8:1::5", 1 },
	{ "2001:db8::/32", "2001:db9::5", 0 },
	{ "::1", "::1", 1 },
	{ "192.0.2.0/24", "::ffff:192.0.2.5", 1 },
	{ "192.0.2.0/24", "2001:db8::1", 0 },
	{ "", "127.0.0.1", 0 },
	{ "192.0.2.0/33", "192.0.2.1", -1 },
	{ "192.0.2.0/x", "192.0.2.1", -1 },
	{ "example.com", "192.0.2.1", -1 },
	{ "192.0.2.1; DEL *", "192.0.2.1", -1 },
	{ "192.0.2.0/24", "not-an-address", -1 },
	{ "::ffff:0:0/96", "192.0.2.1", -1 },
};

int
main(void)
{
	struct buf err = BUF_INIT;
	size_t	i;
	int	got;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		buf_reset(&err);
		got = cidr_match_list(cases[i].list, cases[i].addr, &err);
		CHECK(got == cases[i].want, "'%s' ~ '%s': got %d, want %d",
		    cases[i].addr, cases[i].list, got, cases[i].want);
		if (got < 0)
			CHECK(err.len > 0, "no reason for case %zu", i);
	}
	buf_free(&err);
	return TAP_DONE();
}
