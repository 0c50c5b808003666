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

/*
 * reply_etrn - one ETRN reply line with CRLF (RFC 1985 wording).  Every
 * refusal has the same words, whatever the reason (which goes to the log
 * only): a dial-up domain cannot be told from any other name by them.
 */
void
reply_etrn(struct buf *b, enum etrn_outcome o, const char *node, long long n)
{
	switch (o) {
	case ETRN_STARTED:
		buf_printf(b, "253 OK, %lld pending message%s for node %s "
		    "started\r\n", n, n == 1 ? "" : "s", node);
		break;
	case ETRN_NOTHING:
		buf_printf(b, "251 OK, no messages waiting for node %s\r\n",
		    node);
		break;
	case ETRN_IN_PROGRESS:
		buf_printf(b, "250 OK, queuing for node %s already started "
		    "(%lld pending)\r\n", node, n);
		break;
	case ETRN_UNAVAILABLE:
		buf_printf(b, "458 Unable to queue messages for node %s\r\n",
		    node);
		break;
	case ETRN_RATE_LIMITED:
		buf_printf(b, "458 Unable to queue messages for node %s: too "
		    "many ETRN requests, try again later\r\n", node);
		break;
	case ETRN_NOT_ALLOWED:
		buf_printf(b, "459 4.7.1 %s: ETRN not allowed here\r\n",
		    node);
		break;
	case ETRN_SYNTAX:
		buf_cat(b, "501 5.5.4 Syntax: ETRN domain, ETRN @domain or "
		    "ETRN #queue\r\n");
		break;
	}
}

/* reply_smtp - the listener's other replies; arg is the host name */
void
reply_smtp(struct buf *b, enum smtp_reply r, const char *host)
{
	switch (r) {
	case SR_GREETING:
		buf_printf(b, "220 %s ESMTP openetrn etrnd: ETRN only\r\n",
		    host);
		break;
	case SR_HELO:
		buf_printf(b, "250 %s\r\n", host);
		break;
	case SR_EHLO:
		buf_printf(b, "250-%s\r\n250-ETRN\r\n250-PIPELINING\r\n"
		    "250 ENHANCEDSTATUSCODES\r\n", host);
		break;
	case SR_OK:
		buf_cat(b, "250 2.0.0 OK\r\n");
		break;
	case SR_BYE:
		buf_cat(b, "221 2.0.0 Bye\r\n");
		break;
	case SR_HELP:
		buf_cat(b, "214-2.0.0 This server only starts delivery of held "
		    "mail:\r\n214 2.0.0 EHLO HELO ETRN NOOP RSET HELP QUIT"
		    "\r\n");
		break;
	case SR_NEED_HELO:
		buf_cat(b, "503 5.5.1 Error: send HELO/EHLO first\r\n");
		break;
	case SR_NOT_IMPL:
		buf_cat(b, "502 5.5.1 Command not implemented: this server "
		    "accepts no mail, only ETRN\r\n");
		break;
	case SR_UNKNOWN:
		buf_cat(b, "500 5.5.2 Error: command not recognized\r\n");
		break;
	case SR_SYNTAX_HELO:
		buf_cat(b, "501 5.5.4 Syntax: EHLO hostname\r\n");
		break;
	case SR_LINE_TOO_LONG:
		buf_cat(b, "500 5.5.6 Error: line too long\r\n");
		break;
	case SR_BAD_CHARS:
		buf_cat(b, "500 5.5.2 Error: bad characters in command\r\n");
		break;
	case SR_TOO_MANY_ERRORS:
		buf_cat(b, "421 4.7.0 Error: too many errors, closing "
		    "connection\r\n");
		break;
	case SR_TIMEOUT:
		buf_cat(b, "421 4.4.2 Error: timeout exceeded, closing "
		    "connection\r\n");
		break;
	case SR_TOO_MANY_CLIENTS:
		buf_printf(b, "421 4.3.2 %s Error: too many connections, try "
		    "again later\r\n", host);
		break;
	case SR_SHUTDOWN:
		buf_printf(b, "421 4.3.2 %s Service shutting down\r\n", host);
		break;
	case SR_BUSY:
		buf_cat(b, "421 4.3.0 Error: temporary failure, closing "
		    "connection\r\n");
		break;
	case SR_TOO_MANY_FROM_CLIENT:
		buf_printf(b, "421 4.7.0 %s Error: too many connections from "
		    "your network, try again later\r\n", host);
		break;
	case SR_TOO_MANY_COMMANDS:
		buf_printf(b, "421 4.7.0 %s Error: too many commands, closing "
		    "connection\r\n", host);
		break;
	case SR_SESSION_TIME:
		buf_printf(b, "421 4.4.2 %s Error: session time limit "
		    "exceeded, closing connection\r\n", host);
		break;
	}
}
