/* test_strv - the string list: copies, growth, order, lookup */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>

#include "util/strv.h"
#include "tap.h"

static const struct {
	const char *in[6];	/* NULL-terminated */
	const char *want[6];	/* after strv_sort */
} sorts[] = {
	{ { NULL }, { NULL } },
	{ { "a", NULL }, { "a", NULL } },
	{ { "b", "a", "c", NULL }, { "a", "b", "c", NULL } },
	{ { "b", "a", "b", NULL }, { "a", "b", "b", NULL } },
	/* Byte order: upper case first, UTF-8 after ASCII. */
	{ { "b\xc3\xbc", "B", "a", "", NULL }, { "", "B", "a", "b\xc3\xbc",
	    NULL } },
};

/* test_sort - strv_sort gives byte order and keeps the NULL at v[n] */
static void
test_sort(void)
{
	struct strv sv = STRV_INIT;
	size_t	i, j;

	for (i = 0; i < sizeof(sorts) / sizeof(sorts[0]); i++) {
		for (j = 0; sorts[i].in[j] != NULL; j++)
			strv_add(&sv, sorts[i].in[j]);
		strv_sort(&sv);
		CHECK_INT(sv.n, j, "count");
		for (j = 0; j < sv.n; j++)
			CHECK_STR(sv.v[j], sorts[i].want[j], "sorted");
		CHECK(sv.n == 0 || sv.v[sv.n] == NULL,
		    "case %zu: v[n] not NULL", i);
		strv_free(&sv);
		CHECK(sv.v == NULL && sv.n == 0 && sv.cap == 0,
		    "case %zu: not empty after strv_free", i);
	}
}

/* test_copies - the list owns copies; growth keeps order and the NULL */
static void
test_copies(void)
{
	struct strv sv = STRV_INIT;
	char	s[16];
	size_t	i;

	snprintf(s, sizeof(s), "orig");
	strv_add(&sv, s);
	s[0] = 'X';
	CHECK_STR(sv.v[0], "orig", "copy kept");
	for (i = 1; i < 1000; i++) {
		snprintf(s, sizeof(s), "id%zu", i);
		strv_add(&sv, s);
		CHECK(sv.v[sv.n] == NULL, "v[%zu] not NULL", sv.n);
	}
	CHECK_INT(sv.n, 1000, "grown");
	CHECK_STR(sv.v[17], "id17", "order after growth");
	CHECK_STR(sv.v[999], "id999", "last");
	strv_free(&sv);
	/* A freed list is an empty one, ready for use again. */
	strv_add(&sv, "again");
	CHECK_INT(sv.n, 1, "reused");
	strv_free(&sv);
	strv_free(&sv);
}

/* test_lookup - strv_has, and bsearch with strv_cmp on a sorted list */
static void
test_lookup(void)
{
	static const char *const ids[] = { "4jYDV4", "4aBC12", "HOLD1", "zz" };
	struct strv sv = STRV_INIT;
	const char *key;
	size_t	i;

	CHECK(!strv_has(&sv, ""), "empty list has nothing");
	for (i = 0; i < sizeof(ids) / sizeof(ids[0]); i++)
		strv_add(&sv, ids[i]);
	CHECK(strv_has(&sv, "HOLD1"), "has HOLD1");
	CHECK(!strv_has(&sv, "hold1"), "case matters");
	CHECK(!strv_has(&sv, "HOLD"), "no prefix match");
	strv_sort(&sv);
	for (i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		key = ids[i];
		CHECK(bsearch(&key, sv.v, sv.n, sizeof(*sv.v), strv_cmp) !=
		    NULL, "bsearch %s", key);
	}
	key = "4jYDV5";
	CHECK(bsearch(&key, sv.v, sv.n, sizeof(*sv.v), strv_cmp) == NULL,
	    "bsearch absent");
	strv_free(&sv);
}

/* test_listed - an item of a list written as one string */
static void
test_listed(void)
{
	CHECK(strv_listed("alice, bob\tcarol", "bob"), "in list");
	CHECK(strv_listed("alice, bob\tcarol", "carol"), "last, after a tab");
	CHECK(strv_listed(",, alice ,", "alice"), "empty items skipped");
	CHECK(strv_listed("alice,bob", "carol") == 0, "not in list");
	CHECK(strv_listed("alice,bob", "ali") == 0, "no prefix match");
	CHECK(strv_listed("alice", "alice2") == 0, "no longer match");
	CHECK(strv_listed("alice", "") == 0, "empty item");
	CHECK(strv_listed("", "alice") == 0, "empty list");
	CHECK(strv_listed(NULL, "alice") == 0, "no list");
}

int
main(void)
{
	test_sort();
	test_copies();
	test_lookup();
	test_listed();
	return TAP_DONE();
}
