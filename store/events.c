/* store/events.c - the JSON event log (see events.h). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "events.h"
#include "json.h"

#define EVENT_MAX	(4u << 20)	/* bytes of one line */

static pthread_mutex_t	failing_mu = PTHREAD_MUTEX_INITIALIZER;
static bool		failing;

static int
report(bool ok)
{
	bool	was;

	pthread_mutex_lock(&failing_mu);
	was = failing;
	failing = !ok;
	pthread_mutex_unlock(&failing_mu);
	return ok || was ? 0 : -1;
}

int
events_write(const struct policy *pol, const struct envelope *env,
    const struct verdict *v, const char *done, const char *qid,
    uint64_t size, uint64_t ms, struct err *err)
{
	struct json	*o, *l;
	struct buf	 b = BUF_INIT;
	struct tm	 tm;
	time_t		 now = time(NULL);
	char		 ts[32] = "";
	size_t		 i;
	ssize_t		 n;
	int		 fd, saved;

	if (pol->event_log == NULL || pol->event_log[0] == '\0')
		return 0;
	if (gmtime_r(&now, &tm) != NULL)
		strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
	o = json_obj();
	json_set_int(o, "version", EVENTS_VERSION);
	json_set_int(o, "time", (int64_t)now);
	json_set_str(o, "date", ts);
	json_set_str(o, "host", pol->hostname != NULL &&
	    pol->hostname[0] != '\0' ? pol->hostname : NULL);
	json_set_str(o, "queue_id", env->queue_id);
	json_set_str(o, "client", env->client_addr);
	json_set_str(o, "auth_user", env->auth_user);
	json_set_str(o, "sender", env->sender != NULL ? env->sender : "");
	l = json_arr();
	for (i = 0; i < env->nrcpts; i++)
		json_push(l, json_new_str(env->rcpts[i] != NULL ?
		    env->rcpts[i] : ""));
	json_set(o, "recipients", l);
	json_set_str(o, "action", done);
	json_set_str(o, "quarantine_id", qid);
	json_set_uint(o, "size", size);
	json_set_uint(o, "ms", ms);
	json_set(o, "verdict", verdict_to_json(v, NULL));
	json_write(o, &b);
	json_free(&o);
	buf_puts(&b, "\n");
	if (b.len > EVENT_MAX) {
		buf_free(&b);
		err_set(err, "event of %zu bytes: over %u", b.len, EVENT_MAX);
		return report(false);
	}
	fd = open(pol->event_log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC |
	    O_NOFOLLOW, 0640);
	if (fd == -1) {
		err_set(err, "%s: %s", pol->event_log, strerror(errno));
		buf_free(&b);
		return report(false);
	}
	/* One write: O_APPEND lines of concurrent writers stay whole. */
	do
		n = write(fd, b.data, b.len);
	while (n == -1 && errno == EINTR);
	saved = errno;
	close(fd);
	if (n != (ssize_t)b.len) {
		err_set(err, "%s: %s", pol->event_log, n == -1 ?
		    strerror(saved) : "short write");
		buf_free(&b);
		return report(false);
	}
	buf_free(&b);
	return report(true);
}
