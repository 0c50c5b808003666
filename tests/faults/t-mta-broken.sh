#!/bin/bash
# t-mta-broken - Postfix commands broken in the ways exit 75 does not
# cover (t-mta-fail.sh does that): etrnd's postfix_command_directory
# holds a postsuper that is
#   missing (ENOENT) during a flush: the failure is logged with the
#     reason ("cannot execute PATH: No such file or directory"), nothing
#     leaves the hold or stays marked released; once it is back, etrnd's
#     own retry delivers the message once;
#   not executable (EACCES) during expiry: no DSN, nothing deleted, the
#     record kept and the failure logged ("Permission denied"); once it
#     runs again the sender
#     gets exactly one DSN;
#   a "postsuper -d" that exits 0 and deletes nothing (no "Deleted: 1
#     message"; postsuper exits 0 for IDs it did not find): the expired
#     message's DSN goes out once, the file still on hold is noticed and
#     logged with its queue ID, the record is not dropped and no second
#     DSN follows over further passes; once -d deletes again the file
#     and record go, still one DSN.
set -eu
. "${top_srcdir:-$(dirname "$0")/../..}/tests/lib/sandbox.sh"
sb_init f-mtabroken
BIN=$SB/bin
mkdir -p "$BIN"
for c in postconf postcat postkick sendmail postdrop postqueue; do
	ln -sf "/usr/sbin/$c" "$BIN/$c"
done
# postsuper: the real one, except "-d" while $SB/nodelete exists: the
# IDs are read and nothing is deleted, exit 0.
cat >"$BIN/postsuper" <<EOW
#!/bin/sh
echo "\$(date +%s) postsuper \$*" >>"$SB/mta-calls.log"
case " \$* " in
*" -d "*)
	if [ -e "$SB/nodelete" ]; then
		sed 's/^/nodelete /' >>"$SB/mta-calls.log"
		exit 0
	fi
	;;
esac
exec /usr/sbin/postsuper "\$@"
EOW
chmod 755 "$BIN/postsuper"
SB_ETRND=1 SB_EXTRA_CONF="flush_lock_time = 1s
postfix_command_directory = $BIN" sb_start
. "$SB_SRCDIR/tests/lib/common.sh"
. "$SB_SRCDIR/tests/faults/lib.sh"
ELOG=$SB/log/etrnd.log

# 1. Flush with postsuper missing.
A=$(held_one a1@dialup.test)
mv "$BIN/postsuper" "$BIN/postsuper.away"
out=$(etrn dialup.test)
[ "$out" = "253 OK, 1 pending message for node dialup.test started" ] || fail "$out"
wait_for 20 grep -q 'flush domain=dialup.test .*release of 1 messages failed' "$ELOG" ||
    fail "failed release not logged"
grep -q "postsuper failed: exit status non-zero: cannot execute $BIN/postsuper: No such file or directory" "$ELOG" ||
    fail "the missing command is not named"
grep -q "$A: not released domain=dialup.test: the release failed; stays held" "$ELOG" ||
    fail "$A not named"
hold_is 1 || fail "left the hold"
[ "$(field "$A" state)" = held ] || fail "record $(field "$A" state)"
redis_is 0 ZCARD etrn:released:mx.lab.test || fail "marked released"
pass "postsuper missing: $(grep -m1 -o 'release of 1 messages failed.*' "$ELOG" | cut -c1-100)"
mv "$BIN/postsuper.away" "$BIN/postsuper"
wait_for 40 sink_is customer 1 || fail "not delivered after the repair"
wait_for 20 redis_is 0 EXISTS "etrn:msg:mx.lab.test:$A" || fail "record left"
sleep 1
sink_is customer 1 || fail "delivered twice"
pass "postsuper back: etrnd's retry delivered the message once"

# 2. Expiry with postsuper not executable.
B=$(held_one b1@dialup2.test)
chmod 644 "$BIN/postsuper"
ctl expire "$B" >/dev/null || fail "etrnctl expire"
wait_for 30 grep -q 'queue: .* failed (.*); retrying' "$ELOG" ||
    fail "expiry failure not logged"
grep -q "cannot execute $BIN/postsuper: Permission denied" "$ELOG" ||
    fail "EACCES not logged"
wait_for 10 grep -q "$B: DSN .* not released yet; trying again" "$ELOG" ||
    fail "$B not named"
sleep 2	# a few runner passes (queue_run_interval 500ms)
[ "$(dsn_count)" = 0 ] || fail "a DSN went out while postsuper could not run"
[ -f "$PF_SPOOL/hold/$B" ] || fail "$B deleted"
redis_is 1 EXISTS "etrn:msg:mx.lab.test:$B" || fail "record dropped"
pass "postsuper not executable in expiry: no DSN, $B kept on hold with its record"
chmod 755 "$BIN/postsuper"
wait_for 30 redis_is 0 EXISTS "etrn:msg:mx.lab.test:$B" || fail "not expired after the repair"
wait_for 20 eval '[ "$(dsn_count)" = 1 ]' || fail "DSNs: $(dsn_count)"
[ ! -f "$PF_SPOOL/hold/$B" ] || fail "$B left on hold"
pass "postsuper executable again: one DSN, file and record gone"

# 3. postsuper -d reports success and deletes nothing.
C=$(held_one c1@dialup2.test)
touch "$SB/nodelete"
ctl expire "$C" >/dev/null || fail "etrnctl expire"
wait_for 30 grep -q "nodelete $C" "$SB/mta-calls.log" || fail "no -d for $C"
wait_for 20 grep -q "$C: still queued after delete" "$ELOG" ||
    fail "the file left on hold was not noticed"
wait_for 20 eval '[ "$(dsn_count)" = 2 ]' || fail "DSNs: $(dsn_count)"
tries=$(grep -c "nodelete $C" "$SB/mta-calls.log")
wait_for 20 eval '[ "$(grep -c "nodelete $C" "$SB/mta-calls.log")" -ge $((tries + 2)) ]' ||
    fail "postsuper -d not tried again"
[ -f "$PF_SPOOL/hold/$C" ] || fail "$C gone"
redis_is 1 EXISTS "etrn:msg:mx.lab.test:$C" || fail "record dropped while the file is there"
[ "$(field "$C" dsn_state)" = sent ] || fail "dsn_state $(field "$C" dsn_state)"
[ "$(dsn_count)" = 2 ] || fail "a second DSN for $C: $(dsn_count)"
! grep -q "$C: expired " "$ELOG" || fail "$C logged as expired"
pass "postsuper -d deleting nothing: noticed (\"$C: still queued after delete\"), record kept, one DSN over $(grep -c "nodelete $C" "$SB/mta-calls.log") tries"
rm -f "$SB/nodelete"
wait_for 30 redis_is 0 EXISTS "etrn:msg:mx.lab.test:$C" || fail "not finished after the repair"
[ ! -f "$PF_SPOOL/hold/$C" ] || fail "$C left on hold"
sleep 1
[ "$(dsn_count)" = 2 ] || fail "DSNs: $(dsn_count), want 2 (one each)"
[ "$(sb_redis HGET etrn:stats:dialup2.test expired)" = 2 ] || fail "expired counter"
pass "postsuper -d deleting again: file and record gone, still one DSN per message"
