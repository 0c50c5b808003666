/*
 * NAME
 *	odmrrelay - Postfix's smtp client to the customer, during a turn
 * DESCRIPTION
 *	The relay socket of a turn listens on 127.0.0.1 with a port of its
 *	own (the port a domain had in the last session when it is free:
 *	Postfix's qmgr may route by its last resolution for 30 s); the
 *	route (odmrmap.c) sends the turn's domains there.
 *
 *	Postfix opens several connections and caches idle ones; the customer
 *	has one, so the relay shares it by transaction.  Every Postfix
 *	connection is greeted at once with the customer's 220; EHLO and HELO
 *	are answered from the customer's EHLO reply (without STARTTLS, AUTH
 *	and CHUNKING); QUIT is answered 221 here and the customer's session
 *	stays.  MAIL takes the customer for that connection (the others'
 *	MAIL wait, unread, in their order) until the transaction ends: the
 *	reply to the message's "." line, or to RSET.  Meanwhile its MAIL,
 *	RCPT, DATA, RSET and NOOP go to the customer line by line, pipelined,
 *	and the customer's replies come back as they are; after a 354 the
 *	message goes to the customer as Postfix sends it, up to its "."
 *	line.  RSET and NOOP outside a transaction are answered here; any
 *	other command 502.  A connection that ends inside a transaction is
 *	followed by RSET to the customer (its reply not passed on); one that
 *	ends inside the message content ends the turn without QUIT, so the
 *	customer discards the incomplete message and Postfix, which has no
 *	250 for it, defers it.
 * SECURITY
 *	Only connections whose socket belongs to odmr_mta_user (looked up
 *	in /proc/net/tcp and tcp6 by the pair of ports) are served: any
 *	other local process is refused and logged.  At most
 *	ODMR_RELAY_CONNS connections are open; Postfix's command lines are
 *	bounded (ODMR_RELAY_LINE) and so are the replies owed
 *	(ODMR_RELAY_PIPE); while ODMR_RELAY_HIGH octets to the customer
 *	are unsent Postfix's input is not read (libevent's read watermark
 *	then stops the socket), and the core's write timeout bounds a
 *	customer that does not read.
 * DIAGNOSTICS
 *	One line per message: sender, recipients accepted of those sent,
 *	the customer's reply to the content; one per refused connection.
 */
#include "config.h"

#include <sys/socket.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "etrnd/odmr.h"
#include "util/log.h"
#include "util/xalloc.h"

/* One connection of Postfix's smtp client. */
struct relay_conn {
	struct odmr_turn *t;
	struct bufferevent *bev;
	int	data;		/* forwarding the content */
	int	dstate;		/* where in a line of it (relay_scan) */
	int	quit;		/* 221 sent: close once written */
	int	queued;		/* on t->waiting */
	TAILQ_ENTRY(relay_conn) link;	/* t->clist */
	TAILQ_ENTRY(relay_conn) wlink;	/* t->waiting */
};

#define RELAY_IN_MAX	65536	/* Postfix's unread input */
#define RELAY_CHUNK	16384

static void relay_pump(struct relay_conn *);
static void relay_release(struct odmr_turn *);

/* relay_proc_uid - the owner of the socket local:lport -> rport; -1 */
static long
relay_proc_uid(const char *file, unsigned lport, unsigned rport)
{
	char	line[512];
	unsigned lp, rp;
	unsigned long uid;
	long	found = -1;
	FILE	*f;

	if ((f = fopen(file, "r")) == NULL)
		return -1;
	while (found < 0 && fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, " %*d: %*x:%x %*x:%x %*x %*x:%*x %*x:%*x "
		    "%*x %lu", &lp, &rp, &uid) == 3 && lp == lport &&
		    rp == rport)
			found = (long)uid;
	fclose(f);
	return found;
}

/* relay_peer_uid - the owner of the connecting socket; -1: not found */
static long
relay_peer_uid(const struct sockaddr *sa, int port)
{
	unsigned peer;
	long	uid;

	if (sa->sa_family != AF_INET)
		return -1;
	peer = ntohs(((const struct sockaddr_in *)(const void *)sa)->sin_port);
	if ((uid = relay_proc_uid("/proc/net/tcp", peer, (unsigned)port)) <
	    0)
		uid = relay_proc_uid("/proc/net/tcp6", peer, (unsigned)port);
	return uid;
}

/* relay_free_conn - close one Postfix connection, no questions */
static void
relay_free_conn(struct odmr_turn *t, struct relay_conn *rc)
{
	TAILQ_REMOVE(&t->clist, rc, link);
	t->nconns--;
	if (rc->queued)
		TAILQ_REMOVE(&t->waiting, rc, wlink);
	bufferevent_free(rc->bev);
	free(rc);
}

/* relay_owe - a reply of the customer is owed for a command of this kind */
static void
relay_owe(struct odmr_turn *t, char kind)
{
	t->owed[(t->owed_first + t->nowed++) % ODMR_RELAY_PIPE] = kind;
}

/* relay_conn_close - a Postfix connection is done (or gone) */
static void
relay_conn_close(struct relay_conn *rc, const char *why)
{
	struct odmr_turn *t = rc->t;
	int	data = rc->data;

	if (rc != t->cur) {
		relay_free_conn(t, rc);
		return;
	}
	t->cur = NULL;
	relay_free_conn(t, rc);
	if (data) {
		odmrturn_end(t, why);
		return;
	}
	if (t->txn && t->nowed < ODMR_RELAY_PIPE) {
		odmrturn_write(t, "RSET\r\n", 6);
		relay_owe(t, 'Q');
		t->txn = 0;
	}
	relay_release(t);
}

/* relay_event_cb - Postfix closed, an error, a timeout */
static void
relay_event_cb(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	relay_conn_close(arg, what & BEV_EVENT_TIMEOUT ?
	    "MTA connection timed out in the message" :
	    "MTA connection lost in the message");
}

/* relay_write_cb - all written: after QUIT's 221, close */
static void
relay_write_cb(struct bufferevent *bev, void *arg)
{
	struct relay_conn *rc = arg;

	(void)bev;
	if (rc->quit)
		relay_conn_close(rc, "quit");
}

/* relay_read_cb - Postfix sent something */
static void
relay_read_cb(struct bufferevent *bev, void *arg)
{
	struct relay_conn *rc = arg;

	(void)bev;
	if (!rc->queued)
		relay_pump(rc);
}

/* relay_accept_cb - a connection to the relay port: Postfix's only */
static void
relay_accept_cb(struct evconnlistener *lev, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct odmr_turn *t = arg;
	struct relay_conn *rc;
	struct timeval tv = { (time_t)t->ss->l->s->etrnd_timeout, 0 };
	long	uid = relay_peer_uid(sa, t->port);
	int	one = 1;

	(void)lev;
	(void)salen;
	if (uid < 0 || (unsigned long)uid != t->mta_uid ||
	    t->nconns >= ODMR_RELAY_CONNS || t->state != TURN_RELAY) {
		log_info("%s: odmr relay port %d: connection refused: %s",
		    t->ss->id, t->port, uid < 0 ? "owner unknown" :
		    (unsigned long)uid != t->mta_uid ? "not odmr_mta_user" :
		    "too many connections");
		evutil_closesocket(fd);
		return;
	}
	/* Replies go back one at a time: no Nagle wait for Postfix's ACK. */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	rc = xcalloc(1, sizeof(*rc));
	rc->t = t;
	rc->bev = bufferevent_socket_new(t->ss->l->base, fd,
	    BEV_OPT_CLOSE_ON_FREE);
	if (rc->bev == NULL) {
		evutil_closesocket(fd);
		free(rc);
		return;
	}
	bufferevent_setcb(rc->bev, relay_read_cb, relay_write_cb,
	    relay_event_cb, rc);
	bufferevent_setwatermark(rc->bev, EV_READ, 0, RELAY_IN_MAX);
	/* No read timeout: a connection may wait long for the customer. */
	bufferevent_set_timeouts(rc->bev, NULL, &tv);
	TAILQ_INSERT_TAIL(&t->clist, rc, link);
	t->nconns++;
	t->conns++;
	bufferevent_write(rc->bev, t->greeting.s, t->greeting.len);
	bufferevent_enable(rc->bev, EV_READ | EV_WRITE);
}

/*
 * relay_release - the customer is free when no transaction is open and no
 * reply owed: the next connection whose MAIL waits gets it
 */
static void
relay_release(struct odmr_turn *t)
{
	struct relay_conn *rc;

	if (t->state != TURN_RELAY || t->txn || t->nowed > 0 ||
	    (t->cur != NULL && t->cur->data))
		return;
	t->cur = NULL;
	if ((rc = TAILQ_FIRST(&t->waiting)) == NULL)
		return;
	TAILQ_REMOVE(&t->waiting, rc, wlink);
	rc->queued = 0;
	t->cur = rc;
	relay_pump(rc);
}

/* relay_pump_cb - the customer took some of the content: go on */
static void
relay_pump_cb(evutil_socket_t fd, short what, void *arg)
{
	struct odmr_turn *t = arg;

	(void)fd;
	(void)what;
	if (t->cur != NULL)
		relay_pump(t->cur);
}

/* relay_drain_cb - output to the customer went out: maybe pump (later) */
static void
relay_drain_cb(struct evbuffer *buf, const struct evbuffer_cb_info *info,
    void *arg)
{
	struct odmr_turn *t = arg;

	if (info->n_deleted > 0 && t->cur != NULL &&
	    evbuffer_get_length(buf) < ODMR_RELAY_HIGH / 2)
		event_active(t->pump, EV_TIMEOUT, 0);
}

/* odmrrelay_init - no relay yet */
void
odmrrelay_init(struct odmr_turn *t)
{
	TAILQ_INIT(&t->clist);
	TAILQ_INIT(&t->waiting);
	t->pump = event_new(t->ss->l->base, -1, 0, relay_pump_cb, t);
}

/*
 * The relay port last used per domain.  Postfix's qmgr keeps its last
 * address resolution for 30 s (resolve_clnt.c): a message released again
 * soon after a session may still be routed to that session's port, so a
 * new session of the domain listens on it again when it is free.
 */
#define RELAY_PORTS	64
static struct {
	char	domain[256];
	int	port;
} relay_ports[RELAY_PORTS];
static unsigned relay_ports_next;

/* relay_port_last - the port a domain of t had, or 0 */
static int
relay_port_last(const struct odmr_turn *t)
{
	size_t	i, j;

	for (i = 0; i < t->n; i++)
		for (j = 0; j < RELAY_PORTS; j++)
			if (relay_ports[j].port != 0 && strcasecmp(
			    relay_ports[j].domain, t->domains[i]) == 0)
				return relay_ports[j].port;
	return 0;
}

/* relay_port_keep - remember t's port for its domains */
static void
relay_port_keep(const struct odmr_turn *t)
{
	size_t	i, j;

	for (i = 0; i < t->n; i++) {
		for (j = 0; j < RELAY_PORTS; j++)
			if (strcasecmp(relay_ports[j].domain,
			    t->domains[i]) == 0)
				break;
		if (j == RELAY_PORTS)
			j = relay_ports_next++ % RELAY_PORTS;
		snprintf(relay_ports[j].domain, sizeof(relay_ports[j].domain),
		    "%s", t->domains[i]);
		relay_ports[j].port = t->port;
	}
}

/* relay_listen - listen on 127.0.0.1:port (0: any); NULL on failure */
static struct evconnlistener *
relay_listen(struct odmr_turn *t, int port)
{
	struct sockaddr_in sin;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons((unsigned short)port);
	return evconnlistener_new_bind(t->ss->l->base, relay_accept_cb, t,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC |
	    LEV_OPT_REUSEABLE, 16, (struct sockaddr *)&sin, sizeof(sin));
}

/* relay_customer_fd - the socket of the customer's connection */
static int
relay_customer_fd(const struct odmr_turn *t)
{
	struct bufferevent *b = t->ss->c->bev, *under;

	while ((under = bufferevent_get_underlying(b)) != NULL)
		b = under;
	return bufferevent_getfd(b);
}

/* relay_nodelay - commands to the customer go out one at a time too */
static void
relay_nodelay(struct odmr_turn *t)
{
	int	one = 1;

	(void)setsockopt(relay_customer_fd(t), IPPROTO_TCP, TCP_NODELAY, &one,
	    sizeof(one));
}

/*
 * odmrrelay_quickack - acknowledge the customer's segments at once: a
 * customer that writes each reply line by itself with Nagle's algorithm
 * (fetchmail) would otherwise wait for the delayed ACK on every line.
 * Linux clears the flag again, so it is set at every read.
 */
void
odmrrelay_quickack(const struct odmr_turn *t)
{
#ifdef TCP_QUICKACK
	int	one = 1;

	(void)setsockopt(relay_customer_fd(t), IPPROTO_TCP, TCP_QUICKACK, &one,
	    sizeof(one));
#else
	(void)t;
#endif
}

/* odmrrelay_open - the relay socket on 127.0.0.1, a port of its own; -1 */
int
odmrrelay_open(struct odmr_turn *t)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	int	last = relay_port_last(t);

	if (last == 0 || (t->lev = relay_listen(t, last)) == NULL)
		t->lev = relay_listen(t, 0);
	if (t->lev == NULL || getsockname(evconnlistener_get_fd(t->lev),
	    (struct sockaddr *)&sin, &len) < 0) {
		log_warn("%s: odmr relay socket", t->ss->id);
		return -1;
	}
	t->port = ntohs(sin.sin_port);
	relay_port_keep(t);
	relay_nodelay(t);
	t->drain_cb = evbuffer_add_cb(bufferevent_get_output(t->ss->c->bev),
	    relay_drain_cb, t);
	return 0;
}

/* odmrrelay_close - the relay socket and every Postfix connection go */
void
odmrrelay_close(struct odmr_turn *t)
{
	struct relay_conn *rc;

	if (t->drain_cb != NULL) {
		evbuffer_remove_cb_entry(bufferevent_get_output(t->ss->c->bev),
		    t->drain_cb);
		t->drain_cb = NULL;
	}
	if (t->lev != NULL) {
		evconnlistener_free(t->lev);
		t->lev = NULL;
	}
	t->cur = NULL;
	while ((rc = TAILQ_FIRST(&t->clist)) != NULL)
		relay_free_conn(t, rc);
	if (t->pump != NULL) {
		event_free(t->pump);
		t->pump = NULL;
	}
}

/* odmrrelay_active - a Postfix connection open */
int
odmrrelay_active(const struct odmr_turn *t)
{
	return t->nconns > 0;
}

/* odmrrelay_expects - does the customer owe a reply */
int
odmrrelay_expects(const struct odmr_turn *t)
{
	return t->nowed > 0;
}

/* relay_log_msg - the customer's reply to a message's content */
static void
relay_log_msg(struct odmr_turn *t, const struct buf *r)
{
	size_t	n = strcspn(r->s, "\r");
	char	text[200];
	size_t	i;

	if (n >= sizeof(text))
		n = sizeof(text) - 1;
	for (i = 0; i < n; i++)
		text[i] = isprint((unsigned char)r->s[i]) ? r->s[i] : '?';
	text[n] = '\0';
	t->msgs++;
	if (r->s[0] == '2')
		t->accepted++;
	else if (r->s[0] == '5')
		t->refused += t->rcpts_ok;
	else
		t->deferred += t->rcpts_ok;
	log_info("%s: odmr message from=<%s> rcpts=%lld/%lld reply=%s",
	    t->ss->id, buf_terminate(&t->from), t->rcpts_ok, t->rcpts, text);
	t->txn = 0;
}

/* odmrrelay_reply - the customer's reply to the oldest command owed */
void
odmrrelay_reply(struct odmr_turn *t, const struct buf *r)
{
	struct relay_conn *rc = t->cur;
	char	kind = t->owed[t->owed_first];

	t->owed_first = (t->owed_first + 1) % ODMR_RELAY_PIPE;
	t->nowed--;
	if (kind == 'R') {
		t->rcpts++;
		if (r->s[0] == '2')
			t->rcpts_ok++;
		else if (r->s[0] == '5')
			t->refused++;
		else
			t->deferred++;
	} else if (kind == 'E')
		relay_log_msg(t, r);
	else if (kind == 'D' && strncmp(r->s, "354", 3) == 0 && rc == NULL) {
		/* Its client is gone: the content cannot be aborted. */
		t->content = 1;
		odmrturn_end(t, "MTA connection lost before the message");
		return;
	} else if (kind == 'D' && strncmp(r->s, "354", 3) == 0) {
		rc->data = 1;
		rc->dstate = 0;
		t->content = 1;
	}
	if (rc != NULL && kind != 'Q')
		bufferevent_write(rc->bev, r->s, r->len);
	relay_release(t);
	if (t->state != TURN_RELAY || rc == NULL)
		return;
	if (rc == t->cur || !rc->queued)
		relay_pump(rc);	/* its next command, or the content */
}

/*
 * relay_scan - the end of the content in p[0..n): the octets up to and
 * including the "." line, or n.  *st: 0 line start, 1 "." at line start,
 * 2 ".\r" at line start, 3 in a line, 4 "\r" in a line; -1: the end.
 */
static size_t
relay_scan(const unsigned char *p, size_t n, int *st)
{
	size_t	i;

	for (i = 0; i < n; i++) {
		switch (*st) {
		case 0:
			*st = p[i] == '.' ? 1 : p[i] == '\r' ? 4 : 3;
			break;
		case 1:
			*st = p[i] == '\r' ? 2 : 3;
			break;
		case 2:
			if (p[i] == '\n') {
				*st = -1;
				return i + 1;
			}
			*st = p[i] == '\r' ? 4 : 3;
			break;
		default:
			*st = p[i] == '\n' && *st == 4 ? 0 : p[i] == '\r' ? 4 :
			    3;
			break;
		}
	}
	return n;
}

/* relay_content - the message to the customer while it takes it; 1: end */
static int
relay_content(struct odmr_turn *t, struct relay_conn *rc,
    struct evbuffer *in)
{
	struct evbuffer *out = bufferevent_get_output(t->ss->c->bev);
	unsigned char *p;
	size_t	n, k;

	while (evbuffer_get_length(out) < ODMR_RELAY_HIGH &&
	    (n = evbuffer_get_length(in)) > 0) {
		if (n > RELAY_CHUNK)
			n = RELAY_CHUNK;
		p = evbuffer_pullup(in, (ev_ssize_t)n);
		k = relay_scan(p, n, &rc->dstate);
		odmrturn_write(t, (const char *)p, k);
		evbuffer_drain(in, k);
		if (rc->dstate == -1) {
			rc->data = 0;
			t->content = 0;
			relay_owe(t, 'E');
			return 1;
		}
	}
	return 0;
}

/* relay_local - a command answered here; 0 if it must wait for replies */
static int
relay_local(struct odmr_turn *t, struct relay_conn *rc, const char *cmd,
    size_t clen, char kind)
{
	struct buf b = BUF_INIT;
	size_t	n;

	if (rc == t->cur && t->nowed > 0)
		return 0;	/* its reply comes after those owed */
	if (kind == 'S' || kind == 'N')	/* outside a transaction */
		bufferevent_write(rc->bev, "250 2.0.0 Ok\r\n", 14);
	else if (kind != 0)		/* RCPT, DATA */
		bufferevent_write(rc->bev, "503 5.5.1 Error: need MAIL "
		    "command\r\n", 35);
	else if (clen == 4 && strncasecmp(cmd, "EHLO", 4) == 0)
		bufferevent_write(rc->bev, t->ehlo.s, t->ehlo.len);
	else if (clen == 4 && strncasecmp(cmd, "HELO", 4) == 0) {
		n = strcspn(t->ehlo.s + 4, "\r");
		buf_cat(&b, "250 ");
		buf_add(&b, t->ehlo.s + 4, n);
		buf_cat(&b, "\r\n");
		bufferevent_write(rc->bev, b.s, b.len);
	} else if (clen == 4 && strncasecmp(cmd, "QUIT", 4) == 0) {
		bufferevent_write(rc->bev, "221 2.0.0 Bye\r\n", 15);
		bufferevent_disable(rc->bev, EV_READ);
		rc->quit = 1;
	} else
		bufferevent_write(rc->bev, "502 5.5.1 Command not available "
		    "over ODMR\r\n", 43);
	buf_free(&b);
	return 1;
}

/* relay_kind - the reply kind of a command passed on, or 0: local */
static char
relay_kind(const char *cmd, size_t clen)
{
	static const char *const fwd[] = { "MAIL", "RCPT", "DATA", "RSET",
		"NOOP", NULL };
	static const char kinds[] = "MRDSN";
	size_t	i;

	for (i = 0; fwd[i] != NULL; i++)
		if (clen == 4 && strncasecmp(cmd, fwd[i], 4) == 0)
			return kinds[i];
	return 0;
}

/* relay_forward - a command to the customer; its reply is owed */
static void
relay_forward(struct odmr_turn *t, char kind, const char *line, size_t len)
{
	if (kind == 'M') {
		const char *a = strchr(line, '<'), *e;

		buf_reset(&t->from);
		if (a != NULL && (e = strchr(a, '>')) != NULL && e - a < 400)
			buf_add(&t->from, a + 1, (size_t)(e - a - 1));
		t->rcpts = t->rcpts_ok = 0;
		t->txn = 1;
	} else if (kind == 'S')
		t->txn = 0;
	odmrturn_write(t, line, len);
	odmrturn_write(t, "\r\n", 2);
	relay_owe(t, kind);
}

/*
 * relay_take - may rc's MAIL go to the customer now; else rc waits, in
 * its order, until relay_release() gives it the customer
 */
static int
relay_take(struct odmr_turn *t, struct relay_conn *rc)
{
	if (t->cur == rc)
		return 1;
	if (t->cur == NULL && t->nowed == 0 && TAILQ_EMPTY(&t->waiting)) {
		t->cur = rc;
		return 1;
	}
	if (!rc->queued) {
		TAILQ_INSERT_TAIL(&t->waiting, rc, wlink);
		rc->queued = 1;
	}
	return 0;
}

/* relay_command - the next command line of Postfix's; 0: wait */
static int
relay_command(struct odmr_turn *t, struct relay_conn *rc,
    struct evbuffer *in)
{
	struct evbuffer_ptr eol;
	char	line[ODMR_RELAY_LINE];
	size_t	eol_len = 0, len, clen;
	char	kind;

	eol = evbuffer_search_eol(in, NULL, &eol_len, EVBUFFER_EOL_CRLF);
	if (eol.pos < 0 ? evbuffer_get_length(in) >= ODMR_RELAY_LINE :
	    (size_t)eol.pos >= ODMR_RELAY_LINE) {
		relay_conn_close(rc, "MTA command line too long");
		return 0;
	}
	if (eol.pos < 0)
		return 0;
	len = (size_t)eol.pos;
	evbuffer_copyout(in, line, len);
	line[len] = '\0';
	clen = strcspn(line, " ");
	kind = relay_kind(line, clen);
	if (kind == 'M' && !relay_take(t, rc))
		return 0;
	if (kind == 0 || rc != t->cur) {
		if (!relay_local(t, rc, line, clen, kind))
			return 0;
	} else if (t->nowed >= ODMR_RELAY_PIPE || evbuffer_get_length(
	    bufferevent_get_output(t->ss->c->bev)) >= ODMR_RELAY_HIGH)
		return 0;
	else
		relay_forward(t, kind, line, len);
	evbuffer_drain(in, len + eol_len);
	return 1;
}

/* relay_pump - move what rc sent while the customer can take it */
static void
relay_pump(struct relay_conn *rc)
{
	struct odmr_turn *t = rc->t;
	struct evbuffer *in;

	while (t->state == TURN_RELAY && !rc->quit && !rc->queued) {
		in = bufferevent_get_input(rc->bev);
		if (rc->data) {
			if (!relay_content(t, rc, in))
				return;
		} else if (!relay_command(t, rc, in))
			return;
	}
}
