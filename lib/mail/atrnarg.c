/*
 * NAME
 *	atrnarg - the argument of ATRN (RFC 2645)
 * SUMMARY
 *	if (atrnarg_parse("example.net,example.org", &a) != ATRN_ARG_OK)
 *		501;
 * DESCRIPTION
 *	atrnarg_parse() splits "domain *("," domain)" into normalised
 *	domains (dom_normalize(): host name syntax or an IDN converted to
 *	A-labels); a repeated domain counts once.  Blanks around an item
 *	are allowed, an empty item is not.  The per-domain authorization
 *	(the authenticated name one of the entry's sasl_users) is
 *	strv_listed() of lib/util, the same test etrn-policy makes.
 * SECURITY
 *	Pure functions: at most ATRN_MAX_DOMAINS domains are kept, each at
 *	most 253 octets, whatever the input; nothing not validated leaves.
 *	A libFuzzer target runs atrnarg_parse (tests/fuzz).
 * DIAGNOSTICS
 *	atrnarg_parse() returns why an argument is refused;
 *	atrnarg_why() puts it in words for the log.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "mail/atrnarg.h"
#include "mail/domain.h"
#include "util/buf.h"

/* atrnarg_add - one item: validate, normalise, keep once */
static enum atrn_syntax
atrnarg_add(struct atrn_arg *a, const char *item, size_t len)
{
	struct buf raw = BUF_INIT, norm = BUF_INIT;
	enum atrn_syntax rc = ATRN_ARG_OK;
	size_t	i;

	while (len > 0 && (*item == ' ' || *item == '\t'))
		item++, len--;
	while (len > 0 && (item[len - 1] == ' ' || item[len - 1] == '\t'))
		len--;
	if (len == 0)
		return ATRN_ARG_ITEM;
	if (len > DOM_MAX_LEN || memchr(item, '\0', len) != NULL)
		return ATRN_ARG_DOMAIN;
	buf_add(&raw, item, len);
	if (strpbrk(buf_terminate(&raw), " \t") != NULL ||
	    dom_normalize(raw.s, &norm, NULL) < 0)
		rc = ATRN_ARG_DOMAIN;
	for (i = 0; rc == ATRN_ARG_OK && i < a->n; i++)
		if (strcmp(a->v[i], norm.s) == 0)
			break;
	if (rc == ATRN_ARG_OK && i == a->n) {
		if (a->n == ATRN_MAX_DOMAINS)
			rc = ATRN_ARG_TOO_MANY;
		else
			a->v[a->n++] = buf_steal(&norm);
	}
	buf_free(&raw);
	buf_free(&norm);
	return rc;
}

/* atrnarg_parse - "d1,d2,..." into a (freed with atrnarg_free) */
enum atrn_syntax
atrnarg_parse(const char *arg, struct atrn_arg *a)
{
	enum atrn_syntax rc = ATRN_ARG_OK;
	const char *p = arg, *comma;

	memset(a, 0, sizeof(*a));
	if (arg[strspn(arg, " \t")] == '\0')
		return ATRN_ARG_EMPTY;
	for (;;) {
		comma = strchr(p, ',');
		rc = atrnarg_add(a, p, comma ? (size_t)(comma - p) :
		    strlen(p));
		if (rc != ATRN_ARG_OK || comma == NULL)
			break;
		p = comma + 1;
	}
	if (rc != ATRN_ARG_OK)
		atrnarg_free(a);
	return rc;
}

/* atrnarg_free - the domains of a */
void
atrnarg_free(struct atrn_arg *a)
{
	size_t	i;

	for (i = 0; i < a->n; i++)
		free(a->v[i]);
	a->n = 0;
}

/* atrnarg_why - a refusal in words */
const char *
atrnarg_why(enum atrn_syntax s)
{
	switch (s) {
	case ATRN_ARG_OK:
		return "ok";
	case ATRN_ARG_EMPTY:
		return "no domain";
	case ATRN_ARG_ITEM:
		return "empty item";
	case ATRN_ARG_DOMAIN:
		return "bad domain";
	case ATRN_ARG_TOO_MANY:
		return "too many domains";
	}
	return "?";
}
