#!/usr/bin/env python3
"""tslog.py FILE OUT - copy the lines appended to FILE from now on to OUT,
each prefixed with the epoch time it was read; until SIGTERM.
"""
import signal, sys, time
signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
with open(sys.argv[1], "rb") as f, open(sys.argv[2], "w") as out:
    f.seek(0, 2)
    part = b""
    while True:
        line = f.readline()
        if not line:
            out.flush()
            time.sleep(0.01)
            continue
        part += line
        if part.endswith(b"\n"):
            out.write("%.3f %s" % (time.time(),
                                   part.decode("utf-8", "replace")))
            part = b""
