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

# 1. Four held messages (one 8-bit, one to two recipients with DSN
# options, one of 1.5 MB) arrive once each, byte for byte, with their
# envelopes.
printf 'Subject: one\n\nfirst body\n.leading dot\n' >"$T/m1"
printf 'Subject: two\n\n\xe4\xf6\xfc 8-bit body\n' >"$T/m2"
printf 'Subject: three\n\nthird body\n' >"$T/m3"
sb_swaks -f a@example.org -t u1@dialup.test --data "$T/m1" >/dev/null
sb_swaks -f b@example.org -t u2@dialup.test --data "$T/m2" \
    --protocol ESMTP >/dev/null
send --from c@example.org --to "u3@dialup.test NOTIFY=SUCCESS,FAILURE" \
    --to "u4@dialup.test ORCPT=rfc822;orig@example.net" \
    --mail-opt RET=HDRS --mail-opt ENVID=env-three --header "Subject: three" \
    --body "third body" >/dev/null || fail "send"
# 1.5 MB, lines starting with dots: the relay's flow control, stuffing.
python3 -c 'import random, sys
random.seed(7)
sys.stdout.write("Subject: big\n\n")
for i in range(20000):
    sys.stdout.write(("." if i % 50 == 0 else "") +
        "".join(random.choice("abcdefgh ") for _ in range(75)) + "\n")' \
    >"$T/m4"
sb_swaks -f g@example.org -t u6@dialup.test --data "$T/m4" >/dev/null
held 4
for q in $(sb_hold_ids); do
	postcat -c "$PF_CONF" -bq "$q" >"$T/body.$q"
	sender=$(postcat -c "$PF_CONF" -eq "$q" | sed -n 's/^sender: //p')
	echo "$q" >"$T/sender.$sender"
done
out=$(customer s1 normal) || fail "customer: $out"
[ "$out" = "ok 4" ] || fail "customer: $out"
for f in "$T"/s1/*.eml; do
	n=${f%.eml}
	sender=$(sed -n '1s/^MAIL FROM:<\([^>]*\)>.*/\1/p' "$n.env")
	q=$(cat "$T/sender.$sender") || fail "unknown sender $sender"
	sed -n '/^\r$/,$p' "$f" | tr -d '\r' >"$T/got.$q"
	cmp -s "$T/body.$q" "$T/got.$q" ||
	    fail "body of $q differs: $(diff "$T/body.$q" "$T/got.$q" | cat -A)"
done
grep '^MAIL FROM:<c@example.org> SIZE=' "$T"/s1/*.env | grep ' RET=HDRS' |
    grep -q ' ENVID=env-three' || fail "senders: $(cat "$T"/s1/*.env)"
grep -q '^RCPT TO:<u3@dialup.test> .*NOTIFY=SUCCESS,FAILURE' "$T"/s1/*.env &&
    grep -q '^RCPT TO:<u4@dialup.test> .*ORCPT=rfc822;orig@example.net' \
    "$T"/s1/*.env || fail "recipients: $(cat "$T"/s1/*.env)"
wait_for 20 redis_is 0 ZCARD etrn:held:dialup.test || fail "index not empty"
[ "$(sb_queue_count hold)" = 0 ] || fail "hold queue not empty"
wait_for 10 relayed 5 || fail "not relayed: $(grep status= "$PF_LOG")"
grep -q 'odmr end user=cust domains=dialup.test connections=[1-9][0-9]* messages=4 accepted=4 .*reason=done' \
    "$ELOG" || fail "end not logged"
pass "ATRN: 250 and the turn; 4 held messages (8-bit, 1.5 MB with dot lines) arrive once each through the relay, bodies byte for byte (postcat -bq), envelopes right (SIZE, RET, ENVID, NOTIFY, ORCPT); hold queue and index empty; QUIT after odmr_idle"

# 2. The customer refuses one recipient (550) and defers another (450).
dsn0=$(dsn_count)
sb_swaks -f s@example.org -t ok1@dialup.test,bad1@dialup.test,later1@dialup.test \
    --header "Subject: mixed" >/dev/null
held 1
q=$(sb_hold_ids)
exp=$(field "$q" expires)
out=$(customer s2 reject) || fail "customer: $out"
[ "$out" = "ok 1" ] || fail "customer: $out"
grep -q '^RCPT TO:<ok1@dialup.test>' "$T"/s2/1.env || fail "ok1 not delivered"
wait_for 30 dsn_is $((dsn0 + 1)) || fail "DSNs: $(dsn_count), before $dsn0"
d=$(dsns | tail -n 1)
grep -q '^Final-Recipient: rfc822; bad1@dialup.test' "$d" &&
    ! grep -q '^Final-Recipient: rfc822; later1@' "$d" &&
    ! grep -q '^Final-Recipient: rfc822; ok1@' "$d" ||
    fail "DSN: $(cat "$d")"
wait_for 30 eval 'hold_is 1 && state_is "$q" held' ||
    fail "not held again: $(field "$q" state)"
[ "$(field "$q" expires)" = "$exp" ] || fail "deadline moved"
pass "customer 550 for one recipient, 450 for another: one DSN (Postfix's bounce) for the 550 one only; the 450 one held again, its deadline unchanged"
out=$(customer s3 normal) || fail "customer: $out"
[ "$out" = "ok 1" ] || fail "customer: $out"
[ "$(grep -c '^RCPT' "$T"/s3/1.env)" = 1 ] &&
    grep -q '^RCPT TO:<later1@dialup.test>' "$T"/s3/1.env ||
    fail "second ATRN: $(cat "$T"/s3/1.env)"
wait_for 20 redis_is 0 ZCARD etrn:held:dialup.test || fail "index not empty"
dsn_is $((dsn0 + 1)) || fail "another DSN"
pass "a second ATRN delivers the deferred recipient, and only it"

# 3. The customer drops the connection in the middle of a message.
for i in 1 2; do
	sb_swaks -f d@example.org -t "drop$i@dialup.test" \
	    --header "Subject: drop$i" >/dev/null
done
held 2
out=$(customer s4 drop) || fail "customer: $out"
[ "$out" = "ok dropped" ] || fail "customer: $out"
grep -q 'odmr end user=cust .*reason=connection lost' "$ELOG" ||
    fail "end not logged"
wait_for 40 eval 'hold_is 2 && [ -z "$(sb_queue_ids deferred)" ] &&
    [ -z "$(sb_queue_ids active)" ]' || fail "not held again"
for q in $(sb_hold_ids); do
	wait_for 10 state_is "$q" held || fail "$q: $(field "$q" state)"
done
out=$(customer s5 normal) || fail "customer: $out"
[ "$out" = "ok 2" ] || fail "customer: $out"
for i in 1 2; do
	n=$(cat "$T"/s4/*.eml "$T"/s5/*.eml 2>/dev/null |
	    grep -c "^Subject: drop$i" || true)
	[ "$n" = 1 ] || fail "drop$i arrived $n times"
done
wait_for 20 redis_is 0 ZCARD etrn:held:dialup.test || fail "index not empty"
pass "connection dropped mid-DATA: the messages go back on hold; the next ATRN delivers each once"

# 4. Only Postfix's smtp client (odmr_mta_user) may use the relay port.
sb_swaks -f e@example.org -t u5@dialup.test --header "Subject: local" \
    >/dev/null
held 1
nroutes=$(grep -c 'route=smtp:' "$ELOG" || true)
customer s6 normal >"$T/s6.out" 2>&1 &
cpid=$!
wait_for 20 eval '[ "$(grep -c "route=smtp:" "$ELOG")" -gt "$nroutes" ]' ||
    fail "no route"
port=$(grep -o 'route=smtp:\[127.0.0.1\]:[0-9]*' "$ELOG" | tail -n 1 |
    sed 's/.*://')
got=$(python3 -c 'import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), 5)
s.settimeout(5)
print(repr(s.recv(100)))' "$port") || fail "connect: $got"
[ "$got" = "b''" ] || fail "a root process was served: $got"
grep -q "odmr relay port $port: connection refused: not odmr_mta_user" \
    "$ELOG" || fail "refusal not logged"
wait "$cpid" || fail "customer: $(cat "$T/s6.out")"
[ "$(cat "$T/s6.out")" = "ok 1" ] || fail "customer: $(cat "$T/s6.out")"
pass "a local process that is not odmr_mta_user is refused on the relay port (closed, logged); Postfix's delivery goes on"

# 5. fetchmail --protocol ODMR, relaying to the customer's sink.
for i in 1 2; do
	sb_swaks -f f@example.org -t "fm$i@dialup.test" \
	    --header "Subject: fetchmail$i" >/dev/null
done
held 2
cat >"$T/fetchmailrc" <<RC
poll 127.0.0.1 service $ODMR_PORT protocol ODMR auth cram-md5
  user "cust" password "custpw" fetchdomains dialup.test
  sslproto "TLS1.2+" no sslcertck
RC
chmod 600 "$T/fetchmailrc"
(cd "$T" && HOME=$T timeout 120 fetchmail --nosyslog -f "$T/fetchmailrc" \
    --pidfile "$T/fetchmail.pid" \
    -v --smtphost "127.0.0.1/$CUSTOMER_PORT") >"$T/fetchmail.log" 2>&1 || true
sed 's/^/fetchmail: /' "$T/fetchmail.log"
grep -q '250 OK now reversing the connection' "$T/fetchmail.log" ||
    fail "fetchmail: $(cat "$T/fetchmail.log")"
for i in 1 2; do
	[ "$(sb_sink_grep customer "^Subject: fetchmail$i" | wc -l)" = 1 ] ||
	    fail "fetchmail$i not in the customer sink once"
done
wait_for 20 redis_is 0 ZCARD etrn:held:dialup.test || fail "index not empty"
[ "$(sb_queue_count hold)" = 0 ] || fail "hold queue not empty"
grep -q 'odmr end user=cust .*messages=2 accepted=2 .*reason=done' "$ELOG" ||
    fail "fetchmail session: $(grep 'odmr end' "$ELOG" | tail -n 1)"
pass "fetchmail --protocol ODMR --smtphost the customer sink: both held messages arrive there once, through the relay; hold queue and index empty"

# 6. Hostile customers.
sb_swaks -f h@example.org -t h1@dialup.test --header "Subject: hostile" \
    >/dev/null
held 1
nturns=$(grep -c 'odmr turn user=' "$ELOG" || true)
customer s7 no220 >"$T/s7.out" 2>&1 &
cpid=$!
wait_for 10 eval '[ "$(grep -c "odmr turn user=" "$ELOG")" -gt "$nturns" ]' ||
    fail "no turn"
out=$(customer s7b normal) && fail "second session: $out"
[ "$out" = "ATRN 450 4.3.2 Mail for the domain is being delivered in another ODMR session" ] ||
    fail "second session: $out"
wait "$cpid" || fail "customer: $(cat "$T/s7.out")"
out=$(cat "$T/s7.out")
[ "${out%% *}" = closed ] && [ "${out#closed }" -le 8 ] ||
    fail "no 220: $out"
grep -q 'odmr end user=cust .*reason=timeout' "$ELOG" || fail "not logged"
pass "a customer that never sends its 220: closed after etrnd_timeout (${out#closed }s); meanwhile a second ATRN for its domain: 450 4.3.2"
out=$(customer s8 flood220) || fail "customer: $out"
[ "${out%% *}" = closed ] && [ "${out#closed }" -le 5 ] ||
    fail "flood220: $out"
grep -q 'odmr end user=cust .*reason=reply too long' "$ELOG" ||
    fail "not logged"
hold_is 1 || fail "the held message moved"
out=$(customer s9 flood) || fail "customer: $out"
[ "${out%% *}" = closed ] && [ "${out#closed }" -le 5 ] || fail "flood: $out"
grep -q 'odmr end user=cust .*reason=a reply nobody asked for' "$ELOG" ||
    fail "not logged"
out=$(python3 "$SB_SRCDIR/tests/odmr/odmr.py" auth "$ODMR_PORT" cust custpw \
    2>&1) && [ "$out" = ok ] || fail "listener after the floods: $out"
pass "a greeting of endless 220- lines, endless replies nobody asked for: the session ends at once (logged); the listener serves on"

# 7. etrnd's listener down: Postfix's transport lookups fail temporarily.
kill -TERM "$ETRND_PID"
wait_for 20 eval "! alive $ETRND_PID" || fail "etrnd did not stop"
out=$(sb_swaks -f s@example.org -t y@example.com --header "Subject: down" \
    2>&1) && fail "accepted while etrnd was down"
printf '%s\n' "$out" | grep -q '<\*\* *4[0-9][0-9] ' ||
    fail "not a temporary refusal: $out"
sb_restart etrnd
wait_for 20 eval '[ -S "$SB/run/odmr.sock" ] && grep -q "odmr socketmap ready" "$ELOG"' ||
    fail "etrnd did not come back"
# Another address: smtpd keeps its last resolution (a failure too) 30 s.
sb_swaks -f s@example.org -t z@example.com --header "Subject: back" \
    >/dev/null || fail "refused after etrnd came back"
pass "etrnd's listener down: Postfix answers 4xx (transport lookup failure); back up: accepted again"

# 8. odmr_max_session bounds a session, its turn included.
echo "odmr_max_session = 3s" >>"$OPENETRN_CONF"
sb_restart etrnd
wait_for 20 eval '[ "$(grep -c "odmr socketmap ready" "$ELOG")" -ge 3 ]' ||
    fail "etrnd did not come back"
sb_swaks -f m@example.org -t max1@dialup.test --header "Subject: max" \
    >/dev/null
wait_for 20 eval 'hold_is 1 || hold_is 2' || fail "not held"
out=$(customer s10 no220) || fail "customer: $out"
[ "${out%% *}" = closed ] && [ "${out#closed }" -le 4 ] ||
    fail "max session: $out"
grep -q 'odmr end user=cust .*reason=odmr_max_session' "$ELOG" ||
    fail "not logged"
pass "odmr_max_session = 3s ends a turn before etrnd_timeout (5s): closed after ${out#closed }s"
