#!/usr/bin/env python3
"""forge.py - control characters aimed at openetrn's logs.

usage: forge.py etrnd PORT          ETRN arguments to etrnd's listener
       forge.py policy SOCKET       requests to etrn-policy
       forge.py smtp PORT RCPTDOM   MAIL FROM / RCPT TO through Postfix
Each payload carries the word FORGED right after a CR, LF or another
control character, so that a log line started by it would begin with
FORGED.  Prints one line per payload: "sent ..." with the reply code, or
"refused ..." when the server would not take it; exit 1 when a server
could not be reached at all.
"""
import socket
import sys

CTRL = [b"\r", b"\n", b"\r\n", b"\x00", b"\x01", b"\x07", b"\x08", b"\x0b",
        b"\x0c", b"\x1b[2J", b"\x1f", b"\x7f", b"\x85"]


def show(b):
    return b.decode("latin-1").encode("unicode_escape").decode()


def lines(f):
    """Read one SMTP reply (all its lines); return the code as bytes."""
    while True:
        line = f.readline()
        if not line:
            return b"EOF"
        if line[3:4] != b"-":
            return line[:3]


def etrnd(port):
    for c in CTRL:
        for arg in (b"dialup.test" + c + b"FORGED etrnd: S9: result=253",
                    c + b"FORGED"):
            s = socket.create_connection(("127.0.0.1", int(port)), 10)
            f = s.makefile("rb")
            lines(f)
            s.sendall(b"EHLO forge.test\r\n")
            lines(f)
            s.sendall(b"ETRN " + arg + b"\r\n")
            code = lines(f)
            print("sent %s: %s" % (show(arg), code.decode("latin-1")))
            try:
                s.sendall(b"QUIT\r\n")
                lines(f)
            except OSError:
                pass
            s.close()


def policy(path):
    for c in CTRL:
        if b"\n" in c or b"\x00" in c:
            continue        # ends the attribute (protocol), tried below
        for name in (b"sasl_username", b"etrn_domain", b"helo_name",
                     b"client_name", b"client_address"):
            attrs = {b"request": b"smtpd_access_policy",
                     b"protocol_state": b"ETRN", b"protocol_name": b"ESMTP",
                     b"client_address": b"127.0.0.1",
                     b"client_name": b"localhost", b"helo_name": b"h.test",
                     b"sasl_username": b"", b"etrn_domain": b"dialup.test"}
            attrs[name] = attrs[name] + c + b"FORGED etrn-policy: x"
            req = b"".join(k + b"=" + v + b"\n" for k, v in attrs.items())
            s = socket.socket(socket.AF_UNIX)
            s.settimeout(10)
            s.connect(path)
            s.sendall(req + b"\n")
            try:
                r = s.recv(4096)
            except OSError:
                r = b""
            print("sent %s=%s: %s" % (name.decode(), show(attrs[name]),
                                      show(r.strip()) or "closed"))
            s.close()
    # An attribute split by LF: the second half is its own (unknown) line.
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(10)
    s.connect(path)
    s.sendall(b"request=smtpd_access_policy\nprotocol_state=ETRN\n"
              b"sasl_username=bob\nFORGED etrn-policy: x\n"
              b"etrn_domain=dialup.test\n\n")
    try:
        print("sent split: %s" % show(s.recv(4096).strip()))
    except OSError:
        print("sent split: closed")
    s.close()


def smtp(port, rcptdom):
    """MAIL FROM and RCPT TO with control characters in a quoted local
    part; whatever Postfix accepts goes on to the milter."""
    n = 0
    for c in CTRL:
        if c in (b"\n", b"\r\n", b"\x00"):
            continue        # a line end, or refused by Postfix outright
        for where in ("from", "rcpt"):
            lp = b'"x' + c + b'FORGED etrn-milter: y"'
            frm = lp + b"@example.org" if where == "from" else b"s@example.org"
            rcpt = (lp if where == "rcpt" else b"u") + b"@" + rcptdom.encode()
            s = socket.create_connection(("127.0.0.1", int(port)), 30)
            f = s.makefile("rb")
            lines(f)
            s.sendall(b"EHLO forge.test\r\n")
            lines(f)
            s.sendall(b"MAIL FROM:<" + frm + b">\r\n")
            code = lines(f)
            if code == b"250":
                s.sendall(b"RCPT TO:<" + rcpt + b">\r\n")
                code = lines(f)
            if code == b"250":
                s.sendall(b"DATA\r\n")
                lines(f)
                s.sendall(b"Subject: forge\r\n\r\nbody\r\n.\r\n")
                code = lines(f)
                n += code == b"250"
            print("%s %s %s: %s" % ("sent" if code == b"250" else "refused",
                                    where, show(c), code.decode("latin-1")))
            try:
                s.sendall(b"QUIT\r\n")
                lines(f)
            except OSError:
                pass
            s.close()
    print("accepted %d" % n)


def main():
    try:
        if sys.argv[1] == "etrnd":
            etrnd(sys.argv[2])
        elif sys.argv[1] == "policy":
            policy(sys.argv[2])
        elif sys.argv[1] == "smtp":
            smtp(sys.argv[2], sys.argv[3])
        else:
            sys.exit(__doc__)
    except OSError as e:
        print("error: %s" % e)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
