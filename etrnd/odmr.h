/* odmr.h - etrnd's ODMR listener (RFC 2645): the session before the turn */
#ifndef OE_ODMR_H
#define OE_ODMR_H

#include <sys/queue.h>

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
	struct odmr_turn *turn;	/* after ATRN's 250, or NULL */
};

/* The replies of the ODMR listener, in one place (odmr.c). */
enum odmr_reply {
	OR_GREETING, OR_TLS_GO, OR_TLS_NA, OR_TLS_AGAIN, OR_AUTH_OK,
	OR_AUTH_FAIL, OR_AUTH_AGAIN, OR_AUTH_NEED_TLS, OR_AUTH_MECH,
	OR_AUTH_CANCEL, OR_AUTH_B64, OR_AUTH_SYNTAX, OR_AUTH_TEMP,
	OR_NEED_AUTH, OR_ATRN_SYNTAX, OR_ATRN_REFUSED, OR_ATRN_NOMAIL,
	OR_ATRN_TEMP, OR_ATRN_NOT_YET, OR_ATRN_BUSY, OR_ATRN_TURN,
	OR_NOT_IMPL,
};

/* The turn (RFC 2645 section 4.2): odmrturn.c, odmrrelay.c, odmrmap.c. */
enum odmr_turn_result {
	ODMR_TURN_STARTED,	/* the connection is the turn's now */
	ODMR_TURN_UNAVAILABLE,	/* no odmr_socketmap: 450 4.3.2 */
	ODMR_TURN_BUSY,		/* a domain in another turn: 450 4.3.2 */
};

#define ODMR_REPLY_LINE	2048	/* a line of the customer's reply */
#define ODMR_REPLY_MAX	16384	/* one reply of the customer */
#define ODMR_RELAY_LINE	2048	/* a command line of Postfix's */
#define ODMR_RELAY_HIGH	16384	/* unsent to the customer: stop reading */
#define ODMR_RELAY_CONNS	32	/* Postfix connections open at once */
#define ODMR_RELAY_PIPE	256	/* commands whose replies are owed */

enum turn_state {
	TURN_GREETING,		/* waiting for the customer's 220 */
	TURN_EHLO,		/* for its EHLO reply */
	TURN_HELO,		/* EHLO refused: for its HELO reply */
	TURN_RELAY,		/* the route is in place: relaying */
	TURN_DONE,		/* QUIT sent, closing */
};

struct relay_conn;

/* The turn of one session: the customer's server and the relay to it. */
struct odmr_turn {
	struct odmr_session *ss;
	enum turn_state state;
	char	*user;
	char	**domains;	/* authorized, with mail held */
	size_t	n;
	struct buf dl;		/* the domains, comma-separated, for logs */
	const char *dlist;
	unsigned mta_uid;	/* odmr_mta_user: who may use the relay */
	struct buf reply;	/* the customer's reply being read */
	struct buf greeting;	/* its 220, Postfix's greeting */
	struct buf ehlo;	/* its EHLO reply for Postfix (odmrturn.c) */
	struct event *idle;	/* odmr_idle */
	/* The relay (odmrrelay.c). */
	struct evconnlistener *lev;
	int	port;
	struct relay_conn *cur;	/* the one in a transaction with the customer */
	TAILQ_HEAD(, relay_conn) clist;		/* every Postfix connection */
	TAILQ_HEAD(, relay_conn) waiting;	/* MAIL sent, customer busy */
	int	nconns;
	char	owed[ODMR_RELAY_PIPE];	/* replies owed, by command kind */
	int	owed_first, nowed;
	int	txn;		/* MAIL sent, the transaction not ended */
	int	content;	/* the customer is reading a message */
	struct event *pump;	/* relay_pump, when the customer drained */
	struct buf from;	/* its sender, for the log */
	long long rcpts, rcpts_ok;
	struct evbuffer_cb_entry *drain_cb;
	/* Counts for the log. */
	long long conns, msgs, accepted, refused, deferred;
	TAILQ_ENTRY(odmr_turn) link;
};

enum odmr_turn_result odmr_turn(struct odmr_session *, const char *,
	    char *const *, size_t, long long);

/* odmrturn.c */
void	odmrturn_input(struct odmr_turn *, struct evbuffer *);
void	odmrturn_end(struct odmr_turn *, const char *);
void	odmrturn_free(struct odmr_turn *);
const struct odmr_turn *odmrturn_route(const char *);
void	odmrturn_write(struct odmr_turn *, const char *, size_t);

/* odmrrelay.c: Postfix's smtp client to the customer */
void	odmrrelay_init(struct odmr_turn *);
int	odmrrelay_open(struct odmr_turn *);
void	odmrrelay_close(struct odmr_turn *);
int	odmrrelay_active(const struct odmr_turn *);
int	odmrrelay_expects(const struct odmr_turn *);
void	odmrrelay_reply(struct odmr_turn *, const struct buf *);
void	odmrrelay_quickack(const struct odmr_turn *);

/* odmrmap.c: the socketmap Postfix's transport_maps asks */
int	odmrmap_start(struct listener *, int);
void	odmrmap_stop(void);
int	odmrmap_running(void);

/* odmr.c: the protocol, for the core's ls_ops */
int	odmr_open(struct ls_conn *);
void	odmr_input(struct ls_conn *, struct evbuffer *);
void	odmr_free(struct ls_conn *);
void	odmr_limits(const struct oe_settings *, struct ls_limits *);
void	odmr_bye(struct ls_conn *, enum ls_limit);
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
