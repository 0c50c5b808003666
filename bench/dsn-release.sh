#!/bin/bash
# bench/dsn-release.sh - how fast N held messages reach an SMTP sink after a
# release, for each way of releasing them (docs/dsn-release.md).
#
#   bench/dsn-release.sh N METHOD...     (as root; OPENETRN_BUILDDIR the
#                                         build, the source tree by default)
#
# A private Postfix (tests/lab/pflab.sh) relays to smtp-sink on
# 127.0.0.1.  For each METHOD, N messages are put on hold through the
# holding smtpd (tests/unit/test_smtpc, one pipelined session), and the
# time from the release to an empty queue is printed (the sink takes
# everything, so empty means delivered), with the queue IDs kept or not.
# Methods:
#   requeue     postsuper -r - hold; postkick public pickup W
#   flush       postsuper -H -; postqueue -f
#   each        postsuper -H -; postqueue -i ID, one per message
#   kick-I      postsuper -H -; postkick public qmgr I
#   kick-D      postsuper -H -; postkick public qmgr D
#   flushsvc    postsuper -H -; flush service send_file, one connection
#               a message (bench/flush-send.py)
# BACKLOG=M first puts M messages in the deferred queue, due in the
# future (their destination refuses them), as a busy queue would have.
# LIMIT (default 60) bounds each wait in seconds.
set -u
SRC=$(cd "$(dirname "$0")/.." && pwd)
. "$SRC/tests/lab/pflab.sh"
PROG=dsn-release
. "$SRC/bench/lib.sh"
WAIT_STEP=0.01	# the release is timed to 10 ms
N=$1
shift
LIMIT=${LIMIT:-60}
DIR=$(mktemp -d /tmp/openetrn-release.XXXX)
chmod 755 "$DIR"
BASE=$((20000 + RANDOM % 20000))
SMTP=$BASE HOLD=$((BASE + 1)) SINKP=$((BASE + 2))
Q=$DIR/spool
/usr/sbin/smtp-sink -u nobody "127.0.0.1:$SINKP" 256 &
SINK_PID=$!
trap 'pflab_stop "$DIR"; kill $SINK_PID; rm -rf "$DIR"' EXIT
pflab_start "$DIR" "$SMTP" "$HOLD" "$SINKP" || exit 1
# Refused for the backlog: a transport to a port that answers 450.
/usr/sbin/smtp-sink -u nobody -r MAIL "127.0.0.1:$((BASE + 3))" 64 &
SINK2_PID=$!
trap 'pflab_stop "$DIR"; kill $SINK_PID $SINK2_PID; rm -rf "$DIR"' EXIT
printf 'later.test smtp:[127.0.0.1]:%s\n' $((BASE + 3)) >"$DIR/etc/transport"
postconf -c "$DIR/etc" -e "transport_maps = texthash:$DIR/etc/transport" \
    "relay_domains = dialup.test, later.test"
postfix -c "$DIR/etc" reload >/dev/null 2>&1
sleep 1

# count QUEUE...: the files in those queues
count() {
	local d n=0
	for d in "$@"; do
		n=$((n + $(find "$Q/$d" -type f | wc -l)))
	done
	echo $n
}

live_empty() { [ "$(count incoming active deferred maildrop)" = \
    "${BACKLOG:-0}" ]; }
held_n() { [ "$(count hold)" = "$1" ]; }

if [ "${BACKLOG:-0}" -gt 0 ]; then
	# -m plain sends to ok@dialup.test; the backlog goes to later.test
	python3 - "$SMTP" "$BACKLOG" <<'EOP'
import smtplib, sys
s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]))
for i in range(int(sys.argv[2])):
    s.sendmail("b@lab.test", ["x@later.test"], b"Subject: backlog\r\n\r\nx\r\n")
s.quit()
EOP
	# shellcheck disable=SC2016
	wait_until 120 eval '[ "$(count deferred)" = "$BACKLOG" ]' ||
	    echo "backlog: $(count deferred) deferred of $BACKLOG"
fi

for m in "$@"; do
	"$BUILD/tests/unit/test_smtpc" -c "$N" -q \
	    "inet:127.0.0.1:$HOLD" >/dev/null || { echo "fill failed"; exit 1; }
	wait_until 60 held_n "$N" || { echo "only $(count hold) held"; exit 1; }
	find "$Q/hold" -type f -printf '%f\n' | sort >"$DIR/ids"
	t0=$(date +%s.%N)
	case $m in
	requeue)
		postsuper -c "$DIR/etc" -r - hold <"$DIR/ids" 2>/dev/null
		postkick -c "$DIR/etc" public pickup W ;;
	flush)
		postsuper -c "$DIR/etc" -H - <"$DIR/ids" 2>/dev/null
		postqueue -c "$DIR/etc" -f ;;
	each)
		postsuper -c "$DIR/etc" -H - <"$DIR/ids" 2>/dev/null
		while read -r id; do
			postqueue -c "$DIR/etc" -i "$id"
		done <"$DIR/ids" ;;
	kick-I)
		postsuper -c "$DIR/etc" -H - <"$DIR/ids" 2>/dev/null
		postkick -c "$DIR/etc" public qmgr I ;;
	kick-D)
		postsuper -c "$DIR/etc" -H - <"$DIR/ids" 2>/dev/null
		postkick -c "$DIR/etc" public qmgr D ;;
	flushsvc)
		postsuper -c "$DIR/etc" -H - <"$DIR/ids" 2>/dev/null
		python3 "$SRC/bench/flush-send.py" "$Q" <"$DIR/ids" ;;
	*) echo "unknown method $m"; exit 2 ;;
	esac
	t1=$(date +%s.%N)
	if wait_until "$LIMIT" live_empty; then
		t2=$(date +%s.%N)
		res=$(printf '%.2f s (release commands %.2f s)' \
		    "$(echo "$t2 - $t0" | bc)" "$(echo "$t1 - $t0" | bc)")
	else
		res="not delivered within $LIMIT s: $(count deferred) deferred"
		postsuper -c "$DIR/etc" -d ALL deferred 2>/dev/null
		[ "${BACKLOG:-0}" -gt 0 ] && { echo "backlog lost"; exit 1; }
	fi
	kept=$(grep -c -F -f "$DIR/ids" <(grep 'status=sent' "$DIR/maillog"))
	echo "N=$N method=$m backlog=${BACKLOG:-0}: $res; delivered with" \
	    "the same queue ID: $kept"
	: >"$DIR/maillog"
done
