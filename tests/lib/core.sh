# shellcheck shell=bash
# tests/lib/core.sh - what every shell test uses, whatever it runs on: the
# sandbox (tests/lib/sandbox.sh), its own Redis and daemon
# (tests/lib/standalone.sh), or neither.  Sourced by those two; a test that
# needs neither sources it alone.
#
#   pass MSG            print PASS: MSG (and count it in npass)
#   fail MSG            print FAIL: MSG and exit 1; with CORE_COUNT=1
#                       (standalone.sh) count it in nfail, print it to
#                       stdout and go on
#   skip MSG            print SKIP: MSG and exit 77 (automake's "skipped")
#   die MSG             a setup step failed: print ERROR: MSG, exit 1
#   check_eq DESC GOT WANT  pass DESC when GOT is WANT, else fail
#   wait_for SECS CMD...  run CMD (output discarded) until it succeeds, every
#                       0.1 s (CORE_WAIT_TENTHS=2: every 0.2 s, as
#                       sandbox.sh sets); fail after SECS
#   alive PID           PID runs (a zombie does not count)
#   stop_pid PID [SECS] SIGTERM, SIGKILL after SECS (10) s; reap the child
#   free_port           a loopback port nothing listens on
#   ms_now              the time in milliseconds
#   sanitized           etrnd is built with ASan (timing, memory bounds)
#   rss PID, hwm PID    VmRSS, VmHWM of PID in kB

# pass MSG - print (and count) a passed check
pass() {
	npass=$((${npass:-0} + 1))
	echo "PASS: $*"
}

# fail MSG - a failed check: exit 1, or with CORE_COUNT=1 count it and go on
fail() {
	if [ "${CORE_COUNT:-0}" = 1 ]; then
		nfail=$((${nfail:-0} + 1))
		echo "FAIL: $*"
		return 0
	fi
	echo "FAIL: $*" >&2
	exit 1
}

# skip MSG - print why and exit 77 (automake's "skipped")
skip() {
	echo "SKIP: $*"
	exit 77
}

# die MSG - a setup step failed: print and exit 1
die() {
	echo "ERROR: $*" >&2
	exit 1
}

# check_eq DESC GOT WANT - pass DESC when GOT equals WANT, else fail
check_eq() {
	if [ "$2" = "$3" ]; then
		pass "$1"
	else
		fail "$1: got \"$2\", expected \"$3\""
	fi
}

# wait_for SECS CMD... - run CMD until it succeeds; fail after SECS
wait_for() {
	local tenths=${CORE_WAIT_TENTHS:-1} i n
	n=$(($1 * 10 / tenths))
	shift
	for ((i = 0; i <= n; i++)); do
		if "$@" >/dev/null 2>&1; then
			return 0
		fi
		if [ "$i" -lt "$n" ]; then
			sleep "0.$tenths"
		fi
	done
	return 1
}

# alive PID - true while PID runs (a zombie does not count)
alive() {
	local st
	st=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
	case $st in
	Z*) return 1 ;;
	esac
	return 0
}

# stop_pid PID [SECS] - SIGTERM, SIGKILL after SECS (default 10) s; reap
# the child
stop_pid() {
	local pid=$1 i n=$((${2:-10} * 10))
	kill -TERM "$pid" 2>/dev/null || true
	for ((i = 0; i < n; i++)); do
		alive "$pid" || break
		sleep 0.1
	done
	if alive "$pid"; then
		echo "pid $pid ignored SIGTERM, killing it" >&2
		kill -KILL "$pid" 2>/dev/null || true
	fi
	wait "$pid" 2>/dev/null || true
}

# free_port - a loopback port nothing listens on
free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# ms_now - the time in milliseconds
ms_now() {
	echo $(($(date +%s%N) / 1000000))
}

# sanitized - etrnd is built with ASan (timing and memory bounds differ)
sanitized() {
	nm "${OPENETRN_BUILDDIR:-${top_builddir:-${SB_SRCDIR:-.}}}/etrnd/etrnd" \
	    2>/dev/null | grep -q '__asan_init'
}

# rss PID - the VmRSS of PID in kB
rss() {
	awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"
}

# hwm PID - the VmHWM (peak resident size) of PID in kB
hwm() {
	awk '/^VmHWM:/ { print $2 }' "/proc/$1/status"
}
