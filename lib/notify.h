/*
 * lib/notify.h - notification messages (admin, sender, recipients) and the
 * one way Portcullis hands mail to the MTA: the local sendmail command.
 *
 * Building and sending are separate so that tests can check the bytes.
 * notify_build() is pure: it turns a verdict into zero to three ready
 * messages following the verdict's notify bits and the loop rules: never a
 * null sender, MAILER-DAEMON, postmaster or other role senders; never the
 * sender of a virus unless [notify] forged_senders; nothing at all for a
 * message that is itself auto-submitted (RFC 3834) or one of our own
 * notifications; nothing for a tempfail (the sender retries: one notice
 * per attempt otherwise); and every notification says "Auto-Submitted:
 * auto-generated". Subjects carry [notify] server_tag; text comes from
 * the postmaster's template files ([notify] *_template, loaded and checked
 * with the policy; per language from the message's Content-Language) or
 * else the built-in texts in notify.c, expanded like verdict_expand()
 * (sanitised) plus %OUTCOME%. A template in UTF-8 gives a utf-8 text part
 * and an RFC 2047 subject.
 * Messages use LF line endings, as local submission expects.
 *
 * notify_send() runs [notify] sendmail with posix_spawn (fork+exec
 * without copying the address space; never a shell) as
 * "sendmail -i -f FROM -- RCPT..." and feeds the message on its standard
 * input, waiting a bounded time. It is safe to call from a threaded
 * process; SIGPIPE is avoided without touching signal dispositions. It
 * reaps its own child with waitpid(), so the process must not set
 * SIGCHLD to SIG_IGN.
 *
 * Errors: 0/-1 with struct err. Ownership: the caller frees a list from
 * notify_build() with notify_list_free(). Thread-safety: reentrant.
 */
#ifndef PORTCULLIS_NOTIFY_H
#define PORTCULLIS_NOTIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "policy.h"
#include "scan.h"
#include "util.h"
#include "verdict.h"

#define NOTIFY_ATTACH_MAX	(10u << 20)	/* larger originals: a note */
#define NOTIFY_SEND_TIMEOUT_MS	120000		/* default for notify_send */
#define NOTIFY_RCPTS_MAX	1000		/* recipients listed */

/* The header that marks a released message; see portcullisctl(8). */
#define NOTIFY_RELEASED_HEADER	"X-Portcullis-Released"

struct notify_opts {
	const char	*quarantine_id;		/* NULL = not quarantined */
	bool		 attach_original;	/* admin copy carries msg */
	int64_t		 now;			/* 0 = time() */
	const char	*hostname;		/* NULL = pol, gethostname() */
};

struct notification {
	unsigned	 who;		/* one NOTIFY_* bit */
	char		*from;		/* envelope sender (sendmail -f) */
	char		**rcpts;	/* envelope recipients */
	size_t		 nrcpts;
	struct buf	 message;	/* header + body, LF line endings */
};

/*
 * Builds the notifications v->notify asks for, about the message msg
 * (len bytes, may be NULL) with envelope env (all borrowed for the call).
 * opts may be NULL. Returns 0 with *list_r and *n_r (possibly empty;
 * caller frees with notify_list_free), or -1 with err.
 */
int	notify_build(const struct policy *pol, const struct envelope *env,
	    const struct verdict *v, const unsigned char *msg, size_t len,
	    const struct notify_opts *opts, struct notification **list_r,
	    size_t *n_r, struct err *err) __attribute__((warn_unused_result));
void	notify_list_free(struct notification **listp, size_t n);

/*
 * Why who (one NOTIFY_* bit) is not notified about this message, for the
 * log; NULL when it would be. Static string.
 */
const char *notify_skip_reason(const struct policy *pol,
	    const struct envelope *env, const struct verdict *v,
	    const unsigned char *msg, size_t len, unsigned who);

/* True for addresses that must never get a notification (<>, roles). */
bool	notify_address_is_role(const char *addr);

/*
 * The message to re-inject on release: "X-Portcullis-Released: id" and
 * then msg with CRLF turned into LF. Appends to out.
 */
void	notify_build_release(const char *id, const unsigned char *msg,
	    size_t len, struct buf *out);

/*
 * Runs pol->sendmail_path -i -f from -- rcpts... with message on stdin.
 * from "" or "<>" is the null sender. timeout_ms 0 = the default; past it
 * the child is killed. 0 when sendmail exits 0, else -1 with err.
 */
int	notify_send(const struct policy *pol, const struct buf *message,
	    const char *from, const char *const *rcpts, size_t nrcpts,
	    uint64_t timeout_ms, struct err *err)
	    __attribute__((warn_unused_result));

#endif
