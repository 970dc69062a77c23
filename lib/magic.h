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
 *   script        "#!" interpreter line; with libmagic also shell, batch,
 *                 Perl, Python, Ruby, PHP, Tcl, JavaScript that libmagic
 *                 recognises, .reg files, and text carrying Windows Script
 *                 Host markers (WScript.Shell, ActiveXObject(...))
 *   shortcut      Windows .lnk shell link
 *   msi           Windows Installer package, patch or transform (OLE2)
 *   office-macro  Office document with macros: OLE2 with a VBA storage,
 *                 OOXML with vbaProject.bin or Excel 4 macro sheets,
 *                 OpenDocument with Basic/
 *   office        other Word/Excel/PowerPoint (OLE2 or OOXML), OpenDocument
 *   onenote       OneNote section (.one)
 *   ole           other OLE2 compound file (Outlook .msg, ...)
 *   pdf rtf       PDF ("%PDF-" in the first KiB), RTF ("{\rt")
 *   zip jar       ZIP; a ZIP with META-INF/MANIFEST.MF is jar
 *   7z rar tar gzip bzip2 xz lzma zstd cab iso cpio arj lzh xar ar
 *                 archives and compressors (iso includes UDF)
 *   chm           compiled HTML help
 *   disk-image    VHD, VHDX, DMG
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

#endif
