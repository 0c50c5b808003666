/* test_cidr - network lists for ETRN authorization */
#include "config.h"

#include <string.h>

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

static const struct {
	const char *addr;
	int	v4, v6;
	const char *want;
} keys[] = {
	{ "192.0.2.77", 32, 64, "192.0.2.77/32" },
	{ "192.0.2.77", 24, 64, "192.0.2.0/24" },
	{ "192.0.2.77", 20, 64, "192.0.0.0/20" },
	{ "::ffff:192.0.2.77", 24, 64, "192.0.2.0/24" },
	{ "2001:db8:1:2:a:b:c:d", 32, 64, "2001:db8:1:2::/64" },
	{ "2001:0db8:0001:0002::ffff", 32, 64, "2001:db8:1:2::/64" },
	{ "2001:db8:1:2:a:b:c:d", 32, 56, "2001:db8:1::/56" },
	{ "2001:db8:1:2:a:b:c:d", 32, 128, "2001:db8:1:2:a:b:c:d/128" },
	{ "::1", 32, 64, "::/64" },
	{ "unknown", 32, 64, "unknown" },
};

int
main(void)
{
	char	key[CIDR_KEY_MAX];
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
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		cidr_prefix_key(keys[i].addr, keys[i].v4, keys[i].v6, key,
		    sizeof(key));
		CHECK(strcmp(key, keys[i].want) == 0, "key of '%s' /%d /%d: "
		    "got '%s', want '%s'", keys[i].addr, keys[i].v4,
		    keys[i].v6, key, keys[i].want);
	}
	buf_free(&err);
	return TAP_DONE();
}
