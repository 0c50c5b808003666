#!/bin/bash
# t-client-net - the per-client limits of etrnd's listener count a client
# network (client_ipv4_prefix, client_ipv6_prefix), over IPv4 and IPv6,
# and etrn-policy answers on every address of policy_listen.  The only
# IPv6 address here is ::1, so the key is shown by configuration: the
# same clients under two prefix settings.
#   1. etrnd listening on 127.0.0.1 and [::1] (one port), defaults
#      (IPv4 /32, IPv6 /64), etrnd_max_per_client 5: of 30 connections
#      from ::1 five are greeted, 25 get 421 4.7.0 within 1 s and are
#      closed, the log names the network ::/64; 127.0.0.1 is greeted.
#      etrn_rate_limit 10: 20 ETRNs from ::1 are 10 answered (459) and
#      10 limited (458); then 20 from 127.0.0.1 .. 127.0.0.20 are all
#      answered (20 networks), and 127.0.0.1 is not limited by ::1.
#   2. Restarted with client_ipv4_prefix = 24, client_ipv6_prefix = 128:
#      20 ETRNs from 127.0.0.1 .. 127.0.0.20 are limited as one client
#      (10 answered, 10 limited), 127.0.1.1 is not; the per-client cap
#      refuses ::1 naming the network ::1/128.
#   3. etrn-policy restarted with policy_listen = its unix socket,
#      inet:127.0.0.1:P1 and inet:[::1]:P2: each answers an ETRN request.
set -eu
. "${top_srcdir:-$(dirname "$0")/../..}/tests/lib/sandbox.sh"
netlim=$SB_SRCDIR/tests/security/netlim.py

sb_init sec-client-net
SB_ETRND=1 SB_POLICY=1 SB_EXTRA_CONF="etrnd_max_per_client = 5
etrn_rate_limit = 10
flush_lock_time = 1s" sb_start
. "$SB_SRCDIR/tests/lib/common.sh"
. "$SB_SRCDIR/tests/security/seclib.sh"

# greets6 - etrnd's listener greets a client from ::1 (no ETRN: that
# would count for the rate limit)
greets6() {
	python3 -c 'import socket, sys
s = socket.create_connection(("::1", int(sys.argv[1])), timeout=5)
sys.exit(0 if s.recv(4096).startswith(b"220") else 1)' "$ETRND_PORT"
}

# restart_etrnd - etrnd again on the configuration as it is now, on both
# loopback addresses; the rate-limit table starts empty
restart_etrnd() {
	sb_restart etrnd
	wait_for 20 greets6 || fail "etrnd does not listen on ::1"
}

# etrn_counts SOURCE... - ETRN example.com from each; print "N459/N458"
etrn_counts() {
	local out n9 n8
	out=$(python3 "$netlim" etrn "$ETRND_PORT" example.com "$@")
	n9=$(printf '%s\n' "$out" |
	    grep -c ' 459 4\.7\.1 example\.com: ETRN not allowed here$' || true)
	n8=$(printf '%s\n' "$out" |
	    grep -c ' 458 Unable to queue messages for node example\.com: too many ETRN requests, try again later$' ||
	    true)
	echo "$n9/$n8"
}

# policy_answers ADDR - etrn-policy at ADDR refuses the request (459)
policy_answers() {
	out=$(python3 "$netlim" policy-ask "$1")
	case $out in
	"action=459 4.7.1 ETRN not allowed here "*) return 0 ;;
	esac
	return 1
}

# per-client refusals of ::1 logged naming network $1
refused6() {
	grep -qF "client=::1 refused: too many connections from $1 (5)" \
	    "$SB_LOG_DIR/etrnd.log"
}

sed -i "s|^etrnd_listen = .*|etrnd_listen = inet:127.0.0.1:$ETRND_PORT, inet:[::1]:$ETRND_PORT|" \
    "$OPENETRN_CONF"
restart_etrnd

# 1. Defaults: IPv4 /32, IPv6 /64.
out=$(python3 "$netlim" per-client "$ETRND_PORT" 5 ::1 127.0.0.1) ||
    fail "per-client cap from ::1:
$out"
refused6 ::/64 || fail "no refusal of ::1 naming ::/64: $(grep -F '::1' \
    "$SB_LOG_DIR/etrnd.log" | tail -n 3)"
alive "$ETRND_PID" || fail "etrnd died"
pass "IPv6 /64 default: 5 from ::1 greeted, 25 refused 421 4.7.0 at once (logged as ::/64), 127.0.0.1 greeted"

sleep 1		# the 5 connections above are closed
six=()
for _ in $(seq 20); do six+=(::1); done
n=$(etrn_counts "${six[@]}")
[ "$n" = 10/10 ] || fail "20 ETRNs from ::1: $n (459/458), want 10/10"
# shellcheck disable=SC2046 # addresses, no blanks
n4=$(etrn_counts $(seq -f 127.0.0.%g 1 20))
[ "$n4" = 20/0 ] || fail "20 ETRNs from 20 IPv4 addresses (/32): $n4"
grep -q 'client=::1 etrn=example.com .*result=458' "$SB_LOG_DIR/etrnd.log" ||
    fail "no log line for ::1's limited ETRN"
pass "etrn_rate_limit 10: 20 ETRNs from ::1 $n answered/limited; 20 from 127.0.0.1-20 (/32 each) $n4; ::1's limit does not count 127.0.0.1"

# 2. client_ipv4_prefix = 24, client_ipv6_prefix = 128.
printf '%s\n' "client_ipv4_prefix = 24" "client_ipv6_prefix = 128" \
    >>"$OPENETRN_CONF"
restart_etrnd
# shellcheck disable=SC2046 # addresses, no blanks
n4=$(etrn_counts $(seq -f 127.0.0.%g 1 20))
[ "$n4" = 10/10 ] || fail "20 ETRNs from one /24: $n4, want 10/10"
n=$(etrn_counts 127.0.1.1)
[ "$n" = 1/0 ] || fail "127.0.1.1 (another /24) was limited: $n"
grep -q 'client=127.0.0.20 etrn=example.com .*result=458' \
    "$SB_LOG_DIR/etrnd.log" || fail "the log does not name 127.0.0.20"
pass "client_ipv4_prefix = 24: 20 ETRNs from 127.0.0.1-20 limited as one client ($n4); 127.0.1.1 not"
out=$(python3 "$netlim" per-client "$ETRND_PORT" 5 ::1 127.0.0.1) ||
    fail "per-client cap from ::1 (/128):
$out"
refused6 ::1/128 || fail "no refusal of ::1 naming ::1/128"
pass "client_ipv6_prefix = 128: ::1 capped at 5 as network ::1/128"

# 3. etrn-policy on a unix socket, an IPv4 and an IPv6 address.
p1=$(free_port)
p2=$(free_port)
sed -i "s|^policy_listen = .*|policy_listen = unix:$POLICY_SOCK, inet:127.0.0.1:$p1, inet:[::1]:$p2|" \
    "$OPENETRN_CONF"
sb_restart etrn-policy
wait_for 20 test -S "$POLICY_SOCK" || fail "etrn-policy did not start"
for a in "unix:$POLICY_SOCK" "inet:127.0.0.1:$p1" "inet:[::1]:$p2"; do
	out=
	wait_for 10 policy_answers "$a" || fail "etrn-policy at $a: $out"
done
alive "$POLICY_PID" || fail "etrn-policy died"
pass "etrn-policy answers on every policy_listen address: unix, 127.0.0.1:$p1, [::1]:$p2"
stop_and_check_logs
pass "clean stop: no daemon ignored SIGTERM, no sanitizer report in any log"
