#!/bin/bash
# t-queue-unreadable - hashed queue subdirectories etrnd cannot read, two
# ways, while a held message is past its deadline and a released one is
# tracked past release_timeout:
#   links: each subdirectory of hold/ and deferred/ replaced by a
#     symbolic link to the real one; Postfix follows it, etrnd's scan
#     does not (neither file nor directory): the open fails;
#   dead: each replaced by a bind mount of /proc/PID/fd of a process that
#     has exited: the directory opens, but cannot be read (fstat, hence
#     fdopendir, and getdents fail with ENOENT, and so does fstatat of
#     its entry in the parent), for Postfix as well.
#   while unreadable: the failure is logged with the directory; the held
#     message is not expired (no DSN, record and file kept); the released
#     one is neither counted flushed nor dropped nor put back on hold;
#     etrnctl reconcile fails and drops nothing; an ETRN for a third,
#     held message releases nothing.
#   once readable: the held message is returned with exactly one DSN and
#     its record removed; tracking puts the released one back on hold; an
#     ETRN delivers it and the third, once each.
# The released message stays in deferred/ because the postkick that wakes
# qmgr fails (mta_wrappers) and qmgr's own deferred scan is five minutes away.
# etrnd is stopped (SIGSTOP) while one fault replaces the other, so that
# no pass sees the queue readable in between.
set -eu
. "${top_srcdir:-$(dirname "$0")/../..}/tests/lib/sandbox.sh"
sb_init f-qunread
. "$SB_SRCDIR/tests/faults/lib.sh"
mta_wrappers
BIN=$SB/bin
SB_ETRND=1 SB_EXTRA_MAIN_CF="hash_queue_names = deferred, defer, hold
queue_run_delay = 300s
minimal_backoff_time = 300s" SB_EXTRA_CONF="postfix_command_directory = $BIN
release_timeout = 12s
flush_lock_time = 1s" sb_start
. "$SB_SRCDIR/tests/lib/common.sh"
ELOG=$SB/log/etrnd.log

hold_list() { sb_queue_ids hold | sort | tr '\n' ' '; }
unreadable_logged() { grep -Ec "postfix: cannot read $PF_SPOOL/(hold|deferred)/[0-9A-F]: " "$ELOG" || true; }
stat_of() { sb_redis HGET "etrn:stats:$1" "$2"; }

# the hashed subdirectories of hold/ and deferred/, for dead_on/dead_off
mapfile -t SUBDIRS < <(queue_subdirs hold deferred)
# etrnd_signal SIG - etrnd and its children
etrnd_signal() {
	kill "-$1" "$ETRND_PID" $(ps -o pid= --ppid "$ETRND_PID")
}
trap 'rc=$?; set +e; dead_off "${SUBDIRS[@]}"; links_off hold deferred; kill -CONT "$ETRND_PID" 2>/dev/null; sb_cleanup $rc' EXIT

# flush_fails PHASE - an ETRN for dialup.test: accepted (the count is
# Redis's), but the flush finds the queue unreadable and releases nothing
flush_fails() {
	local out n0
	n0=$(grep -c "flush domain=dialup.test: queue status unavailable" "$ELOG" || true)
	out=$(etrn dialup.test)
	case $out in 253*) ;; *) fail "$1: ETRN: $out" ;; esac
	wait_for 10 eval '[ "$(grep -c "flush domain=dialup.test: queue status unavailable" "$ELOG" || true)" -gt $n0 ]' ||
	    fail "$1: the failed flush is not logged"
	[ -z "$(acted)" ] || fail "$1: acted on an unreadable queue: $(acted | tail -n 2)"
	state_is "$F" held || fail "$1: $F: record state \"$(field "$F" state)\""
}

# reconcile_fails PHASE - etrnctl reconcile fails and drops nothing
reconcile_fails() {
	local out
	out=$(ctl reconcile 2>&1) && fail "$1: reconcile succeeded: $out"
	! grep -q "^dropped" <<<"$out" || fail "$1: reconcile dropped: $out"
	redis_is 1 EXISTS "etrn:msg:mx.lab.test:$R" || fail "$1: reconcile dropped $R"
	redis_is 1 EXISTS "etrn:msg:mx.lab.test:$H" || fail "$1: reconcile dropped $H"
}

# acted - lines of etrnd acting on H or R as if the queue had been read
acted() {
	grep -E "$H: (record dropped|expired|DSN|not on hold)|$R: (left the queue|stale record|back on hold|marked released)|$F: (released|stale record)" "$ELOG" || true
}

# untouched PHASE - while the queue cannot be read: new lines logged (two
# passes), no DSN, nothing dropped, expired, flushed or put back on hold
untouched() {
	unread_passes "$1" 40
	state_is "$H" held || state_is "$H" expiring ||
	    fail "$1: $H: record state \"$(field "$H" state)\""
	[ "$(dsn_count)" = 0 ] || fail "$1: DSN sent while the queue was unreadable"
	state_is "$R" released || fail "$1: $R: record state \"$(field "$R" state)\""
	[ -n "$(sb_redis ZSCORE etrn:released:mx.lab.test "$R")" ] || fail "$1: $R not tracked"
	[ -n "$(sb_redis ZSCORE etrn:expiry:mx.lab.test "$H")" ] || fail "$1: $H not listed for expiry"
	[ "$(stat_of dialup.test flushed)" = "" ] || [ "$(stat_of dialup.test flushed)" = 0 ] ||
	    fail "$1: counted flushed: $(stat_of dialup.test flushed)"
	[ "$(stat_of dialup2.test expired)" = "" ] || [ "$(stat_of dialup2.test expired)" = 0 ] ||
	    fail "$1: counted expired: $(stat_of dialup2.test expired)"
}

sb_redis HSET etrn:domain:dialup2.test hold_time 1h warn_time 0 >/dev/null
sleep 1.2	# domain_refresh: the milter sees the domain's settings
out=$(send --from a@example.org --to v@dialup2.test --header 'X-Test-Id: qu-exp') ||
    fail "send H"
H=$(qid_of "$out")
out=$(send --from b@example.org --to u@dialup.test --header 'X-Test-Id: qu-rel') ||
    fail "send R"
R=$(qid_of "$out")
[ -n "$H" ] && [ -n "$R" ] || fail "no queue IDs"
wait_for 10 hold_is 2 || fail "held: $(sb_queue_count hold)"
wait_for 10 state_is "$R" held || fail "no record for $R"
state_is "$H" held || fail "no record for $H"

# R leaves the hold (postsuper -H) but qmgr is not woken (postkick fails).
touch "$SB/postkick.fail"
out=$(etrn dialup.test)
[ "$out" = "253 OK, 1 pending message for node dialup.test started" ] || fail "$out"
# The failed kick is logged; the release stands (the file left the hold).
wait_for 10 grep -q "flush domain=dialup.test client=.* released=1 " "$ELOG" ||
    fail "release not logged"
grep -q "postkick failed" "$ELOG" || fail "the failed postkick not logged"
rm -f "$SB/postkick.fail"
released_at=$(date +%s)
[ "$(sb_queue_ids deferred)" = "$R" ] || fail "$R not in deferred"
state_is "$R" released || fail "$R not marked released"
out=$(send --from c@example.org --to w@dialup.test --header 'X-Test-Id: qu-flush') ||
    fail "send F"
F=$(qid_of "$out")
[ -n "$F" ] || fail "no queue ID for F"
wait_for 10 state_is "$F" held || fail "no record for $F"
HELD=$(printf '%s\n' "$H" "$F" | sort | tr '\n' ' ')
pass "$H held for dialup2.test, $R released and tracked in deferred/, $F held for dialup.test"

links_on hold deferred
[ "$(hold_list)" = "$HELD" ] || fail "Postfix no longer sees $HELD on hold"
[ "$(sb_queue_ids deferred)" = "$R" ] || fail "Postfix no longer sees $R"
ctl expire "$H" >/dev/null || fail "etrnctl expire"
# A full pass (tracking and expiry) after H's deadline and R's
# release_timeout.
late=$((released_at + 13 - $(date +%s)))
[ "$late" -le 0 ] || sleep "$late"
untouched links
grep -q "postfix: cannot read $PF_SPOOL/hold/[0-9A-F]: neither a file nor a directory" "$ELOG" ||
    fail "links: no line naming the link"
reconcile_fails links
flush_fails links
[ "$(hold_list)" = "$HELD" ] || fail "hold queue: $(hold_list)"
[ "$(sb_queue_ids deferred)" = "$R" ] || fail "$R moved: $(sb_queue_ids deferred)"
pass "links: $(unreadable_logged) lines logged; no DSN, nothing dropped, flushed or re-held; reconcile and ETRN fail, nothing dropped or released"

etrnd_signal STOP
links_off hold deferred
dead_on "${SUBDIRS[@]}"
etrnd_signal CONT
n1=$(grep -Ec "postfix: cannot read $PF_SPOOL/(hold|deferred)/[0-9A-F]: No such file" "$ELOG" || true)
untouched dead
[ "$(grep -Ec "postfix: cannot read $PF_SPOOL/(hold|deferred)/[0-9A-F]: No such file" "$ELOG" || true)" -ge $((n1 + 2)) ] ||
    fail "dead: no read error logged"
reconcile_fails dead
flush_fails dead
pass "dead: reading fails ($(unreadable_logged) lines logged); no DSN, nothing dropped, flushed or re-held; reconcile and ETRN fail, nothing dropped or released"

dead_off "${SUBDIRS[@]}"
wait_for 45 eval '[ "$(dsn_count)" -ge 1 ]' || fail "no DSN after the repair"
wait_for 10 redis_is 0 EXISTS "etrn:msg:mx.lab.test:$H" ||
    fail "$H: record kept"
wait_for 20 grep -q "$R: back on hold domain=dialup.test reason=timeout" "$ELOG" ||
    fail "$R not put back on hold: state \"$(field "$R" state)\""
pass "queue readable again: one DSN for $H, $R back on hold by tracking"

# The failed flush is retried by itself; an ETRN now releases the rest.
out=$(etrn dialup.test)
case $out in 25[0-3]*) ;; *) fail "ETRN: $out" ;; esac
wait_for 30 eval 'sb_sink_grep customer "^X-Test-Id: qu-flush" >/dev/null' ||
    fail "$F not delivered"
wait_for 30 eval 'sb_sink_grep customer "^X-Test-Id: qu-rel" >/dev/null' ||
    fail "$R not delivered"
wait_for 10 eval '[ -z "$(sb_queue_ids hold)" ]' || fail "hold queue: $(hold_list)"
wait_for 20 redis_is 2 HGET etrn:stats:dialup.test flushed ||
    fail "flushed counter: $(stat_of dialup.test flushed)"
redis_is 0 EXISTS "etrn:msg:mx.lab.test:$F" "etrn:msg:mx.lab.test:$R" ||
    fail "records left"
sleep 1
[ "$(dsn_count)" = 1 ] || fail "DSNs: $(dsn_count), want 1"
grep -q "X-Test-Id: qu-exp" $(dsns) || fail "the DSN is not for $H"
redis_is 1 HGET etrn:stats:dialup2.test expired || fail "expired counter"
[ "$(sb_sink_grep customer '^X-Test-Id: qu-' | grep -c .)" = 2 ] ||
    fail "customer got $(sb_sink_grep customer '^X-Test-Id: qu-' | grep -c .) copies, want 2"
pass "ETRN delivers $F and $R once each; nothing left on hold or in the index"
