/*
 * NAME
 *	timefmt - times and durations as text
 * SUMMARY
 *	timefmt_iso(out, size, t); timefmt_duration(out, size, secs);
 * DESCRIPTION
 *	timefmt_iso() shows a Unix time in ISO 8601 UTC
 *	("2026-11-23T18:09:20Z").  timefmt_duration() shows a number of
 *	seconds with its two largest units ("2d4h", "3h", "15m", "42s",
 *	"0s"), the sign dropped.
 * DIAGNOSTICS
 *	None.  A time gmtime_r() cannot convert is shown as the number.
 *	A duration is cut after the last unit that fits in out, which is
 *	empty when not even the first one does.
 */
#include "config.h"

#include <stdio.h>
#include <time.h>

#include "util/timefmt.h"

/* timefmt_iso - Unix time as ISO 8601 UTC */
void
timefmt_iso(char *out, size_t size, long long t)
{
	time_t	tt = (time_t)t;
	struct tm tm;

	if (gmtime_r(&tt, &tm) == NULL ||
	    strftime(out, size, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(out, size, "%lld", t);
}

/* timefmt_duration - "2d4h", "3h", "15m", "42s" (sign dropped) */
void
timefmt_duration(char *out, size_t size, long long secs)
{
	static const struct {
		unsigned long long secs;
		char	unit;
	} units[] = { { 86400, 'd' }, { 3600, 'h' }, { 60, 'm' }, { 1, 's' } };
	unsigned long long s, q;
	size_t	i, len = 0;
	int	parts = 0, n;

	if (size == 0)
		return;
	/* Unsigned, so that -LLONG_MIN does not overflow. */
	s = secs < 0 ? -(unsigned long long)secs : (unsigned long long)secs;
	snprintf(out, size, "0s");
	for (i = 0; i < sizeof(units) / sizeof(units[0]) && parts < 2; i++) {
		q = s / units[i].secs;
		if (q == 0) {
			if (parts > 0)
				break;
			continue;
		}
		s -= q * units[i].secs;
		n = snprintf(out + len, size - len, "%llu%c", q, units[i].unit);
		if (n < 0 || (size_t)n >= size - len) {
			/* No half unit: what fitted, or nothing. */
			out[len] = '\0';
			break;
		}
		len += (size_t)n;
		parts++;
	}
}
