#!/bin/bash
# t-units - the systemd units, tmpfiles.d and sysusers.d files as `make
# install` writes them into a DESTDIR: each unit passes `systemd-analyze
# verify` (run against the installed programs; no systemd needed as PID
# 1), starts its program with -f and the configuration of this prefix,
# is ordered before Postfix (postfix.service and, where Postfix's units
# have it, the instance postfix@-.service), and has the `systemd-analyze
# security` exposure docs/packaging.md gives.  The tmpfiles.d lines create /run/openetrn and the spool socket
# directory with their owners and modes in a scratch root, and the
# sysusers.d line creates the openetrn account there.  In a sandbox
# (private Postfix and Redis): etrnd runs under its unit's capability
# bounding set and NoNewPrivileges, says READY=1 on NOTIFY_SOCKET (when
# built with libsystemd), releases mail and sends a DSN through
# sendmail(1); each unit's ExecReload signal, sent to the real
# daemon, makes it log "reloaded" and keep running, and etrn-milter's
# is not SIGHUP (libmilter stops on it).  Skipped (77) in a sanitizer
# build (it tests what is shipped; the gcc run covers it) and without
# systemd-analyze.
set -eu
. "${top_srcdir:-$(dirname "$0")/../..}/tests/lib/sandbox.sh"
sb_init install-units
for t in systemd-analyze systemd-tmpfiles systemd-sysusers; do
	command -v "$t" >/dev/null 2>&1 || skip "$t not installed"
done
bdir=${OPENETRN_BUILDDIR:-${top_builddir:-$SB_SRCDIR}}
for b in etrn-milter etrnd/etrnd policy/etrn-policy; do
	[ -x "$bdir/$b" ] || fail "$bdir/$b not built"
	if nm "$bdir/$b" 2>/dev/null | grep -q '__asan_init\|__ubsan_handle'
	then
		skip "$b is built with sanitizers: the gcc build tests the units"
	fi
done

D=$SB/dest
make -s -C "$bdir" install DESTDIR="$D" >"$SB/install.log" 2>&1 ||
    fail "make install DESTDIR: $(tail -n 5 "$SB/install.log")"
unitdir=$(dirname "$(find "$D" -name etrn-milter.service | head -n 1)")
[ "$unitdir" != . ] ||
    skip "configured --with-systemdsystemunitdir=no: no units installed"
tmpfiles=$(find "$D" -path '*/tmpfiles.d/openetrn.conf')
sysusers=$(find "$D" -path '*/sysusers.d/openetrn.conf')
[ -n "$tmpfiles" ] && [ -n "$sysusers" ] ||
    fail "tmpfiles.d or sysusers.d file not installed: $(find "$D" -type f)"

# unit_value UNIT KEY - the value of KEY= in the installed UNIT
unit_value() {
	sed -n "s|^$2=||p" "$unitdir/$1.service"
}

mkdir "$SB/units"
for u in etrn-milter etrnd etrn-policy; do
	[ "$(unit_value "$u" Type)" = notify ] || fail "$u: Type is not notify"
	exec_start=$(unit_value "$u" ExecStart)
	set -- $exec_start
	[ $# -eq 4 ] && [ "$2 $3" = "-f -c" ] ||
	    fail "$u: ExecStart=$exec_start (want PROGRAM -f -c FILE)"
	[ "${1##*/}" = "$u" ] && [ -x "$D$1" ] ||
	    fail "$u: ExecStart names $1, not the installed program"
	case $4 in
	/*/openetrn/openetrn.conf) ;;
	*) fail "$u: configuration $4 is not SYSCONFDIR/openetrn/openetrn.conf" ;;
	esac
	# Debian's Postfix runs in postfix@-.service, not postfix.service.
	for pf in postfix.service postfix@-.service; do
		[ "$pf" = postfix.service ] ||
		    [ -f /lib/systemd/system/postfix@.service ] ||
		    [ -f /usr/lib/systemd/system/postfix@.service ] || continue
		case " $(unit_value "$u" Before) " in
		*" $pf "*) ;;
		*) fail "$u: not Before=$pf" ;;
		esac
	done
	# Verified against the programs in the DESTDIR.
	sed "s|^ExecStart=/|ExecStart=$D/|" "$unitdir/$u.service" \
	    >"$SB/units/$u.service"
done
out=$(cd "$SB/units" && systemd-analyze verify --man=no \
    etrn-milter.service etrnd.service etrn-policy.service 2>&1) ||
    fail "systemd-analyze verify: $out"
[ -z "$out" ] || fail "systemd-analyze verify complains: $out"
pass "3 units pass systemd-analyze verify; Type=notify, PROGRAM -f -c CONF"

# The exposure figures docs/packaging.md gives.
doc=${top_srcdir:-$SB_SRCDIR}/docs/packaging.md
for u in etrn-milter etrnd etrn-policy; do
	got=$(systemd-analyze security --offline=true "$SB/units/$u.service" \
	    2>&1 | sed -n 's/.*Overall exposure level for .*: \([0-9.]*\) .*/\1/p')
	want=$(sed -n "s/^| \`$u.service\` | \([0-9.]*\) |\$/\1/p" "$doc")
	[ -n "$got" ] && [ "$got" = "$want" ] ||
	    fail "$u: systemd-analyze security says ${got:-nothing}," \
	    "docs/packaging.md ${want:-nothing}"
done
pass "systemd-analyze security: the exposure docs/packaging.md gives"

# The tmpfiles.d lines, applied to a scratch root with this host's
# accounts (and a postfix group if the host has none).
R=$SB/root
mkdir -p "$R/etc"
cp /etc/passwd /etc/group "$R/etc/"
grep -q '^postfix:' "$R/etc/group" || echo "postfix:x:4711:" >>"$R/etc/group"
out=$(systemd-tmpfiles --root="$R" --create "$tmpfiles" 2>&1) ||
    fail "systemd-tmpfiles: $out"
for want in "run/openetrn root:root 755" \
    "var/spool/postfix/openetrn root:postfix 750"; do
	set -- $want
	got=$(stat -c '%U:%G %a' "$R/$1" 2>/dev/null) || got=missing
	[ "$got" = "$2 $3" ] || fail "tmpfiles.d: /$1 is $got, want $2 $3"
done
pass "tmpfiles.d: /run/openetrn root:root 0755," \
    "/var/spool/postfix/openetrn root:postfix 0750"
mkdir "$SB/empty"
out=$(systemd-sysusers --dry-run --root="$SB/empty" "$sysusers" 2>&1) ||
    fail "systemd-sysusers: $out"
case $out in
*"Creating user 'openetrn'"*) ;;
*) fail "sysusers.d does not create openetrn: $out" ;;
esac
pass "sysusers.d creates the openetrn account"

# etrnd as its unit runs it: the unit's bounding set and
# NoNewPrivileges (setpriv; mount namespaces are not emulated), against
# the sandbox's Postfix.  Its queue runner releases held mail (postsuper,
# postqueue) and sends an expiry DSN through sendmail(1), whose postdrop
# then runs without its setgid; SIGHUP reaches the listener, which runs
# as `user`.
etrnd_pid= notify_pid=
units_cleanup() {
	local rc=$?
	set +e
	if [ -n "$notify_pid" ]; then
		kill "$notify_pid" 2>/dev/null
		wait "$notify_pid" 2>/dev/null
	fi
	if [ -n "$etrnd_pid" ]; then
		# Without CAP_KILL it cannot stop its listener, nor itself.
		kill "$etrnd_pid" 2>/dev/null
		wait_for 10 eval '! ps -o stat= -p "$etrnd_pid" | grep -qv Z'
		kill -KILL $(ps -o pid= --ppid "$etrnd_pid") "$etrnd_pid" \
		    2>/dev/null
		wait "$etrnd_pid" 2>/dev/null
	fi
	sb_cleanup "$rc"
}
trap units_cleanup EXIT
SB_POLICY=1 SB_PROMOTE=0 SB_DSN_SERVER=none sb_start
. "$SB_SRCDIR/tests/lib/common.sh"
bset=-all
for c in $(unit_value etrnd CapabilityBoundingSet); do
	bset="$bset,+$(printf '%s' "${c#CAP_}" | tr '[:upper:]' '[:lower:]')"
done
nnp=
[ "$(unit_value etrnd NoNewPrivileges)" = yes ] && nnp=--no-new-privs
# Type=notify: what etrnd tells a service manager, read from a socket
# of ours named by NOTIFY_SOCKET, as systemd's would be.
python3 -c '
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
with open(sys.argv[2], "a") as f:
    while True:
        f.write(s.recv(4096).decode(errors="replace") + "\n")
        f.flush()
' "$SB/run/notify.sock" "$SB/log/notify.log" &
notify_pid=$!
wait_for 10 test -S "$SB/run/notify.sock" || fail "no notify socket"
NOTIFY_SOCKET=$SB/run/notify.sock setpriv $nnp --bounding-set="$bset" \
    --inh-caps=-all "$bdir/etrnd/etrnd" -f -c "$OPENETRN_CONF" \
    >"$SB/log/etrnd.log" 2>&1 &
etrnd_pid=$!
wait_for 30 grep -q 'listener ready' "$SB/log/etrnd.log" ||
    fail "etrnd did not start under $nnp --bounding-set=$bset"
if grep -q '^#define HAVE_LIBSYSTEMD 1' "$bdir/config.h" ||
    nm "$bdir/etrnd/etrnd" 2>/dev/null | grep -q ' U sd_notify'; then
	wait_for 30 grep -q '^READY=1' "$SB/log/notify.log" ||
	    fail "etrnd sent no READY=1: $(cat "$SB/log/notify.log")"
	pass "etrnd tells the service manager READY=1 (Type=notify)"
else
	echo "NOTE: etrnd is built without sd_notify: Type=notify not checked"
fi
ETRND_PID=$etrnd_pid
[ -z "$nnp" ] || grep -q '^NoNewPrivs:[[:space:]]*1$' "/proc/$etrnd_pid/status" ||
    fail "etrnd runs without no_new_privs"

sb_redis HSET etrn:domain:dialup2.test hold_time 3 warn_time 0 >/dev/null
sleep 2		# domain_refresh
send --from s@example.org --to u1@dialup.test >/dev/null || fail "send"
send --from e@example.org --to v1@dialup2.test --header 'Subject: to expire' \
    >/dev/null || fail "send"
wait_for 30 redis_is 1 ZCARD etrn:held:dialup.test ||
    fail "etrnd did not count the held message"
out=$(etrn dialup.test)
case $out in
25[0-3]*) ;;
*) fail "ETRN: $out" ;;
esac
wait_for 60 sink_is customer 1 ||
    fail "not released: customer has $(sb_sink_count customer)"
wait_for 60 eval '[ "$(dsn_count)" = 1 ]' ||
    fail "no expiry DSN: $(dsn_count) in the internet sink"
pass "etrnd with $(unit_value etrnd CapabilityBoundingSet | wc -w) capabilities" \
    "and NoNewPrivileges released mail and sent a DSN by sendmail(1)"

# Reload: the signal of each unit's ExecReload, sent to the daemon.
for u in etrn-milter:MILTER_PID etrnd:ETRND_PID etrn-policy:POLICY_PID; do
	name=${u%%:*}
	var=${u##*:}
	pid=${!var}
	reload=$(unit_value "$name" ExecReload)
	sig=$(printf '%s\n' "$reload" |
	    sed -n 's|^/bin/kill -\([A-Z0-9]*\) \$MAINPID$|\1|p')
	[ -n "$sig" ] ||
	    fail "$name: ExecReload=$reload (want /bin/kill -SIG \$MAINPID)"
	if [ "$name" = etrn-milter ] && [ "$sig" = HUP ]; then
		fail "etrn-milter's unit reloads with SIGHUP, which stops it"
	fi
	log=$SB/log/$name.log
	n=$(grep -c 'reloaded ' "$log" || true)
	kill -"$sig" "$pid" || fail "$name: kill -$sig $pid"
	wait_for 10 sh -c "[ \$(grep -c 'reloaded ' '$log') -gt $n ]" ||
	    fail "$name logged no reload after SIG$sig"
	sleep 1
	kill -0 "$pid" 2>/dev/null || fail "$name stopped after SIG$sig"
	pass "$name: ExecReload sends SIG$sig; it reloads and keeps running"
done
