#!/bin/bash
# t-expire-disk-full - two held messages reach their deadline (hold_time
# 10 s for their domain) while the file system of Postfix's queue is full
# (a 16 MB tmpfs, SB_QUEUE_FS_SIZE, filled): the DSN server answers 452
# and no DSN can be queued.
#   while full: both originals stay on hold with their records, no
#     postsuper -d runs, no DSN is sent; etrnd logs each failed attempt
#     with the queue ID, and tries again no more than twice in 12 s per
#     message (not at every queue run: queue_run_interval is 500 ms), in
#     as many sessions with the DSN server; the runner still serves an
#     ETRN for another domain;
#   once space is back: each sender gets exactly one DSN, the originals
#     are deleted and their records and index entries gone, the expired
#     counter is 2.
set -eu
. "${top_srcdir:-$(dirname "$0")/../..}/tests/lib/sandbox.sh"
sb_init f-expfull
. "$SB_SRCDIR/tests/faults/lib.sh"
mta_wrappers
# smtpd refuses MAIL below max(queue_minfree, 1.5 * message_size_limit).
SB_QUEUE_FS_SIZE=16m SB_ETRND=1 SB_EXTRA_CONF="flush_lock_time = 1s
postfix_command_directory = $SB/bin" \
    SB_EXTRA_MAIN_CF="message_size_limit = 1000000" sb_start
. "$SB_SRCDIR/tests/lib/common.sh"
mountpoint -q "$PF_SPOOL" || fail "the queue is not on its own file system"
ELOG=$SB/log/etrnd.log
WINDOW=12	# s: failed attempts are counted over this time
MAXTRIES=2	# per message within it
trap 'rc=$?; set +e; rm -f "$PF_SPOOL/fill"; sb_cleanup $rc' EXIT
# attempts QID - failed DSN attempts logged for QID
attempts() { grep -c "^etrnd: warning: $1: DSN to <[^>]*> not submitted, trying again in 30 s: .*4\.3\.1" "$ELOG" || true; }
deletes() { grep -c 'postsuper .*-d' "$SB/mta-calls.log" 2>/dev/null || true; }
sessions() { grep -c 'openetrn-dsn/smtpd\[[0-9]*\]: connect from' "$PF_LOG" || true; }

ctl domains set dialup2.test hold_time=10s warn_time=0 >/dev/null ||
    fail "etrnctl domains set"
sleep 1.2	# domain_refresh: the milter sees the domain's settings
LOG1=$SB/sent1.log LOG2=$SB/sent2.log
sendmany --count 2 --prefix ef --to-fmt 'v{n}@dialup2.test' --log "$LOG1" \
    >/dev/null || fail "intake 1"
sendmany --count 1 --prefix eo --log "$LOG2" >/dev/null || fail "intake 2"
wait_for 20 hold_is 3 || fail "held: $(sb_queue_count hold)"
wait_for 10 redis_is 2 ZCARD etrn:held:dialup2.test || fail "not indexed"
mapfile -t Q < <(sb_redis ZRANGE etrn:held:dialup2.test 0 -1 | sed 's/.*://')
held0=$(sb_hold_ids | sort)
[ "$(date +%s)" -lt $(($(field "${Q[0]}" expires) - 1)) ] ||
    fail "too slow: the deadline came before the disk was full"
fill_to 0
[ "$(avail)" -lt 65536 ] || fail "not full: $(avail) bytes free"
d0=$(deletes) s0=$(sessions)
pass "2 messages held for dialup2.test, the queue's file system full"

wait_for 20 eval '[ "$(attempts "${Q[0]}")" -ge 1 ] && [ "$(attempts "${Q[1]}")" -ge 1 ]' ||
    fail "the failed DSN attempts not logged with the queue ID"
grep -q 'warning: not enough free space in mail queue' "$PF_LOG" ||
    fail "Postfix did not refuse for lack of space"
t0=$(date +%s)
out=$(etrn dialup.test)
[ "$out" = "253 OK, 1 pending message for node dialup.test started" ] ||
    fail "ETRN on a full disk: $out"
wait_for 20 sink_is customer 1 || fail "the runner did not serve the ETRN"
sleep $((WINDOW - ($(date +%s) - t0)))
for q in "${Q[@]}"; do
	n=$(attempts "$q")
	echo "# $q: $n failed attempts logged in about $WINDOW s"
	[ "$n" -le $MAXTRIES ] || fail "$q: $n attempts in $WINDOW s, want <= $MAXTRIES"
	[ "$(field "$q" state)" = expiring ] || fail "$q: state $(field "$q" state)"
done
n=$(($(sessions) - s0))
echo "# $n sessions with the DSN server in about $WINDOW s"
[ "$n" -le $((2 * MAXTRIES)) ] || fail "$n DSN server sessions, want <= $((2 * MAXTRIES))"
[ "$(dsn_count)" = 0 ] || fail "a DSN while the disk is full"
[ "$(deletes)" = "$d0" ] || fail "postsuper -d ran: $(tail -n 2 "$SB/mta-calls.log")"
for q in "${Q[@]}"; do
	grep -qx "$q" <<<"$held0" || fail "$q was not held"
	[ -f "$(find "$PF_SPOOL/hold" -name "$q" | head -n 1)" ] ||
	    fail "$q left the hold"
done
kill -0 "$ETRND_PID" || fail "etrnd died"
pass "disk full past the deadline: originals held, nothing deleted, no DSN; each attempt logged, <= $MAXTRIES per message in $WINDOW s; an ETRN served"

rm -f "$PF_SPOOL/fill"
t1=$(date +%s)
wait_for 60 eval '[ "$(dsn_count)" -ge 2 ]' || fail "DSNs: $(dsn_count) of 2"
echo "# both DSNs out $(($(date +%s) - t1)) s after space came back"
wait_for 20 hold_is 0 || fail "left on hold: $(sb_queue_count hold)"
for q in "${Q[@]}"; do
	wait_for 10 redis_is 0 EXISTS "etrn:msg:mx.lab.test:$q" || fail "$q: record left"
done
# The DSNs left the hold (postsuper -H) before the originals were deleted.
first() { grep -n -m 1 -- "$1" "$SB/mta-calls.log" | cut -d: -f1; }
r=$(first 'postsuper .*-H') d=$(first 'postsuper .*-d')
if [ -z "$r" ] || [ -z "$d" ] || [ "$r" -gt "$d" ]; then
	fail "DSN release and delete: $(grep -E 'postsuper .*-[Hd]' "$SB/mta-calls.log")"
fi
sleep 3		# more runner passes: nothing a second time
[ "$(dsn_count)" = 2 ] || fail "$(dsn_count) DSNs, want 2"
ledger --dialup dsn --settled --no-stale "$LOG1" || fail "ledger"
redis_is 2 HGET etrn:stats:dialup2.test expired || fail "expired counter"
redis_is 0 HGET etrn:stats:dialup2.test held || fail "held counter"
redis_is 0 ZCARD etrn:expiry:mx.lab.test || fail "expiry index"
redis_is 0 ZCARD etrn:held:dialup2.test || fail "held index"
pass "space back: one DSN per sender, originals deleted, records gone"
