#!/bin/bash
# t-postfix-lines - one set of Postfix lines: README.md's marked blocks
# (<!-- postfix: main.cf -->, master.cf, etrn-policy and <!-- openetrn.conf:
# postfix -->) are the reference; contrib/postfix/*.snippet (their lines
# that are not comments), etrn-milter(8), etrn-policy(8) and etrnd(8) must
# give the same lines.  Then Postfix itself, on a scratch copy of Debian's
# stock main.cf and master.cf with the lines added, must take them without
# a warning, with the values meant (postconf -n, -M, -P).  Needs no root
# and starts nothing.
set -eu
top=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$top/tests/lib/standalone.sh"
npass=0 nfail=0

# snippet_lines FILE - a snippet's lines that are not comments or blank
snippet_lines() {
	grep -v -e '^#' -e '^[[:space:]]*$' "$top/contrib/postfix/$1"
}

# man_block PAGE AFTER [N] - the Nth (default 1st) .EX block after the
# first line AFTER in man/PAGE, roff escapes undone
man_block() {
	awk -v after="$2" -v n="${3:-1}" '
		$0 == after { on = 1; next }
		on && $0 == ".EX" { k++; if (k == n) { inex = 1; next } }
		inex && $0 == ".EE" { exit }
		inex { gsub(/\\-/, "-"); gsub(/\\e/, "\\"); print }' \
	    "$top/man/$1"
}

# same WHAT WANT GOT - compare two texts line by line
same() {
	if [ -z "$2" ]; then
		fail "$1: the reference block is empty"
	elif [ "$2" = "$3" ]; then
		pass "$1"
	else
		fail "$1 differs from README.md:"
		diff <(printf '%s\n' "$2") <(printf '%s\n' "$3") || true
	fi
}

main_cf=$(readme_block "postfix: main.cf")
master_cf=$(readme_block "postfix: master.cf")
policy_cf=$(readme_block "postfix: etrn-policy")
oe_conf=$(readme_block "openetrn.conf: postfix")

same "contrib/postfix/main.cf.snippet" "$main_cf" \
    "$(snippet_lines main.cf.snippet)"
same "contrib/postfix/master.cf.snippet" "$master_cf" \
    "$(snippet_lines master.cf.snippet)"
same "contrib/postfix/etrn-policy.snippet" "$policy_cf" \
    "$(snippet_lines etrn-policy.snippet)"
same "etrn-milter(8) main.cf" "$main_cf" \
    "$(man_block etrn-milter.8 '.SS main.cf')"
same "etrn-milter(8) master.cf" "$master_cf" \
    "$(man_block etrn-milter.8 '.SS master.cf')"
same "etrn-milter(8) openetrn.conf" "$oe_conf" \
    "$(man_block etrn-milter.8 '.SS master.cf' 2)"
same "etrn-policy(8) main.cf" "$policy_cf" \
    "$(man_block etrn-policy.8 '.SH POSTFIX CONFIGURATION')"
# etrnd(8) sets the lifetimes with postconf -e: each value as in main.cf.
lifetimes=$(man_block etrnd.8 '.SS Postfix' |
    sed -n 's/^postconf -e //p' | tr ' ' '\n' | sed 's/=/ = /')
[ -n "$lifetimes" ] || fail "etrnd(8): no postconf -e line found"
while IFS= read -r l; do
	case $'\n'$main_cf$'\n' in
	*$'\n'"$l"$'\n'*) pass "etrnd(8): $l" ;;
	*) fail "etrnd(8): \"$l\" is not a line of README's main.cf" ;;
	esac
done <<<"$lifetimes"
# The snippets name the same openetrn.conf settings as README.md.
while IFS= read -r l; do
	if grep -q -F "$l" "$top/contrib/postfix/master.cf.snippet"; then
		pass "master.cf.snippet says $l"
	else
		fail "master.cf.snippet does not say $l"
	fi
done <<<"$oe_conf"

# Postfix takes them, on Debian's stock files.
command -v postconf >/dev/null || PATH=$PATH:/usr/sbin
if ! command -v postconf >/dev/null ||
    [ ! -f /usr/share/postfix/main.cf.debian ]; then
	echo "postconf or /usr/share/postfix/main.cf.debian missing:" \
	    "Postfix's own check not run"
else
	T=$(mktemp -d "${TMPDIR:-/tmp}/t-postfix-lines.XXXXXX")
	trap 'set +e; rm -rf "$T"' EXIT
	cp /usr/share/postfix/main.cf.debian "$T/main.cf"
	cp /usr/share/postfix/master.cf.dist "$T/master.cf"
	printf '%s\n' "$main_cf" "$policy_cf" >>"$T/main.cf"
	printf '%s\n' "$master_cf" >>"$T/master.cf"
	out=$(postconf -c "$T" -n 2>"$T/err") || fail "postconf -n failed"
	while IFS= read -r l; do
		grep -qxF "$l" <<<"$out" && continue
		fail "postconf -n does not show \"$l\""
	done <<<"$main_cf"$'\n'"$policy_cf"
	out=$(postconf -c "$T" -M 2>>"$T/err") || fail "postconf -M failed"
	for svc in 127.0.0.1:10026 127.0.0.1:10027; do
		grep -q "^$svc *inet *n *- *n *- *- *smtpd" <<<"$out" ||
		    fail "postconf -M: no $svc smtpd service"
	done
	out=$(postconf -c "$T" -P 2>>"$T/err") || fail "postconf -P failed"
	for p in 10026/inet/syslog_name=postfix/reinject \
	    10026/inet/smtpd_relay_restrictions=permit_mynetworks,reject \
	    10027/inet/smtpd_milters= \
	    10027/inet/smtpd_client_restrictions=check_client_access,static:HOLD
	do
		want="127.0.0.1:${p%%=*} = ${p#*=}"
		want=${want% }	# postconf prints "name =" for an empty value
		grep -qxF "$want" <<<"$out" || fail "postconf -P: no $want"
	done
	if [ -s "$T/err" ]; then
		fail "postconf warned:"
		cat "$T/err"
	else
		pass "Postfix takes the lines on Debian's stock main.cf and" \
		    "master.cf without a warning"
	fi
fi
echo "$npass passed, $nfail failed"
[ "$nfail" = 0 ]
