#!/bin/bash
# t-redis-kill-intake - Redis killed (SIGKILL) and started again on its
# AOF while a stream of dial-up and other mail comes in.  Senders of
# dial-up mail get 4xx while Redis is away and retry; other mail is not
# held up; afterwards every dial-up message is on hold exactly once and
# indexed (reconcile finds nothing to rebuild: no acknowledged write was
# lost), every other message delivered once, and an ETRN delivers the
# held mail, each message once.
set -eu
. "${top_srcdir:-$(dirname "$0")/../..}/tests/lib/sandbox.sh"
sb_init f-rintake
SB_ETRND=1 SB_EXTRA_CONF="flush_lock_time = 1s" sb_start
. "$SB_SRCDIR/tests/lib/common.sh"
. "$SB_SRCDIR/tests/faults/lib.sh"
send_pid=
trap 'rc=$?; set +e; [ -z "$send_pid" ] || kill "$send_pid" 2>/dev/null; sb_cleanup $rc' EXIT

N=200 OTHER=50		# every 4th message goes to example.com
LOG=$SB/sent.log
sendmany --count $N --other-every 4 --prefix in --sessions 3 \
    --pace 0.1 --retry-for 60 --log "$LOG" >"$SB/sendmany.out" 2>&1 &
send_pid=$!
wait_for 60 eval '[ "$(progress "$LOG")" -ge 20 ]' || fail "stream too slow"
redis_kill
wait_for 30 logged 5 "$LOG" '^attempt .*@dialup\.test 451 4\.3\.0' ||
    fail "no tempfail while Redis is down"
# Other mail accepted after the first tempfail, Redis still down.
other_while_down() {
	[ "$(awk 'f && /@example\.com 250 /{c++} / 451 4\.3\.0/{f=1}
	    END{print c+0}' "$LOG")" -ge 2 ]
}
wait_for 30 other_while_down || fail "other mail held up while Redis is down"
redis_back
pass "Redis killed mid-stream: dial-up senders got 451 4.3.0, other mail went on"

wait "$send_pid" || fail "not every message was accepted in the end: $(cat "$SB/sendmany.out")"
send_pid=
tf=$(grep -c '^attempt .* 4[0-9][0-9] ' "$LOG" || true)
[ "$(grep -c '^attempt .* 5[0-9][0-9] ' "$LOG" || true)" = 0 ] ||
    fail "a 5xx: $(grep '^attempt .* 5[0-9][0-9] ' "$LOG" | head -3)"
wait_for 30 sink_is internet $OTHER || fail "other mail: $(sb_sink_count internet) of $OTHER"
wait_for 30 hold_is $((N - OTHER)) || fail "held: $(sb_queue_count hold) of $((N - OTHER))"
ledger --dialup held --settled --no-stale "$LOG" || fail "ledger after the restart"
redis_is $((N - OTHER)) ZCARD etrn:held:dialup.test || fail "ZCARD"
redis_is $((N - OTHER)) HGET etrn:stats:dialup.test held || fail "stats held"
out=$(ctl reconcile --dry-run) || fail "reconcile: $out"
printf '%s\n' "$out" | grep -q "^reconcile: held=$((N - OTHER)) ok=$((N - OTHER)) rebuilt=0 dropped=0 skipped=0$" ||
    fail "reconcile would change the index: $(printf '%s\n' "$out" | tail -n 3)"
pass "all $N accepted after $tf tempfails; $((N - OTHER)) held and indexed, $OTHER delivered, no 5xx, reconcile finds nothing to do"

out=$(etrn dialup.test)
[ "$out" = "253 OK, $((N - OTHER)) pending messages for node dialup.test started" ] || fail "$out"
wait_for 60 sink_is customer $((N - OTHER)) ||
    fail "delivered $(sb_sink_count customer) of $((N - OTHER))"
wait_for 20 redis_is 0 ZCARD etrn:held:dialup.test || fail "index not empty"
wait_for 20 redis_is 0 ZCARD etrn:released:mx.lab.test || fail "released index not empty"
ledger --dialup deliver --settled --no-stale "$LOG" || fail "ledger after ETRN"
redis_is $((N - OTHER)) HGET etrn:stats:dialup.test flushed || fail "flushed counter"
pass "ETRN after the outage: every held message delivered exactly once"
