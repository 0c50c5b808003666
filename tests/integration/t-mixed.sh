#!/bin/bash
# t-mixed - a message for a normal domain and two dial-up domains: the
# normal recipient gets it at once; each dial-up domain gets its own held
# copy with only its recipients and their DSN parameters.
set -eu
. "${top_srcdir:-$(dirname "$0")/../..}/tests/lib/sandbox.sh"
sb_init mixed
sb_start
. "$SB_SRCDIR/tests/lib/common.sh"


out=$(send --from s@example.org --mail-opt RET=HDRS --mail-opt ENVID=MIX1 \
    --to 'a@example.com' \
    --to 'b@dialup.test NOTIFY=FAILURE ORCPT=rfc822;b@dialup.test' \
    --to 'c@dialup2.test NOTIFY=NEVER' --to 'd@dialup.test' \
    --header 'Subject: mixed message' \
    --body $'line one\n.leading dot\nend\n') || fail "send: $out"
orig=$(qid_of "$out")
wait_for 15 sink_is internet 1 ||
    fail "normal recipient did not get the message"
f=$(sb_sink_grep internet '^Subject: mixed message') || fail "sink file"
grep -q '^X-Rcpt-Args: <a@example.com>' "$f" || fail "a@example.com missing"
[ "$(grep -c '^X-Rcpt-Args:' "$f")" = 1 ] ||
    fail "internet sink got dial-up recipients: $(grep X-Rcpt-Args "$f")"
grep -q '^\.leading dot' "$f" || fail "dot-stuffing broken"
pass "normal recipient delivered at once, alone"

wait_for 10 redis_is 1 ZCARD etrn:held:dialup2.test ||
    fail "dialup2 copy not indexed"
[ "$(sb_queue_count hold)" = 2 ] || fail "want 2 held copies, got $(sb_queue_count hold)"
[ "$(sb_redis ZCARD etrn:held:dialup.test)" = 1 ] || fail "dialup.test copy"
for id in $(sb_hold_ids); do
	[ "$id" != "$orig" ] || fail "the original was held"
done
m1=$(sb_redis ZRANGE etrn:held:dialup.test 0 -1)
m2=$(sb_redis ZRANGE etrn:held:dialup2.test 0 -1)
want=$(printf 'b@dialup.test\tFAILURE\trfc822;b@dialup.test\nd@dialup.test\t\t')
[ "$(sb_redis HGET "etrn:msg:$m1" recipients)" = "$want" ] ||
    fail "dialup.test copy recipients: $(sb_redis HGET "etrn:msg:$m1" recipients)"
[ "$(sb_redis HGET "etrn:msg:$m2" recipients)" = "$(printf 'c@dialup2.test\tNEVER\t')" ] ||
    fail "dialup2 copy recipients"
[ "$(sb_redis HGET "etrn:msg:$m1" envid)" = MIX1 ] || fail "ENVID lost"
[ "$(sb_redis HGET "etrn:msg:$m2" ret)" = HDRS ] || fail "RET lost"
[ "$(sb_redis HGET "etrn:msg:$m1" sender)" = s@example.org ] || fail "sender"
pass "one held copy per dial-up domain with its recipients and DSN parameters"

qid=${m1#mx.lab.test:}
postcat -c "$PF_CONF" -q -bh "$qid" > "$SB/copy.txt"
grep -q '^Subject: mixed message' "$SB/copy.txt" || fail "copy headers"
grep -q '^\.leading dot' "$SB/copy.txt" || fail "copy body"
grep -q "^X-ETRN-Hold: dialup.test;" "$SB/copy.txt" || fail "copy tag"
grep -q "$orig: split domain=dialup.test nrcpt=2 copy=\"250 2.0.0 Ok: queued as $qid\"" \
    "$MILTER_LOG" || fail "split log line"
pass "copy content intact; split logged with both queue IDs"

# All recipients in dial-up domains: the first domain stays with the
# original (held), the second gets a copy.
out=$(send --from s@example.org --to e@dialup.test --to f@dialup2.test) ||
    fail "send: $out"
orig=$(qid_of "$out")
wait_for 10 redis_is 2 ZCARD etrn:held:dialup2.test ||
    fail "second split not indexed"
[ "$(sb_queue_count hold)" = 4 ] || fail "want 4 held, got $(sb_queue_count hold)"
[ "$(sb_redis HGET "etrn:msg:mx.lab.test:$orig" recipients)" = "$(printf 'e@dialup.test\t\t')" ] ||
    fail "original keeps only the first domain"
[ "$(sb_sink_count internet)" = 1 ] || fail "nothing more may be delivered"
pass "all-dial-up message: original held for one domain, copy for the other"
