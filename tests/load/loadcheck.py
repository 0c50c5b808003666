#!/usr/bin/env python3
"""loadcheck.py - account for every message loadgen.py got accepted.

usage: loadcheck.py --accepted FILE --hold DIR --internet DIR
                    --customer DIR --redis SOCKET --host HOST
                    --expect CLASS=OUTCOME[+OUTCOME],...

Looks for each message id (header X-Load-Id) in four places:
  internet  a message file of the internet sink (not a DSN)
  customer  a message file of the customer sink
  held      a queue file in Postfix's hold queue DIR that is indexed in
            Redis: member HOST:QUEUEID of etrn:held:<domain> and a record
            etrn:msg:HOST:QUEUEID in state "held"
  bounced   a DSN in the internet sink (multipart/report, null envelope
            sender) to s-ID@example.org, Action failed, Final-Recipient
            the message's recipient, whose returned header names the id
            (X-Load-Id and Message-ID <ID@load.test>)
Each id must be found exactly once, in a place its class allows
(--expect).  Also checked per dial-up domain: etrn:stats:<domain> flushed
= messages of the domain at the customer sink, expired = bounced, held =
ZCARD etrn:held:<domain> = files on hold; and nothing on hold or in a
sink that was never accepted.  Prints a table of outcomes per class and
every problem (the first 30); exit 1 if there is any.
"""
import argparse
import collections
import email
import email.policy
import os
import re
import socket
import sys

LOAD_ID = re.compile(rb"^X-Load-Id: *([A-Za-z0-9-]+)", re.M)
OUTCOMES = ("internet", "customer", "held", "bounced")


class Redis:
    """A minimal RESP client on a unix socket."""

    def __init__(self, path):
        self.s = socket.socket(socket.AF_UNIX)
        self.s.connect(path)
        self.f = self.s.makefile("rb")

    def cmd(self, *args):
        out = b"*%d\r\n" % len(args)
        for a in args:
            a = a.encode() if isinstance(a, str) else a
            out += b"$%d\r\n%s\r\n" % (len(a), a)
        self.s.sendall(out)
        return self.reply()

    def reply(self):
        line = self.f.readline()
        t, rest = line[:1], line[1:-2]
        if t in (b"+", b":"):
            return rest.decode()
        if t == b"-":
            raise RuntimeError(rest.decode())
        if t == b"$":
            n = int(rest)
            if n < 0:
                return None
            data = self.f.read(n + 2)[:-2]
            return data.decode("utf-8", "replace")
        if t == b"*":
            return [self.reply() for _ in range(int(rest))]
        raise RuntimeError("bad reply %r" % line)


def files(top):
    for d, _, names in os.walk(top):
        for n in names:
            yield os.path.join(d, n)


def scan_internet(top, found, problems):
    """Normal mail and DSNs at the internet sink."""
    for path in files(top):
        with open(path, "rb") as f:
            raw = f.read()
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        if msg.get_content_type() != "multipart/report":
            m = LOAD_ID.search(raw.split(b"\n\n", 1)[0])
            if m:
                found[m.group(1).decode()].append(("internet", path))
            else:
                problems.append("internet sink: no id in %s" % path)
            continue
        check_dsn(msg, path, found, problems)


def check_dsn(msg, path, found, problems):
    """A DSN: which message it names, and whether it says so properly."""
    ret = status = None
    for part in msg.get_payload():
        t = part.get_content_type()
        if t in ("text/rfc822-headers", "message/rfc822"):
            ret = part.as_bytes()
        elif t == "message/delivery-status":
            status = part.get_payload()
    m = LOAD_ID.search(ret or b"")
    if not m:
        problems.append("DSN without a returned X-Load-Id: %s" % path)
        return
    mid = m.group(1).decode()
    why = []
    if str(msg.get("X-Mail-Args", "")).split()[:1] != ["<>"]:
        why.append("envelope sender %r" % msg.get("X-Mail-Args"))
    rcpt = str(msg.get("X-Rcpt-Args", "")).split()[:1]
    if rcpt != ["<s-%s@example.org>" % mid]:
        why.append("sent to %r" % rcpt)
    if str(msg.get("To", "")) != "s-%s@example.org" % mid:
        why.append("To: %r" % msg.get("To"))
    if ("<%s@load.test>" % mid).encode() not in ret:
        why.append("returned header lacks its Message-ID")
    if not status or len(status) < 2:
        why.append("no per-recipient delivery status")
    else:
        r = {k.lower(): str(v) for k, v in status[1].items()}
        if r.get("action") != "failed":
            why.append("Action %r" % r.get("action"))
        found_rcpt = r.get("final-recipient", "").replace(" ", "")
        found_dsn_rcpt[mid] = found_rcpt.split(";", 1)[-1]
    if why:
        problems.append("DSN %s for %s: %s" % (path, mid, "; ".join(why)))
    found[mid].append(("bounced", path))


found_dsn_rcpt = {}


def scan_customer(top, found, problems):
    for path in files(top):
        with open(path, "rb") as f:
            head = f.read().split(b"\n\n", 1)[0]
        m = LOAD_ID.search(head)
        if m:
            found[m.group(1).decode()].append(("customer", path))
        else:
            problems.append("customer sink: no id in %s" % path)


def queue_file_id(raw):
    """The X-Load-Id of a Postfix queue file: a sequence of records, each
    a type byte, a length (7 bits a byte, low bits first, high bit set
    while more follow) and the data; a header line is a record N."""
    i = 0
    while i < len(raw):
        t = raw[i]
        n = shift = 0
        while True:
            i += 1
            b = raw[i]
            n |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                break
        data = raw[i + 1:i + 1 + n]
        i += 1 + n
        if t == ord("N") and data.startswith(b"X-Load-Id:"):
            return data[10:].strip().decode("ascii", "replace")
    return None


def scan_hold(top, host, redis, found, problems, held_by_domain):
    """Queue files on hold, each checked against the Redis index."""
    for qid in sorted(os.listdir(top)):
        with open(os.path.join(top, qid), "rb") as f:
            raw = f.read()
        if b"multipart/report" in raw:
            problems.append("a DSN is still on hold: %s" % qid)
            continue
        mid = queue_file_id(raw)
        if not mid:
            problems.append("hold queue file %s has no id" % qid)
            continue
        key = "etrn:msg:%s:%s" % (host, qid)
        dom, state = redis.cmd("HMGET", key, "domain", "state")
        if dom is None:
            problems.append("%s on hold as %s: no record %s"
                            % (mid, qid, key))
            continue
        held_by_domain[dom] += 1
        score = redis.cmd("ZSCORE", "etrn:held:" + dom, host + ":" + qid)
        if state != "held" or score is None:
            problems.append("%s on hold as %s: state %s, indexed in "
                            "etrn:held:%s: %s" % (mid, qid, state, dom,
                                                  score is not None))
            continue
        found[mid].append(("held", qid))


def main():
    ap = argparse.ArgumentParser()
    for o in ("accepted", "hold", "internet", "customer", "redis", "host",
              "expect"):
        ap.add_argument("--" + o, required=True)
    a = ap.parse_args()
    expect = {}
    for item in a.expect.split(","):
        cls, outs = item.split("=", 1)
        expect[cls] = set(outs.split("+"))

    msgs = {}
    for line in open(a.accepted):
        mid, cls, rcpt, qid, _ = line.split()
        if mid in msgs:
            print("FAIL: %s accepted twice" % mid)
            return 1
        msgs[mid] = (cls, rcpt, qid)

    redis = Redis(a.redis)
    found = collections.defaultdict(list)
    problems = []
    held_by_domain = collections.Counter()
    scan_internet(a.internet, found, problems)
    scan_customer(a.customer, found, problems)
    scan_hold(a.hold, a.host, redis, found, problems, held_by_domain)

    table = collections.defaultdict(collections.Counter)
    per_domain = collections.defaultdict(collections.Counter)
    for mid, (cls, rcpt, _) in sorted(msgs.items()):
        where = [w for w, _ in found.get(mid, [])]
        table[cls]["accepted"] += 1
        dom = rcpt.rsplit("@", 1)[1]
        if not where:
            table[cls]["missing"] += 1
            problems.append("%s (%s, %s) is nowhere" % (mid, cls, rcpt))
            continue
        if len(where) > 1:
            table[cls]["duplicate"] += 1
            problems.append("%s (%s) found %d times: %s" % (
                mid, cls, len(where), ", ".join(
                    "%s %s" % x for x in found[mid])))
            continue
        table[cls][where[0]] += 1
        per_domain[dom][where[0]] += 1
        if where[0] not in expect.get(cls, ()):
            problems.append("%s (%s) ended as %s" % (mid, cls, where[0]))
        if where[0] == "bounced" and found_dsn_rcpt.get(mid) != rcpt:
            problems.append("DSN for %s names recipient %r, not %r" % (
                mid, found_dsn_rcpt.get(mid), rcpt))
    for mid in sorted(set(found) - set(msgs)):
        problems.append("%s was never accepted but is %s" % (
            mid, ", ".join("%s %s" % x for x in found[mid])))

    for dom in sorted(per_domain):
        if dom == "example.com":
            continue
        st = redis.cmd("HGETALL", "etrn:stats:" + dom)
        st = dict(zip(st[::2], st[1::2]))
        zc = int(redis.cmd("ZCARD", "etrn:held:" + dom))
        want = (per_domain[dom]["customer"], per_domain[dom]["bounced"],
                per_domain[dom]["held"], per_domain[dom]["held"],
                held_by_domain[dom])
        got = (int(st.get("flushed", 0)), int(st.get("expired", 0)),
               int(st.get("held", 0)), zc, per_domain[dom]["held"])
        print("%s: flushed %d, expired %d, held %d (stats), ZCARD %d, "
              "on hold %d" % ((dom,) + got[:4] + (held_by_domain[dom],)))
        if got != want:
            problems.append("%s: flushed/expired/held/ZCARD/files %s, "
                            "want %s" % (dom, got, want))

    cols = ("accepted",) + OUTCOMES + ("missing", "duplicate")
    print("%-10s" % "class" + "".join("%10s" % c for c in cols))
    total = collections.Counter()
    for cls in sorted(table):
        print("%-10s" % cls + "".join("%10d" % table[cls][c] for c in cols))
        total.update(table[cls])
    print("%-10s" % "total" + "".join("%10d" % total[c] for c in cols))
    for p in problems[:30]:
        print("problem: " + p)
    if problems:
        print("FAIL: %d problems" % len(problems))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
