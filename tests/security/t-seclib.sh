#!/bin/bash
# t-seclib - the checks of tests/security/seclib.sh read Redis keys as
# bytes: a key holding LF, CR or NUL is reported as one bad key (a key
# "etrn:msg:D:Q<LF>etrn:domains" must not pass as two keys of valid
# shapes), valid keys pass, and held_snapshot prints a record whose key
# holds LF on one line, escaped.  Needs redis-server and python3 only.
set -eu

# shellcheck source=../lib/standalone.sh
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/standalone.sh"
# shellcheck disable=SC2034 # sa_init's PIDVAR: no program runs here
none=
sa_init seclib redis.log none
start_redis
REDIS_SOCK=$T/redis.sock
# shellcheck source=seclib.sh
. "$srcdir/tests/security/seclib.sh"
# held_snapshot lists the hold queue first; there is none here.
sb_hold_ids() { :; }

good=etrn:msg:dialup.test:ABCDE12345
rcli SADD etrn:domains dialup.test >/dev/null
rcli HSET "$good" state held token t1 domain dialup.test \
    recipients a@dialup.test >/dev/null
rcli ZADD etrn:held:dialup.test 1 ABCDE12345 >/dev/null
if out=$(schema_bad_keys); then
	pass "valid keys pass"
else
	fail "valid keys reported: $out"
fi

# bad_key_caught WHAT SHOWN - schema_bad_keys fails and prints SHOWN only
bad_key_caught() {
	local out
	if out=$(schema_bad_keys); then
		fail "$1: not caught"
	elif [ "$out" != "$2" ]; then
		fail "$1: printed '$out', want '$2'"
	else
		pass "$1: caught as one key, printed '$2'"
	fi
}

rcli SET "$good"$'\n'etrn:domains x >/dev/null
bad_key_caught "key with LF" "$good\\x0aetrn:domains"
rcli DEL "$good"$'\n'etrn:domains >/dev/null

rcli SET etrn:flush$'\r' x >/dev/null
bad_key_caught "key with CR" 'etrn:flush\x0d'
rcli DEL etrn:flush$'\r' >/dev/null

rcli EVAL "redis.call('SET', 'etrn:domains' .. string.char(0) ..
    'etrn:flush', 'x')" 0 >/dev/null
bad_key_caught "key with NUL" 'etrn:domains\x00etrn:flush'
rcli EVAL "redis.call('DEL', 'etrn:domains' .. string.char(0) ..
    'etrn:flush')" 0 >/dev/null

rcli HSET "$good"$'\n'x state held >/dev/null
snap=$(held_snapshot)
want="$good held|t1|dialup.test|a@dialup.test
$good\\x0ax held|||
etrn:held:dialup.test ABCDE12345"
if [ "$snap" = "$want" ]; then
	pass "held_snapshot: a record key with LF on one line, escaped"
else
	fail "held_snapshot: got '$snap', want '$want'"
fi
echo "$npass passed, $nfail failed"
