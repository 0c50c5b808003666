/* policyd.h - etrn-policy: the server and its connections */
#ifndef OE_POLICYD_H
#define OE_POLICYD_H

#include <event2/event.h>

#include "mail/domain.h"
#include "mail/domwatch.h"
#include "mail/etrnauth.h"
#include "mail/settings.h"
#include "policy/pattr.h"
#include "util/lserver.h"
#include "util/redis_async.h"

struct policyd {
	struct event_base *base;
	struct oe_settings *s;
	const char *conf_path;
	struct ra *redis;
	struct domwatch dw;	/* the dial-up domains */
	struct ls_server *srv;	/* sockets, connections, limits */
	struct rate_entry *rates[RATE_BUCKETS];
};

/* One connection from a Postfix smtpd process (lib/util/lserver.c's). */
struct conn {
	struct policyd *pd;
	struct ls_conn *lc;
	const char *id;		/* lc->id */
	struct pattr req;	/* the request being read or answered */
	/* the request being answered */
	struct etrn_req etrn;	/* ETRN */
	char	domain[256];	/* RCPT: the recipient's domain */
	char	entry[256];	/* the dial-up entry covering it */
	enum etrn_outcome by_addr;
	struct buf reason;
};

/* server.c */
int	policyd_run(struct oe_settings *, const char *, const int *, int);

/* request.c: the protocol, for the core's ls_ops */
int	request_open(struct ls_conn *);
void	request_bye(struct ls_conn *, enum ls_limit);
void	request_input(struct ls_conn *, struct evbuffer *);
void	request_free(struct ls_conn *);

#endif
