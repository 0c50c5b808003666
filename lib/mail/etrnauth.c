/*
 * NAME
 *	etrnauth - ETRN argument parsing, authorization and rate limits (pure)
 * DESCRIPTION
 *	etrnauth_parse() accepts "domain", "@domain" (the domain and its
 *	subdomains) and "#queue" (a queue name, which etrnd takes as the
 *	node's domain, as Sendmail's queue groups are usually named after
 *	it).  The domain goes through dom_normalize(), so only host name
 *	syntax (or an IDN, converted to A-labels) reaches Redis.
 *
 *	etrnauth_authorize() authorizes each domain a request covers on its own:
 *	for "domain" (or "#queue") the domain; for "@domain" the domain and
 *	every held domain below it (the caller asks Redis for those).  Each
 *	is governed by the dial-up entry
 *	the milter held it under (domlist_match(): the exact entry, else the
 *	nearest ".parent"), and is authorized when the client address is in
 *	that entry's `allow' list, or in etrn_allow when the entry has none.
 *	The request is authorized when one of them is; only the authorized
 *	domains are released and counted.  Without an entry, or with
 *	neither list, nothing is: authorization is default-deny.  The
 *	reason of a refusal is for the log only: every refusal gets the
 *	same reply, so the customer list cannot be read from it.
 *
 *	etrnauth_rate_allow() counts ETRN commands per client network (the
 *	address cut to client_ipv4_prefix or client_ipv6_prefix bits, so an
 *	IPv6 client cannot escape the limit by rotating through its /64)
 *	in a token bucket: etrn_rate_limit at once, then one every
 *	60/etrn_rate_limit seconds, kept in a table of RATE_BUCKETS
 *	chains; etrnauth_rate_purge() forgets the clients silent for a minute.
 *	Shared by etrnd and etrn-policy.
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

/* etrnauth_parse - the argument of ETRN; 0 or -1 (syntax) */
int
etrnauth_parse(const char *arg, struct etrn_req *r)
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

/* etrnauth_below - is m, as stored in Redis, a domain strictly below d */
int
etrnauth_below(const char *d, const char *m)
{
	struct buf norm = BUF_INIT;
	size_t	dl = strlen(d), ml = strlen(m);
	int	ok;

	if (ml <= dl + 1 || m[ml - dl - 1] != '.' || strcmp(m + ml - dl, d))
		return 0;
	ok = dom_normalize(m, &norm, NULL) == 0 && strcmp(norm.s, m) == 0;
	buf_free(&norm);
	return ok;
}

/* etrnauth_init - an empty candidate list */
void
etrnauth_init(struct etrn_auth *a)
{
	memset(a, 0, sizeof(*a));
}

/* etrnauth_free - release the lists (not the domains: borrowed) */
void
etrnauth_free(struct etrn_auth *a)
{
	free(a->v);
	free(a->ok);
	etrnauth_init(a);
}

/* etrnauth_cand_add - append a candidate */
static void
etrnauth_cand_add(struct etrn_auth *a, const char *domain,
    const struct dom_entry *e)
{
	if (a->n == a->cap) {
		a->cap = a->cap ? a->cap * 2 : 8;
		a->v = xreallocarray(a->v, a->cap, sizeof(a->v[0]));
	}
	a->v[a->n].domain = domain;
	a->v[a->n].entry = e;
	a->v[a->n].why = e == NULL ? EW_NO_ENTRY : EW_NOT_LISTED;
	a->n++;
}

/*
 * etrnauth_candidates - what r covers: its domain, and for "@d" each held
 * domain below d (from Redis: below[0..n-1], NULL or odd ones skipped);
 * each with the entry the milter held it under.
 */
void
etrnauth_candidates(const struct domlist *dl, const struct etrn_req *r,
    char *const *below, size_t n, struct etrn_auth *a)
{
	size_t	i;

	etrnauth_cand_add(a, r->domain, domlist_match(dl, r->domain));
	if (!r->sub)
		return;
	for (i = 0; i < n; i++)
		if (below[i] != NULL && etrnauth_below(r->domain, below[i]))
			etrnauth_cand_add(a, below[i],
			    domlist_match(dl, below[i]));
}

/* etrnauth_check_addr - mark the candidates whose allow list has client */
void
etrnauth_check_addr(struct etrn_auth *a, const char *default_allow,
    const char *client)
{
	struct buf err = BUF_INIT;
	const char *allow;
	size_t	i;
	int	m;

	for (i = 0; i < a->n; i++) {
		if (a->v[i].entry == NULL)
			continue;
		allow = a->v[i].entry->allow ? a->v[i].entry->allow :
		    default_allow;
		if (*allow == '\0') {
			a->v[i].why = EW_NO_CLIENTS;
			continue;
		}
		buf_reset(&err);
		if ((m = cidr_match_list(allow, client, &err)) < 0)
			log_warnx("domain=%s bad allow list: %s",
			    a->v[i].entry->name, buf_terminate(&err));
		a->v[i].why = m > 0 ? EW_OK : EW_NOT_LISTED;
	}
	buf_free(&err);
}

/* etrnauth_is_address - an IPv4 or IPv6 address in text form */
static int
etrnauth_is_address(const char *s)
{
	unsigned char a[sizeof(struct in6_addr)];

	return inet_pton(AF_INET, s, a) == 1 || inet_pton(AF_INET6, s, a) == 1;
}

/*
 * etrnauth_verdict - ETRN_STARTED when some candidate is authorized, with
 * the authorized domains in a->ok; else ETRN_NOT_ALLOWED and, for the
 * log only, the reason of the first candidate that has an entry.
 */
enum etrn_outcome
etrnauth_verdict(struct etrn_auth *a, const char *client, struct buf *reason)
{
	const struct etrn_cand *why = NULL;
	size_t	i;

	free(a->ok);
	a->ok = xcalloc(a->n + 1, sizeof(a->ok[0]));
	a->nok = 0;
	for (i = 0; i < a->n; i++) {
		if (a->v[i].why == EW_OK)
			a->ok[a->nok++] = a->v[i].domain;
		else if (why == NULL && a->v[i].why != EW_NO_ENTRY)
			why = &a->v[i];
	}
	if (a->nok > 0)
		return ETRN_STARTED;
	if (reason == NULL)
		return ETRN_NOT_ALLOWED;
	if (why == NULL)
		buf_cat(reason, "not a dial-up domain here");
	else if (why->why == EW_NO_CLIENTS)
		buf_printf(reason, "no ETRN clients are authorized for %s",
		    why->entry ? why->entry->name : "it");
	else if (etrnauth_is_address(client))
		buf_printf(reason, "client %s is not authorized for %s",
		    client, why->entry ? why->entry->name : "it");
	else
		buf_printf(reason, "the client is not authorized for %s",
		    why->entry ? why->entry->name : "it");
	return ETRN_NOT_ALLOWED;
}

/*
 * etrnauth_authorize - may client flush r: each domain it covers on its own
 * (etrnauth_candidates), by the allow list of the entry that governs it, or
 * etrn_allow when that has none.  ETRN_STARTED means some; a->ok names
 * them.
 */
enum etrn_outcome
etrnauth_authorize(const struct domlist *dl, const char *default_allow,
    const struct etrn_req *r, char *const *below, size_t n,
    const char *client, struct etrn_auth *a, struct buf *reason)
{
	etrnauth_candidates(dl, r, below, n, a);
	etrnauth_check_addr(a, default_allow, client);
	return etrnauth_verdict(a, client, reason);
}

/* etrnauth_rate_hash - bucket of an address */
static unsigned
etrnauth_rate_hash(const char *s)
{
	unsigned h = 5381;

	while (*s)
		h = h * 33 + (unsigned char)*s++;
	return h % RATE_BUCKETS;
}

/*
 * etrnauth_rate_allow - count one ETRN for the network of addr (v4len/v6len
 * bits, cidr_prefix_key()); 0 when over limit.  A token bucket: limit
 * at once, then one every 60/limit seconds.  The level is kept in
 * sixtieths of a request, so it drains by exactly limit a second; a
 * refused request adds nothing, so a client that keeps knocking still
 * gets its share and one that stops is forgotten a minute later.  A
 * fixed calendar minute would let 2 * limit through around its edge.
 */
int
etrnauth_rate_allow(struct rate_entry **tab, const char *addr, int v4len,
    int v6len, long long now, long long limit)
{
	struct rate_entry **pp, *e;
	long long full = limit * 60;
	char	key[sizeof(e->addr)];

	/*
	 * An IPv6 client has a /64 or more to rotate through: counted by
	 * address, it would never be limited.  What is no address is
	 * counted by what the entry can hold: compared whole, a string too
	 * long for it would never match its own entry.
	 */
	cidr_prefix_key(addr, v4len, v6len, key, sizeof(key));
	pp = &tab[etrnauth_rate_hash(key)];
	for (e = *pp; e != NULL; e = e->next)
		if (strcmp(e->addr, key) == 0)
			break;
	if (e == NULL) {
		e = xcalloc(1, sizeof(*e));
		memcpy(e->addr, key, sizeof(e->addr));
		e->last = now;
		e->next = *pp;
		*pp = e;
	}
	if (now > e->last) {
		/* A minute of silence empties any bucket: no overflow. */
		e->level = now - e->last >= 60 ? 0 :
		    e->level - (now - e->last) * limit;
		if (e->level < 0)
			e->level = 0;
		e->last = now;
	} else if (now < e->last)
		e->last = now;	/* the clock stepped back: no time passed */
	if (e->level + 60 > full)
		return 0;
	e->level += 60;
	return 1;
}

/* etrnauth_rate_purge - forget the clients silent for a minute (empty) */
void
etrnauth_rate_purge(struct rate_entry **tab, long long now)
{
	struct rate_entry **pp, *e;
	int	i;

	for (i = 0; i < RATE_BUCKETS; i++)
		for (pp = &tab[i]; (e = *pp) != NULL;) {
			if (now - e->last >= 60) {
				*pp = e->next;
				free(e);
			} else
				pp = &e->next;
		}
}
