# shellcheck shell=bash
# tests/lib/sandbox.sh - helpers for integration tests that run a private
# Postfix + redis + milter sandbox (tests/lab/postfix-lab.sh, which
# contrib/sandbox runs).  Source it, then:
#
#   sb_init NAME        make the sandbox dir, pick ports, set the EXIT trap
#   sb_start            start it (SB_MILTER=etrn|noop|none); exits 77 (skip)
#                       when not root or postfix/redis-server/swaks are missing.
#                       Without SB_ETRND=1 (and unless SB_PROMOTE=0) a loop
#                       runs etrnd's pending step (tests/etrnd/runner-test
#                       pending) every 0.5 s in etrnd's place, so that held
#                       mail is counted as etrnd would count it
#   sb_swaks ARGS...    swaks to the sandbox smtpd
#   sb_redis ARGS...    redis-cli --raw on the sandbox redis socket
#   sb_hold_ids, sb_queue_ids QUEUE, sb_queue_count QUEUE
#   sb_sink_count internet|customer, sb_sink_grep internet|customer PATTERN
#
# pass, fail (exits), skip, die, wait_for (polls every 0.2 s here, e.g.
# wait_for 10 eval '[ "$(sb_queue_count hold)" = 1 ]'), alive, stop_pid,
# free_port, ms_now, sanitized: tests/lib/core.sh.
#
# After sb_start every variable of $SB/env is exported (SMTP_PORT, PF_CONF,
# PF_LOG, REDIS_SOCK, SINK_DIR_CUSTOMER, ...).  KEEP_SANDBOX=1 keeps the
# directory after the test.  SB_PORT_BASE fixes the ports (no retry).

SB_SRCDIR=${SB_SRCDIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
# shellcheck source=core.sh
. "$SB_SRCDIR/tests/lib/core.sh"
# shellcheck disable=SC2034 # read by wait_for (core.sh)
CORE_WAIT_TENTHS=2
SB_SANDBOX=$SB_SRCDIR/tests/lab/postfix-lab.sh
SB_PYTHON=$(command -v /usr/bin/python3 python3 2>/dev/null | head -n 1)
SB=
SB_STARTED=0
SB_PROMOTER_PID=

# Print the port base for slot $1 (0..999): SMTP..DSN at base..base+6 in
# an even hundred, redis at base+100 in the odd hundred above (base+101 to
# base+109 stay free for a second sandbox); 10000-29990.
sb_port_base() {
	local slot=$(($1 % 1000))
	echo $((10000 + (slot / 10) * 200 + (slot % 10) * 10))
}

# Create the sandbox directory for test NAME and register sb_cleanup.
sb_init() {
	if [ $# -ne 1 ] || [ -z "$1" ]; then
		fail "usage: sb_init NAME"
	fi
	SB_NAME=$1
	local h
	h=$(printf '%s' "$SB_NAME" | cksum)
	SB_SLOT=$((${h%% *} % 1000))
	SB=$(mktemp -d "${TMPDIR:-/tmp}/openetrn-test.$SB_NAME.XXXX") ||
	    fail "cannot create a sandbox directory"
	chmod 755 "$SB"
	# Ports come from SB_PORT_BASE only, never from a stale sourced env.
	unset SMTP_PORT SINK_PORT REINJECT_PORT CUSTOMER_PORT ETRND_PORT \
	    POLICY_PORT DSN_PORT REDIS_PORT
	trap sb_cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
}

# Print the last lines of log $1 to stderr, if it has any.
sb_log_tail() {
	if [ -n "$1" ] && [ -s "$1" ]; then
		echo "---- last ${2:-40} lines of $1 ----" >&2
		tail -n "${2:-40}" "$1" >&2
	fi
}

# EXIT trap: on failure print the logs; stop the sandbox; remove its dir.
# A test's own EXIT trap calls it last as "sb_cleanup $rc" (the status
# the test exits with).  Nothing here may end the trap early (set -e).
sb_cleanup() {
	local rc=$?
	[ $# -gt 0 ] && rc=$1
	set +e
	trap - EXIT INT TERM
	if [ -n "$SB_PROMOTER_PID" ]; then
		kill "$SB_PROMOTER_PID" 2>/dev/null
		wait "$SB_PROMOTER_PID" 2>/dev/null
	fi
	if [ -n "$SB" ] && [ -d "$SB" ]; then
		if [ "$rc" -ne 0 ] && [ "$rc" -ne 77 ] && [ "$SB_STARTED" = 1 ]
		then
			echo "---- test $SB_NAME failed (exit $rc);" \
			    "sandbox $SB ----" >&2
			postqueue -c "$PF_CONF" -p >&2 2>/dev/null || true
			sb_log_tail "$PF_LOG" 60
			sb_log_tail "$SB/log/etrn-milter.log" 40
			sb_log_tail "$SB/log/noop-milter.log" 10
			sb_log_tail "$SB/log/etrnd.log" 40
			sb_log_tail "$SB/log/etrn-policy.log" 40
			sb_log_tail "$SB/log/redis.log" 15
		fi
		"$SB_SANDBOX" stop "$SB" >/dev/null ||
		    echo "sb_cleanup: could not stop sandbox $SB" >&2
		if [ "${KEEP_SANDBOX:-0}" = 1 ]; then
			echo "sandbox kept in $SB" >&2
		else
			case $SB in
			*/openetrn-test.*) rm -rf "$SB" ;;
			esac
		fi
	fi
	exit "$rc"
}

# Start the sandbox made by sb_init (skips the test when it cannot run).
sb_start() {
	[ -n "$SB" ] || fail "sb_start: call sb_init first"
	[ "$(id -u)" = 0 ] || skip "needs root"
	local t
	for t in /usr/sbin/postfix redis-server swaks; do
		command -v "$t" >/dev/null 2>&1 || skip "$t not installed"
	done
	OPENETRN_BUILDDIR=${OPENETRN_BUILDDIR:-${top_builddir:-$SB_SRCDIR}}
	OPENETRN_BUILDDIR=$(cd "$OPENETRN_BUILDDIR" && pwd) ||
	    fail "no build directory $OPENETRN_BUILDDIR"
	export OPENETRN_BUILDDIR
	local try rc=1 tries=5 fixed=${SB_PORT_BASE:-}
	[ -n "$fixed" ] && tries=1
	for ((try = 0; try < tries; try++)); do
		rc=0
		SB_PORT_BASE=${fixed:-$(sb_port_base $((SB_SLOT + try * 37)))} \
		    "$SB_SANDBOX" start "$SB" >"$SB/sandbox-start.log" 2>&1 ||
		    rc=$?
		# 75: a port is in use; try the next slot.
		[ "$rc" -eq 75 ] || break
	done
	if [ "$rc" -ne 0 ]; then
		cat "$SB/sandbox-start.log" >&2
		fail "sandbox did not start (exit $rc)"
	fi
	SB_STARTED=1
	# shellcheck disable=SC1091
	. "$SB/env"
	if [ "${SB_ETRND:-0}" != 1 ] && [ "${SB_PROMOTE:-1}" = 1 ] &&
	    [ "${SB_MILTER:-etrn}" = etrn ] &&
	    [ -x "$OPENETRN_BUILDDIR/tests/etrnd/runner-test" ]; then
		sb_promoter &
		SB_PROMOTER_PID=$!
	fi
}

# Run etrnd's pending step every 0.5 s (see sb_start), until killed; only
# when there is a pending record (runner-test also creates this host's
# consumer group, a key a test may not expect).
sb_promoter() {
	local n
	trap - EXIT
	while :; do
		n=$(redis-cli -s "$REDIS_SOCK" ZCARD \
		    "etrn:pending:${SB_HOSTNAME:-mx.lab.test}" 2>/dev/null) || n=0
		if [ "${n:-0}" != 0 ]; then
			"$OPENETRN_BUILDDIR/tests/etrnd/runner-test" \
			    "$OPENETRN_CONF" pending >>"$SB/log/promote.log" 2>&1
		fi
		sleep 0.5
	done
}

# redis-cli on the sandbox's unix socket, raw output.
sb_redis() {
	redis-cli -s "$REDIS_SOCK" --raw "$@"
}

# swaks to the sandbox's smtpd; extra arguments are passed through.
sb_swaks() {
	swaks --server 127.0.0.1 --port "$SMTP_PORT" --silent 2 "$@"
}

# Print the queue IDs in Postfix queue $1 (hold, deferred, active,
# incoming, maildrop), one a line.
sb_queue_ids() {
	postqueue -c "$PF_CONF" -j | "$SB_PYTHON" -c '
import json, sys
for line in sys.stdin:
    if line.strip():
        m = json.loads(line)
        if m["queue_name"] == sys.argv[1]:
            print(m["queue_id"])
' "$1"
}

# Print the queue IDs in the hold queue, one a line.
sb_hold_ids() {
	sb_queue_ids hold
}

# Print the number of messages in Postfix queue $1.
sb_queue_count() {
	local ids
	ids=$(sb_queue_ids "$1") || return 1
	if [ -z "$ids" ]; then
		echo 0
	else
		printf '%s\n' "$ids" | wc -l
	fi
}

# Print the sink $1's (internet|customer) completed message files, one a
# line.  smtp-sink creates a file at MAIL FROM and closes it at the end of
# DATA, before it answers: files it still has open are left out.
sb_sink_files() {
	local dir pid f fd
	case $1 in
	internet) dir=$SINK_DIR_INTERNET pid=$SINK_INTERNET_PID ;;
	customer) dir=$SINK_DIR_CUSTOMER pid=$SINK_CUSTOMER_PID ;;
	*) fail "sb_sink_files: internet or customer, not \"$1\"" ;;
	esac
	local files
	files=$(find "$dir" -type f | sort)
	[ -n "$files" ] || return 0
	local -A open=()
	for fd in /proc/"$pid"/fd/*; do
		f=$(readlink "$fd" 2>/dev/null) || continue
		case $f in "$dir"/*) open[$f]=1 ;; esac
	done
	while IFS= read -r f; do
		[ -n "${open[$f]:-}" ] || printf '%s\n' "$f"
	done <<<"$files"
}

# Print the number of messages the sink $1 (internet|customer) received.
sb_sink_count() {
	local files
	files=$(sb_sink_files "$1")
	if [ -z "$files" ]; then
		echo 0
	else
		printf '%s\n' "$files" | wc -l
	fi
}

# Print the message files of sink $1 matching grep PATTERN $2; fail if none.
sb_sink_grep() {
	local files
	files=$(sb_sink_files "$1")
	[ -n "$files" ] || return 1
	printf '%s\n' "$files" | tr '\n' '\0' | xargs -0 grep -l -e "$2" --
}
