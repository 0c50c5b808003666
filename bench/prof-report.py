#!/usr/bin/env python3
"""prof-report.py PROF_OUT N SAMPLE EXTRAPOLATE BATCH BURSTS - print where
etrnd's runner spent its time during the expiry of N messages, from the
output of prof.py (PROF_OUT, sampled every SAMPLE s): sweeps, gaps, the
time by what the runner waited for and, with N under EXTRAPOLATE, the
time for EXTRAPOLATE messages in sweeps of BATCH.  BURSTS is "count
sizes...": the "expired" lines etrnd logged per burst.  Used by
bench/expiry.sh.
"""
import sys

prof, n, sample, x, batch, bursts = sys.argv[1:7]
n, x, batch = int(n), int(x), int(batch)
samples, sweeps, cats, idle = "", [], {}, ""
with open(prof) as f:
    for line in f:
        w = line.split()
        if line.startswith("samples "):
            samples = line[len("samples "):].rstrip("\n")
        elif line.startswith("sweep "):
            sweeps.append((float(w[1]), float(w[2])))
        elif w and w[0] == "cat":
            cats[w[1]] = (float(w[2]), w[3])
        elif line.startswith("idle "):
            idle = line[len("idle "):].rstrip("\n")

busy = sum(e - s for s, e in sweeps)
span = sweeps[-1][1] - sweeps[0][0] if sweeps else 0
print("etrnd's runner, sampled every %ss (%s samples): %d sweeps with"
      " commands, %.1f s in sweeps of %.1f s from first to last"
      % (sample, samples, len(sweeps), busy, span))
print("  sweep lengths (s):" + "".join(" %.1f" % (e - s) for s, e in sweeps))
gaps = "".join(" %.1f" % (sweeps[i][0] - sweeps[i - 1][1])
               for i in range(1, len(sweeps)))
print("  gaps between sweeps (s):" + (gaps or " -"))
print("  logged \"expired\" lines per burst (one burst per sweep): "
      + (bursts.split(" ", 1)[1] if " " in bursts else bursts))
print("  inside sweeps, wall time by what the runner waited for:")
print("    %-14s %8s %6s %10s %12s" % ("", "seconds", "share", "processes",
                                        "ms per call"))
tot = sum(t for t, p in cats.values())
order = ("postqueue", "postcat", "sendmail", "postsuper", "fork/exec",
         "runner-cpu", "runner-wait")
for k in order:
    t, p = cats.get(k, (0.0, ""))
    calls = n if k in ("postcat", "sendmail") else 0
    print("    %-14s %8.1f %5.1f%% %10s %12s"
          % (k, t, 100 * t / tot if tot else 0, p if p != "0" else "",
             "%.1f" % (1000 * t / calls) if calls else ""))
for k in sorted(set(cats) - set(order)):
    t, p = cats[k]
    print("    %-14s %8.1f %5.1f%% %10s"
          % (k, t, 100 * t / tot if tot else 0, p))
print("  (ms per call: the time divided by %d, for the commands run once"
      " per message: postcat, and sendmail without dsn_server;" % n)
print("  processes: those the sampler caught, short ones slip through;")
print("  fork/exec: a child not yet running its command; runner-wait:"
      " Redis, waitpid and the like)")
print("  idle between and around sweeps: %s s" % idle)
if n < x:
    s = r = 0.0
    kr = 0
    length = 0
    for i, (a, b) in enumerate(sweeps):
        s += b - a
        if i and length:
            r += (a - sweeps[i - 1][1]) / length
            kr += 1
        length = b - a
    if sweeps and batch and length:
        m = (x + batch - 1) // batch
        per = s / n
        sw = batch * per
        # No gap measured: the sweeps ran back to back (etrnd goes on at
        # once while more are due).
        gr = r / kr if kr else 0
        t = m * sw + (m - 1) * gr * sw
        print("  extrapolated to %d messages: %d sweeps of %d x %.1f ms ="
              " %.1f s, %d gaps of %.2f x a sweep (%s) = %.0f s"
              " (%.1f msgs/s)" % (x, m, batch, 1000 * per, sw, m - 1, gr,
                                  "measured" if kr else
                                  "none: back to back", t, x / t))
    print("  (linear: the queue directories, read twice a sweep, take"
          " longer with more held)")
