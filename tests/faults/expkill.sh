# shellcheck shell=bash
# tests/faults/expkill.sh - sourced by t-expire-kill-stages.sh and
# t-expire-kill-bg.sh (after tests/faults/lib.sh): the sandbox with
# tests/faults/smtpgate.py in front of the DSN server, the helpers both
# use, the intake of N messages from N senders, and the final checks.
# The test sets, before sourcing it:
#   N           the messages (and senders) held for dialup2.test;
#   EK_HOLD_AT  smtpgate's --hold-at: the DSN whose reply is held back;
#   EK_PREFIX   sendmany's --prefix (the X-Test-Ids);
#   EK_LABEL    kill_etrnd's log lines start "# $EK_LABEL<stage>:".
# After ek_intake, exactly N originals are on hold and NR (N, or more
# when intake made duplicates, see ek_dedup) records and index entries
# are in Redis.
HOST=mx.lab.test
DOM=dialup2.test
GATE_PORT=$(free_port)
mta_wrappers
# etrnd's dsn_server is the relay (smtpgate.py) in front of the
# sandbox's holding DSN smtpd.
SB_ETRND=1 SB_DSN_SERVER=none SB_EXTRA_CONF="postfix_command_directory = $SB/bin
dsn_server = inet:127.0.0.1:$GATE_PORT" sb_start
. "$SB_SRCDIR/tests/lib/common.sh"
etrnd_pid=$ETRND_PID gate_pid=''
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
# shellcheck disable=SC2154 # rc: the trap sets it
trap 'rc=$?; set +e; stop_all; sb_cleanup $rc' EXIT
python3 "$FT_DIR/smtpgate.py" --listen "$GATE_PORT" --to "$DSN_PORT" \
    --hold-at "$EK_HOLD_AT" --flag "$SB/dsn.held" 2>>"$SB/log/smtpgate.log" &
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
norig() { local h; h=$(held); echo "${h%% *}"; }
# calls PAT - the wrapped commands' calls (mta-calls.log) matching PAT,
# the gates' own lines left out
calls() {
	grep -- "$1" "$SB/mta-calls.log" 2>/dev/null | grep -v 'stopped at gate' || true
}
ncalls() { calls "$1" | grep -c . || true; }
sec() { local d=$(($(ms_now) - T0)); printf '%d.%d' $((d / 1000)) $((d % 1000 / 100)); }

# kill_etrnd STAGE WRAPPER - SIGKILL the runner and its listener (and see
# the waiting wrapper WRAPPER, if any, die with them); report what was
# killed when, and the state left behind
kill_etrnd() {
	local pid=$etrnd_pid lis w=${2:-}
	lis=$(ps -o pid=,comm= --ppid "$pid" | awk '$2 == "etrnd" { print $1 }')
	[ -n "$lis" ] || fail "$1: no listener under etrnd $pid"
	# shellcheck disable=SC2086 # one PID a word
	kill -9 "$pid" $lis
	wait "$pid" 2>/dev/null || true	# not a child at first
	etrnd_pid=
	wait_for 10 sh -c "! kill -0 $pid 2>/dev/null" || fail "$1: etrnd $pid survived"
	for p in $lis; do
		wait_for 10 eval "! alive $p" || fail "$1: listener $p survived"
	done
	if [ -n "$w" ]; then
		wait_for 10 eval "! alive $w" ||
		    fail "$1: the command etrnd ran (pid $w) outlived it"
	fi
	echo "# ${EK_LABEL:-}$1: +$(sec) s after due: killed runner $pid, listener $lis${w:+, its postsuper $w with it}"
	echo "#   records: $(rstates)"
	echo "#   hold: $(held) ($N originals at the start); DSNs at the sink: $(dsn_count); postsuper calls: $(ncalls ' postsuper ')"
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

# ek_dedup - intake made duplicates (sendmany sends again a message whose
# connection was lost, and the lost reply may have been a 250): keep the
# first copy of each sender's message, delete the others from the hold
# queue (postsuper -d: their records are then dropped by expiry as "no
# queue file", without a DSN, not counted expired)
ek_dedup() {
	local q
	# shellcheck disable=SC2016 # Lua, not the shell
	sb_redis EVAL 'local seen, o = {}, {}
for _, m in ipairs(redis.call("ZRANGE", KEYS[1], 0, -1)) do
	local s = redis.call("HGET", ARGV[1] .. m, "sender") or ""
	s = s:lower():gsub("[<>]", "")
	if seen[s] then o[#o + 1] = m:match("[^:]+$") else seen[s] = 1 end
end
return o' 1 "etrn:held:$DOM" "etrn:msg:" >"$SB/dups"
	echo "# intake: $(in_hold) on hold for $N messages; second copies: $(tr '\n' ' ' <"$SB/dups")"
	[ "$(grep -c . "$SB/dups")" = $(($(in_hold) - N)) ] ||
	    fail "held: $(in_hold) of $N, the copies found: $(grep -c . "$SB/dups")"
	while read -r q; do
		postsuper -c "$PF_CONF" -d "$q" hold 2>>"$SB/log/dedup.log" ||
		    fail "postsuper -d $q"
	done <"$SB/dups"
	echo "# intake: deleted $(grep -c . "$SB/dups") duplicate(s) from hold, $N left"
}
# ek_intake - N messages from N senders (s{n}@example.org) held for $DOM
ek_intake() {
	local t
	ctl domains set $DOM hold_time=1h warn_time=0 >/dev/null || fail "etrnctl domains set"
	sleep 1.2	# domain_refresh: the milter sees the domain's settings
	LOG=$SB/sent.log
	t=$(ms_now)
	sendmany --count "$N" --prefix "$EK_PREFIX" --to-fmt "v{n}@$DOM" \
	    --from-fmt 's{n}@example.org' --sessions 4 --log "$LOG" \
	    >"$SB/sendmany.out" 2>&1 ||
	    fail "intake: $(tail -n 3 "$SB/sendmany.out")"
	# Every message accepted is recorded before its reply: the files on
	# hold catch up with the index.
	# shellcheck disable=SC2016 # eval expands them, each try
	wait_for $((30 + N / 20)) eval '[ "$(in_hold)" -ge '"$N"' ] &&
	    [ "$(in_hold)" = "$(sb_redis ZCARD "etrn:held:$DOM")" ]' ||
	    fail "held: $(in_hold) of $N, indexed: $(sb_redis ZCARD "etrn:held:$DOM")"
	NR=$(in_hold)
	if [ "$NR" -gt "$N" ]; then
		ek_dedup
		# shellcheck disable=SC2016
		wait_for 30 eval '[ "$(in_hold)" = '"$N"' ]' ||
		    fail "held after the duplicates' delete: $(in_hold) of $N"
	fi
	[ "$(dsn_count)" = 0 ] || fail "a DSN before the deadline"
	pass "$N messages from $N senders held for $DOM ($((($(ms_now) - t) / 1000)) s)"
}
# ek_due - all due at once (bench/expiry.sh's way)
ek_due() {
	local got
	T0=$(ms_now)
	got=$(sb_redis EVAL "local m = redis.call('ZRANGE', KEYS[1], 0, -1)
for i = 1, #m do redis.call('ZADD', KEYS[1], 0, m[i]) end
return #m" 1 "etrn:expiry:$HOST")
	[ "$got" = "$NR" ] || fail "made due: $got of $NR"
}

# ek_final FIRST DQ - the last start: the expiry goes on to the end; then
# every sender has exactly one DSN, the DSN taken unrecorded before the
# kill FIRST (on hold as DQ) was found on hold, nothing is left, expired = N, held = 0.
# A function ek_last_check, if the test has one, runs before the stage
# checks' failures are counted.
ek_final() {
	local dq=$2
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
	    fail "the DSN taken before kill $1 ($dq) was not found on hold"
	pass "every one of the $N senders has exactly one DSN ($dq, taken unrecorded, found on hold); none delivered, none lost"

	local left
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
	! declare -F ek_last_check >/dev/null || ek_last_check
	[ "${#SOFT[@]}" = 0 ] ||
	    fail "the end state is right, but ${#SOFT[@]} stage check(s) failed: ${SOFT[*]}"
	pass "nothing left on hold or in any queue, no record or index entry; expired $N, held 0 ($(sec) s after due)"
}
