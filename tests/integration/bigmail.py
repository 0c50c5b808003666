#!/usr/bin/env python3
"""bigmail - large and slow messages for the sandbox smtpd.

  bigmail.py send PORT MB FROM TO...   send a message with a body of MB
      MiB of numbered lines; print the reply and the body's sha256
  bigmail.py slow PORT SECONDS STOP FROM TO...  send DATA at about 1 KB/s
      for SECONDS; print the final reply (or "closed" if the server hung
      up).  STOP, if not 0, is a process stopped (SIGSTOP) just before the
      final dot and continued STOP_SECONDS (env, default 5) later
  bigmail.py bodyhash FILE             sha256 of a stored message's body
      (after the first empty line, LF line ends, without the empty lines
      smtp-sink adds at the end: the trailing newlines are not compared)

The body lines carry their own number, so a lost, doubled or reordered
line changes the hash."""
import hashlib
import os
import signal
import smtplib
import socket
import sys
import time


def body_lines(mb):
    """Yield LF-terminated body lines, 100 bytes each, mb MiB in all."""
    n = mb * 1024 * 1024 // 100
    for i in range(n):
        yield b"%09d " % i + b"abcdefghijklmnopqrstuvwxyz" * 3 + \
            b"0123456789A\n"


def cmd_send(port, mb, sender, rcpts):
    h = hashlib.sha256()
    parts = [b"Subject: big message\n", b"From: <%s>\n" % sender.encode(),
             b"\n"]
    for line in body_lines(mb):
        parts.append(line)
    h.update(b"".join(parts[3:]).rstrip(b"\n"))
    msg = b"".join(parts)
    s = smtplib.SMTP("127.0.0.1", port, timeout=120)
    s.ehlo("bigmail.test")
    s.mail(sender)
    for r in rcpts:
        code, text = s.rcpt(r)
        if code != 250:
            print("%d %s" % (code, text.decode(errors="replace")))
            return 1
    code, text = s.data(msg)
    print("%d %s" % (code, text.decode(errors="replace")))
    print("sha256 %s" % h.hexdigest())
    s.quit()
    return 0


def reply(f):
    """Read one SMTP reply (all its lines); return it as text."""
    text = ""
    while True:
        line = f.readline()
        if not line:
            return text or "closed"
        text += line.decode(errors="replace")
        if len(line) < 4 or line[3:4] != b"-":
            return text.strip()


def cmd_slow(port, seconds, stop, sender, rcpts):
    sk = socket.create_connection(("127.0.0.1", port), timeout=120)
    f = sk.makefile("rb")
    reply(f)
    for c in ["EHLO slow.test", "MAIL FROM:<%s>" % sender] + \
            ["RCPT TO:<%s>" % r for r in rcpts] + ["DATA"]:
        sk.sendall(c.encode() + b"\r\n")
        r = reply(f)
        if not r.startswith(("2", "3")):
            print(r)
            return 0
    sk.sendall(b"Subject: slow message\r\n\r\n")
    end = time.time() + seconds
    i = 0
    try:
        while time.time() < end:
            # 100 bytes ten times a second: about 1 KB/s.
            sk.sendall(b"%09d " % i + b"s" * 88 + b"\r\n")
            i += 1
            time.sleep(0.1)
    except OSError as e:
        print("closed during DATA: %s" % e)
        return 0
    if stop:
        os.kill(stop, signal.SIGSTOP)
    try:
        sk.sendall(b".\r\n")
        if stop:
            time.sleep(float(os.environ.get("STOP_SECONDS", "5")))
    finally:
        if stop:
            os.kill(stop, signal.SIGCONT)
    print(reply(f).replace("\n", " "))
    print("lines %d" % i)
    return 0


def cmd_bodyhash(path):
    data = open(path, "rb").read().replace(b"\r\n", b"\n")
    sep = data.find(b"\n\n")
    if sep < 0:
        print("no body")
        return 1
    print(hashlib.sha256(data[sep + 2:].rstrip(b"\n")).hexdigest())
    return 0


def main():
    a = sys.argv[1:]
    if len(a) >= 5 and a[0] == "send":
        return cmd_send(int(a[1]), int(a[2]), a[3], a[4:])
    if len(a) >= 6 and a[0] == "slow":
        return cmd_slow(int(a[1]), float(a[2]), int(a[3]), a[4], a[5:])
    if len(a) == 2 and a[0] == "bodyhash":
        return cmd_bodyhash(a[1])
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main())
