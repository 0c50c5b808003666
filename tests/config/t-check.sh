#!/bin/bash
# t-check - etrn-milter, etrnd and etrn-policy -t check the host against
# the configuration: a user that does not exist, a missing socket
# directory, a group-writable one, a socket group that does not exist,
# a postfix_command_directory without postsuper, a sendmail_command that
# is not executable, a missing hold_secret_file; a reinject_server that
# cannot be asked is a warning only.  Each mistake makes -t
# exit 1 with a line naming FILE:LINE, the setting and the reason; all
# mistakes of a file are reported together; a setting left at its
# default says "(default)"; a configuration file `user` cannot read is
# refused; a correct file passes.  Not run as root, the
# ownership checks are reported as not made instead of failing.
set -eu
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=../lib/core.sh
. "$top_srcdir/tests/lib/core.sh"
B=${OPENETRN_BUILDDIR:-$top_srcdir}
MILTER=$B/etrn-milter
ETRND=$B/etrnd/etrnd
POLICY=$B/policy/etrn-policy
for b in "$MILTER" "$ETRND" "$POLICY"; do
	[ -x "$b" ] || skip "$b not built"
done
[ "$(id -u)" = 0 ] || skip "needs root (ownership checks)"
T=$(mktemp -d "${TMPDIR:-/tmp}/openetrn-check.XXXX")
cleanup() {
	local rc=$?
	set +e
	rm -rf "$T"
	exit "$rc"
}
trap cleanup EXIT

chmod 755 "$T"
mkdir "$T/run" "$T/bin" "$T/gw"
chmod 755 "$T/run" "$T/bin"
chmod 775 "$T/gw"	# group-writable: root must refuse it
for c in postsuper postqueue postcat postconf postkick sendmail; do
	printf '#!/bin/sh\nexit 0\n' >"$T/bin/$c"
	chmod 755 "$T/bin/$c"
done
(umask 077 && head -c 32 /dev/urandom >"$T/hold.secret")
user=nobody
getent passwd "$user" >/dev/null || user=$(id -un)
F=$T/c.conf

# The correct file, one setting a line: LINE N is its Nth entry.
printf '%s\n' \
    "hostname = mx.check.test" \
    "redis_server = unix:$T/no-redis.sock" \
    "hold_secret_file = $T/hold.secret" \
    "milter_socket = unix:$T/run/milter.sock" \
    "milter_pid_file = $T/run/milter.pid" \
    "policy_listen = unix:$T/run/policy.sock" \
    "policy_pid_file = $T/run/policy.pid" \
    "postfix_command_directory = $T/bin" \
    "dsn_server = inet:127.0.0.1:10027" \
    "mta = postfix" \
    "user = $user" >"$T/good.conf"

# conf SETTING... - good.conf with each "name = value" in the place of
# the line of that name (or added at the end), "name =" alone deleting
# it (its default applies); written to $F
conf() {
	local l
	rm -f "$F"
	cp "$T/good.conf" "$F"
	for l in "$@"; do
		awk -v n="${l%% =*}" -v l="$l" '
		    $1 == n { found = 1; if (l !~ /= *$/) print l; next }
		    { print }
		    END { if (!found) print l }' "$F" >"$F.new"
		mv "$F.new" "$F"
	done
}

# check PROG WANT_RC PATTERN SETTING... - -t on conf SETTING...; PATTERN
# (grep -E) must be in its output
check() {
	local prog=$1 want=$2 pat=$3 rc=0
	shift 3
	conf "$@"
	out=$("$prog" -t -c "$F" 2>&1) || rc=$?
	[ "$rc" = "$want" ] ||
	    fail "$(basename "$prog") -t exit $rc, want $want ($*): $out"
	grep -Eq -- "$pat" <<<"$out" ||
	    fail "$(basename "$prog") -t: no \"$pat\" in: $out"
}

for p in "$MILTER" "$ETRND" "$POLICY"; do
	check "$p" 0 ": configuration OK$"
done
check "$MILTER" 0 "configuration OK" "milter_socket_group = $(id -gn)"
pass "a correct file passes -t of all three daemons"

for p in "$MILTER" "$ETRND" "$POLICY"; do
	check "$p" 1 "error: $F:11: user = no-such-user-x: no such user" \
	    "user = no-such-user-x"
done
sed 's/^user = .*/user =/' "$T/good.conf" >"$F"
out=$("$POLICY" -t -c "$F" 2>&1) && fail "empty user passed as root"
grep -q "error: $F:11: user = : empty: set user = openetrn" <<<"$out" ||
    fail "empty user: $out"
pass "a user that does not exist, or none (as root): exit 1, FILE:11 named"

check "$MILTER" 1 "error: $F:4: milter_socket = unix:$T/nodir/m.sock: directory $T/nodir: No such file" \
    "milter_socket = unix:$T/nodir/m.sock"
check "$POLICY" 1 "error: $F:6: policy_listen = unix:$T/nodir/p.sock: directory $T/nodir: No such file" \
    "policy_listen = unix:$T/nodir/p.sock"
pass "a missing socket directory (etrn-milter, etrn-policy)"

check "$MILTER" 1 "error: $F:4: milter_socket = unix:$T/gw/m.sock: directory $T/gw \(uid 0, mode 0775\) is writable by a user other than root" \
    "milter_socket = unix:$T/gw/m.sock"
check "$POLICY" 1 "error: $F:6: policy_listen = unix:$T/gw/p.sock: directory $T/gw \(uid 0, mode 0775\) is writable" \
    "policy_listen = unix:$T/gw/p.sock"
check "$ETRND" 1 "error: $F:12: etrnd_pid_file = $T/gw/etrnd.pid: directory $T/gw .* is writable" \
    "etrnd_pid_file = $T/gw/etrnd.pid"
pass "a group-writable socket or pid file directory"

check "$MILTER" 1 "error: $F:12: milter_socket_group = no-such-group-x: no such group" \
    "milter_socket_group = no-such-group-x"
check "$POLICY" 1 "error: $F:12: policy_socket_group = no-such-group-x: no such group" \
    "policy_socket_group = no-such-group-x"
pass "a socket group that does not exist"

rm "$T/bin/postsuper"
check "$ETRND" 1 "error: $F:8: postfix_command_directory = $T/bin: $T/bin/postsuper: No such file"
printf '#!/bin/sh\n' >"$T/bin/postsuper"	# not executable
check "$ETRND" 1 "error: $F:8: postfix_command_directory = $T/bin: $T/bin/postsuper is not an executable file"
chmod 755 "$T/bin/postsuper"
for c in postqueue postcat postconf postkick; do
	mv "$T/bin/$c" "$T/$c"
	check "$ETRND" 1 "error: $F:8: postfix_command_directory = $T/bin: $T/bin/$c: No such file"
	mv "$T/$c" "$T/bin/$c"
done
mv "$T/bin/sendmail" "$T/sendmail"
check "$ETRND" 0 "configuration OK"	# DSNs go to dsn_server
check "$ETRND" 1 "error: $F:8: postfix_command_directory = $T/bin: $T/bin/sendmail: No such file" \
    "dsn_server ="
mv "$T/sendmail" "$T/bin/sendmail"
check "$ETRND" 1 "error: $F:12: sendmail_command = $T/hold.secret: $T/hold.secret is not an executable file" \
    "mta = sendmail" "sendmail_command = $T/hold.secret"
check "$ETRND" 1 "error: $F:13: sendmail_config_file = $T/none.cf: No such file" \
    "mta = sendmail" "sendmail_command = $T/bin/sendmail" \
    "sendmail_config_file = $T/none.cf"
pass "postfix_command_directory without postsuper (or not executable), postqueue, postcat, postconf, postkick, or sendmail (without dsn_server); sendmail_command not executable; sendmail_config_file missing"

for p in "$MILTER" "$ETRND"; do
	check "$p" 1 "error: $F:3: hold_secret_file = $T/none: .*No such file" \
	    "hold_secret_file = $T/none"
done
check "$POLICY" 0 "configuration OK" "hold_secret_file = $T/none"
pass "a missing hold_secret_file (etrn-milter, etrnd; etrn-policy does not read it)"

# The daemons read the file again as `user`: one it cannot read.
if [ "$user" != root ]; then
	conf
	chmod 600 "$F"
	for p in "$MILTER" "$ETRND" "$POLICY"; do
		out=$("$p" -t -c "$F" 2>&1) && fail "$p -t passed a file $user cannot read"
		grep -q "error: $F:11: user = $user: cannot read $F, as the daemon must to reload it" <<<"$out" ||
		    fail "unreadable file: $out"
	done
	pass "a configuration file \`user' cannot read (all three)"
fi

# Every mistake of a file at once.
check "$MILTER" 1 "error: $F: 4 problems found" "user = no-such-user-x" \
    "milter_socket = unix:$T/gw/m.sock" "milter_pid_file = $T/nodir/m.pid" \
    "milter_socket_group = no-such-group-x"
n=$(grep -c "error: $F:[0-9]*: " <<<"$out" || true)
[ "$n" = 4 ] || fail "want 4 problems, got $n: $out"
pass "four mistakes in one file: all four reported, then the count"

# A default that does not fit this host names itself "(default)".
if [ ! -x /usr/sbin/postsuper ]; then
	check "$ETRND" 1 "error: $F: postfix_command_directory = /usr/sbin \(default\): /usr/sbin/postsuper" \
	    "postfix_command_directory ="
	pass "a default that does not fit: named \"(default)\""
fi
# Without the line, user is openetrn: hide that account (a passwd file
# without it, bind-mounted in a mount namespace of the check's own).
conf "user =" "milter_socket_group = no-such-group-x"
grep -v '^openetrn:' /etc/passwd >"$T/passwd"
chmod 644 "$T/passwd"
out=$(unshare -m sh -c 'mount --bind "$1" /etc/passwd && exec "$2" -t -c "$3"' \
    sh "$T/passwd" "$MILTER" "$F" 2>&1) && fail "-t passed a missing user"
grep -q "error: $F: user = openetrn (default): no such user" <<<"$out" ||
    fail "the default user not named as a default: $out"
grep -q "error: $F:11: milter_socket_group = no-such-group-x" <<<"$out" ||
    fail "group after a deleted line: $out"
pass "line numbers follow the file; defaults named \"(default)\""

# Not root: the ownership rule is not checked, and -t says so.
conf "milter_socket = unix:$T/gw/m.sock"
chmod 644 "$F"
out=$(setpriv --reuid="$(id -u "$user")" --regid="$(id -g "$user")" \
    --clear-groups "$MILTER" -t -c "$F" 2>&1) ||
    fail "not root, -t failed on a check that needs root: $out"
grep -q "note: not run as root: the ownership of socket and pid file directories" <<<"$out" ||
    fail "no note when not root: $out"
pass "not root: ownership not checked, and said so (exit 0)"

# reinject_server is asked for the extensions a split copy needs: one
# that cannot be reached is a warning, not a problem (exit 0).
port=$(free_port)
check "$MILTER" 0 "reinject_server inet:127.0.0.1:$port could not be probed: .*" \
    "reinject_server = inet:127.0.0.1:$port"
grep -q ": configuration OK$" <<<"$out" || fail "unreachable reinject_server: $out"
pass "etrn-milter -t: an unreachable reinject_server is a warning (exit 0)"
