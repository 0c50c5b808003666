/*
 * NAME
 *	fuzz_socketmap - libFuzzer target: Postfix socketmap requests
 * DESCRIPTION
 *	The input is what a socketmap client may send on one connection:
 *	any octets.  Requests are parsed from the start, as etrnd's
 *	odmrmap.c does, until one is bad or incomplete, and checks:
 *	- a request takes at least its "0:," and never more than the input;
 *	- name and key are non-empty, without NUL, CR or LF, the name
 *	  without a space, both within their bounds, and "name key" is
 *	  exactly the payload the length prefix names;
 *	- an incomplete request stays incomplete (never bad, never a
 *	  request) on every shorter prefix of it, so reading on is safe;
 *	- a reply built for the key is one netstring that parses back.
 */
#include "config.h"

#include <string.h>

#include "fuzz.h"
#include "util/socketmap.h"

/* check_req - the invariants of one parsed request at in */
static void
check_req(const char *in, size_t len, const struct socketmap_req *r)
{
	size_t	nl = strlen(r->name), kl = strlen(r->key);
	const char *colon = memchr(in, ':', len);

	FUZZ_CHECK(r->used >= 5 && r->used <= len);
	FUZZ_CHECK(nl > 0 && nl < SOCKETMAP_NAME_MAX);
	FUZZ_CHECK(kl > 0 && kl < SOCKETMAP_MAX);
	FUZZ_CHECK(strchr(r->name, ' ') == NULL);
	FUZZ_CHECK(strpbrk(r->key, "\r\n") == NULL);
	FUZZ_CHECK(colon != NULL && in[r->used - 1] == ',');
	FUZZ_CHECK((size_t)(in + r->used - 1 - (colon + 1)) == nl + 1 + kl);
	FUZZ_CHECK(memcmp(colon + 1, r->name, nl) == 0 && colon[1 + nl] ==
	    ' ' && memcmp(colon + 2 + nl, r->key, kl) == 0);
}

/* check_reply - a reply with the key as value parses as a request */
static void
check_reply(const struct socketmap_req *r)
{
	struct socketmap_req back;
	struct buf out = BUF_INIT;

	socketmap_reply(&out, "OK", r->key);
	if (out.len < SOCKETMAP_MAX)
		FUZZ_CHECK(socketmap_parse(out.s, out.len, &back) ==
		    SOCKETMAP_OK && back.used == out.len &&
		    strcmp(back.key, r->key) == 0);
	buf_free(&out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data;
	struct socketmap_req r, r2;
	enum socketmap_parse p;
	size_t	off = 0, cut;

	while (off < size) {
		p = socketmap_parse(in + off, size - off, &r);
		if (p != SOCKETMAP_OK) {
			if (p == SOCKETMAP_MORE)
				for (cut = 0; cut < size - off; cut++)
					FUZZ_CHECK(socketmap_parse(in + off,
					    cut, &r2) == SOCKETMAP_MORE);
			break;
		}
		check_req(in + off, size - off, &r);
		for (cut = 0; cut < r.used; cut++)
			FUZZ_CHECK(socketmap_parse(in + off, cut, &r2) ==
			    SOCKETMAP_MORE);
		check_reply(&r);
		off += r.used;
	}
	return 0;
}
