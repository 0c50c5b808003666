#!/bin/bash
# t-expire-crash - etrnd killed (SIGKILL) in the middle of an expiry sweep
# and started again: every message is expired exactly once and its sender
# gets its DSN; nothing is left in the hold queue or the index.  A DSN the
# MTA had taken in the instant before the kill, while etrnd had not yet
# recorded it, is sent again: both copies carry the same Message-ID (one
# per message, derived from its hold token), so the copy is recognisable
# as a duplicate; no sender may get two different DSNs.
set -eu
. "${top_srcdir:-$(dirname "$0")/../..}/tests/lib/sandbox.sh"
sb_init expirecrash
SB_ETRND=1 sb_start
. "$SB_SRCDIR/tests/lib/common.sh"
N=30
etrnd_pid=
stop_etrnd() {
	[ -n "$etrnd_pid" ] || return 0
	kill "$etrnd_pid" 2>/dev/null || true
	wait "$etrnd_pid" 2>/dev/null || true
}
trap 'rc=$?; stop_etrnd; (exit $rc); sb_cleanup' EXIT
dsns() { sb_sink_files internet | xargs -r grep -l '^Auto-Submitted: auto-replied' 2>/dev/null || true; }
dsn_is() { [ "$(dsns | grep -c . || true)" = "$1" ]; }

sb_redis HSET etrn:domain:dialup2.test hold_time 1h warn_time 0 >/dev/null
sleep 2
for i in $(seq 1 $N); do
	sb_swaks -f "s$i@example.org" -t "v$i@dialup2.test" >/dev/null || fail "swaks $i"
done
sb_wait_for 20 hold_is $N || fail "not all held"

# All due at once; kill etrnd (runner and listener) once the sweep began.
for q in $(sb_hold_ids); do
	sb_redis ZADD etrn:expiry:mx.lab.test 0 "$q" >/dev/null
done
dsn_at_least() { [ "$(dsns | grep -c . || true)" -ge "$1" ]; }
sb_wait_for 30 dsn_at_least 1 || fail "the sweep did not start"
child=$(ps -o pid= --ppid "$ETRND_PID" | tr -d ' ')
kill -9 "$ETRND_PID" $child
sb_wait_for 10 sh -c "! kill -0 $ETRND_PID 2>/dev/null" || fail "etrnd survived"
left=$(sb_queue_count hold)
[ "$left" -gt 0 ] || fail "the sweep finished before the kill"
pass "etrnd killed in the sweep, $left of $N files still held"

"$OPENETRN_BUILDDIR/etrnd/etrnd" -f -c "$OPENETRN_CONF" >> "$SB/log/etrnd.log" 2>&1 &
etrnd_pid=$!
sb_wait_for 60 redis_is 0 ZCARD etrn:held:dialup2.test || fail "not all expired"
sb_wait_for 20 dsn_at_least $N || fail "want $N DSNs, got $(dsns | grep -c . || true)"
sleep 3
pairs=$(for f in $(dsns); do
	printf '%s %s\n' "$(grep -m1 '^To:' "$f" | cut -d' ' -f2)" \
	    "$(grep -m1 -i '^Message-ID:' "$f" | cut -d' ' -f2)"
done | sort)
[ "$(printf '%s\n' "$pairs" | cut -d' ' -f1 | sort -u | wc -l)" = $N ] ||
    fail "DSNs reached $(printf '%s\n' "$pairs" | cut -d' ' -f1 | sort -u | wc -l) of $N senders"
[ "$(printf '%s\n' "$pairs" | sort -u | wc -l)" = $N ] ||
    fail "a sender got two different DSNs: $pairs"
copies=$(($(printf '%s\n' "$pairs" | wc -l) - N))
hold_is 0 || fail "files left on hold"
redis_is $N HGET etrn:stats:dialup2.test expired || fail "expired counter"
redis_is 0 HGET etrn:stats:dialup2.test held || fail "held counter"
redis_is 0 ZCARD etrn:expiry:mx.lab.test || fail "expiry index"
pass "after the restart: $N expired, every sender got its DSN (same-ID copies: $copies), nothing left"
