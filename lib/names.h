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
 * If any extension of the normalised name (every dot-separated suffix
 * part, and the part after an NTFS ':' stream) is in list, returns that
 * list entry (borrowed); else NULL.
 */
const char *name_blocked_ext(const char *normalised,
	    const struct strlist *list);

/* Display form for findings and logs: printable, bounded (caller frees). */
char	*name_display(const char *name);

#endif
