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

struct mime_leaf {
	const char		*path;		/* "1.2" */
	const char		*ctype;		/* declared, lower case */
	const char *const	*names;		/* every name, raw, distinct */
	size_t			 nnames;
	const unsigned char	*data;		/* decoded content */
	size_t			 len;
	unsigned		 depth;		/* MIME nesting level */
	bool			 attachment;	/* named or disposition attachment */
	bool			 textual;	/* text/ * body, may hide uuencode */
	bool			 truncated;	/* decoding stopped at a limit */
};

struct mime_ops {
	/* Each decoded leaf. 0 = continue, -1 = stop (err set). */
	int	(*leaf)(void *ctx, const struct mime_leaf *l, struct err *err);
	/* A structural finding at path (detail: words). */
	void	(*finding)(void *ctx, enum rule rule, const char *path,
		    const char *filename, const char *detail);
};

/* Parses msg (borrowed until mime_close). Never fails on bad MIME: an
 * unparseable message becomes a single leaf plus a finding. */
struct mime_doc	*mime_open(const unsigned char *msg, size_t len);
void		 mime_close(struct mime_doc **dp);

/* Walks every leaf under the limits of pol; budget is the decoded bytes
 * left for the message (decremented). 0, or -1 if a callback stopped. */
int	mime_walk(struct mime_doc *d, const struct policy *pol,
	    uint64_t *budget, const struct mime_ops *ops, void *ctx,
	    struct err *err) __attribute__((warn_unused_result));

/*
 * Replaces each leaf named in paths (n of them) by a text/plain part
 * carrying notices[i], and writes the new body (CRLF) and the top-level
 * header edits into v (new_body, header_edits). 0 or -1 (err).
 */
int	mime_strip(struct mime_doc *d, const char *const *paths,
	    const char *const *notices, size_t n, struct verdict *v,
	    struct err *err) __attribute__((warn_unused_result));

/*
 * The message as it will be delivered under v: X-Portcullis headers from
 * outside removed, ours added (with host), subject tag, header edits and
 * body replacement applied. Appends to out.
 */
void	message_render(const unsigned char *msg, size_t len,
	    const struct verdict *v, const char *host, struct buf *out);

#endif
