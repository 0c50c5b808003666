/*
 * NAME
 *	daemonopt - the daemons' command line and start-up steps
 * DESCRIPTION
 *	daemon_opts_parse: etrn-milter, etrnd and etrn-policy take the same
 *	options, "[-fhtvV] [-c config_file]"; -h prints the usage and exits
 *	0, -V the version, anything else unknown (or an extra argument)
 *	prints the usage and exits 2.
 *
 *	daemon_user: the account of the `user` setting.  Root must name
 *	one: an empty `user` is an error, `user = root` runs as root on
 *	purpose; a daemon not started as root can only stay what it is.
 *	daemon_check_pid: the same checks as daemon_write_pid, run before
 *	the daemon detaches, so that a refusal is the command's status.
 *	daemon_write_pid: the pid file named by a setting, if set, written
 *	by safepath_write (a new file renamed into a root-only directory,
 *	never through a link, never given to `user`).
 *	daemon_drop_privileges: become that user (groups, gid, uid) and
 *	check that root cannot come back.
 * DIAGNOSTICS
 *	All are fatal on failure: a daemon must not run half set up.
 * SECURITY
 *	Root never writes a pid file through a path `user` controls: the
 *	daemons that drop privileges cannot remove theirs at exit (it is
 *	root's, in root's directory); the next start replaces it.
 */
#include "config.h"

#include <sys/types.h>

#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/daemonopt.h"
#include "util/log.h"
#include "util/safepath.h"

/* daemon_usage - print usage and exit */
static void __attribute__((noreturn))
daemon_usage(const char *prog, const char *conf, int status)
{
	fprintf(status ? stderr : stdout,
	    "usage: %s [-fhtvV] [-c config_file]\n"
	    "  -c FILE  configuration (default %s)\n"
	    "  -f       stay in the foreground, log to stderr too\n"
	    "  -t       check the configuration and exit\n"
	    "  -v       verbose logging\n"
	    "  -V       print the version\n", prog, conf);
	exit(status);
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
	char	line[32];
	int	n;

	/* The pid file stays root's: it is never handed to `user`. */
	if (*path == '\0')
		return;
	n = snprintf(line, sizeof(line), "%ld\n", (long)getpid());
	if (safepath_write(path, line, (size_t)n, 0644, &err) < 0)
		log_fatalx("%s: %s", setting, buf_terminate(&err));
	buf_free(&err);
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
