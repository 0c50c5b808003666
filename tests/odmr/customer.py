#!/usr/bin/env python3
"""customer.py - an ODMR customer for tests/odmr/t-odmr-turn.sh.

customer.py PORT USER PASSWORD DOMAINS OUTDIR MODE

Does STARTTLS, AUTH CRAM-MD5 and ATRN DOMAINS against etrnd's ODMR
listener with Python's smtplib and ssl, then is the SMTP server on the
same connection and saves each message it accepts as OUTDIR/N.env (the
MAIL FROM line, then the accepted RCPT TO lines) and OUTDIR/N.eml (the
content as received, dot-stuffing undone).  Its EHLO offers STARTTLS,
AUTH and CHUNKING too: the relay must keep them from Postfix.

MODE: normal; reject (RCPT to bad* 550, later* 450); drop (close the
connection in the middle of the first message's content); no220 (never
greet); flood220 (a greeting of endless "220-" lines); flood (after
EHLO, endless replies nobody asked for).  Prints "ok MESSAGES" or
"closed SECONDS" (no220, flood*), or a reason, and exits 1 on failure.
"""
import os
import smtplib
import socket
import ssl
import sys
import time
import warnings

warnings.simplefilter("ignore", DeprecationWarning)


def fail(why):
    print(why)
    sys.exit(1)


def atrn(port, user, pw, domains):
    """The client part, up to ATRN's 250; the TLS socket."""
    c = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    c.check_hostname = False
    c.verify_mode = ssl.CERT_NONE
    s = smtplib.SMTP("127.0.0.1", port, timeout=30)
    s.ehlo("customer.test")
    code, _ = s.starttls(context=c)
    if code != 220:
        fail("starttls %d" % code)
    s.ehlo("customer.test")
    s.user, s.password = user, pw
    code = s.auth("CRAM-MD5", s.auth_cram_md5)[0]
    if code != 235:
        fail("auth %d" % code)
    code, text = s.docmd("ATRN", domains)
    if code != 250:
        fail("ATRN %d %s" % (code, text.decode()))
    if text != b"OK now reversing the connection":
        fail("ATRN text %r" % text)
    s.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s.sock


def until_closed(sock, started):
    """Wait for etrnd to close; seconds it took."""
    sock.settimeout(60)
    try:
        while sock.recv(4096):
            pass
    except (OSError, ssl.SSLError):
        pass
    return time.time() - started


def flood(sock, line, started):
    """Send line until etrnd closes the connection."""
    sock.settimeout(60)
    try:
        for _ in range(200000):
            sock.sendall(line * 64)
    except (OSError, ssl.SSLError):
        return time.time() - started
    return until_closed(sock, started)


EHLO = (b"250-customer.test\r\n250-PIPELINING\r\n250-STARTTLS\r\n"
        b"250-AUTH PLAIN LOGIN\r\n250-8BITMIME\r\n250-SIZE 10000000\r\n"
        b"250-DSN\r\n250-CHUNKING\r\n250-SMTPUTF8\r\n"
        b"250 ENHANCEDSTATUSCODES\r\n")


class Server:
    """The SMTP server side after the turn."""

    def __init__(self, sock, outdir, mode):
        self.sock, self.f = sock, sock.makefile("rb")
        self.outdir, self.mode = outdir, mode
        self.n = len([x for x in os.listdir(outdir) if x.endswith(".eml")])
        self.saved = 0
        self.reset()

    def reset(self):
        self.mail, self.rcpts = None, []

    def send(self, b):
        self.sock.sendall(b)

    def data(self):
        lines = []
        while True:
            line = self.f.readline()
            if not line:
                fail("closed in DATA")
            if line == b".\r\n":
                break
            if self.mode == "drop" and len(lines) == 3:
                self.sock.close()
                print("ok dropped")
                sys.exit(0)
            lines.append(line[1:] if line.startswith(b".") else line)
        self.n += 1
        base = os.path.join(self.outdir, "%d" % self.n)
        with open(base + ".env", "wb") as e:
            e.write(self.mail + b"\n" + b"\n".join(self.rcpts) + b"\n")
        with open(base + ".eml", "wb") as e:
            e.write(b"".join(lines))
        self.saved += 1
        self.send(b"250 2.0.0 Ok: saved as %d\r\n" % self.n)
        self.reset()

    def rcpt(self, line):
        addr = line[8:].split(b">")[0].lower()
        if self.mode == "reject" and addr.startswith(b"<bad"):
            self.send(b"550 5.1.1 No such user here\r\n")
        elif self.mode == "reject" and addr.startswith(b"<later"):
            self.send(b"450 4.2.1 Mailbox busy, try later\r\n")
        else:
            self.rcpts.append(line)
            self.send(b"250 2.1.5 Ok\r\n")

    def serve(self):
        self.send(b"220 customer.test ESMTP\r\n")
        while True:
            line = self.f.readline()
            if not line:
                fail("closed without QUIT")
            line = line.rstrip(b"\r\n")
            cmd = line[:4].upper()
            if cmd == b"EHLO":
                self.send(EHLO)
            elif cmd == b"MAIL":
                self.mail = line
                self.send(b"250 2.1.0 Ok\r\n")
            elif cmd == b"RCPT":
                self.rcpt(line)
            elif cmd == b"DATA":
                if not self.rcpts:
                    self.send(b"554 5.5.1 No valid recipients\r\n")
                    continue
                self.send(b"354 End data with <CR><LF>.<CR><LF>\r\n")
                self.data()
            elif cmd in (b"RSET", b"NOOP"):
                self.reset()
                self.send(b"250 2.0.0 Ok\r\n")
            elif cmd == b"QUIT":
                self.send(b"221 2.0.0 Bye\r\n")
                return self.saved
            else:
                fail("unexpected command %r" % line)


def main():
    port, user, pw, domains, outdir, mode = sys.argv[1:7]
    sock = atrn(int(port), user, pw, domains)
    started = time.time()
    if mode == "no220":
        print("closed %d" % until_closed(sock, started))
    elif mode == "flood220":
        print("closed %d" % flood(sock, b"220-x\r\n", started))
    elif mode == "flood":
        sock.sendall(b"220 customer.test\r\n")
        sock.recv(4096)                 # EHLO
        sock.sendall(EHLO)
        print("closed %d" % flood(sock, b"250 2.0.0 Ok\r\n", started))
    else:
        print("ok %d" % Server(sock, outdir, mode).serve())


main()
