/*
 * milter/replay.c - judging messages offline (shared by "portcullis scan",
 * "portcullis replay" and "portcullisctl rescan"), and "replay": every
 * message judged under two policies, what changes printed.
 *
 * Sources: a directory (one regular file per message, names sorted; the
 * cur/ and new/ sub-directories of a maildir too), an mbox (split on
 * "From " lines that start the file or follow an empty line), a single
 * message file, or a quarantine area (each record's own envelope). Every
 * read is bounded: a message over the larger of the two policies'
 * message_size is reported, not judged; at most --max messages (default
 * REPLAY_MAX_DEFAULT) are read, and a run cut short says so. A message
 * that cannot be read or judged is reported with the reason and sets the
 * exit status; nothing is skipped silently.
 *
 * Output: text (one block per changed message, then a table of messages
 * by old -> new disposition) or, with --json, one object per line:
 * "change" and "error" objects, then one "summary". Progress goes to
 * stderr once a second on long runs.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "av.h"
#include "cli.h"
#include "magic.h"
#include "quarantine.h"
#include "replay.h"
#include "scan.h"
#include "util.h"
#include "verdict.h"

#define REPLAY_MAX_DEFAULT	100000	/* messages read per run */
#define REPLAY_DIR_MAX		CLI_REPLAY_MAX	/* names kept per directory */
#define REPLAY_LINE		65536	/* mbox read chunk */
#define REPLAY_PROGRESS_MS	1000

/* ---- judging ------------------------------------------------------------ */

/* The policy fields av_engine_load() compiles into an engine. */
static bool
same_engine(const struct policy *a, const char *adir, const struct policy *b,
    const char *bdir)
{
	return adir != NULL && bdir != NULL && strcmp(adir, bdir) == 0 &&
	    a->av_max_scansize == b->av_max_scansize &&
	    a->av_max_filesize == b->av_max_filesize &&
	    a->av_max_recursion == b->av_max_recursion &&
	    a->av_max_files == b->av_max_files &&
	    a->scan_time_ms == b->scan_time_ms &&
	    a->av_heuristics == b->av_heuristics &&
	    a->max_scans == b->max_scans &&
	    ((a->av_temp_dir == NULL && b->av_temp_dir == NULL) ||
	    (a->av_temp_dir != NULL && b->av_temp_dir != NULL &&
	    strcmp(a->av_temp_dir, b->av_temp_dir) == 0));
}

static const char *
judge_sigdir(const struct replay_judge *j, const char *sigdir)
{
	return sigdir != NULL ? sigdir : j->pol->av_database;
}

int
replay_judge_open(struct replay_judge *j, const struct policy *pol,
    const char *sigdir, const struct replay_judge *share, const char *who,
    bool explain)
{
	struct err	err = ERR_INIT;
	const char	*dir;

	memset(j, 0, sizeof *j);
	j->pol = pol;
	if (typer_new(&j->typer, &err) == -1) {
		fprintf(stderr, "%s: %s\n", who, err.msg);
		return -1;
	}
	j->deps.typer = j->typer;
	j->deps.explain = explain;
	if (!pol->av_enabled)
		return 0;
	dir = judge_sigdir(j, sigdir);
	if (share != NULL && share->eng != NULL && share->pol->av_enabled &&
	    same_engine(pol, dir, share->pol, judge_sigdir(share, sigdir)))
		j->eng = av_engine_ref(share->eng);
	else if (dir == NULL || av_engine_load(pol, dir, &j->eng, &err) == -1) {
		fprintf(stderr, "%s: signatures: %s (messages will get the "
		    "\"error\" rule)\n", who, dir != NULL ? err.msg :
		    "[antivirus] database not set");
		return 0;
	}
	j->deps.av_scan = av_engine_scan;
	j->deps.av_ctx = j->eng;
	j->deps.av_db_time = av_engine_db_time(j->eng);
	j->deps.av_db_version = av_engine_db_version(j->eng);
	return 0;
}

void
replay_judge_close(struct replay_judge *j)
{
	av_engine_unref(&j->eng);
	typer_free(&j->typer);
	memset(&j->deps, 0, sizeof j->deps);
}

size_t
replay_from_line(const unsigned char *msg, size_t len)
{
	const unsigned char	*nl;

	if (len <= 5 || memcmp(msg, "From ", 5) != 0)
		return 0;
	nl = memchr(msg, '\n', len);
	return nl != NULL ? (size_t)(nl + 1 - msg) : 0;
}

int
replay_judge_message(const struct replay_judge *j, const struct envelope *env,
    const unsigned char *msg, size_t len, struct verdict **v_r,
    struct err *err)
{
	size_t	skip = replay_from_line(msg, len);

	if (scan_message(j->pol, &j->deps, env, msg + skip, len - skip, v_r,
	    err) == -1) {
		*v_r = scan_error_verdict(j->pol, env, err->msg);
		return -1;
	}
	return 0;
}

void
replay_envelope_opts(const struct cli_opts *o, struct envelope *env)
{
	static const char *const	rcpt[] = { "postmaster@localhost" };

	memset(env, 0, sizeof *env);
	env->sender = o->sender;
	env->rcpts = o->rcpt != NULL ? &o->rcpt : rcpt;	/* scan --rcpt */
	env->nrcpts = 1;
	env->client_addr = o->client;
	env->direction = o->direction;
}

void
replay_envelope_qmeta(const struct qmeta *m, struct envelope *env)
{
	memset(env, 0, sizeof *env);
	env->sender = m->sender;
	env->rcpts = (const char *const *)m->rcpts;
	env->nrcpts = m->nrcpts;
	env->client_addr = m->client;
	env->auth_user = m->auth_user;
	env->queue_id = m->queue_id;
	env->direction = -1;
	if (m->direction != NULL && strcmp(m->direction, "inbound") == 0)
		env->direction = DIR_INBOUND;
	else if (m->direction != NULL && strcmp(m->direction, "outbound") == 0)
		env->direction = DIR_OUTBOUND;
}

/* ---- replay ------------------------------------------------------------- */

struct replay {
	const struct cli_opts	*o;
	const char		*new_path, *old_path;
	struct policy		*newp, *oldp;
	struct replay_judge	 jn, jo;
	uint64_t		 max_size;	/* larger message_size */
	size_t			 max;		/* messages to read */
	size_t			 seen;		/* messages met */
	size_t			 judged, changed, unread, failed;
	bool			 cut;		/* stopped at max */
	size_t			 count[DISP__N][DISP__N];
	uint64_t		 start, last;	/* ms, for progress */
	struct buf		 out;
};

static void
replay_flush(struct replay *r)
{
	if (r->out.len > 0)
		fwrite(r->out.data, 1, r->out.len, stdout);
	buf_reset(&r->out);
}

static void
replay_progress(struct replay *r)
{
	uint64_t	now = clock_ms();

	if (now - r->last < REPLAY_PROGRESS_MS)
		return;
	r->last = now;
	fprintf(stderr, "portcullis replay: %zu messages read, %zu changed, "
	    "%zu not judged, %llu s\n", r->seen, r->changed,
	    r->unread + r->failed, (unsigned long long)(now - r->start) / 1000);
}

/* False (and r->cut) once max messages were read: stop reading. */
static bool
replay_more(struct replay *r)
{
	if (r->seen < r->max)
		return true;
	r->cut = true;
	return false;
}

/* A message not judged: label and why, on stdout with the changes. */
static void
replay_error(struct replay *r, const char *label, const char *why)
{
	char	*l = str_sanitise(label, 512);

	if (r->o->json) {
		buf_puts(&r->out, "{\"type\":\"error\",\"file\":");
		buf_json_str(&r->out, label);
		buf_puts(&r->out, ",\"reason\":");
		buf_json_str(&r->out, why);
		buf_puts(&r->out, "}\n");
	} else
		buf_printf(&r->out, "NOT JUDGED %s: %s\n", l, why);
	free(l);
	replay_flush(r);
}

static bool
finding_eq(const struct finding *a, const struct finding *b)
{
	return a->rule == b->rule && strcmp(a->part, b->part) == 0 &&
	    ((a->filename == NULL && b->filename == NULL) ||
	    (a->filename != NULL && b->filename != NULL &&
	    strcmp(a->filename, b->filename) == 0)) &&
	    strcmp(a->detail != NULL ? a->detail : "",
	    b->detail != NULL ? b->detail : "") == 0 &&
	    strcmp(a->action != NULL ? a->action->name : "",
	    b->action != NULL ? b->action->name : "") == 0;
}

static bool
finding_in(const struct finding *f, const struct verdict *v)
{
	size_t	i;

	for (i = 0; i < v->nfindings; i++)
		if (finding_eq(f, &v->findings[i]))
			return true;
	return false;
}

/* Appends the findings of a missing from b, as text lines or a JSON array
 * (the same fields verdict_json() writes). Returns how many. */
static size_t
finding_diff(const struct verdict *a, const struct verdict *b, char sign,
    bool json, struct buf *out)
{
	size_t	i, n = 0;

	if (json)
		buf_puts(out, "[");
	for (i = 0; i < a->nfindings; i++) {
		const struct finding	*f = &a->findings[i];
		char			*s;

		if (finding_in(f, b))
			continue;
		if (json) {
			buf_puts(out, n == 0 ? "{\"rule\":" : ",{\"rule\":");
			buf_json_str(out, rule_str(f->rule));
			buf_puts(out, ",\"part\":");
			buf_json_str(out, f->part);
			buf_puts(out, ",\"filename\":");
			if (f->filename != NULL)
				buf_json_str(out, f->filename);
			else
				buf_puts(out, "null");
			buf_puts(out, ",\"detail\":");
			buf_json_str(out, f->detail);
			buf_puts(out, ",\"action\":");
			buf_json_str(out, f->action != NULL ?
			    f->action->name : "");
			buf_puts(out, "}");
		} else {
			s = str_sanitise(f->part, 200);
			buf_printf(out, "  %c %s part=%s", sign,
			    rule_str(f->rule), s);
			free(s);
			if (f->filename != NULL) {
				s = str_sanitise(f->filename, 200);
				buf_printf(out, " file=\"%s\"", s);
				free(s);
			}
			if (f->detail != NULL && f->detail[0] != '\0') {
				s = str_sanitise(f->detail, 200);
				buf_printf(out, " detail=\"%s\"", s);
				free(s);
			}
			buf_printf(out, " action=%s\n", f->action != NULL ?
			    f->action->name : "-");
		}
		n++;
	}
	if (json)
		buf_puts(out, "]");
	return n;
}

static void
replay_change(struct replay *r, const char *label, const struct verdict *vo,
    const struct verdict *vn)
{
	struct buf	 d = BUF_INIT;
	char		*l;
	size_t		 n;

	n = finding_diff(vo, vn, '-', false, &d);
	n += finding_diff(vn, vo, '+', false, &d);
	if (n == 0 && vo->disposition == vn->disposition) {
		buf_free(&d);
		return;
	}
	r->changed++;
	if (r->o->json) {
		buf_puts(&r->out, "{\"type\":\"change\",\"file\":");
		buf_json_str(&r->out, label);
		buf_puts(&r->out, ",\"old\":");
		verdict_json(vo, label, &r->out);
		buf_puts(&r->out, ",\"new\":");
		verdict_json(vn, label, &r->out);
		buf_puts(&r->out, ",\"removed\":");
		(void)finding_diff(vo, vn, '-', true, &r->out);
		buf_puts(&r->out, ",\"added\":");
		(void)finding_diff(vn, vo, '+', true, &r->out);
		buf_puts(&r->out, "}\n");
	} else {
		l = str_sanitise(label, 512);
		buf_printf(&r->out, "%s -> %s  %s\n",
		    disposition_str(vo->disposition),
		    disposition_str(vn->disposition), l);
		buf_append(&r->out, d.data, d.len);
		free(l);
	}
	buf_free(&d);
	replay_flush(r);
}

/* Judges one message (borrowed) under both policies. */
static void
replay_one(struct replay *r, const char *label, const struct envelope *env,
    const unsigned char *msg, size_t len)
{
	struct verdict	*vo = NULL, *vn = NULL;
	struct err	 err = ERR_INIT;
	char		*why;

	if (replay_judge_message(&r->jo, env, msg, len, &vo, &err) == -1 ||
	    replay_judge_message(&r->jn, env, msg, len, &vn, &err) == -1) {
		why = xasprintf("could not be judged: %s", err.msg);
		replay_error(r, label, why);
		free(why);
		r->failed++;
	} else {
		r->judged++;
		r->count[vo->disposition][vn->disposition]++;
		replay_change(r, label, vo, vn);
	}
	verdict_free(&vo);
	verdict_free(&vn);
	replay_progress(r);
}

static void
replay_too_big(struct replay *r, const char *label)
{
	char	*why = xasprintf("over message_size (%llu bytes), not judged",
		    (unsigned long long)r->max_size);

	replay_error(r, label, why);
	free(why);
	r->unread++;
}

/* Reads one message file, bounded by r->max_size. */
static void
replay_file(struct replay *r, const char *path)
{
	struct envelope	 env;
	struct buf	 msg = BUF_INIT;
	char		 chunk[65536];
	FILE		*fp;
	size_t		 n;

	r->seen++;
	if ((fp = fopen(path, "rb")) == NULL) {
		replay_error(r, path, strerror(errno));
		r->unread++;
		return;
	}
	while ((n = fread(chunk, 1, sizeof chunk, fp)) > 0 &&
	    msg.len <= r->max_size)
		buf_append(&msg, chunk, n);
	if (ferror(fp)) {
		replay_error(r, path, strerror(errno != 0 ? errno : EIO));
		r->unread++;
	} else if (msg.len > r->max_size + replay_from_line(msg.data, msg.len))
		replay_too_big(r, path);
	else {
		replay_envelope_opts(r->o, &env);
		replay_one(r, path, &env, msg.data, msg.len);
	}
	fclose(fp);
	buf_free(&msg);
}

static size_t	read_line(FILE *fp, char *line, size_t size);

/*
 * An mbox: a message starts at a "From " line that opens the file or
 * follows an empty line; the empty line before it is the separator.
 * Lines are read in REPLAY_LINE pieces, so a line of any length is
 * bounded; a message over max_size is dropped as it grows.
 */
static void
replay_mbox(struct replay *r, const char *path, FILE *fp)
{
	struct envelope	 env;
	struct buf	 msg = BUF_INIT;
	char		 line[REPLAY_LINE], *label = NULL;
	size_t		 n, no = 0;
	bool		 bol = true, blank = true, big = false, in = false;
	bool		 fromline = false;	/* in a long From line */

	replay_envelope_opts(r->o, &env);
	for (;;) {
		bool	got = (n = read_line(fp, line, sizeof line)) > 0;
		bool	from = got && bol && blank && n >= 5 &&
			    memcmp(line, "From ", 5) == 0;

		if (!got || from) {
			if (in && big)
				replay_too_big(r, label);
			else if (in) {
				/* the empty line before "From " */
				if (from && msg.len >= 2 &&
				    msg.data[msg.len - 2] == '\r')
					msg.len -= 2;
				else if (from && msg.len >= 1)
					msg.len--;
				replay_one(r, label, &env, msg.data, msg.len);
			}
			free(label);
			label = NULL;
			buf_reset(&msg);
			in = big = false;
			if (!got || !replay_more(r))
				break;
			label = xasprintf("%s#%zu", path, ++no);
			r->seen++;
			in = true;
		}
		if (from)
			fromline = true;
		if (!fromline && !big) {
			if (msg.len + n > r->max_size) {
				big = true;
				buf_free(&msg);
			} else
				buf_append(&msg, line, n);
		}
		blank = bol && ((n == 1 && line[0] == '\n') ||
		    (n == 2 && line[0] == '\r' && line[1] == '\n'));
		bol = n > 0 && line[n - 1] == '\n';
		if (bol)
			fromline = false;
	}
	if (ferror(fp)) {
		char *why = xasprintf("read error after message %zu: %s", no,
		    strerror(errno != 0 ? errno : EIO));

		replay_error(r, path, why);
		free(why);
		r->unread++;
	}
	free(label);
	buf_free(&msg);
}

/* One line, or the first size bytes of a longer one (NUL bytes kept).
 * The bytes read; 0 at the end of the file or on an error. */
static size_t
read_line(FILE *fp, char *line, size_t size)
{
	size_t	n = 0;
	int	c;

	while (n < size && (c = getc(fp)) != EOF) {
		line[n++] = (char)c;
		if (c == '\n')
			break;
	}
	return n;
}

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void replay_path(struct replay *r, const char *path, int depth);

/* Each regular file of dir, names sorted; the maildir sub-directories cur
 * and new are read too (one level); dot files and others are not. */
static void
replay_dir(struct replay *r, const char *dir, int depth)
{
	DIR		*d;
	struct dirent	*de;
	char		**names = NULL, *p;
	size_t		 n = 0, i, limit = r->max - r->seen + 1;
	struct stat	 st;

	if ((d = opendir(dir)) == NULL) {
		replay_error(r, dir, strerror(errno));
		r->unread++;
		return;
	}
	while ((de = readdir(d)) != NULL && n < limit && n < REPLAY_DIR_MAX) {
		if (de->d_name[0] == '.')
			continue;
		p = xasprintf("%s/%s", dir, de->d_name);
		if (stat(p, &st) == 0 && S_ISDIR(st.st_mode) && (depth > 0 ||
		    (strcmp(de->d_name, "cur") != 0 &&
		    strcmp(de->d_name, "new") != 0))) {
			free(p);
			continue;
		}
		names = xreallocarray(names, n + 1, sizeof *names);
		names[n++] = p;
	}
	closedir(d);
	qsort(names, n, sizeof *names, name_cmp);
	for (i = 0; i < n && replay_more(r); i++)
		replay_path(r, names[i], depth + 1);
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

/* A directory, an mbox or one message file. */
static void
replay_path(struct replay *r, const char *path, int depth)
{
	struct stat	 st;
	FILE		*fp;
	char		 head[5];

	if (!replay_more(r))
		return;
	if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
		replay_dir(r, path, depth);
		return;
	}
	if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
		r->seen++;
		replay_error(r, path, "not a regular file");
		r->unread++;
		return;
	}
	/* A file that opens with "From " given by name is an mbox; in a
	 * directory it is one message saved from a mailbox. */
	if (depth == 0 && (fp = fopen(path, "rb")) != NULL) {
		if (fread(head, 1, 5, fp) == 5 &&
		    memcmp(head, "From ", 5) == 0) {
			rewind(fp);
			replay_mbox(r, path, fp);
			fclose(fp);
			return;
		}
		fclose(fp);
	}
	replay_file(r, path);
}

static void
replay_quarantine(struct replay *r, const char *area)
{
	struct qmeta		*list = NULL, *m = NULL;
	struct err		 err = ERR_INIT;
	struct envelope		 env;
	unsigned char		*msg = NULL;
	size_t			 n = 0, i, len;
	enum quar_status	 qs;

	if (!quarantine_area_ok(area)) {
		replay_error(r, area, "not a quarantine area name");
		r->unread++;
		return;
	}
	if (quarantine_list(r->oldp, area, &list, &n, &err) == -1) {
		replay_error(r, area, err.msg);
		r->unread++;
		return;
	}
	for (i = 0; i < n && replay_more(r); i++) {
		r->seen++;
		qs = quarantine_load(r->oldp, list[i].id, &m, &msg, &len,
		    &err);
		if (qs != QUAR_OK) {
			replay_error(r, list[i].id, qs == QUAR_NOTFOUND ?
			    "gone from the quarantine" : err.msg);
			r->unread++;
			continue;
		}
		if (len > r->max_size)
			replay_too_big(r, m->id);
		else {
			replay_envelope_qmeta(m, &env);
			replay_one(r, m->id, &env, msg, len);
		}
		free(msg);
		msg = NULL;
		qmeta_free(&m);
	}
	qmeta_list_free(&list, n);
}

static void
replay_summary(struct replay *r)
{
	char		*pn = str_sanitise(r->new_path, 256);
	char		*po = str_sanitise(r->old_path, 256);
	size_t		 a, b;
	bool		 first = true;

	if (r->o->json) {
		buf_puts(&r->out, "{\"type\":\"summary\",\"policy\":");
		buf_json_str(&r->out, r->new_path);
		buf_puts(&r->out, ",\"against\":");
		buf_json_str(&r->out, r->old_path);
		buf_printf(&r->out, ",\"read\":%zu,\"judged\":%zu,"
		    "\"changed\":%zu,\"not_judged\":%zu,\"stopped_at_max\":%s,"
		    "\"transitions\":[", r->seen, r->judged, r->changed,
		    r->unread + r->failed, r->cut ? "true" : "false");
		for (a = 0; a < DISP__N; a++)
			for (b = 0; b < DISP__N; b++) {
				if (r->count[a][b] == 0)
					continue;
				buf_printf(&r->out, "%s{\"old\":\"%s\","
				    "\"new\":\"%s\",\"messages\":%zu}",
				    first ? "" : ",", disposition_str(a),
				    disposition_str(b), r->count[a][b]);
				first = false;
			}
		buf_puts(&r->out, "]}\n");
	} else {
		buf_printf(&r->out, "\n%-10s %-10s %10s\n", "OLD", "NEW",
		    "MESSAGES");
		for (a = 0; a < DISP__N; a++)
			for (b = 0; b < DISP__N; b++)
				if (r->count[a][b] != 0)
					buf_printf(&r->out, "%-10s %-10s "
					    "%10zu%s\n", disposition_str(a),
					    disposition_str(b), r->count[a][b],
					    a != b ? "  changed" : "");
		buf_printf(&r->out, "\n%zu messages read, %zu judged, %zu "
		    "changed, %zu not judged (policy %s against %s)\n",
		    r->seen, r->judged, r->changed, r->unread + r->failed, pn,
		    po);
		if (r->cut)
			buf_printf(&r->out, "stopped after %zu messages "
			    "(--max): the rest was not read\n", r->max);
	}
	free(pn);
	free(po);
	replay_flush(r);
}

int
replay_run(const struct cli_opts *o)
{
	struct replay	 r;
	char		*errors = NULL;
	int		 i, st = CLI_EX_OK;

	memset(&r, 0, sizeof r);
	r.o = o;
	r.new_path = o->policy != NULL ? o->policy : CLI_DEFAULT_POLICY;
	r.old_path = o->against != NULL ? o->against : CLI_DEFAULT_POLICY;
	r.max = o->max_messages != 0 ? o->max_messages : REPLAY_MAX_DEFAULT;
	/* -o changes the new policy only: the old one is as installed. */
	if (policy_load(r.new_path, o->ov, o->nov, &r.newp, &errors) == -1 ||
	    policy_load(r.old_path, NULL, 0, &r.oldp, &errors) == -1) {
		fputs(errors, stderr);
		free(errors);
		policy_unref(&r.newp);
		return CLI_EX_CONFIG;
	}
	if (replay_judge_open(&r.jo, r.oldp, o->signatures, NULL,
	    "portcullis replay (old policy)", false) == -1 ||
	    replay_judge_open(&r.jn, r.newp, o->signatures, &r.jo,
	    "portcullis replay (new policy)", false) == -1) {
		st = CLI_EX_SOFTWARE;
		goto out;
	}
	r.max_size = r.oldp->message_size > r.newp->message_size ?
	    r.oldp->message_size : r.newp->message_size;
	r.start = r.last = clock_ms();
	if (o->quarantine != NULL)
		replay_quarantine(&r, o->quarantine);
	for (i = 0; i < o->nfiles; i++)
		replay_path(&r, o->files[i], 0);
	replay_summary(&r);
	if (r.failed > 0)
		st = CLI_EX_SOFTWARE;
	else if (r.unread > 0 || r.cut)
		st = CLI_EX_NOINPUT;
out:
	replay_judge_close(&r.jn);
	replay_judge_close(&r.jo);
	buf_free(&r.out);
	policy_unref(&r.newp);
	policy_unref(&r.oldp);
	return st;
}
