#!/bin/bash
# t-holdrec - every transition of the hold record (lib/mail/holdrec.c)
# against a real redis-server: holdrec-drive runs each one, the batch
# forms and the crash points between them, and checks the record, its
# indexes and the domain's counters after each.  The Redis is this
# script's own, on a unix socket in a temp directory, stopped by PID.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
srcdir=${top_srcdir:-$(cd "$here/../.." && pwd)}
builddir=${OPENETRN_BUILDDIR:-${top_builddir:-$srcdir}}
redis_server=${REDIS_SERVER-$(command -v redis-server || true)}
redis_cli=$(command -v redis-cli || true)
drive=$builddir/tests/holdrec/holdrec-drive
T=
redis_pid=
drive_pid=
npass=0
nfail=0
# shellcheck source=../lib/standalone.sh
. "$srcdir/tests/lib/standalone.sh"

[ -n "$redis_server" ] && [ -x "$redis_server" ] || skip "no redis-server"
[ -n "$redis_cli" ] || skip "no redis-cli"
[ -x "$drive" ] || skip "$drive not built"

sa_workdir holdrec drive.log drive_pid
start_redis

if "$drive" "unix:$T/redis.sock" >"$T/drive.log" 2>&1; then
	pass "holdrec-drive: $(grep -c '^ok ' "$T/drive.log") checks"
else
	grep '^not ok' "$T/drive.log" || true
	fail "holdrec-drive: $(grep -c '^not ok' "$T/drive.log") of" \
	    "$(grep -c '^\(not \)\?ok ' "$T/drive.log") checks failed"
fi

# Nothing of the run is left outside etrn: (no stray keys).
n=$(rcli --scan | grep -vc '^etrn:' || true)
if [ "$n" = 0 ]; then
	pass "no keys outside etrn:"
else
	fail "$n keys outside etrn:"
fi
