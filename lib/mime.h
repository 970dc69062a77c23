/*
 * lib/mime.h - the MIME side of inspection, with GMime: parse, walk every
 * leaf (decoded), rebuild with parts stripped, and render the message as
 * it will be delivered. The only GMime user besides main's g_mime_init().
 *
 * Ownership: struct mime_doc borrows the message bytes until mime_close();
 * leaves passed to callbacks are valid during the callback only.
 * Thread-safety: a doc belongs to one thread at a time.
 */
#ifndef PORTCULLIS_MIME_H
#define PORTCULLIS_MIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "policy.h"
#include "util.h"
#include "verdict.h"

struct mime_doc;

/* GMime's process-wide set-up and tear-down: once, before any thread. */
void	mime_init(void);
void	mime_shutdown(void);

/* The readings of a message (SPEC §2, "every reading counts"). */
#define READING_MIME	"mime"		/* GMime's strict reading */
#define READING_LENIENT	"lenient"	/* the most tolerant client's (lenient.h) */

struct mime_leaf {
	const char		*reading;	/* READING_*, static */
	bool			 lenient;	/* reading is READING_LENIENT */
	const char		*path;		/* "1.2"; "lenient:1.2" for the
						   tolerant reading's own */
	const char		*ctype;		/* declared, lower case */
	const char *const	*names;		/* every name, raw, distinct */
	size_t			 nnames;
	const unsigned char	*data;		/* decoded content */
	size_t			 len;
	unsigned		 depth;		/* MIME nesting level */
	bool			 attachment;	/* named or disposition attachment */
	bool			 textual;	/* text/ * body, may hide uuencode */
	bool			 truncated;	/* decoding stopped at a limit */
	bool			 variant;	/* another decoding of a part */
	bool			 container;	/* message/rfc822: names only */
	size_t			 same_as;	/* tolerant reading: GMime's leaf
						   with these very bytes (its
						   index), or MIME_LEAF_NONE */
};

#define MIME_LEAF_NONE	((size_t)-1)

/* A structural finding at path (detail: words). */
typedef void (*mime_finding_fn)(void *ctx, enum rule rule, const char *path,
    const char *filename, const char *detail);

/* Parses msg (borrowed until mime_close). Never fails on bad MIME: an
 * unparseable message becomes a single leaf plus a finding at walk time. */
struct mime_doc	*mime_open(const unsigned char *msg, size_t len);
void		 mime_close(struct mime_doc **dp);

/*
 * Reads the message twice under the limits of pol (depth, parts, decoded
 * bytes): GMime's tree, every leaf decoded once, then the tolerant reading
 * (lenient.h); files inside text (uuencode, BinHex, yEnc) and TNEF become
 * leaves in both. Structural findings go to fn. Afterwards mime_leaves()
 * lists the leaves, GMime's first, each marked with its reading. explain
 * (may be NULL) receives the parser's non-critical warnings.
 */
void	mime_walk(struct mime_doc *d, const struct policy *pol,
	    mime_finding_fn fn, void *ctx, struct verdict *explain);
/* The leaves found by mime_walk (owned by d, valid until mime_close). */
const struct mime_leaf *mime_leaves(const struct mime_doc *d, size_t *n_r);
/* True when the message did not parse as MIME or GMime had to guess (a
 * conflicting or broken structure): then ClamAV's own mail parser reading
 * the raw message is worth it. */
bool	mime_hidden_content(const struct mime_doc *d);
/* True when GMime read a header block (its reading has real parts). */
bool	mime_parsed(const struct mime_doc *d);
/* True when the message is signed as a whole (multipart/signed, S/MIME
 * application/pkcs7-mime): rewriting its body breaks the signature. */
bool	mime_is_signed(const struct mime_doc *d);

/*
 * Replaces each leaf named in paths (n of them) by a text/plain part
 * carrying notices[i], and writes the new body (CRLF) and the top-level
 * header edits into v (new_body, header_edits). 0 or -1 (err).
 */
int	mime_strip(struct mime_doc *d, const char *const *paths,
	    const char *const *notices, size_t n, struct verdict *v,
	    struct err *err) __attribute__((warn_unused_result));

/*
 * Appends text (UTF-8, "\n" lines) to the first text/plain and text/html
 * body of the message (after any strip) and writes the new body and
 * top-level edits into v. Signed messages are left alone. 0 = added,
 * -1 = no text body to add it to (or signed).
 */
int	mime_disclaimer(struct mime_doc *d, const char *text,
	    struct verdict *v);

/*
 * The message as it will be delivered under v: X-Portcullis headers from
 * outside removed, ours added (with host), subject tag, header edits and
 * body replacement applied. Appends to out.
 */
void	message_render(const unsigned char *msg, size_t len,
	    const struct verdict *v, const char *host, struct buf *out);

#endif
