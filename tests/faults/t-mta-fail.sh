#!/bin/bash
# t-mta-fail - Postfix's postsuper (then postqueue) fails for a while:
# etrnd is pointed at a command directory (postfix_command_directory)
# whose postsuper and postqueue exit 75 while a flag file exists.
#   flush: the failed release is logged, nothing leaves the hold or is
#     marked released; etrnd tries the flush again by itself, and once
#     postsuper works that retry delivers each message once (no second
#     ETRN).
#   the wake-up of qmgr (postkick) failing after postsuper -H worked:
#     the failure is logged, the release stands (released=10); the
#     messages are followed and Postfix's own queue run delivers them,
#     each once.
#   expiry: with postsuper failing, no original is deleted and no DSN is
#     released; etrnd retries on its own, and once postsuper works every
#     sender gets exactly one DSN and nothing is left on hold.
set -eu
. "${top_srcdir:-$(dirname "$0")/../..}/tests/lib/sandbox.sh"
sb_init f-mtafail
. "$SB_SRCDIR/tests/faults/lib.sh"
mta_wrappers
BIN=$SB/bin
SB_ETRND=1 SB_EXTRA_CONF="flush_lock_time = 1s
postfix_command_directory = $BIN" sb_start
. "$SB_SRCDIR/tests/lib/common.sh"
ELOG=$SB/log/etrnd.log

# 1. The flush while postsuper fails.
LOG1=$SB/sent1.log
sendmany --count 20 --prefix fa --log "$LOG1" >/dev/null || fail "intake 1"
wait_for 20 hold_is 20 || fail "held: $(sb_queue_count hold)"
touch "$SB/postsuper.fail"
out=$(etrn dialup.test)
[ "$out" = "253 OK, 20 pending messages for node dialup.test started" ] || fail "$out"
wait_for 20 grep -q 'flush domain=dialup.test .*release of 20 messages failed' "$ELOG" ||
    fail "failed release not logged"
grep -q 'postsuper -c .* -H - FAILED' "$SB/mta-calls.log" || fail "postsuper -H not tried"
hold_is 20 || fail "left the hold: $(sb_queue_count hold)"
redis_is 0 ZCARD etrn:released:mx.lab.test || fail "marked released"
ledger --dialup held --settled --no-stale "$LOG1" || fail "ledger while failing"
pass "postsuper failing: release failure logged, all 20 still held and indexed"

grep -q 'flush domain=dialup.test client=127.0.0.1: release incomplete; retry 1 of 5 in 10 s' "$ELOG" ||
    fail "no retry set"
rm -f "$SB/postsuper.fail"
# No second ETRN: etrnd tries the flush again by itself.
wait_for 90 sink_is customer 20 || fail "delivered $(sb_sink_count customer) of 20"
grep -q 'flush domain=dialup.test client=127.0.0.1: retry [1-5] of 5' "$ELOG" ||
    fail "retry not logged"
wait_for 20 redis_is 0 ZCARD etrn:held:dialup.test || fail "index"
wait_for 20 redis_is 0 ZCARD etrn:released:mx.lab.test || fail "released index"
ledger --dialup deliver --settled --no-stale "$LOG1" || fail "ledger after the repair"
pass "postsuper back: etrnd's own retry of the flush delivered each of the 20 once, without another ETRN"

# 2. postkick fails after postsuper -H moved the mail out of hold (mail
# never tried is not scheduled by postqueue: one qmgr wake-up takes it).
LOG2=$SB/sent2.log
sendmany --count 10 --prefix fb --log "$LOG2" >/dev/null || fail "intake 2"
wait_for 20 hold_is 10 || fail "held: $(sb_queue_count hold)"
touch "$SB/postkick.fail"
sleep 1.2	# flush_lock_time
out=$(etrn dialup.test)
[ "$out" = "253 OK, 10 pending messages for node dialup.test started" ] || fail "$out"
# The failed kick is logged; the release stands (released=10).
wait_for 20 grep -q 'flush domain=dialup.test client=.* released=10 ' "$ELOG" ||
    fail "release not logged"
grep -q 'postkick failed' "$ELOG" || fail "postkick failure not logged"
# Postfix's own deferred queue run (queue_run_delay 10s) delivers them.
wait_for 60 sink_is customer 30 || fail "delivered $(sb_sink_count customer) of 30"
rm -f "$SB/postkick.fail"
wait_for 30 redis_is 0 ZCARD etrn:held:dialup.test || fail "index"
wait_for 30 redis_is 0 ZCARD etrn:released:mx.lab.test || fail "released index"
ledger --dialup deliver --settled --no-stale "$LOG1" "$LOG2" || fail "ledger"
redis_is 30 HGET etrn:stats:dialup.test flushed || fail "flushed counter"
pass "postkick failing: the 10 released anyway were followed and delivered once"

# 3. Expiry while postsuper fails.
sb_redis HSET etrn:domain:dialup2.test warn_time 0 >/dev/null
sleep 1.2	# domain_refresh
LOG3=$SB/sent3.log
sendmany --count 8 --prefix fc --to-fmt 'v{n}@dialup2.test' --log "$LOG3" >/dev/null ||
    fail "intake 3"
wait_for 20 redis_is 8 ZCARD etrn:held:dialup2.test || fail "not held"
touch "$SB/postsuper.fail"
ctl expire $(sb_hold_ids) >/dev/null || fail "etrnctl expire"
wait_for 30 grep -q 'queue: .* failed (.*); retrying' "$ELOG" ||
    fail "expiry failure not logged"
[ "$(dsn_count)" = 0 ] || fail "a DSN went out while postsuper failed"
redis_is 8 ZCARD etrn:held:dialup2.test || fail "records removed while failing"
for id in $(sb_redis ZRANGE etrn:held:dialup2.test 0 -1); do
	[ -f "$PF_SPOOL/hold/${id#mx.lab.test:}" ] || fail "$id deleted while failing"
done
pass "postsuper failing in expiry: originals kept on hold and indexed, no DSN out"

rm -f "$SB/postsuper.fail"
wait_for 60 redis_is 0 ZCARD etrn:held:dialup2.test || fail "not expired after the repair"
wait_for 30 eval '[ "$(dsn_count)" -ge 8 ]' || fail "DSNs: $(dsn_count) of 8"
wait_for 20 hold_is 0 || fail "left on hold: $(sb_queue_count hold)"
ledger --dialup dsn --settled --no-stale "$LOG3" || fail "ledger after expiry"
[ "$(dsn_count)" = 8 ] || fail "DSNs: $(dsn_count), want 8"
redis_is 8 HGET etrn:stats:dialup2.test expired || fail "expired counter"
grep -q 'queue: .* works again' "$ELOG" || fail "recovery not logged"
pass "postsuper back: etrnd retried by itself, one DSN per sender, nothing left"
