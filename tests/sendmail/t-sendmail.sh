#!/bin/bash
# t-sendmail - the whole cycle on a real Sendmail 8.17 (unpacked privately,
# its own .cf, queue and port next to the sandbox's Postfix): etrn-milter
# quarantines mail for a dial-up domain (hf file, tag header with the
# record's token, record in Redis); ETRN to etrnd's listener (mta =
# sendmail) releases it to the customer's server (Sendmail's own ETRN is
# refused); mail for other domains passes, a message with mixed recipients
# is split; at its deadline held mail is returned with one RFC 3464 DSN
# (parsed with Python's email package) and deleted; a file whose token is
# not the record's is never deleted; after Redis lost the index, etrnctl
# reconcile rebuilds the records from the control files; a release the
# customer's server does not take is put back in quarantine; DSNs go
# through Sendmail's DSN port, held there, and each sender gets exactly
# one even when etrnd stopped around the hand-over.  Skips only when
# Sendmail cannot be unpacked.
set -eu
. "${top_srcdir:-$(dirname "$0")/../..}/tests/lib/sandbox.sh"
sb_init sendmail
[ "$(id -u)" = 0 ] || skip "needs root"
. "$SB_SRCDIR/tests/lab/sendmail-lab.sh"
sm_require
SB_MILTER=none sb_start
. "$SB_SRCDIR/tests/lib/common.sh"
sm_start
held_count() { find "$SM_DIR/spool" -maxdepth 1 -name 'hf*' | grep -c . || true; }
held_is() { [ "$(held_count)" = "$1" ]; }

# 1. Hold: quarantined by Sendmail, recorded in Redis with the token.
out=$(sm_send --from s@example.org --to u1@dialup.test \
    --header 'Subject: held one') || fail "send: $out"
q1=$(sm_qid_of "$out")
[ -n "$q1" ] || fail "no queue ID in: $out"
out=$(sm_send --from s@example.org --to u2@dialup.test) || fail "send: $out"
q2=$(sm_qid_of "$out")
wait_for 10 sm_held "$q1" || fail "$q1 not quarantined"
sm_held "$q2" || fail "$q2 not quarantined"
sm_run -bp -qQ | grep -q 'QUARANTINE: held for ETRN by dialup.test' ||
    fail "sendmail -bp -qQ does not show the quarantine"
# Pending until etrnd (mta = sendmail) finds the hf file: then counted.
wait_for 10 eval '[ "$(sm_field "$q1" state)" = held ]' ||
    fail "record state $(sm_field "$q1" state)"
wait_for 10 eval '[ "$(sm_field "$q2" state)" = held ]' ||
    fail "record state of $q2: $(sm_field "$q2" state)"
grep -q "$q1: on hold, counted: domain=dialup.test" "$SM_DIR/log/etrnd.log" ||
    fail "no log line for counting $q1"
[ "$(sm_field "$q1" domain)" = dialup.test ] || fail "record domain"
token=$(sm_field "$q1" token)
[ ${#token} = 32 ] || fail "token '$token'"
grep -q "^H??X-ETRN-Hold: dialup.test; host=$SM_HOST; token=$token;" \
    "$SM_DIR/spool/hf$q1" || fail "hf$q1 does not carry the token"
redis_is 2 ZCARD etrn:held:dialup.test || fail "held index"
pass "two messages quarantined (hf files), recorded with the tag's token"

# Mail for other domains passes through untouched.
sm_send --from s@example.org --to x@example.net \
    --header 'Subject: passes' >/dev/null || fail "send pass"
wait_for 20 sb_sink_grep internet '^Subject: passes' || fail "not passed"
[ "$(held_count)" = 2 ] || fail "pass-through mail was held"
pass "mail for a non-dial-up domain is delivered at once"

# Mixed recipients: the dial-up one is split off (re-injected into
# Sendmail, held there), the other gets the original at once.
sm_send --from s@example.org --to m1@dialup.test --to m2@example.net \
    --header 'Subject: mixed' >/dev/null || fail "send mixed"
wait_for 20 sb_sink_grep internet '^Subject: mixed' || fail "mixed: not passed"
f=$(sb_sink_grep internet '^Subject: mixed')
grep -q '^X-Rcpt-Args: <m2@example.net>' "$f" || fail "mixed: rcpt"
[ "$(grep -c '^X-Rcpt-Args:' "$f")" = 1 ] ||
    fail "mixed: the dial-up recipient got the original too"
wait_for 20 held_is 3 || fail "mixed: copy not held"
wait_for 10 redis_is 3 ZCARD etrn:held:dialup.test || fail "mixed: held index"
pass "mixed recipients: split on Sendmail, the copy for dialup.test held"

# Sendmail's own ETRN is refused (noetrn) and releases nothing.
out=$(python3 "$SB_SRCDIR/tests/lib/etrn.py" "$SM_PORT" dialup.test)
case $out in
5*) ;;
*) fail "Sendmail's ETRN: $out" ;;
esac
sleep 1
[ "$(held_count)" = 3 ] || fail "Sendmail's ETRN released something"
pass "ETRN to Sendmail itself is refused: $out"

# 2. ETRN through etrnd's listener: released and delivered.
out=$(etrn dialup.test)
[ "$out" = "253 OK, 3 pending messages for node dialup.test started" ] ||
    fail "253: $out"
wait_for 30 sink_is customer 3 ||
    fail "customer got $(sb_sink_count customer) of 3"
sb_sink_grep customer '^Subject: mixed' >/dev/null || fail "no split copy"
sb_sink_grep customer '^Subject: held one' >/dev/null || fail "wrong mail"
wait_for 10 redis_is 0 ZCARD etrn:held:dialup.test || fail "index"
wait_for 10 redis_is 3 HGET etrn:stats:dialup.test flushed ||
    fail "flushed counter"
if sm_queued "$q1" || sm_queued "$q2"; then fail "still in the queue"; fi
redis_is 0 EXISTS "etrn:msg:$SM_HOST:$q1" || fail "record left"
pass "ETRN 253; all three delivered to the customer; queue, index and records follow"

# 3. Expiry: a DSN that parses as RFC 3464, the file deleted.
sb_redis HSET etrn:domain:dialup2.test hold_time 6 warn_time 0 >/dev/null
sleep 2		# domain_refresh
out=$(sm_send --from a@example.org --mail-opt RET=FULL \
    --mail-opt ENVID=ENV+2Bsm \
    --to 'v1@dialup2.test ORCPT=rfc822;orig+2Bv1@dialup2.test' \
    --header 'Subject: expires' --body $'the body line\n') ||
    fail "send: $out"
q3=$(sm_qid_of "$out")
out=$(sm_send --from b@example.org --to 'v2@dialup2.test NOTIFY=NEVER') ||
    fail "send: $out"
q4=$(sm_qid_of "$out")
wait_for 10 sm_held "$q3" || fail "$q3 not held"
sm_held "$q4" || fail "$q4 not held"
wait_for 30 redis_is 0 EXISTS "etrn:msg:$SM_HOST:$q3" \
    "etrn:msg:$SM_HOST:$q4" || fail "not expired"
redis_is 0 ZCARD etrn:held:dialup2.test || fail "held index"
wait_for 20 dsn_is 1 || fail "want 1 DSN, got $(dsns | grep -c . || true)"
if sm_queued "$q3" || sm_queued "$q4"; then fail "expired files left"; fi
[ ! -e "$SM_DIR/spool/df$q3" ] || fail "df$q3 left"
redis_is 2 HGET etrn:stats:dialup2.test expired || fail "expired counter"
# shellcheck disable=SC2046
python3 "$SB_SRCDIR/tests/lib/dsncheck.py" $(dsns) >"$SB/dsn.json" || {
	cat "$SB/dsn.json" >&2; fail "the DSN is not multipart/report"; }
python3 - "$SB/dsn.json" "$SM_HOST" <<'PY' || fail "DSN content"
import json, sys
d = [json.loads(l) for l in open(sys.argv[1])]
assert len(d) == 1, d
x = d[0]
assert x["to"] == "a@example.org", x["to"]
assert x["report_type"] == "delivery-status", x
assert x["parts"] == 3 and x["defects"] == [], x
assert x["per_message"]["reporting-mta"] == "dns; " + sys.argv[2], x
assert x["per_message"]["original-envelope-id"] == "ENV+sm", x
r = x["per_recipient"]
assert len(r) == 1 and r[0]["action"] == "failed", r
assert r[0]["status"] == "4.4.7", r
assert r[0]["final-recipient"].replace(" ", "") == "rfc822;v1@dialup2.test", r
assert r[0]["original-recipient"].replace(" ", "") == "rfc822;orig+v1@dialup2.test", r
assert x["returned_type"] == "message/rfc822", x["returned_type"]
assert "Subject: expires" in x["returned_text"], x["returned_text"]
assert "the body line" in x["returned_text"], x["returned_text"]
assert not x["returned_has_tag"], "hold tag returned"
PY
pass "expired: one RFC 3464 DSN (RET=FULL, ENVID, ORCPT), none for NEVER; files deleted"

# 4. A record whose token is not in the queue file: the file stays.
sb_redis HSET etrn:domain:dialup2.test hold_time 3 >/dev/null
sleep 2
out=$(sm_send --from g@example.org --to x@dialup2.test) || fail "send: $out"
q5=$(sm_qid_of "$out")
wait_for 10 sm_held "$q5" || fail "$q5 not held"
sb_redis HSET "etrn:msg:$SM_HOST:$q5" token \
    00000000000000000000000000000000 >/dev/null
wait_for 20 redis_is 0 EXISTS "etrn:msg:$SM_HOST:$q5" ||
    fail "record not dropped"
sleep 1
sm_held "$q5" || fail "a file with another token was deleted"
dsn_is 1 || fail "a DSN was sent for it"
grep -q "$q5: queue file does not carry token" "$SM_DIR/log/etrnd.log" ||
    fail "not logged"
pass "token mismatch: record dropped, quarantined file left alone, no DSN"

# 5. Redis loses the index: etrnctl reconcile rebuilds the records from
# the quarantined control files (S, Z, F, Q, R lines and the tag), and an
# ETRN then delivers the mail.
out=$(sm_send --from r@example.org --mail-opt RET=HDRS \
    --mail-opt ENVID=RC+2Benv \
    --to 'r1@dialup.test NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;o+2Br1@dialup.test' \
    --to 'r2@dialup.test NOTIFY=NEVER' --header 'Subject: reconciled') ||
    fail "send: $out"
q7=$(sm_qid_of "$out")
out=$(sm_send --from '' --to r3@dialup.test) || fail "send: $out"
q8=$(sm_qid_of "$out")
wait_for 10 sm_held "$q7" || fail "$q7 not held"
wait_for 10 sm_held "$q8" || fail "$q8 not held"
for q in "$q7" "$q8"; do
	wait_for 10 eval '[ "$(sm_field "$q" state)" = held ]' ||
	    fail "$q: record not counted"
done
fields="domain token sender recipients nrcpt ret envid expires arrived state"
for q in "$q7" "$q8"; do
	for f in $fields; do
		printf '%s=%s\n' "$f" "$(sm_field "$q" "$f")"
	done >"$SB/before.$q"
	size_before=$(sm_field "$q" size)
	echo "$size_before" >"$SB/size.$q"
done
sb_redis DEL "etrn:msg:$SM_HOST:$q7" "etrn:msg:$SM_HOST:$q8" \
    etrn:held:dialup.test "etrn:expiry:$SM_HOST" >/dev/null
"$OPENETRN_BUILDDIR/etrnctl/etrnctl" -c "$SM_CONF" reconcile >"$SB/rc.out" \
    2>&1 || { cat "$SB/rc.out" >&2; fail "etrnctl reconcile failed"; }
# The file of step 4 (its record dropped for the wrong token) still
# carries its own tag, so it is rebuilt too, past its deadline.
grep -q '^reconcile: held=3 ok=0 rebuilt=3 dropped=0 skipped=0' \
    "$SB/rc.out" || { cat "$SB/rc.out" >&2; fail "reconcile summary"; }
grep -q "^rebuilt $q5: dialup2.test, no record" "$SB/rc.out" ||
    fail "the tagged file of step 4 not rebuilt"
wait_for 30 dsn_is 2 || fail "the rebuilt expired record got no DSN"
if sm_queued "$q5"; then fail "$q5 not deleted after its DSN"; fi
for q in "$q7" "$q8"; do
	for f in $fields; do
		printf '%s=%s\n' "$f" "$(sm_field "$q" "$f")"
	done >"$SB/after.$q"
	diff -u "$SB/before.$q" "$SB/after.$q" >&2 ||
	    fail "$q: the rebuilt record differs from the milter's"
	size_after=$(sm_field "$q" size)
	size_before=$(cat "$SB/size.$q")
	# The rebuilt size is the queued message's: what the milter counted
	# plus the headers Sendmail adds (Received, Date, Message-ID), which
	# the milter does not see; no more than the hf and df files hold.
	files=$(($(stat -c %s "$SM_DIR/spool/hf$q") + \
	    $(stat -c %s "$SM_DIR/spool/df$q")))
	[ "$size_after" -ge "$size_before" ] &&
	    [ "$size_after" -le $((files + 64)) ] ||
	    fail "$q: size $size_after, milter $size_before, files $files"
done
redis_is 2 ZCARD etrn:held:dialup.test || fail "held index not rebuilt"
redis_is 2 ZCARD "etrn:expiry:$SM_HOST" || fail "expiry index not rebuilt"
pass "reconcile on Sendmail: records rebuilt as the milter wrote them (NOTIFY, ORCPT, RET, ENVID, null sender); one past its deadline expired with a DSN"
n=$(sb_sink_count customer)
out=$(etrn dialup.test)
[ "$out" = "253 OK, 2 pending messages for node dialup.test started" ] ||
    fail "253 after reconcile: $out"
wait_for 30 sink_is customer $((n + 2)) ||
    fail "customer got $(($(sb_sink_count customer) - n)) of 2"
wait_for 10 redis_is 0 ZCARD etrn:held:dialup.test || fail "index"
pass "after reconcile ETRN delivers both messages"

# 6. The customer's server is down: released, tried, back in quarantine.
kill "$SINK_CUSTOMER_PID"
wait_for 10 sh -c "! kill -0 $SINK_CUSTOMER_PID 2>/dev/null" ||
    fail "sink still runs"
out=$(sm_send --from s@example.org --to u3@dialup.test) || fail "send: $out"
q6=$(sm_qid_of "$out")
wait_for 10 sm_held "$q6" || fail "$q6 not held"
sleep 1.5
out=$(etrn dialup.test)
case $out in
"253 OK, 1 pending message for node dialup.test started") ;;
*) fail "253: $out" ;;
esac
wait_for 30 grep -q "$q6: back on hold domain=dialup.test" \
    "$SM_DIR/log/etrnd.log" || fail "not put back: state $(sm_field "$q6" state)"
sm_held "$q6" || fail "$q6 not in quarantine"
grep -q '^N[1-9]' "$SM_DIR/spool/hf$q6" || fail "$q6 was never tried"
grep -q '^qheld for ETRN (not taken)' "$SM_DIR/spool/hf$q6" ||
    fail "quarantined again with another reason"
[ "$(sm_field "$q6" state)" = held ] || fail "record state $(sm_field "$q6" state)"
redis_is 1 ZCARD etrn:held:dialup.test || fail "index"
pass "not taken by the customer's server: back in quarantine, still recorded"

# 7. DSNs exactly once: etrnd hands them to Sendmail's DSN port, where
# etrn-milter quarantines them, notes the queue ID and releases them.  The
# instants a kill cannot be aimed at, set up with etrnd stopped: a DSN
# Sendmail took while the record still says "sending", one recorded as
# "queued", and a "sending" whose DSN never reached Sendmail.
grep -q ': DSN held for etrnd: daemon=openetrn-dsn' \
    "$SM_DIR/log/etrn-milter.log" || fail "the DSNs of step 3 were not held"
grep -q "$q3: DSN to <a@example.org> on hold as [0-9A-Za-z]" \
    "$SM_DIR/log/etrnd.log" || fail "no DSN log line for $q3"
sm_etrnd_stop
sb_redis HSET etrn:domain:dialup2.test hold_time 1h >/dev/null
sleep 2
declare -A q tok
for s in a b c; do
	out=$(sm_send --from "crash-$s@example.org" --to "w$s@dialup2.test") ||
	    fail "send: $out"
	q[$s]=$(sm_qid_of "$out")
	wait_for 10 sm_held "${q[$s]}" || fail "${q[$s]} not held"
	tok[$s]=$(sm_field "${q[$s]}" token)
done
# held_dsn LETTER - what etrnd had submitted to the DSN port
held_dsn() {
	swaks --server 127.0.0.1 --port "$SM_DSN_PORT" -f '<>' \
	    -t "crash-$1@example.org" \
	    --header "Message-Id: $(dsn_msgid expired "${tok[$1]}" "$SM_HOST" "$SM_DIR/run/hold.secret")" \
	    --header "Auto-Submitted: auto-replied" \
	    --header "Subject: the held DSN $1" --body "held-dsn-$1" 2>&1 |
	    sed -n 's/.*250 2\.0\.0 \([A-Za-z0-9]*\) Message accepted.*/\1/p' |
	    tail -n 1
}
since=$(($(date +%s) - 1))
for s in a b c; do
	sb_redis HSET "etrn:msg:$SM_HOST:${q[$s]}" state expiring \
	    dsn_state sending dsn_since "$since" >/dev/null
done
da=$(held_dsn a)
[ -n "$da" ] || fail "DSN a not taken"
db=$(held_dsn b)
[ -n "$db" ] || fail "DSN b not taken"
sb_redis HSET "etrn:msg:$SM_HOST:${q[b]}" dsn_state queued \
    dsn_queue_id "$db" >/dev/null
sm_held "$da" && sm_held "$db" || fail "the DSNs are not quarantined"
redis_is 0 EXISTS "etrn:msg:$SM_HOST:$da" || fail "a DSN got a hold record"
before=$(dsns | grep -c . || true)
sm_etrnd_start
for s in a b c; do
	sb_redis ZADD "etrn:expiry:$SM_HOST" 0 "${q[$s]}" >/dev/null
done
wait_for 30 redis_is 0 ZCARD etrn:held:dialup2.test || fail "not expired"
wait_for 30 dsn_is $((before + 3)) ||
    fail "want 3 more DSNs, got $(($(dsns | grep -c . || true) - before))"
sleep 3
dsn_is $((before + 3)) || fail "more than one DSN for a sender"
for s in a b c; do
	n=$(dsns | xargs grep -l "^To: <\?crash-$s@example.org" | wc -l)
	[ "$n" = 1 ] || fail "crash-$s got $n DSNs"
done
dsns | xargs grep -l "held-dsn-a" >/dev/null ||
    fail "the DSN on hold (sending) was not the one delivered"
dsns | xargs grep -l "held-dsn-b" >/dev/null ||
    fail "the DSN on hold (queued) was not the one delivered"
f=$(dsns | xargs grep -l "^To: <\?crash-c@example.org")
grep -q "^Content-Type: multipart/report" "$f" || fail "crash-c: not a new DSN"
for s in a b c; do
	if sm_queued "${q[$s]}"; then fail "${q[$s]} left in the queue"; fi
done
if sm_queued "$da" || sm_queued "$db"; then fail "a DSN left in the queue"; fi
grep -q "${q[a]}: DSN found on hold as $da" "$SM_DIR/log/etrnd.log" ||
    fail "no log line for the found DSN"
pass "Sendmail DSNs exactly once: one taken but not recorded, one recorded as queued, one never taken: one DSN each"
