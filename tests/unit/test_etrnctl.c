/* test_etrnctl - etrnctl's pure helpers: times, arguments, JSON, tables */
#include "config.h"

#include <stdlib.h>

#include "etrnctl/ctl.h"
#include "tap.h"

static const struct {
	long long secs;
	const char *want;
} durations[] = {
	{ 0, "0s" },
	{ 42, "42s" },
	{ 60, "1m" },
	{ 61, "1m1s" },
	{ 3600, "1h" },
	{ 3661, "1h1m" },
	{ 86400 + 3600 * 4 + 59, "1d4h" },
	{ 86400 + 60, "1d" },
	{ -7200, "2h" },
};

static const struct {
	const char *arg;
	int	parent_ok;
	const char *want;	/* NULL: refused */
} domains[] = {
	{ "Dialup.Test.", 0, "dialup.test" },
	{ "bücher.example", 0, "xn--bcher-kva.example" },
	{ ".Sub.Test", 1, ".sub.test" },
	{ ".sub.test", 0, NULL },
	{ "a;b", 0, NULL },
	{ "a;b", 1, NULL },
	{ "", 0, NULL },
	{ ".", 1, NULL },
	{ "..x", 1, NULL },
	{ "x y", 0, NULL },
	{ "-x.test", 0, NULL },
};

static const struct {
	const char *key, *value;
	int	want;
} settings[] = {
	{ "hold_time", "3d", 0 },
	{ "hold_time", "259200", 0 },
	{ "hold_time", "0", 0 },
	{ "hold_time", "", 0 },
	{ "hold_time", "1h30m", -1 },
	{ "hold_time", "bad", -1 },
	{ "hold_time", "-1d", -1 },
	/* The file's bounds: hold_time 1 s to 366 d, warn_time to 366 d. */
	{ "hold_time", "1", 0 },
	{ "hold_time", "30s", 0 },
	{ "hold_time", "366d", 0 },
	{ "hold_time", "367d", -1 },
	{ "hold_time", "99999999999999999999", -1 },
	{ "warn_time", "4H", 0 },
	{ "warn_time", "0", 0 },
	{ "warn_time", "53w", -1 },
	{ "max_messages", "1000000000", 0 },
	{ "max_messages", "1000000001", -1 },
	{ "max_bytes", "1048576g", 0 },
	{ "max_bytes", "1048577g", -1 },
	{ "allow", "192.0.2.0/24, 2001:db8::/32", 0 },
	{ "allow", "192.0.2.0/33", -1 },
	{ "allow", "example.com", -1 },
	{ "allow", "192.0.2.1;DEL", -1 },
	{ "max_messages", "100", 0 },
	{ "max_messages", "-1", -1 },
	{ "max_messages", "10k", -1 },
	{ "max_bytes", "10m", 0 },
	{ "max_bytes", "3q", -1 },
	{ "sasl_users", "alice, bob@example.net", 0 },
	{ "sasl_users", "alice\r\nbob", -1 },
	{ "bogus", "1", -1 },
	{ "Hold_time", "1d", -1 },
};

static const struct {
	const char *in, *want;
} jstrings[] = {
	{ "plain", "\"plain\"" },
	{ "q\"b\\", "\"q\\\"b\\\\\"" },
	{ "a\nb\tc\rd", "\"a\\nb\\tc\\rd\"" },
	{ "\x01\x1f\x7f", "\"\\u0001\\u001f\\u007f\"" },
	{ "b\xc3\xbc" "cher", "\"b\xc3\xbc" "cher\"" },
	{ "bad\xff", "\"bad\\ufffd\"" },
	{ "\xc3(", "\"\\ufffd(\"" },
	{ "\xed\xa0\x80", "\"\\ufffd\\ufffd\\ufffd\"" },
	{ "\xf0\x9f\x93\xa7", "\"\xf0\x9f\x93\xa7\"" },
};

/* test_times - ISO 8601 and durations */
static void
test_times(void)
{
	char	s[64];
	size_t	i;

	ctl_iso_time(s, sizeof(s), 1795457360);
	CHECK_STR(s, "2026-11-23T18:09:20Z", "iso time");
	ctl_iso_time(s, sizeof(s), 0);
	CHECK_STR(s, "1970-01-01T00:00:00Z", "iso epoch");
	for (i = 0; i < sizeof(durations) / sizeof(durations[0]); i++) {
		ctl_duration(s, sizeof(s), durations[i].secs);
		CHECK_STR(s, durations[i].want, "duration");
	}
	ctl_duration(s, 3, 86400 + 3600);
	CHECK_STR(s, "1d", "duration truncated to the buffer");
}

/* test_args - domains, members, settings */
static void
test_args(void)
{
	struct buf out = BUF_INIT, err = BUF_INIT;
	char	host[16], qid[16];
	size_t	i;
	int	rc;

	for (i = 0; i < sizeof(domains) / sizeof(domains[0]); i++) {
		buf_reset(&err);
		rc = ctl_domain_arg(domains[i].arg, domains[i].parent_ok, &out,
		    &err);
		if (domains[i].want == NULL)
			CHECK(rc < 0 && err.len > 0, "domain \"%s\" accepted",
			    domains[i].arg);
		else
			CHECK(rc == 0 && strcmp(buf_terminate(&out),
			    domains[i].want) == 0, "domain \"%s\": got \"%s\"",
			    domains[i].arg, rc == 0 ? out.s : "(refused)");
	}
	for (i = 0; i < sizeof(settings) / sizeof(settings[0]); i++) {
		buf_reset(&err);
		rc = ctl_setting_check(settings[i].key, settings[i].value,
		    &err);
		CHECK(rc == settings[i].want, "%s=%s: got %d (%s)",
		    settings[i].key, settings[i].value, rc,
		    err.len ? buf_terminate(&err) : "");
	}
	CHECK_INT(ctl_member_split("mx.test:4AbC123", host, sizeof(host), qid,
	    sizeof(qid)), 0, "member split");
	CHECK_STR(host, "mx.test", "member host");
	CHECK_STR(qid, "4AbC123", "member queue ID");
	CHECK_INT(ctl_member_split("noqid:", host, sizeof(host), qid,
	    sizeof(qid)), -1, "member without queue ID");
	CHECK_INT(ctl_member_split(":4AbC123", host, sizeof(host), qid,
	    sizeof(qid)), -1, "member without host");
	CHECK_INT(ctl_member_split("a-very-long-host.example:4AbC123", host,
	    sizeof(host), qid, sizeof(qid)), -1, "member host too long");
	buf_free(&out);
	buf_free(&err);
}

/* test_json - escaping and the writer's commas */
static void
test_json(void)
{
	struct buf b = BUF_INIT;
	struct jw w;
	size_t	i;

	for (i = 0; i < sizeof(jstrings) / sizeof(jstrings[0]); i++) {
		buf_reset(&b);
		ctl_json_string(&b, jstrings[i].in);
		CHECK_STR(buf_terminate(&b), jstrings[i].want, "json string");
	}
	buf_reset(&b);
	jw_init(&w, &b);
	jw_open(&w, '{');
	jw_key(&w, "a");
	jw_int(&w, -3);
	jw_key(&w, "l");
	jw_open(&w, '[');
	jw_str(&w, "x");
	jw_null(&w);
	jw_open(&w, '{');
	jw_close(&w, '}');
	jw_bool(&w, 1);
	jw_close(&w, ']');
	jw_key(&w, "s");
	jw_str(&w, NULL);
	jw_close(&w, '}');
	CHECK_STR(buf_terminate(&b),
	    "{\"a\":-3,\"l\":[\"x\",null,{},true],\"s\":null}\n",
	    "json writer");
	buf_free(&b);
}

/* test_table - alignment, padding, control characters */
static void
test_table(void)
{
	struct buf b = BUF_INIT;
	struct table t;

	table_init(&t, 3, "lrl");
	table_cell(&t, "NAME");
	table_cell(&t, "N");
	table_cell(&t, "NOTE");
	table_cell(&t, "b\xc3\xbc" "cher");
	table_cellf(&t, "%d", 12345);
	table_cell(&t, "a\x1b[2Jb\n");
	table_cell(&t, "x");
	table_cell(&t, NULL);
	table_cell(&t, "");
	table_print(&t, &b);
	CHECK_STR(buf_terminate(&b),
	    "NAME        N  NOTE\n"
	    "b\xc3\xbc" "cher  12345  a?[2Jb?\n"
	    "x           -\n", "table");
	table_free(&t);
	buf_free(&b);
}

/* test_strv - the string list */
static void
test_strv(void)
{
	struct strv sv = { NULL, 0, 0 };

	strv_add(&sv, "b");
	strv_add(&sv, "a");
	strv_add(&sv, "c");
	strv_sort(&sv);
	CHECK_STR(sv.v[0], "a", "sorted first");
	CHECK_STR(sv.v[2], "c", "sorted last");
	CHECK(sv.v[3] == NULL, "NULL-terminated");
	CHECK(strv_has(&sv, "b") && !strv_has(&sv, "d"), "strv_has");
	strv_free(&sv);
}

int
main(void)
{
	test_times();
	test_args();
	test_json();
	test_table();
	test_strv();
	return TAP_DONE();
}
