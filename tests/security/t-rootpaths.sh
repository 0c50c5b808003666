#!/bin/bash
# t-rootpaths - root writes nothing through a path another user controls,
# and a daemon started as root must be told whom to run as.  For each of
# etrn-milter, etrn-policy and etrnd, started as root with user =
# openetrn:
#  * its pid file path is a symbolic link, then a hard link, to a
#    root-owned canary file: the daemon starts, the canary keeps its
#    content, owner and mode, and the pid file is a new regular file of
#    root's (mode 0644) with the daemon's pid;
#  * its pid file (and the milter's and policy server's socket) in a
#    directory openetrn owns: the daemon refuses to start, naming the
#    directory, and creates nothing there;
#  * the sockets are born in the root-only directory as openetrn, mode
#    0660;
#  * with `user =` (empty) it refuses to start with the error that says
#    to set user = openetrn or user = root; with a user missing from
#    passwd it refuses to start, naming the user, and exits 1 also when
#    started to detach (the check comes first); with no `user` line it runs
#    as openetrn (the default); with `user = root` it starts and stays
#    root.
# Needs root and no Postfix: the null backend, its own Redis.
set -eu

# shellcheck source=../lib/standalone.sh
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/standalone.sh"
dpid=
sa_init rootpaths daemon.log dpid
[ "$(id -u)" = 0 ] || skip "needs root"
for b in etrn-milter policy/etrn-policy etrnd/etrnd; do
	[ -x "$builddir/$b" ] || skip "$builddir/$b not built"
done
if ! getent passwd openetrn >/dev/null; then
	useradd --system --no-create-home --shell /usr/sbin/nologin \
	    openetrn || die "cannot create user openetrn"
fi
uid=$(id -u openetrn)

chmod 755 "$T"
mkdir -m 755 "$T/run"			# root's: the right place
mkdir -m 755 "$T/urun"			# openetrn's: must be refused
make_secret "$T/run/hold.secret"
chown openetrn "$T/urun"
mkdir -m 700 "$T/mtmp"
chown openetrn "$T/mtmp"

# The daemons reach Redis as openetrn too.
"$redis_server" --port 0 --unixsocket "$T/redis.sock" \
    --unixsocketperm 777 --save '' --appendonly no \
    --daemonize no --dir "$T" >"$T/redis.log" 2>&1 &
redis_pid=$!
wait_for 10 redis_up || die "redis-server did not start"
rcli SADD etrn:domains dialup.test >/dev/null

n=0
# conf NAME DIR USERLINE - write $T/NAME.conf for daemon NAME (milter,
# policy, etrnd) with its pid file and socket in DIR; USERLINE is the
# `user` line ("-": none)
conf() {
	local f=$T/$1.conf
	n=$((n + 1))
	{
		echo "hostname = mx$n.test"
		echo "redis_server = unix:$T/redis.sock"
		echo "redis_timeout = 1s"
		echo "domain_refresh = 1s"
		echo "hold_secret_file = $T/run/hold.secret"
		case $1 in
		milter)
			echo "milter_socket = unix:$2/milter.sock"
			echo "milter_socket_group ="
			echo "milter_socket_mode = 0660"
			echo "milter_pid_file = $2/milter.pid"
			echo "tmp_directory = $T/mtmp"
			;;
		policy)
			echo "policy_listen = unix:$2/policy.sock"
			echo "policy_socket_group ="
			echo "policy_pid_file = $2/policy.pid"
			;;
		etrnd)
			echo "etrnd_listen = inet:127.0.0.1:$(free_port)"
			echo "etrnd_pid_file = $2/etrnd.pid"
			echo "mta = null"
			echo "null_backend_log = $T/null.log"
			;;
		esac
		[ "$3" = - ] || echo "$3"
	} >"$f"
	chmod 644 "$f"
}

# bin NAME - the program of daemon NAME
bin() {
	case $1 in
	milter) echo "$builddir/etrn-milter" ;;
	policy) echo "$builddir/policy/etrn-policy" ;;
	etrnd) echo "$builddir/etrnd/etrnd" ;;
	esac
}

# start NAME - start daemon NAME in the foreground, in the background
start() {
	"$(bin "$1")" -f -c "$T/$1.conf" >"$T/daemon.log" 2>&1 &
	dpid=$!
}

# stop - stop the daemon started last
stop() {
	[ -n "$dpid" ] && stop_pid "$dpid"
	dpid=
}

# pid_written FILE - FILE is a regular file (no link) with the pid of $dpid
pid_written() {
	[ -f "$1" ] && [ ! -L "$1" ] && [ "$(cat "$1")" = "$dpid" ]
}

# pid_or_canary FILE CANARY - FILE written, CANARY changed or the daemon gone
pid_or_canary() {
	pid_written "$1" || ! cmp -s "$2" "$2.orig" || exited
}

# exited - the daemon started last is gone
exited() {
	! alive "$dpid"
}

# uid_of PID - the effective uid of PID
uid_of() {
	awk '/^Uid:/ { print $3 }' "/proc/$1/status"
}

# A pid file path that is a link to a root-owned canary.
for d in milter policy etrnd; do
	for kind in symlink hardlink; do
		canary=$T/canary-$d-$kind
		printf 'root canary %s\n' "$kind" >"$canary"
		chmod 600 "$canary"
		cp -p "$canary" "$canary.orig"
		rm -f "$T/run/$d.pid"
		if [ "$kind" = symlink ]; then
			ln -s "$canary" "$T/run/$d.pid"
		else
			ln "$canary" "$T/run/$d.pid"
		fi
		conf "$d" "$T/run" "user = openetrn"
		start "$d"
		wait_for 15 pid_or_canary "$T/run/$d.pid" "$canary" || true
		cmp -s "$canary" "$canary.orig" ||
		    fail "$d ($kind): canary changed: $(cat "$canary")"
		got=$(stat -c '%U:%G %a %h' "$canary")
		[ "$got" = "root:root 600 1" ] ||
		    fail "$d ($kind): canary is $got, want root:root 600 1"
		if ! pid_written "$T/run/$d.pid"; then
			fail "$d ($kind): pid file not written"
			stop
			continue
		fi
		got=$(stat -c '%U:%G %a' "$T/run/$d.pid")
		[ "$got" = "root:root 644" ] ||
		    fail "$d ($kind): pid file is $got, want root:root 644"
		pass "$d ($kind to a root canary): started, canary untouched, pid file root's 0644"
		if [ "$kind" = symlink ] && [ "$d" != etrnd ]; then
			s=$T/run/$d.sock
			got=$(stat -c '%U %a' "$s" 2>/dev/null || echo none)
			[ "$got" = "openetrn 660" ] ||
			    fail "$d socket: $got, want openetrn 660"
			[ "$(uid_of "$dpid")" = "$uid" ] ||
			    fail "$d runs as uid $(uid_of "$dpid")"
			pass "$d: socket openetrn 0660 in the root-only directory, runs as openetrn"
		fi
		stop
		compgen -G "$T/run/*.tmp" >/dev/null &&
		    fail "$d ($kind): temporary file left: $(ls "$T/run")"
	done
done

# Pid file and socket in a directory openetrn can write: refused.
for d in milter policy etrnd; do
	conf "$d" "$T/urun" "user = openetrn"
	start "$d"
	if ! wait_for 15 exited; then
		fail "$d started with its pid file in a directory openetrn owns"
		stop
		continue
	fi
	wait "$dpid" 2>/dev/null && fail "$d exited 0"
	dpid=
	grep -q "directory $T/urun (uid $uid, mode 0755) is writable by a user other than root" \
	    "$T/daemon.log" || fail "$d: no clear error: $(tail -n 3 "$T/daemon.log")"
	[ -z "$(ls -A "$T/urun")" ] ||
	    fail "$d created in $T/urun: $(ls -A "$T/urun")"
	pass "$d: refuses a pid file or socket in a directory openetrn owns, creates nothing"
done

# `user =` as root: refused; no `user` line: openetrn; `user = root`: root.
want='user is empty: set user = openetrn (or user = root to run as root on purpose)'
for d in milter policy etrnd; do
	rm -f "$T/run/$d.pid"
	conf "$d" "$T/run" "user ="
	start "$d"
	if ! wait_for 15 exited; then
		fail "$d runs as root with an empty user"
		stop
	else
		wait "$dpid" 2>/dev/null && fail "$d exited 0"
		dpid=
		grep -qF "$want" "$T/daemon.log" ||
		    fail "$d: no clear error: $(tail -n 3 "$T/daemon.log")"
		pass "$d: refuses to start as root with an empty user"
	fi

	# A user missing from passwd: the same, detached or not.
	conf "$d" "$T/run" "user = oe-nosuchuser"
	start "$d"
	if ! wait_for 15 exited; then
		fail "$d runs with a user missing from passwd"
		stop
	else
		wait "$dpid" 2>/dev/null && fail "$d exited 0"
		dpid=
		grep -qF 'user "oe-nosuchuser" does not exist: create it' \
		    "$T/daemon.log" ||
		    fail "$d: no clear error: $(tail -n 3 "$T/daemon.log")"
	fi
	rm -f "$T/run/$d.pid"
	if "$(bin "$d")" -c "$T/$d.conf" >"$T/daemon.log" 2>&1; then
		fail "$d (detaching) exited 0 with a user missing from passwd"
		wait_for 5 test -s "$T/run/$d.pid" &&
		    stop_pid "$(cat "$T/run/$d.pid")"
	else
		pass "$d: refuses a user missing from passwd, exit status 1 also when detaching"
	fi

	conf "$d" "$T/run" -
	start "$d"
	if wait_for 15 pid_written "$T/run/$d.pid"; then
		p=$dpid
		[ "$d" = etrnd ] && p=$(pgrep -P "$dpid" -x etrnd | head -n 1)
		[ -n "$p" ] && [ "$(uid_of "$p")" = "$uid" ] ||
		    fail "$d without a user line: not running as openetrn"
		pass "$d without a user line runs as openetrn"
	else
		fail "$d without a user line did not start"
	fi
	stop

	rm -f "$T/run/$d.pid"
	conf "$d" "$T/run" "user = root"
	start "$d"
	if wait_for 15 pid_written "$T/run/$d.pid"; then
		p=$dpid
		if [ "$d" = etrnd ]; then
			wait_for 10 pgrep -P "$dpid" -x etrnd ||
			    fail "etrnd: no listener"
			p=$(pgrep -P "$dpid" -x etrnd | head -n 1)
		fi
		[ -n "$p" ] && [ "$(uid_of "$p")" = 0 ] ||
		    fail "$d with user = root: not root"
		pass "$d with user = root starts and stays root"
	else
		fail "$d with user = root did not start"
	fi
	stop
done
echo "$npass passed, $nfail failed"
