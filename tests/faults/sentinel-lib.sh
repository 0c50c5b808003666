# shellcheck shell=bash
# tests/faults/sentinel-lib.sh - a replica of the sandbox's Redis and
# three Sentinels watching it (as "oemaster"), for tests/faults/t-sentinel*.
# Source it after tests/lib/sandbox.sh and sb_init, before sb_start:
#
#   sn_init              pick the ports; SN_CONF: the openetrn.conf lines
#                        (SB_EXTRA_CONF) that point the programs at them
#   sn_start             (after sb_start) start the replica and the
#                        Sentinels; wait until the replica is in sync and
#                        the Sentinels see it
#   sn_stop RC           stop them by PID; on a failure show their logs
#   sn ARGS...           redis-cli to the first Sentinel
#   master_port          the master's port as the Sentinels say
#   wait_calls           WAIT commands run by the Redis at REDIS_SOCK
#   old_role, old_link   ROLE and master_link_status of the Redis on
#                        REDIS_PORT (the first master)
#   sn_failover          SIGKILL the master, wait for the Sentinels to
#                        name the replica; REDIS_SOCK is then the
#                        replica's (sb_redis, ledger.py)
#   sn_old_back          start the killed master again (its AOF), wait
#                        until it is a replica in sync

sn_init() {
	SN_PIDS= REPL_PID=
	SN_PORTS="$(free_port) $(free_port) $(free_port)"
	REPL_PORT=$(free_port)
	local p list=
	for p in $SN_PORTS; do
		list="${list:+$list, }127.0.0.1:$p"
	done
	SN_CONF="redis_sentinels = $list
redis_master_name = oemaster"
}

sn_start() {
	local i=0 p
	mkdir -p "$SB/replica"
	chmod 777 "$SB/replica"
	REPL_SOCK=$SB/replica.sock
	redis-server --port "$REPL_PORT" --bind 127.0.0.1 \
	    --unixsocket "$REPL_SOCK" --unixsocketperm 777 \
	    --dir "$SB/replica" --appendonly yes --save '' --daemonize no \
	    --repl-diskless-sync-delay 0 \
	    --replicaof 127.0.0.1 "$REDIS_PORT" >"$SB/replica.log" 2>&1 &
	REPL_PID=$!
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
		redis-sentinel "$SB/sentinel-$i.conf" \
		    >"$SB/sentinel-$i.log" 2>&1 &
		SN_PIDS="$SN_PIDS $!"
	done
	wait_for 20 sn_sees_replica || fail "the Sentinels do not see the replica"
	wait_for 20 eval '[ "$(sn_link "$REPL_PORT")" = master_link_status:up ]' ||
	    fail "the replica does not sync"
}

sn_stop() {
	local p
	for p in $SN_PIDS $REPL_PID; do
		stop_pid "$p" 5
	done
	if [ "$1" -ne 0 ] && [ "$1" -ne 77 ]; then
		for p in "$SB"/sentinel-*.log "$SB/replica.log"; do
			sb_log_tail "$p" 15
		done
	fi
}

sn() {
	redis-cli -p "${SN_PORTS%% *}" --raw "$@"
}

sn_sees_replica() {
	[ "$(sn SENTINEL replicas oemaster | grep -c "^127.0.0.1:$REPL_PORT$")" = 1 ]
}

sn_link() {
	redis-cli -p "$1" --raw INFO replication | tr -d '\r' |
	    grep '^master_link_status:'
}

master_port() {
	sn SENTINEL get-master-addr-by-name oemaster | sed -n 2p
}

wait_calls() {
	sb_redis INFO commandstats | tr -d '\r' |
	    sed -n 's/^cmdstat_wait:calls=\([0-9]*\),.*/\1/p'
}

old_role() {
	redis-cli -p "$REDIS_PORT" --raw ROLE | head -n 1
}

old_link() {
	sn_link "$REDIS_PORT"
}

sn_failover() {
	redis_kill
	wait_for 30 eval '[ "$(master_port)" = "$REPL_PORT" ]' ||
	    fail "no failover: the Sentinels say $(master_port)"
	REDIS_SOCK=$REPL_SOCK
	export REDIS_SOCK
}

sn_old_back() {
	"$SB_SANDBOX" redis-start "$SB" >/dev/null || fail "redis-start"
	wait_for 30 eval '[ "$(old_role)" = slave ]' ||
	    fail "the old master is still $(old_role)"
	wait_for 30 eval '[ "$(old_link)" = master_link_status:up ]' ||
	    fail "the old master does not sync from the new one: $(old_link)"
}
