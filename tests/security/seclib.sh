# shellcheck shell=bash
# tests/security/seclib.sh - checks shared by the security tests; source
# it after tests/lib/sandbox.sh and sb_start.
#
#   schema_check        every key in the sandbox Redis (SCAN of the whole
#                       keyspace) has a shape of docs/redis-keys.md
#   canary_init         make $CANARY_DIR, writable by every user, and set
#                       CANARY: the file an injected command would create
#   canary_check        fail if anything appeared in $CANARY_DIR
#   held_snapshot       print the hold queue IDs and every hold record
#                       (sorted), to compare before and after an attack
#   log_client LOG ADDR REGEX   LOG has a line naming client ADDR that
#                       matches REGEX (grep -E, any case)

# Print the keys that match no documented shape; fail if there are any.
schema_bad_keys() {
	redis-cli -s "$REDIS_SOCK" --raw --scan --pattern '*' | python3 -c '
import re, sys
lab = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
dom = r"%s(?:\.%s)*" % (lab, lab)
qid = r"[A-Za-z0-9]{5,32}"
shapes = [
    r"etrn:domains", r"etrn:helddomains", r"etrn:flush",
    r"etrn:domain:\.?" + dom,
    r"etrn:(?:held|stats|flushing):" + dom,
    r"etrn:msg:%s:%s" % (dom, qid),
    r"etrn:(?:expiry|warn|hostdomains|released):" + dom,
]
ok = re.compile("|".join("(?:%s)" % s for s in shapes))
bad = 0
for k in sys.stdin.read().split("\n"):
    if k and (len(k) > 300 or not ok.fullmatch(k)):
        print(repr(k))
        bad += 1
sys.exit(1 if bad else 0)
'
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
	local k
	sb_hold_ids | sort | sed 's/^/hold /'
	for k in $(redis-cli -s "$REDIS_SOCK" --raw --scan \
	    --pattern 'etrn:msg:*' | sort); do
		echo "$k $(sb_redis HMGET "$k" state token domain recipients |
		    paste -sd'|')"
	done
	for k in $(redis-cli -s "$REDIS_SOCK" --raw --scan \
	    --pattern 'etrn:held:*' | sort); do
		echo "$k $(sb_redis ZRANGE "$k" 0 -1 | paste -sd' ')"
	done
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
	sb_wait_for 10 hold_is 3 || fail "mail not held"
	sb_wait_for 10 redis_is 2 ZCARD etrn:held:dialup.test || fail "index"
}
