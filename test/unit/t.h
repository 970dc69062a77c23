/*
 * test/unit/t.h - the unit ring's tiny runner.
 *
 * A test file defines cases as functions registered in a table and calls
 * t_main(). Each t_check/t_error counts one assertion; a case fails if any
 * of its assertions fail. The runner prints "N passed, N failed" (cases)
 * as its last line and exits non-zero on any failure.
 */
#ifndef PORTCULLIS_T_H
#define PORTCULLIS_T_H

#include <stdbool.h>
#include <stddef.h>

struct t;

struct t_case {
	const char	*name;
	void		(*fn)(struct t *t);
};

void	t_error(struct t *t, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
/* Records one assertion; on false prints "name: what" and fails the case. */
bool	t_check(struct t *t, bool ok, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));
void	t_log(struct t *t, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
int	t_main(int argc, char **argv, const struct t_case *cases, size_t n);

/* Test data helpers. */
const char	*t_srcdir(void);		/* top source dir */
const char	*t_tmpdir(struct t *t);		/* per-run scratch dir */
/* Reads a whole file; caller frees; NULL if it cannot. */
unsigned char	*t_read_file(const char *path, size_t *len_r);
/* Runs a shell command; returns its exit status. */
int		 t_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The EICAR test string, assembled at run time (never stored whole). */
const char	*t_eicar(void);

/* A verdict's findings as "rule@part(detail) ..." for failure messages
 * (a static buffer: valid until the next call). */
struct verdict;
const char	*t_findings(const struct verdict *v);
/* Checks v's disposition, printing the findings when it is not want. */
#define T_CHECK_DISP(t, v, want) t_check(t, (v) != NULL && \
    (v)->disposition == (want), "got %s [%s], want %s", \
    (v) ? disposition_str((v)->disposition) : "-", t_findings(v), \
    disposition_str(want))

#define T_CASE(fn) { #fn, fn }
#define T_NCASES(a) (sizeof(a) / sizeof((a)[0]))

#endif
