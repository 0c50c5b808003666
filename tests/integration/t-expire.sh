#!/bin/bash
# t-expire - held mail leaves the hold at its deadline with exactly one
# RFC 3464 DSN (parsed with Python's email package): the right fields,
# RET=FULL returns the message, none for a null sender, NOTIFY=NEVER or
# NOTIFY without FAILURE; a delay warning first when warn_time is due; the
# held file is gone and the counters follow.  A queue file whose token is
# not the record's is never deleted.
set -eu
. "${top_srcdir:-$(dirname "$0")/../..}/tests/lib/sandbox.sh"
sb_init expire
SB_ETRND=1 sb_start
. "$SB_SRCDIR/tests/lib/common.sh"

# dialup2.test: an 8 s hold, no warning; dialup.test: warn at 4 s, 14 s hold.
sb_redis HSET etrn:domain:dialup2.test hold_time 8 warn_time 0 >/dev/null
sb_redis HSET etrn:domain:dialup.test hold_time 14 warn_time 4 >/dev/null
sleep 2		# domain_refresh = 1s
before=$(date +%s)

send --from a@example.org --mail-opt RET=HDRS --mail-opt ENVID=ENV+2Bone \
    --to 'v1@dialup2.test ORCPT=rfc822;orig+2Bv1@dialup2.test' \
    --header 'Subject: plain expiry' >/dev/null || fail "send a"
send --from '' --to v2@dialup2.test --header 'Subject: null sender' >/dev/null ||
    fail "send b"
send --from c@example.org --to 'v3@dialup2.test NOTIFY=NEVER' >/dev/null ||
    fail "send c"
send --from d@example.org --mail-opt RET=FULL --to v4@dialup2.test \
    --header 'Subject: full return' --body $'the body line\n' >/dev/null ||
    fail "send d"
send --from e@example.org --to 'v5@dialup2.test NOTIFY=SUCCESS' >/dev/null ||
    fail "send e"
send --from f@example.org --to w1@dialup.test --header 'Subject: warned' \
    >/dev/null || fail "send f"
wait_for 5 hold_is 6 || fail "not held: $(sb_queue_count hold)"

wait_for 30 redis_is 0 ZCARD etrn:held:dialup2.test || fail "not expired"
wait_for 10 sh -c "[ \$(redis-cli -s '$REDIS_SOCK' HGET etrn:stats:dialup2.test expired) = 5 ]" ||
    fail "expired counter $(sb_redis HGET etrn:stats:dialup2.test expired)"
redis_is 0 HGET etrn:stats:dialup2.test held || fail "held counter"
redis_is 0 HGET etrn:stats:dialup2.test bytes || fail "bytes counter"
[ -z "$(sb_redis KEYS 'etrn:msg:*' | xargs -r -n1 redis-cli -s "$REDIS_SOCK" HGET domain 2>/dev/null | grep dialup2 || true)" ] ||
    fail "records left"
pass "5 messages expired after 8 s; records gone; counters: expired 5, held 0"

wait_for 15 dsn_is 3 || fail "want 3 DSNs (2 failed + 1 delayed), got $(dsn_count)"
sleep 3
python3 "$SB_SRCDIR/tests/lib/dsncheck.py" $(dsns) > "$SB/dsn.json" || {
	cat "$SB/dsn.json" >&2; fail "a DSN is not multipart/report"; }
python3 - "$SB/dsn.json" "$before" <<'PY' || fail "DSN content"
import json, sys
d = [json.loads(l) for l in open(sys.argv[1])]
by = {}
for x in d:
    by.setdefault(x["to"], []).append(x)
def one(to):
    assert len(by.get(to, [])) == 1, (to, len(by.get(to, [])))
    return by[to][0]
for x in d:
    assert x["report_type"] == "delivery-status", x
    assert x["parts"] == 3, x
    assert x["defects"] == [], x["defects"]
    assert x["auto_submitted"] == "auto-replied"
    assert not x["returned_has_tag"], "hold tag returned"
    assert x["per_message"]["reporting-mta"] == "dns; mx.lab.test", x
a = one("a@example.org")
assert a["subject"] == "Undelivered Mail Returned to Sender", a["subject"]
assert a["per_message"]["original-envelope-id"] == "ENV+one", a["per_message"]
r = a["per_recipient"]
assert len(r) == 1 and r[0]["action"] == "failed" and r[0]["status"] == "4.4.7", r
assert r[0]["final-recipient"].replace(" ", "") == "rfc822;v1@dialup2.test", r
assert r[0]["original-recipient"].replace(" ", "") == "rfc822;orig+v1@dialup2.test", r
assert a["returned_type"] == "text/rfc822-headers"
assert "Subject: plain expiry" in a["returned_text"]
assert "dialup2.test" in a["human"]
d4 = one("d@example.org")
assert d4["returned_type"] == "message/rfc822", d4["returned_type"]
assert "the body line" in d4["returned_text"]
f = one("f@example.org")
assert f["per_recipient"][0]["action"] == "delayed", f
assert "will-retry-until" in f["per_recipient"][0], f
for nobody in ("c@example.org", "e@example.org", ""):
    assert nobody not in by, nobody
PY
pass "DSNs parse as RFC 3464; ENVID/ORCPT decoded; RET=FULL returns the body; none for <>, NEVER, SUCCESS-only; a delay warning"

wait_for 20 redis_is 0 ZCARD etrn:held:dialup.test || fail "warned message not expired"
wait_for 15 dsn_is 4 || fail "want 4 DSNs, got $(dsn_count)"
sleep 2
[ "$(dsn_count)" = 4 ] || fail "more DSNs than messages"
hold_is 0 || fail "files left in the hold queue: $(sb_hold_ids)"
ids=$(for f in $(dsns); do grep -m1 -i '^Message-ID:' "$f"; done | sort)
[ "$(printf '%s\n' "$ids" | sort -u | wc -l)" = 4 ] || fail "Message-IDs: $ids"
pass "the warned message expired too: 4 DSNs with distinct Message-IDs, hold queue empty"

# A record whose token does not match the queue file: the file stays.
sb_redis HSET etrn:domain:dialup2.test hold_time 3 >/dev/null
sleep 2
out=$(send --from g@example.org --to x@dialup2.test) || fail "send g"
q=$(qid_of "$out")
wait_for 10 hold_is 1 || fail "g not held"
sb_redis HSET "etrn:msg:mx.lab.test:$q" token 00000000000000000000000000000000 >/dev/null
wait_for 20 redis_is 0 EXISTS "etrn:msg:mx.lab.test:$q" || fail "record not dropped"
sleep 1
[ "$(sb_hold_ids)" = "$q" ] || fail "a file with another token was deleted"
[ "$(dsn_count)" = 4 ] || fail "a DSN was sent for it"
grep -q "$q: queue file does not carry token" "$SB/log/etrnd.log" || fail "not logged"
pass "token mismatch: record dropped, queue file left alone, no DSN"

# Released by hand and not delivered when its deadline comes (customer
# host down): tracking puts it back on hold, then it expires with a DSN.
kill "$SINK_CUSTOMER_PID"
wait_for 10 sh -c "! kill -0 $SINK_CUSTOMER_PID 2>/dev/null" || fail "sink runs"
sb_redis HSET etrn:domain:dialup2.test hold_time 6 >/dev/null
sleep 2
out=$(send --from h@example.org --to y@dialup2.test) || fail "send h"
qh=$(qid_of "$out")
wait_for 10 sh -c "postqueue -c '$PF_CONF' -j | grep -q '\"queue_name\": \"hold\", \"queue_id\": \"$qh\"'" ||
    fail "h not held"
wait_for 10 redis_is held HGET "etrn:msg:mx.lab.test:$qh" state ||
    fail "h not counted"
postsuper -c "$PF_CONF" -H "$qh" >/dev/null 2>&1 || fail "postsuper -H"
postqueue -c "$PF_CONF" -i "$qh" || fail "postqueue -i"
wait_for 30 redis_is 0 EXISTS "etrn:msg:mx.lab.test:$qh" || fail "h not expired"
wait_for 15 dsn_is 5 || fail "want 5 DSNs, got $(dsn_count)"
grep -q "$qh: not on hold at its deadline, left to tracking" "$SB/log/etrnd.log" ||
    fail "not handed to tracking"
grep -q "$qh: expired domain=dialup2.test" "$SB/log/etrnd.log" || fail "not expired"
[ "$(sb_hold_ids)" = "$q" ] || fail "hold queue: $(sb_hold_ids)"
pass "released by hand, not taken by its deadline: back on hold, expired with a DSN"
