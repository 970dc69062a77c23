/* milter/poison.c - the poison list (poison.h). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "poison.h"
#include "util.h"

struct poison_entry {
	unsigned char	 d[DIGEST_LEN];
	int64_t		 when;		/* unix time it was added */
	uint64_t	 seen;		/* LRU order: larger = more recent */
	char		 why[96];
};

struct poison {
	char			*path;
	struct poison_entry	*v;
	unsigned		 n, max;
	uint64_t		 clock;
};

static struct poison_entry *
poison_find(struct poison *p, const unsigned char d[DIGEST_LEN])
{
	unsigned	i;

	for (i = 0; i < p->n; i++)
		if (memcmp(p->v[i].d, d, DIGEST_LEN) == 0)
			return &p->v[i];
	return NULL;
}

/* A slot for a new entry: the free end, or the least recently seen. */
static struct poison_entry *
poison_slot(struct poison *p)
{
	unsigned	i, old = 0;

	if (p->n < p->max)
		return &p->v[p->n++];
	for (i = 1; i < p->n; i++)
		if (p->v[i].seen < p->v[old].seen)
			old = i;
	return &p->v[old];
}

static void
poison_put(struct poison *p, const unsigned char d[DIGEST_LEN], int64_t when,
    const char *why)
{
	struct poison_entry	*e = poison_find(p, d);
	char			*s;

	if (e == NULL)
		e = poison_slot(p);
	memcpy(e->d, d, DIGEST_LEN);
	e->when = when;
	e->seen = ++p->clock;
	s = str_sanitise(why != NULL ? why : "", sizeof e->why - 1);
	snprintf(e->why, sizeof e->why, "%s", s);
	free(s);
}

static void
poison_read(struct poison *p, unsigned *nloaded_r)
{
	FILE		*fp;
	char		 line[512], *sp, *end;
	unsigned char	 d[DIGEST_LEN];
	long long	 when;
	unsigned	 lines = 0;

	if (p->path == NULL || (fp = fopen(p->path, "re")) == NULL)
		return;
	/* bounded: a file larger than a few times the list is not ours */
	while (lines++ < 16 * POISON_MAX && fgets(line, sizeof line, fp) !=
	    NULL) {
		line[strcspn(line, "\n")] = '\0';
		if ((sp = strchr(line, ' ')) == NULL)
			continue;
		*sp++ = '\0';
		if (digest_parse(line, d) == -1)
			continue;
		when = strtoll(sp, &end, 10);
		if (end == sp)
			continue;
		while (*end == ' ')
			end++;
		poison_put(p, d, when, end);	/* oldest first: LRU holds */
	}
	fclose(fp);
	if (nloaded_r != NULL)
		*nloaded_r = p->n;
}

struct poison *
poison_new(const char *path, unsigned max, unsigned *nloaded_r)
{
	struct poison	*p = xcalloc(1, sizeof *p);

	p->path = xstrdup(path);
	p->max = max != 0 ? max : 1;
	p->v = xcalloc(p->max, sizeof *p->v);
	if (nloaded_r != NULL)
		*nloaded_r = 0;
	poison_read(p, nloaded_r);
	return p;
}

void
poison_free(struct poison **pp)
{
	struct poison	*p = *pp;

	if (p == NULL)
		return;
	free(p->path);
	free(p->v);
	free(p);
	*pp = NULL;
}

bool
poison_has(struct poison *p, const unsigned char d[DIGEST_LEN])
{
	struct poison_entry	*e = poison_find(p, d);

	if (e == NULL)
		return false;
	e->seen = ++p->clock;
	return true;
}

unsigned
poison_count(const struct poison *p)
{
	return p->n;
}

static int
cmp_seen(const void *a, const void *b)
{
	const struct poison_entry	*x = *(struct poison_entry *const *)a;
	const struct poison_entry	*y = *(struct poison_entry *const *)b;

	return x->seen < y->seen ? -1 : x->seen > y->seen;
}

static int
poison_write(struct poison *p, struct err *err)
{
	struct poison_entry	**order;
	char			 *tmp, hex[DIGEST_HEX_LEN + 1];
	FILE			 *fp;
	unsigned		  i;
	int			  fd, r = 0;

	if (p->path == NULL)
		return 0;
	tmp = xasprintf("%s.new.%ld", p->path, (long)getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd == -1 || (fp = fdopen(fd, "w")) == NULL) {
		err_set(err, "%s: %s", tmp, strerror(errno));
		if (fd != -1)
			close(fd);
		free(tmp);
		return -1;
	}
	order = xcalloc(p->n + 1, sizeof *order);
	for (i = 0; i < p->n; i++)
		order[i] = &p->v[i];
	qsort(order, p->n, sizeof *order, cmp_seen);
	for (i = 0; i < p->n; i++) {
		digest_hex(order[i]->d, hex);
		fprintf(fp, "%s %lld %s\n", hex, (long long)order[i]->when,
		    order[i]->why);
	}
	free(order);
	if (fflush(fp) != 0 || fsync(fileno(fp)) == -1)
		r = err_set(err, "%s: %s", tmp, strerror(errno));
	if (fclose(fp) != 0 && r == 0)
		r = err_set(err, "%s: %s", tmp, strerror(errno));
	if (r == 0 && rename(tmp, p->path) == -1)
		r = err_set(err, "rename %s: %s", p->path, strerror(errno));
	if (r == -1)
		unlink(tmp);
	free(tmp);
	return r;
}

int
poison_add(struct poison *p, const unsigned char d[DIGEST_LEN],
    const char *why, struct err *err)
{
	poison_put(p, d, (int64_t)time(NULL), why);
	return poison_write(p, err);
}
