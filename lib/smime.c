/*
 * lib/smime.c - the content of opaque S/MIME, with OpenSSL's CMS API (see
 * smime.h). Parsing only: no signature, certificate or key is looked at.
 */
#include "config.h"

#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/pem.h>	/* before cms.h: declares PEM_read_bio_CMS */
#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/objects.h>

#include "lenient.h"
#include "smime.h"
#include "util.h"

#define SMIME_LAYERS	4	/* signed over compressed over ...: bounded */
#define PEM_LOOK	256	/* bytes searched for a PEM armour line */

const char *
smime_kind_str(enum smime_kind k)
{
	switch (k) {
	case SMIME_KIND_NOT_CMS: return "not CMS";
	case SMIME_KIND_SIGNED: return "signed-data";
	case SMIME_KIND_DATA: return "data";
	case SMIME_KIND_COMPRESSED: return "compressed-data";
	case SMIME_KIND_DETACHED: return "signed-data without content";
	case SMIME_KIND_ENVELOPED: return "enveloped (encrypted) data";
	case SMIME_KIND_UNSUPPORTED: return "unsupported CMS content";
	case SMIME_KIND_OVER_LIMIT: return "content over the size limit";
	}
	return "?";
}

/* True if p looks like base64 text (a part sent without its CTE): the
 * first 64 non-space bytes are all in the alphabet. */
static bool
looks_base64(const unsigned char *p, size_t n)
{
	size_t	i, seen = 0;

	for (i = 0; i < n && seen < 64; i++) {
		if (p[i] == ' ' || p[i] == '\t' || p[i] == '\r' ||
		    p[i] == '\n')
			continue;
		if (lenient_b64val(p[i], false) < 0 && p[i] != '=')
			return false;
		seen++;
	}
	return seen >= 16;
}

static CMS_ContentInfo *
cms_der(const unsigned char *p, size_t n)
{
	const unsigned char	*q = p;

	if (n > LONG_MAX)
		return NULL;
	return d2i_CMS_ContentInfo(NULL, &q, (long)n);
}

/* The ContentInfo in p (DER, PEM or base64 text); NULL if there is none. */
static CMS_ContentInfo *
cms_read(const unsigned char *p, size_t n)
{
	CMS_ContentInfo	*cms = NULL;
	size_t		 i;

	for (i = 0; i < n && i < PEM_LOOK && (p[i] == ' ' || p[i] == '\t' ||
	    p[i] == '\r' || p[i] == '\n'); i++)
		;
	if (i < n && p[i] == 0x30)
		return cms_der(p + i, n - i);
	if (n - i > 10 && memmem(p + i, n - i < PEM_LOOK ? n - i : PEM_LOOK,
	    "-----BEGIN ", 11) != NULL && n <= INT_MAX) {
		BIO *b = BIO_new_mem_buf(p, (int)n);

		if (b != NULL)	/* PKCS7 armour is accepted as CMS too */
			cms = PEM_read_bio_CMS(b, NULL, NULL, NULL);
		BIO_free(b);
		return cms;
	}
	if (looks_base64(p + i, n - i)) {
		unsigned char	*d;
		size_t		 dn = lenient_base64(p + i, n - i, false,
		    n, &d, NULL);

		cms = cms_der(d, dn);
		free(d);
	}
	return cms;
}

/* DER length octets of n into out (at least 9 bytes); returns the count. */
static size_t
der_len(size_t n, unsigned char *out)
{
	unsigned char	tmp[sizeof(size_t)];
	size_t		k = 0, i;

	if (n < 128) {
		out[0] = (unsigned char)n;
		return 1;
	}
	while (n > 0 && k < sizeof tmp) {
		tmp[k++] = (unsigned char)(n & 0xff);
		n >>= 8;
	}
	out[0] = (unsigned char)(0x80 | k);
	for (i = 0; i < k; i++)
		out[1 + i] = tmp[k - 1 - i];
	return 1 + k;
}

/* ContentInfo { type, [0] EXPLICIT content } around the bare content of a
 * nested layer, so that it can be read like an outer one. NULL if the
 * type cannot be encoded. Caller frees. */
static unsigned char *
wrap_content_info(const ASN1_OBJECT *type, const unsigned char *c, size_t cn,
    size_t *len_r)
{
	unsigned char	 l0[16], l1[16];
	unsigned char	*oid = NULL, *out, *o;
	int		 on;
	size_t		 n0, n1, inner;

	if ((on = i2d_ASN1_OBJECT(type, &oid)) <= 0)
		return NULL;
	n0 = der_len(cn, l0);
	inner = (size_t)on + 1 + n0 + cn;
	n1 = der_len(inner, l1);
	*len_r = 1 + n1 + inner;
	out = o = xmalloc(*len_r);
	*o++ = 0x30;
	memcpy(o, l1, n1), o += n1;
	memcpy(o, oid, (size_t)on), o += on;
	*o++ = 0xa0;
	memcpy(o, l0, n0), o += n0;
	memcpy(o, c, cn);
	OPENSSL_free(oid);
	return out;
}

static bool
nested_type(int nid)
{
	return nid == NID_pkcs7_signed || nid == NID_pkcs7_enveloped ||
	    nid == NID_pkcs7_encrypted || nid == NID_pkcs7_digest ||
	    nid == NID_id_smime_ct_authEnvelopedData ||
	    nid == NID_id_smime_ct_compressedData ||
	    nid == NID_id_smime_ct_authData;
}

/* Copies the octets of s into *out_r unless over max_out. */
static enum smime_kind
take(const ASN1_OCTET_STRING *s, size_t max_out, enum smime_kind kind,
    unsigned char **out_r, size_t *out_len_r)
{
	size_t	n = (size_t)ASN1_STRING_length(s);

	if (n > max_out)
		return SMIME_KIND_OVER_LIMIT;
	*out_r = xmalloc(n + 1);
	memcpy(*out_r, ASN1_STRING_get0_data(s), n);
	*out_len_r = n;
	return kind;
}

/* compressed-data: zlib through CMS_dataInit, read at most max_out + 1
 * bytes (a bomb stops there). */
static enum smime_kind
uncompress(CMS_ContentInfo *cms, size_t max_out, unsigned char **out_r,
    size_t *out_len_r)
{
	BIO		*b = CMS_dataInit(cms, NULL);
	struct buf	 out = BUF_INIT;
	unsigned char	 chunk[16384];
	int		 r;

	if (b == NULL)
		return SMIME_KIND_UNSUPPORTED;	/* OpenSSL without zlib */
	while (out.len <= max_out &&
	    (r = BIO_read(b, chunk, sizeof chunk)) > 0)
		buf_append(&out, chunk, (size_t)r);
	BIO_free_all(b);
	if (out.len > max_out) {
		buf_free(&out);
		return SMIME_KIND_OVER_LIMIT;
	}
	*out_len_r = out.len;
	*out_r = out.data != NULL ? out.data : xmalloc(1);
	return SMIME_KIND_COMPRESSED;
}

static enum smime_kind
open_layer(CMS_ContentInfo *cms, unsigned layer, size_t max_out,
    unsigned char **out_r, size_t *out_len_r)
{
	ASN1_OCTET_STRING	**pos;
	const ASN1_OBJECT	 *etype;
	int			  nid = OBJ_obj2nid(CMS_get0_type(cms)), enid;

	switch (nid) {
	case NID_pkcs7_enveloped:
	case NID_pkcs7_encrypted:
	case NID_id_smime_ct_authEnvelopedData:
		return SMIME_KIND_ENVELOPED;
	case NID_id_smime_ct_compressedData:
		return uncompress(cms, max_out, out_r, out_len_r);
	case NID_pkcs7_data:
	case NID_pkcs7_digest:
	case NID_id_smime_ct_authData:
	case NID_pkcs7_signed:
		break;
	default:
		return SMIME_KIND_UNSUPPORTED;
	}
	pos = CMS_get0_content(cms);
	if (pos == NULL || *pos == NULL)
		return nid == NID_pkcs7_signed ? SMIME_KIND_DETACHED :
		    SMIME_KIND_UNSUPPORTED;
	if (nid == NID_pkcs7_data)
		return take(*pos, max_out, SMIME_KIND_DATA, out_r, out_len_r);
	etype = CMS_get0_eContentType(cms);
	enid = etype != NULL ? OBJ_obj2nid(etype) : NID_undef;
	if (nested_type(enid)) {
		CMS_ContentInfo		*inner;
		unsigned char		*w;
		size_t			 wn;
		enum smime_kind		 k = SMIME_KIND_UNSUPPORTED;

		if (layer + 1 >= SMIME_LAYERS)
			return SMIME_KIND_UNSUPPORTED;
		w = wrap_content_info(etype, ASN1_STRING_get0_data(*pos),
		    (size_t)ASN1_STRING_length(*pos), &wn);
		if (w == NULL)
			return SMIME_KIND_UNSUPPORTED;
		if ((inner = cms_der(w, wn)) != NULL) {
			k = open_layer(inner, layer + 1, max_out, out_r,
			    out_len_r);
			CMS_ContentInfo_free(inner);
		}
		free(w);
		return k;
	}
	return take(*pos, max_out, nid == NID_pkcs7_signed ? SMIME_KIND_SIGNED :
	    SMIME_KIND_DATA, out_r, out_len_r);
}

int
smime_extract(const unsigned char *der, size_t len, size_t max_out,
    unsigned char **out_r, size_t *out_len_r, enum smime_kind *kind_r,
    struct err *err)
{
	CMS_ContentInfo	*cms;

	(void)err;	/* our allocations panic; OpenSSL's fail as garbage */
	*out_r = NULL;
	*out_len_r = 0;
	*kind_r = SMIME_KIND_NOT_CMS;
	if (der == NULL || len == 0)
		return 0;
	if ((cms = cms_read(der, len)) != NULL) {
		*kind_r = open_layer(cms, 0, max_out, out_r, out_len_r);
		CMS_ContentInfo_free(cms);
	}
	ERR_clear_error();	/* this thread's queue: libclamav reads it */
	return 0;
}
