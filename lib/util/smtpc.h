/* smtpc.h - a small blocking SMTP client (re-injection, DSN submission) */
#ifndef OE_SMTPC_H
#define OE_SMTPC_H

#include <stddef.h>
#include <stdio.h>

#include "util/buf.h"

struct smtpc {
	int	fd;
	const char *peer;	/* for messages: "re-injection server" */
	char	in[4096];
	size_t	inlen;
	struct buf out;
	struct buf *err;	/* the caller's: why a call failed */
	struct buf last;	/* text of the last reply */
	int	dsn;		/* server offers DSN */
	int	eightbit;	/* ... 8BITMIME */
	int	smtputf8;	/* ... SMTPUTF8 */
};

int	smtpc_open(struct smtpc *, const char *, int, const char *,
	    const char *, struct buf *);
void	smtpc_close(struct smtpc *);
int	smtpc_cmd(struct smtpc *, int, const char *, ...)
	    __attribute__((format(printf, 3, 4)));
int	smtpc_data_file(struct smtpc *, FILE *);
int	smtpc_data(struct smtpc *, const char *, size_t);

#endif
