#!/bin/bash
# pflab.sh - a minimal private Postfix on 127.0.0.1 for the smtpc tests and
# the DSN release measurements (docs/dsn-release.md).
#
#   pflab.sh start DIR SMTP_PORT HOLD_PORT SINK_PORT
#   pflab.sh stop DIR
#
# DIR gets etc/ (main.cf, master.cf, maps), spool/, data/ and maillog.
# SMTP_PORT is an smtpd that refuses RCPT TO:<rej@dialup.test> (554),
# defers <tmp@dialup.test> (450), refuses DATA from <nodata@lab.test>
# (554) and the text of a message with "Subject: reject-me" (550); the
# rest it queues.  HOLD_PORT is an smtpd whose messages go to the hold
# queue, as etrnd's dsn_server.  Mail leaves by SMTP to the sink at
# 127.0.0.1:SINK_PORT (smtp-sink), at most 20 deliveries at a time.
# Needs root (Postfix's own users, postfix and postdrop, must exist).
set -u

# Write DIR's configuration.
pflab_conf() {
	local dir=$1 smtp=$2 hold=$3 sink=$4
	mkdir -p "$dir/etc" "$dir/spool" "$dir/data"
	chown postfix "$dir/data"
	cat >"$dir/etc/main.cf" <<EOC
compatibility_level = 3.6
queue_directory = $dir/spool
data_directory = $dir/data
maillog_file = $dir/maillog
maillog_file_prefixes = $dir
myhostname = pflab.lab.test
mydestination =
local_recipient_maps =
alias_maps =
alias_database =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
relay_domains = dialup.test
relayhost = [127.0.0.1]:$sink
smtp_dns_support_level = disabled
smtp_bind_address = 127.0.0.1
default_destination_concurrency_limit = 20
smtpd_recipient_restrictions = check_recipient_access
    texthash:$dir/etc/rcpt, permit_mynetworks, reject
smtpd_data_restrictions = check_sender_access texthash:$dir/etc/sender
header_checks = regexp:$dir/etc/header_checks
queue_run_delay = 300s
minimal_backoff_time = 300s
maximal_backoff_time = 600s
EOC
	printf 'rej@dialup.test REJECT\ntmp@dialup.test 450 4.2.0 later\n' \
	    >"$dir/etc/rcpt"
	printf 'nodata@lab.test REJECT\n' >"$dir/etc/sender"
	printf '/^Subject: reject-me/ REJECT\n' >"$dir/etc/header_checks"
	sed -e '/^smtp *inet/d' -e '/^#/d' /etc/postfix/master.cf \
	    >"$dir/etc/master.cf"
	cat >>"$dir/etc/master.cf" <<EOC
127.0.0.1:$smtp inet n - n - - smtpd
127.0.0.1:$hold inet n - n - - smtpd
  -o syslog_name=postfix/hold
  -o smtpd_client_restrictions=check_client_access,static:HOLD
EOC
	grep -q '^postlog' "$dir/etc/master.cf" ||
	    echo 'postlog unix-dgram n - n - 1 postlogd' \
	    >>"$dir/etc/master.cf"
}

# Start DIR's Postfix and wait until SMTP_PORT answers.
pflab_start() {
	local dir=$1 smtp=$2
	pflab_conf "$@"
	postfix -c "$dir/etc" start >"$dir/start.log" 2>&1 || {
		cat "$dir/start.log" >&2
		return 1
	}
	for _ in $(seq 50); do
		(exec 3<>"/dev/tcp/127.0.0.1/$smtp") 2>/dev/null && return 0
		sleep 0.1
	done
	echo "pflab: postfix in $dir does not answer on $smtp" >&2
	return 1
}

# Stop DIR's Postfix.
pflab_stop() {
	postfix -c "$1/etc" stop >/dev/null 2>&1 || true
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	case ${1:-} in
	start) shift; pflab_start "$@" ;;
	stop) shift; pflab_stop "$@" ;;
	*) echo "usage: $0 start DIR SMTP HOLD SINK | stop DIR" >&2; exit 2 ;;
	esac
fi
