#!/bin/bash
# bench/memory.sh - memory with many messages held (run as root, Debian
# 12).
#
# Starts one sandbox (contrib/sandbox: SB_ETRND=1, etrn-milter, verbose
# no), holds N messages of 1 KiB for dialup.test (smtp-source, as
# bench/flush.sh and bench/expiry.sh do; not timed for the figures) and
# reports, all from one run:
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
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
MESSAGES=${BENCH_MESSAGES:-100000}
AFTER=${BENCH_AFTER:-flush}
IDLE=${BENCH_IDLE:-10}
SESSIONS=${BENCH_SESSIONS:-10}
SIZE=${BENCH_SIZE:-1024}
BASE=${SB_PORT_BASE:-7525}
WAIT_STEP=1

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
	R[${s}_records]=$(rcli --scan --pattern 'etrn:msg:*' | wc -l)
	for k in "held:etrn:held:dialup.test" "expiry:etrn:expiry:$HOST" \
	    "warn:etrn:warn:$HOST"; do
		R[${s}_z${k%%:*}]=$(zcard "${k#*:}")
	done
	R[${s}_hold_files]=$(count_files "$PF_SPOOL/hold")
}

# Hold $MESSAGES messages for dialup.test.
hold_all() {
	local n=$MESSAGES
	note "holding $n messages for dialup.test (smtp-source -s $SESSIONS)"
	hold_mail holding "$n" $((120 + n / 100))
	R[accepted]=$ACCEPTED
	files_are "$SINK_DIR_CUSTOMER" 0 ||
	    die "mail for dialup.test was delivered"
	note "$n held and indexed (${R[accepted]} msgs/s accepted)"
}

# Run etrnctl $@ as step $1: R[ctl_$1] = "rc seconds maxrss lines".
ctl() {
	local name=$1
	shift
	R[ctl_$name]=$("$PY" "$BENCH/run.py" "$WORK/etrnctl-$name.out" \
	    "$BUILD/etrnctl/etrnctl" -c "$OPENETRN_CONF" "$@")
	[ "${R[ctl_$name]%% *}" = 0 ] ||
	    die "etrnctl $* failed: ${R[ctl_$name]}"
}

# Succeed when the hold queue and the index are empty and directory $1
# holds all messages (the customer sink after a flush, the internet sink
# with the DSNs after an expiry).
released_to() {
	files_are "$PF_SPOOL/hold" 0 &&
	    [ "$(zcard etrn:held:dialup.test)" = 0 ] &&
	    files_are "$1" "$MESSAGES"
}

# Release (flush) or expire all held messages, sampling memory meanwhile.
release_all() {
	local n=$MESSAGES t0 reply got p
	"$PY" "$BENCH/peak-rss.py" "$WORK/peak" "$ETRND_PID" "$LISTENER_PID" \
	    "$REDIS_PID" &
	SAMPLER_PID=$!
	t0=$EPOCHREALTIME
	if [ "$AFTER" = flush ]; then
		note "ETRN dialup.test"
		reply=$(etrn "$ETRND_PORT" dialup.test)
		R[reply]=$reply
		[ "$reply" = "253 OK, $n pending messages for node dialup.test started" ] ||
		    die "etrnd replied \"$reply\""
		wait_until $((300 + n / 20)) released_to "$SINK_DIR_CUSTOMER" ||
		    die "flush not done: $(count_files "$PF_SPOOL/hold")" \
		    "on hold, $(count_files "$SINK_DIR_CUSTOMER") delivered"
	else
		note "making all $n deadlines due"
		got=$(all_due)
		[ "$got" = "$n" ] || die "$got deadlines made due, not $n"
		wait_until $((900 + n / 2)) released_to "$SINK_DIR_INTERNET" ||
		    die "expiry not done: $(count_files "$PF_SPOOL/hold")" \
		    "on hold, $(count_files "$SINK_DIR_INTERNET") DSNs"
	fi
	R[release_s]=$(awk -v a="$t0" -v b="$EPOCHREALTIME" \
	    'BEGIN { printf "%.1f", b - a }')
	stop_sampler
	for p in runner:"$ETRND_PID" listener:"$LISTENER_PID" \
	    redis:"$REDIS_PID"; do
		R[peak_${p%%:*}]=$(awk -v p="${p#*:}" '$1 == p { print $2 }' \
		    "$WORK/peak")
	done
	note "$AFTER of $n done in ${R[release_s]} s"
}

# Print one report row: label, figure $2 of stages base, held, ctl, after.
mrow() {
	printf '  %-34s' "$1"
	printf '%12s %12s %12s %12s\n' "${R[base_$2]}" "${R[held_$2]}" \
	    "${R[ctl_$2]}" "${R[after_$2]}"
}

# Print the report.
report() {
	local n=$MESSAGES per dper
	echo "openetrn memory benchmark, $(date '+%Y-%m-%d %H:%M:%S %Z')"
	versions load-end postfix redis
	echo "$n messages of $SIZE bytes held for dialup.test (smtp-source" \
	    "-s $SESSIONS, ${R[accepted]} msgs/s accepted); then $AFTER of" \
	    "all; etrnd $(run_interval), verbose=no"
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
	echo "  per held message: used_memory +$per bytes, dataset +$dper" \
	    "bytes"
	echo "  MEMORY USAGE: one record ${R[mu_record]} bytes" \
	    "(${R[one_record]}), etrn:held:dialup.test ${R[mu_held]}," \
	    "etrn:expiry:$HOST ${R[mu_expiry]}, etrn:warn:$HOST" \
	    "${R[mu_warn]:-0 (no key)} bytes"
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
	local key k
	need_root
	need_tools smtp-source postconf redis-cli redis-server
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
	need_built etrn-milter etrnd/etrnd etrnctl/etrnctl
	make_work memory
	# shellcheck disable=SC2119
	start_sandbox
	LISTENER_PID=$(listener_pid)
	[ -n "$LISTENER_PID" ] || die "no etrnd listener process"
	# Nothing due during the intake and the idle time.
	rcli HSET etrn:domain:dialup.test hold_time 1d warn_time 0 \
	    >/dev/null || die "cannot set dialup.test's hold time"
	sleep 2		# the milter reads the domain entries every second
	snapshot base

	hold_all
	note "idle for $IDLE s with $MESSAGES held"
	sleep "$IDLE"
	snapshot held
	key=$(rcli ZRANGE etrn:held:dialup.test 0 0)
	R[one_record]=etrn:msg:$key
	R[mu_record]=$(rcli MEMORY USAGE "etrn:msg:$key" SAMPLES 0)
	for k in held:etrn:held:dialup.test "expiry:etrn:expiry:$HOST" \
	    "warn:etrn:warn:$HOST"; do
		R[mu_${k%%:*}]=$(rcli MEMORY USAGE "${k#*:}" SAMPLES 0)
	done

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
	save_report memory
}

main "$@"
