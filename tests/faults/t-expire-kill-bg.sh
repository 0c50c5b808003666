#!/bin/bash
# t-expire-kill-bg - etrnd (queue runner and listener) killed with SIGKILL
# around an expiry batch's background delete (etrnd/expire.c, exp_bg),
# and started again after each kill.  N messages (EXPIRE_KILL_BG_N,
# default 2500; more than one batch of 2000, EXP_BATCH), each from its
# own sender, are held for dialup2.test and made due at once: the first
# sweep takes a batch of 2000 and, more being due, deletes its originals
# in a thread of its own while the next sweep takes the other N - 2000.
# Each kill is aimed, not timed:
#   A. during batch 1's background postsuper -d: the wrapped command
#      stopped at its gate before it runs, while the next sweep submits
#      its DSNs (the K-th of them held back by tests/faults/smtpgate.py
#      in front of the DSN server).  That this sweep is under way while
#      the postsuper -d waits shows the delete runs in the background.
#   B. just after batch 1's background delete (at the restart after A:
#      the 2000 records are sent, their delete again in the background)
#      has finished, before the next sweep removes its records: that
#      sweep stopped before its release (postsuper -H at its gate), the
#      2000 originals gone and their postsuper -d ended, their records
#      still there.
# Afterwards: every sender has exactly one DSN at the internet sink
# (counted by recipient, distinct Message-IDs), none of the N delivered,
# no file left in any queue (nothing on hold), no record or index entry
# left, expired = N and held = 0.
set -eu
. "${top_srcdir:-$(dirname "$0")/../..}/tests/lib/sandbox.sh"
sb_init f-ekbg
. "$SB_SRCDIR/tests/faults/lib.sh"
BATCH=2000	# EXP_BATCH, etrnd/expire.c
N=${EXPIRE_KILL_BG_N:-2500}
R=$((N - BATCH))	# the second sweep's messages
[ "$R" -ge 8 ] || fail "EXPIRE_KILL_BG_N must be $((BATCH + 8)) or more"
K=$((R >= 400 ? 100 : R / 4))	# A: the second sweep's DSN held back
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
# The K-th DSN of the second sweep: the first sweep submits BATCH.
python3 "$FT_DIR/smtpgate.py" --listen "$GATE_PORT" --to "$DSN_PORT" \
    --hold-at $((BATCH + K)) --flag "$SB/dsn.held" 2>>"$SB/log/smtpgate.log" &
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
# deleting - a postsuper -d of the sandbox still running (its PIDs)
deleting() {
	ps -eo pid=,comm=,args= |
	    awk -v sb="$SB" '$2 == "postsuper" && index($0, sb) && / -d / { print $1 }'
}
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
	echo "# $1: +$(sec) s after due: killed runner $pid, listener $lis${w:+, its postsuper $w with it}"
	echo "#   records: $(rstates)"
	echo "#   hold: $(held) ($N originals at the start); DSNs at the sink: $(dsn_count)"
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

etrnd_pid=$ETRND_PID
ctl domains set $DOM hold_time=1h warn_time=0 >/dev/null || fail "etrnctl domains set"
sleep 1.2	# domain_refresh: the milter sees the domain's settings
LOG=$SB/sent.log
t=$(ms_now)
sendmany --count "$N" --prefix kb --to-fmt "v{n}@$DOM" --from-fmt 's{n}@example.org' \
    --sessions 4 --log "$LOG" >"$SB/sendmany.out" 2>&1 ||
    fail "intake: $(tail -n 3 "$SB/sendmany.out")"
# shellcheck disable=SC2016 # eval expands them, each try
wait_for $((30 + N / 20)) eval '[ "$(in_hold)" = '"$N"' ]' || fail "held: $(in_hold) of $N"
wait_for 30 redis_is "$N" ZCARD "etrn:held:$DOM" ||
    fail "indexed: $(sb_redis ZCARD "etrn:held:$DOM") of $N"
[ "$(dsn_count)" = 0 ] || fail "a DSN before the deadline"
pass "$N messages from $N senders held for $DOM ($((($(ms_now) - t) / 1000)) s)"

# A. Batch 1's postsuper -d stopped before it runs; all due at once
# (bench/expiry.sh's way).
gate_arm postsuper d pre
T0=$(ms_now)
got=$(sb_redis EVAL "local m = redis.call('ZRANGE', KEYS[1], 0, -1)
for i = 1, #m do redis.call('ZADD', KEYS[1], 0, m[i]) end
return #m" 1 "etrn:expiry:$HOST")
[ "$got" = "$N" ] || fail "made due: $got of $N"
wait_for $((60 + N / 20)) gate_reached postsuper d pre ||
    fail "A: postsuper -d not reached ($(rstates))"
w=$(gate_reached postsuper d pre)
echo "# A: +$(sec) s: batch 1's postsuper -d (pid $w) waits at its gate"
# The next sweep goes on meanwhile: its K-th DSN taken by the DSN
# server, the reply held back.
wait_for $((60 + R / 10)) test -s "$SB/dsn.held" ||
    fail "A: no DSN of the next sweep while postsuper -d waits: the delete is not in the background ($(rstates))"
read -r dq <"$SB/dsn.held"
alive "$w" || fail "A: the waiting postsuper -d $w is gone"
echo "# A: +$(sec) s: meanwhile the next sweep's DSN $K taken (on hold as $dq), its reply held"
grep -F ": stopped at gate pre" "$SB/mta-calls.log" | sed 's/^/#   /'
kill_etrnd A "$w"
gate_open postsuper d pre
[ "$(ndsn sent)" = "$BATCH" ] || soft "A: $(ndsn sent) records sent, want batch 1's $BATCH: $(rstates)"
[ "$(ndsn sending)" -ge 1 ] || soft "A: no record in dsn_state sending: $(rstates)"
[ "$(ndsn queued)" -ge 1 ] || soft "A: no record in dsn_state queued: $(rstates)"
[ "$(nrec)" = "$N" ] || soft "A: $(nrec) records, want $N"
[ "$(norig)" = "$N" ] || soft "A: $(norig) originals on hold, want $N: deleted before the gate"
# The call stopped at the gate is logged, only it.
[ "$(ncalls ' -d - hold$')" = 1 ] || soft "A: postsuper -d calls: $(calls ' -d - hold$')"
[ "$(ncalls ' -H ')" = 1 ] || soft "A: postsuper -H calls: $(ncalls ' -H '), want batch 1's only"
stage_ok "A: killed in batch 1's background postsuper -d (before it ran) while the next sweep submitted DSNs: $BATCH records sent, $(ndsn queued) queued, DSN $K ($dq) taken unrecorded"

# B. The restart: batch 1 (its records sent, no DSN to send) deleted
# in the background again; the next sweep stopped before its release.
gate_arm postsuper H pre
start_etrnd
wait_for $((60 + N / 20)) gate_reached postsuper H pre ||
    fail "B: postsuper -H not reached ($(rstates))"
w=$(gate_reached postsuper H pre)
# shellcheck disable=SC2016 # eval expands them, each try
wait_for 60 eval '[ "$(ncalls " -d - hold$")" = 2 ] && [ "$(norig)" = '"$R"' ] && [ -z "$(deleting)" ]' ||
    fail "B: batch 1's delete did not end while the next sweep waits: $(ncalls ' -d - hold$') postsuper -d (2 wanted: at A, and after), $(held), running $(deleting)"
echo "# B: +$(sec) s: batch 1's postsuper -d has ended ($R originals left) while the next sweep's postsuper -H (pid $w) waits"
# The restart's calls: postsuper -d, then -H while batch 1's records
# stay (a delete in the foreground removes them before the next sweep).
grep -F ' postsuper ' "$SB/mta-calls.log" | tail -n 3 | sed 's/^/#   /'
kill_etrnd B "$w"
gate_open postsuper H pre
[ "$(nrec)" = "$N" ] || soft "B: $(nrec) records, want $N: batch 1's removed before the kill"
[ "$(ndsn sent)" = "$BATCH" ] || soft "B: $(ndsn sent) records sent, want $BATCH: $(rstates)"
[ "$(norig)" = "$R" ] || soft "B: $(norig) originals on hold, want $R"
[ "$(ncalls ' -H ')" = 2 ] || soft "B: postsuper -H calls: $(ncalls ' -H '), want 2 (at A, at the gate)"
stage_ok "B: killed after batch 1's background delete ended, before the next sweep removed its records: $BATCH originals gone, their $BATCH records left"

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
    fail "the DSN taken before kill A ($dq) was not found on hold"
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
[ "$(ncalls ' -d - hold$')" -ge 3 ] ||
    fail "postsuper -d calls: $(ncalls ' -d - hold$'), want batch 1's at B and more after"
[ "${#SOFT[@]}" = 0 ] ||
    fail "the end state is right, but ${#SOFT[@]} stage check(s) failed: ${SOFT[*]}"
pass "nothing left on hold or in any queue, no record or index entry; expired $N, held 0 ($(sec) s after due)"
