#!/usr/bin/env python3
"""report.py NAME RESULTS - print the report of bench/NAME.sh (expiry,
flush or connscale) from RESULTS, the results the script wrote with
write_results (bench/lib.sh): NUL-terminated "name=value" records, the
script's results R, the variables it named, "date" and "versions".
Figures are formatted as the shell's awk and printf would.
"""
import os, subprocess, sys

name, path = sys.argv[1:3]
with open(path, encoding="utf-8", errors="replace") as f:
    R = dict(rec.partition("=")[::2] for rec in f.read().split("\0") if rec)


def r(key, default=""):
    """R[key], or default when unset or empty (${R[key]:-default})."""
    return R.get(key) or default


def out(fmt, *args):
    sys.stdout.write(fmt % args)


def per_s(n, t):
    """n / t per second, rounded, or "-" (per_s)."""
    if t in ("", "-", "0", "0.000") or float(t) == 0:
        return "-"
    return "%.0f" % (float(n) / float(t))


def ratio(a, b):
    """a / b with 3 decimals, or "-" (ratio)."""
    s = "%s %s" % (a, b)
    if "-" in s or s.endswith(" 0.000"):
        return "-"
    return "%.3f" % (float(a) / float(b))


def median(key):
    """The median of the results key, an even count's mean with 3
    decimals, "-" if none (median)."""
    x = sorted((v for v in r(key).split(" ") if v not in ("", "-")),
               key=float)
    if not x:
        return "-"
    if len(x) % 2:
        return x[len(x) // 2]
    return "%.3f" % ((float(x[len(x) // 2 - 1]) + float(x[len(x) // 2])) / 2)


def cpu_table(*pairs):
    """The CPU table: medians of "KEY_cpu_*" labelled LABEL (cpu_table)."""
    fmt = "  %-10s %8s %8s %8s %8s %8s %8s\n"
    out(fmt, "", "machine", "Postfix", "(showq)", "etrnd", "redis", "sink")
    for k, label in zip(pairs[::2], pairs[1::2]):
        out(fmt, label, *(median("%s_cpu_%s" % (k, w)) for w in
                          ("machine", "postfix", "showq", "runner", "redis",
                           "sink")))


def num(x):
    """x as awk prints a number."""
    return "%d" % x if x == int(x) else "%.6g" % x


def header(title):
    print("openetrn %s, %s" % (title, R["date"]))
    print(R["versions"])


def expiry():
    n = R["MESSAGES"]

    def row(label, key, rate=False):
        out("%-50s %8s %8s\n", label, r(key, "-"),
            per_s(n, r(key, "-")) if rate else "")

    def ratio_row(label, a, b):
        x = ratio(R[a], R[b])
        if x == "-":
            s = ""
        elif float(x) > 1:
            s = "Postfix faster (x%.1f)" % float(x)
        else:
            s = "etrnd faster (x%.1f)" % (1 / float(x))
        out("%-50s %8s   %s\n", label, x, s)

    def per_ms(key):
        return "%.1f" % (1000 * float(R[key]) / float(n))

    header("expiry benchmark")
    print("%s messages of %s bytes per case (smtp-source -s %s, one sender, "
          "not timed), one run, (1) then (2), one sandbox;"
          % (n, R["SIZE"], R["SESSIONS"]))
    print("etrnd %s, verbose=no, dialup.test hold_time 1d warn_time 0; all "
          "due at once by one EVAL (ZADD score 0);" % R["interval"])
    print("Postfix: defer.test to a closed port, then maximal_queue_lifetime"
          " = bounce_queue_lifetime = 1s, reload, postqueue -f;")
    print("seconds from the EVAL (etrnd) or postqueue -f (Postfix); queue, "
          "sink and index polled every %ss" % R["POLL"])
    print()
    out("%-50s %8s %8s\n", "returned to sender (%s messages)" % n, "seconds",
        "msgs/s")
    row("etrnd: first queue file deleted", "etrnd_first_gone")
    row("etrnd: first DSN handed to delivery", "etrnd_submit_first")
    row("etrnd: (a) all queue files deleted (hold empty)", "etrnd_gone", 1)
    row("etrnd: (b) all DSNs handed to delivery", "etrnd_submit_last", 1)
    row("etrnd: (b) all DSNs at the internet sink", "etrnd_sink", 1)
    row("etrnd: (c) Redis index empty (held, expiry)", "etrnd_index", 1)
    row("etrnd: DSNs submitted and files gone", "etrnd_done", 1)
    row("Postfix: first message out of deferred", "postfix_first_out")
    row("Postfix: deferred queue empty", "postfix_deferred", 1)
    row("Postfix: all bounces created (bounce log)", "postfix_bounce_last", 1)
    row("Postfix: all originals removed (qmgr log)", "postfix_removed", 1)
    row("Postfix: bounces created and originals gone", "postfix_done", 1)
    row("Postfix: first bounce at the internet sink", "postfix_first_sink")
    row("Postfix: all bounces at the internet sink", "postfix_sink", 1)
    print()
    ratio_row("etrnd / Postfix, DSNs submitted and files gone", "etrnd_done",
              "postfix_done")
    ratio_row("etrnd / Postfix, all DSNs at the sink", "etrnd_sink",
              "postfix_sink")
    print()
    print('checks: etrnd logged %s "expired" (%s dsn=sent), postsuper removed'
          ' %s, DSNs handed to delivery %s, stats expired +%s, warnings %s;'
          % (R["etrnd_log_count"], R["etrnd_dsn_sent"],
             R["etrnd_removed_count"], R["etrnd_submit_count"],
             R["etrnd_expired"], R["etrnd_warnings"]))
    print("  afterwards etrn:held:dialup.test %s, etrn:expiry:%s %s, hold "
          "records %s; at the sink %s with null sender, %s Auto-Submitted, "
          "%s Message-ID <expired.*>"
          % (R["held_after"], R["HOST"], R["due_after"], R["msgkeys_after"],
             R["etrnd_sink_null"], R["etrnd_sink_auto"],
             R["etrnd_sink_ours"]))
    print('  Postfix: %s non-delivery notifications, %s originals removed; at'
          ' the sink %s with null sender, %s Auto-Submitted, %s "Undelivered'
          ' Mail Returned to Sender"'
          % (R["postfix_bounce_count"], R["postfix_removed_count"],
             R["postfix_sink_null"], R["postfix_sink_auto"],
             R["postfix_sink_subject"]))
    print("  accepted by smtp-source, msgs/s: dialup.test %s; defer.test %s; "
          "the EVAL making %s due took %s s"
          % (R["accept_etrnd"], R["accept_postfix"], n, R["t_due"]))
    print()
    a, b = int(R["mem_base"]), int(R["mem_held"])
    print("memory with %s held (before the expiry):" % n)
    out("  %-30s %s -> %s bytes (+%s, %s bytes per held message);",
        "Redis used_memory", a, b, b - a, "%.0f" % ((b - a) / int(n)))
    out(" after the expiry %s\n", R["mem_after"])
    a, b = R["rss_base"].split(None, 1)
    k, v = R["rss_held"].split(None, 1)
    out("  %-30s runner %s -> %s KiB, listener %s -> %s KiB",
        "etrnd RSS, none -> %s held" % n, a, k, b, v)
    out("; after the expiry runner %s, listener %s KiB\n",
        *R["rss_after"].split(None, 1))
    out("  %-30s %s s\n", "postqueue -j, %s held" % n, R["listing"])
    print()
    print("CPU seconds from start to done (machine = busy time of all CPUs, "
          "other tenants included):")
    cpu_table("etrnd", "etrnd", "postfix", "Postfix")
    print("  (etrnd: the queue runner with its postqueue, postcat, "
          "sendmail/postdrop and postsuper; Postfix: all its daemons, showq "
          "among them; sink: the internet smtp-sink)")
    print("  per message: etrnd runner and its commands %s ms, Postfix daemons"
          " %s ms (taking in and delivering the DSN); Postfix bouncing: its "
          "daemons %s ms" % (per_ms("etrnd_cpu_runner"),
                             per_ms("etrnd_cpu_postfix"),
                             per_ms("postfix_cpu_postfix")))
    print()
    print("etrnd, where the time goes (s after the EVAL; etrnd's log "
          "time-stamped as written):")
    for label, key in (('first "expired" logged', "etrnd_log_first"),
                       ('last "expired" logged', "etrnd_log_last"),
                       ("last queue file removed (postsuper log)",
                        "etrnd_removed_last")):
        out("  %-48s %s\n", label, R[key])
    sys.stdout.flush()
    subprocess.run([sys.executable, os.path.join(R["BENCH"], "prof-report.py"),
                    os.path.join(R["WORK"], "prof.out"), n, R["SAMPLE"],
                    R["EXTRAPOLATE"], R["EXP_BATCH"], R["etrnd_bursts"]],
                   check=True)


def flush():
    n = R["MESSAGES"]

    def row(label, key, rate=False):
        m = median(key)
        out("%-44s %8s %8s   %s\n", label, m, per_s(n, m) if rate else "",
            r(key))

    def total(key):
        return num(sum(float(v) for v in r(key, "0").split(" ") if v))

    busy = r("BUSY", "0") == "1"
    header("flush benchmark, %s" % ("BUSY: two CPU-bound busy loops" if busy
                                    else "quiet (no busy loops)"))
    print("%s messages of %s bytes per release (smtp-source -s %s, not timed),"
          " %s runs (order alternates), one sandbox, one customer sink;"
          % (n, R["SIZE"], R["SESSIONS"], R["RUNS"]))
    print("etrnd %s, verbose=no; Postfix queue_run_delay = "
          "minimal_backoff_time = 300s; seconds from ETRN sent; queue and "
          "sink polled every %ss" % (R["interval"], R["POLL"]))
    print("load average at the first run's start %s; 1-minute load at each"
          " run's start: etrnd %s, Postfix %s"
          % (r("load_start", "-"), r("load_etrnd", "-"),
             r("load_postfix", "-")))
    print("busy mode %s" % ("on: two python3 'while 1: pass' loops ran from"
                            " before the first run until after the last "
                            "(not in the storm)" if busy else "off"))
    print()
    out("%-44s %8s %8s   %s\n", "after ETRN (%s messages)" % n, "median",
        "msgs/s", "all runs")
    row("etrnd: ETRN answered", "etrnd_t_reply")
    row("etrnd: first message out of hold", "etrnd_first_out")
    row("etrnd: (a) all released (hold queue empty)", "etrnd_released", 1)
    row("etrnd: first message at the sink", "etrnd_first_sink")
    row("etrnd: (b) all delivered to the sink", "etrnd_delivered", 1)
    row("etrnd: (c) Redis index empty", "etrnd_indexed", 1)
    row("Postfix: ETRN answered", "postfix_t_reply")
    row("Postfix: first message out of deferred", "postfix_first_out")
    row("Postfix: all out of the deferred queue", "postfix_released", 1)
    row("Postfix: first message at the sink", "postfix_first_sink")
    row("Postfix: all delivered to the sink", "postfix_delivered", 1)
    print()
    b = float(median("postfix_delivered"))
    x = "%.3f" % (float(median("etrnd_delivered")) / b)
    out("%-44s %8s   target <= 1.00  %s  (%s)\n",
        "etrnd (b) / Postfix, ETRN to all delivered", x,
        "PASS" if float(x) <= 1.0 else "MISS", "busy" if busy else "quiet")
    h = median("etrnd_released")
    out("%-44s %8s   target <= 0.50  %s\n",
        "etrnd (a) all %s out of the hold queue, s" % n, h,
        "PASS" if h != "-" and float(h) <= 0.5 else "MISS")
    out("%-44s %8s   (information)\n", "etrnd (c) / Postfix all delivered",
        "%.3f" % (float(median("etrnd_indexed")) / b))
    out("%-44s  ", "ratio (b) by run")
    for a, b in zip(R["etrnd_delivered"].split(),
                    R["postfix_delivered"].split()):
        out(" %.3f", float(a) / float(b))
    print()
    print()
    print("CPU seconds from ETRN to done (medians; machine = busy time of all"
          " CPUs, other tenants included):")
    cpu_table("etrnd", "etrnd", "postfix", "fast flush")
    print("  (etrnd: the queue runner with its postsuper/postqueue commands; "
          "Postfix: all its daemons, showq among them)")

    def ms(key):
        m = median(key)
        return "-" if m == "-" else "%.3f" % (1000 * float(m) / float(n))

    print("etrnd's runner with its commands (utime+stime+cutime+cstime, "
          "sampled every %ss), medians:" % R["POLL"])
    out("  %-42s %6s s  %s ms/message   runs: %s\n",
        "ETRN to done (all delivered, index empty)",
        median("etrnd_cpu_runner"),
        ms("etrnd_cpu_runner"), r("etrnd_cpu_runner"))
    out("  %-42s %6s s  %s ms/message   runs: %s\n",
        "ETRN to hold queue empty (the release)", median("etrnd_cpu_release"),
        ms("etrnd_cpu_release"), r("etrnd_cpu_release"))
    out("  %-42s %6s s  %s ms/message   runs: %s\n",
        "hold queue empty to done (tracking)", median("etrnd_cpu_after"),
        ms("etrnd_cpu_after"), r("etrnd_cpu_after"))
    out("  %-42s %6s    runs: %s\n", "bursts of runner CPU after the release",
        median("etrnd_cpu_bursts"), r("etrnd_cpu_bursts"))
    print()
    print('replies: etrnd "%s"; Postfix "%s"'
          % (R["etrnd_reply"], R["postfix_reply"]))
    print("accepted by smtp-source, msgs/s: dialup.test %s; flush.test %s"
          % (R["accept_etrnd"], R["accept_postfix"]))
    print("etrnd, where the time goes (s after ETRN; etrnd's log time-stamped"
          " as written):")
    row('  release logged ("flush ... released=%s")' % n, "etrnd_log_flush")
    row('  first record removed ("left the queue")', "etrnd_log_gone_first")
    row("  last record removed", "etrnd_log_gone_last")
    row("  postqueue -j, %s messages held (s)" % n, "listing")
    print("  records removed %s, flushed counter +%s, put back on hold %s, "
          "warnings %s (all runs)"
          % (total("etrnd_log_gone_count"), total("etrnd_flushed"),
             total("etrnd_rehold"), total("etrnd_warnings")))
    print("  log: %s" % R["etrnd_flush_line"])
    print()
    c = R["CONNECTIONS"]
    print("%s concurrent connections to etrnd (EHLO, ETRN dialup.test, QUIT;"
          " %s messages held, etrnd_max_clients %s):"
          % (c, R["STORM_HELD"], R["MAX_CLIENTS"]))
    out("  %-30s %s s, %s connections/s\n", "wall time", R["storm_wall"],
        per_s(c, R["storm_wall"]))
    for v in R["storm"].split("\n"):
        k, val = v.split("=", 1)[0], v.partition("=")[2]
        if v.startswith("wall="):
            continue
        if v.startswith("etrn_"):
            out("  %-30s %s\n", "ETRN reply " + k[5:], val)
        elif v.startswith("greeting_"):
            out("  %-30s %s\n", "greeting %s (refused)" % k[9:], val)
        elif v.startswith(("error_", "ehlo_")):
            out("  %-30s %s\n", k, val)
        elif v.startswith("lat_"):
            out("  %-30s %s\n", "connect to ETRN reply, s",
                v.replace("lat_", ""))
    out("  %-30s %s\n", "refusals logged", R["storm_refused"])
    out("  %-30s %s\n", "accept pauses logged", R["storm_paused"])
    a, b = R["rss_before"].split(None, 1)
    k, v = R["rss_after"].split(None, 1)
    out("  %-30s runner %s -> %s KiB, listener %s -> %s KiB\n",
        "etrnd RSS before -> after", a, k, b, v)
    for label, val in (("same listener process", R["storm_same_listener"]),
                       ("ETRN afterwards", R["storm_after"]),
                       ("%s held delivered" % R["STORM_HELD"],
                        R["storm_delivered"])):
        out("  %-30s %s\n", label, val)


def connscale():
    n = R["CONNECTIONS"]
    C = {}
    with open(os.path.join(R["WORK"], "client.out")) as f:
        for tok in f.read().replace(" ", "\n").split("\n"):
            k, _, v = tok.partition("=")
            C[k] = v

    def c(key, default="?"):
        return C.get(key) or default

    def counts(prefix, every=False):
        s = ["%s=%s" % (k[len(prefix):], C[k]) for k in sorted(C)
             if k.startswith(prefix) and
             (every or (len(k) == len(prefix) + 3 and
                        k[len(prefix):].isdigit()))]
        return ", ".join(s) or "none"

    def mib(k):
        return "%.1f" % (k / 1024)

    def target(label, fig, op, tgt, x, ok=True):
        x = float("%.9f" % x)
        good = {">=": x >= 1, "<": x < 1}.get(op, x <= 1)
        out("%-46s %9s   %-10s ratio %6.2f  %s\n", label, fig,
            "%s %s" % (op, tgt), x,
            "PASS" if fig != "-" and ok and good else "MISS")

    ok = c("open_at_dialogue", "0") == n and c("completed", "0") == n
    rate = per_s(c("completed", "0"), c("total_s", "0"))
    crate = per_s(c("held", "0"), c("connect_s", "0"))
    drate = per_s(c("completed", "0"), c("dialogue_s", "0"))
    header("connection-scale benchmark")
    print("%s connections to etrnd's ETRN listener (bench/connclient, epoll);"
          " each: 220, EHLO x, ETRN dialup.test, QUIT;" % n)
    print("all held open after their greeting until the last is greeted, "
          "then every dialogue at once; at most %s connects waiting; sources "
          "%s; %s messages held for"
          % (R["WINDOW"], "127.0.0.1" if R["SOURCES"] == "0" else
             "127.1.0.1 + i %% %s" % R["SOURCES"], R["HELD"]))
    print("dialup.test, etrnd's queue runner %s"
          % ("stopped while the client ran" if R["RUNNER"] == "stop" else
             "running"))
    print("etrnd: %s" % " ".join(R["SETTINGS"].replace(" ", "").splitlines()))
    if r("unknown"):
        print("not known to this etrnd, left out: %s" % R["unknown"])
    print("descriptor limit (soft hard): client %s, listener %s"
          % (R["ulimit"], R["nofile"]))
    print()
    for label, val in (
            ("opened / greeted / open at once", "%s / %s / %s"
             % (c("opened"), c("held"), c("open_at_dialogue"))),
            ("dialogues completed (221)", c("completed")),
            ("greetings", counts("greeting_")),
            ("EHLO replies", counts("ehlo_")),
            ("ETRN replies", counts("etrn_")),
            ("QUIT replies", counts("quit_")),
            ("errors", counts("error_", True)),
            ("not closed by etrnd after 221", c("server_not_closed", "0"))):
        out("  %-44s %s\n", label, val)
    for label, key, x in (
            ("connect phase (connect to last greeting)", "connect_s", crate),
            ("dialogue phase (EHLO to last 221)", "dialogue_s", drate),
            ("whole run (first connect to last 221)", "total_s", rate)):
        out("  %-44s %8s s  %8s /s\n", label, c(key), x)
    for label, w in (("connect to greeting p50 / p99 / max", "greet"),
                     ("ETRN sent to reply p50 / p99 / max", "etrn")):
        out("  %-44s %s / %s / %s ms\n", label, c(w + "_p50"), c(w + "_p99"),
            c(w + "_max"))
    out("  %-44s client %s, listener %s, redis %s\n", "CPU seconds",
        R["cpu_client"], R["cpu_listener"], R["cpu_redis"])
    out("  %-44s %s / %s / %s (all open: %s) KiB\n",
        "listener VmRSS before / peak / after", R["rss_before"],
        R["rss_peak"], R["rss_after"], R["rss_at_open"])
    out("  %-44s %s samples, one every %s ms; after = %s s after\n", "",
        R["samples"], R["interval"], R["SETTLE"])
    out("  %-44s %s / %s KiB\n", "listener VmHWM (peak) before / after",
        R["hwm_before"], R["hwm_after"])
    for label, val in (
            ("listener descriptors before / after",
             "%s / %s" % (R["fds_before"], R["fds_after"])),
            ("refusals / accept pauses logged",
             "%s / %s" % (R["refused"], R["paused"])),
            ("same listener process", R["same_listener"]),
            ("ETRN afterwards", R["etrn_after"])):
        out("  %-44s %s\n", label, val)
    print()
    print("targets (one run):")
    t_rate, t_peak, t_back = (int(R[k]) for k in ("T_RATE", "T_PEAK",
                                                  "T_BACK"))
    target("(a) completed dialogues/s, whole run", rate, ">=", t_rate,
           float(rate.replace("-", "0", 1)) / t_rate, ok)
    target("(a) connections/s, connect phase", crate, ">=", t_rate,
           float(crate.replace("-", "0", 1)) / t_rate, ok)
    peak = int(R["rss_peak"])
    target("(b) listener peak VmRSS, MiB", mib(peak), "<", t_peak,
           peak / (t_peak * 1024))
    d = int(R["rss_after"]) - int(R["rss_before"])
    target("(c) listener VmRSS after - before, MiB", mib(d), "<=", t_back,
           abs(d) / (t_back * 1024))
    if not ok:
        print("(a) is a MISS: not every connection was open at once and "
              "completed (open at once %s, completed %s of %s)"
              % (c("open_at_dialogue", "0"), c("completed", "0"), n))


{"expiry": expiry, "flush": flush, "connscale": connscale}[name]()
