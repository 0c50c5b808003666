#!/bin/bash
# t-sentinel-flush - Redis under Sentinel (tests/faults/sentinel-lib.sh):
# the master is killed (SIGKILL) while etrnd releases and follows an
# ETRN flush of 300 held messages, and the Sentinels promote the
# replica.  Every message is delivered exactly once or still held; a
# second ETRN to the new master delivers the rest, each once; the index
# and the counters on the new master add up.
set -eu
. "${top_srcdir:-$(dirname "$0")/../..}/tests/lib/sandbox.sh"
command -v redis-sentinel >/dev/null 2>&1 || skip "redis-sentinel not installed"
sb_init f-snflush
. "$SB_SRCDIR/tests/faults/sentinel-lib.sh"
sn_init
SB_ETRND=1 SB_EXTRA_CONF="flush_lock_time = 1s
reconcile_interval = 5s
$SN_CONF" sb_start
. "$SB_SRCDIR/tests/lib/common.sh"
. "$SB_SRCDIR/tests/faults/lib.sh"
trap 'rc=$?; set +e; stop_customer; sn_stop $rc; sb_cleanup $rc' EXIT
sn_start
wait_for 20 logged 1 "$SB/log/etrnd.log" \
    "redis: master oemaster is now 127.0.0.1:$REDIS_PORT" ||
    fail "etrnd did not find the master"

N=300
LOG=$SB/sent.log
sendmany --count $N --prefix sf --sessions 4 --retry-for 30 --log "$LOG" \
    >"$SB/sendmany.out" 2>&1 || fail "intake: $(cat "$SB/sendmany.out")"
wait_for 60 hold_is $N || fail "held: $(sb_queue_count hold) of $N"
wait_for 10 redis_is $N ZCARD etrn:held:dialup.test || fail "not all indexed"
pass "$N messages held and indexed through the Sentinels"
# A customer that takes a second per message (20 at a time), so that the
# release is still being followed when the master dies.
slow_customer 1

out=$(etrn dialup.test)
[ "$out" = "253 OK, $N pending messages for node dialup.test started" ] || fail "$out"
wait_for 30 eval '[ "$(sb_sink_count customer)" -ge 1 ]' || fail "no delivery started"
t0=$(ms_now)
sn_failover
t1=$(ms_now)
got=$(sb_sink_count customer)
[ "$got" -lt $N ] || fail "all $N delivered before the failover"
wait_for 30 logged 1 "$SB/log/etrnd.log" \
    "redis: master oemaster is now 127.0.0.1:$REPL_PORT \\(was 127.0.0.1:$REDIS_PORT\\)" ||
    fail "etrnd did not log the new master"
pass "master killed after $got of $N deliveries; replica promoted after $((t1 - t0)) ms"

# What was released is delivered; what was not is still held.  Settle.
settled() {
	[ "$(sb_queue_count deferred)" = 0 ] && [ "$(sb_queue_count active)" = 0 ] &&
	    [ "$(sb_queue_count incoming)" = 0 ]
}
wait_for 90 settled || fail "the queue does not settle"
left=$(sb_queue_count hold)
delivered=$(sb_sink_count customer)
[ $((left + delivered)) = $N ] ||
    fail "$delivered delivered + $left held != $N"
# Tracking spaces its passes by the delivery rate (up to 10 s): the
# records of the last messages delivered go at its next pass.
wait_for 30 ledger --dialup any --settled --no-stale "$LOG" >/dev/null ||
    { ledger --dialup any --settled --no-stale "$LOG"; fail "ledger after the failover"; }
pass "after the failover: $delivered delivered once, $left still held and indexed"

wait_for 20 redis_is "$left" ZCARD etrn:held:dialup.test ||
    fail "held index $(sb_redis ZCARD etrn:held:dialup.test), queue $left"
if [ "$left" -gt 0 ]; then
	wait_for 20 eval 'out=$(etrn dialup.test); [ "$out" = "253 OK, $left pending messages for node dialup.test started" ]' ||
	    fail "second ETRN: $out"
fi
wait_for 90 sink_is customer $N || fail "delivered $(sb_sink_count customer) of $N"
wait_for 30 redis_is 0 ZCARD etrn:held:dialup.test ||
    fail "index: $(sb_redis ZCARD etrn:held:dialup.test) left"
wait_for 30 redis_is 0 ZCARD etrn:released:mx.lab.test || fail "released index"
hold_is 0 || fail "left on hold: $(sb_queue_count hold)"
ledger --dialup deliver --settled --no-stale "$LOG" || fail "ledger"
redis_is 0 HGET etrn:stats:dialup.test held ||
    fail "held counter $(sb_redis HGET etrn:stats:dialup.test held)"
pass "a second ETRN to the new master: all $N delivered exactly once, index empty"
