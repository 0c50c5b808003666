#!/bin/bash
# t-dsn-inject - header injection into expiry DSNs.  Dial-up mail whose
# envelope (a quoted sender local part and a quoted recipient local part
# that read like header fields, ENVID and ORCPT with xtext-encoded CR/LF)
# and headers (an encoded-word Subject with =0D=0A, a folded "Bcc:"
# continuation, a bare CR, an overlong line, fake To:/Bcc:/Cc: fields)
# carry injection attempts is expired with `etrnctl expire`.  Each DSN,
# parsed with Python's email package, must have only the fields a DSN
# builder writes at the top (each once, none injected), To: the envelope
# sender; the delivery-status part no injected field either; the
# original header fields only inside the returned part (message/rfc822
# for RET=FULL, text/rfc822-headers for RET=HDRS); and Postfix must have
# delivered each DSN to its envelope sender and to nobody else.
set -eu
. "${top_srcdir:-$(dirname "$0")/../..}/tests/lib/sandbox.sh"
sb_init sec-dsn
SB_ETRND=1 sb_start
. "$SB_SRCDIR/tests/lib/common.sh"
. "$SB_SRCDIR/tests/security/seclib.sh"

# Two messages by raw SMTP (CR, LF and odd envelopes that smtplib and
# swaks would not send as they are).  Prints the two queue IDs.
rc=0
python3 - "$SMTP_PORT" >"$SB/sent" 2>"$SB/refused" <<'PY' || rc=$?
import re, socket, sys
port = int(sys.argv[1])
def talk(s, line):
    s.sendall(line + b"\r\n")
    buf = b""
    while not re.search(rb"(^|\n)\d{3} [^\n]*\r\n$", buf):
        d = s.recv(4096)
        if not d:
            raise SystemExit("closed after %r" % line)
        buf += d
    return buf.decode("latin-1")
body = (b"Subject: =?utf-8?q?hello=0D=0ABcc:_evil1@attacker.test?=\r\n"
        b"From: <s@example.org>\r\n"
        b"To: evil2@attacker.test\r\n"
        b"Cc: evil3@attacker.test\r\n"
        b"Bcc: evil4@attacker.test\r\n"
        b"X-Folded: first\r\n Bcc: evil5@attacker.test\r\n"
        b"X-Bare-CR: a\rBcc: evil6@attacker.test\r\n"
        b"X-Long: " + b"x" * 1500 + b"\r\n"
        b"X-Injected: original-only\r\n"
        b"\r\nbody line\r\n.")
# Each command with its fallbacks: Postfix itself refuses some attempts
# (ENVID/ORCPT xtext decoding to control characters); the first one
# accepted is used, the refusals are reported on stderr.
msgs = [
    ([b'MAIL FROM:<"bcc: evil7@attacker.test"@example.org> RET=FULL '
      b'ENVID=q1+0D+0ABcc:+20evil8@attacker.test',
      b'MAIL FROM:<"bcc: evil7@attacker.test"@example.org> RET=FULL '
      b'ENVID=q1+2BBcc:+20evil8@attacker.test'],
     [b'RCPT TO:<"To: evil9@attacker.test"@dialup2.test> NOTIFY=FAILURE '
      b'ORCPT=rfc822;a+0D+0ABcc:+20evil10@attacker.test',
      b'RCPT TO:<"To: evil9@attacker.test"@dialup2.test> NOTIFY=FAILURE '
      b'ORCPT=rfc822;a+0ABcc:+20evil10@attacker.test',
      b'RCPT TO:<"To: evil9@attacker.test"@dialup2.test> NOTIFY=FAILURE '
      b'ORCPT=rfc822;"a+3B+20Bcc:+20evil10"@attacker.test']),
    ([b"MAIL FROM:<s2@example.org> RET=HDRS"],
     [b"RCPT TO:<v@dialup2.test> NOTIFY=FAILURE,DELAY "
      b"ORCPT=rfc822;v+0D+0AX-Injected:+20yes@dialup2.test",
      b"RCPT TO:<v@dialup2.test> NOTIFY=FAILURE,DELAY "
      b"ORCPT=utf-8;v\\x{0D}\\x{0A}X-Injected:\\x{20}yes@dialup2.test",
      b"RCPT TO:<v@dialup2.test> NOTIFY=FAILURE,DELAY "
      b"ORCPT=rfc822;v+0AX-Injected:+20yes@dialup2.test",
      b"RCPT TO:<v@dialup2.test> NOTIFY=FAILURE,DELAY "
      b"ORCPT=rfc822;X-Injected:+20yes@dialup2.test"]),
]
for mails, rcpts in msgs:
    s = socket.create_connection(("127.0.0.1", port), 30)
    s.recv(4096)
    talk(s, b"EHLO client.test")
    for cands in (mails, rcpts):
        for l in cands:
            r = talk(s, l)
            if r[0] == "2":
                break
            sys.stderr.write("refused: %r: %s" % (l, r))
        else:
            raise SystemExit("all refused: %r" % cands)
    r = talk(s, b"DATA")
    if r[0] != "3":
        raise SystemExit("DATA: " + r)
    r = talk(s, body)
    m = re.search(r"queued as (\w+)", r)
    if not m:
        raise SystemExit("DATA: " + r)
    print(m.group(1))
    talk(s, b"QUIT")
PY
[ "$rc" = 0 ] || fail "send: $(cat "$SB/refused")"
wait_for 10 hold_is 2 || fail "not held: $(sb_queue_count hold)"
wait_for 10 redis_is 2 ZCARD etrn:held:dialup2.test || fail "not indexed"
pass "2 messages with injection attempts held ($(grep -c '^refused' "$SB/refused") parameter forms refused by Postfix or the milter)"

for q in $(cat "$SB/sent"); do
	ctl expire "$q" >/dev/null || fail "etrnctl expire $q"
done
wait_for 30 eval '[ "$(dsns | wc -l)" = 2 ]' || fail "DSNs: $(dsns | wc -l)"
wait_for 10 hold_is 0 || fail "hold queue: $(sb_queue_count hold)"
[ "$(sb_sink_count internet)" = 2 ] || fail "internet sink: $(sb_sink_count internet) messages"
[ "$(sb_sink_count customer)" = 0 ] || fail "the customer got mail"
pass "expired: 2 DSNs, nothing else sent"

# shellcheck disable=SC2046 # sink file names have no blanks
python3 - $(dsns) <<'PY' || fail "DSN content"
import email, email.policy, re, sys
TOP = {"from", "to", "subject", "date", "message-id", "auto-submitted",
       "mime-version", "content-type", "content-transfer-encoding",
       "received", "return-path", "x-original-to", "delivered-to"}
SINK = {"x-client-addr", "x-client-proto", "x-helo-args", "x-mail-args",
        "x-rcpt-args"}
ONCE = ["from", "to", "subject", "date", "message-id", "auto-submitted",
        "mime-version", "content-type"]
senders = {'"bcc: evil7@attacker.test"@example.org': "message/rfc822",
           "s2@example.org": "text/rfc822-headers"}
seen = set()
for path in sys.argv[1:]:
    raw = open(path, "rb").read()
    # smtp-sink's own lines first (X-Mail-Args, X-Rcpt-Args); then the
    # message as Postfix delivered it.
    rcpts = re.findall(rb"^X-Rcpt-Args: <(.*?)>(?: |$)", raw, re.M)
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    names = [k.lower() for k in msg.keys() if k.lower() not in SINK]
    extra = set(names) - TOP
    assert not extra, (path, "fields not a DSN's", extra)
    for n in ONCE:
        assert names.count(n) == 1, (path, n, names.count(n))
    assert "bcc" not in names and "cc" not in names and "x-injected" \
        not in names, (path, names)
    to = msg["To"].addresses
    assert len(to) == 1, (path, str(msg["To"]))
    addr = to[0].addr_spec
    assert addr in senders, (path, "To", addr)
    assert [r.decode() for r in rcpts] == [addr], (path, "envelope", rcpts)
    for k in ONCE:
        v = str(msg[k])
        if k == "to":
            v = v.replace(addr, "")
        assert "evil" not in v and "\r" not in v and "\n" not in v, \
            (path, k, v)
    assert msg.get_content_type() == "multipart/report", path
    parts = msg.get_payload()
    assert len(parts) == 3, (path, len(parts))
    st = parts[1]
    assert st.get_content_type() == "message/delivery-status", path
    sraw = st.as_bytes()
    for bad in (b"\nBcc:", b"\nX-Injected:", b"\nbcc:"):
        assert bad not in sraw, (path, "delivery-status", sraw)
    ret = parts[2]
    assert ret.get_content_type() == senders[addr], \
        (path, ret.get_content_type())
    text = ret.as_string()
    for want in ("X-Injected: original-only", "Cc: evil3@attacker.test",
                 "To: evil2@attacker.test", "hello=0D=0ABcc"):
        assert want in text, (path, "returned part lacks", want)
    assert msg.defects == [], (path, msg.defects)
    seen.add(addr)
    print("ok %s -> %s, fields %s" % (path.rsplit("/", 1)[-1], addr,
                                      ",".join(sorted(set(names)))))
assert seen == set(senders), seen
PY
pass "each DSN: only DSN fields at the top, To: the envelope sender; the original only in the returned part"

# Postfix delivered the DSNs to the two senders and nobody else.
grep -E 'status=sent' "$PF_LOG" | grep -o 'to=<[^>]*>' | sort -u >"$SB/to"
want='to=<"bcc: evil7@attacker.test"@example.org>
to=<s2@example.org>'
[ "$(cat "$SB/to")" = "$want" ] || fail "delivered to: $(cat "$SB/to")"
schema_check
pass "Postfix delivered only to the envelope senders: $(paste -sd' ' "$SB/to")"

stop_and_check_logs
pass "clean stop: no daemon ignored SIGTERM, no sanitizer report in any log"
