#!/bin/bash
# t-sendmail-unreadable - Sendmail's queue directory unreadable while a
# quarantined message is past its deadline: a bind mount of a gone
# process's /proc/PID/fd on it, which opens but cannot be read (ENOENT
# from fstat, getdents and every lookup in it).  Every control file then
# looks absent, as a gone message's would:
#   while unreadable: etrnd logs "sendmail: cannot read DIR"; no DSN, the
#     record kept and still due; etrnctl reconcile fails and drops nothing.
#   once readable: exactly one DSN, the hf file deleted, the record gone.
# Skips only when Sendmail cannot be unpacked.
set -eu
. "${top_srcdir:-$(dirname "$0")/../..}/tests/lib/sandbox.sh"
sb_init sm-unread
[ "$(id -u)" = 0 ] || skip "needs root"
. "$SB_SRCDIR/tests/lab/sendmail-lab.sh"
sm_require
SB_MILTER=none sb_start
. "$SB_SRCDIR/tests/lib/common.sh"
. "$SB_SRCDIR/tests/faults/lib.sh"
sm_start
ELOG=$SM_DIR/log/etrnd.log
SPOOL=$SM_DIR/spool
ctl() { "$OPENETRN_BUILDDIR/etrnctl/etrnctl" -c "$SM_CONF" "$@"; }
unreadable_logged() { grep -c "sendmail: cannot read $SPOOL: " "$ELOG" || true; }
acted() { grep -E "$q: (record dropped|expired|DSN)" "$ELOG" || true; }
# set +e: a failing (exit $rc) would end the trap before sm_cleanup.
trap 'rc=$?; set +e; dead_off "$SPOOL"; (exit $rc); sm_cleanup' EXIT

out=$(sm_send --from a@example.org --to v@dialup2.test \
    --header 'Subject: unreadable') || fail "send: $out"
q=$(sm_qid_of "$out")
[ -n "$q" ] || fail "no queue ID in: $out"
wait_for 10 sm_held "$q" || fail "$q not quarantined"
# Pending until etrnd (mta = sendmail) finds the hf file: then counted.
wait_for 10 eval '[ "$(sm_field "$q" state)" = held ]' ||
    fail "no counted record for $q: state \"$(sm_field "$q" state)\""
pass "$q quarantined and recorded"

dead_on "$SPOOL"
ctl expire "$q" >/dev/null || fail "etrnctl expire"
unread_passes unreadable 30
[ "$(dsn_count)" = 0 ] || fail "DSN sent while the queue was unreadable"
st=$(sm_field "$q" state)
[ "$st" = held ] || [ "$st" = expiring ] || fail "$q: record state \"$st\""
[ -n "$(sb_redis ZSCORE "etrn:expiry:$SM_HOST" "$q")" ] || fail "$q not listed for expiry"
out=$(ctl reconcile 2>&1) && fail "reconcile succeeded: $out"
! grep -q "^dropped" <<<"$out" || fail "reconcile dropped: $out"
redis_is 1 EXISTS "etrn:msg:$SM_HOST:$q" || fail "reconcile dropped $q"
pass "queue unreadable ($(unreadable_logged) lines logged): no DSN, record kept; reconcile fails, drops nothing"

dead_off "$SPOOL"
sm_held "$q" || fail "$q not quarantined after the repair"
wait_for 30 eval '[ "$(dsn_count)" -ge 1 ]' || fail "no DSN after the repair"
wait_for 10 redis_is 0 EXISTS "etrn:msg:$SM_HOST:$q" || fail "$q: record kept"
wait_for 10 eval '! sm_queued "$q"' || fail "$q not deleted"
sleep 1
[ "$(dsn_count)" = 1 ] || fail "DSNs: $(dsn_count), want 1"
grep -q "Subject: unreadable" $(dsns) || fail "the DSN is not for $q"
redis_is 1 HGET etrn:stats:dialup2.test expired || fail "expired counter"
pass "queue readable again: one DSN, $q deleted, record removed"
