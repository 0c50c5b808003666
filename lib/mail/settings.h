/* settings.h - openetrn.conf: the one configuration file of all programs */
#ifndef OE_SETTINGS_H
#define OE_SETTINGS_H

#include "util/buf.h"
#include "util/sentinel.h"

#define OE_DEFAULT_CONF	SYSCONFDIR "/openetrn/openetrn.conf"

enum { ON_ERROR_TEMPFAIL, ON_ERROR_ACCEPT };
enum { POLICY_DOWN_RCPT_DEFER_IF_PERMIT, POLICY_DOWN_RCPT_DEFER,
    POLICY_DOWN_RCPT_DUNNO };
enum { POLICY_DOWN_ETRN_458, POLICY_DOWN_ETRN_DUNNO };
enum { ODMR_TLS_MAY, ODMR_TLS_ENCRYPT };
enum { REDIS_WAIT_AUTO, REDIS_WAIT_YES, REDIS_WAIT_NO };

struct oe_settings {
	/* identity and logging */
	char	*hostname;		/* this MX in Redis keys */
	char	*log_facility;
	int	log_target;		/* LOG_TARGET_* (util/log.h) */
	int	verbose;
	/* Redis */
	char	*redis_server;		/* inet:host:port or unix:/path */
	char	*redis_password;
	long long redis_db;
	long long redis_timeout;	/* ms, connect and command */
	char	*redis_sentinels;	/* host:port list, "": none */
	char	*redis_master_name;	/* the master's Sentinel name */
	char	*redis_sentinel_password;
	int	redis_wait;		/* REDIS_WAIT_*: auto is on with
					 * Sentinels */
	long long redis_wait_timeout;	/* ms, WAIT 1 <this> */
	struct redis_ha redis_ha;	/* the four above, for the pools */
	/* hold policy defaults (per-domain values in etrn:domain:<d>) */
	long long hold_time;		/* s */
	long long warn_time;		/* s, 0: no delay warning */
	char	*domains_file;		/* optional static list */
	long long domain_refresh;	/* s */
	long long max_header_bytes;	/* headers kept in the record */
	/* etrn-milter */
	char	*milter_socket;		/* unix:/path or inet:port@host */
	char	*milter_socket_group;
	long long milter_socket_mode;
	int	on_redis_error;		/* tempfail | accept */
	char	*reinject_server;	/* SMTP for per-domain copies */
	long long reinject_timeout;	/* s */
	char	*tmp_directory;		/* spool of split messages */
	char	*user;			/* run as this user */
	char	*hold_secret_file;	/* key of the hold tags' MAC */
	char	*milter_pid_file;
	/* etrnd */
	char	*etrnd_listen;		/* inet:host:port, comma-separated */
	char	*etrnd_pid_file;
	char	*etrn_allow;		/* default CIDRs allowed to ETRN */
	long long etrnd_max_clients;
	long long etrnd_timeout;	/* s, waiting for a command */
	long long etrnd_max_errors;	/* bad commands before hanging up */
	long long etrnd_max_per_client;	/* connections per client prefix,
					 * 0: no cap */
	long long etrnd_max_session_time;	/* s, a session's lifetime */
	long long etrnd_max_commands;	/* commands per session */
	long long etrnd_max_output;	/* unsent bytes before reading stops */
	long long etrn_rate_limit;	/* ETRN per client per minute */
	long long client_ipv4_prefix;	/* a "client" for the limits: /32 */
	long long client_ipv6_prefix;	/* and /64 */
	long long flush_lock_time;	/* s, repeat ETRN: in progress */
	long long release_timeout;	/* s, released but not delivered */
	long long reconcile_interval;	/* s, runner's own reconcile, 0 off */
	long long pending_timeout;	/* s, recorded but never on hold */
	char	*dsn_server;		/* SMTP service that holds DSNs */
	char	*dsn_daemon_name;	/* milter: {daemon_name} to hold */
	long long dsn_timeout;		/* s, per DSN submission */
	long long queue_run_interval;	/* ms, runner's checking interval */
	long long etrnd_lease_time;	/* s, TTL of etrn:lease:<host> */
	/* etrnd's ODMR listener (RFC 2645) */
	char	*odmr_listen;		/* inet:host:port list, "": off */
	int	odmr_tls;		/* ODMR_TLS_*: AUTH before STARTTLS */
	char	*odmr_loopback;		/* CIDRs where AUTH needs no TLS */
	char	*odmr_socketmap;	/* unix:/path, "": no turn */
	char	*odmr_mta_user;		/* the MTA's smtp client runs as */
	long long odmr_idle;		/* s without MTA connection: done */
	long long odmr_max_session;	/* s, a session with its turn */
	char	*tls_cert_file;		/* PEM chain of the listener */
	char	*tls_key_file;		/* its key, read as root */
	char	*sasl_pwcheck_method;	/* Cyrus SASL options, "": its */
	char	*sasl_auxprop_plugin;	/* own configuration file */
	char	*sasl_db_path;
	char	*sasl_mech_list;
	/* MTA queue backend */
	char	*mta;			/* postfix | sendmail | null */
	char	*postfix_config_directory;
	char	*postfix_command_directory;
	char	*null_backend_log;
	char	*sendmail_command;	/* the sendmail binary */
	char	*sendmail_config_file;	/* -C file, "" default .cf */
	char	*sendmail_queue_directory;	/* "" : from the .cf */
	/* etrn-policy */
	char	*policy_listen;		/* unix:/path or inet:host:port */
	char	*policy_socket_group;
	long long policy_socket_mode;
	char	*policy_pid_file;
	long long policy_max_clients;
	long long policy_timeout;	/* s, for a whole request */
	long long policy_max_per_client;	/* connections per prefix */
	long long policy_max_session_time;	/* s */
	long long policy_max_requests;	/* per connection */
	long long policy_max_output;	/* unsent bytes before reading stops */
	long long policy_max_line;	/* bytes of one attribute line */
	long long policy_max_attrs;	/* attributes per request */
	int	policy_redis_down_rcpt;	/* POLICY_DOWN_RCPT_* */
	int	policy_redis_down_etrn;	/* POLICY_DOWN_ETRN_* */
	long long max_messages;		/* held-mail quota default, 0: none */
	long long max_bytes;		/* held-mail quota default, 0: none */
};

int	settings_load(struct oe_settings *, const char *, struct buf *);
int	settings_load_string(struct oe_settings *, const char *, struct buf *);
void	settings_free(struct oe_settings *);
int	settings_domain_value(const char *, const char *, long long *,
	    struct buf *);

struct conf_def;
const struct conf_def *settings_table(void);

#endif
