/*
 * NAME
 *	fuzz_redis - libFuzzer target: hiredis replies into struct rr_reply
 * DESCRIPTION
 *	Builds a redisReply tree from the input, as hiredis would hand it
 *	over (any type at any place, nested arrays, strings with any
 *	octets, NUL included, any integer), and converts it with
 *	rr_from_hiredis() (lib/util/redis_reply.c), the one place replies
 *	from Redis enter openetrn.  Each node is a type octet, then for a
 *	string, status or error a length octet and that many octets, for an
 *	integer eight octets, for an array a count octet.  Nesting stops at
 *	depth 8 and the tree at 4096 nodes; a count past the input makes
 *	empty strings, so a huge count costs no more than 4096 nodes.
 *	Checks:
 *	- nil is RR_NIL, an error RR_ERROR with its text, an integer
 *	  RRT_INT with its value, a string or status RRT_STR with every
 *	  octet and a terminating NUL;
 *	- an array has exactly its elements: strings and statuses copied
 *	  with their length, integers in decimal that read back to the
 *	  value, anything else (nil, nested array, error) NULL of length 0;
 *	- rr_reply_free() leaves an empty reply.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "fuzz.h"
#include "util/redis_reply.h"
#include "util/xalloc.h"

#define MAX_DEPTH	8
#define MAX_NODES	4096

struct input {
	const uint8_t *p, *end;
	size_t	nodes;
};

/* octet - the next input octet, 0 past the end */
static unsigned
octet(struct input *in)
{
	return in->p < in->end ? *in->p++ : 0;
}

/* node - one reply node and what it holds */
static redisReply *
node(struct input *in, int depth)
{
	static const int types[] = { REDIS_REPLY_STRING, REDIS_REPLY_ARRAY,
		REDIS_REPLY_INTEGER, REDIS_REPLY_NIL, REDIS_REPLY_STATUS,
		REDIS_REPLY_ERROR };
	redisReply *r = xcalloc(1, sizeof(*r));
	size_t	i, n;

	in->nodes++;
	r->type = types[octet(in) % 6];
	if (r->type == REDIS_REPLY_ARRAY && (depth >= MAX_DEPTH ||
	    in->nodes >= MAX_NODES))
		r->type = REDIS_REPLY_NIL;
	switch (r->type) {
	case REDIS_REPLY_INTEGER:
		for (i = 0; i < 8; i++)
			r->integer = (long long)((unsigned long long)r->integer
			    << 8 | octet(in));
		break;
	case REDIS_REPLY_ARRAY:
		n = octet(in);
		r->element = xcalloc(n ? n : 1, sizeof(redisReply *));
		for (i = 0; i < n && in->nodes < MAX_NODES; i++)
			r->element[i] = node(in, depth + 1);
		r->elements = i;
		break;
	case REDIS_REPLY_NIL:
		break;
	default:
		n = octet(in);
		if (n > (size_t)(in->end - in->p))
			n = (size_t)(in->end - in->p);
		r->str = xmalloc(n + 1);
		memcpy(r->str, in->p, n);
		r->str[n] = '\0';
		r->len = n;
		in->p += n;
		break;
	}
	return r;
}

/* node_free - the tree */
static void
node_free(redisReply *r)
{
	size_t	i;

	for (i = 0; i < r->elements; i++)
		node_free(r->element[i]);
	free(r->element);
	free(r->str);
	free(r);
}

/* same_str - a copy of the node's octets, NUL-terminated */
static int
same_str(const char *s, size_t len, const redisReply *r)
{
	return s != NULL && len == r->len && memcmp(s, r->str, len) == 0 &&
	    s[len] == '\0';
}

/* check_elem - one element of a converted array */
static void
check_elem(const struct rr_reply *out, size_t i, const redisReply *e)
{
	char	*end;

	switch (e->type) {
	case REDIS_REPLY_STRING:
	case REDIS_REPLY_STATUS:
		FUZZ_CHECK(same_str(out->elems[i], out->elen[i], e));
		break;
	case REDIS_REPLY_INTEGER:
		FUZZ_CHECK(out->elems[i] != NULL &&
		    strlen(out->elems[i]) == out->elen[i]);
		FUZZ_CHECK(strtoll(out->elems[i], &end, 10) == e->integer &&
		    *end == '\0');
		break;
	default:
		FUZZ_CHECK(out->elems[i] == NULL && out->elen[i] == 0);
		break;
	}
}

/* check - the conversion keeps what the reply said */
static void
check(const struct rr_reply *out, const redisReply *r)
{
	size_t	i;

	switch (r->type) {
	case REDIS_REPLY_NIL:
		FUZZ_CHECK(out->status == RR_NIL && out->nelem == 0);
		break;
	case REDIS_REPLY_ERROR:
		FUZZ_CHECK(out->status == RR_ERROR);
		FUZZ_CHECK(same_str(out->str, out->len, r));
		break;
	case REDIS_REPLY_INTEGER:
		FUZZ_CHECK(out->status == RR_OK && out->type == RRT_INT);
		FUZZ_CHECK(out->integer == r->integer);
		break;
	case REDIS_REPLY_ARRAY:
		FUZZ_CHECK(out->status == RR_OK && out->type == RRT_ARRAY);
		FUZZ_CHECK(out->nelem == r->elements);
		for (i = 0; i < r->elements; i++)
			check_elem(out, i, r->element[i]);
		break;
	default:
		FUZZ_CHECK(out->status == RR_OK && out->type == RRT_STR);
		FUZZ_CHECK(same_str(out->str, out->len, r));
		break;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = { data, data + size, 0 };
	struct rr_reply out, empty;
	redisReply *r;

	r = node(&in, 0);
	FUZZ_CHECK(in.nodes <= MAX_NODES);
	rr_from_hiredis(r, &out);
	check(&out, r);
	rr_reply_free(&out);
	memset(&empty, 0, sizeof(empty));
	FUZZ_CHECK(memcmp(&out, &empty, sizeof(out)) == 0);
	node_free(r);
	return 0;
}
