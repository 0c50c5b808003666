#!/bin/bash
# t-hold - mail for a dial-up domain is held in the private Postfix with the
# tag header and indexed in Redis with its envelope, DSN parameters, times
# and counters; forged tags are removed; subdomain entries and per-domain
# hold_time from Redis apply.
set -eu
. "${top_srcdir:-$(dirname "$0")/../..}/tests/lib/sandbox.sh"
sb_init hold
sb_start
. "$SB_SRCDIR/tests/lib/common.sh"


# 1. A plain message with DSN parameters and a forged tag.
before=$(date +%s)
out=$(send --from sender@example.org \
    --to 'u1@dialup.test NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;u1@dialup.test' \
    --to 'u2@DIALUP.test' --mail-opt RET=FULL --mail-opt ENVID=QQ314159 \
    --header 'X-ETRN-Hold: dialup.test; token=0123456789abcdef0123456789abcdef' \
    --header 'Subject: held one') || fail "send: $out"
qid=$(qid_of "$out")
[ -n "$qid" ] || fail "no queue ID in: $out"
wait_for 10 hold_is 1 ||
    fail "message $qid not in the queue"
[ "$(sb_hold_ids)" = "$qid" ] || fail "hold queue is '$(sb_hold_ids)', want $qid"
pass "message $qid is in the hold queue"

hdr=$(postcat -c "$PF_CONF" -q -h "$qid")
[ "$(printf '%s\n' "$hdr" | grep -c '^X-ETRN-Hold:')" = 1 ] ||
    fail "want exactly one X-ETRN-Hold header, got: $hdr"
token=$(field "$qid" token)
[ ${#token} = 32 ] || fail "token '$token'"
printf '%s\n' "$hdr" | grep -q "^X-ETRN-Hold: dialup.test; host=mx.lab.test; token=$token;" ||
    fail "tag header does not carry the record's token $token: $hdr"
printf '%s\n' "$hdr" | grep -q 0123456789abcdef0123456789abcdef &&
    fail "the forged tag survived"
pass "one tag header with the record's token; forged tag removed"

[ "$(field "$qid" sender)" = sender@example.org ] || fail "sender"
[ "$(field "$qid" domain)" = dialup.test ] || fail "domain"
[ "$(field "$qid" state)" = held ] || fail "state"
[ "$(field "$qid" ret)" = FULL ] || fail "ret"
[ "$(field "$qid" envid)" = QQ314159 ] || fail "envid"
[ "$(field "$qid" nrcpt)" = 2 ] || fail "nrcpt"
want=$(printf 'u1@dialup.test\tSUCCESS,FAILURE\trfc822;u1@dialup.test\nu2@DIALUP.test\t\t')
[ "$(field "$qid" recipients)" = "$want" ] ||
    fail "recipients: got '$(field "$qid" recipients)' want '$want'"
field "$qid" headers | grep -q '^Subject: held one$' || fail "headers"
arrived=$(field "$qid" arrived)
expires=$(field "$qid" expires)
warn_at=$(field "$qid" warn_at)
[ "$arrived" -ge "$before" ] && [ "$arrived" -le "$(date +%s)" ] ||
    fail "arrived $arrived"
[ $((expires - arrived)) = $((5 * 86400)) ] || fail "expires-arrived $((expires - arrived))"
[ $((warn_at - arrived)) = $((4 * 3600)) ] || fail "warn_at-arrived"
[ "$(field "$qid" size)" -gt 100 ] || fail "size"
pass "record: sender, DSN parameters, recipients, headers, times"

[ "$(sb_redis ZCARD etrn:held:dialup.test)" = 1 ] || fail "ZCARD held"
[ "$(sb_redis ZSCORE etrn:held:dialup.test "mx.lab.test:$qid")" = "$arrived" ] ||
    fail "held member score"
[ "$(sb_redis HGET etrn:stats:dialup.test held)" = 1 ] || fail "stats held"
[ "$(sb_redis HGET etrn:stats:dialup.test bytes)" = "$(field "$qid" size)" ] ||
    fail "stats bytes"
[ "$(sb_redis HGET etrn:stats:dialup.test oldest)" = "$arrived" ] ||
    fail "stats oldest"
[ "$(sb_redis ZSCORE etrn:expiry:mx.lab.test "$qid")" = "$expires" ] ||
    fail "expiry index"
[ "$(sb_redis ZSCORE etrn:warn:mx.lab.test "$qid")" = "$warn_at" ] ||
    fail "warn index"
sb_redis SISMEMBER etrn:hostdomains:mx.lab.test dialup.test | grep -qx 1 ||
    fail "hostdomains"
grep -q "$qid: held domain=dialup.test from=<sender@example.org> nrcpt=2" \
    "$MILTER_LOG" || fail "log line"
pass "indexes and counters; log line names the queue ID"

[ "$(ps -o user= -p "$MILTER_PID")" = openetrn ] ||
    fail "milter runs as $(ps -o user= -p "$MILTER_PID"), want openetrn"
[ "$(stat -c '%a %G' "$MILTER_SOCK")" = "660 postfix" ] ||
    fail "socket is $(stat -c '%a %G' "$MILTER_SOCK")"
pass "milter runs as openetrn; socket mode 660, group postfix"

# 2. A second message: counts add up, oldest stays.
sb_swaks -f s2@example.org -t u3@dialup.test >/dev/null || fail "swaks"
wait_for 10 redis_is 2 ZCARD etrn:held:dialup.test ||
    fail "second message not indexed"
[ "$(sb_redis HGET etrn:stats:dialup.test held)" = 2 ] || fail "stats held 2"
[ "$(sb_redis HGET etrn:stats:dialup.test oldest)" = "$arrived" ] ||
    fail "oldest changed"
[ "$(sb_queue_count hold)" = 2 ] || fail "hold count"
pass "second message: counters add up"

# 3. Subdomain of a ".dialup.test" entry; per-domain hold_time from Redis.
sb_redis HSET etrn:domain:dialup2.test hold_time 2h warn_time 0 >/dev/null
sleep 2		# domain_refresh = 1s
out=$(send --from s@example.org --to x@a.dialup.test) || fail "send: $out"
sub=$(qid_of "$out")
out=$(send --from s@example.org --to y@dialup2.test) || fail "send: $out"
two=$(qid_of "$out")
wait_for 10 redis_is held HGET etrn:msg:mx.lab.test:$two state ||
    fail "dialup2 message not recorded"
wait_for 10 redis_is held HGET etrn:msg:mx.lab.test:$sub state ||
    fail "subdomain message not recorded"
[ "$(field "$sub" domain)" = a.dialup.test ] || fail "subdomain held as $(field "$sub" domain)"
[ "$(sb_redis ZCARD etrn:held:a.dialup.test)" = 1 ] || fail "subdomain index"
a=$(field "$two" arrived)
[ $(($(field "$two" expires) - a)) = 7200 ] || fail "per-domain hold_time"
[ "$(field "$two" warn_at)" = 0 ] || fail "per-domain warn_time 0"
sb_redis ZSCORE etrn:warn:mx.lab.test "$two" | grep -q . && fail "warned"
[ "$(sb_queue_count hold)" = 4 ] || fail "hold count 4"
pass "subdomain entry and per-domain hold_time/warn_time"
