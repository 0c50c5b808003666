#!/bin/bash
# t-runner - etrnd's queue runner against a private Postfix: a flush
# releases this host's held mail for the domain named (never for its
# subdomains, even from an entry with sub 1), tracking removes the records of delivered mail and counts them,
# stale records are left to expiry, a second flush releases nothing, the loop
# serves the flush stream (new and pending entries), a partly delivered
# message goes back on hold with the delivered recipient dropped, and a
# message the customer did not take goes back on hold with its deadline,
# and released mail still queued after release_timeout is held again.
# Each step checks the Postfix queue and Redis.
#
# The driver is tests/etrnd/runner-test (env RUNNER_TEST overrides).
# Postfix's periodic deferred-queue scan is pushed out of the way
# (queue_run_delay) so that only the runner moves mail: a release
# schedules its messages itself (postqueue -i).
set -eu
. "${top_srcdir:-$(dirname "$0")/../..}/tests/lib/sandbox.sh"
sb_init runner
SB_EXTRA_MAIN_CF='queue_run_delay = 3600s' sb_start
. "$SB_SRCDIR/tests/lib/common.sh"

RUNNER_TEST=${RUNNER_TEST:-$OPENETRN_BUILDDIR/tests/etrnd/runner-test}
[ -x "$RUNNER_TEST" ] || fail "no runner driver $RUNNER_TEST (build it)"
H=mx.lab.test
RLOG=$SB/log/runner.log
LAST=$SB/log/runner-last.log

# Print the runner log, then fail.
rfail() {
	sb_log_tail "$RLOG" 60
	fail "$@"
}

# Run the driver with ARGS; its output goes to $LAST and into $RLOG.
runner() {
	local rc=0
	"$RUNNER_TEST" "$OPENETRN_CONF" "$@" >"$LAST" 2>&1 || rc=$?
	{ echo "==== runner-test $*"; cat "$LAST"; } >>"$RLOG"
	return "$rc"
}

# Succeed when the last run logged a line containing $1.
logged() {
	grep -qF -- "$1" "$LAST"
}

# Send one message to $1 (more --to in $2...), wait for its hold record
# to be counted (state held), print the queue ID.
hold_one() {
	local out qid r to=()
	for r in "$@"; do to+=(--to "$r"); done
	out=$(send --from s@example.org "${to[@]}") || rfail "send: $out"
	qid=$(qid_of "$out")
	[ -n "$qid" ] || rfail "no queue ID in: $out"
	wait_for 10 redis_is held HGET "etrn:msg:$H:$qid" state ||
	    rfail "no hold record for $qid"
	echo "$qid"
}

# Print the queue (hold, deferred, ...) that lists queue ID $1, or nothing.
queue_of() {
	postqueue -c "$PF_CONF" -j | "$SB_PYTHON" -c '
import json, sys
for line in sys.stdin:
    if line.strip():
        m = json.loads(line)
        if m["queue_id"] == sys.argv[1]:
            print(m["queue_name"])
' "$1"
}

# Succeed when no queue lists any of the queue IDs $@.
unqueued() {
	local q
	for q in "$@"; do
		[ -z "$(queue_of "$q")" ] || return 1
	done
}

# Fail unless the record of $1 and every index entry of it are gone
# (domain $2).
record_gone() {
	[ "$(sb_redis EXISTS "etrn:msg:$H:$1")" = 0 ] || rfail "$1: record left"
	[ -z "$(sb_redis ZSCORE "etrn:held:$2" "$H:$1")" ] ||
	    rfail "$1: still in etrn:held:$2"
	local k
	for k in expiry warn released; do
		[ -z "$(sb_redis ZSCORE "etrn:$k:$H" "$1")" ] ||
		    rfail "$1: still in etrn:$k:$H"
	done
}

# Print field $2 of etrn:stats:$1 (0 when missing).
stat() {
	local v
	v=$(sb_redis HGET "etrn:stats:$1" "$2")
	echo "${v:-0}"
}

# The transport map sends one address to a port nobody listens on, so a
# message to it and to another address is delivered only in part.
printf 'partial@dialup.test\tsmtp:[127.0.0.1]:%s\n' "$ETRND_PORT" \
    >>"$PF_CONF/transport"
postfix -c "$PF_CONF" reload >/dev/null 2>&1 || fail "postfix reload"

# (a) Three messages for dialup.test, one for dialup2.test.
a1=$(hold_one u1@dialup.test)
a2=$(hold_one u2@dialup.test)
a3=$(hold_one u3@dialup.test)
b1=$(hold_one v@dialup2.test)
sink0=$(sb_sink_count customer)
runner flush dialup.test || rfail "flush dialup.test"
logged "flush domain=dialup.test client=127.0.0.1 released=3 not_queued=0" ||
    rfail "flush log line"
for q in "$a1" "$a2" "$a3"; do
	[ "$(field "$q" state)" = released ] || rfail "$q not released"
	[ -n "$(field "$q" released_at)" ] || rfail "$q: no released_at"
	[ -n "$(sb_redis ZSCORE "etrn:released:$H" "$q")" ] ||
	    rfail "$q not in etrn:released"
done
[ -n "$(stat dialup.test last_flush)" ] || rfail "no last_flush"
wait_for 20 sink_is customer $((sink0 + 3)) ||
    rfail "customer sink has $(sb_sink_count customer), want $((sink0 + 3))"
wait_for 10 unqueued "$a1" "$a2" "$a3" || rfail "still queued"
runner track || rfail "track"
for q in "$a1" "$a2" "$a3"; do
	record_gone "$q" dialup.test
	logged "$q: left the queue after ETRN domain=dialup.test" ||
	    rfail "$q: no log line"
done
[ "$(stat dialup.test flushed)" = 3 ] || rfail "flushed $(stat dialup.test flushed)"
[ "$(stat dialup.test held)" = 0 ] || rfail "held $(stat dialup.test held)"
[ "$(stat dialup.test bytes)" = 0 ] || rfail "bytes $(stat dialup.test bytes)"
[ "$(sb_redis HEXISTS etrn:stats:dialup.test oldest)" = 0 ] ||
    rfail "oldest left for an empty domain"
[ "$(field "$b1" state)" = held ] || rfail "dialup2 message state"
[ "$(queue_of "$b1")" = hold ] || rfail "dialup2 message left the hold"
[ -n "$(sb_redis ZSCORE etrn:held:dialup2.test "$H:$b1")" ] ||
    rfail "dialup2 index"
[ -n "$(sb_redis ZSCORE "etrn:expiry:$H" "$b1")" ] || rfail "dialup2 expiry"
[ "$(stat dialup2.test held)" = 1 ] || rfail "dialup2 held count"
pass "(a) flush releases 3, delivered ones are tracked out; dialup2 untouched"

# (c) A stale record: its queue file was deleted behind our back.  A
# flush leaves it (the milter writes a record just before Postfix
# finishes the file, so "not queued" may mean "still arriving"); expiry
# removes it at its deadline, without counting it as flushed or expired.
c1=$(hold_one u4@dialup.test)
size=$(field "$c1" size)
postsuper -c "$PF_CONF" -d "$c1" hold 2>/dev/null || rfail "postsuper -d"
[ "$(stat dialup.test held)" = 1 ] || rfail "held before"
runner flush dialup.test || rfail "flush"
logged "flush domain=dialup.test client=127.0.0.1 released=0 not_queued=1" ||
    rfail "stale flush log line"
[ "$(field "$c1" state)" = held ] || rfail "stale record changed by flush"
[ "$(stat dialup.test held)" = 1 ] || rfail "held changed by flush"
sb_redis ZADD "etrn:expiry:$H" 0 "$c1" >/dev/null
runner loop 2 || rfail "loop"
logged "$c1: record dropped at its deadline: no queue file" || rfail "stale log"
record_gone "$c1" dialup.test
[ "$(stat dialup.test held)" = 0 ] || rfail "held after stale"
[ "$(stat dialup.test bytes)" = 0 ] || rfail "bytes after stale ($size)"
[ "$(stat dialup.test flushed)" = 3 ] || rfail "stale counted as flushed"
[ "$(stat dialup.test expired)" = 0 ] || rfail "stale counted as expired"
pass "(c) stale record left by the flush, removed at its deadline, not counted"

# (d) The runner never looks below the domain named: an old-format
# stream entry with sub 1 (an older listener's "ETRN @dialup.test")
# releases dialup.test only; a.dialup.test is released by its own entry
# (the listener authorizes and names each domain on its own).
d1=$(hold_one x@a.dialup.test)
d2=$(hold_one y@dialup.test)
[ "$(field "$d1" domain)" = a.dialup.test ] || rfail "d1 domain"
sink0=$(sb_sink_count customer)
sb_redis XADD etrn:flush MAXLEN '~' 100000 '*' domain dialup.test sub 1 \
    client 192.0.2.3 via test time "$(date +%s)" >/dev/null
runner loop 3 || rfail "loop sub 1"
logged "flush domain=dialup.test client=192.0.2.3 released=1 not_queued=0" ||
    rfail "sub 1: dialup.test line"
logged "a.dialup.test" && rfail "an entry with sub 1 touched a.dialup.test"
[ "$(field "$d1" state)" = held ] || rfail "d1 state"
[ "$(queue_of "$d1")" = hold ] || rfail "d1 left the hold"
wait_for 20 sink_is customer $((sink0 + 1)) || rfail "sub 1: delivery"
runner flush a.dialup.test || rfail "flush a.dialup.test"
logged "flush domain=a.dialup.test client=127.0.0.1 released=1 not_queued=0" ||
    rfail "a.dialup.test line"
wait_for 20 sink_is customer $((sink0 + 2)) || rfail "d1: delivery"
wait_for 10 unqueued "$d1" "$d2" || rfail "d: still queued"
runner track || rfail "track"
record_gone "$d1" a.dialup.test
record_gone "$d2" dialup.test
[ "$(stat a.dialup.test flushed)" = 1 ] || rfail "a.dialup.test flushed"
[ "$(stat a.dialup.test held)" = 0 ] || rfail "a.dialup.test held"
pass "(d) an entry with sub 1 releases the named domain only; a subdomain by its own entry"

# (e) Idempotence: a second flush releases nothing, nothing arrives twice.
e1=$(hold_one u5@dialup.test)
sink0=$(sb_sink_count customer)
runner flush dialup.test || rfail "flush"
logged "released=1" || rfail "first flush"
runner flush dialup.test || rfail "flush again"
logged "flush domain=dialup.test client=127.0.0.1 released=0 not_queued=0" ||
    rfail "second flush released something"
wait_for 20 sink_is customer $((sink0 + 1)) || rfail "e1 delivery"
wait_for 10 unqueued "$e1" || rfail "e1 still queued"
runner track || rfail "track"
runner flush dialup.test || rfail "flush after track"
logged "released=0 not_queued=0" || rfail "third flush"
sleep 2
[ "$(sb_sink_count customer)" = $((sink0 + 1)) ] ||
    rfail "delivered twice: sink has $(sb_sink_count customer)"
[ "$(sb_sink_grep customer "$e1" | wc -l)" = 1 ] || rfail "e1 copies"
record_gone "$e1" dialup.test
pass "(e) repeated flushes release nothing twice"

# (f) The loop: a flush request in the stream is served and tracked, a
# request with a bad domain is dropped; nothing stays pending.
f1=$(hold_one u6@dialup.test)
sink0=$(sb_sink_count customer)
"$RUNNER_TEST" "$OPENETRN_CONF" loop 5 >"$SB/log/loop.log" 2>&1 &
lpid=$!
sleep 0.5
sb_redis XADD etrn:flush MAXLEN '~' 100000 '*' domain 'bad..domain' sub 0 \
    client 192.0.2.9 via test time "$(date +%s)" >/dev/null
sb_redis XADD etrn:flush MAXLEN '~' 100000 '*' domain dialup.test sub 0 \
    client 192.0.2.1 via test time "$(date +%s)" >/dev/null
rc=0
wait "$lpid" || rc=$?
cat "$SB/log/loop.log" >>"$RLOG"
[ "$rc" = 0 ] || rfail "loop exited $rc"
grep -qF "flush domain=dialup.test client=192.0.2.1 released=1 not_queued=0" \
    "$SB/log/loop.log" || rfail "loop: no flush"
grep -qF "flush refused: bad domain=\"bad..domain\"" "$SB/log/loop.log" ||
    rfail "loop: bad domain not refused"
grep -qF "$f1: left the queue after ETRN domain=dialup.test" \
    "$SB/log/loop.log" || rfail "loop: not tracked within 5 s"
record_gone "$f1" dialup.test
[ "$(sb_sink_count customer)" = $((sink0 + 1)) ] || rfail "loop delivery"
[ "$(sb_redis XPENDING etrn:flush "etrnd:$H" | head -n 1)" = 0 ] ||
    rfail "entries left pending"
pass "(f) the loop serves the stream and tracks within 5 s"

# (g) An entry read but never acknowledged (a crash) is served at start.
g1=$(hold_one u7@dialup.test)
sb_redis XADD etrn:flush MAXLEN '~' 100000 '*' domain dialup.test sub 0 \
    client 192.0.2.2 via test time "$(date +%s)" >/dev/null
sb_redis XREADGROUP GROUP "etrnd:$H" "$H" COUNT 10 STREAMS etrn:flush '>' \
    >/dev/null
[ "$(sb_redis XPENDING etrn:flush "etrnd:$H" | head -n 1)" = 1 ] ||
    rfail "could not make an entry pending"
runner loop 2 || rfail "loop"
logged "flush domain=dialup.test client=192.0.2.2 released=1 not_queued=0" ||
    rfail "pending entry not served"
[ "$(sb_redis XPENDING etrn:flush "etrnd:$H" | head -n 1)" = 0 ] ||
    rfail "pending entry not acknowledged"
wait_for 10 unqueued "$g1" || rfail "g1 still queued"
runner track || rfail "track"
record_gone "$g1" dialup.test
pass "(g) a pending entry is read again and acknowledged"

# (h) Partial delivery: one recipient delivered, one deferred; back on
# hold with only the undelivered recipient in the record.
h1=$(hold_one u8@dialup.test partial@dialup.test)
[ "$(field "$h1" nrcpt)" = 2 ] || rfail "h1 nrcpt"
runner flush dialup.test || rfail "flush"
wait_for 20 grep -q "$h1: to=<partial@dialup.test>.*status=deferred" \
    "$PF_LOG" || rfail "partial@ not deferred"
wait_for 10 grep -q "$h1: to=<u8@dialup.test>.*status=sent" "$PF_LOG" ||
    rfail "u8@ not delivered"
runner track || rfail "track"
logged "$h1: back on hold domain=dialup.test reason=deferred reholds=1 nrcpt=1" ||
    rfail "h1 rehold log"
[ "$(queue_of "$h1")" = hold ] || rfail "h1 not in the hold queue"
[ "$(field "$h1" state)" = held ] || rfail "h1 state"
[ "$(field "$h1" nrcpt)" = 1 ] || rfail "h1 nrcpt after"
[ "$(field "$h1" recipients)" = "$(printf 'partial@dialup.test\t\t')" ] ||
    rfail "h1 recipients: $(field "$h1" recipients)"
pass "(h) partly delivered: back on hold, delivered recipient dropped"

# (b) The customer is gone: released mail is deferred, then held again
# with the same deadline.
b2=$(hold_one u9@dialup.test)
expires=$(field "$b2" expires)
held=$(stat dialup.test held)
kill "$SINK_CUSTOMER_PID"
wait_for 10 eval '! alive "$SINK_CUSTOMER_PID"' || true
runner flush dialup.test || rfail "flush"
logged "flush domain=dialup.test client=127.0.0.1 released=2 not_queued=0" ||
    rfail "flush with the customer down"
wait_for 20 grep -q "$b2: to=<u9@dialup.test>.*status=deferred" \
    "$PF_LOG" || rfail "b2 not deferred"
wait_for 10 grep -q "$h1: to=<partial@dialup.test>.*status=deferred.*" \
    "$PF_LOG" || rfail "h1 not deferred"
[ "$(queue_of "$b2")" = deferred ] || rfail "b2 in $(queue_of "$b2")"
runner track || rfail "track"
logged "$b2: back on hold domain=dialup.test reason=deferred reholds=1" ||
    rfail "b2 rehold log"
logged "$h1: back on hold domain=dialup.test reason=deferred reholds=2" ||
    rfail "h1 second rehold"
[ "$(queue_of "$b2")" = hold ] || rfail "b2 not in the hold queue"
[ "$(field "$b2" state)" = held ] || rfail "b2 state"
[ "$(field "$b2" reholds)" = 1 ] || rfail "b2 reholds"
[ "$(field "$b2" expires)" = "$expires" ] || rfail "b2 deadline changed"
[ -z "$(field "$b2" released_at)" ] || rfail "b2 released_at left"
[ -z "$(sb_redis ZSCORE "etrn:released:$H" "$b2")" ] || rfail "b2 still released"
[ -n "$(sb_redis ZSCORE etrn:held:dialup.test "$H:$b2")" ] || rfail "b2 index"
[ "$(stat dialup.test held)" = "$held" ] || rfail "held count changed"
pass "(b) not taken: deferred, then back on hold with the same deadline"

# (i) Released mail still in the queue after release_timeout (15m here,
# simulated by an old release time): a message an admin put on hold is
# marked held without a postsuper call; one that is due but not yet
# retried (deferred, file time in the past) is put on hold.  Younger
# ones are left alone.
sb_redis SADD etrn:domains dialup3.test >/dev/null
sleep 2		# domain_refresh = 1s
i1=$(hold_one p@dialup3.test)
j1=$(hold_one q@dialup3.test)
runner flush dialup3.test || rfail "flush dialup3"
logged "flush domain=dialup3.test client=127.0.0.1 released=2 not_queued=0" ||
    rfail "flush dialup3 line"
for q in "$i1" "$j1"; do
	wait_for 20 grep -q "$q: to=<.*status=deferred" "$PF_LOG" ||
	    rfail "$q not deferred"
done
postsuper -c "$PF_CONF" -h "$i1" 2>/dev/null || rfail "postsuper -h"
f=$(find "$PF_SPOOL/deferred" -type f -name "$j1")
[ -n "$f" ] || rfail "no deferred file for $j1"
touch -d '1 minute ago' "$f"
runner track || rfail "track"
logged "$i1" && rfail "young held message touched"
logged "$j1" && rfail "young pending message touched"
[ "$(field "$i1" state)" = released ] || rfail "i1 state"
[ "$(field "$j1" state)" = released ] || rfail "j1 state"
[ "$(queue_of "$j1")" = deferred ] || rfail "j1 in $(queue_of "$j1")"
old=$(($(date +%s) - 1000))
sb_redis ZADD "etrn:released:$H" XX "$old" "$i1" "$old" "$j1" >/dev/null
runner track || rfail "track"
logged "$i1: back on hold domain=dialup3.test reason=timeout-on-hold reholds=1" ||
    rfail "i1 log"
logged "$j1: back on hold domain=dialup3.test reason=timeout reholds=1" ||
    rfail "j1 log"
for q in "$i1" "$j1"; do
	[ "$(queue_of "$q")" = hold ] || rfail "$q in $(queue_of "$q")"
	[ "$(field "$q" state)" = held ] || rfail "$q state"
	[ -z "$(sb_redis ZSCORE "etrn:released:$H" "$q")" ] ||
	    rfail "$q still released"
done
[ "$(stat dialup3.test held)" = 2 ] || rfail "dialup3 held count"
pass "(i) after release_timeout: held again; younger ones left alone"
