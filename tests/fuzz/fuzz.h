/* fuzz.h - what every fuzz target and the corpus replay share */
#ifndef OE_FUZZ_H
#define OE_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/*
 * An invariant the callers rely on.  A violation is a crash, so that
 * libFuzzer keeps the input and the corpus replay in make check fails.
 */
#define FUZZ_CHECK(cond) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "%s:%d: invariant failed: %s\n",	\
		    __FILE__, __LINE__, #cond);				\
		abort();						\
	}								\
} while (0)

#endif
