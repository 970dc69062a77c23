/*
 * milter/metrics.h - counters for monitoring in the Prometheus text format:
 * written every 15 seconds to a file ([daemon] metrics_file, for
 * node_exporter's textfile collector; mode 0644 whatever the umask, to a
 * temporary name, then renamed, so a reader never sees half), and served
 * over HTTP at /metrics ([daemon] metrics_listen, milter/http.c), the same
 * text. Counting is lock-free but for the quarantine areas (a short table
 * under a mutex); one thread writes the file, the HTTP server's thread
 * renders its own copy per request.
 * Thread-safety: metrics_message, _notification and _reload count from any
 * thread; start, poke and stop from the main thread.
 */
#ifndef PORTCULLIS_METRICS_H
#define PORTCULLIS_METRICS_H

#include <stdbool.h>
#include <stdint.h>

#include "err.h"
#include "verdict.h"

/* Quarantine areas counted by name; more are counted as area="(other)". */
#define METRICS_AREAS	32

enum metrics_notify {
	METRICS_NOTIFY_SENT,		/* sendmail took it */
	METRICS_NOTIFY_FAILED,		/* sendmail failed or timed out */
	METRICS_NOTIFY_DROPPED,		/* never tried: queue full, stopping */
	METRICS_NOTIFY__N
};

/*
 * One message judged: its final disposition, findings and direction (from
 * v, which may be NULL), scan time, size in bytes, and the quarantine area
 * its copy was stored in (NULL: none). Borrows v and area for the call.
 */
void	metrics_message(enum disposition done, const struct verdict *v,
	    uint64_t ms, uint64_t size, const char *area, bool failed);
/* One notification sent, failed or dropped. */
void	metrics_notification(enum metrics_notify what);
/* A signature database (re)load: ok or failed. */
void	metrics_reload(bool ok);

/*
 * Starts the writer thread (it writes the file when the policy names
 * one) and, when [daemon] metrics_listen is set, the HTTP server. -1: the
 * address cannot be listened on, or no thread; see *err.
 */
int	metrics_start(struct err *err) __attribute__((warn_unused_result));
/* Writes the file now (after a reload: SIGUSR1 also refreshes it). */
void	metrics_poke(void);
void	metrics_stop(void);

#endif
