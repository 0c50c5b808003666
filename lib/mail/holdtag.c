/*
 * NAME
 *	holdtag - the X-ETRN-Hold header and hold tokens
 * DESCRIPTION
 *	Every held message carries one header
 *	    X-ETRN-Hold: <domain>; host=<host>; token=<32 hex>;
 *	        arrived=<unix time>; expires=<unix time>; size=<octets>;
 *	        mac=<64 hex>
 *	The token is 128 random bits, also stored in the Redis record.  A
 *	queue file is deleted or bounced only when its header carries the
 *	record's token (queue IDs are reused), and reconcile rebuilds the
 *	index from these headers.  size is the message's size as the milter
 *	counted it (the record's size, which byte quotas add up), so that a
 *	rebuilt record counts what the original did; a tag without size=
 *	(written before the field) still parses, with size -1.
 *
 *	mac is HMAC-SHA256, keyed with the installation's secret
 *	(hold_secret_file, holdtag_key_load()), over the fields in a fixed
 *	form: "openetrn-hold-v1", domain, host, token, arrived and expires
 *	in decimal, each ended by a NUL; a tag with size= is signed as
 *	"openetrn-hold-v2" with size after expires, so that size can be
 *	neither added to, altered in nor removed from a signed tag.  The
 *	milter removes any tag a
 *	message arrives with, but mail can reach the hold queue without the
 *	milter (the DSN service, a local submission, postsuper -h): only a
 *	tag whose MAC verifies was written by etrn-milter.  holdtag_parse()
 *	says which: HOLDTAG_OK (verified), HOLDTAG_UNSIGNED (a tag of a
 *	version before signing), HOLDTAG_FORGED (a MAC that does not
 *	verify, or no secret loaded), HOLDTAG_BAD; the fields are filled in
 *	for the first three, so that a caller can name what it ignores.
 *
 *	holdtag_derive() gives a name derived from a token that tells
 *	nothing about it: the first 128 bits of HMAC-SHA256(secret,
 *	"openetrn-" label NUL token), in hex.  DSN Message-IDs use it, so a
 *	DSN never shows the token to its recipient.
 * DIAGNOSTICS
 *	holdtag_key_load: -1 with the reason in err: the file missing or
 *	unreadable, not a regular file, in a directory another user can
 *	write, group- or world-writable, readable by others, owned by
 *	another user than root or the caller, shorter than 32 octets.
 * SECURITY
 *	The key is read once, at start, as root, before privileges are
 *	dropped; it lives in this module only.  MACs are compared in
 *	constant time.
 */
#include "config.h"

#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#ifdef HAVE_GETRANDOM
#include <sys/random.h>
#endif

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "mail/domain.h"
#include "mail/holdtag.h"
#include "util/safepath.h"

#define HOLDTAG_MAC_CONTEXT	"openetrn-hold-v1"	/* without size= */
#define HOLDTAG_MAC_CONTEXT2	"openetrn-hold-v2"	/* with size= */

static unsigned char holdtag_key[HOLDTAG_KEY_MAX];
static size_t holdtag_keylen;	/* 0: no key loaded */

/* holdtag_token_random - fill with random bytes */
static int
holdtag_token_random(unsigned char *p, size_t n)
{
	ssize_t	got;
	int	fd;

#ifdef HAVE_GETRANDOM
	while ((got = getrandom(p, n, 0)) < 0 && errno == EINTR)
		;
	if (got == (ssize_t)n)
		return 0;
#endif
	if ((fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	got = read(fd, p, n);
	close(fd);
	return got == (ssize_t)n ? 0 : -1;
}

/* holdtag_token_new - 32 lowercase hex digits */
int
holdtag_token_new(char *out, size_t size)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char raw[HOLD_TOKEN_LEN / 2];
	size_t	i;

	if (size < HOLD_TOKEN_LEN + 1 ||
	    holdtag_token_random(raw, sizeof(raw)) < 0)
		return -1;
	for (i = 0; i < sizeof(raw); i++) {
		out[2 * i] = hex[raw[i] >> 4];
		out[2 * i + 1] = hex[raw[i] & 15];
	}
	out[HOLD_TOKEN_LEN] = '\0';
	return 0;
}

/* holdtag_key_set - use this key (tests; holdtag_key_load otherwise) */
void
holdtag_key_set(const void *key, size_t len)
{
	if (len > sizeof(holdtag_key))
		len = sizeof(holdtag_key);
	memcpy(holdtag_key, key, len);
	holdtag_keylen = len;
}

/* holdtag_key_loaded - is there a key */
int
holdtag_key_loaded(void)
{
	return holdtag_keylen > 0;
}

/* holdtag_key_check - the secret file's owner, mode and type */
static int
holdtag_key_check(const char *path, const struct stat *st, struct buf *err)
{
	if (!S_ISREG(st->st_mode))
		buf_printf(err, "%s: not a regular file", path);
	else if (st->st_mode & 022)
		buf_printf(err, "%s: group- or world-writable (mode %04o)",
		    path, (unsigned)(st->st_mode & 07777));
	else if (st->st_mode & 007)
		buf_printf(err, "%s: readable by others (mode %04o): make it "
		    "0640 root:<user's group>", path,
		    (unsigned)(st->st_mode & 07777));
	else if (st->st_uid != 0 && st->st_uid != geteuid())
		buf_printf(err, "%s: owned by uid %ld, not root", path,
		    (long)st->st_uid);
	else
		return 0;
	return -1;
}

/* holdtag_key_load - read hold_secret_file (see DIAGNOSTICS) */
int
holdtag_key_load(const char *path, struct buf *err)
{
	unsigned char tmp[HOLDTAG_KEY_MAX + 1];
	struct buf real = BUF_INIT;
	struct stat st;
	size_t	len = 0;
	ssize_t	n;
	int	fd = -1, rc = -1;

	if (safepath_resolve(path, &real, err) < 0)
		goto out;
	if ((fd = open(buf_terminate(&real), O_RDONLY | O_NOFOLLOW |
	    O_CLOEXEC | O_NOCTTY)) < 0) {
		buf_printf(err, "%s: %s", path, strerror(errno));
		goto out;
	}
	if (fstat(fd, &st) < 0) {
		buf_printf(err, "%s: %s", path, strerror(errno));
		goto out;
	}
	if (holdtag_key_check(path, &st, err) < 0)
		goto out;
	while (len < sizeof(tmp) && (n = read(fd, tmp + len,
	    sizeof(tmp) - len)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			buf_printf(err, "%s: %s", path, strerror(errno));
			goto out;
		}
		len += (size_t)n;
	}
	if (len < HOLDTAG_KEY_MIN || len > HOLDTAG_KEY_MAX)
		buf_printf(err, "%s: %zu octets; a secret has %d to %d", path,
		    len, HOLDTAG_KEY_MIN, HOLDTAG_KEY_MAX);
	else {
		holdtag_key_set(tmp, len);
		rc = 0;
	}
out:
	OPENSSL_cleanse(tmp, sizeof(tmp));
	if (fd >= 0)
		close(fd);
	buf_free(&real);
	return rc;
}

/* holdtag_hmac - HMAC-SHA256 of data with the key, in hex */
static void
holdtag_hmac(const struct buf *data, char *hex, size_t hexlen)
{
	static const char digits[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0, i;

	if (HMAC(EVP_sha256(), holdtag_key, (int)holdtag_keylen,
	    (const unsigned char *)data->s, data->len, md, &mdlen) == NULL)
		mdlen = 0;
	for (i = 0; i < mdlen && 2 * i + 2 < hexlen; i++) {
		hex[2 * i] = digits[md[i] >> 4];
		hex[2 * i + 1] = digits[md[i] & 15];
	}
	hex[2 * i] = '\0';
}

/* holdtag_mac - the tag's MAC in hex (HOLDTAG_MAC_LEN + 1 octets) */
static void
holdtag_mac(const struct holdtag *t, char *hex)
{
	struct buf d = BUF_INIT;

	buf_printf(&d, "%s%c%s%c%s%c%s%c%lld%c%lld%c", t->size >= 0 ?
	    HOLDTAG_MAC_CONTEXT2 : HOLDTAG_MAC_CONTEXT, 0, t->domain, 0,
	    t->host, 0, t->token, 0, t->arrived, 0, t->expires, 0);
	if (t->size >= 0)
		buf_printf(&d, "%lld%c", t->size, 0);
	holdtag_hmac(&d, hex, HOLDTAG_MAC_LEN + 1);
	buf_free(&d);
}

/* holdtag_derive - a keyed name for a token: 32 hex digits */
void
holdtag_derive(const char *label, const char *token, char *out,
    size_t size)
{
	char	hex[HOLDTAG_MAC_LEN + 1];
	struct buf d = BUF_INIT;

	buf_printf(&d, "openetrn-%s%c%s", label, 0, token ? token : "");
	holdtag_hmac(&d, hex, sizeof(hex));
	snprintf(out, size, "%.32s", hex);
	buf_free(&d);
}

/* holdtag_format - header value (without the name), signed */
void
holdtag_format(struct buf *b, const struct holdtag *t)
{
	char	mac[HOLDTAG_MAC_LEN + 1], size[32] = "";

	holdtag_mac(t, mac);
	if (t->size >= 0)
		snprintf(size, sizeof(size), " size=%lld;", t->size);
	buf_reset(b);
	buf_printf(b, "%s; host=%s; token=%s;\n\tarrived=%lld; expires=%lld;"
	    "%s\n\tmac=%s", t->domain, t->host, t->token, t->arrived,
	    t->expires, size, mac);
}

/* holdtag_status_name - for log lines */
const char *
holdtag_status_name(int st)
{
	switch (st) {
	case HOLDTAG_OK:
		return "signed";
	case HOLDTAG_UNSIGNED:
		return "unsigned";
	case HOLDTAG_FORGED:
		return "forged (its MAC does not verify)";
	default:
		return "malformed";
	}
}

/* holdtag_copy - copy a field value, refusing overlong ones */
static int
holdtag_copy(char *dst, size_t size, const char *v, size_t len)
{
	if (len == 0 || len >= size)
		return -1;
	memcpy(dst, v, len);
	dst[len] = '\0';
	return 0;
}

/* holdtag_number - unsigned decimal field */
static int
holdtag_number(const char *v, size_t len, long long *out)
{
	long long n = 0;
	size_t	i;

	if (len == 0 || len > 18)
		return -1;
	for (i = 0; i < len; i++) {
		if (!isdigit((unsigned char)v[i]))
			return -1;
		n = n * 10 + (v[i] - '0');
	}
	*out = n;
	return 0;
}

/* holdtag_field - one "name=value" item */
static int
holdtag_field(struct holdtag *t, const char *item, size_t len)
{
	const char *eq = memchr(item, '=', len);
	size_t	nlen, vlen;
	const char *v;

	if (eq == NULL)
		return -1;
	nlen = (size_t)(eq - item);
	v = eq + 1;
	vlen = len - nlen - 1;
	if (nlen == 4 && strncmp(item, "host", 4) == 0)
		return holdtag_copy(t->host, sizeof(t->host), v, vlen);
	if (nlen == 5 && strncmp(item, "token", 5) == 0) {
		if (vlen != HOLD_TOKEN_LEN || strspn(v, "0123456789abcdef") <
		    HOLD_TOKEN_LEN)
			return -1;
		return holdtag_copy(t->token, sizeof(t->token), v, vlen);
	}
	if (nlen == 7 && strncmp(item, "arrived", 7) == 0)
		return holdtag_number(v, vlen, &t->arrived);
	if (nlen == 7 && strncmp(item, "expires", 7) == 0)
		return holdtag_number(v, vlen, &t->expires);
	if (nlen == 4 && strncmp(item, "size", 4) == 0)
		return holdtag_number(v, vlen, &t->size);
	if (nlen == 3 && strncmp(item, "mac", 3) == 0) {
		if (vlen != HOLDTAG_MAC_LEN || strspn(v, "0123456789abcdef") <
		    HOLDTAG_MAC_LEN)
			return -1;
		return holdtag_copy(t->mac, sizeof(t->mac), v, vlen);
	}
	return 0;	/* unknown fields are for later versions */
}

/* holdtag_verify - HOLDTAG_OK, _UNSIGNED or _FORGED */
static int
holdtag_verify(const struct holdtag *t)
{
	char	want[HOLDTAG_MAC_LEN + 1];

	if (t->mac[0] == '\0')
		return HOLDTAG_UNSIGNED;
	if (holdtag_keylen == 0)
		return HOLDTAG_FORGED;	/* nothing can be verified */
	holdtag_mac(t, want);
	return CRYPTO_memcmp(want, t->mac, HOLDTAG_MAC_LEN) == 0 ?
	    HOLDTAG_OK : HOLDTAG_FORGED;
}

/* holdtag_parse - parse and verify a header value (see DESCRIPTION) */
int
holdtag_parse(const char *value, struct holdtag *t)
{
	const char *p = value, *end;
	size_t	len;
	int	first = 1;

	memset(t, 0, sizeof(*t));
	t->size = -1;
	while (*p) {
		while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
			p++;
		if (*p == '\0')
			break;
		end = strchr(p, ';');
		len = end ? (size_t)(end - p) : strlen(p);
		while (len > 0 && isspace((unsigned char)p[len - 1]))
			len--;
		if (first) {
			if (holdtag_copy(t->domain, sizeof(t->domain), p,
			    len) < 0 || !dom_valid_hostname(t->domain))
				return HOLDTAG_BAD;
			first = 0;
		} else if (holdtag_field(t, p, len) < 0)
			return HOLDTAG_BAD;
		if (end == NULL)
			break;
		p = end + 1;
	}
	if (t->domain[0] == '\0' || t->token[0] == '\0')
		return HOLDTAG_BAD;
	return holdtag_verify(t);
}
