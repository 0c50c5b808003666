#!/bin/bash
# t-etrn-multi - two MX hosts (two private Postfix instances, each with
# etrn-milter and etrnd) share one Redis: ETRN to one releases the mail
# held on both; an etrnd that was down catches up when it comes back.
set -eu
. "${top_srcdir:-$(dirname "$0")/../..}/tests/lib/sandbox.sh"
sb_init multi
SB_ETRND=1 SB_EXTRA_CONF="flush_lock_time = 1s" sb_start
. "$SB_SRCDIR/tests/lib/common.sh"

B=$(mktemp -d "${TMPDIR:-/tmp}/openetrn-test.multi-b.XXXX")
chmod 755 "$B"
b_etrnd=
stop_b() {
	[ -n "$b_etrnd" ] && kill "$b_etrnd" 2>/dev/null && wait "$b_etrnd" 2>/dev/null
	"$SB_SANDBOX" stop "$B" >/dev/null 2>&1 || true
	[ "${KEEP_SANDBOX:-0}" = 1 ] || rm -rf "$B"
}
trap 'rc=$?; set +e; [ $rc = 0 ] || sb_log_tail "$B/log/etrnd.log" 30; stop_b; sb_cleanup $rc' EXIT
# B's ports: the unused ports above A's redis port (see sb_port_base).
b_smtp=$((REDIS_PORT + 1))
SMTP_PORT=$b_smtp SINK_PORT=$((b_smtp + 1)) REINJECT_PORT=$((b_smtp + 2)) \
    CUSTOMER_PORT=$((b_smtp + 3)) ETRND_PORT=$((b_smtp + 4)) \
    POLICY_PORT=$((b_smtp + 5)) DSN_PORT=$((b_smtp + 6)) \
    REDIS_PORT=$((b_smtp + 7)) \
    SB_REDIS_SOCK=$REDIS_SOCK SB_HOSTNAME=mx2.lab.test \
    SB_ETRND=1 SB_EXTRA_CONF="flush_lock_time = 1s" \
    "$SB_SANDBOX" start "$B" > "$B.start.log" 2>&1 || { cat "$B.start.log"; fail "second MX"; }
rm -f "$B.start.log"
b_sink() { find "$B/sink/customer" -type f | wc -l; }

for i in 1 2; do sb_swaks -f s@example.org -t "a$i@dialup.test" >/dev/null || fail swaks; done
for i in 1 2 3; do
	swaks --server 127.0.0.1 --port "$b_smtp" --silent 2 -f s@example.org \
	    -t "b$i@dialup.test" >/dev/null || fail "swaks to B"
done
wait_for 10 redis_is 5 ZCARD etrn:held:dialup.test || fail "not 5 held"
[ "$(sb_redis ZRANGE etrn:held:dialup.test 0 -1 | grep -c '^mx2.lab.test:')" = 3 ] ||
    fail "B's members"
out=$(etrn dialup.test)
[ "$out" = "253 OK, 5 pending messages for node dialup.test started" ] || fail "$out"
wait_for 20 sink_is customer 2 || fail "A's customer: $(sb_sink_count customer)"
wait_for 20 sh -c "[ \$(find '$B/sink/customer' -type f | wc -l) = 3 ]" ||
    fail "B's customer: $(b_sink)"
wait_for 10 redis_is 0 ZCARD etrn:held:dialup.test || fail "index not empty"
redis_is 5 HGET etrn:stats:dialup.test flushed || fail "flushed 5"
pass "ETRN at one MX released the mail held on both (2 + 3)"

# Mail is held on B (and counted by B's etrnd: a record counts only once
# its host's etrnd has seen the message on hold); B's etrnd goes down;
# ETRN at A; B comes back.
swaks --server 127.0.0.1 --port "$b_smtp" --silent 2 -f s@example.org \
    -t late@dialup.test >/dev/null || fail "swaks to B"
wait_for 10 redis_is 1 ZCARD etrn:held:dialup.test || fail "late not held"
b_pid=$(. "$B/env" && echo "$ETRND_PID")
kill "$b_pid"
wait_for 15 sh -c "! kill -0 $b_pid" || fail "B's etrnd did not stop"
sleep 1.5
out=$(etrn dialup.test)
[ "$out" = "253 OK, 1 pending message for node dialup.test started" ] || fail "$out"
sleep 3
[ "$(b_sink)" = 3 ] || fail "released while B's etrnd was down"
"$OPENETRN_BUILDDIR/etrnd/etrnd" -f -c "$B/etc/openetrn.conf" >> "$B/log/etrnd.log" 2>&1 &
b_etrnd=$!
wait_for 20 sh -c "[ \$(find '$B/sink/customer' -type f | wc -l) = 4 ]" ||
    fail "B did not catch up: $(b_sink)"
wait_for 10 redis_is 0 ZCARD etrn:held:dialup.test || fail "index"
pass "an etrnd that was down caught up with the flush it missed"
