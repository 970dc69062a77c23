/*
 * lib/mime.c - parse, walk, strip and render with GMime (see mime.h).
 *
 * The walk is our own recursion rather than GMimePartIter, so that depth,
 * part counts and paths are ours to bound: GMime itself allows 1024 levels
 * and never descends into a base64-encoded message/rfc822, which we decode
 * and parse again. Every leaf is decoded once into a buffer owned by the
 * doc; scan.c reads them through mime_leaves().
 */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <gmime/gmime.h>

#include "lenient.h"
#include "mime.h"
#include "pgp.h"
#include "smime.h"
#include "smuggle.h"
#include "textenc.h"
#include "tnef.h"

#define MAX_WARNINGS	64	/* parser warnings kept per message */
#define MAX_NAMES	4	/* name sources per part */
#define MAX_NAME_KEEP	1024	/* a longer name keeps its end */
#define RFC2231_PIECES	64	/* continuations of one parameter */

struct leaf {
	struct mime_leaf	 pub;
	char			*path;
	char			*ctype;
	char			*names[MAX_NAMES];
	unsigned char		*data;		/* g_malloc'd or malloc'd, see owned_g */
	bool			 owned_g;
};

struct mime_doc {
	const unsigned char	*msg;
	size_t			 len;
	GMimeMessage		*message;	/* NULL = not MIME */
	struct leaf		*leaves;
	size_t			 nleaves;
	struct mime_leaf	*pub;		/* mime_leaves() view */
	bool			 hidden;
	unsigned		 parts;
	unsigned		 attachments;
	bool			 stopped;	/* a count limit ended the walk */
	/* GMime's leaves by content, for the tolerant reading's copies */
	size_t			*idx;		/* leaf index + 1, 0 = free */
	size_t			 idxcap;	/* a power of two */
	uint64_t		*hv;		/* per GMime leaf */
	size_t			 nindexed;
	/* parser warnings, collected by the callback */
	unsigned		 nwarn;
	struct {
		int		 code;
		gint64		 offset;
		char		*item;
	}			 warn[MAX_WARNINGS];
};

struct walk {
	const char		*reading;	/* READING_* */
	struct mime_doc		*d;
	const struct policy	*pol;
	mime_finding_fn		 fn;
	void			*ctx;
	struct verdict		*explain;
	uint64_t		 decoded;
};

void
mime_init(void)
{
	g_mime_init();
}

void
mime_shutdown(void)
{
	g_mime_shutdown();
}

static void
parser_warning(gint64 offset, GMimeParserWarning code, const gchar *item,
    gpointer user)
{
	struct mime_doc	*d = user;

	if (d->nwarn >= MAX_WARNINGS)
		return;
	d->warn[d->nwarn].code = code;
	d->warn[d->nwarn].offset = offset;
	d->warn[d->nwarn].item = item != NULL ? str_sanitise(item, 80) : NULL;
	d->nwarn++;
}

static GMimeMessage *
parse_message(const unsigned char *buf, size_t len, struct mime_doc *d)
{
	GMimeStream		*st;
	GMimeParser		*p;
	GMimeParserOptions	*po;
	GMimeMessage		*m;

	st = g_mime_stream_mem_new_with_buffer((const char *)buf, len);
	p = g_mime_parser_new_with_stream(st);
	g_object_unref(st);
	po = g_mime_parser_options_new();
	g_mime_parser_options_set_warning_callback(po, parser_warning, d);
	g_mime_parser_set_format(p, GMIME_FORMAT_MESSAGE);
	m = g_mime_parser_construct_message(p, po);
	g_mime_parser_options_free(po);
	g_object_unref(p);
	return m;
}

struct mime_doc *
mime_open(const unsigned char *msg, size_t len)
{
	struct mime_doc	*d = xcalloc(1, sizeof *d);

	d->msg = msg;
	d->len = len;
	d->message = parse_message(msg, len, d);
	return d;
}

void
mime_close(struct mime_doc **dp)
{
	struct mime_doc	*d = *dp;
	size_t		 i, j;

	if (d == NULL)
		return;
	*dp = NULL;
	for (i = 0; i < d->nleaves; i++) {
		struct leaf *l = &d->leaves[i];

		free(l->path);
		free(l->ctype);
		for (j = 0; j < MAX_NAMES; j++)
			free(l->names[j]);
		if (l->owned_g)
			g_free(l->data);
		else
			free(l->data);
	}
	free(d->leaves);
	free(d->pub);
	free(d->idx);
	free(d->hv);
	for (i = 0; i < d->nwarn; i++)
		free(d->warn[i].item);
	if (d->message != NULL)
		g_object_unref(d->message);
	free(d);
}

static char *
path_child(const char *parent, size_t i)
{
	return *parent == '\0' ? xasprintf("%zu", i + 1) :
	    xasprintf("%s.%zu", parent, i + 1);
}

/* Adds a name unless already there (exact bytes). A name too long to
 * keep keeps its end, where the extension is. */
static void
leaf_name(struct leaf *l, const char *name)
{
	size_t	i, n;

	if (name == NULL || *name == '\0')
		return;
	if ((n = strlen(name)) > MAX_NAME_KEEP)
		name += n - MAX_NAME_KEEP;
	for (i = 0; i < MAX_NAMES && l->names[i] != NULL; i++)
		if (strcmp(l->names[i], name) == 0)
			return;
	if (i < MAX_NAMES)
		l->names[i] = xstrdup(name);
}

static struct leaf *
leaf_add(struct walk *w, const char *path, const char *ctype,
    unsigned depth)
{
	struct mime_doc	*d = w->d;
	struct leaf	*l;

	d->leaves = xreallocarray(d->leaves, d->nleaves + 1,
	    sizeof *d->leaves);
	l = &d->leaves[d->nleaves++];
	memset(l, 0, sizeof *l);
	l->path = xstrdup(path);
	l->ctype = xstrdup(ctype);
	l->pub.depth = depth;
	l->pub.reading = w->reading;
	l->pub.same_as = MIME_LEAF_NONE;
	l->pub.lenient = strcmp(w->reading, READING_LENIENT) == 0;
	return l;
}

static bool
is_textual(const char *ctype)
{
	return strncmp(ctype, "text/", 5) == 0;
}

/* Files hidden in a text body (uuencode, BinHex, yEnc) become leaves of
 * their own at path/name. */
struct text_walk {
	struct walk	*w;
	const char	*path;
	unsigned	 depth;
};

static void
text_member(void *ctx, const char *kind, const char *name,
    unsigned char *data, size_t len, bool truncated)
{
	struct text_walk	*tw = ctx;
	char			*lpath = xasprintf("%s/%s", tw->path,
	    name != NULL ? name : kind);
	struct leaf		*l = leaf_add(tw->w, lpath,
	    "application/octet-stream", tw->depth + 1);

	leaf_name(l, name);
	l->pub.attachment = true;
	l->pub.truncated = truncated;
	l->data = data;
	l->pub.len = len;
	tw->w->decoded += len;
	verdict_explain(tw->w->explain, "part %s: %s file in a text body, "
	    "%zu bytes%s", lpath, kind, len, truncated ? " (cut at the limit)" :
	    "");
	if (truncated)
		tw->w->fn(tw->w->ctx, RULE_SIZE_LIMIT, lpath, name,
		    "encoded file in text over the attachment size limit");
	free(lpath);
}

static void
text_extract(struct walk *w, const char *path, const unsigned char *p,
    size_t n, unsigned depth)
{
	struct text_walk	 tw = { w, path, depth };

	if (!textenc_present(p, n))
		return;
	textenc_extract(p, n, w->pol->attachment_size + 1, 64, text_member,
	    &tw);
}

/* TNEF (winmail.dat): every attachment becomes a leaf at path/name. */
struct tnef_walk {
	struct walk	*w;
	const char	*path;
	unsigned	 depth;
};

static void
tnef_member(void *ctx, const char *name, const unsigned char *data,
    size_t len)
{
	struct tnef_walk	*tw = ctx;
	char			*lpath = xasprintf("%s/%s", tw->path,
	    name != NULL ? name : "attachment");
	struct leaf		*l = leaf_add(tw->w, lpath,
	    "application/octet-stream", tw->depth + 1);

	free(lpath);
	leaf_name(l, name);
	l->pub.attachment = true;
	l->data = xmalloc(len);
	memcpy(l->data, data, len);
	l->pub.len = len;
	tw->w->decoded += len;
}

static void	walk_object(struct walk *w, GMimeObject *obj, const char *path,
		    unsigned depth);
static void	leaf_post(struct walk *w, size_t idx, unsigned depth);

static bool
walk_limits(struct walk *w, const char *path, unsigned depth)
{
	struct mime_doc	*d = w->d;

	if (d->stopped)
		return false;
	if (++d->parts > w->pol->mime_parts) {
		char *s = xasprintf("more than %u MIME parts",
		    w->pol->mime_parts);

		w->fn(w->ctx, RULE_COUNT_LIMIT, path, NULL, s);
		free(s);
		d->stopped = true;
		return false;
	}
	if (depth > w->pol->mime_depth) {
		char *s = xasprintf("MIME nesting deeper than %u",
		    w->pol->mime_depth);

		w->fn(w->ctx, RULE_DEPTH_LIMIT, path, NULL, s);
		free(s);
		return false;
	}
	return true;
}

/*
 * Walks bytes (a whole message, or a bare MIME entity: its header is read
 * as the message's) as what the part at path holds: a multipart's children
 * become path.1, path.2, ..., a single body path.1. explain (a printf
 * format with one %s, the path) is added once the bytes parsed. False if
 * GMime could not parse them.
 */
static bool
walk_entity(struct walk *w, const char *path, const unsigned char *p,
    size_t n, unsigned depth, const char *explain)
{
	GMimeMessage	*inner;
	GMimeObject	*body;

	inner = parse_message(p, n, w->d);	/* copies p */
	if (inner == NULL)
		return false;
	verdict_explain(w->explain, explain, path);
	body = g_mime_message_get_mime_part(inner);
	if (body != NULL) {
		char *child = path_child(path, 0);

		if (GMIME_IS_MULTIPART(body))
			walk_object(w, body, path, depth + 1);
		else
			walk_object(w, body, child, depth + 1);
		free(child);
	}
	g_object_unref(inner);
	return true;
}

/* Leaves of a re-parsed, transfer-encoded message/rfc822. */
static void
walk_encoded_message(struct walk *w, struct leaf *l, unsigned depth)
{
	char	*path = xstrdup(l->path);

	/* if it does not parse it stays a leaf: scanned as bytes */
	(void)walk_entity(w, path, l->data, l->pub.len, depth,
	    "part %s: encoded message/rfc822, decoded and parsed again");
	free(path);
}

/* ---- opaque S/MIME and HTML smuggling ---- */

#define HTML_BLOBS	64	/* files taken out of one HTML part */
#define HTML_MIN_CHARS	256	/* base64 characters of a bare script string */

static bool
is_smime(const struct leaf *l)
{
	return strcmp(l->ctype, "application/pkcs7-mime") == 0 ||
	    strcmp(l->ctype, "application/x-pkcs7-mime") == 0 ||
	    (l->names[0] != NULL && str_has_suffix_ci(l->names[0], ".p7m"));
}

/* The content starts like a MIME entity: a header field on line one. */
static bool
is_entity(const unsigned char *p, size_t n)
{
	size_t	i;

	for (i = 0; i < n && i < 77 && p[i] > ' ' && p[i] < 127 &&
	    p[i] != ':'; i++)
		;
	return i > 0 && i < n && p[i] == ':';
}

/* Content taken out of an opaque S/MIME part at l, walked as a MIME
 * entity (the usual case) or, when it is a bare file (a signed
 * "report.pdf.p7m"), kept as a leaf at path/report.pdf. */
static void
walk_smime(struct walk *w, struct leaf *l, unsigned depth)
{
	char		*path = xstrdup(l->path);
	char		*name = xstrdup(l->names[0]);
	unsigned char	*out = NULL;
	size_t		 n = 0;
	enum smime_kind	 k;
	struct err	 err = ERR_INIT;
	char		*s;

	if (smime_extract(l->data, l->pub.len, w->pol->attachment_size, &out,
	    &n, &k, &err) == -1) {
		w->fn(w->ctx, RULE_UNREADABLE, path, name, err.msg);
		goto out;
	}
	switch (k) {
	case SMIME_KIND_SIGNED:
	case SMIME_KIND_DATA:
	case SMIME_KIND_COMPRESSED:
		s = xasprintf("part %%s: opaque S/MIME %s, content taken out "
		    "without verifying", smime_kind_str(k));
		if (!is_entity(out, n) ||
		    !walk_entity(w, path, out, n, depth, s)) {
			char		*inner = NULL, *lpath;
			struct leaf	*il;

			if (name != NULL && strlen(name) > 4 &&
			    str_has_suffix_ci(name, ".p7m"))
				inner = xstrndup(name, strlen(name) - 4);
			lpath = xasprintf("%s/%s", path, inner != NULL ?
			    inner : "p7m-content");
			il = leaf_add(w, lpath, "application/octet-stream",
			    depth + 1);
			leaf_name(il, inner);
			il->pub.attachment = true;
			il->data = out;
			il->pub.len = n;
			w->decoded += n;
			out = NULL;
			verdict_explain(w->explain, "part %s: opaque S/MIME "
			    "%s, a file taken out without verifying", lpath,
			    smime_kind_str(k));
			free(lpath);
			free(inner);
		}
		free(s);
		break;
	case SMIME_KIND_DETACHED:
		verdict_explain(w->explain, "part %s: S/MIME signed-data "
		    "without content (certificates only)", path);
		break;
	case SMIME_KIND_ENVELOPED:
		w->fn(w->ctx, RULE_ENCRYPTED_MESSAGE, path, name, "S/MIME "
		    "enveloped (encrypted) data: its content cannot be "
		    "inspected");
		break;
	case SMIME_KIND_UNSUPPORTED:
		w->fn(w->ctx, RULE_UNREADABLE, path, name, "S/MIME content "
		    "that cannot be opened here (compressed-data needs an "
		    "OpenSSL with zlib)");
		break;
	case SMIME_KIND_OVER_LIMIT:
		w->fn(w->ctx, RULE_SIZE_LIMIT, path, name, "S/MIME content "
		    "over the attachment size limit");
		break;
	case SMIME_KIND_NOT_CMS:
		w->fn(w->ctx, RULE_MALFORMED, path, name, "S/MIME part that "
		    "is not CMS data");
		break;
	}
out:
	free(out);
	free(name);
	free(path);
}

/* End-to-end encrypted OpenPGP: armoured anywhere (inline in a text body,
 * the data part of PGP/MIME, an .asc file), binary in a .pgp/.gpg file or
 * a part declared as PGP. Signed-only PGP is no finding (pgp.h). */
static void
pgp_check(struct walk *w, const struct leaf *l)
{
	static const char *const exts[] = { ".pgp", ".gpg", ".asc" };
	bool			 named = false;
	const char		*how = NULL;
	char			*s;
	size_t			 i, j;

	for (i = 0; i < MAX_NAMES && l->names[i] != NULL; i++)
		for (j = 0; j < sizeof exts / sizeof exts[0]; j++)
			if (str_has_suffix_ci(l->names[i], exts[j]))
				named = true;
	if (pgp_armour_encrypted(l->data, l->pub.len))
		how = l->pub.textual ? "an inline PGP encrypted message block" :
		    "an armoured OpenPGP encrypted message";
	else if ((named || strcmp(l->ctype, "application/pgp-encrypted") ==
	    0 || strcmp(l->ctype, "application/pgp") == 0) &&
	    pgp_binary_encrypted(l->data, l->pub.len))
		how = "a binary OpenPGP encrypted message";
	if (how == NULL)
		return;
	s = xasprintf("%s: its content cannot be inspected", how);
	w->fn(w->ctx, RULE_ENCRYPTED_MESSAGE, l->path, l->names[0], s);
	free(s);
}

static bool
is_html(const struct leaf *l)
{
	static const char *const exts[] = { ".htm", ".html", ".shtml",
	    ".xhtml", ".svg" };
	size_t			 i, j;

	if (strcmp(l->ctype, "text/html") == 0 ||
	    strcmp(l->ctype, "application/xhtml+xml") == 0 ||
	    strcmp(l->ctype, "image/svg+xml") == 0)
		return true;
	for (i = 0; i < MAX_NAMES && l->names[i] != NULL; i++)
		for (j = 0; j < sizeof exts / sizeof exts[0]; j++)
			if (str_has_suffix_ci(l->names[i], exts[j]))
				return true;
	return false;
}

/* Files smuggled in HTML become leaves at path/name or path/html-blob-N. */
struct html_walk {
	struct walk	*w;
	const char	*path;
	unsigned	 depth;
	unsigned	 n;
};

static void
html_member(void *ctx, const char *how, const char *name, const char *mtype,
    unsigned char *data, size_t len, bool truncated)
{
	struct html_walk	*hw = ctx;
	char			*lpath = name != NULL ?
	    xasprintf("%s/%s", hw->path, name) :
	    xasprintf("%s/html-blob-%u", hw->path, hw->n + 1);
	struct leaf		*l = leaf_add(hw->w, lpath, mtype != NULL ?
	    mtype : "application/octet-stream", hw->depth + 1);

	hw->n++;
	leaf_name(l, name);
	l->pub.attachment = name != NULL;	/* inline images are not */
	l->pub.truncated = truncated;
	l->data = data;
	l->pub.len = len;
	hw->w->decoded += len;
	verdict_explain(hw->w->explain, "part %s: file in HTML (%s), %zu "
	    "bytes%s", lpath, how, len, truncated ? " (cut at the limit)" : "");
	if (truncated)
		hw->w->fn(hw->w->ctx, RULE_SIZE_LIMIT, lpath, name,
		    "file in HTML over the attachment size limit");
	free(lpath);
}

static void
walk_html(struct walk *w, const char *path, const unsigned char *p,
    size_t n, unsigned depth)
{
	struct html_walk	 hw = { w, path, depth, 0 };
	struct smuggle_limits	 lim = { HTML_BLOBS, HTML_MIN_CHARS,
	    w->pol->attachment_size + 1 };

	if (smuggle_extract(p, n, &lim, html_member, &hw) > 0) {
		char *s = xasprintf("more than %u files encoded in HTML",
		    HTML_BLOBS);

		w->fn(w->ctx, RULE_COUNT_LIMIT, path, NULL, s);
		free(s);
	}
}

/*
 * Decodes a part's content into out. GMime's uudecoder keeps no "at the
 * start of a line" state across the 4 KiB chunks it is fed: with CRLF line
 * ends (as every message through the milter has) it takes the CR for a
 * line's length octet, and when a chunk ends just after the LF the next
 * line's length octet is read as data and the decoding stops early, a
 * different file from the one every client decodes. The CRs go before the
 * uudecoder sees the lines; the other encodings are GMime's own.
 */
static void
content_decode(GMimeDataWrapper *dw, GMimeStream *out)
{
	GMimeStream	*raw, *flt;
	GMimeFilter	*f;

	if (g_mime_data_wrapper_get_encoding(dw) !=
	    GMIME_CONTENT_ENCODING_UUENCODE ||
	    (raw = g_mime_data_wrapper_get_stream(dw)) == NULL) {
		g_mime_data_wrapper_write_to_stream(dw, out);
		return;
	}
	flt = g_mime_stream_filter_new(out);
	f = g_mime_filter_dos2unix_new(FALSE);
	g_mime_stream_filter_add(GMIME_STREAM_FILTER(flt), f);
	g_object_unref(f);
	f = g_mime_filter_basic_new(GMIME_CONTENT_ENCODING_UUENCODE, FALSE);
	g_mime_stream_filter_add(GMIME_STREAM_FILTER(flt), f);
	g_object_unref(f);
	g_mime_stream_reset(raw);
	g_mime_stream_write_to_stream(raw, flt);
	g_mime_stream_flush(flt);
	g_object_unref(flt);
}

static void
walk_leaf(struct walk *w, GMimeObject *obj, const char *path, unsigned depth)
{
	GMimeContentType	*ct = g_mime_object_get_content_type(obj);
	char			*mt = ct != NULL ?
	    g_mime_content_type_get_mime_type(ct) : NULL;
	const char		*disp = g_mime_object_get_disposition(obj);
	const char		*desc;
	GMimeDataWrapper	*dw;
	struct leaf		*l;
	char			*ctype;
	size_t			 i;

	ctype = xstrdup(mt != NULL ? mt : "text/plain");
	g_free(mt);
	for (i = 0; ctype[i] != '\0'; i++)
		ctype[i] = (char)tolower((unsigned char)ctype[i]);
	l = leaf_add(w, path, ctype, depth);
	leaf_name(l, g_mime_object_get_content_disposition_parameter(obj,
	    "filename"));
	leaf_name(l, g_mime_object_get_content_type_parameter(obj, "name"));
	desc = g_mime_object_get_header(obj, "Content-Description");
	if (desc != NULL && strchr(desc, '.') != NULL && strlen(desc) < 256 &&
	    strchr(desc, ' ') == NULL)
		leaf_name(l, desc);
	l->pub.attachment = l->names[0] != NULL ||
	    (disp != NULL && strcasecmp(disp, "attachment") == 0);
	l->pub.textual = is_textual(ctype) && !l->pub.attachment;

	if (GMIME_IS_MESSAGE_PARTIAL(obj))
		w->fn(w->ctx, RULE_PARTIAL, path, NULL,
		    "message/partial (fragments cannot be inspected)");

	dw = GMIME_IS_PART(obj) ? g_mime_part_get_content(GMIME_PART(obj)) :
	    NULL;
	if (dw != NULL) {
		GMimeStream	*out = g_mime_stream_mem_new();
		GByteArray	*ba;

		content_decode(dw, out);
		ba = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(out));
		g_mime_stream_mem_set_owner(GMIME_STREAM_MEM(out), FALSE);
		g_object_unref(out);
		l->pub.len = ba->len;
		l->data = g_byte_array_free(ba, FALSE);
		l->owned_g = true;
	}
	w->decoded += l->pub.len;
	free(ctype);
	if (!l->pub.textual && (strcmp(l->ctype, "message/rfc822") == 0 ||
	    strcmp(l->ctype, "message/global") == 0)) {
		walk_encoded_message(w, l, depth);
		return;
	}
	leaf_post(w, w->d->nleaves - 1, depth);
}

/* What every reading does with a leaf it found: files in a text body and
 * in TNEF become leaves of their own. */
static void
leaf_post(struct walk *w, size_t idx, unsigned depth)
{
	struct leaf	*l = &w->d->leaves[idx];

	pgp_check(w, l);
	if (is_html(l)) {		/* HTML smuggling, and uuencode */
		struct leaf copy = *l;	/* l moves when leaves grow */

		walk_html(w, copy.path, copy.data, copy.pub.len, depth);
		if (copy.pub.textual)
			text_extract(w, copy.path, copy.data, copy.pub.len,
			    depth);
		return;
	}
	if (l->pub.textual) {
		struct leaf copy = *l;	/* l moves when leaves grow */

		text_extract(w, copy.path, copy.data, copy.pub.len, depth);
		return;
	}
	if (is_smime(l)) {
		walk_smime(w, l, depth);
		return;
	}
	if (strcmp(l->ctype, "application/ms-tnef") == 0 ||
	    strcmp(l->ctype, "application/vnd.ms-tnef") == 0 ||
	    (l->names[0] != NULL && strcasecmp(l->names[0],
	    "winmail.dat") == 0)) {
		struct tnef_walk	 tw = { w, NULL, depth };
		char			*lpath = xstrdup(l->path);

		tw.path = lpath;
		if (tnef_extract(l->data, l->pub.len, 256, tnef_member,
		    &tw) == -1)
			w->fn(w->ctx, RULE_MALFORMED, lpath, NULL,
			    "TNEF data that cannot be read");
		else
			verdict_explain(w->explain, "part %s: TNEF "
			    "(winmail.dat) attachments listed", lpath);
		free(lpath);
	}
}

/* An attached message's own names count: "x.eml" is an .eml. Kept as a
 * leaf without content (its content is walked). */
static void
message_names(struct walk *w, GMimeObject *obj, const char *path,
    unsigned depth)
{
	const char	*fn = g_mime_object_get_content_disposition_parameter(
	    obj, "filename");
	const char	*nm = g_mime_object_get_content_type_parameter(obj,
	    "name");
	struct leaf	*l;

	if ((fn == NULL || *fn == '\0') && (nm == NULL || *nm == '\0'))
		return;
	l = leaf_add(w, path, "message/rfc822", depth);
	leaf_name(l, fn);
	leaf_name(l, nm);
	l->pub.attachment = true;
	l->pub.container = true;
}

static void
walk_text_block(struct walk *w, const char *path, const char *what,
    const char *text, unsigned depth)
{
	size_t		 n = text != NULL ? strlen(text) : 0, i;
	struct leaf	*l;
	char		*p;

	for (i = 0; i < n && isspace((unsigned char)text[i]); i++)
		;
	if (i == n || n < 64)	/* blank or a short "This is MIME" note */
		return;
	p = xasprintf("%s%s%s", path, *path != '\0' ? "." : "", what);
	l = leaf_add(w, p, "text/plain", depth);
	free(p);
	l->pub.textual = true;
	l->data = xmalloc(n);
	memcpy(l->data, text, n);
	l->pub.len = n;
	w->decoded += n;
	{
		struct leaf copy = *l;

		text_extract(w, copy.path, copy.data, copy.pub.len, depth);
	}
}

static void
walk_object(struct walk *w, GMimeObject *obj, const char *path,
    unsigned depth)
{
	if (!walk_limits(w, path, depth))
		return;
	if (GMIME_IS_MULTIPART(obj)) {
		GMimeMultipart	*mp = GMIME_MULTIPART(obj);
		int		 i, n = g_mime_multipart_get_count(mp);

		if (n == 0)	/* the boundary never appears: all is prologue */
			w->fn(w->ctx, RULE_MALFORMED, path, NULL, "multipart "
			    "without any part (boundary not found)");
		walk_text_block(w, path, "prologue",
		    g_mime_multipart_get_prologue(mp), depth);
		for (i = 0; i < n && !w->d->stopped; i++) {
			char *child = path_child(path, (size_t)i);

			walk_object(w, g_mime_multipart_get_part(mp, i), child,
			    depth + 1);
			free(child);
		}
		walk_text_block(w, path, "epilogue",
		    g_mime_multipart_get_epilogue(mp), depth);
	} else if (GMIME_IS_MESSAGE_PART(obj)) {
		GMimeMessage	*m = g_mime_message_part_get_message(
		    GMIME_MESSAGE_PART(obj));
		GMimeObject	*body = m != NULL ?
		    g_mime_message_get_mime_part(m) : NULL;

		message_names(w, obj, path, depth);
		if (body == NULL)
			return;
		if (GMIME_IS_MULTIPART(body))
			walk_object(w, body, path, depth + 1);
		else {
			char *child = path_child(path, 0);

			walk_object(w, body, child, depth + 1);
			free(child);
		}
	} else
		walk_leaf(w, obj, path, depth);
}

static const char *
warning_str(int code)
{
	switch (code) {
	case GMIME_WARN_DUPLICATED_HEADER: return "duplicated header";
	case GMIME_WARN_DUPLICATED_PARAMETER: return "duplicated parameter";
	case GMIME_WARN_UNENCODED_8BIT_HEADER: return "unencoded 8-bit header";
	case GMIME_WARN_INVALID_CONTENT_TYPE: return "invalid Content-Type";
	case GMIME_WARN_INVALID_RFC2047_HEADER_VALUE:
		return "invalid RFC 2047 header value";
	case GMIME_WARN_MALFORMED_MULTIPART: return "malformed multipart";
	case GMIME_WARN_TRUNCATED_MESSAGE: return "truncated message";
	case GMIME_WARN_MALFORMED_MESSAGE: return "malformed message";
	case GMIME_CRIT_INVALID_HEADER_NAME: return "invalid header name";
	case GMIME_CRIT_CONFLICTING_HEADER: return "conflicting headers";
	case GMIME_CRIT_CONFLICTING_PARAMETER: return "conflicting parameters";
	case GMIME_CRIT_MULTIPART_WITHOUT_BOUNDARY:
		return "multipart without boundary";
	case GMIME_WARN_INVALID_PARAMETER: return "invalid parameter";
	case GMIME_WARN_INVALID_ADDRESS_LIST: return "invalid address list";
	case GMIME_CRIT_NESTING_OVERFLOW: return "nesting overflow";
	case GMIME_WARN_PART_WITHOUT_CONTENT: return "part without content";
	case GMIME_CRIT_PART_WITHOUT_HEADERS_OR_CONTENT:
		return "part without headers or content";
	}
	return "parser warning";
}

/* ---- the tolerant reading ---------------------------------------------- */

#define DUP_PROBES	8	/* same-hash leaves compared byte for byte */

/* Indexes GMime's leaves by their bytes (a hash buckets, memcmp decides). */
static void
index_leaves(struct mime_doc *d)
{
	size_t	i, slot;

	d->nindexed = d->nleaves;
	d->idxcap = 16;
	while (d->idxcap < d->nindexed * 2)
		d->idxcap *= 2;
	d->idx = xcalloc(d->idxcap, sizeof *d->idx);
	d->hv = xcalloc(d->nindexed + 1, sizeof *d->hv);
	for (i = 0; i < d->nindexed; i++) {
		const struct leaf *l = &d->leaves[i];

		if (l->pub.len == 0 || l->pub.container)
			continue;
		d->hv[i] = hash64(l->data, l->pub.len);
		for (slot = d->hv[i] & (d->idxcap - 1); d->idx[slot] != 0;
		    slot = (slot + 1) & (d->idxcap - 1))
			;
		d->idx[slot] = i + 1;
	}
}

/* GMime's leaf with exactly these bytes, or MIME_LEAF_NONE. Past
 * DUP_PROBES equal hashes the answer is "none": inspected again, never
 * skipped on a guess. */
static size_t
indexed_copy(const struct mime_doc *d, const unsigned char *data, size_t len)
{
	uint64_t	h;
	size_t		slot, probes = 0;

	if (d->idxcap == 0 || len == 0)
		return MIME_LEAF_NONE;
	h = hash64(data, len);
	for (slot = h & (d->idxcap - 1); d->idx[slot] != 0;
	    slot = (slot + 1) & (d->idxcap - 1)) {
		size_t			 j = d->idx[slot] - 1;
		const struct leaf	*g = &d->leaves[j];

		if (d->hv[j] != h || g->pub.len != len)
			continue;
		if (++probes > DUP_PROBES)
			break;
		if (memcmp(g->data, data, len) == 0)
			return j;
	}
	return MIME_LEAF_NONE;
}

static void
lenient_leaf(void *ctx, const struct lenient_leaf *ll, unsigned char *data,
    size_t len)
{
	struct walk	*w = ctx;
	char		*path = xasprintf("%s:%s", READING_LENIENT, ll->path);
	struct leaf	*l = leaf_add(w, path, ll->ctype, ll->depth);
	size_t		 i;

	free(path);

	for (i = 0; i < ll->nnames; i++)
		leaf_name(l, ll->names[i]);
	l->data = data;
	l->pub.len = len;
	l->pub.attachment = ll->attachment;
	l->pub.textual = is_textual(ll->ctype) && !ll->attachment &&
	    !ll->container;
	l->pub.variant = ll->variant;
	l->pub.container = ll->container;
	l->pub.truncated = ll->truncated;
	w->decoded += len;
	if (ll->truncated)
		w->fn(w->ctx, RULE_SIZE_LIMIT, l->path, ll->names[0],
		    "part over the attachment size limit");
	if (ll->container)
		return;
	/* a copy of GMime's leaf: what is inside it is known already */
	l->pub.same_as = indexed_copy(w->d, data, len);
	if (l->pub.same_as == MIME_LEAF_NONE)
		leaf_post(w, w->d->nleaves - 1, ll->depth);
}

static void
lenient_event(void *ctx, enum lenient_event ev, const char *path,
    const char *detail)
{
	struct walk	*w = ctx;

	switch (ev) {
	case LEN_EV_PARTS:
	case LEN_EV_PIECES:
		w->fn(w->ctx, RULE_COUNT_LIMIT, path, NULL, detail);
		break;
	case LEN_EV_DEPTH:
		w->fn(w->ctx, RULE_DEPTH_LIMIT, path, NULL, detail);
		break;
	case LEN_EV_SIZE:
		w->fn(w->ctx, RULE_SIZE_LIMIT, path, NULL, detail);
		break;
	case LEN_EV_CONFLICT:
		w->d->hidden = true;
		w->fn(w->ctx, RULE_AMBIGUOUS, path, NULL, detail);
		break;
	case LEN_EV_ODD:
		w->d->hidden = true;
		verdict_explain(w->explain, "part %s: lenient reading: %s",
		    *path != '\0' ? path : "message", detail);
		break;
	}
}

static void
walk_lenient(struct walk *w)
{
	struct lenient_limits	lim;

	memset(&lim, 0, sizeof lim);
	lim.depth = w->pol->mime_depth;
	lim.parts = w->pol->mime_parts;
	lim.part_size = (size_t)w->pol->attachment_size + 1;
	lim.decoded = w->pol->decoded_size;
	lim.param_pieces = RFC2231_PIECES;
	index_leaves(w->d);
	w->reading = READING_LENIENT;
	w->decoded = 0;
	lenient_read(w->d->msg, w->d->len, &lim, lenient_leaf, lenient_event,
	    w);
}

void
mime_walk(struct mime_doc *d, const struct policy *pol, mime_finding_fn fn,
    void *ctx, struct verdict *explain)
{
	struct walk	 w = { READING_MIME, d, pol, fn, ctx, explain, 0 };
	GMimeObject	*body;
	unsigned	 i;
	size_t		 k;

	if (d->message == NULL) {
		struct leaf *l;

		fn(ctx, RULE_MALFORMED, "1", NULL, "not a MIME message "
		    "(no header block)");
		l = leaf_add(&w, "1", "application/octet-stream", 1);
		l->data = xmalloc(d->len);
		memcpy(l->data, d->msg, d->len);
		l->pub.len = d->len;
		d->hidden = true;
	} else if ((body = g_mime_message_get_mime_part(d->message)) != NULL)
		walk_object(&w, body, GMIME_IS_MULTIPART(body) ? "" : "1", 1);

	for (i = 0; i < d->nwarn; i++) {
		int		 c = d->warn[i].code;
		char		*s = xasprintf("%s at byte %lld%s%s",
		    warning_str(c), (long long)d->warn[i].offset,
		    d->warn[i].item != NULL ? ": " : "",
		    d->warn[i].item != NULL ? d->warn[i].item : "");

		if (c == GMIME_CRIT_NESTING_OVERFLOW)
			fn(ctx, RULE_DEPTH_LIMIT, "", NULL, s);
		else if (c == GMIME_CRIT_CONFLICTING_HEADER ||
		    c == GMIME_CRIT_CONFLICTING_PARAMETER ||
		    c == GMIME_CRIT_MULTIPART_WITHOUT_BOUNDARY ||
		    c == GMIME_CRIT_PART_WITHOUT_HEADERS_OR_CONTENT)
			fn(ctx, RULE_MALFORMED, "", NULL, s);
		else
			verdict_explain(explain, "parser: %s", s);
		if (c == GMIME_CRIT_CONFLICTING_HEADER ||
		    c == GMIME_CRIT_CONFLICTING_PARAMETER ||
		    c == GMIME_CRIT_MULTIPART_WITHOUT_BOUNDARY ||
		    c == GMIME_CRIT_PART_WITHOUT_HEADERS_OR_CONTENT ||
		    c == GMIME_WARN_MALFORMED_MULTIPART ||
		    c == GMIME_WARN_MALFORMED_MESSAGE ||
		    c == GMIME_WARN_TRUNCATED_MESSAGE)
			d->hidden = true;	/* GMime had to guess */
		free(s);
	}
	if (pol->lenient_reading && !d->stopped)
		walk_lenient(&w);

	d->pub = xcalloc(d->nleaves, sizeof *d->pub);
	for (k = 0; k < d->nleaves; k++) {
		struct leaf	*l = &d->leaves[k];
		size_t		 n;

		for (n = 0; n < MAX_NAMES && l->names[n] != NULL; n++)
			;
		d->pub[k] = l->pub;
		d->pub[k].path = l->path;
		d->pub[k].ctype = l->ctype;
		d->pub[k].names = (const char *const *)l->names;
		d->pub[k].nnames = n;
		d->pub[k].data = l->data != NULL ? l->data :
		    (const unsigned char *)"";
	}
}

const struct mime_leaf *
mime_leaves(const struct mime_doc *d, size_t *n_r)
{
	*n_r = d->nleaves;
	return d->pub;
}

bool
mime_parsed(const struct mime_doc *d)
{
	return d->message != NULL;
}

bool
mime_hidden_content(const struct mime_doc *d)
{
	return d->hidden;
}

/* ---- strip ------------------------------------------------------------ */

struct hit {
	GMimeMultipart	*parent;	/* replace child index in it, or */
	int		 index;
	GMimeMessage	*owner;		/* replace this message's body */
};

/* A leaf at path covers target if target is path or lies below it. */
static bool
covers(const char *path, const char *target)
{
	size_t	n = strlen(path);

	return strncmp(path, target, n) == 0 && (target[n] == '\0' ||
	    target[n] == '.' || target[n] == '/');
}

static bool
locate(GMimeObject *obj, const char *path, const char *target,
    GMimeMultipart *parent, int index, GMimeMessage *owner, struct hit *h)
{
	bool	found = false;

	if (GMIME_IS_MULTIPART(obj)) {
		GMimeMultipart	*mp = GMIME_MULTIPART(obj);
		int		 i, n = g_mime_multipart_get_count(mp);

		for (i = 0; i < n && !found; i++) {
			char *child = path_child(path, (size_t)i);

			found = locate(g_mime_multipart_get_part(mp, i), child,
			    target, mp, i, NULL, h);
			free(child);
		}
		return found;
	}
	if (GMIME_IS_MESSAGE_PART(obj)) {
		GMimeMessage	*m = g_mime_message_part_get_message(
		    GMIME_MESSAGE_PART(obj));
		GMimeObject	*body = m != NULL ?
		    g_mime_message_get_mime_part(m) : NULL;
		char		*child;

		if (body == NULL)
			return false;
		if (GMIME_IS_MULTIPART(body))
			return locate(body, path, target, NULL, -1, m, h);
		child = path_child(path, 0);
		found = locate(body, child, target, NULL, -1, m, h);
		free(child);
		return found;
	}
	if (!covers(path, target))
		return false;
	h->parent = parent;
	h->index = index;
	h->owner = owner;
	return true;
}

static GMimeObject *
notice_part(const char *text)
{
	GMimeTextPart	*tp = g_mime_text_part_new_with_subtype("plain");
	const char	*p;
	bool		 ascii = true;

	for (p = text; *p != '\0'; p++)
		if ((unsigned char)*p >= 0x80)
			ascii = false;
	g_mime_text_part_set_text(tp, text);
	g_mime_text_part_set_charset(tp, ascii ? "us-ascii" : "utf-8");
	g_mime_part_set_content_encoding(GMIME_PART(tp), ascii ?
	    GMIME_CONTENT_ENCODING_7BIT :
	    GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE);
	return GMIME_OBJECT(tp);
}

static void
write_body(GMimeObject *obj, struct verdict *v)
{
	GMimeFormatOptions	*fo = g_mime_format_options_new();
	GMimeStream		*out = g_mime_stream_mem_new();
	GMimeStream		*flt = g_mime_stream_filter_new(out);
	GMimeFilter		*u2d = g_mime_filter_unix2dos_new(FALSE);
	GByteArray		*ba;

	g_mime_format_options_set_newline_format(fo, GMIME_NEWLINE_FORMAT_DOS);
	g_mime_stream_filter_add(GMIME_STREAM_FILTER(flt), u2d);
	g_object_unref(u2d);
	g_mime_object_write_content_to_stream(obj, fo, flt);
	g_mime_stream_flush(flt);
	ba = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(out));
	free(v->new_body);
	v->new_body = xmalloc(ba->len);
	memcpy(v->new_body, ba->data, ba->len);
	v->new_body_len = ba->len;
	g_object_unref(flt);
	g_object_unref(out);
	g_mime_format_options_free(fo);
}

int
mime_strip(struct mime_doc *d, const char *const *paths,
    const char *const *notices, size_t n, struct verdict *v, struct err *err)
{
	GMimeObject	*top;
	size_t		 i, missed = 0;
	bool		 top_replaced = false;

	(void)err;
	if (d->message == NULL ||
	    (top = g_mime_message_get_mime_part(d->message)) == NULL)
		return (int)n;
	for (i = 0; i < n; i++) {
		struct hit	 h = { NULL, -1, NULL };
		GMimeObject	*tp;

		top = g_mime_message_get_mime_part(d->message);
		if (!locate(top, GMIME_IS_MULTIPART(top) ? "" : "1", paths[i],
		    NULL, -1, d->message, &h)) {
			missed++;
			continue;
		}
		tp = notice_part(notices[i]);
		if (h.parent != NULL) {
			GMimeObject *old = g_mime_multipart_replace(h.parent,
			    h.index, tp);

			if (old != NULL)
				g_object_unref(old);
		} else {
			g_mime_message_set_mime_part(h.owner, tp);
			if (h.owner == d->message)
				top_replaced = true;
		}
		g_object_unref(tp);
	}
	if (missed == n)
		return (int)missed;
	top = g_mime_message_get_mime_part(d->message);
	write_body(top, v);
	if (top_replaced) {
		GMimeContentEncoding e = g_mime_part_get_content_encoding(
		    GMIME_PART(top));
		const char *cs = g_mime_object_get_content_type_parameter(top,
		    "charset");
		char *ct = xasprintf("text/plain; charset=%s",
		    cs != NULL ? cs : "us-ascii");

		verdict_add_header_edit(v, "Content-Type", ct);
		verdict_add_header_edit(v, "Content-Transfer-Encoding",
		    g_mime_content_encoding_to_string(e));
		verdict_add_header_edit(v, "Content-Disposition", NULL);
		verdict_add_header_edit(v, "Content-Description", NULL);
		if (g_mime_object_get_header(GMIME_OBJECT(d->message),
		    "MIME-Version") == NULL)
			verdict_add_header_edit(v, "MIME-Version", "1.0");
		free(ct);
	}
	return (int)missed;
}

/* ---- render ----------------------------------------------------------- */

static bool
field_is(const unsigned char *f, size_t n, const char *name)
{
	size_t	k = strlen(name);

	return n > k && f[k] == ':' && strncasecmp((const char *)f, name,
	    k) == 0;
}

static void
put_field(struct buf *out, const char *name, const char *value,
    const char *nl)
{
	const char	*p;

	buf_printf(out, "%s: ", name);
	for (p = value; *p != '\0'; p++) {
		if (*p == '\n')
			buf_puts(out, nl);
		else if (*p != '\r')
			buf_append(out, p, 1);
	}
	buf_puts(out, nl);
}

void
message_render(const unsigned char *msg, size_t len, const struct verdict *v,
    const char *host, struct buf *out)
{
	const unsigned char	*p = msg, *end = msg + len, *body;
	const char		*nl;
	bool			*done = xcalloc(v->nheader_edits + 1, 1);
	bool			 subject_seen = false;
	size_t			 i;

	/* Where the header block ends, and which newline the message uses. */
	body = NULL;
	for (; p < end; ) {
		const unsigned char *eol = memchr(p, '\n', (size_t)(end - p));

		if (eol == NULL)
			break;
		if (eol == p || (eol == p + 1 && *p == '\r')) {
			body = eol + 1;
			break;
		}
		p = eol + 1;
	}
	p = len > 0 ? memchr(msg, '\n', len) : NULL;
	nl = p != NULL && p > msg && p[-1] == '\r' ? "\r\n" : "\n";
	if (body == NULL)
		body = end;

	for (p = msg; p < body; ) {
		const unsigned char	*f = p;
		size_t			 n;
		bool			 keep = true;

		/* one field: its line and the continuation lines */
		do {
			const unsigned char *eol = memchr(p, '\n',
			    (size_t)(body - p));

			p = eol != NULL ? eol + 1 : body;
		} while (p < body && (*p == ' ' || *p == '\t'));
		n = (size_t)(p - f);
		if (n <= 2 && (f[0] == '\r' || f[0] == '\n'))
			continue;			/* the blank line */
		if (field_is(f, n, "X-Portcullis"))
			keep = false;
		for (i = 0; i < v->nheader_edits && keep; i++)
			if (field_is(f, n, v->header_edits[i].name)) {
				if (!done[i] && v->header_edits[i].value != NULL)
					put_field(out, v->header_edits[i].name,
					    v->header_edits[i].value, nl);
				done[i] = true;
				keep = false;
			}
		if (keep && v->subject_tag != NULL &&
		    field_is(f, n, "Subject") && !subject_seen) {
			const unsigned char *val = f + 8;

			subject_seen = true;
			while (val < p && *val == ' ')
				val++;
			buf_printf(out, "Subject: %s ", v->subject_tag);
			buf_append(out, val, (size_t)(p - val));
			continue;
		}
		if (keep)
			buf_append(out, f, n);
	}
	for (i = 0; i < v->nheader_edits; i++)
		if (!done[i] && v->header_edits[i].value != NULL)
			put_field(out, v->header_edits[i].name,
			    v->header_edits[i].value, nl);
	if (v->subject_tag != NULL && !subject_seen)
		put_field(out, "Subject", v->subject_tag, nl);
	if (host != NULL && v->summary != NULL) {
		char *val = xasprintf("%s (%s)", v->summary, host);

		put_field(out, "X-Portcullis", val, nl);
		free(val);
	}
	buf_puts(out, nl);
	if (v->new_body == NULL)
		buf_append(out, body, (size_t)(end - body));
	else if (strcmp(nl, "\n") == 0) {
		for (i = 0; i < v->new_body_len; i++)
			if (!(v->new_body[i] == '\r' && i + 1 <
			    v->new_body_len && v->new_body[i + 1] == '\n'))
				buf_append(out, &v->new_body[i], 1);
	} else
		buf_append(out, v->new_body, v->new_body_len);
	free(done);
}

bool
mime_is_signed(const struct mime_doc *d)
{
	GMimeObject		*top;
	GMimeContentType	*ct;

	if (d->message == NULL ||
	    (top = g_mime_message_get_mime_part(d->message)) == NULL ||
	    (ct = g_mime_object_get_content_type(top)) == NULL)
		return false;
	return g_mime_content_type_is_type(ct, "multipart", "signed") ||
	    g_mime_content_type_is_type(ct, "application", "pkcs7-mime") ||
	    g_mime_content_type_is_type(ct, "application", "x-pkcs7-mime");
}

/* ---- disclaimer ------------------------------------------------------- */

static GMimeTextPart *
first_text(GMimeObject *obj, const char *subtype, unsigned depth)
{
	if (depth > 32)
		return NULL;
	if (GMIME_IS_MULTIPART(obj)) {
		GMimeMultipart	*mp = GMIME_MULTIPART(obj);
		GMimeContentType *ct = g_mime_object_get_content_type(obj);
		int		 i, n = g_mime_multipart_get_count(mp);

		/* an alternative's parts are one text; else only the first */
		for (i = 0; i < n; i++) {
			GMimeTextPart *tp = first_text(
			    g_mime_multipart_get_part(mp, i), subtype,
			    depth + 1);

			if (tp != NULL)
				return tp;
			if (!g_mime_content_type_is_type(ct, "multipart",
			    "alternative") && !g_mime_content_type_is_type(ct,
			    "multipart", "related"))
				break;
		}
		return NULL;
	}
	if (GMIME_IS_TEXT_PART(obj) && g_mime_object_get_disposition(obj) ==
	    NULL && g_mime_content_type_is_type(
	    g_mime_object_get_content_type(obj), "text", subtype))
		return GMIME_TEXT_PART(obj);
	return NULL;
}

static void
append_text(GMimeTextPart *tp, const char *add, bool html)
{
	char		*old = g_mime_text_part_get_text(tp);
	struct buf	 b = BUF_INIT;
	const char	*end;

	if (old == NULL)
		return;
	if (html && (end = strcasestr(old, "</body>")) != NULL) {
		buf_append(&b, old, (size_t)(end - old));
		buf_puts(&b, add);
		buf_puts(&b, end);
	} else {
		buf_puts(&b, old);
		buf_puts(&b, add);
	}
	g_mime_text_part_set_text(tp, buf_cstr(&b));
	g_mime_part_set_content_encoding(GMIME_PART(tp),
	    g_mime_part_get_best_content_encoding(GMIME_PART(tp),
	    GMIME_ENCODING_CONSTRAINT_7BIT));
	buf_free(&b);
	g_free(old);
}

int
mime_disclaimer(struct mime_doc *d, const char *text, struct verdict *v)
{
	GMimeObject	*top;
	GMimeTextPart	*plain, *html;
	struct buf	 h = BUF_INIT;
	const char	*p;
	char		*t;

	if (d->message == NULL || mime_is_signed(d) ||
	    (top = g_mime_message_get_mime_part(d->message)) == NULL)
		return -1;
	plain = first_text(top, "plain", 0);
	html = first_text(top, "html", 0);
	if (plain == NULL && html == NULL)
		return -1;
	if (plain != NULL) {
		t = xasprintf("\n\n%s\n", text);
		append_text(plain, t, false);
		free(t);
	}
	if (html != NULL) {
		buf_puts(&h, "<p>");
		for (p = text; *p != '\0'; p++)
			switch (*p) {
			case '<': buf_puts(&h, "&lt;"); break;
			case '>': buf_puts(&h, "&gt;"); break;
			case '&': buf_puts(&h, "&amp;"); break;
			case '\n': buf_puts(&h, "<br>\n"); break;
			default: buf_append(&h, p, 1);
			}
		buf_puts(&h, "</p>\n");
		append_text(html, buf_cstr(&h), true);
		buf_free(&h);
	}
	write_body(top, v);
	if (!GMIME_IS_MULTIPART(top)) {
		/* the only part changed its encoding: say so at the top */
		GMimeContentEncoding e = g_mime_part_get_content_encoding(
		    GMIME_PART(top));

		verdict_add_header_edit(v, "Content-Transfer-Encoding",
		    g_mime_content_encoding_to_string(e));
		t = g_mime_content_type_encode(g_mime_object_get_content_type(
		    top), NULL);
		verdict_add_header_edit(v, "Content-Type", t);
		g_free(t);
	}
	return 0;
}
