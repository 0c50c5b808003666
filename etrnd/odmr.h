/* odmr.h - etrnd's ODMR listener (RFC 2645): the session before the turn */
#ifndef OE_ODMR_H
#define OE_ODMR_H

#include <stddef.h>

#include <sasl/sasl.h>

#include "etrnd/listener.h"
#include "mail/atrnarg.h"

#define ODMR_LINE_MAX	12288	/* RFC 4954: an AUTH line, with CRLF */
#define ODMR_INPUT_MAX	16384	/* unread input before reading stops */
#define ODMR_AUTH_STEPS	8	/* SASL challenges in one AUTH */

/* One ODMR client; the connection itself is the core's (lserver.c). */
struct odmr_session {
	struct listener *l;
	struct ls_conn *c;
	const char *id;		/* c->id */
	const char *addr;	/* c->addr */
	int	helo;
	int	tls;		/* STARTTLS done */
	int	loopback;	/* in odmr_loopback: AUTH without TLS */
	int	errors;
	int	discarding;	/* skipping the rest of an overlong line */
	int	auth_steps;	/* in an AUTH exchange: challenges sent */
	char	auth_mech[32];
	sasl_conn_t *sasl;
	char	*user;		/* authenticated: SASL_USERNAME */
	struct atrn_arg atrn;	/* the ATRN waiting for Redis */
	size_t	atrn_asked[ATRN_MAX_DOMAINS];	/* its domains in the script */
	size_t	atrn_nasked;
};

/* The replies of the ODMR listener, in one place (odmr.c). */
enum odmr_reply {
	OR_GREETING, OR_TLS_GO, OR_TLS_NA, OR_TLS_AGAIN, OR_AUTH_OK,
	OR_AUTH_FAIL, OR_AUTH_AGAIN, OR_AUTH_NEED_TLS, OR_AUTH_MECH,
	OR_AUTH_CANCEL, OR_AUTH_B64, OR_AUTH_SYNTAX, OR_AUTH_TEMP,
	OR_NEED_AUTH, OR_ATRN_SYNTAX, OR_ATRN_REFUSED, OR_ATRN_NOMAIL,
	OR_ATRN_TEMP, OR_ATRN_NOT_YET, OR_NOT_IMPL,
};

/*
 * The turn (RFC 2645 section 4.2): after "250 OK now reversing the
 * connection" etrnd becomes the SMTP client on c and delivers the mail
 * held for the authorized domains.  Not built yet: odmr_turn() returns
 * ODMR_TURN_UNAVAILABLE and ATRN answers 450 4.3.2, the mail stays held.
 * The delivery step implements it: it owns the connection from then on
 * (the ODMR session reads no more commands) and ends it with QUIT.
 */
enum odmr_turn_result {
	ODMR_TURN_STARTED,	/* the connection is the delivery's now */
	ODMR_TURN_UNAVAILABLE,	/* not in this version: 450 4.3.2 */
};

enum odmr_turn_result odmr_turn(struct odmr_session *, const char *,
	    char *const *, size_t, long long);

/* odmr.c: the protocol, for the core's ls_ops */
int	odmr_open(struct ls_conn *);
void	odmr_input(struct ls_conn *, struct evbuffer *);
void	odmr_free(struct ls_conn *);
void	odmr_limits(const struct oe_settings *, struct ls_limits *);
void	odmr_reply(struct odmr_session *, enum odmr_reply);
void	odmr_sr(struct odmr_session *, enum smtp_reply);

/* odmrauth.c: AUTH through Cyrus SASL */
int	odmrauth_init(struct listener *);
void	odmrauth_done(void);
int	odmrauth_start(struct odmr_session *);
void	odmrauth_end(struct odmr_session *);
int	odmrauth_offered(struct odmr_session *);
void	odmrauth_ehlo(struct odmr_session *, struct buf *);
void	odmrauth_command(struct odmr_session *, const char *);
void	odmrauth_continue(struct odmr_session *, const char *);

/* atrn.c: ATRN before the turn */
void	atrn_command(struct odmr_session *, const char *);

#endif
