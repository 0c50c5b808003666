#!/bin/bash
# t-smtpc-sink - smtpc_send() against Postfix's smtp-sink on 127.0.0.1:
# 1,000 messages over one pipelined session, each accepted; 200
# recipients a message (pipelined in groups of 64 commands); a server
# without PIPELINING served in lock-step; a server that refuses MAIL, RCPT,
# DATA or the text every time (smtp-sink -f/-r) gives each message its
# 4xx/5xx and the session carries on; a server that ends the session
# mid-way (smtp-sink -M) or stops answering (-W DATA:30 against a 2 s
# timeout) gives an I/O error within bounded time, no hang.
#
# Exit 77 (skipped) without /usr/sbin/smtp-sink.
set -u
. "${top_srcdir:-$(dirname "$0")/../..}/tests/lib/core.sh"
CORE_COUNT=1	# count failures and go on; the exit status says
SINK=${SMTP_SINK:-/usr/sbin/smtp-sink}
DRIVE=${top_builddir:-.}/tests/unit/test_smtpc
[ -x "$SINK" ] || skip "no $SINK"
[ -x "$DRIVE" ] || die "no $DRIVE (build it)"
SINK_USER=
[ "$(id -u)" = 0 ] && SINK_USER="-u nobody"
SINK_PID=

# Stop the sink started last, by its process ID.
stop_sink() {
	if [ -n "$SINK_PID" ]; then
		kill "$SINK_PID" 2>/dev/null
		wait "$SINK_PID" 2>/dev/null
	fi
	SINK_PID=
}
trap stop_sink EXIT

# Start smtp-sink with options $@ on a free loopback port; sets PORT.
start_sink() {
	local _
	stop_sink
	for _ in 1 2 3 4 5 6 7 8; do
		PORT=$(free_port)
		# shellcheck disable=SC2086
		"$SINK" $SINK_USER "$@" "127.0.0.1:$PORT" 64 2>/dev/null &
		SINK_PID=$!
		for _ in 1 2 3 4 5 6 7 8 9 10; do
			if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null
			then
				return 0
			fi
			kill -0 "$SINK_PID" 2>/dev/null || break
			sleep 0.1
		done
		stop_sink
	done
	die "smtp-sink did not start"
}

# expect NAME WANT [DRIVE-OPTIONS...]: run the driver (20 s at most) and
# compare the fields named in WANT ("sent=1000 io=0 ...") with its line.
expect() {
	local name=$1 want=$2 got f
	shift 2
	got=$(timeout 20 "$DRIVE" "$@" "inet:127.0.0.1:$PORT" 2>/dev/null)
	for f in $want; do
		case " $got " in
		*" $f "*) ;;
		*)
			fail "$name: want $f in: $got"
			return
			;;
		esac
	done
	pass "$name: $got"
}

start_sink
expect "1000 messages, one pipelined session" \
    "sent=1000 temp=0 perm=0 io=0 wrong=0 pipelining=1" -c 1000 -q
expect "200 recipients a message: groups of 64 commands" \
    "sent=20 io=0 wrong=0 pipelining=1" -c 20 -R 200 -q
start_sink -p
expect "no PIPELINING: lock-step" \
    "sent=200 io=0 wrong=0 pipelining=0" -c 200 -q
start_sink -f RCPT
expect "every RCPT refused (5xx), session goes on" \
    "sent=0 perm=50 io=0 wrong=0" -c 50 -e perm -q
start_sink -r MAIL
expect "every MAIL refused (4xx), session goes on" \
    "sent=0 temp=50 io=0 wrong=0" -c 50 -e temp -q
start_sink -f DATA
expect "every DATA refused (5xx), RSET, session goes on" \
    "sent=0 perm=50 io=0 wrong=0" -c 50 -e perm -q
start_sink -r .
expect "every text refused (4xx), session goes on" \
    "sent=0 temp=50 io=0 wrong=0" -c 50 -e temp -q
start_sink -M 30
# smtp-sink exits on the 30th message, before or after its reply.
expect "server gone after 30 messages: I/O error" "io=1" -c 100
start_sink -W DATA:30
start=$SECONDS
expect "server silent after DATA: I/O error after the timeout" \
    "sent=0 io=1" -c 10 -t 2
[ $((SECONDS - start)) -le 10 ] || {
	fail "the silent server held the client $((SECONDS - start)) s"
}
[ "${nfail:-0}" = 0 ]
