/* milter/keeper.c - the engine keeper and its workers (keeper.h). */
#include "config.h"

#include <sys/eventfd.h>
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
#include <pthread.h>
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
	unsigned	 gen;
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

struct build {
	struct av_store	*store;
	int		 efd;		/* eventfd: the thread is done */
	int		 r;		/* av_store_reload's */
	struct err	 err;
	uint64_t	 ms;
	uint64_t	 rss_before, rss_after;
};

static struct {
	int			 ctl;
	pid_t			 pid;
	const struct cli_opts	*opts;
	struct policy		*pol;		/* in force */
	struct policy		*next_pol;	/* waits for the build */
	struct av_store		*store;
	struct av_engine	*engine;	/* the workers' (a reference) */
	struct typer		*typer;
	struct poison		*poison;
	struct kworker		 w[KEEPER_WORKERS_MAX];
	unsigned		 gen;
	struct pending		 q[KEEPER_QUEUE_MAX];
	unsigned		 qhead, qn;
	uint64_t		 qpeak_wait;	/* longest wait, quiet reload */
	bool			 retry;		/* a refused hand-over */
	int			 retry_errno;
	uint64_t		 retry_since;
	uint64_t		 nofile;	/* our RLIMIT_NOFILE */
	bool			 building;
	bool			 first_build;
	pthread_t		 bt;
	struct build		 b;
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

static bool
ready(void)
{
	return !k.pol->av_enabled || k.engine != NULL;
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
	if (k.engine != NULL) {
		m.a = av_engine_signatures(k.engine);
		m.c = av_engine_db_time(k.engine);
		wire_text(&m, av_engine_db_version(k.engine));
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

/* In the new worker: nothing of the keeper's but what it needs. */
static void
child_close(int keep)
{
	struct pending	*p;
	unsigned	 i, j;

	close(k.ctl);
	if (k.b.efd != -1)
		close(k.b.efd);
	for (i = 0; i < KEEPER_WORKERS_MAX; i++) {
		if (!k.w[i].used)
			continue;
		if (k.w[i].fd != -1 && k.w[i].fd != keep)
			close(k.w[i].fd);
		if (k.w[i].pidfd != -1)
			close(k.w[i].pidfd);
		if (k.w[i].chan != -1)
			close(k.w[i].chan);
	}
	for (i = 0; i < k.qn; i++) {
		p = &k.q[(k.qhead + i) % KEEPER_QUEUE_MAX];
		close(p->chan);
		for (j = 0; j < 3; j++)
			close(p->job[j]);
	}
}

static int
spawn_worker(void)
{
	struct sandbox_report	 rep;
	struct worker_ctx	 wc;
	struct err		 err = ERR_INIT;
	struct kworker		*w = NULL;
	uint64_t		 t0 = clock_ms();
	unsigned		 i;
	pid_t			 pid;
	int			 sp[2];

	for (i = 0; i < KEEPER_WORKERS_MAX && w == NULL; i++)
		if (!k.w[i].used)
			w = &k.w[i];
	if (w == NULL)
		return -1;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) == -1) {
		log_event(LOG_ERR, NULL, "error", strerror(errno),
		    " process=keeper what=socketpair");
		return -1;
	}
	fflush(NULL);
	if ((pid = fork()) == -1) {
		log_event(LOG_ERR, NULL, "error", strerror(errno),
		    " process=keeper what=fork");
		close(sp[0]);
		close(sp[1]);
		return -1;
	}
	if (pid == 0) {
		/* the worker: dies with the keeper */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != k.pid)
			_exit(0);
		close(sp[0]);
		child_close(sp[1]);
		prctl(PR_SET_NAME, "portcullis-wkr");
		if (sandbox_enter(k.pol->worker_memory, scratch_dir(k.pol), &rep,
		    &err) == -1) {
			log_event(LOG_ERR, NULL, "worker", err.msg,
			    " state=exiting pid=%ld", (long)getpid());
			_exit(1);
		}
		wc.pol = k.pol;
		wc.engine = k.engine;
		wc.typer = k.typer;
		wc.cpu_ms = k.pol->worker_cpu_ms;
		/* _exit: a worker's memory is the keeper's, not its to free */
		_exit(worker_run(sp[1], &wc));
	}
	close(sp[1]);
	memset(w, 0, sizeof *w);
	w->used = true;
	w->pid = pid;
	w->fd = sp[0];
	w->chan = -1;
	w->gen = k.gen;
	w->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (w->pidfd == -1)
		log_event(LOG_WARNING, NULL, "warning", strerror(errno),
		    " process=keeper what=pidfd_open");
	if (k.pol->log_level >= LOG_LEVEL_DIAGNOSTIC)
		log_event(LOG_INFO, NULL, "worker", NULL, " state=started "
		    "pid=%ld ms=%llu", (long)pid,
		    (unsigned long long)(clock_ms() - t0));
	return 0;
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

/* Forks workers up to the target (never while the build thread runs:
 * a fork copies only the calling thread). */
static void
top_up(void)
{
	unsigned	n;

	if (k.building || k.quiet || !ready() || k.stopping)
		return;
	for (n = count_workers(false); n < target_workers(); n++)
		if (spawn_worker() == -1)
			break;
}

/* ---- engine builds ----------------------------------------------------- */

static void *
build_main(void *arg)
{
	struct build	*b = arg;
	uint64_t	 t0 = clock_ms(), one = 1;

	b->rss_before = rss_bytes();
	b->r = av_store_reload(b->store, true, &b->err);
	b->rss_after = rss_bytes();
	b->ms = clock_ms() - t0;
	if (write(b->efd, &one, sizeof one) != sizeof one)
		abort();		/* an eventfd write cannot fail */
	return NULL;
}

static void
start_build(const struct policy *pol)
{
	int	r;

	if (k.building)
		return;
	k.sig_fp = sig_fingerprint(sig_dir(pol));
	if (k.store == NULL)
		k.store = av_store_new(pol, sig_dir(pol));
	else
		av_store_set_policy(k.store, pol, sig_dir(pol));
	k.b.store = k.store;
	k.b.r = 0;
	k.b.err = (struct err)ERR_INIT;
	if ((r = pthread_create(&k.bt, NULL, build_main, &k.b)) != 0) {
		log_event(LOG_ERR, NULL, "error", strerror(r),
		    " process=keeper what=engine_build");
		return;
	}
	k.building = true;
}

/* A reload: with the overlap if memory allows, else once idle. */
static void
want_build(const struct policy *pol)
{
	uint64_t	avail;

	if (k.building || k.quiet)
		return;
	avail = mem_available();
	/* an engine of unknown size (0) still needs the margin */
	if (k.engine != NULL && avail < k.engine_bytes + KEEPER_MEM_MARGIN) {
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
	if (k.engine != NULL && avail != UINT64_MAX &&
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
	for (i = 0; i < KEEPER_WORKERS_MAX; i++)
		if (k.w[i].used && k.w[i].chan == -1) {
			kill(k.w[i].pid, SIGKILL);
			retire(&k.w[i]);
			idle++;
		}
	av_engine_unref(&k.engine);
	av_store_free(&k.store);
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
	    k.qn > 0) || (k.engine != NULL && count_workers(false) == 0))
		return;
	k.quiet_report = false;
	if (k.engine == NULL)
		return;			/* the build failed: said so */
	log_event(LOG_INFO, NULL, "reload", NULL, " what=signatures "
	    "result=done overlap=no ms=%llu longest_wait_ms=%llu",
	    (unsigned long long)(clock_ms() - k.quiet_start),
	    (unsigned long long)k.qpeak_wait);
}

static void
build_done(void)
{
	struct build	*b = &k.b;
	struct policy	*old;
	uint64_t	 v;
	struct av_engine *e;

	if (read(b->efd, &v, sizeof v) != sizeof v)
		return;
	pthread_join(k.bt, NULL);
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
	if (b->r == 1 && (e = av_store_get(k.store)) != NULL) {
		av_engine_unref(&k.engine);
		k.engine = e;
		if (b->rss_after > b->rss_before)
			k.engine_bytes = b->rss_after - b->rss_before;
		log_event(LOG_INFO, NULL, "signatures", NULL, " result=loaded "
		    "dir=\"%s\" signatures=%u version=%s ms=%llu "
		    "engine_mib=%llu", sig_dir(k.pol), av_engine_signatures(e),
		    av_engine_db_version(e) != NULL ? av_engine_db_version(e) :
		    "unknown", (unsigned long long)b->ms,
		    (unsigned long long)(k.engine_bytes >> 20));
		if (k.pol->worker_memory != 0 && k.engine_bytes +
		    (512ull << 20) > k.pol->worker_memory)
			log_event(LOG_WARNING, NULL, "warning", "the engine "
			    "leaves less than 512 MiB of [daemon] "
			    "worker_memory for scanning", " what=memory "
			    "engine_mib=%llu worker_memory_mib=%llu",
			    (unsigned long long)(k.engine_bytes >> 20),
			    (unsigned long long)(k.pol->worker_memory >> 20));
		send_status(true);
	} else {
		log_event(k.engine == NULL ? LOG_ERR : LOG_WARNING, NULL,
		    "signatures", b->err.msg, " result=failed dir=\"%s\" "
		    "effect=%s", sig_dir(k.pol), k.engine == NULL ?
		    "tempfail" : "kept");
		/* those that waited for it (a reload without the overlap) */
		while (k.engine == NULL && k.pol->av_enabled && k.qn > 0)
			queue_drop(WS_NOT_READY, "the signatures did not load "
			    "again after the old engine was released");
		send_status(false);
	}
	k.first_build = false;
	roll_workers();
	if (k.reload_wanted != 0) {
		k.reload_wanted = 0;
		want_build(k.pol);
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
	if (np != NULL && np->av_enabled && (av_settings_differ(k.pol, np) ||
	    (flags & WIRE_RELOAD_SIGNATURES) != 0 || k.engine == NULL)) {
		policy_unref(&k.next_pol);
		k.next_pol = np;
		want_build(np);
		return;
	}
	if (np != NULL) {
		old = k.pol;
		k.pol = np;
		policy_unref(&old);
		if (!k.pol->av_enabled)
			av_engine_unref(&k.engine);
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
	struct pollfd	pfd[2 + 2 * KEEPER_WORKERS_MAX];
	struct kworker	*map[2 + 2 * KEEPER_WORKERS_MAX];
	uint64_t	now;
	unsigned	i;
	int		n, r;

	while (!k.stopping) {
		n = 0;
		pfd[n].fd = k.ctl;
		pfd[n].events = POLLIN;
		map[n++] = NULL;
		pfd[n].fd = k.building ? k.b.efd : -1;
		pfd[n].events = POLLIN;
		map[n++] = NULL;
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
		if (r > 0 && (pfd[1].revents & POLLIN) != 0)
			build_done();
		for (i = 2; r > 0 && i < (unsigned)n; i++) {
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
			if (k.pol->av_enabled && !k.building && (k.engine ==
			    NULL || sig_fingerprint(sig_dir(k.pol)) != k.sig_fp))
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
	struct err		err = ERR_INIT;
	unsigned		i;

	memset(&k, 0, sizeof k);
	k.ctl = ctl;
	k.opts = o;
	k.pid = getpid();
	k.b.efd = -1;
	for (i = 0; i < KEEPER_WORKERS_MAX; i++)
		k.w[i].fd = k.w[i].pidfd = k.w[i].chan = -1;
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
	if (typer_new(&k.typer, &err) == -1) {
		log_event(LOG_ERR, NULL, "keeper", err.msg, " state=failed");
		policy_unref(&k.pol);
		return CLI_EX_SOFTWARE;
	}
	poison_load(k.pol);
	if ((k.b.efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) == -1) {
		log_event(LOG_ERR, NULL, "keeper", strerror(errno),
		    " state=failed what=eventfd");
		return CLI_EX_SOFTWARE;
	}
	raise_nofile();
	log_event(LOG_INFO, NULL, "keeper", NULL, " state=started pid=%ld "
	    "workers=%u", (long)k.pid, target_workers());
	k.first_build = true;
	if (k.pol->av_enabled)
		start_build(k.pol);
	k.next_check = clock_ms() + k.pol->av_check_interval_ms;

	keeper_loop();

	k.stopping = true;
	shutdown_workers();
	if (k.building)
		pthread_join(k.bt, NULL);
	close(k.b.efd);
	av_engine_unref(&k.engine);
	av_store_free(&k.store);
	poison_free(&k.poison);
	typer_free(&k.typer);
	policy_unref(&k.next_pol);
	policy_unref(&k.pol);
	close(k.ctl);
	log_event(LOG_INFO, NULL, "keeper", NULL, " state=stopped");
	log_close();
	return CLI_EX_OK;
}
