/* lib/mime.c - (stub) */
#include "config.h"

#include <stdlib.h>

#include "mime.h"

struct mime_doc {
	const unsigned char	*msg;
	size_t			 len;
};

struct mime_doc *
mime_open(const unsigned char *msg, size_t len)
{
	struct mime_doc *d = xcalloc(1, sizeof *d);

	d->msg = msg;
	d->len = len;
	return d;
}

void
mime_close(struct mime_doc **dp)
{
	free(*dp);
	*dp = NULL;
}

int
mime_walk(struct mime_doc *d, const struct policy *pol, uint64_t *budget,
    const struct mime_ops *ops, void *ctx, struct err *err)
{
	(void)d; (void)pol; (void)budget; (void)ops; (void)ctx; (void)err;
	return 0;
}

int
mime_strip(struct mime_doc *d, const char *const *paths,
    const char *const *notices, size_t n, struct verdict *v, struct err *err)
{
	(void)d; (void)paths; (void)notices; (void)n; (void)v; (void)err;
	return 0;
}

void
message_render(const unsigned char *msg, size_t len, const struct verdict *v,
    const char *host, struct buf *out)
{
	(void)v; (void)host;
	buf_append(out, msg, len);
}
