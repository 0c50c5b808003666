#!/bin/bash
# t-log-forge - CR, LF and other control characters sent to be logged
# (tests/security/forge.py): ETRN arguments to etrnd's listener,
# attribute values (sasl_username, etrn_domain, helo_name, client_name,
# client_address) to etrn-policy, and quoted local parts of MAIL FROM and
# RCPT TO through Postfix to etrn-milter, each followed by "FORGED".
# Afterwards every line of each daemon's log starts with its program
# name, none starts a line with FORGED, and no control character other
# than tab appears in any of them.  Each daemon still answers.
set -eu
. "${top_srcdir:-$(dirname "$0")/../..}/tests/lib/sandbox.sh"
sb_init sec-logforge
SB_ETRND=1 SB_POLICY=1 sb_start
. "$SB_SRCDIR/tests/lib/common.sh"
forge() { python3 "$SB_SRCDIR/tests/security/forge.py" "$@"; }

out=$(forge etrnd "$ETRND_PORT") || fail "etrnd: $out"
n=$(printf '%s\n' "$out" | grep -c '^sent')
[ "$n" -ge 20 ] || fail "etrnd: only $n payloads: $out"
# A LF ends the command: "ETRN dialup.test" alone may then be answered
# 25x (the rest is a command of its own); anything else must not be.
bad=$(printf '%s\n' "$out" | grep -E ': 25[0-9]$' | grep -vE '^sent dialup\.test(\\r)?\\n' || true)
[ -z "$bad" ] || fail "an ETRN was accepted: $bad"
pass "etrnd: $n ETRN arguments with control characters sent"

out=$(forge policy "$POLICY_SOCK") || fail "policy: $out"
n=$(printf '%s\n' "$out" | grep -c '^sent')
[ "$n" -ge 40 ] || fail "policy: only $n payloads: $out"
pass "etrn-policy: $n requests with control characters in attribute values"

out=$(forge smtp "$SMTP_PORT" dialup.test) || fail "smtp: $out"
acc=$(printf '%s\n' "$out" | sed -n 's/^accepted //p')
printf '%s\n' "$out" | grep -q '^sent from' ||
    echo "note: Postfix took no MAIL FROM with a control character"
wait_for 20 eval '[ "$(sb_queue_count hold)" = "$acc" ]' ||
    fail "held $(sb_queue_count hold) of $acc accepted"
# What Postfix passed on reached the milter: it refuses control
# characters in addresses itself (501 5.5.4).
mr=$(grep -c 'milter-reject: \(MAIL\|RCPT\) .*FORGED' "$PF_LOG" || true)
[ "$mr" -ge 10 ] || fail "only $mr envelopes reached etrn-milter"
pass "Postfix passed $mr envelopes to etrn-milter, which refused them (501 5.5.4); $acc accepted and held"

# The logs: one line per entry, each the daemon's.
for d in etrnd etrn-policy etrn-milter; do
	echo "$d.log: $(grep -c FORGED "$SB_LOG_DIR/$d.log" || true) lines name a payload"
done
for d in etrnd etrn-policy etrn-milter; do
	f=$SB_LOG_DIR/$d.log
	bad=$(grep -av -E "^($d: |==== sandbox )" "$f" | head -3 || true)
	[ -z "$bad" ] || fail "$d.log: lines not of $d: $(printf '%s' "$bad" | cat -v)"
	bad=$(LC_ALL=C grep -an -P '[\x00-\x08\x0a-\x1f\x7f]' "$f" | head -3 || true)
	[ -z "$bad" ] || fail "$d.log: control characters: $(printf '%s' "$bad" | cat -v)"
	bad=$(LC_ALL=C grep -a -E "^($d: )?(warning: )?FORGED" "$f" | head -3 || true)
	[ -z "$bad" ] || fail "$d.log: forged line: $bad"
	[ "$(LC_ALL=C tr -cd '\r' <"$f" | wc -c)" = 0 ] || fail "$d.log: CR"
done
pass "each log line is its daemon's; no control character, no forged line"

out=$(etrn dialup.test)
case $out in 25*) ;; *) fail "etrnd after the run: $out" ;; esac
kill -0 "$POLICY_PID" || fail "etrn-policy died"
kill -0 "$MILTER_PID" || fail "etrn-milter died"
pass "etrnd, etrn-policy and etrn-milter still serve"
