/*
 * NAME
 *	cidr - does an address belong to a list of networks
 * SUMMARY
 *	cidr_match_list("192.0.2.0/24, 2001:db8::/32 127.0.0.1", addr, err)
 * DESCRIPTION
 *	A list is networks separated by commas and/or blanks; a network is
 *	an IPv4 or IPv6 address with an optional /length.  An IPv4-mapped
 *	IPv6 client address (::ffff:192.0.2.1) matches IPv4 networks.
 *
 *	cidr_prefix_key() names the network an address is counted in for
 *	per-client limits: "192.0.2.0/24" for 192.0.2.77 with v4len 24,
 *	"2001:db8:1:2::/64" for any address of that /64 with v6len 64.  The
 *	form is canonical (inet_ntop of the masked address), so every
 *	spelling of an address gives the same key; an IPv4-mapped address
 *	counts as IPv4.
 * DIAGNOSTICS
 *	1 when the address matches, 0 when not, -1 when the list (or the
 *	address) is not valid, with the reason in *err.  An invalid list
 *	never matches anything.  cidr_prefix_key() copies anything that is
 *	not an address (a unix socket peer: "unknown") as it is, cut to fit.
 */
#include "config.h"

#include <arpa/inet.h>

#include <stdio.h>

#include <stdlib.h>
#include <string.h>

#include "util/cidr.h"

struct cidr_addr {
	int	family;
	unsigned char a[16];
};

/* cidr_parse_addr - text address, IPv4-mapped IPv6 turned into IPv4 */
static int
cidr_parse_addr(const char *s, struct cidr_addr *out)
{
	static const unsigned char mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0,
		0, 0xff, 0xff };

	memset(out, 0, sizeof(*out));
	if (inet_pton(AF_INET, s, out->a) == 1) {
		out->family = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, s, out->a) != 1)
		return -1;
	out->family = AF_INET6;
	if (memcmp(out->a, mapped, 12) == 0) {
		memmove(out->a, out->a + 12, 4);
		memset(out->a + 4, 0, 12);
		out->family = AF_INET;
	}
	return 0;
}

/* cidr_in - is addr inside net/len */
static int
cidr_in(const struct cidr_addr *addr, const struct cidr_addr *net, int len)
{
	int	full = len / 8, rest = len % 8;

	if (addr->family != net->family)
		return 0;
	if (memcmp(addr->a, net->a, (size_t)full) != 0)
		return 0;
	if (rest == 0)
		return 1;
	return ((addr->a[full] ^ net->a[full]) & (0xff << (8 - rest))) == 0;
}

/* cidr_entry - parse "addr[/len]"; -1 if bad */
static int
cidr_entry(const char *e, struct cidr_addr *net, int *len)
{
	char	tmp[64], *slash, *end;
	long	l;

	if (strlen(e) >= sizeof(tmp))
		return -1;
	strcpy(tmp, e);
	if ((slash = strchr(tmp, '/')) != NULL)
		*slash = '\0';
	if (cidr_parse_addr(tmp, net) < 0 || (slash && strchr(e, ':') &&
	    net->family == AF_INET))
		return -1;
	*len = net->family == AF_INET ? 32 : 128;
	if (slash) {
		if (slash[1] < '0' || slash[1] > '9')
			return -1;
		l = strtol(slash + 1, &end, 10);
		if (*end != '\0' || l < 0 || l > *len)
			return -1;
		*len = (int)l;
	}
	return 0;
}

/* cidr_match_list - see above */
int
cidr_match_list(const char *list, const char *addr, struct buf *err)
{
	struct cidr_addr a, net;
	char	entry[64];
	const char *p = list;
	size_t	n;
	int	len, match = 0;

	if (cidr_parse_addr(addr, &a) < 0) {
		buf_printf(err, "bad client address \"%.60s\"", addr);
		return -1;
	}
	for (;;) {
		p += strspn(p, ", \t");
		if (*p == '\0')
			break;
		n = strcspn(p, ", \t");
		if (n >= sizeof(entry)) {
			buf_printf(err, "bad network \"%.60s\"", p);
			return -1;
		}
		memcpy(entry, p, n);
		entry[n] = '\0';
		if (cidr_entry(entry, &net, &len) < 0) {
			buf_printf(err, "bad network \"%s\"", entry);
			return -1;
		}
		if (cidr_in(&a, &net, len))
			match = 1;
		p += n;
	}
	return match;
}

/* cidr_prefix_key - the network of addr counted as one client */
void
cidr_prefix_key(const char *addr, int v4len, int v6len, char *out,
    size_t size)
{
	struct cidr_addr a;
	char	text[INET6_ADDRSTRLEN];
	int	len, full, i;

	if (cidr_parse_addr(addr, &a) < 0) {
		snprintf(out, size, "%s", addr);
		return;
	}
	len = a.family == AF_INET ? v4len : v6len;
	if (len < 0)
		len = 0;
	if (len > (a.family == AF_INET ? 32 : 128))
		len = a.family == AF_INET ? 32 : 128;
	full = len / 8;
	if (len % 8) {
		a.a[full] &= (unsigned char)(0xff << (8 - len % 8));
		full++;
	}
	for (i = full; i < 16; i++)
		a.a[i] = 0;
	if (inet_ntop(a.family, a.a, text, sizeof(text)) == NULL)
		snprintf(text, sizeof(text), "?");
	snprintf(out, size, "%s/%d", text, len);
}
