#!/bin/bash
# t-sentinel-config - what etrnctl says when the Sentinels cannot give a
# master: none reachable (each one's error, exit 1, no crash), a master
# name they do not know (named), a master refusing writes (MISCONF: the
# master is asked for again), and a "master" whose ROLE says replica
# (a stand-in Sentinel names the replica: it is refused, nothing is
# written to it).  Real redis-server and redis-sentinel on loopback ports.
set -eu
. "${top_srcdir:-$(dirname "$0")/../..}/tests/lib/core.sh"
builddir=${OPENETRN_BUILDDIR:-${top_builddir:-$(dirname "$0")/../..}}
command -v redis-sentinel >/dev/null 2>&1 || skip "redis-sentinel not installed"
command -v redis-server >/dev/null 2>&1 || skip "redis-server not installed"
T=$(mktemp -d "${TMPDIR:-/tmp}/openetrn-sncfg.XXXX")
PIDS=
# shellcheck disable=SC2317 # the EXIT trap
cleanup() {
	local rc=$1 p
	set +e
	for p in $PIDS; do
		stop_pid "$p" 5
	done
	if [ "$rc" -ne 0 ]; then
		for p in "$T"/*.log; do
			echo "---- $p" >&2
			tail -n 10 "$p" >&2
		done
	fi
	rm -rf "$T"
	exit "$rc"
}
trap 'cleanup $?' EXIT

M_PORT=$(free_port) R_PORT=$(free_port) S_PORT=$(free_port)
DEAD1=$(free_port) DEAD2=$(free_port) FAKE_PORT=$(free_port)
redis-server --port "$M_PORT" --bind 127.0.0.1 --save '3600 1' --appendonly no \
    --enable-protected-configs local \
    --dir "$T" >"$T/master.log" 2>&1 &
PIDS="$PIDS $!"
redis-server --port "$R_PORT" --bind 127.0.0.1 --save '' --appendonly no \
    --dir "$T" --replicaof 127.0.0.1 "$M_PORT" >"$T/replica.log" 2>&1 &
PIDS="$PIDS $!"
cat >"$T/sentinel.conf" <<EOF
port $S_PORT
bind 127.0.0.1
dir $T
sentinel monitor oemaster 127.0.0.1 $M_PORT 1
EOF
redis-sentinel "$T/sentinel.conf" >"$T/sentinel.log" 2>&1 &
PIDS="$PIDS $!"
wait_for 10 sh -c "redis-cli -p $S_PORT PING | grep -q PONG" ||
    fail "the Sentinel does not start"

# conf SENTINELS NAME - an openetrn.conf for etrnctl
conf() {
	cat >"$T/openetrn.conf" <<EOF
hostname = mx.lab.test
redis_server = inet:127.0.0.1:1
redis_timeout = 500ms
redis_sentinels = $1
redis_master_name = $2
mta = null
EOF
}
ctl() {
	"$builddir/etrnctl/etrnctl" -c "$T/openetrn.conf" "$@"
}

conf "127.0.0.1:$DEAD1, 127.0.0.1:$DEAD2" oemaster
rc=0
out=$(ctl status 2>&1) || rc=$?
[ "$rc" = 1 ] || fail "etrnctl with no Sentinel up: exit $rc: $out"
printf '%s\n' "$out" | grep -q "no Sentinel gave master oemaster; 127.0.0.1:$DEAD1: Connection refused; 127.0.0.1:$DEAD2: Connection refused" ||
    fail "etrnctl with no Sentinel up says: $out"
pass "no Sentinel reachable: exit 1, each Sentinel's error: $(printf '%s' "$out" | head -n 1 | cut -c1-120)"

conf "127.0.0.1:$DEAD1, 127.0.0.1:$S_PORT" nosuchmaster
rc=0
out=$(ctl status 2>&1) || rc=$?
[ "$rc" = 1 ] || fail "etrnctl with a wrong master name: exit $rc: $out"
printf '%s\n' "$out" | grep -q "127.0.0.1:$S_PORT: no master named \"nosuchmaster\"" ||
    fail "etrnctl with a wrong master name says: $out"
pass "a master name no Sentinel knows is named: $(printf '%s' "$out" | grep -o 'no master named "nosuchmaster"')"

conf "127.0.0.1:$S_PORT" oemaster
out=$(ctl status 2>&1) || fail "etrnctl through the Sentinel: $out"
pass "etrnctl status through the Sentinel"

# The master refuses writes (MISCONF: its last save failed): the write
# fails, and the master is asked for again.
mkdir "$T/gone"
redis-cli -p "$M_PORT" CONFIG SET dir "$T/gone" >/dev/null
rmdir "$T/gone"
redis-cli -p "$M_PORT" BGSAVE >/dev/null
wait_for 10 sh -c "redis-cli -p $M_PORT INFO persistence | grep -q 'rdb_last_bgsave_status:err'" ||
    fail "the master's save did not fail"
rc=0
out=$(ctl domains add misconf.test 2>&1) || rc=$?
[ "$rc" = 1 ] || fail "etrnctl write to a MISCONF master: exit $rc: $out"
printf '%s\n' "$out" | grep -q "redis: master oemaster: 127.0.0.1:$M_PORT: MISCONF.*; asking the Sentinels" ||
    fail "etrnctl write to a MISCONF master says: $out"
redis-cli -p "$M_PORT" CONFIG SET dir "$T" >/dev/null
redis-cli -p "$M_PORT" BGSAVE >/dev/null
wait_for 10 sh -c "redis-cli -p $M_PORT INFO persistence | grep -q 'rdb_last_bgsave_status:ok'" ||
    fail "the master's save still fails"
out=$(ctl domains add misconf.test 2>&1) || fail "etrnctl write after MISCONF: $out"
pass "MISCONF: the write fails, the Sentinels are asked again; it works once the master saves"

# A stand-in Sentinel that names the replica as the master.
python3 - "$FAKE_PORT" "$R_PORT" >"$T/fake.log" 2>&1 <<'EOF' &
import socket, sys
port, target = int(sys.argv[1]), sys.argv[2].encode()
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", port))
s.listen(8)
while True:
    c, _ = s.accept()
    c.recv(4096)
    c.sendall(b"*2\r\n$9\r\n127.0.0.1\r\n$%d\r\n%s\r\n" % (len(target), target))
    c.close()
EOF
PIDS="$PIDS $!"
wait_for 10 bash -c "exec 3<>/dev/tcp/127.0.0.1/$FAKE_PORT" ||
    fail "the stand-in Sentinel does not listen"
# cmdstats - what the replica ran, but ROLE and what this test asks
cmdstats() {
	redis-cli -p "$R_PORT" INFO commandstats | tr -d '\r' |
	    grep '^cmdstat_' | grep -Ev '^cmdstat_(role|info):' |
	    sed 's/,usec=.*//'
}
before=$(cmdstats)
conf "127.0.0.1:$FAKE_PORT" oemaster
rc=0
out=$(ctl status 2>&1) || rc=$?
[ "$rc" = 1 ] || fail "etrnctl to a replica: exit $rc: $out"
printf '%s\n' "$out" | grep -q 'ROLE says slave, not master' ||
    fail "etrnctl to a replica says: $out"
[ "$(cmdstats)" = "$before" ] ||
    fail "a command other than ROLE reached the replica: $(cmdstats)"
pass "a Sentinel naming a replica: $(printf '%s' "$out" | grep -o 'ROLE says slave, not master'); nothing else sent to it"
