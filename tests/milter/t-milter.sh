#!/bin/bash
# shellcheck disable=SC2317 # functions run from traps and by name
# t-milter.sh - milter-protocol tests of etrn-milter with miltertest
#
# Starts a private redis-server and etrn-milter on unix sockets in a temp
# directory, runs every tests/milter/t-*.lua with miltertest (the scripts
# named t-*-redis-down.lua last, after Redis is stopped) and checks Redis
# after the scripts that must (or must not) have held mail.  One line per
# check; exit 0 when all pass, 1 otherwise, 77 (skip) without miltertest or
# redis-server.  Environment (set by `make check`): top_srcdir,
# OPENETRN_BUILDDIR or top_builddir, MILTERTEST, REDIS_SERVER; by hand,
# unset MILTERTEST/REDIS_SERVER are looked up in PATH.  KEEP_TMP=1 keeps
# the temp directory.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
srcdir=${top_srcdir:-$(cd "$here/../.." && pwd)}
builddir=${OPENETRN_BUILDDIR:-${top_builddir:-$srcdir}}
miltertest=${MILTERTEST-$(command -v miltertest || true)}
redis_server=${REDIS_SERVER-$(command -v redis-server || true)}
scripts=$srcdir/tests/milter
milter_bin=$builddir/etrn-milter
host=mx.test

T=
redis_pid=
milter_pid=
npass=0
nfail=0
# shellcheck source=../lib/standalone.sh
. "$srcdir/tests/lib/standalone.sh"

# show_log FILE - the last lines of FILE on stderr
show_log() {
	if [ -s "$1" ]; then
		echo "---- last lines of $1 ----" >&2
		tail -n 40 "$1" >&2
	fi
}

# cleanup - EXIT trap: stop the milter and Redis, remove the temp dir
cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	if [ -n "$milter_pid" ]; then
		stop_pid "$milter_pid"
	fi
	if [ -n "$redis_pid" ]; then
		stop_pid "$redis_pid"
	fi
	if [ -n "$T" ] && [ -d "$T" ]; then
		if [ "$rc" -ne 0 ] && [ "$rc" -ne 77 ]; then
			show_log "$T/milter.log"
			show_log "$T/redis.log"
		fi
		if [ "${KEEP_TMP:-0}" = 1 ]; then
			echo "temp directory kept: $T" >&2
		else
			case $T in
			*/oe-milter.*) rm -rf "$T" ;;
			esac
		fi
	fi
	exit "$rc"
}

# closed_port - print a loopback TCP port where nothing listens
closed_port() {
	local port i
	for ((i = 0; i < 50; i++)); do
		port=$((20000 + RANDOM % 30000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
			echo "$port"
			return 0
		fi
	done
	return 1
}

# milter_ready - true when the socket exists and the domains are loaded
milter_ready() {
	[ -S "$T/milter.sock" ] &&
	    grep -q "dial-up domains loaded: count=2" "$T/milter.log"
}

# seed_redis - the test domains
seed_redis() {
	rcli SADD etrn:domains dialup.test .sub.test >/dev/null ||
	    die "cannot seed etrn:domains"
}

# write_config PORT - the milter's configuration, reinject_server at PORT
write_config() {
	cat >"$T/t-milter.conf" <<EOF
hostname = $host
redis_server = unix:$T/redis.sock
milter_socket = unix:$T/milter.sock
milter_socket_group =
milter_socket_mode = 0600
domain_refresh = 1s
tmp_directory = $T
reinject_server = inet:127.0.0.1:$1
reinject_timeout = 5s
user = $(id -un)
hold_secret_file = $T/hold.secret
EOF
	[ -s "$T/hold.secret" ] || make_secret "$T/hold.secret"
}

# start_milter - etrn-milter in the foreground, in the background
start_milter() {
	"$milter_bin" -f -c "$T/t-milter.conf" >"$T/milter.log" 2>&1 &
	milter_pid=$!
	if ! wait_for 15 milter_ready; then
		alive "$milter_pid" || milter_pid=
		die "etrn-milter did not become ready"
	fi
}

# result NAME KEY - the values a script printed as "RESULT KEY=value"
result() {
	sed -n "s/^RESULT $2=//p" "$T/$1.out"
}

# check_log DESC PATTERN - pass when the milter logged PATTERN (grep -E)
check_log() {
	if grep -Eq -- "$2" "$T/milter.log"; then
		pass "$1"
	else
		fail "$1: no log line matching \"$2\""
	fi
}

# zcard KEY - ZCARD of a sorted set (0 when absent)
zcard() {
	rcli ZCARD "$1"
}

# stat_held DOMAIN - the domain's "held" counter (0 when absent)
stat_held() {
	local v
	v=$(rcli HGET "etrn:stats:$1" held)
	echo "${v:-0}"
}

# snapshot - remember Redis counts before a script
snapshot() {
	before_dbsize=$(rcli DBSIZE)
	before_held=$(zcard etrn:held:dialup.test)
	before_stat=$(stat_held dialup.test)
	before_sub=$(zcard etrn:held:a.sub.test)
}

# check_nothing_held NAME - no new key, no new held message
check_nothing_held() {
	local qid
	check_eq "$1: Redis key count unchanged" "$(rcli DBSIZE)" \
	    "$before_dbsize"
	check_eq "$1: etrn:held:dialup.test unchanged" \
	    "$(zcard etrn:held:dialup.test)" "$before_held"
	for qid in $(result "$1" qid); do
		check_eq "$1: no record for $qid" \
		    "$(rcli EXISTS "etrn:msg:$host:$qid")" 0
	done
}

# check_record NAME FIELD WANT - one field of the script's hold record
check_record() {
	local qid
	qid=$(result "$1" qid)
	check_eq "$1: record $2" "$(rcli HGET "etrn:msg:$host:$qid" "$2")" "$3"
}

# post_hold - the record, the indexes and the counters of t-01
post_hold() {
	local n=$1 qid key
	qid=$(result "$n" qid)
	key=etrn:msg:$host:$qid
	check_eq "$n: record $key exists" "$(rcli EXISTS "$key")" 1
	check_record "$n" domain dialup.test
	check_record "$n" host "$host"
	check_record "$n" queueid "$qid"
	check_record "$n" token "$(result "$n" token)"
	check_record "$n" sender s@example.org
	check_record "$n" recipients "$(printf \
	    'u@dialup.test\tSUCCESS,FAILURE\trfc822;u@dialup.test')"
	check_record "$n" nrcpt 1
	check_record "$n" arrived "$(result "$n" arrived)"
	check_record "$n" expires "$(result "$n" expires)"
	check_record "$n" ret HDRS
	check_record "$n" envid t01env
	check_record "$n" client "client.test[192.0.2.1]"
	case $(rcli HGET "$key" headers) in
	*"Subject: t-01 hold"*) pass "$n: record headers" ;;
	*) fail "$n: record headers lack the Subject" ;;
	esac
	# Pending until etrnd sees the message on hold: counted nowhere.
	check_record "$n" state pending
	case $(rcli ZSCORE "etrn:pending:$host" "$qid") in
	"$(result "$n" arrived)"[0-9][0-9][0-9] | \
	    "$(($(result "$n" arrived) + 1))"[0-9][0-9][0-9])
		pass "$n: pending index score is the arrival in ms" ;;
	*) fail "$n: pending index score" \
	    "'$(rcli ZSCORE "etrn:pending:$host" "$qid")'" ;;
	esac
	check_eq "$n: etrn:held:dialup.test unchanged" \
	    "$(zcard etrn:held:dialup.test)" "$before_held"
	check_eq "$n: not in the expiry index" \
	    "$(rcli ZSCORE "etrn:expiry:$host" "$qid")" ""
	check_eq "$n: stats held counter unchanged" \
	    "$(stat_held dialup.test)" "$before_stat"
	check_eq "$n: domain in etrn:hostdomains:$host" \
	    "$(rcli SISMEMBER "etrn:hostdomains:$host" dialup.test)" 1
}

# post_pass - nothing recorded for a non-dial-up message
post_pass() {
	check_nothing_held "$1"
}

# post_forged - nothing recorded for the non-dial-up forged-tag messages
post_forged() {
	check_nothing_held "$1"
}

# post_subdomain - held under a.sub.test, both recipients in the record
post_subdomain() {
	local n=$1
	check_eq "$n: record exists" \
	    "$(rcli EXISTS "etrn:msg:$host:$(result "$n" qid)")" 1
	check_record "$n" domain a.sub.test
	check_record "$n" token "$(result "$n" token)"
	check_record "$n" sender ""
	check_record "$n" nrcpt 2
	check_record "$n" recipients "$(printf \
	    'u@a.sub.test\t\t\nw@A.Sub.TEST\t\t')"
	check_record "$n" state pending
	check_eq "$n: etrn:held:a.sub.test unchanged (pending)" \
	    "$(zcard etrn:held:a.sub.test)" "$before_sub"
	check_eq "$n: etrn:held:dialup.test unchanged" \
	    "$(zcard etrn:held:dialup.test)" "$before_held"
}

# post_badparam - nothing recorded; the refusals were the 501 ones
post_badparam() {
	local n=$1
	check_eq "$n: Redis key count unchanged" "$(rcli DBSIZE)" \
	    "$before_dbsize"
	# miltertest cannot show a reply code before end of message; these
	# log lines come only with hold_reply(R_BAD_RCPT / R_BAD_SENDER),
	# the 501 5.5.4 replies.
	check_log "$n: ORCPT without a type refused" \
	    "NOQUEUE: reject: RCPT from .*: invalid ORCPT parameter"
	check_log "$n: NOTIFY with a control character refused" \
	    "NOQUEUE: reject: RCPT from .*: invalid NOTIFY parameter"
	check_log "$n: RET=BOGUS refused" \
	    "NOQUEUE: reject: MAIL from .*: invalid RET parameter"
}

# post_noqueueid - nothing recorded without a queue ID
post_noqueueid() {
	check_nothing_held "$1"
	check_log "$1: tempfail logged" \
	    "NOQUEUE: tempfail: no valid queue ID macro"
}

# open_spools - print how many (unlinked) spool files the milter holds open
open_spools() {
	local fd n=0
	for fd in /proc/"$milter_pid"/fd/*; do
		case $(readlink "$fd" 2>/dev/null) in
		"$T"/etrn-milter.*) n=$((n + 1)) ;;
		esac
	done
	echo "$n"
}

# post_mixed - nothing recorded, the spool file closed
post_mixed() {
	local n=$1
	check_nothing_held "$n"
	check_log "$n: failed copy logged" \
	    "$(result "$n" qid): tempfail: copy for domain=dialup.test failed"
	if [ -d "/proc/$milter_pid/fd" ]; then
		check_eq "$n: no spool file left open" "$(open_spools)" 0
	else
		echo "# $n: spool check skipped (no /proc/PID/fd)"
	fi
}

# pre_reuse - t-01's record counted as held (etrnd's pending step with the
# null backend, which finds every message on hold); no delay warning for
# dialup.test from now on
pre_reuse() {
	{ cat "$T/t-milter.conf"; echo "mta = null"
	  echo "null_backend_log = $T/null.log"; } >"$T/runner.conf"
	"$builddir/tests/etrnd/runner-test" "$T/runner.conf" pending \
	    >"$T/promote.log" 2>&1 || fail "$1: runner-test pending failed"
	check_record t-01-hold state held
	rcli HSET etrn:domain:dialup.test warn_time 0 >/dev/null
	reuse_held=$(zcard etrn:held:dialup.test)
	reuse_count=$(rcli HGET etrn:stats:dialup.test held)
	# domain_refresh = 1s; wait for the milter to read the new setting.
	sleep 2.5
}

# post_reuse - the reused ID replaced the old (held) record, whose counts
# and index entries are gone; the new record is pending
post_reuse() {
	local n=$1 q
	q=$(result "$n" qid)
	check_record "$n" sender again@example.org
	check_record "$n" token "$(result "$n" token)"
	check_record "$n" warn_at 0
	check_eq "$n: old delay-warning entry removed" \
	    "$(rcli ZSCORE "etrn:warn:$host" "$q")" ""
	check_record "$n" state pending
	check_eq "$n: old record left the held set" \
	    "$(zcard etrn:held:dialup.test)" $((reuse_held - 1))
	check_eq "$n: old record left the held counter" \
	    "$(rcli HGET etrn:stats:dialup.test held)" $((reuse_count - 1))
	check_eq "$n: old expiry entry removed" \
	    "$(rcli ZSCORE "etrn:expiry:$host" "$q")" ""
}

# post_noaddr - held; the record names the client "unknown[unknown]"
post_noaddr() {
	check_record "$1" client "unknown[unknown]"
	check_record "$1" sender noaddr@example.org
	check_record "$1" domain dialup.test
}

# post_closeonly - the message after the empty connections was held
post_closeonly() {
	check_record "$1" sender after@example.org
	check_record "$1" client "client.test[192.0.2.11]"
}

# post_abort - the second message's record has its own envelope only; the
# aborted one left no record and no spool file
post_abort() {
	local n=$1 q1
	q1=$(result "$n" aborted)
	check_record "$n" sender second@example.org
	check_record "$n" domain dialup.test
	check_record "$n" nrcpt 1
	check_record "$n" recipients "$(printf 'v@dialup.test\t\t')"
	check_record "$n" ret ""
	check_record "$n" envid ""
	check_record "$n" token "$(result "$n" token)"
	check_record "$n" client "client.test[192.0.2.12]"
	case $(rcli HGET "etrn:msg:$host:$(result "$n" qid)" headers) in
	*"first message"*) fail "$n: the first message's header in the record" ;;
	*"Subject: second message"*) pass "$n: record headers are the second's" ;;
	*) fail "$n: record headers lack the second's Subject" ;;
	esac
	check_eq "$n: no record for the aborted $q1" \
	    "$(rcli EXISTS "etrn:msg:$host:$q1")" 0
	check_eq "$n: the aborted $q1 not pending" \
	    "$(rcli ZSCORE "etrn:pending:$host" "$q1")" ""
	if [ -d "/proc/$milter_pid/fd" ]; then
		check_eq "$n: no spool file left open" "$(open_spools)" 0
	fi
}

# Bound on the milter's VmRSS growth over t-13's 100 messages (after 20 to
# warm up), in kB.  Measured growth: 4 to 24 kB; a leak of each message's
# header copy (3.6 KiB of X-Pad headers, msg_reset not freeing it) made
# it grow by 412 kB.
MANY_RSS_BOUND=256

# post_many - each held message's record is its own; memory flat
post_many() {
	local n=$1 qid dom i=0 bad=0 before after key num got want
	while read -r qid dom; do
		i=$((i + 1))
		key=etrn:msg:$host:$qid
		num=${qid#4Many}
		num=$((10#$num))
		got=$(rcli HMGET "$key" domain sender nrcpt state | paste -sd' ')
		want="$dom s$num@example.org 1 pending"
		if [ "$got" != "$want" ]; then
			fail "$n: $qid record: got \"$got\", expected \"$want\""
			bad=$((bad + 1))
		fi
	done < <(result "$n" held)
	check_eq "$n: held messages reported" "$i" 67
	check_eq "$n: records with their own domain and sender" "$bad" 0
	if [ -d "/proc/$milter_pid/fd" ]; then
		check_eq "$n: no spool file left open" "$(open_spools)" 0
	fi
	before=$(result "$n" rss_before)
	after=$(result "$n" rss_after)
	if nm "$milter_bin" 2>/dev/null | grep -q __asan_init; then
		echo "# $n: VmRSS $before -> $after kB (not checked: sanitizers)"
	elif [ $((after - before)) -le "$MANY_RSS_BOUND" ]; then
		pass "$n: VmRSS $before -> $after kB (growth at most $MANY_RSS_BOUND kB)"
	else
		fail "$n: VmRSS grew from $before to $after kB (bound $MANY_RSS_BOUND kB)"
	fi
}

# post_longdomain - the record and the log name the whole 253-octet domain
post_longdomain() {
	local dom
	dom=$(result "$1" domain)
	check_eq "$1: domain of 253 octets" "${#dom}" 253
	check_record "$1" domain "$dom"
	check_log "$1: held line names the whole domain" \
	    "$(result "$1" qid): held domain=$dom "
}

# pre_redis_down - stop Redis before the script runs
pre_redis_down() {
	if [ -n "$redis_pid" ]; then
		stop_pid "$redis_pid"
		redis_pid=
	fi
	if redis_up; then
		fail "$1: Redis still answers after being stopped"
	fi
}

# post_redis_down - the tempfails were Redis write failures
post_redis_down() {
	check_log "$1: Redis failure logged" \
	    "4RedisDn01: tempfail: domain=dialup.test reason="
	check_log "$1: second Redis failure logged" \
	    "4RedisDn02: tempfail: domain=dialup.test reason="
}

# run_script FILE - one miltertest script and its checks
run_script() {
	local f=$1 n key rc=0 tmo=
	n=$(basename "$f" .lua)
	key=${n#t-}
	key=${key#[0-9][0-9]-}
	key=${key//-/_}
	if declare -F "pre_$key" >/dev/null; then
		"pre_$key" "$n"
	fi
	if redis_up; then
		snapshot
	fi
	if command -v timeout >/dev/null 2>&1; then
		tmo="timeout 120"
	fi
	MILTER_SOCKET="unix:$T/milter.sock" MILTER_PID="$milter_pid" \
	    MILTER_TESTLIB="$(dirname "$f")/lib.lua" $tmo "$miltertest" -s "$f" \
	    >"$T/$n.out" 2>&1 || rc=$?
	if [ "$rc" -eq 0 ]; then
		pass "$n: miltertest script"
	else
		fail "$n: miltertest script (exit $rc)"
		sed 's/^/    /' "$T/$n.out"
	fi
	if alive "$milter_pid"; then
		pass "$n: etrn-milter still running"
	else
		fail "$n: etrn-milter died"
	fi
	if [ "$rc" -eq 0 ] && declare -F "post_$key" >/dev/null; then
		"post_$key" "$n"
	fi
}

trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

[ -n "$miltertest" ] || skip "miltertest not available (MILTERTEST empty)"
[ -n "$redis_server" ] || skip "redis-server not available (REDIS_SERVER empty)"
path=$(command -v "$miltertest") || skip "$miltertest is not executable"
miltertest=$path
path=$(command -v "$redis_server") || skip "$redis_server is not executable"
redis_server=$path
redis_cli=$(dirname "$redis_server")/redis-cli
if [ ! -x "$redis_cli" ]; then
	redis_cli=$(command -v redis-cli || true)
fi
[ -n "$redis_cli" ] || skip "redis-cli not found"
[ -x "$milter_bin" ] || die "$milter_bin not built"

# A unix socket path must stay short (108 bytes).
tmpbase=${TMPDIR:-/tmp}
if [ ${#tmpbase} -gt 60 ]; then
	tmpbase=/tmp
fi
T=$(mktemp -d "$tmpbase/oe-milter.XXXXXX") || die "mktemp failed"
port=$(closed_port) || die "no closed loopback port found"

start_redis
seed_redis
write_config "$port"
start_milter
echo "# etrn-milter pid $milter_pid, redis pid $redis_pid, temp dir $T," \
    "reinject port $port (closed)"

late=()
found=0
for f in "$scripts"/t-*.lua; do
	[ -e "$f" ] || continue
	found=1
	case $f in
	*-redis-down.lua) late+=("$f") ;;
	*) run_script "$f" ;;
	esac
done
for f in ${late[@]+"${late[@]}"}; do
	run_script "$f"
done
if [ "$found" = 0 ]; then
	fail "no t-*.lua scripts in $scripts"
fi

echo "# $npass passed, $nfail failed"
[ "$nfail" -eq 0 ] || exit 1
exit 0
