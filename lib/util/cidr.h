/* cidr.h - address lists in CIDR notation */
#ifndef OE_CIDR_H
#define OE_CIDR_H

#include "util/buf.h"

int	cidr_match_list(const char *, const char *, struct buf *);

#endif
