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
 *
 *	struct smtpc_msg m = { .from = "", .rcpts = v, .nrcpt = 1,
 *	    .text = text, .len = len };
 *	st = smtpc_send(&s, &m);	(as often as wanted; see below)
 * DESCRIPTION
 *	For the MTA on the same host: etrn-milter's re-injection of split
 *	copies and etrnd's DSN submission.  smtpc_open() connects, reads the
 *	greeting and sends EHLO, noting DSN, 8BITMIME, SMTPUTF8 and
 *	PIPELINING.  smtpc_cmd() sends one command line (none with a NULL
 *	format) and reads the reply; it fails unless the reply's first
 *	digit is want.  The text of the last reply stays in s.last (what it
 *	means is the caller's business: lib/mail/qid.c reads a queue ID
 *	from it).  The message text is sent with CRLF line ends,
 *	dot-stuffed, and the final dot; a last line without a line end
 *	gets one.  The socket's timeout (from smtpc_open) bounds every read
 *	and write.
 *
 *	smtpc_send() carries one whole transaction and leaves the session
 *	ready for the next one, so that one session can carry many
 *	messages.  When the server offers PIPELINING (RFC 2920) MAIL, the
 *	RCPTs and DATA go out in one write and their replies are read in
 *	order, then the text follows: two round trips a message instead of
 *	three and more.  Without it (or with s.pipelining cleared) each
 *	command waits for its reply, and a refused MAIL or the refusal of
 *	every RCPT ends the transaction before DATA.  A group holds at most
 *	SMTPC_WINDOW commands, so that neither side can block writing while
 *	the other writes too.  After a transaction that failed before the
 *	text was accepted, RSET clears the server's state.
 *
 *	The message's fate is SMTPC_SENT (2xx to the text), SMTPC_TEMP or
 *	SMTPC_PERM (the first 4xx or 5xx that decided it: MAIL, all RCPTs,
 *	DATA or the text; when every RCPT failed, any 4xx among them makes
 *	it SMTPC_TEMP), or SMTPC_IO (the session is unusable: close it).
 *	The deciding reply's text is in s.last, and each RCPT's reply code
 *	in m->rcpt_code when that is not NULL (0: not sent); a message sent
 *	to some of its recipients is SMTPC_SENT.  A message without
 *	recipients is SMTPC_PERM and never sent.
 * DIAGNOSTICS
 *	-1 with the reason (the server's reply, an I/O error or a timeout)
 *	appended to the caller's err buffer, prefixed with the peer name.
 *	smtpc_send() appends only the reason of SMTPC_IO; for the other
 *	outcomes the server's reply is in s.last.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util/net.h"
#include "util/smtpc.h"
#include "util/xalloc.h"

/* Commands in one pipelined group at most (RFC 2920 section 3.1). */
#define SMTPC_WINDOW	64

/* smtpc_flush - write the pending output */
static int
smtpc_flush(struct smtpc *s)
{
	size_t	off = 0;
	ssize_t	n;

	while (off < s->out.len) {
		n = send(s->fd, s->out.s + off, s->out.len - off,
		    MSG_NOSIGNAL);
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
	else if (n == 10 && strncasecmp(k, "PIPELINING", 10) == 0)
		s->pipelining = 1;
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

/* smtpc_class - the fate a reply code gives a message */
static enum smtpc_status
smtpc_class(int code)
{
	switch (code / 100) {
	case 2:
		return SMTPC_SENT;
	case 4:
		return SMTPC_TEMP;
	default:
		return SMTPC_PERM;
	}
}

/* smtpc_put - queue command k of a transaction (0 MAIL, then RCPTs, DATA) */
static void
smtpc_put(struct smtpc *s, const struct smtpc_msg *m, size_t k)
{
	if (k == 0)
		buf_printf(&s->out, "MAIL FROM:<%s>%s\r\n", m->from,
		    m->mail_params != NULL ? m->mail_params : "");
	else if (k <= m->nrcpt)
		buf_printf(&s->out, "RCPT TO:<%s>\r\n", m->rcpts[k - 1]);
	else
		buf_cat(&s->out, "DATA\r\n");
}

/* smtpc_replies - send the group, read its replies into codes[from..to) */
static int
smtpc_replies(struct smtpc *s, int *codes, size_t from, size_t to,
    struct buf *fail)
{
	size_t	k;

	if (smtpc_flush(s) < 0)
		return -1;
	for (k = from; k < to; k++) {
		if ((codes[k] = smtpc_reply(s, &s->last)) < 0)
			return -1;
		/* the first refusal decides; 503s after it only follow it */
		if (codes[k] >= 400 && fail->len == 0)
			buf_add(fail, s->last.s, s->last.len);
	}
	return 0;
}

/* smtpc_envelope - MAIL, RCPTs, DATA; codes[k] for each (0: not sent) */
static int
smtpc_envelope(struct smtpc *s, const struct smtpc_msg *m, int *codes,
    struct buf *fail)
{
	size_t	k, last = m->nrcpt + 1, first = 0, ok = 0;

	for (k = 0; k <= last; k++) {
		/* lock-step: stop at a known refusal, as RFC 5321 wants */
		if (k > 0 && codes[0] != 0 && codes[0] / 100 != 2)
			break;
		if (k == last && first == k && ok == 0)
			break;
		smtpc_put(s, m, k);
		if (s->pipelining && k < last && k + 1 - first < SMTPC_WINDOW)
			continue;
		if (smtpc_replies(s, codes, first, k + 1, fail) < 0)
			return -1;
		for (; first <= k; first++)
			ok += first > 0 && first < last &&
			    codes[first] / 100 == 2;
	}
	return 0;
}

/* smtpc_verdict - the fate of a message whose text was not accepted */
static enum smtpc_status
smtpc_verdict(const struct smtpc_msg *m, const int *codes)
{
	size_t	k;
	int	temp = 0, ok = 0;

	if (codes[0] / 100 != 2)
		return smtpc_class(codes[0]);
	for (k = 1; k <= m->nrcpt; k++) {
		temp |= codes[k] / 100 == 4;
		ok |= codes[k] / 100 == 2;
	}
	if (!ok)
		return temp ? SMTPC_TEMP : SMTPC_PERM;
	/* DATA refused, or answered without 354: the text was not sent */
	return codes[m->nrcpt + 1] / 100 == 4 ? SMTPC_TEMP : SMTPC_PERM;
}

/* smtpc_send - one transaction on an open session (see DESCRIPTION) */
enum smtpc_status
smtpc_send(struct smtpc *s, const struct smtpc_msg *m)
{
	struct buf fail = BUF_INIT;
	int	*codes, ok = 0, code;
	size_t	k, data = m->nrcpt + 1;
	enum smtpc_status st = SMTPC_IO;

	if (s->fd < 0) {
		buf_printf(s->err, "%s: not connected", s->peer);
		return SMTPC_IO;
	}
	if (m->nrcpt == 0) {
		buf_reset(&s->last);
		buf_cat(&s->last, "no recipients");
		buf_terminate(&s->last);
		return SMTPC_PERM;
	}
	codes = xcalloc(m->nrcpt + 2, sizeof(*codes));
	if (smtpc_envelope(s, m, codes, &fail) < 0)
		goto out;
	for (k = 1; k < data; k++)
		ok |= codes[k] / 100 == 2;
	ok &= codes[0] / 100 == 2;
	if (codes[data] == 354) {
		/* the text if anyone takes it; else end the DATA empty */
		if (smtpc_data(s, ok ? m->text : "", ok ? m->len : 0) < 0 ||
		    (code = smtpc_reply(s, &s->last)) < 0)
			goto out;
		if (ok) {
			st = smtpc_class(code);
			goto rcpt;
		}
	}
	st = smtpc_verdict(m, codes);
	if (codes[0] / 100 == 2 && smtpc_cmd(s, 2, "RSET") < 0)
		st = SMTPC_IO;
	buf_reset(&s->last);
	buf_add(&s->last, fail.s, fail.len);
	buf_terminate(&s->last);
rcpt:
	if (m->rcpt_code != NULL)
		for (k = 0; k < m->nrcpt; k++)
			m->rcpt_code[k] = codes[k + 1];
out:
	free(codes);
	buf_free(&fail);
	return st;
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
