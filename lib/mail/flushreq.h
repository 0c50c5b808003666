/* flushreq.h - queue a flush request (ETRN listener, etrn-policy, etrnctl) */
#ifndef OE_FLUSHREQ_H
#define OE_FLUSHREQ_H

#include <stddef.h>

#include "util/buf.h"
#include "util/rargs.h"
#include "util/redis_sync.h"

struct flushreq {
	const char *const *domains;	/* normalised, each one authorized */
	size_t	ndomains;
	const char *client;	/* who asked (address, or "etrnctl") */
	const char *via;	/* host name of the listener, or "etrnctl" */
	long long lock_ttl;	/* flush_lock_time */
	long long now;
	int	force;		/* admin: no "already started" check,
				 * no last_etrn statistics */
};

#define FLUSHREQ_KEYS	1
#define FLUSHREQ_FIXED	10	/* arguments before the domains */

struct flushreq_args {
	struct buf stream, held, stats, flushing;
	char	ttl[24], now[24], nd[24];
	struct rargs args;	/* keys, fixed arguments, domains */
};

/* The held domains below a domain (for "@domain"). */
#define FLUSHREQ_BELOW_KEYS	1

struct flushreq_below {
	struct buf key, prefix;
	struct rargs args;	/* key, domain, held prefix */
};

extern struct rscript flushreq_script;	/* SHA cached by the pool */
extern struct rscript flushreq_below_script;

void	flushreq_args(struct flushreq_args *, const struct flushreq *);
void	flushreq_args_free(struct flushreq_args *);
int	flushreq_result(const struct rr_reply *, long long *, int *,
	    const char **);
void	flushreq_below_args(struct flushreq_below *, const char *);
void	flushreq_below_free(struct flushreq_below *);
int	flushreq_below_result(const struct rr_reply *);

#endif
