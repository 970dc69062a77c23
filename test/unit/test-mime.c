/* test/unit/test-mime.c - the MIME walk: names from every source, paths,
 * decoding, and render at every header shape. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gmime/gmime.h>

#include "mime.h"
#include "textenc.h"
#include "t.h"

static unsigned	nfindings;
static enum rule last_rule;

static void
on_finding(void *ctx, enum rule rule, const char *path, const char *fn,
    const char *detail)
{
	(void)ctx; (void)path; (void)fn; (void)detail;
	nfindings++;
	last_rule = rule;
}

static struct policy *
defaults(void)
{
	struct policy	*pol = NULL;
	char		*errs = NULL;

	if (policy_load(NULL, NULL, 0, &pol, &errs) == -1)
		abort();
	return pol;
}

static const struct {
	const char	*name;
	const char	*headers;	/* of the one attachment part */
	const char	*want[3];	/* names, in order */
} name_cases[] = {
	{ "filename and name differ",
	    "Content-Type: application/pdf; name=\"ctname.exe\"\r\n"
	    "Content-Disposition: attachment; filename=\"doc.pdf\"\r\n",
	    { "doc.pdf", "ctname.exe", NULL } },
	{ "RFC 2231 continuation",
	    "Content-Type: application/octet-stream\r\n"
	    "Content-Disposition: attachment; filename*0*=UTF-8''r%C3%A9sum"
	    ";\r\n filename*1=\"e.pdf.exe\"\r\n",
	    { "r\xc3\xa9sume.pdf.exe", NULL, NULL } },
	{ "RFC 2047 word",
	    "Content-Type: application/octet-stream; name=\"=?UTF-8?B?"
	    "aW52b2ljZS5zY3I=?=\"\r\n",
	    { "invoice.scr", NULL, NULL } },
	{ "Content-Description as a name",
	    "Content-Type: application/octet-stream\r\n"
	    "Content-Description: payload.js\r\n",
	    { "payload.js", NULL, NULL } },
};

/*
 * On well-formed mail the tolerant reading finds what GMime finds: the
 * same bytes at the same path (prefixed "lenient:"), the same names.
 * Returns the number of GMime's leaves.
 */
static size_t
readings_agree(struct t *t, const char *what, const struct mime_leaf *l,
    size_t n)
{
	size_t	g = 0, i, k;

	while (g < n && !l[g].lenient)
		g++;
	t_check(t, n - g == g, "%s: tolerant reading has %zu leaves, GMime's "
	    "%zu", what, n - g, g);
	for (i = 0; i < g && g + i < n; i++) {
		const struct mime_leaf *a = &l[i], *b = &l[g + i];

		t_check(t, strncmp(b->path, "lenient:", 8) == 0 &&
		    strcmp(b->path + 8, a->path) == 0, "%s: path %s / %s",
		    what, a->path, b->path);
		t_check(t, a->len == b->len && memcmp(a->data, b->data,
		    a->len) == 0, "%s: part %s: %zu bytes / %zu bytes", what,
		    a->path, a->len, b->len);
		for (k = 0; k < a->nnames; k++)
			t_check(t, k < b->nnames && strcmp(a->names[k],
			    b->names[k]) == 0, "%s: part %s: name \"%s\" / "
			    "\"%s\"", what, a->path, a->names[k],
			    k < b->nnames ? b->names[k] : "(none)");
	}
	return g;
}

static void
names_from_every_source(struct t *t)
{
	struct policy	*pol = defaults();
	size_t		 i, k;

	for (i = 0; i < T_NCASES(name_cases); i++) {
		char			*msg = xasprintf("From: a@b.c\r\n"
		    "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; "
		    "boundary=\"q\"\r\n\r\n--q\r\nContent-Type: text/plain\r\n"
		    "\r\nbody\r\n--q\r\n%s\r\nZZZ\r\n--q--\r\n",
		    name_cases[i].headers);
		struct mime_doc		*d = mime_open((void *)msg,
		    strlen(msg));
		const struct mime_leaf	*l;
		size_t			 n;

		mime_walk(d, pol, on_finding, NULL, NULL);
		l = mime_leaves(d, &n);
		n = readings_agree(t, name_cases[i].name, l, n);
		if (t_check(t, n == 2, "%s: leaves got %zu, want 2",
		    name_cases[i].name, n)) {
			t_check(t, strcmp(l[1].path, "2") == 0, "%s: path %s",
			    name_cases[i].name, l[1].path);
			for (k = 0; k < 3 && name_cases[i].want[k]; k++)
				t_check(t, k < l[1].nnames && strcmp(
				    l[1].names[k], name_cases[i].want[k]) == 0,
				    "%s: name %zu got \"%s\", want \"%s\"",
				    name_cases[i].name, k, k < l[1].nnames ?
				    l[1].names[k] : "(none)",
				    name_cases[i].want[k]);
			t_check(t, l[1].nnames == k, "%s: got %zu names, "
			    "want %zu", name_cases[i].name, l[1].nnames, k);
		}
		mime_close(&d);
		free(msg);
	}
	policy_unref(&pol);
}

static void
decoding_and_paths(struct t *t)
{
	const char		*msg = "From: a@b.c\r\nMIME-Version: 1.0\r\n"
	    "Content-Type: multipart/mixed; boundary=\"o\"\r\n\r\n"
	    "--o\r\nContent-Type: multipart/alternative; boundary=\"i\"\r\n\r\n"
	    "--i\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: "
	    "quoted-printable\r\n\r\ncaf=C3=A9=\r\n!\r\n"
	    "--i\r\nContent-Type: text/html\r\n\r\n<p>x</p>\r\n--i--\r\n"
	    "--o\r\nContent-Type: message/rfc822\r\n\r\nFrom: x@y.z\r\n"
	    "Content-Type: application/zip; name=\"a.zip\"\r\n"
	    "Content-Transfer-Encoding: base64\r\n\r\nUEsFBgAAAAAAAAAAAAAAAAAAAAAAAA==\r\n"
	    "--o--\r\n";
	struct policy		*pol = defaults();
	struct mime_doc		*d = mime_open((const void *)msg, strlen(msg));
	const struct mime_leaf	*l;
	size_t			 n;

	nfindings = 0;
	mime_walk(d, pol, on_finding, NULL, NULL);
	l = mime_leaves(d, &n);
	n = readings_agree(t, "decoding", l, n);
	t_check(t, nfindings == 0, "findings got %u, want 0", nfindings);
	if (t_check(t, n == 3, "leaves got %zu, want 3", n)) {
		t_check(t, strcmp(l[0].path, "1.1") == 0 && l[0].len == 6 &&
		    memcmp(l[0].data, "caf\xc3\xa9!", 6) == 0,
		    "QP decoded at 1.1: %s %zu", l[0].path, l[0].len);
		t_check(t, strcmp(l[1].path, "1.2") == 0, "html at %s",
		    l[1].path);
		t_check(t, strcmp(l[2].path, "2.1") == 0 && l[2].len == 22 &&
		    l[2].data[0] == 'P', "zip in rfc822 at %s, %zu bytes",
		    l[2].path, l[2].len);
		t_check(t, l[2].depth == 3, "depth got %u, want 3",
		    l[2].depth);
	}
	mime_close(&d);
	policy_unref(&pol);
}

static void
render_headers(struct t *t)
{
	static const struct {
		const char	*in;
		const char	*want;
	} cases[] = {
		{ "Subject: a\r\nX-Portcullis: x\r\n y\r\nTo: b\r\n\r\nbody",
		  "Subject: [T] a\r\nTo: b\r\nX-Portcullis: clean (h)\r\n\r\n"
		  "body" },
		{ "To: b\n\nlf body\n",
		  "To: b\nSubject: [T]\nX-Portcullis: clean (h)\n\nlf body\n" },
		{ "x-portcullis: forged\r\nSubject: s\r\n folded\r\n\r\n",
		  "Subject: [T] s\r\n folded\r\nX-Portcullis: clean (h)\r\n"
		  "\r\n" },
		{ "Subject: no body", "Subject: [T] no body" },
	};
	struct verdict	*v = verdict_new(DIR_INBOUND);
	size_t		 i;

	v->summary = xstrdup("clean");
	v->subject_tag = xstrdup("[T]");
	for (i = 0; i < T_NCASES(cases); i++) {
		struct buf b = BUF_INIT;

		message_render((const void *)cases[i].in, strlen(cases[i].in),
		    v, "h", &b);
		if (i == 3)
			t_check(t, strncmp(buf_cstr(&b), cases[i].want,
			    strlen(cases[i].want)) == 0, "case %zu got \"%s\"",
			    i, buf_cstr(&b));
		else
			t_check(t, strcmp(buf_cstr(&b), cases[i].want) == 0,
			    "case %zu got \"%s\", want \"%s\"", i, buf_cstr(&b),
			    cases[i].want);
		buf_free(&b);
	}
	verdict_free(&v);
}

struct got {
	unsigned	n;
	char		kind[16];
	char		name[64];
	size_t		len;
	unsigned char	head[4];
};

static void
on_file(void *ctx, const char *kind, const char *name, unsigned char *data,
    size_t len, bool truncated)
{
	struct got	*g = ctx;

	(void)truncated;
	g->n++;
	snprintf(g->kind, sizeof g->kind, "%s", kind);
	snprintf(g->name, sizeof g->name, "%s", name != NULL ? name : "");
	g->len = len;
	memcpy(g->head, data != NULL && len >= 4 ? data : (unsigned char *)
	    "\0\0\0\0", 4);
	free(data);
}

static void
files_in_text(struct t *t)
{
	char		 path[512];
	unsigned char	*bh;
	size_t		 n;
	struct got	 g;
	const char	*uu = "hi\r\nbegin 644 a.exe\r\n#35H;&\\`\r\n`\r\n"
	    "end\r\n";
	/* yEnc of "MZ\0\x01": each byte + 42, NUL escaped as =@ (0+42+64) */
	const char	*ye = "=ybegin line=128 size=4 name=y.scr\r\n"
	    "w\x84*+\r\n=yend size=4\r\n";

	memset(&g, 0, sizeof g);
	textenc_extract((const void *)uu, strlen(uu), 1000, 8, on_file, &g);
	t_check(t, g.n == 1 && strcmp(g.kind, "uuencode") == 0 &&
	    strcmp(g.name, "a.exe") == 0 && g.len == 3, "uuencode: got %u "
	    "%s %s %zu", g.n, g.kind, g.name, g.len);
	memset(&g, 0, sizeof g);
	textenc_extract((const void *)ye, strlen(ye), 1000, 8, on_file, &g);
	t_check(t, g.n == 1 && strcmp(g.name, "y.scr") == 0 && g.len == 4 &&
	    g.head[0] == 'M' && g.head[1] == 'Z', "yenc: got %u %s %zu %02x",
	    g.n, g.name, g.len, g.head[0]);
	snprintf(path, sizeof path, "%s/clam.exe.binhex", getenv(
	    "CLAMAV_TESTFILES") != NULL ? getenv("CLAMAV_TESTFILES") :
	    "/usr/share/clamav-testfiles");
	bh = t_read_file(path, &n);
	if (t_check(t, bh != NULL, "cannot read %s", path)) {
		memset(&g, 0, sizeof g);
		textenc_extract(bh, n, 100000, 8, on_file, &g);
		t_check(t, g.n == 1 && strcmp(g.kind, "binhex") == 0 &&
		    strcmp(g.name, "clam.exe") == 0 && g.len == 544 &&
		    g.head[0] == 'M' && g.head[1] == 'Z', "binhex: got %u %s "
		    "%s %zu", g.n, g.kind, g.name, g.len);
		memset(&g, 0, sizeof g);
		textenc_extract(bh, n, 100, 8, on_file, &g);
		t_check(t, g.n == 1 && g.len == 100, "binhex capped at 100: "
		    "got %zu", g.len);
	}
	free(bh);
}

static const struct t_case cases[] = {
	T_CASE(files_in_text),
	T_CASE(names_from_every_source),
	T_CASE(decoding_and_paths),
	T_CASE(render_headers),
};

int
main(int argc, char **argv)
{
	int	r;

	g_mime_init();
	r = t_main(argc, argv, cases, T_NCASES(cases));
	g_mime_shutdown();
	return r;
}
