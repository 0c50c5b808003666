#!/bin/bash
# t-sendmail-host - etrnd with mta = sendmail on a host whose name has no
# dot (Sendmail then waits about 60 s at every start, so every command
# etrnd runs would use up its time limit) warns once at start-up, with a
# line naming the host name, and runs on; etrnd -t says so too.  With a
# dotted name, or with mta = postfix, there is no such line.  The host
# name is set in a UTS namespace of etrnd's own (unshare -u): the
# machine's is untouched.
set -eu

# shellcheck source=../lib/standalone.sh
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/standalone.sh"
etrnd_pid=
sa_init smhost etrnd.log etrnd_pid
etrnd=$builddir/etrnd/etrnd
[ -x "$etrnd" ] || skip "$etrnd not built"
[ "$(id -u)" = 0 ] || skip "needs root (etrnd starts as root; unshare -u)"
command -v unshare >/dev/null || skip "no unshare"
start_redis
make_secret "$T/hold.secret"
port=$(free_port)
printf '#!/bin/sh\nexit 0\n' >"$T/sendmail"
chmod 755 "$T/sendmail"
: >"$T/sendmail.cf"

# conf MTA - the configuration, with mta = MTA
conf() {
	cat >"$T/etrnd.conf" <<EOF
hostname = mx.host.test
redis_server = unix:$T/redis.sock
user = root
hold_secret_file = $T/hold.secret
etrnd_listen = inet:127.0.0.1:$port
etrn_allow = 127.0.0.0/8
mta = $1
sendmail_command = $T/sendmail
sendmail_config_file = $T/sendmail.cf
postfix_command_directory = /usr/sbin
dsn_server = inet:127.0.0.1:1
EOF
}

# as NAME CMD... - CMD with the host name NAME, in its own UTS namespace.
# Only in a subshell ($(...) or &): the subshell, unshare and sh exec in
# turn, so CMD keeps the PID started ($!) and is the one stopped.
as() {
	local name=$1
	shift
	# shellcheck disable=SC2016
	exec unshare -u /bin/sh -c 'hostname "$0" && exec "$@"' "$name" "$@"
}

listening() {
	[ -n "$(ss -Hltn "src 127.0.0.1 and sport = :$port" 2>/dev/null)" ]
}

# run NAME - etrnd -f as host NAME until it listens, then stopped
run() {
	: >"$T/etrnd.log"
	as "$1" "$etrnd" -f -c "$T/etrnd.conf" >"$T/etrnd.log" 2>&1 &
	etrnd_pid=$!
	wait_for 20 listening || die "etrnd did not start: $(cat "$T/etrnd.log")"
	sleep 1
	stop_pid "$etrnd_pid"
	etrnd_pid=
	# The one started is the one stopped: nothing is left listening.
	wait_for 10 not_listening || die "an etrnd still listens on $port"
}

not_listening() { ! listening; }

want='warning: the host name "dialup-mx" has no dot: Sendmail waits about 60 s'
conf sendmail
run dialup-mx
n=$(grep -c "$want" "$T/etrnd.log" || true)
if [ "$n" = 1 ] && grep -q "etrnd: starting:" "$T/etrnd.log"; then
	pass "mta = sendmail, host name without a dot: one warning at start-up, and etrnd runs"
else
	fail "want the warning once, got $n: $(cat "$T/etrnd.log")"
fi

out=$(as dialup-mx "$etrnd" -t -c "$T/etrnd.conf" 2>&1) || true
if grep -q "$want" <<<"$out"; then
	pass "etrnd -t warns too"
else
	fail "etrnd -t: $out"
fi

run mx.dialup.test
if grep -q "has no dot" "$T/etrnd.log"; then
	fail "a dotted host name warned: $(cat "$T/etrnd.log")"
else
	pass "a host name with a dot: no warning"
fi

conf postfix
out=$(as dialup-mx "$etrnd" -t -c "$T/etrnd.conf" 2>&1) || true
if grep -q "has no dot" <<<"$out"; then
	fail "mta = postfix warned: $out"
else
	pass "mta = postfix: no warning"
fi
