/* strv.h - growable list of strings */
#ifndef OE_STRV_H
#define OE_STRV_H

#include <stddef.h>

/* v[0..n-1] are copies the list owns; v[n] is NULL once one is added. */
struct strv {
	char	**v;
	size_t	n;
	size_t	cap;
};

#define STRV_INIT { NULL, 0, 0 }

void	strv_add(struct strv *, const char *);
int	strv_has(const struct strv *, const char *);
int	strv_listed(const char *, const char *);
void	strv_sort(struct strv *);
int	strv_cmp(const void *, const void *);
void	strv_free(struct strv *);

#endif
