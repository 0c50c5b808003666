#!/usr/bin/env python3
"""rss-series.py PID INTERVAL OUT - append "epoch_time vmrss_kib" of PID
to OUT every INTERVAL s until SIGTERM.  Used by bench/connscale.sh.
"""
import signal, sys, time
pid, interval, out = sys.argv[1], float(sys.argv[2]), sys.argv[3]
signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
with open(out, "w", buffering=1) as f:
    nxt = time.time()
    while True:
        try:
            with open("/proc/%s/status" % pid) as st:
                for line in st:
                    if line.startswith("VmRSS:"):
                        f.write("%.3f %s\n" % (time.time(),
                                               line.split()[1]))
                        break
        except OSError:
            pass
        nxt += interval
        time.sleep(max(0.0, nxt - time.time()))
