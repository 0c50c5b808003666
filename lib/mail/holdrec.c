/*
 * NAME
 *	holdrec - decode a hold record read back from Redis
 * SUMMARY
 *	st = holdrec_decode(&hgetall_reply, &rec, &why);
 * DESCRIPTION
 *	A hold record (docs/redis-keys.md, field names in rkeys.h) comes
 *	back from Redis as an HGETALL reply: field, value, field, value.
 *	holdrec_decode() is the one place that turns such a reply into a
 *	struct holdrec, and it trusts nothing: Redis is shared, and a
 *	record can be damaged by hand, by another program or by a bug.
 *	It checks that the reply is pairs of strings without NUL octets,
 *	that the state is one of pending, held, released, expiring, that
 *	the domain is a hostname, the token 32 lowercase hex digits, the
 *	times and the size decimal numbers (no sign, no spaces, no
 *	overflow), a DSN state one of sending, queued, sent, none, and a
 *	DSN queue ID a queue ID.  Fields it does not know are ignored; of
 *	a field given twice the first counts, as with a hash.
 * DIAGNOSTICS
 *	HOLDREC_OK, HOLDREC_NONE for an empty reply (no such key), or
 *	HOLDREC_BAD with *why (when why is not NULL) set to a static text
 *	that names the first field found wrong.
 */
#include "config.h"

#include <ctype.h>
#include <stddef.h>
#include <string.h>

#include "mail/domain.h"
#include "mail/holdrec.h"
#include "mail/holdtag.h"
#include "mail/qid.h"
#include "mail/rkeys.h"

#define HOLDREC_MAX_NUM	((1LL << 53) - 1)	/* past any time or size */

/* What a field must look like. */
enum hr_kind { HK_ANY, HK_STATE, HK_DOMAIN, HK_TOKEN, HK_DSN, HK_QID,
	HK_NUM, HK_TIME };

static const struct hr_field {
	const char *name;
	size_t	off;		/* of the const char * in struct holdrec */
	enum hr_kind kind;
	int	need;		/* a record without it is not valid */
} hr_fields[] = {
	{ RF_STATE, offsetof(struct holdrec, state), HK_STATE, 1 },
	{ RF_DOMAIN, offsetof(struct holdrec, domain), HK_DOMAIN, 1 },
	{ RF_TOKEN, offsetof(struct holdrec, token), HK_TOKEN, 1 },
	{ RF_SENDER, offsetof(struct holdrec, sender), HK_ANY, 0 },
	{ RF_RCPTS, offsetof(struct holdrec, rcpts), HK_ANY, 0 },
	{ RF_RET, offsetof(struct holdrec, ret), HK_ANY, 0 },
	{ RF_ENVID, offsetof(struct holdrec, envid), HK_ANY, 0 },
	{ RF_HEADERS, offsetof(struct holdrec, headers), HK_ANY, 0 },
	{ RF_DSN_STATE, offsetof(struct holdrec, dsn_state), HK_DSN, 0 },
	{ RF_WARNED, offsetof(struct holdrec, warned), HK_DSN, 0 },
	{ RF_DSN_SINCE, offsetof(struct holdrec, dsn_since), HK_TIME, 0 },
	{ RF_DSN_QID, offsetof(struct holdrec, dsn_qid), HK_QID, 0 },
	{ RF_WARN_SINCE, offsetof(struct holdrec, warn_since), HK_TIME, 0 },
	{ RF_WARN_QID, offsetof(struct holdrec, warn_qid), HK_QID, 0 },
};

static const struct hr_number {
	const char *name;
	size_t	off;		/* of the long long in struct holdrec */
	int	need;
} hr_numbers[] = {
	{ RF_ARRIVED, offsetof(struct holdrec, arrived), 1 },
	{ RF_EXPIRES, offsetof(struct holdrec, expires), 1 },
	{ RF_SIZE, offsetof(struct holdrec, size), 0 },
};

/* holdrec_num - a decimal number up to HOLDREC_MAX_NUM, else -1 */
static long long
holdrec_num(const char *s)
{
	long long n = 0;

	if (*s == '\0')
		return -1;
	for (; *s; s++) {
		if (!isdigit((unsigned char)*s) || n > HOLDREC_MAX_NUM / 10)
			return -1;
		n = n * 10 + (*s - '0');
	}
	return n <= HOLDREC_MAX_NUM ? n : -1;
}

/* holdrec_token - HOLD_TOKEN_LEN lowercase hex digits */
static int
holdrec_token(const char *s)
{
	size_t	n;

	for (n = 0; s[n]; n++)
		if (!isdigit((unsigned char)s[n]) && (s[n] < 'a' || s[n] > 'f'))
			return 0;
	return n == HOLD_TOKEN_LEN;
}

/* holdrec_valid - does a present value have its field's form */
static int
holdrec_valid(enum hr_kind kind, const char *v)
{
	switch (kind) {
	case HK_STATE:
		return strcmp(v, RSTATE_PENDING) == 0 ||
		    strcmp(v, RSTATE_HELD) == 0 ||
		    strcmp(v, RSTATE_RELEASED) == 0 ||
		    strcmp(v, RSTATE_EXPIRING) == 0;
	case HK_DOMAIN:
		return dom_valid_hostname(v);
	case HK_TOKEN:
		return holdrec_token(v);
	case HK_DSN:
		return *v == '\0' || strcmp(v, "sending") == 0 ||
		    strcmp(v, "queued") == 0 || strcmp(v, "sent") == 0 ||
		    strcmp(v, "none") == 0;
	case HK_QID:
		return *v == '\0' || qid_valid(v);
	case HK_TIME:
		return *v == '\0' || holdrec_num(v) >= 0;
	default:
		return 1;
	}
}

/* holdrec_find - the value of the first field called name, or NULL */
static const char *
holdrec_find(const struct rr_reply *rep, const char *name)
{
	size_t	i;

	for (i = 0; i + 1 < rep->nelem; i += 2)
		if (strcmp(rep->elems[i], name) == 0)
			return rep->elems[i + 1];
	return NULL;
}

/* holdrec_decode - an HGETALL reply into hr: HOLDREC_OK, _NONE, _BAD */
int
holdrec_decode(const struct rr_reply *rep, struct holdrec *hr,
    const char **why)
{
	const char *dummy, *v;
	size_t	i;

	if (why == NULL)
		why = &dummy;
	*why = NULL;
	for (i = 0; i < sizeof(hr_fields) / sizeof(hr_fields[0]); i++)
		*(const char **)((char *)hr + hr_fields[i].off) = "";
	hr->arrived = hr->expires = hr->size = 0;
	if (rep->status != RR_OK || rep->type != RRT_ARRAY) {
		*why = "not a hash";
		return HOLDREC_BAD;
	}
	if (rep->nelem == 0)
		return HOLDREC_NONE;
	if (rep->nelem % 2 != 0) {
		*why = "a field without a value";
		return HOLDREC_BAD;
	}
	for (i = 0; i < rep->nelem; i++) {
		if (rep->elems[i] == NULL || strlen(rep->elems[i]) !=
		    rep->elen[i]) {
			*why = "a field that is not a string";
			return HOLDREC_BAD;
		}
	}
	for (i = 0; i < sizeof(hr_fields) / sizeof(hr_fields[0]); i++) {
		const struct hr_field *f = &hr_fields[i];

		if ((v = holdrec_find(rep, f->name)) == NULL) {
			if (f->need) {
				*why = f->name;
				return HOLDREC_BAD;
			}
			continue;
		}
		if (!holdrec_valid(f->kind, v)) {
			*why = f->name;
			return HOLDREC_BAD;
		}
		*(const char **)((char *)hr + f->off) = v;
	}
	for (i = 0; i < sizeof(hr_numbers) / sizeof(hr_numbers[0]); i++) {
		const struct hr_number *f = &hr_numbers[i];
		long long n = 0;

		if ((v = holdrec_find(rep, f->name)) == NULL) {
			if (f->need) {
				*why = f->name;
				return HOLDREC_BAD;
			}
		} else if ((n = holdrec_num(v)) < 0) {
			*why = f->name;
			return HOLDREC_BAD;
		}
		*(long long *)((char *)hr + f->off) = n;
	}
	return HOLDREC_OK;
}
