/*
 * NAME
 *	table - aligned text table
 * SUMMARY
 *	table_init(&t, ncol, "lrr"); table_cell(&t, s); table_cellf(&t,
 *	"%d", n); table_print(&t, &buf); table_free(&t);
 * DESCRIPTION
 *	Cells are added row by row, ncol to a row; a short last row is
 *	allowed.  table_print() pads each column to its widest cell
 *	(counted in UTF-8 characters), left or right as align[col] says
 *	('l' or 'r'), with two blanks between columns and no trailing
 *	blanks.  A NULL cell shows as "-".
 * SECURITY
 *	Control characters in a cell become '?', so a value taken from
 *	stored data cannot move the terminal cursor or break a line.
 * DIAGNOSTICS
 *	None: memory exhaustion is fatal (xalloc).
 */
#include "config.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"
#include "util/table.h"
#include "util/xalloc.h"

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
