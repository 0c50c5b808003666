/*
 * rkeys.h - the Redis key schema; the only place key strings appear
 *
 * Keys admins and scripts read (names fixed, see docs/redis-keys.md):
 *   etrn:domains                  SET   dial-up domain entries
 *                                       ("example.net", ".example.net")
 *   etrn:domain:<entry>           HASH  per-domain policy: hold_time,
 *                                       warn_time, allow, max_messages,
 *                                       max_bytes
 *   etrn:held:<domain>            ZSET  member "<host>:<queueid>",
 *                                       score = arrival (unix time)
 *   etrn:stats:<domain>           HASH  held, bytes, oldest, flushed,
 *                                       expired, last_etrn, ...
 *   etrn:msg:<host>:<queueid>     HASH  the hold record (rkeys.c lists
 *                                       its fields)
 * Keys of openetrn's own machinery:
 *   etrn:expiry:<host>            ZSET  member queueid, score = deadline
 *   etrn:warn:<host>              ZSET  member queueid, score = time of
 *                                       the delay warning
 *   etrn:hostdomains:<host>       SET   domains with mail held on host
 * <domain> is always dom_normalize()d; <host> is this MX's hostname
 * setting; <queueid> is checked by qid_valid().  No key has a TTL: the
 * hold record lives until the message leaves the hold.
 */
#ifndef OE_RKEYS_H
#define OE_RKEYS_H

#include "util/buf.h"

#define RKEY_PREFIX	"etrn:"

/* Fields of etrn:msg:<host>:<queueid>. */
#define RF_DOMAIN	"domain"
#define RF_HOST		"host"
#define RF_QUEUEID	"queueid"
#define RF_TOKEN	"token"
#define RF_STATE	"state"
#define RF_SENDER	"sender"
#define RF_RCPTS	"recipients"
#define RF_NRCPT	"nrcpt"
#define RF_SIZE		"size"
#define RF_ARRIVED	"arrived"
#define RF_EXPIRES	"expires"
#define RF_WARN_AT	"warn_at"
#define RF_RET		"ret"
#define RF_ENVID	"envid"
#define RF_CLIENT	"client"
#define RF_HEADERS	"headers"
#define RF_HDR_TRUNC	"headers_truncated"

#define RSTATE_HELD	"held"

void	rkey_domains(struct buf *);
void	rkey_domain_prefix(struct buf *);
void	rkey_domain(struct buf *, const char *);
void	rkey_held(struct buf *, const char *);
void	rkey_stats(struct buf *, const char *);
void	rkey_msg(struct buf *, const char *, const char *);
void	rkey_member(struct buf *, const char *, const char *);
void	rkey_expiry(struct buf *, const char *);
void	rkey_warn(struct buf *, const char *);
void	rkey_hostdomains(struct buf *, const char *);

#endif
