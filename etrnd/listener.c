/*
 * NAME
 *	listener - etrnd's unprivileged SMTP listener process
 * DESCRIPTION
 *	listener_main() runs the event loop: the line-server core
 *	(lib/util/lserver.c) with the listening sockets opened by the
 *	parent as root and the SMTP protocol of session.c; the Redis
 *	connection; the dial-up domain list (refreshed every
 *	domain_refresh); the rate-limit table (purged every minute).
 *
 *	listener_rate_allow() applies the ETRN rate limit shared with
 *	etrn-policy (lib/mail/etrnauth.c) to the listener's own table,
 *	counting each client by its network (client_ipv4_prefix,
 *	client_ipv6_prefix).
 *	SIGTERM/SIGINT stop (the core), SIGHUP reloads the configuration
 *	file, the core's limits and the domain list.
 *
 *	With odmr_listen set, a second line server runs the ODMR protocol
 *	(odmr.c) on its sockets, with the same limits, the same Redis
 *	connection and domain list, the TLS context its parent read as
 *	root, and Cyrus SASL (odmrauth.c).
 * DIAGNOSTICS
 *	Start, stop, reload and refresh problems are logged once each.
 */
#include "config.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "etrnd/etrnd.h"
#include "etrnd/listener.h"
#include "etrnd/odmr.h"
#include "mail/domstore.h"
#include "util/evmem.h"
#include "util/log.h"
#include "util/xalloc.h"

/*
 * listener_rate_allow - count one ETRN for the network of addr
 * (client_ipv4_prefix, client_ipv6_prefix); 0 when over limit per minute
 */
int
listener_rate_allow(struct listener *l, const char *addr, long long now,
    long long limit)
{
	return etrnauth_rate_allow(l->rates, addr,
	    (int)l->s->client_ipv4_prefix, (int)l->s->client_ipv6_prefix, now,
	    limit);
}

/* listener_tick - once a minute: forget old rate-limit entries */
static void
listener_tick(struct ls_server *srv, void *arg)
{
	struct listener *l = arg;

	(void)srv;
	etrnauth_rate_purge(l->rates, (long long)time(NULL));
}

/* listener_reload - SIGHUP: reload settings, limits and domains */
static void
listener_reload(struct ls_server *srv, void *arg)
{
	struct listener *l = arg;
	struct oe_settings *ns = xcalloc(1, sizeof(*ns));
	struct ls_limits lim;
	struct buf err = BUF_INIT;

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
		session_limits(ns, &lim);
		ls_set_limits(srv, &lim);
		if (l->odmr != NULL) {
			odmr_limits(ns, &lim);
			ls_set_limits(l->odmr, &lim);
		}
		log_info("reloaded %s", l->conf_path);
	}
	buf_free(&err);
	domwatch_refresh(&l->dw);
}

static const struct ls_ops listener_ops = {
	"S",
	session_open,
	session_limit_bye,
	session_input,
	session_free,
	listener_reload,
	listener_tick,
};

static const struct ls_ops odmr_ops = {
	"O",
	odmr_open,
	odmr_bye,
	odmr_input,
	odmr_free,
	NULL,		/* listener_reload sets its limits */
	NULL,
};

/* listener_odmr - the ODMR listener on ofds, if any */
static void
listener_odmr(struct listener *l, int *ofds, int nofds)
{
	struct ls_limits lim;

	if (nofds == 0)
		return;
	if (odmrauth_init(l) < 0)
		log_fatalx("odmr_listen: Cyrus SASL does not start");
	odmr_limits(l->s, &lim);
	if ((l->odmr = ls_new(l->base, &lim, &odmr_ops, l, ofds, nofds)) ==
	    NULL)
		log_fatalx("odmr listener setup failed");
	log_info("odmr listener ready: %s (tls %s)", l->s->odmr_listen,
	    l->tls != NULL ? "offered" : "not offered");
}

/* listener_main - run until SIGTERM/SIGINT; the exit status */
int
listener_main(struct oe_settings *s, const char *conf_path, int *fds,
    int nfds, int *ofds, int nofds, int mfd, SSL_CTX *tls)
{
	struct listener l;
	struct ls_limits lim;

	memset(&l, 0, sizeof(l));
	l.s = s;
	l.conf_path = conf_path;
	l.tls = tls;
	signal(SIGPIPE, SIG_IGN);
	evmem_init();		/* before libevent allocates anything */
	if ((l.base = event_base_new()) == NULL)
		log_fatalx("event_base_new failed");
	l.redis = ra_new(l.base, s->redis_server, s->redis_password,
	    (int)s->redis_db, (int)s->redis_timeout, &s->redis_ha);
	session_limits(s, &lim);
	if (l.redis == NULL || (l.srv = ls_new(l.base, &lim, &listener_ops,
	    &l, fds, nfds)) == NULL)
		log_fatalx("listener setup failed");
	domwatch_start(&l.dw, l.base, l.redis, &l.s);
	listener_odmr(&l, ofds, nofds);
	if (nofds > 0 && odmrmap_start(&l, mfd) < 0)
		log_fatalx("odmr_socketmap setup failed");
	log_info("listener ready: %s", s->etrnd_listen);
	event_base_dispatch(l.base);
	domwatch_stop(&l.dw);
	ra_free(l.redis);	/* ends the ETRNs waiting for Redis */
	ls_free(l.srv);
	if (l.odmr != NULL) {
		ls_free(l.odmr);	/* the turns first: they are routes */
		odmrmap_stop();
		odmrauth_done();
	}
	if (l.tls != NULL)
		SSL_CTX_free(l.tls);
	domwatch_free(&l.dw);	/* after the replies ra_free ends */
	etrnauth_rate_purge(l.rates, (long long)1 << 40);	/* all of it */
	settings_free(l.s);
	free(l.s);
	event_base_free(l.base);
	return 0;
}
