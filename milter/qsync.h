/*
 * milter/qsync.h - the daemon catches up by itself: a background thread
 * that copies to PostgreSQL what this node kept in its own quarantine
 * index while the shared database could not be written (the same copy as
 * "portcullisctl sync", store/quarantine.h quarantine_sync_round).
 *
 * Every QSYNC_INTERVAL_S seconds the thread looks at this node's index
 * (PostgreSQL is not asked while nothing waits) and, when something
 * does, copies for at most QSYNC_ROUND_MS, then goes on at the next
 * round. It has its own connections: no SMTP reply ever waits for it.
 * Logged as "event=sync" (milter/log.h): result=ok with the counts when
 * something was copied, result=failed once when a round fails (not again
 * until a round succeeds).
 *
 * Errors: qsync_start returns 0/-1 with struct err. Thread-safety:
 * start and stop from the main thread only.
 */
#ifndef PORTCULLIS_QSYNC_H
#define PORTCULLIS_QSYNC_H

#include "err.h"

#define QSYNC_INTERVAL_S	10	/* between two looks */
#define QSYNC_ROUND_MS		10000	/* copying in one round */

int	qsync_start(struct err *err) __attribute__((warn_unused_result));
/* Ends the thread (waits for a round in progress: QSYNC_ROUND_MS). */
void	qsync_stop(void);

#endif
