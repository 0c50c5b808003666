#!/bin/bash
# t-slowdata - a client that sends DATA at about 1 KB/s for longer than
# Postfix's milter timeouts (2 s here): the message for a dial-up domain is
# refused with 4xx or held, never accepted and delivered unheld.  Postfix
# hands the content to milters only after the final dot, so the slow
# client alone costs the milter no time; a milter stopped (SIGSTOP) for
# longer than milter_content_timeout at that moment must give a 4xx.
set -eu
. "${top_srcdir:-$(dirname "$0")/../..}/tests/lib/sandbox.sh"
sb_init slowdata
SB_EXTRA_MAIN_CF="milter_connect_timeout = 2s
milter_command_timeout = 2s
milter_content_timeout = 2s" sb_start
. "$SB_SRCDIR/tests/lib/common.sh"

# Each case: DATA for 8 s, four times the milter timeouts; STOP is 0 or
# the PID to stop for 5 s at the final dot.
check() {
	local what=$1 held_before=$2 stop=$3 out
	shift 3
	out=$(big slow "$SMTP_PORT" 8 "$stop" s@example.org "$@") ||
	    fail "client: $out"
	case $out in
	4[0-9][0-9]*|closed*)
		sleep 2
		[ "$(sb_queue_count hold)" = "$held_before" ] ||
		    fail "$what: refused ($out) but something was held"
		pass "$what: refused: $(printf '%s\n' "$out" | head -1)" ;;
	250*)
		wait_for 10 hold_is $((held_before + 1)) ||
		    fail "$what: accepted ($out) but not held"
		pass "$what: accepted and held: $(printf '%s\n' "$out" | head -1)" ;;
	*)	fail "$what: unexpected reply: $out" ;;
	esac
	sleep 2
	[ "$(sb_sink_count customer)" = 0 ] ||
	    fail "$what: dial-up mail reached the customer without ETRN"
}

check "dial-up" 0 0 slow1@dialup.test
held=$(sb_queue_count hold)
check "dial-up and normal" "$held" 0 slow2@dialup.test n@example.com
held=$(sb_queue_count hold)
check "dial-up, milter stopped 5 s" "$held" "$MILTER_PID" slow3@dialup.test
kill -0 "$MILTER_PID" || fail "the milter died"
held=$(sb_queue_count hold)
out=$(send --from s@example.org --to after@dialup.test) || fail "send: $out"
wait_for 10 hold_is $((held + 1)) || fail "milter does not hold any more"
pass "the milter holds the next message"
wait_for 10 sink_is internet 1 || fail "normal recipient not served"
f=$(sb_sink_files internet)
grep -q '^X-Rcpt-Args: <n@example.com>' "$f" || fail "internet sink: $f"
grep -q 'dialup.test' "$f" && fail "a dial-up recipient went to the internet"
pass "no dial-up recipient delivered unheld"
