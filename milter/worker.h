/*
 * milter/worker.h - a scanning worker: a process forked by an engine
 * generation as a child of the keeper (keeper.h), sharing the
 * generation's compiled engine, policy and type detector copy-on-write.
 * It takes one message at a time from the keeper (WIRE_ASSIGN: a
 * channel and the job's descriptors: the message, read-only, which it
 * mmaps, the envelope and the milter's result memfd),
 * calls scan_message(), writes the packed verdict into the result memfd,
 * tells the keeper it is idle and answers on the channel (wire.h). It
 * never sends a descriptor.
 *
 * Built with --enable-fault-injection (never in a release), a message
 * whose header block has "X-Portcullis-Fault: abort", "loop" or "oom"
 * makes the worker abort, spin forever or allocate without end: the
 * failures the keeper must contain; "slow MS" makes its scan take MS
 * milliseconds longer (at most a minute), a busy worker on demand.
 *
 * Ownership: everything in struct worker_ctx is borrowed from the
 * generation.
 * Thread-safety: a worker is one thread.
 */
#ifndef PORTCULLIS_WORKER_H
#define PORTCULLIS_WORKER_H

#include <stdint.h>

#include "av.h"
#include "magic.h"
#include "policy.h"

struct worker_ctx {
	const struct policy	*pol;
	struct av_engine	*engine;	/* NULL = antivirus off */
	struct typer		*typer;
	uint64_t		 cpu_ms;	/* RLIMIT_CPU per message */
};

/* Serves messages from the keeper on fd until the keeper closes it.
 * Returns the exit status for the worker process. */
int	worker_run(int fd, const struct worker_ctx *wc);

#endif
