#!/bin/bash
# bench/memory - memory with many messages held (run as root, Debian 12).
#
# Starts one sandbox (contrib/sandbox: SB_ETRND=1, etrn-milter, verbose
# no), holds N messages of 1 KiB for dialup.test (smtp-source, as
# bench/flush and bench/expiry do; not timed for the figures) and reports,
# all from one run:
#   (1) before any mail, (2) idle with N held (after N held and indexed,
#   then BENCH_IDLE seconds of queue runner passes), (3) after "etrnctl
#   status" and "etrnctl list dialup.test", (4) during and (5) after one
#   release of all N (BENCH_AFTER=flush: "ETRN dialup.test" to etrnd,
#   until the customer sink has all N and the index is empty) or one
#   expiry (BENCH_AFTER=expiry: one Lua script makes every deadline due,
#   until the hold queue and the index are empty and N DSNs are at the
#   internet sink; slow: see docs/performance.md):
#   * etrnd: VmRSS and VmHWM (peak) of the queue runner (the parent) and
#     of the listener (its child) from /proc/PID/status; during (4) the
#     largest VmRSS sampled every 0.5 s;
#   * etrn-milter: VmRSS and VmHWM;
#   * Redis: INFO memory used_memory and used_memory_dataset, the
#     difference to (1) per held message, DBSIZE, the number of hold
#     records (etrn:msg:*), ZCARD of etrn:held:dialup.test,
#     etrn:expiry:<host> and etrn:warn:<host>, and MEMORY USAGE of one
#     record and of those sorted sets;
#   * etrnctl status / list: wall time, largest RSS (of etrnctl itself),
#     lines printed.
#
# Environment: BENCH_MESSAGES (100000) messages held; BENCH_AFTER (flush)
# flush|expiry; BENCH_IDLE (10) seconds idle before (2); BENCH_SESSIONS
# (10) smtp-source -s; BENCH_SIZE (1024) payload bytes; SB_PORT_BASE
# (7525: SMTP base..base+6, Redis base+100; on a busy port the bases +10,
# +20 ... are tried); OPENETRN_BUILDDIR (top of the tree) holds
# etrn-milter, etrnd/etrnd and etrnctl/etrnctl; BENCH_KEEP=1 keeps the work
# directory.  The report also goes to
# bench/results/memory-YYYYmmdd-HHMMSS.txt.  With the defaults it takes
# about 10 minutes on 2 CPUs (holding 100,000 messages is most of it),
# and needs about 1 GB of disk.  Exit 0 when the benchmark ran, 1 on
# errors.
set -eu -o pipefail

PROG=bench/memory.sh
TOP=$(cd "$(dirname "$0")/.." && pwd)
SANDBOX=$TOP/contrib/sandbox
BUILD=${OPENETRN_BUILDDIR:-$TOP}
MESSAGES=${BENCH_MESSAGES:-100000}
AFTER=${BENCH_AFTER:-flush}
IDLE=${BENCH_IDLE:-10}
SESSIONS=${BENCH_SESSIONS:-10}
SIZE=${BENCH_SIZE:-1024}
BASE=${SB_PORT_BASE:-7525}
PATH=$PATH:/usr/sbin:/sbin
PY=$(command -v /usr/bin/python3 python3 2>/dev/null | head -n 1)
WORK=
SBDIR=
SAMPLER_PID=
declare -A R=()

# Print an error and exit 1 (the EXIT trap stops the sandbox).
die() {
	echo "$PROG: $*" >&2
	exit 1
}

# Print a progress line to stderr.
note() {
	echo "$PROG: $(date +%T) $*" >&2
}

# Stop the memory sampler, if it runs.
stop_sampler() {
	if [ -n "$SAMPLER_PID" ]; then
		kill -TERM "$SAMPLER_PID" 2>/dev/null || true
		wait "$SAMPLER_PID" 2>/dev/null || true
		SAMPLER_PID=
	fi
}

# EXIT trap: stop the sampler and the sandbox, remove the work directory.
cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	stop_sampler
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
	# run.py OUT CMD... - run CMD with stdout to OUT; print "rc seconds
	# maxrss_kib lines" (maxrss of CMD and its children).
	cat >"$WORK/run.py" <<'EOF'
import resource, subprocess, sys, time
t = time.time()
with open(sys.argv[1], "wb") as out:
    rc = subprocess.call(sys.argv[2:], stdout=out)
t = time.time() - t
rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
lines = sum(1 for _ in open(sys.argv[1], "rb"))
print(rc, "%.2f" % t, rss, lines)
EOF
	# sample.py OUT PID... - every 0.5 s, the VmRSS (KiB) of each PID;
	# on SIGTERM print the largest of each to OUT, one a line.
	cat >"$WORK/sample.py" <<'EOF'
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
		    ETRND_PORT POLICY_PORT DSN_PORT REDIS_PORT
		SB_PORT_BASE=$base SB_ETRND=1 SB_MILTER=etrn \
		    SB_MILTER_VERBOSE=no OPENETRN_BUILDDIR=$BUILD \
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

# redis-cli on the sandbox's socket.
rcli() {
	redis-cli -s "$REDIS_SOCK" "$@"
}

# Print field $1 of INFO memory.
redis_mem() {
	rcli INFO memory | tr -d '\r' | sed -n "s/^$1://p"
}

# Print the number of files below directory $1.
count_files() {
	find "$1" -type f | wc -l
}

# Wait up to $1 seconds until "$2..." succeeds; fail otherwise.
wait_until() {
	local end=$((SECONDS + $1))
	shift
	until "$@"; do
		[ "$SECONDS" -ge "$end" ] && return 1
		sleep 1
	done
}

# Print field $2 (VmRSS, VmHWM) of process $1 in KiB, or "-".
vm() {
	local v
	v=$(awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status" \
	    2>/dev/null) || true
	echo "${v:--}"
}

# Print the PID of etrnd's listener (the runner's child named etrnd).
listener_pid() {
	ps -o pid=,comm= --ppid "$ETRND_PID" |
	    awk '$2 == "etrnd" { print $1; exit }'
}

# Record the memory figures of stage $1 in R[$1_*].
snapshot() {
	local s=$1 k
	R[${s}_runner_rss]=$(vm "$ETRND_PID" VmRSS)
	R[${s}_runner_hwm]=$(vm "$ETRND_PID" VmHWM)
	R[${s}_listener_rss]=$(vm "$LISTENER_PID" VmRSS)
	R[${s}_listener_hwm]=$(vm "$LISTENER_PID" VmHWM)
	R[${s}_milter_rss]=$(vm "$MILTER_PID" VmRSS)
	R[${s}_milter_hwm]=$(vm "$MILTER_PID" VmHWM)
	R[${s}_redis_rss]=$(vm "$REDIS_PID" VmRSS)
	R[${s}_used]=$(redis_mem used_memory)
	R[${s}_dataset]=$(redis_mem used_memory_dataset)
	R[${s}_dbsize]=$(rcli DBSIZE)
	R[${s}_records]=$(rcli --scan --pattern 'etrn:msg:*' |
	    wc -l)
	for k in "held:etrn:held:dialup.test" "expiry:etrn:expiry:$HOST" \
	    "warn:etrn:warn:$HOST"; do
		R[${s}_z${k%%:*}]=$(rcli ZCARD "${k#*:}")
	done
	R[${s}_hold_files]=$(count_files "$PF_SPOOL/hold")
}

# Succeed if $1 messages are in the hold queue and indexed.
held_and_indexed() {
	[ "$(count_files "$PF_SPOOL/hold")" = "$1" ] &&
	    [ "$(rcli ZCARD etrn:held:dialup.test)" = "$1" ]
}

# Hold $MESSAGES messages for dialup.test.
hold_mail() {
	local n=$MESSAGES t0 t1
	note "holding $n messages for dialup.test (smtp-source -s $SESSIONS)"
	t0=$EPOCHREALTIME
	smtp-source -s "$SESSIONS" -m "$n" -l "$SIZE" \
	    -f sender@example.org -t rcpt@dialup.test "127.0.0.1:$SMTP_PORT" \
	    >"$WORK/smtp-source.log" 2>&1 || {
		cat "$WORK/smtp-source.log" >&2
		die "smtp-source failed"
	}
	t1=$EPOCHREALTIME
	R[accepted]=$(awk -v n="$n" -v a="$t0" -v b="$t1" \
	    'BEGIN { printf "%.0f", n / (b - a) }')
	wait_until $((120 + n / 100)) held_and_indexed "$n" ||
	    die "$(count_files "$PF_SPOOL/hold") in hold," \
	    "$(rcli ZCARD etrn:held:dialup.test) indexed, expected $n"
	[ "$(count_files "$SINK_DIR_CUSTOMER")" = 0 ] ||
	    die "mail for dialup.test was delivered"
	note "$n held and indexed (${R[accepted]} msgs/s accepted)"
}

# Run etrnctl $@ as step $1: R[ctl_$1] = "rc seconds maxrss lines".
ctl() {
	local name=$1
	shift
	R[ctl_$name]=$("$PY" "$WORK/run.py" "$WORK/etrnctl-$name.out" \
	    "$BUILD/etrnctl/etrnctl" -c "$OPENETRN_CONF" "$@")
	[ "${R[ctl_$name]%% *}" = 0 ] ||
	    die "etrnctl $* failed: ${R[ctl_$name]}"
}

# Succeed when the flush is done: hold empty, sink full, index empty.
flush_done() {
	[ "$(count_files "$PF_SPOOL/hold")" = 0 ] &&
	    [ "$(rcli ZCARD etrn:held:dialup.test)" = 0 ] &&
	    [ "$(count_files "$SINK_DIR_CUSTOMER")" = "$MESSAGES" ]
}

# Succeed when the expiry is done: hold and index empty, N DSNs out.
expiry_done() {
	[ "$(count_files "$PF_SPOOL/hold")" = 0 ] &&
	    [ "$(rcli ZCARD etrn:held:dialup.test)" = 0 ] &&
	    [ "$(count_files "$SINK_DIR_INTERNET")" = "$MESSAGES" ]
}

# Release (flush) or expire all held messages, sampling memory meanwhile.
release_all() {
	local n=$MESSAGES t0 reply got
	"$PY" "$WORK/sample.py" "$WORK/peak" "$ETRND_PID" "$LISTENER_PID" \
	    "$REDIS_PID" &
	SAMPLER_PID=$!
	t0=$EPOCHREALTIME
	if [ "$AFTER" = flush ]; then
		note "ETRN dialup.test"
		reply=$("$PY" "$TOP/tests/lib/etrn.py" "$ETRND_PORT" \
		    dialup.test) || true
		R[reply]=$reply
		[ "$reply" = "253 OK, $n pending messages for node dialup.test started" ] ||
		    die "etrnd replied \"$reply\""
		wait_until $((300 + n / 20)) flush_done ||
		    die "flush not done: $(count_files "$PF_SPOOL/hold")" \
		    "on hold, $(count_files "$SINK_DIR_CUSTOMER") delivered"
	else
		note "making all $n deadlines due"
		got=$(rcli EVAL "
			local m = redis.call('ZRANGE', KEYS[1], 0, -1)
			for i = 1, #m do redis.call('ZADD', KEYS[1], 0, m[i]) end
			return #m" 1 "etrn:expiry:$HOST")
		[ "$got" = "$n" ] || die "$got deadlines made due, not $n"
		wait_until $((900 + n / 2)) expiry_done ||
		    die "expiry not done: $(count_files "$PF_SPOOL/hold")" \
		    "on hold, $(count_files "$SINK_DIR_INTERNET") DSNs"
	fi
	R[release_s]=$(awk -v a="$t0" -v b="$EPOCHREALTIME" \
	    'BEGIN { printf "%.1f", b - a }')
	stop_sampler
	R[peak_runner]=$(awk -v p="$ETRND_PID" '$1 == p { print $2 }' \
	    "$WORK/peak")
	R[peak_listener]=$(awk -v p="$LISTENER_PID" '$1 == p { print $2 }' \
	    "$WORK/peak")
	R[peak_redis]=$(awk -v p="$REDIS_PID" '$1 == p { print $2 }' \
	    "$WORK/peak")
	note "$AFTER of $n done in ${R[release_s]} s"
}

# Print "a -> b" for the figure $2 of stages base, held, ctl, after.
stages() {
	printf '%12s %12s %12s %12s\n' "${R[base_$1]}" "${R[held_$1]}" \
	    "${R[ctl_$1]}" "${R[after_$1]}"
}

# Print one report row: label, figure name.
mrow() {
	printf '  %-34s' "$1"
	stages "$2"
}

# Print the report.
report() {
	local n=$MESSAGES per dper one
	echo "openetrn memory benchmark, $(date '+%Y-%m-%d %H:%M:%S %Z')"
	echo "host $(hostname), $(nproc) CPUs, load $(cut -d' ' -f1-3 \
	    /proc/loadavg) at the end, Postfix" \
	    "$(postconf -d -h mail_version 2>/dev/null)," \
	    "redis $(redis-server --version | sed 's/.*v=\([^ ]*\).*/\1/')," \
	    "tree $(git -C "$TOP" describe --always --dirty 2>/dev/null ||
	    echo unknown)"
	echo "$n messages of $SIZE bytes held for dialup.test (smtp-source" \
	    "-s $SESSIONS, ${R[accepted]} msgs/s accepted); then $AFTER of" \
	    "all; etrnd $(grep -E '^queue_run_interval' "$OPENETRN_CONF" |
	    tr -d ' '), verbose=no"
	echo
	printf '  %-34s%12s %12s %12s %12s\n' "KiB (from /proc/PID/status)" \
	    "no mail" "$n held" "after ctl" "after $AFTER"
	mrow "etrnd runner VmRSS" runner_rss
	mrow "etrnd runner VmHWM (peak)" runner_hwm
	mrow "etrnd listener VmRSS" listener_rss
	mrow "etrnd listener VmHWM (peak)" listener_hwm
	mrow "etrn-milter VmRSS" milter_rss
	mrow "etrn-milter VmHWM (peak)" milter_hwm
	mrow "redis-server VmRSS" redis_rss
	printf '  %-34s runner %s, listener %s, redis-server %s KiB\n' \
	    "largest VmRSS during the $AFTER" "${R[peak_runner]}" \
	    "${R[peak_listener]}" "${R[peak_redis]}"
	echo
	printf '  %-34s%12s %12s %12s %12s\n' "Redis" "no mail" "$n held" \
	    "after ctl" "after $AFTER"
	mrow "used_memory (bytes)" used
	mrow "used_memory_dataset (bytes)" dataset
	mrow "DBSIZE (keys)" dbsize
	mrow "hold records etrn:msg:*" records
	mrow "ZCARD etrn:held:dialup.test" zheld
	mrow "ZCARD etrn:expiry:$HOST" zexpiry
	mrow "ZCARD etrn:warn:$HOST" zwarn
	mrow "files in the hold queue" hold_files
	per=$(awk -v a="${R[base_used]}" -v b="${R[held_used]}" -v n="$n" \
	    'BEGIN { printf "%.0f", (b - a) / n }')
	dper=$(awk -v a="${R[base_dataset]}" -v b="${R[held_dataset]}" \
	    -v n="$n" 'BEGIN { printf "%.0f", (b - a) / n }')
	R[per_msg]=$per
	echo "  per held message: used_memory +$per bytes, dataset +$dper" \
	    "bytes"
	one=${R[one_record]}
	echo "  MEMORY USAGE: one record ${R[mu_record]} bytes ($one)," \
	    "etrn:held:dialup.test ${R[mu_held]}, etrn:expiry:$HOST" \
	    "${R[mu_expiry]}, etrn:warn:$HOST ${R[mu_warn]:-0 (no key)} bytes"
	echo
	echo "etrnctl with $n held (rc, seconds, its largest RSS in KiB," \
	    "lines printed):"
	printf '  %-34s %s\n' "etrnctl status" "${R[ctl_status]}" \
	    "etrnctl list dialup.test" "${R[ctl_list]}"
	echo
	echo "$AFTER of all $n: ${R[release_s]} s from start to hold queue" \
	    "and index empty and all $([ "$AFTER" = flush ] &&
	    echo "messages at the customer sink" || echo "DSNs at the sink")"
	[ -n "${R[reply]:-}" ] && echo "  etrnd replied: ${R[reply]}"
	echo "summary: etrnd runner ${R[held_runner_rss]} KiB, listener" \
	    "${R[held_listener_rss]} KiB with $n held (no mail:" \
	    "${R[base_runner_rss]} / ${R[base_listener_rss]}); runner peak" \
	    "${R[after_runner_hwm]} KiB after the $AFTER; Redis $per bytes" \
	    "per held message"
	return 0
}

# Main program.
main() {
	[ "$(id -u)" = 0 ] || die "must run as root"
	local t
	for t in smtp-source postconf redis-cli redis-server; do
		command -v "$t" >/dev/null 2>&1 || die "$t not found"
	done
	[ -n "$PY" ] || die "python3 not found"
	check_number "$MESSAGES" BENCH_MESSAGES
	check_number "$IDLE" BENCH_IDLE
	check_number "$SESSIONS" BENCH_SESSIONS
	check_number "$SIZE" BENCH_SIZE
	check_number "$BASE" SB_PORT_BASE
	case $AFTER in
	flush | expiry) ;;
	*) die "BENCH_AFTER must be flush or expiry, not \"$AFTER\"" ;;
	esac
	for t in etrn-milter etrnd/etrnd etrnctl/etrnctl; do
		[ -x "$BUILD/$t" ] ||
		    die "no $BUILD/$t: build first (OPENETRN_BUILDDIR)"
	done
	trap cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	WORK=$(mktemp -d /tmp/openetrn-memory.XXXX)
	chmod 755 "$WORK"
	write_helpers
	start_sandbox
	LISTENER_PID=$(listener_pid)
	[ -n "$LISTENER_PID" ] || die "no etrnd listener process"
	# Nothing due during the intake and the idle time.
	rcli HSET etrn:domain:dialup.test hold_time 1d warn_time 0 \
	    >/dev/null || die "cannot set dialup.test's hold time"
	sleep 2		# the milter reads the domain entries every second
	snapshot base

	hold_mail
	note "idle for $IDLE s with $MESSAGES held"
	sleep "$IDLE"
	snapshot held
	local key
	key=$(rcli ZRANGE etrn:held:dialup.test 0 0)
	R[one_record]=etrn:msg:$key
	R[mu_record]=$(rcli MEMORY USAGE "etrn:msg:$key" SAMPLES 0)
	R[mu_held]=$(rcli MEMORY USAGE etrn:held:dialup.test SAMPLES 0)
	R[mu_expiry]=$(rcli MEMORY USAGE "etrn:expiry:$HOST" SAMPLES 0)
	R[mu_warn]=$(rcli MEMORY USAGE "etrn:warn:$HOST" SAMPLES 0)

	note "etrnctl status, etrnctl list dialup.test"
	ctl status status
	ctl list list dialup.test
	[ "$(awk '{ print $4 }' <<<"${R[ctl_list]}")" -ge "$MESSAGES" ] ||
	    die "etrnctl list printed ${R[ctl_list]##* } lines for" \
	    "$MESSAGES held"
	snapshot ctl

	release_all
	sleep 2		# the last tracking pass
	snapshot after
	[ "${R[after_zheld]}" = 0 ] || die "index not empty"

	mkdir -p "$TOP/bench/results"
	local out
	out=$TOP/bench/results/memory-$(date +%Y%m%d-%H%M%S).txt
	report | tee "$out"
	note "report written to $out"
}

main "$@"
