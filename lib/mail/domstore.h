/* domstore.h - reading the dial-up domains and their settings from Redis */
#ifndef OE_DOMSTORE_H
#define OE_DOMSTORE_H

#include "mail/domain.h"
#include "util/buf.h"
#include "util/redis_sync.h"

extern struct rscript domstore_script;

void	domstore_args(struct buf *, struct buf *);
int	domstore_parse(const struct rr_reply *, struct domlist *,
	    struct buf *);
int	domstore_fetch(struct rpool *, struct domlist *, struct buf *);

#endif
