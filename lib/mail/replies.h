/* replies.h - every SMTP reply openetrn gives, in one table */
#ifndef OE_REPLIES_H
#define OE_REPLIES_H

#include "util/buf.h"

enum reply_id {
	R_HOLD_TEMPFAIL,	/* the hold could not be recorded */
	R_SPLIT_TEMPFAIL,	/* a per-domain copy could not be queued */
	R_LOOKUP_TEMPFAIL,	/* dial-up domains unknown (Redis down) */
	R_BAD_SENDER,		/* MAIL FROM or its parameters refused */
	R_BAD_RCPT,		/* RCPT TO or its parameters refused */
	R_NO_QUEUEID,		/* MTA did not send the queue ID macro */
};

struct reply {
	const char *code;	/* "451" */
	const char *dsn;	/* "4.3.0" */
	const char *text;
};

const struct reply *reply_get(enum reply_id);

/* ETRN outcomes (RFC 1985) and how etrnd words them. */
enum etrn_outcome {
	ETRN_STARTED,		/* 253 with a count */
	ETRN_NOTHING,		/* 251 */
	ETRN_IN_PROGRESS,	/* 250: a flush started moments ago */
	ETRN_UNAVAILABLE,	/* 458: Redis down or slow */
	ETRN_RATE_LIMITED,	/* 458: too many requests */
	ETRN_NOT_ALLOWED,	/* 459, one text for every reason */
	ETRN_SYNTAX,		/* 501 */
};

void	reply_etrn(struct buf *, enum etrn_outcome, const char *, long long);

/* Other replies of etrnd's SMTP listener. */
enum smtp_reply {
	SR_GREETING, SR_HELO, SR_EHLO, SR_OK, SR_BYE, SR_HELP,
	SR_NEED_HELO, SR_NOT_IMPL, SR_UNKNOWN, SR_SYNTAX_HELO,
	SR_LINE_TOO_LONG, SR_BAD_CHARS, SR_TOO_MANY_ERRORS, SR_TIMEOUT,
	SR_TOO_MANY_CLIENTS, SR_SHUTDOWN, SR_BUSY, SR_TOO_MANY_FROM_CLIENT,
	SR_TOO_MANY_COMMANDS, SR_SESSION_TIME,
};

void	reply_smtp(struct buf *, enum smtp_reply, const char *);

#endif
