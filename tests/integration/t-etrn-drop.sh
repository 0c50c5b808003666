#!/bin/bash
# t-etrn-drop - the customer's server drops the link in the middle of DATA:
# what it did not take goes back on hold with its original deadline and
# consistent records; a later ETRN delivers the rest.
set -eu
. "${top_srcdir:-$(dirname "$0")/../..}/tests/lib/sandbox.sh"
sb_init etrndrop
SB_ETRND=1 SB_EXTRA_CONF="flush_lock_time = 1s" sb_start
. "$SB_SRCDIR/tests/lib/common.sh"
drop_pid=
stop_drop() {
	[ -n "$drop_pid" ] || return 0
	kill "$drop_pid" 2>/dev/null || true
	wait "$drop_pid" 2>/dev/null || true
	drop_pid=
}
trap 'rc=$?; stop_drop; sb_cleanup $rc' EXIT

# The customer's server: takes one message, then drops mid-DATA.
kill "$SINK_CUSTOMER_PID"
wait_for 10 sh -c "! kill -0 $SINK_CUSTOMER_PID" || fail "sink still runs"
start_drop() {
	python3 "$SB_SRCDIR/tests/lib/dropsink.py" "$CUSTOMER_PORT" "$1" \
	    --take "$2" 2>>"$SB/log/dropsink.log" &
	drop_pid=$!
	wait_for 10 python3 -c "import socket; socket.create_connection(('127.0.0.1', $CUSTOMER_PORT), 1).close()" ||
	    fail "dropsink does not listen: $(cat "$SB/log/dropsink.log")"
}
start_drop "$SB/drop" 1

for i in 1 2 3; do
	sb_swaks -f s@example.org -t "u$i@dialup.test" >/dev/null || fail "swaks"
done
wait_for 10 hold_is 3 || fail "mail not held"
declare -A expires
for id in $(sb_hold_ids); do expires[$id]=$(field "$id" expires); done

out=$(etrn dialup.test)
[ "$out" = "253 OK, 3 pending messages for node dialup.test started" ] || fail "$out"
settled() { hold_is 2 && redis_is 0 ZCARD etrn:released:mx.lab.test; }
wait_for 30 settled || fail "want 2 back on hold, have $(sb_queue_count hold)"
[ "$(ls "$SB/drop" | wc -l)" = 1 ] || fail "customer took $(ls "$SB/drop" | wc -l)"
wait_for 10 redis_is 2 ZCARD etrn:held:dialup.test || fail "index"
for id in $(sb_hold_ids); do
	[ "$(field "$id" state)" = held ] || fail "$id state $(field "$id" state)"
	[ "$(field "$id" reholds)" = 1 ] || fail "$id reholds"
	[ "$(field "$id" expires)" = "${expires[$id]}" ] || fail "$id deadline changed"
	postcat -c "$PF_CONF" -q -h "$id" | grep -q '^X-ETRN-Hold: dialup.test;' ||
	    fail "$id lost its tag"
done
redis_is 1 HGET etrn:stats:dialup.test flushed || fail "flushed"
redis_is 2 HGET etrn:stats:dialup.test held || fail "held"
[ "$(sb_queue_count deferred)" = 0 ] || fail "mail left in deferred"
redis_is 0 ZCARD etrn:released:mx.lab.test || fail "released index"
pass "dropped mid-DATA: 1 delivered, 2 back on hold with their deadlines"

stop_drop
start_drop "$SB/drop2" 100
sleep 1.5
out=$(etrn dialup.test)
[ "$out" = "253 OK, 2 pending messages for node dialup.test started" ] || fail "$out"
wait_for 30 hold_is 0 || fail "rest not delivered"
wait_for 10 redis_is 0 ZCARD etrn:held:dialup.test || fail "index"
[ "$(ls "$SB/drop2" | wc -l)" = 2 ] || fail "second run took $(ls "$SB/drop2" | wc -l)"
redis_is 3 HGET etrn:stats:dialup.test flushed || fail "flushed 3"
pass "link back: the rest delivered, nothing twice"
