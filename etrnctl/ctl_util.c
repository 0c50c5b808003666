/*
 * NAME
 *	ctl_util - etrnctl's pure helpers: times, arguments, JSON, tables
 * SYNOPSIS
 *	ctl_iso_time(out, size, t); ctl_duration(out, size, secs);
 *	ctl_domain_arg(arg, parent_ok, &norm, &err);
 *	ctl_setting_check(key, value, &err);
 *	jw_init(&w, &buf); jw_open(&w, '{'); jw_key(&w, "k"); jw_str(&w, v);
 *	table_init(&t, ncol, "lrr"); table_cell(&t, s); table_print(&t, &b);
 * DESCRIPTION
 *	Nothing here talks to Redis, so tests/unit/test_etrnctl.c covers it
 *	all.  Times are shown in ISO 8601 UTC ("2026-11-23T18:09:20Z") and
 *	durations with their two largest units ("2d4h", "15m", "42s").
 *
 *	The JSON writer places commas itself and escapes strings: quote,
 *	backslash and control characters, and every byte that is not part
 *	of valid UTF-8 becomes U+FFFD, so the output is always valid JSON
 *	whatever a record holds.  Table cells get control characters
 *	replaced by '?', so a stored value cannot move the terminal cursor
 *	or break a line.
 * DIAGNOSTICS
 *	ctl_domain_arg() and ctl_setting_check() return -1 with a message
 *	naming the argument in *err.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "etrnctl/ctl.h"
#include "mail/domain.h"
#include "mail/settings.h"
#include "util/xalloc.h"

/*
 * The fields of etrn:domain:<entry> etrnctl manages; their syntax and
 * bounds are those of the settings they override (settings.c).
 */
static const char *const ctl_settings[] = { "hold_time", "warn_time", "allow",
	"max_messages", "max_bytes", "sasl_users" };

#define NSETTINGS (sizeof(ctl_settings) / sizeof(ctl_settings[0]))

/* ctl_iso_time - Unix time as ISO 8601 UTC */
void
ctl_iso_time(char *out, size_t size, long long t)
{
	time_t	tt = (time_t)t;
	struct tm tm;

	if (gmtime_r(&tt, &tm) == NULL ||
	    strftime(out, size, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(out, size, "%lld", t);
}

/* ctl_duration - "2d4h", "3h", "15m", "42s" (sign dropped) */
void
ctl_duration(char *out, size_t size, long long s)
{
	static const struct {
		long long secs;
		char	unit;
	} units[] = { { 86400, 'd' }, { 3600, 'h' }, { 60, 'm' }, { 1, 's' } };
	size_t	i, len = 0;
	int	parts = 0, n;
	long long q;

	if (s < 0)
		s = -s;
	snprintf(out, size, "0s");
	for (i = 0; i < sizeof(units) / sizeof(units[0]) && parts < 2; i++) {
		q = s / units[i].secs;
		if (q == 0) {
			if (parts > 0)
				break;
			continue;
		}
		s -= q * units[i].secs;
		n = snprintf(out + len, size - len, "%lld%c", q, units[i].unit);
		if (n < 0 || (size_t)n >= size - len)
			break;
		len += (size_t)n;
		parts++;
	}
}

/* ctl_domain_arg - normalise a domain argument; ".parent" if parent_ok */
int
ctl_domain_arg(const char *arg, int parent_ok, struct buf *out,
    struct buf *err)
{
	struct buf norm = BUF_INIT;
	const char *why = "invalid domain syntax";
	int	parent = parent_ok && arg[0] == '.';

	buf_reset(out);
	if (dom_normalize(arg + parent, &norm, &why) < 0) {
		buf_printf(err, "bad domain \"%.100s\": %s", arg, why);
		buf_free(&norm);
		return -1;
	}
	if (parent)
		buf_addch(out, '.');
	buf_add(out, norm.s, norm.len);
	buf_free(&norm);
	return 0;
}

/* ctl_member_split - "<host>:<queueid>" into its parts */
int
ctl_member_split(const char *member, char *host, size_t hsize, char *qid,
    size_t qsize)
{
	const char *colon = strrchr(member, ':');
	size_t	hlen;

	if (colon == NULL || colon == member || colon[1] == '\0')
		return -1;
	hlen = (size_t)(colon - member);
	if (hlen >= hsize || strlen(colon + 1) >= qsize)
		return -1;
	memcpy(host, member, hlen);
	host[hlen] = '\0';
	strcpy(qid, colon + 1);
	return 0;
}

/* ctl_setting_names - the accepted keys, for messages and usage */
const char *
ctl_setting_names(void)
{
	return "hold_time, warn_time, allow, max_messages, max_bytes, "
	    "sasl_users";
}

/* ctl_setting_check - is key=value a valid per-domain setting */
int
ctl_setting_check(const char *key, const char *value, struct buf *err)
{
	struct buf why = BUF_INIT;
	long long n;
	size_t	i;
	int	rc;

	for (i = 0; i < NSETTINGS; i++)
		if (strcmp(ctl_settings[i], key) == 0)
			break;
	if (i == NSETTINGS) {
		buf_printf(err, "unknown key \"%.60s\" (expected %s)", key,
		    ctl_setting_names());
		return -1;
	}
	/* Empty: remove the key, the default applies. */
	if ((rc = settings_domain_value(key, value, &n, &why)) < 0)
		buf_printf(err, "bad %s \"%.100s\": %s", key, value,
		    buf_terminate(&why));
	buf_free(&why);
	return rc;
}

/* utf8_len - length of the valid UTF-8 sequence at p, 0 if invalid */
static size_t
utf8_len(const unsigned char *p)
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

/* ctl_json_string - s as a quoted, escaped JSON string */
void
ctl_json_string(struct buf *b, const char *s)
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
		} else if ((n = utf8_len(p)) == 0) {
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
	ctl_json_string(w->b, k);
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
		ctl_json_string(w->b, s);
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

/* strv_add - append a copy */
void
strv_add(struct strv *sv, const char *s)
{
	if (sv->n + 1 >= sv->cap) {
		sv->cap = sv->cap ? sv->cap * 2 : 16;
		sv->v = xreallocarray(sv->v, sv->cap, sizeof(char *));
	}
	sv->v[sv->n++] = xstrdup(s);
	sv->v[sv->n] = NULL;
}

/* strv_has - is s in the list */
int
strv_has(const struct strv *sv, const char *s)
{
	size_t	i;

	for (i = 0; i < sv->n; i++)
		if (strcmp(sv->v[i], s) == 0)
			return 1;
	return 0;
}

/* strv_cmp - qsort order of strings */
static int
strv_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* strv_sort - sort in byte order */
void
strv_sort(struct strv *sv)
{
	if (sv->n > 1)
		qsort(sv->v, sv->n, sizeof(char *), strv_cmp);
}

/* strv_free - release */
void
strv_free(struct strv *sv)
{
	size_t	i;

	for (i = 0; i < sv->n; i++)
		free(sv->v[i]);
	free(sv->v);
	memset(sv, 0, sizeof(*sv));
}

/* table_init - an empty table of ncol columns aligned as align says */
void
table_init(struct table *t, size_t ncol, const char *align)
{
	memset(t, 0, sizeof(*t));
	t->ncol = ncol;
	t->align = align;
}

/* table_cell - append one cell (control characters become '?') */
void
table_cell(struct table *t, const char *s)
{
	char	*c, *p;

	if (t->ncell == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 64;
		t->cell = xreallocarray(t->cell, t->cap, sizeof(char *));
	}
	c = xstrdup(s ? s : "-");
	for (p = c; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	t->cell[t->ncell++] = c;
}

/* table_cellf - append one formatted cell */
void
table_cellf(struct table *t, const char *fmt, ...)
{
	struct buf b = BUF_INIT;
	va_list	ap;

	va_start(ap, fmt);
	buf_vprintf(&b, fmt, ap);
	va_end(ap);
	table_cell(t, buf_terminate(&b));
	buf_free(&b);
}

/* table_width - display width of a cell: UTF-8 characters */
static size_t
table_width(const char *s)
{
	size_t	n = 0;

	for (; *s; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			n++;
	return n;
}

/* table_print - the rows with aligned columns, two blanks apart */
void
table_print(const struct table *t, struct buf *out)
{
	size_t	*w = xcalloc(t->ncol, sizeof(size_t)), i, col, pad;
	size_t	start = out->len;

	for (i = 0; i < t->ncell; i++)
		if (table_width(t->cell[i]) > w[i % t->ncol])
			w[i % t->ncol] = table_width(t->cell[i]);
	for (i = 0; i < t->ncell; i++) {
		col = i % t->ncol;
		pad = w[col] - table_width(t->cell[i]);
		if (t->align[col] == 'r')
			for (; pad > 0; pad--)
				buf_addch(out, ' ');
		buf_cat(out, t->cell[i]);
		if (col + 1 == t->ncol || i + 1 == t->ncell) {
			while (out->len > start && out->s[out->len - 1] == ' ')
				out->len--;
			buf_addch(out, '\n');
			start = out->len;
			continue;
		}
		for (pad += 2; pad > 0; pad--)
			buf_addch(out, ' ');
	}
	free(w);
}

/* table_free - release the cells */
void
table_free(struct table *t)
{
	size_t	i;

	for (i = 0; i < t->ncell; i++)
		free(t->cell[i]);
	free(t->cell);
	memset(t, 0, sizeof(*t));
}
