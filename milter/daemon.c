/*
 * milter/daemon.c - the daemon around the callbacks: start-up (socket,
 * daemonizing, PID file, privilege drop, the engine keeper), the signal
 * thread (reloads, graceful stop), and the policy in force.
 *
 * This process never loads the ClamAV engine nor parses a message: the
 * engine keeper (keeper.h), started before any thread exists, does, in its
 * scanning workers (pool.h is this side of it).
 *
 * Threads: besides libmilter's, our signal thread (SIGHUP, SIGUSR1,
 * SIGUSR2, SIGTERM and SIGINT are blocked in every other thread, from
 * before any thread exists) and the pool's watch thread. The current
 * policy is a refcounted pointer swapped under g.lock (held only to take a
 * reference); a bad file never replaces it.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libmilter/mfapi.h>

#include "alerts.h"
#include "cli.h"
#include "daemon.h"
#include "log.h"
#include "milter.h"
#include "metrics.h"
#include "msgctx.h"
#include "outbox.h"
#include "pool.h"
#ifdef PORTCULLIS_INPROCESS_SCAN
#include "inproc.h"
#endif
#include "qsync.h"
#include "util.h"

#define MLT_TIMEOUT_S	600	/* libmilter: seconds to wait for the MTA */

static struct {
	pthread_mutex_t		 lock;		/* pol */
	struct policy		*pol;		/* the policy in force */
	const struct cli_opts	*opts;
	char			*policy_path;	/* absolute: we chdir("/") */
	char			*sig_dir;	/* --signatures, absolute */
	const char		*conn;		/* socket spec */
	char			 host[256];	/* gethostname() */
	atomic_bool		 stopping;
	atomic_bool		 main_returned;	/* smfi_main() is done */
	pthread_t		 main_thread;	/* runs smfi_main() */
} g = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
};

/* The signals our signal thread owns; blocked in every other thread. */
static void
our_signals(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGHUP);
	sigaddset(set, SIGUSR1);
	sigaddset(set, SIGUSR2);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGINT);
}

/*
 * libmilter's signal thread (started inside smfi_main) sigwait()s for
 * SIGHUP, SIGTERM and SIGINT and stops the filter on SIGHUP. Ours must
 * own them: SIGHUP reloads, and SIGTERM lets messages in flight finish.
 * Two threads waiting for one signal would race for it, so this program
 * defines sigwait(): the dynamic linker binds libmilter's call here (the
 * executable's symbols come first), and our signals are taken out of the
 * set libmilter waits for; its thread then waits for nothing. Our signal
 * thread calls sigwaitinfo(), not this.
 */
int
sigwait(const sigset_t *set, int *sig)
{
	sigset_t	s = *set;
	sigset_t	ours;
	int		i, r;

	our_signals(&ours);
	for (i = 1; i < NSIG; i++)
		if (sigismember(&ours, i) == 1)
			sigdelset(&s, i);
	for (;;) {
		r = sigwaitinfo(&s, NULL);
		if (r > 0) {
			*sig = r;
			return 0;
		}
		if (errno != EINTR)
			return errno;
	}
}

/* ---- what the callbacks use ------------------------------------------ */

struct policy *
daemon_policy(void)
{
	struct policy	*pol;

	pthread_mutex_lock(&g.lock);
	pol = policy_ref(g.pol);
	pthread_mutex_unlock(&g.lock);
	return pol;
}

static const char *
signature_dir(const struct policy *pol)
{
	return g.sig_dir != NULL ? g.sig_dir :
	    pol->av_database;
}

const char *
daemon_hostname(const struct policy *pol)
{
	return pol->hostname != NULL ? pol->hostname : g.host;
}

bool
daemon_stopping(void)
{
	return atomic_load(&g.stopping);
}

/* ---- reloads ----------------------------------------------------------- */

static bool
str_differ(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a != b;
	return strcmp(a, b) != 0;
}

/* Loads and validates the file anew; swaps only a good policy in. */
static void
reload_policy(int sig)
{
	const char	*path = g.policy_path;
	struct policy	*np = NULL, *old;
	char		*errors = NULL, *line, *next;
	unsigned	 n = 0;

	if (policy_load(path, g.opts->ov, g.opts->nov, &np, &errors) == -1) {
		for (line = errors; line != NULL && *line != '\0';
		    line = next) {
			next = strchr(line, '\n');
			if (next != NULL)
				*next++ = '\0';
			if (*line == '\0')
				continue;
			log_event(LOG_ERR, NULL, "reload", line,
			    " what=policy result=error");
			n++;
		}
		log_event(LOG_ERR, NULL, "reload", "the policy in force is "
		    "kept", " what=policy result=failed signal=SIG%s "
		    "errors=%u", sigabbrev_np(sig), n);
		free(errors);
		return;
	}
	pthread_mutex_lock(&g.lock);
	old = g.pol;
	g.pol = np;
	pthread_mutex_unlock(&g.lock);
	/* the keeper reads the same file: new workers, and a new engine if
	 * the signature settings changed; the old ones serve meanwhile */
	pool_reload(WIRE_RELOAD_POLICY);

	if (str_differ(old->socket, np->socket) ||
	    str_differ(old->user, np->user) ||
	    str_differ(old->pid_file, np->pid_file) ||
	    old->socket_mode != np->socket_mode ||
	    str_differ(old->socket_group, np->socket_group))
		log_event(LOG_WARNING, NULL, "warning", "[daemon] socket, "
		    "socket_mode, socket_group, user and pid_file take effect "
		    "at the next start", " what=reload");
	log_event(LOG_INFO, NULL, "reload", NULL, " what=policy result=ok "
	    "signal=SIG%s", sigabbrev_np(sig));
	policy_unref(&old);
	metrics_poke();
	alerts_poke();		/* new thresholds judged at once */
}

/* ---- threads --------------------------------------------------------- */

/*
 * smfi_stop() sets libmilter's stop flag and then closes the listening
 * socket under the lock the listener holds while it sits in poll() for up
 * to 5 s, so it blocks until that poll ends. It runs in a thread of its
 * own while this one interrupts the poll with SIGALRM (its handler does
 * nothing; sent to that thread alone), repeatedly, since a signal that
 * lands outside the poll is lost, until smfi_main() has returned.
 */
static void
noop_handler(int sig)
{
	(void)sig;
}

static void *
stop_thread(void *arg)
{
	(void)arg;
	smfi_stop();
	return NULL;
}

static void
stop_milter(void)
{
	struct timespec	ts = { 0, 50 * 1000000L };
	pthread_t	tid;
	int		i;

	if (pthread_create(&tid, NULL, stop_thread, NULL) != 0) {
		smfi_stop();		/* slower, but it stops */
		return;
	}
	pthread_detach(tid);
	for (i = 0; i < 200 && !atomic_load(&g.main_returned); i++) {
		nanosleep(&ts, NULL);
		pthread_kill(g.main_thread, SIGALRM);
	}
}

/*
 * Graceful stop: libmilter stops serving open sessions once smfi_stop()
 * is called, so first drain: new MAIL FROMs get 421 (g.stopping) while
 * the messages in flight finish, up to [daemon] shutdown_timeout; then
 * stop. A second SIGTERM or SIGINT stops at once.
 */
static void
drain(void)
{
	struct timespec	 ts = { 0, 50 * 1000000L };
	struct policy	*pol = daemon_policy();
	uint64_t	 deadline = clock_ms() + pol->shutdown_timeout_ms;
	sigset_t	 set;
	int		 sig;

	policy_unref(&pol);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	while (msgctx_active() > 0 && clock_ms() < deadline) {
		sig = sigtimedwait(&set, NULL, &ts);
		if (sig == SIGTERM || sig == SIGINT) {
			log_event(LOG_INFO, NULL, "stop", NULL, " state=now "
			    "signal=SIG%s", sigabbrev_np(sig));
			break;
		}
	}
	if (msgctx_active() > 0)
		log_event(LOG_WARNING, NULL, "stop", "[daemon] "
		    "shutdown_timeout: the MTA will tempfail them",
		    " state=timeout inflight=%u", msgctx_active());
}

static void *
signal_thread(void *arg)
{
	sigset_t	set;
	int		sig;

	(void)arg;
	our_signals(&set);
	for (;;) {
		sig = sigwaitinfo(&set, NULL);
		if (sig == -1) {
			if (errno != EINTR)
				log_event(LOG_ERR, NULL, "error",
				    strerror(errno), " what=sigwaitinfo");
			continue;
		}
		switch (sig) {
		case SIGHUP:
		case SIGUSR1:
			reload_policy(sig);
			break;
		case SIGUSR2:
			log_event(LOG_INFO, NULL, "reload", NULL,
			    " what=signatures result=requested "
			    "signal=SIG%s", sigabbrev_np(sig));
#ifdef PORTCULLIS_INPROCESS_SCAN
			inproc_reload();
#else
			pool_reload(WIRE_RELOAD_SIGNATURES);
#endif
			break;
		default:	/* SIGTERM, SIGINT */
			log_event(LOG_INFO, NULL, "stop", NULL,
			    " state=stopping signal=SIG%s inflight=%u",
			    sigabbrev_np(sig), msgctx_active());
			atomic_store(&g.stopping, true);
			drain();
			stop_milter();
			return NULL;
		}
	}
}

/* ---- start-up -------------------------------------------------------- */

/* Errors before the daemon is up: to the log and, if nobody reads the
 * log copy there, to stderr. */
static void
startup_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
startup_error(const char *fmt, ...)
{
	char	line[1024];
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	log_event(LOG_ERR, NULL, "error", line, " what=startup");
	if (!log_to_stderr())
		fprintf(stderr, "portcullis: %s\n", line);
}

/* The path of a unix socket spec, or NULL for inet/inet6. */
static const char *
unix_path(const char *conn)
{
	if (strncmp(conn, "unix:", 5) == 0)
		return conn + 5;
	if (strncmp(conn, "local:", 6) == 0)
		return conn + 6;
	if (conn[0] == '/')
		return conn;
	return NULL;
}

/* True when a live daemon already answers on the unix socket at path. */
static bool
socket_live(const char *path)
{
	struct sockaddr_un	sun;
	int			fd;
	bool			live;

	if (strlen(path) >= sizeof sun.sun_path)
		return false;
	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, path, strlen(path));
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return false;
	live = connect(fd, (struct sockaddr *)&sun, sizeof sun) == 0;
	close(fd);
	return live;
}

struct creds {
	bool	drop;
	uid_t	uid;
	gid_t	gid;
	char	name[64];
	bool	have_group;
	gid_t	sock_gid;
};

/* Looks the user and the socket group up before anything is opened. */
static int
resolve_creds(const struct policy *pol, struct creds *cr)
{
	struct passwd	*pw;
	struct group	*gr;
	bool		 root = geteuid() == 0;

	memset(cr, 0, sizeof *cr);
	if (root && pol->user == NULL)
		log_event(LOG_WARNING, NULL, "warning", "[daemon] user is "
		    "empty: staying root", " what=startup");
	else if (root) {
		if ((pw = getpwnam(pol->user)) == NULL) {
			startup_error("[daemon] user \"%s\" does not exist: "
			    "create it or set another user", pol->user);
			return -1;
		}
		cr->drop = pw->pw_uid != 0;
		cr->uid = pw->pw_uid;
		cr->gid = pw->pw_gid;
		snprintf(cr->name, sizeof cr->name, "%s", pw->pw_name);
	}
	if (pol->socket_group != NULL) {
		if ((gr = getgrnam(pol->socket_group)) != NULL) {
			cr->have_group = true;
			cr->sock_gid = gr->gr_gid;
		} else if (root) {
			startup_error("[daemon] socket_group \"%s\" does not "
			    "exist", pol->socket_group);
			return -1;
		} else
			log_event(LOG_WARNING, NULL, "warning", "[daemon] "
			    "socket_group does not exist: socket group left "
			    "as is", " what=startup");
	}
	return 0;
}

static int
open_socket(const struct policy *pol, const struct creds *cr)
{
	const char	*path = unix_path(g.conn);
	mode_t		 old;
	int		 r;

	if (path != NULL && socket_live(path)) {
		startup_error("%s: another daemon is listening there", path);
		return -1;
	}
	if (smfi_setconn((char *)g.conn) != MI_SUCCESS) {
		startup_error("bad socket \"%s\": want unix:PATH, "
		    "inet:PORT@HOST or inet6:PORT@HOST", g.conn);
		return -1;
	}
	if (smfi_register(milter_desc) != MI_SUCCESS) {
		startup_error("smfi_register failed");
		return -1;
	}
	smfi_settimeout(MLT_TIMEOUT_S);
	old = umask(007);	/* the socket is born 0660 at most */
	r = smfi_opensocket(true);	/* true: remove a stale socket */
	umask(old);
	if (r != MI_SUCCESS) {
		startup_error("cannot open socket %s (does its directory "
		    "exist? is the port free?)", g.conn);
		return -1;
	}
	if (path == NULL)
		return 0;
	if (chmod(path, pol->socket_mode) == -1) {
		startup_error("chmod %s: %s", path, strerror(errno));
		return -1;
	}
	if (cr->have_group && chown(path, cr->drop ? cr->uid : (uid_t)-1,
	    cr->sock_gid) == -1) {
		if (geteuid() == 0) {
			startup_error("chown %s: %s", path, strerror(errno));
			return -1;
		}
		log_event(LOG_WARNING, NULL, "warning", strerror(errno),
		    " what=socket_group");
	}
	return 0;
}

/* A directory of the daemon's own exists and belongs to its user. */
static int
prepare_dir(const char *what, const char *dir, const struct creds *cr)
{
	if (dir == NULL)
		return 0;
	if (mkdir(dir, 0700) == -1) {
		if (errno == EEXIST)
			return 0;
		startup_error("%s %s: %s", what, dir, strerror(errno));
		return -1;
	}
	if (cr->drop && chown(dir, cr->uid, cr->gid) == -1) {
		startup_error("chown %s: %s", dir, strerror(errno));
		return -1;
	}
	return 0;
}

/* The spool, and the quarantine if an action keeps copies, belong to the
 * daemon's user: found missing now rather than at the first virus. */
static int
prepare_spool(const struct policy *pol, const struct creds *cr)
{
	if (prepare_dir("[daemon] spool_dir", pol->spool_dir, cr) == -1)
		return -1;
	if (!policy_uses_quarantine(pol))
		return 0;
	return prepare_dir("[quarantine] directory", pol->quarantine_dir, cr);
}

static int
write_pidfile(const struct policy *pol)
{
	char	line[32];
	int	fd, n;

	if (pol->pid_file == NULL)
		return 0;
	fd = open(pol->pid_file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0644);
	if (fd == -1) {
		startup_error("[daemon] pid_file %s: %s", pol->pid_file,
		    strerror(errno));
		return -1;
	}
	n = snprintf(line, sizeof line, "%ld\n", (long)getpid());
	if (write(fd, line, (size_t)n) != n) {
		startup_error("%s: write failed", pol->pid_file);
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

static int
drop_privileges(const struct creds *cr)
{
	if (!cr->drop)
		return 0;
	if (initgroups(cr->name, cr->gid) == -1 || setgid(cr->gid) == -1 ||
	    setuid(cr->uid) == -1) {
		startup_error("cannot become user %s: %s", cr->name,
		    strerror(errno));
		return -1;
	}
	if (setuid(0) != -1) {
		startup_error("root privileges could not be dropped");
		return -1;
	}
	return 0;
}

/*
 * Forks into the background before any thread exists. The parent waits
 * for the child to say whether it started (one status byte on a pipe) and
 * returns that status; the child gets *ready_fd to write it to.
 * Returns -1 in the child, the exit status in the parent.
 */
static int
daemonize(int *ready_fd)
{
	int		p[2], fd;
	pid_t		pid;
	unsigned char	c;
	ssize_t		n;

	fflush(NULL);
	if (pipe(p) == -1) {
		startup_error("pipe: %s", strerror(errno));
		return CLI_EX_SOFTWARE;
	}
	if ((pid = fork()) == -1) {
		startup_error("fork: %s", strerror(errno));
		return CLI_EX_SOFTWARE;
	}
	if (pid > 0) {
		close(p[1]);
		while ((n = read(p[0], &c, 1)) == -1 && errno == EINTR)
			;
		close(p[0]);
		if (n != 1) {
			fprintf(stderr, "portcullis: the daemon did not start; "
			    "see the mail log\n");
			return CLI_EX_SOFTWARE;
		}
		return c;
	}
	close(p[0]);
	setsid();
	if (chdir("/") == -1)
		log_event(LOG_WARNING, NULL, "warning", strerror(errno),
		    " what=chdir");
	if ((fd = open("/dev/null", O_RDWR)) != -1) {
		dup2(fd, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		if (fd > 2)
			close(fd);
	}
	*ready_fd = p[1];
	return -1;
}

static void
tell_parent(int *ready_fd, int status)
{
	unsigned char	c = (unsigned char)status;

	if (*ready_fd == -1)
		return;
	if (write(*ready_fd, &c, 1) != 1)
		log_event(LOG_WARNING, NULL, "warning", "could not report "
		    "start-up to the parent", " what=startup");
	close(*ready_fd);
	*ready_fd = -1;
}

int
milter_run(const struct cli_opts *o)
{
	struct policy		*pol = NULL;
	struct creds		 cr;
	struct err		 err = ERR_INIT;
	struct buf		 sb = BUF_INIT;
	pthread_t		 tid;
	sigset_t		 set;
	struct sigaction	 sa;
	int			 ready_fd = -1, st, r;

	if (cli_load_policy(o, &pol) == -1)
		return CLI_EX_CONFIG;
	g.opts = o;
	g.pol = pol;
	/* Reloads read the same files after the daemon chdir()s to "/". */
	if ((g.policy_path = realpath(cli_policy_path(o), NULL)) == NULL)
		g.policy_path = xstrdup(cli_policy_path(o));
	if (o->signatures != NULL &&
	    (g.sig_dir = realpath(o->signatures, NULL)) == NULL)
		g.sig_dir = xstrdup(o->signatures);
	g.main_thread = pthread_self();
	g.conn = o->socket != NULL ? o->socket : pol->socket;
	if (g.conn == NULL) {
		fprintf(stderr, "portcullis: no socket: set [daemon] socket "
		    "or give --socket\n");
		return CLI_EX_CONFIG;
	}
	if (gethostname(g.host, sizeof g.host) != 0 || g.host[0] == '\0')
		snprintf(g.host, sizeof g.host, "localhost");
	g.host[sizeof g.host - 1] = '\0';
	log_open();

	/* Before any thread: every thread inherits this mask, so only the
	 * signal thread ever takes these signals. */
	our_signals(&set);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = noop_handler;	/* no SA_RESTART: poll() returns */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, NULL);

	if (resolve_creds(pol, &cr) == -1)
		return CLI_EX_CONFIG;
	if (open_socket(pol, &cr) == -1)
		return CLI_EX_CONFIG;
	if (!o->foreground && (st = daemonize(&ready_fd)) != -1)
		return st;		/* the parent */
	if (prepare_spool(pol, &cr) == -1 || write_pidfile(pol) == -1 ||
	    drop_privileges(&cr) == -1) {
		tell_parent(&ready_fd, CLI_EX_CONFIG);
		return CLI_EX_CONFIG;
	}

	/* The engine keeper: its own process (this binary, executed), started
	 * before any thread of ours exists. */
#ifdef PORTCULLIS_INPROCESS_SCAN
	/* Benchmark builds only: the engine in this process, no keeper. */
	if (inproc_start(pol, signature_dir(pol), &err) == -1) {
#else
	if (pool_start(g.policy_path, g.sig_dir, o, &err) == -1) {
#endif
		startup_error("%s", err.msg);
		tell_parent(&ready_fd, CLI_EX_SOFTWARE);
		return CLI_EX_SOFTWARE;
	}

	/* Threads from here on. */
#ifdef PORTCULLIS_INPROCESS_SCAN
	if (outbox_start(&err) == -1 ||
#else
	if (pool_watch(&err) == -1 || outbox_start(&err) == -1 ||
#endif
	    metrics_start(&err) == -1 || alerts_start(&err) == -1 ||
	    qsync_start(&err) == -1) {
		startup_error("%s", err.msg);
		tell_parent(&ready_fd, CLI_EX_SOFTWARE);
		return CLI_EX_SOFTWARE;
	}
	if ((r = pthread_create(&tid, NULL, signal_thread, NULL)) != 0 ||
	    (r = pthread_detach(tid)) != 0) {
		startup_error("pthread_create: %s", strerror(r));
		tell_parent(&ready_fd, CLI_EX_SOFTWARE);
		return CLI_EX_SOFTWARE;
	}
	log_kv(&sb, "socket", g.conn, 256);
	log_kv(&sb, "policy", g.policy_path, 256);
	log_kv(&sb, "antivirus", pol->av_enabled ? signature_dir(pol) :
	    "disabled", 256);
	log_kv(&sb, "user", cr.drop ? cr.name : "unchanged", 64);
	buf_printf(&sb, " version=%s", PACKAGE_VERSION);
	log_line(LOG_INFO, NULL, "start", buf_cstr(&sb));
	buf_free(&sb);
	tell_parent(&ready_fd, CLI_EX_OK);

	r = smfi_main();
	atomic_store(&g.main_returned, true);

	/* Stopped (the signal thread drained the messages in flight). */
	atomic_store(&g.stopping, true);
	pol = daemon_policy();
	qsync_stop();		/* a round in progress ends first */
	alerts_stop();		/* before the outbox it posts to */
	outbox_stop(pol->shutdown_timeout_ms);
	metrics_stop();
	pool_stop();
	if (pol->pid_file != NULL && unlink(pol->pid_file) == -1 &&
	    errno != ENOENT)
		log_event(LOG_WARNING, NULL, "warning", strerror(errno),
		    " what=pid_file");
	policy_unref(&pol);
	log_event(LOG_INFO, NULL, "stop", NULL, " state=stopped");
	log_close();
	/* The policy stays: sessions that outlived
	 * the timeout may still hold them until the process exits. */
	return r == MI_SUCCESS ? CLI_EX_OK : CLI_EX_SOFTWARE;
}
