/*
 * NAME
 *	pfqueue - parse the output of Postfix's `postqueue -j`, `postcat -e`
 * SUMMARY
 *	pfq_parse(text, len, &list, &badline, &why);
 *	pfq_sort(&list); m = pfq_find(&list, queue_id);
 *	pfq_envelope(postcat_e_output, &envelope);
 * DESCRIPTION
 *	postqueue -j prints one JSON object per queued message, one a line:
 *	queue_name, queue_id, arrival_time, message_size, forced_expire,
 *	sender and recipients, an array of {address, delay_reason}.  This is
 *	a small strict JSON reader for exactly that: it keeps queue_name,
 *	queue_id and the recipient addresses and skips every other field,
 *	whatever its type (up to PFQ_MAX_DEPTH levels of nesting).
 *
 *	Escapes are decoded (\" \\ \/ \b \f \n \r \t \uXXXX, surrogate pairs
 *	to UTF-8).  Postfix sends control characters as \uXXXX; a string
 *	that decodes to something that cannot be a C string or is absurdly
 *	long (\u0000, a lone surrogate, more than PFQ_MAX_STR bytes) is kept
 *	as "", which never equals a queue ID or an address.
 *
 *	pfq_envelope() reads the envelope records `postcat -e` prints, one
 *	"name: value" a line: sender, message_size, recipient (and the
 *	original_recipient and named attributes notify_flags and
 *	dsn_orig_rcpt before it, which belong to that recipient),
 *	done_recipient (delivered: left out), and the named attributes
 *	envelope_id and ret_flags.  The result is what etrn-milter records
 *	(struct qb_envelope): NOTIFY and RET as the SMTP keywords, ENVID and
 *	the ORCPT address as xtext (Postfix keeps them decoded), and no
 *	ORCPT where Postfix made up "rfc822;<recipient>" itself.
 * DIAGNOSTICS
 *	pfq_parse_line() and pfq_parse() return -1 with a reason (and the
 *	1-based line number) for anything that is not well-formed: a
 *	truncated line, a bad escape, a raw control character in a string,
 *	trailing junk, a missing queue_name or queue_id.  Callers must then
 *	treat the whole listing as unknown, never as "message absent".
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <strings.h>

#include "mail/pfqueue.h"
#include "mail/qbackend.h"
#include "util/buf.h"
#include "util/xalloc.h"

struct pfq_in {
	const char *p, *end;
	const char *why;
};

/* pfq_fail - record the first reason, return -1 */
static int
pfq_fail(struct pfq_in *in, const char *why)
{
	if (in->why == NULL)
		in->why = why;
	return -1;
}

/* pfq_ws - skip JSON white space */
static void
pfq_ws(struct pfq_in *in)
{
	while (in->p < in->end && (*in->p == ' ' || *in->p == '\t' ||
	    *in->p == '\r' || *in->p == '\n'))
		in->p++;
}

/* pfq_eat - consume ch after white space; 0 if it was there */
static int
pfq_eat(struct pfq_in *in, int ch)
{
	pfq_ws(in);
	if (in->p < in->end && *in->p == ch) {
		in->p++;
		return 0;
	}
	return -1;
}

/* pfq_hex4 - four hex digits after \u */
static int
pfq_hex4(struct pfq_in *in, unsigned *cp)
{
	int	i, c;

	*cp = 0;
	if (in->end - in->p < 4)
		return pfq_fail(in, "truncated \\u escape");
	for (i = 0; i < 4; i++) {
		c = (unsigned char)*in->p++;
		if (c >= '0' && c <= '9')
			*cp = *cp << 4 | (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			*cp = *cp << 4 | (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			*cp = *cp << 4 | (unsigned)(c - 'A' + 10);
		else
			return pfq_fail(in, "bad \\u escape");
	}
	return 0;
}

/* pfq_utf8 - append code point cp as UTF-8 */
static void
pfq_utf8(struct buf *b, unsigned cp)
{
	if (cp < 0x80)
		buf_addch(b, (int)cp);
	else if (cp < 0x800) {
		buf_addch(b, (int)(0xc0 | cp >> 6));
		buf_addch(b, (int)(0x80 | (cp & 0x3f)));
	} else if (cp < 0x10000) {
		buf_addch(b, (int)(0xe0 | cp >> 12));
		buf_addch(b, (int)(0x80 | (cp >> 6 & 0x3f)));
		buf_addch(b, (int)(0x80 | (cp & 0x3f)));
	} else {
		buf_addch(b, (int)(0xf0 | cp >> 18));
		buf_addch(b, (int)(0x80 | (cp >> 12 & 0x3f)));
		buf_addch(b, (int)(0x80 | (cp >> 6 & 0x3f)));
		buf_addch(b, (int)(0x80 | (cp & 0x3f)));
	}
}

/* pfq_unicode - \uXXXX (and a following low surrogate) as UTF-8 */
static int
pfq_unicode(struct pfq_in *in, struct buf *out, int *usable)
{
	unsigned cp, lo;

	if (pfq_hex4(in, &cp) < 0)
		return -1;
	if (cp >= 0xd800 && cp <= 0xdbff && in->end - in->p >= 6 &&
	    in->p[0] == '\\' && in->p[1] == 'u') {
		in->p += 2;
		if (pfq_hex4(in, &lo) < 0)
			return -1;
		if (lo >= 0xdc00 && lo <= 0xdfff) {
			pfq_utf8(out, 0x10000 + ((cp - 0xd800) << 10) +
			    (lo - 0xdc00));
			return 0;
		}
		*usable = 0;	/* high surrogate, then something else */
		cp = lo;
	}
	if (cp == 0 || (cp >= 0xd800 && cp <= 0xdfff))
		*usable = 0;
	else
		pfq_utf8(out, cp);
	return 0;
}

/* pfq_escape - one escape sequence after the backslash */
static int
pfq_escape(struct pfq_in *in, struct buf *out, int *usable)
{
	static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
	const char *hit;

	if (in->p >= in->end)
		return pfq_fail(in, "truncated escape");
	if (*in->p == 'u') {
		in->p++;
		return pfq_unicode(in, out, usable);
	}
	if ((hit = memchr(from, *in->p, sizeof(from) - 1)) == NULL)
		return pfq_fail(in, "bad escape");
	in->p++;
	buf_addch(out, to[hit - from]);
	return 0;
}

/* pfq_string - a string; *usable 0 if it cannot be used as text */
static int
pfq_string(struct pfq_in *in, struct buf *out, int *usable)
{
	unsigned char c;

	if (pfq_eat(in, '"') < 0)
		return pfq_fail(in, "string expected");
	buf_reset(out);
	buf_terminate(out);
	*usable = 1;
	for (;;) {
		if (in->p >= in->end)
			return pfq_fail(in, "unterminated string");
		c = (unsigned char)*in->p++;
		if (c == '"')
			break;
		if (c < 0x20)
			return pfq_fail(in, "control character in string");
		if (c != '\\')
			buf_addch(out, c);
		else if (pfq_escape(in, out, usable) < 0)
			return -1;
		if (out->len > PFQ_MAX_STR) {
			*usable = 0;
			buf_reset(out);	/* keep scanning, keep nothing */
		}
	}
	if (!*usable)
		buf_reset(out);
	return 0;
}

/* pfq_number - a JSON number (skipped) */
static int
pfq_number(struct pfq_in *in)
{
	const char *s;

	if (in->p < in->end && *in->p == '-')
		in->p++;
	s = in->p;
	while (in->p < in->end && *in->p >= '0' && *in->p <= '9')
		in->p++;
	if (in->p == s || (*s == '0' && in->p - s > 1))
		return pfq_fail(in, "bad number");
	if (in->p < in->end && *in->p == '.') {
		s = ++in->p;
		while (in->p < in->end && *in->p >= '0' && *in->p <= '9')
			in->p++;
		if (in->p == s)
			return pfq_fail(in, "bad number");
	}
	if (in->p < in->end && (*in->p == 'e' || *in->p == 'E')) {
		in->p++;
		if (in->p < in->end && (*in->p == '+' || *in->p == '-'))
			in->p++;
		s = in->p;
		while (in->p < in->end && *in->p >= '0' && *in->p <= '9')
			in->p++;
		if (in->p == s)
			return pfq_fail(in, "bad number");
	}
	return 0;
}

/* pfq_word - true, false or null */
static int
pfq_word(struct pfq_in *in)
{
	static const char *const words[] = { "true", "false", "null" };
	size_t	i, n;

	for (i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
		n = strlen(words[i]);
		if ((size_t)(in->end - in->p) >= n &&
		    memcmp(in->p, words[i], n) == 0) {
			in->p += n;
			return 0;
		}
	}
	return pfq_fail(in, "unexpected character");
}

static int pfq_skip(struct pfq_in *, int);

/* pfq_skip_list - the rest of an array or object after its opener */
static int
pfq_skip_list(struct pfq_in *in, int depth, int close, int object)
{
	struct buf key = BUF_INIT;
	int	usable, rc = 0;

	if (pfq_eat(in, close) == 0)
		return 0;
	do {
		if (object && (pfq_string(in, &key, &usable) < 0 ||
		    pfq_eat(in, ':') < 0)) {
			rc = pfq_fail(in, "bad object member");
			break;
		}
		if ((rc = pfq_skip(in, depth + 1)) < 0)
			break;
	} while (pfq_eat(in, ',') == 0);
	buf_free(&key);
	if (rc == 0 && pfq_eat(in, close) < 0)
		rc = pfq_fail(in, object ? "'}' expected" : "']' expected");
	return rc;
}

/* pfq_skip - any JSON value, not kept */
static int
pfq_skip(struct pfq_in *in, int depth)
{
	struct buf tmp = BUF_INIT;
	int	usable, rc;

	if (depth > PFQ_MAX_DEPTH)
		return pfq_fail(in, "nested too deeply");
	pfq_ws(in);
	if (in->p >= in->end)
		return pfq_fail(in, "value expected");
	switch (*in->p) {
	case '"':
		rc = pfq_string(in, &tmp, &usable);
		buf_free(&tmp);
		return rc;
	case '{':
		in->p++;
		return pfq_skip_list(in, depth, '}', 1);
	case '[':
		in->p++;
		return pfq_skip_list(in, depth, ']', 0);
	case 't':
	case 'f':
	case 'n':
		return pfq_word(in);
	default:
		return pfq_number(in);
	}
}

/* pfq_rcpt - one {"address": ..., ...} of the recipients array */
static int
pfq_rcpt(struct pfq_in *in, struct pfq_msg *m, struct buf *key,
    struct buf *val)
{
	char	*addr = NULL;
	int	usable;

	if (pfq_eat(in, '{') < 0)
		return pfq_fail(in, "recipient object expected");
	if (pfq_eat(in, '}') == 0)
		return pfq_fail(in, "recipient without address");
	do {
		if (pfq_string(in, key, &usable) < 0 || pfq_eat(in, ':') < 0)
			goto bad;
		if (strcmp(key->s, "address") != 0) {
			if (pfq_skip(in, 2) < 0)
				goto bad;
			continue;
		}
		if (addr != NULL || pfq_string(in, val, &usable) < 0)
			goto bad;
		addr = xstrdup(val->s);
	} while (pfq_eat(in, ',') == 0);
	if (pfq_eat(in, '}') < 0 || addr == NULL)
		goto bad;
	m->rcpt = xreallocarray(m->rcpt, m->nrcpt + 1, sizeof(char *));
	m->rcpt[m->nrcpt++] = addr;
	return 0;
bad:
	free(addr);
	return pfq_fail(in, "bad recipient object");
}

/* pfq_rcpts - the recipients array */
static int
pfq_rcpts(struct pfq_in *in, struct pfq_msg *m, struct buf *key,
    struct buf *val)
{
	if (pfq_eat(in, '[') < 0)
		return pfq_fail(in, "recipients: array expected");
	if (pfq_eat(in, ']') == 0)
		return 0;
	do {
		if (pfq_rcpt(in, m, key, val) < 0)
			return -1;
	} while (pfq_eat(in, ',') == 0);
	if (pfq_eat(in, ']') < 0)
		return pfq_fail(in, "recipients: ']' expected");
	return 0;
}

/* pfq_member - one "key": value of the message object */
static int
pfq_member(struct pfq_in *in, struct pfq_msg *m, int *seen_rcpt,
    struct buf *key, struct buf *val)
{
	char	**slot = NULL;
	int	usable;

	if (pfq_string(in, key, &usable) < 0 || pfq_eat(in, ':') < 0)
		return pfq_fail(in, "bad object member");
	if (strcmp(key->s, "queue_name") == 0)
		slot = &m->queue_name;
	else if (strcmp(key->s, "queue_id") == 0)
		slot = &m->queue_id;
	else if (strcmp(key->s, "recipients") == 0) {
		if ((*seen_rcpt)++)
			return pfq_fail(in, "duplicate recipients");
		return pfq_rcpts(in, m, key, val);
	} else
		return pfq_skip(in, 1);
	if (*slot != NULL)
		return pfq_fail(in, "duplicate field");
	if (pfq_string(in, val, &usable) < 0)
		return -1;
	*slot = xstrdup(val->s);
	return 0;
}

/* pfq_parse_line - one message object; -1 with *why if malformed */
int
pfq_parse_line(const char *line, size_t len, struct pfq_msg *m,
    const char **why)
{
	struct pfq_in in = { line, line + len, NULL };
	struct buf key = BUF_INIT, val = BUF_INIT;
	int	seen_rcpt = 0, rc = 0;

	memset(m, 0, sizeof(*m));
	if (pfq_eat(&in, '{') < 0)
		rc = pfq_fail(&in, "object expected");
	else if (pfq_eat(&in, '}') < 0) {
		do {
			if ((rc = pfq_member(&in, m, &seen_rcpt, &key,
			    &val)) < 0)
				break;
		} while (pfq_eat(&in, ',') == 0);
		if (rc == 0 && pfq_eat(&in, '}') < 0)
			rc = pfq_fail(&in, "'}' expected");
	}
	pfq_ws(&in);
	if (rc == 0 && in.p != in.end)
		rc = pfq_fail(&in, "junk after the object");
	if (rc == 0 && (m->queue_name == NULL || m->queue_id == NULL))
		rc = pfq_fail(&in, "queue_name or queue_id missing");
	buf_free(&key);
	buf_free(&val);
	if (rc < 0) {
		pfq_msg_free(m);
		if (why)
			*why = in.why ? in.why : "malformed";
	}
	return rc;
}

/* pfq_parse - every line; -1 with the bad line's number and reason */
int
pfq_parse(const char *text, size_t len, struct pfq_list *l, size_t *badline,
    const char **why)
{
	const char *p = text, *end = text + len, *nl;
	struct pfq_msg m;
	size_t	lineno = 0, i;

	while (p < end) {
		lineno++;
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end;
		for (i = 0; p + i < nl && (p[i] == ' ' || p[i] == '\t' ||
		    p[i] == '\r'); i++)
			;
		if (p + i < nl) {
			if (pfq_parse_line(p, (size_t)(nl - p), &m, why) < 0) {
				if (badline)
					*badline = lineno;
				return -1;
			}
			if (l->n == l->cap) {
				l->cap = l->cap ? l->cap * 2 : 64;
				l->v = xreallocarray(l->v, l->cap,
				    sizeof(*l->v));
			}
			l->v[l->n++] = m;
		}
		if (nl == end)
			break;
		p = nl + 1;
	}
	return 0;
}

/* pfq_cmp - order by queue ID */
static int
pfq_cmp(const void *a, const void *b)
{
	return strcmp(((const struct pfq_msg *)a)->queue_id,
	    ((const struct pfq_msg *)b)->queue_id);
}

/* pfq_sort - sort by queue ID for pfq_find */
void
pfq_sort(struct pfq_list *l)
{
	if (l->n > 1)
		qsort(l->v, l->n, sizeof(*l->v), pfq_cmp);
}

/* pfq_find - the message with this queue ID in a sorted list, or NULL */
const struct pfq_msg *
pfq_find(const struct pfq_list *l, const char *qid)
{
	struct pfq_msg key;

	if (l->n == 0 || *qid == '\0')
		return NULL;
	memset(&key, 0, sizeof(key));
	key.queue_id = (char *)qid;
	return bsearch(&key, l->v, l->n, sizeof(*l->v), pfq_cmp);
}

/* pfq_msg_free - release one message */
void
pfq_msg_free(struct pfq_msg *m)
{
	size_t	i;

	for (i = 0; i < m->nrcpt; i++)
		free(m->rcpt[i]);
	free(m->rcpt);
	free(m->queue_name);
	free(m->queue_id);
	memset(m, 0, sizeof(*m));
}

/* pfq_list_free - release a listing */
void
pfq_list_free(struct pfq_list *l)
{
	size_t	i;

	for (i = 0; i < l->n; i++)
		pfq_msg_free(&l->v[i]);
	free(l->v);
	memset(l, 0, sizeof(*l));
}

/* DSN bits in Postfix's queue file (Postfix's dsn_mask.h). */
#define PF_NOTIFY_NEVER		1
#define PF_NOTIFY_SUCCESS	2
#define PF_NOTIFY_FAILURE	4
#define PF_NOTIFY_DELAY		8
#define PF_RET_FULL		1
#define PF_RET_HDRS		2

/* The recipient being read: attributes come before its record. */
struct pfq_rcpt {
	long	notify;
	struct buf orcpt, orig, line;
};

/* pfq_xtext - append s as xtext (RFC 3461) */
static void
pfq_xtext(struct buf *b, const char *s)
{
	const unsigned char *p;

	for (p = (const unsigned char *)s; *p; p++)
		if (*p < 33 || *p > 126 || *p == '+' || *p == '=')
			buf_printf(b, "+%02X", *p);
		else
			buf_addch(b, *p);
}

/* pfq_notify - append Postfix's NOTIFY bits as the SMTP keywords */
static void
pfq_notify(struct buf *b, long bits)
{
	static const struct {
		long	bit;
		const char *word;
	} w[] = {
		{ PF_NOTIFY_NEVER, "NEVER" }, { PF_NOTIFY_SUCCESS, "SUCCESS" },
		{ PF_NOTIFY_FAILURE, "FAILURE" }, { PF_NOTIFY_DELAY, "DELAY" },
	};
	size_t	i, n = 0;

	for (i = 0; i < sizeof(w) / sizeof(w[0]); i++)
		if (bits & w[i].bit) {
			if (n++ > 0)
				buf_addch(b, ',');
			buf_cat(b, w[i].word);
		}
}

/* pfq_env_rcpt - a recipient record, with the attributes before it */
static void
pfq_env_rcpt(struct qb_envelope *e, struct pfq_rcpt *r, const char *value)
{
	const char *addr = r->orig.len ? buf_terminate(&r->orig) : value;
	const char *semi;
	struct buf notify = BUF_INIT;

	buf_reset(&r->line);
	pfq_notify(&notify, r->notify);
	/* Postfix records "rfc822;<address>" when no ORCPT was given. */
	semi = r->orcpt.len ? strchr(buf_terminate(&r->orcpt), ';') : NULL;
	if (semi != NULL && !(strncasecmp(r->orcpt.s, "rfc822;", 7) == 0 &&
	    strcasecmp(semi + 1, addr) == 0)) {
		buf_add(&r->line, r->orcpt.s, (size_t)(semi - r->orcpt.s) + 1);
		pfq_xtext(&r->line, semi + 1);
	}
	qb_env_rcpt(e, addr, buf_terminate(&notify), buf_terminate(&r->line));
	buf_free(&notify);
}

/* pfq_env_attr - a named attribute "name=value" */
static void
pfq_env_attr(struct qb_envelope *e, struct pfq_rcpt *r, const char *kv)
{
	const char *v = strchr(kv, '=');
	size_t	n;
	long	bits;

	if (v == NULL)
		return;
	n = (size_t)(v++ - kv);
	bits = strtol(v, NULL, 10);
	if (n == 11 && strncmp(kv, "envelope_id", n) == 0) {
		buf_reset(&e->envid);
		pfq_xtext(&e->envid, v);
	} else if (n == 9 && strncmp(kv, "ret_flags", n) == 0)
		e->ret = bits & PF_RET_FULL ? "FULL" : bits & PF_RET_HDRS ?
		    "HDRS" : "";
	else if (n == 12 && strncmp(kv, "notify_flags", n) == 0)
		r->notify = bits;
	else if (n == 13 && strncmp(kv, "dsn_orig_rcpt", n) == 0) {
		buf_reset(&r->orcpt);
		buf_cat(&r->orcpt, v);
	}
}

/* pfq_env_line - one "name: value" line of postcat -e; 1 for sender */
static int
pfq_env_line(struct qb_envelope *e, struct pfq_rcpt *r, char *line)
{
	char	*v = strstr(line, ": ");
	size_t	len;
	int	next = 0, sender = 0;

	if (v != NULL) {
		*v = '\0';
		v += 2;
	} else {
		v = line + strlen(line);	/* "sender:", nothing more */
		if ((len = strlen(line)) > 0 && line[len - 1] == ':')
			line[len - 1] = '\0';
	}
	if (strcmp(line, "message_size") == 0)
		e->size = strtoll(v, NULL, 10);
	else if (strcmp(line, "sender") == 0) {
		buf_reset(&e->sender);
		buf_cat(&e->sender, v);
		sender = 1;
	} else if (strcmp(line, "named_attribute") == 0)
		pfq_env_attr(e, r, v);
	else if (strcmp(line, "original_recipient") == 0) {
		buf_reset(&r->orig);
		buf_cat(&r->orig, v);
	} else if (strcmp(line, "recipient") == 0) {
		pfq_env_rcpt(e, r, v);
		next = 1;
	} else if (strcmp(line, "done_recipient") == 0 ||
	    strcmp(line, "canceled_recipient") == 0)
		next = 1;
	if (next) {		/* the attributes were this recipient's */
		r->notify = 0;
		buf_reset(&r->orcpt);
		buf_reset(&r->orig);
	}
	return sender;
}

/*
 * pfq_envelope - the envelope from postcat -e output (changed in place);
 * -1 without a sender or a recipient still to deliver
 */
int
pfq_envelope(char *text, struct qb_envelope *e)
{
	struct pfq_rcpt r = { 0, BUF_INIT, BUF_INIT, BUF_INIT };
	char	*line, *save = NULL;
	int	have_sender = 0;

	e->ret = "";
	for (line = strtok_r(text, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save))
		if (*line != '\0' && strncmp(line, "*** ", 4) != 0)
			have_sender |= pfq_env_line(e, &r, line);
	buf_terminate(&e->sender);
	buf_terminate(&e->rcpts);
	buf_terminate(&e->envid);
	buf_free(&r.orcpt);
	buf_free(&r.orig);
	buf_free(&r.line);
	return have_sender && e->nrcpt > 0 ? 0 : -1;
}
