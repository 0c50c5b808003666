/*
 * NAME
 *	server - etrn-policy's event loop and its connections
 * DESCRIPTION
 *	policyd_run() owns the event base: the listening socket (opened by
 *	main.c as root), the connections from Postfix's smtpd processes,
 *	the Redis connection (lib/util/redis_async.c: reconnects with
 *	backoff), the dial-up domain list (refreshed every domain_refresh),
 *	the rate-limit table (purged every minute) and the signals:
 *	SIGTERM/SIGINT stop, SIGHUP reloads the configuration and the
 *	domain list.
 *
 *	Each connection reads requests with pattr.c and hands every
 *	complete one to request.c; requests are answered strictly in
 *	order, pipelined input waits while one waits for Redis.  Postfix
 *	keeps its connection open between requests; so does the server.
 * SECURITY
 *	A protocol error (see pattr.c) closes the connection without an
 *	answer, as the policy protocol expects of a server that cannot
 *	trust what follows.  policy_timeout bounds the time for each
 *	request (restarted after each answer), so a client that trickles
 *	bytes or idles cannot keep its slot for ever.  Beyond
 *	policy_max_clients a new connection is closed at once; when
 *	accept() runs out of descriptors the listener pauses for a second.
 *	Input is buffered up to a high-water mark while a request waits.
 * DIAGNOSTICS
 *	A line for each protocol error, timeout and refused connection,
 *	with the connection ID; start, stop, reload and refresh problems
 *	once each.
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>

#include "mail/domstore.h"
#include "policy/policyd.h"
#include "util/log.h"
#include "util/xalloc.h"

static int conn_process(struct conn *);

/* conn_deadline - (re)start the time allowed for the next request */
static void
conn_deadline(struct conn *c)
{
	struct timeval tv = { (time_t)c->pd->s->policy_timeout, 0 };

	evtimer_add(c->deadline, &tv);
}

/* conn_deadline_cb - no complete request in time */
static void
conn_deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;

	(void)fd;
	(void)what;
	if (c->busy || c->dead)
		return;		/* Redis has its own timeout */
	log_info("%s: timeout%s", c->id, c->req.nattrs || c->req.line.len ?
	    " in a request" : "");
	conn_close(c);
}

/* conn_answer - queue an answer; the next request may start */
void
conn_answer(struct conn *c, const char *s, size_t len)
{
	bufferevent_write(c->bev, s, len);
	pattr_reset(&c->req);
	buf_reset(&c->reason);
	conn_deadline(c);
}

/* conn_resume - after an asynchronous answer, go on with the input */
void
conn_resume(struct conn *c)
{
	(void)conn_process(c);
}

/*
 * conn_finish - read no more; close once the answers already given are
 * written (-1: c is gone now, 0: later)
 */
static int
conn_finish(struct conn *c)
{
	bufferevent_disable(c->bev, EV_READ);
	evtimer_del(c->deadline);
	if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0) {
		conn_close(c);
		return -1;
	}
	c->closing = 1;
	return 0;
}

/* conn_process - read and dispatch complete requests; -1: c is gone */
static int
conn_process(struct conn *c)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);
	struct evbuffer_iovec v;
	enum pattr_status st;
	size_t	used;

	while (!c->busy && !c->closing && evbuffer_get_length(in) > 0) {
		if (evbuffer_peek(in, -1, NULL, &v, 1) < 1)
			break;
		st = pattr_feed(&c->req, v.iov_base, v.iov_len, &used);
		evbuffer_drain(in, used);
		if (st == PATTR_ERROR) {
			log_warnx("%s: protocol error: %s; closing", c->id,
			    c->req.error);
			return conn_finish(c);
		}
		if (st == PATTR_DONE && request_dispatch(c) < 0)
			return conn_finish(c);
	}
	if (c->eof && !c->busy) {
		if (c->req.nattrs || c->req.line.len)
			log_info("%s: connection closed in a request", c->id);
		return conn_finish(c);
	}
	return 0;
}

/* conn_read_cb - input arrived */
static void
conn_read_cb(struct bufferevent *bev, void *arg)
{
	(void)bev;
	(void)conn_process(arg);
}

/* conn_write_cb - output written: close if the client is gone */
static void
conn_write_cb(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;

	(void)bev;
	if (c->closing && !c->busy)
		conn_close(c);
}

/* conn_event_cb - EOF (answer what is complete, then close), error */
static void
conn_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct conn *c = arg;

	if ((what & BEV_EVENT_EOF) && !(what & BEV_EVENT_ERROR)) {
		c->eof = 1;
		bufferevent_disable(bev, EV_READ);
		(void)conn_process(c);
		return;
	}
	if (what & BEV_EVENT_TIMEOUT)	/* the client does not read */
		log_info("%s: write timeout", c->id);
	conn_close(c);
}

/* conn_close - free now, or when the outstanding reply arrives */
void
conn_close(struct conn *c)
{
	struct policyd *pd = c->pd;

	if (c->busy) {
		c->dead = 1;
		evtimer_del(c->deadline);
		bufferevent_disable(c->bev, EV_READ | EV_WRITE);
		return;
	}
	log_debug("%s: disconnect", c->id);
	TAILQ_REMOVE(&pd->conns, c, link);
	event_free(c->deadline);
	bufferevent_free(c->bev);
	pattr_free(&c->req);
	buf_free(&c->reason);
	free(c);
	pd->nconns--;
}

/* conn_new - a new connection, or none beyond policy_max_clients */
static void
conn_new(struct policyd *pd, evutil_socket_t fd)
{
	struct conn *c;
	struct timeval tv = { (time_t)pd->s->policy_timeout, 0 };
	char	id[24];

	snprintf(id, sizeof(id), "P%llu", ++pd->next_id);
	if (pd->nconns >= pd->s->policy_max_clients || pd->stopping) {
		log_warnx("%s: connection refused: %s", id, pd->stopping ?
		    "shutting down" : "too many connections");
		evutil_closesocket(fd);
		return;
	}
	c = xcalloc(1, sizeof(*c));
	c->pd = pd;
	memcpy(c->id, id, sizeof(id));
	c->bev = bufferevent_socket_new(pd->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (c->bev == NULL) {
		evutil_closesocket(fd);
		free(c);
		return;
	}
	pattr_init(&c->req, (size_t)pd->s->policy_max_line,
	    (size_t)pd->s->policy_max_attrs);
	buf_init(&c->reason);
	TAILQ_INSERT_TAIL(&pd->conns, c, link);
	pd->nconns++;
	c->deadline = evtimer_new(pd->base, conn_deadline_cb, c);
	conn_deadline(c);
	bufferevent_setcb(c->bev, conn_read_cb, conn_write_cb, conn_event_cb,
	    c);
	bufferevent_set_timeouts(c->bev, NULL, &tv);
	/* Stop reading while a request waits and input piles up. */
	bufferevent_setwatermark(c->bev, EV_READ, 0,
	    (size_t)pd->s->policy_max_line + 65536);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	log_debug("%s: connect", c->id);
}

/* policyd_accept_cb - a new connection */
static void
policyd_accept_cb(struct evconnlistener *lev, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	(void)lev;
	(void)sa;
	(void)salen;
	conn_new(arg, fd);
}

/* policyd_resume_cb - accept again after a pause */
static void
policyd_resume_cb(evutil_socket_t fd, short what, void *arg)
{
	struct policyd *pd = arg;

	(void)fd;
	(void)what;
	evconnlistener_enable(pd->lev);
}

/* policyd_error_cb - accept failed: pause on EMFILE/ENFILE */
static void
policyd_error_cb(struct evconnlistener *lev, void *arg)
{
	struct policyd *pd = arg;
	struct timeval tv = { 1, 0 };
	int	err = EVUTIL_SOCKET_ERROR();

	if (err != EMFILE && err != ENFILE && err != ENOBUFS && err != ENOMEM)
		return;
	log_warnx("accept: %s: pausing the listener for 1s (connections=%d)",
	    strerror(err), pd->nconns);
	evconnlistener_disable(lev);
	evtimer_add(pd->resume_ev, &tv);
}

/* policyd_purge_cb - forget old rate-limit entries every minute */
static void
policyd_purge_cb(evutil_socket_t fd, short what, void *arg)
{
	struct policyd *pd = arg;
	struct timeval tv = { 60, 0 };

	(void)fd;
	(void)what;
	ratetab_purge(pd->rates, (long long)time(NULL));
	evtimer_add(pd->purge_ev, &tv);
}

/* policyd_stop_cb - SIGTERM, SIGINT: stop accepting, close, exit */
static void
policyd_stop_cb(evutil_socket_t sig, short what, void *arg)
{
	struct policyd *pd = arg;
	struct conn *c, *next;

	(void)what;
	log_info("stopping (signal %d)", (int)sig);
	pd->stopping = 1;
	evconnlistener_disable(pd->lev);
	for (c = TAILQ_FIRST(&pd->conns); c != NULL; c = next) {
		next = TAILQ_NEXT(c, link);
		conn_close(c);
	}
	event_base_loopexit(pd->base, NULL);
}

/* policyd_hup_cb - SIGHUP: reload settings and domains */
static void
policyd_hup_cb(evutil_socket_t sig, short what, void *arg)
{
	struct policyd *pd = arg;
	struct oe_settings *ns = xcalloc(1, sizeof(*ns));
	struct buf err = BUF_INIT;

	(void)sig;
	(void)what;
	if (settings_load(ns, pd->conf_path, &err) < 0) {
		log_err("reload failed, keeping the running configuration: %s",
		    buf_terminate(&err));
		settings_free(ns);
		free(ns);
	} else {
		if (strcmp(ns->redis_server, pd->s->redis_server) != 0 ||
		    strcmp(ns->policy_listen, pd->s->policy_listen) != 0)
			log_warnx("reload: redis_server and policy_listen "
			    "change only at restart");
		settings_free(pd->s);
		free(pd->s);
		pd->s = ns;
		log_verbose = ns->verbose;
		log_info("reloaded %s", pd->conf_path);
	}
	buf_free(&err);
	domwatch_refresh(&pd->dw);
}

/* policyd_setup - listener, timers, signals */
static int
policyd_setup(struct policyd *pd, int fd)
{
	evutil_make_socket_nonblocking(fd);
	pd->lev = evconnlistener_new(pd->base, policyd_accept_cb, pd,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, -1, fd);
	if (pd->lev == NULL)
		return -1;
	evconnlistener_set_error_cb(pd->lev, policyd_error_cb);
	pd->resume_ev = evtimer_new(pd->base, policyd_resume_cb, pd);
	pd->purge_ev = evtimer_new(pd->base, policyd_purge_cb, pd);
	pd->sig_term = evsignal_new(pd->base, SIGTERM, policyd_stop_cb, pd);
	pd->sig_int = evsignal_new(pd->base, SIGINT, policyd_stop_cb, pd);
	pd->sig_hup = evsignal_new(pd->base, SIGHUP, policyd_hup_cb, pd);
	evsignal_add(pd->sig_term, NULL);
	evsignal_add(pd->sig_int, NULL);
	evsignal_add(pd->sig_hup, NULL);
	policyd_purge_cb(-1, 0, pd);
	domwatch_start(&pd->dw, pd->base, pd->redis, &pd->s);
	return 0;
}

/* policyd_free - everything, in reverse */
static void
policyd_free(struct policyd *pd)
{
	evconnlistener_free(pd->lev);
	event_free(pd->sig_term);
	event_free(pd->sig_int);
	event_free(pd->sig_hup);
	event_free(pd->resume_ev);
	event_free(pd->purge_ev);
	ra_free(pd->redis);	/* frees connections waiting for Redis */
	domwatch_free(&pd->dw);	/* after the replies ra_free ends */
	ratetab_purge(pd->rates, (long long)1 << 40);
	settings_free(pd->s);
	free(pd->s);
	event_base_free(pd->base);
}

/* policyd_run - serve until SIGTERM/SIGINT; the exit status */
int
policyd_run(struct oe_settings *s, const char *conf_path, int fd)
{
	struct policyd pd;

	memset(&pd, 0, sizeof(pd));
	TAILQ_INIT(&pd.conns);
	pd.s = s;
	pd.conf_path = conf_path;
	signal(SIGPIPE, SIG_IGN);
	if ((pd.base = event_base_new()) == NULL)
		log_fatalx("event_base_new failed");
	pd.redis = ra_new(pd.base, s->redis_server, s->redis_password,
	    (int)s->redis_db, (int)s->redis_timeout);
	if (pd.redis == NULL || policyd_setup(&pd, fd) < 0)
		log_fatalx("setup failed");
	log_info("ready: listen=%s redis=%s host=%s", s->policy_listen,
	    s->redis_server, s->hostname);
	event_base_dispatch(pd.base);
	policyd_free(&pd);
	return 0;
}
