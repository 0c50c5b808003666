#!/bin/bash
# bench/flush - release benchmark: etrnd against Postfix's own fast flush
# (run as root, Debian 12).
#
# Starts one sandbox (contrib/sandbox: SB_ETRND=1, etrn-milter) and, in
# that one Postfix, releases the same number of 1 KiB messages to the same
# customer sink in two ways:
#   (1) etrnd: N messages for dialup.test are held (hold queue + Redis
#       index); time from "ETRN dialup.test" sent to etrnd
#       (tests/lib/etrn.py; the reply must be "253 OK, N pending ...")
#       until (a) the hold queue is empty, (b) the customer sink has all N
#       messages, (c) the Redis index etrn:held:dialup.test is empty;
#   (2) Postfix's own fast flush (ETRN_README, "Configuring a domain for
#       ETRN service only"): mail for flush.test, not a dial-up domain (the
#       milter passes it), goes to the transport etrn-only, a copy of smtp
#       listed in defer_transports, with fast_flush_domains = flush.test;
#       N messages wait in the deferred queue (checked: listed in the fast
#       flush log, nothing delivered), then time from "ETRN flush.test"
#       sent to Postfix's smtpd (reply 250) until the deferred queue is
#       empty and until the customer sink has all N messages;
#   (3) the ratio (1b)/(2) "ETRN to all delivered" (medians), target
#       <= 1.0: PASS/MISS;
#   (4) BENCH_CONNECTIONS connections to etrnd opened at once by a small
#       asyncio client, each EHLO, ETRN dialup.test, QUIT: wall time,
#       connections/s, replies by code, errors, latency, the RSS of both
#       etrnd processes before and after, and a normal ETRN afterwards.
# (1) and (2) run BENCH_RUNS times, the order alternating from run to run;
# the table gives medians and every run.  The flush.test settings are made
# (postconf -e/-M, postfix reload) before the first run, so both releases
# see the same Postfix configuration.  Sending the mail is not timed.
# Queue, sink and index sizes are polled every 0.1 s (file counts;
# smtp-sink writes one file per message), so times are good to about
# 0.1 s; each starts just before the ETRN client is started (Python
# start-up, connect and EHLO included: ~0.05 s).  etrnd's log is
# time-stamped as it is written to show where etrnd's time goes.
# Between runs the flush marker etrn:flushing:dialup.test (left for
# flush_lock_time by the previous ETRN) is deleted so that each ETRN
# starts a flush.  Postfix's retry times are set to its defaults (300 s)
# so that deferred flush.test mail is not retried while it waits;
# etrnd_max_clients, etrn_rate_limit and ulimit -n are raised for (4).
#
# Environment: BENCH_MESSAGES (10000) messages per release; BENCH_RUNS
# (5); BENCH_CONNECTIONS (1000); BENCH_SESSIONS (10) smtp-source -s;
# BENCH_SIZE (1024) payload bytes; SB_PORT_BASE (5525: SMTP base..base+5,
# Redis base+100; on a busy port the bases +10, +20 ... are tried);
# OPENETRN_BUILDDIR (top of the tree) holds etrn-milter and etrnd/etrnd;
# BENCH_KEEP=1 keeps the work directory (sandbox, logs, time series
# series-*).  The report also goes to bench/results/flush-YYYYmmdd-HHMMSS.txt.
# Takes 6 to 7 minutes with the defaults on 2 CPUs.  Exit 0 when the
# benchmark ran (target met or not), 1 on errors.
set -eu -o pipefail

PROG=bench/flush.sh
TOP=$(cd "$(dirname "$0")/.." && pwd)
SANDBOX=$TOP/contrib/sandbox
BUILD=${OPENETRN_BUILDDIR:-$TOP}
MESSAGES=${BENCH_MESSAGES:-10000}
CONNECTIONS=${BENCH_CONNECTIONS:-1000}
SESSIONS=${BENCH_SESSIONS:-10}
SIZE=${BENCH_SIZE:-1024}
RUNS=${BENCH_RUNS:-5}
BASE=${SB_PORT_BASE:-5525}
STORM_HELD=20		# messages held for dialup.test during (4)
POLL=0.1		# seconds between two looks at queue and sink
PATH=$PATH:/usr/sbin:/sbin
PY=$(command -v /usr/bin/python3 python3 2>/dev/null | head -n 1)
WORK=
SBDIR=
TSLOG_PID=
POLL_PID=
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

# Stop the etrnd log time-stamper, if it runs.
stop_tslog() {
	if [ -n "$TSLOG_PID" ]; then
		kill -TERM "$TSLOG_PID" 2>/dev/null || true
		wait "$TSLOG_PID" 2>/dev/null || true
		TSLOG_PID=
	fi
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
	# etrnd's runner with its reaped commands (postsuper, postqueue),
	# redis-server, the customer smtp-sink.
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
	# storm.py PORT DOMAIN COUNT TIMEOUT - COUNT connections at once,
	# each: greeting, EHLO, ETRN DOMAIN, QUIT.  Prints key=value lines.
	cat >"$WORK/storm.py" <<'EOF'
import asyncio, collections, sys, time

port, domain, count, timeout = (int(sys.argv[1]), sys.argv[2],
                                int(sys.argv[3]), float(sys.argv[4]))
res = collections.Counter()
lat = []

async def reply(r):
    while True:
        line = await asyncio.wait_for(r.readline(), timeout)
        if not line:
            raise EOFError("connection closed")
        if line[3:4] != b"-":
            return line[:3].decode("ascii", "replace")

async def one(start):
    w = None
    try:
        r, w = await asyncio.wait_for(
            asyncio.open_connection("127.0.0.1", port), timeout)
        g = await reply(r)
        if g != "220":
            res["greeting_" + g] += 1
            return
        w.write(b"EHLO bench.test\r\n")
        if await reply(r) != "250":
            res["ehlo_not_250"] += 1
        w.write(b"ETRN " + domain.encode() + b"\r\n")
        c = await reply(r)
        lat.append(time.time() - start)
        res["etrn_" + c] += 1
        w.write(b"QUIT\r\n")
        await reply(r)
    except Exception as e:
        res["error_" + type(e).__name__] += 1
    finally:
        if w is not None:
            w.close()
            try:
                await w.wait_closed()
            except Exception:
                pass

async def main():
    start = time.time()
    await asyncio.gather(*(one(start) for _ in range(count)))
    return time.time() - start

wall = asyncio.run(main())
lat.sort()
q = lambda f: lat[min(len(lat) - 1, int(f * len(lat)))] if lat else 0
print("wall=%.3f" % wall)
for k in sorted(res):
    print("%s=%d" % (k, res[k]))
print("lat_p50=%.3f lat_p99=%.3f lat_max=%.3f" % (q(0.5), q(0.99),
                                                   lat[-1] if lat else 0))
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
		    SB_EXTRA_CONF="etrnd_max_clients = $MAX_CLIENTS
etrnd_max_per_client = 0
etrn_rate_limit = 100000" \
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
}

# Configure the sandbox's Postfix for the fast-flush case (flush.test).
setup_fast_flush() {
	local relay maps flush_map
	relay=$(postconf -c "$PF_CONF" -h relay_domains)
	maps=$(postconf -c "$PF_CONF" -h transport_maps)
	flush_map="inline:{ flush.test=etrn-only:[127.0.0.1]:$CUSTOMER_PORT }"
	postconf -c "$PF_CONF" -M \
	    etrn-only/unix="etrn-only unix - - n - - smtp" ||
	    die "postconf -M etrn-only failed"
	postconf -c "$PF_CONF" -e "relay_domains = $relay, flush.test" \
	    "fast_flush_domains = flush.test" \
	    "defer_transports = etrn-only" \
	    "transport_maps = $maps, $flush_map" ||
	    die "postconf -e failed"
	postfix -c "$PF_CONF" reload >/dev/null 2>&1 ||
	    die "postfix reload failed; see $PF_LOG"
	sleep 1
	[ "$(postmap -c "$PF_CONF" -q flush.test "$flush_map")" = \
	    "etrn-only:[127.0.0.1]:$CUSTOMER_PORT" ] ||
	    die "transport for flush.test not set"
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

# Succeed if $N messages are held and indexed.
held_and_indexed() {
	files_are "$PF_SPOOL/hold" "$1" &&
	    [ "$(zcard etrn:held:dialup.test)" = "$1" ]
}

# Succeed if $1 messages are deferred and nothing is incoming or active.
all_deferred() {
	files_are "$PF_SPOOL/deferred" "$1" &&
	    files_are "$PF_SPOOL/incoming" 0 && files_are "$PF_SPOOL/active" 0
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
	[ "$2" = - ] && { echo -; return; }
	awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'
}

# Print $1 / $2 (messages per second), or "-".
per_s() {
	case $2 in - | 0 | 0.000) echo -; return ;; esac
	awk -v n="$1" -v t="$2" 'BEGIN { printf "%.0f", n / t }'
}

# Run the poller: time series file $1, timeout $2, probes...; it runs in
# the background (POLL_PID), its output goes to $1.out.
start_poller() {
	local series=$1 timeout=$2
	shift 2
	"$PY" "$WORK/poll.py" "$series" "$timeout" "$POLL" "$@" \
	    >"$series.out" 2>&1 &
	POLL_PID=$!
	sleep 0.3	# its first look at the queue comes before the ETRN
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

# Print the elapsed seconds of a postqueue -j with the queue as it is.
time_listing() {
	local t0 t1
	t0=$EPOCHREALTIME
	postqueue -c "$PF_CONF" -j >/dev/null
	t1=$EPOCHREALTIME
	delta "$t0" "$t1"
}

# Print "first last count" of the time-stamped etrnd log lines matching $1
# (times relative to $2).
log_times() {
	awk -v t0="$2" -v pat="$1" '
		$0 ~ pat { if (!n++) f = $1; l = $1 }
		END {
			if (n) printf "%.3f %.3f %d\n", f - t0, l - t0, n
			else print "- - 0"
		}' "$WORK/etrnd-ts.log"
}

# Append value $2 to the list of results $1 (one value per run).
put() {
	R[$1]="${R[$1]:-}${R[$1]:+ }$2"
}

# Print the CPU seconds used so far (see cpu.py).
cpu_now() {
	"$PY" "$WORK/cpu.py" "$POSTFIX_PID" "$ETRND_PID" "$REDIS_PID" \
	    "$SINK_CUSTOMER_PID"
}

# Store the CPU used between snapshots $2 and $3 as results "$1_cpu_*".
put_cpu() {
	local -a a b
	local i names=(machine postfix showq runner redis sink)
	read -r -a a <<<"$2"
	read -r -a b <<<"$3"
	for i in "${!names[@]}"; do
		put "$1_cpu_${names[$i]}" "$(awk -v x="${a[$i]}" \
		    -v y="${b[$i]}" 'BEGIN { printf "%.2f", y - x }')"
	done
}

# (1) etrnd: hold N messages, ETRN, time release, delivery, index.
bench_etrnd() {
	local n=$MESSAGES t0 t1 reply expect timeout flushed0 flushed1 cpu0
	note "run $RUN (1) etrnd: holding $n messages for dialup.test"
	find "$SINK_DIR_CUSTOMER" -type f -delete
	source_mail "$n" rcpt@dialup.test
	put accept_etrnd "$ACCEPTED"
	wait_until $((60 + n / 100)) held_and_indexed "$n" ||
	    die "(1): $(count_files "$PF_SPOOL/hold") in hold," \
	    "$(zcard etrn:held:dialup.test) indexed, expected $n"
	[ "$(queue_count hold)" = "$n" ] ||
	    die "(1): postqueue -j does not list $n held messages"
	files_are "$SINK_DIR_CUSTOMER" 0 ||
	    die "(1): mail for dialup.test was delivered before the ETRN"
	put listing "$(time_listing)"
	# The marker of the previous run's flush lasts flush_lock_time (60s):
	# without it this ETRN starts a flush (253), as the first one would.
	redis-cli -s "$REDIS_SOCK" DEL etrn:flushing:dialup.test >/dev/null
	flushed0=$(redis-cli -s "$REDIS_SOCK" HGET etrn:stats:dialup.test \
	    flushed)
	note "run $RUN (1) $n held and indexed"

	"$PY" "$WORK/tslog.py" "$SBDIR/log/etrnd.log" "$WORK/etrnd-ts.log" &
	TSLOG_PID=$!
	timeout=$((120 + n / 20))
	start_poller "$WORK/series-etrnd-$RUN" "$timeout" \
	    "hold:le:0:dir:$PF_SPOOL/hold" \
	    "sink:ge:$n:dir:$SINK_DIR_CUSTOMER" \
	    "index:le:0:zcard:$REDIS_SOCK:etrn:held:dialup.test"
	cpu0=$(cpu_now)
	t0=$EPOCHREALTIME
	reply=$("$PY" "$TOP/tests/lib/etrn.py" "$ETRND_PORT" dialup.test) ||
	    true
	t1=$EPOCHREALTIME
	R[etrnd_reply]=$reply
	put etrnd_t_reply "$(delta "$t0" "$t1")"
	expect="253 OK, $n pending messages for node dialup.test started"
	if [ "$reply" != "$expect" ]; then
		kill "$POLL_PID" 2>/dev/null || true
		die "(1): etrnd replied \"$reply\", expected \"$expect\""
	fi
	note "run $RUN (1) ETRN sent: $reply; waiting (at most $timeout s)"
	finish_poller "$WORK/series-etrnd-$RUN" ||
	    die "(1): not done after $timeout s: hold ${P[last_hold]:-?}," \
	    "sink ${P[last_sink]:-?}, index ${P[last_index]:-?}"
	put_cpu etrnd "$cpu0" "$(cpu_now)"
	sleep 1.5	# the log lines of the last tracking pass
	stop_tslog
	put etrnd_first_out "$(delta "$t0" "${P[first_hold]}")"
	put etrnd_released "$(delta "$t0" "${P[done_hold]}")"
	put etrnd_first_sink "$(delta "$t0" "${P[first_sink]}")"
	put etrnd_delivered "$(delta "$t0" "${P[done_sink]}")"
	put etrnd_indexed "$(delta "$t0" "${P[done_index]}")"
	local f l c
	read -r f l c < <(log_times 'etrnd: flush domain=dialup.test client=' \
	    "$t0")
	put etrnd_log_flush "$f"
	R[etrnd_flush_line]=$(grep -m1 'etrnd: flush domain=dialup.test client=' \
	    "$WORK/etrnd-ts.log" | cut -d' ' -f2- || true)
	read -r f l c < <(log_times 'left the queue after ETRN' "$t0")
	put etrnd_log_gone_first "$f"
	put etrnd_log_gone_last "$l"
	put etrnd_log_gone_count "$c"
	read -r f l c < <(log_times 'back on hold' "$t0")
	put etrnd_rehold "$c"
	read -r f l c < <(log_times 'warning:' "$t0")
	put etrnd_warnings "$c"
	: >"$WORK/etrnd-ts.log"
	flushed1=$(redis-cli -s "$REDIS_SOCK" HGET etrn:stats:dialup.test \
	    flushed)
	put etrnd_flushed "$((flushed1 - ${flushed0:-0}))"
	note "run $RUN (1) released ${P[done_hold]:+$(delta "$t0" \
	    "${P[done_hold]}")} s, delivered $(delta "$t0" "${P[done_sink]}")" \
	    "s, index empty $(delta "$t0" "${P[done_index]}") s"
}

# (2) Postfix fast flush: defer N messages for flush.test, ETRN, time.
bench_postfix() {
	local n=$MESSAGES t0 t1 reply timeout ids cpu0
	note "run $RUN (2) Postfix fast flush: deferring $n messages for" \
	    "flush.test"
	find "$SINK_DIR_CUSTOMER" -type f -delete
	source_mail "$n" rcpt@flush.test
	put accept_postfix "$ACCEPTED"
	wait_until $((60 + n / 50)) all_deferred "$n" ||
	    die "(2): $(count_files "$PF_SPOOL/deferred") deferred," \
	    "expected $n; see $PF_LOG"
	[ "$(queue_count deferred)" = "$n" ] ||
	    die "(2): postqueue -j does not list $n deferred messages"
	ids=$(sort -u "$PF_SPOOL/flush/flush_test" 2>/dev/null | wc -l)
	[ "$ids" = "$n" ] ||
	    die "(2): the fast flush log of flush.test lists $ids, not $n"
	sleep 2
	if ! files_are "$SINK_DIR_CUSTOMER" 0 || ! all_deferred "$n"; then
		die "(2): mail for flush.test was delivered before the ETRN"
	fi
	note "run $RUN (2) $n deferred, in the fast flush log, not delivered"

	timeout=$((120 + n / 20))
	start_poller "$WORK/series-postfix-$RUN" "$timeout" \
	    "deferred:le:0:dir:$PF_SPOOL/deferred" \
	    "sink:ge:$n:dir:$SINK_DIR_CUSTOMER"
	cpu0=$(cpu_now)
	t0=$EPOCHREALTIME
	reply=$("$PY" "$TOP/tests/lib/etrn.py" "$SMTP_PORT" flush.test) ||
	    true
	t1=$EPOCHREALTIME
	R[postfix_reply]=$reply
	put postfix_t_reply "$(delta "$t0" "$t1")"
	case $reply in
	"250 "*) ;;
	*)
		kill "$POLL_PID" 2>/dev/null || true
		die "(2): Postfix replied \"$reply\" to ETRN flush.test"
		;;
	esac
	note "run $RUN (2) ETRN sent: $reply; waiting (at most $timeout s)"
	finish_poller "$WORK/series-postfix-$RUN" ||
	    die "(2): not done after $timeout s: deferred" \
	    "${P[last_deferred]:-?}, sink ${P[last_sink]:-?}"
	put_cpu postfix "$cpu0" "$(cpu_now)"
	put postfix_first_out "$(delta "$t0" "${P[first_deferred]}")"
	put postfix_released "$(delta "$t0" "${P[done_deferred]}")"
	put postfix_first_sink "$(delta "$t0" "${P[first_sink]}")"
	put postfix_delivered "$(delta "$t0" "${P[done_sink]}")"
	note "run $RUN (2) deferred queue empty $(delta "$t0" \
	    "${P[done_deferred]}") s, delivered $(delta "$t0" \
	    "${P[done_sink]}") s"
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

# (4) concurrent ETRN connections to etrnd.
bench_storm() {
	local c=$CONNECTIONS lpid out
	note "(4) $c concurrent ETRN connections to etrnd"
	find "$SINK_DIR_CUSTOMER" -type f -delete
	source_mail "$STORM_HELD" rcpt@dialup.test
	wait_until 30 held_and_indexed "$STORM_HELD" ||
	    die "(4): $STORM_HELD messages not held"
	# As in (1): the first ETRN of the storm starts a flush (253), the
	# others find it started (250).
	redis-cli -s "$REDIS_SOCK" DEL etrn:flushing:dialup.test >/dev/null
	lpid=$(listener_pid)
	R[rss_before]=$(etrnd_rss)
	"$PY" "$WORK/tslog.py" "$SBDIR/log/etrnd.log" "$WORK/etrnd-ts.log" &
	TSLOG_PID=$!
	sleep 0.2
	out=$("$PY" "$WORK/storm.py" "$ETRND_PORT" dialup.test "$c" 60) ||
	    die "(4): the client failed: $out"
	R[rss_after]=$(etrnd_rss)
	R[storm]=$out
	R[storm_wall]=$(printf '%s\n' "$out" | sed -n 's/^wall=//p')
	R[storm_after]=$("$PY" "$TOP/tests/lib/etrn.py" "$ETRND_PORT" \
	    dialup.test) || true
	sleep 0.5
	stop_tslog
	R[storm_refused]=$(grep -c 'refused: too many' "$WORK/etrnd-ts.log" ||
	    true)
	R[storm_paused]=$(grep -c 'pausing the listener' \
	    "$WORK/etrnd-ts.log" || true)
	R[storm_same_listener]=no
	[ "$(listener_pid)" = "$lpid" ] && R[storm_same_listener]=yes
	case ${R[storm_after]} in
	25[013]" "*) ;;
	*) die "(4): etrnd's answer after the storm: ${R[storm_after]}" ;;
	esac
	if wait_until 60 files_are "$SINK_DIR_CUSTOMER" "$STORM_HELD"; then
		R[storm_delivered]=yes
	else
		R[storm_delivered]="no ($(count_files "$SINK_DIR_CUSTOMER"))"
	fi
	note "(4) wall ${R[storm_wall]} s; after: ${R[storm_after]}"
}

# Print the median of the results $1 ("-" if none).
median() {
	tr ' ' '\n' <<<"${R[$1]:-}" | grep -v '^-\?$' | sort -n | awk '
		{ x[NR] = $1 }
		END {
			if (NR == 0) { print "-"; exit }
			if (NR % 2) print x[(NR + 1) / 2];
			else printf "%.3f\n", (x[NR / 2] + x[NR / 2 + 1]) / 2
		}'
}

# Print the sum of the results $1.
total() {
	tr ' ' '\n' <<<"${R[$1]:-0}" | awk '{ s += $1 } END { print s + 0 }'
}

# Print one table row: label, median seconds, msgs/s, all runs.
row() {
	local m
	m=$(median "$2")
	printf '%-44s %8s %8s   %s\n' "$1" "$m" \
	    "$([ -n "${3:-}" ] && per_s "$MESSAGES" "$m")" "${R[$2]:-}"
}

# Print the report.
report() {
	local n=$MESSAGES ratio verdict a b k v r1 r2
	echo "openetrn flush benchmark, $(date '+%Y-%m-%d %H:%M:%S %Z')"
	echo "host $(hostname), $(nproc) CPUs, Postfix" \
	    "$(postconf -d -h mail_version 2>/dev/null)," \
	    "redis $(redis-server --version | sed 's/.*v=\([^ ]*\).*/\1/')," \
	    "tree $(git -C "$TOP" describe --always --dirty 2>/dev/null ||
	    echo unknown)"
	echo "$n messages of $SIZE bytes per release (smtp-source -s" \
	    "$SESSIONS, not timed), $RUNS runs (order alternates), one" \
	    "sandbox, one customer sink;"
	echo "etrnd $(grep -E '^queue_run_interval' "$OPENETRN_CONF" |
	    tr -d ' '), verbose=no; Postfix queue_run_delay =" \
	    "minimal_backoff_time = 300s; seconds from ETRN sent; queue and" \
	    "sink polled every ${POLL}s"
	echo
	printf '%-44s %8s %8s   %s\n' "after ETRN ($n messages)" median msgs/s \
	    "all runs"
	row "etrnd: ETRN answered" etrnd_t_reply
	row "etrnd: first message out of hold" etrnd_first_out
	row "etrnd: (a) all released (hold queue empty)" etrnd_released x
	row "etrnd: first message at the sink" etrnd_first_sink
	row "etrnd: (b) all delivered to the sink" etrnd_delivered x
	row "etrnd: (c) Redis index empty" etrnd_indexed x
	row "Postfix: ETRN answered" postfix_t_reply
	row "Postfix: first message out of deferred" postfix_first_out
	row "Postfix: all out of the deferred queue" postfix_released x
	row "Postfix: first message at the sink" postfix_first_sink
	row "Postfix: all delivered to the sink" postfix_delivered x
	echo
	a=$(median etrnd_delivered)
	b=$(median postfix_delivered)
	ratio=$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.3f", a / b }')
	verdict=$(awk -v r="$ratio" \
	    'BEGIN { print (r <= 1.0 ? "PASS" : "MISS") }')
	printf '%-44s %8s   target <= 1.00  %s\n' \
	    "etrnd (b) / Postfix, ETRN to all delivered" "$ratio" "$verdict"
	printf '%-44s %8s   (information)\n' \
	    "etrnd (c) / Postfix all delivered" "$(awk \
	    -v a="$(median etrnd_indexed)" -v b="$b" \
	    'BEGIN { printf "%.3f", a / b }')"
	read -r -a r1 <<<"${R[etrnd_delivered]}"
	read -r -a r2 <<<"${R[postfix_delivered]}"
	printf '%-44s  ' "ratio (b) by run"
	for k in "${!r1[@]}"; do
		awk -v a="${r1[$k]}" -v b="${r2[$k]}" \
		    'BEGIN { printf " %.3f", a / b }'
	done
	echo
	echo
	echo "CPU seconds from ETRN to done (medians; machine = busy time" \
	    "of all CPUs, other tenants included):"
	printf '  %-10s %8s %8s %8s %8s %8s %8s\n' "" machine Postfix \
	    "(showq)" etrnd redis sink
	for k in etrnd postfix; do
		printf '  %-10s %8s %8s %8s %8s %8s %8s\n' \
		    "$([ $k = etrnd ] && echo etrnd || echo "fast flush")" \
		    "$(median ${k}_cpu_machine)" "$(median ${k}_cpu_postfix)" \
		    "$(median ${k}_cpu_showq)" "$(median ${k}_cpu_runner)" \
		    "$(median ${k}_cpu_redis)" "$(median ${k}_cpu_sink)"
	done
	echo "  (etrnd: the queue runner with its postsuper/postqueue" \
	    "commands; Postfix: all its daemons, showq among them)"
	echo
	echo "replies: etrnd \"${R[etrnd_reply]}\"; Postfix" \
	    "\"${R[postfix_reply]}\""
	echo "accepted by smtp-source, msgs/s: dialup.test ${R[accept_etrnd]};" \
	    "flush.test ${R[accept_postfix]}"
	echo "etrnd, where the time goes (s after ETRN; etrnd's log" \
	    "time-stamped as written):"
	row "  release logged (\"flush ... released=$n\")" etrnd_log_flush
	row "  first record removed (\"left the queue\")" etrnd_log_gone_first
	row "  last record removed" etrnd_log_gone_last
	row "  postqueue -j, $n messages held (s)" listing
	echo "  records removed $(total etrnd_log_gone_count), flushed counter" \
	    "+$(total etrnd_flushed), put back on hold $(total etrnd_rehold)," \
	    "warnings $(total etrnd_warnings) (all runs)"
	echo "  log: ${R[etrnd_flush_line]}"
	echo
	echo "$CONNECTIONS concurrent connections to etrnd (EHLO, ETRN" \
	    "dialup.test, QUIT; $STORM_HELD messages held," \
	    "etrnd_max_clients $MAX_CLIENTS):"
	printf '  %-30s %s s, %s connections/s\n' "wall time" \
	    "${R[storm_wall]}" "$(per_s "$CONNECTIONS" "${R[storm_wall]}")"
	printf '%s\n' "${R[storm]}" | while IFS= read -r v; do
		case $v in
		wall=*) ;;
		etrn_*) k=${v%%=*}; printf '  %-30s %s\n' \
		    "ETRN reply ${k#etrn_}" "${v#*=}" ;;
		greeting_*) k=${v%%=*}; printf '  %-30s %s\n' \
		    "greeting ${k#greeting_} (refused)" "${v#*=}" ;;
		error_* | ehlo_*) printf '  %-30s %s\n' "${v%%=*}" "${v#*=}" ;;
		lat_*) printf '  %-30s %s\n' "connect to ETRN reply, s" \
		    "${v//lat_/}" ;;
		esac
	done
	printf '  %-30s %s\n' "refusals logged" "${R[storm_refused]}" \
	    "accept pauses logged" "${R[storm_paused]}"
	read -r a b <<<"${R[rss_before]}"
	read -r k v <<<"${R[rss_after]}"
	printf '  %-30s runner %s -> %s KiB, listener %s -> %s KiB\n' \
	    "etrnd RSS before -> after" "$a" "$k" "$b" "$v"
	printf '  %-30s %s\n' "same listener process" \
	    "${R[storm_same_listener]}" \
	    "ETRN afterwards" "${R[storm_after]}" \
	    "$STORM_HELD held delivered" "${R[storm_delivered]}"
	return 0
}

# Main program.
main() {
	[ "$(id -u)" = 0 ] || die "must run as root"
	local t
	for t in smtp-source postqueue postsuper postconf postmap postfix \
	    redis-cli redis-server; do
		command -v "$t" >/dev/null 2>&1 || die "$t not found"
	done
	[ -n "$PY" ] || die "python3 not found"
	check_number "$MESSAGES" BENCH_MESSAGES
	check_number "$CONNECTIONS" BENCH_CONNECTIONS
	check_number "$SESSIONS" BENCH_SESSIONS
	check_number "$SIZE" BENCH_SIZE
	check_number "$RUNS" BENCH_RUNS
	check_number "$BASE" SB_PORT_BASE
	for t in etrn-milter etrnd/etrnd; do
		[ -x "$BUILD/$t" ] ||
		    die "no $BUILD/$t: build first (OPENETRN_BUILDDIR)"
	done
	MAX_CLIENTS=$((CONNECTIONS * 2 > 2000 ? CONNECTIONS * 2 : 2000))
	# The client and etrnd's listener (started from here) each need a
	# descriptor per connection.
	local nofile=$((CONNECTIONS * 2 + 1024))
	if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt "$nofile" ]
	then
		ulimit -n "$nofile" 2>/dev/null ||
		    ulimit -Sn "$(ulimit -Hn)" 2>/dev/null || true
		note "ulimit -n is $(ulimit -n)"
	fi
	trap cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	WORK=$(mktemp -d /tmp/openetrn-flush.XXXX)
	chmod 755 "$WORK"
	write_helpers
	start_sandbox
	setup_fast_flush
	for ((RUN = 1; RUN <= RUNS; RUN++)); do
		if ((RUN % 2)); then
			bench_etrnd
			bench_postfix
		else
			bench_postfix
			bench_etrnd
		fi
	done
	bench_storm

	mkdir -p "$TOP/bench/results"
	local out
	out=$TOP/bench/results/flush-$(date +%Y%m%d-%H%M%S).txt
	report | tee "$out"
	note "report written to $out"
}

main "$@"
