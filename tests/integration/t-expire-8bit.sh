#!/bin/bash
# t-expire-8bit - DSNs declare what they carry: a held message with an
# 8-bit body (BODY=8BITMIME, RET=FULL) comes back as message/rfc822 with
# Content-Transfer-Encoding 8bit in a DSN submitted with BODY=8BITMIME;
# an SMTPUTF8 message with raw UTF-8 headers comes back as
# message/global-headers (RET=HDRS) or, from a UTF-8 sender, as
# message/global (RET=FULL), submitted with BODY=8BITMIME and SMTPUTF8;
# a 7-bit message's DSN is 7bit, message/rfc822, with neither.  Postfix
# takes each submission (its DSN smtpd logs the MAIL command: debug_peer_
# list), and the sink's X-Mail-Args shows BODY=8BITMIME passed on.  The
# sink announces no SMTPUTF8: the DSN to the UTF-8 address keeps its
# SMTPUTF8 requirement through the release (the queue file is released
# as it was accepted, not passed through cleanup again), so Postfix
# refuses to hand it to the sink ("SMTPUTF8 is required") rather than
# send a UTF-8 address to a server that did not offer SMTPUTF8.
set -eu
. "${top_srcdir:-$(dirname "$0")/../..}/tests/lib/sandbox.sh"
sb_init expire-8bit
SB_ETRND=1 sb_start
. "$SB_SRCDIR/tests/lib/common.sh"
. "$SB_SRCDIR/tests/integration/expire-dsn.sh"

# The DSN smtpd logs each client command (the MAIL FROM parameters).
postconf -c "$PF_CONF" -P "127.0.0.1:$DSN_PORT/inet/debug_peer_list=127.0.0.1"
# Postfix's smtp client checks "SMTPUTF8 is required" when it greets the
# server, not on a cached connection: one connection per delivery, so the
# DSN to the UTF-8 address meets that check whatever the order.
postconf -c "$PF_CONF" -e smtp_connection_cache_on_demand=no
postfix -c "$PF_CONF" reload >/dev/null 2>&1 || fail "postfix reload"
send_four
wait_for 40 dsn_is 3 || fail "want 3 DSNs, got $(dsns | grep -c . || true)"
# Its deadline may come a sweep after the other three.
wait_for 20 grep -q ': DSN to <j[^>@]*rg@example.org> on hold as ' "$SB/log/etrnd.log" ||
    fail "no DSN to the UTF-8 address on hold"
uq=$(sed -n 's/.*: DSN to <j[^>@]*rg@example.org> on hold as \([0-9A-Za-z]*\)$/\1/p' "$SB/log/etrnd.log")
[ -n "$uq" ] || fail "no DSN to the UTF-8 address on hold"
wait_for 20 grep -q "$uq: to=<j.*rg@example.org>.*SMTPUTF8 is required, but was not offered" "$PF_LOG" ||
    fail "the DSN $uq to the UTF-8 address: $(grep "$uq" "$PF_LOG" | tail -n 2)"
sleep 1
[ "$(dsns | grep -c . || true)" = 3 ] || fail "a DSN reached the sink without SMTPUTF8"
pass "the DSN to the UTF-8 address kept SMTPUTF8 to delivery: not sent to a sink without it ($uq)"

# check_dsn SENDER TYPE CTE8 MAILARGS - part 3 type, its 8bit CTE (0/1)
# and the MAIL parameters at the sink (grep -E on X-Mail-Args)
check_dsn() {
	local f
	f=$(dsn_of "$1")
	python3 - "$f" "$2" "$3" <<'PY' || fail "DSN to $1: content"
import email, email.policy, sys
msg = email.message_from_bytes(open(sys.argv[1], "rb").read(),
                               policy=email.policy.default)
assert msg.get_content_type() == "multipart/report", msg.get_content_type()
parts = msg.get_payload()
assert len(parts) == 3, len(parts)
assert parts[2].get_content_type() == sys.argv[2], parts[2].get_content_type()
cte8 = parts[2]["Content-Transfer-Encoding"] == "8bit"
assert cte8 == (sys.argv[3] == "1"), parts[2]["Content-Transfer-Encoding"]
PY
	grep -q -m1 -E "^X-Mail-Args: $4\$" "$f" ||
	    fail "DSN to $1: MAIL parameters at the sink: $(grep -m1 X-Mail-Args "$f"), want $4"
}
check_dsn plain@example.org message/rfc822 0 '<>'
check_dsn eight@example.org message/rfc822 1 '<> BODY=8BITMIME'
# The sink does not announce SMTPUTF8, so Postfix cannot pass it on:
# SMTPUTF8 is checked at the submission below.
check_dsn hdrs@example.org message/global-headers 1 '<> BODY=8BITMIME'
pass "returned parts: message/rfc822 (7bit, 8bit), message/global-headers; BODY=8BITMIME reached the sink"

# What etrnd sent to the DSN smtpd, from Postfix's debug log.
mails=$(dsn_mails)
want=$(printf '%s\n' '1 ' '1  BODY=8BITMIME' '2  BODY=8BITMIME SMTPUTF8' | sort)
[ "$mails" = "$want" ] || fail "submissions: got [$mails], want [$want]"
grep -a 'postfix/openetrn-dsn/smtpd.*> localhost\[127.0.0.1\]: 250 2.0.0 Ok: queued as' "$PF_LOG" |
    grep -c . | grep -qx 4 || fail "Postfix did not accept 4 DSNs"
pass "submitted with BODY=8BITMIME (8-bit) and SMTPUTF8 (UTF-8 headers); Postfix accepted all 4"
