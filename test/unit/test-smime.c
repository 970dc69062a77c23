/*
 * test/unit/test-smime.c - opaque S/MIME (lib/smime.c and its walk in
 * lib/mime.c) on real CMS made here with the openssl command: a throwaway
 * key and certificate, signed-data (DER, PEM, S/MIME), detached signatures,
 * enveloped data, and RFC 3274 compressed-data built by hand. The messages
 * are judged by scan_message() with the real libclamav and the test
 * signatures, and libmagic.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "av.h"
#include "magic.h"
#include "mime.h"
#include "scan.h"
#include "smime.h"
#include "util.h"
#include "t.h"

/* ---- the real engine and typer, once ---- */

static struct av_engine	*engine;
static struct typer	*typer;
static struct policy	*held;

static bool
setup(struct t *t)
{
	struct policy	*pol = NULL;
	char		*errs = NULL, dir[512];
	struct err	 err = ERR_INIT;

	if (engine != NULL && typer != NULL)
		return true;
	if (typer == NULL && typer_new(&typer, &err) == -1) {
		t_error(t, "typer_new: %s", err.msg);
		return false;
	}
	snprintf(dir, sizeof dir, "%s/db", t_tmpdir(t));
	if (t_sh("'%s/test/signatures/make-testdb' '%s'", t_srcdir(),
	    dir) != 0) {
		t_error(t, "make-testdb %s failed", dir);
		return false;
	}
	if (policy_load_string("", "t.ini", NULL, 0, &pol, &errs) == -1) {
		t_error(t, "policy: %s", errs);
		free(errs);
		return false;
	}
	if (av_engine_load(pol, dir, &engine, &err) == -1)
		t_error(t, "av_engine_load: %s", err.msg);
	policy_unref(&pol);
	return engine != NULL;
}

/* Judges msg with the default policy (plus ini). NULL on failure. */
static struct verdict *
judge(struct t *t, const char *ini, const unsigned char *msg, size_t len)
{
	struct policy		*pol = NULL;
	char			*errs = NULL;
	struct scan_deps	 deps;
	struct envelope		 env;
	struct verdict		*v = NULL;
	struct err		 err = ERR_INIT;
	const char *const	 rcpt[] = { "b@example.com" };

	if (!setup(t))
		return NULL;
	if (policy_load_string(ini != NULL ? ini : "", "t.ini", NULL, 0, &pol,
	    &errs) == -1) {
		t_error(t, "policy: %s", errs);
		free(errs);
		return NULL;
	}
	memset(&deps, 0, sizeof deps);
	deps.typer = typer;
	deps.explain = true;
	deps.av_scan = av_engine_scan;
	deps.av_ctx = engine;
	memset(&env, 0, sizeof env);
	env.sender = "a@example.net";
	env.rcpts = rcpt;
	env.nrcpts = 1;
	env.direction = -1;
	if (scan_message(pol, &deps, &env, msg, len, &v, &err) == -1) {
		t_error(t, "scan_message: got -1 (%s), want 0", err.msg);
		v = NULL;
	}
	policy_unref(&held);	/* findings point into the policy */
	held = pol;
	return v;
}

static bool
has(const struct verdict *v, enum rule rule, const char *part)
{
	size_t	i;

	for (i = 0; v != NULL && i < v->nfindings; i++)
		if (v->findings[i].rule == rule && (part == NULL ||
		    strcmp(v->findings[i].part, part) == 0))
			return true;
	return false;
}

static bool
explained(const struct verdict *v, const char *s)
{
	size_t	i;

	for (i = 0; v != NULL && i < v->nexplain; i++)
		if (strstr(v->explain[i], s) != NULL)
			return true;
	return false;
}

/* ---- building CMS with the openssl command ---- */

static void
b64(struct buf *b, const unsigned char *p, size_t n)
{
	static const char	a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmn"
	    "opqrstuvwxyz0123456789+/";
	size_t			i, col = 0;

	for (i = 0; i < n; i += 3) {
		unsigned	v = (unsigned)p[i] << 16;
		char		o[4];

		if (i + 1 < n)
			v |= (unsigned)p[i + 1] << 8;
		if (i + 2 < n)
			v |= p[i + 2];
		o[0] = a[v >> 18 & 63];
		o[1] = a[v >> 12 & 63];
		o[2] = i + 1 < n ? a[v >> 6 & 63] : '=';
		o[3] = i + 2 < n ? a[v & 63] : '=';
		buf_append(b, o, 4);
		if ((col += 4) >= 76) {
			buf_puts(b, "\r\n");
			col = 0;
		}
	}
	if (col != 0)
		buf_puts(b, "\r\n");
}

static bool
write_file(struct t *t, const char *name, const void *p, size_t n)
{
	char	 path[600];
	FILE	*fp;

	snprintf(path, sizeof path, "%s/%s", t_tmpdir(t), name);
	if ((fp = fopen(path, "wb")) == NULL || fwrite(p, 1, n, fp) != n) {
		t_error(t, "cannot write %s", path);
		if (fp != NULL)
			fclose(fp);
		return false;
	}
	return fclose(fp) == 0;
}

static unsigned char *
read_tmp(struct t *t, const char *name, size_t *len_r)
{
	char		 path[600];
	unsigned char	*p;

	snprintf(path, sizeof path, "%s/%s", t_tmpdir(t), name);
	if ((p = t_read_file(path, len_r)) == NULL)
		t_error(t, "cannot read %s", path);
	return p;
}

/* Runs cmd (printf-style) in the case's tmpdir; false + error if it fails. */
static bool
sh(struct t *t, const char *cmd)
{
	if (t_sh("cd '%s' && { %s ; } 2>sh.err", t_tmpdir(t), cmd) == 0)
		return true;
	t_error(t, "command failed: %s", cmd);
	(void)t_sh("cat '%s/sh.err'", t_tmpdir(t));
	return false;
}

/* A throwaway key and self-signed certificate: key.pem, cert.pem. */
static bool
mkpki(struct t *t)
{
	return sh(t, "openssl req -x509 -newkey rsa:2048 -nodes -keyout "
	    "key.pem -out cert.pem -subj /CN=portcullis-test -days 2 "
	    ">/dev/null");
}

#define SIGN	"openssl cms -sign -nodetach -binary -signer cert.pem " \
	    "-inkey key.pem"

/* A MIME entity (CRLF): a note and data.bin holding body, base64. */
static char *
entity_with(const char *fname, const unsigned char *body, size_t n)
{
	struct buf	b = BUF_INIT;

	buf_puts(&b, "Content-Type: multipart/mixed; boundary=\"in\"\r\n\r\n"
	    "--in\r\nContent-Type: text/plain\r\n\r\nsee the file\r\n"
	    "--in\r\n");
	buf_printf(&b, "Content-Type: application/octet-stream; "
	    "name=\"%s\"\r\nContent-Disposition: attachment; "
	    "filename=\"%s\"\r\nContent-Transfer-Encoding: base64\r\n\r\n",
	    fname, fname);
	b64(&b, body, n);
	buf_puts(&b, "--in--\r\n");
	return buf_cstr(&b);
}

static char *
entity_eicar(void)
{
	return entity_with("data.bin", (const unsigned char *)t_eicar(),
	    strlen(t_eicar()));
}

/* A minimal PE, enough for the true-type detector. */
static size_t
fake_pe(unsigned char *p, size_t cap)
{
	memset(p, 0, cap);
	p[0] = 'M';
	p[1] = 'Z';
	p[0x3c] = 0x80;
	memcpy(p + 0x80, "PE\0\0", 4);
	p[0x84] = 0x4c;
	p[0x85] = 0x01;
	return cap;
}

static const char	hdr[] = "From: a@example.net\r\nTo: b@example.com\r\n"
    "Subject: signed\r\n";

/* The S/MIME output of openssl (headers + base64) as the whole message. */
static unsigned char *
top_level(struct t *t, const char *file, size_t *len_r)
{
	struct buf	 b = BUF_INIT;
	unsigned char	*p;
	size_t		 n;

	if ((p = read_tmp(t, file, &n)) == NULL)
		return NULL;
	buf_puts(&b, hdr);
	buf_append(&b, p, n);
	free(p);
	*len_r = b.len;
	return (unsigned char *)buf_cstr(&b);
}

/* A multipart/mixed whose part 2 is the DER in file, named name. */
static unsigned char *
attached(struct t *t, const char *file, const char *ctype, const char *name,
    size_t *len_r)
{
	struct buf	 b = BUF_INIT;
	unsigned char	*p;
	size_t		 n;

	if ((p = read_tmp(t, file, &n)) == NULL)
		return NULL;
	buf_printf(&b, "%sMIME-Version: 1.0\r\nContent-Type: multipart/mixed; "
	    "boundary=\"out\"\r\n\r\n--out\r\nContent-Type: text/plain\r\n\r\n"
	    "hello\r\n--out\r\nContent-Type: %s; name=\"%s\"\r\n"
	    "Content-Disposition: attachment; filename=\"%s\"\r\n"
	    "Content-Transfer-Encoding: base64\r\n\r\n", hdr, ctype, name,
	    name);
	b64(&b, p, n);
	buf_puts(&b, "--out--\r\n");
	free(p);
	*len_r = b.len;
	return (unsigned char *)buf_cstr(&b);
}

/* RFC 3274 compressed-data around in (zlib), written as DER by python3:
 * cdata.der (the ContentInfo) and cbody.der (the bare CompressedData). */
static bool
mkcompressed(struct t *t, const char *in)
{
	char	cmd[1600];

	snprintf(cmd, sizeof cmd, "python3 -c '\n"
	    "import zlib\n"
	    "def tlv(t, b):\n"
	    "    n = len(b)\n"
	    "    if n < 128: return bytes([t, n]) + b\n"
	    "    l = n.to_bytes((n.bit_length() + 7) // 8, \"big\")\n"
	    "    return bytes([t, 0x80 | len(l)]) + l + b\n"
	    "oid = lambda s: tlv(6, s)\n"
	    "data = oid(bytes.fromhex(\"2a864886f70d010701\"))\n"
	    "ct = oid(bytes.fromhex(\"2a864886f70d0109100109\"))\n"
	    "zl = tlv(0x30, oid(bytes.fromhex(\"2a864886f70d0109100308\")))\n"
	    "c = zlib.compress(open(\"%s\", \"rb\").read())\n"
	    "body = tlv(0x30, tlv(2, b\"\\x00\") + zl + tlv(0x30, data + "
	    "tlv(0xa0, tlv(4, c))))\n"
	    "open(\"cbody.der\", \"wb\").write(body)\n"
	    "open(\"cdata.der\", \"wb\").write(tlv(0x30, ct + tlv(0xa0, "
	    "body)))\n'", in);
	return sh(t, cmd);
}

/* Whether this OpenSSL decompresses (Debian builds it without zlib). */
static bool
have_zlib(struct t *t)
{
	return t_sh("cd '%s' && echo x | openssl cms -compress -out /dev/null "
	    ">/dev/null 2>&1", t_tmpdir(t)) == 0;
}

static enum smime_kind
extract_file(struct t *t, const char *file, size_t max_out,
    unsigned char **out_r, size_t *out_len_r)
{
	unsigned char	*p;
	size_t		 n;
	enum smime_kind	 k = SMIME_KIND_NOT_CMS;
	struct err	 err = ERR_INIT;

	*out_r = NULL;
	*out_len_r = 0;
	if ((p = read_tmp(t, file, &n)) == NULL)
		return k;
	if (smime_extract(p, n, max_out, out_r, out_len_r, &k, &err) == -1)
		t_error(t, "smime_extract %s: got -1 (%s), want 0", file,
		    err.msg);
	free(p);
	return k;
}

/* ---- smime_extract on each form ---- */

static void
extract_forms(struct t *t)
{
	static const struct {
		const char	*name;
		const char	*cmd;	/* makes out.p7 from ent.txt */
		enum smime_kind	 want;
	} cases[] = {
		{ "DER", SIGN " -in ent.txt -outform DER -out out.p7",
		    SMIME_KIND_SIGNED },
		{ "PEM", SIGN " -in ent.txt -outform PEM -out out.p7",
		    SMIME_KIND_SIGNED },
		{ "base64 text", SIGN " -in ent.txt -outform DER | "
		    "openssl base64 -out out.p7", SMIME_KIND_SIGNED },
		{ "BER streamed", SIGN " -stream -indef -in ent.txt -outform "
		    "DER -out out.p7", SMIME_KIND_SIGNED },
		{ "old smime command", "openssl smime -sign -nodetach -binary "
		    "-signer cert.pem -inkey key.pem -in ent.txt -outform DER "
		    "-out out.p7", SMIME_KIND_SIGNED },
		{ "detached", "openssl cms -sign -binary -signer cert.pem "
		    "-inkey key.pem -in ent.txt -outform DER -out out.p7",
		    SMIME_KIND_DETACHED },
		{ "enveloped", "openssl cms -encrypt -aes256 -in ent.txt "
		    "-outform DER -out out.p7 cert.pem", SMIME_KIND_ENVELOPED },
		{ "data", "openssl cms -data_create -in ent.txt -outform DER "
		    "-out out.p7", SMIME_KIND_DATA },
		{ "digested", "openssl cms -digest_create -in ent.txt -outform "
		    "DER -out out.p7", SMIME_KIND_DATA },
		{ "garbage", "head -c 3000 /dev/zero | tr '\\000' '\\377' "
		    "> out.p7", SMIME_KIND_NOT_CMS },
		{ "truncated DER", SIGN " -in ent.txt -outform DER | "
		    "head -c 400 > out.p7", SMIME_KIND_NOT_CMS },
	};
	char		*ent = entity_eicar();
	size_t		 i;

	if (!mkpki(t) || !write_file(t, "ent.txt", ent, strlen(ent))) {
		free(ent);
		return;
	}
	for (i = 0; i < T_NCASES(cases); i++) {
		unsigned char	*out;
		size_t		 n;
		enum smime_kind	 k;

		if (!sh(t, cases[i].cmd))
			continue;
		k = extract_file(t, "out.p7", 1 << 20, &out, &n);
		t_check(t, k == cases[i].want, "%s: got %s, want %s",
		    cases[i].name, smime_kind_str(k),
		    smime_kind_str(cases[i].want));
		if (k == SMIME_KIND_SIGNED || k == SMIME_KIND_DATA)
			t_check(t, out != NULL && n == strlen(ent) &&
			    memcmp(out, ent, n) == 0, "%s: content of %zu "
			    "bytes is not the entity signed (%zu bytes)",
			    cases[i].name, n, strlen(ent));
		else
			t_check(t, out == NULL && n == 0, "%s: %s returned "
			    "content", cases[i].name, smime_kind_str(k));
		free(out);
	}
	free(ent);
}

static void
extract_limit(struct t *t)
{
	char		*ent = entity_eicar();
	size_t		 len = strlen(ent), n;
	unsigned char	*out;
	enum smime_kind	 k;

	if (!mkpki(t) || !write_file(t, "ent.txt", ent, len) ||
	    !sh(t, SIGN " -in ent.txt -outform DER -out out.p7")) {
		free(ent);
		return;
	}
	k = extract_file(t, "out.p7", len, &out, &n);
	t_check(t, k == SMIME_KIND_SIGNED && n == len, "content of %zu bytes "
	    "at a limit of %zu: got %s, %zu bytes", len, len,
	    smime_kind_str(k), n);
	free(out);
	k = extract_file(t, "out.p7", len - 1, &out, &n);
	t_check(t, k == SMIME_KIND_OVER_LIMIT && out == NULL, "content of %zu "
	    "bytes at a limit of %zu: got %s, want %s", len, len - 1,
	    smime_kind_str(k), smime_kind_str(SMIME_KIND_OVER_LIMIT));
	free(out);
	t_check(t, smime_extract(NULL, 0, 10, &out, &n, &k, NULL) == 0 &&
	    k == SMIME_KIND_NOT_CMS && out == NULL, "empty input: got %s",
	    smime_kind_str(k));
	free(ent);
}

/* compressed-data, and signed-data over compressed-data (RFC 3274 §2.2,
 * "compress, then sign"): decompressed with zlib, else unsupported; and
 * signed-data over enveloped-data. */
static void
extract_nested(struct t *t)
{
	char		*ent = entity_eicar();
	bool		 zlib;
	enum smime_kind	 want, k;
	unsigned char	*out;
	size_t		 n;

	if (!mkpki(t) || !write_file(t, "ent.txt", ent, strlen(ent)) ||
	    !mkcompressed(t, "ent.txt") ||
	    !sh(t, SIGN " -econtent_type 1.2.840.113549.1.9.16.1.9 -in "
	    "cbody.der -outform DER -out signed-c.der")) {
		free(ent);
		return;
	}
	zlib = have_zlib(t);
	want = zlib ? SMIME_KIND_COMPRESSED : SMIME_KIND_UNSUPPORTED;
	t_log(t, "OpenSSL %s zlib", zlib ? "with" : "without");
	k = extract_file(t, "cdata.der", 1 << 20, &out, &n);
	t_check(t, k == want, "compressed-data: got %s, want %s",
	    smime_kind_str(k), smime_kind_str(want));
	if (zlib)
		t_check(t, n == strlen(ent) && memcmp(out, ent, n) == 0,
		    "decompressed %zu bytes, want the entity", n);
	free(out);
	k = extract_file(t, "signed-c.der", 1 << 20, &out, &n);
	t_check(t, k == want, "signed over compressed: got %s, want %s",
	    smime_kind_str(k), smime_kind_str(want));
	free(out);
	/* signed over a bare EnvelopedData: the inner layer is read too */
	if (sh(t, "openssl cms -encrypt -aes256 -in ent.txt -outform DER "
	    "-out env.der cert.pem && python3 -c '\n"
	    "d = open(\"env.der\", \"rb\").read()\n"
	    "def skip(d, i):\n"
	    "    n = d[i + 1]\n"
	    "    if n < 128: return i + 2, n\n"
	    "    k = n & 127\n"
	    "    return i + 2 + k, int.from_bytes(d[i + 2:i + 2 + k], "
	    "\"big\")\n"
	    "i, _ = skip(d, 0)\n"
	    "i, n = skip(d, i)\n"
	    "i += n\n"
	    "i, n = skip(d, i)\n"
	    "open(\"envbody.der\", \"wb\").write(d[i:i + n])\n' && "
	    SIGN " -econtent_type 1.2.840.113549.1.7.3 -in envbody.der "
	    "-outform DER -out signed-e.der")) {
		k = extract_file(t, "signed-e.der", 1 << 20, &out, &n);
		t_check(t, k == SMIME_KIND_ENVELOPED, "signed over enveloped: "
		    "got %s, want %s", smime_kind_str(k),
		    smime_kind_str(SMIME_KIND_ENVELOPED));
		free(out);
	}
	free(ent);
}

/* ---- whole messages through scan_message ---- */

/* The whole message is opaque-signed (openssl's S/MIME output). */
static void
signed_top_level_virus(struct t *t)
{
	char		*ent = entity_eicar();
	unsigned char	*msg = NULL;
	size_t		 len = 0;
	struct verdict	*v;

	if (mkpki(t) && write_file(t, "ent.txt", ent, strlen(ent)) &&
	    sh(t, SIGN " -in ent.txt -outform SMIME -out out.eml"))
		msg = top_level(t, "out.eml", &len);
	free(ent);
	if (msg == NULL)
		return;
	v = judge(t, NULL, msg, len);
	T_CHECK_DISP(t, v, DISP_REJECT);
	t_check(t, has(v, RULE_VIRUS, "1.2"), "EICAR inside at 1.2: %s",
	    t_findings(v));
	t_check(t, explained(v, "part 1: opaque S/MIME signed-data, content "
	    "taken out without verifying"), "no explain line for the "
	    "S/MIME layer");
	verdict_free(&v);
	free(msg);
}

/* A signed .p7m attached as part 2, DER; and the same named x.p7m only. */
static void
signed_attached_virus(struct t *t)
{
	static const struct {
		const char	*ctype;
		const char	*name;
	} cases[] = {
		{ "application/pkcs7-mime", "smime.p7m" },
		{ "application/x-pkcs7-mime", "smime.p7m" },
		{ "application/octet-stream", "message.p7m" },
	};
	char		*ent = entity_eicar();
	size_t		 i;

	if (!mkpki(t) || !write_file(t, "ent.txt", ent, strlen(ent)) ||
	    !sh(t, SIGN " -in ent.txt -outform DER -out out.der")) {
		free(ent);
		return;
	}
	for (i = 0; i < T_NCASES(cases); i++) {
		size_t		 len;
		unsigned char	*msg = attached(t, "out.der", cases[i].ctype,
		    cases[i].name, &len);
		struct verdict	*v;

		if (msg == NULL)
			break;
		v = judge(t, NULL, msg, len);
		t_check(t, has(v, RULE_VIRUS, "2.2"), "%s %s: EICAR at 2.2: "
		    "%s", cases[i].ctype, cases[i].name, t_findings(v));
		verdict_free(&v);
		free(msg);
	}
	free(ent);
}

static void
signed_exe_blocked(struct t *t)
{
	unsigned char	 pe[512];
	char		*ent = entity_with("setup.exe", pe, fake_pe(pe,
	    sizeof pe));
	unsigned char	*msg = NULL;
	size_t		 len = 0;
	struct verdict	*v;

	if (mkpki(t) && write_file(t, "ent.txt", ent, strlen(ent)) &&
	    sh(t, SIGN " -in ent.txt -outform DER -out out.der"))
		msg = attached(t, "out.der", "application/pkcs7-mime",
		    "smime.p7m", &len);
	free(ent);
	if (msg == NULL)
		return;
	v = judge(t, NULL, msg, len);
	T_CHECK_DISP(t, v, DISP_REJECT);
	t_check(t, has(v, RULE_BLOCKED_EXTENSION, "2.2") &&
	    has(v, RULE_BLOCKED_TYPE, "2.2"), "setup.exe at 2.2: %s",
	    t_findings(v));
	verdict_free(&v);
	free(msg);
}

/* A signed bare file (Italian-style "invoice.exe.p7m"): a leaf at
 * 2/invoice.exe, named so. */
static void
signed_bare_file(struct t *t)
{
	unsigned char	 pe[512];
	unsigned char	*msg = NULL;
	size_t		 len = 0;
	struct verdict	*v;

	if (mkpki(t) && write_file(t, "pe.bin", pe, fake_pe(pe, sizeof pe)) &&
	    sh(t, SIGN " -in pe.bin -outform DER -out out.der"))
		msg = attached(t, "out.der", "application/pkcs7-mime",
		    "invoice.exe.p7m", &len);
	if (msg == NULL)
		return;
	v = judge(t, NULL, msg, len);
	T_CHECK_DISP(t, v, DISP_REJECT);
	t_check(t, has(v, RULE_BLOCKED_EXTENSION, "2/invoice.exe") &&
	    has(v, RULE_BLOCKED_TYPE, "2/invoice.exe"), "invoice.exe at "
	    "2/invoice.exe: %s", t_findings(v));
	verdict_free(&v);
	free(msg);
}

static void
signed_benign_accepted(struct t *t)
{
	static const char	 ent[] = "Content-Type: text/plain; "
	    "charset=us-ascii\r\n\r\nThe minutes of Monday's meeting are "
	    "below. Nothing to run, nothing to open.\r\n";
	unsigned char		*msg = NULL;
	size_t			 len = 0;
	struct verdict		*v;

	if (mkpki(t) && write_file(t, "ent.txt", ent, strlen(ent)) &&
	    sh(t, SIGN " -in ent.txt -outform SMIME -out out.eml"))
		msg = top_level(t, "out.eml", &len);
	if (msg == NULL)
		return;
	v = judge(t, NULL, msg, len);
	T_CHECK_DISP(t, v, DISP_ACCEPT);
	t_check(t, v != NULL && v->nfindings == 0, "findings: %s",
	    t_findings(v));
	verdict_free(&v);
	free(msg);
}

static void
enveloped_encrypted(struct t *t)
{
	char		*ent = entity_eicar();
	unsigned char	*msg = NULL;
	size_t		 len = 0;
	struct verdict	*v;

	if (mkpki(t) && write_file(t, "ent.txt", ent, strlen(ent)) &&
	    sh(t, "openssl cms -encrypt -aes256 -in ent.txt -outform SMIME "
	    "-out out.eml cert.pem"))
		msg = top_level(t, "out.eml", &len);
	free(ent);
	if (msg == NULL)
		return;
	/* end-to-end encrypted mail: delivered and tagged by default */
	v = judge(t, NULL, msg, len);
	T_CHECK_DISP(t, v, DISP_TAG);
	t_check(t, has(v, RULE_ENCRYPTED_MESSAGE, "1") &&
	    !has(v, RULE_ENCRYPTED, NULL), "encrypted_message at 1, no "
	    "encrypted: %s", t_findings(v));
	verdict_free(&v);
	/* a postmaster who wants it refused says so */
	v = judge(t, "[rules]\nencrypted_message = reject\n", msg, len);
	T_CHECK_DISP(t, v, DISP_REJECT);
	verdict_free(&v);
	/* or only for some recipients, in an overlay */
	v = judge(t, "[policy:strict]\nencrypted_message = reject\n"
	    "[select:inbound]\nexample.com = strict\n", msg, len);
	T_CHECK_DISP(t, v, DISP_REJECT);
	verdict_free(&v);
	free(msg);
}

/* Signed, then encrypted (the usual order): encrypted_message,
 * and nothing read past it. */
static void
signed_then_enveloped(struct t *t)
{
	char		*ent = entity_eicar();
	unsigned char	*msg = NULL;
	size_t		 len = 0;
	struct verdict	*v;

	if (mkpki(t) && write_file(t, "ent.txt", ent, strlen(ent)) &&
	    sh(t, SIGN " -in ent.txt -outform SMIME | openssl cms -encrypt "
	    "-aes256 -outform DER -out out.der cert.pem"))
		msg = attached(t, "out.der", "application/pkcs7-mime",
		    "smime.p7m", &len);
	free(ent);
	if (msg == NULL)
		return;
	v = judge(t, NULL, msg, len);
	t_check(t, has(v, RULE_ENCRYPTED_MESSAGE, "2") &&
	    !has(v, RULE_VIRUS, NULL), "encrypted_message at 2 and nothing "
	    "else: %s", t_findings(v));
	verdict_free(&v);
	free(msg);
}

/* Encrypted, then signed: the signed layer opens, the inner one is an
 * encrypted part of its own. */
static void
enveloped_then_signed(struct t *t)
{
	char		*ent = entity_eicar();
	unsigned char	*msg = NULL;
	size_t		 len = 0;
	struct verdict	*v;

	if (mkpki(t) && write_file(t, "ent.txt", ent, strlen(ent)) &&
	    sh(t, "openssl cms -encrypt -aes256 -in ent.txt -outform SMIME "
	    "cert.pem > enc.txt && " SIGN " -in enc.txt -outform DER "
	    "-out out.der"))
		msg = attached(t, "out.der", "application/pkcs7-mime",
		    "smime.p7m", &len);
	free(ent);
	if (msg == NULL)
		return;
	v = judge(t, NULL, msg, len);
	t_check(t, has(v, RULE_ENCRYPTED_MESSAGE, "2.1"), "encrypted_message "
	    "at 2.1: %s", t_findings(v));
	verdict_free(&v);
	free(msg);
}

static void
not_cms_malformed(struct t *t)
{
	static const char	 junk[] = "this is not a CMS structure at all, "
	    "just text where DER should be";
	unsigned char		*msg;
	size_t			 len;
	struct verdict		*v;

	if (!write_file(t, "junk.der", junk, strlen(junk)))
		return;
	msg = attached(t, "junk.der", "application/pkcs7-mime", "smime.p7m",
	    &len);
	if (msg == NULL)
		return;
	v = judge(t, NULL, msg, len);
	t_check(t, has(v, RULE_MALFORMED, "2"), "malformed at 2: %s",
	    t_findings(v));
	verdict_free(&v);
	free(msg);
}

static void
compressed_message(struct t *t)
{
	char		*ent = entity_eicar();
	unsigned char	*msg = NULL;
	size_t		 len = 0;
	struct verdict	*v;
	bool		 zlib;

	if (mkpki(t) && write_file(t, "ent.txt", ent, strlen(ent)) &&
	    mkcompressed(t, "ent.txt"))
		msg = attached(t, "cdata.der", "application/pkcs7-mime",
		    "smime.p7z", &len);
	free(ent);
	if (msg == NULL)
		return;
	zlib = have_zlib(t);
	v = judge(t, NULL, msg, len);
	T_CHECK_DISP(t, v, DISP_REJECT);
	if (zlib)
		t_check(t, has(v, RULE_VIRUS, "2.2"), "EICAR at 2.2: %s",
		    t_findings(v));
	else
		t_check(t, has(v, RULE_UNREADABLE, "2"), "no zlib: "
		    "unreadable at 2: %s", t_findings(v));
	verdict_free(&v);
	free(msg);
}

static const struct t_case cases[] = {
	T_CASE(extract_forms),
	T_CASE(extract_limit),
	T_CASE(extract_nested),
	T_CASE(signed_top_level_virus),
	T_CASE(signed_attached_virus),
	T_CASE(signed_exe_blocked),
	T_CASE(signed_bare_file),
	T_CASE(signed_benign_accepted),
	T_CASE(enveloped_encrypted),
	T_CASE(signed_then_enveloped),
	T_CASE(enveloped_then_signed),
	T_CASE(not_cms_malformed),
	T_CASE(compressed_message),
};

int
main(int argc, char **argv)
{
	struct err	err = ERR_INIT;
	int		r;

	if (av_global_init(&err) == -1) {
		printf("av_global_init: %s\n0 passed, 1 failed\n", err.msg);
		return 1;
	}
	mime_init();
	r = t_main(argc, argv, cases, T_NCASES(cases));
	av_engine_unref(&engine);
	typer_free(&typer);
	policy_unref(&held);
	mime_shutdown();
	return r;
}
