/* test/unit/t.c - the unit ring's tiny runner (see t.h). */
#include "config.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "t.h"
#include "verdict.h"

struct t {
	const char	*name;
	int		 failed;
	unsigned	 asserts;
	char		 tmp[256];
};

static struct t	*current;

void
t_error(struct t *t, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	printf("  FAIL %s: ", t->name);
	vprintf(fmt, ap);
	putchar('\n');
	va_end(ap);
	t->failed++;
	t->asserts++;
}

bool
t_check(struct t *t, bool ok, const char *fmt, ...)
{
	va_list	ap;

	t->asserts++;
	if (ok)
		return true;
	va_start(ap, fmt);
	printf("  FAIL %s: ", t->name);
	vprintf(fmt, ap);
	putchar('\n');
	va_end(ap);
	t->failed++;
	return false;
}

void
t_log(struct t *t, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	printf("  .. %s: ", t->name);
	vprintf(fmt, ap);
	putchar('\n');
	va_end(ap);
}

const char *
t_srcdir(void)
{
	const char	*s = getenv("top_srcdir");

	return s != NULL ? s : ".";
}

const char *
t_tmpdir(struct t *t)
{
	if (t->tmp[0] == '\0') {
		const char *base = getenv("TMPDIR");

		snprintf(t->tmp, sizeof t->tmp, "%s/pctest.XXXXXX",
		    base != NULL ? base : "/tmp");
		if (mkdtemp(t->tmp) == NULL) {
			perror("mkdtemp");
			abort();
		}
	}
	return t->tmp;
}

unsigned char *
t_read_file(const char *path, size_t *len_r)
{
	FILE		*fp = fopen(path, "rb");
	unsigned char	*p = NULL;
	size_t		 cap = 0, len = 0, n;

	if (fp == NULL)
		return NULL;
	for (;;) {
		if (cap - len < 65536) {
			cap = cap == 0 ? 65536 : cap * 2;
			p = realloc(p, cap + 1);
			if (p == NULL)
				abort();
		}
		n = fread(p + len, 1, cap - len, fp);
		if (n == 0)
			break;
		len += n;
	}
	fclose(fp);
	p[len] = '\0';
	*len_r = len;
	return p;
}

int
t_sh(const char *fmt, ...)
{
	va_list	ap;
	char	*cmd;
	int	 st;

	va_start(ap, fmt);
	if (vasprintf(&cmd, fmt, ap) < 0)
		abort();
	va_end(ap);
	st = system(cmd);
	free(cmd);
	if (st == -1 || !WIFEXITED(st))
		return -1;
	return WEXITSTATUS(st);
}

static char	eicar_buf[80];
static pthread_once_t eicar_once = PTHREAD_ONCE_INIT;

static void
eicar_init(void)
{
	snprintf(eicar_buf, sizeof eicar_buf, "%s%s",
	    "X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STAN",
	    "DARD-ANTIVIRUS-TEST-FILE!$H+H*");
}

const char *
t_eicar(void)
{
	pthread_once(&eicar_once, eicar_init);	/* threads may call it */
	return eicar_buf;
}

int
t_main(int argc, char **argv, const struct t_case *cases, size_t n)
{
	size_t		i;
	unsigned	passed = 0, failed = 0;
	const char	*only = argc > 1 ? argv[1] : NULL;

	setvbuf(stdout, NULL, _IOLBF, 0);
	for (i = 0; i < n; i++) {
		struct t t = { cases[i].name, 0, 0, "" };

		if (only != NULL && strstr(cases[i].name, only) == NULL)
			continue;
		current = &t;
		cases[i].fn(&t);
		if (t.asserts == 0) {
			printf("  FAIL %s: asserted nothing\n", t.name);
			t.failed++;
		}
		if (t.tmp[0] != '\0' && getenv("T_KEEP") == NULL)
			t_sh("rm -rf '%s'", t.tmp);
		if (t.failed == 0) {
			passed++;
			printf("ok   %s\n", t.name);
		} else {
			failed++;
			printf("FAIL %s\n", t.name);
		}
	}
	current = NULL;
	printf("%u passed, %u failed\n", passed, failed);
	return failed == 0 ? 0 : 1;
}

const char *
t_findings(const struct verdict *v)
{
	static char	s[2048];
	size_t		i, o = 0;

	s[0] = '\0';
	for (i = 0; v != NULL && i < v->nfindings && o < sizeof s - 200; i++)
		o += (size_t)snprintf(s + o, sizeof s - o, "%s%s@%s(%s)",
		    i ? " " : "", rule_str(v->findings[i].rule),
		    v->findings[i].part, v->findings[i].detail ?
		    v->findings[i].detail : "");
	return v == NULL ? "(no verdict)" : s[0] ? s : "none";
}
