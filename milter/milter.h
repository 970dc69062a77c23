/*
 * milter/milter.h - the daemon: "portcullis daemon".
 *
 * milter/ is the only code that includes <libmilter/mfapi.h>: milter.c
 * holds the callbacks and applies verdicts, daemon.c starts the daemon,
 * handles signals and reloads, msgctx.c keeps a message's state and
 * bytes, log.c writes the mail log.
 */
#ifndef PORTCULLIS_MILTER_H
#define PORTCULLIS_MILTER_H

#include "cli.h"

/*
 * Runs the daemon until SIGTERM/SIGINT; returns the process exit status
 * (CLI_EX_*). Without --foreground it forks first: the parent returns the
 * child's start-up status once the child is up (or has failed).
 */
int	milter_run(const struct cli_opts *o);

#endif
