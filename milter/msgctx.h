/*
 * milter/msgctx.h - the state of one message (one MAIL FROM ... EOM) and
 * the buffer its bytes are collected in.
 *
 * A msgctx belongs to one connection (struct connctx in milter.c) and is
 * reused for each of its messages. It owns every allocation made for the
 * message: envelope copies, the pinned policy reference, and the message
 * buffer. msgctx_reset() is the only release path; it is idempotent and is
 * called from envfrom (the next message), eom, abort and close.
 *
 * The buffer ("spill") keeps the message in memory up to the policy's
 * [daemon] memory_buffer and moves it to an unlinked mode-0600 file in
 * [daemon] spool_dir above that, so memory is bounded by policy, not by
 * input. msgctx_bytes() hands the whole message as contiguous bytes (the
 * file is mmap'ed), valid until msgctx_reset().
 *
 * The header block is rebuilt as NOTES-API 4.2 says: name ": " value
 * CRLF, with the LF inside folded values turned into CRLF, then a blank
 * line, then the body chunks as received.
 *
 * Errors: 0 or -1 with struct err (spool file trouble); the caller
 * tempfails the message. No libmilter here.
 * Thread-safety: one msgctx is used by one callback at a time (libmilter
 * serialises a connection's callbacks, though not on one thread).
 */
#ifndef PORTCULLIS_MSGCTX_H
#define PORTCULLIS_MSGCTX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "policy.h"

struct spill {
	unsigned char	*sp_mem;	/* in memory while sp_fd == -1 */
	size_t		 sp_cap;
	uint64_t	 sp_len;	/* bytes held, memory or file */
	uint64_t	 sp_memmax;	/* spill above this */
	const char	*sp_dir;	/* borrowed from the pinned policy */
	int		 sp_fd;
	void		*sp_map;	/* msgctx_bytes() of a spilled message */
	size_t		 sp_maplen;
};

struct msgctx {
	bool		 mc_active;	/* between MAIL FROM and eom/abort */
	struct policy	*mc_pol;	/* pinned at MAIL FROM (a reference) */
	char		*mc_qid;	/* NULL until the MTA sends "i" */
	char		*mc_sender;	/* as given, without <> */
	char		**mc_rcpts;
	size_t		 mc_nrcpts;
	char		*mc_auth;	/* {auth_authen}, NULL = none */
	unsigned	 mc_nrefused;	/* recipients refused over the limit */
	struct spill	 mc_buf;
	uint64_t	 mc_size;	/* bytes received so far */
	unsigned	 mc_nxpc;	/* X-Portcullis headers seen */
	char		*mc_subject;	/* first Subject value, NULL = none */
	char		*mc_msgid;	/* first Message-ID value, NULL = none */
	uint64_t	 mc_start_ms;	/* clock_ms() at MAIL FROM */
	/* Headers, EOH and body chunks get no reply when the MTA allows it
	 * (SMFIP_NR_*): a problem found there is kept, nothing more is
	 * stored, and it is answered at the end of the message. */
	enum { MC_OK = 0, MC_TOO_BIG, MC_ERROR } mc_deferred;
	const char	*mc_deferred_stage;	/* "header", "body" */
	struct err	 mc_deferred_err;
};

struct msgctx	*msgctx_new(void);
/* Resets and frees *mcp; NULL allowed; sets *mcp = NULL. */
void		 msgctx_free(struct msgctx **mcp);
/* Releases everything the message holds; idempotent. */
void		 msgctx_reset(struct msgctx *mc);

/* Starts a message under pol (takes ownership of that reference). */
void		 msgctx_begin(struct msgctx *mc, struct policy *pol,
		    const char *sender);
/* Records the queue id when val is a new non-empty value (copied). */
void		 msgctx_set_qid(struct msgctx *mc, const char *val);
void		 msgctx_set_auth(struct msgctx *mc, const char *val);
void		 msgctx_add_rcpt(struct msgctx *mc, const char *rcpt);

/* Append one header, the end of the header block, a body chunk. */
int		 msgctx_header(struct msgctx *mc, const char *name,
		    const char *value, struct err *err)
		    __attribute__((warn_unused_result));
int		 msgctx_eoh(struct msgctx *mc, struct err *err)
		    __attribute__((warn_unused_result));
int		 msgctx_body(struct msgctx *mc, const unsigned char *p,
		    size_t n, struct err *err)
		    __attribute__((warn_unused_result));
bool		 msgctx_spilled(const struct msgctx *mc);

/* The whole message, contiguous; borrowed until msgctx_reset(). */
int		 msgctx_bytes(struct msgctx *mc, const unsigned char **p_r,
		    size_t *len_r, struct err *err)
		    __attribute__((warn_unused_result));

/* The spool file behind msgctx_bytes() (borrowed), or -1 when the
 * message is in memory. */
int		 msgctx_spool_fd(const struct msgctx *mc);

/* Messages between MAIL FROM and their end, over the whole process. */
unsigned	 msgctx_active(void);

#endif
