/*
 * NAME
 *	jsonw - JSON writer into a buf
 * SUMMARY
 *	jw_init(&w, &buf); jw_open(&w, '{'); jw_key(&w, "k"); jw_str(&w, v);
 *	jw_int(&w, n); jw_close(&w, '}');
 *	jw_quote(&buf, s);
 * DESCRIPTION
 *	The writer places commas itself: after jw_open() the first value or
 *	key goes without one, every later one with one, and a value right
 *	after jw_key() never.  Nesting is counted up to JW_DEPTH levels;
 *	the closing of the outermost one ends the document with a newline.
 *
 *	Strings are escaped: quote, backslash and control characters, and
 *	every byte that is not part of valid UTF-8 becomes U+FFFD, so the
 *	output is valid JSON whatever the input holds.  jw_quote() is that
 *	escaping alone, for a string outside a writer.
 * DIAGNOSTICS
 *	None.  Balancing jw_open() and jw_close() is the caller's part;
 *	deeper nesting than JW_DEPTH still balances but may lose commas.
 */
#include "config.h"

#include <string.h>

#include "util/buf.h"
#include "util/jsonw.h"

/* jw_utf8_len - length of the valid UTF-8 sequence at p, 0 if invalid */
static size_t
jw_utf8_len(const unsigned char *p)
{
	unsigned char lo = 0x80, hi = 0xbf;
	size_t	n, i;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		n = 2;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		n = 3;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		n = 4;
	else
		return 0;
	if (p[0] == 0xe0)
		lo = 0xa0;
	else if (p[0] == 0xed)
		hi = 0x9f;
	else if (p[0] == 0xf0)
		lo = 0x90;
	else if (p[0] == 0xf4)
		hi = 0x8f;
	if (p[1] < lo || p[1] > hi)
		return 0;
	for (i = 2; i < n; i++)
		if (p[i] < 0x80 || p[i] > 0xbf)
			return 0;
	return n;
}

/* jw_quote - s as a quoted, escaped JSON string, appended to b */
void
jw_quote(struct buf *b, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t	n;

	buf_addch(b, '"');
	while (*p) {
		if (*p == '"' || *p == '\\') {
			buf_addch(b, '\\');
			buf_addch(b, *p++);
		} else if (*p == '\n' || *p == '\t' || *p == '\r') {
			buf_cat(b, *p == '\n' ? "\\n" : *p == '\t' ? "\\t" :
			    "\\r");
			p++;
		} else if (*p < 0x20 || *p == 0x7f) {
			buf_printf(b, "\\u%04x", *p++);
		} else if ((n = jw_utf8_len(p)) == 0) {
			buf_cat(b, "\\ufffd");
			p++;
		} else {
			buf_add(b, p, n);
			p += n;
		}
	}
	buf_addch(b, '"');
}

/* jw_init - a writer appending to b */
void
jw_init(struct jw *w, struct buf *b)
{
	memset(w, 0, sizeof(*w));
	w->b = b;
}

/* jw_value - the comma before a value or key, where one is needed */
static void
jw_value(struct jw *w)
{
	if (w->after_key) {
		w->after_key = 0;
		return;
	}
	if (w->depth <= 0 || w->depth > JW_DEPTH)
		return;
	if (!w->first[w->depth - 1])
		buf_addch(w->b, ',');
	w->first[w->depth - 1] = 0;
}

/* jw_open - '{' or '[' */
void
jw_open(struct jw *w, int ch)
{
	jw_value(w);
	buf_addch(w->b, ch);
	if (w->depth < JW_DEPTH)
		w->first[w->depth] = 1;
	w->depth++;
}

/* jw_close - '}' or ']' */
void
jw_close(struct jw *w, int ch)
{
	w->depth--;
	buf_addch(w->b, ch);
	if (w->depth == 0)
		buf_addch(w->b, '\n');
}

/* jw_key - an object member's name */
void
jw_key(struct jw *w, const char *k)
{
	jw_value(w);
	jw_quote(w->b, k);
	buf_addch(w->b, ':');
	w->after_key = 1;
}

/* jw_str - a string, or null for NULL */
void
jw_str(struct jw *w, const char *s)
{
	jw_value(w);
	if (s == NULL)
		buf_cat(w->b, "null");
	else
		jw_quote(w->b, s);
}

/* jw_int - a number */
void
jw_int(struct jw *w, long long v)
{
	jw_value(w);
	buf_printf(w->b, "%lld", v);
}

/* jw_bool - true or false */
void
jw_bool(struct jw *w, int v)
{
	jw_value(w);
	buf_cat(w->b, v ? "true" : "false");
}

/* jw_null - null */
void
jw_null(struct jw *w)
{
	jw_value(w);
	buf_cat(w->b, "null");
}
