/* atrnarg.h - the argument of ATRN (RFC 2645) and the sasl_users test */
#ifndef OE_ATRNARG_H
#define OE_ATRNARG_H

#include <stddef.h>

#define ATRN_MAX_DOMAINS	64	/* domains in one ATRN */

/* The domains of one ATRN, normalised, without duplicates. */
struct atrn_arg {
	char	*v[ATRN_MAX_DOMAINS];
	size_t	n;
};

/* Why an argument is refused (501; the log says which). */
enum atrn_syntax {
	ATRN_ARG_OK,
	ATRN_ARG_EMPTY,		/* no domain at all */
	ATRN_ARG_ITEM,		/* an empty item: "a,,b", "a," */
	ATRN_ARG_DOMAIN,	/* not a domain name */
	ATRN_ARG_TOO_MANY,	/* more than ATRN_MAX_DOMAINS */
};

enum atrn_syntax atrnarg_parse(const char *, struct atrn_arg *);
void	atrnarg_free(struct atrn_arg *);
const char *atrnarg_why(enum atrn_syntax);

#endif
