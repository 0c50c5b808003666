/*
 * NAME
 *	strv - growable list of strings
 * SUMMARY
 *	struct strv sv = STRV_INIT;
 *	strv_add(&sv, s); strv_has(&sv, s); strv_sort(&sv); strv_free(&sv);
 * DESCRIPTION
 *	The project's one list of strings: queue IDs from a backend or from
 *	Redis, domains, key=value pairs.  strv_add() stores a copy; the
 *	array stays NULL-terminated, so sv.v can go where an argv-like
 *	"char *const *" is wanted, with sv.n as its count.  A zeroed struct
 *	(STRV_INIT) is an empty list; strv_free() makes it one again.
 *
 *	strv_cmp() is the byte order strv_sort() uses, for callers that
 *	bsearch() a sorted list.  strv_has() is a linear scan, meant for
 *	short lists.  strv_listed() asks the same of a list written as one
 *	string, items separated by commas and/or blanks (a setting such as
 *	a domain entry's sasl_users): an exact match, no prefix, never
 *	for an empty item.
 * DIAGNOSTICS
 *	None: memory exhaustion is fatal (xalloc).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "util/strv.h"
#include "util/xalloc.h"

/* strv_add - append a copy of s */
void
strv_add(struct strv *sv, const char *s)
{
	if (sv->n + 1 >= sv->cap) {
		sv->cap = sv->cap ? sv->cap * 2 : 16;
		sv->v = xreallocarray(sv->v, sv->cap, sizeof(char *));
	}
	sv->v[sv->n++] = xstrdup(s);
	sv->v[sv->n] = NULL;
}

/* strv_has - is s in the list */
int
strv_has(const struct strv *sv, const char *s)
{
	size_t	i;

	for (i = 0; i < sv->n; i++)
		if (strcmp(sv->v[i], s) == 0)
			return 1;
	return 0;
}

/* strv_cmp - byte order of two "char *" elements, for qsort and bsearch */
int
strv_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* strv_sort - sort in byte order */
void
strv_sort(struct strv *sv)
{
	if (sv->n > 1)
		qsort(sv->v, sv->n, sizeof(char *), strv_cmp);
}

/* strv_free - release the copies, leave an empty list */
void
strv_free(struct strv *sv)
{
	size_t	i;

	for (i = 0; i < sv->n; i++)
		free(sv->v[i]);
	free(sv->v);
	memset(sv, 0, sizeof(*sv));
}

/* strv_listed - is item one of list (items separated by commas and/or
 * blanks); 0 for an empty item or a NULL list */
int
strv_listed(const char *list, const char *item)
{
	size_t	n = strlen(item), len;
	const char *p = list;

	if (n == 0 || list == NULL)
		return 0;
	for (;;) {
		p += strspn(p, ", \t");
		if (*p == '\0')
			return 0;
		len = strcspn(p, ", \t");
		if (len == n && memcmp(p, item, n) == 0)
			return 1;
		p += len;
	}
}
