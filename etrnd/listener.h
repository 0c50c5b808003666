/* listener.h - etrnd's SMTP listener (the unprivileged process) */
#ifndef OE_LISTENER_H
#define OE_LISTENER_H

#include <event2/event.h>
#include <openssl/ssl.h>

#include "mail/domain.h"
#include "mail/domwatch.h"
#include "mail/etrnauth.h"
#include "mail/settings.h"
#include "util/lserver.h"
#include "util/redis_async.h"

struct listener {
	struct event_base *base;
	struct oe_settings *s;
	const char *conf_path;
	struct ra *redis;
	struct domwatch dw;	/* the dial-up domains */
	struct ls_server *srv;	/* sockets, connections, limits */
	struct ls_server *odmr;	/* the ODMR listener's (odmr.c), or NULL */
	SSL_CTX	*tls;		/* its STARTTLS, or NULL */
	struct rate_entry *rates[RATE_BUCKETS];
};

/* One SMTP client; the connection itself is the core's (lserver.c). */
struct session {
	struct listener *l;
	struct ls_conn *c;
	const char *id;		/* c->id */
	const char *addr;	/* c->addr */
	int	helo;
	int	errors;
	int	discarding;	/* skipping the rest of an overlong line */
	struct etrn_req req;
};

#define SMTP_LINE_MAX	512	/* RFC 5321 command line, with CRLF */
#define SMTP_INPUT_MAX	4096	/* unread input before reading stops */

/* session.c: the protocol, for the core's ls_ops */
int	session_open(struct ls_conn *);
void	session_limit_bye(struct ls_conn *, enum ls_limit);
void	session_input(struct ls_conn *, struct evbuffer *);
void	session_free(struct ls_conn *);
void	session_limits(const struct oe_settings *, struct ls_limits *);

/* etrn.c (parsing and authorization: mail/etrnauth.h) */
void	etrn_command(struct session *, const char *);

/* listener.c: the ETRN rate limit, per client network */
int	listener_rate_allow(struct listener *, const char *, long long,
	    long long);

#endif
