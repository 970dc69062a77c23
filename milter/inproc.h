/*
 * milter/inproc.h - benchmark builds only (./configure
 * --enable-inprocess-scan, never a release): the milter's libmilter
 * threads scan each message themselves, with one engine in this process,
 * as the daemon did before the engine keeper and its workers. It exists so
 * that bench/run --compare can measure what the workers cost against the
 * same code scanning in-process; nothing else differs: the same callbacks,
 * the same lib/ entry point (scan_message) the worker calls, max_scans
 * scans at once (av_store_enter, one per CPU by default, as many as the
 * workers), and the worker's heap settings. No poison list, no sandbox,
 * no deadline: a crash takes the daemon down.
 *
 * inproc_start() once, before any thread; it starts the thread that
 * loads the engine (messages get WS_NOT_READY until it is compiled).
 * inproc_scan() from any callback thread, with pool_scan()'s contract.
 * inproc_reload() from the signal thread: a new engine beside the old one.
 */
#ifndef PORTCULLIS_INPROC_H
#define PORTCULLIS_INPROC_H

#include "err.h"
#include "policy.h"
#include "pool.h"

/* sig_dir NULL = the policy's; copied. 0, or -1 with err. */
int	inproc_start(const struct policy *pol, const char *sig_dir,
	    struct err *err) __attribute__((warn_unused_result));
void	inproc_scan(const struct pool_job *job, struct pool_result *res);
void	inproc_reload(void);

#endif
