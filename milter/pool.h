/*
 * milter/pool.h - the milter process's side of the scanning pool: it starts
 * the engine keeper (keeper.h) by executing its own binary, watches it and
 * starts it again if it dies, and hands each message to it at the end of
 * the message (wire.h): the message goes as a descriptor (the spool file
 * reopened read-only, or a sealed memfd of the in-memory buffer), never
 * copied through a socket; the verdict comes back packed, the new body
 * beside it, in a memfd the milter made and copies out of. The milter
 * process never parses message content. A message that waits (for a
 * free worker, or for the kernel to pass its descriptors) waits up to
 * scan_time; a pool that cannot serve it says why in res->detail.
 *
 * pool_start() once, before any thread; pool_watch() once threads are
 * allowed (its thread reads the keeper's status and restarts it);
 * pool_stop() at the end. pool_scan() and pool_reload() from any thread.
 * Errors: pool_start/pool_watch -1 with err; pool_scan reports through
 * its status (never blocks past wait_ms).
 */
#ifndef PORTCULLIS_POOL_H
#define PORTCULLIS_POOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cli.h"
#include "err.h"
#include "scan.h"
#include "verdict.h"
#include "wire.h"

/* What the keeper said about its engine (for metrics). */
struct pool_info {
	bool		have;		/* an engine is loaded */
	unsigned	signatures;
	int64_t		db_time;
	char		version[64];
	unsigned	workers;
	pid_t		keeper;
};

struct pool_job {
	const struct policy	*pol;		/* the message's (pinned) */
	const struct envelope	*env;
	const unsigned char	*msg;		/* the whole message */
	size_t			 len;
	int			 spool_fd;	/* the file behind msg, or -1 */
	bool			 explain;
	uint64_t		 wait_ms;	/* for the answer, at most */
	progress_fn		 progress;	/* every few seconds meanwhile */
	void			*progress_ctx;
};

/* WS_NOT_READY also stands for any failure of the pool itself (no keeper,
 * a lost channel, no answer in time): the message is never judged by the
 * policy's error rule then, it gets tempfail. */
struct pool_result {
	enum wire_status	 status;
	struct verdict		*verdict;	/* WS_OK: the caller's */
	char			 detail[256];	/* why, for the others */
};

/* policy_path and sig_dir (NULL = the policy's) absolute; the -o
 * overrides of o are passed on. */
int	pool_start(const char *policy_path, const char *sig_dir,
	    const struct cli_opts *o, struct err *err)
	    __attribute__((warn_unused_result));
int	pool_watch(struct err *err) __attribute__((warn_unused_result));
void	pool_stop(void);
/* WIRE_RELOAD_POLICY and/or WIRE_RELOAD_SIGNATURES. */
void	pool_reload(unsigned flags);
void	pool_scan(const struct pool_job *job, struct pool_result *res);
void	pool_info(struct pool_info *pi);

#endif
