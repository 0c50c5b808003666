#!/bin/bash
# t-expire-dsn-cut - the DSN session breaks in the middle of an expiry
# sweep, after the DSN server took a DSN and before etrnd read its
# "queued as" reply.  N messages (60), each from its own sender, are held
# for dialup2.test and made due at once; tests/faults/smtpgate.py in
# front of the sandbox's holding DSN smtpd cuts the connection that
# carries the K-th (40th) "queued as" reply, a session that carried DSNs
# before it (the sweep's sessions are open from its first chunks).
# etrnd must look for that DSN on hold by its Message-ID ("found on hold
# after the DSN session broke") and release it rather than submit it
# again; afterwards every sender has exactly one DSN (by recipient and
# by Message-ID), none of the N is delivered, nothing is left on hold,
# no record is left and expired = N.
set -eu
. "${top_srcdir:-$(dirname "$0")/../..}/tests/lib/sandbox.sh"
sb_init f-edcut
. "$SB_SRCDIR/tests/faults/lib.sh"
N=60 K=40
HOST=mx.lab.test
DOM=dialup2.test
GATE_PORT=$(free_port)
SB_ETRND=1 SB_DSN_SERVER=none SB_EXTRA_CONF="dsn_server = inet:127.0.0.1:$GATE_PORT" sb_start
. "$SB_SRCDIR/tests/lib/common.sh"
gate_pid=''
trap 'rc=$?; set +e; [ -z "$gate_pid" ] || { kill "$gate_pid"; wait "$gate_pid"; } 2>/dev/null; sb_cleanup $rc' EXIT
python3 "$FT_DIR/smtpgate.py" --listen "$GATE_PORT" --to "$DSN_PORT" \
    --cut-at "$K" --flag "$SB/dsn.cut" 2>>"$SB/log/smtpgate.log" &
gate_pid=$!
wait_for 10 eval "ss -Hltn 'sport = :$GATE_PORT' | grep -q ." ||
    fail "smtpgate does not listen"

ctl domains set $DOM hold_time=1h warn_time=0 >/dev/null || fail "etrnctl domains set"
sleep 1.2	# domain_refresh: the milter sees the domain's settings
LOG=$SB/sent.log
sendmany --count "$N" --prefix dc --to-fmt "v{n}@$DOM" --from-fmt 's{n}@example.org' \
    --sessions 2 --log "$LOG" >"$SB/sendmany.out" 2>&1 ||
    fail "intake: $(tail -n 3 "$SB/sendmany.out")"
wait_for 30 redis_is "$N" ZCARD "etrn:held:$DOM" ||
    fail "indexed: $(sb_redis ZCARD "etrn:held:$DOM") of $N"
pass "$N messages from $N senders held for $DOM"

got=$(sb_redis EVAL "local m = redis.call('ZRANGE', KEYS[1], 0, -1)
for i = 1, #m do redis.call('ZADD', KEYS[1], 0, m[i]) end
return #m" 1 "etrn:expiry:$HOST")
[ "$got" = "$N" ] || fail "made due: $got of $N"

wait_for 60 test -s "$SB/dsn.cut" || fail "the gate cut no session"
read -r dq <"$SB/dsn.cut"
wait_for 60 redis_is 0 ZCARD "etrn:expiry:$HOST" ||
    fail "not all expired: $(sb_redis ZCARD "etrn:expiry:$HOST") left"
grep -q ": DSN found on hold as $dq after the DSN session broke" "$SB/log/etrnd.log" ||
    fail "the DSN taken when the session broke ($dq) was not found on hold: $(grep -i 'session\|DSN found' "$SB/log/etrnd.log" | tail -n 5)"
pass "session cut at DSN $K: $dq found on hold after the DSN session broke"

wait_for 60 dsn_at_least "$N" || true
sleep 2		# a second DSN would show now
n=$(dsns | xargs -r grep -m1 -hi '^To:' | tr 'A-Z' 'a-z' | sort | uniq -c |
    awk '$1 != 1' | wc -l)
[ "$(dsn_count)" = "$N" ] || fail "DSNs: $(dsn_count), want $N"
[ "$n" = 0 ] || fail "$n senders without exactly one DSN"
m=$(dsns | xargs -r grep -m1 -hi '^Message-ID:' | sort -u | wc -l)
[ "$m" = "$N" ] || fail "$m distinct Message-IDs, want $N"
pass "every one of the $N senders has exactly one DSN ($N Message-IDs)"

[ "$(find "$PF_SPOOL/hold" -type f | wc -l)" = 0 ] || fail "files left on hold"
[ "$(sb_redis --scan --pattern "etrn:msg:$HOST:*" | grep -c . || true)" = 0 ] ||
    fail "records left"
redis_is "$N" HGET "etrn:stats:$DOM" expired ||
    fail "expired counter: $(sb_redis HGET "etrn:stats:$DOM" expired), want $N"
[ "$(sb_sink_count customer)" = 0 ] || fail "$(sb_sink_count customer) delivered to the customer"
pass "nothing left on hold, no record; expired $N, none delivered"
