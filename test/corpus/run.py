# test/corpus/run.py - the corpus ring, started by test/corpus/run.
#
# 1. make-corpus writes every message into a scratch directory, and
#    make-evasion the evasion corpus into another (test/corpus/evasion.cases);
# 2. test/signatures/make-testdb (when present) builds the test signature
#    database; without it the cases marked "av" are skipped, visibly;
# 3. every case of test/corpus/cases and evasion.cases runs
#       $PORTCULLIS scan --explain --policy P [--signatures DB] ARGS FILE
#    (and again with $PORTCULLIS_ASAN when set), each bounded to 60 s, and the
#    JSON line is checked against the case; "strip" cases also check the
#    message written with --output.
# Prints "ok NAME" or "FAIL NAME: got X, want Y" per run, then
# "N passed, N failed". Exit status 1 on any failure.
import email
import email.policy
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.environ.get("top_srcdir") or os.path.normpath(
    os.path.join(HERE, "..", ".."))
TIMEOUT = 60

ACTIONS = {"accept", "reject", "tempfail", "discard", "hold"}
DISPOSITIONS = {"accept", "tag", "strip", "hold", "discard", "tempfail",
                "reject"}
RULES = {"virus", "unscanned", "blocked_extension", "blocked_type",
         "encrypted", "unreadable", "size_limit", "count_limit",
         "depth_limit", "archive_bomb", "time_limit", "malformed", "ambiguous",
         "name_mismatch", "partial", "archive_anomaly", "stale_signatures",
         "error", "poison", "encrypted_opened", "encrypted_message"}
# Findings that say nothing about the message itself.
IGNORED_FOR_NONE = {"stale_signatures"}
# Python email defects that mean the structure is broken.
STRUCTURAL_DEFECTS = {
    "NoBoundaryInMultipartDefect", "StartBoundaryNotFoundDefect",
    "CloseBoundaryNotFoundDefect", "FirstHeaderLineIsContinuationDefect",
    "MisplacedEnvelopeHeaderDefect", "MissingHeaderBodySeparatorDefect",
    "MultipartInvariantViolationDefect", "InvalidMultipartContentTransfer"
    "EncodingDefect", "InvalidBase64PaddingDefect",
    "InvalidBase64CharactersDefect", "InvalidBase64LengthDefect"}

passed = 0
failed = 0
skipped = 0


def out(line):
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def ok(name):
    global passed
    passed += 1
    out("ok " + name)


def fail(name, why, extra=()):
    global failed
    failed += 1
    out("FAIL %s: %s" % (name, why))
    for e in extra:
        out("    " + e)


def clip(s, n=1500):
    return s if len(s) <= n else s[:n] + "...[%d more]" % (len(s) - n)


# ---- the case table ------------------------------------------------------

class Case:
    pass


def load_cases(path):
    cases = []
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            s = line.strip()
            if not s or s.startswith("#"):
                continue
            cols = [c.strip() for c in s.split("|")]
            if len(cols) != 6:
                raise SystemExit("%s:%d: want 6 columns, got %d" %
                                 (path, lineno, len(cols)))
            c = Case()
            c.name, c.msg, args, c.action, rules, checks = cols
            c.args = shlex.split(args)
            c.rules = [] if rules in ("", "-") else \
                [r.strip() for r in rules.split(",")]
            c.checks = checks.split()
            c.av = "av" in c.checks
            c.strip = "strip" in c.checks
            c.lineno = lineno
            for r in c.rules:
                for alt in r.lstrip("!").split("/"):
                    if alt != "none" and alt not in RULES:
                        raise SystemExit("%s:%d: unknown rule %s" %
                                         (path, lineno, alt))
            cases.append(c)
    return cases


# ---- checking one result ---------------------------------------------------

def want_action(spec, got):
    if spec == "any":
        return got in ACTIONS
    if spec.startswith("!"):
        return got in ACTIONS and got not in spec[1:].split("/")
    return got in spec.split("/")


def summary(js):
    fs = ", ".join("%s@%s%s" % (f.get("rule"), f.get("part"),
                                "(%s)" % f.get("detail") if f.get("detail")
                                else "")
                   for f in js.get("findings", []))
    return "action=%s findings=[%s]" % (js.get("action"), fs)


def short(js):
    rules = sorted({f.get("rule") for f in js.get("findings", [])})
    return "%s [%s]" % (js.get("action"), ",".join(rules) or "no findings")


def want_summary(c):
    return "action=%s rules=%s %s" % (c.action, ",".join(c.rules) or "-",
                                      " ".join(x for x in c.checks
                                               if x not in ("av", "strip",
                                                            "xhdr")))


def location_ok(f, checks):
    for ch in checks:
        if ch.startswith("part="):
            if f.get("part") != ch[5:]:
                return False
        elif ch.startswith("part~"):
            if ch[5:] not in (f.get("part") or ""):
                return False
        elif ch.startswith("part%"):
            if not re.fullmatch(ch[5:], f.get("part") or ""):
                return False
        elif ch.startswith("file~"):
            if ch[5:].lower() not in (f.get("filename") or "").lower():
                return False
        elif ch.startswith("detail~"):
            if ch[7:].lower() not in (f.get("detail") or "").lower():
                return False
    return True


def check_json(c, js, explain):
    """Returns a list of problems (empty = good)."""
    probs = []
    for k in ("file", "action", "disposition", "modified", "quarantined",
              "findings"):
        if k not in js:
            probs.append("JSON has no \"%s\"" % k)
    if probs:
        return probs
    if js["action"] not in ACTIONS:
        probs.append("unknown action %r" % js["action"])
    if js["disposition"] not in DISPOSITIONS:
        probs.append("unknown disposition %r" % js["disposition"])
    findings = js["findings"]
    if not isinstance(findings, list):
        return probs + ["findings is not a list"]
    for f in findings:
        if not isinstance(f, dict) or f.get("rule") not in RULES:
            probs.append("bad finding %r" % (f,))
    if probs:
        return probs

    # Never "clean" for mail that was not fully inspected (issue 4).
    xp = js.get("x_portcullis")
    if isinstance(xp, str) and xp.startswith("clean") and (
            js.get("scanned") is False or
            {f["rule"] for f in findings} - IGNORED_FOR_NONE):
        probs.append("x_portcullis says clean (scanned=%s, %d findings)" %
                     (js.get("scanned"), len(findings)))
    if not want_action(c.action, js["action"]):
        probs.append("action")
    got_rules = {f["rule"] for f in findings}
    positive = set()
    for r in c.rules:
        if r == "none":
            if got_rules - IGNORED_FOR_NONE:
                probs.append("findings (want none)")
        elif r.startswith("!"):
            if r[1:] in got_rules:
                probs.append("unexpected %s" % r[1:])
        else:
            alts = set(r.split("/"))
            positive |= alts
            if not alts & got_rules:
                probs.append("no %s" % r)
    loc = [x for x in c.checks if re.match(r"(part|file|detail)[=~%]", x)]
    if loc and positive and not probs:
        cand = [f for f in findings if f["rule"] in positive]
        if not any(location_ok(f, loc) for f in cand):
            probs.append("no %s finding with %s" % ("/".join(sorted(
                positive)), " ".join(loc)))
    for ch in c.checks:
        if ch.startswith("disp=") and js["disposition"] != ch[5:]:
            probs.append("disposition %s" % js["disposition"])
        if ch.startswith("modified="):
            if js["modified"] != (ch[9:] == "true"):
                probs.append("modified %s" % js["modified"])
        if ch.startswith("quarantined="):
            if js["quarantined"] != (ch[12:] == "true"):
                probs.append("quarantined %s" % js["quarantined"])
        if ch.startswith("reply~"):
            if ch[6:] not in (js.get("reply") or ""):
                probs.append("reply %r" % js.get("reply"))
    # --explain must describe the decision, with the path where we know it.
    if not explain.strip():
        probs.append("no --explain lines")
    else:
        for ch in loc:
            if ch.startswith("part=") or ch.startswith("part~"):
                if ch[5:] not in explain:
                    probs.append("--explain does not mention %s" % ch[5:])
            elif ch.startswith("part%"):
                rx = ch[5:]
                if rx.endswith("(/.*)?"):
                    rx = rx[:-len("(/.*)?")]
                if not re.search(rx, explain):
                    probs.append("--explain does not mention %s" % ch[5:])
    return probs


def walk_leaves(m):
    return [p for p in m.walk() if not p.is_multipart()]


def check_strip(c, info, outfile):
    """The delivered message after a strip. Returns problems."""
    probs = []
    if info is None:
        return ["make-corpus wrote no manifest entry for %s" % c.msg]
    if not os.path.exists(outfile):
        return ["--output wrote no %s" % os.path.basename(outfile)]
    with open(outfile, "rb") as f:
        data = f.read()
    norm = data.replace(b"\r\n", b"\n")
    m = email.message_from_bytes(norm, policy=email.policy.default)
    defects = set()
    for p in m.walk():
        defects |= {type(d).__name__ for d in p.defects}
    bad = defects & STRUCTURAL_DEFECTS
    if bad:
        probs.append("output does not re-parse as MIME: %s" %
                     " ".join(sorted(bad)))
    if m.get("Subject") != "strip me" and not info["single"]:
        probs.append("Subject changed to %r" % m.get("Subject"))
    for line in info["gone_b64_lines"]:
        if line.encode() in norm:
            probs.append("the stripped part's base64 is still there")
            break
    pe = bytes.fromhex(info["gone_hex"])
    if pe in data:
        probs.append("the stripped bytes are still there (raw)")
    leaves = walk_leaves(m)
    notice = False
    for p in leaves:
        try:
            payload = p.get_payload(decode=True) or b""
        except Exception as e:	# noqa: BLE001 - any decoding failure
            probs.append("part %s does not decode: %s" %
                         (p.get_content_type(), e))
            continue
        if pe[:512] in payload or pe[512:] in payload:
            probs.append("the stripped bytes are still there (decoded)")
        if p.get_content_type() == "text/plain" and \
                info["strip_name"].encode() in payload:
            notice = True
    if not notice:
        probs.append("no text/plain notice naming %s" % info["strip_name"])
    for k in info["kept"]:
        if k.encode("utf-8").replace(b"\r\n", b"\n") not in norm:
            first = k.splitlines()[0] if k else ""
            probs.append("kept part not intact: %s" % first)
    if not info["single"] and len(leaves) != len(info["kept"]) + 1:
        probs.append("%d leaf parts, want %d (kept + notice)" %
                     (len(leaves), len(info["kept"]) + 1))
    return probs


def check_xhdr(outfile):
    if not os.path.exists(outfile):
        return ["--output wrote no %s" % os.path.basename(outfile)]
    with open(outfile, "rb") as f:
        m = email.message_from_bytes(f.read(), policy=email.policy.compat32)
    got = m.get_all("X-Portcullis") or []
    if len(got) != 1:
        return ["%d X-Portcullis headers in the output, want 1: %r" %
                (len(got), got)]
    if "forged" in got[0]:
        return ["the forged X-Portcullis header was kept"]
    return []


def sanitizer_lines(se):
    """The useful lines of a sanitizer report, else the tail of stderr."""
    lines = se.strip().splitlines()
    if not re.search(r"Sanitizer|runtime error:", se):
        return lines[-12:]
    keep = [l for l in lines if re.search(
        r"ERROR: |SUMMARY: |runtime error:|(READ|WRITE) of size|located|"
        r"#\d+ .* in \w+ .*/(lib|milter|policy)/", l)]
    return keep[:14]


def run_case(c, label, binary, base, corpus, work, manifest):
    name = c.name + ("" if label == "plain" else " [%s]" % label)
    msgfile = os.path.join(corpus, c.msg)
    argv = [binary] + base + c.args
    outdir = None
    if c.strip or "xhdr" in c.checks:
        outdir = os.path.join(work, "out", "%s.%s" % (c.name, label))
        shutil.rmtree(outdir, ignore_errors=True)
        os.makedirs(outdir)
        argv += ["--output", outdir]
    argv.append(msgfile)
    t0 = time.monotonic()
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         start_new_session=True)
    try:
        so, se = p.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        p.communicate()
        fail(name, "timed out after %d s, want a verdict" % TIMEOUT)
        return
    secs = time.monotonic() - t0
    so = so.decode("utf-8", errors="replace")
    se = se.decode("utf-8", errors="replace")
    if p.returncode != 0:
        fail(name, "exit status %d, want 0" % p.returncode,
             [clip(l, 300) for l in sanitizer_lines(se)])
        return
    lines = so.splitlines()
    if not lines or not lines[0].startswith("{"):
        fail(name, "no JSON line on stdout", [clip(so, 500), clip(se, 500)])
        return
    try:
        js = json.loads(lines[0])
    except ValueError as e:
        fail(name, "bad JSON: %s" % e, [clip(lines[0], 500)])
        return
    if not isinstance(js, dict):
        fail(name, "JSON is not an object", [clip(lines[0], 500)])
        return
    rest = lines[1:]
    stray = [l for l in rest if l and not l[0].isspace()]
    explain = "\n".join(rest)
    probs = check_json(c, js, explain)
    if stray:
        probs.append("%d stray stdout lines (first: %s)" %
                     (len(stray), clip(stray[0], 80)))
    if c.strip and not probs:
        probs += check_strip(c, manifest.get(c.msg[:-4]),
                             os.path.join(outdir, os.path.basename(msgfile)))
    if "xhdr" in c.checks and not probs:
        probs += check_xhdr(os.path.join(outdir, os.path.basename(msgfile)))
    for ch in c.checks:
        if ch.startswith("maxsec="):
            limit = float(ch[7:]) * (1 if label == "plain" else 4)
            if secs > limit:
                probs.append("took %.1f s, want under %g s" % (secs, limit))
    if probs:
        fail(name, "got %s, want %s (%s)" % (summary(js), want_summary(c),
                                             "; ".join(probs)),
             ["json: " + clip(lines[0], 3000)] +
             ["explain: " + clip(l, 200) for l in rest[:15]])
        return
    ok(name + (" (%.1f s)" % secs if secs >= 5 else "") +
       (" | want %s | got %s" % (want_summary(c), short(js))
        if os.environ.get("CORPUS_VERBOSE") else ""))


# ---- set-up ------------------------------------------------------------------

def main():
    binary = os.environ.get("PORTCULLIS") or os.path.join(TOP, "build",
                                                          "portcullis")
    asan = os.environ.get("PORTCULLIS_ASAN") or ""
    only = os.environ.get("CORPUS_ONLY")
    keep = os.environ.get("CORPUS_KEEP")
    if not (os.path.isfile(binary) and os.access(binary, os.X_OK)):
        out("FAIL corpus: no portcullis binary at %s (set PORTCULLIS)" %
            binary)
        out("0 passed, 1 failed")
        return 1
    binaries = [("plain", binary)]
    if asan:
        if os.path.isfile(asan) and os.access(asan, os.X_OK):
            binaries.append(("asan", asan))
        else:
            out("note: PORTCULLIS_ASAN=%s is not an executable; the "
                "sanitizer runs are left out" % asan)

    if keep:
        work = os.path.abspath(keep)
        os.makedirs(work, exist_ok=True)
    else:
        work = tempfile.mkdtemp(prefix="pc-corpus.")
    corpus = os.path.join(work, "corpus")
    try:
        # Two corpora: make-corpus for cases, make-evasion for
        # evasion.cases (broken MIME hiding a payload, issue 14).
        cases = []
        missing = {}
        for table, maker, cdir in (("cases", "make-corpus", corpus),
                                   ("evasion.cases", "make-evasion",
                                    os.path.join(work, "evasion"))):
            more = load_cases(os.path.join(HERE, table))
            for c in more:
                c.dir = cdir
            cases += [c for c in more if not only or re.search(only, c.name)]
            t0 = time.monotonic()
            mk = subprocess.run([sys.executable, os.path.join(HERE, maker),
                                 cdir], stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, timeout=900)
            for l in mk.stdout.decode(errors="replace").splitlines():
                out(maker + ": " + l if not l.startswith(maker) else l)
            if mk.returncode != 0:
                fail(maker, "exit status %d" % mk.returncode)
            out("%s generated in %.1f s in %s" % (
                maker, time.monotonic() - t0, cdir))
            mpath = os.path.join(cdir, "missing.txt")
            if os.path.exists(mpath):
                with open(mpath) as f:
                    for l in f:
                        n, _, why = l.rstrip("\n").partition("\t")
                        missing[n] = why
        manifest = {}
        if os.path.exists(os.path.join(corpus, "manifest.json")):
            with open(os.path.join(corpus, "manifest.json")) as f:
                manifest = json.load(f)

        # Signatures: the test database, when the script that builds it exists.
        mkdb = os.path.join(TOP, "test", "signatures", "make-testdb")
        sigdir = None
        sigerr = None
        if os.path.exists(mkdb):
            sigdir = os.path.join(work, "signatures")
            r = subprocess.run(["sh", mkdb, sigdir], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT)
            if r.returncode != 0:
                sigerr = "make-testdb failed: " + \
                    r.stdout.decode(errors="replace").strip()[:300]
                out("note: " + sigerr)
                sigdir = None
        policy = os.path.join(TOP, "policy", "portcullis.ini")
        if not os.path.exists(policy):
            policy = os.path.join(HERE, "test.ini")
        else:
            # A shipped policy that does not load is one failure, not one
            # per case: say so and judge the cases under test.ini.
            r = subprocess.run([binary, "check", "--policy", policy, "-o",
                                "antivirus.enabled=no"],
                               stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, timeout=TIMEOUT)
            if r.returncode != 0:
                fail("shipped-policy", "portcullis check exit status %d, "
                     "want 0; the cases use test/corpus/test.ini" %
                     r.returncode, r.stdout.decode(errors="replace")
                     .strip().splitlines()[-10:])
                policy = os.path.join(HERE, "test.ini")
        base = ["scan", "--explain", "--policy", policy]
        if sigdir:
            base += ["--signatures", sigdir]
        else:
            base += ["-o", "antivirus.enabled=no"]
        base += ["-o", "quarantine.directory=" + os.path.join(work, "quar"),
                 "-o", "daemon.spool_dir=" + os.path.join(work, "spool")]
        out("policy %s, signatures %s, binaries: %s" % (
            policy, sigdir or "none (antivirus disabled)",
            " ".join(b for _, b in binaries)))

        for c in cases:
            for label, b in binaries:
                name = c.name + ("" if label == "plain" else " [%s]" % label)
                if c.av and not sigdir:
                    if sigerr:
                        fail(name, sigerr)
                    else:
                        global skipped
                        skipped += 1
                        out("SKIP %s: no test signature database "
                            "(test/signatures/make-testdb not found)" % name)
                    continue
                if not os.path.exists(os.path.join(c.dir, c.msg)):
                    why = missing.get(c.msg[:-4]) or next(
                        (w for n, w in missing.items() if n.endswith("*") and
                         c.msg.startswith(n[:-1])), "not generated")
                    fail(name, "message %s not built: %s" % (c.msg, why))
                    continue
                run_case(c, label, b, base, c.dir, work, manifest)
    finally:
        if not keep:
            shutil.rmtree(work, ignore_errors=True)
    if skipped:
        out("%d skipped (not counted)" % skipped)
    out("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


sys.exit(main())
