/*
 * NAME
 *	callbacks - libmilter callbacks: thin adapters
 * DESCRIPTION
 *	Each mlfi_* callback gets its connection state (NULL-safe), hands
 *	the arguments to record.c / hold.c and maps the outcome to an
 *	sfsistat.  Per-message state is reset at MAIL, at end of message and
 *	on abort; the connection state is freed in close, which may be the
 *	only callback libmilter makes.
 */
#include "config.h"

#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <libmilter/mfapi.h>

#include "mail/holdtag.h"
#include "mail/replies.h"
#include "milter/hold.h"
#include "milter/milter.h"
#include "util/log.h"
#include "util/xalloc.h"

#define CONN(ctx) ((struct conn *)smfi_getpriv(ctx))

/* conn_addr - printable client address */
static char *
conn_addr(const _SOCK_ADDR *sa)
{
	char	text[INET6_ADDRSTRLEN];
	const void *a = NULL;

	if (sa != NULL && sa->sa_family == AF_INET)
		a = &((const struct sockaddr_in *)(const void *)sa)->sin_addr;
	else if (sa != NULL && sa->sa_family == AF_INET6)
		a = &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;
	if (a == NULL || inet_ntop(sa->sa_family, a, text, sizeof(text)) ==
	    NULL)
		return xstrdup("unknown");
	return xstrdup(text);
}

/* mlfi_connect - allocate the connection state */
static sfsistat
mlfi_connect(SMFICTX *ctx, char *hostname, _SOCK_ADDR *sa)
{
	struct conn *cn = xcalloc(1, sizeof(*cn));
	struct buf b = BUF_INIT;
	const char *daemon;

	cn->cfg = cfg_acquire();
	cn->client_addr = conn_addr(sa);
	/* etrnd's DSN port: every message is held, none is recorded. */
	daemon = smfi_getsymval(ctx, (char *)"{daemon_name}");
	cn->dsn = *cn->cfg->s.dsn_daemon_name != '\0' && daemon != NULL &&
	    strcmp(daemon, cn->cfg->s.dsn_daemon_name) == 0;
	buf_printf(&b, "%s[%s]", hostname ? hostname : "unknown",
	    cn->client_addr);
	cn->client = buf_steal(&b);
	if (smfi_setpriv(ctx, cn) != MI_SUCCESS) {
		cfg_release(cn->cfg);
		free(cn->client_addr);
		free(cn->client);
		free(cn);
		return SMFIS_TEMPFAIL;
	}
	return SMFIS_CONTINUE;
}

/* mlfi_envfrom - new message: sender and its DSN parameters */
static sfsistat
mlfi_envfrom(SMFICTX *ctx, char **argv)
{
	struct conn *cn = CONN(ctx);
	struct buf why = BUF_INIT;

	if (cn == NULL || argv == NULL || argv[0] == NULL)
		return SMFIS_TEMPFAIL;
	if (record_set_sender(&cn->msg, argv[0], argv + 1, &why) < 0) {
		log_warnx("NOQUEUE: reject: MAIL from %s: %s", cn->client,
		    buf_terminate(&why));
		buf_free(&why);
		return hold_reply(ctx, R_BAD_SENDER);
	}
	return SMFIS_CONTINUE;
}

/* conn_classify - mark the newest recipient dial-up or not */
static sfsistat
conn_classify(SMFICTX *ctx, struct conn *cn)
{
	struct msg *m = &cn->msg;
	struct rcpt *r = &m->rcpt[m->nrcpt - 1];

	if (r->domain == NULL)
		return SMFIS_CONTINUE;
	switch (domcache_lookup(r->domain, &r->hold_time, &r->warn_time)) {
	case DC_YES:
		r->dialup = 1;
		return SMFIS_CONTINUE;
	case DC_NO:
		return SMFIS_CONTINUE;
	default:
		break;
	}
	if (cn->cfg->s.on_redis_error == ON_ERROR_ACCEPT)
		return SMFIS_CONTINUE;
	log_warnx("NOQUEUE: tempfail: RCPT <%s> from %s: dial-up domains not "
	    "loaded yet (Redis unreachable)", r->addr, cn->client);
	m->nrcpt--;
	free(r->arg);
	free(r->addr);
	free(r->domain);
	free(r->notify);
	free(r->orcpt);
	return hold_reply(ctx, R_LOOKUP_TEMPFAIL);
}

/* mlfi_envrcpt - one recipient */
static sfsistat
mlfi_envrcpt(SMFICTX *ctx, char **argv)
{
	struct conn *cn = CONN(ctx);
	struct buf why = BUF_INIT;

	if (cn == NULL || argv == NULL || argv[0] == NULL)
		return SMFIS_TEMPFAIL;
	if (record_add_rcpt(&cn->msg, argv[0], argv + 1, &why) < 0) {
		log_warnx("NOQUEUE: reject: RCPT from %s: %s", cn->client,
		    buf_terminate(&why));
		buf_free(&why);
		return hold_reply(ctx, R_BAD_RCPT);
	}
	return cn->dsn ? SMFIS_CONTINUE : conn_classify(ctx, cn);
}

/* conn_plan - after the last RCPT: does the message need a copy */
static void
conn_plan(struct conn *cn)
{
	struct msg *m = &cn->msg;
	struct plan p;
	int	fd;
	char	path[4096];

	if (m->planned)
		return;
	m->planned = 1;
	if (record_plan_make(m, &p) && (p.nother > 0 || p.ngroups > 1))
		m->need_copy = 1;
	record_plan_free(&p);
	if (!m->need_copy)
		return;
	snprintf(path, sizeof(path), "%s/etrn-milter.XXXXXX",
	    cn->cfg->s.tmp_directory);
	if ((fd = mkstemp(path)) < 0 ||
	    (unlink(path), (m->spool = fdopen(fd, "w+")) == NULL)) {
		log_warn("cannot create a spool file in %s",
		    cn->cfg->s.tmp_directory);
		if (fd >= 0)
			close(fd);
		m->spool_error = 1;
	}
}

/* mlfi_header - one header */
static sfsistat
mlfi_header(SMFICTX *ctx, char *name, char *value)
{
	struct conn *cn = CONN(ctx);
	struct msg *m;

	if (cn == NULL)
		return SMFIS_TEMPFAIL;
	m = &cn->msg;
	conn_plan(cn);
	/* Incoming tags are deleted at end of message: keep them nowhere. */
	if (strcasecmp(name, HOLDTAG_HEADER) == 0) {
		m->ntags++;
		return SMFIS_CONTINUE;
	}
	record_add_header(m, name, value, (size_t)cn->cfg->s.max_header_bytes);
	if (m->spool && fprintf(m->spool, "%s: %s\n", name, value) < 0)
		m->spool_error = 1;
	return SMFIS_CONTINUE;
}

/* mlfi_eoh - end of headers */
static sfsistat
mlfi_eoh(SMFICTX *ctx)
{
	struct conn *cn = CONN(ctx);

	if (cn == NULL)
		return SMFIS_TEMPFAIL;
	conn_plan(cn);
	if (cn->msg.spool && fputc('\n', cn->msg.spool) == EOF)
		cn->msg.spool_error = 1;
	return SMFIS_CONTINUE;
}

/* mlfi_body - a body chunk */
static sfsistat
mlfi_body(SMFICTX *ctx, unsigned char *chunk, size_t len)
{
	struct conn *cn = CONN(ctx);

	if (cn == NULL)
		return SMFIS_TEMPFAIL;
	cn->msg.size += len;
	if (cn->msg.spool && fwrite(chunk, 1, len, cn->msg.spool) != len)
		cn->msg.spool_error = 1;
	return SMFIS_CONTINUE;
}

/* mlfi_eom - end of message: hold, split or pass */
static sfsistat
mlfi_eom(SMFICTX *ctx)
{
	struct conn *cn = CONN(ctx);
	sfsistat rc;

	if (cn == NULL)
		return SMFIS_TEMPFAIL;
	if (cn->msg.spool && fflush(cn->msg.spool) == EOF)
		cn->msg.spool_error = 1;
	rc = hold_eom(ctx, cn);
	record_reset(&cn->msg);
	return rc;
}

/* mlfi_abort - the message was abandoned */
static sfsistat
mlfi_abort(SMFICTX *ctx)
{
	struct conn *cn = CONN(ctx);

	if (cn != NULL)
		record_reset(&cn->msg);
	return SMFIS_CONTINUE;
}

/* mlfi_close - free the connection state (NULL-safe) */
static sfsistat
mlfi_close(SMFICTX *ctx)
{
	struct conn *cn = CONN(ctx);

	if (cn == NULL)
		return SMFIS_CONTINUE;
	record_reset(&cn->msg);
	cfg_release(cn->cfg);
	free(cn->client);
	free(cn->client_addr);
	free(cn);
	(void)smfi_setpriv(ctx, NULL);
	return SMFIS_CONTINUE;
}

struct smfiDesc milter_desc = {
	.xxfi_name = (char *)"etrn-milter",
	.xxfi_version = SMFI_VERSION,
	/* add the tag, delete forged tags, split recipients, hold */
	.xxfi_flags = SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_DELRCPT |
	    SMFIF_QUARANTINE,
	.xxfi_connect = mlfi_connect,	/* allocate per-connection state */
	.xxfi_helo = NULL,		/* HELO is not used */
	.xxfi_envfrom = mlfi_envfrom,	/* sender, RET, ENVID */
	.xxfi_envrcpt = mlfi_envrcpt,	/* recipients, NOTIFY, ORCPT */
	.xxfi_header = mlfi_header,	/* record copy, forged tags, spool */
	.xxfi_eoh = mlfi_eoh,		/* decide the plan if no headers */
	.xxfi_body = mlfi_body,		/* size, spool for copies */
	.xxfi_eom = mlfi_eom,		/* hold, split or pass */
	.xxfi_abort = mlfi_abort,	/* forget the message */
	.xxfi_close = mlfi_close,	/* free per-connection state */
	.xxfi_unknown = NULL,
	.xxfi_data = NULL,
	.xxfi_negotiate = NULL,
};
