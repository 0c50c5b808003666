#!/bin/bash
# t-etrn-nested - "ETRN @domain" authorizes each covered dial-up entry on
# its own.  Nested entries: .isp.test allows client A (127.0.0.2),
# cust.isp.test allows client B (127.0.0.3); mail is held for x.isp.test
# (governed by .isp.test) and cust.isp.test.
#   1. etrnd's listener: A's "ETRN @isp.test" releases and counts only
#      x.isp.test's mail; cust.isp.test's stays held and no entry of the
#      stream etrn:flush names it; B's "ETRN cust.isp.test" releases it.
#   2. The same through Postfix's smtpd with etrn-policy (which takes
#      "ETRN isp.test" as "@isp.test": Postfix strips the "@").
#   3. An unauthorized client gets the same octets, less the name it
#      typed, for a dial-up domain (with or without its own allow list)
#      and any other name: on the listener and through Postfix.
#   4. Two MX hosts sharing one Redis: A's ETRN at host 1 releases on
#      both hosts x.isp.test's mail only; B's releases cust.isp.test's.
#   5. etrn-policy's rate limit counts a client by its /64: 20 ETRNs from
#      20 addresses of one /64 are limited as one client (etrn_rate_limit
#      10), another /64 is not; the log names each real address.
# Clients bind their source address (all of 127.0.0.0/8 is local).
set -eu
. "${top_srcdir:-$(dirname "$0")/../..}/tests/lib/sandbox.sh"
sb_init sec-nested
policy=unix:openetrn/policy.sock	# relative: the public smtpd is chrooted
relay="relay_domains = dialup.test, .dialup.test, dialup2.test, dialup3.test, xn--bcher-kva.test, isp.test, .isp.test"
# etrn_allow 127.0.0.1/32: a dial-up entry without allow list refuses A,
# B and the stranger by etrn_allow.
conf="flush_lock_time = 1s
etrn_rate_limit = 10"
export SB_ETRN_ALLOW=127.0.0.1/32
SB_ETRND=1 SB_POLICY=1 SB_EXTRA_CONF=$conf \
    SB_EXTRA_MAIN_CF="smtpd_etrn_restrictions = check_policy_service $policy
$relay" sb_start
. "$SB_SRCDIR/tests/lib/common.sh"
. "$SB_SRCDIR/tests/security/seclib.sh"
A=127.0.0.2
B=127.0.0.3
X=127.0.0.9	# a client no entry allows

# isp_transport PFCONF PORT - isp.test to the customer sink; reload
isp_transport() {
	printf 'isp.test\tsmtp:[127.0.0.1]:%s\n.isp.test\tsmtp:[127.0.0.1]:%s\n' \
	    "$2" "$2" >>"$1/transport"
	postfix -c "$1" reload >/dev/null 2>&1 || fail "postfix reload $1"
}
isp_transport "$PF_CONF" "$CUSTOMER_PORT"

# etrn_raw FROM PORT ARG... - "ETRN ARG" from source address FROM; print
# each reply exactly as received (Python repr of the octets)
etrn_raw() {
	python3 - "$@" <<'PY'
import socket, sys
src, port = sys.argv[1], int(sys.argv[2])
s = socket.create_connection(("127.0.0.1", port), timeout=30,
                             source_address=(src, 0))
f = s.makefile("rb")
def reply():
    out = b""
    while True:
        line = f.readline()
        out += line
        if len(line) < 4 or line[3:4] != b"-":
            return out
reply()
s.sendall(b"EHLO customer.test\r\n")
reply()
for a in sys.argv[3:]:
    s.sendall(b"ETRN " + a.encode() + b"\r\n")
    print(repr(reply()))
s.sendall(b"QUIT\r\n")
reply()
PY
}

# etrn_from FROM PORT ARG... - the reply lines as text, one a line
etrn_from() {
	etrn_raw "$@" | python3 -c '
import ast, sys
for l in sys.stdin:
    print(ast.literal_eval(l).decode().rstrip("\r\n"))'
}

# flush_domains - the domains named by the entries of etrn:flush
flush_domains() {
	sb_redis XRANGE etrn:flush - + | awk 'p { print; p = 0 } $0 == "domain" { p = 1 }'
}

# hold_isp NX NC - hold NX messages for x.isp.test, NC for cust.isp.test,
# one for dialup2.test (the barrier), on the smtpd at port ${3:-SMTP_PORT}
hold_isp() {
	local i port=${3:-$SMTP_PORT}
	for ((i = 0; i < $1; i++)); do
		swaks --server 127.0.0.1 --port "$port" --silent 2 \
		    -f s@example.org -t "x$i@x.isp.test" >/dev/null || fail "swaks x"
	done
	for ((i = 0; i < $2; i++)); do
		swaks --server 127.0.0.1 --port "$port" --silent 2 \
		    -f s@example.org -t "c$i@cust.isp.test" >/dev/null || fail "swaks c"
	done
	swaks --server 127.0.0.1 --port "$port" --silent 2 -f s@example.org \
	    -t "b@dialup2.test" >/dev/null || fail "swaks dialup2"
}

# barrier - release dialup2.test's mail (from 127.0.0.1) and wait until
# none is held: every runner has read everything queued before it
barrier() {
	local out
	sleep 1.2	# flush_lock_time
	out=$(etrn_from 127.0.0.1 "$ETRND_PORT" dialup2.test)
	case $out in 253*) ;; *) fail "barrier: $out" ;; esac
	wait_for 30 redis_is 0 ZCARD etrn:held:dialup2.test ||
	    fail "barrier: dialup2.test still held"
}

sb_redis SADD etrn:domains .isp.test cust.isp.test >/dev/null
sb_redis HSET etrn:domain:.isp.test allow $A/32 >/dev/null
sb_redis HSET etrn:domain:cust.isp.test allow $B/32 >/dev/null
sleep 2		# domain_refresh = 1s
hold_isp 1 2
wait_for 10 hold_is 4 || fail "mail not held: $(sb_queue_count hold)"
wait_for 10 redis_is 2 ZCARD etrn:held:cust.isp.test || fail "cust index"
redis_is 1 ZCARD etrn:held:x.isp.test || fail "x index"

# 3. One refusal text, on the listener.
out=$(etrn_raw $X "$ETRND_PORT" cust.isp.test no-such.test dialup.test \
    @isp.test @cust.isp.test x.isp.test)
norm=$(printf '%s\n' "$out" | sed -e 's/cust\.isp\.test/NODE/' \
    -e 's/no-such\.test/NODE/' -e 's/dialup\.test/NODE/' \
    -e 's/@isp\.test/NODE/' -e 's/@NODE/NODE/' -e 's/x\.isp\.test/NODE/' |
    sort -u)
[ "$norm" = "b'459 4.7.1 NODE: ETRN not allowed here\\r\\n'" ] ||
    fail "listener: refusals differ: $out"
out=$(etrn_raw $A "$ETRND_PORT" cust.isp.test dialup.test)
norm=$(printf '%s\n' "$out" | sed -e 's/cust\.isp\.test/NODE/' \
    -e 's/dialup\.test/NODE/' | sort -u)
[ "$norm" = "b'459 4.7.1 NODE: ETRN not allowed here\\r\\n'" ] ||
    fail "listener: A's refusals differ: $out"
[ "$(sb_redis XLEN etrn:flush)" = 0 ] || fail "a refusal queued a flush"
pass "listener: the same octets for another customer's entry, an entry without allow list, @parent and no dial-up domain"

# 1. A's ETRN @isp.test on the listener.
out=$(etrn_from $A "$ETRND_PORT" @isp.test)
[ "$out" = "253 OK, 1 pending message for node @isp.test started" ] ||
    fail "A's @isp.test: $out"
[ "$(flush_domains)" = x.isp.test ] ||
    fail "stream entries name: $(flush_domains | paste -sd' ')"
wait_for 20 sink_is customer 1 || fail "x.isp.test's mail not delivered"
barrier
wait_for 20 sink_is customer 2 || fail "dialup2.test's mail not delivered"
sb_sink_grep customer 'c[01]@cust.isp.test' >/dev/null &&
    fail "cust.isp.test's mail reached the customer"
redis_is 2 ZCARD etrn:held:cust.isp.test || fail "cust.isp.test index changed"
redis_is 0 ZCARD etrn:held:x.isp.test || fail "x.isp.test still indexed"
wait_for 10 hold_is 2 || fail "hold queue: $(sb_queue_count hold)"
flush_domains | grep -qx cust.isp.test && fail "a flush entry names cust.isp.test"
grep -q "client=$A etrn=@isp.test domain=isp.test sub=1 result=253 pending=1 domains=1/" \
    "$SB_LOG_DIR/etrnd.log" || fail "no log line for A's ETRN"
pass "listener: A's ETRN @isp.test released and counted x.isp.test's mail only; no entry names cust.isp.test"

out=$(etrn_from $B "$ETRND_PORT" cust.isp.test)
[ "$out" = "253 OK, 2 pending messages for node cust.isp.test started" ] ||
    fail "B's cust.isp.test: $out"
wait_for 20 sink_is customer 4 || fail "cust.isp.test's mail not delivered"
wait_for 10 hold_is 0 || fail "hold queue: $(sb_queue_count hold)"
pass "listener: B's ETRN cust.isp.test released its 2 messages"

# 2. Through Postfix's smtpd and etrn-policy.
before=$(sb_redis XLEN etrn:flush)
hold_isp 1 2
wait_for 10 hold_is 4 || fail "mail not held again"
wait_for 10 redis_is 2 ZCARD etrn:held:cust.isp.test || fail "cust index"
out=$(etrn_raw $X "$SMTP_PORT" cust.isp.test no-such.test dialup.test \
    isp.test)
norm=$(printf '%s\n' "$out" | sed -e 's/<[a-z0-9.-]*>/<NODE>/' | sort -u)
[ "$norm" = "b'459 4.7.1 <NODE>: Etrn command rejected: ETRN not allowed here\\r\\n'" ] ||
    fail "Postfix: refusals differ: $out"
[ "$(sb_redis XLEN etrn:flush)" = "$before" ] || fail "a refusal queued a flush"
pass "Postfix + etrn-policy: the same octets for dial-up entries and no dial-up domain"
out=$(etrn_from $A "$SMTP_PORT" isp.test)
[ "$out" = "250 Queuing started" ] || fail "A via Postfix: $out"
[ "$(flush_domains | tail -n +$((before + 1)))" = x.isp.test ] ||
    fail "policy's entries name: $(flush_domains | paste -sd' ')"
wait_for 20 sink_is customer 5 || fail "x.isp.test's mail not delivered"
barrier
wait_for 20 sink_is customer 6 || fail "dialup2.test's mail"
redis_is 2 ZCARD etrn:held:cust.isp.test || fail "cust.isp.test released"
wait_for 10 hold_is 2 || fail "hold queue: $(sb_queue_count hold)"
flush_domains | tail -n +$((before + 1)) | grep -qx cust.isp.test &&
    fail "a flush entry names cust.isp.test"
grep -q "etrn client=$A domain=isp.test action=OK pending=1 queued=yes domains=1/" \
    "$SB_LOG_DIR/etrn-policy.log" || fail "no policy log line for A"
out=$(etrn_from $B "$SMTP_PORT" cust.isp.test)
[ "$out" = "250 Queuing started" ] || fail "B via Postfix: $out"
wait_for 20 sink_is customer 8 || fail "cust.isp.test's mail via Postfix"
wait_for 10 hold_is 0 || fail "hold queue: $(sb_queue_count hold)"
schema_check
pass "Postfix + etrn-policy: A's ETRN isp.test released x.isp.test's mail only; B's released cust.isp.test's"

# 5. etrn-policy's rate limit by /64.
out=$(python3 - "$POLICY_SOCK" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
f = s.makefile("rb")
def ask(client):
    s.sendall(("request=smtpd_access_policy\nprotocol_state=ETRN\n"
               "client_address=%s\netrn_domain=cust.isp.test\n\n"
               % client).encode())
    a = f.readline().decode().strip()
    f.readline()
    return a
for i in range(1, 21):
    print(ask("2001:db8:1:2::%d" % i))
print(ask("2001:db8:1:3::1"))
PY
)
n459=$(printf '%s\n' "$out" | head -n 20 | grep -cx 'action=459 4.7.1 ETRN not allowed here' || true)
n458=$(printf '%s\n' "$out" | head -n 20 | grep -cx 'action=458 4.7.1 Too many ETRN requests, try again later' || true)
[ "$n459/$n458" = 10/10 ] || fail "one /64: $n459 refused, $n458 limited: $out"
[ "$(printf '%s\n' "$out" | tail -n 1)" = "action=459 4.7.1 ETRN not allowed here" ] ||
    fail "another /64 was limited: $out"
grep -q "etrn client=2001:db8:1:2::20 domain=cust.isp.test action=458 reason=rate-limit" \
    "$SB_LOG_DIR/etrn-policy.log" || fail "the log does not name the real address"
pass "etrn-policy: 20 addresses of one /64 limited as one client (10 of 20); another /64 not"

# 4. Two MX hosts sharing one Redis.
MX2=$(mktemp -d "${TMPDIR:-/tmp}/openetrn-test.nested-b.XXXX")
chmod 755 "$MX2"
stop_mx2() {
	"$SB_SANDBOX" stop "$MX2" >/dev/null 2>&1 || true
	[ "${KEEP_SANDBOX:-0}" = 1 ] || rm -rf "$MX2"
}
trap 'rc=$?; [ $rc = 0 ] || sb_log_tail "$MX2/log/etrnd.log" 30; stop_mx2; sb_cleanup $rc' EXIT
p2=$((REDIS_PORT + 1))
SMTP_PORT=$p2 SINK_PORT=$((p2 + 1)) REINJECT_PORT=$((p2 + 2)) \
    CUSTOMER_PORT=$((p2 + 3)) ETRND_PORT=$((p2 + 4)) \
    POLICY_PORT=$((p2 + 5)) DSN_PORT=$((p2 + 6)) REDIS_PORT=$((p2 + 7)) \
    SB_REDIS_SOCK=$REDIS_SOCK SB_HOSTNAME=mx2.lab.test SB_NO_SEED=1 \
    SB_ETRND=1 SB_EXTRA_CONF=$conf SB_EXTRA_MAIN_CF=$relay \
    "$SB_SANDBOX" start "$MX2" >"$MX2.start.log" 2>&1 ||
    { cat "$MX2.start.log"; rm -f "$MX2.start.log"; fail "second MX"; }
rm -f "$MX2.start.log"
isp_transport "$(. "$MX2/env" && echo "$PF_CONF")" $((p2 + 3))
mx2_sink() { find "$MX2/sink/customer" -type f | wc -l; }
hold_isp 1 1
hold_isp 1 1 "$p2"
wait_for 10 redis_is 2 ZCARD etrn:held:x.isp.test || fail "x not held on both"
wait_for 10 redis_is 2 ZCARD etrn:held:cust.isp.test || fail "cust not held on both"
wait_for 10 redis_is 2 ZCARD etrn:held:dialup2.test || fail "dialup2 not held on both"
[ "$(sb_redis ZRANGE etrn:held:cust.isp.test 0 -1 | grep -c '^mx2.lab.test:')" = 1 ] ||
    fail "host 2's member"
before=$(sb_redis XLEN etrn:flush)
out=$(etrn_from $A "$ETRND_PORT" @isp.test)
[ "$out" = "253 OK, 2 pending messages for node @isp.test started" ] ||
    fail "A at host 1: $out"
[ "$(flush_domains | tail -n +$((before + 1)))" = x.isp.test ] ||
    fail "entries name: $(flush_domains | paste -sd' ')"
wait_for 20 sink_is customer 9 || fail "host 1: x.isp.test's mail"
wait_for 20 sh -c "[ \$(find '$MX2/sink/customer' -type f | wc -l) = 1 ]" ||
    fail "host 2: x.isp.test's mail ($(mx2_sink))"
barrier
wait_for 20 sink_is customer 10 || fail "host 1: dialup2.test's mail"
wait_for 20 sh -c "[ \$(find '$MX2/sink/customer' -type f | wc -l) = 2 ]" ||
    fail "host 2: dialup2.test's mail ($(mx2_sink))"
redis_is 2 ZCARD etrn:held:cust.isp.test || fail "cust.isp.test unindexed"
wait_for 10 hold_is 1 || fail "host 1's hold queue: $(sb_queue_count hold)"
[ "$(postqueue -c "$(. "$MX2/env" && echo "$PF_CONF")" -j | grep -c '"queue_name": *"hold"')" = 1 ] ||
    fail "host 2's hold queue does not have cust.isp.test's message alone"
[ "$(mx2_sink)" = 2 ] && sink_is customer 10 ||
    fail "cust.isp.test's mail released: sinks $(sb_sink_count customer), $(mx2_sink)"
grep -rl 'c0@cust.isp.test' "$MX2/sink/customer" >/dev/null 2>&1 &&
    fail "host 2 released cust.isp.test's mail"
out=$(etrn_from $B "$ETRND_PORT" cust.isp.test)
[ "$out" = "253 OK, 2 pending messages for node cust.isp.test started" ] ||
    fail "B at host 1: $out"
wait_for 20 sh -c "[ \$(find '$MX2/sink/customer' -type f | wc -l) = 3 ]" ||
    fail "host 2: cust.isp.test's mail ($(mx2_sink))"
wait_for 20 sink_is customer 11 || fail "host 1: cust.isp.test's mail"
wait_for 10 redis_is 0 ZCARD etrn:held:cust.isp.test || fail "cust index"
pass "two MX hosts: A's ETRN @isp.test released x.isp.test's mail on both and nothing of cust.isp.test; B's released cust.isp.test's on both"
stop_mx2
stop_and_check_logs
pass "clean stop: no daemon ignored SIGTERM, no sanitizer report in any log"
