#!/bin/bash
# t-reconcile - etrnctl reconcile against a private Postfix (the sandbox):
# three held messages lose their Redis data (FLUSHALL); reconcile builds
# the records, the held and expiry indexes and the counters again from the
# X-ETRN-Hold tags and the queue files' envelopes (sender, recipients with
# NOTIFY/ORCPT, RET, ENVID as the milter recorded them); a record with
# another token is replaced without counting the message twice; a queue
# file deleted behind openetrn's back has its record dropped, but not
# while the record is younger than 30 s; a held message without a tag is
# skipped and left alone; --dry-run changes nothing; a second run finds
# nothing to do; without root it refuses.  Needs root (Postfix).
set -eu
. "${top_srcdir:-$(dirname "$0")/../..}/tests/lib/sandbox.sh"
sb_init reconcile
sb_start
. "$SB_SRCDIR/tests/lib/common.sh"

ctl_bin=$OPENETRN_BUILDDIR/etrnctl/etrnctl
[ -x "$ctl_bin" ] || fail "$ctl_bin not built"
host=mx.lab.test
stable="domain host queueid token state sender recipients nrcpt arrived
expires ret envid headers_truncated"

# ctl ARGS... - etrnctl on the sandbox; stdout in $SB/out, stderr in
# $SB/err, exit status in $rc
ctl() {
	rc=0
	"$ctl_bin" -c "$OPENETRN_CONF" "$@" >"$SB/out" 2>"$SB/err" || rc=$?
}

# ctl_ok ARGS... - etrnctl must exit 0
ctl_ok() {
	ctl "$@"
	[ "$rc" = 0 ] || fail "etrnctl $*: exit $rc: $(cat "$SB/err")"
}

# out_has PATTERN - the last etrnctl's stdout has a line matching it
out_has() {
	grep -Eq -- "$1" "$SB/out" ||
	    fail "no output line matching \"$1\"; output: $(cat "$SB/out")"
}

# record QID - the stable fields of a record, one "name=value" a line
record() {
	local f
	for f in $stable; do
		printf '%s=%s\n' "$f" "$(field "$1" "$f")"
	done
}

# redis_state - everything reconcile may change, for before/after checks
redis_state() {
	sb_redis --scan --pattern 'etrn:*' | sort | while read -r k; do
		printf '%s %s\n' "$k" "$(sb_redis TYPE "$k")"
	done
	sb_redis ZRANGE etrn:held:dialup.test 0 -1 WITHSCORES
	sb_redis ZRANGE "etrn:expiry:$host" 0 -1 WITHSCORES
	sb_redis HGETALL etrn:stats:dialup.test
}

# 1. Three held messages, one with every DSN parameter.
out=$(send --from dsn@example.org --mail-opt RET=FULL \
    --mail-opt ENVID=QQ+2B314 \
    --to 'u1@dialup.test NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;orig+2Bu1@dialup.test' \
    --to 'u2@DIALUP.test NOTIFY=NEVER' --to u3@dialup.test \
    --header 'Subject: with DSN parameters') || fail "send: $out"
q1=$(qid_of "$out")
sb_swaks -f s@example.org -t u@dialup.test >/dev/null || fail "swaks"
out=$(send --from '' --to v@dialup.test --header 'Subject: null sender') ||
    fail "send: $out"
q3=$(qid_of "$out")
wait_for 10 redis_is 3 ZCARD etrn:held:dialup.test ||
    fail "3 messages not recorded"
wait_for 10 hold_is 3 || fail "3 messages not held"
q2=$(sb_hold_ids | grep -v -e "^$q1$" -e "^$q3$")
for q in "$q1" "$q2" "$q3"; do
	record "$q" >"$SB/before.$q"
	sb_redis ZSCORE "etrn:expiry:$host" "$q" >>"$SB/before.$q"
done
bytes=$(($(field "$q1" size) + $(field "$q2" size) + $(field "$q3" size)))
[ "$(field "$q1" envid)" = QQ+2B314 ] || fail "milter envid $(field "$q1" envid)"
pass "3 held messages recorded ($q1 $q2 $q3)"

# 2. A held message that is not openetrn's: deferred, then held by hand.
kill "$SINK_INTERNET_PID"
wait_for 10 sh -c "! kill -0 $SINK_INTERNET_PID" ||
    fail "internet sink still runs"
out=$(send --from o@example.org --to other@example.com) || fail "send: $out"
q4=$(qid_of "$out")
wait_for 30 eval '[ "$(sb_queue_count deferred)" = 1 ]' ||
    fail "$q4 not deferred"
postsuper -c "$PF_CONF" -h "$q4" 2>/dev/null || fail "postsuper -h $q4"
wait_for 10 hold_is 4 || fail "$q4 not on hold"
sb_redis EXISTS "etrn:msg:$host:$q4" | grep -qx 0 || fail "$q4 has a record"
pass "untagged message $q4 on hold"

# 3. Nothing lost: all ok, the untagged one skipped, nothing written.
redis_state >"$SB/state.0"
ctl_ok reconcile
out_has "^reconcile: held=4 ok=3 rebuilt=0 dropped=0 skipped=1$"
out_has "^skipped $q4: no valid X-ETRN-Hold header"
redis_state >"$SB/state.1"
cmp -s "$SB/state.0" "$SB/state.1" || fail "reconcile changed Redis"
pass "intact index: ok=3 skipped=1, Redis unchanged"

# 4. Data loss.  --dry-run reports and writes nothing.
sb_redis FLUSHALL >/dev/null
ctl_ok reconcile --dry-run
out_has "^would rebuild $q1: dialup.test, no record; deadline "
out_has "^reconcile: held=4 ok=0 rebuilt=3 dropped=0 skipped=1$"
out_has "^dry run: nothing was changed$"
[ "$(sb_redis DBSIZE)" = 0 ] || fail "--dry-run wrote to Redis"
pass "--dry-run after FLUSHALL: 3 to rebuild, Redis still empty"

ctl_ok reconcile
out_has "^rebuilt $q2: dialup.test, no record; deadline "
out_has "^reconcile: held=4 ok=0 rebuilt=3 dropped=0 skipped=1$"
for q in "$q1" "$q2" "$q3"; do
	record "$q" >"$SB/after.$q"
	sb_redis ZSCORE "etrn:expiry:$host" "$q" >>"$SB/after.$q"
	diff "$SB/before.$q" "$SB/after.$q" >&2 ||
	    fail "record $q differs from the milter's"
	[ "$(sb_redis ZSCORE etrn:held:dialup.test "$host:$q")" = \
	    "$(field "$q" arrived)" ] || fail "held member $q"
	[ "$(field "$q" warn_at)" = 0 ] || fail "warn_at $q"
	[ "$(field "$q" size)" -gt 100 ] || fail "size $q"
done
field "$q1" headers | grep -q '^Subject: with DSN parameters$' ||
    fail "headers: $(field "$q1" headers)"
field "$q1" headers | grep -qi '^X-ETRN-Hold' && fail "tag in the headers"
pass "records rebuilt: envelope, DSN parameters, tag times, headers"

[ "$(sb_redis ZCARD etrn:held:dialup.test)" = 3 ] || fail "ZCARD held"
[ "$(sb_redis HGET etrn:stats:dialup.test held)" = 3 ] || fail "stats held"
sum=$(($(field "$q1" size) + $(field "$q2" size) + $(field "$q3" size)))
[ "$(sb_redis HGET etrn:stats:dialup.test bytes)" = "$sum" ] ||
    fail "stats bytes"
[ "$(sb_redis HGET etrn:stats:dialup.test oldest)" = \
    "$(field "$q1" arrived)" ] || fail "stats oldest"
[ "$(sb_redis ZCARD "etrn:expiry:$host")" = 3 ] || fail "expiry index"
[ "$(sb_redis ZCARD "etrn:warn:$host")" = 0 ] || fail "warn index"
sb_redis SISMEMBER "etrn:hostdomains:$host" dialup.test | grep -qx 1 ||
    fail "hostdomains"
sb_redis SISMEMBER etrn:helddomains dialup.test | grep -qx 1 ||
    fail "helddomains"
sb_redis EXISTS "etrn:msg:$host:$q4" | grep -qx 0 || fail "$q4 recorded"
echo "# bytes: milter $bytes, from the queue files $sum"
pass "indexes and counters: held 3, expiry 3, stats held/bytes/oldest"

ctl_ok reconcile
out_has "^reconcile: held=4 ok=3 rebuilt=0 dropped=0 skipped=1$"
pass "a second run has nothing to do"

# 5. A record with another token (a reused queue ID) is replaced.
sb_redis HSET "etrn:msg:$host:$q3" token ffffffffffffffffffffffffffffffff \
    >/dev/null
ctl_ok reconcile
out_has "^rebuilt $q3: dialup.test, the record had another token"
out_has "^reconcile: held=4 ok=2 rebuilt=1 dropped=0 skipped=1$"
[ "$(sb_redis HGET etrn:stats:dialup.test held)" = 3 ] ||
    fail "stats held $(sb_redis HGET etrn:stats:dialup.test held)"
[ "$(sb_redis HGET etrn:stats:dialup.test bytes)" = "$sum" ] ||
    fail "stats bytes after replacing"
[ "$(field "$q3" token)" = "$(sed -n 's/^token=//p' "$SB/before.$q3")" ] ||
    fail "token not restored"
pass "a record with another token is replaced, counted once"

# 6. A queue file deleted behind openetrn's back.  A record younger than
# 30 s is kept (the milter writes it just before Postfix finishes the
# file); then it is made older.
postsuper -c "$PF_CONF" -d "$q2" hold 2>/dev/null || fail "postsuper -d"
wait_for 10 hold_is 3 || fail "$q2 not deleted"
a2=$(field "$q2" arrived)
sb_redis HSET "etrn:msg:$host:$q2" arrived "$(date +%s)" >/dev/null
ctl_ok reconcile
out_has "^reconcile: held=3 ok=2 rebuilt=0 dropped=0 skipped=1$"
grep -q "$q2: not in the queue, but recorded [0-9]*s ago: left alone" \
    "$SB/err" || fail "young record: $(cat "$SB/err")"
sb_redis HSET "etrn:msg:$host:$q2" arrived $((a2 - 60)) >/dev/null
pass "a record younger than 30 s is not dropped"
redis_state >"$SB/state.2"
ctl_ok reconcile --dry-run
out_has "^would drop $q2: dialup.test, no queue file$"
out_has "^reconcile: held=3 ok=2 rebuilt=0 dropped=1 skipped=1$"
redis_state >"$SB/state.3"
cmp -s "$SB/state.2" "$SB/state.3" || fail "--dry-run changed Redis"
ctl_ok --json reconcile
python3 - "$SB/out" "$q2" <<'PY' || fail "JSON: $(cat "$SB/out")"
import json, sys
j = json.load(open(sys.argv[1]))
assert (j["held"], j["ok"], j["rebuilt"], j["dropped"], j["skipped"],
        j["failed"], j["dry_run"]) == (3, 2, 0, 1, 1, 0, False), j
assert [(m["id"], m["action"], m["domain"]) for m in j["messages"]
        if m["action"] == "dropped"] == [(sys.argv[2], "dropped",
        "dialup.test")], j
PY
sb_redis EXISTS "etrn:msg:$host:$q2" | grep -qx 0 || fail "record kept"
[ -z "$(sb_redis ZSCORE "etrn:expiry:$host" "$q2")" ] || fail "expiry kept"
[ "$(sb_redis ZCARD etrn:held:dialup.test)" = 2 ] || fail "ZCARD held 2"
[ "$(sb_redis HGET etrn:stats:dialup.test held)" = 2 ] || fail "held 2"
[ "$(sb_redis HGET etrn:stats:dialup.test bytes)" = \
    $(($(field "$q1" size) + $(field "$q3" size))) ] || fail "bytes 2"
pass "the record of a deleted queue file is dropped (dry run first)"

# 7. The untagged message is still held, untouched; no root, no run.
[ "$(sb_hold_ids | grep -c "^$q4$")" = 1 ] || fail "$q4 left the hold"
if command -v runuser >/dev/null && id nobody >/dev/null 2>&1; then
	rc=0
	runuser -u nobody -- "$ctl_bin" -c "$OPENETRN_CONF" reconcile \
	    >"$SB/out" 2>"$SB/err" || rc=$?
	[ "$rc" = 1 ] || fail "reconcile as nobody: exit $rc"
	grep -q "run etrnctl reconcile as root" "$SB/err" ||
	    fail "reconcile as nobody: $(cat "$SB/err")"
	pass "untagged message untouched; refused without root"
else
	pass "untagged message untouched"
fi
