#!/bin/bash
# t-etrn-storm - ETRN at 100 a second, first for one domain, then for
# 1,000 different domains in turn, while mail for them keeps arriving
# (so that there is always something held to release).  flush_lock_time
# is 4 s and each phase lasts STORM_SECONDS (default 20): five lock
# periods a phase prove the same as a minute of 60 s locks, the lock
# being the only thing that spaces the flushes.  Asserted:
#   - every ETRN is answered 250, 251 or 253 (rate limit and per-client
#     caps raised so that the storm reaches the flush request);
#   - one flush request (etrn:flush entry) per domain per lock period:
#     two entries for a domain are never closer than flush_lock_time
#     (less 0.2 s of clock rounding); so at most SECONDS / lock + 1 each;
#   - postsuper -H runs (a spy postfix_command_directory, mta_wrappers of
#     tests/faults/lib.sh, counts them)
#     are at most one per flush request, and at most (domains with held
#     mail) x (SECONDS / lock + 1) + 2 in all; postqueue -i at most one
#     per message;
#   - the memory of etrnd's listener and runner (VmRSS at the start, in
#     the middle and at the end) grows by less than 2 MiB and 4 MiB
#     (not checked in a sanitizer build);
#   - every message sent is delivered to the customer in the end (after
#     one more ETRN for each domain once the locks have expired).
set -eu
. "${top_srcdir:-$(dirname "$0")/../..}/tests/lib/sandbox.sh"
sb_init sec-etrnstorm
. "$SB_SRCDIR/tests/faults/lib.sh"
STORM_SECONDS=${STORM_SECONDS:-20}
LOCK=4
mta_wrappers
SB_ETRND=1 SB_EXTRA_CONF="postfix_command_directory = $SB/bin
flush_lock_time = ${LOCK}s
etrn_rate_limit = 100000
etrnd_max_per_client = 100
etrnd_max_commands = 1000000" sb_start
. "$SB_SRCDIR/tests/lib/common.sh"
. "$SB_SRCDIR/tests/security/seclib.sh"
flood=$SB_SRCDIR/tests/security/flood.py
send_pid=
trap 'rc=$?; set +e; [ -n "$send_pid" ] && kill "$send_pid" 2>/dev/null;
    [ -n "$send_pid" ] && wait "$send_pid" 2>/dev/null; sb_cleanup $rc' EXIT

san=0
sanitized && san=1
LPID=$(listener_pid) || fail "no listener child of etrnd $ETRND_PID"
mem_sample() {
	echo "$1 listener=$(rss "$LPID") runner=$(rss "$ETRND_PID")" \
	    >>"$SB/mem.log"
}

# storm PHASE ARGS... - mail arrives (sendmany.py, one message every
# 0.5 s) while flood.py storms etrnd; the memory is sampled midway.
storm() {
	local phase=$1 to=$2 out
	shift 2
	sendmany --count $((STORM_SECONDS * 2 - 4)) --prefix "$phase" \
	    --to-fmt "$to" --sessions 1 --pace 0.5 \
	    --log "$SB/send-$phase.log" >/dev/null 2>&1 &
	send_pid=$!
	sleep 1
	( sleep $((STORM_SECONDS / 2)); mem_sample "$phase-mid" ) &
	out=$(python3 "$flood" etrn-storm "$ETRND_PORT" 100 \
	    "$STORM_SECONDS" "$@") || fail "storm $phase: $out"
	echo "storm $phase: $(printf '%s\n' "$out" | paste -sd' ')"
	wait "$send_pid" || fail "storm $phase: mail not accepted" \
	    "($(tail -3 "$SB/send-$phase.log"))"
	send_pid=
}

# check_lock FROM_MS: the flush entries since FROM_MS, per domain, two
# never closer than the lock; print "domains entries max-per-domain".
check_lock() {
	sb_redis XRANGE etrn:flush "$1" + | python3 -c '
import sys
lock_ms = int(sys.argv[1]) * 1000 - 200
lines = sys.stdin.read().split("\n")
last, count, i = {}, {}, 0
while i < len(lines):
    if "-" in lines[i] and lines[i].split("-")[0].isdigit():
        ms = int(lines[i].split("-")[0])
        j = i + 1
        while j + 1 < len(lines) and lines[j] != "domain":
            j += 1
        d = lines[j + 1]
        if d in last and ms - last[d] < lock_ms:
            print("BAD: %s flushed twice in %d ms" % (d, ms - last[d]))
            sys.exit(1)
        last[d] = ms
        count[d] = count.get(d, 0) + 1
        i = j + 2
    else:
        i += 1
print(len(count), sum(count.values()), max(count.values() or [0]))
' "$LOCK"
}

mem_sample start
per=$((STORM_SECONDS / LOCK + 1))

t=$(($(date +%s) * 1000))
storm one 'u{n}@dialup.test' dialup.test
mem_sample one-end
sleep 2
out=$(check_lock "$t") || fail "one domain: $out"
read -r nd ne nmax <<<"$out"
[ "$nd" = 1 ] && [ "$ne" -ge 2 ] && [ "$ne" -le "$per" ] ||
    fail "one domain: $ne flush requests for $nd domains, want 2..$per"
pass "one domain at 100/s for $STORM_SECONDS s: $ne flush requests," \
    "never two within ${LOCK}s"

t=$(($(date +%s) * 1000))
storm many 'u{n}@d{n}.dialup.test' 'd%d.dialup.test' 1000
mem_sample end
sleep 2
out=$(check_lock "$t") || fail "1,000 domains: $out"
read -r nd ne nmax <<<"$out"
[ "$nmax" -le "$per" ] ||
    fail "1,000 domains: $nmax flush requests for one domain, max $per"
pass "1,000 domains at 100/s for $STORM_SECONDS s: $ne flush requests" \
    "for $nd domains, at most $nmax for one, never two within ${LOCK}s"

# Mail that arrived after the storm's last pass over its domain: one
# ETRN each, now that every lock has expired.
sleep "$LOCK"
etrn dialup.test \
    $(seq -f 'd%g.dialup.test' 1 $((STORM_SECONDS * 2))) >/dev/null ||
    fail "ETRN after the storm"
sent=$(cat "$SB"/send-*.log | grep -c '^final .* accepted')
wait_for 60 sink_is customer "$sent" ||
    fail "customer has $(sb_sink_count customer) of $sent messages"
flushes=$(sb_redis XLEN etrn:flush)
runs=$(grep -c -E ' postsuper .*-H( |$)' "$SB/mta-calls.log" || true)
qruns=$(grep -c -E ' postqueue .*-i ' "$SB/mta-calls.log" || true)
# Domains with held mail: dialup.test, then one for each message of
# the second phase.
held=$((1 + $(grep -c '^final .* accepted' "$SB/send-many.log")))
bound=$((held * per + 2))
[ "$runs" -ge 2 ] && [ "$runs" -le "$flushes" ] &&
    [ "$runs" -le "$bound" ] ||
    fail "postsuper -H ran $runs times for $flushes flush requests" \
    "(bound $bound: $held domains held mail)"
[ "$qruns" -le "$sent" ] ||
    fail "postqueue -i ran $qruns times for $sent messages"
pass "$sent messages delivered; postsuper -H ran $runs times for" \
    "$flushes flush requests (bound $bound), postqueue -i $qruns times"

cat "$SB/mem.log"
if [ "$san" = 1 ]; then
	pass "memory not checked in a sanitizer build"
else
	read -r _ l0 r0 <"$SB/mem.log"
	l0=${l0#listener=} r0=${r0#runner=}
	l1=$(rss "$LPID") r1=$(rss "$ETRND_PID")
	[ $((l1 - l0)) -lt 2048 ] ||
	    fail "listener VmRSS grew from $l0 to $l1 kB"
	[ $((r1 - r0)) -lt 4096 ] ||
	    fail "runner VmRSS grew from $r0 to $r1 kB"
	pass "memory flat: listener VmRSS $l0 -> $l1 kB (VmHWM" \
	    "$(hwm "$LPID")), runner $r0 -> $r1 kB (VmHWM $(hwm "$ETRND_PID"))"
fi
stop_and_check_logs
pass "clean stop"
