/*
 * lib/av.h - virus scanning with libclamav, linked in-process.
 *
 * The only includer of clamav.h. One compiled engine per process, shared
 * read-only by every thread, reference counted: a scan pins the engine it
 * started with, and a reload builds a new engine beside the old one and
 * swaps it in; the old one is freed when its last scan ends.
 *
 * av_global_init() once in main() before any thread. struct av_store holds
 * "the current engine" and is the object the daemon and the CLI use.
 * Thread-safety: av_store_* and av_engine_ref/unref are thread-safe;
 * av_engine_scan may run in any number of threads at once.
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

int	av_global_init(struct err *err) __attribute__((warn_unused_result));

/* Loads and compiles the database directory dbdir with the limits of pol.
 * 0 = *engine_r holds one reference; -1 = err says why. */
int	av_engine_load(const struct policy *pol, const char *dbdir,
	    struct av_engine **engine_r, struct err *err)
	    __attribute__((warn_unused_result));
struct av_engine *av_engine_ref(struct av_engine *e);
void	av_engine_unref(struct av_engine **ep);

/* av_scan_fn for struct scan_deps; av_ctx is a struct av_engine *. */
int	av_engine_scan(void *av_ctx, const unsigned char *buf, size_t len,
	    const char *name, struct av_result *res, struct err *err);

unsigned	 av_engine_signatures(const struct av_engine *e);
int64_t		 av_engine_db_time(const struct av_engine *e);	/* unix s */
const char	*av_engine_db_version(const struct av_engine *e);
uint64_t	 av_engine_load_ms(const struct av_engine *e);

/* The process-wide holder. dbdir and limits come from pol (copied). */
struct av_store	*av_store_new(const struct policy *pol, const char *dbdir);
void		 av_store_free(struct av_store **sp);
/* Current engine with a reference (caller unrefs), or NULL if none yet. */
struct av_engine *av_store_get(struct av_store *s);
/*
 * Loads a new engine if the database changed (or force), without holding
 * any lock while compiling, then swaps it in. Runs in the caller's thread
 * (the daemon uses a background thread). 1 = swapped, 0 = unchanged,
 * -1 = load failed and the old engine stays (err says why).
 */
int		 av_store_reload(struct av_store *s, bool force, struct err *err);
/* Takes new settings (database dir, limits) for the next reload. */
void		 av_store_set_policy(struct av_store *s,
		    const struct policy *pol, const char *dbdir);

#endif
