#!/usr/bin/env python3
"""cpu.py MASTER RUNNER REDIS SINK - print the CPU seconds used so far by:
the machine (busy time of /proc/stat), Postfix (the master, its reaped
children, its live children), showq (live children of the master),
etrnd's runner with its reaped commands (postqueue, postcat, sendmail
with postdrop, postsuper), redis-server, the smtp-sink SINK.

cpu.py --watch PID DIR INTERVAL - every INTERVAL s until killed, print a
line "epoch cpu files": the CPU seconds of process PID with its reaped
children (utime+stime+cutime+cstime) and its live children running
another program (utime+stime: a command not reaped yet, such as
postsuper; not etrnd's listener), and the number of files in DIR (not
counted any more, "0", once it was 0 once); see cpu_split in
bench/lib.sh.
"""
import os, sys, time
hz = os.sysconf("SC_CLK_TCK")

def stat(pid):
    try:
        with open("/proc/%s/stat" % pid) as f:
            s = f.read()
    except OSError:
        return None
    comm = s[s.index("(") + 1:s.rindex(")")]
    f = s[s.rindex(")") + 2:].split()
    # f[0] is field 3 (state): ppid f[1], utime..cstime f[11..14]
    return comm, f[1], int(f[11]) + int(f[12]), int(f[13]) + int(f[14])

def watch(pid, path, interval):
    """The --watch mode (see the top)."""
    n = 1
    kids = "/proc/%s/task/%s/children" % (pid, pid)
    while True:
        st = stat(pid)
        c = st[2] + st[3] if st else 0
        try:
            with open(kids) as f:
                for k in f.read().split():
                    kt = stat(k)
                    if kt and st and kt[0] != st[0]:
                        c += kt[2]
        except OSError:
            pass
        if n:
            n = sum(len(f) for _, _, f in os.walk(path))
        sys.stdout.write("%.3f %.2f %d\n" % (time.time(), c / hz, n))
        sys.stdout.flush()
        time.sleep(interval)

if sys.argv[1] == "--watch":
    watch(sys.argv[2], sys.argv[3], float(sys.argv[4]))
master, runner, redis, sink = sys.argv[1:5]
with open("/proc/stat") as f:
    c = [int(x) for x in f.readline().split()[1:]]
machine = c[0] + c[1] + c[2] + c[5] + c[6] + c[7]
postfix = showq = 0
m = stat(master)
if m:
    postfix = m[2] + m[3]
for pid in os.listdir("/proc"):
    if not pid.isdigit():
        continue
    st = stat(pid)
    if st and st[1] == master:
        postfix += st[2]
        if st[0] == "showq":
            showq += st[2]
r = stat(runner)
d = stat(redis)
k = stat(sink)
print(" ".join("%.2f" % (x / hz) for x in (
    machine, postfix, showq, r[2] + r[3] if r else 0, d[2] if d else 0,
    k[2] if k else 0)))
