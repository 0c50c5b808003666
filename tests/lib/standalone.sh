# shellcheck shell=bash
# tests/lib/standalone.sh - helpers for test scripts that run their own
# redis-server (and program) in a temp directory $T instead of a sandbox:
# PASS/FAIL counting (npass, nfail), skip, die, process helpers and a
# throwaway Redis on $T/redis.sock.  The script sets T, redis_server,
# redis_cli and redis_pid.

# pass MSG - count and print a passed check
pass() {
	npass=$((npass + 1))
	echo "PASS: $*"
}

# fail MSG - count and print a failed check (the run goes on)
fail() {
	nfail=$((nfail + 1))
	echo "FAIL: $*"
}

# skip MSG - print why and exit 77 (automake's "skipped")
skip() {
	echo "SKIP: $*"
	exit 77
}

# die MSG - a setup step failed: print and exit 1
die() {
	echo "ERROR: $*" >&2
	exit 1
}

# alive PID - true while PID runs (a zombie does not count)
alive() {
	local st
	st=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
	case $st in
	Z*) return 1 ;;
	esac
	return 0
}

# stop_pid PID - SIGTERM, SIGKILL after 10 s; reap the child
stop_pid() {
	local pid=$1 i
	kill -TERM "$pid" 2>/dev/null || true
	for ((i = 0; i < 100; i++)); do
		alive "$pid" || break
		sleep 0.1
	done
	if alive "$pid"; then
		echo "pid $pid ignored SIGTERM, killing it" >&2
		kill -KILL "$pid" 2>/dev/null || true
	fi
	wait "$pid" 2>/dev/null || true
}

# rcli ARGS... - redis-cli on the private Redis, raw output
rcli() {
	"$redis_cli" -s "$T/redis.sock" --raw "$@"
}

# wait_for SECS CMD... - run CMD every 0.1 s until it succeeds, or fail
wait_for() {
	local i n=$(($1 * 10))
	shift
	for ((i = 0; i < n; i++)); do
		if "$@" >/dev/null 2>&1; then
			return 0
		fi
		sleep 0.1
	done
	return 1
}

# redis_up - true when the private Redis answers PING
redis_up() {
	[ "$(rcli PING 2>/dev/null)" = PONG ]
}

# start_redis - a throwaway redis-server on $T/redis.sock
start_redis() {
	"$redis_server" --port 0 --unixsocket "$T/redis.sock" \
	    --unixsocketperm 700 --save '' --appendonly no \
	    --daemonize no --dir "$T" >"$T/redis.log" 2>&1 &
	redis_pid=$!
	wait_for 10 redis_up || die "redis-server did not start"
}

# free_port - a loopback port nothing listens on
free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# sa_workdir NAME LOG PIDVAR - make $T (removed at exit).  The EXIT trap
# stops the program under test (its PID in the variable named PIDVAR) and
# Redis, shows the end of $T/LOG when something failed, and exits 1 when
# a check failed.
sa_workdir() {
	sa_log=$2
	sa_pidvar=$3
	T=$(mktemp -d "${TMPDIR:-/tmp}/oe-$1.XXXX")
	trap sa_cleanup EXIT
}

# sa_cleanup - the EXIT trap of sa_workdir
sa_cleanup() {
	local st=$? pid
	set +e
	trap - EXIT
	pid=${!sa_pidvar:-}
	[ -n "$pid" ] && stop_pid "$pid"
	[ -n "${redis_pid:-}" ] && stop_pid "$redis_pid"
	if [ "$st" != 0 ] || [ "$nfail" != 0 ]; then
		tail -n 40 "$T/$sa_log" >&2 2>/dev/null || true
	fi
	rm -rf "$T"
	[ "$nfail" = 0 ] || exit 1
	exit "$st"
}

# make_secret FILE - a hold_secret_file for the daemons: 32 random bytes,
# mode 0600
make_secret() {
	(umask 077 && head -c 32 /dev/urandom >"$1") ||
	    die "cannot write the secret $1"
}

# readme_block MARK - the fenced block after "<!-- MARK -->" in README.md
# ($top: the source tree), so that tests run the README's own lines
readme_block() {
	awk -v mark="<!-- $1 -->" '
		$0 == mark { found = 1; next }
		found == 1 && /^```/ { found = 2; next }
		found == 2 && /^```/ { exit }
		found == 2 { print }' "$top/README.md"
}
