#!/usr/bin/env python3
"""run.py OUT CMD... - run CMD with stdout to OUT; print "rc seconds
maxrss_kib lines" (maxrss of CMD and its children).  Used by
bench/memory.sh.
"""
import resource, subprocess, sys, time
t = time.time()
with open(sys.argv[1], "wb") as out:
    rc = subprocess.call(sys.argv[2:], stdout=out)
t = time.time() - t
rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
lines = sum(1 for _ in open(sys.argv[1], "rb"))
print(rc, "%.2f" % t, rss, lines)
