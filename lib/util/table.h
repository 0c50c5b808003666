/* table.h - aligned text table */
#ifndef OE_TABLE_H
#define OE_TABLE_H

#include <stddef.h>

#include "util/buf.h"

/* An aligned text table: cells are added row by row. */
struct table {
	size_t	ncol;
	const char *align;	/* per column: 'l' or 'r' */
	char	**cell;
	size_t	ncell, cap;
};

void	table_init(struct table *, size_t, const char *);
void	table_cell(struct table *, const char *);
void	table_cellf(struct table *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
void	table_print(const struct table *, struct buf *);
void	table_free(struct table *);

#endif
