#!/bin/bash
# t-split-dsn - a split copy is never downgraded: with a reinject_server
# that hides DSN (smtpd_discard_ehlo_keywords = dsn), a mixed message
# whose dial-up recipient has NOTIFY=NEVER is tempfailed whole (451 4.3.0,
# nothing held, nothing delivered) and the log says why; one without DSN
# parameters is still split.  With 8BITMIME hidden, a BODY=8BITMIME
# message is tempfailed the same way.  With DSN offered, the copy keeps
# NOTIFY and ORCPT in its queue file, and at its deadline etrnd returns
# it without a DSN (NOTIFY=NEVER).  The milter's probe names the missing
# extension after SIGUSR1, and the configuration check (etrn-milter -t)
# says which splits will be tempfailed, as a warning (the exit status of
# -t is the same with DSN offered or not).
set -eu
. "${top_srcdir:-$(dirname "$0")/../..}/tests/lib/sandbox.sh"
sb_init split-dsn
SB_ETRND=1 sb_start
. "$SB_SRCDIR/tests/lib/common.sh"

# reinject_hides KEYWORDS - the reinject smtpd discards these EHLO
# keywords ("" for none); wait until a new connection shows it.
reinject_hides() {
	local svc="127.0.0.1:$REINJECT_PORT/inet"
	if [ -n "$1" ]; then
		postconf -c "$PF_CONF" -P "$svc/smtpd_discard_ehlo_keywords=$1"
	else
		postconf -c "$PF_CONF" -PX "$svc/smtpd_discard_ehlo_keywords"
	fi
	postfix -c "$PF_CONF" reload >/dev/null 2>&1 || fail "postfix reload"
	wait_for 15 ehlo_has_only "$1" || fail "reinject EHLO still offers $1"
}

# ehlo_has_only KEYWORDS - the reinject smtpd's EHLO lacks each of them
# and offers DSN, 8BITMIME, SMTPUTF8 otherwise.
ehlo_has_only() {
	python3 - "$REINJECT_PORT" "$1" <<'PY'
import smtplib, sys
s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), local_hostname="probe.test",
                 timeout=5)
s.ehlo()
hidden = [k for k in sys.argv[2].split(",") if k]
bad = [k for k in ("dsn", "8bitmime", "smtputf8")
       if s.has_extn(k) == (k in hidden)]
s.quit()
sys.exit(1 if bad else 0)
PY
}

milter_log_has() {
	grep -q -- "$1" "$MILTER_LOG"
}

# check_t - etrn-milter -t on the sandbox's file: its output in $out,
# its exit status in $t_rc
check_t() {
	t_rc=0
	"$OPENETRN_BUILDDIR/etrn-milter" -t -c "$OPENETRN_CONF" >"$SB/t.out" \
	    2>&1 || t_rc=$?
	out=$(cat "$SB/t.out")
}

# 1. DSN hidden: NOTIFY=NEVER on the dial-up recipient tempfails the split.
reinject_hides dsn
rc=0
out=$(send --from s@example.org --to a@example.com \
    --to 'c@dialup2.test NOTIFY=NEVER' --header 'Subject: never split') ||
    rc=$?
[ "$rc" = 4 ] || fail "want a temporary failure, got $rc: $out"
case $out in *"451 4.3.0"*) ;; *) fail "want 451 4.3.0: $out" ;; esac
milter_log_has "tempfail: copy for domain=dialup2.test failed: reinject_server does not offer DSN" ||
    fail "the reason is not logged"
sleep 2
hold_is 0 || fail "something was held: $(sb_hold_ids)"
redis_is 0 ZCARD etrn:held:dialup2.test || fail "a record was written"
sink_is internet 0 || fail "the original went out"
pass "DSN hidden: NOTIFY=NEVER split tempfailed 451 4.3.0, nothing held or sent, reason logged"

rc=0
out=$(send --from s@example.org --mail-opt ENVID=E1 --to a@example.com \
    --to 'd@dialup2.test ORCPT=rfc822;d@dialup2.test') || rc=$?
[ "$rc" = 4 ] || fail "ENVID/ORCPT: want a temporary failure, got $rc: $out"
pass "DSN hidden: ENVID and ORCPT split tempfailed too"

out=$(send --from s@example.org --to a@example.com --to e@dialup2.test \
    --header 'Subject: plain split') || fail "plain split: $out"
wait_for 10 redis_is 1 ZCARD etrn:held:dialup2.test ||
    fail "plain copy not held"
wait_for 15 sink_is internet 1 || fail "plain original not delivered"
pass "DSN hidden: a split without DSN parameters still works"

kill -USR1 "$MILTER_PID"
wait_for 15 milter_log_has "reinject_server inet:127.0.0.1:$REINJECT_PORT does not offer DSN: a split" ||
    fail "the probe did not name the missing DSN"
pass "the milter's probe logs that reinject_server does not offer DSN"

check_t
rc_hidden=$t_rc
want="reinject_server inet:127.0.0.1:$REINJECT_PORT does not offer DSN: a split of a message with NOTIFY, ORCPT, RET or ENVID will be tempfailed"
grep -qF -- "$want" <<<"$out" || fail "etrn-milter -t does not say why: $out"
pass "etrn-milter -t warns that splits with DSN parameters will be tempfailed (exit $rc_hidden)"

# 2. 8BITMIME hidden: BODY=8BITMIME is not downgraded.
reinject_hides 8bitmime
rc=0
out=$(send --from s@example.org --mail-opt BODY=8BITMIME --to a@example.com \
    --to f@dialup2.test --body $'Gr\u00fc\u00dfe\n') || rc=$?
[ "$rc" = 4 ] || fail "8BITMIME: want a temporary failure, got $rc: $out"
milter_log_has "reinject_server does not offer 8BITMIME" ||
    fail "8BITMIME reason not logged"
redis_is 1 ZCARD etrn:held:dialup2.test || fail "8BITMIME copy held"
pass "8BITMIME hidden: BODY=8BITMIME split tempfailed, reason logged"

# 3. Everything offered: the copy keeps NOTIFY and ORCPT.
reinject_hides ""
check_t
grep -q "reinject_server inet:127.0.0.1:$REINJECT_PORT offers DSN, 8BITMIME and SMTPUTF8" <<<"$out" ||
    fail "etrn-milter -t with DSN offered: $out"
! grep -q "does not offer" <<<"$out" || fail "etrn-milter -t warns wrongly: $out"
[ "$t_rc" = "$rc_hidden" ] || fail "-t exit $t_rc with DSN offered, $rc_hidden without"
pass "etrn-milter -t with everything offered: no warning, same exit status"
# Copies held from now on expire within seconds (the earlier ones keep
# their 5 days).
sb_redis HSET etrn:domain:dialup2.test hold_time 8 warn_time 0 >/dev/null
sleep 2		# domain_refresh = 1s
out=$(send --from s@example.org --mail-opt RET=HDRS --to a@example.com \
    --to 'g@dialup2.test NOTIFY=NEVER ORCPT=rfc822;orig@dialup2.test') ||
    fail "DSN split: $out"
wait_for 10 redis_is 2 ZCARD etrn:held:dialup2.test ||
    fail "DSN copy not held"
m=$(sb_redis ZRANGE etrn:held:dialup2.test 0 -1 | while read -r k; do
	[ "$(sb_redis HGET "etrn:msg:$k" recipients | cut -f1)" = g@dialup2.test ] &&
	    echo "${k#mx.lab.test:}"; done)
[ -n "$m" ] || fail "no record for g@dialup2.test"
postcat -c "$PF_CONF" -e -q "$m" >"$SB/copy.txt" 2>&1 || fail "postcat $m"
# postcat: notify_flags 1 is NEVER (DSN_NOTIFY_NEVER), ret_flags 2 HDRS.
grep -q '^named_attribute: dsn_orig_rcpt=rfc822;orig@dialup2.test$' \
    "$SB/copy.txt" || fail "ORCPT lost: $(cat "$SB/copy.txt")"
grep -q '^named_attribute: notify_flags=1$' "$SB/copy.txt" ||
    fail "NOTIFY=NEVER lost: $(cat "$SB/copy.txt")"
grep -q '^named_attribute: ret_flags=2$' "$SB/copy.txt" ||
    fail "RET lost: $(cat "$SB/copy.txt")"
pass "DSN offered: the copy keeps NOTIFY=NEVER, ORCPT and RET in its queue file"

# ... and at the deadline it is returned without a DSN to the sender.
wait_for 40 grep -q "^.*$m: expired domain=dialup2.test .*dsn=none" \
    "$SB_LOG_DIR/etrnd.log" || fail "the copy did not expire without a DSN"
sleep 2
n=$(sb_sink_files internet | xargs -r grep -l '^Auto-Submitted: auto-replied' 2>/dev/null | grep -c . || true)
[ "$n" = 0 ] || fail "$n DSNs reached the sink"
grep -q "DSN to <s@example.org>" "$SB_LOG_DIR/etrnd.log" &&
    fail "etrnd submitted a DSN: $(grep 'DSN to' "$SB_LOG_DIR/etrnd.log")"
pass "NOTIFY=NEVER on the split copy: expired with dsn=none, no DSN sent"
