/* pattr.h - Postfix policy requests: the attribute reader (pure) */
#ifndef OE_PATTR_H
#define OE_PATTR_H

#include <stddef.h>

#include "util/buf.h"

/* The attributes etrn-policy reads; all others are counted and skipped. */
enum pattr_id {
	PA_REQUEST,		/* smtpd_access_policy */
	PA_PROTOCOL_STATE,	/* ETRN, RCPT, ... */
	PA_CLIENT_ADDRESS,
	PA_SASL_USERNAME,
	PA_ETRN_DOMAIN,
	PA_RECIPIENT,
	PA_SIZE,		/* MAIL FROM SIZE=, or 0 */
	PA_QUEUE_ID,
	PA_NKNOWN
};

enum pattr_status {
	PATTR_MORE,		/* all input used, request not complete */
	PATTR_DONE,		/* a complete request (empty line seen) */
	PATTR_ERROR,		/* protocol error: see ->error */
};

struct pattr {
	size_t	max_line;	/* bytes of one "name=value" line */
	size_t	max_attrs;	/* attributes per request */
	struct buf line;	/* the line being read */
	size_t	nattrs;
	char	*val[PA_NKNOWN];	/* NULL: not sent */
	const char *error;	/* after PATTR_ERROR: a constant reason */
};

void	pattr_init(struct pattr *, size_t, size_t);
void	pattr_reset(struct pattr *);
void	pattr_free(struct pattr *);
enum pattr_status pattr_feed(struct pattr *, const char *, size_t, size_t *);
const char *pattr_get(const struct pattr *, enum pattr_id);
const char *pattr_name(enum pattr_id);

#endif
