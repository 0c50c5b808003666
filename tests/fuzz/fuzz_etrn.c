/*
 * NAME
 *	fuzz_etrn - libFuzzer target: the ETRN argument and its authorization
 * DESCRIPTION
 *	The input is "ARGUMENT\nCLIENT\n...": the argument as etrnd's session
 *	hands it over (no NUL, no line end), and a client address.  Runs
 *	etrnauth_parse(), the reply for every outcome, etrnauth_authorize()
 *	against a fixed dial-up list, and the rate-limit table, and checks:
 *	- a parsed request keeps the argument as typed, its @/# form, and
 *	  a domain in canonical host name syntax (lowercase, no trailing
 *	  dot, at most 253 octets) that normalises to itself;
 *	- an ASCII host name (any case, one trailing dot) is accepted;
 *	- what the reply echoes holds no control character or blank, and
 *	  each reply is one line ending in CRLF with its RFC 1985 code;
 *	- authorization only names domains the request covers (the domain,
 *	  or for "@domain" a held domain below it), each governed by an
 *	  entry whose list has the client; a refusal has a reason and
 *	  names nothing;
 *	- the rate limit lets exactly `limit` ETRNs per client and minute
 *	  through, whatever the address looks like.
 */
#include "config.h"

#include <ctype.h>
#include <string.h>

#include "fuzz.h"
#include "mail/domain.h"
#include "mail/etrnauth.h"
#include "mail/replies.h"
#include "util/cidr.h"

#define DEFAULT_ALLOW	"198.51.100.7, 2001:db8::/32"

static const struct {
	const char *name;
	const char *allow;		/* NULL: DEFAULT_ALLOW */
} dialup[] = {
	{ "dialup.test", "192.0.2.0/24" },
	{ ".parent.test", NULL },
	{ "deep.parent.test", "203.0.113.9" },
	{ "xn--bcher-kva.test", "::1" },
	{ ".nobody.test", "" },
};

/* ascii_hostname - is s, less one trailing dot, host name syntax */
static int
ascii_hostname(const char *s)
{
	char	tmp[300];
	size_t	n = strlen(s);

	if (n == 0 || n >= sizeof(tmp))
		return 0;
	memcpy(tmp, s, n + 1);
	if (tmp[n - 1] == '.')
		tmp[--n] = '\0';
	return dom_valid_hostname(tmp);
}

/* check_reply - one CRLF-terminated line with the outcome's code */
static void
check_reply(enum etrn_outcome o, const char *node)
{
	static const char *const code[] = { "253", "251", "250", "458",
		"458", "459", "501" };
	struct buf b = BUF_INIT;
	size_t	i;

	reply_etrn(&b, o, node, 3);
	FUZZ_CHECK(b.len >= 6 && strncmp(b.s, code[o], 3) == 0 &&
	    b.s[3] == ' ');
	FUZZ_CHECK(b.s[b.len - 2] == '\r' && b.s[b.len - 1] == '\n');
	for (i = 0; i < b.len - 2; i++)
		FUZZ_CHECK(b.s[i] != '\r' && b.s[i] != '\n' && b.s[i] != '\0');
	FUZZ_CHECK(b.len <= 512);	/* RFC 5321 reply line */
	buf_free(&b);
}

/* check_parsed - what the callers of etrnauth_parse() rely on */
static void
check_parsed(const char *arg, const struct etrn_req *r)
{
	struct buf again = BUF_INIT;
	const unsigned char *p;
	const char *d = arg + (arg[0] == '@' || arg[0] == '#');

	FUZZ_CHECK(strcmp(r->node, arg) == 0);
	FUZZ_CHECK(r->sub == (arg[0] == '@') && r->queue == (arg[0] == '#'));
	FUZZ_CHECK(dom_valid_hostname(r->domain));
	FUZZ_CHECK(strlen(r->domain) <= DOM_MAX_LEN);
	for (p = (const unsigned char *)r->domain; *p; p++)
		FUZZ_CHECK(!isupper(*p));
	FUZZ_CHECK(dom_normalize(r->domain, &again, NULL) == 0 &&
	    strcmp(again.s, r->domain) == 0);
	/* the node is echoed in the reply and the log line */
	for (p = (const unsigned char *)r->node; *p; p++)
		FUZZ_CHECK(*p > ' ' && *p != 127);
	/* an ASCII name is only lowercased and loses one trailing dot */
	if (ascii_hostname(d))
		FUZZ_CHECK(strncasecmp(r->domain, d, strlen(r->domain)) == 0);
	buf_free(&again);
}

/* check_one - d is covered by r and its governing entry lists client */
static void
check_one(const struct domlist *dl, const struct etrn_req *r, const char *d,
    const char *client)
{
	const struct dom_entry *e = domlist_match(dl, d);
	struct buf err = BUF_INIT;

	FUZZ_CHECK(strcmp(d, r->domain) == 0 || (r->sub &&
	    etrnauth_below(r->domain, d)));
	FUZZ_CHECK(e != NULL);
	FUZZ_CHECK(cidr_match_list(e->allow ? e->allow : DEFAULT_ALLOW,
	    client, &err) > 0);
	buf_free(&err);
}

/* check_authorize - yes only for domains whose own entry lists client */
static void
check_authorize(const struct domlist *dl, const struct etrn_req *r,
    const char *client)
{
	static const char *const held[] = { "x.dialup.test", "a.parent.test",
		"x.deep.parent.test", "a.nobody.test", "dialup.test.evil" };
	struct buf reason = BUF_INIT;
	struct etrn_auth a;
	char	*below[8];
	enum etrn_outcome o;
	size_t	i;

	for (i = 0; i < sizeof(held) / sizeof(held[0]); i++)
		below[i] = (char *)held[i];
	etrnauth_init(&a);
	o = etrnauth_authorize(dl, DEFAULT_ALLOW, r, below, i, client, &a,
	    &reason);
	FUZZ_CHECK(o == ETRN_STARTED || o == ETRN_NOT_ALLOWED);
	if (o == ETRN_NOT_ALLOWED)
		FUZZ_CHECK(reason.len > 0 && a.nok == 0);
	else
		FUZZ_CHECK(reason.len == 0);
	for (i = 0; i < a.nok; i++)
		check_one(dl, r, a.ok[i], client);
	etrnauth_free(&a);
	buf_free(&reason);
}

/* check_rate - exactly limit ETRNs per minute, then a fresh minute */
static void
check_rate(const char *client)
{
	struct rate_entry *tab[RATE_BUCKETS];
	long long now = 1790000000;
	int	i;

	memset(tab, 0, sizeof(tab));
	for (i = 0; i < 3; i++)
		FUZZ_CHECK(etrnauth_rate_allow(tab, client, 32, 64, now,
		    3) == 1);
	FUZZ_CHECK(etrnauth_rate_allow(tab, client, 32, 64, now + 1, 3) == 0);
	FUZZ_CHECK(etrnauth_rate_allow(tab, client, 32, 64, now + 60, 3) == 1);
	etrnauth_rate_purge(tab, now + 600);
	for (i = 0; i < RATE_BUCKETS; i++)
		FUZZ_CHECK(tab[i] == NULL);
}

/* field - the bytes up to LF or NUL, as a string */
static char *
field(const uint8_t **p, const uint8_t *end)
{
	const uint8_t *s = *p;
	char	*f;
	size_t	n;

	for (n = 0; s + n < end && s[n] != '\n' && s[n] != '\0'; n++)
		;
	if ((f = malloc(n + 1)) == NULL)
		abort();
	memcpy(f, s, n);
	f[n] = '\0';
	*p = s + n < end ? s + n + 1 : end;
	return f;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *p = data, *end = data + size;
	struct domlist dl;
	struct etrn_req r;
	char	*arg, *client;
	size_t	i;
	int	o;

	arg = field(&p, end);
	client = field(&p, end);
	domlist_init(&dl);
	for (i = 0; i < sizeof(dialup) / sizeof(dialup[0]); i++) {
		FUZZ_CHECK(domlist_add(&dl, dialup[i].name, 0, -1, NULL) == 0);
		dl.v[dl.n - 1].allow = dialup[i].allow ?
		    strdup(dialup[i].allow) : NULL;
	}
	domlist_sort(&dl);

	if (etrnauth_parse(arg, &r) == 0) {
		check_parsed(arg, &r);
		for (o = ETRN_STARTED; o <= ETRN_NOT_ALLOWED; o++)
			check_reply(o, r.node);
		check_authorize(&dl, &r, client);
	} else {
		/* a syntax error is answered without the argument */
		FUZZ_CHECK(*arg == '\0' || strlen(arg) >= sizeof(r.node) ||
		    strpbrk(arg, " \t") != NULL ||
		    !ascii_hostname(arg + (arg[0] == '@' || arg[0] == '#')));
		check_reply(ETRN_SYNTAX, "-");
	}
	check_rate(client);
	domlist_free(&dl);
	free(arg);
	free(client);
	return 0;
}
