/* policyd.h - etrn-policy: the server and its connections */
#ifndef OE_POLICYD_H
#define OE_POLICYD_H

#include <sys/queue.h>

#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "mail/domain.h"
#include "mail/domwatch.h"
#include "mail/etrnauth.h"
#include "mail/settings.h"
#include "policy/pattr.h"
#include "util/redis_async.h"

struct conn;

struct policyd {
	struct event_base *base;
	struct oe_settings *s;
	const char *conf_path;
	struct ra *redis;
	struct domwatch dw;	/* the dial-up domains */
	struct evconnlistener *lev;
	struct event *resume_ev, *purge_ev;
	struct event *sig_term, *sig_int, *sig_hup;
	int	nconns;
	int	stopping;
	unsigned long long next_id;
	struct rate_entry *rates[RATE_BUCKETS];
	TAILQ_HEAD(, conn) conns;
};

/* One connection from a Postfix smtpd process. */
struct conn {
	struct policyd *pd;
	struct bufferevent *bev;
	struct event *deadline;	/* policy_timeout per request */
	char	id[24];
	struct pattr req;	/* the request being read or answered */
	int	busy;		/* a Redis request is outstanding */
	int	dead;		/* closed while busy: free on the reply */
	int	eof;		/* the client closed its side */
	int	closing;	/* close once the output is written */
	/* the request being answered */
	struct etrn_req etrn;	/* ETRN */
	char	domain[256];	/* RCPT: the recipient's domain */
	char	entry[256];	/* the dial-up entry covering it */
	enum etrn_outcome by_addr;
	struct buf reason;
	TAILQ_ENTRY(conn) link;
};

/* server.c */
int	policyd_run(struct oe_settings *, const char *, int);
void	conn_answer(struct conn *, const char *, size_t);
void	conn_resume(struct conn *);
void	conn_close(struct conn *);

/* request.c */
int	request_dispatch(struct conn *);

#endif
