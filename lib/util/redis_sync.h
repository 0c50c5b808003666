/* redis_sync.h - blocking Redis access for threaded programs */
#ifndef OE_REDIS_SYNC_H
#define OE_REDIS_SYNC_H

#include <stddef.h>

enum rr_status {
	RR_OK,		/* a reply (see type) */
	RR_NIL,		/* a nil reply */
	RR_ERROR,	/* Redis answered with an error */
	RR_IO,		/* no answer: connect, timeout, connection lost */
};

enum rr_type { RRT_NONE, RRT_INT, RRT_STR, RRT_ARRAY };

struct rr_reply {
	enum rr_status status;
	enum rr_type type;
	long long integer;
	char	*str;		/* RRT_STR, or the error text */
	size_t	len;
	char	**elems;	/* RRT_ARRAY of strings (nil: NULL) */
	size_t	*elen;
	size_t	nelem;
};

struct rpool;
struct redis_ha;

struct rscript {
	const char *body;	/* Lua source */
	char	sha[41];	/* filled in on first use */
};

struct rpool *rpool_new(const char *, const char *, int, int,
	    const struct redis_ha *);
void	rpool_free(struct rpool *);
int	rpool_command(struct rpool *, int, const char **, const size_t *,
	    struct rr_reply *);
int	rpool_script(struct rpool *, struct rscript *, int, int,
	    const char **, const size_t *, struct rr_reply *);
int	rpool_command_wait(struct rpool *, int, const char **,
	    const size_t *, struct rr_reply *);
int	rpool_script_wait(struct rpool *, struct rscript *, int, int,
	    const char **, const size_t *, struct rr_reply *);
void	rr_reply_free(struct rr_reply *);

#endif
