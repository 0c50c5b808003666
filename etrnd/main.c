/*
 * NAME
 *	etrnd - release held mail on ETRN, re-hold what was not taken
 * SYNOPSIS
 *	etrnd [-fhtvV] [-c config_file]
 * DESCRIPTION
 *	See etrnd(8) and docs/etrnd.md.  main() reads top to bottom: the
 *	configuration, without -f the fork that detaches (daemon_detach:
 *	the command exits 0 once etrnd is ready, else with its status),
 *	this host's lease (lease.c: another etrnd with the same hostname
 *	makes it exit 1 here, before it binds), the listening sockets
 *	(bound as root), the pid file, then a fork:
 *	the child reads the TLS key of the ODMR listener (odmr_listen),
 *	drops privileges to `user` and runs the SMTP
 *	listener (listener.c); the parent stays root and runs the queue
 *	runner (runner.c), restarting the listener should it die.
 *	SIGTERM/SIGINT stop both; SIGHUP is passed to the listener, which
 *	reloads its configuration.
 */
#include "config.h"

#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "etrnd/etrnd.h"
#include "etrnd/lease.h"
#include "mail/confcheck.h"
#include "mail/holdtag.h"
#include "util/daemonopt.h"
#include "util/log.h"
#include "util/net.h"
#include "util/tls.h"
#include "util/xalloc.h"

volatile sig_atomic_t etrnd_stop;
volatile sig_atomic_t etrnd_reload;
volatile sig_atomic_t etrnd_child_exited;

#define LEASE_START_TRIES 25	/* 200 ms apart */

static volatile pid_t listener_pid = -1;
static volatile int listener_status;

/*
 * on_signal - set the flags the runner loop checks.  SIGCHLD reaps the
 * listener only: the queue runner's MTA commands are reaped by spawn.c
 * with their own waitpid(), and must not wake the loop.
 */
static void
on_signal(int sig)
{
	int	saved = errno, st;
	pid_t	pid = listener_pid;

	if (sig == SIGCHLD) {
		if (pid > 0 && waitpid(pid, &st, WNOHANG) == pid) {
			listener_status = st;
			listener_pid = -1;
			etrnd_child_exited = 1;
		}
	} else if (sig == SIGHUP) {
		etrnd_reload = 1;
		if (listener_pid > 0)
			kill(listener_pid, SIGHUP);
	} else
		etrnd_stop = 1;
	errno = saved;
}

/* The listening sockets, bound as root, handed to each listener. */
struct socks {
	int	fds[NET_LISTEN_MAX], nfds;	/* etrnd_listen */
	int	ofds[NET_LISTEN_MAX], nofds;	/* odmr_listen */
	int	mfd;				/* odmr_socketmap, or -1 */
};

/* bind_all - every address of etrnd_listen (or odmr_listen), as root */
static int
bind_all(const char *name, const char *list, int *fds)
{
	struct net_listen_opts o = { (uid_t)-1, (gid_t)-1, 0600 };
	struct buf err = BUF_INIT;
	int	n;

	if ((n = net_listen(list, &o, fds, NET_LISTEN_MAX, &err)) < 0)
		log_fatalx("%s: %s", name, buf_terminate(&err));
	buf_free(&err);
	return n;
}

/*
 * bind_socketmap - odmr_socketmap, as root: mode 0660, the group of
 * odmr_mta_user (Postfix's trivial-rewrite asks it); -1: none
 */
static int
bind_socketmap(const struct oe_settings *s)
{
	struct net_listen_opts o = { (uid_t)-1, (gid_t)-1, 0660 };
	struct passwd *pw;
	struct buf err = BUF_INIT;
	int	fd;

	if (*s->odmr_listen == '\0' || *s->odmr_socketmap == '\0')
		return -1;
	if ((pw = getpwnam(s->odmr_mta_user)) == NULL)
		log_fatalx("odmr_mta_user: no user \"%s\"", s->odmr_mta_user);
	o.gid = pw->pw_gid;
	if (net_listen(s->odmr_socketmap, &o, &fd, 1, &err) != 1)
		log_fatalx("odmr_socketmap: %s", buf_terminate(&err));
	buf_free(&err);
	return fd;
}

/*
 * take_lease - this host's lease, or exit 1 naming its holder.  An etrnd
 * of this host that is stopping holds it for a moment more: retried for
 * a few seconds, as net_listen waits for its sockets.
 */
static void
take_lease(struct lease *lease)
{
	struct buf err = BUF_INIT;
	int	i;

	for (i = 0; lease_start(lease, &err) < 0; i++) {
		if (i == LEASE_START_TRIES) {
			log_err("%s", buf_terminate(&err));
			exit(1);
		}
		buf_reset(&err);
		usleep(200000);
	}
	buf_free(&err);
}

/* odmr_tls_ctx - the ODMR listener's TLS context, as root; NULL: none */
static SSL_CTX *
odmr_tls_ctx(const struct oe_settings *s)
{
	struct buf err = BUF_INIT;
	SSL_CTX *ctx;

	if (*s->odmr_listen == '\0' || *s->tls_cert_file == '\0')
		return NULL;
	if ((ctx = tls_server_ctx(s->tls_cert_file, s->tls_key_file, &err)) ==
	    NULL)
		log_fatalx("%s", buf_terminate(&err));
	buf_free(&err);
	return ctx;
}

/* start_listener - fork the unprivileged listener */
static void
start_listener(struct oe_settings *s, const char *path, struct socks *k)
{
	SSL_CTX *tls;
	struct passwd *pw = NULL;
	struct oe_settings *cs;
	struct buf err = BUF_INIT;
	sigset_t set, old;
	pid_t	pid, parent = getpid();

	pw = daemon_user(s->user);	/* as root: an empty user is fatal */
	/* SIGCHLD waits until listener_pid is set, or a quick death is lost. */
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigprocmask(SIG_BLOCK, &set, &old);
	if ((pid = fork()) < 0)
		log_fatal("fork");
	if (pid > 0) {
		listener_pid = pid;
		sigprocmask(SIG_SETMASK, &old, NULL);
		return;
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
	daemon_child();	/* not the process the start command waits for */
	signal(SIGCHLD, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	tls = odmr_tls_ctx(s);	/* the key may be root's alone */
	daemon_drop_privileges(pw);
	/* A runner killed outright (SIGKILL, the OOM killer) takes its
	 * listener along: an orphan would go on taking ETRNs that nobody
	 * serves, and hold the port against the next etrnd.  Set after the
	 * privileges are dropped: a change of user clears it. */
	if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0 || getppid() != parent)
		_exit(1);
	cs = xcalloc(1, sizeof(*cs));
	if (settings_load(cs, path, &err) < 0)	/* as the user: readable? */
		log_fatalx("listener: %s", buf_terminate(&err));
	_exit(listener_main(cs, path, k->fds, k->nfds, k->ofds, k->nofds,
	    k->mfd, tls));
}

/* reap_listener - the listener is gone (reaped by on_signal): log it */
static void
reap_listener(void)
{
	int	st = listener_status;

	etrnd_child_exited = 0;
	if (!etrnd_stop)
		log_warnx("listener %s %d", WIFSIGNALED(st) ?
		    "killed by signal" : "exited with status",
		    WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
}

/* stop_listener - SIGTERM, wait up to 10 s */
static void
stop_listener(void)
{
	int	i;

	pid_t	pid = listener_pid;

	if (pid <= 0)
		return;
	kill(pid, SIGTERM);
	for (i = 0; i < 100 && listener_pid > 0; i++)
		usleep(100000);	/* on_signal reaps it */
	if (listener_pid > 0) {
		kill(pid, SIGKILL);
		(void)waitpid(pid, NULL, 0);
	}
}

/* signals - flags for the parent's loop */
static void
signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGCHLD, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

int
main(int argc, char **argv)
{
	struct daemon_opts o;
	const char *path;
	struct oe_settings s;
	struct buf err = BUF_INIT;
	struct runner r;
	struct lease *lease;
	struct socks k;
	int	rc;

	daemon_opts_parse(argc, argv, "etrnd", OE_DEFAULT_CONF, &o);
	path = o.conf;
	log_init(argv[0], LOG_MAIL, o.fg || o.test);
	if (settings_load(&s, path, &err) < 0)
		log_fatalx("%s", buf_terminate(&err));
	log_set_facility(log_facility_lookup(s.log_facility));
	log_set_target(s.log_target);
	log_verbose = s.verbose || o.verbose;
	if (o.test)
		exit(confcheck_run(&s, path, CONFCHECK_ETRND));
	if (confcheck_sendmail_host(&s, &err) < 0)	/* once, at start */
		log_warnx("%s", buf_terminate(&err));
	buf_reset(&err);
	/* Refused here, before detaching, rather than in the listener. */
	(void)daemon_user(s.user);
	daemon_check_pid("etrnd_pid_file", s.etrnd_pid_file);
	if (holdtag_key_load(s.hold_secret_file, &err) < 0)
		log_fatalx("hold_secret_file: %s", buf_terminate(&err));
	SSL_CTX_free(odmr_tls_ctx(&s));	/* refused here, not in the child */
	/* Until daemon_ready a failure is this command's status. */
	daemon_detach(o.fg);
	/* Before binding (a second etrnd on this machine is told why, not
	 * "address in use"). */
	lease = lease_new(&s);
	take_lease(lease);
	memset(&k, 0, sizeof(k));
	k.nfds = bind_all("etrnd_listen", s.etrnd_listen, k.fds);
	if (*s.odmr_listen != '\0')
		k.nofds = bind_all("odmr_listen", s.odmr_listen, k.ofds);
	k.mfd = bind_socketmap(&s);
	daemon_write_pid("etrnd_pid_file", s.etrnd_pid_file);
	signals();
	/* The consumer group first: no flush request may fall between. */
	if (runner_init(&r, &s) < 0)
		log_warnx("queue runner: starting with errors (see above)");
	r.lease = lease;
	start_listener(&s, path, &k);
	log_info("starting: listen=%s redis=%s host=%s mta=%s dsn=%s",
	    s.etrnd_listen, s.redis_server, s.hostname, s.mta,
	    *s.dsn_server ? s.dsn_server : "sendmail");
	if (*s.dsn_server == '\0')
		log_info("dsn_server is not set: DSNs go to sendmail(1); one "
		    "taken by the MTA just before etrnd is stopped is sent "
		    "again");
	daemon_ready();
	while (!etrnd_stop) {
		runner_loop(&r);
		if (etrnd_reload && !etrnd_stop) {
			/* The listener reloads; the runner keeps its own. */
			etrnd_reload = 0;
			daemon_reloading();
			daemon_reloaded();
		}
		if (etrnd_child_exited && !etrnd_stop) {
			reap_listener();
			sleep(1);
			start_listener(&s, path, &k);
		}
	}
	daemon_stopping();
	log_info("stopping");
	stop_listener();
	rc = lease_refused(r.lease) ? 1 : 0;
	runner_free(&r);
	net_unix_remove();	/* only what this etrnd made, if there */
	daemon_remove_pid();
	settings_free(&s);
	return rc;
}
