#!/usr/bin/env python3
"""lifecycle.py - probes for the daemons' start, stop and logging tests.

  answers KIND ADDR       exit 0 when the daemon at ADDR serves: KIND
                          milter (a milter protocol negotiation), policy
                          (a policy request answered with action=), etrn
                          (a 220 greeting); ADDR unix:/path or inet:host:port
  notify SOCK OUT KIND ADDR
                          a NOTIFY_SOCKET at SOCK (unix datagram, as systemd
                          has): each message goes to OUT as "msg <fields>"
                          (newlines as '|'); on READY=1 the daemon is probed
                          at once (as "answers" does) and "probe ok" or
                          "probe failed" follows.  Runs until killed.
  syslog SOCK OUT         a syslog socket at SOCK (unix datagram, as
                          /dev/log): each message goes to OUT, one a line
  listen PATH             listen on a unix socket at PATH (a live server
                          that is no openetrn daemon) until killed
"""
import os
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
import policy  # noqa: E402  (tests/lib/policy.py)


def connect(addr, timeout=3.0):
    if addr.startswith("unix:"):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        target = addr[5:]
    elif addr.startswith("inet:"):
        host, port = addr[5:].rsplit(":", 1)
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        target = (host, int(port))
    else:
        raise ValueError("bad address " + addr)
    s.settimeout(timeout)
    s.connect(target)
    return s


def recv_exact(s, n):
    data = b""
    while len(data) < n:
        chunk = s.recv(n - len(data))
        if not chunk:
            raise EOFError("connection closed")
        data += chunk
    return data


def milter_negotiate(s):
    # SMFIC_OPTNEG: version 6, every action, every protocol step offered.
    body = b"O" + struct.pack(">III", 6, 0x1FF, 0x1FFFFF)
    s.sendall(struct.pack(">I", len(body)) + body)
    (n,) = struct.unpack(">I", recv_exact(s, 4))
    reply = recv_exact(s, n)
    return reply[:1] == b"O" and len(reply) >= 13


def policy_request(s):
    s.sendall(b"request=smtpd_access_policy\nprotocol_state=RCPT\n"
              b"protocol_name=ESMTP\nclient_address=127.0.0.1\n"
              b"sender=a@example.org\nrecipient=b@example.com\n\n")
    return policy.read_reply(s).startswith(b"action=")


def etrn_greeting(s):
    data = b""
    while b"\n" not in data:
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
    return data.startswith(b"220")


PROBES = {"milter": milter_negotiate, "policy": policy_request,
          "etrn": etrn_greeting}


def answers(kind, addr):
    try:
        s = connect(addr)
        try:
            return PROBES[kind](s)
        finally:
            s.close()
    except (OSError, EOFError, ValueError):
        return False


def dgram_server(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(path)
    return s


def notify(path, out, kind, addr):
    s = dgram_server(path)
    with open(out, "a", buffering=1) as f:
        while True:
            msg = s.recv(65536).decode("utf-8", "replace")
            f.write("msg %s\n" % msg.replace("\n", "|"))
            if "READY=1" in msg.split("\n"):
                ok = answers(kind, addr)
                f.write("probe %s %.3f\n" % ("ok" if ok else "failed",
                                             time.time()))


def syslog(path, out):
    s = dgram_server(path)
    with open(out, "a", buffering=1) as f:
        while True:
            msg = s.recv(65536).decode("utf-8", "replace")
            f.write(msg.replace("\n", "|") + "\n")


def listen(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(path)
    s.listen(16)
    while True:
        c, _ = s.accept()
        c.close()


def main(argv):
    if len(argv) == 3 and argv[0] == "answers":
        return 0 if answers(argv[1], argv[2]) else 1
    if len(argv) == 5 and argv[0] == "notify":
        notify(*argv[1:])
    elif len(argv) == 3 and argv[0] == "syslog":
        syslog(argv[1], argv[2])
    elif len(argv) == 2 and argv[0] == "listen":
        listen(argv[1])
    else:
        sys.stderr.write(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
