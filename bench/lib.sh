# bench/lib.sh - the helpers the benchmark scripts share; sourced by
# bench/*.sh after they set PROG (their name, for messages).
#
# Sets TOP (the source tree), SANDBOX (contrib/sandbox), BUILD
# (OPENETRN_BUILDDIR, the build; TOP by default), PY (python3) and the
# Python helpers' directory BENCH; extends PATH with the sbin directories.
# The Python programs of the benchmarks are bench/*.py.
# shellcheck shell=bash disable=SC2034,SC2153
# (SC2034, SC2153: the variables are set and used by the scripts.)

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH=$TOP/bench
SANDBOX=$TOP/contrib/sandbox
BUILD=${OPENETRN_BUILDDIR:-$TOP}
PATH=$PATH:/usr/sbin:/sbin
PY=$(command -v /usr/bin/python3 python3 2>/dev/null | head -n 1)
WORK=		# the work directory (mktemp), see bench_init
SBDIR=		# the sandbox of start_sandbox
SANDBOXES=	# every sandbox started, stopped by cleanup
POLL_PID=	# start_poller's poller
TSLOG_PIDS=	# start_tslog's time-stampers
PROF_PID=	# a sampler stopped together with the time-stampers
SAMPLER_PID=	# a memory sampler, see stop_sampler
BUSY_PIDS=	# start_busy's busy loops
WATCH_PID=	# start_cpu_watch's watcher
BUSY=${BENCH_BUSY:-0}	# 1: run busy loops (busy_option, start_busy)
WAIT_STEP=0.2	# seconds between two tries of wait_until
# Postfix settings that keep deferred mail waiting while a benchmark runs.
SLOW_RETRY="queue_run_delay = 300s
minimal_backoff_time = 300s
maximal_backoff_time = 4000s"
declare -A R=() P=()	# results, by name; poller results

## Messages and checks

# Print an error and exit 1 (the EXIT trap stops the sandbox).
die() {
	echo "$PROG: $*" >&2
	exit 1
}

# Print a progress line to stderr.
note() {
	echo "$PROG: $(date +%T) $*" >&2
}

# Fail unless $1 is a positive integer (named $2); "0" too if $3 is set.
check_number() {
	[ -n "${3:-}" ] && [ "$1" = 0 ] && return 0
	case $1 in
	'' | *[!0-9]* | 0*) die "$2 must be a positive integer, not \"$1\"" ;;
	esac
}

# Fail unless every command $@ is found.
need_tools() {
	local t
	for t in "$@"; do
		command -v "$t" >/dev/null 2>&1 || die "$t not found"
	done
}

# Fail unless every program $@ (relative to BUILD) is built.
need_built() {
	local t
	for t in "$@"; do
		[ -x "$BUILD/$t" ] ||
		    die "no $BUILD/$t: build first (OPENETRN_BUILDDIR)"
	done
}

## Work directory, background helpers, clean-up

# Fail unless run as root.
need_root() {
	[ "$(id -u)" = 0 ] || die "must run as root"
}

# Set the traps, make the work directory WORK (/tmp/openetrn-$1.XXXX).
make_work() {
	trap cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	WORK=$(mktemp -d "/tmp/openetrn-$1.XXXX")
	chmod 755 "$WORK"
}

# Stop the background processes $@ (PIDs; empty words ignored).
stop_pids() {
	local pid
	for pid in "$@"; do
		kill -TERM "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
}

# Stop the log time-stampers and PROF_PID, if they run.
stop_tslog() {
	# shellcheck disable=SC2086
	stop_pids $TSLOG_PIDS $PROF_PID
	TSLOG_PIDS=
	PROF_PID=
}

# Stop the memory sampler SAMPLER_PID, if it runs.
stop_sampler() {
	# shellcheck disable=SC2086
	stop_pids $SAMPLER_PID
	SAMPLER_PID=
}

# EXIT trap: stop the helpers (and call on_exit if the script has one),
# the sandboxes; remove the work directory unless BENCH_KEEP=1 or failed.
cleanup() {
	local rc=$? d
	trap - EXIT INT TERM
	stop_tslog
	stop_sampler
	stop_busy
	# shellcheck disable=SC2086
	stop_pids $POLL_PID $WATCH_PID
	if declare -F on_exit >/dev/null; then
		on_exit
	fi
	for d in $SANDBOXES; do
		if [ "$rc" != 0 ] && [ -s "$d/log/etrnd.log" ]; then
			echo "---- last lines of $d/log/etrnd.log ----" >&2
			tail -n 15 "$d/log/etrnd.log" >&2
		fi
		"$SANDBOX" stop "$d" >/dev/null 2>&1 ||
		    note "could not stop sandbox $d"
	done
	if [ -n "$WORK" ] && [ -d "$WORK" ]; then
		if [ "${BENCH_KEEP:-0}" = 1 ] || [ "$rc" != 0 ]; then
			note "work directory kept in $WORK"
		else
			rm -rf "$WORK"
		fi
	fi
	exit "$rc"
}

## Load

# Parse the script's arguments $@: --busy (or BENCH_BUSY=1) sets BUSY=1;
# die on anything else.
busy_option() {
	case ${1:-} in
	--busy) BUSY=1 ;;
	'') ;;
	*) die "usage: $PROG [--busy]" ;;
	esac
	[ $# -le 1 ] || die "usage: $PROG [--busy]"
	case $BUSY in 0 | 1) ;; *) die "BENCH_BUSY must be 0 or 1" ;; esac
}

# Start $1 CPU-bound busy loops (python3 "while 1: pass"), PIDs in
# BUSY_PIDS, stopped by stop_busy or at exit by cleanup.
start_busy() {
	local i
	for ((i = 0; i < $1; i++)); do
		"$PY" -c 'while 1: pass' &
		BUSY_PIDS="$BUSY_PIDS $!"
	done
	note "busy loops started: PIDs$BUSY_PIDS"
}

# Stop the busy loops of start_busy, if they run.
stop_busy() {
	# shellcheck disable=SC2086
	stop_pids $BUSY_PIDS
	BUSY_PIDS=
}

# Print the 1-minute load average.
load1() {
	cut -d' ' -f1 /proc/loadavg
}

## The sandbox

# Start the sandbox in $WORK/sb (etrnd, etrn-milter, verbose no) with the
# extra environment $@ (NAME=value: SB_EXTRA_CONF, ...) from port base
# BASE on; on a busy port (exit 75) try the bases +10, +20 ...  Loads its
# env file (SMTP_PORT, PF_CONF, REDIS_SOCK, ETRND_PID, ...) and sets HOST
# (etrnd's hostname).
start_sandbox() {
	local base=$BASE rc
	for _ in 1 2 3 4 5; do
		SBDIR=$WORK/sb
		note "starting the sandbox on port base $base"
		rc=0
		(unset SMTP_PORT SINK_PORT REINJECT_PORT CUSTOMER_PORT \
		    ETRND_PORT POLICY_PORT DSN_PORT REDIS_PORT
		env SB_PORT_BASE="$base" SB_ETRND=1 SB_MILTER=etrn \
		    SB_MILTER_VERBOSE=no OPENETRN_BUILDDIR="$BUILD" "$@" \
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
	SANDBOXES="$SANDBOXES $SBDIR"
	# shellcheck disable=SC1091
	. "$SBDIR/env"
	HOST=$(sed -n 's/^hostname *= *//p' "$OPENETRN_CONF")
	[ -n "$HOST" ] || die "no hostname in $OPENETRN_CONF"
}

# Reload the sandbox's Postfix.
postfix_reload() {
	postfix -c "$PF_CONF" reload >/dev/null 2>&1 ||
	    die "postfix reload failed; see $PF_LOG"
}

# Send $1 messages to $2 with smtp-source (BENCH_SESSIONS, BENCH_SIZE);
# accepted msgs/s in ACCEPTED, start and end times in SOURCE_T0/SOURCE_T1.
source_mail() {
	SOURCE_T0=$EPOCHREALTIME
	smtp-source -s "$SESSIONS" -m "$1" -l "$SIZE" \
	    -f sender@example.org -t "$2" "127.0.0.1:$SMTP_PORT" \
	    >"$WORK/smtp-source.log" 2>&1 || {
		cat "$WORK/smtp-source.log" >&2
		die "smtp-source to $2 failed"
	}
	SOURCE_T1=$EPOCHREALTIME
	ACCEPTED=$(awk -v n="$1" -v a="$SOURCE_T0" -v b="$SOURCE_T1" \
	    'BEGIN { printf "%.0f", n / (b - a) }')
}

# Send $2 messages for dialup.test (source_mail) and wait up to $3
# seconds until they are in the hold queue, in etrn:held:dialup.test and
# in the sorted sets $4...; die with prefix $1 ("(1)") otherwise.
hold_mail() {
	local tag=$1 n=$2 secs=$3 k
	shift 3
	source_mail "$n" rcpt@dialup.test
	wait_until "$secs" held_and_indexed "$n" "$@" ||
	    die "$tag: $(count_files "$PF_SPOOL/hold") in hold," \
	    "$(zcard etrn:held:dialup.test) indexed$(for k; do
		printf ', %s in %s' "$(zcard "$k")" "$k"; done), expected $n"
}

# Send $2 messages to $3 (source_mail) and wait until they are all in the
# deferred queue and listed there by postqueue -j; die with prefix $1
# otherwise.
defer_mail() {
	local tag=$1 n=$2
	source_mail "$n" "$3"
	wait_until $((60 + n / 50)) all_deferred "$n" ||
	    die "$tag: $(count_files "$PF_SPOOL/deferred") deferred," \
	    "expected $n; see $PF_LOG"
	[ "$(queue_count deferred)" = "$n" ] ||
	    die "$tag: postqueue -j does not list $n deferred messages"
}

# Send ETRN $2 to port $1 (tests/lib/etrn.py); print the reply.
etrn() {
	"$PY" "$TOP/tests/lib/etrn.py" "$1" "$2" || true
}

## Waits and counts

# Wait up to $1 seconds until "$2..." succeeds (a try every WAIT_STEP s);
# fail otherwise.
wait_until() {
	local end=$((SECONDS + $1))
	shift
	until "$@"; do
		[ "$SECONDS" -ge "$end" ] && return 1
		sleep "$WAIT_STEP"
	done
}

# Print the number of files below directory $1.
count_files() {
	find "$1" -type f | wc -l
}

# Succeed if directory $1 holds exactly $2 files.
files_are() {
	[ "$(count_files "$1")" = "$2" ]
}

# Print the number of messages in queue $1 according to postqueue -j.
queue_count() {
	postqueue -c "$PF_CONF" -j |
	    grep -c "\"queue_name\": *\"$1\"" || true
}

# Succeed if $1 messages are deferred and nothing is incoming or active.
all_deferred() {
	files_are "$PF_SPOOL/deferred" "$1" &&
	    files_are "$PF_SPOOL/incoming" 0 && files_are "$PF_SPOOL/active" 0
}

# Succeed if $1 messages are in the hold queue and in the sorted sets
# etrn:held:dialup.test and $2... (ZCARD).
held_and_indexed() {
	local n=$1 k
	shift
	files_are "$PF_SPOOL/hold" "$n" || return 1
	for k in etrn:held:dialup.test "$@"; do
		[ "$(zcard "$k")" = "$n" ] || return 1
	done
}

# Print the elapsed seconds of a postqueue -j with the queue as it is.
time_listing() {
	local t0 t1
	t0=$EPOCHREALTIME
	postqueue -c "$PF_CONF" -j >/dev/null
	t1=$EPOCHREALTIME
	delta "$t0" "$t1"
}

## Redis

# redis-cli on the sandbox's socket.
rcli() {
	redis-cli -s "$REDIS_SOCK" "$@"
}

# Print ZCARD of key $1.
zcard() {
	rcli ZCARD "$1"
}

# Print field $2 of etrn:stats:$1 (0 if unset).
stat_field() {
	local v
	v=$(rcli HGET "etrn:stats:$1" "$2")
	echo "${v:-0}"
}

# Print field $1 of INFO memory (used_memory, used_memory_dataset, ...).
redis_mem() {
	rcli INFO memory | tr -d '\r' | sed -n "s/^$1://p"
}

# Make every deadline of etrn:expiry:HOST due at once (score 0, one Lua
# script); print the number of entries.
all_due() {
	rcli EVAL "
		local m = redis.call('ZRANGE', KEYS[1], 0, -1)
		for i = 1, #m do redis.call('ZADD', KEYS[1], 0, m[i]) end
		return #m" 1 "etrn:expiry:$HOST"
}

## Processes

# Print the PID of etrnd's listener (the runner's child named etrnd).
listener_pid() {
	ps -o pid=,comm= --ppid "$ETRND_PID" |
	    awk '$2 == "etrnd" { print $1; exit }'
}

# Print the RSS (KiB) of etrnd's runner and listener: "runner listener".
etrnd_rss() {
	local runner listener
	runner=$(ps -o rss= -p "$ETRND_PID" | tr -d ' ')
	listener=$(ps -o rss=,comm= --ppid "$ETRND_PID" |
	    awk '$2 == "etrnd" { print $1; exit }')
	echo "${runner:-?} ${listener:-?}"
}

# Print field $2 (VmRSS by default; VmHWM, ...) of process $1 in KiB, or
# "-".
vm() {
	local v
	v=$(awk -v f="${2:-VmRSS}:" '$1 == f { print $2 }' \
	    "/proc/$1/status" 2>/dev/null) || true
	echo "${v:--}"
}

# Print the CPU seconds used so far (see cpu.py); $1 is the smtp-sink.
cpu_now() {
	"$PY" "$BENCH/cpu.py" "$POSTFIX_PID" "$ETRND_PID" "$REDIS_PID" "$1"
}

# Store the CPU used between cpu_now snapshots $2 and $3 as results
# "$1_cpu_*" (put).
put_cpu() {
	local -a before after
	local i names=(machine postfix showq runner redis sink)
	read -r -a before <<<"$2"
	read -r -a after <<<"$3"
	for i in "${!names[@]}"; do
		put "$1_cpu_${names[$i]}" "$(awk -v x="${before[$i]}" \
		    -v y="${after[$i]}" 'BEGIN { printf "%.2f", y - x }')"
	done
}

# Sample the CPU of process $2 (with its reaped children) and the files
# in directory $3 into file $1 every POLL s (cpu.py --watch) until
# stop_cpu_watch.
start_cpu_watch() {
	"$PY" "$BENCH/cpu.py" --watch "$2" "$3" "$POLL" >"$1" &
	WATCH_PID=$!
}

# Stop the watcher of start_cpu_watch.
stop_cpu_watch() {
	# shellcheck disable=SC2086
	stop_pids $WATCH_PID
	WATCH_PID=
}

# Print "before after passes" from start_cpu_watch's file $1: the CPU
# seconds the process used from the first sample until the directory was
# first empty, from then to the last sample, and the number of bursts of
# CPU in the latter (runs of samples with CPU used; "-" when never empty).
cpu_split() {
	awk '
		NR == 1 { c0 = $2 }
		!e && $3 == 0 { e = 1; ce = $2; prev = $2; next }
		e { if ($2 > prev) { if (!up) n++; up = 1 } else up = 0
		    prev = $2 }
		END {
			if (!e) print "- - -"
			else printf "%.2f %.2f %d\n", ce - c0, prev - ce, n
		}' "$1"
}

# Stop the watcher (stop_cpu_watch), store cpu_split of its file $2 as
# results "$1_cpu_release", "$1_cpu_after" and "$1_cpu_bursts" (put).
put_cpu_split() {
	local a b c
	stop_cpu_watch
	read -r a b c < <(cpu_split "$2")
	put "$1_cpu_release" "$a"
	put "$1_cpu_after" "$b"
	put "$1_cpu_bursts" "$c"
}

## Pollers and logs

# Run the poller (poll.py, a look every POLL s): time series file $1,
# timeout $2, probes...; it runs in the background (POLL_PID), its output
# goes to $1.out.
start_poller() {
	local series=$1 timeout=$2
	shift 2
	"$PY" "$BENCH/poll.py" "$series" "$timeout" "$POLL" "$@" \
	    >"$series.out" 2>&1 &
	POLL_PID=$!
	sleep 0.3	# its first look comes before the start
}

# Wait for the poller of series $1; set P[first_NAME], P[done_NAME],
# P[last_NAME].
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

# Stop the poller without waiting for its result.
kill_poller() {
	kill "$POLL_PID" 2>/dev/null || true
}

# Time-stamp log $1 into $2 (see tslog.py) until stop_tslog.
start_tslog() {
	: >"$2"
	"$PY" "$BENCH/tslog.py" "$1" "$2" &
	TSLOG_PIDS="$TSLOG_PIDS $!"
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

## Figures

# Append value $2 to the list of results $1 (one value per run).
put() {
	R[$1]="${R[$1]:-}${R[$1]:+ }$2"
}

# Print $2 - $1 in seconds (3 decimals), or "-" when $2 is "-".
delta() {
	case $2 in '' | -) echo -; return ;; esac
	awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'
}

# Print $1 / $2 (per second, rounded), or "-".
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

# Print the median of the results $1 (3 decimals for an even count; "-"
# if none).
median() {
	tr ' ' '\n' <<<"${R[$1]:-}" | grep -v '^-\?$' | median_of 3
}

# Print the CPU table: the medians of "$1_cpu_*" labelled $2, of
# "$3_cpu_*" labelled $4 (see put_cpu).
cpu_table() {
	local k
	printf '  %-10s %8s %8s %8s %8s %8s %8s\n' "" machine Postfix \
	    "(showq)" etrnd redis sink
	while [ $# -ge 2 ]; do
		k=$1
		printf '  %-10s %8s %8s %8s %8s %8s %8s\n' "$2" \
		    "$(median "${k}_cpu_machine")" "$(median "${k}_cpu_postfix")" \
		    "$(median "${k}_cpu_showq")" "$(median "${k}_cpu_runner")" \
		    "$(median "${k}_cpu_redis")" "$(median "${k}_cpu_sink")"
		shift 2
	done
}

# Print the median of the numbers on stdin, one a line, an even count's
# mean with $1 decimals; "-" if none.
median_of() {
	sort -n | awk -v d="$1" '
		{ x[NR] = $1 }
		END {
			if (NR == 0) { print "-"; exit }
			if (NR % 2) print x[(NR + 1) / 2];
			else printf "%." d "f\n", (x[NR / 2] + x[NR / 2 + 1]) / 2
		}'
}

## Report

# Print the versions line of a report's header: host, CPUs, then $@
# (any of load, postfix, redis), then the tree.
versions() {
	local s w
	s="host $(hostname), $(nproc) CPUs"
	for w in "$@"; do
		case $w in
		load) s+=", load $(cut -d' ' -f1-3 /proc/loadavg)" ;;
		load-end) s+=", load $(cut -d' ' -f1-3 /proc/loadavg) at the end" ;;
		postfix) s+=", Postfix $(postconf -d -h mail_version 2>/dev/null)" ;;
		redis) s+=", redis $(redis-server --version |
		    sed 's/.*v=\([^ ]*\).*/\1/')" ;;
		esac
	done
	echo "$s, tree $(git -C "$TOP" describe --always --dirty 2>/dev/null ||
	    echo unknown)"
}

# Print etrnd's queue_run_interval setting ("queue_run_interval=...").
run_interval() {
	grep -E '^queue_run_interval' "$OPENETRN_CONF" | tr -d ' '
}

# Write the results R, the date, the versions line (versions with the
# words $1) and the variables named $2... to $WORK/results, the input of
# bench/report.py: NUL-terminated "name=value" records.
write_results() {
	local k words
	read -r -a words <<<"$1"
	shift
	R[date]=$(date '+%Y-%m-%d %H:%M:%S %Z')
	R[versions]=$(versions "${words[@]}")
	for k in "$@"; do
		R[$k]=${!k}
	done
	for k in "${!R[@]}"; do
		printf '%s=%s\0' "$k" "${R[$k]}"
	done >"$WORK/results"
}

# Print the report, also to bench/results/$1-YYYYmmdd-HHMMSS.txt: with
# more arguments, that of bench/report.py $1 (write_results "$2" $3...),
# else that of the function report.
save_report() {
	local out name=$1
	mkdir -p "$TOP/bench/results"
	out=$TOP/bench/results/$name-$(date +%Y%m%d-%H%M%S).txt
	if [ $# -gt 1 ]; then
		shift
		write_results "$@"
		"$PY" "$BENCH/report.py" "$name" "$WORK/results"
	else
		report
	fi | tee "$out"
	note "report written to $out"
}
