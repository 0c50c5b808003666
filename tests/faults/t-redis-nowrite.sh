#!/bin/bash
# t-redis-nowrite - Redis refuses writes (maxmemory far below what it
# uses, noeviction: every script that writes gets -OOM) while reads work:
#   etrn-milter answers 451 4.3.0 to mail it would hold (nothing queued);
#   etrnd neither deletes a message past its deadline nor sends its DSN,
#   and counts nothing new;
#   once Redis accepts writes again: the message past its deadline is
#   returned with one DSN and deleted, and new mail is held and counted.
set -eu
. "${top_srcdir:-$(dirname "$0")/../..}/tests/lib/sandbox.sh"
sb_init f-nowrite
SB_ETRND=1 sb_start
. "$SB_SRCDIR/tests/lib/common.sh"
. "$SB_SRCDIR/tests/faults/lib.sh"
ELOG=$SB/log/etrnd.log
trap 'rc=$?; set +e; sb_redis CONFIG SET maxmemory 0 >/dev/null 2>&1; sb_cleanup $rc' EXIT

# A held message, counted, whose deadline is then passed while Redis
# refuses writes.
out=$(send --from a@example.org --to u1@dialup.test) || fail "send: $out"
q1=$(qid_of "$out")
wait_for 10 state_is "$q1" held || fail "$q1 not held and counted"

sb_redis CONFIG SET maxmemory-policy noeviction >/dev/null
sb_redis CONFIG SET maxmemory 1 >/dev/null
out=$(sb_redis SET etrn:probe x 2>&1) || true
case $out in
*OOM*) ;;
*) fail "Redis still takes writes: $out" ;;
esac
pass "Redis refuses writes (OOM), reads work: $(sb_redis ZCARD etrn:held:dialup.test) held"

# The deadline passes: one transaction lifts the limit, writes the
# deadline and sets the limit again, so etrnd never sees it writable.
sb_redis CONFIG SET maxmemory 0 >/dev/null
printf '%s\n' MULTI "ZADD etrn:expiry:mx.lab.test 0 $q1" \
    "HSET etrn:msg:mx.lab.test:$q1 expires 1" "CONFIG SET maxmemory 1" EXEC |
    redis-cli -s "$REDIS_SOCK" >/dev/null
sb_redis SET etrn:probe x 2>&1 | grep -q OOM || fail "writable again"

out=$(send --from b@example.org --to u2@dialup.test 2>&1) &&
    fail "accepted while Redis refused writes: $out"
case $out in
*"451 4.3.0"*) ;;
*) fail "want 451 4.3.0, got: $out" ;;
esac
sleep 6		# several runner passes
[ "$(dsn_count)" = 0 ] || fail "a DSN was sent while Redis refused writes"
[ "$(sb_queue_count hold)" = 1 ] || fail "hold queue: $(sb_queue_count hold)"
[ "$(sb_hold_ids)" = "$q1" ] || fail "the message past its deadline was deleted"
state_is "$q1" held || fail "record state $(field "$q1" state)"
redis_is 1 ZCARD etrn:held:dialup.test || fail "index changed"
grep -q 'OOM' "$ELOG" || fail "etrnd did not log the refused write"
pass "while Redis refuses writes: 451 4.3.0 at intake; no DSN, nothing deleted"

sb_redis CONFIG SET maxmemory 0 >/dev/null
wait_for 30 eval '[ "$(dsn_count)" = 1 ]' || fail "no DSN after Redis came back"
wait_for 10 redis_is 0 EXISTS "etrn:msg:mx.lab.test:$q1" || fail "record left"
wait_for 10 eval '[ "$(sb_queue_count hold)" = 0 ]' || fail "file left"
out=$(send --from b@example.org --to u2@dialup.test) || fail "send: $out"
q2=$(qid_of "$out")
wait_for 10 state_is "$q2" held || fail "$q2 not held and counted"
redis_is 1 ZCARD etrn:held:dialup.test || fail "ZCARD held"
sleep 1
[ "$(dsn_count)" = 1 ] || fail "$(dsn_count) DSNs"
pass "writes accepted again: one DSN, file and record gone; new mail held and counted"
