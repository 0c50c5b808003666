/*
 * fuzz_pattr - libFuzzer target for the policy attribute reader
 *
 * The first byte of the input chooses the size of the pieces the rest is
 * fed in (as the network would deliver it); each complete request is
 * reset and reading goes on, as the server does.  Checks what the caller
 * relies on: progress, the counts within limits, values without NUL or
 * LF, and an error text whenever PATTR_ERROR is returned.
 * Build: make fuzz (clang).  tests/unit/test_pattr replays the corpus
 * in tests/policy/corpus through the same function in every build.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "policy/pattr.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pattr p;
	enum pattr_status st;
	size_t	off, chunk, n, used;
	int	i;

	if (size == 0)
		return 0;
	chunk = data[0] ? data[0] : 1;
	pattr_init(&p, 64, 8);
	for (off = 1; off < size;) {
		n = size - off < chunk ? size - off : chunk;
		st = pattr_feed(&p, (const char *)data + off, n, &used);
		if (used > n)
			abort();
		if (st == PATTR_ERROR) {
			if (p.error == NULL)
				abort();
			break;
		}
		if (p.nattrs > p.max_attrs || p.line.len > p.max_line + 1)
			abort();
		for (i = 0; i < PA_NKNOWN; i++)
			if (p.val[i] && (strchr(p.val[i], '\n') ||
			    strlen(p.val[i]) > p.max_line))
				abort();
		if (st == PATTR_DONE) {
			if (p.val[PA_REQUEST] == NULL)
				abort();
			pattr_reset(&p);
		} else if (used != n)
			abort();	/* MORE: all input taken */
		off += used;
	}
	pattr_free(&p);
	return 0;
}
