#!/bin/bash
# t-sendmail-noetrn - contrib/sendmail/openetrn.m4 makes Sendmail refuse
# ETRN whatever the .mc defined before it: Sendmail's own generic-linux.mc
# (which defines no PrivacyOptions: cf/m4/cfhead.m4 has already defined
# them as "authwarnings"), plus only the lines that keep a Sendmail private
# to this test (paths, a loopback port) and the include of openetrn.m4,
# gives a .cf with PrivacyOptions=authwarnings,noetrn; that Sendmail,
# running on loopback, answers ETRN with 502 5.7.0.  The lab's own .mc
# defines a site's flags without noetrn: they are kept and noetrn added.
# Skips only when Sendmail cannot be unpacked.
set -eu
. "${top_srcdir:-$(dirname "$0")/../..}/tests/lib/sandbox.sh"
sb_init sm-noetrn
[ "$(id -u)" = 0 ] || skip "needs root"
. "$SB_SRCDIR/tests/lab/sendmail-lab.sh"
sm_require
SB_MILTER=none sb_start
. "$SB_SRCDIR/tests/lib/common.sh"
sm_start	# etrn-milter, which the stock Sendmail's filter line names

# The lab's .mc: its own flags, then openetrn.m4.
grep -qx 'O PrivacyOptions=authwarnings,noexpn,novrfy,noetrn' \
    "$SM_DIR/etc/sendmail.cf" ||
    fail "lab .cf: $(grep PrivacyOptions "$SM_DIR/etc/sendmail.cf")"
pass "a .mc's own PrivacyOptions are kept and noetrn added"

# Sendmail's generic-linux.mc, with before its MAILER lines the private
# definitions and openetrn.m4, nothing else.
D=$SB/stock
P=$((SM_PORT + 100))	# in the sandbox's free odd hundred
! sm_listening "$P" || fail "port $P is in use"
mkdir -p "$D/etc" "$D/spool" "$D/run"
chmod 700 "$D/spool"
chmod 755 "$D/run"
stock=$SM_CFDIR/cf/generic-linux.mc
[ -f "$stock" ] || fail "no $stock"
{
	sed '/^MAILER(/,$d' "$stock"
	sm_private_defs "$D"
	printf '%s\n' \
	    "DAEMON_OPTIONS(\`Family=inet, Addr=127.0.0.1, Port=$P, Name=MTA')dnl" \
	    "define(\`OPENETRN_MILTER_SOCKET', \`unix:$SM_DIR/run/milter.sock')dnl" \
	    "include(\`$SB_SRCDIR/contrib/sendmail/openetrn.m4')dnl"
	sed -n '/^MAILER(/,$p' "$stock"
} >"$D/etc/sendmail.mc"
grep -q PRIVACY "$D/etc/sendmail.mc" && fail "the .mc defines PrivacyOptions"
sm_private_files "$D"
m4 -D_CF_DIR_="$SM_CFDIR/" "$SM_CFDIR/m4/cf.m4" "$D/etc/sendmail.mc" \
    >"$D/etc/sendmail.cf" || fail "m4 could not build the stock .cf"

sm_spawn "$D/sendmail.log" "${SM_UTS[@]}" "$SM_BIN" \
    -C "$D/etc/sendmail.cf" -bD
wait_for 30 sm_listening "$P" || fail "the stock Sendmail did not listen on $P"
out=$(python3 "$SB_SRCDIR/tests/lib/etrn.py" "$P" dialup.test)
case $out in
"502 5.7.0 "*) ;;
*) fail "ETRN to the stock Sendmail: \"$out\", want 502 5.7.0" ;;
esac
pass "ETRN to Sendmail built from generic-linux.mc + openetrn.m4: $out"
grep -qx 'O PrivacyOptions=authwarnings,noetrn' "$D/etc/sendmail.cf" ||
    fail "stock .cf: $(grep PrivacyOptions "$D/etc/sendmail.cf")"
pass "its .cf: PrivacyOptions=authwarnings,noetrn"
