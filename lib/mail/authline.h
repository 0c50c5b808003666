/* authline.h - the lines of an AUTH exchange (RFC 4954) before SASL */
#ifndef OE_AUTHLINE_H
#define OE_AUTHLINE_H

#include <stddef.h>

#define AUTHLINE_MECH_MAX	20	/* RFC 4422: 1*20 characters */
/*
 * The longest decoded response handed to Cyrus SASL: 2.1.28 leaks the
 * user name of every failed exchange whose name is over 1,023 octets,
 * so no response may carry one (the listener answers 501 instead).
 */
#define AUTHLINE_RESPONSE_MAX	1000

/* "AUTH mechanism [initial-response]", parsed. */
struct authline {
	char	mech[AUTHLINE_MECH_MAX + 1];	/* as typed */
	const char *initial;	/* the response as typed; NULL: none */
};

/* What a line is (the reply: 501 for the refusals, 501 for cancel). */
enum authline_status {
	AUTHLINE_OK,
	AUTHLINE_SYNTAX,	/* no mechanism, or not a mechanism name */
	AUTHLINE_B64,		/* not base64, or decodes too long */
	AUTHLINE_CANCEL,	/* "*": the client ends the exchange */
};

enum authline_status authline_parse(const char *, struct authline *);
enum authline_status authline_decode(const char *, char *, size_t,
	    size_t *);
enum authline_status authline_response(const char *, char *, size_t,
	    size_t *);

#endif
