/* tls.h - the server side TLS context of etrnd's ODMR listener */
#ifndef OE_TLS_H
#define OE_TLS_H

#include <openssl/ssl.h>

#include "util/buf.h"

SSL_CTX *tls_server_ctx(const char *, const char *, struct buf *);
SSL    *tls_server_ssl(SSL_CTX *);

#endif
