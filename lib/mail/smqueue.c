/*
 * NAME
 *	smqueue - Sendmail's queue control files and sendmail.cf, read
 * DESCRIPTION
 *	smq_qf_parse() reads a queue control file (qf, or hf when the item
 *	is quarantined): the lines T (queued at), K (last attempt), N
 *	(attempts), q (quarantine reason), R (recipients) and the header
 *	lines H with their continuation lines, up to the closing ".".
 *	Headers come out as "Name: value" lines.  A header that Sendmail
 *	adds only for mailers with a flag (H?P?Return-Path:) and whose
 *	value still holds a macro reference (octet 0201) is left out: it is
 *	not part of the message as received.
 *	The envelope comes from the lines S (sender), Z (ENVID), F (flags:
 *	d = RET given, n = RET=HDRS), Q (ORCPT of the R line after it) and
 *	the flags of each R line (N = NOTIFY given, then S, F, D for
 *	SUCCESS, FAILURE, DELAY; N alone is NEVER); smq_qf_envelope() puts
 *	it in the form etrn-milter records (qbackend.h).
 *	smq_cf_parse() finds QueueDirectory and Timeout.queuereturn in a
 *	sendmail.cf.  smq_time() reads Sendmail time values ("5d", "1d12h").
 *	smq_qid_valid() is stricter than qid_valid(): Sendmail's -qI
 *	matches substrings, so only the full form is accepted, eight
 *	letters or digits followed by at least six digits of the process ID.
 *	Everything here is pure: no file is opened.
 * DIAGNOSTICS
 *	-1 with a reason for a file that does not parse completely (no
 *	closing ".", a line too odd to trust); the caller does not use it.
 */
#include "config.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "mail/qbackend.h"
#include "mail/qid.h"
#include "mail/smqueue.h"
#include "util/xalloc.h"

#define SMQ_MACRO	0201	/* macro reference in a queued header */

/* smq_qid_valid - a whole Sendmail queue ID (see DESCRIPTION) */
int
smq_qid_valid(const char *id)
{
	size_t	n = strlen(id), i;

	if (!qid_valid(id) || n < 14 || n > 20)
		return 0;
	for (i = 8; i < n; i++)
		if (!isdigit((unsigned char)id[i]))
			return 0;
	return 1;
}

/* smq_number - a decimal number filling the rest of a line; -1 if not */
static long long
smq_number(const char *p, size_t len)
{
	long long n = 0;
	size_t	i;

	if (len == 0 || len > 18)
		return -1;
	for (i = 0; i < len; i++) {
		if (!isdigit((unsigned char)p[i]))
			return -1;
		n = n * 10 + (p[i] - '0');
	}
	return n;
}

/* smq_strndup - a copy of len octets */
static char *
smq_strndup(const char *p, size_t len)
{
	char	*s = xmalloc(len + 1);

	memcpy(s, p, len);
	s[len] = '\0';
	return s;
}

/* smq_notify - NOTIFY from an R line's flags ("" when not given) */
static char *
smq_notify(const char *flags, size_t len)
{
	static const char *const words[] = { "SUCCESS", "FAILURE", "DELAY" };
	static const char letters[] = "SFD";
	struct buf b = BUF_INIT;
	size_t	i;

	if (memchr(flags, 'N', len) == NULL)
		return xstrdup("");
	for (i = 0; i < 3; i++)
		if (memchr(flags, letters[i], len) != NULL) {
			if (b.len > 0)
				buf_addch(&b, ',');
			buf_cat(&b, words[i]);
		}
	if (b.len == 0)
		buf_cat(&b, "NEVER");
	return (char *)buf_terminate(&b);
}

/* smq_bare - an address without the <> it was given in */
static void
smq_bare(const char **p, size_t *len)
{
	if (*len >= 2 && (*p)[0] == '<' && (*p)[*len - 1] == '>') {
		(*p)++;
		*len -= 2;
	}
}

/* smq_rcpt - keep an R line: "R<flags>:<address>" */
static void
smq_rcpt(struct smq_qf *qf, const char *p, size_t len)
{
	const char *colon = memchr(p, ':', len), *flags = p;
	size_t	i, nflags = 0;

	if (colon != NULL) {
		for (i = 0; p + i < colon && isupper((unsigned char)p[i]); i++)
			;
		if (p + i == colon)
			nflags = i + 1;
	}
	qf->rcpt = xreallocarray(qf->rcpt, qf->nrcpt + 1, sizeof(char *));
	qf->notify = xreallocarray(qf->notify, qf->nrcpt + 1, sizeof(char *));
	qf->orcpt = xreallocarray(qf->orcpt, qf->nrcpt + 1, sizeof(char *));
	p += nflags;
	len -= nflags;
	smq_bare(&p, &len);
	qf->rcpt[qf->nrcpt] = smq_strndup(p, len);
	qf->notify[qf->nrcpt] = smq_notify(flags, nflags);
	qf->orcpt[qf->nrcpt] = qf->pending_orcpt ? qf->pending_orcpt :
	    xstrdup("");
	qf->pending_orcpt = NULL;
	qf->nrcpt++;
}

/* smq_flags - RET from the F line */
static void
smq_flags(struct smq_qf *qf, const char *p, size_t len)
{
	if (memchr(p, 'd', len) == NULL)
		qf->ret = "";
	else
		qf->ret = memchr(p, 'n', len) != NULL ? "HDRS" : "FULL";
}

/*
 * smq_header - an H line without its "H": 1 if it is kept (written to
 * hdrs), 0 if left out, -1 if malformed
 */
static int
smq_header(const char *p, size_t len, struct buf *hdrs)
{
	const char *end = p + len, *q;
	int	cond = 0;

	if (p < end && *p == '?') {
		/* "?flags?" or "?${macro}?" */
		if (end - p > 2 && p[1] == '$' && p[2] == '{')
			q = memchr(p + 3, '}', (size_t)(end - p - 3));
		else
			q = p;
		if (q == NULL || (q = memchr(q + 1, '?', (size_t)(end - q -
		    1))) == NULL)
			return -1;
		cond = q > p + 1;
		p = q + 1;
	}
	if ((q = memchr(p, ':', (size_t)(end - p))) == NULL || q == p)
		return -1;
	if (cond && memchr(p, SMQ_MACRO, (size_t)(end - p)) != NULL)
		return 0;
	if (hdrs != NULL) {
		buf_add(hdrs, p, (size_t)(end - p));
		buf_addch(hdrs, '\n');
	}
	return 1;
}

/* smq_qf_parse - see DESCRIPTION; hdrs may be NULL */
int
smq_qf_parse(const char *text, size_t len, struct smq_qf *qf,
    struct buf *hdrs, const char **why)
{
	const char *p = text, *end = text + len, *nl;
	size_t	l;
	int	in_hdr = 0, version = 0, rc;

	memset(qf, 0, sizeof(*qf));
	qf->ret = "";
	*why = NULL;
	while (p < end) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL) {
			*why = "last line not complete";
			return -1;
		}
		l = (size_t)(nl - p);
		if (l == 1 && *p == '.')
			return version ? 0 : (*why = "no V line", -1);
		if (l > 0 && (*p == ' ' || *p == '\t')) {
			if (in_hdr && hdrs != NULL) {
				buf_add(hdrs, p, l);
				buf_addch(hdrs, '\n');
			}
			p = nl + 1;
			continue;
		}
		in_hdr = 0;
		switch (l > 0 ? *p : '\0') {
		case 'V':
			version = 1;
			break;
		case 'T':
			qf->ctime = smq_number(p + 1, l - 1);
			break;
		case 'K':
			qf->lasttry = smq_number(p + 1, l - 1);
			break;
		case 'N':
			qf->ntries = smq_number(p + 1, l - 1);
			break;
		case 'q':
			qf->quarantined = 1;
			break;
		case 'R':
			smq_rcpt(qf, p + 1, l - 1);
			break;
		case 'Q':
			free(qf->pending_orcpt);
			qf->pending_orcpt = smq_strndup(p + 1, l - 1);
			break;
		case 'S':
			free(qf->sender);
			qf->sender = smq_strndup(p + 1, l - 1);
			break;
		case 'Z':
			free(qf->envid);
			qf->envid = smq_strndup(p + 1, l - 1);
			break;
		case 'F':
			smq_flags(qf, p + 1, l - 1);
			break;
		case 'H':
			if ((rc = smq_header(p + 1, l - 1, hdrs)) < 0) {
				*why = "bad header line";
				return -1;
			}
			in_hdr = rc;
			break;
		}
		p = nl + 1;
	}
	*why = "no closing \".\" line";
	return -1;
}

/* smq_qf_free - the recipients and the envelope */
void
smq_qf_free(struct smq_qf *qf)
{
	size_t	i;

	for (i = 0; i < qf->nrcpt; i++) {
		free(qf->rcpt[i]);
		free(qf->notify[i]);
		free(qf->orcpt[i]);
	}
	free(qf->rcpt);
	free(qf->notify);
	free(qf->orcpt);
	free(qf->sender);
	free(qf->envid);
	free(qf->pending_orcpt);
	memset(qf, 0, sizeof(*qf));
}

/*
 * smq_qf_envelope - the envelope of a parsed control file as etrn-milter
 * records it; size is the caller's (the data file's length and the
 * headers'); -1 without a sender or a recipient
 */
int
smq_qf_envelope(const struct smq_qf *qf, long long size,
    struct qb_envelope *e)
{
	const char *sender = qf->sender;
	size_t	i, len;

	if (sender == NULL || qf->nrcpt == 0)
		return -1;
	len = strlen(sender);
	smq_bare(&sender, &len);
	buf_add(&e->sender, sender, len);
	buf_terminate(&e->sender);
	buf_cat(&e->envid, qf->envid ? qf->envid : "");
	buf_terminate(&e->envid);
	e->ret = qf->ret ? qf->ret : "";
	e->size = size;
	for (i = 0; i < qf->nrcpt; i++) {
		qb_env_rcpt(e, qf->rcpt[i], qf->notify[i], qf->orcpt[i]);
	}
	buf_terminate(&e->rcpts);
	return 0;
}

/*
 * smq_time - seconds of a Sendmail time value: numbers with units s, m,
 * h, d, w; a bare number counts in unit def; -1 if it does not parse
 */
long long
smq_time(const char *v, int def)
{
	long long total = 0, n;
	int	unit;

	if (*v == '\0')
		return -1;
	while (*v) {
		if (!isdigit((unsigned char)*v))
			return -1;
		for (n = 0; isdigit((unsigned char)*v); v++)
			if ((n = n * 10 + (*v - '0')) > 100000000)
				return -1;
		unit = *v ? *v++ : def;
		switch (unit) {
		case 's': break;
		case 'm': n *= 60; break;
		case 'h': n *= 3600; break;
		case 'd': n *= 86400; break;
		case 'w': n *= 7 * 86400; break;
		default: return -1;
		}
		total += n;
	}
	return total;
}

/* smq_cf_value - the value of option name on an "O name=value" line */
static const char *
smq_cf_value(const char *line, const char *name)
{
	size_t	n = strlen(name);

	if (line[0] != 'O' || line[1] != ' ')
		return NULL;
	for (line += 2; *line == ' '; line++)
		;
	if (strncmp(line, name, n) != 0)
		return NULL;
	for (line += n; *line == ' '; line++)
		;
	if (*line != '=')
		return NULL;
	for (line++; *line == ' ' || *line == '\t'; line++)
		;
	return line;
}

/*
 * smq_cf_parse - QueueDirectory into qdir, Timeout.queuereturn into
 * *lifetime (Sendmail's default, 5 days, when absent); -1 with a reason
 */
int
smq_cf_parse(const char *text, size_t len, struct buf *qdir,
    long long *lifetime, const char **why)
{
	struct buf line = BUF_INIT;
	const char *p = text, *end = text + len, *nl, *v;
	int	found = 0;

	*lifetime = 5 * 86400;
	*why = NULL;
	while (p < end && *why == NULL) {
		nl = memchr(p, '\n', (size_t)(end - p));
		buf_reset(&line);
		buf_add(&line, p, nl ? (size_t)(nl - p) : (size_t)(end - p));
		while (line.len > 0 && isspace((unsigned char)
		    line.s[line.len - 1]))
			line.len--;
		buf_terminate(&line);
		p = nl ? nl + 1 : end;
		if (line.s[0] == 'O' && line.s[1] == 'Q')
			v = line.s + 2;		/* the old one-letter form */
		else
			v = smq_cf_value(line.s, "QueueDirectory");
		if (v != NULL) {
			if (*v != '/')
				*why = "QueueDirectory is not an absolute path";
			else if (strchr(v, '*') != NULL)
				*why = "several queue directories (a * in "
				    "QueueDirectory) are not supported";
			buf_reset(qdir);
			buf_cat(qdir, v);
			found = 1;
		} else if ((v = smq_cf_value(line.s, "Timeout.queuereturn")) !=
		    NULL || (v = smq_cf_value(line.s,
		    "Timeout.queuereturn.normal")) != NULL)
			*lifetime = smq_time(v, 'd') < 0 ? 0 : smq_time(v, 'd');
	}
	buf_free(&line);
	if (*why == NULL && !found)
		*why = "no QueueDirectory option";
	if (*why == NULL)
		buf_terminate(qdir);
	return *why ? -1 : 0;
}
