/*
 * milter/keeper.h - the engine keeper: the process that owns the scanning
 * workers and the engine generations that compile the ClamAV engine.
 *
 * The milter process starts it (and restarts it if it dies) by executing
 * its own binary with the hidden command "keeper FD ...", FD being its end
 * of the control socket (wire.h): the keeper is a fresh single-threaded
 * process, never a fork of the threaded milter. It loads the policy but
 * never maps an engine: for each engine (at start, at every signature
 * reload) it forks a generation process ("portcullis-gen") that loads the
 * type detector, compiles the engine and, when the keeper asks
 * (WIRE_SPAWN, wire.h), forks workers that share all three copy-on-write
 * (the clean cache is off, so scanning does not write to the engine).
 * The workers are forked with CLONE_PARENT: they are the keeper's
 * children, so the keeper reaps them, sees how they died and kills them
 * at their deadline; the generation passes the keeper each worker's
 * socket and pid. Once a newer generation serves, the old one exits with
 * _exit, freeing nothing: a free would write to, and so copy, every page
 * its workers still share (an extra engine's worth of memory and seconds
 * of stall); the pages go with the last old worker. The peak of a reload
 * is thus two engines, and the keeper stays small and never stalls.
 * A generation that dies leaves its workers serving until a new one
 * replaces them. It is a poll() loop that never blocks:
 *  - it hands each message (a channel from the milter) to an idle worker,
 *    or queues it (bounded; answered WS_BUSY when no worker is free
 *    within scan_time);
 *  - it kills a worker still scanning at scan_time (plus a second: the
 *    library's own time_limit finding comes first when it can), reaps it,
 *    tells the milter how it died (WS_DIED) and forks a replacement in
 *    milliseconds, with no recompile;
 *  - it remembers the SHA-256 of a message that killed a worker (poison.h)
 *    and answers WS_POISON when it comes back, without parsing it;
 *  - on WIRE_RELOAD, and when the signature directory changes, a new
 *    generation compiles the new engine while the old workers serve; then
 *    its workers replace the old ones after their current message (a
 *    policy reload without new engine settings goes to the serving
 *    generation, which loads it too for the workers it forks next). When
 *    MemAvailable is short of the current engine's size it says so and
 *    reloads without the overlap once the workers are idle: the old
 *    generation goes first, then the new one starts.
 * It ignores SIGTERM, SIGINT, SIGHUP, SIGUSR1 and SIGUSR2 (the milter
 * process owns those) and exits when the control socket closes; its
 * generations and workers die with it (PR_SET_PDEATHSIG). A generation is
 * no more confined than the keeper; workers as sandbox.h says.
 *
 * Only the keeper process uses these; returns the process exit status.
 */
#ifndef PORTCULLIS_KEEPER_H
#define PORTCULLIS_KEEPER_H

#include "cli.h"

int	keeper_run(int ctl, const struct cli_opts *o);

#endif
