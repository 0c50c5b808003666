#!/bin/bash
# t-etrn-replies - replies of etrnd's listener that no other test pins:
# 1. a second ETRN for a domain within flush_lock_time gets "250 OK,
#    queuing for node <node> already started (<n> pending)", on the same
#    connection and on another (node as typed), and queues nothing (the
#    stream etrn:flush keeps one entry); another domain is not locked; once
#    the marker etrn:flushing:<domain> has expired an ETRN gets 253 again.
# 2. the line policy of docs/etrnd.md and etrnd(8): a line ends with CRLF
#    or with LF alone (bare LF: the same replies as CRLF, also mixed in one
#    pipelined write); a CR anywhere else in a line, also right before the
#    CRLF, makes the whole line one "500 5.5.2 Error: bad characters in
#    command" (a bare CR never ends a line: "ETRN a CR ETRN b CRLF"
#    queues nothing); a CR and its LF arriving in two writes are one CRLF.
# Held mail is of another MX host (other.test) sharing the Redis server:
# counted, not touched by this etrnd's runner.  Needs no Postfix: the
# null queue backend, its own Redis.
set -eu

# shellcheck source=../lib/standalone.sh
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/standalone.sh"
etrnd_pid=
sa_init replies etrnd.log etrnd_pid
etrnd_bin=$builddir/etrnd/etrnd
[ -x "$etrnd_bin" ] || skip "$etrnd_bin not built"

# client MODE - a small Python client; prints the replies, one a line
client() {
	python3 - "$port" "$@" <<'PY'
import socket, sys, time
port, mode = int(sys.argv[1]), sys.argv[2]
s = socket.create_connection(("127.0.0.1", port), 10)
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
s.settimeout(10)
buf = b""
def line():
    global buf
    while b"\r\n" not in buf:
        d = s.recv(4096)
        if not d:
            raise SystemExit("connection closed; have %r" % buf)
        buf += d
    l, buf = buf.split(b"\r\n", 1)
    return l.decode("latin-1")
def reply():
    # the last line of a (multi-line) reply
    l = line()
    while len(l) > 3 and l[3] == "-":
        l = line()
    return l
def send(data, n=1):
    s.sendall(data)
    for i in range(n):
        print(reply())
reply()                                 # greeting
if mode == "lock":
    send(b"EHLO customer.test\r\n")
    send(b"ETRN dialup.test\r\n")
    send(b"ETRN dialup.test\r\n")
elif mode == "lock2":
    send(b"EHLO customer.test\r\n")
    send(b"ETRN DialUp.TEST.\r\n")
    send(b"ETRN dialup2.test\r\n")
elif mode == "again":
    send(b"EHLO customer.test\r\n")
    send(b"ETRN dialup.test\r\n")
elif mode == "lf":
    send(b"EHLO customer.test\n")
    send(b"NOOP\n")
    send(b"ETRN dialup3.test\n")
    send(b"NOOP\nRSET\r\nNOOP\n", 3)
elif mode == "cr":
    send(b"EHLO customer.test\r\n")
    send(b"NOOP\rNOOP\r\n")
    send(b"NOOP\r\r\n")
    send(b"ETRN dialup4.test\rETRN dialup4.test\r\n")
    send(b"NOOP\r\n")
    s.sendall(b"NO"); time.sleep(0.2); s.sendall(b"OP\r")
    time.sleep(0.2); send(b"\n")
send(b"QUIT\r\n")
PY
}

# marker_gone DOMAIN - true once etrn:flushing:DOMAIN has expired
marker_gone() {
	[ "$(rcli EXISTS "etrn:flushing:$1")" = 0 ]
}

# expect DESC GOT WANT - pass when the replies are exactly WANT
expect() {
	if [ "$2" = "$3" ]; then
		pass "$1"
	else
		fail "$1: got"$'\n'"$2"$'\n'"want"$'\n'"$3"
	fi
}

start_redis
rcli SADD etrn:domains dialup.test dialup2.test dialup3.test dialup4.test \
    >/dev/null
rcli ZADD etrn:held:dialup.test 1 other.test:AAAAAAAA01 \
    2 other.test:AAAAAAAA02 >/dev/null
rcli ZADD etrn:held:dialup2.test 1 other.test:AAAAAAAA03 >/dev/null
rcli ZADD etrn:held:dialup3.test 1 other.test:AAAAAAAA04 >/dev/null
rcli ZADD etrn:held:dialup4.test 1 other.test:AAAAAAAA05 >/dev/null
make_secret "$T/hold.secret"
port=$(free_port)
# flush_lock_time 10 s: long enough for the second ETRN under load, short
# enough to wait for its end.
cat >"$T/etrnd.conf" <<CONF
hostname = mx.test
redis_server = unix:$T/redis.sock
etrnd_listen = inet:127.0.0.1:$port
etrn_allow = 127.0.0.0/8
etrnd_max_errors = 10
flush_lock_time = 10s
domain_refresh = 1s
mta = null
null_backend_log = $T/null.log
user = $(id -un)
hold_secret_file = $T/hold.secret
CONF
"$etrnd_bin" -f -c "$T/etrnd.conf" >"$T/etrnd.log" 2>&1 &
etrnd_pid=$!
wait_for 10 grep -q 'dial-up domains loaded' "$T/etrnd.log" ||
    die "etrnd did not start"

# 1. flush_lock_time
expect "a second ETRN within flush_lock_time: 250 already started" \
    "$(client lock)" "250 ENHANCEDSTATUSCODES
253 OK, 2 pending messages for node dialup.test started
250 OK, queuing for node dialup.test already started (2 pending)
221 2.0.0 Bye"
expect "one flush request queued for the two" "$(rcli XLEN etrn:flush)" 1
ttl=$(rcli TTL etrn:flushing:dialup.test)
if [ "$ttl" -ge 1 ] && [ "$ttl" -le 10 ]; then
	pass "marker etrn:flushing:dialup.test expires in $ttl s (at most flush_lock_time)"
else
	fail "marker TTL $ttl"
fi
expect "another connection, another spelling: 250 with the node as typed; another domain: 253" \
    "$(client lock2)" "250 ENHANCEDSTATUSCODES
250 OK, queuing for node DialUp.TEST. already started (2 pending)
253 OK, 1 pending message for node dialup2.test started
221 2.0.0 Bye"
expect "only dialup2.test's request added" "$(rcli XLEN etrn:flush)" 2
wait_for 15 marker_gone dialup.test || fail "the marker did not expire"
expect "after the marker expired: 253 again" "$(client again)" \
    "250 ENHANCEDSTATUSCODES
253 OK, 2 pending messages for node dialup.test started
221 2.0.0 Bye"
expect "a new flush request queued" "$(rcli XLEN etrn:flush)" 3

# 2. bare LF ends a line; CR does not, and is refused inside one
expect "bare LF ends a line: the same replies as CRLF, pipelined in order" \
    "$(client lf)" "250 ENHANCEDSTATUSCODES
250 2.0.0 OK
253 OK, 1 pending message for node dialup3.test started
250 2.0.0 OK
250 2.0.0 OK
250 2.0.0 OK
221 2.0.0 Bye"
expect "bare CR inside a line or before CRLF: one 500 per line; CR LF in two writes is one CRLF" \
    "$(client cr)" "250 ENHANCEDSTATUSCODES
500 5.5.2 Error: bad characters in command
500 5.5.2 Error: bad characters in command
500 5.5.2 Error: bad characters in command
250 2.0.0 OK
250 2.0.0 OK
221 2.0.0 Bye"
expect "nothing queued for the line with a bare CR" \
    "$(rcli XLEN etrn:flush)" 4
expect "no marker for dialup4.test" \
    "$(rcli EXISTS etrn:flushing:dialup4.test)" 0
alive "$etrnd_pid" || fail "etrnd died"
echo "# $npass passed, $nfail failed"
