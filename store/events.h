/*
 * store/events.h - the JSON event log ([daemon] event_log): one line per
 * judged message, one versioned JSON object, for log shippers (Vector,
 * Filebeat). The same facts as the syslog verdict line (queue ID,
 * envelope, what was done, size, milliseconds, quarantine ID) plus the
 * whole verdict with every finding.
 *
 * Each object is appended with one write(2) to the file opened O_APPEND
 * (and closed again, so that log rotation needs no signal); lines of
 * concurrent writers never interleave. Mode 0640, created when missing.
 * Errors: -1 with err for the first failure since the last line written,
 * then 0 until a line is written again (the caller logs -1 only).
 * Thread-safety: safe from any thread.
 */
#ifndef PORTCULLIS_EVENTS_H
#define PORTCULLIS_EVENTS_H

#include <stdint.h>

#include "err.h"
#include "policy.h"
#include "scan.h"
#include "verdict.h"

#define EVENTS_VERSION	1	/* "version" of each object */

/* Appends the event of one message (everything borrowed). Nothing when
 * [daemon] event_log is empty. */
int	events_write(const struct policy *pol, const struct envelope *env,
	    const struct verdict *v, const char *done, const char *qid,
	    uint64_t size, uint64_t ms, struct err *err)
	    __attribute__((warn_unused_result));

#endif
