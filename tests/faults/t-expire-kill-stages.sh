#!/bin/bash
# t-expire-kill-stages - etrnd (queue runner and listener) killed with
# SIGKILL at each stage of an expiry sweep, once per stage, and started
# again after each kill.  N messages (EXPIRE_KILL_N, default 2000), each
# from its own sender, are held for dialup2.test and made due at once.
# Each kill is aimed, not timed: etrnd waits at the stage (a reply held
# back, or a wrapped postsuper stopped) until the test has killed it.
#   1. DSNs being submitted: the DSN server has taken the K-th DSN (on
#      hold), its "queued as" reply held back by tests/faults/smtpgate.py
#      in front of the DSN server: that record says dsn_state sending,
#      the ones before it queued;
#   2. the sweep's DSNs queued on hold, before their release (postsuper
#      -H stopped before it runs);
#   3. the DSNs released (postsuper -H has run), before the records say
#      sent (stopped after it);
#   4. the records sent, before the originals are deleted (postsuper -d
#      stopped before it runs);
#   5. the originals deleted, before the records are finished (postsuper
#      -d stopped after it).
# Afterwards: every sender has exactly one DSN at the internet sink
# (counted by recipient and by X-Test-Id), none of the N delivered, no
# file left in any queue (neither an original nor a DSN), no record or
# index entry left, expired = N and held = 0.
set -eu
. "${top_srcdir:-$(dirname "$0")/../..}/tests/lib/sandbox.sh"
sb_init f-ekstages
. "$SB_SRCDIR/tests/faults/lib.sh"
N=${EXPIRE_KILL_N:-2000}
[ "$N" -ge 8 ] || fail "EXPIRE_KILL_N must be 8 or more"
K=$((N >= 400 ? 100 : N / 4))	# stage 1: the DSN whose reply is held
EK_HOLD_AT=$K EK_PREFIX=ks EK_LABEL='stage '
. "$SB_SRCDIR/tests/faults/expkill.sh"
# at_gate STAGE OPT WHEN - restart etrnd with postsuper -OPT stopped at
# WHEN (pre, post); once it waits there, kill etrnd
at_gate() {
	local w
	gate_arm postsuper "$2" "$3"
	start_etrnd
	wait_for $((60 + N / 20)) gate_reached postsuper "$2" "$3" ||
	    fail "$1: postsuper -$2 not reached ($(rstates))"
	w=$(gate_reached postsuper "$2" "$3")
	kill_etrnd "$1" "$w"
	gate_open postsuper "$2" "$3"
}

ek_intake
ek_due

# 1. The DSN server has taken the K-th DSN; etrnd waits for the reply.
wait_for $((60 + N / 20)) test -s "$SB/dsn.held" ||
    fail "1: the DSN server did not take $K DSNs ($(rstates))"
read -r dq <"$SB/dsn.held"
kill_etrnd 1
[ "$(ndsn sending)" -ge 1 ] || soft "1: no record in dsn_state sending: $(rstates)"
[ "$(ndsn queued)" -ge 1 ] || soft "1: no record in dsn_state queued: $(rstates)"
[ "$(ndsn sent)" = 0 ] || soft "1: records sent before any release: $(rstates)"
sb_hold_ids | grep -x "$dq" >/dev/null || soft "1: the DSN taken ($dq) is not on hold"
[ "$(dsn_count)" = 0 ] || soft "1: $(dsn_count) DSNs out before any release"
stage_ok "1: killed while submitting: DSN $K taken (on hold as $dq), its record sending, $(ndsn queued) queued"

# 2. Before the release.
at_gate 2 H pre
[ "$(ndsn queued)" -ge "$K" ] || soft "2: $(ndsn queued) queued, want >= $K: $(rstates)"
[ "$(ndsn sending)" = 0 ] || soft "2: still sending: $(rstates)"
[ "$(ndsn sent)" = 0 ] || soft "2: records sent before the release: $(rstates)"
[ "$(dsn_count)" = 0 ] || soft "2: $(dsn_count) DSNs out before the release"
B=$(ndsn queued)	# the sweep's messages
[ "$(held)" = "$N originals, $B DSNs" ] || soft "2: on hold $(held), want $N originals + $B DSNs"
stage_ok "2: killed before the release: $B DSNs queued on hold"

# 3. After the release, before the records say sent.
at_gate 3 H post
[ "$(held)" = "$N originals, 0 DSNs" ] || soft "3: on hold $(held), want the $N originals only"
[ "$(ndsn queued)" -ge "$B" ] || soft "3: $(ndsn queued) queued, want >= $B: $(rstates)"
[ "$(ndsn sent)" = 0 ] || soft "3: records sent: $(rstates)"
stage_ok "3: killed after postsuper -H: the $B DSNs out of hold, records still queued"

# 4. Before the originals are deleted.
at_gate 4 d pre
[ "$(held)" = "$N originals, 0 DSNs" ] || soft "4: on hold $(held), want the $N originals only"
[ "$(ndsn sent)" -ge "$B" ] || soft "4: $(ndsn sent) sent, want >= $B: $(rstates)"
[ "$(grep -c -- ' -d - hold$' "$SB/mta-calls.log")" = 1 ] ||
    soft "4: postsuper -d ran before: $(grep -- ' -d - hold' "$SB/mta-calls.log")"
stage_ok "4: killed before postsuper -d: $(ndsn sent) records sent, all $N originals on hold"

# 5. After the deletes, before the records are finished.
at_gate 5 d post
h=$(held)
d=$((N - ${h%% *}))
[ "$d" -ge 1 ] || soft "5: nothing deleted (on hold $h)"
[ "$(nrec)" = "$NR" ] || soft "5: $(nrec) records, want $NR: some finished"
[ "$(ndsn sent)" -ge "$d" ] || soft "5: $d deleted, $(ndsn sent) records sent: $(rstates)"
stage_ok "5: killed after postsuper -d: $d originals deleted, their records left"

ek_final 1 "$dq"
