/*
 * NAME
 *	daemonopt - the daemons' command line and start-up steps
 * DESCRIPTION
 *	daemon_opts_parse: etrn-milter, etrnd and etrn-policy take the same
 *	options, "[-fhtvV] [-c config_file]"; -h prints the usage and exits
 *	0, -V the version, anything else unknown (or an extra argument)
 *	prints the usage and exits 2.  A relative configuration path is
 *	made absolute: it is read again after the daemon has moved to /.
 *
 *	daemon_user: the account of the `user` setting.  Root must name
 *	one: an empty `user` is an error, `user = root` runs as root on
 *	purpose; a daemon not started as root can only stay what it is.
 *	daemon_check_pid: the same checks as daemon_write_pid, run before
 *	the daemon detaches, so that a refusal is the command's status.
 *	daemon_write_pid: the pid file named by a setting, if set, written
 *	by safepath_write (a new file renamed into a root-only directory,
 *	never through a link, never given to `user`).  Its device and inode
 *	are remembered: daemon_remove_pid removes it at exit only if it is
 *	still that file and holds this pid, so a daemon that stops while its
 *	successor starts never takes the successor's file with it.
 *	daemon_drop_privileges: become that user (groups, gid, uid) and
 *	check that root cannot come back.
 *
 *	daemon_detach: without -f, fork; the parent waits until the child
 *	calls daemon_ready and exits 0, or exits with the child's status if
 *	it dies first.  A fatal error while the daemon opens its sockets and
 *	pid file, waits for a predecessor, or starts its threads is thus the
 *	status of the command that started it, with the error on its stderr
 *	(log.c writes warnings and errors there until the daemon detaches).
 *	daemon_ready: the daemon serves: the waiting parent is released,
 *	stdin/stdout/stderr become /dev/null, and the service manager is
 *	told READY=1 with MAINPID (sd_notify; nothing without NOTIFY_SOCKET
 *	or without libsystemd).  daemon_reloading, daemon_reloaded and
 *	daemon_stopping send RELOADING=1, READY=1 and STOPPING=1.
 *	daemon_child: in a process the daemon forks (etrnd's listener): not
 *	the one the parent waits for, and no terminal after detaching.
 * DIAGNOSTICS
 *	All are fatal on failure: a daemon must not run half set up.  A
 *	pid file the daemon cannot remove at exit because it runs as `user`
 *	in root's directory is left quietly (the next start replaces it).
 * SECURITY
 *	Root never writes a pid file through a path `user` controls: the
 *	daemons that drop privileges cannot remove theirs at exit (it is
 *	root's, in root's directory); the next start replaces it.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifdef HAVE_LIBSYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "util/daemonopt.h"
#include "util/log.h"
#include "util/safepath.h"
#include "util/xalloc.h"

static int daemon_ready_fd = -1;	/* to the waiting parent */
static int daemon_detached;		/* daemon_detach forked */

static struct {
	char	*path;		/* written by daemon_write_pid */
	dev_t	dev;
	ino_t	ino;
} daemon_pid;

/* daemon_usage - print usage and exit */
static void __attribute__((noreturn))
daemon_usage(const char *prog, const char *conf, int status)
{
	fprintf(status ? stderr : stdout,
	    "usage: %s [-fhtvV] [-c config_file]\n"
	    "  -c FILE  configuration (default %s)\n"
	    "  -f       stay in the foreground (log_target: where lines go)\n"
	    "  -t       check the configuration and exit\n"
	    "  -v       verbose logging\n"
	    "  -V       print the version\n", prog, conf);
	exit(status);
}

/*
 * daemon_abspath - a relative -c FILE from the working directory: a
 * daemon reads the file again (reload, as `user`) after daemon_detach
 * has moved it to /
 */
static const char *
daemon_abspath(const char *path)
{
	static struct buf abs = BUF_INIT;	/* for the daemon's life */
	char	cwd[4096];

	if (*path == '/' || getcwd(cwd, sizeof(cwd)) == NULL)
		return path;
	buf_reset(&abs);
	buf_printf(&abs, "%s/%s", cwd, path);
	return buf_terminate(&abs);
}

/* daemon_opts_parse - fill *o from argv or exit */
void
daemon_opts_parse(int argc, char **argv, const char *prog,
    const char *default_conf, struct daemon_opts *o)
{
	int	ch;

	memset(o, 0, sizeof(*o));
	o->conf = default_conf;
	while ((ch = getopt(argc, argv, "c:fhtvV")) != -1) {
		switch (ch) {
		case 'c':
			o->conf = optarg;
			break;
		case 'f':
			o->fg = 1;
			break;
		case 'h':
			daemon_usage(prog, default_conf, 0);
		case 't':
			o->test = 1;
			break;
		case 'v':
			o->verbose = 1;
			break;
		case 'V':
			printf("%s %s\n", prog, PACKAGE_VERSION);
			exit(0);
		default:
			daemon_usage(prog, default_conf, 2);
		}
	}
	if (optind != argc)
		daemon_usage(prog, default_conf, 2);
	o->conf = daemon_abspath(o->conf);
}

/* daemon_user - the account to become; NULL: stay as started */
struct passwd *
daemon_user(const char *name)
{
	struct passwd *pw;
	uid_t	euid = geteuid();

	if (*name == '\0') {
		if (euid == 0)
			log_fatalx("user is empty: set user = openetrn (or "
			    "user = root to run as root on purpose)");
		return NULL;
	}
	if ((pw = getpwnam(name)) == NULL)
		log_fatalx("user \"%s\" does not exist: create it (useradd "
		    "--system --shell /usr/sbin/nologin %s) or set user",
		    name, name);
	if (pw->pw_uid == euid)
		return NULL;	/* user = root as root, or oneself */
	if (euid != 0)
		log_fatalx("user = %s, but started as uid %ld: only root can "
		    "change user (start as root, or set user to this "
		    "account)", name, (long)euid);
	return pw;
}

/* daemon_check_pid - before detaching: refuse a pid file in a bad place */
void
daemon_check_pid(const char *setting, const char *path)
{
	struct buf real = BUF_INIT, err = BUF_INIT;

	if (*path == '\0')
		return;
	if (safepath_resolve(path, &real, &err) < 0)
		log_fatalx("%s: %s", setting, buf_terminate(&err));
	buf_free(&real);
	buf_free(&err);
}

/* daemon_write_pid - the pid file of setting, if path is set */
void
daemon_write_pid(const char *setting, const char *path)
{
	struct buf err = BUF_INIT;
	struct stat st;
	char	line[32];
	int	n;

	/* The pid file stays root's: it is never handed to `user`. */
	if (*path == '\0')
		return;
	n = snprintf(line, sizeof(line), "%ld\n", (long)getpid());
	if (safepath_write(path, line, (size_t)n, 0644, &err) < 0)
		log_fatalx("%s: %s", setting, buf_terminate(&err));
	buf_free(&err);
	if (lstat(path, &st) < 0)
		log_fatal("%s: %s", setting, path);
	free(daemon_pid.path);
	daemon_pid.path = xstrdup(path);
	daemon_pid.dev = st.st_dev;
	daemon_pid.ino = st.st_ino;
}

/*
 * daemon_remove_pid - at exit: the pid file daemon_write_pid wrote, only
 * if it is still that file with this pid in it
 */
void
daemon_remove_pid(void)
{
	struct stat st;
	char	line[32], want[32];
	ssize_t	n;
	int	fd;

	if (daemon_pid.path == NULL || lstat(daemon_pid.path, &st) < 0 ||
	    st.st_dev != daemon_pid.dev || st.st_ino != daemon_pid.ino)
		return;		/* gone, or a successor's */
	if ((fd = open(daemon_pid.path, O_RDONLY | O_NOFOLLOW)) < 0)
		return;
	n = read(fd, line, sizeof(line) - 1);
	close(fd);
	snprintf(want, sizeof(want), "%ld\n", (long)getpid());
	if (n < 0 || (size_t)n != strlen(want) || memcmp(line, want,
	    (size_t)n) != 0)
		return;
	if (unlink(daemon_pid.path) < 0) {
		/* As `user` in root's directory: the next start replaces it. */
		if (errno == EACCES || errno == EPERM)
			log_debug("pid file %s left for the next start",
			    daemon_pid.path);
		else if (errno != ENOENT)
			log_warn("cannot remove pid file %s", daemon_pid.path);
	}
}

/* daemon_drop_privileges - become pw (nothing without one) */
void
daemon_drop_privileges(const struct passwd *pw)
{
	if (pw == NULL)
		return;
	if (initgroups(pw->pw_name, pw->pw_gid) < 0 ||
	    setgid(pw->pw_gid) < 0 || setuid(pw->pw_uid) < 0)
		log_fatal("cannot become user %s", pw->pw_name);
	if (setuid(0) == 0)
		log_fatalx("still root after dropping privileges");
}

/* daemon_detach - without -f: fork, the parent waits (see above) */
void
daemon_detach(int fg)
{
	int	p[2], st;
	char	c;
	ssize_t	n;
	pid_t	pid;

	if (fg)
		return;
	if (pipe(p) < 0 || (pid = fork()) < 0)
		log_fatal("cannot detach");
	if (pid > 0) {
		close(p[1]);
		while ((n = read(p[0], &c, 1)) < 0 && errno == EINTR)
			;
		if (n == 1)
			_exit(0);
		/* The child died (or closed the pipe) before it was ready. */
		while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
			;
		_exit(WIFEXITED(st) && WEXITSTATUS(st) != 0 ?
		    WEXITSTATUS(st) : 1);
	}
	close(p[0]);
	(void)fcntl(p[1], F_SETFD, FD_CLOEXEC);
	daemon_ready_fd = p[1];
	daemon_detached = 1;
	if (setsid() < 0 || chdir("/") < 0)
		log_fatal("cannot detach");
}

/* daemon_devnull - stdin, stdout and stderr to /dev/null */
static void
daemon_devnull(void)
{
	int	fd;

	if ((fd = open("/dev/null", O_RDWR)) < 0)
		return;
	(void)dup2(fd, STDIN_FILENO);
	(void)dup2(fd, STDOUT_FILENO);
	(void)dup2(fd, STDERR_FILENO);
	if (fd > STDERR_FILENO)
		close(fd);
}

/* daemon_notify - a state line for the service manager, if there is one */
static void
daemon_notify(const char *state)
{
#ifdef HAVE_LIBSYSTEMD
	(void)sd_notify(0, state);
#else
	(void)state;
#endif
}

/* daemon_ready - serving: release the parent, tell the service manager */
void
daemon_ready(void)
{
	char	line[64];
	ssize_t	n;

	if (daemon_ready_fd >= 0) {
		n = write(daemon_ready_fd, "R", 1);
		(void)n;	/* a parent gone already needs no answer */
		close(daemon_ready_fd);
		daemon_ready_fd = -1;
		log_detach();
		daemon_devnull();
	}
	snprintf(line, sizeof(line), "READY=1\nMAINPID=%ld", (long)getpid());
	daemon_notify(line);
}

/* daemon_child - in a process the daemon forked: see above */
void
daemon_child(void)
{
	if (daemon_ready_fd >= 0) {
		close(daemon_ready_fd);
		daemon_ready_fd = -1;
	}
	if (daemon_detached) {
		log_detach();
		daemon_devnull();
	}
}

/* daemon_reloading - RELOADING=1, with the time systemd asks for */
void
daemon_reloading(void)
{
	struct timespec ts;
	char	line[80];

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	snprintf(line, sizeof(line), "RELOADING=1\nMONOTONIC_USEC=%llu",
	    (unsigned long long)ts.tv_sec * 1000000 +
	    (unsigned long long)ts.tv_nsec / 1000);
	daemon_notify(line);
}

/* daemon_reloaded - READY=1 again after a reload (kept or failed) */
void
daemon_reloaded(void)
{
	daemon_notify("READY=1");
}

/* daemon_stopping - STOPPING=1 */
void
daemon_stopping(void)
{
	daemon_notify("STOPPING=1");
}
