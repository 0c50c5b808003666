#!/bin/bash
# t-disk-full - the file system of Postfix's queue fills up (a 16 MB
# tmpfs on the sandbox's queue directory, SB_QUEUE_FS_SIZE).  Senders get
# 4xx, never 5xx and never an accept that is lost later; mail already
# held stays held and indexed; queue_minfree keeps room in reserve; a
# message that cannot be written in the middle of DATA is refused with
# 4xx too; once space is freed mail is accepted and held again and an
# ETRN delivers all of it, each message once.
set -eu
. "${top_srcdir:-$(dirname "$0")/../..}/tests/lib/sandbox.sh"
sb_init f-disk
# Postfix's smtpd refuses MAIL when the free space is below
# max(queue_minfree, 1.5 * message_size_limit): 1.5 MB here.
SB_QUEUE_FS_SIZE=16m SB_ETRND=1 SB_EXTRA_CONF="flush_lock_time = 1s" \
    SB_EXTRA_MAIN_CF="message_size_limit = 1000000" sb_start
. "$SB_SRCDIR/tests/lib/common.sh"
. "$SB_SRCDIR/tests/faults/lib.sh"
mountpoint -q "$PF_SPOOL" || fail "the queue is not on its own file system"
FILL=$PF_SPOOL/fill	# fill_to's (tests/faults/lib.sh)
codes() { sed -n 's/^attempt [^ ]* [^ ]* \([0-9]*\) .*/\1/p' "$1" | sort | uniq -c | tr '\n' ' '; }

LOG0=$SB/sent0.log
sendmany --count 5 --prefix d0 --log "$LOG0" >/dev/null || fail "baseline"
wait_for 20 hold_is 5 || fail "baseline not held"

# 1. Completely full.
fill_to 0
[ "$(avail)" -lt 65536 ] || fail "not full: $(avail) bytes free"
LOG1=$SB/sent1.log
sendmany --count 12 --other-every 4 --prefix d1 --retry-for 0 --log "$LOG1" >/dev/null &&
    fail "mail accepted on a full disk"
[ "$(grep -c '^attempt .* 452 4\.3\.1 ' "$LOG1")" = 12 ] ||
    fail "want 12 x 452 4.3.1, got: $(codes "$LOG1")"
grep -q 'warning: not enough free space in mail queue' "$PF_LOG" ||
    fail "Postfix did not log the lack of space"
ledger --dialup held "$LOG0" "$LOG1" || fail "ledger on a full disk"
redis_is 5 ZCARD etrn:held:dialup.test || fail "index changed"
pass "disk full: 12 senders got 452 4.3.1 (no 5xx), nothing queued; the 5 held stay held and indexed"

# 2. queue_minfree: 6 MB free is enough by default, not with 8 MB reserved.
fill_to 6000000
LOG2=$SB/sent2.log
sendmany --count 2 --prefix d2 --retry-for 0 --log "$LOG2" >/dev/null ||
    fail "refused with 6 MB free: $(codes "$LOG2")"
postconf -c "$PF_CONF" -e queue_minfree=8000000
postfix -c "$PF_CONF" reload >/dev/null 2>&1 || fail "postfix reload"
LOG3=$SB/sent3.log
wait_for 10 eval 'rm -f "$LOG3"; ! sendmany --count 1 --prefix d3 --retry-for 0 --log "$LOG3" >/dev/null' ||
    fail "queue_minfree not honoured: $(codes "$LOG3")"
grep -q '^attempt .* 452 4\.3\.1 ' "$LOG3" || fail "queue_minfree: $(codes "$LOG3")"
postconf -c "$PF_CONF" -e queue_minfree=0
postfix -c "$PF_CONF" reload >/dev/null 2>&1 || fail "postfix reload"
pass "queue_minfree=8000000 refuses with 452 4.3.1 where 6 MB were enough without it"

# 3. Space runs out during DATA: three 900 kB messages at once, 2 MB free.
wait_for 20 hold_is 7 || fail "held: $(sb_queue_count hold)"
fill_to 2000000
LOG4=$SB/sent4.log
sendmany --count 3 --sessions 3 --size 900000 --prefix d4 --retry-for 0 \
    --log "$LOG4" >/dev/null || true
grep -q '^attempt .* 4[0-9][0-9] ' "$LOG4" || fail "all fitted: $(codes "$LOG4")"
grep -q '^attempt .* 5[0-9][0-9] ' "$LOG4" && fail "a 5xx: $(codes "$LOG4")"
ok4=$(grep -c '^final .* accepted ' "$LOG4" || true)
ledger --dialup held "$LOG0" "$LOG2" "$LOG4" || fail "ledger after DATA failures"
echo "# 900 kB x 3 into 2 MB: $(codes "$LOG4")"
pass "space ran out during DATA: 4xx only, the $ok4 accepted are held and indexed"

# 4. Space freed: the refused senders retry and everything is delivered.
rm -f "$FILL"
rm -f "$LOG1.progress"
sendmany --count 12 --other-every 4 --prefix d1 --retry-for 30 --log "$LOG1" >/dev/null ||
    fail "refused after freeing space: $(codes "$LOG1")"
held=$((5 + 2 + ok4 + 9))
wait_for 20 hold_is $held || fail "held $(sb_queue_count hold), want $held"
# (the internet sink also gets Postfix's "resource problem" notices)
wait_for 20 ledger --dialup held --settled "$LOG0" "$LOG1" "$LOG2" "$LOG4" ||
    fail "before ETRN: $(ledger --dialup held --settled "$LOG0" "$LOG1" "$LOG2" "$LOG4")"
sleep 1.2	# flush_lock_time
out=$(etrn dialup.test)
case $out in "253 OK, "*) ;; *) fail "ETRN: $out" ;; esac
wait_for 60 sink_is customer $held || fail "delivered $(sb_sink_count customer) of $held"
wait_for 20 hold_is 0 || fail "left on hold"
# In LOG1 the accepts of now follow the refusals of part 1 (the last counts).
ledger --dialup deliver --settled "$LOG0" "$LOG1" "$LOG2" "$LOG4" || fail "ledger"
pass "space freed: $held held messages delivered by ETRN, each once"
