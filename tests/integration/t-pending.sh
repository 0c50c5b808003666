#!/bin/bash
# t-pending - messages rejected at end of data after etrn-milter recorded
# and quarantined them: their records are pending, count for no ETRN
# reply, counter or quota, and etrnd drops each within pending_timeout
# (logged with its queue ID); 200 such messages do not make a real
# message get 452 from etrn-policy's quota; real mail is counted by etrnd
# once it is on hold, and released by ETRN.
# Postfix calls no further milter after one that quarantined (a later
# spam milter never sees the message there), so the rejection after the
# record is made by Postfix's cleanup itself: milter_header_checks reject
# etrn-milter's own X-ETRN-Hold header, applied once etrn-milter has
# written the record; the check is switched on for the 200 messages only.
set -eu
. "${top_srcdir:-$(dirname "$0")/../..}/tests/lib/sandbox.sh"
sb_init pending
policy=unix:openetrn/policy.sock	# relative: the public smtpd is chrooted
SB_ETRND=1 SB_POLICY=1 SB_EXTRA_CONF="pending_timeout = 10s" \
    SB_EXTRA_MAIN_CF="smtpd_recipient_restrictions = check_policy_service $policy" \
    sb_start
. "$SB_SRCDIR/tests/lib/common.sh"
PENDING=etrn:pending:mx.lab.test
ETRND_LOG=$SB_LOG_DIR/etrnd.log

# Postfix's cleanup rejects what etrn-milter tagged for dialup.test (on)
# or nothing (off).
reject_tagged() {
	if [ "$1" = on ]; then
		postconf -c "$PF_CONF" -e 'milter_header_checks = regexp:{{/^X-ETRN-Hold: dialup\.test;/ REJECT 5.7.1 rejected after the hold tag}}'
	else
		postconf -c "$PF_CONF" -X milter_header_checks
	fi
	postfix -c "$PF_CONF" reload >/dev/null 2>&1 || fail "postfix reload"
	sleep 1
}

# Quota of 3 messages: 200 records counted would refuse everything.
sb_redis HSET etrn:domain:dialup.test max_messages 3 >/dev/null

# 1. A real message: held, then counted by etrnd's runner (not by us).
out=$(send --from s@example.org --to u1@dialup.test \
    --header 'Subject: real one') || fail "send: $out"
q1=$(qid_of "$out")
[ -n "$q1" ] || fail "no queue ID in: $out"
wait_for 10 redis_is held HGET "etrn:msg:mx.lab.test:$q1" state ||
    fail "record of $q1 not promoted: $(field "$q1" state)"
[ "$(sb_queue_count hold)" = 1 ] || fail "hold queue: $(sb_queue_count hold)"
redis_is 1 ZCARD etrn:held:dialup.test || fail "ZCARD held"
redis_is 1 HGET etrn:stats:dialup.test held || fail "stats held"
redis_is 1 HGET etrn:stats:dialup.test received || fail "stats received"
redis_is 0 ZCARD "$PENDING" || fail "pending index not emptied"
sb_redis ZSCORE etrn:expiry:mx.lab.test "$q1" | grep -qx "$(field "$q1" expires)" ||
    fail "expiry index"
grep -q "$q1: on hold, counted: domain=dialup.test" "$ETRND_LOG" ||
    fail "no promotion log line for $q1"
pass "real message $q1: pending, then held and counted by etrnd"

# 2. 200 messages recorded by etrn-milter, then rejected at end of data.
bytes=$(sb_redis HGET etrn:stats:dialup.test bytes)
reject_tagged on
python3 "$SB_SRCDIR/tests/faults/sendmany.py" --port "$SMTP_PORT" \
    --count 200 --prefix rejected --log "$SB/sendmany.log" \
    --to-fmt 'r{n}@dialup.test' --sessions 4 --retry-for 60 >/dev/null 2>&1 ||
    true
npend=$(sb_redis ZCARD "$PENDING")
reject_tagged off
[ "$(grep -c '^final .* reject ' "$SB/sendmany.log")" = 200 ] ||
    fail "want 200 rejected: $(grep '^final' "$SB/sendmany.log" |
    awk '{print $4}' | sort | uniq -c | tr '\n' ' ')"
grep 'milter-header-reject: header X-ETRN-Hold: dialup.test;' "$PF_LOG" |
    sed -n 's/.*cleanup\[[0-9]*\]: \([A-Za-z0-9]*\): .*/\1/p' |
    sort -u >"$SB/rejected.ids"
[ "$(wc -l <"$SB/rejected.ids")" = 200 ] ||
    fail "Postfix logged $(wc -l <"$SB/rejected.ids") rejections, want 200"
recorded=0
while read -r q; do
	grep -q "$q: held domain=dialup.test" "$MILTER_LOG" &&
	    recorded=$((recorded + 1))
done <"$SB/rejected.ids"
[ "$recorded" = 200 ] || fail "etrn-milter recorded $recorded of them, want 200"
[ "$(sb_queue_count hold)" = 1 ] || fail "hold queue: $(sb_queue_count hold)"
[ "$npend" -gt 0 ] || fail "no pending record right after the rejections"
pass "200 recorded by etrn-milter, then rejected by cleanup; $npend pending just after"

# Nothing of them counts, at any time.
redis_is 1 ZCARD etrn:held:dialup.test || fail "ZCARD held $(sb_redis ZCARD etrn:held:dialup.test)"
redis_is 1 HGET etrn:stats:dialup.test held || fail "stats held"
redis_is "$bytes" HGET etrn:stats:dialup.test bytes || fail "stats bytes"
redis_is 1 HGET etrn:stats:dialup.test received || fail "stats received"
redis_is 1 ZCARD etrn:expiry:mx.lab.test || fail "expiry index"

# 3. A real message is not refused by the quota (1 of 3 held).
out=$(send --from s@example.org --to u2@dialup.test \
    --header 'Subject: real two') || fail "real message refused: $out"
q2=$(qid_of "$out")
wait_for 10 redis_is held HGET "etrn:msg:mx.lab.test:$q2" state ||
    fail "record of $q2 not promoted"
redis_is 2 ZCARD etrn:held:dialup.test || fail "ZCARD held"
pass "after 200 rejected messages a real one is taken (no 452) and counted"

# 4. Within pending_timeout (10 s) plus a pass, no pending record is left.
wait_for 20 redis_is 0 ZCARD "$PENDING" ||
    fail "$(sb_redis ZCARD "$PENDING") pending records left"
left=0
while read -r q; do
	[ "$(sb_redis EXISTS "etrn:msg:mx.lab.test:$q")" = 0 ] ||
	    left=$((left + 1))
	grep -q "$q: pending record dropped: domain=dialup.test" "$ETRND_LOG" ||
	    fail "no drop log line for $q"
done <"$SB/rejected.ids"
[ "$left" = 0 ] || fail "$left records of rejected messages left"
redis_is 2 ZCARD etrn:held:dialup.test || fail "ZCARD held"
redis_is 2 HGET etrn:stats:dialup.test held || fail "stats held"
redis_is 2 HGET etrn:stats:dialup.test received || fail "stats received"
pass "every rejected message's record dropped and logged with its queue ID"

# 5. ETRN counts the real mail only and releases it.
out=$(etrn dialup.test)
[ "$out" = "253 OK, 2 pending messages for node dialup.test started" ] ||
    fail "ETRN: $out"
wait_for 20 sink_is customer 2 || fail "customer got $(sb_sink_count customer) of 2"
wait_for 10 redis_is 0 ZCARD etrn:held:dialup.test || fail "index not emptied"
pass "ETRN: 253 with 2 messages; both delivered"
