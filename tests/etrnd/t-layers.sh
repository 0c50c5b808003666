#!/bin/bash
# t-layers - etrnd's queue runner is built in layers with no circle of
# files (docs/design.md, "The tree"): a file calls only functions defined
# in files of a lower layer, never one of its own layer or above.  Read
# from the built objects (nm): for each runner file, every symbol it
# leaves undefined that another runner file defines must belong to a
# lower layer.  Also: rctx.c and lease.c keep no state a higher file
# reads directly (no global data symbol).  Needs the build (etrnd/etrnd),
# not root.
set -eu
. "${top_srcdir:-$(dirname "$0")/../..}/tests/lib/core.sh"

obj=${OPENETRN_BUILDDIR:?}/etrnd
command -v nm >/dev/null 2>&1 || skip "no nm"
[ -f "$obj/etrnd-runner.o" ] || fail "$obj/etrnd-runner.o not built"

# layer FILE - the rank of a runner file: 0 at the bottom
layer() {
	case $1 in
	lease) echo 0 ;;
	rctx) echo 1 ;;
	flush | track | pending | dsnsend | reconcile) echo 2 ;;
	expire | rcnrun) echo 3 ;;
	runner) echo 4 ;;
	*) echo x ;;
	esac
}

files="lease rctx flush track pending dsnsend reconcile expire rcnrun runner"
tmp=$(mktemp -d)
trap 'set +e; rm -rf "$tmp"' EXIT
for f in $files; do
	nm --defined-only "$obj/etrnd-$f.o" |
	    awk -v f="$f" '$2 == "T" { print $3, f }'
done | sort >"$tmp/defs"
edges=0
for f in $files; do
	nm -u "$obj/etrnd-$f.o" | awk '{ print $NF }' | sort >"$tmp/und"
	join "$tmp/und" "$tmp/defs" >"$tmp/calls"
	while read -r sym g; do
		edges=$((edges + 1))
		lf=$(layer "$f")
		lg=$(layer "$g")
		[ "$lf" -gt "$lg" ] ||
		    fail "$f.c (layer $lf) calls $sym of $g.c (layer $lg)"
	done <"$tmp/calls"
done
[ "$edges" -gt 10 ] || fail "only $edges calls between runner files found"
pass "$edges calls between the runner's files, all downward"

for f in rctx lease flush track; do
	g=$(nm --defined-only "$obj/etrnd-$f.o" | awk '$2 ~ /^[BDG]$/' |
	    awk '{ print $3 }' | tr '\n' ' ')
	[ -z "$g" ] || fail "$f.c exports data: $g"
done
pass "rctx.c, lease.c, flush.c and track.c export no data"
