#!/usr/bin/env python3
# test/e2e/load.py - bounded SMTP load for the e2e ring's worker cases.
#
# Sends COUNT distinct messages (each with its own token, Message-Id and
# Date, so that each has its own digest) from CONC threads, one message per
# SMTP session, and prints one line of key=value results. With --poison N
# the messages at N evenly spread places carry "X-Portcullis-Fault: KIND"
# (the fault-injection build obeys it; KIND cycles through --kinds).
# --retries R resends a message that got a 4xx up to R times (1 s apart),
# as a client MTA would. Every socket operation has a time-out.
#
#   load.py PORT PREFIX COUNT CONC [--poison N] [--kinds abort,oom]
#           [--retries R] [--out FILE]
# Result line: sent= ok1= tmp1= rej1= err1= (first try) ok= rej_poison=
# rej_other= tmp= err= (final) p50_ms= p99_ms= max_ms= (first tries of the
# messages without a fault) poison_ids=...
# --out FILE gets one line per message: id kind first-reply final-reply ms.
import argparse
import smtplib
import threading
import time
from email.utils import formatdate

ap = argparse.ArgumentParser()
ap.add_argument("port", type=int)
ap.add_argument("prefix")
ap.add_argument("count", type=int)
ap.add_argument("conc", type=int)
ap.add_argument("--poison", type=int, default=0)
ap.add_argument("--kinds", default="abort,oom")
ap.add_argument("--retries", type=int, default=0)
ap.add_argument("--out")
a = ap.parse_args()

kinds = a.kinds.split(",")
fault = {}
for j in range(a.poison):
    fault[(j * a.count) // a.poison + a.count // (2 * a.poison)] = \
        kinds[j % len(kinds)]


def message(i):
    tok = "%s-%d" % (a.prefix, i)
    hdr = ["From: load@example.net", "To: load@example.com",
           "Subject: %s" % tok, "Message-Id: <%s@example.net>" % tok,
           "Date: %s" % formatdate(localtime=False)]
    if i in fault:
        hdr.append("X-Portcullis-Fault: %s" % fault[i])
    body = "token %s\r\n%s" % (tok, ("load line %d\r\n" % i) * 40)
    return ("\r\n".join(hdr) + "\r\n\r\n" + body).encode()


def send(data, i):
    t0 = time.monotonic()
    try:
        s = smtplib.SMTP("127.0.0.1", a.port, timeout=300)
        try:
            s.ehlo("load.e2e.test")
            s.mail("%s-%d@example.net" % (a.prefix, i))
            s.rcpt("load@example.com")
            code, msg = s.data(data)
        finally:
            try:
                s.quit()
            except Exception:
                pass
        reply = "%d %s" % (code, msg.decode(errors="replace"))
    except smtplib.SMTPResponseException as e:
        reply = "%d %s" % (e.smtp_code, e.smtp_error.decode(errors="replace"))
    except Exception as e:
        reply = "ERR %s" % e
    return reply, (time.monotonic() - t0) * 1000.0


res = [None] * a.count
lock = threading.Lock()
nxt = [0]


def worker():
    while True:
        with lock:
            i = nxt[0]
            nxt[0] += 1
        if i >= a.count:
            return
        data = message(i)
        first, ms = send(data, i)
        final = first
        for _ in range(a.retries):
            if not final.startswith("4"):
                break
            time.sleep(1)
            final, _ = send(data, i)
        res[i] = (first, final, ms)


th = [threading.Thread(target=worker) for _ in range(a.conc)]
for t in th:
    t.start()
for t in th:
    t.join()


def cls(r):
    if r.startswith("2"):
        return "ok"
    if r.startswith("4"):
        return "tmp"
    if r.startswith("5"):
        return "rej_poison" if " 5.7.0 " in r else "rej_other"
    return "err"


c1 = {"ok": 0, "tmp": 0, "rej_poison": 0, "rej_other": 0, "err": 0}
cf = dict(c1)
lat = []
for i, (first, final, ms) in enumerate(res):
    c1[cls(first)] += 1
    cf[cls(final)] += 1
    if i not in fault:
        lat.append(ms)
lat.sort()


def pct(p):
    if not lat:
        return 0
    return lat[min(len(lat) - 1, int(p * len(lat)))]


if a.out:
    with open(a.out, "w") as f:
        for i, (first, final, ms) in enumerate(res):
            f.write("%d %s %r %r %.1f\n" % (i, fault.get(i, "-"), first,
                                            final, ms))
print("sent=%d ok1=%d tmp1=%d rej1=%d err1=%d ok=%d rej_poison=%d "
      "rej_other=%d tmp=%d err=%d p50_ms=%.0f p99_ms=%.0f max_ms=%.0f "
      "poison_ids=%s" % (
          a.count, c1["ok"], c1["tmp"], c1["rej_poison"] + c1["rej_other"],
          c1["err"], cf["ok"], cf["rej_poison"], cf["rej_other"], cf["tmp"],
          cf["err"], pct(0.5), pct(0.99), lat[-1] if lat else 0,
          ",".join(str(i) for i in sorted(fault)) or "-"))
