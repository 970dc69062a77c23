#!/usr/bin/env python3
"""bench/corpus.py DIR [--big MIB] - write the benchmark corpus into DIR.

Deterministic: the same bytes on every run (fixed seeds, fixed dates, fixed
zip timestamps). Writes one RFC 5322 message per class, LF line ends (the
sender turns them into CRLF):

  plain2k.eml   2 KiB of plain text
  pdf100k.eml   ~100 KiB: short text + a PDF-like attachment
  zip600k.eml   ~600 KiB: a zip holding one 1 MiB file
  eicarzip.eml  a zip holding the EICAR test file (rejected class). The
                test string is put together here from two halves and
                never stored in the repository. The member is named
                eicar.txt so that the virus scan, not the extension
                rule, decides.
  docx.eml      an office document (docx: zip with [Content_Types].xml,
                _rels/.rels, word/document.xml)
  multi20.eml   20 small attachments
  big.eml       only with --big MIB: two application/octet-stream
                attachments, total about MIB MiB on the wire (memory test)
"""
import base64
import io
import random
import sys
import zipfile

DATE = "Mon, 03 Feb 2025 10:00:00 +0000"
ZDATE = (2025, 2, 3, 10, 0, 0)
WORDS = ("gateway quarterly report invoice shipment meeting agenda schedule "
         "figures budget review draft attached please find below regards "
         "thanks customer order delivery project status update minutes "
         "contract renewal proposal summary").split()


def words(rng, n):
    return " ".join(rng.choice(WORDS) for _ in range(n))


def text_block(rng, size):
    """Wrapped prose of about size bytes."""
    lines, total = [], 0
    while total < size:
        line = words(rng, 11).capitalize() + "."
        lines.append(line)
        total += len(line) + 1
    return "\n".join(lines) + "\n"


def b64(data):
    s = base64.b64encode(data).decode()
    return "\n".join(s[i:i + 76] for i in range(0, len(s), 76)) + "\n"


def headers(n, subject, ctype):
    return (f"From: Bench Sender <sender@bench.example.net>\n"
            f"To: Bench Recipient <rcpt@bench.example.com>\n"
            f"Subject: {subject}\n"
            f"Date: {DATE}\n"
            f"Message-ID: <bench-{n}@bench.example.net>\n"
            f"MIME-Version: 1.0\n"
            f"Content-Type: {ctype}\n")


def multipart(n, subject, body_text, parts):
    """parts: list of (ctype, filename, bytes)."""
    bnd = f"=_bench_{n}_boundary"
    out = [headers(n, subject, f'multipart/mixed; boundary="{bnd}"'), "\n",
           "This is a multi-part message in MIME format.\n",
           f"--{bnd}\n", "Content-Type: text/plain; charset=us-ascii\n",
           "Content-Transfer-Encoding: 7bit\n\n", body_text]
    for ctype, fname, data in parts:
        out += [f"--{bnd}\n",
                f'Content-Type: {ctype}; name="{fname}"\n',
                "Content-Transfer-Encoding: base64\n",
                f'Content-Disposition: attachment; filename="{fname}"\n\n',
                b64(data)]
    out.append(f"--{bnd}--\n")
    return "".join(out)


def zipped(members):
    """members: list of (name, bytes); deflate, fixed timestamps."""
    bio = io.BytesIO()
    with zipfile.ZipFile(bio, "w") as z:
        for name, data in members:
            zi = zipfile.ZipInfo(name, date_time=ZDATE)
            zi.compress_type = zipfile.ZIP_DEFLATED
            zi.external_attr = 0o644 << 16
            z.writestr(zi, data)
    return bio.getvalue()


def pdf_like(rng, size):
    """A PDF-shaped file: text content streams plus one binary stream."""
    objs = [b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            b"/Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>"]
    content = []
    y = 760
    while sum(len(c) for c in content) < size // 3:
        content.append(f"BT /F1 10 Tf 40 {y} Td ({words(rng, 9)}) Tj ET\n"
                       .encode())
        y = 760 if y < 40 else y - 12
    c = b"".join(content)
    objs.append(b"<< /Length %d >>\nstream\n" % len(c) + c + b"\nendstream")
    objs.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    blob = rng.randbytes(size - len(c) - 600)
    objs.append(b"<< /Type /XObject /Subtype /Image /Width 64 /Height 64 "
                b"/BitsPerComponent 8 /Length %d >>\nstream\n" % len(blob)
                + blob + b"\nendstream")
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offs = []
    for i, o in enumerate(objs, 1):
        offs.append(len(out))
        out += b"%d 0 obj\n" % i + o + b"\nendobj\n"
    x = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    for o in offs:
        out += b"%010d 00000 n \n" % o
    out += (b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n"
            % (len(objs) + 1, x))
    return bytes(out)


def docx(rng):
    ct = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
          '<Types xmlns="http://schemas.openxmlformats.org/package/2006/'
          'content-types"><Default Extension="rels" ContentType='
          '"application/vnd.openxmlformats-package.relationships+xml"/>'
          '<Default Extension="xml" ContentType="application/xml"/>'
          '<Override PartName="/word/document.xml" ContentType="application/'
          'vnd.openxmlformats-officedocument.wordprocessingml.document.main'
          '+xml"/></Types>')
    rels = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/'
            '2006/relationships"><Relationship Id="rId1" Type="http://'
            'schemas.openxmlformats.org/officeDocument/2006/relationships/'
            'officeDocument" Target="word/document.xml"/></Relationships>')
    paras = "".join(f"<w:p><w:r><w:t>{words(rng, 14)}</w:t></w:r></w:p>"
                    for _ in range(300))
    doc = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
           '<w:document xmlns:w="http://schemas.openxmlformats.org/'
           'wordprocessingml/2006/main"><w:body>' + paras +
           '</w:body></w:document>')
    return zipped([("[Content_Types].xml", ct.encode()),
                   ("_rels/.rels", rels.encode()),
                   ("word/document.xml", doc.encode())])


def main():
    args = sys.argv[1:]
    if not args:
        sys.exit(__doc__)
    out = args[0]
    big = int(args[args.index("--big") + 1]) if "--big" in args else 0
    rng = random.Random(20250203)
    msgs = {}

    hdr = headers(1, "Plain text 2K", "text/plain; charset=us-ascii")
    body = text_block(rng, 2048 - len(hdr) - 1 - 40)
    msgs["plain2k"] = hdr + "Content-Transfer-Encoding: 7bit\n\n" + body

    msgs["pdf100k"] = multipart(2, "PDF attachment", text_block(rng, 1500), [
        ("application/pdf", "report-q4.pdf", pdf_like(rng, 72 * 1024))])

    data = rng.randbytes(420 * 1024)
    filler = text_block(rng, 8192).encode()
    while len(data) < 1024 * 1024:
        data += filler
    data = data[:1024 * 1024]
    msgs["zip600k"] = multipart(3, "Zip archive", text_block(rng, 1000), [
        ("application/zip", "measurements.zip",
         zipped([("measurements.dat", data)]))])

    # The EICAR test string, from two halves (not stored as one piece).
    half1 = "X5O!P%@AP[4\\PZX54(P^)7CC)7}$"
    half2 = "EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
    msgs["eicarzip"] = multipart(4, "Zipped test file", text_block(rng, 600), [
        ("application/zip", "sample.zip",
         zipped([("eicar.txt", (half1 + half2).encode())]))])

    msgs["docx"] = multipart(5, "Office document", text_block(rng, 800), [
        ("application/vnd.openxmlformats-officedocument."
         "wordprocessingml.document", "minutes.docx", docx(rng))])

    parts = []
    for i in range(20):
        kind = i % 4
        if kind == 0:
            parts.append(("text/plain", f"note-{i:02d}.txt",
                          text_block(rng, 1200).encode()))
        elif kind == 1:
            rows = "\n".join(",".join(str(rng.randrange(10000))
                                      for _ in range(8)) for _ in range(60))
            parts.append(("text/csv", f"table-{i:02d}.csv", rows.encode()))
        elif kind == 2:
            parts.append(("application/pdf", f"scan-{i:02d}.pdf",
                          pdf_like(rng, 2048)))
        else:
            parts.append(("application/json", f"data-{i:02d}.json",
                          ('{"items": [%s]}' % ",".join(
                              str(rng.randrange(10 ** 6))
                              for _ in range(150))).encode()))
    msgs["multi20"] = multipart(6, "Twenty attachments",
                                text_block(rng, 800), parts)

    if big:
        # Two attachments whose base64 is about big MiB together.
        raw = (big * 1024 * 1024 * 3 // 4 - 64 * 1024) // 2
        blob = rng.randbytes(raw)
        msgs["big"] = multipart(7, "Big message", text_block(rng, 800), [
            ("application/octet-stream", "part-a.bin", blob),
            ("application/octet-stream", "part-b.bin", blob[::-1])])

    for name, text in msgs.items():
        with open(f"{out}/{name}.eml", "w", newline="\n") as f:
            f.write(text)


if __name__ == "__main__":
    main()
