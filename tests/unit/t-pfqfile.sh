#!/bin/bash
# t-pfqfile - lib/mail/pfqfile.c against real Postfix queue files: mail
# held by etrn-milter in the private Postfix (plain, a forged tag the
# milter removed, long folded and unfolded headers, 8-bit and SMTPUTF8
# headers, a 1 MiB body, the dial-up copy of a split message, a
# message released to the hashed deferred queue) is read through one
# reader process (tests/unit/pfqfile-dump, which runs as root: the
# reader drops to mail_owner) and from a copy of the file, and both
# must equal `postcat -q -h ID` byte for byte.  Every truncation of a
# held file, a pointer out of range, an unknown record type in the
# content, and in the queue a symlink, a root-owned file, an
# incomplete file and a truncated one give doubt (exit 3); a missing
# file gives gone (exit 2); the reader runs as postfix, and after it
# died every answer is doubt.
set -eu
. "${top_srcdir:-$(dirname "$0")/../..}/tests/lib/sandbox.sh"
sb_init pfqfile
sb_start
. "$SB_SRCDIR/tests/lib/common.sh"
DUMP=$OPENETRN_BUILDDIR/tests/unit/pfqfile-dump
[ -x "$DUMP" ] || fail "no $DUMP (build it)"
QD=$(postconf -c "$PF_CONF" -h queue_directory)
OWNER=$(postconf -c "$PF_CONF" -h mail_owner)
HQ=$(postconf -c "$PF_CONF" -h hash_queue_names)
HD=$(postconf -c "$PF_CONF" -h hash_queue_depth)
W=$SB/pfq
mkdir -p "$W"

# 1. The messages, all held.
long=$(python3 -c 'print("X-Folded: " + "\r\n\t".join(
    ["w%d " % i * 9 for i in range(40)]))')
unfolded=$(python3 -c 'print("X-Unfolded: " + "x" * 5000)')
n=0
sendit() {
	out=$(send --from s@example.org "$@") || fail "send $*: $out"
	n=$((n + 1))
}
sendit --to u1@dialup.test --header 'Subject: plain'
sendit --to u1@dialup.test --header 'Subject: forged' \
    --header 'X-ETRN-Hold: dialup.test; token=0123456789abcdef0123456789abcdef' \
    --header 'X-ETRN-Hold: other.test;
	token=fedcba9876543210fedcba9876543210'
sendit --to u1@dialup.test --header "$long" --header "$unfolded" \
    --header 'Subject: long' --header 'X-Obs : blank before the colon'
sendit --to u1@dialup.test --mail-opt BODY=8BITMIME \
    --header 'Subject: Grüße aus Köln' --body 'Grüße.
'
sendit --smtputf8 --to u1@dialup.test --mail-opt BODY=8BITMIME \
    --header 'Subject: 博 日本' --header 'From: jörg@example.org' \
    --body 'Grüße'
sendit --to u1@dialup.test --header 'Subject: headers only' --body ''
out=$(big send "$SMTP_PORT" 1 s@example.org big@dialup.test) ||
    fail "big: $out"
n=$((n + 1))
sendit --to a@example.com --to u2@dialup.test --header 'Subject: split'
wait_for 30 hold_is "$n" || fail "hold queue has $(sb_queue_count hold), want $n"
pass "$n messages held"

# 2. Each through the reader and from a copy, against postcat.
ids=$(sb_hold_ids)
for id in $ids; do
	postcat -c "$PF_CONF" -q -h "$id" >"$W/$id.want" ||
	    fail "postcat $id"
	grep -q '^X-ETRN-Hold: ' "$W/$id.want" || fail "$id: no tag"
	"$DUMP" reader "$QD" "$OWNER" "$HQ" "$HD" hold "$id" >"$W/$id.got" ||
	    fail "$id: reader exit $?"
	cmp "$W/$id.want" "$W/$id.got" || {
		diff "$W/$id.want" "$W/$id.got" | head -20 >&2
		fail "$id: reader output differs from postcat -h"
	}
	cp "$QD/hold/$id" "$W/$id.qf"
	"$DUMP" file "$W/$id.qf" >"$W/$id.file" || fail "$id: file exit $?"
	cmp -s "$W/$id.want" "$W/$id.file" || fail "$id: file differs"
done
# All of them through one reader at once.
# shellcheck disable=SC2086
"$DUMP" reader "$QD" "$OWNER" "$HQ" "$HD" hold $ids >"$W/all.got" ||
    fail "one reader for all: exit $?"
for id in $ids; do cat "$W/$id.want"; done >"$W/all.want"
cmp -s "$W/all.want" "$W/all.got" || fail "one reader for all differs"
grep -q '^X-Unfolded: x\{5000\}$' "$W/all.got" || fail "no long line"
grep -q '^Subject: 博 日本$' "$W/all.got" || fail "no UTF-8 subject"
grep -q 'forged' "$W/all.got" && ! grep -q 0123456789abcdef "$W/all.got" ||
    fail "forged tag"
pass "reader and file equal postcat -q -h for all $n files"

# 3. Damaged copies are doubt, never a guess.
plain=$(for id in $ids; do grep -l '^Subject: plain$' "$W/$id.want"; done |
    head -n 1)
plain=$(basename "$plain" .want)
size=$(stat -c %s "$W/$plain.qf")
for ((i = 0; i < size; i++)); do
	head -c "$i" "$W/$plain.qf" >"$W/trunc"
	rc=0
	"$DUMP" file "$W/trunc" >/dev/null 2>&1 || rc=$?
	[ "$rc" = 3 ] || fail "truncated to $i of $size: exit $rc, want 3"
done
pass "all $size truncations of $plain are doubt"
# The last pointer of the file (the tag's way back) out of range.
python3 - "$W/$plain.qf" "$W/badptr" "$W/badtype" <<'PY'
import re, sys
d = open(sys.argv[1], "rb").read()
last = [m.start() for m in re.finditer(rb"p\x0f {0,14}[0-9]+", d)][-1]
open(sys.argv[2], "wb").write(d[:last + 2] + b"%15d" % (len(d) + 10) +
                              d[last + 17:])
# The tag's N record (appended past E) turned into an unknown type.
t = d.index(b"X-ETRN-Hold: dialup.test")
i = d.rindex(b"N", 0, t)
open(sys.argv[3], "wb").write(d[:i] + b"Q" + d[i + 1:])
PY
for f in badptr badtype; do
	rc=0
	"$DUMP" file "$W/$f" >/dev/null 2>&1 || rc=$?
	[ "$rc" = 3 ] || fail "$f: exit $rc, want 3"
done
pass "pointer out of range and unknown record type are doubt"

# 4. In the queue: what the reader must not trust, and a missing file.
hold=$QD/hold
head -c $((size - 5)) "$W/$plain.qf" >"$hold/AAAAAAAAA1"
cp "$W/$plain.qf" "$hold/AAAAAAAAA2"
cp "$W/$plain.qf" "$hold/AAAAAAAAA3"
ln -s "$hold/$plain" "$hold/AAAAAAAAA4"
chown "$OWNER" "$hold/AAAAAAAAA1" "$hold/AAAAAAAAA3"
chmod 700 "$hold/AAAAAAAAA1" "$hold/AAAAAAAAA2"
chmod 600 "$hold/AAAAAAAAA3"
for id in AAAAAAAAA1 AAAAAAAAA2 AAAAAAAAA3 AAAAAAAAA4; do
	rc=0
	"$DUMP" reader "$QD" "$OWNER" "$HQ" "$HD" hold "$id" >/dev/null \
	    2>&1 || rc=$?
	[ "$rc" = 3 ] || fail "$id: exit $rc, want 3 (doubt)"
done
rm -f "$hold"/AAAAAAAAA[1-4]
rc=0
"$DUMP" reader "$QD" "$OWNER" "$HQ" "$HD" hold BBBBBBBBB1 >/dev/null 2>&1 ||
    rc=$?
[ "$rc" = 2 ] || fail "missing file: exit $rc, want 2 (gone)"
for q in 'hold/..' saved; do
	rc=0
	"$DUMP" reader "$QD" "$OWNER" "$HQ" "$HD" "$q" "$plain" >/dev/null \
	    2>&1 || rc=$?
	[ "$rc" = 3 ] || fail "queue $q: exit $rc, want 3"
done
pass "truncated, root-owned, incomplete, symlinked: doubt; missing: gone"

# 5. The reader process runs as mail_owner.
mkfifo "$W/ids"
"$DUMP" count "$QD" "$OWNER" "$HQ" "$HD" hold <"$W/ids" >"$W/count" &
dpid=$!
exec 3>"$W/ids"
echo "$plain" >&3
wait_for 5 eval '[ -n "$(ps -o user= --ppid $dpid)" ]' ||
    fail "no reader process"
user=$(ps -o user= --ppid "$dpid" | head -n 1)
[ "$user" = "$OWNER" ] || fail "reader runs as $user, want $OWNER"
# A reader that died: doubt from then on, never a guess.
rpid=$(ps -o pid= --ppid "$dpid" | head -n 1)
kill -9 "$rpid"
echo "$plain" >&3
echo "$plain" >&3
exec 3>&-
rc=0
wait "$dpid" || rc=$?
[ "$rc" = 3 ] || fail "count exit $rc, want 3"
[ "$(cat "$W/count")" = "ok 1 doubt 2 gone 0" ] ||
    fail "count: $(cat "$W/count")"
pass "the reader runs as $user; once it died, doubt"

# 6. Hashed: released to the deferred queue, read there.
postsuper -c "$PF_CONF" -H "$plain" >/dev/null 2>&1 || fail "postsuper -H"
path=$(find "$QD/deferred" -name "$plain" | head -n 1)
if [ -n "$path" ]; then
	rc=0
	"$DUMP" reader "$QD" "$OWNER" "$HQ" "$HD" deferred "$plain" \
	    >"$W/deferred.got" 2>&1 || rc=$?
	if [ -e "$path" ]; then
		[ "$rc" = 0 ] || fail "deferred $path: exit $rc"
		cmp -s "$W/$plain.want" "$W/deferred.got" ||
		    fail "deferred: differs"
		pass "read from the hashed ${path#"$QD"/}"
	else
		echo "deferred $plain left the queue before it was read"
	fi
else
	echo "deferred $plain not found (already delivered)"
fi
