/*
 * lib/err.h - operational failure reports.
 *
 * Functions that can fail for operational reasons (out of resources, scanner
 * error, time limit) return -1 and describe the failure in a caller-owned
 * struct err. Findings about the message are never reported this way; see
 * verdict.h. A struct err holds no heap memory and needs no release.
 * Thread-safety: none needed, each caller owns its struct err.
 */
#ifndef PORTCULLIS_ERR_H
#define PORTCULLIS_ERR_H

#include <stdarg.h>

#define ERR_MSG_MAX 512

struct err {
	char	msg[ERR_MSG_MAX];
};

#define ERR_INIT { { 0 } }

/* Formats the message into *err (NULL allowed). Always returns -1, so
 * that "return err_set(err, ...);" reads naturally. */
int	err_set(struct err *err, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
int	err_vset(struct err *err, const char *fmt, va_list ap)
	    __attribute__((format(printf, 2, 0)));

#endif
