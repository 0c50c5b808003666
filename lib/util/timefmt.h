/* timefmt.h - times and durations as text */
#ifndef OE_TIMEFMT_H
#define OE_TIMEFMT_H

#include <stddef.h>

void	timefmt_iso(char *, size_t, long long);
void	timefmt_duration(char *, size_t, long long);

#endif
