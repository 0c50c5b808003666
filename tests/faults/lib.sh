# shellcheck shell=bash
# tests/faults/lib.sh - helpers of the fault-injection tests; source it
# after tests/lib/sandbox.sh, tests/lib/common.sh and sb_start.
#
#   sendmany ARGS...     tests/faults/sendmany.py to the sandbox smtpd
#   progress LOG         how many messages sendmany has finished
#   ledger ARGS... LOG.. tests/faults/ledger.py (accounting by X-Test-Id)
#   policy_ask STATE DOMAIN  one request to etrn-policy (SB_POLICY=1): an
#                        ETRN for DOMAIN, or a RCPT to u@DOMAIN; prints
#                        its action= line (tests/lib/policy.py)
#   redis_kill           SIGKILL the sandbox's Redis and wait until it is gone
#   redis_back           start it again on its AOF, wait for PING
#   logged N FILE PAT    FILE has at least N lines matching grep -E PAT
#   slow_customer SECS   customer sink answering DATA after SECS; stop_customer
#   mta_wrappers         failing or slow postsuper/postqueue/postkick,
#                        and postcat, each call logged (before sb_start)
#   gate_arm CMD OPT pre|post  the next "CMD -OPT" (mta_wrappers) stops
#                        before or after running and waits; gate_reached
#                        CMD OPT WHEN: it is waiting (prints its PID);
#                        gate_open CMD OPT WHEN lets it go on
#   queue_subdirs Q...   the hashed subdirectories of Postfix queues Q
#   links_on Q...        each of them replaced by a symbolic link; links_off
#   dead_on DIR...       a gone process's /proc/PID/fd mounted on each DIR;
#                        dead_off DIR... unmounts them
#   avail                free bytes on the queue's file system
#   fill_to BYTES        fill it ($PF_SPOOL/fill) to leave about BYTES free
#                        (0: full); rm -f "$PF_SPOOL/fill" frees it
#   unread_passes PHASE SECS  two more unreadable_logged lines within SECS,
#                        and 2 s more, acted empty (both the test's own)
#
# etrn, ctl, dsn_count...: tests/lib/common.sh; pass, fail, wait_for,
# ms_now...: tests/lib/core.sh.

FT_DIR=$SB_SRCDIR/tests/faults

sendmany() {
	python3 "$FT_DIR/sendmany.py" --port "$SMTP_PORT" "$@"
}

progress() {
	local n=0
	[ -s "$1.progress" ] && read -r n <"$1.progress"
	echo "${n:-0}"
}

ledger() {
	python3 "$FT_DIR/ledger.py" "$@"
}

policy_ask() {
	python3 "$SB_SRCDIR/tests/lib/policy.py" "$POLICY_SOCK" "$1" "$2"
}

redis_kill() {
	local pid=$REDIS_PID
	kill -9 "$pid" || fail "cannot kill redis $pid"
	wait_for 10 sh -c "! kill -0 $pid" || fail "redis $pid survived"
}

redis_back() {
	"$SB_SANDBOX" redis-start "$SB" >/dev/null || fail "redis-start"
	# shellcheck disable=SC1091
	. "$SB/env"
	wait_for 10 redis_is PONG PING || fail "redis does not answer"
}

logged() {
	[ "$(grep -Ec -- "$3" "$2" 2>/dev/null || true)" -ge "$1" ]
}

# slow_customer SECS - replace the customer sink by one that waits SECS
# before answering each DATA (same port and directory), so that a flush
# is still going on when a fault is injected.  Stopped by stop_customer.
slow_customer() {
	kill "$SINK_CUSTOMER_PID" 2>/dev/null || true
	wait_for 10 sh -c "! kill -0 $SINK_CUSTOMER_PID 2>/dev/null" ||
	    fail "customer sink still runs"
	/usr/sbin/smtp-sink -u postfix -4 -c -h customer.sink.test -w "$1" \
	    -d "$SINK_DIR_CUSTOMER/%Y%m%d%H/%M%S." "127.0.0.1:$CUSTOMER_PORT" \
	    256 >>"$SB/log/sink-customer.log" 2>&1 &
	SINK_CUSTOMER_PID=$!
	FT_SINK_PID=$!
	wait_for 10 eval "ss -Hltn 'sport = :$CUSTOMER_PORT' | grep -q ." ||
	    fail "slow customer sink does not listen"
}

# stop_customer - stop slow_customer's sink (for EXIT traps)
stop_customer() {
	[ -n "${FT_SINK_PID:-}" ] || return 0
	# Called from EXIT traps under set -e: nothing here may fail.
	kill "$FT_SINK_PID" 2>/dev/null || true
	wait "$FT_SINK_PID" 2>/dev/null || true
	FT_SINK_PID=
	return 0
}

# mta_wrappers - before sb_start: make $SB/bin, a postfix_command_directory
# whose postsuper, postqueue and postkick log each call to
#   $SB/mta-calls.log and exit 75 while $SB/CMD.fail exists (CMD:
#   postsuper, postqueue or postkick);
#   postsuper -H: sleep 5 s after the real command while
#   $SB/postsuper.slow exists, having created $SB/postsuper.done;
#   sleep 5 s before it while $SB/postsuper.slowpre exists, having
#   created $SB/postsuper.before;
#   stop at a gate armed by gate_arm (any option letter: "-d", "-H");
# the other Postfix commands are links to the real ones.  Use it with
# SB_EXTRA_CONF="postfix_command_directory = $SB/bin".
mta_wrappers() {
	local c bin=$SB/bin
	mkdir -p "$bin"
	for c in postconf sendmail postdrop; do
		ln -sf "/usr/sbin/$c" "$bin/$c"
	done
	for c in postsuper postqueue postkick postcat; do
		cat >"$bin/$c" <<EOW
#!/bin/sh
if [ -e "$SB/$c.fail" ]; then
	echo "\$(date +%s) $c \$* FAILED" >>"$SB/mta-calls.log"
	echo "$c: fatal: simulated failure" >&2
	exit 75
fi
args="\$*"
echo "\$(date +%s) $c \$args" >>"$SB/mta-calls.log"
# The option: the first "-X" after "-c DIR".
op=\$(for a in "\$@"; do echo "\$a"; done | sed '1,2{/^-c\$/{N;d}}' |
    grep -m 1 -x -e '-[A-Za-z]' | tr -d -)
# gate WHEN - stop here if armed (gate_arm: the arming file is taken
# away), say so with our PID, wait until gate_open or our end
gate() {
	g="$SB/gate.$c.\$op.\$1"
	[ -n "\$op" ] && rm "\$g" 2>/dev/null || return 0
	echo "\$(date +%s) $c \$args: stopped at gate \$1" >>"$SB/mta-calls.log"
	echo \$\$ >"\$g.reached.tmp"
	mv "\$g.reached.tmp" "\$g.reached"
	while [ -e "\$g.reached" ]; do sleep 0.05; done
}
gate pre
if [ -n "\$op" ] && [ -e "$SB/gate.$c.\$op.post" ]; then
	/usr/sbin/$c "\$@"
	rc=\$?
	gate post
	exit \$rc
fi
case " \$* " in
*" -H "*)
	if [ -e "$SB/$c.slowpre" ]; then
		touch "$SB/$c.before"
		sleep 5
	fi
	if [ -e "$SB/$c.slow" ]; then
		/usr/sbin/$c "\$@"
		rc=\$?
		touch "$SB/$c.done"
		sleep 5
		exit \$rc
	fi
	;;
esac
exec /usr/sbin/$c "\$@"
EOW
		chmod 755 "$bin/$c"
	done
}

# gate_arm CMD OPT WHEN - the next call of mta_wrappers' CMD (postsuper,
# postqueue) with option -OPT stops, WHEN pre (before running the real
# command) or post (after it), and waits: gate_reached CMD OPT WHEN
# succeeds and prints the waiting wrapper's PID; gate_open CMD OPT WHEN
# lets it go on (or the wrapper dies with its caller: etrnd's commands
# get SIGKILL when it dies).  Each arming stops one call.
gate_arm() {
	rm -f "$SB/gate.$1.$2.$3.reached"
	touch "$SB/gate.$1.$2.$3"
}
gate_reached() {
	[ -s "$SB/gate.$1.$2.$3.reached" ] && cat "$SB/gate.$1.$2.$3.reached"
}
gate_open() {
	rm -f "$SB/gate.$1.$2.$3" "$SB/gate.$1.$2.$3.reached"
}

FT_HEX="0 1 2 3 4 5 6 7 8 9 A B C D E F"

# queue_subdirs Q... - the hashed subdirectories of the Postfix queues Q,
# one a line
queue_subdirs() {
	local q x
	for q in "$@"; do
		for x in $FT_HEX; do
			echo "$PF_SPOOL/$q/$x"
		done
	done
}

# links_on Q... / links_off Q... - each hashed subdirectory of the Postfix
# queue Q moved to unread-Q/X and replaced by a link ../unread-Q/X, which
# Postfix follows and etrnd's scan does not (neither file nor directory)
links_on() {
	local q x
	for q in "$@"; do
		mkdir -p "$PF_SPOOL/unread-$q"
		for x in $FT_HEX; do
			if [ ! -d "$PF_SPOOL/$q/$x" ]; then
				mkdir "$PF_SPOOL/$q/$x"
				chown --reference="$PF_SPOOL/$q" "$PF_SPOOL/$q/$x"
				chmod --reference="$PF_SPOOL/$q" "$PF_SPOOL/$q/$x"
			fi
			mv "$PF_SPOOL/$q/$x" "$PF_SPOOL/unread-$q/$x"
			ln -s "../unread-$q/$x" "$PF_SPOOL/$q/$x"
		done
	done
}
links_off() {
	local q x
	for q in "$@"; do
		[ -d "$PF_SPOOL/unread-$q" ] || continue
		for x in $FT_HEX; do
			[ -L "$PF_SPOOL/$q/$x" ] || continue
			rm "$PF_SPOOL/$q/$x"
			mv "$PF_SPOOL/unread-$q/$x" "$PF_SPOOL/$q/$x"
		done
		rmdir "$PF_SPOOL/unread-$q"
	done
}

# dead_on DIR... / dead_off DIR... - the directory of a gone process's
# descriptors bind-mounted on each DIR: it opens, but cannot be read
# (fstat, getdents and every lookup in it fail with ENOENT)
dead_on() {
	local d pid
	sleep 600 &
	pid=$!
	for d in "$@"; do
		mount --bind "/proc/$pid/fd" "$d" || fail "cannot mount on $d"
	done
	kill "$pid"
	wait "$pid" 2>/dev/null || true
}
dead_off() {
	local d
	for d in "$@"; do
		! grep -q " $d " /proc/self/mountinfo || umount "$d" ||
		    umount -l "$d"
	done
}

avail() {
	df -B1 --output=avail "$PF_SPOOL" | tail -n 1 | tr -d ' '
}
fill_to() {
	local n
	rm -f "$PF_SPOOL/fill"
	n=$((($(avail) - $1) / 65536))
	[ "$1" = 0 ] && n=100000
	dd if=/dev/zero of="$PF_SPOOL/fill" bs=64k count="$n" 2>/dev/null || true
}

# unread_passes PHASE SECS - while the queue cannot be read: within SECS two
# more lines counted by the test's unreadable_logged, and nothing printed
# by its acted then nor 2 s later
unread_passes() {
	local n0
	n0=$(unreadable_logged)
	# shellcheck disable=SC2016 # eval expands them, each try
	wait_for "$2" eval '[ "$(unreadable_logged)" -ge $((n0 + 2)) ] || [ -n "$(acted)" ]' || true
	[ -z "$(acted)" ] || fail "$1: acted on an unreadable queue: $(acted | tail -n 2)"
	[ "$(unreadable_logged)" -ge $((n0 + 2)) ] || fail "$1: unreadable queue not logged (again)"
	sleep 2
	[ -z "$(acted)" ] || fail "$1: acted on an unreadable queue: $(acted | tail -n 2)"
}
