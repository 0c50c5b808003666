/* decide.h - etrn-policy's decisions and answers (pure) */
#ifndef OE_DECIDE_H
#define OE_DECIDE_H

#include "mail/replies.h"
#include "mail/rkeys.h"	/* DF_*: fields of etrn:domain:<entry> */
#include "util/buf.h"
#include "util/conf.h"

/* Every answer etrn-policy gives; decide_action() words them. */
enum pol_action {
	POL_OK,			/* ETRN authorized and queued */
	POL_DUNNO,		/* no opinion */
	POL_ETRN_DENIED,	/* 459: not authorized (one text) */
	POL_ETRN_RATE,		/* 458: too many ETRN from the client */
	POL_ETRN_DOWN,		/* 458: Redis unavailable */
	POL_QUOTA,		/* 452 4.2.2: the domain's held mail is full */
	POL_RCPT_DOWN_DEFER_IF_PERMIT,	/* Redis unavailable (RCPT) */
	POL_RCPT_DOWN_DEFER,
};

/* A dial-up domain's held mail and its limits (0: none). */
struct quota {
	long long max_messages, max_bytes;
	long long held, bytes;	/* now, all MX hosts */
	long long size;		/* SIZE= of the message, 0 if not given */
};

void	decide_action(struct buf *, enum pol_action, const char *);
const char *decide_action_code(enum pol_action);
enum pol_action decide_etrn(enum etrn_outcome, const char *, const char *,
	    struct buf *);
enum pol_action decide_quota(const struct quota *, const char *,
	    struct buf *);
int	decide_limit(const char *, const char *, long long, long long *,
	    struct buf *);

#endif
