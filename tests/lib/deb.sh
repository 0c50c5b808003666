# shellcheck shell=bash
# tests/lib/deb.sh - the Debian package built as README.md shows it ("Installing
# from the Debian package"): `make distdir` into a directory of the test's,
# then the build command there.  For tests/install/t-deb.sh and
# tests/deploy/t-deploy.sh.  Needs die (core.sh, via standalone.sh).

# The build command of README.md's package block.
DEB_BUILD_CMD="DEB_BUILD_OPTIONS=nocheck dpkg-buildpackage -us -uc -b"

# deb_tools - the name of the first packaging tool missing; empty if none
deb_tools() {
	local t
	for t in dpkg-buildpackage dh dpkg dpkg-deb dpkg-checkbuilddeps; do
		command -v "$t" >/dev/null 2>&1 || { echo "$t"; return; }
	done
}

# deb_distdir BDIR DIR - `make distdir` of the build tree BDIR into
# DIR/openetrn-VERSION; sets deb_version and deb_src (log DIR/distdir.log)
deb_distdir() {
	deb_version=$(sed -n 's/^PACKAGE_VERSION = //p' "$1/Makefile")
	[ -n "$deb_version" ] || die "no PACKAGE_VERSION in $1/Makefile"
	deb_src=$2/openetrn-$deb_version
	env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u MAKEOVERRIDES \
	    make -s --no-print-directory -C "$1" distdir distdir="$deb_src" \
	    >"$2/distdir.log" 2>&1 ||
	    die "make distdir: $(tail -n 5 "$2/distdir.log")"
}

# deb_builddeps - dpkg-checkbuilddeps in deb_src: true if the build
# dependencies are installed, else prints what is missing
deb_builddeps() {
	(cd "$deb_src" && dpkg-checkbuilddeps 2>&1)
}

# deb_build [CMD] - build the package in deb_src with CMD (words, VAR=value
# first; DEB_BUILD_CMD if none), log in deb_src's parent/build.log; sets
# deb to the .deb's path; false if the build fails or makes no .deb
deb_build() {
	local dir=${deb_src%/*} cmd=${1:-$DEB_BUILD_CMD}
	# shellcheck disable=SC2086 # the command's words
	(cd "$deb_src" && env $cmd) >"$dir/build.log" 2>&1 || return 1
	deb=$dir/openetrn_${deb_version}_$(dpkg --print-architecture).deb
	[ -f "$deb" ]
}
