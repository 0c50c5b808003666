/* listener.h - etrnd's SMTP listener (the unprivileged process) */
#ifndef OE_LISTENER_H
#define OE_LISTENER_H

#include <sys/queue.h>

#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "mail/domain.h"
#include "mail/domwatch.h"
#include "mail/etrnauth.h"
#include "mail/settings.h"
#include "util/redis_async.h"

struct session;

struct listener {
	struct event_base *base;
	struct oe_settings *s;
	const char *conf_path;
	struct ra *redis;
	struct domwatch dw;	/* the dial-up domains */
	struct evconnlistener **lev;
	int	nlev;
	struct event *resume_ev, *purge_ev;
	struct event *sig_term, *sig_int, *sig_hup;
	int	nsessions;
	int	stopping;
	unsigned long long next_id;
	struct rate_entry *rates[RATE_BUCKETS];
	TAILQ_HEAD(, session) sessions;
};

struct session {
	struct listener *l;
	struct bufferevent *bev;
	struct event *deadline;	/* etrnd_timeout per command */
	char	id[24];
	char	addr[64];
	int	helo;
	int	errors;
	int	busy;		/* a Redis request is outstanding */
	int	dead;		/* closed while busy: free on the reply */
	int	closing;	/* close once the output is written */
	int	discarding;	/* skipping the rest of an overlong line */
	struct etrn_req req;
	TAILQ_ENTRY(session) entry;
};

#define SMTP_LINE_MAX	512	/* RFC 5321 command line, with CRLF */

/* session.c */
void	session_new(struct listener *, evutil_socket_t, struct sockaddr *,
	    int);
void	session_reply(struct session *, const char *, size_t);
void	session_close(struct session *);
void	session_resume(struct session *);

/* etrn.c, etrnarg.c (parsing and authorization: mail/etrnauth.h) */
void	etrn_command(struct session *, const char *);
int	rate_allow(struct listener *, const char *, long long, long long);
void	rate_purge(struct listener *, long long);

#endif
