/*
 * NAME
 *	pattr - read Postfix policy requests from a byte stream (pure)
 * SUMMARY
 *	pattr_init(&p, max_line, max_attrs);
 *	st = pattr_feed(&p, data, len, &used);	(PATTR_MORE/DONE/ERROR)
 *	pattr_get(&p, PA_ETRN_DOMAIN); pattr_reset(&p); pattr_free(&p);
 * DESCRIPTION
 *	A request is a sequence of "name=value" lines, each ended by LF (a
 *	CR before the LF is dropped), and ends with an empty line.
 *	pattr_feed() takes input in pieces of any size and stops after the
 *	empty line, so pipelined requests are read one at a time: the
 *	caller answers, calls pattr_reset() and feeds the rest.
 *
 *	The attributes listed in pattr.h are kept; the others are counted
 *	and skipped, so a newer Postfix may send more.
 * SECURITY
 *	Bounded where the bytes arrive: a line longer than max_line is an
 *	error as soon as its bytes exceed the limit, before its end is
 *	seen, and so is the attribute after max_attrs; nothing is cut
 *	short.  A NUL byte, a line without "=", an empty name, an attribute
 *	of the list sent twice, and a request without "request=" are
 *	errors.  The caller closes the connection after an error: the
 *	framing of what follows cannot be trusted.
 * DIAGNOSTICS
 *	PATTR_ERROR with ->error set to a constant text that never contains
 *	client input.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "policy/pattr.h"
#include "util/xalloc.h"

static const char *const pattr_names[PA_NKNOWN] = {
	[PA_REQUEST] = "request",
	[PA_PROTOCOL_STATE] = "protocol_state",
	[PA_CLIENT_ADDRESS] = "client_address",
	[PA_SASL_USERNAME] = "sasl_username",
	[PA_ETRN_DOMAIN] = "etrn_domain",
	[PA_RECIPIENT] = "recipient",
	[PA_SIZE] = "size",
	[PA_QUEUE_ID] = "queue_id",
};

/* pattr_init - an empty reader with its limits */
void
pattr_init(struct pattr *p, size_t max_line, size_t max_attrs)
{
	memset(p, 0, sizeof(*p));
	buf_init(&p->line);
	p->max_line = max_line;
	p->max_attrs = max_attrs;
}

/* pattr_reset - forget the request, keep the limits */
void
pattr_reset(struct pattr *p)
{
	int	i;

	for (i = 0; i < PA_NKNOWN; i++) {
		free(p->val[i]);
		p->val[i] = NULL;
	}
	buf_reset(&p->line);
	p->nattrs = 0;
	p->error = NULL;
}

/* pattr_free - release everything */
void
pattr_free(struct pattr *p)
{
	pattr_reset(p);
	buf_free(&p->line);
}

/* pattr_get - an attribute's value; "" when not sent */
const char *
pattr_get(const struct pattr *p, enum pattr_id id)
{
	return p->val[id] ? p->val[id] : "";
}

/* pattr_name - the protocol name of an attribute */
const char *
pattr_name(enum pattr_id id)
{
	return pattr_names[id];
}

/* pattr_line - one complete line, without its LF; 1 at the end */
static int
pattr_line(struct pattr *p, char *s, size_t len)
{
	char	*eq;
	int	i;

	if (len > 0 && s[len - 1] == '\r')
		s[--len] = '\0';
	if (len > p->max_line) {
		p->error = "attribute line too long";
		return 0;
	}
	if (len == 0) {
		if (p->nattrs == 0)
			p->error = "empty request";
		else if (p->val[PA_REQUEST] == NULL)
			p->error = "no request attribute";
		return 1;
	}
	if ((eq = memchr(s, '=', len)) == NULL) {
		p->error = "line without \"=\"";
		return 0;
	}
	if (eq == s) {
		p->error = "attribute without a name";
		return 0;
	}
	if (++p->nattrs > p->max_attrs) {
		p->error = "too many attributes";
		return 0;
	}
	*eq = '\0';
	for (i = 0; i < PA_NKNOWN; i++)
		if (strcmp(s, pattr_names[i]) == 0)
			break;
	if (i == PA_NKNOWN)
		return 0;
	if (p->val[i] != NULL) {
		p->error = "attribute sent twice";
		return 0;
	}
	p->val[i] = xstrdup(eq + 1);
	return 0;
}

/* pattr_feed - read up to the end of a request or an error */
enum pattr_status
pattr_feed(struct pattr *p, const char *data, size_t len, size_t *used)
{
	const char *nl;
	size_t	off = 0, n;
	int	end;

	while (off < len && p->error == NULL) {
		nl = memchr(data + off, '\n', len - off);
		n = nl ? (size_t)(nl - (data + off)) : len - off;
		/* + 1: room for a CR before the LF, checked in pattr_line */
		if (p->line.len + n > p->max_line + 1) {
			p->error = "attribute line too long";
			break;
		}
		if (memchr(data + off, '\0', n) != NULL) {
			p->error = "NUL byte in request";
			break;
		}
		buf_add(&p->line, data + off, n);
		off += n;
		if (nl == NULL)
			break;
		off++;		/* the LF */
		end = pattr_line(p, p->line.s, p->line.len);
		buf_reset(&p->line);
		if (end && p->error == NULL) {
			*used = off;
			return PATTR_DONE;
		}
	}
	*used = off;
	return p->error ? PATTR_ERROR : PATTR_MORE;
}
