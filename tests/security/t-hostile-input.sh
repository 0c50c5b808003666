#!/bin/bash
# t-hostile-input - hostile input is refused at every entry point: the
# ETRN argument on etrnd's listener (459/500/501, never 25x), requests to
# etrn-policy (459 or the connection closed), etrnctl's flush, list,
# release, expire and domains with hostile domains, queue IDs, setting
# names and values (exit 1 or 2), and RCPT TO through Postfix to
# etrn-milter.  The payloads
# (tests/security/hostile.py): shell metacharacters that would create a
# canary file, Redis protocol and glob characters, CR/LF, NUL, non-ASCII
# octets, 300/600/5000-octet arguments and postsuper options ("-d ALL",
# "-rALL"), and on the ODMR listener garbage lines, a 1 MiB line, AUTH
# responses at the line limit, AUTH nested in an exchange, ATRN with
# thousands of items (answered, etrnd's RSS bounded).  After each
# round: no canary file, every Redis key (SCAN) has a documented shape,
# and no held mail was released or deleted.
# Hostile but valid quoted local parts and ENVID/ORCPT values in a
# dial-up domain are held verbatim and released without any command
# running.
set -eu
. "${top_srcdir:-$(dirname "$0")/../..}/tests/lib/sandbox.sh"
command -v saslpasswd2 >/dev/null || skip "saslpasswd2 (sasl2-bin) missing"
command -v openssl >/dev/null || skip "openssl missing"
sb_init sec-hostile
# The ODMR listener, as in tests/odmr/t-odmr.sh: TLS files, a sasldb.
O=$SB/odmr
mkdir -p "$O"
chmod 755 "$O"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=mx.lab.test \
    -keyout "$O/key.pem" -out "$O/cert.pem" 2>/dev/null || fail "openssl req"
chmod 600 "$O/key.pem"
echo custpw | saslpasswd2 -f "$O/sasldb" -p -c -u mx.lab.test cust ||
    fail "saslpasswd2"
chown openetrn "$O/sasldb"
chmod 600 "$O/sasldb"
ODMR_PORT=$(free_port)
SB_ETRND=1 SB_POLICY=1 SB_EXTRA_CONF="etrnd_max_errors = 100
odmr_listen = inet:127.0.0.1:$ODMR_PORT
odmr_loopback = 127.0.0.1/32
tls_cert_file = $O/cert.pem
tls_key_file = $O/key.pem
sasl_pwcheck_method = auxprop
sasl_auxprop_plugin = sasldb
sasl_db_path = $O/sasldb
sasl_mech_list = CRAM-MD5 PLAIN LOGIN" sb_start
. "$SB_SRCDIR/tests/lib/common.sh"
. "$SB_SRCDIR/tests/security/seclib.sh"
hostile() { python3 "$SB_SRCDIR/tests/security/hostile.py" "$@"; }
canary_init

hold_three u1 u2 v
before=$(held_snapshot)
[ "$(printf '%s\n' "$before" | grep -c '^hold ')" = 3 ] || fail "snapshot"

# unchanged - the attack left no trace
unchanged() {
	canary_check
	schema_check
	[ "$(held_snapshot)" = "$before" ] ||
	    fail "$1: held mail changed: $(held_snapshot)"
	[ "$(sb_sink_count customer)" = 0 ] || fail "$1: mail released"
	[ "$(sb_redis XLEN etrn:flush)" = 0 ] || fail "$1: flush queued"
}

out=$(hostile etrnd "$ETRND_PORT" "$CANARY") || {
	printf '%s\n' "$out" | grep -v '^refused' >&2; fail "etrnd"; }
n=$(printf '%s\n' "$out" | grep -c '^refused:')
[ "$n" -ge 35 ] || fail "etrnd: only $n payloads tried"
unchanged etrnd
kill -0 "$ETRND_PID" || fail "etrnd died"
pass "etrnd's listener refused $n hostile ETRN arguments (459/500/501)"

out=$(hostile policy "$POLICY_SOCK" "$CANARY") || {
	printf '%s\n' "$out" >&2; fail "etrn-policy"; }
unchanged etrn-policy
kill -0 "$POLICY_PID" || fail "etrn-policy died"
pass "etrn-policy: $out (etrn_domain, client_address, sasl_username, recipient)"

# etrnd_rss - the resident kB of etrnd and its children (the listeners)
etrnd_rss() {
	local p kb=0
	for p in "$ETRND_PID" $(ps -o pid= --ppid "$ETRND_PID"); do
		kb=$((kb + $(awk '/^VmRSS/ {print $2}' "/proc/$p/status" \
		    2>/dev/null || echo 0)))
	done
	echo "$kb"
}
rss0=$(etrnd_rss)
out=$(hostile odmr "$ODMR_PORT" cust custpw) || {
	printf '%s\n' "$out" | grep -v '^refused' >&2; fail "odmr"; }
n=$(printf '%s\n' "$out" | grep -c '^refused:')
[ "$n" -ge 20 ] || fail "odmr: only $n payloads tried"
rss1=$(etrnd_rss)
[ "$rss1" -le $((rss0 + 16384)) ] ||
    fail "odmr: etrnd grew from $rss0 to $rss1 kB"
unchanged odmr
alive "$ETRND_PID" || fail "etrnd died"
out=$(python3 "$SB_SRCDIR/tests/odmr/odmr.py" auth "$ODMR_PORT" cust custpw \
    2>&1) || fail "odmr listener after hostile input: $out"
pass "ODMR listener: $n hostile payloads answered (200 garbage lines, a 1 MiB line, 12000-octet AUTH responses, AUTH nested in an exchange, ATRN with 1000 to 6000 items); etrnd ${rss0} -> ${rss1} kB; serves on"

out=$(hostile etrnctl "$OPENETRN_BUILDDIR/etrnctl/etrnctl" "$OPENETRN_CONF" \
    "$CANARY") || { printf '%s\n' "$out" >&2; fail "etrnctl"; }
unchanged etrnctl
[ "$(sb_redis SMEMBERS etrn:domains | sort | paste -sd' ')" = \
    ".dialup.test dialup.test dialup2.test xn--bcher-kva.test" ] ||
    fail "etrn:domains changed: $(sb_redis SMEMBERS etrn:domains)"
[ "$(sb_redis EXISTS etrn:domain:dialup2.test)" = 0 ] ||
    fail "settings written: $(sb_redis HGETALL etrn:domain:dialup2.test)"
pass "$out (exit 1 or 2; nothing added, released or deleted)"

out=$(hostile smtp "$SMTP_PORT" "$CANARY") || {
	printf '%s\n' "$out" >&2; fail "smtp"; }
case $out in
*"smtp: refused=13 accepted-local-part=7 accepted-bad-domain=0"*) ;;
*) fail "RCPT TO: $out" ;;
esac
wait_for 10 hold_is 10 || fail "hold queue: $(sb_queue_count hold)"
wait_for 10 redis_is 9 ZCARD etrn:held:dialup.test || fail "index"
canary_check
schema_check
for q in $(sb_redis ZRANGE etrn:held:dialup.test 0 -1); do
	sb_redis HGET "etrn:msg:$q" recipients
done >"$SB/rcpts"
for want in "\"; touch $CANARY\"@dialup.test" "\"\$(touch $CANARY)\"@dialup.test" \
    "\"\`touch $CANARY\`\"@dialup.test" '"*?[]\\ FLUSHALL"@dialup.test'; do
	grep -qxF "$want"$'\t\t' "$SB/rcpts" ||
	    fail "record of $want: $(cat "$SB/rcpts")"
done
for q in $(sb_redis ZRANGE etrn:held:dialup.test 0 -1); do
	sb_redis HGET "etrn:msg:$q" envid
done | grep -qxF "\$(touch$CANARY)" || fail "ENVID not recorded verbatim"
[ "$(sb_sink_count internet)" = 0 ] || fail "mail went to the internet"
pass "RCPT TO: 13 hostile domains refused (by Postfix); 5 hostile quoted local parts, 2 hostile ENVID/ORCPT held verbatim"

out=$(ctl flush dialup.test) ||
    fail "etrnctl flush: $out"
wait_for 30 sink_is customer 9 || fail "customer has $(sb_sink_count customer) of 9"
wait_for 10 redis_is 0 ZCARD etrn:held:dialup.test || fail "index not emptied"
hold_is 1 || fail "hold queue: $(sb_queue_count hold)"
canary_check
schema_check
pass "the hostile local parts were released and delivered; no command ran"

stop_and_check_logs
pass "clean stop: no daemon ignored SIGTERM, no sanitizer report in any log"
