#!/usr/bin/env python3
"""dropsink.py - a customer mail server that drops the link mid-DATA.

usage: dropsink.py PORT DIR [--take N]
Listens on 127.0.0.1:PORT.  The first N messages (default 0) are taken
whole and written to DIR; for every later message the connection is closed
in the middle of DATA, after the first body line, as a dial-up link that
went down would.  Runs until killed.
"""
import os
import socket
import sys
import threading

taken = 0
lock = threading.Lock()


def serve(conn, outdir, take):
    global taken
    f = conn.makefile("rb")

    def say(line):
        conn.sendall(line.encode() + b"\r\n")

    say("220 customer.test ESMTP dropsink")
    try:
        while True:
            line = f.readline()
            if not line:
                return
            cmd = line.strip().upper()
            if cmd.startswith(b"EHLO"):
                say("250-customer.test")
                say("250 8BITMIME")
            elif cmd.startswith(b"DATA"):
                say("354 go ahead")
                with lock:
                    keep = taken < take
                    if keep:
                        taken += 1
                        n = taken
                if not keep:
                    f.readline()        # one line of the message, then drop
                    conn.shutdown(socket.SHUT_RDWR)
                    return
                data = []
                while True:
                    l = f.readline()
                    if not l or l in (b".\r\n", b".\n"):
                        break
                    data.append(l)
                with open(os.path.join(outdir, "msg%05d" % n), "wb") as o:
                    o.writelines(data)
                say("250 2.0.0 taken")
            elif cmd.startswith(b"QUIT"):
                say("221 bye")
                return
            else:
                say("250 ok")
    except OSError:
        return
    finally:
        conn.close()


def main():
    port, outdir = int(sys.argv[1]), sys.argv[2]
    take = int(sys.argv[4]) if len(sys.argv) > 4 and sys.argv[3] == "--take" else 0
    os.makedirs(outdir, exist_ok=True)
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", port))
    s.listen(16)
    while True:
        c, _ = s.accept()
        threading.Thread(target=serve, args=(c, outdir, take),
                         daemon=True).start()


if __name__ == "__main__":
    main()
