/*
 * NAME
 *	odmr - one client of etrnd's ODMR listener (RFC 2645), before the turn
 * DESCRIPTION
 *	A second line server (lib/util/lserver.c) in the listener process,
 *	on odmr_listen, with the limits of the ETRN listener.  Commands go
 *	through a table: EHLO, STARTTLS (RFC 3207), AUTH (RFC 4954,
 *	odmrauth.c), ATRN (atrn.c) and QUIT; every other command is
 *	answered 502.  Strictly in order, as session.c.
 *
 *	STARTTLS puts an OpenSSL filter between the core and the socket
 *	(ls_rebind) and starts the session again: no EHLO, no AUTH.
 *	odmr_tls = encrypt (the default) offers and accepts AUTH only over
 *	TLS unless the client is in odmr_loopback; PLAIN and LOGIN are
 *	never offered without TLS (odmrauth.c).
 *
 *	After ATRN's 250 the connection is the turn's (odmrturn.c): its
 *	input is the customer's replies.
 * SECURITY
 *	A line may be ODMR_LINE_MAX octets (RFC 4954's 12288, for AUTH);
 *	longer input is discarded up to the next line end and answered
 *	500.  CR inside a line or NUL refuses it.  Input pipelined after
 *	STARTTLS is discarded unread (RFC 3207, the command injection of
 *	CVE-2011-0411).  Every refusal, a failed AUTH included, counts
 *	as an error; etrnd_max_errors of them close the session.  The core
 *	bounds commands, time, output and connections (etrnd_* settings).
 *	Replies never echo client input.
 * DIAGNOSTICS
 *	A line per STARTTLS, AUTH and ATRN with the session ID and client;
 *	a line when a client is cut off.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/bufferevent_ssl.h>

#include "etrnd/odmr.h"
#include "mail/replies.h"
#include "util/log.h"
#include "util/tls.h"
#include "util/xalloc.h"

struct odmr_cmd {
	const char *name;
	void	(*proceed)(struct odmr_session *, const char *);
};

/* The replies; the greeting names the host (odmr_reply). */
static const char *const odmr_replies[] = {
	[OR_GREETING] = NULL,
	[OR_TLS_GO] = "220 2.0.0 Ready to start TLS\r\n",
	[OR_TLS_NA] = "454 4.7.0 TLS not available\r\n",
	[OR_TLS_AGAIN] = "503 5.5.1 TLS already active\r\n",
	[OR_AUTH_OK] = "235 2.7.0 Authentication successful\r\n",
	[OR_AUTH_FAIL] = "535 5.7.8 Authentication credentials invalid\r\n",
	[OR_AUTH_AGAIN] = "503 5.5.1 Already authenticated\r\n",
	[OR_AUTH_NEED_TLS] = "530 5.7.0 Must issue a STARTTLS command "
	    "first\r\n",
	[OR_AUTH_MECH] = "504 5.5.4 Unrecognized authentication type\r\n",
	[OR_AUTH_CANCEL] = "501 5.0.0 Authentication cancelled\r\n",
	[OR_AUTH_B64] = "501 5.5.2 Cannot decode the response\r\n",
	[OR_AUTH_SYNTAX] = "501 5.5.4 Syntax: AUTH mechanism "
	    "[initial-response]\r\n",
	[OR_AUTH_TEMP] = "454 4.7.0 Temporary authentication failure\r\n",
	[OR_NEED_AUTH] = "530 5.7.0 Authentication required\r\n",
	[OR_ATRN_SYNTAX] = "501 5.5.4 Syntax: ATRN domain[,domain...]\r\n",
	[OR_ATRN_REFUSED] = "450 4.7.1 ATRN request refused\r\n",
	[OR_ATRN_NOMAIL] = "453 4.3.0 You have no mail\r\n",
	[OR_ATRN_TEMP] = "451 4.3.0 Unable to process ATRN request now\r\n",
	[OR_ATRN_NOT_YET] = "450 4.3.2 Mail is held for you, but delivery "
	    "over ODMR is not configured here\r\n",
	[OR_ATRN_BUSY] = "450 4.3.2 Mail for the domain is being delivered "
	    "in another ODMR session\r\n",
	[OR_ATRN_TURN] = "250 OK now reversing the connection\r\n",
	[OR_NOT_IMPL] = "502 5.5.1 Command not implemented\r\n",
};

/* odmr_reply - send one of the ODMR replies */
void
odmr_reply(struct odmr_session *ss, enum odmr_reply r)
{
	struct buf b = BUF_INIT;

	if (r == OR_GREETING)
		buf_printf(&b, "220 %s ESMTP openetrn ODMR\r\n",
		    ss->l->s->hostname);
	else
		buf_cat(&b, odmr_replies[r]);
	ls_write(ss->c, b.s, b.len);
	buf_free(&b);
}

/* odmr_sr - send one of the replies shared with the ETRN listener */
void
odmr_sr(struct odmr_session *ss, enum smtp_reply r)
{
	struct buf b = BUF_INIT;

	reply_smtp(&b, r, ss->l->s->hostname);
	ls_write(ss->c, b.s, b.len);
	buf_free(&b);
}

/* cmd_ehlo - EHLO: STARTTLS before TLS, AUTH where allowed, ATRN */
static void
cmd_ehlo(struct odmr_session *ss, const char *arg)
{
	struct buf b = BUF_INIT;

	if (*arg == '\0') {
		ss->errors++;
		odmr_sr(ss, SR_SYNTAX_HELO);
		return;
	}
	ss->helo = 1;
	buf_printf(&b, "250-%s\r\n", ss->l->s->hostname);
	if (!ss->tls && ss->l->tls != NULL)
		buf_cat(&b, "250-STARTTLS\r\n");
	odmrauth_ehlo(ss, &b);
	buf_cat(&b, "250-ATRN\r\n250-ENHANCEDSTATUSCODES\r\n"
	    "250 PIPELINING\r\n");
	ls_write(ss->c, b.s, b.len);
	buf_free(&b);
}

/* odmr_reset - forget EHLO and AUTH (after STARTTLS) */
static void
odmr_reset(struct odmr_session *ss)
{
	ss->helo = 0;
	odmrauth_end(ss);
}

/* cmd_starttls - STARTTLS: 220, then the handshake over the connection */
static void
cmd_starttls(struct odmr_session *ss, const char *arg)
{
	struct ls_conn *c = ss->c;
	struct bufferevent *tb;
	SSL	*ssl;

	if (*arg != '\0' || ss->tls || ss->l->tls == NULL) {
		ss->errors++;
		odmr_reply(ss, *arg ? OR_NOT_IMPL : ss->tls ? OR_TLS_AGAIN :
		    OR_TLS_NA);
		return;
	}
	if ((ssl = tls_server_ssl(ss->l->tls)) == NULL) {
		odmr_reply(ss, OR_TLS_NA);
		return;
	}
	odmr_reply(ss, OR_TLS_GO);
	/* Pipelined after STARTTLS: not to be taken as sent over TLS. */
	evbuffer_drain(bufferevent_get_input(c->bev),
	    evbuffer_get_length(bufferevent_get_input(c->bev)));
	tb = bufferevent_openssl_filter_new(ss->l->base, c->bev, ssl,
	    BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
	if (tb == NULL) {
		SSL_free(ssl);
		ls_bye(c);
		return;
	}
	ls_rebind(c, tb);
	ss->tls = 1;
	ss->discarding = 0;
	odmr_reset(ss);
	log_info("%s: client=%s starttls", ss->id, ss->addr);
}

/* cmd_auth - AUTH: EHLO first */
static void
cmd_auth(struct odmr_session *ss, const char *arg)
{
	if (!ss->helo) {
		ss->errors++;
		odmr_sr(ss, SR_NEED_HELO);
		return;
	}
	odmrauth_command(ss, arg);
}

/* cmd_atrn - ATRN: EHLO first */
static void
cmd_atrn(struct odmr_session *ss, const char *arg)
{
	if (!ss->helo) {
		ss->errors++;
		odmr_sr(ss, SR_NEED_HELO);
		return;
	}
	atrn_command(ss, arg);
}

/* cmd_quit - QUIT */
static void
cmd_quit(struct odmr_session *ss, const char *arg)
{
	(void)arg;
	odmr_sr(ss, SR_BYE);
	ls_bye(ss->c);
}

/* cmd_other - anything else before the turn: 502 */
static void
cmd_other(struct odmr_session *ss, const char *arg)
{
	(void)arg;
	ss->errors++;
	odmr_reply(ss, OR_NOT_IMPL);
}

static const struct odmr_cmd odmr_cmds[] = {
	{ "EHLO", cmd_ehlo },
	{ "STARTTLS", cmd_starttls },
	{ "AUTH", cmd_auth },
	{ "ATRN", cmd_atrn },
	{ "QUIT", cmd_quit },
	{ NULL, cmd_other },	/* every other command */
};

/* odmr_line - one complete line: an AUTH response or a command */
static void
odmr_line(struct odmr_session *ss, char *line, size_t len)
{
	const struct odmr_cmd *c;
	char	*arg;
	size_t	n;

	if (memchr(line, '\0', len) != NULL || memchr(line, '\r', len)) {
		ss->errors++;
		if (ss->auth_steps > 0)	/* an exchange ends with it */
			odmrauth_end(ss);
		odmr_sr(ss, SR_BAD_CHARS);
		return;
	}
	if (ss->auth_steps > 0) {
		odmrauth_continue(ss, line);
		return;
	}
	n = strcspn(line, " \t");
	arg = line + n;
	while (*arg == ' ' || *arg == '\t')
		arg++;
	while (len > 0 && (line[len - 1] == ' ' || line[len - 1] == '\t'))
		line[--len] = '\0';
	for (c = odmr_cmds; c->name; c++)
		if (strlen(c->name) == n && strncasecmp(line, c->name, n) == 0)
			break;
	c->proceed(ss, arg);
}

/* odmr_input - process complete lines while the core lets us */
void
odmr_input(struct ls_conn *c, struct evbuffer *in)
{
	struct odmr_session *ss = c->ctx;
	static char line[ODMR_LINE_MAX];
	size_t	len = 0;
	int	got;

	if (ss->turn != NULL) {		/* the customer's replies */
		odmrturn_input(ss->turn, in);
		return;
	}
	/* in stays the buffer of the socket after STARTTLS: stop then. */
	while (ls_ready(c) && in == bufferevent_get_input(c->bev)) {
		if (ss->discarding && !ls_discard(in, &ss->discarding))
			return;
		if ((got = ls_getline(in, line, sizeof(line), &len,
		    &ss->discarding)) == 0)
			return;
		if (ls_command(c) < 0)	/* cut off: 421 sent */
			return;
		if (got < 0) {
			ss->errors++;
			if (ss->auth_steps > 0)
				odmrauth_end(ss);
			odmr_sr(ss, SR_LINE_TOO_LONG);
		} else
			odmr_line(ss, line, len);
		if (ss->errors >= ss->l->s->etrnd_max_errors &&
		    !c->closing) {
			log_info("%s: client=%s cut off: too many errors",
			    ss->id, ss->addr);
			odmr_sr(ss, SR_TOO_MANY_ERRORS);
			ls_bye(c);
		}
	}
	explicit_bzero(line, sizeof(line));	/* AUTH responses */
}

/* odmr_open - a client the core admitted: greet */
int
odmr_open(struct ls_conn *c)
{
	struct listener *l = ls_arg(c->srv);
	struct odmr_session *ss = xcalloc(1, sizeof(*ss));
	struct buf why = BUF_INIT;

	ss->l = l;
	ss->c = c;
	ss->id = c->id;
	ss->addr = c->addr;
	ss->loopback = cidr_match_list(l->s->odmr_loopback, c->addr, &why) ==
	    1;
	buf_free(&why);
	c->ctx = ss;
	odmr_reply(ss, OR_GREETING);
	return 0;
}

/* odmr_free - the core is done with the connection */
void
odmr_free(struct ls_conn *c)
{
	struct odmr_session *ss = c->ctx;

	if (ss == NULL)
		return;
	if (ss->turn != NULL)
		odmrturn_free(ss->turn);
	odmrauth_end(ss);
	atrnarg_free(&ss->atrn);
	free(ss);
	c->ctx = NULL;
}

/*
 * odmr_limits - the core's limits: the ETRN listener's, longer lines, and
 * odmr_max_session for a session with its turn
 */
void
odmr_limits(const struct oe_settings *s, struct ls_limits *lim)
{
	session_limits(s, lim);
	lim->max_input = ODMR_INPUT_MAX;
	lim->max_session = s->odmr_max_session;
}

/* odmr_bye - cut off: a 421 before the turn; after it, the turn's end */
void
odmr_bye(struct ls_conn *c, enum ls_limit why)
{
	struct odmr_session *ss = c->ctx;

	if (ss == NULL || ss->turn == NULL) {
		session_limit_bye(c, why);
		return;
	}
	odmrturn_end(ss->turn, why == LS_LIFETIME ? "odmr_max_session" :
	    why == LS_TIMEOUT ? "timeout" : "limit");
}
