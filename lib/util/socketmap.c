/*
 * NAME
 *	socketmap - the netstrings of Postfix's socketmap protocol
 * SUMMARY
 *	switch (socketmap_parse(in, len, &req)) { ... }
 *	socketmap_reply(&out, "OK", value);
 * DESCRIPTION
 *	socketmap_table(5): a request is the netstring of "name key", a
 *	reply the netstring of "OK value", "NOTFOUND ", "TEMP reason",
 *	"TIMEOUT reason" or "PERM reason".  A netstring is the payload's
 *	length in decimal, ":", the payload and ",".
 *
 *	socketmap_parse() reads one request from the start of the input:
 *	SOCKETMAP_MORE until it is complete, then SOCKETMAP_OK with the
 *	name and the key split at the first space and the number of octets
 *	taken.  socketmap_reply() appends one reply.
 * SECURITY
 *	The length has at most four digits and no leading zero, and the
 *	payload at most SOCKETMAP_MAX - 1 octets: anything longer, a
 *	missing ":" or ",", a NUL, CR or LF in the payload, an empty name
 *	or key, a name longer than SOCKETMAP_NAME_MAX - 1 is
 *	SOCKETMAP_BAD, and the caller closes the connection (the protocol
 *	has no way to skip a bad request).  Nothing is read past len.
 * DIAGNOSTICS
 *	None: the result says it.
 */
#include "config.h"

#include <string.h>

#include "util/socketmap.h"

/* sm_length - the length prefix: digits, -1 bad, -2 incomplete */
static long
sm_length(const char *in, size_t len, size_t *digits)
{
	long	n = 0;
	size_t	i;

	for (i = 0; i < len && in[i] >= '0' && in[i] <= '9'; i++) {
		if (i == 4 || (i == 1 && in[0] == '0'))
			return -1;
		n = n * 10 + (in[i] - '0');
	}
	if (i == len)
		return i <= 4 ? -2 : -1;
	if (i == 0 || in[i] != ':')
		return -1;
	*digits = i;
	return n;
}

/* socketmap_parse - one request at the start of in[0..len) */
enum socketmap_parse
socketmap_parse(const char *in, size_t len, struct socketmap_req *req)
{
	const char *p, *sp;
	size_t	digits = 0, nlen;
	long	n;

	if ((n = sm_length(in, len, &digits)) == -1 ||
	    n >= SOCKETMAP_MAX)
		return SOCKETMAP_BAD;
	if (n == -2)
		return SOCKETMAP_MORE;
	if (len < digits + 1 + (size_t)n + 1)
		return SOCKETMAP_MORE;
	p = in + digits + 1;
	if (p[n] != ',' || memchr(p, '\0', (size_t)n) != NULL ||
	    memchr(p, '\r', (size_t)n) != NULL ||
	    memchr(p, '\n', (size_t)n) != NULL)
		return SOCKETMAP_BAD;
	if ((sp = memchr(p, ' ', (size_t)n)) == NULL)
		return SOCKETMAP_BAD;
	nlen = (size_t)(sp - p);
	if (nlen == 0 || nlen >= SOCKETMAP_NAME_MAX ||
	    (size_t)n - nlen - 1 == 0)
		return SOCKETMAP_BAD;
	memcpy(req->name, p, nlen);
	req->name[nlen] = '\0';
	memcpy(req->key, sp + 1, (size_t)n - nlen - 1);
	req->key[(size_t)n - nlen - 1] = '\0';
	req->used = digits + 1 + (size_t)n + 1;
	return SOCKETMAP_OK;
}

/* socketmap_reply - append the netstring of "status value" to out */
void
socketmap_reply(struct buf *out, const char *status, const char *value)
{
	buf_printf(out, "%zu:%s %s,", strlen(status) + 1 + strlen(value),
	    status, value);
}
