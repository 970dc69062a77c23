/*
 * test/unit/test-store-pg.c - the PostgreSQL store (store/store-pg.c)
 * through the store interface, against a real server started here
 * (test/pg.sh: a private directory, a unix socket, no TCP): records,
 * bodies, listing in pages, release, delete, expire, traffic, the same
 * report as SQLite's from the same rows; and the quarantine on top of it
 * (store/quarantine.c): the database down means the node's own index
 * keeps the message, and sync copies it over once, however often it runs.
 * And on both backends (SQLite too): a release happens once, however many
 * connections and processes claim the record at the same moment.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "quarantine.h"
#include "report.h"
#include "t.h"

static char	pg_dir[4096];		/* the server's directory */
static char	conninfo[4096];

/* Starts (or restarts) the private server; false when it cannot. */
static bool
pg_start(void)
{
	char	cmd[8192], line[4096];
	FILE	*fp;
	bool	ok = false;

	snprintf(cmd, sizeof cmd, "%s/test/pg.sh start %s", t_srcdir(),
	    pg_dir);
	if ((fp = popen(cmd, "r")) == NULL)
		return false;
	if (fgets(line, sizeof line, fp) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		snprintf(conninfo, sizeof conninfo, "%s", line);
		ok = true;
	}
	return pclose(fp) == 0 && ok;
}

static bool
pg_stop(void)
{
	return t_sh("%s/test/pg.sh stop %s", t_srcdir(), pg_dir) == 0;
}

/* A fresh database for a case (every table dropped). */
static bool
pg_clean(struct t *t)
{
	if (!t_check(t, conninfo[0] != '\0', "no PostgreSQL server"))
		return false;
	return t_check(t, t_sh("psql -q -X -v ON_ERROR_STOP=1 '%s' -c "
	    "'DROP SCHEMA public CASCADE; CREATE SCHEMA public' "
	    ">/dev/null 2>&1", conninfo) == 0, "cannot empty the database");
}

/* Runs a query with psql; its one value in out ("" on failure). */
static void
pg_value(const char *sql, char *out, size_t len)
{
	char	cmd[8192];
	FILE	*fp;

	out[0] = '\0';
	snprintf(cmd, sizeof cmd, "psql -X -A -t '%s' -c \"%s\" 2>&1",
	    conninfo, sql);
	if ((fp = popen(cmd, "r")) == NULL)
		return;
	if (fgets(out, (int)len, fp) == NULL)
		out[0] = '\0';
	out[strcspn(out, "\n")] = '\0';
	pclose(fp);
}

static struct policy *
load_policy(struct t *t, const char *extra)
{
	struct policy	*pol = NULL;
	char		*errs = NULL, *text;

	text = xasprintf("[quarantine]\ndirectory = %s/q\n%s",
	    t_tmpdir(t), extra != NULL ? extra : "");
	if (policy_load_string(text, "t.ini", NULL, 0, &pol, &errs) == -1) {
		t_error(t, "policy: %s", errs);
		free(errs);
		pol = NULL;
	}
	free(text);
	return pol;
}

static struct qfinding	f_virus = { "virus", "1.2", "eicar.com", "Eicar",
			    "quarantine-virus" };
static struct qfinding	f_block[2] = {
	{ "blocked_extension", "1.3", "x.exe", ".exe", "block" },
	{ "blocked_type", "1.3", "x.exe", "application/x-dosexec", "block" },
};
static char	*rcpts2[] = { "bob@example.com", "carol@example.com" };

/* Record i of a fixed set (id, times, areas and findings vary). */
static void
record(struct qmeta *m, size_t i, char *id, size_t idlen, int64_t t0)
{
	memset(m, 0, sizeof *m);
	snprintf(id, idlen, "20240101T000000Z-%016zx", i);
	m->id = id;
	m->area = i % 3 == 0 ? "attachment" : "virus";
	m->node = i % 2 ? "mx-b" : "mx-a";
	m->time = t0 - (int64_t)(i % 5) * 86400 + (int64_t)i;
	m->queue_id = i % 4 ? "4QID" : NULL;
	m->sender = i % 2 ? "alice@example.net" : "";
	m->rcpts = rcpts2;
	m->nrcpts = i % 2 ? 2 : 1;
	m->client = "192.0.2.7";
	m->direction = "inbound";
	m->findings = i % 3 == 0 ? f_block : &f_virus;
	m->nfindings = i % 3 == 0 ? 2 : 1;
	m->action = "quarantine";
	m->disposition = "reject";
	m->summary = "s'um\"mary; --";
	m->size = 1000 + i;
	m->policy_version = 7;
	m->policy_source = "/etc/p.ini";
}

static const char *
str_or_null(const char *s)
{
	return s != NULL ? s : "(null)";
}

static bool
str_eq(const char *a, const char *b)
{
	return (a == NULL && b == NULL) || (a != NULL && b != NULL &&
	    strcmp(a, b) == 0);
}

/* Compares two records field by field; false after a t_error. */
static bool
meta_same(struct t *t, const struct qmeta *a, const struct qmeta *b)
{
	size_t	i;

#define SAME_STR(f) if (!str_eq(a->f, b->f)) { \
		t_error(t, "%s: " #f " got \"%s\", want \"%s\"", a->id, \
		    b->f != NULL ? b->f : "(null)", \
		    a->f != NULL ? a->f : "(null)"); \
		return false; }
#define SAME_NUM(f) if (a->f != b->f) { \
		t_error(t, "%s: " #f " got %lld, want %lld", a->id, \
		    (long long)b->f, (long long)a->f); \
		return false; }
	SAME_STR(id) SAME_STR(area) SAME_STR(node) SAME_NUM(time)
	SAME_STR(queue_id) SAME_STR(sender) SAME_NUM(nrcpts)
	SAME_STR(client) SAME_STR(auth_user) SAME_STR(direction)
	SAME_NUM(nfindings) SAME_STR(action) SAME_STR(disposition)
	SAME_STR(summary) SAME_NUM(size) SAME_NUM(policy_version)
	SAME_STR(policy_source) SAME_NUM(released_time) SAME_STR(released_by)
	for (i = 0; i < a->nrcpts; i++)
		SAME_STR(rcpts[i])
	for (i = 0; i < a->nfindings; i++) {
		SAME_STR(findings[i].rule) SAME_STR(findings[i].part)
		SAME_STR(findings[i].filename) SAME_STR(findings[i].detail)
		SAME_STR(findings[i].action)
	}
#undef SAME_STR
#undef SAME_NUM
	return true;
}

struct collect {
	char	ids[64][40];
	size_t	n;
};

static int
collect_cb(void *ctx, const struct qmeta *m, struct err *err)
{
	struct collect	*c = ctx;

	(void)err;
	if (c->n < 64)
		snprintf(c->ids[c->n++], sizeof c->ids[0], "%s", m->id);
	return 0;
}

/* ---- the store ---- */

static void
pg_records(struct t *t)
{
	struct store		*st = NULL;
	struct qmeta		 m[12], *got = NULL;
	struct store_query	 q;
	struct collect		 c;
	struct err		 err = ERR_INIT;
	unsigned char		 body[300], *p = NULL;
	char			 ids[12][40], v[64];
	int64_t			 t0 = 1704067200;
	size_t			 i, n, len;
	bool			 more, used;

	if (!pg_clean(t))
		return;
	/* A read-only open of an empty database: nothing to read yet. */
	t_check(t, store_open_pg(conninfo, STORE_READONLY, &st, &err) == -1 &&
	    strstr(err.msg, "schema") != NULL, "read-only open of an empty "
	    "database: got \"%s\", want a schema error", err.msg);
	if (!t_check(t, store_open_pg(conninfo, STORE_CREATE, &st, &err) == 0,
	    "open: %s", err.msg))
		return;
	t_check(t, store_is_shared(st), "PostgreSQL store not shared");
	for (i = 0; i < sizeof body; i++)
		body[i] = (unsigned char)(i * 7);	/* NULs, high bytes */
	for (i = 0; i < 12; i++) {
		record(&m[i], i, ids[i], sizeof ids[i], t0);
		t_check(t, store_put_body(st, &m[i], i == 1 ? body : NULL,
		    sizeof body, 0, &err) == 0, "put %zu: %s", i, err.msg);
	}
	/* Every field back, binary body intact. */
	for (i = 0; i < 12; i++) {
		if (t_check(t, store_get(st, ids[i], &got, &err) == QUAR_OK,
		    "get %zu: %s", i, err.msg))
			meta_same(t, &m[i], got);
		qmeta_free(&got);
	}
	t_check(t, store_get_body(st, ids[1], &p, &len, &err) == QUAR_OK &&
	    len == sizeof body && memcmp(p, body, len) == 0,
	    "body: got %zu bytes, want %zu the same", len, sizeof body);
	free(p);
	t_check(t, store_get_body(st, ids[2], &p, &len, &err) ==
	    QUAR_NOTFOUND, "a record without body: want not found");
	free(p);
	t_check(t, store_get(st, "20990101T000000Z-0000000000000000", &got,
	    &err) == QUAR_NOTFOUND, "unknown ID: want not found");

	/* Lists: time order, an area, a limit at N and N + 1. */
	memset(&q, 0, sizeof q);
	memset(&c, 0, sizeof c);
	t_check(t, store_list(st, &q, collect_cb, &c, &n, &more, &err) == 0 &&
	    n == 12 && !more, "list: got %zu (more %d), want 12", n, more);
	for (i = 1; i < c.n; i++) {
		struct qmeta *a = NULL, *b = NULL;

		if (store_get(st, c.ids[i - 1], &a, &err) == QUAR_OK &&
		    store_get(st, c.ids[i], &b, &err) == QUAR_OK)
			t_check(t, a->time < b->time || (a->time == b->time &&
			    strcmp(a->id, b->id) < 0), "list order: %s "
			    "before %s", a->id, b->id);
		qmeta_free(&a);
		qmeta_free(&b);
	}
	q.area = "attachment";
	memset(&c, 0, sizeof c);
	t_check(t, store_list(st, &q, collect_cb, &c, &n, &more, &err) == 0 &&
	    n == 4, "list attachment: got %zu, want 4", n);
	q.area = NULL;
	q.limit = 12;
	t_check(t, store_list(st, &q, collect_cb, &c, &n, &more, &err) == 0 &&
	    n == 12 && !more, "limit 12 of 12: got %zu more %d", n, more);
	q.limit = 11;
	t_check(t, store_list(st, &q, collect_cb, &c, &n, &more, &err) == 0 &&
	    n == 11 && more, "limit 11 of 12: got %zu more %d", n, more);
	q.limit = 0;
	q.since = t0 - 86400 + 1;
	t_check(t, store_list(st, &q, collect_cb, &c, &n, &more, &err) == 0 &&
	    n == 6, "since: got %zu, want 6", n);

	t_check(t, store_area_used(st, "virus", &used, &err) == 0 && used &&
	    store_area_used(st, "spam", &used, &err) == 0 && !used,
	    "area_used");
	/* Release, replace (children replaced too), delete. */
	t_check(t, store_set_released(st, ids[3], t0 + 5, "admin", &err) ==
	    QUAR_OK && store_get(st, ids[3], &got, &err) == QUAR_OK &&
	    got->released_time == t0 + 5 && str_eq(got->released_by, "admin"),
	    "released: %s", err.msg);
	qmeta_free(&got);
	m[4].nrcpts = 1;
	m[4].summary = "replaced";
	t_check(t, store_put(st, &m[4], &err) == 0 &&
	    store_get(st, ids[4], &got, &err) == QUAR_OK &&
	    got->nrcpts == 1 && str_eq(got->summary, "replaced"),
	    "replace: %s", err.msg);
	qmeta_free(&got);
	/* Kept: a second copy changes nothing. */
	m[5].summary = "second copy";
	t_check(t, store_put_body(st, &m[5], body, 10, STORE_PUT_KEEP,
	    &err) == 0 && store_get(st, ids[5], &got, &err) == QUAR_OK &&
	    str_eq(got->summary, m[0].summary), "keep: got \"%s\"",
	    got != NULL ? got->summary : err.msg);
	qmeta_free(&got);
	pg_value("SELECT count(*) FROM body", v, sizeof v);
	t_check(t, strcmp(v, "1") == 0, "bodies: got %s, want 1", v);
	t_check(t, store_delete(st, ids[1], &err) == QUAR_OK &&
	    store_delete(st, ids[1], &err) == QUAR_NOTFOUND,
	    "delete twice: %s", err.msg);
	pg_value("SELECT count(*) FROM body", v, sizeof v);
	t_check(t, strcmp(v, "0") == 0, "body of a deleted record: got %s "
	    "rows, want 0", v);
	pg_value("SELECT count(*) FROM recipient WHERE id = "
	    "'20240101T000000Z-0000000000000001'", v, sizeof v);
	t_check(t, strcmp(v, "0") == 0, "recipients of a deleted record: "
	    "got %s, want 0", v);
	store_close(&st);
	/* A second open finds the schema made (no migration again). */
	t_check(t, store_open_pg(conninfo, STORE_READONLY, &st, &err) == 0,
	    "reopen read-only: %s", err.msg);
	pg_value("SELECT version FROM schema_version", v, sizeof v);
	t_check(t, atoi(v) == STORE_PG_SCHEMA_VERSION, "schema version %s, "
	    "want %d", v, STORE_PG_SCHEMA_VERSION);
	store_close(&st);
}

static int
expire_keep_odd(void *ctx, const struct qmeta *m, struct err *err)
{
	size_t	*calls = ctx;

	(void)err;
	(*calls)++;
	return m->id[strlen(m->id) - 1] == '1' ? 1 : 0;	/* keep ...1 */
}

static void
pg_expire(struct t *t)
{
	struct store	*st = NULL;
	struct qmeta	 m;
	struct err	 err = ERR_INIT;
	char		 id[40], v[64], want[32];
	size_t		 i, n = 0, calls = 0, kept = 0;

	if (!pg_clean(t) || !t_check(t, store_open_pg(conninfo, STORE_CREATE,
	    &st, &err) == 0, "open: %s", err.msg))
		return;
	/* 2500 old records: more than one page of the expiry's reads. */
	t_check(t, store_begin(st, &err) == 0, "begin: %s", err.msg);
	for (i = 0; i < 2500; i++) {
		record(&m, i, id, sizeof id, 1000000 + (int64_t)i * 10);
		m.time = 1000000 + (int64_t)i;
		kept += id[strlen(id) - 1] == '1';
		if (store_put(st, &m, &err) == -1)
			break;
	}
	t_check(t, i == 2500 && store_commit(st, &err) == 0, "puts: %s",
	    err.msg);
	record(&m, 9999, id, sizeof id, 2000000000);
	t_check(t, store_put(st, &m, &err) == 0, "new: %s", err.msg);
	t_check(t, store_expire(st, 1000000 + 2500, expire_keep_odd, &calls,
	    &n, &err) == 0, "expire: %s", err.msg);
	t_check(t, calls == 2500 && n == 2500 - kept, "expire: %zu calls, %zu "
	    "removed; want 2500, %zu", calls, n, 2500 - kept);
	pg_value("SELECT count(*) FROM message", v, sizeof v);
	snprintf(want, sizeof want, "%zu", kept + 1);
	t_check(t, strcmp(v, want) == 0, "left: got %s, want %s", v, want);
	store_close(&st);
}

/* A connection lost to a server restart is made again within the call;
 * a server that is down is an error, and is found again once it is up. */
static void
pg_reconnect(struct t *t)
{
	struct store	*st = NULL;
	struct err	 err = ERR_INIT;
	bool		 used;

	if (!pg_clean(t) || !t_check(t, store_open_pg(conninfo, STORE_CREATE,
	    &st, &err) == 0, "open: %s", err.msg))
		return;
	t_check(t, pg_stop() && pg_start(), "restart the server");
	t_check(t, store_area_used(st, "virus", &used, &err) == 0 && !used,
	    "after a restart: %s", err.msg);
	t_check(t, pg_stop(), "stop the server");
	t_check(t, store_area_used(st, "virus", &used, &err) == -1 &&
	    strstr(err.msg, "PostgreSQL") != NULL, "server down: got \"%s\", "
	    "want a PostgreSQL error", err.msg);
	t_check(t, pg_start(), "start the server");
	t_check(t, store_area_used(st, "virus", &used, &err) == 0,
	    "server back: %s", err.msg);
	store_close(&st);
}

/* The same rows in SQLite and PostgreSQL give the same report. */
static void
pg_report_same(struct t *t)
{
	struct store		*pg = NULL, *sq = NULL;
	struct store_report	*r[2] = { NULL, NULL };
	struct store_traffic	 tr;
	struct store_hit	 hits[2] = { { "virus", "Eicar" },
				    { "blocked_type", "application/x" } };
	struct report_opts	 o = { 7, REPORT_JSON, "gw" };
	struct buf		 b[2] = { BUF_INIT, BUF_INIT };
	struct qmeta		 m;
	struct err		 err = ERR_INIT;
	int64_t			 t0 = 1704067200 + 3600;
	char			 id[40], *path, uid[8], v[64];
	size_t			 i, k;

	if (!pg_clean(t))
		return;
	path = xasprintf("%s/same.sqlite", t_tmpdir(t));
	if (!t_check(t, store_open_pg(conninfo, STORE_CREATE, &pg, &err) == 0,
	    "open pg: %s", err.msg) || !t_check(t, store_open(path,
	    STORE_CREATE, &sq, &err) == 0, "open sqlite: %s", err.msg))
		goto out;
	for (i = 0; i < 40; i++) {
		record(&m, i, id, sizeof id, t0);
		t_check(t, store_put(pg, &m, &err) == 0 &&
		    store_put(sq, &m, &err) == 0, "put: %s", err.msg);
	}
	memset(&tr, 0, sizeof tr);
	for (i = 0; i < 30; i++) {
		snprintf(uid, sizeof uid, "u%zu", i);
		tr.uid = uid;
		tr.node = "mx-a";
		tr.time = t0 - (int64_t)(i % 4) * 86400;
		tr.direction = i % 3 ? "inbound" : "outbound";
		tr.disposition = i % 5 ? "accept" : "reject";
		tr.size = 100 * i;
		tr.scan_ms = i;
		tr.hits = hits;
		tr.nhits = i % 5 ? 0 : 2;
		/* Twice: one row each (the uid). */
		for (k = 0; k < 2; k++)
			t_check(t, store_traffic_add(pg, &tr, &err) == 0 &&
			    store_traffic_add(sq, &tr, &err) == 0,
			    "traffic: %s", err.msg);
	}
	pg_value("SELECT count(*) FROM traffic", v, sizeof v);
	t_check(t, strcmp(v, "30") == 0, "traffic rows: got %s, want 30", v);
	for (k = 0; k < 2; k++) {
		if (!t_check(t, store_report(k ? sq : pg, t0 - 6 * 86400 -
		    3600, t0 + 86400, &r[k], &err) == 0, "report %zu: %s", k,
		    err.msg))
			goto out;
		report_write(r[k], &o, &b[k]);
	}
	t_check(t, r[0]->qtotal.messages == 40 && r[0]->ttotal.messages == 30,
	    "totals: %llu messages, %llu traffic; want 40, 30",
	    (unsigned long long)r[0]->qtotal.messages,
	    (unsigned long long)r[0]->ttotal.messages);
	t_check(t, strcmp(buf_cstr(&b[0]), buf_cstr(&b[1])) == 0,
	    "reports differ:\nPostgreSQL %s\nSQLite     %s", buf_cstr(&b[0]),
	    buf_cstr(&b[1]));
	/* Traffic expiry removes the hits with the rows. */
	t_check(t, store_traffic_expire(pg, t0 - 86400, &k, &err) == 0 &&
	    k == 14, "traffic expire: %zu removed (want 14) %s", k, err.msg);
	pg_value("SELECT count(*) FROM traffic_hit WHERE tid NOT IN "
	    "(SELECT tid FROM traffic)", v, sizeof v);
	t_check(t, strcmp(v, "0") == 0, "orphan hits: %s", v);
out:
	for (k = 0; k < 2; k++) {
		store_report_free(&r[k]);
		buf_free(&b[k]);
	}
	store_close(&pg);
	store_close(&sq);
	free(path);
}

/* ---- the quarantine on PostgreSQL ---- */

static struct verdict *
virus_verdict(const struct policy *pol)
{
	struct verdict	*v = verdict_new(DIR_INBOUND);

	verdict_add(v, pol, RULE_VIRUS, "1.2", "eicar.com", "Eicar-Signature");
	verdict_finish(v, "4QID1", "alice@example.net");
	return v;
}

static const char	msg_text[] = "From: alice@example.net\r\n"
			    "Subject: x\r\n\r\nbody\r\n";

static int
store_one(const struct policy *pol, char **id_r, struct err *err)
{
	const char	*rc[] = { "bob@example.com" };
	struct envelope	 env;
	struct verdict	*v = virus_verdict(pol);
	int		 r;

	memset(&env, 0, sizeof env);
	env.sender = "alice@example.net";
	env.rcpts = rc;
	env.nrcpts = 1;
	env.queue_id = "4QID1";
	env.direction = -1;
	r = quarantine_store(pol, "virus", (const unsigned char *)msg_text,
	    strlen(msg_text), &env, v, id_r, err);
	if (r == 0 && quarantine_traffic(pol, v, "reject", strlen(msg_text),
	    3, *id_r, err) == -1)
		r = -1;
	verdict_free(&v);
	return r;
}

static void
pg_quarantine_fallback_sync(struct t *t)
{
	struct policy	*pol;
	struct qmeta	*m = NULL;
	struct err	 err = ERR_INIT;
	unsigned char	*msg = NULL;
	size_t		 len = 0, n = 0, nt = 0;
	char		*extra, *id1 = NULL, *id2 = NULL, v[64], path[8192];

	if (!pg_clean(t))
		return;
	extra = xasprintf("database = %s\nnode = mx-a\n", conninfo);
	pol = load_policy(t, extra);
	free(extra);
	if (pol == NULL)
		return;
	/* Up: the record and the message in PostgreSQL, no file here. */
	if (!t_check(t, store_one(pol, &id1, &err) == 0 && err.msg[0] == '\0',
	    "store with the database up: %s", err.msg))
		goto out;
	snprintf(path, sizeof path, "%s/q/virus/%s.eml", t_tmpdir(t), id1);
	t_check(t, access(path, F_OK) == -1, "a message file with bodies in "
	    "the database");
	t_check(t, quarantine_load(pol, id1, &m, &msg, &len, &err) ==
	    QUAR_OK && len == strlen(msg_text) && memcmp(msg, msg_text,
	    len) == 0 && str_eq(m->node, "mx-a"), "load: %s", err.msg);
	qmeta_free(&m);
	free(msg);
	msg = NULL;
	pg_value("SELECT count(*) FROM traffic WHERE node = 'mx-a'", v,
	    sizeof v);
	t_check(t, strcmp(v, "1") == 0, "traffic rows: got %s, want 1", v);

	/* Down: still stored (with a note), in this node's index. */
	if (!t_check(t, pg_stop(), "stop the server"))
		goto out;
	err = (struct err)ERR_INIT;
	t_check(t, store_one(pol, &id2, &err) == 0, "store with the database "
	    "down: %s", err.msg);
	t_check(t, strstr(err.msg, "sync") != NULL, "no note of the fallback: "
	    "\"%s\"", err.msg);
	snprintf(path, sizeof path, "%s/q/virus/%s.eml", t_tmpdir(t), id2);
	t_check(t, access(path, F_OK) == 0, "fallback message file %s missing",
	    path);
	t_check(t, quarantine_pending(pol, &n, &err) == 0 && n == 1,
	    "pending: got %zu, want 1 (%s)", n, err.msg);
	t_check(t, quarantine_sync(pol, &n, &nt, &err) == -1,
	    "sync with the server down: want an error");

	/* Back: sync copies the record, message and traffic row, once. */
	if (!t_check(t, pg_start(), "restart the server"))
		goto out;
	t_check(t, quarantine_sync(pol, &n, &nt, &err) == 0 && n == 1 &&
	    nt == 1, "sync: %zu records, %zu traffic rows (want 1, 1): %s", n,
	    nt, err.msg);
	t_check(t, quarantine_sync(pol, &n, &nt, &err) == 0 && n == 0 &&
	    nt == 0, "sync again: %zu, %zu (want 0, 0): %s", n, nt, err.msg);
	t_check(t, access(path, F_OK) == -1, "synced message file left here");
	t_check(t, quarantine_pending(pol, &n, &err) == 0 && n == 0,
	    "pending after sync: %zu", n);
	t_check(t, quarantine_load(pol, id2, &m, &msg, &len, &err) ==
	    QUAR_OK && len == strlen(msg_text) && memcmp(msg, msg_text,
	    len) == 0 && str_eq(m->node, "mx-a"), "load synced: %s", err.msg);
	qmeta_free(&m);
	free(msg);
	msg = NULL;
	pg_value("SELECT count(*) || '/' || (SELECT count(*) FROM traffic) "
	    "FROM message", v, sizeof v);
	t_check(t, strcmp(v, "2/2") == 0, "messages/traffic: got %s, want 2/2",
	    v);
	/* A daemon that still holds its old connection gets through. */
	quarantine_close_shared();
out:
	free(id1);
	free(id2);
	policy_unref(&pol);
}

/* A sync interrupted after the copy, before the removal, copies the
 * record again: still one row. */
static void
pg_sync_twice_one_row(struct t *t)
{
	struct policy	*pol;
	struct store	*pg = NULL, *local = NULL;
	struct qmeta	*m = NULL;
	struct err	 err = ERR_INIT;
	size_t		 n = 0, nt = 0;
	char		*extra, *id = NULL, v[64];

	if (!pg_clean(t))
		return;
	/* Stored before PostgreSQL was configured: the local index. */
	pol = load_policy(t, "node = mx-a\n");
	if (pol == NULL || !t_check(t, store_one(pol, &id, &err) == 0,
	    "store: %s", err.msg))
		goto out;
	policy_unref(&pol);
	quarantine_close_shared();
	extra = xasprintf("database = %s\nnode = mx-b\n", conninfo);
	pol = load_policy(t, extra);
	free(extra);
	if (pol == NULL)
		goto out;
	/* The copy of the interrupted run. */
	if (t_check(t, quarantine_open_local(pol, 0, &local, &err) == 0 &&
	    store_open_pg(conninfo, STORE_CREATE, &pg, &err) == 0 &&
	    store_get(local, id, &m, &err) == QUAR_OK, "open: %s", err.msg))
		t_check(t, store_put_body(pg, m, (const unsigned char *)"x", 1,
		    STORE_PUT_KEEP, &err) == 0, "copy: %s", err.msg);
	qmeta_free(&m);
	store_close(&local);
	store_close(&pg);
	t_check(t, quarantine_sync(pol, &n, &nt, &err) == 0 && n == 1,
	    "sync: %zu (%s)", n, err.msg);
	pg_value("SELECT count(*) FROM message", v, sizeof v);
	t_check(t, strcmp(v, "1") == 0, "rows: got %s, want 1", v);
	/* The stored node survives; a record without one gets this node. */
	pg_value("SELECT node FROM message", v, sizeof v);
	t_check(t, strcmp(v, "mx-a") == 0, "node: got %s, want mx-a", v);
out:
	free(id);
	policy_unref(&pol);
	quarantine_close_shared();
}

/* A kept record whose message file is gone stays here, named; the others
 * are copied, and a second run copies nothing more. */
static void
pg_sync_skips_unreadable(struct t *t)
{
	struct policy	*pol;
	struct err	 err = ERR_INIT;
	size_t		 n = 0, nt = 0;
	char		*extra, *id1 = NULL, *id2 = NULL, *path = NULL, v[64];

	if (!pg_clean(t))
		return;
	pol = load_policy(t, "node = mx-a\nstats_days = 0\n");
	if (pol == NULL || !t_check(t, store_one(pol, &id1, &err) == 0 &&
	    store_one(pol, &id2, &err) == 0, "store: %s", err.msg))
		goto out;
	policy_unref(&pol);
	quarantine_close_shared();
	path = xasprintf("%s/q/virus/%s.eml", t_tmpdir(t), id1);
	t_check(t, unlink(path) == 0, "unlink %s", path);
	extra = xasprintf("database = %s\n", conninfo);
	pol = load_policy(t, extra);
	free(extra);
	if (pol == NULL)
		goto out;
	t_check(t, quarantine_sync(pol, &n, &nt, &err) == -1 && n == 1 &&
	    strstr(err.msg, id1) != NULL, "sync: %zu copied, \"%s\"; want 1 "
	    "and an error naming %s", n, err.msg, id1);
	t_check(t, quarantine_sync(pol, &n, &nt, &err) == -1 && n == 0,
	    "sync again: %zu copied, want 0", n);
	t_check(t, quarantine_pending(pol, &n, &err) == 0 && n == 1,
	    "pending: %zu, want 1", n);
	pg_value("SELECT id FROM message", v, sizeof v);
	t_check(t, strcmp(v, id2) == 0, "in the database: %s, want %s", v,
	    id2);
out:
	free(path);
	free(id1);
	free(id2);
	policy_unref(&pol);
	quarantine_close_shared();
}

/* Bodies as files on a shared directory, the index in PostgreSQL. */
static void
pg_bodies_shared_dir(struct t *t)
{
	struct policy	*pol;
	struct qmeta	*m = NULL;
	struct err	 err = ERR_INIT;
	unsigned char	*msg = NULL;
	size_t		 len = 0, n = 0;
	char		*extra, *id = NULL, path[8192], v[64];

	if (!pg_clean(t))
		return;
	extra = xasprintf("database = %s\nbodies = %s/shared\n", conninfo,
	    t_tmpdir(t));
	pol = load_policy(t, extra);
	free(extra);
	if (pol == NULL || !t_check(t, store_one(pol, &id, &err) == 0,
	    "store: %s", err.msg))
		goto out;
	snprintf(path, sizeof path, "%s/shared/virus/%s.eml", t_tmpdir(t), id);
	t_check(t, access(path, F_OK) == 0, "shared file %s missing", path);
	pg_value("SELECT count(*) FROM body", v, sizeof v);
	t_check(t, strcmp(v, "0") == 0, "bodies in the database: %s", v);
	t_check(t, quarantine_load(pol, id, &m, &msg, &len, &err) == QUAR_OK &&
	    len == strlen(msg_text), "load: %s", err.msg);
	qmeta_free(&m);
	free(msg);
	t_check(t, quarantine_expire(pol, 0, 0, &n, &err) == 0 && n == 1,
	    "expire all: %zu (%s)", n, err.msg);
	t_check(t, access(path, F_OK) == -1, "expired shared file left");
out:
	free(id);
	policy_unref(&pol);
	quarantine_close_shared();
}

/*
 * The daemon's round (quarantine_sync_round): nothing kept here asks
 * PostgreSQL nothing (a database that does not exist is not an error);
 * records kept while the server was down are copied once it is back; a
 * sync running elsewhere (the lock held) makes the round wait for the
 * next one, not block.
 */
static void
pg_sync_round(struct t *t)
{
	struct policy	*pol = NULL;
	struct err	 err = ERR_INIT;
	size_t		 n = 0, nt = 0;
	char		*extra, *id = NULL, *dir = NULL, v[64];
	int		 r, fd = -1;

	if (!pg_clean(t))
		return;
	pol = load_policy(t, "database = host=/nonexistent dbname=x\n");
	r = pol != NULL ? quarantine_sync_round(pol, 0, &n, &nt, &err) : -2;
	t_check(t, r == 0 && n == 0, "nothing kept, no server: got %d (%s), "
	    "want 0", r, err.msg);
	policy_unref(&pol);
	extra = xasprintf("database = %s\nnode = mx-a\n", conninfo);
	pol = load_policy(t, extra);
	free(extra);
	if (pol == NULL || !t_check(t, pg_stop(), "stop the server"))
		goto out;
	t_check(t, store_one(pol, &id, &err) == 0, "store, server down: %s",
	    err.msg);
	r = quarantine_sync_round(pol, 0, &n, &nt, &err);
	t_check(t, r == -1 && n == 0, "round, server down: got %d, want -1",
	    r);
	if (!t_check(t, pg_start(), "start the server again"))
		goto out;
	/* Another sync holds the lock: the round does not wait. */
	dir = xasprintf("%s/q", t_tmpdir(t));
	fd = open(dir, O_RDONLY | O_DIRECTORY);
	t_check(t, fd != -1 && flock(fd, LOCK_EX) == 0, "lock %s", dir);
	r = quarantine_sync_round(pol, 0, &n, &nt, &err);
	t_check(t, r == 1 && n == 0, "round, lock held: got %d (%zu), want 1",
	    r, n);
	close(fd);
	r = quarantine_sync_round(pol, 0, &n, &nt, &err);
	t_check(t, r == 0 && n == 1 && nt == 1, "round, server back: got %d, "
	    "%zu records %zu traffic rows, want 0, 1, 1 (%s)", r, n, nt,
	    err.msg);
	pg_value("SELECT count(*) FROM message", v, sizeof v);
	t_check(t, strcmp(v, "1") == 0, "rows: got %s, want 1", v);
	r = quarantine_sync_round(pol, 0, &n, &nt, &err);
	t_check(t, r == 0 && n == 0 && nt == 0, "round again: got %d, %zu, "
	    "want 0, 0", r, n);
	t_check(t, quarantine_pending(pol, &n, &err) == 0 && n == 0,
	    "pending after the round: %zu", n);
out:
	free(dir);
	free(id);
	policy_unref(&pol);
	quarantine_close_shared();
}

/* ---- a release happens once (both backends) ---- */

/* A second, independent connection to the same database: SQLite's file
 * (path) or PostgreSQL (path NULL). */
static int
race_open(const char *path, struct store **st_r, struct err *err)
{
	if (path != NULL)
		return store_open(path, STORE_CREATE, st_r, err);
	return store_open_pg(conninfo, STORE_CREATE, st_r, err);
}

static const char *
claim_str(enum store_claim cs)
{
	switch (cs) {
	case STORE_CLAIM_OK: return "ok";
	case STORE_CLAIM_NOTFOUND: return "notfound";
	case STORE_CLAIM_BUSY: return "busy";
	case STORE_CLAIM_DONE: return "done";
	default: return "error";
	}
}

#define RACE_PROCS	8

/*
 * Two connections take turns: a claim held is refused to the other (and
 * says whose it is), a claim given back can be taken, a released record
 * is refused unless asked again, a stale claim is taken over. Then
 * RACE_PROCS processes, each with its own connection, claim one record
 * at the same instant: exactly one wins.
 */
static void
release_race(struct t *t, const char *path)
{
	struct store		*a = NULL, *b = NULL;
	struct store_claim_info	 ci;
	struct qmeta		 m, *got = NULL;
	struct err		 err = ERR_INIT;
	enum store_claim	 cs;
	char			 id[40], id2[40], id3[40];
	int			 gate[2] = { -1, -1 }, st, i, wins = 0, lost = 0;
	pid_t			 pids[RACE_PROCS];
	int64_t			 now = (int64_t)time(NULL);

	if (!t_check(t, race_open(path, &a, &err) == 0 &&
	    race_open(path, &b, &err) == 0, "open two: %s", err.msg))
		goto out;
	record(&m, 1, id, sizeof id, now);
	t_check(t, store_put(a, &m, &err) == 0, "put: %s", err.msg);
	cs = store_release_claim(a, id, "alice@mx-a pid 1", now, 0, &ci, &err);
	t_check(t, cs == STORE_CLAIM_OK, "a claims: got %s, want ok (%s)",
	    claim_str(cs), err.msg);
	cs = store_release_claim(b, id, "bob@mx-b pid 2", now, 0, &ci, &err);
	t_check(t, cs == STORE_CLAIM_BUSY && strcmp(ci.by,
	    "alice@mx-a pid 1") == 0 && ci.time == now, "b claims while a "
	    "holds it: got %s by \"%s\" at %lld, want busy by a at %lld",
	    claim_str(cs), ci.by, (long long)ci.time, (long long)now);
	t_check(t, store_release_end(b, id, "bob@mx-b pid 2", now, "bob",
	    &err) == QUAR_NOTFOUND, "b ends a claim it does not hold");
	t_check(t, store_release_end(a, id, "alice@mx-a pid 1", 0, NULL,
	    &err) == QUAR_OK, "a gives the claim back: %s", err.msg);
	cs = store_release_claim(b, id, "bob@mx-b pid 2", now + 1, 0, &ci,
	    &err);
	t_check(t, cs == STORE_CLAIM_OK, "b claims what a gave back: got %s",
	    claim_str(cs));
	t_check(t, store_release_end(b, id, "bob@mx-b pid 2", now + 2,
	    "bob@mx-b", &err) == QUAR_OK && store_get(a, id, &got, &err) ==
	    QUAR_OK && got->released_time == now + 2 &&
	    str_eq(got->released_by, "bob@mx-b"), "b marks it released: %s "
	    "by %s", err.msg, got != NULL ? got->released_by : "-");
	qmeta_free(&got);
	cs = store_release_claim(a, id, "alice@mx-a pid 3", now + 3, 0, &ci,
	    &err);
	t_check(t, cs == STORE_CLAIM_DONE && strcmp(ci.by, "bob@mx-b") == 0 &&
	    ci.time == now + 2, "a claims a released record: got %s by "
	    "\"%s\", want done by bob@mx-b", claim_str(cs), ci.by);
	cs = store_release_claim(a, id, "alice@mx-a pid 3", now + 3,
	    STORE_CLAIM_AGAIN, &ci, &err);
	t_check(t, cs == STORE_CLAIM_OK, "again: got %s, want ok",
	    claim_str(cs));
	t_check(t, store_release_end(a, id, "alice@mx-a pid 3", now + 4,
	    "alice@mx-a", &err) == QUAR_OK, "again marked: %s", err.msg);
	cs = store_release_claim(a, "20240101T000000Z-00000000000000ff",
	    "x", now, 0, &ci, &err);
	t_check(t, cs == STORE_CLAIM_NOTFOUND, "unknown ID: got %s",
	    claim_str(cs));

	/* A claim left by a release that died lapses. */
	record(&m, 2, id2, sizeof id2, now);
	t_check(t, store_put(a, &m, &err) == 0, "put: %s", err.msg);
	t_check(t, store_release_claim(a, id2, "dead", now, 0, &ci, &err) ==
	    STORE_CLAIM_OK, "claim 2: %s", err.msg);
	cs = store_release_claim(b, id2, "b", now + STORE_CLAIM_STALE - 1, 0,
	    &ci, &err);
	t_check(t, cs == STORE_CLAIM_BUSY, "a claim %d s old: got %s, want "
	    "busy", STORE_CLAIM_STALE - 1, claim_str(cs));
	cs = store_release_claim(b, id2, "b", now + STORE_CLAIM_STALE + 1, 0,
	    &ci, &err);
	t_check(t, cs == STORE_CLAIM_OK, "a claim %d s old: got %s, want ok",
	    STORE_CLAIM_STALE + 1, claim_str(cs));
	t_check(t, store_release_end(a, id2, "dead", now, "dead", &err) ==
	    QUAR_NOTFOUND, "the lapsed claim cannot be ended by its maker");

	/* Processes at once: each its own connection, one gate. */
	record(&m, 3, id3, sizeof id3, now);
	if (!t_check(t, store_put(a, &m, &err) == 0 && pipe(gate) == 0,
	    "put 3: %s", err.msg))
		goto out;
	fflush(NULL);
	for (i = 0; i < RACE_PROCS; i++) {
		if ((pids[i] = fork()) == 0) {
			struct store	*c = NULL;
			char		 tok[64], byte;

			close(gate[1]);
			snprintf(tok, sizeof tok, "proc%d", i);
			if (race_open(path, &c, &err) == -1)
				_exit(100);
			(void)read(gate[0], &byte, 1);	/* EOF: go */
			cs = store_release_claim(c, id3, tok, now, 0, &ci,
			    &err);
			if (cs == STORE_CLAIM_OK) {
				usleep(20000);		/* "sendmail" */
				if (store_release_end(c, id3, tok, now + 1,
				    tok, &err) != QUAR_OK)
					_exit(101);
			}
			_exit(cs == STORE_CLAIM_ERROR ? 102 : (int)cs);
		}
		if (pids[i] == -1)
			break;
	}
	close(gate[0]);
	close(gate[1]);		/* all go */
	while (i-- > 0) {
		if (waitpid(pids[i], &st, 0) == -1 || !WIFEXITED(st)) {
			t_error(t, "process %d: did not exit", i);
			continue;
		}
		if (WEXITSTATUS(st) == STORE_CLAIM_OK)
			wins++;
		else if (WEXITSTATUS(st) == STORE_CLAIM_BUSY ||
		    WEXITSTATUS(st) == STORE_CLAIM_DONE)
			lost++;
		else
			t_error(t, "process %d: exit %d (100 open, 101 end, "
			    "102 claim error)", i, WEXITSTATUS(st));
	}
	t_check(t, wins == 1 && lost == RACE_PROCS - 1, "%d processes at "
	    "once: %d released, %d refused; want 1 and %d", RACE_PROCS, wins,
	    lost, RACE_PROCS - 1);
	t_check(t, store_get(b, id3, &got, &err) == QUAR_OK &&
	    got->released_time == now + 1 && got->released_by != NULL &&
	    strncmp(got->released_by, "proc", 4) == 0, "released by the "
	    "winner: %s", got != NULL ? str_or_null(got->released_by) :
	    err.msg);
	qmeta_free(&got);
out:
	store_close(&a);
	store_close(&b);
}

static void
release_once_sqlite(struct t *t)
{
	char	*path = xasprintf("%s/race.sqlite", t_tmpdir(t));

	release_race(t, path);
	free(path);
}

static void
release_once_pg(struct t *t)
{
	if (pg_clean(t))
		release_race(t, NULL);
}

/* A database of schema version 1 (before release claims and the covering
 * indexes) is migrated. */
static void
pg_migrate_v1(struct t *t)
{
	struct store	*st = NULL;
	struct err	 err = ERR_INIT;
	char		 v[64];

	if (!pg_clean(t) || !t_check(t, store_open_pg(conninfo, STORE_CREATE,
	    &st, &err) == 0, "open: %s", err.msg))
		return;
	store_close(&st);
	t_check(t, t_sh("psql -q -X -v ON_ERROR_STOP=1 '%s' -c 'ALTER TABLE "
	    "message DROP COLUMN releasing_by, DROP COLUMN releasing_time; "
	    "DROP INDEX message_report; "
	    "UPDATE schema_version SET version = 1' >/dev/null 2>&1",
	    conninfo) == 0, "back to version 1");
	t_check(t, store_open_pg(conninfo, STORE_READONLY, &st, &err) == -1,
	    "read-only open of version 1 must fail");
	t_check(t, store_open_pg(conninfo, STORE_CREATE, &st, &err) == 0,
	    "migrate: %s", err.msg);
	store_close(&st);
	pg_value("SELECT version FROM schema_version", v, sizeof v);
	t_check(t, atoi(v) == STORE_PG_SCHEMA_VERSION, "version: got %s, "
	    "want %d", v, STORE_PG_SCHEMA_VERSION);
	pg_value("SELECT count(releasing_by) FROM message", v, sizeof v);
	t_check(t, strcmp(v, "0") == 0, "releasing_by column: got \"%s\"", v);
}

static const struct t_case cases[] = {
	T_CASE(pg_records),
	T_CASE(pg_expire),
	T_CASE(pg_reconnect),
	T_CASE(pg_report_same),
	T_CASE(pg_quarantine_fallback_sync),
	T_CASE(pg_sync_twice_one_row),
	T_CASE(pg_sync_skips_unreadable),
	T_CASE(pg_bodies_shared_dir),
	T_CASE(pg_sync_round),
	T_CASE(release_once_sqlite),
	T_CASE(release_once_pg),
	T_CASE(pg_migrate_v1),
};

int
main(int argc, char **argv)
{
	const char	*base = getenv("TMPDIR");
	int		 rc;

	/* The server's own directory: "nobody" must reach it. */
	snprintf(pg_dir, sizeof pg_dir, "%s/pcpg.XXXXXX",
	    base != NULL ? base : "/tmp");
	if (mkdtemp(pg_dir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	rmdir(pg_dir);
	if (!pg_start()) {
		fprintf(stderr, "FAIL PostgreSQL server: test/pg.sh start %s "
		    "failed\n", pg_dir);
		conninfo[0] = '\0';
	}
	rc = t_main(argc, argv, cases, T_NCASES(cases));
	(void)pg_stop();
	t_sh("rm -rf %s", pg_dir);
	return rc;
}
