/* milter/keeper.c - the engine keeper, its engine generations and workers
 * (keeper.h). */
#include "config.h"

#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "av.h"
#include "digest.h"
#include "keeper.h"
#include "log.h"
#include "magic.h"
#include "poison.h"
#include "sandbox.h"
#include "util.h"
#include "wire.h"
#include "worker.h"

#define KEEPER_WORKERS_MAX	512	/* current and retiring */
#define KEEPER_QUEUE_MAX	512	/* messages waiting for a worker */
#define KEEPER_GRACE_MS		1000	/* after scan_time, then SIGKILL */
#define KEEPER_QUIET_WAIT_MS	(60 * 1000)	/* for idle workers */
#define KEEPER_SIGFILES_MAX	100000	/* entries of the database dir */
#define KEEPER_MEM_MARGIN	(256ull << 20)
#define KEEPER_NOFILE_WANT	8192	/* soft RLIMIT_NOFILE, if allowed */
#define KEEPER_NOFILE_SPARE	128	/* for the engine build, logs, ... */
#define KEEPER_RETRY_MS		10	/* a hand-over the kernel refused */
#define KEEPER_GENS_MAX		4	/* serving, compiling, exiting */
#define KEEPER_SPAWN_MAX	64	/* workers asked of a generation at once */

struct kworker {
	bool		 used;
	pid_t		 pid;
	int		 fd;		/* socket to the worker, -1 = closed */
	int		 pidfd;
	int		 chan;		/* copy of the current channel, -1 = idle */
	unsigned char	 digest[DIGEST_LEN];
	char		 qid[64];
	uint64_t	 started;
	bool		 killed;	/* by us, at the deadline */
	bool		 retiring;	/* exits after its message */
	unsigned	 gen;		/* the epoch it was forked for */
	unsigned	 gnum;		/* its engine generation */
};

/* An engine generation: a process forked by the keeper that compiles one
 * engine and forks the workers that share it (keeper.h). */
struct kgen {
	bool		 used;
	unsigned	 num;
	pid_t		 pid;
	int		 fd;		/* socket to it, -1 = retired (it exits) */
	int		 pidfd;
	bool		 ready;		/* compiled: it forks workers */
	bool		 engine;	/* it has an engine (antivirus on) */
	unsigned	 asked;		/* workers asked for, not yet come */
	uint64_t	 started;
};

/* A message waiting for a worker. The keeper holds its descriptors (the
 * channel and the job's three), so none is in flight meanwhile. */
struct pending {
	int		 chan;
	int		 job[3];	/* message, envelope, result memfd */
	uint64_t	 a, b;		/* the job's lengths */
	uint32_t	 flags;		/* the job's */
	unsigned char	 digest[DIGEST_LEN];
	char		 qid[64];
	uint64_t	 since;
};

static struct {
	int			 ctl;
	pid_t			 pid;
	const struct cli_opts	*opts;
	struct policy		*pol;		/* in force */
	struct policy		*next_pol;	/* waits for the build */
	struct poison		*poison;
	struct kworker		 w[KEEPER_WORKERS_MAX];
	unsigned		 gen;		/* worker epoch: rolls retire */
	struct kgen		 g[KEEPER_GENS_MAX];
	struct kgen		*cur;		/* serving: forks the workers */
	struct kgen		*next;		/* compiling */
	unsigned		 gnum;		/* generations started */
	bool			 gen_lost;	/* the serving one died */
	unsigned		 sigs;		/* the serving engine's facts */
	int64_t			 db_time;
	char			 db_version[128];
	struct pending		 q[KEEPER_QUEUE_MAX];
	unsigned		 qhead, qn;
	uint64_t		 qpeak_wait;	/* longest wait, quiet reload */
	bool			 retry;		/* a refused hand-over */
	int			 retry_errno;
	uint64_t		 retry_since;
	uint64_t		 nofile;	/* our RLIMIT_NOFILE */
	bool			 building;	/* k.next != NULL */
	unsigned		 reload_wanted;	/* WIRE_RELOAD_* while building */
	bool			 quiet;		/* reload without overlap wanted */
	uint64_t		 quiet_since;
	bool			 quiet_building; /* ... and now compiling */
	bool			 quiet_report;	/* ... and then its figures */
	uint64_t		 quiet_start;
	unsigned		 quiet_left;	/* waited for it, not yet out */
	uint64_t		 engine_bytes;
	uint64_t		 sig_fp;
	uint64_t		 next_check;
	bool			 stopping;
	unsigned		 deaths;
} k;

/* ---- small helpers ---------------------------------------------------- */

static const char *
sig_dir(const struct policy *pol)
{
	return k.opts->signatures != NULL ? k.opts->signatures :
	    pol->av_database;
}

static unsigned
target_workers(void)
{
	long	n;

	if (k.pol->workers != 0)
		return k.pol->workers;
	n = sysconf(_SC_NPROCESSORS_ONLN);
	return n < 1 ? 1 : n > 64 ? 64 : (unsigned)n;
}

static uint64_t
rss_bytes(void)
{
	FILE			*fp = fopen("/proc/self/statm", "re");
	unsigned long long	 size, res = 0;

	if (fp == NULL)
		return 0;
	if (fscanf(fp, "%llu %llu", &size, &res) != 2)
		res = 0;
	fclose(fp);
	return res * (uint64_t)sysconf(_SC_PAGESIZE);
}

/* MemAvailable in bytes, UINT64_MAX if unknown. The fault-injection build
 * (never a release) reads PORTCULLIS_FAULT_MEMINFO instead of
 * /proc/meminfo when that names a readable file: the test of a reload
 * without the overlap needs a machine short of memory. */
static uint64_t
mem_available(void)
{
	FILE			*fp = NULL;
	char			 line[256];
	unsigned long long	 kb = 0;
	unsigned		 n = 0;

#ifdef PORTCULLIS_FAULT_INJECTION
	const char		*f = getenv("PORTCULLIS_FAULT_MEMINFO");

	if (f != NULL && *f != '\0')
		fp = fopen(f, "re");
#endif
	if (fp == NULL)
		fp = fopen("/proc/meminfo", "re");
	if (fp == NULL)
		return UINT64_MAX;
	while (n++ < 256 && fgets(line, sizeof line, fp) != NULL)
		if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1)
			break;
	fclose(fp);
	return kb != 0 ? kb * 1024 : UINT64_MAX;
}

/* A fingerprint of the database directory: names, sizes, mtimes, inodes
 * (what changes when freshclam or a copy replaces a file). */
static uint64_t
sig_fingerprint(const char *dir)
{
	DIR		*d;
	struct dirent	*e;
	struct stat	 st;
	uint64_t	 fp = 1469598103934665603ull, x;
	unsigned	 n = 0;
	char		 path[4096];
	const char	*p;

	if (dir == NULL || (d = opendir(dir)) == NULL)
		return 0;
	while ((e = readdir(d)) != NULL && n++ < KEEPER_SIGFILES_MAX) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
		if (stat(path, &st) == -1)
			continue;
		x = 1469598103934665603ull;
		for (p = e->d_name; *p != '\0'; p++)
			x = (x ^ (unsigned char)*p) * 1099511628211ull;
		x ^= (uint64_t)st.st_size * 31 + (uint64_t)st.st_ino * 17 +
		    (uint64_t)st.st_mtim.tv_sec * 1000000007ull +
		    (uint64_t)st.st_mtim.tv_nsec;
		fp += x * 0x9e3779b97f4a7c15ull;	/* order-free */
	}
	closedir(d);
	return fp;
}

static bool
str_differ(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a != b;
	return strcmp(a, b) != 0;
}

/* Settings that need a new engine. */
static bool
av_settings_differ(const struct policy *a, const struct policy *b)
{
	return a->av_enabled != b->av_enabled ||
	    str_differ(sig_dir(a), sig_dir(b)) ||
	    a->av_max_scansize != b->av_max_scansize ||
	    a->av_max_filesize != b->av_max_filesize ||
	    a->av_max_recursion != b->av_max_recursion ||
	    a->av_max_files != b->av_max_files ||
	    a->av_heuristics != b->av_heuristics ||
	    a->scan_time_ms != b->scan_time_ms ||
	    str_differ(a->av_temp_dir, b->av_temp_dir);
}

/* Messages are taken: a generation serves, or one is on its way that
 * they may wait for (one without an engine: milliseconds; one after a
 * reload without the overlap; one replacing a generation that died). */
static bool
ready(void)
{
	if (k.cur != NULL)
		return true;
	return k.building && (!k.pol->av_enabled || k.quiet_building ||
	    k.gen_lost);
}

static void
answer(int chan, enum wire_status st, const char *text)
{
	struct wire_msg	m;

	wire_init(&m, WIRE_RESULT);
	m.status = st;
	wire_text(&m, text);
	(void)wire_send(chan, &m, NULL, 0, true);
}

/* Closes our copy of a channel. A unix socket closed with unread data
 * resets its peer, which would lose the answer just sent: the job no
 * worker read is read (and dropped) first. */
static void
chan_close(int chan)
{
	struct wire_msg	m;
	int		fds[WIRE_FDS_MAX], nfds, i;

	for (i = 0; i < 4; i++) {
		if (wire_recv(chan, &m, fds, &nfds, true) != 1 &&
		    errno != EPROTO)
			break;
		while (nfds > 0)
			close(fds[--nfds]);
	}
	close(chan);
}

static void
send_status(bool ok)
{
	struct wire_msg	m;

	wire_init(&m, WIRE_STATUS);
	m.status = ok;
	m.b = target_workers();
	if (k.cur != NULL && k.cur->engine) {
		m.a = k.sigs;
		m.c = k.db_time;
		wire_text(&m, k.db_version[0] != '\0' ? k.db_version : NULL);
	}
	(void)wire_send(k.ctl, &m, NULL, 0, true);
}

/* ---- workers ----------------------------------------------------------- */

static unsigned
count_workers(bool busy_only)
{
	unsigned	i, n = 0;

	for (i = 0; i < KEEPER_WORKERS_MAX; i++)
		if (k.w[i].used && !k.w[i].retiring &&
		    (!busy_only || k.w[i].chan != -1))
			n++;
	return n;
}

static unsigned
count_busy(void)
{
	unsigned	i, n = 0;

	for (i = 0; i < KEEPER_WORKERS_MAX; i++)
		if (k.w[i].used && k.w[i].chan != -1)
			n++;
	return n;
}

static const char *
scratch_dir(const struct policy *pol)
{
	const char	*t;

	if (pol->av_temp_dir != NULL && access(pol->av_temp_dir,
	    W_OK | X_OK) == 0)
		return pol->av_temp_dir;
	t = getenv("TMPDIR");
	return t != NULL && *t != '\0' ? t : "/tmp";
}

/* In a new generation: nothing of the keeper's but what it needs. */
static void
child_close(void)
{
	struct pending	*p;
	unsigned	 i, j;

	close(k.ctl);
	for (i = 0; i < KEEPER_WORKERS_MAX; i++) {
		if (!k.w[i].used)
			continue;
		if (k.w[i].fd != -1)
			close(k.w[i].fd);
		if (k.w[i].pidfd != -1)
			close(k.w[i].pidfd);
		if (k.w[i].chan != -1)
			close(k.w[i].chan);
	}
	for (i = 0; i < KEEPER_GENS_MAX; i++) {
		if (!k.g[i].used)
			continue;
		if (k.g[i].fd != -1)
			close(k.g[i].fd);
		if (k.g[i].pidfd != -1)
			close(k.g[i].pidfd);
	}
	for (i = 0; i < k.qn; i++) {
		p = &k.q[(k.qhead + i) % KEEPER_QUEUE_MAX];
		close(p->chan);
		for (j = 0; j < 3; j++)
			close(p->job[j]);
	}
}

static void	retire(struct kworker *);

/* ---- the generation process -------------------------------------------- */

/* In a generation: forks one worker sharing its engine, policy and type
 * detector, and passes the keeper its end of the worker's socket with
 * its pid. The worker is the keeper's child (CLONE_PARENT), so the keeper
 * reaps it, sees how it died and kills it at its deadline as before, and
 * it dies with the keeper (PR_SET_PDEATHSIG); the generation may exit
 * before its workers do. */
static void
gen_spawn(int fd, const struct worker_ctx *wc, uint64_t epoch)
{
	struct sandbox_report	 rep;
	struct wire_msg		 m;
	struct err		 err = ERR_INIT;
	pid_t			 pid;
	int			 sp[2];

	wire_init(&m, WIRE_WORKER);
	m.b = epoch;
	m.status = 1;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) == -1) {
		log_event(LOG_ERR, NULL, "error", strerror(errno),
		    " process=generation what=socketpair");
		(void)wire_send(fd, &m, NULL, 0, false);
		return;
	}
	fflush(NULL);
	/* fork(), but the child's parent is the keeper */
	pid = (pid_t)syscall(SYS_clone, (unsigned long)(CLONE_PARENT | SIGCHLD),
	    NULL, NULL, NULL, NULL);
	if (pid == -1) {
		log_event(LOG_ERR, NULL, "error", strerror(errno),
		    " process=generation what=fork");
		close(sp[0]);
		close(sp[1]);
		(void)wire_send(fd, &m, NULL, 0, false);
		return;
	}
	if (pid == 0) {
		/* the worker: dies with the keeper */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != k.pid)
			_exit(0);
		close(fd);
		close(sp[0]);
		prctl(PR_SET_NAME, "portcullis-wkr");
		if (sandbox_enter(wc->pol->worker_memory, scratch_dir(wc->pol),
		    &rep, &err) == -1) {
			log_event(LOG_ERR, NULL, "worker", err.msg,
			    " state=exiting pid=%ld", (long)getpid());
			_exit(1);
		}
		/* _exit: a worker's memory is its generation's, not its to
		 * free */
		_exit(worker_run(sp[1], wc));
	}
	close(sp[1]);
	m.status = 0;
	m.a = (uint64_t)pid;
	if (wire_send(fd, &m, sp, 1, false) == -1)
		log_event(LOG_ERR, NULL, "error", strerror(errno),
		    " process=generation what=worker_handover");
	close(sp[0]);		/* the worker sees EOF if the keeper has none */
}

/* The generation's life: compile, report, fork workers on demand until
 * the keeper closes fd, then _exit without freeing anything (its workers
 * may still share the engine: a free would copy every page it writes).
 * pol is the policy it was forked for. */
static int
gen_run(int fd, struct policy *pol, unsigned num)
{
	struct worker_ctx	 wc;
	struct wire_msg		 m;
	struct err		 err = ERR_INIT;
	struct av_store		*store = NULL;
	struct av_engine	*engine = NULL;
	struct typer		*typer = NULL;
	struct policy		*np;
	char			*errors = NULL;
	uint64_t		 t0 = clock_ms(), rss0, bytes = 0, i;
	int			 fds[WIRE_FDS_MAX], nfds, r;

	wire_init(&m, WIRE_GEN_READY);
	if (typer_new(&typer, &err) == -1) {
		wire_text(&m, err.msg);
		(void)wire_send(fd, &m, NULL, 0, false);
		return 1;
	}
	if (pol->av_enabled) {
		rss0 = rss_bytes();
		store = av_store_new(pol, sig_dir(pol));
		if (av_store_reload(store, true, &err) != 1 ||
		    (engine = av_store_get(store)) == NULL) {
			wire_text(&m, err.msg[0] != '\0' ? err.msg :
			    "no engine");
			(void)wire_send(fd, &m, NULL, 0, false);
			return 1;
		}
		bytes = rss_bytes() > rss0 ? rss_bytes() - rss0 : 0;
		log_event(LOG_INFO, NULL, "signatures", NULL, " result=loaded "
		    "dir=\"%s\" signatures=%u version=%s ms=%llu "
		    "engine_mib=%llu generation=%u pid=%ld", sig_dir(pol),
		    av_engine_signatures(engine),
		    av_engine_db_version(engine) != NULL ?
		    av_engine_db_version(engine) : "unknown",
		    (unsigned long long)(clock_ms() - t0),
		    (unsigned long long)(bytes >> 20), num, (long)getpid());
		m.a = av_engine_signatures(engine);
		m.b = bytes;
		m.c = av_engine_db_time(engine);
		wire_text(&m, av_engine_db_version(engine));
	}
	m.status = 1;
	if (wire_send(fd, &m, NULL, 0, false) == -1)
		return 1;
	memset(&wc, 0, sizeof wc);
	wc.pol = pol;
	wc.engine = engine;
	wc.typer = typer;
	wc.cpu_ms = pol->worker_cpu_ms;
	for (;;) {
		r = wire_recv(fd, &m, fds, &nfds, false);
		if (r == 0)
			return 0;		/* retired, or the keeper is gone */
		if (r == -1) {
			if (errno == EINTR || errno == EPROTO)
				continue;
			return 1;
		}
		while (nfds > 0)
			close(fds[--nfds]);
		if (m.type == WIRE_SPAWN)
			for (i = 0; i < m.a && i < KEEPER_SPAWN_MAX; i++)
				gen_spawn(fd, &wc, m.b);
		else if (m.type == WIRE_RELOAD) {
			/* the keeper loaded it already: the same file */
			if (policy_load(k.opts->policy, k.opts->ov, k.opts->nov,
			    &np, &errors) == -1) {
				log_event(LOG_ERR, NULL, "reload", errors,
				    " what=policy result=failed "
				    "process=generation generation=%u", num);
				free(errors);
				errors = NULL;
				continue;
			}
			wc.pol = pol = np;	/* the old one: never freed */
			wc.cpu_ms = pol->worker_cpu_ms;
		}
	}
}

/* ---- generations, seen from the keeper ----------------------------------- */

/* Forks a generation that compiles an engine for pol. */
static int
gen_start(struct policy *pol)
{
	struct kgen	*g = NULL;
	unsigned	 i;
	pid_t		 pid;
	int		 sp[2];

	for (i = 0; i < KEEPER_GENS_MAX && g == NULL; i++)
		if (!k.g[i].used)
			g = &k.g[i];
	if (g == NULL) {
		log_event(LOG_ERR, NULL, "keeper", "too many generations "
		    "still exiting", " state=failed what=generation");
		return -1;
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) == -1) {
		log_event(LOG_ERR, NULL, "error", strerror(errno),
		    " process=keeper what=socketpair");
		return -1;
	}
	k.gnum++;
	fflush(NULL);
	if ((pid = fork()) == -1) {
		log_event(LOG_ERR, NULL, "error", strerror(errno),
		    " process=keeper what=fork");
		close(sp[0]);
		close(sp[1]);
		return -1;
	}
	if (pid == 0) {
		/* the generation: dies with the keeper */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != k.pid)
			_exit(0);
		close(sp[0]);
		child_close();
		prctl(PR_SET_NAME, "portcullis-gen");
		_exit(gen_run(sp[1], pol, k.gnum));
	}
	close(sp[1]);
	memset(g, 0, sizeof *g);
	g->used = true;
	g->num = k.gnum;
	g->pid = pid;
	g->fd = sp[0];
	g->started = clock_ms();
	g->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (g->pidfd == -1)
		log_event(LOG_WARNING, NULL, "warning", strerror(errno),
		    " process=keeper what=pidfd_open");
	log_event(LOG_INFO, NULL, "keeper", NULL, " state=compiling "
	    "generation=%u pid=%ld", g->num, (long)pid);
	return 0;
}

/* It exits (EOF on its socket) without freeing its engine. */
static void
gen_retire(struct kgen *g)
{
	if (g == NULL)
		return;
	if (g->fd != -1) {
		close(g->fd);
		g->fd = -1;
	}
	if (k.cur == g)
		k.cur = NULL;
}

/* Asks the serving generation for n more workers. */
static int
spawn_workers(unsigned n)
{
	struct wire_msg	m;

	if (k.cur == NULL || k.cur->fd == -1)
		return -1;
	wire_init(&m, WIRE_SPAWN);
	m.a = n;
	m.b = k.gen;
	if (wire_send(k.cur->fd, &m, NULL, 0, true) == -1)
		return -1;
	k.cur->asked += n;
	return 0;
}

/* A worker a generation forked: ours to dispatch to. */
static void
worker_add(struct kgen *g, const struct wire_msg *m, int fd)
{
	struct kworker	*w = NULL;
	unsigned	 i;

	for (i = 0; i < KEEPER_WORKERS_MAX && w == NULL; i++)
		if (!k.w[i].used)
			w = &k.w[i];
	if (w == NULL) {
		kill((pid_t)m->a, SIGKILL);	/* cannot happen: see top_up */
		close(fd);
		return;
	}
	memset(w, 0, sizeof *w);
	w->used = true;
	w->pid = (pid_t)m->a;
	w->fd = fd;
	w->chan = -1;
	w->gen = (unsigned)m->b;
	w->gnum = g->num;
	w->pidfd = (int)syscall(SYS_pidfd_open, w->pid, 0);
	if (w->pidfd == -1)
		log_event(LOG_WARNING, NULL, "warning", strerror(errno),
		    " process=keeper what=pidfd_open");
	if (k.pol->log_level >= LOG_LEVEL_DIAGNOSTIC)
		log_event(LOG_INFO, NULL, "worker", NULL, " state=started "
		    "pid=%ld generation=%u", (long)w->pid, g->num);
	/* forked for an older policy, or by a generation that no longer
	 * serves: it goes at once */
	if (g != k.cur || w->gen != k.gen)
		retire(w);
}

static void
retire(struct kworker *w)
{
	if (w->retiring)
		return;
	w->retiring = true;
	if (w->chan == -1 && w->fd != -1) {	/* idle: EOF ends it */
		close(w->fd);
		w->fd = -1;
	}
}

/* The workers of the last generation go, new ones come. */
static void
roll_workers(void)
{
	unsigned	i;

	k.gen++;
	for (i = 0; i < KEEPER_WORKERS_MAX; i++)
		if (k.w[i].used)
			retire(&k.w[i]);
}

static void
worker_free(struct kworker *w)
{
	if (w->fd != -1)
		close(w->fd);
	if (w->pidfd != -1)
		close(w->pidfd);
	if (w->chan != -1)
		chan_close(w->chan);
	memset(w, 0, sizeof *w);
	w->fd = w->pidfd = w->chan = -1;
}

/* How it died, for the milter and the log; *bad: the message is to
 * blame (poison). */
static void
death_cause(const struct kworker *w, int st, const struct rusage *ru,
    char *buf, size_t len, bool *bad)
{
	unsigned long long	rss = (unsigned long long)ru->ru_maxrss / 1024;
	unsigned long long	lim = k.pol->worker_memory >> 20;
	int			sig;

	*bad = true;
	if (w->killed) {
		snprintf(buf, len, "deadline: still scanning after "
		    "scan_time %llu ms, killed",
		    (unsigned long long)k.pol->scan_time_ms);
		return;
	}
	if (WIFEXITED(st)) {
		snprintf(buf, len, "exited with status %d", WEXITSTATUS(st));
		*bad = WEXITSTATUS(st) != 0;
		return;
	}
	sig = WIFSIGNALED(st) ? WTERMSIG(st) : 0;
	if (sig == SIGXCPU)
		snprintf(buf, len, "cpu limit: worker_cpu %llu ms used up",
		    (unsigned long long)k.pol->worker_cpu_ms);
	else if (sig == SIGSYS)
		snprintf(buf, len, "crash: a forbidden system call (seccomp)");
	else if (lim != 0 && rss * 2 >= lim && (sig == SIGABRT ||
	    sig == SIGSEGV || sig == SIGBUS || sig == SIGKILL))
		snprintf(buf, len, "memory: signal %d (%s) at %llu MiB "
		    "resident, worker_memory %llu MiB", sig, strsignal(sig), rss,
		    lim);
	else if (sig == SIGKILL)
		snprintf(buf, len, "memory: killed (SIGKILL, not by the "
		    "keeper: the kernel's OOM killer?) at %llu MiB resident",
		    rss);
	else
		snprintf(buf, len, "crash: signal %d (%s), %llu MiB resident",
		    sig, strsignal(sig), rss);
}

static void
reap(struct kworker *w)
{
	struct rusage	ru;
	struct err	err = ERR_INIT;
	char		why[200], hex[DIGEST_HEX_LEN + 1];
	int		st;
	pid_t		r;
	bool		bad;

	memset(&ru, 0, sizeof ru);
	do
		r = wait4(w->pid, &st, WNOHANG, &ru);
	while (r == -1 && errno == EINTR);
	if (r == 0)
		return;				/* not yet */
	if (w->chan == -1) {
		if (!w->retiring && !k.stopping)
			log_event(LOG_WARNING, NULL, "worker", NULL,
			    " state=ended pid=%ld status=%d", (long)w->pid,
			    st);
		worker_free(w);
		return;
	}
	death_cause(w, st, &ru, why, sizeof why, &bad);
	k.deaths++;
	answer(w->chan, WS_DIED, why);
	digest_hex(w->digest, hex);
	if (bad && poison_add(k.poison, w->digest, why, &err) == -1)
		log_event(LOG_ERR, NULL, "error", err.msg,
		    " process=keeper what=poison_list");
	log_event(LOG_ERR, w->qid[0] != '\0' ? w->qid : "NOQUEUE", "worker",
	    why, " state=died pid=%ld ms=%llu%s%s", (long)w->pid,
	    (unsigned long long)(clock_ms() - w->started),
	    bad ? " poison=" : "", bad ? hex : "");
	worker_free(w);
}

static void
job_close(struct pending *p)
{
	unsigned	i;

	for (i = 0; i < 3; i++)
		if (p->job[i] != -1) {
			close(p->job[i]);
			p->job[i] = -1;
		}
}

/* Hands p to w: 1 = done (the worker has p's descriptors), 0 = the kernel
 * refused for now (k.retry_errno; p stays queued), -1 = the worker is
 * unreachable (retired; p stays queued for another). */
static int
assign(struct kworker *w, struct pending *p)
{
	struct wire_msg	m;
	int		fds[4];

	fds[0] = p->chan;
	memcpy(fds + 1, p->job, sizeof p->job);
	wire_init(&m, WIRE_ASSIGN);
	m.a = p->a;
	m.b = p->b;
	m.flags = p->flags;
	if (wire_send(w->fd, &m, fds, 4, true) == -1) {
		if (wire_transient(errno)) {
			k.retry_errno = errno;
			return 0;
		}
		log_event(LOG_ERR, NULL, "worker", strerror(errno),
		    " state=unreachable pid=%ld", (long)w->pid);
		retire(w);
		return -1;
	}
	job_close(p);
	w->chan = p->chan;
	memcpy(w->digest, p->digest, DIGEST_LEN);
	memcpy(w->qid, p->qid, sizeof w->qid);
	w->started = clock_ms();
	w->killed = false;
	if (k.pol->log_level >= LOG_LEVEL_DIAGNOSTIC)
		log_event(LOG_INFO, w->qid[0] != '\0' ? w->qid : NULL,
		    "worker", NULL, " state=assigned pid=%ld queue_ms=%llu",
		    (long)w->pid, (unsigned long long)(w->started - p->since));
	return 1;
}

static struct kworker *
idle_worker(void)
{
	unsigned	i;

	for (i = 0; i < KEEPER_WORKERS_MAX; i++)
		if (k.w[i].used && !k.w[i].retiring && k.w[i].chan == -1 &&
		    k.w[i].fd != -1 && k.w[i].gen == k.gen)
			return &k.w[i];
	return NULL;
}

static void
dispatch_queue(void)
{
	struct kworker	*w;
	uint64_t	 now = clock_ms();
	int		 r = -2;	/* nothing tried */

	if (k.qn == 0)
		k.retry = false;	/* nobody waits for it any more */
	while (k.qn > 0 && !k.quiet && (w = idle_worker()) != NULL) {
		if ((r = assign(w, &k.q[k.qhead])) == 0)
			break;
		if (r == -1)
			continue;
		if (k.quiet_report && !k.building) {
			if (now - k.q[k.qhead].since > k.qpeak_wait)
				k.qpeak_wait = now - k.q[k.qhead].since;
			if (k.quiet_left > 0)
				k.quiet_left--;
		}
		k.qhead = (k.qhead + 1) % KEEPER_QUEUE_MAX;
		k.qn--;
	}
	/* a refusal is said once, and so is its end */
	if (r == 0 && !k.retry) {
		k.retry = true;
		k.retry_since = now;
		log_event(LOG_WARNING, NULL, "keeper",
		    strerror(k.retry_errno), " state=retrying what=handover "
		    "every_ms=%d", KEEPER_RETRY_MS);
	} else if (r == 1 && k.retry) {
		k.retry = false;
		log_event(LOG_INFO, NULL, "keeper", NULL, " state=passing "
		    "what=handover after_ms=%llu",
		    (unsigned long long)(now - k.retry_since));
	}
}

/* Answers and forgets the message at the head of the queue. */
static void
queue_drop(enum wire_status st, const char *why)
{
	struct pending	*p = &k.q[k.qhead];

	answer(p->chan, st, why);
	chan_close(p->chan);
	job_close(p);
	k.qhead = (k.qhead + 1) % KEEPER_QUEUE_MAX;
	k.qn--;
}

static void
expire_queue(uint64_t now)
{
	char	why[200];

	if (k.quiet || k.building)
		return;		/* a reload without overlap: they wait */
	while (k.qn > 0 && now - k.q[k.qhead].since >= k.pol->scan_time_ms) {
		if (k.retry)
			snprintf(why, sizeof why, "queue wait: scan_time %llu "
			    "ms passed while the kernel refused to pass the "
			    "message to a worker (%s)",
			    (unsigned long long)k.pol->scan_time_ms,
			    strerror(k.retry_errno));
		else
			snprintf(why, sizeof why, "queue wait: no scanning "
			    "worker free within scan_time %llu ms (%u "
			    "worker(s), %u busy, %u message(s) waiting)",
			    (unsigned long long)k.pol->scan_time_ms,
			    count_workers(false), count_busy(), k.qn);
		queue_drop(WS_BUSY, why);
	}
}

static void
deadlines(uint64_t now)
{
	unsigned	 i;
	struct kworker	*w;

	for (i = 0; i < KEEPER_WORKERS_MAX; i++) {
		w = &k.w[i];
		if (!w->used || w->chan == -1 || w->killed)
			continue;
		if (now - w->started >= k.pol->scan_time_ms + KEEPER_GRACE_MS) {
			kill(w->pid, SIGKILL);
			w->killed = true;
		}
	}
}

/* Asks the serving generation for workers up to the target (bounded by
 * KEEPER_WORKERS_MAX with the retiring ones). */
static void
top_up(void)
{
	unsigned	i, n, used = 0;

	if (k.quiet || k.stopping || k.cur == NULL || !k.cur->ready)
		return;
	for (i = 0; i < KEEPER_WORKERS_MAX; i++)
		if (k.w[i].used)
			used++;
	n = count_workers(false) + k.cur->asked;
	if (n < target_workers() && used + k.cur->asked + target_workers() -
	    n <= KEEPER_WORKERS_MAX)
		(void)spawn_workers(target_workers() - n);
}

/* ---- engine builds ----------------------------------------------------- */

static void
start_build(struct policy *pol)
{
	if (k.building)
		return;
	k.sig_fp = sig_fingerprint(sig_dir(pol));
	if (gen_start(pol) == -1)
		return;
	k.next = &k.g[0];
	while (k.next->num != k.gnum)
		k.next++;
	k.building = true;
}

/* A reload: with the overlap if memory allows, else once idle. */
static void
want_build(struct policy *pol)
{
	uint64_t	avail;

	if (k.building || k.quiet)
		return;
	avail = mem_available();
	/* an engine of unknown size (0) still needs the margin */
	if (k.cur != NULL && k.cur->engine && avail < k.engine_bytes +
	    KEEPER_MEM_MARGIN) {
		log_event(LOG_WARNING, NULL, "reload", "reloading without "
		    "the overlap once the workers are idle (messages wait "
		    "meanwhile)", " what=signatures result=deferred "
		    "need_mib=%llu available_mib=%llu",
		    (unsigned long long)((k.engine_bytes + KEEPER_MEM_MARGIN) >>
		    20), (unsigned long long)(avail >> 20));
		k.quiet = true;
		k.quiet_since = clock_ms();
		return;
	}
	if (k.cur != NULL && k.cur->engine && avail != UINT64_MAX &&
	    k.pol->log_level >= LOG_LEVEL_DIAGNOSTIC) {
		log_event(LOG_INFO, NULL, "reload", NULL, " what=signatures "
		    "result=overlap need_mib=%llu available_mib=%llu",
		    (unsigned long long)((k.engine_bytes + KEEPER_MEM_MARGIN) >>
		    20), (unsigned long long)(avail >> 20));
	}
	start_build(pol);
}

/* The quiet moment came: old engine out first, then the new one. No
 * message goes to a worker meanwhile (they wait in the queue, past
 * scan_time if need be: the milter waits 2 x scan_time and more). */
static void
quiet_reload(void)
{
	unsigned	i, idle = 0, busy;
	uint64_t	now = clock_ms();

	if ((busy = count_busy()) > 0 && now - k.quiet_since <
	    KEEPER_QUIET_WAIT_MS)
		return;
	/* Idle workers end on EOF, never by a kill: a worker says "idle"
	 * just before it answers the milter, and a kill in that instant
	 * would lose the answer (the message would get a 4xx). */
	for (i = 0; i < KEEPER_WORKERS_MAX; i++)
		if (k.w[i].used && k.w[i].chan == -1) {
			retire(&k.w[i]);
			idle++;
		}
	gen_retire(k.cur);		/* exits; busy workers keep its pages */
	log_event(busy > 0 ? LOG_WARNING : LOG_INFO, NULL, "reload", NULL,
	    " what=signatures result=released overlap=no idle_workers=%u "
	    "after_ms=%llu busy_workers=%u waiting=%u", idle,
	    (unsigned long long)(now - k.quiet_since), busy, k.qn);
	k.quiet = false;
	k.quiet_building = true;
	k.quiet_report = true;
	k.quiet_start = k.quiet_since;
	k.qpeak_wait = 0;
	start_build(k.next_pol != NULL ? k.next_pol : k.pol);
}

/* After a reload without the overlap, once the messages that waited for
 * it have a worker: how long they waited. */
static void
quiet_done(void)
{
	if (!k.quiet_report || k.quiet || k.building || (k.quiet_left > 0 &&
	    k.qn > 0) || (k.cur != NULL && count_workers(false) == 0))
		return;
	k.quiet_report = false;
	if (k.cur == NULL)
		return;			/* the build failed: said so */
	log_event(LOG_INFO, NULL, "reload", NULL, " what=signatures "
	    "result=done overlap=no ms=%llu longest_wait_ms=%llu",
	    (unsigned long long)(clock_ms() - k.quiet_start),
	    (unsigned long long)k.qpeak_wait);
}

/* A generation said whether its engine compiled. */
static void
gen_ready(struct kgen *g, const struct wire_msg *m)
{
	struct policy	*old;
	bool		 polchange = k.next_pol != NULL;
	char		 why[sizeof m->text];

	if (g != k.next)
		return;
	k.next = NULL;
	k.building = false;
	if (k.quiet_building)
		k.quiet_left = k.qn;	/* they go first (FIFO) */
	k.quiet_building = false;
	if (k.next_pol != NULL) {
		old = k.pol;
		k.pol = k.next_pol;
		k.next_pol = NULL;
		policy_unref(&old);
	}
	if (m->status == 1) {
		gen_retire(k.cur);	/* exits: nothing freed, nothing copied */
		k.cur = g;
		g->ready = true;
		g->engine = k.pol->av_enabled;
		k.gen_lost = false;
		if (g->engine) {
			k.sigs = (unsigned)m->a;
			k.db_time = m->c;
			snprintf(k.db_version, sizeof k.db_version, "%.*s",
			    (int)strnlen(m->text, sizeof m->text),
			    m->text);
			if (m->b != 0)
				k.engine_bytes = m->b;
		}
		log_event(LOG_INFO, NULL, "keeper", NULL, " state=serving "
		    "generation=%u pid=%ld ms=%llu", g->num, (long)g->pid,
		    (unsigned long long)(clock_ms() - g->started));
		if (g->engine && k.pol->worker_memory != 0 && k.engine_bytes +
		    (512ull << 20) > k.pol->worker_memory)
			log_event(LOG_WARNING, NULL, "warning", "the engine "
			    "leaves less than 512 MiB of [daemon] "
			    "worker_memory for scanning", " what=memory "
			    "engine_mib=%llu worker_memory_mib=%llu",
			    (unsigned long long)(k.engine_bytes >> 20),
			    (unsigned long long)(k.pol->worker_memory >> 20));
		send_status(true);
	} else {
		snprintf(why, sizeof why, "%.*s", (int)strnlen(m->text,
		    sizeof m->text), m->text);
		gen_retire(g);
		log_event(k.cur == NULL ? LOG_ERR : LOG_WARNING, NULL,
		    "signatures", why, " result=failed dir=\"%s\" "
		    "effect=%s generation=%u", sig_dir(k.pol), k.cur == NULL ?
		    "tempfail" : "kept", g->num);
		/* those that waited for it (a reload without the overlap) */
		while (k.cur == NULL && k.qn > 0)
			queue_drop(WS_NOT_READY, "the signatures did not load "
			    "again after the old engine was released");
		/* a new policy with the engine kept */
		if (polchange && k.cur != NULL && k.cur->fd != -1) {
			struct wire_msg	rm;

			wire_init(&rm, WIRE_RELOAD);
			rm.flags = WIRE_RELOAD_POLICY;
			(void)wire_send(k.cur->fd, &rm, NULL, 0, true);
		}
		send_status(false);
	}
	roll_workers();
	if (k.reload_wanted != 0) {
		k.reload_wanted = 0;
		want_build(k.pol);
	}
}

/* A generation ended. The serving one's workers keep serving (they hold
 * their own copy-on-write mapping of its engine) until a new generation
 * replaces them; one that was compiling failed. */
static void
gen_reap(struct kgen *g)
{
	struct wire_msg	 m;
	char		 how[64];
	int		 st;
	pid_t		 r;

	do
		r = waitpid(g->pid, &st, WNOHANG);
	while (r == -1 && errno == EINTR);
	if (r == 0)
		return;				/* not yet */
	if (WIFSIGNALED(st))
		snprintf(how, sizeof how, "signal=SIG%s",
		    sigabbrev_np(WTERMSIG(st)) != NULL ?
		    sigabbrev_np(WTERMSIG(st)) : "UNKNOWN");
	else
		snprintf(how, sizeof how, "status=%d", WIFEXITED(st) ?
		    WEXITSTATUS(st) : -1);
	if (g == k.next) {
		wire_init(&m, WIRE_GEN_READY);
		snprintf(m.text, sizeof m.text, "the generation compiling "
		    "the engine ended (%s)", how);
		gen_ready(g, &m);
	} else if (g == k.cur && !k.stopping) {
		log_event(LOG_ERR, NULL, "keeper", "its workers serve until "
		    "a new generation replaces them", " state=died "
		    "generation=%u pid=%ld %s workers=%u", g->num,
		    (long)g->pid, how, count_workers(false));
		gen_retire(g);
		k.gen_lost = true;
		start_build(k.pol);
	} else if (k.pol->log_level >= LOG_LEVEL_DIAGNOSTIC)
		log_event(LOG_INFO, NULL, "keeper", NULL, " state=exited "
		    "generation=%u pid=%ld %s", g->num, (long)g->pid, how);
	if (g->fd != -1)
		close(g->fd);
	if (g->pidfd != -1)
		close(g->pidfd);
	memset(g, 0, sizeof *g);
	g->fd = g->pidfd = -1;
}

/* A message from a generation. */
static void
gen_msg(struct kgen *g)
{
	struct wire_msg	m;
	int		fds[WIRE_FDS_MAX], nfds, r, i;

	for (i = 0; i < KEEPER_SPAWN_MAX && g->fd != -1; i++) {
		r = wire_recv(g->fd, &m, fds, &nfds, true);
		if (r == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (r <= 0) {		/* gone: its pidfd says how */
			if (r == -1 && errno == EPROTO)
				continue;
			close(g->fd);
			g->fd = -1;
			return;
		}
		if (m.type == WIRE_GEN_READY)
			gen_ready(g, &m);
		else if (m.type == WIRE_WORKER) {
			if (g->asked > 0)
				g->asked--;
			if (m.status == 0 && nfds == 1) {
				worker_add(g, &m, fds[0]);
				nfds = 0;
			}
		}
		while (nfds > 0)
			close(fds[--nfds]);
	}
}

/* ---- requests from the milter ------------------------------------------ */

/* The poison list from its file (at start and on reload: the postmaster
 * may have removed a line). */
static void
poison_load(const struct policy *pol)
{
	char		*path;
	unsigned	 n;

	poison_free(&k.poison);
	path = pol->spool_dir != NULL ? xasprintf("%s/poison",
	    pol->spool_dir) : NULL;
	k.poison = poison_new(path, POISON_MAX, &n);
	if (n > 0)
		log_event(LOG_INFO, NULL, "poison", NULL, " result=loaded "
		    "digests=%u file=\"%s\"", n, path);
	free(path);
}

static void
reload(unsigned flags)
{
	struct wire_msg	 m;
	struct policy	*np = NULL, *old;
	char		*errors = NULL;

	if (k.building || k.quiet) {
		k.reload_wanted |= flags;
		return;
	}
	if ((flags & WIRE_RELOAD_POLICY) != 0) {
		if (policy_load(k.opts->policy, k.opts->ov, k.opts->nov, &np,
		    &errors) == -1) {
			log_event(LOG_ERR, NULL, "reload", errors,
			    " what=policy result=failed process=keeper");
			free(errors);
			np = NULL;
		}
		poison_load(np != NULL ? np : k.pol);
	}
	/* a new generation: other engine settings, or none serving */
	if (np != NULL && (av_settings_differ(k.pol, np) || k.cur == NULL ||
	    (np->av_enabled && (flags & WIRE_RELOAD_SIGNATURES) != 0))) {
		policy_unref(&k.next_pol);
		k.next_pol = np;
		want_build(np);
		return;
	}
	if (np != NULL) {
		old = k.pol;
		k.pol = np;
		policy_unref(&old);
		/* the generation reads it too, for the workers it forks */
		wire_init(&m, WIRE_RELOAD);
		m.flags = WIRE_RELOAD_POLICY;
		if (k.cur->fd == -1 || wire_send(k.cur->fd, &m, NULL, 0,
		    true) == -1)
			log_event(LOG_ERR, NULL, "error", strerror(errno),
			    " process=keeper what=generation_reload");
		roll_workers();
		return;
	}
	if ((flags & WIRE_RELOAD_SIGNATURES) != 0 && k.pol->av_enabled)
		want_build(k.pol);
}

/* Room for one more waiting message: its four descriptors fit beside
 * the workers' (socket, pidfd, channel copy) under RLIMIT_NOFILE; a
 * descriptor the kernel cannot give us would lose the message. */
static bool
queue_room(void)
{
	unsigned	i, used = 0;

	for (i = 0; i < KEEPER_WORKERS_MAX; i++)
		if (k.w[i].used)
			used++;
	return k.qn < KEEPER_QUEUE_MAX && KEEPER_NOFILE_SPARE + 3ull * used +
	    4ull * (k.qn + 1) <= k.nofile;
}

static void
dispatch(struct wire_msg *m, int chan)
{
	struct pending	*p;
	struct wire_msg	 jm;
	char		 hex[DIGEST_HEX_LEN + 1], *qid;
	int		 jfds[WIRE_FDS_MAX], jn = 0, r;

	m->text[sizeof m->text - 1] = '\0';
	if (poison_has(k.poison, m->digest)) {
		digest_hex(m->digest, hex);
		qid = str_sanitise(m->text, 60);
		log_event(LOG_NOTICE, *qid != '\0' ? qid : "NOQUEUE",
		    "poison", NULL, " result=refused sha256=%s", hex);
		free(qid);
		answer(chan, WS_POISON, NULL);
		chan_close(chan);
		return;
	}
	/* between the old engine and the new one (a reload without the
	 * overlap) messages wait for the new one */
	if (!ready() && !k.quiet_building) {
		answer(chan, WS_NOT_READY, NULL);
		chan_close(chan);
		return;
	}
	if (!queue_room()) {
		answer(chan, WS_BUSY, "queue full: too many messages waiting "
		    "for a scanning worker");
		chan_close(chan);
		return;
	}
	/* the job out of the channel: nothing stays in flight */
	r = wire_recv(chan, &jm, jfds, &jn, true);
	if (r != 1 || jm.type != WIRE_JOB || jn != 3) {
		while (r == 1 && jn > 0)
			close(jfds[--jn]);
		qid = str_sanitise(m->text, 60);
		log_event(LOG_ERR, *qid != '\0' ? qid : NULL, "error",
		    r == -1 ? strerror(errno) : r == 0 ? "closed" :
		    "malformed", " stage=keeper what=no_job process=keeper");
		free(qid);
		answer(chan, WS_BUSY, "the engine keeper could not take the "
		    "message's job");
		chan_close(chan);
		return;
	}
	p = &k.q[(k.qhead + k.qn) % KEEPER_QUEUE_MAX];
	k.qn++;
	p->chan = chan;
	memcpy(p->job, jfds, sizeof p->job);
	p->a = jm.a;
	p->b = jm.b;
	p->flags = jm.flags;
	memcpy(p->digest, m->digest, DIGEST_LEN);
	snprintf(p->qid, sizeof p->qid, "%.63s", m->text);
	qid = str_sanitise(p->qid, sizeof p->qid - 1);
	snprintf(p->qid, sizeof p->qid, "%s", qid);
	free(qid);
	p->since = clock_ms();
	dispatch_queue();
}

static void
control(void)
{
	struct wire_msg	m;
	int		fds[WIRE_FDS_MAX], nfds, r, i;

	/* a few at a time: the workers get their turn too */
	for (i = 0; i < 64; i++) {
		r = wire_recv(k.ctl, &m, fds, &nfds, true);
		if (r == 0) {
			k.stopping = true;
			return;
		}
		if (r == -1) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			if (errno == EPROTO)
				continue;
			log_event(LOG_ERR, NULL, "error", strerror(errno),
			    " process=keeper what=control_socket");
			k.stopping = true;
			return;
		}
		if (m.type == WIRE_DISPATCH && nfds == 1)
			dispatch(&m, fds[0]);
		else {
			while (nfds > 0)
				close(fds[--nfds]);
			if (m.type == WIRE_RELOAD)
				reload(m.flags);
		}
	}
}

static void
worker_msg(struct kworker *w)
{
	struct wire_msg	m;
	int		fds[WIRE_FDS_MAX], nfds, r;

	r = wire_recv(w->fd, &m, fds, &nfds, true);
	if (r == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return;
	while (r == 1 && nfds > 0)
		close(fds[--nfds]);
	if (r == 1 && m.type == WIRE_IDLE && w->chan != -1) {
		if (m.status != 0) {
			log_event(LOG_ERR, w->qid[0] != '\0' ? w->qid : NULL,
			    "error", "the worker could not receive the "
			    "message's descriptors", " stage=keeper pid=%ld",
			    (long)w->pid);
			answer(w->chan, WS_BUSY, "the scanning worker could "
			    "not receive the message");
		}
		chan_close(w->chan);
		w->chan = -1;
		if (w->retiring || w->gen != k.gen) {
			w->retiring = true;
			close(w->fd);
			w->fd = -1;
		}
		return;
	}
	if (r <= 0) {			/* gone: the pidfd says how */
		close(w->fd);
		w->fd = -1;
	}
}

/* ---- the loop ------------------------------------------------------------ */

static void
shutdown_workers(void)
{
	unsigned	i;
	int		st;

	for (i = 0; i < KEEPER_WORKERS_MAX; i++)
		if (k.w[i].used) {
			kill(k.w[i].pid, SIGKILL);
			while (waitpid(k.w[i].pid, &st, 0) == -1 &&
			    errno == EINTR)
				;
			worker_free(&k.w[i]);
		}
	for (i = 0; i < KEEPER_GENS_MAX; i++)
		if (k.g[i].used) {
			kill(k.g[i].pid, SIGKILL);
			while (waitpid(k.g[i].pid, &st, 0) == -1 &&
			    errno == EINTR)
				;
			if (k.g[i].fd != -1)
				close(k.g[i].fd);
			if (k.g[i].pidfd != -1)
				close(k.g[i].pidfd);
			memset(&k.g[i], 0, sizeof k.g[i]);
		}
	k.cur = k.next = NULL;
	while (k.qn > 0) {
		close(k.q[k.qhead].chan);
		job_close(&k.q[k.qhead]);
		k.qhead = (k.qhead + 1) % KEEPER_QUEUE_MAX;
		k.qn--;
	}
}

static int
poll_timeout(uint64_t now)
{
	uint64_t	t = k.retry ? KEEPER_RETRY_MS : 1000, d;
	unsigned	i;

	for (i = 0; i < KEEPER_WORKERS_MAX; i++)
		if (k.w[i].used && k.w[i].chan != -1 && !k.w[i].killed) {
			d = k.w[i].started + k.pol->scan_time_ms +
			    KEEPER_GRACE_MS;
			d = d > now ? d - now : 0;
			if (d < t)
				t = d;
		}
	return (int)t;
}

static void
keeper_loop(void)
{
	struct pollfd	pfd[1 + 2 * KEEPER_GENS_MAX + 2 * KEEPER_WORKERS_MAX];
	struct kworker	*map[1 + 2 * KEEPER_GENS_MAX + 2 * KEEPER_WORKERS_MAX];
	struct kgen	*gmap[1 + 2 * KEEPER_GENS_MAX];
	uint64_t	now;
	unsigned	i;
	int		n, r;

	while (!k.stopping) {
		n = 0;
		pfd[n].fd = k.ctl;
		pfd[n].events = POLLIN;
		map[n++] = NULL;
		for (i = 0; i < KEEPER_GENS_MAX; i++) {
			gmap[n] = k.g[i].used ? &k.g[i] : NULL;
			pfd[n].fd = k.g[i].used ? k.g[i].fd : -1;
			pfd[n].events = POLLIN;
			map[n++] = NULL;
			gmap[n] = k.g[i].used ? &k.g[i] : NULL;
			pfd[n].fd = k.g[i].used ? k.g[i].pidfd : -1;
			pfd[n].events = POLLIN;
			map[n++] = NULL;
		}
		for (i = 0; i < KEEPER_WORKERS_MAX; i++) {
			if (!k.w[i].used)
				continue;
			pfd[n].fd = k.w[i].fd;
			pfd[n].events = POLLIN;
			map[n++] = &k.w[i];
			pfd[n].fd = k.w[i].pidfd;
			pfd[n].events = POLLIN;
			map[n++] = &k.w[i];
		}
		r = poll(pfd, (nfds_t)n, poll_timeout(clock_ms()));
		if (r == -1 && errno != EINTR) {
			log_event(LOG_ERR, NULL, "error", strerror(errno),
			    " process=keeper what=poll");
			break;
		}
		for (i = 1; r > 0 && i < 1 + 2 * KEEPER_GENS_MAX; i++) {
			if (pfd[i].revents == 0 || gmap[i] == NULL ||
			    !gmap[i]->used)
				continue;
			if (pfd[i].fd == gmap[i]->fd)
				gen_msg(gmap[i]);
			else if (pfd[i].fd == gmap[i]->pidfd)
				gen_reap(gmap[i]);
		}
		for (i = 0; i < KEEPER_GENS_MAX; i++)
			if (k.g[i].used && k.g[i].pidfd == -1)
				gen_reap(&k.g[i]);
		for (i = 1 + 2 * KEEPER_GENS_MAX; r > 0 && i < (unsigned)n;
		    i++) {
			if (pfd[i].revents == 0 || !map[i]->used)
				continue;
			if (pfd[i].fd == map[i]->pidfd)
				reap(map[i]);
			else if (pfd[i].fd == map[i]->fd)
				worker_msg(map[i]);
		}
		/* without a pidfd: look now and then */
		for (i = 0; i < KEEPER_WORKERS_MAX; i++)
			if (k.w[i].used && k.w[i].pidfd == -1)
				reap(&k.w[i]);
		if (r > 0 && pfd[0].revents != 0)
			control();
		now = clock_ms();
		deadlines(now);
		expire_queue(now);
		if (k.quiet)
			quiet_reload();
		quiet_done();
		if (now >= k.next_check) {
			k.next_check = now + k.pol->av_check_interval_ms;
			if (!k.building && (k.cur == NULL ||
			    (k.pol->av_enabled && sig_fingerprint(sig_dir(
			    k.pol)) != k.sig_fp)))
				want_build(k.pol);
		}
		top_up();
		dispatch_queue();
	}
}

/* Each waiting message holds four descriptors here (struct pending): the
 * soft limit goes up to KEEPER_NOFILE_WANT where the hard one allows (the
 * keeper polls, it never uses select). */
static void
raise_nofile(void)
{
	struct rlimit	rl;
	uint64_t	room;

	k.nofile = 1024;
	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		return;
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < KEEPER_NOFILE_WANT &&
	    (rl.rlim_max == RLIM_INFINITY || rl.rlim_max > rl.rlim_cur)) {
		rl.rlim_cur = rl.rlim_max != RLIM_INFINITY &&
		    rl.rlim_max < KEEPER_NOFILE_WANT ? rl.rlim_max :
		    KEEPER_NOFILE_WANT;
		if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
			(void)getrlimit(RLIMIT_NOFILE, &rl);
	}
	k.nofile = rl.rlim_cur == RLIM_INFINITY ? KEEPER_NOFILE_WANT :
	    (uint64_t)rl.rlim_cur;
	room = k.nofile > KEEPER_NOFILE_SPARE + 3ull * 2 * target_workers() ?
	    (k.nofile - KEEPER_NOFILE_SPARE - 3ull * 2 * target_workers()) / 4 :
	    0;
	if (room < KEEPER_QUEUE_MAX)
		log_event(LOG_WARNING, NULL, "warning", "more messages "
		    "waiting for a worker get 4xx", " what=nofile "
		    "process=keeper rlimit=%llu queue_max=%llu",
		    (unsigned long long)k.nofile, (unsigned long long)room);
}

int
keeper_run(int ctl, const struct cli_opts *o)
{
	struct sigaction	sa;
	sigset_t		set;
	unsigned		i;

	memset(&k, 0, sizeof k);
	k.ctl = ctl;
	k.opts = o;
	k.pid = getpid();
	for (i = 0; i < KEEPER_WORKERS_MAX; i++)
		k.w[i].fd = k.w[i].pidfd = k.w[i].chan = -1;
	for (i = 0; i < KEEPER_GENS_MAX; i++)
		k.g[i].fd = k.g[i].pidfd = -1;
	log_open();
	prctl(PR_SET_NAME, "portcullis-kpr");
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = SIG_IGN;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGUSR2, &sa, NULL);
	sigaction(SIGPIPE, &sa, NULL);
	sigemptyset(&set);
	sigprocmask(SIG_SETMASK, &set, NULL);

	if (cli_load_policy(o, &k.pol) == -1) {
		log_event(LOG_ERR, NULL, "keeper", "the policy does not load",
		    " state=failed");
		return CLI_EX_CONFIG;
	}
	poison_load(k.pol);
	raise_nofile();
	log_event(LOG_INFO, NULL, "keeper", NULL, " state=started pid=%ld "
	    "workers=%u", (long)k.pid, target_workers());
	start_build(k.pol);
	k.next_check = clock_ms() + k.pol->av_check_interval_ms;

	keeper_loop();

	k.stopping = true;
	shutdown_workers();
	poison_free(&k.poison);
	policy_unref(&k.next_pol);
	policy_unref(&k.pol);
	close(k.ctl);
	log_event(LOG_INFO, NULL, "keeper", NULL, " state=stopped");
	log_close();
	return CLI_EX_OK;
}
