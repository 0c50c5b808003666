#!/bin/bash
# shellcheck disable=SC2317 # functions run from traps and by name
# t-etrnctl.sh - etrnctl against a private Redis
#
# Starts a throwaway redis-server on a unix socket in a temp directory,
# seeds hold records the way etrn-milter writes them (milter/store.c),
# runs every etrnctl command and checks its output, its exit status and
# what it changed in Redis, then stops Redis and checks the error.  The
# queue backend is "null": a release appends "release ID..." to a log
# file, its hold queue is empty and "<log>.status" tells where messages
# are (reconcile's dropping pass; the rebuilding pass needs a real
# Postfix: tests/etrnd/t-reconcile.sh).  One line per check; exit 0 when all pass, 1 otherwise, 77
# (skip) without redis-server.  Environment: OPENETRN_BUILDDIR (where
# etrnctl is; default: the top of the source tree), REDIS_SERVER (by
# hand, looked up in PATH when unset).  KEEP_TMP=1 keeps the temp
# directory.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
srcdir=${top_srcdir:-$(cd "$here/../.." && pwd)}
builddir=${OPENETRN_BUILDDIR:-${top_builddir:-$srcdir}}
redis_server=${REDIS_SERVER-$(command -v redis-server || true)}
ctl_bin=$builddir/etrnctl/etrnctl
host=mx.test

T=
redis_pid=
npass=0
nfail=0
# shellcheck source=../lib/standalone.sh
. "$srcdir/tests/lib/standalone.sh"
rc=0

# cleanup - EXIT trap: stop Redis, remove the temp dir
cleanup() {
	local st=$?
	trap - EXIT INT TERM
	if [ -n "$redis_pid" ]; then
		stop_pid "$redis_pid"
	fi
	if [ -n "$T" ] && [ -d "$T" ]; then
		if [ "$st" -ne 0 ] && [ "$st" -ne 77 ] && [ -s "$T/redis.log" ]
		then
			echo "---- last lines of $T/redis.log ----" >&2
			tail -n 20 "$T/redis.log" >&2
		fi
		if [ "${KEEP_TMP:-0}" = 1 ]; then
			echo "temp directory kept: $T" >&2
		else
			case $T in
			*/oe-ctl.*) rm -rf "$T" ;;
			esac
		fi
	fi
	exit "$st"
}

# write_config - etrnctl's configuration: null backend, private Redis
write_config() {
	cat >"$T/etrnctl.conf" <<EOF
hostname = $host
redis_server = unix:$T/redis.sock
mta = null
null_backend_log = $T/null.log
flush_lock_time = 120s
hold_secret_file = $T/hold.secret
EOF
	[ -s "$T/hold.secret" ] || make_secret "$T/hold.secret"
}

# seed QID DOMAIN ARRIVED EXPIRES SIZE SENDER - one record, as the milter
seed() {
	local qid=$1 d=$2 arrived=$3 expires=$4 size=$5 sender=$6
	rcli HSET "etrn:msg:$host:$qid" domain "$d" host "$host" \
	    queueid "$qid" token 0123456789abcdef0123456789abcdef \
	    state held sender "$sender" \
	    recipients "$(printf 'u@%s\t\t' "$d")"$'\n' nrcpt 1 \
	    size "$size" arrived "$arrived" expires "$expires" warn_at 0 \
	    ret "" envid "" client "client.test[192.0.2.1]" \
	    headers $'Subject: test\n' headers_truncated 0 >/dev/null
	rcli ZADD "etrn:held:$d" "$arrived" "$host:$qid" >/dev/null
	rcli HINCRBY "etrn:stats:$d" held 1 >/dev/null
	rcli HINCRBY "etrn:stats:$d" bytes "$size" >/dev/null
	rcli HINCRBY "etrn:stats:$d" received 1 >/dev/null
	rcli HSET "etrn:stats:$d" oldest "$(rcli ZRANGE "etrn:held:$d" 0 0 \
	    WITHSCORES | tail -n 1)" >/dev/null
	rcli ZADD "etrn:expiry:$host" "$expires" "$qid" >/dev/null
	rcli SADD "etrn:hostdomains:$host" "$d" >/dev/null
	rcli SADD etrn:helddomains "$d" >/dev/null
}

# ctl ARGS... - run etrnctl; stdout in $T/out, stderr in $T/err, $rc
ctl() {
	rc=0
	"$ctl_bin" -c "$T/etrnctl.conf" "$@" >"$T/out" 2>"$T/err" || rc=$?
}

# check_rc DESC WANT - the last etrnctl's exit status
check_rc() {
	if [ "$rc" = "$2" ]; then
		pass "$1: exit $2"
	else
		fail "$1: exit $rc, expected $2 (stderr: $(head -c 300 \
		    "$T/err"))"
	fi
}

# check_out DESC PATTERN - the last etrnctl's stdout matches (grep -E)
check_out() {
	if grep -Eq -- "$2" "$T/out"; then
		pass "$1"
	else
		fail "$1: no output line matching \"$2\"; output:"
		sed 's/^/    /' "$T/out"
	fi
}

# check_err DESC PATTERN - the last etrnctl's stderr matches (grep -E)
check_err() {
	if grep -Eq -- "$2" "$T/err"; then
		pass "$1"
	else
		fail "$1: no error matching \"$2\"; stderr:"
		sed 's/^/    /' "$T/err"
	fi
}

# refused DESC PATTERN ARGS... - etrnctl ARGS exits 1 with that message
refused() {
	local desc=$1 pat=$2
	shift 2
	ctl "$@"
	check_rc "$desc" 1
	check_err "$desc: message" "$pat"
}

# json PYEXPR - evaluate PYEXPR on the last stdout parsed as JSON (j)
json() {
	python3 -c 'import json,sys
j = json.load(sys.stdin)
print(eval(sys.argv[1]))' "$1" <"$T/out" 2>/dev/null || echo "(no JSON)"
}

# check_json DESC - the last stdout is one valid JSON document
check_json() {
	if python3 -c 'import json,sys; json.load(sys.stdin)' <"$T/out" \
	    2>"$T/json.err"; then
		pass "$1: valid JSON"
	else
		fail "$1: invalid JSON: $(tail -n 1 "$T/json.err")"
		sed 's/^/    /' "$T/out"
	fi
}

# iso T - a Unix time as etrnctl prints it
iso() {
	date -u -d "@$1" +%Y-%m-%dT%H:%M:%SZ 2>/dev/null ||
	    date -u -r "$1" +%Y-%m-%dT%H:%M:%SZ
}

# t_usage - help, usage errors (exit 2)
t_usage() {
	local c
	ctl -h
	check_rc "-h" 0
	for c in "status" "list DOMAIN" "flush DOMAIN" "release ID" \
	    "expire ID" "reconcile \[--dry-run\]" "domains show" \
	    "domains add" "domains set" "domains del"; do
		check_out "-h lists $c" "^  $c"
	done
	ctl
	check_rc "no command" 2
	ctl frobnicate
	check_rc "unknown command" 2
	check_err "unknown command named" 'unknown command "frobnicate"'
	ctl list
	check_rc "list without a domain" 2
	ctl list a.test b.test
	check_rc "list with two domains" 2
	ctl expire
	check_rc "expire without an ID" 2
	ctl reconcile --force
	check_rc "reconcile with an unknown option" 2
	ctl reconcile --dry-run --dry-run
	check_rc "reconcile with two arguments" 2
	ctl domains frob x.test
	check_rc "unknown domains subcommand" 2
	ctl domains set x.test
	check_rc "domains set without KEY=VALUE" 2
	ctl --bogus status
	check_rc "unknown option" 2
	ctl status -x
	check_rc "status -x: not an option, a bad domain" 1
}

# t_domains - add, show, set, del and their refusals
t_domains() {
	ctl domains add dialup.test hold_time=3d warn_time=4h \
	    allow=192.0.2.0/24,2001:db8::/32 max_messages=100 max_bytes=10m \
	    sasl_users="cust1, cust1-backup"
	check_rc "domains add" 0
	check_eq "domains add: sasl_users" \
	    "$(rcli HGET etrn:domain:dialup.test sasl_users)" "cust1, cust1-backup"
	check_eq "domains add: member" \
	    "$(rcli SISMEMBER etrn:domains dialup.test)" 1
	check_eq "domains add: hold_time" \
	    "$(rcli HGET etrn:domain:dialup.test hold_time)" 3d
	check_eq "domains add: allow" \
	    "$(rcli HGET etrn:domain:dialup.test allow)" \
	    192.0.2.0/24,2001:db8::/32
	check_eq "domains add: max_bytes" \
	    "$(rcli HGET etrn:domain:dialup.test max_bytes)" 10m
	rcli HSET etrn:domain:.sub.test stale 1 >/dev/null
	ctl domains add .Sub.Test.
	check_rc "domains add parent entry" 0
	check_eq "parent entry normalised" \
	    "$(rcli SISMEMBER etrn:domains .sub.test)" 1
	check_eq "domains add drops a leftover hash" \
	    "$(rcli EXISTS etrn:domain:.sub.test)" 0
	ctl domains add bücher.example warn_time=0
	check_rc "domains add IDN" 0
	check_eq "IDN stored as A-label" \
	    "$(rcli SISMEMBER etrn:domains xn--bcher-kva.example)" 1
	refused "domains add existing" "already a dial-up domain" \
	    domains add dialup.test
	refused "domains add bad domain" 'bad domain "a;b"' \
	    domains add 'a;b'
	refused "domains add bad time" 'bad hold_time "1h30m"' \
	    domains add x.test hold_time=1h30m
	refused "domains add unknown key" 'unknown key "colour"' \
	    domains add x.test colour=blue
	refused "domains add bad CIDR" 'bad allow "192.0.2.0/33"' \
	    domains add x.test allow=192.0.2.0/33
	refused "domains add bad size" 'bad max_bytes "3q"' \
	    domains add x.test max_bytes=3q
	refused "domains add negative count" 'bad max_messages "-1"' \
	    domains add x.test max_messages=-1
	refused "domains add control character" 'bad sasl_users' \
	    domains add x.test "sasl_users=$(printf 'a\rb')"
	refused "domains add without =" 'expected KEY=VALUE' \
	    domains add x.test hold_time
	refused "domains add key twice" 'hold_time given twice' \
	    domains add x.test hold_time=1d hold_time=2d
	check_eq "refused adds wrote nothing" \
	    "$(rcli SISMEMBER etrn:domains x.test)$(rcli EXISTS \
	    etrn:domain:x.test)" 00

	ctl domains set dialup.test hold_time=36h max_bytes=
	check_rc "domains set" 0
	check_eq "domains set: new value" \
	    "$(rcli HGET etrn:domain:dialup.test hold_time)" 36h
	check_eq "domains set: empty value removes the key" \
	    "$(rcli HEXISTS etrn:domain:dialup.test max_bytes)" 0
	check_eq "domains set: other keys kept" \
	    "$(rcli HGET etrn:domain:dialup.test warn_time)" 4h
	refused "domains set missing entry" "not a dial-up domain" \
	    domains set nosuch.test hold_time=1d
	refused "domains set bad value" 'bad warn_time "soon"' \
	    domains set dialup.test warn_time=soon
	refused "domains set unknown key" 'unknown key "hold"' \
	    domains set dialup.test hold=1d

	ctl domains show
	check_rc "domains show" 0
	check_out "domains show: header" \
	    "^DOMAIN +HOLD_TIME +WARN_TIME +ALLOW +MAX_MESSAGES +MAX_BYTES +SASL_USERS$"
	check_out "domains show: dialup.test row" \
	    "^dialup.test +36h +4h +192.0.2.0/24,2001:db8::/32 +100 +- +cust1, cust1-backup$"
	check_out "domains show: parent row" "^\.sub\.test( +-){6}$"
	ctl domains show DIALUP.test
	check_rc "domains show one" 0
	check_eq "domains show one: one row" "$(wc -l <"$T/out")" 2
	refused "domains show missing" "not a dial-up domain" \
	    domains show nosuch.test
	ctl --json domains show
	check_rc "domains show --json" 0
	check_json "domains show --json"
	check_eq "domains show --json: values" \
	    "$(json '[(e["domain"], e["hold_time"], e["max_bytes"])
	    for e in j["domains"]][:2]')" \
	    "[('.sub.test', None, None), ('dialup.test', '36h', None)]"

	ctl domains add gone.test
	ctl domains del gone.test
	check_rc "domains del" 0
	check_eq "domains del: member and hash gone" \
	    "$(rcli SISMEMBER etrn:domains gone.test)$(rcli EXISTS \
	    etrn:domain:gone.test)" 00
	refused "domains del missing" "not a dial-up domain" \
	    domains del gone.test
	refused "domains del bad domain" 'bad domain' domains del 'a;b'
}

# t_seed - held mail on two domains, counters as the daemons keep them
t_seed() {
	now=$(date +%s)
	q1=4Aaaa11111
	q2=4Bbbb22222
	q3=4Cccc33333
	seed "$q1" dialup.test $((now - 7200)) $((now + 3 * 86400)) 1000 \
	    s@example.org
	seed "$q2" dialup.test $((now - 3600)) $((now + 86400)) 2500 ""
	seed "$q3" a.sub.test $((now - 100000)) $((now - 60)) 300 \
	    $'we"ird\\x\t\xff@example.org'
	rcli HSET etrn:stats:dialup.test flushed 4 expired 1 \
	    last_etrn $((now - 600)) last_etrn_client 192.0.2.7 >/dev/null
}

# t_status - the table, --json, named domains
t_status() {
	local head row
	ctl status
	check_rc "status" 0
	head="^DOMAIN +HELD +RELEASED +BYTES +OLDEST +AGE +NEXT_DEADLINE"
	check_out "status: header" \
	    "$head +LEFT +FLUSHED +EXPIRED +LAST_ETRN +LAST_CLIENT$"
	row="^dialup.test +2 +0 +3500 +$(iso $((now - 7200))) +2h"
	row="$row +$(iso $((now + 86400))) +(23h59m|1d) +4 +1"
	check_out "status: dialup.test row" \
	    "$row +$(iso $((now - 600))) +192.0.2.7$"
	row="^a.sub.test +1 +0 +300 +$(iso $((now - 100000))) +1d3h"
	check_out "status: a.sub.test row (overdue)" \
	    "$row +$(iso $((now - 60))) +overdue 1m[0-9]*s? +0 +0 +- +-$"
	check_eq "status: one line per domain with held mail" \
	    "$(wc -l <"$T/out")" 3
	ctl --json status
	check_rc "status --json" 0
	check_json "status --json"
	check_eq "status --json: dialup.test" \
	    "$(json '[(d["held"], d["bytes"], d["oldest"], d["next_deadline"],
	    d["last_etrn_client"]) for d in j["domains"]
	    if d["domain"] == "dialup.test"]')" \
	    "[(2, 3500, $((now - 7200)), $((now + 86400)), '192.0.2.7')]"
	ctl status nothing.test Dialup.Test
	check_rc "status DOMAIN..." 0
	check_out "status: named domain without mail" \
	    "^nothing.test +0 +0 +0 +- +- +- +- +0 +0 +- +-$"
	check_eq "status DOMAIN...: only the named" "$(wc -l <"$T/out")" 3
	refused "status bad domain" 'bad domain "a;b"' status 'a;b'
}

# t_list - one line per held message
t_list() {
	ctl list dialup.test
	check_rc "list" 0
	check_out "list: header" \
	    "^ID +STATE +ARRIVED +EXPIRES +SIZE +SENDER +NRCPT$"
	check_out "list: first message" \
	    "^$host:$q1 +held +$(iso $((now - 7200))) +$(iso \
	    $((now + 3 * 86400))) +1000 +s@example.org +1$"
	check_out "list: null sender shown as <>" \
	    "^$host:$q2 +held +.* +2500 +<> +1$"
	ctl list a.sub.test
	check_out "list: control characters masked" 'we"ird\\x\?'
	ctl --json list a.sub.test
	check_rc "list --json" 0
	check_json "list --json (quote, backslash, tab, bad UTF-8)"
	check_eq "list --json: sender escaped" \
	    "$(json 'j["messages"][0]["sender"]')" \
	    "$(printf 'we"ird\\x\t\xef\xbf\xbd@example.org')"
	check_eq "list --json: fields" \
	    "$(json '[(m["id"], m["state"], m["size"], m["nrcpt"])
	    for m in j["messages"]]')" \
	    "[('$host:$q3', 'held', 300, 1)]"
	ctl list nothing.test
	check_rc "list without mail" 0
	check_out "list without mail: says so" "^no mail held for nothing.test$"
	refused "list bad domain" 'bad domain' list 'a;b'
}

# stream_field ID FIELD - one field of a stream entry
stream_field() {
	rcli XRANGE etrn:flush "$1" "$1" | awk -v f="$2" \
	    'p { print; exit } $0 == f { p = 1 }'
}

# t_flush - flush requests on the stream, like the listener's
t_flush() {
	local id n
	ctl flush dialup.test
	check_rc "flush" 0
	check_out "flush: pending count" \
	    "^flush of dialup.test queued: 2 pending messages$"
	check_eq "flush: one stream entry" "$(rcli XLEN etrn:flush)" 1
	id=$(rcli XRANGE etrn:flush - + | head -n 1)
	check_eq "flush: domain" "$(stream_field "$id" domain)" dialup.test
	check_eq "flush: sub" "$(stream_field "$id" sub)" 0
	check_eq "flush: client" "$(stream_field "$id" client)" etrnctl
	check_eq "flush: via" "$(stream_field "$id" via)" etrnctl
	n=$(stream_field "$id" time)
	if [[ $n =~ ^[0-9]+$ ]] && [ "$n" -ge "$now" ] &&
	    [ "$n" -le $((now + 60)) ]; then
		pass "flush: time"
	else
		fail "flush: time $n, expected about $now"
	fi
	check_eq "flush: fields in the listener's order" \
	    "$(rcli XRANGE etrn:flush "$id" "$id" | sed -n '2p;4p;6p;8p;10p' \
	    | tr '\n' ' ')" "domain sub client via time "
	check_eq "flush: marker etrn:flushing:dialup.test set" \
	    "$(rcli EXISTS etrn:flushing:dialup.test)" 1
	ctl flush dialup.test
	check_rc "flush again (the flush lock is bypassed)" 0
	check_eq "flush again: queued" "$(rcli XLEN etrn:flush)" 2
	ctl --json flush @sub.test
	check_rc "flush @domain --json" 0
	check_json "flush --json"
	check_eq "flush @domain: subdomains counted" \
	    "$(json '(j["domain"], j["subdomains"], j["pending"],
	    j["queued"])')" \
	    "('sub.test', True, 1, True)"
	id=$(json 'j["stream_id"]')
	check_eq "flush @domain: one entry per held domain, sub=0" \
	    "$(stream_field "$id" domain) $(stream_field "$id" sub)" \
	    "a.sub.test 0"
	check_eq "flush @domain: queued" "$(rcli XLEN etrn:flush)" 3
	ctl flush nothing.test
	check_rc "flush without mail" 0
	check_out "flush without mail: says so" "no messages waiting"
	check_eq "flush without mail: nothing queued" \
	    "$(rcli XLEN etrn:flush)" 3
	refused "flush bad domain" 'bad domain "a;b"' flush 'a;b'
	refused "flush #queue form" 'bad domain' flush '#dialup.test'
	check_eq "refused flushes queued nothing" "$(rcli XLEN etrn:flush)" 3
}

# t_release - the null backend, record marking, refusals
t_release() {
	local at
	refused "release ../x" 'bad queue ID "\.\./x"' release ../x
	refused "release ALL" 'bad queue ID "ALL"' release ALL
	refused "release option-like ID" 'bad queue ID' release -- -d
	refused "release other host's message" 'not a message of this host' \
	    release "mx.other:$q1"
	refused "release without record" "4Zzzz99999: no hold record" \
	    release 4Zzzz99999
	refused "release with one bad ID" 'bad queue ID "ALL"' \
	    release "$q1" ALL
	printf '%s gone\n%s pending\n' "$q3" "$q2" >"$T/null.log.status"
	refused "release of a message not in the queue" \
	    "$q3: not in the queue any more" release "$q3"
	refused "release of a message being delivered" \
	    "$q2: already out of the hold queue" release "$q1" "$q2"
	rm -f "$T/null.log.status"
	mkdir "$T/logdir"
	sed "s|^null_backend_log = .*|null_backend_log = $T/logdir|" \
	    "$T/etrnctl.conf" >"$T/fail.conf"
	rc=0
	"$ctl_bin" -c "$T/fail.conf" release "$q3" >"$T/out" 2>"$T/err" ||
	    rc=$?
	check_rc "release when the backend fails" 1
	check_err "release when the backend fails: message" \
	    "null queue backend could not release the message \(fail\)"
	check_eq "release when the backend fails: record still held" \
	    "$(rcli HGET "etrn:msg:$host:$q3" state)" held
	check_eq "refused releases reached no backend" \
	    "$(cat "$T/null.log" 2>/dev/null || true)" ""
	check_eq "refused releases marked nothing" \
	    "$(rcli HGET "etrn:msg:$host:$q1" state)" held

	ctl release "$q1"
	check_rc "release" 0
	check_out "release: reported" "^released $q1$"
	check_eq "release: null backend called" \
	    "$(cat "$T/null.log" 2>/dev/null)" \
	    "release $q1"
	check_eq "release: record state" \
	    "$(rcli HGET "etrn:msg:$host:$q1" state)" released
	at=$(rcli HGET "etrn:msg:$host:$q1" released_at)
	if [[ $at =~ ^[0-9]+$ ]] && [ "$at" -ge "$now" ]; then
		pass "release: released_at set"
	else
		fail "release: released_at \"$at\""
	fi
	check_eq "release: in etrn:released:$host" \
	    "$(rcli ZSCORE "etrn:released:$host" "$q1")" "$at"
	refused "release again" "$q1: not held \(state released\)" \
	    release "$q1"
	ctl --json release "$host:$q2" "$q2"
	check_rc "release host:qid --json" 0
	check_json "release --json"
	check_eq "release --json: duplicates once" \
	    "$(json '(j["host"], j["released"])')" "('$host', ['$q2'])"
	check_eq "release: second backend call" \
	    "$(tail -n 1 "$T/null.log" 2>/dev/null)" \
	    "release $q2"
	ctl status dialup.test
	check_out "status counts released messages" \
	    "^dialup.test +2 +2 +3500 "
	ctl list dialup.test
	check_out "list shows the released state" "^$host:$q1 +released "
}

# deadline QID - the record's expires and its score in the expiry index
deadline() {
	echo "$(rcli HGET "etrn:msg:$host:$1" expires)" \
	    "$(rcli ZSCORE "etrn:expiry:$host" "$1")"
}

# t_expire - deadlines moved to now; refusals; the MTA is not touched
t_expire() {
	local q4=4Dddd44444 q5=4Eeee55555 q6=4Ffff66666 t log
	seed "$q4" exp.test $((now - 60)) $((now + 3 * 86400)) 100 s@x.test
	seed "$q5" exp.test $((now - 50)) $((now + 3 * 86400)) 100 s@x.test
	seed "$q6" exp.test $((now - 40)) $((now + 3 * 86400)) 100 s@x.test
	rcli HSET "etrn:msg:$host:$q5" state expiring >/dev/null
	rcli HSET "etrn:msg:$host:$q6" state weird >/dev/null
	log=$(cat "$T/null.log" 2>/dev/null || true)
	refused "expire ../x" 'bad queue ID "\.\./x"' expire ../x
	refused "expire other host's message" \
	    'not a message of this host .*run etrnctl expire on its host' \
	    expire "mx.other:$q4"
	refused "expire without record" "4Zzzz99999: no hold record" \
	    expire 4Zzzz99999
	refused "expire in another state" "$q6: not held \(state weird\)" \
	    expire "$q6"
	check_eq "refused expires changed nothing" "$(deadline "$q4")" \
	    "$((now + 3 * 86400)) $((now + 3 * 86400))"

	ctl expire "$q4"
	check_rc "expire" 0
	check_out "expire: the ID" "^expiring $q4$"
	check_out "expire: the count" "^1 message scheduled for expiry"
	t=$(rcli HGET "etrn:msg:$host:$q4" expires)
	if [[ $t =~ ^[0-9]+$ ]] && [ "$t" -ge "$now" ] &&
	    [ "$t" -le "$(date +%s)" ]; then
		pass "expire: expires is now"
	else
		fail "expire: expires \"$t\", expected about $now"
	fi
	check_eq "expire: expiry index score" \
	    "$(rcli ZSCORE "etrn:expiry:$host" "$q4")" "$t"
	check_eq "expire: state and held index untouched" \
	    "$(rcli HGET "etrn:msg:$host:$q4" state) $(rcli ZCARD \
	    etrn:held:exp.test)" "held 3"

	ctl --json expire "$host:$q1" 4Zzzz99999 "$q3" "$q5" "$q1"
	check_rc "expire with one unknown ID" 1
	check_err "expire with one unknown ID: named" "4Zzzz99999: no hold"
	check_err "expire of an expiring record: warned" \
	    "$q5: already expiring"
	check_json "expire --json"
	check_eq "expire --json: the others scheduled" \
	    "$(json '(j["host"], j["scheduled"], j["count"])')" \
	    "('$host', ['$q1', '$q3'], 2)"
	t=$(rcli HGET "etrn:msg:$host:$q1" expires)
	check_eq "expire of a released record" \
	    "$(rcli HGET "etrn:msg:$host:$q1" state) $(deadline "$q1")" \
	    "released $t $t"
	check_eq "expire keeps an earlier deadline" "$(deadline "$q3")" \
	    "$((now - 60)) $((now - 60))"
	check_eq "expire of an expiring record: left alone" \
	    "$(deadline "$q5")" "$((now + 3 * 86400)) $((now + 3 * 86400))"
	check_eq "expire: no queue backend call" \
	    "$(cat "$T/null.log" 2>/dev/null || true)" "$log"
}

# t_reconcile - the null backend's hold queue is empty: only the pass
# that drops records of messages gone from the queue has work
t_reconcile() {
	local q7=4Gggg77777 q8=4Hhhh88888 q9=4Iiii99999
	seed "$q7" recon.test $((now - 900)) $((now + 86400)) 700 s@x.test
	seed "$q8" recon.test $((now - 800)) $((now + 86400)) 800 s@x.test
	rcli ZADD "etrn:warn:$host" $((now + 60)) "$q7" >/dev/null
	rcli ZADD "etrn:expiry:$host" $((now + 60)) "$q9" >/dev/null
	printf '%s gone\n%s pending\n%s gone\n' "$q7" "$q8" "$q9" \
	    >"$T/null.log.status"

	ctl reconcile --dry-run
	check_rc "reconcile --dry-run" 0
	check_out "reconcile --dry-run: record" \
	    "^would drop $q7: recon.test, no queue file$"
	check_out "reconcile --dry-run: index entry only" \
	    "^would drop $q9: no queue file, no record"
	check_out "reconcile --dry-run: summary" \
	    "^reconcile: held=0 ok=0 rebuilt=0 dropped=2 skipped=0$"
	check_out "reconcile --dry-run: says so" "^dry run: nothing"
	check_eq "reconcile --dry-run: nothing changed" \
	    "$(rcli EXISTS "etrn:msg:$host:$q7") $(rcli ZCARD \
	    etrn:held:recon.test) $(rcli ZSCORE "etrn:expiry:$host" "$q9")" \
	    "1 2 $((now + 60))"

	ctl --json reconcile
	check_rc "reconcile" 0
	check_json "reconcile --json"
	check_eq "reconcile --json: counts" \
	    "$(json '(j["dry_run"], j["held"], j["ok"], j["rebuilt"],
	    j["dropped"], j["skipped"], j["failed"])')" \
	    "(False, 0, 0, 0, 2, 0, 0)"
	check_eq "reconcile --json: messages" \
	    "$(json '[(m["id"], m["action"], m["domain"])
	    for m in j["messages"]]')" \
	    "[('$q7', 'dropped', 'recon.test'), ('$q9', 'dropped', None)]"
	check_eq "reconcile: record and index entries gone" \
	    "$(rcli EXISTS "etrn:msg:$host:$q7")$(rcli ZSCORE \
	    "etrn:expiry:$host" "$q7")$(rcli ZSCORE "etrn:warn:$host" \
	    "$q7")$(rcli ZSCORE etrn:held:recon.test "$host:$q7")" 0
	check_eq "reconcile: orphan expiry entry gone" \
	    "$(rcli ZSCORE "etrn:expiry:$host" "$q9")" ""
	check_eq "reconcile: counters (held bytes oldest)" \
	    "$(rcli HMGET etrn:stats:recon.test held bytes oldest | \
	    tr '\n' ' ')" "1 800 $((now - 800)) "
	check_eq "reconcile: a message still queued is kept" \
	    "$(rcli HGET "etrn:msg:$host:$q8" state)" held
	check_eq "reconcile: released records still queued are kept" \
	    "$(rcli HGET "etrn:msg:$host:$q1" state)" released
	ctl reconcile
	check_rc "reconcile again" 0
	check_out "reconcile again: nothing to do" \
	    "^reconcile: held=0 ok=0 rebuilt=0 dropped=0 skipped=0$"
	rm -f "$T/null.log.status"
}

# t_del_held - del refuses while mail is held, unless --force
t_del_held() {
	refused "domains del with held mail" \
	    "mail is still held for dialup.test \(2 messages\)" \
	    domains del dialup.test
	refused "domains del parent with held subdomain mail" \
	    "held for subdomains of sub.test \(1 message\)" \
	    domains del .sub.test
	check_eq "refused del kept the entry" \
	    "$(rcli SISMEMBER etrn:domains dialup.test)" 1
	ctl --json domains del --force .sub.test
	check_rc "domains del --force" 0
	check_json "domains del --json"
	check_eq "domains del --force: reported" \
	    "$(json '(j["domain"], j["result"], j["held"])')" \
	    "('.sub.test', 'deleted', 1)"
	check_eq "domains del --force: held mail untouched" \
	    "$(rcli ZCARD etrn:held:a.sub.test)" 1
}

# t_errors - configuration and Redis failures
t_errors() {
	rc=0
	"$ctl_bin" -c "$T/nosuch.conf" status >"$T/out" 2>"$T/err" || rc=$?
	check_rc "missing configuration" 1
	check_err "missing configuration: named" "nosuch.conf"
	stop_pid "$redis_pid"
	redis_pid=
	refused "Redis down" "cannot reach Redis at unix:$T/redis.sock" status
	refused "Redis down (flush)" "cannot reach Redis at unix:" \
	    flush dialup.test
	check_eq "Redis down: nothing on stdout" "$(cat "$T/out")" ""
}

trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

[ -n "$redis_server" ] || skip "redis-server not available"
path=$(command -v "$redis_server") || skip "$redis_server is not executable"
redis_server=$path
redis_cli=$(dirname "$redis_server")/redis-cli
if [ ! -x "$redis_cli" ]; then
	redis_cli=$(command -v redis-cli || true)
fi
[ -n "$redis_cli" ] || skip "redis-cli not found"
command -v python3 >/dev/null || skip "python3 not found"
[ -x "$ctl_bin" ] || die "$ctl_bin not built"

# A unix socket path must stay short (108 bytes).
tmpbase=${TMPDIR:-/tmp}
if [ ${#tmpbase} -gt 60 ]; then
	tmpbase=/tmp
fi
T=$(mktemp -d "$tmpbase/oe-ctl.XXXXXX") || die "mktemp failed"

start_redis
write_config
echo "# etrnctl $ctl_bin, redis pid $redis_pid, temp dir $T"
t_usage
t_domains
t_seed
t_status
t_list
t_flush
t_release
t_expire
t_reconcile
t_del_held
t_errors

echo "# $npass passed, $nfail failed"
[ "$nfail" -eq 0 ] || exit 1
exit 0
