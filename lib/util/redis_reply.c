/*
 * NAME
 *	redis_reply - hiredis replies as struct rr_reply
 * DESCRIPTION
 *	The boundary between hiredis and the rest of openetrn: replies are
 *	copied into rr_reply (status, integer, string or array of strings)
 *	so no other module reads redisReply.  Used by the blocking pool
 *	(redis_sync.c) and the event-driven client (redis_async.c).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "util/buf.h"
#include "util/redis_reply.h"
#include "util/xalloc.h"

/* rr_from_hiredis - convert a hiredis reply (not NULL) */
void
rr_from_hiredis(const redisReply *r, struct rr_reply *out)
{
	size_t	i;

	memset(out, 0, sizeof(*out));
	switch (r->type) {
	case REDIS_REPLY_NIL:
		out->status = RR_NIL;
		return;
	case REDIS_REPLY_ERROR:
		out->status = RR_ERROR;
		/* all of it: the text may hold a NUL, len counts past it */
		out->str = xmalloc(r->len + 1);
		memcpy(out->str, r->str, r->len);
		out->str[r->len] = '\0';
		out->len = r->len;
		return;
	case REDIS_REPLY_INTEGER:
		out->type = RRT_INT;
		out->integer = r->integer;
		return;
	case REDIS_REPLY_ARRAY:
		out->type = RRT_ARRAY;
		out->nelem = r->elements;
		out->elems = xcalloc(r->elements, sizeof(char *));
		out->elen = xcalloc(r->elements, sizeof(size_t));
		for (i = 0; i < r->elements; i++) {
			const redisReply *e = r->element[i];

			if (e->type == REDIS_REPLY_STRING ||
			    e->type == REDIS_REPLY_STATUS) {
				out->elems[i] = xmalloc(e->len + 1);
				memcpy(out->elems[i], e->str, e->len);
				out->elems[i][e->len] = '\0';
				out->elen[i] = e->len;
			} else if (e->type == REDIS_REPLY_INTEGER) {
				struct buf b = BUF_INIT;

				buf_printf(&b, "%lld", e->integer);
				out->elen[i] = b.len;
				out->elems[i] = buf_steal(&b);
			}
		}
		return;
	default:	/* STRING, STATUS */
		out->type = RRT_STR;
		out->str = xmalloc(r->len + 1);
		memcpy(out->str, r->str, r->len);
		out->str[r->len] = '\0';
		out->len = r->len;
		return;
	}
}

/* rr_reply_free - release a converted reply */
void
rr_reply_free(struct rr_reply *r)
{
	size_t	i;

	for (i = 0; i < r->nelem; i++)
		free(r->elems[i]);
	free(r->elems);
	free(r->elen);
	free(r->str);
	memset(r, 0, sizeof(*r));
}
