/* milter/log.c - syslog facility mail, optionally copied to stderr; the one
 * formatter of every line (log.h). */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "log.h"
#include "util.h"

#define LOG_ID_MAX	64	/* a queue id, or "NOQUEUE c=N" */

static bool	log_stderr;

void
log_open_as(const char *ident)
{
	const char	*e = getenv("PORTCULLIS_LOG_STDERR");

	log_stderr = e != NULL && strcmp(e, "1") == 0;
	/* LOG_PERROR makes glibc write the line to stderr too, in one
	 * write(2), so lines from many threads do not interleave. */
	openlog(ident, LOG_PID | LOG_NDELAY | (log_stderr ? LOG_PERROR : 0),
	    LOG_MAIL);
}

void
log_open(void)
{
	log_open_as("portcullis");
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
log_kv(struct buf *b, const char *key, const char *val, size_t max)
{
	char	*s, *p;

	if (val == NULL || *val == '\0')
		return;
	s = str_sanitise(val, max);
	for (p = s; *p != '\0'; p++)
		if (*p == '"')
			*p = '\'';
	if (strchr(s, ' ') != NULL)
		buf_printf(b, " %s=\"%s\"", key, s);
	else
		buf_printf(b, " %s=%s", key, s);
	free(s);
}

char *
log_format(const char *id, const char *event, const char *pairs)
{
	struct buf	 b = BUF_INIT;
	const char	*more = NULL;
	char		*s;
	size_t		 n;

	if (id != NULL && *id != '\0') {
		/* "NOQUEUE c=12": the id, and pairs that follow the event */
		n = strcspn(id, " ");
		if (id[n] == ' ')
			more = id + n + 1;
		s = str_sanitise(id, LOG_ID_MAX);
		if (n < strlen(s))
			s[n] = '\0';
		buf_printf(&b, "%s: ", s);
		free(s);
	}
	buf_printf(&b, "event=%s", event);
	if (more != NULL && *more != '\0') {
		s = str_sanitise(more, LOG_ID_MAX);
		buf_printf(&b, " %s", s);
		free(s);
	}
	if (pairs != NULL)
		buf_puts(&b, pairs);
	return buf_cstr(&b);
}

void
log_line(int prio, const char *id, const char *event, const char *pairs)
{
	char	*s = log_format(id, event, pairs);

	syslog(prio, "%s", s);
	free(s);
}

void
log_eventv(int prio, const char *id, const char *event, const char *detail,
    const char *fmt, va_list ap)
{
	struct buf	 b = BUF_INIT;
	va_list		 aq;
	char		*s;
	int		 n;

	va_copy(aq, ap);
	n = vsnprintf(NULL, 0, fmt, aq);
	va_end(aq);
	if (n > 0) {
		s = xmalloc((size_t)n + 1);
		vsnprintf(s, (size_t)n + 1, fmt, ap);
		buf_puts(&b, s);
		free(s);
	}
	log_kv(&b, "detail", detail, LOG_VALUE_MAX);
	log_line(prio, id, event, b.len > 0 ? buf_cstr(&b) : NULL);
	buf_free(&b);
}

void
log_event(int prio, const char *id, const char *event, const char *detail,
    const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_eventv(prio, id, event, detail, fmt, ap);
	va_end(ap);
}
