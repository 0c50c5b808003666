/* buf.h - length-counted growable string */
#ifndef OE_BUF_H
#define OE_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct buf {
	char	*s;
	size_t	len;
	size_t	cap;
};

#define BUF_INIT { NULL, 0, 0 }

void	buf_init(struct buf *);
void	buf_free(struct buf *);
void	buf_reset(struct buf *);
void	buf_grow(struct buf *, size_t);
void	buf_addch(struct buf *, int);
void	buf_add(struct buf *, const void *, size_t);
void	buf_cat(struct buf *, const char *);
void	buf_printf(struct buf *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
void	buf_vprintf(struct buf *, const char *, va_list)
	    __attribute__((format(printf, 2, 0)));
const char *buf_terminate(struct buf *);
char	*buf_steal(struct buf *);

#endif
