/*
 * NAME
 *	atrn - the ATRN command of the ODMR listener (RFC 2645), up to the turn
 * DESCRIPTION
 *	ATRN needs AUTH (530).  The argument is parsed by atrnarg.c (501).
 *	Each domain is governed by its dial-up entry (domlist_match(), as
 *	for ETRN) and authorized when the authenticated name is in that
 *	entry's sasl_users; one script reads, per domain with an entry,
 *	sasl_users and the number of held messages (etrn:held:<domain>,
 *	the count ETRN reports).  A domain not authorized is left out and
 *	logged.  Replies: none authorized 450 4.7.1; nothing held for the
 *	authorized ones 453; Redis unavailable 451; mail held: the turn
 *	(odmr_turn(), odmrturn.c) and "250 OK now reversing the
 *	connection"; 450 4.3.2 without odmr_socketmap or when a domain is
 *	in another session's turn, and the mail stays held.
 * SECURITY
 *	Domains reach Redis only as validated key names; sasl_users is read,
 *	never written.  Every refusal has the same reply, whatever the
 *	domain (dial-up or not, listed or not): the customer list cannot
 *	be read from it.
 * DIAGNOSTICS
 *	One line per ATRN: session, client, user, domains authorized of
 *	those asked, held count, result code; one line per domain left out.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "etrnd/odmr.h"
#include "mail/rkeys.h"
#include "util/log.h"
#include "util/rargs.h"
#include "util/strv.h"

/*
 * KEYS: per domain its entry hash and its held index.
 * Returns per domain {sasl_users or "", held count}.
 */
static struct rscript atrn_script = {
	"local out = {}\n"
	"for i = 1, #KEYS, 2 do\n"
	"  out[#out + 1] = redis.call('HGET', KEYS[i],\n"
	"    '" DF_SASL_USERS "') or ''\n"
	"  out[#out + 1] = tostring(redis.call('ZCARD', KEYS[i + 1]))\n"
	"end\n"
	"return out\n",
	""
};

/* atrn_finish - reply, log, let the session go on */
static void
atrn_finish(struct odmr_session *ss, enum odmr_reply r, size_t nok,
    long long held, const char *reason)
{
	static const char *const code[] = {
		[OR_ATRN_REFUSED] = "450", [OR_ATRN_NOMAIL] = "453",
		[OR_ATRN_TEMP] = "451", [OR_ATRN_NOT_YET] = "450",
		[OR_ATRN_BUSY] = "450",
		[OR_NEED_AUTH] = "530", [OR_ATRN_SYNTAX] = "501",
	};

	log_info("%s: client=%s atrn user=%s domains=%zu/%zu held=%lld "
	    "result=%s%s%s", ss->id, ss->addr, ss->user ? ss->user : "-", nok,
	    ss->atrn.n, held, code[r], reason ? " reason=" : "",
	    reason ? reason : "");
	odmr_reply(ss, r);
	atrnarg_free(&ss->atrn);
}

/* atrn_decide - the script's answer in order of atrn_asked: reply */
static void
atrn_decide(struct odmr_session *ss, struct rr_reply *r)
{
	char	*ok[ATRN_MAX_DOMAINS];
	long long held = 0;
	size_t	i, nok = 0;
	enum odmr_turn_result tr;

	for (i = 0; i < ss->atrn_nasked; i++) {
		const char *d = ss->atrn.v[ss->atrn_asked[i]];
		const char *users = r->elems[2 * i];
		const char *count = r->elems[2 * i + 1];

		if (users == NULL || count == NULL ||
		    !strv_listed(users, ss->user)) {
			log_info("%s: client=%s atrn user=%s domain=%s left "
			    "out: not in its sasl_users", ss->id, ss->addr,
			    ss->user, d);
			continue;
		}
		ok[nok++] = ss->atrn.v[ss->atrn_asked[i]];
		held += strtoll(count, NULL, 10);
	}
	if (nok == 0)
		atrn_finish(ss, OR_ATRN_REFUSED, 0, 0, "no domain authorized");
	else if (held == 0)
		atrn_finish(ss, OR_ATRN_NOMAIL, nok, 0, NULL);
	else if ((tr = odmr_turn(ss, ss->user, ok, nok, held)) ==
	    ODMR_TURN_STARTED) {
		log_info("%s: client=%s atrn user=%s domains=%zu/%zu held=%lld "
		    "result=250", ss->id, ss->addr, ss->user, nok, ss->atrn.n,
		    held);
		atrnarg_free(&ss->atrn);
	} else if (tr == ODMR_TURN_BUSY)
		atrn_finish(ss, OR_ATRN_BUSY, nok, held,
		    "a domain is in another session's turn");
	else
		atrn_finish(ss, OR_ATRN_NOT_YET, nok, held,
		    "no odmr_socketmap: no turn");
}

/* atrn_reply_cb - the script's answer */
static void
atrn_reply_cb(struct rr_reply *r, void *arg)
{
	struct odmr_session *ss = arg;

	if (!ls_unbusy(ss->c))
		return;
	if (r->status != RR_OK || r->type != RRT_ARRAY ||
	    r->nelem != 2 * ss->atrn_nasked) {
		log_warnx("%s: redis: %s", ss->id, r->str ? r->str :
		    "unexpected reply");
		atrn_finish(ss, OR_ATRN_TEMP, 0, 0, "redis");
	} else
		atrn_decide(ss, r);
	ls_resume(ss->c);
}

/* atrn_ask - the script for the domains with a dial-up entry; -1: none */
static int
atrn_ask(struct odmr_session *ss)
{
	struct listener *l = ss->l;
	struct buf k[2 * ATRN_MAX_DOMAINS];
	struct rargs av = RARGS_INIT;
	const struct dom_entry *e;
	size_t	i, nk = 0;
	int	rc = -1;

	ss->atrn_nasked = 0;
	for (i = 0; i < ss->atrn.n; i++) {
		if ((e = domlist_match(&l->dw.domains, ss->atrn.v[i])) ==
		    NULL) {
			log_info("%s: client=%s atrn user=%s domain=%s left "
			    "out: not a dial-up domain", ss->id, ss->addr,
			    ss->user, ss->atrn.v[i]);
			continue;
		}
		buf_init(&k[nk]);
		buf_init(&k[nk + 1]);
		rkey_domain(&k[nk], e->name);
		rkey_held(&k[nk + 1], ss->atrn.v[i]);
		rargs_buf(&av, &k[nk]);
		rargs_buf(&av, &k[nk + 1]);
		nk += 2;
		ss->atrn_asked[ss->atrn_nasked++] = i;
	}
	if (nk > 0)
		rc = ra_script(l->redis, &atrn_script, atrn_reply_cb, ss,
		    (int)nk, av.n, av.v, av.l) < 0 ? -2 : 0;
	for (i = 0; i < nk; i++)
		buf_free(&k[i]);
	rargs_free(&av);
	return rc;
}

/* atrn_command - "ATRN domain[,domain...]" */
void
atrn_command(struct odmr_session *ss, const char *arg)
{
	enum atrn_syntax syn;
	int	rc;

	atrnarg_free(&ss->atrn);
	if (ss->user == NULL) {
		ss->errors++;
		atrn_finish(ss, OR_NEED_AUTH, 0, 0, "no AUTH");
		return;
	}
	if ((syn = atrnarg_parse(arg, &ss->atrn)) != ATRN_ARG_OK) {
		ss->errors++;
		atrn_finish(ss, OR_ATRN_SYNTAX, 0, 0, atrnarg_why(syn));
		return;
	}
	if (!ss->l->dw.loaded || !ra_connected(ss->l->redis)) {
		atrn_finish(ss, OR_ATRN_TEMP, 0, 0, "redis");
		return;
	}
	if ((rc = atrn_ask(ss)) == -1)
		atrn_finish(ss, OR_ATRN_REFUSED, 0, 0, "no dial-up domain");
	else if (rc < 0)
		atrn_finish(ss, OR_ATRN_TEMP, 0, 0, "redis");
	else
		ls_busy(ss->c);
}
