/* holdrec.h - the hold record etrn:msg:<host>:<queue ID>, as read back */
#ifndef OE_HOLDREC_H
#define OE_HOLDREC_H

#include "util/redis_sync.h"

/*
 * A decoded hold record.  The strings point into the reply it was
 * decoded from and live as long as that reply; a field the record does
 * not have is "".  Times are seconds since the epoch, 0 when absent.
 */
struct holdrec {
	const char *state, *domain, *token, *sender, *rcpts, *ret, *envid;
	const char *headers, *dsn_state, *warned;
	const char *dsn_since, *dsn_qid, *warn_since, *warn_qid;
	long long arrived, expires, size;
};

/* holdrec_decode() results */
enum {
	HOLDREC_OK = 1,		/* a record, every field checked */
	HOLDREC_NONE = 0,	/* no record (an empty HGETALL reply) */
	HOLDREC_BAD = -1,	/* a hash that is not a valid record */
};

int	holdrec_decode(const struct rr_reply *, struct holdrec *,
	    const char **);

#endif
