#!/bin/bash
# bench/connscale.sh - connection scale of etrnd's ETRN listener (run as
# root, Debian 12).
#
# Starts one sandbox (contrib/sandbox: SB_ETRND=1, etrn-milter, verbose
# no), holds BENCH_HELD messages for the dial-up domain dialup.test and
# opens BENCH_CONNECTIONS (10,000) connections to etrnd's listener with
# bench/connclient (C, epoll, one thread): phase 1 opens them (at most
# BENCH_WINDOW waiting for their greeting at a time), reads each 220
# greeting and holds every connection open, silent, until the last is
# greeted, so that all are open at once; phase 2 then runs on every one
# at once "EHLO x", "ETRN dialup.test" and QUIT.  etrnd's queue runner
# (the etrnd parent) is stopped (SIGSTOP) while the client runs, so that
# the held mail stays held: the first ETRN gets 253, the others 250 (the
# flush started, mail pending), and the listener is measured alone; it
# is continued (SIGCONT) when the client is done and then releases the
# mail.  Reported from that one run:
#   * connections opened, greeted, open at once (greeted and still open
#     when the dialogues began), dialogues completed (221); every reply
#     by code; errors;
#   * connections/s of the connect phase (first connect() to the last
#     greeting) and completed dialogues/s of the whole run (first
#     connect() to the last 221), and of the dialogue phase;
#   * latency from connect() to the greeting and from sending ETRN to its
#     reply: median, 99th percentile, largest;
#   * the VmRSS of etrnd's listener (the child of the etrnd parent, the
#     queue runner): before, the peak of samples taken every 50 ms from
#     just before the client starts until BENCH_SETTLE (5) seconds after
#     it has closed everything, the sample nearest the moment all were
#     open, and after (at the end of those seconds); its VmHWM (the
#     kernel's peak) before and after, a check on the sampled peak; its
#     descriptors before and after; CPU seconds of the client, the
#     listener and redis-server; a normal ETRN afterwards, and whether
#     the listener is still the same process;
#   * the targets, as ratios with PASS/MISS: (a) at least 5,000
#     connections/s, both the completed dialogues/s of the whole run and
#     the connect phase (MISS too when not every connection was open at
#     once or completed); (b) listener peak VmRSS under 64 MiB; (c)
#     listener VmRSS afterwards within 2 MiB of before.
# etrnd is configured with etrnd_max_clients = max(20000, 2 x
# connections), etrnd_max_per_client = 0, etrn_rate_limit = 100000,
# etrnd_max_commands = 1000, etrnd_max_session_time = 600s and
# etrnd_timeout = 300s; a setting the etrnd built does not know (checked
# with etrnd -t) is left out and named in the report.  The descriptor
# limit (ulimit -n) is raised in this shell before the sandbox starts
# etrnd, so that its listener and the client inherit it; the listener's
# limit is read back from /proc and reported.
#
# Environment: BENCH_CONNECTIONS (10000); BENCH_WINDOW (100) connects
# waiting for their greeting at most: below the listen backlog etrnd's
# listener has (libevent's default, 128, not the 1024 of main.c), for
# beyond it Linux drops the handshake's last ACK and may then forget a
# connection the client thinks open (a connection not greeted within
# 10 s is counted as an error and closed); BENCH_SOURCES (0: all from
# 127.0.0.1; N: bind connection i to 127.1.0.1 + i % N, for a listener
# that limits connections per client address); BENCH_HELD (20) messages
# held for dialup.test; BENCH_RUNNER (stop; "run" leaves the queue
# runner running: once it has released the mail, ETRNs get 251);
# BENCH_SETTLE (5) seconds; BENCH_TIMEOUT (120) seconds for the client;
# SB_PORT_BASE (6525: SMTP base..base+6, Redis base+100; on a busy port
# the bases +10, +20 ... are tried); OPENETRN_BUILDDIR (top of the tree)
# holds etrn-milter, etrnd/etrnd and bench/connclient (make builds it);
# BENCH_KEEP=1 keeps the work directory (sandbox, logs, the client's
# output, the VmRSS series, results).  The report (bench/report.py) also
# goes to bench/results/connscale-YYYYmmdd-HHMMSS.txt.  Under a minute.
# Exit 0 when the benchmark ran (targets met or not), 1 on errors.
set -eu -o pipefail

PROG=bench/connscale.sh
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
CONNECTIONS=${BENCH_CONNECTIONS:-10000}
WINDOW=${BENCH_WINDOW:-100}
SOURCES=${BENCH_SOURCES:-0}
HELD=${BENCH_HELD:-20}
RUNNER=${BENCH_RUNNER:-stop}
SETTLE=${BENCH_SETTLE:-5}
TIMEOUT=${BENCH_TIMEOUT:-120}
BASE=${SB_PORT_BASE:-6525}
SAMPLE=0.05		# seconds between two VmRSS samples
# shellcheck disable=SC2034 # (read by bench/report.py)
T_RATE=5000		# target: connections/s, at least
# shellcheck disable=SC2034 # (read by bench/report.py)
T_PEAK=64		# target: listener peak VmRSS, MiB, under
# shellcheck disable=SC2034 # (read by bench/report.py)
T_BACK=2		# target: VmRSS after - before, MiB, at most
RUNNER_STOPPED=
LPID=		# etrnd's listener

# Let etrnd's queue runner go on, if this script stopped it (also called
# by cleanup).
on_exit() {
	if [ -n "$RUNNER_STOPPED" ]; then
		kill -CONT "$RUNNER_STOPPED" 2>/dev/null || true
		RUNNER_STOPPED=
	fi
}

# Set SETTINGS to the etrnd settings of the bench that this etrnd knows
# (etrnd -t on each alone); the others go to R[unknown].
check_settings() {
	local max=$((CONNECTIONS * 2 > 20000 ? CONNECTIONS * 2 : 20000)) line
	((max > 100000)) && max=100000
	SETTINGS=
	R[unknown]=
	# etrnd -t checks the hold key too: one of its own in WORK.
	(umask 077 && head -c 32 /dev/urandom >"$WORK/probe.secret")
	while IFS= read -r line; do
		printf '%s\nhold_secret_file = %s\n' "$line" \
		    "$WORK/probe.secret" >"$WORK/probe.conf"
		if "$BUILD/etrnd/etrnd" -t -c "$WORK/probe.conf" \
		    >/dev/null 2>&1; then
			SETTINGS+=$line$'\n'
		else
			R[unknown]+="${R[unknown]:+, }${line%% *}"
		fi
	done <<EOF
etrnd_max_clients = $max
etrnd_max_per_client = 0
etrn_rate_limit = 100000
etrnd_max_commands = 1000
etrnd_max_session_time = 600s
etrnd_timeout = 300s
EOF
	rm -f "$WORK/probe.conf" "$WORK/probe.secret"
	case $SETTINGS in
	*etrnd_max_clients*) ;;
	*) die "$BUILD/etrnd/etrnd rejects etrnd_max_clients = $max" ;;
	esac
	[ -n "${R[unknown]}" ] &&
	    note "not known to this etrnd, left out: ${R[unknown]}"
	return 0
}

# Raise the descriptor limit of this shell (and so of the sandbox's etrnd
# and of the client) to CONNECTIONS + 1024.
raise_nofile() {
	local need=$((CONNECTIONS + 1024)) cur
	cur=$(ulimit -n)
	if [ "$cur" != unlimited ] && [ "$cur" -lt "$need" ]; then
		ulimit -n "$need" 2>/dev/null ||
		    ulimit -Sn "$(ulimit -Hn)" 2>/dev/null || true
	fi
	cur=$(ulimit -n)
	note "ulimit -n is $cur"
	[ "$cur" = unlimited ] || [ "$cur" -ge $((CONNECTIONS + 64)) ] ||
	    die "ulimit -n is $cur (hard $(ulimit -Hn)), too low for" \
	    "$CONNECTIONS connections"
}

# Print the number of open descriptors of process $1.
nfds() {
	find "/proc/$1/fd" -mindepth 1 -maxdepth 1 | wc -l
}

# Print the CPU seconds (user + system) used so far by process $1.
cpu_s() {
	awk -v hz="$(getconf CLK_TCK)" '{ sub(/.*\) /, "");
	    printf "%.2f", ($12 + $13) / hz }' "/proc/$1/stat"
}

# Print "soft hard" of process $1's descriptor limit.
nofile_of() {
	awk '/^Max open files/ { print $4, $5 }' "/proc/$1/limits"
}

# Hold HELD messages for dialup.test; the first ETRN then starts a flush.
hold_some() {
	local SESSIONS=5 SIZE=1024
	note "holding $HELD messages for dialup.test"
	hold_mail holding "$HELD" 60
	rcli DEL etrn:flushing:dialup.test >/dev/null
}

# Run the client with the sampler around it; the results go to R.
run_client() {
	local lpid=$1 c0 r0 t peak at_open samples interval
	R[rss_before]=$(vm "$lpid")
	R[hwm_before]=$(vm "$lpid" VmHWM)
	R[fds_before]=$(nfds "$lpid")
	c0=$(cpu_s "$lpid")
	r0=$(cpu_s "$REDIS_PID")
	"$PY" "$BENCH/rss-series.py" "$lpid" "$SAMPLE" "$WORK/rss.series" &
	SAMPLER_PID=$!
	if [ "$RUNNER" = stop ]; then
		kill -STOP "$ETRND_PID" || die "cannot stop etrnd's runner"
		RUNNER_STOPPED=$ETRND_PID
	fi
	sleep 0.3
	note "$CONNECTIONS connections to 127.0.0.1:$ETRND_PORT"
	local TIMEFORMAT='%R %U %S'
	{ time "$BUILD/bench/connclient" -n "$CONNECTIONS" -w "$WINDOW" \
	    -s "$SOURCES" -d dialup.test -H x -t "$TIMEOUT" 127.0.0.1 \
	    "$ETRND_PORT" >"$WORK/client.out" 2>"$WORK/client.err"; } \
	    2>"$WORK/client.time" || {
		cat "$WORK/client.err" >&2
		die "bench/connclient failed"
	}
	on_exit
	R[cpu_listener]=$(awk -v a="$c0" -v b="$(cpu_s "$lpid")" \
	    'BEGIN { printf "%.2f", b - a }')
	R[cpu_redis]=$(awk -v a="$r0" -v b="$(cpu_s "$REDIS_PID")" \
	    'BEGIN { printf "%.2f", b - a }')
	R[cpu_client]=$(awk '{ printf "%.2f", $2 + $3 }' "$WORK/client.time")
	note "client done; $SETTLE s for the listener to settle"
	sleep "$SETTLE"
	R[rss_after]=$(vm "$lpid")
	R[hwm_after]=$(vm "$lpid" VmHWM)
	R[fds_after]=$(nfds "$lpid")
	stop_sampler
	t=$(tr ' ' '\n' <"$WORK/client.out" | sed -n 's/^t_connected=//p')
	read -r peak at_open samples interval < <(awk \
	    -v t="${t:-0}" '{ if ($2 > p) p = $2; d = $1 - t; if (d < 0) d = -d
		if (n == 0 || d < best) { best = d; at = $2 }
		if (n == 0) first = $1; last = $1; n++ }
	    END { ms = 0; if (n > 1) ms = (last - first) * 1000 / (n - 1)
		printf "%d %d %d %.1f\n", p, at, n, ms }' \
	    "$WORK/rss.series")
	R[rss_peak]=$peak R[rss_at_open]=$at_open R[samples]=$samples
	R[interval]=$interval
}
# Check the user, the tools, the build and the settings.
check_args() {
	need_root
	need_tools smtp-source postfix redis-cli redis-server
	[ -n "$PY" ] || die "python3 not found"
	check_number "$CONNECTIONS" BENCH_CONNECTIONS
	check_number "$WINDOW" BENCH_WINDOW
	check_number "$SOURCES" BENCH_SOURCES zero
	check_number "$HELD" BENCH_HELD
	check_number "$SETTLE" BENCH_SETTLE
	check_number "$TIMEOUT" BENCH_TIMEOUT
	check_number "$BASE" SB_PORT_BASE
	case $RUNNER in
	stop | run) ;;
	*) die "BENCH_RUNNER must be stop or run, not \"$RUNNER\"" ;;
	esac
	need_built etrn-milter etrnd/etrnd bench/connclient
}

# Set LPID to etrnd's listener and R[nofile] to its descriptor limit.
find_listener() {
	LPID=$(listener_pid)
	[ -n "$LPID" ] || die "no etrnd listener (child of $ETRND_PID)"
	R[nofile]=$(nofile_of "$LPID")
	[ "${R[nofile]%% *}" = unlimited ] ||
	    [ "${R[nofile]%% *}" -ge $((CONNECTIONS + 64)) ] ||
	    note "etrnd's listener has a descriptor limit of ${R[nofile]}"
}

# After the client: the same listener?  A normal ETRN; refusals and
# pauses logged; this shell's descriptor limit (the client's).
check_after() {
	R[same_listener]=no
	[ "$(listener_pid)" = "$LPID" ] && R[same_listener]=yes
	R[etrn_after]=$(etrn "$ETRND_PORT" dialup.test)
	R[refused]=$(grep -c 'refused: too many' "$SBDIR/log/etrnd.log" ||
	    true)
	R[paused]=$(grep -c 'pausing the listener' "$SBDIR/log/etrnd.log" ||
	    true)
	R[ulimit]="$(ulimit -Sn) $(ulimit -Hn)"
}

# Main program.
main() {
	check_args
	raise_nofile
	make_work connscale
	check_settings
	start_sandbox SB_EXTRA_CONF="$SETTINGS"
	find_listener
	hold_some
	sleep 1
	run_client "$LPID"
	check_after
	save_report connscale "load redis" CONNECTIONS WINDOW SOURCES HELD \
	    RUNNER SETTINGS SETTLE T_RATE T_PEAK T_BACK WORK
}

main "$@"
