/* milter/worker.c - one scanning worker (worker.h). */
#include "config.h"

#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "sandbox.h"
#include "scan.h"
#include "util.h"
#include "verdict.h"
#include "wire.h"
#include "worker.h"

/*
 * The worker's heap between messages. With a full-size database every
 * libclamav scan allocates its matcher state (for each logical signature)
 * and frees it at the end; glibc would map those blocks afresh each time
 * and give the heap back, so every scan paid its page faults again (a
 * third of a 2 KiB message's CPU with the 2026 database, bench/README.md).
 * Blocks under WORKER_MMAP_MIN come from the heap and up to
 * WORKER_TRIM_MAX of free heap stays mapped for the next message: each
 * worker keeps at most that much more private memory.
 */
#define WORKER_MMAP_MIN		(32 << 20)
#define WORKER_TRIM_MAX		(64 << 20)

#ifdef PORTCULLIS_FAULT_INJECTION
#define FAULT_HEADER	"X-Portcullis-Fault:"

/* The fault a message asks for, from its header block only. */
static void
worker_fault(const unsigned char *msg, size_t len, uint64_t memory)
{
	const char	*p = (const char *)msg, *end, *v;
	size_t		 n = strlen(FAULT_HEADER), hl;
	volatile unsigned char *blk;
	uint64_t	 total = 0, cap;
	unsigned long long ms;
	struct timespec	 ts;

	/* the header block: up to the first empty line, at most 64K */
	hl = len < 65536 ? len : 65536;
	end = p + hl;
	for (; p < end; p = v + 1) {
		if (p + 1 < end && (p[0] == '\n' || (p[0] == '\r' &&
		    p[1] == '\n')))
			return;
		if ((size_t)(end - p) > n && strncasecmp(p, FAULT_HEADER,
		    n) == 0) {
			for (v = p + n; v < end && (*v == ' ' || *v == '\t');
			    v++)
				;
			if (end - v >= 5 && strncmp(v, "abort", 5) == 0)
				abort();
			if (end - v >= 4 && strncmp(v, "loop", 4) == 0)
				for (;;)
					;	/* the keeper's deadline */
			if (end - v >= 5 && strncmp(v, "slow ", 5) == 0) {
				/* a scan that takes ms (at most a minute),
				 * then goes on as usual */
				ms = strtoull(v + 5, NULL, 10);
				ts.tv_sec = (time_t)((ms > 60000 ? 60000 : ms) /
				    1000);
				ts.tv_nsec = (long)(ms % 1000) * 1000000;
				while (nanosleep(&ts, &ts) == -1 &&
				    errno == EINTR)
					;
				return;
			}
			if (end - v >= 3 && strncmp(v, "oom", 3) == 0) {
				/* until RLIMIT_AS says no; bounded anyway */
				cap = memory != 0 ? 2 * memory : 8ull << 30;
				while (total < cap) {
					blk = malloc(64u << 20);
					if (blk == NULL)
						break;
					memset((void *)blk, 0x5a, 64u << 20);
					total += 64u << 20;
				}
				xpanic("out of memory (fault injection, "
				    "%llu MiB)", (unsigned long long)(total >>
				    20));
			}
		}
		v = memchr(p, '\n', (size_t)(end - p));
		if (v == NULL)
			return;
	}
}
#endif

/*
 * Answers the milter on chan (no descriptor: the result, if any, is in
 * the milter's own memfd). The keeper hears that this worker is idle
 * first: once the milter has its answer, the worker is no longer busy with
 * that message, so a worker killed after that moment (an administrator's
 * kill -9 of an idle worker) never makes a message that was judged look
 * like one that killed it (poison). A kill between the two costs a 4xx.
 */
static void
worker_answer(int keeper, int chan, enum wire_status st, const char *text,
    uint64_t a, uint64_t b, uint32_t flags)
{
	struct wire_msg	m;

	wire_init(&m, WIRE_IDLE);
	(void)wire_send(keeper, &m, NULL, 0, false);

	wire_init(&m, WIRE_RESULT);
	m.status = st;
	m.a = a;
	m.b = b;
	m.flags = flags;
	wire_text(&m, text);
	(void)wire_send(chan, &m, NULL, 0, true);
}

/* One message: job is the keeper's WIRE_ASSIGN, fds its channel, message,
 * envelope and result memfd; answered on the channel. */
static void
worker_job(int keeper, const struct wire_msg *job, const int *fds,
    const struct worker_ctx *wc)
{
	struct wire_env		 we;
	struct scan_deps	 deps;
	struct verdict		*v = NULL;
	struct buf		 packed = BUF_INIT;
	struct err		 err = ERR_INIT;
	const unsigned char	*msg = NULL, *envp = NULL;
	size_t			 len = 0, envlen = 0, blen;
	int			 chan = fds[0];

	memset(&we, 0, sizeof we);
	if (job->a > SIZE_MAX || job->b > WIRE_ENV_MAX) {
		worker_answer(keeper, chan, WS_ERROR, "bad job", 0, 0, 0);
		goto out;
	}
	len = (size_t)job->a;
	envlen = (size_t)job->b;
	if (wire_map(fds[1], len, &msg, &err) == -1 ||
	    wire_map(fds[2], envlen, &envp, &err) == -1 ||
	    wire_env_unpack(envp, envlen, &we, &err) == -1) {
		worker_answer(keeper, chan, WS_ERROR, err.msg, 0, 0, 0);
		goto out;
	}
#ifdef PORTCULLIS_FAULT_INJECTION
	worker_fault(msg, len, wc->pol->worker_memory);
#endif
	if (sandbox_cpu(wc->cpu_ms, &err) == -1) {
		worker_answer(keeper, chan, WS_ERROR, err.msg, 0, 0, 0);
		goto out;
	}
	memset(&deps, 0, sizeof deps);
	deps.typer = wc->typer;
	deps.explain = (job->flags & WIRE_JOB_EXPLAIN) != 0;
	if (wc->engine != NULL) {
		deps.av_scan = av_engine_scan;
		deps.av_ctx = wc->engine;
		deps.av_db_time = av_engine_db_time(wc->engine);
		deps.av_db_version = av_engine_db_version(wc->engine);
	}
	if (scan_message(wc->pol, &deps, &we.env, msg, len, &v, &err) == -1) {
		worker_answer(keeper, chan, WS_ERROR, err.msg, 0, 0, 0);
		goto out;
	}
	blen = v->new_body != NULL ? v->new_body_len : 0;
	if (verdict_pack(v, &packed, &err) == -1 ||
	    wire_write(fds[3], packed.data, packed.len, &err) == -1 ||
	    (blen > 0 && wire_write(fds[3], v->new_body, blen, &err) == -1)) {
		worker_answer(keeper, chan, WS_ERROR, err.msg, 0, 0, 0);
		goto out;
	}
	worker_answer(keeper, chan, WS_OK, NULL, packed.len, blen,
	    v->new_body != NULL ? WIRE_RESULT_BODY : 0);
out:
	if (msg != NULL)
		wire_unmap(msg, len);
	if (envp != NULL)
		wire_unmap(envp, envlen);
	wire_env_free(&we);
	verdict_free(&v);
	buf_free(&packed);
}

int
worker_run(int fd, const struct worker_ctx *wc)
{
	struct wire_msg	m;
	int		fds[WIRE_FDS_MAX], nfds, r;

	/* Best effort: where mallopt is not glibc's (the sanitizers' own
	 * allocator) each scan maps its memory anew, and a worker in its
	 * sandbox cannot log (no socket for syslog). */
	(void)mallopt(M_MMAP_THRESHOLD, WORKER_MMAP_MIN);
	(void)mallopt(M_TRIM_THRESHOLD, WORKER_TRIM_MAX);
	for (;;) {
		r = wire_recv(fd, &m, fds, &nfds, false);
		if (r == 0)
			return 0;		/* retired, or the keeper is gone */
		if (r == -1 && errno != EPROTO)
			return 1;
		if (r == -1 || m.type != WIRE_ASSIGN || nfds != 4) {
			/* an assignment without its descriptors (refused
			 * by the kernel, MSG_CTRUNC): the keeper answers
			 * the milter and the worker stays free */
			while (nfds > 0)
				close(fds[--nfds]);
			wire_init(&m, WIRE_IDLE);
			m.status = 1;
			(void)wire_send(fd, &m, NULL, 0, false);
			continue;
		}
		worker_job(fd, &m, fds, wc);	/* says "idle" as it answers */
		while (nfds > 0)
			close(fds[--nfds]);
	}
}
