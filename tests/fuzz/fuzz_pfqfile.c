/*
 * NAME
 *	fuzz_pfqfile - libFuzzer target: Postfix queue files read directly
 * DESCRIPTION
 *	The input is a queue file.  It goes through pfqf_parse_mem() and,
 *	through the pread callback, pfqf_parse() with a reader that returns
 *	at most 7 octets a call for the first 64 calls (short reads count as
 *	errors, so either DOUBT or the same result).  Checks:
 *	- the result is PFQF_OK or PFQF_DOUBT; DOUBT has a reason and no
 *	  output, OK no reason;
 *	- OK output is at most PFQF_MAX_OUT octets, ends with LF unless
 *	  empty, has no NUL, and every line after the first is "Name:"
 *	  (printable ASCII name, blanks allowed before the colon) or starts
 *	  with a blank or tab (postcat lets the first line start with one);
 *	- an independent reading of the same rules, with no window and no
 *	  early bounds (ref_parse() below), agrees on OK and its output;
 *	- OK on a prefix of the input (up to 16 prefixes, chosen from the
 *	  input's length) means OK with the same output on the whole input:
 *	  the reader never guesses about octets it did not read.
 */
#include "config.h"

#include <string.h>

#include "fuzz.h"
#include "mail/pfqfile.h"
#include "util/buf.h"

struct ref {
	const uint8_t *d;
	size_t	n;
};

/* ref_rec - type, data offset and length of the record at off */
static int
ref_rec(const struct ref *r, size_t off, int *type, size_t *data,
    size_t *len)
{
	size_t	l = 0, i;

	if (off >= r->n)
		return -1;
	*type = r->d[off];
	for (i = 0; i < 4; i++) {
		if (off + 1 + i >= r->n)
			return -1;
		l |= (size_t)(r->d[off + 1 + i] & 0x7f) << (7 * i);
		if ((r->d[off + 1 + i] & 0x80) == 0)
			break;
	}
	if (i == 4)
		return -1;
	*data = off + 2 + i;
	if (l > r->n - *data)
		return -1;
	*len = l;
	return 0;
}

/* ref_num - a decimal after blanks in [p, end); -1 when none */
static long long
ref_num(const uint8_t **p, const uint8_t *end)
{
	long long v = 0;
	int	k = 0;

	while (*p < end && **p == ' ')
		(*p)++;
	while (*p < end && **p >= '0' && **p <= '9' && k < 15)
		v = v * 10 + (*(*p)++ - '0'), k++;
	return k ? v : -1;
}

/* ref_hdr - postcat's test: header name and colon, or a blank first */
static int
ref_hdr(const uint8_t *p, size_t n)
{
	size_t	i = 0;

	while (i < n && p[i] > 32 && p[i] < 127 && p[i] != ':')
		i++;
	if (i == 0)
		return 0;
	while (i < n && (p[i] == ' ' || p[i] == '\t'))
		i++;
	return i < n && p[i] == ':';
}

/* ref_parse - the same rules, read plainly; 0 OK, -1 doubt */
static int
ref_parse(const struct ref *r, struct buf *out)
{
	const uint8_t *p, *end;
	size_t	off, data, len, seen[PFQF_MAX_HOPS], nseen = 0, i;
	long long size, start, to;
	int	type, cont = 0;

	buf_reset(out);
	if (ref_rec(r, 0, &type, &data, &len) < 0 || type != 'C' ||
	    len > 256)
		return -1;
	p = r->d + data;
	end = p + len;
	if ((size = ref_num(&p, end)) <= 0 || p == end || *p != ' ' ||
	    (start = ref_num(&p, end)) <= 0 || (p < end && *p != ' '))
		return -1;
	if ((size_t)start > r->n || (size_t)size + 2 > r->n - start)
		return -1;
	for (off = data + len; off < (size_t)start; off = data + len) {
		if (ref_rec(r, off, &type, &data, &len) < 0)
			return -1;
		if (type == 'M')
			break;
		if (type == 0 || !strchr("TcFILSDRO/WVA>K<ionpdfmwPre", type))
			return -1;
	}
	if (off >= (size_t)start || type != 'M' || len != 0 ||
	    data != (size_t)start)
		return -1;
	if (ref_rec(r, start + size, &type, &data, &len) < 0 ||
	    type != 'X' || len != 0)
		return -1;
	for (off = start;;) {
		if (ref_rec(r, off, &type, &data, &len) < 0)
			return -1;
		if (type == 'N' || type == 'L') {
			if (!cont && !(len > 0 && (r->d[data] == ' ' ||
			    r->d[data] == '\t' || ref_hdr(r->d + data, len))))
				return 0;
			if (memchr(r->d + data, 0, len) ||
			    memchr(r->d + data, '\n', len) ||
			    out->len + len + 1 > PFQF_MAX_OUT)
				return -1;
			buf_add(out, r->d + data, len);
			if (type == 'N')
				buf_addch(out, '\n');
			cont = type == 'L';
			off = data + len;
		} else if (type == 'w') {
			off = data + len;
		} else if (type == 'p') {
			p = r->d + data;
			end = p + len;
			if (len > 32 || (to = ref_num(&p, end)) < 0 || p != end)
				return -1;
			if (to == 0) {
				off = data + len;
				continue;
			}
			if (to < start || (size_t)to >= r->n)
				return -1;
			for (i = 0; i < nseen; i++)
				if (seen[i] == (size_t)to)
					return -1;
			if (nseen == PFQF_MAX_HOPS)
				return -1;
			seen[nseen++] = off = (size_t)to;
		} else if (type == 'X') {
			if (cont)
				buf_addch(out, '\n');
			return 0;
		} else
			return -1;
	}
}

struct slow {
	const uint8_t *d;
	size_t	n;
	int	calls;
};

/* slow_read - a pread that reads little at first */
static ssize_t
slow_read(void *ctx, void *p, size_t len, off_t off)
{
	struct slow *s = ctx;

	if (off < 0 || (size_t)off > s->n)
		return -1;
	if (len > s->n - (size_t)off)
		len = s->n - (size_t)off;
	if (s->calls++ < 64 && len > 7)
		len = 7;
	memcpy(p, s->d + off, len);
	return (ssize_t)len;
}

/* same - two buffers hold the same octets */
static int
same(const struct buf *a, const struct buf *b)
{
	return a->len == b->len && (a->len == 0 ||
	    memcmp(a->s, b->s, a->len) == 0);
}

/* check_output - header lines only, bounded */
static void
check_output(const struct buf *out)
{
	const char *s = out->s, *nl;
	size_t	left = out->len;

	FUZZ_CHECK(out->len <= PFQF_MAX_OUT);
	if (out->len == 0)
		return;
	FUZZ_CHECK(s[out->len - 1] == '\n');
	FUZZ_CHECK(memchr(s, '\0', out->len) == NULL);
	while (left > 0) {
		nl = memchr(s, '\n', left);
		FUZZ_CHECK(nl != NULL);
		FUZZ_CHECK(s[0] == ' ' || s[0] == '\t' ||
		    ref_hdr((const uint8_t *)s, (size_t)(nl - s)));
		left -= (size_t)(nl - s) + 1;
		s = nl + 1;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf out = BUF_INIT, o2 = BUF_INIT, ref = BUF_INIT;
	struct slow sl;
	struct ref r;
	const char *why = NULL;
	size_t	k, cut;
	int	st, st2, rs;

	st = pfqf_parse_mem(data, size, &out, &why);
	FUZZ_CHECK(st == PFQF_OK || st == PFQF_DOUBT);
	FUZZ_CHECK(st == PFQF_OK ? why == NULL : why != NULL && out.len == 0);
	if (st == PFQF_OK)
		check_output(&out);

	r.d = data;
	r.n = size;
	rs = ref_parse(&r, &ref);
	FUZZ_CHECK((rs == 0) == (st == PFQF_OK));
	FUZZ_CHECK(st != PFQF_OK || same(&ref, &out));

	sl.d = data;
	sl.n = size;
	sl.calls = 0;
	st2 = pfqf_parse(slow_read, &sl, (off_t)size, &o2,
	    NULL);
	FUZZ_CHECK(st2 == PFQF_DOUBT || (st2 == st && same(&o2, &out)));

	for (k = 1; k <= 16 && size > 0; k++) {
		cut = size * k / 17;
		if (pfqf_parse_mem(data, cut, &o2, NULL) != PFQF_OK)
			continue;
		FUZZ_CHECK(st == PFQF_OK && same(&o2, &out));
	}
	buf_free(&out);
	buf_free(&o2);
	buf_free(&ref);
	return 0;
}
