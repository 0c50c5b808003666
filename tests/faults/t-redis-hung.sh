#!/bin/bash
# t-redis-hung - Redis hung, not dead (SIGSTOP, then SIGCONT), while
# etrnd's listener, its queue runner and etrn-policy run; redis_timeout
# is 1 s.  A flush was accepted just before the stop (the runner had not
# read it yet: it was stopped itself for that moment), and a held
# message's deadline (hold_time 15 s for its domain) passes during the
# stop.
#   listener: ETRN gets 458 within redis_timeout + 2 s;
#   etrn-policy: an ETRN gets its policy_redis_down_etrn (458), a
#     recipient of a dial-up domain its policy_redis_down_rcpt (defer),
#     each within redis_timeout + 2 s;
#   runner: while Redis is stopped nothing leaves the hold, nothing is
#     deleted, no DSN is sent, no release or delete command runs
#     (postsuper/postqueue wrappers log every call);
#   after SIGCONT: the flush delivers each of its messages once, the
#     expired message is returned with exactly one DSN and deleted, its
#     record gone; counters add up; ETRN and policy answer normally.
set -eu
. "${top_srcdir:-$(dirname "$0")/../..}/tests/lib/sandbox.sh"
sb_init f-rhung
. "$SB_SRCDIR/tests/faults/lib.sh"
mta_wrappers
SB_ETRND=1 SB_POLICY=1 SB_EXTRA_CONF="flush_lock_time = 1s
policy_redis_down_etrn = 458
policy_redis_down_rcpt = defer
postfix_command_directory = $SB/bin" sb_start
. "$SB_SRCDIR/tests/lib/common.sh"
ELOG=$SB/log/etrnd.log
TIMEOUT_MS=1000			# the sandbox's redis_timeout
grep -q '^redis_timeout = 1s$' "$OPENETRN_CONF" || fail "redis_timeout is not 1s"
BOUND_MS=$((TIMEOUT_MS + 2000))	# the margin for a loaded machine
RPID=$REDIS_PID
trap 'rc=$?; set +e; kill -CONT "$RPID" "$ETRND_PID" 2>/dev/null; sb_cleanup $rc' EXIT

# timed CMD... - run CMD, print "MS OUTPUT" (MS: how long it took)
timed() {
	local t0 out
	t0=$(ms_now)
	out=$("$@" 2>&1) || true
	echo "$(($(ms_now) - t0)) $out"
}
# within WHAT RESULT WANT - RESULT ("MS OUTPUT") is WANT within BOUND_MS
within() {
	local ms=${2%% *} out=${2#* }
	case $out in
	"$3"*) ;;
	*) fail "$1: want \"$3\", got \"$out\"" ;;
	esac
	[ "$ms" -le "$BOUND_MS" ] || fail "$1: answered after $ms ms (bound $BOUND_MS)"
	echo "# $1: $ms ms"
}
releases() { grep -Ec 'postsuper .*-[dHr]|postqueue .*-[ifs]' "$SB/mta-calls.log" 2>/dev/null || true; }

ctl domains set dialup2.test hold_time=15s warn_time=0 >/dev/null ||
    fail "etrnctl domains set"
sleep 1.2	# domain_refresh: the milter sees the domain's settings
LOG1=$SB/sent1.log LOG2=$SB/sent2.log
sendmany --count 5 --prefix hf --log "$LOG1" >/dev/null || fail "intake 1"
sendmany --count 1 --prefix hx --to-fmt 'v{n}@dialup2.test' --log "$LOG2" \
    >/dev/null || fail "intake 2"

wait_for 20 hold_is 6 || fail "held: $(sb_queue_count hold)"
wait_for 10 redis_is 5 ZCARD etrn:held:dialup.test || fail "not indexed"
wait_for 10 redis_is 1 ZCARD etrn:held:dialup2.test || fail "not indexed 2"
qx=$(sb_redis ZRANGE etrn:held:dialup2.test 0 -1 | sed 's/.*://')
deadline=$(field "$qx" expires)
held0=$(sb_hold_ids | sort)

# The flush is accepted while the runner is stopped, then Redis stops.
kill -STOP "$ETRND_PID"
out=$(etrn dialup.test)
[ "$out" = "253 OK, 5 pending messages for node dialup.test started" ] ||
    fail "ETRN before the stop: $out"
kill -STOP "$RPID"
kill -CONT "$ETRND_PID"
calls0=$(releases)
stopped=$(date +%s)
[ "$stopped" -lt $((deadline - 2)) ] || fail "too slow: the deadline is near"
pass "flush accepted, Redis stopped (SIGSTOP) $((deadline - stopped)) s before a deadline"

# (a) etrnd's listener, twice (the second on a connection made anew)
within "ETRN 1" "$(timed etrn dialup.test)" "458 "
within "ETRN 2" "$(timed etrn dialup2.test)" "458 "
# (b) etrn-policy
within "policy ETRN" "$(timed policy_ask ETRN dialup.test)" \
    "action=458 4.3.0 "
within "policy RCPT" "$(timed policy_ask RCPT dialup.test)" \
    "action=DEFER 4.3.0 "
within "policy ETRN 2" "$(timed policy_ask ETRN dialup2.test)" \
    "action=458 4.3.0 "
pass "Redis hung: ETRN 458, policy 458 and DEFER, each within $BOUND_MS ms"

# (c) the runner, over the deadline and some passes after it
while [ "$(date +%s)" -lt $((deadline + 4)) ]; do
	sleep 0.5
	[ "$(sb_sink_count customer)" = 0 ] || fail "delivered while Redis hung"
	[ "$(dsn_count)" = 0 ] || fail "a DSN while Redis hung"
done
[ "$(sb_hold_ids | sort)" = "$held0" ] || fail "the hold queue changed"
[ "$(releases)" = "$calls0" ] ||
    fail "MTA commands while Redis hung: $(tail -n 3 "$SB/mta-calls.log")"
logged 1 "$ELOG" 'redis: .*failed' || fail "the runner did not log the failure"
kill -0 "$ETRND_PID" || fail "etrnd died"
hung=$(($(date +%s) - stopped))
pass "runner, Redis hung $hung s over a deadline: nothing released, deleted or sent"

# (d) Redis goes on.
kill -CONT "$RPID"
wait_for 30 sink_is customer 5 || fail "flush: $(sb_sink_count customer) of 5"
wait_for 30 eval '[ "$(dsn_count)" -ge 1 ]' || fail "no DSN"
wait_for 20 hold_is 0 || fail "left on hold: $(sb_queue_count hold)"
wait_for 10 redis_is 0 EXISTS "etrn:msg:mx.lab.test:$qx" || fail "record left"
wait_for 10 redis_is 0 ZCARD etrn:held:dialup.test || fail "index left"
sleep 3		# more runner passes: nothing a second time
sink_is customer 5 || fail "delivered $(sb_sink_count customer), want 5"
[ "$(dsn_count)" = 1 ] || fail "$(dsn_count) DSNs, want 1"
ledger --dialup deliver --settled --no-stale "$LOG1" || fail "ledger flush"
ledger --dialup dsn --settled --no-stale "$LOG2" || fail "ledger expiry"
redis_is 5 HGET etrn:stats:dialup.test flushed || fail "flushed counter"
redis_is 1 HGET etrn:stats:dialup2.test expired || fail "expired counter"
redis_is 0 ZCARD etrn:expiry:mx.lab.test || fail "expiry index"
pass "after SIGCONT: 5 delivered once each, 1 DSN, nothing left"

sleep 1.2	# flush_lock_time
within "ETRN after" "$(timed etrn dialup.test)" "25"
within "policy ETRN after" "$(timed policy_ask ETRN dialup.test)" "action="
out=$(policy_ask ETRN dialup.test)
case $out in *4.3.0*) fail "policy still down: $out" ;; esac
pass "ETRN and policy answer normally again"
