/*
 * lib/smuggle.h - HTML smuggling: files carried inside an HTML (or SVG)
 * document as base64 and rebuilt by the browser (a Blob from a script
 * string, a data: URI link, an atob() argument), decoded so that the
 * attachment rules and the virus scanner see them like any attachment.
 *
 * Recognised shapes: data:...;base64,... anywhere (href, src, CSS url());
 * a script string literal ('', "" or ``) of base64 characters, also when
 * several are joined by "+" across lines, by "," in an array, or by
 * "x += '...'" statements; the argument of atob(). Names come from a
 * nearby download attribute or "download" property.
 *
 * Pure and reentrant, one linear pass over the document. Bounded: at most
 * lim->max_blobs files are reported (the rest are counted), each at most
 * lim->max_out decoded bytes (cut there, truncated set). Decoded files are
 * handed to the callback, which takes ownership of the data (free()).
 */
#ifndef PORTCULLIS_SMUGGLE_H
#define PORTCULLIS_SMUGGLE_H

#include <stdbool.h>
#include <stddef.h>

struct smuggle_limits {
	unsigned	max_blobs;	/* files reported per document */
	size_t		min_chars;	/* base64 characters in a bare script
					 * string (data: and atob need 16) */
	size_t		max_out;	/* decoded bytes per file */
};

/*
 * how: "data-uri", "atob" or "script-string". name: from a download
 * attribute or property, NULL if none. mtype: the data: URI's media type
 * (lower case, no parameters), NULL if none. All borrowed for the call;
 * data is the callback's (free()).
 */
typedef void (*smuggle_fn)(void *ctx, const char *how, const char *name,
    const char *mtype, unsigned char *data, size_t len, bool truncated);

/* Calls fn for each file found in p (n bytes, borrowed). Returns the
 * number of files found past lim->max_blobs and not reported. */
unsigned	smuggle_extract(const unsigned char *p, size_t n,
		    const struct smuggle_limits *lim, smuggle_fn fn,
		    void *ctx);

#endif
