#!/bin/bash
# t-config - configuration errors name the file and line; etrn-milter -t
# checks a file; SIGUSR1 reloads a good file and keeps the running
# settings when the new file is bad; etrn-milter and etrnd refuse to
# start without a usable hold_secret_file.
set -eu
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=../lib/core.sh
. "$top_srcdir/tests/lib/core.sh"
bin=${OPENETRN_BUILDDIR:-$top_srcdir}/etrn-milter
[ -x "$bin" ] || skip "$bin not built"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/openetrn-config.XXXX")
pid=
cleanup() {
	local rc=$?
	if [ -n "$pid" ]; then
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	fi
	[ "$rc" = 0 ] || cat "$tmp/milter.log" 2>/dev/null >&2 || true
	rm -rf "$tmp"
	exit "$rc"
}
trap cleanup EXIT

base="hostname = mx.test
redis_server = unix:$tmp/no-redis.sock
milter_socket = unix:$tmp/milter.sock
milter_socket_group =
milter_socket_mode = 0600
tmp_directory = $tmp
user = $(id -un)
hold_secret_file = $tmp/hold.secret"
(umask 077 && head -c 32 /dev/urandom >"$tmp/hold.secret")
printf '%s\n' "$base" > "$tmp/good.conf"
out=$("$bin" -t -c "$tmp/good.conf" 2>&1) || fail "good config: $out"
pass "good config accepted"

# Each bad line, appended as line 9, must be refused with FILE:9 and why.
while IFS='|' read -r line want; do
	printf '%s\n%s\n' "$base" "$line" > "$tmp/bad.conf"
	if out=$("$bin" -t -c "$tmp/bad.conf" 2>&1); then
		fail "accepted bad line '$line'"
	fi
	case $out in
	*"$tmp/bad.conf:9: $want"*) ;;
	*) fail "line '$line': got '$out', want '$tmp/bad.conf:9: $want'" ;;
	esac
done <<'EOF_CASES'
hold_tim = 5d|unknown setting "hold_tim"
hold_time = 5 days|bad value for hold_time: "5 days"
hold_time = 367d|value for hold_time out of range
on_redis_error = ignore|bad value for on_redis_error: "ignore" (expected tempfail, accept)
verbose = perhaps|bad value for verbose
redis_timeout = 0.5s|bad value for redis_timeout
max_header_bytes = 1t|bad value for max_header_bytes
hostname|missing '=' in "hostname"
hostname = mx.other|duplicate setting "hostname"
EOF_CASES
pass "bad lines refused with file, line and reason"

out=$("$bin" -t -c "$tmp/missing.conf" 2>&1) && fail "missing file accepted"
case $out in *"$tmp/missing.conf: No such file"*) ;; *) fail "$out" ;; esac
printf 'redis_server = localhost\n' > "$tmp/x.conf"
out=$("$bin" -t -c "$tmp/x.conf" 2>&1) && fail "bad redis_server accepted"
case $out in *"bad redis_server"*) ;; *) fail "$out" ;; esac
pass "missing file and bad address refused"

sample=$top_srcdir/contrib/etc/openetrn.conf.sample
# -t checks this host too (its user, directories, key): the sample may
# not fit it, but it must parse, which those checks come after.
parses() {
	out=$("$bin" -t -c "$1" 2>&1) && return 0
	case $out in *": "*" problem"*" found") return 0 ;; esac
	return 1
}
if [ -f "$sample" ]; then
	parses "$sample" || fail "sample: $out"
	sed 's/^#\([a-z_]* =\)/\1/' "$sample" > "$tmp/sample.conf"
	parses "$tmp/sample.conf" || fail "sample with every line enabled: $out"
	pass "the shipped sample loads, commented and uncommented"
fi

# Reload: run in the foreground, break the file, SIGUSR1, still running.
"$bin" -f -c "$tmp/good.conf" > "$tmp/milter.log" 2>&1 &
pid=$!
wait_for 5 test -S "$tmp/milter.sock" || fail "milter did not start"
[ "$(stat -c %a "$tmp/milter.sock")" = 600 ] || fail "socket mode"
printf '%s\nhold_time = forever\n' "$base" > "$tmp/good.conf"
kill -USR1 "$pid"
wait_for 5 grep -q 'reload failed' "$tmp/milter.log" || true
grep -q "reload failed, keeping the running configuration: $tmp/good.conf:9: bad value for hold_time" \
    "$tmp/milter.log" || fail "bad reload not reported"
kill -0 "$pid" || fail "milter died on a bad reload"
printf '%s\nhold_time = 3d\n' "$base" > "$tmp/good.conf"
kill -USR1 "$pid"
wait_for 5 grep -q "reloaded $tmp/good.conf" "$tmp/milter.log" ||
    fail "good reload not logged"
kill -0 "$pid" || fail "milter died on reload"
pass "SIGUSR1: bad file keeps the running settings, good file is loaded"
kill "$pid"
wait_for 10 eval '! alive "$pid"' || fail "milter did not stop on SIGTERM"
rc=0
wait "$pid" || rc=$?
pid=
[ "$rc" = 0 ] || fail "exit status $rc after SIGTERM, want 0"
grep -q 'etrn-milter: stopping' "$tmp/milter.log" || fail "stop not logged"
pass "SIGTERM stops it cleanly (exit 0, logged)"

# hold_secret_file: etrn-milter and etrnd refuse to start without a
# usable one, and say why.
etrnd_bin=${OPENETRN_BUILDDIR:-$top_srcdir}/etrnd/etrnd
for case in "missing|No such file" "short|octets; a secret has 32" \
    "groupw|group- or world-writable" "worldr|readable by others"; do
	kind=${case%%|*}
	want=${case#*|}
	rm -f "$tmp/s.secret"
	case $kind in
	short) head -c 16 /dev/urandom >"$tmp/s.secret"; chmod 600 "$tmp/s.secret" ;;
	groupw) head -c 32 /dev/urandom >"$tmp/s.secret"; chmod 660 "$tmp/s.secret" ;;
	worldr) head -c 32 /dev/urandom >"$tmp/s.secret"; chmod 644 "$tmp/s.secret" ;;
	esac
	printf '%s\n' "$base" | sed "s|^hold_secret_file = .*|hold_secret_file = $tmp/s.secret|" \
	    >"$tmp/s.conf"
	for b in "$bin" "$etrnd_bin"; do
		[ -x "$b" ] || continue
		rc=0
		out=$(timeout 10 "$b" -f -c "$tmp/s.conf" 2>&1) || rc=$?
		[ "$rc" != 0 ] && [ "$rc" != 124 ] ||
		    fail "$(basename "$b") started with a $kind secret (exit $rc)"
		case $out in
		*"hold_secret_file: $tmp/s.secret: "*"$want"*) ;;
		*) fail "$(basename "$b"), $kind secret: got '$out', want '$want'" ;;
		esac
	done
done
pass "etrn-milter and etrnd refuse a missing, short, group-writable or world-readable hold_secret_file"
