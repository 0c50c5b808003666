#!/bin/bash
# t-etrnd-lease-step - the lease lost in the middle of a step.  500
# messages fall due at once; once etrnd's expiry sweep has handed over a
# few DSNs, the lease is set to another instance's value.  The sweep stops
# at its next Redis command: no further DSN is submitted, no file deleted,
# no record dropped.  When the key is free again etrnd takes the lease back
# and finishes: every message is returned once, each sender gets exactly
# one DSN, and nothing is left on hold or in the index.
set -eu
. "${top_srcdir:-$(dirname "$0")/../..}/tests/lib/sandbox.sh"
sb_init leasestep
# The DSN smtpd answers through a relay, each DSN 30 ms late: the sweep
# of 500 (one EXP_BATCH) lasts 15 s however fast etrnd is.
GATE_PORT=$(free_port) GATE_PID=
SB_ETRND=1 SB_DSN_SERVER=none SB_EXTRA_CONF="etrnd_lease_time = 3s
dsn_server = inet:127.0.0.1:$GATE_PORT" sb_start
. "$SB_SRCDIR/tests/lib/common.sh"
trap 'rc=$?; set +e; [ -z "$GATE_PID" ] || kill "$GATE_PID"; sb_cleanup $rc' EXIT
dsn_gate 30
N=500	# one sweep (EXP_BATCH)
KEY=etrn:lease:mx.lab.test
# DSNs taken by the DSN smtpd
taken() { grep -c 'openetrn-dsn/smtpd.*: client=' "$PF_LOG" 2>/dev/null || true; }
taken_at_least() { [ "$(taken)" -ge "$1" ]; }

sb_redis HSET etrn:domain:dialup2.test hold_time 1h warn_time 0 >/dev/null
sleep 2		# domain_refresh = 1s
python3 - "$SMTP_PORT" "$N" <<'PY' || fail "send"
import smtplib, sys
port, n = int(sys.argv[1]), int(sys.argv[2])
with smtplib.SMTP("127.0.0.1", port) as s:
    for i in range(1, n + 1):
        s.sendmail(f"s{i}@example.org", [f"v{i}@dialup2.test"],
                   f"From: <s{i}@example.org>\r\nTo: <v{i}@dialup2.test>\r\n"
                   f"Subject: step {i}\r\n\r\nbody {i}\r\n")
PY
wait_for 60 hold_is $N || fail "held: $(sb_queue_count hold)"
wait_for 20 redis_is $N ZCARD etrn:held:dialup2.test || fail "records"

# All due at once; take the lease away once the sweep has begun.
sb_hold_ids | sed 's/^/0 /' | tr '\n' ' ' |
    xargs redis-cli -s "$REDIS_SOCK" ZADD etrn:expiry:mx.lab.test >/dev/null
wait_for 30 taken_at_least 3 || fail "the sweep did not start"
sb_redis SET "$KEY" "instance=0123456789abcdef0123456789abcdef pid=4242 host=clone started=$(date +%s)" \
    PX 60000 >/dev/null
wait_for 5 grep -q "lease $KEY: taken by another etrnd (pid 4242 on clone" \
    "$SB_LOG_DIR/etrnd.log" || fail "lease loss not logged"
sleep 1
t1=$(taken)
sleep 4
t2=$(taken)
[ "$t1" = "$t2" ] || fail "the sweep went on without the lease: $t1, then $t2 DSNs taken"
[ "$t2" -lt $N ] || fail "the sweep ended before the lease was lost ($t2 DSNs)"
redis_is $N ZCARD etrn:held:dialup2.test || fail "records dropped without the lease"
[ -z "$(sb_redis HGET etrn:stats:dialup2.test expired)" ] || fail "counted as expired"
[ "$(sb_queue_count hold)" -ge $N ] || fail "files deleted without the lease"
pass "lease lost mid-sweep: stopped after $t2 of $N DSNs; no file deleted, no record dropped"

sb_redis DEL "$KEY" >/dev/null
wait_for 5 grep -q "lease $KEY held again" "$SB_LOG_DIR/etrnd.log" ||
    fail "lease not taken again"
wait_for 90 redis_is 0 ZCARD etrn:held:dialup2.test || fail "not all expired"
wait_for 30 dsn_at_least $N || fail "want $N DSNs, got $(dsns | grep -c . || true)"
sleep 3
[ "$(dsns | grep -c .)" = $N ] || fail "$(dsns | grep -c .) DSNs for $N messages"
[ "$(dsns | xargs grep -h -m1 '^To:' | sort -u | wc -l)" = $N ] ||
    fail "not one DSN per sender"
wait_for 10 hold_is 0 || fail "left on hold: $(sb_queue_count hold)"
redis_is $N HGET etrn:stats:dialup2.test expired || fail "expired counter"
redis_is 0 ZCARD etrn:expiry:mx.lab.test || fail "expiry index"
pass "lease back: all $N returned once, one DSN per sender, nothing left"
