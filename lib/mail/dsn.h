/* dsn.h - RFC 3464 delivery status notifications for held mail */
#ifndef OE_DSN_H
#define OE_DSN_H

#include <stddef.h>

#include "util/buf.h"

enum dsn_action { DSN_FAILED, DSN_DELAYED };

struct dsn_rcpt {
	const char *addr;	/* final recipient (as held) */
	const char *notify;	/* NOTIFY= value, NULL/"" if none */
	const char *orcpt;	/* ORCPT= value "type;xtext", NULL if none */
};

struct dsn_input {
	enum dsn_action action;
	const char *reporting_mta;	/* this host's name */
	const char *domain;		/* the dial-up domain */
	const char *queue_id;
	const char *token;		/* hold token: Message-ID, boundary */
	const char *sender;		/* the DSN goes here; "" = none */
	const char *envid;		/* ENVID= xtext, NULL if none */
	const char *ret;		/* "FULL", "HDRS" or NULL */
	long long arrived;		/* unix time */
	long long expires;		/* unix time of the deadline */
	long long now;			/* unix time of the report */
	const struct dsn_rcpt *rcpt;
	size_t	nrcpt;
	const char *original;		/* headers, or whole message if FULL */
	size_t	original_len;
	int	original_is_full;	/* original holds headers and body */
};

/* Does this recipient want a DSN for this action (RFC 3461 NOTIFY)? */
int	dsn_wanted(enum dsn_action, const char *, const char *);
/* The whole DSN message (headers and body, LF line ends). */
int	dsn_build(const struct dsn_input *, struct buf *, struct buf *);
/* The deterministic Message-ID for (action, token, host). */
void	dsn_message_id(struct buf *, enum dsn_action, const char *,
	    const char *);
/* What a built DSN needs in MAIL FROM (dsn_needs). */
#define DSN_8BITMIME	0x01	/* an octet >= 0x80: BODY=8BITMIME */
#define DSN_SMTPUTF8	0x02	/* UTF-8 in its own header: SMTPUTF8 */
#define DSN_GLOBAL	0x04	/* a message/global part: SMTPUTF8 if offered */
int	dsn_needs(const char *, size_t);
/* A built DSN for a server without 8BITMIME (0) or SMTPUTF8 (0). */
int	dsn_downgrade(const char *, size_t, int, int, struct buf *);
/* Decode xtext (RFC 3461); -1 if malformed. */
int	dsn_xtext_decode(const char *, struct buf *);

#endif
