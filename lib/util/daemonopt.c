/*
 * NAME
 *	daemonopt - parse "[-fhtvV] [-c config_file]" for a daemon
 * DESCRIPTION
 *	etrn-milter and etrnd take the same options; -h prints the usage
 *	and exits 0, -V the version, anything else unknown (or an extra
 *	argument) prints the usage and exits 2.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/daemonopt.h"

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
