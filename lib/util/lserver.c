/*
 * NAME
 *	lserver - the line-server core under etrnd's listener and etrn-policy
 * SUMMARY
 *	srv = ls_new(base, &limits, &ops, arg, fds, nfds);
 *	event_base_dispatch(base); ... ls_free(srv);
 * DESCRIPTION
 *	Owns what both internet- and Postfix-facing servers need, so that a
 *	protocol file only turns complete input into answers: the
 *	listening sockets (opened by the caller, usually as root, whose
 *	listen(2) backlog is kept), accept with a one-second pause when
 *	descriptors run out, the connection list, per-connection
 *	deadlines, the limits below, the signals (SIGTERM/SIGINT: stop;
 *	SIGHUP: ops->reload) and a one-minute tick.
 *
 *	A protocol supplies struct ls_ops.  Its input() is called with the
 *	connection's input buffer and consumes complete commands while
 *	ls_ready() is true; a command that waits for something (Redis)
 *	calls ls_busy(), and its callback ls_unbusy() (0: the connection
 *	went away meanwhile, forget it), writes the answer and calls
 *	ls_resume().  Connections are freed only by the core: a protocol
 *	says ls_bye() (close once the output is written) and returns.
 *	ls_rebind() puts a filter (TLS) between the core and the socket.
 * SECURITY
 *	Everything one client can make the server hold is bounded:
 *	- output: while more than max_output bytes of answers are unsent,
 *	  no further command is processed, so input stops being read once
 *	  max_input bytes wait (libevent's read high-water mark) and the
 *	  kernel pushes back on the client; a client that does not read
 *	  for `timeout` seconds is dropped (the write timeout);
 *	- connections: max_clients in all, max_per_client per client
 *	  network (IPv4 /v4_prefix, IPv6 /v6_prefix; see cidr_prefix_key);
 *	  the protocol's bye() gives a refused client its last words;
 *	- time: `timeout` for each command (restarted by ls_command() or
 *	  ls_deadline()), max_session for the whole session;
 *	- commands: max_commands per session, counted by ls_command().
 *	When a crowd of connections has gone, the memory it used is given
 *	back to the system (malloc_trim), so a flood leaves no lasting peak.
 * DIAGNOSTICS
 *	One log line per connection cut off by a limit, with its ID, the
 *	client address and the limit.  Refusals at accept are logged, each
 *	with the client's address, up to five a minute per client network
 *	(and five for a full or stopping server), then counted and the
 *	count given in the next line, so a flood of connections does not
 *	become a flood of log lines.
 */
#include "config.h"

#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#ifdef HAVE_MALLOC_TRIM
#include <malloc.h>
#endif
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/log.h"
#include "util/lserver.h"
#include "util/xalloc.h"

#define LS_BUCKETS	4096
#define LS_TRIM_PEAK	256	/* connections at once worth a malloc_trim */
#define LS_LOG_EVERY	60	/* s: per network and minute, */
#define LS_LOG_LINES	5	/* at most so many refusal lines */

/* The connections of one client network. */
struct ls_client {
	char	net[CIDR_KEY_MAX];
	long long conns;	/* admitted, open */
	time_t	logged;		/* the minute of refusal lines began */
	int	lines;		/* refusal lines in it */
	long long quiet;	/* refusals not logged since */
	struct ls_client *next;
};

struct ls_server {
	struct event_base *base;
	struct ls_limits lim;
	const struct ls_ops *ops;
	void	*arg;
	struct evconnlistener **lev;
	int	nlev;
	struct event *resume_ev, *tick_ev, *trim_ev;
	struct event *sig_term, *sig_int, *sig_hup;
	int	nconns;		/* admitted */
	int	peak;		/* most admitted since memory was returned */
	int	stopping;
	unsigned long long next_id;
	time_t	full_logged;	/* refusals without a network entry */
	int	full_lines;
	long long full_quiet;
	struct ls_client *clients[LS_BUCKETS];
	TAILQ_HEAD(, ls_conn) conns;
};

static void ls_drop(struct ls_conn *);

/* ls_hash - bucket of a network key */
static unsigned
ls_hash(const char *s)
{
	unsigned h = 5381;

	while (*s)
		h = h * 33 + (unsigned char)*s++;
	return h % LS_BUCKETS;
}

/* ls_client_get - the entry of a network, made on first use */
static struct ls_client *
ls_client_get(struct ls_server *srv, const char *net)
{
	struct ls_client **pp = &srv->clients[ls_hash(net)], *cl;

	for (cl = *pp; cl != NULL; cl = cl->next)
		if (strcmp(cl->net, net) == 0)
			return cl;
	cl = xcalloc(1, sizeof(*cl));
	snprintf(cl->net, sizeof(cl->net), "%s", net);
	cl->next = *pp;
	*pp = cl;
	return cl;
}

/* ls_client_put - one connection of the network less; free when none */
static void
ls_client_put(struct ls_server *srv, struct ls_client *gone)
{
	struct ls_client **pp = &srv->clients[ls_hash(gone->net)], *cl;

	if (--gone->conns > 0)
		return;
	for (; (cl = *pp) != NULL; pp = &cl->next)
		if (cl == gone) {
			*pp = cl->next;
			free(cl);
			return;
		}
}

/* ls_reason - a limit in words, for log lines */
static void
ls_reason(const struct ls_conn *c, enum ls_limit why, char *out, size_t size)
{
	const struct ls_limits *lim = &c->srv->lim;

	switch (why) {
	case LS_FULL:
		snprintf(out, size, "too many connections (%lld in all)",
		    lim->max_clients);
		break;
	case LS_PER_CLIENT:
		snprintf(out, size, "too many connections from %s (%lld)",
		    c->net, lim->max_per_client);
		break;
	case LS_STOPPING:
		snprintf(out, size, "shutting down");
		break;
	case LS_TIMEOUT:
		snprintf(out, size, "timeout (%llds without a complete "
		    "command)", lim->timeout);
		break;
	case LS_LIFETIME:
		snprintf(out, size, "session time limit (%llds)",
		    lim->max_session);
		break;
	case LS_COMMANDS:
		snprintf(out, size, "too many commands (%lld)",
		    lim->max_commands);
		break;
	}
}

/* ls_refused_log - a refusal at accept; a few lines per network a minute */
static void
ls_refused_log(struct ls_conn *c, enum ls_limit why, time_t *logged,
    int *lines, long long *quiet)
{
	time_t	now = time(NULL);
	char	reason[160];

	if (now - *logged >= LS_LOG_EVERY || now < *logged) {
		*logged = now;		/* a new minute of lines */
		*lines = 0;
	}
	if (*lines >= LS_LOG_LINES) {
		(*quiet)++;
		return;
	}
	(*lines)++;
	ls_reason(c, why, reason, sizeof(reason));
	if (*quiet > 0)
		log_info("%s: client=%s refused: %s (%lld more refused and "
		    "not logged before)", c->id, c->addr, reason, *quiet);
	else
		log_info("%s: client=%s refused: %s", c->id, c->addr, reason);
	*quiet = 0;
}

/*
 * ls_trim_cb - after a crowd (an attack, a benchmark) has gone, give the
 * memory its connections used back to the system: malloc keeps freed
 * memory for reuse, so the listener would stay at its peak for good.
 */
static void
ls_trim_cb(evutil_socket_t fd, short what, void *arg)
{
	struct ls_server *srv = arg;

	(void)fd;
	(void)what;
	srv->peak = srv->nconns;
#ifdef HAVE_MALLOC_TRIM
	(void)malloc_trim(0);
#endif
}

/* ls_trim - soon: libevent frees a bufferevent in a later loop pass */
static void
ls_trim(struct ls_server *srv)
{
	struct timeval tv = { 1, 0 };

	evtimer_add(srv->trim_ev, &tv);
}

/* ls_free_conn - the end of a connection */
static void
ls_free_conn(struct ls_conn *c)
{
	struct ls_server *srv = c->srv;

	log_debug("%s: disconnect client=%s", c->id, c->addr);
	if (srv->ops->close != NULL)
		srv->ops->close(c);
	TAILQ_REMOVE(&srv->conns, c, link);
	if (c->admitted) {
		srv->nconns--;
		ls_client_put(srv, c->client);
	}
	event_free(c->deadline);
	event_free(c->lifetime);
	bufferevent_free(c->bev);
	free(c);
	if (srv->nconns == 0 && srv->peak >= LS_TRIM_PEAK)
		ls_trim(srv);
}

/*
 * ls_settle - free a closing connection whose output is out; -1: freed.
 * Under a filter (TLS) the socket's own buffer must be out too: it is
 * looked at again every 100 ms, for `timeout' seconds at most.
 */
static int
ls_settle(struct ls_conn *c)
{
	struct bufferevent *under;
	struct timeval tv = { 0, 100000 };

	if (c->dead || !c->closing || c->busy ||
	    evbuffer_get_length(bufferevent_get_output(c->bev)) > 0)
		return 0;
	if ((under = bufferevent_get_underlying(c->bev)) != NULL &&
	    evbuffer_get_length(bufferevent_get_output(under)) > 0 &&
	    ++c->flushes <= c->srv->lim.timeout * 10) {
		evtimer_add(c->deadline, &tv);
		return 0;
	}
	ls_free_conn(c);
	return -1;
}

/* ls_process - hand input to the protocol while it can take it */
static void
ls_process(struct ls_conn *c)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);
	int	why;

	if (c->dead)
		return;
	if (c->limit_due && !c->busy && !c->closing) {
		why = c->limit_due - 1;
		c->limit_due = 0;
		ls_limit(c, (enum ls_limit)why);
	}
	if (ls_ready(c) && evbuffer_get_length(in) > 0)
		c->srv->ops->input(c, in);
	if (c->eof && !c->busy && !c->closing)
		ls_bye(c);
	(void)ls_settle(c);
}

/* ls_read_cb - input arrived */
static void
ls_read_cb(struct bufferevent *bev, void *arg)
{
	(void)bev;
	ls_process(arg);
}

/* ls_write_cb - output drained below half of max_output */
static void
ls_write_cb(struct bufferevent *bev, void *arg)
{
	(void)bev;
	ls_process(arg);
}

/* ls_event_cb - EOF: answer what is complete, then close; error, timeout */
static void
ls_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct ls_conn *c = arg;

	if (what == BEV_EVENT_CONNECTED)	/* a TLS handshake is done */
		return;
	if ((what & BEV_EVENT_EOF) && !(what & BEV_EVENT_ERROR)) {
		c->eof = 1;
		bufferevent_disable(bev, EV_READ);
		ls_process(c);
		return;
	}
	if (what & BEV_EVENT_TIMEOUT)
		log_info("%s: client=%s cut off: it does not read its replies "
		    "(write timeout %llds)", c->id, c->addr,
		    c->srv->lim.timeout);
	ls_drop(c);
}

/* ls_deadline_cb - no complete command in time */
static void
ls_deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct ls_conn *c = arg;
	size_t	out;

	(void)fd;
	(void)what;
	if (c->closing) {	/* a filter's output going out */
		(void)ls_settle(c);
		return;
	}
	if (c->dead)
		return;
	if (c->busy) {		/* the answer has its own timeout */
		ls_deadline(c);
		return;
	}
	if ((out = evbuffer_get_length(bufferevent_get_output(c->bev))) >=
	    c->srv->lim.max_output) {
		/* Stalled by flow control: last words would only wait. */
		log_info("%s: client=%s cut off: it does not read its replies "
		    "(%zu bytes unsent after %llds)", c->id, c->addr, out,
		    c->srv->lim.timeout);
		ls_drop(c);
		return;
	}
	ls_limit(c, LS_TIMEOUT);
	(void)ls_settle(c);
}

/* ls_lifetime_cb - the session is old enough */
static void
ls_lifetime_cb(evutil_socket_t fd, short what, void *arg)
{
	struct ls_conn *c = arg;

	(void)fd;
	(void)what;
	if (c->dead || c->closing)
		return;
	if (c->busy) {		/* after the answer being prepared */
		c->limit_due = LS_LIFETIME + 1;
		return;
	}
	ls_limit(c, LS_LIFETIME);
	(void)ls_settle(c);
}

/* ls_peer - printable address and network of a peer */
static void
ls_peer(const struct ls_server *srv, const struct sockaddr *sa,
    struct ls_conn *c)
{
	const void *a = NULL;

	if (sa->sa_family == AF_INET)
		a = &((const struct sockaddr_in *)(const void *)sa)->sin_addr;
	else if (sa->sa_family == AF_INET6)
		a = &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;
	if (sa->sa_family == AF_UNIX)
		snprintf(c->addr, sizeof(c->addr), "local");
	else if (a == NULL || inet_ntop(sa->sa_family, a, c->addr,
	    (socklen_t)sizeof(c->addr)) == NULL)
		snprintf(c->addr, sizeof(c->addr), "unknown");
	cidr_prefix_key(c->addr, srv->lim.v4_prefix, srv->lim.v6_prefix,
	    c->net, sizeof(c->net));
}

/* ls_admit - may c be served; -1: yes, else the limit that refuses it */
static int
ls_admit(struct ls_server *srv, struct ls_conn *c)
{
	if (srv->stopping)
		return LS_STOPPING;
	if (srv->nconns >= srv->lim.max_clients)
		return LS_FULL;
	c->client = ls_client_get(srv, c->net);
	if (srv->lim.max_per_client > 0 &&
	    c->client->conns >= srv->lim.max_per_client)
		return LS_PER_CLIENT;
	return -1;
}

/* ls_accept_cb - a new connection: serve it, or refuse it */
static void
ls_accept_cb(struct evconnlistener *lev, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct ls_server *srv = arg;
	struct ls_conn *c = xcalloc(1, sizeof(*c));
	struct timeval wt = { (time_t)srv->lim.timeout, 0 };
	struct timeval lt = { (time_t)srv->lim.max_session, 0 };
	int	why;

	(void)lev;
	(void)salen;
	c->srv = srv;
	snprintf(c->id, sizeof(c->id), "%s%llu", srv->ops->id_prefix,
	    ++srv->next_id);
	ls_peer(srv, sa, c);
	c->bev = bufferevent_socket_new(srv->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (c->bev == NULL) {
		evutil_closesocket(fd);
		free(c);
		return;
	}
	c->deadline = evtimer_new(srv->base, ls_deadline_cb, c);
	c->lifetime = evtimer_new(srv->base, ls_lifetime_cb, c);
	TAILQ_INSERT_TAIL(&srv->conns, c, link);
	bufferevent_setcb(c->bev, ls_read_cb, ls_write_cb, ls_event_cb, c);
	bufferevent_set_timeouts(c->bev, NULL, &wt);
	bufferevent_setwatermark(c->bev, EV_READ, 0, srv->lim.max_input);
	bufferevent_setwatermark(c->bev, EV_WRITE, srv->lim.max_output / 2,
	    0);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	if ((why = ls_admit(srv, c)) >= 0) {
		if (why == LS_PER_CLIENT)
			ls_refused_log(c, (enum ls_limit)why,
			    &c->client->logged, &c->client->lines,
			    &c->client->quiet);
		else
			ls_refused_log(c, (enum ls_limit)why,
			    &srv->full_logged, &srv->full_lines,
			    &srv->full_quiet);
		c->client = NULL;
		srv->ops->bye(c, (enum ls_limit)why);
		ls_bye(c);
		(void)ls_settle(c);
		return;
	}
	c->admitted = 1;
	if (++srv->nconns > srv->peak)
		srv->peak = srv->nconns;
	c->client->conns++;
	evtimer_add(c->lifetime, &lt);
	ls_deadline(c);
	log_debug("%s: connect client=%s", c->id, c->addr);
	if (srv->ops->open(c) < 0) {
		ls_drop(c);
		return;
	}
	(void)ls_settle(c);
}

/* ls_resume_cb - accept again after a pause */
static void
ls_resume_cb(evutil_socket_t fd, short what, void *arg)
{
	struct ls_server *srv = arg;
	int	i;

	(void)fd;
	(void)what;
	if (srv->stopping)
		return;
	for (i = 0; i < srv->nlev; i++)
		evconnlistener_enable(srv->lev[i]);
}

/* ls_error_cb - accept failed: pause on descriptor or memory shortage */
static void
ls_error_cb(struct evconnlistener *lev, void *arg)
{
	struct ls_server *srv = arg;
	struct timeval tv = { 1, 0 };
	int	err = EVUTIL_SOCKET_ERROR(), i;

	(void)lev;
	if (err != EMFILE && err != ENFILE && err != ENOBUFS && err != ENOMEM)
		return;
	log_warnx("accept: %s: pausing the listener for 1s (connections=%d)",
	    strerror(err), srv->nconns);
	for (i = 0; i < srv->nlev; i++)
		evconnlistener_disable(srv->lev[i]);
	evtimer_add(srv->resume_ev, &tv);
}

/* ls_tick_cb - once a minute */
static void
ls_tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct ls_server *srv = arg;
	struct timeval tv = { 60, 0 };

	(void)fd;
	(void)what;
	if (srv->peak >= LS_TRIM_PEAK && srv->nconns < srv->peak / 4)
		ls_trim(srv);	/* most of a crowd has gone */
	if (srv->ops->tick != NULL)
		srv->ops->tick(srv, srv->arg);
	evtimer_add(srv->tick_ev, &tv);
}

/* ls_stop_cb - SIGTERM, SIGINT: stop accepting, close, leave the loop */
static void
ls_stop_cb(evutil_socket_t sig, short what, void *arg)
{
	struct ls_server *srv = arg;
	struct ls_conn *c, *next;
	int	i;

	(void)what;
	log_info("stopping (signal %d)", (int)sig);
	srv->stopping = 1;
	for (i = 0; i < srv->nlev; i++)
		evconnlistener_disable(srv->lev[i]);
	for (c = TAILQ_FIRST(&srv->conns); c != NULL; c = next) {
		next = TAILQ_NEXT(c, link);
		if (!c->dead)
			ls_drop(c);
	}
	event_base_loopexit(srv->base, NULL);
}

/* ls_hup_cb - SIGHUP: the program reloads */
static void
ls_hup_cb(evutil_socket_t sig, short what, void *arg)
{
	struct ls_server *srv = arg;

	(void)sig;
	(void)what;
	if (srv->ops->reload != NULL)
		srv->ops->reload(srv, srv->arg);
}

/* ls_new - serve on the listening sockets fds; NULL on failure */
struct ls_server *
ls_new(struct event_base *base, const struct ls_limits *lim,
    const struct ls_ops *ops, void *arg, const int *fds, int nfds)
{
	struct ls_server *srv = xcalloc(1, sizeof(*srv));
	int	i;

	srv->base = base;
	srv->lim = *lim;
	srv->ops = ops;
	srv->arg = arg;
	TAILQ_INIT(&srv->conns);
	srv->lev = xcalloc((size_t)nfds, sizeof(*srv->lev));
	for (i = 0; i < nfds; i++) {
		evutil_make_socket_nonblocking(fds[i]);
		srv->lev[i] = evconnlistener_new(base, ls_accept_cb, srv,
		    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 0, fds[i]);
		if (srv->lev[i] == NULL) {
			ls_free(srv);
			return NULL;
		}
		evconnlistener_set_error_cb(srv->lev[i], ls_error_cb);
		srv->nlev++;
	}
	srv->resume_ev = evtimer_new(base, ls_resume_cb, srv);
	srv->tick_ev = evtimer_new(base, ls_tick_cb, srv);
	srv->trim_ev = evtimer_new(base, ls_trim_cb, srv);
	srv->sig_term = evsignal_new(base, SIGTERM, ls_stop_cb, srv);
	srv->sig_int = evsignal_new(base, SIGINT, ls_stop_cb, srv);
	srv->sig_hup = evsignal_new(base, SIGHUP, ls_hup_cb, srv);
	evsignal_add(srv->sig_term, NULL);
	evsignal_add(srv->sig_int, NULL);
	evsignal_add(srv->sig_hup, NULL);
	ls_tick_cb(-1, 0, srv);
	return srv;
}

/* ls_set_limits - new limits (reload); sessions open keep their timers */
void
ls_set_limits(struct ls_server *srv, const struct ls_limits *lim)
{
	srv->lim = *lim;
}

/* ls_free - connections, listeners, events; after the loop has ended */
void
ls_free(struct ls_server *srv)
{
	struct ls_conn *c;
	struct ls_client *cl;
	int	i;

	while ((c = TAILQ_FIRST(&srv->conns)) != NULL) {
		c->busy = 0;
		c->dead = 0;
		ls_free_conn(c);
	}
	for (i = 0; i < srv->nlev; i++)
		evconnlistener_free(srv->lev[i]);
	free(srv->lev);
	for (i = 0; i < LS_BUCKETS; i++)
		while ((cl = srv->clients[i]) != NULL) {
			srv->clients[i] = cl->next;
			free(cl);
		}
	if (srv->resume_ev != NULL) {
		event_free(srv->resume_ev);
		event_free(srv->tick_ev);
		event_free(srv->trim_ev);
		event_free(srv->sig_term);
		event_free(srv->sig_int);
		event_free(srv->sig_hup);
	}
	free(srv);
}

/* ls_arg - the program's argument given to ls_new */
void *
ls_arg(const struct ls_server *srv)
{
	return srv->arg;
}

/* ls_ready - may the protocol take another command now */
int
ls_ready(const struct ls_conn *c)
{
	return !c->busy && !c->closing && !c->dead &&
	    evbuffer_get_length(bufferevent_get_output(c->bev)) <
	    c->srv->lim.max_output;
}

/* ls_write - queue output */
void
ls_write(struct ls_conn *c, const char *s, size_t len)
{
	if (!c->dead)
		bufferevent_write(c->bev, s, len);
}

/* ls_deadline - (re)start the time allowed for the next command */
void
ls_deadline(struct ls_conn *c)
{
	struct timeval tv = { (time_t)c->srv->lim.timeout, 0 };

	evtimer_add(c->deadline, &tv);
}

/* ls_command - count a command, restart its deadline; -1: over the limit */
int
ls_command(struct ls_conn *c)
{
	ls_deadline(c);
	if (++c->commands > c->srv->lim.max_commands) {
		ls_limit(c, LS_COMMANDS);
		return -1;
	}
	return 0;
}

/* ls_limit - cut the session off: log, last words, close */
void
ls_limit(struct ls_conn *c, enum ls_limit why)
{
	char	reason[160];

	if (c->closing || c->dead)
		return;
	ls_reason(c, why, reason, sizeof(reason));
	log_info("%s: client=%s cut off: %s", c->id, c->addr, reason);
	c->srv->ops->bye(c, why);
	ls_bye(c);
}

/* ls_busy - an answer is being prepared elsewhere (Redis) */
void
ls_busy(struct ls_conn *c)
{
	c->busy = 1;
}

/* ls_unbusy - the answer arrived; 0: the connection is gone, forget it */
int
ls_unbusy(struct ls_conn *c)
{
	c->busy = 0;
	if (c->dead) {
		ls_free_conn(c);
		return 0;
	}
	return 1;
}

/* ls_resume - after an answer from a callback: go on with the input */
void
ls_resume(struct ls_conn *c)
{
	ls_process(c);
}

/*
 * ls_bye - read no more; close once the output is written (looked at
 * from the loop at once: the caller may not be one of the core's
 * callbacks, and no write may be pending to wake it)
 */
void
ls_bye(struct ls_conn *c)
{
	struct timeval now = { 0, 0 };

	c->closing = 1;
	bufferevent_disable(c->bev, EV_READ);
	evtimer_add(c->deadline, &now);
	evtimer_del(c->lifetime);
}

/*
 * ls_rebind - the connection reads and writes through bev from now on, a
 * filter over the old one (STARTTLS) that frees it; the same limits
 */
void
ls_rebind(struct ls_conn *c, struct bufferevent *bev)
{
	struct timeval wt = { (time_t)c->srv->lim.timeout, 0 };

	c->bev = bev;
	bufferevent_setcb(bev, ls_read_cb, ls_write_cb, ls_event_cb, c);
	bufferevent_set_timeouts(bev, NULL, &wt);
	bufferevent_setwatermark(bev, EV_READ, 0, c->srv->lim.max_input);
	bufferevent_setwatermark(bev, EV_WRITE, c->srv->lim.max_output / 2,
	    0);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
}

/* ls_drop - close now; while busy, when the answer arrives */
static void
ls_drop(struct ls_conn *c)
{
	if (c->busy) {
		c->dead = 1;
		evtimer_del(c->deadline);
		evtimer_del(c->lifetime);
		bufferevent_disable(c->bev, EV_READ | EV_WRITE);
		return;
	}
	ls_free_conn(c);
}

/*
 * ls_getline - the next CRLF line of in into line (max octets with its
 * NUL, CRLF included in the count): 1 and its length in *len, 0 not
 * complete yet, -1 too long (a complete one is dropped; of an incomplete
 * one *discarding is set and ls_discard() drops the rest)
 */
int
ls_getline(struct evbuffer *in, char *line, size_t max, size_t *len,
    int *discarding)
{
	struct evbuffer_ptr eol;
	size_t	eol_len = 0;

	eol = evbuffer_search_eol(in, NULL, &eol_len, EVBUFFER_EOL_CRLF);
	if (eol.pos < 0) {
		if (evbuffer_get_length(in) < max)
			return 0;
		*discarding = 1;
		return -1;
	}
	if ((size_t)eol.pos > max - 2) {
		evbuffer_drain(in, (size_t)eol.pos + eol_len);
		return -1;
	}
	*len = (size_t)eol.pos;
	evbuffer_remove(in, line, *len);
	line[*len] = '\0';
	evbuffer_drain(in, eol_len);
	return 1;
}

/* ls_discard - drop input up to and including the next LF: 1 done
 * (*discarding cleared), 0 the line goes on */
int
ls_discard(struct evbuffer *in, int *discarding)
{
	struct evbuffer_ptr p = evbuffer_search(in, "\n", 1, NULL);

	if (p.pos < 0) {
		evbuffer_drain(in, evbuffer_get_length(in));
		return 0;
	}
	evbuffer_drain(in, (size_t)p.pos + 1);
	*discarding = 0;
	return 1;
}
