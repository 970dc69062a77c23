/* milter/inproc.c - scanning in the libmilter threads, for benchmarks
 * only (inproc.h). Compiled into the daemon only by ./configure
 * --enable-inprocess-scan. */
#include "config.h"

#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "av.h"
#include "inproc.h"
#include "log.h"
#include "magic.h"
#include "scan.h"

/* As milter/worker.c's WORKER_MMAP_MIN and WORKER_TRIM_MAX: the heap
 * kept between scans, so that only the process layout differs. */
#define INPROC_MMAP_MIN		(32 << 20)
#define INPROC_TRIM_MAX		(64 << 20)

static struct {
	struct av_store	*store;
	struct typer	*typer;
} ip;

static void *
inproc_load(void *arg)
{
	struct av_engine	*e;
	struct err		 err = ERR_INIT;
	int			 r;

	r = av_store_reload(ip.store, arg != NULL, &err);
	if (r == -1)
		log_event(LOG_ERR, NULL, "signatures", err.msg,
		    " result=failed process=inprocess");
	else if (r == 1 && (e = av_store_get(ip.store)) != NULL) {
		log_event(LOG_INFO, NULL, "signatures", NULL, " result=loaded "
		    "signatures=%u ms=%llu process=inprocess",
		    av_engine_signatures(e),
		    (unsigned long long)av_engine_load_ms(e));
		av_engine_unref(&e);
	}
	return NULL;
}

static int
inproc_spawn(bool force, struct err *err)
{
	pthread_t	tid;
	int		r;

	if ((r = pthread_create(&tid, NULL, inproc_load,
	    force ? &ip : NULL)) != 0 || (r = pthread_detach(tid)) != 0) {
		err_set(err, "in-process scanning: pthread_create: %s",
		    strerror(r));
		return -1;
	}
	return 0;
}

int
inproc_start(const struct policy *pol, const char *sig_dir, struct err *err)
{
	if (typer_new(&ip.typer, err) == -1)
		return -1;
	(void)mallopt(M_MMAP_THRESHOLD, INPROC_MMAP_MIN);
	(void)mallopt(M_TRIM_THRESHOLD, INPROC_TRIM_MAX);
	log_event(LOG_WARNING, NULL, "warning", "in-process scanning (a "
	    "benchmark build): no scanning workers, a parser crash stops the "
	    "daemon", " what=inprocess");
	if (!pol->av_enabled)
		return 0;
	ip.store = av_store_new(pol, sig_dir);
	return inproc_spawn(false, err);
}

void
inproc_reload(void)
{
	struct err	err = ERR_INIT;

	if (ip.store != NULL && inproc_spawn(true, &err) == -1)
		log_event(LOG_ERR, NULL, "error", err.msg, " what=inprocess");
}

void
inproc_scan(const struct pool_job *j, struct pool_result *res)
{
	struct scan_deps	 deps;
	struct av_engine	*eng = NULL;
	struct err		 err = ERR_INIT;
	bool			 slot = false;

	memset(res, 0, sizeof *res);
	memset(&deps, 0, sizeof deps);
	deps.typer = ip.typer;
	deps.explain = j->explain;
	deps.progress = j->progress;
	deps.progress_ctx = j->progress_ctx;
	if (j->pol->av_enabled) {
		if (ip.store == NULL ||
		    (eng = av_store_get(ip.store)) == NULL) {
			res->status = WS_NOT_READY;
			snprintf(res->detail, sizeof res->detail,
			    "signatures not loaded yet");
			goto out;
		}
		deps.av_scan = av_engine_scan;
		deps.av_ctx = eng;
		deps.av_db_time = av_engine_db_time(eng);
		deps.av_db_version = av_engine_db_version(eng);
		/* max_scans messages at once, as many as the workers */
		if (av_store_enter(ip.store, j->pol->scan_time_ms) == -1) {
			res->status = WS_BUSY;
			snprintf(res->detail, sizeof res->detail,
			    "no scan slot free within scan_time");
			goto out;
		}
		slot = true;
	}
	if (scan_message(j->pol, &deps, j->env, j->msg, j->len,
	    &res->verdict, &err) == -1) {
		res->status = WS_ERROR;
		snprintf(res->detail, sizeof res->detail, "%.*s",
		    (int)sizeof res->detail - 1, err.msg);
	} else
		res->status = WS_OK;
out:
	if (slot)
		av_store_leave(ip.store);
	av_engine_unref(&eng);
}
