/* lserver.h - the line-server core under etrnd's listener and etrn-policy */
#ifndef OE_LSERVER_H
#define OE_LSERVER_H

#include <sys/queue.h>

#include <stddef.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "util/cidr.h"

/* Why a connection is refused or cut off. */
enum ls_limit {
	LS_FULL,		/* max_clients connections already */
	LS_PER_CLIENT,		/* max_per_client from the client's network */
	LS_STOPPING,		/* the server is shutting down */
	LS_TIMEOUT,		/* no complete command within timeout */
	LS_LIFETIME,		/* the session lived max_session seconds */
	LS_COMMANDS,		/* max_commands commands in the session */
};

/* The limits; every one comes from a setting of openetrn.conf. */
struct ls_limits {
	long long max_clients;	/* connections in all */
	long long max_per_client;	/* per client network; 0: no cap */
	int	v4_prefix;	/* a client network: IPv4 /32 */
	int	v6_prefix;	/* and IPv6 /64 by default */
	long long timeout;	/* s: per command, and per write */
	long long max_session;	/* s: a session's lifetime */
	long long max_commands;	/* per session */
	size_t	max_output;	/* unsent bytes before reading stops */
	size_t	max_input;	/* unread bytes before reading stops */
};

struct ls_server;
struct ls_client;

/* One connection.  The protocol keeps its state in ctx. */
struct ls_conn {
	struct ls_server *srv;
	struct bufferevent *bev;
	struct event *deadline;		/* the next command, limits.timeout */
	struct event *lifetime;		/* limits.max_session */
	struct ls_client *client;	/* its network's count */
	char	id[24];			/* for log lines: S12, P7 */
	char	addr[64];		/* printable peer address */
	char	net[CIDR_KEY_MAX];	/* the network it counts in */
	void	*ctx;			/* the protocol's */
	long long commands;
	int	admitted;	/* counted against the limits */
	int	busy;		/* an answer is outstanding (Redis) */
	int	dead;		/* closed while busy: freed by ls_unbusy */
	int	closing;	/* close once the output is written */
	int	eof;		/* the client closed its side */
	int	limit_due;	/* a limit fired while busy: LS_* + 1 */
	long long flushes;	/* closing: waits for a filter's output */
	TAILQ_ENTRY(ls_conn) link;
};

/* What a protocol supplies. */
struct ls_ops {
	const char *id_prefix;	/* "S", "P" */
	/* Admitted: greet (or not), set ctx.  Return -1 to drop it. */
	int	(*open)(struct ls_conn *);
	/* Refused or cut off: write the last words, if the protocol has any. */
	void	(*bye)(struct ls_conn *, enum ls_limit);
	/* Input arrived: consume it while ls_ready(). */
	void	(*input)(struct ls_conn *, struct evbuffer *);
	/* The connection is being freed: free ctx (may be NULL). */
	void	(*close)(struct ls_conn *);
	/* SIGHUP; and once a minute (purge tables).  arg: ls_new()'s. */
	void	(*reload)(struct ls_server *, void *);
	void	(*tick)(struct ls_server *, void *);
};

struct ls_server *ls_new(struct event_base *, const struct ls_limits *,
	    const struct ls_ops *, void *, const int *, int);
void	ls_set_limits(struct ls_server *, const struct ls_limits *);
void	ls_free(struct ls_server *);
void   *ls_arg(const struct ls_server *);

int	ls_ready(const struct ls_conn *);
void	ls_write(struct ls_conn *, const char *, size_t);
int	ls_command(struct ls_conn *);
void	ls_deadline(struct ls_conn *);
void	ls_limit(struct ls_conn *, enum ls_limit);
void	ls_busy(struct ls_conn *);
int	ls_unbusy(struct ls_conn *);
void	ls_resume(struct ls_conn *);
void	ls_bye(struct ls_conn *);
void	ls_rebind(struct ls_conn *, struct bufferevent *);
int	ls_getline(struct evbuffer *, char *, size_t, size_t *, int *);
int	ls_discard(struct evbuffer *, int *);

#endif
