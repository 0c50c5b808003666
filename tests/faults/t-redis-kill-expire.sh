#!/bin/bash
# t-redis-kill-expire - Redis killed (SIGKILL) during an expiry sweep
# that returns 60 held messages with DSNs, and started again on its AOF
# (appendfsync always).  Afterwards every sender has exactly one DSN
# (counted per original message by its X-Test-Id in the returned
# header), no message was delivered, nothing is left on hold (neither an
# original nor a DSN) or in the index, and the counters add up.
set -eu
. "${top_srcdir:-$(dirname "$0")/../..}/tests/lib/sandbox.sh"
sb_init f-rexpire
export SB_REDIS_APPENDFSYNC=always
# The DSN smtpd answers through a relay, each DSN 200 ms late: the sweep
# of 60 lasts 12 s however fast etrnd is, so Redis dies in it.
GATE_PORT=$(free_port) GATE_PID=
SB_ETRND=1 SB_DSN_SERVER=none \
    SB_EXTRA_CONF="dsn_server = inet:127.0.0.1:$GATE_PORT" sb_start
. "$SB_SRCDIR/tests/lib/common.sh"
. "$SB_SRCDIR/tests/faults/lib.sh"
trap 'rc=$?; set +e; [ -z "$GATE_PID" ] || kill "$GATE_PID"; sb_cleanup $rc' EXIT
dsn_gate 200

N=60
sb_redis HSET etrn:domain:dialup2.test hold_time 1h warn_time 0 >/dev/null
sleep 1.2	# domain_refresh: the milter sees the domain's settings
LOG=$SB/sent.log
sendmany --count $N --prefix ex --to-fmt 'v{n}@dialup2.test' --sessions 3 \
    --log "$LOG" >"$SB/sendmany.out" 2>&1 || fail "intake: $(cat "$SB/sendmany.out")"
wait_for 30 hold_is $N || fail "held: $(sb_queue_count hold) of $N"
wait_for 10 redis_is $N ZCARD etrn:held:dialup2.test || fail "not all indexed"
pass "$N messages held for dialup2.test"

# All due at once; Redis dies once the DSN smtpd has taken a few.
ctl expire $(sb_hold_ids) >/dev/null || fail "etrnctl expire"
wait_for 30 dsn_taken 5 || fail "the sweep did not start"
redis_kill
left=$(find "$PF_SPOOL/hold" -type f | wc -l)
out=$(dsn_count)
[ "$out" -lt $N ] || fail "the sweep was over before the kill"
wait_for 20 grep -Eq 'redis.*(failed|connection lost|refused)' "$SB/log/etrnd.log" ||
    fail "etrnd did not notice"
redis_back
pass "Redis killed mid-sweep: $out of $N DSNs out, $left files on hold (originals, held DSNs)"

wait_for 60 redis_is 0 ZCARD etrn:held:dialup2.test ||
    fail "not all expired: $(sb_redis ZCARD etrn:held:dialup2.test) left"
wait_for 30 eval '[ "$(dsn_count)" -ge $N ]' || fail "DSNs: $(dsn_count) of $N"
wait_for 20 hold_is 0 || fail "left on hold: $(sb_queue_count hold)"
ledger --dialup dsn --settled --no-stale "$LOG" || fail "ledger"
[ "$(dsn_count)" = $N ] || fail "DSNs: $(dsn_count), want $N"
redis_is $N HGET etrn:stats:dialup2.test expired || fail "expired counter"
redis_is 0 HGET etrn:stats:dialup2.test held || fail "held counter"
redis_is 0 ZCARD etrn:expiry:mx.lab.test || fail "expiry index"
pass "after the restart: $N returned, one DSN each, nothing delivered or left"
