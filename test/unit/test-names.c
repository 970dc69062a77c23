/* test/unit/test-names.c - name normalisation and extension matching. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "names.h"
#include "t.h"

static char	*blocked_v[] = { "exe", "scr", "js", "com" };
static const struct strlist blocked = { blocked_v, 4 };

static const struct {
	const char	*name;
	const char	*want_norm;
	const char	*want_hit;	/* NULL = not blocked */
	const char	*want_inner;
	bool		 want_tricks;
} cases[] = {
	{ "report.pdf", "report.pdf", NULL, NULL, false },
	{ "Invoice.PDF.exe", "invoice.pdf.exe", "exe", NULL, false },
	{ "a.EXE", "a.exe", "exe", NULL, false },
	{ "a.exe.", "a.exe", "exe", NULL, false },
	{ "a.exe . .", "a.exe", "exe", NULL, false },
	{ "invoice\xe2\x80\xae" "fdp.exe", "invoicefdp.exe", "exe", NULL,
	    true },				/* U+202E RTLO */
	{ "photo\xe2\x80\x8b.exe", "photo.exe", "exe", NULL, true },
	{ "doc\xef\xbb\xbf.s\xe2\x80\x8d" "cr", "doc.scr", "scr", NULL,
	    true },				/* BOM, ZWJ */
	{ "a.pdf:x.exe", "a.pdf:x.exe", "exe", NULL, true },
	{ "a.exe::$DATA", "a.exe::$data", "exe", NULL, true },
	{ "a.exe.txt", "a.exe.txt", NULL, "exe", false },
	{ "C:\\Users\\x\\evil.scr", "evil.scr", "scr", NULL, false },
	{ "dir/sub/run.js", "run.js", "js", NULL, false },
	{ "noext", "noext", NULL, NULL, false },
	{ ".exe", ".exe", "exe", NULL, false },
	{ "r\xc3\xa9sum\xc3\xa9.com", "r\xc3\xa9sum\xc3\xa9.com", "com", NULL,
	    false },
	{ "tab\t.exe", "tab.exe", "exe", NULL, true },
	{ "exe", "exe", NULL, NULL, false },
	{ "x.executable", "x.executable", NULL, NULL, false },
};

static void
normalise_and_match(struct t *t)
{
	size_t	i;

	for (i = 0; i < T_NCASES(cases); i++) {
		bool		 tricks;
		char		*n = name_normalise(cases[i].name, &tricks);
		const char	*inner, *hit;

		hit = name_blocked_ext(n, &blocked, &inner);
		t_check(t, strcmp(n, cases[i].want_norm) == 0,
		    "case %zu: normalised got \"%s\", want \"%s\"", i, n,
		    cases[i].want_norm);
		t_check(t, (hit == NULL && cases[i].want_hit == NULL) ||
		    (hit != NULL && cases[i].want_hit != NULL &&
		    strcmp(hit, cases[i].want_hit) == 0),
		    "case %zu (%s): hit got %s, want %s", i, cases[i].want_norm,
		    hit ? hit : "none", cases[i].want_hit ? cases[i].want_hit :
		    "none");
		t_check(t, (inner == NULL) == (cases[i].want_inner == NULL),
		    "case %zu: inner got %s, want %s", i, inner ? inner :
		    "none", cases[i].want_inner ? cases[i].want_inner : "none");
		t_check(t, tricks == cases[i].want_tricks,
		    "case %zu: tricks got %d, want %d", i, tricks,
		    cases[i].want_tricks);
		free(n);
	}
}

static void
display_is_printable(struct t *t)
{
	char	*d = name_display("a\r\nb\xe2\x80\xae.exe");

	t_check(t, strcmp(d, "a??b???.exe") == 0, "got \"%s\", want "
	    "\"a??b???.exe\"", d);
	free(d);
}

static const struct t_case tcases[] = {
	T_CASE(normalise_and_match),
	T_CASE(display_is_printable),
};

int
main(int argc, char **argv)
{
	return t_main(argc, argv, tcases, T_NCASES(tcases));
}
