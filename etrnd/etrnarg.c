/*
 * NAME
 *	etrnarg - the listener's rate-limit table
 * DESCRIPTION
 *	ETRN argument parsing, authorization and the rate-limit table are
 *	shared with etrn-policy (lib/mail/etrnauth.c); these wrappers apply
 *	the table to the listener's own, counting each client by its
 *	network (client_ipv4_prefix, client_ipv6_prefix).
 */
#include "config.h"

#include "etrnd/listener.h"

/*
 * rate_allow - count one ETRN for the network of addr (client_ipv4_prefix,
 * client_ipv6_prefix); 0 when over limit per minute
 */
int
rate_allow(struct listener *l, const char *addr, long long now,
    long long limit)
{
	return ratetab_allow(l->rates, addr, (int)l->s->client_ipv4_prefix,
	    (int)l->s->client_ipv6_prefix, now, limit);
}

/* rate_purge - forget entries of past minutes */
void
rate_purge(struct listener *l, long long now)
{
	ratetab_purge(l->rates, now);
}
