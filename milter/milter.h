/*
 * milter/milter.h - the daemon: libmilter callbacks, signals, reloads.
 *
 * milter.c is the only code that includes <libmilter/mfapi.h>.
 */
#ifndef PORTCULLIS_MILTER_H
#define PORTCULLIS_MILTER_H

#include "cli.h"

/* Runs the daemon until stopped; returns the process exit status. */
int	milter_run(const struct cli_opts *o);

#endif
