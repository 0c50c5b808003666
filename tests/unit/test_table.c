/* test_table - column widths, alignment, blanks, control characters */
#include "config.h"

#include "util/buf.h"
#include "util/table.h"
#include "tap.h"

/* test_align - widths in characters, left and right, no trailing blanks */
static void
test_align(void)
{
	struct buf b = BUF_INIT;
	struct table t;

	table_init(&t, 3, "lrl");
	table_cell(&t, "NAME");
	table_cell(&t, "N");
	table_cell(&t, "NOTE");
	table_cell(&t, "b\xc3\xbc" "cher");
	table_cellf(&t, "%d", 12345);
	table_cell(&t, "a\x1b[2Jb\n");
	table_cell(&t, "x");
	table_cell(&t, NULL);
	table_cell(&t, "");
	table_print(&t, &b);
	CHECK_STR(buf_terminate(&b),
	    "NAME        N  NOTE\n"
	    "b\xc3\xbc" "cher  12345  a?[2Jb?\n"
	    "x           -\n", "table");
	table_free(&t);
	CHECK(t.cell == NULL && t.ncell == 0, "empty after table_free");
	buf_free(&b);
}

/* test_rows - a short last row, an empty table, appending to output */
static void
test_rows(void)
{
	struct buf b = BUF_INIT;
	struct table t;

	table_init(&t, 2, "rl");
	table_print(&t, &b);
	CHECK_INT(b.len, 0, "empty table prints nothing");

	table_cell(&t, "1");
	table_cell(&t, "one");
	table_cell(&t, "100");
	table_cell(&t, "hundred");
	table_cell(&t, "10");
	buf_cat(&b, "head\n");
	table_print(&t, &b);
	CHECK_STR(buf_terminate(&b),
	    "head\n"
	    "  1  one\n"
	    "100  hundred\n"
	    " 10\n", "short last row");
	table_free(&t);
	buf_free(&b);
}

/* test_many - more cells than the first allocation */
static void
test_many(void)
{
	struct buf b = BUF_INIT;
	struct table t;
	int	i;

	table_init(&t, 1, "r");
	for (i = 0; i < 200; i++)
		table_cellf(&t, "%d", i);
	table_print(&t, &b);
	CHECK_INT(t.ncell, 200, "cells");
	CHECK(b.len == 200 * 4, "200 rows of 3 digits: got %zu bytes", b.len);
	CHECK(strncmp(b.s, "  0\n  1\n", 8) == 0, "padded rows");
	table_free(&t);
	buf_free(&b);
}

int
main(void)
{
	test_align();
	test_rows();
	test_many();
	return TAP_DONE();
}
