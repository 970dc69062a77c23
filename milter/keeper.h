/*
 * milter/keeper.h - the engine keeper: the process that owns the compiled
 * ClamAV engine and the scanning workers.
 *
 * The milter process starts it (and restarts it if it dies) by executing
 * its own binary with the hidden command "keeper FD ...", FD being its end
 * of the control socket (wire.h): the keeper is a fresh single-threaded
 * process, never a fork of the threaded milter. It loads the policy, the
 * type detector and the engine, and forks [daemon] workers workers that
 * share all three copy-on-write (the clean cache is off, so scanning does
 * not write to the engine). It is a poll() loop that never blocks:
 *  - it hands each message (a channel from the milter) to an idle worker,
 *    or queues it (bounded; answered WS_BUSY when no worker is free
 *    within scan_time);
 *  - it kills a worker still scanning at scan_time (plus a second: the
 *    library's own time_limit finding comes first when it can), reaps it,
 *    tells the milter how it died (WS_DIED) and forks a replacement in
 *    milliseconds, with no recompile;
 *  - it remembers the SHA-256 of a message that killed a worker (poison.h)
 *    and answers WS_POISON when it comes back, without parsing it;
 *  - on WIRE_RELOAD, and when the signature directory changes, it
 *    compiles the new engine in a helper thread while the old workers
 *    serve (the thread is joined before any fork), then forks new workers
 *    and retires the old ones after their current message. When
 *    MemAvailable is short of the current engine's size it says so and
 *    reloads without the overlap once the workers are idle.
 * It ignores SIGTERM, SIGINT, SIGHUP, SIGUSR1 and SIGUSR2 (the milter
 * process owns those) and exits when the control socket closes.
 *
 * Only the keeper process uses these; returns the process exit status.
 */
#ifndef PORTCULLIS_KEEPER_H
#define PORTCULLIS_KEEPER_H

#include "cli.h"

int	keeper_run(int ctl, const struct cli_opts *o);

#endif
