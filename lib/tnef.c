/* lib/tnef.c - attachments of a TNEF stream (see tnef.h). */
#include "config.h"

#include <stdint.h>
#include <string.h>

#include "tnef.h"
#include "util.h"

#define TNEF_SIGNATURE		0x223e9f78u
#define LVL_ATTACHMENT		0x02
#define ATT_ATTACH_REND_DATA	0x00069002u	/* starts an attachment */
#define ATT_ATTACH_TITLE	0x00018010u
#define ATT_ATTACH_DATA		0x0006800fu

struct pending {
	char			 name[256];
	const unsigned char	*data;
	size_t			 len;
	int			 open;
};

static void
flush(struct pending *a, unsigned *count, unsigned max, tnef_member_fn fn,
    void *ctx)
{
	if (a->open && a->data != NULL && *count < max) {
		fn(ctx, a->name[0] != '\0' ? a->name : NULL, a->data, a->len);
		(*count)++;
	}
	memset(a, 0, sizeof *a);
}

int
tnef_extract(const unsigned char *buf, size_t len, unsigned max,
    tnef_member_fn fn, void *ctx)
{
	size_t		pos = 6;	/* signature + legacy key */
	unsigned	count = 0;
	struct pending	a;

	if (len < 6 || le32(buf) != TNEF_SIGNATURE)
		return -1;
	memset(&a, 0, sizeof a);
	while (pos < len) {
		unsigned	 level;
		uint32_t	 attr, n;

		if (len - pos < 9)
			break;		/* trailing padding seen in the wild */
		level = buf[pos];
		attr = le32(buf + pos + 1);
		n = le32(buf + pos + 5);
		pos += 9;
		if (n > len - pos || len - pos - n < 2)
			return -1;	/* length beyond the data: corrupt */
		if (level == LVL_ATTACHMENT) {
			if (attr == ATT_ATTACH_REND_DATA) {
				flush(&a, &count, max, fn, ctx);
				a.open = 1;
			} else if (attr == ATT_ATTACH_TITLE) {
				size_t k = n < sizeof a.name - 1 ? n :
				    sizeof a.name - 1;

				a.open = 1;
				memcpy(a.name, buf + pos, k);
				a.name[k] = '\0';
			} else if (attr == ATT_ATTACH_DATA) {
				a.open = 1;
				a.data = buf + pos;
				a.len = n;
			}
		}
		pos += (size_t)n + 2;	/* data + checksum */
	}
	flush(&a, &count, max, fn, ctx);
	return 0;
}
