#!/bin/bash
# t-nosockdir - a daemon that cannot start says so to the command that
# started it.  Started as daemons (without -f), etrn-milter and
# etrn-policy with their socket directory missing, and etrnd with its pid
# file directory missing, each exit 1 with the error on stderr and leave
# no process behind; the same for failures the daemon meets after it has
# forked (its socket directory, etrnd's listening port held by another
# server): the command waits for the daemon to be ready and takes its
# status; the same for a socket group that does not exist.  A usage error
# exits 2.  A daemon that starts returns 0 only once its socket answers,
# and its socket has its directory's group when none is set.
set -u
# shellcheck source=../lib/standalone.sh
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/standalone.sh"
dpid=
sa_init nosockdir start.err dpid
[ "$(id -u)" = 0 ] || skip "needs root (the daemons start as root)"
make_secret "$T/hold.secret"
# The run directory as for Postfix's smtpd: root's, a group, mode 0750.
grp=
for g in postfix nogroup daemon; do
	getent group "$g" >/dev/null && { grp=$g; break; }
done
[ -n "$grp" ] || skip "no group postfix, nogroup or daemon"
mkdir -m 750 "$T/run"
chgrp "$grp" "$T/run"
start_redis
LC=$srcdir/tests/faults/lifecycle.py

# conf NAME SOCKDIR - $T/NAME.conf, sockets in SOCKDIR, pid files in $T/run
conf() {
	cat >"$T/$1.conf" <<EOF
user = root
hostname = mx.lab.test
redis_server = unix:$T/redis.sock
hold_secret_file = $T/hold.secret
tmp_directory = $T
milter_socket = unix:$2/milter.sock
milter_pid_file = $T/run/milter.pid
policy_listen = unix:$2/policy.sock
policy_pid_file = $T/run/policy.pid
etrnd_listen = inet:127.0.0.1:${3:-$(free_port)}
etrnd_pid_file = $2/etrnd.pid
mta = null
null_backend_log = $T/null.log
reinject_server = inet:127.0.0.1:$(free_port)
EOF
}

# left NAME - a process still runs with $T/NAME.conf
left() {
	ps -eo args= | grep -F -- "-c $T/$1.conf" | grep -v grep >/dev/null
}

# refused NAME BIN PATTERN - BIN as a daemon exits 1, PATTERN on stderr
refused() {
	local rc=0 t0 ms
	t0=$(date +%s%N)
	timeout 60 "$2" -c "$T/$1.conf" >"$T/start.out" 2>"$T/start.err" ||
	    rc=$?
	ms=$((($(date +%s%N) - t0) / 1000000))
	if [ "$rc" != 1 ]; then
		fail "$1: exit $rc, want 1 (stderr: $(head -3 "$T/start.err"))"
	elif ! grep -q -- "$3" "$T/start.err"; then
		fail "$1: stderr lacks \"$3\": $(head -3 "$T/start.err")"
	elif left "$1"; then
		fail "$1: a process was left running"
	else
		pass "$1 exits 1 in $ms ms: $(head -1 "$T/start.err")"
	fi
}

conf milter "$T/missing"
refused milter "$builddir/etrn-milter" \
    "^etrn-milter: fatal: milter_socket: directory $T/missing: No such file"
conf policy "$T/missing"
refused policy "$builddir/policy/etrn-policy" \
    "^etrn-policy: fatal: policy_listen: directory $T/missing: No such file"
conf etrnd "$T/missing"
refused etrnd "$builddir/etrnd/etrnd" \
    "^etrnd: fatal: etrnd_pid_file: directory $T/missing: No such file"

# A socket group that does not exist (after the fork, where the socket is
# made).
conf milter "$T/run"
echo "milter_socket_group = nosuchgroup" >>"$T/milter.conf"
refused milter "$builddir/etrn-milter" \
    '^etrn-milter: fatal: milter_socket_group "nosuchgroup" does not exist'
conf policy "$T/run"
echo "policy_socket_group = nosuchgroup" >>"$T/policy.conf"
refused policy "$builddir/policy/etrn-policy" \
    '^etrn-policy: fatal: policy_socket_group "nosuchgroup" does not exist'

# A usage error: exit 2, before anything else.
for b in etrn-milter policy/etrn-policy etrnd/etrnd; do
	rc=0
	"$builddir/$b" -x >/dev/null 2>&1 || rc=$?
	[ "$rc" = 2 ] || fail "$b -x: exit $rc, want 2"
done
pass "an unknown option: exit 2 (all three)"

# After the fork: etrnd's port held by another server (waited for, then
# given up on).
port=$(free_port)
python3 -c '
import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(1)
time.sleep(60)' "$port" &
holder=$!
wait_for 5 python3 -c 'import socket, sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])))' "$port" ||
    die "the port holder did not start"
conf etrnd "$T/run" "$port"
refused etrnd "$builddir/etrnd/etrnd" \
    "^etrnd: fatal: etrnd_listen: cannot listen on inet:127.0.0.1:$port: Address already in use"
kill "$holder"
wait "$holder" 2>/dev/null

# Started: the command returns once the socket answers (no polling).
for d in milter:etrn-milter:milter:milter.sock policy:policy/etrn-policy:policy:policy.sock; do
	IFS=: read -r name bin kind sock <<<"$d"
	conf "$name" "$T/run"
	rc=0
	"$builddir/$bin" -c "$T/$name.conf" 2>"$T/start.err" || rc=$?
	if [ "$rc" != 0 ]; then
		fail "$name: exit $rc: $(head -3 "$T/start.err")"
		continue
	fi
	dpid=$(cat "$T/run/$name.pid")
	if python3 "$LC" answers "$kind" "unix:$T/run/$sock"; then
		pass "$name exits 0 as a daemon once it answers on its socket"
	else
		fail "$name exited 0 but does not answer on $T/run/$sock"
	fi
	g=$(stat -c %G "$T/run/$sock")
	if [ "$g" = "$grp" ]; then
		pass "$name: no socket group set: the socket has its directory's group $g"
	else
		fail "$name: socket group $g, want the directory's $grp"
	fi
	stop_pid "$dpid"
	dpid=
done
exit 0
