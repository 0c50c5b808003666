/*
 * NAME
 *	domcache - the milter's cache of dial-up domains
 * DESCRIPTION
 *	A background thread reads the dial-up domains from Redis (and the
 *	optional domains_file) every domain_refresh seconds, or at once after
 *	SIGUSR1, builds a new sorted list and swaps it in under a write lock.
 *	Lookups take the read lock only, so a refresh never blocks SMTP.
 *
 *	When Redis cannot be read the previous list stays in use: mail for
 *	non-dial-up domains keeps flowing while Redis is away.  Until the
 *	first successful load, lookups answer DC_UNKNOWN and the configured
 *	on_redis_error action applies.
 *
 *	The same thread asks reinject_server's EHLO (reinject_probe) when it
 *	starts and after each SIGUSR1, so a server that would make splits
 *	fail (no DSN, 8BITMIME or SMTPUTF8) is named in the log before mail
 *	needs it.  A server not up yet (the MTA starting after the milter)
 *	is asked once more at the next refresh.
 * DIAGNOSTICS
 *	A warning when a refresh fails and an info line when it works again
 *	or the number of domains changes, not one line per refresh.
 */
#include "config.h"

#include <pthread.h>
#include <string.h>
#include <time.h>

#include "milter/milter.h"
#include "util/log.h"

static pthread_rwlock_t dc_lock = PTHREAD_RWLOCK_INITIALIZER;
static struct domlist dc_list;
static int dc_loaded;

static pthread_mutex_t dc_wake_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t dc_wake = PTHREAD_COND_INITIALIZER;
static int dc_wake_flag;

#define PROBE_TRIES	2	/* reinject_server probes at start, reload */

/* domcache_refresh - load once; 0 on success */
static int
domcache_refresh(void)
{
	static int failing = 0;
	static size_t last_count = (size_t)-1;
	struct cfg *c = cfg_acquire();
	struct domlist nl, old;
	struct buf err = BUF_INIT;
	int	rc = 0;

	domlist_init(&nl);
	if (store_fetch_domains(c, &nl, &err) < 0 ||
	    (*c->s.domains_file &&
	    domlist_load_file(&nl, c->s.domains_file, &err) < 0)) {
		if (!failing)
			log_warnx("dial-up domain refresh failed, keeping %s: "
			    "%s", dc_loaded ? "the previous list" : "no list",
			    buf_terminate(&err));
		failing = 1;
		domlist_free(&nl);
		rc = -1;
	} else {
		domlist_sort(&nl);
		if (failing || nl.n != last_count)
			log_info("dial-up domains loaded: count=%zu", nl.n);
		failing = 0;
		last_count = nl.n;
		pthread_rwlock_wrlock(&dc_lock);
		old = dc_list;
		dc_list = nl;
		dc_loaded = 1;
		pthread_rwlock_unlock(&dc_lock);
		domlist_free(&old);
	}
	buf_free(&err);
	cfg_release(c);
	return rc;
}

/* domcache_thread - refresh periodically or when woken */
static void *
domcache_thread(void *arg)
{
	struct timespec ts;
	long long every;
	struct cfg *c;
	int	probes = PROBE_TRIES, woken;

	(void)arg;
	for (;;) {
		c = cfg_acquire();
		every = c->s.domain_refresh;
		if (probes > 0)
			probes = reinject_probe(c) < 0 ? probes - 1 : 0;
		cfg_release(c);
		/* Retry sooner while no list was ever loaded. */
		if (!dc_loaded && every > 2)
			every = 2;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += (time_t)every;
		pthread_mutex_lock(&dc_wake_lock);
		while (!dc_wake_flag)
			if (pthread_cond_timedwait(&dc_wake, &dc_wake_lock,
			    &ts) != 0)
				break;
		woken = dc_wake_flag;
		dc_wake_flag = 0;
		pthread_mutex_unlock(&dc_wake_lock);
		if (woken)	/* SIGUSR1: the server may have changed */
			probes = PROBE_TRIES;
		domcache_refresh();
	}
	return NULL;
}

/* domcache_start - first load (may fail) and the refresh thread */
int
domcache_start(void)
{
	pthread_t tid;

	domcache_refresh();
	if (pthread_create(&tid, NULL, domcache_thread, NULL) != 0)
		return -1;
	pthread_detach(tid);
	return 0;
}

/* domcache_refresh_now - wake the refresh thread */
void
domcache_refresh_now(void)
{
	pthread_mutex_lock(&dc_wake_lock);
	dc_wake_flag = 1;
	pthread_cond_signal(&dc_wake);
	pthread_mutex_unlock(&dc_wake_lock);
}

/* domcache_lookup - is the domain dial-up; its hold and warn times */
enum dc_result
domcache_lookup(const char *domain, long long *hold, long long *warn)
{
	const struct dom_entry *e;
	enum dc_result r;

	pthread_rwlock_rdlock(&dc_lock);
	if (!dc_loaded)
		r = DC_UNKNOWN;
	else if ((e = domlist_match(&dc_list, domain)) == NULL)
		r = DC_NO;
	else {
		r = DC_YES;
		*hold = e->hold_time;
		*warn = e->warn_time;
	}
	pthread_rwlock_unlock(&dc_lock);
	return r;
}
