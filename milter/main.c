/*
 * NAME
 *	etrn-milter - hold mail for dial-up domains until ETRN
 * SYNOPSIS
 *	etrn-milter [-fhtvV] [-c config_file]
 * DESCRIPTION
 *	See etrn-milter(8).  main() reads top to bottom: arguments, the
 *	configuration, the listening socket (opened as root, then given to
 *	milter_socket_group with milter_socket_mode), the pid file,
 *	privileges dropped to `user`, the domain cache thread, the SIGUSR1
 *	reload thread, then (ready: daemonopt.c) smfi_main() until
 *	SIGTERM/SIGINT/SIGHUP (libmilter owns those).  Without -f it forks
 *	before the socket (daemon_detach): the command exits 0 only once the
 *	daemon is ready, else with its status and the error on stderr.
 * SECURITY
 *	Started as root, it refuses an empty `user` (daemon_user); `user =
 *	root` keeps root on purpose.  Root binds a unix socket only in a
 *	directory that root alone can write, with umask 0177 (root's, 0600:
 *	nobody else can connect), then chowns and chmods it by its resolved
 *	path, which nobody else can replace there (net_unix_listen); the
 *	pid file is written there too, by rename (safepath.c), and stays
 *	root's, so the milter, running as `user`, leaves both behind at
 *	exit: the next start replaces them.  At exit it removes only the
 *	socket and pid file it made, never a successor's.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/stat.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <grp.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include <libmilter/mfapi.h>

#include "mail/confcheck.h"
#include "mail/holdtag.h"
#include "milter/milter.h"
#include "util/daemonopt.h"
#include "util/log.h"
#include "util/net.h"
#include "util/safepath.h"
#include "util/xalloc.h"

extern struct smfiDesc milter_desc;

static pthread_mutex_t cfg_lock = PTHREAD_MUTEX_INITIALIZER;
static struct cfg *cfg_current;
static int opt_verbose;

/* cfg_acquire - a reference to the current configuration */
struct cfg *
cfg_acquire(void)
{
	struct cfg *c;

	pthread_mutex_lock(&cfg_lock);
	c = cfg_current;
	c->refs++;
	pthread_mutex_unlock(&cfg_lock);
	return c;
}

/* cfg_release - drop a reference; free when unused and replaced */
void
cfg_release(struct cfg *c)
{
	int	last;

	pthread_mutex_lock(&cfg_lock);
	last = --c->refs == 0;
	pthread_mutex_unlock(&cfg_lock);
	if (last) {
		rpool_free(c->redis);
		settings_free(&c->s);
		free(c);
	}
}

/* cfg_install - load a file and make it current; -1 keeps the old */
int
cfg_install(const char *path, struct buf *err)
{
	struct cfg *c = xcalloc(1, sizeof(*c)), *old;

	if (settings_load(&c->s, path, err) < 0) {
		settings_free(&c->s);
		free(c);
		return -1;
	}
	c->redis = rpool_new(c->s.redis_server, c->s.redis_password,
	    (int)c->s.redis_db, (int)c->s.redis_timeout, &c->s.redis_ha);
	c->refs = 1;
	pthread_mutex_lock(&cfg_lock);
	old = cfg_current;
	cfg_current = c;
	pthread_mutex_unlock(&cfg_lock);
	log_verbose = c->s.verbose || opt_verbose;
	if (old)
		cfg_release(old);
	return 0;
}

/* reload_thread - SIGUSR1: reload settings, refresh domains */
static void *
reload_thread(void *arg)
{
	const char *path = arg;
	struct buf err = BUF_INIT;
	sigset_t set;
	int	sig;

	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	for (;;) {
		if (sigwait(&set, &sig) != 0)
			continue;
		buf_reset(&err);
		daemon_reloading();
		if (cfg_install(path, &err) < 0)
			log_err("reload failed, keeping the running "
			    "configuration: %s", buf_terminate(&err));
		else
			log_info("reloaded %s", path);
		domcache_refresh_now();
		daemon_reloaded();
	}
	return NULL;
}

/* socket_nodelay - TCP_NODELAY on libmilter's listening inet socket */
static void
socket_nodelay(void)
{
	int	fd, on = 1, acc;
	socklen_t len;
	struct sockaddr_storage ss;

	/* libmilter does not expose its socket; find it among ours. */
	for (fd = 3; fd < 256; fd++) {
		len = sizeof(acc);
		if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &acc, &len) < 0 ||
		    !acc)
			continue;
		len = sizeof(ss);
		if (getsockname(fd, (struct sockaddr *)&ss, &len) == 0 &&
		    (ss.ss_family == AF_INET || ss.ss_family == AF_INET6))
			(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on,
			    sizeof(on));
	}
}

/* milter_bind - net_unix_listen's mk: libmilter binds the socket */
static int
milter_bind(const char *path, void *arg)
{
	static struct buf conn = BUF_INIT; /* libmilter keeps a pointer */

	(void)arg;
	buf_reset(&conn);
	buf_printf(&conn, "unix:%s", path);
	if (smfi_setconn((char *)buf_terminate(&conn)) != MI_SUCCESS ||
	    smfi_opensocket(0) != MI_SUCCESS)
		return -1;
	return 0;
}

/*
 * open_socket - listen.  A unix socket is made by net_unix_listen, the
 * one way for all daemons: libmilter binds it at a temporary name (so it
 * never removes the path itself at exit, which would take a successor's
 * socket), and it gets `user`, milter_socket_group (else the
 * directory's group) and milter_socket_mode before it takes the path.
 */
static void
open_socket(const struct oe_settings *s, const struct passwd *pw)
{
	struct net_listen_opts o;
	struct buf err = BUF_INIT;
	struct net_addr na;
	struct group *gr = NULL;
	int	i;

	if (net_parse(s->milter_socket, &na) < 0)
		log_fatalx("bad milter_socket \"%s\"", s->milter_socket);
	if (na.kind != NET_UNIX) {
		if (smfi_setconn(s->milter_socket) != MI_SUCCESS)
			log_fatalx("smfi_setconn %s failed", s->milter_socket);
		/* A predecessor that is stopping may hold the port a while. */
		for (i = 0; smfi_opensocket(0) != MI_SUCCESS; i++) {
			if (i == 100)
				log_fatalx("cannot listen on %s (in use?)",
				    s->milter_socket);
			usleep(100000);
		}
		socket_nodelay();
		return;
	}
	if (*s->milter_socket_group &&
	    (gr = getgrnam(s->milter_socket_group)) == NULL)
		log_fatalx("milter_socket_group \"%s\" does not exist",
		    s->milter_socket_group);
	o.uid = pw ? pw->pw_uid : (uid_t)-1;
	o.gid = gr ? gr->gr_gid : (gid_t)-1;
	o.mode = (mode_t)s->milter_socket_mode;
	if (net_unix_listen(na.path, &o, milter_bind, NULL, &err) < 0)
		log_fatalx("milter_socket: %s", buf_terminate(&err));
	buf_free(&err);
}

int
main(int argc, char **argv)
{
	struct daemon_opts o;
	const char *path;
	int	rc;
	struct passwd *pw = NULL;
	struct buf err = BUF_INIT;
	pthread_t tid;
	sigset_t set;
	struct cfg *c;

	daemon_opts_parse(argc, argv, "etrn-milter", OE_DEFAULT_CONF, &o);
	path = o.conf;
	opt_verbose = o.verbose;
	log_init(argv[0], LOG_MAIL, o.fg || o.test);
	if (cfg_install(path, &err) < 0)
		log_fatalx("%s", buf_terminate(&err));
	c = cfg_acquire();
	log_set_facility(log_facility_lookup(c->s.log_facility));
	log_set_target(c->s.log_target);
	if (o.test)
		exit(confcheck_run(&c->s, path, CONFCHECK_MILTER));
	pw = daemon_user(c->s.user);
	if (holdtag_key_load(c->s.hold_secret_file, &err) < 0)
		log_fatalx("hold_secret_file: %s", buf_terminate(&err));
	if (smfi_register(milter_desc) != MI_SUCCESS)
		log_fatalx("smfi_register failed");
	signal(SIGPIPE, SIG_IGN);
	daemon_check_pid("milter_pid_file", c->s.milter_pid_file);
	/* Before any thread; until daemon_ready a failure is our status. */
	daemon_detach(o.fg);
	open_socket(&c->s, pw);
	daemon_write_pid("milter_pid_file", c->s.milter_pid_file);
	daemon_drop_privileges(pw);
	/*
	 * Block the signals before any thread exists: SIGUSR1 is for the
	 * reload thread; SIGTERM, SIGINT and SIGHUP for libmilter's signal
	 * thread, which stops smfi_main() cleanly.  A thread of ours with
	 * them unblocked would take the default action and kill the process.
	 */
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	if (pthread_create(&tid, NULL, reload_thread, (void *)path) != 0 ||
	    domcache_start() < 0)
		log_fatal("cannot start threads");
	log_info("starting: socket=%s redis=%s host=%s user=%s",
	    c->s.milter_socket, c->s.redis_server, c->s.hostname,
	    *c->s.user ? c->s.user : "(unchanged)");
	cfg_release(c);
	/* The socket listens already: connections wait in its backlog. */
	daemon_ready();
	rc = smfi_main();
	daemon_stopping();
	log_info("stopping");
	/* Only what this process made, if still there (a successor's not). */
	net_unix_remove();
	daemon_remove_pid();
	return rc == MI_SUCCESS ? 0 : 1;
}
