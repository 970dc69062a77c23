/*
 * lib/smuggle.c - base64 files in HTML (see smuggle.h).
 *
 * One pass: at "data:" a data URI is read; at a quote a string literal is
 * read and, if it holds only base64, joined with the literals that follow
 * it through "+", "," or "x += ". Every byte starts at most one literal
 * (a failed literal ends at its first non-base64 byte, before the next
 * quote), so the pass is linear; name searches are bounded windows and
 * only run for reported files.
 */
#include "config.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lenient.h"
#include "smuggle.h"
#include "util.h"

#define TAGGED_MIN	16	/* base64 characters in data: or atob() */
#define CHUNK_MIN	4	/* a joined literal shorter than this ends it */
#define SEP_MAX		128	/* bytes between two joined literals */
#define TAG_MAX		4096	/* bytes from a data: URI to its tag's ends */
#define NAME_WINDOW	65536	/* bytes searched for a script's name */
#define NAME_TRIES	16	/* "download" words tried per file */
#define NAME_LEN	255
#define MTYPE_LEN	127
#define ATOB_BACK	16	/* bytes between "atob" and the quote */

struct sm {
	const unsigned char		*p;
	size_t				 n;
	const struct smuggle_limits	*lim;
	smuggle_fn			 fn;
	void				*ctx;
	unsigned			 reported;
	unsigned			 over;
};

/* Streaming base64: '=' ends a group (chunks encoded one by one keep
 * their padding), anything outside the alphabet is the caller's to skip. */
struct dec {
	struct buf	out;
	size_t		max;
	unsigned	acc;
	unsigned	bits;
	size_t		chars;		/* alphabet characters fed */
	bool		cut;
};

/* Scripts write base64url too ("-" and "_"). */
static int
b64v(unsigned char c)
{
	return lenient_b64val(c, true);
}

static bool
is_b64(unsigned char c)
{
	return b64v(c) >= 0 || c == '=';
}

static bool
is_ws(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f';
}

static bool
is_ident(unsigned char c)
{
	return isalnum(c) || c == '_' || c == '$';
}

static void
dec_feed(struct dec *d, unsigned char c, bool keep)
{
	int	v = b64v(c);

	if (c == '=') {
		d->acc = 0;
		d->bits = 0;
		return;
	}
	if (v < 0)
		return;
	d->chars++;
	if (!keep)
		return;
	d->acc = (d->acc << 6 | (unsigned)v) & 0xffffff;
	d->bits += 6;
	if (d->bits < 8)
		return;
	d->bits -= 8;
	if (d->out.len >= d->max) {
		d->cut = true;
		return;
	}
	{
		unsigned char b = (unsigned char)(d->acc >> d->bits);

		buf_append(&d->out, &b, 1);
	}
}

/* Case-insensitive search for word in p[lo, hi); hi if absent. */
static size_t
find_ci(const unsigned char *p, size_t lo, size_t hi, const char *word)
{
	size_t	wn = strlen(word), i;

	for (i = lo; i + wn <= hi; i++)
		if (tolower(p[i]) == word[0] &&
		    strncasecmp((const char *)p + i, word, wn) == 0)
			return i;
	return hi;
}

/*
 * A name after a "download" word in p[lo, hi): download="x", download='x',
 * a.download = "x", setAttribute("download", "x"). Caller frees; NULL if
 * none.
 */
static char *
find_name(const unsigned char *p, size_t n, size_t lo, size_t hi)
{
	size_t	at = lo, k, s, tries;

	for (tries = 0; tries < NAME_TRIES; tries++, at++) {
		unsigned char	q = 0;
		size_t		skipped;

		if ((at = find_ci(p, at, hi, "download")) >= hi)
			return NULL;
		if ((at > 0 && is_ident(p[at - 1])) ||
		    (at + 8 < n && is_ident(p[at + 8])))
			continue;
		for (k = at + 8, skipped = 0; k < n && skipped < 8 &&
		    strchr(" \t\r\n=:,\"'`", p[k]) != NULL && p[k] != '\0';
		    k++, skipped++)
			if (p[k] == '"' || p[k] == '\'' || p[k] == '`')
				q = p[k];
		if (q == 0)
			continue;
		for (s = k; k < n && k - s < NAME_LEN && p[k] != q &&
		    p[k] != '\n' && p[k] != '<' && p[k] != '>' && p[k] != '\0';
		    k++)
			;
		if (k < n && p[k] == q && k > s)
			return xstrndup((const char *)p + s, k - s);
	}
	return NULL;
}

/* Hands d's bytes to the callback (or counts them past the limit). The
 * name is searched in p[lo, hi), then in p[lo2, hi2). */
static void
emit(struct sm *sm, const char *how, struct dec *d, size_t lo, size_t hi,
    size_t lo2, size_t hi2, const char *mtype)
{
	char	*name;

	if (sm->reported >= sm->lim->max_blobs) {
		sm->over++;
		buf_free(&d->out);
		return;
	}
	sm->reported++;
	if ((name = find_name(sm->p, sm->n, lo, hi)) == NULL && lo2 < hi2)
		name = find_name(sm->p, sm->n, lo2, hi2);
	sm->fn(sm->ctx, how, name, mtype, d->out.data != NULL ? d->out.data :
	    xcalloc(1, 1), d->out.len, d->cut);
	d->out = (struct buf)BUF_INIT;
	free(name);
}

/* A data: URI at i (p[i..] is "data:"); returns where to go on. */
static size_t
data_uri(struct sm *sm, size_t i)
{
	const unsigned char	*p = sm->p;
	size_t			 n = sm->n, k, comma, lo, hi;
	unsigned char		 quote = i > 0 && (p[i - 1] == '"' ||
	    p[i - 1] == '\'') ? p[i - 1] : 0;
	char			 mtype[MTYPE_LEN + 1];
	struct dec		 d;
	size_t			 m = 0;

	for (k = i + 5; k < n && k - i < 5 + MTYPE_LEN + 8 && p[k] != ',' &&
	    !is_ws(p[k]) && p[k] != '"' && p[k] != '\'' && p[k] != '<' &&
	    p[k] != '>'; k++)
		;
	if (k >= n || p[k] != ',' || k - (i + 5) < 7 ||
	    strncasecmp((const char *)p + k - 7, ";base64", 7) != 0)
		return i + 5;
	comma = k;
	for (k = i + 5; k < comma && p[k] != ';' && m < MTYPE_LEN; k++)
		mtype[m++] = (char)tolower(p[k]);
	mtype[m] = '\0';

	memset(&d, 0, sizeof d);
	d.max = sm->lim->max_out;
	for (k = comma + 1; k < n; k++) {
		unsigned char c = p[k];

		if (c == '%' && k + 2 < n && isxdigit(p[k + 1]) &&
		    isxdigit(p[k + 2])) {
			char hex[3] = { (char)p[k + 1], (char)p[k + 2], 0 };

			c = (unsigned char)strtoul(hex, NULL, 16);
			if (!is_b64(c))
				break;
			k += 2;
		} else if (is_ws(c) && quote != 0)
			continue;	/* browsers drop it inside a URL */
		else if (!is_b64(c))
			break;
		dec_feed(&d, c, sm->reported < sm->lim->max_blobs);
	}
	if (d.chars < TAGGED_MIN) {
		buf_free(&d.out);
		return k > i + 5 ? k : i + 5;
	}
	/* the name is an attribute of the same tag */
	for (lo = i; lo > 0 && i - lo < TAG_MAX && p[lo] != '<'; lo--)
		;
	for (hi = k; hi < n && hi - k < TAG_MAX && p[hi] != '>'; hi++)
		;
	emit(sm, "data-uri", &d, lo, hi, 0, 0, m > 0 ? mtype : NULL);
	return k;
}

/*
 * A string literal at i of base64 only: its end (after the closing quote)
 * in *end_r. Backquoted literals may hold white space; "\/" is a slash
 * (JSON) and a backslash-newline continues the line.
 */
static bool
chunk_scan(const unsigned char *p, size_t n, size_t i, size_t *end_r,
    size_t *chars_r)
{
	unsigned char	q = p[i];
	size_t		k, chars = 0;

	for (k = i + 1; k < n && p[k] != q; k++) {
		if (p[k] == '\\' && k + 1 < n && (p[k + 1] == '/' ||
		    p[k + 1] == '\n')) {
			k++;
			chars += p[k] == '/';
		} else if (is_b64(p[k]))
			chars++;
		else if (!(q == '`' && is_ws(p[k])))
			return false;
	}
	if (k >= n)
		return false;
	*end_r = k + 1;
	*chars_r = chars;
	return true;
}

static void
chunk_feed(struct dec *d, const unsigned char *p, size_t i, size_t end,
    bool keep)
{
	size_t	k;

	for (k = i + 1; k + 1 < end; k++)
		if (p[k] == '\\' && k + 2 < end && p[k + 1] == '/')
			dec_feed(d, p[++k], keep);
		else
			dec_feed(d, p[k], keep);
}

/* After a literal ending at k: the start of the next literal joined to
 * it ("+", ",", or "; x += "), or 0 if none. */
static size_t
next_chunk(const unsigned char *p, size_t n, size_t k)
{
	size_t	lim = k + SEP_MAX < n ? k + SEP_MAX : n;

	while (k < lim && is_ws(p[k]))
		k++;
	if (k < lim && (p[k] == '+' || p[k] == ',')) {
		k++;
	} else if (k < lim && p[k] == ';') {
		for (k++; k < lim && is_ws(p[k]); k++)
			;
		for (; k < lim && (is_ident(p[k]) || p[k] == '.' ||
		    p[k] == '[' || p[k] == ']'); k++)
			;
		while (k < lim && is_ws(p[k]))
			k++;
		if (k + 1 >= lim || p[k] != '+' || p[k + 1] != '=')
			return 0;
		k += 2;
	} else
		return 0;
	while (k < lim && is_ws(p[k]))
		k++;
	if (k < lim && (p[k] == '"' || p[k] == '\'' || p[k] == '`'))
		return k;
	return 0;
}

static bool
after_atob(const unsigned char *p, size_t i)
{
	size_t	k = i;

	while (k > 0 && i - k < ATOB_BACK && is_ws(p[k - 1]))
		k--;
	if (k == 0 || p[k - 1] != '(')
		return false;
	k--;
	while (k > 0 && i - k < ATOB_BACK && is_ws(p[k - 1]))
		k--;
	return k >= 4 && strncmp((const char *)p + k - 4, "atob", 4) == 0 &&
	    (k == 4 || !is_ident(p[k - 5]));
}

/* A string literal at i; returns where to go on. */
static size_t
script_string(struct sm *sm, size_t i)
{
	const unsigned char	*p = sm->p;
	size_t			 n = sm->n, end, chars, total, k, last;
	bool			 atob = after_atob(p, i), keep;
	struct dec		 d;

	if (!chunk_scan(p, n, i, &end, &chars))
		return i + 1;
	if (chars < CHUNK_MIN)
		return end;
	/* first pass: how far the joined literals go, and their length */
	total = chars;
	last = end;
	for (k = next_chunk(p, n, end); k != 0; k = next_chunk(p, n, last)) {
		if (!chunk_scan(p, n, k, &end, &chars) || chars < CHUNK_MIN)
			break;
		total += chars;
		last = end;
	}
	if (total < (atob ? TAGGED_MIN : sm->lim->min_chars))
		return last;
	memset(&d, 0, sizeof d);
	d.max = sm->lim->max_out;
	keep = sm->reported < sm->lim->max_blobs;
	k = i;
	while (k != 0 && k < last && chunk_scan(p, n, k, &end, &chars)) {
		chunk_feed(&d, p, k, end, keep);
		k = end < last ? next_chunk(p, n, end) : 0;
	}
	/* a.download = "x" mostly follows the data; else look before it */
	emit(sm, atob ? "atob" : "script-string", &d, last,
	    last + NAME_WINDOW < n ? last + NAME_WINDOW : n,
	    i > NAME_WINDOW ? i - NAME_WINDOW : 0, i, NULL);
	return last;
}

unsigned
smuggle_extract(const unsigned char *p, size_t n,
    const struct smuggle_limits *lim, smuggle_fn fn, void *ctx)
{
	struct sm	sm = { p, n, lim, fn, ctx, 0, 0 };
	size_t		i = 0;

	if (p == NULL)
		return 0;
	while (i < n) {
		unsigned char c = p[i];

		if ((c == 'd' || c == 'D') && i + 5 <= n &&
		    strncasecmp((const char *)p + i, "data:", 5) == 0 &&
		    (i == 0 || !isalnum(p[i - 1])))
			i = data_uri(&sm, i);
		else if (c == '"' || c == '\'' || c == '`')
			i = script_string(&sm, i);
		else
			i++;
	}
	return sm.over;
}
