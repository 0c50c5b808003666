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
	int	pipelining;	/* ... PIPELINING (clear it for lock-step) */
};

/* One message for smtpc_send(); rcpt_code, if not NULL, gets nrcpt codes. */
struct smtpc_msg {
	const char *from;		/* reverse path, without <> */
	const char *mail_params;	/* " BODY=8BITMIME ...", or NULL */
	const char *const *rcpts;	/* forward paths, without <> */
	size_t	nrcpt;
	const char *text;		/* message text, LF or CRLF lines */
	size_t	len;
	int	*rcpt_code;		/* out: each RCPT's reply code */
};

/* What became of a message: the reply that decided it is in s.last. */
enum smtpc_status {
	SMTPC_SENT,		/* 2xx after the text: the server has it */
	SMTPC_TEMP,		/* 4xx: try again later */
	SMTPC_PERM,		/* 5xx: do not try again */
	SMTPC_IO		/* I/O error or timeout: session unusable */
};

int	smtpc_open(struct smtpc *, const char *, int, const char *,
	    const char *, struct buf *);
void	smtpc_close(struct smtpc *);
int	smtpc_cmd(struct smtpc *, int, const char *, ...)
	    __attribute__((format(printf, 3, 4)));
int	smtpc_data_file(struct smtpc *, FILE *);
int	smtpc_data(struct smtpc *, const char *, size_t);
enum smtpc_status smtpc_send(struct smtpc *, const struct smtpc_msg *);

#endif
