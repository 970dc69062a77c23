/*
 * milter/digest.h - SHA-256 of a message, the key of the poison list.
 * The only user of GLib's GChecksum (GLib comes with GMime). Pure, no
 * state; thread-safe.
 */
#ifndef PORTCULLIS_DIGEST_H
#define PORTCULLIS_DIGEST_H

#include <stddef.h>

#define DIGEST_LEN	32
#define DIGEST_HEX_LEN	(DIGEST_LEN * 2)

/* The SHA-256 of len bytes at p into out. */
void	digest_sha256(const void *p, size_t len, unsigned char out[DIGEST_LEN]);
/* Lower-case hex of d into hex (DIGEST_HEX_LEN + 1 bytes, NUL-ended). */
void	digest_hex(const unsigned char d[DIGEST_LEN],
	    char hex[DIGEST_HEX_LEN + 1]);
/* Parses DIGEST_HEX_LEN hex digits; 0, or -1 if s is not one. */
int	digest_parse(const char *s, unsigned char d[DIGEST_LEN]);

#endif
