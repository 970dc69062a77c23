/*
 * lib/pgp.h - OpenPGP encrypted messages (RFC 4880, RFC 9580): tell an
 * encrypted message from a signed-only one by its first packet, in ASCII
 * armour ("-----BEGIN PGP MESSAGE-----" in a text body, a PGP/MIME part or
 * an .asc file) or binary (a .pgp/.gpg file). Nothing is decrypted and no
 * key is looked at: only the first packet's tag and version are read.
 *
 * An armoured "PGP MESSAGE" is not always encrypted: "gpg --sign --armor"
 * writes one too (compressed, one-pass signature, literal data). Only a
 * message that starts with a session key packet (public-key or symmetric)
 * or an encrypted data packet counts.
 *
 * Bounds: at most PGP_BLOCKS armour lines are looked at in one buffer, at
 * most PGP_HEADERS armour header lines skipped in each, and a few dozen
 * base64 characters decoded; the search itself is linear in len.
 * Errors: none (pure predicates). Thread-safety: reentrant.
 */
#ifndef PORTCULLIS_PGP_H
#define PORTCULLIS_PGP_H

#include <stdbool.h>
#include <stddef.h>

#define PGP_BLOCKS	16	/* armour lines examined per buffer */
#define PGP_HEADERS	32	/* armour header lines skipped per block */

/* True when p..p+n starts with an OpenPGP packet that only an encrypted
 * message starts with (a session key or encrypted data packet of a known
 * version). p is borrowed for the call. */
bool	pgp_binary_encrypted(const unsigned char *p, size_t n);

/* True when a line of p..p+n (at most PGP_BLOCKS looked at) begins an
 * armoured PGP MESSAGE whose first packet is encrypted (see above). */
bool	pgp_armour_encrypted(const unsigned char *p, size_t n);

#endif
