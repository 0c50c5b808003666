#!/bin/bash
# t-expire-crash - etrnd killed (SIGKILL) in the middle of an expiry sweep
# and started again: every message is expired exactly once and its sender
# gets exactly one DSN; nothing is left in the hold queue or the index.
# Then the instants a kill cannot be aimed at, set up by hand with etrnd
# stopped: a DSN the MTA took (on hold at the sandbox's DSN smtpd) while
# the record still says "sending", one recorded as "queued", and a
# "sending" whose DSN never reached the MTA: each sender gets one DSN,
# the held one where there is one.
set -eu
. "${top_srcdir:-$(dirname "$0")/../..}/tests/lib/sandbox.sh"
sb_init expirecrash
# The DSN smtpd answers through a relay, each DSN 100 ms late: the sweep
# of 80 lasts 8 s however fast etrnd is, so the kill lands in it.
GATE_PORT=$(free_port) GATE_PID=
SB_ETRND=1 SB_DSN_SERVER=none \
    SB_EXTRA_CONF="dsn_server = inet:127.0.0.1:$GATE_PORT" sb_start
. "$SB_SRCDIR/tests/lib/common.sh"
N=80
etrnd_pid=
stop_etrnd() {
	[ -n "$etrnd_pid" ] || return 0
	kill "$etrnd_pid" 2>/dev/null || true
	wait "$etrnd_pid" 2>/dev/null || true
}
trap 'rc=$?; set +e; stop_etrnd; [ -z "$GATE_PID" ] || kill "$GATE_PID"; sb_cleanup $rc' EXIT
dsn_gate 100

sb_redis HSET etrn:domain:dialup2.test hold_time 1h warn_time 0 >/dev/null
sleep 2
for i in $(seq 1 $N); do
	sb_swaks -f "s$i@example.org" -t "v$i@dialup2.test" >/dev/null || fail "swaks $i"
done
wait_for 20 hold_is $N || fail "not all held"

# All due at once; kill etrnd (runner and listener) once the sweep began.
for q in $(sb_hold_ids); do
	sb_redis ZADD etrn:expiry:mx.lab.test 0 "$q" >/dev/null
done
# DSNs taken by the DSN smtpd (on hold until the end of the sweep)
wait_for 30 dsn_taken 3 || fail "the sweep did not start"
child=$(ps -o pid= --ppid "$ETRND_PID" | tr -d ' ')
kill -9 "$ETRND_PID" $child
wait_for 10 sh -c "! kill -0 $ETRND_PID 2>/dev/null" || fail "etrnd survived"
left=$(sb_queue_count hold)
[ "$left" -gt 0 ] || fail "the sweep finished before the kill"
pass "etrnd killed in the sweep, $left files still on hold"

"$OPENETRN_BUILDDIR/etrnd/etrnd" -f -c "$OPENETRN_CONF" >> "$SB/log/etrnd.log" 2>&1 &
etrnd_pid=$!
wait_for 60 redis_is 0 ZCARD etrn:held:dialup2.test || fail "not all expired"
wait_for 20 dsn_at_least $N || fail "want $N DSNs, got $(dsns | grep -c . || true)"
sleep 3
pairs=$(for f in $(dsns); do
	printf '%s %s\n' "$(grep -m1 '^To:' "$f" | cut -d' ' -f2)" \
	    "$(grep -m1 -i '^Message-ID:' "$f" | cut -d' ' -f2)"
done | sort)
[ "$(printf '%s\n' "$pairs" | cut -d' ' -f1 | sort -u | wc -l)" = $N ] ||
    fail "DSNs reached $(printf '%s\n' "$pairs" | cut -d' ' -f1 | sort -u | wc -l) of $N senders"
[ "$(printf '%s\n' "$pairs" | sort -u | wc -l)" = $N ] ||
    fail "a sender got two different DSNs: $pairs"
[ "$(printf '%s\n' "$pairs" | wc -l)" = $N ] ||
    fail "a sender got its DSN twice: $pairs"
hold_is 0 || fail "files left on hold"
redis_is $N HGET etrn:stats:dialup2.test expired || fail "expired counter"
redis_is 0 HGET etrn:stats:dialup2.test held || fail "held counter"
redis_is 0 ZCARD etrn:expiry:mx.lab.test || fail "expiry index"
pass "after the restart: $N expired, every sender got exactly one DSN, nothing left"

# The instants around the DSN's hand-over, with etrnd stopped.
stop_etrnd
etrnd_pid=
for s in a b c; do
	sb_swaks -f "crash-$s@example.org" -t "w$s@dialup2.test" >/dev/null || fail "swaks $s"
done
wait_for 20 hold_is 3 || fail "not held"
declare -A q tok
for id in $(sb_hold_ids); do
	from=$(sb_redis HGET "etrn:msg:mx.lab.test:$id" sender)
	s=${from#crash-}; s=${s%%@*}
	q[$s]=$id
	tok[$s]=$(sb_redis HGET "etrn:msg:mx.lab.test:$id" token)
done
[ -n "${q[a]:-}" ] && [ -n "${q[b]:-}" ] && [ -n "${q[c]:-}" ] || fail "records: ${!q[*]}"
# held_dsn LETTER - what etrnd had submitted to the holding DSN smtpd
held_dsn() {
	swaks --server 127.0.0.1 --port "$DSN_PORT" -f '<>' -t "crash-$1@example.org" \
	    --header "Message-Id: $(dsn_msgid expired "${tok[$1]}" mx.lab.test)" \
	    --header "Auto-Submitted: auto-replied" \
	    --header "Subject: the held DSN $1" --body "held-dsn-$1" 2>&1 |
	    sed -n 's/.* queued as \([0-9A-Za-z]*\).*/\1/p' | tail -n 1
}
since=$(($(date +%s) - 1))
for s in a b c; do
	sb_redis HSET "etrn:msg:mx.lab.test:${q[$s]}" state expiring dsn_state sending \
	    dsn_since "$since" >/dev/null
done
[ -n "$(held_dsn a)" ] || fail "DSN a not taken"
dq=$(held_dsn b)
[ -n "$dq" ] || fail "DSN b not taken"
sb_redis HSET "etrn:msg:mx.lab.test:${q[b]}" dsn_state queued dsn_queue_id "$dq" >/dev/null
wait_for 10 hold_is 5 || fail "the DSNs are not on hold: $(sb_queue_count hold)"
before=$(dsns | grep -c . || true)

"$OPENETRN_BUILDDIR/etrnd/etrnd" -f -c "$OPENETRN_CONF" >> "$SB/log/etrnd.log" 2>&1 &
etrnd_pid=$!
for s in a b c; do sb_redis ZADD etrn:expiry:mx.lab.test 0 "${q[$s]}" >/dev/null; done
wait_for 30 redis_is 0 ZCARD etrn:held:dialup2.test || fail "not expired"
wait_for 20 dsn_at_least $((before + 3)) || fail "want 3 more DSNs, got $(($(dsns | grep -c .) - before))"
sleep 3
[ "$(dsns | grep -c .)" = $((before + 3)) ] || fail "more than one DSN for a sender"
for s in a b c; do
	n=$(dsns | xargs grep -l "^To: <\?crash-$s@example.org" | wc -l)
	[ "$n" = 1 ] || fail "crash-$s got $n DSNs"
done
dsns | xargs grep -l "held-dsn-a" >/dev/null || fail "the DSN on hold (sending) was not the one delivered"
dsns | xargs grep -l "held-dsn-b" >/dev/null || fail "the DSN on hold (queued) was not the one delivered"
f=$(dsns | xargs grep -l "^To: <\?crash-c@example.org")
grep -q "^Content-Type: multipart/report" "$f" || fail "crash-c: not a new DSN"
hold_is 0 || fail "files left on hold: $(sb_queue_count hold)"
redis_is $((N + 3)) HGET etrn:stats:dialup2.test expired || fail "expired counter"
grep -q "${q[a]}: DSN found on hold as" "$SB/log/etrnd.log" || fail "no log line for the found DSN"
pass "a DSN taken but not recorded, one recorded as queued, one never taken: one DSN each"
