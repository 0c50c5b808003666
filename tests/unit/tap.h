/* tap.h - minimal table-driven test helpers: failures print got/want */
#ifndef OE_TAP_H
#define OE_TAP_H

#include <stdio.h>
#include <string.h>

static int tap_fail;
static int tap_count;

#define CHECK(cond, ...) do {                                      \
	tap_count++;                                               \
	if (!(cond)) {                                             \
		tap_fail++;                                        \
		fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
		fprintf(stderr, __VA_ARGS__);                      \
		fputc('\n', stderr);                               \
	}                                                          \
} while (0)

#define CHECK_STR(got, want, what) \
	CHECK(strcmp((got), (want)) == 0, "%s: got '%s', want '%s'", \
	    (what), (got), (want))

#define CHECK_INT(got, want, what) \
	CHECK((long long)(got) == (long long)(want), \
	    "%s: got %lld, want %lld", (what), (long long)(got), \
	    (long long)(want))

#define TAP_DONE() (printf("%d checks, %d failed\n", tap_count, tap_fail), \
	tap_fail ? 1 : 0)

#endif
