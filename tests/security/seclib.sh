# shellcheck shell=bash
# tests/security/seclib.sh - checks shared by the security tests; source
# it after tests/lib/sandbox.sh and sb_start.
#
#   schema_check        every key in the sandbox Redis (SCAN of the whole
#                       keyspace, read as bytes: a key holding LF or NUL
#                       is one bad key) has a shape of docs/redis-keys.md
#   canary_init         make $CANARY_DIR, writable by every user, and set
#                       CANARY: the file an injected command would create
#   canary_check        fail if anything appeared in $CANARY_DIR
#   held_snapshot       print the hold queue IDs and every hold record
#                       (sorted), to compare before and after an attack
#   log_client LOG ADDR REGEX   LOG has a line naming client ADDR that
#                       matches REGEX (grep -E, any case)
#   stop_and_check_logs stop the sandbox; fail on a sanitizer report
#   hold_three A B V    hold mail for three recipients, wait until indexed
# pass, fail, wait_for: tests/lib/core.sh (via sandbox.sh).

# Python run before the checks below: a Redis client on the unix socket
# sys.argv[1] that keeps keys and values as bytes.  redis-cli prints them
# raw, one a line, so a key holding LF would read as two keys (each of
# a valid shape) and one holding NUL cannot pass through the shell.
#   call(*args)     one command, its reply (bytes, list, int as bytes)
#   keys(pattern)   every key matching pattern (SCAN), sorted
#   show(b)         b printable: other octets and "\" as \xNN
SECLIB_RESP='
import socket, sys
_s = socket.socket(socket.AF_UNIX)
_s.connect(sys.argv[1])
_f = _s.makefile("rb")
def _reply():
    line = _f.readline()
    if not line.endswith(b"\r\n"):
        sys.exit("redis: connection closed")
    t, v = line[:1], line[1:-2]
    if t == b"*":
        return None if int(v) < 0 else [_reply() for _ in range(int(v))]
    if t == b"$":
        return None if int(v) < 0 else _f.read(int(v) + 2)[:-2]
    if t == b"-":
        sys.exit("redis: " + v.decode("ascii", "replace"))
    return v
def call(*args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    _s.sendall(out)
    return _reply()
def keys(pattern):
    cur, seen = b"0", set()
    while True:
        cur, batch = call("SCAN", cur, "MATCH", pattern, "COUNT", 1000)
        seen.update(batch)
        if cur == b"0":
            return sorted(seen)
def show(b):
    return "".join(chr(c) if 32 <= c < 127 and c != 92 else
        "\\x%02x" % c for c in b)
'

# Print the keys that match no documented shape; fail if there are any.
schema_bad_keys() {
	python3 -c "$SECLIB_RESP"'
import re, sys
lab = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
dom = r"%s(?:\.%s)*" % (lab, lab)
qid = r"[A-Za-z0-9]{5,32}"
shapes = [
    r"etrn:domains", r"etrn:helddomains", r"etrn:flush",
    r"etrn:domain:\.?" + dom,
    r"etrn:(?:held|stats|flushing):" + dom,
    r"etrn:msg:%s:%s" % (dom, qid),
    r"etrn:(?:expiry|warn|hostdomains|released|lease|pending):" + dom,
]
ok = re.compile("|".join("(?:%s)" % s for s in shapes))
bad = 0
for k in keys("*"):
    if len(k) > 300 or not ok.fullmatch(k.decode("latin-1")):
        print(show(k))
        bad += 1
sys.exit(1 if bad else 0)
' "$REDIS_SOCK"
}

# Fail unless every Redis key is one of the documented shapes.
schema_check() {
	local bad
	bad=$(schema_bad_keys) || fail "Redis keys outside the schema: $bad"
	[ "$(sb_redis SCARD etrn:domains)" -ge 1 ] ||
	    fail "etrn:domains is gone"
}

# Make the canary directory: an injected "touch $CANARY" would succeed
# there whatever user ran it.
canary_init() {
	CANARY_DIR=$SB/canary
	mkdir -p "$CANARY_DIR"
	chmod 1777 "$CANARY_DIR"
	# shellcheck disable=SC2034 # used by the tests
	CANARY=$CANARY_DIR/pwned
}

# Fail if an injected command left anything in the canary directory.
canary_check() {
	local f
	f=$(find "$CANARY_DIR" -mindepth 1 | head -n 5)
	[ -z "$f" ] || fail "an injected command ran: $f"
}

# Print the hold queue and the hold records, sorted, for a before/after
# comparison (fields that change on their own are left out).
held_snapshot() {
	sb_hold_ids | sort | sed 's/^/hold /'
	python3 -c "$SECLIB_RESP"'
for k in keys("etrn:msg:*"):
    v = call("HMGET", k, "state", "token", "domain", "recipients")
    print(show(k), "|".join(show(x or b"") for x in v))
for k in keys("etrn:held:*"):
    print(show(k), " ".join(show(x) for x in call("ZRANGE", k, 0, -1)))
' "$REDIS_SOCK"
}

# Succeed when log $1 has a line with the address $2 (not as part of a
# longer address) that matches extended regex $3, in any case.
log_client() {
	local a=${2//./\\.}
	grep -E "(^|[^0-9.])$a([^0-9.]|\$)" "$1" | grep -Eiq -e "$3"
}

# Stop the sandbox (SIGTERM to every daemon) and fail if a daemon's log
# has a sanitizer report: in an ASan+UBSan build this is where memory
# errors, leaks at exit and undefined behaviour show.
stop_and_check_logs() {
	"$SB_SANDBOX" stop "$SB" >"$SB/stop.log" 2>&1 ||
	    fail "sandbox stop: $(cat "$SB/stop.log")"
	grep -q 'killing' "$SB/stop.log" &&
	    fail "a daemon ignored SIGTERM: $(cat "$SB/stop.log")"
	local hits
	hits=$(grep -l -E 'ERROR: (Address|Leak)Sanitizer|runtime error:|Sanitizer has encountered' \
	    "$SB_LOG_DIR"/*.log 2>/dev/null || true)
	[ -z "$hits" ] || {
		# shellcheck disable=SC2086 # one path a line, no blanks
		grep -h -A30 -E 'Sanitizer|runtime error:' $hits >&2
		fail "sanitizer reports in: $hits"
	}
}

# hold_three A B V - hold mail for A@ and B@dialup.test and V@dialup2.test
# (the hold queue must be empty before) and wait until all three are
# held and dialup.test's two are indexed.
hold_three() {
	local r
	for r in "$1@dialup.test" "$2@dialup.test" "$3@dialup2.test"; do
		sb_swaks -f s@example.org -t "$r" >/dev/null || fail "swaks $r"
	done
	wait_for 10 hold_is 3 || fail "mail not held"
	wait_for 10 redis_is 2 ZCARD etrn:held:dialup.test || fail "index"
}
