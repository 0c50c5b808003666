/* jsonw.h - JSON writer into a buf */
#ifndef OE_JSONW_H
#define OE_JSONW_H

#include "util/buf.h"

#define JW_DEPTH	8

/* A JSON writer: commas and escaping done here. */
struct jw {
	struct buf *b;
	int	depth;
	int	first[JW_DEPTH];
	int	after_key;
};

void	jw_quote(struct buf *, const char *);
void	jw_init(struct jw *, struct buf *);
void	jw_open(struct jw *, int);
void	jw_close(struct jw *, int);
void	jw_key(struct jw *, const char *);
void	jw_str(struct jw *, const char *);
void	jw_int(struct jw *, long long);
void	jw_bool(struct jw *, int);
void	jw_null(struct jw *);

#endif
