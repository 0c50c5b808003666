#!/bin/bash
# t-load - sustained intake through Postfix's smtpd for LOAD_SECONDS
# (default 180) at a steady LOAD_RATE (default 20 msgs/s) from
# LOAD_SENDERS (default 4) concurrent SMTP clients (tests/load/loadgen.py),
# while etrnd runs: every LOAD_ETRN_EVERY seconds (default 10) an ETRN
# (tests/lib/etrn.py) for dialup.test and for a.dialup.test flushes their
# held mail to the customer sink; dialup2.test has a 5-second hold time,
# so its mail expires and is returned to its sender with a DSN all along;
# dialup3.test is never asked for and stays held; mail for example.com
# goes to the internet sink.  Every message has its own id (sender
# s-ID@example.org, Message-ID <ID@load.test>, X-Load-Id: ID).  Then the
# queue drains and tests/load/loadcheck.py finds every accepted message
# exactly once: at the internet sink, at the customer sink (flushed), on
# hold and indexed in Redis, or returned with exactly one DSN to its
# sender naming it; it fails on a missing or duplicate message, a wrong
# outcome, or counters that disagree.  The daemons must still run and
# must not have logged a sanitizer report.  Throughput is printed, not
# asserted.
set -eu
. "${top_srcdir:-$(dirname "$0")/../..}/tests/lib/sandbox.sh"
LOAD_SECONDS=${LOAD_SECONDS:-180}
LOAD_RATE=${LOAD_RATE:-20}
LOAD_SENDERS=${LOAD_SENDERS:-4}
LOAD_ETRN_EVERY=${LOAD_ETRN_EVERY:-10}
EXPIRE_HOLD=5
sb_init load
SB_ETRND=1 SB_EXTRA_CONF="flush_lock_time = 1s
etrn_rate_limit = 100000" sb_start
. "$SB_SRCDIR/tests/lib/common.sh"
here=$SB_SRCDIR/tests/load
etrn_pid=
gen_pid=
stop_bg() {
	local p
	for p in $gen_pid $etrn_pid; do
		kill "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	gen_pid=''
	etrn_pid=''
}
trap 'rc=$?; stop_bg; sb_cleanup $rc' EXIT

# Ask etrnd every LOAD_ETRN_EVERY seconds until $SB/load.done exists.
etrn_loop() {
	local d out
	while [ ! -e "$SB/load.done" ]; do
		sleep "$LOAD_ETRN_EVERY"
		for d in dialup.test a.dialup.test; do
			out=$(python3 "$SB_SRCDIR/tests/lib/etrn.py" \
			    "$ETRND_PORT" "$d") || true
			printf '%s %s %s\n' "$(date +%s)" "$d" "$out" \
			    >>"$SB/etrn.log"
		done
	done
}

# Print the number of files in the queues that must be empty at the end.
in_flight() {
	find "$PF_SPOOL/incoming" "$PF_SPOOL/active" "$PF_SPOOL/deferred" \
	    "$PF_SPOOL/maildrop" -type f | wc -l
}

# Succeed when nothing moves any more: no mail in flight, nothing left
# to expire or to follow, and each file on hold indexed.
settled() {
	local held=0 d
	[ "$(in_flight)" = 0 ] || return 1
	redis_is 0 ZCARD etrn:held:dialup2.test || return 1
	redis_is 0 ZCARD etrn:released:mx.lab.test || return 1
	for d in dialup.test a.dialup.test dialup3.test; do
		held=$((held + $(sb_redis ZCARD "etrn:held:$d")))
	done
	[ "$(find "$PF_SPOOL/hold" -type f | wc -l)" = "$held" ]
}

settled_twice() {
	settled && sleep 1 && settled
}

sb_redis SADD etrn:domains dialup3.test >/dev/null
sb_redis HSET etrn:domain:dialup2.test hold_time "$EXPIRE_HOLD" \
    warn_time 0 >/dev/null
sleep 2		# domain_refresh = 1s: the milter sees dialup3.test

: >"$SB/etrn.log"
etrn_loop &
etrn_pid=$!
echo "load: $LOAD_SECONDS s at $LOAD_RATE msgs/s from $LOAD_SENDERS" \
    "senders; ETRN every $LOAD_ETRN_EVERY s"
t0=$(date +%s)
python3 "$here/loadgen.py" --port "$SMTP_PORT" --seconds "$LOAD_SECONDS" \
    --rate "$LOAD_RATE" --senders "$LOAD_SENDERS" --out "$SB/accepted" \
    --mix "normal=rcpt-ID@example.com:8,flush=u-ID@dialup.test:4,flush=u-ID@a.dialup.test:2,held=u-ID@dialup3.test:2,expire=u-ID@dialup2.test:4" \
    >"$SB/loadgen.out" &
gen_pid=$!
rc=0
wait "$gen_pid" || rc=$?
gen_pid=
cat "$SB/loadgen.out"
[ "$rc" = 0 ] || fail "some messages were never accepted (loadgen exit $rc)"
touch "$SB/load.done"
wait "$etrn_pid" || true
etrn_pid=
accepted=$(wc -l <"$SB/accepted")
[ "$accepted" -gt 0 ] || fail "nothing accepted"
pass "$accepted messages accepted in $(($(date +%s) - t0)) s"

bad=$(grep -v -E '^[0-9]+ [a-z.]+ 25[0-3] ' "$SB/etrn.log" || true)
[ -z "$bad" ] || fail "ETRN replies: $bad"
for d in dialup.test a.dialup.test; do
	n=$(grep -c -E "^[0-9]+ $d 253 " "$SB/etrn.log" || true)
	[ "$n" -gt 0 ] || fail "no ETRN for $d released anything"
	echo "ETRN $d: $(grep -c " $d " "$SB/etrn.log") sent, $n released mail"
done

t1=$(date +%s)
wait_for 300 settled_twice ||
    fail "the queue did not drain: $(in_flight) in flight," \
    "$(sb_redis ZCARD etrn:held:dialup2.test) to expire," \
    "$(sb_redis ZCARD etrn:released:mx.lab.test) released"
pass "drained $(($(date +%s) - t1)) s after the load"

python3 "$here/loadcheck.py" --accepted "$SB/accepted" \
    --hold "$PF_SPOOL/hold" --internet "$SINK_DIR_INTERNET" \
    --customer "$SINK_DIR_CUSTOMER" --redis "$REDIS_SOCK" \
    --host mx.lab.test \
    --expect normal=internet,flush=customer+held,held=held,expire=bounced ||
    fail "some messages are missing, duplicated or in the wrong place"
pass "every message accounted for exactly once"

for p in "$MILTER_PID" "$ETRND_PID"; do
	kill -0 "$p" 2>/dev/null || fail "process $p died"
done
if grep -l -E 'AddressSanitizer|LeakSanitizer|runtime error:' \
    "$SB"/log/*.log; then
	fail "sanitizer report in a log"
fi
pass "etrn-milter and etrnd still run; no sanitizer report"
