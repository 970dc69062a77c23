/*
 * lib/magic.c - true type detection (see magic.h).
 *
 * Built-in signatures first: they are exact for the types the policy
 * blocks most, cost nanoseconds, and look where libmagic does not (the
 * member names inside a ZIP for OOXML macros, the OLE2 directory for VBA
 * storages and the MSI class id). libmagic decides the rest from at most
 * TYPER_MAGIC_MAX bytes. A magic_t is not thread-safe, so struct typer
 * keeps a small pool of handles, all loaded in typer_new(), and lends one
 * per call under a mutex.
 */
#include "config.h"

#include <assert.h>
#include <ctype.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <magic.h>	/* libmagic's; ours is found by -iquote only */

#include "magic.h"
#include "util.h"

#define TYPER_MAGIC_MAX	(256 * 1024)	/* bytes libmagic may look at */
#define TYPER_POOL_MAX	16		/* handles at most */
#define TYPER_FLAGS	(MAGIC_MIME_TYPE | MAGIC_NO_CHECK_COMPRESS)
#define ZIP_MAX_NAMES	4096		/* zip members looked at */
#define ZIP_LOCAL_HDR	30		/* fixed part of a local file header */
#define OLE_MAX_SECTORS	512		/* directory sectors followed */
#define TEXT_SCAN_MAX	(64 * 1024)	/* bytes searched for WSH markers */
#define SWF_LEN_MAX	0x20000000U	/* 512 MiB: no Flash is that big */

struct typer {
	pthread_mutex_t	 mu;
	pthread_cond_t	 cv;
	unsigned	 n;		/* handles in the pool */
	unsigned	 nfree;
	magic_t		 h[TYPER_POOL_MAX];
	bool		 busy[TYPER_POOL_MAX];
};

/* The vocabulary; keep in step with magic.h and policy/README.md. */
static const char *const vocabulary[] = {
	"exe-pe", "exe-elf", "exe-macho", "exe-dos", "script", "shortcut",
	"msi", "office-macro", "office", "onenote", "ole", "pdf", "rtf",
	"zip", "jar", "7z", "rar", "tar", "gzip", "bzip2", "xz", "lzma", "zstd",
	"cab", "iso", "cpio", "arj", "lzh", "xar", "ar", "chm", "swf",
	"disk-image", "dmg", "image", "svg", "audio", "video", "html", "email",
	"text", "calendar", "xml", "data", NULL
};

/* Words archive.c opens (type word, not policy format word: lzh is the
 * "lha" format, jar is a zip). */
static const char *const archive_words[] = {
	"zip", "jar", "7z", "rar", "tar", "gzip", "bzip2", "xz", "lzma", "zstd",
	"cab", "iso", "cpio", "lzh", "xar", "ar", NULL
};

/* libmagic MIME type -> word. A pattern ending in '*' is a prefix. */
static const struct {
	const char	*mime;
	const char	*word;
} mime_map[] = {
	{ "application/vnd.microsoft.portable-executable", "exe-pe" },
	{ "application/x-msdownload", "exe-pe" },
	{ "application/x-dosexec", "exe-dos" },
	{ "application/x-executable", "exe-elf" },
	{ "application/x-pie-executable", "exe-elf" },
	{ "application/x-sharedlib", "exe-elf" },
	{ "application/x-object", "exe-elf" },
	{ "application/x-coredump", "exe-elf" },
	{ "application/x-mach-binary", "exe-macho" },
	{ "text/x-shellscript", "script" },
	{ "text/x-msdos-batch", "script" },
	{ "text/x-ms-regedit", "script" },
	{ "text/x-perl", "script" },
	{ "text/x-python", "script" },
	{ "text/x-script.python", "script" },
	{ "text/x-ruby", "script" },
	{ "text/x-php", "script" },
	{ "text/x-tcl", "script" },
	{ "text/x-awk", "script" },
	{ "text/x-lua", "script" },
	{ "text/javascript", "script" },
	{ "application/javascript", "script" },
	{ "application/x-ms-shortcut", "shortcut" },
	{ "application/x-msi", "msi" },
	{ "application/x-ole-storage", "ole" },
	{ "application/CDFV2", "ole" },
	{ "application/msword", "office" },
	{ "application/vnd.ms-*", "office" },
	{ "application/vnd.openxmlformats-officedocument.*", "office" },
	{ "application/vnd.oasis.opendocument.*", "office" },
	{ "application/pdf", "pdf" },
	{ "text/rtf", "rtf" },
	{ "application/rtf", "rtf" },
	{ "application/zip", "zip" },
	{ "application/java-archive", "jar" },
	{ "application/x-java-archive", "jar" },
	{ "application/x-7z-compressed", "7z" },
	{ "application/vnd.rar", "rar" },
	{ "application/x-rar*", "rar" },
	{ "application/x-tar", "tar" },
	{ "application/x-gtar", "tar" },
	{ "application/gzip", "gzip" },
	{ "application/x-gzip", "gzip" },
	{ "application/x-bzip2", "bzip2" },
	{ "application/x-xz", "xz" },
	{ "application/x-lzma", "lzma" },
	{ "application/zstd", "zstd" },
	{ "application/x-zstd", "zstd" },
	{ "application/x-iso9660-image", "iso" },
	{ "application/x-cpio", "cpio" },
	{ "application/x-arj", "arj" },
	{ "application/x-lzh-compressed", "lzh" },
	{ "application/x-lha", "lzh" },
	{ "application/x-lharc", "lzh" },
	{ "application/x-xar", "xar" },
	{ "application/x-archive", "ar" },
	{ "application/x-chm", "chm" },
	{ "application/x-shockwave-flash", "swf" },
	{ "application/vnd.adobe.flash.movie", "swf" },
	{ "application/x-apple-diskimage", "dmg" },
	{ "image/svg+xml", "svg" },
	{ "image/*", "image" },
	{ "audio/*", "audio" },
	{ "video/*", "video" },
	{ "text/html", "html" },
	{ "application/xhtml+xml", "html" },
	{ "message/rfc822", "email" },
	{ "message/news", "email" },
	{ "text/calendar", "calendar" },
	{ "text/xml", "xml" },
	{ "application/xml", "xml" },
	{ "application/json", "text" },
	{ "text/*", "text" },
};

/*
 * libmagic names these Microsoft types application/vnd.ms-*, but they are
 * not documents: check them before the office prefix.
 */
static const struct {
	const char	*mime;
	const char	*word;
} mime_exact_first[] = {
	{ "application/vnd.ms-cab-compressed", "cab" },
	{ "application/vnd.ms-htmlhelp", "chm" },
	{ "application/vnd.ms-tnef", "data" },
};

/*
 * File extensions and the true types their content has when the typer
 * recognises it: the one table both the default [attachments]
 * blocked_types (a unit test holds it to this) and "portcullis check"
 * (which warns about a blocked extension whose type is not blocked) read.
 * No words: the content has no type of its own that could be blocked
 * without blocking ordinary mail, or none the typer can see.
 */
static const struct {
	const char	*ext;
	const char	*words[3];	/* NULL-terminated */
} ext_types[] = {
	{ "exe", { "exe-pe", "exe-dos" } },
	{ "com", { "exe-dos", "exe-pe" } },	/* DOS .com: no header */
	{ "pif", { "exe-pe", "exe-dos" } },	/* run by content */
	{ "scr", { "exe-pe" } },
	{ "cpl", { "exe-pe" } },
	{ "dll", { "exe-pe" } },
	{ "bat", { "script" } },		/* libmagic's heuristics */
	{ "cmd", { "script" } },
	{ "vbs", { "script" } },		/* WSH markers only */
	{ "js", { "script" } },			/* libmagic, markers */
	{ "vbe", { "script" } },		/* Script Encoder: exact */
	{ "jse", { "script" } },
	{ "wsf", { "script" } },		/* <job> with <script> */
	{ "wsh", { "script" } },		/* [ScriptFile]: exact */
	{ "hta", { "script" } },		/* <HTA:APPLICATION> */
	{ "ps1", { "script" } },		/* only with "#!" or markers */
	{ "reg", { "script" } },		/* first line: exact */
	{ "lnk", { "shortcut" } },
	{ "msi", { "msi" } },
	{ "msp", { "msi" } },
	{ "mst", { "msi" } },
	{ "jar", { "jar" } },
	{ "chm", { "chm" } },
	{ "swf", { "swf" } },
	{ "iso", { "iso" } },
	{ "img", { "iso" } },	/* Windows mounts only ISO/UDF .img */
	{ "vhd", { "disk-image" } },
	{ "vhdx", { "disk-image" } },
	{ "dmg", { "dmg" } },
	{ "one", { "onenote" } },
	/* templates are office (or office-macro): the type of every .doc */
	{ "dot", { NULL } },
	{ "pot", { NULL } },
	/* a message is read as one, its parts judged; the type "email" is
	 * also every forwarded message and bounce */
	{ "eml", { NULL } },
	/* shell scrap: OLE2 like Outlook's .msg; no Windows since Vista
	 * opens it */
	{ "shs", { NULL } },
};

const char *const *
truetype_of_extension(const char *ext)
{
	size_t	i;

	if (ext == NULL)
		return NULL;
	for (i = 0; i < sizeof ext_types / sizeof ext_types[0]; i++)
		if (strcasecmp(ext_types[i].ext, ext) == 0)
			return ext_types[i].words[0] != NULL ?
			    ext_types[i].words : NULL;
	return NULL;
}

static bool
in_list(const char *w, char *const *v, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++)
		if (strcmp(v[i], w) == 0)
			return true;
	return false;
}

size_t
truetype_gaps(char *const *exts, size_t nexts, char *const *types,
    size_t ntypes, const char **gaps_r, size_t ngaps)
{
	const char *const	*w;
	const char		*seen[sizeof vocabulary /
				    sizeof vocabulary[0]];
	size_t			 i, k, n = 0;

	for (i = 0; i < nexts; i++) {
		if ((w = truetype_of_extension(exts[i])) == NULL)
			continue;
		for (; *w != NULL; w++) {
			if (in_list(*w, types, ntypes))
				continue;
			for (k = 0; k < n; k++)
				if (strcmp(seen[k], *w) == 0)
					break;
			if (k < n)
				continue;
			assert(n < sizeof seen / sizeof seen[0]);
			seen[n] = *w;	/* table words: in vocabulary */
			if (n < ngaps)
				gaps_r[n] = *w;
			n++;
		}
	}
	return n;
}

static bool
word_in(const char *w, const char *const *list)
{
	size_t	i;

	if (w == NULL)
		return false;
	for (i = 0; list[i] != NULL; i++)
		if (strcmp(list[i], w) == 0)
			return true;
	return false;
}

bool
truetype_known(const char *word)
{
	return word_in(word, vocabulary);
}

bool
truetype_is_archive(const char *word)
{
	return word_in(word, archive_words);
}

static bool
prefix_ci(const unsigned char *p, size_t n, const char *s)
{
	size_t	l = strlen(s);

	return n >= l && strncasecmp((const char *)p, s, l) == 0;
}

/*
 * ZIP members: a Java manifest or a class file makes a jar, whatever else
 * the zip holds (Java runs it under any name; OOXML and OpenDocument carry
 * neither: ODF's manifest is META-INF/manifest.xml); OOXML and OpenDocument
 * are office (office-macro with a VBA project or Excel 4 macro sheets). Reads
 * the central directory when the end record is there, else walks the
 * local headers; at most ZIP_MAX_NAMES names either way.
 */
struct zip_seen {
	bool	content_types, ooxml_part, vba, odf, odf_basic, manifest;
	bool	class;
};

static void
zip_note(struct zip_seen *z, const unsigned char *n, size_t nl)
{
	if (nl == 19 && memcmp(n, "[Content_Types].xml", 19) == 0)
		z->content_types = true;
	if (prefix_ci(n, nl, "word/") || prefix_ci(n, nl, "xl/") ||
	    prefix_ci(n, nl, "ppt/") || prefix_ci(n, nl, "visio/"))
		z->ooxml_part = true;
	if (nl >= 14 && strncasecmp((const char *)n + nl - 14,
	    "vbaProject.bin", 14) == 0)
		z->vba = true;
	if (prefix_ci(n, nl, "xl/macrosheets/"))
		z->vba = true;
	if (nl == 8 && memcmp(n, "mimetype", 8) == 0)
		z->odf = true;
	if (prefix_ci(n, nl, "Basic/"))
		z->odf_basic = true;
	if (nl == 20 && strncasecmp((const char *)n, "META-INF/MANIFEST.MF",
	    20) == 0)
		z->manifest = true;
	if (nl > 6 && memcmp(n + nl - 6, ".class", 6) == 0)
		z->class = true;
}

static const char *
zip_classify(const unsigned char *b, size_t len)
{
	struct zip_seen	z;
	size_t		eocd = 0, p, lo, i;
	bool		found = false;

	memset(&z, 0, sizeof z);
	if (len >= 22) {
		lo = len - 22 > 65535 ? len - 22 - 65535 : 0;
		for (p = len - 22;; p--) {
			if (memcmp(b + p, "PK\005\006", 4) == 0) {
				eocd = p;
				found = true;
				break;
			}
			if (p == lo)
				break;
		}
	}
	if (found && le32(b + eocd + 16) <= eocd) {
		p = le32(b + eocd + 16);
		for (i = 0; i < ZIP_MAX_NAMES; i++) {
			size_t nl;

			if (eocd - p < 46 || memcmp(b + p, "PK\001\002", 4))
				break;
			nl = le16(b + p + 28);
			if (eocd - p - 46 < nl)
				break;
			zip_note(&z, b + p + 46, nl);
			p += 46 + nl + le16(b + p + 30) + le16(b + p + 32);
			if (p > eocd)
				break;
		}
	} else {
		/* no usable central directory: follow the local headers
		 * (those without a data descriptor) */
		p = 0;
		for (i = 0; i < ZIP_MAX_NAMES; i++) {
			size_t nl, xl, csz;

			if (len - p < 30 || memcmp(b + p, "PK\003\004", 4))
				break;
			nl = le16(b + p + 26);
			xl = le16(b + p + 28);
			csz = le32(b + p + 18);
			if (len - p - 30 < nl)
				break;
			zip_note(&z, b + p + 30, nl);
			if (le16(b + p + 6) & 0x08)
				break;
			if (len - p - 30 - nl < xl ||
			    len - p - 30 - nl - xl < csz)
				break;
			p += 30 + nl + xl + csz;
		}
	}
	if (z.manifest || z.class)
		return "jar";
	if (z.content_types && z.ooxml_part)
		return z.vba ? "office-macro" : "office";
	if (z.odf)
		return z.odf_basic ? "office-macro" : "office";
	return "zip";
}

/*
 * OLE2 compound file: follow the directory chain through the FAT sectors
 * listed in the header (enough for files up to about 7 MB with 512-byte
 * sectors; bigger ones stop early) and classify by the storage names and
 * the root class id.
 */
static const unsigned char msi_clsid[3][16] = {
	/* {000C1084-...-46} package, {000C1086} patch, {000C1082} transform */
	{ 0x84, 0x10, 0x0c, 0x00, 0, 0, 0, 0, 0xc0, 0, 0, 0, 0, 0, 0, 0x46 },
	{ 0x86, 0x10, 0x0c, 0x00, 0, 0, 0, 0, 0xc0, 0, 0, 0, 0, 0, 0, 0x46 },
	{ 0x82, 0x10, 0x0c, 0x00, 0, 0, 0, 0, 0xc0, 0, 0, 0, 0, 0, 0, 0x46 },
};

static bool
ole_name_is(const unsigned char *ent, const char *s)
{
	size_t	l = strlen(s), nl = le16(ent + 0x40), i;

	if (nl != (l + 1) * 2 || nl > 64)
		return false;
	for (i = 0; i < l; i++)
		if (ent[2 * i] != (unsigned char)s[i] || ent[2 * i + 1] != 0)
			return false;
	return true;
}

static const char *
ole_classify(const unsigned char *b, size_t len)
{
	unsigned	shift, k, i;
	size_t		ssz, per;
	uint32_t	sec;
	bool		doc = false, macro = false, root = true;

	if (len < 512)		/* the header itself is 512 bytes */
		return "ole";
	shift = le16(b + 0x1e);
	sec = le32(b + 0x30);
	if (shift != 9 && shift != 12)
		return "ole";
	ssz = (size_t)1 << shift;
	per = ssz / 4;
	for (k = 0; k < OLE_MAX_SECTORS && sec < 0xfffffffaU; k++) {
		size_t		off = ((size_t)sec + 1) << shift;
		uint32_t	fsec;

		if ((size_t)sec + 1 > SIZE_MAX >> shift || off > len ||
		    len - off < ssz)
			break;
		for (i = 0; i < ssz / 128; i++) {
			const unsigned char *ent = b + off + i * 128;

			if (root && ent[0x42] == 5) {
				unsigned j;

				for (j = 0; j < 3; j++)
					if (memcmp(ent + 0x50, msi_clsid[j],
					    16) == 0)
						return "msi";
			}
			root = false;
			if (ole_name_is(ent, "WordDocument") ||
			    ole_name_is(ent, "Workbook") ||
			    ole_name_is(ent, "Book") ||
			    ole_name_is(ent, "PowerPoint Document"))
				doc = true;
			if (ole_name_is(ent, "_VBA_PROJECT_CUR") ||
			    ole_name_is(ent, "_VBA_PROJECT") ||
			    ole_name_is(ent, "VBA") ||
			    ole_name_is(ent, "Macros"))
				macro = true;
		}
		/* next directory sector: FAT entry sec */
		if (sec / per >= 109)
			break;
		fsec = le32(b + 0x4c + 4 * (sec / per));
		if (fsec >= 0xfffffffaU || (size_t)fsec + 1 > SIZE_MAX >> shift)
			break;
		off = ((size_t)fsec + 1) << shift;
		if (off > len || len - off < ssz)
			break;
		sec = le32(b + off + 4 * (sec % per));
	}
	if (macro)
		return "office-macro";
	if (doc)
		return "office";
	return "ole";
}

static const unsigned char lnk_header[20] = {
	0x4c, 0, 0, 0, 0x01, 0x14, 0x02, 0, 0, 0, 0, 0, 0xc0, 0, 0, 0,
	0, 0, 0, 0x46
};
static const unsigned char onenote_guid[16] = {
	0xe4, 0x52, 0x5c, 0x7b, 0x8c, 0xd8, 0xa7, 0x4d, 0xae, 0xb1, 0x53,
	0x78, 0xd0, 0x29, 0x96, 0xd3
};

static bool
pdf_header(const unsigned char *b, size_t len)
{
	/* readers accept junk before the header; so do we (first 1 KiB) */
	size_t	n = len < 1024 ? len : 1024;

	return n >= 5 && memmem(b, n, "%PDF-", 5) != NULL;
}

static bool
has_ci(const unsigned char *b, size_t n, const char *w)
{
	size_t	i, wl = strlen(w);

	for (i = 0; i + wl <= n; i++)
		if ((b[i] | 0x20) == (w[0] | 0x20) &&
		    strncasecmp((const char *)b + i, w, wl) == 0)
			return true;
	return false;
}

/*
 * Flash: "FWS" (plain), "CWS" (zlib) or "ZWS" (LZMA), a version byte and
 * the length once inflated. Three letters would match text, so the rest
 * must fit: a plain movie is no longer than its file, a compressed one
 * says less than SWF_LEN_MAX (four printable bytes are more) and starts
 * its body with a zlib header or LZMA properties.
 */
static bool
swf_header(const unsigned char *b, size_t len)
{
	uint32_t	ulen;

	if (len < 17 || b[1] != 'W' || b[2] != 'S' || b[3] == 0 || b[3] > 64)
		return false;
	ulen = le32(b + 4);
	if (ulen < 8)
		return false;
	switch (b[0]) {
	case 'F':
		return ulen <= len;
	case 'C':
		return ulen < SWF_LEN_MAX && (b[8] & 0x0f) == 8 &&
		    ((unsigned)b[8] << 8 | b[9]) % 31 == 0;
	case 'Z':
		return ulen < SWF_LEN_MAX && le32(b + 8) <= len - 17 &&
		    b[12] < 225;
	}
	return false;
}

/* ASCII s, case-insensitive, at b as UTF-16LE. */
static bool
utf16le_ci(const unsigned char *b, size_t len, const char *s)
{
	size_t	i, l = strlen(s);

	if (len / 2 < l)
		return false;
	for (i = 0; i < l; i++)
		if (b[2 * i + 1] != 0 || tolower(b[2 * i]) !=
		    tolower((unsigned char)s[i]))
			return false;
	return true;
}

/*
 * Text that Windows runs, recognised by a frame it cannot do without:
 * Script Encoder output (.vbe, .jse: "#@~^", six base64 characters of
 * length, "==", ..., "^#~@"), a registry file's first line (regedit
 * refuses a file without it; ASCII, UTF-8 or UTF-16LE as regedit writes
 * them) and a WSH settings file (.wsh: a [ScriptFile] section and its
 * Path). Other scripts have no such frame: see text_detect() and
 * script_markup().
 */
static bool
script_header(const unsigned char *b, size_t len)
{
	size_t			 n = len < TEXT_SCAN_MAX ? len :
				    TEXT_SCAN_MAX;
	const unsigned char	*p = b, *q;
	size_t			 left = n, i;

	while (left >= 12 && (q = memmem(p, left - 11, "#@~^", 4)) != NULL) {
		for (i = 4; i < 10; i++)
			if (!isalnum(q[i]) && q[i] != '+' && q[i] != '/')
				break;
		if (i == 10 && q[10] == '=' && q[11] == '=' &&
		    memmem(q + 12, n - (size_t)(q + 12 - b), "^#~@", 4) != NULL)
			return true;
		left = n - (size_t)(q + 1 - b);
		p = q + 1;
	}
	if (has_at(b, n, 0, "\xff\xfe", 2))
		return utf16le_ci(b + 2, n - 2, "Windows Registry Editor") ||
		    utf16le_ci(b + 2, n - 2, "REGEDIT4");
	if (has_at(b, n, 0, "\xef\xbb\xbf", 3)) {
		b += 3;
		n -= 3;
	}
	if (prefix_ci(b, n, "Windows Registry Editor Version ") ||
	    prefix_ci(b, n, "REGEDIT4"))
		return true;
	for (i = 0; i < n && isspace(b[i]); i++)
		;
	return prefix_ci(b + i, n - i, "[ScriptFile]") &&
	    has_ci(b, n < 4096 ? n : 4096, "\npath=");
}

/* The built-in signatures; NULL when none matched. */
static const char *
builtin_detect(const unsigned char *b, size_t len, const char **what_r)
{
	*what_r = NULL;
	if (has_at(b, len, 0, "MZ", 2)) {
		uint32_t pe = len >= 0x40 ? le32(b + 0x3c) : UINT32_MAX;

		if (pe < len && has_at(b, len, pe, "PE\0\0", 4)) {
			*what_r = "PE executable";
			return "exe-pe";
		}
		*what_r = "MZ executable";
		return "exe-dos";
	}
	if (has_at(b, len, 0, "\177ELF", 4)) {
		*what_r = "ELF executable";
		return "exe-elf";
	}
	if (len >= 8) {
		uint32_t m = be32(b);

		if (m == 0xfeedface || m == 0xfeedfacf || m == 0xcefaedfe ||
		    m == 0xcffaedfe) {
			*what_r = "Mach-O executable";
			return "exe-macho";
		}
		/* fat Mach-O; Java class files share the magic but carry a
		 * version >= 45 where the architecture count is */
		if ((m == 0xcafebabe || m == 0xcafebabf) && be32(b + 4) != 0 &&
		    be32(b + 4) < 45) {
			*what_r = "universal Mach-O executable";
			return "exe-macho";
		}
	}
	if (has_at(b, len, 0, "PK\003\004", 4) && len < ZIP_LOCAL_HDR) {
		/* cut inside its first local header: no member fits, no
		 * reader opens anything (a cut attachment, not an archive) */
		*what_r = "ZIP fragment, too short to hold a file";
		return "data";
	}
	if (has_at(b, len, 0, "PK\003\004", 4) ||
	    has_at(b, len, 0, "PK\005\006", 4) ||
	    has_at(b, len, 0, "PK\007\010", 4)) {
		*what_r = "ZIP archive";
		return zip_classify(b, len);
	}
	if (has_at(b, len, 0, "\320\317\021\340\241\261\032\341", 8)) {
		*what_r = "OLE2 compound file";
		return ole_classify(b, len);
	}
	if (has_at(b, len, 0, lnk_header, sizeof lnk_header)) {
		*what_r = "Windows shortcut";
		return "shortcut";
	}
	if (has_at(b, len, 0, onenote_guid, sizeof onenote_guid)) {
		*what_r = "OneNote document";
		return "onenote";
	}
	if (has_at(b, len, 0, "#!", 2)) {
		*what_r = "script with interpreter line";
		return "script";
	}
	if (pdf_header(b, len)) {
		*what_r = "PDF document";
		return "pdf";
	}
	if (has_at(b, len, 0, "{\\rt", 4)) {	/* Word accepts "{\rt" */
		*what_r = "RTF document";
		return "rtf";
	}
	if (has_at(b, len, 0, "7z\274\257\047\034", 6)) {
		*what_r = "7-Zip archive";
		return "7z";
	}
	if (has_at(b, len, 0, "Rar!\032\007", 6)) {
		*what_r = "RAR archive";
		return "rar";
	}
	if (has_at(b, len, 0, "MSCF\0\0\0\0", 8)) {
		*what_r = "Microsoft cabinet";
		return "cab";
	}
	/* "ITSF" and version 2 or 3: four letters alone start text too */
	if (has_at(b, len, 0, "ITSF", 4) && len >= 0x58 &&
	    (le32(b + 4) == 2 || le32(b + 4) == 3)) {
		*what_r = "compiled HTML help";
		return "chm";
	}
	if (swf_header(b, len)) {
		*what_r = "Flash movie";
		return "swf";
	}
	if (has_at(b, len, 0x8001, "CD001", 5) ||
	    has_at(b, len, 0x8801, "CD001", 5) ||
	    has_at(b, len, 0x9001, "CD001", 5) ||
	    has_at(b, len, 0x8001, "BEA01", 5)) {
		*what_r = "ISO 9660 / UDF image";
		return "iso";
	}
	/* VHD: the footer ends the file (512 bytes; 511 from old Virtual
	 * PC), a dynamic disk copies it to the start; VHDX: file identifier */
	if (has_at(b, len, 0, "vhdxfile", 8) ||
	    has_at(b, len, 0, "conectix", 8) ||
	    (len >= 512 && has_at(b, len, len - 512, "conectix", 8)) ||
	    (len >= 511 && has_at(b, len, len - 511, "conectix", 8))) {
		*what_r = "virtual hard disk";
		return "disk-image";
	}
	if (len >= 512 && has_at(b, len, len - 512, "koly", 4) &&
	    be32(b + len - 508) == 4) {
		*what_r = "Apple disk image";
		return "dmg";
	}
	if (has_at(b, len, 257, "ustar", 5)) {
		*what_r = "tar archive";
		return "tar";
	}
	if ((has_at(b, len, 0, "07070", 5) && len > 5 &&
	    (b[5] == '1' || b[5] == '2' || b[5] == '7')) ||
	    (len >= 26 && ((b[0] == 0xc7 && b[1] == 0x71) ||
	    (b[0] == 0x71 && b[1] == 0xc7)))) {
		*what_r = "cpio archive";
		return "cpio";
	}
	if (has_at(b, len, 0, "\037\213", 2)) {
		*what_r = "gzip compressed";
		return "gzip";
	}
	if (has_at(b, len, 0, "BZh", 3) && len > 3 && b[3] >= '1' &&
	    b[3] <= '9') {
		*what_r = "bzip2 compressed";
		return "bzip2";
	}
	if (has_at(b, len, 0, "\3757zXZ\0", 6)) {
		*what_r = "xz compressed";
		return "xz";
	}
	if (has_at(b, len, 0, "\050\265\057\375", 4)) {
		*what_r = "zstd compressed";
		return "zstd";
	}
	if (has_at(b, len, 0, "\140\352", 2) && len >= 10 &&
	    le16(b + 2) >= 20 && le16(b + 2) <= 2600) {
		*what_r = "ARJ archive";
		return "arj";
	}
	if (has_at(b, len, 2, "-l", 2) && len > 6 && b[6] == '-' &&
	    (b[4] == 'h' || b[4] == 'z')) {
		*what_r = "LHA archive";
		return "lzh";
	}
	if (has_at(b, len, 0, "xar!", 4)) {
		*what_r = "xar archive";
		return "xar";
	}
	if (has_at(b, len, 0, "!<arch>\n", 8)) {
		*what_r = "ar archive";
		return "ar";
	}
	if (has_at(b, len, 0, "\211PNG\r\n\032\n", 8) ||
	    has_at(b, len, 0, "\377\330\377", 3) ||
	    has_at(b, len, 0, "GIF87a", 6) || has_at(b, len, 0, "GIF89a", 6)) {
		*what_r = "image";
		return "image";
	}
	if (script_header(b, len)) {
		*what_r = "Windows script, registry or WSH file";
		return "script";
	}
	return NULL;
}

static const char *
mime_to_word(const char *mime)
{
	size_t	i, l;

	if (mime == NULL)
		return "data";
	for (i = 0; i < sizeof mime_exact_first / sizeof mime_exact_first[0];
	    i++)
		if (strcmp(mime, mime_exact_first[i].mime) == 0)
			return mime_exact_first[i].word;
	for (i = 0; i < sizeof mime_map / sizeof mime_map[0]; i++) {
		l = strlen(mime_map[i].mime);
		if (mime_map[i].mime[l - 1] == '*') {
			if (strncmp(mime, mime_map[i].mime, l - 1) == 0)
				return mime_map[i].word;
		} else if (strcmp(mime, mime_map[i].mime) == 0)
			return mime_map[i].word;
	}
	return "data";
}

/*
 * Windows Script Host files (VBScript, JScript) look like plain text to
 * libmagic. These markers are specific to scripts that drive Windows.
 */
static bool
wsh_markers(const unsigned char *b, size_t len)
{
	static const char *const marks[] = {
		"wscript.shell", "wscript.createobject", "activexobject(",
		"createobject(\"wscript", "shell.application",
		"scripting.filesystemobject", NULL
	};
	size_t	n = len < TEXT_SCAN_MAX ? len : TEXT_SCAN_MAX, i, j;

	for (i = 0; i < n; i++) {
		for (j = 0; marks[j] != NULL; j++) {
			size_t ml = strlen(marks[j]);

			if ((b[i] | 0x20) == marks[j][0] && n - i >= ml &&
			    strncasecmp((const char *)b + i, marks[j], ml) == 0)
				return true;
		}
	}
	return false;
}

/*
 * Windows script markup in what libmagic calls HTML, XML or text: an HTML
 * Application declares itself with <HTA:APPLICATION>, a Windows Script
 * File puts its scripts in <job> elements. Both are optional in practice
 * (an HTA without the element is an HTML page with script; a .wsf without
 * <job> runs too), so this finds the usual files, not every one; ordinary
 * web pages carry neither element.
 */
static bool
tag_ci(const unsigned char *b, size_t n, const char *name)
{
	size_t	i, l = strlen(name);

	for (i = 0; i + l + 2 <= n; i++)
		if (b[i] == '<' && strncasecmp((const char *)b + i + 1, name,
		    l) == 0 && (b[i + l + 1] == '>' || isspace(b[i + l + 1])))
			return true;
	return false;
}

static bool
script_markup(const unsigned char *b, size_t len)
{
	size_t	n = len < TEXT_SCAN_MAX ? len : TEXT_SCAN_MAX;

	return tag_ci(b, n, "hta:application") || (tag_ci(b, n, "job") &&
	    tag_ci(b, n, "script"));
}

/*
 * Plain text is libmagic's slowest case (its soft magic runs regular
 * expressions over the buffer: about 1 ms for 2 KiB). Text that shows no
 * sign of code is placed here; anything with such a sign -- a line that
 * starts the way scripts start, or a marker of active content anywhere --
 * still goes to libmagic, which knows the script languages. NULL = ask
 * libmagic.
 */
static const char *
text_detect(const unsigned char *b, size_t len)
{
	static const char *const line_start[] = {
		"#!", "#include", "#define", "<?", "<%", "@", "::", "rem ",
		"echo ", "set ", "goto ", "call ", "if ", "for ", "regedit",
		"windows registry", "[hkey", "import ", "from ", "def ",
		"class ", "use ", "package ", "sub ", "my ", "function",
		"var ", "const ", "let ", "require", "module.", "export ",
		"$", "param", "dim ", "set-", "invoke-", "on error",
		"option explicit", "local ", "proc ", "begin", "end", "do ",
		"while ", "try", "else", "return", "public ", "private ",
		"static ", "#", "{", "}", "(", ")", "<", NULL
	};
	static const char *const anywhere[] = {
		"<script", "<svg", "wscript", "createobject", "activexobject",
		"powershell", "shell.application", "eval(", "exec(",
		"system(", "document.", "javascript:", "cmd.exe", "cmd /c",
		NULL
	};
	size_t	n = len < TEXT_SCAN_MAX ? len : TEXT_SCAN_MAX, i, j, odd = 0;
	bool	bol = true;

	/* "Name: value" or "From " first: a message, libmagic says which */
	for (i = 0; i < n && (isalnum(b[i]) || b[i] == '-'); i++)
		;
	if ((i > 0 && i < n && b[i] == ':') || (n >= 5 &&
	    memcmp(b, "From ", 5) == 0))
		return NULL;
	for (i = 0; i < n; i++) {
		unsigned char c = b[i];

		if (c == 0)
			return NULL;
		if (c < 0x20 && c != '\t' && c != '\n' && c != '\r' &&
		    c != '\f')
			odd++;
		if (c == '\n') {
			bol = true;
			continue;
		}
		if (!bol || c == ' ' || c == '\t' || c == '\r')
			continue;
		bol = false;
		for (j = 0; line_start[j] != NULL; j++) {
			size_t ml = strlen(line_start[j]);

			if (n - i >= ml && strncasecmp((const char *)b + i,
			    line_start[j], ml) == 0)
				return NULL;
		}
	}
	if (odd * 100 > n)		/* not text */
		return NULL;
	for (j = 0; anywhere[j] != NULL; j++)
		if (has_ci(b, n, anywhere[j]))
			return NULL;
	for (i = 0; i < n && (b[i] == ' ' || b[i] == '\t' || b[i] == '\r' ||
	    b[i] == '\n'); i++)
		;
	if (n - i >= 15 && strncmp((const char *)b + i, "BEGIN:VCALENDAR",
	    15) == 0)
		return "calendar";
	return "text";
}

static void
put_desc(char *desc, size_t desclen, const char *s)
{
	if (desc != NULL && desclen != 0)
		snprintf(desc, desclen, "%s", s != NULL ? s : "");
}

static magic_t
typer_take(struct typer *t, unsigned *slot_r)
{
	unsigned	i;

	pthread_mutex_lock(&t->mu);
	while (t->nfree == 0)
		pthread_cond_wait(&t->cv, &t->mu);
	for (i = 0; t->busy[i]; i++)
		;
	t->busy[i] = true;
	t->nfree--;
	pthread_mutex_unlock(&t->mu);
	*slot_r = i;
	return t->h[i];
}

static void
typer_give(struct typer *t, unsigned slot)
{
	pthread_mutex_lock(&t->mu);
	t->busy[slot] = false;
	t->nfree++;
	pthread_cond_signal(&t->cv);
	pthread_mutex_unlock(&t->mu);
}

const char *
typer_detect(struct typer *t, const unsigned char *buf, size_t len,
    char *desc, size_t desclen)
{
	const char	*word, *what, *mime;
	size_t		 n = len < TYPER_MAGIC_MAX ? len : TYPER_MAGIC_MAX;
	magic_t		 h;
	unsigned	 slot;

	put_desc(desc, desclen, "");
	if (buf == NULL || len == 0) {
		put_desc(desc, desclen, "empty");
		return "data";
	}
	word = builtin_detect(buf, len, &what);
	if (word == NULL && (desc == NULL || desclen == 0) &&
	    (word = text_detect(buf, len)) != NULL)
		what = "text without code";
	if (t == NULL || (word != NULL && (desc == NULL || desclen == 0))) {
		put_desc(desc, desclen, word != NULL ? what : "unknown");
		return word != NULL ? word : "data";
	}
	h = typer_take(t, &slot);
	if (word == NULL) {
		mime = magic_buffer(h, buf, n);
		word = mime_to_word(mime);
		if (strcmp(word, "text") == 0 && wsh_markers(buf, len))
			word = "script";
		else if ((strcmp(word, "text") == 0 ||
		    strcmp(word, "html") == 0 || strcmp(word, "xml") == 0) &&
		    script_markup(buf, len))
			word = "script";
	} else if (strcmp(word, "ole") == 0) {
		/* an OLE file our directory walk could not place (big, or
		 * an installer with another class id): ask libmagic */
		const char *w2 = mime_to_word(magic_buffer(h, buf, n));

		if (strcmp(w2, "msi") == 0 || strcmp(w2, "office") == 0)
			word = w2;
	}
	if (desc != NULL && desclen != 0) {
		const char *d;

		magic_setflags(h, MAGIC_NO_CHECK_COMPRESS);
		d = magic_buffer(h, buf, n);
		put_desc(desc, desclen, d != NULL ? d : magic_error(h));
		magic_setflags(h, TYPER_FLAGS);
	}
	typer_give(t, slot);
	return word;
}

int
typer_new(struct typer **typer_r, struct err *err)
{
	struct typer	*t;
	long		 ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	size_t		 bytes_max = TYPER_MAGIC_MAX;
	unsigned	 i;

	*typer_r = NULL;
	t = xcalloc(1, sizeof *t);
	t->n = ncpu < 2 ? 2 : ncpu > TYPER_POOL_MAX ? TYPER_POOL_MAX :
	    (unsigned)ncpu;
	pthread_mutex_init(&t->mu, NULL);
	pthread_cond_init(&t->cv, NULL);
	for (i = 0; i < t->n; i++) {
		t->h[i] = magic_open(TYPER_FLAGS);
		if (t->h[i] == NULL) {
			typer_free(&t);
			return err_set(err, "magic_open failed");
		}
		if (magic_load(t->h[i], NULL) == -1) {
			err_set(err, "magic_load: %s", magic_error(t->h[i]));
			typer_free(&t);
			return -1;
		}
		/* libmagic never sees more than this anyway; say so, so that
		 * its own bounds match ours */
		(void)magic_setparam(t->h[i], MAGIC_PARAM_BYTES_MAX,
		    &bytes_max);
		t->nfree++;
	}
	*typer_r = t;
	return 0;
}

void
typer_free(struct typer **tp)
{
	struct typer	*t;
	unsigned	 i;

	if (tp == NULL || *tp == NULL)
		return;
	t = *tp;
	for (i = 0; i < TYPER_POOL_MAX; i++)
		if (t->h[i] != NULL)
			magic_close(t->h[i]);
	pthread_cond_destroy(&t->cv);
	pthread_mutex_destroy(&t->mu);
	free(t);
	*tp = NULL;
}
