/*
 * lib/lenient.c - the tolerant reading of a message (see lenient.h).
 *
 * One pass over the lines of a message finds every delimiter line of every
 * declared boundary. The text between two delimiters is a segment; a
 * segment is an entity (header fields, then a body) unless it follows a
 * close delimiter (an epilogue, read as text). A stack of open multiparts
 * gives the paths: a delimiter pops to its own multipart, a delimiter of a
 * boundary no open multipart declared opens a level of its own ("alt").
 * A message/rfc822 body is read again as a message: in place when it is
 * not transfer-encoded (its delimiters are already in this pass), from its
 * decoded bytes otherwise.
 */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lenient.h"
#include "textenc.h"
#include "util.h"

#define MAX_BOUNDARIES	64	/* distinct boundaries per message */
#define MAX_BOUNDARY	256	/* bytes of one boundary */
#define MAX_FIELDS	128	/* header fields kept per entity */
#define MAX_VALUE	(64 * 1024)	/* bytes of one unfolded field */
#define MAX_NAME_KEEP	1024	/* a longer name keeps its end */
#define MAX_PARAMS	32	/* parameters per field */
#define MAX_ENCODINGS	2	/* distinct transfer encodings decoded */
#define MIN_TEXT_BLOCK	64	/* shorter prologues and epilogues: a note */
#define MAX_PIECES	512	/* RFC 2231 pieces read per field */

struct field {
	char	 name[32];	/* lower case, cut */
	char	*value;		/* unfolded */
};

struct fields {
	struct field	 f[MAX_FIELDS];
	size_t		 n;
};

struct param {
	char	*name;		/* lower case, without RFC 2231 marks */
	char	*value;		/* decoded */
};

struct ctval {
	char		*type;		/* "type/subtype" or "type", lower case */
	struct param	 p[MAX_PARAMS];
	size_t		 np;
};

struct level {
	char		 b[MAX_BOUNDARY];
	size_t		 blen;
	char		*path;
	unsigned	 nchild;
	unsigned	 depth;
	bool		 closed;
};

struct reader {
	const struct lenient_limits	*lim;
	lenient_leaf_fn			 leaf;
	lenient_event_fn		 event;
	void				*ctx;
	unsigned			 parts;
	uint64_t			 decoded;
	bool				 stopped;
	bool				 warned_depth;
	bool				 warned_size;
};

enum seg_kind { SEG_TOP, SEG_ENTITY, SEG_TEXT };

struct pass {
	struct reader		*r;
	const unsigned char	*buf;
	size_t			 len;
	char			*b[MAX_BOUNDARIES];
	size_t			 blen[MAX_BOUNDARIES];
	size_t			 nb;
	struct level		*lv;
	size_t			 nlv;
	const char		*prefix;	/* path of the enclosing part */
	unsigned		 depth;
	char			*guess;		/* boundary of a top multipart
						   that declares none usable */
};

static void	read_message(struct reader *r, const unsigned char *buf,
		    size_t len, const char *prefix, unsigned depth);
static void	read_entity(struct pass *ps, size_t start, size_t end,
		    const char *path, const char *mpath, unsigned depth);

/* ---- lines ------------------------------------------------------------ */

/* The line at *pos: its length without the line end; *pos moves past it.
 * A line ends at CRLF, LF or a bare CR. */
static size_t
line_at(const unsigned char *buf, size_t end, size_t *pos)
{
	size_t			 s = *pos, i;
	const unsigned char	*nl = memchr(buf + s, '\n', end - s);
	const unsigned char	*cr;

	i = nl != NULL ? (size_t)(nl - buf) : end;
	cr = memchr(buf + s, '\r', i - s);	/* a bare CR ends it sooner */
	if (cr != NULL)
		i = (size_t)(cr - buf);
	*pos = i;
	if (i < end && buf[i] == '\r')
		(*pos)++;
	if (*pos < end && buf[*pos] == '\n')
		(*pos)++;
	return i - s;
}

static bool
blank(const unsigned char *p, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++)
		if (!isspace(p[i]))
			return false;
	return true;
}

/* ---- decoders --------------------------------------------------------- */

#define B64_PAD	64	/* "=" in the table below */
#define B64_BAD	255	/* anything else outside the alphabet */

static const unsigned char b64tab[256] = {
#define X	B64_BAD
	X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
	X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
	X, X, X, X, X, X, X, X, X, X, X, 62, X, X, X, 63,
	52, 53, 54, 55, 56, 57, 58, 59, 60, 61, X, X, X, B64_PAD, X, X,
	X, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14,
	15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, X, X, X, X, X,
	X, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40,
	41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, X, X, X, X, X,
	X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
	X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
	X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
	X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
	X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
	X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
	X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
	X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
#undef X
};

static int
b64val(unsigned char c)
{
	return b64tab[c] < 64 ? b64tab[c] : -1;
}

int
lenient_b64val(unsigned char c, bool urlsafe)
{
	if (urlsafe && (c == '-' || c == '_'))
		return c == '-' ? 62 : 63;
	return b64val(c);
}

/*
 * True if the two base64 decodings can differ: a "=" with alphabet
 * characters after it (padding in the middle). Otherwise decoding by
 * groups gives what the continuous decoding gives.
 */
static bool
b64_pad_inside(const unsigned char *in, size_t n)
{
	const unsigned char	*eq = memchr(in, '=', n);
	size_t			 i;

	if (eq == NULL)
		return false;
	for (i = (size_t)(eq - in); i < n; i++)
		if (b64tab[in[i]] < 64)
			return true;
	return false;
}

size_t
lenient_base64(const unsigned char *in, size_t n, bool groups, size_t max,
    unsigned char **out_r, bool *cut_r)
{
	size_t		 cap = n / 4 * 3 + 3, o = 0, i = 0;
	unsigned char	*out;
	uint32_t	 acc = 0;
	unsigned	 k = 0;
	bool		 cut = false;

	if (cap > max)
		cap = max;
	out = xmalloc(cap + 1);
	while (i < n && !cut) {
		unsigned char	 c = in[i], v;

		/* whole groups of four, the common case, at once */
		if (k == 0 && i + 4 <= n && o + 3 <= cap &&
		    (b64tab[c] | b64tab[in[i + 1]] | b64tab[in[i + 2]] |
		    b64tab[in[i + 3]]) < 64) {
			acc = (uint32_t)b64tab[c] << 18 |
			    (uint32_t)b64tab[in[i + 1]] << 12 |
			    (uint32_t)b64tab[in[i + 2]] << 6 |
			    b64tab[in[i + 3]];
			out[o++] = (unsigned char)(acc >> 16);
			out[o++] = (unsigned char)(acc >> 8);
			out[o++] = (unsigned char)acc;
			acc = 0;
			i += 4;
			continue;
		}
		i++;
		v = b64tab[c];
		if (v == B64_PAD && groups) {
			/* a group ends here: keep its whole bytes */
			if (k >= 2 && o < cap)
				out[o++] = (unsigned char)(acc >> (6 * k - 8));
			if (k == 3 && o < cap)
				out[o++] = (unsigned char)(acc >> 2);
			acc = 0;
			k = 0;
			continue;
		}
		if (v >= 64)
			continue;
		acc = (acc << 6) | v;
		if (groups) {
			if (++k < 4)
				continue;
			if (o + 3 > cap) {
				cut = true;
				break;
			}
			out[o++] = (unsigned char)(acc >> 16);
			out[o++] = (unsigned char)(acc >> 8);
			out[o++] = (unsigned char)acc;
			acc = 0;
			k = 0;
		} else if ((k += 6) >= 8) {
			k -= 8;
			if (o >= cap) {
				cut = true;
				break;
			}
			out[o++] = (unsigned char)(acc >> k);
			acc &= (1u << k) - 1;
		}
	}
	if (groups && !cut && k >= 2) {		/* padding missing at the end */
		if (o < cap)
			out[o++] = (unsigned char)(acc >> (6 * k - 8));
		if (k == 3 && o < cap)
			out[o++] = (unsigned char)(acc >> 2);
	}
	if (cut_r != NULL)
		*cut_r = cut;
	*out_r = out;
	return o;
}

static int
hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (unsigned char)tolower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

size_t
lenient_qp(const unsigned char *in, size_t n, size_t max,
    unsigned char **out_r, bool *cut_r)
{
	size_t		 cap = n < max ? n : max, o = 0, i = 0, j;
	unsigned char	*out = xmalloc(cap + 1);
	bool		 cut = false;

	while (i < n) {
		if (o >= cap) {
			cut = true;
			break;
		}
		if (in[i] != '=') {
			out[o++] = in[i++];
			continue;
		}
		for (j = i + 1; j < n && (in[j] == ' ' || in[j] == '\t'); j++)
			;
		if (j == n || in[j] == '\r' || in[j] == '\n') {	/* soft break */
			if (j < n && in[j] == '\r')
				j++;
			if (j < n && in[j] == '\n')
				j++;
			i = j;
			continue;
		}
		if (i + 2 < n && hexval(in[i + 1]) >= 0 &&
		    hexval(in[i + 2]) >= 0) {
			out[o++] = (unsigned char)(hexval(in[i + 1]) * 16 +
			    hexval(in[i + 2]));
			i += 3;
		} else
			out[o++] = in[i++];	/* an invalid escape stays */
	}
	if (cut_r != NULL)
		*cut_r = cut;
	*out_r = out;
	return o;
}

/* ---- header values ---------------------------------------------------- */

/* RFC 2047 words decoded to their raw bytes (charsets are not converted:
 * names and types are matched on ASCII). Whitespace between two words
 * goes. Caller frees. */
static char *
decode_words(const char *s)
{
	struct buf	 b = BUF_INIT;
	const char	*p = s, *last_word_end = NULL;
	bool		 closes = true;	/* a "?=" may still follow */

	while (*p != '\0') {
		const char	*q1, *q2, *end = NULL;

		/* once no "?=" follows, none will: linear, not quadratic */
		if (closes && p[0] == '=' && p[1] == '?' &&
		    (q1 = strchr(p + 2, '?')) != NULL &&
		    (q1[1] != '\0' && q1[2] == '?') &&
		    ((end = strstr(q1 + 3, "?=")) != NULL || (closes = false))) {
			char		 enc = (char)tolower((unsigned char)q1[1]);
			const char	*t = q1 + 3;
			unsigned char	*dec;
			size_t		 n;

			q2 = end;
			if (last_word_end != NULL) {	/* drop the gap */
				const char *g = last_word_end;

				while (g < p && isspace((unsigned char)*g))
					g++;
				if (g == p && b.len >= (size_t)(p -
				    last_word_end))
					b.len -= (size_t)(p - last_word_end);
			}
			if (enc == 'b')
				n = lenient_base64((const unsigned char *)t,
				    (size_t)(q2 - t), true, MAX_VALUE, &dec,
				    NULL);
			else {
				char	*u = xstrndup(t, (size_t)(q2 - t));
				char	*c;

				for (c = u; *c != '\0'; c++)
					if (*c == '_')
						*c = ' ';
				n = lenient_qp((unsigned char *)u, strlen(u),
				    MAX_VALUE, &dec, NULL);
				free(u);
			}
			buf_append(&b, dec, n);
			free(dec);
			p = q2 + 2;
			last_word_end = p;
			continue;
		}
		buf_append(&b, p, 1);
		p++;
	}
	{
		char *out = xstrdup(b.len > 0 ? buf_cstr(&b) : "");

		buf_free(&b);
		return out;
	}
}

/* Removes (comments) outside quotes, in place; a comment that never
 * closes is junk, not a comment: then nothing is removed. */
static void
strip_comments(char *s)
{
	char	*w = s, *r;
	int	 nest = 0;
	bool	 quoted = false;

	for (r = s; *r != '\0'; r++) {
		if (*r == '"' && nest == 0)
			quoted = !quoted;
		else if (!quoted && *r == '(')
			nest++;
		else if (!quoted && *r == ')' && nest > 0)
			nest--;
	}
	if (nest != 0)
		return;
	quoted = false;
	for (r = s; *r != '\0'; r++) {
		if (*r == '"' && nest == 0)
			quoted = !quoted;
		else if (!quoted && *r == '(') {
			nest++;
			continue;
		} else if (!quoted && *r == ')' && nest > 0) {
			nest--;
			continue;
		}
		if (nest == 0)
			*w++ = *r;
	}
	*w = '\0';
}

static char *
trim(char *s)
{
	size_t	n;

	while (isspace((unsigned char)*s))
		s++;
	n = strlen(s);
	while (n > 0 && isspace((unsigned char)s[n - 1]))
		s[--n] = '\0';
	return s;
}

/* A parameter value without its quotes (and their backslashes). */
static char *
unquote(const char *s, size_t n)
{
	char	*out = xmalloc(n + 1), *w = out;
	size_t	 i;

	for (i = 0; i < n; i++) {
		if (s[i] == '"')
			continue;
		if (s[i] == '\\' && i + 1 < n)
			i++;
		*w++ = s[i];
	}
	*w = '\0';
	return out;
}

static void
pct_decode(char *s)
{
	char	*r = s, *w = s;

	while (*r != '\0') {
		if (r[0] == '%' && hexval((unsigned char)r[1]) >= 0 &&
		    hexval((unsigned char)r[2]) >= 0) {
			*w++ = (char)(hexval((unsigned char)r[1]) * 16 +
			    hexval((unsigned char)r[2]));
			r += 3;
		} else
			*w++ = *r++;
	}
	*w = '\0';
}

struct piece {
	char		*name;
	unsigned	 idx;
	bool		 ext;
	char		*val;
};

static int
piece_cmp(const void *a, const void *b)
{
	const struct piece	*x = a, *y = b;
	int			 c = strcmp(x->name, y->name);

	if (c != 0)
		return c;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static void
ct_free(struct ctval *ct)
{
	size_t	i;

	free(ct->type);
	for (i = 0; i < ct->np; i++) {
		free(ct->p[i].name);
		free(ct->p[i].value);
	}
	memset(ct, 0, sizeof *ct);
}

/* Keeps duplicates too: ct_param() gives the first, and every value of a
 * name parameter counts. */
static void
ct_add(struct ctval *ct, const char *name, char *value)
{
	if (ct->np == MAX_PARAMS) {
		free(value);
		return;
	}
	ct->p[ct->np].name = xstrdup(name);
	ct->p[ct->np].value = value;
	ct->np++;
}

/*
 * Parses "type/sub; a=b; c*0*=utf-8''x; c*1=y" (also without a type, as
 * in "Content-Disposition: filename=x"). RFC 2231 pieces are joined in
 * order; more than lim pieces of one parameter is an event.
 */
static void
ct_parse(struct reader *r, const char *path, const char *raw,
    struct ctval *ct)
{
	char		*s = decode_words(raw), *p, *semi;
	struct piece	*pc = NULL;
	size_t		 npc = 0, i, j;
	bool		 over = false;

	memset(ct, 0, sizeof *ct);
	strip_comments(s);
	p = s;
	semi = strchr(p, ';');
	if (semi != NULL)
		*semi = '\0';
	if (strchr(p, '=') == NULL) {	/* a type, not a parameter */
		char *t = unquote(p, strlen(p)), *tt = trim(t), *c;

		ct->type = xstrdup(tt);
		for (c = ct->type; *c != '\0'; c++)
			*c = (char)tolower((unsigned char)*c);
		free(t);
		p = semi != NULL ? semi + 1 : p + strlen(p);
	} else {
		ct->type = xstrdup("");
		if (semi != NULL)
			*semi = ';';
	}
	while (*p != '\0') {	/* one parameter per turn */
		const char	*q;
		char		*eq, *name, *star, *v;
		bool		 quoted = false;
		size_t		 n;

		for (q = p; *q != '\0' && (quoted || *q != ';'); q++)
			if (*q == '"' && (q == p || q[-1] != '\\'))
				quoted = !quoted;
		n = (size_t)(q - p);
		name = xstrndup(p, n);
		p = *q == ';' ? (char *)q + 1 : (char *)q;
		if ((eq = strchr(name, '=')) == NULL) {
			free(name);
			continue;
		}
		*eq = '\0';
		v = trim(eq + 1);
		{
			/* the last word before "=": junk before it goes */
			char *t = trim(name), *c, *sp;

			for (sp = t; *sp != '\0'; sp++)
				if (isspace((unsigned char)*sp))
					t = sp + 1;
			memmove(name, t, strlen(t) + 1);
			for (c = name; *c != '\0'; c++)
				*c = (char)tolower((unsigned char)*c);
		}
		if ((star = strchr(name, '*')) != NULL) {
			struct piece	*x;

			if (npc >= MAX_PIECES) {
				over = true;
				free(name);
				continue;
			}
			pc = xreallocarray(pc, npc + 1, sizeof *pc);
			x = &pc[npc++];
			x->ext = star[strlen(star) - 1] == '*';
			x->idx = isdigit((unsigned char)star[1]) ?
			    (unsigned)strtoul(star + 1, NULL, 10) : 0;
			*star = '\0';
			x->name = name;
			x->val = unquote(v, strlen(v));
			continue;
		}
		ct_add(ct, name, unquote(v, strlen(v)));
		free(name);
	}
	/* join the RFC 2231 pieces, parameter by parameter, in order */
	if (npc > 0)
		qsort(pc, npc, sizeof *pc, piece_cmp);
	for (i = 0; i < npc; i = j) {
		struct buf	 b = BUF_INIT;

		for (j = i; j < npc && strcmp(pc[j].name, pc[i].name) == 0;
		    j++) {
			char	*val = pc[j].val, *q;

			if (pc[j].ext) {
				if (j == i && (q = strchr(val, '\'')) != NULL &&
				    strchr(q + 1, '\'') != NULL)
					val = strchr(q + 1, '\'') + 1;
				pct_decode(val);
			}
			if (j - i < r->lim->param_pieces)
				buf_puts(&b, val);
			else
				over = true;
		}
		ct_add(ct, pc[i].name, xstrdup(b.len > 0 ? buf_cstr(&b) : ""));
		buf_free(&b);
	}
	for (i = 0; i < npc; i++) {
		free(pc[i].name);
		free(pc[i].val);
	}
	free(pc);
	if (over) {
		char *d = xasprintf("a parameter in more than %u RFC 2231 "
		    "pieces", r->lim->param_pieces);

		r->event(r->ctx, LEN_EV_PIECES, path, d);
		free(d);
	}
	free(s);
}

static const char *
ct_param(const struct ctval *ct, const char *name)
{
	size_t	i;

	for (i = 0; i < ct->np; i++)
		if (strcmp(ct->p[i].name, name) == 0)
			return ct->p[i].value;
	return NULL;
}

/* ---- header fields ---------------------------------------------------- */

/* A field's name: printable ASCII up to the colon, maybe with space before
 * it. Returns the name's length, 0 when the line is no field. */
static size_t
field_name(const unsigned char *p, size_t n, size_t *colon_r)
{
	size_t	i, k;

	for (i = 0; i < n && p[i] > ' ' && p[i] < 0x7f && p[i] != ':'; i++)
		;
	if (i == 0)
		return 0;
	for (k = i; k < n && (p[k] == ' ' || p[k] == '\t'); k++)
		;
	if (k == n || p[k] != ':')
		return 0;
	*colon_r = k;
	return i;
}

static void
fields_free(struct fields *fs)
{
	size_t	i;

	for (i = 0; i < fs->n; i++)
		free(fs->f[i].value);
	fs->n = 0;
}

/*
 * Reads the header fields of the entity at [start, end) into fs and
 * returns where its body starts: after the blank line, or at the first
 * line that is neither a field nor a continuation (no blank line), or at
 * start when the first line is no field (no header at all).
 */
static size_t
read_fields(const unsigned char *buf, size_t start, size_t end,
    struct fields *fs)
{
	size_t		 pos = start, ls, n, colon, nl;
	struct buf	 v = BUF_INIT;
	bool		 open = false;

	fs->n = 0;
	while (pos < end) {
		ls = pos;
		n = line_at(buf, end, &pos);
		if (n == 0 || blank(buf + ls, n)) {
			if (n == 0 || ls == start || !open)
				break;
			continue;	/* a line of spaces inside the header */
		}
		if ((buf[ls] == ' ' || buf[ls] == '\t') && open) {
			if (v.len < MAX_VALUE)
				buf_append(&v, buf + ls, n < MAX_VALUE ? n :
				    MAX_VALUE);
			continue;
		}
		if ((nl = field_name(buf + ls, n, &colon)) == 0) {
			pos = ls;	/* the body starts here */
			break;
		}
		if (open && fs->n < MAX_FIELDS) {
			fs->f[fs->n].value = xstrdup(v.len > 0 ?
			    buf_cstr(&v) : "");
			fs->n++;
		}
		buf_reset(&v);
		open = true;
		if (fs->n < MAX_FIELDS) {
			size_t k, m = nl < sizeof fs->f[0].name - 1 ? nl :
			    sizeof fs->f[0].name - 1;

			for (k = 0; k < m; k++)
				fs->f[fs->n].name[k] =
				    (char)tolower(buf[ls + k]);
			fs->f[fs->n].name[m] = '\0';
		}
		buf_append(&v, buf + ls + colon + 1, n - colon - 1 <
		    MAX_VALUE ? n - colon - 1 : MAX_VALUE);
	}
	if (open && fs->n < MAX_FIELDS) {
		fs->f[fs->n].value = xstrdup(v.len > 0 ? buf_cstr(&v) : "");
		fs->n++;
	}
	buf_free(&v);
	if (pos > end)
		pos = end;
	return pos;
}

/* The k-th field called name, NULL if none. */
static const char *
field_get(const struct fields *fs, const char *name, unsigned k)
{
	size_t	i;

	for (i = 0; i < fs->n; i++)
		if (strcmp(fs->f[i].name, name) == 0 && k-- == 0)
			return fs->f[i].value;
	return NULL;
}

/* ---- types and encodings ---------------------------------------------- */

static unsigned
edit_distance(const char *a, const char *b)
{
	size_t		 la = strlen(a), lb = strlen(b), i, j;
	unsigned	 d[24][24];

	if (la > 23 || lb > 23)
		return 99;
	for (i = 0; i <= la; i++)
		d[i][0] = (unsigned)i;
	for (j = 0; j <= lb; j++)
		d[0][j] = (unsigned)j;
	for (i = 1; i <= la; i++)
		for (j = 1; j <= lb; j++) {
			unsigned m = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);

			if (d[i - 1][j] + 1 < m)
				m = d[i - 1][j] + 1;
			if (d[i][j - 1] + 1 < m)
				m = d[i][j - 1] + 1;
			d[i][j] = m;
		}
	return d[la][lb];
}

const char *
lenient_cte(const char *value)
{
	char		*s, *t, *c;
	const char	*r = "identity";
	size_t		 n;

	if (value == NULL)
		return r;
	s = decode_words(value);
	strip_comments(s);
	for (c = s; *c != '\0'; c++)
		*c = *c == '"' || *c == '\'' ? ' ' :
		    (char)tolower((unsigned char)*c);
	t = trim(s);
	n = strcspn(t, " \t;,");
	t[n] = '\0';
	if (strncmp(t, "x-", 2) == 0)
		t += 2;
	if (strstr(t, "64") != NULL || edit_distance(t, "base64") <= 2)
		r = "base64";
	else if (strstr(t, "quot") != NULL || strstr(t, "print") != NULL ||
	    strcmp(t, "qp") == 0 ||
	    edit_distance(t, "quoted-printable") <= 3)
		r = "quoted-printable";
	else if (strncmp(t, "uu", 2) == 0 || strstr(t, "uuencode") != NULL)
		r = "uuencode";
	else if (strstr(t, "binhex") != NULL)
		r = "binhex";
	free(s);
	return r;
}

static bool
is_multipart_type(const char *type, const char *boundary)
{
	char		 major[32];
	size_t		 n = strcspn(type, "/");
	static const char *const plain[] = { "text", "image", "audio",
	    "video", "application", "message", "model", "font" };
	size_t		 i;

	if (boundary == NULL || *boundary == '\0')
		return false;
	if (n >= sizeof major)
		n = sizeof major - 1;
	memcpy(major, type, n);
	major[n] = '\0';
	if (strncmp(major, "multi", 5) == 0 ||
	    edit_distance(major, "multipart") <= 2)
		return true;
	for (i = 0; i < sizeof plain / sizeof plain[0]; i++)
		if (strcmp(major, plain[i]) == 0)
			return false;
	return true;	/* unknown or broken type with a boundary */
}

/* ---- leaves ----------------------------------------------------------- */

static char *
path_child(const char *parent, unsigned i)
{
	return *parent == '\0' ? xasprintf("%u", i) :
	    xasprintf("%s.%u", parent, i);
}

/* Adds a name (its last MAX_NAME_KEEP bytes) unless already there. */
static void
add_name(struct lenient_leaf *l, char **store, const char *name)
{
	size_t	n, i;

	if (name == NULL || *name == '\0' || l->nnames == LENIENT_NAMES)
		return;
	n = strlen(name);
	if (n > MAX_NAME_KEEP)
		name += n - MAX_NAME_KEEP;
	for (i = 0; i < l->nnames; i++)
		if (strcmp(l->names[i], name) == 0)
			return;
	store[l->nnames] = xstrdup(name);
	l->names[l->nnames] = store[l->nnames];
	l->nnames++;
}

/* Every value of the parameter pname (duplicates too). */
static void
add_names(struct lenient_leaf *l, char **store, const struct ctval *ct,
    const char *pname)
{
	size_t	i;

	for (i = 0; i < ct->np; i++)
		if (strcmp(ct->p[i].name, pname) == 0)
			add_name(l, store, ct->p[i].value);
}

static bool
budget(struct reader *r, size_t *max)
{
	uint64_t left = r->decoded < r->lim->decoded ?
	    r->lim->decoded - r->decoded : 0;

	*max = r->lim->part_size;
	if ((uint64_t)*max > left)
		*max = (size_t)left;
	if (*max == 0 && !r->warned_size) {
		r->warned_size = true;
		r->event(r->ctx, LEN_EV_SIZE, "", "decoded size limit");
	}
	return *max > 0;
}

static void
emit(struct reader *r, struct lenient_leaf *l, unsigned char *data,
    size_t len)
{
	r->decoded += len;
	r->leaf(r->ctx, l, data, len);
}

static void
emit_text(struct pass *ps, size_t start, size_t end, const char *path,
    unsigned depth)
{
	struct lenient_leaf	 l;
	unsigned char		*d;
	size_t			 max;

	if (end <= start || end - start < MIN_TEXT_BLOCK ||
	    blank(ps->buf + start, end - start) || !budget(ps->r, &max))
		return;
	memset(&l, 0, sizeof l);
	l.path = path;
	l.ctype = "text/plain";
	l.encoding = "identity";
	l.depth = depth;
	if (end - start > max) {
		end = start + max;
		l.truncated = true;
	}
	d = xmalloc(end - start);
	memcpy(d, ps->buf + start, end - start);
	emit(ps->r, &l, d, end - start);
}

struct uu_ctx {
	struct reader		*r;
	struct lenient_leaf	*l;
};

static void
uu_file(void *ctx, const char *kind, const char *name, unsigned char *data,
    size_t len, bool truncated)
{
	struct uu_ctx		*u = ctx;
	struct lenient_leaf	 l = *u->l;
	char			*store[LENIENT_NAMES] = { NULL };
	size_t			 i;

	(void)kind;
	l.nnames = 0;
	memset(l.names, 0, sizeof l.names);
	add_name(&l, store, name);
	for (i = 0; i < u->l->nnames; i++)
		add_name(&l, store, u->l->names[i]);
	l.truncated = truncated;
	l.attachment = true;
	emit(u->r, &l, data, len);
	for (i = 0; i < LENIENT_NAMES; i++)
		free(store[i]);
}

/* The whole body looks like base64 (an encoded file with no, or a wrong,
 * Content-Transfer-Encoding). */
static bool
looks_base64(const unsigned char *p, size_t n)
{
	size_t	i, run = 0, longest = 0;

	if (n < 64)
		return false;
	for (i = 0; i < n; i++) {
		if (p[i] == '\r' || p[i] == '\n') {
			run = 0;
			continue;
		}
		if (b64val(p[i]) < 0 && p[i] != '=' && p[i] != ' ' &&
		    p[i] != '\t')
			return false;
		if (++run > longest)
			longest = run;
	}
	return longest >= 40;
}

/* Decodes the body [start, end) as enc and emits it (or its files). */
static void
decode_body(struct pass *ps, struct lenient_leaf *l, const char *enc,
    size_t start, size_t end)
{
	struct reader		*r = ps->r;
	const unsigned char	*p = ps->buf + start;
	size_t			 n = end - start, max, len;
	unsigned char		*d, *d2;
	bool			 cut = false, cut2 = false;

	if (!budget(r, &max))
		return;
	l->encoding = enc;
	if (strcmp(enc, "base64") == 0) {
		size_t len2 = 0;

		len = lenient_base64(p, n, false, max, &d, &cut);
		l->truncated = cut;
		d2 = NULL;
		if (b64_pad_inside(p, n))
			len2 = lenient_base64(p, n, true, max, &d2, &cut2);
		if (d2 != NULL && (len2 != len || memcmp(d, d2, len) != 0)) {
			emit(r, l, d, len);
			l->variant = true;
			l->truncated = cut2;
			emit(r, l, d2, len2);
		} else {
			free(d2);
			emit(r, l, d, len);
		}
		return;
	}
	if (strcmp(enc, "quoted-printable") == 0) {
		len = lenient_qp(p, n, max, &d, &cut);
		l->truncated = cut;
		emit(r, l, d, len);
		return;
	}
	if (strcmp(enc, "uuencode") == 0 || strcmp(enc, "binhex") == 0) {
		struct uu_ctx u = { r, l };

		textenc_extract(p, n, max, 16, uu_file, &u);
	}
	if (n > max) {
		n = max;
		l->truncated = true;
	}
	d = xmalloc(n + 1);
	memcpy(d, p, n);
	emit(r, l, d, n);
}

static bool
parts_left(struct reader *r, const char *path)
{
	if (r->stopped)
		return false;
	if (++r->parts > r->lim->parts) {
		char *d = xasprintf("more than %u MIME parts", r->lim->parts);

		r->event(r->ctx, LEN_EV_PARTS, path, d);
		free(d);
		r->stopped = true;
		return false;
	}
	return true;
}

static bool
depth_ok(struct reader *r, const char *path, unsigned depth)
{
	if (depth <= r->lim->depth)
		return true;
	if (!r->warned_depth) {
		char *d = xasprintf("MIME nesting deeper than %u",
		    r->lim->depth);

		r->event(r->ctx, LEN_EV_DEPTH, path, d);
		free(d);
		r->warned_depth = true;
	}
	return false;
}

static void
push_level(struct pass *ps, const char *boundary, const char *path,
    unsigned depth)
{
	struct level	*lv;
	size_t		 n = strlen(boundary);

	if (n == 0 || n >= MAX_BOUNDARY || ps->nlv >= MAX_BOUNDARIES)
		return;
	ps->lv = xreallocarray(ps->lv, ps->nlv + 1, sizeof *ps->lv);
	lv = &ps->lv[ps->nlv++];
	memset(lv, 0, sizeof *lv);
	memcpy(lv->b, boundary, n);
	while (n > 0 && isspace((unsigned char)lv->b[n - 1]))
		n--;
	lv->b[n] = '\0';
	lv->blen = n;
	lv->path = xstrdup(path);
	lv->depth = depth;
}

/* Two Content-Type fields that give another type or boundary, or two
 * transfer encodings that decode otherwise: readers that take the first
 * and readers that take the last see different messages. */
static void
conflicts(struct pass *ps, const struct fields *fs, const struct ctval *ct,
    const char *path)
{
	const char	*v, *b = ct_param(ct, "boundary"), *e0;
	struct ctval	 o;
	unsigned	 k;

	for (k = 1; (v = field_get(fs, "content-type", k)) != NULL && k < 4;
	    k++) {
		const char *ob;
		bool differ;

		ct_parse(ps->r, path, v, &o);
		ob = ct_param(&o, "boundary");
		differ = strcmp(o.type, ct->type) != 0 || (b == NULL) !=
		    (ob == NULL) || (b != NULL && strcmp(b, ob) != 0);
		ct_free(&o);
		if (differ) {
			ps->r->event(ps->r->ctx, LEN_EV_CONFLICT, path,
			    "two Content-Type fields that read differently");
			return;
		}
	}
	e0 = lenient_cte(field_get(fs, "content-transfer-encoding", 0));
	for (k = 1; (v = field_get(fs, "content-transfer-encoding", k)) !=
	    NULL && k < 8; k++)
		if (strcmp(lenient_cte(v), e0) != 0) {
			ps->r->event(ps->r->ctx, LEN_EV_CONFLICT, path,
			    "two Content-Transfer-Encoding fields that decode "
			    "differently");
			return;
		}
}

/* Names, type and body of one entity at [start, end); if it is a
 * multipart, its level's path is mpath (the message's own for the top). */
static void
read_entity(struct pass *ps, size_t start, size_t end, const char *path,
    const char *mpath, unsigned depth)
{
	struct reader		*r = ps->r;
	struct fields		 fs;
	struct ctval		 ct, cd;
	struct lenient_leaf	 l;
	char			*store[LENIENT_NAMES] = { NULL };
	const char		*v, *boundary, *encs[MAX_ENCODINGS];
	size_t			 body, i, nenc = 0;
	unsigned		 k;

	if (!parts_left(r, path) || !depth_ok(r, path, depth))
		return;
	body = read_fields(ps->buf, start, end, &fs);
	v = field_get(&fs, "content-type", 0);
	ct_parse(r, path, v != NULL ? v : "text/plain", &ct);
	if (*ct.type == '\0') {
		free(ct.type);
		ct.type = xstrdup("text/plain");
	}
	boundary = ct_param(&ct, "boundary");
	conflicts(ps, &fs, &ct, path);
	if (ps->guess != NULL && mpath == ps->prefix &&
	    (boundary == NULL || strcmp(boundary, ps->guess) != 0) &&
	    strchr(ct.type, '/') != NULL && is_multipart_type(ct.type, "-"))
		boundary = ps->guess;
	if (strncmp(ct.type, "multipart", 9) == 0 &&
	    !is_multipart_type(ct.type, boundary)) {
		free(ct.type);		/* no boundary: clients show text */
		ct.type = xstrdup("text/plain");
	}
	if (is_multipart_type(ct.type, boundary)) {
		char *pro = xasprintf("%s%sprologue", mpath,
		    *mpath != '\0' ? "." : "");

		push_level(ps, boundary, mpath, depth + 1);
		emit_text(ps, body, end, pro, depth);
		free(pro);
		goto out;
	}
	memset(&l, 0, sizeof l);
	l.path = path;
	l.ctype = ct.type;
	l.depth = depth;
	for (k = 0; (v = field_get(&fs, "content-disposition", k)) != NULL &&
	    k < 4; k++) {
		ct_parse(r, path, v, &cd);
		add_names(&l, store, &cd, "filename");
		add_names(&l, store, &cd, "name");
		if (strcmp(cd.type, "attachment") == 0)
			l.attachment = true;
		ct_free(&cd);
	}
	add_names(&l, store, &ct, "name");
	for (k = 1; (v = field_get(&fs, "content-type", k)) != NULL && k < 4;
	    k++) {
		ct_parse(r, path, v, &cd);
		add_names(&l, store, &cd, "name");
		ct_free(&cd);
	}
	/* some clients name a file by its description alone */
	v = field_get(&fs, "content-description", 0);
	if (v != NULL) {
		char *dsc = decode_words(v), *dt = trim(dsc);

		if (strchr(dt, '.') != NULL && strlen(dt) < 256 &&
		    strchr(dt, ' ') == NULL)
			add_name(&l, store, dt);
		free(dsc);
	}
	if (l.nnames > 0)
		l.attachment = true;
	for (k = 0; (v = field_get(&fs, "content-transfer-encoding", k)) !=
	    NULL && k < 8; k++) {
		const char *e = lenient_cte(v);

		for (i = 0; i < nenc && strcmp(encs[i], e) != 0; i++)
			;
		if (i == nenc && nenc < MAX_ENCODINGS)
			encs[nenc++] = e;
	}
	if (nenc == 0)
		encs[nenc++] = "identity";
	if ((strcmp(ct.type, "message/rfc822") == 0 ||
	    strcmp(ct.type, "message/global") == 0) && body < end) {
		char *child = path_child(path, 1);

		if (l.nnames > 0) {	/* its name counts: x.eml */
			l.container = true;
			l.encoding = encs[0];
			emit(r, &l, xmalloc(1), 0);
			l.container = false;
		}
		if (strcmp(encs[0], "identity") == 0) {
			struct fields	 in;
			struct ctval	 ict;
			const char	*iv, *ibd;

			(void)read_fields(ps->buf, body, end, &in);
			iv = field_get(&in, "content-type", 0);
			ct_parse(r, path, iv != NULL ? iv : "text/plain", &ict);
			ibd = ct_param(&ict, "boundary");
			if (is_multipart_type(ict.type, ibd))
				push_level(ps, ibd, path, depth + 1);
			else
				read_entity(ps, body, end, child, child,
				    depth + 1);
			ct_free(&ict);
			fields_free(&in);
		} else {
			unsigned char	*d;
			size_t		 max, n;

			if (budget(r, &max)) {
				n = strcmp(encs[0], "base64") == 0 ?
				    lenient_base64(ps->buf + body, end - body,
				    false, max, &d, NULL) :
				    lenient_qp(ps->buf + body, end - body, max,
				    &d, NULL);
				r->decoded += n;
				read_message(r, d, n, path, depth + 1);
				free(d);
			}
		}
		free(child);
		goto out;
	}
	for (i = 0; i < nenc; i++) {
		l.variant = i > 0;
		decode_body(ps, &l, encs[i], body, end);
	}
	if (nenc == 1 && strcmp(encs[0], "identity") == 0 &&
	    (l.attachment || strncmp(ct.type, "text/", 5) != 0) &&
	    looks_base64(ps->buf + body, end - body)) {
		l.variant = true;	/* a file without its encoding named */
		decode_body(ps, &l, "base64", body, end);
	}
out:
	for (i = 0; i < LENIENT_NAMES; i++)
		free(store[i]);
	ct_free(&ct);
	fields_free(&fs);
}

/* ---- the pass over one message ---------------------------------------- */

/* Every boundary parameter in buf, wherever it is. */
static void
collect_boundaries(struct pass *ps)
{
	const unsigned char	*p = ps->buf, *end = ps->buf + ps->len;

	while (p < end && ps->nb < MAX_BOUNDARIES) {
		const unsigned char	*eq = memchr(p, '=', (size_t)(end - p));
		const unsigned char	*q, *s, *k;
		size_t			 n, i;

		if (eq == NULL)
			break;
		p = eq + 1;
		for (k = eq; k > ps->buf && (k[-1] == ' ' || k[-1] == '\t');
		    k--)
			;
		if (k - ps->buf < 8 || strncasecmp((const char *)k - 8,
		    "boundary", 8) != 0)
			continue;
		q = p;
		while (q < end && (*q == ' ' || *q == '\t'))
			q++;
		if (q < end && *q == '"') {
			s = ++q;
			while (q < end && *q != '"' && *q != '\r' &&
			    *q != '\n')
				q++;
		} else {
			s = q;
			while (q < end && *q != ';' && *q != '\r' &&
			    *q != '\n' && !isspace(*q))
				q++;
		}
		n = (size_t)(q - s);
		while (n > 0 && isspace(s[n - 1]))
			n--;
		if (n == 0 || n >= MAX_BOUNDARY)
			continue;
		for (i = 0; i < ps->nb; i++)
			if (ps->blen[i] == n && memcmp(ps->b[i], s, n) == 0)
				break;
		if (i < ps->nb)
			continue;
		ps->b[ps->nb] = xstrndup((const char *)s, n);
		ps->blen[ps->nb] = n;
		ps->nb++;
	}
}

/*
 * A top multipart with no boundary, or one that no line uses: clients that
 * guess take the first line that starts with "--" as the delimiter.
 */
static void
guess_boundary(struct pass *ps, size_t start)
{
	struct fields	 fs;
	struct ctval	 ct;
	const char	*v, *b;
	size_t		 pos, ls, n, k;
	char		*line;

	pos = read_fields(ps->buf, start, ps->len, &fs);
	v = field_get(&fs, "content-type", 0);
	ct_parse(ps->r, "", v != NULL ? v : "", &ct);
	b = ct_param(&ct, "boundary");
	if (strncmp(ct.type, "multipart", 9) != 0 && (b == NULL ||
	    !is_multipart_type(ct.type, b)))
		goto out;
	if (b != NULL && *b != '\0') {
		line = xasprintf("\n--%s", b);
		k = strlen(line);
		if (memmem(ps->buf, ps->len, line, k) != NULL) {
			free(line);
			goto out;	/* it is used */
		}
		free(line);
	}
	while (pos < ps->len) {
		ls = pos;
		n = line_at(ps->buf, ps->len, &pos);
		if (n < 3 || ps->buf[ls] != '-' || ps->buf[ls + 1] != '-' ||
		    n - 2 >= MAX_BOUNDARY)
			continue;
		while (n > 2 && isspace(ps->buf[ls + n - 1]))
			n--;
		if (n > 4 && ps->buf[ls + n - 1] == '-' &&
		    ps->buf[ls + n - 2] == '-')
			n -= 2;		/* a close delimiter */
		if (n <= 2 || ps->nb >= MAX_BOUNDARIES)
			break;
		ps->guess = xstrndup((const char *)ps->buf + ls + 2, n - 2);
		ps->b[ps->nb] = xstrdup(ps->guess);
		ps->blen[ps->nb] = strlen(ps->guess);
		ps->nb++;
		ps->r->event(ps->r->ctx, LEN_EV_ODD, "", "a multipart without "
		    "a usable boundary: the first \"--\" line taken as one");
		break;
	}
out:
	ct_free(&ct);
	fields_free(&fs);
}

/* Which boundary the line is a delimiter of (longest match), -1 = none. */
static int
delimiter(const struct pass *ps, const unsigned char *l, size_t n,
    bool *close_r)
{
	size_t	i, best_len = 0;
	int	best = -1;

	if (n < 3 || l[0] != '-' || l[1] != '-')
		return -1;
	for (i = 0; i < ps->nb; i++) {
		size_t	bl = ps->blen[i], k;
		bool	close = false;

		if (n - 2 < bl || memcmp(l + 2, ps->b[i], bl) != 0 ||
		    bl <= best_len)
			continue;
		k = 2 + bl;
		while (k < n && (l[k] == ' ' || l[k] == '\t'))
			k++;
		if (n >= k + 2 && l[k] == '-' && l[k + 1] == '-') {
			close = true;
			k += 2;
		}
		if (!blank(l + k, n - k))
			continue;
		best = (int)i;
		best_len = bl;
		*close_r = close;
	}
	return best;
}

static int
level_of(const struct pass *ps, int bi)
{
	size_t	i;

	for (i = ps->nlv; i-- > 0;)
		if (ps->lv[i].blen == ps->blen[bi] &&
		    memcmp(ps->lv[i].b, ps->b[bi], ps->blen[bi]) == 0)
			return (int)i;
	return -1;
}

static void
pop_to(struct pass *ps, size_t n)
{
	while (ps->nlv > n)
		free(ps->lv[--ps->nlv].path);
}

static void
finish(struct pass *ps, enum seg_kind kind, size_t start, size_t end,
    const char *path, unsigned depth)
{
	if (kind == SEG_TEXT)
		emit_text(ps, start, end, path, depth);
	else
		read_entity(ps, start, end, path, path, depth);
}

static void
read_message(struct reader *r, const unsigned char *buf, size_t len,
    const char *prefix, unsigned depth)
{
	struct pass	 ps;
	size_t		 pos = 0, seg = 0, segend, ls, n, i;
	char		*path;
	enum seg_kind	 kind = SEG_TOP;
	unsigned	 segdepth = depth;

	memset(&ps, 0, sizeof ps);
	ps.r = r;
	ps.buf = buf;
	ps.len = len;
	ps.prefix = prefix;
	ps.depth = depth;
	if (len > 5 && memcmp(buf, "From ", 5) == 0)	/* mbox line */
		(void)line_at(buf, len, &pos);
	while (pos < len && (buf[pos] == '\r' || buf[pos] == '\n'))
		pos++;
	seg = pos;
	collect_boundaries(&ps);
	guess_boundary(&ps, seg);
	path = *prefix != '\0' ? xstrdup(prefix) : xstrdup("");

	while (pos < len && !r->stopped) {
		bool	close = false;
		int	bi, li;

		ls = pos;
		n = line_at(buf, len, &pos);
		if ((bi = delimiter(&ps, buf + ls, n, &close)) < 0)
			continue;
		/* the line end before a delimiter belongs to it */
		segend = ls;
		if (segend > seg && buf[segend - 1] == '\n')
			segend--;
		if (segend > seg && buf[segend - 1] == '\r')
			segend--;
		if (kind == SEG_TOP) {
			/* the message's own header: a multipart opens the
			 * first level, anything else is one part at "1" */
			char *one = path_child(prefix, 1);

			read_entity(&ps, seg, segend, one, prefix, depth);
			free(one);
		} else
			finish(&ps, kind, seg, segend, path, segdepth);
		free(path);
		if ((li = level_of(&ps, bi)) < 0) {
			/* a boundary no open multipart declared */
			char *alt = ps.nlv > 0 ? xasprintf("%s%salt",
			    ps.lv[ps.nlv - 1].path,
			    *ps.lv[ps.nlv - 1].path != '\0' ? "." : "") :
			    xasprintf("%s%salt", prefix, *prefix != '\0' ?
			    "." : "");

			r->event(r->ctx, LEN_EV_ODD, alt, "a delimiter of a "
			    "boundary no open multipart declared");
			push_level(&ps, ps.b[bi], alt,
			    ps.nlv > 0 ? ps.lv[ps.nlv - 1].depth + 1 :
			    depth + 1);
			free(alt);
			li = (int)ps.nlv - 1;
			if (li < 0 || level_of(&ps, bi) != li) {
				/* could not open it: read as text */
				path = xstrdup(prefix);
				kind = SEG_TEXT;
				seg = pos;
				continue;
			}
		}
		pop_to(&ps, (size_t)li + 1);
		if (close) {
			ps.lv[li].closed = true;
			path = xasprintf("%s%sepilogue", ps.lv[li].path,
			    *ps.lv[li].path != '\0' ? "." : "");
			kind = SEG_TEXT;
			segdepth = ps.lv[li].depth;
		} else {
			ps.lv[li].closed = false;
			path = path_child(ps.lv[li].path, ++ps.lv[li].nchild);
			kind = SEG_ENTITY;
			segdepth = ps.lv[li].depth;
		}
		seg = pos;
	}
	if (!r->stopped) {
		if (kind == SEG_TOP) {
			char *one = path_child(prefix, 1);

			read_entity(&ps, seg, len, one, prefix, depth);
			free(one);
		} else
			finish(&ps, kind, seg, len, path, segdepth);
	}
	free(path);
	pop_to(&ps, 0);
	free(ps.lv);
	free(ps.guess);
	for (i = 0; i < ps.nb; i++)
		free(ps.b[i]);
}

void
lenient_read(const unsigned char *msg, size_t len,
    const struct lenient_limits *lim, lenient_leaf_fn leaf,
    lenient_event_fn event, void *ctx)
{
	struct reader	r;

	memset(&r, 0, sizeof r);
	r.lim = lim;
	r.leaf = leaf;
	r.event = event;
	r.ctx = ctx;
	read_message(&r, msg, len, "", 1);
}
