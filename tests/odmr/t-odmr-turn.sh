#!/bin/bash
# t-odmr-turn - the turn of etrnd's ODMR listener (RFC 2645): after ATRN
# Postfix delivers the held mail through etrnd's relay over the customer's
# own connection (route from etrnd's socketmap in transport_maps).  The
# customer is tests/odmr/customer.py (smtplib + ssl, then an SMTP server
# that saves what it accepts), and fetchmail --protocol ODMR relaying to
# the sandbox's customer sink.
set -eu
. "${top_srcdir:-$(dirname "$0")/../..}/tests/lib/sandbox.sh"
command -v saslpasswd2 >/dev/null || skip "saslpasswd2 (sasl2-bin) missing"
command -v openssl >/dev/null || skip "openssl missing"
sb_init odmrturn
ODMR_PORT=$(free_port)
T=$(mktemp -d /tmp/openetrn-odmrturn.XXXX)
chmod 755 "$T"
cleanup_turn() {
	local rc=$?
	set +e
	[ "$rc" = 0 ] || grep -v ' debug' "$SB/log/etrnd.log" | tail -40 >&2
	rm -rf "$T"
	sb_cleanup "$rc"
}
trap cleanup_turn EXIT
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=mx.lab.test \
    -keyout "$T/key.pem" -out "$T/cert.pem" 2>/dev/null || fail "openssl req"
chmod 600 "$T/key.pem"
echo custpw | saslpasswd2 -f "$T/sasldb" -p -c -u mx.lab.test cust ||
    fail "saslpasswd2"
chown openetrn "$T/sasldb"
chmod 600 "$T/sasldb"
# $SB/run is root's (the socket's directory must be); the sandbox's
# texthash table stays second: without a turn dialup.test goes to the
# customer sink directly, so every check below also looks for the relay.
SB_ETRND=1 SB_EXTRA_MAIN_CF="transport_maps = socketmap:unix:$SB/run/odmr.sock:transport, texthash:\$config_directory/transport" \
    SB_EXTRA_CONF="odmr_listen = inet:127.0.0.1:$ODMR_PORT
odmr_socketmap = unix:$SB/run/odmr.sock
odmr_idle = 2s
etrnd_timeout = 5s
tls_cert_file = $T/cert.pem
tls_key_file = $T/key.pem
sasl_pwcheck_method = auxprop
sasl_auxprop_plugin = sasldb
sasl_db_path = $T/sasldb
sasl_mech_list = CRAM-MD5" sb_start
. "$SB_SRCDIR/tests/lib/common.sh"
ELOG=$SB/log/etrnd.log
sb_redis HSET etrn:domain:dialup.test sasl_users cust >/dev/null

# customer DIR MODE - one ODMR session of customer.py for dialup.test
customer() {
	mkdir -p "$T/$1"
	timeout 120 python3 "$SB_SRCDIR/tests/odmr/customer.py" "$ODMR_PORT" \
	    cust custpw dialup.test "$T/$1" "$2"
}

# held N - wait until N messages are held and indexed
held() {
	wait_for 20 hold_is "$1" || fail "not $1 held: $(sb_queue_count hold)"
	wait_for 10 redis_is "$1" ZCARD etrn:held:dialup.test ||
	    fail "index: $(sb_redis ZCARD etrn:held:dialup.test)"
}

# relayed N - Postfix's log has N deliveries through a relay port
relayed() {
	[ "$(grep 'status=sent' "$PF_LOG" | grep -c \
	    "relay=127.0.0.1\[127.0.0.1\]:\($(relay_ports)\)," || true)" = "$1" ]
}

# relay_ports - the relay ports etrnd opened, as a grep alternation
relay_ports() {
	grep -o 'route=smtp:\[127.0.0.1\]:[0-9]*' "$ELOG" | sed 's/.*://' |
	    paste -sd'|' | sed 's/|/\\|/g'
}

# 1. Three held messages (one 8-bit, one to two recipients, DSN options)
# arrive once each, byte for byte, with their envelopes.
printf 'Subject: one\n\nfirst body\n.leading dot\n' >"$T/m1"
printf 'Subject: two\n\n\xe4\xf6\xfc 8-bit body\n' >"$T/m2"
printf 'Subject: three\n\nthird body\n' >"$T/m3"
sb_swaks -f a@example.org -t u1@dialup.test --data "$T/m1" >/dev/null
sb_swaks -f b@example.org -t u2@dialup.test --data "$T/m2" \
    --protocol ESMTP >/dev/null
sb_swaks -f c@example.org -t u3@dialup.test,u4@dialup.test --data "$T/m3" \
    >/dev/null
held 3
for q in $(sb_hold_ids); do
	postcat -c "$PF_CONF" -bq "$q" >"$T/body.$q"
	sender=$(postcat -c "$PF_CONF" -eq "$q" | sed -n 's/^sender: //p')
	echo "$q" >"$T/sender.$sender"
done
out=$(customer s1 normal) || fail "customer: $out"
[ "$out" = "ok 3" ] || fail "customer: $out"
for f in "$T"/s1/*.eml; do
	n=${f%.eml}
	sender=$(sed -n '1s/^MAIL FROM:<\([^>]*\)>.*/\1/p' "$n.env")
	q=$(cat "$T/sender.$sender") || fail "unknown sender $sender"
	sed -n '/^\r$/,$p' "$f" | tr -d '\r' >"$T/got.$q"
	cmp -s "$T/body.$q" "$T/got.$q" ||
	    fail "body of $q differs: $(diff "$T/body.$q" "$T/got.$q" | cat -A)"
done
grep -q '^RCPT TO:<u3@dialup.test>' "$T"/s1/*.env &&
    grep -q '^RCPT TO:<u4@dialup.test>' "$T"/s1/*.env ||
    fail "recipients: $(cat "$T"/s1/*.env)"
wait_for 20 redis_is 0 ZCARD etrn:held:dialup.test || fail "index not empty"
[ "$(sb_queue_count hold)" = 0 ] || fail "hold queue not empty"
wait_for 10 relayed 4 || fail "not relayed: $(grep status= "$PF_LOG")"
grep -q 'odmr end user=cust domains=dialup.test connections=[1-9][0-9]* messages=3 accepted=3 .*reason=done' \
    "$ELOG" || fail "end not logged"
pass "ATRN: 250 and the turn; 3 held messages arrive once each through the relay, bodies byte for byte (postcat -bq), envelopes right; hold queue and index empty; QUIT after odmr_idle"
