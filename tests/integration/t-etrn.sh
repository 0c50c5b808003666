#!/bin/bash
# t-etrn - ETRN to etrnd's own listener: real counts (253), nothing held
# (251), not a dial-up domain or a client outside `allow` (459), bad
# syntax (501), mail commands refused; held mail reaches the customer's
# server after ETRN, also with fetchmail --protocol ETRN as the client.
set -eu
. "${top_srcdir:-$(dirname "$0")/../..}/tests/lib/sandbox.sh"
sb_init etrn
SB_ETRND=1 SB_EXTRA_CONF="flush_lock_time = 1s" sb_start
. "$SB_SRCDIR/tests/lib/common.sh"

for i in 1 2 3; do
	sb_swaks -f s@example.org -t "u$i@dialup.test" >/dev/null || fail "swaks"
done
sb_swaks -f s@example.org -t v@dialup2.test >/dev/null || fail "swaks"
wait_for 10 hold_is 4 || fail "mail not held"

out=$(etrn xn--bcher-kva.test example.com - 'bad domain')
printf '%s\n' "$out" | sed -n 1p | grep -qx '251 OK, no messages waiting for node xn--bcher-kva.test' ||
    fail "251: $out"
printf '%s\n' "$out" | sed -n 2p | grep -qx '459 4.7.1 example.com: ETRN not allowed here' ||
    fail "459 unknown: $out"
[ "$(printf '%s\n' "$out" | grep -c '^501 ')" = 2 ] || fail "501: $out"
pass "251 nothing held, 459 not a dial-up domain, 501 bad syntax"

sb_redis HSET etrn:domain:dialup2.test allow 192.0.2.0/24 >/dev/null
sleep 2		# domain_refresh = 1s
out=$(etrn dialup2.test)
case $out in
"459 4.7.1 dialup2.test: ETRN not allowed here") ;;
*) fail "459 allow: $out" ;;
esac
sleep 2
hold_is 4 || fail "something was released for an unauthorized client"
[ "$(sb_redis XLEN etrn:flush)" = 0 ] || fail "a flush was queued"
pass "459 for a client outside allow; nothing released"

out=$(etrn dialup.test)
[ "$out" = "253 OK, 3 pending messages for node dialup.test started" ] ||
    fail "253: $out"
wait_for 20 sink_is customer 3 || fail "customer got $(sb_sink_count customer) of 3"
wait_for 10 redis_is 0 ZCARD etrn:held:dialup.test ||
    fail "index not emptied"
wait_for 10 hold_is 1 || fail "hold queue: $(sb_queue_count hold)"
redis_is 3 HGET etrn:stats:dialup.test flushed || fail "flushed counter"
redis_is 0 HGET etrn:stats:dialup.test held || fail "held counter"
redis_is 127.0.0.1 HGET etrn:stats:dialup.test last_etrn_client || fail "last_etrn_client"
[ -z "$(sb_redis KEYS 'etrn:msg:*' | grep -v "$(sb_hold_ids)")" ] ||
    fail "records of delivered mail left"
[ "$(sb_redis ZCARD etrn:held:dialup2.test)" = 1 ] || fail "dialup2 index"
pass "253 with the right count; 3 delivered to the customer; index and counters follow"

for i in 4 5; do
	sb_swaks -f s@example.org -t "u$i@dialup.test" >/dev/null || fail "swaks"
done
wait_for 10 hold_is 3 || fail "new mail not held"
sleep 1.5	# flush_lock_time
out=$(cd "$SB" && HOME=$SB fetchmail --nosyslog --fetchmailrc /dev/null -v \
    --protocol ETRN --fetchdomains dialup.test --service "$ETRND_PORT" \
    127.0.0.1 2>&1) || true
printf '%s\n' "$out" | grep -q '253 OK, 2 pending messages for node dialup.test started' ||
    fail "fetchmail: $out"
wait_for 20 sink_is customer 5 || fail "fetchmail ETRN: customer has $(sb_sink_count customer)"
pass "fetchmail --protocol ETRN releases the rest"

out=$(printf 'EHLO x\r\nMAIL FROM:<a@b.test>\r\nQUIT\r\n' |
    python3 -c 'import socket,sys,time
s=socket.create_connection(("127.0.0.1",int(sys.argv[1])))
s.sendall(sys.stdin.buffer.read()); time.sleep(1); print(s.recv(4096).decode())' "$ETRND_PORT")
printf '%s\n' "$out" | grep -q '^502 5.5.1' || fail "MAIL: $out"
pass "MAIL refused with 502"
