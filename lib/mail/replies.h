/* replies.h - every SMTP reply openetrn gives, in one table */
#ifndef OE_REPLIES_H
#define OE_REPLIES_H

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

#endif
