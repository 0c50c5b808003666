/*
 * NAME
 *	odmrturn - the turn of an ODMR session (RFC 2645 section 4.2)
 * DESCRIPTION
 *	After ATRN's "250 OK now reversing the connection" etrnd is the SMTP
 *	client on the customer's connection, and Postfix stays the delivery
 *	agent: the session reads the customer's 220 and sends EHLO (HELO
 *	when EHLO is refused), keeps both replies, opens a relay socket on
 *	127.0.0.1 with a port of its own (odmrrelay.c), puts the route to
 *	it in the table Postfix's transport_maps asks (odmrmap.c answers
 *	"smtp:[127.0.0.1]:port" for the authorized domains), and then
 *	queues a flush request for them on the flush stream, as ETRN does:
 *	the queue runner releases the held mail, Postfix's smtp client
 *	delivers it through the relay, and tracking sees each message
 *	delivered, or deferred and held again with its deadline.
 *
 *	The session ends when no Postfix connection has been open for
 *	odmr_idle and no message of its domains is released
 *	and undelivered (one Redis script), or at odmr_max_session, or
 *	when the customer goes: QUIT, the route and the relay socket go.
 *	ATRN for a domain that has a turn under way is refused; so is the
 *	turn without odmr_socketmap or with an MTA other than Postfix.
 * SECURITY
 *	The customer's replies are read a line (ODMR_REPLY_LINE) and a
 *	reply (ODMR_REPLY_MAX) at a time; more, a line that is not a
 *	reply, or a reply nothing was asked for ends the session.  The
 *	core's timeout bounds each wait for the customer (its 220 too), and
 *	odmr_max_session the whole.  The route names only domains the
 *	session authorized.
 * DIAGNOSTICS
 *	One line at the turn, at the end (messages relayed, accepted, with
 *	the reasons), and when a customer is cut off.
 */
#include "config.h"

#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "etrnd/odmr.h"
#include "mail/flushreq.h"
#include "mail/rkeys.h"
#include "util/log.h"
#include "util/rargs.h"
#include "util/xalloc.h"

/* The turns under way in this process, for the route and ATRN. */
static TAILQ_HEAD(, odmr_turn) turns = TAILQ_HEAD_INITIALIZER(turns);

/*
 * KEYS: the domains' held indexes.  ARGV: the record key prefix.
 * Returns how many of their messages are released and not yet gone.
 */
static struct rscript released_script = {
	"local n = 0\n"
	"for i = 1, #KEYS do\n"
	"  for _, m in ipairs(redis.call('ZRANGE', KEYS[i], 0, -1)) do\n"
	"    if redis.call('HGET', ARGV[1] .. m, '" RF_STATE "') ==\n"
	"        '" RSTATE_RELEASED "' then n = n + 1 end\n"
	"  end\n"
	"end\n"
	"return n\n",
	""
};

/* odmrturn_write - to the customer, and restart its deadline */
void
odmrturn_write(struct odmr_turn *t, const char *s, size_t len)
{
	ls_write(t->ss->c, s, len);
	ls_deadline(t->ss->c);
}

/* odmrturn_end - QUIT to the customer, log, close once it is written */
void
odmrturn_end(struct odmr_turn *t, const char *why)
{
	if (t->state == TURN_DONE)
		return;
	/* Not inside a message: the customer would take it as content. */
	if (t->state != TURN_GREETING && !t->content)
		odmrturn_write(t, "QUIT\r\n", 6);
	t->state = TURN_DONE;
	log_info("%s: client=%s odmr end user=%s domains=%s connections=%lld "
	    "messages=%lld accepted=%lld refused=%lld deferred=%lld "
	    "reason=%s", t->ss->id, t->ss->addr, t->user, t->dlist,
	    t->conns, t->msgs, t->accepted, t->refused, t->deferred, why);
	odmrrelay_close(t);
	ls_bye(t->ss->c);
}

/* turn_idle_arm - look again after odmr_idle */
static void
turn_idle_arm(struct odmr_turn *t)
{
	struct timeval tv = { (time_t)t->ss->l->s->odmr_idle, 0 };

	evtimer_add(t->idle, &tv);
}

/* turn_released_cb - released and undelivered messages: 0 ends it */
static void
turn_released_cb(struct rr_reply *r, void *arg)
{
	struct odmr_turn *t = arg;

	if (!ls_unbusy(t->ss->c))
		return;
	if (r->status != RR_OK || r->type != RRT_INT) {
		log_warnx("%s: redis: %s", t->ss->id, r->str ? r->str :
		    "unexpected reply");
		odmrturn_end(t, "redis");
	} else if (r->integer > 0 && t->state == TURN_RELAY)
		turn_idle_arm(t);
	else
		odmrturn_end(t, "done");
	ls_resume(t->ss->c);
}

/* turn_idle_cb - odmr_idle passed: done unless Postfix is still at it */
static void
turn_idle_cb(evutil_socket_t fd, short what, void *arg)
{
	struct odmr_turn *t = arg;
	struct rargs av = RARGS_INIT;
	struct buf k[ATRN_MAX_DOMAINS];
	size_t	i;
	int	rc;

	(void)fd;
	(void)what;
	if (t->state != TURN_RELAY || t->ss->c->busy)
		return;
	if (odmrrelay_active(t)) {
		turn_idle_arm(t);
		return;
	}
	for (i = 0; i < t->n; i++) {
		buf_init(&k[i]);
		rkey_held(&k[i], t->domains[i]);
		rargs_buf(&av, &k[i]);
	}
	rargs_strs(&av, RKEY_PREFIX "msg:", NULL);
	rc = ra_script(t->ss->l->redis, &released_script, turn_released_cb,
	    t, (int)t->n, av.n, av.v, av.l);
	for (i = 0; i < t->n; i++)
		buf_free(&k[i]);
	rargs_free(&av);
	if (rc < 0)
		odmrturn_end(t, "redis");
	else
		ls_busy(t->ss->c);
}

/* turn_release_cb - the flush request is queued (or not) */
static void
turn_release_cb(struct rr_reply *r, void *arg)
{
	struct odmr_turn *t = arg;
	long long n;
	int	busy;
	const char *id;

	if (!ls_unbusy(t->ss->c))
		return;
	if (flushreq_result(r, &n, &busy, &id) < 0) {
		log_warnx("%s: redis: %s", t->ss->id, r->str ? r->str :
		    "unexpected reply");
		odmrturn_end(t, "redis");
	} else {
		log_info("%s: client=%s odmr release user=%s domains=%s "
		    "pending=%lld", t->ss->id, t->ss->addr, t->user, t->dlist,
		    n);
		turn_idle_arm(t);
	}
	ls_resume(t->ss->c);
}

/*
 * turn_release - the route is in place: queue the flush request.  Forced
 * (no flush_lock_time wait): the customer is connected and waiting.
 */
static void
turn_release(struct odmr_turn *t)
{
	struct listener *l = t->ss->l;
	struct flushreq f;
	struct flushreq_args fa;
	int	rc;

	f.domains = (const char *const *)t->domains;
	f.ndomains = t->n;
	f.client = t->ss->addr;
	f.via = l->s->hostname;
	f.lock_ttl = l->s->flush_lock_time;
	f.now = (long long)time(NULL);
	f.force = 1;
	flushreq_args(&fa, &f);
	rc = ra_script(l->redis, &flushreq_script, turn_release_cb, t,
	    FLUSHREQ_KEYS, fa.args.n, fa.args.v, fa.args.l);
	flushreq_args_free(&fa);
	if (rc < 0)
		odmrturn_end(t, "redis");
	else
		ls_busy(t->ss->c);
}

/* turn_ehlo_keep - the EHLO reply as Postfix sees it: no TLS, AUTH, BDAT */
static void
turn_ehlo_keep(struct odmr_turn *t, const struct buf *r)
{
	static const char *const drop[] = { "STARTTLS", "AUTH", "CHUNKING",
		NULL };
	const char *p = r->s, *end = r->s + r->len, *eol, *kw;
	const char *keep[ODMR_REPLY_MAX / 5];
	size_t	klen[ODMR_REPLY_MAX / 5], i, n = 0, kl;

	for (; p < end; p = eol + 2) {
		eol = memchr(p, '\r', (size_t)(end - p));
		kw = p + 3 + (eol - p > 3);
		kl = strcspn(kw, " =\r");
		for (i = 0; drop[i] != NULL; i++)
			if (p != r->s && kl == strlen(drop[i]) &&
			    strncasecmp(kw, drop[i], kl) == 0)
				break;
		if (drop[i] == NULL && n < sizeof(keep) / sizeof(keep[0])) {
			keep[n] = kw;
			klen[n++] = (size_t)(eol - kw);
		}
	}
	buf_reset(&t->ehlo);
	for (i = 0; i < n; i++) {	/* "250-" but the last "250 " */
		buf_cat(&t->ehlo, i + 1 < n ? "250-" : "250 ");
		buf_add(&t->ehlo, keep[i], klen[i]);
		buf_add(&t->ehlo, "\r\n", 2);
	}
}

/* turn_ready - EHLO answered: open the relay, the route, the release */
static void
turn_ready(struct odmr_turn *t)
{
	if (odmrrelay_open(t) < 0) {
		odmrturn_end(t, "relay socket");
		return;
	}
	t->state = TURN_RELAY;
	log_info("%s: client=%s odmr relay user=%s domains=%s "
	    "route=smtp:[127.0.0.1]:%d", t->ss->id, t->ss->addr, t->user,
	    t->dlist, t->port);
	turn_release(t);
}

/* turn_setup_reply - the 220, the EHLO and the HELO replies */
static void
turn_setup_reply(struct odmr_turn *t, const struct buf *r)
{
	struct buf b = BUF_INIT;

	switch (t->state) {
	case TURN_GREETING:
		if (strncmp(r->s, "220", 3) != 0) {
			odmrturn_end(t, "no 220 greeting");
			break;
		}
		buf_add(&t->greeting, r->s, r->len);
		buf_printf(&b, "EHLO %s\r\n", t->ss->l->s->hostname);
		odmrturn_write(t, b.s, b.len);
		t->state = TURN_EHLO;
		break;
	case TURN_EHLO:
		if (strncmp(r->s, "250", 3) == 0) {
			turn_ehlo_keep(t, r);
			turn_ready(t);
			break;
		}
		buf_printf(&b, "HELO %s\r\n", t->ss->l->s->hostname);
		odmrturn_write(t, b.s, b.len);
		t->state = TURN_HELO;
		break;
	case TURN_HELO:
		if (strncmp(r->s, "250", 3) != 0) {
			odmrturn_end(t, "EHLO and HELO refused");
			break;
		}
		buf_add(&t->ehlo, r->s, r->len);
		turn_ready(t);
		break;
	default:
		break;
	}
	buf_free(&b);
}

/*
 * turn_line - one line of a reply; 1: the reply is complete, 0: more to
 * come, -1: not a reply line
 */
static int
turn_line(struct odmr_turn *t, const char *line, size_t len)
{
	if (len < 3 || line[0] < '2' || line[0] > '5' || line[1] < '0' ||
	    line[1] > '9' || line[2] < '0' || line[2] > '9' ||
	    (len > 3 && line[3] != ' ' && line[3] != '-') ||
	    memchr(line, '\0', len) != NULL || memchr(line, '\r', len) != NULL)
		return -1;
	if (t->reply.len > 0 && strncmp(t->reply.s, line, 3) != 0)
		return -1;
	buf_add(&t->reply, line, len);
	buf_add(&t->reply, "\r\n", 2);
	return len == 3 || line[3] == ' ';
}

/* odmrturn_input - the customer's replies */
void
odmrturn_input(struct odmr_turn *t, struct evbuffer *in)
{
	struct evbuffer_ptr eol;
	char	line[ODMR_REPLY_LINE];
	size_t	eol_len = 0, len;
	int	got;

	if (t->state == TURN_RELAY)
		odmrrelay_quickack(t);
	while (t->state != TURN_DONE && !t->ss->c->busy) {
		eol = evbuffer_search_eol(in, NULL, &eol_len,
		    EVBUFFER_EOL_CRLF);
		if (eol.pos < 0 ? evbuffer_get_length(in) >= ODMR_REPLY_LINE :
		    (size_t)eol.pos >= ODMR_REPLY_LINE) {
			odmrturn_end(t, "reply line too long");
			return;
		}
		if (eol.pos < 0)
			return;
		len = (size_t)eol.pos;
		evbuffer_remove(in, line, len);
		evbuffer_drain(in, eol_len);
		ls_deadline(t->ss->c);
		if (t->state == TURN_RELAY && !odmrrelay_expects(t)) {
			odmrturn_end(t, "a reply nobody asked for");
			return;
		}
		if ((got = turn_line(t, line, len)) < 0 ||
		    t->reply.len > ODMR_REPLY_MAX) {
			odmrturn_end(t, got < 0 ? "not an SMTP reply" :
			    "reply too long");
			return;
		}
		if (got == 0)
			continue;
		if (t->state == TURN_RELAY)
			odmrrelay_reply(t, &t->reply);
		else
			turn_setup_reply(t, &t->reply);
		buf_reset(&t->reply);
	}
}

/* odmrturn_route - the transport of a domain with a turn, or NULL */
const struct odmr_turn *
odmrturn_route(const char *domain)
{
	const struct odmr_turn *t;
	size_t	i;

	TAILQ_FOREACH(t, &turns, link)
		if (t->state == TURN_RELAY)
			for (i = 0; i < t->n; i++)
				if (strcasecmp(t->domains[i], domain) == 0)
					return t;
	return NULL;
}

/* turn_taken - a domain of the list in another session's turn */
static int
turn_taken(char *const *domains, size_t n)
{
	const struct odmr_turn *t;
	size_t	i, j;

	TAILQ_FOREACH(t, &turns, link)
		for (i = 0; i < t->n; i++)
			for (j = 0; j < n; j++)
				if (strcasecmp(t->domains[i], domains[j]) == 0)
					return 1;
	return 0;
}

/* odmr_turn - ATRN's 250: the customer is the server from now on */
enum odmr_turn_result
odmr_turn(struct odmr_session *ss, const char *user, char *const *domains,
    size_t n, long long held)
{
	struct odmr_turn *t;
	struct passwd *pw;
	size_t	i;

	if (*ss->l->s->odmr_socketmap == '\0' || !odmrmap_running() ||
	    strcmp(ss->l->s->mta, "postfix") != 0)
		return ODMR_TURN_UNAVAILABLE;
	if (turn_taken(domains, n))
		return ODMR_TURN_BUSY;
	if ((pw = getpwnam(ss->l->s->odmr_mta_user)) == NULL) {
		log_warnx("odmr_mta_user: no user \"%s\"",
		    ss->l->s->odmr_mta_user);
		return ODMR_TURN_UNAVAILABLE;
	}
	t = xcalloc(1, sizeof(*t));
	t->ss = ss;
	t->mta_uid = pw->pw_uid;
	t->user = xstrdup(user);
	t->domains = xcalloc(n, sizeof(*t->domains));
	for (i = 0; i < n; i++) {
		t->domains[i] = xstrdup(domains[i]);
		buf_printf(&t->dl, "%s%s", i ? "," : "", domains[i]);
	}
	t->dlist = buf_terminate(&t->dl);
	t->n = n;
	t->idle = evtimer_new(ss->l->base, turn_idle_cb, t);
	odmrrelay_init(t);
	TAILQ_INSERT_TAIL(&turns, t, link);
	ss->turn = t;
	odmr_reply(ss, OR_ATRN_TURN);
	log_info("%s: client=%s odmr turn user=%s domains=%s held=%lld",
	    ss->id, ss->addr, user, t->dlist, held);
	ls_deadline(ss->c);
	return ODMR_TURN_STARTED;
}

/* odmrturn_free - the customer's connection is gone */
void
odmrturn_free(struct odmr_turn *t)
{
	size_t	i;

	if (t->state != TURN_DONE) {
		log_info("%s: client=%s odmr end user=%s domains=%s "
		    "connections=%lld messages=%lld accepted=%lld "
		    "refused=%lld deferred=%lld reason=connection lost",
		    t->ss->id, t->ss->addr, t->user, t->dlist, t->conns,
		    t->msgs, t->accepted, t->refused, t->deferred);
		t->state = TURN_DONE;
	}
	odmrrelay_close(t);
	TAILQ_REMOVE(&turns, t, link);
	event_free(t->idle);
	for (i = 0; i < t->n; i++)
		free(t->domains[i]);
	free(t->domains);
	free(t->user);
	buf_free(&t->dl);
	buf_free(&t->reply);
	buf_free(&t->greeting);
	buf_free(&t->ehlo);
	free(t);
}
