/*
 * lib/archive.c - archive members from memory (see archive.h).
 *
 * One archive level per archive_walk() call. libarchive does the decoding;
 * this file decides what it may decode (formats from the policy, one by
 * one), bounds how much (entries, member size, message budget, ratio,
 * deadline) and adds the checks libarchive does not make: duplicate names
 * and, for ZIP, local headers that disagree with the central directory.
 * Everything a walk owns hangs off struct walk; there are no mutable
 * statics, so concurrent walks (and nested ones from the entry callback)
 * are independent.
 */
#include "config.h"

#include <langinfo.h>
#include <locale.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <archive.h>
#include <archive_entry.h>

#include "archive.h"
#include "util.h"

#define ARC_CHUNK	(1024 * 1024)	/* one archive_read_data() call at most */
#define ARC_FIRST_ALLOC	(64 * 1024)	/* first buffer when the size is unknown */
#define ARC_MAX_PREALLOC (16 * 1024 * 1024) /* trust a declared size this far */
#define ARC_RATIO_FLOOR	(1024 * 1024)	/* ratio applies above this many bytes */
#define ZIP_MAX_MISMATCH 64		/* name mismatches remembered/reported */
#define ARC_NAME_MAX	200		/* names quoted in event details */
#define ZIP_MAX_EOCD	4		/* end records whose directory is read */
#define ZIP_SEEK_TAIL	(16 * 1024)	/* where libarchive's seeking reader
					 * looks for the end record */
#define ZIP_MAX_RECS	65536		/* records per view without a limit */

typedef int (*arc_enable_fn)(struct archive *);

/* Policy words -> libarchive switches. "rar" covers RAR 4 and RAR 5. */
static const struct arc_format {
	const char	*word;
	bool		 filter;	/* a single-stream compressor */
	arc_enable_fn	 enable[2];
} arc_formats[] = {
	{ "zip", false, { archive_read_support_format_zip, NULL } },
	{ "7z", false, { archive_read_support_format_7zip, NULL } },
	{ "rar", false, { archive_read_support_format_rar,
	    archive_read_support_format_rar5 } },
	{ "tar", false, { archive_read_support_format_tar, NULL } },
	{ "cab", false, { archive_read_support_format_cab, NULL } },
	{ "iso", false, { archive_read_support_format_iso9660, NULL } },
	{ "cpio", false, { archive_read_support_format_cpio, NULL } },
	{ "lha", false, { archive_read_support_format_lha, NULL } },
	{ "xar", false, { archive_read_support_format_xar, NULL } },
	{ "ar", false, { archive_read_support_format_ar, NULL } },
	{ "gzip", true, { archive_read_support_filter_gzip, NULL } },
	{ "bzip2", true, { archive_read_support_filter_bzip2, NULL } },
	{ "xz", true, { archive_read_support_filter_xz, NULL } },
	{ "lzma", true, { archive_read_support_filter_lzma, NULL } },
	{ "zstd", true, { archive_read_support_filter_zstd, NULL } },
};

/* Formats that may sit inside a single-stream compressor and are read in
 * the same pass (a .tar.gz gives the tar members). Anything else inside a
 * compressor comes out as one member for the caller to open. */
static const char *const arc_stream_formats[] = { "tar", "cpio" };

struct zip_mismatch {
	char	*local;		/* name in the local file header */
	char	*central;	/* name in the central directory */
};

struct walk {
	const unsigned char	*buf;
	size_t			 len;
	const struct arc_limits	*lim;
	const struct arc_ops	*ops;
	void			*ctx;
	struct archive		*a;
	locale_t		 loc;		/* our C.UTF-8, or 0 */
	locale_t		 prev_loc;	/* the thread's, restored */
	uint64_t		 decoded;	/* bytes decoded from this archive */
	bool			 stop;		/* a finding ended the walk */
	/* names seen, for duplicates: open addressing, power-of-two size */
	char			**names;
	size_t			 names_cap;
	size_t			 names_n;
	struct zip_mismatch	 mism[ZIP_MAX_MISMATCH];
	size_t			 nmism;
	unsigned		 nentries;	/* headers read, all views */
	int			 passed;	/* members passed to ops->entry */
	bool			 zip_stream;	/* read local headers, not the
						 * central directory */
	bool			 is_7z;
	int			 enc_unsup;	/* 7z: -1 = not probed yet, else
						 * whether the library cannot
						 * decrypt it */
};

/*
 * ZIP readers disagree on which members an archive holds: one takes the
 * central directory named by the last end record, another the first,
 * another walks the local headers. A member is known here by the offset
 * of its local header; a view is the set of members one reader sees.
 */
struct zip_rec {
	size_t			 lho;		/* local header offset in buf */
	const unsigned char	*name;		/* raw, in buf */
	size_t			 nlen;
	uint64_t		 csize;		/* compressed size (directory) */
	int			 view;		/* index into zip_views.desc */
	bool			 primary;	/* in the view libarchive walks */
};

struct zip_views {
	struct zip_rec	*rec;
	size_t		 n, cap, max;
	size_t		 nsorted;	/* rec[0..nsorted) sorted by lho */
	char		 desc[ZIP_MAX_EOCD + 1][64];
	size_t		 ndesc;
};

static void
arc_event(struct walk *w, enum arc_event ev, const char *name,
    const char *detail)
{
	if (w->ops->event != NULL)
		w->ops->event(w->ctx, ev, name, detail);
}

static bool
word_in_list(const char *list, const char *word)
{
	size_t		wl = strlen(word);
	const char	*p = list;

	if (list == NULL)
		return false;
	for (;;) {
		size_t n;

		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		if (*p == '\0')
			return false;
		n = strcspn(p, " \t,");
		if (n == wl && strncmp(p, word, n) == 0)
			return true;
		p += n;
	}
}

static const struct arc_format *
arc_format_find(const char *word)
{
	size_t	i;

	for (i = 0; i < sizeof arc_formats / sizeof arc_formats[0]; i++)
		if (strcmp(arc_formats[i].word, word) == 0)
			return &arc_formats[i];
	return NULL;
}

static bool
cpio_magic(const unsigned char *buf, size_t len)
{
	if (has_at(buf, len, 0, "07070", 5) && len >= 6 &&
	    (buf[5] == '1' || buf[5] == '2' || buf[5] == '7'))
		return true;
	/* old binary cpio, either byte order (octal 070707) */
	return len >= 26 && ((buf[0] == 0xc7 && buf[1] == 0x71) ||
	    (buf[0] == 0x71 && buf[1] == 0xc7));
}

const char *
archive_format_hint(const unsigned char *buf, size_t len)
{
	if (buf == NULL)
		return "unknown";
	if (has_at(buf, len, 0, "PK\003\004", 4) ||
	    has_at(buf, len, 0, "PK\005\006", 4) ||
	    has_at(buf, len, 0, "PK\007\010", 4))
		return "zip";
	if (has_at(buf, len, 0, "7z\274\257\047\034", 6))
		return "7z";
	if (has_at(buf, len, 0, "Rar!\032\007", 6))
		return "rar";
	if (has_at(buf, len, 257, "ustar", 5))
		return "tar";
	if (has_at(buf, len, 0, "\037\213", 2))
		return "gzip";
	if (has_at(buf, len, 0, "BZh", 3) && len > 3 && buf[3] >= '1' &&
	    buf[3] <= '9')
		return "bzip2";
	if (has_at(buf, len, 0, "\3757zXZ\0", 6))
		return "xz";
	if (has_at(buf, len, 0, "\050\265\057\375", 4))
		return "zstd";
	if (has_at(buf, len, 0, "MSCF\0\0\0\0", 8))
		return "cab";
	if (has_at(buf, len, 0x8001, "CD001", 5) ||
	    has_at(buf, len, 0x8801, "CD001", 5) ||
	    has_at(buf, len, 0x9001, "CD001", 5))
		return "iso";
	if (cpio_magic(buf, len))
		return "cpio";
	if (has_at(buf, len, 2, "-lh", 3) && len > 6 && buf[6] == '-')
		return "lha";
	if (has_at(buf, len, 0, "xar!", 4))
		return "xar";
	if (has_at(buf, len, 0, "!<arch>\n", 8))
		return "ar";
	/* lzma_alone: properties byte, then a power-of-two-ish dictionary */
	if (len >= 13 && buf[0] == 0x5d && buf[1] == 0 && buf[2] == 0 &&
	    (buf[12] == 0 || buf[12] == 0xff))
		return "lzma";
	return "unknown";
}

/*
 * Duplicate names. The table holds pointers to our own copies; it grows
 * at half load, so a walk costs O(entries) and the entries limit bounds it.
 */
static uint64_t
name_hash(const char *s)
{
	uint64_t	h = 0xcbf29ce484222325ULL;

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
	return h;
}

static void
names_insert_raw(char **tab, size_t cap, char *s)
{
	size_t	i = (size_t)name_hash(s) & (cap - 1);

	while (tab[i] != NULL)
		i = (i + 1) & (cap - 1);
	tab[i] = s;
}

/* Returns true if name was already seen in this archive. */
static bool
names_seen(struct walk *w, const char *name)
{
	size_t	i;

	if (w->names_cap != 0) {
		i = (size_t)name_hash(name) & (w->names_cap - 1);
		for (; w->names[i] != NULL; i = (i + 1) & (w->names_cap - 1))
			if (strcmp(w->names[i], name) == 0)
				return true;
	}
	if ((w->names_n + 1) * 2 > w->names_cap) {
		size_t	 ncap = w->names_cap == 0 ? 64 : w->names_cap * 2;
		char	**nt = xcalloc(ncap, sizeof *nt);

		for (i = 0; i < w->names_cap; i++)
			if (w->names[i] != NULL)
				names_insert_raw(nt, ncap, w->names[i]);
		free(w->names);
		w->names = nt;
		w->names_cap = ncap;
	}
	names_insert_raw(w->names, w->names_cap, xstrdup(name));
	w->names_n++;
	return false;
}

/* A quoted, printable, length-capped copy of n bytes for a detail. */
static char *
quote_name(const unsigned char *p, size_t n)
{
	char	*raw = xstrndup((const char *)p, n);
	char	*q = str_sanitise(raw, ARC_NAME_MAX);

	free(raw);
	return q;
}

/*
 * ZIP: compare every central directory record with the local header it
 * points to, and look for bytes after the end record. Reads only inside
 * buf, at most one pass over the central directory; ZIP64 archives are
 * not cross-checked.
 */
static void
zip_inspect(struct walk *w)
{
	const unsigned char	*b = w->buf;
	size_t			 len = w->len, eocd, lo, base, p, trail;
	uint32_t		 cdsize, cdoff;
	unsigned		 n, i, reported = 0, extra = 0;
	char			 detail[128];

	if (len < 22)
		return;
	lo = len - 22 > 65535 ? len - 22 - 65535 : 0;
	for (eocd = len - 22;; eocd--) {
		if (memcmp(b + eocd, "PK\005\006", 4) == 0)
			break;
		if (eocd == lo) {
			arc_event(w, ARC_EV_ANOMALY, NULL,
			    "zip has no end of central directory record");
			return;
		}
	}
	n = le16(b + eocd + 10);
	cdsize = le32(b + eocd + 12);
	cdoff = le32(b + eocd + 16);
	if (eocd + 22 + (size_t)le16(b + eocd + 20) < len) {
		trail = len - (eocd + 22 + le16(b + eocd + 20));
		snprintf(detail, sizeof detail,
		    "%zu bytes after the end of the zip", trail);
		arc_event(w, ARC_EV_ANOMALY, NULL, detail);
	}
	if (n == 0xffff || cdoff == 0xffffffffU || cdsize == 0xffffffffU)
		return;				/* ZIP64: not cross-checked */
	if ((uint64_t)cdsize + cdoff > eocd)
		return;				/* libarchive reports it */
	/* data prepended to the zip (self-extractors) shifts every offset */
	base = eocd - cdsize - cdoff;
	p = base + cdoff;
	for (i = 0; i < n; i++) {
		size_t	nlen, lho, lnlen;

		if (p > eocd || eocd - p < 46 ||
		    memcmp(b + p, "PK\001\002", 4) != 0)
			break;
		nlen = le16(b + p + 28);
		if (eocd - p - 46 < nlen)
			break;
		lho = base + le32(b + p + 42);
		if (lho > len || len - lho < 30 ||
		    memcmp(b + lho, "PK\003\004", 4) != 0) {
			char *c = quote_name(b + p + 46, nlen);

			arc_event(w, ARC_EV_ANOMALY, c,
			    "central directory entry has no local header");
			free(c);
		} else {
			lnlen = le16(b + lho + 26);
			if (lnlen > len - lho - 30)
				lnlen = len - lho - 30;
			if (lnlen != nlen ||
			    memcmp(b + lho + 30, b + p + 46, nlen) != 0) {
				if (reported < ZIP_MAX_MISMATCH) {
					struct zip_mismatch *m =
					    &w->mism[w->nmism++];
					char *c, *l, *d;

					m->central = xstrndup(
					    (const char *)b + p + 46, nlen);
					m->local = xstrndup(
					    (const char *)b + lho + 30, lnlen);
					c = quote_name(b + p + 46, nlen);
					l = quote_name(b + lho + 30, lnlen);
					d = xasprintf("local header names "
					    "\"%s\", central directory \"%s\"",
					    l, c);
					arc_event(w, ARC_EV_ANOMALY, c, d);
					free(c);
					free(l);
					free(d);
					reported++;
				} else
					extra++;
			}
		}
		p += 46 + nlen + le16(b + p + 30) + le16(b + p + 32);
	}
	if (extra != 0) {
		snprintf(detail, sizeof detail,
		    "%u more local/central name mismatches", extra);
		arc_event(w, ARC_EV_ANOMALY, NULL, detail);
	}
}

/* The other header's name for a member libarchive reported as name. */
static const char *
zip_alt_name(const struct walk *w, const char *name)
{
	size_t	i;

	for (i = 0; i < w->nmism; i++) {
		if (strcmp(w->mism[i].local, name) == 0)
			return w->mism[i].central;
		if (strcmp(w->mism[i].central, name) == 0)
			return w->mism[i].local;
	}
	return NULL;
}

/* libarchive's words for encryption it cannot decrypt (7z: "The file
 * content is encrypted, but currently not supported", "The archive
 * header is encrypted, but currently not supported"). */
static bool
arc_unsupported_error(const char *s)
{
	return s != NULL && strstr(s, "ncrypt") != NULL &&
	    strstr(s, "not supported") != NULL;
}

/* Reports libarchive's current error as a finding. */
static void
arc_error_event(struct walk *w, const char *name)
{
	const char	*s = archive_error_string(w->a);

	if (s == NULL || *s == '\0')
		s = "unreadable archive";
	if (w->is_7z && arc_unsupported_error(s))
		arc_event(w, ARC_EV_ENCRYPTED, name, ARC_7Z_UNSUPPORTED);
	else if (strstr(s, "ncrypt") != NULL || strstr(s, "assphrase") != NULL ||
	    strstr(s, "assword") != NULL)
		arc_event(w, ARC_EV_ENCRYPTED, name, s);
	else
		arc_event(w, ARC_EV_UNREADABLE, name, s);
}

static bool
arc_timed_out(const struct walk *w)
{
	return w->lim->deadline_ms != 0 && clock_ms() >= w->lim->deadline_ms;
}

/* True once this archive decoded more than ratio times its own size. */
static bool
arc_ratio_hit(const struct walk *w)
{
	uint64_t	max;

	if (w->lim->ratio == 0 || w->decoded <= ARC_RATIO_FLOOR)
		return false;
	if (w->len != 0 && (uint64_t)w->lim->ratio > UINT64_MAX / w->len)
		return false;
	max = (uint64_t)w->lim->ratio * w->len;
	return w->decoded > max;
}

/*
 * Reads the current member's data into *e; returns the buffer behind
 * e->data (heap, the caller frees it; NULL when nothing was read),
 * within member_size, the message budget, the ratio and the deadline.
 * Sends the event for whatever stopped it and sets e->truncated; sets
 * w->stop when the walk must end.
 */
static unsigned char *
arc_read_member(struct walk *w, struct arc_entry *e)
{
	const struct arc_limits	*lim = w->lim;
	uint64_t		 mlim, blim, cap;
	unsigned char		*data = NULL, probe[64];
	size_t			 len = 0, alloc = 0;

	mlim = lim->member_size != 0 ? lim->member_size : UINT64_MAX;
	blim = lim->budget != NULL ? *lim->budget : UINT64_MAX;
	cap = mlim < blim ? mlim : blim;
	if (cap > SIZE_MAX / 2)
		cap = SIZE_MAX / 2;
	for (;;) {
		la_ssize_t	n;

		if (arc_timed_out(w)) {
			arc_event(w, ARC_EV_TIMEOUT, e->name,
			    "deadline passed while decoding");
			e->truncated = true;
			w->stop = true;
			break;
		}
		if (len < cap) {
			size_t want = cap - len < ARC_CHUNK ? (size_t)(cap - len)
			    : ARC_CHUNK;

			if (alloc - len < want) {
				size_t na = alloc != 0 ? alloc * 2 :
				    e->declared_size != 0 &&
				    e->declared_size <= ARC_MAX_PREALLOC ?
				    (size_t)e->declared_size + 1 :
				    ARC_FIRST_ALLOC;

				if (na < len + want)
					na = len + want;
				if (na > cap)
					na = (size_t)cap;
				data = xrealloc(data, na);
				alloc = na;
			}
			n = archive_read_data(w->a, data + len, want);
		} else
			n = archive_read_data(w->a, probe, sizeof probe);
		if (n == 0)
			break;
		if (n < 0) {
			const char *s = archive_error_string(w->a);

			if (s != NULL && strstr(s, "assphrase") != NULL)
				e->encrypted = true;
			else {
				arc_error_event(w, e->name);
				e->truncated = true;
			}
			if (n == ARCHIVE_FATAL)
				w->stop = true;
			break;
		}
		if (len >= cap) {
			/* a byte past the limit: the member is bigger */
			e->truncated = true;
			if (len >= mlim) {
				arc_event(w, ARC_EV_MEMBER_SIZE, e->name,
				    "member larger than the size limit");
			} else {
				arc_event(w, ARC_EV_TOTAL_SIZE, e->name,
				    "decoded size budget for the message "
				    "exhausted");
				w->stop = true;
			}
			break;
		}
		len += (size_t)n;
		w->decoded += (uint64_t)n;
		if (lim->budget != NULL)
			*lim->budget -= (uint64_t)n;
		if (arc_ratio_hit(w)) {
			char	d[96];

			snprintf(d, sizeof d, "compression ratio over %u",
			    lim->ratio);
			arc_event(w, ARC_EV_RATIO, e->name, d);
			e->truncated = true;
			w->stop = true;
			break;
		}
	}
	e->data = data;
	e->len = len;
	return data;
}

/* Enables the formats (or, for a compressed stream, the filters) the
 * policy allows; zip_fn replaces libarchive's two ZIP readers when set.
 * Returns how many were enabled. */
static unsigned
arc_enable(struct archive *a, const char *formats, bool compressed,
    arc_enable_fn zip_fn)
{
	unsigned	n = 0;
	size_t		i, j;

	for (i = 0; i < sizeof arc_formats / sizeof arc_formats[0]; i++) {
		const struct arc_format *f = &arc_formats[i];
		bool want = word_in_list(formats, f->word);

		if (compressed && !f->filter) {
			bool stream = false;

			for (j = 0; j < sizeof arc_stream_formats /
			    sizeof arc_stream_formats[0]; j++)
				if (strcmp(arc_stream_formats[j],
				    f->word) == 0)
					stream = true;
			want = want && stream;
		} else if (!compressed && f->filter)
			want = false;
		if (!want)
			continue;
		if (zip_fn != NULL && strcmp(f->word, "zip") == 0) {
			if (zip_fn(a) == ARCHIVE_OK)
				n++;
			continue;
		}
		for (j = 0; j < 2 && f->enable[j] != NULL; j++)
			if (f->enable[j](a) == ARCHIVE_OK)
				n++;
	}
	/* one member for a compressed file that is no tar or cpio */
	if (compressed && n != 0 && archive_read_support_format_raw(a) !=
	    ARCHIVE_OK)
		n = 0;
	return n;
}

/* ---- ZIP views ---------------------------------------------------- */

/*
 * An end of central directory record at pos that libarchive's seeking
 * reader would accept (one volume, the directory before the record),
 * whose directory, if not empty, starts with a central header (so that
 * the signature met by chance in compressed data does not count). *base_r
 * is what to add to the offsets it stores (data prepended to the zip).
 */
static bool
zip_eocd_valid(const unsigned char *b, size_t len, size_t pos, size_t *base_r)
{
	uint32_t	cdsize, cdoff;

	if (pos > len || len - pos < 22 || memcmp(b + pos, "PK\005\006",
	    4) != 0)
		return false;
	if (le16(b + pos + 4) != 0 || le16(b + pos + 6) != 0 ||
	    le16(b + pos + 8) != le16(b + pos + 10))
		return false;
	cdsize = le32(b + pos + 12);
	cdoff = le32(b + pos + 16);
	if ((uint64_t)cdsize + cdoff > pos)
		return false;
	if (le16(b + pos + 10) != 0 && (cdsize < 46 ||
	    memcmp(b + pos - cdsize, "PK\001\002", 4) != 0))
		return false;
	*base_r = pos - cdsize - cdoff;
	return true;
}

/* The end record libarchive's seeking reader takes: the last signature
 * in the final ZIP_SEEK_TAIL bytes, if it passes; SIZE_MAX if none (then
 * libarchive streams the local headers instead). */
static size_t
zip_seek_eocd(const unsigned char *b, size_t len)
{
	size_t	start, i, base;

	if (len < 22)
		return SIZE_MAX;
	start = len > ZIP_SEEK_TAIL ? len - ZIP_SEEK_TAIL : 0;
	for (i = len - 22; i > start; i--)
		if (memcmp(b + i, "PK\005\006", 4) == 0)
			return zip_eocd_valid(b, len, i, &base) ? i : SIZE_MAX;
	return SIZE_MAX;
}

static void
zip_rec_add(struct zip_views *zv, size_t lho, const unsigned char *name,
    size_t nlen, uint64_t csize, int view)
{
	struct zip_rec	*r;

	if (zv->n == zv->cap) {
		zv->cap = zv->cap == 0 ? 16 : zv->cap * 2;
		zv->rec = xreallocarray(zv->rec, zv->cap, sizeof *zv->rec);
	}
	r = &zv->rec[zv->n++];
	memset(r, 0, sizeof *r);
	r->lho = lho;
	r->name = name;
	r->nlen = nlen;
	r->csize = csize;
	r->view = view;
}

/* Compressed size the primary central directory gives for the member at
 * lho (its records are the first zv->nsorted, sorted by offset), or
 * UINT64_MAX. */
static uint64_t
zip_cd_csize(const struct zip_views *zv, size_t lho)
{
	size_t	lo = 0, hi = zv->nsorted;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (zv->rec[mid].lho < lho)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < zv->nsorted && zv->rec[lo].lho == lho &&
	    zv->rec[lo].csize != 0xffffffffU)
		return zv->rec[lo].csize;
	return UINT64_MAX;
}

/* The members of the central directory of the end record at eocd. */
static void
zip_cd_view(const struct walk *w, struct zip_views *zv, size_t eocd,
    size_t base, int view)
{
	const unsigned char	*b = w->buf;
	size_t			 p, n = le16(b + eocd + 10), i, nlen;
	uint32_t		 rel;

	p = eocd - le32(b + eocd + 12);
	for (i = 0; i < n && i < zv->max; i++) {
		if (p > eocd || eocd - p < 46 ||
		    memcmp(b + p, "PK\001\002", 4) != 0)
			break;
		nlen = le16(b + p + 28);
		if (eocd - p - 46 < nlen)
			break;
		rel = le32(b + p + 42);
		if (rel == 0xffffffffU)
			break;			/* ZIP64: not viewed */
		if ((uint64_t)base + rel < w->len)
			zip_rec_add(zv, base + rel, b + p + 46, nlen,
			    le32(b + p + 20), view);
		p += 46 + nlen + le16(b + p + 30) + le16(b + p + 32);
	}
}

/*
 * The members a streaming reader meets: local headers one after the
 * other from the start. A member whose size is written after its data
 * takes the size from a central directory; without one the walk stops
 * there (libarchive's streaming reader is then the primary view).
 */
static void
zip_local_view(const struct walk *w, struct zip_views *zv)
{
	const unsigned char	*b = w->buf;
	size_t			 len = w->len, p = 0, i;

	if (has_at(b, len, 0, "PK\007\010", 4))
		p = 4;				/* spanning marker */
	for (i = 0; i < zv->max; i++) {
		uint64_t	csize, next;
		unsigned	flags, nlen, xlen;

		if (p > len || len - p < 30 || memcmp(b + p, "PK\003\004",
		    4) != 0)
			break;
		flags = le16(b + p + 6);
		csize = le32(b + p + 18);
		nlen = le16(b + p + 26);
		xlen = le16(b + p + 28);
		if (len - p - 30 < nlen)
			break;
		zip_rec_add(zv, p, b + p + 30, nlen, csize, 0);
		if ((flags & 8) != 0) {		/* sizes after the data */
			uint64_t cd = zip_cd_csize(zv, p);

			if (cd != UINT64_MAX || csize == 0)
				csize = cd;
		}
		if (csize == 0xffffffffU || csize == UINT64_MAX)
			break;			/* ZIP64 or unknown size */
		zv->rec[zv->n - 1].csize = csize;
		next = (uint64_t)p + 30 + nlen + xlen + csize;
		if ((flags & 8) != 0)
			next += next + 4 <= len && memcmp(b + next,
			    "PK\007\010", 4) == 0 ? 16 : 12;
		if (next > len)
			break;
		p = (size_t)next;
	}
}

static int
zip_rec_cmp(const void *a, const void *b)
{
	const struct zip_rec	*x = a, *y = b;

	if (x->lho != y->lho)
		return x->lho < y->lho ? -1 : 1;
	return x->view - y->view;
}

/* End of the data of the member whose local header is at lho, given its
 * compressed size; 0 if there is no local header there. */
static size_t
zip_member_end(const unsigned char *b, size_t len, size_t lho,
    uint64_t csize)
{
	uint64_t	end;

	if (lho > len || len - lho < 30 || memcmp(b + lho, "PK\003\004",
	    4) != 0 || csize == 0xffffffffU)
		return 0;
	end = (uint64_t)lho + 30 + le16(b + lho + 26) + le16(b + lho + 28) +
	    csize;
	return end > len ? len : (size_t)end;
}

struct zip_extent {
	size_t	start, end;
};

static int
zip_extent_cmp(const void *a, const void *b)
{
	const struct zip_extent	*x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

/*
 * Builds the views: the local headers (view 0), the central directory
 * libarchive's seeking reader takes (the last end record in its window,
 * if valid, as libarchive's own bidding does), and those of the other
 * valid end records, at most ZIP_MAX_EOCD directories in all (the first
 * and the last ones). An end record inside a member's data belongs to
 * that member (a stored zip in the zip) and is left to the nested walk.
 * Decides which reader the main walk uses, marks that view's members
 * primary and sorts the records by local header offset. Returns false
 * for ZIP64 or a buffer too short to have views.
 */
static bool
zip_views_build(struct walk *w, struct zip_views *zv)
{
	const unsigned char	*b = w->buf;
	size_t			 len = w->len, eocd[ZIP_MAX_EOCD];
	size_t			 base[ZIP_MAX_EOCD], ne = 0, nvalid = 0, p, bs;
	size_t			 seek, i, nx = 0, cap, half, g, gap;
	struct zip_extent	*ext = NULL;
	int			 primary = 0, nv;
	char			 detail[128];

	memset(zv, 0, sizeof *zv);
	zv->max = w->lim->entries != 0 ? (size_t)w->lim->entries + 1 :
	    ZIP_MAX_RECS;
	if (len < 22)
		return false;
	seek = zip_seek_eocd(b, len);
	snprintf(zv->desc[0], sizeof zv->desc[0], "the local headers");
	nv = 1;
	if (seek != SIZE_MAX) {
		if (seek >= 20 && memcmp(b + seek - 20, "PK\006\007", 4) == 0)
			return false;		/* ZIP64: not viewed */
		(void)zip_eocd_valid(b, len, seek, &bs);
		snprintf(zv->desc[nv], sizeof zv->desc[nv], "the central "
		    "directory of the end record at %zu", seek);
		zip_cd_view(w, zv, seek, bs, nv);
		primary = nv++;
		if (zv->n > 1)
			qsort(zv->rec, zv->n, sizeof *zv->rec, zip_rec_cmp);
		zv->nsorted = zv->n;
	}
	zip_local_view(w, zv);

	/* where the members' data lie, to tell nested end records */
	ext = xreallocarray(NULL, zv->n + 1, sizeof *ext);
	for (i = 0; i < zv->n; i++) {
		const struct zip_rec *r = &zv->rec[i];
		size_t end = zip_member_end(b, len, r->lho, r->csize);

		if (end > r->lho) {
			ext[nx].start = r->lho;
			ext[nx++].end = end;
		}
	}
	if (nx > 1)
		qsort(ext, nx, sizeof *ext, zip_extent_cmp);

	/*
	 * The other end records: the first `half' kept, a ring of the last.
	 * Only the bytes outside the members' data are searched (an end
	 * record inside belongs to a nested zip): on a well-formed zip
	 * that is its headers and directory.
	 */
	cap = ZIP_MAX_EOCD - (size_t)(nv - 1);
	half = cap / 2;
	for (g = 0, gap = 0; g <= nx; g++) {
		size_t gend = g < nx ? ext[g].start : len;

		for (p = gap; gend > p && gend - p >= 4 && len - p >= 22; p++) {
			const unsigned char *q = memchr(b + p, 'P', gend - p);

			if (q == NULL)
				break;
			p = (size_t)(q - b);
			if (len - p < 22 || memcmp(b + p, "PK\005\006", 4) != 0 ||
			    p == seek || !zip_eocd_valid(b, len, p, &bs) ||
			    (p >= 20 &&
			    memcmp(b + p - 20, "PK\006\007", 4) == 0))
				continue;
			if (nvalid < half)
				i = nvalid;
			else if (ne < cap)
				i = ne;
			else {			/* shift the ring */
				memmove(&eocd[half], &eocd[half + 1],
				    (cap - half - 1) * sizeof eocd[0]);
				memmove(&base[half], &base[half + 1],
				    (cap - half - 1) * sizeof base[0]);
				i = cap - 1;
			}
			eocd[i] = p;
			base[i] = bs;
			if (ne < cap)
				ne++;
			nvalid++;
		}
		if (g < nx && ext[g].end > gap)
			gap = ext[g].end;
	}
	free(ext);
	if (nvalid > cap) {
		snprintf(detail, sizeof detail, "%zu other end of central "
		    "directory records; the first %zu and the last %zu were "
		    "read", nvalid, half, cap - half);
		arc_event(w, ARC_EV_ANOMALY, NULL, detail);
	}
	for (i = 0; i < ne; i++, nv++) {
		snprintf(zv->desc[nv], sizeof zv->desc[nv], "the central "
		    "directory of the end record at %zu", eocd[i]);
		zip_cd_view(w, zv, eocd[i], base[i], nv);
	}
	zv->ndesc = (size_t)nv;
	w->zip_stream = primary == 0;
	for (i = 0; i < zv->n; i++)
		zv->rec[i].primary = zv->rec[i].view == primary;
	if (zv->n > 1)
		qsort(zv->rec, zv->n, sizeof *zv->rec, zip_rec_cmp);
	return true;
}

static void
zip_add_mismatch(struct walk *w, const unsigned char *a, size_t alen,
    const unsigned char *b, size_t blen)
{
	struct zip_mismatch	*m;

	if (w->nmism >= ZIP_MAX_MISMATCH)
		return;
	m = &w->mism[w->nmism++];
	m->local = xstrndup((const char *)a, alen);
	m->central = xstrndup((const char *)b, blen);
}

static int	walk_member(struct walk *w, struct archive_entry *ae,
		    const char *why, struct err *err);
static int	pw_probe(const unsigned char *buf, size_t len,
		    const struct arc_limits *lim, bool zip, const char *pass,
		    uint64_t deadline_ms, bool *enc_r, bool *unsup_r);

/* Whether this 7z's encryption is one the library cannot decrypt: one
 * look of its own (the walk's reader stops at a failed member). */
static int
arc_7z_unsupported(const struct walk *w)
{
	bool	enc, unsup;

	(void)pw_probe(w->buf, w->len, w->lim, false, NULL,
	    w->lim->deadline_ms, &enc, &unsup);
	return unsup ? 1 : 0;
}

/*
 * Reads the one member whose local header is at lho with libarchive's
 * streaming reader (the header and data as any reader finds them there).
 * Returns -1 when the entry callback stopped the walk.
 */
static int
zip_read_at(struct walk *w, size_t lho, const char *why, struct err *err)
{
	struct archive		*main_a = w->a, *a;
	struct archive_entry	*ae;
	int			 r, ret = 0;

	if ((a = archive_read_new()) == NULL)
		xpanic("archive_read_new: out of memory");
	w->a = a;
	if (w->lim->passphrase != NULL)
		(void)archive_read_add_passphrase(a, w->lim->passphrase);
	if (archive_read_support_format_zip_streamable(a) != ARCHIVE_OK ||
	    archive_read_open_memory(a, w->buf + lho, w->len - lho) !=
	    ARCHIVE_OK) {
		arc_error_event(w, NULL);
		w->stop = true;
	} else if ((r = archive_read_next_header(a, &ae)) == ARCHIVE_OK ||
	    r == ARCHIVE_WARN)
		ret = walk_member(w, ae, why, err);
	else {
		arc_error_event(w, NULL);
		w->stop = true;
	}
	archive_read_free(a);
	w->a = main_a;
	return ret;
}

/*
 * After the main walk: each member some other view holds and the main
 * walk did not (a second zip after the first, a central directory hidden
 * in the comment, a local header no directory lists) is read once, from
 * its local header; members at the same offset whose names differ
 * between directories are an anomaly. Members the views share are not
 * read again. Returns -1 when the entry callback stopped the walk.
 */
static int
zip_views_read(struct walk *w, struct zip_views *zv, struct err *err)
{
	size_t	i = 0, j, k;
	char	why[ZIP_MAX_EOCD * 64 + 64];

	while (i < zv->n && !w->stop) {
		const struct zip_rec	*cd = NULL;
		bool			 primary = false;
		size_t			 o;

		if (arc_timed_out(w)) {
			arc_event(w, ARC_EV_TIMEOUT, NULL,
			    "deadline passed while listing");
			w->stop = true;
			return 0;
		}
		for (j = i; j < zv->n && zv->rec[j].lho == zv->rec[i].lho; j++) {
			const struct zip_rec *r = &zv->rec[j];

			primary = primary || r->primary;
			if (r->view == 0)
				continue;
			if (cd == NULL)
				cd = r;
			else if (r->nlen != cd->nlen ||
			    memcmp(r->name, cd->name, r->nlen) != 0) {
				char *a = quote_name(cd->name, cd->nlen);
				char *c = quote_name(r->name, r->nlen);
				char *d = xasprintf("central directories "
				    "name one member \"%s\" and \"%s\"", a, c);

				arc_event(w, ARC_EV_ANOMALY, c, d);
				zip_add_mismatch(w, cd->name, cd->nlen,
				    r->name, r->nlen);
				free(a);
				free(c);
				free(d);
			}
		}
		if (!primary) {
			const unsigned char *lh = w->buf + zv->rec[i].lho;

			/* the name the directory gives, if the header's
			 * differs, is checked too (alt_name) */
			if (cd != NULL && w->len - zv->rec[i].lho >= 30 &&
			    memcmp(lh, "PK\003\004", 4) == 0 &&
			    w->len - zv->rec[i].lho - 30 >= le16(lh + 26) &&
			    (cd->nlen != le16(lh + 26) ||
			    memcmp(cd->name, lh + 30, cd->nlen) != 0))
				zip_add_mismatch(w, lh + 30, le16(lh + 26),
				    cd->name, cd->nlen);
			o = (size_t)snprintf(why, sizeof why,
			    "member only in");
			for (k = i; k < j && o < sizeof why; k++)
				o += (size_t)snprintf(why + o, sizeof why - o,
				    "%s %s", k == i ? "" : " and",
				    zv->desc[zv->rec[k].view]);
			if (zip_read_at(w, zv->rec[i].lho, why, err) == -1)
				return -1;
		}
		i = j;
	}
	return 0;
}

static void
zip_views_free(struct zip_views *zv)
{
	free(zv->rec);
	zv->rec = NULL;
	zv->n = zv->cap = 0;
}

/* ---- the walk ------------------------------------------------------- */

static void
walk_release(struct walk *w)
{
	size_t	i;

	if (w->a != NULL)
		archive_read_free(w->a);
	w->a = NULL;
	if (w->loc != (locale_t)0) {
		uselocale(w->prev_loc);
		freelocale(w->loc);
		w->loc = (locale_t)0;
	}
	for (i = 0; i < w->names_cap; i++)
		free(w->names[i]);
	free(w->names);
	w->names = NULL;
	for (i = 0; i < w->nmism; i++) {
		free(w->mism[i].local);
		free(w->mism[i].central);
	}
	w->nmism = 0;
}

/*
 * One header libarchive has just read: limits, names, data, and the
 * entry callback. why (or NULL) is the anomaly to report first (a member
 * only another view holds). Returns -1 when the callback stopped the
 * walk; sets w->stop when a finding ends it.
 */
static int
walk_member(struct walk *w, struct archive_entry *ae, const char *why,
    struct err *err)
{
	const struct arc_limits	*lim = w->lim;
	struct arc_entry	 e;
	const char		*name;
	unsigned char		*data = NULL;
	bool			 keep = false;
	char			 detail[96];
	int			 r;

	if (lim->entries != 0 && ++w->nentries > lim->entries) {
		snprintf(detail, sizeof detail, "more than %u entries",
		    lim->entries);
		arc_event(w, ARC_EV_ENTRIES, NULL, detail);
		w->stop = true;
		return 0;
	}
	memset(&e, 0, sizeof e);
	name = archive_entry_pathname_utf8(ae);
	if (name == NULL)
		name = archive_entry_pathname(ae);
	e.name = name != NULL ? name : "?";
	e.is_dir = archive_entry_filetype(ae) == AE_IFDIR;
	e.encrypted = archive_entry_is_encrypted(ae) != 0;
	if (archive_entry_size_is_set(ae) && archive_entry_size(ae) > 0)
		e.declared_size = (uint64_t)archive_entry_size(ae);
	if (w->nmism != 0)
		e.alt_name = zip_alt_name(w, e.name);
	if (why != NULL)
		arc_event(w, ARC_EV_ANOMALY, e.name, why);
	if (!e.is_dir && names_seen(w, e.name))
		arc_event(w, ARC_EV_ANOMALY, e.name, "duplicate member name");
	if (e.encrypted && w->is_7z) {
		/* no passphrase opens it: not read (the reader would stop) */
		if (w->enc_unsup == -1)
			w->enc_unsup = arc_7z_unsupported(w);
		if (w->enc_unsup == 1)
			e.enc_why = ARC_7Z_UNSUPPORTED;
	}
	if (archive_entry_filetype(ae) == AE_IFREG && e.enc_why == NULL &&
	    (!e.encrypted || lim->passphrase != NULL)) {
		bool	enc = e.encrypted;

		e.encrypted = false;
		data = arc_read_member(w, &e);
		if (enc && !e.encrypted)
			e.decrypted = true;
		else if (enc && data == NULL)
			e.encrypted = true;
	}
	e.keep_r = &keep;
	r = w->ops->entry(w->ctx, &e, err);
	if (!keep)
		free(data);
	if (r == -1)
		return -1;
	w->passed++;
	return 0;
}

int
archive_walk(const unsigned char *buf, size_t len,
    const struct arc_limits *lim, const struct arc_ops *ops, void *ctx,
    struct err *err)
{
	struct walk		 w;
	struct zip_views	 zv;
	struct archive_entry	*ae;
	const char		*hint = archive_format_hint(buf, len);
	const struct arc_format	*f = arc_format_find(hint);
	arc_enable_fn		 zip_fn = NULL;
	bool			 views = false;
	int			 r;
	char			 detail[96];

	if (lim == NULL || ops == NULL || ops->entry == NULL)
		xpanic("archive_walk: no limits or callbacks");
	memset(&w, 0, sizeof w);
	memset(&zv, 0, sizeof zv);
	w.enc_unsup = -1;
	w.is_7z = strcmp(hint, "7z") == 0;
	w.buf = buf;
	w.len = len;
	w.lim = lim;
	w.ops = ops;
	w.ctx = ctx;
	if (buf == NULL || len == 0) {
		arc_event(&w, ARC_EV_UNREADABLE, NULL, "empty archive");
		return 0;
	}
	if (f != NULL && !word_in_list(lim->formats, hint)) {
		snprintf(detail, sizeof detail,
		    "%s archives are not enabled by the policy", hint);
		arc_event(&w, ARC_EV_UNREADABLE, NULL, detail);
		return 0;
	}
	/*
	 * libarchive converts names (7-Zip's UTF-16, charset-flagged ZIP
	 * names) through the locale's charset; in the C locale a non-ASCII
	 * name is lost. Switch this thread, and only it, to C.UTF-8 for the
	 * walk unless it already uses UTF-8.
	 */
	if (strcmp(nl_langinfo(CODESET), "UTF-8") != 0) {
		w.loc = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
		if (w.loc != (locale_t)0)
			w.prev_loc = uselocale(w.loc);
	}
	if (f != NULL && strcmp(f->word, "zip") == 0) {
		zip_inspect(&w);
		views = zip_views_build(&w, &zv);
		if (views)
			zip_fn = w.zip_stream ?
			    archive_read_support_format_zip_streamable :
			    archive_read_support_format_zip_seekable;
	}
	w.a = archive_read_new();
	if (w.a == NULL)
		xpanic("archive_read_new: out of memory");
	if (arc_enable(w.a, lim->formats, f != NULL && f->filter,
	    zip_fn) == 0) {
		arc_event(&w, ARC_EV_UNREADABLE, NULL,
		    "no archive format enabled by the policy");
		goto out;
	}
	if (lim->passphrase != NULL &&
	    archive_read_add_passphrase(w.a, lim->passphrase) != ARCHIVE_OK)
		xpanic("archive_read_add_passphrase: out of memory");
	if (archive_read_open_memory(w.a, buf, len) != ARCHIVE_OK) {
		arc_error_event(&w, NULL);
		views = false;		/* unreadable: ClamAV gets it all */
		goto out;
	}
	while (!w.stop) {
		if (arc_timed_out(&w)) {
			arc_event(&w, ARC_EV_TIMEOUT, NULL,
			    "deadline passed while listing");
			w.stop = true;
			break;
		}
		r = archive_read_next_header(w.a, &ae);
		if (r == ARCHIVE_EOF)
			break;
		if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
			arc_error_event(&w, NULL);
			break;
		}
		if (walk_member(&w, ae, NULL, err) == -1) {
			w.passed = -1;
			goto out;
		}
	}
	if (views && !w.stop && zip_views_read(&w, &zv, err) == -1)
		w.passed = -1;
out:
	zip_views_free(&zv);
	walk_release(&w);
	return w.passed;
}

/* ---- passphrases ----------------------------------------------------- */

#define PW_SCRATCH	(64 * 1024)

static bool
pw_error_encrypted(struct archive *a)
{
	const char	*s = archive_error_string(a);

	return s != NULL && (strstr(s, "ncrypt") != NULL ||
	    strstr(s, "assphrase") != NULL || strstr(s, "assword") != NULL);
}

/*
 * One look at buf with at most one passphrase (NULL = none). Without one
 * it says whether anything is encrypted (*enc_r) and whether that is an
 * encryption the library cannot decrypt at all (*unsup_r: it reads the
 * first encrypted member's first block to find out); with one, whether
 * it opens: 1 opens, 0 does not (or nothing was encrypted).
 */
static int
pw_probe(const unsigned char *buf, size_t len, const struct arc_limits *lim,
    bool zip, const char *pass, uint64_t deadline_ms, bool *enc_r,
    bool *unsup_r)
{
	struct archive		*a;
	struct archive_entry	*ae;
	unsigned char		*scratch = NULL;
	unsigned		 n = 0;
	uint64_t		 got, mlim;
	int			 r, ret = 0;

	*enc_r = false;
	*unsup_r = false;
	if ((a = archive_read_new()) == NULL)
		xpanic("archive_read_new: out of memory");
	if ((zip ? archive_read_support_format_zip(a) :
	    archive_read_support_format_7zip(a)) != ARCHIVE_OK)
		goto out;
	if (pass != NULL && archive_read_add_passphrase(a, pass) != ARCHIVE_OK)
		xpanic("archive_read_add_passphrase: out of memory");
	if (archive_read_open_memory(a, buf, len) != ARCHIVE_OK) {
		*enc_r = pw_error_encrypted(a);
		*unsup_r = arc_unsupported_error(archive_error_string(a));
		goto out;
	}
	mlim = lim->member_size != 0 ? lim->member_size : UINT64_MAX;
	for (;;) {
		if (deadline_ms != 0 && clock_ms() >= deadline_ms)
			goto out;
		if (lim->entries != 0 && n++ >= lim->entries)
			goto out;
		r = archive_read_next_header(a, &ae);
		if (r == ARCHIVE_EOF) {
			/* with a passphrase, headers that read are enough
			 * when only the headers were encrypted */
			ret = pass != NULL;
			goto out;
		}
		if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
			*enc_r = pw_error_encrypted(a);
			*unsup_r = arc_unsupported_error(
			    archive_error_string(a));
			goto out;
		}
		if (archive_entry_is_encrypted(ae) == 0 ||
		    archive_entry_filetype(ae) != AE_IFREG)
			continue;
		if (pass == NULL) {
			unsigned char	probe[512];

			*enc_r = true;
			if (archive_read_data(a, probe, sizeof probe) < 0)
				*unsup_r = arc_unsupported_error(
				    archive_error_string(a));
			goto out;
		}
		/* the first encrypted member, read through: its check */
		if (scratch == NULL)
			scratch = xmalloc(PW_SCRATCH);
		for (got = 0;;) {
			la_ssize_t	k;

			if (deadline_ms != 0 && clock_ms() >= deadline_ms)
				goto out;
			k = archive_read_data(a, scratch, PW_SCRATCH);
			if (k < 0)
				goto out;
			if (k == 0)
				break;
			got += (uint64_t)k;
			if (got > mlim)
				break;	/* that far, it decrypts */
		}
		ret = 1;
		goto out;
	}
out:
	free(scratch);
	archive_read_free(a);
	return ret;
}

int
archive_find_passphrase(const unsigned char *buf, size_t len,
    const struct arc_limits *lim, const char *const *pw, size_t npw,
    unsigned max_attempts, uint64_t deadline_ms, unsigned *tried_r)
{
	const char	*hint = archive_format_hint(buf, len);
	locale_t	 loc = (locale_t)0, prev = (locale_t)0;
	bool		 zip, enc, unsup;
	size_t		 i;
	unsigned	 tried = 0;
	int		 ret = ARC_PW_PLAIN;

	if (tried_r != NULL)
		*tried_r = 0;
	zip = strcmp(hint, "zip") == 0;
	if ((!zip && strcmp(hint, "7z") != 0) ||
	    !word_in_list(lim->formats, hint))
		return ARC_PW_PLAIN;
	if (strcmp(nl_langinfo(CODESET), "UTF-8") != 0) {
		loc = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
		if (loc != (locale_t)0)
			prev = uselocale(loc);
	}
	(void)pw_probe(buf, len, lim, zip, NULL, deadline_ms, &enc, &unsup);
	if (!enc)
		goto out;
	ret = ARC_PW_UNSUPPORTED;
	if (unsup)
		goto out;
	ret = ARC_PW_NONE;
	for (i = 0; i < npw && tried < max_attempts; i++) {
		if (pw[i] == NULL || *pw[i] == '\0')
			continue;
		if (deadline_ms != 0 && clock_ms() >= deadline_ms)
			break;
		tried++;
		if (pw_probe(buf, len, lim, zip, pw[i], deadline_ms,
		    &enc, &unsup) == 1) {
			ret = (int)i;
			break;
		}
	}
out:
	if (loc != (locale_t)0) {
		uselocale(prev);
		freelocale(loc);
	}
	if (tried_r != NULL)
		*tried_r = tried;
	return ret;
}
