/* sentinel.h - the Redis master as Redis Sentinel names it */
#ifndef OE_SENTINEL_H
#define OE_SENTINEL_H

#include "util/buf.h"

/* How to find the master; sentinels NULL or "": no Sentinel (the
 * redis_server address is used as it is). */
struct redis_ha {
	const char *sentinels;		/* "host:port, host:port, ..." */
	const char *master_name;
	const char *sentinel_password;
	int	wait_ms;		/* WAIT 1 after marked writes, 0: no */
};

struct sentinel;

int	sentinel_check(const char *, struct buf *);
struct sentinel *sentinel_new(const struct redis_ha *, int);
void	sentinel_free(struct sentinel *);
int	sentinel_master(struct sentinel *, char *, size_t, char *, size_t,
	    unsigned *, struct buf *);
void	sentinel_stale(struct sentinel *, unsigned, const char *);
void	sentinel_good(struct sentinel *);
const char *sentinel_name(const struct sentinel *);
int	sentinel_is_readonly(const char *);

#endif
