/*
 * bench/libbench.c - library-level benchmark: what the inspection library
 * costs on top of a bare libclamav scan of the same decoded bytes.
 *
 * usage: libbench POLICY SIGDIR ROUNDS FILE...
 *
 * For each message file, in one process and one thread:
 *   full  scan_message() with the policy (MIME walk, attachment rules,
 *         archive inspection, virus scan of every leaf, verdict);
 *   bare  av_engine_scan() over each non-empty decoded leaf, the leaves
 *         taken once beforehand from mime_open/mime_walk/mime_leaves
 *         (the same bytes scan_message hands to the scanner);
 *   walk  mime_open + mime_walk + mime_close alone (parse and decode);
 *   typer typer_detect() (libmagic) on each attachment leaf, as the
 *         attachment pass does (not on archive members);
 *   raw   av_engine_scan() of the raw message as received (what a
 *         clamd-based filter asks libclamav to do);
 *   strict scan_message() with [attachments] lenient_reading = no: GMime's
 *         reading alone, so full - strict is what the tolerant reading
 *         (and judging the readings together) costs.
 * Each round times a batch of K runs of each, alternating full/bare/
 * walk/raw, K chosen so that a batch of "full" takes about 20 ms; the
 * figure is the median over ROUNDS rounds of the per-run time. Times are
 * per-thread CPU time (CLOCK_THREAD_CPUTIME_ID), so other processes on a
 * shared machine do not move them; wall-clock medians are printed too.
 * Output: one line per file
 *   name full_ms bare_ms overhead_pct walk_ms typer_ms raw_ms
 *   full_wall_ms bare_wall_ms strict_ms readings_pct verdict
 * All files are run through once before any is measured.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <locale.h>

#include <gmime/gmime.h>

#include "av.h"
#include "magic.h"
#include "mime.h"
#include "policy.h"
#include "scan.h"

static double
clk(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int
dcmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double
median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof *v, dcmp);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

struct ctx {
	const struct policy	*pol;
	const struct policy	*pol_strict;	/* lenient_reading = no */
	struct scan_deps	*deps;
	struct envelope		*env;
	const unsigned char	*msg;
	size_t			 len;
	const struct mime_leaf	*leaves;
	size_t			 nleaves;
	struct typer		*typer;
	char			 verdict[32];
};

static void
no_finding(void *ctx, enum rule rule, const char *path, const char *filename,
    const char *detail)
{
	(void)ctx; (void)rule; (void)path; (void)filename; (void)detail;
}

static void
scan_with(struct ctx *c, const struct policy *pol)
{
	struct verdict	*v = NULL;
	struct err	 err = ERR_INIT;

	if (scan_message(pol, c->deps, c->env, c->msg, c->len, &v,
	    &err) == -1) {
		fprintf(stderr, "libbench: scan_message: %s\n", err.msg);
		exit(1);
	}
	snprintf(c->verdict, sizeof c->verdict, "%s",
	    disposition_str(v->disposition));
	verdict_free(&v);
}

static void
run_full(struct ctx *c)
{
	scan_with(c, c->pol);
}

static void
run_strict(struct ctx *c)
{
	scan_with(c, c->pol_strict);
}

static void
run_bare(struct ctx *c)
{
	struct av_result	res;
	struct err		err = ERR_INIT;
	size_t			i;

	for (i = 0; i < c->nleaves; i++) {
		if (c->leaves[i].len == 0 || c->leaves[i].lenient)
			continue;
		if (av_engine_scan(c->deps->av_ctx, c->leaves[i].data,
		    c->leaves[i].len, c->leaves[i].path, 0, &res, &err) == -1) {
			fprintf(stderr, "libbench: av: %s\n", err.msg);
			exit(1);
		}
	}
}

static void
run_walk(struct ctx *c)
{
	struct mime_doc	*d = mime_open(c->msg, c->len);

	mime_walk(d, c->pol, no_finding, NULL, NULL);
	mime_close(&d);
}

/* The true-type calls the attachment pass makes on top-level leaves. */
static void
run_typer(struct ctx *c)
{
	size_t	i;

	for (i = 0; i < c->nleaves; i++) {
		const struct mime_leaf *l = &c->leaves[i];

		if (l->len == 0 || (l->textual && l->nnames == 0) ||
		    l->lenient)
			continue;
		(void)typer_detect(c->typer, l->data, l->len, NULL, 0);
	}
}

static void
run_raw(struct ctx *c)
{
	struct av_result	res;
	struct err		err = ERR_INIT;

	if (av_engine_scan(c->deps->av_ctx, c->msg, c->len, "raw", 0, &res,
	    &err) == -1) {
		fprintf(stderr, "libbench: av: %s\n", err.msg);
		exit(1);
	}
}

/* Times k runs of fn; per-run CPU seconds, wall seconds in *wall. */
static double
batch(void (*fn)(struct ctx *), struct ctx *c, int k, double *wall)
{
	double	w0 = clk(CLOCK_MONOTONIC), t0 = clk(CLOCK_THREAD_CPUTIME_ID);
	int	i;

	for (i = 0; i < k; i++)
		fn(c);
	*wall = (clk(CLOCK_MONOTONIC) - w0) / k;
	return (clk(CLOCK_THREAD_CPUTIME_ID) - t0) / k;
}

static unsigned char *
slurp(const char *path, size_t *len)
{
	FILE		*fp = fopen(path, "rb");
	unsigned char	*p = NULL;
	size_t		 cap = 0, n;

	*len = 0;
	if (fp == NULL)
		return NULL;
	for (;;) {
		if (*len == cap)
			p = realloc(p, cap = cap ? cap * 2 : 65536);
		if ((n = fread(p + *len, 1, cap - *len, fp)) == 0)
			break;
		*len += n;
	}
	fclose(fp);
	return p;
}

int
main(int argc, char **argv)
{
	struct policy		*pol = NULL;
	struct av_engine	*eng = NULL;
	struct typer		*typer = NULL;
	struct scan_deps	 deps;
	struct envelope		 env;
	struct err		 err = ERR_INIT;
	const char *const	 rcpt[] = { "rcpt@bench.example.com" };
	struct policy_override	 ov[] = { { "daemon.user", "root" },
	    { "attachments.lenient_reading", "no" } };
	struct policy		*strict = NULL;
	char			*errors = NULL;
	int			 rounds, f;

	if (argc < 5) {
		fprintf(stderr, "usage: libbench POLICY SIGDIR ROUNDS FILE...\n");
		return 2;
	}
	rounds = atoi(argv[3]);
	if (rounds < 1)
		rounds = 1;
	setlocale(LC_CTYPE, "C.UTF-8");
	g_mime_init();
	if (av_global_init(&err) == -1) {
		fprintf(stderr, "libbench: %s\n", err.msg);
		return 1;
	}
	if (policy_load(argv[1], ov, 1, &pol, &errors) == -1 ||
	    policy_load(argv[1], ov, 2, &strict, &errors) == -1) {
		fprintf(stderr, "libbench: %s", errors);
		return 1;
	}
	if (typer_new(&typer, &err) == -1 ||
	    av_engine_load(pol, argv[2], &eng, &err) == -1) {
		fprintf(stderr, "libbench: %s\n", err.msg);
		return 1;
	}
	memset(&deps, 0, sizeof deps);
	deps.typer = typer;
	deps.av_scan = av_engine_scan;
	deps.av_ctx = eng;
	deps.av_db_time = av_engine_db_time(eng);
	deps.av_db_version = av_engine_db_version(eng);
	memset(&env, 0, sizeof env);
	env.sender = "sender@bench.example.net";
	env.rcpts = rcpt;
	env.nrcpts = 1;
	env.client_addr = "192.0.2.10";
	env.direction = -1;

	/* One pass over every file first (caches, lazy initialisation). */
	for (f = 4; f < argc; f++) {
		struct ctx	c;

		memset(&c, 0, sizeof c);
		c.pol = pol;
		c.pol_strict = strict;
		c.deps = &deps;
		c.env = &env;
		if ((c.msg = slurp(argv[f], &c.len)) == NULL) {
			perror(argv[f]);
			return 1;
		}
		run_full(&c);
		run_raw(&c);
		free((void *)c.msg);
	}
	printf("# class full_ms bare_ms overhead_pct walk_ms typer_ms raw_ms "
	    "full_wall_ms bare_wall_ms strict_ms readings_pct verdict\n");
	for (f = 4; f < argc; f++) {
		struct ctx	 c;
		struct mime_doc	*doc;
		double		*full, *bare, *walk, *raw, *fw, *bw, *ty, *st, w;
		double		 one;
		const char	*base = strrchr(argv[f], '/');
		char		 name[64];
		int		 k, r, i;

		memset(&c, 0, sizeof c);
		c.pol = pol;
		c.pol_strict = strict;
		c.deps = &deps;
		c.env = &env;
		c.typer = typer;
		if ((c.msg = slurp(argv[f], &c.len)) == NULL) {
			perror(argv[f]);
			return 1;
		}
		doc = mime_open(c.msg, c.len);
		mime_walk(doc, pol, no_finding, NULL, NULL);
		c.leaves = mime_leaves(doc, &c.nleaves);

		/* Warm up, then size the batch to about 20 ms of "full". */
		for (i = 0; i < 3; i++) {
			run_full(&c);
			run_bare(&c);
		}
		one = batch(run_full, &c, 1, &w);
		k = one > 0 ? (int)(0.02 / one) : 100;
		if (k < 1)
			k = 1;
		if (k > 2000)
			k = 2000;
		full = calloc((size_t)rounds, sizeof *full);
		bare = calloc((size_t)rounds, sizeof *bare);
		walk = calloc((size_t)rounds, sizeof *walk);
		raw = calloc((size_t)rounds, sizeof *raw);
		ty = calloc((size_t)rounds, sizeof *ty);
		fw = calloc((size_t)rounds, sizeof *fw);
		bw = calloc((size_t)rounds, sizeof *bw);
		st = calloc((size_t)rounds, sizeof *st);
		for (r = 0; r < rounds; r++) {
			full[r] = batch(run_full, &c, k, &fw[r]);
			bare[r] = batch(run_bare, &c, k, &bw[r]);
			walk[r] = batch(run_walk, &c, k, &w);
			ty[r] = batch(run_typer, &c, k, &w);
			raw[r] = batch(run_raw, &c, k, &w);
			st[r] = batch(run_strict, &c, k, &w);
		}
		snprintf(name, sizeof name, "%s", base != NULL ? base + 1 :
		    argv[f]);
		if (strchr(name, '.') != NULL)
			*strchr(name, '.') = '\0';
		{
			double mf = median(full, rounds);
			double mb = median(bare, rounds);
			double ms = median(st, rounds);

			printf("%s %.3f %.3f %.1f %.3f %.3f %.3f %.3f %.3f "
			    "%.3f %.1f %s\n",
			    name, mf * 1e3, mb * 1e3,
			    mb > 0 ? (mf - mb) / mb * 100 : 0,
			    median(walk, rounds) * 1e3,
			    median(ty, rounds) * 1e3,
			    median(raw, rounds) * 1e3,
			    median(fw, rounds) * 1e3,
			    median(bw, rounds) * 1e3, ms * 1e3,
			    ms > 0 ? (mf - ms) / ms * 100 : 0, c.verdict);
			fflush(stdout);
		}
		free(full);
		free(bare);
		free(walk);
		free(raw);
		free(ty);
		free(fw);
		free(bw);
		free(st);
		mime_close(&doc);
		free((void *)c.msg);
	}
	av_engine_unref(&eng);
	typer_free(&typer);
	policy_unref(&pol);
	policy_unref(&strict);
	g_mime_shutdown();
	return 0;
}
