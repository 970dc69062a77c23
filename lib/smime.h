/*
 * lib/smime.h - opaque S/MIME (application/pkcs7-mime, *.p7m): take the
 * content out of a CMS signed-data without verifying anything, so that the
 * MIME entity a mail client shows once it has opened the wrapper is
 * inspected like any other part. The only includer of OpenSSL.
 *
 * Nothing is verified: a signature proves who sent a file, not that the
 * file is harmless, and an attacker can sign with a throwaway key.
 * Enveloped (encrypted) data cannot be read without the recipient's key:
 * the caller reports it. RFC 3274 compressed-data is decompressed when the
 * OpenSSL here was built with zlib, else reported as unsupported.
 *
 * Errors: 0 = *kind_r says what the data is (garbage included: that is a
 * finding for the caller, not an error); -1 = an operational failure, see
 * err (reserved: our allocations panic, and an allocation that fails inside
 * OpenSSL makes the data read as NOT_CMS, which the caller refuses anyway).
 * Thread-safety: reentrant (OpenSSL 1.1+ initialises itself once).
 */
#ifndef PORTCULLIS_SMIME_H
#define PORTCULLIS_SMIME_H

#include <stddef.h>

#include "err.h"

enum smime_kind {
	SMIME_KIND_NOT_CMS = 0,	/* not CMS at all, or corrupt */
	SMIME_KIND_SIGNED,	/* signed-data: its content is in *out_r */
	SMIME_KIND_DATA,	/* plain or digested data: content in *out_r */
	SMIME_KIND_COMPRESSED,	/* compressed-data, decompressed into *out_r */
	SMIME_KIND_DETACHED,	/* signed-data without content (certs-only) */
	SMIME_KIND_ENVELOPED,	/* enveloped or encrypted: unreadable */
	SMIME_KIND_UNSUPPORTED,	/* compressed without zlib, or another type */
	SMIME_KIND_OVER_LIMIT	/* content longer than max_out: not returned */
};

/*
 * Reads der (DER or BER; PEM "-----BEGIN PKCS7/CMS-----" and bare base64
 * text are accepted too), borrowed for the call. For SIGNED, DATA and
 * COMPRESSED, *out_r holds the content (*out_len_r bytes, at most
 * max_out; for signed-data usually a MIME entity, headers and body) and
 * the caller frees it with free(); for every other kind *out_r is NULL.
 * A signed-data whose content is itself enveloped or compressed (RFC 3274
 * "compress, then sign") is opened once more, so *kind_r tells the
 * innermost layer reached.
 */
int		 smime_extract(const unsigned char *der, size_t len,
		    size_t max_out, unsigned char **out_r, size_t *out_len_r,
		    enum smime_kind *kind_r, struct err *err)
		    __attribute__((warn_unused_result));

/* A word for explain lines and findings ("signed-data"). Static string. */
const char	*smime_kind_str(enum smime_kind k);

#endif
