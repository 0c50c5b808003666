/* cidr.h - address lists in CIDR notation */
#ifndef OE_CIDR_H
#define OE_CIDR_H

#include "util/buf.h"

#include <stddef.h>

#define CIDR_KEY_MAX	64	/* "ffff:...:ffff/128" and its NUL fit */

int	cidr_match_list(const char *, const char *, struct buf *);
void	cidr_prefix_key(const char *, int, int, char *, size_t);

#endif
