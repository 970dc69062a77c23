/* milter/pool.c - the milter's side of the scanning pool (pool.h). */
#include "config.h"

#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
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

#include "digest.h"
#include "log.h"
#include "metrics.h"
#include "pool.h"
#include "util.h"

#define POOL_SLICE_MS		5000	/* keep-alive to the MTA */
#define POOL_KEEPER_FD		3	/* the keeper's control socket */
#define POOL_RESTART_FAST_MS	10000	/* a keeper that died this soon */
#define POOL_STOP_WAIT_MS	5000
#define POOL_RETRY_US		5000	/* a send the kernel refused */

extern char **environ;

static struct {
	pthread_mutex_t	 lock;		/* ctl, keeper, info */
	int		 ctl;		/* -1 = no keeper */
	pid_t		 keeper;
	uint64_t	 started;
	unsigned	 fast_deaths;
	struct pool_info info;
	char		**argv;		/* for the keeper */
	pthread_t	 tid;
	bool		 watching;
	atomic_bool	 quit;
} p = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.ctl = -1,
};

/* Starts a keeper on a new control socket (lock held or no threads yet).
 * posix_spawn: safe from a threaded process (the child only execs). */
static int
spawn_keeper(struct err *err)
{
	posix_spawn_file_actions_t	fa;
	posix_spawnattr_t		sa;
	sigset_t			none;
	pid_t				pid;
	int				sp[2], child, r;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) == -1)
		return err_set(err, "socketpair: %s", strerror(errno));
	/* above 3, so that dup2 onto 3 happens (and clears close-on-exec) */
	if ((child = fcntl(sp[1], F_DUPFD_CLOEXEC, 10)) == -1) {
		close(sp[0]);
		close(sp[1]);
		return err_set(err, "fcntl: %s", strerror(errno));
	}
	close(sp[1]);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, child, POOL_KEEPER_FD);
	posix_spawn_file_actions_addclosefrom_np(&fa, POOL_KEEPER_FD + 1);
	posix_spawnattr_init(&sa);
	sigemptyset(&none);
	posix_spawnattr_setsigmask(&sa, &none);
	posix_spawnattr_setflags(&sa, POSIX_SPAWN_SETSIGMASK);
	r = posix_spawn(&pid, "/proc/self/exe", &fa, &sa, p.argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&sa);
	close(child);
	if (r != 0) {
		close(sp[0]);
		return err_set(err, "cannot start the engine keeper: %s",
		    strerror(r));
	}
	p.ctl = sp[0];
	p.keeper = pid;
	p.started = clock_ms();
	p.info.keeper = pid;
	p.info.have = false;
	return 0;
}

int
pool_start(const char *policy_path, const char *sig_dir,
    const struct cli_opts *o, struct err *err)
{
	size_t	n = 0, i;

	p.argv = xcalloc(8 + 2 * o->nov, sizeof *p.argv);
	p.argv[n++] = xstrdup("portcullis");
	p.argv[n++] = xstrdup("keeper");
	p.argv[n++] = xasprintf("%d", POOL_KEEPER_FD);
	p.argv[n++] = xstrdup("--policy");
	p.argv[n++] = xstrdup(policy_path);
	if (sig_dir != NULL) {
		p.argv[n++] = xstrdup("--signatures");
		p.argv[n++] = xstrdup(sig_dir);
	}
	for (i = 0; i < o->nov; i++) {
		p.argv[n++] = xstrdup("-o");
		p.argv[n++] = xasprintf("%s=%s", o->ov[i].key, o->ov[i].value);
	}
	p.argv[n] = NULL;
	return spawn_keeper(err);
}

/* Reaps a dead keeper (lock held). */
static void
keeper_gone(void)
{
	int		st = 0;
	pid_t		r;
	unsigned	i;

	if (p.ctl != -1)
		close(p.ctl);
	p.ctl = -1;
	for (i = 0; i < 50; i++) {
		r = waitpid(p.keeper, &st, WNOHANG);
		if (r != 0)
			break;
		usleep(10000);
	}
	if (r == 0) {
		kill(p.keeper, SIGKILL);
		waitpid(p.keeper, &st, 0);
	}
	if (WIFSIGNALED(st))
		log_event(LOG_ERR, NULL, "keeper", "messages get tempfail "
		    "until it is back", " state=died pid=%ld signal=SIG%s",
		    (long)p.keeper, sigabbrev_np(WTERMSIG(st)));
	else
		log_event(LOG_ERR, NULL, "keeper", "messages get tempfail "
		    "until it is back", " state=died pid=%ld status=%d",
		    (long)p.keeper, WEXITSTATUS(st));
	p.fast_deaths = clock_ms() - p.started < POOL_RESTART_FAST_MS ?
	    p.fast_deaths + 1 : 0;
	p.keeper = 0;
	p.info.have = false;
}

static void *
watch_thread(void *arg)
{
	struct wire_msg	m;
	struct pollfd	pfd;
	struct err	err = ERR_INIT;
	int		fds[WIRE_FDS_MAX], nfds, r, fd;
	uint64_t	backoff;

	(void)arg;
	while (!atomic_load(&p.quit)) {
		pthread_mutex_lock(&p.lock);
		fd = p.ctl;
		pthread_mutex_unlock(&p.lock);
		if (fd == -1) {
			/* fast deaths back off: 0.1 s, 0.2 s, ... up to 10 s */
			backoff = 100ull << (p.fast_deaths < 7 ?
			    p.fast_deaths : 7);
			usleep((useconds_t)(backoff > 10000 ? 10000 : backoff) *
			    1000);
			if (atomic_load(&p.quit))
				break;
			pthread_mutex_lock(&p.lock);
			if (spawn_keeper(&err) == -1)
				log_event(LOG_ERR, NULL, "keeper", err.msg,
				    " state=failed");
			else
				log_event(LOG_INFO, NULL, "keeper", NULL,
				    " state=restarted pid=%ld", (long)p.keeper);
			pthread_mutex_unlock(&p.lock);
			continue;
		}
		pfd.fd = fd;
		pfd.events = POLLIN;
		pfd.revents = 0;
		if (poll(&pfd, 1, 500) <= 0)
			continue;
		r = wire_recv(fd, &m, fds, &nfds, true);
		while (r == 1 && nfds > 0)
			close(fds[--nfds]);
		if (r == 1 && m.type == WIRE_STATUS) {
			pthread_mutex_lock(&p.lock);
			m.text[sizeof m.text - 1] = '\0';
			if (m.status != 0) {
				p.info.have = true;
				p.info.signatures = (unsigned)m.a;
				p.info.db_time = m.c;
				snprintf(p.info.version, sizeof p.info.version,
				    "%.63s", m.text);
			}
			p.info.workers = (unsigned)m.b;
			pthread_mutex_unlock(&p.lock);
			metrics_reload(m.status != 0);
			continue;
		}
		if (r == 0 || (r == -1 && errno != EAGAIN && errno != EPROTO &&
		    errno != EINTR)) {
			if (atomic_load(&p.quit))
				break;
			pthread_mutex_lock(&p.lock);
			keeper_gone();
			pthread_mutex_unlock(&p.lock);
		}
	}
	return NULL;
}

int
pool_watch(struct err *err)
{
	int	r;

	if ((r = pthread_create(&p.tid, NULL, watch_thread, NULL)) != 0)
		return err_set(err, "pthread_create: %s", strerror(r));
	p.watching = true;
	return 0;
}

void
pool_stop(void)
{
	uint64_t	t0 = clock_ms();
	pid_t		pid;
	int		st;
	size_t		i;

	atomic_store(&p.quit, true);
	if (p.watching)
		pthread_join(p.tid, NULL);
	p.watching = false;
	pthread_mutex_lock(&p.lock);
	if (p.ctl != -1)
		close(p.ctl);		/* the keeper exits on EOF */
	p.ctl = -1;
	pid = p.keeper;
	p.keeper = 0;
	pthread_mutex_unlock(&p.lock);
	while (pid > 0 && waitpid(pid, &st, WNOHANG) == 0) {
		if (clock_ms() - t0 > POOL_STOP_WAIT_MS) {
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			break;
		}
		usleep(10000);
	}
	for (i = 0; p.argv != NULL && p.argv[i] != NULL; i++)
		free(p.argv[i]);
	free(p.argv);
	p.argv = NULL;
}

void
pool_reload(unsigned flags)
{
	struct wire_msg	m;

	wire_init(&m, WIRE_RELOAD);
	m.flags = flags;
	pthread_mutex_lock(&p.lock);
	if (p.ctl == -1 || wire_send(p.ctl, &m, NULL, 0, true) == -1)
		log_event(LOG_WARNING, NULL, "reload", "the engine keeper "
		    "is not running; it loads the files in force when it "
		    "starts", " result=deferred");
	pthread_mutex_unlock(&p.lock);
}

void
pool_info(struct pool_info *pi)
{
	pthread_mutex_lock(&p.lock);
	*pi = p.info;
	pthread_mutex_unlock(&p.lock);
}

static void
result(struct pool_result *res, enum wire_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
result(struct pool_result *res, enum wire_status st, const char *fmt, ...)
{
	va_list	ap;

	res->status = st;
	va_start(ap, fmt);
	vsnprintf(res->detail, sizeof res->detail, fmt, ap);
	va_end(ap);
}

/* The message as a read-only descriptor: the spool file reopened, or the
 * buffer in a sealed memfd (at most [daemon] memory_buffer). */
static int
message_fd(const struct pool_job *j, struct err *err)
{
	char	path[64];
	int	fd;

	if (j->spool_fd >= 0) {
		snprintf(path, sizeof path, "/proc/self/fd/%d", j->spool_fd);
		if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
			err_set(err, "reopen of the spool file: %s",
			    strerror(errno));
		return fd;
	}
	return wire_memfd("portcullis-msg", j->msg, j->len, NULL, 0, err);
}

/* Why a send failed, in words a postmaster can act on. */
static const char *
send_why(int e)
{
	if (e == ETOOMANYREFS)
		return "too many descriptors in flight for this user "
		    "(ETOOMANYREFS)";
	return strerror(e);
}

/* Sends m with fds on fd, or on the keeper's control socket if fd is -1
 * (under the lock), trying again while the kernel lacks a resource
 * (wire_transient) until deadline (clock_ms). 0, or -1 with errno; a
 * control socket that failed otherwise is shut down (the watch thread
 * restarts the keeper). */
static int
send_patient(int fd, const struct wire_msg *m, const int *fds, int nfds,
    uint64_t deadline)
{
	int	r, e;

	for (;;) {
		if (fd != -1) {
			r = wire_send(fd, m, fds, nfds, true);
			e = errno;
		} else {
			pthread_mutex_lock(&p.lock);
			if (p.ctl == -1) {
				r = -1;
				e = ENOTCONN;
			} else {
				r = wire_send(p.ctl, m, fds, nfds, true);
				e = errno;
				if (r == -1 && !wire_transient(e))
					shutdown(p.ctl, SHUT_RDWR);
			}
			pthread_mutex_unlock(&p.lock);
		}
		if (r == 0)
			return 0;
		if (!wire_transient(e) || clock_ms() >= deadline) {
			errno = e;
			return -1;
		}
		usleep(POOL_RETRY_US);
	}
}

/* Sends the job (with an empty memfd for the result, *out_r) into a fresh
 * channel and the channel to the keeper. Returns our end of the channel,
 * or -1 (res set). */
static int
send_job(const struct pool_job *j, int *out_r, struct pool_result *res)
{
	struct wire_msg	 m;
	struct buf	 env = BUF_INIT;
	struct err	 err = ERR_INIT;
	uint64_t	 deadline = clock_ms() + j->pol->scan_time_ms;
	int		 fds[3] = { -1, -1, -1 }, ch[2] = { -1, -1 }, i;

	*out_r = -1;
	if ((fds[0] = message_fd(j, &err)) == -1)
		goto fail;
	wire_env_pack(j->env, &env);
	if (env.len > WIRE_ENV_MAX) {
		err_set(&err, "envelope over %u bytes", WIRE_ENV_MAX);
		goto fail;
	}
	if ((fds[1] = wire_memfd("portcullis-env", env.data, env.len, NULL, 0,
	    &err)) == -1)
		goto fail;
	if ((fds[2] = memfd_create("portcullis-result", MFD_CLOEXEC)) == -1) {
		err_set(&err, "memfd_create: %s", strerror(errno));
		goto fail;
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, ch) == -1) {
		err_set(&err, "socketpair: %s", strerror(errno));
		goto fail;
	}
	wire_init(&m, WIRE_JOB);
	m.a = j->len;
	m.b = env.len;
	m.flags = j->explain ? WIRE_JOB_EXPLAIN : 0;
	if (send_patient(ch[0], &m, fds, 3, deadline) == -1) {
		result(res, WS_NOT_READY, "could not pass the message to the "
		    "engine keeper: %s", send_why(errno));
		goto out;
	}
	wire_init(&m, WIRE_DISPATCH);
	digest_sha256(j->msg, j->len, m.digest);
	wire_text(&m, j->env->queue_id);
	if (send_patient(-1, &m, &ch[1], 1, deadline) == -1) {
		result(res, WS_NOT_READY, "could not pass the message to the "
		    "engine keeper: %s", errno == ENOTCONN ? "it is not "
		    "running" : send_why(errno));
		goto out;
	}
	close(ch[1]);
	close(fds[0]);
	close(fds[1]);
	buf_free(&env);
	*out_r = fds[2];
	return ch[0];
fail:
	result(res, WS_ERROR, "%s", err.msg);
out:
	if (ch[0] != -1)
		close(ch[0]);
	if (ch[1] != -1)
		close(ch[1]);
	for (i = 0; i < 3; i++)
		if (fds[i] != -1)
			close(fds[i]);
	buf_free(&env);
	return -1;
}

/* WS_OK: the verdict and the body, copied out of the result memfd (the
 * worker may still hold it: what is parsed is our copy). */
static void
take_verdict(const struct pool_job *j, const struct wire_msg *m, int fd,
    struct pool_result *res)
{
	unsigned char	*packed = NULL;
	struct err	 err = ERR_INIT;
	struct verdict	*v = NULL;
	struct stat	 st;

	if (m->a > VERDICT_PACK_MAX || m->b > SIZE_MAX - m->a ||
	    m->b > (uint64_t)j->pol->message_size * 4 + (1u << 20)) {
		result(res, WS_ERROR, "result of %llu+%llu bytes refused",
		    (unsigned long long)m->a, (unsigned long long)m->b);
		return;
	}
	if (fstat(fd, &st) == -1) {
		result(res, WS_ERROR, "result: fstat: %s", strerror(errno));
		return;
	}
	if (st.st_size < 0 || (uint64_t)st.st_size < m->a + m->b) {
		result(res, WS_ERROR, "result: %llu+%llu bytes announced, "
		    "the memfd holds %lld", (unsigned long long)m->a,
		    (unsigned long long)m->b, (long long)st.st_size);
		return;
	}
	packed = xmalloc((size_t)m->a + 1);
	if (wire_read(fd, 0, packed, (size_t)m->a, &err) == -1 ||
	    verdict_unpack(packed, (size_t)m->a, j->pol, &v, &err) == -1) {
		result(res, WS_ERROR, "result: %s", err.msg);
		free(packed);
		return;
	}
	free(packed);
	if ((m->flags & WIRE_RESULT_BODY) != 0) {
		v->new_body = xmalloc(m->b + 1);
		v->new_body_len = (size_t)m->b;
		if (wire_read(fd, m->a, v->new_body, (size_t)m->b, &err) ==
		    -1) {
			result(res, WS_ERROR, "result body: %s", err.msg);
			verdict_free(&v);
			return;
		}
	} else
		v->new_body_len = 0;
	res->status = WS_OK;
	res->verdict = v;
}

void
pool_scan(const struct pool_job *j, struct pool_result *res)
{
	struct wire_msg	 m;
	struct pollfd	 pfd;
	uint64_t	 t0 = clock_ms(), now, left;
	int		 ch, out = -1, fds[WIRE_FDS_MAX], nfds = 0, r;

	memset(res, 0, sizeof *res);
	if ((ch = send_job(j, &out, res)) == -1)
		return;
	for (;;) {
		now = clock_ms();
		if (now - t0 >= j->wait_ms) {
			result(res, WS_NOT_READY, "no answer from the engine "
			    "keeper nor its workers in %llu ms (queue wait and "
			    "scan deadline both passed)",
			    (unsigned long long)j->wait_ms);
			goto out;
		}
		left = j->wait_ms - (now - t0);
		pfd.fd = ch;
		pfd.events = POLLIN;
		pfd.revents = 0;
		r = poll(&pfd, 1, (int)(left < POOL_SLICE_MS ? left :
		    POOL_SLICE_MS));
		if (r == 0) {
			if (j->progress != NULL)
				j->progress(j->progress_ctx);
			continue;
		}
		if (r == -1 && errno == EINTR)
			continue;
		break;
	}
	r = wire_recv(ch, &m, fds, &nfds, true);
	if (r != 1 || m.type != WIRE_RESULT) {
		/* the keeper went away with the message */
		result(res, WS_NOT_READY, "no answer from the engine keeper "
		    "(%s)", r == -1 ? strerror(errno) : "it is gone");
		goto out;
	}
	m.text[sizeof m.text - 1] = '\0';
	if (m.status == WS_OK)
		take_verdict(j, &m, out, res);
	else if (m.status == WS_BUSY)
		/* the pool's own failure (queue wait, a hand-over refused):
		 * never the policy's error rule, a 4xx */
		result(res, WS_NOT_READY, "%s", m.text);
	else
		result(res, m.status <= WS_BUSY ? (enum wire_status)m.status :
		    WS_ERROR, "%s", m.text);
out:
	while (nfds > 0)
		close(fds[--nfds]);
	if (out != -1)
		close(out);
	close(ch);
}
