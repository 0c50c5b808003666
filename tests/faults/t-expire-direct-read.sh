#!/bin/bash
# t-expire-direct-read - expiry reads a held message's headers from its
# queue file (one pfqfile reader per sweep), not with postcat; postcat
# runs only for a file the reader is in doubt about:
#   two held messages expired in one sweep: their DSNs go out, the files
#     and records go, and postcat never ran with -h for either;
#   a held file no longer owned by mail_owner (the reader refuses it:
#     PFQF_DOUBT): the reader says so in etrnd's log, postcat -h reads
#     that one message, its token is found and it expires with one DSN,
#     never dropped as "does not carry token".
set -eu
. "${top_srcdir:-$(dirname "$0")/../..}/tests/lib/sandbox.sh"
sb_init f-directread
. "$SB_SRCDIR/tests/faults/lib.sh"
mta_wrappers	# postcat's calls logged in mta-calls.log
SB_ETRND=1 SB_EXTRA_CONF="postfix_command_directory = $SB/bin" sb_start
. "$SB_SRCDIR/tests/lib/common.sh"
ELOG=$SB/log/etrnd.log
touch "$SB/mta-calls.log"

# postcat_h ID - how many times postcat read ID's headers
postcat_h() {
	grep -c "postcat .*-q -h $1\$" "$SB/mta-calls.log" || true
}

# 1. Plain held mail: read directly, no postcat.
A=$(held_one a1@dialup.test)
B=$(held_one b1@dialup.test)
ctl expire "$A" "$B" >/dev/null || fail "etrnctl expire"
wait_for 30 eval 'redis_is 0 EXISTS "etrn:msg:mx.lab.test:$A" && redis_is 0 EXISTS "etrn:msg:mx.lab.test:$B"' ||
    fail "not expired"
wait_for 20 eval '[ "$(dsn_count)" = 2 ]' || fail "DSNs: $(dsn_count)"
grep -q "$A: expired domain=dialup.test .* dsn=sent" "$ELOG" || fail "$A not expired with a DSN"
grep -q "$B: expired domain=dialup.test .* dsn=sent" "$ELOG" || fail "$B not expired with a DSN"
[ "$(postcat_h "$A")" = 0 ] && [ "$(postcat_h "$B")" = 0 ] ||
    fail "postcat read the headers: $(grep postcat "$SB/mta-calls.log" | tr '\n' ';')"
! grep -q "queue file reader not started" "$ELOG" || fail "the reader did not start"
pass "two held messages expired with one DSN each, their headers read without postcat"

# 2. A file the reader is in doubt about: postcat for that one.
C=$(held_one c1@dialup.test)
chown root "$PF_SPOOL/hold/$C"
ctl expire "$C" >/dev/null || fail "etrnctl expire"
wait_for 30 redis_is 0 EXISTS "etrn:msg:mx.lab.test:$C" || fail "$C not expired"
wait_for 20 eval '[ "$(dsn_count)" = 3 ]' || fail "DSNs: $(dsn_count)"
grep -q "$C: pfqfile: hold/$C: " "$ELOG" || fail "the reader's doubt is not logged"
[ "$(postcat_h "$C")" -ge 1 ] || fail "postcat did not read $C"
grep -q "$C: expired domain=dialup.test .* dsn=sent" "$ELOG" || fail "$C not expired with a DSN"
! grep -q "$C: queue file does not carry token" "$ELOG" || fail "$C dropped as untagged"
[ ! -f "$PF_SPOOL/hold/$C" ] || fail "$C left on hold"
pass "a file the reader doubts ($(grep -m1 -o "pfqfile: hold/$C: .*" "$ELOG" | cut -c1-80)) read with postcat, expired with one DSN"
