/*
 * NAME
 *	settings - the openetrn.conf table shared by every program
 * DESCRIPTION
 *	One file configures etrn-milter, etrnd, etrnctl and etrn-policy, so
 *	one table lists every setting with its type, default and bounds.
 *	A setting a program does not use is still checked, so a typo is an
 *	error wherever it is made.  After the table is applied, cross-field
 *	checks run (host name syntax, socket address forms).
 *
 *	settings_domain_value() holds a per-domain value (etrn:domain:<entry>)
 *	to the syntax and bounds of the setting it overrides, from the same
 *	table: etrnctl before writing, the daemons when reading Redis.
 * DIAGNOSTICS
 *	Errors name the file and line (see conf.c) or the setting.
 */
#include "config.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mail/domain.h"
#include "mail/settings.h"
#include "util/cidr.h"
#include "util/conf.h"
#include "util/log.h"
#include "util/net.h"
#include "util/sentinel.h"
#include "util/xalloc.h"

static const char *const on_error_choices[] = { "tempfail", "accept", NULL };
static const char *const down_rcpt_choices[] = { "defer_if_permit", "defer",
	"dunno", NULL };
static const char *const down_etrn_choices[] = { "458", "dunno", NULL };
/* In the order of REDIS_WAIT_*. */
static const char *const redis_wait_choices[] = { "auto", "yes", "no", NULL };
/* In the order of ODMR_TLS_*. */
static const char *const odmr_tls_choices[] = { "may", "encrypt", NULL };
/* In the order of LOG_TARGET_* (util/log.h). */
static const char *const log_target_choices[] = { "auto", "syslog", "stderr",
	"both", NULL };

#define S(f) offsetof(struct oe_settings, f)

static const struct conf_def settings_defs[] = {
	{ "hostname", CONF_STR, "", S(hostname), 0, 0, NULL },
	{ "log_facility", CONF_STR, "mail", S(log_facility), 0, 0, NULL },
	{ "log_target", CONF_ENUM, "auto", S(log_target), 0, 0,
	    log_target_choices },
	{ "verbose", CONF_BOOL, "no", S(verbose), 0, 0, NULL },
	{ "redis_server", CONF_STR, "inet:127.0.0.1:6379", S(redis_server),
	    0, 0, NULL },
	{ "redis_password", CONF_STR, "", S(redis_password), 0, 0, NULL },
	{ "redis_db", CONF_INT, "0", S(redis_db), 0, 1023, NULL },
	{ "redis_timeout", CONF_MSEC, "2s", S(redis_timeout), 10, 60000,
	    NULL },
	{ "redis_sentinels", CONF_STR, "", S(redis_sentinels), 0, 0, NULL },
	{ "redis_master_name", CONF_STR, "", S(redis_master_name), 0, 0,
	    NULL },
	{ "redis_sentinel_password", CONF_STR, "",
	    S(redis_sentinel_password), 0, 0, NULL },
	{ "redis_wait", CONF_ENUM, "auto", S(redis_wait), 0, 0,
	    redis_wait_choices },
	{ "redis_wait_timeout", CONF_MSEC, "200ms", S(redis_wait_timeout), 1,
	    60000, NULL },
	{ "hold_time", CONF_TIME, "5d", S(hold_time), 1, 366 * 86400,
	    NULL },
	{ "warn_time", CONF_TIME, "4h", S(warn_time), 0, 366 * 86400, NULL },
	{ "domains_file", CONF_STR, "", S(domains_file), 0, 0, NULL },
	{ "domain_refresh", CONF_TIME, "30s", S(domain_refresh), 1, 3600,
	    NULL },
	{ "max_header_bytes", CONF_SIZE, "64k", S(max_header_bytes), 1024,
	    16 * 1048576, NULL },
	/* Below Postfix's queue directory: a chrooted smtpd finds it there
	 * (docs/design.md, "Where the sockets are"). */
	{ "milter_socket", CONF_STR,
	    "unix:/var/spool/postfix/openetrn/milter.sock", S(milter_socket),
	    0, 0, NULL },
	{ "milter_socket_group", CONF_STR, "", S(milter_socket_group),
	    0, 0, NULL },
	{ "milter_socket_mode", CONF_MODE, "0660", S(milter_socket_mode), 0,
	    0777, NULL },
	{ "on_redis_error", CONF_ENUM, "tempfail", S(on_redis_error), 0, 0,
	    on_error_choices },
	{ "reinject_server", CONF_STR, "inet:127.0.0.1:25",
	    S(reinject_server), 0, 0, NULL },
	{ "reinject_timeout", CONF_TIME, "60s", S(reinject_timeout), 1, 600,
	    NULL },
	{ "tmp_directory", CONF_STR, "/var/tmp", S(tmp_directory), 0, 0,
	    NULL },
	{ "user", CONF_STR, "openetrn", S(user), 0, 0, NULL },
	{ "hold_secret_file", CONF_STR, SYSCONFDIR "/openetrn/hold.secret",
	    S(hold_secret_file), 0, 0, NULL },
	{ "milter_pid_file", CONF_STR, "", S(milter_pid_file), 0, 0, NULL },
	{ "etrnd_listen", CONF_STR, "inet:127.0.0.1:1985", S(etrnd_listen),
	    0, 0, NULL },
	{ "etrnd_pid_file", CONF_STR, "", S(etrnd_pid_file), 0, 0, NULL },
	{ "etrn_allow", CONF_STR, "", S(etrn_allow), 0, 0, NULL },
	{ "etrnd_max_clients", CONF_INT, "100", S(etrnd_max_clients), 1,
	    100000, NULL },
	{ "etrnd_timeout", CONF_TIME, "60s", S(etrnd_timeout), 1, 3600,
	    NULL },
	{ "etrnd_max_errors", CONF_INT, "10", S(etrnd_max_errors), 1, 1000,
	    NULL },
	{ "etrnd_max_per_client", CONF_INT, "10", S(etrnd_max_per_client), 0,
	    100000, NULL },
	{ "etrnd_max_session_time", CONF_TIME, "300s",
	    S(etrnd_max_session_time), 1, 86400, NULL },
	{ "etrnd_max_commands", CONF_INT, "100", S(etrnd_max_commands), 1,
	    1000000, NULL },
	{ "etrnd_max_output", CONF_SIZE, "16k", S(etrnd_max_output), 1024,
	    1048576, NULL },
	{ "etrn_rate_limit", CONF_INT, "10", S(etrn_rate_limit), 1, 100000,
	    NULL },
	{ "client_ipv4_prefix", CONF_INT, "32", S(client_ipv4_prefix), 8, 32,
	    NULL },
	{ "client_ipv6_prefix", CONF_INT, "64", S(client_ipv6_prefix), 16,
	    128, NULL },
	{ "flush_lock_time", CONF_TIME, "60s", S(flush_lock_time), 1, 3600,
	    NULL },
	{ "release_timeout", CONF_TIME, "15m", S(release_timeout), 10,
	    86400, NULL },
	{ "reconcile_interval", CONF_TIME, "10m", S(reconcile_interval), 0,
	    86400, NULL },
	{ "pending_timeout", CONF_TIME, "2m", S(pending_timeout), 10, 86400,
	    NULL },
	{ "dsn_server", CONF_STR, "", S(dsn_server), 0, 0, NULL },
	{ "dsn_daemon_name", CONF_STR, "", S(dsn_daemon_name), 0, 0, NULL },
	{ "dsn_timeout", CONF_TIME, "60s", S(dsn_timeout), 1, 600, NULL },
	{ "queue_run_interval", CONF_MSEC, "1s", S(queue_run_interval), 100,
	    60000, NULL },
	{ "etrnd_lease_time", CONF_TIME, "30s", S(etrnd_lease_time), 3, 3600,
	    NULL },
	{ "odmr_listen", CONF_STR, "", S(odmr_listen), 0, 0, NULL },
	{ "odmr_tls", CONF_ENUM, "encrypt", S(odmr_tls), 0, 0,
	    odmr_tls_choices },
	{ "odmr_loopback", CONF_STR, "127.0.0.0/8, ::1", S(odmr_loopback), 0,
	    0, NULL },
	{ "odmr_socketmap", CONF_STR, "", S(odmr_socketmap), 0, 0, NULL },
	{ "odmr_mta_user", CONF_STR, "postfix", S(odmr_mta_user), 0, 0,
	    NULL },
	{ "odmr_idle", CONF_TIME, "10s", S(odmr_idle), 1, 3600, NULL },
	{ "odmr_max_session", CONF_TIME, "1h", S(odmr_max_session), 1,
	    86400, NULL },
	{ "tls_cert_file", CONF_STR, "", S(tls_cert_file), 0, 0, NULL },
	{ "tls_key_file", CONF_STR, "", S(tls_key_file), 0, 0, NULL },
	{ "sasl_pwcheck_method", CONF_STR, "", S(sasl_pwcheck_method), 0, 0,
	    NULL },
	{ "sasl_auxprop_plugin", CONF_STR, "", S(sasl_auxprop_plugin), 0, 0,
	    NULL },
	{ "sasl_db_path", CONF_STR, "", S(sasl_db_path), 0, 0, NULL },
	{ "sasl_mech_list", CONF_STR,
	    "SCRAM-SHA-256 SCRAM-SHA-1 CRAM-MD5 PLAIN", S(sasl_mech_list), 0,
	    0, NULL },
	{ "mta", CONF_STR, "postfix", S(mta), 0, 0, NULL },
	{ "postfix_config_directory", CONF_STR, "",
	    S(postfix_config_directory), 0, 0, NULL },
	{ "postfix_command_directory", CONF_STR, "/usr/sbin",
	    S(postfix_command_directory), 0, 0, NULL },
	{ "null_backend_log", CONF_STR, "", S(null_backend_log), 0, 0, NULL },
	{ "sendmail_command", CONF_STR, "/usr/sbin/sendmail",
	    S(sendmail_command), 0, 0, NULL },
	{ "sendmail_config_file", CONF_STR, "", S(sendmail_config_file), 0, 0,
	    NULL },
	{ "sendmail_queue_directory", CONF_STR, "",
	    S(sendmail_queue_directory), 0, 0, NULL },
	{ "policy_listen", CONF_STR,
	    "unix:/var/spool/postfix/openetrn/policy.sock", S(policy_listen),
	    0, 0, NULL },
	{ "policy_socket_group", CONF_STR, "", S(policy_socket_group),
	    0, 0, NULL },
	{ "policy_socket_mode", CONF_MODE, "0660", S(policy_socket_mode), 0,
	    0777, NULL },
	{ "policy_pid_file", CONF_STR, "", S(policy_pid_file), 0, 0, NULL },
	{ "policy_max_clients", CONF_INT, "500", S(policy_max_clients), 1,
	    100000, NULL },
	{ "policy_timeout", CONF_TIME, "330s", S(policy_timeout), 1, 3600,
	    NULL },
	{ "policy_max_per_client", CONF_INT, "0", S(policy_max_per_client), 0,
	    100000, NULL },
	{ "policy_max_session_time", CONF_TIME, "3600s",
	    S(policy_max_session_time), 1, 86400, NULL },
	{ "policy_max_requests", CONF_INT, "10000", S(policy_max_requests), 1,
	    10000000, NULL },
	{ "policy_max_output", CONF_SIZE, "64k", S(policy_max_output), 1024,
	    1048576, NULL },
	{ "policy_max_line", CONF_SIZE, "4k", S(policy_max_line), 256,
	    1048576, NULL },
	{ "policy_max_attrs", CONF_INT, "100", S(policy_max_attrs), 10,
	    10000, NULL },
	{ "policy_redis_down_rcpt", CONF_ENUM, "defer_if_permit",
	    S(policy_redis_down_rcpt), 0, 0, down_rcpt_choices },
	{ "policy_redis_down_etrn", CONF_ENUM, "458",
	    S(policy_redis_down_etrn), 0, 0, down_etrn_choices },
	{ "max_messages", CONF_INT, "0", S(max_messages), 0,
	    1000000000, NULL },
	{ "max_bytes", CONF_SIZE, "0", S(max_bytes), 0,
	    (long long)1 << 50, NULL },
	{ NULL, CONF_STR, NULL, 0, 0, 0, NULL },
};

/*
 * The fields of etrn:domain:<entry> and the setting each one overrides:
 * a per-domain value obeys that setting's syntax and bounds, whether
 * etrnctl is about to write it or a daemon finds it in Redis.
 */
static const struct {
	const char *key;
	const char *setting;	/* NULL: no setting of its own */
} settings_domain_keys[] = {
	{ "hold_time", "hold_time" },
	{ "warn_time", "warn_time" },
	{ "allow", "etrn_allow" },
	{ "max_messages", "max_messages" },
	{ "max_bytes", "max_bytes" },
	{ "sasl_users", NULL },
};

/*
 * settings_domain_value - check one per-domain value; 0 with a number in
 * *num (0 for a missing or empty value, and for the lists), -1 with the
 * reason in *err.  hold_time 0 is allowed: it means the default.
 */
int
settings_domain_value(const char *key, const char *value, long long *num,
    struct buf *err)
{
	const char *setting = NULL;
	struct buf why = BUF_INIT;
	size_t	i, n = sizeof(settings_domain_keys) /
	    sizeof(settings_domain_keys[0]);
	int	rc = 0;

	for (i = 0; i < n && strcmp(settings_domain_keys[i].key, key) != 0;
	    i++)
		;
	if (i == n) {
		buf_printf(err, "unknown per-domain key \"%.60s\"", key);
		return -1;
	}
	setting = settings_domain_keys[i].setting;
	*num = 0;
	if (value == NULL || *value == '\0' ||
	    (strcmp(key, "hold_time") == 0 && strcmp(value, "0") == 0))
		return 0;
	if (setting == NULL) {	/* sasl_users: names, no control characters */
		for (i = 0; value[i] && rc == 0; i++)
			if ((unsigned char)value[i] < 32 || value[i] == 127)
				rc = -1;
		if (rc < 0)
			buf_printf(err, "bad %s: control character in the "
			    "list", key);
	} else if (strcmp(setting, "etrn_allow") == 0) {
		if ((rc = cidr_match_list(value, "127.0.0.1", &why)) < 0)
			buf_printf(err, "bad %s: %s", key, buf_terminate(&why));
		rc = rc < 0 ? -1 : 0;
	} else
		rc = conf_check(settings_defs, setting, value, num, err);
	buf_free(&why);
	return rc;
}

/* settings_check_listen - a list of listening addresses */
static int
settings_check_listen(const char *name, const char *list, int unix_ok,
    const char *origin, struct buf *err)
{
	char	*copy = xstrdup(list), *p, *save = NULL;
	struct net_addr na;
	int	n = 0, rc = 0;

	for (p = strtok_r(copy, ", \t", &save); p != NULL && rc == 0;
	    p = strtok_r(NULL, ", \t", &save), n++)
		if (net_parse(p, &na) < 0 || na.kind == NET_INET_AT ||
		    (na.kind == NET_UNIX && !unix_ok)) {
			buf_printf(err, "%s: bad %s address \"%s\" (expected "
			    "inet:host:port%s)", origin, name, p, unix_ok ?
			    " or unix:/path" : "");
			rc = -1;
		}
	if (rc == 0 && n == 0) {
		buf_printf(err, "%s: %s is empty", origin, name);
		rc = -1;
	}
	if (rc == 0 && n > 16) {
		buf_printf(err, "%s: %s: more than 16 addresses", origin, name);
		rc = -1;
	}
	free(copy);
	return rc;
}

/* settings_check_odmr - the ODMR listener's addresses, TLS and loopback */
static int
settings_check_odmr(struct oe_settings *s, const char *origin,
    struct buf *err)
{
	struct buf why = BUF_INIT;
	int	rc = 0;

	if (*s->odmr_listen == '\0')
		return 0;
	if (settings_check_listen("odmr_listen", s->odmr_listen, 0, origin,
	    err) < 0)
		return -1;
	if (s->odmr_tls == ODMR_TLS_ENCRYPT && (*s->tls_cert_file == '\0' ||
	    *s->tls_key_file == '\0')) {
		buf_printf(err, "%s: odmr_tls = encrypt needs tls_cert_file "
		    "and tls_key_file", origin);
		rc = -1;
	} else if (cidr_match_list(s->odmr_loopback, "127.0.0.1", &why) < 0) {
		buf_printf(err, "%s: bad odmr_loopback: %s", origin,
		    buf_terminate(&why));
		rc = -1;
	} else if (*s->odmr_socketmap != '\0' &&
	    strncmp(s->odmr_socketmap, "unix:/", 6) != 0) {
		buf_printf(err, "%s: odmr_socketmap: unix:/path expected",
		    origin);
		rc = -1;
	}
	buf_free(&why);
	return rc;
}

/* settings_check_sendmail - absolute paths */
static int
settings_check_sendmail(struct oe_settings *s, const char *origin,
    struct buf *err)
{
	const char *cf = s->sendmail_config_file;
	const char *qd = s->sendmail_queue_directory;

	if (*s->sendmail_command != '/' || (*cf && *cf != '/') ||
	    (*qd && *qd != '/')) {
		buf_printf(err, "%s: sendmail_command, "
		    "sendmail_config_file and sendmail_queue_directory must "
		    "be absolute paths", origin);
		return -1;
	}
	return 0;
}

/* settings_check_ha - Sentinels and WAIT into s->redis_ha */
static int
settings_check_ha(struct oe_settings *s, const char *origin,
    struct buf *err)
{
	struct buf why = BUF_INIT;
	int	sentinels = *s->redis_sentinels != '\0';

	if (sentinels && sentinel_check(s->redis_sentinels, &why) < 0) {
		buf_printf(err, "%s: bad redis_sentinels: %s", origin,
		    buf_terminate(&why));
		buf_free(&why);
		return -1;
	}
	if (sentinels && *s->redis_master_name == '\0') {
		buf_printf(err, "%s: redis_sentinels needs redis_master_name",
		    origin);
		return -1;
	}
	s->redis_ha.sentinels = s->redis_sentinels;
	s->redis_ha.master_name = s->redis_master_name;
	s->redis_ha.sentinel_password = s->redis_sentinel_password;
	s->redis_ha.wait_ms = s->redis_wait == REDIS_WAIT_YES ||
	    (s->redis_wait == REDIS_WAIT_AUTO && sentinels) ?
	    (int)s->redis_wait_timeout : 0;
	return 0;
}

/* settings_check - cross-field checks after parsing */
static int
settings_check(struct oe_settings *s, const char *origin, struct buf *err)
{
	struct buf host = BUF_INIT, why = BUF_INIT;
	struct net_addr na;
	char	name[256];

	if (*s->hostname == '\0') {
		if (gethostname(name, sizeof(name)) < 0)
			name[0] = '\0';
		name[sizeof(name) - 1] = '\0';
		free(s->hostname);
		s->hostname = xstrdup(name);
	}
	if (dom_normalize(s->hostname, &host, NULL) < 0) {
		buf_printf(err, "%s: bad hostname \"%s\" (set hostname)",
		    origin, s->hostname);
		buf_free(&host);
		return -1;
	}
	free(s->hostname);
	s->hostname = buf_steal(&host);
	if (net_parse(s->redis_server, &na) < 0 || na.kind == NET_INET_AT) {
		buf_printf(err, "%s: bad redis_server \"%s\" (expected "
		    "inet:host:port or unix:/path)", origin, s->redis_server);
		return -1;
	}
	if (settings_check_ha(s, origin, err) < 0)
		return -1;
	if (net_parse(s->reinject_server, &na) < 0 || na.kind != NET_INET) {
		buf_printf(err, "%s: bad reinject_server \"%s\" (expected "
		    "inet:host:port)", origin, s->reinject_server);
		return -1;
	}
	/* libmilter reads "inet:host:port" as a port named host: refuse. */
	if (net_parse(s->milter_socket, &na) < 0 || na.kind == NET_INET) {
		buf_printf(err, "%s: bad milter_socket \"%s\" (expected "
		    "unix:/path or inet:port@host)", origin, s->milter_socket);
		return -1;
	}
	if (settings_check_listen("etrnd_listen", s->etrnd_listen, 0, origin,
	    err) < 0 || settings_check_listen("policy_listen",
	    s->policy_listen, 1, origin, err) < 0)
		return -1;
	if (settings_check_odmr(s, origin, err) < 0)
		return -1;
	if (*s->dsn_server && (net_parse(s->dsn_server, &na) < 0 ||
	    na.kind == NET_INET_AT)) {
		buf_printf(err, "%s: bad dsn_server \"%s\" (expected "
		    "inet:host:port or unix:/path)", origin, s->dsn_server);
		return -1;
	}
	if (cidr_match_list(s->etrn_allow, "127.0.0.1", &why) < 0) {
		buf_printf(err, "%s: bad etrn_allow: %s", origin,
		    buf_terminate(&why));
		buf_free(&why);
		return -1;
	}
	if (log_facility_lookup(s->log_facility) < 0) {
		buf_printf(err, "%s: bad log_facility \"%s\"", origin,
		    s->log_facility);
		return -1;
	}
	if (strcmp(s->mta, "postfix") != 0 && strcmp(s->mta, "null") != 0 &&
	    strcmp(s->mta, "sendmail") != 0) {
		buf_printf(err, "%s: bad mta \"%s\" (expected postfix, "
		    "sendmail or null)", origin, s->mta);
		return -1;
	}
	if (settings_check_sendmail(s, origin, err) < 0)
		return -1;
	if (s->warn_time >= s->hold_time)
		s->warn_time = 0;
	return 0;
}

/* settings_load - read FILE into *s (caller frees with settings_free) */
int
settings_load(struct oe_settings *s, const char *path, struct buf *err)
{
	memset(s, 0, sizeof(*s));
	if (conf_load(settings_defs, s, path, err) < 0)
		return -1;
	return settings_check(s, path, err);
}

/* settings_load_string - the same from text, for tests and -o */
int
settings_load_string(struct oe_settings *s, const char *text, struct buf *err)
{
	memset(s, 0, sizeof(*s));
	if (conf_load_string(settings_defs, s, "(string)", text, err) < 0)
		return -1;
	return settings_check(s, "(string)", err);
}

/* settings_table - the table itself, for the check of the sample file */
const struct conf_def *
settings_table(void)
{
	return settings_defs;
}

/* settings_free - release a loaded settings struct */
void
settings_free(struct oe_settings *s)
{
	conf_free(settings_defs, s);
}
