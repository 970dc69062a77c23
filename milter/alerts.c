/*
 * milter/alerts.c - the pure half of the alerts (see alerts.h): thresholds,
 * the raise/remind/clear decision, the counters over a window, the mail.
 * No clock, no I/O: the daemon half (alerts-daemon.c) measures and sends.
 */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alerts.h"
#include "util.h"

static const struct {
	const char	*name;		/* logs */
	const char	*title;		/* mail subject */
	const char	*unit;		/* after the value */
} kinds[ALERT__N] = {
	[ALERT_SIGNATURES] = { "signatures", "signature database too old",
	    "" },
	[ALERT_ERRORS] = { "error_rate", "scan error rate too high", "%" },
	[ALERT_TEMPFAILS] = { "tempfail_rate", "tempfail rate too high",
	    "%" },
	[ALERT_QUEUE] = { "queue", "mail queue too long", " messages" },
	[ALERT_SPOOL_DISK] = { "spool_disk", "spool disk nearly full",
	    "% free" },
	[ALERT_QUARANTINE_DISK] = { "quarantine_disk",
	    "quarantine disk nearly full", "% free" },
	[ALERT_RESTARTS] = { "worker_restarts",
	    "scanning workers restarting", " restarts" },
};

const char *
alerts_kind_str(enum alert_kind k)
{
	return k < ALERT__N ? kinds[k].name : "?";
}

void
alerts_limits(const struct policy *pol, struct alert_limits *l)
{
	memset(l, 0, sizeof *l);
	l->threshold[ALERT_SIGNATURES] = pol->av_enabled ?
	    (double)(pol->alert_signature_age_ms / 1000) : 0;
	l->threshold[ALERT_ERRORS] = pol->alert_error_rate;
	l->threshold[ALERT_TEMPFAILS] = pol->alert_tempfail_rate;
	l->threshold[ALERT_QUEUE] = pol->alert_queue_size;
	l->threshold[ALERT_SPOOL_DISK] = pol->alert_disk_free;
	l->threshold[ALERT_QUARANTINE_DISK] = pol->alert_disk_free;
	l->threshold[ALERT_RESTARTS] = pol->alert_worker_restarts;
	l->below[ALERT_SPOOL_DISK] = true;
	l->below[ALERT_QUARANTINE_DISK] = true;
	l->period = (int64_t)(pol->alert_period_ms / 1000);
	if (l->period < 1)
		l->period = 1;
}

static struct alert_event *
event(struct alert_event *ev, size_t *n, enum alert_kind k,
    enum alert_change ch, bool mail, const struct alert_reading *r,
    double threshold)
{
	struct alert_event	*e = &ev[(*n)++];

	memset(e, 0, sizeof *e);
	e->kind = k;
	e->change = ch;
	e->mail = mail;
	e->threshold = threshold;
	e->value = r->known[k] ? r->value[k] : NAN;
	if (r->known[k])
		snprintf(e->note, sizeof e->note, "%s", r->note[k]);
	return e;
}

size_t
alerts_evaluate(const struct alert_reading *r, const struct alert_limits *l,
    struct alert_state *st, int64_t now, struct alert_event ev[ALERT__N])
{
	size_t	n = 0;
	int	k;

	for (k = 0; k < ALERT__N; k++) {
		double	thr = l->threshold[k];
		bool	bad, due;

		if (thr <= 0) {		/* check off: nothing left raised */
			if (st->c[k].raised)
				event(ev, &n, k, ALERT_CLEARED,
				    st->c[k].mailed, r, thr)->off = true;
			st->c[k].raised = st->c[k].mailed = false;
			continue;
		}
		if (!r->known[k])
			continue;
		bad = l->below[k] ? r->value[k] < thr : r->value[k] > thr;
		due = st->c[k].last_mail == 0 ||
		    now - st->c[k].last_mail >= l->period;
		if (bad && !st->c[k].raised) {
			st->c[k].raised = true;
			st->c[k].mailed = due;
			if (due)
				st->c[k].last_mail = now;
			event(ev, &n, k, ALERT_RAISED, due, r, thr);
		} else if (bad && due) {
			/* still: a reminder, or the first mail of an
			 * episode that began within the last period */
			st->c[k].mailed = true;
			st->c[k].last_mail = now;
			event(ev, &n, k, ALERT_REMINDED, true, r, thr);
		} else if (!bad && st->c[k].raised) {
			event(ev, &n, k, ALERT_CLEARED, st->c[k].mailed, r,
			    thr);
			st->c[k].raised = st->c[k].mailed = false;
		}
	}
	return n;
}

/* ---- counters over a window ------------------------------------------- */

void
alerts_history_add(struct alert_history *h, int64_t now, int64_t window,
    const struct alert_counts *c)
{
	int64_t	gap = window / (ALERTS_HISTORY_MAX / 2);
	size_t	i;

	if (h->n > 0) {
		i = (h->head + h->n - 1) % ALERTS_HISTORY_MAX;
		if (now - h->s[i].t < gap)
			return;		/* close enough to the last one */
	}
	if (h->n == ALERTS_HISTORY_MAX) {	/* the oldest goes */
		h->head = (h->head + 1) % ALERTS_HISTORY_MAX;
		h->n--;
	}
	i = (h->head + h->n) % ALERTS_HISTORY_MAX;
	h->s[i].t = now;
	h->s[i].c = *c;
	h->n++;
}

static uint64_t
minus(uint64_t a, uint64_t b)
{
	return a > b ? a - b : 0;
}

void
alerts_history_delta(const struct alert_history *h, int64_t now,
    int64_t window, const struct alert_counts *c, struct alert_counts *d_r,
    int64_t *span_r)
{
	size_t	i, j, base = h->head;

	memset(d_r, 0, sizeof *d_r);
	*span_r = 0;
	if (h->n == 0)
		return;
	/* the newest sample at least window old, else the oldest */
	for (i = h->n; i > 0; i--) {
		j = (h->head + i - 1) % ALERTS_HISTORY_MAX;
		if (h->s[j].t <= now - window) {
			base = j;
			break;
		}
	}
	d_r->messages = minus(c->messages, h->s[base].c.messages);
	d_r->errors = minus(c->errors, h->s[base].c.errors);
	d_r->tempfails = minus(c->tempfails, h->s[base].c.tempfails);
	d_r->restarts = minus(c->restarts, h->s[base].c.restarts);
	*span_r = now - h->s[base].t;
}

static void
span_text(char *out, size_t len, int64_t s)
{
	if (s < 120)
		snprintf(out, len, "%lld s", (long long)s);
	else if (s < 2 * 3600)
		snprintf(out, len, "%lld min", (long long)s / 60);
	else if (s < 2 * 86400)
		snprintf(out, len, "%lld h", (long long)s / 3600);
	else
		snprintf(out, len, "%lld days", (long long)s / 86400);
}

void
alerts_read_counts(struct alert_reading *r, const struct alert_counts *d,
    int64_t span, unsigned min_messages)
{
	char	sp[32];

	span_text(sp, sizeof sp, span);
	if (d->messages >= min_messages && d->messages > 0) {
		r->known[ALERT_ERRORS] = r->known[ALERT_TEMPFAILS] = true;
		r->value[ALERT_ERRORS] = 100.0 * (double)d->errors /
		    (double)d->messages;
		r->value[ALERT_TEMPFAILS] = 100.0 * (double)d->tempfails /
		    (double)d->messages;
		snprintf(r->note[ALERT_ERRORS], ALERT_NOTE_MAX,
		    "%llu of %llu messages in the last %s could not be "
		    "judged", (unsigned long long)d->errors,
		    (unsigned long long)d->messages, sp);
		snprintf(r->note[ALERT_TEMPFAILS], ALERT_NOTE_MAX,
		    "%llu of %llu messages in the last %s were answered "
		    "4xx", (unsigned long long)d->tempfails,
		    (unsigned long long)d->messages, sp);
	}
	r->known[ALERT_RESTARTS] = true;
	r->value[ALERT_RESTARTS] = (double)d->restarts;
	snprintf(r->note[ALERT_RESTARTS], ALERT_NOTE_MAX,
	    "%llu scanning worker(s) replaced in the last %s",
	    (unsigned long long)d->restarts, sp);
}

/* ---- the mail ------------------------------------------------------- */

/* A value as the postmaster reads it: ages as durations, rates with one
 * decimal, counts whole. */
static void
value_text(char *out, size_t len, enum alert_kind k, double v)
{
	if (isnan(v))
		snprintf(out, len, "not measured");
	else if (k == ALERT_SIGNATURES)
		span_text(out, len, (int64_t)v);
	else if (k == ALERT_QUEUE || k == ALERT_RESTARTS)
		snprintf(out, len, "%.0f%s", v, kinds[k].unit);
	else
		snprintf(out, len, "%.1f%s", v, kinds[k].unit);
}

static void
date_text(struct buf *b, int64_t now)
{
	static const char *const wd[] = { "Sun", "Mon", "Tue", "Wed", "Thu",
	    "Fri", "Sat" };
	static const char *const mo[] = { "Jan", "Feb", "Mar", "Apr", "May",
	    "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	time_t		t = (time_t)now;
	struct tm	tm;

	gmtime_r(&t, &tm);	/* no locale: the names are RFC 5322's */
	buf_printf(b, "%s, %02d %s %d %02d:%02d:%02d +0000", wd[tm.tm_wday],
	    tm.tm_mday, mo[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour,
	    tm.tm_min, tm.tm_sec);
}

int
alerts_compose(const struct policy *pol, const struct alert_event *e,
    const char *host, int64_t now, struct notification *n_r, struct err *err)
{
	struct buf	*b = &n_r->message;
	const char	*what = e->change == ALERT_CLEARED ? "RECOVERED" :
			    "ALERT";
	char		 val[64], thr[64];
	char		*tag = str_sanitise(pol->notify_server_tag != NULL ?
			    pol->notify_server_tag : "", 80);
	char		*h = str_sanitise(host, 200);
	size_t		 i;

	memset(n_r, 0, sizeof *n_r);
	if (pol->alert_mail_to.n == 0) {
		free(tag);
		free(h);
		return err_set(err, "[alerts] mail_to is empty");
	}
	n_r->who = NOTIFY_ADMIN;
	n_r->from = xstrdup(pol->notify_from != NULL ? pol->notify_from : "");
	for (i = 0; i < pol->alert_mail_to.n; i++) {
		n_r->rcpts = xreallocarray(n_r->rcpts, n_r->nrcpts + 1,
		    sizeof *n_r->rcpts);
		n_r->rcpts[n_r->nrcpts++] = xstrdup(pol->alert_mail_to.v[i]);
	}
	value_text(val, sizeof val, e->kind, e->value);
	value_text(thr, sizeof thr, e->kind, e->threshold);

	/* MAILER-DAEMON alone is no address: qualified with the host */
	if (strchr(n_r->from, '@') != NULL)
		buf_printf(b, "From: <%s>\n", n_r->from);
	else
		buf_printf(b, "From: <%s@%s>\n", n_r->from, h);
	buf_puts(b, "To: ");
	for (i = 0; i < n_r->nrcpts; i++)
		buf_printf(b, "%s<%s>", i > 0 ? ", " : "", n_r->rcpts[i]);
	buf_printf(b, "\nSubject: %s%s%s: %s on %s: %s (threshold %s)\n", tag,
	    tag[0] != '\0' ? " " : "", what, kinds[e->kind].title, h,
	    e->off ? "check turned off" : val, thr);
	buf_puts(b, "Date: ");
	date_text(b, now);
	buf_printf(b, "\nMessage-ID: <%lld.alert-%s.%d.portcullis@%s>\n",
	    (long long)now, kinds[e->kind].name, (int)e->change, h);
	buf_puts(b, "Auto-Submitted: auto-generated\n"
	    "X-Portcullis-Notification: alert\n"
	    "MIME-Version: 1.0\n"
	    "Content-Type: text/plain; charset=us-ascii\n"
	    "Content-Transfer-Encoding: 7bit\n\n");
	switch (e->change) {
	case ALERT_RAISED:
		buf_printf(b, "The mail gateway %s raised an alert:\n\n", h);
		break;
	case ALERT_REMINDED:
		buf_printf(b, "The mail gateway %s still has this "
		    "condition:\n\n", h);
		break;
	case ALERT_CLEARED:
		buf_printf(b, "The mail gateway %s has recovered:\n\n", h);
		break;
	}
	buf_printf(b, "  condition:  %s (%s)\n", kinds[e->kind].title,
	    kinds[e->kind].name);
	buf_printf(b, "  value:      %s\n", e->off ? "check turned off" : val);
	buf_printf(b, "  threshold:  %s (%s)\n", thr,
	    e->kind == ALERT_SPOOL_DISK || e->kind == ALERT_QUARANTINE_DISK ?
	    "alert below it" : "alert above it");
	if (e->note[0] != '\0') {
		char *note = str_sanitise(e->note, ALERT_NOTE_MAX);

		buf_printf(b, "  details:    %s\n", note);
		free(note);
	}
	buf_puts(b, "\n");
	if (e->change == ALERT_CLEARED)
		buf_puts(b, "No further action is needed for this "
		    "condition.\n");
	else
		buf_puts(b, "This alert is sent again after each [alerts] "
		    "period while the\ncondition lasts; a recovery notice "
		    "follows when the value is back on\nthe good side of the "
		    "threshold.\n");
	buf_puts(b, "\n-- \nPortcullis alerts ([alerts] in the policy file, "
	    "portcullis(8))\n");
	free(tag);
	free(h);
	return 0;
}
