/* domain.h - domain names: validation, normalisation, dial-up lists */
#ifndef OE_DOMAIN_H
#define OE_DOMAIN_H

#include <stddef.h>

#include "util/buf.h"

#define DOM_MAX_LEN	253

int	dom_valid_hostname(const char *);
int	dom_valid_literal(const char *);
int	dom_normalize(const char *, struct buf *, const char **);
int	dom_addr_domain(const char *, struct buf *, const char **);

/* A dial-up domain list entry: "example.net" or ".example.net". */
struct dom_entry {
	char	*name;
	long long hold_time;	/* s; 0: use the default */
	long long warn_time;	/* s; -1: use the default, 0: none */
	size_t	order;		/* position added: the first of equals wins */
	char	*allow;		/* ETRN clients (CIDR list), NULL: default */
};

struct domlist {
	struct dom_entry *v;
	size_t	n, cap;
};

void	domlist_init(struct domlist *);
void	domlist_free(struct domlist *);
int	domlist_add(struct domlist *, const char *, long long, long long,
	    const char **);
void	domlist_sort(struct domlist *);
const struct dom_entry *domlist_match(const struct domlist *, const char *);
int	domlist_load_file(struct domlist *, const char *, struct buf *);

#endif
