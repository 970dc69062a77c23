/*
 * milter/daemon.h - what the libmilter callbacks (milter.c) need from the
 * daemon around them (daemon.c), and the callback table daemon.c
 * registers. Internal to milter/.
 *
 * Thread-safety: every function may be called from any callback thread.
 */
#ifndef PORTCULLIS_DAEMON_H
#define PORTCULLIS_DAEMON_H

#include <stdbool.h>

#include "policy.h"

struct smfiDesc;

/* The policy in force, with a reference (caller: policy_unref). */
struct policy	*daemon_policy(void);
/* [daemon] hostname of pol, or the system's host name. */
const char	*daemon_hostname(const struct policy *pol);
/* True once SIGTERM/SIGINT asked the daemon to stop (new MAIL: 421). */
bool		 daemon_stopping(void);

/* The callbacks (milter.c). */
extern struct smfiDesc milter_desc;

#endif
