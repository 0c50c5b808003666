/*
 * NAME
 *	decide - etrn-policy's decisions and the words of its answers (pure)
 * DESCRIPTION
 *	decide_etrn() turns the address check of one domain (etrnauth.c,
 *	shared with etrnd) and its entry's sasl_users into OK or 459: a
 *	client is authorized for a dial-up domain by its address or by the
 *	SASL login it authenticated with.  decide_quota() refuses a
 *	recipient while the domain's held mail has reached max_messages or
 *	max_bytes (or would pass max_bytes with the message's declared
 *	SIZE=).
 *
 *	decide_action() is the one place that words the answers: every
 *	"action=" line etrn-policy sends comes from its table.  Every ETRN
 *	refusal has the same words; its reason goes to the log only.
 * SECURITY
 *	Reasons quote only normalised domains, client addresses and
 *	numbers; never raw attribute values.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "mail/settings.h"
#include "policy/decide.h"
#include "util/strv.h"

static const struct {
	const char *code;	/* the first word of the action */
	const char *text;	/* NULL: none; else before the reason */
	int	reason;		/* the reason follows the text */
} pol_actions[] = {
	[POL_OK] = { "OK", NULL, 0 },
	[POL_DUNNO] = { "DUNNO", NULL, 0 },
	/* One text for every refusal: the reason is logged only. */
	[POL_ETRN_DENIED] = { "459", "4.7.1 ETRN not allowed here", 0 },
	[POL_ETRN_RATE] = { "458", "4.7.1 Too many ETRN requests, try again "
	    "later", 0 },
	[POL_ETRN_DOWN] = { "458", "4.3.0 Unable to queue messages, try "
	    "again later", 0 },
	[POL_QUOTA] = { "452", "4.2.2 ", 1 },
	[POL_RCPT_DOWN_DEFER_IF_PERMIT] = { "DEFER_IF_PERMIT", "4.3.0 Held "
	    "mail quota cannot be checked, try again later", 0 },
	[POL_RCPT_DOWN_DEFER] = { "DEFER", "4.3.0 Held mail quota cannot be "
	    "checked, try again later", 0 },
};

/* decide_action - the answer: "action=CODE text\n\n" */
void
decide_action(struct buf *out, enum pol_action a, const char *reason)
{
	buf_printf(out, "action=%s", pol_actions[a].code);
	if (pol_actions[a].text != NULL)
		buf_printf(out, " %s%s", pol_actions[a].text,
		    pol_actions[a].reason && reason ? reason : "");
	buf_cat(out, "\n\n");
}

/* decide_action_code - the first word, for log lines */
const char *
decide_action_code(enum pol_action a)
{
	return pol_actions[a].code;
}

/* decide_etrn - OK (authorized by address or SASL login) or 459 */
enum pol_action
decide_etrn(enum etrn_outcome by_addr, const char *sasl_users,
    const char *sasl_user, struct buf *reason)
{
	if (by_addr == ETRN_STARTED)
		return POL_OK;
	if (strv_listed(sasl_users, sasl_user)) {
		buf_reset(reason);
		return POL_OK;
	}
	return POL_ETRN_DENIED;
}

/* decide_quota - DUNNO, or 452 while the held mail is at its limit */
enum pol_action
decide_quota(const struct quota *q, const char *domain, struct buf *reason)
{
	if (q->max_messages > 0 && q->held >= q->max_messages) {
		buf_printf(reason, "Held mail for %s is over its quota: %lld "
		    "message%s, limit %lld", domain, q->held, q->held == 1 ?
		    "" : "s", q->max_messages);
		return POL_QUOTA;
	}
	if (q->max_bytes > 0 && (q->bytes >= q->max_bytes ||
	    (q->size > 0 && q->size > q->max_bytes - q->bytes))) {
		buf_printf(reason, "Held mail for %s is over its quota: %lld "
		    "bytes%s, limit %lld", domain, q->bytes, q->size > 0 ?
		    " and this message" : "", q->max_bytes);
		return POL_QUOTA;
	}
	return POL_DUNNO;
}

/*
 * decide_limit - a per-domain limit (field key) from Redis: dflt when
 * missing or empty; -1 (and dflt) with the reason in *why when it does
 * not parse or is out of the file setting's bounds.
 */
int
decide_limit(const char *key, const char *v, long long dflt, long long *out,
    struct buf *why)
{
	long long n;

	*out = dflt;
	if (v == NULL || *v == '\0')
		return 0;
	if (settings_domain_value(key, v, &n, why) < 0)
		return -1;
	*out = n;
	return 0;
}
