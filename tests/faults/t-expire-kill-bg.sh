#!/bin/bash
# t-expire-kill-bg - etrnd (queue runner and listener) killed with SIGKILL
# around an expiry batch's background delete (etrnd/expire.c, exp_bg),
# and started again after each kill.  N messages (EXPIRE_KILL_BG_N,
# default 2500; more than one batch of 2000, EXP_BATCH), each from its
# own sender, are held for dialup2.test and made due at once: the first
# sweep takes a batch of 2000 and, more being due, deletes its originals
# in a thread of its own while the next sweep takes the other N - 2000.
# Each kill is aimed, not timed:
#   A. during batch 1's background postsuper -d: the wrapped command
#      stopped at its gate before it runs, while the next sweep submits
#      its DSNs (the K-th of them held back by tests/faults/smtpgate.py
#      in front of the DSN server).  That this sweep is under way while
#      the postsuper -d waits shows the delete runs in the background.
#   B. just after batch 1's background delete (at the restart after A:
#      the 2000 records are sent, their delete again in the background)
#      has finished, before the next sweep removes its records: that
#      sweep stopped before its release (postsuper -H at its gate), the
#      2000 originals gone and their postsuper -d ended, their records
#      still there.
# Afterwards: every sender has exactly one DSN at the internet sink
# (counted by recipient, distinct Message-IDs), none of the N delivered,
# no file left in any queue (nothing on hold), no record or index entry
# left, expired = N and held = 0.
set -eu
. "${top_srcdir:-$(dirname "$0")/../..}/tests/lib/sandbox.sh"
sb_init f-ekbg
. "$SB_SRCDIR/tests/faults/lib.sh"
BATCH=2000	# EXP_BATCH, etrnd/expire.c
N=${EXPIRE_KILL_BG_N:-2500}
R=$((N - BATCH))	# the second sweep's messages
[ "$R" -ge 8 ] || fail "EXPIRE_KILL_BG_N must be $((BATCH + 8)) or more"
K=$((R >= 400 ? 100 : R / 4))	# A: the second sweep's DSN held back
# The K-th DSN of the second sweep: the first sweep submits BATCH.
EK_HOLD_AT=$((BATCH + K)) EK_PREFIX=kb EK_LABEL=''
. "$SB_SRCDIR/tests/faults/expkill.sh"
# deleting - a postsuper -d of the sandbox still running (its PIDs)
deleting() {
	ps -eo pid=,comm=,args= |
	    awk -v sb="$SB" '$2 == "postsuper" && index($0, sb) && / -d / { print $1 }'
}
# ek_last_check - batch 1's postsuper -d at B, and more after
ek_last_check() {
	[ "$(ncalls ' -d - hold$')" -ge 3 ] ||
	    fail "postsuper -d calls: $(ncalls ' -d - hold$'), want batch 1's at B and more after"
}

ek_intake

# A. Batch 1's postsuper -d stopped before it runs; all due at once
# (bench/expiry.sh's way).
gate_arm postsuper d pre
ek_due
wait_for $((60 + N / 20)) gate_reached postsuper d pre ||
    fail "A: postsuper -d not reached ($(rstates))"
w=$(gate_reached postsuper d pre)
echo "# A: +$(sec) s: batch 1's postsuper -d (pid $w) waits at its gate"
# The next sweep goes on meanwhile: its K-th DSN taken by the DSN
# server, the reply held back.
wait_for $((60 + R / 10)) test -s "$SB/dsn.held" ||
    fail "A: no DSN of the next sweep while postsuper -d waits: the delete is not in the background ($(rstates))"
read -r dq <"$SB/dsn.held"
alive "$w" || fail "A: the waiting postsuper -d $w is gone"
echo "# A: +$(sec) s: meanwhile the next sweep's DSN $K taken (on hold as $dq), its reply held"
grep -F ": stopped at gate pre" "$SB/mta-calls.log" | sed 's/^/#   /'
kill_etrnd A "$w"
gate_open postsuper d pre
[ "$(ndsn sent)" = "$BATCH" ] || soft "A: $(ndsn sent) records sent, want batch 1's $BATCH: $(rstates)"
[ "$(ndsn sending)" -ge 1 ] || soft "A: no record in dsn_state sending: $(rstates)"
[ "$(ndsn queued)" -ge 1 ] || soft "A: no record in dsn_state queued: $(rstates)"
[ "$(nrec)" = "$NR" ] || soft "A: $(nrec) records, want $NR"
[ "$(norig)" = "$N" ] || soft "A: $(norig) originals on hold, want $N: deleted before the gate"
# The call stopped at the gate is logged, only it.
[ "$(ncalls ' -d - hold$')" = 1 ] || soft "A: postsuper -d calls: $(calls ' -d - hold$')"
[ "$(ncalls ' -H ')" = 1 ] || soft "A: postsuper -H calls: $(ncalls ' -H '), want batch 1's only"
stage_ok "A: killed in batch 1's background postsuper -d (before it ran) while the next sweep submitted DSNs: $BATCH records sent, $(ndsn queued) queued, DSN $K ($dq) taken unrecorded"

# B. The restart: batch 1 (its records sent, no DSN to send) deleted
# in the background again; the next sweep stopped before its release.
gate_arm postsuper H pre
start_etrnd
wait_for $((60 + N / 20)) gate_reached postsuper H pre ||
    fail "B: postsuper -H not reached ($(rstates))"
w=$(gate_reached postsuper H pre)
# shellcheck disable=SC2016 # eval expands them, each try
wait_for 60 eval '[ "$(ncalls " -d - hold$")" = 2 ] && [ "$(norig)" = '"$R"' ] && [ -z "$(deleting)" ]' ||
    fail "B: batch 1's delete did not end while the next sweep waits: $(ncalls ' -d - hold$') postsuper -d (2 wanted: at A, and after), $(held), running $(deleting)"
echo "# B: +$(sec) s: batch 1's postsuper -d has ended ($R originals left) while the next sweep's postsuper -H (pid $w) waits"
# The restart's calls: postsuper -d, then -H while batch 1's records
# stay (a delete in the foreground removes them before the next sweep).
grep -F ' postsuper ' "$SB/mta-calls.log" | tail -n 3 | sed 's/^/#   /'
kill_etrnd B "$w"
gate_open postsuper H pre
[ "$(nrec)" = "$NR" ] || soft "B: $(nrec) records, want $NR: batch 1's removed before the kill"
[ "$(ndsn sent)" = "$BATCH" ] || soft "B: $(ndsn sent) records sent, want $BATCH: $(rstates)"
[ "$(norig)" = "$R" ] || soft "B: $(norig) originals on hold, want $R"
[ "$(ncalls ' -H ')" = 2 ] || soft "B: postsuper -H calls: $(ncalls ' -H '), want 2 (at A, at the gate)"
stage_ok "B: killed after batch 1's background delete ended, before the next sweep removed its records: $BATCH originals gone, their $BATCH records left"

ek_final A "$dq"
