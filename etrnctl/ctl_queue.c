/*
 * NAME
 *	ctl_queue - etrnctl status, list, flush, release and expire
 * SYNOPSIS
 *	etrnctl status [DOMAIN ...]; etrnctl list DOMAIN;
 *	etrnctl flush DOMAIN | @DOMAIN; etrnctl release ID ...;
 *	etrnctl expire ID ...
 * DESCRIPTION
 *	status: for each domain with held mail (the members of
 *	etrn:helddomains whose etrn:held:<domain> is not empty), or each
 *	domain named, the number of held messages (all hosts), their bytes,
 *	the oldest arrival, the next deadline (the smallest `expires' among
 *	the domain's records, read one by one) and the counters flushed,
 *	expired, last_etrn and last_etrn_client of etrn:stats:<domain>.
 *	Bytes are the sum of the records' `size', right even when the
 *	`bytes' counter has drifted.  Held messages include those released
 *	and not yet delivered (state released).
 *
 *	list: one line per member of etrn:held:<domain>, oldest first, then
 *	one per record of this host that is still pending for the domain
 *	(etrn:pending:<host>; state "pending": recorded by etrn-milter, not
 *	yet seen on hold by etrnd, counted nowhere).
 *
 *	flush: the listener's script (flushreq.c): for the domain (for
 *	"@domain" also every held domain below it, asked from Redis first)
 *	it counts the held messages and, for each domain with some, sets
 *	etrn:flushing:<domain> and appends one request, with client and via
 *	"etrnctl", to the stream etrn:flush that the queue runner of every
 *	host reads.  Authorization and the flush lock are not checked: the
 *	administrator may always flush, every domain.
 *	last_etrn and last_etrn_client are left alone: they record the
 *	customer's ETRN.
 *
 *	release: queue IDs of this host (the hostname setting) whose record
 *	is in state held, and whose message the backend finds in the hold
 *	queue, are released through the queue backend at once; then each
 *	record is marked as the queue runner marks what it released (state
 *	released, released_at, etrn:released:<host>), so the runner's
 *	tracking sees the message leave the queue or puts it back on hold.
 *	Every ID is checked before any is released: one bad ID refuses the
 *	whole command.  When the release fails part-way, the messages that
 *	left the hold anyway are marked, as the runner does.
 *
 *	expire: for each queue ID of this host whose record is in state
 *	held or released, holdrec_expire_now() sets the record's `expires'
 *	to now (an earlier deadline is kept) and puts the ID into
 *	etrn:expiry:<host> with that score; the queue runner's next sweep
 *	(expire.c) does the rest: DSN, deletion, counters.  The MTA is not
 *	touched, so no root is needed.  Each ID is handled on its own: a
 *	refused one does not stop the others, but makes the exit status 1.
 *	A record already expiring is left alone (a warning, not an error).
 * SECURITY
 *	Domains pass dom_normalize() and queue IDs qid_valid() before they
 *	reach a key or the MTA; the backend runs commands with argv.
 * DIAGNOSTICS
 *	Each refused argument is named.  When the Postfix backend fails and
 *	etrnctl does not run as root, the message says that postsuper needs
 *	root.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "etrnctl/ctl.h"
#include "mail/etrnauth.h"
#include "mail/flushreq.h"
#include "mail/holdrec.h"
#include "mail/qbackend.h"
#include "mail/qid.h"
#include "mail/rkeys.h"
#include "util/log.h"
#include "util/xalloc.h"

#define CTL_CLIENT	"etrnctl"

/* One domain's numbers for status; times 0: none. */
struct ctlq_dstat {
	long long held, released, bytes;
	long long oldest, deadline, last_etrn;
	long long flushed, expired;
	char	*client;
};

/* ctlq_when_cell - a time as ISO 8601, or "-" */
static void
ctlq_when_cell(struct table *t, long long when)
{
	char	s[32];

	if (when <= 0) {
		table_cell(t, "-");
		return;
	}
	timefmt_iso(s, sizeof(s), when);
	table_cell(t, s);
}

/* ctlq_json_time - a time as a number, or null */
static void
ctlq_json_time(struct jw *w, const char *key, long long when)
{
	jw_key(w, key);
	if (when > 0)
		jw_int(w, when);
	else
		jw_null(w);
}

/* ctlq_status_record - add one member's record to the domain's numbers */
static int
ctlq_status_record(struct ctl *c, const char *member, struct ctlq_dstat *ds)
{
	struct buf key = BUF_INIT;
	struct rr_reply r;
	char	host[256], qid[64];
	long long e;

	if (ctl_member_split(member, host, sizeof(host), qid, sizeof(qid)) < 0)
		return 0;
	rkey_msg(&key, host, qid);
	if (ctl_redis(c, &r, "HMGET", key.s, RF_EXPIRES, RF_SIZE, RF_STATE,
	    NULL) < 0) {
		buf_free(&key);
		return -1;
	}
	buf_free(&key);
	if (r.type == RRT_ARRAY && r.nelem == 3 && r.elems[0] != NULL) {
		e = ctl_ll(r.elems[0]);
		if (e > 0 && (ds->deadline == 0 || e < ds->deadline))
			ds->deadline = e;
		ds->bytes += ctl_ll(r.elems[1]);
		if (r.elems[2] && strcmp(r.elems[2], RSTATE_RELEASED) == 0)
			ds->released++;
	}
	rr_reply_free(&r);
	return 0;
}

/* ctlq_status_stats - the counters of etrn:stats:<domain> */
static int
ctlq_status_stats(struct ctl *c, const char *domain, struct ctlq_dstat *ds)
{
	struct buf key = BUF_INIT;
	struct rr_reply r;

	rkey_stats(&key, domain);
	if (ctl_redis(c, &r, "HMGET", key.s, SF_FLUSHED, SF_EXPIRED,
	    SF_LAST_ETRN, SF_LAST_CLIENT, NULL) < 0) {
		buf_free(&key);
		return -1;
	}
	buf_free(&key);
	if (r.type == RRT_ARRAY && r.nelem == 4) {
		ds->flushed = ctl_ll(r.elems[0]);
		ds->expired = ctl_ll(r.elems[1]);
		ds->last_etrn = ctl_ll(r.elems[2]);
		if (r.elems[3] != NULL && *r.elems[3] != '\0')
			ds->client = xstrdup(r.elems[3]);
	}
	rr_reply_free(&r);
	return 0;
}

/* ctlq_status_read - one domain's numbers; -1 reported */
static int
ctlq_status_read(struct ctl *c, const char *domain, struct ctlq_dstat *ds)
{
	struct buf key = BUF_INIT;
	struct rr_reply r;
	size_t	i;
	int	rc = 0;

	memset(ds, 0, sizeof(*ds));
	rkey_held(&key, domain);
	if (ctl_redis(c, &r, "ZRANGE", key.s, "0", "-1", "WITHSCORES",
	    NULL) < 0) {
		buf_free(&key);
		return -1;
	}
	buf_free(&key);
	ds->held = (long long)(r.nelem / 2);
	if (ds->held > 0)
		ds->oldest = ctl_ll(r.elems[1]);
	for (i = 0; i + 1 < r.nelem && rc == 0; i += 2)
		if (r.elems[i] != NULL)
			rc = ctlq_status_record(c, r.elems[i], ds);
	rr_reply_free(&r);
	if (rc == 0)
		rc = ctlq_status_stats(c, domain, ds);
	return rc;
}

/* ctlq_status_row - one table row */
static void
ctlq_status_row(struct ctl *c, struct table *t, const char *d,
    const struct ctlq_dstat *ds)
{
	char	s[32];

	table_cell(t, d);
	table_cellf(t, "%lld", ds->held);
	table_cellf(t, "%lld", ds->released);
	table_cellf(t, "%lld", ds->bytes);
	ctlq_when_cell(t, ds->oldest);
	if (ds->oldest > 0)
		timefmt_duration(s, sizeof(s), c->now - ds->oldest);
	table_cell(t, ds->oldest > 0 ? s : "-");
	ctlq_when_cell(t, ds->deadline);
	if (ds->deadline > 0)
		timefmt_duration(s, sizeof(s), ds->deadline - c->now);
	if (ds->deadline > 0 && ds->deadline < c->now)
		table_cellf(t, "overdue %s", s);
	else
		table_cell(t, ds->deadline > 0 ? s : "-");
	table_cellf(t, "%lld", ds->flushed);
	table_cellf(t, "%lld", ds->expired);
	ctlq_when_cell(t, ds->last_etrn);
	table_cell(t, ds->client);
}

/* ctlq_status_json - one domain as a JSON object */
static void
ctlq_status_json(struct jw *w, const char *d, const struct ctlq_dstat *ds)
{
	jw_open(w, '{');
	jw_key(w, "domain");
	jw_str(w, d);
	jw_key(w, "held");
	jw_int(w, ds->held);
	jw_key(w, "released");
	jw_int(w, ds->released);
	jw_key(w, "bytes");
	jw_int(w, ds->bytes);
	ctlq_json_time(w, "oldest", ds->oldest);
	ctlq_json_time(w, "next_deadline", ds->deadline);
	jw_key(w, "flushed");
	jw_int(w, ds->flushed);
	jw_key(w, "expired");
	jw_int(w, ds->expired);
	ctlq_json_time(w, "last_etrn", ds->last_etrn);
	jw_key(w, "last_etrn_client");
	jw_str(w, ds->client);
	jw_close(w, '}');
}

/* ctlq_status_domains - the named domains, or those with held mail */
static int
ctlq_status_domains(struct ctl *c, int argc, char **argv, struct strv *out)
{
	struct buf d = BUF_INIT, err = BUF_INIT;
	struct rr_reply r;
	size_t	i;
	int	n, bad = 0;

	for (n = 0; n < argc; n++) {
		if (ctl_domain_arg(argv[n], 0, &d, &err) < 0) {
			log_err("%s", buf_terminate(&err));
			buf_reset(&err);
			bad = 1;
		} else if (!strv_has(out, d.s))
			strv_add(out, d.s);
	}
	buf_free(&err);
	if (argc > 0 || bad) {
		buf_free(&d);
		return bad ? -1 : 0;
	}
	rkey_helddomains(&d);
	n = ctl_redis(c, &r, "SMEMBERS", d.s, NULL);
	buf_free(&d);
	if (n < 0)
		return -1;
	for (i = 0; i < r.nelem; i++)
		if (r.elems[i] != NULL)
			strv_add(out, r.elems[i]);
	rr_reply_free(&r);
	strv_sort(out);
	return 0;
}

/* ctlq_status_begin - the table's header, or the JSON document's start */
static void
ctlq_status_begin(struct ctl *c, struct table *t, struct jw *w)
{
	static const char *const head[] = { "DOMAIN", "HELD", "RELEASED",
		"BYTES", "OLDEST", "AGE", "NEXT_DEADLINE", "LEFT", "FLUSHED",
		"EXPIRED", "LAST_ETRN", "LAST_CLIENT" };
	size_t	i;

	table_init(t, 12, "lrrrlrlrrrll");
	for (i = 0; i < 12; i++)
		table_cell(t, head[i]);
	jw_init(w, &c->out);
	if (c->json) {
		jw_open(w, '{');
		jw_key(w, "time");
		jw_int(w, c->now);
		jw_key(w, "domains");
		jw_open(w, '[');
	}
}

/* ctlq_status - etrnctl status [DOMAIN ...] */
int
ctlq_status(struct ctl *c, int argc, char **argv)
{
	struct strv doms = { NULL, 0, 0 };
	struct ctlq_dstat ds;
	struct table t;
	struct jw w;
	size_t	i, rows = 0;
	int	rc = CTL_OK;

	if (ctlq_status_domains(c, argc, argv, &doms) < 0) {
		strv_free(&doms);
		return CTL_ERR;
	}
	ctlq_status_begin(c, &t, &w);
	for (i = 0; i < doms.n && rc == CTL_OK; i++) {
		if (ctlq_status_read(c, doms.v[i], &ds) < 0)
			rc = CTL_ERR;
		else if (ds.held > 0 || argc > 0) {
			if (c->json)
				ctlq_status_json(&w, doms.v[i], &ds);
			else
				ctlq_status_row(c, &t, doms.v[i], &ds);
			rows++;
		}
		free(ds.client);
	}
	if (rc == CTL_OK && c->json) {
		jw_close(&w, ']');
		jw_close(&w, '}');
	} else if (rc == CTL_OK && rows > 0)
		table_print(&t, &c->out);
	else if (rc == CTL_OK)
		buf_cat(&c->out, "no held mail\n");
	table_free(&t);
	strv_free(&doms);
	return rc;
}

/* ctlq_list_json - one held message as a JSON object (f NULL: no record) */
static void
ctlq_list_json(struct jw *w, const char *member, const char *score,
    char *const *f)
{
	jw_open(w, '{');
	jw_key(w, "id");
	jw_str(w, member);
	jw_key(w, "state");
	jw_str(w, f ? f[0] : NULL);
	ctlq_json_time(w, "arrived", ctl_ll(f ? f[1] : score));
	ctlq_json_time(w, "expires", f ? ctl_ll(f[2]) : 0);
	jw_key(w, "size");
	if (f)
		jw_int(w, ctl_ll(f[3]));
	else
		jw_null(w);
	jw_key(w, "sender");
	jw_str(w, f ? (f[4] ? f[4] : "") : NULL);
	jw_key(w, "nrcpt");
	if (f)
		jw_int(w, ctl_ll(f[5]));
	else
		jw_null(w);
	jw_close(w, '}');
}

/* ctlq_list_row - one held message as a table row (f NULL: no record) */
static void
ctlq_list_row(struct table *t, const char *member, const char *score,
    char *const *f)
{
	table_cell(t, member);
	table_cell(t, f ? f[0] : "no-record");
	ctlq_when_cell(t, ctl_ll(f ? f[1] : score));
	ctlq_when_cell(t, f ? ctl_ll(f[2]) : 0);
	table_cell(t, f ? f[3] : NULL);
	table_cell(t, !f ? NULL : f[4] && *f[4] ? f[4] : "<>");
	table_cell(t, f ? f[5] : NULL);
}

/* ctlq_list_one - read one held message's record and show it */
static int
ctlq_list_one(struct ctl *c, const char *member, const char *score,
    struct table *t, struct jw *w)
{
	struct buf key = BUF_INIT;
	struct rr_reply r;
	char	host[256], qid[64];
	char	**f;

	memset(&r, 0, sizeof(r));
	if (ctl_member_split(member, host, sizeof(host), qid, sizeof(qid)) ==
	    0) {
		rkey_msg(&key, host, qid);
		if (ctl_redis(c, &r, "HMGET", key.s, RF_STATE, RF_ARRIVED,
		    RF_EXPIRES, RF_SIZE, RF_SENDER, RF_NRCPT, NULL) < 0) {
			buf_free(&key);
			return -1;
		}
		buf_free(&key);
	}
	f = r.type == RRT_ARRAY && r.nelem == 6 && r.elems[0] ? r.elems :
	    NULL;
	if (c->json)
		ctlq_list_json(w, member, score, f);
	else
		ctlq_list_row(t, member, score, f);
	rr_reply_free(&r);
	return 0;
}

/* ctlq_list_pending - this host's pending records for domain d; -1 Redis
 * failed, else the number shown */
static int
ctlq_list_pending(struct ctl *c, const char *d, struct table *t, struct jw *w)
{
	struct buf key = BUF_INIT, member = BUF_INIT;
	struct rr_reply r, f;
	size_t	i;
	int	n = 0;

	rkey_pending(&key, c->s.hostname);
	if (ctl_redis(c, &r, "ZRANGE", key.s, "0", "-1", NULL) < 0) {
		buf_free(&key);
		return -1;
	}
	for (i = 0; i < r.nelem && n >= 0; i++) {
		if (r.elems[i] == NULL || !qid_valid(r.elems[i]))
			continue;
		rkey_msg(&key, c->s.hostname, r.elems[i]);
		if (ctl_redis(c, &f, "HMGET", key.s, RF_DOMAIN, RF_STATE,
		    NULL) < 0) {
			n = -1;
			break;
		}
		if (f.nelem == 2 && f.elems[0] && strcmp(f.elems[0], d) == 0 &&
		    f.elems[1] && strcmp(f.elems[1], RSTATE_PENDING) == 0) {
			buf_reset(&member);
			rkey_member(&member, c->s.hostname, r.elems[i]);
			n = ctlq_list_one(c, member.s, "", t, w) < 0 ? -1 :
			    n + 1;
		}
		rr_reply_free(&f);
	}
	rr_reply_free(&r);
	buf_free(&key);
	buf_free(&member);
	return n;
}

/* ctlq_list_begin - the table's header, or the JSON document's start */
static void
ctlq_list_begin(struct ctl *c, const char *domain, struct table *t,
    struct jw *w)
{
	static const char *const head[] = { "ID", "STATE", "ARRIVED",
		"EXPIRES", "SIZE", "SENDER", "NRCPT" };
	size_t	i;

	table_init(t, 7, "llllrlr");
	for (i = 0; i < 7; i++)
		table_cell(t, head[i]);
	jw_init(w, &c->out);
	if (c->json) {
		jw_open(w, '{');
		jw_key(w, "domain");
		jw_str(w, domain);
		jw_key(w, "messages");
		jw_open(w, '[');
	}
}

/* ctlq_list - etrnctl list DOMAIN */
int
ctlq_list(struct ctl *c, int argc, char **argv)
{
	struct buf d = BUF_INIT, err = BUF_INIT, key = BUF_INIT;
	struct rr_reply r;
	struct table t;
	struct jw w;
	size_t	i;
	int	rc = CTL_OK, np = 0;

	(void)argc;
	if (ctl_domain_arg(argv[0], 0, &d, &err) < 0) {
		log_err("%s", buf_terminate(&err));
		buf_free(&err);
		return CTL_ERR;
	}
	rkey_held(&key, d.s);
	if (ctl_redis(c, &r, "ZRANGE", key.s, "0", "-1", "WITHSCORES",
	    NULL) < 0)
		rc = CTL_ERR;
	buf_free(&key);
	if (rc == CTL_OK) {
		ctlq_list_begin(c, d.s, &t, &w);
		for (i = 0; i + 1 < r.nelem && rc == CTL_OK; i += 2)
			if (r.elems[i] && ctlq_list_one(c, r.elems[i],
			    r.elems[i + 1], &t, &w) < 0)
				rc = CTL_ERR;
		if (rc == CTL_OK &&
		    (np = ctlq_list_pending(c, d.s, &t, &w)) < 0)
			rc = CTL_ERR;
		if (rc == CTL_OK && c->json) {
			jw_close(&w, ']');
			jw_close(&w, '}');
		} else if (rc == CTL_OK && (r.nelem > 0 || np > 0))
			table_print(&t, &c->out);
		else if (rc == CTL_OK)
			buf_printf(&c->out, "no mail held for %s\n", d.s);
		table_free(&t);
		rr_reply_free(&r);
	}
	buf_free(&d);
	return rc;
}

/* ctlq_flush_report - what was queued */
static void
ctlq_flush_report(struct ctl *c, const char *domain, int sub, long long n,
    const char *id)
{
	struct jw w;

	if (c->json) {
		jw_init(&w, &c->out);
		jw_open(&w, '{');
		jw_key(&w, "domain");
		jw_str(&w, domain);
		jw_key(&w, "subdomains");
		jw_bool(&w, sub);
		jw_key(&w, "pending");
		jw_int(&w, n);
		jw_key(&w, "queued");
		jw_bool(&w, n > 0);
		jw_key(&w, "stream_id");
		jw_str(&w, n > 0 ? id : NULL);
		jw_close(&w, '}');
	} else if (n > 0)
		buf_printf(&c->out, "flush of %s%s queued: %lld pending "
		    "message%s\n", domain, sub ? " and its subdomains" : "", n,
		    n == 1 ? "" : "s");
	else
		buf_printf(&c->out, "no messages waiting for %s%s: no flush "
		    "queued\n", domain, sub ? " or its subdomains" : "");
}

/* ctlq_flush_below - d, and for "@d" the held domains below it, into doms */
static int
ctlq_flush_below(struct ctl *c, const char *d, int sub, struct strv *doms)
{
	struct flushreq_below b;
	struct rr_reply r;
	size_t	i;
	int	rc = 0;

	strv_add(doms, d);
	if (!sub)
		return 0;
	flushreq_below_args(&b, d);
	if ((rc = ctl_script(c, &flushreq_below_script, FLUSHREQ_BELOW_KEYS,
	    &b.args, &r)) == 0) {
		if (flushreq_below_result(&r) < 0) {
			log_err("flush: unexpected reply from Redis");
			rc = -1;
		}
		for (i = 0; rc == 0 && i < r.nelem; i++)
			if (r.elems[i] != NULL && etrnauth_below(d, r.elems[i]))
				strv_add(doms, r.elems[i]);
		rr_reply_free(&r);
	}
	flushreq_below_free(&b);
	return rc;
}

/* ctlq_flush - etrnctl flush DOMAIN | @DOMAIN */
int
ctlq_flush(struct ctl *c, int argc, char **argv)
{
	struct buf d = BUF_INIT, err = BUF_INIT;
	struct strv doms = { NULL, 0, 0 };
	struct flushreq f;
	struct flushreq_args a;
	struct rr_reply r;
	const char *id;
	long long n;
	int	sub = argv[0][0] == '@', busy, rc = CTL_ERR;

	(void)argc;
	if (ctl_domain_arg(argv[0] + sub, 0, &d, &err) < 0) {
		log_err("%s", buf_terminate(&err));
		buf_free(&err);
		return CTL_ERR;
	}
	if (ctlq_flush_below(c, d.s, sub, &doms) < 0) {
		strv_free(&doms);
		buf_free(&d);
		return CTL_ERR;
	}
	f.domains = (const char *const *)doms.v;
	f.ndomains = doms.n;
	f.client = CTL_CLIENT;
	f.via = CTL_CLIENT;
	f.lock_ttl = c->s.flush_lock_time;
	f.now = c->now;
	f.force = 1;
	flushreq_args(&a, &f);
	if (ctl_script(c, &flushreq_script, FLUSHREQ_KEYS, &a.args, &r) == 0) {
		if (flushreq_result(&r, &n, &busy, &id) < 0)
			log_err("flush: unexpected reply from Redis");
		else {
			ctlq_flush_report(c, d.s, sub, n, id);
			rc = CTL_OK;
		}
		rr_reply_free(&r);
	}
	flushreq_args_free(&a);
	strv_free(&doms);
	buf_free(&d);
	return rc;
}

/* ctl_ids - queue IDs of this host into ids; -1 if any was refused */
int
ctl_ids(struct ctl *c, const char *cmd, int argc, char **argv,
    struct strv *ids)
{
	char	host[256], qid[64];
	const char *q;
	int	i, bad = 0;

	for (i = 0; i < argc; i++) {
		q = argv[i];
		if (strchr(q, ':') != NULL) {
			if (ctl_member_split(q, host, sizeof(host), qid,
			    sizeof(qid)) < 0 ||
			    strcasecmp(host, c->s.hostname) != 0) {
				log_err("\"%.80s\" is not a message of this "
				    "host (%s): run etrnctl %s on its host", q,
				    c->s.hostname, cmd);
				bad = 1;
				continue;
			}
			q = qid;
		}
		if (!qid_valid(q)) {
			log_err("bad queue ID \"%.80s\" (expected 5 to 32 "
			    "letters and digits)", argv[i]);
			bad = 1;
		} else if (!strv_has(ids, q))
			strv_add(ids, q);
	}
	return bad ? -1 : 0;
}

/* ctlq_release_check - every ID must have a record in state held */
static int
ctlq_release_check(struct ctl *c, const struct strv *ids)
{
	struct buf key = BUF_INIT;
	struct rr_reply r;
	size_t	i;
	int	bad = 0;

	for (i = 0; i < ids->n; i++) {
		rkey_msg(&key, c->s.hostname, ids->v[i]);
		if (ctl_redis(c, &r, "HGET", key.s, RF_STATE, NULL) < 0) {
			buf_free(&key);
			return -1;
		}
		if (r.status == RR_NIL || r.str == NULL) {
			log_err("%s: no hold record for it on %s", ids->v[i],
			    c->s.hostname);
			bad = 1;
		} else if (strcmp(r.str, RSTATE_HELD) != 0) {
			log_err("%s: not held (state %.40s)", ids->v[i],
			    r.str);
			bad = 1;
		}
		rr_reply_free(&r);
	}
	buf_free(&key);
	return bad ? -1 : 0;
}

/* ctl_qb_hint - after a backend failure: Postfix needs root */
void
ctl_qb_hint(struct ctl *c, const char *cmd)
{
	if (strcmp(c->s.mta, "postfix") == 0 && geteuid() != 0)
		log_err("Postfix's queue tools need root: run etrnctl %s as "
		    "root", cmd);
}

/* ctl_qb_open - look up and initialise the queue backend; -1 reported */
int
ctl_qb_open(struct ctl *c, struct ctl_qb *q, const char *cmd)
{
	enum qb_status st;

	memset(q, 0, sizeof(*q));
	if ((q->qb = qb_lookup(c->s.mta)) == NULL) {
		log_err("unknown mta \"%s\"", c->s.mta);
		return -1;
	}
	q->qc.config_directory = c->s.postfix_config_directory;
	q->qc.command_directory = c->s.postfix_command_directory;
	q->qc.sendmail_command = c->s.sendmail_command;
	q->qc.sendmail_config_file = c->s.sendmail_config_file;
	q->qc.sendmail_queue_directory = c->s.sendmail_queue_directory;
	q->qc.null_log = c->s.null_backend_log;
	q->qc.timeout = CTL_MTA_TIMEOUT;
	if (q->qb->init != NULL && (st = q->qb->init(&q->qc)) != QB_OK) {
		log_err("the %s queue backend cannot start (%s)", c->s.mta,
		    qb_status_name(st));
		ctl_qb_hint(c, cmd);
		return -1;
	}
	return 0;
}

/* ctl_qb_close - free what ctl_qb_open resolved */
void
ctl_qb_close(struct ctl_qb *q)
{
	free(q->qc.queue_directory);
	q->qc.queue_directory = NULL;
}

/* ctlq_release_qstate - why a message cannot be released */
static const char *
ctlq_release_qstate(enum qb_qstate st)
{
	switch (st) {
	case QS_GONE:
		return "not in the queue any more (delivered or deleted)";
	case QS_PENDING:
		return "already out of the hold queue, being delivered";
	case QS_FAILED:
		return "already out of the hold queue, deferred";
	case QS_HELD:
		break;
	}
	return "held";
}

/* ctlq_release_status - the queue states of ids; NULL without status */
static struct qb_qinfo *
ctlq_release_status(struct ctl *c, struct ctl_qb *q, const struct strv *ids,
    enum qb_status *st)
{
	struct qb_qinfo *qi;
	size_t	i;

	*st = QB_OK;
	if (q->qb->status == NULL)
		return NULL;
	qi = xcalloc(ids->n, sizeof(*qi));
	for (i = 0; i < ids->n; i++)
		qi[i].id = ids->v[i];
	if ((*st = q->qb->status(&q->qc, qi, ids->n)) != QB_OK) {
		log_err("cannot ask the %s queue where the messages are (%s)",
		    c->s.mta, qb_status_name(*st));
		ctl_qb_hint(c, "release");
	}
	return qi;
}

/* ctlq_release_inqueue - every message must be in the hold queue */
static int
ctlq_release_inqueue(struct ctl *c, struct ctl_qb *q, const struct strv *ids)
{
	struct qb_qinfo *qi;
	enum qb_status st;
	size_t	i;
	int	bad = 0;

	if ((qi = ctlq_release_status(c, q, ids, &st)) == NULL)
		return 0;
	for (i = 0; st == QB_OK && i < ids->n; i++)
		if (qi[i].state != QS_HELD) {
			log_err("%s: %s", ids->v[i],
			    ctlq_release_qstate(qi[i].state));
			bad = 1;
		}
	qb_qinfo_free(qi, ids->n);
	free(qi);
	return st != QB_OK || bad ? -1 : 0;
}

/* ctlq_release_run - release; on failure keep in ids what left the hold */
static int
ctlq_release_run(struct ctl *c, struct ctl_qb *q, struct strv *ids)
{
	struct strv left = { NULL, 0, 0 };
	struct qb_qinfo *qi;
	enum qb_status st;
	size_t	i;

	if ((st = q->qb->release(&q->qc, ids->v, ids->n)) == QB_OK)
		return 0;
	log_err("the %s queue backend could not release the message%s (%s)",
	    c->s.mta, ids->n == 1 ? "" : "s", qb_status_name(st));
	ctl_qb_hint(c, "release");
	qi = ctlq_release_status(c, q, ids, &st);
	for (i = 0; qi != NULL && st == QB_OK && i < ids->n; i++)
		if (qi[i].state != QS_HELD && qi[i].state != QS_GONE)
			strv_add(&left, ids->v[i]);
	if (qi != NULL) {
		qb_qinfo_free(qi, ids->n);
		free(qi);
	}
	if (left.n > 0)
		log_err("%zu message%s left the hold queue anyway and %s "
		    "marked released", left.n, left.n == 1 ? "" : "s",
		    left.n == 1 ? "is" : "are");
	strv_free(ids);
	*ids = left;
	return -1;
}

/* ctlq_release_mark - mark one released message as the queue runner does */
static int
ctlq_release_mark(struct ctl *c, const char *qid, int *marked)
{
	struct rr_reply r;
	char	*id = (char *)qid;

	*marked = 0;
	if (ctl_hr(c, holdrec_mark_released(c->redis, c->s.hostname, c->now,
	    &id, 1, &r), &r) < 0)
		return -1;
	*marked = r.type == RRT_ARRAY && r.nelem == 1;
	rr_reply_free(&r);
	return 0;
}

/* ctlq_release_report - the released IDs */
static void
ctlq_release_report(struct ctl *c, const struct strv *done)
{
	struct jw w;
	size_t	i;

	if (!c->json) {
		for (i = 0; i < done->n; i++)
			buf_printf(&c->out, "released %s\n", done->v[i]);
		return;
	}
	jw_init(&w, &c->out);
	jw_open(&w, '{');
	jw_key(&w, "host");
	jw_str(&w, c->s.hostname);
	jw_key(&w, "released");
	jw_open(&w, '[');
	for (i = 0; i < done->n; i++)
		jw_str(&w, done->v[i]);
	jw_close(&w, ']');
	jw_close(&w, '}');
}

/* ctlq_release - etrnctl release ID ... */
int
ctlq_release(struct ctl *c, int argc, char **argv)
{
	struct strv ids = { NULL, 0, 0 }, done = { NULL, 0, 0 };
	struct ctl_qb q;
	size_t	i;
	int	rc = CTL_ERR, marked;

	memset(&q, 0, sizeof(q));
	if (ctl_ids(c, "release", argc, argv, &ids) < 0 ||
	    ctlq_release_check(c, &ids) < 0 ||
	    ctl_qb_open(c, &q, "release") < 0 ||
	    ctlq_release_inqueue(c, &q, &ids) < 0)
		goto out;
	rc = ctlq_release_run(c, &q, &ids) < 0 ? CTL_ERR : CTL_OK;
	for (i = 0; i < ids.n; i++) {
		if (ctlq_release_mark(c, ids.v[i], &marked) < 0) {
			log_err("%s: released, but its record could not be "
			    "marked released", ids.v[i]);
			rc = CTL_ERR;
		} else if (!marked)
			log_warnx("%s: released; its record was changed "
			    "meanwhile and is left as it is", ids.v[i]);
		strv_add(&done, ids.v[i]);
	}
	if (done.n > 0 || rc == CTL_OK)
		ctlq_release_report(c, &done);
out:
	ctl_qb_close(&q);
	strv_free(&ids);
	strv_free(&done);
	return rc;
}

/* ctlq_expire_one - schedule one message; holdrec_expire_now's code, -1
 * reported */
static int
ctlq_expire_one(struct ctl *c, const char *qid, struct buf *state)
{
	struct rr_reply r;
	int	code = -1;

	if (ctl_hr(c, holdrec_expire_now(c->redis, c->s.hostname, qid, c->now,
	    &r), &r) < 0)
		return -1;
	if (r.type == RRT_ARRAY && r.nelem == 2 && r.elems[0] && r.elems[1]) {
		code = (int)ctl_ll(r.elems[0]);
		buf_reset(state);
		buf_cat(state, r.elems[1]);
	} else
		log_err("expire: unexpected reply from Redis");
	rr_reply_free(&r);
	return code;
}

/* ctlq_expire_report - the IDs scheduled, and how many */
static void
ctlq_expire_report(struct ctl *c, const struct strv *done)
{
	struct jw w;
	size_t	i;

	if (c->json) {
		jw_init(&w, &c->out);
		jw_open(&w, '{');
		jw_key(&w, "host");
		jw_str(&w, c->s.hostname);
		jw_key(&w, "scheduled");
		jw_open(&w, '[');
		for (i = 0; i < done->n; i++)
			jw_str(&w, done->v[i]);
		jw_close(&w, ']');
		jw_key(&w, "count");
		jw_int(&w, (long long)done->n);
		jw_close(&w, '}');
		return;
	}
	for (i = 0; i < done->n; i++)
		buf_printf(&c->out, "expiring %s\n", done->v[i]);
	buf_printf(&c->out, "%zu message%s scheduled for expiry at the queue "
	    "runner's next sweep\n", done->n, done->n == 1 ? "" : "s");
}

/* ctlq_expire - etrnctl expire ID ... */
int
ctlq_expire(struct ctl *c, int argc, char **argv)
{
	struct strv ids = { NULL, 0, 0 }, done = { NULL, 0, 0 };
	struct buf state = BUF_INIT;
	size_t	i;
	int	rc, code = 0;

	rc = ctl_ids(c, "expire", argc, argv, &ids) < 0 ? CTL_ERR : CTL_OK;
	for (i = 0; i < ids.n && code >= 0; i++) {
		if ((code = ctlq_expire_one(c, ids.v[i], &state)) < 0)
			rc = CTL_ERR;
		else if (code == 1)
			strv_add(&done, ids.v[i]);
		else if (code == 0) {
			log_err("%s: no hold record for it on %s", ids.v[i],
			    c->s.hostname);
			rc = CTL_ERR;
		} else if (strcmp(buf_terminate(&state),
		    RSTATE_EXPIRING) == 0)
			log_warnx("%s: already expiring", ids.v[i]);
		else {
			log_err("%s: not held (state %.40s)", ids.v[i],
			    state.s);
			rc = CTL_ERR;
		}
	}
	if (code >= 0 || done.n > 0)
		ctlq_expire_report(c, &done);
	buf_free(&state);
	strv_free(&ids);
	strv_free(&done);
	return rc;
}
