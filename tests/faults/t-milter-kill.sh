#!/bin/bash
# t-milter-kill - etrn-milter killed with SIGKILL while 200 messages (150
# dial-up, 50 other) come in, then started again.  While it is gone
# Postfix answers 4xx (milter_default_action = tempfail) and the senders
# retry; no dial-up message is accepted without being held and indexed;
# records the milter wrote for messages that never reached the hold
# queue are dropped within pending_timeout; the restarted milter takes
# its socket back (the dead one's socket file is still there) and holds
# mail again; an ETRN delivers each held message once.
set -eu
. "${top_srcdir:-$(dirname "$0")/../..}/tests/lib/sandbox.sh"
sb_init f-mkill
SB_ETRND=1 SB_EXTRA_CONF="flush_lock_time = 1s
pending_timeout = 10s" sb_start
. "$SB_SRCDIR/tests/lib/common.sh"
. "$SB_SRCDIR/tests/faults/lib.sh"
send_pid= milter_pid=
trap 'rc=$?; set +e; [ -z "$send_pid" ] || kill "$send_pid" 2>/dev/null; [ -z "$milter_pid" ] || { kill "$milter_pid"; wait "$milter_pid"; } 2>/dev/null; sb_cleanup $rc' EXIT

N=200 OTHER=50		# every 4th message goes to example.com
LOG=$SB/sent.log
sendmany --count $N --other-every 4 --prefix mk --sessions 3 \
    --pace 0.05 --retry-for 90 --log "$LOG" >"$SB/sendmany.out" 2>&1 &
send_pid=$!
wait_for 60 eval '[ "$(progress "$LOG")" -ge 40 ]' || fail "stream too slow"
kill -9 "$MILTER_PID"
wait_for 10 sh -c "! kill -0 $MILTER_PID 2>/dev/null" || fail "milter survived"
[ -S "$MILTER_SOCK" ] || fail "the killed milter's socket file is gone already"
wait_for 30 logged 3 "$LOG" '^attempt .* 4[0-9][0-9] ' ||
    fail "no tempfail while the milter is dead"
# Started again as the sandbox starts it; it must replace the stale socket.
"$OPENETRN_BUILDDIR/etrn-milter" -f -c "$OPENETRN_CONF" \
    >>"$SB/log/etrn-milter.log" 2>&1 &
milter_pid=$!
wait_for 15 eval '[ -S "$MILTER_SOCK" ] && python3 -c "
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])" "$MILTER_SOCK" 2>/dev/null' ||
    fail "the restarted milter does not listen on $MILTER_SOCK"
kill -0 "$milter_pid" || fail "the restarted milter exited"
pass "milter killed mid-stream: senders got 4xx; restarted, it took its socket back"

wait "$send_pid" || fail "not every message was accepted in the end: $(tail -3 "$SB/sendmany.out")"
send_pid=
tf=$(grep -c '^attempt .* 4[0-9][0-9] ' "$LOG" || true)
[ "$(grep -c '^attempt .* 5[0-9][0-9] ' "$LOG" || true)" = 0 ] ||
    fail "a 5xx: $(grep '^attempt .* 5[0-9][0-9] ' "$LOG" | head -3)"
wait_for 30 sink_is internet $OTHER || fail "other mail: $(sb_sink_count internet) of $OTHER"
wait_for 30 eval '[ "$(sb_queue_count hold)" = $((N - OTHER)) ]' ||
    fail "held: $(sb_queue_count hold) of $((N - OTHER))"
wait_for 30 redis_is 0 ZCARD etrn:pending:mx.lab.test ||
    fail "pending records left: $(sb_redis ZCARD etrn:pending:mx.lab.test)"
ledger --dialup held --settled --no-stale "$LOG" || fail "ledger after the restart"
redis_is $((N - OTHER)) ZCARD etrn:held:dialup.test || fail "ZCARD"
redis_is $((N - OTHER)) HGET etrn:stats:dialup.test held || fail "stats held"
pass "all $N accepted after $tf tempfails; $((N - OTHER)) held and indexed, none twice, $OTHER delivered, no 5xx"

out=$(etrn dialup.test)
[ "$out" = "253 OK, $((N - OTHER)) pending messages for node dialup.test started" ] || fail "$out"
wait_for 60 sink_is customer $((N - OTHER)) ||
    fail "delivered $(sb_sink_count customer) of $((N - OTHER))"
wait_for 20 redis_is 0 ZCARD etrn:held:dialup.test || fail "index not empty"
ledger --dialup deliver --settled --no-stale "$LOG" || fail "ledger after ETRN"
pass "ETRN after the restart: every held message delivered exactly once"
