/* test_rargs - the Redis argument vector builder */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "util/buf.h"
#include "util/rargs.h"
#include "tap.h"

int
main(void)
{
	struct rargs a = RARGS_INIT;
	struct buf b = BUF_INIT, empty = BUF_INIT;
	char	num[24];
	int	i;

	rargs_strs(&a, "HSET", "k", "f", "v", NULL);
	CHECK_INT(a.n, 4, "rargs_strs count");
	CHECK_STR(a.v[0], "HSET", "first");
	CHECK_INT(a.l[3], 1, "length of a C string");

	/* Binary data keeps its length; a NUL inside counts. */
	buf_add(&b, "a\0b", 3);
	rargs_buf(&a, &b);
	CHECK_INT(a.l[4], 3, "buf length with a NUL");
	CHECK(memcmp(a.v[4], "a\0b", 3) == 0, "buf bytes");
	rargs_buf(&a, &empty);
	CHECK(a.v[5] != NULL && a.l[5] == 0, "an empty buf is \"\"");
	rargs_add(&a, "xyz", 2);
	CHECK_INT(a.l[6], 2, "rargs_add length");

	/* Growth past the first allocation keeps every argument. */
	for (i = 0; i < 100; i++)
		rargs_str(&a, i % 2 ? "odd" : "even");
	CHECK_INT(a.n, 107, "after growth");
	CHECK_STR(a.v[0], "HSET", "first after growth");
	CHECK_STR(a.v[106], "odd", "last after growth");

	rargs_reset(&a);
	CHECK_INT(a.n, 0, "reset");
	snprintf(num, sizeof(num), "%d", 42);
	rargs_strs(&a, "EVAL", num, NULL);
	CHECK(a.n == 2 && strcmp(a.v[1], "42") == 0, "reuse after reset");

	rargs_free(&a);
	CHECK(a.v == NULL && a.l == NULL && a.n == 0 && a.cap == 0, "free");
	rargs_free(&a);		/* twice is harmless */
	buf_free(&b);
	return TAP_DONE();
}
