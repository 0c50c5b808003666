/*
 * NAME
 *	tls - the server side TLS context of etrnd's ODMR listener
 * SUMMARY
 *	ctx = tls_server_ctx(cert_file, key_file, &err);	(as root)
 *	ssl = tls_server_ssl(ctx);		(one per STARTTLS)
 * DESCRIPTION
 *	tls_server_ctx() reads the certificate chain and the private key
 *	(PEM) and checks that they match.  It is called before privileges
 *	are dropped, so the key file may be readable by root alone; the
 *	context keeps the key in memory and the file is never read again
 *	(a new key takes a restart).
 * SECURITY
 *	TLS 1.2 is the least version accepted: a client offering only
 *	TLS 1.0 or 1.1 fails the handshake.  Compression and session
 *	tickets are off; the ciphers are OpenSSL's defaults of the system.
 * DIAGNOSTICS
 *	NULL with the file and OpenSSL's first error in *err.
 */
#include "config.h"

#include <openssl/err.h>

#include "util/tls.h"

/* tls_error - the file and OpenSSL's reason into err */
static void
tls_error(struct buf *err, const char *what, const char *file)
{
	char	why[256];

	ERR_error_string_n(ERR_get_error(), why, sizeof(why));
	buf_printf(err, "%s %s: %s", what, file, why);
	ERR_clear_error();
}

/* tls_server_ctx - a server context with cert and key; NULL: see err */
SSL_CTX *
tls_server_ctx(const char *cert, const char *key, struct buf *err)
{
	SSL_CTX *ctx;

	if ((ctx = SSL_CTX_new(TLS_server_method())) == NULL) {
		tls_error(err, "SSL_CTX_new", "");
		return NULL;
	}
	if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1) {
		tls_error(err, "TLS 1.2 minimum", "");
		goto fail;
	}
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_TICKET |
	    SSL_OP_NO_RENEGOTIATION);
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
		tls_error(err, "tls_cert_file", cert);
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
		tls_error(err, "tls_key_file", key);
		goto fail;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		tls_error(err, "tls_key_file does not match", cert);
		goto fail;
	}
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

/* tls_server_ssl - a connection's TLS state; NULL on failure */
SSL *
tls_server_ssl(SSL_CTX *ctx)
{
	return SSL_new(ctx);
}
