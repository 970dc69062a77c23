/*
 * lib/scan-clamav.c - libclamav engine, scans from memory, hot reload.
 *
 * The only includer of clamav.h (see av.h for the contract). Notes on
 * libclamav 1.4 that shape this file:
 * - limits fail open unless CL_SCAN_HEURISTIC_EXCEEDS_MAX is set, so it is
 *   always set and a Heuristics.Limits.Exceeded.* name is AV_UNSCANNED;
 * - virname may be NULL on CL_VIRUS, so the virus-found callback keeps a
 *   copy of the names it saw;
 * - engine settings and callbacks must be set before cl_engine_compile,
 *   and a compiled engine is read-only and shared by all threads;
 * - cl_load reports which file failed only through the message callback,
 *   so a load captures the error messages of its own thread;
 * - the zip reader cuts a member over MaxFileSize and scans the cut part
 *   as if it were all (see av_clcb_inspect);
 * - clean results are cached by hash, so anything that must not read as
 *   clean on a second scan has to be a detection, not a note.
 */
#include "config.h"

#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <clamav.h>

#include "av.h"
#include "util.h"

/* A counting semaphore with a timed wait: the cap on concurrent scans. */
struct av_gate {
	pthread_mutex_t	 g_lock;
	pthread_cond_t	 g_cond;
	unsigned	 g_max;		/* >= 1 */
	unsigned	 g_active;
	int		 g_refs;	/* under g_lock */
};

/* What the policy says about the engine; copied so no policy is pinned. */
struct av_limits {
	uint64_t	 scansize;
	uint64_t	 filesize;
	unsigned	 recursion;
	unsigned	 files;
	uint64_t	 scan_time_ms;
	bool		 heuristics;
	unsigned	 max_scans;	/* 0 = online CPUs */
	char		 tmpdir[256];	/* "" = libclamav's default */
};

struct av_engine {
	struct cl_engine	*e_cl;
	uint64_t		 e_max_filesize;	/* the policy's */
	struct av_gate		*e_gate;
	struct cl_scan_options	 e_opts;	/* copied per scan */
	uint64_t		 e_wait_ms;	/* for a scan slot */
	unsigned		 e_sigs;
	int64_t			 e_db_time;
	char			 e_db_version[24];	/* "" = unknown */
	uint64_t		 e_load_ms;
	int			 e_refs;	/* atomic */
};

struct av_store {
	pthread_mutex_t	 s_lock;	/* s_engine, s_lim, s_dbdir */
	pthread_mutex_t	 s_reload;	/* one reload at a time */
	struct av_engine *s_engine;
	struct av_gate	*s_gate;
	struct av_limits s_lim;
	char		*s_dbdir;
	bool		 s_dbdir_changed;
	struct cl_stat	 s_stat;	/* under s_reload */
	bool		 s_stat_ok;
};

/* Per scan, handed to libclamav as the callback context. */
struct av_scanctx {
	uint64_t sc_max_filesize;
	bool	 sc_too_big;		/* an inner object over it */
	char	 sc_first[128];		/* first name reported */
	char	 sc_real[128];		/* first non-heuristic name */
	struct av_result *sc_res;	/* embedded executables go here */
};

/* Per load: what libclamav reported in this thread. "Can't load F: why"
 * names the file; the first other error says where in it. */
struct av_capture {
	char	 cp_load[200];
	char	 cp_first[200];
};

/*
 * Process-wide settings, written only before threads start (av_set_log,
 * av_global_init) and read-only afterwards.
 */
static av_log_fn	 av_log_sink;
static void		*av_log_ctx;
static bool		 av_log_stderr;
static pthread_once_t	 av_once = PTHREAD_ONCE_INIT;
static cl_error_t	 av_init_rc;

/*
 * The load in progress in this thread, if any. cl_load names a bad file
 * only in a message, and the message callback has no context argument for
 * loads, so the capture is per thread; it points to the loader's stack and
 * is cleared before the loader returns.
 */
static __thread struct av_capture *av_tls_capture;

static void
av_clcb_msg(enum cl_msg severity, const char *fullmsg, const char *msg,
    void *context)
{
	enum av_log_level	 lvl;
	struct av_capture	*cp = av_tls_capture;
	char			 line[512];
	size_t			 n;

	(void)fullmsg;
	(void)context;
	if (msg == NULL)
		return;
	snprintf(line, sizeof line, "%s", msg);
	n = strlen(line);
	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		line[--n] = '\0';
	switch (severity) {
	case CL_MSG_ERROR:
		lvl = AV_LOG_ERROR;
		break;
	case CL_MSG_WARN:
		lvl = AV_LOG_WARNING;
		break;
	case CL_MSG_INFO_VERBOSE:
		lvl = AV_LOG_DEBUG;
		break;
	default:
		lvl = AV_LOG_INFO;
		break;
	}
	if (cp != NULL && lvl == AV_LOG_ERROR) {
		if (strncmp(line, "Can't load ", 11) == 0) {
			if (cp->cp_load[0] == '\0')
				snprintf(cp->cp_load, sizeof cp->cp_load, "%s",
				    line);
		} else if (cp->cp_first[0] == '\0')
			snprintf(cp->cp_first, sizeof cp->cp_first, "%s", line);
	}
	if (av_log_sink != NULL)
		av_log_sink(lvl, line, av_log_ctx);
	else if (av_log_stderr)
		fprintf(stderr, "libclamav: %s\n", line);
}

void
av_set_log(av_log_fn fn, void *ctx)
{
	av_log_sink = fn;
	av_log_ctx = ctx;
}

static void
av_init_once(void)
{
	av_log_stderr = getenv("PORTCULLIS_CLAMAV_LOG") != NULL;
	cl_set_clcb_msg(av_clcb_msg);	/* first: cl_init's messages too */
	av_init_rc = cl_init(CL_INIT_DEFAULT);
}

int
av_global_init(struct err *err)
{
	pthread_once(&av_once, av_init_once);
	if (av_init_rc != CL_SUCCESS)
		return err_set(err, "libclamav init: %s",
		    cl_strerror(av_init_rc));
	return 0;
}

/* ---- scan slots ---- */

static unsigned
av_cpus(void)
{
	long	n = sysconf(_SC_NPROCESSORS_ONLN);

	return n < 1 ? 1 : n > 1024 ? 1024 : (unsigned)n;
}

static struct av_gate *
av_gate_new(unsigned max)
{
	struct av_gate		*g = xcalloc(1, sizeof *g);
	pthread_condattr_t	 ca;

	pthread_mutex_init(&g->g_lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&g->g_cond, &ca);
	pthread_condattr_destroy(&ca);
	g->g_max = max == 0 ? av_cpus() : max;
	g->g_refs = 1;
	return g;
}

static struct av_gate *
av_gate_ref(struct av_gate *g)
{
	pthread_mutex_lock(&g->g_lock);
	g->g_refs++;
	pthread_mutex_unlock(&g->g_lock);
	return g;
}

static void
av_gate_unref(struct av_gate **gp)
{
	struct av_gate	*g = *gp;
	int		 left;

	*gp = NULL;
	if (g == NULL)
		return;
	pthread_mutex_lock(&g->g_lock);
	left = --g->g_refs;
	pthread_mutex_unlock(&g->g_lock);
	if (left > 0)
		return;
	pthread_cond_destroy(&g->g_cond);
	pthread_mutex_destroy(&g->g_lock);
	free(g);
}

static void
av_gate_set_max(struct av_gate *g, unsigned max)
{
	pthread_mutex_lock(&g->g_lock);
	g->g_max = max == 0 ? av_cpus() : max;
	pthread_cond_broadcast(&g->g_cond);
	pthread_mutex_unlock(&g->g_lock);
}

/* The gate whose slot this thread holds for a whole message
 * (av_store_enter), so that its scans do not take a second slot. */
static __thread struct av_gate *av_tls_slot;

/* Takes a slot, waiting at most wait_ms. 0 = taken, -1 = none free. */
static int
av_gate_enter(struct av_gate *g, uint64_t wait_ms)
{
	struct timespec	 until;
	int		 rc = 0;

	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += (time_t)(wait_ms / 1000);
	until.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&g->g_lock);
	while (g->g_active >= g->g_max && rc == 0)
		if (pthread_cond_timedwait(&g->g_cond, &g->g_lock,
		    &until) == ETIMEDOUT && g->g_active >= g->g_max)
			rc = -1;
	if (rc == 0)
		g->g_active++;
	pthread_mutex_unlock(&g->g_lock);
	return rc;
}

static void
av_gate_leave(struct av_gate *g)
{
	pthread_mutex_lock(&g->g_lock);
	g->g_active--;
	pthread_cond_signal(&g->g_cond);
	pthread_mutex_unlock(&g->g_lock);
}

/* ---- engine ---- */

static void
av_limits_from_policy(struct av_limits *lim, const struct policy *pol)
{
	lim->scansize = pol->av_max_scansize;
	lim->filesize = pol->av_max_filesize;
	lim->recursion = pol->av_max_recursion;
	lim->files = pol->av_max_files;
	lim->scan_time_ms = pol->scan_time_ms;
	lim->heuristics = pol->av_heuristics;
	lim->max_scans = pol->max_scans;
	lim->tmpdir[0] = '\0';
	/* libclamav makes and removes a directory there for every scan:
	 * on tmpfs that is cheap; a missing one falls back to $TMPDIR */
	if (pol->av_temp_dir != NULL && access(pol->av_temp_dir,
	    W_OK | X_OK) == 0)
		snprintf(lim->tmpdir, sizeof lim->tmpdir, "%s",
		    pol->av_temp_dir);
}

static bool
av_is_heuristic(const char *name)
{
	return strncmp(name, "Heuristics.", 11) == 0;
}

/* The name libclamav gives an object a callback refused. */
static bool
av_is_callback_name(const char *name)
{
	return strncmp(name, "Detected.By.Callback", 20) == 0;
}

/* libclamav calls this for each match, in the scanning thread. */
static void
av_clcb_virus_found(int fd, const char *virname, void *context)
{
	struct av_scanctx	*sc = context;

	(void)fd;
	if (sc == NULL || virname == NULL)
		return;
	if (sc->sc_first[0] == '\0')
		snprintf(sc->sc_first, sizeof sc->sc_first, "%s", virname);
	if (sc->sc_real[0] == '\0' && !av_is_heuristic(virname) &&
	    !av_is_callback_name(virname))
		snprintf(sc->sc_real, sizeof sc->sc_real, "%s", virname);
}

/* ClamAV's type names of executables, in the policy's vocabulary. */
static const char *
av_exec_type(const char *cltype)
{
	static const struct {
		const char	*cl;
		const char	*word;
	} map[] = {
		{ "CL_TYPE_MSEXE", "exe-pe" },
		{ "CL_TYPE_ELF", "exe-elf" },
		{ "CL_TYPE_MACHO", "exe-macho" },
		{ "CL_TYPE_MACHO_UNIBIN", "exe-macho" },
	};
	size_t	i;

	for (i = 0; cltype != NULL && i < sizeof map / sizeof map[0]; i++)
		if (strcmp(cltype, map[i].cl) == 0)
			return map[i].word;
	return NULL;
}

/* Records an executable found below the top layer (bounded). */
static void
av_note_embedded(struct av_result *res, const char *type,
    const char **ancestors, uint32_t level, const char *file_name)
{
	const char		*word = av_exec_type(type);
	struct av_embedded	*em;
	size_t			 off = 0;
	uint32_t		 i;

	if (res == NULL || word == NULL || res->nembedded >= AV_EMBEDDED_MAX)
		return;
	em = &res->embedded[res->nembedded++];
	snprintf(em->type, sizeof em->type, "%s", word);
	em->path[0] = '\0';
	/* ancestors[0] is the buffer itself: the caller knows its name.
	 * Layers without a name, and libclamav's own temporary file names,
	 * are left out. */
	for (i = 1; ancestors != NULL && i <= level && off < sizeof em->path;
	    i++) {
		const char *n = i < level ? ancestors[i] : file_name;
		const char *base;

		if (n == NULL || (strncmp(n, "clamav-", 7) == 0 &&
		    strstr(n, ".tmp") != NULL))
			continue;
		base = strrchr(n, '\\') != NULL ? strrchr(n, '\\') + 1 : n;
		off += (size_t)snprintf(em->path + off, sizeof em->path - off,
		    "%s%s", off == 0 ? "" : "/", base);
	}
	if (em->path[0] == '\0')
		snprintf(em->path, sizeof em->path, "embedded");
}

/*
 * libclamav calls this for every object it is about to scan. Its zip
 * reader does not alert on a member over MaxFileSize: it cuts the member
 * to MaxFileSize bytes and scans the rest as clean (unzip.c, "trimming
 * output size to maxfilesize"). The engine's MaxFileSize is therefore set
 * one byte above the policy's, and any inner object larger than the
 * policy's limit -- cut or not -- is refused here. Refusing (CL_VIRUS)
 * rather than noting it also keeps the container out of libclamav's
 * clean cache, so a second scan of the same bytes cannot come back clean.
 */
static cl_error_t
av_clcb_inspect(int fd, const char *type, const char **ancestors,
    size_t parent_file_size, const char *file_name, size_t file_size,
    const char *file_buffer, uint32_t recursion_level,
    uint32_t layer_attributes, void *context)
{
	struct av_scanctx	*sc = context;

	(void)fd;
	(void)parent_file_size;
	(void)file_buffer;
	(void)layer_attributes;
	if (sc == NULL || recursion_level == 0)
		return CL_SUCCESS;
	if ((uint64_t)file_size > sc->sc_max_filesize) {
		sc->sc_too_big = true;
		return CL_VIRUS;
	}
	av_note_embedded(sc->sc_res, type, ancestors, recursion_level,
	    file_name);
	return CL_SUCCESS;
}

/* Newest modification time of the database files under path (a
 * directory or one file); 0 if none can be read. */
static int64_t
av_db_mtime(const char *path)
{
	struct stat	 st;
	struct dirent	*de;
	DIR		*d;
	int64_t		 newest = 0;
	char		*f;

	if (stat(path, &st) == -1)
		return 0;
	if (!S_ISDIR(st.st_mode))
		return (int64_t)st.st_mtime;
	if ((d = opendir(path)) == NULL)
		return 0;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		f = xasprintf("%s/%s", path, de->d_name);
		if (stat(f, &st) == 0 && S_ISREG(st.st_mode) &&
		    (int64_t)st.st_mtime > newest)
			newest = (int64_t)st.st_mtime;
		free(f);
	}
	closedir(d);
	return newest;
}

/* " (Can't load F: why; first other error)" or "". */
static const char *
av_capture_why(const struct av_capture *cp, char *buf, size_t size)
{
	if (cp->cp_load[0] == '\0' && cp->cp_first[0] == '\0')
		return "";
	snprintf(buf, size, " (%s%s%s)", cp->cp_load,
	    cp->cp_load[0] != '\0' && cp->cp_first[0] != '\0' ? "; " : "",
	    cp->cp_first);
	return buf;
}

static int
av_engine_setup(struct cl_engine *cl, const struct av_limits *lim,
    struct err *err)
{
	static const struct {
		enum cl_engine_field	 field;
		const char		*what;
	} f[] = {
		{ CL_ENGINE_MAX_SCANSIZE, "max_scansize" },
		{ CL_ENGINE_MAX_FILESIZE, "max_filesize" },
		{ CL_ENGINE_MAX_RECURSION, "max_recursion" },
		{ CL_ENGINE_MAX_FILES, "max_files" },
		{ CL_ENGINE_MAX_SCANTIME, "scan_time" },
	};
	long long	 v[5];
	size_t		 i;
	cl_error_t	 rc;

	v[0] = (long long)lim->scansize;
	v[1] = (long long)lim->filesize + 1;	/* see av_clcb_inspect */
	v[2] = (long long)lim->recursion;
	v[3] = (long long)lim->files;
	/* MAX_SCANTIME is a uint32_t of milliseconds; the policy caps
	 * scan_time well below that. */
	v[4] = (long long)(lim->scan_time_ms > UINT32_MAX ? UINT32_MAX :
	    lim->scan_time_ms);
	for (i = 0; i < sizeof f / sizeof f[0]; i++)
		if ((rc = cl_engine_set_num(cl, f[i].field, v[i])) !=
		    CL_SUCCESS)
			return err_set(err, "clamav limit %s=%lld: %s",
			    f[i].what, v[i], cl_strerror(rc));
	/* No clean cache: the same bytes must give the same verdict, and a
	 * cached object skips the inspection callback that reports embedded
	 * executables (a second copy of a document would come back clean). */
	if ((rc = cl_engine_set_num(cl, CL_ENGINE_DISABLE_CACHE, 1)) !=
	    CL_SUCCESS)
		return err_set(err, "clamav: cannot disable the cache: %s",
		    cl_strerror(rc));
	if (lim->tmpdir[0] != '\0' && (rc = cl_engine_set_str(cl,
	    CL_ENGINE_TMPDIR, lim->tmpdir)) != CL_SUCCESS)
		return err_set(err, "clamav: temp_dir %s: %s", lim->tmpdir,
		    cl_strerror(rc));
	cl_engine_set_clcb_virus_found(cl, av_clcb_virus_found);
	cl_engine_set_clcb_file_inspection(cl, av_clcb_inspect);
	return 0;
}

static void
av_engine_options(struct av_engine *e, const struct av_limits *lim)
{
	memset(&e->e_opts, 0, sizeof e->e_opts);
	e->e_opts.parse = ~0u;
	/* Never HEURISTIC_PRECEDENCE: a heuristic alert must not hide a
	 * real signature found later in the same object. No MAIL_PARTIAL:
	 * it keeps state on disk across messages. */
	if (lim->heuristics)
		e->e_opts.general |= CL_SCAN_GENERAL_HEURISTICS;
	/* Always: limits and encryption are findings, never "clean"; these
	 * alert without the general flag too (tested with heuristics off).
	 * The FP-prone alerts (broken executables, macros, phishing cloaks)
	 * stay off, as in clamd's defaults. */
	e->e_opts.heuristic = CL_SCAN_HEURISTIC_EXCEEDS_MAX |
	    CL_SCAN_HEURISTIC_ENCRYPTED_ARCHIVE |
	    CL_SCAN_HEURISTIC_ENCRYPTED_DOC;
}

static int
av_engine_build(const struct av_limits *lim, const char *dbdir,
    struct av_gate *gate, struct av_engine **engine_r, struct err *err)
{
	struct av_capture	 cap;
	struct av_engine	*e = NULL;
	struct cl_engine	*cl = NULL;
	struct stat		 st;
	unsigned		 sigs = 0;
	uint64_t		 t0 = clock_ms();
	cl_error_t		 rc;
	long long		 num;
	int			 got, ret = -1;
	char			 why[420];

	*engine_r = NULL;
	memset(&cap, 0, sizeof cap);
	if (dbdir == NULL || dbdir[0] == '\0')
		return err_set(err, "antivirus database: no path given");
	if (stat(dbdir, &st) == -1)
		return err_set(err, "antivirus database %s: %s", dbdir,
		    strerror(errno));
	if ((cl = cl_engine_new()) == NULL)
		return err_set(err, "antivirus database %s: cannot create "
		    "an engine (out of memory?)", dbdir);
	if (av_engine_setup(cl, lim, err) == -1)
		goto out;

	av_tls_capture = &cap;
	rc = cl_load(dbdir, cl, &sigs, CL_DB_STDOPT);
	av_tls_capture = NULL;
	if (rc != CL_SUCCESS) {
		err_set(err, "antivirus database %s: load failed: %s%s", dbdir,
		    cl_strerror(rc), av_capture_why(&cap, why, sizeof why));
		goto out;
	}
	if (sigs == 0) {
		err_set(err, "antivirus database %s: no signatures found",
		    dbdir);
		goto out;
	}
	av_tls_capture = &cap;
	rc = cl_engine_compile(cl);
	av_tls_capture = NULL;
	if (rc != CL_SUCCESS) {
		err_set(err, "antivirus database %s: compile failed: %s%s",
		    dbdir, cl_strerror(rc),
		    av_capture_why(&cap, why, sizeof why));
		goto out;
	}

	e = xcalloc(1, sizeof *e);
	e->e_cl = cl;
	cl = NULL;
	e->e_gate = av_gate_ref(gate);
	e->e_refs = 1;
	e->e_sigs = sigs;
	e->e_wait_ms = lim->scan_time_ms;
	e->e_max_filesize = lim->filesize;
	av_engine_options(e, lim);
	num = (long long)cl_engine_get_num(e->e_cl, CL_ENGINE_DB_VERSION, &got);
	if (got == CL_SUCCESS && num > 0)
		snprintf(e->e_db_version, sizeof e->e_db_version, "%lld", num);
	num = (long long)cl_engine_get_num(e->e_cl, CL_ENGINE_DB_TIME, &got);
	e->e_db_time = got == CL_SUCCESS && num > 0 ? (int64_t)num :
	    av_db_mtime(dbdir);
	e->e_load_ms = clock_ms() - t0;
	*engine_r = e;
	ret = 0;
out:
	if (cl != NULL)
		cl_engine_free(cl);
	return ret;
}

int
av_engine_load(const struct policy *pol, const char *dbdir,
    struct av_engine **engine_r, struct err *err)
{
	struct av_limits	 lim;
	struct av_gate		*gate;
	int			 rc;

	*engine_r = NULL;
	if (av_global_init(err) == -1)
		return -1;
	av_limits_from_policy(&lim, pol);
	gate = av_gate_new(lim.max_scans);
	rc = av_engine_build(&lim, dbdir, gate, engine_r, err);
	av_gate_unref(&gate);
	return rc;
}

struct av_engine *
av_engine_ref(struct av_engine *e)
{
	if (e != NULL)
		__atomic_add_fetch(&e->e_refs, 1, __ATOMIC_RELAXED);
	return e;
}

void
av_engine_unref(struct av_engine **ep)
{
	struct av_engine	*e = *ep;

	*ep = NULL;
	if (e == NULL ||
	    __atomic_sub_fetch(&e->e_refs, 1, __ATOMIC_ACQ_REL) != 0)
		return;
	cl_engine_free(e->e_cl);
	av_gate_unref(&e->e_gate);
	free(e);
}

int
av_engine_scan(void *av_ctx, const unsigned char *buf, size_t len,
    const char *name, unsigned flags, struct av_result *res,
    struct err *err)
{
	struct av_engine	*e = av_ctx;
	struct cl_scan_options	 opts;
	struct av_scanctx	 sc;
	cl_fmap_t		*map;
	const char		*vn = NULL;
	unsigned long		 scanned = 0;
	cl_error_t		 rc;
	bool			 held;

	memset(res, 0, sizeof *res);
	res->status = AV_CLEAN;
	if (e == NULL)
		return err_set(err, "antivirus: no engine loaded");
	if (len == 0)
		return 0;		/* nothing that could match */
	if ((uint64_t)len > e->e_max_filesize) {
		/* what libclamav would say at the policy's limit */
		res->status = AV_UNSCANNED;
		snprintf(res->name, sizeof res->name,
		    "Heuristics.Limits.Exceeded.MaxFileSize");
		return 0;
	}
	memset(&sc, 0, sizeof sc);
	sc.sc_max_filesize = e->e_max_filesize;
	sc.sc_res = res;
	opts = e->e_opts;
	if ((flags & AV_SCAN_CONTAINER) != 0)
		opts.parse &= ~(uint32_t)CL_SCAN_PARSE_ARCHIVE;
	held = av_tls_slot == e->e_gate;
	if (!held && av_gate_enter(e->e_gate, e->e_wait_ms) == -1)
		return err_set(err, "antivirus: no free scan slot after %llu "
		    "ms (max_scans)", (unsigned long long)e->e_wait_ms);
	if ((map = cl_fmap_open_memory(buf, len)) == NULL) {
		if (!held)
			av_gate_leave(e->e_gate);
		return err_set(err, "antivirus: cannot map %zu bytes", len);
	}
	rc = cl_scanmap_callback(map, name, &vn, &scanned, e->e_cl, &opts,
	    &sc);
	cl_fmap_close(map);
	if (!held)
		av_gate_leave(e->e_gate);

	switch (rc) {
	case CL_CLEAN:
		return 0;
	case CL_VIRUS:
		break;
	default:
		return err_set(err, "antivirus: %s: %s",
		    name != NULL ? name : "buffer", cl_strerror(rc));
	}
	/* vn points into the engine, valid while our reference is held.
	 * A real signature wins; then an inner object over the size limit
	 * (refused by av_clcb_inspect, so vn is libclamav's callback name);
	 * then a heuristic; a nameless hit is still a finding. */
	if (vn != NULL && vn[0] != '\0' && !av_is_heuristic(vn) &&
	    !av_is_callback_name(vn))
		;
	else if (sc.sc_real[0] != '\0')
		vn = sc.sc_real;
	else if (sc.sc_too_big)
		vn = "Heuristics.Limits.Exceeded.MaxFileSize";
	else if (vn == NULL || vn[0] == '\0')
		vn = sc.sc_first[0] != '\0' ? sc.sc_first :
		    "Heuristics.Unnamed";
	snprintf(res->name, sizeof res->name, "%s", vn);
	if (strncmp(vn, "Heuristics.Limits.Exceeded", 26) == 0)
		res->status = AV_UNSCANNED;
	else if (strncmp(vn, "Heuristics.Encrypted", 20) == 0)
		res->status = AV_ENCRYPTED;
	else
		res->status = AV_VIRUS;
	return 0;
}

unsigned
av_engine_signatures(const struct av_engine *e)
{
	return e != NULL ? e->e_sigs : 0;
}

int64_t
av_engine_db_time(const struct av_engine *e)
{
	return e != NULL ? e->e_db_time : 0;
}

const char *
av_engine_db_version(const struct av_engine *e)
{
	return e != NULL && e->e_db_version[0] != '\0' ? e->e_db_version :
	    NULL;
}

uint64_t
av_engine_load_ms(const struct av_engine *e)
{
	return e != NULL ? e->e_load_ms : 0;
}

/* ---- store ---- */

struct av_store *
av_store_new(const struct policy *pol, const char *dbdir)
{
	struct av_store	*s = xcalloc(1, sizeof *s);

	pthread_mutex_init(&s->s_lock, NULL);
	pthread_mutex_init(&s->s_reload, NULL);
	av_limits_from_policy(&s->s_lim, pol);
	s->s_dbdir = xstrdup(dbdir != NULL ? dbdir : pol->av_database);
	s->s_gate = av_gate_new(s->s_lim.max_scans);
	return s;
}

void
av_store_free(struct av_store **sp)
{
	struct av_store	*s = *sp;

	*sp = NULL;
	if (s == NULL)
		return;
	av_engine_unref(&s->s_engine);
	av_gate_unref(&s->s_gate);
	if (s->s_stat_ok)
		cl_statfree(&s->s_stat);
	free(s->s_dbdir);
	pthread_mutex_destroy(&s->s_reload);
	pthread_mutex_destroy(&s->s_lock);
	free(s);
}

struct av_engine *
av_store_get(struct av_store *s)
{
	struct av_engine	*e;

	/* Read and addref under one lock, so that a concurrent swap cannot
	 * free the engine between the two. */
	pthread_mutex_lock(&s->s_lock);
	e = av_engine_ref(s->s_engine);
	pthread_mutex_unlock(&s->s_lock);
	return e;
}

void
av_store_set_policy(struct av_store *s, const struct policy *pol,
    const char *dbdir)
{
	const char	*dir = dbdir != NULL ? dbdir : pol->av_database;
	char		*old = NULL;

	pthread_mutex_lock(&s->s_lock);
	av_limits_from_policy(&s->s_lim, pol);
	if (dir != NULL && (s->s_dbdir == NULL ||
	    strcmp(dir, s->s_dbdir) != 0)) {
		old = s->s_dbdir;
		s->s_dbdir = xstrdup(dir);
		s->s_dbdir_changed = true;
	}
	pthread_mutex_unlock(&s->s_lock);
	free(old);
	av_gate_set_max(s->s_gate, pol->max_scans);
}

/* Has the database at s_stat changed? Called with s_reload held. */
static bool
av_store_changed(struct av_store *s, const struct cl_stat *now)
{
	if (!s->s_stat_ok)
		return true;
	/* cl_statchkdir sees new and modified files; a removed file only
	 * shows in the count. Errors count as changed (the load says why). */
	if (cl_statchkdir(&s->s_stat) != 0)
		return true;
	return now->entries != s->s_stat.entries;
}

int
av_store_reload(struct av_store *s, bool force, struct err *err)
{
	struct av_engine	*ne = NULL, *old;
	struct av_limits	 lim;
	struct cl_stat		 now;
	bool			 now_ok, have, dirchg;
	char			*dir;
	int			 ret = -1;

	if (av_global_init(err) == -1)
		return -1;
	pthread_mutex_lock(&s->s_reload);
	pthread_mutex_lock(&s->s_lock);
	lim = s->s_lim;
	dir = xstrdup(s->s_dbdir);
	have = s->s_engine != NULL;
	dirchg = s->s_dbdir_changed;
	pthread_mutex_unlock(&s->s_lock);

	/* Snapshot before loading: a change made during the load is then
	 * seen by the next check. */
	memset(&now, 0, sizeof now);
	now_ok = dir != NULL && cl_statinidir(dir, &now) == CL_SUCCESS;
	if (!force && have && !dirchg && now_ok && !av_store_changed(s, &now)) {
		ret = 0;
		goto out;
	}
	if (av_engine_build(&lim, dir, s->s_gate, &ne, err) == -1)
		goto out;		/* the old engine stays */

	pthread_mutex_lock(&s->s_lock);
	old = s->s_engine;
	s->s_engine = ne;
	if (s->s_dbdir != NULL && strcmp(s->s_dbdir, dir) == 0)
		s->s_dbdir_changed = false;
	pthread_mutex_unlock(&s->s_lock);
	av_engine_unref(&old);	/* freed when its last scan ends */
	if (s->s_stat_ok)
		cl_statfree(&s->s_stat);
	s->s_stat = now;
	s->s_stat_ok = now_ok;
	now_ok = false;
	ret = 1;
out:
	if (now_ok)
		cl_statfree(&now);
	pthread_mutex_unlock(&s->s_reload);
	free(dir);
	return ret;
}

int
av_store_enter(struct av_store *s, uint64_t wait_ms)
{
	if (av_gate_enter(s->s_gate, wait_ms) == -1)
		return -1;
	av_tls_slot = s->s_gate;
	return 0;
}

void
av_store_leave(struct av_store *s)
{
	av_tls_slot = NULL;
	av_gate_leave(s->s_gate);
}
