/*
 * NAME
 *	odmrmap - the socketmap Postfix's transport_maps asks during turns
 * DESCRIPTION
 *	A line server (lib/util/lserver.c) on odmr_socketmap, the unix
 *	socket the parent bound as root (mode 0660, group of
 *	odmr_mta_user), speaking socketmap_table(5) (lib/util/socketmap.c).
 *	The map "transport" answers, for an address (or a domain) whose
 *	domain has a turn under way, "OK smtp:[127.0.0.1]:port" (the
 *	turn's relay, odmrturn_route()); anything else, a subdomain or
 *	Postfix's "*" among them, is "NOTFOUND ", so Postfix goes on to its
 *	next transport_maps table.  Postfix treats a socketmap as a pattern
 *	table and asks it for the whole recipient address only (transport(5)),
 *	so the domain is taken after the last "@".  main.cf:
 *	  transport_maps = socketmap:unix:/path:transport, <the others>
 * SECURITY
 *	Requests are netstrings of at most SOCKETMAP_MAX octets; a bad one
 *	closes the connection.  Only exact domains a session authorized are
 *	answered.  The core bounds connections, time and output.
 * DIAGNOSTICS
 *	One line per route given (domain, port, session); one per bad
 *	request.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "etrnd/odmr.h"
#include "util/log.h"
#include "util/socketmap.h"

static struct ls_server *map_srv;

/* map_open - a Postfix process connects: no greeting in socketmap */
static int
map_open(struct ls_conn *c)
{
	(void)c;
	return 0;
}

/* map_bye - refused or cut off: socketmap has no last words */
static void
map_bye(struct ls_conn *c, enum ls_limit why)
{
	(void)c;
	(void)why;
}

/* map_answer - the reply to one request */
static void
map_answer(struct ls_conn *c, const struct socketmap_req *r)
{
	const struct odmr_turn *t;
	struct buf out = BUF_INIT;
	const char *dom;
	char	value[64];

	if ((dom = strrchr(r->key, '@')) != NULL)
		dom++;
	else
		dom = r->key;
	if (strcmp(r->name, "transport") == 0 &&
	    (t = odmrturn_route(dom)) != NULL) {
		snprintf(value, sizeof(value), "smtp:[127.0.0.1]:%d", t->port);
		socketmap_reply(&out, "OK", value);
			log_info("%s: transport %s -> %s (%s)", c->id, r->key,
		    value, t->ss->id);
	} else
		socketmap_reply(&out, "NOTFOUND", "");
	ls_write(c, out.s, out.len);
	buf_free(&out);
}

/* map_input - the requests, one reply each */
static void
map_input(struct ls_conn *c, struct evbuffer *in)
{
	struct socketmap_req r;
	size_t	len;
	const char *p;

	while (ls_ready(c) && (len = evbuffer_get_length(in)) > 0) {
		if (len > SOCKETMAP_MAX + 8)
			len = SOCKETMAP_MAX + 8;
		p = (const char *)evbuffer_pullup(in, (ev_ssize_t)len);
		switch (socketmap_parse(p, len, &r)) {
		case SOCKETMAP_MORE:
			return;
		case SOCKETMAP_BAD:
			log_warnx("%s: odmr_socketmap: bad request, closing",
			    c->id);
			evbuffer_drain(in, evbuffer_get_length(in));
			ls_bye(c);
			return;
		case SOCKETMAP_OK:
			evbuffer_drain(in, r.used);
			if (ls_command(c) < 0)
				return;
			map_answer(c, &r);
			break;
		}
	}
}

/* map_close - nothing of ours to free */
static void
map_close(struct ls_conn *c)
{
	(void)c;
}

static const struct ls_ops map_ops = {
	"M",
	map_open,
	map_bye,
	map_input,
	map_close,
	NULL,
	NULL,
};

/* odmrmap_start - serve the socketmap on fd (-1: none); -1 on failure */
int
odmrmap_start(struct listener *l, int fd)
{
	struct ls_limits lim;

	if (fd < 0)
		return 0;
	memset(&lim, 0, sizeof(lim));
	lim.max_clients = 256;
	lim.max_per_client = 0;
	lim.v4_prefix = 32;
	lim.v6_prefix = 128;
	lim.timeout = 600;	/* Postfix keeps its connection idle */
	lim.max_session = 86400;
	lim.max_commands = (long long)1 << 40;
	lim.max_output = 65536;
	lim.max_input = 8192;
	if ((map_srv = ls_new(l->base, &lim, &map_ops, l, &fd, 1)) == NULL)
		return -1;
	log_info("odmr socketmap ready: %s", l->s->odmr_socketmap);
	return 0;
}

/* odmrmap_stop - after the loop */
void
odmrmap_stop(void)
{
	if (map_srv != NULL)
		ls_free(map_srv);
	map_srv = NULL;
}

/* odmrmap_running - is there a socketmap to put routes in */
int
odmrmap_running(void)
{
	return map_srv != NULL;
}
