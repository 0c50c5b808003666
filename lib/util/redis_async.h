/* redis_async.h - event-driven Redis client with timeouts and reconnect */
#ifndef OE_REDIS_ASYNC_H
#define OE_REDIS_ASYNC_H

#include <stddef.h>

#include <event2/event.h>

#include "util/redis_sync.h"

struct ra;
struct redis_ha;

/* Called exactly once per command; r->status is RR_IO on timeout or a
 * lost connection.  The reply is freed after the callback returns. */
typedef void ra_cb(struct rr_reply *, void *);

struct ra *ra_new(struct event_base *, const char *, const char *, int, int,
	    const struct redis_ha *);
void	ra_free(struct ra *);
int	ra_connected(const struct ra *);
int	ra_command(struct ra *, ra_cb *, void *, int, const char **,
	    const size_t *);
int	ra_script(struct ra *, const struct rscript *, ra_cb *, void *, int,
	    int, const char **, const size_t *);

#endif
