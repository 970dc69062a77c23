/*
 * milter/log.h - the log of the daemon and of portcullisctl: syslog
 * facility mail, one line per event, one shape for every kind of line:
 *
 *	portcullis[PID]: QUEUEID: event=NAME key=value key="a value" ...
 *	portcullis[PID]: event=NAME key=value ...
 *
 * A line about a message starts with its queue id (or "NOQUEUE" until the
 * MTA has told us one; Postfix sends it from DATA on), so that
 * "grep QUEUEID /var/log/mail.log" finds our lines next to Postfix's; a
 * line about the daemon has no id. Then "event=NAME" (what happened:
 * verdict, rcpt, release, error, reload, signatures, worker, keeper,
 * poison, ...; README "Log lines" lists every event and its keys), then
 * key=value pairs. A value is printable ASCII, cut to a length, and in
 * double quotes when it holds a space (a double quote inside becomes a
 * single one), so every line splits the same way (logfmt).
 *
 * Every value that came from the message, the envelope, the policy file
 * or an error text goes through log_kv() (or the detail argument), which
 * sanitises and quotes it; fmt arguments are for numbers and our own
 * tokens only.
 *
 * With PORTCULLIS_LOG_STDERR=1 in the environment, lines are also written
 * to stderr (for tests and "daemon --foreground" debugging).
 * Thread-safety: log_* may be called from any thread after log_open();
 * log_kv() and log_format() keep no state.
 */
#ifndef PORTCULLIS_LOG_H
#define PORTCULLIS_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <syslog.h>

#include "util.h"

#define LOG_VALUE_MAX	400	/* bytes of one free-text value (detail) */

/* Opens the log as "portcullis". Call once, in main's thread, before any
 * other log_*. */
void	log_open(void);
/* The same under another name (portcullisctl). ident is borrowed for as
 * long as the log is open. */
void	log_open_as(const char *ident);
void	log_close(void);

/* True when PORTCULLIS_LOG_STDERR asked for a copy on stderr. */
bool	log_to_stderr(void);

/*
 * Appends " key=value" to b: val sanitised (printable ASCII, cut to max
 * bytes), '"' turned into '\'', and quoted when it holds a space. Nothing
 * when val is NULL or empty.
 */
void	log_kv(struct buf *b, const char *key, const char *val, size_t max);

/*
 * The line "ID: event=EVENT PAIRS" (or "event=EVENT PAIRS" when id is
 * NULL or empty). pairs is NULL or " key=value..." as log_kv() writes it.
 * An id may carry pairs of its own after a space ("NOQUEUE c=12"); they
 * are written after the event. Caller frees.
 */
char	*log_format(const char *id, const char *event, const char *pairs);

/* One line at priority prio (LOG_ERR, LOG_WARNING, LOG_NOTICE, LOG_INFO,
 * LOG_DEBUG): log_format(id, event, pairs). */
void	log_line(int prio, const char *id, const char *event,
	    const char *pairs);

/*
 * One line: the event, the pairs printf-formatted from fmt (" key=%u ...",
 * trusted values only; "" for none), then detail as detail="..." through
 * log_kv() (NULL = none).
 */
void	log_event(int prio, const char *id, const char *event,
	    const char *detail, const char *fmt, ...)
	    __attribute__((format(printf, 5, 6)));
void	log_eventv(int prio, const char *id, const char *event,
	    const char *detail, const char *fmt, va_list ap)
	    __attribute__((format(printf, 5, 0)));

#endif
