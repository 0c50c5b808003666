/* daemonopt.h - the command line and start-up steps of the daemons */
#ifndef OE_DAEMONOPT_H
#define OE_DAEMONOPT_H

struct daemon_opts {
	const char *conf;	/* -c FILE */
	int	fg;		/* -f: foreground (log.c: where to log) */
	int	test;		/* -t: check the configuration and exit */
	int	verbose;	/* -v */
};

struct passwd;

void	daemon_opts_parse(int, char **, const char *, const char *,
	    struct daemon_opts *);
struct passwd *daemon_user(const char *);
void	daemon_check_pid(const char *, const char *);
void	daemon_write_pid(const char *, const char *);
void	daemon_remove_pid(void);
void	daemon_drop_privileges(const struct passwd *);
void	daemon_detach(int);
void	daemon_ready(void);
void	daemon_child(void);
void	daemon_reloading(void);
void	daemon_reloaded(void);
void	daemon_stopping(void);

#endif
