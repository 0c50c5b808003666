/* test_timefmt - ISO 8601 times and short durations */
#include "config.h"

#include <limits.h>

#include "util/timefmt.h"
#include "tap.h"

static const struct {
	long long t;
	const char *want;
} times[] = {
	{ 1795457360, "2026-11-23T18:09:20Z" },
	{ 0, "1970-01-01T00:00:00Z" },
	{ 951782400, "2000-02-29T00:00:00Z" },
	{ -1, "1969-12-31T23:59:59Z" },
};

static const struct {
	long long secs;
	size_t	size;		/* 0: a large buffer */
	const char *want;
} durations[] = {
	{ 0, 0, "0s" },
	{ 42, 0, "42s" },
	{ 60, 0, "1m" },
	{ 61, 0, "1m1s" },
	{ 3600, 0, "1h" },
	{ 3661, 0, "1h1m" },
	{ 86400 + 3600 * 4 + 59, 0, "1d4h" },
	{ 86400 + 60, 0, "1d" },	/* two largest units: the hour is 0 */
	{ 86400 * 400, 0, "400d" },
	{ -7200, 0, "2h" },
	{ LLONG_MAX, 0, "106751991167300d15h" },
	{ LLONG_MIN, 0, "106751991167300d15h" },
	/* Cut after the last unit that fits, never in a unit. */
	{ 86400 + 3600, 3, "1d" },
	{ 86400 + 3600, 4, "1d" },
	{ 86400 + 3600, 5, "1d1h" },
	{ 86400 * 10, 3, "" },
};

/* test_iso - Unix times as ISO 8601 UTC */
static void
test_iso(void)
{
	char	s[64];
	size_t	i;

	for (i = 0; i < sizeof(times) / sizeof(times[0]); i++) {
		timefmt_iso(s, sizeof(s), times[i].t);
		CHECK_STR(s, times[i].want, "iso time");
	}
	/* Too small for the date: the number instead, cut to fit. */
	timefmt_iso(s, 8, 1795457360);
	CHECK_STR(s, "1795457", "iso time in a small buffer");
}

/* test_duration - the two largest units, sign dropped */
static void
test_duration(void)
{
	char	s[64];
	size_t	i;

	for (i = 0; i < sizeof(durations) / sizeof(durations[0]); i++) {
		timefmt_duration(s, durations[i].size ? durations[i].size :
		    sizeof(s), durations[i].secs);
		CHECK(strcmp(s, durations[i].want) == 0,
		    "duration %lld in %zu: got '%s', want '%s'",
		    durations[i].secs, durations[i].size, s, durations[i].want);
	}
}

int
main(void)
{
	test_iso();
	test_duration();
	return TAP_DONE();
}
