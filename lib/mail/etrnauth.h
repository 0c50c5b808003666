/* etrnauth.h - ETRN argument, authorization and rate limit (pure) */
#ifndef OE_ETRNAUTH_H
#define OE_ETRNAUTH_H

#include <stddef.h>

#include "mail/domain.h"
#include "mail/replies.h"
#include "util/buf.h"
#include "util/cidr.h"

/* The parsed argument of an ETRN command. */
struct etrn_req {
	char	node[256];	/* the argument as given, for replies */
	char	domain[256];	/* normalised */
	int	sub;		/* "@domain": subdomains too */
	int	queue;		/* "#name" */
	size_t	ncand, nok;	/* domains considered, authorized */
};

/* Why a candidate is or is not authorized (for the log line only). */
enum etrn_why {
	EW_OK,			/* the client is in the allow list */
	EW_NO_ENTRY,		/* not a dial-up domain */
	EW_NO_CLIENTS,		/* empty allow list and etrn_allow */
	EW_NOT_LISTED,		/* the client is not in it */
};

/*
 * One domain an ETRN covers, with the dial-up entry that governs it (the
 * milter's domlist_match()).
 */
struct etrn_cand {
	const char *domain;
	const struct dom_entry *entry;	/* NULL: none */
	enum etrn_why why;
};

struct etrn_auth {
	struct etrn_cand *v;
	size_t	n, cap;
	const char **ok;	/* the authorized domains, for the request */
	size_t	nok;
};

/* Per-client ETRN token bucket (rate limit). */
struct rate_entry {
	char	addr[CIDR_KEY_MAX];	/* the client's network */
	long long last;		/* time of the last request */
	long long level;	/* sixtieths of a request, drains limit/s */
	struct rate_entry *next;
};

#define RATE_BUCKETS	1024

int	etrnauth_parse(const char *, struct etrn_req *);
int	etrnauth_below(const char *, const char *);
void	etrnauth_init(struct etrn_auth *);
void	etrnauth_free(struct etrn_auth *);
void	etrnauth_candidates(const struct domlist *, const struct etrn_req *,
	    char *const *, size_t, struct etrn_auth *);
void	etrnauth_check_addr(struct etrn_auth *, const char *, const char *);
enum etrn_outcome etrnauth_verdict(struct etrn_auth *, const char *,
	    struct buf *);
enum etrn_outcome etrnauth_authorize(const struct domlist *, const char *,
	    const struct etrn_req *, char *const *, size_t, const char *,
	    struct etrn_auth *, struct buf *);
int	etrnauth_rate_allow(struct rate_entry **, const char *, int, int,
	    long long, long long);
void	etrnauth_rate_purge(struct rate_entry **, long long);

#endif
