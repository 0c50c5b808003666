#!/bin/bash
# t-abuse - etrnd's listener under abusive clients, all at once: one
# client pipelines 1000 bad lines in one write, 20 slowloris clients
# send one byte a second and never finish a line, 5 clients connect and
# say nothing.  The garbage client is cut off with 421 after
# etrnd_max_errors replies (not 1000); the slow and silent ones with
# 421 at etrnd_timeout; meanwhile a normal client's ETRN gets its 253
# within 2 seconds and the held mail reaches the customer.  Then
# etrnd_max_clients idle connections fill the listener: one more gets
# 421 at once, and when the idle ones have been cut off at
# etrnd_timeout an ETRN works again.  etrn-policy likewise: while 1000
# garbage lines and 15 clients trickling a request byte by byte hit it,
# a normal request is answered within 2 seconds, the garbage connection
# is closed at once and the slow ones at policy_timeout.
# (tests/etrnd/t-limits.sh and tests/policy/transcripts cover each limit
# alone.)
set -eu
. "${top_srcdir:-$(dirname "$0")/../..}/tests/lib/sandbox.sh"
sb_init sec-abuse
SB_ETRND=1 SB_POLICY=1 SB_EXTRA_CONF="etrnd_max_clients = 30
etrnd_max_per_client = 0
etrnd_timeout = 3s
etrnd_max_errors = 5
flush_lock_time = 1s
policy_timeout = 3s
policy_max_clients = 25" sb_start
. "$SB_SRCDIR/tests/lib/common.sh"
. "$SB_SRCDIR/tests/security/seclib.sh"

for i in 1 2; do
	sb_swaks -f s@example.org -t "u$i@dialup.test" >/dev/null || fail "swaks"
done
wait_for 10 hold_is 2 || fail "mail not held"

out=$(python3 - "$ETRND_PORT" <<'PY'
import socket, sys, threading, time
port = int(sys.argv[1])
res = {}
def conn():
    s = socket.create_connection(("127.0.0.1", port), 10)
    s.settimeout(15)
    return s
def readall(s, limit=20):
    buf = b""
    t0 = time.time()
    try:
        while time.time() - t0 < limit:
            d = s.recv(65536)
            if not d:
                return buf, time.time() - t0, True
            buf += d
    except socket.timeout:
        pass
    except ConnectionResetError:    # closed with our input unread
        return buf, time.time() - t0, True
    return buf, time.time() - t0, False
def garbage():
    s = conn(); s.recv(1024)
    t0 = time.time()
    try:
        s.sendall(b"EHLO x\r\n" + b"GARBAGE \x01\x02 * ?\r\n" * 1000)
    except OSError:
        pass
    buf, _, closed = readall(s)
    lines = buf.decode("latin-1").splitlines()
    res["garbage"] = (len(lines), lines[-1] if lines else "", closed,
                      time.time() - t0)
def slow(i):
    s = conn(); s.recv(1024)
    t0 = time.time(); closed = False; last = b""
    s.settimeout(1)
    while time.time() - t0 < 15:
        try:
            s.send(b"E")
        except OSError:
            closed = True; break
        try:
            d = s.recv(1024)
            if not d:
                closed = True; break
            last += d
        except socket.timeout:
            pass
        except OSError:
            closed = True; break
    res["slow%d" % i] = (closed, time.time() - t0, last.decode("latin-1"))
def silent(i):
    s = conn(); s.recv(1024)
    buf, t, closed = readall(s)
    res["silent%d" % i] = (closed, t, buf.decode("latin-1"))
def normal():
    time.sleep(1)     # the attack is under way
    t0 = time.time()
    s = conn(); s.recv(1024)
    s.sendall(b"EHLO customer.test\r\n")
    buf = b""
    while b"250 " not in buf:
        buf += s.recv(4096)
    s.sendall(b"ETRN dialup.test\r\n")
    r = s.recv(4096).decode()
    res["normal"] = (r.strip(), time.time() - t0)
    s.sendall(b"QUIT\r\n")
ts = [threading.Thread(target=garbage)]
ts += [threading.Thread(target=slow, args=(i,)) for i in range(20)]
ts += [threading.Thread(target=silent, args=(i,)) for i in range(5)]
ts += [threading.Thread(target=normal)]
for t in ts: t.start()
for t in ts: t.join()
for k in sorted(res): print(k, res[k])
PY
) || fail "client: $out"
printf '%s\n' "$out" >"$SB/abuse.out"
printf '%s\n' "$out" | python3 -c '
import ast, sys
r = {}
for l in sys.stdin:
    k, v = l.split(" ", 1)
    r[k] = ast.literal_eval(v)
bad = []
n, last, closed, t = r["garbage"]
# 250-EHLO lines, then at most max_errors (5) replies and the 421.
if not (closed and last.startswith("421 4.7.0") and n <= 12):
    bad.append("garbage %r" % (r["garbage"],))
for k in r:
    if k.startswith(("slow", "silent")):
        closed, t, text = r[k]
        if not (closed and "421 4.4.2" in text and 2.5 <= t <= 6.5):
            bad.append("%s %r" % (k, r[k]))
reply, t = r["normal"]
if not (reply.startswith("253 OK, 2 pending") and t < 2.0):
    bad.append("normal %r" % (r["normal"],))
print("\n".join(bad))
sys.exit(1 if bad else 0)
' >"$SB/abuse.bad" || fail "$(cat "$SB/abuse.bad"; cat "$SB/abuse.out")"
wait_for 20 sink_is customer 2 || fail "customer has $(sb_sink_count customer)"
pass "under attack: $(grep '^normal' "$SB/abuse.out"); garbage cut: $(grep '^garbage' "$SB/abuse.out"); 25 slow/silent clients cut at etrnd_timeout"

out=$(python3 - "$ETRND_PORT" <<'PY'
import socket, sys, time
port = int(sys.argv[1])
idle = [socket.create_connection(("127.0.0.1", port), 5) for i in range(30)]
for s in idle:
    s.settimeout(5); s.recv(1024)
t0 = time.time()
x = socket.create_connection(("127.0.0.1", port), 5)
x.settimeout(5)
print("extra: %s (%.1f s)" % (x.recv(1024).decode().strip(), time.time() - t0))
# The idle ones are cut off at etrnd_timeout; then there is room again.
for s in idle:
    s.settimeout(8)
    d = s.recv(1024)
    assert d.startswith(b"421 4.4.2"), d
time.sleep(0.3)
s = socket.create_connection(("127.0.0.1", port), 5)
s.settimeout(5)
g = s.recv(1024)
s.sendall(b"EHLO c\r\n")
buf = b""
while not buf.startswith(b"250 ") and b"\n250 " not in buf:
    buf += s.recv(4096)
s.sendall(b"ETRN dialup.test\r\n")
r = s.recv(4096).decode().strip()
print("after: %s / %s" % (g.decode().strip(), r))
PY
) || fail "max clients: $out"
case $out in
"extra: 421 4.3.2 "*"too many connections"*"after: 220 "*"/ 251 OK, no messages waiting for node dialup.test")
	;;
*) fail "max clients: $out" ;;
esac
kill -0 "$ETRND_PID" || fail "etrnd died"
pass "etrnd_max_clients: $(printf '%s\n' "$out" | paste -sd';')"

out=$(python3 - "$POLICY_SOCK" <<'PY'
import socket, sys, threading, time
path = sys.argv[1]
res = {}
def conn():
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(10)
    s.connect(path)
    return s
def garbage():
    s = conn(); t0 = time.time()
    try:
        s.sendall(b"no equals sign here\n" * 1000)
        d = s.recv(4096)
        closed = d == b""
    except OSError:
        closed = True
    res["garbage"] = (closed, round(time.time() - t0, 1))
def slow(i):
    s = conn(); t0 = time.time(); closed = False
    req = b"request=smtpd_access_policy\nprotocol_state=ETRN\n" * 20
    s.settimeout(1)
    for ch in req:
        try:
            s.send(bytes([ch]))
            if s.recv(1024) == b"":
                closed = True; break
        except socket.timeout:
            pass
        except OSError:
            closed = True; break
        if time.time() - t0 > 12:
            break
    res["slow%d" % i] = (closed, round(time.time() - t0, 1))
def normal():
    time.sleep(1)
    t0 = time.time()
    s = conn()
    s.sendall(b"request=smtpd_access_policy\nprotocol_state=ETRN\n"
              b"client_address=192.0.2.1\netrn_domain=dialup.test\n\n")
    buf = b""
    while not buf.endswith(b"\n\n"):
        buf += s.recv(4096)
    res["normal"] = (buf.decode().strip(), round(time.time() - t0, 2))
ts = [threading.Thread(target=garbage), threading.Thread(target=normal)]
ts += [threading.Thread(target=slow, args=(i,)) for i in range(15)]
for t in ts: t.start()
for t in ts: t.join()
bad = []
if not res["garbage"][0]:
    bad.append("garbage %r" % (res["garbage"],))
if not (res["normal"][0] == "action=459 4.7.1 ETRN not allowed here"
        and res["normal"][1] < 2):
    bad.append("normal %r" % (res["normal"],))
for k, v in res.items():
    if k.startswith("slow") and not (v[0] and 2.5 <= v[1] <= 6.5):
        bad.append("%s %r" % (k, v))
print("; ".join(bad) if bad else "normal %r, garbage %r, slow %r" % (
    res["normal"], res["garbage"], res["slow0"]))
sys.exit(1 if bad else 0)
PY
) || fail "etrn-policy: $out"
kill -0 "$POLICY_PID" || fail "etrn-policy died"
pass "etrn-policy under attack: $out"

stop_and_check_logs
pass "clean stop: no daemon ignored SIGTERM, no sanitizer report in any log"
