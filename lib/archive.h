/*
 * lib/archive.h - list and extract archive members from memory.
 *
 * The only user of libarchive. Formats and filters are enabled one by one
 * (never the "all" switches). archive_walk() opens one archive level;
 * nesting is driven by the caller, which calls archive_walk() again from
 * its entry callback on members that are archives themselves.
 *
 * Formats: lim->formats holds policy words (zip 7z rar tar gzip bzip2 xz
 * lzma zstd cab iso cpio lha xar ar). A buffer that starts with a
 * single-stream compressor (gzip bzip2 xz lzma zstd) is opened with that
 * filter and the tar and cpio formats: a .tar.gz gives the tar members,
 * anything else gives one member, named from the gzip header or "data",
 * which the caller may walk in turn. A buffer whose format
 * (archive_format_hint) is not in lim->formats is not opened: that is an
 * ARC_EV_UNREADABLE event, so callers that want to skip such content
 * silently check the hint first.
 *
 * Findings: a limit that stops reading a member still passes the member,
 * with truncated set and the bytes read so far, after its event.
 * ARC_EV_MEMBER_SIZE ends only that member; ARC_EV_TOTAL_SIZE, _RATIO,
 * _ENTRIES, _TIMEOUT and _ENCRYPTED end the walk, and so does
 * _UNREADABLE unless libarchive says only that member's data is bad.
 * Encrypted members are passed with encrypted set and no data.
 * ARC_EV_ANOMALY (duplicate names; for ZIP, a local header that names
 * another file than the central directory, a central record without a
 * local header, no end record, bytes after the end, views that disagree)
 * never stops the walk.
 *
 * ZIP views: readers disagree on what a zip holds (the central directory
 * of the last end record, of the first one -- a second zip after the
 * first, one hidden in the archive comment --, or the local headers
 * read one after the other). The walk lists every view from the bytes
 * (at most 4 end records: the first two and the last two), reads the
 * members with the view libarchive would pick itself, then reads once,
 * from its local header, each member only another view holds, with an
 * ARC_EV_ANOMALY event naming the views first. When the views agree
 * (any well-formed zip) nothing is read twice and the extra cost is one
 * pass over the directories. ZIP64 archives get the one view.
 *
 * Ownership: buf is borrowed for the call. The entry passed to the
 * callback and its names are valid only during the callback, and so is
 * its data unless the callback takes it (keep_r); so are the name and
 * detail passed to ops->event.
 * Thread-safety: reentrant; no shared state (nested calls from the entry
 * callback are fine). When the calling thread's LC_CTYPE is not UTF-8,
 * archive_walk() switches that thread alone to C.UTF-8 (uselocale) for
 * the walk, callbacks included, so that libarchive can convert names.
 */
#ifndef PORTCULLIS_ARCHIVE_H
#define PORTCULLIS_ARCHIVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

struct arc_limits {
	unsigned	 entries;	/* max entries in this archive (0 = off) */
	uint64_t	 member_size;	/* max decoded bytes per member (0 = off) */
	uint64_t	*budget;	/* decoded bytes left for the message;
					 * decremented; NULL = no budget */
	unsigned	 ratio;		/* max decoded/compressed ratio (0 = off);
					 * applies once over 1 MiB decoded */
	uint64_t	 deadline_ms;	/* clock_ms() deadline, 0 = none */
	const char	*formats;	/* space-separated formats enabled */
	const char	*passphrase;	/* for encrypted zip and 7z members
					 * (archive_find_passphrase), NULL =
					 * none: they are passed encrypted */
};

struct arc_entry {
	const char		*name;		/* UTF-8 path as stored; never NULL */
	const char		*alt_name;	/* other header's name if different
						 * (ZIP: name is the local header's,
						 * alt_name the central directory's),
						 * else NULL */
	const unsigned char	*data;		/* decoded bytes (maybe truncated) */
	size_t			 len;
	bool			 encrypted;	/* not read: no or wrong passphrase */
	const char		*enc_why;	/* encrypted and no passphrase
						 * can open it: why (static,
						 * ARC_7Z_UNSUPPORTED); else
						 * NULL */
	bool			 decrypted;	/* encrypted, read with passphrase */
	bool			 truncated;	/* stopped at a limit (event sent) */
	bool			 is_dir;
	uint64_t		 declared_size;	/* 0 if unknown */
	bool			*keep_r;	/* set *keep_r = true to keep
						 * data past the callback: the
						 * callback then owns it and
						 * frees it with free() */
};

enum arc_event {
	ARC_EV_ENCRYPTED,	/* archive-level: encrypted headers/whole archive */
	ARC_EV_UNREADABLE,	/* corrupt/unsupported: content not inspected */
	ARC_EV_ENTRIES,		/* too many entries */
	ARC_EV_MEMBER_SIZE,	/* a member over member_size */
	ARC_EV_TOTAL_SIZE,	/* message budget exhausted */
	ARC_EV_RATIO,		/* compression ratio over the limit */
	ARC_EV_ANOMALY,		/* names differ, duplicate entries, junk */
	ARC_EV_TIMEOUT		/* deadline passed */
};

struct arc_ops {
	/* Returns 0 to continue, -1 to stop the walk (error already in err). */
	int	(*entry)(void *ctx, const struct arc_entry *e, struct err *err);
	/* name: the member concerned or NULL; detail: words for the finding
	 * (libarchive's error text for _UNREADABLE/_ENCRYPTED). Both come
	 * from the archive in part: sanitise before logging. May be NULL. */
	void	(*event)(void *ctx, enum arc_event ev, const char *name,
		    const char *detail);
};

/*
 * Walks one archive in buf. Findings go to ops->event; members to
 * ops->entry. Returns the number of members passed to ops->entry, or -1 on
 * an operational failure (out of memory, callback stopped), with err set.
 * A corrupt archive is not a failure: it is an ARC_EV_UNREADABLE event.
 */
int	archive_walk(const unsigned char *buf, size_t len,
	    const struct arc_limits *lim, const struct arc_ops *ops, void *ctx,
	    struct err *err) __attribute__((warn_unused_result));

/*
 * Why an encrypted 7z stays encrypted, whatever the password: libarchive
 * (3.6 and 3.7 at least) reads a 7z's list of names but decrypts neither
 * its data nor encrypted headers ("... is encrypted, but currently not
 * supported"). The finding's detail for such an archive or its members.
 */
#define ARC_7Z_UNSUPPORTED	"7z encryption is not supported by the " \
				"archive library"

/*
 * Password-protected zip and 7z archives. Returns the index in pw[] of the
 * first passphrase that opens buf (every header, and the data of the first
 * encrypted member read through without an error, which checks the
 * CRC or MAC), ARC_PW_NONE when buf is encrypted and none of the first
 * max_attempts opens it before deadline_ms (0 = none), ARC_PW_UNSUPPORTED
 * when the library says it cannot decrypt it at all (7z: nothing is tried),
 * or ARC_PW_PLAIN when nothing in buf is encrypted, it is neither zip nor 7z, or its format is
 * not enabled (nothing to try). *tried_r (may be NULL) gets the number of
 * passphrases tried. Each attempt is bounded by lim (entries, member_size,
 * deadline) and does not touch lim->budget. One passphrase per attempt:
 * ZipCrypto's one-byte check lets about one wrong passphrase in 256
 * through, and libarchive would then never try the right one after it.
 */
#define ARC_PW_NONE	(-1)
#define ARC_PW_PLAIN	(-2)
#define ARC_PW_UNSUPPORTED (-3)	/* encrypted in a way the library cannot
				 * decrypt (ARC_7Z_UNSUPPORTED): nothing
				 * tried */
int	archive_find_passphrase(const unsigned char *buf, size_t len,
	    const struct arc_limits *lim, const char *const *pw, size_t npw,
	    unsigned max_attempts, uint64_t deadline_ms, unsigned *tried_r);

/* Name of the format archive_walk() would use, for --explain. */
const char *archive_format_hint(const unsigned char *buf, size_t len);

#endif
