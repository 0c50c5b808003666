/* redis_reply.h - converting hiredis replies (hiredis users only) */
#ifndef OE_REDIS_REPLY_H
#define OE_REDIS_REPLY_H

#include <hiredis/hiredis.h>

#include "util/redis_sync.h"

void	rr_from_hiredis(const redisReply *, struct rr_reply *);

#endif
