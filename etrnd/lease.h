/* lease.h - one etrnd per host identity: the lease etrn:lease:<host> */
#ifndef OE_LEASE_H
#define OE_LEASE_H

#include "mail/settings.h"
#include "util/buf.h"
#include "util/redis_sync.h"

struct lease;

struct lease *lease_new(const struct oe_settings *);
int	lease_start(struct lease *, struct buf *);
int	lease_hold(struct lease *, struct rpool *);
long long lease_wait_ms(const struct lease *);
int	lease_refused(const struct lease *);
void	lease_release(struct lease *, struct rpool *);
void	lease_free(struct lease *);

#endif
