#!/bin/bash
# bench/milter.sh - milter throughput benchmark (run as root, Debian 12).
#
# Starts three sandboxes (contrib/sandbox) side by side - no milter,
# noop-milter, etrn-milter - and sends mail with smtp-source to each,
# interleaving the cases run by run so that drift hits them alike:
#   (a) no milter                 rcpt@example.com -> internet sink
#   (b) noop-milter               rcpt@example.com -> internet sink
#   (c) etrn-milter, not dial-up  rcpt@example.com -> internet sink
#   (d) etrn-milter, dial-up      rcpt@dialup.test -> hold queue
# It reports accepted msgs/s (how fast smtp-source got its mail in) and,
# for (a)-(c), end-to-end msgs/s (until the last message reached the sink),
# each the median of BENCH_RUNS runs (the order of the cases rotates from
# run to run), and checks the project's targets on the accepted rates:
# (c)/(b) >= 0.95 and (d)/(a) >= 0.70.  noop-milter asks for every milter
# step (body included), so it is a conservative baseline.
#
# Environment: BENCH_MESSAGES (2000) and BENCH_SESSIONS (10): smtp-source
# -m and -s; BENCH_SIZE (1024) payload bytes; BENCH_RUNS (5); SB_PORT_BASE
# (4625; the sandboxes use base, base+10, base+20 and +100 for redis);
# OPENETRN_BUILDDIR (top of the tree) holds etrn-milter and
# bench/noop-milter (compiled on the fly when missing); BENCH_KEEP=1 keeps
# the sandboxes' directory.  The report also goes to
# bench/results/milter-YYYYmmdd-HHMMSS.txt.  Exit 0 when the benchmark ran
# (targets missed or not), 1 on errors.
set -eu -o pipefail

PROG=bench/milter.sh
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
MESSAGES=${BENCH_MESSAGES:-2000}
SESSIONS=${BENCH_SESSIONS:-10}
SIZE=${BENCH_SIZE:-1024}
RUNS=${BENCH_RUNS:-5}
BASE=${SB_PORT_BASE:-4625}
declare -A SB_OF=() RESULT=()	# sandbox by kind; results by case

# Print the path of a noop-milter binary, compiling one if not built.
find_noop_milter() {
	if [ -x "$BUILD/bench/noop-milter" ]; then
		echo "$BUILD"
		return
	fi
	note "no $BUILD/bench/noop-milter: compiling one in $WORK/build"
	mkdir -p "$WORK/build/bench"
	# shellcheck disable=SC2046
	cc -std=c99 -O2 $(pkg-config --cflags milter) -pthread \
	    -o "$WORK/build/bench/noop-milter" "$TOP/bench/noop-milter.c" \
	    $(pkg-config --libs milter 2>/dev/null || echo -lmilter) \
	    -pthread >&2 || die "cannot compile bench/noop-milter.c"
	echo "$WORK/build"
}

# Start sandbox KIND ($1: none|noop|etrn) on port base $2, builddir $3.
milter_sandbox() {
	local dir=$WORK/$1
	note "starting sandbox $1 on port base $2"
	SANDBOXES="$SANDBOXES $dir"
	SB_OF[$1]=$dir
	if ! SB_MILTER=$1 SB_PORT_BASE=$2 OPENETRN_BUILDDIR=$3 \
	    SB_MILTER_VERBOSE=${BENCH_VERBOSE:-no} \
	    "$SANDBOX" start "$dir" >"$WORK/start-$1.log" 2>&1; then
		cat "$WORK/start-$1.log" >&2
		die "sandbox $1 did not start"
	fi
}

# Wait until directory $1 holds $2 files, at most $3 seconds; print the time.
wait_files() {
	local deadline
	# printf: mawk prints numbers with %.6g (1.79591e+09 for a time).
	deadline=$(awk -v t="$EPOCHREALTIME" -v d="$3" \
	    'BEGIN { printf "%.3f", t + d }')
	while [ "$(count_files "$1")" -lt "$2" ]; do
		if awk -v t="$EPOCHREALTIME" -v d="$deadline" \
		    'BEGIN { exit !(t > d) }'; then
			return 1
		fi
		sleep 0.05
	done
	echo "$EPOCHREALTIME"
}

# Print N / (T1 - T0) for N=$1, T0=$2, T1=$3.
rate() {
	awk -v n="$1" -v a="$2" -v b="$3" 'BEGIN { printf "%.1f", n / (b - a) }'
}

# Print redis's keys (sandbox loaded), sorted.
redis_keys() {
	rcli --scan | sort
}

# Run case $1 (a|b|c|d) once with $2 messages; unless $3 is "warm-up",
# append "accepted/end-to-end" to RESULT[$1].
run_case() {
	local c=$1 count=$2 kind rcpt=rcpt@example.com t0 t2 acc e2e=- n
	case $c in
	a) kind=none ;;
	b) kind=noop ;;
	c) kind=etrn ;;
	d) kind=etrn rcpt=rcpt@dialup.test ;;
	esac
	# shellcheck disable=SC1091
	. "${SB_OF[$kind]}/env"
	find "$SINK_DIR_INTERNET" "$SINK_DIR_CUSTOMER" -type f -delete
	local keys_before=$WORK/keys.before
	[ "$c" = d ] && redis_keys >"$keys_before"
	source_mail "$count" "$rcpt"
	t0=$SOURCE_T0
	acc=$(rate "$count" "$t0" "$SOURCE_T1")
	if [ "$c" != d ]; then
		t2=$(wait_files "$SINK_DIR_INTERNET" "$count" \
		    $((60 + count / 20))) ||
		    die "case ($c): only $(count_files "$SINK_DIR_INTERNET")" \
		    "of $count messages reached the sink; see $PF_LOG"
		e2e=$(rate "$count" "$t0" "$t2")
	else
		# Quarantine happens at end of message: all should be there.
		wait_files "$PF_SPOOL/hold" "$count" 30 >/dev/null || true
		n=$(queue_count hold)
		[ "$n" = "$count" ] ||
		    die "case (d): $n messages in hold, expected $count"
		files_are "$SINK_DIR_CUSTOMER" 0 ||
		    die "case (d): mail for dialup.test was delivered"
		postsuper -c "$PF_CONF" -d ALL hold >/dev/null 2>&1 ||
		    die "case (d): postsuper -d ALL hold failed"
		sleep 0.5	# let the milter finish its redis writes
		redis_keys | comm -13 "$keys_before" - |
		    xargs -r -n 500 redis-cli -s "$REDIS_SOCK" DEL >/dev/null
	fi
	if [ "${3:-}" = warm-up ]; then
		note "warm-up ($c) done"
		return
	fi
	note "run $RUN case ($c): accepted $acc msgs/s, end-to-end $e2e msgs/s"
	RESULT[$c]="${RESULT[$c]:-} $acc/$e2e"
}

# Print the median of the accepted ($2=1) or e2e ($2=2) figures of case $1.
case_median() {
	local v
	for v in ${RESULT[$1]:-}; do
		if [ "$2" = 1 ]; then echo "${v%/*}"; else echo "${v#*/}"; fi
	done | grep -v '^-$' | median_of 1
}

# Print "ratio verdict" for $1 / $2 against target $3.
target_ratio() {
	awk -v a="$1" -v b="$2" -v t="$3" 'BEGIN {
		if (a == "-" || b == "-" || b == 0) { print "n/a n/a"; exit }
		r = a / b
		printf "%.3f %s\n", r, (r >= t ? "PASS" : "MISS")
	}'
}

# Print the report.
report() {
	local c label r v
	echo "openetrn milter benchmark, $(date '+%Y-%m-%d %H:%M:%S %Z')"
	versions postfix redis
	echo "smtp-source -m $MESSAGES -s $SESSIONS -l $SIZE;" \
	    "median of $RUNS runs; milter on a unix socket;" \
	    "etrn-milter verbose=${BENCH_VERBOSE:-no}"
	echo
	printf '%-34s %18s %18s\n' case "accepted msgs/s" "end-to-end msgs/s"
	for c in a b c d; do
		case $c in
		a) label="(a) no milter" ;;
		b) label="(b) noop-milter" ;;
		c) label="(c) etrn-milter, not dial-up" ;;
		d) label="(d) etrn-milter, held (dial-up)" ;;
		esac
		printf '%-34s %18s %18s\n' "$label" "$(case_median $c 1)" \
		    "$(case_median $c 2)"
	done
	echo
	r=$(target_ratio "$(case_median c 1)" "$(case_median b 1)" 0.95)
	printf '%-34s %8s   target >= 0.95  %s\n' "(c)/(b) accepted" \
	    "${r% *}" "${r#* }"
	r=$(target_ratio "$(case_median d 1)" "$(case_median a 1)" 0.70)
	printf '%-34s %8s   target >= 0.70  %s\n' "(d)/(a) accepted" \
	    "${r% *}" "${r#* }"
	r=$(target_ratio "$(case_median c 2)" "$(case_median b 2)" 0)
	printf '%-34s %8s   (information)\n' "(c)/(b) end-to-end" "${r% *}"
	echo
	echo "all runs (accepted/end-to-end):"
	for c in a b c d; do
		v=${RESULT[$c]:-}
		echo "  ($c)${v:- not run}"
	done
	[ -n "${ETRN_MISSING:-}" ] && echo "note: $ETRN_MISSING"
	return 0
}

# Main program.
main() {
	local noop_build cases="a b c d" c i n order
	need_root
	need_tools smtp-source postqueue postsuper postconf redis-cli
	check_number "$MESSAGES" BENCH_MESSAGES
	check_number "$SESSIONS" BENCH_SESSIONS
	check_number "$SIZE" BENCH_SIZE
	check_number "$RUNS" BENCH_RUNS
	check_number "$BASE" SB_PORT_BASE
	make_work bench
	noop_build=$(find_noop_milter)
	ETRN_MISSING=
	if [ ! -x "$BUILD/etrn-milter" ]; then
		ETRN_MISSING="$BUILD/etrn-milter not built: cases (c), (d) skipped"
		note "$ETRN_MISSING"
		cases="a b"
	fi
	milter_sandbox none "$BASE" "$BUILD"
	milter_sandbox noop $((BASE + 10)) "$noop_build"
	[ -z "$ETRN_MISSING" ] && milter_sandbox etrn $((BASE + 20)) "$BUILD"
	for c in $cases; do
		run_case "$c" $((SESSIONS * 3)) warm-up
	done
	# Rotate the order of the cases from run to run.
	read -r -a order <<<"$cases"
	n=${#order[@]}
	for ((RUN = 1; RUN <= RUNS; RUN++)); do
		for ((i = 0; i < n; i++)); do
			run_case "${order[(i + RUN - 1) % n]}" "$MESSAGES"
		done
	done
	save_report milter
}

main "$@"
