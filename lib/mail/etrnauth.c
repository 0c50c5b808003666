/*
 * NAME
 *	etrnauth - ETRN argument parsing, authorization and rate limits (pure)
 * DESCRIPTION
 *	etrn_parse() accepts "domain", "@domain" (the domain and its
 *	subdomains) and "#queue" (a queue name, which etrnd takes as the
 *	node's domain, as Sendmail's queue groups are usually named after
 *	it).  The domain goes through dom_normalize(), so only host name
 *	syntax (or an IDN, converted to A-labels) reaches Redis.
 *
 *	etrn_authorize() requires the node to be a dial-up domain (an exact
 *	entry, or a ".parent" entry covering it; for "@domain" also an entry
 *	".domain") and the client address to be in that entry's `allow`
 *	list, or in etrn_allow when the entry has none.  With neither, ETRN
 *	is refused: authorization is default-deny.
 *
 *	ratetab_allow() counts ETRN commands per client address and minute
 *	in a table of RATE_BUCKETS chains; ratetab_purge() forgets past
 *	minutes.  Shared by etrnd and etrn-policy.
 */
#include "config.h"

#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mail/domain.h"
#include "mail/etrnauth.h"
#include "mail/replies.h"
#include "util/cidr.h"
#include "util/log.h"
#include "util/xalloc.h"

/* etrn_parse - the argument of ETRN; 0 or -1 (syntax) */
int
etrn_parse(const char *arg, struct etrn_req *r)
{
	struct buf norm = BUF_INIT;
	const char *d = arg;
	size_t	len = strlen(arg);

	memset(r, 0, sizeof(r[0]));
	if (len == 0 || len >= sizeof(r->node) || strpbrk(arg, " \t") != NULL)
		return -1;
	if (*d == '@')
		r->sub = 1, d++;
	else if (*d == '#')
		r->queue = 1, d++;
	if (dom_normalize(d, &norm, NULL) < 0) {
		buf_free(&norm);
		return -1;
	}
	memcpy(r->node, arg, len + 1);
	memcpy(r->domain, norm.s, norm.len + 1);
	buf_free(&norm);
	return 0;
}

/* etrn_entry - the dial-up entry covering the request, or NULL */
const struct dom_entry *
etrn_entry(const struct domlist *dl, const struct etrn_req *r)
{
	const struct dom_entry *e;
	char	parent[258];

	if ((e = domlist_match(dl, r->domain)) != NULL || !r->sub)
		return e;
	snprintf(parent, sizeof(parent), ".%s", r->domain);
	return domlist_match(dl, parent);
}

/* etrn_is_address - an IPv4 or IPv6 address in text form */
static int
etrn_is_address(const char *s)
{
	unsigned char a[sizeof(struct in6_addr)];

	return inet_pton(AF_INET, s, a) == 1 || inet_pton(AF_INET6, s, a) == 1;
}

/* etrn_authorize - may client flush r; ETRN_STARTED means yes */
enum etrn_outcome
etrn_authorize(const struct domlist *dl, const char *default_allow,
    const struct etrn_req *r, const char *client, struct buf *reason)
{
	const struct dom_entry *e = etrn_entry(dl, r);
	const char *allow;
	struct buf err = BUF_INIT;
	int	m;

	if (e == NULL) {
		buf_cat(reason, "not a dial-up domain here");
		return ETRN_NOT_ALLOWED;
	}
	allow = e->allow ? e->allow : default_allow;
	if (*allow == '\0') {
		buf_cat(reason, "no ETRN clients are authorized for it");
		return ETRN_NOT_ALLOWED;
	}
	if ((m = cidr_match_list(allow, client, &err)) <= 0) {
		if (m < 0)
			log_warnx("domain=%s bad allow list: %s", e->name,
			    buf_terminate(&err));
		/* Named only when it is an address: the text may reach an
		 * SMTP reply (etrn-policy's client_address is Postfix's). */
		if (etrn_is_address(client))
			buf_printf(reason, "client %s is not authorized for it",
			    client);
		else
			buf_cat(reason, "the client is not authorized for it");
		buf_free(&err);
		return ETRN_NOT_ALLOWED;
	}
	buf_free(&err);
	return ETRN_STARTED;
}

/* rate_hash - bucket of an address */
static unsigned
rate_hash(const char *s)
{
	unsigned h = 5381;

	while (*s)
		h = h * 33 + (unsigned char)*s++;
	return h % RATE_BUCKETS;
}

/* ratetab_allow - count one ETRN for addr; 0 when over limit per minute */
int
ratetab_allow(struct rate_entry **tab, const char *addr, long long now,
    long long limit)
{
	struct rate_entry **pp, *e;
	long long window = now / 60;
	char	key[sizeof(e->addr)];

	/*
	 * Count an address by what the entry can hold: compared whole, an
	 * address too long for it never matched its own entry and got a
	 * new one per ETRN, unlimited.
	 */
	snprintf(key, sizeof(key), "%s", addr);
	pp = &tab[rate_hash(key)];
	for (e = *pp; e != NULL; e = e->next)
		if (strcmp(e->addr, key) == 0)
			break;
	if (e == NULL) {
		e = xcalloc(1, sizeof(*e));
		memcpy(e->addr, key, sizeof(e->addr));
		e->next = *pp;
		*pp = e;
	}
	if (e->window != window) {
		e->window = window;
		e->count = 0;
	}
	return ++e->count <= limit;
}

/* ratetab_purge - forget entries of past minutes */
void
ratetab_purge(struct rate_entry **tab, long long now)
{
	struct rate_entry **pp, *e;
	int	i;

	for (i = 0; i < RATE_BUCKETS; i++)
		for (pp = &tab[i]; (e = *pp) != NULL;) {
			if (e->window < now / 60) {
				*pp = e->next;
				free(e);
			} else
				pp = &e->next;
		}
}
