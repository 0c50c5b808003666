#!/bin/bash
# t-deb - the Debian package, built as a user would build it: `make
# distdir` into a temporary directory, then `dpkg-buildpackage -us -uc
# -b` there (DEB_BUILD_OPTIONS=nocheck; tests/lib/deb.sh, which
# tests/deploy/t-deploy.sh shares).  lintian reports no error, and
# each of its warnings is one that docs/packaging.md lists with its
# reason.  The package holds the programs, the manual pages, the units
# (ExecStart in /usr/sbin, configuration in /etc/openetrn), tmpfiles.d
# and sysusers.d, the configuration as a conffile with `user = openetrn`
# and no hold secret (each installation makes its own); the maintainer
# scripts pass `sh -n`.  dpkg installs, reinstalls and purges it in a
# private mount namespace over overlays of /etc, /usr, /var and /run:
# the postinst creates the account, the directories, the configuration's
# group and mode and the hold secret (kept on reinstall), etrn-milter -t
# accepts the configuration, the units stay disabled, the purge removes
# what it should and keeps the account.  This machine is not changed.
# Skipped (77)
# without dpkg-buildpackage, debhelper, lintian or the Build-Depends,
# and in a sanitizer build (the package does not depend on the build;
# the gcc run covers it).
set -eu
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$top_srcdir/tests/lib/standalone.sh"
. "$top_srcdir/tests/lib/deb.sh"
npass=0 nfail=0
bdir=${OPENETRN_BUILDDIR:-${top_builddir:-$top_srcdir}}
for t in dpkg-buildpackage dh lintian dpkg-deb; do
	command -v "$t" >/dev/null 2>&1 || skip "$t not installed"
done
for b in etrn-milter etrnd/etrnd policy/etrn-policy; do
	if nm "$bdir/$b" 2>/dev/null | grep -q '__asan_init\|__ubsan_handle'
	then
		skip "$b is built with sanitizers: the gcc build tests the package"
	fi
done
dpkg-query -W -f='${Status}' openetrn 2>/dev/null |
    grep -q 'install ok installed' && was_installed=1 || was_installed=0

T=$(mktemp -d "${TMPDIR:-/tmp}/openetrn-test.deb.XXXX") || die "mktemp"
cleanup() {
	local rc=$?
	set +e
	case $T in
	*/openetrn-test.deb.*) rm -rf "$T" ;;
	esac
	exit "$rc"
}
trap cleanup EXIT

deb_distdir "$bdir" "$T"
version=$deb_version src=$deb_src
changelog=$(dpkg-parsechangelog -l "$src/debian/changelog" -S Version)
[ "$changelog" = "$version" ] && pass "debian/changelog is at $version" ||
    fail "debian/changelog says $changelog, configure.ac $version"

out=$(deb_builddeps) ||
    skip "build dependencies missing (contrib/install-deps): $out"

start=$(date +%s)
if ! deb_build; then
	tail -n 40 "$T/build.log"
	die "$DEB_BUILD_CMD failed or made no .deb: $(ls "$T")"
fi
pass "dpkg-buildpackage -us -uc -b: $(($(date +%s) - start)) s"

# lintian: errors fail; each warning tag must be in docs/packaging.md.
lintian --no-tag-display-limit "$deb" >"$T/lintian.log" 2>&1 || true
if grep -q '^E: ' "$T/lintian.log"; then
	fail "lintian errors: $(grep '^E: ' "$T/lintian.log")"
else
	pass "lintian: no errors"
fi
undocumented=
for tag in $(sed -n 's/^W: [^ ]*: \([^ ]*\).*/\1/p' "$T/lintian.log" |
    sort -u); do
	grep -q -- "$tag" "$top_srcdir/docs/packaging.md" ||
	    undocumented="$undocumented $tag"
done
[ -z "$undocumented" ] &&
    pass "lintian: $(grep -c '^W: ' "$T/lintian.log" || true) warnings, each in docs/packaging.md" ||
    fail "lintian warnings not in docs/packaging.md:$undocumented"

# Contents.
dpkg-deb -c "$deb" | awk '{ print $6 }' | sed 's|^\./|/|' >"$T/files"
missing=
for f in /usr/sbin/etrn-milter /usr/sbin/etrnd /usr/sbin/etrnctl \
    /usr/sbin/etrn-policy /usr/share/man/man8/etrn-milter.8.gz \
    /usr/share/man/man8/etrnd.8.gz /usr/share/man/man8/etrnctl.8.gz \
    /usr/share/man/man8/etrn-policy.8.gz \
    /usr/share/man/man5/openetrn.conf.5.gz \
    /lib/systemd/system/etrn-milter.service \
    /lib/systemd/system/etrnd.service \
    /lib/systemd/system/etrn-policy.service \
    /usr/lib/tmpfiles.d/openetrn.conf /usr/lib/sysusers.d/openetrn.conf \
    /etc/openetrn/openetrn.conf /usr/share/doc/openetrn/copyright; do
	grep -qx -- "$f" "$T/files" || missing="$missing $f"
done
[ -z "$missing" ] && pass "package holds programs, man pages, units," \
    "tmpfiles.d, sysusers.d, configuration" ||
    fail "missing from the package:$missing"
if grep -q 'hold\.secret\|^/run/\|^/var/' "$T/files"; then
	fail "the package ships what the postinst makes:" \
	    "$(grep 'hold\.secret\|^/run/\|^/var/' "$T/files")"
else
	pass "no hold secret, /run or /var in the package"
fi

mkdir "$T/x" "$T/ctl"
dpkg-deb -x "$deb" "$T/x"
dpkg-deb -e "$deb" "$T/ctl"
grep -qx /etc/openetrn/openetrn.conf "$T/ctl/conffiles" &&
    pass "conffile /etc/openetrn/openetrn.conf" ||
    fail "conffiles: $(cat "$T/ctl/conffiles" 2>/dev/null)"
grep -qx 'user = openetrn' "$T/x/etc/openetrn/openetrn.conf" &&
    pass "the configuration sets user = openetrn" ||
    fail "the configuration does not set user = openetrn"
bad=
for u in etrn-milter etrnd etrn-policy; do
	grep -qx "ExecStart=/usr/sbin/$u -f -c /etc/openetrn/openetrn.conf" \
	    "$T/x/lib/systemd/system/$u.service" || bad="$bad $u"
done
[ -z "$bad" ] && pass "units start /usr/sbin/PROGRAM -f -c /etc/openetrn/openetrn.conf" ||
    fail "ExecStart wrong in:$bad"
for s in preinst postinst prerm postrm; do
	[ -f "$T/ctl/$s" ] || continue
	sh -n "$T/ctl/$s" && pass "$s: sh -n" || fail "$s: sh -n"
done
grep -q 'adduser --system' "$T/ctl/postinst" &&
    grep -q 'hold\.secret' "$T/ctl/postinst" &&
    pass "postinst creates the user and the hold secret" ||
    fail "postinst creates no user or no hold secret"

# The maintainer scripts, run by dpkg in a private mount namespace whose
# /etc, /usr, /var and /run are overlays on this machine's: what they
# write goes to $T and vanishes with the namespace.  The account is
# removed there first, so that the postinst must create it.  Under
# /var/spool's lock, which tests that change the system's Postfix take.
inside() {
	set -u
	local d
	for d in etc usr var run; do
		mkdir -p "$T/ov/$d/u" "$T/ov/$d/w"
		mount -t overlay overlay -o "lowerdir=/$d,upperdir=$T/ov/$d/u,workdir=$T/ov/$d/w" "/$d" &&
		    mountpoint -q "/$d" || { echo "ABORT: no overlay on /$d"; exit 3; }
	done
	ok() { echo "PASS: $*"; }
	no() { echo "FAIL: $*"; }
	is() {	# is PATH "OWNER:GROUP MODE" WHAT
		local got
		got=$(stat -c '%U:%G %a' "$1" 2>/dev/null) || got=missing
		[ "$got" = "$2" ] && ok "$3: $1 $2" || no "$3: $1 is $got, want $2"
	}
	if getent passwd openetrn >/dev/null; then
		userdel openetrn 2>/dev/null
	fi
	getent group openetrn >/dev/null && groupdel openetrn 2>/dev/null
	dpkg -i "$deb" >"$T/dpkg-i.log" 2>&1 && ok "dpkg -i" ||
	    { no "dpkg -i: $(tail -n 5 "$T/dpkg-i.log")"; exit 0; }
	uid=$(getent passwd openetrn | cut -d: -f3)
	[ -n "$uid" ] && [ "$uid" -lt 1000 ] &&
	    ok "postinst: system account openetrn (uid $uid)" ||
	    no "postinst: no system account openetrn"
	is /etc/openetrn/openetrn.conf "root:openetrn 640" postinst
	is /etc/openetrn/hold.secret "root:openetrn 640" postinst
	[ "$(stat -c %s /etc/openetrn/hold.secret)" = 32 ] &&
	    ok "hold secret: 32 octets" || no "hold secret size"
	is /run/openetrn "root:root 755" postinst
	if getent group postfix >/dev/null && [ -d /var/spool/postfix ]; then
		is /var/spool/postfix/openetrn "root:postfix 750" postinst
	fi
	ls /etc/systemd/system/*.wants/etrn* >/dev/null 2>&1 &&
	    no "units enabled on installation" || ok "units not enabled"
	out=$(/usr/sbin/etrn-milter -t -c /etc/openetrn/openetrn.conf 2>&1) &&
	    ok "etrn-milter -t accepts the installed configuration" ||
	    no "etrn-milter -t: $out"
	sum=$(md5sum </etc/openetrn/hold.secret)
	dpkg -i "$deb" >>"$T/dpkg-i.log" 2>&1 &&
	    [ "$(md5sum </etc/openetrn/hold.secret)" = "$sum" ] &&
	    ok "reinstalled: the hold secret kept" ||
	    no "reinstall failed or replaced the hold secret"
	dpkg --purge openetrn >"$T/dpkg-purge.log" 2>&1 && ok "dpkg --purge" ||
	    no "dpkg --purge: $(tail -n 5 "$T/dpkg-purge.log")"
	[ ! -e /etc/openetrn ] && ok "purge: /etc/openetrn gone" ||
	    no "purge left $(ls -A /etc/openetrn)"
	dpkg-statoverride --list /etc/openetrn/openetrn.conf >/dev/null &&
	    no "purge left the statoverride" || ok "purge: statoverride gone"
	[ ! -e /run/openetrn ] && ok "purge: /run/openetrn gone" ||
	    no "purge left /run/openetrn"
	getent passwd openetrn >/dev/null && ok "purge: the account stays" ||
	    no "purge removed the account"
}
if [ "$(id -u)" != 0 ] || ! command -v unshare >/dev/null; then
	echo "SKIP: maintainer scripts (need root and unshare)"
else
	export -f inside
	export T deb
	rc=0 s0=$(date +%s)
	flock -w 300 -E 75 /var/spool unshare -m --propagation private \
	    bash -c inside >"$T/inside.log" 2>&1 || rc=$?
	if [ "$rc" = 75 ]; then
		echo "SKIP: maintainer scripts: /var/spool's lock busy for 300 s"
	else
		cat "$T/inside.log"
		grep -q '^ABORT' "$T/inside.log" && die "no private overlay"
		npass=$((npass + $(grep -c '^PASS: ' "$T/inside.log" || true)))
		nfail=$((nfail + $(grep -c '^FAIL: ' "$T/inside.log" || true)))
		[ "$(grep -c '^PASS: ' "$T/inside.log")" -ge 10 ] &&
		    pass "maintainer scripts run: $(($(date +%s) - s0)) s" ||
		    fail "maintainer scripts: too few checks ran"
	fi
fi
[ -e /etc/openetrn/hold.secret.new ] && fail "a file of the postinst is on the machine"

if [ "$was_installed" = 0 ] &&
    dpkg-query -W -f='${Status}' openetrn 2>/dev/null |
    grep -q 'install ok installed'; then
	fail "openetrn is installed on this machine now"
fi

echo "$npass passed, $nfail failed"
[ "$nfail" -eq 0 ]
