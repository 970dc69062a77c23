/* test/unit/test-alerts.c - the pure half of the alerts (milter/alerts.c):
 * the [alerts] keys, raise/remind/clear at most once per period, the
 * counters over a window, the rates and the mail. */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alerts.h"
#include "notify.h"
#include "policy.h"
#include "t.h"

static struct policy *
load(struct t *t, const char *ini)
{
	struct policy	*pol = NULL;
	char		*errs = NULL;

	if (!t_check(t, policy_load_string(ini, "t.ini", NULL, 0, &pol,
	    &errs) == 0, "policy: %s", errs != NULL ? errs : ""))
		pol = NULL;
	free(errs);
	return pol;
}

static const char *
change_str(enum alert_change c)
{
	return c == ALERT_RAISED ? "raised" : c == ALERT_REMINDED ?
	    "reminded" : "cleared";
}

/* The defaults are those policy/README.md documents. */
static void
t_limits_default(struct t *t)
{
	static const struct {
		enum alert_kind	k;
		double		want;
		bool		below;
	} rows[] = {
		{ ALERT_SIGNATURES, 86400, false },
		{ ALERT_ERRORS, 5, false },
		{ ALERT_TEMPFAILS, 20, false },
		{ ALERT_QUEUE, 1000, false },
		{ ALERT_SPOOL_DISK, 10, true },
		{ ALERT_QUARANTINE_DISK, 10, true },
		{ ALERT_RESTARTS, 5, false },
	};
	struct policy		*pol = load(t, "");
	struct alert_limits	 l;
	size_t			 i;

	if (pol == NULL)
		return;
	alerts_limits(pol, &l);
	for (i = 0; i < sizeof rows / sizeof rows[0]; i++)
		t_check(t, l.threshold[rows[i].k] == rows[i].want &&
		    l.below[rows[i].k] == rows[i].below,
		    "%s: got %g%s, want %g%s", alerts_kind_str(rows[i].k),
		    l.threshold[rows[i].k], l.below[rows[i].k] ? " below" : "",
		    rows[i].want, rows[i].below ? " below" : "");
	t_check(t, l.period == 3600, "period: got %lld, want 3600",
	    (long long)l.period);
	t_check(t, pol->alert_interval_ms == 60000 &&
	    pol->alert_window_ms == 900000 &&
	    pol->alert_rate_min_messages == 20 &&
	    pol->alert_mail_to.n == 0 && pol->alert_queue_command != NULL &&
	    strcmp(pol->alert_queue_command, "/usr/sbin/postqueue -j") == 0,
	    "interval %llu, window %llu, min %u, mail_to %zu, command %s",
	    (unsigned long long)pol->alert_interval_ms,
	    (unsigned long long)pol->alert_window_ms,
	    pol->alert_rate_min_messages, pol->alert_mail_to.n,
	    pol->alert_queue_command != NULL ? pol->alert_queue_command :
	    "NULL");
	policy_unref(&pol);

	/* antivirus off: no signatures to be old */
	pol = load(t, "[antivirus]\nenabled = no\n[alerts]\n"
	    "signature_age = 1s\nperiod = 10m\nmail_to = a@example.com, "
	    "b@example.com\n");
	if (pol == NULL)
		return;
	alerts_limits(pol, &l);
	t_check(t, l.threshold[ALERT_SIGNATURES] == 0 && l.period == 600 &&
	    pol->alert_mail_to.n == 2, "antivirus off: got age %g, period "
	    "%lld, %zu addresses; want 0, 600, 2",
	    l.threshold[ALERT_SIGNATURES], (long long)l.period,
	    pol->alert_mail_to.n);
	policy_unref(&pol);
}

/* Bad values are refused with the key named. */
static void
t_limits_errors(struct t *t)
{
	static const struct {
		const char	*ini;
		const char	*want;		/* in the error report */
	} rows[] = {
		{ "[alerts]\nerror_rate = 101\n",
		    "t.ini:2: [alerts] error_rate: \"101\" is out of range" },
		{ "[alerts]\ndisk_free = 101\n",
		    "t.ini:2: [alerts] disk_free: \"101\" is out of range" },
		{ "[alerts]\ninterval = 0s\n",
		    "t.ini:2: [alerts] interval: \"0s\" is out of range" },
		{ "[alerts]\nqueue_command = postqueue -j\n",
		    "t.ini:2: [alerts] queue_command: \"postqueue -j\" must "
		    "start with an absolute path" },
		{ "[alerts]\nqueue_command =\n",
		    "[alerts] queue_command: \"\" must start with an "
		    "absolute path" },
	};
	struct policy	*pol = NULL;
	char		*errs = NULL;
	size_t		 i;

	for (i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		int r = policy_load_string(rows[i].ini, "t.ini", NULL, 0,
		    &pol, &errs);

		t_check(t, r == -1 && errs != NULL &&
		    strstr(errs, rows[i].want) != NULL,
		    "%s: got %d \"%s\", want -1 \"%s\"", rows[i].ini, r,
		    errs != NULL ? errs : "", rows[i].want);
		free(errs);
		errs = NULL;
		policy_unref(&pol);
	}
	/* no queue check: no command needed */
	pol = load(t, "[alerts]\nqueue_size = 0\nqueue_command =\n");
	policy_unref(&pol);
}

/* One condition through time: a row is one round. */
struct step {
	int64_t		now;
	bool		known;
	double		value;
	double		threshold;
	int		want;		/* -1 = no event, else alert_change */
	bool		want_mail;
};

static void
run_steps(struct t *t, const char *name, enum alert_kind k, bool below,
    const struct step *s, size_t n)
{
	struct alert_state	st;
	struct alert_limits	l;
	struct alert_reading	r;
	struct alert_event	ev[ALERT__N];
	size_t			i, ne;

	memset(&st, 0, sizeof st);
	for (i = 0; i < n; i++) {
		memset(&l, 0, sizeof l);
		memset(&r, 0, sizeof r);
		l.period = 3600;
		l.threshold[k] = s[i].threshold;
		l.below[k] = below;
		r.known[k] = s[i].known;
		r.value[k] = s[i].value;
		snprintf(r.note[k], sizeof r.note[k], "step %zu", i);
		ne = alerts_evaluate(&r, &l, &st, s[i].now, ev);
		if (s[i].want == -1) {
			t_check(t, ne == 0, "%s step %zu (t=%lld v=%g): got "
			    "%zu event(s) (%s), want none", name, i,
			    (long long)s[i].now, s[i].value, ne,
			    ne > 0 ? change_str(ev[0].change) : "");
			continue;
		}
		if (!t_check(t, ne == 1, "%s step %zu (t=%lld v=%g): got %zu "
		    "events, want 1 %s", name, i, (long long)s[i].now,
		    s[i].value, ne, change_str((enum alert_change)s[i].want)))
			continue;
		t_check(t, ev[0].kind == k &&
		    (int)ev[0].change == s[i].want &&
		    ev[0].mail == s[i].want_mail &&
		    ev[0].threshold == s[i].threshold,
		    "%s step %zu (t=%lld v=%g): got %s mail=%d thr=%g, want %s "
		    "mail=%d thr=%g", name, i, (long long)s[i].now,
		    s[i].value, change_str(ev[0].change), ev[0].mail,
		    ev[0].threshold, change_str((enum alert_change)s[i].want),
		    s[i].want_mail, s[i].threshold);
		if (s[i].known)
			t_check(t, ev[0].value == s[i].value &&
			    strcmp(ev[0].note, r.note[k]) == 0,
			    "%s step %zu: value %g note \"%s\", want %g "
			    "\"%s\"", name, i, ev[0].value, ev[0].note,
			    s[i].value, r.note[k]);
	}
}

static void
t_evaluate_over(struct t *t)
{
	static const struct step s[] = {
		{ 100, true, 50, 100, -1, false },
		{ 150, true, 100, 100, -1, false },	/* at N: fine */
		{ 200, true, 101, 100, ALERT_RAISED, true },	/* N+1 */
		{ 300, true, 160, 100, -1, false },	/* within period */
		{ 3799, true, 170, 100, -1, false },
		{ 3800, true, 170, 100, ALERT_REMINDED, true },
		{ 3900, false, 0, 100, -1, false },	/* not measured */
		{ 4000, true, 100, 100, ALERT_CLEARED, true },
		{ 4001, true, 100, 100, -1, false },
		/* flapping within the period: logged, not mailed */
		{ 4100, true, 101, 100, ALERT_RAISED, false },
		{ 4200, true, 90, 100, ALERT_CLEARED, false },
		{ 4300, true, 101, 100, ALERT_RAISED, false },
		/* the period since the last mail is over: mailed now */
		{ 7400, true, 120, 100, ALERT_REMINDED, true },
		{ 7500, true, 120, 100, -1, false },
		/* a reload that lifts the threshold clears it */
		{ 7600, true, 120, 500, ALERT_CLEARED, true },
		/* the check turned off while raised: cleared */
		{ 7700, true, 600, 500, ALERT_RAISED, false },
		{ 20000, true, 600, 0, ALERT_CLEARED, false },
		{ 20100, true, 600, 0, -1, false },
		{ 20200, true, 600, 500, ALERT_RAISED, true },
	};

	run_steps(t, "queue", ALERT_QUEUE, false, s, T_NCASES(s));
}

static void
t_evaluate_below(struct t *t)
{
	static const struct step s[] = {
		{ 10, true, 50.0, 10, -1, false },
		{ 20, true, 10.0, 10, -1, false },	/* at N: fine */
		{ 30, true, 9.9, 10, ALERT_RAISED, true },
		{ 40, true, 0.5, 10, -1, false },
		{ 50, true, 10.0, 10, ALERT_CLEARED, true },
		{ 60, true, 99.0, 100, ALERT_RAISED, false },
		{ 70, true, 99.0, 1, ALERT_CLEARED, false },
	};

	run_steps(t, "disk", ALERT_SPOOL_DISK, true, s, T_NCASES(s));
}

/* Each condition on its own: one raised does not touch the others. */
static void
t_evaluate_independent(struct t *t)
{
	struct alert_state	st;
	struct alert_limits	l;
	struct alert_reading	r;
	struct alert_event	ev[ALERT__N];
	size_t			n, i;
	int			k;

	memset(&st, 0, sizeof st);
	memset(&l, 0, sizeof l);
	memset(&r, 0, sizeof r);
	l.period = 60;
	for (k = 0; k < ALERT__N; k++) {
		l.threshold[k] = 10;
		r.known[k] = true;
		r.value[k] = k % 2 == 0 ? 11 : 9;	/* even ones over */
	}
	n = alerts_evaluate(&r, &l, &st, 1000, ev);
	t_check(t, n == (ALERT__N + 1) / 2, "got %zu events, want %d", n,
	    (ALERT__N + 1) / 2);
	for (i = 0; i < n; i++)
		t_check(t, ev[i].kind % 2 == 0 && ev[i].mail &&
		    ev[i].change == ALERT_RAISED, "event %zu: %s %s", i,
		    alerts_kind_str(ev[i].kind), change_str(ev[i].change));
	for (k = 0; k < ALERT__N; k++)
		t_check(t, st.c[k].raised == (k % 2 == 0), "%s raised=%d",
		    alerts_kind_str(k), st.c[k].raised);
	t_check(t, strcmp(alerts_kind_str(ALERT__N), "?") == 0 &&
	    strcmp(alerts_kind_str(ALERT_RESTARTS), "worker_restarts") == 0,
	    "kind names");
}

static void
counts(struct alert_counts *c, uint64_t m, uint64_t e, uint64_t tf,
    uint64_t rs)
{
	c->messages = m;
	c->errors = e;
	c->tempfails = tf;
	c->restarts = rs;
}

static void
t_history(struct t *t)
{
	struct alert_history	*h = calloc(1, sizeof *h);
	struct alert_counts	 c, d;
	int64_t			 span, now;

	if (h == NULL)
		return;
	counts(&c, 0, 0, 0, 0);
	alerts_history_delta(h, 100, 900, &c, &d, &span);
	t_check(t, span == 0 && d.messages == 0, "empty: span %lld",
	    (long long)span);
	/* one message a second, one error in ten, from t = 0 */
	for (now = 0; now <= 2000; now += 60) {
		counts(&c, (uint64_t)now, (uint64_t)now / 10, 0, 0);
		alerts_history_add(h, now, 900, &c);
	}
	/* at 1980: the newest sample at least 900 s old is from 1080 */
	counts(&c, 1980, 198, 7, 2);
	alerts_history_delta(h, 1980, 900, &c, &d, &span);
	t_check(t, span == 900 && d.messages == 900 && d.errors == 90 &&
	    d.tempfails == 7 && d.restarts == 2,
	    "window: got span %lld, %llu msgs %llu errs %llu tf %llu rs; "
	    "want 900, 900, 90, 7, 2", (long long)span,
	    (unsigned long long)d.messages, (unsigned long long)d.errors,
	    (unsigned long long)d.tempfails, (unsigned long long)d.restarts);
	/* younger than the window: from the oldest sample */
	alerts_history_delta(h, 1980, 100000, &c, &d, &span);
	t_check(t, span == 1980 && d.messages == 1980, "young: got span "
	    "%lld, %llu msgs; want 1980, 1980", (long long)span,
	    (unsigned long long)d.messages);
	/* counters never go back: no negative differences */
	counts(&c, 0, 0, 0, 0);
	alerts_history_delta(h, 1980, 900, &c, &d, &span);
	t_check(t, d.messages == 0 && d.errors == 0, "lower counters: got "
	    "%llu", (unsigned long long)d.messages);

	/* bounded: a sample a second for a day, window of a day */
	memset(h, 0, sizeof *h);
	for (now = 1; now <= 86400; now++) {
		counts(&c, (uint64_t)now, 0, 0, 0);
		alerts_history_add(h, now, 86400, &c);
	}
	t_check(t, h->n <= ALERTS_HISTORY_MAX && h->n >= ALERTS_HISTORY_MAX /
	    4, "samples kept: got %zu, want at most %d", h->n,
	    ALERTS_HISTORY_MAX);
	counts(&c, 86400 + 3600, 0, 0, 0);
	alerts_history_delta(h, 86400 + 3600, 86400, &c, &d, &span);
	t_check(t, span >= 86400 && span <= 86400 + 86400 /
	    (ALERTS_HISTORY_MAX / 2) + 1, "day window: got span %lld",
	    (long long)span);
	free(h);
}

static void
t_rates(struct t *t)
{
	static const struct {
		uint64_t	m, e, tf, rs;
		unsigned	min;
		bool		known;
		double		err, tf_rate;
	} rows[] = {
		{ 19, 19, 19, 0, 20, false, 0, 0 },	/* N-1: not judged */
		{ 20, 2, 5, 1, 20, true, 10, 25 },	/* N */
		{ 0, 0, 0, 3, 1, false, 0, 0 },		/* no traffic */
		{ 1, 1, 0, 0, 1, true, 100, 0 },
	};
	struct alert_reading	r;
	struct alert_counts	d;
	size_t			i;

	for (i = 0; i < T_NCASES(rows); i++) {
		memset(&r, 0, sizeof r);
		counts(&d, rows[i].m, rows[i].e, rows[i].tf, rows[i].rs);
		alerts_read_counts(&r, &d, 900, rows[i].min);
		t_check(t, r.known[ALERT_ERRORS] == rows[i].known &&
		    r.known[ALERT_TEMPFAILS] == rows[i].known &&
		    (!rows[i].known || (fabs(r.value[ALERT_ERRORS] -
		    rows[i].err) < 1e-9 && fabs(r.value[ALERT_TEMPFAILS] -
		    rows[i].tf_rate) < 1e-9)),
		    "row %zu: got known=%d %g%% %g%%, want known=%d %g%% %g%%",
		    i, r.known[ALERT_ERRORS], r.value[ALERT_ERRORS],
		    r.value[ALERT_TEMPFAILS], rows[i].known, rows[i].err,
		    rows[i].tf_rate);
		t_check(t, r.known[ALERT_RESTARTS] &&
		    r.value[ALERT_RESTARTS] == (double)rows[i].rs,
		    "row %zu restarts: got %g, want %llu", i,
		    r.value[ALERT_RESTARTS], (unsigned long long)rows[i].rs);
	}
	memset(&r, 0, sizeof r);
	counts(&d, 40, 5, 0, 0);
	alerts_read_counts(&r, &d, 900, 20);
	t_check(t, strcmp(r.note[ALERT_ERRORS], "5 of 40 messages in the "
	    "last 15 min could not be judged") == 0, "note: got \"%s\"",
	    r.note[ALERT_ERRORS]);
}

static bool
has(const struct buf *b, const char *s)
{
	return memmem(b->data, b->len, s, strlen(s)) != NULL;
}

static void
t_compose(struct t *t)
{
	struct policy		*pol = load(t, "[notify]\nserver_tag = [gw]\n"
				    "[alerts]\nmail_to = ops@example.com "
				    "noc@example.com\n");
	struct alert_event	 e;
	struct notification	*n;
	struct err		 err = ERR_INIT;
	static const char *const want_raised[] = {
		"From: <MAILER-DAEMON@gw.example>\n",
		"To: <ops@example.com>, <noc@example.com>\n",
		"Subject: [gw] ALERT: mail queue too long on gw.example: 1500 "
		    "messages (threshold 1000 messages)\n",
		"Date: Sat, 01 Aug 2026 12:00:00 +0000\n",
		"Auto-Submitted: auto-generated\n",
		"X-Portcullis-Notification: alert\n",
		"\n\nThe mail gateway gw.example raised an alert:\n",
		"  value:      1500 messages\n",
		"  threshold:  1000 messages (alert above it)\n",
		"  details:    1500 listed?\n",
	};
	size_t			 i;

	if (pol == NULL)
		return;
	n = calloc(2, sizeof *n);
	memset(&e, 0, sizeof e);
	e.kind = ALERT_QUEUE;
	e.change = ALERT_RAISED;
	e.mail = true;
	e.value = 1500;
	e.threshold = 1000;
	snprintf(e.note, sizeof e.note, "1500 listed\r");	/* sanitised */
	if (!t_check(t, alerts_compose(pol, &e, "gw.example", 1785585600,
	    &n[0], &err) == 0, "compose: %s", err.msg))
		goto out;
	t_check(t, strcmp(n[0].from, "MAILER-DAEMON") == 0 &&
	    n[0].nrcpts == 2 && strcmp(n[0].rcpts[1], "noc@example.com") == 0,
	    "envelope: got from %s, %zu rcpts", n[0].from, n[0].nrcpts);
	for (i = 0; i < T_NCASES(want_raised); i++)
		t_check(t, has(&n[0].message, want_raised[i]),
		    "raised: no \"%s\" in:\n%.*s", want_raised[i],
		    (int)n[0].message.len, (const char *)n[0].message.data);

	/* recovery of a disk alert, and an age */
	e.kind = ALERT_SPOOL_DISK;
	e.change = ALERT_CLEARED;
	e.value = 42.34;
	e.threshold = 10;
	e.note[0] = '\0';
	if (!t_check(t, alerts_compose(pol, &e, "gw.example", 1785585600,
	    &n[1], &err) == 0, "compose: %s", err.msg))
		goto out;
	t_check(t, has(&n[1].message, "Subject: [gw] RECOVERED: spool disk "
	    "nearly full on gw.example: 42.3% free (threshold 10.0% free)\n") &&
	    has(&n[1].message, "has recovered") &&
	    !has(&n[1].message, "details:"), "recovered:\n%.*s",
	    (int)n[1].message.len, (const char *)n[1].message.data);
	notify_list_free(&n, 2);

	n = calloc(1, sizeof *n);
	e.kind = ALERT_SIGNATURES;
	e.change = ALERT_REMINDED;
	e.value = 3 * 86400 + 5;
	e.threshold = 86400;
	if (t_check(t, alerts_compose(pol, &e, "gw.example", 1785585600, n,
	    &err) == 0, "compose: %s", err.msg))
		t_check(t, has(&n->message, "ALERT: signature database too old "
		    "on gw.example: 3 days (threshold 24 h)") &&
		    has(&n->message, "still has this condition"),
		    "age:\n%.*s", (int)n->message.len,
		    (const char *)n->message.data);
	notify_list_free(&n, 1);
	policy_unref(&pol);

	/* nobody to mail */
	pol = load(t, "");
	if (pol == NULL)
		goto out;
	n = calloc(1, sizeof *n);
	t_check(t, alerts_compose(pol, &e, "gw.example", 1785585600, n,
	    &err) == -1 && strstr(err.msg, "mail_to") != NULL,
	    "empty mail_to: got \"%s\"", err.msg);
out:
	notify_list_free(&n, 1);
	policy_unref(&pol);
}

static const struct t_case cases[] = {
	T_CASE(t_limits_default),
	T_CASE(t_limits_errors),
	T_CASE(t_evaluate_over),
	T_CASE(t_evaluate_below),
	T_CASE(t_evaluate_independent),
	T_CASE(t_history),
	T_CASE(t_rates),
	T_CASE(t_compose),
};

int
main(int argc, char **argv)
{
	return t_main(argc, argv, cases, T_NCASES(cases));
}
