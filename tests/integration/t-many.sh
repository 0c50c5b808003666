#!/bin/bash
# t-many - 100 recipients, split 50/50 and all dial-up; a long folded
# header; more header text than the record keeps (bounded, marked
# truncated, the queued message intact).
set -eu
. "${top_srcdir:-$(dirname "$0")/../..}/tests/lib/sandbox.sh"
sb_init many
sb_start
. "$SB_SRCDIR/tests/lib/common.sh"

args=()
for i in $(seq 1 100); do args+=(--to "u$i@dialup.test"); done
out=$(send --from s@example.org "${args[@]}" --header 'Subject: hundred') ||
    fail "send: $out"
q1=$(qid_of "$out")
wait_for 10 hold_is 1 || fail "100-recipient message not held"
[ "$(field "$q1" nrcpt)" = 100 ] || fail "nrcpt $(field "$q1" nrcpt)"
[ "$(field "$q1" recipients | grep -c "^u[0-9]*@dialup.test	")" = 100 ] || fail "recipient lines"
pass "100 dial-up recipients: one held message, all recorded"

args=()
for i in $(seq 1 50); do args+=(--to "n$i@example.com" --to "d$i@dialup.test"); done
out=$(send --from s@example.org "${args[@]}" --header 'Subject: fifty-fifty') ||
    fail "send: $out"
wait_for 15 sink_is internet 1 || fail "normal half not delivered"
f=$(sb_sink_grep internet '^Subject: fifty-fifty') || fail "sink file"
[ "$(grep -c '^X-Rcpt-Args: <n[0-9]*@example.com>' "$f")" = 50 ] ||
    fail "internet sink recipients: $(grep -c '^X-Rcpt-Args' "$f")"
grep -q '^X-Rcpt-Args: <d' "$f" && fail "dial-up recipient delivered"
wait_for 10 hold_is 2 || fail "dial-up half not held"
m=$(sb_redis ZRANGE etrn:held:dialup.test 0 -1 | grep -v ":$q1\$")
[ "$(sb_redis HGET "etrn:msg:$m" nrcpt)" = 50 ] || fail "copy nrcpt"
pass "50/50 split: 50 delivered at once, 50 in one held copy"

long="X-Long: start"
for i in $(seq 1 60); do long+=$'\r\n\t'"folded-line-$i-$(printf '%060d' "$i")"; done
out=$(send --from s@example.org --to big@dialup.test --header "$long" \
    --header 'Subject: long header') || fail "send: $out"
q3=$(qid_of "$out")
wait_for 10 hold_is 3 || fail "long-header message not held"
field "$q3" headers | grep -q 'folded-line-60-' || fail "long header not recorded"
[ "$(field "$q3" headers_truncated)" = 0 ] || fail "marked truncated"
pass "a 4.5 KB folded header is held and recorded whole"

hdrs=()
for i in $(seq 1 300); do hdrs+=(--header "X-Filler-$i: $(printf '%0290d' "$i")"); done
out=$(send --from s@example.org --to huge@dialup.test "${hdrs[@]}") ||
    fail "send: $out"
q4=$(qid_of "$out")
wait_for 10 hold_is 4 || fail "90 KB header message not held"
[ "$(field "$q4" headers_truncated)" = 1 ] || fail "not marked truncated"
len=$(field "$q4" headers | wc -c)
[ "$len" -le 65536 ] && [ "$len" -gt 60000 ] || fail "record header bytes $len"
[ "$(postcat -c "$PF_CONF" -q -h "$q4" | grep -c '^X-Filler-')" = 300 ] ||
    fail "queued message lost headers"
[ "$(field "$q4" size)" -gt 90000 ] || fail "size counts all headers"
pass "90 KB of headers: record keeps $len bytes and says so; queue file whole"
