#!/bin/bash
# t-limits - etrnd's listener under bad input and load: overlong lines,
# bad characters and pipelined garbage are answered in order; too many
# errors, a client trickling bytes, and clients beyond etrnd_max_clients
# are cut off while other clients keep working; running out of file
# descriptors pauses accept() and the listener lives on; Redis down makes
# ETRN answer 458 and Redis back makes it work again.  Needs no Postfix:
# the null queue backend, its own Redis.
set -eu

# shellcheck source=../lib/standalone.sh
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/standalone.sh"
etrnd_pid=
sa_init limits etrnd.log etrnd_pid
etrnd_bin=$builddir/etrnd/etrnd
[ -x "$etrnd_bin" ] || skip "$etrnd_bin not built"
command -v prlimit >/dev/null || skip "no prlimit"

# smtp SCRIPT - run a small Python client (see below) and print its lines
smtp() {
	python3 - "$port" "$@" <<'PY'
import socket, sys, time
port, mode = int(sys.argv[1]), sys.argv[2]
def conn():
    s = socket.create_connection(("127.0.0.1", port), 5)
    s.settimeout(5)
    return s
def lines(s, n, timeout=5):
    s.settimeout(timeout)
    buf = b""
    try:
        while buf.count(b"\n") < n:
            d = s.recv(65536)
            if not d:
                break
            buf += d
    except socket.timeout:
        pass
    return buf.decode("latin-1").splitlines()
if mode == "garbage":
    s = conn(); lines(s, 1)
    s.sendall(b"EHLO x\r\n" + b"A" * 700 + b"\r\nNOOP\r\nET\x00RN a\r\n"
              b"ETRN dialup.test\r\nQUIT\r\n")
    for l in lines(s, 10): print(l)
elif mode == "errors":
    s = conn(); lines(s, 1)
    s.sendall(b"FOO\r\nBAR\r\nBAZ\r\nNOOP\r\n")
    for l in lines(s, 5): print(l)
    print("closed" if s.recv(10) == b"" else "open")
elif mode == "trickle":
    s = conn(); lines(s, 1); t0 = time.time()
    try:
        for i in range(40):
            s.sendall(b"N"); time.sleep(0.25)
    except OSError:
        pass
    out = lines(s, 1, 1)
    print("cut after %.1f s: %s" % (time.time() - t0, out[-1] if out else ""))
elif mode == "full":
    n = int(sys.argv[3])
    held = [conn() for i in range(n)]
    for s in held: lines(s, 1)
    extra = conn(); print("extra:", lines(extra, 1)[0])
    s = held[0]; s.sendall(b"EHLO x\r\nETRN dialup.test\r\n")
    print("held:", lines(s, 5)[-1])
elif mode == "fds":
    socks = []
    for i in range(int(sys.argv[3])):
        try:
            socks.append(socket.create_connection(("127.0.0.1", port), 2))
        except OSError as e:
            print("connect failed:", e); break
    time.sleep(2)
    for s in socks: s.close()
    time.sleep(1.5)
    s = conn(); print("after:", lines(s, 1)[0])
    s.sendall(b"EHLO x\r\nETRN dialup.test\r\nQUIT\r\n")
    print("after:", lines(s, 7)[-2])
elif mode == "etrn":
    s = conn(); lines(s, 1)
    s.sendall(b"EHLO x\r\nETRN dialup.test\r\nQUIT\r\n")
    print(lines(s, 7)[-2])
PY
}

start_redis
rcli SADD etrn:domains dialup.test >/dev/null
rcli ZADD etrn:held:dialup.test 1 mx.test:AAAAAAAA01 >/dev/null
make_secret "$T/hold.secret"
port=$(free_port)
cat >"$T/etrnd.conf" <<CONF
hostname = mx.test
redis_server = unix:$T/redis.sock
redis_timeout = 500ms
etrnd_listen = inet:127.0.0.1:$port
etrn_allow = 127.0.0.0/8
etrnd_max_clients = 20
etrnd_max_per_client = 0
etrnd_max_errors = 3
etrnd_timeout = 2s
flush_lock_time = 1s
domain_refresh = 1s
mta = null
null_backend_log = $T/null.log
user = $(id -un)
hold_secret_file = $T/hold.secret
CONF
# A small descriptor limit, so that 60 clients exhaust it.
prlimit --nofile=48 "$etrnd_bin" -f -c "$T/etrnd.conf" >"$T/etrnd.log" 2>&1 &
etrnd_pid=$!
wait_for 10 grep -q 'dial-up domains loaded' "$T/etrnd.log" || die "etrnd did not start"

out=$(smtp garbage)
want='250-mx.test|250-ETRN|250-PIPELINING|250 ENHANCEDSTATUSCODES|500 5.5.6 Error: line too long|250 2.0.0 OK|500 5.5.2 Error: bad characters in command|253 OK, 1 pending message for node dialup.test started|221 2.0.0 Bye'
got=$(printf '%s\n' "$out" | paste -sd'|')
[ "$got" = "$want" ] && pass "pipelined garbage answered in order" ||
    fail "garbage: got '$got'"

out=$(smtp errors)
case $out in
*"421 4.7.0 Error: too many errors"*closed) pass "cut off after 3 errors" ;;
*) fail "errors: $out" ;;
esac

out=$(smtp trickle)
case $out in
"cut after "[23].*"421 4.4.2"*) pass "a client trickling bytes is cut off at the deadline ($out)" ;;
*) fail "trickle: $out" ;;
esac

out=$(smtp full 20)
case $out in
*"extra: 421 4.3.2 mx.test Error: too many connections"*"held: 25"[0-9]*)
	pass "beyond etrnd_max_clients: 421; the others keep working" ;;
*) fail "full: $out" ;;
esac

sed -i 's/^etrnd_max_clients = 20/etrnd_max_clients = 200/' "$T/etrnd.conf"
kill -HUP "$etrnd_pid"
wait_for 5 grep -q "reloaded $T/etrnd.conf" "$T/etrnd.log" || fail "reload"
out=$(smtp fds 60)
if grep -q 'pausing the listener' "$T/etrnd.log" &&
    printf '%s\n' "$out" | grep -q '^after: 220 ' &&
    printf '%s\n' "$out" | grep -q '^after: 25[0-3] '; then
	pass "out of descriptors: accept paused, the listener lives on"
else
	fail "fds: $out"
fi

stop_pid "$redis_pid"
redis_pid=
out=$(smtp etrn)
[ "$out" = "458 Unable to queue messages for node dialup.test" ] &&
    pass "Redis down: 458" || fail "redis down: $out"
start_redis
rcli SADD etrn:domains dialup.test >/dev/null
rcli ZADD etrn:held:dialup.test 1 mx.test:AAAAAAAA01 >/dev/null
sleep 2
wait_for 15 sh -c "python3 '$srcdir/tests/lib/etrn.py' $port dialup.test | grep -q '^25[03] '" ||
    fail "Redis back: ETRN still fails"
pass "Redis back: ETRN works again"
kill -0 "$etrnd_pid" || fail "etrnd died"
echo "# $npass passed, $nfail failed"
