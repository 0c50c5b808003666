/*
 * NAME
 *	store - etrn-milter's Redis reads and writes
 * DESCRIPTION
 *	store_hold() writes a hold record in state "pending" with
 *	holdrec_store() (lib/mail/holdrec.c), in one script: the record
 *	hash, its entry in etrn:pending:<host> (score: arrival in ms) and
 *	the domain sets.  The milter writes it before it
 *	tags and quarantines the message, and a later milter or cleanup may
 *	still reject the message, so a pending record counts nowhere: not in
 *	the domain's held set, counters, expiry or warning indexes.  etrnd
 *	promotes it to "held" (and counts it) once it finds the message on
 *	hold, or drops it after pending_timeout (etrnd/pending.c).  When a
 *	record with the same host and queue ID already exists (Postfix
 *	reused the ID of a message whose file is gone), its contributions
 *	are taken out first (held set, counters, oldest, expiry and warning
 *	entries) so counts stay right.
 *
 *	store_fetch_domains() reads the dial-up domain set (domstore.c).
 * DIAGNOSTICS
 *	-1 with a reason in *err when Redis cannot be reached, times out or
 *	answers with an error.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mail/domstore.h"
#include "mail/holdrec.h"
#include "milter/milter.h"
#include "util/log.h"

/* store_hold - record a message about to be held, pending (see above) */
int
store_hold(const struct cfg *c, const struct msg *m, const struct rgroup *g,
    const struct hold_info *h, struct buf *err)
{
	struct holdrec_new n;
	struct buf rcpts = BUF_INIT;
	struct timespec ts;
	struct rr_reply r;
	int	rc;

	record_rcpts(&rcpts, m, g);
	clock_gettime(CLOCK_REALTIME, &ts);
	memset(&n, 0, sizeof(n));
	n.qid = h->qid;
	n.domain = h->domain;
	n.token = h->token;
	n.sender = m->sender;
	n.ret = m->ret;
	n.envid = m->envid;
	n.client = h->client;
	n.rcpts = &rcpts;
	n.headers = &m->headers;
	n.nrcpt = g->n;
	n.size = (long long)m->size;
	n.arrived = h->arrived;
	n.expires = h->expires;
	n.warn_at = h->warn_at;
	n.arrived_ms = (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	n.headers_truncated = m->headers_truncated;
	rc = holdrec_store(c->redis, c->s.hostname, &n, &r);
	if (rc < 0)
		buf_printf(err, "%s", r.str ? r.str : "redis error");
	rr_reply_free(&r);
	buf_free(&rcpts);
	return rc;
}

/* store_fetch_domains - the dial-up domains and their hold settings */
int
store_fetch_domains(const struct cfg *c, struct domlist *dl, struct buf *err)
{
	return domstore_fetch(c->redis, dl, err);
}
