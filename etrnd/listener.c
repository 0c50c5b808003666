/*
 * NAME
 *	listener - etrnd's unprivileged SMTP listener process
 * DESCRIPTION
 *	listener_main() runs the event loop: the listening sockets (opened
 *	by the parent as root), the sessions, the Redis connection, the
 *	dial-up domain list (refreshed every domain_refresh), the rate-limit
 *	table (purged every minute) and the signals: SIGTERM/SIGINT stop,
 *	SIGHUP reloads the configuration file and the domain list.
 *
 *	When accept() fails for lack of file descriptors the listeners are
 *	paused for a second instead of spinning or dying; sessions already
 *	open go on.  Beyond etrnd_max_clients a new client gets 421 at once.
 * DIAGNOSTICS
 *	Start, stop, reload and refresh problems are logged once each.
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "etrnd/etrnd.h"
#include "etrnd/listener.h"
#include "mail/domstore.h"
#include "util/log.h"
#include "util/xalloc.h"

/* listener_accept_cb - a new connection */
static void
listener_accept_cb(struct evconnlistener *lev, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	(void)lev;
	session_new(arg, fd, sa, salen);
}

/* listener_resume_cb - accept again after a pause */
static void
listener_resume_cb(evutil_socket_t fd, short what, void *arg)
{
	struct listener *l = arg;
	int	i;

	(void)fd;
	(void)what;
	for (i = 0; i < l->nlev; i++)
		evconnlistener_enable(l->lev[i]);
}

/* listener_error_cb - accept failed: pause on EMFILE/ENFILE */
static void
listener_error_cb(struct evconnlistener *lev, void *arg)
{
	struct listener *l = arg;
	struct timeval tv = { 1, 0 };
	int	err = EVUTIL_SOCKET_ERROR(), i;

	(void)lev;
	if (err != EMFILE && err != ENFILE && err != ENOBUFS && err != ENOMEM)
		return;
	log_warnx("accept: %s: pausing the listener for 1s (sessions=%d)",
	    strerror(err), l->nsessions);
	for (i = 0; i < l->nlev; i++)
		evconnlistener_disable(l->lev[i]);
	evtimer_add(l->resume_ev, &tv);
}

/* listener_purge_cb - forget old rate-limit entries every minute */
static void
listener_purge_cb(evutil_socket_t fd, short what, void *arg)
{
	struct listener *l = arg;
	struct timeval tv = { 60, 0 };

	(void)fd;
	(void)what;
	rate_purge(l, (long long)time(NULL));
	evtimer_add(l->purge_ev, &tv);
}

/* listener_stop_cb - SIGTERM, SIGINT: stop accepting, close, exit */
static void
listener_stop_cb(evutil_socket_t sig, short what, void *arg)
{
	struct listener *l = arg;
	struct session *ss, *next;
	int	i;

	(void)what;
	log_info("listener stopping (signal %d)", (int)sig);
	l->stopping = 1;
	for (i = 0; i < l->nlev; i++)
		evconnlistener_disable(l->lev[i]);
	for (ss = TAILQ_FIRST(&l->sessions); ss != NULL; ss = next) {
		next = TAILQ_NEXT(ss, entry);
		session_close(ss);
	}
	event_base_loopexit(l->base, NULL);
}

/* listener_hup_cb - SIGHUP: reload settings and domains */
static void
listener_hup_cb(evutil_socket_t sig, short what, void *arg)
{
	struct listener *l = arg;
	struct oe_settings *ns = xcalloc(1, sizeof(*ns));
	struct buf err = BUF_INIT;

	(void)sig;
	(void)what;
	if (settings_load(ns, l->conf_path, &err) < 0) {
		log_err("reload failed, keeping the running configuration: %s",
		    buf_terminate(&err));
		settings_free(ns);
		free(ns);
	} else {
		if (strcmp(ns->redis_server, l->s->redis_server) != 0 ||
		    strcmp(ns->etrnd_listen, l->s->etrnd_listen) != 0)
			log_warnx("reload: redis_server and etrnd_listen "
			    "change only at restart");
		free(ns->redis_server);
		ns->redis_server = xstrdup(l->s->redis_server);
		settings_free(l->s);
		free(l->s);
		l->s = ns;
		log_verbose = ns->verbose;
		log_info("reloaded %s", l->conf_path);
	}
	buf_free(&err);
	domwatch_refresh(&l->dw);
}

/* listener_setup - listeners, timers, signals */
static int
listener_setup(struct listener *l, int *fds, int nfds)
{
	int	i;

	l->lev = xcalloc((size_t)nfds, sizeof(*l->lev));
	for (i = 0; i < nfds; i++) {
		evutil_make_socket_nonblocking(fds[i]);
		l->lev[i] = evconnlistener_new(l->base, listener_accept_cb, l,
		    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, -1, fds[i]);
		if (l->lev[i] == NULL)
			return -1;
		evconnlistener_set_error_cb(l->lev[i], listener_error_cb);
		l->nlev++;
	}
	l->resume_ev = evtimer_new(l->base, listener_resume_cb, l);
	l->purge_ev = evtimer_new(l->base, listener_purge_cb, l);
	l->sig_term = evsignal_new(l->base, SIGTERM, listener_stop_cb, l);
	l->sig_int = evsignal_new(l->base, SIGINT, listener_stop_cb, l);
	l->sig_hup = evsignal_new(l->base, SIGHUP, listener_hup_cb, l);
	evsignal_add(l->sig_term, NULL);
	evsignal_add(l->sig_int, NULL);
	evsignal_add(l->sig_hup, NULL);
	listener_purge_cb(-1, 0, l);
	domwatch_start(&l->dw, l->base, l->redis, &l->s);
	return 0;
}

/* listener_free - everything, in reverse */
static void
listener_free(struct listener *l)
{
	int	i;

	for (i = 0; i < l->nlev; i++)
		evconnlistener_free(l->lev[i]);
	free(l->lev);
	event_free(l->sig_term);
	event_free(l->sig_int);
	event_free(l->sig_hup);
	event_free(l->resume_ev);
	event_free(l->purge_ev);
	ra_free(l->redis);
	domwatch_free(&l->dw);	/* after the replies ra_free ends */
	rate_purge(l, (long long)1 << 40);
	settings_free(l->s);
	free(l->s);
	event_base_free(l->base);
}

/* listener_main - run until SIGTERM/SIGINT; the exit status */
int
listener_main(struct oe_settings *s, const char *conf_path, int *fds,
    int nfds)
{
	struct listener l;

	memset(&l, 0, sizeof(l));
	TAILQ_INIT(&l.sessions);
	l.s = s;
	l.conf_path = conf_path;
	signal(SIGPIPE, SIG_IGN);
	if ((l.base = event_base_new()) == NULL)
		log_fatalx("event_base_new failed");
	l.redis = ra_new(l.base, s->redis_server, s->redis_password,
	    (int)s->redis_db, (int)s->redis_timeout);
	if (l.redis == NULL || listener_setup(&l, fds, nfds) < 0)
		log_fatalx("listener setup failed");
	log_info("listener ready: %s", s->etrnd_listen);
	event_base_dispatch(l.base);
	listener_free(&l);
	return 0;
}
