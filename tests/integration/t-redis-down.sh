#!/bin/bash
# t-redis-down - with Redis stopped or hung, a sender of dial-up mail gets
# 451 4.3.0 within the Redis timeout and nothing is lost or held unindexed;
# other mail still flows; when Redis is back mail is held again.  With
# on_redis_error = accept, dial-up mail passes unheld.
set -eu
. "${top_srcdir:-$(dirname "$0")/../..}/tests/lib/sandbox.sh"
sb_init redisdown
sb_start
. "$SB_SRCDIR/tests/lib/common.sh"

sb_swaks -f s@example.org -t before@dialup.test >/dev/null || fail "swaks"
wait_for 10 hold_is 1 || fail "baseline not held"

"$SB_SANDBOX" redis-stop "$SB" >/dev/null || fail "redis-stop"
start=$(date +%s)
out=$(sb_swaks -f s@example.org -t down@dialup.test 2>&1) &&
    fail "dial-up mail accepted with Redis down: $out"
printf '%s\n' "$out" | grep -q '451 4.3.0' || fail "want 451 4.3.0, got: $out"
[ $(($(date +%s) - start)) -le 10 ] || fail "tempfail took too long"
sleep 1
hold_is 1 || fail "something new was held without a record"
[ "$(sb_sink_count customer)" = 0 ] || fail "dial-up mail delivered"
grep -q 'tempfail: domain=dialup.test reason=' "$MILTER_LOG" ||
    fail "tempfail not logged"
pass "Redis stopped: 451 4.3.0, nothing held or delivered"

sb_swaks -f s@example.org -t other@example.com >/dev/null ||
    fail "normal mail refused while Redis is down"
wait_for 10 sink_is internet 1 || fail "normal mail not delivered"
pass "Redis stopped: other mail still delivered"

"$SB_SANDBOX" redis-start "$SB" >/dev/null || fail "redis-start"
. "$SB/env"		# the new REDIS_PID
out=$(sb_swaks -f s@example.org -t down@dialup.test 2>&1) ||
    fail "retry refused: $out"
wait_for 10 hold_is 2 || fail "retry not held"
redis_is 2 ZCARD etrn:held:dialup.test || fail "index lost over the restart"
pass "Redis back: the retried message is held and the index survived"

# A hung Redis (SIGSTOP): the milter gives up after redis_timeout (1s).
kill -STOP "$REDIS_PID"
start=$(date +%s)
out=$(sb_swaks -f s@example.org -t hung@dialup.test 2>&1) || true
kill -CONT "$REDIS_PID"
printf '%s\n' "$out" | grep -q '451 4.3.0' || fail "hung Redis: $out"
[ $(($(date +%s) - start)) -le 15 ] || fail "hung Redis: took too long"
sleep 1
hold_is 2 || fail "hung Redis: something new was held"
pass "Redis hung: 451 4.3.0 after the timeout"

echo "on_redis_error = accept" >> "$OPENETRN_CONF"
kill -USR1 "$MILTER_PID"
wait_for 10 grep -q "reloaded $OPENETRN_CONF" "$MILTER_LOG" ||
    fail "reload not logged"
"$SB_SANDBOX" redis-stop "$SB" >/dev/null || fail "redis-stop"
out=$(sb_swaks -f s@example.org -t accepted@dialup.test 2>&1) ||
    fail "on_redis_error = accept refused the mail: $out"
wait_for 10 sink_is customer 1 || fail "accepted mail not delivered"
hold_is 2 || fail "accepted mail was held"
grep -q 'accepted without hold: domain=dialup.test' "$MILTER_LOG" ||
    fail "accept not logged"
pass "on_redis_error = accept: dial-up mail passes unheld and is logged"
