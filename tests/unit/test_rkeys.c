/* test_rkeys - pin every Redis key format users and tools rely on */
#include "config.h"

#include "mail/rkeys.h"
#include "tap.h"

int
main(void)
{
	struct buf b = BUF_INIT;

	rkey_domains(&b);
	CHECK_STR(b.s, "etrn:domains", "domains");
	rkey_domain(&b, "dialup.test");
	CHECK_STR(b.s, "etrn:domain:dialup.test", "domain");
	rkey_domain_prefix(&b);
	CHECK_STR(b.s, "etrn:domain:", "domain prefix");
	rkey_held(&b, "dialup.test");
	CHECK_STR(b.s, "etrn:held:dialup.test", "held");
	rkey_stats(&b, "dialup.test");
	CHECK_STR(b.s, "etrn:stats:dialup.test", "stats");
	rkey_msg(&b, "mx.lab.test", "4XyZ1abc2");
	CHECK_STR(b.s, "etrn:msg:mx.lab.test:4XyZ1abc2", "msg");
	rkey_member(&b, "mx.lab.test", "4XyZ1abc2");
	CHECK_STR(b.s, "mx.lab.test:4XyZ1abc2", "member");
	rkey_expiry(&b, "mx.lab.test");
	CHECK_STR(b.s, "etrn:expiry:mx.lab.test", "expiry");
	rkey_warn(&b, "mx.lab.test");
	CHECK_STR(b.s, "etrn:warn:mx.lab.test", "warn");
	rkey_hostdomains(&b, "mx.lab.test");
	CHECK_STR(b.s, "etrn:hostdomains:mx.lab.test", "hostdomains");
	rkey_held(&b, "");
	CHECK_STR(b.s, "etrn:held:", "held prefix");
	rkey_released(&b, "mx.lab.test");
	CHECK_STR(b.s, "etrn:released:mx.lab.test", "released");
	rkey_pending(&b, "mx.lab.test");
	CHECK_STR(b.s, "etrn:pending:mx.lab.test", "pending");
	rkey_helddomains(&b);
	CHECK_STR(b.s, "etrn:helddomains", "helddomains");
	rkey_flush_stream(&b);
	CHECK_STR(b.s, "etrn:flush", "flush stream");
	rkey_flush_group(&b, "mx.lab.test");
	CHECK_STR(b.s, "etrnd:mx.lab.test", "flush group");
	rkey_flushing(&b, "dialup.test");
	CHECK_STR(b.s, "etrn:flushing:dialup.test", "flushing");
	rkey_lease(&b, "mx.lab.test");
	CHECK_STR(b.s, "etrn:lease:mx.lab.test", "lease");
	buf_free(&b);
	return TAP_DONE();
}
