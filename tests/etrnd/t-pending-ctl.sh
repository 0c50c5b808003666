#!/bin/bash
# t-pending-ctl - a held message whose record is still pending (no etrnd
# ran its pending step): etrnctl list shows it as pending and it counts
# nowhere; etrnctl reconcile --dry-run changes nothing; etrnctl reconcile
# counts it (state held, held and received up by one) without writing the
# record a second time; a second run finds nothing to do.  Needs root
# (Postfix).
set -eu
. "${top_srcdir:-$(dirname "$0")/../..}/tests/lib/sandbox.sh"
sb_init pending-ctl
SB_PROMOTE=0 sb_start
. "$SB_SRCDIR/tests/lib/common.sh"

ctl_bin=$OPENETRN_BUILDDIR/etrnctl/etrnctl
[ -x "$ctl_bin" ] || fail "$ctl_bin not built"

# ctl ARGS... - etrnctl on the sandbox, must exit 0; stdout in $SB/out
ctl() {
	"$ctl_bin" -c "$OPENETRN_CONF" "$@" >"$SB/out" 2>"$SB/err" ||
	    fail "etrnctl $*: $(cat "$SB/err")"
}

out=$(send --from s@example.org --to u1@dialup.test) || fail "send: $out"
qid=$(qid_of "$out")
wait_for 10 eval '[ "$(sb_queue_count hold)" = 1 ]' || fail "not held"
sleep 1
[ "$(field "$qid" state)" = pending ] || fail "state $(field "$qid" state)"
redis_is 0 ZCARD etrn:held:dialup.test || fail "pending record counted"
[ -z "$(sb_redis HGET etrn:stats:dialup.test held)" ] ||
    fail "stats held $(sb_redis HGET etrn:stats:dialup.test held)"
token=$(field "$qid" token)
ctl list dialup.test
grep -Eq "^mx\.lab\.test:$qid +pending " "$SB/out" ||
    fail "list: $(cat "$SB/out")"
pass "held message $qid with a pending record: listed as pending, counted nowhere"

ctl reconcile --dry-run
redis_is pending HGET "etrn:msg:mx.lab.test:$qid" state || fail "dry run wrote"
ctl reconcile
grep -q "$qid.*the record was pending: counted now" "$SB/out" ||
    fail "reconcile: $(cat "$SB/out")"
redis_is held HGET "etrn:msg:mx.lab.test:$qid" state || fail "not promoted"
redis_is "$token" HGET "etrn:msg:mx.lab.test:$qid" token || fail "token changed"
redis_is 1 ZCARD etrn:held:dialup.test || fail "ZCARD held"
redis_is 1 HGET etrn:stats:dialup.test held || fail "stats held"
redis_is 1 HGET etrn:stats:dialup.test received || fail "stats received"
redis_is 0 ZCARD etrn:pending:mx.lab.test || fail "pending index"
[ -n "$(sb_redis ZSCORE etrn:expiry:mx.lab.test "$qid")" ] || fail "expiry index"
ctl reconcile
grep -q "rebuilt=0 dropped=0" "$SB/out" || fail "second run: $(cat "$SB/out")"
redis_is 1 HGET etrn:stats:dialup.test received || fail "counted twice"
pass "reconcile counts the pending record once, the record is kept; second run: nothing"
