/*
 * NAME
 *	rkeys - builders for every Redis key (schema in rkeys.h)
 * DESCRIPTION
 *	Each builder resets the buffer and writes one key.  Callers pass
 *	values that were validated where they entered (dom_normalize,
 *	qid_valid, hostname from the settings check); a key never holds a
 *	space, CR, LF or NUL.
 */
#include "config.h"

#include "mail/rkeys.h"

/* rkey_build - prefix, kind and up to two parts */
static void
rkey_build(struct buf *b, const char *kind, const char *a, const char *c)
{
	buf_reset(b);
	buf_cat(b, RKEY_PREFIX);
	buf_cat(b, kind);
	if (a != NULL) {
		buf_addch(b, ':');
		buf_cat(b, a);
	}
	if (c != NULL) {
		buf_addch(b, ':');
		buf_cat(b, c);
	}
}

/* rkey_domains - the set of dial-up domain entries */
void
rkey_domains(struct buf *b)
{
	rkey_build(b, "domains", NULL, NULL);
}

/* rkey_domain_prefix - "etrn:domain:", for scripts that walk the set */
void
rkey_domain_prefix(struct buf *b)
{
	rkey_build(b, "domain", NULL, NULL);
	buf_addch(b, ':');
}

/* rkey_domain - per-domain policy hash */
void
rkey_domain(struct buf *b, const char *domain)
{
	rkey_build(b, "domain", domain, NULL);
}

/* rkey_held - the domain's held-message index */
void
rkey_held(struct buf *b, const char *domain)
{
	rkey_build(b, "held", domain, NULL);
}

/* rkey_stats - the domain's counters */
void
rkey_stats(struct buf *b, const char *domain)
{
	rkey_build(b, "stats", domain, NULL);
}

/* rkey_msg - one hold record */
void
rkey_msg(struct buf *b, const char *host, const char *qid)
{
	rkey_build(b, "msg", host, qid);
}

/* rkey_member - "<host>:<queueid>", member of etrn:held:<domain> */
void
rkey_member(struct buf *b, const char *host, const char *qid)
{
	buf_reset(b);
	buf_cat(b, host);
	buf_addch(b, ':');
	buf_cat(b, qid);
}

/* rkey_expiry - this host's deadline index */
void
rkey_expiry(struct buf *b, const char *host)
{
	rkey_build(b, "expiry", host, NULL);
}

/* rkey_warn - this host's delay-warning index */
void
rkey_warn(struct buf *b, const char *host)
{
	rkey_build(b, "warn", host, NULL);
}

/* rkey_hostdomains - domains with mail held on this host */
void
rkey_hostdomains(struct buf *b, const char *host)
{
	rkey_build(b, "hostdomains", host, NULL);
}

/* rkey_pending - this host's records whose message is not yet on hold */
void
rkey_pending(struct buf *b, const char *host)
{
	rkey_build(b, "pending", host, NULL);
}

/* rkey_released - this host's released, not yet delivered messages */
void
rkey_released(struct buf *b, const char *host)
{
	rkey_build(b, "released", host, NULL);
}

/* rkey_flush_stream - the stream of flush requests */
void
rkey_flush_stream(struct buf *b)
{
	rkey_build(b, "flush", NULL, NULL);
}

/* rkey_flush_group - this host's consumer group (not a key) */
void
rkey_flush_group(struct buf *b, const char *host)
{
	buf_reset(b);
	buf_cat(b, "etrnd:");
	buf_cat(b, host);
}

/* rkey_flushing - "a flush of this domain started" marker */
void
rkey_flushing(struct buf *b, const char *domain)
{
	rkey_build(b, "flushing", domain, NULL);
}

/* rkey_helddomains - domains with held mail on any host */
void
rkey_helddomains(struct buf *b)
{
	rkey_build(b, "helddomains", NULL, NULL);
}

/* rkey_lease - the lease of the etrnd serving this host */
void
rkey_lease(struct buf *b, const char *host)
{
	rkey_build(b, "lease", host, NULL);
}
