#!/bin/bash
# t-self-reconcile - Redis loses records and nobody runs etrnctl: etrnd's
# queue runner reconciles by itself every reconcile_interval (4 s here).
# One record deleted (DEL), then all of Redis emptied (FLUSHALL): within
# the interval every held message has its record again, with the token
# and deadline of its X-ETRN-Hold tag, and the counters are what they
# were (nothing counted twice; bytes too, the size coming from the tag's
# size=, the milter's count, not from the larger queue file); an ETRN
# counts and delivers each once;
# a message whose deadline comes after the loss is returned with one DSN
# at its original deadline.
set -eu
. "${top_srcdir:-$(dirname "$0")/../..}/tests/lib/sandbox.sh"
sb_init f-self-reconcile
SB_ETRND=1 SB_EXTRA_CONF=$'flush_lock_time = 1s\nreconcile_interval = 4s' \
    sb_start
. "$SB_SRCDIR/tests/lib/common.sh"
. "$SB_SRCDIR/tests/faults/lib.sh"

H=mx.lab.test
ELOG=$SB/log/etrnd.log
N=20
LOG=$SB/sent.log
LOGX=$SB/sent-x.log
# record_is QID TOKEN EXPIRES - the record has this token and deadline
record_is() {
	[ "$(field "$1" token)" = "$2" ] && [ "$(field "$1" expires)" = "$3" ] &&
	    [ "$(field "$1" state)" = held ]
}

# dialup2.test: a 45 s hold, no warning (the deadline comes after the
# loss and the rebuild); dialup.test: the default 5 days.
sb_redis HSET etrn:domain:dialup2.test hold_time 45 warn_time 0 >/dev/null
sleep 2		# domain_refresh = 1s
sendmany --count $N --prefix sr --log "$LOG" >/dev/null || fail "intake"
sendmany --count 1 --prefix sx --to-fmt 'x{n}@dialup2.test' --log "$LOGX" \
    >/dev/null || fail "intake x"
wait_for 30 hold_is $((N + 1)) || fail "held: $(sb_queue_count hold)"
wait_for 10 redis_is $N ZCARD etrn:held:dialup.test || fail "not indexed"
X=$(sb_redis ZRANGE etrn:held:dialup2.test 0 -1 | sed "s/^$H://")
[ -n "$X" ] || fail "no record for the dialup2.test message"
XTOK=$(field "$X" token)
XEXP=$(field "$X" expires)
XSIZE=$(field "$X" size)
bytes=$(sb_redis HGET etrn:stats:dialup.test bytes)

# 1. One record deleted: its index entries stay, only the record is lost.
A=$(sb_redis ZRANGE etrn:held:dialup.test 0 0 | sed "s/^$H://")
ATOK=$(field "$A" token)
AEXP=$(field "$A" expires)
sb_redis DEL "etrn:msg:$H:$A" >/dev/null
t0=$(date +%s)
wait_for 12 record_is "$A" "$ATOK" "$AEXP" ||
    fail "record $A not back: $(sb_redis HGETALL "etrn:msg:$H:$A" | tr '\n' ' ')"
t1=$(date +%s)
grep -q "$A: record rebuilt from its hold tag domain=dialup.test" "$ELOG" ||
    fail "no log line for $A"
redis_is $N HGET etrn:stats:dialup.test held || fail "held counter $(sb_redis HGET etrn:stats:dialup.test held)"
redis_is "$bytes" HGET etrn:stats:dialup.test bytes || fail "bytes counter"
redis_is $N ZCARD etrn:held:dialup.test || fail "held index"
redis_is "$AEXP" ZSCORE "etrn:expiry:$H" "$A" || fail "expiry index"
ledger --dialup held --settled --no-stale "$LOG" >/dev/null ||
    fail "ledger after DEL: $(ledger --dialup held --settled --no-stale "$LOG" | tail -3)"
pass "DEL of $A's record: rebuilt by etrnd in $((t1 - t0)) s, same token and deadline, counters unchanged ($N held, $bytes bytes)"

# 2. All of Redis lost.  The dial-up list went too: the domains are
# entered again (by hand, as after any such loss); the records come back
# by themselves.
sb_redis FLUSHALL >/dev/null
t0=$(date +%s)
ctl domains add dialup.test >/dev/null || fail "domains add"
ctl domains add dialup2.test >/dev/null || fail "domains add 2"
wait_for 12 redis_is $((N + 1)) ZCARD "etrn:expiry:$H" ||
    fail "expiry index: $(sb_redis ZCARD "etrn:expiry:$H") of $((N + 1))"
wait_for 5 record_is "$X" "$XTOK" "$XEXP" || fail "record $X"
wait_for 5 record_is "$A" "$ATOK" "$AEXP" || fail "record $A"
t1=$(date +%s)
redis_is $N HGET etrn:stats:dialup.test held || fail "held counter after FLUSHALL"
# The sizes come from the tags (size=, what the milter counted): the
# counter is back to the same value exactly, and it is the records' sum.
sum=0
for m in $(sb_redis ZRANGE etrn:held:dialup.test 0 -1 | sed "s/^$H://"); do
	sum=$((sum + $(field "$m" size)))
done
redis_is "$bytes" HGET etrn:stats:dialup.test bytes ||
    fail "bytes counter after FLUSHALL: $(sb_redis HGET etrn:stats:dialup.test bytes), $bytes before"
[ "$sum" = "$bytes" ] || fail "the records' sizes sum to $sum, not $bytes"
redis_is "$XSIZE" HGET etrn:stats:dialup2.test bytes ||
    fail "bytes dialup2: $(sb_redis HGET etrn:stats:dialup2.test bytes), $XSIZE before"
redis_is 1 HGET etrn:stats:dialup2.test held || fail "held counter dialup2"
redis_is $N ZCARD etrn:held:dialup.test || fail "held index after FLUSHALL"
[ "$(date +%s)" -lt "$XEXP" ] || fail "too slow: $X's deadline passed before the check"
ledger --dialup held --settled --no-stale "$LOG" "$LOGX" >/dev/null ||
    fail "ledger after FLUSHALL: $(ledger --dialup held --settled --no-stale "$LOG" "$LOGX" | tail -3)"
pass "FLUSHALL: all $((N + 1)) records rebuilt by etrnd within $((t1 - t0)) s, deadlines from the tags, counters right ($N held, $sum bytes as before the loss)"

# 3. ETRN counts and delivers each once.
wait_for 10 eval 'out=$(etrn dialup.test); [ "$out" = "253 OK, $N pending messages for node dialup.test started" ]' ||
    fail "ETRN: $(etrn dialup.test)"
wait_for 60 sink_is customer $N || fail "delivered $(sb_sink_count customer) of $N"
wait_for 20 redis_is 0 ZCARD etrn:held:dialup.test || fail "index after ETRN"
wait_for 20 redis_is 0 ZCARD "etrn:released:$H" || fail "released index"
ledger --dialup deliver --settled --no-stale "$LOG" || fail "ledger after ETRN"
redis_is $N HGET etrn:stats:dialup.test flushed || fail "flushed counter"
pass "ETRN after the loss: 253 with $N, each delivered exactly once"

# 4. The dialup2.test message at its original deadline: one DSN.
wait_for 60 eval '[ "$(dsn_count)" -ge 1 ]' || fail "no DSN by $(date +%s), deadline $XEXP"
d=$(dsns | head -n 1)
at=$(stat -c %Y "$d")
[ "$at" -ge "$XEXP" ] || fail "DSN at $at before the deadline $XEXP"
[ "$at" -le $((XEXP + 10)) ] || fail "DSN at $at, long after the deadline $XEXP"
sleep 9		# two more reconcile passes and many sweeps
[ "$(dsn_count)" = 1 ] || fail "$(dsn_count) DSNs"
ledger --dialup dsn --settled --no-stale "$LOGX" || fail "ledger of the expired one"
redis_is 1 HGET etrn:stats:dialup2.test expired || fail "expired counter"
redis_is 0 HGET etrn:stats:dialup2.test held || fail "held counter dialup2 after expiry"
hold_is 0 || fail "hold queue not empty: $(sb_queue_count hold)"
pass "past its deadline: one DSN at $at (deadline $XEXP, from the tag), none again"
