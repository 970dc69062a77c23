/*
 * milter/log.h - the daemon's log: syslog facility mail, ident "portcullis",
 * one line per event, printf-checked.
 *
 * Lines about a message start with its queue id, or "NOQUEUE c=<conn#>"
 * until the MTA has told us one (Postfix sends it from DATA on), so that
 * "grep QUEUEID /var/log/mail.log" finds our line next to Postfix's.
 * Every value taken from the message or the envelope must be passed
 * through str_sanitise() (lib/util.h) before it is logged.
 *
 * With PORTCULLIS_LOG_STDERR=1 in the environment, lines are also written
 * to stderr (for tests and "daemon --foreground" debugging).
 * Thread-safety: log_* may be called from any thread after log_open().
 */
#ifndef PORTCULLIS_LOG_H
#define PORTCULLIS_LOG_H

#include <stdbool.h>
#include <syslog.h>

/* Opens the log. Call once, in main's thread, before any other log_*. */
void	log_open(void);
void	log_close(void);

/* True when PORTCULLIS_LOG_STDERR asked for a copy on stderr. */
bool	log_to_stderr(void);

/* One line at priority prio (LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG). */
void	log_msg(int prio, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));

#endif
