/*
 * NAME
 *	fuzz_dsn - libFuzzer target: the DSN builder
 * DESCRIPTION
 *	Input: two control octets, then NUL-terminated strings (reporting
 *	MTA, domain, queue ID, token, sender, ENVID, and address, NOTIFY,
 *	ORCPT per recipient), then the original message (any octets, NUL
 *	included).  Octet 0: bit 0 delayed, bit 1 whole message (RET=FULL),
 *	bits 2-4 the number of recipients; octet 1 picks the times.
 *	dsn_build() either fails with a reason and no output, or writes a
 *	message (LF line ends, by design: the submission converts) for
 *	which this checks:
 *	- no CR, no line over 998 octets, no NUL outside the returned
 *	  message;
 *	- the top-level header section holds exactly the builder's own
 *	  fields, each once, so nothing from the input made a header line;
 *	  the Message-ID has its fixed form;
 *	- the boundary occurs only in the three delimiters and the close;
 *	  every part has its header section; 8bit content is declared;
 *	- message/delivery-status is printable US-ASCII fields: one
 *	  per-message group, then one group per recipient that asked for
 *	  this DSN, each with Final-Recipient, Action and Status;
 *	- the returned headers have no X-ETRN-Hold field;
 *	- dsn_needs() reports DSN_8BITMIME exactly when an octet is 8-bit,
 *	  DSN_SMTPUTF8 exactly when the top header is, and DSN_GLOBAL only
 *	  for a returned part with 8-bit headers; on the raw input too it
 *	  reads nothing out of bounds;
 *	- dsn_downgrade() takes every built DSN, and without 8BITMIME leaves
 *	  8-bit octets only in a top header that had them; on the raw input
 *	  it reads nothing out of bounds;
 *	- with sane inputs (a sender, a wanting recipient, strings under
 *	  150 octets) the build succeeds.
 *	FUZZ_DSN_DUMP=1 in the environment writes each message to stderr.
 */
#include "config.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "fuzz.h"
#include "mail/dsn.h"
#include "mail/holdtag.h"

#define MAX_RCPT	7
#define SANE_LEN	150

static const long long times[16] = {
	1790000000LL, 0, -1, 1, 253402300799LL, 253402300800LL,
	-62167219200LL, 9223372036854775807LL, (-9223372036854775807LL - 1),
	1790000059LL, 1790086400LL, 1790431999LL, 2147483647LL,
	2147483648LL, 4102444800LL, 1790000000LL + 366 * 86400LL,
};

struct line {
	const char *s;
	size_t	len;
};

struct lines {
	struct line *v;
	size_t	n;
};

/* split - the lines of s (LF-terminated) */
static void
split(const char *s, size_t len, struct lines *l)
{
	size_t	i, start = 0, cap = 64;

	l->n = 0;
	if ((l->v = malloc(cap * sizeof(*l->v))) == NULL)
		abort();
	for (i = 0; i < len; i++) {
		if (s[i] != '\n')
			continue;
		if (l->n == cap && (l->v = realloc(l->v,
		    (cap *= 2) * sizeof(*l->v))) == NULL)
			abort();
		l->v[l->n].s = s + start;
		l->v[l->n++].len = i - start;
		start = i + 1;
	}
	FUZZ_CHECK(start == len);	/* the last line ends in LF too */
}

/* is_field - "Name:" with a name of letters, digits and '-'; its length */
static size_t
is_field(const struct line *ln, const char *name)
{
	size_t	i;

	for (i = 0; i < ln->len && ln->s[i] != ':'; i++)
		if (!isalnum((unsigned char)ln->s[i]) && ln->s[i] != '-')
			return 0;
	if (i == 0 || i == ln->len)
		return 0;
	if (name && (strlen(name) != i || strncasecmp(ln->s, name, i) != 0))
		return 0;
	return i;
}

/* header_end - index of the blank line ending a header section at i */
static size_t
header_end(const struct lines *l, size_t i)
{
	for (; i < l->n; i++)
		if (l->v[i].len == 0)
			return i;
	FUZZ_CHECK(!"header section without an end");
	return i;
}

/* check_msgid - <expired.ID@HOST> or <delayed.ID@HOST>, maybe folded */
static void
check_msgid(const struct lines *l, size_t i, size_t end, int delayed)
{
	char	v[2048];
	size_t	n = 0, k;

	for (k = 11; i < end && (n == 0 || l->v[i].s[0] == ' '); i++, k = 0)
		for (; k < l->v[i].len; k++)
			if (l->v[i].s[k] != ' ' && l->v[i].s[k] != '\t' &&
			    n < sizeof(v) - 1)
				v[n++] = l->v[i].s[k];
	v[n] = '\0';
	FUZZ_CHECK(n > 11 && strncmp(v, delayed ? "<delayed." : "<expired.",
	    9) == 0 && v[n - 1] == '>' && strchr(v, '@') != NULL);
	for (k = 9; k < n - 1; k++)
		FUZZ_CHECK(isalnum((unsigned char)v[k]) ||
		    strchr("-._@", v[k]) != NULL);
}

/* check_top - the top-level header section; the boundary */
static size_t
check_top(const struct lines *l, int delayed, char *bnd, size_t bsz,
    int *eight)
{
	static const char *const names[] = { "From", "To", "Subject", "Date",
		"Message-ID", "Auto-Submitted", "MIME-Version", "Content-Type",
		"Content-Transfer-Encoding" };
	int	seen[9] = { 0 };
	size_t	i, k, end = header_end(l, 0);
	const char *p, *q;

	for (i = 0; i < end; i++) {
		const struct line *ln = &l->v[i];

		if (ln->s[0] == ' ' || ln->s[0] == '\t') {
			FUZZ_CHECK(i > 0);	/* a continuation */
			for (k = 0; k < ln->len && (ln->s[k] == ' ' ||
			    ln->s[k] == '\t'); k++)
				;
			FUZZ_CHECK(k < ln->len);	/* not blank */
			continue;
		}
		for (k = 0; k < 9 && !is_field(ln, names[k]); k++)
			;
		FUZZ_CHECK(k < 9 && !seen[k]++);
		if (k == 4)
			check_msgid(l, i, end, delayed);
		if (k == 8)
			*eight = 1;
	}
	for (k = 0; k < 8; k++)
		FUZZ_CHECK(seen[k] == 1);
	/* boundary="=_openetrn_...": on the Content-Type line or folded */
	for (i = 0; i < end && !is_field(&l->v[i], "Content-Type"); i++)
		;
	for (; i < end && (is_field(&l->v[i], "Content-Type") ||
	    l->v[i].s[0] == ' '); i++) {
		p = memmem(l->v[i].s, l->v[i].len, "boundary=\"", 10);
		if (p == NULL)
			continue;
		p += 10;
		q = memchr(p, '"', l->v[i].len - (size_t)(p - l->v[i].s));
		FUZZ_CHECK(q != NULL && (size_t)(q - p) < bsz && q - p > 11);
		memcpy(bnd, p, (size_t)(q - p));
		bnd[q - p] = '\0';
		FUZZ_CHECK(strncmp(bnd, "=_openetrn_", 11) == 0);
		return end;
	}
	FUZZ_CHECK(!"no boundary");
	return end;
}

/* check_status - the delivery-status part's content, lines [i, e) */
static void
check_status(const struct lines *l, size_t i, size_t e, size_t nwant,
    int delayed)
{
	size_t	groups = 0, k, fin = 0, act = 0, st = 0, infield = 0;

	for (; i <= e; i++) {
		if (i == e || l->v[i].len == 0) {
			if (infield && groups > 0)
				FUZZ_CHECK(fin == 1 && act == 1 && st == 1);
			if (infield)
				groups++;
			infield = fin = act = st = 0;
			continue;
		}
		for (k = 0; k < l->v[i].len; k++)
			FUZZ_CHECK(l->v[i].s[k] >= 32 && l->v[i].s[k] < 127);
		if (l->v[i].s[0] == ' ') {
			FUZZ_CHECK(infield);
			continue;
		}
		FUZZ_CHECK(is_field(&l->v[i], NULL));
		if (!infield && groups == 0)
			FUZZ_CHECK(is_field(&l->v[i], "Reporting-MTA"));
		infield = 1;
		fin += is_field(&l->v[i], "Final-Recipient") != 0;
		st += is_field(&l->v[i], "Status") != 0;
		if (is_field(&l->v[i], "Action")) {
			act++;
			FUZZ_CHECK(l->v[i].len == (delayed ? 15 : 14) &&
			    memcmp(l->v[i].s + 8, delayed ? "delayed" :
			    "failed", l->v[i].len - 8) == 0);
		}
	}
	FUZZ_CHECK(groups == 1 + nwant);
}

/* check_returned - no X-ETRN-Hold among the returned headers */
static void
check_returned(const struct lines *l, size_t i, size_t e)
{
	size_t	k = strlen(HOLDTAG_HEADER), j;

	for (; i < e && l->v[i].len > 0; i++) {
		if (l->v[i].len < k || strncasecmp(l->v[i].s, HOLDTAG_HEADER,
		    k) != 0)
			continue;
		for (j = k; j < l->v[i].len && (l->v[i].s[j] == ' ' ||
		    l->v[i].s[j] == '\t'); j++)
			;
		FUZZ_CHECK(j == l->v[i].len || l->v[i].s[j] != ':');
	}
}

/* check_message - the invariants of a built DSN */
static void
check_message(const struct buf *out, const struct dsn_input *in,
    size_t nwant)
{
	struct lines l;
	char	bnd[128], delim[140];
	size_t	i, top, part[3], np = 0, dl, hend, k;
	int	eight = 0, body8 = 0;
	const char *p;

	if (getenv("FUZZ_DSN_DUMP") != NULL)	/* to see a failing case */
		fwrite(out->s, 1, out->len, stderr);
	FUZZ_CHECK(memchr(out->s, '\r', out->len) == NULL);
	split(out->s, out->len, &l);
	for (i = 0; i < l.n; i++)
		FUZZ_CHECK(l.v[i].len <= 998);
	top = check_top(&l, in->action == DSN_DELAYED, bnd, sizeof(bnd),
	    &eight);
	snprintf(delim, sizeof(delim), "--%s", bnd);
	dl = strlen(delim);
	/* the boundary: in three delimiters and the close, nowhere else */
	for (p = out->s, k = 0; (p = memmem(p, out->len - (size_t)(p -
	    out->s), bnd, strlen(bnd))) != NULL; p++)
		k++;
	FUZZ_CHECK(k == 5);	/* with the Content-Type parameter */
	for (i = top + 1; i < l.n; i++) {
		if (l.v[i].len == dl && memcmp(l.v[i].s, delim, dl) == 0) {
			FUZZ_CHECK(np < 3);
			part[np++] = i;
		}
		for (k = 0; k < l.v[i].len; k++)
			body8 |= (unsigned char)l.v[i].s[k] >= 0x80;
	}
	FUZZ_CHECK(np == 3);
	FUZZ_CHECK(l.v[l.n - 1].len == dl + 2 &&
	    memcmp(l.v[l.n - 1].s, delim, dl) == 0 &&
	    memcmp(l.v[l.n - 1].s + dl, "--", 2) == 0);
	FUZZ_CHECK(!body8 || eight);
	/* nothing but the returned message may carry a NUL */
	FUZZ_CHECK(memchr(out->s, '\0', (size_t)(l.v[part[2]].s -
	    out->s)) == NULL);
	for (i = 0; i < 3; i++) {
		hend = header_end(&l, part[i] + 1);
		FUZZ_CHECK(is_field(&l.v[part[i] + 1], "Content-Description"));
		FUZZ_CHECK(is_field(&l.v[part[i] + 2], "Content-Type"));
		FUZZ_CHECK(hend <= part[i] + 5);
		if (i == 1) {
			FUZZ_CHECK(l.v[part[1] + 2].len == 37 &&
			    memcmp(l.v[part[1] + 2].s + 14,
			    "message/delivery-status", 23) == 0);
			check_status(&l, hend + 1, part[2] - 1, nwant,
			    in->action == DSN_DELAYED);
		}
		if (i == 2)
			check_returned(&l, hend + 1, l.n - 1);
	}
	free(l.v);
}

/* cut - the next NUL-terminated string, "" when the input is used up */
static const char *
cut(const uint8_t **p, const uint8_t *end, int *sane)
{
	const uint8_t *s = *p, *z;

	if (s >= end)
		return "";
	if ((z = memchr(s, '\0', (size_t)(end - s))) == NULL) {
		*p = end;
		return "";	/* unterminated: the original gets it */
	}
	*p = z + 1;
	if (z - s >= SANE_LEN)
		*sane = 0;
	return (const char *)s;
}

/* eight - any octet >= 0x80 in [p, p + n) */
static int
eight(const char *p, size_t n)
{
	while (n-- > 0)
		if ((unsigned char)*p++ >= 0x80)
			return 1;
	return 0;
}

/* check_downgrade - the 7-bit form has 8-bit octets in its top header only */
static void
check_downgrade(const struct buf *m, size_t hlen)
{
	struct buf d = BUF_INIT;
	const char *hend;

	FUZZ_CHECK(dsn_downgrade(m->s, m->len, 0, 0, &d) == 0);
	hend = strstr(buf_terminate(&d), "\n\n");
	FUZZ_CHECK(hend != NULL);
	FUZZ_CHECK(!eight(hend, d.len - (size_t)(hend - d.s)));
	FUZZ_CHECK(!eight(d.s, (size_t)(hend - d.s)) == !eight(m->s, hlen));
	FUZZ_CHECK(dsn_downgrade(m->s, m->len, 1, 0, &d) == 0);
	buf_free(&d);
}

/* check_needs - dsn_needs() agrees with the message's octets */
static void
check_needs(const struct buf *m)
{
	int	need = dsn_needs(m->s, m->len);
	const char *hend = strstr(m->s, "\n\n");
	size_t	hlen = hend ? (size_t)(hend - m->s) : m->len;

	FUZZ_CHECK(!(need & DSN_8BITMIME) == !eight(m->s, m->len));
	FUZZ_CHECK(!(need & DSN_SMTPUTF8) == !eight(m->s, hlen));
	FUZZ_CHECK(!(need & DSN_GLOBAL) || (need & DSN_8BITMIME));
	check_downgrade(m, hlen);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *p = data + 2, *end = data + size, *orig;
	struct dsn_rcpt rcpt[MAX_RCPT];
	struct dsn_input in;
	struct buf out = BUF_INIT, err = BUF_INIT;
	size_t	i, nwant = 0;
	int	sane = 1, rc;

	if (size < 2)
		return 0;
	memset(&in, 0, sizeof(in));
	in.action = data[0] & 1 ? DSN_DELAYED : DSN_FAILED;
	in.original_is_full = (data[0] & 2) != 0;
	in.ret = in.original_is_full ? "FULL" : "HDRS";
	in.nrcpt = (data[0] >> 2) & 7;
	in.arrived = times[data[1] & 15];
	in.expires = in.arrived;
	if (data[1] & 16 && in.arrived < times[7] - 5 * 86400)
		in.expires += 5 * 86400;
	in.now = data[1] & 32 ? times[(data[1] >> 4) & 15] : in.expires;
	if (data[1] & 128)
		in.expires = times[(data[1] >> 3) & 15];
	in.reporting_mta = cut(&p, end, &sane);
	in.domain = cut(&p, end, &sane);
	in.queue_id = cut(&p, end, &sane);
	in.token = cut(&p, end, &sane);
	in.sender = cut(&p, end, &sane);
	in.envid = cut(&p, end, &sane);
	for (i = 0; i < in.nrcpt; i++) {
		rcpt[i].addr = cut(&p, end, &sane);
		rcpt[i].notify = cut(&p, end, &sane);
		rcpt[i].orcpt = cut(&p, end, &sane);
		nwant += dsn_wanted(in.action, rcpt[i].notify, in.sender);
	}
	in.rcpt = rcpt;
	/* an exact-size copy of the original: ASan sees overreads */
	if ((orig = malloc(end - p + 1)) == NULL)
		abort();
	memcpy((void *)orig, p, (size_t)(end - p));
	in.original = (const char *)orig;
	in.original_len = (size_t)(end - p);

	(void)dsn_needs((const char *)data, size);
	(void)dsn_downgrade((const char *)data, size, 0, 0, &out);
	rc = dsn_build(&in, &out, &err);
	if (rc < 0) {
		FUZZ_CHECK(err.len > 0 && out.len == 0);
		FUZZ_CHECK(!sane || nwant == 0 || !*in.reporting_mta ||
		    !*in.domain || !*in.token);
	} else {
		FUZZ_CHECK(nwant > 0 && err.len == 0);
		check_message(&out, &in, nwant);
		check_needs(&out);
	}
	free((void *)orig);
	buf_free(&out);
	buf_free(&err);
	return 0;
}
