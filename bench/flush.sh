#!/bin/bash
# bench/flush.sh - release benchmark: etrnd against Postfix's own fast
# flush (run as root, Debian 12).
#
# Starts one sandbox (contrib/sandbox: SB_ETRND=1, etrn-milter) and, in
# that one Postfix, releases N 1 KiB messages to one customer sink twice:
#   (1) etrnd: N held for dialup.test (hold queue + Redis index); time
#       from "ETRN dialup.test" sent to etrnd (tests/lib/etrn.py; reply
#       "253 OK, N pending ...") until (a) the hold queue is empty, (b)
#       the customer sink has all N, (c) etrn:held:dialup.test is empty;
#   (2) Postfix's own fast flush (ETRN_README, "ETRN service only"):
#       flush.test mail (the milter passes it) goes to etrn-only, a copy
#       of smtp in defer_transports, fast_flush_domains = flush.test; N
#       wait deferred (checked: in the fast flush log, none delivered);
#       time from "ETRN flush.test" sent to smtpd (reply 250) until the
#       deferred queue is empty and the customer sink has all N;
#   (3) the ratio (1b)/(2) "ETRN to all delivered" (medians), target
#       <= 1.0, and (1a), target 0.5 s: PASS/MISS; the CPU of etrnd's
#       runner with its commands (cpu.py --watch, every 0.1 s) until the
#       hold queue is empty and after, per message released;
#   (4) BENCH_CONNECTIONS connections to etrnd opened at once by a small
#       asyncio client, each EHLO, ETRN dialup.test, QUIT: wall time,
#       connections/s, replies by code, errors, latency, the RSS of both
#       etrnd processes before and after, and a normal ETRN afterwards.
# (1) and (2) run BENCH_RUNS times, the order alternating; the table gives
# medians and every run.  The flush.test settings are made (postconf,
# postfix reload) before the first run: both releases see the same
# Postfix configuration.  Sending the mail is not timed.  Queue, sink and
# index sizes are polled every 0.1 s (file counts; smtp-sink writes one
# file per message); each time starts just before the ETRN client is
# started (Python start-up, connect and EHLO: ~0.05 s).  etrnd's log is
# time-stamped as it is written to show where etrnd's time goes.
# Between runs the flush marker etrn:flushing:dialup.test (left for
# flush_lock_time by the previous ETRN) is deleted so that each ETRN
# starts a flush.  Postfix's retry times are set to its defaults (300 s)
# so that deferred flush.test mail is not retried while it waits;
# etrnd_max_clients, etrn_rate_limit and ulimit -n are raised for (4).
#
# --busy (or BENCH_BUSY=1): two CPU-bound busy loops run through (1) and
# (2) (not (4)), the same for both, as cpu.py --watch; the report says so.
# Environment: BENCH_MESSAGES (10000) messages per release; BENCH_RUNS
# (5); BENCH_CONNECTIONS (1000); BENCH_SESSIONS (10) smtp-source -s;
# BENCH_SIZE (1024) payload bytes; SB_PORT_BASE (5525: SMTP base..base+5,
# Redis base+100; on a busy port the bases +10, +20 ... are tried);
# OPENETRN_BUILDDIR (top of the tree) holds etrn-milter and etrnd/etrnd;
# BENCH_KEEP=1 keeps the work directory.  The report (bench/report.py)
# also goes to bench/results/flush-YYYYmmdd-HHMMSS.txt.  Takes 6 to 7
# minutes on 2 CPUs.  Exit 0 when it ran (targets met or not), 1 on errors.
set -eu -o pipefail

PROG=bench/flush.sh
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
MESSAGES=${BENCH_MESSAGES:-10000}
CONNECTIONS=${BENCH_CONNECTIONS:-1000}
SESSIONS=${BENCH_SESSIONS:-10}
SIZE=${BENCH_SIZE:-1024}
RUNS=${BENCH_RUNS:-5}
BASE=${SB_PORT_BASE:-5525}
STORM_HELD=20		# messages held for dialup.test during (4)
POLL=0.1		# seconds between two looks at queue and sink

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
	postfix_reload
	sleep 1
	[ "$(postmap -c "$PF_CONF" -q flush.test "$flush_map")" = \
	    "etrn-only:[127.0.0.1]:$CUSTOMER_PORT" ] ||
	    die "transport for flush.test not set"
	R[interval]=$(run_interval)
}

# (1) etrnd: hold N messages, ETRN, time release, delivery, index.
bench_etrnd() {
	local n=$MESSAGES t0 t1 reply expect timeout flushed0 cpu0 f l c
	local ts=$WORK/etrnd-ts.log
	note "run $RUN (1) etrnd: holding $n messages for dialup.test"
	put load_etrnd "$(load1)"
	find "$SINK_DIR_CUSTOMER" -type f -delete
	hold_mail "(1)" "$n" $((60 + n / 100))
	put accept_etrnd "$ACCEPTED"
	[ "$(queue_count hold)" = "$n" ] ||
	    die "(1): postqueue -j does not list $n held messages"
	files_are "$SINK_DIR_CUSTOMER" 0 ||
	    die "(1): mail for dialup.test was delivered before the ETRN"
	put listing "$(time_listing)"
	# The marker of the previous run's flush lasts flush_lock_time (60s):
	# without it this ETRN starts a flush (253), as the first one would.
	rcli DEL etrn:flushing:dialup.test >/dev/null
	flushed0=$(stat_field dialup.test flushed)
	note "run $RUN (1) $n held and indexed"

	start_tslog "$SBDIR/log/etrnd.log" "$ts"
	timeout=$((120 + n / 20))
	start_poller "$WORK/series-etrnd-$RUN" "$timeout" \
	    "hold:le:0:dir:$PF_SPOOL/hold" \
	    "sink:ge:$n:dir:$SINK_DIR_CUSTOMER" \
	    "index:le:0:zcard:$REDIS_SOCK:etrn:held:dialup.test"
	start_cpu_watch "$WORK/cpu-etrnd-$RUN" "$ETRND_PID" "$PF_SPOOL/hold"
	cpu0=$(cpu_now "$SINK_CUSTOMER_PID")
	t0=$EPOCHREALTIME
	reply=$(etrn "$ETRND_PORT" dialup.test)
	t1=$EPOCHREALTIME
	R[etrnd_reply]=$reply
	put etrnd_t_reply "$(delta "$t0" "$t1")"
	expect="253 OK, $n pending messages for node dialup.test started"
	if [ "$reply" != "$expect" ]; then
		kill_poller
		die "(1): etrnd replied \"$reply\", expected \"$expect\""
	fi
	note "run $RUN (1) ETRN sent: $reply; waiting (at most $timeout s)"
	finish_poller "$WORK/series-etrnd-$RUN" ||
	    die "(1): not done after $timeout s: hold ${P[last_hold]:-?}," \
	    "sink ${P[last_sink]:-?}, index ${P[last_index]:-?}"
	put_cpu etrnd "$cpu0" "$(cpu_now "$SINK_CUSTOMER_PID")"
	put_cpu_split etrnd "$WORK/cpu-etrnd-$RUN"
	sleep 1.5	# the log lines of the last tracking pass
	stop_tslog
	put etrnd_first_out "$(delta "$t0" "${P[first_hold]}")"
	put etrnd_released "$(delta "$t0" "${P[done_hold]}")"
	put etrnd_first_sink "$(delta "$t0" "${P[first_sink]}")"
	put etrnd_delivered "$(delta "$t0" "${P[done_sink]}")"
	put etrnd_indexed "$(delta "$t0" "${P[done_index]}")"
	read -r f l c < <(log_times 'etrnd: flush domain=dialup.test client=' \
	    "$t0" "$ts")
	put etrnd_log_flush "$f"
	R[etrnd_flush_line]=$(grep -m1 \
	    'etrnd: flush domain=dialup.test client=' "$ts" | cut -d' ' -f2- ||
	    true)
	read -r f l c < <(log_times 'left the queue after ETRN' "$t0" "$ts")
	put etrnd_log_gone_first "$f"
	put etrnd_log_gone_last "$l"
	put etrnd_log_gone_count "$c"
	read -r f l c < <(log_times 'back on hold' "$t0" "$ts")
	put etrnd_rehold "$c"
	read -r f l c < <(log_times 'warning:' "$t0" "$ts")
	put etrnd_warnings "$c"
	put etrnd_flushed "$(($(stat_field dialup.test flushed) - flushed0))"
	note "run $RUN (1) released ${P[done_hold]:+$(delta "$t0" \
	    "${P[done_hold]}")} s, delivered $(delta "$t0" "${P[done_sink]}")" \
	    "s, index empty $(delta "$t0" "${P[done_index]}") s"
}

# (2) Postfix fast flush: defer N messages for flush.test, ETRN, time.
bench_postfix() {
	local n=$MESSAGES t0 t1 reply timeout ids cpu0
	note "run $RUN (2) Postfix fast flush: deferring $n messages for" \
	    "flush.test"
	put load_postfix "$(load1)"
	find "$SINK_DIR_CUSTOMER" -type f -delete
	defer_mail "(2)" "$n" rcpt@flush.test
	put accept_postfix "$ACCEPTED"
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
	start_cpu_watch "$WORK/cpu-pf-$RUN" "$ETRND_PID" "$PF_SPOOL/deferred"
	cpu0=$(cpu_now "$SINK_CUSTOMER_PID")
	t0=$EPOCHREALTIME
	reply=$(etrn "$SMTP_PORT" flush.test)
	t1=$EPOCHREALTIME
	R[postfix_reply]=$reply
	put postfix_t_reply "$(delta "$t0" "$t1")"
	case $reply in
	"250 "*) ;;
	*)
		kill_poller
		die "(2): Postfix replied \"$reply\" to ETRN flush.test"
		;;
	esac
	note "run $RUN (2) ETRN sent: $reply; waiting (at most $timeout s)"
	finish_poller "$WORK/series-postfix-$RUN" ||
	    die "(2): not done after $timeout s: deferred" \
	    "${P[last_deferred]:-?}, sink ${P[last_sink]:-?}"
	put_cpu postfix "$cpu0" "$(cpu_now "$SINK_CUSTOMER_PID")"
	put_cpu_split postfix "$WORK/cpu-pf-$RUN"
	put postfix_first_out "$(delta "$t0" "${P[first_deferred]}")"
	put postfix_released "$(delta "$t0" "${P[done_deferred]}")"
	put postfix_first_sink "$(delta "$t0" "${P[first_sink]}")"
	put postfix_delivered "$(delta "$t0" "${P[done_sink]}")"
	note "run $RUN (2) deferred empty $(delta "$t0" "${P[done_deferred]}")" \
	    "s, delivered $(delta "$t0" "${P[done_sink]}") s"
}

# (4) concurrent ETRN connections to etrnd.
bench_storm() {
	local c=$CONNECTIONS lpid out ts=$WORK/etrnd-ts.log
	note "(4) $c concurrent ETRN connections to etrnd"
	find "$SINK_DIR_CUSTOMER" -type f -delete
	hold_mail "(4)" "$STORM_HELD" 30
	# As in (1): the first ETRN of the storm starts a flush (253), the
	# others find it started (250).
	rcli DEL etrn:flushing:dialup.test >/dev/null
	lpid=$(listener_pid)
	R[rss_before]=$(etrnd_rss)
	start_tslog "$SBDIR/log/etrnd.log" "$ts"
	sleep 0.2
	out=$("$PY" "$BENCH/storm.py" "$ETRND_PORT" dialup.test "$c" 60) ||
	    die "(4): the client failed: $out"
	R[rss_after]=$(etrnd_rss)
	R[storm]=$out
	R[storm_wall]=$(printf '%s\n' "$out" | sed -n 's/^wall=//p')
	R[storm_after]=$(etrn "$ETRND_PORT" dialup.test)
	sleep 0.5
	stop_tslog
	R[storm_refused]=$(grep -c 'refused: too many' "$ts" || true)
	R[storm_paused]=$(grep -c 'pausing the listener' "$ts" || true)
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

# Check the user, the tools, the build and the settings.
check_args() {
	need_root
	need_tools smtp-source postqueue postsuper postconf postmap postfix \
	    redis-cli redis-server
	[ -n "$PY" ] || die "python3 not found"
	check_number "$MESSAGES" BENCH_MESSAGES
	check_number "$CONNECTIONS" BENCH_CONNECTIONS
	check_number "$SESSIONS" BENCH_SESSIONS
	check_number "$SIZE" BENCH_SIZE
	check_number "$RUNS" BENCH_RUNS
	check_number "$BASE" SB_PORT_BASE
	need_built etrn-milter etrnd/etrnd
}

# Raise the descriptor limit of this shell: the client and etrnd's
# listener (started from here) each need a descriptor per connection.
raise_nofile() {
	local nofile=$((CONNECTIONS * 2 + 1024))
	if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt "$nofile" ]
	then
		ulimit -n "$nofile" 2>/dev/null ||
		    ulimit -Sn "$(ulimit -Hn)" 2>/dev/null || true
		note "ulimit -n is $(ulimit -n)"
	fi
}

# Main program.
main() {
	busy_option "$@"
	check_args
	MAX_CLIENTS=$((CONNECTIONS * 2 > 2000 ? CONNECTIONS * 2 : 2000))
	raise_nofile
	make_work flush
	start_sandbox SB_EXTRA_MAIN_CF="$SLOW_RETRY" \
	    SB_EXTRA_CONF="etrnd_max_clients = $MAX_CLIENTS
etrnd_max_per_client = 0
etrn_rate_limit = 100000"
	setup_fast_flush
	R[load_start]=$(cut -d' ' -f1-3 /proc/loadavg)
	[ "$BUSY" = 0 ] || start_busy 2
	for ((RUN = 1; RUN <= RUNS; RUN++)); do
		if ((RUN % 2)); then
			bench_etrnd
			bench_postfix
		else
			bench_postfix
			bench_etrnd
		fi
	done
	stop_busy
	bench_storm
	save_report flush "postfix redis load-end" BUSY MESSAGES SIZE \
	    SESSIONS RUNS POLL CONNECTIONS STORM_HELD MAX_CLIENTS
}

main "$@"
