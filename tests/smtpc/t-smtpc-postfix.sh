#!/bin/bash
# t-smtpc-postfix - smtpc_send() against a real Postfix smtpd
# (tests/lab/pflab.sh): 600 messages over one pipelined session, a sixth
# each accepted, refused at RCPT (554), accepted for one of two
# recipients, deferred at RCPT (450), refused at DATA (554), refused after
# the text (550); every outcome and RCPT code as expected, the session
# going on after each.  Replies are matched in order: the queue ID in the
# reply to message i is the one Postfix's cleanup logs with message i's
# Message-ID.  Ten messages to 150 recipients each (pipelined in groups
# of 64 commands), every RCPT accepted.  The same mix again in lock-step.
#
# Exit 77 (skipped) unless root with Postfix and smtp-sink installed.
set -u
. "${top_srcdir:-$(dirname "$0")/../..}/tests/lib/core.sh"
CORE_COUNT=1	# count failures and go on; the exit status says
SRC=${top_srcdir:-.}
DRIVE=${top_builddir:-.}/tests/unit/test_smtpc
SINK=/usr/sbin/smtp-sink
[ "$(id -u)" = 0 ] || skip "needs root"
for t in /usr/sbin/postfix "$SINK"; do
	[ -x "$t" ] || skip "no $t"
done
[ -x "$DRIVE" ] || die "no $DRIVE (build it)"
# shellcheck source=tests/lab/pflab.sh
. "$SRC/tests/lab/pflab.sh"
DIR=$(mktemp -d /tmp/openetrn-smtpc.XXXX)
chmod 755 "$DIR"
SINK_PID=

# Stop Postfix and the sink, remove DIR (kept with KEEP_SANDBOX=1).
# shellcheck disable=SC2317
cleanup() {
	pflab_stop "$DIR"
	[ -n "$SINK_PID" ] && kill "$SINK_PID" 2>/dev/null
	[ "${KEEP_SANDBOX:-0}" = 1 ] || rm -rf "$DIR"
}
trap cleanup EXIT

started=0
for _ in 1 2 3 4 5; do
	BASE=$((20000 + RANDOM % 20000))
	"$SINK" -u nobody "127.0.0.1:$((BASE + 2))" 64 2>/dev/null &
	SINK_PID=$!
	if pflab_start "$DIR" "$BASE" "$((BASE + 1))" "$((BASE + 2))" \
	    2>"$DIR/err"; then
		started=1
		break
	fi
	pflab_stop "$DIR"
	kill "$SINK_PID" 2>/dev/null
	SINK_PID=
done
[ $started = 1 ] || { cat "$DIR/err"; die "no Postfix"; }

out=$(timeout 60 "$DRIVE" -m mixed -c 600 -q -v "inet:127.0.0.1:$BASE")
sum=$(tail -n 1 <<<"$out")
case $sum in
*"sent=200 temp=100 perm=300 io=0 wrong=0 pipelining=1 "*)
	pass "pipelined mix: $sum" ;;
*)	fail "pipelined mix: $sum" ;;
esac
# Each accepted message's queue ID must be the one cleanup gave it.
sleep 1
grep -o '^[0-9]* 0 250 .*queued as [0-9A-F]*' <<<"$out" |
    sed 's/^\([0-9]*\) .* \([0-9A-F]*\)$/\2: message-id=<\1.drive@/' \
    >"$DIR/want"
n=$(wc -l <"$DIR/want")
m=$(grep -c -F -f "$DIR/want" "$DIR/maillog")
if [ "$n" = 200 ] && [ "$m" = 200 ]; then
	pass "200 replies matched to their messages in order"
else
	fail "$n queue IDs read, $m matched in the log"
fi
sum=$(timeout 60 "$DRIVE" -c 10 -R 150 -q "inet:127.0.0.1:$BASE")
case $sum in
*"sent=10 temp=0 perm=0 io=0 wrong=0 pipelining=1 "*)
	pass "150 recipients a message, each accepted: $sum" ;;
*)	fail "150 recipients a message: $sum" ;;
esac
sum=$(timeout 60 "$DRIVE" -m mixed -c 120 -q -l "inet:127.0.0.1:$BASE")
case $sum in
*"sent=40 temp=20 perm=60 io=0 wrong=0 pipelining=0 "*)
	pass "lock-step mix: $sum" ;;
*)	fail "lock-step mix: $sum" ;;
esac
[ "${nfail:-0}" = 0 ]
