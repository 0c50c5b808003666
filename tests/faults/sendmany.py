#!/usr/bin/env python3
"""sendmany.py - send a stream of test messages, each with a unique
X-Test-Id header, and keep trying each one like a sending MTA would.

usage: sendmany.py --port PORT --count N --prefix P --log FILE
                   [--to-fmt 'u{n}@dialup.test'] [--other-every K]
                   [--other-fmt 'o{n}@example.com'] [--from-fmt 's{n}@example.org']
                   [--retry-for SECS] [--sessions S] [--size BYTES]
                   [--pace SECS]

Message n (1..N) goes to --to-fmt, or to --other-fmt when K > 0 and n is
a multiple of K.  A message refused with 4xx (at any stage) or lost with
the connection goes to the end of its session's line and is sent again
0.3 s later or after, for at most --retry-for seconds; a 5xx is final.
--pace pauses after each attempt; --size adds a body of about BYTES.
The log gets one line per attempt:
    attempt ID RCPT CODE TEXT
and one line per message at the end:
    final ID RCPT accepted|tempfail|reject QUEUEID ATTEMPTS
The file FILE.progress holds the number of messages finished so far.
Exit status: 0 when every message was accepted, 1 otherwise.
"""
import argparse
import collections
import re
import smtplib
import sys
import threading
import time


def one(s, a, n, rcpt):
    """One transaction on session s; return (code, text)."""
    mid = "%s-%d" % (a.prefix, n)
    body = "X-Test-Id: <%s>\r\nSubject: fault test %s\r\n\r\n" % (mid, mid)
    if a.size > 0:
        line = ("x" * 76) + "\r\n"
        body += line * max(1, a.size // len(line))
    body += "id %s\r\n" % mid
    code, msg = s.mail(a.from_fmt.format(n=n))
    if code >= 400:
        s.rset()
        return code, msg
    code, msg = s.rcpt(rcpt)
    if code >= 400:
        s.rset()
        return code, msg
    code, msg = s.data(body.encode("ascii"))
    return code, msg


class Worker(threading.Thread):
    def __init__(self, a, items, out, lock, done):
        super().__init__()
        self.a, self.items, self.out, self.lock = a, items, out, lock
        self.done = done
        self.s = None

    def session(self):
        if self.s is None:
            self.s = smtplib.SMTP("127.0.0.1", self.a.port,
                                  local_hostname="client.test", timeout=60)
            self.s.ehlo()
        return self.s

    def drop(self):
        try:
            if self.s is not None:
                self.s.close()
        except OSError:
            pass
        self.s = None

    def log(self, line):
        with self.lock:
            self.out.write(line + "\n")
            self.out.flush()

    def run(self):
        # Like a sending MTA: a message refused for now waits 0.3 s at
        # the end of the line while the others go on.
        todo = collections.deque((n, rcpt, 0.0, None, 0)
                                 for n, rcpt in self.items)
        while todo:
            n, rcpt, after, deadline, tries = todo.popleft()
            now = time.time()
            if after > now:
                todo.appendleft((n, rcpt, after, deadline, tries))
                time.sleep(min(0.05, after - now))
                continue
            mid = "%s-%d" % (self.a.prefix, n)
            if deadline is None:
                deadline = now + self.a.retry_for
            tries += 1
            try:
                code, msg = one(self.session(), self.a, n, rcpt)
                text = msg.decode("utf-8", "replace")
            except (OSError, smtplib.SMTPException) as e:
                code, text = 0, "connection: %s" % e
                self.drop()
            self.log("attempt %s %s %d %s" % (mid, rcpt, code,
                     text.replace("\n", " ")))
            final, qid = None, "-"
            if 200 <= code < 300:
                m = re.search(r"queued as ([0-9A-Za-z]+)", text)
                final, qid = "accepted", m.group(1) if m else "-"
            elif code >= 500:
                final = "reject"
            elif time.time() > deadline:
                final = "tempfail"
            if self.a.pace > 0:
                time.sleep(self.a.pace)
            if final is None:
                todo.append((n, rcpt, time.time() + 0.3, deadline, tries))
                continue
            self.log("final %s %s %s %s %d" % (mid, rcpt, final, qid, tries))
            with self.lock:
                self.done[0] += 1
                with open(self.a.log + ".progress", "w") as p:
                    p.write("%d\n" % self.done[0])
        try:
            if self.s is not None:
                self.s.quit()
        except (OSError, smtplib.SMTPException):
            pass


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--count", type=int, required=True)
    ap.add_argument("--prefix", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--to-fmt", default="u{n}@dialup.test")
    ap.add_argument("--other-fmt", default="o{n}@example.com")
    ap.add_argument("--other-every", type=int, default=0)
    ap.add_argument("--from-fmt", default="s{n}@example.org")
    ap.add_argument("--retry-for", type=float, default=60)
    ap.add_argument("--sessions", type=int, default=2)
    ap.add_argument("--size", type=int, default=0)
    ap.add_argument("--pace", type=float, default=0)
    a = ap.parse_args()
    items = []
    for n in range(1, a.count + 1):
        other = a.other_every > 0 and n % a.other_every == 0
        items.append((n, (a.other_fmt if other else a.to_fmt).format(n=n)))
    lock = threading.Lock()
    done = [0]
    with open(a.log, "a") as out:
        workers = [Worker(a, items[i::a.sessions], out, lock, done)
                   for i in range(a.sessions)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
    with open(a.log) as f:
        finals = [l.split() for l in f if l.startswith("final ")]
    ok = sum(1 for l in finals if l[3] == "accepted")
    print("sent %d, accepted %d" % (a.count, ok))
    return 0 if ok == a.count else 1


if __name__ == "__main__":
    sys.exit(main())
