#!/bin/bash
# t-expire-kill-stages - etrnd (queue runner and listener) killed with
# SIGKILL at each stage of an expiry sweep, once per stage, and started
# again after each kill.  N messages (EXPIRE_KILL_N, default 2000), each
# from its own sender, are held for dialup2.test and made due at once.
# Each kill is aimed, not timed: etrnd waits at the stage (a reply held
# back, or a wrapped postsuper stopped) until the test has killed it.
#   1. DSNs being submitted: the DSN server has taken the K-th DSN (on
#      hold), its "queued as" reply held back by tests/faults/smtpgate.py
#      in front of the DSN server: that record says dsn_state sending,
#      the ones before it queued;
#   2. the sweep's DSNs queued on hold, before their release (postsuper
#      -H stopped before it runs);
#   3. the DSNs released (postsuper -H has run), before the records say
#      sent (stopped after it);
#   4. the records sent, before the originals are deleted (postsuper -d
#      stopped before it runs);
#   5. the originals deleted, before the records are finished (postsuper
#      -d stopped after it).
# Afterwards: every sender has exactly one DSN at the internet sink
# (counted by recipient and by X-Test-Id), none of the N delivered, no
# file left in any queue (neither an original nor a DSN), no record or
# index entry left, expired = N and held = 0.
set -eu
. "${top_srcdir:-$(dirname "$0")/../..}/tests/lib/sandbox.sh"
sb_init f-ekstages
. "$SB_SRCDIR/tests/faults/lib.sh"
N=${EXPIRE_KILL_N:-2000}
[ "$N" -ge 8 ] || fail "EXPIRE_KILL_N must be 8 or more"
K=$((N >= 400 ? 100 : N / 4))	# stage 1: the DSN whose reply is held
HOST=mx.lab.test
DOM=dialup2.test
GATE_PORT=$(free_port)
mta_wrappers
# etrnd's dsn_server is the relay (smtpgate.py) in front of the
# sandbox's holding DSN smtpd.
SB_ETRND=1 SB_DSN_SERVER=none SB_EXTRA_CONF="postfix_command_directory = $SB/bin
dsn_server = inet:127.0.0.1:$GATE_PORT" sb_start
. "$SB_SRCDIR/tests/lib/common.sh"
etrnd_pid='' gate_pid=''
stop_all() {
	local lis=''
	if [ -n "$etrnd_pid" ]; then
		# A runner stopped by stop_pid's SIGKILL leaves its listener.
		lis=$(ps -o pid=,comm= --ppid "$etrnd_pid" | awk '$2 == "etrnd" { print $1 }')
		stop_pid "$etrnd_pid"
		for p in $lis; do
			! alive "$p" || kill -9 "$p"
		done
	fi
	[ -z "$gate_pid" ] || { kill "$gate_pid"; wait "$gate_pid"; } 2>/dev/null
	rm -f "$SB"/gate.postsuper.*	# a stopped wrapper goes on
	return 0
}
trap 'rc=$?; set +e; stop_all; sb_cleanup $rc' EXIT
python3 "$FT_DIR/smtpgate.py" --listen "$GATE_PORT" --to "$DSN_PORT" \
    --hold-at "$K" --flag "$SB/dsn.held" 2>>"$SB/log/smtpgate.log" &
gate_pid=$!
wait_for 10 eval "ss -Hltn 'sport = :$GATE_PORT' | grep -q ." ||
    fail "smtpgate does not listen"

# rstates - the records of this host by state/dsn_state, "S/D=n ..."
rstates() {
	sb_redis EVAL "local c, o = {}, {}
for _, k in ipairs(redis.call('KEYS', ARGV[1])) do
	local s = (redis.call('HGET', k, 'state') or '-') .. '/' ..
	    (redis.call('HGET', k, 'dsn_state') or '-')
	c[s] = (c[s] or 0) + 1
end
for s, n in pairs(c) do o[#o + 1] = s .. '=' .. n end
table.sort(o)
return o" 0 "etrn:msg:$HOST:*" | tr '\n' ' '
}
# ndsn STATE - records whose dsn_state is STATE
ndsn() {
	local w
	for w in $(rstates); do
		case $w in */"$1"=*) echo "${w##*=}"; return ;; esac
	done
	echo 0
}
nrec() { sb_redis --scan --pattern "etrn:msg:$HOST:*" | grep -c . || true; }
in_hold() { find "$PF_SPOOL/hold" -type f | wc -l; }
# held - the hold queue's originals and DSNs (null sender): "O o, D d"
held() {
	postqueue -c "$PF_CONF" -j | python3 -c '
import json, sys
o = d = 0
for line in sys.stdin:
    if line.strip():
        m = json.loads(line)
        if m["queue_name"] == "hold":
            # showq names the null sender MAILER-DAEMON
            if m["sender"] in ("", "MAILER-DAEMON"):
                d += 1
            else:
                o += 1
print("%d originals, %d DSNs" % (o, d))'
}
sec() { local d=$(($(ms_now) - T0)); printf '%d.%d' $((d / 1000)) $((d % 1000 / 100)); }

# kill_etrnd STAGE WRAPPER - SIGKILL the runner and its listener (and see
# the waiting wrapper WRAPPER, if any, die with them); report what was
# killed when, and the state left behind
kill_etrnd() {
	local pid=${etrnd_pid:-$ETRND_PID} lis w=${2:-}
	lis=$(ps -o pid=,comm= --ppid "$pid" | awk '$2 == "etrnd" { print $1 }')
	# shellcheck disable=SC2086 # one PID a word, or none
	kill -9 "$pid" $lis
	if [ -n "$etrnd_pid" ]; then
		wait "$etrnd_pid" 2>/dev/null || true
		etrnd_pid=
	fi
	wait_for 10 sh -c "! kill -0 $pid 2>/dev/null" || fail "$1: etrnd $pid survived"
	for p in $lis; do
		wait_for 10 eval "! alive $p" || fail "$1: listener $p survived"
	done
	if [ -n "$w" ]; then
		wait_for 10 eval "! alive $w" ||
		    fail "$1: the command etrnd ran (pid $w) outlived it"
	fi
	echo "# stage $1: +$(sec) s after due: killed runner $pid, listener ${lis:-none}${w:+, its postsuper $w with it}"
	echo "#   records: $(rstates)"
	echo "#   hold: $(held) ($N originals at the start); DSNs at the sink: $(dsn_count); postsuper calls: $(grep ' postsuper ' "$SB/mta-calls.log" 2>/dev/null | grep -vc 'stopped at gate' || true)"
}
# soft MSG - a stage found in a state it should not be in: said now, and
# the test fails at the end, after the final accounting
SOFT=()
soft() {
	echo "FAIL: $*" >&2
	SOFT+=("$*")
}
nsoft=0
stage_ok() {
	[ "${#SOFT[@]}" != "$nsoft" ] || pass "$*"
	nsoft=${#SOFT[@]}
}
start_etrnd() {
	"$OPENETRN_BUILDDIR/etrnd/etrnd" -f -c "$OPENETRN_CONF" >>"$SB/log/etrnd.log" 2>&1 &
	etrnd_pid=$!
}
# at_gate STAGE OPT WHEN - restart etrnd with postsuper -OPT stopped at
# WHEN (pre, post); once it waits there, kill etrnd
at_gate() {
	local w
	gate_arm postsuper "$2" "$3"
	start_etrnd
	wait_for $((60 + N / 20)) gate_reached postsuper "$2" "$3" ||
	    fail "$1: postsuper -$2 not reached ($(rstates))"
	w=$(gate_reached postsuper "$2" "$3")
	kill_etrnd "$1" "$w"
	gate_open postsuper "$2" "$3"
}

ctl domains set $DOM hold_time=1h warn_time=0 >/dev/null || fail "etrnctl domains set"
sleep 1.2	# domain_refresh: the milter sees the domain's settings
LOG=$SB/sent.log
t=$(ms_now)
sendmany --count "$N" --prefix ks --to-fmt "v{n}@$DOM" --from-fmt 's{n}@example.org' \
    --sessions 4 --log "$LOG" >"$SB/sendmany.out" 2>&1 ||
    fail "intake: $(tail -n 3 "$SB/sendmany.out")"
# shellcheck disable=SC2016 # eval expands them, each try
wait_for $((30 + N / 20)) eval '[ "$(in_hold)" = '"$N"' ]' || fail "held: $(in_hold) of $N"
wait_for 30 redis_is "$N" ZCARD "etrn:held:$DOM" ||
    fail "indexed: $(sb_redis ZCARD "etrn:held:$DOM") of $N"
[ "$(dsn_count)" = 0 ] || fail "a DSN before the deadline"
pass "$N messages from $N senders held for $DOM ($((($(ms_now) - t) / 1000)) s)"

# All due at once (bench/expiry.sh's way).
T0=$(ms_now)
got=$(sb_redis EVAL "local m = redis.call('ZRANGE', KEYS[1], 0, -1)
for i = 1, #m do redis.call('ZADD', KEYS[1], 0, m[i]) end
return #m" 1 "etrn:expiry:$HOST")
[ "$got" = "$N" ] || fail "made due: $got of $N"

# 1. The DSN server has taken the K-th DSN; etrnd waits for the reply.
wait_for $((60 + N / 20)) test -s "$SB/dsn.held" ||
    fail "1: the DSN server did not take $K DSNs ($(rstates))"
read -r dq <"$SB/dsn.held"
kill_etrnd 1
[ "$(ndsn sending)" -ge 1 ] || soft "1: no record in dsn_state sending: $(rstates)"
[ "$(ndsn queued)" -ge 1 ] || soft "1: no record in dsn_state queued: $(rstates)"
[ "$(ndsn sent)" = 0 ] || soft "1: records sent before any release: $(rstates)"
sb_hold_ids | grep -x "$dq" >/dev/null || soft "1: the DSN taken ($dq) is not on hold"
[ "$(dsn_count)" = 0 ] || soft "1: $(dsn_count) DSNs out before any release"
stage_ok "1: killed while submitting: DSN $K taken (on hold as $dq), its record sending, $(ndsn queued) queued"

# 2. Before the release.
at_gate 2 H pre
[ "$(ndsn queued)" -ge "$K" ] || soft "2: $(ndsn queued) queued, want >= $K: $(rstates)"
[ "$(ndsn sending)" = 0 ] || soft "2: still sending: $(rstates)"
[ "$(ndsn sent)" = 0 ] || soft "2: records sent before the release: $(rstates)"
[ "$(dsn_count)" = 0 ] || soft "2: $(dsn_count) DSNs out before the release"
B=$(ndsn queued)	# the sweep's messages
[ "$(held)" = "$N originals, $B DSNs" ] || soft "2: on hold $(held), want $N originals + $B DSNs"
stage_ok "2: killed before the release: $B DSNs queued on hold"

# 3. After the release, before the records say sent.
at_gate 3 H post
[ "$(held)" = "$N originals, 0 DSNs" ] || soft "3: on hold $(held), want the $N originals only"
[ "$(ndsn queued)" -ge "$B" ] || soft "3: $(ndsn queued) queued, want >= $B: $(rstates)"
[ "$(ndsn sent)" = 0 ] || soft "3: records sent: $(rstates)"
stage_ok "3: killed after postsuper -H: the $B DSNs out of hold, records still queued"

# 4. Before the originals are deleted.
at_gate 4 d pre
[ "$(held)" = "$N originals, 0 DSNs" ] || soft "4: on hold $(held), want the $N originals only"
[ "$(ndsn sent)" -ge "$B" ] || soft "4: $(ndsn sent) sent, want >= $B: $(rstates)"
[ "$(grep -c -- ' -d - hold$' "$SB/mta-calls.log")" = 1 ] ||
    soft "4: postsuper -d ran before: $(grep -- ' -d - hold' "$SB/mta-calls.log")"
stage_ok "4: killed before postsuper -d: $(ndsn sent) records sent, all $N originals on hold"

# 5. After the deletes, before the records are finished.
at_gate 5 d post
h=$(held)
d=$((N - ${h%% *}))
[ "$d" -ge 1 ] || soft "5: nothing deleted (on hold $h)"
[ "$(nrec)" = "$N" ] || soft "5: $(nrec) records, want $N: some finished"
[ "$(ndsn sent)" -ge "$d" ] || soft "5: $d deleted, $(ndsn sent) records sent: $(rstates)"
stage_ok "5: killed after postsuper -d: $d originals deleted, their records left"

# The last start: the expiry goes on to the end.
start_etrnd
wait_for $((60 + N / 10)) redis_is 0 ZCARD "etrn:expiry:$HOST" ||
    fail "not all expired: $(sb_redis ZCARD "etrn:expiry:$HOST") due left ($(rstates))"
echo "# all expired +$(sec) s after due"
# Missing DSNs and files left are named below.
# shellcheck disable=SC2016 # eval expands them, each try
wait_for 60 eval '[ "$(dsn_count)" -ge '"$N"' ]' || true
# shellcheck disable=SC2016
wait_for 30 eval '[ -z "$(postqueue -c "$PF_CONF" -j)" ]' || true
sleep 3		# more sweeps: nothing a second time

# Per sender: exactly one DSN (by its recipient), distinct Message-IDs.
dsns | python3 -c '
import re, sys
n = int(sys.argv[1])
got, mids = {}, {}
for path in sys.stdin.read().split():
    to = mid = None
    for line in open(path, "rb").read().split(b"\n"):
        if not line.strip():
            break
        l = line.decode("ascii", "replace")
        if to is None and l.lower().startswith("to:"):
            m = re.search(r"[^<>\s:]+@[^<>\s]+", l)
            to = m.group(0).lower() if m else l
        elif mid is None and l.lower().startswith("message-id:"):
            mid = l.split(":", 1)[1].strip()
    got.setdefault(to, []).append(path)
    mids[mid] = mids.get(mid, 0) + 1
want = set("s%d@example.org" % i for i in range(1, n + 1))
missing = sorted(want - set(got), key=lambda s: (len(s), s))
twice = sorted((s for s in got if len(got[s]) > 1), key=lambda s: (len(str(s)), str(s)))
other = sorted(str(s) for s in got if s not in want)
dup = [m for m in mids if mids[m] > 1]
print("# DSNs: %d files, %d senders, %d Message-IDs" % (
    sum(len(v) for v in got.values()), len(got), len(mids)))
for s in missing[:50]:
    print("senders without a DSN: %s" % s)
for s in twice[:50]:
    print("sender with %d DSNs: %s (%s)" % (len(got[s]), s, " ".join(got[s])))
for s in other[:20]:
    print("a DSN to an unknown recipient: %s" % s)
for m in dup[:20]:
    print("Message-ID %s %d times" % (m, mids[m]))
if missing or twice or other or dup:
    print("%d senders without a DSN, %d with 2 or more, %d unknown, %d repeated Message-IDs" % (
        len(missing), len(twice), len(other), len(dup)))
    sys.exit(1)
' "$N" >"$SB/persender.out" || { cat "$SB/persender.out"; fail "not one DSN per sender"; }
cat "$SB/persender.out"
[ "$(dsn_count)" = "$N" ] || fail "DSNs: $(dsn_count), want $N"
ledger --dialup dsn --settled --no-stale "$LOG" || fail "ledger"
grep -q ": DSN found on hold as $dq, submitted before" "$SB/log/etrnd.log" ||
    fail "the DSN taken before the first kill ($dq) was not found on hold"
pass "every one of the $N senders has exactly one DSN ($dq, taken unrecorded, found on hold); none delivered, none lost"

left=$(postqueue -c "$PF_CONF" -j)
[ -z "$left" ] || fail "left in the queue: $(echo "$left" | wc -l): $(echo "$left" | head -n 5)"
[ "$(find "$PF_SPOOL"/{hold,deferred,active,incoming,maildrop} -type f | wc -l)" = 0 ] ||
    fail "queue files left: $(find "$PF_SPOOL"/{hold,deferred,active,incoming,maildrop} -type f | head -n 5)"
[ "$(nrec)" = 0 ] || fail "$(nrec) records left: $(rstates)"
for k in "etrn:held:$DOM" "etrn:expiry:$HOST" "etrn:warn:$HOST" "etrn:released:$HOST" \
    "etrn:pending:$HOST"; do
	redis_is 0 ZCARD "$k" || fail "$k: $(sb_redis ZCARD "$k") entries left"
done
redis_is "$N" HGET "etrn:stats:$DOM" expired ||
    fail "expired counter: $(sb_redis HGET "etrn:stats:$DOM" expired), want $N"
redis_is 0 HGET "etrn:stats:$DOM" held || fail "held counter: $(sb_redis HGET "etrn:stats:$DOM" held)"
[ "$(sb_sink_count customer)" = 0 ] || fail "$(sb_sink_count customer) delivered to the customer"
[ "${#SOFT[@]}" = 0 ] ||
    fail "the end state is right, but ${#SOFT[@]} stage check(s) failed: ${SOFT[*]}"
pass "nothing left on hold or in any queue, no record or index entry; expired $N, held 0 ($(sec) s after due)"
