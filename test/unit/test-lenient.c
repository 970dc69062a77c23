/*
 * test/unit/test-lenient.c - the tolerant reading (lib/lenient.c): its
 * decoders, its reading of transfer encodings, and the parts it finds in
 * mail that a strict reader reads otherwise. Each structure case says
 * which leaves (path, decoded bytes, first name) a tolerant client shows.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lenient.h"
#include "t.h"
#include "util.h"

/* ---- decoders ----------------------------------------------------------- */

static const struct {
	const char	*name;
	const char	*in;
	bool		 groups;
	const char	*want;
} b64_cases[] = {
	{ "plain", "aGVsbG8gd29ybGQ=", false, "hello world" },
	{ "lines and CRLF", "aGVs\r\nbG8g\r\nd29y\r\nbGQ=\r\n", false,
	    "hello world" },
	{ "junk skipped", "aG!V*s#b$G%8&g,d.2:9;y?b@G^Q`=", false,
	    "hello world" },
	{ "vertical tab, form feed", "aGVs\vbG8g\fd29ybGQ=", false,
	    "hello world" },
	{ "no padding", "aGVsbG8gd29ybGQ", false, "hello world" },
	{ "no padding, groups", "aGVsbG8gd29ybGQ", true, "hello world" },
	{ "extra padding", "aGVsbG8gd29ybGQ====\n=", false, "hello world" },
	/* "he" "llo": each piece padded on its own */
	{ "= inside, groups", "aGU=bGxv", true, "hello" },
	/* one bit stream: the "=" dropped, the bits after it shifted */
	{ "= inside, continuous", "aGU=bGxv", false, "he\x1b\x1b\x1b" },
	{ "groups of 1 and 2 bytes", "aA==ZWw=bG8=", true, "hello" },
	{ "URL-safe characters are junk", "aGV_sbG-8=", false, "hello" },
};

static void
base64(struct t *t)
{
	size_t	i;

	for (i = 0; i < T_NCASES(b64_cases); i++) {
		unsigned char	*out;
		size_t		 n, wn = strlen(b64_cases[i].want);
		bool		 cut;

		n = lenient_base64((const unsigned char *)b64_cases[i].in,
		    strlen(b64_cases[i].in), b64_cases[i].groups, 1 << 20,
		    &out, &cut);
		t_check(t, n == wn && memcmp(out, b64_cases[i].want, n) == 0 &&
		    !cut, "%s: got %zu bytes \"%.*s\", want \"%s\"",
		    b64_cases[i].name, n, (int)n, out, b64_cases[i].want);
		free(out);
	}
}

static void
base64_limit(struct t *t)
{
	unsigned char	*out;
	size_t		 n;
	bool		 cut;

	/* 11 bytes of data, 6 allowed: cut, and says so */
	n = lenient_base64((const unsigned char *)"aGVsbG8gd29ybGQ=", 16,
	    false, 6, &out, &cut);
	t_check(t, n == 6 && cut && memcmp(out, "hello ", 6) == 0,
	    "cut at 6: got %zu, cut %d", n, cut);
	free(out);
	n = lenient_base64((const unsigned char *)"aGVsbG8gd29ybGQ=", 16,
	    true, 11, &out, &cut);
	t_check(t, n == 11 && !cut, "exactly at the limit: got %zu, cut %d",
	    n, cut);
	free(out);
}

static const struct {
	const char	*name;
	const char	*in;
	const char	*want;
} qp_cases[] = {
	{ "hex", "caf=C3=A9", "caf\xc3\xa9" },
	{ "lower-case hex", "caf=c3=a9", "caf\xc3\xa9" },
	{ "soft break LF", "ab=\ncd", "abcd" },
	{ "soft break CRLF", "ab=\r\ncd", "abcd" },
	{ "soft break with spaces", "ab= \t\r\ncd", "abcd" },
	{ "soft breaks everywhere", "M=\nZ=\n=90=\n", "MZ\x90" },
	{ "invalid escapes kept", "a=zz=4", "a=zz=4" },
	{ "= at the end", "abc=", "abc" },
};

static void
quoted_printable(struct t *t)
{
	size_t	i;

	for (i = 0; i < T_NCASES(qp_cases); i++) {
		unsigned char	*out;
		size_t		 n, wn = strlen(qp_cases[i].want);

		n = lenient_qp((const unsigned char *)qp_cases[i].in,
		    strlen(qp_cases[i].in), 1 << 20, &out, NULL);
		t_check(t, n == wn && memcmp(out, qp_cases[i].want, n) == 0,
		    "%s: got \"%.*s\", want \"%s\"", qp_cases[i].name, (int)n,
		    out, qp_cases[i].want);
		free(out);
	}
}

static const struct {
	const char	*value;
	const char	*want;
} cte_cases[] = {
	{ "base64", "base64" },
	{ " BASE64 ", "base64" },
	{ "\"base64\"", "base64" },
	{ "(comment) base64", "base64" },
	{ "base64 (comment)", "base64" },
	{ "base64; junk", "base64" },
	{ "base64 junk", "base64" },
	{ "x-base64", "base64" },
	{ "bas64", "base64" },
	{ "base-64", "base64" },
	{ "=?us-ascii?Q?base64?=", "base64" },
	{ "quoted-printable", "quoted-printable" },
	{ "Quoted-Printable", "quoted-printable" },
	{ "quoted-printabel", "quoted-printable" },
	{ "x-uuencode", "uuencode" },
	{ "x-uue", "uuencode" },
	{ "uuencode", "uuencode" },
	{ "mac-binhex40", "binhex" },
	{ "7bit", "identity" },
	{ "8bit", "identity" },
	{ "binary", "identity" },
	{ "", "identity" },
};

static void
transfer_encodings(struct t *t)
{
	size_t	i;

	for (i = 0; i < T_NCASES(cte_cases); i++) {
		const char *got = lenient_cte(cte_cases[i].value);

		t_check(t, strcmp(got, cte_cases[i].want) == 0,
		    "\"%s\": got %s, want %s", cte_cases[i].value, got,
		    cte_cases[i].want);
	}
}

/* ---- what the reading finds --------------------------------------------- */

struct seen {
	char	 leaves[2048];	/* "path=bytes[name];" for each leaf */
	char	 events[512];
};

static void
on_leaf(void *ctx, const struct lenient_leaf *l, unsigned char *data,
    size_t len)
{
	struct seen	*s = ctx;
	size_t		 o = strlen(s->leaves);

	snprintf(s->leaves + o, sizeof s->leaves - o, "%s%s=%.*s[%s];",
	    l->variant ? "+" : "", l->path, (int)(len < 40 ? len : 40),
	    (const char *)data, l->nnames > 0 ? l->names[0] : "");
	free(data);
}

static void
on_event(void *ctx, enum lenient_event ev, const char *path,
    const char *detail)
{
	struct seen	*s = ctx;
	size_t		 o = strlen(s->events);

	(void)detail;
	snprintf(s->events + o, sizeof s->events - o, "%d@%s;", (int)ev,
	    path);
}

static const struct {
	const char	*name;
	const char	*msg;
	const char	*want;		/* leaves, in order */
} read_cases[] = {
	{ "single part", "Subject: x\n\nhello\n", "1=hello\n[];" },
	{ "no header block", "just text\n", "1=just text\n[];" },
	{ "multipart",
	    "Content-Type: multipart/mixed; boundary=b\n\n--b\n\nA\n--b\n"
	    "Content-Type: application/x; name=a.exe\n"
	    "Content-Transfer-Encoding: base64\n\naGVsbG8=\n--b--\n",
	    "1=A[];2=hello[a.exe];" },
	{ "bare CR line ends",
	    "Content-Type: multipart/mixed; boundary=b\r\r--b\r"
	    "Content-Type: application/x; name=a.exe\r\rX\r--b--\r",
	    "1=X[a.exe];" },
	{ "space before the colon, upper-case names",
	    "CONTENT-TYPE : multipart/mixed; boundary=b\n\n--b\n"
	    "CONTENT-DISPOSITION : attachment; FILENAME=a.exe\n\nX\n--b--\n",
	    "1=X[a.exe];" },
	{ "no blank line after the part header",
	    "Content-Type: multipart/mixed; boundary=b\n\n--b\n"
	    "Content-Type: application/x; name=a.exe\n"
	    "Content-Transfer-Encoding: base64\naGVsbG8=\n--b--\n",
	    "1=hello[a.exe];" },
	{ "misspelled multipart, quoted type",
	    "Content-Type: \"mulitpart/mixed\"; boundary=b\n\n--b\n\nA\n"
	    "--b--\n", "1=A[];" },
	{ "RFC 2047 type",
	    "Content-Type: =?us-ascii?Q?multipart/mixed?=; boundary=b\n\n"
	    "--b\n\nA\n--b--\n", "1=A[];" },
	{ "part in the epilogue",
	    "Content-Type: multipart/mixed; boundary=b\n\n--b\n\nA\n--b--\n"
	    "--b\nContent-Type: application/x; name=e.exe\n\nE\n--b--\n",
	    "1=A[];2=E[e.exe];" },
	{ "missing close delimiter",
	    "Content-Type: multipart/mixed; boundary=b\n\n--b\n\nA\n--b\n"
	    "Content-Type: application/x; name=e.exe\n\nE\n",
	    "1=A[];2=E\n[e.exe];" },
	{ "outer delimiter closes the inner multipart",
	    "Content-Type: multipart/mixed; boundary=o\n\n--o\n"
	    "Content-Type: multipart/alternative; boundary=i\n\n--i\n\nA\n"
	    "--o\nContent-Type: application/x; name=e.exe\n\nE\n--o--\n",
	    "1.1=A[];2=E[e.exe];" },
	{ "a declared boundary that no line uses",
	    "Content-Type: multipart/mixed; boundary=nope\n\n--xyz\n\nA\n"
	    "--xyz\nContent-Type: application/x; name=e.exe\n\nE\n--xyz--\n",
	    "1=A[];2=E[e.exe];" },
	{ "two Content-Types: the first one read",
	    "Content-Type: multipart/mixed; boundary=a\n"
	    "Content-Type: multipart/mixed; boundary=b\n\n--a\n\nA\n--a--\n",
	    "1=A[];" },
	{ "two transfer encodings: each decoded",
	    "Content-Type: application/x; name=e.exe\n"
	    "Content-Transfer-Encoding: base64\n"
	    "Content-Transfer-Encoding: quoted-printable\n\naGk=\n",
	    "1=hi[e.exe];+1=aGk[e.exe];" },
	{ "filename without a disposition type",
	    "Content-Type: multipart/mixed; boundary=b\n\n--b\n"
	    "Content-Disposition: filename=e.exe\n\nE\n--b--\n",
	    "1=E[e.exe];" },
	{ "RFC 2231 pieces",
	    "Content-Type: multipart/mixed; boundary=b\n\n--b\n"
	    "Content-Disposition: attachment; filename*0=\"in\"; "
	    "filename*2=\".exe\"; filename*1*=vo%69ce\n\nE\n--b--\n",
	    "1=E[invoice.exe];" },
	{ "junk in a folded header",
	    "Content-Type: multipart/mixed; boundary=b\n\n--b\n"
	    "Content-Type: application/x;\n \t!!! }{ junk ((\n name=\"e.exe\"\n"
	    "\nE\n--b--\n", "1=E[e.exe];" },
	{ "encoded message/rfc822 read again",
	    "Content-Type: multipart/mixed; boundary=b\n\n--b\n"
	    "Content-Type: message/rfc822\n"
	    "Content-Transfer-Encoding: base64\n\n"
	    "Q29udGVudC1UeXBlOiBhcHBsaWNhdGlvbi94OyBuYW1lPWUuZXhlCgpF\n"
	    "--b--\n", "1.1=E[e.exe];" },
};

static void
reading(struct t *t)
{
	struct lenient_limits	 lim = { 20, 500, 1 << 20, 1 << 24, 64 };
	size_t			 i;

	for (i = 0; i < T_NCASES(read_cases); i++) {
		struct seen s;

		memset(&s, 0, sizeof s);
		lenient_read((const unsigned char *)read_cases[i].msg,
		    strlen(read_cases[i].msg), &lim, on_leaf, on_event, &s);
		t_check(t, strcmp(s.leaves, read_cases[i].want) == 0,
		    "%s: got %s, want %s", read_cases[i].name, s.leaves,
		    read_cases[i].want);
	}
}

static void
limits(struct t *t)
{
	struct lenient_limits	 lim = { 3, 4, 1 << 20, 1 << 24, 2 };
	struct seen		 s;
	struct buf		 b = BUF_INIT;
	int			 k;

	/* 3 parts and the multipart: 4 entities pass; one more does not */
	for (k = 3; k <= 4; k++) {
		int j;

		buf_reset(&b);
		buf_puts(&b, "Content-Type: multipart/mixed; boundary=b\n\n");
		for (j = 0; j < k; j++)
			buf_puts(&b, "--b\n\nA\n");
		buf_puts(&b, "--b--\n");
		memset(&s, 0, sizeof s);
		lenient_read(b.data, b.len, &lim, on_leaf, on_event, &s);
		t_check(t, (strstr(s.events, "0@") != NULL) == (k == 4),
		    "%d parts: events %s", k, s.events);
	}
	/* RFC 2231: 2 pieces pass, 3 are a finding */
	memset(&s, 0, sizeof s);
	buf_reset(&b);
	buf_puts(&b, "Content-Disposition: attachment; filename*0=a; "
	    "filename*1=b\n\nX\n");
	lenient_read(b.data, b.len, &lim, on_leaf, on_event, &s);
	t_check(t, strstr(s.events, "2@") == NULL, "2 pieces: events %s",
	    s.events);
	memset(&s, 0, sizeof s);
	buf_reset(&b);
	buf_puts(&b, "Content-Disposition: attachment; filename*0=a; "
	    "filename*1=b; filename*2=c.exe\n\nX\n");
	lenient_read(b.data, b.len, &lim, on_leaf, on_event, &s);
	t_check(t, strstr(s.events, "2@") != NULL, "3 pieces: events %s",
	    s.events);
	/* nesting: depth 3 passes, 4 is a finding */
	memset(&s, 0, sizeof s);
	buf_reset(&b);
	buf_puts(&b, "Content-Type: multipart/mixed; boundary=a\n\n--a\n"
	    "Content-Type: multipart/mixed; boundary=b\n\n--b\n"
	    "Content-Type: multipart/mixed; boundary=c\n\n--c\n\nX\n--c--\n"
	    "--b--\n--a--\n");
	lenient_read(b.data, b.len, &lim, on_leaf, on_event, &s);
	t_check(t, strstr(s.events, "1@") != NULL, "depth 4: events %s",
	    s.events);
	buf_free(&b);
}

static const struct t_case cases[] = {
	T_CASE(base64),
	T_CASE(base64_limit),
	T_CASE(quoted_printable),
	T_CASE(transfer_encodings),
	T_CASE(reading),
	T_CASE(limits),
};

int
main(int argc, char **argv)
{
	return t_main(argc, argv, cases, T_NCASES(cases));
}
