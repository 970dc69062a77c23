/*
 * lib/av.h - virus scanning with libclamav, linked in-process.
 *
 * lib/scan-clamav.c is the only includer of clamav.h. One compiled engine
 * per process, shared read-only by every thread, reference counted: a scan
 * pins the engine it started with, and a reload builds a new engine beside
 * the old one and swaps it in; the old one is freed when its last scan
 * ends.
 *
 * av_global_init() once in main() before any thread. struct av_store holds
 * "the current engine" and is the object the daemon and the CLI use.
 *
 * Limits fail closed: ClamAV's own limits (scan size, file size, recursion,
 * files, scan time) come from the policy and a hit is a finding
 * (AV_UNSCANNED with the Heuristics.Limits.Exceeded.* name), never clean.
 * Encrypted archives and documents are AV_ENCRYPTED. A scanner error is an
 * operational failure (-1 + struct err).
 *
 * Concurrency: at most pol->max_scans scans run at once (0 = one per
 * online CPU); further scans wait up to the policy's scan_time for a slot,
 * then fail (-1). Engines loaded by one av_store share one limit across
 * reloads.
 *
 * libclamav's own messages never reach stderr by default: they go to the
 * sink set with av_set_log(), or to stderr only when the environment
 * variable PORTCULLIS_CLAMAV_LOG is set (debugging), else nowhere.
 *
 * Thread-safety: av_store_* and av_engine_ref/unref are thread-safe;
 * av_engine_scan may run in any number of threads at once. av_set_log and
 * av_global_init must run before any thread is started.
 */
#ifndef PORTCULLIS_AV_H
#define PORTCULLIS_AV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "policy.h"
#include "scan.h"

struct av_engine;
struct av_store;

enum av_log_level {
	AV_LOG_ERROR = 0,
	AV_LOG_WARNING,
	AV_LOG_INFO,
	AV_LOG_DEBUG
};

/* Receives one libclamav message (no trailing newline, borrowed for the
 * call). Called from whichever thread libclamav runs in. Scan messages
 * can quote names from the message being scanned: sanitise before use. */
typedef void (*av_log_fn)(enum av_log_level level, const char *msg,
    void *ctx);

/* Routes libclamav's messages to fn (NULL = drop them). Before threads. */
void	av_set_log(av_log_fn fn, void *ctx);

/* Once per process, before any thread: routes libclamav's messages and
 * calls cl_init. 0 = ready (also on repeated calls), -1 = err says why. */
int	av_global_init(struct err *err) __attribute__((warn_unused_result));

/*
 * Loads and compiles the database directory (or single file) dbdir with
 * the limits of pol (borrowed for the call). 0 = *engine_r holds one
 * reference (av_engine_unref); -1 = err says why, naming the file that
 * failed when libclamav says which. A directory without signatures is an
 * error.
 */
int	av_engine_load(const struct policy *pol, const char *dbdir,
	    struct av_engine **engine_r, struct err *err)
	    __attribute__((warn_unused_result));
/* Adds a reference and returns e. */
struct av_engine *av_engine_ref(struct av_engine *e);
/* Drops a reference (NULL allowed), frees at zero, sets *ep = NULL. */
void	av_engine_unref(struct av_engine **ep);

/*
 * av_scan_fn for struct scan_deps; av_ctx is a struct av_engine * that
 * the caller holds a reference to. Scans len bytes at buf (borrowed) from
 * memory. flags: AV_SCAN_CONTAINER turns libclamav's archive parsers off
 * for this call (CL_SCAN_PARSE_ARCHIVE: zip, rar, 7z, tar, cab, gzip...;
 * documents, PDF, executables and mail stay parsed), so the buffer's own
 * bytes meet every signature, hash signatures of the whole file
 * included, and nothing is inflated a second time.
 * 0 = *res holds the result (name is "" for AV_CLEAN);
 * -1 = scanner error, time-out or no free scan slot (err says why).
 */
int	av_engine_scan(void *av_ctx, const unsigned char *buf, size_t len,
	    const char *name, unsigned flags, struct av_result *res,
	    struct err *err);

/* Signatures loaded. */
unsigned	 av_engine_signatures(const struct av_engine *e);
/* Build time of the database (unix s): the .cvd header's, or for a
 * database without one the newest modification time of its files. */
int64_t		 av_engine_db_time(const struct av_engine *e);
/* The database version ("27500"), or NULL if unknown (no .cvd/.cld).
 * Borrowed while the reference is held. */
const char	*av_engine_db_version(const struct av_engine *e);
/* Milliseconds spent in load plus compile. */
uint64_t	 av_engine_load_ms(const struct av_engine *e);

/* The process-wide holder. dbdir (NULL = pol->av_database) and the
 * limits come from pol (copied; pol is borrowed for the call). Holds no
 * engine until the first successful av_store_reload. Never NULL. */
struct av_store	*av_store_new(const struct policy *pol,
		    const char *dbdir);
/* Drops the store's engine reference (scans in flight keep theirs). */
void		 av_store_free(struct av_store **sp);
/* Current engine with a reference (caller unrefs), or NULL if none yet. */
struct av_engine *av_store_get(struct av_store *s);
/*
 * Loads a new engine if the database changed, or force, or if no engine
 * is loaded yet. Change = cl_statchkdir, plus a count of the database
 * files so that a removal is seen too; it compares inodes and whole-second
 * mtimes, so an in-place rewrite within the second of the last check
 * needs force. Compiles without holding the lock that av_store_get takes,
 * then swaps the new engine in. Reloads are serialised. Runs in the
 * caller's thread (the daemon uses a background thread).
 * 1 = swapped, 0 = unchanged, -1 = load failed and the old engine (if any)
 * stays (err says why). A failed database is retried on the next call.
 */
int		 av_store_reload(struct av_store *s, bool force,
		    struct err *err) __attribute__((warn_unused_result));
/* Takes new settings (database dir, NULL = pol->av_database; limits) for
 * the next reload; max_scans applies at once. A changed directory makes
 * the next reload load. */
void		 av_store_set_policy(struct av_store *s,
		    const struct policy *pol, const char *dbdir);

/*
 * One scan slot (max_scans) for the calling thread for a whole message:
 * decoding, archives and every scan then count as one, so that memory is
 * bounded by max_scans messages, not by the number of sessions. The
 * thread's scans take no other slot meanwhile. 0 = held, -1 = none free
 * after wait_ms. Leave from the same thread.
 */
int	av_store_enter(struct av_store *s, uint64_t wait_ms)
	    __attribute__((warn_unused_result));
void	av_store_leave(struct av_store *s);

#endif
