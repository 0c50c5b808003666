/*
 * NAME
 *	fuzz_atrn - libFuzzer target: the argument of ATRN, sasl_users
 * DESCRIPTION
 *	The input is "ARGUMENT\nUSER\nLIST": the argument of ATRN as the
 *	ODMR session hands it over (a line without NUL or line end), an
 *	authenticated name and an entry's sasl_users.  Runs
 *	atrnarg_parse() and strv_listed() (the sasl_users test) and checks:
 *	- the outcome is the one of a plain reading of the grammar: items
 *	  split at every comma, blanks around an item cut, the first
 *	  empty item, bad domain or 65th distinct domain refuses the
 *	  whole argument (in that order of appearance), an argument of
 *	  blanks alone is "no domain";
 *	- a refusal keeps no domain; an accepted argument has 1 to
 *	  ATRN_MAX_DOMAINS domains, no two alike, each lowercase host
 *	  name syntax without a trailing dot, at most 253 octets, that
 *	  normalises to itself, in the order they first appear;
 *	- the domains joined by "," (or " , ", upper case, with the first
 *	  repeated with a trailing dot) parse back to the same list;
 *	- a name is listed exactly when it is one of the words of LIST
 *	  (split at commas and blanks), compared octet for octet.
 */
#include "config.h"

#include <ctype.h>
#include <string.h>

#include "fuzz.h"
#include "mail/atrnarg.h"
#include "mail/domain.h"
#include "util/buf.h"
#include "util/strv.h"

/* model_item - one item as the grammar reads it; the domain into norm */
static enum atrn_syntax
model_item(const char *p, size_t len, struct buf *norm)
{
	struct buf raw = BUF_INIT;
	size_t	i;
	int	rc;

	while (len > 0 && (p[0] == ' ' || p[0] == '\t'))
		p++, len--;
	while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t'))
		len--;
	if (len == 0)
		return ATRN_ARG_ITEM;
	for (i = 0; i < len; i++)
		if (p[i] == ' ' || p[i] == '\t')
			return ATRN_ARG_DOMAIN;
	if (len > DOM_MAX_LEN)
		return ATRN_ARG_DOMAIN;
	buf_add(&raw, p, len);
	rc = dom_normalize(buf_terminate(&raw), norm, NULL);
	buf_free(&raw);
	return rc < 0 ? ATRN_ARG_DOMAIN : ATRN_ARG_OK;
}

/* model_parse - the expected outcome; the distinct domains into want */
static enum atrn_syntax
model_parse(const char *arg, char want[][DOM_MAX_LEN + 1], size_t *nwant)
{
	struct buf norm = BUF_INIT;
	enum atrn_syntax rc = ATRN_ARG_OK;
	const char *p = arg, *end;
	size_t	i;

	*nwant = 0;
	if (strspn(arg, " \t") == strlen(arg))
		return ATRN_ARG_EMPTY;
	for (;;) {
		end = p + strcspn(p, ",");
		if ((rc = model_item(p, (size_t)(end - p), &norm)) !=
		    ATRN_ARG_OK)
			break;
		for (i = 0; i < *nwant; i++)
			if (strcmp(want[i], norm.s) == 0)
				break;
		if (i == *nwant) {
			if (*nwant == ATRN_MAX_DOMAINS) {
				rc = ATRN_ARG_TOO_MANY;
				break;
			}
			FUZZ_CHECK(norm.len <= DOM_MAX_LEN);
			memcpy(want[(*nwant)++], norm.s, norm.len + 1);
		}
		if (*end == '\0')
			break;
		p = end + 1;
	}
	buf_free(&norm);
	return rc;
}

/* check_domain - a domain ATRN may hand on */
static void
check_domain(const char *d)
{
	struct buf again = BUF_INIT;
	size_t	n = strlen(d), i;

	FUZZ_CHECK(n > 0 && n <= DOM_MAX_LEN && d[n - 1] != '.');
	FUZZ_CHECK(dom_valid_hostname(d));
	for (i = 0; i < n; i++)
		FUZZ_CHECK(!isupper((unsigned char)d[i]));
	FUZZ_CHECK(dom_normalize(d, &again, NULL) == 0);
	FUZZ_CHECK(strcmp(again.s, d) == 0);
	buf_free(&again);
}

/* check_round_trip - the list written out in a few forms parses back */
static void
check_round_trip(const struct atrn_arg *a)
{
	struct atrn_arg b;
	struct buf s = BUF_INIT;
	size_t	i, k, form;

	for (form = 0; form < 3; form++) {
		buf_reset(&s);
		for (i = 0; i < a->n; i++) {
			if (i > 0)
				buf_cat(&s, form == 1 ? " , " : ",");
			buf_cat(&s, a->v[i]);
		}
		if (form == 2) {	/* upper case, the first again */
			for (k = 0; k < s.len; k++)
				s.s[k] = (char)toupper((unsigned char)s.s[k]);
			buf_cat(&s, ",");
			buf_cat(&s, a->v[0]);
			/* 254 octets with the dot: refused (the limit is
			 * taken before the dot is cut) */
			if (strlen(a->v[0]) < DOM_MAX_LEN)
				buf_cat(&s, ".");
		}
		FUZZ_CHECK(atrnarg_parse(buf_terminate(&s), &b) ==
		    ATRN_ARG_OK);
		FUZZ_CHECK(b.n == a->n);
		for (i = 0; i < a->n; i++)
			FUZZ_CHECK(strcmp(b.v[i], a->v[i]) == 0);
		atrnarg_free(&b);
	}
	buf_free(&s);
}

/* model_listed - is user one of the words of list */
static int
model_listed(const char *list, const char *user)
{
	const char *p = list;
	size_t	len;

	if (*user == '\0')
		return 0;
	while (*p) {
		len = strcspn(p, ", \t");
		if (len > 0 && len == strlen(user) &&
		    strncmp(p, user, len) == 0)
			return 1;
		p += len ? len : 1;
	}
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char want[ATRN_MAX_DOMAINS][DOM_MAX_LEN + 1];
	struct atrn_arg a;
	enum atrn_syntax rc, expect;
	char	*copy, *user, *list, *nl;
	size_t	nwant, i, k;

	if ((copy = malloc(size + 1)) == NULL)
		return 0;
	memcpy(copy, data, size);
	copy[size] = '\0';
	user = list = copy + size;
	if ((nl = strchr(copy, '\n')) != NULL) {
		*nl = '\0';
		user = nl + 1;
		list = user + strlen(user);
		if ((nl = strchr(user, '\n')) != NULL) {
			*nl = '\0';
			list = nl + 1;
		}
	}

	rc = atrnarg_parse(copy, &a);
	expect = model_parse(copy, want, &nwant);
	FUZZ_CHECK(rc == expect);
	FUZZ_CHECK(strcmp(atrnarg_why(rc), "?") != 0);
	if (rc != ATRN_ARG_OK)
		FUZZ_CHECK(a.n == 0);
	else {
		FUZZ_CHECK(a.n >= 1 && a.n <= ATRN_MAX_DOMAINS);
		FUZZ_CHECK(a.n == nwant);
		for (i = 0; i < a.n; i++) {
			check_domain(a.v[i]);
			FUZZ_CHECK(strcmp(a.v[i], want[i]) == 0);
			for (k = 0; k < i; k++)
				FUZZ_CHECK(strcmp(a.v[i], a.v[k]) != 0);
		}
		check_round_trip(&a);
	}
	atrnarg_free(&a);
	FUZZ_CHECK(a.n == 0);

	FUZZ_CHECK(strv_listed(list, user) ==
	    model_listed(list, user));
	FUZZ_CHECK(strv_listed(list, "") == 0);
	free(copy);
	return 0;
}
