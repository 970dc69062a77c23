/* lib/err.c - operational failure reports (see err.h). */
#include "config.h"

#include <stdio.h>

#include "err.h"

int
err_vset(struct err *err, const char *fmt, va_list ap)
{
	if (err != NULL)
		vsnprintf(err->msg, sizeof err->msg, fmt, ap);
	return -1;
}

int
err_set(struct err *err, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	err_vset(err, fmt, ap);
	va_end(ap);
	return -1;
}
