#!/bin/bash
# t-etrnd-kill - etrnd (queue runner and listener) killed with SIGKILL
# in the middle of a flush of 200 held messages, as soon as the release
# has begun, and started again: the unacknowledged flush request is read
# again, every message reaches the customer exactly once, nothing stays
# in the queue unfollowed, and the index ends up empty (records of mail
# that left the queue while etrnd was dead are removed by tracking and
# counted as flushed).
set -eu
. "${top_srcdir:-$(dirname "$0")/../..}/tests/lib/sandbox.sh"
sb_init f-ekill
. "$SB_SRCDIR/tests/faults/lib.sh"
mta_wrappers
SB_ETRND=1 SB_EXTRA_CONF="flush_lock_time = 1s
postfix_command_directory = $SB/bin" sb_start
. "$SB_SRCDIR/tests/lib/common.sh"
etrnd_pid=
trap 'rc=$?; set +e; [ -z "$etrnd_pid" ] || { kill "$etrnd_pid"; wait "$etrnd_pid"; } 2>/dev/null; stop_customer; sb_cleanup $rc' EXIT

N=200
LOG=$SB/sent.log
sendmany --count $N --prefix ek --sessions 4 --log "$LOG" >"$SB/sendmany.out" 2>&1 ||
    fail "intake: $(cat "$SB/sendmany.out")"
wait_for 60 hold_is $N || fail "held: $(sb_queue_count hold) of $N"
wait_for 10 redis_is $N ZCARD etrn:held:dialup.test || fail "not all indexed"
slow_customer 1		# one second per message, 20 at a time

out=$(etrn dialup.test)
[ "$out" = "253 OK, $N pending messages for node dialup.test started" ] || fail "$out"
in_hold() { find "$PF_SPOOL/hold" -type f | wc -l; }
# pending - flush requests read by this host's etrnd and not acknowledged
pending() { sb_redis XPENDING etrn:flush etrnd:mx.lab.test | head -n 1; }
wait_for 30 eval '[ "$(in_hold)" -lt '$N' ]' || fail "the release did not begin"
child=$(ps -o pid= --ppid "$ETRND_PID" | tr -d ' ')
kill -9 "$ETRND_PID" $child
wait_for 10 sh -c "! kill -0 $ETRND_PID 2>/dev/null" || fail "etrnd survived"
marked=$(sb_redis ZCARD etrn:released:mx.lab.test)
npending=$(pending)
echo "# killed: $(in_hold) on hold, $(sb_sink_count customer) delivered, $marked marked released, $npending request(s) pending"
[ "$(sb_sink_count customer)" -lt $N ] || fail "all delivered before the kill"
pass "1: etrnd killed mid-flush ($(sb_sink_count customer) of $N delivered)"

"$OPENETRN_BUILDDIR/etrnd/etrnd" -f -c "$OPENETRN_CONF" >>"$SB/log/etrnd.log" 2>&1 &
etrnd_pid=$!
wait_for 90 sink_is customer $N || fail "delivered $(sb_sink_count customer) of $N"
wait_for 30 redis_is 0 ZCARD etrn:released:mx.lab.test || fail "released index"
wait_for 10 hold_is 0 || fail "left on hold: $(sb_queue_count hold)"
[ "$(pending)" = 0 ] || fail "request still pending"
ledger --dialup deliver --settled "$LOG" || fail "ledger"
pass "1: after the restart: all $N delivered exactly once, none left in the queue"

redis_is 0 ZCARD etrn:held:dialup.test || fail "index not empty"
ledger --dialup deliver --settled --no-stale "$LOG" || fail "ledger"
redis_is 0 HGET etrn:stats:dialup.test held || fail "held counter"
redis_is $N HGET etrn:stats:dialup.test flushed || fail "flushed counter"
pass "1: index empty and counters consistent (held 0, flushed $N)"

# 2. Killed right after postsuper -H moved the mail out of hold.  The
# records were marked released before (etrnd/flush.c: runner_release), so
# the mail Postfix delivers while etrnd is dead is recognised as flushed
# when etrnd is back, and the rest is followed; nothing needs reconcile.
M=100
LOG2=$SB/sent2.log
sendmany --count $M --prefix ek2 --sessions 4 --log "$LOG2" >"$SB/sendmany.out" 2>&1 ||
    fail "intake 2: $(cat "$SB/sendmany.out")"
wait_for 60 hold_is $M || fail "held: $(sb_queue_count hold) of $M"
wait_for 10 redis_is $M ZCARD etrn:held:dialup.test || fail "not all indexed"
touch "$SB/postsuper.slow"
sleep 1.2	# flush_lock_time
out=$(etrn dialup.test)
[ "$out" = "253 OK, $M pending messages for node dialup.test started" ] || fail "$out"
wait_for 30 test -e "$SB/postsuper.done" || fail "postsuper -H not run"
kill_etrnd() {
	local child
	child=$(ps -o pid= --ppid "$etrnd_pid" | tr -d ' ')
	kill -9 "$etrnd_pid" $child
	wait "$etrnd_pid" 2>/dev/null || true
	etrnd_pid=
}
kill_etrnd
rm -f "$SB/postsuper.slow"
[ "$(in_hold)" = 0 ] || fail "postsuper -H left $(in_hold) on hold"
redis_is $M ZCARD etrn:released:mx.lab.test || fail "records not marked before the release"
[ "$(pending)" = 1 ] || fail "request not pending: $(pending)"
pass "2: etrnd killed right after postsuper -H: $M out of hold, all marked released, request pending"

# etrnd stays down until Postfix's own deferred queue run
# (queue_run_delay 10s) has delivered some of the released mail.
wait_for 40 eval '[ "$(sb_sink_count customer)" -gt '$N' ]' ||
    fail "Postfix did not deliver the released mail by itself"
d0=$(sb_sink_count customer)
"$OPENETRN_BUILDDIR/etrnd/etrnd" -f -c "$OPENETRN_CONF" >>"$SB/log/etrnd.log" 2>&1 &
etrnd_pid=$!
wait_for 90 sink_is customer $((N + M)) || fail "delivered $(($(sb_sink_count customer) - N)) of $M"
wait_for 30 redis_is 0 ZCARD etrn:released:mx.lab.test || fail "released index"
wait_for 10 hold_is 0 || fail "left on hold: $(sb_queue_count hold)"
[ "$(pending)" = 0 ] || fail "request still pending"
ledger --dialup deliver --settled --no-stale "$LOG" "$LOG2" || fail "ledger 2"
redis_is 0 ZCARD etrn:held:dialup.test || fail "index not empty"
redis_is $((N + M)) HGET etrn:stats:dialup.test flushed || fail "flushed counter"
pass "2: $((d0 - N)) delivered while etrnd was dead; all $M delivered once, index empty, flushed $((N + M))"

# 3. Killed after the marking, before postsuper -H: nothing left the
# hold; the records say released.  The flush request, read again after
# the restart, finds them still on hold and releases them again.
P=30
LOG3=$SB/sent3.log
sendmany --count $P --prefix ek3 --sessions 2 --log "$LOG3" >/dev/null || fail "intake 3"
wait_for 30 redis_is $P ZCARD etrn:held:dialup.test || fail "not all indexed"
touch "$SB/postsuper.slowpre"
sleep 1.2	# flush_lock_time
out=$(etrn dialup.test)
[ "$out" = "253 OK, $P pending messages for node dialup.test started" ] || fail "$out"
wait_for 30 test -e "$SB/postsuper.before" || fail "postsuper -H not started"
kill_etrnd
rm -f "$SB/postsuper.slowpre"
[ "$(in_hold)" = $P ] || fail "left the hold: $((P - $(in_hold)))"
redis_is $P ZCARD etrn:released:mx.lab.test || fail "records not marked"
[ "$(pending)" = 1 ] || fail "request not pending: $(pending)"
pass "3: etrnd killed between marking and postsuper -H: $P still on hold, marked released"
again() { grep -c 'marked released but still on hold, released again' "$SB/log/etrnd.log" || true; }
again0=$(again)

"$OPENETRN_BUILDDIR/etrnd/etrnd" -f -c "$OPENETRN_CONF" >>"$SB/log/etrnd.log" 2>&1 &
etrnd_pid=$!
wait_for 60 sink_is customer $((N + M + P)) || fail "delivered $(($(sb_sink_count customer) - N - M)) of $P"
wait_for 30 redis_is 0 ZCARD etrn:held:dialup.test || fail "index"
wait_for 30 redis_is 0 ZCARD etrn:released:mx.lab.test || fail "released index"
[ "$(pending)" = 0 ] || fail "request still pending"
[ $(($(again) - again0)) = $P ] || fail "re-release logged $(($(again) - again0)) times, want $P"
ledger --dialup deliver --settled --no-stale "$LOG" "$LOG2" "$LOG3" || fail "ledger 3"
redis_is $((N + M + P)) HGET etrn:stats:dialup.test flushed || fail "flushed counter"
pass "3: the request read again released the $P again; each delivered once"

# 4. The runner alone killed outright (as the OOM killer would): its
# listener goes with it (parent-death signal) rather than taking ETRNs
# nobody serves and holding the port against the next etrnd.
lpid=$(ps -o pid= --ppid "$etrnd_pid" | tr -d ' ' | head -n 1)
[ -n "$lpid" ] || fail "no listener process"
kill -9 "$etrnd_pid"
wait "$etrnd_pid" 2>/dev/null || true
etrnd_pid=
wait_for 5 eval "! alive $lpid" || fail "listener $lpid outlived its runner"
"$OPENETRN_BUILDDIR/etrnd/etrnd" -f -c "$OPENETRN_CONF" >>"$SB/log/etrnd.log" 2>&1 &
etrnd_pid=$!
wait_for 20 eval "ss -Hltn 'sport = :$ETRND_PORT' | grep -q ." ||
    fail "etrnd did not listen again"
out=$(etrn dialup.test)
case $out in 25*) ;; *) fail "ETRN after the restart: $out" ;; esac
pass "4: runner killed alone: its listener $lpid gone, a new etrnd listens and answers ($out)"
