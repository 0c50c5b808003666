/* test_conf - the configuration parser and the openetrn.conf table */
#include "config.h"

#include <stdlib.h>

#include "mail/settings.h"
#include "util/conf.h"
#include "tap.h"

static const struct {
	const char *text;
	const char *err;	/* NULL: must load; else substring of error */
} cases[] = {
	{ "", NULL },
	{ "# comment\n\n   # indented comment\n", NULL },
	{ "hold_time = 3d\nwarn_time = 4h\n", NULL },
	{ "hold_time=1w", NULL },
	{ "redis_timeout = 500ms\n", NULL },
	{ "redis_server = unix:/run/redis/redis.sock", NULL },
	{ "redis_server = inet:[::1]:6379", NULL },
	{ "on_redis_error = ACCEPT", NULL },
	{ "milter_socket = inet:10025@127.0.0.1", NULL },
	{ "max_header_bytes = 128k", NULL },
	{ "hostname = MX1.Example.NET.", NULL },
	{ "hodl_time = 5d", "(string):1: unknown setting \"hodl_time\"" },
	{ "\n\nhold_time = 5x", "(string):3: bad value for hold_time: \"5x\"" },
	{ "hold_time = ", "bad value for hold_time" },
	{ "hold_time = -5d", "bad value for hold_time" },
	{ "hold_time = 367d", "out of range" },
	{ "hold_time = 0", "out of range" },
	{ "hold_time = 99999999999999999999d", "bad value" },
	{ "verbose = maybe", "bad value for verbose: \"maybe\" (expected yes" },
	{ "on_redis_error = drop", "(expected tempfail, accept)" },
	{ "hold_time 5d", "missing '='" },
	{ "= 5d", "missing setting name" },
	{ "hold_time = 5d\nhold_time = 4d", "(string):2: duplicate setting" },
	{ "redis_server = localhost:6379", "bad redis_server" },
	{ "reinject_server = unix:/tmp/x", "bad reinject_server" },
	{ "milter_socket = tcp:1", "bad milter_socket" },
	{ "milter_socket = inet:127.0.0.1:10025", "bad milter_socket" },
	{ "milter_socket_mode = 0999", "bad value for milter_socket_mode" },
	{ "hostname = bad_host!", "bad hostname" },
	{ "log_facility = kernel", "bad log_facility" },
	{ "mta = exim", "bad mta" },
	{ "etrnd_listen = inet:127.0.0.1:1985, inet:[::1]:1985", NULL },
	{ "etrnd_listen = 127.0.0.1:1985", "bad etrnd_listen address" },
	{ "etrnd_listen = inet:1985@127.0.0.1", "bad etrnd_listen address" },
	{ "etrnd_listen = ", "etrnd_listen is empty" },
	{ "etrn_allow = 192.0.2.0/24 2001:db8::/32", NULL },
	{ "etrn_allow = 192.0.2.0/33", "bad etrn_allow: bad network" },
};

int
main(void)
{
	struct oe_settings s;
	struct buf err = BUF_INIT;
	long long v;
	size_t	i;
	int	rc;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		buf_reset(&err);
		rc = settings_load_string(&s, cases[i].text, &err);
		if (cases[i].err == NULL)
			CHECK(rc == 0, "case %zu: got error '%s', want none", i,
			    err.len ? err.s : "");
		else
			CHECK(rc < 0 && err.len &&
			    strstr(err.s, cases[i].err) != NULL,
			    "case %zu: got '%s', want error containing '%s'",
			    i, err.len ? err.s : "(no error)", cases[i].err);
		settings_free(&s);
	}
	/* Values land in the right fields with the right units. */
	buf_reset(&err);
	rc = settings_load_string(&s, "hold_time = 2d\nredis_timeout = 1s\n"
	    "hostname = MX1.Example.NET.\nwarn_time = 0\n", &err);
	CHECK_INT(rc, 0, "load");
	CHECK_INT(s.hold_time, 2 * 86400, "hold_time");
	CHECK_INT(s.redis_timeout, 1000, "redis_timeout");
	CHECK_INT(s.warn_time, 0, "warn_time");
	CHECK_STR(s.hostname, "mx1.example.net", "hostname normalised");
	CHECK_INT(s.on_redis_error, ON_ERROR_TEMPFAIL, "default tempfail");
	CHECK_INT(s.max_header_bytes, 65536, "default max_header_bytes");
	settings_free(&s);
	/* Number parsing by type. */
	CHECK(conf_parse_number("90m", CONF_TIME, &v) == 0 && v == 5400,
	    "90m");
	CHECK(conf_parse_number("1g", CONF_SIZE, &v) == 0 && v == 1 << 30,
	    "1g");
	CHECK(conf_parse_number("250ms", CONF_MSEC, &v) == 0 && v == 250,
	    "250ms");
	CHECK(conf_parse_number("0660", CONF_MODE, &v) == 0 && v == 0660,
	    "0660");
	CHECK(conf_parse_number("5 d", CONF_TIME, &v) < 0, "5 d refused");
	CHECK(conf_parse_number("ms", CONF_MSEC, &v) < 0, "ms refused");
	/* A missing file names itself. */
	buf_reset(&err);
	CHECK(settings_load(&s, "/nonexistent/openetrn.conf", &err) < 0 &&
	    strstr(err.s, "/nonexistent/openetrn.conf: No such file") != NULL,
	    "missing file: got '%s'", err.len ? err.s : "");
	settings_free(&s);
	buf_free(&err);
	return TAP_DONE();
}
