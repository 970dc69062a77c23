/*
 * test/unit/test-pgp.c - OpenPGP encrypted messages told from signed-only
 * ones by their first packet, binary and armoured (lib/pgp.c).
 */
#include "config.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pgp.h"
#include "t.h"

static const char b64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* base64 of p..p+n, 64 characters a line; the caller frees it. */
static char *
enc64(const unsigned char *p, size_t n)
{
	char	*o = malloc(n * 2 + 8), *q = o;
	size_t	 i, col = 0;

	for (i = 0; i < n; i += 3) {
		unsigned v = (unsigned)p[i] << 16 |
		    (i + 1 < n ? (unsigned)p[i + 1] << 8 : 0) |
		    (i + 2 < n ? p[i + 2] : 0);

		*q++ = b64[v >> 18 & 63];
		*q++ = b64[v >> 12 & 63];
		*q++ = i + 1 < n ? b64[v >> 6 & 63] : '=';
		*q++ = i + 2 < n ? b64[v & 63] : '=';
		if ((col += 4) == 64) {
			*q++ = '\n';
			col = 0;
		}
	}
	*q = '\0';
	return o;
}

/* First packets as GnuPG 2.2 writes them (old format) and RFC 9580's
 * new format, each followed by a few bytes of body. */
static const struct {
	const char	*name;
	unsigned char	 b[8];
	size_t		 n;
	bool		 want;
} bins[] = {
	{ "SKESK v4 (gpg --symmetric)", { 0x8c, 0x0d, 0x04, 0x09, 0x03, 0x08 },
	    6, true },
	{ "PKESK v3 (gpg --encrypt)", { 0x85, 0x01, 0x0c, 0x03, 0x12, 0x34 },
	    6, true },
	{ "PKESK v6 new format", { 0xc1, 0x20, 0x06, 0x00 }, 4, true },
	{ "SEIPD v1 new format", { 0xd2, 0x40, 0x01, 0xaa }, 4, true },
	{ "SEIPD v2 partial length", { 0xd2, 0xe5, 0x02, 0x09 }, 4, true },
	{ "AEAD (GnuPG 2.3 OCB)", { 0xd4, 0x30, 0x01, 0x09 }, 4, true },
	{ "SED legacy", { 0xa4, 0x10, 0x55 }, 3, true },
	{ "compressed (gpg --sign)", { 0xa3, 0x01, 0x78, 0x9c }, 4, false },
	{ "one-pass signature", { 0x90, 0x0d, 0x03, 0x00 }, 4, false },
	{ "signature", { 0x89, 0x01, 0x33, 0x04 }, 4, false },
	{ "literal data", { 0xcb, 0x10, 0x62, 0x00 }, 4, false },
	{ "SKESK of unknown version", { 0x8c, 0x0d, 0x09, 0x09 }, 4, false },
	{ "PKESK cut before version", { 0x85, 0x01, 0x0c }, 3, false },
	{ "text", { 'V', 'e', 'r', 's', 'i', 'o', 'n', ':' }, 8, false },
	{ "empty", { 0 }, 0, false },
};

static void
test_binary(struct t *t)
{
	size_t	i;
	bool	got;

	for (i = 0; i < sizeof bins / sizeof bins[0]; i++) {
		got = pgp_binary_encrypted(bins[i].b, bins[i].n);
		t_check(t, got == bins[i].want, "binary %s: got %d, want %d",
		    bins[i].name, got, bins[i].want);
	}
}

/* Armour around packet k of bins[], with fmt's "%s" for the base64. */
static const struct {
	const char	*name;
	const char	*fmt;
	size_t		 k;
	bool		 want;
} arms[] = {
	{ "bare armour, SKESK", "-----BEGIN PGP MESSAGE-----\n\n%s\n=abcd\n"
	    "-----END PGP MESSAGE-----\n", 0, true },
	{ "CRLF, headers, PKESK", "Hi,\r\n\r\n-----BEGIN PGP MESSAGE-----\r\n"
	    "Version: GnuPG v2\r\nComment: https://gnupg.org\r\n\r\n%s\r\n"
	    "-----END PGP MESSAGE-----\r\n", 1, true },
	{ "indented, no blank line", "  -----BEGIN PGP MESSAGE-----\n%s\n",
	    3, true },
	{ "signed-only message", "-----BEGIN PGP MESSAGE-----\n\n%s\n"
	    "-----END PGP MESSAGE-----\n", 7, false },
	{ "clearsigned", "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256"
	    "\n\nhello\n-----BEGIN PGP SIGNATURE-----\n\n%s\n", 9, false },
	{ "quoted in a sentence", "write -----BEGIN PGP MESSAGE-----\n\n%s\n",
	    0, false },
	{ "more on the line", "-----BEGIN PGP MESSAGE----- here\n\n%s\n", 0,
	    false },
	{ "second block encrypted", "-----BEGIN PGP MESSAGE-----\n\nowGbwMvM"
	    "\n-----END PGP MESSAGE-----\n-----BEGIN PGP MESSAGE-----\n\n%s\n",
	    0, true },
	{ "armour at the very end", "%s-----BEGIN PGP MESSAGE-----", 0,
	    false },
};

static void
test_armour(struct t *t)
{
	size_t	 i;
	bool	 got;
	char	*b, *s;

	for (i = 0; i < sizeof arms / sizeof arms[0]; i++) {
		b = enc64(bins[arms[i].k].b, bins[arms[i].k].n);
		if (asprintf(&s, arms[i].fmt, b) == -1)
			abort();
		got = pgp_armour_encrypted((const unsigned char *)s,
		    strlen(s));
		t_check(t, got == arms[i].want, "armour %s: got %d, want %d",
		    arms[i].name, got, arms[i].want);
		free(s);
		free(b);
	}
}

/* Only PGP_BLOCKS armour lines are looked at: an encrypted block after
 * PGP_BLOCKS signed-only ones is not reached, one at PGP_BLOCKS is. */
static void
test_blocks_limit(struct t *t)
{
	static const char signed_only[] = "-----BEGIN PGP MESSAGE-----\n\n"
	    "owGbwMvM\n-----END PGP MESSAGE-----\n";
	char	*b = enc64(bins[0].b, bins[0].n), *s;
	size_t	 before, cap, len, j;
	bool	 got;

	for (before = PGP_BLOCKS - 1; before <= PGP_BLOCKS; before++) {
		cap = (before + 1) * sizeof signed_only + strlen(b) + 64;
		s = malloc(cap);
		len = 0;
		for (j = 0; j < before; j++)
			len += (size_t)snprintf(s + len, cap - len, "%s",
			    signed_only);
		len += (size_t)snprintf(s + len, cap - len,
		    "-----BEGIN PGP MESSAGE-----\n\n%s\n", b);
		got = pgp_armour_encrypted((unsigned char *)s, len);
		t_check(t, got == (before < PGP_BLOCKS), "%zu signed blocks "
		    "before: got %d, want %d", before, got, before < PGP_BLOCKS);
		free(s);
	}
	free(b);
}

static const struct t_case cases[] = {
	T_CASE(test_binary),
	T_CASE(test_armour),
	T_CASE(test_blocks_limit),
};

int
main(int argc, char **argv)
{
	return t_main(argc, argv, cases, T_NCASES(cases));
}
