# shellcheck shell=bash
# tests/faults/lib.sh - helpers of the fault-injection tests; source it
# after tests/lib/sandbox.sh, tests/lib/common.sh and sb_start.
#
#   sendmany ARGS...     tests/faults/sendmany.py to the sandbox smtpd
#   progress LOG         how many messages sendmany has finished
#   ledger ARGS... LOG.. tests/faults/ledger.py (accounting by X-Test-Id)
#   etrn ARG...          tests/lib/etrn.py to etrnd's listener
#   ctl ARGS...          etrnctl on the sandbox's configuration
#   redis_kill           SIGKILL the sandbox's Redis and wait until it is gone
#   redis_back           start it again on its AOF, wait for PING
#   logged N FILE PAT    FILE has at least N lines matching grep -E PAT
#   slow_customer SECS   customer sink answering DATA after SECS; stop_customer
#   mta_wrappers         failing or slow postsuper/postqueue (before sb_start)

FT_DIR=$SB_SRCDIR/tests/faults

sendmany() {
	python3 "$FT_DIR/sendmany.py" --port "$SMTP_PORT" "$@"
}

progress() {
	local n=0
	[ -s "$1.progress" ] && read -r n <"$1.progress"
	echo "${n:-0}"
}

ledger() {
	python3 "$FT_DIR/ledger.py" "$@"
}

etrn() {
	python3 "$SB_SRCDIR/tests/lib/etrn.py" "$ETRND_PORT" "$@"
}

ctl() {
	"$OPENETRN_BUILDDIR/etrnd/etrnctl" -c "$OPENETRN_CONF" "$@"
}

redis_kill() {
	local pid=$REDIS_PID
	kill -9 "$pid" || fail "cannot kill redis $pid"
	sb_wait_for 10 sh -c "! kill -0 $pid" || fail "redis $pid survived"
}

redis_back() {
	"$SB_SANDBOX" redis-start "$SB" >/dev/null || fail "redis-start"
	# shellcheck disable=SC1091
	. "$SB/env"
	sb_wait_for 10 redis_is PONG PING || fail "redis does not answer"
}

logged() {
	[ "$(grep -Ec -- "$3" "$2" 2>/dev/null || true)" -ge "$1" ]
}

# slow_customer SECS - replace the customer sink by one that waits SECS
# before answering each DATA (same port and directory), so that a flush
# is still going on when a fault is injected.  Stopped by stop_customer.
slow_customer() {
	kill "$SINK_CUSTOMER_PID" 2>/dev/null || true
	sb_wait_for 10 sh -c "! kill -0 $SINK_CUSTOMER_PID 2>/dev/null" ||
	    fail "customer sink still runs"
	/usr/sbin/smtp-sink -u postfix -4 -c -h customer.sink.test -w "$1" \
	    -d "$SINK_DIR_CUSTOMER/%Y%m%d%H/%M%S." "127.0.0.1:$CUSTOMER_PORT" \
	    256 >>"$SB/log/sink-customer.log" 2>&1 &
	SINK_CUSTOMER_PID=$!
	FT_SINK_PID=$!
	sb_wait_for 10 eval "ss -Hltn 'sport = :$CUSTOMER_PORT' | grep -q ." ||
	    fail "slow customer sink does not listen"
}

# stop_customer - stop slow_customer's sink (for EXIT traps)
stop_customer() {
	[ -n "${FT_SINK_PID:-}" ] || return 0
	# Called from EXIT traps under set -e: nothing here may fail.
	kill "$FT_SINK_PID" 2>/dev/null || true
	wait "$FT_SINK_PID" 2>/dev/null || true
	FT_SINK_PID=
	return 0
}

# mta_wrappers - before sb_start: make $SB/bin, a postfix_command_directory
# whose postsuper and postqueue log each call to $SB/mta-calls.log and
#   exit 75 while $SB/CMD.fail exists (CMD: postsuper or postqueue);
#   postsuper -H: sleep 5 s after the real command while
#   $SB/postsuper.slow exists, having created $SB/postsuper.done;
#   sleep 5 s before it while $SB/postsuper.slowpre exists, having
#   created $SB/postsuper.before;
# the other Postfix commands are links to the real ones.  Use it with
# SB_EXTRA_CONF="postfix_command_directory = $SB/bin".
mta_wrappers() {
	local c bin=$SB/bin
	mkdir -p "$bin"
	for c in postconf postcat postkick sendmail postdrop; do
		ln -sf "/usr/sbin/$c" "$bin/$c"
	done
	for c in postsuper postqueue; do
		cat >"$bin/$c" <<EOW
#!/bin/sh
if [ -e "$SB/$c.fail" ]; then
	echo "\$(date +%s) $c \$* FAILED" >>"$SB/mta-calls.log"
	echo "$c: fatal: simulated failure" >&2
	exit 75
fi
echo "\$(date +%s) $c \$*" >>"$SB/mta-calls.log"
case " \$* " in
*" -H "*)
	if [ -e "$SB/$c.slowpre" ]; then
		touch "$SB/$c.before"
		sleep 5
	fi
	if [ -e "$SB/$c.slow" ]; then
		/usr/sbin/$c "\$@"
		rc=\$?
		touch "$SB/$c.done"
		sleep 5
		exit \$rc
	fi
	;;
esac
exec /usr/sbin/$c "\$@"
EOW
		chmod 755 "$bin/$c"
	done
}
