/*
 * lib/pgp.c - OpenPGP encrypted messages by their first packet (see pgp.h).
 */
#include "config.h"

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "pgp.h"

#define ARMOUR_BEGIN	"-----BEGIN PGP MESSAGE-----"
#define FIRST_BYTES	12	/* decoded bytes enough for a packet header */

/* The packet tags an encrypted message starts with. */
#define TAG_PKESK	1	/* public-key encrypted session key */
#define TAG_SKESK	3	/* symmetric-key encrypted session key */
#define TAG_SED		9	/* symmetrically encrypted data (legacy) */
#define TAG_SEIPD	18	/* sym. encrypted and integrity protected */
#define TAG_AEAD	20	/* AEAD encrypted data (LibrePGP, GnuPG 2.3+) */

bool
pgp_binary_encrypted(const unsigned char *p, size_t n)
{
	unsigned	tag, ver;
	size_t		hdr;

	if (n < 2 || (p[0] & 0x80) == 0)
		return false;
	if ((p[0] & 0x40) != 0) {	/* new format: length octets follow */
		tag = p[0] & 0x3f;
		if (p[1] < 192 || (p[1] >= 224 && p[1] < 255))
			hdr = 2;	/* one octet, or a partial length */
		else if (p[1] < 224)
			hdr = 3;
		else
			hdr = 6;
	} else {			/* old format: the length type */
		static const size_t lens[4] = { 2, 3, 5, 1 };

		tag = (p[0] >> 2) & 0x0f;
		hdr = lens[p[0] & 3];
	}
	if (tag == TAG_SED)		/* no version octet: the tag decides */
		return true;
	if (hdr >= n)
		return false;
	ver = p[hdr];
	switch (tag) {
	case TAG_PKESK: return ver == 3 || ver == 6;
	case TAG_SKESK: return ver == 4 || ver == 5 || ver == 6;
	case TAG_SEIPD: return ver == 1 || ver == 2;
	case TAG_AEAD: return ver == 1;
	}
	return false;
}

static int
b64val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* The end of the line that starts at i (the index of its '\n', or n). */
static size_t
line_end(const unsigned char *p, size_t n, size_t i)
{
	const unsigned char *e = memchr(p + i, '\n', n - i);

	return e != NULL ? (size_t)(e - p) : n;
}

static bool
line_blank(const unsigned char *p, size_t i, size_t e)
{
	for (; i < e; i++)
		if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r')
			return false;
	return true;
}

/* The armour block whose BEGIN line ends at i: skip its header lines
 * ("Version: ...", up to a blank line), decode the first base64 bytes. */
static bool
armour_block(const unsigned char *p, size_t n, size_t i)
{
	unsigned char	 out[FIRST_BYTES];
	size_t		 e, o = 0;
	unsigned	 h, acc = 0, bits = 0;
	int		 v;

	for (h = 0; h < PGP_HEADERS && i < n; h++) {
		e = line_end(p, n, i);
		if (line_blank(p, i, e)) {
			i = e + 1;
			break;
		}
		if (memchr(p + i, ':', e - i) == NULL)
			break;		/* no blank line: base64 at once */
		i = e + 1;
	}
	for (; i < n && o < sizeof out; i++) {
		if (p[i] == ' ' || p[i] == '\t' || p[i] == '\r' ||
		    p[i] == '\n')
			continue;
		if ((v = b64val(p[i])) < 0)
			break;		/* '=' (padding, checksum) or '-' */
		acc = (acc << 6) | (unsigned)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (unsigned char)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	return pgp_binary_encrypted(out, o);
}

bool
pgp_armour_encrypted(const unsigned char *p, size_t n)
{
	const size_t	 bl = sizeof ARMOUR_BEGIN - 1;
	size_t		 i = 0, s, e;
	unsigned	 blocks = 0;
	const void	*hit;

	while (i < n && blocks < PGP_BLOCKS &&
	    (hit = memmem(p + i, n - i, ARMOUR_BEGIN, bl)) != NULL) {
		s = (size_t)((const unsigned char *)hit - p);
		e = line_end(p, n, s);
		i = e < n ? e + 1 : n;
		/* at the start of a line (indented at most), alone on it */
		while (s > 0 && (p[s - 1] == ' ' || p[s - 1] == '\t'))
			s--;
		if ((s > 0 && p[s - 1] != '\n') ||
		    !line_blank(p, (size_t)((const unsigned char *)hit - p) +
		    bl, e))
			continue;
		blocks++;
		if (armour_block(p, n, i))
			return true;
	}
	return false;
}
