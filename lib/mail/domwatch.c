/*
 * NAME
 *	domwatch - the dial-up domain list of an event-driven daemon
 * SUMMARY
 *	domwatch_start(&dw, base, redis, &settings);
 *	domlist_match(&dw.domains, domain) while dw.loaded
 *	domwatch_refresh(&dw);	(at once, e.g. after a reload)
 *	domwatch_stop(&dw); (before the daemon closes Redis)
 *	domwatch_free(&dw);
 * DESCRIPTION
 *	etrnd's listener and etrn-policy keep the list of etrn:domains (and
 *	domains_file) in memory: one Lua script (domstore.c) reads it every
 *	domain_refresh, every second until the first list arrived.  A new
 *	list replaces the old one only when it was read completely; a
 *	failed refresh keeps the previous list.
 * DIAGNOSTICS
 *	The first failure of a run of failures is logged, and the first
 *	list, the first one after failures and one whose number of domains
 *	changed (as etrn-milter does).
 */
#include "config.h"

#include <time.h>

#include <event2/event.h>

#include "mail/domstore.h"
#include "mail/domwatch.h"
#include "util/log.h"
#include "util/rargs.h"
#include "util/redis_async.h"

/* domwatch_cb - the domain list arrived */
static void
domwatch_cb(struct rr_reply *r, void *arg)
{
	struct domwatch *dw = arg;
	struct oe_settings *s = *dw->s;
	struct domlist nl, old;
	struct buf err = BUF_INIT;

	if (dw->stopping)
		return;
	domlist_init(&nl);
	if (domstore_parse(r, &nl, &err) < 0 || (*s->domains_file &&
	    domlist_load_file(&nl, s->domains_file, &err) < 0)) {
		if (!dw->failing)
			log_warnx("dial-up domain refresh failed, keeping %s: "
			    "%s", dw->loaded ? "the previous list" : "no list",
			    buf_terminate(&err));
		dw->failing = 1;
		domlist_free(&nl);
	} else {
		domlist_sort(&nl);
		if (dw->failing || !dw->loaded || nl.n != dw->domains.n)
			log_info("dial-up domains loaded: count=%zu", nl.n);
		dw->failing = 0;
		old = dw->domains;
		dw->domains = nl;
		dw->loaded = 1;
		domlist_free(&old);
	}
	buf_free(&err);
}

/* domwatch_refresh - ask Redis for the list now, re-arm the timer */
void
domwatch_refresh(struct domwatch *dw)
{
	struct buf key = BUF_INIT, prefix = BUF_INIT;
	struct timeval tv = { (time_t)(*dw->s)->domain_refresh, 0 };
	struct rargs a = RARGS_INIT;

	evtimer_del(dw->ev);
	if (!dw->loaded)
		tv.tv_sec = 1;	/* retry soon until the first load */
	domstore_args(&key, &prefix);
	rargs_buf(&a, &key);
	rargs_buf(&a, &prefix);
	(void)ra_script(dw->redis, &domstore_script, domwatch_cb, dw, 1, a.n,
	    a.v, a.l);
	rargs_free(&a);
	buf_free(&key);
	buf_free(&prefix);
	evtimer_add(dw->ev, &tv);
}

/* domwatch_timer - the refresh timer */
static void
domwatch_timer(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	domwatch_refresh(arg);
}

/* domwatch_start - the first refresh and the timer */
void
domwatch_start(struct domwatch *dw, struct event_base *base, struct ra *redis,
    struct oe_settings **s)
{
	domlist_init(&dw->domains);
	dw->loaded = dw->failing = dw->stopping = 0;
	dw->redis = redis;
	dw->s = s;
	dw->ev = evtimer_new(base, domwatch_timer, dw);
	domwatch_refresh(dw);
}

/*
 * domwatch_stop - the daemon stops: the refresh its own closing of Redis
 * ends is not a failure (no warning for it)
 */
void
domwatch_stop(struct domwatch *dw)
{
	dw->stopping = 1;
}

/* domwatch_free - the timer and the list */
void
domwatch_free(struct domwatch *dw)
{
	if (dw->ev != NULL)
		event_free(dw->ev);
	dw->ev = NULL;
	domlist_free(&dw->domains);
}
