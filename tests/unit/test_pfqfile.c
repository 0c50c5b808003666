/* test_pfqfile - the queue file reader on crafted record streams */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mail/pfqfile.h"
#include "tap.h"
#include "util/buf.h"

#define MAX_RECS	24

/*
 * A queue file: an envelope (C, T, S, R, M), then recs, each "t=data"
 * (a record of type t), "p>A" (a pointer to label A), "@A" (label A
 * here).  The first X record ends the content for the C record.  bad:
 * 1 content offset one too far, 2 size one too small, 3 no C record
 * first, 4 an unknown envelope record.
 */
struct qcase {
	const char *name;
	const char *recs[MAX_RECS];
	int	bad;
	int	want;
	const char *out;
};

static const struct qcase cases[] = {
	{ "plain", { "N=Subject: a", "N=From: b", "N=", "N=body", "X=",
	    "E=" }, 0, PFQF_OK, "Subject: a\nFrom: b\n" },
	{ "milter header behind pointers", { "N=Subject: a", "p>A", "@B",
	    "N=", "N=body", "p=0", "X=", "E=", "@A", "N=X-ETRN-Hold: d;",
	    "N=\tmac=1", "p>B" }, 0, PFQF_OK,
	    "Subject: a\nX-ETRN-Hold: d;\n\tmac=1\n" },
	{ "long line in parts", { "L=Subject: aa", "L=bb", "N=cc", "N=",
	    "X=" }, 0, PFQF_OK, "Subject: aabbcc\n" },
	{ "part before X", { "N=A: 1", "L=Subject: a", "X=" }, 0, PFQF_OK,
	    "A: 1\nSubject: a\n" },
	{ "padding and dummy pointer", { "N=A: 1", "w=deleted", "p=0",
	    "p=              0", "N=B: 2", "N=", "X=" }, 0, PFQF_OK,
	    "A: 1\nB: 2\n" },
	{ "no blank line", { "N=A: 1", "N=not a header", "N=C: 3", "X=" },
	    0, PFQF_OK, "A: 1\n" },
	{ "blank before colon, 8-bit value", { "N=X-Obs : v",
	    "N=Subject: Gr\xc3\xbc\xc3\x9f" "e", "N=", "X=" }, 0, PFQF_OK,
	    "X-Obs : v\nSubject: Gr\xc3\xbc\xc3\x9f" "e\n" },
	{ "8-bit name ends the headers", { "N=A: 1", "N=\xc3\xa4: 2",
	    "X=" }, 0, PFQF_OK, "A: 1\n" },
	{ "continuation after pointer", { "L=A: 1", "p>A", "X=", "@A",
	    "N=2", "N=", "X=" }, 0, PFQF_OK, "A: 12\n" },
	{ "pointer to itself", { "N=A: 1", "@A", "p>A", "X=" }, 0,
	    PFQF_DOUBT, "" },
	{ "pointer loop", { "N=A: 1", "@A", "p>B", "X=", "E=", "@B",
	    "N=B: 2", "p>A" }, 0, PFQF_DOUBT, "" },
	{ "pointer past the end", { "N=A: 1", "p=999999", "X=" }, 0,
	    PFQF_DOUBT, "" },
	{ "pointer into the envelope", { "N=A: 1", "p=5", "X=" }, 0,
	    PFQF_DOUBT, "" },
	{ "malformed pointer", { "N=A: 1", "p=12a", "X=" }, 0, PFQF_DOUBT,
	    "" },
	{ "negative pointer", { "N=A: 1", "p=-1", "X=" }, 0, PFQF_DOUBT, "" },
	{ "long pointer record", { "N=A: 1",
	    "p=                                      0", "X=" }, 0,
	    PFQF_DOUBT, "" },
	{ "unknown type in content", { "N=A: 1", "Q=x", "N=", "X=" }, 0,
	    PFQF_DOUBT, "" },
	{ "E in content", { "N=A: 1", "E=", "X=" }, 0, PFQF_DOUBT, "" },
	{ "M in content", { "N=A: 1", "M=", "X=" }, 0, PFQF_DOUBT, "" },
	{ "control octet in a value", { "N=A: 1", "N=B: \x01", "X=" }, 0,
	    PFQF_OK, "A: 1\nB: \x01\n" },
	{ "content offset wrong", { "N=A: 1", "X=" }, 1, PFQF_DOUBT, "" },
	{ "content size wrong", { "N=A: 1", "X=" }, 2, PFQF_DOUBT, "" },
	{ "no size record", { "N=A: 1", "X=" }, 3, PFQF_DOUBT, "" },
	{ "unknown envelope record", { "N=A: 1", "X=" }, 4, PFQF_DOUBT, "" },
	{ "no X record", { "N=A: 1", "N=B: 2" }, 0, PFQF_DOUBT, "" },
};

/* rec - append one record */
static void
rec(struct buf *b, int type, const void *data, size_t len)
{
	size_t	n = len;

	buf_addch(b, type);
	do {
		buf_addch(b, (int)((n & 0177) | (n > 0177 ? 0200 : 0)));
		n >>= 7;
	} while (n > 0);
	buf_add(b, data, len);
}

/* build - the queue file of a case */
static void
build(const struct qcase *c, struct buf *b)
{
	long	lbl[26], start = 0, xtra = 0, x;
	char	tmp[128];
	const char *r;
	int	pass, i;

	memset(lbl, 0, sizeof(lbl));
	for (pass = 0; pass < 2; pass++) {
		buf_reset(b);
		snprintf(tmp, sizeof(tmp),
		    "%15ld %15ld %15ld %15ld %15ld %15ld",
		    xtra - start + (c->bad == 2 ? -1 : 0),
		    start + (c->bad == 1 ? 1 : 0), 1L, 0L, xtra - start, 0L);
		if (c->bad != 3)
			rec(b, 'C', tmp, strlen(tmp));
		rec(b, 'T', "1 0", 3);
		if (c->bad == 4)
			rec(b, 'Z', "", 0);
		rec(b, 'S', "s@example.org", 13);
		rec(b, 'R', "u@dialup.test", 13);
		rec(b, 'M', "", 0);
		start = (long)b->len;
		x = 0;
		for (i = 0; i < MAX_RECS && (r = c->recs[i]) != NULL; i++) {
			if (r[0] == '@') {
				lbl[r[1] - 'A'] = (long)b->len;
			} else if (r[0] == 'p' && r[1] == '>') {
				snprintf(tmp, sizeof(tmp), "%15ld",
				    lbl[r[2] - 'A']);
				rec(b, 'p', tmp, strlen(tmp));
			} else {
				if (r[0] == 'X' && x == 0)
					x = (long)b->len;
				rec(b, r[0], r + 2, strlen(r + 2));
			}
		}
		xtra = x;
	}
}

/* check_prefixes - OK on a prefix means the same OK on the whole */
static void
check_prefixes(const char *name, const struct buf *f, int st,
    const struct buf *out)
{
	struct buf o = BUF_INIT;
	size_t	i;
	int	s;

	for (i = 0; i < f->len; i++) {
		s = pfqf_parse_mem(f->s, i, &o, NULL);
		CHECK(s == PFQF_DOUBT || (st == PFQF_OK && o.len == out->len &&
		    (o.len == 0 || memcmp(o.s, out->s, o.len) == 0)),
		    "%s: prefix %zu of %zu: %s", name, i, f->len,
		    pfqf_status_name(s));
	}
	buf_free(&o);
}

/* test_cases - the table */
static void
test_cases(void)
{
	struct buf f = BUF_INIT, out = BUF_INIT;
	const char *why;
	size_t	i;
	int	st;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		build(&cases[i], &f);
		st = pfqf_parse_mem(f.s, f.len, &out, &why);
		CHECK(st == cases[i].want, "%s: got %s (%s), want %s",
		    cases[i].name, pfqf_status_name(st), why ? why : "-",
		    pfqf_status_name(cases[i].want));
		CHECK(st != PFQF_OK || why == NULL, "%s: why", cases[i].name);
		CHECK(st == PFQF_OK || why != NULL, "%s: no why",
		    cases[i].name);
		buf_terminate(&out);
		CHECK_STR(out.s, cases[i].out, cases[i].name);
		check_prefixes(cases[i].name, &f, st, &out);
	}
	buf_free(&f);
	buf_free(&out);
}

/* test_lengths - malformed record lengths */
static void
test_lengths(void)
{
	static const struct {
		const char *name;
		const char *bytes;
		size_t	len;
	} t[] = {
		{ "empty", "", 0 },
		{ "type only", "C", 1 },
		{ "length runs out", "C\x80", 2 },
		{ "five length octets", "C\xff\xff\xff\xff\x01", 6 },
		{ "huge length", "C\xff\xff\xff\x7f", 5 },
		{ "length past the end", "C\x05" "12", 4 },
	};
	struct buf out = BUF_INIT;
	size_t	i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		CHECK_INT(pfqf_parse_mem(t[i].bytes, t[i].len, &out, NULL),
		    PFQF_DOUBT, t[i].name);
	buf_free(&out);
}

/* begin - a C record to be patched, an M record; the content's start */
static long
begin(struct buf *f)
{
	char	tmp[128];

	buf_reset(f);
	snprintf(tmp, sizeof(tmp), "%15ld %15ld %15ld %15ld %15ld %15ld",
	    0L, 0L, 1L, 0L, 0L, 0L);
	rec(f, 'C', tmp, strlen(tmp));
	rec(f, 'M', "", 0);
	return (long)f->len;
}

/* finish - patch the C record: content from start, X at xtra */
static void
finish(struct buf *f, long start, long xtra)
{
	char	tmp[128];

	snprintf(tmp, sizeof(tmp), "%15ld %15ld %15ld %15ld %15ld %15ld",
	    xtra - start, start, 1L, 0L, xtra - start, 0L);
	memcpy(f->s + 2, tmp, strlen(tmp));
}

/* chain - a header behind n pointers, each to the next */
static int
chain(int n, struct buf *out)
{
	struct buf f = BUF_INIT;
	char	tmp[32];
	long	start, xtra;
	int	i, st;

	start = begin(&f);
	rec(&f, 'N', "A: 1", 4);
	snprintf(tmp, sizeof(tmp), "%15ld", (long)f.len + 17 + 2);
	rec(&f, 'p', tmp, strlen(tmp));
	xtra = (long)f.len;
	rec(&f, 'X', "", 0);
	for (i = 1; i < n; i++) {
		snprintf(tmp, sizeof(tmp), "%15ld", (long)f.len + 17);
		rec(&f, 'p', tmp, strlen(tmp));
	}
	rec(&f, 'N', "B: 2", 4);
	rec(&f, 'N', "", 0);
	rec(&f, 'X', "", 0);
	finish(&f, start, xtra);
	st = pfqf_parse_mem(f.s, f.len, out, NULL);
	buf_free(&f);
	return st;
}

/* test_bounds - pointer hops and output size */
static void
test_bounds(void)
{
	struct buf f = BUF_INIT, out = BUF_INIT;
	char	line[1000];
	long	start, xtra;
	int	i, k, n;

	CHECK_INT(chain(PFQF_MAX_HOPS, &out), PFQF_OK, "hops at the bound");
	buf_terminate(&out);
	CHECK_STR(out.s, "A: 1\nB: 2\n", "hops at the bound");
	CHECK_INT(chain(PFQF_MAX_HOPS + 1, &out), PFQF_DOUBT,
	    "hops over the bound");

	/* Header lines of 1000 octets: just over PFQF_MAX_OUT in all. */
	memset(line, 'x', sizeof(line));
	memcpy(line, "X-Big: ", 7);
	n = PFQF_MAX_OUT / 1001 + 1;
	for (i = 0; i < 2; i++) {
		start = begin(&f);
		for (k = 0; k < n - i; k++)
			rec(&f, 'N', line, sizeof(line));
		xtra = (long)f.len;
		rec(&f, 'X', "", 0);
		finish(&f, start, xtra);
		CHECK_INT(pfqf_parse_mem(f.s, f.len, &out, NULL),
		    i == 0 ? PFQF_DOUBT : PFQF_OK, "output bound");
	}

	/* NUL and LF inside a header line. */
	for (i = 0; i < 2; i++) {
		start = begin(&f);
		rec(&f, 'N', i ? "A: \n1" : "A: \0" "1", 5);
		xtra = (long)f.len;
		rec(&f, 'X', "", 0);
		finish(&f, start, xtra);
		CHECK_INT(pfqf_parse_mem(f.s, f.len, &out, NULL), PFQF_DOUBT,
		    i ? "LF in a line" : "NUL in a line");
	}
	buf_free(&f);
	buf_free(&out);
}

/* test_paths - where Postfix keeps a queue file */
static void
test_paths(void)
{
	static const struct {
		const char *queue, *qid, *hashq;
		int	depth;
		const char *want;
	} t[] = {
		{ "hold", "ABCDE12345", NULL, 1, "hold/ABCDE12345" },
		{ "deferred", "ABCDE12345", NULL, 1, "deferred/A/ABCDE12345" },
		{ "deferred", "ABCDE12345", NULL, 2,
		    "deferred/A/B/ABCDE12345" },
		{ "deferred", "4jjrtY6z7sz1dXyY", NULL, 1,
		    "deferred/E/4jjrtY6z7sz1dXyY" },
		{ "deferred", "4jjrtY6z7sz1dXyY", "deferred", 7,
		    "deferred/E/F/B/C/9/_/_/4jjrtY6z7sz1dXyY" },
		{ "hold", "ABCDE12345", "hold,deferred", 1,
		    "hold/A/ABCDE12345" },
		{ "active", "ABCDE12345", "", 1, "active/ABCDE12345" },
		{ "saved", "ABCDE12345", NULL, 1, NULL },
		{ "hold/..", "ABCDE12345", NULL, 1, NULL },
		{ "hold", "../ABCDE", NULL, 1, NULL },
		{ "hold", "ABC", NULL, 1, NULL },
		{ "hold", "ABCDE12345", NULL, 0, NULL },
	};
	struct buf p = BUF_INIT;
	size_t	i;
	int	r;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		r = pfqf_queue_path(&p, t[i].queue, t[i].qid, t[i].hashq,
		    t[i].depth);
		if (t[i].want == NULL) {
			CHECK_INT(r, -1, t[i].qid);
			continue;
		}
		CHECK_INT(r, 0, t[i].qid);
		CHECK_STR(p.s != NULL ? p.s : "", t[i].want, t[i].qid);
	}
	buf_free(&p);
}

int
main(void)
{
	test_cases();
	test_lengths();
	test_bounds();
	test_paths();
	return TAP_DONE();
}
