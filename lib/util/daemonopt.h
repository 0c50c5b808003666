/* daemonopt.h - the command line and start-up steps of the daemons */
#ifndef OE_DAEMONOPT_H
#define OE_DAEMONOPT_H

struct daemon_opts {
	const char *conf;	/* -c FILE */
	int	fg;		/* -f: foreground, log to stderr too */
	int	test;		/* -t: check the configuration and exit */
	int	verbose;	/* -v */
};

struct passwd;

void	daemon_opts_parse(int, char **, const char *, const char *,
	    struct daemon_opts *);
struct passwd *daemon_user(const char *);
void	daemon_check_pid(const char *, const char *);
void	daemon_write_pid(const char *, const char *);
void	daemon_drop_privileges(const struct passwd *);

#endif
