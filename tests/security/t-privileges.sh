#!/bin/bash
# t-privileges - who runs what, and with which file modes.  etrn-milter,
# etrn-policy and etrnd's forked listener run as `user` (openetrn): its
# uid and gid (real, effective, saved, filesystem), only its own groups
# (root's supplementary groups dropped) and no capabilities; etrnd's
# queue runner alone stays root (postsuper needs it).  The milter's and
# the policy server's sockets are 0660 openetrn:postfix, the pid files
# writable by their owner only.  The daemons still work, and reload,
# when openetrn.conf is made 0640 root:openetrn (the mode for a file
# with redis_password).  `make install` into a DESTDIR installs no
# setuid, setgid or world-writable file and no world-readable
# configuration file.
set -eu
. "${top_srcdir:-$(dirname "$0")/../..}/tests/lib/sandbox.sh"
sb_init sec-priv
SB_ETRND=1 SB_POLICY=1 SB_EXTRA_CONF="milter_pid_file = $SB/run/d-milter.pid
etrnd_pid_file = $SB/run/d-etrnd.pid
policy_pid_file = $SB/run/d-policy.pid" sb_start
. "$SB_SRCDIR/tests/lib/common.sh"
. "$SB_SRCDIR/tests/security/seclib.sh"

uid=$(id -u openetrn)
gid=$(id -g openetrn)
groups=$(id -G openetrn | tr ' ' '\n' | sort -n | paste -sd' ')
# status PID FIELD - a field of /proc/PID/status, blanks squeezed
status() { sed -n "s/^$2:[[:space:]]*//p" "/proc/$1/status" | tr -s ' \t' ' ' | sed 's/ $//'; }
# unprivileged NAME PID - runs as openetrn, its groups only, no capabilities
unprivileged() {
	[ "$(status "$2" Uid)" = "$uid $uid $uid $uid" ] ||
	    fail "$1 (pid $2) Uid: $(status "$2" Uid)"
	[ "$(status "$2" Gid)" = "$gid $gid $gid $gid" ] ||
	    fail "$1 (pid $2) Gid: $(status "$2" Gid)"
	local g
	g=$(status "$2" Groups | tr ' ' '\n' | sed '/^$/d' | sort -n | paste -sd' ')
	[ "$g" = "$groups" ] || fail "$1 (pid $2) Groups: '$g', want '$groups'"
	[ "$(status "$2" CapEff)" = 0000000000000000 ] ||
	    fail "$1 (pid $2) CapEff: $(status "$2" CapEff)"
	[ "$(status "$2" CapPrm)" = 0000000000000000 ] ||
	    fail "$1 (pid $2) CapPrm: $(status "$2" CapPrm)"
}
listener=$(pgrep -P "$ETRND_PID" -x etrnd | head -n 1) || true
[ -n "$listener" ] || fail "no listener child of etrnd $ETRND_PID"
unprivileged etrn-milter "$MILTER_PID"
unprivileged etrn-policy "$POLICY_PID"
unprivileged "etrnd listener" "$listener"
[ "$(status "$ETRND_PID" Uid)" = "0 0 0 0" ] ||
    fail "etrnd's queue runner is not root: $(status "$ETRND_PID" Uid)"
pass "etrn-milter, etrn-policy, etrnd's listener: uid $uid gid $gid groups '$groups', no capabilities; queue runner root"

# mode_is PATH MODE OWNER:GROUP
mode_is() {
	local got
	got=$(stat -c '%a %U:%G' "$1") || fail "no $1"
	[ "$got" = "$2 $3" ] || fail "$1: $got, want $2 $3"
}
mode_is "$MILTER_SOCK" 660 openetrn:postfix
mode_is "$POLICY_SOCK" 660 openetrn:postfix
for f in "$SB/run/d-milter.pid" "$SB/run/d-etrnd.pid" "$SB/run/d-policy.pid"; do
	[ -f "$f" ] || fail "no pid file $f"
	m=$(stat -c '%a' "$f")
	case $m in
	600 | 640 | 644) ;;
	*) fail "$f: mode $m" ;;
	esac
done
[ "$(cat "$SB/run/d-etrnd.pid")" = "$ETRND_PID" ] || fail "etrnd pid file"
[ "$(cat "$SB/run/d-policy.pid")" = "$POLICY_PID" ] || fail "policy pid file"
[ "$(cat "$SB/run/d-milter.pid")" = "$MILTER_PID" ] || fail "milter pid file"
# Someone who is neither openetrn nor in group postfix cannot connect.
out=$(runuser -u nobody -- python3 -c '
import socket, sys
for p in sys.argv[1:]:
    s = socket.socket(socket.AF_UNIX)
    try:
        s.connect(p); print("connected", p)
    except PermissionError:
        pass' "$MILTER_SOCK" "$POLICY_SOCK" 2>&1) || fail "runuser: $out"
[ -z "$out" ] || fail "user nobody could connect: $out"
pass "sockets 0660 openetrn:postfix (nobody cannot connect), pid files not group/world-writable"

# A configuration with a secret: 0640 root:openetrn.  Each daemon
# rereads it as openetrn at reload and keeps working.
chgrp openetrn "$OPENETRN_CONF"
chmod 0640 "$OPENETRN_CONF"
kill -HUP "$ETRND_PID" "$POLICY_PID"
kill -USR1 "$MILTER_PID"
wait_for 10 grep -q reloaded "$SB_LOG_DIR/etrnd.log" || fail "etrnd reload"
wait_for 10 grep -q reloaded "$SB_LOG_DIR/etrn-policy.log" || fail "policy reload"
wait_for 10 grep -q reloaded "$MILTER_LOG" || fail "milter reload"
grep -qi 'reload failed\|cannot open\|permission denied' "$SB_LOG_DIR/etrnd.log" \
    "$SB_LOG_DIR/etrn-policy.log" "$MILTER_LOG" && fail "a reload failed"
sb_swaks -f s@example.org -t u1@dialup.test >/dev/null || fail "swaks"
wait_for 10 hold_is 1 || fail "not held"
out=$(etrn dialup.test)
[ "$out" = "253 OK, 1 pending message for node dialup.test started" ] ||
    fail "ETRN: $out"
wait_for 20 sink_is customer 1 || fail "not delivered"
# ... and the listener, restarted as openetrn, reads it too.
kill -TERM "$listener"
wait_for 15 sh -c "pgrep -P $ETRND_PID -x etrnd | grep -vx $listener" ||
    fail "listener not restarted"
wait_for 10 sh -c "python3 '$SB_SRCDIR/tests/lib/etrn.py' $ETRND_PORT dialup.test | grep -q '^25[01] '" ||
    fail "restarted listener does not answer"
# ... while user nobody cannot read it.
runuser -u nobody -- cat "$OPENETRN_CONF" >/dev/null 2>&1 &&
    fail "nobody can read $OPENETRN_CONF"
pass "openetrn.conf 0640 root:openetrn: reloads, a restarted listener, hold and ETRN work"

# What make install puts into a DESTDIR.
if command -v make >/dev/null 2>&1 && [ -f "$OPENETRN_BUILDDIR/Makefile" ]; then
	dest=$SB/destdir
	make -s -C "$OPENETRN_BUILDDIR" install DESTDIR="$dest" \
	    >"$SB/install.log" 2>&1 || fail "make install: $(tail "$SB/install.log")"
	n=$(find "$dest" -type f | wc -l)
	[ "$n" -ge 5 ] || fail "make install put $n files into $dest"
	bad=$(find "$dest" \( -perm -4000 -o -perm -2000 -o -perm -0002 \) \
	    -print)
	[ -z "$bad" ] || fail "setuid, setgid or world-writable: $bad"
	for b in etrn-milter etrnd etrnctl etrn-policy; do
		[ -n "$(find "$dest" -type f -name "$b" -perm -0100)" ] ||
		    fail "$b not installed"
	done
	# openetrn's own; tmpfiles.d and sysusers.d files are systemd's (0644).
	bad=$(find "$dest" -type f -path '*/openetrn/*.conf' -perm -0004 -print)
	[ -z "$bad" ] || fail "world-readable configuration: $bad"
	# A package build must not ship one key for every installation.
	bad=$(find "$dest" -name 'hold.secret*' -print)
	[ -z "$bad" ] || fail "a hold secret in the DESTDIR: $bad"
	pass "make install: $n files, none setuid/setgid/world-writable, no world-readable *.conf, no hold secret"
fi

stop_and_check_logs
pass "clean stop: no daemon ignored SIGTERM, no sanitizer report in any log"
