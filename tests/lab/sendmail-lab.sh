# shellcheck shell=bash
# tests/lab/sendmail-lab.sh - a private Sendmail 8.17 with etrn-milter
# and etrnd (mta = sendmail) next to the sandbox's Postfix, redis and sinks.
# Source it after tests/lib/sandbox.sh and sb_start (SB_MILTER=none), then:
#
#   sm_require          unpack Sendmail if needed (contrib/sendmail/
#                       unpack-sendmail); skip the test (77) only if that fails
#   sm_start            etrn-milter, sendmail -bD on 127.0.0.1:$SM_PORT (and
#                       its DSN port $SM_DSN_PORT, where etrn-milter holds
#                       everything) and etrnd (mta = sendmail) on
#                       $ETRND_PORT, below $SB/sm
#   sm_etrnd_stop, sm_etrnd_start   stop and start that etrnd
#   sm_run ARGS...      the private sendmail with its .cf
#   sm_send ARGS...     tests/lib/send.py to the private sendmail
#   sm_qid_of TEXT      the queue ID in "250 2.0.0 ID Message accepted"
#   sm_held ID          ID is quarantined (hfID, no qfID)
#   sm_queued ID        ID has a control file (qf or hf)
#   sm_field ID NAME    field NAME of the Redis record sm.lab.test:ID
#
# Sendmail never sees /etc/mail or /var/spool/mqueue: every file its .cf
# names is below $SB/sm.  It logs only to syslog, which the sandbox has
# not, so a failing test prints the queue (sendmail -bp) instead.  Every
# process started here is stopped by PID from the EXIT trap.

SM_ROOT=${OPENETRN_SENDMAIL:-/opt/openetrn-sendmail}
SM_BIN=$SM_ROOT/usr/libexec/sendmail/sendmail
SM_CFDIR=$SM_ROOT/usr/share/sendmail/cf
SM_HOST=sm.lab.test
SM_PIDS=
SM_DIR=

# Unpack Sendmail when it is not there; skip when that is impossible.
sm_require() {
	if [ ! -x "$SM_BIN" ] || [ ! -d "$SM_CFDIR" ]; then
		sh "$SB_SRCDIR/contrib/sendmail/unpack-sendmail" "$SM_ROOT" >&2 ||
		    skip "Sendmail cannot be unpacked into $SM_ROOT"
	fi
	command -v m4 >/dev/null 2>&1 || skip "m4 not installed"
	command -v unshare >/dev/null 2>&1 || fail "unshare not found"
}

# A command prefix: run with the host name $SM_HOST in a UTS namespace of
# its own (Sendmail waits a minute at every start when the host name has no
# dot); the command keeps the PID (exec).  setsid: a session of its own,
# so that nothing the daemons signal reaches the test's process group.
# shellcheck disable=SC2016
SM_UTS=(setsid -w unshare -u /bin/sh -c 'hostname "$0" && exec "$@"' "$SM_HOST")

# The private sendmail with its .cf.
sm_run() {
	"${SM_UTS[@]}" "$SM_BIN" -C "$SM_DIR/etc/sendmail.cf" "$@"
}

# send.py to the private sendmail.
sm_send() {
	python3 "$SB_SRCDIR/tests/lib/send.py" --port "$SM_PORT" "$@"
}

# Print the queue ID of a "250 2.0.0 ID Message accepted" reply.
sm_qid_of() {
	printf '%s\n' "$1" |
	    sed -n 's/.*250 2\.0\.0 \([A-Za-z0-9]*\) Message accepted.*/\1/p'
}

# Succeed when queue ID $1 is quarantined.
sm_held() {
	[ -f "$SM_DIR/spool/hf$1" ] && [ ! -e "$SM_DIR/spool/qf$1" ]
}

# Succeed when queue ID $1 is in the queue at all.
sm_queued() {
	[ -e "$SM_DIR/spool/hf$1" ] || [ -e "$SM_DIR/spool/qf$1" ]
}

# Print field $2 of the record of queue ID $1.
sm_field() {
	sb_redis HGET "etrn:msg:$SM_HOST:$1" "$2"
}

# Print the .mc lines that keep a Sendmail private to directory $1 (every
# file its .cf names below $1, loopback only, no DNS, short timeouts) and
# set nothing else: no FEATURE, no PrivacyOptions.
sm_private_defs() {
	local d=$1
	cat <<MC
define(\`confDOMAIN_NAME', \`$SM_HOST')dnl
define(\`QUEUE_DIR', \`$d/spool')dnl
define(\`confPID_FILE', \`$d/run/sendmail.pid')dnl
define(\`ALIAS_FILE', \`$d/etc/aliases')dnl
define(\`HELP_FILE', \`$d/etc/helpfile')dnl
define(\`STATUS_FILE', \`$d/etc/statistics')dnl
define(\`confCW_FILE', \`-o $d/etc/local-host-names')dnl
define(\`confCT_FILE', \`-o $d/etc/trusted-users')dnl
define(\`confHOST_STATUS_DIRECTORY', \`')dnl
define(\`confSERVICE_SWITCH_FILE', \`$d/etc/service.switch')dnl
define(\`confHOSTS_FILE', \`$d/etc/hosts')dnl
define(\`confDONT_PROBE_INTERFACES', \`true')dnl
define(\`confBIND_OPTS', \`-DNSRCH -DEFNAMES')dnl
define(\`confTO_CONNECT', \`5s')dnl
define(\`confTO_ICONNECT', \`5s')dnl
define(\`confDONT_BLAME_SENDMAIL', \`TrustStickyBit')dnl
MC
}

# Create the files the private definitions of directory $1 name.
sm_private_files() {
	local d=$1
	: >"$d/etc/aliases"
	: >"$d/etc/local-host-names"
	: >"$d/etc/trusted-users"
	: >"$d/etc/helpfile"
	: >"$d/etc/statistics"
	printf 'hosts\tfiles\naliases\tfiles\n' >"$d/etc/service.switch"
	printf '127.0.0.1\tlocalhost %s\n' "$SM_HOST" >"$d/etc/hosts"
}

# Write the .mc and build sendmail.cf with m4.  Its PrivacyOptions are a
# site's own, without noetrn: openetrn.m4 adds it.
sm_write_cf() {
	local d=$SM_DIR
	{
		cat <<MC
divert(-1)
# Written by tests/lab/sendmail-lab.sh: a private Sendmail for tests.
divert(0)dnl
VERSIONID(\`openetrn test lab')dnl
OSTYPE(\`linux')dnl
MC
		sm_private_defs "$d"
		cat <<MC
define(\`confTO_QUEUERETURN', \`10d')dnl
define(\`confPRIVACY_FLAGS', \`authwarnings,noexpn,novrfy')dnl
define(\`SMART_HOST', \`relay:[127.0.0.1]')dnl
define(\`RELAY_MAILER_ARGS', \`TCP \$h $SINK_PORT')dnl
define(\`ESMTP_MAILER_ARGS', \`TCP \$h $CUSTOMER_PORT')dnl
define(\`OPENETRN_MILTER_SOCKET', \`unix:$d/run/milter.sock')dnl
FEATURE(\`no_default_msa')dnl
FEATURE(\`nocanonify')dnl
FEATURE(\`accept_unresolvable_domains')dnl
FEATURE(\`accept_unqualified_senders')dnl
FEATURE(\`promiscuous_relay')dnl
DAEMON_OPTIONS(\`Family=inet, Addr=127.0.0.1, Port=$SM_PORT, Name=MTA')dnl
DAEMON_OPTIONS(\`Family=inet, Addr=127.0.0.1, Port=$SM_REINJECT_PORT, Name=reinject')dnl
DAEMON_OPTIONS(\`Family=inet, Addr=127.0.0.1, Port=$SM_DSN_PORT, Name=openetrn-dsn')dnl
include(\`$SB_SRCDIR/contrib/sendmail/openetrn.m4')dnl
MAILER(\`local')dnl
MAILER(\`smtp')dnl
LOCAL_NET_CONFIG
MC
	} >"$d/etc/sendmail.mc"
	# Dial-up domains go to the customer sink (esmtp), the rest to the
	# internet sink (relay, the smart host).  Rules need tabs.
	local dom
	# shellcheck disable=SC2016
	for dom in dialup.test dialup2.test; do
		printf 'R$* < @ %s . > $*\t$#esmtp $@ [127.0.0.1] $: $1 < @ %s . > $2\n' \
		    "$dom" "$dom" >>"$d/etc/sendmail.mc"
		printf 'R$* < @ $* . %s . > $*\t$#esmtp $@ [127.0.0.1] $: $1 < @ $2 . %s . > $3\n' \
		    "$dom" "$dom" >>"$d/etc/sendmail.mc"
	done
	sm_private_files "$d"
	m4 -D_CF_DIR_="$SM_CFDIR/" "$SM_CFDIR/m4/cf.m4" "$d/etc/sendmail.mc" \
	    >"$d/etc/sendmail.cf" || fail "m4 could not build sendmail.cf"
	grep -q "^O QueueDirectory=$d/spool\$" "$d/etc/sendmail.cf" ||
	    fail "sendmail.cf has no QueueDirectory=$d/spool"
	grep -q "^Xetrn-milter, S=unix:$d/run/milter.sock" "$d/etc/sendmail.cf" ||
	    fail "sendmail.cf has no etrn-milter"
}

# Write the openetrn.conf of the Sendmail side.
sm_write_conf() {
	cat >"$SM_CONF" <<CONF
hostname = $SM_HOST
redis_server = unix:$REDIS_SOCK
redis_timeout = 1s
milter_socket = unix:$SM_DIR/run/milter.sock
milter_socket_group = root
milter_socket_mode = 0660
reinject_server = inet:127.0.0.1:$SM_REINJECT_PORT
tmp_directory = $SM_DIR/tmp
domain_refresh = 1s
hold_time = 5d
warn_time = 4h
user = openetrn
hold_secret_file = $SM_DIR/run/hold.secret
mta = sendmail
sendmail_command = $SM_BIN
sendmail_config_file = $SM_DIR/etc/sendmail.cf
verbose = yes
etrnd_listen = inet:127.0.0.1:$ETRND_PORT
etrn_allow = 127.0.0.0/8
queue_run_interval = 500ms
flush_lock_time = 1s
dsn_server = inet:127.0.0.1:$SM_DSN_PORT
dsn_daemon_name = openetrn-dsn
CONF
	if [ -n "${SM_EXTRA_CONF:-}" ]; then
		printf '%s\n' "$SM_EXTRA_CONF" >>"$SM_CONF"
	fi
}

# Start "$@" in the background with output to log $1; its PID goes to
# SM_LAST_PID and to the list sm_stop works through.
sm_spawn() {
	local log=$1
	shift
	"$@" </dev/null >>"$log" 2>&1 &
	SM_LAST_PID=$!
	SM_PIDS="$SM_LAST_PID $SM_PIDS"
}

# Stop what sm_start started, by PID, newest first.
sm_stop() {
	local pid
	for pid in $SM_PIDS; do
		stop_pid "$pid" 15
	done
	SM_PIDS=
}

# EXIT trap: on failure print the queue and logs; stop by PID; then the
# sandbox's own cleanup (which keeps the exit status).
sm_cleanup() {
	local rc=$?
	set +e
	trap '' TERM INT
	if [ "$rc" -ne 0 ] && [ "$rc" -ne 77 ] && [ -n "$SM_DIR" ]; then
		echo "---- sendmail queue ($SM_DIR/spool) ----" >&2
		ls -l "$SM_DIR/spool" >&2 || true
		sm_run -bp -qQ >&2 2>&1 || true
		sm_run -bp >&2 2>&1 || true
		sb_log_tail "$SM_DIR/log/sendmail.log" 30
		sb_log_tail "$SM_DIR/log/etrn-milter.log" 40
		sb_log_tail "$SM_DIR/log/etrnd.log" 60
	fi
	sm_stop
	(exit "$rc")
	sb_cleanup
}

# Succeed when something listens on 127.0.0.1:$1.
sm_listening() {
	[ -n "$(ss -Hltn "src 127.0.0.1 and sport = :$1" 2>/dev/null)" ]
}

# Start etrn-milter, Sendmail and etrnd.
sm_start() {
	SM_DIR=$SB/sm
	SM_CONF=$SM_DIR/etc/openetrn.conf
	SM_PORT=$((SMTP_PORT + 7))
	SM_REINJECT_PORT=$((SMTP_PORT + 8))
	SM_DSN_PORT=$((SMTP_PORT + 9))
	local p
	for p in "$SM_PORT" "$SM_REINJECT_PORT" "$SM_DSN_PORT" "$ETRND_PORT"; do
		! sm_listening "$p" || fail "port $p is in use"
	done
	mkdir -p "$SM_DIR/etc" "$SM_DIR/spool" "$SM_DIR/run" "$SM_DIR/log" \
	    "$SM_DIR/tmp"
	chmod 700 "$SM_DIR/spool"
	if ! getent passwd openetrn >/dev/null; then
		useradd --system --no-create-home --shell /usr/sbin/nologin \
		    openetrn || fail "cannot create user openetrn"
	fi
	# run/ stays root's: root creates the milter socket there (and
	# refuses a directory openetrn could write); tmp/ is the milter's.
	chmod 755 "$SM_DIR/run"
	chown openetrn "$SM_DIR/tmp"
	[ -s "$SM_DIR/run/hold.secret" ] ||
	    (umask 077 && head -c 32 /dev/urandom >"$SM_DIR/run/hold.secret") ||
	    fail "cannot write $SM_DIR/run/hold.secret"
	sm_write_cf
	sm_write_conf
	trap sm_cleanup EXIT

	sm_spawn "$SM_DIR/log/etrn-milter.log" \
	    "$OPENETRN_BUILDDIR/etrn-milter" -f -c "$SM_CONF"
	wait_for 20 test -S "$SM_DIR/run/milter.sock" ||
	    fail "etrn-milter did not start"
	sm_spawn "$SM_DIR/log/sendmail.log" "${SM_UTS[@]}" "$SM_BIN" \
	    -C "$SM_DIR/etc/sendmail.cf" -bD -q1m
	wait_for 30 sm_listening "$SM_PORT" ||
	    fail "sendmail did not listen on $SM_PORT"
	sm_etrnd_start
}

# Start etrnd (mta = sendmail); its PID in SM_ETRND_PID.
sm_etrnd_start() {
	sm_spawn "$SM_DIR/log/etrnd.log" "${SM_UTS[@]}" \
	    "$OPENETRN_BUILDDIR/etrnd/etrnd" -f -c "$SM_CONF"
	SM_ETRND_PID=$SM_LAST_PID
	wait_for 20 sm_listening "$ETRND_PORT" || fail "etrnd did not start"
}

# Stop etrnd (SIGTERM, by PID) and wait until its listener is gone.
sm_etrnd_stop() {
	kill -TERM "$SM_ETRND_PID" 2>/dev/null || true
	wait "$SM_ETRND_PID" 2>/dev/null || true
	SM_PIDS=$(printf '%s\n' $SM_PIDS | grep -vx "$SM_ETRND_PID" | tr '\n' ' ')
	wait_for 10 eval '! sm_listening "$ETRND_PORT"' ||
	    fail "etrnd still listens"
}
