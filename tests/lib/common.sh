# shellcheck shell=bash
# tests/lib/common.sh - small checks shared by the integration tests; source
# it after tests/lib/sandbox.sh and sb_start.
#
#   send ARGS...            tests/lib/send.py to the sandbox smtpd
#   qid_of TEXT             the queue ID in a "queued as" reply
#   sink_is WHICH N         the sink WHICH has N messages
#   redis_is WANT CMD...    redis-cli CMD prints WANT
#   hold_is N               the hold queue has N messages (then their
#                           pending records are counted, see promote)
#   promote                 one pass of etrnd's pending step: records of
#                           messages on hold are counted (without etrnd)
#   field QID NAME          a field of this host's hold record QID
#   dsn_msgid KIND TOKEN HOST [SECRET]  the Message-ID etrnd gives the DSN
#                           (KIND expired or delayed) of a hold token
#   dsns                    the internet sink's files that are DSNs
#   dsn_count               how many there are
#   dsn_is N, dsn_at_least N  there are N, at least N
#   dsn_taken N             the DSN smtpd took at least N sessions
#   state_is QID STATE      field state of hold record QID is STATE
#   etrn ARG...             tests/lib/etrn.py to etrnd's listener
#   smtpd_etrn ARG...       the same to the sandbox's Postfix smtpd
#   ctl ARGS...             etrnctl on the sandbox's configuration
#   big ARGS...             tests/integration/bigmail.py
#   listener_pid            the PID of etrnd's listener
#   held_one RCPT           send one message to RCPT, wait until it is held
#                           and its record held; print its queue ID
#   dsn_gate MS             the DSN smtpd's replies MS ms late (a relay)
#   sb_restart NAME         stop the sandbox's etrnd or etrn-policy and
#                           start it on the configuration as it is now

# Run send.py against the sandbox smtpd.
send() {
	python3 "$SB_SRCDIR/tests/lib/send.py" --port "$SMTP_PORT" "$@"
}

# Print the queue ID of a "250 ... queued as ID" reply.
qid_of() {
	printf '%s\n' "$1" | sed -n 's/.*queued as \([A-Za-z0-9]*\).*/\1/p'
}

# Succeed when sink $1 holds exactly $2 messages.
sink_is() {
	[ "$(sb_sink_count "$1")" = "$2" ]
}

# Succeed when redis-cli ${@:2} prints $1.
redis_is() {
	[ "$(sb_redis "${@:2}")" = "$1" ]
}

# Run etrnd's pending step once (tests/etrnd/runner-test pending), as
# etrnd's queue runner does every queue_run_interval.
promote() {
	"${RUNNER_TEST:-$OPENETRN_BUILDDIR/tests/etrnd/runner-test}" \
	    "$OPENETRN_CONF" pending >>"$SB_LOG_DIR/promote.log" 2>&1
}

# Succeed when the hold queue holds exactly $1 messages; their records
# are then promoted from pending to held, as etrnd would.
hold_is() {
	[ "$(sb_queue_count hold)" = "$1" ] || return 1
	promote || echo "promote failed, see $SB_LOG_DIR/promote.log" >&2
}

# Print field $2 of the hold record of queue ID $1 on mx.lab.test.
field() {
	sb_redis HGET "etrn:msg:mx.lab.test:$1" "$2"
}

# Print the Message-ID of the DSN ($1: expired or delayed) for token $2
# from host $3, keyed with the secret file $4 (default: the sandbox's),
# computed here independently of etrnd (docs/redis-keys.md).
dsn_msgid() {
	python3 - "${4:-$HOLD_SECRET}" "$1" "$2" "$3" <<'PY'
import hashlib, hmac, sys
key = open(sys.argv[1], "rb").read()
data = b"openetrn-" + sys.argv[2].encode() + b"\0" + sys.argv[3].encode()
mac = hmac.new(key, data, hashlib.sha256).hexdigest()[:32]
print("<%s.%s@%s>" % (sys.argv[2], mac, sys.argv[4]))
PY
}

# Print the internet sink's files that are DSNs (auto-replied), one a line.
dsns() {
	sb_sink_files internet | xargs -r grep -l '^Auto-Submitted: auto-replied' 2>/dev/null || true
}

# Print how many DSNs the internet sink holds.
dsn_count() {
	dsns | grep -c . || true
}

# Succeed when the internet sink holds exactly $1 DSNs.
dsn_is() {
	[ "$(dsn_count)" = "$1" ]
}

# Succeed when the internet sink holds at least $1 DSNs.
dsn_at_least() {
	[ "$(dsn_count)" -ge "$1" ]
}

# Succeed when the sandbox's DSN smtpd had at least $1 sessions.
dsn_taken() {
	[ "$(grep -c 'openetrn-dsn/smtpd.*: client=' "$PF_LOG" 2>/dev/null || true)" -ge "$1" ]
}

# Succeed when the hold record of queue ID $1 is in state $2.
state_is() {
	[ "$(field "$1" state)" = "$2" ]
}

# tests/lib/etrn.py to etrnd's listener.
etrn() {
	python3 "$SB_SRCDIR/tests/lib/etrn.py" "$ETRND_PORT" "$@"
}

# tests/lib/etrn.py to the sandbox's Postfix smtpd.
smtpd_etrn() {
	python3 "$SB_SRCDIR/tests/lib/etrn.py" "$SMTP_PORT" "$@"
}

# etrnctl on the sandbox's configuration.
ctl() {
	"$OPENETRN_BUILDDIR/etrnctl/etrnctl" -c "$OPENETRN_CONF" "$@"
}

# tests/integration/bigmail.py (large and slow mail).
big() {
	python3 "$SB_SRCDIR/tests/integration/bigmail.py" "$@"
}

# listener_pid - the PID of etrnd's listener, the child of $ETRND_PID
listener_pid() {
	local p
	p=$(python3 -c 'import sys; sys.path.insert(0, sys.argv[1])
import flood; print(flood.listener_of(int(sys.argv[2])))' \
	    "$SB_SRCDIR/tests/security" "$ETRND_PID") || return 1
	[ "$p" != None ] || return 1
	echo "$p"
}

# sb_restart NAME - stop the sandbox's etrnd or etrn-policy (NAME) by its
# PID and start it again on $OPENETRN_CONF as it is now, its PID in
# ETRND_PID or POLICY_PID and the sandbox's pid file (so the sandbox's
# stop ends it); the caller waits for what it needs of it
sb_restart() {
	local bin pid
	case $1 in
	etrnd) bin=etrnd/etrnd pid=${ETRND_PID:-} ;;
	etrn-policy) bin=policy/etrn-policy pid=${POLICY_PID:-} ;;
	*) fail "sb_restart: no daemon $1" ;;
	esac
	if [ -n "$pid" ] && alive "$pid"; then
		kill -TERM "$pid"
		wait_for 20 eval "! alive $pid" || fail "$1 did not stop"
	fi
	"$OPENETRN_BUILDDIR/$bin" -f -c "$OPENETRN_CONF" \
	    >>"$SB_LOG_DIR/$1.log" 2>&1 </dev/null &
	pid=$!
	echo "$pid" >"$SB/run/$1.pid"
	case $1 in
	etrnd) ETRND_PID=$pid ;;
	*) POLICY_PID=$pid ;;
	esac
}

# held_one RCPT - send one message, wait until it is held and indexed;
# print its queue ID
held_one() {
	local before id
	before=$(sb_hold_ids | sort)
	sb_swaks -f "sender@example.org" -t "$1" >/dev/null || fail "swaks $1"
	wait_for 20 eval '[ -n "$(comm -13 <(printf "%s\n" "$before") <(sb_hold_ids | sort) | grep .)" ]' ||
	    fail "$1 not held"
	id=$(comm -13 <(printf '%s\n' "$before") <(sb_hold_ids | sort) | grep .)
	wait_for 10 eval '[ "$(field "$id" state)" = held ]' ||
	    fail "$1: record $(field "$id" state)"
	echo "$id"
}

# dsn_gate MS - tests/faults/smtpgate.py on GATE_PORT in front of the
# sandbox's DSN smtpd, each "queued as" reply MS ms late, so that an
# expiry sweep lasts long enough to act in its middle; sets GATE_PID.
# Before sb_start: GATE_PORT=$(free_port), SB_DSN_SERVER=none and
# "dsn_server = inet:127.0.0.1:$GATE_PORT" in SB_EXTRA_CONF.
dsn_gate() {
	python3 "$SB_SRCDIR/tests/faults/smtpgate.py" --listen "$GATE_PORT" \
	    --to "$DSN_PORT" --delay-ms "$1" 2>>"$SB/log/smtpgate.log" &
	GATE_PID=$!
	wait_for 10 eval "ss -Hltn 'sport = :$GATE_PORT' | grep -q ." ||
	    fail "smtpgate does not listen"
}
