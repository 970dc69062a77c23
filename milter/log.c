/* milter/log.c - syslog facility mail, optionally copied to stderr. */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "log.h"

static bool	log_stderr;

void
log_open(void)
{
	const char	*e = getenv("PORTCULLIS_LOG_STDERR");

	log_stderr = e != NULL && strcmp(e, "1") == 0;
	/* LOG_PERROR makes glibc write the line to stderr too, in one
	 * write(2), so lines from many threads do not interleave. */
	openlog("portcullis", LOG_PID | LOG_NDELAY |
	    (log_stderr ? LOG_PERROR : 0), LOG_MAIL);
}

void
log_close(void)
{
	closelog();
}

bool
log_to_stderr(void)
{
	return log_stderr;
}

void
log_msg(int prio, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vsyslog(prio, fmt, ap);
	va_end(ap);
}
