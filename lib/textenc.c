/* lib/textenc.c - uuencode, BinHex 4.0 and yEnc blocks in text (see
 * textenc.h). Each decoder reads lines up to the end of its block. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "textenc.h"
#include "util.h"

#define BINHEX_MARK	"(This file must be converted with BinHex"

struct lines {
	const unsigned char	*p, *end;
};

/* Next line without its CR/LF; false at the end. */
static bool
next_line(struct lines *ls, const unsigned char **l, size_t *n)
{
	const unsigned char	*eol;

	if (ls->p >= ls->end)
		return false;
	eol = memchr(ls->p, '\n', (size_t)(ls->end - ls->p));
	*l = ls->p;
	*n = eol != NULL ? (size_t)(eol - ls->p) : (size_t)(ls->end - ls->p);
	ls->p = eol != NULL ? eol + 1 : ls->end;
	if (*n > 0 && (*l)[*n - 1] == '\r')
		(*n)--;
	return true;
}

bool
textenc_present(const unsigned char *p, size_t n)
{
	if (p == NULL || n == 0)
		return false;
	return memmem(p, n, "begin ", 6) != NULL ||
	    memmem(p, n, BINHEX_MARK, strlen(BINHEX_MARK)) != NULL ||
	    memmem(p, n, "=ybegin ", 8) != NULL;
}

static void
copy_name(char *dst, size_t cap, const unsigned char *s, size_t n)
{
	size_t	i;

	for (i = 0; i < n && i < cap - 1; i++)
		dst[i] = s[i] == '\0' ? '_' : (char)s[i];
	dst[i] = '\0';
}

static int	uu_char(int c) { return (c - ' ') & 0x3f; }

/* After "begin NNN name": lines until "end" or a blank line. */
static void
uudecode(struct lines *ls, size_t max_out, struct buf *out, bool *cut)
{
	const unsigned char	*l;
	size_t			 n, i;

	while (next_line(ls, &l, &n)) {
		size_t want;

		if (n == 0 || (n >= 3 && memcmp(l, "end", 3) == 0))
			return;
		want = (size_t)uu_char(l[0]);
		for (i = 1; i < n && want > 0; i += 4) {
			int		c[4], j;
			unsigned char	o[3];

			for (j = 0; j < 4; j++)
				c[j] = i + (size_t)j < n ?
				    uu_char(l[i + (size_t)j]) : 0;
			o[0] = (unsigned char)(c[0] << 2 | c[1] >> 4);
			o[1] = (unsigned char)(c[1] << 4 | c[2] >> 2);
			o[2] = (unsigned char)(c[2] << 6 | c[3]);
			if (out->len + 3 > max_out) {
				*cut = true;
				return;
			}
			buf_append(out, o, want < 3 ? want : 3);
			want = want < 3 ? 0 : want - 3;
		}
	}
}

/* BinHex 4.0: ':' 6-bit text ':' -> RLE (0x90) -> header + data fork. */
static void
binhex_decode(struct lines *ls, size_t max_out, struct buf *out, char *name,
    size_t namecap, bool *cut)
{
	static const char	 alpha[] = "!\"#$%&'()*+,-012345689@ABCDEFGHIJ"
	    "KLMNPQRSTUVXYZ[`abcdefhijklmpqr";
	struct buf		 raw = BUF_INIT;
	const unsigned char	*l;
	size_t			 n, i, k, pos, dlen;
	unsigned		 acc = 0, bits = 0;
	bool			 started = false, done = false, rle = false;
	int			 prev = -1;

	/* a BinHex file may expand 255x through RLE: cap the raw bytes */
	while (!done && next_line(ls, &l, &n)) {
		for (i = 0; i < n && !done; i++) {
			const char	*c;
			unsigned char	 b;

			if (!started) {
				started = l[i] == ':';
				continue;
			}
			if (l[i] == ':') {
				done = true;
				break;
			}
			if ((c = memchr(alpha, l[i], sizeof alpha - 1)) == NULL)
				continue;
			acc = acc << 6 | (unsigned)(c - alpha);
			bits += 6;
			if (bits < 8)
				continue;
			bits -= 8;
			b = (unsigned char)(acc >> bits);
			acc &= (1u << bits) - 1;
			if (rle) {
				unsigned char lit = 0x90;

				rle = false;
				if (b == 0) {		/* a literal 0x90 */
					buf_append(&raw, &lit, 1);
					prev = lit;
				} else if (prev >= 0) {
					lit = (unsigned char)prev;
					for (k = 1; k < b; k++)
						buf_append(&raw, &lit, 1);
				}
			} else if (b == 0x90)
				rle = true;
			else {
				buf_append(&raw, &b, 1);
				prev = b;
			}
			if (raw.len > max_out + 512) {
				*cut = true;
				done = true;
			}
		}
	}
	/* header: len, name, 0, type[4], creator[4], flags[2], dlen[4],
	 * rlen[4], crc[2]; then the data fork */
	if (raw.len < 1 || raw.len < (size_t)raw.data[0] + 22)
		goto out;
	k = raw.data[0];
	copy_name(name, namecap, raw.data + 1, k);
	pos = 1 + k + 1 + 4 + 4 + 2;
	dlen = (size_t)raw.data[pos] << 24 | (size_t)raw.data[pos + 1] << 16 |
	    (size_t)raw.data[pos + 2] << 8 | raw.data[pos + 3];
	pos += 4 + 4 + 2;
	if (dlen > raw.len - pos) {
		dlen = raw.len - pos;
		*cut = true;
	}
	if (dlen > max_out) {
		dlen = max_out;
		*cut = true;
	}
	buf_append(out, raw.data + pos, dlen);
out:
	buf_free(&raw);
}

/* yEnc: "=ybegin ... name=N" lines, each byte - 42, '=' escapes - 64. */
static void
ydecode(struct lines *ls, size_t max_out, struct buf *out, bool *cut)
{
	const unsigned char	*l;
	size_t			 n, i;

	while (next_line(ls, &l, &n)) {
		if (n >= 6 && memcmp(l, "=yend", 5) == 0)
			return;
		if (n >= 7 && memcmp(l, "=ypart", 6) == 0)
			continue;
		for (i = 0; i < n; i++) {
			unsigned char c = l[i];

			if (c == '=' && i + 1 < n)
				c = (unsigned char)(l[++i] - 64);
			c = (unsigned char)(c - 42);
			if (out->len >= max_out) {
				*cut = true;
				return;
			}
			buf_append(out, &c, 1);
		}
	}
}

void
textenc_extract(const unsigned char *p, size_t n, size_t max_out,
    unsigned max_blocks, textenc_fn fn, void *ctx)
{
	struct lines		 ls = { p, p + n };
	const unsigned char	*l;
	size_t			 ll;
	unsigned		 blocks = 0;

	while (blocks < max_blocks && next_line(&ls, &l, &ll)) {
		struct buf	 out = BUF_INIT;
		char		 name[256] = "";
		const char	*kind = NULL;
		bool		 cut = false;

		if (ll > 8 && memcmp(l, "begin ", 6) == 0 && l[6] >= '0' &&
		    l[6] <= '7') {
			const unsigned char *q = l + 6;

			while (q < l + ll && *q >= '0' && *q <= '7')
				q++;
			if (q >= l + ll || *q != ' ')
				continue;
			copy_name(name, sizeof name, q + 1,
			    (size_t)(l + ll - q - 1));
			kind = "uuencode";
			uudecode(&ls, max_out, &out, &cut);
		} else if (ll >= strlen(BINHEX_MARK) &&
		    memcmp(l, BINHEX_MARK, strlen(BINHEX_MARK)) == 0) {
			kind = "binhex";
			binhex_decode(&ls, max_out, &out, name, sizeof name,
			    &cut);
		} else if (ll > 8 && memcmp(l, "=ybegin ", 8) == 0) {
			const unsigned char *nm = memmem(l, ll, " name=", 6);

			if (nm != NULL)
				copy_name(name, sizeof name, nm + 6,
				    (size_t)(l + ll - nm - 6));
			kind = "yenc";
			ydecode(&ls, max_out, &out, &cut);
		} else
			continue;
		blocks++;
		fn(ctx, kind, name[0] != '\0' ? name : NULL, out.data, out.len,
		    cut);
	}
}
