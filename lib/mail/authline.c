/*
 * NAME
 *	authline - the lines of an AUTH exchange (RFC 4954) before SASL
 * SUMMARY
 *	if (authline_parse("CRAM-MD5", &a) != AUTHLINE_OK) 501;
 *	authline_decode(a.initial, out, sizeof(out), &len);
 *	authline_response(line, out, sizeof(out), &len);
 * DESCRIPTION
 *	authline_parse() splits the argument of AUTH into the mechanism
 *	and the initial response.  The mechanism must have RFC 4422's
 *	syntax (1 to 20 letters, digits, "-" and "_"; either case, as
 *	clients send it); blanks separate it from the response, which is
 *	kept as typed (the caller has cut trailing blanks).
 *
 *	authline_decode() decodes a base64 response into out, NUL
 *	terminated: groups of four characters of the base64 alphabet, "="
 *	padding only at the end (the bits under padding are ignored, as
 *	Cyrus SASL's sasl_decode64() does).  "" and the initial response
 *	"=" are the empty response.
 *
 *	authline_response() is a line within an exchange: "*" cancels it,
 *	anything else is decoded.
 * SECURITY
 *	Pure functions over a NUL-terminated line: nothing is written past
 *	out[size - 1], nothing is read past the NUL, whatever the input.
 *	The mechanism that leaves is printable ASCII of its syntax.  A
 *	libFuzzer target (tests/fuzz/fuzz_auth.c) checks them against
 *	Cyrus SASL's decoder.
 * DIAGNOSTICS
 *	An enum authline_status; out and the length are set only with
 *	AUTHLINE_OK.
 */
#include "config.h"

#include <string.h>

#include "mail/authline.h"

/* authline_mechchar - a character of RFC 4422's sasl-mech, any case */
static int
authline_mechchar(int c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || c == '-' || c == '_';
}

/* authline_parse - "mechanism [initial-response]" into a */
enum authline_status
authline_parse(const char *arg, struct authline *a)
{
	size_t	n = strcspn(arg, " \t");
	size_t	i;

	a->mech[0] = '\0';
	a->initial = NULL;
	if (n == 0 || n > AUTHLINE_MECH_MAX)
		return AUTHLINE_SYNTAX;
	for (i = 0; i < n; i++)
		if (!authline_mechchar((unsigned char)arg[i]))
			return AUTHLINE_SYNTAX;
	memcpy(a->mech, arg, n);
	a->mech[n] = '\0';
	arg += n;
	arg += strspn(arg, " \t");
	if (*arg != '\0')
		a->initial = arg;
	return AUTHLINE_OK;
}

/* authline_b64 - the value of a base64 character; -1: not one */
static int
authline_b64(int c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* authline_decode - base64 into out (size octets with the NUL) */
enum authline_status
authline_decode(const char *in, char *out, size_t size, size_t *len)
{
	size_t	inlen = strlen(in), n = 0, i, k, pad;
	int	v[4];

	if (strcmp(in, "=") == 0)	/* an empty initial response */
		inlen = 0;
	if (inlen % 4 != 0 || size == 0)
		return AUTHLINE_B64;
	for (i = 0; i < inlen; i += 4) {
		pad = in[i + 3] == '=' ? (in[i + 2] == '=' ? 2 : 1) : 0;
		if (pad > 0 && i + 4 != inlen)
			return AUTHLINE_B64;	/* nothing after "=" */
		for (k = 0; k < 4; k++)
			if ((v[k] = k >= 4 - pad ? 0 :
			    authline_b64((unsigned char)in[i + k])) < 0)
				return AUTHLINE_B64;
		if (n + 3 - pad >= size)
			return AUTHLINE_B64;	/* too long for out */
		out[n++] = (char)(v[0] << 2 | v[1] >> 4);
		if (pad < 2)
			out[n++] = (char)((v[1] & 0xf) << 4 | v[2] >> 2);
		if (pad < 1)
			out[n++] = (char)((v[2] & 0x3) << 6 | v[3]);
	}
	out[n] = '\0';
	*len = n;
	return AUTHLINE_OK;
}

/* authline_response - a line within an exchange: "*" or base64 */
enum authline_status
authline_response(const char *line, char *out, size_t size, size_t *len)
{
	if (strcmp(line, "*") == 0)
		return AUTHLINE_CANCEL;
	return authline_decode(line, out, size, len);
}
