/*
 * lib/magic.h - the true type of a buffer, from its bytes.
 *
 * The only user of libmagic. Maps what the content really is to a short,
 * documented vocabulary the policy can name (policy/README.md lists it).
 * Built-in signatures decide first (they also work without libmagic);
 * libmagic, given at most the first 256 KiB, decides the rest.
 *
 *   exe-pe        Windows PE executable or DLL (MZ header with PE\0\0)
 *   exe-elf       ELF executable, shared object, object or core file
 *   exe-macho     Mach-O executable, including universal (fat) binaries
 *   exe-dos       MZ executable without a PE header (DOS, NE, LE)
 *   script        "#!" interpreter line, Script Encoder output (.vbe,
 *                 .jse), a registry file's first line, a WSH settings
 *                 file; with libmagic also shell, batch, Perl, Python,
 *                 Ruby, PHP, Tcl, JavaScript that libmagic recognises,
 *                 text carrying Windows Script Host markers
 *                 (WScript.Shell, ActiveXObject(...)), and HTML/XML with
 *                 <HTA:APPLICATION> or <job> around <script>
 *   shortcut      Windows .lnk shell link
 *   msi           Windows Installer package, patch or transform (OLE2)
 *   office-macro  Office document with macros: OLE2 with a VBA storage,
 *                 OOXML with vbaProject.bin or Excel 4 macro sheets,
 *                 OpenDocument with Basic/
 *   office        other Word/Excel/PowerPoint (OLE2 or OOXML), OpenDocument
 *   onenote       OneNote section (.one)
 *   ole           other OLE2 compound file (Outlook .msg, ...)
 *   pdf rtf       PDF ("%PDF-" in the first KiB), RTF ("{\rt")
 *   zip jar       ZIP; a ZIP with META-INF/MANIFEST.MF or a .class
 *                 member is jar (even if it also looks like OOXML)
 *   7z rar tar gzip bzip2 xz lzma zstd cab iso cpio arj lzh xar ar
 *                 archives and compressors (iso includes UDF)
 *   chm           compiled HTML help (ITSF, version 2 or 3)
 *   swf           Flash movie (FWS, CWS or ZWS with a plausible header)
 *   disk-image    virtual hard disk Windows mounts: VHD, VHDX
 *   dmg           Apple disk image
 *   image svg     raster images; SVG (it can carry script)
 *   audio video   what libmagic calls audio/... and video/...
 *   html email    HTML/XHTML; a mail message (message/rfc822)
 *   text calendar xml   other text; iCalendar; XML
 *   data          unknown
 *
 * Words that only libmagic gives (lzma, video, html, text, ...) need a
 * typer; with t == NULL they come back as "data".
 *
 * struct typer is created once per process and shared by all threads:
 * typer_detect() is thread-safe (it lends one of a pool of libmagic
 * handles, one per CPU, under a mutex). typer_new() returns it,
 * typer_free() releases it.
 */
#ifndef PORTCULLIS_MAGIC_H
#define PORTCULLIS_MAGIC_H

#include <stdbool.h>
#include <stddef.h>

#include "err.h"

struct typer;

/* 0 = *typer_r is the caller's (typer_free); -1 = libmagic could not
 * load its database, see err. */
int	typer_new(struct typer **typer_r, struct err *err)
	    __attribute__((warn_unused_result));
/* Accepts NULL and *tp == NULL; sets *tp to NULL. No detect may run. */
void	typer_free(struct typer **tp);

/*
 * Returns the vocabulary word for buf (borrowed for the call; a static
 * string, never NULL). When desc is not NULL, also writes a description
 * there, NUL-terminated and cut to desclen: libmagic's, or with t == NULL
 * the built-in signature's name (for --explain; it costs a second
 * libmagic pass). t may be NULL: then only the built-in signatures are
 * used. Thread-safe.
 */
const char *typer_detect(struct typer *t, const unsigned char *buf,
	    size_t len, char *desc, size_t desclen);

/* True for the words archive.c can open: zip jar 7z rar tar gzip bzip2 xz
 * lzma zstd cab iso cpio lzh xar ar. Note that the policy's format word
 * for lzh is "lha" and a jar is a zip: archive_format_hint() gives the
 * format word. OOXML (office) is a zip too but is not counted here. */
bool	truetype_is_archive(const char *word);
/* True for every word in the vocabulary (policy validation). */
bool	truetype_known(const char *word);
/*
 * The true types content meant for *.ext has when the typer recognises it
 * (ext: no dot, any case): a static NULL-terminated list, or NULL when
 * the extension is not known or has no type of its own (dot, pot: office
 * like every .doc; eml: email like every forwarded message; shs). Feeds
 * the check of blocked_types against blocked_extensions.
 */
const char *const *truetype_of_extension(const char *ext);
/*
 * The words some extension in exts[0..nexts) has (above) that are not in
 * types[0..ntypes), each once, in the order met: the first ngaps go to
 * gaps_r (static strings). Returns how many there are (may exceed ngaps).
 */
size_t	truetype_gaps(char *const *exts, size_t nexts, char *const *types,
	    size_t ntypes, const char **gaps_r, size_t ngaps);

#endif
