/*
 * lib/textenc.h - files hidden in text: uuencode, BinHex 4.0 and yEnc
 * blocks inside a text body, decoded so that the attachment rules and the
 * virus scanner see them like any attachment.
 *
 * Pure and reentrant. Decoded files are handed to the callback, which takes
 * ownership of the data (free()). Bounded: at most max_blocks files and
 * max_out bytes each; a block cut at max_out is reported with truncated set.
 */
#ifndef PORTCULLIS_TEXTENC_H
#define PORTCULLIS_TEXTENC_H

#include <stdbool.h>
#include <stddef.h>

/* kind: "uuencode", "binhex" or "yenc"; name may be NULL. */
typedef void (*textenc_fn)(void *ctx, const char *kind, const char *name,
    unsigned char *data, size_t len, bool truncated);

/* True if text may hold such a block (a cheap test before extracting). */
bool	textenc_present(const unsigned char *p, size_t n);

void	textenc_extract(const unsigned char *p, size_t n, size_t max_out,
	    unsigned max_blocks, textenc_fn fn, void *ctx);

#endif
