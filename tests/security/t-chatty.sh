#!/bin/bash
# t-chatty - clients that are busy but useless cannot keep etrnd's
# listener (or etrn-policy) for themselves.  etrnd_max_clients (20)
# chatty clients, from 127.0.0.10 to .29, each send NOOP every 2 s and
# read the replies, so etrnd_timeout never cuts them; a customer
# connecting every 0.5 s is refused (421 4.3.2, the listener is full)
# until the session limits cut the chatty ones, and then gets 253 for
# its held mail.  Each limit alone: with etrnd_max_commands = 5 every
# chatty client gets 421 4.7.0 after at most 5 replies; in a second
# sandbox with etrnd_max_session_time = 6s (and no command limit to
# speak of) every one gets 421 4.4.2 6 s after it connected, while
# etrnd_timeout is 60 s.  With etrnd_max_per_client = 5, 30 connections
# from 127.0.0.5: 5 are greeted, the 25 others get 421 4.7.0 within 1 s
# and are closed, while 127.0.0.6 is still greeted 220; with
# client_ipv4_prefix = 24 (second sandbox) 127.0.0.5 and 127.0.0.6 count
# together, 127.0.1.6 does not.  The log names each client cut off, with
# the limit, and the first ones refused.  etrn-policy: with
# policy_max_requests = 3 a connection is closed after its third answer
# (3 answers for 10 pipelined requests);
# with policy_max_per_client = 3 a fourth connection is closed at once
# (every unix-socket peer is one client), the other three work on and a
# slot freed is taken again; with policy_max_session_time = 5s (second
# sandbox, policy_timeout 60s) a client sending a valid request every
# second, each answered, is closed 5 s (-0.5, +2.5) after it connected,
# and the log says why.
set -eu
. "${top_srcdir:-$(dirname "$0")/../..}/tests/lib/sandbox.sh"
flood=$SB_SRCDIR/tests/security/flood.py

# Hold two messages for dialup.test (the hold queue must be empty).
hold_two() {
	local i
	for i in 1 2; do
		sb_swaks -f s@example.org -t "c$i@dialup.test" >/dev/null ||
		    fail "swaks"
	done
	wait_for 10 hold_is 2 || fail "mail not held"
}

# Fail unless etrnd's log has a line for each of clients $2 .. with
# regex $1 (the limit that cut it off).
logged() {
	local re=$1 a
	shift
	for a in "$@"; do
		log_client "$SB_LOG_DIR/etrnd.log" "$a" "$re" ||
		    fail "no log line matching /$re/ for client $a:
$(grep -F "$a" "$SB_LOG_DIR/etrnd.log" | tail -n 5)"
	done
}

sb_init sec-chatty
SB_ETRND=1 SB_POLICY=1 SB_EXTRA_CONF="etrnd_max_clients = 20
etrnd_max_commands = 5
etrnd_max_per_client = 5
etrnd_timeout = 60s
flush_lock_time = 1s
policy_max_requests = 3
policy_max_per_client = 3" sb_start
. "$SB_SRCDIR/tests/lib/common.sh"
. "$SB_SRCDIR/tests/security/seclib.sh"

hold_two
out=$(python3 "$flood" chatty "$ETRND_PORT" commands:5 127.0.0.%d 20) ||
    fail "etrnd_max_commands:
$out"
wait_for 20 sink_is customer 2 ||
    fail "customer has $(sb_sink_count customer) of 2 messages"
# shellcheck disable=SC2046 # addresses, no blanks
logged 'command' $(seq -f 127.0.0.%g 10 29)
pass "etrnd_max_commands: $(printf '%s\n' "$out" | grep -E '^(customer|127\.0\.0\.10):' | paste -sd' ')"

out=$(python3 "$flood" per-client "$ETRND_PORT" 5 127.0.0.5 - 127.0.0.6) ||
    fail "etrnd_max_per_client:
$out"
logged 'network|per.?client|prefix|too many connections' 127.0.0.5
# 25 refusals within the minute: five lines, the rest counted, not logged.
nref=$(grep -c 'client=127\.0\.0\.5 refused: too many connections from' \
    "$SB_LOG_DIR/etrnd.log" || true)
[ "$nref" = 5 ] || fail "refusals of 127.0.0.5 logged $nref times, want 5"
kill -0 "$ETRND_PID" || fail "etrnd died"
pass "etrnd_max_per_client: $(printf '%s\n' "$out" | paste -sd' '); 25 refusals, $nref log lines"

out=$(python3 "$flood" policy-requests "$POLICY_SOCK" 3) ||
    fail "policy_max_requests:
$out"
pass "policy_max_requests: $(printf '%s\n' "$out" | paste -sd' ')"
sleep 0.3
out=$(python3 "$flood" policy-per-client "$POLICY_SOCK" 3) ||
    fail "policy_max_per_client:
$out"
kill -0 "$POLICY_PID" || fail "etrn-policy died"
pass "policy_max_per_client: $(printf '%s\n' "$out" | paste -sd' ')"
stop_and_check_logs
[ "${KEEP_SANDBOX:-0}" = 1 ] || case $SB in
*/openetrn-test.*) rm -rf "$SB" ;;
esac

# A second sandbox: session lifetime alone, and /24 client prefixes (so
# the chatty clients come from 20 different /24s).
sb_init sec-chatty-time
SB_ETRND=1 SB_POLICY=1 SB_EXTRA_CONF="etrnd_max_clients = 20
etrnd_max_commands = 1000000
etrnd_max_session_time = 6s
etrnd_max_per_client = 5
client_ipv4_prefix = 24
etrnd_timeout = 60s
flush_lock_time = 1s
policy_max_session_time = 5s
policy_timeout = 60s" sb_start
. "$SB_SRCDIR/tests/lib/common.sh"

hold_two
out=$(python3 "$flood" chatty "$ETRND_PORT" session:6 127.0.%d.1 20) ||
    fail "etrnd_max_session_time:
$out"
wait_for 20 sink_is customer 2 ||
    fail "customer has $(sb_sink_count customer) of 2 messages"
# shellcheck disable=SC2046 # addresses, no blanks
logged 'session|lifetime|time limit' $(seq -f 127.0.%g.1 10 29)
pass "etrnd_max_session_time: $(printf '%s\n' "$out" | grep -E '^(customer|127\.0\.10\.1):' | paste -sd' ')"

out=$(python3 "$flood" per-client "$ETRND_PORT" 5 127.0.0.5 127.0.0.6 \
    127.0.1.6) || fail "client_ipv4_prefix = 24:
$out"
# (Refusals at accept may be logged a few a minute per network: the
# first ones, from 127.0.0.5, must be.)
logged 'network|per.?client|prefix|too many connections' 127.0.0.5
kill -0 "$ETRND_PID" || fail "etrnd died"
pass "client_ipv4_prefix = 24: $(printf '%s\n' "$out" | paste -sd' ')"

out=$(python3 "$SB_SRCDIR/tests/security/netlim.py" policy-lifetime \
    "$POLICY_SOCK" 5) || fail "policy_max_session_time:
$out"
grep -Eq 'client=local cut off: session time limit \(5s\)' \
    "$SB_LOG_DIR/etrn-policy.log" ||
    fail "no log line for the policy client cut at its lifetime"
alive "$POLICY_PID" || fail "etrn-policy died"
pass "policy_max_session_time = 5s: $(printf '%s\n' "$out" | paste -sd' ')"

stop_and_check_logs
pass "clean stop: no daemon ignored SIGTERM, no sanitizer report in any log"
