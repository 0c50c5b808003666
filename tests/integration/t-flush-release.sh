#!/bin/bash
# t-flush-release - how a flush hands held mail to Postfix (the MTA
# commands are logged by mta_wrappers of tests/faults/lib.sh):
#   - an ETRN for more messages than one Redis batch (RUN_BATCH, 1000)
#     runs exactly one postsuper -H for all of them, one postkick of
#     qmgr (D: a deferred-queue scan takes what is due), no postqueue -i
#     for mail never tried and never postqueue -f; all are delivered;
#   - mail that was deferred (customer unreachable) and put back on hold
#     has a hold file time in the future (its next retry): the next ETRN
#     schedules it with postqueue -i, and it is delivered within seconds,
#     not at its retry time.
set -eu
. "${top_srcdir:-$(dirname "$0")/../..}/tests/lib/sandbox.sh"
sb_init flushrel
. "$SB_SRCDIR/tests/faults/lib.sh"
mta_wrappers
# Postfix's own retries far away (the sandbox's are seconds), so that
# only the release can deliver deferred mail within the test's waits.
SB_ETRND=1 SB_EXTRA_CONF="postfix_command_directory = $SB/bin
flush_lock_time = 1s" SB_EXTRA_MAIN_CF="queue_run_delay = 300s
minimal_backoff_time = 300s
maximal_backoff_time = 600s" sb_start
. "$SB_SRCDIR/tests/lib/common.sh"
trap 'rc=$?; set +e; stop_customer; sb_cleanup $rc' EXIT
CALLS=$SB/mta-calls.log
N=${FLUSH_RELEASE_MESSAGES:-1050}

# calls_since LINE RE - MTA calls after line LINE of the log matching RE
calls_since() {
	tail -n "+$(($1 + 1))" "$CALLS" 2>/dev/null | grep -Ec -- "$2" || true
}
lines() { wc -l <"$CALLS" 2>/dev/null || echo 0; }

sendmany --count "$N" --prefix fr --sessions 4 --log "$SB/sent.log" \
    >/dev/null || fail "intake"
wait_for 120 hold_is "$N" || fail "held: $(sb_queue_count hold) of $N"
wait_for 20 redis_is "$N" ZCARD etrn:held:dialup.test || fail "not indexed"
l0=$(lines)
out=$(etrn dialup.test)
[ "$out" = "253 OK, $N pending messages for node dialup.test started" ] ||
    fail "$out"
wait_for 120 sink_is customer "$N" ||
    fail "delivered $(sb_sink_count customer) of $N"
wait_for 20 hold_is 0 || fail "left on hold: $(sb_queue_count hold)"
h=$(calls_since "$l0" ' postsuper .*-H( |$)')
k=$(calls_since "$l0" ' postkick .*public qmgr D$')
i=$(calls_since "$l0" ' postqueue .*-i ')
f=$(calls_since "$l0" ' postqueue .*-f( |$)')
[ "$h" = 1 ] && [ "$k" = 1 ] && [ "$i" = 0 ] && [ "$f" = 0 ] ||
    fail "$N messages: postsuper -H $h, postkick $k, postqueue -i $i," \
    "postqueue -f $f times: $(tail -n "+$((l0 + 1))" "$CALLS" | head)"
pass "$N messages: one postsuper -H, one qmgr wake-up, no postqueue;" \
    "all delivered"

# The customer unreachable: the released mail is tried, deferred with a
# retry time, and tracking puts it back on hold.
kill "$SINK_CUSTOMER_PID"
wait_for 10 sh -c "! kill -0 $SINK_CUSTOMER_PID 2>/dev/null" ||
    fail "customer sink still runs"
for j in 1 2; do
	sb_swaks -f s@example.org -t "late$j@dialup.test" >/dev/null ||
	    fail "swaks"
done
wait_for 10 hold_is 2 || fail "not held: $(sb_queue_count hold)"
wait_for 10 redis_is 2 ZCARD etrn:held:dialup.test || fail "not indexed"
sleep 1.2	# flush_lock_time
out=$(etrn dialup.test)
[ "$out" = "253 OK, 2 pending messages for node dialup.test started" ] ||
    fail "$out"
reheld() {
	hold_is 2 && redis_is 0 ZCARD etrn:released:mx.lab.test &&
	    redis_is 2 ZCARD etrn:held:dialup.test
}
wait_for 60 reheld || fail "not back on hold: $(sb_queue_count hold)"
now=$(date +%s)
for id in $(sb_hold_ids); do
	t=$(stat -c %Y "$(find "$PF_SPOOL/hold" -name "$id")")
	[ "$t" -gt "$((now + 30))" ] ||
	    fail "$id: hold file time $t, not a retry time after $now"
done
pass "deferred mail back on hold with its retry time in the future"

slow_customer 1	# the customer back (waiting 1 s before each reply)
sleep 1.2	# flush_lock_time
l0=$(lines)
t0=$(date +%s)
out=$(etrn dialup.test)
[ "$out" = "253 OK, 2 pending messages for node dialup.test started" ] ||
    fail "$out"
wait_for 15 sink_is customer $((N + 2)) ||
    fail "re-held mail not delivered: $(sb_sink_count customer)"
wait_for 20 hold_is 0 || fail "left on hold: $(sb_queue_count hold)"
h=$(calls_since "$l0" ' postsuper .*-H( |$)')
i=$(calls_since "$l0" ' postqueue .*-i ')
f=$(calls_since "$l0" ' postqueue .*-f( |$)')
[ "$h" = 1 ] && [ "$i" = 2 ] && [ "$f" = 0 ] ||
    fail "2 re-held: postsuper -H $h, postqueue -i $i, postqueue -f $f"
pass "2 re-held messages delivered $(($(date +%s) - t0)) s after the" \
    "ETRN: one postsuper -H, postqueue -i for each"
