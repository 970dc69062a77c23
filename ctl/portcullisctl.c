/*
 * ctl/portcullisctl.c - the quarantine manager: list, show, release,
 * delete, expire, report and rescan (see portcullisctl(8)). rescan judges
 * with milter/replay.h, as "portcullis scan" does.
 *
 * A separate program from the daemon: it links the library and the policy
 * loader but never libmilter, and runs as the daemon's user (the
 * quarantine is 0700). Release re-injects through [notify] sendmail with
 * fork/execv (lib/notify.c), never a shell. This file is the only place
 * in the program that exits (from main, with the status of a command).
 *
 * Every command reads the quarantine index (store/); "import" builds it
 * from the record files of a quarantine that has none. With a PostgreSQL
 * index ([quarantine] database) every command sees the whole site, and
 * "sync" copies to it what this node kept while it was unreachable;
 * release re-injects through this node's sendmail whichever node
 * quarantined the message.
 * A release is also logged on syslog facility mail, in the daemon's shape
 * (milter/log.h), as portcullisctl[PID]: QUEUEID: event=release ...
 *
 * Release claims the record first (store_release_claim): of two
 * releases of one record at once, on one node or two, one sends it.
 *
 * Exit status: 0 ok, 1 not found, 2 released already or being released
 * (said on stderr), 3 output cut by --limit (said on stderr), 64 usage, 74 quarantine I/O error (also: no quarantine, no
 * index, an unknown area), 75 sendmail failed or sync could not finish
 * (try again), 78 configuration error.
 */
#include "config.h"

#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "av.h"
#include "log.h"
#include "mime.h"
#include "notify.h"
#include "policy.h"
#include "quarantine.h"
#include "replay.h"
#include "report.h"
#include "util.h"

#define CTL_DEFAULT_POLICY SYSCONFDIR "/portcullis/portcullis.ini"

#define CTL_EX_OK	0
#define CTL_EX_NOTFOUND	1
#define CTL_EX_RELEASED	2	/* released already, or being released */
#define CTL_EX_LIMIT	3
#define CTL_EX_USAGE	64
#define CTL_EX_IOERR	74
#define CTL_EX_TEMPFAIL	75
#define CTL_EX_CONFIG	78

struct ctl {
	const char		*policy_path;
	struct policy_override	*ov;
	size_t			 nov;
	bool			 json, html, raw;
	bool			 again;		/* release --again */
	long			 days;		/* -1 = not given */
	int64_t			 since;		/* list --since; 0 = all */
	size_t			 limit;		/* list --limit; 0 = none */
	const char		**to;		/* release --to */
	size_t			 nto;
	char			**args;		/* after the command word */
	int			 nargs;
	struct policy		*pol;
	struct store		*st;		/* the index, open */
};

static void
usage(FILE *fp)
{
	fputs(
"usage: portcullisctl [--policy FILE] [-o section.key=value]... COMMAND\n"
"       portcullisctl --version\n"
"  list [AREA] [--since AGE|DATE] [--limit N] [--json]\n"
"                                quarantined messages, oldest first\n"
"  show ID [--json | --raw]      one record (--raw: the message itself)\n"
"  release ID [--to ADDR]... [--again]\n"
"                                re-inject to the original or given\n"
"                                recipients, once (--again: once more)\n"
"  delete ID...                  remove records\n"
"  expire [--days N]             remove records older than N days\n"
"                                (default [quarantine] expire_days)\n"
"  report [--days N] [--json | --html]\n"
"                                traffic and quarantine counts, top lists\n"
"  import                        build the index from the record files\n"
"  sync                          copy what this node kept while the\n"
"                                PostgreSQL index was unreachable\n"
"  rescan [AREA]                 re-judge with today's policy and\n"
"                                signatures: what would now pass\n"
"The policy is --policy FILE, else $PORTCULLIS_POLICY, else\n"
CTL_DEFAULT_POLICY ".\n", fp);
}

static void
out_buf(const struct buf *b)
{
	if (b->len > 0)
		fwrite(b->data, 1, b->len, stdout);
}

static const char *
str_or(const char *s, const char *dflt)
{
	return s != NULL && s[0] != '\0' ? s : dflt;
}

/* ---- list ---- */

static const char *
time_str(int64_t t, char *out, size_t len)
{
	time_t		tt = (time_t)t;
	struct tm	tm;

	if (gmtime_r(&tt, &tm) == NULL ||
	    strftime(out, len, "%Y-%m-%d %H:%M:%S", &tm) == 0)
		snprintf(out, len, "?");
	return out;
}

static void
list_line(const struct qmeta *m, struct buf *b)
{
	char	 ts[32], *s, *d;

	s = str_sanitise(str_or(m->sender, "<>"), 40);
	d = str_sanitise(m->nfindings > 0 ? (m->findings[0].detail != NULL ?
	    m->findings[0].detail : m->findings[0].rule) : "-", 60);
	buf_printf(b, "%-34s %-10s %s %9llu %-40s %s%s\n", m->id, m->area,
	    time_str(m->time, ts, sizeof ts), (unsigned long long)m->size, s,
	    d, m->nfindings > 1 ? " ..." : "");
	free(s);
	free(d);
}

struct listout {
	struct ctl	*c;
	struct buf	 b;
};

static int
list_cb(void *ctx, const struct qmeta *m, struct err *err)
{
	struct listout	*lo = ctx;

	(void)err;
	if (lo->c->json) {
		qmeta_json(m, &lo->b);
		buf_puts(&lo->b, "\n");
	} else
		list_line(m, &lo->b);
	if (lo->b.len > 65536) {
		out_buf(&lo->b);
		buf_reset(&lo->b);
	}
	return 0;
}

/* The area argument: known, or an error said here (exit status). */
static int
check_area(struct ctl *c, const char *area)
{
	if (area == NULL)
		return CTL_EX_OK;
	if (!quarantine_area_ok(area)) {
		fprintf(stderr, "portcullisctl: bad area name\n");
		return CTL_EX_USAGE;
	}
	if (!quarantine_area_known(c->pol, c->st, area)) {
		fprintf(stderr, "portcullisctl: %s: unknown quarantine area "
		    "(no action keeps mail there and no record is in it)\n",
		    area);
		return CTL_EX_IOERR;
	}
	return CTL_EX_OK;
}

/* With PostgreSQL: says what this node keeps that the index lacks. */
static void
note_pending(struct ctl *c)
{
	struct err	err = ERR_INIT;
	size_t		n = 0;

	if (quarantine_pending(c->pol, &n, &err) == -1)
		fprintf(stderr, "portcullisctl: this node's local index: %s\n",
		    err.msg);
	else if (n > 0)
		fprintf(stderr, "portcullisctl: %zu record%s kept on this node "
		    "while the database was unreachable, not listed: run "
		    "\"portcullisctl sync\"\n", n, n == 1 ? "" : "s");
}

static int
cmd_list(struct ctl *c)
{
	struct listout		lo = { c, BUF_INIT };
	struct store_query	q;
	struct err		err = ERR_INIT;
	size_t			n;
	bool			more;
	int			st;

	if (c->nargs > 1)
		return CTL_EX_USAGE;
	memset(&q, 0, sizeof q);
	q.area = c->nargs > 0 ? c->args[0] : NULL;
	if ((st = check_area(c, q.area)) != CTL_EX_OK)
		return st;
	q.since = c->since;
	q.limit = c->limit;
	q.full = c->json;
	if (!c->json)
		buf_printf(&lo.b, "%-34s %-10s %-19s %9s %-40s %s\n", "ID",
		    "AREA", "TIME (UTC)", "BYTES", "SENDER", "FINDING");
	if (store_list(c->st, &q, list_cb, &lo, &n, &more, &err) == -1) {
		out_buf(&lo.b);
		buf_free(&lo.b);
		fprintf(stderr, "portcullisctl: %s\n", err.msg);
		return CTL_EX_IOERR;
	}
	out_buf(&lo.b);
	buf_free(&lo.b);
	note_pending(c);
	if (more) {
		fprintf(stderr, "portcullisctl: list stopped at --limit %zu: "
		    "more records match\n", c->limit);
		return CTL_EX_LIMIT;
	}
	return CTL_EX_OK;
}

/* ---- show ---- */

static int
load_or_fail(struct ctl *c, const char *id, struct qmeta **m,
    unsigned char **msg, size_t *len)
{
	struct err		err = ERR_INIT;
	enum quar_status	st;

	st = quarantine_load_from(c->pol, c->st, id, m, msg, len, &err);
	if (st == QUAR_NOTFOUND) {
		fprintf(stderr, "portcullisctl: %s: not found\n", id);
		return CTL_EX_NOTFOUND;
	}
	if (st == QUAR_ERROR) {
		fprintf(stderr, "portcullisctl: %s: %s\n", id, err.msg);
		return CTL_EX_IOERR;
	}
	return CTL_EX_OK;
}

/* The header block of msg, as text (bounded). */
static void
put_headers(struct buf *b, const unsigned char *msg, size_t len)
{
	size_t	i, start = 0;

	for (i = 0; i < len && i < 65536; i++) {
		if (msg[i] != '\n')
			continue;
		if (i == start || (i == start + 1 && msg[start] == '\r'))
			break;
		buf_puts(b, "  ");
		buf_append(b, msg + start, i - start -
		    (i > start && msg[i - 1] == '\r' ? 1 : 0));
		buf_puts(b, "\n");
		start = i + 1;
	}
}

static int
cmd_show(struct ctl *c)
{
	struct qmeta	*m = NULL;
	unsigned char	*msg = NULL;
	size_t		 len = 0, i;
	struct buf	 b = BUF_INIT;
	char		 ts[32];
	int		 st;

	if (c->nargs != 1)
		return CTL_EX_USAGE;
	/* --json is the record alone: the index, not the message file. */
	if ((st = load_or_fail(c, c->args[0], &m, c->json ? NULL : &msg,
	    &len)) != CTL_EX_OK)
		return st;
	if (c->raw)
		buf_append(&b, msg, len);
	else if (c->json) {
		qmeta_json(m, &b);
		buf_puts(&b, "\n");
	} else {
		buf_printf(&b, "ID:          %s\nArea:        %s\n"
		    "Time:        %s UTC\nQueue ID:    %s\nSender:      <%s>\n",
		    m->id, m->area, time_str(m->time, ts, sizeof ts),
		    str_or(m->queue_id, "NOQUEUE"), m->sender);
		for (i = 0; i < m->nrcpts; i++)
			buf_printf(&b, "Recipient:   <%s>\n", m->rcpts[i]);
		if (m->node != NULL)
			buf_printf(&b, "Node:        %s\n", m->node);
		buf_printf(&b, "Client:      %s\nAuth user:   %s\n"
		    "Direction:   %s\nAction:      %s (%s)\nSize:        %llu "
		    "bytes\nPolicy:      %s (version %llu)\nSummary:     %s\n",
		    str_or(m->client, "unknown"), str_or(m->auth_user, "-"),
		    str_or(m->direction, "-"), str_or(m->disposition, "-"),
		    str_or(m->action, "-"), (unsigned long long)m->size,
		    str_or(m->policy_source, "-"),
		    (unsigned long long)m->policy_version,
		    str_or(m->summary, "-"));
		if (m->released_time != 0)
			buf_printf(&b, "Released:    %s UTC by %s\n",
			    time_str(m->released_time, ts, sizeof ts),
			    str_or(m->released_by, "?"));
		for (i = 0; i < m->nfindings; i++) {
			const struct qfinding *f = &m->findings[i];

			buf_printf(&b, "Finding:     %s part=%s", f->rule,
			    f->part);
			if (f->filename != NULL)
				buf_printf(&b, " file=\"%s\"", f->filename);
			if (f->detail != NULL)
				buf_printf(&b, " detail=\"%s\"", f->detail);
			buf_printf(&b, " action=%s\n", str_or(f->action, "-"));
		}
		buf_puts(&b, "Headers:\n");
		put_headers(&b, msg, len);
		/* Values from the message: no control bytes on a tty. */
		for (i = 0; i < b.len; i++)
			if ((b.data[i] < 0x20 && b.data[i] != '\n' &&
			    b.data[i] != '\t') || b.data[i] == 0x7f)
				b.data[i] = '?';
	}
	out_buf(&b);
	buf_free(&b);
	free(msg);
	qmeta_free(&m);
	return CTL_EX_OK;
}

/* ---- release ---- */

/* Who releases: the login name, else the user ID. */
static const char *
release_by(void)
{
	static char	 who[64];
	const char	*s = getenv("SUDO_USER");

	if (s == NULL || s[0] == '\0')
		s = getenv("LOGNAME");
	if (s == NULL || s[0] == '\0')
		snprintf(who, sizeof who, "uid %u", (unsigned)getuid());
	else
		snprintf(who, sizeof who, "%.60s", s);
	return who;
}

/* The first NAME header of msg, unfolded and cut to 200 bytes, or NULL.
 * Caller frees. */
static char *
msg_header(const unsigned char *msg, size_t len, const char *name)
{
	struct buf	b = BUF_INIT;
	size_t		i, n = strlen(name);
	bool		in = false;

	for (i = 0; i < len && i < 65536; i++) {
		if (i == 0 || msg[i - 1] == '\n') {
			if (msg[i] == '\r' || msg[i] == '\n')
				break;			/* end of header */
			if (in && msg[i] != ' ' && msg[i] != '\t')
				break;			/* next field */
			if (!in && i + n < len && msg[i + n] == ':' &&
			    strncasecmp((const char *)msg + i, name, n) == 0) {
				in = true;
				i += n;
				continue;
			}
		}
		if (in && msg[i] != '\r' && msg[i] != '\n' && b.len < 200 &&
		    !(b.len == 0 && (msg[i] == ' ' || msg[i] == '\t')))
			buf_append(&b, msg + i, 1);
	}
	if (!in || b.len == 0) {
		buf_free(&b);
		return NULL;
	}
	return buf_cstr(&b);
}

/* One line per release attempt, in the daemon's log shape; result is
 * "ok", "failed" or "refused" (released already, or being released). */
static void
release_log(const struct qmeta *m, const unsigned char *msg, size_t len,
    size_t nr, bool given, const char *result, const char *detail)
{
	struct buf	 b = BUF_INIT;
	char		*s;

	log_open_as("portcullisctl");
	buf_printf(&b, " result=%s", result);
	log_kv(&b, "quarantine_id", m->id, 64);
	log_kv(&b, "area", m->area, 64);
	s = xasprintf("<%s>", str_or(m->sender, ""));
	log_kv(&b, "from", s, 258);
	free(s);
	buf_printf(&b, " rcpts=%zu to=%s", nr, given ? "given" : "original");
	log_kv(&b, "by", release_by(), 64);
	s = msg_header(msg, len, "Message-ID");
	log_kv(&b, "msgid", s, 120);
	free(s);
	log_kv(&b, "detail", detail, LOG_VALUE_MAX);
	log_line(strcmp(result, "ok") == 0 ? LOG_INFO : LOG_WARNING,
	    str_or(m->queue_id, "NOQUEUE"), "release", buf_cstr(&b));
	log_close();
	buf_free(&b);
}

/*
 * Release: claim the record (store_release_claim), so that of two
 * postmasters or two nodes releasing it at once one sends it and the
 * other is told; send; then mark it released, or give the claim back
 * when sendmail failed, so that the release can be tried again.
 */
static int
cmd_release(struct ctl *c)
{
	struct qmeta		*m = NULL;
	unsigned char		*msg = NULL;
	size_t			 len = 0, nr;
	struct buf		 b = BUF_INIT;
	struct err		 err = ERR_INIT;
	struct store_claim_info	 ci;
	enum store_claim	 cs;
	enum quar_status	 qs;
	const char *const	*rcpts;
	char			 host[256], token[256], by[192], ts[32];
	char			*why = NULL;
	int			 st;

	if (c->nargs != 1)
		return CTL_EX_USAGE;
	if ((st = load_or_fail(c, c->args[0], &m, &msg, &len)) != CTL_EX_OK)
		return st;
	rcpts = c->nto > 0 ? c->to : (const char *const *)m->rcpts;
	nr = c->nto > 0 ? c->nto : m->nrcpts;
	if (nr == 0) {
		fprintf(stderr, "portcullisctl: %s: no recipients; use --to\n",
		    m->id);
		st = CTL_EX_USAGE;
		goto out;
	}
	/* Who releases, and this very process: two releases never share
	 * a token. */
	snprintf(by, sizeof by, "%s@%s", release_by(),
	    quarantine_node(c->pol, host, sizeof host));
	snprintf(token, sizeof token, "%s pid %ld", by, (long)getpid());
	cs = store_release_claim(c->st, m->id, token, (int64_t)time(NULL),
	    c->again ? STORE_CLAIM_AGAIN : 0, &ci, &err);
	switch (cs) {
	case STORE_CLAIM_OK:
		break;
	case STORE_CLAIM_NOTFOUND:
		fprintf(stderr, "portcullisctl: %s: not found\n", m->id);
		st = CTL_EX_NOTFOUND;
		goto out;
	case STORE_CLAIM_BUSY:
		why = xasprintf("being released by %s since %s UTC: not sent "
		    "(a release that died is given up after %d minutes)",
		    ci.by, time_str(ci.time, ts, sizeof ts),
		    STORE_CLAIM_STALE / 60);
		goto refused;
	case STORE_CLAIM_DONE:
		why = xasprintf("released already by %s at %s UTC: not sent "
		    "again (--again sends it once more)", ci.by,
		    time_str(ci.time, ts, sizeof ts));
		goto refused;
	default:
		fprintf(stderr, "portcullisctl: release %s: %s\n", m->id,
		    err.msg);
		st = CTL_EX_IOERR;
		goto out;
	}
	notify_build_release(m->id, msg, len, &b);
	if (notify_send(c->pol, &b, str_or(m->sender, "<>"), rcpts, nr, 0,
	    &err) == -1) {
		fprintf(stderr, "portcullisctl: release %s: %s\n", m->id,
		    err.msg);
		release_log(m, msg, len, nr, c->nto > 0, "failed", err.msg);
		/* Not sent: the next try may send it. */
		if (store_release_end(c->st, m->id, token, 0, NULL, &err) ==
		    QUAR_ERROR)
			fprintf(stderr, "portcullisctl: %s: the claim could "
			    "not be given back (%s): it lapses in %d "
			    "minutes\n", m->id, err.msg,
			    STORE_CLAIM_STALE / 60);
		st = CTL_EX_TEMPFAIL;
		goto out;
	}
	printf("released %s to %zu recipient%s\n", m->id, nr,
	    nr == 1 ? "" : "s");
	release_log(m, msg, len, nr, c->nto > 0, "ok", NULL);
	qs = store_release_end(c->st, m->id, token, (int64_t)time(NULL), by,
	    &err);
	if (qs == QUAR_ERROR)
		fprintf(stderr, "portcullisctl: %s: released, but not marked "
		    "in the index: %s\n", m->id, err.msg);
	else if (qs == QUAR_NOTFOUND)
		fprintf(stderr, "portcullisctl: %s: released, but the claim "
		    "had lapsed and another release took it over\n", m->id);
	goto out;
refused:
	fprintf(stderr, "portcullisctl: %s: %s\n", m->id, why);
	release_log(m, msg, len, nr, c->nto > 0, "refused", why);
	st = CTL_EX_RELEASED;
out:
	free(why);
	buf_free(&b);
	free(msg);
	qmeta_free(&m);
	return st;
}

/* ---- delete, expire ---- */

static int
cmd_delete(struct ctl *c)
{
	struct err		err = ERR_INIT;
	enum quar_status	qs;
	int			i, st = CTL_EX_OK;

	if (c->nargs < 1)
		return CTL_EX_USAGE;
	for (i = 0; i < c->nargs; i++) {
		qs = quarantine_delete_from(c->pol, c->st, c->args[i], &err);
		if (qs == QUAR_NOTFOUND) {
			fprintf(stderr, "portcullisctl: %s: not found\n",
			    c->args[i]);
			if (st == CTL_EX_OK)
				st = CTL_EX_NOTFOUND;
		} else if (qs == QUAR_ERROR) {
			fprintf(stderr, "portcullisctl: %s: %s\n", c->args[i],
			    err.msg);
			st = CTL_EX_IOERR;
		} else
			printf("deleted %s\n", c->args[i]);
	}
	return st;
}

static int
cmd_expire(struct ctl *c)
{
	struct err	err = ERR_INIT;
	size_t		removed = 0;
	unsigned	days = c->days >= 0 ? (unsigned)c->days :
			    c->pol->quarantine_expire_days;

	if (c->nargs != 0)
		return CTL_EX_USAGE;
	if (quarantine_expire(c->pol, days, 0, &removed, &err) == -1) {
		fprintf(stderr, "portcullisctl: expire: %s (%zu removed)\n",
		    err.msg, removed);
		return CTL_EX_IOERR;
	}
	printf("expired %zu record%s older than %u days\n", removed,
	    removed == 1 ? "" : "s", days);
	return CTL_EX_OK;
}

/* ---- report ---- */

static int
cmd_report(struct ctl *c)
{
	struct store_report	*r = NULL;
	struct err		 err = ERR_INIT;
	struct buf		 b = BUF_INIT;
	struct report_opts	 o;
	char			 host[256];
	int64_t			 now = (int64_t)time(NULL), from, to;

	if (c->nargs != 0 || (c->json && c->html))
		return CTL_EX_USAGE;
	memset(&o, 0, sizeof o);
	o.days = c->days >= 0 ? (unsigned)c->days : 30;
	/* Whole UTC days: today and the days - 1 before it. */
	to = now - now % 86400 + 86400;
	from = o.days > 0 ? to - (int64_t)o.days * 86400 : 0;
	if (store_report(c->st, from, to, &r, &err) == -1) {
		fprintf(stderr, "portcullisctl: report: %s\n", err.msg);
		return CTL_EX_IOERR;
	}
	o.format = c->json ? REPORT_JSON : c->html ? REPORT_HTML :
	    REPORT_TEXT;
	o.host = c->pol->hostname;
	if ((o.host == NULL || o.host[0] == '\0') &&
	    gethostname(host, sizeof host) == 0) {
		host[sizeof host - 1] = '\0';
		o.host = host;
	}
	report_write(r, &o, &b);
	out_buf(&b);
	buf_free(&b);
	if (r->truncated) {
		fprintf(stderr, "portcullisctl: report: a table was cut at %u "
		    "rows\n", STORE_REPORT_ROWS);
		store_report_free(&r);
		return CTL_EX_LIMIT;
	}
	store_report_free(&r);
	return CTL_EX_OK;
}

/* ---- import ---- */

static int
cmd_import(struct ctl *c)
{
	struct err	err = ERR_INIT, bad_err = ERR_INIT;
	size_t		n = 0, bad = 0;

	if (c->nargs != 0)
		return CTL_EX_USAGE;
	if (quarantine_import(c->pol, &n, &bad, &bad_err, &err) == -1) {
		fprintf(stderr, "portcullisctl: import: %s (%zu imported)\n",
		    err.msg, n);
		return CTL_EX_IOERR;
	}
	printf("imported %zu record%s\n", n, n == 1 ? "" : "s");
	if (bad > 0) {
		fprintf(stderr, "portcullisctl: import: %zu record%s could not "
		    "be read; the first: %s\n", bad, bad == 1 ? "" : "s",
		    bad_err.msg);
		return CTL_EX_IOERR;
	}
	return CTL_EX_OK;
}

/* ---- sync ---- */

static int
cmd_sync(struct ctl *c)
{
	struct err	err = ERR_INIT;
	size_t		msgs = 0, traffic = 0;
	int		rc;

	if (c->nargs != 0)
		return CTL_EX_USAGE;
	if (c->pol->quarantine_database == NULL) {
		fprintf(stderr, "portcullisctl: sync: [quarantine] database "
		    "names no PostgreSQL database\n");
		return CTL_EX_CONFIG;
	}
	rc = quarantine_sync(c->pol, &msgs, &traffic, &err);
	printf("synced %zu record%s and %zu traffic row%s\n", msgs,
	    msgs == 1 ? "" : "s", traffic, traffic == 1 ? "" : "s");
	if (rc == -1) {
		fprintf(stderr, "portcullisctl: sync: %s\n", err.msg);
		return CTL_EX_TEMPFAIL;
	}
	return CTL_EX_OK;
}

/* ---- rescan ---- */

/* The stored disposition (a name), DISP__N when unknown. */
static enum disposition
stored_disposition(const char *name)
{
	int	d;

	for (d = 0; d < DISP__N && name != NULL; d++)
		if (strcmp(name, disposition_str(d)) == 0)
			return d;
	return DISP__N;
}

/* One quarantined message judged again; prints it when it was not
 * delivered then (a copy kept of a tagged or stripped message was) and
 * would be now. 1 = would pass, 0 = would not, -1 = not read or not
 * judged (printed). */
static int
rescan_one(struct ctl *c, const struct replay_judge *j, const char *id)
{
	struct qmeta	*m = NULL;
	struct verdict	*v = NULL;
	struct envelope	 env;
	struct err	 err = ERR_INIT;
	unsigned char	*msg = NULL;
	size_t		 len = 0;
	int		 r = -1;
	const char	*pp = strcmp(c->policy_path, CTL_DEFAULT_POLICY) != 0 ?
			    c->policy_path : NULL;	/* for release */

	if (load_or_fail(c, id, &m, &msg, &len) != CTL_EX_OK)
		return -1;
	replay_envelope_qmeta(m, &env);
	if (replay_judge_message(j, &env, msg, len, &v, &err) == -1)
		fprintf(stderr, "portcullisctl: %s: not judged: %s\n", id,
		    err.msg);
	else if ((r = v->disposition <= DISP_STRIP &&
	    stored_disposition(m->disposition) > DISP_STRIP) == 1)
		printf("%-34s %-10s %s -> %s  portcullisctl%s%s release %s\n",
		    m->id, m->area, str_or(m->disposition, "-"),
		    disposition_str(v->disposition), pp != NULL ?
		    " --policy " : "", pp != NULL ? pp : "", m->id);
	verdict_free(&v);
	free(msg);
	qmeta_free(&m);
	return r;
}

static int
cmd_rescan(struct ctl *c)
{
	struct qmeta		*list = NULL;
	struct replay_judge	 j;
	struct err		 err = ERR_INIT;
	size_t			 n = 0, i, pass = 0, bad = 0;
	const char		*area = c->nargs > 0 ? c->args[0] : NULL;
	int			 r;

	if (c->nargs > 1)
		return CTL_EX_USAGE;
	if (area != NULL && !quarantine_area_ok(area)) {
		fprintf(stderr, "portcullisctl: bad area name\n");
		return CTL_EX_USAGE;
	}
	mime_init();
	if (av_global_init(&err) == -1)
		fprintf(stderr, "portcullisctl: rescan: %s\n", err.msg);
	if (err.msg[0] != '\0' || replay_judge_open(&j, c->pol, NULL, NULL,
	    "portcullisctl rescan", false) == -1) {	/* printed */
		mime_shutdown();
		return CTL_EX_CONFIG;
	}
	if (quarantine_list(c->pol, area, &list, &n, &err) == -1) {
		fprintf(stderr, "portcullisctl: %s\n", err.msg);
		bad = 1;
	}
	for (i = 0; i < n; i++) {
		if ((r = rescan_one(c, &j, list[i].id)) == 1)
			pass++;
		else if (r == -1)
			bad++;
	}
	printf("%zu of %zu quarantined messages would now pass; %zu not "
	    "judged\n", pass, n, bad);
	qmeta_list_free(&list, n);
	replay_judge_close(&j);
	mime_shutdown();
	return bad > 0 ? CTL_EX_IOERR : CTL_EX_OK;
}

/* ---- main ---- */

static const struct command {
	const char	*name;
	int		(*fn)(struct ctl *c);
	const char	*opts;		/* options it accepts: j h r d t s l */
	bool		 index;		/* opens the index first */
} commands[] = {
	{ "list", cmd_list, "jsl", true },
	{ "show", cmd_show, "jr", true },
	{ "release", cmd_release, "ta", true },
	{ "delete", cmd_delete, "", true },
	{ "expire", cmd_expire, "d", false },
	{ "report", cmd_report, "jhd", true },
	{ "import", cmd_import, "", false },
	{ "sync", cmd_sync, "", false },
	{ "rescan", cmd_rescan, "", true },
};

/* --since: "7d", "12h", "30m", "90s", a number of seconds, or a UTC day
 * "YYYY-MM-DD". 0, or -1. */
static int
parse_since(const char *arg, int64_t now, int64_t *since_r)
{
	struct tm	tm;
	char		*end;
	long long	n;
	int64_t		unit = 1;

	memset(&tm, 0, sizeof tm);
	end = strptime(arg, "%Y-%m-%d", &tm);
	if (end != NULL && *end == '\0') {
		*since_r = (int64_t)timegm(&tm);
		return 0;
	}
	n = strtoll(arg, &end, 10);
	if (end == arg || n < 0 || n > 100LL * 366 * 86400)
		return -1;
	if (*end != '\0') {
		if (end[1] != '\0')
			return -1;
		switch (*end) {
		case 'd': unit = 86400; break;
		case 'h': unit = 3600; break;
		case 'm': unit = 60; break;
		case 's': unit = 1; break;
		default: return -1;
		}
	}
	*since_r = now - (int64_t)n * unit;
	return 0;
}

/* Remembers option letter ch in the set used (for the per-command check). */
static void
mark_used(char *used, size_t size, int ch)
{
	size_t	n = strlen(used);

	if (strchr(used, ch) == NULL && n + 1 < size) {
		used[n] = (char)ch;
		used[n + 1] = '\0';
	}
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "policy", required_argument, NULL, 'p' },
		{ "json", no_argument, NULL, 'j' },
		{ "html", no_argument, NULL, 'h' },
		{ "raw", no_argument, NULL, 'r' },
		{ "days", required_argument, NULL, 'd' },
		{ "to", required_argument, NULL, 't' },
		{ "again", no_argument, NULL, 'a' },
		{ "since", required_argument, NULL, 's' },
		{ "limit", required_argument, NULL, 'l' },
		{ "help", no_argument, NULL, 'H' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	const struct command	*cmd = NULL;
	struct ctl		 c;
	const char		*env = getenv("PORTCULLIS_POLICY");
	char			*errors = NULL, *eq, *end, used[16] = "";
	struct err		 err = ERR_INIT;
	size_t			 i;
	int			 ch, st;

	memset(&c, 0, sizeof c);
	c.days = -1;
	c.policy_path = env != NULL && env[0] != '\0' ? env :
	    CTL_DEFAULT_POLICY;
	while ((ch = getopt_long(argc, argv, "p:c:o:", longopts, NULL)) != -1) {
		switch (ch) {
		case 'p':
		case 'c':
			c.policy_path = optarg;
			break;
		case 'o':
			if ((eq = strchr(optarg, '=')) == NULL) {
				fprintf(stderr, "portcullisctl: -o %s: want "
				    "section.key=value\n", optarg);
				goto usage;
			}
			*eq = '\0';
			c.ov = xreallocarray(c.ov, c.nov + 1, sizeof *c.ov);
			c.ov[c.nov].key = optarg;
			c.ov[c.nov++].value = eq + 1;
			break;
		case 'a':
			c.again = true;
			mark_used(used, sizeof used, ch);
			break;
		case 'j':
		case 'h':
		case 'r':
			mark_used(used, sizeof used, ch);
			c.json |= ch == 'j';
			c.html |= ch == 'h';
			c.raw |= ch == 'r';
			break;
		case 'd':
			c.days = strtol(optarg, &end, 10);
			if (*optarg == '\0' || *end != '\0' || c.days < 0 ||
			    c.days > 36500) {
				fprintf(stderr, "portcullisctl: --days: want "
				    "0..36500\n");
				goto usage;
			}
			mark_used(used, sizeof used, 'd');
			break;
		case 's':
			if (parse_since(optarg, (int64_t)time(NULL),
			    &c.since) == -1) {
				fprintf(stderr, "portcullisctl: --since: want "
				    "7d, 12h, 30m, seconds or YYYY-MM-DD\n");
				goto usage;
			}
			mark_used(used, sizeof used, 's');
			break;
		case 'l':
			{
				long long l = strtoll(optarg, &end, 10);

				if (*optarg == '\0' || *end != '\0' || l < 1) {
					fprintf(stderr, "portcullisctl: "
					    "--limit: want a positive number\n");
					goto usage;
				}
				c.limit = (size_t)l;
			}
			mark_used(used, sizeof used, 'l');
			break;
		case 't':
			c.to = xreallocarray(c.to, c.nto + 1, sizeof *c.to);
			c.to[c.nto++] = optarg;
			mark_used(used, sizeof used, 't');
			break;
		case 'H':
			usage(stdout);
			st = CTL_EX_OK;
			goto out;
		case 'V':
			printf("portcullisctl %s\n", PACKAGE_VERSION);
			st = CTL_EX_OK;
			goto out;
		default:
			goto usage;
		}
	}
	if (optind >= argc)
		goto usage;
	for (i = 0; i < sizeof commands / sizeof commands[0]; i++)
		if (strcmp(argv[optind], commands[i].name) == 0)
			cmd = &commands[i];
	if (cmd == NULL) {
		fprintf(stderr, "portcullisctl: unknown command \"%s\"\n",
		    argv[optind]);
		goto usage;
	}
	for (i = 0; used[i] != '\0'; i++)
		if (strchr(cmd->opts, used[i]) == NULL) {
			fprintf(stderr, "portcullisctl: an option given is "
			    "not for \"%s\"\n", cmd->name);
			goto usage;
		}
	c.args = argv + optind + 1;
	c.nargs = argc - optind - 1;
	if (policy_load(c.policy_path, c.ov, c.nov, &c.pol, &errors) == -1) {
		fputs(errors, stderr);
		free(errors);
		st = CTL_EX_CONFIG;
		goto out;
	}
	if (cmd->index && quarantine_open(c.pol, 0, &c.st, &err) == -1) {
		fprintf(stderr, "portcullisctl: %s\n", err.msg);
		policy_unref(&c.pol);
		st = CTL_EX_IOERR;
		goto out;
	}
	st = cmd->fn(&c);
	store_close(&c.st);
	policy_unref(&c.pol);
	if (st == CTL_EX_USAGE)
		goto usage;
	goto out;
usage:
	usage(stderr);
	st = CTL_EX_USAGE;
out:
	free(c.ov);
	free(c.to);
	fflush(stdout);
	return ferror(stdout) ? CTL_EX_IOERR : st;
}
