# shellcheck shell=bash
# tests/lib/standalone.sh - helpers for test scripts that run their own
# redis-server (and program) in a temp directory $T instead of a sandbox:
# PASS/FAIL counting (npass, nfail: fail goes on, the EXIT trap exits 1),
# and a throwaway Redis on $T/redis.sock.  pass, fail, skip, die, wait_for,
# alive, stop_pid, free_port: tests/lib/core.sh, sourced here.  A test
# starts with
#
#   . "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/standalone.sh"
#   sa_init NAME LOG PIDVAR
#
# or sets T, redis_server, redis_cli and redis_pid itself.

# shellcheck source=core.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/core.sh"
# shellcheck disable=SC2034 # read by fail (core.sh)
CORE_COUNT=1
npass=${npass:-0}
nfail=${nfail:-0}

# sa_init NAME LOG PIDVAR - the common start of a standalone test: sets
# here (the test's directory), srcdir, builddir, redis_server, redis_cli;
# skips without redis-server, redis-cli or python3; then sa_workdir NAME
# LOG PIDVAR
# shellcheck disable=SC2034 # set for the tests
sa_init() {
	here=$(cd "$(dirname "$0")" && pwd)
	srcdir=${top_srcdir:-$(cd "$here/../.." && pwd)}
	builddir=${OPENETRN_BUILDDIR:-${top_builddir:-$srcdir}}
	redis_server=${REDIS_SERVER-$(command -v redis-server || true)}
	redis_cli=$(command -v redis-cli || true)
	T=
	redis_pid=
	[ -n "$redis_server" ] && [ -x "$redis_server" ] ||
	    skip "no redis-server"
	[ -n "$redis_cli" ] || skip "no redis-cli"
	command -v python3 >/dev/null || skip "no python3"
	sa_workdir "$@"
}

# rcli ARGS... - redis-cli on the private Redis, raw output
rcli() {
	"$redis_cli" -s "$T/redis.sock" --raw "$@"
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
