#!/usr/bin/env python3
"""peak-rss.py OUT PID... - every 0.5 s, the VmRSS (KiB) of each PID; on
SIGTERM print the largest of each to OUT ("PID KiB", one a line).  Used
by bench/memory.sh.
"""
import signal, sys, time
out, pids = sys.argv[1], sys.argv[2:]
peak = dict.fromkeys(pids, 0)
def stop(*a):
    with open(out, "w") as f:
        for p in pids:
            f.write("%s %d\n" % (p, peak[p]))
    sys.exit(0)
signal.signal(signal.SIGTERM, stop)
while True:
    for p in pids:
        try:
            for line in open("/proc/%s/status" % p):
                if line.startswith("VmRSS:"):
                    peak[p] = max(peak[p], int(line.split()[1]))
        except OSError:
            pass
    time.sleep(0.5)
