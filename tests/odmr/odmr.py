#!/usr/bin/env python3
"""odmr.py - clients of etrnd's ODMR listener for tests/odmr/t-odmr.sh.

odmr.py CHECK PORT USER PASSWORD: runs one named check, prints "ok" or a
reason and exits 1.  Python's smtplib and ssl are the client.
"""
import smtplib
import socket
import ssl
import sys
import warnings

warnings.simplefilter("ignore", DeprecationWarning)

HOST = "127.0.0.1"


def ctx(minv=ssl.TLSVersion.TLSv1_2, maxv=None):
    """A client context that trusts the test's self-signed certificate."""
    c = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    c.check_hostname = False
    c.verify_mode = ssl.CERT_NONE
    if minv < ssl.TLSVersion.TLSv1_2:
        c.set_ciphers("DEFAULT:@SECLEVEL=0")
    c.minimum_version = minv
    if maxv is not None:
        c.maximum_version = maxv
    return c


def connect(port, source=None):
    s = smtplib.SMTP(HOST, port, timeout=10,
                     source_address=(source, 0) if source else None)
    s.ehlo("customer.test")
    return s


def tls(port, source=None):
    s = connect(port, source)
    code, _ = s.starttls(context=ctx())
    assert code == 220, code
    s.ehlo("customer.test")
    return s


def auth_cram(s, user, pw):
    s.user, s.password = user, pw
    try:
        return s.auth("CRAM-MD5", s.auth_cram_md5)[0]
    except smtplib.SMTPAuthenticationError as e:
        return e.smtp_code


def want(got, exp, what):
    if got != exp:
        print("%s: got %r, expected %r" % (what, got, exp))
        sys.exit(1)


def check_ehlo(port, user, pw):
    s = connect(port)
    want(s.has_extn("starttls"), True, "STARTTLS offered")
    want(s.has_extn("atrn"), True, "ATRN offered")
    # On loopback AUTH is offered without TLS, but not PLAIN or LOGIN.
    mechs = s.esmtp_features.get("auth", "").split()
    want("CRAM-MD5" in mechs and "PLAIN" not in mechs and
         "LOGIN" not in mechs, True, "mechanisms without TLS %r" % mechs)
    s = tls(port)
    want(s.has_extn("starttls"), False, "STARTTLS after TLS")
    mechs = s.esmtp_features.get("auth", "").split()
    want("PLAIN" in mechs and "CRAM-MD5" in mechs, True,
         "mechanisms over TLS %r" % mechs)


def check_auth(port, user, pw):
    s = tls(port)
    want(s.docmd("ATRN", "dialup.test")[0], 530, "ATRN before AUTH")
    want(auth_cram(s, user, pw + "x"), 535, "wrong password")
    want(auth_cram(s, user, pw), 235, "right password")
    want(s.docmd("AUTH", "CRAM-MD5")[0], 503, "AUTH again")


def atrn(port, user, pw, arg):
    s = tls(port)
    want(auth_cram(s, user, pw), 235, "AUTH")
    code, text = s.docmd("ATRN", arg)
    print("%d %s" % (code, text.decode()))
    s.quit()


def check_tls10(port, user, pw):
    s = connect(port)
    try:
        s.starttls(context=ctx(ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1))
    except ssl.SSLError as e:
        # The server's alert, or its close without a session.
        want(e.reason is not None and any(
            r in e.reason.upper() for r in ("PROTOCOL_VERSION",
                                              "UNSUPPORTED_PROTOCOL",
                                              "UNEXPECTED_EOF")), True,
             "TLS 1.0 refusal reason %r" % e.reason)
        return
    want("handshake", "refused", "TLS 1.0 handshake")


def check_nonloopback(port, user, pw):
    s = connect(port, "127.0.0.2")
    want(s.has_extn("auth"), False, "AUTH offered before STARTTLS")
    want(s.docmd("AUTH", "PLAIN AGN1c3QAcHc=")[0], 530, "AUTH PLAIN")
    want(s.docmd("AUTH", "CRAM-MD5")[0], 530, "AUTH CRAM-MD5")
    s = tls(port, "127.0.0.2")
    want(s.has_extn("auth"), True, "AUTH offered after STARTTLS")
    want(auth_cram(s, user, pw), 235, "AUTH over TLS from 127.0.0.2")


def check_pipelined(port, user, pw):
    """Input pipelined after STARTTLS is discarded (RFC 3207)."""
    raw = socket.create_connection((HOST, port), timeout=10)
    f = raw.makefile("rb")
    f.readline()
    raw.sendall(b"EHLO x\r\n")
    while f.readline()[3:4] == b"-":
        pass
    raw.sendall(b"STARTTLS\r\nQUIT\r\n")
    want(f.readline()[:3], b"220", "STARTTLS")
    t = ctx().wrap_socket(raw)
    t.sendall(b"NOOP\r\n")
    want(t.recv(512)[:3], b"502", "first reply over TLS")


def check_others(port, user, pw):
    s = tls(port)
    for cmd in ("MAIL FROM:<a@b.test>", "RCPT TO:<c@d.test>", "DATA",
                "ETRN dialup.test", "TURN", "VRFY x", "NOOP", "HELO x"):
        want(s.docmd(cmd)[0], 502, cmd)


def check_hostile(port, user, pw):
    s = tls(port)
    want(s.docmd("AUTH", "PLAIN " + "QUFB" * 5000)[0], 500,
         "20000-octet AUTH line")
    want(s.docmd("AUTH", "PLAIN !!!notbase64")[0], 501, "bad base64")
    want(s.docmd("AUTH", "CRAM-MD5")[0], 334, "CRAM-MD5 challenge")
    want(s.docmd("*")[0], 501, "cancel")
    s = tls(port)
    want(auth_cram(s, user, pw), 235, "AUTH")
    want(s.docmd("ATRN", ",".join("d%d.test" % i for i in range(3000)))[0],
         500, "3000 domains")
    want(s.docmd("ATRN", ",".join("d%d.test" % i for i in range(65)))[0],
         501, "65 domains")
    want(s.docmd("ATRN", "dialup.test,,dialup2.test")[0], 501, "empty item")
    want(s.docmd("ATRN", "")[0], 501, "no domain")
    # An endless exchange: answered, counted, cut off at etrnd_max_errors.
    s = tls(port)
    codes = []
    try:
        for _ in range(40):
            codes.append(s.docmd("AUTH", "CRAM-MD5")[0])
            codes.append(s.docmd("Z2FyYmFnZQ==")[0])
    except smtplib.SMTPServerDisconnected:
        pass
    want(421 in codes and len(codes) <= 22, True, "endless AUTH %r" % codes)


CHECKS = {n[6:]: f for n, f in globals().items() if n.startswith("check_")}

if __name__ == "__main__":
    name, port, user, pw = sys.argv[1], int(sys.argv[2]), sys.argv[3], \
        sys.argv[4]
    if name == "atrn":
        atrn(port, user, pw, sys.argv[5])
    else:
        CHECKS[name](port, user, pw)
        print("ok")
