/*
 * NAME
 *	etrn-policy - Postfix policy server: ETRN authorization and flush,
 *	held-mail quotas
 * SYNOPSIS
 *	etrn-policy [-fhtvV] [-c config_file]
 * DESCRIPTION
 *	See etrn-policy(8) and docs/etrn-policy.md.  main() reads top to
 *	bottom: arguments, the configuration, the listening sockets
 *	(every address of policy_listen, opened as root; a unix socket is
 *	given to `user` and policy_socket_group with policy_socket_mode),
 *	the pid file,
 *	privileges dropped to `user`, the configuration read again as that
 *	user, then the event loop (server.c) until SIGTERM/SIGINT.  Without
 *	-f it forks before the sockets (daemon_detach): the command exits 0
 *	only once the server is ready, else with its status and the error
 *	on stderr.
 * SECURITY
 *	Runs as `user` after opening its socket; needs no root afterwards
 *	and no access to the mail queue: a flush request goes to Redis,
 *	where etrnd's queue runner validates it again.  Started as root it
 *	refuses an empty `user` (`user = root` keeps root on purpose).  Its
 *	unix sockets and pid file are created by root only in directories
 *	root alone can write (net.c, safepath.c) and the pid file stays
 *	root's: running as `user`, it leaves both behind at exit, and the
 *	next start replaces them.  At exit it removes only the sockets and
 *	pid file it made, never a successor's.
 */
#include "config.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "mail/confcheck.h"
#include "policy/policyd.h"
#include "util/daemonopt.h"
#include "util/log.h"
#include "util/net.h"
#include "util/xalloc.h"

/*
 * open_all - every address of policy_listen, as root; a unix socket is
 * given to the run-as user and policy_socket_group
 */
static int
open_all(const struct oe_settings *s, const struct passwd *pw, int *fds)
{
	struct net_listen_opts o;
	struct group *gr = NULL;
	struct buf err = BUF_INIT;
	int	n;

	if (*s->policy_socket_group &&
	    (gr = getgrnam(s->policy_socket_group)) == NULL)
		log_fatalx("policy_socket_group \"%s\" does not exist",
		    s->policy_socket_group);
	o.uid = pw ? pw->pw_uid : (uid_t)-1;
	o.gid = gr ? gr->gr_gid : (gid_t)-1;
	o.mode = (mode_t)s->policy_socket_mode;
	if ((n = net_listen(s->policy_listen, &o, fds, NET_LISTEN_MAX,
	    &err)) < 0)
		log_fatalx("policy_listen: %s", buf_terminate(&err));
	buf_free(&err);
	return n;
}

int
main(int argc, char **argv)
{
	struct daemon_opts o;
	struct oe_settings *s = xcalloc(1, sizeof(*s));
	struct passwd *pw = NULL;
	struct buf err = BUF_INIT;
	int	fds[NET_LISTEN_MAX], nfds, rc;

	daemon_opts_parse(argc, argv, "etrn-policy", OE_DEFAULT_CONF, &o);
	log_init(argv[0], LOG_MAIL, o.fg || o.test);
	if (settings_load(s, o.conf, &err) < 0)
		log_fatalx("%s", buf_terminate(&err));
	log_set_facility(log_facility_lookup(s->log_facility));
	log_set_target(s->log_target);
	log_verbose = s->verbose || o.verbose;
	if (o.test)
		exit(confcheck_run(s, o.conf, CONFCHECK_POLICY));
	pw = daemon_user(s->user);
	daemon_check_pid("policy_pid_file", s->policy_pid_file);
	/* Until daemon_ready (server.c) a failure is this command's status. */
	daemon_detach(o.fg);
	nfds = open_all(s, pw, fds);
	daemon_write_pid("policy_pid_file", s->policy_pid_file);
	daemon_drop_privileges(pw);
	settings_free(s);	/* again as the user: is it readable? */
	if (settings_load(s, o.conf, &err) < 0)
		log_fatalx("%s", buf_terminate(&err));
	log_verbose = s->verbose || o.verbose;
	log_info("starting: listen=%s user=%s", s->policy_listen,
	    *s->user ? s->user : "(unchanged)");
	rc = policyd_run(s, o.conf, fds, nfds);	/* frees s */
	/* Only what this process made, if still there (a successor's not). */
	net_unix_remove();
	daemon_remove_pid();
	buf_free(&err);
	return rc;
}
