#!/bin/bash
# bench/smtpc.sh - messages a second through smtpc: a new lock-step
# session a message (dsnsend today) against one persistent session,
# lock-step and pipelined, to smtp-sink and to a private Postfix smtpd
# (tests/lab/pflab.sh: its plain port, and its holding port as
# dsn_server).  As root, from the build directory:
#
#   bench/smtpc.sh [COUNT] [ROUNDS]      (default 2000 messages, 3 rounds)
#
# SESSIONS_ONLY=1 runs only the last part, several sessions at once.
set -u
SRC=$(cd "$(dirname "$0")/.." && pwd)
DRIVE=${BUILD:-.}/tests/unit/test_smtpc
. "$SRC/tests/lab/pflab.sh"
COUNT=${1:-2000}
ROUNDS=${2:-3}
DIR=$(mktemp -d /tmp/openetrn-smtpcb.XXXX)
chmod 755 "$DIR"
BASE=$((20000 + RANDOM % 20000))
/usr/sbin/smtp-sink -u nobody "127.0.0.1:$((BASE + 2))" 256 &
SINK_PID=$!
/usr/sbin/smtp-sink -u nobody "127.0.0.1:$((BASE + 3))" 256 &
SINK2_PID=$!
trap 'pflab_stop "$DIR"; kill $SINK_PID $SINK2_PID; rm -rf "$DIR"' EXIT
pflab_start "$DIR" "$BASE" "$((BASE + 1))" "$((BASE + 2))" || exit 1
sleep 1
targets=("sink $((BASE + 3))" "smtpd $BASE" "hold-smtpd $((BASE + 1))")
[ "${SESSIONS_ONLY:-0}" = 1 ] && targets=()
for target in "${targets[@]}"
do
	# shellcheck disable=SC2086
	set -- $target
	for mode in "-n -l" "-l" ""; do
		for r in $(seq "$ROUNDS"); do
			# shellcheck disable=SC2086
			line=$("$DRIVE" $mode -q -c "$COUNT" \
			    "inet:127.0.0.1:$2")
			echo "$1 opts='$mode' round=$r: $line"
		done
		postsuper -c "$DIR/etc" -d ALL >/dev/null 2>&1
	done
done
# Several persistent pipelined sessions at once (one smtpd and one
# cleanup each): the wall time for COUNT messages in all.
for par in 1 2 4 8; do
	t0=$(date +%s.%N)
	for _ in $(seq "$par"); do
		"$DRIVE" -q -c $((COUNT / par)) "inet:127.0.0.1:$((BASE + 1))" \
		    >/dev/null &
	done
	# shellcheck disable=SC2046
	wait $(jobs -p | grep -v -e "^$SINK_PID\$" -e "^$SINK2_PID\$")
	t1=$(date +%s.%N)
	printf 'hold-smtpd sessions=%s: %s messages in %.2f s, %.0f/s\n' \
	    "$par" "$COUNT" "$(echo "$t1 - $t0" | bc)" \
	    "$(echo "$COUNT / ($t1 - $t0)" | bc -l)"
	postsuper -c "$DIR/etc" -d ALL >/dev/null 2>&1
done
