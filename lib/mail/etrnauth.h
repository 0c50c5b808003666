/* etrnauth.h - ETRN argument, authorization and rate limit (pure) */
#ifndef OE_ETRNAUTH_H
#define OE_ETRNAUTH_H

#include "mail/domain.h"
#include "mail/replies.h"
#include "util/buf.h"

/* The parsed argument of an ETRN command. */
struct etrn_req {
	char	node[256];	/* the argument as given, for replies */
	char	domain[256];	/* normalised */
	int	sub;		/* "@domain": subdomains too */
	int	queue;		/* "#name" */
};

/* Per-client ETRN counts in the current minute (rate limit). */
struct rate_entry {
	char	addr[64];
	long long window;	/* minute number */
	long long count;
	struct rate_entry *next;
};

#define RATE_BUCKETS	1024

int	etrn_parse(const char *, struct etrn_req *);
const struct dom_entry *etrn_entry(const struct domlist *,
	    const struct etrn_req *);
enum etrn_outcome etrn_authorize(const struct domlist *, const char *,
	    const struct etrn_req *, const char *, struct buf *);
int	ratetab_allow(struct rate_entry **, const char *, long long,
	    long long);
void	ratetab_purge(struct rate_entry **, long long);

#endif
