#!/bin/bash
# t-notify - what the daemons tell a service manager, and where they log.
# Readiness: etrn-milter, etrn-policy and etrnd, run with -f and
# NOTIFY_SOCKET naming a datagram socket that lifecycle.py reads (as
# systemd would), send READY=1 with MAINPID only once their socket
# listens (strace shows listen() before the sendmsg of READY=1, in the
# daemon's own order; and lifecycle.py probes it the moment READY=1
# arrives: a milter negotiation, a policy request, an SMTP greeting),
# RELOADING=1 and then
# READY=1 around a reload (SIGUSR1 for the milter, SIGHUP for the others)
# and STOPPING=1 when stopped.  Logging: /dev/log is a socket of the
# test's (a private mount namespace), so every line sent to syslog is
# seen.  Under the journal (JOURNAL_STREAM naming stderr) each line goes
# to stderr only, with its "<N>" priority; otherwise -f logs to both;
# log_target = syslog or stderr sends each line to that one place; a
# daemon without -f logs to syslog, log_target = stderr notwithstanding.
set -u
# shellcheck source=../lib/standalone.sh
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/standalone.sh"
dpid= lpid= spid=
sa_init notify daemon.err dpid
[ "$(id -u)" = 0 ] || skip "needs root (the daemons start as root)"
grep -q '^#define HAVE_LIBSYSTEMD 1' "$builddir/config.h" 2>/dev/null ||
    skip "built without libsystemd (--without-systemd): no sd_notify"
unshare -m true 2>/dev/null || skip "cannot make a mount namespace"
trap 'st=$?; set +e
for p in $lpid $spid; do kill "$p"; wait "$p"; done 2>/dev/null
(exit $st); sa_cleanup' EXIT
make_secret "$T/hold.secret"
mkdir -m 755 "$T/run"
start_redis
LC=$srcdir/tests/faults/lifecycle.py
etrnd_port=$(free_port)
cat >"$T/base.conf" <<EOF
user = root
hostname = mx.lab.test
redis_server = unix:$T/redis.sock
hold_secret_file = $T/hold.secret
tmp_directory = $T
milter_socket = unix:$T/run/milter.sock
policy_listen = unix:$T/run/policy.sock
policy_pid_file = $T/run/policy.pid
etrnd_listen = inet:127.0.0.1:$etrnd_port
mta = null
null_backend_log = $T/null.log
reinject_server = inet:127.0.0.1:$(free_port)
EOF
cp "$T/base.conf" "$T/c.conf"

# lines FILE PATTERN - how many lines of FILE match grep -E PATTERN
lines() {
	grep -c -E -- "$2" "$1" 2>/dev/null || true
}

# reloaded FILE - FILE has RELOADING=1, and READY=1 after it
reloaded() {
	sed -n '/^msg RELOADING=1|MONOTONIC_USEC=[0-9]*$/,$p' "$1" |
	    grep -q '^msg READY=1$'
}

# run D BIN KIND ADDR RELOADSIG - readiness, reload and stop of daemon D
run() {
	local d=$1 bin=$2 kind=$3 addr=$4 sig=$5 out=$T/notify-$1.out
	rm -f "$T/notify.sock"
	: >"$out"
	python3 "$LC" notify "$T/notify.sock" "$out" "$kind" "$addr" &
	lpid=$!
	wait_for 5 test -S "$T/notify.sock" || die "notify listener"
	NOTIFY_SOCKET=$T/notify.sock $trace "$builddir/$bin" -f \
	    -c "$T/c.conf" 2>"$T/daemon.err" &
	tpid=$!
	dpid=
	wait_for 20 grep -q '^probe' "$out" ||
	    fail "$d: no READY=1 within 20 s: $(cat "$out")"
	dpid=$(sed -n 's/^msg READY=1|MAINPID=\([0-9]*\)$/\1/p' "$out" | head -1)
	if [ -z "$dpid" ]; then
		fail "$d: READY=1 without MAINPID: $(cat "$out")"
		stop_pid "$tpid"
		return
	fi
	[ -n "$trace" ] || [ "$dpid" = "$tpid" ] ||
	    fail "$d: MAINPID=$dpid, but the daemon is $tpid"
	if ! grep -q '^probe ok' "$out"; then
		fail "$d: READY=1 came before its socket answered"
	else
		pass "$d: READY=1 with MAINPID=$dpid; its socket answered at once"
	fi
	if [ -n "$trace" ]; then
		local l r
		l=$(grep -n ' listen(' "$T/strace.out" | head -1 | cut -d: -f1)
		r=$(grep -n 'sendmsg(.*READY=1' "$T/strace.out" | head -1 | cut -d: -f1)
		if [ -n "$l" ] && [ -n "$r" ] && [ "$l" -lt "$r" ]; then
			pass "$d: listen() (line $l) before READY=1 is sent (line $r)"
		else
			fail "$d: listen at line '$l', READY=1 at line '$r' of the trace"
		fi
	fi
	kill -"$sig" "$dpid"
	if wait_for 10 reloaded "$out"; then
		pass "$d: SIG$sig: RELOADING=1, then READY=1"
	else
		fail "$d: SIG$sig: $(cat "$out")"
	fi
	kill -TERM "$dpid"
	if wait_for 15 grep -q '^msg STOPPING=1$' "$out"; then
		pass "$d: SIGTERM: STOPPING=1"
	else
		fail "$d: no STOPPING=1: $(cat "$out")"
	fi
	stop_pid "$dpid"
	[ -z "$trace" ] || stop_pid "$tpid"
	dpid=
	kill "$lpid"
	wait "$lpid" 2>/dev/null
	lpid=
}

# The daemon's own order of listen() and READY=1, where strace can show it.
trace=
if command -v strace >/dev/null 2>&1 && strace -o /dev/null true 2>/dev/null
then
	trace="strace -f -qq -s 64 -e trace=listen,sendmsg -o $T/strace.out"
else
	echo "note: no strace: the order of listen() and READY=1 is not traced"
fi

run milter etrn-milter milter "unix:$T/run/milter.sock" USR1
run policy policy/etrn-policy policy "unix:$T/run/policy.sock" HUP
run etrnd etrnd/etrnd etrn "inet:127.0.0.1:$etrnd_port" HUP

# A /dev/log of our own, in a private mount namespace (the daemon's).
mkdir "$T/dev"
touch "$T/dev/null" "$T/dev/urandom"
python3 "$LC" syslog "$T/dev/log" "$T/syslog.out" &
spid=$!
wait_for 5 test -S "$T/dev/log" || die "syslog listener"

# logrun TARGET JOURNAL [-d] - etrn-policy -f (-d: as a daemon) with
# log_target TARGET (auto: none set), JOURNAL_STREAM naming its stderr
# when JOURNAL is 1; until it answers, then stopped; n_err and n_log: its
# lines on stderr and in syslog
logrun() {
	local fg=-f
	[ "${3:-}" = -d ] && fg=
	cp "$T/base.conf" "$T/c.conf"
	[ "$1" = auto ] || echo "log_target = $1" >>"$T/c.conf"
	: >"$T/daemon.err"
	: >"$T/syslog.out"
	local js=
	[ "$2" = 1 ] && js=$(stat -c '%d:%i' "$T/daemon.err")
	JOURNAL_STREAM=$js unshare -m --propagation private /bin/sh -c '
		d=$1; shift
		mount --bind /dev/null "$d/null" &&
		mount --bind /dev/urandom "$d/urandom" &&
		mount --rbind "$d" /dev && exec "$@"' sh "$T/dev" \
	    "$builddir/policy/etrn-policy" $fg -c "$T/c.conf" 2>>"$T/daemon.err" &
	dpid=$!
	wait_for 10 python3 "$LC" answers policy "unix:$T/run/policy.sock" ||
	    fail "log_target=$1: the policy server did not start"
	[ -n "$fg" ] || { wait "$dpid"; dpid=$(cat "$T/run/policy.pid"); }
	sleep 0.5	# the last lines of the start
	stop_pid "$dpid"
	dpid=
	sleep 0.2
	n_err=$(lines "$T/daemon.err" .)
	n_log=$(lines "$T/syslog.out" 'etrn-policy')
}

logrun auto 1
bad=$(grep -v -E '^<[0-7]>' "$T/daemon.err" | head -2)
if [ "$n_err" -ge 3 ] && [ -z "$bad" ] && [ "$n_log" = 0 ] &&
    grep -q '^<6>ready: listen=' "$T/daemon.err"; then
	pass "under the journal: $n_err lines, each on stderr only, with <N>: $(head -1 "$T/daemon.err")"
else
	fail "under the journal: stderr $n_err lines (bad: $bad), syslog $n_log"
fi
logrun auto 0
if [ "$n_err" -ge 3 ] && [ "$n_log" = "$n_err" ] &&
    grep -q '^etrn-policy: ready: listen=' "$T/daemon.err" &&
    grep -q '^<22>.*etrn-policy\[[0-9]*\]: ready: listen=' "$T/syslog.out"; then
	pass "-f without the journal: each of $n_err lines on stderr and in syslog"
else
	fail "-f without the journal: stderr $n_err lines, syslog $n_log"
fi
logrun syslog 0
if [ "$n_err" = 0 ] && [ "$n_log" -ge 3 ]; then
	pass "log_target = syslog: $n_log lines, all to syslog"
else
	fail "log_target = syslog: stderr $n_err lines, syslog $n_log"
fi
logrun stderr 0
if [ "$n_err" -ge 3 ] && [ "$n_log" = 0 ]; then
	pass "log_target = stderr: $n_err lines, none to syslog"
else
	fail "log_target = stderr: stderr $n_err lines, syslog $n_log"
fi
logrun stderr 0 -d
if [ "$n_err" = 0 ] && [ "$n_log" -ge 3 ]; then
	pass "without -f, log_target = stderr notwithstanding: $n_log lines, all to syslog"
else
	fail "without -f: stderr $n_err lines, syslog $n_log"
fi
exit 0
