#!/usr/bin/env python3
"""test/e2e/mimecheck.py - check a delivered (smtp-sink dump) message.

usage: mimecheck.py FILE [--absent NAME]... [--present NAME=SHA256]...
                         [--notice TEXT] [--text TEXT] [--header NAME=COUNT]...

Parses FILE with Python's email package and prints one line per problem
(exit 1) or nothing (exit 0):
  - any parser defect in any part (broken boundaries, bad encodings...);
  - --absent NAME: no part carries the file name NAME;
  - --present NAME=SHA256: a part named NAME decodes to those bytes;
  - --notice TEXT: some text/plain part contains TEXT (case-insensitive);
  - --text TEXT: the first text/plain part contains TEXT;
  - --header NAME=COUNT: the top-level header NAME occurs COUNT times.
"""
import email
import email.policy
import hashlib
import sys


def main(argv):
    if len(argv) < 2:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    with open(argv[1], "rb") as fp:
        raw = fp.read()
    msg = email.message_from_bytes(raw, policy=email.policy.compat32)
    problems = []
    parts = list(msg.walk())
    for i, p in enumerate(parts):
        for d in p.defects:
            problems.append("part %d (%s): defect %s" %
                            (i, p.get_content_type(), type(d).__name__))
    names = {}
    texts = []
    for p in parts:
        if p.is_multipart():
            continue
        fn = p.get_filename() or p.get_param("name")
        payload = p.get_payload(decode=True) or b""
        if fn:
            names.setdefault(fn, []).append(payload)
        if p.get_content_type() == "text/plain":
            texts.append(payload.decode("utf-8", "replace"))
    args = argv[2:]
    while args:
        opt = args.pop(0)
        val = args.pop(0) if args else ""
        if opt == "--absent":
            if val in names:
                problems.append("part %s still present" % val)
        elif opt == "--present":
            name, _, digest = val.partition("=")
            got = [hashlib.sha256(b).hexdigest() for b in names.get(name, [])]
            if digest not in got:
                problems.append("part %s: got %s, want sha256 %s" %
                                (name, got or "no such part", digest))
        elif opt == "--notice":
            if not any(val.lower() in t.lower() for t in texts):
                problems.append("no text part contains %r" % val)
        elif opt == "--text":
            if not texts or val not in texts[0]:
                problems.append("first text part lacks %r" % val)
        elif opt == "--header":
            name, _, count = val.partition("=")
            got = len(msg.get_all(name, []))
            if got != int(count):
                problems.append("header %s: got %d, want %s" %
                                (name, got, count))
        else:
            problems.append("unknown option %s" % opt)
    for p in problems:
        print(p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
