/*
 * NAME
 *	xalloc - memory allocation that never returns NULL
 * DESCRIPTION
 *	Out of memory is not a condition the daemons can recover from in a
 *	useful way; these wrappers log and exit.  Size products are checked
 *	for overflow.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"
#include "util/xalloc.h"

/* xmalloc - malloc or die */
void *
xmalloc(size_t size)
{
	void	*p = malloc(size ? size : 1);

	if (p == NULL)
		log_fatalx("out of memory (%zu bytes)", size);
	return p;
}

/* xcalloc - calloc or die */
void *
xcalloc(size_t n, size_t size)
{
	void	*p = calloc(n ? n : 1, size ? size : 1);

	if (p == NULL)
		log_fatalx("out of memory (%zu x %zu bytes)", n, size);
	return p;
}

/* xrealloc - realloc or die */
void *
xrealloc(void *ptr, size_t size)
{
	void	*p = realloc(ptr, size ? size : 1);

	if (p == NULL)
		log_fatalx("out of memory (%zu bytes)", size);
	return p;
}

/* xreallocarray - realloc n elements with overflow check */
void *
xreallocarray(void *ptr, size_t n, size_t size)
{
	if (size != 0 && n > SIZE_MAX / size)
		log_fatalx("allocation overflow (%zu x %zu)", n, size);
	return xrealloc(ptr, n * size);
}

/* xstrdup - strdup or die */
char *
xstrdup(const char *s)
{
	return xstrndup(s, strlen(s));
}

/* xstrndup - copy at most n bytes and terminate */
char *
xstrndup(const char *s, size_t n)
{
	size_t	len = strnlen(s, n);
	char	*p = xmalloc(len + 1);

	memcpy(p, s, len);
	p[len] = '\0';
	return p;
}
