#!/bin/bash
# t-restart - SIGTERM, then at once a new start, ten times for each of
# etrn-milter, etrn-policy and etrnd (as daemons, without -f, with the
# sandbox's Postfix in front).  Each new daemon answers on its socket as
# soon as its start command returns (milter: a protocol negotiation and
# a message through Postfix; policy: a request answered; etrnd: its
# greeting), the old one is gone within 10 s, and once it is gone the
# new one still answers and still has its socket and pid file: a daemon
# that stops removes only what it made itself.  The daemons run as root
# here, so that an old one could remove its successor's files at all;
# and an old one still running after its successor made its socket and
# pid file (its own socket file removed) leaves them alone when it stops.
# Then the two ends of "stale or live": a socket left by a daemon killed
# with SIGKILL is replaced; a socket another server accepts on is not,
# and the start fails with exit 1 and says so on stderr.
set -eu
. "${top_srcdir:-$(dirname "$0")/../..}/tests/lib/sandbox.sh"
sb_init f-restart
SB_ETRND=1 SB_POLICY=1 sb_start
. "$SB_SRCDIR/tests/lib/common.sh"
LC=$SB_SRCDIR/tests/faults/lifecycle.py
RUN=$(dirname "$MILTER_SOCK")
CONF=$SB/etc/restart.conf
declare -A pid=() bin=() kind=() addr=() pidfile=()
holder=
trap 'rc=$?; set +e
for d in "${!pid[@]}"; do
	[ -n "${pid[$d]}" ] || continue
	kill "${pid[$d]}" 2>/dev/null
	wait_for 15 sh -c "! kill -0 ${pid[$d]} 2>/dev/null"
done
[ -z "$holder" ] || { kill "$holder"; wait "$holder"; } 2>/dev/null
sb_cleanup $rc' EXIT

bin[milter]=$OPENETRN_BUILDDIR/etrn-milter
bin[policy]=$OPENETRN_BUILDDIR/policy/etrn-policy
bin[etrnd]=$OPENETRN_BUILDDIR/etrnd/etrnd
kind[milter]=milter kind[policy]=policy kind[etrnd]=etrn
addr[milter]=unix:$MILTER_SOCK
addr[policy]=unix:$POLICY_SOCK
addr[etrnd]=inet:127.0.0.1:$ETRND_PORT
for d in milter policy etrnd; do
	pidfile[$d]=$RUN/own-$d.pid
done
sed 's/^user = .*/user = root/' "$OPENETRN_CONF" >"$CONF"
cat >>"$CONF" <<EOF
milter_pid_file = ${pidfile[milter]}
policy_pid_file = ${pidfile[policy]}
etrnd_pid_file = ${pidfile[etrnd]}
EOF

# gone PID - PID has exited
gone() {
	! kill -0 "$1" 2>/dev/null
}

# answers D - daemon D serves on its socket (the milter: Postfix too)
answers() {
	python3 "$LC" answers "${kind[$1]}" "${addr[$1]}" || return 1
	[ "$1" != milter ] && return 0
	out=$(sb_swaks --to someone@example.com --from a@example.org 2>&1) ||
	    { echo "$out" | tail -3 >&2; return 1; }
}

# start D - start daemon D as a daemon; its pid into pid[D]
start() {
	"${bin[$1]}" -c "$CONF" 2>"$SB/start-$1.err" ||
	    fail "$1: start exited $?: $(head -3 "$SB/start-$1.err")"
	pid[$1]=$(cat "${pidfile[$1]}")
}

# The sandbox's own instances (user openetrn, -f) give way to ours.
for d in milter policy etrnd; do
	case $d in
	milter) old=$MILTER_PID ;;
	policy) old=$POLICY_PID ;;
	etrnd) old=$ETRND_PID ;;
	esac
	kill -TERM "$old"
	start $d
	answers $d || fail "$d: the first start does not answer"
	wait_for 15 gone "$old" || fail "$d: the sandbox's $d (pid $old) is still there"
done

for d in milter policy etrnd; do
	max_start=0 max_gone=0
	for i in 1 2 3 4 5 6 7 8 9 10; do
		old=${pid[$d]}
		t0=$(date +%s%N)
		kill -TERM "$old"
		start $d
		t1=$(date +%s%N)
		[ "${pid[$d]}" != "$old" ] || fail "$d: pid file still names $old"
		answers $d || fail "$d, restart $i: the new daemon does not answer"
		wait_for 10 gone "$old" || fail "$d, restart $i: pid $old still runs"
		t2=$(date +%s%N)
		answers $d || fail "$d, restart $i: no answer after the old one exited"
		[ "$(cat "${pidfile[$d]}" 2>/dev/null)" = "${pid[$d]}" ] ||
		    fail "$d, restart $i: pid file lost after the old one exited"
		[ "$d" = etrnd ] || [ -S "${addr[$d]#unix:}" ] ||
		    fail "$d, restart $i: socket file lost"
		ms=$(((t1 - t0) / 1000000))
		[ "$ms" -gt "$max_start" ] && max_start=$ms
		ms=$(((t2 - t0) / 1000000))
		[ "$ms" -gt "$max_gone" ] && max_gone=$ms
	done
	pass "$d: 10 restarts; each new one answered (start took <= $max_start ms), the old one was gone within $max_gone ms, socket and pid file kept"
done

# The narrow case made wide: the old daemon still runs when its successor
# has made its socket and pid file (here: the old one's socket file was
# removed first).  At exit the old one leaves both alone.
for d in milter policy; do
	old=${pid[$d]}
	rm -f "${addr[$d]#unix:}"
	start $d
	[ "${pid[$d]}" != "$old" ] || fail "$d: no new pid"
	kill -0 "$old" || fail "$d: the old one is gone already"
	kill -TERM "$old"
	wait_for 15 gone "$old" || fail "$d: pid $old still runs"
	[ -S "${addr[$d]#unix:}" ] || fail "$d: the old one removed its successor's socket"
	[ "$(cat "${pidfile[$d]}" 2>/dev/null)" = "${pid[$d]}" ] ||
	    fail "$d: the old one removed its successor's pid file"
	answers $d || fail "$d: the successor does not answer"
done
pass "an old daemon that stops after its successor started removes neither its socket nor its pid file"

# Stale: a killed daemon's socket is replaced.
for d in milter policy; do
	kill -KILL "${pid[$d]}"
	wait_for 10 gone "${pid[$d]}" || fail "$d survived SIGKILL"
	[ -S "${addr[$d]#unix:}" ] || fail "$d: the killed daemon left no socket"
	pid[$d]=
	start $d
	answers $d || fail "$d: no answer after replacing a stale socket"
done
pass "a socket left by a killed milter or policy server is replaced"

# Live: a socket some other server accepts on is refused.
for d in milter policy; do
	kill -TERM "${pid[$d]}"
	wait_for 15 gone "${pid[$d]}" || fail "$d did not stop"
	pid[$d]=
	sock=${addr[$d]#unix:}
	rm -f "$sock"
	python3 "$LC" listen "$sock" &
	holder=$!
	wait_for 5 test -S "$sock" || fail "the other server did not start"
	rc=0
	"${bin[$d]}" -c "$CONF" 2>"$SB/start-$d.err" || rc=$?
	[ "$rc" = 1 ] || fail "$d: exit $rc beside a live socket"
	grep -q "is in use by a running server" "$SB/start-$d.err" ||
	    fail "$d: stderr: $(cat "$SB/start-$d.err")"
	[ -S "$sock" ] && python3 -c '
import socket, sys
socket.socket(socket.AF_UNIX).connect(sys.argv[1])' "$sock" ||
	    fail "$d: the other server lost its socket"
	kill "$holder"
	wait "$holder" 2>/dev/null || true
	holder=
	echo "  $(head -1 "$SB/start-$d.err")"
done
pass "a socket another server accepts on is left alone; the start fails, saying why"
