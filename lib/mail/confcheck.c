/*
 * NAME
 *	confcheck - the daemons' -t: does this host fit the configuration
 * SUMMARY
 *	status = confcheck_run(&settings, path, CONFCHECK_MILTER);
 *	confcheck_sendmail_host(&settings, &why);
 *	confcheck_reinject(&settings);
 * DESCRIPTION
 *	settings_load() proves that the file parses and that every value is
 *	in bounds; what it cannot see is the host the daemon is about to
 *	start on.  confcheck_run() looks for the mistakes that otherwise
 *	show only when a daemon starts (or, detached, only in syslog), for
 *	the daemon named, and the way that daemon does at start:
 *
 *	user: must exist, and be able to read the configuration file (the
 *	daemons read it again as that user); empty only when not started
 *	as root.
 *	Unix sockets (milter_socket; policy_listen) and pid files: the
 *	directory must exist and, for root, be root's and writable by root
 *	alone (safepath_resolve(), the rule the daemons enforce); a
 *	non-empty socket group (milter_socket_group, policy_socket_group)
 *	must exist.
 *	hold_secret_file (etrn-milter, etrnd): loaded as the daemon loads it.
 *	etrn-milter: reinject_server asked as confcheck_reinject() does.
 *	etrnd with mta = postfix: the Postfix commands it runs are
 *	executable files in postfix_command_directory (sendmail too when
 *	dsn_server is empty); with mta = sendmail: sendmail_command, and a
 *	readable sendmail_config_file when one is set.
 *
 *	Every problem is reported, not only the first, each naming the
 *	setting, its value and the FILE:LINE that set it (conf_origin), or
 *	"(default)".  A check that root alone can make (the ownership rule,
 *	reading root's key) is reported as not made when not run as root,
 *	rather than failed: the daemon makes it again when it starts.
 *
 *	confcheck_sendmail_host: Sendmail looks up its host's canonical name
 *	at every start, and waits about 60 s for it when the name has no
 *	dot; every command etrnd runs (mta = sendmail) would then use up its
 *	time limit.  etrnd warns at start-up, and -t says so too.
 *
 *	confcheck_reinject: a split copy is never downgraded (see
 *	milter/reinject.c), so a copy that uses an extension reinject_server
 *	does not announce in its EHLO reply (DSN, 8BITMIME, SMTPUTF8) is not
 *	sent and the original is tempfailed.  This asks the server's EHLO
 *	once and warns, per missing extension, which splits will be
 *	tempfailed: etrn-milter at start and after SIGUSR1 (reinject_probe),
 *	and etrn-milter -t.  Warnings, not problems: the server may not be
 *	running yet, and a split without those parameters still works.
 * DIAGNOSTICS
 *	confcheck_run: lines on stderr through log_err() (problems) and
 *	log_info() (notes, "note: "), then "FILE: configuration OK" on
 *	stdout and 0, or "FILE: N problem(s)" and 1.  Warnings (log_warnx)
 *	do not change the status.
 *	confcheck_reinject: 0 with a warning per missing extension, -1 with
 *	a warning when the server could not be asked.
 */
#include "config.h"

#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mail/confcheck.h"
#include "mail/holdtag.h"
#include "util/conf.h"
#include "util/log.h"
#include "util/net.h"
#include "util/safepath.h"
#include "util/smtpc.h"
#include "util/xalloc.h"

#define CC_PROBE_TIMEOUT	5	/* s, at most, for confcheck_reinject */

struct cc {
	const char *path;	/* the configuration file */
	int	problems;
	int	root;		/* geteuid() == 0 */
	int	noted_root;	/* "not run as root" said once */
};

/* cc_fail - one problem with setting = value, where it was set */
static void __attribute__((format(printf, 4, 5)))
cc_fail(struct cc *cc, const char *setting, const char *value,
    const char *fmt, ...)
{
	struct buf why = BUF_INIT;
	va_list	ap;
	int	line = conf_origin(cc->path, setting);
	char	num[16];

	va_start(ap, fmt);
	buf_vprintf(&why, fmt, ap);
	va_end(ap);
	snprintf(num, sizeof(num), "%d", line);
	log_err("%s%s%s: %s = %s%s: %s", cc->path, line ? ":" : "",
	    line ? num : "", setting, value, line ? "" : " (default)",
	    buf_terminate(&why));
	buf_free(&why);
	cc->problems++;
}

/* cc_not_root - say once which checks need root */
static void
cc_not_root(struct cc *cc)
{
	if (cc->noted_root++)
		return;
	log_info("note: not run as root: the ownership of socket and pid "
	    "file directories (root's, writable by root alone) and reading "
	    "hold_secret_file as root are not checked; the daemon checks "
	    "them when started as root");
}

/*
 * cc_readable_as - the daemon reads the file again as `user` (a reload,
 * etrnd's listener, etrn-policy after dropping privileges): try it so
 */
static void
cc_readable_as(struct cc *cc, const struct passwd *pw)
{
	pid_t	pid;
	int	st;

	if ((pid = fork()) < 0)
		return;
	if (pid == 0) {
		if (initgroups(pw->pw_name, pw->pw_gid) < 0 ||
		    setgid(pw->pw_gid) < 0 || setuid(pw->pw_uid) < 0)
			_exit(2);
		_exit(open(cc->path, O_RDONLY) < 0 ? 1 : 0);
	}
	if (waitpid(pid, &st, 0) == pid && WIFEXITED(st) &&
	    WEXITSTATUS(st) == 1)
		cc_fail(cc, "user", pw->pw_name, "cannot read %s, as the "
		    "daemon must to reload it (make it readable by that user "
		    "or its group)", cc->path);
}

/* cc_user - the account of `user`, as daemon_user() will want it */
static void
cc_user(struct cc *cc, const struct oe_settings *s)
{
	struct passwd *pw;

	if (*s->user == '\0') {
		if (cc->root)
			cc_fail(cc, "user", "", "empty: set user = openetrn "
			    "(or user = root to run as root on purpose)");
		return;
	}
	if ((pw = getpwnam(s->user)) == NULL)
		cc_fail(cc, "user", s->user, "no such user: create it "
		    "(useradd --system --shell /usr/sbin/nologin %s) or set "
		    "user", s->user);
	else if (cc->root && pw->pw_uid != 0)
		cc_readable_as(cc, pw);
	else if (!cc->root && pw->pw_uid != geteuid())
		log_info("note: not run as root: the daemon must be started "
		    "as root to become user %s", s->user);
}

/* cc_dir_of - the directory a file path will be created in */
static void
cc_dir_of(const char *path, struct buf *dir)
{
	const char *slash = strrchr(path, '/');

	buf_reset(dir);
	if (slash == path)
		buf_addch(dir, '/');
	else if (slash != NULL)
		buf_add(dir, path, (size_t)(slash - path));
	buf_terminate(dir);
}

/* cc_file_dir - a socket or pid file root creates: its directory */
static void
cc_file_dir(struct cc *cc, const char *setting, const char *value,
    const char *file)
{
	struct buf dir = BUF_INIT, real = BUF_INIT, err = BUF_INIT;
	struct stat st;

	cc_dir_of(file, &dir);
	if (stat(dir.s, &st) < 0)
		cc_fail(cc, setting, value, "directory %s: %s%s", dir.s,
		    strerror(errno), errno == ENOENT ? " (create it, owned "
		    "by root and writable by root alone)" : "");
	else if (!S_ISDIR(st.st_mode))
		cc_fail(cc, setting, value, "%s is not a directory", dir.s);
	else if (!cc->root)
		cc_not_root(cc);
	else if (safepath_resolve(file, &real, &err) < 0)
		cc_fail(cc, setting, value, "%s", buf_terminate(&err));
	buf_free(&dir);
	buf_free(&real);
	buf_free(&err);
}

/* cc_group - a socket group that must exist when set */
static void
cc_group(struct cc *cc, const char *setting, const char *group)
{
	if (*group != '\0' && getgrnam(group) == NULL)
		cc_fail(cc, setting, group, "no such group (leave it empty "
		    "for the group of the socket's directory)");
}

/* cc_sockets - the unix sockets of a list of addresses */
static int
cc_sockets(struct cc *cc, const char *setting, const char *list)
{
	char	*copy = xstrdup(list), *p, *save = NULL;
	struct net_addr na;
	int	n = 0;

	for (p = strtok_r(copy, ", \t", &save); p != NULL;
	    p = strtok_r(NULL, ", \t", &save))
		if (net_parse(p, &na) == 0 && na.kind == NET_UNIX) {
			cc_file_dir(cc, setting, list, na.path);
			n++;
		}
	free(copy);
	return n;
}

/* cc_pid_file - a pid file's directory, when one is set */
static void
cc_pid_file(struct cc *cc, const char *setting, const char *path)
{
	if (*path != '\0')
		cc_file_dir(cc, setting, path, path);
}

/* cc_secret - hold_secret_file, loaded as the daemon loads it */
static void
cc_secret(struct cc *cc, const struct oe_settings *s)
{
	struct buf err = BUF_INIT;

	if (holdtag_key_load(s->hold_secret_file, &err) < 0) {
		if (cc->root)
			cc_fail(cc, "hold_secret_file", s->hold_secret_file,
			    "%s", buf_terminate(&err));
		else {
			cc_not_root(cc);
			log_info("note: hold_secret_file: %s (the daemon "
			    "reads it as root)", buf_terminate(&err));
		}
	}
	buf_free(&err);
}

/* cc_exec - an executable file */
static void
cc_exec(struct cc *cc, const char *setting, const char *value,
    const char *file)
{
	struct stat st;

	if (stat(file, &st) < 0)
		cc_fail(cc, setting, value, "%s: %s", file, strerror(errno));
	else if (!S_ISREG(st.st_mode) || access(file, X_OK) < 0)
		cc_fail(cc, setting, value, "%s is not an executable file",
		    file);
}

/* cc_mta - the MTA commands etrnd runs */
static void
cc_mta(struct cc *cc, const struct oe_settings *s)
{
	/* Every program the postfix backend execs (qb_postfix.c). */
	static const char *const pf_cmds[] = { "postsuper", "postqueue",
		"postcat", "postconf", "postkick", NULL };
	const char *dir = s->postfix_command_directory;
	struct buf file = BUF_INIT;
	int	i;

	if (strcmp(s->mta, "postfix") == 0) {
		for (i = 0; pf_cmds[i] != NULL; i++) {
			buf_reset(&file);
			buf_printf(&file, "%s/%s", dir, pf_cmds[i]);
			cc_exec(cc, "postfix_command_directory", dir, file.s);
		}
		if (*s->dsn_server == '\0') {	/* DSNs through sendmail(1) */
			buf_reset(&file);
			buf_printf(&file, "%s/sendmail", dir);
			cc_exec(cc, "postfix_command_directory", dir, file.s);
		}
	} else if (strcmp(s->mta, "sendmail") == 0) {
		cc_exec(cc, "sendmail_command", s->sendmail_command,
		    s->sendmail_command);
		if (*s->sendmail_config_file != '\0' &&
		    access(s->sendmail_config_file, R_OK) < 0)
			cc_fail(cc, "sendmail_config_file",
			    s->sendmail_config_file, "%s", strerror(errno));
	}
	buf_free(&file);
}

/* confcheck_sendmail_host - -1 with why when Sendmail would wait */
int
confcheck_sendmail_host(const struct oe_settings *s, struct buf *why)
{
	char	name[256];

	if (strcmp(s->mta, "sendmail") != 0)
		return 0;
	if (gethostname(name, sizeof(name)) < 0)
		return 0;
	name[sizeof(name) - 1] = '\0';
	if (strchr(name, '.') != NULL)
		return 0;
	buf_printf(why, "the host name \"%s\" has no dot: Sendmail waits "
	    "about 60 s for its canonical name at every start, so each "
	    "sendmail command etrnd runs (mta = sendmail) uses up its time "
	    "limit; give the host a fully qualified name (docs/sendmail.md)",
	    name);
	return -1;
}

/* confcheck_reinject - warn which splits reinject_server would refuse */
int
confcheck_reinject(const struct oe_settings *s)
{
	struct smtpc c;
	struct buf err = BUF_INIT;
	long long t = s->reinject_timeout < CC_PROBE_TIMEOUT ?
	    s->reinject_timeout : CC_PROBE_TIMEOUT;

	if (smtpc_open(&c, s->reinject_server, (int)t * 1000,
	    "re-injection server", s->hostname, &err) < 0) {
		log_warnx("reinject_server %s could not be probed: %s",
		    s->reinject_server, buf_terminate(&err));
		buf_free(&err);
		return -1;
	}
	(void)smtpc_cmd(&c, 2, "QUIT");
	if (!c.dsn)
		log_warnx("reinject_server %s does not offer DSN: a split of "
		    "a message with NOTIFY, ORCPT, RET or ENVID will be "
		    "tempfailed", s->reinject_server);
	if (!c.eightbit)
		log_warnx("reinject_server %s does not offer 8BITMIME: a "
		    "split of a BODY=8BITMIME message will be tempfailed",
		    s->reinject_server);
	if (!c.smtputf8)
		log_warnx("reinject_server %s does not offer SMTPUTF8: a "
		    "split of an SMTPUTF8 message will be tempfailed",
		    s->reinject_server);
	if (c.dsn && c.eightbit && c.smtputf8)
		log_info("reinject_server %s offers DSN, 8BITMIME and "
		    "SMTPUTF8", s->reinject_server);
	smtpc_close(&c);
	buf_free(&err);
	return 0;
}

/* confcheck_run - the checks of one daemon; the exit status of -t */
int
confcheck_run(const struct oe_settings *s, const char *path, int daemon)
{
	struct cc cc = { path, 0, geteuid() == 0, 0 };
	struct buf why = BUF_INIT;
	struct net_addr na;

	cc_user(&cc, s);
	switch (daemon) {
	case CONFCHECK_MILTER:
		if (net_parse(s->milter_socket, &na) == 0 &&
		    na.kind == NET_UNIX) {
			cc_file_dir(&cc, "milter_socket", s->milter_socket,
			    na.path);
			cc_group(&cc, "milter_socket_group",
			    s->milter_socket_group);
		}
		cc_pid_file(&cc, "milter_pid_file", s->milter_pid_file);
		cc_secret(&cc, s);
		(void)confcheck_reinject(s);
		break;
	case CONFCHECK_ETRND:
		cc_pid_file(&cc, "etrnd_pid_file", s->etrnd_pid_file);
		cc_secret(&cc, s);
		cc_mta(&cc, s);
		if (confcheck_sendmail_host(s, &why) < 0)
			log_warnx("%s", buf_terminate(&why));
		break;
	case CONFCHECK_POLICY:
		if (cc_sockets(&cc, "policy_listen", s->policy_listen) > 0)
			cc_group(&cc, "policy_socket_group",
			    s->policy_socket_group);
		cc_pid_file(&cc, "policy_pid_file", s->policy_pid_file);
		break;
	}
	buf_free(&why);
	if (cc.problems > 0) {
		log_err("%s: %d problem%s found", path, cc.problems,
		    cc.problems == 1 ? "" : "s");
		return 1;
	}
	printf("%s: configuration OK\n", path);
	return 0;
}
