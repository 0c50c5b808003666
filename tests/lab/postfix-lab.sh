#!/bin/bash
# tests/lab/postfix-lab.sh - the Postfix lab behind contrib/sandbox (the
# command to use; it runs this file, as do tests/lib/sandbox.sh and the
# benchmarks): a private mail lab on 127.0.0.1 for openetrn's tests and
# benchmarks: redis, two smtp-sinks (the "internet" and the dial-up
# "customer" host), a milter and a private Postfix instance, all below DIR.
#
#   contrib/sandbox start|stop|status DIR
#   contrib/sandbox redis-stop|redis-start DIR   (fault tests: stop Redis,
#                     start it again on the same data, ports and socket)
#
# Run as root on Debian 12 with contrib/install-deps done.  Never touches
# /etc/postfix or the system redis.  Environment for "start":
#   SB_PORT_BASE      base port (default 2525): SMTP base, SINK +1,
#                     REINJECT +2, CUSTOMER +3, ETRND +4, POLICY +5, DSN +6,
#                     REDIS +100;
#                     each can also be set directly (SMTP_PORT=... etc.)
#   SB_MILTER         etrn (default) | noop | none
#   OPENETRN_BUILDDIR where etrn-milter and bench/noop-milter are
#                     (default: the top of this source tree)
#   SB_EXTRA_CONF     lines appended to DIR/etc/openetrn.conf
#   SB_EXTRA_MAIN_CF  main.cf settings ("name = value", one a line) applied
#                     with postconf -e after the generated main.cf
#   SB_NO_SEED=1      do not put the test domains into redis
#   SB_MILTER_VERBOSE "verbose" in openetrn.conf (default yes; bench: no)
#   SB_HOSTNAME       this MX's name (default mx.lab.test)
#   SB_DSN_SERVER=none  etrnd hands DSNs to sendmail(1) instead of the
#                     sandbox's holding DSN smtpd on DSN_PORT
#   SB_ETRND=1        also run etrnd (listener on ETRND_PORT, etrn_allow
#                     127.0.0.0/8 or SB_ETRN_ALLOW), after Postfix
#   SB_POLICY=1       also run etrn-policy on DIR/pf/spool/openetrn/policy.sock
#                     (Postfix uses it only where SB_EXTRA_MAIN_CF says so,
#                     e.g. smtpd_etrn_restrictions = check_policy_service
#                     unix:openetrn/policy.sock: relative to the queue
#                     directory, as the chrooted public smtpd needs)
#   SB_REDIS_SOCK     use this running Redis (another sandbox's) instead
#                     of starting one: several MX hosts sharing one Redis
#   SB_REDIS_APPENDFSYNC  the sandbox Redis's appendfsync (default
#                     everysec; fault tests: always)
#   SB_QUEUE_FS_SIZE  put Postfix's queue directory on a tmpfs of this size
#                     (e.g. 16m; fault tests: a full disk); "stop" unmounts it
#   SB_VALGRIND=1     run etrn-milter, etrnd and etrn-policy under valgrind
#                     (memcheck, leak check; logs DIR/log/valgrind-NAME.PID.log,
#                     one per process, forked children too); longer waits
#                     and redis_timeout
#   SB_VG_SHOW        valgrind's --show-leak-kinds (default definite,indirect;
#                     "all" lists what is still reachable at exit too)
# "start" writes DIR/env (sourceable).  Exit codes: 0 ok, 1 failure,
# 2 usage, 75 a port is already in use (pick another base and retry).
set -eu -o pipefail
umask 022
PATH=$PATH:/usr/sbin:/sbin

PROG=sandbox
TIMEOUT=20		# seconds to wait for each service
STOP_TIMEOUT=15		# seconds to wait for a process to exit after SIGTERM
if [ "${SB_VALGRIND:-0}" = 1 ]; then
	# Programs under valgrind start, and write their leak report at
	# exit, many times slower.
	TIMEOUT=120
	STOP_TIMEOUT=90
fi

# Print an error and exit 1.
die() {
	echo "$PROG: $*" >&2
	exit 1
}

# Print usage and exit 2.
usage() {
	echo "usage: $PROG start|stop|status|redis-stop|redis-start DIR" >&2
	exit 2
}

# Print the last lines of a log file to stderr, if it exists.
log_tail() {
	if [ -s "$1" ]; then
		echo "---- last lines of $1 ----" >&2
		tail -n "${2:-30}" "$1" >&2
		echo "----" >&2
	fi
}

# Set the path variables for sandbox directory $SB.
set_paths() {
	PF_CONF=$SB/pf/etc
	PF_SPOOL=$SB/pf/spool
	PF_DATA=$SB/pf/data
	PF_LOG=$SB/pf/log/maillog
	PF_PIDFILE=$PF_SPOOL/pid/master.pid
	RUN=$SB/run
	LOG=$SB/log
	REDIS_SOCK=${SB_REDIS_SOCK:-$RUN/redis.sock}
	SB_HOSTNAME=${SB_HOSTNAME:-mx.lab.test}
	# The sockets live below the queue directory, as in the stock layout
	# (docs/design.md, "Where the sockets are"): the chrooted public
	# smtpd and the others find them as unix:openetrn/NAME.sock.
	SOCK_DIR=$PF_SPOOL/openetrn
	MILTER_SOCK=$SOCK_DIR/milter.sock
	POLICY_SOCK=$SOCK_DIR/policy.sock
	OPENETRN_CONF=$SB/etc/openetrn.conf
	SINK_DIR_INTERNET=$SB/sink/internet
	SINK_DIR_CUSTOMER=$SB/sink/customer
}

# Set the port variables from the environment and SB_PORT_BASE.
set_ports() {
	local base=${SB_PORT_BASE:-2525}
	case $base in
	'' | *[!0-9]*) die "SB_PORT_BASE must be a number" ;;
	esac
	SMTP_PORT=${SMTP_PORT:-$base}
	SINK_PORT=${SINK_PORT:-$((base + 1))}
	REINJECT_PORT=${REINJECT_PORT:-$((base + 2))}
	CUSTOMER_PORT=${CUSTOMER_PORT:-$((base + 3))}
	ETRND_PORT=${ETRND_PORT:-$((base + 4))}
	POLICY_PORT=${POLICY_PORT:-$((base + 5))}
	DSN_PORT=${DSN_PORT:-$((base + 6))}
	REDIS_PORT=${REDIS_PORT:-$((base + 100))}
	local p
	for p in "$SMTP_PORT" "$SINK_PORT" "$REINJECT_PORT" "$CUSTOMER_PORT" \
	    "$ETRND_PORT" "$POLICY_PORT" "$DSN_PORT" "$REDIS_PORT"; do
		case $p in
		'' | *[!0-9]*) die "bad port \"$p\"" ;;
		esac
		if [ "$p" -lt 1 ] || [ "$p" -gt 65535 ]; then
			die "bad port $p"
		fi
	done
}

# Succeed if something listens on TCP port $1 (any address).
port_busy() {
	if command -v ss >/dev/null 2>&1; then
		[ -n "$(ss -Hltn "sport = :$1" 2>/dev/null)" ]
	else
		(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
	fi
}

# Succeed if 127.0.0.1:$1 accepts TCP connections (listening check only).
port_listening() {
	if command -v ss >/dev/null 2>&1; then
		[ -n "$(ss -Hltn "src 127.0.0.1 and sport = :$1" 2>/dev/null)" ]
	else
		(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
	fi
}

# Succeed if process $1 exists and is not a zombie (PID 1 of some
# containers reaps orphans late; a zombie has exited for our purposes).
pid_running() {
	local stat
	kill -0 "$1" 2>/dev/null || return 1
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	stat=${stat##*) }
	[ "${stat%% *}" != Z ]
}

# Print the PID in pid file $1 if that process is alive and its command
# line contains $2; fail otherwise.
live_pid() {
	local pid cmd
	[ -s "$1" ] || return 1
	read -r pid <"$1" || true
	case $pid in
	'' | *[!0-9]*) return 1 ;;
	esac
	pid_running "$pid" || return 1
	cmd=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || return 1
	case $cmd in
	*"$2"*) echo "$pid" ;;
	*) return 1 ;;
	esac
}

# Wait up to $1 seconds for PID $2 to exit; fail if it is still there.
wait_gone() {
	local i n=$(($1 * 10))
	for ((i = 0; i < n; i++)); do
		pid_running "$2" || return 0
		sleep 0.1
	done
	! pid_running "$2"
}

# Stop the process in pid file $2 (named $1, command line matching $3):
# SIGTERM, wait, then SIGKILL.  Removes the pid file.
stop_pidfile() {
	local name=$1 pidfile=$2 match=$3 pid
	if pid=$(live_pid "$pidfile" "$match"); then
		echo "$PROG: stopping $name (pid $pid)"
		kill -TERM "$pid" 2>/dev/null || true
		if ! wait_gone "$STOP_TIMEOUT" "$pid"; then
			echo "$PROG: $name (pid $pid) ignored SIGTERM, killing" >&2
			kill -KILL "$pid" 2>/dev/null || true
			wait_gone 5 "$pid" ||
			    echo "$PROG: $name (pid $pid) will not die" >&2
		fi
	fi
	rm -f "$pidfile"
}

# Poll until command "$@" succeeds, at most $TIMEOUT seconds; while
# waiting, fail early if the process in pid file $WAIT_PIDFILE (if set) died.
wait_ready() {
	local i n=$((TIMEOUT * 10)) pid=
	if [ -n "${WAIT_PIDFILE:-}" ]; then
		read -r pid <"$WAIT_PIDFILE" || true
	fi
	for ((i = 0; i < n; i++)); do
		"$@" >/dev/null 2>&1 && return 0
		if [ -n "$pid" ] && ! pid_running "$pid"; then
			return 1
		fi
		sleep 0.1
	done
	return 1
}

# Report a failed start, print log $2, stop what was started, exit 1.
start_failed() {
	echo "$PROG: $1" >&2
	[ -n "${2:-}" ] && log_tail "$2" 40
	echo "$PROG: stopping what was started" >&2
	do_stop >&2 || true
	exit 1
}

# Start "$@" in the background, output to log $2, pid into pid file $1.
# With SB_VALGRIND=1 and SB_VG_NAME set (by the openetrn programs' start
# functions), under valgrind.
spawn() {
	local pidfile=$1 log=$2
	shift 2
	echo "==== $PROG start $(date '+%F %T') ====" >>"$log"
	if [ "${SB_VALGRIND:-0}" = 1 ] && [ -n "${SB_VG_NAME:-}" ]; then
		set -- valgrind --leak-check=full \
		    --show-leak-kinds=${SB_VG_SHOW:-definite,indirect} \
		    --errors-for-leak-kinds=definite,indirect \
		    --error-exitcode=99 --num-callers=30 --vgdb=no \
		    --log-file="$LOG/valgrind-$SB_VG_NAME.%p.log" "$@"
	fi
	"$@" </dev/null >>"$log" 2>&1 &
	echo $! >"$pidfile"
}

# Succeed if redis answers PING on the sandbox socket.
redis_ping() {
	[ "$(redis-cli -s "$REDIS_SOCK" ping 2>/dev/null)" = PONG ]
}

# Succeed if Postfix's master runs and both smtpd ports listen.
postfix_ready() {
	live_pid "$PF_PIDFILE" master >/dev/null &&
	    port_listening "$SMTP_PORT" && port_listening "$REINJECT_PORT" &&
	    port_listening "$DSN_PORT"
}

# Write Postfix's main.cf, master.cf and transport map.  The public smtpd
# runs chrooted (Debian's stock master.cf); re-injection and DSN smtpd not.
write_postfix_conf() {
	local milters=$1
	cat >"$PF_CONF/main.cf" <<EOF
# Written by contrib/sandbox start; rewritten at every start.
compatibility_level = 3.6
queue_directory = $PF_SPOOL
data_directory = $PF_DATA
maillog_file = $PF_LOG
maillog_file_prefixes = $SB/pf/log
enable_long_queue_ids = yes

myhostname = $SB_HOSTNAME
mydomain = lab.test
myorigin = \$myhostname
mydestination =
local_recipient_maps =
local_transport = error:5.1.1 local delivery is disabled in the sandbox
alias_maps =
alias_database =
biff = no

inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtp_bind_address = 127.0.0.1
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
relay_domains = dialup.test, .dialup.test, dialup2.test, dialup3.test,
    xn--bcher-kva.test
relayhost = [127.0.0.1]:$SINK_PORT
transport_maps = texthash:$PF_CONF/transport
smtp_dns_support_level = disabled
smtputf8_enable = yes
smtp_connect_timeout = 5s

smtpd_milters = $milters
milter_default_action = tempfail

queue_run_delay = 10s
minimal_backoff_time = 10s
maximal_backoff_time = 60s
# Released held mail keeps its arrival time: must outlive hold_time.
maximal_queue_lifetime = 10d
bounce_queue_lifetime = 10d
EOF
	local nexthop="smtp:[127.0.0.1]:$CUSTOMER_PORT"
	cat >"$PF_CONF/transport" <<EOF
# Dial-up test domains: delivered to the customer sink when released.
dialup.test		$nexthop
.dialup.test		$nexthop
dialup2.test		$nexthop
dialup3.test		$nexthop
xn--bcher-kva.test	$nexthop
EOF
	cat >"$PF_CONF/master.cf" <<EOF
# Written by contrib/sandbox start: Postfix's stock services, smtpd only
# on loopback ports; the public one chrooted, as Debian ships it.
# service type  private unpriv  chroot  wakeup  maxproc command + args
127.0.0.1:$SMTP_PORT inet n - y - - smtpd
127.0.0.1:$REINJECT_PORT inet n - n - - smtpd
  -o syslog_name=postfix/reinject
127.0.0.1:$DSN_PORT inet n - n - - smtpd
  -o syslog_name=postfix/openetrn-dsn
  -o smtpd_milters=
  -o smtpd_client_restrictions=check_client_access,static:HOLD
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
  -o syslog_name=postfix/\$service_name
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
virtual   unix  -       n       n       -       -       virtual
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
EOF
	if [ -n "${SB_EXTRA_MAIN_CF:-}" ]; then
		local line
		while IFS= read -r line; do
			case $line in
			'' | '#'*) continue ;;
			esac
			postconf -c "$PF_CONF" -e "$line" ||
			    die "bad SB_EXTRA_MAIN_CF line: $line"
		done <<<"$SB_EXTRA_MAIN_CF"
	fi
}

# Create DIR/run/hold.secret, the key of the hold tags, unless it exists
# (mail held before a restart keeps verifying): 32 random bytes, 0640
# root and the group of `user`, as make install creates it.
make_secret() {
	HOLD_SECRET=$RUN/hold.secret
	[ -s "$HOLD_SECRET" ] && return 0
	(umask 077 && head -c 32 /dev/urandom >"$HOLD_SECRET.tmp") ||
	    die "cannot write $HOLD_SECRET"
	chown "root:$(id -gn openetrn)" "$HOLD_SECRET.tmp" &&
	    chmod 0640 "$HOLD_SECRET.tmp" &&
	    mv "$HOLD_SECRET.tmp" "$HOLD_SECRET" ||
	    die "cannot install $HOLD_SECRET"
}

# Write DIR/etc/openetrn.conf.
write_openetrn_conf() {
	cat >"$OPENETRN_CONF" <<EOF
hostname = $SB_HOSTNAME
redis_server = unix:$REDIS_SOCK
redis_timeout = $([ "${SB_VALGRIND:-0}" = 1 ] && echo 10s || echo 1s)
milter_socket = unix:$MILTER_SOCK
milter_socket_group = postfix
milter_socket_mode = 0660
reinject_server = inet:127.0.0.1:$REINJECT_PORT
tmp_directory = $SB/tmp
domain_refresh = 1s
hold_time = 5d
warn_time = 4h
user = openetrn
hold_secret_file = $HOLD_SECRET
mta = postfix
postfix_config_directory = $PF_CONF
verbose = ${SB_MILTER_VERBOSE:-yes}
etrnd_listen = inet:127.0.0.1:$ETRND_PORT
etrn_allow = ${SB_ETRN_ALLOW:-127.0.0.0/8}
queue_run_interval = 500ms
$( [ "${SB_DSN_SERVER:-yes}" = none ] || echo "dsn_server = inet:127.0.0.1:$DSN_PORT")
policy_listen = unix:$POLICY_SOCK
policy_socket_group = postfix
EOF
	if [ -n "${SB_EXTRA_CONF:-}" ]; then
		printf '%s\n' "$SB_EXTRA_CONF" >>"$OPENETRN_CONF"
	fi
}

# Write DIR/env, a file that test scripts source.
write_env() {
	local v pid
	{
		echo "# Written by contrib/sandbox start."
		for v in SB PF_CONF PF_SPOOL PF_LOG SMTP_PORT SINK_PORT \
		    REINJECT_PORT CUSTOMER_PORT ETRND_PORT POLICY_PORT \
		    DSN_PORT REDIS_PORT REDIS_SOCK MILTER_SOCK OPENETRN_CONF \
		    SINK_DIR_INTERNET SINK_DIR_CUSTOMER SB_MILTER \
		    POLICY_SOCK HOLD_SECRET; do
			printf 'export %s=%q\n' "$v" "${!v}"
		done
		local mlog=$LOG/$MILTER_NAME.log
		[ "$SB_MILTER" = none ] && mlog=
		printf 'export %s=%q\n' SB_LOG_DIR "$LOG" MILTER_LOG "$mlog" \
		    REDIS_LOG "$LOG/redis.log"
		for v in redis:REDIS_PID sink-internet:SINK_INTERNET_PID \
		    sink-customer:SINK_CUSTOMER_PID milter:MILTER_PID \
		    etrnd:ETRND_PID etrn-policy:POLICY_PID; do
			pid=
			[ -s "$RUN/${v%%:*}.pid" ] && read -r pid <"$RUN/${v%%:*}.pid"
			printf 'export %s=%q\n' "${v#*:}" "$pid"
		done
		pid=
		[ -s "$PF_PIDFILE" ] && read -r pid <"$PF_PIDFILE"
		printf 'export POSTFIX_PID=%q\n' "${pid// /}"
	} >"$SB/env.tmp"
	mv "$SB/env.tmp" "$SB/env"
}

# Check that the tools "start" needs are there.
check_prereqs() {
	[ "$(id -u)" = 0 ] || die "must run as root"
	local t
	for t in redis-server redis-cli /usr/sbin/postfix /usr/sbin/postconf \
	    /usr/sbin/smtp-sink runuser; do
		command -v "$t" >/dev/null 2>&1 || die "$t not found"
	done
	getent passwd postfix >/dev/null || die "no user postfix"
}

# Fail if any sandbox process of DIR still runs.
check_not_running() {
	local f
	for f in redis:redis-server sink-internet:smtp-sink \
	    sink-customer:smtp-sink milter:milter; do
		if live_pid "$RUN/${f%%:*}.pid" "${f#*:}" >/dev/null; then
			die "${f%%:*} already runs in $SB: stop it first"
		fi
	done
	if live_pid "$PF_PIDFILE" master >/dev/null; then
		die "postfix already runs in $SB: stop it first"
	fi
}

# Exit 75 if any of the sandbox ports is in use.
check_ports() {
	local v busy=
	for v in SMTP_PORT SINK_PORT REINJECT_PORT CUSTOMER_PORT ETRND_PORT \
	    POLICY_PORT DSN_PORT REDIS_PORT; do
		if port_busy "${!v}"; then
			busy="$busy $v=${!v}"
		fi
	done
	if [ -n "$busy" ]; then
		echo "$PROG: port(s) already in use:$busy" >&2
		exit 75
	fi
}

# Create the directory tree with the owners the services need.
make_dirs() {
	mkdir -p "$SB" "$RUN" "$LOG" "$SB/etc" "$SB/redis" "$SB/tmp" \
	    "$PF_CONF" "$PF_SPOOL" "$PF_DATA" "$SB/pf/log" \
	    "$SINK_DIR_INTERNET" "$SINK_DIR_CUSTOMER"
	chmod 755 "$SB" "$RUN" "$SB/sink"
	touch "$SB/.openetrn-sandbox"
	chown postfix: "$SINK_DIR_INTERNET" "$SINK_DIR_CUSTOMER" "$PF_DATA"
	chmod 700 "$SB/redis"
	if [ -n "${SB_QUEUE_FS_SIZE:-}" ] && ! mountpoint -q "$PF_SPOOL"; then
		mount -t tmpfs -o "size=$SB_QUEUE_FS_SIZE,mode=755" tmpfs \
		    "$PF_SPOOL" || die "cannot mount a tmpfs on $PF_SPOOL"
	fi
	# As make install makes /var/spool/postfix/openetrn: root's,
	# smtpd gets in through the group.
	install -d -m 0750 -o root -g postfix "$SOCK_DIR"
	if ! runuser -u postfix -- test -w "$SINK_DIR_INTERNET"; then
		die "user postfix cannot write $SINK_DIR_INTERNET:" \
		    "make every parent of $SB searchable (o+x)"
	fi
}

# Start redis and wait until it answers; seed the test domains.
start_redis() {
	rm -f "$REDIS_SOCK"
	echo "$PROG: starting redis on 127.0.0.1:$REDIS_PORT"
	spawn "$RUN/redis.pid" "$LOG/redis.log" redis-server \
	    --port "$REDIS_PORT" --bind 127.0.0.1 \
	    --unixsocket "$REDIS_SOCK" --unixsocketperm 777 \
	    --dir "$SB/redis" --appendonly yes \
	    --appendfsync "${SB_REDIS_APPENDFSYNC:-everysec}" \
	    --save '' --daemonize no
	WAIT_PIDFILE=$RUN/redis.pid wait_ready redis_ping ||
	    start_failed "redis did not start" "$LOG/redis.log"
	if [ "${SB_NO_SEED:-0}" != 1 ]; then
		redis-cli -s "$REDIS_SOCK" SADD etrn:domains dialup.test \
		    dialup2.test .dialup.test xn--bcher-kva.test >/dev/null ||
		    start_failed "cannot seed redis" "$LOG/redis.log"
	fi
}

# Start smtp-sink $1 (internet|customer) on port $2 and wait for it.
start_sink() {
	local name=$1 port=$2 dir=$SB/sink/$1
	echo "$PROG: starting $name sink on 127.0.0.1:$port"
	spawn "$RUN/sink-$name.pid" "$LOG/sink-$name.log" \
	    /usr/sbin/smtp-sink -u postfix -4 -c -h "$name.sink.test" \
	    -d "$dir/%Y%m%d%H/%M%S." 127.0.0.1:"$port" 256
	WAIT_PIDFILE=$RUN/sink-$name.pid wait_ready port_listening "$port" ||
	    start_failed "$name sink did not start" "$LOG/sink-$name.log"
}

# Start the milter chosen by SB_MILTER and wait for its socket.
start_milter() {
	rm -f "$MILTER_SOCK"
	case $SB_MILTER in
	none)
		return 0
		;;
	noop)
		echo "$PROG: starting noop-milter"
		spawn "$RUN/milter.pid" "$LOG/noop-milter.log" \
		    "$MILTER_BIN" "$MILTER_SOCK"
		;;
	etrn)
		if ! getent passwd openetrn >/dev/null; then
			useradd --system --no-create-home \
			    --shell /usr/sbin/nologin openetrn ||
			    start_failed "cannot create user openetrn"
		fi
		# $RUN stays root's 0755: root creates the sockets and pid
		# files there and refuses a directory another user can write.
		# The milter writes its message copies to tmp/ as openetrn.
		chown openetrn "$SB/tmp"
		chmod 700 "$SB/tmp"
		echo "$PROG: starting etrn-milter"
		SB_VG_NAME=etrn-milter spawn "$RUN/milter.pid" \
		    "$LOG/etrn-milter.log" \
		    "$MILTER_BIN" -f -c "$OPENETRN_CONF"
		;;
	esac
	WAIT_PIDFILE=$RUN/milter.pid wait_ready test -S "$MILTER_SOCK" ||
	    start_failed "$SB_MILTER milter did not create $MILTER_SOCK" \
	    "$LOG/$MILTER_NAME.log"
}

# Print what "postfix check" says.  The postfix command writes its own
# fatal errors (bad main.cf values) only to a terminal, never to
# maillog_file, so run it on a pseudo-terminal with script(1).
postfix_diagnose() {
	command -v script >/dev/null 2>&1 || return 0
	echo "---- postfix -c $PF_CONF check ----" >&2
	script -qec "postfix -c $(printf %q "$PF_CONF") check" /dev/null |
	    tr -d '\r' >&2 || true
}

# Start the private Postfix and wait until it listens.
start_postfix() {
	echo "$PROG: starting postfix on 127.0.0.1:$SMTP_PORT" \
	    "(reinject $REINJECT_PORT)"
	if ! postfix -c "$PF_CONF" start >>"$LOG/postfix.log" 2>&1; then
		log_tail "$LOG/postfix.log" 20
		postfix_diagnose
		start_failed "postfix -c $PF_CONF start failed" "$PF_LOG"
	fi
	wait_ready postfix_ready ||
	    start_failed "postfix did not come up" "$PF_LOG"
}

# The "start" command.
do_start() {
	check_prereqs
	set_ports
	SB_MILTER=${SB_MILTER:-etrn}
	case $SB_MILTER in
	etrn) MILTER_NAME=etrn-milter ;;
	noop) MILTER_NAME=noop-milter ;;
	none) MILTER_NAME=none ;;
	*) die "SB_MILTER must be etrn, noop or none" ;;
	esac
	local top
	top=$(cd "$(dirname "$0")/../.." && pwd)
	OPENETRN_BUILDDIR=${OPENETRN_BUILDDIR:-$top}
	if [ "$SB_MILTER" != none ]; then
		OPENETRN_BUILDDIR=$(cd "$OPENETRN_BUILDDIR" && pwd) ||
		    die "no directory $OPENETRN_BUILDDIR (OPENETRN_BUILDDIR)"
	fi
	case $SB_MILTER in
	noop) MILTER_BIN=$OPENETRN_BUILDDIR/bench/noop-milter ;;
	etrn) MILTER_BIN=$OPENETRN_BUILDDIR/etrn-milter ;;
	none) MILTER_BIN= ;;
	esac
	if [ -n "$MILTER_BIN" ] && [ ! -x "$MILTER_BIN" ]; then
		die "$MILTER_BIN not found (build it first)"
	fi
	check_not_running
	check_ports
	rm -f "$RUN"/*.pid
	make_dirs
	make_secret
	write_openetrn_conf
	local milters=
	[ "$SB_MILTER" = none ] || milters=unix:openetrn/milter.sock
	write_postfix_conf "$milters"
	echo "$SB_MILTER" >"$RUN/milter.kind"

	if [ -n "${SB_REDIS_SOCK:-}" ]; then
		redis-cli -s "$REDIS_SOCK" ping >/dev/null 2>&1 ||
		    start_failed "no Redis at SB_REDIS_SOCK=$REDIS_SOCK"
	else
		start_redis
	fi
	start_sink internet "$SINK_PORT"
	start_sink customer "$CUSTOMER_PORT"
	start_milter
	start_postfix
	start_etrnd
	start_policy
	write_env
	echo "$PROG: sandbox $SB is up (smtp 127.0.0.1:$SMTP_PORT," \
	    "milter $SB_MILTER); source $SB/env"
}

# Stop Postfix: "postfix stop", then wait for its master to go.
stop_postfix() {
	local pid
	pid=$(live_pid "$PF_PIDFILE" master) || return 0
	echo "$PROG: stopping postfix (master pid $pid)"
	if ! postfix -c "$PF_CONF" stop >>"$LOG/postfix.log" 2>&1; then
		kill -TERM "$pid" 2>/dev/null || true
	fi
	if ! wait_gone "$STOP_TIMEOUT" "$pid"; then
		echo "$PROG: postfix master (pid $pid) still there, killing" >&2
		kill -KILL "$pid" 2>/dev/null || true
		wait_gone 5 "$pid" || true
	fi
}

# Kill stray Postfix daemons that still work in our spool once the master
# is gone (they normally exit by themselves within a moment).
stop_strays() {
	local d pid strays=
	[ -d "$PF_SPOOL" ] || return 0
	for d in /proc/[0-9]*; do
		[ "$(readlink "$d/cwd" 2>/dev/null)" = "$PF_SPOOL" ] || continue
		strays="$strays ${d#/proc/}"
	done
	for pid in $strays; do
		wait_gone 3 "$pid" && continue
		echo "$PROG: killing stray process $pid in $PF_SPOOL" >&2
		kill -KILL "$pid" 2>/dev/null || true
	done
}

# The "stop" command; idempotent and safe after a partial start.
do_stop() {
	stop_pidfile etrnd "$RUN/etrnd.pid" etrnd
	stop_pidfile etrn-policy "$RUN/etrn-policy.pid" etrn-policy
	stop_postfix
	stop_pidfile milter "$RUN/milter.pid" milter
	stop_pidfile "customer sink" "$RUN/sink-customer.pid" smtp-sink
	stop_pidfile "internet sink" "$RUN/sink-internet.pid" smtp-sink
	stop_pidfile redis "$RUN/redis.pid" redis-server
	stop_strays
	# SB_QUEUE_FS_SIZE's tmpfs: only ever below this sandbox.
	if [ -d "$PF_SPOOL" ] && mountpoint -q "$PF_SPOOL"; then
		umount "$PF_SPOOL" || umount -l "$PF_SPOOL" ||
		    echo "$PROG: cannot unmount $PF_SPOOL" >&2
	fi
	rm -f "$MILTER_SOCK" "$RUN/redis.sock"
}

# Print one status line for pid file $2 named $1 matching $3; fail if down.
status_line() {
	local pid
	if pid=$(live_pid "$2" "$3"); then
		printf '%-14s running (pid %s)\n' "$1" "$pid"
	else
		printf '%-14s stopped\n' "$1"
		return 1
	fi
}

# Start etrnd (SB_ETRND=1) and wait for its listener.
start_etrnd() {
	[ "${SB_ETRND:-0}" = 1 ] || return 0
	echo "$PROG: starting etrnd on 127.0.0.1:$ETRND_PORT"
	SB_VG_NAME=etrnd spawn "$RUN/etrnd.pid" "$LOG/etrnd.log" \
	    "$OPENETRN_BUILDDIR/etrnd/etrnd" -f -c "$OPENETRN_CONF"
	WAIT_PIDFILE=$RUN/etrnd.pid wait_ready port_listening "$ETRND_PORT" ||
	    start_failed "etrnd did not start" "$LOG/etrnd.log"
}

# Start etrn-policy (SB_POLICY=1) and wait for its socket.
start_policy() {
	[ "${SB_POLICY:-0}" = 1 ] || return 0
	echo "$PROG: starting etrn-policy on $POLICY_SOCK"
	if ! getent passwd openetrn >/dev/null; then
		useradd --system --no-create-home \
		    --shell /usr/sbin/nologin openetrn ||
		    start_failed "cannot create user openetrn"
	fi
	SB_VG_NAME=etrn-policy spawn "$RUN/etrn-policy.pid" \
	    "$LOG/etrn-policy.log" \
	    "$OPENETRN_BUILDDIR/policy/etrn-policy" -f -c "$OPENETRN_CONF"
	WAIT_PIDFILE=$RUN/etrn-policy.pid wait_ready test -S "$POLICY_SOCK" ||
	    start_failed "etrn-policy did not start" "$LOG/etrn-policy.log"
}

# The "redis-start" command: Redis again on its data (AOF), same ports.
do_redis_start() {
	# shellcheck disable=SC1091
	. "$SB/env"
	live_pid "$RUN/redis.pid" redis-server >/dev/null 2>&1 &&
	    die "redis is already running"
	SB_NO_SEED=1 start_redis
	local pid
	read -r pid <"$RUN/redis.pid"
	sed -i "s/^export REDIS_PID=.*/export REDIS_PID=$pid/" "$SB/env"
}

# The "status" command: exit 0 if everything that should run runs, else 3.
do_status() {
	local kind=none rc=0
	[ -s "$RUN/milter.kind" ] && read -r kind <"$RUN/milter.kind"
	echo "sandbox $SB"
	status_line redis "$RUN/redis.pid" redis-server || rc=3
	status_line sink-internet "$RUN/sink-internet.pid" smtp-sink || rc=3
	status_line sink-customer "$RUN/sink-customer.pid" smtp-sink || rc=3
	if [ "$kind" = none ]; then
		printf '%-14s none\n' milter
	else
		status_line "milter($kind)" "$RUN/milter.pid" milter || rc=3
	fi
	status_line postfix "$PF_PIDFILE" master || rc=3
	if [ -s "$SB/env" ]; then
		# shellcheck disable=SC1091
		(. "$SB/env" && echo "ports: smtp $SMTP_PORT reinject" \
		    "$REINJECT_PORT sink $SINK_PORT customer $CUSTOMER_PORT" \
		    "redis $REDIS_PORT etrnd $ETRND_PORT policy $POLICY_PORT" \
		    "dsn $DSN_PORT")
	fi
	return $rc
}

[ $# -eq 2 ] || usage
cmd=$1
[ -n "$2" ] || usage
case $cmd in
start)
	mkdir -p "$2"
	;;
stop | status | redis-stop | redis-start)
	# Only ever act on a directory that "start" prepared.
	if [ ! -e "$2/.openetrn-sandbox" ]; then
		[ "$cmd" = stop ] && [ ! -e "$2" ] && exit 0
		die "$2 is not a sandbox directory"
	fi
	;;
*)
	usage
	;;
esac
SB=$(cd "$2" && pwd)
set_paths
case $cmd in
start) do_start ;;
stop) do_stop ;;
status) do_status ;;
redis-stop) stop_pidfile redis "$RUN/redis.pid" redis-server ;;
redis-start) do_redis_start ;;
esac
