/* flushreq.h - queue a flush request (ETRN listener and etrnctl) */
#ifndef OE_FLUSHREQ_H
#define OE_FLUSHREQ_H

#include "util/buf.h"
#include "util/redis_sync.h"

struct flushreq {
	const char *domain;	/* normalised */
	int	sub;		/* and its subdomains */
	const char *client;	/* who asked (address, or "etrnctl") */
	const char *via;	/* host name of the listener, or "etrnctl" */
	long long lock_ttl;	/* flush_lock_time */
	long long now;
	int	force;		/* admin: no "already started" check, no
				 * last_etrn statistics */
};

#define FLUSHREQ_KEYS	5
#define FLUSHREQ_ARGC	(FLUSHREQ_KEYS + 9)

struct flushreq_args {
	struct buf k[FLUSHREQ_KEYS], prefix;
	char	ttl[24], now[24];
	const char *av[FLUSHREQ_ARGC];
};

extern struct rscript flushreq_script;	/* SHA cached by the pool */

void	flushreq_args(struct flushreq_args *, const struct flushreq *);
void	flushreq_args_free(struct flushreq_args *);
int	flushreq_result(const struct rr_reply *, long long *, int *,
	    const char **);

#endif
