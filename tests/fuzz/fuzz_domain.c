/*
 * NAME
 *	fuzz_domain - libFuzzer target: domains, addresses, hold tags
 * DESCRIPTION
 *	The input, up to the first NUL, goes whole through dom_normalize(),
 *	dom_addr_domain(), dom_valid_literal(), dsn_xtext_decode() and
 *	holdtag_parse(); its lines make a dial-up domain list and an
 *	envelope for the milter's message model (line 1: MAIL FROM, the
 *	others RCPT TO; blank-separated parameters after the address).
 *	Checks what the callers rely on:
 *	- a normalised domain is lowercase host name syntax of at most 253
 *	  octets without a trailing dot, normalises to itself, and for an
 *	  ASCII input differs from it only in case and one trailing dot; a
 *	  refusal says why and leaves nothing behind;
 *	- dom_addr_domain() is dom_normalize() of what follows the last '@';
 *	- a sorted list has no duplicate, and a lookup finds the exact
 *	  entry or the longest parent covering the name;
 *	- the milter accepts no address or parameter that could split a
 *	  hold record line ("addr TAB notify TAB orcpt LF"), and the plan
 *	  accounts for every recipient once;
 *	- xtext and hold tag parsing agree with their formatting.
 */
#include "config.h"

#include <ctype.h>
#include <string.h>

#include "fuzz.h"
#include "mail/domain.h"
#include "mail/dsn.h"
#include "mail/holdtag.h"
#include "milter/milter.h"

#define MAX_LINES	32
#define MAX_ARGS	8

/* check_normal - invariants of a normalised domain */
static void
check_normal(const char *d)
{
	struct buf again = BUF_INIT;
	const char *p;

	FUZZ_CHECK(dom_valid_hostname(d) && strlen(d) <= DOM_MAX_LEN);
	for (p = d; *p; p++)
		FUZZ_CHECK(!isupper((unsigned char)*p));
	FUZZ_CHECK(dom_normalize(d, &again, NULL) == 0 &&
	    strcmp(again.s, d) == 0);
	buf_free(&again);
}

/* check_domain - dom_normalize() on the whole input */
static void
check_domain(const char *s)
{
	struct buf out = BUF_INIT;
	const char *why = NULL, *p;
	size_t	n = strlen(s);
	int	ascii = 1;

	for (p = s; *p; p++)
		if ((unsigned char)*p >= 0x80)
			ascii = 0;
	if (dom_normalize(s, &out, &why) < 0) {
		FUZZ_CHECK(why != NULL && *why != '\0');
		FUZZ_CHECK(out.len == 0);
	} else {
		check_normal(out.s);
		if (ascii) {
			FUZZ_CHECK(out.len == n || (out.len + 1 == n &&
			    s[n - 1] == '.'));
			FUZZ_CHECK(strncasecmp(out.s, s, out.len) == 0);
		}
	}
	if (dom_valid_literal(s))
		FUZZ_CHECK(s[0] == '[' && s[n - 1] == ']');
	buf_free(&out);
}

/* check_addr - dom_addr_domain() is the domain after the last '@' */
static void
check_addr(const char *s)
{
	struct buf out = BUF_INIT, want = BUF_INIT, raw = BUF_INIT;
	const char *at = NULL, *p, *b = s, *e = s + strlen(s);
	int	rc;

	rc = dom_addr_domain(s, &out, NULL);
	if (*b == '<')
		b++;
	if (e > b && e[-1] == '>')
		e--;
	if (*b == '@' && (p = memchr(b, ':', strlen(b))) != NULL && p < e)
		b = p + 1;
	for (p = b; p < e; p++)
		if (*p == '@')
			at = p;
	if (at == NULL || at + 1 >= e) {
		FUZZ_CHECK(rc < 0 && out.len == 0);
	} else {
		buf_add(&raw, at + 1, (size_t)(e - at - 1));
		FUZZ_CHECK(rc == dom_normalize(buf_terminate(&raw), &want,
		    NULL));
		if (rc == 0) {
			FUZZ_CHECK(strcmp(out.s, want.s) == 0);
			check_normal(out.s);
		}
	}
	buf_free(&out);
	buf_free(&want);
	buf_free(&raw);
}

/* check_xtext - decoding undoes "+XX" and refuses anything else */
static void
check_xtext(const char *s)
{
	struct buf out = BUF_INIT;
	size_t	plus = 0;
	const char *p;

	if (dsn_xtext_decode(s, &out) < 0) {
		FUZZ_CHECK(out.len == 0);
	} else {
		for (p = s; *p; p++) {
			FUZZ_CHECK(*p > ' ' && *p < 127 && *p != '=');
			if (*p == '+') {
				FUZZ_CHECK(isxdigit((unsigned char)p[1]) &&
				    isxdigit((unsigned char)p[2]));
				plus++;
			}
		}
		FUZZ_CHECK(out.len == strlen(s) - 2 * plus);
	}
	buf_free(&out);
}

/* check_holdtag - a parsed tag formats and parses to the same */
static void
check_holdtag(const char *s)
{
	struct holdtag t, t2;
	struct buf b = BUF_INIT;

	if (holdtag_parse(s, &t) == HOLDTAG_BAD)
		return;
	FUZZ_CHECK(dom_valid_hostname(t.domain));
	FUZZ_CHECK(strlen(t.token) == HOLD_TOKEN_LEN &&
	    strspn(t.token, "0123456789abcdef") == HOLD_TOKEN_LEN);
	FUZZ_CHECK(t.arrived >= 0 && t.expires >= 0);
	if (t.host[0] == '\0')
		return;		/* a tag without host= is not written */
	holdtag_format(&b, &t);
	FUZZ_CHECK(holdtag_parse(b.s, &t2) == 0);
	FUZZ_CHECK(strcmp(t.domain, t2.domain) == 0 &&
	    strcmp(t.host, t2.host) == 0 && strcmp(t.token, t2.token) == 0 &&
	    t.arrived == t2.arrived && t.expires == t2.expires);
	buf_free(&b);
}

/* check_list - sorted without duplicates; lookups find the best entry */
static void
check_list(char **lines, size_t n)
{
	struct domlist dl;
	struct buf probe = BUF_INIT;
	const struct dom_entry *e;
	size_t	i, j, pn, en;

	domlist_init(&dl);
	for (i = 0; i < n; i++)
		domlist_add(&dl, lines[i], 0, -1, NULL);
	domlist_sort(&dl);
	for (i = 0; i < dl.n; i++) {
		FUZZ_CHECK(i == 0 || strcmp(dl.v[i - 1].name, dl.v[i].name) <
		    0);
		check_normal(dl.v[i].name + (dl.v[i].name[0] == '.'));
	}
	for (i = 0; i < dl.n; i++) {
		/* the name itself, or a subdomain of a parent entry */
		buf_reset(&probe);
		if (dl.v[i].name[0] == '.')
			buf_cat(&probe, "x");
		buf_cat(&probe, dl.v[i].name);
		e = domlist_match(&dl, probe.s);
		FUZZ_CHECK(e != NULL);
		pn = probe.len;
		en = strlen(e->name);
		if (dl.v[i].name[0] != '.') {
			FUZZ_CHECK(e == &dl.v[i]);
			continue;
		}
		/* an exact entry, or the longest parent: not shorter */
		FUZZ_CHECK(strcmp(e->name, probe.s) == 0 || (e->name[0] ==
		    '.' && en >= strlen(dl.v[i].name) && en < pn &&
		    strcmp(probe.s + pn - en, e->name) == 0));
		for (j = 0; e->name[0] == '.' && j < dl.n; j++)
			FUZZ_CHECK(strcmp(dl.v[j].name, probe.s) != 0);
	}
	buf_free(&probe);
	domlist_free(&dl);
}

/* split_args - blank-separated words of a line (modified in place) */
static size_t
split_args(char *line, char **av)
{
	size_t	n = 0;
	char	*p = line;

	while (n < MAX_ARGS) {
		while (*p == ' ')
			p++;
		if (*p == '\0')
			break;
		av[n++] = p;
		p += strcspn(p, " ");
		if (*p == '\0')
			break;
		*p++ = '\0';
	}
	av[n] = NULL;
	return n;
}

/* clean - no control character, DEL, or (for ESMTP values) blank */
static int
clean(const char *s, int esmtp)
{
	for (; *s; s++)
		if ((unsigned char)*s < 32 || *s == 127 ||
		    (esmtp && ((unsigned char)*s == ' ' ||
		    (unsigned char)*s > 127)))
			return 0;
	return 1;
}

/* check_envelope - the milter's envelope model and hold records */
static void
check_envelope(char **lines, size_t n)
{
	struct msg m;
	struct plan pl;
	struct buf why = BUF_INIT, rec = BUF_INIT, dom = BUF_INIT;
	char	*av[MAX_ARGS + 1], *copy;
	const char *p;
	size_t	i, k, tabs, lf, grouped;

	memset(&m, 0, sizeof(m));
	for (i = 0; i < n; i++) {
		copy = strdup(lines[i]);
		split_args(copy, av);
		buf_reset(&why);
		if (av[0] == NULL) {
			av[0] = copy;	/* "": the null sender */
			av[1] = NULL;
		}
		if (i == 0) {
			if (record_set_sender(&m, av[0], av + 1, &why) == 0) {
				FUZZ_CHECK(clean(m.sender, 0));
				FUZZ_CHECK(m.envid == NULL ||
				    clean(m.envid, 1));
			} else
				FUZZ_CHECK(why.len > 0);
		} else if (record_add_rcpt(&m, av[0], av + 1, &why) < 0)
			FUZZ_CHECK(why.len > 0);
		free(copy);
	}
	for (i = 0; i < m.nrcpt; i++) {
		struct rcpt *r = &m.rcpt[i];

		FUZZ_CHECK(clean(r->addr, 0));
		FUZZ_CHECK(r->notify == NULL || clean(r->notify, 1));
		FUZZ_CHECK(r->orcpt == NULL || (clean(r->orcpt, 1) &&
		    strchr(r->orcpt, ';') != NULL));
		FUZZ_CHECK((dom_addr_domain(r->addr, &dom, NULL) == 0) ==
		    (r->domain != NULL));
		if (r->domain)
			FUZZ_CHECK(strcmp(r->domain, dom.s) == 0);
		r->dialup = i % 3 != 2;
	}
	record_plan_make(&m, &pl);
	grouped = 0;
	for (i = 0; i < pl.ngroups; i++) {
		record_rcpts(&rec, &m, &pl.groups[i]);
		for (p = rec.s, tabs = lf = 0; *p; p++) {
			tabs += *p == '\t';
			lf += *p == '\n';
		}
		FUZZ_CHECK(lf == pl.groups[i].n && tabs == 2 * lf);
		for (k = 0; k < pl.groups[i].n; k++)
			FUZZ_CHECK(strcmp(m.rcpt[pl.groups[i].idx[k]].domain,
			    pl.groups[i].domain) == 0);
		grouped += pl.groups[i].n;
	}
	FUZZ_CHECK(grouped + pl.nother == m.nrcpt);
	FUZZ_CHECK(pl.hold == -1 || (pl.hold == 0 && pl.nother == 0));
	record_plan_free(&pl);
	record_reset(&m);
	buf_free(&why);
	buf_free(&rec);
	buf_free(&dom);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	*s, *copy, *lines[MAX_LINES], *p;
	size_t	n = 0;

	if ((s = malloc(size + 1)) == NULL)
		abort();
	memcpy(s, data, size);
	s[size] = '\0';
	if (!holdtag_key_loaded())
		holdtag_key_set("fuzz key fuzz key fuzz key fuzz key", 35);
	check_domain(s);
	check_addr(s);
	check_xtext(s);
	check_holdtag(s);
	copy = strdup(s);
	for (p = copy; n < MAX_LINES; p++) {
		lines[n++] = p;
		if ((p = strchr(p, '\n')) == NULL)
			break;
		*p = '\0';
	}
	check_list(lines, n);
	check_envelope(lines, n);
	free(copy);
	free(s);
	return 0;
}
