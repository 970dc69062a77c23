/*
 * lib/scan.h - decide one message: bytes + envelope + policy -> verdict.
 *
 * This is the library's entry point and the only thing the milter and the
 * offline "portcullis scan" call. It never calls libmilter or syslog.
 * Everything it needs from outside (the virus scanner, the type detector,
 * the clock, a keep-alive) comes in struct scan_deps, so that tests can
 * inject faults.
 * Thread-safety: reentrant if the deps are.
 */
#ifndef PORTCULLIS_SCAN_H
#define PORTCULLIS_SCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "policy.h"
#include "verdict.h"

struct typer;

/* What a virus scan of one buffer found. */
enum av_status {
	AV_CLEAN = 0,
	AV_VIRUS,		/* name holds the signature */
	AV_UNSCANNED,		/* scanner limit hit: not fully scanned */
	AV_ENCRYPTED		/* scanner saw encrypted content */
};

#define AV_EMBEDDED_MAX	8

/* An executable the scanner unpacked from inside the buffer (an OLE or PDF
 * object, an installer, an archive), so that the attachment rules see what
 * the scanner sees. */
struct av_embedded {
	char		type[16];	/* true-type word: exe-pe, exe-elf, ... */
	char		path[160];	/* names of the layers, "a.doc/x.exe" */
};

struct av_result {
	enum av_status		status;
	char			name[128];	/* signature or limit name */
	struct av_embedded	embedded[AV_EMBEDDED_MAX];
	unsigned		nembedded;
};

/* av_scan_fn flags. */
#define AV_SCAN_CONTAINER	0x1	/* buf is an archive the caller has
					 * opened and whose members it scans
					 * one by one: match its own bytes
					 * (hash and body signatures) but do
					 * not unpack it again. Other
					 * containers inside it (documents,
					 * executables) are still parsed. */

/* Scans len bytes at buf (borrowed). name is for logs only; flags are
 * AV_SCAN_*. 0 = result in *res; -1 = scanner failure (see err), the
 * message cannot be judged. */
typedef int (*av_scan_fn)(void *av_ctx, const unsigned char *buf, size_t len,
    const char *name, unsigned flags, struct av_result *res,
    struct err *err);

/* Called from the scanning thread now and then during long scans. */
typedef void (*progress_fn)(void *ctx);

struct scan_deps {
	av_scan_fn	 av_scan;	/* NULL = antivirus unavailable */
	void		*av_ctx;
	int64_t		 av_db_time;	/* signatures' build time (unix s), 0 = unknown */
	const char	*av_db_version;	/* for the header and logs, may be NULL */
	struct typer	*typer;		/* true-type detector (magic.h) */
	progress_fn	 progress;	/* may be NULL */
	void		*progress_ctx;
	int64_t		 now;		/* wall clock (unix s) for age checks; 0 = time() */
	bool		 explain;	/* keep the decision path (v->explain) */
};

struct envelope {
	const char		*sender;	/* may be NULL or "" (bounce) */
	const char *const	*rcpts;
	size_t			 nrcpts;
	const char		*client_addr;	/* numeric, NULL = unknown */
	const char		*auth_user;	/* NULL = not authenticated */
	const char		*queue_id;	/* NULL = NOQUEUE */
	int			 direction;	/* -1 = decide from the policy */
	const char		*policy;	/* overlay's name (policy.h),
						 * NULL = select from the
						 * envelope: scan_policy() */
};

/*
 * Judges the message (as received: header block, blank line, body; CRLF or
 * LF). Borrows everything for the call only. Returns 0 with *verdict_r
 * (caller frees with verdict_free) -- also for malformed mail, which is a
 * finding -- or -1 when the message could not be judged (scanner failure,
 * internal error); then *verdict_r is NULL and err says why, and the
 * caller applies the policy's "error" rule.
 */
int	scan_message(const struct policy *pol, const struct scan_deps *deps,
	    const struct envelope *env, const unsigned char *msg, size_t len,
	    struct verdict **verdict_r, struct err *err)
	    __attribute__((warn_unused_result));

/*
 * The verdict for a message that could not be judged (scan_message()
 * returned -1): the policy's "error" rule with detail why. Never NULL;
 * caller frees with verdict_free.
 */
struct verdict	*scan_error_verdict(const struct policy *pol,
		    const struct envelope *env, const char *why);

/*
 * The policy a message is judged by: env->policy's overlay of pol when it
 * names one (NULL if pol has no such overlay: reloaded since), else the
 * one policy_select() picks for the direction, the first recipient, the
 * sender and the authenticated user. Borrowed from pol.
 */
const struct policy *scan_policy(const struct policy *pol,
		    const struct envelope *env);

/* Inbound or outbound for this envelope under pol. */
enum direction	scan_direction(const struct policy *pol,
		    const struct envelope *env);

#endif
