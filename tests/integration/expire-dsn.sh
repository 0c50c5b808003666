# shellcheck shell=bash
# tests/integration/expire-dsn.sh - what the DSN tests t-expire-7bit and
# t-expire-8bit share; source it after tests/lib/common.sh.
#
#   dsn_is N             the internet sink got N DSNs (dsns, common.sh)
#   dsn_of SENDER        the sink file of the DSN to SENDER
#   send_four            hold dialup2.test for 6 s and send it four
#                        messages, all held: 7-bit (RET=FULL), 8-bit body
#                        (RET=FULL), UTF-8 headers (RET=HDRS), from a
#                        UTF-8 sender (RET=FULL)
#   dsn_mails            the MAIL FROM:<> parameters the DSN smtpd logged,
#                        counted: "N PARAMS" lines, sorted


dsn_of() {
	local f
	for f in $(dsns); do
		if grep -q -m1 "^To: $1\$" "$f"; then
			echo "$f"
			return 0
		fi
	done
	fail "no DSN to $1"
}

send_four() {
	sb_redis HSET etrn:domain:dialup2.test hold_time 6 warn_time 0 >/dev/null
	sleep 2		# domain_refresh = 1s
	send --from plain@example.org --mail-opt RET=FULL --to v1@dialup2.test \
	    --header 'Subject: seven bit' --body $'plain body\n' >/dev/null ||
	    fail "send plain"
	send --from eight@example.org --mail-opt RET=FULL --mail-opt BODY=8BITMIME \
	    --to v2@dialup2.test --header 'Subject: eight bit body' \
	    --header 'MIME-Version: 1.0' \
	    --header 'Content-Type: text/plain; charset=utf-8' \
	    --header 'Content-Transfer-Encoding: 8bit' \
	    --body $'Gr\u00fc\u00dfe aus K\u00f6ln\n' >/dev/null || fail "send 8bit"
	send --smtputf8 --from hdrs@example.org --mail-opt RET=HDRS \
	    --mail-opt BODY=8BITMIME --to v3@dialup2.test \
	    --header $'Subject: Gr\u00fc\u00dfe' >/dev/null || fail "send utf8 hdrs"
	send --smtputf8 --from $'j\u00f6rg@example.org' --mail-opt RET=FULL \
	    --mail-opt BODY=8BITMIME --to v4@dialup2.test \
	    --header $'From: J\u00f6rg <j\u00f6rg@example.org>' \
	    --header 'Subject: utf8 sender' >/dev/null || fail "send utf8 sender"
	wait_for 5 hold_is 4 || fail "not held: $(sb_queue_count hold)"
}

dsn_mails() {
	grep -a 'postfix/openetrn-dsn/smtpd.*< localhost\[127.0.0.1\]: MAIL FROM:<>' "$PF_LOG" |
	    sed 's/.*MAIL FROM:<>//' | sort | uniq -c | sed 's/^ *//'
}
