#!/bin/bash
# t-redis-kill-flush - Redis killed (SIGKILL) while etrnd releases and
# follows a flush of 300 held messages, and started again on its AOF
# (appendfsync always).  While it is away an ETRN gets 458 and delivery
# goes on; afterwards every message reached the customer exactly once,
# nothing is left on hold, in the queue or in the index, and the
# counters add up (flushed 300, held 0).
set -eu
. "${top_srcdir:-$(dirname "$0")/../..}/tests/lib/sandbox.sh"
sb_init f-rflush
export SB_REDIS_APPENDFSYNC=always
SB_ETRND=1 SB_EXTRA_CONF="flush_lock_time = 1s" sb_start
. "$SB_SRCDIR/tests/lib/common.sh"
. "$SB_SRCDIR/tests/faults/lib.sh"
trap 'rc=$?; set +e; stop_customer; sb_cleanup $rc' EXIT

N=300
LOG=$SB/sent.log
sendmany --count $N --prefix fl --sessions 4 --log "$LOG" >"$SB/sendmany.out" 2>&1 ||
    fail "intake: $(cat "$SB/sendmany.out")"
wait_for 60 hold_is $N || fail "held: $(sb_queue_count hold) of $N"
wait_for 10 redis_is $N ZCARD etrn:held:dialup.test || fail "not all indexed"
pass "$N messages held and indexed"
# A customer that takes a second per message (20 at a time), so that the
# release is still being followed when Redis dies.
slow_customer 1

out=$(etrn dialup.test)
[ "$out" = "253 OK, $N pending messages for node dialup.test started" ] || fail "$out"
wait_for 30 eval '[ "$(sb_sink_count customer)" -ge 1 ]' || fail "no delivery started"
redis_kill
got=$(sb_sink_count customer)
[ "$got" -lt $N ] || fail "all $N delivered before Redis was killed"
out=$(etrn dialup.test)
case $out in
"458 Unable to queue messages for node dialup.test") ;;
*) fail "ETRN with Redis down: $out" ;;
esac
# Postfix goes on delivering what was released.
wait_for 30 eval '[ "$(sb_sink_count customer)" -gt '"$got"' ]' ||
    fail "delivery stopped with Redis"
redis_back
pass "Redis killed after $got of $N deliveries: ETRN got 458, delivery went on"

wait_for 60 sink_is customer $N || fail "delivered $(sb_sink_count customer) of $N"
wait_for 30 redis_is 0 ZCARD etrn:held:dialup.test ||
    fail "index: $(sb_redis ZCARD etrn:held:dialup.test) left"
wait_for 30 redis_is 0 ZCARD etrn:released:mx.lab.test || fail "released index"
hold_is 0 || fail "left on hold: $(sb_queue_count hold)"
ledger --dialup deliver --settled --no-stale "$LOG" || fail "ledger"
redis_is $N HGET etrn:stats:dialup.test flushed ||
    fail "flushed $(sb_redis HGET etrn:stats:dialup.test flushed)"
redis_is 0 HGET etrn:stats:dialup.test held ||
    fail "held counter $(sb_redis HGET etrn:stats:dialup.test held)"
grep -q 'redis: working again' "$SB/log/etrnd.log" || fail "no recovery logged"
pass "after the restart: $N delivered exactly once, index and counters consistent"
