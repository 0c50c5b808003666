#!/usr/bin/env python3
"""prof.py RUNNER LISTENER INTERVAL SERIES - sample etrnd's queue runner.

Every INTERVAL s until SIGTERM: the command it runs (its child other
than the listener: postqueue, postcat, sendmail, postsuper; "fork/exec"
for a child that has not exec'd yet), else "runner-cpu" (state R) or
"runner-wait" (Redis round trips, waitpid, sleep).  A sweep is a stretch
in which a command runs at least once a second.  Prints "samples N",
"sweep START END" per sweep, "cat NAME SECONDS PIDS" per category (time
inside sweeps, each sample weighted by the time to the next; PIDS:
distinct processes seen) and "idle SECONDS" (outside sweeps).  Every
sample goes to SERIES.  Used by bench/expiry.sh.
"""
import signal, sys, time
runner, listener, interval, series = (sys.argv[1], sys.argv[2],
                                      float(sys.argv[3]), sys.argv[4])
stop = []
signal.signal(signal.SIGTERM, lambda *a: stop.append(1))
GAP = 1.0

def comm_state(pid):
    try:
        with open("/proc/%s/stat" % pid) as f:
            s = f.read()
    except OSError:
        return None, None
    return s[s.index("(") + 1:s.rindex(")")], s[s.rindex(")") + 2:].split()[0]

def children(pid):
    try:
        with open("/proc/%s/task/%s/children" % (pid, pid)) as f:
            return f.read().split()
    except OSError:
        return []

samples, pids = [], {}
while not stop:
    now = time.time()
    cat = None
    for c in children(runner):
        if c == listener:
            continue
        comm, st = comm_state(c)
        if comm is None:
            continue
        if comm == "etrnd":
            comm = "fork/exec"
        pids.setdefault(comm, set()).add(c)
        cat = comm
        break
    if cat is None:
        comm, st = comm_state(runner)
        if comm is None:
            break
        cat = "runner-cpu" if st == "R" else "runner-wait"
    samples.append((now, cat))
    time.sleep(interval)
samples.append((time.time(), "end"))
sweeps, cur = [], None
for t, cat in samples:
    if cat in ("runner-cpu", "runner-wait", "end"):
        continue
    if cur and t - cur[1] <= GAP:
        cur[1] = t
    else:
        cur = [t, t]
        sweeps.append(cur)
secs, idle = {}, 0.0
with open(series, "w") as out:
    for i in range(len(samples) - 1):
        t, cat = samples[i]
        dt = samples[i + 1][0] - t
        out.write("%.3f %s\n" % (t, cat))
        if any(s <= t <= e for s, e in sweeps):
            secs[cat] = secs.get(cat, 0.0) + dt
        else:
            idle += dt
print("samples", len(samples) - 1)
for s, e in sweeps:
    print("sweep %.3f %.3f" % (s, e))
for cat in sorted(secs):
    print("cat %s %.3f %d" % (cat, secs[cat], len(pids.get(cat, ()))))
print("idle %.3f" % idle)
