/*
 * NAME
 *	replies - the reply table
 * DESCRIPTION
 *	All reply codes and texts live here so wording and codes are
 *	reviewed in one place.  Temporary failures use 451 4.3.0 (mail
 *	system failure) so the client retries; refusals of bad envelope
 *	parameters use 501 5.5.4 (RFC 3463 invalid command arguments).
 */
#include "config.h"

#include "mail/replies.h"

static const struct reply reply_table[] = {
	[R_HOLD_TEMPFAIL] = { "451", "4.3.0",
	    "Temporary failure recording the message for ETRN, try again "
	    "later" },
	[R_SPLIT_TEMPFAIL] = { "451", "4.3.0",
	    "Temporary failure queueing a copy for a dial-up domain, try "
	    "again later" },
	[R_LOOKUP_TEMPFAIL] = { "451", "4.3.0",
	    "Temporary failure looking up dial-up domains, try again later" },
	[R_BAD_SENDER] = { "501", "5.5.4",
	    "Invalid sender address or MAIL parameter" },
	[R_BAD_RCPT] = { "501", "5.5.4",
	    "Invalid recipient address or RCPT parameter" },
	[R_NO_QUEUEID] = { "451", "4.3.0",
	    "Temporary failure: no queue ID from the mail system" },
};

/* reply_get - the reply for an id */
const struct reply *
reply_get(enum reply_id id)
{
	return &reply_table[id];
}
