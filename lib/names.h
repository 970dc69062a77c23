/*
 * lib/names.h - file names: normalisation and extension matching.
 *
 * A name from a message (RFC 2047/2231 already decoded to UTF-8) is
 * normalised before any rule sees it: path components dropped, NTFS stream
 * suffixes split off, Unicode bidirectional and zero-width characters
 * removed, trailing dots and spaces trimmed, lower case. Every
 * dot-separated extension then counts.
 * Pure functions; thread-safe.
 */
#ifndef PORTCULLIS_NAMES_H
#define PORTCULLIS_NAMES_H

#include <stdbool.h>
#include <stddef.h>

#include "policy.h"

/* Normalised copy of name (caller frees). *tricks_r (may be NULL) is set
 * when the name carried bidi/zero-width controls or an NTFS stream. */
char	*name_normalise(const char *name, bool *tricks_r);

/*
 * If the last extension of the normalised name, or of any of its NTFS
 * ':' stream segments, is in list, returns that list entry (borrowed);
 * else NULL. A blocked extension that is not the last one (a.exe.txt) is
 * returned in *inner_r (may be NULL) so that the caller checks the true
 * type.
 */
const char *name_blocked_ext(const char *normalised,
	    const struct strlist *list, const char **inner_r);

/* Display form for findings and logs: printable, bounded (caller frees). */
char	*name_display(const char *name);

#endif
