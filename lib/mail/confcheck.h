/* confcheck.h - the daemons' -t: the host against the configuration */
#ifndef OE_CONFCHECK_H
#define OE_CONFCHECK_H

#include "mail/settings.h"
#include "util/buf.h"

enum { CONFCHECK_MILTER, CONFCHECK_ETRND, CONFCHECK_POLICY };

int	confcheck_run(const struct oe_settings *, const char *, int);
int	confcheck_sendmail_host(const struct oe_settings *, struct buf *);
int	confcheck_reinject(const struct oe_settings *);

#endif
