#!/bin/bash
# t-postsuper-requeue - an administrator runs "postsuper -r ALL" while
# mail is held.  Postfix (3.7 here) requeues the held files through
# pickup and cleanup with new queue IDs, out of the hold: they are
# delivered to the customer at once, without ETRN, and are no longer
# held by openetrn.  The records keep the old queue IDs: they must not
# deliver anything a second time nor send a DSN.  A record whose
# deadline comes first is dropped by expiry without a DSN; the others
# are dropped by etrnd's own reconcile pass (reconcile_interval); the
# counters come back to zero; an ETRN afterwards releases nothing.
set -eu
. "${top_srcdir:-$(dirname "$0")/../..}/tests/lib/sandbox.sh"
sb_init f-postsuper-requeue
SB_ETRND=1 SB_EXTRA_CONF=$'flush_lock_time = 1s\nreconcile_interval = 20s' \
    sb_start
. "$SB_SRCDIR/tests/lib/common.sh"
. "$SB_SRCDIR/tests/faults/lib.sh"

H=mx.lab.test
ELOG=$SB/log/etrnd.log
N=10
LOG=$SB/sent.log
LOGX=$SB/sent-x.log

# dialup2.test: a 12 s hold (its deadline comes before the next
# reconcile pass); dialup.test: 5 days.
sb_redis HSET etrn:domain:dialup2.test hold_time 12 warn_time 0 >/dev/null
sleep 2		# domain_refresh = 1s
sendmany --count $N --prefix rq --log "$LOG" >/dev/null || fail "intake"
sendmany --count 1 --prefix rx --to-fmt 'x{n}@dialup2.test' --log "$LOGX" \
    >/dev/null || fail "intake x"
wait_for 30 hold_is $((N + 1)) || fail "held: $(sb_queue_count hold)"
wait_for 10 redis_is $((N + 1)) ZCARD "etrn:expiry:$H" || fail "not indexed"
old=$(sb_hold_ids | sort)
X=$(sb_redis ZRANGE etrn:held:dialup2.test 0 -1 | sed "s/^$H://")
XEXP=$(field "$X" expires)

postsuper -c "$PF_CONF" -r ALL 2>/dev/null || fail "postsuper -r ALL"
postkick -c "$PF_CONF" public pickup W || fail "postkick pickup"
wait_for 30 sink_is customer $((N + 1)) ||
    fail "requeued mail: $(sb_sink_count customer) delivered of $((N + 1))"
hold_is 0 || fail "still on hold: $(sb_queue_count hold)"
orig=$(grep -c "postfix/pickup.*orig_id=" "$PF_LOG" || true)
[ "$orig" = $((N + 1)) ] || fail "pickup requeued $orig of $((N + 1))"
for q in $old; do
	grep -q "orig_id=$q\$" "$PF_LOG" || fail "$q not requeued"
done
pass "postsuper -r ALL: $((N + 1)) held files requeued with new queue IDs, out of the hold, delivered at once by Postfix"

# The old records: the dialup2.test one at its deadline (no file: no
# DSN), the others at etrnd's next reconcile pass.
wait_for 40 redis_is 0 ZCARD "etrn:expiry:$H" ||
    fail "records left: $(sb_redis ZRANGE "etrn:expiry:$H" 0 -1 | tr '\n' ' ')"
redis_is 0 ZCARD etrn:held:dialup.test || fail "held index"
redis_is 0 ZCARD etrn:held:dialup2.test || fail "held index 2"
redis_is 0 HGET etrn:stats:dialup.test held || fail "held counter"
redis_is 0 HGET etrn:stats:dialup.test bytes || fail "bytes counter"
redis_is 0 HGET etrn:stats:dialup2.test held || fail "held counter 2"
[ -z "$(sb_redis KEYS "etrn:msg:$H:*")" ] || fail "records left"
dropped=$(grep -c ": record dropped domain=dialup.test reason=\"no queue file\"" "$ELOG" || true)
[ "$dropped" = $N ] || fail "reconcile dropped $dropped of $N"
if grep -q "$X: record dropped at its deadline: no queue file" "$ELOG"; then
	how="expiry at its deadline"
elif grep -q "$X: record dropped domain=dialup2.test" "$ELOG"; then
	how="the reconcile pass"
else
	fail "how was $X's record dropped?"
fi
pass "old records dropped: $N by etrnd's reconcile pass (logged with their queue IDs), $X by $how; counters 0"

# Nothing twice: ETRN finds nothing, no DSN after the deadline.
out=$(etrn dialup.test)
case $out in 253*) fail "ETRN after the requeue: $out" ;; esac
now=$(date +%s)
[ "$now" -gt $((XEXP + 3)) ] || sleep $((XEXP + 3 - now))
sleep 2
[ "$(dsn_count)" = 0 ] || fail "$(dsn_count) DSNs"
sink_is customer $((N + 1)) || fail "delivered $(sb_sink_count customer)"
ledger --dialup deliver --settled --no-stale "$LOG" "$LOGX" || fail "ledger"
pass "nothing delivered or returned twice: ETRN answers \"${out%%,*}\", no DSN past the deadline, $((N + 1)) deliveries"
