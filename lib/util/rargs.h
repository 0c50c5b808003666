/* rargs.h - the argument vector of one Redis command or script call */
#ifndef OE_RARGS_H
#define OE_RARGS_H

#include <stddef.h>

#include "util/buf.h"

/* Pass as (a.n, a.v, a.l) to rpool_command/rpool_script/ra_command/
 * ra_script.  The strings are not copied: they must outlive the call. */
struct rargs {
	const char **v;		/* the arguments */
	size_t	*l;		/* their lengths (binary safe) */
	int	n, cap;
};

#define RARGS_INIT { NULL, NULL, 0, 0 }

void	rargs_add(struct rargs *, const void *, size_t);
void	rargs_str(struct rargs *, const char *);
void	rargs_buf(struct rargs *, const struct buf *);
void	rargs_strs(struct rargs *, ...) __attribute__((sentinel));
void	rargs_reset(struct rargs *);
void	rargs_free(struct rargs *);

#endif
