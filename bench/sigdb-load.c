/*
 * bench/sigdb-load.c - what a signature database costs libclamav: load and
 * compile time, resident memory, the peak of a reload, and the scan of a
 * few files with it.
 *
 * usage: sigdb-load [-r] [-t N] DIR... [-- FILE...]
 *
 *   DIR   database directories (or files), loaded with cl_load() into one
 *         engine (CL_DB_STDOPT), then cl_engine_compile().
 *   -r    reload: with the first engine alive, load and compile a second
 *         one from the same directories (what a reload without downtime
 *         does), report the peak (VmHWM, reset before), then free the
 *         first engine.
 *   -t N  scan each FILE N times (clean cache off) and report the median
 *         CPU time (this process) and wall time of one scan; default 1.
 *   FILE  files scanned with the (last) engine, all matches reported:
 *         "FOUND path name" for each detection, then a summary line.
 *
 * Output: one "key=value ..." line per step (engine, reload, scan), times
 * in seconds of wall clock and of CPU (user+system, this process), memory
 * in MiB from /proc/self/status. Exit status: 0 if nothing was found, 1
 * if some FILE was detected, 2 on error.
 *
 * Build: cc -O2 -o sigdb-load bench/sigdb-load.c \
 *            $(pkg-config --cflags --libs libclamav)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <clamav.h>

#define MAX_TIMES 1000

struct stamp {
	double	wall;
	double	cpu;
};

static void
stamp_now(struct stamp *s)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	s->wall = ts.tv_sec + ts.tv_nsec / 1e9;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	s->cpu = ts.tv_sec + ts.tv_nsec / 1e9;
}

/* A "VmRSS:" style field of /proc/self/status, in MiB; -1 if absent. */
static double
status_mib(const char *key)
{
	char line[256];
	size_t klen = strlen(key);
	double v = -1;
	FILE *f;

	if ((f = fopen("/proc/self/status", "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strncmp(line, key, klen) == 0) {
			v = strtod(line + klen, NULL) / 1024.0;
			break;
		}
	}
	fclose(f);
	return v;
}

/* Reset VmHWM to the current RSS (Linux 4.0+). */
static void
reset_peak(void)
{
	FILE *f;

	if ((f = fopen("/proc/self/clear_refs", "w")) == NULL)
		return;
	fputs("5", f);
	fclose(f);
}

static struct cl_engine *
engine_build(char **dirs, int ndirs, const char *label)
{
	struct cl_engine *engine;
	struct stamp t0, t1, t2;
	unsigned int sigs = 0;
	cl_error_t rc;
	int i;

	if ((engine = cl_engine_new()) == NULL) {
		fprintf(stderr, "sigdb-load: cl_engine_new failed\n");
		return NULL;
	}
	cl_engine_set_num(engine, CL_ENGINE_DISABLE_CACHE, 1);
	stamp_now(&t0);
	for (i = 0; i < ndirs; i++) {
		rc = cl_load(dirs[i], engine, &sigs, CL_DB_STDOPT);
		if (rc != CL_SUCCESS) {
			fprintf(stderr, "sigdb-load: cl_load %s: %s\n", dirs[i],
			    cl_strerror(rc));
			cl_engine_free(engine);
			return NULL;
		}
	}
	stamp_now(&t1);
	if ((rc = cl_engine_compile(engine)) != CL_SUCCESS) {
		fprintf(stderr, "sigdb-load: cl_engine_compile: %s\n",
		    cl_strerror(rc));
		cl_engine_free(engine);
		return NULL;
	}
	stamp_now(&t2);
	printf("%s sigs=%u load_s=%.2f compile_s=%.2f total_s=%.2f "
	    "load_cpu_s=%.2f compile_cpu_s=%.2f rss_mib=%.0f peak_mib=%.0f\n",
	    label, sigs, t1.wall - t0.wall, t2.wall - t1.wall,
	    t2.wall - t0.wall, t1.cpu - t0.cpu, t2.cpu - t1.cpu,
	    status_mib("VmRSS:"), status_mib("VmHWM:"));
	fflush(stdout);
	return engine;
}

static int
dcmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Scan each file TIMES times; 1 if any was detected, 0 if none, -1. */
static int
scan_files(struct cl_engine *engine, char **files, int nfiles, int times)
{
	struct cl_scan_options opts;
	struct stamp a, b;
	double t[MAX_TIMES], c[MAX_TIMES], sum = 0;
	const char *virname;
	unsigned long scanned;
	int i, k, found = 0, errors = 0;
	cl_error_t rc;

	memset(&opts, 0, sizeof(opts));
	opts.general = CL_SCAN_GENERAL_ALLMATCHES;
	opts.parse = ~0U;
	for (i = 0; i < nfiles; i++) {
		for (k = 0; k < times; k++) {
			scanned = 0;
			virname = NULL;
			stamp_now(&a);
			rc = cl_scanfile(files[i], &virname, &scanned, engine,
			    &opts);
			stamp_now(&b);
			t[k] = b.wall - a.wall;
			c[k] = b.cpu - a.cpu;
			sum += t[k];
			if (k > 0)
				continue;
			if (rc == CL_VIRUS) {
				printf("FOUND %s %s\n", files[i], virname);
				found++;
			} else if (rc != CL_CLEAN) {
				printf("ERROR %s %s\n", files[i],
				    cl_strerror(rc));
				errors++;
			}
		}
		if (times > 1) {
			qsort(t, times, sizeof(t[0]), dcmp);
			qsort(c, times, sizeof(c[0]), dcmp);
			printf("time %s cpu_ms=%.3f wall_ms=%.3f min_wall_ms=%.3f"
			    "\n", files[i], c[times / 2] * 1e3,
			    t[times / 2] * 1e3, t[0] * 1e3);
		}
	}
	printf("scan files=%d found=%d errors=%d total_s=%.2f\n", nfiles,
	    found, errors, sum);
	if (errors != 0)
		return -1;
	return found != 0;
}

int
main(int argc, char **argv)
{
	struct cl_engine *first, *second;
	char **dirs, **files = NULL;
	int ndirs = 0, nfiles = 0, reload = 0, times = 1, i, rc;
	cl_error_t crc;

	if ((dirs = calloc(argc, sizeof(*dirs))) == NULL)
		return 2;
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-r") == 0)
			reload = 1;
		else if (strcmp(argv[i], "-t") == 0 && i + 1 < argc) {
			times = atoi(argv[++i]);
			if (times < 1 || times > MAX_TIMES)
				times = 1;
		} else if (strcmp(argv[i], "--") == 0) {
			files = argv + i + 1;
			nfiles = argc - i - 1;
			break;
		} else
			dirs[ndirs++] = argv[i];
	}
	if (ndirs == 0) {
		fprintf(stderr,
		    "usage: sigdb-load [-r] [-t N] DIR... [-- FILE...]\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);	/* progress of long scans */
	if ((crc = cl_init(CL_INIT_DEFAULT)) != CL_SUCCESS) {
		fprintf(stderr, "sigdb-load: cl_init: %s\n", cl_strerror(crc));
		return 2;
	}
	printf("libclamav=%s rss_mib=%.0f\n", cl_retver(),
	    status_mib("VmRSS:"));
	if ((first = engine_build(dirs, ndirs, "engine")) == NULL)
		return 2;
	if (reload) {
		reset_peak();
		if ((second = engine_build(dirs, ndirs, "reload")) == NULL)
			return 2;
		printf("reload two_engines_rss_mib=%.0f peak_mib=%.0f\n",
		    status_mib("VmRSS:"), status_mib("VmHWM:"));
		cl_engine_free(first);
		printf("reload old_freed_rss_mib=%.0f\n",
		    status_mib("VmRSS:"));
		first = second;
	}
	rc = 0;
	if (nfiles > 0)
		rc = scan_files(first, files, nfiles, times);
	cl_engine_free(first);
	free(dirs);
	return rc < 0 ? 2 : rc;
}
