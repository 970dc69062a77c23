/*
 * milter/alerts.h - alerts for the postmaster, as mail gateways send them:
 * the signatures in use are too old, too many messages fail or are
 * tempfailed, Postfix's queue is too long, the spool or the quarantine
 * disk is nearly full, scanning workers keep dying. Each condition has a
 * threshold in [alerts] (0 turns its check off); an alert says the value
 * and the threshold, is logged (one line when raised, one when cleared)
 * and mailed to [alerts] mail_to at most once per [alerts] period while it
 * lasts, and a recovery notice follows when the value is back on the good
 * side of its threshold.
 *
 * Two halves. The evaluation is pure (no clock, no I/O, no globals):
 * alerts_limits(), alerts_evaluate(), the counter history and
 * alerts_compose() take values and return decisions or bytes; the unit
 * ring tests them. The daemon half is one thread of the milter process
 * (never a scanning worker): every [alerts] interval, and at once after a
 * policy reload, it measures (the pool's report of the signatures in use,
 * the counters below, statvfs() of the spool and quarantine directories,
 * the lines [alerts] queue_command prints, which are counted and not
 * parsed), each step bounded in time, and hands the mails to the outbox
 * (outbox.h), so neither the checks nor sendmail hold up a milter thread.
 *
 * Errors: alerts_compose and alerts_start return 0/-1 with struct err.
 * Ownership: a notification from alerts_compose is the caller's
 * (notify_list_free, or outbox_post takes it).
 * Thread-safety: the pure functions are reentrant; alerts_note_* are
 * lock-free and may be called from any thread; alerts_start/stop from the
 * main thread, alerts_poke from any.
 */
#ifndef PORTCULLIS_ALERTS_H
#define PORTCULLIS_ALERTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "notify.h"
#include "policy.h"

enum alert_kind {
	ALERT_SIGNATURES,	/* age of the signatures in use, seconds */
	ALERT_ERRORS,		/* percent of messages failed, in the window */
	ALERT_TEMPFAILS,	/* percent of messages tempfailed, the same */
	ALERT_QUEUE,		/* messages in Postfix's queue */
	ALERT_SPOOL_DISK,	/* percent free where the spool is */
	ALERT_QUARANTINE_DISK,	/* percent free where the quarantine is */
	ALERT_RESTARTS,		/* scanning workers replaced, in the window */
	ALERT__N
};

struct alert_limits {
	double		threshold[ALERT__N];	/* 0 = not checked */
	bool		below[ALERT__N];	/* bad under it, else over */
	int64_t		period;			/* s between two mails */
};

#define ALERT_NOTE_MAX	160

/* One round of measurements. A value that could not be measured this
 * time (or cannot be judged yet) is not known and changes nothing. */
struct alert_reading {
	bool		known[ALERT__N];
	double		value[ALERT__N];
	char		note[ALERT__N][ALERT_NOTE_MAX];	/* "" or context */
};

/* What alerts_evaluate() remembers between rounds; all zero = nothing
 * raised, nothing mailed yet. */
struct alert_state {
	struct {
		bool	raised;
		bool	mailed;		/* this episode's mail went out */
		int64_t	last_mail;	/* time of the last alert mail */
	} c[ALERT__N];
};

enum alert_change {
	ALERT_RAISED,		/* over (or under) the threshold now */
	ALERT_REMINDED,		/* still so, a period after the last mail */
	ALERT_CLEARED		/* back, or its check turned off */
};

struct alert_event {
	enum alert_kind		kind;
	enum alert_change	change;
	bool			mail;	/* false: logged only */
	bool			off;	/* cleared: the check was turned off */
	double			value;	/* NAN when not known */
	double			threshold;
	char			note[ALERT_NOTE_MAX];
};

/* The thresholds of [alerts] (pol borrowed for the call). */
void	alerts_limits(const struct policy *pol, struct alert_limits *l);

/*
 * One round: compares r with l, updates *st and writes what changed to
 * ev (at most ALERT__N events). An alert is mailed when raised unless one
 * was mailed less than a period before (then only when the period is
 * over, as a reminder, if it still holds); a recovery notice is mailed
 * when an alert that was mailed clears. now: seconds, any epoch.
 * Returns the number of events.
 */
size_t	alerts_evaluate(const struct alert_reading *r,
	    const struct alert_limits *l, struct alert_state *st,
	    int64_t now, struct alert_event ev[ALERT__N]);

/* Short name for logs ("signatures", "error_rate", ...); static. */
const char *alerts_kind_str(enum alert_kind k);

/* ---- counters over a window ------------------------------------------- */

struct alert_counts {
	uint64_t	messages;	/* judged (any disposition) */
	uint64_t	errors;		/* could not be judged */
	uint64_t	tempfails;	/* answered 4xx */
	uint64_t	restarts;	/* workers or the keeper replaced */
};

#define ALERTS_HISTORY_MAX	512

/* Samples of the counters, oldest first, spaced so that the whole window
 * fits (a sample is kept at most every window / (ALERTS_HISTORY_MAX / 2)
 * seconds). Zero-initialised = empty. */
struct alert_history {
	struct {
		int64_t			t;
		struct alert_counts	c;
	}		s[ALERTS_HISTORY_MAX];
	size_t		head, n;
};

/* Records the counters c at time now (s) for a window of window s. */
void	alerts_history_add(struct alert_history *h, int64_t now,
	    int64_t window, const struct alert_counts *c);
/*
 * What happened in the last window seconds: now's counters c minus the
 * newest sample at least window old (or the oldest there is, when the
 * history is younger). *d_r gets the differences, *span_r the seconds
 * they cover (0: no sample yet).
 */
void	alerts_history_delta(const struct alert_history *h, int64_t now,
	    int64_t window, const struct alert_counts *c,
	    struct alert_counts *d_r, int64_t *span_r);

/*
 * Fills in the readings of the error and tempfail rates (percent of d's
 * messages, known only when there were at least min_messages) and of the
 * restarts, from the differences d over span seconds.
 */
void	alerts_read_counts(struct alert_reading *r,
	    const struct alert_counts *d, int64_t span,
	    unsigned min_messages);

/*
 * The mail about e, from [notify] from to [alerts] mail_to, subject
 * "[notify] server_tag ALERT: ..." or "... RECOVERED: ...", marked
 * Auto-Submitted. host names this gateway, now (s since 1970) dates it.
 * Returns -1 (err) when mail_to is empty.
 */
int	alerts_compose(const struct policy *pol, const struct alert_event *e,
	    const char *host, int64_t now, struct notification *n_r,
	    struct err *err) __attribute__((warn_unused_result));

/* ---- the daemon's thread ---------------------------------------------- */

/* One message judged: its final disposition, and whether it failed. */
void	alerts_note_message(enum disposition done, bool failed);
/* A scanning worker died with a message (milter.c sees WS_DIED). */
void	alerts_note_worker_died(void);

int	alerts_start(struct err *err) __attribute__((warn_unused_result));
/* Checks now (after a reload: new thresholds take effect at once). */
void	alerts_poke(void);
void	alerts_stop(void);

#endif
