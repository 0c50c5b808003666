#!/bin/bash
# t-idn - SMTPUTF8 mail to an internationalized dial-up domain is held
# under its A-label; an upper-case U-label matches too.
set -eu
. "${top_srcdir:-$(dirname "$0")/../..}/tests/lib/sandbox.sh"
sb_init idn
sb_start
. "$SB_SRCDIR/tests/lib/common.sh"

out=$(send --smtputf8 --from 's@example.org' --to 'kunde@bücher.test' \
    --header 'Subject: idn') || fail "send: $out"
q1=$(qid_of "$out")
out=$(send --smtputf8 --from 's@example.org' --to 'zwei@BÜCHER.test') ||
    fail "send: $out"
q2=$(qid_of "$out")
wait_for 10 hold_is 2 || fail "IDN mail not held: $(sb_queue_count hold)"
[ "$(field "$q1" domain)" = xn--bcher-kva.test ] ||
    fail "domain '$(field "$q1" domain)'"
[ "$(field "$q2" domain)" = xn--bcher-kva.test ] || fail "upper-case U-label"
[ "$(sb_redis ZCARD etrn:held:xn--bcher-kva.test)" = 2 ] || fail "index"
field "$q1" recipients | grep -q '^kunde@bücher.test' ||
    fail "recipient not kept as sent"
postcat -c "$PF_CONF" -q -h "$q1" | grep -q '^X-ETRN-Hold: xn--bcher-kva.test;' ||
    fail "tag header"
pass "SMTPUTF8 mail for bücher.test held as xn--bcher-kva.test"

out=$(send --from s@example.org --to 'kunde@xn--bcher-kva.test') ||
    fail "send: $out"
wait_for 10 hold_is 3 || fail "A-label mail not held"
pass "A-label recipient held in the same domain"
