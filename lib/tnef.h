/*
 * lib/tnef.h - list the attachments of an application/ms-tnef part
 * (winmail.dat), so that the attachment policy sees their names and bytes.
 *
 * Only the TNEF attributes that carry attachments are read (attAttachTitle,
 * attAttachData); MAPI properties are skipped. The virus scanner parses
 * TNEF fully on its own. Pure and reentrant; data is borrowed for the call.
 */
#ifndef PORTCULLIS_TNEF_H
#define PORTCULLIS_TNEF_H

#include <stddef.h>

/* Called for each attachment; name may be NULL; data valid during the call. */
typedef void (*tnef_member_fn)(void *ctx, const char *name,
    const unsigned char *data, size_t len);

/* 0 = walked (count in *n not needed), -1 = not TNEF or corrupt.
 * At most max attachments are reported. */
int	tnef_extract(const unsigned char *buf, size_t len, unsigned max,
	    tnef_member_fn fn, void *ctx);

#endif
