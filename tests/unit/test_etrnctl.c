/* test_etrnctl - etrnctl's pure helpers: domain arguments and settings */
#include "config.h"

#include <stdlib.h>

#include "etrnctl/ctl.h"
#include "tap.h"

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

int
main(void)
{
	test_args();
	return TAP_DONE();
}
