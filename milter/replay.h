/*
 * milter/replay.h - judging messages offline, outside the daemon, and the
 * "replay" command built on it: what would a new policy change?
 *
 * struct replay_judge holds what scan_message() needs besides the policy
 * (the type detector and the signatures) for "portcullis scan",
 * "portcullis replay" and "portcullisctl rescan". It borrows its policy,
 * which must outlive it, and owns the rest (replay_judge_close).
 *
 * replay_run() judges every message with two policies and prints the
 * differences (replay.c has the details). It returns a CLI_EX_* status.
 * This file needs only cli.h's declarations, not cli.c, so that
 * portcullisctl links it too.
 * Problems go to stderr; nothing here exits. Not thread-safe: one judge
 * per thread.
 */
#ifndef PORTCULLIS_REPLAY_H
#define PORTCULLIS_REPLAY_H

#include <stdbool.h>
#include <stddef.h>

#include "av.h"
#include "cli.h"
#include "quarantine.h"
#include "scan.h"

struct replay_judge {
	const struct policy	*pol;		/* borrowed */
	struct typer		*typer;
	struct av_engine	*eng;		/* NULL = antivirus off/failed */
	struct scan_deps	 deps;
};

/*
 * Sets up j for pol (borrowed until replay_judge_close) with the
 * signatures in sigdir (NULL = the policy's [antivirus] database). When
 * share is not NULL and was set up with the same signatures and scanner
 * limits, its engine is shared instead of loaded twice. Signatures that
 * do not load are a warning on stderr, prefixed with who: messages then
 * get the "error" rule, as in the daemon. 0, or -1 when the type
 * detector cannot start (printed).
 */
int	replay_judge_open(struct replay_judge *j, const struct policy *pol,
	    const char *sigdir, const struct replay_judge *share,
	    const char *who, bool explain)
	    __attribute__((warn_unused_result));
void	replay_judge_close(struct replay_judge *j);

/*
 * Judges msg (borrowed; a leading mbox "From " line is skipped, as an MTA
 * never hands it to a milter). Always sets *v_r (caller: verdict_free):
 * the verdict, or the policy's "error" rule when scan_message() failed;
 * then returns -1 and err says why, else 0.
 */
int	replay_judge_message(const struct replay_judge *j,
	    const struct envelope *env, const unsigned char *msg, size_t len,
	    struct verdict **v_r, struct err *err);

/* A file saved from a mailbox starts with an mbox "From " line, which an
 * MTA never hands a milter: the bytes to skip (0 = none). */
size_t	replay_from_line(const unsigned char *msg, size_t len);

/* The envelope of scan and replay: --sender, --client, --direction and
 * one recipient, postmaster@localhost. Borrows from o. */
void	replay_envelope_opts(const struct cli_opts *o, struct envelope *env);

/* The envelope stored with a quarantine record (borrowed from m; the
 * recipient array too). */
void	replay_envelope_qmeta(const struct qmeta *m, struct envelope *env);

/* "portcullis replay": see portcullis(8). A CLI_EX_* status. */
int	replay_run(const struct cli_opts *o);

#endif
