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
 *	reload thread, then
 *	smfi_main() until SIGTERM/SIGINT/SIGHUP (libmilter owns those).
 * SECURITY
 *	Started as root, it refuses an empty `user` (daemon_user); `user =
 *	root` keeps root on purpose.  Root binds a unix socket only in a
 *	directory that root alone can write, with umask 0177 (root's, 0600:
 *	nobody else can connect), then chowns and chmods it by its resolved
 *	path, which nobody else can replace there; the pid file is written
 *	there too, by rename (safepath.c), and stays root's, so the milter,
 *	running as `user`, leaves both behind at exit: the next start
 *	replaces them.
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
	    (int)c->s.redis_db, (int)c->s.redis_timeout);
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
		if (cfg_install(path, &err) < 0)
			log_err("reload failed, keeping the running "
			    "configuration: %s", buf_terminate(&err));
		else
			log_info("reloaded %s", path);
		domcache_refresh_now();
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

/*
 * open_socket - listen; a unix socket is bound in a root-only directory
 * (the resolved path, see safepath.c) with umask 0177, so that nobody
 * but root reaches it before it gets its owner and mode by that path
 */
static void
open_socket(const struct oe_settings *s, const struct passwd *pw)
{
	static struct buf conn = BUF_INIT;	/* libmilter keeps a pointer */
	struct buf path = BUF_INIT, err = BUF_INIT;
	struct net_addr na;
	struct group *gr = NULL;
	mode_t	old;
	int	rc;

	if (net_parse(s->milter_socket, &na) < 0)
		log_fatalx("bad milter_socket \"%s\"", s->milter_socket);
	if (na.kind == NET_UNIX) {
		if (safepath_resolve(na.path, &path, &err) < 0)
			log_fatalx("milter_socket: %s", buf_terminate(&err));
		buf_printf(&conn, "unix:%s", buf_terminate(&path));
	} else
		buf_cat(&conn, s->milter_socket);
	if (smfi_setconn((char *)buf_terminate(&conn)) != MI_SUCCESS)
		log_fatalx("smfi_setconn %s failed", s->milter_socket);
	old = umask(0177);
	rc = smfi_opensocket(1);
	umask(old);
	if (rc != MI_SUCCESS)
		log_fatalx("cannot listen on %s (directory missing, or in "
		    "use?)", s->milter_socket);
	if (na.kind != NET_UNIX) {
		socket_nodelay();
		return;
	}
	if (*s->milter_socket_group &&
	    (gr = getgrnam(s->milter_socket_group)) == NULL)
		log_fatalx("milter_socket_group \"%s\" does not exist",
		    s->milter_socket_group);
	if ((pw || gr) && chown(path.s, pw ? pw->pw_uid : (uid_t)-1,
	    gr ? gr->gr_gid : (gid_t)-1) < 0)
		log_fatal("chown %s", path.s);
	if (chmod(path.s, (mode_t)s->milter_socket_mode) < 0)
		log_fatal("chmod %s", path.s);
	buf_free(&path);
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
	if (o.test) {
		printf("%s: configuration OK\n", path);
		exit(0);
	}
	pw = daemon_user(c->s.user);
	if (holdtag_key_load(c->s.hold_secret_file, &err) < 0)
		log_fatalx("hold_secret_file: %s", buf_terminate(&err));
	if (smfi_register(milter_desc) != MI_SUCCESS)
		log_fatalx("smfi_register failed");
	signal(SIGPIPE, SIG_IGN);
	daemon_check_pid("milter_pid_file", c->s.milter_pid_file);
	open_socket(&c->s, pw);	/* before detaching: a failure is our status */
	if (!o.fg && daemon(0, 0) < 0)
		log_fatal("daemon");
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
	rc = smfi_main();
	log_info("stopping");
	c = cfg_acquire();
	/* As `user` it cannot remove root's pid file: the next start will. */
	if (*c->s.milter_pid_file && unlink(c->s.milter_pid_file) < 0 &&
	    errno != ENOENT && errno != EACCES && errno != EPERM)
		log_warn("cannot remove milter_pid_file %s",
		    c->s.milter_pid_file);
	cfg_release(c);
	return rc == MI_SUCCESS ? 0 : 1;
}
