/*
 * NAME
 *	etrnctl - look at and manage held mail and dial-up domains
 * SYNOPSIS
 *	etrnctl [-hV] [--json] [-c config_file] command [argument ...]
 * DESCRIPTION
 *	See etrnctl(8).  main() reads top to bottom: the global options, the
 *	command from a table that also gives its argument counts (so usage
 *	errors are found before the configuration is read), openetrn.conf,
 *	the blocking Redis pool, the command, the output.  Commands are in
 *	ctl_queue.c (status, list, flush, release, expire), ctl_reconcile.c
 *	(reconcile) and ctl_domains.c (domains); the parts without Redis are
 *	in ctl_util.c.
 *
 *	Commands write their output into a buffer that is printed at the
 *	end, after the last Redis reply: a failure part-way through never
 *	leaves half a table or half a JSON document on stdout, only what
 *	the command reported as done.
 * DIAGNOSTICS
 *	Errors go to stderr and syslog as "etrnctl: error: ..."; when Redis
 *	cannot be reached the message names the server.  Exit status 0 when
 *	the command succeeded, 1 on an error, 2 on a usage error.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "etrnctl/ctl.h"
#include "util/log.h"
#include "util/rargs.h"

struct ctl_cmd {
	const char *name;
	int	min, max;	/* argument counts; max -1: no limit */
	int	(*run)(struct ctl *, int, char **);
	int	(*check)(int, char **);	/* more argument checks, or NULL */
};

static const struct ctl_cmd ctl_cmds[] = {
	{ "status", 0, -1, ctlq_status, NULL },
	{ "list", 1, 1, ctlq_list, NULL },
	{ "flush", 1, 1, ctlq_flush, NULL },
	{ "release", 1, -1, ctlq_release, NULL },
	{ "expire", 1, -1, ctlq_expire, NULL },
	{ "reconcile", 0, 1, ctlr_reconcile, ctlr_reconcile_args },
	{ "domains", 1, -1, ctld_domains, ctld_domains_args },
	{ NULL, 0, 0, NULL, NULL },
};

static const struct option ctl_opts[] = {
	{ "json", no_argument, NULL, 'j' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

/* ctl_usage - print usage and exit */
static void __attribute__((noreturn))
ctl_usage(int status)
{
	fprintf(status ? stderr : stdout,
	    "usage: etrnctl [-hV] [--json] [-c config_file] command "
	    "[argument ...]\n"
	    "commands:\n"
	    "  status [DOMAIN ...]        held mail per domain\n"
	    "  list DOMAIN                the held messages of a domain\n"
	    "  flush DOMAIN | @DOMAIN     queue a flush as ETRN would "
	    "(@: subdomains too)\n"
	    "  release ID ...             release messages of this host "
	    "now (root)\n"
	    "  expire ID ...              expire messages of this host at "
	    "the next queue run\n"
	    "  reconcile [--dry-run]      rebuild the index from the hold "
	    "queue (root)\n"
	    "  domains show [DOMAIN]      dial-up domains and their "
	    "settings\n"
	    "  domains add DOMAIN [KEY=VALUE ...]\n"
	    "  domains set DOMAIN KEY=VALUE ...\n"
	    "  domains del [--force] DOMAIN\n"
	    "keys: hold_time=TIME warn_time=TIME allow=CIDR,... "
	    "max_messages=N max_bytes=SIZE\n"
	    "      (KEY= with no value removes the key: the default "
	    "applies)\n"
	    "options:\n"
	    "  -c FILE  configuration (default %s)\n"
	    "  --json   machine-readable output (JSON)\n"
	    "  -h       this help\n"
	    "  -V       print the version\n"
	    "exit status: 0 done, 1 error, 2 usage\n", OE_DEFAULT_CONF);
	exit(status);
}

/* ctl_redis_error - report a failed Redis call, naming the server */
static void
ctl_redis_error(struct ctl *c, const struct rr_reply *r)
{
	if (r->status == RR_IO)
		log_err("cannot reach Redis at %s: %s", c->s.redis_server,
		    r->str ? r->str : "I/O error");
	else
		log_err("Redis at %s answered: %s", c->s.redis_server,
		    r->str ? r->str : "unexpected reply");
}

/* ctl_command - one command, its arguments in a; -1 reported */
int
ctl_command(struct ctl *c, const struct rargs *a, struct rr_reply *r)
{
	if (rpool_command(c->redis, a->n, a->v, a->l, r) == 0)
		return 0;
	ctl_redis_error(c, r);
	rr_reply_free(r);
	return -1;
}

/* ctl_redis - ctl_command with NULL-terminated C strings */
int
ctl_redis(struct ctl *c, struct rr_reply *r, const char *cmd, ...)
{
	struct rargs a = RARGS_INIT;
	const char *s;
	va_list	ap;
	int	rc;

	rargs_str(&a, cmd);
	va_start(ap, cmd);
	while ((s = va_arg(ap, const char *)) != NULL)
		rargs_str(&a, s);
	va_end(ap);
	rc = ctl_command(c, &a, r);
	rargs_free(&a);
	return rc;
}

/* ctl_script - run a Lua script, nkeys keys first in a; -1 reported */
int
ctl_script(struct ctl *c, struct rscript *sc, int nkeys,
    const struct rargs *a, struct rr_reply *r)
{
	if (rpool_script(c->redis, sc, nkeys, a->n, a->v, a->l, r) == 0)
		return 0;
	ctl_redis_error(c, r);
	rr_reply_free(r);
	return -1;
}

/* ctl_hr - the result rc of a holdrec call; -1 reported */
int
ctl_hr(struct ctl *c, int rc, struct rr_reply *r)
{
	if (rc == 0)
		return 0;
	ctl_redis_error(c, r);
	rr_reply_free(r);
	return -1;
}

/* ctl_ll - a number from Redis; 0 for NULL or junk */
long long
ctl_ll(const char *s)
{
	return s ? strtoll(s, NULL, 10) : 0;
}

/* ctl_find - the command named name, NULL if none */
static const struct ctl_cmd *
ctl_find(const char *name)
{
	const struct ctl_cmd *cmd;

	for (cmd = ctl_cmds; cmd->name; cmd++)
		if (strcmp(cmd->name, name) == 0)
			return cmd;
	return NULL;
}

/* ctl_strip_json - take "--json" out of the command's arguments */
static int
ctl_strip_json(struct ctl *c, int argc, char **argv)
{
	int	i, n;

	for (i = n = 0; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			c->json = 1;
		else
			argv[n++] = argv[i];
	}
	argv[n] = NULL;
	return n;
}

/* ctl_start - settings and the Redis pool; -1 reported */
static int
ctl_start(struct ctl *c, const char *path)
{
	struct buf err = BUF_INIT;

	if (settings_load(&c->s, path, &err) < 0) {
		log_err("%s", buf_terminate(&err));
		buf_free(&err);
		return -1;
	}
	log_set_facility(log_facility_lookup(c->s.log_facility));
	c->redis = rpool_new(c->s.redis_server, c->s.redis_password,
	    (int)c->s.redis_db, (int)c->s.redis_timeout, &c->s.redis_ha);
	if (c->redis == NULL) {
		log_err("bad redis_server \"%s\"", c->s.redis_server);
		return -1;
	}
	c->now = (long long)time(NULL);
	return 0;
}

/* ctl_flush_out - write the collected output; -1 on a write error */
static int
ctl_flush_out(struct ctl *c)
{
	if (c->out.len > 0)
		fwrite(c->out.s, 1, c->out.len, stdout);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		log_err("writing the output: %s", strerror(errno));
		return -1;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	const char *path = OE_DEFAULT_CONF;
	const struct ctl_cmd *cmd;
	struct ctl c;
	int	ch, rc, nargs;

	memset(&c, 0, sizeof(c));
	while ((ch = getopt_long(argc, argv, "+c:hV", ctl_opts, NULL)) != -1) {
		switch (ch) {
		case 'c': path = optarg; break;
		case 'h': ctl_usage(CTL_OK);
		case 'j': c.json = 1; break;
		case 'V': printf("etrnctl %s\n", PACKAGE_VERSION); exit(0);
		default: ctl_usage(CTL_USAGE);
		}
	}
	argc -= optind;
	argv += optind;
	if (argc == 0)
		ctl_usage(CTL_USAGE);
	argc = ctl_strip_json(&c, argc, argv);
	if ((cmd = ctl_find(argv[0])) == NULL) {
		fprintf(stderr, "etrnctl: unknown command \"%s\"\n", argv[0]);
		ctl_usage(CTL_USAGE);
	}
	nargs = argc - 1;
	if (nargs < cmd->min || (cmd->max >= 0 && nargs > cmd->max) ||
	    (cmd->check != NULL && cmd->check(nargs, argv + 1) < 0)) {
		fprintf(stderr, "etrnctl: wrong number of arguments for "
		    "%s\n", cmd->name);
		ctl_usage(CTL_USAGE);
	}
	log_init("etrnctl", LOG_MAIL, 1);
	if (ctl_start(&c, path) < 0)
		rc = CTL_ERR;
	else
		rc = cmd->run(&c, nargs, argv + 1);
	if (ctl_flush_out(&c) < 0 && rc == CTL_OK)
		rc = CTL_ERR;
	buf_free(&c.out);
	rpool_free(c.redis);
	settings_free(&c.s);
	return rc;
}
