#!/usr/bin/env python3
"""hostile.py - hostile input for each of openetrn's entry points.

usage: hostile.py etrnd PORT CANARY        ETRN <payload> to etrnd
       hostile.py policy SOCKET CANARY     requests to etrn-policy
       hostile.py etrnctl ETRNCTL CONF CANARY
       hostile.py smtp PORT CANARY         RCPT TO with hostile domains
                                           and local parts, via Postfix
       hostile.py odmr PORT USER PASSWORD  garbage, huge and nested AUTH,
                                           ATRN with thousands of items
Each mode prints one line per refused payload and "BAD: ..." for each
one that was not refused as it should have been; exit status 1 if any.
The payloads: shell metacharacters (commands that would create CANARY),
Redis protocol and glob characters, CR/LF, NUL, non-ASCII octets,
overlong arguments and leading dashes (postsuper option injection).
"""
import base64
import hmac
import random
import socket
import subprocess
import sys


def payloads(canary, nul=True, crlf=True):
    c = canary.encode()
    p = [
        b"dialup.test;touch " + c, b"dialup.test|touch " + c,
        b"dialup.test&&touch " + c, b"$(touch " + c + b")",
        b"`touch " + c + b"`", b"dialup.test>" + c, b"dialup.test<" + c,
        b"dialup.test touch " + c, b"'dialup.test'", b'"dialup.test"',
        b"*", b"?", b"dialup.te?t", b"dialup.[t]est", b"dialup.test*",
        b"dialup.test\\", b"etrn:*", b"etrn:domains",
        b"\xff\xfe\x80garbage", b"d\xc3\xa9\xff.test", b"\x1b[2J.test",
        b"a" * 300, b"a." * 150, b"a" * 600, b"a" * 5000,
        b"-d ALL", b"-rALL", b"-d", b"--", b"-H", b"--help",
    ]
    if crlf:
        p += [b"bad;\r\n*1\r\n$8\r\nFLUSHALL", b"x;\r\n*1\r\n$8\r\nFLUSHALL\r\n",
              b"bad;\nFLUSHALL", b"dialup.test\rFLUSHALL"]
    if nul:
        p += [b"dialup.test\x00;touch " + c, b"\x00"]
    return p


def recv_lines(s, until):
    buf = b""
    s.settimeout(10)
    try:
        while not until(buf):
            d = s.recv(65536)
            if not d:
                break
            buf += d
    except socket.timeout:
        pass
    return buf.decode("latin-1").splitlines()


def mode_etrnd(port, canary):
    bad = 0
    for p in payloads(canary):
        s = socket.create_connection(("127.0.0.1", port), 10)
        recv_lines(s, lambda b: b.endswith(b"\n"))
        s.sendall(b"EHLO client.test\r\n")
        recv_lines(s, lambda b: b"\n250 " in b or b.startswith(b"250 "))
        s.sendall(b"ETRN " + p + b"\r\nQUIT\r\n")
        lines = recv_lines(s, lambda b: b"\n221 " in b or
                           b.startswith(b"221 ") or b"421 " in b)
        s.close()
        codes = [l[:3] for l in lines]
        replies = codes[:-1] if codes and codes[-1] in ("221", "421") \
            else codes
        if not replies or any(c not in ("459", "500", "501", "502")
                              for c in replies):
            print("BAD: etrnd ETRN %r: %r" % (p[:60], lines))
            bad += 1
        else:
            print("refused: %r -> %s" % (p[:40], " ".join(codes)))
    return bad


def policy_one(sock, attrs):
    s = socket.socket(socket.AF_UNIX)
    s.connect(sock)
    s.sendall(b"".join(k + b"=" + v + b"\n" for k, v in attrs) + b"\n")
    lines = recv_lines(s, lambda b: b.endswith(b"\n\n"))
    s.close()
    return [l for l in lines if l]


def mode_policy(sock, canary):
    bad = 0
    for p in payloads(canary, crlf=False):
        base = [(b"request", b"smtpd_access_policy"),
                (b"protocol_state", b"ETRN"),
                (b"protocol_name", b"ESMTP")]
        for what, attrs in (
                ("etrn_domain", base + [(b"client_address", b"127.0.0.1"),
                                        (b"etrn_domain", p)]),
                ("client_address", base + [(b"client_address", p),
                                           (b"etrn_domain", b"dialup.test")]),
                ("sasl_username", base + [(b"client_address", b"192.0.2.9"),
                                          (b"sasl_username", p),
                                          (b"etrn_domain", b"dialup.test")])):
            lines = policy_one(sock, attrs)
            # An answer refuses, or the server closed on a protocol error.
            # 458: the per-client ETRN rate limit, also a refusal.
            ok = lines == [] or (len(lines) == 1 and lines[0].startswith(
                ("action=459 ", "action=458 4.7.1 Too many ETRN")))
            if not ok:
                print("BAD: policy %s %r: %r" % (what, p[:60], lines))
                bad += 1
        rcpt = base[:1] + [(b"protocol_state", b"RCPT"),
                           (b"client_address", b"127.0.0.1"),
                           (b"sender", b"s@example.org"),
                           (b"recipient", b"u@" + p)]
        lines = policy_one(sock, rcpt)
        if lines and not lines[0].startswith("action=DUNNO"):
            print("BAD: policy recipient u@%r: %r" % (p[:60], lines))
            bad += 1
    print("policy: %d payloads refused" % len(payloads(canary, crlf=False)))
    return bad


def mode_etrnctl(etrnctl, conf, canary):
    bad = n = 0

    def refused(words):
        """Run etrnctl with words; True when it exits 1 or 2 (refused)."""
        full = [etrnctl.encode(), b"-c", conf.encode()] + words
        r = subprocess.run(full, stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=30)
        if r.returncode in (1, 2):
            return True
        print("BAD: etrnctl %r exit %d: %r %r" % (
            b" ".join(words)[:80], r.returncode, r.stdout[:200],
            r.stderr[:200]))
        return False

    cmds = [["flush"], ["list"], ["release"], ["expire"], ["domains", "add"],
            ["domains", "del"], ["domains", "show"], ["status"]]
    args = [p.decode("latin-1").encode("latin-1")
            for p in payloads(canary, nul=False)]
    args += [b"ALL", b"a", b"-"]
    for cmd in cmds:
        for a in args:
            if a in (b"ALL", b"a", b"-") and cmd[0] not in ("release",
                                                            "expire"):
                continue
            for argv in ([a], a.split(b" ")) if b" " in a else ([a],):
                n += 1
                bad += not refused([x.encode() for x in cmd] + argv)
    # Hostile values and keys for a real dial-up domain's settings.
    for key in (b"hold_time", b"warn_time", b"allow", b"max_messages",
                b"max_bytes", b"sasl_users"):
        for a in args:
            # sasl_users are login names, compared exactly: any
            # printable word is a name; control characters are refused.
            if key == b"sasl_users" and not any(
                    ch < 0x20 or ch == 0x7f for ch in a):
                continue
            for sub in (b"set", b"add"):
                n += 1
                bad += not refused([b"domains", sub, b"dialup2.test",
                                    key + b"=" + a])
    for a in args[:12]:
        n += 1
        bad += not refused([b"domains", b"set", b"dialup2.test", a + b"=1"])
    print("etrnctl: %d hostile command lines refused" % (n - bad))
    return bad


def smtp_cmd(s, line):
    s.sendall(line + b"\r\n")
    return recv_lines(s, lambda b: b.endswith(b"\r\n") and
                      (len(b) < 4 or b.split(b"\r\n")[-2][3:4] == b" "))


def mode_smtp(port, canary):
    """Hostile recipient domains must never be held nor make a key;
    hostile quoted local parts in a dial-up domain are held verbatim."""
    held = refused = passed = 0
    c = canary.encode()
    domains = [b"dialup.test;touch" + c, b"x|touch" + c + b".dialup.test",
               b"$(touch" + c + b").dialup.test", b"*.dialup.test",
               b"dialup.[t]est", b"?.dialup.test", b"a" * 300 + b".dialup.test",
               b"-d ALL.dialup.test", b"-rALL.dialup.test",
               b"dialup.test\\", b"\xff\xfe.dialup.test"]
    locals_ = [b'"; touch ' + c + b'"', b'"$(touch ' + c + b')"',
               b'"`touch ' + c + b'`"', b'"*?[]\\\\ FLUSHALL"', b'"-d ALL"',
               b'"-rALL"', b'"a' + b'b' * 60 + b'"']
    # ESMTP parameters carrying commands (xtext allows these octets).
    params = [(b" ENVID=$(touch" + c + b")", b" NOTIFY=FAILURE ORCPT=rfc822;"
               b"`touch" + c + b"`@dialup.test"),
              (b" RET=HDRS ENVID=;touch" + c, b" ORCPT=rfc822;|touch" + c)]
    tries = [(b"", b"u@" + d, b"") for d in domains] + \
        [(b"", l + b"@dialup.test", b"") for l in locals_] + \
        [(m, b"p@dialup.test", r) for m, r in params]
    for mparam, rcpt, rparam in tries:
        s = socket.create_connection(("127.0.0.1", port), 30)
        recv_lines(s, lambda b: b.endswith(b"\n"))
        smtp_cmd(s, b"EHLO client.test")
        smtp_cmd(s, b"MAIL FROM:<s@example.org>" + mparam)
        r = smtp_cmd(s, b"RCPT TO:<" + rcpt + b">" + rparam)
        code = r[-1][:3] if r else "---"
        if code.startswith("2"):
            smtp_cmd(s, b"DATA")
            r = smtp_cmd(s, b"Subject: hostile\r\n\r\nbody\r\n.")
            code = "D" + (r[-1][:3] if r else "---")
        smtp_cmd(s, b"QUIT")
        s.close()
        print("%s %r" % (code, (mparam + b" " + rcpt + rparam)[:70]))
        if code not in ("D250", "501", "500", "550", "553", "554"):
            print("BAD: unexpected reply %r" % r)
            held = -1000
        if code == "D250":
            if rcpt.endswith(b"@dialup.test"):
                held += 1
            else:
                passed += 1
        else:
            refused += 1
    print("smtp: refused=%d accepted-local-part=%d accepted-bad-domain=%d"
          % (refused, held, passed))
    return 0 if held >= 0 else 1


class Odmr:
    """A line client of the ODMR listener, without TLS (loopback)."""

    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port), 20)
        self.f = self.s.makefile("rb")
        self.reply()

    def reply(self):
        """The code and last line of one reply; (0, "") at EOF."""
        while True:
            line = self.f.readline()
            if not line:
                return 0, ""
            if line[3:4] != b"-":
                return int(line[:3]), line.decode("latin-1").rstrip()

    def cmd(self, raw):
        self.s.sendall(raw + b"\r\n")
        return self.reply()

    def cram(self, user, pw):
        code, text = self.cmd(b"AUTH CRAM-MD5")
        if code != 334:
            return code
        ch = base64.b64decode(text[4:])
        d = hmac.new(pw.encode(), ch, "md5").hexdigest()
        return self.cmd(base64.b64encode(user.encode() + b" " +
                                        d.encode()))[0]


def mode_odmr(port, user, pw):
    """Each payload is answered with a refusal, the session serves on."""
    bad = n = 0

    def want(got, ok, what):
        nonlocal bad, n
        n += 1
        if got not in ok:
            print("BAD: odmr %s: %r, expected %r" % (what, got, ok))
            bad += 1
        else:
            print("refused: %s -> %s" % (what, got))

    rnd = random.Random(2645)
    # Garbage lines: any octet but LF (NUL and CR included), 1 to 300
    # octets, 40 per session; each one answered 5xx.
    for _ in range(5):
        c = Odmr(port)
        c.cmd(b"EHLO customer.test")
        for _ in range(40):
            junk = bytes(rnd.choice([i for i in range(256) if i != 10])
                         for _ in range(rnd.randint(1, 300)))
            code = c.cmd(junk)[0]
            if not 500 <= code <= 504:
                want(code, range(500, 505), "garbage %r" % junk[:20])
        want(c.cmd(b"NOOP")[0], (502,), "NOOP after 40 garbage lines")
    # A line of 1 MiB: 500, and the session goes on.
    c = Odmr(port)
    c.cmd(b"EHLO customer.test")
    c.s.sendall(b"AUTH PLAIN " + b"QUFB" * (1 << 18))
    want(c.cmd(b"")[0], (500,), "AUTH line of 1 MiB")
    want(c.cmd(b"NOOP")[0], (502,), "NOOP after 1 MiB")
    # Initial response and continuation just under the line limit: over
    # the 1,000 octets a response may decode to (501, never given to
    # Cyrus SASL); one of 1,000 octets goes to SASL and fails (535).
    big = base64.b64encode(bytes(rnd.getrandbits(8) for _ in range(9000)))
    want(c.cmd(b"AUTH CRAM-MD5 " + big)[0], (501,),
         "CRAM-MD5 with a 12000-octet initial response")
    want(c.cmd(b"AUTH CRAM-MD5")[0], (334,), "CRAM-MD5")
    want(c.cmd(big)[0], (501,), "12000-octet response")
    edge = base64.b64encode(b"cust " + b"0" * 995)
    want(c.cmd(b"AUTH CRAM-MD5")[0], (334,), "CRAM-MD5 again")
    want(c.cmd(edge)[0], (535,), "1000-octet response")
    over = base64.b64encode(b"cust " + b"0" * 996)
    want(c.cmd(b"AUTH CRAM-MD5")[0], (334,), "CRAM-MD5 once more")
    want(c.cmd(over)[0], (501,), "1001-octet response")
    want(c.cmd(b"AUTH NTLM")[0], (504,), "mechanism not offered")
    want(c.cmd(b"AUTH CRAM\x01MD5")[0], (501,), "mechanism with a control")
    want(c.cmd(b"AUTH " + b"A" * 21)[0], (501,), "21-octet mechanism")
    # AUTH inside an exchange is a response: bad base64, the exchange
    # ends; a right one after it still works.
    want(c.cmd(b"AUTH CRAM-MD5")[0], (334,), "CRAM-MD5")
    want(c.cmd(b"AUTH CRAM-MD5")[0], (501,), "AUTH as a response")
    want(c.cmd(b"ATRN dialup.test")[0], (530,), "ATRN after nested AUTH")
    want(c.cram(user, pw), (235,), "CRAM-MD5 after it all")
    # ATRN with thousands of items in one line.
    for what, arg, ok in (
            ("4000 times the same domain", b",".join([b"dialup.test"] * 1000),
             (450, 453)),
            ("6000 items, one domain", b",".join([b"X"] * 6000), (450,)),
            ("1500 repeats then 65 domains",
             b",".join([b"a.test"] * 1500 + [b"d%d.test" % i
                                             for i in range(64)]), (501,)),
            ("6000 commas", b"," * 6000, (501,)),
            ("6000 blanks", b" " * 6000, (501,))):
        want(c.cmd(b"ATRN " + arg)[0], ok, "ATRN " + what)
    want(c.cmd(b"QUIT")[0], (221,), "QUIT")
    print("odmr: %d payloads refused" % (n - bad))
    return bad


def main():
    mode = sys.argv[1]
    if mode == "etrnd":
        bad = mode_etrnd(int(sys.argv[2]), sys.argv[3])
    elif mode == "policy":
        bad = mode_policy(sys.argv[2], sys.argv[3])
    elif mode == "etrnctl":
        bad = mode_etrnctl(sys.argv[2], sys.argv[3], sys.argv[4])
    elif mode == "smtp":
        bad = mode_smtp(int(sys.argv[2]), sys.argv[3])
    elif mode == "odmr":
        bad = mode_odmr(int(sys.argv[2]), sys.argv[3], sys.argv[4])
    else:
        sys.exit("unknown mode " + mode)
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
