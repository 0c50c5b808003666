#!/bin/bash
# t-postfix - etrn-policy in a private Postfix: ETRN sent to Postfix's own
# smtpd (fetchmail --protocol ETRN and tests/lib/etrn.py; swaks has no
# ETRN) is authorized by etrn-policy through smtpd_etrn_restrictions and
# releases the held mail to the customer's host through etrnd; a client
# outside the domain's allow list gets 459 and nothing is released; a
# domain whose held mail is at its quota gets 452 4.2.2 for new
# recipients through smtpd_recipient_restrictions (seen with swaks), and
# takes mail again once it was fetched.
set -eu
. "${top_srcdir:-$(dirname "$0")/../..}/tests/lib/sandbox.sh"
sb_init policy
[ -x "${OPENETRN_BUILDDIR:-${top_builddir:-$SB_SRCDIR}}/policy/etrn-policy" ] ||
    skip "etrn-policy not built"
command -v fetchmail >/dev/null || skip "fetchmail not installed"
policy=unix:openetrn/policy.sock	# relative: the public smtpd is chrooted
SB_ETRND=1 SB_POLICY=1 SB_EXTRA_CONF="flush_lock_time = 1s" \
    SB_EXTRA_MAIN_CF="smtpd_etrn_restrictions = check_policy_service $policy
smtpd_recipient_restrictions = check_policy_service $policy
fast_flush_domains = \$relay_domains" sb_start
. "$SB_SRCDIR/tests/lib/common.sh"

for i in 1 2; do
	sb_swaks -f s@example.org -t "u$i@dialup.test" >/dev/null || fail "swaks"
done
sb_swaks -f s@example.org -t v@dialup2.test >/dev/null || fail "swaks"
wait_for 10 hold_is 3 || fail "mail not held"
pass "3 messages held (the policy lets recipients within quota pass)"

# Quota: dialup.test may hold 2 messages; the third recipient is refused.
sb_redis HSET etrn:domain:dialup.test max_messages 2 >/dev/null
out=$(sb_swaks -f s@example.org -t u3@dialup.test 2>&1) &&
    fail "swaks: mail over quota accepted: $out"
printf '%s\n' "$out" | grep -q '452 4.2.2 <u3@dialup.test>: Recipient address rejected: Held mail for dialup.test is over its quota: 2 messages, limit 2' ||
    fail "quota: $out"
hold_is 3 || fail "hold queue: $(sb_queue_count hold)"
[ "$(sb_queue_count deferred)" = 0 ] && [ "$(sb_queue_count active)" = 0 ] ||
    fail "mail over quota was queued"
out=$(sb_swaks -f s@example.org -t w@dialup2.test 2>&1) ||
    fail "other dial-up domain refused: $out"
wait_for 10 hold_is 4 || fail "dialup2 mail not held"
pass "over quota: Postfix answers 452 4.2.2; other domains take mail"

# Not authorized: dialup2.test allows only 192.0.2.0/24.
sb_redis HSET etrn:domain:dialup2.test allow 192.0.2.0/24 >/dev/null
sleep 2		# domain_refresh = 1s
out=$(smtpd_etrn dialup2.test)
[ "$out" = "459 4.7.1 <dialup2.test>: Etrn command rejected: ETRN not allowed here" ] ||
    fail "459: $out"
out=$(smtpd_etrn example.com)
case $out in
"459 4.7.1 <example.com>: Etrn command rejected: ETRN not allowed here") ;;
*) fail "459 not dial-up: $out" ;;
esac
sleep 2
hold_is 4 || fail "something was released for an unauthorized client"
[ "$(sb_redis XLEN etrn:flush)" = 0 ] || fail "a flush was queued"
[ "$(sb_sink_count customer)" = 0 ] || fail "customer got mail"
grep -q 'etrn client=127.0.0.1 domain=dialup2.test action=459' \
    "$SB/log/etrn-policy.log" || fail "no log line for the refusal"
pass "459 from Postfix for an unauthorized client; nothing released"

# Authorized: fetchmail sends ETRN to Postfix's smtpd; Postfix says 250.
out=$(cd "$SB" && HOME=$SB fetchmail --nosyslog --fetchmailrc /dev/null -v \
    --protocol ETRN --fetchdomains dialup.test --service "$SMTP_PORT" \
    127.0.0.1 2>&1) || true
printf '%s\n' "$out" | grep -q '250 Queuing started' || fail "fetchmail: $out"
wait_for 20 sink_is customer 2 || fail "customer got $(sb_sink_count customer) of 2"
wait_for 10 redis_is 0 ZCARD etrn:held:dialup.test || fail "index not emptied"
wait_for 10 hold_is 2 || fail "hold queue: $(sb_queue_count hold)"
[ "$(sb_redis XRANGE etrn:flush - + | grep -c '^dialup.test$')" = 1 ] ||
    fail "flush request: $(sb_redis XRANGE etrn:flush - +)"
redis_is 127.0.0.1 HGET etrn:stats:dialup.test last_etrn_client ||
    fail "last_etrn_client"
sb_sink_grep customer 'u1@dialup.test' >/dev/null || fail "u1 not delivered"
pass "ETRN through Postfix: 250, held mail delivered to the customer"

# Within quota again: mail is held again.
sb_swaks -f s@example.org -t u3@dialup.test >/dev/null ||
    fail "mail refused after the domain was fetched"
wait_for 10 hold_is 3 || fail "new mail not held"
pass "after the fetch the domain takes mail again"

# The same ETRN from the same client with tests/lib/etrn.py: 250 again.
sleep 1.5	# flush_lock_time
out=$(smtpd_etrn dialup.test)
[ "$out" = "250 Queuing started" ] || fail "etrn.py: $out"
wait_for 20 sink_is customer 3 || fail "customer got $(sb_sink_count customer) of 3"
pass "second ETRN releases the new message"
