#!/bin/bash
# t-bigmail - a 50 MiB message for a dial-up domain, and one for a dial-up
# and a normal domain (split: the milter spools a copy in tmp_directory
# and submits it again), go through etrn-milter without its memory
# growing with the body: held, released by ETRN, and the customer's
# server gets the body byte for byte.
set -eu
. "${top_srcdir:-$(dirname "$0")/../..}/tests/lib/sandbox.sh"
sb_init bigmail
SB_ETRND=1 SB_EXTRA_MAIN_CF="message_size_limit = 104857600
queue_minfree = 0" SB_EXTRA_CONF="flush_lock_time = 1s" sb_start
. "$SB_SRCDIR/tests/lib/common.sh"
# The milter keeps no body in memory: libmilter hands it over in chunks
# of at most 64 KiB, and a copy goes to a file.  Its peak resident size
# may grow by thread stacks, stdio buffers and allocator arenas, not by
# the 50 MiB body: 16 MiB leaves room for that on a loaded machine and
# is still well below a third of the message.
BOUND_KB=16384
# Under ASan freed memory waits in its quarantine (256 MiB by default),
# so the peak says nothing there: the bound holds in the plain build.
# grew FROM TO - within the bound (always, in a sanitizer build)
grew() { sanitized || [ $(($2 - $1)) -lt $BOUND_KB ]; }

# send_big RCPT... - a 50 MiB message from s@example.org; sets qid (its
# queue ID) and sum (the SHA-256 of its body)
send_big() {
	local out
	out=$(big send "$SMTP_PORT" 50 s@example.org "$@") ||
	    fail "send: $out"
	qid=$(qid_of "$out")
	[ -n "$qid" ] || fail "not accepted: $out"
	sum=$(printf '%s\n' "$out" | sed -n 's/^sha256 //p')
}

# body_is SINK WHAT - the one message in sink SINK has the body sent
# ($sum), byte for byte; then it is removed
body_is() {
	local f got
	f=$(sb_sink_files "$1")
	got=$(big bodyhash "$f")
	[ "$got" = "$sum" ] || fail "$2 body changed: sent $sum, received $got"
	rm -f "$f"
}

# 1. Held whole, then released.
h0=$(hwm "$MILTER_PID")
send_big big@dialup.test
wait_for 20 hold_is 1 || fail "the 50 MiB message is not held"
h1=$(hwm "$MILTER_PID")
grew "$h0" "$h1" ||
    fail "milter VmHWM grew by $((h1 - h0)) kB (from $h0 kB), bound $BOUND_KB"
pass "50 MiB message $qid held; milter VmHWM $h0 -> $h1 kB"

etrn dialup.test | grep -q '^253 ' || fail "ETRN refused"
wait_for 60 sink_is customer 1 || fail "not delivered after ETRN"
body_is customer held
pass "delivered after ETRN byte for byte (sha256 $sum)"

# 2. Split: one dial-up and one normal recipient.
send_big a@example.com b@dialup.test
orig=$qid
wait_for 30 hold_is 1 || fail "the dial-up copy is not held"
h2=$(hwm "$MILTER_PID")
grew "$h0" "$h2" ||
    fail "milter VmHWM grew by $((h2 - h0)) kB with a copy, bound $BOUND_KB"
copy=$(sb_hold_ids)
[ "$copy" != "$orig" ] || fail "the original was held"
left=$(find "$SB/tmp" -type f | wc -l)
[ "$left" = 0 ] || fail "$left files left in tmp_directory"
spool=$(find "/proc/$MILTER_PID/fd" -lname "$SB/tmp/*" 2>/dev/null | wc -l)
[ "$spool" = 0 ] || fail "the milter still has $spool spool files open"
pass "split: copy $copy held, VmHWM $h0 -> $h2 kB, no spool file left"

wait_for 60 sink_is internet 1 || fail "normal recipient not served"
body_is internet original
etrn dialup.test | grep -q '^253 ' || fail "second ETRN refused"
wait_for 60 sink_is customer 1 || fail "copy not delivered after ETRN"
body_is customer copy
pass "both recipients got the body byte for byte"
