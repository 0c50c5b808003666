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
 *   etrn:helddomains              SET   domains with mail held on any
 *                                       host (for ETRN @domain counts)
 *   etrn:pending:<host>           ZSET  member queueid, score = arrival
 *                                       (unix ms): recorded by the
 *                                       milter, not yet seen on hold
 *   etrn:released:<host>          ZSET  member queueid, score = release
 *                                       time: released, not yet gone
 *   etrn:flush                    STREAM flush requests (domain, sub,
 *                                       client, via, time); consumer
 *                                       group "etrnd:<host>" per host
 *   etrn:flushing:<domain>        STRING a flush started (TTL
 *                                       flush_lock_time)
 *   etrn:lease:<host>             STRING the etrnd serving <host>:
 *                                       "instance=I pid=P host=N
 *                                       started=T proc=B" (TTL
 *                                       etrnd_lease_time)
 * <domain> is always dom_normalize()d; <host> is this MX's hostname
 * setting; <queueid> is checked by qid_valid().  Only the flush marker
 * and the lease have a TTL: the hold record lives until the message
 * leaves the hold.
 */
#ifndef OE_RKEYS_H
#define OE_RKEYS_H

#include "util/buf.h"

#define RKEY_PREFIX	"etrn:"

/* Fields of etrn:domain:<entry>. */
#define DF_HOLD_TIME	"hold_time"
#define DF_WARN_TIME	"warn_time"
#define DF_ALLOW	"allow"
#define DF_MAX_MESSAGES	"max_messages"
#define DF_MAX_BYTES	"max_bytes"
#define DF_SASL_USERS	"sasl_users"

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

#define RF_RELEASED_AT	"released_at"
#define RF_REHOLDS	"reholds"
#define RF_DSN_STATE	"dsn_state"	/* sending, queued, sent, none */
#define RF_DSN_ID	"dsn_message_id"
#define RF_WARNED	"warned"	/* sending, queued, sent, none */
#define RF_DSN_SINCE	"dsn_since"	/* failure DSN handed over after */
#define RF_DSN_QID	"dsn_queue_id"	/* ... held as this queue ID */
#define RF_WARN_SINCE	"warn_since"	/* the same for the warning */
#define RF_WARN_QID	"warn_queue_id"
#define RF_EXPIRE_AT	"expire_started"

#define RSTATE_PENDING	"pending"	/* not yet seen on hold: counts
					 * nowhere (etrnd/pending.c) */
#define RSTATE_HELD	"held"
#define RSTATE_RELEASED	"released"
#define RSTATE_EXPIRING	"expiring"

/* Values of dsn_state and warned. */
#define RDSN_SENDING	"sending"	/* being built and handed over */
#define RDSN_QUEUED	"queued"	/* held by the DSN service */
#define RDSN_SENT	"sent"
#define RDSN_NONE	"none"		/* not wanted, or impossible */

/* Fields of etrn:stats:<domain>. */
#define SF_HELD		"held"
#define SF_BYTES	"bytes"
#define SF_OLDEST	"oldest"
#define SF_RECEIVED	"received"
#define SF_FLUSHED	"flushed"
#define SF_EXPIRED	"expired"
#define SF_LAST_ETRN	"last_etrn"
#define SF_LAST_CLIENT	"last_etrn_client"
#define SF_LAST_FLUSH	"last_flush"

/* Fields of etrn:flush entries. */
#define FF_DOMAIN	"domain"
#define FF_SUB		"sub"
#define FF_CLIENT	"client"
#define FF_VIA		"via"
#define FF_TIME		"time"
#define FLUSH_STREAM_MAXLEN "100000"

/* Fields of the etrn:lease:<host> value, "name=value" separated by
 * spaces, instance first (the owner's scripts compare that prefix). */
#define LF_INSTANCE	"instance"	/* random, per etrnd start */
#define LF_PID		"pid"		/* the queue runner's process */
#define LF_HOST		"host"		/* gethostname() of its machine */
#define LF_STARTED	"started"	/* Unix time it started */
#define LF_PROC		"proc"		/* boot ID:pid namespace, or - */

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
void	rkey_pending(struct buf *, const char *);
void	rkey_released(struct buf *, const char *);
void	rkey_helddomains(struct buf *);
void	rkey_flush_stream(struct buf *);
void	rkey_flush_group(struct buf *, const char *);
void	rkey_flushing(struct buf *, const char *);
void	rkey_lease(struct buf *, const char *);

#endif
