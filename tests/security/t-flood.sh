#!/bin/bash
# t-flood - a client that pipelines 50 MB and never reads what it is
# answered cannot grow a listener's memory: the listener stops reading
# it while its unsent output is above etrnd_max_output (policy_max_output)
# and drops it when it has read nothing for etrnd_timeout
# (policy_timeout).  Against etrnd's listener: 50 MB of NOOP from
# 127.0.0.66, never a recv; the listener's VmRSS, sampled every 100 ms,
# and its VmHWM stay under 16 MiB, the flooder is dropped within
# etrnd_timeout + 3 s of the last byte it could send, and 2 s into the
# flood a customer's ETRN for dialup.test (two messages held) gets its
# 253 within 1 s, and the mail.  Against etrn-policy: 50 MB of pipelined
# requests on its socket; VmRSS and VmHWM under 16 MiB, the flooder
# dropped, a normal request on another connection answered within 1 s.
# etrnd_max_commands and policy_max_requests are set far above what the
# flow control lets through, so that it is the flow control that holds
# (and the log must not name the command limit for the flooder).
# In a sanitizer build (shadow memory, quarantine) RSS is not checked.
set -eu
. "${top_srcdir:-$(dirname "$0")/../..}/tests/lib/sandbox.sh"
sb_init sec-flood
timeout=5
SB_ETRND=1 SB_POLICY=1 SB_EXTRA_CONF="etrnd_timeout = ${timeout}s
etrnd_max_commands = 1000000
flush_lock_time = 1s
policy_timeout = ${timeout}s
policy_max_requests = 10000000" sb_start
. "$SB_SRCDIR/tests/lib/common.sh"
. "$SB_SRCDIR/tests/security/seclib.sh"
flood=$SB_SRCDIR/tests/security/flood.py

bdir=${OPENETRN_BUILDDIR:-${top_builddir:-$SB_SRCDIR}}
rss=
if nm "$bdir/etrnd/etrnd" 2>/dev/null | grep -q '__asan_init'; then
	export FLOOD_MAX_RSS_KIB=0
	rss=" (sanitizer build: RSS not checked)"
fi

for i in 1 2; do
	sb_swaks -f s@example.org -t "u$i@dialup.test" >/dev/null || fail "swaks"
done
wait_for 10 hold_is 2 || fail "mail not held"

out=$(python3 "$flood" etrnd-flood "$ETRND_PORT" "$ETRND_PID" "$timeout") ||
    fail "etrnd under a 50 MB flood:
$out"
wait_for 20 sink_is customer 2 ||
    fail "customer has $(sb_sink_count customer) of 2 messages"
kill -0 "$ETRND_PID" || fail "etrnd died"
log=$SB_LOG_DIR/etrnd.log
log_client "$log" 127.0.0.66 'command' &&
    fail "the command limit, not the flow control, cut the flooder:
$(grep -F 127.0.0.66 "$log")"
log_client "$log" 127.0.0.66 'output|read|write|flow|unsent|buffer' ||
    fail "no log line for the flooder: $(grep -F 127.0.0.66 "$log")"
pass "etrnd under a 50 MB NOOP flood$rss: $(printf '%s\n' "$out" | paste -sd' ')"

out=$(python3 "$flood" policy-flood "$POLICY_SOCK" "$POLICY_PID" \
    "$timeout") || fail "etrn-policy under a 50 MB flood:
$out"
kill -0 "$POLICY_PID" || fail "etrn-policy died"
pass "etrn-policy under a 50 MB request flood$rss: $(printf '%s\n' "$out" | paste -sd' ')"

stop_and_check_logs
pass "clean stop: no daemon ignored SIGTERM, no sanitizer report in any log"
