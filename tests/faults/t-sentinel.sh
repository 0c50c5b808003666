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
SN_PIDS= REPL_PID= send_pid=
SN_PORTS="$(free_port) $(free_port) $(free_port)"
REPL_PORT=$(free_port)
list=
for p in $SN_PORTS; do
	list="${list:+$list, }127.0.0.1:$p"
done
SB_ETRND=1 SB_EXTRA_CONF="flush_lock_time = 1s
reconcile_interval = 5s
redis_sentinels = $list
redis_master_name = oemaster" sb_start
. "$SB_SRCDIR/tests/lib/common.sh"
. "$SB_SRCDIR/tests/faults/lib.sh"
# shellcheck disable=SC2317 # the EXIT trap
sn_cleanup() {
	local rc=$1 p
	set +e
	[ -z "$send_pid" ] || kill "$send_pid" 2>/dev/null
	for p in $SN_PIDS $REPL_PID; do
		stop_pid "$p" 5
	done
	if [ "$rc" -ne 0 ] && [ "$rc" -ne 77 ]; then
		for p in "$SB"/sentinel-*.log "$SB/replica.log"; do
			sb_log_tail "$p" 15
		done
	fi
	sb_cleanup "$rc"
}
trap 'sn_cleanup $?' EXIT

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

mkdir -p "$SB/replica"
chmod 777 "$SB/replica"
REPL_SOCK=$SB/replica.sock
redis-server --port "$REPL_PORT" --bind 127.0.0.1 \
    --unixsocket "$REPL_SOCK" --unixsocketperm 777 --dir "$SB/replica" \
    --appendonly yes --save '' --daemonize no --repl-diskless-sync-delay 0 \
    --replicaof 127.0.0.1 "$REDIS_PORT" >"$SB/replica.log" 2>&1 &
REPL_PID=$!
i=0
for p in $SN_PORTS; do
	i=$((i + 1))
	cat >"$SB/sentinel-$i.conf" <<EOF
port $p
bind 127.0.0.1
daemonize no
dir $SB
sentinel monitor oemaster 127.0.0.1 $REDIS_PORT 2
sentinel down-after-milliseconds oemaster 1000
sentinel failover-timeout oemaster 4000
sentinel parallel-syncs oemaster 1
EOF
	redis-sentinel "$SB/sentinel-$i.conf" >"$SB/sentinel-$i.log" 2>&1 &
	SN_PIDS="$SN_PIDS $!"
done
sn() {
	redis-cli -p "${SN_PORTS%% *}" --raw "$@"
}
master_port() {
	sn SENTINEL get-master-addr-by-name oemaster | sed -n 2p
}
sees_replica() {
	[ "$(sn SENTINEL replicas oemaster | grep -c "^127.0.0.1:$REPL_PORT$")" = 1 ]
}
wait_for 20 sees_replica || fail "the Sentinels do not see the replica"
wait_for 20 eval '[ "$(redis-cli -s "$REPL_SOCK" --raw INFO replication |
    tr -d "\r" | grep "^master_link_status:")" = master_link_status:up ]' ||
    fail "the replica does not sync"
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
# wait_calls - how many WAIT the master at REDIS_SOCK has run
wait_calls() {
	sb_redis INFO commandstats | tr -d '\r' |
	    sed -n 's/^cmdstat_wait:calls=\([0-9]*\),.*/\1/p'
}
w0=$(wait_calls)
[ "${w0:-0}" -ge 20 ] || fail "intake without WAIT: ${w0:-0} WAIT calls"
old=$REDIS_PID
t0=$(ms_now)
redis_kill
wait_for 30 eval '[ "$(master_port)" = "$REPL_PORT" ]' ||
    fail "no failover: the Sentinels say $(master_port)"
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
REDIS_SOCK=$REPL_SOCK
export REDIS_SOCK
wait_for 30 sink_is internet $OTHER || fail "other mail: $(sb_sink_count internet) of $OTHER"
wait_for 30 hold_is $((N - OTHER)) || fail "held: $(sb_queue_count hold) of $((N - OTHER))"
# A record lost with the master is rebuilt by etrnd's own reconcile.
wait_for 20 redis_is $((N - OTHER)) ZCARD etrn:held:dialup.test ||
    fail "ZCARD on the new master: $(sb_redis ZCARD etrn:held:dialup.test)"
ledger --dialup held --settled --no-stale "$LOG" || fail "ledger after the failover"
redis_is $((N - OTHER)) HGET etrn:stats:dialup.test held || fail "stats held"
pass "all $N accepted after $tf dial-up tempfails, no 5xx; $((N - OTHER)) held once and indexed on the new master"

# 3. The old master comes back on its AOF, and becomes a replica.
"$SB_SANDBOX" redis-start "$SB" >/dev/null || fail "redis-start"
old_role() {
	redis-cli -p "$REDIS_PORT" --raw ROLE | head -n 1
}
wait_for 30 eval '[ "$(old_role)" = slave ]' ||
    fail "the old master is still $(old_role)"
old_link() {
	redis-cli -p "$REDIS_PORT" --raw INFO replication | tr -d '\r' |
	    grep '^master_link_status:'
}
wait_for 30 eval '[ "$(old_link)" = master_link_status:up ]' ||
    fail "the old master does not sync from the new one: $(old_link)"
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
