#!/usr/bin/env python3
"""loadgen.py - steady SMTP load for tests/load/t-load.sh.

usage: loadgen.py --port PORT --seconds S --rate R --senders N --out FILE
                  [--mix CLASS=ADDR@DOMAIN:WEIGHT,...] [--size BYTES]

N threads, each sending R/N messages per second (paced to a schedule, not
as fast as possible) in sessions of 1 to 5 messages, to the smtpd on
127.0.0.1:PORT, for S seconds.  Every message gets a unique id ID: the
envelope sender s-ID@example.org, Message-ID <ID@load.test> and a header
X-Load-Id: ID, and one recipient chosen by weight from --mix.  A message
answered with 4xx is sent again (same id) after a second, at most 5
times.  Each accepted message is one line of FILE:

    ID CLASS RECIPIENT QUEUEID ACCEPT-TIME

Prints key=value lines at the end: accepted, tempfail (4xx replies),
failed (ids never accepted), seconds, rate (accepted/s), p50/p99/max of
the DATA-to-250 latency.  Exit 1 if any message could not be accepted.
"""
import argparse
import random
import re
import smtplib
import sys
import threading
import time

QUEUED = re.compile(rb"queued as ([0-9A-Za-z]+)")


class Shared:
    """State the sender threads share, under one lock."""

    def __init__(self, out):
        self.lock = threading.Lock()
        self.out = out
        self.accepted = 0
        self.tempfail = 0
        self.failed = []
        self.latency = []

    def ok(self, line, lat):
        with self.lock:
            self.out.write(line + "\n")
            self.out.flush()
            self.accepted += 1
            self.latency.append(lat)

    def temp(self):
        with self.lock:
            self.tempfail += 1

    def fail(self, mid, why):
        with self.lock:
            self.failed.append((mid, why))


def parse_mix(spec):
    mix = []
    for item in spec.split(","):
        cls, rest = item.split("=", 1)
        addr, weight = rest.rsplit(":", 1)
        mix.append((cls, addr, int(weight)))
    return mix


def message(mid, rcpt, size):
    body = ("load test message %s\r\n" % mid) * max(1, size // 32)
    text = ("From: <s-%s@example.org>\r\n"
            "To: <%s>\r\n"
            "Subject: load %s\r\n"
            "Date: %s\r\n"
            "Message-ID: <%s@load.test>\r\n"
            "X-Load-Id: %s\r\n"
            "\r\n%s") % (mid, rcpt, mid,
                         time.strftime("%a, %d %b %Y %H:%M:%S +0000",
                                       time.gmtime()), mid, mid, body)
    return text.encode("ascii")


def send_one(s, mid, rcpt, size):
    """Send one message on session s: (code, queue id or reply text)."""
    code, msg = s.mail("s-%s@example.org" % mid)
    if code >= 400:
        return code, msg
    code, msg = s.rcpt(rcpt)
    if code >= 400:
        s.rset()
        return code, msg
    code, msg = s.data(message(mid, rcpt, size))
    if code >= 400:
        return code, msg
    m = QUEUED.search(msg)
    return code, m.group(1).decode() if m else msg


def sender(n, a, mix, sh, t_end):
    rnd = random.Random(n)
    classes = [m for m in mix for _ in range(m[2])]
    interval = a.senders / a.rate
    due = time.time() + rnd.random() * interval
    seq = 0
    retry = []			# (time, mid, cls, rcpt, tries)
    while True:
        now = time.time()
        if now >= t_end:
            if not retry:
                return
            if retry[0][0] > now:
                time.sleep(retry[0][0] - now)
        try:
            s = smtplib.SMTP("127.0.0.1", a.port,
                             local_hostname="load%d.test" % n, timeout=120)
            s.ehlo()
        except (OSError, smtplib.SMTPException) as e:
            sh.temp()
            time.sleep(1)
            if time.time() > t_end + 60:
                sh.fail("sender%d" % n, "connect: %s" % e)
                return
            continue
        for _ in range(rnd.randint(1, 5)):
            now = time.time()
            if retry and retry[0][0] <= now:
                _, mid, cls, rcpt, tries = retry.pop(0)
            elif now < t_end:
                if due > now:
                    time.sleep(due - now)
                due += interval
                seq += 1
                cls, addr, _ = rnd.choice(classes)
                mid = "L%d-%06d" % (n, seq)
                rcpt = addr.replace("ID", mid)
                tries = 0
            else:
                break
            t0 = time.time()
            try:
                code, res = send_one(s, mid, rcpt, a.size)
            except (OSError, smtplib.SMTPException) as e:
                code, res = 421, str(e)
            if code < 300:
                sh.ok("%s %s %s %s %.3f" % (mid, cls, rcpt, res,
                                            time.time()), time.time() - t0)
            elif code < 500 and tries < 5:
                sh.temp()
                retry.append((time.time() + 1, mid, cls, rcpt, tries + 1))
            else:
                sh.fail(mid, "%d %r" % (code, res))
            if code == 421:
                break
        try:
            s.quit()
        except (OSError, smtplib.SMTPException):
            pass


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--seconds", type=float, required=True)
    ap.add_argument("--rate", type=float, required=True)
    ap.add_argument("--senders", type=int, default=4)
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--out", required=True)
    ap.add_argument("--mix", default="normal=rcpt-ID@example.com:1")
    a = ap.parse_args()
    mix = parse_mix(a.mix)
    with open(a.out, "w") as out:
        sh = Shared(out)
        t0 = time.time()
        t_end = t0 + a.seconds
        th = [threading.Thread(target=sender, args=(n, a, mix, sh, t_end))
              for n in range(a.senders)]
        for t in th:
            t.start()
        for t in th:
            t.join()
        elapsed = time.time() - t0
    lat = sorted(sh.latency) or [0]
    q = lambda f: lat[min(len(lat) - 1, int(f * len(lat)))]
    print("accepted=%d" % sh.accepted)
    print("tempfail=%d" % sh.tempfail)
    print("failed=%d" % len(sh.failed))
    print("seconds=%.1f" % elapsed)
    print("rate=%.1f" % (sh.accepted / elapsed))
    print("latency_p50=%.3f latency_p99=%.3f latency_max=%.3f"
          % (q(0.5), q(0.99), lat[-1]))
    for mid, why in sh.failed[:20]:
        print("failed: %s %s" % (mid, why), file=sys.stderr)
    return 1 if sh.failed else 0


if __name__ == "__main__":
    sys.exit(main())
