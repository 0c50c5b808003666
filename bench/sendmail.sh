#!/bin/bash
# bench/sendmail.sh - etrnd with the Sendmail backend: flush and expiry of
# mail held in Sendmail's quarantine (run as root, Debian 12).
#
# Starts the lab of tests/sendmail/t-sendmail.sh (tests/lib/sandbox.sh,
# SB_MILTER=none, for redis and the sinks; tests/lab/sendmail-lab.sh: a
# private Sendmail 8.17 from /opt/openetrn-sendmail, contrib/install-deps,
# with etrn-milter and etrnd, mta = sendmail, queue_run_interval 500ms,
# verbose) and sends N 1 KiB messages for dialup.test to Sendmail
# (smtp-source, not timed) until all N are quarantined (hf files) and
# counted (etrn:held:dialup.test, etrn:expiry:<host>), twice:
#   (1) flush: from "ETRN dialup.test" sent to etrnd (reply 253) until
#       (a) no hf file is left, (b) the customer sink has all N, (c) the
#       spool is empty and etrn:held:dialup.test too;
#   (2) expiry: all N due at once (all_due: one Lua script, ZADD score 0
#       on etrn:expiry:<host>, as bench/expiry.sh) until (a) the spool is
#       empty (originals deleted; the DSNs, quarantined on Sendmail's DSN
#       port and released by etrnd, delivered), (b) all N DSNs are at the
#       internet sink, (c) both indexes are empty; the expired counter
#       must have grown by N;
#   (3) CPU seconds (bench/cpu.py): the machine, the Sendmail daemon with
#       its reaped children, etrnd's runner with its reaped commands,
#       redis, the sink, etrn-milter; the runner's ms per message.
# Spool, sinks and indexes are polled every 0.1 s (bench/poll.py).  The
# Postfix figures to compare with: bench/flush.sh, bench/expiry.sh.
#
# Environment: BENCH_MESSAGES (1000); BENCH_SESSIONS (10) smtp-source -s;
# BENCH_SIZE (1024) bytes; SB_PORT_BASE (8785: Postfix and sinks from
# there, Sendmail +7..+9, redis +100; no retry); OPENETRN_BUILDDIR (top
# of the tree); OPENETRN_SENDMAIL (/opt/openetrn-sendmail); BENCH_KEEP=1
# keeps the sandbox.  The report also goes to bench/results/sendmail-
# YYYYmmdd-HHMMSS.txt.  Exit 0 when the benchmark ran, 1 on errors.
set -eu -o pipefail

PROG=bench/sendmail.sh
SB_SRCDIR=$(cd "$(dirname "$0")/.." && pwd)
# The lab's helpers (sb_*), then bench/lib.sh: its die and note win.
# shellcheck source-path=SCRIPTDIR source=../tests/lib/sandbox.sh
. "$SB_SRCDIR/tests/lib/sandbox.sh"
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
MESSAGES=${BENCH_MESSAGES:-1000}
SESSIONS=${BENCH_SESSIONS:-10}
SIZE=${BENCH_SIZE:-1024}
SB_PORT_BASE=${SB_PORT_BASE:-8785}
POLL=0.1		# seconds between two looks at spool, sinks and indexes

# EXIT trap: stop the poller and the CPU watcher, then the lab.
bench_exit() {
	local rc=$?
	set +e
	# shellcheck disable=SC2086
	stop_pids $POLL_PID $WATCH_PID
	# shellcheck disable=SC2034 # (read by sb_cleanup)
	[ "${BENCH_KEEP:-0}" = 1 ] && KEEP_SANDBOX=1
	(exit "$rc")
	sm_cleanup
}

# Print the number of quarantined messages (hf files) in Sendmail's spool.
held_count() {
	find "$SM_DIR/spool" -maxdepth 1 -name 'hf*' | wc -l
}

# Succeed if $1 messages are quarantined and indexed (held and expiry).
held_and_counted() {
	[ "$(held_count)" = "$1" ] &&
	    [ "$(zcard etrn:held:dialup.test)" = "$1" ] &&
	    [ "$(zcard "etrn:expiry:$HOST")" = "$1" ]
}

# Print the CPU seconds so far: cpu.py's (sink $1), then etrn-milter's.
sm_cpu() {
	local m
	m=$(awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / hz }' \
	    "/proc/$SM_MILTER_PID/stat")
	echo "$("$PY" "$BENCH/cpu.py" "$SM_DAEMON_PID" "$SM_ETRND_PID" \
	    "$REDIS_PID" "$1") $m"
}

# Store the CPU from sm_cpu $2 to $3: "$1_cpu_*", "$1_runner_ms" (put).
put_sm_cpu() {
	local -a a b
	read -r -a a <<<"$2"
	read -r -a b <<<"$3"
	put_cpu "$1" "${a[*]:0:6}" "${b[*]:0:6}"
	put "$1_cpu_milter" "$(awk -v x="${a[6]}" -v y="${b[6]}" \
	    'BEGIN { printf "%.2f", y - x }')"
	put "$1_runner_ms" "$(awk -v c="${R[$1_cpu_runner]}" -v n="$MESSAGES" \
	    'BEGIN { printf "%.2f", c * 1000 / n }')"
}

# Send N messages for dialup.test to Sendmail; wait until all are held.
hold_mail_sm() {
	local n=$MESSAGES
	# source_mail sends to SMTP_PORT: Sendmail's port for this call.
	SMTP_PORT=$SM_PORT source_mail "$n" rcpt@dialup.test
	wait_until $((60 + n / 20)) held_and_counted "$n" ||
	    die "$1: $(held_count) quarantined," \
	    "$(zcard etrn:held:dialup.test) held," \
	    "$(zcard "etrn:expiry:$HOST") in the expiry index, expected $n"
	R[accept_$2]=$ACCEPTED
	note "$1 $n quarantined and counted (accepted $ACCEPTED msgs/s)"
}

# (1) ETRN dialup.test to etrnd; time quarantine, delivery, index.
bench_flush() {
	local n=$MESSAGES t0 t1 reply expect timeout cpu0 flushed0 rehold0
	note "(1) flush: sending $n messages for dialup.test to Sendmail"
	hold_mail_sm "(1)" flush
	files_are "$SINK_DIR_CUSTOMER" 0 ||
	    die "(1): mail for dialup.test was delivered before the ETRN"
	flushed0=$(stat_field dialup.test flushed)
	rehold0=$(grep -c 'back on hold' "$SM_DIR/log/etrnd.log" || true)
	timeout=$((120 + n / 10))
	start_poller "$WORK/series-flush" "$timeout" \
	    "held:le:0:zcard:$REDIS_SOCK:etrn:held:dialup.test" \
	    "sink:ge:$n:dir:$SINK_DIR_CUSTOMER" \
	    "spool:le:0:dir:$SM_DIR/spool"
	start_cpu_watch "$WORK/cpu-flush" "$SM_ETRND_PID" "$SM_DIR/spool"
	cpu0=$(sm_cpu "$SINK_CUSTOMER_PID")
	t0=$EPOCHREALTIME
	reply=$(etrn "$ETRND_PORT" dialup.test)
	t1=$EPOCHREALTIME
	R[flush_reply]=$reply
	R[flush_t_reply]=$(delta "$t0" "$t1")
	expect="253 OK, $n pending messages for node dialup.test started"
	if [ "$reply" != "$expect" ]; then
		kill_poller
		die "(1): etrnd replied \"$reply\", expected \"$expect\""
	fi
	# shellcheck disable=SC2016
	WAIT_STEP=$POLL wait_until "$timeout" eval '[ "$(held_count)" = 0 ]' ||
	    true
	R[flush_unheld]=$(delta "$t0" "$EPOCHREALTIME")
	note "(1) ETRN sent: $reply; waiting (at most $timeout s)"
	finish_poller "$WORK/series-flush" ||
	    die "(1): not done after $timeout s: held ${P[last_held]:-?}," \
	    "sink ${P[last_sink]:-?}, spool ${P[last_spool]:-?}"
	put_sm_cpu flush "$cpu0" "$(sm_cpu "$SINK_CUSTOMER_PID")"
	put_cpu_split flush "$WORK/cpu-flush"
	R[flush_first_sink]=$(delta "$t0" "${P[first_sink]}")
	R[flush_sink]=$(delta "$t0" "${P[done_sink]}")
	R[flush_spool]=$(delta "$t0" "${P[done_spool]}")
	R[flush_index]=$(delta "$t0" "${P[done_held]}")
	sleep 1.5	# the runner's last tracking pass
	R[flush_flushed]=$(($(stat_field dialup.test flushed) - flushed0))
	R[flush_rehold]=$(($(grep -c 'back on hold' "$SM_DIR/log/etrnd.log" ||
	    true) - rehold0))
}

# (2) all N due at once; time deletion, DSNs at the sink, index.
bench_expiry() {
	local n=$MESSAGES t0 t1 got timeout cpu0 expired0
	note "(2) expiry: sending $n messages for dialup.test to Sendmail"
	find "$SINK_DIR_INTERNET" -type f -delete
	hold_mail_sm "(2)" expiry
	sleep 1
	files_are "$SINK_DIR_INTERNET" 0 || die "(2): a DSN went out early"
	expired0=$(stat_field dialup.test expired)
	timeout=$((900 + n / 2))
	start_poller "$WORK/series-expiry" "$timeout" \
	    "spool:le:0:dir:$SM_DIR/spool" \
	    "sink:ge:$n:dir:$SINK_DIR_INTERNET" \
	    "held:le:0:zcard:$REDIS_SOCK:etrn:held:dialup.test" \
	    "due:le:0:zcard:$REDIS_SOCK:etrn:expiry:$HOST"
	cpu0=$(sm_cpu "$SINK_INTERNET_PID")
	t0=$EPOCHREALTIME
	got=$(all_due)
	t1=$EPOCHREALTIME
	R[expiry_t_due]=$(delta "$t0" "$t1")
	if [ "$got" != "$n" ]; then
		kill_poller
		die "(2): $got entries made due, expected $n"
	fi
	note "(2) $n due; waiting (at most $timeout s)"
	finish_poller "$WORK/series-expiry" ||
	    die "(2): not done after $timeout s: spool ${P[last_spool]:-?}," \
	    "sink ${P[last_sink]:-?}, held ${P[last_held]:-?}," \
	    "due ${P[last_due]:-?}"
	put_sm_cpu expiry "$cpu0" "$(sm_cpu "$SINK_INTERNET_PID")"
	R[expiry_first_gone]=$(delta "$t0" "${P[first_spool]}")
	R[expiry_spool]=$(delta "$t0" "${P[done_spool]}")
	R[expiry_first_sink]=$(delta "$t0" "${P[first_sink]}")
	R[expiry_sink]=$(delta "$t0" "${P[done_sink]}")
	R[expiry_index]=$(later "$(delta "$t0" "${P[done_held]}")" \
	    "$(delta "$t0" "${P[done_due]}")")
	sleep 1.5
	R[expiry_expired]=$(($(stat_field dialup.test expired) - expired0))
	R[expiry_sink_null]=$(find "$SINK_DIR_INTERNET" -type f -print0 |
	    xargs -0 -r grep -l '^X-Mail-Args: <>' | wc -l)
	[ "${R[expiry_expired]}" = "$n" ] ||
	    die "(2): expired counter grew by ${R[expiry_expired]}, not $n"
}

# Print one row: label $1, seconds R[$2], msgs/s.
row() {
	printf '%-52s %8s %8s\n' "$1" "${R[$2]:--}" \
	    "$(per_s "$MESSAGES" "${R[$2]:--}")"
}

# Print the CPU rows of case $1 (label $2).
cpu_rows() {
	printf '  %-10s %8s %8s %8s %8s %8s %8s %10s\n' "$2" \
	    "${R[$1_cpu_machine]}" "${R[$1_cpu_postfix]}" \
	    "${R[$1_cpu_runner]}" "${R[$1_cpu_redis]}" "${R[$1_cpu_sink]}" \
	    "${R[$1_cpu_milter]}" "${R[$1_runner_ms]}"
}

# Print the report (save_report).
report() {
	echo "openetrn Sendmail benchmark, $(date '+%Y-%m-%d %H:%M:%S %Z')"
	echo "$VERSIONS"
	echo "Sendmail $SM_VERSION; $MESSAGES messages of $SIZE bytes per case" \
	    "(smtp-source -s $SESSIONS); load at the start $LOAD_START"
	echo "etrnd: mta = sendmail, queue_run_interval = 500ms, verbose = yes"
	echo
	printf '%-52s %8s %8s\n' "(1) flush, from ETRN sent" seconds msgs/s
	echo "  accepted by Sendmail, held: ${R[accept_flush]} msgs/s"
	echo "  reply: ${R[flush_reply]} (${R[flush_t_reply]} s)"
	row "  (a) quarantine empty (no hf file)" flush_unheld
	row "  first message at the customer sink" flush_first_sink
	row "  (b) all at the customer sink" flush_sink
	row "  (c) spool empty" flush_spool
	row "  (c) etrn:held:dialup.test empty" flush_index
	echo "  flushed counter +${R[flush_flushed]}, back on hold" \
	    "${R[flush_rehold]}; runner CPU until the spool was empty" \
	    "${R[flush_cpu_release]} s, after ${R[flush_cpu_after]} s"
	echo
	printf '%-52s %8s %8s\n' "(2) expiry, all due at once" seconds msgs/s
	echo "  accepted by Sendmail, held: ${R[accept_expiry]} msgs/s"
	row "  first file gone" expiry_first_gone
	row "  first DSN at the internet sink" expiry_first_sink
	row "  (a) spool empty (originals and DSNs)" expiry_spool
	row "  (b) all DSNs at the internet sink" expiry_sink
	row "  (c) held and expiry indexes empty" expiry_index
	echo "  expired counter +${R[expiry_expired]}; DSNs at the sink with" \
	    "a null sender: ${R[expiry_sink_null]}"
	echo
	echo "(3) CPU seconds (cpu.py); runner ms per message"
	printf '  %-10s %8s %8s %8s %8s %8s %8s %10s\n' "" machine sendmail \
	    etrnd redis sink milter "etrnd/msg"
	cpu_rows flush "cpu flush"
	cpu_rows expiry "cpu expiry"
	echo
	echo "load at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
}

# Check the user, the tools, the build and the settings.
check_args() {
	need_root
	need_tools smtp-source redis-cli redis-server ss m4 unshare
	[ -n "$PY" ] || die "python3 not found"
	check_number "$MESSAGES" BENCH_MESSAGES
	check_number "$SESSIONS" BENCH_SESSIONS
	check_number "$SIZE" BENCH_SIZE
	check_number "$SB_PORT_BASE" SB_PORT_BASE
	need_built etrn-milter etrnd/etrnd
	[ -x "$SM_BIN" ] || die "no $SM_BIN: run contrib/install-deps"
}

# Main program.
main() {
	[ $# = 0 ] || die "usage: $PROG (no arguments)"
	OPENETRN_BUILDDIR=$BUILD
	# shellcheck source-path=SCRIPTDIR source=../tests/lab/sendmail-lab.sh
	. "$SB_SRCDIR/tests/lab/sendmail-lab.sh"
	# Load limits a busy machine does not reach: Sendmail refuses mail at a
	# load of 12 per CPU (RefuseLA), skips queue runs at 8 (QueueLA).
	eval "lab_$(declare -f sm_write_cf)"
	sm_write_cf() {
		lab_sm_write_cf
		printf 'O QueueLA=1000\nO RefuseLA=1000\n' \
		    >>"$SM_DIR/etc/sendmail.cf"
	}
	check_args
	export SB_PORT_BASE
	sb_init sendmail-bench
	SB_MILTER=none sb_start
	sm_start
	trap bench_exit EXIT
	WORK=$SB/bench
	mkdir -p "$WORK"
	HOST=$SM_HOST
	read -r SM_DAEMON_PID <"$SM_DIR/run/sendmail.pid"
	SM_MILTER_PID=$(awk '{ print $NF }' <<<"$SM_PIDS")
	[ -r "/proc/$SM_MILTER_PID/stat" ] || die "no etrn-milter process"
	SM_VERSION=$(sm_run -d0.1 -bt </dev/null 2>/dev/null |
	    sed -n 's/^Version //p' | head -n 1)
	LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
	VERSIONS=$(versions redis)
	note "Sendmail lab up: $SM_DIR (Sendmail pid $SM_DAEMON_PID," \
	    "etrnd $SM_ETRND_PID, port $SM_PORT)"
	bench_flush
	bench_expiry
	save_report sendmail
}

main "$@"
