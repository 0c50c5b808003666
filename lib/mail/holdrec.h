/* holdrec.h - the hold record etrn:msg:<host>:<queue ID> and its indexes */
#ifndef OE_HOLDREC_H
#define OE_HOLDREC_H

#include <stddef.h>

#include "util/buf.h"
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

/*
 * A record to write: the milter's (holdrec_store, state pending) or one
 * rebuilt from a hold tag (holdrec_rebuild, state held).  NULL strings
 * are written as "".
 */
struct holdrec_new {
	const char *qid, *domain, *token, *sender, *ret, *envid, *client;
	const struct buf *rcpts, *headers;	/* NULL: "" */
	size_t	nrcpt;
	long long size, arrived, expires, warn_at;
	long long arrived_ms;	/* holdrec_store: the pending index score */
	int	headers_truncated;
};

/* A released message put back on hold, with the addresses still queued. */
struct holdrec_rehold {
	const char *qid;
	char	*const *rcpt;
	size_t	nrcpt;
};

/*
 * The transitions.  Each returns 0 with the script's reply in *rep (the
 * layout is given at each function) or -1 with the failure in *rep; the
 * caller frees *rep in both cases.  host is this MX's hostname setting;
 * queue IDs passed qid_valid().
 */
int	holdrec_store(struct rpool *, const char *, const struct holdrec_new *,
	    struct rr_reply *);
int	holdrec_rebuild(struct rpool *, const char *,
	    const struct holdrec_new *, int, struct rr_reply *);
int	holdrec_promote(struct rpool *, const char *, char *const *, size_t,
	    struct rr_reply *);
int	holdrec_drop_pending(struct rpool *, const char *, long long,
	    char *const *, size_t, struct rr_reply *);
int	holdrec_list(struct rpool *, const char *, const char *,
	    struct rr_reply *);
int	holdrec_missing(struct rpool *, const char *, char *const *, size_t,
	    struct rr_reply *);
int	holdrec_mark_released(struct rpool *, const char *, long long,
	    char *const *, size_t, struct rr_reply *);
int	holdrec_unmark(struct rpool *, const char *, char *const *, size_t,
	    struct rr_reply *);
int	holdrec_gone(struct rpool *, const char *, int, const char *,
	    char *const *, size_t, struct rr_reply *);
int	holdrec_rehold(struct rpool *, const char *,
	    const struct holdrec_rehold *, size_t, struct rr_reply *);
int	holdrec_expire_now(struct rpool *, const char *, const char *,
	    long long, struct rr_reply *);
int	holdrec_expire_begin(struct rpool *, const char *, const char *,
	    long long, struct rr_reply *);
int	holdrec_to_tracking(struct rpool *, const char *, const char *,
	    long long, struct rr_reply *);
int	holdrec_dsn_state(struct rpool *, const char *, const char *, int,
	    const char *, const char *, const char *, const char *,
	    struct rr_reply *);
int	holdrec_warn_done(struct rpool *, const char *, const char *,
	    struct rr_reply *);
int	holdrec_released_drop(struct rpool *, const char *, const char *,
	    struct rr_reply *);
int	holdrec_flushed_at(struct rpool *, const char *, long long,
	    struct rr_reply *);
int	holdrec_finish(struct rpool *, const char *, const char *, int,
	    struct rr_reply *);

/* One record of a batch for holdrec_dsn_many(); NULL fields are kept. */
struct holdrec_dsn {
	const char *qid, *since, *dsn_qid, *msgid;
};

int	holdrec_load(struct rpool *, const char *, char *const *, size_t,
	    struct rr_reply *);
int	holdrec_load_next(const struct rr_reply *, size_t *,
	    struct rr_reply *);
int	holdrec_expire_begin_many(struct rpool *, const char *, long long,
	    char *const *, size_t, struct rr_reply *);
int	holdrec_dsn_many(struct rpool *, const char *, const char *,
	    const struct holdrec_dsn *, size_t, struct rr_reply *);
int	holdrec_finish_many(struct rpool *, const char *, int, char *const *,
	    size_t, struct rr_reply *);
int	holdrec_drop(struct rpool *, const char *, const char *, const char *,
	    const char *, struct rr_reply *);

#endif
