#!/bin/bash
# t-forged-tag - hold tags are signed with hold_secret_file, and only a
# tag whose MAC verifies is trusted.  Mail put on hold at the DSN port
# (an smtpd without the milter that holds everything) with a made-up
# X-ETRN-Hold (one with a MAC that does not verify, one unsigned),
# past its deadline: etrnd's own reconcile pass (reconcile_interval 2s)
# and etrnctl reconcile build no record, log both files and report them;
# an unsigned tag is not trusted either where a record with its token
# exists (never "ok"); no DSN goes to their senders.  At the main
# smtpd a forged tag is removed: the dial-up message is held with the
# milter's signed tag only, the other delivered without any.  Expiry:
# a record made to point at the forged file, and one made to point at
# the unsigned file with its token, are dropped with the files left
# alone and no DSN.
# A delay warning's Message-ID is the keyed one (computed here from the
# secret) and the token appears nowhere in the warning.  A held file with
# a DSN's Message-ID but a sender is not taken for that DSN after a crash.
set -eu
. "${top_srcdir:-$(dirname "$0")/../..}/tests/lib/sandbox.sh"
sb_init sec-forged
SB_ETRND=1 SB_EXTRA_CONF='reconcile_interval = 2s' sb_start
. "$SB_SRCDIR/tests/lib/common.sh"
. "$SB_SRCDIR/tests/security/seclib.sh"
ctl_bin=$OPENETRN_BUILDDIR/etrnctl/etrnctl
host=mx.lab.test
etrnd_pid=
dsns_to() { dsns | xargs -r grep -l "^To: <\?$1" 2>/dev/null | grep -c . || true; }
hex() { head -c "$1" /dev/urandom | od -An -tx1 | tr -d ' \n'; }

# submit PORT FROM TO TAG SUBJECT - submit with this tag; the queue ID
submit() {
	swaks --server 127.0.0.1 --port "$1" -f "$2" -t "$3" \
	    --header "X-ETRN-Hold: $4" --header "Subject: $5" 2>&1 |
	    sed -n 's/.* queued as \([0-9A-Za-z]*\).*/\1/p' | tail -n 1
}
dsn_port() { submit "$DSN_PORT" "$@"; }

# tag_of QID - the X-ETRN-Hold values in a queue file, one a line
tag_of() {
	postcat -c "$PF_CONF" -h -q "$1" 2>/dev/null |
	    awk 'tolower($0) ~ /^x-etrn-hold:/ { t = 1; printf "%s", $0; next }
		 t && /^[ \t]/ { printf "%s", $0; next }
		 t { print ""; t = 0 }'
}

sb_redis HSET etrn:domain:dialup.test hold_time 60 warn_time 3 >/dev/null
sb_redis HSET etrn:domain:dialup2.test hold_time 600 warn_time 0 >/dev/null
sleep 2		# domain_refresh = 1s
now=$(date +%s)

# 1. Forged at the DSN port, deadline passed.
tf=$(hex 16)
tu=$(hex 16)
qf=$(dsn_port victim-f@example.org rf@dialup2.test "dialup2.test; host=$host; token=$tf; arrived=$((now - 600)); expires=$((now - 60)); mac=$(hex 32)" "forged signed")
qu=$(dsn_port victim-u@example.org ru@dialup2.test "dialup2.test; host=$host; token=$tu; arrived=$((now - 600)); expires=$((now - 60))" "forged unsigned")
[ -n "$qf" ] && [ -n "$qu" ] || fail "the DSN port did not take them: '$qf' '$qu'"
wait_for 10 hold_is 2 || fail "not on hold: $(sb_hold_ids)"

# etrnd's own pass (every 2 s) builds nothing from them and logs both.
wait_for 10 grep -q "$qf: forged (its MAC does not verify) X-ETRN-Hold header: ignored, no record built domain=dialup2.test" \
    "$SB/log/etrnd.log" || fail "etrnd's pass did not log the forged file"
wait_for 10 grep -q "$qu: unsigned X-ETRN-Hold header: ignored, no record built domain=dialup2.test" \
    "$SB/log/etrnd.log" || fail "etrnd's pass did not log the unsigned file"
sleep 3		# another pass
for q in "$qf" "$qu"; do
	[ "$(sb_redis EXISTS "etrn:msg:$host:$q")" = 0 ] || fail "etrnd built a record for $q"
	[ -z "$(sb_redis ZSCORE "etrn:expiry:$host" "$q")" ] || fail "etrnd indexed $q"
done
[ "$(sb_redis ZCARD etrn:held:dialup2.test)" = 0 ] || fail "etrnd: held index"
! grep -q "$qf: record rebuilt\|$qu: record rebuilt" "$SB/log/etrnd.log" ||
    fail "etrnd rebuilt a record from a forged tag"
pass "etrnd's reconcile pass: no record built from a forged or unsigned tag, both logged with their queue IDs"

# 2. Forged at the main smtpd: to a dial-up domain, and to another.
qm=$(submit "$SMTP_PORT" sender-m@example.org m@dialup2.test "dialup2.test; host=$host; token=$tf; arrived=$((now - 600)); expires=$((now - 60)); mac=$(hex 32)" "main smtpd")
[ -n "$(submit "$SMTP_PORT" sender-n@example.org n@example.net "dialup2.test; host=$host; token=$tu; arrived=1; expires=2" "not dial-up")" ] ||
    fail "swaks not dial-up"
wait_for 10 hold_is 3 || fail "main smtpd message not held"
wait_for 10 sb_sink_grep internet 'Subject: not dial-up' || fail "not delivered"
tm=$(field "$qm" token)
[ -n "$tm" ] && [ "$tm" != "$tf" ] || fail "record of $qm: token '$tm'"
tags=$(tag_of "$qm")
[ "$(printf '%s\n' "$tags" | grep -c .)" = 1 ] || fail "$qm tags: $tags"
case $tags in
*"token=$tm;"*"mac="*) ;;
*) fail "$qm carries '$tags', not the milter's signed tag" ;;
esac
! sb_sink_grep internet '^X-ETRN-Hold:' >/dev/null || fail "a delivered message kept X-ETRN-Hold"
pass "main smtpd: forged tags removed; the held message carries only the milter's signed tag, the delivered one none"

# 3. Reconcile builds nothing from the forged files and reports them.
"$ctl_bin" -c "$OPENETRN_CONF" reconcile >"$SB/out" 2>"$SB/err" ||
    fail "reconcile: $(cat "$SB/out" "$SB/err")"
grep -q "^skipped $qf: dialup2.test, forged (its MAC does not verify) X-ETRN-Hold header: ignored, no record built" "$SB/out" ||
    fail "forged file not reported: $(cat "$SB/out")"
grep -q "^skipped $qu: dialup2.test, unsigned X-ETRN-Hold header: ignored, no record built" "$SB/out" ||
    fail "unsigned file not reported: $(cat "$SB/out")"
grep -q "$qf: forged (its MAC does not verify) X-ETRN-Hold header" "$SB/err" ||
    fail "forged file not logged with its queue ID: $(cat "$SB/err")"
grep -q "^reconcile: held=3 ok=1 rebuilt=0 dropped=0 skipped=2$" "$SB/out" ||
    fail "summary: $(cat "$SB/out")"
for q in "$qf" "$qu"; do
	[ "$(sb_redis EXISTS "etrn:msg:$host:$q")" = 0 ] || fail "record built for $q"
	[ -z "$(sb_redis ZSCORE "etrn:expiry:$host" "$q")" ] || fail "$q in the expiry index"
done
[ "$(sb_redis ZCARD etrn:held:dialup2.test)" = 1 ] || fail "held index"
[ "$(sb_redis HGET etrn:stats:dialup2.test held)" = 1 ] || fail "held counter"

# An unsigned tag whose token a record carries is not trusted either:
# still skipped, never ok, the record left as it was.
sb_redis HSET "etrn:msg:$host:$qu" queueid "$qu" token "$tu" state held \
    domain dialup2.test sender victim-u@example.org expires $((now + 3600)) \
    >/dev/null
"$ctl_bin" -c "$OPENETRN_CONF" reconcile >"$SB/out" 2>"$SB/err" ||
    fail "reconcile 2: $(cat "$SB/out" "$SB/err")"
grep -q "^skipped $qu: dialup2.test, unsigned X-ETRN-Hold header: ignored, no record built" "$SB/out" ||
    fail "unsigned file with a record not reported: $(cat "$SB/out")"
grep -q "$qu: unsigned X-ETRN-Hold header" "$SB/err" ||
    fail "unsigned file not logged: $(cat "$SB/err")"
grep -q "^reconcile: held=3 ok=1 rebuilt=0 dropped=0 skipped=2$" "$SB/out" ||
    fail "summary with the unsigned record: $(cat "$SB/out")"
[ -z "$(sb_redis ZSCORE "etrn:expiry:$host" "$qu")" ] || fail "$qu indexed"
[ "$(sb_redis HGET etrn:stats:dialup2.test held)" = 1 ] || fail "held counter 2"
sb_redis DEL "etrn:msg:$host:$qu" >/dev/null
sleep 3		# several expiry sweeps (queue_run_interval 500 ms)
[ "$(dsns_to victim-)" = 0 ] || fail "a DSN went to a forged tag's sender"
hold_is 3 || fail "hold queue: $(sb_hold_ids)"
pass "etrnctl reconcile: no record built from a forged or unsigned tag (not even ok with a record of its token), both reported, no DSN"

# 4. Expiry.  The main smtpd's record moved onto the forged file, due
# now.
move() {	# move FROM TO TOKEN SENDER
	sb_redis COPY "etrn:msg:$host:$1" "etrn:msg:$host:$2" >/dev/null
	sb_redis HSET "etrn:msg:$host:$2" queueid "$2" token "$3" sender "$4" \
	    expires $((now - 1)) >/dev/null
	sb_redis ZADD etrn:held:dialup2.test "$now" "$host:$2" >/dev/null
	sb_redis HINCRBY etrn:stats:dialup2.test held 1 >/dev/null
	sb_redis ZADD "etrn:expiry:$host" $((now - 1)) "$2" >/dev/null
}
before=$(dsn_count)
move "$qm" "$qf" "$tf" victim-f@example.org
move "$qm" "$qu" "$tu" old-sender@example.org
wait_for 20 redis_is 0 EXISTS "etrn:msg:$host:$qf" || fail "$qf record not dropped"
wait_for 20 redis_is 0 EXISTS "etrn:msg:$host:$qu" || fail "$qu record not dropped"
sleep 2
grep -q "$qf: forged X-ETRN-Hold header ignored (its MAC does not verify)" "$SB/log/etrnd.log" ||
    fail "forged tag not logged by expiry"
grep -q "$qf: queue file does not carry token" "$SB/log/etrnd.log" ||
    fail "forged file's record not dropped as such"
postqueue -c "$PF_CONF" -j | grep -q "\"queue_name\": \"hold\", \"queue_id\": \"$qf\"" ||
    fail "the forged file was deleted"
[ "$(dsns_to victim-)" = 0 ] || fail "a DSN went to the forged tag's sender"
grep -q "$qu: unsigned X-ETRN-Hold header ignored" "$SB/log/etrnd.log" ||
    fail "unsigned tag not logged by expiry"
postqueue -c "$PF_CONF" -j | grep -q "\"queue_name\": \"hold\", \"queue_id\": \"$qu\"" ||
    fail "the unsigned tag's file was deleted"
[ "$(dsns_to old-sender@)" = 0 ] || fail "a DSN went to the unsigned tag's record"
[ "$(dsn_count)" = "$before" ] || fail "DSNs: $(($(dsn_count) - before)), want 0"
pass "expiry: a forged or unsigned tag is logged and its file left alone without a DSN, even with a record of its token"

# 5. A delay warning: its Message-ID is keyed and shows no token.
qw=$(swaks --server 127.0.0.1 --port "$SMTP_PORT" -f warned@example.org \
    -t w@dialup.test --header "Subject: warned" 2>&1 |
    sed -n 's/.* queued as \([0-9A-Za-z]*\).*/\1/p' | tail -n 1)
wait_for 10 hold_is 4 || fail "$qw not held"
tw=$(field "$qw" token)
[ -n "$tw" ] || fail "no record for $qw"
wait_for 20 eval '[ "$(dsns_to warned@)" = 1 ]' || fail "no delay warning"
f=$(dsns | xargs grep -l '^To: <\?warned@')
grep -q '^Subject: Delayed Mail' "$f" || fail "not a delay warning"
mid=$(sed -n 's/^Message-ID: *//Ip' "$f" | head -n 1 | tr -d '\r')
want=$(dsn_msgid delayed "$tw" "$host")
[ "$mid" = "$want" ] || fail "Message-ID '$mid', want '$want'"
! grep -q "$tw" "$f" || fail "the token $tw shows in the delay warning"
pass "delay warning: Message-ID $mid is keyed with the secret, the token appears nowhere"

# 6. A held file with a DSN's Message-ID that is not from the null
# sender is not taken for that DSN.  etrnd is stopped; the record says a
# DSN was being sent; the impostor waits on hold with its Message-ID.
kill -TERM "$ETRND_PID"
wait_for 15 eval '! kill -0 "$ETRND_PID" 2>/dev/null' || fail "etrnd did not stop"
qx=$(swaks --server 127.0.0.1 --port "$SMTP_PORT" -f sender-x@example.org \
    -t x@dialup2.test --header "Subject: x" 2>&1 |
    sed -n 's/.* queued as \([0-9A-Za-z]*\).*/\1/p' | tail -n 1)
wait_for 10 eval '[ -n "$(field "$qx" token)" ]' || fail "$qx not recorded"
tx=$(field "$qx" token)
sb_redis HSET "etrn:msg:$host:$qx" state expiring dsn_state sending \
    dsn_since $(($(date +%s) - 1)) >/dev/null
qi=$(swaks --server 127.0.0.1 --port "$DSN_PORT" -f impostor@example.org \
    -t sender-x@example.org \
    --header "Message-Id: $(dsn_msgid expired "$tx" "$host")" \
    --header "Auto-Submitted: auto-replied" --header "Subject: impostor" \
    --body "impostor-body" 2>&1 |
    sed -n 's/.* queued as \([0-9A-Za-z]*\).*/\1/p' | tail -n 1)
[ -n "$qi" ] || fail "the DSN port did not take the impostor"
wait_for 10 eval 'sb_hold_ids | grep -qx "$qi"' || fail "impostor not held"
sb_redis ZADD "etrn:expiry:$host" 0 "$qx" >/dev/null
"$OPENETRN_BUILDDIR/etrnd/etrnd" -f -c "$OPENETRN_CONF" >>"$SB/log/etrnd.log" 2>&1 &
etrnd_pid=$!
trap 'rc=$?; set +e; [ -z "$etrnd_pid" ] || { kill "$etrnd_pid"; wait "$etrnd_pid"; } 2>/dev/null; sb_cleanup $rc' EXIT
wait_for 30 redis_is 0 EXISTS "etrn:msg:$host:$qx" || fail "$qx not expired"
wait_for 15 eval '[ "$(dsns_to sender-x@)" -ge 1 ]' || fail "no DSN for $qx"
sleep 2
[ "$(dsns_to sender-x@)" = 1 ] || fail "sender-x got $(dsns_to sender-x@) DSNs"
f=$(dsns | xargs grep -l '^To: <\?sender-x@')
! grep -q impostor-body "$f" || fail "the impostor was released as the DSN"
grep -q '^Content-Type: multipart/report' "$f" || fail "not a DSN built by etrnd"
sb_hold_ids | grep -qx "$qi" || fail "the impostor left the hold queue"
grep -q "$qi: held with the Message-ID of a DSN of ours but not from the null sender: ignored" \
    "$SB/log/etrnd.log" || fail "the impostor was not logged"
kill "$etrnd_pid"
wait "$etrnd_pid" 2>/dev/null || true
etrnd_pid=
pass "a held file with a DSN's Message-ID but not from the null sender is not taken for it: a DSN is built, the impostor stays on hold"

stop_and_check_logs
pass "clean stop: no daemon ignored SIGTERM, no sanitizer report in any log"
