/* milter/outbox.c - the notification thread (see outbox.h). */
#include "config.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "log.h"
#include "metrics.h"
#include "outbox.h"
#include "util.h"

#define OUTBOX_SEND_MS	30000	/* one sendmail run */

struct letter {
	struct policy		*pol;
	struct notification	*nt;		/* one, heap, notify_list_free */
	char			 logid[64];
};

static struct {
	pthread_mutex_t	 mu;
	pthread_cond_t	 cv;
	struct letter	 q[OUTBOX_MAX];
	size_t		 head, n;
	bool		 quit, running;
	uint64_t	 deadline;	/* for the last sends at stop */
	pthread_t	 tid;
} ob = { .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER };

static void
letter_free(struct letter *l)
{
	notify_list_free(&l->nt, 1);
	policy_unref(&l->pol);
}

static void *
outbox_thread(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&ob.mu);
	for (;;) {
		struct letter	l;
		struct err	err = ERR_INIT;

		while (ob.n == 0 && !ob.quit)
			pthread_cond_wait(&ob.cv, &ob.mu);
		if (ob.n == 0 || (ob.quit && clock_ms() > ob.deadline))
			break;
		l = ob.q[ob.head];
		ob.head = (ob.head + 1) % OUTBOX_MAX;
		ob.n--;
		pthread_mutex_unlock(&ob.mu);
		if (notify_send(l.pol, &l.nt->message, l.nt->from,
		    (const char *const *)l.nt->rcpts, l.nt->nrcpts,
		    OUTBOX_SEND_MS, &err) == -1) {
			log_event(LOG_WARNING, l.logid, "notify", err.msg,
			    " result=failed");
			metrics_notification(METRICS_NOTIFY_FAILED);
		} else
			metrics_notification(METRICS_NOTIFY_SENT);
		letter_free(&l);
		pthread_mutex_lock(&ob.mu);
	}
	while (ob.n > 0) {		/* left at stop: say so */
		log_event(LOG_WARNING, ob.q[ob.head].logid, "notify",
		    NULL, " result=dropped reason=stopping");
		metrics_notification(METRICS_NOTIFY_DROPPED);
		letter_free(&ob.q[ob.head]);
		ob.head = (ob.head + 1) % OUTBOX_MAX;
		ob.n--;
	}
	pthread_mutex_unlock(&ob.mu);
	return NULL;
}

int
outbox_start(struct err *err)
{
	int	r;

	if ((r = pthread_create(&ob.tid, NULL, outbox_thread, NULL)) != 0)
		return err_set(err, "notification thread: %s", strerror(r));
	ob.running = true;
	return 0;
}

void
outbox_post(struct policy *pol, struct notification *list, size_t n,
    const char *logid)
{
	size_t	i;

	pthread_mutex_lock(&ob.mu);
	for (i = 0; i < n; i++) {
		struct letter *l;

		if (ob.n == OUTBOX_MAX || !ob.running || ob.quit) {
			log_event(LOG_WARNING, logid, "notify", NULL,
			    " result=dropped reason=%s", ob.n == OUTBOX_MAX ?
			    "queue_full" : "stopping");
			metrics_notification(METRICS_NOTIFY_DROPPED);
			continue;
		}
		l = &ob.q[(ob.head + ob.n) % OUTBOX_MAX];
		l->pol = policy_ref(pol);
		l->nt = xmalloc(sizeof *l->nt);
		*l->nt = list[i];		/* moved */
		memset(&list[i], 0, sizeof list[i]);
		snprintf(l->logid, sizeof l->logid, "%s", logid);
		ob.n++;
	}
	pthread_cond_signal(&ob.cv);
	pthread_mutex_unlock(&ob.mu);
	notify_list_free(&list, n);	/* what was not moved */
}

void
outbox_stop(uint64_t ms)
{
	if (!ob.running)
		return;
	pthread_mutex_lock(&ob.mu);
	ob.quit = true;
	ob.deadline = clock_ms() + ms;
	pthread_cond_signal(&ob.cv);
	pthread_mutex_unlock(&ob.mu);
	pthread_join(ob.tid, NULL);
	ob.running = false;
}
