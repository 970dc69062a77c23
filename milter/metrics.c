/* milter/metrics.c - monitoring counters and their file (see metrics.h). */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "daemon.h"
#include "log.h"
#include "metrics.h"
#include "msgctx.h"
#include "pool.h"
#include "util.h"

#define METRICS_EVERY_S	15

static const double	buckets[] = {	/* scan time, seconds */
	0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60
};
#define NBUCKETS (sizeof buckets / sizeof buckets[0])

static struct {
	atomic_ullong	 msgs[DISP__N];
	atomic_ullong	 findings[RULE__N];
	atomic_ullong	 hist[NBUCKETS + 1];	/* last: +Inf */
	atomic_ullong	 ms_sum;
	atomic_ullong	 failed;
	atomic_ullong	 reload_ok, reload_failed;
	pthread_mutex_t	 mu;
	pthread_cond_t	 cv;
	bool		 quit, running, poked;
	bool		 warned;
	pthread_t	 tid;
} m = { .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER };

void
metrics_message(enum disposition done, const struct verdict *v, uint64_t ms,
    bool failed)
{
	size_t	i;

	if (done < DISP__N)
		atomic_fetch_add(&m.msgs[done], 1);
	for (i = 0; v != NULL && i < v->nfindings; i++)
		if (v->findings[i].rule < RULE__N)
			atomic_fetch_add(&m.findings[v->findings[i].rule], 1);
	for (i = 0; i < NBUCKETS && (double)ms / 1000.0 > buckets[i]; i++)
		;
	atomic_fetch_add(&m.hist[i], 1);
	atomic_fetch_add(&m.ms_sum, ms);
	if (failed)
		atomic_fetch_add(&m.failed, 1);
}

void
metrics_reload(bool ok)
{
	atomic_fetch_add(ok ? &m.reload_ok : &m.reload_failed, 1);
}

static void
render(struct buf *b)
{
	struct pool_info	 e;
	unsigned long long	 cum = 0;
	size_t			 i;

	pool_info(&e);
	buf_printf(b, "# HELP portcullis_build_info Version of the daemon.\n"
	    "# TYPE portcullis_build_info gauge\n"
	    "portcullis_build_info{version=\"%s\"} 1\n", PACKAGE_VERSION);
	buf_puts(b, "# HELP portcullis_messages_total Messages judged, by "
	    "final disposition.\n# TYPE portcullis_messages_total counter\n");
	for (i = 0; i < DISP__N; i++)
		buf_printf(b, "portcullis_messages_total{action=\"%s\"} %llu\n",
		    disposition_str((enum disposition)i),
		    atomic_load(&m.msgs[i]));
	buf_puts(b, "# HELP portcullis_findings_total Findings, by rule.\n"
	    "# TYPE portcullis_findings_total counter\n");
	for (i = 0; i < RULE__N; i++)
		buf_printf(b, "portcullis_findings_total{rule=\"%s\"} %llu\n",
		    rule_str((enum rule)i), atomic_load(&m.findings[i]));
	buf_puts(b, "# HELP portcullis_scan_duration_seconds Time to judge a "
	    "message.\n# TYPE portcullis_scan_duration_seconds histogram\n");
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
	buf_printf(b, "# HELP portcullis_errors_total Messages that could not "
	    "be judged (scanner or internal failure).\n"
	    "# TYPE portcullis_errors_total counter\n"
	    "portcullis_errors_total %llu\n", atomic_load(&m.failed));
	buf_printf(b, "# HELP portcullis_db_reloads_total Signature database "
	    "loads.\n# TYPE portcullis_db_reloads_total counter\n"
	    "portcullis_db_reloads_total{result=\"ok\"} %llu\n"
	    "portcullis_db_reloads_total{result=\"failed\"} %llu\n",
	    atomic_load(&m.reload_ok), atomic_load(&m.reload_failed));
	buf_printf(b, "# HELP portcullis_messages_in_flight Messages between "
	    "MAIL FROM and their verdict.\n"
	    "# TYPE portcullis_messages_in_flight gauge\n"
	    "portcullis_messages_in_flight %u\n", msgctx_active());
	buf_printf(b, "# HELP portcullis_clamav_signatures Signatures in the "
	    "engine in use (0: none loaded).\n"
	    "# TYPE portcullis_clamav_signatures gauge\n"
	    "portcullis_clamav_signatures %u\n",
	    e.have ? e.signatures : 0);
	if (e.have && e.db_time > 0)
		buf_printf(b, "# HELP portcullis_clamav_db_timestamp_seconds "
		    "Build time of the signatures in use.\n"
		    "# TYPE portcullis_clamav_db_timestamp_seconds gauge\n"
		    "portcullis_clamav_db_timestamp_seconds %lld\n"
		    "# HELP portcullis_clamav_db_age_seconds Age of the "
		    "signatures in use (alert on it).\n"
		    "# TYPE portcullis_clamav_db_age_seconds gauge\n"
		    "portcullis_clamav_db_age_seconds %lld\n",
		    (long long)e.db_time,
		    (long long)(time(NULL) - e.db_time));
}

static void
write_file(const char *path)
{
	struct buf	 b = BUF_INIT;
	char		*tmp = xasprintf("%s.tmp", path);
	FILE		*fp;
	bool		 ok;

	render(&b);
	ok = (fp = fopen(tmp, "w")) != NULL &&
	    fwrite(b.data, 1, b.len, fp) == b.len;
	if (fp != NULL && fclose(fp) != 0)
		ok = false;
	if (ok && rename(tmp, path) == 0)
		m.warned = false;
	else {
		if (!m.warned)		/* once until it works again */
			log_event(LOG_WARNING, NULL, "warning",
			    strerror(errno), " what=metrics_file");
		m.warned = true;
		unlink(tmp);
	}
	free(tmp);
	buf_free(&b);
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
	int	r;

	if ((r = pthread_create(&m.tid, NULL, metrics_thread, NULL)) != 0)
		return err_set(err, "metrics thread: %s", strerror(r));
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
	if (!m.running)
		return;
	pthread_mutex_lock(&m.mu);
	m.quit = true;
	pthread_cond_signal(&m.cv);
	pthread_mutex_unlock(&m.mu);
	pthread_join(m.tid, NULL);
	m.running = false;
}
