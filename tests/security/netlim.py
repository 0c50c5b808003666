#!/usr/bin/env python3
"""netlim.py - clients for the per-network limits, over IPv4 and IPv6.

usage:
  netlim.py per-client PORT CAP SOURCE FREE
      CAP connections from SOURCE (127.0.0.x or ::1; to the listener's
      address of the same family) are greeted 220; 25 more from it get
      421 4.7.0 within 1 s and are closed; then one from FREE must be
      greeted 220 within 1 s.
  netlim.py etrn PORT DOMAIN SOURCE...
      For each SOURCE in turn, one session: EHLO, ETRN DOMAIN, QUIT.
      Prints "SOURCE REPLY" a line.
  netlim.py policy-ask ADDR
      One ETRN request to etrn-policy at ADDR (unix:PATH,
      inet:HOST:PORT or inet:[HOST]:PORT); prints the answer and the
      seconds it took.
  netlim.py policy-lifetime SOCKET LIFETIME
      A request every second on one connection, each answered, until
      etrn-policy closes it: it must close it LIFETIME s (-0.5, +2.5)
      after the connect, having answered every request before.
Each mode prints what it saw and one "BAD: ..." line for each check that
failed; exit status 1 if any.  Every loop has a deadline.
"""
import socket
import sys
import time

from flood import (ETRN_REQ, check, connect, finish, is_eof, per_client,
                   read_line, read_reply)


def etrn(port, domain, srcs):
    for src in srcs:
        try:
            s = connect(port, src)
            g, buf = read_line(s)
            if not g.startswith("220"):
                print(src, g)
                s.close()
                continue
            s.sendall(b"EHLO client.test\r\n")
            _, buf = read_reply(s, buf)
            s.sendall(b"ETRN " + domain.encode() + b"\r\n")
            r, buf = read_line(s, buf)
            s.sendall(b"QUIT\r\n")
            read_line(s, buf)
            s.close()
        except OSError as e:
            r = "error: %s" % e
        print(src, r)


def policy_connect(addr, timeout=5):
    if addr.startswith("unix:"):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(timeout)
        s.connect(addr[5:])
        return s
    host, port = addr[5:].rsplit(":", 1)
    host = host.strip("[]")
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect((host, int(port)))
    return s


def policy_answer(s):
    """One answer (up to its empty line), stripped; "" on EOF/timeout."""
    data = b""
    while not data.endswith(b"\n\n"):
        try:
            d = s.recv(4096)
        except OSError:
            return ""
        if not d:
            return ""
        data += d
    return data.decode("latin-1").strip()


def policy_ask(addr):
    t0 = time.time()
    try:
        s = policy_connect(addr)
        s.sendall(ETRN_REQ)
        a = policy_answer(s)
        s.close()
    except OSError as e:
        a = "error: %s" % e
    print("%s %.2f" % (a, time.time() - t0))


def policy_lifetime(path, life):
    seen = {"answers": 0, "closed_at": None, "last": ""}
    t0 = time.time()
    s = policy_connect("unix:" + path)
    while time.time() - t0 < life + 10:
        try:
            s.sendall(ETRN_REQ)
        except OSError:
            seen["closed_at"] = round(time.time() - t0, 2)
            break
        a = policy_answer(s)
        if not a:
            seen["closed_at"] = round(time.time() - t0, 2)
            break
        seen["answers"] += 1
        seen["last"] = a
        # A second between requests, unless etrn-policy closes first.
        if is_eof(s, 1.0):
            seen["closed_at"] = round(time.time() - t0, 2)
            break
    s.close()
    c = seen["closed_at"]
    check(c is not None, "still open %d s after the connect" % (life + 10))
    check(c is None or life - 0.5 <= c <= life + 2.5,
          "closed %s s after the connect (lifetime %d s)" % (c, life))
    check(seen["answers"] >= life - 2,
          "only %d requests answered" % seen["answers"])
    check(seen["last"].startswith("action=459 4.7.1 "),
          "answer: %r" % seen["last"])
    finish(seen)


def main():
    a = sys.argv[1:]
    if len(a) == 5 and a[0] == "per-client":
        per_client(int(a[1]), int(a[2]), a[3], "-", a[4])
    elif len(a) >= 4 and a[0] == "etrn":
        etrn(int(a[1]), a[2], a[3:])
    elif len(a) == 2 and a[0] == "policy-ask":
        policy_ask(a[1])
    elif len(a) == 3 and a[0] == "policy-lifetime":
        policy_lifetime(a[1], int(a[2]))
    else:
        sys.stderr.write(__doc__)
        sys.exit(2)


if __name__ == "__main__":
    main()
