/*
 * NAME
 *	domain - domain validation, normalisation and dial-up list matching
 * DESCRIPTION
 *	dom_normalize() is the one door through which a domain name reaches
 *	a Redis key, a log line or an MTA command: it lowercases, removes one
 *	trailing dot, converts U-labels to A-labels (IDNA2008 via libidn2)
 *	and then insists on RFC 1123 host name syntax.
 *
 *	A domain list holds exact entries ("example.net") and parent entries
 *	(".example.net", matching every subdomain but not example.net
 *	itself).  The exact entry wins over a parent; among parents the
 *	longest wins.  Lists are sorted arrays searched with bsearch.
 * SECURITY
 *	Anything that fails dom_normalize() is refused: no shell, Redis or
 *	header metacharacters, CR, LF or NUL can pass.
 */
#include "config.h"

#include <arpa/inet.h>

#include <ctype.h>
#include <errno.h>
#include <idn2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mail/domain.h"
#include "util/xalloc.h"

/* dom_valid_hostname - RFC 1123 labels, ASCII, lowercase or not */
int
dom_valid_hostname(const char *s)
{
	size_t	len = strlen(s), label = 0;
	const char *p;

	if (len == 0 || len > DOM_MAX_LEN)
		return 0;
	for (p = s; *p; p++) {
		unsigned char c = (unsigned char)*p;

		if (c == '.') {
			if (label == 0 || p[-1] == '-')
				return 0;
			label = 0;
			continue;
		}
		if (!isalnum(c) && c != '-')
			return 0;
		if (c == '-' && label == 0)
			return 0;
		if (++label > 63)
			return 0;
	}
	return label > 0 && p[-1] != '-';
}

/* dom_valid_literal - "[1.2.3.4]" or "[IPv6:...]" */
int
dom_valid_literal(const char *s)
{
	size_t	len = strlen(s);
	char	tmp[64];
	unsigned char addr[16];
	const char *inner;
	int	af;

	if (len < 3 || s[0] != '[' || s[len - 1] != ']' ||
	    len - 2 >= sizeof(tmp))
		return 0;
	memcpy(tmp, s + 1, len - 2);
	tmp[len - 2] = '\0';
	inner = tmp;
	af = AF_INET;
	if (strncasecmp(inner, "IPv6:", 5) == 0) {
		inner += 5;
		af = AF_INET6;
	}
	return inet_pton(af, inner, addr) == 1;
}

/* dom_normalize - canonical ASCII form of a domain, or -1 and why */
int
dom_normalize(const char *in, struct buf *out, const char **why)
{
	const char *p;
	char	*ascii = NULL;
	size_t	len = strlen(in);
	int	utf8 = 0, rc;

	buf_reset(out);
	if (len == 0) {
		if (why)
			*why = "empty domain";
		return -1;
	}
	if (len > 4 * DOM_MAX_LEN) {
		if (why)
			*why = "domain too long";
		return -1;
	}
	for (p = in; *p; p++)
		if ((unsigned char)*p >= 0x80)
			utf8 = 1;
	if (utf8) {
		rc = idn2_to_ascii_8z(in, &ascii,
		    IDN2_NFC_INPUT | IDN2_NONTRANSITIONAL);
		if (rc != IDN2_OK) {
			if (why)
				*why = "invalid internationalized domain";
			return -1;
		}
		buf_cat(out, ascii);
		idn2_free(ascii);
	} else
		buf_add(out, in, len);
	if (out->len > 0 && out->s[out->len - 1] == '.')
		out->s[--out->len] = '\0';
	for (size_t i = 0; i < out->len; i++)
		out->s[i] = (char)tolower((unsigned char)out->s[i]);
	buf_terminate(out);
	if (!dom_valid_hostname(out->s)) {
		if (why)
			*why = "invalid domain syntax";
		buf_reset(out);
		return -1;
	}
	return 0;
}

/* dom_addr_domain - normalised domain of an envelope address */
int
dom_addr_domain(const char *addr, struct buf *out, const char **why)
{
	struct buf raw = BUF_INIT;
	const char *p, *at, *end;
	int	rc;

	p = addr;
	if (*p == '<')
		p++;
	end = p + strlen(p);
	if (end > p && end[-1] == '>')
		end--;
	/* An obsolete source route "@a,@b:user@dom" ends at the colon. */
	if (*p == '@') {
		const char *colon = memchr(p, ':', (size_t)(end - p));

		if (colon != NULL)
			p = colon + 1;
	}
	for (at = NULL; p < end; p++)
		if (*p == '@')
			at = p;
	if (at == NULL || at + 1 >= end) {
		if (why)
			*why = "address has no domain";
		buf_reset(out);
		return -1;
	}
	buf_add(&raw, at + 1, (size_t)(end - at - 1));
	rc = dom_normalize(buf_terminate(&raw), out, why);
	buf_free(&raw);
	return rc;
}

/* domlist_init - empty list */
void
domlist_init(struct domlist *dl)
{
	dl->v = NULL;
	dl->n = dl->cap = 0;
}

/* domlist_free - release entries */
void
domlist_free(struct domlist *dl)
{
	for (size_t i = 0; i < dl->n; i++) {
		free(dl->v[i].name);
		free(dl->v[i].allow);
	}
	free(dl->v);
	domlist_init(dl);
}

/* domlist_add - normalise and append an entry (sort afterwards) */
int
domlist_add(struct domlist *dl, const char *name, long long hold_time,
    long long warn_time, const char **why)
{
	struct buf norm = BUF_INIT;
	int	parent = name[0] == '.';

	if (dom_normalize(name + parent, &norm, why) < 0) {
		buf_free(&norm);
		return -1;
	}
	if (dl->n == dl->cap) {
		dl->cap = dl->cap ? dl->cap * 2 : 16;
		dl->v = xreallocarray(dl->v, dl->cap, sizeof(*dl->v));
	}
	if (parent) {
		struct buf dotted = BUF_INIT;

		buf_addch(&dotted, '.');
		buf_add(&dotted, norm.s, norm.len);
		dl->v[dl->n].name = buf_steal(&dotted);
		buf_free(&norm);
	} else
		dl->v[dl->n].name = buf_steal(&norm);
	dl->v[dl->n].hold_time = hold_time;
	dl->v[dl->n].warn_time = warn_time;
	dl->v[dl->n].order = dl->n;
	dl->v[dl->n].allow = NULL;
	dl->n++;
	return 0;
}

/* domlist_cmp - order entries by name */
static int
domlist_cmp(const void *a, const void *b)
{
	return strcmp(((const struct dom_entry *)a)->name,
	    ((const struct dom_entry *)b)->name);
}

/* domlist_cmp_order - by name, then by the order entries were added */
static int
domlist_cmp_order(const void *a, const void *b)
{
	const struct dom_entry *x = a, *y = b;
	int	c = strcmp(x->name, y->name);

	if (c != 0)
		return c;
	return x->order < y->order ? -1 : x->order > y->order;
}

/* domlist_sort - sort and drop duplicate names (the first added wins) */
void
domlist_sort(struct domlist *dl)
{
	size_t	i, j;

	if (dl->n == 0)
		return;
	qsort(dl->v, dl->n, sizeof(*dl->v), domlist_cmp_order);
	for (i = 1, j = 1; i < dl->n; i++) {
		if (strcmp(dl->v[i].name, dl->v[j - 1].name) == 0) {
			free(dl->v[i].name);
			free(dl->v[i].allow);
			continue;
		}
		dl->v[j++] = dl->v[i];
	}
	dl->n = j;
}

/* domlist_find - exact entry by name */
static const struct dom_entry *
domlist_find(const struct domlist *dl, const char *name)
{
	struct dom_entry key;

	key.name = (char *)name;
	if (dl->n == 0)
		return NULL;
	return bsearch(&key, dl->v, dl->n, sizeof(*dl->v), domlist_cmp);
}

/* domlist_match - entry for a normalised domain, or NULL */
const struct dom_entry *
domlist_match(const struct domlist *dl, const char *domain)
{
	const struct dom_entry *e;
	const char *p;

	if ((e = domlist_find(dl, domain)) != NULL)
		return e;
	for (p = strchr(domain, '.'); p != NULL; p = strchr(p + 1, '.'))
		if ((e = domlist_find(dl, p)) != NULL)
			return e;
	return NULL;
}

/* domlist_load_file - one domain per line, '#' comments */
int
domlist_load_file(struct domlist *dl, const char *path, struct buf *err)
{
	char	line[1024], *p, *e;
	const char *why;
	FILE	*fp;
	int	lineno = 0;

	if ((fp = fopen(path, "r")) == NULL) {
		buf_printf(err, "%s: %s", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), fp) != NULL) {
		lineno++;
		if (strchr(line, '\n') == NULL && !feof(fp)) {
			buf_printf(err, "%s:%d: line too long", path, lineno);
			fclose(fp);
			return -1;
		}
		for (p = line; *p == ' ' || *p == '\t'; p++)
			;
		for (e = p + strlen(p); e > p && isspace((unsigned char)e[-1]);
		    e--)
			;
		*e = '\0';
		if (*p == '\0' || *p == '#')
			continue;
		if (domlist_add(dl, p, 0, -1, &why) < 0) {
			buf_printf(err, "%s:%d: \"%s\": %s", path, lineno, p,
			    why);
			fclose(fp);
			return -1;
		}
	}
	fclose(fp);
	return 0;
}
