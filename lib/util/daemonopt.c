/*
 * NAME
 *	daemonopt - the daemons' command line and start-up steps
 * DESCRIPTION
 *	daemon_opts_parse: etrn-milter, etrnd and etrn-policy take the same
 *	options, "[-fhtvV] [-c config_file]"; -h prints the usage and exits
 *	0, -V the version, anything else unknown (or an extra argument)
 *	prints the usage and exits 2.
 *
 *	daemon_write_pid: the pid file named by a setting, if set, owned by
 *	the run-as user when there is one.  daemon_drop_privileges: become
 *	that user (groups, gid, uid) and check that root cannot come back.
 * DIAGNOSTICS
 *	Both are fatal on failure: a daemon must not run half set up.
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

/* daemon_write_pid - the pid file of setting, if path is set */
void
daemon_write_pid(const char *setting, const char *path,
    const struct passwd *pw)
{
	FILE	*fp;

	if (*path == '\0')
		return;
	if ((fp = fopen(path, "w")) == NULL)
		log_fatal("%s %s", setting, path);
	if (pw && fchown(fileno(fp), pw->pw_uid, pw->pw_gid) < 0)
		log_fatal("chown %s %s", setting, path);
	fprintf(fp, "%ld\n", (long)getpid());
	if (fclose(fp) != 0)
		log_fatal("%s %s", setting, path);
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
