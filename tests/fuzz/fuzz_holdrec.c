/*
 * NAME
 *	fuzz_holdrec - libFuzzer target: hold records read back from Redis
 * DESCRIPTION
 *	The input is an HGETALL reply: elements separated by LF, an element
 *	that is the single octet 0x01 a nil, other octets (NUL included)
 *	kept as they are; at most 256 elements.  It goes through
 *	holdrec_decode() (lib/mail/holdrec.c), the one place a hold record
 *	is read back.  Checks:
 *	- no elements is HOLDREC_NONE, with every field "";
 *	- a refusal names why;
 *	- an accepted record has pairs of strings without NUL, a known
 *	  state, a hostname, a 32-digit lowercase hex token, times and size
 *	  not negative, a DSN state and queue ID of the allowed forms, and
 *	  each field the value of the first element pair of its name.
 */
#include "config.h"

#include <ctype.h>
#include <string.h>

#include "fuzz.h"
#include "mail/domain.h"
#include "mail/holdrec.h"
#include "mail/holdtag.h"
#include "mail/qid.h"
#include "util/xalloc.h"

#define MAX_ELEMS	256

/* first - the first value of field name in the reply, or "" */
static const char *
first(const struct rr_reply *rep, const char *name)
{
	size_t	i;

	for (i = 0; i + 1 < rep->nelem; i += 2)
		if (strcmp(rep->elems[i], name) == 0)
			return rep->elems[i + 1];
	return "";
}

/* dsn_ok - "", sending, queued, sent or none */
static int
dsn_ok(const char *s)
{
	return *s == '\0' || strcmp(s, "sending") == 0 ||
	    strcmp(s, "queued") == 0 || strcmp(s, "sent") == 0 ||
	    strcmp(s, "none") == 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rr_reply rep;
	struct holdrec hr;
	const char *why = NULL;
	size_t	i, start, n;
	int	st;

	memset(&rep, 0, sizeof(rep));
	rep.type = RRT_ARRAY;
	rep.elems = xcalloc(MAX_ELEMS, sizeof(char *));
	rep.elen = xcalloc(MAX_ELEMS, sizeof(size_t));
	for (start = 0, i = 0; size > 0 && i <= size &&
	    rep.nelem < MAX_ELEMS; i++) {
		if (i < size && data[i] != '\n')
			continue;
		n = i - start;
		if (n == 1 && data[start] == 1) {
			rep.elems[rep.nelem] = NULL;
		} else {
			rep.elems[rep.nelem] = xmalloc(n + 1);
			memcpy(rep.elems[rep.nelem], data + start, n);
			rep.elems[rep.nelem][n] = '\0';
			rep.elen[rep.nelem] = n;
		}
		rep.nelem++;
		start = i + 1;
	}

	st = holdrec_decode(&rep, &hr, &why);
	FUZZ_CHECK(st == HOLDREC_OK || st == HOLDREC_NONE ||
	    st == HOLDREC_BAD);
	FUZZ_CHECK((st == HOLDREC_NONE) == (rep.nelem == 0));
	FUZZ_CHECK(st != HOLDREC_BAD || (why != NULL && *why != '\0'));
	if (st == HOLDREC_NONE)
		FUZZ_CHECK(*hr.state == '\0' && *hr.domain == '\0' &&
		    hr.expires == 0);
	if (st == HOLDREC_OK) {
		FUZZ_CHECK(rep.nelem % 2 == 0);
		for (i = 0; i < rep.nelem; i++)
			FUZZ_CHECK(rep.elems[i] != NULL &&
			    strlen(rep.elems[i]) == rep.elen[i]);
		FUZZ_CHECK(strcmp(hr.state, "pending") == 0 ||
		    strcmp(hr.state, "held") == 0 ||
		    strcmp(hr.state, "released") == 0 ||
		    strcmp(hr.state, "expiring") == 0);
		FUZZ_CHECK(dom_valid_hostname(hr.domain));
		FUZZ_CHECK(strlen(hr.token) == HOLD_TOKEN_LEN);
		for (i = 0; hr.token[i]; i++)
			FUZZ_CHECK(isdigit((unsigned char)hr.token[i]) ||
			    (hr.token[i] >= 'a' && hr.token[i] <= 'f'));
		FUZZ_CHECK(hr.arrived >= 0 && hr.expires >= 0 &&
		    hr.size >= 0);
		FUZZ_CHECK(dsn_ok(hr.dsn_state) && dsn_ok(hr.warned));
		FUZZ_CHECK(*hr.dsn_qid == '\0' || qid_valid(hr.dsn_qid));
		FUZZ_CHECK(*hr.warn_qid == '\0' || qid_valid(hr.warn_qid));
		FUZZ_CHECK(strcmp(hr.state, first(&rep, "state")) == 0);
		FUZZ_CHECK(strcmp(hr.sender, first(&rep, "sender")) == 0);
		FUZZ_CHECK(strcmp(hr.headers, first(&rep, "headers")) == 0);
	}
	for (i = 0; i < rep.nelem; i++)
		free(rep.elems[i]);
	free(rep.elems);
	free(rep.elen);
	return 0;
}
