#!/bin/bash
# t-valgrind - etrn-milter, etrnd (its queue runner and its forked
# listener) and etrn-policy under valgrind's memcheck through one whole
# cycle: mail held (one message split by re-injection), a policy query
# for each recipient and for an ETRN through Postfix's smtpd, ETRN to
# etrnd's listener and delivery, an expiry with a DSN, a reload of each
# daemon (etrnd and etrn-policy SIGHUP, etrn-milter SIGUSR1), etrnctl
# commands, then a clean SIGTERM.  Every valgrind log must report no
# errors and no definitely or indirectly lost memory.  Skipped (77) when
# valgrind is missing and in a sanitizer build (valgrind and ASan do
# not mix).
set -eu
. "${top_srcdir:-$(dirname "$0")/../..}/tests/lib/sandbox.sh"
sb_init sec-valgrind
command -v valgrind >/dev/null 2>&1 || skip "valgrind not installed"
bdir=${OPENETRN_BUILDDIR:-${top_builddir:-$SB_SRCDIR}}
for b in etrn-milter etrnd/etrnd policy/etrn-policy etrnctl/etrnctl; do
	[ -x "$bdir/$b" ] || fail "$bdir/$b not built"
	if nm "$bdir/$b" 2>/dev/null | grep -q '__asan_init\|__ubsan_handle'
	then
		skip "$b is built with sanitizers"
	fi
done
export SB_VALGRIND=1
policy=unix:openetrn/policy.sock	# relative: the public smtpd is chrooted
SB_ETRND=1 SB_POLICY=1 SB_EXTRA_CONF="flush_lock_time = 1s" \
    SB_EXTRA_MAIN_CF="smtpd_etrn_restrictions = check_policy_service $policy
smtpd_recipient_restrictions = check_policy_service $policy
fast_flush_domains = \$relay_domains
milter_command_timeout = 60s
milter_content_timeout = 120s" sb_start
. "$SB_SRCDIR/tests/lib/common.sh"
vg_logs() { ls "$SB_LOG_DIR"/valgrind-*.log 2>/dev/null || true; }

wait_for 60 sh -c "grep -q 'listener ready' '$SB_LOG_DIR/etrnd.log'" ||
    fail "etrnd's listener did not start"
# shellcheck disable=SC2046 # log names have no blanks
[ -n "$(grep -l "Parent PID: $ETRND_PID\$" $(vg_logs) | head -n 1)" ] ||
    fail "no valgrind log of etrnd's listener: $(vg_logs)"
pass "etrn-milter, etrnd (2 processes) and etrn-policy run under valgrind"

for i in 1 2; do
	sb_swaks -f s@example.org -t "u$i@dialup.test" >/dev/null || fail "swaks"
done
send --from s@example.org --to a@example.com --to u3@dialup.test \
    --to v1@dialup2.test >/dev/null || fail "mixed message"
send --from e@example.org --mail-opt RET=HDRS --to 'v2@dialup2.test NOTIFY=FAILURE' \
    --header 'Subject: to expire' >/dev/null || fail "send"
wait_for 60 hold_is 5 || fail "held: $(sb_queue_count hold)"
wait_for 30 sink_is internet 1 || fail "the mixed message's other recipient"
pass "4 messages in, 5 held (one split), the other recipient delivered"

out=$(etrn dialup.test)
[ "$out" = "253 OK, 3 pending messages for node dialup.test started" ] ||
    fail "ETRN: $out"
wait_for 60 sink_is customer 3 || fail "customer has $(sb_sink_count customer)"
wait_for 30 redis_is 0 ZCARD etrn:held:dialup.test || fail "index"
out=$(python3 "$SB_SRCDIR/tests/lib/etrn.py" "$SMTP_PORT" example.com)
case $out in
"459 4.7.1 <example.com>: Etrn command rejected: ETRN not allowed here") ;;
*) fail "ETRN through Postfix: $out" ;;
esac
pass "ETRN released 3 messages; a policy query for ETRN answered 459"

kill -HUP "$ETRND_PID" "$POLICY_PID"
kill -USR1 "$MILTER_PID"
wait_for 60 sh -c "grep -q 'reloaded' '$SB_LOG_DIR/etrnd.log' &&
    grep -q 'reloaded' '$SB_LOG_DIR/etrn-policy.log'" || fail "reload"
ctl status >/dev/null || fail "etrnctl status"
ctl --json list dialup2.test >/dev/null || fail "etrnctl list"
for q in $(sb_redis ZRANGE etrn:held:dialup2.test 0 -1); do
	ctl expire "${q#*:}" >/dev/null || fail "etrnctl expire $q"
done
wait_for 60 redis_is 0 ZCARD etrn:held:dialup2.test || fail "not expired"
wait_for 60 sh -c "[ \$(find '$SINK_DIR_INTERNET' -type f | xargs -r grep -l '^Auto-Submitted: auto-replied' | wc -l) -ge 2 ]" ||
    fail "no DSNs"
wait_for 30 hold_is 0 || fail "hold queue: $(sb_queue_count hold)"
pass "reloads; 2 messages expired with DSNs"

# A last message through the reloaded milter.
sb_swaks -f s@example.org -t u9@dialup.test >/dev/null || fail "swaks"
wait_for 60 hold_is 1 || fail "not held after the reload"

"$SB_SANDBOX" stop "$SB" >"$SB/stop.log" 2>&1 || fail "stop: $(cat "$SB/stop.log")"
grep -q 'killing' "$SB/stop.log" && fail "a daemon ignored SIGTERM: $(cat "$SB/stop.log")"
n=0
for f in $(vg_logs); do
	# A child that went on to exec an MTA command has no summary; it
	# must not have reported anything either.
	if ! grep -q 'HEAP SUMMARY' "$f"; then
		[ "$(grep -c "^==[0-9]*== [^ ]" "$f")" -le 5 ] || {
			cat "$f" >&2; fail "$(basename "$f"): errors"; }
		continue
	fi
	n=$((n + 1))
	grep -q 'ERROR SUMMARY: 0 errors' "$f" || {
		cat "$f" >&2; fail "$(basename "$f"): errors"; }
	if grep -E '(definitely|indirectly) lost: [1-9]' "$f" >&2; then
		cat "$f" >&2
		fail "$(basename "$f"): leaks"
	fi
done
[ "$n" -ge 4 ] || fail "only $n valgrind logs: $(vg_logs)"
# The listener's own report, written at its clean exit.
# shellcheck disable=SC2046
grep -l 'HEAP SUMMARY' $(grep -l "Parent PID: $ETRND_PID\$" $(vg_logs)) \
    >/dev/null 2>&1 || fail "no leak report of etrnd's listener"
pass "$n valgrind logs: 0 errors, nothing definitely or indirectly lost"

# etrnctl too: a command with output, one with a usage error.
vg() { valgrind -q --leak-check=full --show-leak-kinds=definite,indirect \
    --errors-for-leak-kinds=definite,indirect --error-exitcode=99 "$@"; }
rc=0
vg "$OPENETRN_BUILDDIR/etrnctl/etrnctl" -c "$OPENETRN_CONF" status \
    >/dev/null 2>"$SB/vg-ctl.log" || rc=$?
[ "$rc" = 1 ] || { cat "$SB/vg-ctl.log" >&2; fail "etrnctl status (Redis down) exit $rc"; }
rc=0
vg "$OPENETRN_BUILDDIR/etrnctl/etrnctl" -c "$OPENETRN_CONF" flush 'a;b' \
    >/dev/null 2>>"$SB/vg-ctl.log" || rc=$?
[ "$rc" = 1 ] || [ "$rc" = 2 ] || { cat "$SB/vg-ctl.log" >&2; fail "etrnctl flush exit $rc"; }
pass "etrnctl: no valgrind errors on its error paths"
