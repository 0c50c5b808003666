#!/bin/bash
# t-unauth-etrn - ETRN from a client outside the domain's allow list is
# refused with 459 and releases nothing, in every spelling of the domain
# (case, trailing dot, @ and # forms), on etrnd's listener and through
# Postfix's smtpd with etrn-policy: the hold queue, the hold records and
# the domain's index are unchanged, no flush request or marker is
# queued, no last_etrn is written, and the customer's host gets nothing.
# The domain allows only ::1 and the client connects from 127.0.0.1.
# An authorized ETRN for another domain afterwards is the barrier (the
# queue runner reads requests in order); the same client allowed at
# last gets 253 and the mail, so the refusal was the allow list's.
# Then the reverse, with etrnd listening on ::1 too: the domain allows
# only 127.0.0.1 and the client connects from ::1.
set -eu
. "${top_srcdir:-$(dirname "$0")/../..}/tests/lib/sandbox.sh"
sb_init sec-unauth
policy=unix:openetrn/policy.sock	# relative: the public smtpd is chrooted
# The control ETRN below is repeated until the new allow list is read
# (domain_refresh): a rate limit of 10 a minute could answer it 458.
SB_ETRND=1 SB_POLICY=1 SB_EXTRA_CONF="flush_lock_time = 1s
etrn_rate_limit = 1000" \
    SB_EXTRA_MAIN_CF="smtpd_etrn_restrictions = check_policy_service $policy" \
    sb_start
. "$SB_SRCDIR/tests/lib/common.sh"
. "$SB_SRCDIR/tests/security/seclib.sh"

sb_redis HSET etrn:domain:dialup.test allow ::1/128 >/dev/null
hold_three u1 u2 v
sleep 2		# domain_refresh = 1s: the listener has the allow list
d2=$(sb_redis ZRANGE etrn:held:dialup2.test 0 -1)
d2=${d2#*:}
[ -n "$d2" ] || fail "no dialup2.test record"
before=$(held_snapshot | grep -v -e dialup2 -e "$d2")

out=$(etrn dialup.test DIALUP.TEST dialup.test. @dialup.test \
    '#dialup.test' @DiAlUp.TeSt)
n=$(printf '%s\n' "$out" |
    grep -c '^459 4\.7\.1 [^ ]*: ETRN not allowed here$' ||
    true)
[ "$n" = 6 ] || fail "etrnd: want 6 refusals with 459, got: $out"
pass "etrnd's listener: 459 for all 6 spellings from 127.0.0.1 (allow ::1/128)"

out=$(smtpd_etrn dialup.test DIALUP.TEST)
n=$(printf '%s\n' "$out" | grep -c '^459 4.7.1 <[a-zA-Z.]*>: Etrn command rejected: ETRN not allowed here$' || true)
[ "$n" = 2 ] || fail "Postfix smtpd + etrn-policy: $out"
pass "Postfix's smtpd with etrn-policy: 459 4.7.1 for 127.0.0.1"

[ "$(sb_redis XLEN etrn:flush)" = 0 ] || fail "a flush request was queued"
[ "$(sb_redis EXISTS etrn:flushing:dialup.test)" = 0 ] ||
    fail "a flush marker was set"
[ -z "$(sb_redis HGET etrn:stats:dialup.test last_etrn)" ] ||
    fail "last_etrn written for a refused ETRN"

# Barrier: an authorized flush of dialup2.test; once its mail is at the
# customer, the runner has read everything queued before it.
out=$(etrn dialup2.test)
[ "$out" = "253 OK, 1 pending message for node dialup2.test started" ] ||
    fail "dialup2.test: $out"
wait_for 20 sink_is customer 1 || fail "dialup2.test mail not delivered"
wait_for 10 hold_is 2 || fail "hold queue: $(sb_queue_count hold)"
wait_for 10 redis_is 0 ZCARD etrn:held:dialup2.test || fail "dialup2 index"
after=$(held_snapshot | grep -v -e dialup2 -e "$d2")
[ "$after" = "$before" ] ||
    fail "hold records changed: before '$before' after '$after'"
sb_sink_grep customer 'u[12]@dialup.test' >/dev/null &&
    fail "dialup.test mail reached the customer"
redis_is 2 ZCARD etrn:held:dialup.test || fail "dialup.test index changed"
schema_check
pass "nothing of dialup.test released: hold queue, records, index unchanged; customer got only dialup2.test"

# Control: the same client, now allowed, releases the mail.
sb_redis HSET etrn:domain:dialup.test allow 127.0.0.1/32 >/dev/null
wait_for 10 sh -c "python3 '$SB_SRCDIR/tests/lib/etrn.py' $ETRND_PORT dialup.test | grep -q '^253 OK, 2 pending'" ||
    fail "allowed client: no 253"
wait_for 20 sink_is customer 3 || fail "customer has $(sb_sink_count customer) of 3"
pass "control: allowed 127.0.0.1/32 gets 253 and both messages"


# The reverse: the domain allows only 127.0.0.1, the client comes from
# ::1.  etrnd is restarted listening on both loopback addresses.
sed -i "s|^etrnd_listen = .*|etrnd_listen = inet:127.0.0.1:$ETRND_PORT, inet:[::1]:$ETRND_PORT|" \
    "$OPENETRN_CONF"
sb_restart etrnd
etrn6() {
	python3 -c 'import smtplib, sys
s = smtplib.SMTP("::1", int(sys.argv[1]), local_hostname="customer.test",
                 timeout=30)
s.ehlo()
for a in sys.argv[2:]:
    c, m = s.docmd("ETRN " + a)
    print(c, m.decode())
s.quit()' "$ETRND_PORT" "$@"
}
wait_for 20 etrn6 example.com || fail "etrnd does not listen on ::1"
hold_three u3 u4 v2
d2=$(sb_redis ZRANGE etrn:held:dialup2.test 0 -1)
d2=${d2#*:}
before=$(held_snapshot | grep -v -e dialup2 -e "$d2")
out=$(etrn6 dialup.test @dialup.test DIALUP.TEST)
n=$(printf '%s\n' "$out" |
    grep -c '^459 4\.7\.1 [^ ]*: ETRN not allowed here$' || true)
[ "$n" = 3 ] || fail "from ::1: want 3 refusals with 459, got: $out"
out=$(etrn dialup2.test)
[ "$out" = "253 OK, 1 pending message for node dialup2.test started" ] ||
    fail "dialup2.test: $out"
wait_for 20 sink_is customer 4 || fail "dialup2.test mail not delivered"
wait_for 10 hold_is 2 || fail "hold queue: $(sb_queue_count hold)"
[ "$(held_snapshot | grep -v -e dialup2 -e "$d2")" = "$before" ] ||
    fail "hold records changed after ETRN from ::1"
out=$(etrn dialup.test)
[ "$out" = "253 OK, 2 pending messages for node dialup.test started" ] ||
    fail "control from 127.0.0.1: $out"
wait_for 20 sink_is customer 6 || fail "customer has $(sb_sink_count customer) of 6"
schema_check
pass "reverse: allow 127.0.0.1/32, ETRN from ::1 gets 459 and releases nothing; from 127.0.0.1 253"
stop_and_check_logs
pass "clean stop: no daemon ignored SIGTERM, no sanitizer report in any log"
