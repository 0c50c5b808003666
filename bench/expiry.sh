#!/bin/bash
# bench/expiry.sh - expiry benchmark: etrnd returning held mail at its
# deadline against Postfix bouncing expired deferred mail (run as root,
# Debian 12).
#
# Starts one sandbox (contrib/sandbox: SB_ETRND=1, etrn-milter) and, in
# that one Postfix, returns the same number of 1 KiB messages to their
# sender (smtp-source's one sender, sender@example.org: N DSNs to one
# address, delivered to the sandbox's internet sink) in two ways:
#   (1) etrnd: N messages for dialup.test are held (hold queue + Redis
#       index) with a long per-domain hold time (etrn:domain:dialup.test
#       hold_time 1d, warn_time 0); one Lua script then sets the score of
#       every entry of etrn:expiry:<host> to 0 (all N due at once) and the
#       time runs from that script until (a) every queue file is deleted
#       (the hold queue is empty), (b) all N DSNs are handed to Postfix
#       for delivery (N "from=<>" pickup lines in Postfix's log: requeued
#       from the hold queue of the sandbox's dsn_server, or from sendmail
#       with SB_DSN_SERVER=none) and at the internet sink, (c) the
#       Redis index is empty (etrn:held:dialup.test and etrn:expiry:<host>;
#       afterwards etrn:stats:dialup.test expired must have grown by N);
#   (2) Postfix: N messages for defer.test (not a dial-up domain: the
#       milter passes it), whose transport points at a closed loopback
#       port (the sandbox's unused policy port), wait in the deferred
#       queue; then maximal_queue_lifetime = bounce_queue_lifetime = 1s
#       (postconf -e, postfix reload) and the time runs from "postqueue
#       -f" until the deferred queue is empty, every original is removed
#       and its bounce (null sender) created, and all N bounces are at the
#       internet sink;
#   (3) the ratios etrnd/Postfix for "all DSNs submitted and all files
#       gone" and for "all DSNs at the sink" (no target: information);
#   (4) memory with N held, before the expiry: Redis used_memory (INFO
#       memory) against the same sandbox before any mail, bytes per held
#       message, and the RSS of etrnd's runner and listener.
# One run, (1) before (2).  Sending the mail is not timed.  Queue, sink
# and index are polled every 0.1 s (file counts; smtp-sink writes one file
# per message), so times are good to about 0.1 s.  etrnd's log and
# Postfix's maillog are time-stamped as they are written; etrnd's runner
# is sampled every 10 ms (which command it waits for, or whether it is on
# the CPU) to show where its time goes.
#
# etrnd works on at most 500 due messages per sweep, reads the queue
# directories three times per sweep, runs postcat once per message,
# submits each DSN (SMTP to the sandbox's holding dsn_server; sendmail
# with SB_DSN_SERVER=none), releases the sweep's DSNs (postsuper -r,
# postkick) and deletes the files (postsuper -d) with one command each.
# The default is 10,000 messages; with fewer (BENCH_MESSAGES) the report
# extrapolates to 10,000 from the measured sweeps (sweeps of EXP_BATCH
# messages at the measured time per message, each followed by a gap of
# the measured ratio of gap to sweep).
#
# Environment: BENCH_MESSAGES (10000) messages per case; BENCH_SESSIONS
# (10) smtp-source -s; BENCH_SIZE (1024) payload bytes; SB_PORT_BASE
# (8525: SMTP base..base+5, Redis base+100; on a busy port the bases +10,
# +20 ... are tried); OPENETRN_BUILDDIR (top of the tree) holds
# etrn-milter and etrnd/etrnd; BENCH_KEEP=1 keeps the work directory
# (sandbox, logs, time series series-*, runner samples).  The report also
# goes to bench/results/expiry-YYYYmmdd-HHMMSS.txt.  Takes about 8
# minutes with the defaults on 2 CPUs (sending 20,000 messages included),
# longer on a busy machine (etrnd's sweeps are CPU-bound).  Exit 0 when the benchmark ran, 1 on errors.
set -eu -o pipefail

PROG=bench/expiry.sh
TOP=$(cd "$(dirname "$0")/.." && pwd)
SANDBOX=$TOP/contrib/sandbox
BUILD=${OPENETRN_BUILDDIR:-$TOP}
MESSAGES=${BENCH_MESSAGES:-10000}
SESSIONS=${BENCH_SESSIONS:-10}
SIZE=${BENCH_SIZE:-1024}
BASE=${SB_PORT_BASE:-8525}
EXTRAPOLATE=10000	# messages the etrnd figures are extrapolated to
POLL=0.1		# seconds between two looks at queue, sink and index
SAMPLE=0.01		# seconds between two looks at etrnd's runner
# Due messages etrnd works on per sweep (for the extrapolation).
EXP_BATCH=$(sed -n 's/^#define EXP_BATCH[[:space:]]*\([0-9]*\).*/\1/p' \
    "$TOP/etrnd/expire.c" 2>/dev/null || true)
EXP_BATCH=${EXP_BATCH:-500}
PATH=$PATH:/usr/sbin:/sbin
PY=$(command -v /usr/bin/python3 python3 2>/dev/null | head -n 1)
WORK=
SBDIR=
TSLOG_PIDS=
POLL_PID=
PROF_PID=
declare -A R=() P=()	# results, by name; poller results

# Print an error and exit 1 (the EXIT trap stops the sandbox).
die() {
	echo "$PROG: $*" >&2
	exit 1
}

# Print a progress line to stderr.
note() {
	echo "$PROG: $*" >&2
}

# Stop the log time-stampers and the runner sampler, if they run.
stop_tslog() {
	local pid
	for pid in $TSLOG_PIDS $PROF_PID; do
		kill -TERM "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	TSLOG_PIDS=
	PROF_PID=
}

# EXIT trap: stop the helpers and the sandbox, remove the work directory.
cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	stop_tslog
	if [ -n "$POLL_PID" ]; then
		kill -TERM "$POLL_PID" 2>/dev/null || true
		wait "$POLL_PID" 2>/dev/null || true
	fi
	if [ -n "$SBDIR" ]; then
		if [ "$rc" != 0 ] && [ -s "$SBDIR/log/etrnd.log" ]; then
			echo "---- last lines of $SBDIR/log/etrnd.log ----" >&2
			tail -n 15 "$SBDIR/log/etrnd.log" >&2
		fi
		"$SANDBOX" stop "$SBDIR" >/dev/null 2>&1 ||
		    note "could not stop sandbox $SBDIR"
	fi
	if [ -n "$WORK" ] && [ -d "$WORK" ]; then
		if [ "${BENCH_KEEP:-0}" = 1 ] || [ "$rc" != 0 ]; then
			note "work directory kept in $WORK"
		else
			rm -rf "$WORK"
		fi
	fi
	exit "$rc"
}

# Fail unless $1 is a positive integer (named $2).
check_number() {
	case $1 in
	'' | *[!0-9]* | 0*) die "$2 must be a positive integer, not \"$1\"" ;;
	esac
}

# Write the Python helpers into $WORK.
write_helpers() {
	# poll.py SERIES TIMEOUT INTERVAL PROBE... - each PROBE is
	# name:op:target:dir:PATH (files below PATH) or
	# name:op:target:zcard:SOCKET:KEY (no ":" in SOCKET), op le|ge.
	# Looks every INTERVAL s until every probe has met its target (or
	# TIMEOUT s passed: exit 1), then prints per probe "name first done
	# last": epoch times of the first change from the first value seen
	# and of reaching the target, and the last value.  Every look is
	# appended to the file SERIES.
	cat >"$WORK/poll.py" <<'EOF'
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
EOF
	# tslog.py FILE OUT - copy the lines appended to FILE from now on to
	# OUT, each prefixed with the epoch time it was read; until SIGTERM.
	cat >"$WORK/tslog.py" <<'EOF'
import signal, sys, time
signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
with open(sys.argv[1], "rb") as f, open(sys.argv[2], "w") as out:
    f.seek(0, 2)
    part = b""
    while True:
        line = f.readline()
        if not line:
            out.flush()
            time.sleep(0.01)
            continue
        part += line
        if part.endswith(b"\n"):
            out.write("%.3f %s" % (time.time(),
                                   part.decode("utf-8", "replace")))
            part = b""
EOF
	# cpu.py MASTER RUNNER REDIS SINK - CPU seconds used so far by: the
	# machine (busy time of /proc/stat), Postfix (the master, its reaped
	# children, its live children), showq (live children of the master),
	# etrnd's runner with its reaped commands (postqueue, postcat,
	# sendmail with postdrop, postsuper), redis-server, the internet
	# smtp-sink.
	cat >"$WORK/cpu.py" <<'EOF'
import os, sys
hz = os.sysconf("SC_CLK_TCK")
master, runner, redis, sink = sys.argv[1:5]

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
EOF
	# prof.py RUNNER LISTENER INTERVAL SERIES - sample etrnd's runner
	# every INTERVAL s until SIGTERM: the command it runs (its child
	# other than the listener: postqueue, postcat, sendmail, postsuper;
	# "fork/exec" for a child that has not exec'd yet), else "runner-cpu"
	# (state R) or "runner-wait" (Redis round trips, waitpid, sleep).  A
	# sweep is a stretch in which a command runs at least once a second.
	# Prints "samples N", "sweep START END" per sweep, "cat NAME SECONDS
	# PIDS" per category (time inside sweeps, each sample weighted by
	# the time to the next; PIDS: distinct processes seen) and "idle
	# SECONDS" (outside sweeps).  Every sample goes to SERIES.
	cat >"$WORK/prof.py" <<'EOF'
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
EOF
}

# Start the sandbox; on a busy port (exit 75) try the next bases.
start_sandbox() {
	local base=$BASE rc
	for _ in 1 2 3 4 5; do
		SBDIR=$WORK/sb
		note "starting the sandbox on port base $base"
		rc=0
		(unset SMTP_PORT SINK_PORT REINJECT_PORT CUSTOMER_PORT \
		    ETRND_PORT POLICY_PORT REDIS_PORT
		SB_PORT_BASE=$base SB_ETRND=1 SB_MILTER=etrn \
		    SB_MILTER_VERBOSE=no OPENETRN_BUILDDIR=$BUILD \
		    SB_EXTRA_MAIN_CF="queue_run_delay = 300s
minimal_backoff_time = 300s
maximal_backoff_time = 4000s" \
		    "$SANDBOX" start "$SBDIR") >"$WORK/start.log" 2>&1 || rc=$?
		[ "$rc" = 0 ] && break
		if [ "$rc" != 75 ]; then
			cat "$WORK/start.log" >&2
			die "the sandbox did not start"
		fi
		note "a port is busy: $(tail -n 1 "$WORK/start.log")"
		SBDIR=
		base=$((base + 10))
	done
	[ -n "$SBDIR" ] || die "no free port base from $BASE on"
	# shellcheck disable=SC1091
	. "$SBDIR/env"
	HOST=$(sed -n 's/^hostname *= *//p' "$OPENETRN_CONF")
	[ -n "$HOST" ] || die "no hostname in $OPENETRN_CONF"
}

# Configure the sandbox: a long hold time for dialup.test, no delay
# warning; mail for defer.test to the closed policy port.
setup() {
	local maps defer_map
	redis-cli -s "$REDIS_SOCK" HSET etrn:domain:dialup.test \
	    hold_time 1d warn_time 0 >/dev/null ||
	    die "cannot set dialup.test's hold time"
	port_busy "$POLICY_PORT" &&
	    die "port $POLICY_PORT is in use: it must be closed"
	maps=$(postconf -c "$PF_CONF" -h transport_maps)
	defer_map="inline:{ defer.test=smtp:[127.0.0.1]:$POLICY_PORT }"
	postconf -c "$PF_CONF" -e "transport_maps = $maps, $defer_map" ||
	    die "postconf -e failed"
	postfix -c "$PF_CONF" reload >/dev/null 2>&1 ||
	    die "postfix reload failed; see $PF_LOG"
	sleep 2		# the milter reads the domain entries every second
	[ "$(postmap -c "$PF_CONF" -q defer.test "$defer_map")" = \
	    "smtp:[127.0.0.1]:$POLICY_PORT" ] ||
	    die "transport for defer.test not set"
}

# Succeed if something listens on TCP port $1 on loopback.
port_busy() {
	[ -n "$(ss -Hltn "sport = :$1" 2>/dev/null)" ]
}

# Print the number of files below directory $1.
count_files() {
	find "$1" -type f | wc -l
}

# Print the number of messages in queue $1 according to postqueue -j.
queue_count() {
	postqueue -c "$PF_CONF" -j |
	    grep -c "\"queue_name\": *\"$1\"" || true
}

# Print ZCARD of key $1.
zcard() {
	redis-cli -s "$REDIS_SOCK" ZCARD "$1"
}

# Print field $2 of etrn:stats:$1 (0 if unset).
stat_field() {
	local v
	v=$(redis-cli -s "$REDIS_SOCK" HGET "etrn:stats:$1" "$2")
	echo "${v:-0}"
}

# Print Redis's used_memory (bytes).
redis_memory() {
	redis-cli -s "$REDIS_SOCK" INFO memory |
	    sed -n 's/^used_memory:\([0-9]*\).*/\1/p'
}

# Wait up to $1 seconds until "$2..." succeeds; fail otherwise.
wait_until() {
	local end=$((SECONDS + $1))
	shift
	until "$@"; do
		[ "$SECONDS" -ge "$end" ] && return 1
		sleep 0.2
	done
}

# Succeed if directory $1 holds exactly $2 files.
files_are() {
	[ "$(count_files "$1")" = "$2" ]
}

# Succeed if $1 messages are held and indexed.
held_and_indexed() {
	files_are "$PF_SPOOL/hold" "$1" &&
	    [ "$(zcard etrn:held:dialup.test)" = "$1" ] &&
	    [ "$(zcard "etrn:expiry:$HOST")" = "$1" ]
}

# Succeed if $1 messages are deferred and nothing is incoming or active.
all_deferred() {
	files_are "$PF_SPOOL/deferred" "$1" &&
	    files_are "$PF_SPOOL/incoming" 0 && files_are "$PF_SPOOL/active" 0
}

# Succeed if the queue (incoming, active, deferred) is empty.
queue_empty() {
	all_deferred 0
}

# Print the number of files below the internet sink that match regular
# expression $1 (grep -E).
sink_count() {
	find "$SINK_DIR_INTERNET" -type f -print0 |
	    xargs -0 -r grep -lE -e "$1" | wc -l
}

# Send $1 messages to $2 with smtp-source; accepted msgs/s in ACCEPTED.
source_mail() {
	local t0 t1
	t0=$EPOCHREALTIME
	smtp-source -s "$SESSIONS" -m "$1" -l "$SIZE" \
	    -f sender@example.org -t "$2" "127.0.0.1:$SMTP_PORT" \
	    >"$WORK/smtp-source.log" 2>&1 || {
		cat "$WORK/smtp-source.log" >&2
		die "smtp-source to $2 failed"
	}
	t1=$EPOCHREALTIME
	ACCEPTED=$(awk -v n="$1" -v a="$t0" -v b="$t1" \
	    'BEGIN { printf "%.0f", n / (b - a) }')
}

# Print $2 - $1 in seconds (3 decimals), or "-" when $2 is "-".
delta() {
	case $2 in '' | -) echo -; return ;; esac
	awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'
}

# Print $1 / $2 (messages per second), or "-".
per_s() {
	case $2 in '' | - | 0 | 0.000) echo -; return ;; esac
	awk -v n="$1" -v t="$2" 'BEGIN { printf "%.0f", n / t }'
}

# Print the larger of $1 and $2 ("-" if either is "-").
later() {
	case "$1 $2" in *-*) echo -; return ;; esac
	awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", (a > b ? a : b) }'
}

# Print $1 / $2 with 3 decimals, or "-".
ratio() {
	case "$1 $2" in *-* | *" 0.000") echo -; return ;; esac
	awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / b }'
}

# Run the poller: time series file $1, timeout $2, probes...; it runs in
# the background (POLL_PID), its output goes to $1.out.
start_poller() {
	local series=$1 timeout=$2
	shift 2
	"$PY" "$WORK/poll.py" "$series" "$timeout" "$POLL" "$@" \
	    >"$series.out" 2>&1 &
	POLL_PID=$!
	sleep 0.3	# its first look comes before the start
}

# Wait for the poller; set P[first_NAME], P[done_NAME], P[last_NAME].
finish_poller() {
	local series=$1 rc=0 name first reached last
	wait "$POLL_PID" || rc=$?
	POLL_PID=
	P=()
	while read -r name first reached last; do
		P[first_$name]=$first
		P[done_$name]=$reached
		P[last_$name]=$last
	done <"$series.out"
	return $rc
}

# Time-stamp log $1 into $2 (see tslog.py) until stop_tslog.
start_tslog() {
	: >"$2"
	"$PY" "$WORK/tslog.py" "$1" "$2" &
	TSLOG_PIDS="$TSLOG_PIDS $!"
}

# Print the elapsed seconds of a postqueue -j with the queue as it is.
time_listing() {
	local t0 t1
	t0=$EPOCHREALTIME
	postqueue -c "$PF_CONF" -j >/dev/null
	t1=$EPOCHREALTIME
	delta "$t0" "$t1"
}

# Print "first last count" of the lines of time-stamped log $3 matching
# $1 (an awk regular expression; times relative to $2).
log_times() {
	awk -v t0="$2" -v pat="$1" '
		$0 ~ pat { if (!n++) f = $1; l = $1 }
		END {
			if (n) printf "%.3f %.3f %d\n", f - t0, l - t0, n
			else print "- - 0"
		}' "$3"
}

# Print "count sizes..." of the bursts (lines more than 1 s apart start a
# new one) of the lines of time-stamped log $2 matching $1.
log_bursts() {
	awk -v pat="$1" '
		$0 ~ pat {
			if (!n || $1 - last > 1) size[++n] = 0
			size[n]++; last = $1
		}
		END {
			printf "%d", n
			for (i = 1; i <= n; i++) printf " %d", size[i]
			print ""
		}' "$2"
}

# Print the CPU seconds used so far (see cpu.py).
cpu_now() {
	"$PY" "$WORK/cpu.py" "$POSTFIX_PID" "$ETRND_PID" "$REDIS_PID" \
	    "$SINK_INTERNET_PID"
}

# Store the CPU used between snapshots $2 and $3 as results "$1_cpu_*".
put_cpu() {
	local -a a b
	local i names=(machine postfix showq runner redis sink)
	read -r -a a <<<"$2"
	read -r -a b <<<"$3"
	for i in "${!names[@]}"; do
		R[$1_cpu_${names[$i]}]=$(awk -v x="${a[$i]}" -v y="${b[$i]}" \
		    'BEGIN { printf "%.2f", y - x }')
	done
}

# Print the RSS (KiB) of etrnd's runner and listener: "runner listener".
etrnd_rss() {
	local runner listener
	runner=$(ps -o rss= -p "$ETRND_PID" | tr -d ' ')
	listener=$(ps -o rss=,comm= --ppid "$ETRND_PID" |
	    awk '$2 == "etrnd" { print $1; exit }')
	echo "${runner:-?} ${listener:-?}"
}

# Print the PID of etrnd's listener.
listener_pid() {
	ps -o pid=,comm= --ppid "$ETRND_PID" |
	    awk '$2 == "etrnd" { print $1; exit }'
}

# Sample etrnd's runner (prof.py) into $WORK/prof.out until stop_tslog.
start_prof() {
	"$PY" "$WORK/prof.py" "$ETRND_PID" "$(listener_pid)" "$SAMPLE" \
	    "$WORK/samples-etrnd" >"$WORK/prof.out" 2>&1 &
	PROF_PID=$!
}

# (1) etrnd: hold N messages, make them all due, time the expiry.
bench_etrnd() {
	local n=$MESSAGES t0 t1 timeout cpu0 expired0 f l c got
	R[mem_base]=$(redis_memory)
	R[rss_base]=$(etrnd_rss)
	note "(1) etrnd: holding $n messages for dialup.test"
	find "$SINK_DIR_INTERNET" -type f -delete
	source_mail "$n" rcpt@dialup.test
	R[accept_etrnd]=$ACCEPTED
	wait_until $((60 + n / 100)) held_and_indexed "$n" ||
	    die "(1): $(count_files "$PF_SPOOL/hold") in hold," \
	    "$(zcard etrn:held:dialup.test) indexed," \
	    "$(zcard "etrn:expiry:$HOST") in etrn:expiry:$HOST, expected $n"
	[ "$(queue_count hold)" = "$n" ] ||
	    die "(1): postqueue -j does not list $n held messages"
	got=$(redis-cli -s "$REDIS_SOCK" ZRANGEBYSCORE "etrn:expiry:$HOST" \
	    -inf "$(($(date +%s) + 80000))" | grep -c . || true)
	[ "$got" = 0 ] ||
	    die "(1): $got messages expire within a day: hold_time 1d not used"
	sleep 2
	if ! files_are "$PF_SPOOL/hold" "$n" ||
	    ! files_are "$SINK_DIR_INTERNET" 0; then
		die "(1): held mail left the hold queue or a DSN went out early"
	fi
	R[listing]=$(time_listing)
	R[mem_held]=$(redis_memory)
	R[rss_held]=$(etrnd_rss)
	expired0=$(stat_field dialup.test expired)
	note "(1) $n held and indexed; making them all due at once"

	start_tslog "$SBDIR/log/etrnd.log" "$WORK/etrnd-ts.log"
	start_tslog "$PF_LOG" "$WORK/maillog-ts-etrnd"
	start_prof
	timeout=$((900 + n / 2))
	start_poller "$WORK/series-etrnd" "$timeout" \
	    "hold:le:0:dir:$PF_SPOOL/hold" \
	    "sink:ge:$n:dir:$SINK_DIR_INTERNET" \
	    "held:le:0:zcard:$REDIS_SOCK:etrn:held:dialup.test" \
	    "due:le:0:zcard:$REDIS_SOCK:etrn:expiry:$HOST"
	cpu0=$(cpu_now)
	t0=$EPOCHREALTIME
	got=$(redis-cli -s "$REDIS_SOCK" EVAL "
		local m = redis.call('ZRANGE', KEYS[1], 0, -1)
		for i = 1, #m do redis.call('ZADD', KEYS[1], 0, m[i]) end
		return #m" 1 "etrn:expiry:$HOST")
	t1=$EPOCHREALTIME
	R[t_due]=$(delta "$t0" "$t1")
	if [ "$got" != "$n" ]; then
		kill "$POLL_PID" 2>/dev/null || true
		die "(1): $got entries made due, expected $n"
	fi
	note "(1) $n due; waiting (at most $timeout s)"
	finish_poller "$WORK/series-etrnd" ||
	    die "(1): not done after $timeout s: hold ${P[last_hold]:-?}," \
	    "sink ${P[last_sink]:-?}, index ${P[last_held]:-?}," \
	    "due ${P[last_due]:-?}"
	put_cpu etrnd "$cpu0" "$(cpu_now)"
	sleep 1.5	# the last log lines
	stop_tslog
	R[etrnd_first_gone]=$(delta "$t0" "${P[first_hold]}")
	R[etrnd_gone]=$(delta "$t0" "${P[done_hold]}")
	R[etrnd_first_sink]=$(delta "$t0" "${P[first_sink]}")
	R[etrnd_sink]=$(delta "$t0" "${P[done_sink]}")
	R[etrnd_index]=$(later "$(delta "$t0" "${P[done_held]}")" \
	    "$(delta "$t0" "${P[done_due]}")")
	read -r f l c < <(log_times ' uid=[0-9]+ from=<>( orig_id=[0-9A-Za-z]+)?$' "$t0" \
	    "$WORK/maillog-ts-etrnd")
	R[etrnd_submit_first]=$f
	R[etrnd_submitted]=$l
	R[etrnd_submit_count]=$c
	read -r f l c < <(log_times 'postfix/postsuper.*: removed$' "$t0" \
	    "$WORK/maillog-ts-etrnd")
	R[etrnd_removed_count]=$c
	R[etrnd_removed_last]=$l
	R[etrnd_done]=$(later "${R[etrnd_gone]}" "${R[etrnd_submitted]}")
	read -r f l c < <(log_times ': expired domain=dialup.test' "$t0" \
	    "$WORK/etrnd-ts.log")
	R[etrnd_log_first]=$f
	R[etrnd_log_last]=$l
	R[etrnd_log_count]=$c
	R[etrnd_dsn_sent]=$(grep -c ': expired domain=.* dsn=sent$' \
	    "$WORK/etrnd-ts.log" || true)
	R[etrnd_warnings]=$(grep -c 'warning:' "$WORK/etrnd-ts.log" || true)
	R[etrnd_bursts]=$(log_bursts ': expired domain=' "$WORK/etrnd-ts.log")
	R[etrnd_expired]=$(($(stat_field dialup.test expired) - expired0))
	R[etrnd_sink_auto]=$(sink_count '^Auto-Submitted: auto-replied')
	R[etrnd_sink_ours]=$(sink_count '^Message-ID: <expired\.')
	R[etrnd_sink_null]=$(sink_count '^X-Mail-Args: <>')
	R[mem_after]=$(redis_memory)
	R[rss_after]=$(etrnd_rss)
	R[held_after]=$(zcard etrn:held:dialup.test)
	R[due_after]=$(zcard "etrn:expiry:$HOST")
	R[msgkeys_after]=$(redis-cli -s "$REDIS_SOCK" --scan \
	    --pattern "etrn:msg:$HOST:*" | wc -l)
	note "(1) files gone ${R[etrnd_gone]} s, DSNs submitted" \
	    "${R[etrnd_submitted]} s, at the sink ${R[etrnd_sink]} s," \
	    "index empty ${R[etrnd_index]} s"
}

# (2) Postfix: defer N messages for defer.test, expire them, time it.
bench_postfix() {
	local n=$MESSAGES t0 timeout cpu0 f l c
	note "(2) Postfix: deferring $n messages for defer.test"
	find "$SINK_DIR_INTERNET" -type f -delete
	source_mail "$n" rcpt@defer.test
	R[accept_postfix]=$ACCEPTED
	wait_until $((60 + n / 50)) all_deferred "$n" ||
	    die "(2): $(count_files "$PF_SPOOL/deferred") deferred," \
	    "expected $n; see $PF_LOG"
	[ "$(queue_count deferred)" = "$n" ] ||
	    die "(2): postqueue -j does not list $n deferred messages"
	find "$PF_SPOOL/deferred" -type f -printf '%f\n' >"$WORK/originals"
	note "(2) $n deferred; maximal_queue_lifetime = bounce_queue_lifetime" \
	    "= 1s, reload"
	postconf -c "$PF_CONF" -e "maximal_queue_lifetime = 1s" \
	    "bounce_queue_lifetime = 1s" || die "postconf -e failed"
	postfix -c "$PF_CONF" reload >/dev/null 2>&1 ||
	    die "postfix reload failed; see $PF_LOG"
	sleep 2
	if ! files_are "$SINK_DIR_INTERNET" 0 || ! all_deferred "$n"; then
		die "(2): deferred mail bounced or left before postqueue -f"
	fi

	start_tslog "$PF_LOG" "$WORK/maillog-ts-postfix"
	timeout=$((120 + n / 20))
	start_poller "$WORK/series-postfix" "$timeout" \
	    "deferred:le:0:dir:$PF_SPOOL/deferred" \
	    "sink:ge:$n:dir:$SINK_DIR_INTERNET"
	cpu0=$(cpu_now)
	t0=$EPOCHREALTIME
	postqueue -c "$PF_CONF" -f || {
		kill "$POLL_PID" 2>/dev/null || true
		die "(2): postqueue -f failed"
	}
	note "(2) postqueue -f done; waiting (at most $timeout s)"
	finish_poller "$WORK/series-postfix" ||
	    die "(2): not done after $timeout s: deferred" \
	    "${P[last_deferred]:-?}, sink ${P[last_sink]:-?}"
	put_cpu postfix "$cpu0" "$(cpu_now)"
	wait_until 30 queue_empty || note "(2) the queue is not empty"
	sleep 1.5	# the last log lines
	stop_tslog
	R[postfix_first_out]=$(delta "$t0" "${P[first_deferred]}")
	R[postfix_deferred]=$(delta "$t0" "${P[done_deferred]}")
	R[postfix_first_sink]=$(delta "$t0" "${P[first_sink]}")
	R[postfix_sink]=$(delta "$t0" "${P[done_sink]}")
	read -r f l c < <(log_times 'sender non-delivery notification' "$t0" \
	    "$WORK/maillog-ts-postfix")
	R[postfix_bounce_first]=$f
	R[postfix_bounced]=$l
	R[postfix_bounce_count]=$c
	read -r f l c < <(awk -v t0="$t0" '
		NR == FNR { id[$1]; next }
		$NF == "removed" {
			q = $(NF - 1); sub(/:$/, "", q)
			if (q in id) { if (!n++) f = $1; l = $1 }
		}
		END {
			if (n) printf "%.3f %.3f %d\n", f - t0, l - t0, n
			else print "- - 0"
		}' "$WORK/originals" "$WORK/maillog-ts-postfix")
	R[postfix_removed]=$l
	R[postfix_removed_count]=$c
	R[postfix_done]=$(later "${R[postfix_bounced]}" "${R[postfix_removed]}")
	R[postfix_sink_auto]=$(sink_count '^Auto-Submitted: auto-replied')
	R[postfix_sink_null]=$(sink_count '^X-Mail-Args: <>')
	R[postfix_sink_subject]=$(sink_count \
	    '^Subject: Undelivered Mail Returned to Sender')
	note "(2) deferred queue empty ${R[postfix_deferred]} s, bounces" \
	    "created ${R[postfix_bounced]} s, at the sink ${R[postfix_sink]} s"
}

# Print one table row: label, seconds, msgs/s (if $3).
row() {
	printf '%-50s %8s %8s\n' "$1" "${R[$2]:--}" \
	    "$([ -n "${3:-}" ] && per_s "$MESSAGES" "${R[$2]:--}")"
}

# Print the ratio line for etrnd result $2 against Postfix result $3.
ratio_row() {
	local r
	r=$(ratio "${R[$2]}" "${R[$3]}")
	printf '%-50s %8s   %s\n' "$1" "$r" "$(awk -v r="$r" 'BEGIN {
		if (r == "-") print "";
		else if (r > 1) printf "Postfix faster (x%.1f)\n", r;
		else printf "etrnd faster (x%.1f)\n", 1 / r }')"
}

# Print where etrnd's runner spent its time (from prof.out).
report_profile() {
	local n=$MESSAGES sweeps busy span
	sweeps=$(grep -c '^sweep ' "$WORK/prof.out" || true)
	busy=$(awk '$1 == "sweep" { s += $3 - $2 } END { printf "%.1f", s }' \
	    "$WORK/prof.out")
	span=$(awk '$1 == "sweep" { if (!f) f = $2; l = $3 }
	    END { printf "%.1f", l - f }' "$WORK/prof.out")
	echo "etrnd's runner, sampled every ${SAMPLE}s ($(sed -n \
	    's/^samples //p' "$WORK/prof.out") samples): $sweeps sweeps" \
	    "with commands, $busy s in sweeps of $span s from first to last"
	awk '$1 == "sweep" {
		if (p) g = g sprintf(" %.1f", $2 - p)
		s = s sprintf(" %.1f", $3 - $2); p = $3
	} END {
		print "  sweep lengths (s):" s
		print "  gaps between sweeps (s):" (g ? g : " -")
	}' "$WORK/prof.out"
	echo "  logged \"expired\" lines per burst (one burst per sweep):" \
	    "${R[etrnd_bursts]#* }"
	echo "  inside sweeps, wall time by what the runner waited for:"
	printf '    %-14s %8s %6s %10s %12s\n' "" seconds share processes \
	    "ms per call"
	awk -v n="$n" -v sw="$sweeps" '
		$1 == "cat" { t[$2] = $3; p[$2] = $4; tot += $3 }
		END {
			split("postqueue postcat sendmail postsuper fork/exec " \
			    "runner-cpu runner-wait", o, " ")
			for (i = 1; i in o; i++) {
				k = o[i]; seen[k] = 1
				calls = (k ~ /^postcat$|^sendmail$/) ? n : 0
				printf "    %-14s %8.1f %5.1f%% %10s %12s\n", k,
				    t[k], tot ? 100 * t[k] / tot : 0,
				    (k in p) && p[k] ? p[k] : "",
				    calls ? sprintf("%.1f", \
				    1000 * t[k] / calls) : ""
			}
			for (k in t) if (!(k in seen))
				printf "    %-14s %8.1f %5.1f%% %10s\n", k, t[k],
				    100 * t[k] / tot, p[k]
		}' "$WORK/prof.out"
	echo "  (ms per call: the time divided by $n, for the commands run" \
	    "once per message: postcat, and sendmail without dsn_server;"
	echo "  processes: those the sampler caught, short ones slip through;"
	echo "  fork/exec: a child not yet running its command; runner-wait:" \
	    "Redis, waitpid and the like)"
	echo "  idle between and around sweeps: $(sed -n 's/^idle //p' \
	    "$WORK/prof.out") s"
	if [ "$n" -lt "$EXTRAPOLATE" ]; then
		awk -v n="$n" -v x="$EXTRAPOLATE" -v batch="$EXP_BATCH" '
			$1 == "sweep" {
				k++; s += $3 - $2
				if (p) { r += ($2 - p) / len; kr++ }
				p = $3; len = $3 - $2
			}
			END {
				if (!k || !batch || !len) exit
				m = int((x + batch - 1) / batch)
				per = s / n; sw = batch * per
				# No gap measured: the sweeps ran back to back
				# (etrnd goes on at once while more are due).
				gr = kr ? r / kr : 0
				t = m * sw + (m - 1) * gr * sw
				printf "  extrapolated to %d messages: %d sweeps" \
				    " of %d x %.1f ms = %.1f s, %d gaps of %.2f x" \
				    " a sweep (%s) = %.0f s (%.1f msgs/s)\n", x, m,
				    batch, 1000 * per, sw, m - 1, gr,
				    kr ? "measured" : "none: back to back", t, x / t
			}' "$WORK/prof.out"
		echo "  (linear: the queue directories, read twice a sweep, take" \
		    "longer with more held)"
	fi
}

# Print the report.
report() {
	local n=$MESSAGES a b k base held after per
	echo "openetrn expiry benchmark, $(date '+%Y-%m-%d %H:%M:%S %Z')"
	echo "host $(hostname), $(nproc) CPUs, load $(cut -d' ' -f1-3 \
	    /proc/loadavg) at the end, Postfix" \
	    "$(postconf -d -h mail_version 2>/dev/null)," \
	    "redis $(redis-server --version | sed 's/.*v=\([^ ]*\).*/\1/')," \
	    "tree $(git -C "$TOP" describe --always --dirty 2>/dev/null ||
	    echo unknown)"
	echo "$n messages of $SIZE bytes per case (smtp-source -s $SESSIONS," \
	    "one sender, not timed), one run, (1) then (2), one sandbox;"
	echo "etrnd $(grep -E '^queue_run_interval' "$OPENETRN_CONF" |
	    tr -d ' '), verbose=no, dialup.test hold_time 1d warn_time 0;" \
	    "all due at once by one EVAL (ZADD score 0);"
	echo "Postfix: defer.test to a closed port, then" \
	    "maximal_queue_lifetime = bounce_queue_lifetime = 1s, reload," \
	    "postqueue -f;"
	echo "seconds from the EVAL (etrnd) or postqueue -f (Postfix);" \
	    "queue, sink and index polled every ${POLL}s"
	echo
	printf '%-50s %8s %8s\n' "returned to sender ($n messages)" seconds \
	    msgs/s
	row "etrnd: first queue file deleted" etrnd_first_gone
	row "etrnd: first DSN out to pickup" etrnd_submit_first
	row "etrnd: (a) all queue files deleted (hold empty)" etrnd_gone x
	row "etrnd: (b) all DSNs out to pickup" etrnd_submitted x
	row "etrnd: (b) all DSNs at the internet sink" etrnd_sink x
	row "etrnd: (c) Redis index empty (held, expiry)" etrnd_index x
	row "etrnd: DSNs submitted and files gone" etrnd_done x
	row "Postfix: first message out of deferred" postfix_first_out
	row "Postfix: deferred queue empty" postfix_deferred x
	row "Postfix: all bounces created (bounce log)" postfix_bounced x
	row "Postfix: all originals removed (qmgr log)" postfix_removed x
	row "Postfix: bounces created and originals gone" postfix_done x
	row "Postfix: first bounce at the internet sink" postfix_first_sink
	row "Postfix: all bounces at the internet sink" postfix_sink x
	echo
	ratio_row "etrnd / Postfix, DSNs submitted and files gone" \
	    etrnd_done postfix_done
	ratio_row "etrnd / Postfix, all DSNs at the sink" etrnd_sink \
	    postfix_sink
	echo
	echo "checks: etrnd logged ${R[etrnd_log_count]} \"expired\"" \
	    "(${R[etrnd_dsn_sent]} dsn=sent), postsuper removed" \
	    "${R[etrnd_removed_count]}, pickup from=<>" \
	    "${R[etrnd_submit_count]}, stats expired +${R[etrnd_expired]}," \
	    "warnings ${R[etrnd_warnings]};"
	echo "  afterwards etrn:held:dialup.test ${R[held_after]}," \
	    "etrn:expiry:$HOST ${R[due_after]}, hold records" \
	    "${R[msgkeys_after]}; at the sink ${R[etrnd_sink_null]} with" \
	    "null sender, ${R[etrnd_sink_auto]} Auto-Submitted," \
	    "${R[etrnd_sink_ours]} Message-ID <expired.*>"
	echo "  Postfix: ${R[postfix_bounce_count]} non-delivery" \
	    "notifications, ${R[postfix_removed_count]} originals removed;" \
	    "at the sink ${R[postfix_sink_null]} with null sender," \
	    "${R[postfix_sink_auto]} Auto-Submitted," \
	    "${R[postfix_sink_subject]} \"Undelivered Mail Returned to" \
	    "Sender\""
	echo "  accepted by smtp-source, msgs/s: dialup.test" \
	    "${R[accept_etrnd]}; defer.test ${R[accept_postfix]}; the EVAL" \
	    "making $n due took ${R[t_due]} s"
	echo
	base=${R[mem_base]}
	held=${R[mem_held]}
	after=${R[mem_after]}
	per=$(awk -v a="$base" -v b="$held" -v n="$n" \
	    'BEGIN { printf "%.0f", (b - a) / n }')
	echo "memory with $n held (before the expiry):"
	printf '  %-30s %s -> %s bytes (+%s, %s bytes per held message);' \
	    "Redis used_memory" "$base" "$held" "$((held - base))" "$per"
	printf ' after the expiry %s\n' "$after"
	read -r a b <<<"${R[rss_base]}"
	read -r k per <<<"${R[rss_held]}"
	printf '  %-30s runner %s -> %s KiB, listener %s -> %s KiB' \
	    "etrnd RSS, none -> $n held" "$a" "$k" "$b" "$per"
	read -r a b <<<"${R[rss_after]}"
	printf '; after the expiry runner %s, listener %s KiB\n' "$a" "$b"
	printf '  %-30s %s s\n' "postqueue -j, $n held" "${R[listing]}"
	echo
	echo "CPU seconds from start to done (machine = busy time of all" \
	    "CPUs, other tenants included):"
	printf '  %-10s %8s %8s %8s %8s %8s %8s\n' "" machine Postfix \
	    "(showq)" etrnd redis sink
	for k in etrnd postfix; do
		printf '  %-10s %8s %8s %8s %8s %8s %8s\n' \
		    "$([ $k = etrnd ] && echo etrnd || echo Postfix)" \
		    "${R[${k}_cpu_machine]}" "${R[${k}_cpu_postfix]}" \
		    "${R[${k}_cpu_showq]}" "${R[${k}_cpu_runner]}" \
		    "${R[${k}_cpu_redis]}" "${R[${k}_cpu_sink]}"
	done
	echo "  (etrnd: the queue runner with its postqueue, postcat," \
	    "sendmail/postdrop and postsuper; Postfix: all its daemons," \
	    "showq among them; sink: the internet smtp-sink)"
	echo "  per message: etrnd runner and its commands $(awk \
	    -v c="${R[etrnd_cpu_runner]}" -v n="$n" \
	    'BEGIN { printf "%.1f", 1000 * c / n }') ms, Postfix daemons" \
	    "$(awk -v c="${R[etrnd_cpu_postfix]}" -v n="$n" \
	    'BEGIN { printf "%.1f", 1000 * c / n }') ms (taking in and" \
	    "delivering the DSN); Postfix bouncing: its daemons $(awk \
	    -v c="${R[postfix_cpu_postfix]}" -v n="$n" \
	    'BEGIN { printf "%.1f", 1000 * c / n }') ms"
	echo
	echo "etrnd, where the time goes (s after the EVAL; etrnd's log" \
	    "time-stamped as written):"
	printf '  %-48s %s\n' "first \"expired\" logged" \
	    "${R[etrnd_log_first]}" "last \"expired\" logged" \
	    "${R[etrnd_log_last]}" "last queue file removed (postsuper log)" \
	    "${R[etrnd_removed_last]}"
	report_profile
	return 0
}

# Main program.
main() {
	[ "$(id -u)" = 0 ] || die "must run as root"
	local t
	for t in smtp-source postqueue postsuper postconf postmap postfix \
	    redis-cli redis-server ss; do
		command -v "$t" >/dev/null 2>&1 || die "$t not found"
	done
	[ -n "$PY" ] || die "python3 not found"
	check_number "$MESSAGES" BENCH_MESSAGES
	check_number "$SESSIONS" BENCH_SESSIONS
	check_number "$SIZE" BENCH_SIZE
	check_number "$BASE" SB_PORT_BASE
	for t in etrn-milter etrnd/etrnd; do
		[ -x "$BUILD/$t" ] ||
		    die "no $BUILD/$t: build first (OPENETRN_BUILDDIR)"
	done
	[ -r "/proc/$$/task/$$/children" ] ||
	    die "no /proc/PID/task/TID/children (kernel without" \
	    "CONFIG_PROC_CHILDREN)"
	trap cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	WORK=$(mktemp -d /tmp/openetrn-expiry.XXXX)
	chmod 755 "$WORK"
	write_helpers
	start_sandbox
	setup
	bench_etrnd
	bench_postfix

	mkdir -p "$TOP/bench/results"
	local out
	out=$TOP/bench/results/expiry-$(date +%Y%m%d-%H%M%S).txt
	report | tee "$out"
	note "report written to $out"
}

main "$@"
