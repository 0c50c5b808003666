/*
 * NAME
 *	server - etrn-policy's event loop and its connections
 * DESCRIPTION
 *	policyd_run() owns the event base: the line-server core
 *	(lib/util/lserver.c) with the listening sockets opened by main.c
 *	as root, the Redis connection (lib/util/redis_async.c: reconnects
 *	with backoff), the dial-up domain list (refreshed every
 *	domain_refresh), the rate-limit table (purged every minute).  The
 *	core stops on SIGTERM/SIGINT; SIGHUP reloads the configuration, the
 *	core's limits and the domain list.  The service manager is told
 *	READY=1 (and the start command released, daemonopt.c) once the
 *	listeners are in the loop, RELOADING=1/READY=1 around a reload and
 *	STOPPING=1 when the loop ends.
 *
 *	The policy protocol itself, above the core, is request.c's.
 * SECURITY
 *	The core bounds what a client can make the server hold:
 *	policy_timeout for each request (restarted after each answer), so
 *	a client that trickles bytes or idles cannot keep its slot for
 *	ever; answers a client leaves unread (above policy_max_output no
 *	request is read, and a client that does not read within
 *	policy_timeout is dropped); policy_max_clients connections in all
 *	and policy_max_per_client per client network (closed at once);
 *	policy_max_session_time and policy_max_requests per connection; a
 *	pause of a second when accept() runs out of descriptors.
 * DIAGNOSTICS
 *	Start, stop, reload and refresh problems once each; the core logs
 *	each connection a limit cut off.
 */
#include "config.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mail/domstore.h"
#include "policy/policyd.h"
#include "util/daemonopt.h"
#include "util/evmem.h"
#include "util/log.h"
#include "util/xalloc.h"

/* policyd_limits - the core's limits from the settings */
static void
policyd_limits(const struct oe_settings *s, struct ls_limits *lim)
{
	lim->max_clients = s->policy_max_clients;
	lim->max_per_client = s->policy_max_per_client;
	lim->v4_prefix = (int)s->client_ipv4_prefix;
	lim->v6_prefix = (int)s->client_ipv6_prefix;
	lim->timeout = s->policy_timeout;
	lim->max_session = s->policy_max_session_time;
	/* conn_answer closes after the last answer, before ls_command
	 * would refuse a request. */
	lim->max_commands = s->policy_max_requests;
	lim->max_output = (size_t)s->policy_max_output;
	lim->max_input = (size_t)s->policy_max_line + 65536;
}

/* policyd_tick - once a minute: forget old rate-limit entries */
static void
policyd_tick(struct ls_server *srv, void *arg)
{
	struct policyd *pd = arg;

	(void)srv;
	etrnauth_rate_purge(pd->rates, (long long)time(NULL));
}

/* policyd_reload - SIGHUP: reload settings, limits and domains */
static void
policyd_reload(struct ls_server *srv, void *arg)
{
	struct policyd *pd = arg;
	struct oe_settings *ns = xcalloc(1, sizeof(*ns));
	struct ls_limits lim;
	struct buf err = BUF_INIT;

	daemon_reloading();
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
		policyd_limits(ns, &lim);
		ls_set_limits(srv, &lim);
		log_info("reloaded %s", pd->conf_path);
	}
	buf_free(&err);
	domwatch_refresh(&pd->dw);
	daemon_reloaded();
}

static const struct ls_ops conn_ops = {
	"P",
	request_open,
	request_bye,
	request_input,
	request_free,
	policyd_reload,
	policyd_tick,
};

/* policyd_run - serve until SIGTERM/SIGINT; the exit status */
int
policyd_run(struct oe_settings *s, const char *conf_path, const int *fds,
    int nfds)
{
	struct policyd pd;
	struct ls_limits lim;

	memset(&pd, 0, sizeof(pd));
	pd.s = s;
	pd.conf_path = conf_path;
	signal(SIGPIPE, SIG_IGN);
	evmem_init();		/* before libevent allocates anything */
	if ((pd.base = event_base_new()) == NULL)
		log_fatalx("event_base_new failed");
	pd.redis = ra_new(pd.base, s->redis_server, s->redis_password,
	    (int)s->redis_db, (int)s->redis_timeout, &s->redis_ha);
	policyd_limits(s, &lim);
	if (pd.redis == NULL || (pd.srv = ls_new(pd.base, &lim, &conn_ops,
	    &pd, fds, nfds)) == NULL)
		log_fatalx("setup failed");
	domwatch_start(&pd.dw, pd.base, pd.redis, &pd.s);
	log_info("ready: listen=%s redis=%s host=%s", s->policy_listen,
	    s->redis_server, s->hostname);
	daemon_ready();
	event_base_dispatch(pd.base);
	daemon_stopping();
	domwatch_stop(&pd.dw);
	ra_free(pd.redis);	/* ends the requests waiting for Redis */
	ls_free(pd.srv);
	domwatch_free(&pd.dw);	/* after the replies ra_free ends */
	etrnauth_rate_purge(pd.rates, (long long)1 << 40);
	settings_free(pd.s);
	free(pd.s);
	event_base_free(pd.base);
	return 0;
}
