#!/bin/bash
# t-deploy - openetrn deployed on this machine's own Postfix, in Debian's
# stock layout, from the Debian package and README.md alone: the package
# built and installed with the commands of README.md's marked block
# ("Installing from the Debian package": `make distdir` into a temporary
# directory, dpkg-buildpackage there, apt-get install of the .deb; the
# first line, install-deps and configure, is the build tree's already),
# or, where the package cannot be built (dpkg-buildpackage, dh or dpkg
# missing, or its build dependencies), "make install".  The package's
# scripts start no daemon (no systemd here; the units stay disabled).
# main.cf from /usr/share/postfix/main.cf.debian, master.cf as packaged
# (smtpd chroot y), loopback only, all mail routed to smtp-sinks on
# 127.0.0.1; the Postfix lines and the start of the daemons (pid files
# in openetrn.conf, then etrn-milter, etrnd, etrn-policy from the
# installed sbin directory) taken from README.md's marked blocks, not
# retyped.  Then: messages for dial-up domains are held
# (postqueue -j), also the copy of a split message that went through the
# re-injection smtpd (chroot n; the public one is chroot y), redis-cli
# counts them, fetchmail's ETRN to etrnd gets the 253 count and the mail
# reaches the customer's sink; ETRN sent to
# Postfix's smtpd is answered through etrn-policy (250, and 459 for a
# domain that is not a dial-up domain) and releases its domain's mail; a
# message for a domain with a 60 s hold_time expires and its sender gets
# the DSN; and with an absolute smtpd_milters path instead of the relative
# one, the chrooted smtpd refuses every client (451 4.7.1), and with an
# absolute policy socket path every ETRN (451 4.3.5).  Afterwards
# everything is stopped by PID, "dpkg --purge openetrn" (or "make
# uninstall") runs, the account is removed if the test's installation
# made it (a purge keeps it), and /etc/postfix, the spool, the
# configuration directory, the run directory, dpkg's status of openetrn,
# the programs, units, tmpfiles.d and sysusers.d files and the user are
# restored and compared with a listing taken before; this also runs
# when a check fails half way (EXIT trap).
#
# Skipped (77), saying why: not root; a sanitizer build (it installs and
# uses the system's Postfix: once is enough); the system Postfix running
# or configured (/etc/postfix/main.cf not written by this test): the
# machine is for something else; openetrn known to dpkg, or its files
# already in place; a port it needs (25, 1985, 10026, 10027) in use;
# tools missing.  Tests that use the system's Postfix serialize on
# flock(/var/spool); everything here that changes the machine, dpkg
# included, runs under that lock.
set -eu
top=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
bdir=${OPENETRN_BUILDDIR:-${top_builddir:-$top}}
. "$top/tests/lib/standalone.sh"
. "$top/tests/lib/deb.sh"
npass=0 nfail=0
redis_cli=redis-cli
# A failed check ends the run (the EXIT trap restores the machine).
fail() {
	nfail=$((nfail + 1))
	echo "FAIL: $*"
	exit 1
}
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
MARK="# Written by openetrn's tests/deploy/t-deploy.sh (restored after)."
started=$(date +%s)

# --- may this machine be used? ---------------------------------------------

[ "$(id -u)" = 0 ] || skip "needs root (it installs and runs the system Postfix)"
for b in etrn-milter etrnd/etrnd policy/etrn-policy; do
	[ -x "$bdir/$b" ] || die "$bdir/$b not built"
	if nm "$bdir/$b" 2>/dev/null | grep -q '__asan_init\|__ubsan_handle'
	then
		skip "sanitizer build: the deployment runs once, in the plain build"
	fi
done
for t in postfix postconf postqueue smtp-sink swaks fetchmail redis-server \
    redis-cli python3 useradd userdel groupdel tar; do
	command -v "$t" >/dev/null || skip "$t not installed"
done
[ -f /usr/share/postfix/main.cf.debian ] &&
    [ -f /usr/share/postfix/master.cf.dist ] ||
    skip "Debian's stock Postfix files (/usr/share/postfix) missing"

T=$(mktemp -d "${TMPDIR:-/tmp}/oe-deploy.XXXXXX")
chmod 755 "$T"
trap 'set +e; rm -rf "$T"' EXIT	# until the machine is changed

# --- the package where it can be built, else "make install" ------------------

# Built before the lock: the build changes nothing outside $T.  The
# commands are README.md's: its block's build line and install command.
how="make"
if missing=$(deb_tools) && [ -n "$missing" ]; then
	echo "package tools missing: make install ($missing not installed)"
else
	pkg_block=$(readme_block "install: package")
	build_cmd=$(sed -n 's/^(cd [^ ]* && \(.*dpkg-buildpackage .*\))$/\1/p' \
	    <<<"$pkg_block")
	install_cmd=$(sed -n 's/^\(apt-get install\|dpkg -i\) [^ ]*\.deb$/\1/p' \
	    <<<"$pkg_block")
	grep -q '^mkdir -p [^ ]* && make distdir distdir=' <<<"$pkg_block" &&
	    [ -n "$build_cmd" ] && [ -n "$install_cmd" ] ||
	    die "README.md's <!-- install: package --> block lacks the" \
	    "make distdir, (cd ... && ... dpkg-buildpackage ...) or" \
	    "apt-get install / dpkg -i line"
	mkdir "$T/pkg"
	deb_distdir "$bdir" "$T/pkg"
	if ! out=$(deb_builddeps); then
		echo "package build dependencies missing: make install ($out)"
	else
		s0=$(date +%s)
		if ! deb_build "$build_cmd"; then
			tail -n 40 "$T/pkg/build.log"
			die "$build_cmd failed or made no .deb: $(ls "$T/pkg")"
		fi
		how=deb
		pass "the package built as README.md says ($build_cmd):" \
		    "${deb##*/}, $(($(date +%s) - s0)) s"
	fi
fi

# One test at a time on the system's Postfix: others that install on this
# host may take the same lock (flock on /var/spool, read-only, root's).
# The daemons started below do not inherit it (9<&-).
exec 9</var/spool
flock -w 900 9 || skip "another test on the system's Postfix holds /var/spool's lock"
if dpkg -s openetrn >/dev/null 2>&1; then
	skip "openetrn is installed as a package already (dpkg -s openetrn:" \
	    "$(dpkg-query -W -f='${db:Status-Abbrev}' openetrn))"
fi
if [ -s /etc/postfix/main.cf ] &&
    [ "$(head -n 1 /etc/postfix/main.cf)" != "$MARK" ]; then
	skip "/etc/postfix/main.cf exists: this machine's Postfix is configured" \
	    "for something else"
fi
if postfix status >/dev/null 2>&1 ||
    { [ -s /var/spool/postfix/pid/master.pid ] &&
    kill -0 "$(tr -d ' ' </var/spool/postfix/pid/master.pid)" 2>/dev/null; }
then
	skip "the system Postfix is running"
fi
for p in 25 1985 10026 10027; do
	[ -z "$(ss -Hltn "sport = :$p" 2>/dev/null)" ] ||
	    skip "port $p is in use"
done

# bmake ARGS... - make in the build tree, not as a part of "make check"'s
# make (its flags would print directories and share its job server)
bmake() {
	env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u MAKEOVERRIDES \
	    make -s --no-print-directory -C "$bdir" "$@"
}
# make_var NAME - a variable of the build's Makefile (prefix, sysconfdir...)
make_var() {
	printf 'print-var:\n\t@echo $(%s)\n' "$1" |
	    bmake -f Makefile -f - print-var
}
if [ "$how" = deb ]; then
	sbindir=/usr/sbin
	confdir=/etc/openetrn
else
	sbindir=$(make_var sbindir)
	confdir=$(make_var sysconfdir)/openetrn
fi
# What is removed and restored by these paths must be what is meant.
for v in "$sbindir" "$confdir"; do
	case $v in
	/*/* | /*) [ "$v" = "${v//[[:space:]]/}" ] || die "bad path \"$v\"" ;;
	*) die "bad path \"$v\" from the Makefile" ;;
	esac
done
conf=$confdir/openetrn.conf
rundir=/run/openetrn
sockdir=/var/spool/postfix/openetrn

# The files the package or "make install" puts in place: none may be
# there already; and the directories they make, which a purge or "make
# uninstall" may leave.
if [ "$how" = deb ]; then
	dpkg-deb -c "$deb" >"$T/contents" || die "dpkg-deb -c $deb failed"
	installed=$(awk '$1 !~ /^d/ { sub(/^\./, "", $6); print $6 }' \
	    "$T/contents" | sort)
	inst_dirs=$(awk '$1 ~ /^d/ { sub(/^\./, "", $6); sub(/\/$/, "", $6)
	    if ($6 != "") print $6 }' "$T/contents" | sort -r)
else
	bmake install DESTDIR="$T/probe" >/dev/null 2>&1 ||
	    { rm -rf "$T"; die "make install DESTDIR=... failed"; }
	installed=$(cd "$T/probe" && find . ! -type d | sed 's/^\.//' | sort)
	inst_dirs=$(cd "$T/probe" && find . -mindepth 1 -type d |
	    sed 's/^\.//' | sort -r)
	rm -rf "$T/probe"
fi
new_dirs=
for d in $inst_dirs; do
	[ -e "$d" ] || new_dirs="$new_dirs $d"
done
for f in $installed; do
	if [ -e "$f" ]; then
		rm -rf "$T"
		skip "$f exists: openetrn is installed here already"
	fi
done

# --- before: a listing to compare with, and the backups ----------------------

# snapshot - what this test may change, as text: owners, modes, sizes,
# contents (not times) of /etc/postfix, the spool, the configuration and
# run directories, the installed files, dpkg's status of openetrn and its
# statoverride, the programs, units, tmpfiles.d and sysusers.d files and
# the units' enablement state, the user and group
snapshot() {
	local d f
	for d in /etc/postfix /var/spool/postfix "$confdir" /etc/openetrn \
	    "$rundir" /etc/aliases /etc/aliases.db /etc/mailname; do
		[ -e "$d" ] || { echo "absent $d"; continue; }
		find "$d" -printf '%p %M %u %g %s %l\n' | sort
		find "$d" -type f -exec md5sum {} + | sort -k 2
	done
	for f in $installed $inst_dirs /usr/sbin/etrn* /usr/local/sbin/etrn* \
	    /lib/systemd/system/etrn* /usr/lib/tmpfiles.d/openetrn* \
	    /usr/lib/sysusers.d/openetrn* /etc/systemd/system/*/etrn* \
	    /var/lib/systemd/deb-systemd-helper-*/*etrn* \
	    /var/lib/systemd/deb-systemd-helper-*/*/etrn* \
	    /var/lib/dpkg/info/openetrn.*; do
		if [ -e "$f" ] || [ -L "$f" ]; then
			echo "present $f"
		fi
	done
	echo "dpkg: openetrn $(dpkg-query -W -f='${db:Status-Status}' \
	    openetrn 2>/dev/null || echo not-installed)"
	grep -h openetrn /var/lib/dpkg/statoverride 2>/dev/null || true
	echo "passwd: $(getent passwd openetrn || true)"
	echo "group: $(getent group openetrn || true)"
	echo "postfix group: $(getent group postfix || true)"
}

snapshot >"$T/before"
mkdir "$T/backup"
tar -C /etc --numeric-owner -cpf "$T/backup/etc-postfix.tar" postfix
tar -C /var/spool --numeric-owner -cpf "$T/backup/spool.tar" postfix
had_conf=0
if [ -e "$confdir" ]; then
	had_conf=1
	tar -C "$(dirname "$confdir")" --numeric-owner \
	    -cpf "$T/backup/confdir.tar" openetrn
fi
had_rundir=0
[ -e "$rundir" ] && had_rundir=1
for f in /etc/aliases /etc/aliases.db /etc/mailname; do
	[ -e "$f" ] && cp -p "$f" "$T/backup/${f##*/}"
done
had_user=$(getent passwd openetrn || true)
had_group=$(getent group openetrn || true)
installed_by_us=0
pf_pid= redis_pid= sink_net_pid= sink_cust_pid=

# stop_pidfile FILE - stop the daemon whose PID FILE holds
stop_pidfile() {
	local pid
	[ -s "$1" ] || return 0
	read -r pid <"$1" || return 0
	case $pid in '' | *[!0-9]*) return 0 ;; esac
	stop_pid "$pid"
}

# stop_postfix - "postfix stop", then wait for the master and every
# Postfix process working in the spool
stop_postfix() {
	local i d strays
	postfix stop >/dev/null 2>&1 || true
	for ((i = 0; i < 150; i++)); do
		strays=
		for d in /proc/[0-9]*; do
			case $(readlink "$d/cwd" 2>/dev/null) in
			/var/spool/postfix | /var/spool/postfix/*)
				strays="$strays ${d#/proc/}" ;;
			esac
		done
		[ -z "$strays" ] && return 0
		sleep 0.1
	done
	for d in $strays; do
		echo "killing Postfix process $d left in the spool" >&2
		kill -KILL "$d" 2>/dev/null || true
	done
	sleep 0.5
}

# restore - put back what the backups hold; whatever failed before
restore() {
	if [ -s "$T/backup/spool.tar" ]; then
		rm -rf /var/spool/postfix
		tar -C /var/spool --numeric-owner -xpf "$T/backup/spool.tar"
	fi
	if [ -s "$T/backup/etc-postfix.tar" ]; then
		rm -rf /etc/postfix
		tar -C /etc --numeric-owner -xpf "$T/backup/etc-postfix.tar"
	fi
	for f in /etc/aliases /etc/aliases.db /etc/mailname; do
		rm -f "$f"
		[ -e "$T/backup/${f##*/}" ] && cp -p "$T/backup/${f##*/}" "$f"
	done
	rm -rf "$confdir"
	if [ "$had_conf" = 1 ]; then
		tar -C "$(dirname "$confdir")" --numeric-owner \
		    -xpf "$T/backup/confdir.tar"
	fi
	if [ "$had_rundir" = 0 ] && [ -d "$rundir" ]; then
		rm -f "$rundir"/*.pid
		rmdir "$rundir"
	fi
	for d in $new_dirs; do	# deepest first
		[ ! -d "$d" ] || rmdir "$d"
	done
}

# cleanup - the EXIT trap: stop, uninstall, restore, compare
cleanup() {
	local st=$1 f pid
	trap - EXIT
	[ "$st" = 0 ] || [ "$st" = 77 ] || show_logs
	for f in etrn-policy etrnd etrn-milter; do
		stop_pidfile "$rundir/$f.pid"
	done
	stop_postfix
	for pid in $sink_net_pid $sink_cust_pid $redis_pid; do
		stop_pid "$pid"
	done
	[ "$installed_by_us" = 1 ] && uninstall_openetrn
	left=$(sbin_procs)
	if [ -n "$left" ]; then
		echo "FAIL: still running from $sbindir: $left" >&2
		nfail=$((nfail + 1))
		for pid in $left; do
			stop_pid "$pid"
		done
	fi
	restore
	snapshot >"$T/after"
	if ! diff -u "$T/before" "$T/after" >"$T/changed"; then
		echo "FAIL: the machine is not as before:" >&2
		cat "$T/changed" >&2
		nfail=$((nfail + 1))
	else
		echo "PASS: /etc/postfix, the spool, $confdir, $rundir," \
		    "the installed files, dpkg's status of openetrn and the" \
		    "user are as before"
	fi
	echo "t-deploy took $(($(date +%s) - started)) s:" \
	    "$npass passed, $nfail failed"
	rm -rf "$T"
	[ "$nfail" = 0 ] || exit 1
	exit "$st"
}
trap 'rc=$?; set +e; cleanup "$rc"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# show_logs - what Postfix, make and the sinks said, for a failure
show_logs() {
	local f
	for f in "$T/install.log" "$T/maillog" "$T/start.log" "$T/redis.log"; do
		[ -s "$f" ] || continue
		echo "---- last lines of $f ----" >&2
		tail -n 40 "$f" >&2
	done
	postqueue -j 2>/dev/null | head -n 20 >&2
}

# --- install: the package (README's command), else "make install" ----------

# install_openetrn - README's apt-get install (or dpkg -i) of the package,
# without questions and nothing else with it (apt-get's dry run first:
# the package alone, nothing to fetch); or "make install"
install_openetrn() {
	local opts=
	if [ "$how" = make ]; then
		bmake install >"$T/install.log" 2>&1
		return
	fi
	case $install_cmd in
	apt-get*)
		opts="-y --no-install-recommends -o DPkg::Lock::Timeout=120"
		# shellcheck disable=SC2086
		$install_cmd -s $opts "$deb" >"$T/install.log" 2>&1 || return 1
		if [ "$(grep '^Inst ' "$T/install.log" | cut -d ' ' -f 2)" != openetrn ]
		then
			echo "apt-get would install more than openetrn" \
			    >>"$T/install.log"
			return 1
		fi
		;;
	esac
	# shellcheck disable=SC2086 # the command's and the options' words
	DEBIAN_FRONTEND=noninteractive $install_cmd $opts "$deb" \
	    >"$T/install.log" 2>&1
}
# uninstall_openetrn - dpkg --purge, then the account if the package made
# it (a purge keeps it, as Debian wants); or "make uninstall"
uninstall_openetrn() {
	if [ "$how" = make ]; then
		bmake uninstall >>"$T/install.log" 2>&1 && return 0
		nfail=$((nfail + 1))
		echo "FAIL: make uninstall failed" >&2
		return
	fi
	if ! dpkg --purge openetrn >>"$T/install.log" 2>&1; then
		nfail=$((nfail + 1))
		echo "FAIL: dpkg --purge openetrn failed" >&2
	fi
	if [ -z "$had_user" ] && getent passwd openetrn >/dev/null; then
		userdel openetrn >>"$T/install.log" 2>&1
	fi
	if [ -z "$had_group" ] && getent group openetrn >/dev/null; then
		groupdel openetrn >>"$T/install.log" 2>&1
	fi
}
# sbin_procs - the PIDs of processes running a program of $sbindir's
sbin_procs() {
	local d exe
	for d in /proc/[0-9]*; do
		exe=$(readlink "$d/exe" 2>/dev/null) || continue
		case $exe in
		"$sbindir"/etrn*) echo "${d#/proc/}" ;;
		esac
	done
}

installed_by_us=1
if [ "$how" = deb ]; then
	install_openetrn ||
	    die "$install_cmd ${deb##*/} failed: $(tail -n 5 "$T/install.log")"
	[ "$(dpkg-query -W -f='${db:Status-Status}' openetrn)" = installed ] ||
	    fail "dpkg: openetrn is not installed after $install_cmd"
	pass "$install_cmd ${deb##*/} (README.md's command)"
	if ls /etc/systemd/system/*.wants/etrn* >/dev/null 2>&1; then
		fail "the installation enabled units:" \
		    "$(ls /etc/systemd/system/*.wants/etrn*)"
	fi
	[ -z "$(sbin_procs)" ] ||
	    fail "the package's scripts started daemons: $(sbin_procs)"
	pass "the units stay disabled; the package's scripts started no daemon"
else
	install_openetrn || die "make install failed"
	pass "make install"
fi

# owner_mode PATH - "OWNER:GROUP MODE" of PATH, or "missing"
owner_mode() {
	stat -c '%U:%G %a' "$1" 2>/dev/null || echo missing
}
[ "$(owner_mode "$rundir")" = "root:root 755" ] ||
    fail "$rundir is $(owner_mode "$rundir")"
[ "$(owner_mode "$sockdir")" = "root:postfix 750" ] ||
    fail "$sockdir is $(owner_mode "$sockdir")"
[ "$(owner_mode "$conf")" = "root:openetrn 640" ] ||
    fail "$conf is $(owner_mode "$conf")"
[ "$(owner_mode "$confdir/hold.secret")" = "root:openetrn 640" ] &&
    [ "$(stat -c %s "$confdir/hold.secret")" = 32 ] ||
    fail "$confdir/hold.secret is $(owner_mode "$confdir/hold.secret")," \
    "not 32 octets root:openetrn 640"
grep -qx 'user = openetrn' "$conf" || fail "$conf does not set user"
getent passwd openetrn >/dev/null || fail "no user openetrn"
pass "install made $rundir, $sockdir, $conf (user = openetrn)," \
    "the hold secret and the user"

# --- the mail lab around the system Postfix ----------------------------------

net_port=$(free_port)
cust_port=$(free_port)
mkdir -p "$T/sink/internet" "$T/sink/customer" "$T/redis"
chown postfix: "$T/sink/internet" "$T/sink/customer"
smtp-sink -u postfix -4 -c -h internet.sink.test \
    -d "$T/sink/internet/%M%S." "127.0.0.1:$net_port" 64 \
    >"$T/sink-net.log" 2>&1 9<&- &
sink_net_pid=$!
smtp-sink -u postfix -4 -c -h customer.sink.test \
    -d "$T/sink/customer/%M%S." "127.0.0.1:$cust_port" 64 \
    >"$T/sink-cust.log" 2>&1 9<&- &
sink_cust_pid=$!
redis-server --port 0 --unixsocket "$T/redis.sock" --unixsocketperm 777 \
    --save '' --appendonly no --daemonize no --dir "$T/redis" \
    >"$T/redis.log" 2>&1 9<&- &
redis_pid=$!
wait_for 10 redis_up || die "redis-server did not start"

# Debian's stock files, loopback only, all mail to the sinks; then the
# README's lines.
{
	echo "$MARK"
	cat /usr/share/postfix/main.cf.debian
	cat <<EOF

# The test's site: loopback only, every message to a sink on 127.0.0.1.
myhostname = mx.deploy.test
mydomain = deploy.test
myorigin = \$myhostname
mydestination = localhost
inet_interfaces = loopback-only
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
alias_maps =
alias_database =
local_transport = error:5.1.1 no local delivery here
relay_domains = dialup.test, dialup2.test, dialup3.test
transport_maps = inline:{ dialup.test=smtp:[127.0.0.1]:$cust_port,
    dialup2.test=smtp:[127.0.0.1]:$cust_port,
    dialup3.test=smtp:[127.0.0.1]:$cust_port }
relayhost = [127.0.0.1]:$net_port
smtp_bind_address = 127.0.0.1
smtp_dns_support_level = disabled
maillog_file = $T/maillog
maillog_file_prefixes = $T

# README.md, "Postfix configuration":
EOF
	readme_block "postfix: main.cf"
	readme_block "postfix: etrn-policy"
} >/etc/postfix/main.cf
cp /usr/share/postfix/master.cf.dist /etc/postfix/master.cf
readme_block "postfix: master.cf" >>/etc/postfix/master.cf
grep -q '^smtp *inet *n *- *y ' /etc/postfix/master.cf ||
    fail "the packaged master.cf does not run smtpd chrooted"
[ -n "$(postconf -h smtpd_milters)" ] || die "no smtpd_milters from README"

# openetrn.conf: the README's lines, and this site's Redis and clients.
{
	echo "# This site (tests/deploy/t-deploy.sh):"
	echo "redis_server = unix:$T/redis.sock"
	echo "hostname = mx.deploy.test"
	echo "etrn_allow = 127.0.0.0/8"
	echo "# README.md:"
	readme_block "openetrn.conf: postfix"
	readme_block "openetrn.conf: pid files"
} >>"$conf"

# The dial-up domains, before the daemons read them (README's redis-cli).
rcli SADD etrn:domains dialup.test dialup2.test dialup3.test >/dev/null
rcli HSET etrn:domain:dialup2.test hold_time 60 warn_time 0 >/dev/null

# --- start as README.md says for a host without a service manager -------------

starts=$(readme_block "start: without a service manager")
[ -n "$starts" ] || die "README.md has no start block"
while read -r -a cmd; do
	[ "${#cmd[@]}" -gt 0 ] || continue
	"$sbindir/${cmd[0]}" "${cmd[@]:1}" >>"$T/start.log" 2>&1 9<&- ||
	    die "${cmd[*]} failed"
done <<<"$starts"
wait_for 10 test -S "$sockdir/milter.sock" || die "no $sockdir/milter.sock"
wait_for 10 test -S "$sockdir/policy.sock" || die "no $sockdir/policy.sock"
wait_for 10 test -s "$rundir/etrnd.pid" || die "no $rundir/etrnd.pid"
for f in etrn-milter etrnd etrn-policy; do
	[ -s "$rundir/$f.pid" ] && kill -0 "$(cat "$rundir/$f.pid")" ||
	    die "$f does not run (pid file $rundir/$f.pid)"
done
pass "etrn-milter, etrnd and etrn-policy started as README.md says"

postfix start >>"$T/start.log" 2>&1 9<&- || die "postfix start failed"
wait_for 20 eval '[ -n "$(ss -Hltn "src 127.0.0.1 and sport = :25")" ]' ||
    die "Postfix does not listen on 127.0.0.1:25"
pass "the system Postfix runs (smtpd chroot y, loopback only)"

# --- hold, count, ETRN, delivery, expiry ---------------------------------------

# send TO SUBJECT - one message to the public smtpd, port 25
send() {
	swaks --server 127.0.0.1 --port 25 --silent 2 -f alice@example.org \
	    -t "$1" --header "Subject: $2" >>"$T/swaks.log" 2>&1
}
# on_hold N - postqueue -j shows N messages in the hold queue
on_hold() {
	[ "$(postqueue -j | grep -c '"queue_name": *"hold"')" = "$1" ]
}
# in_sink WHICH PATTERN - a message in that sink matches
in_sink() {
	grep -rqs -e "$2" "$T/sink/$1"
}

send carol@dialup2.test "for dialup2, never collected" ||
    fail "message to dialup2.test refused"
send bob@dialup.test "held for dialup" || fail "message to dialup.test refused"
send dave@dialup3.test "held for dialup3" ||
    fail "message to dialup3.test refused"
# Split: the copy for dialup.test goes through the re-injection smtpd
# (chroot n), which must find the milter by the same relative path.
send bob2@dialup.test,eve@example.net "split for dialup" ||
    fail "message to dialup.test and example.net refused"
wait_for 15 in_sink internet "Subject: split for dialup" ||
    fail "example.net's part of the split message was not delivered"
wait_for 15 on_hold 4 ||
    fail "postqueue -j: $(postqueue -j | wc -l) messages, not 4 on hold"
pass "4 messages for dial-up domains on hold (postqueue -j), one of them" \
    "a copy re-injected through the smtpd on 127.0.0.1:10026"
wait_for 15 eval '[ "$(rcli ZCARD etrn:held:dialup.test)" = 2 ]' ||
    fail "redis-cli ZCARD etrn:held:dialup.test: $(rcli ZCARD etrn:held:dialup.test)"
pass "redis-cli ZCARD etrn:held:dialup.test = 2"

out=$(HOME=$T fetchmail --nosyslog --fetchmailrc /dev/null -v \
    --protocol ETRN --fetchdomains dialup.test --service 1985 127.0.0.1 2>&1) ||
    true
case $out in
*"ETRN< 253 OK, 2 pending messages for node dialup.test started"*)
	pass "fetchmail's ETRN to etrnd: 253, 2 pending messages" ;;
*) fail "fetchmail's ETRN: $out" ;;
esac
wait_for 30 eval 'in_sink customer "Subject: held for dialup\$" &&
    in_sink customer "Subject: split for dialup"' ||
    fail "the released messages did not reach the customer's sink"
pass "both held messages reached the customer's sink"

out=$(python3 "$top/tests/lib/etrn.py" 25 dialup3.test example.com)
case $out in
"250 Queuing started"$'\n'"459 "*) pass "ETRN to Postfix's smtpd through" \
    "etrn-policy: 250 for dialup3.test, 459 for example.com" ;;
*) fail "ETRN to Postfix's smtpd: $out" ;;
esac
wait_for 30 in_sink customer "Subject: held for dialup3" ||
    fail "the message for dialup3.test was not released"
pass "the ETRN through Postfix released dialup3.test's message"

wait_for 100 in_sink internet "Subject: Undelivered Mail Returned to Sender" ||
    fail "no DSN for the message held past dialup2.test's 60 s hold_time"
grep -rqs "carol@dialup2.test" "$T/sink/internet" ||
    fail "the DSN does not name carol@dialup2.test"
wait_for 15 on_hold 0 || fail "still on hold: $(postqueue -j)"
in_sink customer "never collected" && fail "the expired message was delivered"
[ "$(rcli HGET etrn:stats:dialup2.test expired)" = 1 ] ||
    fail "etrn:stats:dialup2.test expired is not 1"
pass "the message for dialup2.test expired after 60 s; its sender got the DSN"

# Why the lines are relative: the chrooted smtpd does not find a socket
# by its absolute path: every client is refused, every ETRN too.
postconf -e "smtpd_milters = unix:$sockdir/milter.sock"
postfix reload >>"$T/start.log" 2>&1 9<&- || fail "postfix reload failed"
sleep 1
if send bob3@dialup.test "absolute milter path"; then
	fail "the chrooted smtpd found the milter by an absolute path"
fi
grep -q "451 4.7.1" "$T/swaks.log" ||
    fail "no 451 4.7.1 with the absolute path: $(tail -n 3 "$T/swaks.log")"
pass "with an absolute smtpd_milters path the chrooted smtpd answers 451 4.7.1"
postconf -e "smtpd_milters =" \
    "smtpd_etrn_restrictions = check_policy_service unix:$sockdir/policy.sock"
postfix reload >>"$T/start.log" 2>&1 9<&- || fail "postfix reload failed"
sleep 1
out=$(python3 "$top/tests/lib/etrn.py" 25 dialup3.test)
case $out in
"451 4.3.5 "*) pass "with an absolute policy socket path: 451 4.3.5 to ETRN" ;;
*) fail "ETRN with an absolute policy socket path: $out" ;;
esac
