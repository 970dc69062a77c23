/*
 * milter/wire.h - the messages between the milter process, the engine
 * keeper and the scanning workers (SOCK_SEQPACKET unix sockets; every
 * message is one struct wire_msg, descriptors travel with it as
 * SCM_RIGHTS).
 *
 *   control socket (milter <-> keeper, made before the keeper starts):
 *     WIRE_DISPATCH  milter -> keeper: one message to scan. Carries the
 *                    keeper's end of a fresh channel, the message's
 *                    SHA-256 (poison check) and its queue id.
 *     WIRE_RELOAD    milter -> keeper: reload the policy and/or signatures.
 *     WIRE_STATUS    keeper -> milter: engine facts after a (re)load.
 *   worker socket (keeper <-> one worker):
 *     WIRE_ASSIGN    keeper -> worker: the next message: the job's a, b
 *                    and flags, with four descriptors: the channel, the
 *                    message, the envelope and the result memfd.
 *     WIRE_IDLE      worker -> keeper: done with it (status 0), or the
 *                    assignment could not be received (status 1: its
 *                    descriptors were refused, the keeper answers).
 *   generation socket (keeper <-> one engine generation, keeper.h):
 *     WIRE_GEN_READY generation -> keeper: its engine compiled (status 1:
 *                    a = signatures, b = engine bytes, c = database
 *                    time, text = version) or not (status 0, text why).
 *     WIRE_SPAWN     keeper -> generation: fork a more workers; b = the
 *                    keeper's worker epoch, echoed in WIRE_WORKER.
 *     WIRE_WORKER    generation -> keeper: one worker forked (status 0,
 *                    a = its pid, b = the epoch, with the keeper's end of
 *                    its worker socket) or not (status 1, no descriptor).
 *     WIRE_RELOAD    keeper -> generation: the policy changed (reloaded
 *                    by the generation for the workers it forks next).
 *   channel (one per message, milter <-> keeper or worker):
 *     WIRE_JOB       milter -> keeper: the message (a read-only descriptor,
 *                    mmap'ed by the worker), the envelope (a sealed memfd)
 *                    and an empty memfd for the result.
 *     WIRE_RESULT    worker or keeper -> milter, no descriptor: the
 *                    status; with WS_OK the result memfd holds the packed
 *                    verdict (a bytes, verdict_pack) and then the new body
 *                    (b bytes), if any.
 * The milter writes WIRE_JOB into the channel before it dispatches it; the
 * keeper takes the job out of the channel as it queues the message and
 * hands its descriptors to the worker with WIRE_ASSIGN. So no descriptor
 * stays in a socket ("in flight") while a message waits for a worker, and
 * a worker never sends one: the kernel refuses a descriptor to a sender
 * once its user has more in flight than the sender's RLIMIT_NOFILE
 * (ETOOMANYREFS), and a worker's is 64 (sandbox.h). The keeper keeps a
 * copy of the channel while a worker has it and answers WS_DIED on it
 * when the worker dies. Large data never goes through a socket.
 *
 * Errors: -1 with errno (send/recv) or struct err (memfd, envelope).
 * Thread-safety: the functions keep no state.
 */
#ifndef PORTCULLIS_WIRE_H
#define PORTCULLIS_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "scan.h"
#include "util.h"

#define WIRE_VERSION	4
#define WIRE_FDS_MAX	4
#define WIRE_DIGEST_LEN	32
#define WIRE_ENV_MAX	(64u * 1024 * 1024)	/* packed envelope */

enum wire_type {
	WIRE_DISPATCH = 1,
	WIRE_RELOAD,
	WIRE_STATUS,
	WIRE_ASSIGN,
	WIRE_IDLE,
	WIRE_JOB,
	WIRE_RESULT,
	WIRE_SPAWN,
	WIRE_WORKER,
	WIRE_GEN_READY
};

/* WIRE_RESULT's status. */
enum wire_status {
	WS_OK = 0,	/* a verdict (a = its length, b = body length) */
	WS_ERROR,	/* scan_message failed: text says why */
	WS_NOT_READY,	/* no engine yet */
	WS_POISON,	/* the digest is a known poison message */
	WS_DIED,	/* the worker died with it: text says how */
	WS_BUSY		/* no worker free within scan_time */
};

/* WIRE_RELOAD flags, WIRE_JOB flags, WIRE_RESULT flags */
#define WIRE_RELOAD_POLICY	0x1u
#define WIRE_RELOAD_SIGNATURES	0x2u
#define WIRE_JOB_EXPLAIN	0x1u
#define WIRE_RESULT_BODY	0x1u

struct wire_msg {
	uint32_t	type;		/* enum wire_type */
	uint32_t	version;	/* WIRE_VERSION */
	uint32_t	status;		/* enum wire_status, WIRE_STATUS: ok */
	uint32_t	flags;
	uint64_t	a, b;		/* lengths, counts (per type) */
	int64_t		c;		/* WIRE_STATUS: database time */
	unsigned char	digest[WIRE_DIGEST_LEN];
	char		text[256];	/* queue id, detail, db version */
};

/* A message of type t, version set, the rest zero. */
void	wire_init(struct wire_msg *m, enum wire_type t);
/* Copies s (NULL = "") into m->text, cut to fit. */
void	wire_text(struct wire_msg *m, const char *s);

/* Sends m with nfds descriptors (borrowed). dontwait: never block.
 * 0, or -1 with errno (EPIPE when the peer is gone; with descriptors also
 * ETOOMANYREFS, see above). */
int	wire_send(int fd, const struct wire_msg *m, const int *fds, int nfds,
	    bool dontwait);
/* The send failed for want of a resource (socket buffer, kernel memory,
 * descriptors in flight), not because the peer is gone: worth trying
 * again a little later. */
bool	wire_transient(int error);
/* Receives one message and up to WIRE_FDS_MAX descriptors (close-on-exec,
 * the caller's); extra descriptors are closed. 1 = got one (*nfds_r set),
 * 0 = the peer is gone, -1 = errno (EAGAIN too), or a message of another
 * size or version (EPROTO; its descriptors closed). */
int	wire_recv(int fd, struct wire_msg *m, int *fds, int *nfds_r,
	    bool dontwait);

/*
 * A sealed memfd (no write, grow nor shrink: the reader can trust what it
 * maps) holding p1 and then p2 (either may be NULL with length 0).
 * Returns the descriptor (close-on-exec) or -1 (err).
 */
int	wire_memfd(const char *name, const void *p1, size_t n1,
	    const void *p2, size_t n2, struct err *err);
/* Writes n bytes at the end of fd (a result memfd). 0 or -1 (err). */
int	wire_write(int fd, const void *p, size_t n, struct err *err)
	    __attribute__((warn_unused_result));
/* Reads exactly len bytes of fd from offset off into p. 0 or -1 (err). */
int	wire_read(int fd, uint64_t off, void *p, size_t len, struct err *err)
	    __attribute__((warn_unused_result));
/* Maps len bytes of fd read-only; checks the file holds at least that.
 * 0 with *p_r (munmap(*p_r, len) unless len is 0) or -1 (err). */
int	wire_map(int fd, size_t len, const unsigned char **p_r,
	    struct err *err);
void	wire_unmap(const unsigned char *p, size_t len);

/* The envelope, packed (length-prefixed strings) and unpacked. */
void	wire_env_pack(const struct envelope *env, struct buf *out);
struct wire_env {
	struct envelope	 env;		/* points into the strings below */
	char		*strs[5];	/* sender, client, auth, queue id,
					 * policy (overlay name) */
	char		**rcpts;
	size_t		 nrcpts;
};
int	wire_env_unpack(const unsigned char *p, size_t len,
	    struct wire_env *we, struct err *err)
	    __attribute__((warn_unused_result));
void	wire_env_free(struct wire_env *we);

#endif
