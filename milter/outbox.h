/*
 * milter/outbox.h - notifications are handed to one background thread
 * that runs sendmail, so that no SMTP reply waits for it.
 *
 * The queue is bounded (OUTBOX_MAX); when it is full a notification is
 * dropped and logged (the quarantine copy and the log line remain).
 * Ownership: outbox_post takes the notifications (notify_list_free is
 * the outbox's business) and a policy reference of its own.
 * Thread-safety: outbox_post from any thread; start/stop from main.
 */
#ifndef PORTCULLIS_OUTBOX_H
#define PORTCULLIS_OUTBOX_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "notify.h"
#include "policy.h"

#define OUTBOX_MAX	1024

int	outbox_start(struct err *err) __attribute__((warn_unused_result));
void	outbox_post(struct policy *pol, struct notification *list, size_t n,
	    const char *logid);
/* Sends what is queued for at most ms, then ends the thread. */
void	outbox_stop(uint64_t ms);

#endif
