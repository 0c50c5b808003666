/*
 * NAME
 *	odmrauth - AUTH (RFC 4954) on the ODMR listener, through Cyrus SASL
 * DESCRIPTION
 *	odmrauth_init() starts Cyrus SASL once per listener process under
 *	the application name "openetrn": its options come from the
 *	sasl_* settings where they are set (a SASL_CB_GETOPT callback:
 *	pwcheck_method, auxprop_plugin, sasldb_path, mech_list), else from
 *	Cyrus SASL's own openetrn.conf (/etc/sasl2).  So sasldb,
 *	saslauthd (PAM, LDAP) and the SQL auxprop plugin all work.
 *
 *	A session gets its SASL connection (service "smtp", the realm is
 *	the hostname setting) when AUTH is first offered or used, and
 *	loses it on STARTTLS.  Without TLS the connection asks SASL for
 *	no plaintext mechanisms, so PLAIN and LOGIN are offered only over
 *	TLS; with odmr_tls = encrypt AUTH is neither offered nor accepted
 *	before STARTTLS unless the client is in odmr_loopback (530).
 * SECURITY
 *	The mechanism must have RFC 4422's syntax (501); responses are
 *	base64-decoded into a bounded buffer (authline.c refuses what
 *	does not fit or is not base64: 501).  "*" cancels
 *	(501).  An exchange may have ODMR_AUTH_STEPS challenges, then it
 *	fails (535).  Every failure counts as an error of the session.
 *	Secrets are never logged; the name is logged only on success.
 * DIAGNOSTICS
 *	One line per AUTH: mechanism, result and (on success) the name;
 *	Cyrus SASL's own messages at debug level (verbose).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sasl/saslutil.h>

#include "etrnd/odmr.h"
#include "mail/authline.h"
#include "util/log.h"
#include "util/xalloc.h"

static struct listener *odmrauth_l;	/* the settings of the callbacks */

/* odmrauth_getopt - Cyrus SASL's options from the sasl_* settings */
static int
odmrauth_getopt(void *ctx, const char *plugin, const char *opt,
    const char **res, unsigned *len)
{
	const struct oe_settings *s = odmrauth_l->s;
	const char *v = NULL;

	(void)ctx;
	(void)plugin;
	if (strcmp(opt, "pwcheck_method") == 0)
		v = s->sasl_pwcheck_method;
	else if (strcmp(opt, "auxprop_plugin") == 0)
		v = s->sasl_auxprop_plugin;
	else if (strcmp(opt, "sasldb_path") == 0)
		v = s->sasl_db_path;
	else if (strcmp(opt, "mech_list") == 0)
		v = s->sasl_mech_list;
	if (v == NULL || *v == '\0')
		return SASL_FAIL;	/* Cyrus SASL's file or default */
	*res = v;
	if (len != NULL)
		*len = (unsigned)strlen(v);
	return SASL_OK;
}

/* odmrauth_log - Cyrus SASL's messages, at debug level */
static int
odmrauth_log(void *ctx, int level, const char *msg)
{
	(void)ctx;
	if (level <= SASL_LOG_ERR)
		log_warnx("sasl: %s", msg);
	else
		log_debug("sasl: %s", msg);
	return SASL_OK;
}

typedef int (*odmrauth_cb)(void);

static const sasl_callback_t odmrauth_cbs[] = {
	{ SASL_CB_GETOPT, (odmrauth_cb)(void (*)(void))odmrauth_getopt, NULL },
	{ SASL_CB_LOG, (odmrauth_cb)(void (*)(void))odmrauth_log, NULL },
	{ SASL_CB_LIST_END, NULL, NULL },
};

/* odmrauth_init - start Cyrus SASL for the listener process; -1: failed */
int
odmrauth_init(struct listener *l)
{
	int	rc;

	odmrauth_l = l;
	if ((rc = sasl_server_init(odmrauth_cbs, "openetrn")) != SASL_OK) {
		log_warnx("sasl_server_init: %s", sasl_errstring(rc, NULL,
		    NULL));
		return -1;
	}
	return 0;
}

/* odmrauth_done - the end of the listener process */
void
odmrauth_done(void)
{
	(void)sasl_server_done();
}

/* odmrauth_start - the session's SASL connection; -1: none */
int
odmrauth_start(struct odmr_session *ss)
{
	sasl_security_properties_t sp;
	sasl_ssf_t ssf = 256;
	int	rc;

	if (ss->sasl != NULL)
		return 0;
	rc = sasl_server_new("smtp", ss->l->s->hostname, NULL, NULL, NULL,
	    NULL, 0, &ss->sasl);
	if (rc != SASL_OK) {
		log_warnx("%s: sasl_server_new: %s", ss->id,
		    sasl_errstring(rc, NULL, NULL));
		ss->sasl = NULL;
		return -1;
	}
	memset(&sp, 0, sizeof(sp));
	sp.max_ssf = 256;
	sp.maxbufsize = 0;	/* no security layer over SMTP */
	sp.security_flags = SASL_SEC_NOANONYMOUS |
	    (ss->tls ? 0 : SASL_SEC_NOPLAINTEXT);
	(void)sasl_setprop(ss->sasl, SASL_SEC_PROPS, &sp);
	if (ss->tls)
		(void)sasl_setprop(ss->sasl, SASL_SSF_EXTERNAL, &ssf);
	return 0;
}

/* odmrauth_end - forget an exchange, the SASL connection and the name */
void
odmrauth_end(struct odmr_session *ss)
{
	ss->auth_steps = 0;
	if (ss->sasl != NULL)
		sasl_dispose(&ss->sasl);
	ss->sasl = NULL;
	free(ss->user);
	ss->user = NULL;
}

/* odmrauth_offered - may this session use AUTH now (odmr_tls) */
int
odmrauth_offered(struct odmr_session *ss)
{
	return ss->tls || ss->loopback ||
	    ss->l->s->odmr_tls == ODMR_TLS_MAY;
}

/* odmrauth_ehlo - the AUTH line of EHLO, if AUTH is offered */
void
odmrauth_ehlo(struct odmr_session *ss, struct buf *b)
{
	const char *mechs;
	unsigned len;
	int	n;

	if (ss->user != NULL || !odmrauth_offered(ss) ||
	    odmrauth_start(ss) < 0)
		return;
	if (sasl_listmech(ss->sasl, NULL, "", " ", "", &mechs, &len, &n) ==
	    SASL_OK && n > 0)
		buf_printf(b, "250-AUTH %.*s\r\n", (int)len, mechs);
}

/* odmrauth_fail - the exchange failed: reply, count, log */
static void
odmrauth_fail(struct odmr_session *ss, enum odmr_reply r, const char *why)
{
	ss->errors++;
	ss->auth_steps = 0;
	if (ss->sasl != NULL)
		sasl_dispose(&ss->sasl);
	ss->sasl = NULL;
	log_info("%s: client=%s auth mech=%s result=%.3s reason=%s", ss->id,
	    ss->addr, ss->auth_mech, r == OR_AUTH_FAIL ? "535" : r ==
	    OR_AUTH_MECH ? "504" : r == OR_AUTH_TEMP ? "454" : "501", why);
	odmr_reply(ss, r);
}

/* odmrauth_result - after a SASL step: 334 challenge, 235, or failure */
static void
odmrauth_result(struct odmr_session *ss, int rc, const char *out,
    unsigned outlen)
{
	char	enc[ODMR_LINE_MAX];
	const void *user = NULL;
	unsigned elen;

	if (rc == SASL_CONTINUE) {
		if (++ss->auth_steps > ODMR_AUTH_STEPS) {
			odmrauth_fail(ss, OR_AUTH_FAIL, "too many steps");
			return;
		}
		if (sasl_encode64(out, outlen, enc, sizeof(enc) - 8, &elen) !=
		    SASL_OK) {
			odmrauth_fail(ss, OR_AUTH_TEMP, "challenge too long");
			return;
		}
		ls_write(ss->c, "334 ", 4);
		ls_write(ss->c, enc, elen);
		ls_write(ss->c, "\r\n", 2);
		return;
	}
	if (rc != SASL_OK || sasl_getprop(ss->sasl, SASL_USERNAME, &user) !=
	    SASL_OK || user == NULL) {
		odmrauth_fail(ss, rc == SASL_NOMECH ? OR_AUTH_MECH :
		    rc == SASL_TRYAGAIN || rc == SASL_UNAVAIL ? OR_AUTH_TEMP :
		    OR_AUTH_FAIL, sasl_errstring(rc, NULL, NULL));
		return;
	}
	ss->auth_steps = 0;
	ss->user = xstrdup(user);
	log_info("%s: client=%s auth mech=%s result=235 user=%s", ss->id,
	    ss->addr, ss->auth_mech, ss->user);
	odmr_reply(ss, OR_AUTH_OK);
}

/* odmrauth_command - "AUTH mechanism [initial-response]" */
void
odmrauth_command(struct odmr_session *ss, const char *arg)
{
	static char dec[AUTHLINE_RESPONSE_MAX + 1];
	const char *out = NULL;
	unsigned outlen = 0;
	size_t	declen = 0;
	struct authline a;
	int	rc;

	if (ss->user != NULL) {
		ss->errors++;
		odmr_reply(ss, OR_AUTH_AGAIN);
		return;
	}
	if (authline_parse(arg, &a) != AUTHLINE_OK) {
		snprintf(ss->auth_mech, sizeof(ss->auth_mech), "-");
		odmrauth_fail(ss, OR_AUTH_SYNTAX, "syntax");
		return;
	}
	snprintf(ss->auth_mech, sizeof(ss->auth_mech), "%s", a.mech);
	if (!odmrauth_offered(ss)) {
		odmrauth_fail(ss, OR_AUTH_NEED_TLS, "no TLS");
		return;
	}
	if (odmrauth_start(ss) < 0) {
		odmrauth_fail(ss, OR_AUTH_TEMP, "sasl_server_new");
		return;
	}
	if (a.initial != NULL && authline_decode(a.initial, dec, sizeof(dec),
	    &declen) != AUTHLINE_OK) {
		odmrauth_fail(ss, OR_AUTH_B64, "bad base64");
		return;
	}
	rc = sasl_server_start(ss->sasl, ss->auth_mech, a.initial ? dec :
	    NULL, (unsigned)declen, &out, &outlen);
	explicit_bzero(dec, sizeof(dec));
	odmrauth_result(ss, rc, out, outlen);
}

/* odmrauth_continue - a response line within an exchange */
void
odmrauth_continue(struct odmr_session *ss, const char *line)
{
	static char dec[AUTHLINE_RESPONSE_MAX + 1];
	const char *out = NULL;
	unsigned outlen = 0;
	size_t	declen = 0;
	int	rc;

	switch (authline_response(line, dec, sizeof(dec), &declen)) {
	case AUTHLINE_OK:
		break;
	case AUTHLINE_CANCEL:
		odmrauth_fail(ss, OR_AUTH_CANCEL, "cancelled");
		return;
	default:
		odmrauth_fail(ss, OR_AUTH_B64, "bad base64");
		return;
	}
	rc = sasl_server_step(ss->sasl, dec, (unsigned)declen, &out, &outlen);
	explicit_bzero(dec, sizeof(dec));
	odmrauth_result(ss, rc, out, outlen);
}
