/* milter/worker.c - one scanning worker (worker.h). */
#include "config.h"

#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
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

static void
worker_answer(int chan, enum wire_status st, const char *text, int fd,
    uint64_t a, uint64_t b, uint32_t flags)
{
	struct wire_msg	m;

	wire_init(&m, WIRE_RESULT);
	m.status = st;
	m.a = a;
	m.b = b;
	m.flags = flags;
	wire_text(&m, text);
	(void)wire_send(chan, &m, &fd, fd != -1 ? 1 : 0, true);
}

/* One message: the job waiting in chan, answered on chan. */
static void
worker_job(int chan, const struct worker_ctx *wc)
{
	struct wire_msg		 m;
	struct wire_env		 we;
	struct scan_deps	 deps;
	struct verdict		*v = NULL;
	struct buf		 packed = BUF_INIT;
	struct err		 err = ERR_INIT;
	const unsigned char	*msg = NULL, *envp = NULL;
	size_t			 len = 0, envlen = 0;
	int			 fds[WIRE_FDS_MAX], nfds = 0, out = -1, r;

	memset(&we, 0, sizeof we);
	r = wire_recv(chan, &m, fds, &nfds, true);
	if (r <= 0)
		return;			/* the milter gave up on it */
	if (m.type != WIRE_JOB || nfds != 2 || m.a > SIZE_MAX ||
	    m.b > WIRE_ENV_MAX) {
		worker_answer(chan, WS_ERROR, "bad job", -1, 0, 0, 0);
		goto out;
	}
	len = (size_t)m.a;
	envlen = (size_t)m.b;
	if (wire_map(fds[0], len, &msg, &err) == -1 ||
	    wire_map(fds[1], envlen, &envp, &err) == -1 ||
	    wire_env_unpack(envp, envlen, &we, &err) == -1) {
		worker_answer(chan, WS_ERROR, err.msg, -1, 0, 0, 0);
		goto out;
	}
#ifdef PORTCULLIS_FAULT_INJECTION
	worker_fault(msg, len, wc->pol->worker_memory);
#endif
	if (sandbox_cpu(wc->cpu_ms, &err) == -1) {
		worker_answer(chan, WS_ERROR, err.msg, -1, 0, 0, 0);
		goto out;
	}
	memset(&deps, 0, sizeof deps);
	deps.typer = wc->typer;
	deps.explain = (m.flags & WIRE_JOB_EXPLAIN) != 0;
	if (wc->engine != NULL) {
		deps.av_scan = av_engine_scan;
		deps.av_ctx = wc->engine;
		deps.av_db_time = av_engine_db_time(wc->engine);
		deps.av_db_version = av_engine_db_version(wc->engine);
	}
	if (scan_message(wc->pol, &deps, &we.env, msg, len, &v, &err) == -1) {
		worker_answer(chan, WS_ERROR, err.msg, -1, 0, 0, 0);
		goto out;
	}
	if (verdict_pack(v, &packed, &err) == -1 ||
	    (out = wire_memfd("portcullis-verdict", packed.data, packed.len,
	    v->new_body, v->new_body != NULL ? v->new_body_len : 0,
	    &err)) == -1) {
		worker_answer(chan, WS_ERROR, err.msg, -1, 0, 0, 0);
		goto out;
	}
	worker_answer(chan, WS_OK, NULL, out, packed.len, v->new_body != NULL ?
	    v->new_body_len : 0, v->new_body != NULL ? WIRE_RESULT_BODY : 0);
out:
	if (out != -1)
		close(out);
	if (msg != NULL)
		wire_unmap(msg, len);
	if (envp != NULL)
		wire_unmap(envp, envlen);
	while (nfds > 0)
		close(fds[--nfds]);
	wire_env_free(&we);
	verdict_free(&v);
	buf_free(&packed);
}

int
worker_run(int fd, const struct worker_ctx *wc)
{
	struct wire_msg	m;
	int		fds[WIRE_FDS_MAX], nfds, r;

	/* A hint only: a sanitizer's allocator refuses it, and the worker
	 * logs nothing here (its sandbox is in place already). */
	(void)mallopt(M_MMAP_THRESHOLD, WORKER_MMAP_MIN);
	(void)mallopt(M_TRIM_THRESHOLD, WORKER_TRIM_MAX);
	for (;;) {
		r = wire_recv(fd, &m, fds, &nfds, false);
		if (r == 0)
			return 0;		/* retired, or the keeper is gone */
		if (r == -1) {
			if (errno == EPROTO)
				continue;
			return 1;
		}
		if (m.type != WIRE_ASSIGN || nfds != 1) {
			while (nfds > 0)
				close(fds[--nfds]);
			continue;
		}
		worker_job(fds[0], wc);
		close(fds[0]);
		wire_init(&m, WIRE_IDLE);
		if (wire_send(fd, &m, NULL, 0, false) == -1)
			return 0;
	}
}
