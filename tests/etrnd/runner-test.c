/*
 * NAME
 *	runner-test - drive etrnd's queue runner from a test script
 * SUMMARY
 *	runner-test CONF flush DOMAIN [CLIENT]
 *	runner-test CONF track
 *	runner-test CONF pending
 *	runner-test CONF loop SECONDS
 * DESCRIPTION
 *	Loads CONF (openetrn.conf), runs runner_init() and then one
 *	runner_flush(), one runner_track(), one pending_sweep() (prints
 *	how many records it promoted or dropped), or runner_loop() for SECONDS
 *	(SIGALRM sets etrnd_stop; SIGTERM and SIGINT too).  Like etrnd's
 *	parent, loop mode sets etrnd_child_exited on SIGCHLD and calls
 *	runner_loop() again after each return: every MTA command the runner
 *	runs ends with a SIGCHLD.  Logs go to stderr, verbose when CONF says
 *	so.
 * DIAGNOSTICS
 *	Exit 0 when the call succeeded, 1 when it failed (Redis error,
 *	refused domain, runner_init failure), 2 for usage errors.
 */
#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "etrnd/etrnd.h"
#include "etrnd/runner.h"
#include "util/log.h"

volatile sig_atomic_t etrnd_stop;
volatile sig_atomic_t etrnd_reload;
volatile sig_atomic_t etrnd_child_exited;

/* on_signal - end runner_loop, or make it return (SIGCHLD) */
static void
on_signal(int sig)
{
	if (sig == SIGCHLD)
		etrnd_child_exited = 1;
	else
		etrnd_stop = 1;
}

/* loop - runner_loop until SIGALRM, re-entered like etrnd's main */
static int
loop(struct runner *r, int secs)
{
	struct sigaction sa;
	long	n = 0;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGCHLD, &sa, NULL);
	alarm((unsigned)secs);
	while (!etrnd_stop) {
		runner_loop(r);
		etrnd_child_exited = 0;
		n++;
	}
	log_info("loop: runner_loop called %ld times", n);
	return 0;
}

/* usage - print usage, exit 2 */
static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr, "usage: runner-test CONF flush DOMAIN [CLIENT]\n"
	    "       runner-test CONF track\n"
	    "       runner-test CONF pending\n"
	    "       runner-test CONF loop SECONDS\n");
	exit(2);
}

/* run - the chosen runner call; exit status */
static int
run(struct runner *r, int argc, char **argv)
{
	int	secs;

	if (strcmp(argv[2], "flush") == 0 && argc >= 4 && argc <= 5)
		return runner_flush(r, argv[3], argc == 5 ? argv[4] :
		    "127.0.0.1") == 0 ? 0 : 1;
	if (strcmp(argv[2], "track") == 0 && argc == 3)
		return runner_track(r) == 0 ? 0 : 1;
	if (strcmp(argv[2], "pending") == 0 && argc == 3) {
		if ((secs = pending_sweep(r)) < 0)
			return 1;
		printf("%d\n", secs);
		return 0;
	}
	if (strcmp(argv[2], "loop") == 0 && argc == 4 &&
	    (secs = atoi(argv[3])) > 0)
		return loop(r, secs);
	usage();
}

int
main(int argc, char **argv)
{
	struct oe_settings s;
	struct buf err = BUF_INIT;
	struct sigaction sa;
	struct runner r;
	int	rc;

	if (argc < 3)
		usage();
	log_init("runner-test", LOG_MAIL, 1);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (settings_load(&s, argv[1], &err) < 0) {
		fprintf(stderr, "runner-test: %s\n", buf_terminate(&err));
		buf_free(&err);
		return 2;
	}
	log_verbose = s.verbose;
	if (runner_init(&r, &s) < 0)
		rc = 1;
	else
		rc = run(&r, argc, argv);
	runner_free(&r);
	settings_free(&s);
	buf_free(&err);
	return rc;
}
