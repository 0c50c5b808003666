#!/bin/bash
# t-domains - 10,000 dial-up domains: what etrn-milter's and etrnd
# listener's domain list costs, measured against a list of 10 in the
# same run.  etrn:domains gets 10,000 entries (".dN.load.test", every
# tenth with an etrn:domain: hash) through redis-cli --pipe;
# domain_refresh is the sandbox's 1 s.  Asserted, each daemon:
#   - a reload (SIGUSR1 to the milter, SIGHUP to etrnd; one entry added)
#     is done, its "dial-up domains loaded: count=" line logged, within
#     3 s of the signal;
#   - a periodic refresh of the 10,000 costs under 150 ms of CPU (from
#     /proc/PID/task/*/schedstat over 5 idle seconds);
#   - VmRSS grows by under 16 MiB (not checked in a sanitizer build);
# and etrnd's listener:
#   - authorizes an ETRN for a.b.c.x.y.dN.load.test (six lookups, the last
#     one matching) at a CPU cost per ETRN at most 2 times the cost with
#     10 entries (ETRN at 300 a second for 5 s each, with domain_refresh
#     set to 1h meanwhile and the idle CPU subtracted).
# The figures are printed; docs/performance.md has a run's.
set -eu
. "${top_srcdir:-$(dirname "$0")/../..}/tests/lib/sandbox.sh"
sb_init load-domains
N=10000
SB_ETRND=1 SB_EXTRA_CONF="etrn_rate_limit = 100000
etrnd_max_per_client = 100
etrnd_max_commands = 1000000" sb_start
. "$SB_SRCDIR/tests/lib/common.sh"
flood=$SB_SRCDIR/tests/security/flood.py
MLOG=$SB_LOG_DIR/etrn-milter.log ELOG=$SB_LOG_DIR/etrnd.log

san=0
sanitized && san=1
LPID=$(listener_pid) || fail "no listener child of etrnd $ETRND_PID"

# cpu PID - nanoseconds on a CPU, all threads
cpu() {
	cat /proc/"$1"/task/*/schedstat 2>/dev/null |
	    awk '{ n += $1 } END { printf "%d\n", n }'
}

# idle PID... - ns of CPU a second of each PID over 5 s
idle() {
	local p a=() i=0
	for p in "$@"; do a+=("$(cpu "$p")"); done
	sleep 5
	for p in "$@"; do
		echo $((($(cpu "$p") - a[i]) / 5))
		i=$((i + 1))
	done
}

# etrn_cost COUNT - ETRN a.b.c.x.y.dK.load.test, K = 1..COUNT in turn, 300 a
# second for 5 s; print the listener's CPU ns per ETRN less its idle CPU
etrn_cost() {
	local idle_ns=$1 count=$2 c0 t0 c1 t1 out n
	c0=$(cpu "$LPID") t0=$(date +%s%N)
	out=$(python3 "$flood" etrn-storm "$ETRND_PORT" 300 5 \
	    'a.b.c.x.y.d%d.load.test' "$count") || fail "ETRN: $out"
	c1=$(cpu "$LPID") t1=$(date +%s%N)
	grep -q '"251": ' <<<"$out" || fail "ETRNs not authorized: $out"
	n=$(sed -n 's/^sent: //p' <<<"$out")
	echo $(((c1 - c0 - idle_ns * (t1 - t0) / 1000000000) / n))
}

# reload COUNT - add one entry, signal both daemons, print the ms until
# each logged the new count (milter listener)
reload() {
	local want=$(($1 + 1)) t0 tm='' tl='' t
	sb_redis SADD etrn:domains ".r$want.load.test" >/dev/null
	t0=$(date +%s%N)
	kill -USR1 "$MILTER_PID"
	kill -HUP "$ETRND_PID"
	while [ -z "$tm" ] || [ -z "$tl" ]; do
		t=$(date +%s%N)
		[ $((t - t0)) -lt 10000000000 ] ||
		    fail "count=$want not logged within 10 s"
		[ -z "$tm" ] && grep -q "loaded: count=$want\$" "$MLOG" &&
		    tm=$(((t - t0) / 1000000))
		[ -z "$tl" ] && grep -q "loaded: count=$want\$" "$ELOG" &&
		    tl=$(((t - t0) / 1000000))
		sleep 0.01
	done
	echo "$tm $tl"
}

# refresh_every TIME - domain_refresh = TIME in both daemons (a reload)
refresh_every() {
	sed -i "s/^domain_refresh = .*/domain_refresh = $1/" "$OPENETRN_CONF"
	kill -USR1 "$MILTER_PID"
	kill -HUP "$ETRND_PID"
	sleep 1
}

# The small list: the sandbox's 4 entries and 6 more.
for i in 1 2 3 4 5 6; do
	sb_redis SADD etrn:domains ".d$i.load.test" >/dev/null
done
wait_for 10 grep -q 'loaded: count=10$' "$MLOG" ||
    fail "milter did not load 10 domains"
sleep 2
m0=$(rss "$MILTER_PID") l0=$(rss "$LPID")
read -r im0 il0 <<<"$(idle "$MILTER_PID" "$LPID" | paste -sd' ')"
# No periodic refresh while the ETRN cost is measured.
refresh_every 1h
read -r _ il <<<"$(idle "$MILTER_PID" "$LPID" | paste -sd' ')"
small=$(etrn_cost "$il" 6)

# The large list, through redis-cli --pipe.
t0=$(date +%s%N)
for ((i = 7; i <= N - 4; i++)); do
	printf 'SADD etrn:domains .d%d.load.test\r\n' "$i"
	[ $((i % 10)) = 0 ] &&
	    printf 'HSET etrn:domain:.d%d.load.test hold_time 2d allow %s\r\n' \
	    "$i" 127.0.0.0/8
done | redis-cli -s "$REDIS_SOCK" --pipe >"$SB/pipe.out" 2>&1 ||
    fail "redis-cli --pipe: $(cat "$SB/pipe.out")"
[ "$(sb_redis SCARD etrn:domains)" = "$N" ] || fail "not $N entries"
echo "$N entries written in $((($(date +%s%N) - t0) / 1000000)) ms"
read -r rm rl <<<"$(reload "$N")"
pass "reload of $((N + 1)) entries: milter ${rm} ms, listener ${rl} ms"
[ "$rm" -lt 3000 ] && [ "$rl" -lt 3000 ] || fail "a reload took over 3 s"
read -r _ il <<<"$(idle "$MILTER_PID" "$LPID" | paste -sd' ')"
large=$(etrn_cost "$il" $((N - 4)))
refresh_every 1s
sleep 1
m1=$(rss "$MILTER_PID") l1=$(rss "$LPID")
read -r im1 il1 <<<"$(idle "$MILTER_PID" "$LPID" | paste -sd' ')"
pass "refresh each second: milter $((im0 / 1000)) -> $((im1 / 1000)) us" \
    "of CPU, listener $((il0 / 1000)) -> $((il1 / 1000)) us"
[ "$im1" -lt 150000000 ] && [ "$il1" -lt 150000000 ] ||
    fail "a refresh of $N entries costs 150 ms of CPU or more"
pass "listener CPU per ETRN: $small ns with 10 entries," \
    "$large ns with $((N + 1))"
[ $((10 * large)) -le $((20 * (small > 20000 ? small : 20000))) ] ||
    fail "ETRN authorization costs $large ns with $((N + 1)) entries," \
    "over 2 x $small ns"
pass "VmRSS: milter $m0 -> $m1 kB, listener $l0 -> $l1 kB"
if [ "$san" = 0 ]; then
	[ $((m1 - m0)) -lt 16384 ] && [ $((l1 - l0)) -lt 16384 ] ||
	    fail "VmRSS grew by 16 MiB or more"
fi
kill -0 "$MILTER_PID" && kill -0 "$ETRND_PID" || fail "a daemon died"
. "$SB_SRCDIR/tests/security/seclib.sh"
stop_and_check_logs
pass "clean stop: no daemon ignored SIGTERM, no sanitizer report"
