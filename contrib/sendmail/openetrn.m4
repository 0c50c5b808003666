dnl
dnl openetrn.m4 - what a sendmail.mc needs for openetrn: etrn-milter as a
dnl mail filter, the macros it reads, and ETRN refused by Sendmail itself.
dnl
dnl Add to sendmail.mc, after OSTYPE and the FEATUREs, before the MAILER
dnl lines (copy this file to /etc/mail, or copy its lines):
dnl
dnl 	define(`OPENETRN_MILTER_SOCKET', `unix:/run/openetrn/milter.sock')dnl
dnl 	include(`/etc/mail/openetrn.m4')dnl
dnl
dnl then rebuild sendmail.cf (m4 .../cf/m4/cf.m4 sendmail.mc > sendmail.cf,
dnl or sendmailconfig on Debian) and restart Sendmail.  The socket must be
dnl etrn-milter's milter_socket (openetrn.conf: milter_socket =
dnl unix:/run/openetrn/milter.sock), reachable by the user Sendmail talks
dnl to its filters as: root, unless confRUN_AS_USER is set
dnl (docs/sendmail.md).
dnl
dnl F=T: when etrn-milter cannot be reached, Sendmail answers 4xx, so no
dnl mail for a dial-up domain gets past unheld.  The timeouts are above
dnl etrn-milter's redis_timeout and reinject_timeout.
dnl
dnl Macros: etrn-milter takes the queue ID from {i} at end of message.
dnl Sendmail's defaults send i with MAIL FROM and libmilter keeps it to the
dnl end; the lists below name it with RCPT and end of message too, so that
dnl it stays there when another filter's lists are merged in.  If the .mc
dnl already sets these lists, add the macros to them rather than using two
dnl definitions.
dnl
dnl DSNs: etrnd submits them to a loopback port of their own, where
dnl etrn-milter holds everything (openetrn.conf: dsn_server and
dnl dsn_daemon_name = openetrn-dsn).  It is not defined here, because a
dnl .mc with one DAEMON_OPTIONS line loses Sendmail's default daemon; add
dnl both to the .mc (docs/sendmail.md):
dnl 	DAEMON_OPTIONS(`Port=smtp, Name=MTA')dnl
dnl 	DAEMON_OPTIONS(`Family=inet, Addr=127.0.0.1, Port=10027, Name=openetrn-dsn')dnl
dnl
dnl PrivacyOptions noetrn: Sendmail's own ETRN never releases quarantined
dnl mail; customers send ETRN to etrnd's listener (docs/sendmail.md).
dnl noetrn is added to the flags defined so far (cf/m4/cfhead.m4 always
dnl defines confPRIVACY_FLAGS, as authwarnings, before the .mc is read;
dnl proto.m4 writes it as PrivacyOptions at the end), unless they have it
dnl already; so a .mc that defines confPRIVACY_FLAGS must do so before
dnl this file is included.
dnl
ifdef(`OPENETRN_MILTER_SOCKET', `',
    `define(`OPENETRN_MILTER_SOCKET', `unix:/run/openetrn/milter.sock')')dnl
INPUT_MAIL_FILTER(`etrn-milter', `S='OPENETRN_MILTER_SOCKET`, F=T, T=C:10s;S:30s;R:30s;E:5m')dnl
define(`confMILTER_MACROS_CONNECT', `j, _, {daemon_name}, {if_name}, {if_addr}, {client_addr}')dnl
define(`confMILTER_MACROS_ENVFROM', `i, {auth_type}, {auth_authen}, {auth_ssf}, {auth_author}, {mail_mailer}, {mail_host}, {mail_addr}')dnl
define(`confMILTER_MACROS_ENVRCPT', `i, {rcpt_mailer}, {rcpt_host}, {rcpt_addr}')dnl
define(`confMILTER_MACROS_EOM', `i, {msg_id}')dnl
ifelse(defn(`confPRIVACY_FLAGS'), `',
    `define(`confPRIVACY_FLAGS', `noetrn')',
    index(`,'defn(`confPRIVACY_FLAGS')`,', `,noetrn,'), `-1',
    `define(`confPRIVACY_FLAGS', defn(`confPRIVACY_FLAGS')`,noetrn')')dnl
