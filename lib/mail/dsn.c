/*
 * NAME
 *	dsn - delivery status notifications for held mail (RFC 3464)
 * SUMMARY
 *	if (dsn_wanted(DSN_FAILED, notify, sender)) ...
 *	dsn_build(&in, &msg, &err);	(submit msg with a null sender)
 *	dsn_message_id(&mid, DSN_FAILED, token, hostname);
 *	flags = dsn_needs(msg.s, msg.len);	(BODY=8BITMIME, SMTPUTF8)
 *	dsn_downgrade(msg.s, msg.len, has8bitmime, hassmtputf8, &fit);
 * DESCRIPTION
 *	dsn_build() writes a complete multipart/report message (RFC 6522)
 *	with LF line ends, for the held message described by a struct
 *	dsn_input, to be sent to in->sender with a null envelope sender:
 *	  1. text/plain: which dial-up domain, how long the message was
 *	     held, when it arrived, that the domain's server did not
 *	     collect it (ETRN), and either that it is returned and will not
 *	     be delivered (DSN_FAILED) or until when it stays held
 *	     (DSN_DELAYED); then the recipients.  us-ascii, or utf-8 with
 *	     Content-Transfer-Encoding 8bit when an address is UTF-8.
 *	  2. message/delivery-status: Reporting-MTA, X-Openetrn-Queue-ID,
 *	     Original-Envelope-Id, Arrival-Date; per recipient
 *	     Original-Recipient, Final-Recipient, Action, Status,
 *	     Diagnostic-Code (type X-Openetrn, folded like every field),
 *	     and for delayed Will-Retry-Until (the deadline).  Action
 *	     failed has Status 4.4.7 (delivery time expired: the code MTAs
 *	     report with "failed" when a queue lifetime runs out), delayed
 *	     4.4.1 (no answer from host).
 *	  3. message/rfc822 (whole message) or text/rfc822-headers, or for
 *	     a UTF-8 original (raw UTF-8 in its header section, as an
 *	     SMTPUTF8 message has) message/global or message/global-headers
 *	     (RFC 6532 3.7, RFC 6533 6.3); without
 *	     the internal X-ETRN-Hold header (and its continuation lines),
 *	     line ends made LF; a bare CR ends a line in the body but
 *	     becomes a space in the header section, where it could
 *	     otherwise start a header line of its own; a line over 998
 *	     octets is broken with LF SPACE.  8bit when a byte is >= 0x80.
 *	     With nothing to return, a text/plain note says so.
 *	Only recipients for which dsn_wanted() holds are listed; none, or
 *	no sender, is an error.
 *
 *	ENVID and ORCPT values are xtext (RFC 3461); the report carries them
 *	decoded when the result is printable US-ASCII (space included),
 *	otherwise as received.  An ORCPT keeps its address type.  A final
 *	recipient with non-ASCII octets gets the "utf-8" address type of
 *	RFC 6533 in its 7bit utf-8-addr-xtext form ("\x{E9}"), so the
 *	delivery-status part stays US-ASCII and remains a plain
 *	message/delivery-status; invalid UTF-8 octets become '?'.  A UTF-8
 *	sender appears as is in To: (RFC 6532: such a DSN needs SMTPUTF8
 *	anyway).
 *
 *	dsn_wanted() follows RFC 3461 NOTIFY: no DSN to a null sender or
 *	for NEVER; with a NOTIFY list only for FAILURE (failed) or DELAY
 *	(delayed); without NOTIFY for both, as MTAs do.
 *
 *	dsn_message_id() is <expired.ID@host> or <delayed.ID@host>, ID
 *	derived from the hold token with the secret key (holdtag_derive()):
 *	a DSN sent again after a crash carries the same Message-ID, and
 *	none shows the token, the last check before a queue file is
 *	deleted, to the sender.
 *
 *	dsn_needs() tells the submitter what a built DSN declares in MAIL
 *	FROM: DSN_8BITMIME when any octet is >= 0x80 (BODY=8BITMIME, RFC
 *	6152); DSN_SMTPUTF8 when its own header section holds UTF-8 (a UTF-8
 *	sender in To:), which needs SMTPUTF8 (RFC 6531); DSN_GLOBAL when a
 *	part is message/global or message/global-headers (sent with
 *	SMTPUTF8 where offered: such a part is opaque 8-bit content without
 *	it, RFC 6532 3.7).  It reads only the top header and the part
 *	headers, found by the boundary, which occurs in no content.
 *
 *	dsn_downgrade() makes a built DSN fit for a server without 8BITMIME
 *	or SMTPUTF8 (RFC 6152, RFC 6532 3.7, RFC 6533 6.3).  Without
 *	8BITMIME every 8-bit part is encoded quoted-printable, except an
 *	8-bit message/rfc822, which no encoding may wrap: it is replaced by
 *	its header section as text/rfc822-headers (quoted-printable if
 *	8-bit), and a paragraph at the end of the text says only the headers
 *	are attached.  Without SMTPUTF8 the message/global and
 *	message/global-headers parts are encoded; the rest is left as is.
 *	The top header's 8bit line is set anew.  A UTF-8 top header (a
 *	UTF-8 sender) cannot be downgraded: the caller refuses that DSN.
 *	The delivery-status part is US-ASCII by construction (above), so it
 *	is never message/global-delivery-status.
 * SECURITY
 *	Nothing from the envelope, the record or the original message can
 *	add a header line or a MIME part: every value written to a header
 *	or delivery-status field has its control characters (CR, LF, NUL,
 *	TAB, DEL, ...) replaced with '?', and delivery-status fields also
 *	their non-ASCII octets; a decoded ENVID or ORCPT with such octets
 *	is used in its xtext form instead.  Header lines are folded at
 *	white space near 78 columns.  The MIME boundary holds 128 random
 *	bits and is drawn again if it occurs anywhere in the content of a
 *	part.
 * DIAGNOSTICS
 *	dsn_downgrade() returns -1 for a message not shaped as dsn_build()
 *	writes it.  dsn_build() returns -1 and appends a reason to err when no
 *	recipient wants a DSN, there is no sender, an input is missing, a
 *	line of the report would exceed 998 octets (an absurdly long
 *	address), or no usable boundary was found.
 */
#include "config.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "mail/dsn.h"
#include "mail/holdtag.h"
#include "util/xalloc.h"

#define HDR_SOFT	78	/* fold header lines longer than this */
#define LINE_MAX_LEN	998	/* RFC 5322 hard limit, without CRLF */
#define TEXT_WIDTH	72	/* wrap the human-readable text */
#define BOUNDARY_TRIES	8
#define BOUNDARY_PREFIX	"=_openetrn_"	/* "=_" occurs in no QP/base64 */

#define WSP(c)	((c) == ' ' || (c) == '\t')

/* What dsn_build() works on: sanitized inputs and the three parts. */
struct dsn_ctx {
	const struct dsn_input *in;
	const struct dsn_rcpt **rv;	/* the recipients listed */
	size_t	nr;
	struct buf mta, dom;		/* ASCII-safe copies */
	struct buf arr, dead, held;	/* dates, how long held */
	struct buf text, status, orig;	/* part contents */
	const char *orig_type;
	int	orig_ok;		/* the original is returned */
	int	orig_utf8;		/* ... with UTF-8 in its header */
};

/* dsn_wanted - does NOTIFY ask for a DSN for this action */
int
dsn_wanted(enum dsn_action act, const char *notify, const char *sender)
{
	const char *want = act == DSN_FAILED ? "FAILURE" : "DELAY";
	const char *p, *e;
	size_t	n;
	int	found = 0;

	if (sender == NULL || *sender == '\0' || strcmp(sender, "<>") == 0)
		return 0;
	if (notify == NULL || *notify == '\0')
		return 1;
	for (p = notify;; p = e + 1) {
		e = strchr(p, ',');
		n = e ? (size_t)(e - p) : strlen(p);
		if (n == 5 && strncasecmp(p, "NEVER", 5) == 0)
			return 0;
		if (n == strlen(want) && strncasecmp(p, want, n) == 0)
			found = 1;
		if (e == NULL)
			return found;
	}
}

/* hexval - value of a hex digit, -1 if none */
static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* dsn_xtext_decode - RFC 3461 xtext; lowercase hex accepted */
int
dsn_xtext_decode(const char *s, struct buf *out)
{
	unsigned char c;
	int	hi, lo;

	buf_reset(out);
	for (; *s; s++) {
		c = (unsigned char)*s;
		if (c < 33 || c > 126 || c == '=')
			goto bad;
		if (c != '+') {
			buf_addch(out, c);
			continue;
		}
		if ((hi = hexval(s[1])) < 0 || (lo = hexval(s[2])) < 0)
			goto bad;
		buf_addch(out, hi << 4 | lo);
		s += 2;
	}
	buf_terminate(out);
	return 0;
bad:
	buf_reset(out);
	buf_terminate(out);
	return -1;
}

/* id_add - a Message-ID or boundary word: letters, digits, "-._" */
static void
id_add(struct buf *b, const char *s)
{
	unsigned char c;

	if (s == NULL || *s == '\0')
		s = "invalid";
	for (; *s; s++) {
		c = (unsigned char)*s;
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_')
			buf_addch(b, c);
		else
			buf_addch(b, '_');
	}
}

/* dsn_message_id - <expired.ID@host> or <delayed.ID@host> (see above) */
void
dsn_message_id(struct buf *b, enum dsn_action act, const char *token,
    const char *host)
{
	char	id[HOLD_TOKEN_LEN + 1];

	holdtag_derive(act == DSN_FAILED ? "expired" : "delayed", token, id,
	    sizeof(id));
	buf_reset(b);
	buf_cat(b, act == DSN_FAILED ? "<expired." : "<delayed.");
	id_add(b, token && *token ? id : NULL);
	buf_addch(b, '@');
	id_add(b, host);
	buf_addch(b, '>');
}

/* utf8_len - length of a valid UTF-8 sequence at s, 0 if invalid */
static size_t
utf8_len(const unsigned char *s, unsigned long *cp)
{
	unsigned long c;
	size_t	n, i;

	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		n = 2;
		c = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		n = 3;
		c = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		n = 4;
		c = s[0] & 0x07;
	} else
		return 0;
	for (i = 1; i < n; i++) {	/* stops at the terminator too */
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (s[i] & 0x3f);
	}
	if ((n == 3 && c < 0x800) || (n == 4 && c < 0x10000) ||
	    c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return n;
}

/* text_add - append, controls and invalid UTF-8 made '?' */
static void
text_add(struct buf *b, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	unsigned long cp;
	size_t	n;

	while (*p) {
		if (*p < 32 || *p == 127 || (n = utf8_len(p, &cp)) == 0) {
			buf_addch(b, '?');
			p++;
		} else {
			buf_add(b, p, n);
			p += n;
		}
	}
	buf_terminate(b);
}

/* ascii_add - append, anything but printable US-ASCII made '?' */
static void
ascii_add(struct buf *b, const char *s)
{
	unsigned char c;

	for (; *s; s++) {
		c = (unsigned char)*s;
		buf_addch(b, c >= 32 && c < 127 ? c : '?');
	}
	buf_terminate(b);
}

/* has_8bit - any octet >= 0x80 */
static int
has_8bit(const char *s, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] >= 0x80)
			return 1;
	return 0;
}

/* xtext_value - decoded xtext if printable US-ASCII, else as received */
static void
xtext_value(struct buf *b, const char *x)
{
	struct buf d = BUF_INIT;
	size_t	i;
	int	ok;

	ok = dsn_xtext_decode(x, &d) == 0 && d.len > 0;
	for (i = 0; ok && i < d.len; i++)
		if ((unsigned char)d.s[i] < 32 || (unsigned char)d.s[i] > 126)
			ok = 0;
	ascii_add(b, ok ? d.s : x);
	buf_free(&d);
}

/* utf8_xtext - RFC 6533 utf-8-addr-xtext: "\x{HEX}" for non-QCHARs */
static void
utf8_xtext(struct buf *b, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	unsigned long cp;
	size_t	n;

	while (*p) {
		n = utf8_len(p, &cp);
		if (n == 0 || cp < 32 || cp == 127) {
			buf_addch(b, '?');
			p++;
			continue;
		}
		if (cp > 126 || cp == ' ' || cp == '+' || cp == '=' ||
		    cp == '\\')
			buf_printf(b, "\\x{%lX}", cp);
		else
			buf_addch(b, (int)cp);
		p += n;
	}
	buf_terminate(b);
}

/* hdr_fold - append a header line folded at white space near 78 */
static void
hdr_fold(struct buf *out, const char *s, size_t n)
{
	size_t	start = 0, brk, i;

	while (n - start > HDR_SOFT) {
		brk = 0;
		for (i = start + 1; i < n && (brk == 0 ||
		    i <= start + HDR_SOFT); i++)
			if (WSP(s[i]) && !WSP(s[i - 1]))
				brk = i;
		if (brk == 0)
			break;
		buf_add(out, s + start, brk - start);
		buf_addch(out, '\n');
		start = brk;
	}
	buf_add(out, s + start, n - start);
	buf_addch(out, '\n');
}

/* hdr_add - "Name: value" with controls made '?', folded */
static void
hdr_add(struct buf *out, const char *name, const char *value)
{
	struct buf line = BUF_INIT;
	const char *p;

	buf_printf(&line, "%s: ", name);
	for (p = value; *p; p++)
		buf_addch(&line, (unsigned char)*p < 32 || *p == 127 ? '?' :
		    *p);
	while (line.len > 0 && WSP(line.s[line.len - 1]))
		line.len--;
	hdr_fold(out, line.s, line.len);
	buf_free(&line);
}

/* rfc_date - RFC 5322 date-time in UTC */
static void
rfc_date(struct buf *b, long long t)
{
	static const char *const day[] = { "Sun", "Mon", "Tue", "Wed", "Thu",
		"Fri", "Sat" };
	static const char *const mon[] = { "Jan", "Feb", "Mar", "Apr",
		"May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	time_t	tt = (time_t)t;
	struct tm tm;

	if ((long long)tt != t || gmtime_r(&tt, &tm) == NULL ||
	    tm.tm_year < 0 || tm.tm_year > 9999 - 1900) {
		tt = 0;	/* out of range: the epoch, still a valid date */
		gmtime_r(&tt, &tm);
	}
	buf_printf(b, "%s, %02d %s %04d %02d:%02d:%02d +0000",
	    day[tm.tm_wday], tm.tm_mday, mon[tm.tm_mon], tm.tm_year + 1900,
	    tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* unit - "1 day", "5 days" */
static void
unit(struct buf *b, long long n, const char *word)
{
	buf_printf(b, "%lld %s%s", n, word, n == 1 ? "" : "s");
}

/* duration - "5 days", "1 day 12 hours", "3 hours 5 minutes", "8 seconds" */
static void
duration(struct buf *b, long long s)
{
	long long d, h, m;

	if (s < 0)
		s = 0;
	d = s / 86400;
	h = s % 86400 / 3600;
	m = s % 3600 / 60;
	if (d > 0) {
		unit(b, d, "day");
		if (h > 0) {
			buf_addch(b, ' ');
			unit(b, h, "hour");
		}
	} else if (h > 0) {
		unit(b, h, "hour");
		if (m > 0) {
			buf_addch(b, ' ');
			unit(b, m, "minute");
		}
	} else if (m > 0)
		unit(b, m, "minute");
	else
		unit(b, s, "second");
}

/*
 * span - seconds from a to b, 0 if b is earlier.  The times come from a
 * hold record; absurd ones must not overflow the subtraction.
 */
static long long
span(long long a, long long b)
{
	if (b <= a)
		return 0;
	if (a < 0 && b > LLONG_MAX + a)
		return LLONG_MAX;
	return b - a;
}

/*
 * is_holdtag - is this header line our X-ETRN-Hold header.  A bare CR
 * counts as the space it becomes in the copy (orig_line).
 */
static int
is_holdtag(const char *p, size_t n)
{
	size_t	k = strlen(HOLDTAG_HEADER);

	if (n < k || strncasecmp(p, HOLDTAG_HEADER, k) != 0)
		return 0;
	while (k < n && (WSP(p[k]) || p[k] == '\r'))
		k++;
	return k < n && p[k] == ':';
}

/* line_end - LF, CRLF or the end; in the body a bare CR too */
static size_t
line_end(const char *p, size_t len, size_t i, int in_hdr)
{
	for (; i < len; i++)
		if (p[i] == '\n' || (p[i] == '\r' && (!in_hdr ||
		    i + 1 == len || p[i + 1] == '\n')))
			break;
	return i;
}

/*
 * orig_line - one line of the original and its LF.  A bare CR ends no
 * header line.  Over 998 octets, the line is broken with LF SPACE, as
 * Postfix's SMTP client does (smtp_line_length_limit): the report must
 * keep the limit whatever the held message had.
 */
static void
orig_line(struct buf *out, const char *p, size_t n, int in_hdr)
{
	size_t	k, col = 0;

	for (k = 0; k < n; k++) {
		if (col == LINE_MAX_LEN) {
			buf_cat(out, "\n ");
			col = 1;
		}
		buf_addch(out, in_hdr && p[k] == '\r' ? ' ' : p[k]);
		col++;
	}
	buf_addch(out, '\n');
}

/* orig_copy - LF line ends, no X-ETRN-Hold; headers only unless full */
static void
orig_copy(struct buf *out, const char *p, size_t len, int full)
{
	size_t	i = 0, s, e;
	int	in_hdr = 1, skip = 0;

	while (i < len) {
		e = line_end(p, len, s = i, in_hdr);
		if (e + 1 < len && p[e] == '\r' && p[e + 1] == '\n')
			i = e + 2;
		else
			i = e < len ? e + 1 : e;
		if (in_hdr) {
			if (e == s) {
				in_hdr = 0;
				if (!full)
					break;
			} else if (WSP(p[s])) {
				if (skip)
					continue;
			} else if ((skip = is_holdtag(p + s, e - s)))
				continue;
		}
		orig_line(out, p + s, e - s, in_hdr);
	}
}

/* wrap_add - a paragraph wrapped at TEXT_WIDTH, then a blank line */
static void
wrap_add(struct buf *out, struct buf *para)
{
	const char *s = buf_terminate(para);
	size_t	col = 0, n;

	while (*s) {
		while (*s == ' ')
			s++;
		if (*s == '\0')
			break;
		n = strcspn(s, " ");
		if (col > 0 && col + 1 + n > TEXT_WIDTH) {
			buf_addch(out, '\n');
			col = 0;
		} else if (col > 0) {
			buf_addch(out, ' ');
			col++;
		}
		buf_add(out, s, n);
		col += n;
		s += n;
	}
	buf_cat(out, "\n\n");
	buf_reset(para);
}

/* text_part - the human-readable explanation */
static void
text_part(struct dsn_ctx *c)
{
	const struct dsn_input *in = c->in;
	int	failed = in->action == DSN_FAILED;
	struct buf p = BUF_INIT;
	size_t	i;

	buf_printf(&p, "This is the mail system at host %s.", c->mta.s);
	wrap_add(&c->text, &p);
	buf_printf(&p, "Your message %s to the recipients listed below. "
	    "Mail for the domain %s is held here until the domain's own mail "
	    "server connects and collects it (SMTP ETRN).", failed ?
	    "could not be delivered" : "has not yet been delivered",
	    c->dom.s);
	if (failed)
		buf_printf(&p, " It did not connect to collect your message "
		    "within %s of its arrival on %s.", c->held.s, c->arr.s);
	else
		buf_printf(&p, " It has not connected to collect your "
		    "message in the %s since its arrival on %s.", c->held.s,
		    c->arr.s);
	wrap_add(&c->text, &p);
	if (failed)
		buf_cat(&p, "Your message is returned to you and will not be "
		    "delivered.");
	else
		buf_printf(&p, "Your message is still held and will be kept "
		    "until %s. If it has not been collected by then, it will "
		    "be returned to you. You need not send it again.",
		    c->dead.s);
	if (c->orig_ok)
		buf_printf(&p, " %s attached to this report.",
		    in->original_is_full ? "A copy is" : "Its headers are");
	wrap_add(&c->text, &p);
	buf_cat(&c->text, failed ? "The recipients were:\n" :
	    "The recipients are:\n");
	for (i = 0; i < c->nr; i++) {
		buf_cat(&c->text, "    ");
		text_add(&c->text, c->rv[i]->addr);
		buf_addch(&c->text, '\n');
	}
	buf_free(&p);
}

/* status_msg - the per-message fields */
static void
status_msg(struct dsn_ctx *c)
{
	const struct dsn_input *in = c->in;
	struct buf v = BUF_INIT;

	buf_printf(&v, "dns; %s", c->mta.s);
	hdr_add(&c->status, "Reporting-MTA", v.s);
	if (in->queue_id && *in->queue_id) {
		buf_reset(&v);
		ascii_add(&v, in->queue_id);
		hdr_add(&c->status, "X-Openetrn-Queue-ID", v.s);
	}
	if (in->envid && *in->envid) {
		buf_reset(&v);
		xtext_value(&v, in->envid);
		hdr_add(&c->status, "Original-Envelope-Id", v.s);
	}
	hdr_add(&c->status, "Arrival-Date", c->arr.s);
	buf_free(&v);
}

/* orcpt_value - "type;address", the address xtext-decoded */
static void
orcpt_value(struct buf *v, const char *orcpt)
{
	const char *semi = strchr(orcpt, ';');
	char	*type;

	if (semi == NULL || semi == orcpt) {
		buf_cat(v, "rfc822;");
		xtext_value(v, semi ? semi + 1 : orcpt);
		return;
	}
	type = xstrndup(orcpt, (size_t)(semi - orcpt));
	ascii_add(v, type);
	buf_addch(v, ';');
	xtext_value(v, semi + 1);
	free(type);
}

/* status_rcpt - one recipient's fields, after a blank line */
static void
status_rcpt(struct dsn_ctx *c, const struct dsn_rcpt *r)
{
	int	failed = c->in->action == DSN_FAILED;
	struct buf v = BUF_INIT;

	buf_addch(&c->status, '\n');
	if (r->orcpt && *r->orcpt) {
		orcpt_value(&v, r->orcpt);
		hdr_add(&c->status, "Original-Recipient", v.s);
		buf_reset(&v);
	}
	if (has_8bit(r->addr, strlen(r->addr))) {
		buf_cat(&v, "utf-8; ");
		utf8_xtext(&v, r->addr);
	} else {
		buf_cat(&v, "rfc822; ");
		ascii_add(&v, r->addr);
	}
	hdr_add(&c->status, "Final-Recipient", v.s);
	hdr_add(&c->status, "Action", failed ? "failed" : "delayed");
	hdr_add(&c->status, "Status", failed ? "4.4.7" : "4.4.1");
	buf_reset(&v);
	buf_printf(&v, "X-Openetrn; held for ETRN: %s did not connect "
	    "within %s", c->dom.s, c->held.s);
	hdr_add(&c->status, "Diagnostic-Code", v.s);
	if (!failed)
		hdr_add(&c->status, "Will-Retry-Until", c->dead.s);
	buf_free(&v);
}

/*
 * utf8_header - does the header section of a copy made by orig_copy hold
 * UTF-8 (RFC 6532): 8-bit octets, all of them valid UTF-8.  Other 8-bit
 * octets are no UTF-8 message; it goes back as before.
 */
static int
utf8_header(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	unsigned long cp;
	size_t	i, n, end = len;
	int	eight = 0;

	for (i = 0; i + 1 < len; i++)
		if (s[i] == '\n' && s[i + 1] == '\n') {
			end = i + 1;
			break;
		}
	for (i = 0; i < end; i += n) {
		if (p[i] < 0x80) {
			n = 1;
			continue;
		}
		if ((n = utf8_len(p + i, &cp)) == 0 || i + n > end)
			return 0;
		eight = 1;
	}
	return eight;
}

/* orig_part - the returned message or its headers, or a note */
static void
orig_part(struct dsn_ctx *c)
{
	const struct dsn_input *in = c->in;

	orig_copy(&c->orig, in->original, in->original_len,
	    in->original_is_full);
	if (c->orig.len == 0) {
		buf_cat(&c->orig, "The original message is not available.\n");
		c->orig_type = "text/plain; charset=us-ascii";
	} else {
		c->orig_utf8 = utf8_header(buf_terminate(&c->orig),
		    c->orig.len);
		if (c->orig_utf8)
			c->orig_type = in->original_is_full ?
			    "message/global" : "message/global-headers";
		else
			c->orig_type = in->original_is_full ?
			    "message/rfc822" : "text/rfc822-headers";
		c->orig_ok = 1;
	}
	buf_terminate(&c->orig);
}

/* ctx_init - select the recipients, sanitize and format the inputs */
static void
ctx_init(struct dsn_ctx *c, const struct dsn_input *in)
{
	size_t	i;

	memset(c, 0, sizeof(*c));
	c->in = in;
	if (in->nrcpt > 0)
		c->rv = xreallocarray(NULL, in->nrcpt, sizeof(*c->rv));
	for (i = 0; i < in->nrcpt; i++)
		if (in->rcpt[i].addr != NULL && dsn_wanted(in->action,
		    in->rcpt[i].notify, in->sender))
			c->rv[c->nr++] = &in->rcpt[i];
	ascii_add(&c->mta, in->reporting_mta);
	ascii_add(&c->dom, in->domain);
	rfc_date(&c->arr, in->arrived);
	rfc_date(&c->dead, in->expires);
	duration(&c->held, span(in->arrived, in->action == DSN_FAILED ?
	    in->expires : in->now));
}

/* ctx_free - release the context */
static void
ctx_free(struct dsn_ctx *c)
{
	free(c->rv);
	buf_free(&c->mta);
	buf_free(&c->dom);
	buf_free(&c->arr);
	buf_free(&c->dead);
	buf_free(&c->held);
	buf_free(&c->text);
	buf_free(&c->status);
	buf_free(&c->orig);
}

/* contains - does needle occur in the n octets at h */
static int
contains(const char *h, size_t n, const char *needle)
{
	size_t	k = strlen(needle), i;

	for (i = 0; k > 0 && i + k <= n; i++)
		if (h[i] == needle[0] && memcmp(h + i, needle, k) == 0)
			return 1;
	return 0;
}

/* boundary_pick - random boundary occurring in no part */
static int
boundary_pick(struct dsn_ctx *c, struct buf *b)
{
	char	rnd[HOLD_TOKEN_LEN + 1];
	int	try;

	for (try = 0; try < BOUNDARY_TRIES; try++) {
		buf_reset(b);
		buf_cat(b, BOUNDARY_PREFIX);
		if (holdtag_token_new(rnd, sizeof(rnd)) == 0)
			buf_cat(b, rnd);
		else	/* no randomness: the check below still holds */
			buf_printf(b, "%lld_%d", c->in->now, try);
		if (!contains(c->text.s, c->text.len, b->s) &&
		    !contains(c->status.s, c->status.len, b->s) &&
		    !contains(c->orig.s, c->orig.len, b->s))
			return 0;
	}
	return -1;
}

/* lines_ok - no line longer than 998 octets */
static int
lines_ok(const char *s, size_t n)
{
	size_t	i, col = 0;

	for (i = 0; i < n; i++) {
		col = s[i] == '\n' ? 0 : col + 1;
		if (col > LINE_MAX_LEN)
			return 0;
	}
	return 1;
}

/* top_headers - the message header */
static void
top_headers(struct dsn_ctx *c, struct buf *out, const char *bnd,
    int eight)
{
	const struct dsn_input *in = c->in;
	struct buf v = BUF_INIT;

	buf_printf(&v, "Mail Delivery System <MAILER-DAEMON@%s>", c->mta.s);
	hdr_add(out, "From", v.s);
	buf_reset(&v);
	text_add(&v, in->sender);
	hdr_add(out, "To", v.s);
	hdr_add(out, "Subject", in->action == DSN_FAILED ?
	    "Undelivered Mail Returned to Sender" :
	    "Delayed Mail (still being held)");
	buf_reset(&v);
	rfc_date(&v, in->now);
	hdr_add(out, "Date", v.s);
	dsn_message_id(&v, in->action, in->token, in->reporting_mta);
	hdr_add(out, "Message-ID", v.s);
	hdr_add(out, "Auto-Submitted", "auto-replied");
	hdr_add(out, "MIME-Version", "1.0");
	buf_reset(&v);
	buf_printf(&v, "multipart/report; report-type=delivery-status; "
	    "boundary=\"%s\"", bnd);
	hdr_add(out, "Content-Type", v.s);
	if (eight)
		hdr_add(out, "Content-Transfer-Encoding", "8bit");
	buf_free(&v);
}

/* part_add - a delimiter, the part's header and its content */
static void
part_add(struct buf *out, const char *bnd, const char *desc,
    const char *type, const struct buf *body)
{
	buf_printf(out, "\n--%s\n", bnd);
	hdr_add(out, "Content-Description", desc);
	hdr_add(out, "Content-Type", type);
	if (has_8bit(body->s, body->len))
		hdr_add(out, "Content-Transfer-Encoding", "8bit");
	buf_addch(out, '\n');
	buf_add(out, body->s, body->len);
}

/* dsn_assemble - the message from its parts */
static int
dsn_assemble(struct dsn_ctx *c, struct buf *out, const char *bnd)
{
	int	failed = c->in->action == DSN_FAILED;
	int	text8 = has_8bit(c->text.s, c->text.len);
	const char *desc;

	top_headers(c, out, bnd, text8 || has_8bit(c->orig.s, c->orig.len));
	if (!lines_ok(out->s, out->len))
		return -1;
	buf_cat(out, "\nThis is a MIME-encapsulated message.\n");
	part_add(out, bnd, "Notification", text8 ?
	    "text/plain; charset=utf-8" : "text/plain; charset=us-ascii",
	    &c->text);
	part_add(out, bnd, "Delivery report", "message/delivery-status",
	    &c->status);
	if (c->in->original_is_full)
		desc = failed ? "Undelivered Message" : "Held Message";
	else
		desc = failed ? "Undelivered Message Headers" :
		    "Held Message Headers";
	part_add(out, bnd, desc, c->orig_type, &c->orig);
	buf_printf(out, "\n--%s--\n", bnd);
	return 0;
}

/* dsn_check - the inputs dsn_build() cannot do without */
static int
dsn_check(const struct dsn_input *in, struct buf *err)
{
	const char *why = NULL;

	if (in->action != DSN_FAILED && in->action != DSN_DELAYED)
		why = "unknown DSN action";
	else if (in->sender == NULL || *in->sender == '\0' ||
	    strcmp(in->sender, "<>") == 0)
		why = "null sender: no DSN";
	else if (in->reporting_mta == NULL || *in->reporting_mta == '\0' ||
	    in->domain == NULL || *in->domain == '\0' || in->token == NULL ||
	    *in->token == '\0')
		why = "DSN input incomplete (host, domain or token)";
	else if ((in->rcpt == NULL && in->nrcpt > 0) ||
	    (in->original == NULL && in->original_len > 0))
		why = "DSN input incomplete (recipients or original)";
	if (why == NULL)
		return 0;
	buf_cat(err, why);
	return -1;
}

/* dsn_build - the whole DSN message; -1 with a reason in err */
int
dsn_build(const struct dsn_input *in, struct buf *out, struct buf *err)
{
	struct dsn_ctx c;
	struct buf bnd = BUF_INIT;
	size_t	i;
	int	st = -1;

	buf_reset(out);
	if (dsn_check(in, err) < 0)
		return -1;
	ctx_init(&c, in);
	if (c.nr == 0) {
		buf_cat(err, "no recipient asked for this DSN (NOTIFY)");
		goto done;
	}
	orig_part(&c);
	text_part(&c);
	status_msg(&c);
	for (i = 0; i < c.nr; i++)
		status_rcpt(&c, c.rv[i]);
	if (!lines_ok(c.text.s, c.text.len) ||
	    !lines_ok(c.status.s, c.status.len))
		buf_cat(err, "DSN line longer than 998 octets (address?)");
	else if (boundary_pick(&c, &bnd) < 0)
		buf_cat(err, "no MIME boundary absent from the content");
	else if (dsn_assemble(&c, out, bnd.s) < 0)
		buf_cat(err, "DSN header line longer than 998 octets");
	else
		st = 0;
	if (st < 0)
		buf_reset(out);
done:
	buf_terminate(out);
	buf_terminate(err);
	ctx_free(&c);
	buf_free(&bnd);
	return st;
}

/*
 * top_boundary - the boundary of the top header [m, hend) in b: the
 * boundary="..." of its Content-Type field (an address in To: may hold
 * the same text); -1 if none
 */
static int
top_boundary(const char *m, const char *hend, struct buf *b)
{
	static const char ct[] = "content-type:", bp[] = "boundary=\"";
	const char *p, *e, *q, *v;

	for (p = m; p < hend; p = e) {
		/* The field: up to an LF not followed by white space. */
		for (e = p; e < hend && (*e != '\n' || (e + 1 < hend &&
		    WSP(e[1]))); e++)
			;
		if (e < hend)
			e++;
		if ((size_t)(e - p) < sizeof(ct) - 1 ||
		    strncasecmp(p, ct, sizeof(ct) - 1) != 0)
			continue;
		if ((v = memmem(p, (size_t)(e - p), bp, sizeof(bp) - 1)) ==
		    NULL)
			return -1;
		v += sizeof(bp) - 1;
		if ((q = memchr(v, '"', (size_t)(e - v))) == NULL || q == v)
			return -1;
		buf_add(b, v, (size_t)(q - v));
		buf_terminate(b);
		return 0;
	}
	return -1;
}

/*
 * part_ctype - the first Content-Type value of a part header, from its
 * first non-blank octet to the end of its line (*len octets); NULL when
 * there is none
 */
static const char *
part_ctype(const char *h, size_t n, size_t *len)
{
	static const char ct[] = "content-type:";
	size_t	i, k;

	for (i = 0; i < n; i = k + 1) {
		for (k = i; k < n && h[k] != '\n'; k++)
			;
		if (k - i < sizeof(ct) - 1 ||
		    strncasecmp(h + i, ct, sizeof(ct) - 1) != 0)
			continue;
		for (i += sizeof(ct) - 1; i < k && WSP(h[i]); i++)
			;
		*len = k - i;
		return h + i;
	}
	return NULL;
}

/* part_is_global - does a part header declare message/global(-headers) */
static int
part_is_global(const char *h, size_t n)
{
	const char *v;
	size_t	len;

	v = part_ctype(h, n, &len);
	return v != NULL && len >= 14 &&
	    strncasecmp(v, "message/global", 14) == 0;
}

/* dsn_needs - DSN_8BITMIME, DSN_SMTPUTF8, DSN_GLOBAL of a built DSN */
int
dsn_needs(const char *m, size_t len)
{
	const char *hend, *p, *q;
	struct buf delim = BUF_INIT, bnd = BUF_INIT;
	int	flags = 0;

	if (!has_8bit(m, len))
		return 0;
	flags |= DSN_8BITMIME;
	hend = memmem(m, len, "\n\n", 2);
	hend = hend ? hend + 1 : m + len;
	if (has_8bit(m, (size_t)(hend - m)))
		flags |= DSN_SMTPUTF8;
	if (top_boundary(m, hend, &bnd) < 0)
		return flags;
	buf_printf(&delim, "\n--%s\n", bnd.s);
	buf_free(&bnd);
	for (p = hend; (p = memmem(p, len - (size_t)(p - m), delim.s,
	    delim.len)) != NULL;) {
		p += delim.len;
		q = memmem(p, len - (size_t)(p - m), "\n\n", 2);
		if (part_is_global(p, q ? (size_t)(q - p) + 1 :
		    len - (size_t)(p - m)))
			flags |= DSN_GLOBAL;
	}
	buf_free(&delim);
	return flags;
}

/* One MIME part of a built DSN, as dsn_downgrade() reads it. */
struct dsn_part {
	const char *h, *b;	/* its header section (with the LF ending the
				 * last field) and its content */
	size_t	hlen, blen;
	char	type[48];	/* the media type, lowercase, "" if unknown */
	const char *ctype;	/* a new Content-Type, NULL to keep it */
	int	qp, headers_only, note;	/* what dsn_downgrade does */
};

#define DSN_MAX_PARTS	8	/* dsn_build() writes 3 */
#define QP_WIDTH	76	/* RFC 2045 6.7 (5) */

/* part_type - the media type of a part header, lowercase, in t */
static void
part_type(const char *h, size_t n, char *t, size_t size)
{
	const char *v;
	size_t	i, len, j = 0;

	*t = '\0';
	if ((v = part_ctype(h, n, &len)) == NULL)
		return;
	for (i = 0; i < len && v[i] != ';' && !WSP(v[i]) && j + 1 < size; i++)
		t[j++] = (char)(v[i] >= 'A' && v[i] <= 'Z' ?
		    v[i] - 'A' + 'a' : v[i]);
	t[j] = '\0';
}

/* qp_add - content encoded quoted-printable (RFC 2045 6.7), LF line ends */
static void
qp_add(struct buf *out, const char *s, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	unsigned char c;
	size_t	i, col = 0, w;
	int	lit;

	for (i = 0; i < n; i++) {
		c = (unsigned char)s[i];
		if (c == '\n') {
			buf_addch(out, '\n');
			col = 0;
			continue;
		}
		/* Space and tab stay, unless they end a line. */
		lit = (c >= 33 && c <= 126 && c != '=') ||
		    (WSP(c) && i + 1 < n && s[i + 1] != '\n');
		w = lit ? 1 : 3;
		if (col + w > QP_WIDTH - 1) {
			buf_cat(out, "=\n");
			col = 0;
		}
		if (lit)
			buf_addch(out, (char)c);
		else {
			buf_addch(out, '=');
			buf_addch(out, hex[c >> 4]);
			buf_addch(out, hex[c & 15]);
		}
		col += w;
	}
}

/* parts_split - the parts of a built DSN after hend; their number or -1 */
static int
parts_split(const char *m, size_t len, const char *hend, const char *bnd,
    size_t bl, struct dsn_part *pv, const char **pre_end, const char **close)
{
	const char *p = hend, *end = m + len, *d, *q;
	int	n = -1;

	for (;;) {
		d = memmem(p, (size_t)(end - p), "\n--", 3);
		while (d != NULL && ((size_t)(end - d) < 3 + bl + 1 ||
		    memcmp(d + 3, bnd, bl) != 0 || (d[3 + bl] != '\n' &&
		    d[3 + bl] != '-')))
			d = memmem(d + 1, (size_t)(end - d - 1), "\n--", 3);
		if (d == NULL)
			return -1;
		if (n < 0)
			*pre_end = d;
		else
			pv[n].blen = (size_t)(d - pv[n].b);
		if (d[3 + bl] == '-') {
			*close = d;
			return n < 0 ? -1 : n + 1;
		}
		if (++n == DSN_MAX_PARTS)
			return -1;
		pv[n].h = d + 3 + bl + 1;
		if ((q = memmem(pv[n].h, (size_t)(end - pv[n].h), "\n\n",
		    2)) == NULL)
			return -1;
		pv[n].hlen = (size_t)(q + 1 - pv[n].h);
		pv[n].b = q + 2;
		part_type(pv[n].h, pv[n].hlen, pv[n].type,
		    sizeof(pv[n].type));
		p = pv[n].b;
	}
}

/* part_plan - what becomes of part pv for the server (see dsn_downgrade) */
static void
part_plan(struct dsn_part *pv, int eightbit, int utf8)
{
	pv->ctype = NULL;
	pv->qp = pv->headers_only = pv->note = 0;
	if (!has_8bit(pv->b, pv->blen))
		return;
	if (strncmp(pv->type, "message/global", 14) == 0)
		pv->qp = !eightbit || !utf8;
	else if (strcmp(pv->type, "message/rfc822") == 0 && !eightbit) {
		pv->headers_only = 1;
		pv->ctype = "text/rfc822-headers";
	} else
		pv->qp = !eightbit;
}

/* part_emit - one part as planned: delimiter, header, content */
static void
part_emit(struct buf *out, const char *bnd, const struct dsn_part *pv,
    const char *note)
{
	static const char ct[] = "Content-Type:", cte[] =
	    "Content-Transfer-Encoding:", cd[] = "Content-Description:";
	const char *h = pv->h, *e, *b = pv->b, *q;
	size_t	blen = pv->blen, n;
	struct buf body = BUF_INIT;
	int	skip = 0, eight, qp;

	buf_printf(out, "\n--%s\n", bnd);
	for (; h < pv->h + pv->hlen; h = e + 1) {
		e = memchr(h, '\n', (size_t)(pv->h + pv->hlen - h));
		n = (size_t)(e - h);
		if (!WSP(*h))
			skip = (pv->ctype && n >= sizeof(ct) - 1 &&
			    strncasecmp(h, ct, sizeof(ct) - 1) == 0) ||
			    (n >= sizeof(cte) - 1 &&
			    strncasecmp(h, cte, sizeof(cte) - 1) == 0);
		if (pv->headers_only && n >= sizeof(cd) - 1 &&
		    strncasecmp(h, cd, sizeof(cd) - 1) == 0) {
			buf_printf(out, "%.*s Headers\n", (int)n, h);
			continue;
		}
		if (!skip)
			buf_add(out, h, n + 1);
		else if (pv->ctype && strncasecmp(h, ct, sizeof(ct) - 1) == 0)
			hdr_add(out, "Content-Type", pv->ctype);
	}
	if (pv->headers_only &&
	    (q = memmem(b, blen, "\n\n", 2)) != NULL)
		blen = (size_t)(q + 1 - b);	/* the header section */
	buf_add(&body, b, blen);
	if (note != NULL)
		buf_cat(&body, note);
	eight = has_8bit(body.s, body.len);
	qp = pv->qp || (pv->headers_only && eight);
	if (qp || eight)
		hdr_add(out, "Content-Transfer-Encoding", qp ?
		    "quoted-printable" : "8bit");
	buf_addch(out, '\n');
	if (qp)
		qp_add(out, body.s, body.len);
	else
		buf_add(out, body.s, body.len);
	buf_free(&body);
}

/*
 * dsn_downgrade - a DSN built by dsn_build() made fit for a server without
 * 8BITMIME (eightbit 0) or without SMTPUTF8 (utf8 0), in out; 0, or -1 if
 * m is not shaped as dsn_build() writes it (out is then empty)
 */
int
dsn_downgrade(const char *m, size_t len, int eightbit, int utf8,
    struct buf *out)
{
	static const char cte8[] = "Content-Transfer-Encoding: 8bit\n";
	struct dsn_part pv[DSN_MAX_PARTS];
	struct buf parts = BUF_INIT, bnd = BUF_INIT, note = BUF_INIT;
	struct buf para = BUF_INIT;
	const char *hend, *b, *e, *pre_end = NULL, *close = NULL;
	int	n, i, headers_only = 0;

	buf_reset(out);
	if ((hend = memmem(m, len, "\n\n", 2)) == NULL ||
	    top_boundary(m, hend + 1, &bnd) < 0) {
		buf_free(&bnd);
		return -1;
	}
	if ((n = parts_split(m, len, hend + 1, bnd.s, bnd.len, pv, &pre_end,
	    &close)) < 0) {
		buf_free(&bnd);
		return -1;
	}
	for (i = 0; i < n; i++) {
		part_plan(&pv[i], eightbit, utf8);
		headers_only |= pv[i].headers_only;
	}
	if (headers_only) {
		buf_cat(&para, "Only the headers of your message are attached: "
		    "the mail server that took this report does not accept "
		    "8-bit data (no 8BITMIME).");
		buf_addch(&note, '\n');
		wrap_add(&note, &para);
		note.len--;	/* one LF ends it, as the text's last line */
	}
	/* The note goes at the end of the text (part 1). */
	for (i = 0; i < n; i++)
		part_emit(&parts, bnd.s, &pv[i], headers_only && i == 0 &&
		    strcmp(pv[0].type, "text/plain") == 0 ?
		    buf_terminate(&note) : NULL);
	/* The top header without its 8bit line, which is set anew. */
	for (b = m; b < hend + 1; b = e + 1) {
		e = memchr(b, '\n', (size_t)(hend + 1 - b));
		if ((size_t)(e + 1 - b) != sizeof(cte8) - 1 ||
		    strncasecmp(b, cte8, sizeof(cte8) - 1) != 0)
			buf_add(out, b, (size_t)(e + 1 - b));
	}
	if (has_8bit(parts.s, parts.len))
		buf_cat(out, cte8);
	buf_add(out, hend + 1, (size_t)(pre_end - hend - 1));
	buf_add(out, parts.s, parts.len);
	buf_add(out, close, (size_t)(m + len - close));
	buf_terminate(out);
	buf_free(&parts);
	buf_free(&bnd);
	buf_free(&note);
	buf_free(&para);
	return 0;
}
