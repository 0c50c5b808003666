#!/bin/bash
# t-reconcile-unreadable - etrnd's own reconcile pass never takes a queue
# it cannot read as "gone".  Three held messages are released by hand
# (postsuper -H: deferred/, records still in state held, qmgr's deferred
# scan five minutes away); then every hashed subdirectory of hold/ and
# deferred/ is replaced by a symbolic link that etrnd's scan refuses
# (O_NOFOLLOW; see t-queue-unreadable.sh) while Postfix follows it.
#   while unreadable: each pass stops at its failed look (logged), no
#     record dropped, counters unchanged;
#     (The records are older than the 30 s grace by then.)
#   once readable: the pass goes on: a record deleted meanwhile is
#     rebuilt from its tag, the record of a file deleted by hand is
#     dropped (two looks agree), the others are kept.
set -eu
. "${top_srcdir:-$(dirname "$0")/../..}/tests/lib/sandbox.sh"
sb_init f-rcn-unread
SB_ETRND=1 SB_EXTRA_MAIN_CF="hash_queue_names = deferred, defer, hold
queue_run_delay = 300s
minimal_backoff_time = 300s" SB_EXTRA_CONF="reconcile_interval = 3s" sb_start
. "$SB_SRCDIR/tests/lib/common.sh"
. "$SB_SRCDIR/tests/faults/lib.sh"
H=mx.lab.test
ELOG=$SB/log/etrnd.log
failed_looks() { grep -c "reconcile: cannot ask the postfix queue where" "$ELOG" || true; }
has_record() { redis_is 1 EXISTS "etrn:msg:$H:$1"; }

trap 'rc=$?; set +e; links_off hold deferred; sb_cleanup $rc' EXIT

for i in 1 2 3 4 5 6; do
	send --from a@example.org --to "u$i@dialup.test" >/dev/null || fail "send $i"
done
sent=$(date +%s)
wait_for 10 hold_is 6 || fail "held: $(sb_queue_count hold)"
wait_for 10 redis_is 6 ZCARD "etrn:expiry:$H" || fail "not indexed"
set -- $(sb_hold_ids | sort)
A=$1 B1=$4 B2=$5 B3=$6
printf '%s\n' "$B1" "$B2" "$B3" | postsuper -c "$PF_CONF" -H - 2>/dev/null ||
    fail "postsuper -H"
wait_for 5 eval '[ "$(sb_queue_count deferred)" = 3 ]' || fail "not deferred"
n0=$(grep -c "reconcile: held=" "$ELOG" || true)
sleep 7		# two passes
for q in "$A" "$B1" "$B2" "$B3"; do has_record "$q" || fail "$q dropped"; done
pass "released by hand: the 3 records in state held with their files in deferred/ are kept"

links_on hold deferred
# Past the 30 s in which a record without a file is never dropped (it
# might be a message arriving): only the failed looks protect them now.
late=$((sent + 32 - $(date +%s)))
[ "$late" -le 0 ] || sleep "$late"
n0=$(failed_looks)
sleep 8		# two passes at least
for q in "$B1" "$B2" "$B3"; do has_record "$q" || fail "$q dropped while unreadable"; done
[ "$(failed_looks)" -ge $((n0 + 2)) ] || fail "failed looks logged: $(($(failed_looks) - n0))"
grep -q "record dropped" "$ELOG" && fail "dropped: $(grep 'record dropped' "$ELOG")"
redis_is 6 HGET etrn:stats:dialup.test held || fail "held counter"
redis_is 6 ZCARD etrn:held:dialup.test || fail "held index"
pass "queue unreadable: $(($(failed_looks) - n0)) passes stopped at their failed look (logged), nothing dropped, counters unchanged"

links_off hold deferred
sb_redis DEL "etrn:msg:$H:$A" >/dev/null
postsuper -c "$PF_CONF" -d "$B1" deferred 2>/dev/null || fail "postsuper -d"
wait_for 12 has_record "$A" || fail "$A not rebuilt"
wait_for 12 eval '! has_record "$B1"' || fail "$B1 not dropped"
grep -q "$A: record rebuilt from its hold tag domain=dialup.test" "$ELOG" || fail "rebuild not logged"
grep -q "$B1: record dropped domain=dialup.test reason=\"no queue file\"" "$ELOG" || fail "drop not logged"
has_record "$B2" && has_record "$B3" || fail "B2/B3 dropped"
redis_is 5 HGET etrn:stats:dialup.test held || fail "held counter $(sb_redis HGET etrn:stats:dialup.test held)"
redis_is 5 ZCARD etrn:held:dialup.test || fail "held index"
pass "queue readable again: $A rebuilt, $B1 (deleted by hand) dropped, the others kept; held 5"
