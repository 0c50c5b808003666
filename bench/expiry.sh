#!/bin/bash
# bench/expiry.sh - expiry benchmark: etrnd returning held mail at its
# deadline against Postfix bouncing expired deferred mail (run as root,
# Debian 12).
#
# Starts one sandbox (contrib/sandbox: SB_ETRND=1, etrn-milter) and, in
# that one Postfix, returns N 1 KiB messages to their sender (smtp-source's
# one sender, sender@example.org: N DSNs to one address, delivered to the
# sandbox's internet sink) in two ways:
#   (1) etrnd: N messages for dialup.test are held (hold queue + Redis
#       index) with etrn:domain:dialup.test hold_time 1d, warn_time 0; one
#       Lua script sets the score of every entry of etrn:expiry:<host> to
#       0 (all N due at once); timed from that script until (a) the hold
#       queue is empty (every queue file deleted), (b) all N DSNs are
#       handed to delivery (N "released from hold" lines of postsuper in
#       Postfix's log for the DSNs the sandbox's dsn_server held, or N
#       "from=<>" pickup lines with SB_DSN_SERVER=none: sendmail) and at
#       the internet sink, (c) the Redis
#       index (etrn:held:dialup.test, etrn:expiry:<host>) is empty;
#       etrn:stats:dialup.test expired must then have grown by N;
#   (2) Postfix: N messages for defer.test (not a dial-up domain: the
#       milter passes it), whose transport is a closed loopback port (the
#       sandbox's unused policy port), wait in the deferred queue; then
#       maximal_queue_lifetime = bounce_queue_lifetime = 1s (postconf -e,
#       postfix reload), timed from "postqueue -f" until the deferred
#       queue is empty, every original is removed and its bounce (null
#       sender) created, and all N bounces are at the internet sink;
#   (3) the ratios etrnd/Postfix for "all DSNs submitted and all files
#       gone" and for "all DSNs at the sink" (no target: information);
#   (4) memory with N held, before the expiry: Redis used_memory (INFO
#       memory) against the sandbox before any mail, bytes per held
#       message, and the RSS of etrnd's runner and listener.
# One run, (1) before (2); sending the mail is not timed.  Queue, sink and
# index are polled every 0.1 s (file counts; smtp-sink writes one file per
# message): times are good to about 0.1 s.  etrnd's log and Postfix's
# maillog are time-stamped as written; etrnd's runner is sampled every
# 10 ms (the command it waits for, or on the CPU) to show where its time
# goes.
#
# etrnd works on at most EXP_BATCH (etrnd/expire.c) due messages per
# sweep, stage by stage for the whole batch: one Redis script per stage
# (records read, held -> expiring, DSNs sending / queued / sent / none,
# records removed), the held files' headers read by one pfqfile reader
# process per sweep (postcat only for a file it doubts), the DSNs
# submitted by SMTP to the sandbox's holding dsn_server over up to
# DSN_SESSIONS (etrnd/dsnsend.h) sessions at once (sendmail per DSN with
# SB_DSN_SERVER=none), released with one postsuper -H and one postkick
# (queue IDs kept), the originals deleted with one postsuper -d, and the
# queue directories read three times per sweep.
# With fewer than 10,000 messages the report extrapolates to 10,000 from
# the measured sweeps (sweeps of EXP_BATCH messages at the measured time
# per message, each followed by a gap of the measured ratio of gap to
# sweep).
#
# Environment: BENCH_MESSAGES (10000) messages per case; BENCH_SESSIONS
# (10) smtp-source -s; BENCH_SIZE (1024) payload bytes; SB_PORT_BASE
# (8525: SMTP base..base+5, Redis base+100; on a busy port the bases +10,
# +20 ... are tried); OPENETRN_BUILDDIR (top of the tree) holds
# etrn-milter and etrnd/etrnd; BENCH_KEEP=1 keeps the work directory
# (sandbox, logs, time series series-*, runner samples, results).  The
# report (bench/report.py) also goes to bench/results/expiry-YYYYmmdd-
# HHMMSS.txt.  About 8 minutes with the defaults on 2 CPUs (sending
# 20,000 messages included), longer on a busy machine (etrnd's sweeps are
# CPU-bound).  Exit 0 when the benchmark ran, 1 on errors.
set -eu -o pipefail

PROG=bench/expiry.sh
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
MESSAGES=${BENCH_MESSAGES:-10000}
SESSIONS=${BENCH_SESSIONS:-10}
SIZE=${BENCH_SIZE:-1024}
BASE=${SB_PORT_BASE:-8525}
# shellcheck disable=SC2034 # (read by bench/report.py)
EXTRAPOLATE=10000	# messages the etrnd figures are extrapolated to
POLL=0.1		# seconds between two looks at queue, sink and index
SAMPLE=0.01		# seconds between two looks at etrnd's runner
# Due messages etrnd works on per sweep (for the extrapolation).
EXP_BATCH=$(sed -n 's/^#define EXP_BATCH[[:space:]]*\([0-9]*\).*/\1/p' \
    "$TOP/etrnd/expire.c" 2>/dev/null || true)
EXP_BATCH=${EXP_BATCH:-500}

# Configure the sandbox: a long hold time for dialup.test, no delay
# warning; mail for defer.test to the closed policy port.
setup() {
	local maps defer_map
	rcli HSET etrn:domain:dialup.test hold_time 1d warn_time 0 \
	    >/dev/null || die "cannot set dialup.test's hold time"
	[ -z "$(ss -Hltn "sport = :$POLICY_PORT" 2>/dev/null)" ] ||
	    die "port $POLICY_PORT is in use: it must be closed"
	maps=$(postconf -c "$PF_CONF" -h transport_maps)
	defer_map="inline:{ defer.test=smtp:[127.0.0.1]:$POLICY_PORT }"
	postconf -c "$PF_CONF" -e "transport_maps = $maps, $defer_map" ||
	    die "postconf -e failed"
	postfix_reload
	sleep 2		# the milter reads the domain entries every second
	[ "$(postmap -c "$PF_CONF" -q defer.test "$defer_map")" = \
	    "smtp:[127.0.0.1]:$POLICY_PORT" ] ||
	    die "transport for defer.test not set"
	R[interval]=$(run_interval)
}

# Print the number of files below the internet sink that match regular
# expression $1 (grep -E).
sink_count() {
	find "$SINK_DIR_INTERNET" -type f -print0 |
	    xargs -0 -r grep -lE -e "$1" | wc -l
}

# Set R[$1_first], R[$1_last], R[$1_count] from log_times $2 $3 $4.
put_log() {
	local f l c
	read -r f l c < <(log_times "$2" "$3" "$4")
	R[$1_first]=$f R[$1_last]=$l R[$1_count]=$c
}

# (1) etrnd: hold N messages, make them all due, time the expiry.
bench_etrnd() {
	local n=$MESSAGES t0 t1 timeout cpu0 expired0 got ts=$WORK/etrnd-ts.log
	R[mem_base]=$(redis_mem used_memory)
	R[rss_base]=$(etrnd_rss)
	note "(1) etrnd: holding $n messages for dialup.test"
	find "$SINK_DIR_INTERNET" -type f -delete
	hold_mail "(1)" "$n" $((60 + n / 100)) "etrn:expiry:$HOST"
	R[accept_etrnd]=$ACCEPTED
	[ "$(queue_count hold)" = "$n" ] ||
	    die "(1): postqueue -j does not list $n held messages"
	got=$(rcli ZRANGEBYSCORE "etrn:expiry:$HOST" \
	    -inf "$(($(date +%s) + 80000))" | grep -c . || true)
	[ "$got" = 0 ] ||
	    die "(1): $got messages expire within a day: hold_time 1d not used"
	sleep 2
	if ! files_are "$PF_SPOOL/hold" "$n" ||
	    ! files_are "$SINK_DIR_INTERNET" 0; then
		die "(1): held mail left the hold queue or a DSN went out early"
	fi
	R[listing]=$(time_listing)
	R[mem_held]=$(redis_mem used_memory)
	R[rss_held]=$(etrnd_rss)
	expired0=$(stat_field dialup.test expired)
	note "(1) $n held and indexed; making them all due at once"

	start_tslog "$SBDIR/log/etrnd.log" "$ts"
	start_tslog "$PF_LOG" "$WORK/maillog-ts-etrnd"
	"$PY" "$BENCH/prof.py" "$ETRND_PID" "$(listener_pid)" "$SAMPLE" \
	    "$WORK/samples-etrnd" >"$WORK/prof.out" 2>&1 &
	PROF_PID=$!
	timeout=$((900 + n / 2))
	start_poller "$WORK/series-etrnd" "$timeout" \
	    "hold:le:0:dir:$PF_SPOOL/hold" \
	    "sink:ge:$n:dir:$SINK_DIR_INTERNET" \
	    "held:le:0:zcard:$REDIS_SOCK:etrn:held:dialup.test" \
	    "due:le:0:zcard:$REDIS_SOCK:etrn:expiry:$HOST"
	cpu0=$(cpu_now "$SINK_INTERNET_PID")
	t0=$EPOCHREALTIME
	got=$(all_due)
	t1=$EPOCHREALTIME
	R[t_due]=$(delta "$t0" "$t1")
	if [ "$got" != "$n" ]; then
		kill_poller
		die "(1): $got entries made due, expected $n"
	fi
	note "(1) $n due; waiting (at most $timeout s)"
	finish_poller "$WORK/series-etrnd" ||
	    die "(1): not done after $timeout s: hold ${P[last_hold]:-?}," \
	    "sink ${P[last_sink]:-?}, index ${P[last_held]:-?}," \
	    "due ${P[last_due]:-?}"
	put_cpu etrnd "$cpu0" "$(cpu_now "$SINK_INTERNET_PID")"
	sleep 1.5	# the last log lines
	stop_tslog
	R[etrnd_first_gone]=$(delta "$t0" "${P[first_hold]}")
	R[etrnd_gone]=$(delta "$t0" "${P[done_hold]}")
	R[etrnd_first_sink]=$(delta "$t0" "${P[first_sink]}")
	R[etrnd_sink]=$(delta "$t0" "${P[done_sink]}")
	R[etrnd_index]=$(later "$(delta "$t0" "${P[done_held]}")" \
	    "$(delta "$t0" "${P[done_due]}")")
	put_log etrnd_submit '( uid=[0-9]+ from=<>|: released from hold)$' \
	    "$t0" "$WORK/maillog-ts-etrnd"
	put_log etrnd_removed 'postfix/postsuper.*: removed$' "$t0" \
	    "$WORK/maillog-ts-etrnd"
	R[etrnd_done]=$(later "${R[etrnd_gone]}" "${R[etrnd_submit_last]}")
	put_log etrnd_log ': expired domain=dialup.test' "$t0" "$ts"
	R[etrnd_dsn_sent]=$(grep -c ': expired domain=.* dsn=sent$' "$ts" ||
	    true)
	R[etrnd_warnings]=$(grep -c 'warning:' "$ts" || true)
	R[etrnd_bursts]=$(awk '/: expired domain=/ {
			if (!n || $1 - last > 1) size[++n] = 0
			size[n]++; last = $1
		}
		END {
			printf "%d", n
			for (i = 1; i <= n; i++) printf " %d", size[i]
			print ""
		}' "$ts")
	R[etrnd_expired]=$(($(stat_field dialup.test expired) - expired0))
	R[etrnd_sink_auto]=$(sink_count '^Auto-Submitted: auto-replied')
	R[etrnd_sink_ours]=$(sink_count '^Message-ID: <expired\.')
	R[etrnd_sink_null]=$(sink_count '^X-Mail-Args: <>')
	R[mem_after]=$(redis_mem used_memory)
	R[rss_after]=$(etrnd_rss)
	R[held_after]=$(zcard etrn:held:dialup.test)
	R[due_after]=$(zcard "etrn:expiry:$HOST")
	R[msgkeys_after]=$(rcli --scan --pattern "etrn:msg:$HOST:*" | wc -l)
	note "(1) files gone ${R[etrnd_gone]} s, DSNs submitted" \
	    "${R[etrnd_submit_last]} s, at the sink ${R[etrnd_sink]} s," \
	    "index empty ${R[etrnd_index]} s"
}

# (2) Postfix: defer N messages for defer.test, expire them, time it.
bench_postfix() {
	local n=$MESSAGES t0 timeout cpu0 f l c ts=$WORK/maillog-ts-postfix
	note "(2) Postfix: deferring $n messages for defer.test"
	find "$SINK_DIR_INTERNET" -type f -delete
	defer_mail "(2)" "$n" rcpt@defer.test
	R[accept_postfix]=$ACCEPTED
	find "$PF_SPOOL/deferred" -type f -printf '%f\n' >"$WORK/originals"
	note "(2) $n deferred; maximal_queue_lifetime = bounce_queue_lifetime" \
	    "= 1s, reload"
	postconf -c "$PF_CONF" -e "maximal_queue_lifetime = 1s" \
	    "bounce_queue_lifetime = 1s" || die "postconf -e failed"
	postfix_reload
	sleep 2
	if ! files_are "$SINK_DIR_INTERNET" 0 || ! all_deferred "$n"; then
		die "(2): deferred mail bounced or left before postqueue -f"
	fi

	start_tslog "$PF_LOG" "$ts"
	timeout=$((120 + n / 20))
	start_poller "$WORK/series-postfix" "$timeout" \
	    "deferred:le:0:dir:$PF_SPOOL/deferred" \
	    "sink:ge:$n:dir:$SINK_DIR_INTERNET"
	cpu0=$(cpu_now "$SINK_INTERNET_PID")
	t0=$EPOCHREALTIME
	postqueue -c "$PF_CONF" -f || {
		kill_poller
		die "(2): postqueue -f failed"
	}
	note "(2) postqueue -f done; waiting (at most $timeout s)"
	finish_poller "$WORK/series-postfix" ||
	    die "(2): not done after $timeout s: deferred" \
	    "${P[last_deferred]:-?}, sink ${P[last_sink]:-?}"
	put_cpu postfix "$cpu0" "$(cpu_now "$SINK_INTERNET_PID")"
	wait_until 30 all_deferred 0 || note "(2) the queue is not empty"
	sleep 1.5	# the last log lines
	stop_tslog
	R[postfix_first_out]=$(delta "$t0" "${P[first_deferred]}")
	R[postfix_deferred]=$(delta "$t0" "${P[done_deferred]}")
	R[postfix_first_sink]=$(delta "$t0" "${P[first_sink]}")
	R[postfix_sink]=$(delta "$t0" "${P[done_sink]}")
	put_log postfix_bounce 'sender non-delivery notification' "$t0" "$ts"
	read -r f l c < <(awk -v t0="$t0" '
		NR == FNR { id[$1]; next }
		$NF == "removed" {
			q = $(NF - 1); sub(/:$/, "", q)
			if (q in id) { if (!n++) f = $1; l = $1 }
		}
		END {
			if (n) printf "%.3f %.3f %d\n", f - t0, l - t0, n
			else print "- - 0"
		}' "$WORK/originals" "$ts")
	R[postfix_removed]=$l
	R[postfix_removed_count]=$c
	R[postfix_done]=$(later "${R[postfix_bounce_last]}" \
	    "${R[postfix_removed]}")
	R[postfix_sink_auto]=$(sink_count '^Auto-Submitted: auto-replied')
	R[postfix_sink_null]=$(sink_count '^X-Mail-Args: <>')
	R[postfix_sink_subject]=$(sink_count \
	    '^Subject: Undelivered Mail Returned to Sender')
	note "(2) deferred queue empty ${R[postfix_deferred]} s, bounces" \
	    "created ${R[postfix_bounce_last]} s, at the sink" \
	    "${R[postfix_sink]} s"
}

# Check the user, the tools, the build and the settings.
check_args() {
	need_root
	need_tools smtp-source postqueue postsuper postconf postmap postfix \
	    redis-cli redis-server ss
	[ -n "$PY" ] || die "python3 not found"
	check_number "$MESSAGES" BENCH_MESSAGES
	check_number "$SESSIONS" BENCH_SESSIONS
	check_number "$SIZE" BENCH_SIZE
	check_number "$BASE" SB_PORT_BASE
	need_built etrn-milter etrnd/etrnd
	[ -r "/proc/$$/task/$$/children" ] ||
	    die "no /proc/PID/task/TID/children (kernel without" \
	    "CONFIG_PROC_CHILDREN)"
}

# Main program.
main() {
	check_args
	make_work expiry
	start_sandbox SB_EXTRA_MAIN_CF="$SLOW_RETRY"
	setup
	bench_etrnd
	bench_postfix
	save_report expiry "load-end postfix redis" MESSAGES SIZE SESSIONS POLL \
	    HOST SAMPLE EXTRAPOLATE EXP_BATCH BENCH WORK
}

main "$@"
