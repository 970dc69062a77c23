/*
 * milter/poison.h - the messages that killed a scanning worker (crash,
 * deadline, memory), by SHA-256: bounded (least recently seen dropped
 * first) and kept in a file so that the list survives a restart.
 *
 * The file ([daemon] spool_dir/poison) has one line per message, oldest
 * first: "HEX-SHA256 UNIX-TIME reason". It is rewritten whole on each
 * addition (a temporary file, fsync, rename: never half written) and read
 * at start; lines that do not parse are skipped, and only the newest
 * POISON_MAX are kept.
 *
 * Ownership: struct poison is the keeper's; poison_free() releases it.
 * Errors: poison_add returns -1 with err when the file cannot be written
 * (the entry stays in memory). Thread-safety: none (the keeper is one
 * thread).
 */
#ifndef PORTCULLIS_POISON_H
#define PORTCULLIS_POISON_H

#include <stdbool.h>

#include "digest.h"
#include "err.h"

#define POISON_MAX	1000

struct poison;

/* A list persisted at path (copied; NULL = in memory only), holding at
 * most max entries, loaded from the file if it exists. Never NULL;
 * *nloaded_r (may be NULL) gets the entries read. */
struct poison	*poison_new(const char *path, unsigned max, unsigned *nloaded_r);
void		 poison_free(struct poison **pp);
/* True if d is listed (and marks it as seen now). */
bool		 poison_has(struct poison *p, const unsigned char d[DIGEST_LEN]);
/* Lists d (why: a short reason, sanitised) and rewrites the file. */
int		 poison_add(struct poison *p, const unsigned char d[DIGEST_LEN],
		    const char *why, struct err *err)
		    __attribute__((warn_unused_result));
unsigned	 poison_count(const struct poison *p);

#endif
