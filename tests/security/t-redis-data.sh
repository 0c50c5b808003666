#!/bin/bash
# t-redis-data - hostile data inside Redis.  Records, index members and
# flush requests are planted with queue IDs and domains such as "ALL",
# "-d", "A;id", 200 octets and a name holding LF; a record that is a
# string instead of a hash; a record hash of 100,000 fields; a held index
# of 100,000 members.  etrnd's runner (flush, tracking, expiry,
# reconcile) and etrnctl (list, reconcile) go over them (expiry reports
# the record without a token as unreadable, at most once per 30 s) while a normal
# message is released and another expired.  postsuper and postqueue are
# spies (a postfix_command_directory whose wrappers record argv and
# stdin, then run the real command): no call names a planted queue ID or
# anything but a valid queue ID where one belongs.  etrnd keeps running
# in bounded memory; at the end a Redis that wants a password etrnd does
# not have is reported at start with Redis's answer (WRONGPASS), and
# etrnd does not crash.
set -eu
. "${top_srcdir:-$(dirname "$0")/../..}/tests/lib/sandbox.sh"
sb_init sec-redisdata
BIN=$SB/bin SPY=$SB/spy
mkdir -p "$BIN" "$SPY"
for c in postconf postcat postkick sendmail postdrop; do
	ln -sf "/usr/sbin/$c" "$BIN/$c"
done
for c in postsuper postqueue; do
	cat >"$BIN/$c" <<EOW
#!/bin/sh
f=\$(mktemp "$SPY/$c.XXXXXX")
printf '%s\0' "\$@" >"\$f"
case " \$* " in
*" - "*)
	cat >"\$f.in"
	exec /usr/sbin/$c "\$@" <"\$f.in"
	;;
esac
exec /usr/sbin/$c "\$@"
EOW
	chmod 755 "$BIN/$c"
done
SB_ETRND=1 SB_EXTRA_CONF="postfix_command_directory = $BIN
flush_lock_time = 1s
reconcile_interval = 2s" sb_start
. "$SB_SRCDIR/tests/lib/common.sh"
. "$SB_SRCDIR/tests/security/seclib.sh"
H=mx.lab.test
ELOG=$SB/log/etrnd.log

sb_swaks -f s@example.org -t u1@dialup.test >/dev/null || fail "swaks u1"
sb_swaks -f s@example.org -t v1@dialup2.test >/dev/null || fail "swaks v1"
wait_for 20 hold_is 2 || fail "mail not held"
wait_for 10 redis_is 1 ZCARD etrn:held:dialup.test || fail "index u1"
wait_for 10 redis_is 1 ZCARD etrn:held:dialup2.test || fail "index v1"
U1=$(sb_redis ZRANGE etrn:held:dialup.test 0 -1) U1=${U1#"$H:"}
V1=$(sb_redis ZRANGE etrn:held:dialup2.test 0 -1) V1=${V1#"$H:"}

# Plant: copies of u1's record under hostile queue IDs, each a member of
# the held and expiry indexes (deadline long past), in state held and
# released.
long=$(printf 'Q%.0s' $(seq 200))
HOSTILE=("ALL" "-d" "A;id" "$long" $'AB12C\nDE34F' "-rALL" "hold"
    "../../x" "ABCDE FGHIJ" $'ABCDE\r')
plant() {
	sb_redis EVAL "
local t = redis.call('HGETALL', KEYS[1])
redis.call('DEL', KEYS[2])
redis.call('HSET', KEYS[2], unpack(t))
redis.call('HSET', KEYS[2], 'queueid', ARGV[1], 'state', ARGV[2])
redis.call('ZADD', KEYS[3], 1, ARGV[3])
redis.call('ZADD', KEYS[4], 1, ARGV[1])
redis.call('ZADD', KEYS[5], 1, ARGV[1])" 5 "etrn:msg:$H:$U1" \
	    "etrn:msg:$H:$1" etrn:held:dialup.test "etrn:expiry:$H" \
	    "etrn:$3:$H" "$1" "$2" "$H:$1" >/dev/null
}
for q in "${HOSTILE[@]}"; do
	plant "$q" held warn
done
plant 'B;rel' released released
# Wrong types: a string where a record hash is, a hash where the held
# index is, a list where the expiry index of another host is.
sb_redis SET "etrn:msg:$H:WRONGTYPE01" x >/dev/null
sb_redis ZADD etrn:held:dialup.test 1 "$H:WRONGTYPE01" >/dev/null
sb_redis ZADD "etrn:expiry:$H" 1 WRONGTYPE01 >/dev/null
sb_redis HSET etrn:held:dialup2.test x y >/dev/null 2>&1 || true
# Huge replies: a record of 100,000 fields, past its deadline; a held
# index of 100,000 members (no records) for x.dialup.test.
sb_redis EVAL "
for i = 1, 100000 do redis.call('HSET', KEYS[1], 'f' .. i, 'v' .. i) end
redis.call('HSET', KEYS[1], 'state', 'held', 'domain', 'dialup.test')
redis.call('ZADD', KEYS[2], 1, ARGV[1])
redis.call('ZADD', KEYS[3], 1, 'BIGHASH0001')
for i = 1, 100000 do
	redis.call('ZADD', KEYS[4], i, ARGV[2] .. string.format('%08d', i))
end" 4 "etrn:msg:$H:BIGHASH0001" etrn:held:dialup.test "etrn:expiry:$H" \
    etrn:held:x.dialup.test "$H:BIGHASH0001" "$H:ZZ" >/dev/null
# Flush requests naming hostile domains.
for d in "${HOSTILE[@]}" ".dialup.test" "@dialup.test"; do
	sb_redis XADD etrn:flush '*' domain "$d" sub 0 client 127.0.0.1 \
	    via "$H" time "$(date +%s)" >/dev/null
done
# (The HSET on etrn:held:dialup2.test failed: the key is a ZSET.  Make
# one wrong-type index of a domain without mail instead.)
sb_redis HSET etrn:held:dialup3.test x y >/dev/null
pass "planted ${#HOSTILE[@]} hostile queue IDs, wrong types, 100,000-field and 100,000-member keys, hostile flush requests"

# Drive etrnd: the huge index first, then the normal flush and expiry.
out=$(etrn x.dialup.test)
case $out in 25*|45*) ;; *) fail "ETRN x.dialup.test: $out" ;; esac
t0=$(date +%s)
out=$(etrn dialup.test)
case $out in 25*) ;; *) fail "ETRN dialup.test: $out" ;; esac
wait_for 40 sink_is customer 1 || fail "u1 not delivered"
sb_sink_grep customer 'u1@dialup.test' >/dev/null || fail "not u1"
ctl expire "$V1" >/dev/null || fail "etrnctl expire $V1"
wait_for 30 eval '[ "$(dsn_count)" = 1 ]' || fail "DSNs: $(dsn_count)"
wait_for 20 eval '[ "$(sb_queue_count hold)" = 0 ]' ||
    fail "left on hold: $(sb_hold_ids)"
wait_for 10 redis_is 0 EXISTS "etrn:msg:$H:$V1" || fail "v1 record left"
t1=$(date +%s)
pass "u1 released and delivered, v1 returned with one DSN, in $((t1 - t0)) s"

# Further runner passes (tracking, expiry, reconcile every 2 s) over
# the planted data; etrnctl reads it too.
n=$(grep -c 'reconcile' "$ELOG" || true)
wait_for 20 eval '[ "$(grep -c reconcile "$ELOG" || true)" -gt '"$n"' ]' || true
for d in dialup.test x.dialup.test dialup3.test; do
	rc=0
	timeout 30 "$OPENETRN_BUILDDIR/etrnctl/etrnctl" -c "$OPENETRN_CONF" \
	    list "$d" >"$SB/list.out" 2>&1 || rc=$?
	[ "$rc" -le 2 ] || fail "etrnctl list $d: exit $rc: $(head -c 300 "$SB/list.out")"
	! grep -q $'\r' "$SB/list.out" || fail "etrnctl list $d printed a CR"
done
rc=0
timeout 30 "$OPENETRN_BUILDDIR/etrnctl/etrnctl" -c "$OPENETRN_CONF" \
    reconcile >"$SB/rcn.out" 2>&1 || rc=$?
[ "$rc" -le 2 ] || fail "etrnctl reconcile: exit $rc: $(tail -c 300 "$SB/rcn.out")"
kill -0 "$ETRND_PID" || fail "etrnd died"
grep -q 'WRONGTYPE01: domain=dialup.test: record is not a hash; ignored' "$ELOG" ||
    fail "the flush did not report the string record"
wait_for 10 grep -q 'reconcile: held=' "$ELOG" || fail "no reconcile pass"
n=$(grep -c 'reconcile: redis failed' "$ELOG" || true)
[ "$n" = 0 ] || fail "$n reconcile passes stopped by the planted data"
grep -q 'BIGHASH0001: hold record unreadable (token): left as it is' "$ELOG" ||
    fail "the record without a token was not reported by expiry"
n=$(grep -c 'BIGHASH0001: hold record unreadable' "$ELOG" || true)
[ "$n" -le $((SECONDS / 30 + 2)) ] ||
    fail "the unreadable record was logged $n times in $SECONDS s"
n=$(grep -c 'WRONGTYPE Operation' "$ELOG" || true)
[ "$n" -le 1 ] || fail "$n Redis errors logged for the string record"
pass "etrnctl list and reconcile over the planted data: exit <= 2, no crash"

# What the spies saw: every queue ID passed (stdin line, postqueue -i
# argument) is a valid one, and none is a planted one.
python3 - "$SPY" "$PF_CONF" "$U1" "$V1" <<'PY' || fail "spy"
import os, re, sys
spy, conf, want = sys.argv[1], sys.argv[2].encode(), sys.argv[3:]
qid = re.compile(rb"[A-Za-z0-9]{5,32}")
bad, calls, ids, seen = [], 0, 0, set()
for name in sorted(os.listdir(spy)):
    if name.endswith(".in"):
        continue
    calls += 1
    argv = open(os.path.join(spy, name), "rb").read().split(b"\0")[:-1]
    for i, a in enumerate(argv):
        if a in (conf, b"-", b"hold", b"deferred") or re.fullmatch(rb"-[A-Za-z]", a):
            continue
        if i > 0 and argv[i - 1] == b"-i" and qid.fullmatch(a):
            ids += 1
            seen.add(a.decode())
            continue
        if a in (b"public", b"pickup", b"W") or argv[0:1] == [b"-j"]:
            continue
        bad.append((name, a))
    p = os.path.join(spy, name + ".in")
    if os.path.exists(p):
        for line in open(p, "rb").read().split(b"\n")[:-1]:
            ids += 1
            seen.add(line.decode("latin-1"))
            if not qid.fullmatch(line):
                bad.append((name + ".in", line))
if bad:
    sys.exit("bad arguments: %r" % bad[:10])
if not set(want) <= seen:
    sys.exit("the spies never saw %s" % sorted(set(want) - seen))
print("%d calls, %d queue IDs, all valid" % (calls, ids))
PY
pass "spy postsuper/postqueue: no planted or invalid queue ID reached a command"

# Bounded: etrnd's processes are alive and their peak RSS is modest.
for p in $(pgrep -P "$ETRND_PID") "$ETRND_PID"; do
	hwm=$(awk '/^VmHWM/ { print $2 }' "/proc/$p/status")
	[ "${hwm:-0}" -lt 262144 ] || fail "etrnd pid $p peak RSS $hwm kB"
done
! grep -q $'\r' "$ELOG" || fail "a CR in etrnd's log"
# Every line of etrnd's log is one of etrnd's (or the sandbox's mark).
bad=$(grep -cv -E '^(etrnd: |==== sandbox )' "$ELOG" || true)
[ "$bad" = 0 ] || fail "$bad etrnd log lines start oddly: $(grep -v -E '^(etrnd: |==== sandbox )' "$ELOG" | head -3)"
out=$(etrn dialup2.test)
case $out in 25*|45*) ;; *) fail "listener after the run: $out" ;; esac
pass "etrnd alive, peak RSS bounded, log lines intact, listener answers"

# A Redis that wants a password: etrnd reports it at start and lives.
"$SB_SANDBOX" stop "$SB" >/dev/null 2>&1 || true
"$SB_SANDBOX" redis-start "$SB" >/dev/null || fail "redis-start"
. "$SB/env"
sb_redis CONFIG SET requirepass 'right-one' >/dev/null
cp "$OPENETRN_CONF" "$SB/etc/wrongpw.conf"
echo "redis_password = wrong-one" >>"$SB/etc/wrongpw.conf"
rc=0
timeout 10 "$OPENETRN_BUILDDIR/etrnd/etrnd" -t -c "$SB/etc/wrongpw.conf" \
    >"$SB/t.out" 2>&1 || rc=$?
[ "$rc" -lt 124 ] || fail "etrnd -t: exit $rc: $(cat "$SB/t.out")"
"$OPENETRN_BUILDDIR/etrnd/etrnd" -f -c "$SB/etc/wrongpw.conf" \
    >"$SB/log/etrnd-pw.log" 2>&1 &
PWPID=$!
trap 'rc=$?; set +e; kill "$PWPID" 2>/dev/null; wait "$PWPID" 2>/dev/null; sb_cleanup $rc' EXIT
wait_for 15 grep -q 'redis AUTH: WRONGPASS' "$SB/log/etrnd-pw.log" ||
    fail "no AUTH error logged: $(head -c 500 "$SB/log/etrnd-pw.log")"
sleep 1
kill -0 "$PWPID" 2>/dev/null || {
	wait "$PWPID" && rc=0 || rc=$?
	[ "$rc" -lt 128 ] || fail "etrnd died of signal $((rc - 128))"
}
pass "wrong Redis password: $(grep -m1 'redis AUTH: WRONGPASS' "$SB/log/etrnd-pw.log" | cut -c1-150)"
