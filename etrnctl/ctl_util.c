/*
 * NAME
 *	ctl_util - etrnctl's pure helpers: domain arguments and settings
 * SYNOPSIS
 *	ctl_domain_arg(arg, parent_ok, &norm, &err);
 *	ctl_member_split(member, host, hsize, qid, qsize);
 *	ctl_setting_check(key, value, &err);
 * DESCRIPTION
 *	Nothing here talks to Redis, so tests/unit/test_etrnctl.c covers it
 *	all.  etrnctl's mail-neutral helpers are in lib/util: timefmt
 *	(times, durations), jsonw (--json), table (aligned columns) and
 *	strv (lists of strings).
 * DIAGNOSTICS
 *	ctl_domain_arg() and ctl_setting_check() return -1 with a message
 *	naming the argument in *err.
 */
#include "config.h"

#include <string.h>

#include "etrnctl/ctl.h"
#include "mail/domain.h"
#include "mail/rkeys.h"
#include "mail/settings.h"

/*
 * The fields of etrn:domain:<entry> etrnctl manages; their syntax and
 * bounds are those of the settings they override (settings.c).
 */
static const char *const ctl_settings[] = { DF_HOLD_TIME,
	DF_WARN_TIME, DF_ALLOW, DF_MAX_MESSAGES, DF_MAX_BYTES, DF_SASL_USERS };

#define NSETTINGS (sizeof(ctl_settings) / sizeof(ctl_settings[0]))

/* ctl_domain_arg - normalise a domain argument; ".parent" if parent_ok */
int
ctl_domain_arg(const char *arg, int parent_ok, struct buf *out,
    struct buf *err)
{
	struct buf norm = BUF_INIT;
	const char *why = "invalid domain syntax";
	int	parent = parent_ok && arg[0] == '.';

	buf_reset(out);
	if (dom_normalize(arg + parent, &norm, &why) < 0) {
		buf_printf(err, "bad domain \"%.100s\": %s", arg, why);
		buf_free(&norm);
		return -1;
	}
	if (parent)
		buf_addch(out, '.');
	buf_add(out, norm.s, norm.len);
	buf_free(&norm);
	return 0;
}

/* ctl_member_split - "<host>:<queueid>" into its parts */
int
ctl_member_split(const char *member, char *host, size_t hsize, char *qid,
    size_t qsize)
{
	const char *colon = strrchr(member, ':');
	size_t	hlen;

	if (colon == NULL || colon == member || colon[1] == '\0')
		return -1;
	hlen = (size_t)(colon - member);
	if (hlen >= hsize || strlen(colon + 1) >= qsize)
		return -1;
	memcpy(host, member, hlen);
	host[hlen] = '\0';
	strcpy(qid, colon + 1);
	return 0;
}

/* ctl_setting_names - the accepted keys, for messages and usage */
const char *
ctl_setting_names(void)
{
	return "hold_time, warn_time, allow, max_messages, max_bytes, "
	    "sasl_users";
}

/* ctl_setting_check - is key=value a valid per-domain setting */
int
ctl_setting_check(const char *key, const char *value, struct buf *err)
{
	struct buf why = BUF_INIT;
	long long n;
	size_t	i;
	int	rc;

	for (i = 0; i < NSETTINGS; i++)
		if (strcmp(ctl_settings[i], key) == 0)
			break;
	if (i == NSETTINGS) {
		buf_printf(err, "unknown key \"%.60s\" (expected %s)", key,
		    ctl_setting_names());
		return -1;
	}
	/* Empty: remove the key, the default applies. */
	if ((rc = settings_domain_value(key, value, &n, &why)) < 0)
		buf_printf(err, "bad %s \"%.100s\": %s", key, value,
		    buf_terminate(&why));
	buf_free(&why);
	return rc;
}
