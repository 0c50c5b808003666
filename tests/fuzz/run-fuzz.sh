#!/bin/sh
# run-fuzz.sh - run libFuzzer targets for FUZZ_TIME seconds each (make fuzz)
#   run-fuzz.sh SRCDIR NAME:FUZZER:CORPUS:MAXLEN ...
# In the build directory.  Each fuzzer works on tests/fuzz/work/NAME, a
# copy of SRCDIR/CORPUS that keeps what earlier runs found: libFuzzer
# writes new inputs into its first corpus directory, never into the
# source tree.  Crash files go to tests/fuzz/artifacts/NAME/, the output
# to tests/fuzz/logs/NAME.log.  Prints one line per target,
#   fuzz: NAME: PASS (N runs)   or   fuzz: NAME: FAIL (N runs)
# the latter followed by the crash file and the end of the log.  Exit 1
# if any target failed.
set -u
srcdir=$1
shift
time=${FUZZ_TIME:-60}
[ "$time" -ge 1 ] 2>/dev/null || time=1
failed=0
mkdir -p tests/fuzz/logs
for spec in "$@"; do
	IFS=: read -r name fuzzer corpus maxlen <<SPEC
$spec
SPEC
	work=tests/fuzz/work/$name
	art=tests/fuzz/artifacts/$name
	log=tests/fuzz/logs/$name.log
	mkdir -p "$work" "$art"
	cp "$srcdir/$corpus"/* "$work"/
	before=$(ls "$art" | wc -l)
	"./$fuzzer" -max_total_time="$time" -max_len="$maxlen" \
	    -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
	    -artifact_prefix="$art/" "$work" >"$log" 2>&1
	rc=$?
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" |
	    tail -n 1)
	[ -n "$runs" ] || runs=$(sed -n 's/^#\([0-9][0-9]*\).*/\1/p' "$log" |
	    tail -n 1)
	cov=$(grep -o 'cov: [0-9]* ft: [0-9]*' "$log" | tail -n 1)
	if [ "$rc" = 0 ] && [ "$(ls "$art" | wc -l)" = "$before" ]; then
		echo "fuzz: $name: PASS (${runs:-0} runs)"
		echo "fuzz: $name: ${cov:-no coverage figures}," \
		    "$(ls "$work" | wc -l) inputs in $work"
		continue
	fi
	failed=1
	echo "fuzz: $name: FAIL (${runs:-0} runs, exit $rc)"
	for f in $(ls -t "$art" | head -n 3); do
		echo "fuzz: $name: crash file $(pwd)/$art/$f"
	done
	echo "fuzz: $name: replay: ./$fuzzer $(pwd)/$art/<file>; log $(pwd)/$log"
	grep -v '^#[0-9]' "$log" | tail -n 40 | sed "s/^/fuzz: $name: | /"
done
exit $failed
