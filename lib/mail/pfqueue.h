/* pfqueue.h - parse Postfix's queue listing (postqueue -j), postcat -e */
#ifndef OE_PFQUEUE_H
#define OE_PFQUEUE_H

#include <stddef.h>

#define PFQ_MAX_STR	4096	/* longest decoded string kept */
#define PFQ_MAX_DEPTH	16	/* nesting skipped in unknown fields */

/*
 * One queued message.  A string that cannot be used as text (longer
 * than PFQ_MAX_STR, or with \u0000 or a lone surrogate) is kept as "":
 * an address that can never match a real one.
 */
struct pfq_msg {
	char	*queue_name;	/* "hold", "deferred", "active", ... */
	char	*queue_id;
	char	**rcpt;		/* recipient addresses still queued */
	size_t	nrcpt;
};

struct pfq_list {
	struct pfq_msg *v;
	size_t	n, cap;
};

int	pfq_parse_line(const char *, size_t, struct pfq_msg *, const char **);
int	pfq_parse(const char *, size_t, struct pfq_list *, size_t *,
	    const char **);
void	pfq_sort(struct pfq_list *);
const struct pfq_msg *pfq_find(const struct pfq_list *, const char *);
void	pfq_msg_free(struct pfq_msg *);
void	pfq_list_free(struct pfq_list *);

struct qb_envelope;
int	pfq_envelope(char *, struct qb_envelope *);

#endif
