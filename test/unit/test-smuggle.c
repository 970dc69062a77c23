/*
 * test/unit/test-smuggle.c - HTML smuggling (lib/smuggle.c and its walk in
 * lib/mime.c): the shapes found in the wild (a script string turned into a
 * Blob and saved with a.download, a data: URI link, atob() of a zip, chunks
 * joined with "+", "+=" or an array), the limits at N and N+1, benign
 * look-alikes (an inline logo, a long base64 photo), and whole messages
 * judged by scan_message() with the real libclamav, test signatures and
 * libmagic.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "av.h"
#include "magic.h"
#include "mime.h"
#include "scan.h"
#include "smuggle.h"
#include "util.h"
#include "t.h"

/* ---- base64 and test files ---- */

static void
b64(struct buf *b, const unsigned char *p, size_t n, size_t line)
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
		if (line != 0 && (col += 4) >= line && i + 3 < n) {
			buf_puts(b, "\r\n");
			col = 0;
		}
	}
}

static char *
b64s(const unsigned char *p, size_t n)
{
	struct buf	b = BUF_INIT;

	b64(&b, p, n, 0);
	return buf_cstr(&b);
}

/* A minimal PE, enough for the true-type detector. */
static size_t
fake_pe(unsigned char *p, size_t cap)
{
	size_t	i;

	memset(p, 0, cap);
	p[0] = 'M';
	p[1] = 'Z';
	p[0x3c] = 0x80;
	memcpy(p + 0x80, "PE\0\0", 4);
	p[0x84] = 0x4c;
	p[0x85] = 0x01;
	for (i = 0x100; i < cap; i++)	/* varied, like code */
		p[i] = (unsigned char)(i * 7 + (i >> 3));
	return cap;
}

/* ---- smuggle_extract directly ---- */

struct got {
	unsigned	n;
	char		how[4][16];
	char		name[4][64];
	char		mtype[4][64];
	struct buf	data[4];
	bool		truncated[4];
};

static void
collect(void *ctx, const char *how, const char *name, const char *mtype,
    unsigned char *data, size_t len, bool truncated)
{
	struct got	*g = ctx;

	if (g->n < 4) {
		snprintf(g->how[g->n], sizeof g->how[0], "%s", how);
		snprintf(g->name[g->n], sizeof g->name[0], "%s",
		    name != NULL ? name : "(none)");
		snprintf(g->mtype[g->n], sizeof g->mtype[0], "%s",
		    mtype != NULL ? mtype : "(none)");
		buf_append(&g->data[g->n], data, len);
		g->truncated[g->n] = truncated;
	}
	g->n++;
	free(data);
}

static void
got_free(struct got *g)
{
	size_t	i;

	for (i = 0; i < 4; i++)
		buf_free(&g->data[i]);
}

static const struct smuggle_limits	def_lim = { 64, 256, 1 << 20 };

static unsigned
run(const char *html, const struct smuggle_limits *lim, struct got *g)
{
	memset(g, 0, sizeof *g);
	return smuggle_extract((const unsigned char *)html, strlen(html),
	    lim != NULL ? lim : &def_lim, collect, g);
}

/* Checks one extraction: count, and for the first file how, name, bytes. */
static void
expect(struct t *t, const char *what, const char *html, unsigned want_n,
    const char *want_how, const char *want_name,
    const unsigned char *want, size_t want_len)
{
	struct got	g;

	run(html, NULL, &g);
	t_check(t, g.n == want_n, "%s: got %u files, want %u", what, g.n,
	    want_n);
	if (g.n > 0 && want_n > 0) {
		t_check(t, strcmp(g.how[0], want_how) == 0, "%s: how got %s, "
		    "want %s", what, g.how[0], want_how);
		t_check(t, strcmp(g.name[0], want_name) == 0, "%s: name got "
		    "%s, want %s", what, g.name[0], want_name);
		t_check(t, g.data[0].len == want_len &&
		    memcmp(g.data[0].data, want, want_len) == 0, "%s: got %zu "
		    "bytes, want %zu (the file encoded)", what,
		    g.data[0].len, want_len);
	}
	got_free(&g);
}

static unsigned char	pe[1024];

static void
script_blob_download(struct t *t)
{
	char		*s = b64s(pe, fake_pe(pe, sizeof pe));
	struct buf	 h = BUF_INIT;

	buf_printf(&h, "<html><body><p>Your invoice is downloading...</p>"
	    "<script>\nconst b = \"%s\";\nconst bin = Uint8Array.from(atob(b),"
	    " c => c.charCodeAt(0));\nconst blob = new Blob([bin], {type: "
	    "'application/octet-stream'});\nconst a = document.createElement("
	    "'a');\na.href = URL.createObjectURL(blob);\na.download = "
	    "\"invoice.exe\";\ndocument.body.appendChild(a);\na.click();\n"
	    "</script></body></html>\n", s);
	expect(t, "Blob + a.download", buf_cstr(&h), 1, "script-string",
	    "invoice.exe", pe, sizeof pe);
	buf_reset(&h);
	/* the name set before the data, with setAttribute */
	buf_printf(&h, "<script>var a = document.createElement('a'); "
	    "a.setAttribute('download', 'report.scr');\nvar d = '%s';\n"
	    "</script>", s);
	expect(t, "setAttribute before", buf_cstr(&h), 1, "script-string",
	    "report.scr", pe, sizeof pe);
	buf_reset(&h);
	/* JSON escapes "/" as "\/" */
	{
		struct buf	esc = BUF_INIT;
		size_t		i;

		for (i = 0; s[i] != '\0'; i++)
			if (s[i] == '/')
				buf_puts(&esc, "\\/");
			else
				buf_append(&esc, &s[i], 1);
		buf_printf(&h, "<script>var cfg = {\"file\":\"%s\"};</script>",
		    buf_cstr(&esc));
		buf_free(&esc);
	}
	expect(t, "JSON \\/", buf_cstr(&h), 1, "script-string", "(none)",
	    pe, sizeof pe);
	buf_free(&h);
	free(s);
}

static void
data_uri_link(struct t *t)
{
	char		*s = b64s(pe, fake_pe(pe, sizeof pe));
	struct buf	 h = BUF_INIT, wrapped = BUF_INIT;
	size_t		 i;
	struct got	 g;

	buf_printf(&h, "<p>Download: <a href=\"data:application/octet-stream;"
	    "base64,%s\" download=\"statement.exe\">statement</a></p>", s);
	expect(t, "a href data:", buf_cstr(&h), 1, "data-uri",
	    "statement.exe", pe, sizeof pe);
	run(buf_cstr(&h), NULL, &g);
	t_check(t, strcmp(g.mtype[0], "application/octet-stream") == 0,
	    "media type got %s", g.mtype[0]);
	got_free(&g);
	buf_reset(&h);
	/* line breaks inside the quoted URL (browsers drop them), attribute
	 * before the URL, upper case, percent-escaped "+" and "/" */
	b64(&wrapped, pe, sizeof pe, 76);
	buf_printf(&h, "<A DOWNLOAD='x.exe' HREF='DATA:application/x-msdownload"
	    ";BASE64,");
	for (i = 0; i < wrapped.len; i++)
		if (wrapped.data[i] == '+')
			buf_puts(&h, "%2B");
		else if (wrapped.data[i] == '/')
			buf_puts(&h, "%2f");
		else
			buf_append(&h, &wrapped.data[i], 1);
	buf_puts(&h, "'>get it</A>");
	expect(t, "folded, escaped data:", buf_cstr(&h), 1, "data-uri",
	    "x.exe", pe, sizeof pe);
	buf_reset(&h);
	/* CSS url(), unquoted: ends at ")" */
	buf_printf(&h, "<div style=\"background:url(data:image/png;base64,%s)"
	    " no-repeat\">", s);
	expect(t, "css url()", buf_cstr(&h), 1, "data-uri", "(none)", pe,
	    sizeof pe);
	buf_free(&wrapped);
	buf_free(&h);
	free(s);
}

static void
joined_chunks(struct t *t)
{
	char		*s = b64s(pe, fake_pe(pe, sizeof pe));
	size_t		 n = strlen(s), third = n / 3 / 4 * 4;
	struct buf	 h = BUF_INIT;
	char		*a = xstrndup(s, third);
	char		*b = xstrndup(s + third, third);
	const char	*c = s + 2 * third;

	buf_printf(&h, "<script>\nvar p = \"%s\" +\n    \"%s\" +\n\t'%s';\n"
	    "a.download = 'pay.exe';</script>", a, b, c);
	expect(t, "joined with +", buf_cstr(&h), 1, "script-string",
	    "pay.exe", pe, sizeof pe);
	buf_reset(&h);
	buf_printf(&h, "<script>var p = \"%s\";\np += \"%s\";\n"
	    "window.p += `%s`;\n</script>", a, b, c);
	expect(t, "joined with +=", buf_cstr(&h), 1, "script-string",
	    "(none)", pe, sizeof pe);
	buf_reset(&h);
	buf_printf(&h, "<script>var parts = [\n  \"%s\",\n  \"%s\",\n  "
	    "\"%s\"\n].join('');\nvar x = atob(parts);</script>", a, b, c);
	expect(t, "array joined", buf_cstr(&h), 1, "script-string", "(none)",
	    pe, sizeof pe);
	buf_reset(&h);
	/* a template literal with line breaks */
	buf_printf(&h, "<script>const t = `%s\n%s\n%s`;</script>", a, b, c);
	expect(t, "template literal", buf_cstr(&h), 1, "script-string",
	    "(none)", pe, sizeof pe);
	buf_free(&h);
	free(a);
	free(b);
	free(s);
}

/* Chunks encoded one by one keep their "=" padding: each decodes on its
 * own, as chunks.map(atob).join('') does. */
static void
padded_chunks(struct t *t)
{
	unsigned char	 want[400];
	char		*a, *b;
	struct buf	 h = BUF_INIT;

	memcpy(want, pe, sizeof want);
	a = b64s(want, 200);		/* 200 = 3 * 66 + 2: "=" padded */
	b = b64s(want + 200, 200);
	buf_printf(&h, "<script>var c = ['%s', '%s'];</script>", a, b);
	t_check(t, strchr(a, '=') != NULL, "first chunk is not padded");
	expect(t, "padded chunks", buf_cstr(&h), 1, "script-string", "(none)",
	    want, sizeof want);
	buf_free(&h);
	free(a);
	free(b);
}

static void
atob_short(struct t *t)
{
	const char	*eicar = t_eicar();
	char		*s = b64s((const unsigned char *)eicar, strlen(eicar));
	struct buf	 h = BUF_INIT;

	/* 92 characters: too short for a bare string, enough for atob() */
	buf_printf(&h, "<script>var x = window.atob( '%s' );</script>", s);
	expect(t, "atob()", buf_cstr(&h), 1, "atob", "(none)",
	    (const unsigned char *)eicar, strlen(eicar));
	buf_reset(&h);
	buf_printf(&h, "<script>var x = '%s';</script>", s);
	expect(t, "bare string of 92", buf_cstr(&h), 0, "", "", NULL, 0);
	buf_free(&h);
	free(s);
}

static void
benign_text(struct t *t)
{
	static const char *const pages[] = {
		"<p>Hello \"world\", it's 'fine' and `ok`.</p>",
		"<a href=\"https://example.com/path/to/a/page?id=QUJDREVGR0hJ"
		    "SktMTU5PUFFSU1RVVldYWVo&x=1\">link</a>",
		"<script>var id = \"abcdefABCDEF0123\"; var s = 'metadata:x';"
		    "</script>",
		"<img src=\"cid:logo@example.com\" alt=\"data:image\">",
		"unterminated ' quote and \" another, then data:text/plain,hi",
		"'''\"\"\"```",
		"",
	};
	size_t		i;
	struct got	g;

	for (i = 0; i < T_NCASES(pages); i++) {
		unsigned over = run(pages[i], NULL, &g);

		t_check(t, g.n == 0 && over == 0, "page %zu: got %u files, "
		    "want 0", i, g.n);
		got_free(&g);
	}
	t_check(t, smuggle_extract(NULL, 0, &def_lim, collect, &g) == 0,
	    "NULL input");
}

/* max_blobs at N and N+1; min_chars at N-1 and N; max_out at N, N+1. */
static void
limits(struct t *t)
{
	struct smuggle_limits	 lim = { 3, 256, 1 << 20 };
	struct buf		 h = BUF_INIT;
	char			*s = b64s(pe, 300);	/* 400 characters */
	struct got		 g;
	unsigned		 over, i;

	for (i = 0; i < 3; i++)
		buf_printf(&h, "<img src=\"data:image/gif;base64,%s\">", s);
	over = run(buf_cstr(&h), &lim, &g);
	t_check(t, g.n == 3 && over == 0, "3 files, limit 3: got %u + %u "
	    "over", g.n, over);
	got_free(&g);
	buf_printf(&h, "<img src=\"data:image/gif;base64,%s\">", s);
	over = run(buf_cstr(&h), &lim, &g);
	t_check(t, g.n == 3 && over == 1, "4 files, limit 3: got %u + %u "
	    "over, want 3 + 1", g.n, over);
	got_free(&g);

	buf_reset(&h);
	buf_printf(&h, "<script>x = \"%s\"</script>", s);
	lim.max_blobs = 64;
	lim.min_chars = 400;
	run(buf_cstr(&h), &lim, &g);
	t_check(t, g.n == 1, "400 characters, minimum 400: got %u files",
	    g.n);
	got_free(&g);
	lim.min_chars = 401;
	run(buf_cstr(&h), &lim, &g);
	t_check(t, g.n == 0, "400 characters, minimum 401: got %u files",
	    g.n);
	got_free(&g);

	lim.min_chars = 256;
	lim.max_out = 300;
	run(buf_cstr(&h), &lim, &g);
	t_check(t, g.n == 1 && !g.truncated[0] && g.data[0].len == 300,
	    "300 bytes, limit 300: got %zu bytes%s", g.data[0].len,
	    g.truncated[0] ? ", truncated" : "");
	got_free(&g);
	lim.max_out = 299;
	run(buf_cstr(&h), &lim, &g);
	t_check(t, g.n == 1 && g.truncated[0] && g.data[0].len == 299,
	    "300 bytes, limit 299: got %zu bytes%s, want 299, truncated",
	    g.data[0].len, g.truncated[0] ? ", truncated" : "");
	got_free(&g);
	buf_free(&h);
	free(s);
}

/* A document of many quotes and base64-looking runs stays linear. */
static void
hostile_linear(struct t *t)
{
	struct buf	 h = BUF_INIT;
	size_t		 i;
	struct got	 g;
	uint64_t	 t0 = clock_ms(), ms;

	for (i = 0; i < 200000; i++)
		buf_puts(&h, i % 3 == 0 ? "\"AAAA" : i % 3 == 1 ? "'BBBB" :
		    "+ data:;base64,");
	for (i = 0; i < 2000000; i++)
		buf_puts(&h, "A");
	run(buf_cstr(&h), NULL, &g);
	ms = clock_ms() - t0;
	t_check(t, ms < 2000, "3 MB of hostile HTML took %llu ms",
	    (unsigned long long)ms);
	t_log(t, "%zu bytes, %u files, %llu ms", h.len, g.n,
	    (unsigned long long)ms);
	got_free(&g);
	buf_free(&h);
}

/* ---- whole messages through scan_message ---- */

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

static struct verdict *
judge(struct t *t, const char *msg)
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
	if (policy_load_string("", "t.ini", NULL, 0, &pol, &errs) == -1) {
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
	if (scan_message(pol, &deps, &env, (const unsigned char *)msg,
	    strlen(msg), &v, &err) == -1) {
		t_error(t, "scan_message: got -1 (%s), want 0", err.msg);
		v = NULL;
	}
	policy_unref(&held);	/* findings point into the policy */
	held = pol;
	return v;
}

/* A finding of rule whose part starts with prefix. */
static bool
has(const struct verdict *v, enum rule rule, const char *prefix)
{
	size_t	i;

	for (i = 0; v != NULL && i < v->nfindings; i++)
		if (v->findings[i].rule == rule && strncmp(v->findings[i].part,
		    prefix, strlen(prefix)) == 0)
			return true;
	return false;
}

static bool
explained(const struct verdict *v, const char *a, const char *b)
{
	size_t	i;

	for (i = 0; v != NULL && i < v->nexplain; i++)
		if (strstr(v->explain[i], a) != NULL &&
		    (b == NULL || strstr(v->explain[i], b) != NULL))
			return true;
	return false;
}

/* A message: text/plain part 1, then html as part 2 (ctype, and a
 * filename when fname is not NULL), base64. */
static char *
message(const char *html, const char *ctype, const char *fname)
{
	struct buf	b = BUF_INIT;

	buf_puts(&b, "From: a@example.net\r\nTo: b@example.com\r\nSubject: "
	    "your document\r\nMIME-Version: 1.0\r\nContent-Type: "
	    "multipart/mixed; boundary=\"B\"\r\n\r\n--B\r\nContent-Type: "
	    "text/plain\r\n\r\nPlease see below.\r\n--B\r\n");
	buf_printf(&b, "Content-Type: %s\r\n", ctype);
	if (fname != NULL)
		buf_printf(&b, "Content-Disposition: attachment; filename="
		    "\"%s\"\r\n", fname);
	buf_puts(&b, "Content-Transfer-Encoding: base64\r\n\r\n");
	b64(&b, (const unsigned char *)html, strlen(html), 76);
	buf_puts(&b, "\r\n--B--\r\n");
	return buf_cstr(&b);
}

static const char	smuggler[] = "<html><body><script>\nconst b = \"%s\";"
    "\nconst blob = new Blob([Uint8Array.from(atob(b), c => "
    "c.charCodeAt(0))]);\nconst a = document.createElement('a');\n"
    "a.href = URL.createObjectURL(blob);\na.download = \"%s\";\n"
    "a.click();\n</script></body></html>\n";

static void
message_exe_blocked(struct t *t)
{
	static const struct {
		const char	*ctype;
		const char	*fname;
	} cases[] = {
		{ "text/html; charset=utf-8", NULL },
		{ "application/octet-stream", "invoice.html" },
		{ "image/svg+xml", "logo.svg" },
	};
	char		*s = b64s(pe, fake_pe(pe, sizeof pe));
	char		*html = xasprintf(smuggler, s, "invoice.exe");
	size_t		 i;

	for (i = 0; i < T_NCASES(cases); i++) {
		char		*msg = message(html, cases[i].ctype,
		    cases[i].fname);
		struct verdict	*v = judge(t, msg);

		T_CHECK_DISP(t, v, DISP_REJECT);
		t_check(t, has(v, RULE_BLOCKED_EXTENSION, "2/invoice.exe") &&
		    has(v, RULE_BLOCKED_TYPE, "2/invoice.exe"), "%s: "
		    "invoice.exe at 2/invoice.exe: %s", cases[i].ctype,
		    t_findings(v));
		t_check(t, explained(v, "part 2/invoice.exe: file in HTML "
		    "(script-string)", NULL), "%s: no explain line",
		    cases[i].ctype);
		verdict_free(&v);
		free(msg);
	}
	free(html);
	free(s);
}

static void
message_data_uri_virus(struct t *t)
{
	const char	*eicar = t_eicar();
	char		*s = b64s((const unsigned char *)eicar, strlen(eicar));
	char		*html = xasprintf("<p>Your statement: <a href=\"data:"
	    "application/octet-stream;base64,%s\" download=\"statement.txt\">"
	    "open</a></p>", s);
	char		*msg = message(html, "text/html", NULL);
	struct verdict	*v = judge(t, msg);

	T_CHECK_DISP(t, v, DISP_REJECT);
	t_check(t, has(v, RULE_VIRUS, "2/statement.txt"), "EICAR at "
	    "2/statement.txt: %s", t_findings(v));
	verdict_free(&v);
	free(msg);
	free(html);
	free(s);
}

static void
message_atob_zip(struct t *t)
{
	char		 path[600];
	unsigned char	*zip;
	size_t		 n;
	char		*s, *html, *msg;
	struct verdict	*v;
	FILE		*fp;

	snprintf(path, sizeof path, "%s/readme.txt", t_tmpdir(t));
	if ((fp = fopen(path, "w")) == NULL) {
		t_error(t, "cannot write %s", path);
		return;
	}
	fputs(t_eicar(), fp);
	fclose(fp);
	if (t_sh("cd '%s' && zip -q -X doc.zip readme.txt", t_tmpdir(t)) != 0) {
		t_error(t, "zip failed (Debian package zip)");
		return;
	}
	snprintf(path, sizeof path, "%s/doc.zip", t_tmpdir(t));
	if ((zip = t_read_file(path, &n)) == NULL) {
		t_error(t, "cannot read %s", path);
		return;
	}
	s = b64s(zip, n);
	html = xasprintf("<html><script>\nvar z = window.atob(\"%s\");\n"
	    "</script></html>", s);
	msg = message(html, "text/html", NULL);
	v = judge(t, msg);
	T_CHECK_DISP(t, v, DISP_REJECT);
	t_check(t, has(v, RULE_VIRUS, "2/html-blob-1"), "EICAR in the zip at "
	    "2/html-blob-1...: %s", t_findings(v));
	verdict_free(&v);
	free(msg);
	free(html);
	free(s);
	free(zip);
}

/* A minimal PNG (1x1) and a JPEG padded to about 3 KB, made by python3. */
static bool
images(struct t *t, unsigned char **png, size_t *pn, unsigned char **jpg,
    size_t *jn)
{
	char	path[600];

	if (t_sh("cd '%s' && python3 -c '\n"
	    "import struct, zlib\n"
	    "def chunk(t, d):\n"
	    "    return struct.pack(\">I\", len(d)) + t + d + "
	    "struct.pack(\">I\", zlib.crc32(t + d))\n"
	    "png = b\"\\x89PNG\\r\\n\\x1a\\n\" + chunk(b\"IHDR\", struct.pack("
	    "\">IIBBBBB\", 1, 1, 8, 2, 0, 0, 0)) + chunk(b\"IDAT\", "
	    "zlib.compress(b\"\\0\\xff\\0\\0\")) + chunk(b\"IEND\", b\"\")\n"
	    "open(\"logo.png\", \"wb\").write(png)\n"
	    "def seg(m, d):\n"
	    "    return b\"\\xff\" + bytes([m]) + "
	    "struct.pack(\">H\", len(d) + 2) + d\n"
	    "j = b\"\\xff\\xd8\" + seg(0xe0, b\"JFIF\\0\\x01\\x01\\0\\0\\x01\\0"
	    "\\x01\\0\\0\")\n"
	    "j += seg(0xfe, bytes(range(256)) * 12)\n"
	    "j += seg(0xdb, b\"\\x00\" + bytes([1] * 64))\n"
	    "j += seg(0xc0, b\"\\x08\" + struct.pack(\">HH\", 8, 8) + "
	    "b\"\\x01\\x01\\x11\\x00\")\n"
	    "j += seg(0xc4, b\"\\x00\" + bytes([1] + [0] * 15) + b\"\\x00\")\n"
	    "j += seg(0xc4, b\"\\x10\" + bytes([1] + [0] * 15) + b\"\\x00\")\n"
	    "j += seg(0xda, b\"\\x01\\x01\\x00\\x00\\x3f\\x00\")\n"
	    "open(\"photo.jpg\", \"wb\").write(j + b\"\\x3f\\xff\\xd9\")\n'",
	    t_tmpdir(t)) != 0) {
		t_error(t, "python3 could not make the images");
		return false;
	}
	snprintf(path, sizeof path, "%s/logo.png", t_tmpdir(t));
	*png = t_read_file(path, pn);
	snprintf(path, sizeof path, "%s/photo.jpg", t_tmpdir(t));
	*jpg = t_read_file(path, jn);
	if (*png == NULL || *jpg == NULL) {
		t_error(t, "cannot read the images");
		free(*png);
		free(*jpg);
		return false;
	}
	return true;
}

static void
message_benign_images(struct t *t)
{
	unsigned char	*png, *jpg;
	size_t		 pn, jn;
	char		*ps, *js, *html, *msg;
	struct verdict	*v;

	if (!images(t, &png, &pn, &jpg, &jn))
		return;
	ps = b64s(png, pn);
	js = b64s(jpg, jn);
	html = xasprintf("<html><body><img src=\"data:image/png;base64,%s\" "
	    "alt=\"logo\" width=\"1\"><p>Our newsletter.</p>\n<img src='data:"
	    "image/jpeg;base64,%s'>\n<script>var preview = \"%s\";</script>"
	    "</body></html>", ps, js, js);
	msg = message(html, "text/html; charset=utf-8", NULL);
	v = judge(t, msg);
	T_CHECK_DISP(t, v, DISP_ACCEPT);
	t_check(t, v != NULL && v->nfindings == 0, "findings: %s",
	    t_findings(v));
	t_check(t, explained(v, "part 2/html-blob-1: ", "true type image"),
	    "the logo is a leaf typed as an image");
	t_check(t, explained(v, "part 2/html-blob-2: ", "true type image") &&
	    explained(v, "part 2/html-blob-3: ", "true type image"),
	    "the photo (data: and script string) is typed as an image");
	verdict_free(&v);
	free(msg);
	free(html);
	free(js);
	free(ps);
	free(png);
	free(jpg);
}

/* Past 64 files in one HTML part: a count_limit finding. */
static void
message_too_many(struct t *t)
{
	struct buf	 h = BUF_INIT;
	char		*s = b64s(pe, 48), *msg;
	struct verdict	*v;
	unsigned	 i;

	for (i = 0; i < 65; i++)
		buf_printf(&h, "<img src=\"data:application/octet-stream;"
		    "base64,%s\">\n", s);
	msg = message(buf_cstr(&h), "text/html", NULL);
	v = judge(t, msg);
	t_check(t, has(v, RULE_COUNT_LIMIT, "2"), "65 files: count_limit at "
	    "2: %s", t_findings(v));
	verdict_free(&v);
	free(msg);
	buf_reset(&h);
	for (i = 0; i < 64; i++)
		buf_printf(&h, "<img src=\"data:application/octet-stream;"
		    "base64,%s\">\n", s);
	msg = message(buf_cstr(&h), "text/html", NULL);
	v = judge(t, msg);
	t_check(t, !has(v, RULE_COUNT_LIMIT, ""), "64 files: no count_limit: "
	    "%s", t_findings(v));
	verdict_free(&v);
	free(msg);
	buf_free(&h);
	free(s);
}

static const struct t_case cases[] = {
	T_CASE(script_blob_download),
	T_CASE(data_uri_link),
	T_CASE(joined_chunks),
	T_CASE(padded_chunks),
	T_CASE(atob_short),
	T_CASE(benign_text),
	T_CASE(limits),
	T_CASE(hostile_linear),
	T_CASE(message_exe_blocked),
	T_CASE(message_data_uri_virus),
	T_CASE(message_atob_zip),
	T_CASE(message_benign_images),
	T_CASE(message_too_many),
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
