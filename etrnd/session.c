/*
 * NAME
 *	session - one SMTP client of etrnd's listener
 * DESCRIPTION
 *	Parses command lines and dispatches them through a command table;
 *	ETRN itself is in etrn.c.  Commands are handled strictly in order:
 *	while an ETRN waits for Redis, pipelined lines stay in the input
 *	buffer.  Mail commands are refused: this listener accepts no mail.
 * SECURITY
 *	A command line may be at most 512 octets (RFC 5321) including CRLF;
 *	longer input is discarded up to the next line end and answered
 *	with 500.  NUL and bare CR in a line are refused.  Every refusal
 *	counts as an error; after etrnd_max_errors the connection is
 *	closed, as it is after etrnd_timeout without a complete command
 *	(a deadline per command, so a client trickling bytes cannot hold
 *	its slot).
 *	Reply text never echoes client input except a validated ETRN node.
 * DIAGNOSTICS
 *	Connect and disconnect lines with the session ID and client; one
 *	line per ETRN (etrn.c); a line when a client is cut off.
 */
#include "config.h"

#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>

#include "etrnd/listener.h"
#include "mail/replies.h"
#include "util/log.h"
#include "util/xalloc.h"

static void session_read_cb(struct bufferevent *, void *);

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
	session_reply(ss, b.s, b.len);
	buf_free(&b);
}

/* session_bye - send a reply, then close */
static void
session_bye(struct session *ss, enum smtp_reply r)
{
	session_sr(ss, r);
	ss->closing = 1;
	bufferevent_disable(ss->bev, EV_READ);
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

/* session_deadline - (re)start the time allowed for the next command */
static void
session_deadline(struct session *ss)
{
	struct timeval tv = { (time_t)ss->l->s->etrnd_timeout, 0 };

	evtimer_add(ss->deadline, &tv);
}

/* session_deadline_cb - no complete command in time */
static void
session_deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct session *ss = arg;

	(void)fd;
	(void)what;
	if (ss->closing || ss->dead)
		return;
	log_info("%s: client=%s timeout", ss->id, ss->addr);
	session_bye(ss, SR_TIMEOUT);
}

/* session_line - one complete command line */
static void
session_line(struct session *ss, char *line, size_t len)
{
	const struct smtp_cmd *c;
	char	*arg;
	size_t	n;

	session_deadline(ss);
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

/* session_discard - drop input up to and including the next LF */
static int
session_discard(struct session *ss, struct evbuffer *in)
{
	struct evbuffer_ptr p = evbuffer_search(in, "\n", 1, NULL);

	if (p.pos < 0) {
		evbuffer_drain(in, evbuffer_get_length(in));
		return 0;
	}
	evbuffer_drain(in, (size_t)p.pos + 1);
	ss->discarding = 0;
	return 1;
}

/* session_read_cb - process complete lines while not busy */
static void
session_read_cb(struct bufferevent *bev, void *arg)
{
	struct session *ss = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	char	*line;
	size_t	len;

	while (!ss->busy && !ss->closing) {
		if (ss->discarding && !session_discard(ss, in))
			return;
		line = evbuffer_readln(in, &len, EVBUFFER_EOL_CRLF);
		if (line == NULL) {
			if (evbuffer_get_length(in) < SMTP_LINE_MAX)
				return;
			ss->discarding = 1;
			ss->errors++;
			session_sr(ss, SR_LINE_TOO_LONG);
		} else if (len > SMTP_LINE_MAX - 2) {
			ss->errors++;
			session_sr(ss, SR_LINE_TOO_LONG);
		} else
			session_line(ss, line, len);
		free(line);
		if (ss->errors >= ss->l->s->etrnd_max_errors && !ss->closing) {
			log_info("%s: client=%s cut off: too many errors",
			    ss->id, ss->addr);
			session_bye(ss, SR_TOO_MANY_ERRORS);
		}
	}
}

/* session_write_cb - close once a final reply is out */
static void
session_write_cb(struct bufferevent *bev, void *arg)
{
	struct session *ss = arg;

	(void)bev;
	if (ss->closing && !ss->busy)
		session_close(ss);
}

/* session_event_cb - EOF, error or timeout */
static void
session_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct session *ss = arg;

	(void)bev;
	if (what & BEV_EVENT_TIMEOUT)	/* the client does not read */
		log_info("%s: client=%s write timeout", ss->id, ss->addr);
	session_close(ss);
}

/* session_reply - queue output */
void
session_reply(struct session *ss, const char *s, size_t len)
{
	bufferevent_write(ss->bev, s, len);
}

/* session_resume - after an asynchronous reply, go on with the input */
void
session_resume(struct session *ss)
{
	session_read_cb(ss->bev, ss);
	if (ss->closing && evbuffer_get_length(bufferevent_get_output(ss->bev))
	    == 0)
		session_close(ss);
}

/* session_close - free now, or when the outstanding reply arrives */
void
session_close(struct session *ss)
{
	struct listener *l = ss->l;

	if (ss->busy) {
		ss->dead = 1;
		evtimer_del(ss->deadline);
		bufferevent_disable(ss->bev, EV_READ | EV_WRITE);
		return;
	}
	log_debug("%s: disconnect client=%s", ss->id, ss->addr);
	TAILQ_REMOVE(&l->sessions, ss, entry);
	event_free(ss->deadline);
	bufferevent_free(ss->bev);
	free(ss);
	l->nsessions--;
}

/* session_addr - printable peer address */
static void
session_addr(const struct sockaddr *sa, char *out, size_t size)
{
	const void *a = NULL;

	if (sa->sa_family == AF_INET)
		a = &((const struct sockaddr_in *)(const void *)sa)->sin_addr;
	else if (sa->sa_family == AF_INET6)
		a = &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;
	if (a == NULL || inet_ntop(sa->sa_family, a, out, (socklen_t)size) ==
	    NULL)
		snprintf(out, size, "unknown");
}

/* session_new - a new client: greet, or refuse when full */
void
session_new(struct listener *l, evutil_socket_t fd, struct sockaddr *sa,
    int salen)
{
	struct session *ss = xcalloc(1, sizeof(*ss));
	struct timeval tv = { (time_t)l->s->etrnd_timeout, 0 };

	(void)salen;
	ss->l = l;
	session_addr(sa, ss->addr, sizeof(ss->addr));
	snprintf(ss->id, sizeof(ss->id), "S%llu", ++l->next_id);
	ss->bev = bufferevent_socket_new(l->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (ss->bev == NULL) {
		evutil_closesocket(fd);
		free(ss);
		return;
	}
	TAILQ_INSERT_TAIL(&l->sessions, ss, entry);
	l->nsessions++;
	ss->deadline = evtimer_new(l->base, session_deadline_cb, ss);
	session_deadline(ss);
	bufferevent_setcb(ss->bev, session_read_cb, session_write_cb,
	    session_event_cb, ss);
	bufferevent_set_timeouts(ss->bev, NULL, &tv);
	bufferevent_enable(ss->bev, EV_READ | EV_WRITE);
	if (l->nsessions > l->s->etrnd_max_clients || l->stopping) {
		log_info("%s: client=%s refused: %s", ss->id, ss->addr,
		    l->stopping ? "shutting down" : "too many connections");
		session_bye(ss, l->stopping ? SR_SHUTDOWN :
		    SR_TOO_MANY_CLIENTS);
		return;
	}
	log_debug("%s: connect client=%s", ss->id, ss->addr);
	session_sr(ss, SR_GREETING);
}
