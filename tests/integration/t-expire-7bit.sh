#!/bin/bash
# t-expire-7bit - a DSN server without 8BITMIME and SMTPUTF8 (the DSN
# smtpd discards both EHLO keywords): DSNs are downgraded, never sent
# 8-bit undeclared.  A held message with an 8-bit body (RET=FULL) comes
# back with its headers only, as text/rfc822-headers, and the text says
# so; an SMTPUTF8 message's UTF-8 headers (RET=HDRS) come back as
# message/global-headers in quoted-printable, decoding to the UTF-8
# Subject; both are submitted with no BODY or SMTPUTF8 parameter and
# carry no 8-bit octet.  A UTF-8 sender cannot be reached without
# SMTPUTF8: its DSN is refused for good and logged, none is sent.  etrnd
# logs each downgrade with the queue ID.
set -eu
. "${top_srcdir:-$(dirname "$0")/../..}/tests/lib/sandbox.sh"
sb_init expire-7bit
SB_ETRND=1 sb_start
. "$SB_SRCDIR/tests/lib/common.sh"
. "$SB_SRCDIR/tests/integration/expire-dsn.sh"
ETRND_LOG=$SB_LOG_DIR/etrnd.log

svc="127.0.0.1:$DSN_PORT/inet"
postconf -c "$PF_CONF" -P "$svc/debug_peer_list=127.0.0.1" \
    "$svc/smtpd_discard_ehlo_keywords=8bitmime,smtputf8"
postfix -c "$PF_CONF" reload >/dev/null 2>&1 || fail "postfix reload"
# dsn_ehlo_plain - the DSN smtpd offers neither extension any more
dsn_ehlo_plain() {
	python3 - "$DSN_PORT" <<'PY'
import smtplib, sys
s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), local_hostname="probe.test",
                 timeout=5)
s.ehlo()
bad = s.has_extn("8bitmime") or s.has_extn("smtputf8")
s.quit()
sys.exit(1 if bad else 0)
PY
}
wait_for 15 dsn_ehlo_plain || fail "the DSN smtpd still offers 8BITMIME"
send_four
wait_for 40 dsn_is 3 || fail "want 3 DSNs, got $(dsns | grep -c . || true)"
wait_for 20 grep -q "DSN to <j.*rg@example.org> refused for good, none sent: DSN server does not offer SMTPUTF8" "$ETRND_LOG" ||
    fail "the UTF-8 sender's DSN was not refused: $(tail -20 "$ETRND_LOG")"
sleep 2
dsn_is 3 || fail "a DSN to the UTF-8 sender was sent after all"
pass "3 DSNs; the UTF-8 sender's is refused for good (no SMTPUTF8) and logged"

# check_dsn SENDER TYPE CTE - part 3's type and Content-Transfer-Encoding
# ("" none); no 8-bit octet; no MAIL parameter at the sink
check_dsn() {
	local f
	f=$(dsn_of "$1")
	python3 - "$f" "$2" "$3" <<'PY' || fail "DSN to $1: content"
import email, email.policy, sys
raw = open(sys.argv[1], "rb").read()
assert not any(c >= 128 for c in raw), "8-bit octet in a 7-bit DSN"
msg = email.message_from_bytes(raw, policy=email.policy.default)
assert msg.get_content_type() == "multipart/report", msg.get_content_type()
parts = msg.get_payload()
assert len(parts) == 3, len(parts)
p = parts[2]
assert p.get_content_type() == sys.argv[2], p.get_content_type()
assert (p["Content-Transfer-Encoding"] or "") == sys.argv[3], \
    p["Content-Transfer-Encoding"]
for part in msg.walk():
    assert not part.defects, part.defects
text = parts[0].get_content()
# Part 3's content from the octets (email parses message/* into objects).
import quopri
chunk = raw.split(b"\n--" + msg.get_boundary().encode())[3]
head, data = chunk.split(b"\n\n", 1)
if b"quoted-printable" in head.lower():
    data = quopri.decodestring(data)
if sys.argv[2] == "text/rfc822-headers":
    assert "Only the headers of your message are attached" in text, text
    assert b"Subject: eight bit body" in data, data
    assert b"Gr" not in data, "the body came back: %r" % data
if sys.argv[2] == "message/global-headers":
    s = data.decode("utf-8")
    assert "Subject: Gr\u00fc\u00dfe\n" in s.replace("\r\n", "\n"), s
    assert "X-ETRN-Hold" not in s, s
PY
	grep -q -m1 -E '^X-Mail-Args: <>$' "$f" ||
	    fail "DSN to $1: MAIL parameters at the sink: $(grep -m1 X-Mail-Args "$f")"
}
check_dsn plain@example.org message/rfc822 ""
check_dsn eight@example.org text/rfc822-headers ""
check_dsn hdrs@example.org message/global-headers quoted-printable
pass "downgraded: 8-bit body returned as text/rfc822-headers, UTF-8 headers as quoted-printable message/global-headers; no 8-bit octet"

mails=$(dsn_mails)
[ "$mails" = "3 " ] || fail "submissions: got [$mails], want [3 ]"
n=$(grep -c -E '^.*[0-9A-Za-z]+: DSN to <(eight|hdrs)@example.org> downgraded for a DSN server without 8BITMIME$' "$ETRND_LOG" || true)
[ "$n" = 2 ] || fail "downgrades logged: $n, want 2: $(grep downgraded "$ETRND_LOG")"
pass "submitted without BODY or SMTPUTF8; each downgrade logged with its queue ID"
