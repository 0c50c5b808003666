#!/bin/bash
# bench/all.sh - run every benchmark one after another (run as root,
# Debian 12): bench/milter.sh, bench/flush.sh, bench/expiry.sh,
# bench/memory.sh, bench/connscale.sh, bench/sendmail.sh.  Prints each benchmark's report
# as it finishes and, at the end, a summary table of the main figures and
# ratios taken from those reports.  Each benchmark starts and stops its
# own sandbox on its own ports (milter 4625, flush 5525, expiry 8525,
# memory 7525, connscale 6525, sendmail 8785), so they never overlap.
#
# Environment:
#   BENCH_ONLY            the benchmarks to run, in order (default
#                         "milter flush expiry memory connscale sendmail")
#   BENCH_QUICK=1         small sizes for a quick run (a few minutes):
#                         milter 500 messages x 2 runs, flush 1,000 x 1 run
#                         and 100 connections, expiry 1,000, memory 5,000,
#                         connscale 1,000 connections, sendmail 1,000
#   BENCH_MILTER_MESSAGES, BENCH_FLUSH_MESSAGES, BENCH_EXPIRY_MESSAGES,
#   BENCH_MEMORY_MESSAGES, BENCH_SENDMAIL_MESSAGES  the number of messages
#                         of each (default: the benchmark's own: 2,000,
#                         10,000, 10,000, 100,000, 1,000)
#   BENCH_RUNS            runs of bench/milter.sh and bench/flush.sh (5)
#   BENCH_CONNECTIONS     concurrent ETRN connections of bench/flush.sh
#                         (1000)
#   BENCH_CONNSCALE_CONNECTIONS  connections of bench/connscale.sh (10000)
#   BENCH_AFTER           flush|expiry after bench/memory.sh's intake
#                         (flush)
#   OPENETRN_BUILDDIR     the build (top of the tree by default)
# Other BENCH_* settings (BENCH_SESSIONS, BENCH_SIZE, BENCH_KEEP) reach
# every benchmark.  With the defaults it takes 35 to 45 minutes on 2 CPUs.
# The whole output also goes to bench/results/all-YYYYmmdd-HHMMSS.txt.
# Exit 0 when every benchmark ran, 1 if any failed.
set -eu -o pipefail

PROG=bench/all.sh
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
ONLY=${BENCH_ONLY:-milter flush expiry memory connscale sendmail}
declare -A OUT=() STATUS=() SECS=() N=()

# Set the sizes: BENCH_QUICK's, then the per-benchmark variables.
set_sizes() {
	local -A m=()
	local r='' f='' c='' s=''
	if [ "${BENCH_QUICK:-0}" = 1 ]; then
		m=([milter]=500 [flush]=1000 [expiry]=1000 [memory]=5000)
		r=2 f=1 c=100 s=1000
	fi
	N[milter]=${BENCH_MILTER_MESSAGES:-${m[milter]:-}}
	N[flush]=${BENCH_FLUSH_MESSAGES:-${m[flush]:-}}
	N[expiry]=${BENCH_EXPIRY_MESSAGES:-${m[expiry]:-}}
	N[memory]=${BENCH_MEMORY_MESSAGES:-${m[memory]:-}}
	N[sendmail]=${BENCH_SENDMAIL_MESSAGES:-}
	N[connscale]=	# connections, not messages: CONNSCALE
	RUNS=${BENCH_RUNS:-$r}
	FLUSH_RUNS=${BENCH_RUNS:-${f:-$r}}
	CONNECTIONS=${BENCH_CONNECTIONS:-$c}
	CONNSCALE=${BENCH_CONNSCALE_CONNECTIONS:-$s}
}

# Run benchmark $1 with its sizes; its report goes to $WORK/$1.out.
run_one() {
	local b=$1 t0 rc=0
	local -a env=(-u BENCH_MESSAGES -u BENCH_RUNS -u BENCH_CONNECTIONS)
	if [ -n "${N[$b]}" ]; then
		env+=("BENCH_MESSAGES=${N[$b]}")
	fi
	if [ "$b" = milter ] && [ -n "$RUNS" ]; then
		env+=("BENCH_RUNS=$RUNS")
	fi
	if [ "$b" = flush ] && [ -n "$FLUSH_RUNS" ]; then
		env+=("BENCH_RUNS=$FLUSH_RUNS")
	fi
	if [ "$b" = flush ] && [ -n "$CONNECTIONS" ]; then
		env+=("BENCH_CONNECTIONS=$CONNECTIONS")
	fi
	if [ "$b" = connscale ] && [ -n "$CONNSCALE" ]; then
		env+=("BENCH_CONNECTIONS=$CONNSCALE")
	fi
	note "running bench/$b.sh${N[$b]:+ with $((N[$b])) messages}"
	t0=$SECONDS
	env "${env[@]}" "$TOP/bench/$b.sh" >"$WORK/$b.out" || rc=$?
	SECS[$b]=$((SECONDS - t0))
	STATUS[$b]=$rc
	OUT[$b]=$WORK/$b.out
	echo "==== bench/$b.sh (exit $rc, ${SECS[$b]} s) ===="
	cat "$WORK/$b.out"
	echo
	note "bench/$b.sh done (exit $rc, ${SECS[$b]} s)"
}

# Print field $3 (1 = first) after the label $2 at the start of a line of
# the report of benchmark $1 (leading blanks ignored); "-" if none.
fig() {
	local f=${OUT[$1]:-}
	if [ -z "$f" ] || [ ! -s "$f" ]; then
		echo -
		return
	fi
	awk -v l="$2" -v n="$3" '
		{ s = $0; sub(/^ +/, "", s) }
		index(s, l) == 1 {
			k = split(substr(s, length(l) + 1), a, " +")
			i = 0
			for (j = 1; j <= k; j++) {
				if (a[j] == "") continue
				if (++i == n) { v = a[j]; break }
			}
			found = 1
			exit
		}
		END { print (found && v != "" ? v : "-") }' "$f"
}

# Print one summary row: benchmark, what, value, note.
srow() {
	printf '%-9s %-52s %12s  %s\n' "$1" "$2" "$3" "${4:-}"
}

# Print the summary table.
summary() {
	local b
	echo "==== summary ===="
	echo "openetrn benchmarks, $(date '+%Y-%m-%d %H:%M:%S %Z'),"\
	    "$(versions load-end)"
	srow bench figure value note
	for b in $ONLY; do
		if [ "${STATUS[$b]:-x}" != 0 ]; then
			srow "$b" "did not complete" "-" \
			    "exit ${STATUS[$b]:-not run}"
			continue
		fi
		case $b in
		milter) summary_milter ;;
		flush) summary_flush ;;
		expiry) summary_expiry ;;
		memory) summary_memory ;;
		connscale) summary_connscale ;;
		sendmail) summary_sendmail ;;
		esac
		srow "$b" "wall time of the benchmark (s)" "${SECS[$b]}"
	done
}

summary_milter() {
	srow milter "(a) no milter, accepted msgs/s" \
	    "$(fig milter '(a) no milter' 1)" \
	    "end-to-end $(fig milter '(a) no milter' 2)"
	srow milter "(b) noop-milter, accepted msgs/s" \
	    "$(fig milter '(b) noop-milter' 1)" \
	    "end-to-end $(fig milter '(b) noop-milter' 2)"
	srow milter "(c) etrn-milter, not dial-up, accepted msgs/s" \
	    "$(fig milter '(c) etrn-milter, not dial-up' 1)" \
	    "end-to-end $(fig milter '(c) etrn-milter, not dial-up' 2)"
	srow milter "(d) etrn-milter, held, accepted msgs/s" \
	    "$(fig milter '(d) etrn-milter, held (dial-up)' 1)"
	srow milter "ratio (c)/(b) accepted" \
	    "$(fig milter '(c)/(b) accepted' 1)" \
	    "target >= 0.95 $(fig milter '(c)/(b) accepted' 5)"
	srow milter "ratio (d)/(a) accepted" \
	    "$(fig milter '(d)/(a) accepted' 1)" \
	    "target >= 0.70 $(fig milter '(d)/(a) accepted' 5)"
}

summary_flush() {
	local n
	n=$(awk 'NR == 3 { print $1 }' "${OUT[flush]}")
	srow flush "etrnd: ETRN to all $n delivered (median s)" \
	    "$(fig flush 'etrnd: (b) all delivered to the sink' 1)" \
	    "$(fig flush 'etrnd: (b) all delivered to the sink' 2) msgs/s"
	srow flush "etrnd: hold queue empty (median s)" \
	    "$(fig flush 'etrnd: (a) all released (hold queue empty)' 1)"
	srow flush "Postfix fast flush: all $n delivered (median s)" \
	    "$(fig flush 'Postfix: all delivered to the sink' 1)" \
	    "$(fig flush 'Postfix: all delivered to the sink' 2) msgs/s"
	srow flush "ratio etrnd/Postfix, ETRN to all delivered" \
	    "$(fig flush 'etrnd (b) / Postfix, ETRN to all delivered' 1)" \
	    "target <= 1.00 $(fig flush \
	    'etrnd (b) / Postfix, ETRN to all delivered' 5)"
	srow flush "concurrent ETRN connections, connections/s" \
	    "$(fig flush 'wall time' 3)" "wall $(fig flush 'wall time' 1) s"
}

summary_expiry() {
	local n
	n=$(awk 'NR == 3 { print $1 }' "${OUT[expiry]}")
	srow expiry "etrnd: all $n queue files deleted (s)" \
	    "$(fig expiry 'etrnd: (a) all queue files deleted (hold empty)' 1)" \
	    "$(fig expiry 'etrnd: (a) all queue files deleted (hold empty)' 2) msgs/s"
	srow expiry "etrnd: all $n DSNs at the sink (s)" \
	    "$(fig expiry 'etrnd: (b) all DSNs at the internet sink' 1)" \
	    "$(fig expiry 'etrnd: (b) all DSNs at the internet sink' 2) msgs/s"
	srow expiry "Postfix: all $n bounces at the sink (s)" \
	    "$(fig expiry 'Postfix: all bounces at the internet sink' 1)" \
	    "$(fig expiry 'Postfix: all bounces at the internet sink' 2) msgs/s"
	srow expiry "ratio etrnd/Postfix, all DSNs at the sink" \
	    "$(fig expiry 'etrnd / Postfix, all DSNs at the sink' 1)"
	srow expiry "ratio etrnd/Postfix, DSNs out and files gone" \
	    "$(fig expiry 'etrnd / Postfix, DSNs submitted and files gone' 1)"
}

summary_memory() {
	local n
	n=$(awk 'NR == 3 { print $1 }' "${OUT[memory]}")
	srow memory "etrnd runner VmRSS, $n held (KiB)" \
	    "$(fig memory 'etrnd runner VmRSS' 2)" \
	    "no mail $(fig memory 'etrnd runner VmRSS' 1)"
	srow memory "etrnd listener VmRSS, $n held (KiB)" \
	    "$(fig memory 'etrnd listener VmRSS' 2)" \
	    "no mail $(fig memory 'etrnd listener VmRSS' 1)"
	srow memory "etrnd runner VmHWM after the release (KiB)" \
	    "$(fig memory 'etrnd runner VmHWM (peak)' 4)"
	srow memory "etrn-milter VmRSS, $n held (KiB)" \
	    "$(fig memory 'etrn-milter VmRSS' 2)" \
	    "peak $(fig memory 'etrn-milter VmHWM (peak)' 2)"
	srow memory "Redis used_memory per held message (bytes)" \
	    "$(fig memory 'per held message: used_memory' 1 | tr -d +)" \
	    "dataset $(fig memory 'per held message: used_memory' 4 | tr -d +)"
	srow memory "Redis used_memory with $n held (bytes)" \
	    "$(fig memory 'used_memory (bytes)' 2)" \
	    "$(fig memory 'DBSIZE (keys)' 2) keys"
	srow memory "release of all $n (s)" \
	    "$(sed -n 's/^\(flush\|expiry\) of all [0-9]*: \([0-9.]*\) s.*/\2/p' \
	    "${OUT[memory]}")"
}

summary_connscale() {
	local n
	n=$(awk 'NR == 3 { print $1 }' "${OUT[connscale]}")
	srow connscale "$n connections: completed dialogues/s, whole run" \
	    "$(fig connscale '(a) completed dialogues/s, whole run' 1)" \
	    "target >= 5000 $(fig connscale \
	    '(a) completed dialogues/s, whole run' 6)"
	srow connscale "connections/s, connect phase (all open at once)" \
	    "$(fig connscale '(a) connections/s, connect phase' 1)" \
	    "target >= 5000 $(fig connscale \
	    '(a) connections/s, connect phase' 6)"
	srow connscale "ETRN sent to reply, p50 / p99 (ms)" \
	    "$(fig connscale 'ETRN sent to reply p50 / p99 / max' 1)" \
	    "p99 $(fig connscale 'ETRN sent to reply p50 / p99 / max' 3)"
	srow connscale "listener peak VmRSS (MiB)" \
	    "$(fig connscale '(b) listener peak VmRSS, MiB' 1)" \
	    "target < 64 $(fig connscale '(b) listener peak VmRSS, MiB' 6)"
	srow connscale "listener VmRSS after - before (MiB)" \
	    "$(fig connscale '(c) listener VmRSS after - before, MiB' 1)" \
	    "target <= 2 $(fig connscale \
	    '(c) listener VmRSS after - before, MiB' 6)"
}

summary_sendmail() {
	srow sendmail "Sendmail: ETRN to all delivered (s)" \
	    "$(fig sendmail '(b) all at the customer sink' 1)" \
	    "$(fig sendmail '(b) all at the customer sink' 2) msgs/s"
	srow sendmail "Sendmail: expiry, all DSNs at the sink (s)" \
	    "$(fig sendmail '(b) all DSNs at the internet sink' 1)" \
	    "$(fig sendmail '(b) all DSNs at the internet sink' 2) msgs/s"
	srow sendmail "Sendmail: etrnd runner CPU, flush / expiry (ms/msg)" \
	    "$(fig sendmail 'cpu flush' 7)" "$(fig sendmail 'cpu expiry' 7)"
}

# Main program.
main() {
	local b
	need_root
	for b in $ONLY; do
		case $b in
		milter | flush | expiry | memory | connscale | sendmail) ;;
		*) die "unknown benchmark \"$b\" in BENCH_ONLY" ;;
		esac
		[ -x "$TOP/bench/$b.sh" ] || die "no $TOP/bench/$b.sh"
	done
	set_sizes
	for b in milter flush expiry memory sendmail; do
		case ${N[$b]} in
		'' | [1-9] | [1-9]*[0-9]) ;;
		*) die "the number of messages for $b must be a positive" \
		    "integer, not \"${N[$b]}\"" ;;
		esac
	done
	case $CONNSCALE in
	'' | [1-9] | [1-9]*[0-9]) ;;
	*) die "BENCH_CONNSCALE_CONNECTIONS must be a positive integer," \
	    "not \"$CONNSCALE\"" ;;
	esac
	make_work all
	mkdir -p "$TOP/bench/results"
	local out failed=0
	out=$TOP/bench/results/all-$(date +%Y%m%d-%H%M%S).txt
	{
		echo "openetrn: all benchmarks, started $(date \
		    '+%Y-%m-%d %H:%M:%S %Z'), load $(cut -d' ' -f1-3 \
		    /proc/loadavg)"
		echo
		for b in $ONLY; do
			run_one "$b"
		done
		summary
	} | tee "$out"
	for b in $ONLY; do
		[ "$(awk -v b="$b" '$1 == "====" && $2 == "bench/" b ".sh" {
		    sub(/,.*/, "", $4); print $4 }' "$out")" = 0 ] || failed=1
	done
	note "output written to $out"
	return $failed
}

main "$@"
