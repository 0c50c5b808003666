/*
 * NAME
 *	etrn-policy - Postfix policy server: ETRN authorization and flush,
 *	held-mail quotas
 * SYNOPSIS
 *	etrn-policy [-fhtvV] [-c config_file]
 * DESCRIPTION
 *	See etrn-policy(8) and docs/etrn-policy.md.  main() reads top to
 *	bottom: arguments, the configuration, the listening socket
 *	(policy_listen, opened as root; a unix socket is given to `user`
 *	and policy_socket_group with policy_socket_mode), the pid file,
 *	privileges dropped to `user`, the configuration read again as that
 *	user, then the event loop (server.c) until SIGTERM/SIGINT.
 * SECURITY
 *	Runs as `user` after opening its socket; needs no root afterwards
 *	and no access to the mail queue: a flush request goes to Redis,
 *	where etrnd's queue runner validates it again.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <grp.h>
#include <netdb.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "policy/policyd.h"
#include "util/daemonopt.h"
#include "util/log.h"
#include "util/net.h"
#include "util/xalloc.h"

/* open_inet - a listening TCP socket on the first address of host:port */
static int
open_inet(const struct net_addr *na, const char *spec)
{
	struct addrinfo hints, *res;
	int	fd, on = 1;

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	if (getaddrinfo(na->host, na->port, &hints, &res) != 0)
		log_fatalx("policy_listen: cannot resolve \"%s\"", spec);
	fd = socket(res->ai_family, res->ai_socktype | SOCK_CLOEXEC, 0);
	if (fd < 0)
		log_fatal("policy_listen: socket");
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
	if (bind(fd, res->ai_addr, res->ai_addrlen) < 0 ||
	    listen(fd, 1024) < 0)
		log_fatal("policy_listen: cannot listen on %s", spec);
	freeaddrinfo(res);
	return fd;
}

/*
 * open_unix - a listening unix socket, owned by the run-as user and
 * policy_socket_group.  A stale socket is removed; one that accepts a
 * connection belongs to a running server and is left alone.
 */
static int
open_unix(const struct net_addr *na, const struct oe_settings *s,
    const struct passwd *pw)
{
	struct sockaddr_un sun;
	struct group *gr = NULL;
	struct stat st;
	mode_t	old;
	int	fd, probe;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(na->path) >= sizeof(sun.sun_path))
		log_fatalx("policy_listen: path too long: %s", na->path);
	memcpy(sun.sun_path, na->path, strlen(na->path) + 1);
	if (*s->policy_socket_group &&
	    (gr = getgrnam(s->policy_socket_group)) == NULL)
		log_fatalx("policy_socket_group \"%s\" does not exist",
		    s->policy_socket_group);
	if (lstat(na->path, &st) == 0 && S_ISSOCK(st.st_mode)) {
		if ((probe = socket(AF_UNIX, SOCK_STREAM, 0)) >= 0 &&
		    connect(probe, (struct sockaddr *)&sun, sizeof(sun)) == 0)
			log_fatalx("policy_listen: %s is in use", na->path);
		if (probe >= 0)
			close(probe);
		(void)unlink(na->path);
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		log_fatal("policy_listen: socket");
	old = umask(0177);
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0)
		log_fatal("policy_listen: cannot bind %s", na->path);
	umask(old);
	if ((pw || gr) && chown(na->path, pw ? pw->pw_uid : (uid_t)-1,
	    gr ? gr->gr_gid : (gid_t)-1) < 0)
		log_fatal("chown %s", na->path);
	if (chmod(na->path, (mode_t)s->policy_socket_mode) < 0)
		log_fatal("chmod %s", na->path);
	if (listen(fd, 1024) < 0)
		log_fatal("policy_listen: listen %s", na->path);
	return fd;
}

/* remove_file - unlink at exit; a warning if that fails */
static void
remove_file(const char *what, const char *path)
{
	if (*path && unlink(path) < 0 && errno != ENOENT)
		log_warn("cannot remove %s %s", what, path);
}

int
main(int argc, char **argv)
{
	struct daemon_opts o;
	struct oe_settings *s = xcalloc(1, sizeof(*s));
	struct passwd *pw = NULL;
	struct buf err = BUF_INIT;
	struct net_addr na;
	char	*pid_file, *sock_path = NULL;
	int	fd, rc;

	daemon_opts_parse(argc, argv, "etrn-policy", OE_DEFAULT_CONF, &o);
	log_init(argv[0], LOG_MAIL, o.fg || o.test);
	if (settings_load(s, o.conf, &err) < 0)
		log_fatalx("%s", buf_terminate(&err));
	log_set_facility(log_facility_lookup(s->log_facility));
	log_verbose = s->verbose || o.verbose;
	if (o.test) {
		printf("%s: configuration OK\n", o.conf);
		exit(0);
	}
	if (*s->user && (pw = getpwnam(s->user)) == NULL)
		log_fatalx("user \"%s\" does not exist", s->user);
	if (net_parse(s->policy_listen, &na) < 0)
		log_fatalx("bad policy_listen \"%s\"", s->policy_listen);
	if (na.kind == NET_UNIX) {
		fd = open_unix(&na, s, pw);
		sock_path = xstrdup(na.path);
	} else
		fd = open_inet(&na, s->policy_listen);
	if (!o.fg && daemon(0, 0) < 0)
		log_fatal("daemon");
	daemon_write_pid("policy_pid_file", s->policy_pid_file, pw);
	pid_file = xstrdup(s->policy_pid_file);
	daemon_drop_privileges(pw);
	settings_free(s);	/* again as the user: is it readable? */
	if (settings_load(s, o.conf, &err) < 0)
		log_fatalx("%s", buf_terminate(&err));
	log_verbose = s->verbose || o.verbose;
	log_info("starting: listen=%s user=%s", s->policy_listen,
	    pw ? pw->pw_name : "(unchanged)");
	rc = policyd_run(s, o.conf, fd);	/* frees s */
	if (sock_path != NULL)
		remove_file("socket", sock_path);
	remove_file("policy_pid_file", pid_file);
	free(sock_path);
	free(pid_file);
	buf_free(&err);
	return rc;
}
