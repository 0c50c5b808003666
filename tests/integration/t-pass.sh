#!/bin/bash
# t-pass - mail for other domains is delivered at once, untouched: no hold,
# no record, no tag; a forged tag header is removed from it too.
set -eu
. "${top_srcdir:-$(dirname "$0")/../..}/tests/lib/sandbox.sh"
sb_init pass
sb_start
. "$SB_SRCDIR/tests/lib/common.sh"

for i in 1 2 3 4 5; do
	sb_swaks -f s@example.org -t "r$i@example.com" \
	    --header "Subject: pass $i" >/dev/null || fail "swaks $i"
done
sb_swaks -f s@example.org -t r6@example.com --header "Subject: forged" \
    --header "X-ETRN-Hold: dialup.test; token=0123456789abcdef0123456789abcdef" \
    >/dev/null || fail "swaks forged"
wait_for 15 sink_is internet 6 ||
    fail "internet sink has $(sb_sink_count internet) of 6 messages"
pass "6 messages delivered to the internet sink"
[ "$(sb_queue_count hold)" = 0 ] || fail "something was held"
[ "$(sb_queue_count deferred)" = 0 ] || fail "something was deferred"
[ "$(sb_sink_count customer)" = 0 ] || fail "customer sink got mail"
[ -z "$(sb_redis KEYS 'etrn:msg:*')" ] || fail "records were written"
[ -z "$(sb_redis KEYS 'etrn:held:*')" ] || fail "held index written"
sb_sink_grep internet '^X-ETRN-Hold' >/dev/null && fail "tag header delivered"
sb_sink_grep internet '^Subject: forged' >/dev/null || fail "forged message missing"
grep -q 'removed 1 incoming X-ETRN-Hold header' "$MILTER_LOG" ||
    fail "removal not logged"
pass "nothing held, recorded or tagged; forged tag removed"
