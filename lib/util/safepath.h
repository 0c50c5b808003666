/* safepath.h - files and sockets root creates, in root-only directories */
#ifndef OE_SAFEPATH_H
#define OE_SAFEPATH_H

#include <sys/types.h>

#include "util/buf.h"

int	safepath_resolve(const char *, struct buf *, struct buf *);
int	safepath_write(const char *, const void *, size_t, mode_t,
	    struct buf *);

#endif
