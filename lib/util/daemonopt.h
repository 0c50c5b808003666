/* daemonopt.h - the command line every openetrn daemon takes */
#ifndef OE_DAEMONOPT_H
#define OE_DAEMONOPT_H

struct daemon_opts {
	const char *conf;	/* -c FILE */
	int	fg;		/* -f: foreground, log to stderr too */
	int	test;		/* -t: check the configuration and exit */
	int	verbose;	/* -v */
};

void	daemon_opts_parse(int, char **, const char *, const char *,
	    struct daemon_opts *);

#endif
