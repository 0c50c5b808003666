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

#include <sys/types.h>

#include "util/buf.h"

/*
 * Owner and mode of listening unix sockets; uid (uid_t)-1: unchanged,
 * gid (gid_t)-1: the group of the socket's directory.
 */
struct net_listen_opts {
	uid_t	uid;
	gid_t	gid;
	mode_t	mode;
};

#define NET_LISTEN_MAX	16	/* sockets for one list of addresses */

int	net_parse(const char *, struct net_addr *);
int	net_listen(const char *, const struct net_listen_opts *, int *, int,
	    struct buf *);
int	net_unix_listen(const char *, const struct net_listen_opts *,
	    int (*)(const char *, void *), void *, struct buf *);
void	net_unix_remove(void);
int	net_connect(const struct net_addr *, int);
int	net_set_timeout(int, int);

#endif
