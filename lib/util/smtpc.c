/*
 * NAME
 *	smtpc - a small blocking SMTP client
 * SUMMARY
 *	smtpc_open(&s, "inet:127.0.0.1:10026", timeout_ms, "peer name",
 *	    helo_name, &err);
 *	smtpc_cmd(&s, 2, "MAIL FROM:<%s>", sender); ...
 *	smtpc_cmd(&s, 3, "DATA"); smtpc_data(&s, text, len);
 *	smtpc_cmd(&s, 2, NULL);		(the reply to the message)
 *	... s.last ...; smtpc_close(&s);
 * DESCRIPTION
 *	For the MTA on the same host: etrn-milter's re-injection of split
 *	copies and etrnd's DSN submission.  smtpc_open() connects, reads the
 *	greeting and sends EHLO, noting DSN, 8BITMIME and SMTPUTF8.
 *	smtpc_cmd() sends one command line (none with a NULL format) and
 *	reads the reply; it fails unless the reply's first digit is want.
 *	The text of the last reply stays in s.last (what it means is the
 *	caller's business: lib/mail/qid.c reads a queue ID from it).
 *	The message text is sent with CRLF line ends, dot-stuffed, and the
 *	final dot; a last line without a line end gets one.  The socket's
 *	timeout (from smtpc_open) bounds every read and write.
 * DIAGNOSTICS
 *	-1 with the reason (the server's reply, an I/O error or a timeout)
 *	appended to the caller's err buffer, prefixed with the peer name.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "util/net.h"
#include "util/smtpc.h"

/* smtpc_flush - write the pending output */
static int
smtpc_flush(struct smtpc *s)
{
	size_t	off = 0;
	ssize_t	n;

	while (off < s->out.len) {
		n = write(s->fd, s->out.s + off, s->out.len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			buf_printf(s->err, "write to %s: %s", s->peer,
			    n < 0 ? (errno == EAGAIN ? "timeout" :
			    strerror(errno)) : "closed");
			return -1;
		}
		off += (size_t)n;
	}
	buf_reset(&s->out);
	return 0;
}

/* smtpc_line - read one reply line into line (without CRLF) */
static int
smtpc_line(struct smtpc *s, struct buf *line)
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
			buf_printf(s->err, "%s: reply too long", s->peer);
			return -1;
		}
		n = read(s->fd, s->in + s->inlen, sizeof(s->in) - s->inlen);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			buf_printf(s->err, "read from %s: %s", s->peer,
			    n < 0 ? (errno == EAGAIN ? "timeout" :
			    strerror(errno)) : "connection closed");
			return -1;
		}
		s->inlen += (size_t)n;
	}
}

/* smtpc_ehlo_keyword - note the extensions a message may use */
static void
smtpc_ehlo_keyword(struct smtpc *s, const struct buf *line)
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

/* smtpc_reply - read a (multi-line) reply; its code, or -1 */
static int
smtpc_reply(struct smtpc *s, struct buf *text)
{
	struct buf line = BUF_INIT;
	int	code = -1;

	buf_reset(text);
	for (;;) {
		if (smtpc_line(s, &line) < 0)
			break;
		if (line.len < 3 || line.s[0] < '2' || line.s[0] > '5') {
			buf_printf(s->err, "%s: bad reply \"%.80s\"", s->peer,
			    buf_terminate(&line));
			break;
		}
		buf_printf(text, "%s%s", text->len ? " / " : "",
		    buf_terminate(&line));
		smtpc_ehlo_keyword(s, &line);
		if (line.len < 4 || line.s[3] != '-') {
			code = atoi(line.s);
			break;
		}
	}
	buf_free(&line);
	buf_terminate(text);
	return code;
}

/* smtpc_cmd - send a command (none: NULL), expect a reply class */
int
smtpc_cmd(struct smtpc *s, int want, const char *fmt, ...)
{
	va_list	ap;
	int	code;

	if (fmt != NULL) {
		va_start(ap, fmt);
		buf_vprintf(&s->out, fmt, ap);
		va_end(ap);
		buf_cat(&s->out, "\r\n");
		if (smtpc_flush(s) < 0)
			return -1;
	}
	code = smtpc_reply(s, &s->last);
	if (code >= 0 && code / 100 != want) {
		buf_printf(s->err, "%s said: %s", s->peer, s->last.s);
		code = -1;
	}
	return code < 0 ? -1 : 0;
}

/* smtpc_data_file - send a message from a stream (see DESCRIPTION) */
int
smtpc_data_file(struct smtpc *s, FILE *fp)
{
	int	ch, bol = 1, prev = 0;

	if (fseek(fp, 0, SEEK_SET) < 0) {
		buf_printf(s->err, "spool: %s", strerror(errno));
		return -1;
	}
	while ((ch = getc(fp)) != EOF) {
		if (bol && ch == '.')
			buf_addch(&s->out, '.');
		bol = 0;
		if (ch == '\n') {
			buf_cat(&s->out, "\r\n");
			bol = 1;
		} else if (ch != '\r')
			buf_addch(&s->out, ch);
		else if ((prev = getc(fp)) != '\n') {
			buf_addch(&s->out, '\r');	/* lone CR: keep */
			if (prev != EOF)
				ungetc(prev, fp);
		} else {
			buf_cat(&s->out, "\r\n");
			bol = 1;
		}
		if (s->out.len >= 65536 && smtpc_flush(s) < 0)
			return -1;
	}
	if (ferror(fp)) {
		buf_printf(s->err, "spool: read error");
		return -1;
	}
	if (!bol)
		buf_cat(&s->out, "\r\n");
	buf_cat(&s->out, ".\r\n");
	return smtpc_flush(s);
}

/* smtpc_data - send a message held in memory */
int
smtpc_data(struct smtpc *s, const char *text, size_t len)
{
	FILE	*fp;
	int	rc;

	if (len == 0) {
		buf_cat(&s->out, ".\r\n");
		return smtpc_flush(s);
	}
	if ((fp = fmemopen((void *)(uintptr_t)text, len, "r")) == NULL) {
		buf_printf(s->err, "fmemopen: %s", strerror(errno));
		return -1;
	}
	rc = smtpc_data_file(s, fp);
	fclose(fp);
	return rc;
}

/* smtpc_open - connect, greeting, EHLO (see DESCRIPTION) */
int
smtpc_open(struct smtpc *s, const char *server, int timeout_ms,
    const char *peer, const char *helo, struct buf *err)
{
	struct net_addr na;

	memset(s, 0, sizeof(*s));
	s->fd = -1;
	s->peer = peer;
	s->err = err;
	if (net_parse(server, &na) < 0) {
		buf_printf(err, "%s: bad address \"%.100s\"", peer, server);
		return -1;
	}
	if ((s->fd = net_connect(&na, timeout_ms)) < 0) {
		buf_printf(err, "connect to %s %s: %s", peer, server,
		    strerror(errno));
		return -1;
	}
	if (smtpc_cmd(s, 2, NULL) < 0 || smtpc_cmd(s, 2, "EHLO %s", helo) < 0) {
		smtpc_close(s);
		return -1;
	}
	return 0;
}

/* smtpc_close - QUIT if still connected, free */
void
smtpc_close(struct smtpc *s)
{
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
	buf_free(&s->out);
	buf_free(&s->last);
}
