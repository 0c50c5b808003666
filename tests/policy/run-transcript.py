#!/usr/bin/env python3
"""run-transcript.py - drive etrn-policy with a transcript script.

usage: run-transcript.py PORT REDIS_SOCK SCRIPT.in   (writes to stdout)

Each line of SCRIPT.in is one step:
  # ...                comment (also "#conf ..." lines, read by the caller);
                       empty lines are skipped
  conn NAME            the following steps use connection NAME (opened on
                       first use; the first connection is "A")
  .                    send the empty line that ends a request, read one
                       answer and print "NAME: <answer lines joined by |>"
  raw LITERAL          send a Python bytes literal as is, e.g.
                       raw b"a=1\\x00\\n"
  read                 read one answer and print it, as "."
  wait-close           print "NAME: closed" if the server closes the
                       connection within 3 s, else "NAME: still open"
  shut                 close our sending side (the server sees EOF)
  redis ARGS...        run a Redis command; print "redis ARGS -> reply"
                       (numbers of 10 digits or more, times and stream
                       IDs, print as <time>)
  stop-redis           stop the Redis server (pid $REDIS_PID)
  sleep SECS
  anything else        sent as is, with a LF
An answer that does not come within 5 s prints "NAME: no answer".
"""
import ast
import re
import os
import signal
import socket
import subprocess
import sys
import time


def main():
    port, rsock, script = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    conns, cur = {}, ["A"]
    pending = {}

    def sock():
        name = cur[0]
        if name not in conns:
            conns[name] = socket.create_connection(("127.0.0.1", port), 5)
            pending[name] = b""
        return conns[name]

    def read_answer():
        s, name = sock(), cur[0]
        s.settimeout(5)
        buf = pending[name]
        try:
            while b"\n\n" not in buf:
                d = s.recv(4096)
                if not d:
                    print("%s: closed" % name)
                    pending[name] = b""
                    return
                buf += d
        except socket.timeout:
            print("%s: no answer" % name)
            pending[name] = buf
            return
        ans, _, rest = buf.partition(b"\n\n")
        pending[name] = rest
        print("%s: %s" % (name, ans.decode("utf-8", "replace")
                          .replace("\n", "|")))

    def wait_close():
        s, name = sock(), cur[0]
        s.settimeout(3)
        try:
            while True:
                d = s.recv(4096)
                if not d:
                    print("%s: closed" % name)
                    return
                pending[name] += d
        except socket.timeout:
            print("%s: still open" % name)
        except OSError:
            print("%s: closed" % name)

    for line in open(script, encoding="utf-8"):
        line = line.rstrip("\n")
        word, _, arg = line.partition(" ")
        if line.startswith("#") or line == "":
            continue
        if word == "conn":
            cur[0] = arg
        elif line == ".":
            sock().sendall(b"\n")
            read_answer()
        elif word == "raw":
            sock().sendall(ast.literal_eval(arg))
        elif word == "read":
            read_answer()
        elif word == "wait-close":
            wait_close()
        elif word == "shut":
            sock().shutdown(socket.SHUT_WR)
        elif word == "redis":
            out = subprocess.run(["redis-cli", "-s", rsock, "--raw"] +
                                 arg.split(), capture_output=True,
                                 text=True).stdout.strip()
            out = re.sub(r"\b\d{10,}(-\d+)?\b", "<time>", out)
            print("redis %s -> %s" % (arg, out.replace("\n", " ")))
        elif word == "stop-redis":
            os.kill(int(os.environ["REDIS_PID"]), signal.SIGTERM)
            for _ in range(100):
                if not os.path.exists(rsock):
                    break
                time.sleep(0.1)
            time.sleep(0.2)
        elif word == "sleep":
            time.sleep(float(arg))
        else:
            sock().sendall(line.encode("utf-8") + b"\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
