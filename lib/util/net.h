/* net.h - socket address strings and blocking connects with timeouts */
#ifndef OE_NET_H
#define OE_NET_H

enum net_kind {
	NET_UNIX,	/* unix:/path */
	NET_INET,	/* inet:host:port, inet:[v6]:port */
	NET_INET_AT,	/* inet:port@host (libmilter form) */
};

struct net_addr {
	enum net_kind kind;
	char	path[108];	/* unix socket path */
	char	host[256];
	char	port[8];
};

int	net_parse(const char *, struct net_addr *);
int	net_connect(const struct net_addr *, int);
int	net_set_timeout(int, int);

#endif
