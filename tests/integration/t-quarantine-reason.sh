#!/bin/bash
# t-quarantine-reason - the quarantine reason Postfix records for a held
# message is etrn-milter's reason, complete and at most 100 octets, also
# for a 253-octet dial-up domain.  Postfix 3.10 and later (HISTORY
# 20250106) keep the first 100 octets of a milter's quarantine text
# (src/milter/milter8.c, SMFIR_QUARANTINE: "if (saved_size > 100)
# saved_size = 100") and cut the rest without a mark; they write it only
# to the log, in cleanup's "milter-hold: EVENT from CLIENT: TEXT;
# from=<...> to=<...>" line (cleanup_milter.c), not into the queue file.
# Older Postfix (Debian 12 has 3.7) drops the text and logs "milter
# triggers HOLD action": there this test checks that, and the reason
# itself is checked by tests/milter/t-14-longdomain.lua.  etrn-milter
# cuts a domain longer than 83 octets itself: "held for ETRN by " + its
# first 80 octets + "...".  The record and the tag keep the whole domain.
set -eu
. "${top_srcdir:-$(dirname "$0")/../..}/tests/lib/sandbox.sh"
sb_init qreason
sb_start
. "$SB_SRCDIR/tests/lib/common.sh"

# reason_of QID - the text of Postfix's milter-hold log line for QID
reason_of() {
	sed -n "s/^.* $1: milter-hold: [A-Z-]* from [^ ]*: \(.*\); from=<.*/\1/p" \
	    "$PF_LOG"
}

a63=$(printf 'a%.0s' {1..63})
dom=$a63.$a63.$a63.$(printf 'z%.0s' {1..49}).dialup.test
[ ${#dom} = 253 ] || fail "test domain has ${#dom} octets"

out=$(send --from s@example.org --to u@dialup.test) || fail "send: $out"
q1=$(qid_of "$out")
out=$(send --from s@example.org --to "u@$dom") || fail "send: $out"
q2=$(qid_of "$out")
[ -n "$q1" ] && [ -n "$q2" ] || fail "no queue IDs: $q1 $q2"
wait_for 20 hold_is 2 || fail "not both held: $(sb_hold_ids | paste -sd' ')"
wait_for 10 eval '[ -n "$(reason_of "$q2")" ]' ||
    fail "no milter-hold line for $q2"

ver=$(postconf -c "$PF_CONF" -h mail_version)
IFS=. read -r major minor _ <<<"$ver"
if [ "$major" -gt 3 ] || { [ "$major" = 3 ] && [ "$minor" -ge 10 ]; }; then
	got=$(reason_of "$q1")
	[ "$got" = "held for ETRN by dialup.test" ] ||
	    fail "$q1: Postfix logged the reason '$got'"
	pass "$q1: Postfix $ver logged the reason '$got'"
	want="held for ETRN by ${dom:0:80}..."
	got=$(reason_of "$q2")
	[ "$got" = "$want" ] ||
	    fail "$q2: Postfix logged the reason '$got' (${#got} octets), want '$want'"
	[ ${#got} -le 100 ] || fail "$q2: the reason has ${#got} octets"
	pass "$q2: Postfix $ver logged the whole reason, ${#got} octets, ending in '...'"
else
	for q in "$q1" "$q2"; do
		got=$(reason_of "$q")
		[ "$got" = "milter triggers HOLD action" ] ||
		    fail "$q: Postfix $ver logged '$got'"
	done
	pass "Postfix $ver logs no milter text ('milter triggers HOLD action'; 3.10 and later log the reason)"
fi

postcat -c "$PF_CONF" -q "$q2" | grep -q 'held for ETRN' &&
    fail "$q2: the reason is in the queue file"
postcat -c "$PF_CONF" -q -h "$q2" | grep -q "^X-ETRN-Hold: $dom; host=" ||
    fail "$q2: the tag does not name the whole domain"
[ "$(field "$q2" domain)" = "$dom" ] || fail "$q2: record domain '$(field "$q2" domain)'"
grep -q "$q2: held domain=$dom from=" "$MILTER_LOG" ||
    fail "$q2: etrn-milter's log line does not name the whole domain"
pass "$q2: tag, record and etrn-milter's log name the whole 253-octet domain"
