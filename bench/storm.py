#!/usr/bin/env python3
"""storm.py PORT DOMAIN COUNT TIMEOUT - COUNT connections at once, each:
greeting, EHLO, ETRN DOMAIN, QUIT.  Prints key=value lines: wall=, the
replies by code, errors, lat_p50/p99/max.  Used by bench/flush.sh.
"""
import asyncio, collections, sys, time

port, domain, count, timeout = (int(sys.argv[1]), sys.argv[2],
                                int(sys.argv[3]), float(sys.argv[4]))
res = collections.Counter()
lat = []

async def reply(r):
    while True:
        line = await asyncio.wait_for(r.readline(), timeout)
        if not line:
            raise EOFError("connection closed")
        if line[3:4] != b"-":
            return line[:3].decode("ascii", "replace")

async def one(start):
    w = None
    try:
        r, w = await asyncio.wait_for(
            asyncio.open_connection("127.0.0.1", port), timeout)
        g = await reply(r)
        if g != "220":
            res["greeting_" + g] += 1
            return
        w.write(b"EHLO bench.test\r\n")
        if await reply(r) != "250":
            res["ehlo_not_250"] += 1
        w.write(b"ETRN " + domain.encode() + b"\r\n")
        c = await reply(r)
        lat.append(time.time() - start)
        res["etrn_" + c] += 1
        w.write(b"QUIT\r\n")
        await reply(r)
    except Exception as e:
        res["error_" + type(e).__name__] += 1
    finally:
        if w is not None:
            w.close()
            try:
                await w.wait_closed()
            except Exception:
                pass

async def main():
    start = time.time()
    await asyncio.gather(*(one(start) for _ in range(count)))
    return time.time() - start

wall = asyncio.run(main())
lat.sort()
q = lambda f: lat[min(len(lat) - 1, int(f * len(lat)))] if lat else 0
print("wall=%.3f" % wall)
for k in sorted(res):
    print("%s=%d" % (k, res[k]))
print("lat_p50=%.3f lat_p99=%.3f lat_max=%.3f" % (q(0.5), q(0.99),
                                                   lat[-1] if lat else 0))
