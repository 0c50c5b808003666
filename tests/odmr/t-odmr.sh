#!/bin/bash
# t-odmr - etrnd's ODMR listener (RFC 2645) up to ATRN's authorization:
# STARTTLS (TLS 1.2 at least, pipelined input discarded), AUTH through
# Cyrus SASL with a private sasldb (CRAM-MD5 good and bad, PLAIN refused
# before STARTTLS from a client outside odmr_loopback), ATRN's replies
# (530 before AUTH, 450 for a domain whose sasl_users lacks the user, 453
# with nothing held, 450 4.3.2 with mail held but no odmr_socketmap: no
# turn, the mail stays held), hostile AUTH and ATRN input, fetchmail
# --protocol ODMR up to ATRN's answer.  The turn: t-odmr-turn.sh.
set -eu
. "${top_srcdir:-$(dirname "$0")/../..}/tests/lib/sandbox.sh"
command -v saslpasswd2 >/dev/null || skip "saslpasswd2 (sasl2-bin) missing"
command -v openssl >/dev/null || skip "openssl missing"
sb_init odmr
ODMR_PORT=$(free_port)
T=$(mktemp -d /tmp/openetrn-odmr.XXXX)
chmod 755 "$T"
cleanup_odmr() {
	local rc=$?
	set +e
	[ "$rc" = 0 ] || grep -v ' debug' "$SB/log/etrnd.log" | tail -20 >&2
	rm -rf "$T"
	sb_cleanup "$rc"
}
trap cleanup_odmr EXIT
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=mx.lab.test \
    -keyout "$T/key.pem" -out "$T/cert.pem" 2>/dev/null || fail "openssl req"
chmod 600 "$T/key.pem"		# root's alone: read before privileges drop
echo custpw | saslpasswd2 -f "$T/sasldb" -p -c -u mx.lab.test cust ||
    fail "saslpasswd2"
echo otherpw | saslpasswd2 -f "$T/sasldb" -p -c -u mx.lab.test other ||
    fail "saslpasswd2"
chown openetrn "$T/sasldb"
chmod 600 "$T/sasldb"
SB_ETRND=1 SB_EXTRA_CONF="odmr_listen = inet:127.0.0.1:$ODMR_PORT
odmr_loopback = 127.0.0.1/32
tls_cert_file = $T/cert.pem
tls_key_file = $T/key.pem
sasl_pwcheck_method = auxprop
sasl_auxprop_plugin = sasldb
sasl_db_path = $T/sasldb
sasl_mech_list = CRAM-MD5 PLAIN LOGIN" sb_start
. "$SB_SRCDIR/tests/lib/common.sh"
ELOG=$SB/log/etrnd.log

odmr() {
	python3 "$SB_SRCDIR/tests/odmr/odmr.py" "$1" "$ODMR_PORT" cust custpw \
	    "${@:2}"
}
check() {
	local out
	out=$(odmr "$1" 2>&1) || fail "$1: $out"
	[ "$out" = ok ] || fail "$1: $out"
}

check ehlo
pass "EHLO: STARTTLS and ATRN; on loopback AUTH without PLAIN/LOGIN, all over TLS"
check auth
pass "ATRN before AUTH 530; CRAM-MD5 over STARTTLS: wrong 535, right 235, again 503"
check tls10
check pipelined
pass "a TLS 1.0-only client is refused the handshake; input pipelined after STARTTLS is discarded"
check nonloopback
pass "from 127.0.0.2 (outside odmr_loopback): no AUTH before STARTTLS (530), AUTH over TLS"
check others
pass "every other command before the turn: 502"

sb_redis HSET etrn:domain:dialup.test sasl_users "cust, x" >/dev/null
sb_redis HSET etrn:domain:dialup2.test sasl_users other >/dev/null
out=$(odmr atrn dialup2.test)
[ "${out%% *}" = 450 ] && [[ $out == *"4.7.1"* ]] || fail "dialup2: $out"
grep -q "atrn user=cust domain=dialup2.test left out: not in its sasl_users" \
    "$ELOG" || fail "left-out domain not logged"
out=$(odmr atrn nodialup.test)
[[ $out == "450 4.7.1"* ]] || fail "not a dial-up domain: $out"
pass "ATRN for a domain whose sasl_users lacks the user: 450 4.7.1, logged"

out=$(odmr atrn dialup.test)
[ "$out" = "453 4.3.0 You have no mail" ] || fail "453: $out"
pass "ATRN with nothing held: 453"

sb_swaks -f s@example.org -t u1@dialup.test >/dev/null || fail "swaks"
sb_swaks -f s@example.org -t u2@dialup.test >/dev/null || fail "swaks"
wait_for 10 hold_is 2 || fail "mail not held"
out=$(odmr atrn dialup.test,dialup2.test)
[[ $out == "450 4.3.2 Mail is held for you, but delivery over ODMR is not configured here" ]] ||
    fail "held: $out"
grep -q "atrn user=cust domains=1/2 held=2 result=450 reason=no odmr_socketmap: no turn" \
    "$ELOG" || fail "held ATRN not logged"
sleep 1
hold_is 2 || fail "held mail moved"
[ "$(sb_redis ZCARD etrn:held:dialup.test)" = 2 ] || fail "index changed"
pass "ATRN with mail held but no odmr_socketmap: 450 4.3.2 (no turn), counted, mail stays held"

check hostile
out=$(odmr auth 2>&1) || fail "listener after hostile input: $out"
pass "hostile AUTH and ATRN input answered and bounded; the listener serves on"

# fetchmail, the customer side people use, up to ATRN's answer.
cat >"$T/fetchmailrc" <<RC
poll 127.0.0.1 service $ODMR_PORT protocol ODMR auth cram-md5
  user "cust" password "custpw" fetchdomains dialup.test
  sslproto "TLS1.2+" no sslcertck
RC
chmod 600 "$T/fetchmailrc"
out=$(cd "$T" && HOME=$T fetchmail --nosyslog -f "$T/fetchmailrc" -v \
    --pidfile "$T/fetchmail.pid" \
    --smtphost "127.0.0.1/$CUSTOMER_PORT" 2>&1) || true
printf '%s\n' "$out" | grep -q '235 2.7.0' || fail "fetchmail AUTH: $out"
printf '%s\n' "$out" | grep -q 'ATRN dialup.test' || fail "fetchmail ATRN: $out"
printf '%s\n' "$out" | grep -q '450 4.3.2' || fail "fetchmail reply: $out"
pass "fetchmail --protocol ODMR: STARTTLS, CRAM-MD5 235, ATRN answered 450 4.3.2"
