#!/usr/bin/env python3
"""flood.py - hostile clients that try to exhaust a listener, and checks.

usage:
  flood.py etrnd-flood PORT ETRND_PID TIMEOUT
      One client (from 127.0.0.66) pipelines 50 MB of NOOP to etrnd's
      listener and never reads; VmRSS of the listener (ETRND_PID's child
      running as a user) is sampled every 100 ms; 2 s in, a customer ETRNs
      dialup.test from 127.0.0.1.
  flood.py policy-flood SOCKET POLICY_PID TIMEOUT
      The same against etrn-policy: 50 MB of pipelined requests; 2 s in,
      a normal ETRN request on another connection (459 4.7.1 within 1 s).
  flood.py chatty PORT LIMIT PATTERN N
      N clients from N loopback addresses (PATTERN % 10, 11, ...; e.g.
      "127.0.0.%d" or, one a /24, "127.0.%d.1") fill etrnd's listener
      and send NOOP every 2 s, reading each reply; a customer from
      127.0.0.1 tries every 0.5 s to connect and ETRN.
      LIMIT is "commands:N" (each must get 421 4.7.0 after at most N
      replies) or "session:S" (each must get 421 4.4.2 S s after its
      connect, however busy).
  flood.py per-client PORT CAP SOURCE OTHER-SAME OTHER-FREE
      CAP connections from SOURCE are greeted, 25 more from it get
      421 4.7.0 at once; then one from OTHER-SAME (none: "-") must get
      421 4.7.0 too, one from OTHER-FREE must be greeted 220.
  flood.py policy-requests SOCKET MAX
      MAX requests one at a time, each answered, then the connection is
      closed; MAX + 7 pipelined requests get exactly MAX answers.
  flood.py policy-per-client SOCKET CAP
      CAP connections work; one more is closed at once; a slot freed is
      taken again.
  flood.py etrn-storm PORT RATE SECONDS DOMAIN|FORMAT [N]
      ETRN at RATE a second for SECONDS on one session (a new one when
      etrnd ends it): for DOMAIN, or, with N, for FORMAT % 1..N in turn
      (e.g. "d%d.dialup.test").  Prints the number of ETRNs sent and the
      replies by code; BAD when fewer than 90% of RATE x SECONDS were
      answered or a reply was not 250, 251 or 253.
Each mode prints what it saw and one "BAD: ..." line for each check that
failed; exit status 1 if any.  Every loop has a deadline.
"""
import json
import os
import select
import socket
import struct
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
import policy  # noqa: E402  (tests/lib/policy.py)

FLOOD_BYTES = 50 * 1024 * 1024
# 0 (a sanitizer build, whose shadow memory and quarantine are not the
# daemon's): RSS is reported, not checked.
MAX_RSS_KIB = int(os.environ.get("FLOOD_MAX_RSS_KIB", 16 * 1024))
NOOP_BLOCK = b"NOOP\r\n" * 40000                     # 240 kB
POLICY_REQ = b"request=smtpd_access_policy\nprotocol_state=MAIL\n\n"
# The shortest request (answered DUNNO): the most answers per byte.
POLICY_BLOCK = b"request=smtpd_access_policy\n\n" * 8000
ETRN_REQ = (b"request=smtpd_access_policy\nprotocol_state=ETRN\n"
            b"client_address=192.0.2.1\netrn_domain=dialup.test\n\n")

bad = []


def check(ok, what):
    if not ok:
        bad.append(what)


def finish(seen):
    for k in sorted(seen):
        print("%s: %s" % (k, json.dumps(seen[k])))
    for b in bad:
        print("BAD: " + b)
    sys.exit(1 if bad else 0)


def status(pid, field):
    """A field of /proc/PID/status in kB; None when pid is gone."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def listener_of(parent):
    """etrnd's listener: the child of parent that runs as a user."""
    kids = []
    for t in os.listdir("/proc/%d/task" % parent):
        with open("/proc/%d/task/%s/children" % (parent, t)) as f:
            kids += [int(p) for p in f.read().split()]
    for k in kids:
        try:
            with open("/proc/%d/status" % k) as f:
                st = dict(l.split(":", 1) for l in f if ":" in l)
        except OSError:
            continue
        if st["Name"].strip() == "etrnd" and st["Uid"].split()[0] != "0":
            return k
    return None


def tcp_hex(ip, port):
    n = struct.unpack("<I", socket.inet_aton(ip))[0]
    return "%08X:%04X" % (n, port)


def server_holds(pid, lport, rip, rport):
    """Does pid still have the server side of rip:rport -> lport open?"""
    want = (tcp_hex("127.0.0.1", lport), tcp_hex(rip, rport))
    inode = None
    with open("/proc/net/tcp") as f:
        for line in f:
            x = line.split()
            if (x[1], x[2]) == want:
                inode = x[9]
    if inode is None or inode == "0":
        return False
    try:
        for fd in os.listdir("/proc/%d/fd" % pid):
            try:
                if os.readlink("/proc/%d/fd/%s" % (pid, fd)) == \
                        "socket:[%s]" % inode:
                    return True
            except OSError:
                pass
    except OSError:
        return False
    return False


def connect(port, src="127.0.0.1", timeout=5):
    """A connection from src to the loopback address of its family."""
    if ":" in src:
        s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        dst = "::1"
    else:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        dst = "127.0.0.1"
    s.settimeout(timeout)
    s.bind((src, 0))
    s.connect((dst, port))
    return s


def unix_connect(path, timeout=5):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(path)
    return s


def read_line(s, buf=b""):
    """One CRLF line (and the rest read); ("", rest) on EOF or timeout."""
    while b"\r\n" not in buf:
        try:
            d = s.recv(4096)
        except (socket.timeout, OSError):
            return "", buf
        if not d:
            return "", buf
        buf += d
    line, rest = buf.split(b"\r\n", 1)
    return line.decode("latin-1"), rest


def read_reply(s, buf=b""):
    """A whole (multiline) SMTP reply: its last line."""
    while True:
        line, buf = read_line(s, buf)
        if len(line) < 4 or line[3] != "-":
            return line, buf


def is_eof(s, limit):
    """Does the peer close within limit seconds (nothing else arriving)?"""
    s.settimeout(limit)
    try:
        return s.recv(4096) == b""
    except socket.timeout:
        return False
    except OSError:
        return True


def customer_etrn(port, res, key, src="127.0.0.1"):
    """A customer's whole session: connect, EHLO, ETRN; reply, seconds."""
    t0 = time.time()
    try:
        s = connect(port, src)
        g, buf = read_line(s)
        if not g.startswith("220"):
            res[key] = (g, round(time.time() - t0, 2))
            return
        s.sendall(b"EHLO customer.test\r\n")
        _, buf = read_reply(s, buf)
        s.sendall(b"ETRN dialup.test\r\n")
        r, buf = read_line(s, buf)
        res[key] = (r, round(time.time() - t0, 2))
        s.sendall(b"QUIT\r\n")
        s.close()
    except OSError as e:
        res[key] = ("error: %s" % e, round(time.time() - t0, 2))


def policy_ask(path, req, res, key):
    t0 = time.time()
    try:
        s = unix_connect(path)
        s.sendall(req)
        buf = policy.read_reply(s)
        res[key] = (buf.decode("latin-1").strip(), round(time.time() - t0, 2))
        s.close()
    except OSError as e:
        res[key] = ("error: %s" % e, round(time.time() - t0, 2))


def flood(s, block, pid_of, timeout, dropped_now, helper):
    """
    Send FLOOD_BYTES of block on nonblocking s, never reading, sampling
    VmRSS every 100 ms; helper() runs in a thread 2 s in.  Stop once the
    flooder is dropped (and 1 s more of samples), or when it is still
    connected timeout + 10 s after its last progress.
    """
    mv = memoryview(block)
    off = sent = 0
    t0 = last = time.time()
    samples = []
    drop = err = None
    helper_t = None
    s.setblocking(False)
    nexts = t0
    while True:
        now = time.time()
        if now - t0 > 90:
            break
        if helper_t is None and now - t0 >= 2:
            helper_t = threading.Thread(target=helper)
            helper_t.start()
        if sent < FLOOD_BYTES and err is None:
            _, w, _ = select.select([], [s], [], 0.05)
            if w:
                try:
                    n = s.send(mv[off:])
                    sent += n
                    off = (off + n) % len(block)
                    last = time.time()
                except BlockingIOError:
                    pass
                except OSError as e:
                    err = (os.strerror(e.errno), round(now - t0, 2))
        else:
            time.sleep(0.05)
        if now >= nexts:
            nexts += 0.1
            pid = pid_of()
            samples.append(status(pid, "VmRSS") if pid else None)
            if drop is None and (err is not None or dropped_now()):
                drop = round(now - t0, 2)
        if drop is not None and now - t0 > drop + 1:
            break
        if drop is None and now - last > timeout + 10:
            break
    if helper_t is not None:
        helper_t.join(15)
    pid = pid_of()
    return {
        "sent_mb": round(sent / 1048576.0, 1),
        "stalled_at": round(last - t0, 2),
        "dropped_at": drop,
        "send_error": err,
        "samples": len(samples),
        "max_rss_kib": max([x for x in samples if x] or [0]),
        "hwm_kib": status(pid, "VmHWM") if pid else None,
        "alive": pid is not None and None not in samples,
    }


def check_bounded(f, who, setting, timeout):
    """The flood's figures: memory under MAX_RSS_KIB, the flooder dropped
    within the timeout (+ 3 s) of its last progress."""
    check(not MAX_RSS_KIB or 0 < f["max_rss_kib"] < MAX_RSS_KIB,
          "%s VmRSS reached %d kB (limit %d)" % (who, f["max_rss_kib"],
                                                 MAX_RSS_KIB))
    check(not MAX_RSS_KIB or (f["hwm_kib"] or 1 << 40) < MAX_RSS_KIB,
          "%s VmHWM (peak RSS) %s kB (limit %d)" % (who, f["hwm_kib"],
                                                    MAX_RSS_KIB))
    check(f["dropped_at"] is not None,
          "the flooder is still connected %d s after it could last send"
          % (timeout + 10))
    if f["dropped_at"] is not None:
        check(f["dropped_at"] - f["stalled_at"] <= timeout + 3,
              "the flooder was dropped %.1f s after its last progress"
              " (%s %d)" % (f["dropped_at"] - f["stalled_at"], setting,
                            timeout))


def etrnd_flood(port, parent, timeout):
    seen = {}
    lpid = listener_of(parent)
    if lpid is None:
        bad.append("no listener child of %d" % parent)
        finish(seen)
    seen["listener"] = {"pid": lpid, "rss_kib": status(lpid, "VmRSS")}
    s = connect(port, "127.0.0.66")
    cport = s.getsockname()[1]
    res = {}

    def pid_of():
        return lpid if status(lpid, "VmRSS") is not None else None

    def dropped_now():
        return not server_holds(lpid, port, "127.0.0.66", cport)

    t0 = time.time()        # until the listener has accepted it
    while dropped_now() and time.time() - t0 < 3:
        time.sleep(0.05)
    if dropped_now():
        bad.append("the listener did not accept the flooder")
        finish(seen)
    seen["flood"] = f = flood(s, NOOP_BLOCK, pid_of, timeout, dropped_now,
                              lambda: customer_etrn(port, res, "customer"))
    seen["customer"] = c = res.get("customer", ("none", -1))
    check(f["alive"] and listener_of(parent) == lpid,
          "the listener died or was replaced")
    check_bounded(f, "listener", "etrnd_timeout", timeout)
    check(c[0].startswith("253 ") and 0 <= c[1] < 1.0,
          "customer during the flood: %r" % (c,))
    s.close()
    finish(seen)


def policy_flood(path, pid, timeout):
    seen = {"policy": {"pid": pid, "rss_kib": status(pid, "VmRSS")}}
    s = unix_connect(path)
    res = {}
    p = select.poll()
    p.register(s, select.POLLHUP | select.POLLERR)

    def pid_of():
        return pid if status(pid, "VmRSS") is not None else None

    def dropped_now():
        return any(ev & (select.POLLHUP | select.POLLERR)
                   for _, ev in p.poll(0))

    seen["flood"] = f = flood(s, POLICY_BLOCK, pid_of, timeout, dropped_now,
                              lambda: policy_ask(path, ETRN_REQ, res,
                                                 "normal"))
    seen["normal"] = n = res.get("normal", ("none", -1))
    check(f["alive"], "etrn-policy died")
    check_bounded(f, "etrn-policy", "policy_timeout", timeout)
    check(n[0].startswith("action=459 4.7.1 ")
          and 0 <= n[1] < 1.0, "normal request during the flood: %r" % (n,))
    s.close()
    finish(seen)


def chatty_one(port, src, res, t_end):
    """Greeted, then NOOP every 2 s reading each reply, until cut off."""
    t0 = time.time()
    r = {"greeting": "", "ok": 0, "cut": None, "at": None, "eof": False}
    res[src] = r
    try:
        s = connect(port, src)
        r["greeting"], buf = read_line(s)
        if not r["greeting"].startswith("220"):
            return
        while time.time() < t_end:
            s.sendall(b"NOOP\r\n")
            line, buf = read_line(s, buf)
            if line.startswith("250"):
                r["ok"] += 1
                # Wait 2 s, unless the listener says something first.
                rd, _, _ = select.select([s], [], [], 2)
                if not rd:
                    continue
                line, buf = read_line(s, buf)
            r["cut"], r["at"] = line, round(time.time() - t0, 2)
            r["eof"] = line == "" or is_eof(s, 2)
            break
        s.close()
    except OSError as e:
        r["cut"], r["at"] = "error: %s" % e, round(time.time() - t0, 2)


def chatty(port, limit, pattern, n):
    kind, val = limit.split(":")
    val = int(val)
    srcs = [pattern % (10 + i) for i in range(n)]
    res = {}
    t_end = time.time() + (val * 2 + 14 if kind == "commands" else val + 14)
    ts = [threading.Thread(target=chatty_one, args=(port, a, res, t_end))
          for a in srcs]
    for t in ts:
        t.start()
        time.sleep(0.02)
    # The listener is full once all are greeted.
    while time.time() < t_end and \
            sum(1 for a in srcs if res.get(a, {}).get("greeting")) < n:
        time.sleep(0.05)
    t_full = time.time()
    cust = {"refused": 0, "refusal": "", "served": None, "at": None}
    while time.time() < t_end and cust["served"] is None:
        one = {}
        customer_etrn(port, one, "c")
        r, _ = one["c"]
        if r.startswith("421 4.3.2"):
            cust["refused"] += 1
            cust["refusal"] = r
        elif r:
            cust["served"], cust["at"] = r, round(time.time() - t_full, 2)
        time.sleep(0.5)
    for t in ts:
        t.join(max(1, t_end - time.time() + 3))
    seen = {"customer": cust}
    for a in srcs:
        seen[a] = res.get(a)
    greeted = [a for a in srcs if res.get(a, {}).get("greeting", "")
               .startswith("220")]
    check(len(greeted) == n, "only %d of %d chatty clients greeted"
          % (len(greeted), n))
    want = "421 4.7.0" if kind == "commands" else "421 4.4.2"
    for a in greeted:
        r = res[a]
        ok = (r["cut"] or "").startswith(want) and r["eof"]
        if kind == "commands":
            ok = ok and val - 1 <= r["ok"] <= val
        else:
            ok = ok and r["ok"] >= 2 and val - 1 <= r["at"] <= val + 2.5
        check(ok, "%s: %r (want %s %s)" % (a, r, want, limit))
    check(cust["refused"] >= 1,
          "the customer was never refused: the listener was not full")
    check((cust["served"] or "").startswith("253 "),
          "the customer was not served: %r" % (cust,))
    finish(seen)


def per_client(port, cap, src, same, free):
    seen = {}
    keep, replies = [], []
    for i in range(cap + 25):
        t0 = time.time()
        try:
            s = connect(port, src)
            line, _ = read_line(s)
        except OSError as e:
            line, s = "error: %s" % e, None
        dt = round(time.time() - t0, 2)
        if line.startswith("220"):
            keep.append(s)
            replies.append(("220", dt, False))
        else:
            eof = s is not None and is_eof(s, 1)
            replies.append((line[:9], dt, eof))
            if s:
                s.close()
    seen["from " + src] = replies
    check([r[0] for r in replies[:cap]] == ["220"] * cap,
          "first %d from %s: %r" % (cap, src, replies[:cap]))
    over = replies[cap:]
    check(all(r[0] == "421 4.7.0" and r[1] < 1.0 and r[2] for r in over),
          "over the cap from %s: %r" % (src, over))
    for who, want in ((same, "421 4.7.0"), (free, "220")):
        if who == "-":
            continue
        t0 = time.time()
        try:
            s = connect(port, who)
            line, _ = read_line(s)
            s.close()
        except OSError as e:
            line = "error: %s" % e
        seen["from " + who] = (line, round(time.time() - t0, 2))
        check(line.startswith(want) and time.time() - t0 < 1.0,
              "from %s while %s has %d: %r (want %s)" % (
                  who, src, cap, line, want))
    for s in keep:
        s.close()
    finish(seen)


def policy_answers(s, limit):
    """Read answers until EOF or limit s: (answers, closed)."""
    buf = b""
    closed = False
    t0 = time.time()
    s.settimeout(0.5)
    while time.time() - t0 < limit:
        try:
            d = s.recv(65536)
        except socket.timeout:
            continue
        except OSError:
            closed = True
            break
        if not d:
            closed = True
            break
        buf += d
    return [a for a in buf.decode("latin-1").split("\n\n") if a], closed


def policy_requests(path, n):
    seen = {}
    s = unix_connect(path)
    got = []
    for i in range(n):
        s.sendall(POLICY_REQ)
        a, _ = policy_answers_one(s)
        got.append(a)
    closed_after = is_eof(s, 1.0)
    seen["one at a time"] = {"answers": got, "closed": closed_after}
    check(got == ["action=DUNNO"] * n,
          "%d requests one at a time: %r" % (n, got))
    if not closed_after:
        # It may wait for the next request to close.
        try:
            s.sendall(POLICY_REQ)
        except OSError:
            pass
        extra, closed = policy_answers(s, 2)
        seen["one at a time"]["after one more"] = [extra, closed]
        check(not extra and closed,
              "request %d: %r, closed %s" % (n + 1, extra, closed))
    s.close()
    s = unix_connect(path)
    s.sendall(POLICY_REQ * (n + 7))
    ans, closed = policy_answers(s, 3)
    seen["pipelined %d" % (n + 7)] = {"answers": len(ans), "closed": closed}
    check(ans == ["action=DUNNO"] * n and closed,
          "%d pipelined: %d answers, closed %s" % (n + 7, len(ans), closed))
    s.close()
    finish(seen)


def policy_answers_one(s):
    s.settimeout(2)
    try:
        buf = policy.read_reply(s)
    except OSError:
        return "closed", True
    if not buf.endswith(b"\n\n"):
        return "closed", True
    return buf.decode("latin-1").strip(), False


def policy_per_client(path, cap):
    seen = {}
    conns = []
    for i in range(cap):
        s = unix_connect(path)
        s.sendall(POLICY_REQ)
        conns.append((s, policy_answers_one(s)[0]))
    seen["first %d" % cap] = [a for _, a in conns]
    check(all(a == "action=DUNNO" for _, a in conns),
          "the first %d: %r" % (cap, seen["first %d" % cap]))
    t0 = time.time()
    x = unix_connect(path)
    closed = is_eof(x, 1.0)
    seen["one more"] = {"closed": closed, "secs": round(time.time() - t0, 2)}
    check(closed, "connection %d is not closed at once" % (cap + 1))
    x.close()
    again = []
    for s, _ in conns:
        s.sendall(POLICY_REQ)
        again.append(policy_answers_one(s)[0])
    seen["the first ones again"] = again
    check(again == ["action=DUNNO"] * cap,
          "the first %d after the refusal: %r" % (cap, again))
    conns[0][0].close()
    time.sleep(0.3)
    y = unix_connect(path)
    y.sendall(POLICY_REQ)
    seen["after one closed"] = a = policy_answers_one(y)[0]
    check(a == "action=DUNNO", "a freed slot is not taken again: %r" % a)
    y.close()
    for s, _ in conns[1:]:
        s.close()
    finish(seen)


def etrn_storm(port, rate, secs, fmt, n):
    """ETRN at rate/s for secs s, replies counted by code."""
    seen = {"sent": 0, "codes": {}}
    s, buf = None, b""
    t0 = time.time()
    i = 0
    while time.time() - t0 < secs:
        due = t0 + i / rate
        if due > time.time():
            time.sleep(due - time.time())
        d = fmt % (i % n + 1) if n else fmt
        i += 1
        try:
            if s is None:
                s = connect(port)
                g, buf = read_line(s)
                s.sendall(b"EHLO storm.test\r\n")
                _, buf = read_reply(s, buf)
            s.sendall(b"ETRN " + d.encode() + b"\r\n")
            r, buf = read_line(s, buf)
            seen["sent"] += 1
            c = r[:3] if r else "eof"
        except OSError:
            c = "error"
        seen["codes"][c] = seen["codes"].get(c, 0) + 1
        if c not in ("250", "251", "253") and s is not None:
            s.close()
            s, buf = None, b""
    want = int(rate * secs * 0.9)
    ok = sum(seen["codes"].get(c, 0) for c in ("250", "251", "253"))
    check(ok >= want, "%d ETRNs answered 25x, want >= %d" % (ok, want))
    check(ok == sum(seen["codes"].values()),
          "replies other than 250/251/253: %r" % seen["codes"])
    finish(seen)


def main():
    a = sys.argv[1:]
    if len(a) in (5, 6) and a[0] == "etrn-storm":
        etrn_storm(int(a[1]), float(a[2]), float(a[3]), a[4],
                   int(a[5]) if len(a) == 6 else 0)
    if len(a) == 4 and a[0] == "etrnd-flood":
        etrnd_flood(int(a[1]), int(a[2]), int(a[3]))
    elif len(a) == 4 and a[0] == "policy-flood":
        policy_flood(a[1], int(a[2]), int(a[3]))
    elif len(a) == 5 and a[0] == "chatty":
        chatty(int(a[1]), a[2], a[3], int(a[4]))
    elif len(a) == 6 and a[0] == "per-client":
        per_client(int(a[1]), int(a[2]), a[3], a[4], a[5])
    elif len(a) == 3 and a[0] == "policy-requests":
        policy_requests(a[1], int(a[2]))
    elif len(a) == 3 and a[0] == "policy-per-client":
        policy_per_client(a[1], int(a[2]))
    else:
        sys.stderr.write(__doc__)
        sys.exit(2)


if __name__ == "__main__":
    main()
