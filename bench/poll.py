#!/usr/bin/env python3
"""poll.py SERIES TIMEOUT INTERVAL PROBE... - wait for queues, sinks and
Redis sorted sets to reach their targets.

Each PROBE is name:op:target:dir:PATH (files below PATH) or
name:op:target:zcard:SOCKET:KEY (no ":" in SOCKET), op le|ge.  Looks
every INTERVAL s until every probe has met its target (or TIMEOUT s
passed: exit 1), then prints per probe "name first done last": epoch
times of the first change from the first value seen and of reaching the
target, and the last value.  Every look is appended to the file SERIES.
Used by bench/flush.sh and bench/expiry.sh.
"""
import os, socket, sys, time

def count(path):
    n, stack = 0, [path]
    while stack:
        try:
            with os.scandir(stack.pop()) as it:
                for e in it:
                    if e.is_dir(follow_symlinks=False):
                        stack.append(e.path)
                    else:
                        n += 1
        except FileNotFoundError:
            pass
    return n

class Zcard:
    def __init__(self, sock, key):
        self.s = socket.socket(socket.AF_UNIX)
        self.s.connect(sock)
        k = key.encode()
        self.req = b"*2\r\n$5\r\nZCARD\r\n$%d\r\n%s\r\n" % (len(k), k)
    def __call__(self):
        self.s.sendall(self.req)
        buf = b""
        while not buf.endswith(b"\r\n"):
            buf += self.s.recv(64)
        return int(buf[1:-2])

series, timeout, interval = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
probes = []
for spec in sys.argv[4:]:
    name, op, target, kind, arg = spec.split(":", 4)
    if kind == "dir":
        fn = lambda p=arg: count(p)
    else:
        fn = Zcard(*arg.split(":", 1))
    probes.append(dict(name=name, fn=fn, op=op, target=int(target),
                       first=None, done=None, start=None, last=None))
deadline = time.time() + timeout
with open(series, "w") as out:
    out.write("time " + " ".join(p["name"] for p in probes) + "\n")
    while True:
        now = time.time()
        for p in probes:
            v = p["fn"]()
            if p["start"] is None:
                p["start"] = v
            elif p["first"] is None and v != p["start"]:
                p["first"] = now
            if p["done"] is None and (v <= p["target"] if p["op"] == "le"
                                      else v >= p["target"]):
                p["done"] = now
            p["last"] = v
        out.write("%.3f %s\n" % (now, " ".join(str(p["last"])
                                               for p in probes)))
        if all(p["done"] is not None for p in probes) or now > deadline:
            break
        time.sleep(interval)
for p in probes:
    print(p["name"], "%.3f" % p["first"] if p["first"] else "-",
          "%.3f" % p["done"] if p["done"] else "-", p["last"])
sys.exit(0 if all(p["done"] is not None for p in probes) else 1)
