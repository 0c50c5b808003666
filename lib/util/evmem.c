/*
 * NAME
 *	evmem - libevent's small records in pools of their own
 * SUMMARY
 *	evmem_init();	(before the first libevent call)
 * DESCRIPTION
 *	libevent keeps a small record for every descriptor number it has
 *	watched (its evmap), made the first time the number is used and
 *	kept until the event base is freed.  Taken from the same heap as a
 *	crowd's connections, these records end up one on nearly every page
 *	the connections used, and after the crowd has gone malloc_trim()
 *	cannot give those pages back (measured: 20 MiB kept for good after
 *	10,000 connections to etrnd's listener).  evmem_init() has libevent
 *	take every allocation of at most EVMEM_SMALL bytes from slabs of
 *	their own, one size class per slab, so the pages of the main heap
 *	can go back to the system.
 *
 *	Freed small blocks go on a list per size class and are used again;
 *	slabs are never unmapped, so the pools stay at the most small blocks
 *	ever used at once (about 40 bytes per descriptor number).  Larger
 *	blocks are malloc(3)'s as before.  Not thread-safe: for the
 *	single-threaded event loops of etrnd's listener and etrn-policy.
 * DIAGNOSTICS
 *	An allocation that fails returns NULL, as malloc does; libevent
 *	handles that.
 */
#include "config.h"

#include <sys/mman.h>

#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "util/evmem.h"

#define EVMEM_SMALL	64		/* bytes; in classes of 16 */
#define EVMEM_CLASSES	(EVMEM_SMALL / 16)
#define EVMEM_SLAB	(256 * 1024)

struct evmem_slab {
	char	*base;
	size_t	used;
	int	cls;
};

static struct evmem_slab *slabs;
static size_t nslabs, capslabs;
static void *freelist[EVMEM_CLASSES];
static size_t current[EVMEM_CLASSES];	/* slab index + 1; 0: none */

/* evmem_find - the slab p is in, or NULL (a malloc block) */
static struct evmem_slab *
evmem_find(const void *p)
{
	const char *c = p;
	size_t	i;

	for (i = 0; i < nslabs; i++)
		if (c >= slabs[i].base && c < slabs[i].base + EVMEM_SLAB)
			return &slabs[i];
	return NULL;
}

/* evmem_slab - a new slab for a class; its index + 1, or 0 */
static size_t
evmem_slab(int cls)
{
	struct evmem_slab *n;
	void	*base;

	if (nslabs == capslabs) {
		n = realloc(slabs, (capslabs ? capslabs * 2 : 16) *
		    sizeof(*slabs));
		if (n == NULL)
			return 0;
		slabs = n;
		capslabs = capslabs ? capslabs * 2 : 16;
	}
	base = mmap(NULL, EVMEM_SLAB, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (base == MAP_FAILED)
		return 0;
	slabs[nslabs].base = base;
	slabs[nslabs].used = 0;
	slabs[nslabs].cls = cls;
	return ++nslabs;
}

/* evmem_small - a block of class cls */
static void *
evmem_small(int cls)
{
	size_t	size = (size_t)(cls + 1) * 16;
	struct evmem_slab *s;
	void	*p;

	if ((p = freelist[cls]) != NULL) {
		memcpy(&freelist[cls], p, sizeof(void *));
		return p;
	}
	if (current[cls] == 0 ||
	    slabs[current[cls] - 1].used + size > EVMEM_SLAB) {
		if ((current[cls] = evmem_slab(cls)) == 0)
			return NULL;
	}
	s = &slabs[current[cls] - 1];
	p = s->base + s->used;
	s->used += size;
	return p;
}

/* evmem_malloc - libevent's malloc */
static void *
evmem_malloc(size_t n)
{
	if (n == 0 || n > EVMEM_SMALL)
		return malloc(n);
	return evmem_small((int)((n - 1) / 16));
}

/* evmem_free - libevent's free */
static void
evmem_free(void *p)
{
	struct evmem_slab *s;

	if (p == NULL)
		return;
	if ((s = evmem_find(p)) == NULL) {
		free(p);
		return;
	}
	memcpy(p, &freelist[s->cls], sizeof(void *));
	freelist[s->cls] = p;
}

/* evmem_realloc - libevent's realloc */
static void *
evmem_realloc(void *p, size_t n)
{
	struct evmem_slab *s;
	size_t	have;
	void	*q;

	if (p == NULL)
		return evmem_malloc(n);
	if ((s = evmem_find(p)) == NULL)
		return realloc(p, n);
	have = (size_t)(s->cls + 1) * 16;
	if (n <= have && n > 0)
		return p;
	if ((q = evmem_malloc(n)) == NULL)
		return NULL;
	memcpy(q, p, n < have ? n : have);
	evmem_free(p);
	return q;
}

/* evmem_init - route libevent's allocations through the pools */
void
evmem_init(void)
{
	event_set_mem_functions(evmem_malloc, evmem_realloc, evmem_free);
}
