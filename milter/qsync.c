/* milter/qsync.c - the background sync thread (see qsync.h). */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "daemon.h"
#include "log.h"
#include "qsync.h"
#include "quarantine.h"
#include "util.h"

static struct {
	pthread_mutex_t	 mu;
	pthread_cond_t	 cv;
	bool		 quit, running;
	pthread_t	 tid;
} qs = { .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER };

/* Waits s seconds, or until qsync_stop; true when asked to stop. */
static bool
qsync_wait(unsigned s)
{
	struct timespec	ts;
	bool		quit;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += s;
	pthread_mutex_lock(&qs.mu);
	while (!qs.quit && pthread_cond_timedwait(&qs.cv, &qs.mu, &ts) !=
	    ETIMEDOUT)
		;
	quit = qs.quit;
	pthread_mutex_unlock(&qs.mu);
	return quit;
}

/* One round; *failing keeps a failure from being logged every round. */
static int
qsync_round(bool *failing)
{
	struct policy	*pol = daemon_policy();
	struct err	 err = ERR_INIT;
	uint64_t	 t0 = clock_ms();
	size_t		 msgs = 0, traffic = 0;
	int		 rc;

	rc = quarantine_sync_round(pol, t0 + QSYNC_ROUND_MS, &msgs, &traffic,
	    &err);
	policy_unref(&pol);
	if (rc == -1) {
		if (!*failing || msgs + traffic > 0)
			log_event(LOG_WARNING, NULL, "sync", err.msg,
			    " result=failed records=%zu traffic=%zu "
			    "retry_s=%u", msgs, traffic, QSYNC_INTERVAL_S);
		*failing = true;
		return rc;
	}
	if (msgs + traffic > 0 || *failing)
		log_event(LOG_INFO, NULL, "sync", NULL, " result=ok "
		    "records=%zu traffic=%zu ms=%llu%s", msgs, traffic,
		    (unsigned long long)(clock_ms() - t0),
		    rc == 1 ? " more=yes" : "");
	*failing = false;
	return rc;
}

static void *
qsync_thread(void *arg)
{
	bool	failing = false;
	int	rc = 0;

	(void)arg;
	/* A round at once: records may wait from before a restart. */
	do
		rc = qsync_round(&failing);
	while (!qsync_wait(rc == 1 ? 1 : QSYNC_INTERVAL_S));
	return NULL;
}

int
qsync_start(struct err *err)
{
	pthread_condattr_t	ca;
	int			r;

	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_destroy(&qs.cv);
	pthread_cond_init(&qs.cv, &ca);
	pthread_condattr_destroy(&ca);
	qs.quit = false;
	if ((r = pthread_create(&qs.tid, NULL, qsync_thread, NULL)) != 0)
		return err_set(err, "sync thread: %s", strerror(r));
	qs.running = true;
	return 0;
}

void
qsync_stop(void)
{
	if (!qs.running)
		return;
	pthread_mutex_lock(&qs.mu);
	qs.quit = true;
	pthread_cond_signal(&qs.cv);
	pthread_mutex_unlock(&qs.mu);
	pthread_join(qs.tid, NULL);
	qs.running = false;
}
