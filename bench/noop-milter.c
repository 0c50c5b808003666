/*
 * noop-milter - the cheapest possible milter, for benchmarks.
 *
 * Usage: noop-milter SOCKETPATH
 *
 * Registers every callback, each of which only answers SMFIS_CONTINUE,
 * requests no actions, and listens on unix:SOCKETPATH (made mode 0666 so
 * that an unprivileged MTA can connect).  It runs in the foreground until
 * SIGTERM, SIGINT or SIGHUP, which libmilter handles.  bench/milter compares
 * etrn-milter with this to see what openetrn itself costs.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <libmilter/mfapi.h>

/* noop_connect - accept a connection */
static sfsistat
noop_connect(SMFICTX *ctx, char *host, _SOCK_ADDR *addr)
{
	(void)ctx;
	(void)host;
	(void)addr;
	return SMFIS_CONTINUE;
}

/* noop_helo - accept HELO/EHLO */
static sfsistat
noop_helo(SMFICTX *ctx, char *helo)
{
	(void)ctx;
	(void)helo;
	return SMFIS_CONTINUE;
}

/* noop_envfrom - accept MAIL FROM */
static sfsistat
noop_envfrom(SMFICTX *ctx, char **argv)
{
	(void)ctx;
	(void)argv;
	return SMFIS_CONTINUE;
}

/* noop_envrcpt - accept RCPT TO */
static sfsistat
noop_envrcpt(SMFICTX *ctx, char **argv)
{
	(void)ctx;
	(void)argv;
	return SMFIS_CONTINUE;
}

/* noop_data - accept DATA */
static sfsistat
noop_data(SMFICTX *ctx)
{
	(void)ctx;
	return SMFIS_CONTINUE;
}

/* noop_header - accept one header */
static sfsistat
noop_header(SMFICTX *ctx, char *name, char *value)
{
	(void)ctx;
	(void)name;
	(void)value;
	return SMFIS_CONTINUE;
}

/* noop_eoh - accept the end of the headers */
static sfsistat
noop_eoh(SMFICTX *ctx)
{
	(void)ctx;
	return SMFIS_CONTINUE;
}

/* noop_body - accept a body chunk */
static sfsistat
noop_body(SMFICTX *ctx, unsigned char *chunk, size_t len)
{
	(void)ctx;
	(void)chunk;
	(void)len;
	return SMFIS_CONTINUE;
}

/* noop_eom - accept the message */
static sfsistat
noop_eom(SMFICTX *ctx)
{
	(void)ctx;
	return SMFIS_CONTINUE;
}

/* noop_abort - nothing to undo on abort */
static sfsistat
noop_abort(SMFICTX *ctx)
{
	(void)ctx;
	return SMFIS_CONTINUE;
}

/* noop_close - nothing to free on close */
static sfsistat
noop_close(SMFICTX *ctx)
{
	(void)ctx;
	return SMFIS_CONTINUE;
}

/* noop_unknown - accept unknown commands (the MTA rejects them anyway) */
static sfsistat
noop_unknown(SMFICTX *ctx, const char *cmd)
{
	(void)ctx;
	(void)cmd;
	return SMFIS_CONTINUE;
}

static char filter_name[] = "noop-milter";

static struct smfiDesc filter = {
    .xxfi_name = filter_name,
    .xxfi_version = SMFI_VERSION,
    .xxfi_flags = 0,
    .xxfi_connect = noop_connect,
    .xxfi_helo = noop_helo,
    .xxfi_envfrom = noop_envfrom,
    .xxfi_envrcpt = noop_envrcpt,
    .xxfi_header = noop_header,
    .xxfi_eoh = noop_eoh,
    .xxfi_body = noop_body,
    .xxfi_eom = noop_eom,
    .xxfi_abort = noop_abort,
    .xxfi_close = noop_close,
    .xxfi_unknown = noop_unknown,
    .xxfi_data = noop_data,
    .xxfi_negotiate = NULL,
};

int
main(int argc, char **argv)
{
	static char conn[4096];
	int n;

	if (argc != 2 || argv[1][0] == '\0') {
		fprintf(stderr, "usage: noop-milter SOCKETPATH\n");
		return 2;
	}
	n = snprintf(conn, sizeof(conn), "unix:%s", argv[1]);
	if (n < 0 || (size_t)n >= sizeof(conn)) {
		fprintf(stderr, "noop-milter: socket path too long\n");
		return 2;
	}
	if (smfi_setconn(conn) != MI_SUCCESS ||
	    smfi_setbacklog(128) != MI_SUCCESS) {
		fprintf(stderr, "noop-milter: bad socket %s\n", conn);
		return 1;
	}
	if (smfi_register(filter) != MI_SUCCESS) {
		fprintf(stderr, "noop-milter: smfi_register failed\n");
		return 1;
	}
	/* true: remove a stale socket left by an earlier run. */
	if (smfi_opensocket(1) != MI_SUCCESS) {
		fprintf(stderr, "noop-milter: cannot listen on %s\n", conn);
		return 1;
	}
	if (chmod(argv[1], 0666) != 0) {
		fprintf(stderr, "noop-milter: chmod %s: %s\n", argv[1],
		        strerror(errno));
		return 1;
	}
	fprintf(stderr, "noop-milter: listening on %s\n", conn);
	return smfi_main() == MI_SUCCESS ? 0 : 1;
}
