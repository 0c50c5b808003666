#!/bin/bash
# t-domain-bounds - per-domain settings obey the bounds of the settings
# they override (openetrn.conf(5)): etrnctl domains add/set refuses
# hold_time=367d and every other out-of-range value, and writes nothing;
# values already in Redis out of range (written by hand with redis-cli)
# are ignored with a logged warning by etrn-milter (the message is held
# for the default hold_time, not 400 d), etrnd and etrn-policy.
set -eu
. "${top_srcdir:-$(dirname "$0")/../..}/tests/lib/sandbox.sh"
sb_init dombounds
[ -x "${OPENETRN_BUILDDIR:-${top_builddir:-$SB_SRCDIR}}/policy/etrn-policy" ] ||
    skip "etrn-policy not built"
SB_ETRND=1 SB_POLICY=1 \
    SB_EXTRA_MAIN_CF="smtpd_recipient_restrictions = check_policy_service unix:openetrn/policy.sock" \
    sb_start
. "$SB_SRCDIR/tests/lib/common.sh"

# 1. etrnctl refuses each out-of-range value and writes nothing.
while IFS='|' read -r kv want; do
	out=$(ctl domains add bounds.test "$kv" 2>&1) &&
	    fail "domains add bounds.test $kv accepted: $out"
	grep -q -- "$want" <<<"$out" || fail "$kv: no \"$want\" in: $out"
	redis_is 0 SISMEMBER etrn:domains bounds.test || fail "$kv: entry written"
	redis_is 0 EXISTS etrn:domain:bounds.test || fail "$kv: hash written"
done <<'EOF'
hold_time=367d|value for hold_time out of range: "367d" (allowed 1 to 31622400 seconds)
hold_time=0.5|bad value for hold_time
warn_time=53w|value for warn_time out of range
max_messages=1000000001|value for max_messages out of range
max_bytes=1048577g|value for max_bytes out of range
max_bytes=-1|bad value for max_bytes
allow=192.0.2.0/33|bad allow
EOF
out=$(ctl domains set dialup.test hold_time=31622401 2>&1) &&
    fail "domains set hold_time=31622401 accepted: $out"
redis_is 0 HEXISTS etrn:domain:dialup.test hold_time || fail "set wrote hold_time"
pass "etrnctl domains add/set refuse out-of-range values, nothing written"

ctl domains add bounds.test hold_time=1 warn_time=366d \
    max_messages=1000000000 max_bytes=1048576g >/dev/null ||
    fail "values at the bounds refused"
redis_is 1 HGET etrn:domain:bounds.test hold_time || fail "hold_time not written"
pass "values at the bounds accepted"

# 2. Out of range in Redis already: ignored, with a warning, by all three.
sb_redis HSET etrn:domain:dialup2.test hold_time 400d warn_time 400d >/dev/null
sb_redis HSET etrn:domain:dialup.test max_messages 2000000000 >/dev/null
want='domain=dialup2.test hold_time "400d" in Redis ignored, using the default: value for hold_time out of range'
wait_for 10 grep -q "$want" "$MILTER_LOG" || fail "etrn-milter logged no warning"
wait_for 10 grep -q "$want" "$SB_LOG_DIR/etrnd.log" || fail "etrnd logged no warning"
grep -q 'domain=dialup2.test warn_time "400d" in Redis ignored' "$MILTER_LOG" ||
    fail "no warning for warn_time"
pass "etrn-milter and etrnd warn about hold_time 400d and warn_time 400d in Redis"

out=$(send --from s@example.org --to y@dialup2.test) || fail "send: $out"
q=$(qid_of "$out")
[ -n "$q" ] || fail "no queue ID in: $out"
wait_for 10 redis_is held HGET "etrn:msg:mx.lab.test:$q" state ||
    fail "$q not held"
a=$(field "$q" arrived)
[ $(($(field "$q" expires) - a)) = $((5 * 86400)) ] ||
    fail "held for $(($(field "$q" expires) - a)) s, want the default 5d"
[ $(($(field "$q" warn_at) - a)) = $((4 * 3600)) ] ||
    fail "warning after $(($(field "$q" warn_at) - a)) s, want the default 4h"
pass "$q held for the default hold_time and warn_time, not the values in Redis"

out=$(send --from s@example.org --to u@dialup.test) || fail "send: $out"
wait_for 10 grep -q 'domain=dialup.test max_messages "2000000000" in Redis ignored, using the default: value for max_messages out of range' \
    "$SB_LOG_DIR/etrn-policy.log" || fail "etrn-policy logged no warning"
pass "etrn-policy warns about max_messages 2000000000 in Redis"
