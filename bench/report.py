#!/usr/bin/env python3
"""bench/report.py WORKDIR CONC - the tables of bench/run, from its files.

Reads WORKDIR/results.tsv (one line per measured step; repetition 0 is
the warm-up and is left out), libbench.txt, mem.txt, generator.txt and
sigs.txt / sigdb.txt (the signature database). Every figure is the median
over the repetitions of one configuration and class. "Added" latency is
the configuration's median p50 (p99) minus the no-milter median p50 (p99)
of the same class. The ceiling of any libmilter filter is (d), the
do-nothing filter: each mode's throughput is also given as a ratio to it.
"""
import os
import re
import statistics
import sys

W = sys.argv[1]
CONC = sys.argv[2] if len(sys.argv) > 2 else "?"
TCK = os.sysconf("SC_CLK_TCK")
CLASSES = ["plain2k", "pdf100k", "zip600k", "eicarzip", "docx", "multi20"]
CFGS = ["none", "null", "clamav", "portcullis", "compare"]
LABEL = {"none": "a no milter", "clamav": "b clamav-milter",
         "portcullis": "c portcullis", "null": "d do-nothing",
         "compare": "e --compare"}


def med(xs):
    return statistics.median(xs) if xs else float("nan")


rows = {}
with open(os.path.join(W, "results.tsv")) as f:
    head = f.readline().split()
    for line in f:
        r = dict(zip(head, line.split()))
        if r["rep"] == "0":
            continue
        rows.setdefault((r["config"], r["class"]), []).append(r)

classes = [c for c in CLASSES if any((k, c) in rows for k in CFGS)]
cfgs = [k for k in CFGS if any((k, c) in rows for c in classes)]


def fig(cfg, cls):
    rs = rows.get((cfg, cls), [])
    # A step with tempfails or errors ended early: its rate says nothing.
    bad = [r for r in rs if int(r["tmp"]) or int(r["err"])]
    rs = [r for r in rs if r not in bad]
    if bad:
        SKIPPED.append("%s %s: %d of %d repetitions left out (tempfails "
                       "or errors)" % (cfg, cls, len(bad), len(bad) + len(rs)))
    if not rs:
        return None
    n = [int(r["n"]) for r in rs]

    def per_msg(key):
        return med([int(r[key]) * 1000.0 / TCK / int(r["n"]) for r in rs])
    return {
        "reps": len(rs),
        "rate": med([int(r["n"]) / float(r["wall_s"]) for r in rs]),
        "p50": med([float(r["p50_ms"]) for r in rs]),
        "p99": med([float(r["p99_ms"]) for r in rs]),
        "filter": per_msg("filter_ticks"),
        "clamd": per_msg("clamd_ticks"),
        "keeper": per_msg("keeper_ticks") if "keeper_ticks" in rs[0]
        else float("nan"),
        "rates": {r["rep"]: int(r["n"]) / float(r["wall_s"]) for r in rs},
        "cpus": [(int(r["filter_ticks"]) + int(r["clamd_ticks"])) * 1000.0 /
                 TCK / int(r["n"]) for r in rs],
        "postfix": per_msg("postfix_ticks"),
        "sink": per_msg("sink_ticks"),
        "sender": med([float(r["sender_cpu_s"]) * 1000 / int(r["n"])
                       for r in rs]),
        "hwm": med([int(r["hwm_kb"]) / 1024.0 for r in rs]),
        "pss": med([int(r.get("pss_kb", 0)) / 1024.0 for r in rs]),
        "pssmax": max(int(r.get("pss_kb", 0)) / 1024.0 for r in rs),
        "nproc": max(int(r.get("nproc", 1)) for r in rs),
        "ok": sum(int(r["ok"]) for r in rs),
        "rej": sum(int(r["rej"]) for r in rs),
        "n": sum(n),
    }


SKIPPED = []
F = {(k, c): fig(k, c) for k in cfgs for c in classes}
for line in SKIPPED:
    print("left out: %s" % line)


def ratio(a, b):
    if a is None or b is None or not b["rate"]:
        return "   -  "
    return "%5.2fx" % (a["rate"] / b["rate"])


def readkv(name):
    path = os.path.join(W, name)
    if not os.path.exists(path):
        return None
    return open(path).read().strip()


sigs, sigdb = readkv("sigs.txt"), readkv("sigdb.txt")
if sigdb:
    kv = dict(x.split("=", 1) for x in sigdb.split())
    sigdb = "test signatures + %s (%s files, %.1f MiB)" % (
        kv["sigdb"], kv["files"], int(kv["bytes"]) / 1048576)
print("\nSignature database: %s%s" % (
    sigdb or "test signatures only",
    "; Portcullis loaded %s" % sigs if sigs else ""))

print("\n## Against the ceiling (throughput / the do-nothing libmilter "
      "filter's, medians of one run)\n")
print("| class    | a no milter | b clamav-milter | c Portcullis "
      "| Portcullis / clamav-milter |")
print("|----------|-------------|-----------------|--------------|"
      "----------------------------|")
for c in classes:
    d = F.get(("null", c))
    p, m, n = F.get(("portcullis", c)), F.get(("clamav", c)), F.get(("none", c))
    print("| %-8s | %11s | %15s | %12s | %26s |" % (
        c, ratio(n, d), ratio(m, d), ratio(p, d), ratio(p, m)))

if "compare" in cfgs:
    print("\n## (e), the --compare binary, against (c) in the same run\n")
    print("| class    | c / d  | e / d  | e / c  | CPU ms c: milter + "
          "scanner | CPU ms e: milter + scanner |")
    print("|----------|--------|--------|--------|------------------------"
          "--|--------------------------|")
    for c in classes:
        d, p, e = (F.get((k, c)) for k in ("null", "portcullis", "compare"))
        if p is None or e is None:
            continue
        print("| %-8s | %6s | %6s | %6s | %11.2f + %10.2f | %11.2f + %10.2f |"
              % (c, ratio(p, d), ratio(e, d), ratio(e, p), p["filter"],
                 p["clamd"], e["filter"], e["clamd"]))
    # Repetition by repetition (c and e ran back to back in each), and
    # the scanner's CPU split between the keeper and its workers.
    print("\n| class    | e / c per repetition | CPU ms c: milter + keeper "
          "+ workers = total | CPU ms e: milter + keeper + workers = total "
          "| CPU e / c |")
    print("|----------|----------------------|-------------------------------"
          "-----------|-------------------------------------------|-----------|")
    for c in classes:
        p, e = F.get(("portcullis", c)), F.get(("compare", c))
        if p is None or e is None:
            continue
        per = [e["rates"][k] / p["rates"][k] for k in sorted(p["rates"])
               if k in e["rates"] and p["rates"][k]]
        tp, te = med(p["cpus"]), med(e["cpus"])
        print("| %-8s | %20s | %6.2f + %6.2f + %6.2f = %6.2f | %6.2f + %6.2f "
              "+ %6.2f = %6.2f | %8.2fx |" % (
                  c, " ".join("%.2f" % x for x in per), p["filter"],
                  p["keeper"], p["clamd"] - p["keeper"], tp, e["filter"],
                  e["keeper"], e["clamd"] - e["keeper"], te,
                  te / tp if tp else float("nan")))

print("\n## Per class and configuration (concurrency %s; medians over %s "
      "repetitions)\n" % (CONC, max((f["reps"] for f in F.values() if f),
                                    default=0)))
print("msg/s = messages accepted (or rejected, for eicarzip) per second "
      "of sending; / d = msg/s against the do-nothing filter's; latency = "
      "connect to final reply after DATA; +p50/+p99 = added over no "
      "milter; CPU = ms per message: the milter process (portcullis's "
      "libmilter process, the do-nothing filter, clamav-milter), the "
      "scanner (clamd; Portcullis's engine keeper and its scanning "
      "workers, summed), all Postfix processes, smtp-sink, the load "
      "generator; RSS = the filter's processes' VmHWM during the step, "
      "summed (counts a shared engine once per process); PSS = their "
      "proportional set size at the end of the step, summed.\n")
print("| class    | config          |  msg/s | / d    | p50 ms | p99 ms "
      "| +p50 ms | +p99 ms | CPU milter | CPU scanner | CPU postfix "
      "| CPU sink | CPU sender | RSS MiB | PSS MiB |")
print("|----------|-----------------|--------|--------|--------|--------|"
      "---------|---------|------------|-------------|-------------|"
      "----------|------------|---------|---------|")
for c in classes:
    base = F.get(("none", c))
    d = F.get(("null", c))
    for k in cfgs:
        f = F.get((k, c))
        if f is None:
            continue
        add50 = f["p50"] - base["p50"] if base else float("nan")
        add99 = f["p99"] - base["p99"] if base else float("nan")
        print("| %-8s | %-15s | %6.1f | %6s | %6.1f | %6.1f | %7.1f "
              "| %7.1f | %10.2f | %11.2f | %11.2f | %8.2f | %10.2f "
              "| %7.1f | %7.1f |" % (
                  c, LABEL[k], f["rate"], ratio(f, d).strip(), f["p50"],
                  f["p99"], add50 if k != "none" else 0,
                  add99 if k != "none" else 0, f["filter"], f["clamd"],
                  f["postfix"], f["sink"], f["sender"], f["hwm"], f["pss"]))

eng = readkv("engine.txt")
pcs = [f for (k, c), f in F.items() if f and k == "portcullis"]
if eng and pcs:
    kv = dict(x.split("=", 1) for x in eng.split())
    one = float(kv["rss_mib"])
    pss = max(f["pssmax"] for f in pcs)
    print("\nMemory of the engine: one engine alone (a process that only "
          "loads and compiles the database: %s signatures in %s s) %.0f MiB "
          "resident; Portcullis's processes (milter, keeper, %d workers) "
          "%.0f MiB PSS at most after a step: %.2fx one engine "
          "(target at most 1.25x)." % (kv.get("sigs", "?"),
                                       kv.get("total_s", "?"), one,
                                       max(f["nproc"] for f in pcs) - 2,
                                       pss, pss / one if one else 0))

gen = os.path.join(W, "generator.txt")
if os.path.exists(gen):
    kv = dict(x.split("=") for x in open(gen).read().split())
    rate = int(kv["ok"]) / float(kv["wall_s"])
    best = max((f["rate"] for (k, c), f in F.items()
                if f and c == "plain2k"), default=0)
    print("\nLoad generator alone (plain2k straight into smtp-sink, "
          "concurrency %s): %.0f msg/s, %.3f ms sender CPU per message; "
          "the fastest configuration above reached %.0f msg/s (%.0f%% of "
          "the generator's ceiling)." % (
              CONC, rate, float(kv["cpu_s"]) * 1000 / int(kv["sent"]),
              best, 100 * best / rate if rate else 0))

lb = os.path.join(W, "libbench.txt")
if os.path.exists(lb):
    print("\n## Library: scan_message() vs bare libclamav on the same "
          "decoded leaves (per message, CPU ms, median of 21 rounds)\n")
    print("| class    | scan_message | bare AV | overhead | MIME walk "
          "| libmagic | raw-message AV | wall: scan_message "
          "| wall: bare AV | GMime's reading alone | extra readings |")
    print("|----------|--------------|---------|----------|-----------|"
          "----------|----------------|--------------------|"
          "---------------|-----------------------|----------------|")
    tot_f = tot_b = tot_s = 0.0
    for line in open(lb):
        if line.startswith("#") or not line.strip():
            continue
        c, full, bare, ovh, walk, ty, raw, fw, bw, st, rd, v = line.split()
        tot_f += float(full)
        tot_b += float(bare)
        tot_s += float(st)
        print("| %-8s | %12s | %7s | %7s%% | %9s | %8s | %14s | %18s "
              "| %13s | %21s | %13s%% |" % (c, full, bare, ovh, walk, ty,
                                            raw, fw, bw, st, rd))
    if tot_b and tot_s:
        print("| all      | %12.3f | %7.3f | %7.1f%% |           |"
              "          |                |                    "
              "|               | %21.3f | %13.1f%% |" % (
                  tot_f, tot_b, (tot_f - tot_b) / tot_b * 100, tot_s,
                  (tot_f - tot_s) / tot_s * 100))

mem = os.path.join(W, "mem.txt")
if os.path.exists(mem):
    kv = dict(x.split("=") for x in open(mem).read().split())
    ini = open(os.path.join(os.path.dirname(os.path.abspath(__file__)),
                            "..", "policy", "portcullis.ini")).read()

    def size(key, default):
        m = re.search(r"^%s\s*=\s*(\d+)([KMG]?)" % key, ini, re.M)
        if not m:
            return default
        return int(m.group(1)) * {"": 1, "K": 1 << 10, "M": 1 << 20,
                                  "G": 1 << 30}[m.group(2)]
    membuf = size("memory_buffer", 2 << 20)
    msgmax = size("message_size", 20 << 20)
    scans = size("max_scans", 0) or int(kv.get("cpus", "2"))
    base = int(kv["base_kb"]) * 1024
    ceiling = base + scans * 2 * msgmax + 100 * membuf
    hwm = int(kv["hwm_kb"]) * 1024
    print("\n## Memory: 100 concurrent sessions, %.1f MiB messages, "
          "through Postfix + Portcullis\n" % (int(kv["message_bytes"]) /
                                               1048576))
    print("sender: ok=%s rej=%s tmp=%s err=%s in %.1f s" % (
        kv["ok"], kv["rej"], kv["tmp"], kv["err"], float(kv["wall_s"])))
    print("filter RSS before: %.0f MiB; peak (VmHWM): %.0f MiB; ceiling "
          "engine + max_scans(%d) x 2 x message_size(%d MiB) + 100 x "
          "memory_buffer(%d MiB) = %.0f MiB -> %s" % (
              base / 1048576, hwm / 1048576, scans, msgmax >> 20,
              membuf >> 20, ceiling / 1048576,
              "within" if hwm <= ceiling else "OVER by %.0f MiB" %
              ((hwm - ceiling) / 1048576)))
