#!/bin/bash
# t-flushall - Redis loses all its data (FLUSHALL, as after a restart
# without persistence): the held mail stays in the hold queue; ETRN is
# refused until the dial-up domains are entered again; etrnctl reconcile
# rebuilds the index from the X-ETRN-Hold tags; then an ETRN delivers
# every message exactly once.  Meanwhile new mail for the domain is not
# held (the list of dial-up domains was in Redis too) but not lost.  (tests/etrnd/t-reconcile.sh checks the
# rebuilt records field by field; this test follows the mail through.)
set -eu
. "${top_srcdir:-$(dirname "$0")/../..}/tests/lib/sandbox.sh"
sb_init f-flushall
SB_ETRND=1 SB_EXTRA_CONF="flush_lock_time = 1s" sb_start
. "$SB_SRCDIR/tests/lib/common.sh"
. "$SB_SRCDIR/tests/faults/lib.sh"

N=40
LOG=$SB/sent.log
sendmany --count $N --prefix fa --sessions 2 --log "$LOG" >/dev/null || fail "intake"
wait_for 30 hold_is $N || fail "held: $(sb_queue_count hold)"
wait_for 10 redis_is $N ZCARD etrn:held:dialup.test || fail "not indexed"

sb_redis FLUSHALL >/dev/null
wait_for 10 eval 'out=$(etrn dialup.test); case $out in 45[89]*) true ;; *) false ;; esac' ||
    fail "ETRN after FLUSHALL: $(etrn dialup.test)"
hold_is $N || fail "the hold queue changed"
ledger --dialup any "$LOG" >/dev/null && fail "the ledger found the index intact"
pass "FLUSHALL: index gone, $N messages still on hold, ETRN refused ($(etrn dialup.test | cut -c1-3))"

# Mail arriving while the domain list is gone is not held (the milter's
# list is refreshed from Redis every second here): it goes on like any
# other mail, to the customer's host.  It must not be lost either.
sleep 1.2	# domain_refresh
LOGZ=$SB/sent-z.log
sendmany --count 2 --prefix fz --log "$LOGZ" >/dev/null || fail "intake while empty"
wait_for 30 sink_is customer 2 || fail "not delivered: $(sb_sink_count customer)"
ledger --dialup deliver --settled "$LOGZ" || fail "ledger while empty"
hold_is $N || fail "held while the domain list was gone"
pass "domain list gone: new dial-up mail passes unheld (delivered), not lost"

ctl domains add dialup.test >/dev/null || fail "domains add"
out=$(ctl reconcile) || fail "reconcile: $out"
printf '%s\n' "$out" | grep -q "^reconcile: held=$N ok=0 rebuilt=$N dropped=0 skipped=0$" ||
    fail "reconcile: $(printf '%s\n' "$out" | tail -n 2)"
ledger --dialup held --settled --no-stale "$LOG" || fail "ledger after reconcile"
redis_is $N HGET etrn:stats:dialup.test held || fail "held counter"
pass "domain entered again, reconcile rebuilt $N records: all held and indexed"

wait_for 10 eval 'out=$(etrn dialup.test); [ "$out" = "253 OK, $N pending messages for node dialup.test started" ]' ||
    fail "ETRN: $(etrn dialup.test)"
wait_for 60 sink_is customer $((N + 2)) || fail "delivered $(sb_sink_count customer) of $N"
wait_for 20 redis_is 0 ZCARD etrn:held:dialup.test || fail "index"
wait_for 20 redis_is 0 ZCARD etrn:released:mx.lab.test || fail "released index"
ledger --dialup deliver --settled --no-stale "$LOG" || fail "ledger after ETRN"
redis_is $N HGET etrn:stats:dialup.test flushed || fail "flushed counter"
pass "ETRN after reconcile: all $N delivered exactly once"
