/*
 * NAME
 *	rargs - the argument vector of one Redis command or script call
 * SUMMARY
 *	struct rargs a = RARGS_INIT;
 *	rargs_strs(&a, "HSET", key.s, "field", value, NULL);
 *	rargs_add(&a, data, len); rargs_buf(&a, &b); rargs_str(&a, s);
 *	rpool_command(pool, a.n, a.v, a.l, &reply);
 *	rargs_reset(&a); rargs_free(&a);
 * DESCRIPTION
 *	The one way programs build the argv/argvlen pair that the Redis
 *	modules (redis_sync.c, redis_async.c) take: arguments are appended
 *	in order, each with its length, so values may hold any octet and
 *	no user data is ever part of a format string.  Keys and scripts
 *	are the caller's; this module knows no command.
 *
 *	The vector holds pointers only: what is appended must stay valid
 *	until the call that uses the vector returns (redis_async.c copies
 *	the arguments before it returns).  rargs_reset() empties the
 *	vector for reuse; rargs_free() releases it.
 * DIAGNOSTICS
 *	None: memory comes from xalloc.c, which exits when it runs out.
 */
#include "config.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "util/rargs.h"
#include "util/xalloc.h"

/* rargs_add - append one argument of len octets (not copied) */
void
rargs_add(struct rargs *a, const void *s, size_t len)
{
	if (a->n == a->cap) {
		a->cap = a->cap ? a->cap * 2 : 16;
		a->v = xreallocarray(a->v, (size_t)a->cap, sizeof(*a->v));
		a->l = xreallocarray(a->l, (size_t)a->cap, sizeof(*a->l));
	}
	a->v[a->n] = s;
	a->l[a->n++] = len;
}

/* rargs_str - append a C string */
void
rargs_str(struct rargs *a, const char *s)
{
	rargs_add(a, s, strlen(s));
}

/* rargs_buf - append the contents of a buf (an empty one: "") */
void
rargs_buf(struct rargs *a, const struct buf *b)
{
	rargs_add(a, b->len ? b->s : "", b->len);
}

/* rargs_strs - append C strings up to a NULL */
void
rargs_strs(struct rargs *a, ...)
{
	const char *s;
	va_list	ap;

	va_start(ap, a);
	while ((s = va_arg(ap, const char *)) != NULL)
		rargs_str(a, s);
	va_end(ap);
}

/* rargs_reset - empty the vector, keeping its memory */
void
rargs_reset(struct rargs *a)
{
	a->n = 0;
}

/* rargs_free - release the vectors (not the strings) */
void
rargs_free(struct rargs *a)
{
	free(a->v);
	free(a->l);
	memset(a, 0, sizeof(*a));
}
