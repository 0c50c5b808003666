/*
 * NAME
 *	fakemilter - the libmilter calls etrn-milter makes, recorded
 * DESCRIPTION
 *	Stands in for libmilter in fuzz_milter and replay_milter only: the
 *	callbacks run against a struct smfi_str that fuzz_milter drives.
 *	Each call checks what the MTA would rely on and aborts otherwise:
 *	- smfi_setreply: a 4xx or 5xx code, an enhanced status code of the
 *	  same class, one line of printable text;
 *	- smfi_addheader, smfi_chgheader: only at end of message, a field
 *	  name without blank, colon or control character, a value without
 *	  CR whose every LF folds (a blank follows); only X-ETRN-Hold is
 *	  deleted, at an index the message had;
 *	- smfi_quarantine: only at end of message, once, a reason of at
 *	  most 100 octets (what Postfix keeps) without control characters;
 *	- smfi_delrcpt: only at end of message, a recipient accepted in this
 *	  message, once.
 *	ctx->refuse makes the modifications fail, as an MTA may.
 */
#include "config.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "fuzz.h"
#include "fakemilter.h"
#include "mail/holdtag.h"

/* text_ok - printable one-line text (octets >= 0x80 allowed) */
static int
text_ok(const char *s)
{
	const unsigned char *p;

	for (p = (const unsigned char *)s; *p; p++)
		if (*p < ' ' || *p == 127)
			return 0;
	return 1;
}

/* smfi_getpriv - the connection state */
void *
smfi_getpriv(SMFICTX *ctx)
{
	return ctx->priv;
}

/* smfi_setpriv - set the connection state */
int
smfi_setpriv(SMFICTX *ctx, void *priv)
{
	ctx->priv = priv;
	return MI_SUCCESS;
}

/* smfi_getsymval - {daemon_name} and {i} */
char *
smfi_getsymval(SMFICTX *ctx, char *name)
{
	if (strcmp(name, "{daemon_name}") == 0)
		return (char *)ctx->daemon;
	if (strcmp(name, "{i}") == 0)
		return (char *)ctx->qid;
	return NULL;
}

/* smfi_setreply - a checked SMTP reply */
int
smfi_setreply(SMFICTX *ctx, char *rcode, char *xcode, char *message)
{
	FUZZ_CHECK(rcode != NULL && strlen(rcode) == 3);
	FUZZ_CHECK((rcode[0] == '4' || rcode[0] == '5') &&
	    isdigit((unsigned char)rcode[1]) &&
	    isdigit((unsigned char)rcode[2]));
	FUZZ_CHECK(xcode == NULL || (xcode[0] == rcode[0] && xcode[1] == '.'));
	FUZZ_CHECK(message == NULL || (text_ok(message) &&
	    strlen(message) < 512));
	memcpy(ctx->rcode, rcode, 4);
	ctx->nreply++;
	return MI_SUCCESS;
}

/* field_ok - a field name; a value with no CR, LF only to fold */
static int
field_ok(const char *name, const char *value)
{
	const unsigned char *p;

	if (*name == '\0')
		return 0;
	for (p = (const unsigned char *)name; *p; p++)
		if (*p <= ' ' || *p == ':' || *p >= 127)
			return 0;
	for (p = (const unsigned char *)value; *p; p++)
		if (*p == '\r' || (*p == '\n' && p[1] != ' ' &&
		    p[1] != '\t'))
			return 0;
	return 1;
}

/* smfi_addheader - a checked header, end of message only */
int
smfi_addheader(SMFICTX *ctx, char *name, char *value)
{
	FUZZ_CHECK(ctx->in_eom && name != NULL && value != NULL);
	FUZZ_CHECK(field_ok(name, value));
	if (ctx->refuse)
		return MI_FAILURE;
	if (strcasecmp(name, HOLDTAG_HEADER) == 0)
		ctx->tagged++;
	return MI_SUCCESS;
}

/* smfi_chgheader - delete an incoming X-ETRN-Hold */
int
smfi_chgheader(SMFICTX *ctx, char *name, int idx, char *value)
{
	FUZZ_CHECK(ctx->in_eom && name != NULL && idx >= 1);
	FUZZ_CHECK(value == NULL || field_ok(name, value));
	/* only incoming tags are deleted, and only those there are */
	FUZZ_CHECK(strcasecmp(name, HOLDTAG_HEADER) == 0 && value == NULL &&
	    idx <= ctx->nhold);
	return ctx->refuse ? MI_FAILURE : MI_SUCCESS;
}

/* smfi_quarantine - hold the message, once, with a short reason */
int
smfi_quarantine(SMFICTX *ctx, char *reason)
{
	FUZZ_CHECK(ctx->in_eom && reason != NULL && *reason != '\0');
	FUZZ_CHECK(strlen(reason) <= 100 && text_ok(reason));
	FUZZ_CHECK(!ctx->quarantined);
	if (ctx->refuse)
		return MI_FAILURE;
	ctx->quarantined = 1;
	return MI_SUCCESS;
}

/* smfi_delrcpt - remove an accepted recipient, once */
int
smfi_delrcpt(SMFICTX *ctx, char *rcpt)
{
	int	i;

	FUZZ_CHECK(ctx->in_eom && rcpt != NULL);
	for (i = 0; i < ctx->nrcpt; i++)
		if (!ctx->deleted[i] && strcmp(ctx->rcpt[i], rcpt) == 0)
			break;
	FUZZ_CHECK(i < ctx->nrcpt);
	if (ctx->refuse)
		return MI_FAILURE;
	ctx->deleted[i] = 1;
	return MI_SUCCESS;
}

/* smfi_addrcpt - never called */
int
smfi_addrcpt(SMFICTX *ctx, char *rcpt)
{
	(void)ctx;
	(void)rcpt;
	FUZZ_CHECK(!"etrn-milter never adds recipients");
	return MI_FAILURE;
}

/* fake_msg_reset - the MTA starts a new message */
void
fake_msg_reset(SMFICTX *ctx)
{
	int	i;

	for (i = 0; i < ctx->nrcpt; i++)
		free(ctx->rcpt[i]);
	ctx->nrcpt = 0;
	ctx->nhold = 0;
	ctx->quarantined = 0;
	ctx->tagged = 0;
}
