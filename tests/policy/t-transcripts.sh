#!/bin/bash
# t-transcripts - etrn-policy against a real Redis, driven by the
# transcripts in tests/policy/transcripts: NAME.in is played by
# run-transcript.py and what the server answers must equal NAME.ref.
# Each transcript gets a fresh Redis with the same seed, and a fresh
# etrn-policy with the settings below plus the transcript's "#conf" lines.
# The daemon must still run after each one.  After redis-down, Redis comes
# back and etrn-policy must work again without a restart.
# UPDATE_REFS=1 writes the .ref files instead of comparing.
set -eu

# shellcheck source=../lib/standalone.sh
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/standalone.sh"
policy_pid=
sa_init policy policy.log policy_pid
policy_bin=$builddir/policy/etrn-policy
tdir=$srcdir/tests/policy/transcripts
[ -x "$policy_bin" ] || skip "$policy_bin not built"

# seed - the dial-up domains and held mail every transcript starts with
seed() {
	rcli SADD etrn:domains dialup.test dialup2.test own.test .parent.test \
	    >/dev/null
	rcli ZADD etrn:held:dialup.test 1 mx.test:AAAAAAAA01 \
	    2 mx.test:AAAAAAAA02 >/dev/null
	rcli HSET etrn:stats:dialup.test held 2 bytes 600 >/dev/null
	rcli HSET etrn:domain:own.test allow 192.0.2.0/24 \
	    sasl_users 'bob, carol' >/dev/null
	rcli ZADD etrn:held:own.test 1 mx.test:CCCCCCCC01 >/dev/null
	rcli ZADD etrn:held:a.parent.test 1 mx.test:DDDDDDDD01 >/dev/null
}

# start_policy IN - etrn-policy with the settings of transcript IN
start_policy() {
	port=$(free_port)
	cat >"$T/policy.conf" <<CONF
hostname = mx.test
redis_server = unix:$T/redis.sock
redis_timeout = 500ms
policy_listen = inet:127.0.0.1:$port
etrn_allow = 127.0.0.0/8
domain_refresh = 1s
flush_lock_time = 60s
user = $(id -un)
CONF
	sed -n 's/^#conf //p' "$1" >>"$T/policy.conf"
	: >"$T/policy.log"
	"$policy_bin" -f -c "$T/policy.conf" >"$T/policy.log" 2>&1 &
	policy_pid=$!
	wait_for 10 grep -q 'dial-up domains loaded' "$T/policy.log" ||
	    die "etrn-policy did not start: $(cat "$T/policy.log")"
}

# play IN - run a transcript; compare with its .ref
play() {
	local in=$1 name ref out
	name=$(basename "$in" .in)
	ref=$tdir/$name.ref
	out=$T/$name.out
	REDIS_PID=$redis_pid python3 "$srcdir/tests/policy/run-transcript.py" \
	    "$port" "$T/redis.sock" "$in" >"$out" 2>&1 || true
	if [ "${UPDATE_REFS:-0}" = 1 ]; then
		cp "$out" "$ref"
	fi
	if diff -u "$ref" "$out"; then
		pass "transcript $name"
	else
		fail "transcript $name differs from $name.ref"
	fi
	if alive "$policy_pid"; then
		pass "$name: etrn-policy still runs"
	else
		fail "$name: etrn-policy died"
	fi
}

for in in "$tdir"/*.in; do
	start_redis
	seed
	start_policy "$in"
	play "$in"
	if [ "$(basename "$in")" = redis-down.in ]; then
		# Redis back on the same socket: the connection comes back.
		start_redis
		seed
		cat >"$T/back.in" <<'EOF2'
request=smtpd_access_policy
protocol_state=ETRN
client_address=127.0.0.1
etrn_domain=dialup.test
.
EOF2
		if wait_for 15 sh -c "python3 '$srcdir/tests/policy/run-transcript.py' $port '$T/redis.sock' '$T/back.in' | grep -qx 'A: action=OK'" &&
		    [ "$(rcli XLEN etrn:flush)" = 1 ]; then
			pass "Redis back: ETRN queued again"
		else
			fail "Redis back: ETRN still fails"
		fi
	fi
	stop_pid "$policy_pid"
	policy_pid=
	# A sanitizer build reports errors and leaks at exit.
	if grep -q 'Sanitizer\|runtime error' "$T/policy.log"; then
		fail "$(basename "$in"): sanitizer report"
		cat "$T/policy.log" >&2
	fi
	if alive "$redis_pid"; then
		stop_pid "$redis_pid"
	else
		wait "$redis_pid" 2>/dev/null || true
	fi
	redis_pid=
	rm -f "$T/redis.sock"
done
[ -f "$T/policy.log" ] || fail "no log"
echo "# $npass passed, $nfail failed"
