#!/bin/bash
# t-hostile-input - hostile input is refused at every entry point: the
# ETRN argument on etrnd's listener (459/500/501, never 25x), requests to
# etrn-policy (459 or the connection closed), etrnctl's flush, list,
# release, expire and domains with hostile domains, queue IDs, setting
# names and values (exit 1 or 2), and RCPT TO through Postfix to
# etrn-milter.  The payloads
# (tests/security/hostile.py): shell metacharacters that would create a
# canary file, Redis protocol and glob characters, CR/LF, NUL, non-ASCII
# octets, 300/600/5000-octet arguments and postsuper options ("-d ALL",
# "-rALL").  After each round: no canary file, every Redis key (SCAN)
# has a documented shape, and no held mail was released or deleted.
# Hostile but valid quoted local parts and ENVID/ORCPT values in a
# dial-up domain are held verbatim and released without any command
# running.
set -eu
. "${top_srcdir:-$(dirname "$0")/../..}/tests/lib/sandbox.sh"
sb_init sec-hostile
SB_ETRND=1 SB_POLICY=1 SB_EXTRA_CONF="etrnd_max_errors = 100" sb_start
. "$SB_SRCDIR/tests/lib/common.sh"
. "$SB_SRCDIR/tests/security/seclib.sh"
hostile() { python3 "$SB_SRCDIR/tests/security/hostile.py" "$@"; }
canary_init

hold_three u1 u2 v
before=$(held_snapshot)
[ "$(printf '%s\n' "$before" | grep -c '^hold ')" = 3 ] || fail "snapshot"

# unchanged - the attack left no trace
unchanged() {
	canary_check
	schema_check
	[ "$(held_snapshot)" = "$before" ] ||
	    fail "$1: held mail changed: $(held_snapshot)"
	[ "$(sb_sink_count customer)" = 0 ] || fail "$1: mail released"
	[ "$(sb_redis XLEN etrn:flush)" = 0 ] || fail "$1: flush queued"
}

out=$(hostile etrnd "$ETRND_PORT" "$CANARY") || {
	printf '%s\n' "$out" | grep -v '^refused' >&2; fail "etrnd"; }
n=$(printf '%s\n' "$out" | grep -c '^refused:')
[ "$n" -ge 35 ] || fail "etrnd: only $n payloads tried"
unchanged etrnd
kill -0 "$ETRND_PID" || fail "etrnd died"
pass "etrnd's listener refused $n hostile ETRN arguments (459/500/501)"

out=$(hostile policy "$POLICY_SOCK" "$CANARY") || {
	printf '%s\n' "$out" >&2; fail "etrn-policy"; }
unchanged etrn-policy
kill -0 "$POLICY_PID" || fail "etrn-policy died"
pass "etrn-policy: $out (etrn_domain, client_address, sasl_username, recipient)"

out=$(hostile etrnctl "$OPENETRN_BUILDDIR/etrnctl/etrnctl" "$OPENETRN_CONF" \
    "$CANARY") || { printf '%s\n' "$out" >&2; fail "etrnctl"; }
unchanged etrnctl
[ "$(sb_redis SMEMBERS etrn:domains | sort | paste -sd' ')" = \
    ".dialup.test dialup.test dialup2.test xn--bcher-kva.test" ] ||
    fail "etrn:domains changed: $(sb_redis SMEMBERS etrn:domains)"
[ "$(sb_redis EXISTS etrn:domain:dialup2.test)" = 0 ] ||
    fail "settings written: $(sb_redis HGETALL etrn:domain:dialup2.test)"
pass "$out (exit 1 or 2; nothing added, released or deleted)"

out=$(hostile smtp "$SMTP_PORT" "$CANARY") || {
	printf '%s\n' "$out" >&2; fail "smtp"; }
case $out in
*"smtp: refused=13 accepted-local-part=7 accepted-bad-domain=0"*) ;;
*) fail "RCPT TO: $out" ;;
esac
wait_for 10 hold_is 10 || fail "hold queue: $(sb_queue_count hold)"
wait_for 10 redis_is 9 ZCARD etrn:held:dialup.test || fail "index"
canary_check
schema_check
for q in $(sb_redis ZRANGE etrn:held:dialup.test 0 -1); do
	sb_redis HGET "etrn:msg:$q" recipients
done >"$SB/rcpts"
for want in "\"; touch $CANARY\"@dialup.test" "\"\$(touch $CANARY)\"@dialup.test" \
    "\"\`touch $CANARY\`\"@dialup.test" '"*?[]\\ FLUSHALL"@dialup.test'; do
	grep -qxF "$want"$'\t\t' "$SB/rcpts" ||
	    fail "record of $want: $(cat "$SB/rcpts")"
done
for q in $(sb_redis ZRANGE etrn:held:dialup.test 0 -1); do
	sb_redis HGET "etrn:msg:$q" envid
done | grep -qxF "\$(touch$CANARY)" || fail "ENVID not recorded verbatim"
[ "$(sb_sink_count internet)" = 0 ] || fail "mail went to the internet"
pass "RCPT TO: 13 hostile domains refused (by Postfix); 5 hostile quoted local parts, 2 hostile ENVID/ORCPT held verbatim"

out=$(ctl flush dialup.test) ||
    fail "etrnctl flush: $out"
wait_for 30 sink_is customer 9 || fail "customer has $(sb_sink_count customer) of 9"
wait_for 10 redis_is 0 ZCARD etrn:held:dialup.test || fail "index not emptied"
hold_is 1 || fail "hold queue: $(sb_queue_count hold)"
canary_check
schema_check
pass "the hostile local parts were released and delivered; no command ran"

stop_and_check_logs
pass "clean stop: no daemon ignored SIGTERM, no sanitizer report in any log"
