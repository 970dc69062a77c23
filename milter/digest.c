/* milter/digest.c - SHA-256 with GLib's GChecksum (digest.h). */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <glib.h>

#include "digest.h"

void
digest_sha256(const void *p, size_t len, unsigned char out[DIGEST_LEN])
{
	GChecksum		*c = g_checksum_new(G_CHECKSUM_SHA256);
	const unsigned char	*q = p;
	gsize			 n = DIGEST_LEN;
	size_t			 chunk;

	while (len > 0) {		/* g_checksum_update takes a gssize */
		chunk = len > (1u << 30) ? (1u << 30) : len;
		g_checksum_update(c, q, (gssize)chunk);
		q += chunk;
		len -= chunk;
	}
	g_checksum_get_digest(c, out, &n);
	g_checksum_free(c);
}

void
digest_hex(const unsigned char d[DIGEST_LEN], char hex[DIGEST_HEX_LEN + 1])
{
	static const char	x[] = "0123456789abcdef";
	size_t			i;

	for (i = 0; i < DIGEST_LEN; i++) {
		hex[2 * i] = x[d[i] >> 4];
		hex[2 * i + 1] = x[d[i] & 15];
	}
	hex[DIGEST_HEX_LEN] = '\0';
}

static int
nibble(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int
digest_parse(const char *s, unsigned char d[DIGEST_LEN])
{
	size_t	i;
	int	hi, lo;

	for (i = 0; i < DIGEST_LEN; i++) {
		if ((hi = nibble(s[2 * i])) < 0 || (lo = nibble(s[2 * i + 1])) < 0)
			return -1;
		d[i] = (unsigned char)(hi << 4 | lo);
	}
	return s[DIGEST_HEX_LEN] == '\0' ? 0 : -1;
}
