/*
 * NAME
 *	domstore - the dial-up domains and their per-domain settings
 * DESCRIPTION
 *	One Lua script reads the set etrn:domains and, for each entry, the
 *	fields hold_time, warn_time and allow of etrn:domain:<entry>, in one
 *	round trip.  The blocking pool (domstore_fetch) and the event-driven
 *	client (with domstore_script, domstore_args and domstore_parse) share
 *	the script and the parsing.
 *
 *	hold_time and warn_time take the configuration file's time syntax
 *	(plain seconds too) and bounds (settings_domain_value); a value
 *	that does not parse or is out of bounds is logged, at each refresh,
 *	and the default used.  An entry that is not a valid domain is
 *	logged and skipped.
 * DIAGNOSTICS
 *	-1 with a reason when Redis cannot be read or answers strangely.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "mail/domstore.h"
#include "mail/rkeys.h"
#include "mail/settings.h"
#include "util/conf.h"
#include "util/log.h"
#include "util/rargs.h"
#include "util/xalloc.h"

/* KEYS: domains; ARGV: domain key prefix.  d, hold, warn, allow, ... */
struct rscript domstore_script = {
	"local out = {}\n"
	"for _, d in ipairs(redis.call('SMEMBERS', KEYS[1])) do\n"
	"  local p = redis.call('HMGET', ARGV[1] .. d, '" DF_HOLD_TIME "',\n"
	"    '" DF_WARN_TIME "', '" DF_ALLOW "')\n"
	"  out[#out + 1] = d\n"
	"  out[#out + 1] = p[1] or ''\n"
	"  out[#out + 1] = p[2] or ''\n"
	"  out[#out + 1] = p[3] or false\n"
	"end\n"
	"return out\n",
	""
};

/* domstore_args - the script's key and argument */
void
domstore_args(struct buf *key, struct buf *prefix)
{
	rkey_domains(key);
	rkey_domain_prefix(prefix);
}

/*
 * domstore_time - per-domain time setting; dflt when empty, and when out
 * of the file setting's bounds (a value written by hand or by an older
 * etrnctl), with a warning.
 */
static long long
domstore_time(const char *domain, const char *name, const char *v,
    long long dflt)
{
	struct buf why = BUF_INIT;
	long long t;

	if (v == NULL || *v == '\0')
		return dflt;
	if (settings_domain_value(name, v, &t, &why) < 0) {
		log_warnx("domain=%s %s \"%.40s\" in Redis ignored, using the "
		    "default: %s", domain, name, v, buf_terminate(&why));
		buf_free(&why);
		return dflt;
	}
	return t;
}

/* domstore_parse - append the script's answer to a list */
int
domstore_parse(const struct rr_reply *r, struct domlist *dl, struct buf *err)
{
	const char *why;
	size_t	i;

	if (r->status != RR_OK || r->type != RRT_ARRAY || r->nelem % 4 != 0) {
		buf_printf(err, "%s", r->str ? r->str : "unexpected reply");
		return -1;
	}
	for (i = 0; i < r->nelem; i += 4) {
		const char *d = r->elems[i] ? r->elems[i] : "";

		if (domlist_add(dl, d, domstore_time(d, DF_HOLD_TIME,
		    r->elems[i + 1], 0), domstore_time(d, DF_WARN_TIME,
		    r->elems[i + 2], -1), &why) < 0) {
			log_warnx("domain=\"%.80s\" in the dial-up domain set "
			    "ignored: %s", d, why);
			continue;
		}
		if (r->elems[i + 3] != NULL)
			dl->v[dl->n - 1].allow = xstrdup(r->elems[i + 3]);
	}
	return 0;
}

/* domstore_fetch - blocking read into a list */
int
domstore_fetch(struct rpool *rp, struct domlist *dl, struct buf *err)
{
	struct buf key = BUF_INIT, prefix = BUF_INIT;
	struct rargs a = RARGS_INIT;
	struct rr_reply r;
	int	rc;

	domstore_args(&key, &prefix);
	rargs_buf(&a, &key);
	rargs_buf(&a, &prefix);
	rc = rpool_script(rp, &domstore_script, 1, a.n, a.v, a.l, &r);
	rargs_free(&a);
	if (rc == 0)
		rc = domstore_parse(&r, dl, err);
	else
		buf_printf(err, "%s", r.str ? r.str : "redis error");
	rr_reply_free(&r);
	buf_free(&key);
	buf_free(&prefix);
	return rc;
}
