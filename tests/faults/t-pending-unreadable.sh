#!/bin/bash
# t-pending-unreadable - a read error is never "gone" for a pending
# record: the hashed subdirectories of hold/ are replaced by symbolic
# links to the real directories (Postfix follows them, etrnd's scan does
# not), so etrnd cannot read where a newly held message is.
#   while unreadable: the record stays pending past pending_timeout (10 s
#     here) over two runner passes: not dropped, not counted; the failure
#     is logged.
#   once readable: the record is counted (state held, held set, counters)
#     and ETRN releases the message.
set -eu
. "${top_srcdir:-$(dirname "$0")/../..}/tests/lib/sandbox.sh"
sb_init f-pendunread
SB_ETRND=1 SB_EXTRA_MAIN_CF="hash_queue_names = deferred, defer, hold" \
    SB_EXTRA_CONF="pending_timeout = 10s
flush_lock_time = 1s" sb_start
. "$SB_SRCDIR/tests/lib/common.sh"
. "$SB_SRCDIR/tests/faults/lib.sh"
ELOG=$SB/log/etrnd.log
held_n() { [ "$(sb_queue_count hold)" = "$1" ]; }

trap 'rc=$?; set +e; links_off hold; sb_cleanup $rc' EXIT

links_on hold
out=$(send --from a@example.org --to u@dialup.test) || fail "send: $out"
q=$(qid_of "$out")
[ -n "$q" ] || fail "no queue ID in: $out"
wait_for 10 held_n 1 || fail "not held: $(sb_queue_count hold)"
[ -n "$(find "$PF_SPOOL/unread-hold" -name "$q")" ] ||
    fail "$q is not below a linked hold subdirectory"
# After a failed queue read the runner's next pass is 30 s later: wait
# for one past pending_timeout (10 s).
sleep 40
state_is "$q" pending || fail "state $(field "$q" state) while unreadable"
[ -n "$(sb_redis ZSCORE etrn:pending:mx.lab.test "$q")" ] ||
    fail "left the pending index while unreadable"
redis_is 0 ZCARD etrn:held:dialup.test || fail "counted while unreadable"
grep -q "$q: pending record dropped" "$ELOG" && fail "dropped on a read error"
grep -Eq "postfix: cannot read $PF_SPOOL/hold/[0-9A-F]: (Not a directory|neither a file nor a directory)" "$ELOG" ||
    fail "the read error is not logged"
pass "hold/ unreadable past pending_timeout: $q stays pending, not dropped, not counted; logged"

links_off hold
# The runner waits 30 s after a failed queue read before its next pass.
wait_for 45 state_is "$q" held || fail "not counted once readable: $(field "$q" state)"
redis_is 1 ZCARD etrn:held:dialup.test || fail "ZCARD held"
redis_is 1 HGET etrn:stats:dialup.test held || fail "stats held"
redis_is 0 ZCARD etrn:pending:mx.lab.test || fail "pending index"
out=$(etrn dialup.test)
[ "$out" = "253 OK, 1 pending message for node dialup.test started" ] ||
    fail "ETRN: $out"
wait_for 20 sink_is customer 1 || fail "not delivered"
pass "readable again: counted, and ETRN delivers it"
