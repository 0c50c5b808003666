/*
 * NAME
 *	holdtag - the X-ETRN-Hold header, hold tokens, queue ID syntax
 * DESCRIPTION
 *	Every held message carries one header
 *	    X-ETRN-Hold: <domain>; host=<host>; token=<32 hex>;
 *	        arrived=<unix time>; expires=<unix time>
 *	The token is 128 random bits, also stored in the Redis record.  A
 *	queue file is deleted or bounced only when its header carries the
 *	record's token (queue IDs are reused), and `etrnctl reconcile`
 *	rebuilds the index from these headers.  The milter removes any such
 *	header a message arrives with, so the header cannot be forged.
 *
 *	qid_valid() accepts Postfix short and long queue IDs and Sendmail
 *	IDs: 5 to 32 letters and digits.  Nothing else (ALL, "-", options,
 *	paths) can reach postsuper or sendmail.
 */
#include "config.h"

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

#include "mail/domain.h"
#include "mail/holdtag.h"

/* qid_valid - queue ID syntax */
int
qid_valid(const char *qid)
{
	size_t	n;

	for (n = 0; qid[n]; n++)
		if (!isalnum((unsigned char)qid[n]) || n >= 32)
			return 0;
	return n >= 5;
}

/* hold_token_random - fill with random bytes */
static int
hold_token_random(unsigned char *p, size_t n)
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

/* hold_token_new - 32 lowercase hex digits */
int
hold_token_new(char *out, size_t size)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char raw[HOLD_TOKEN_LEN / 2];
	size_t	i;

	if (size < HOLD_TOKEN_LEN + 1 || hold_token_random(raw, sizeof(raw)) < 0)
		return -1;
	for (i = 0; i < sizeof(raw); i++) {
		out[2 * i] = hex[raw[i] >> 4];
		out[2 * i + 1] = hex[raw[i] & 15];
	}
	out[HOLD_TOKEN_LEN] = '\0';
	return 0;
}

/* holdtag_format - header value (without the name) */
void
holdtag_format(struct buf *b, const struct holdtag *t)
{
	buf_reset(b);
	buf_printf(b, "%s; host=%s; token=%s;\n\tarrived=%lld; expires=%lld",
	    t->domain, t->host, t->token, t->arrived, t->expires);
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
	return 0;	/* unknown fields are for later versions */
}

/* holdtag_parse - parse a header value; 0 when domain and token found */
int
holdtag_parse(const char *value, struct holdtag *t)
{
	const char *p = value, *end;
	size_t	len;
	int	first = 1;

	memset(t, 0, sizeof(*t));
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
				return -1;
			first = 0;
		} else if (holdtag_field(t, p, len) < 0)
			return -1;
		if (end == NULL)
			break;
		p = end + 1;
	}
	return t->domain[0] && t->token[0] ? 0 : -1;
}
