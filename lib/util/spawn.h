/* spawn.h - run a program with argv, never through a shell */
#ifndef OE_SPAWN_H
#define OE_SPAWN_H

#include <stddef.h>

#include "util/buf.h"

#define SPAWN_MAX_OUTPUT (64 * 1048576)

struct spawn_result {
	int	exited;		/* 1: exit status valid */
	int	status;		/* exit status */
	int	signal;		/* terminating signal, or 0 */
	int	timed_out;
};

int	spawn_run(const char *const *, const char *, size_t, struct buf *,
	    struct buf *, int, struct spawn_result *);

#endif
