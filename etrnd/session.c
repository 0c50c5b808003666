/*
 * NAME
 *	session - one SMTP client of etrnd's listener
 * DESCRIPTION
 *	The SMTP protocol of etrnd's listener, above the line-server core
 *	(lib/util/lserver.c), which owns the sockets, the connections and
 *	their limits.  Parses command lines and dispatches them through a
 *	command table; ETRN itself is in etrn.c.  Commands are handled
 *	strictly in order: while an ETRN waits for Redis, or while the
 *	client leaves its replies unread, pipelined lines stay unread.
 *	Mail commands are refused: this listener accepts no mail.
 * SECURITY
 *	A command line may be at most 512 octets (RFC 5321) including CRLF;
 *	longer input is discarded up to the next line end and answered
 *	with 500.  A line ends with CRLF or a bare LF (as Postfix's smtpd
 *	takes commands; no message content comes here); a CR elsewhere,
 *	or a NUL, refuses the whole line, so a CR never splits one line
 *	into two commands.  Every refusal counts as an error; after
 *	etrnd_max_errors the connection is closed.  Every line counts as
 *	a command (etrnd_max_commands);
 *	the core cuts a session off after etrnd_timeout without a complete
 *	command (a deadline per command, so a client trickling bytes cannot
 *	hold its slot), after etrnd_max_session_time, and when it does not
 *	read its replies; it refuses connections beyond etrnd_max_clients
 *	and etrnd_max_per_client per client network.  Each gets a 421.
 *	Reply text never echoes client input except a validated ETRN node.
 * DIAGNOSTICS
 *	Connect and disconnect lines with the session ID and client; one
 *	line per ETRN (etrn.c); a line when a client is cut off.
 */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "etrnd/listener.h"
#include "mail/replies.h"
#include "util/log.h"
#include "util/xalloc.h"

struct smtp_cmd {
	const char *name;
	int	need_helo;
	void	(*proceed)(struct session *, const char *);
};

/* session_sr - send one of the fixed replies */
static void
session_sr(struct session *ss, enum smtp_reply r)
{
	struct buf b = BUF_INIT;

	reply_smtp(&b, r, ss->l->s->hostname);
	ls_write(ss->c, b.s, b.len);
	buf_free(&b);
}

/* session_bye - send a reply, then close */
static void
session_bye(struct session *ss, enum smtp_reply r)
{
	session_sr(ss, r);
	ls_bye(ss->c);
}

/* cmd_helo - HELO/EHLO: an argument is required */
static void
cmd_helo(struct session *ss, const char *arg, int ehlo)
{
	if (*arg == '\0') {
		ss->errors++;
		session_sr(ss, SR_SYNTAX_HELO);
		return;
	}
	ss->helo = 1;
	session_sr(ss, ehlo ? SR_EHLO : SR_HELO);
}

/* cmd_ehlo - EHLO */
static void
cmd_ehlo(struct session *ss, const char *arg)
{
	cmd_helo(ss, arg, 1);
}

/* cmd_helo_only - HELO */
static void
cmd_helo_only(struct session *ss, const char *arg)
{
	cmd_helo(ss, arg, 0);
}

/* cmd_ok - NOOP, RSET */
static void
cmd_ok(struct session *ss, const char *arg)
{
	(void)arg;
	session_sr(ss, SR_OK);
}

/* cmd_help - HELP */
static void
cmd_help(struct session *ss, const char *arg)
{
	(void)arg;
	session_sr(ss, SR_HELP);
}

/* cmd_quit - QUIT */
static void
cmd_quit(struct session *ss, const char *arg)
{
	(void)arg;
	session_bye(ss, SR_BYE);
}

/* cmd_mail - MAIL, RCPT, DATA, ...: no mail here */
static void
cmd_mail(struct session *ss, const char *arg)
{
	(void)arg;
	ss->errors++;
	session_sr(ss, SR_NOT_IMPL);
}

static const struct smtp_cmd smtp_cmds[] = {
	{ "EHLO", 0, cmd_ehlo },
	{ "HELO", 0, cmd_helo_only },
	{ "ETRN", 1, etrn_command },
	{ "NOOP", 0, cmd_ok },
	{ "RSET", 0, cmd_ok },
	{ "HELP", 0, cmd_help },
	{ "QUIT", 0, cmd_quit },
	{ "MAIL", 0, cmd_mail },
	{ "RCPT", 0, cmd_mail },
	{ "DATA", 0, cmd_mail },
	{ "BDAT", 0, cmd_mail },
	{ "VRFY", 0, cmd_mail },
	{ "EXPN", 0, cmd_mail },
	{ "TURN", 0, cmd_mail },
	{ "ATRN", 0, cmd_mail },
	{ "STARTTLS", 0, cmd_mail },
	{ "AUTH", 0, cmd_mail },
	{ NULL, 0, NULL },
};

/* session_line - one complete command line */
static void
session_line(struct session *ss, char *line, size_t len)
{
	const struct smtp_cmd *c;
	char	*arg;
	size_t	n;

	if (memchr(line, '\0', len) != NULL || memchr(line, '\r', len)) {
		ss->errors++;
		session_sr(ss, SR_BAD_CHARS);
		return;
	}
	n = strcspn(line, " \t");
	arg = line + n;
	while (*arg == ' ' || *arg == '\t')
		arg++;
	while (len > 0 && (line[len - 1] == ' ' || line[len - 1] == '\t'))
		line[--len] = '\0';
	for (c = smtp_cmds; c->name; c++)
		if (strlen(c->name) == n && strncasecmp(line, c->name, n) == 0)
			break;
	if (c->name == NULL) {
		ss->errors++;
		session_sr(ss, SR_UNKNOWN);
	} else if (c->need_helo && !ss->helo) {
		ss->errors++;
		session_sr(ss, SR_NEED_HELO);
	} else
		c->proceed(ss, arg);
}

/* session_input - process complete lines while the core lets us */
void
session_input(struct ls_conn *c, struct evbuffer *in)
{
	struct session *ss = c->ctx;
	char	line[SMTP_LINE_MAX];
	size_t	len = 0;
	int	got;

	while (ls_ready(c)) {
		if (ss->discarding && !ls_discard(in, &ss->discarding))
			return;
		if ((got = ls_getline(in, line, sizeof(line), &len,
		    &ss->discarding)) == 0)
			return;
		if (ls_command(c) < 0)	/* cut off: 421 sent */
			return;
		if (got < 0) {
			ss->errors++;
			session_sr(ss, SR_LINE_TOO_LONG);
		} else
			session_line(ss, line, len);
		if (ss->errors >= ss->l->s->etrnd_max_errors &&
		    !c->closing) {
			log_info("%s: client=%s cut off: too many errors",
			    ss->id, ss->addr);
			session_bye(ss, SR_TOO_MANY_ERRORS);
		}
	}
}

/* session_open - a client the core admitted: greet */
int
session_open(struct ls_conn *c)
{
	struct listener *l = ls_arg(c->srv);
	struct session *ss = xcalloc(1, sizeof(*ss));

	ss->l = l;
	ss->c = c;
	ss->id = c->id;
	ss->addr = c->addr;
	c->ctx = ss;
	session_sr(ss, SR_GREETING);
	return 0;
}

/* session_limit_bye - the 421 for a refused or cut off client */
void
session_limit_bye(struct ls_conn *c, enum ls_limit why)
{
	static const enum smtp_reply last[] = {
		[LS_FULL] = SR_TOO_MANY_CLIENTS,
		[LS_PER_CLIENT] = SR_TOO_MANY_FROM_CLIENT,
		[LS_STOPPING] = SR_SHUTDOWN,
		[LS_TIMEOUT] = SR_TIMEOUT,
		[LS_LIFETIME] = SR_SESSION_TIME,
		[LS_COMMANDS] = SR_TOO_MANY_COMMANDS,
	};
	struct listener *l = ls_arg(c->srv);
	struct buf b = BUF_INIT;

	reply_smtp(&b, last[why], l->s->hostname);
	ls_write(c, b.s, b.len);
	buf_free(&b);
}

/* session_free - the core is done with the connection */
void
session_free(struct ls_conn *c)
{
	free(c->ctx);
	c->ctx = NULL;
}

/* session_limits - the core's limits from the settings */
void
session_limits(const struct oe_settings *s, struct ls_limits *lim)
{
	lim->max_clients = s->etrnd_max_clients;
	lim->max_per_client = s->etrnd_max_per_client;
	lim->v4_prefix = (int)s->client_ipv4_prefix;
	lim->v6_prefix = (int)s->client_ipv6_prefix;
	lim->timeout = s->etrnd_timeout;
	lim->max_session = s->etrnd_max_session_time;
	lim->max_commands = s->etrnd_max_commands;
	lim->max_output = (size_t)s->etrnd_max_output;
	lim->max_input = SMTP_INPUT_MAX;
}
