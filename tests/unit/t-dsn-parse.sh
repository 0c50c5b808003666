#!/bin/sh
# t-dsn-parse - the DSNs dsn_build() writes, parsed by an independent MIME
# parser (Python's email package, policy.default): for every dsn-dump
# scenario the message is a multipart/report (report-type
# delivery-status) of exactly three parts, the second a
# message/delivery-status whose per-message and per-recipient fields
# carry the expected values, the third of the expected type; nothing
# anywhere has a header named like an injection attempt, and no message
# or part has parser defects.  An original with UTF-8 headers comes back
# as message/global (RET=FULL) or message/global-headers (RET=HDRS), its
# headers readable as UTF-8; an 8-bit part says Content-Transfer-Encoding
# 8bit, a 7-bit DSN has no 8-bit octet.
#
# Downgraded (dsn-dump SCENARIO 7bit|noutf8, dsn_downgrade): for a server
# without 8BITMIME no octet is 8-bit; an 8-bit text part is
# quoted-printable with the same decoded text; an 8-bit message/rfc822
# becomes text/rfc822-headers holding exactly the returned header section
# (quoted-printable if it is 8-bit),
# and the text says only the headers are attached; message/global and
# message/global-headers stay, quoted-printable, decoding to the octets
# the undowngraded DSN carried.  For a server without SMTPUTF8 only the
# message/global parts change; the other parts are left byte for byte.
#
# The program is tests/unit/dsn-dump (env DSN_DUMP overrides).  Exit 77
# (skipped) without python3.
set -u
DSN_DUMP=${DSN_DUMP:-./tests/unit/dsn-dump}
command -v python3 >/dev/null 2>&1 || { echo "SKIP: no python3"; exit 77; }
[ -x "$DSN_DUMP" ] || { echo "FAIL: no $DSN_DUMP (build it)"; exit 1; }
export DSN_DUMP

exec python3 - <<'EOF'
import email
import email.policy
import os
import subprocess
import sys

DUMP = os.environ["DSN_DUMP"]
MTA = "dns; mx.lab.test"
BAD_NAMES = {"bcc", "x-injected"}
TOP_ONCE = ["From", "To", "Subject", "Date", "Message-ID", "Auto-Submitted",
            "MIME-Version", "Content-Type"]
failures = 0


def check(cond, what):
    global failures
    if not cond:
        failures += 1
        print("FAIL %s: %s" % (scenario, what))


def rcpt(final, action, status, orcpt=None):
    return {"Final-Recipient": final, "Action": action, "Status": status,
            "Original-Recipient": orcpt}


# scenario: (subject, envid, recipients, part 3 type, ASCII headers)
EXPECT = {
    "failed-hdrs": ("Undelivered Mail Returned to Sender", "QQ314159+x", [
        rcpt("rfc822; bob@dialup.test", "failed", "4.4.7",
             "rfc822;bob+filter@dialup.test"),
        rcpt("rfc822; dave@dialup.test", "failed", "4.4.7")],
        "text/rfc822-headers", True),
    "failed-full": ("Undelivered Mail Returned to Sender", None, [
        rcpt("rfc822; bob@dialup.test", "failed", "4.4.7",
             "rfc822;bob@dialup.test")], "message/rfc822", True),
    "delayed": ("Delayed Mail (still being held)", None, [
        rcpt("rfc822; bob@dialup.test", "delayed", "4.4.1")],
        "text/rfc822-headers", True),
    "utf8": ("Undelivered Mail Returned to Sender", None, [
        rcpt("utf-8; j\\x{F6}rg@dialup.test", "failed", "4.4.7"),
        rcpt("utf-8; \\x{535A}@dialup.test", "failed", "4.4.7",
             "utf-8;\\x{535A}@dialup.test")], "message/rfc822", False),
    "injection": ("Undelivered Mail Returned to Sender",
                  "x+0D+0ABcc:+20evil@x", [
        rcpt("rfc822; bob@dialup.test", "failed", "4.4.7",
             "rfc822;a+0D+0AX-Injected:+201"),
        rcpt("rfc822; eve@dialup.test??X-Injected: 2", "failed", "4.4.7",
             "rfc822;x+0AFinal-Recipient:+20rfc822;+20evil@x")],
        "message/rfc822", False),
    "empty": ("Undelivered Mail Returned to Sender", None, [
        rcpt("rfc822; bob@dialup.test", "failed", "4.4.7",
             "rfc822;bob@dialup.test")], "text/plain", True),
    "global-full": ("Undelivered Mail Returned to Sender", None, [
        rcpt("rfc822; bob@dialup.test", "failed", "4.4.7",
             "rfc822;bob@dialup.test")], "message/global", False),
    "global-hdrs": ("Undelivered Mail Returned to Sender", None, [
        rcpt("rfc822; bob@dialup.test", "failed", "4.4.7",
             "rfc822;bob@dialup.test")], "message/global-headers", False),
}
# The scenarios whose DSN has 8-bit octets (BODY=8BITMIME on submission).
EIGHT_BIT = {"failed-full", "utf8", "global-full", "global-hdrs"}


def check_status(ds, envid, rcpts):
    blocks = ds.get_payload()
    check(isinstance(blocks, list) and len(blocks) == 1 + len(rcpts),
          "delivery-status blocks: %r" % (blocks,))
    if not isinstance(blocks, list) or len(blocks) != 1 + len(rcpts):
        return
    pm = blocks[0]
    check(pm["Reporting-MTA"] == MTA, "Reporting-MTA %r" % pm["Reporting-MTA"])
    check(pm["Original-Envelope-Id"] == envid,
          "Original-Envelope-Id %r" % pm["Original-Envelope-Id"])
    check(pm["Arrival-Date"] is not None, "no Arrival-Date")
    for block, want in zip(blocks[1:], rcpts):
        for name, value in want.items():
            got = block[name]
            check(got == value, "%s: got %r, want %r" % (name, got, value))
            check(len(block.get_all(name) or []) <= 1, "%s twice" % name)
        check(block["Diagnostic-Code"] is not None and
              block["Diagnostic-Code"].startswith("X-Openetrn; "),
              "Diagnostic-Code %r" % block["Diagnostic-Code"])
        check((block["Will-Retry-Until"] is not None) ==
              (want["Action"] == "delayed"), "Will-Retry-Until")


def check_walk(msg, ascii_headers):
    for part in msg.walk():
        check(not part.defects, "defects in %s: %r" %
              (part.get_content_type(), part.defects))
        for name, value in part.items():
            check(name.lower() not in BAD_NAMES,
                  "injected header %s: %r" % (name, value))
            if ascii_headers:
                check(not getattr(value, "defects", ()),
                      "header %s defects %r" % (name, value.defects))


def check_original(part, want_type, msg, raw):
    check(part.get_content_type() == want_type,
          "part 3 %s, want %s" % (part.get_content_type(), want_type))
    if want_type == "message/rfc822":
        inner = part.get_payload()[0]
        check("X-ETRN-Hold" not in inner, "X-ETRN-Hold returned")
        check(inner["Message-ID"] is not None, "inner Message-ID")
        body = inner.get_payload(decode=True) or b""
        if scenario == "injection":
            check(not inner.is_multipart() and b"X-Injected: 3" in body,
                  "forged MIME structure not kept as body text")
        elif b"this body line" in body:
            check(b"X-ETRN-Hold: this body line stays" in body,
                  "body line altered")
    elif want_type in ("message/global", "message/global-headers"):
        check(part["Content-Transfer-Encoding"] == "8bit",
              "8-bit part without CTE 8bit")
        # The returned headers, read from the raw octets as UTF-8.
        chunks = raw.split(b"\n--" + msg.get_boundary().encode())
        text = chunks[3].split(b"\n\n", 1)[1].decode("utf-8") + "\n"
        inner = email.message_from_string(text, policy=email.policy.default)
        check(inner["Subject"] == "Gr\u00fc\u00dfe aus K\u00f6ln",
              "UTF-8 Subject %r" % inner["Subject"])
        check("X-ETRN-Hold" not in inner, "X-ETRN-Hold returned")
        body = inner.get_payload()
        if want_type == "message/global-headers":
            check(not body.strip(), "body returned with HDRS: %r" % body)
        else:
            check("Gr\u00fc\u00dfe." in body, "body not returned: %r" % body)
    elif want_type == "text/rfc822-headers":
        text = part.get_content()
        check("x-etrn-hold" not in text.lower() and "token=" not in text,
              "X-ETRN-Hold returned: %r" % text)
        check("Subject: Minutes\n" in text and "\r" not in text,
              "headers not returned with LF line ends: %r" % text)


def run(name):
    subject, envid, rcpts, ptype, ascii_headers = EXPECT[name]
    data = subprocess.run([DUMP, name], stdout=subprocess.PIPE,
                          check=True).stdout
    check(b"\r" not in data, "CR in output")
    check(any(c >= 128 for c in data) == (name in EIGHT_BIT),
          "8-bit octets: want %s" % (name in EIGHT_BIT))
    check(all(len(l) <= 998 for l in data.split(b"\n")), "line > 998")
    msg = email.message_from_bytes(data, policy=email.policy.default)
    check(msg.is_multipart(), "not multipart")
    check(msg.get_content_type() == "multipart/report",
          "type %s" % msg.get_content_type())
    check(msg.get_param("report-type") == "delivery-status", "report-type")
    for h in TOP_ONCE:
        check(len(msg.get_all(h) or []) == 1, "header %s not once" % h)
    check(msg["Subject"] == subject, "Subject %r" % msg["Subject"])
    check(msg["Auto-Submitted"] == "auto-replied", "Auto-Submitted")
    parts = msg.get_payload()
    check(len(parts) == 3, "%d parts" % len(parts))
    if len(parts) != 3:
        return
    check(parts[0].get_content_type() == "text/plain", "part 1 type")
    check("dialup.test" in parts[0].get_content(), "part 1 names domain")
    check(parts[1].get_content_type() == "message/delivery-status",
          "part 2 type %s" % parts[1].get_content_type())
    check_status(parts[1], envid, rcpts)
    check_original(parts[2], ptype, msg, data)
    check_walk(msg, ascii_headers)
    if name == "utf8":
        check(parts[0].get_content_charset() == "utf-8", "part 1 charset")
        check("j\u00f6rg@dialup.test" in parts[0].get_content(),
              "UTF-8 recipient in the text")


def raw_parts(data):
    """The three parts of a DSN as (header, content) octets."""
    msg = email.message_from_bytes(data, policy=email.policy.default)
    chunks = data.split(b"\n--" + msg.get_boundary().encode())
    return [tuple(c.split(b"\n\n", 1)) for c in chunks[1:4]]


def cte(header):
    for line in header.split(b"\n"):
        if line.lower().startswith(b"content-transfer-encoding:"):
            return line.split(b":", 1)[1].strip().decode()
    return None


# scenario, mode: the third part's type and encoding after downgrading
DOWN = {
    ("failed-full", "7bit"): ("text/rfc822-headers", None),
    ("failed-hdrs", "7bit"): ("text/rfc822-headers", None),
    ("utf8", "7bit"): ("text/rfc822-headers", None),
    ("global-full", "7bit"): ("message/global", "quoted-printable"),
    ("global-hdrs", "7bit"): ("message/global-headers", "quoted-printable"),
    ("global-full", "noutf8"): ("message/global", "quoted-printable"),
    ("global-hdrs", "noutf8"): ("message/global-headers",
                                "quoted-printable"),
    ("failed-full", "noutf8"): ("message/rfc822", "8bit"),
}


def run_down(name, mode):
    import quopri
    want_type, want_cte = DOWN[(name, mode)]
    full = subprocess.run([DUMP, name], stdout=subprocess.PIPE,
                          check=True).stdout
    data = subprocess.run([DUMP, name, mode], stdout=subprocess.PIPE,
                          check=True).stdout
    if mode == "7bit":
        # utf8 has a UTF-8 sender in To: (it needs SMTPUTF8 in any case)
        body = data.split(b"\n\n", 1)[1]
        check(not any(c >= 128 for c in body), "8-bit octet left")
    check(all(len(l) <= 998 for l in data.split(b"\n")), "line > 998")
    msg = email.message_from_bytes(data, policy=email.policy.default)
    check(msg.get_content_type() == "multipart/report", "not a report")
    parts = msg.get_payload()
    check(len(parts) == 3, "%d parts" % len(parts))
    check_walk(msg, name != "utf8")
    check(parts[2].get_content_type() == want_type,
          "part 3 %s, want %s" % (parts[2].get_content_type(), want_type))
    old, new = raw_parts(full), raw_parts(data)
    check(cte(new[2][0]) == want_cte,
          "part 3 CTE %s, want %s" % (cte(new[2][0]), want_cte))
    if mode == "noutf8":
        check(old[0] == new[0] and old[1] == new[1],
              "parts 1, 2 changed without need")
    for i in range(3):
        body = new[i][1]
        if cte(new[i][0]) == "quoted-printable":
            body = quopri.decodestring(body)
        if i == 2 and want_type == "text/rfc822-headers" and \
                old[2][0].find(b"message/rfc822") >= 0:
            want = old[2][1].split(b"\n\n", 1)[0] + b"\n"
        else:
            want = old[i][1]
        if i == 0 and want_type == "text/rfc822-headers" and \
                b"message/rfc822" in old[2][0]:
            check(b"Only the headers of your message are attached" in body,
                  "no note that only the headers are attached")
            body = body.split(b"\nOnly the headers", 1)[0]
        check(body == want, "part %d content changed: %r, want %r"
              % (i + 1, body[:300], want[:300]))


for scenario, mode in DOWN:
    before = failures
    try:
        run_down(scenario, mode)
    except Exception as e:
        failures += 1
        print("FAIL %s %s: %s: %s" % (scenario, mode, type(e).__name__, e))
    print("%s %s %s" % ("ok" if failures == before else "not ok", scenario,
                        mode))

for scenario in EXPECT:
    before = failures
    try:
        run(scenario)
    except Exception as e:  # a crash is a failure of this scenario
        failures += 1
        print("FAIL %s: %s: %s" % (scenario, type(e).__name__, e))
    print("%s %s" % ("ok" if failures == before else "not ok", scenario))
print("%d scenarios, %d failures" % (len(EXPECT) + len(DOWN), failures))
sys.exit(1 if failures else 0)
EOF
