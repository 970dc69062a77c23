#!/usr/bin/env python3
"""bench/loadwatch.py - memory samples and the report of bench/reload-load.

usage: loadwatch.py sample PIDFILE OUT [INTERVAL_S]
       loadwatch.py stamp < LOG > STAMPED
       loadwatch.py report WORKDIR

stamp: copies its input, each line prefixed by the wall clock of its
arrival (unix s; the daemon's stderr lines carry no time).

sample: every INTERVAL_S (0.2) seconds until PIDFILE is removed, one line
to OUT: wall clock (unix s), the summed Pss and Rss (KiB, from
/proc/PID/smaps_rollup) of the process tree whose root pid PIDFILE holds
(read at every sample: the caller rewrites it when it restarts the daemon;
other daemons on the machine never count), MemAvailable (KiB), and each
process as PID:COMM:PSS:RSS. A process that ends between the listing and the
read counts 0.

report: reads WORKDIR/events (lines "TIME NAME [VALUE]" written by
bench/reload-load), WORKDIR/timeline (bench/sender.c -T), WORKDIR/mem
(sample), WORKDIR/daemon.log (each line prefixed by its wall clock) and
WORKDIR/sink.txt, and prints the figures: the window from the event (the
signal, the kill) to the recovery, the messages started or finished in
it and how each ended, the tempfail replies and the daemon's lines that
explain them, the throughput before, during and after, the peak PSS of the
tree and the drop of MemAvailable in the window against the 10 s before.
Exit 1 if a check failed (a message lost or delivered without inspection,
a tempfail during a reload).
"""
import os
import re
import statistics
import sys
import time


def tree(root):
    """The pids of root and its descendants, with their comm."""
    kids, comm = {}, {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                s = f.read()
        except OSError:
            continue
        r = s.rfind(")")
        comm[int(d)] = s[s.find("(") + 1:r]
        ppid = int(s[r + 2:].split()[1])
        kids.setdefault(ppid, []).append(int(d))
    out, todo = [], [root]
    while todo:
        p = todo.pop()
        if p not in comm:
            continue
        out.append((p, comm[p]))
        todo.extend(kids.get(p, []))
    return out


def rollup(pid):
    pss = rss = 0
    try:
        with open("/proc/%d/smaps_rollup" % pid) as f:
            for line in f:
                if line.startswith("Pss:"):
                    pss = int(line.split()[1])
                elif line.startswith("Rss:"):
                    rss = int(line.split()[1])
    except OSError:
        pass
    return pss, rss


def memavail():
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1])
    return 0


def sample(pidfile, out, interval):
    with open(out, "a") as o:
        while True:
            try:
                with open(pidfile) as f:
                    root = int(f.read().strip() or 0)
            except FileNotFoundError:
                return
            except ValueError:
                root = 0
            t = time.time()
            # the daemon, its keeper and workers; not the log stamper
            procs = [(p, c) for p, c in (tree(root) if root > 0 else [])
                     if c.startswith("portcullis")]
            tp = tr = 0
            parts = []
            for p, c in procs:
                pss, rss = rollup(p)
                tp += pss
                tr += rss
                parts.append("%d:%s:%d:%d" % (p, c, pss, rss))
            o.write("%.3f %d %d %d %s\n" % (t, tp, tr, memavail(),
                                            " ".join(parts)))
            o.flush()
            time.sleep(max(0.0, interval - (time.time() - t)))


def read_events(w):
    ev = []
    with open(os.path.join(w, "events")) as f:
        for line in f:
            x = line.split(None, 2)
            if len(x) >= 2:
                ev.append((float(x[0]), x[1], x[2].strip() if len(x) > 2
                           else ""))
    return ev


def first(ev, name):
    for t, n, v in ev:
        if n == name:
            return t, v
    return None, None


def mib(kb):
    return kb / 1024.0


def report(w):
    ev = read_events(w)
    kind = first(ev, "event")[1] or "?"
    t_ev = first(ev, "event")[0]
    t_rec = first(ev, "recovered")[0]
    t_load0 = first(ev, "load-start")[0]
    t_load1 = first(ev, "load-stop")[0]
    bad = 0

    msgs = []
    with open(os.path.join(w, "timeline")) as f:
        for line in f:
            x = line.rstrip("\n").split(" ", 3)
            msgs.append((float(x[0]), float(x[1]), x[2],
                         x[3] if len(x) > 3 else ""))
    tot = {s: sum(1 for m in msgs if m[2] == s) for s in "ORTE"}
    print("load: %d messages (%d accepted, %d tempfailed, %d rejected, "
          "%d errors) in %.0f s" % (len(msgs), tot["O"], tot["T"],
                                    tot["R"], tot["E"], t_load1 - t_load0))
    if t_ev is None:
        print("no event recorded")
        return 1
    end = t_rec if t_rec is not None else t_load1
    print("event: %s at +%.1f s of load; recovered %s" % (
        kind, t_ev - t_load0, "after %.1f s" % (t_rec - t_ev)
        if t_rec is not None else "NOT within the bound"))

    # messages in flight at some moment of the window
    win = [m for m in msgs if m[1] >= t_ev and m[0] <= end]
    wt = {s: sum(1 for m in win if m[2] == s) for s in "ORTE"}
    print("messages in the window (started before its end, finished "
          "after its start): %d: %d accepted, %d tempfailed, %d rejected, "
          "%d errors" % (len(win), wt["O"], wt["T"], wt["R"], wt["E"]))

    def rate(a, b):
        n = sum(1 for m in msgs if a <= m[1] < b and m[2] == "O")
        return n / (b - a) if b > a else float("nan")
    pre0 = max(t_load0, t_ev - 30)
    print("accepted per second: before %.1f (the 30 s before), during "
          "%.1f, after %.1f" % (rate(pre0, t_ev), rate(t_ev, end),
                               rate(end, t_load1)))
    lat = sorted(m[1] - m[0] for m in win if m[2] == "O")
    latb = sorted(m[1] - m[0] for m in msgs
                  if pre0 <= m[1] < t_ev and m[2] == "O")
    if lat and latb:
        print("latency of accepted messages, p50/max s: before %.2f/%.2f, "
              "window %.2f/%.2f" % (statistics.median(latb), latb[-1],
                                    statistics.median(lat), lat[-1]))

    # the tempfails: their replies and when
    tf = [m for m in msgs if m[2] in "TE"]
    if tf:
        why = {}
        for m in tf:
            why[m[3]] = why.get(m[3], 0) + 1
        print("not accepted (T = 4xx, E = no reply), by reply:")
        for k, n in sorted(why.items(), key=lambda x: -x[1]):
            print("  %5d  %s" % (n, k or "(connection failed)"))
        print("  first at +%.1f s, last at +%.1f s from the event" % (
            min(m[1] for m in tf) - t_ev, max(m[1] for m in tf) - t_ev))

    # the daemon's log: reload and worker lines, and errors
    log = []
    p = os.path.join(w, "daemon.log")
    if os.path.exists(p):
        with open(p, errors="replace") as f:
            for line in f:
                x = line.rstrip("\n").split(" ", 1)
                try:
                    log.append((float(x[0]), x[1] if len(x) > 1 else ""))
                except ValueError:
                    continue
    keys = re.compile(r"signature|keeper|worker|reload|not ready|"
                      r"scan failed|no answer|error|starting|stopp", re.I)
    shown = [(t, s) for t, s in log if t >= t_ev - 1 and keys.search(s) and
             "action=" not in s]
    print("daemon log from the event (%d lines of interest):" % len(shown))
    for t, s in shown[:40]:
        print("  %+8.2f s  %s" % (t - t_ev, s[:160]))
    if len(shown) > 40:
        print("  ... %d more in %s" % (len(shown) - 40, p))
    nerr = sum(1 for t, s in log if "action=tempfail" in s and
               t >= t_load0)
    print("verdict lines with action=tempfail in the log during the load: "
          "%d (the start-up probes before it left out)" % nerr)
    boot = [s for t, s in log if t < t_load0 and "event=signatures result=loaded" in s]
    if boot:
        print("at start: %s" % boot[0].split(": ", 1)[-1][:160])

    loaded = [t for t, s in log if t >= t_ev and "event=signatures result=loaded" in s]
    t_new = first(ev, "new-worker")[0]
    if kind == "reload":
        if loaded:
            print("signal -> new engine compiled (log): %.1f s" %
                  (loaded[0] - t_ev))
        if t_new is not None:
            print("signal -> first new worker running (every message "
                  "dispatched from then on goes to the new ones): %.1f s"
                  % (t_new - t_ev))
            srv = [m for m in msgs if m[0] >= t_new and m[2] == "O"]
            if srv:
                print("signal -> first message accepted that started "
                      "after it: %.1f s" % (min(m[1] for m in srv) - t_ev))
        if t_rec is not None:
            print("signal -> every old worker gone: %.1f s" % (t_rec - t_ev))
        if wt["T"] + wt["E"]:
            print("CHECK FAILED: %d messages tempfailed or failed during "
                  "the reload (target: none)" % (wt["T"] + wt["E"]))
            bad = 1
        else:
            print("check: no message tempfailed during the reload")

    else:
        rl = first(ev, "relaunch")[0]
        if rl is not None:
            print("daemon started again %.1f s after the kill" % (rl - t_ev))
            srv = [m for m in msgs if m[0] >= rl and m[2] == "O"]
            if srv:
                print("  its first accepted message: %.1f s after the "
                      "kill" % (min(m[1] for m in srv) - t_ev))
        if first(ev, "old-alive")[0] is not None:
            print("CHECK FAILED: processes of the killed daemon still "
                  "ran 30 s later: %s" % first(ev, "old-alive")[1])
            bad = 1
        elif first(ev, "old-gone")[0] is not None:
            print("the killed daemon's keeper and workers ended %.1f s "
                  "after it" % (first(ev, "old-gone")[0] - t_ev))
        srv = [m for m in msgs if m[0] >= t_ev and m[2] == "O"]
        if srv:
            print("first message started after the event and accepted: "
                  "%.1f s after it" % (min(m[1] for m in srv) - t_ev))

    # memory
    mem = []
    p = os.path.join(w, "mem")
    if os.path.exists(p):
        with open(p) as f:
            for line in f:
                x = line.split()
                if len(x) >= 4:
                    mem.append((float(x[0]), int(x[1]), int(x[2]),
                                int(x[3]), x[4:]))
    base = [m for m in mem if t_ev - 10 <= m[0] < t_ev and m[1] > 0]
    inw = [m for m in mem if t_ev <= m[0] <= end]
    if base and inw:
        bp = statistics.median(m[1] for m in base)
        ba = statistics.median(m[3] for m in base)
        pk = max(inw, key=lambda m: m[1])
        lo = min(m[3] for m in inw)
        print("memory samples: %d (every %.2f s)" % (len(mem), (mem[-1][0] -
              mem[0][0]) / max(1, len(mem) - 1)))
        print("PSS of the process tree: %.0f MiB before (median of the 10 s "
              "before), peak %.0f MiB at +%.1f s (%d processes: %s)" % (
                  mib(bp), mib(pk[1]), pk[0] - t_ev, len(pk[4]),
                  ", ".join("%s %.0f" % (x.split(":")[1], mib(int(
                      x.split(":")[2]))) for x in pk[4])))
        # the last complete sample (one taken as the event came may have
        # lost a process between the listing and the read)
        full = [m[4] for m in base if all(not x.split(":")[2] == "0"
                                          for x in m[4])]
        last = full[-1] if full else base[-1][4]
        print("each process just before the event, PSS / RSS MiB: %s" %
              ", ".join("%s %.0f / %.0f" % (
                  x.split(":")[1], mib(int(x.split(":")[2])),
                  mib(int(x.split(":")[3]) if x.count(":") >= 3 else 0))
                  for x in last))
        print("MemAvailable: %.0f MiB before, lowest %.0f MiB in the "
              "window: drop %.0f MiB" % (mib(ba), mib(lo), mib(ba - lo)))
        af = [m for m in mem if m[0] > end and m[1] > 0]
        if af:
            print("PSS after the recovery: %.0f MiB (median)" % mib(
                statistics.median(m[1] for m in af)))

    # what the sink received
    p = os.path.join(w, "sink.txt")
    if os.path.exists(p):
        kv = dict(x.split("=") for x in open(p).read().split())
        got, ok, bare = int(kv["delivered"]), int(kv["accepted"]), \
            int(kv["uninspected"])
        print("sink: %d delivered for %d accepted; %d delivered without "
              "X-Portcullis" % (got, ok, bare))
        if got != ok or bare != 0:
            print("CHECK FAILED: lost, duplicated or uninspected mail")
            bad = 1
        else:
            print("check: every accepted message delivered once, each "
                  "inspected")
    for t, n, v in ev:
        if n == "startup-ms":
            print("start-up to the first accepted message: %.1f s" %
                  (int(v) / 1000.0))
    return bad


def main():
    if len(sys.argv) >= 4 and sys.argv[1] == "sample":
        sample(sys.argv[2], sys.argv[3],
               float(sys.argv[4]) if len(sys.argv) > 4 else 0.2)
        return 0
    if len(sys.argv) == 2 and sys.argv[1] == "stamp":
        for line in sys.stdin:
            sys.stdout.write("%.3f %s" % (time.time(), line))
            sys.stdout.flush()
        return 0
    if len(sys.argv) == 3 and sys.argv[1] == "report":
        return report(sys.argv[2])
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main())
