# shellcheck shell=bash
# tests/lib/common.sh - small checks shared by the integration tests; source
# it after tests/lib/sandbox.sh and sb_start.
#
#   send ARGS...            tests/lib/send.py to the sandbox smtpd
#   qid_of TEXT             the queue ID in a "queued as" reply
#   sink_is WHICH N         the sink WHICH has N messages
#   redis_is WANT CMD...    redis-cli CMD prints WANT
#   hold_is N               the hold queue has N messages
#   field QID NAME          a field of this host's hold record QID

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

# Succeed when the hold queue holds exactly $1 messages.
hold_is() {
	[ "$(sb_queue_count hold)" = "$1" ]
}

# Print field $2 of the hold record of queue ID $1 on mx.lab.test.
field() {
	sb_redis HGET "etrn:msg:mx.lab.test:$1" "$2"
}
