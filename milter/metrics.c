/* milter/metrics.c - monitoring counters and their file (see metrics.h). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "daemon.h"
#include "http.h"
#include "log.h"
#include "metrics.h"
#include "msgctx.h"
#include "pool.h"
#include "util.h"

#define METRICS_EVERY_S	15
#define METRICS_AREA_LEN	64
#define METRICS_TYPE	"text/plain; version=0.0.4; charset=utf-8"

static const double	buckets[] = {	/* scan time, seconds */
	0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60
};
#define NBUCKETS (sizeof buckets / sizeof buckets[0])

static const char *const notify_names[METRICS_NOTIFY__N] = {
	"sent", "failed", "dropped"
};

struct area {
	char		 name[METRICS_AREA_LEN];
	atomic_ullong	 n;
};

static struct {
	atomic_ullong	 msgs[DIR__N][DISP__N];
	atomic_ullong	 findings[DIR__N][RULE__N];
	atomic_ullong	 bytes[DIR__N];
	atomic_ullong	 hist[NBUCKETS + 1];	/* last: +Inf */
	atomic_ullong	 ms_sum;
	atomic_ullong	 failed;
	atomic_ullong	 reload_ok, reload_failed;
	atomic_ullong	 notify[METRICS_NOTIFY__N];
	struct area	 areas[METRICS_AREAS];
	atomic_size_t	 nareas;		/* written under amu */
	atomic_ullong	 areas_other;
	pthread_mutex_t	 amu;
	pthread_mutex_t	 mu;
	pthread_cond_t	 cv;
	bool		 quit, running, poked;
	bool		 warned;
	pthread_t	 tid;
	struct http	*http;
	char		*listen;		/* what http serves, or NULL */
	char		*listen_warned;		/* a reload's change, said */
} m = {
	.amu = PTHREAD_MUTEX_INITIALIZER,
	.mu = PTHREAD_MUTEX_INITIALIZER,
	.cv = PTHREAD_COND_INITIALIZER
};

/* The index of a quarantine area in the table, added when new (names
 * come from the policy, so there are few; the table only grows, and is
 * read without the lock up to nareas); -1 when the table is full or the
 * name too long. Call with amu held. */
static int
area_index(const char *area)
{
	size_t	i, n = atomic_load(&m.nareas);

	for (i = 0; i < n; i++)
		if (strcmp(m.areas[i].name, area) == 0)
			return (int)i;
	if (n == METRICS_AREAS || strlen(area) >= METRICS_AREA_LEN)
		return -1;
	snprintf(m.areas[n].name, sizeof m.areas[n].name, "%s", area);
	atomic_store(&m.nareas, n + 1);
	return (int)n;
}

static void
count_area(const char *area)
{
	int	i;

	pthread_mutex_lock(&m.amu);
	if ((i = area_index(area)) != -1)
		atomic_fetch_add(&m.areas[i].n, 1);
	else
		atomic_fetch_add(&m.areas_other, 1);
	pthread_mutex_unlock(&m.amu);
}

/* The policy's areas are shown from the start, at 0. */
static void
policy_areas(const struct policy *pol)
{
	size_t	i;

	pthread_mutex_lock(&m.amu);
	for (i = 0; i < pol->nactions; i++)
		if (pol->actions[i].quarantine != NULL)
			(void)area_index(pol->actions[i].quarantine);
	pthread_mutex_unlock(&m.amu);
}

void
metrics_message(enum disposition done, const struct verdict *v, uint64_t ms,
    uint64_t size, const char *area, bool failed)
{
	enum direction	d = v != NULL && v->direction < DIR__N ?
			    v->direction : DIR_INBOUND;
	size_t		i;

	if (done < DISP__N)
		atomic_fetch_add(&m.msgs[d][done], 1);
	for (i = 0; v != NULL && i < v->nfindings; i++)
		if (v->findings[i].rule < RULE__N)
			atomic_fetch_add(&m.findings[d][v->findings[i].rule],
			    1);
	atomic_fetch_add(&m.bytes[d], size);
	for (i = 0; i < NBUCKETS && (double)ms / 1000.0 > buckets[i]; i++)
		;
	atomic_fetch_add(&m.hist[i], 1);
	atomic_fetch_add(&m.ms_sum, ms);
	if (failed)
		atomic_fetch_add(&m.failed, 1);
	if (area != NULL)
		count_area(area);
}

void
metrics_notification(enum metrics_notify what)
{
	if (what < METRICS_NOTIFY__N)
		atomic_fetch_add(&m.notify[what], 1);
}

void
metrics_reload(bool ok)
{
	atomic_fetch_add(ok ? &m.reload_ok : &m.reload_failed, 1);
}

static bool
differ(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a != b;
	return strcmp(a, b) != 0;
}

static int
write_all(int fd, const void *p, size_t n)
{
	const char	*c = p;
	ssize_t		 w;

	while (n > 0) {
		if ((w = write(fd, c, n)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

/* A label value: backslash, double quote and new line escaped. */
static void
label_value(struct buf *b, const char *s)
{
	for (; *s != '\0'; s++) {
		if (*s == '\\' || *s == '"')
			buf_printf(b, "\\%c", *s);
		else if (*s == '\n')
			buf_puts(b, "\\n");
		else
			buf_append(b, s, 1);
	}
}

static void
head(struct buf *b, const char *name, const char *type, const char *help)
{
	buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* The whole text (both outputs). */
static void
render(struct buf *b)
{
	struct pool_info	 e;
	unsigned long long	 cum = 0;
	size_t			 i, n;
	int			 d;

	pool_info(&e);
	head(b, "portcullis_build_info", "gauge", "Version of the daemon.");
	buf_printf(b, "portcullis_build_info{version=\"%s\"} 1\n",
	    PACKAGE_VERSION);
	head(b, "portcullis_messages_total", "counter", "Messages judged, by "
	    "direction and final disposition.");
	for (d = 0; d < DIR__N; d++)
		for (i = 0; i < DISP__N; i++)
			buf_printf(b, "portcullis_messages_total{direction="
			    "\"%s\",action=\"%s\"} %llu\n",
			    direction_str((enum direction)d),
			    disposition_str((enum disposition)i),
			    atomic_load(&m.msgs[d][i]));
	head(b, "portcullis_message_bytes_total", "counter", "Bytes of the "
	    "messages judged, by direction.");
	for (d = 0; d < DIR__N; d++)
		buf_printf(b, "portcullis_message_bytes_total{direction=\"%s\"}"
		    " %llu\n", direction_str((enum direction)d),
		    atomic_load(&m.bytes[d]));
	head(b, "portcullis_findings_total", "counter", "Findings, by "
	    "direction and rule.");
	for (d = 0; d < DIR__N; d++)
		for (i = 0; i < RULE__N; i++)
			buf_printf(b, "portcullis_findings_total{direction="
			    "\"%s\",rule=\"%s\"} %llu\n",
			    direction_str((enum direction)d),
			    rule_str((enum rule)i),
			    atomic_load(&m.findings[d][i]));
	head(b, "portcullis_quarantined_messages_total", "counter",
	    "Messages whose copy was stored in the quarantine, by area.");
	n = atomic_load(&m.nareas);
	for (i = 0; i < n; i++) {
		buf_puts(b, "portcullis_quarantined_messages_total{area=\"");
		label_value(b, m.areas[i].name);
		buf_printf(b, "\"} %llu\n", atomic_load(&m.areas[i].n));
	}
	if (atomic_load(&m.areas_other) > 0)
		buf_printf(b, "portcullis_quarantined_messages_total"
		    "{area=\"(other)\"} %llu\n", atomic_load(&m.areas_other));
	head(b, "portcullis_notifications_total", "counter", "Notifications "
	    "by result: sent (sendmail took it), failed, dropped (queue "
	    "full or stopping).");
	for (i = 0; i < METRICS_NOTIFY__N; i++)
		buf_printf(b, "portcullis_notifications_total{result=\"%s\"} "
		    "%llu\n", notify_names[i], atomic_load(&m.notify[i]));
	head(b, "portcullis_scan_duration_seconds", "histogram", "Time to "
	    "judge a message.");
	for (i = 0; i <= NBUCKETS; i++) {
		cum += atomic_load(&m.hist[i]);
		if (i < NBUCKETS)
			buf_printf(b, "portcullis_scan_duration_seconds_bucket"
			    "{le=\"%g\"} %llu\n", buckets[i], cum);
		else
			buf_printf(b, "portcullis_scan_duration_seconds_bucket"
			    "{le=\"+Inf\"} %llu\n", cum);
	}
	buf_printf(b, "portcullis_scan_duration_seconds_sum %.3f\n"
	    "portcullis_scan_duration_seconds_count %llu\n",
	    (double)atomic_load(&m.ms_sum) / 1000.0, cum);
	head(b, "portcullis_errors_total", "counter", "Messages that could "
	    "not be judged (scanner or internal failure).");
	buf_printf(b, "portcullis_errors_total %llu\n", atomic_load(&m.failed));
	head(b, "portcullis_db_reloads_total", "counter", "Signature "
	    "database loads, by result.");
	buf_printf(b, "portcullis_db_reloads_total{result=\"ok\"} %llu\n"
	    "portcullis_db_reloads_total{result=\"failed\"} %llu\n",
	    atomic_load(&m.reload_ok), atomic_load(&m.reload_failed));
	head(b, "portcullis_messages_in_flight", "gauge", "Messages between "
	    "MAIL FROM and their verdict.");
	buf_printf(b, "portcullis_messages_in_flight %u\n", msgctx_active());
	head(b, "portcullis_clamav_signatures", "gauge", "Signatures in the "
	    "engine in use (0: none loaded).");
	buf_printf(b, "portcullis_clamav_signatures %u\n",
	    e.have ? e.signatures : 0);
	if (e.have && e.db_time > 0) {
		head(b, "portcullis_clamav_db_timestamp_seconds", "gauge",
		    "Build time of the signatures in use.");
		buf_printf(b, "portcullis_clamav_db_timestamp_seconds %lld\n",
		    (long long)e.db_time);
		head(b, "portcullis_clamav_db_age_seconds", "gauge", "Age of "
		    "the signatures in use (alert on it).");
		buf_printf(b, "portcullis_clamav_db_age_seconds %lld\n",
		    (long long)(time(NULL) - e.db_time));
	}
}

/*
 * The file, replaced in one step: written to PATH.tmp (not a *.prom name,
 * so node_exporter never reads it half written), mode 0644 whatever the
 * umask (the unit's is 0007; node_exporter runs as another user), then
 * renamed over PATH.
 */
static void
write_file(const char *path)
{
	struct buf	 b = BUF_INIT;
	char		*tmp = xasprintf("%s.tmp", path);
	int		 fd, saved = 0;
	bool		 ok = false;

	render(&b);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
	    0644);
	if (fd != -1 && fchmod(fd, 0644) == 0 &&
	    write_all(fd, b.data, b.len) == 0)
		ok = true;
	if (!ok)
		saved = errno;
	if (fd != -1 && close(fd) == -1 && ok) {
		saved = errno;
		ok = false;
	}
	if (ok && rename(tmp, path) == -1) {
		saved = errno;
		ok = false;
	}
	if (ok)
		m.warned = false;
	else {
		if (!m.warned)		/* once until it works again */
			log_event(LOG_WARNING, NULL, "warning",
			    strerror(saved), " what=metrics_file");
		m.warned = true;
		unlink(tmp);
	}
	free(tmp);
	buf_free(&b);
}

/* [daemon] metrics_listen changed by a reload: said once per value. */
static void
listen_changed(const char *now)
{
	const char	*was = m.listen_warned != NULL ? m.listen_warned :
			    m.listen;

	if (!differ(m.listen, now) || !differ(was, now))
		return;
	log_event(LOG_WARNING, NULL, "reload", "[daemon] metrics_listen takes "
	    "effect at the next start", " what=policy result=deferred "
	    "listen=%s", m.listen != NULL ? m.listen : "none");
	free(m.listen_warned);
	m.listen_warned = xstrdup(now);
}

static void *
metrics_thread(void *arg)
{
	struct timespec	 ts;

	(void)arg;
	pthread_mutex_lock(&m.mu);
	while (!m.quit) {
		struct policy *pol = daemon_policy();

		m.poked = false;

		pthread_mutex_unlock(&m.mu);
		if (pol->metrics_file != NULL)	/* a reload may turn it off */
			write_file(pol->metrics_file);
		listen_changed(pol->metrics_listen);
		policy_areas(pol);
		policy_unref(&pol);
		pthread_mutex_lock(&m.mu);
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += METRICS_EVERY_S;
		while (!m.quit && !m.poked &&
		    pthread_cond_timedwait(&m.cv, &m.mu, &ts) == 0)
			;
	}
	pthread_mutex_unlock(&m.mu);
	return NULL;
}

int
metrics_start(struct err *err)
{
	struct policy	*pol = daemon_policy();
	int		 r;

	if (pol->metrics_listen != NULL) {
		if (http_start(pol->metrics_listen, "/metrics", METRICS_TYPE,
		    render, &m.http, err) == -1) {
			policy_unref(&pol);
			return -1;
		}
		m.listen = xstrdup(pol->metrics_listen);
		log_event(LOG_INFO, NULL, "metrics", NULL,
		    " state=serving url=http://%s/metrics",
		    http_address(m.http));
	}
	policy_unref(&pol);
	if ((r = pthread_create(&m.tid, NULL, metrics_thread, NULL)) != 0) {
		http_stop(&m.http);
		return err_set(err, "metrics thread: %s", strerror(r));
	}
	m.running = true;
	return 0;
}

void
metrics_poke(void)
{
	pthread_mutex_lock(&m.mu);
	m.poked = true;
	pthread_cond_signal(&m.cv);
	pthread_mutex_unlock(&m.mu);
}

void
metrics_stop(void)
{
	if (m.running) {
		pthread_mutex_lock(&m.mu);
		m.quit = true;
		pthread_cond_signal(&m.cv);
		pthread_mutex_unlock(&m.mu);
		pthread_join(m.tid, NULL);
		m.running = false;
	}
	http_stop(&m.http);
	free(m.listen);
	free(m.listen_warned);
	m.listen = m.listen_warned = NULL;
}
