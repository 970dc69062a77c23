/* lib/archive.c - archive members from memory (stub, to be written). */
#include "config.h"

#include "archive.h"

int
archive_walk(const unsigned char *buf, size_t len,
    const struct arc_limits *lim, const struct arc_ops *ops, void *ctx,
    struct err *err)
{
	(void)buf; (void)len; (void)lim; (void)ops; (void)ctx; (void)err;
	return 0;
}

const char *
archive_format_hint(const unsigned char *buf, size_t len)
{
	(void)buf; (void)len;
	return "unknown";
}
