/*
 * NAME
 *	reinject - submit one dial-up domain's copy of a split message
 * DESCRIPTION
 *	A message whose recipients are not all in one dial-up domain is
 *	split: each dial-up domain that must leave the original gets a copy
 *	sent by SMTP to reinject_server (a dedicated smtpd of the same MTA,
 *	with the same milters), addressed only to that domain's recipients.
 *	The copy comes back through etrn-milter as a single-domain message
 *	and is held like any other.  The envelope is kept: the sender, RET,
 *	ENVID, BODY, SMTPUTF8, and each recipient's NOTIFY and ORCPT.
 *
 *	The message text is the milter's spooled copy of the headers and
 *	body; lines are sent with CRLF endings and dot-stuffed.
 * DIAGNOSTICS
 *	-1 with the server's reply (or the I/O error) in *err.  The caller
 *	tempfails the original, so nothing is lost: the client retries.  A
 *	copy accepted before a later failure may then arrive twice, which
 *	is SMTP's usual at-least-once outcome.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "milter/milter.h"
#include "util/net.h"

struct smtp {
	int	fd;
	char	in[4096];
	size_t	inlen;
	struct buf out;
	struct buf *err;
	struct buf last;	/* text of the last reply */
	int	dsn;		/* server offers DSN */
	int	eightbit;	/* ... 8BITMIME */
	int	smtputf8;	/* ... SMTPUTF8 */
};

/* smtp_flush - write the pending output */
static int
smtp_flush(struct smtp *s)
{
	size_t	off = 0;
	ssize_t	n;

	while (off < s->out.len) {
		n = write(s->fd, s->out.s + off, s->out.len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			buf_printf(s->err, "write to re-injection server: %s",
			    n < 0 ? strerror(errno) : "closed");
			return -1;
		}
		off += (size_t)n;
	}
	buf_reset(&s->out);
	return 0;
}

/* smtp_line - read one reply line into line (without CRLF) */
static int
smtp_line(struct smtp *s, struct buf *line)
{
	char	*nl;
	ssize_t	n;

	for (;;) {
		if ((nl = memchr(s->in, '\n', s->inlen)) != NULL) {
			size_t	len = (size_t)(nl - s->in);

			buf_reset(line);
			buf_add(line, s->in, len > 0 && nl[-1] == '\r' ?
			    len - 1 : len);
			memmove(s->in, nl + 1, s->inlen - len - 1);
			s->inlen -= len + 1;
			return 0;
		}
		if (s->inlen == sizeof(s->in)) {
			buf_cat(s->err, "re-injection server: reply too long");
			return -1;
		}
		n = read(s->fd, s->in + s->inlen, sizeof(s->in) - s->inlen);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			buf_printf(s->err, "read from re-injection server: %s",
			    n < 0 ? (errno == EAGAIN ? "timeout" :
			    strerror(errno)) : "connection closed");
			return -1;
		}
		s->inlen += (size_t)n;
	}
}

/* smtp_ehlo_keyword - note the extensions the copy may use */
static void
smtp_ehlo_keyword(struct smtp *s, const struct buf *line)
{
	const char *k;
	size_t	n;

	if (line->len < 4 || strncmp(line->s, "250", 3) != 0)
		return;
	k = line->s + 4;
	n = line->len - 4;
	if (n == 3 && strncasecmp(k, "DSN", 3) == 0)
		s->dsn = 1;
	else if (n == 8 && strncasecmp(k, "8BITMIME", 8) == 0)
		s->eightbit = 1;
	else if (n == 8 && strncasecmp(k, "SMTPUTF8", 8) == 0)
		s->smtputf8 = 1;
}

/* smtp_reply - read a (multi-line) reply; its code, or -1 */
static int
smtp_reply(struct smtp *s, struct buf *text)
{
	struct buf line = BUF_INIT;
	int	code = -1;

	buf_reset(text);
	for (;;) {
		if (smtp_line(s, &line) < 0)
			break;
		if (line.len < 3 || line.s[0] < '2' || line.s[0] > '5') {
			buf_printf(s->err, "re-injection server: bad reply "
			    "\"%.80s\"", buf_terminate(&line));
			break;
		}
		buf_printf(text, "%s%s", text->len ? " / " : "",
		    buf_terminate(&line));
		smtp_ehlo_keyword(s, &line);
		if (line.len < 4 || line.s[3] != '-') {
			code = atoi(line.s);
			break;
		}
	}
	buf_free(&line);
	return code;
}

/* smtp_cmd - send a command, expect a reply class */
static int
smtp_cmd(struct smtp *s, int want, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
smtp_cmd(struct smtp *s, int want, const char *fmt, ...)
{
	struct buf *text = &s->last;
	va_list	ap;
	int	code;

	if (fmt != NULL) {
		char	*line;

		va_start(ap, fmt);
		if (vasprintf(&line, fmt, ap) < 0)
			line = NULL;
		va_end(ap);
		if (line == NULL)
			return -1;
		buf_printf(&s->out, "%s\r\n", line);
		free(line);
		if (smtp_flush(s) < 0)
			return -1;
	}
	code = smtp_reply(s, text);
	if (code >= 0 && code / 100 != want) {
		buf_printf(s->err, "re-injection server said: %s",
		    buf_terminate(text));
		code = -1;
	}
	return code < 0 ? -1 : 0;
}

/* smtp_data - send the spooled message, CRLF and dot-stuffed */
static int
smtp_data(struct smtp *s, FILE *spool)
{
	int	ch, bol = 1, prev = 0;

	if (fseek(spool, 0, SEEK_SET) < 0) {
		buf_printf(s->err, "spool: %s", strerror(errno));
		return -1;
	}
	while ((ch = getc(spool)) != EOF) {
		if (bol && ch == '.')
			buf_addch(&s->out, '.');
		bol = 0;
		if (ch == '\n') {
			buf_cat(&s->out, "\r\n");
			bol = 1;
		} else if (ch != '\r')
			buf_addch(&s->out, ch);
		else if ((prev = getc(spool)) != '\n') {
			buf_addch(&s->out, '\r');	/* lone CR: keep */
			if (prev != EOF)
				ungetc(prev, spool);
		} else {
			buf_cat(&s->out, "\r\n");
			bol = 1;
		}
		if (s->out.len >= 65536 && smtp_flush(s) < 0)
			return -1;
	}
	if (ferror(spool)) {
		buf_printf(s->err, "spool: read error");
		return -1;
	}
	if (!bol)
		buf_cat(&s->out, "\r\n");
	buf_cat(&s->out, ".\r\n");
	return smtp_flush(s);
}

/* reinject_txn - one SMTP transaction for the copy */
static int
reinject_txn(struct smtp *s, const struct cfg *c, struct msg *m,
    const struct rgroup *g, struct buf *queued)
{
	size_t	i;

	if (smtp_cmd(s, 2, NULL) < 0 ||
	    smtp_cmd(s, 2, "EHLO %s", c->s.hostname) < 0)
		return -1;
	if (m->smtputf8 && !s->smtputf8) {
		buf_cat(s->err, "re-injection server does not offer SMTPUTF8");
		return -1;
	}
	if (smtp_cmd(s, 2, "MAIL FROM:<%s>%s%s%s%s%s%s%s", m->sender,
	    s->dsn && m->ret ? " RET=" : "", s->dsn && m->ret ? m->ret : "",
	    s->dsn && m->envid ? " ENVID=" : "",
	    s->dsn && m->envid ? m->envid : "",
	    s->eightbit && m->body ? " BODY=" : "",
	    s->eightbit && m->body ? m->body : "",
	    m->smtputf8 ? " SMTPUTF8" : "") < 0)
		return -1;
	for (i = 0; i < g->n; i++) {
		const struct rcpt *r = &m->rcpt[g->idx[i]];

		if (smtp_cmd(s, 2, "RCPT TO:<%s>%s%s%s%s", r->addr,
		    s->dsn && r->notify ? " NOTIFY=" : "",
		    s->dsn && r->notify ? r->notify : "",
		    s->dsn && r->orcpt ? " ORCPT=" : "",
		    s->dsn && r->orcpt ? r->orcpt : "") < 0)
			return -1;
	}
	if (smtp_cmd(s, 3, "DATA") < 0 || smtp_data(s, m->spool) < 0 ||
	    smtp_cmd(s, 2, NULL) < 0)
		return -1;
	buf_reset(queued);
	buf_add(queued, s->last.s, s->last.len);
	(void)smtp_cmd(s, 2, "QUIT");
	return 0;
}

/* reinject_copy - send group g's copy; the server's final reply in
 * *queued, or -1 with *err set */
int
reinject_copy(const struct cfg *c, struct msg *m, const struct rgroup *g,
    struct buf *queued, struct buf *err)
{
	struct net_addr na;
	struct smtp s;
	int	rc;

	if (m->spool == NULL || m->spool_error) {
		buf_cat(err, "no spooled copy of the message");
		return -1;
	}
	if (net_parse(c->s.reinject_server, &na) < 0) {
		buf_cat(err, "bad reinject_server");
		return -1;
	}
	memset(&s, 0, sizeof(s));
	s.err = err;
	if ((s.fd = net_connect(&na, (int)c->s.reinject_timeout * 1000)) < 0) {
		buf_printf(err, "connect to %s: %s", c->s.reinject_server,
		    strerror(errno));
		return -1;
	}
	rc = reinject_txn(&s, c, m, g, queued);
	close(s.fd);
	buf_free(&s.out);
	buf_free(&s.last);
	return rc;
}
