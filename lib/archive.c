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

/* Reports libarchive's current error as a finding. */
static void
arc_error_event(struct walk *w, const char *name)
{
	const char	*s = archive_error_string(w->a);

	if (s == NULL || *s == '\0')
		s = "unreadable archive";
	if (strstr(s, "ncrypt") != NULL || strstr(s, "assphrase") != NULL ||
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
 * policy allows. Returns how many were enabled. */
static unsigned
arc_enable(struct archive *a, const char *formats, bool compressed)
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

int
archive_walk(const unsigned char *buf, size_t len,
    const struct arc_limits *lim, const struct arc_ops *ops, void *ctx,
    struct err *err)
{
	struct walk		 w;
	struct archive_entry	*ae;
	const char		*hint = archive_format_hint(buf, len);
	const struct arc_format	*f = arc_format_find(hint);
	unsigned		 nentries = 0;
	int			 passed = 0, r;
	char			 detail[96];

	if (lim == NULL || ops == NULL || ops->entry == NULL)
		xpanic("archive_walk: no limits or callbacks");
	memset(&w, 0, sizeof w);
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
	w.a = archive_read_new();
	if (w.a == NULL)
		xpanic("archive_read_new: out of memory");
	if (arc_enable(w.a, lim->formats, f != NULL && f->filter) == 0) {
		arc_event(&w, ARC_EV_UNREADABLE, NULL,
		    "no archive format enabled by the policy");
		goto out;
	}
	if (f != NULL && strcmp(f->word, "zip") == 0)
		zip_inspect(&w);
	if (archive_read_open_memory(w.a, buf, len) != ARCHIVE_OK) {
		arc_error_event(&w, NULL);
		goto out;
	}
	while (!w.stop) {
		struct arc_entry	 e;
		const char		*name;
		unsigned char		*data;

		if (arc_timed_out(&w)) {
			arc_event(&w, ARC_EV_TIMEOUT, NULL,
			    "deadline passed while listing");
			break;
		}
		r = archive_read_next_header(w.a, &ae);
		if (r == ARCHIVE_EOF)
			break;
		if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
			arc_error_event(&w, NULL);
			break;
		}
		if (lim->entries != 0 && ++nentries > lim->entries) {
			snprintf(detail, sizeof detail,
			    "more than %u entries", lim->entries);
			arc_event(&w, ARC_EV_ENTRIES, NULL, detail);
			break;
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
		if (w.nmism != 0)
			e.alt_name = zip_alt_name(&w, e.name);
		if (!e.is_dir && names_seen(&w, e.name))
			arc_event(&w, ARC_EV_ANOMALY, e.name,
			    "duplicate member name");
		data = NULL;
		if (archive_entry_filetype(ae) == AE_IFREG && !e.encrypted)
			data = arc_read_member(&w, &e);
		r = ops->entry(ctx, &e, err);
		free(data);
		if (r == -1) {
			passed = -1;
			goto out;
		}
		passed++;
	}
out:
	walk_release(&w);
	return passed;
}
