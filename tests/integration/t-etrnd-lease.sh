#!/bin/bash
# t-etrnd-lease - one etrnd per host identity.  Two MX sandboxes (two
# private Postfix queues) share one Redis and one hostname.  While the
# first etrnd runs, the second refuses to start (exit 1, in the foreground
# and as a daemon), naming the first's pid and start time, before it
# listens and before it touches a record.  When the lease is taken from
# the first (deleted and set by another instance), it releases, tracks
# and expires nothing, and leaves the other's lease alone; once the key
# is free it takes it again and its held mail is released by the ETRN
# made meanwhile and returned with one DSN each.  After the first is
# killed with SIGKILL its lease expires after etrnd_lease_time; an etrnd
# started again at once on the same machine takes a dead pid's lease over.
# With Redis down at start etrnd starts and waits: it takes the lease when
# Redis is back, or stops (exit 1) when it finds another holder then.  A
# clean stop deletes the lease; etrnd -t and etrnctl never take it.
set -eu
. "${top_srcdir:-$(dirname "$0")/../..}/tests/lib/sandbox.sh"
sb_init lease
LEASE_CONF="etrnd_lease_time = 3s"
SB_ETRND=1 SB_EXTRA_CONF="$LEASE_CONF" sb_start
. "$SB_SRCDIR/tests/lib/common.sh"
H=mx.lab.test
KEY=etrn:lease:$H
ETRND=$OPENETRN_BUILDDIR/etrnd/etrnd

B=$(mktemp -d "${TMPDIR:-/tmp}/openetrn-test.lease-b.XXXX")
chmod 755 "$B"
b_pid=
stop_b() {
	[ -n "$b_pid" ] && kill "$b_pid" 2>/dev/null && wait "$b_pid" 2>/dev/null
	"$SB_SANDBOX" stop "$B" >/dev/null 2>&1 || true
	[ "${KEEP_SANDBOX:-0}" = 1 ] || rm -rf "$B"
}
trap 'rc=$?; set +e; [ $rc = 0 ] || sb_log_tail "$B/etrnd.log" 30; stop_b; sb_cleanup $rc' EXIT
# B: a second Postfix (and etrn-milter) on the ports above A's redis port,
# with A's Redis and A's hostname, and no etrnd yet.
b_smtp=$((REDIS_PORT + 1))
b_etrnd_port=$((b_smtp + 4))
SMTP_PORT=$b_smtp SINK_PORT=$((b_smtp + 1)) REINJECT_PORT=$((b_smtp + 2)) \
    CUSTOMER_PORT=$((b_smtp + 3)) ETRND_PORT=$b_etrnd_port \
    POLICY_PORT=$((b_smtp + 5)) DSN_PORT=$((b_smtp + 6)) \
    REDIS_PORT=$((b_smtp + 7)) SB_REDIS_SOCK=$REDIS_SOCK SB_HOSTNAME=$H \
    SB_EXTRA_CONF="$LEASE_CONF" \
    "$SB_SANDBOX" start "$B" >"$B.start.log" 2>&1 || {
	cat "$B.start.log"; fail "second MX"; }
rm -f "$B.start.log"
BCONF=$B/etc/openetrn.conf
listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# A's etrnd holds the lease under its pid.
a_pid=$ETRND_PID
wait_for 5 sh -c "redis-cli -s '$REDIS_SOCK' GET '$KEY' | grep -q ' pid=$a_pid '" ||
    fail "lease: $(sb_redis GET "$KEY")"
ttl=$(sb_redis PTTL "$KEY")
[ "$ttl" -gt 0 ] && [ "$ttl" -le 3000 ] || fail "lease TTL $ttl ms"
pass "the first etrnd holds $KEY (pid $a_pid, TTL ${ttl} ms)"

# Mail held on A: two for ETRN, three returned at their 12 s deadline (a
# second etrnd that ran would drop some of them as "not in the queue").
sb_redis HSET etrn:domain:dialup2.test hold_time 12 warn_time 0 >/dev/null
sleep 2		# domain_refresh = 1s
for i in 1 2; do
	send --from s@example.org --to "u$i@dialup.test" >/dev/null || fail "send $i"
done
for i in 1 2 3; do
	send --from "x$i@example.org" --to "v$i@dialup2.test" >/dev/null ||
	    fail "send expiry $i"
done
sent=$(date +%s)
wait_for 10 hold_is 5 || fail "not held: $(sb_queue_count hold)"
wait_for 10 eval '[ "$(sb_redis KEYS "etrn:msg:$H:*" | grep -c .)" = 5 ]' ||
    fail "records: $(sb_redis KEYS "etrn:msg:$H:*")"
records=$(sb_redis KEYS "etrn:msg:$H:*" | sort)
expiry=$(sb_redis ZRANGE "etrn:expiry:$H" 0 -1 WITHSCORES)

# The second etrnd, same hostname, B's queue: refused, exit 1, at once.
rc=0
t0=$(date +%s%N)
timeout 15 "$ETRND" -f -c "$BCONF" >"$B/second.log" 2>&1 || rc=$?
ms=$((($(date +%s%N) - t0) / 1000000))
[ "$rc" = 1 ] || fail "second etrnd: exit $rc, want 1: $(cat "$B/second.log")"
grep -q "error: another etrnd serves host $H: pid $a_pid on .* since [0-9]\{4\}-" \
    "$B/second.log" || fail "error does not name pid $a_pid: $(cat "$B/second.log")"
grep -q "refusing to start" "$B/second.log" || fail "no refusal"
grep -q "starting:" "$B/second.log" && fail "the second etrnd started"
listening "$b_etrnd_port" && fail "the second etrnd's listener is up"
sb_redis GET "$KEY" | grep -q " pid=$a_pid " || fail "lease changed hands"
sed 's/^/  /' "$B/second.log"
pass "the second etrnd refused to start in $ms ms, naming pid $a_pid and its start"

# The same as a daemon: the error on stderr, exit 1, nothing detached.
sed "\$a etrnd_pid_file = $B/bg.pid" "$BCONF" >"$B/bg.conf"
rc=0
timeout 15 "$ETRND" -c "$B/bg.conf" >"$B/bg.out" 2>"$B/bg.err" || rc=$?
if [ -s "$B/bg.pid" ]; then
	kill "$(cat "$B/bg.pid")" 2>/dev/null || true
	fail "the daemon detached (exit $rc)"
fi
[ "$rc" = 1 ] || fail "daemon: exit $rc, want 1: $(cat "$B/bg.err")"
grep -q "^etrnd: error: another etrnd serves host $H: pid $a_pid on " \
    "$B/bg.err" || fail "daemon stderr: $(cat "$B/bg.err")"
pass "as a daemon too: exit 1, the error on stderr"

[ "$(sb_redis KEYS "etrn:msg:$H:*" | sort)" = "$records" ] ||
    fail "records changed: $(sb_redis KEYS "etrn:msg:$H:*")"
[ "$(sb_redis ZRANGE "etrn:expiry:$H" 0 -1 WITHSCORES)" = "$expiry" ] ||
    fail "expiry index changed"
hold_is 5 || fail "hold queue: $(sb_queue_count hold)"
pass "no record of the first etrnd changed; its 5 messages are still held"

# etrnctl takes no lease: it works with the refused host's configuration.
"$OPENETRN_BUILDDIR/etrnctl/etrnctl" -c "$BCONF" status >"$B/ctl.out" 2>&1 ||
    fail "etrnctl status: $(cat "$B/ctl.out")"
grep -q "dialup.test" "$B/ctl.out" || fail "etrnctl status: $(cat "$B/ctl.out")"
sb_redis GET "$KEY" | grep -q " pid=$a_pid " || fail "etrnctl touched the lease"
pass "etrnctl is not affected by the lease"

# The lease taken from under the running etrnd: another instance's value.
# It stops at its next renewal (within a third of the TTL) and touches
# nothing: no release on ETRN, no DSN at the deadline; the other's lease
# stays as set.
FAKE="instance=0123456789abcdef0123456789abcdef pid=4242 host=clone started=$(date +%s)"
sb_redis SET "$KEY" "$FAKE" PX 60000 >/dev/null
wait_for 5 grep -q "lease $KEY: taken by another etrnd (pid 4242 on clone since " \
    "$SB_LOG_DIR/etrnd.log" || fail "lease loss not logged"
out=$(etrn dialup.test)
[ "$out" = "253 OK, 2 pending messages for node dialup.test started" ] ||
    fail "ETRN: $out"
# Past the 12 s deadlines of dialup2.test, and a few tracking passes.
left=$((sent + 15 - $(date +%s)))
[ "$left" -le 0 ] || sleep "$left"
[ "$(sb_redis GET "$KEY")" = "$FAKE" ] || fail "lease overwritten: $(sb_redis GET "$KEY")"
[ "$(sb_redis KEYS "etrn:msg:$H:*" | sort)" = "$records" ] ||
    fail "records changed without the lease: $(sb_redis KEYS "etrn:msg:$H:*")"
hold_is 5 || fail "without the lease: hold queue $(sb_queue_count hold)"
sink_is customer 0 || fail "released without the lease"
[ "$(dsn_count)" = 0 ] || fail "DSN sent without the lease"
pass "lease taken by another: no release, no expiry, its lease left alone"

# The key free again: taken again, and the ETRN made meanwhile is served.
sb_redis DEL "$KEY" >/dev/null
wait_for 5 grep -q "lease $KEY held again" "$SB_LOG_DIR/etrnd.log" ||
    fail "lease not taken again"
sb_redis GET "$KEY" | grep -q " pid=$a_pid " || fail "lease: $(sb_redis GET "$KEY")"
wait_for 20 sink_is customer 2 || fail "customer: $(sb_sink_count customer)"
wait_for 10 redis_is 0 ZCARD etrn:held:dialup.test || fail "dialup.test index"
redis_is 2 HGET etrn:stats:dialup.test flushed || fail "flushed"
wait_for 30 redis_is 0 ZCARD etrn:held:dialup2.test || fail "not expired"
wait_for 10 redis_is 3 HGET etrn:stats:dialup2.test expired || fail "expired"
wait_for 15 eval '[ "$(dsn_count)" = 3 ]' || fail "DSNs: $(dsn_count), want 3"
wait_for 10 hold_is 0 || fail "hold queue: $(sb_queue_count hold)"
grep -q "record dropped" "$SB_LOG_DIR/etrnd.log" "$B/second.log" &&
    fail "a record was dropped"
pass "the first etrnd then releases on ETRN and returns at the deadline (3 DSNs)"

# SIGKILL: the lease stays until its TTL runs out; then B's etrnd starts.
kids=$(ps -o pid= --ppid "$a_pid" || true)
kill -KILL "$a_pid"
for k in $kids; do kill -KILL "$k" 2>/dev/null || true; done
redis_is 1 EXISTS "$KEY" || fail "lease gone at once after SIGKILL"
wait_for 5 redis_is 0 EXISTS "$KEY" || fail "stale lease did not expire"
pass "the killed etrnd's lease expired after its TTL"

# A lease value another host (or anyone with Redis access) wrote: 1 MiB,
# with CR/LF and forged fields.  Refused as another's lease, exit 1, at
# once, in one bounded log line: no field is copied whole, no line forged.
big=$(printf 'x%.0s' $(seq 4096))
hostile="instance=$big"$'\r\n'"etrnd: forged line pid=1 host=$big started=-1"
for _ in $(seq 8); do hostile=$hostile$hostile; done
printf '%s' "$hostile" | sb_redis -x SET "$KEY" >/dev/null	# too big for argv
sb_redis PEXPIRE "$KEY" 60000 >/dev/null
[ "$(sb_redis STRLEN "$KEY")" -ge 1048576 ] || fail "hostile lease not stored"
rc=0
timeout 15 "$ETRND" -f -c "$BCONF" >"$B/hostile.log" 2>&1 || rc=$?
[ "$rc" = 1 ] || fail "hostile lease: exit $rc, want 1: $(head -c 2000 "$B/hostile.log")"
grep -q "refusing to start" "$B/hostile.log" || fail "hostile lease: no refusal"
grep -q "^etrnd: forged line" "$B/hostile.log" && fail "hostile lease: a log line forged"
longest=$(awk '{ if (length($0) > n) n = length($0) } END { print n + 0 }' "$B/hostile.log")
[ "$longest" -le 1024 ] || fail "hostile lease: a log line of $longest octets"
sb_redis DEL "$KEY" >/dev/null
pass "a 1 MiB lease value with CR/LF: refused, exit 1, longest log line $longest octets"

# Redis down at start: etrnd starts and waits; back with another's lease
# in it (kept in the AOF): that is the refusal at start, postponed.
sb_redis SET "$KEY" "$FAKE" PX 60000 >/dev/null
"$SB_SANDBOX" redis-stop "$SB" >/dev/null
"$ETRND" -f -c "$BCONF" >"$B/down.log" 2>&1 &
b_pid=$!
wait_for 5 grep -q "lease $KEY: redis unreachable; starting" "$B/down.log" ||
    fail "no warning: $(cat "$B/down.log")"
wait_for 5 listening "$b_etrnd_port" || fail "not started with Redis down"
"$SB_SANDBOX" redis-start "$SB" >/dev/null
wait_for 15 grep -q "^etrnd: stopping" "$B/down.log" ||
    fail "did not stop: $(cat "$B/down.log")"
rc=0
wait "$b_pid" || rc=$?
b_pid=
[ "$rc" = 1 ] || fail "postponed refusal: exit $rc, want 1"
grep -q "error: another etrnd serves host $H: pid 4242 on clone since " \
    "$B/down.log" || fail "postponed refusal: $(cat "$B/down.log")"
pass "Redis down at start: started, then stopped (exit 1) on another's lease"

# Redis down at start, back with the key free: the lease is taken.
sb_redis DEL "$KEY" >/dev/null
"$SB_SANDBOX" redis-stop "$SB" >/dev/null
"$ETRND" -f -c "$BCONF" >"$B/etrnd.log" 2>&1 &
b_pid=$!
wait_for 5 grep -q "redis unreachable; starting" "$B/etrnd.log" ||
    fail "no warning: $(cat "$B/etrnd.log")"
sleep 2
"$SB_SANDBOX" redis-start "$SB" >/dev/null
wait_for 10 sh -c "redis-cli -s '$REDIS_SOCK' GET '$KEY' | grep -q ' pid=$b_pid '" ||
    fail "new etrnd: lease $(sb_redis GET "$KEY")"
grep -q "lease $KEY taken" "$B/etrnd.log" || fail "no 'taken' line"
wait_for 5 listening "$b_etrnd_port" || fail "B's listener"
sleep 5		# longer than the TTL: renewed meanwhile
kill -0 "$b_pid" || fail "new etrnd died"
sb_redis GET "$KEY" | grep -q " pid=$b_pid " || fail "lease not renewed"
pass "a new etrnd with the same hostname started and renews the lease"

# Killed with SIGKILL and started again at once on the same machine: its
# pid is gone, so the new etrnd takes the lease over without waiting.
old_pid=$b_pid
kids=$(ps -o pid= --ppid "$b_pid" || true)
kill -KILL "$b_pid"
for k in $kids; do kill -KILL "$k" 2>/dev/null || true; done
wait "$b_pid" 2>/dev/null || true
wait_for 5 eval '! listening "$b_etrnd_port"' || fail "old listener stays"
sb_redis GET "$KEY" | grep -q " pid=$old_pid " || fail "lease: $(sb_redis GET "$KEY")"
"$ETRND" -f -c "$BCONF" >"$B/etrnd2.log" 2>&1 &
b_pid=$!
wait_for 5 listening "$b_etrnd_port" || fail "restart: $(cat "$B/etrnd2.log")"
grep -q "warning: lease $KEY: taken over from pid $old_pid on .*, which no longer runs" \
    "$B/etrnd2.log" || fail "no take-over line: $(cat "$B/etrnd2.log")"
sb_redis GET "$KEY" | grep -q " pid=$b_pid " || fail "lease: $(sb_redis GET "$KEY")"
pass "restarted at once after SIGKILL: the dead pid's lease taken over"

kill -TERM "$b_pid"
rc=0
wait "$b_pid" || rc=$?
b_pid=
[ "$rc" = 0 ] || fail "new etrnd exited $rc"
redis_is 0 EXISTS "$KEY" || fail "lease not released at a clean stop"
grep -q "lease $KEY released" "$B/etrnd2.log" || fail "no 'released' line"
"$ETRND" -t -c "$BCONF" >/dev/null || fail "etrnd -t"
redis_is 0 EXISTS "$KEY" || fail "etrnd -t took the lease"
pass "a clean stop releases the lease; etrnd -t does not take it"
