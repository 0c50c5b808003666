#!/bin/bash
# t-sentinel - Redis under Sentinel: a master (the sandbox's Redis), a
# replica and three Sentinels on loopback ports; the milter, etrnd and
# etrnctl find the master through the Sentinels.
#  1. The daemons start while no Sentinel runs: they log why and retry.
#  2. 300 messages (150 dial-up) arrive while the master is killed with
#     SIGKILL and the Sentinels promote the replica: dial-up senders get
#     4xx while no master is known and succeed on retry, no 5xx; then
#     every dial-up message is on hold exactly once and indexed on the new
#     master (within a reconcile interval), and an ETRN delivers each once.
#  3. The old master, started again on its AOF, becomes a replica; no
#     client of ours runs a command on it (no EVAL, EVALSHA or WAIT in its
#     command statistics) and it gets everything from the new master,
#     whose writes are followed by WAIT again.
set -eu
. "${top_srcdir:-$(dirname "$0")/../..}/tests/lib/sandbox.sh"
command -v redis-sentinel >/dev/null 2>&1 || skip "redis-sentinel not installed"
sb_init f-sentinel
. "$SB_SRCDIR/tests/faults/sentinel-lib.sh"
send_pid=
sn_init
SB_ETRND=1 SB_EXTRA_CONF="flush_lock_time = 1s
reconcile_interval = 5s
$SN_CONF" sb_start
. "$SB_SRCDIR/tests/lib/common.sh"
. "$SB_SRCDIR/tests/faults/lib.sh"
trap 'rc=$?; set +e; [ -z "$send_pid" ] || kill "$send_pid"; sn_stop $rc; sb_cleanup $rc' EXIT

# 1. No Sentinel yet: a clear line, no crash.
wait_for 20 logged 1 "$SB/log/etrn-milter.log" \
    'master oemaster: no Sentinel gave master oemaster' ||
    wait_for 20 logged 1 "$SB/log/etrnd.log" \
    'master oemaster: no Sentinel gave master oemaster' ||
    fail "no line about the missing Sentinels"
out=$(ctl status 2>&1) && fail "etrnctl status without Sentinels: $out"
printf '%s\n' "$out" | grep -q 'no Sentinel gave master oemaster.*Connection refused' ||
    fail "etrnctl without Sentinels says: $out"
alive "$ETRND_PID" || fail "etrnd died without Sentinels"
alive "$MILTER_PID" || fail "etrn-milter died without Sentinels"
pass "no Sentinel at start: a clear error, the daemons wait and retry"

sn_start
wait_for 20 logged 1 "$SB/log/etrn-milter.log" \
    "redis: master oemaster is now 127.0.0.1:$REDIS_PORT" ||
    wait_for 20 logged 1 "$SB/log/etrnd.log" \
    "redis: master oemaster is now 127.0.0.1:$REDIS_PORT" ||
    fail "no line naming the master"
out=$(ctl status 2>&1) || fail "etrnctl status with Sentinels: $out"
pass "the Sentinels name the master and the daemons use it"

# 2. The failover under a stream of mail.
N=300 OTHER=150
LOG=$SB/sent.log
sendmany --count $N --other-every 2 --prefix sn --sessions 3 \
    --pace 0.05 --retry-for 90 --log "$LOG" >"$SB/sendmany.out" 2>&1 &
send_pid=$!
wait_for 60 eval '[ "$(progress "$LOG")" -ge 40 ]' || fail "stream too slow"
w0=$(wait_calls)
[ "${w0:-0}" -ge 20 ] || fail "intake without WAIT: ${w0:-0} WAIT calls"
old=$REDIS_PID
t0=$(ms_now)
sn_failover
t1=$(ms_now)
wait_for 30 logged 1 "$SB/log/etrn-milter.log" \
    "redis: master oemaster is now 127.0.0.1:$REPL_PORT \\(was 127.0.0.1:$REDIS_PORT\\)" ||
    fail "the milter did not log the new master"
pass "master $old killed after $w0 WAITs at intake; the replica promoted after $((t1 - t0)) ms"

wait "$send_pid" || fail "not every message was accepted in the end: $(tail -n 3 "$SB/sendmany.out")"
send_pid=
tf=$(grep -c '^attempt .*@dialup\.test 4[0-9][0-9] ' "$LOG" || true)
[ "$tf" -ge 1 ] || fail "no dial-up sender got a 4xx during the failover"
[ "$(grep -c '^attempt .* 5[0-9][0-9] ' "$LOG" || true)" = 0 ] ||
    fail "a 5xx: $(grep '^attempt .* 5[0-9][0-9] ' "$LOG" | head -3)"
wait_for 30 sink_is internet $OTHER || fail "other mail: $(sb_sink_count internet) of $OTHER"
wait_for 30 hold_is $((N - OTHER)) || fail "held: $(sb_queue_count hold) of $((N - OTHER))"
# A record lost with the master is rebuilt by etrnd's own reconcile.
wait_for 20 redis_is $((N - OTHER)) ZCARD etrn:held:dialup.test ||
    fail "ZCARD on the new master: $(sb_redis ZCARD etrn:held:dialup.test)"
ledger --dialup held --settled --no-stale "$LOG" || fail "ledger after the failover"
redis_is $((N - OTHER)) HGET etrn:stats:dialup.test held || fail "stats held"
pass "all $N accepted after $tf dial-up tempfails, no 5xx; $((N - OTHER)) held once and indexed on the new master"

# 3. The old master comes back on its AOF, and becomes a replica.
sn_old_back
# The pools count the replicas again within a second when they had none.
sleep 2
out=$(etrn dialup.test)
[ "$out" = "253 OK, $((N - OTHER)) pending messages for node dialup.test started" ] || fail "$out"
wait_for 60 sink_is customer $((N - OTHER)) ||
    fail "delivered $(sb_sink_count customer) of $((N - OTHER))"
wait_for 20 redis_is 0 ZCARD etrn:held:dialup.test || fail "index not empty"
wait_for 20 redis_is 0 ZCARD etrn:released:mx.lab.test ||
    fail "released index not empty"
ledger --dialup deliver --settled --no-stale "$LOG" || fail "ledger after ETRN"
# Scripts reach a replica as their effects (HSET, ZADD...), never as
# EVAL or EVALSHA; WAIT is not replicated at all.
stats=$(redis-cli -p "$REDIS_PORT" --raw INFO commandstats | tr -d '\r')
if printf '%s\n' "$stats" | grep -E '^cmdstat_(eval|evalsha|wait):'; then
	fail "a client ran a command on the old master"
fi
keys_same() {
	[ "$(redis-cli -p "$REDIS_PORT" DBSIZE)" = "$(sb_redis DBSIZE)" ]
}
# The writes of the ETRN went to the new master, with WAIT: it has a
# replica again.
waits=$(wait_calls)
[ "${waits:-0}" -ge 1 ] || fail "no WAIT on the new master: $(sb_redis ROLE | tr "\n" " "); $(sb_redis INFO commandstats | tr -d "\r" | cut -d, -f1 | tr "\n" " ")"
wait_for 20 keys_same || fail "old master: $(redis-cli -p "$REDIS_PORT" DBSIZE) keys, new: $(sb_redis DBSIZE)"
pass "old master back as a replica, written by none of ours; ETRN delivered each of $((N - OTHER)) once ($waits WAITs on the new master)"
