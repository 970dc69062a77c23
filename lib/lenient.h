/*
 * lib/lenient.h - the tolerant reading of a message: what the most
 * tolerant mail client could take out of it, whatever GMime makes of it.
 *
 * GMime reads MIME strictly; mail clients do not. This reading takes the
 * bytes as they are and errs on the side of finding parts:
 * - line ends may be CRLF, LF or a bare CR;
 * - header fields may have space before the colon, upper-case names, junk
 *   in folded lines, and no blank line before the body;
 * - a multipart is split at every line that is the delimiter of ANY
 *   boundary declared anywhere in the message, so parts in a prologue or
 *   an epilogue, behind a reused or a second boundary, or after a missing
 *   close delimiter are found; a delimiter of an outer boundary closes the
 *   inner multiparts;
 * - of two Content-Type fields the FIRST is used (GMime uses the last, so
 *   the two readings together cover both);
 * - transfer encodings are recognised however they are written (quoted,
 *   commented, RFC 2047-encoded, mixed case, x- forms, typos, two fields:
 *   each is decoded), and decoded tolerantly (base64 with junk, misplaced
 *   or missing padding: continuous and by groups of four; quoted-printable
 *   with any soft break, lower-case hex and invalid escapes kept);
 * - names come from Content-Disposition (also without a disposition type),
 *   Content-Type, RFC 2231 continuations and RFC 2047 words; long names
 *   keep their end (the extension).
 *
 * Pure and reentrant: no GMime, no I/O, no state between calls. Bounded by
 * struct lenient_limits. Each leaf goes to a callback that takes ownership
 * of the decoded data (free()).
 */
#ifndef PORTCULLIS_LENIENT_H
#define PORTCULLIS_LENIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LENIENT_NAMES	4

struct lenient_leaf {
	const char	*path;		/* "1.2", like GMime's where they agree */
	const char	*ctype;		/* "type/subtype", lower case */
	const char	*names[LENIENT_NAMES];	/* raw bytes, NULL-padded */
	size_t		 nnames;
	const char	*encoding;	/* what the body was decoded as */
	unsigned	 depth;
	bool		 attachment;	/* named, or disposition attachment */
	bool		 variant;	/* another decoding of the same body */
	bool		 truncated;	/* decoding stopped at part_size */
	bool		 container;	/* a message/rfc822 part: names only */
};

enum lenient_event {
	LEN_EV_PARTS,		/* more entities than limits.parts */
	LEN_EV_DEPTH,		/* nesting deeper than limits.depth */
	LEN_EV_PIECES,		/* RFC 2231 continuations over the limit */
	LEN_EV_SIZE,		/* the decoded bytes' budget is spent */
	LEN_EV_CONFLICT,	/* fields that readers resolve differently */
	LEN_EV_ODD		/* something a strict reader would refuse */
};

struct lenient_limits {
	unsigned	depth;		/* message and multipart nesting */
	unsigned	parts;		/* entities read */
	size_t		part_size;	/* decoded bytes kept per part */
	uint64_t	decoded;	/* decoded bytes in all */
	unsigned	param_pieces;	/* RFC 2231 pieces per parameter */
};

/* data (len bytes) is the callee's; free() it. */
typedef void (*lenient_leaf_fn)(void *ctx, const struct lenient_leaf *l,
    unsigned char *data, size_t len);
typedef void (*lenient_event_fn)(void *ctx, enum lenient_event ev,
    const char *path, const char *detail);

/* Reads msg (borrowed for the call). Never fails: what cannot be read as
 * MIME is one text leaf. */
void	lenient_read(const unsigned char *msg, size_t len,
	    const struct lenient_limits *lim, lenient_leaf_fn leaf,
	    lenient_event_fn event, void *ctx);

/*
 * The decoders, for tests and for scan.c. Each writes at most max bytes to
 * a new buffer (*out_r, caller frees) and returns its length; *cut_r (may
 * be NULL) tells whether max stopped it.
 * base64: groups = false reads one bit stream, skipping every character
 * outside the alphabet, "=" included; groups = true decodes each group of
 * four on its own, a "=" ending the group.
 */
size_t	lenient_base64(const unsigned char *in, size_t n, bool groups,
	    size_t max, unsigned char **out_r, bool *cut_r);
size_t	lenient_qp(const unsigned char *in, size_t n, size_t max,
	    unsigned char **out_r, bool *cut_r);

/* The value of a base64 character (0-63), -1 outside the alphabet; with
 * urlsafe, "-" and "_" count as "+" and "/" (base64url, in scripts). */
int	lenient_b64val(unsigned char c, bool urlsafe);

/* The transfer encoding a Content-Transfer-Encoding value means to a
 * tolerant client: "base64", "quoted-printable", "uuencode", "binhex" or
 * "identity". */
const char *lenient_cte(const char *value);

#endif
