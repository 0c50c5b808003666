/*
 * NAME
 *	buf - length-counted growable string
 * DESCRIPTION
 *	Growable text for keys, records, replies and message copies.  The
 *	content may hold NUL bytes; buf_terminate() adds a terminator that is
 *	not counted in len.  Allocation failure is fatal (xalloc).
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"
#include "util/log.h"
#include "util/xalloc.h"

/* buf_init - empty buffer */
void
buf_init(struct buf *b)
{
	b->s = NULL;
	b->len = b->cap = 0;
}

/* buf_free - release storage */
void
buf_free(struct buf *b)
{
	free(b->s);
	buf_init(b);
}

/* buf_reset - forget content, keep storage */
void
buf_reset(struct buf *b)
{
	b->len = 0;
	if (b->s)
		b->s[0] = '\0';
}

/* buf_grow - make room for n more bytes plus a terminator */
void
buf_grow(struct buf *b, size_t n)
{
	size_t	need = b->len + n + 1;
	size_t	cap;

	if (need < b->len)
		log_fatalx("buf_grow: size overflow");
	if (need <= b->cap)
		return;
	cap = b->cap ? b->cap : 64;
	while (cap < need) {
		if (cap > ((size_t)-1) / 2)
			cap = need;
		else
			cap *= 2;
	}
	b->s = xrealloc(b->s, cap);
	b->cap = cap;
}

/* buf_addch - append one byte */
void
buf_addch(struct buf *b, int ch)
{
	buf_grow(b, 1);
	b->s[b->len++] = (char)ch;
	b->s[b->len] = '\0';
}

/* buf_add - append n bytes */
void
buf_add(struct buf *b, const void *p, size_t n)
{
	if (n == 0) {
		buf_grow(b, 0);
		b->s[b->len] = '\0';
		return;
	}
	buf_grow(b, n);
	memcpy(b->s + b->len, p, n);
	b->len += n;
	b->s[b->len] = '\0';
}

/* buf_cat - append a C string */
void
buf_cat(struct buf *b, const char *s)
{
	buf_add(b, s, strlen(s));
}

/* buf_vprintf - append formatted text from a va_list */
void
buf_vprintf(struct buf *b, const char *fmt, va_list ap)
{
	va_list	aq;
	int	n;

	va_copy(aq, ap);
	n = vsnprintf(NULL, 0, fmt, aq);
	va_end(aq);
	if (n < 0)
		log_fatalx("buf_printf: bad format");
	buf_grow(b, (size_t)n);
	vsnprintf(b->s + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
}

/* buf_printf - append formatted text */
void
buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	buf_vprintf(b, fmt, ap);
	va_end(ap);
}

/* buf_terminate - NUL-terminate and return the string */
const char *
buf_terminate(struct buf *b)
{
	buf_grow(b, 0);
	b->s[b->len] = '\0';
	return b->s;
}

/* buf_steal - hand the storage to the caller */
char *
buf_steal(struct buf *b)
{
	char	*s;

	buf_terminate(b);
	s = b->s;
	buf_init(b);
	return s;
}
