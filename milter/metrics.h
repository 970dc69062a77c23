/*
 * milter/metrics.h - counters for monitoring, written every 15 seconds as
 * a Prometheus text file ([daemon] metrics_file; node_exporter's textfile
 * collector reads it). Counting is lock-free; one thread writes the file
 * (to a temporary name, then renamed, so a reader never sees half).
 * Thread-safety: metrics_* count from any thread.
 */
#ifndef PORTCULLIS_METRICS_H
#define PORTCULLIS_METRICS_H

#include <stdbool.h>
#include <stdint.h>

#include "err.h"
#include "verdict.h"

/* One message judged: its final disposition, findings and scan time. */
void	metrics_message(enum disposition done, const struct verdict *v,
	    uint64_t ms, bool failed);
/* A signature database (re)load: ok or failed. */
void	metrics_reload(bool ok);

/* Starts the writer thread when the policy names a file (else nothing). */
int	metrics_start(struct err *err) __attribute__((warn_unused_result));
/* Writes the file now (after a reload: SIGUSR1 also refreshes it). */
void	metrics_poke(void);
void	metrics_stop(void);

#endif
