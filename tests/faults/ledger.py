#!/usr/bin/env python3
"""ledger.py - account for every test message of a fault test by its
unique X-Test-Id: where is it now, and is that allowed?

usage: ledger.py [--dialup deliver|held|dsn|any] [--settled] [--no-stale]
                 LOG...
LOG files are written by sendmany.py.  The sandbox comes from the
environment (PF_SPOOL, SINK_DIR_CUSTOMER, SINK_DIR_INTERNET, REDIS_SOCK,
SB_HOSTNAME or mx.lab.test).

Looked at: the customer sink (delivered dial-up mail), the internet sink
(other mail, and DSNs: multipart/report with the id in the returned
header), the Postfix queue files (hold, deferred, active, incoming,
maildrop; read directly, so this must run as root) and the Redis index.

Always checked, for every id:
  * a message the sender was finally refused (4xx after all retries,
    5xx) is nowhere: not delivered, not held, not returned;
  * an accepted message is somewhere: delivered, on hold, returned with
    a DSN, or (without --settled) still in the queue on its way;
  * never delivered twice, never two DSNs, never both delivered and
    returned, never two queue files;
  * on hold => indexed: a record etrn:msg:<host>:<qid> with the file's
    token and state held/released/expiring, and a member of
    etrn:held:<domain>; or a record still pending (etrn-milter wrote it,
    etrnd counts it at its next pass) with the token, in
    etrn:pending:<host>;
  * a dial-up message outside the hold queue (on its way to the customer)
    is in etrn:released:<host>, so etrnd still follows it.
--dialup says where every accepted dial-up message must be in the end
(other recipients must always be delivered once); --settled that
nothing is left in the queue outside hold; --no-stale that no record of
this host points at a missing queue file.
Prints a summary line and one line per violation; exit 1 on violations.
"""
import argparse
import os
import re
import subprocess
import sys

ID_RE = re.compile(rb"X-Test-Id: <([^>\s]+)>")
TAG_RE = re.compile(rb"X-ETRN-Hold: ([^;\s]+); host=([^;\s]+); token=([0-9a-f]+)")
QUEUES = ("hold", "deferred", "active", "incoming", "maildrop")


def walk(d):
    for root, _, files in os.walk(d):
        for f in files:
            yield os.path.join(root, f), f


def read(path):
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return b""


def redis(cmds):
    """Run commands (lists of words) in one redis-cli; one line each."""
    if not cmds:
        return []
    text = "".join(" ".join('"%s"' % w for w in c) + "\n" for c in cmds)
    out = subprocess.run(["redis-cli", "-s", os.environ["REDIS_SOCK"],
                          "--raw"], input=text.encode(), check=True,
                         stdout=subprocess.PIPE).stdout.decode()
    return out.split("\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dialup", default="any",
                    choices=("deliver", "held", "dsn", "any"))
    ap.add_argument("--settled", action="store_true")
    ap.add_argument("--no-stale", action="store_true")
    ap.add_argument("logs", nargs="+")
    a = ap.parse_args()
    host = os.environ.get("SB_HOSTNAME") or "mx.lab.test"
    bad = []

    final, rcpt = {}, {}
    for log in a.logs:
        for line in open(log):
            w = line.split()
            if w and w[0] == "final":
                final[w[1]], rcpt[w[1]] = w[3], w[2]

    def collect(d):
        got = {}
        for path, _ in walk(d):
            for m in set(ID_RE.findall(read(path))):
                got.setdefault(m.decode(), []).append(path)
        return got

    delivered = collect(os.environ["SINK_DIR_CUSTOMER"])
    other, dsn, warn = {}, {}, {}
    for path, _ in walk(os.environ["SINK_DIR_INTERNET"]):
        data = read(path)
        head = data.split(b"\n\n", 1)[0].split(b"\r\n\r\n", 1)[0]
        if b"multipart/report" in head:
            into = warn if b"Subject: Delayed Mail" in head else dsn
        else:
            into = other
        for m in set(ID_RE.findall(data)):
            into.setdefault(m.decode(), []).append(path)

    queued = {}		# id -> [(queue, qid, tag)]
    for q in QUEUES:
        for path, qid in walk(os.path.join(os.environ["PF_SPOOL"], q)):
            data = read(path)
            m = ID_RE.search(data)
            if m is None:
                continue
            t = TAG_RE.search(data)
            queued.setdefault(m.group(1).decode(), []).append(
                (q, qid, t.groups() if t else None))

    # The index of this host: one pipeline for every queued message.
    cmds, keys = [], []
    for mid, files in queued.items():
        for q, qid, tag in files:
            if tag is None:
                continue
            dom = tag[0].decode()
            cmds.append(["HGET", "etrn:msg:%s:%s" % (host, qid), "token"])
            cmds.append(["HGET", "etrn:msg:%s:%s" % (host, qid), "state"])
            cmds.append(["ZSCORE", "etrn:held:%s" % dom, "%s:%s" % (host, qid)])
            cmds.append(["ZSCORE", "etrn:released:%s" % host, qid])
            cmds.append(["ZSCORE", "etrn:pending:%s" % host, qid])
            keys.append((mid, qid))
    out = redis(cmds)
    index = {}
    for i, k in enumerate(keys):
        index[k] = out[5 * i:5 * i + 5]

    n = {"ids": len(final), "accepted": 0, "refused": 0, "delivered": 0,
         "held": 0, "dsn": 0, "in_transit": 0}
    for mid in sorted(final, key=lambda s: (len(s), s)):
        dial = "@example.com" not in rcpt[mid]
        dl = (delivered if dial else other).get(mid, [])
        ds = dsn.get(mid, [])
        qs = queued.get(mid, [])
        held = [x for x in qs if x[0] == "hold"]
        moving = [x for x in qs if x[0] != "hold"]
        if final[mid] != "accepted":
            n["refused"] += 1
            if dl or ds or qs:
                bad.append("%s: refused to the sender (%s) but delivered "
                           "%d, returned %d, queued %d" % (
                               mid, final[mid], len(dl), len(ds), len(qs)))
            continue
        n["accepted"] += 1
        n["delivered"] += 1 if dl else 0
        n["held"] += 1 if held else 0
        n["dsn"] += 1 if ds else 0
        n["in_transit"] += 1 if moving else 0
        if len(dl) > 1:
            bad.append("%s: delivered %d times" % (mid, len(dl)))
        if len(ds) > 1:
            bad.append("%s: %d DSNs" % (mid, len(ds)))
        if dl and ds:
            bad.append("%s: delivered and returned" % mid)
        if len(qs) > 1:
            bad.append("%s: %d queue files" % (mid, len(qs)))
        if not (dl or ds or qs):
            bad.append("%s: lost (accepted as %s, now nowhere)" % (
                mid, final[mid]))
        for q, qid, tag in held:
            if not dial:
                bad.append("%s: non-dial-up mail on hold (%s)" % (mid, qid))
                continue
            if tag is None:
                bad.append("%s: on hold without a tag (%s)" % (mid, qid))
                continue
            tok, st, zs, _, pz = index.get((mid, qid), [""] * 5)
            if st == "pending" and pz:
                zs = pz		# counted at etrnd's next pass
            elif st == "pending":
                st = "pending, not in etrn:pending"
            if tok != tag[2].decode() or st not in ("held", "released",
                                                     "expiring",
                                                     "pending") or not zs:
                bad.append("%s: on hold as %s but not indexed (token %s, "
                           "state '%s', member %s)" % (
                               mid, qid, "ok" if tok == tag[2].decode()
                               else "'%s'" % tok, st, zs or "none"))
        for q, qid, tag in moving:
            if a.settled:
                bad.append("%s: still in %s as %s" % (mid, q, qid))
            elif dial and tag is not None and \
                    not index.get((mid, qid), [""] * 5)[3]:
                bad.append("%s: in %s as %s, not followed (not in "
                           "etrn:released)" % (mid, q, qid))
        if a.dialup != "any" and dial:
            where = {"deliver": dl, "held": held, "dsn": ds}[a.dialup]
            if not where:
                bad.append("%s: want %s, got delivered %d held %d dsn %d "
                           "queued %d" % (mid, a.dialup, len(dl), len(held),
                                          len(ds), len(moving)))
        if not dial and not dl and a.settled:
            bad.append("%s: other mail not delivered" % mid)

    # Records of this host whose file is gone (stale index entries).
    onqueue = set(qid for fs in queued.values() for _, qid, _ in fs)
    for q in QUEUES:
        for _, qid in walk(os.path.join(os.environ["PF_SPOOL"], q)):
            onqueue.add(qid)
    stale = []
    recs = subprocess.run(["redis-cli", "-s", os.environ["REDIS_SOCK"],
                           "--raw", "--scan", "--pattern",
                           "etrn:msg:%s:*" % host], check=True,
                          stdout=subprocess.PIPE).stdout.decode().split()
    for k in recs:
        if k.rsplit(":", 1)[1] not in onqueue:
            stale.append(k.rsplit(":", 1)[1])
    n["stale_records"] = len(stale)
    if a.no_stale and stale:
        bad.append("records without a queue file: %s" % " ".join(stale[:10]))

    print("ledger: " + " ".join("%s=%d" % kv for kv in n.items()))
    for b in bad[:40]:
        print("VIOLATION: " + b)
    if len(bad) > 40:
        print("... %d violations in all" % len(bad))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
