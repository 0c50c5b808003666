#!/usr/bin/env python3
"""smtpgate.py - a TCP relay in front of an SMTP server that holds back
one "queued as" reply, so that a test can act at the instant the server
has taken a message and its client does not know it yet.

usage: smtpgate.py --listen PORT --to PORT [--hold-at K --flag FILE]
                   [--cut-at K [--flag FILE]] [--delay-ms MS]

Relays every connection to 127.0.0.1:PORT (--to) unchanged, except the
K-th reply line of the server, over all connections, that says
"250 ... queued as ID": that line is not passed on.  Instead FILE is
written (its content: the queue ID, then a newline; written to FILE.tmp
and renamed, so it is whole when it appears), and the connection stays
open, both ways silent, until the client closes it (is killed); then
the server side is closed too.  Every other connection, before and
after, is relayed as it is.  With --cut-at K the K-th such reply is
not passed on either, but the connection is cut at once, both ways:
the server has the message, its client sees the session break; FILE,
if given, gets the queue ID as above.  With --delay-ms, every "queued as" reply
(but the held one) is passed on MS milliseconds late: the server's pace
made slow enough that a sweep of a few dozen DSNs lasts seconds, and a
test can act in its middle however fast etrnd is.  Listens on 127.0.0.1
only; runs until killed.  The held reply, and connections it cannot
relay, go to stderr.
"""
import argparse
import os
import re
import socket
import sys
import threading
import time

QUEUED = re.compile(rb"^250[ -].*queued as ([0-9A-Za-z]+)")


def shut(*socks):
    """End both directions of each socket, whatever state it is in."""
    for s in socks:
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


class Gate:
    def __init__(self, a):
        self.a = a
        self.lock = threading.Lock()
        self.seen = 0		# "queued as" replies so far
        self.held = False

    def log(self, msg):
        sys.stderr.write("smtpgate: %s\n" % msg)
        sys.stderr.flush()

    def count(self, line):
        """True when this reply line is the one to hold back."""
        m = QUEUED.match(line)
        if m is None:
            return None
        with self.lock:
            self.seen += 1
            if self.a.cut_at and self.seen == self.a.cut_at:
                return "cut:" + m.group(1).decode()
            if self.held or self.seen != self.a.hold_at or \
                    not self.a.hold_at:
                return None
            self.held = True
        return m.group(1).decode()

    def up(self, client, server):
        """Client to server, as it comes."""
        try:
            while True:
                data = client.recv(65536)
                if not data:
                    break
                server.sendall(data)
        except OSError:
            pass
        shut(server, client)

    def down(self, client, server, n):
        """Server to client, line by line (replies are lines)."""
        buf = b""
        try:
            while True:
                data = server.recv(65536)
                if not data:
                    break
                buf += data
                out = b""
                while b"\n" in buf:
                    line, buf = buf.split(b"\n", 1)
                    qid = self.count(line)
                    if qid is None and self.a.delay_ms and \
                            QUEUED.match(line):
                        if out:
                            client.sendall(out)
                            out = b""
                        time.sleep(self.a.delay_ms / 1000.0)
                    if qid is not None and qid.startswith("cut:"):
                        if out:
                            client.sendall(out)
                        if self.a.flag:
                            tmp = self.a.flag + ".tmp"
                            with open(tmp, "w") as f:
                                f.write(qid[4:] + "\n")
                            os.rename(tmp, self.a.flag)
                        self.log("connection %d: cut at reply %d: %s" %
                                 (n, self.seen, line.decode("ascii",
                                                            "replace")))
                        shut(client, server)
                        return
                    if qid is not None:
                        if out:
                            client.sendall(out)
                        tmp = self.a.flag + ".tmp"
                        with open(tmp, "w") as f:
                            f.write(qid + "\n")
                        os.rename(tmp, self.a.flag)
                        self.log("connection %d: reply %d held back: %s" %
                                 (n, self.seen, line.decode("ascii",
                                                            "replace")))
                        return	# silent both ways until the client goes
                    out += line + b"\n"
                if out:
                    client.sendall(out)
        except OSError:
            pass
        shut(client, server)

    def serve(self, client, n):
        try:
            server = socket.create_connection(("127.0.0.1", self.a.to))
        except OSError as e:
            self.log("connection %d: %s" % (n, e))
            client.close()
            return
        t = threading.Thread(target=self.down, args=(client, server, n),
                             daemon=True)
        t.start()
        self.up(client, server)
        t.join()
        client.close()
        server.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--listen", type=int, required=True)
    ap.add_argument("--to", type=int, required=True)
    ap.add_argument("--hold-at", type=int, default=0)
    ap.add_argument("--flag")
    ap.add_argument("--cut-at", type=int, default=0)
    ap.add_argument("--delay-ms", type=int, default=0)
    a = ap.parse_args()
    g = Gate(a)
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", a.listen))
    ls.listen(64)
    n = 0
    while True:
        c, _ = ls.accept()
        n += 1
        threading.Thread(target=g.serve, args=(c, n), daemon=True).start()


if __name__ == "__main__":
    main()
