/*
 * milter/alerts-daemon.c - the alerts thread of the milter process (see
 * alerts.h): it measures every [alerts] interval, asks alerts_evaluate()
 * what changed, logs it and posts the mails to the outbox.
 *
 * It reads no message: the signatures' age comes from the pool's report
 * of the engine in use (the keeper's), the rates from the counters that
 * milter.c feeds, the disks from statvfs(), the queue from the number of
 * lines [alerts] queue_command prints (postqueue -j: one JSON object per
 * queued message, counted, not parsed). That command runs without a shell
 * and is killed past ALERTS_QUEUE_MS; a measurement that fails is logged
 * once until it works again and leaves its alert as it was.
 */
#include "config.h"

#include <sys/statvfs.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "alerts.h"
#include "daemon.h"
#include "log.h"
#include "outbox.h"
#include "pool.h"
#include "util.h"

extern char **environ;

#define ALERTS_QUEUE_MS		10000	/* one run of the queue command */
#define ALERTS_QUEUE_ARGS	32	/* words of queue_command */

static struct {
	atomic_ullong		 messages, errors, tempfails, restarts;
	pthread_mutex_t		 mu;
	pthread_cond_t		 cv;
	bool			 quit, running, poked;
	pthread_t		 tid;
	/* the thread's own */
	struct alert_state	 st;
	struct alert_history	 hist;
	pid_t			 keeper;	/* last seen */
	bool			 warned[ALERT__N];
} a = { .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER };

void
alerts_note_message(enum disposition done, bool failed)
{
	atomic_fetch_add(&a.messages, 1);
	if (failed)
		atomic_fetch_add(&a.errors, 1);
	if (done == DISP_TEMPFAIL)
		atomic_fetch_add(&a.tempfails, 1);
}

void
alerts_note_worker_died(void)
{
	atomic_fetch_add(&a.restarts, 1);
}

/* A measurement failed: said once, until it works again. */
static void
cannot(enum alert_kind k, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
cannot(enum alert_kind k, const char *fmt, ...)
{
	char	line[512];
	va_list	ap;

	if (a.warned[k])
		return;
	a.warned[k] = true;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	log_event(LOG_WARNING, NULL, "alert", line, " state=not_measured "
	    "kind=%s", alerts_kind_str(k));
}

static void
measured(struct alert_reading *r, enum alert_kind k, double v)
{
	r->known[k] = true;
	r->value[k] = v;
	a.warned[k] = false;
}

static void
read_disk(struct alert_reading *r, enum alert_kind k, const char *dir)
{
	struct statvfs	sv;
	double		total, avail;

	if (dir == NULL)
		return;
	if (statvfs(dir, &sv) == -1) {
		cannot(k, "%s: %s", dir, strerror(errno));
		return;
	}
	total = (double)sv.f_blocks * (double)sv.f_frsize;
	avail = (double)sv.f_bavail * (double)sv.f_frsize;
	if (total <= 0) {
		cannot(k, "%s: the file system reports no size", dir);
		return;
	}
	measured(r, k, 100.0 * avail / total);
	snprintf(r->note[k], ALERT_NOTE_MAX, "%s: %.2f GiB free of %.2f GiB",
	    dir, avail / (1024.0 * 1024 * 1024),
	    total / (1024.0 * 1024 * 1024));
}

/* Runs argv with stdout and stderr on one pipe; counts the lines that
 * start with '{' (postqueue -j's), keeps the first other line for the
 * log. 0 with *n_r, or -1 with why. Never past ALERTS_QUEUE_MS. */
static int
run_queue(char *const *argv, uint64_t *n_r, char *why, size_t whylen)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t sa;
	struct pollfd	 pfd;
	uint64_t	 deadline = clock_ms() + ALERTS_QUEUE_MS, n = 0;
	char		 buf[8192], other[160];
	size_t		 olen = 0;
	bool		 bol = true, in_other = false, timed_out = false;
	pid_t		 pid, w = 0;
	int		 p[2], e, st = 0;

	other[0] = '\0';
	if (pipe2(p, O_CLOEXEC) == -1) {
		snprintf(why, whylen, "pipe: %s", strerror(errno));
		return -1;
	}
	posix_spawn_file_actions_init(&fa);
	spawnattr_clean(&sa);
	posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null",
	    O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, p[1], STDOUT_FILENO);
	posix_spawn_file_actions_adddup2(&fa, p[1], STDERR_FILENO);
	e = posix_spawn(&pid, argv[0], &fa, &sa, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&sa);
	close(p[1]);
	if (e != 0) {
		close(p[0]);
		snprintf(why, whylen, "%s: cannot be run: %s", argv[0],
		    strerror(e));
		return -1;
	}
	for (;;) {		/* bounded by the deadline */
		uint64_t	now = clock_ms();
		ssize_t		r, i;

		if (now >= deadline) {
			timed_out = true;
			break;
		}
		pfd.fd = p[0];
		pfd.events = POLLIN;
		pfd.revents = 0;
		if (poll(&pfd, 1, (int)(deadline - now)) <= 0)
			continue;
		r = read(p[0], buf, sizeof buf);
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		for (i = 0; i < r; i++) {
			if (bol) {
				in_other = buf[i] != '{' && other[0] == '\0' &&
				    olen == 0;
				if (buf[i] == '{')
					n++;
			}
			if (in_other && buf[i] != '\n' &&
			    olen + 1 < sizeof other)
				other[olen++] = buf[i];
			if (buf[i] == '\n' && in_other) {
				other[olen] = '\0';
				in_other = false;
			}
			bol = buf[i] == '\n';
		}
	}
	close(p[0]);
	other[olen] = '\0';
	while (!timed_out) {
		w = waitpid(pid, &st, WNOHANG);
		if (w == pid || (w == -1 && errno != EINTR))
			break;
		if (clock_ms() >= deadline)
			timed_out = true;
		else
			usleep(5000);
	}
	if (timed_out) {
		kill(pid, SIGKILL);
		while (waitpid(pid, &st, 0) == -1 && errno == EINTR)
			;
		snprintf(why, whylen, "%s: no answer within %d ms, killed",
		    argv[0], ALERTS_QUEUE_MS);
		return -1;
	}
	if (w != pid) {
		snprintf(why, whylen, "waitpid: %s", strerror(errno));
		return -1;
	}
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		char *o = str_sanitise(other, 120);

		snprintf(why, whylen, "%s: %s %d%s%s", argv[0],
		    WIFEXITED(st) ? "exit status" : "signal",
		    WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st),
		    o[0] != '\0' ? ": " : "", o);
		free(o);
		return -1;
	}
	*n_r = n;
	return 0;
}

static void
read_queue(struct alert_reading *r, const struct policy *pol)
{
	char		*cmd, *tok, *save = NULL;
	char		*argv[ALERTS_QUEUE_ARGS + 1];
	char		 why[256];
	size_t		 n = 0;
	uint64_t	 count;

	if (pol->alert_queue_command == NULL)
		return;
	cmd = xstrdup(pol->alert_queue_command);
	for (tok = strtok_r(cmd, " \t", &save); tok != NULL &&
	    n < ALERTS_QUEUE_ARGS; tok = strtok_r(NULL, " \t", &save))
		argv[n++] = tok;
	argv[n] = NULL;
	if (n == 0 || argv[0][0] != '/')
		cannot(ALERT_QUEUE, "[alerts] queue_command must start with "
		    "an absolute path");
	else if (run_queue(argv, &count, why, sizeof why) == -1)
		cannot(ALERT_QUEUE, "%s", why);
	else {
		measured(r, ALERT_QUEUE, (double)count);
		snprintf(r->note[ALERT_QUEUE], ALERT_NOTE_MAX,
		    "%llu messages listed by %s", (unsigned long long)count,
		    argv[0]);
	}
	free(cmd);
}

static void
read_signatures(struct alert_reading *r, const struct policy *pol,
    pid_t *keeper_r)
{
	struct pool_info	pi;
	struct tm		tm;
	time_t			built;
	int64_t			now = (int64_t)time(NULL);
	char			when[32];

	pool_info(&pi);
	*keeper_r = pi.keeper;
	if (!pol->av_enabled || !pi.have || pi.db_time <= 0)
		return;		/* none loaded yet: not judged */
	measured(r, ALERT_SIGNATURES,
	    (double)(now > pi.db_time ? now - pi.db_time : 0));
	built = (time_t)pi.db_time;
	if (gmtime_r(&built, &tm) == NULL ||
	    strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S UTC", &tm) == 0)
		snprintf(when, sizeof when, "%lld", (long long)pi.db_time);
	snprintf(r->note[ALERT_SIGNATURES], ALERT_NOTE_MAX,
	    "%u signatures, version %s, of %s", pi.signatures,
	    pi.version[0] != '\0' ? pi.version : "unknown", when);
}

static void
number_text(char *out, size_t len, enum alert_kind k, double v)
{
	if (isnan(v))
		snprintf(out, len, "-");
	else if (k == ALERT_ERRORS || k == ALERT_TEMPFAILS ||
	    k == ALERT_SPOOL_DISK || k == ALERT_QUARANTINE_DISK)
		snprintf(out, len, "%.1f%%", v);
	else if (k == ALERT_SIGNATURES)
		snprintf(out, len, "%.0fs", v);
	else
		snprintf(out, len, "%.0f", v);
}

static void
report(struct policy *pol, const struct alert_event *e, int64_t now)
{
	static const char *const change[] = { "raised", "reminded",
	    "cleared" };
	struct notification	*n;
	struct err		 err = ERR_INIT;
	char			 val[32], thr[32];
	char			*note = str_sanitise(e->note, ALERT_NOTE_MAX);
	bool			 mail = e->mail && pol->alert_mail_to.n > 0;

	number_text(val, sizeof val, e->kind, e->value);
	number_text(thr, sizeof thr, e->kind, e->threshold);
	log_event(e->change == ALERT_CLEARED ? LOG_INFO : LOG_WARNING, NULL,
	    "alert", note[0] != '\0' ? note : NULL,
	    " state=%s kind=%s value=%s threshold=%s%s mail=%s",
	    change[e->change], alerts_kind_str(e->kind), val, thr,
	    e->off ? " check=off" : "",
	    mail ? "yes" : pol->alert_mail_to.n == 0 ? "no_mail_to" :
	    "once_per_period");
	free(note);
	if (!mail)
		return;
	n = xcalloc(1, sizeof *n);
	if (alerts_compose(pol, e, daemon_hostname(pol), now, n, &err) == -1) {
		log_event(LOG_WARNING, NULL, "warning", err.msg,
		    " what=alert_mail");
		notify_list_free(&n, 1);
		return;
	}
	outbox_post(pol, n, 1, "alert");	/* takes n */
}

/* One round: measure, judge, tell. */
static void
check(void)
{
	struct policy		*pol = daemon_policy();
	struct alert_limits	 l;
	struct alert_reading	 r;
	struct alert_event	 ev[ALERT__N];
	struct alert_counts	 c, d;
	int64_t			 mono = (int64_t)(clock_ms() / 1000) + 1;
	int64_t			 window = (int64_t)(pol->alert_window_ms /
				    1000), span;
	pid_t			 keeper = 0;
	size_t			 n, i, raised = 0;

	memset(&r, 0, sizeof r);
	alerts_limits(pol, &l);
	read_signatures(&r, pol, &keeper);
	/* the keeper replaced: its workers with it (pool.c restarts it) */
	if (keeper != 0 && a.keeper != 0 && keeper != a.keeper)
		atomic_fetch_add(&a.restarts, 1);
	if (keeper != 0)
		a.keeper = keeper;
	c.messages = atomic_load(&a.messages);
	c.errors = atomic_load(&a.errors);
	c.tempfails = atomic_load(&a.tempfails);
	c.restarts = atomic_load(&a.restarts);
	alerts_history_delta(&a.hist, mono, window, &c, &d, &span);
	alerts_history_add(&a.hist, mono, window, &c);
	alerts_read_counts(&r, &d, span, pol->alert_rate_min_messages);
	if (l.threshold[ALERT_SPOOL_DISK] > 0)
		read_disk(&r, ALERT_SPOOL_DISK, pol->spool_dir);
	if (l.threshold[ALERT_QUARANTINE_DISK] > 0 && policy_uses_quarantine(pol))
		read_disk(&r, ALERT_QUARANTINE_DISK, pol->quarantine_dir);
	if (l.threshold[ALERT_QUEUE] > 0)
		read_queue(&r, pol);

	n = alerts_evaluate(&r, &l, &a.st, mono, ev);
	for (i = 0; i < n; i++)
		report(pol, &ev[i], (int64_t)time(NULL));
	for (i = 0; i < ALERT__N; i++)
		raised += a.st.c[i].raised;
	if (pol->log_level >= LOG_LEVEL_DIAGNOSTIC)
		log_event(LOG_DEBUG, NULL, "alert", NULL,
		    " state=checked raised=%zu", raised);
	policy_unref(&pol);
}

static void *
alerts_thread(void *arg)
{
	struct alert_counts	zero;
	struct timespec		ts;
	struct policy		*pol;
	uint64_t		every;

	(void)arg;
	memset(&zero, 0, sizeof zero);
	pol = daemon_policy();
	alerts_history_add(&a.hist, (int64_t)(clock_ms() / 1000) + 1,
	    (int64_t)(pol->alert_window_ms / 1000), &zero);
	policy_unref(&pol);
	pthread_mutex_lock(&a.mu);
	for (;;) {
		pol = daemon_policy();
		every = pol->alert_interval_ms;
		policy_unref(&pol);
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += (time_t)(every / 1000);
		ts.tv_nsec += (long)(every % 1000) * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		while (!a.quit && !a.poked &&
		    pthread_cond_timedwait(&a.cv, &a.mu, &ts) == 0)
			;
		if (a.quit)
			break;
		a.poked = false;
		pthread_mutex_unlock(&a.mu);
		check();
		pthread_mutex_lock(&a.mu);
	}
	pthread_mutex_unlock(&a.mu);
	return NULL;
}

int
alerts_start(struct err *err)
{
	int	r;

	if ((r = pthread_create(&a.tid, NULL, alerts_thread, NULL)) != 0)
		return err_set(err, "alerts thread: %s", strerror(r));
	a.running = true;
	return 0;
}

void
alerts_poke(void)
{
	pthread_mutex_lock(&a.mu);
	a.poked = true;
	pthread_cond_signal(&a.cv);
	pthread_mutex_unlock(&a.mu);
}

void
alerts_stop(void)
{
	if (!a.running)
		return;
	pthread_mutex_lock(&a.mu);
	a.quit = true;
	pthread_cond_signal(&a.cv);
	pthread_mutex_unlock(&a.mu);
	pthread_join(a.tid, NULL);
	a.running = false;
}
