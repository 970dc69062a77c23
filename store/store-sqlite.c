/*
 * store/store-sqlite.c - the store (see store.h) in one SQLite database:
 * the only includer of <sqlite3.h>.
 *
 * WAL mode (readers never wait for the writer), a busy timeout for the
 * one-writer rule between processes, synchronous=NORMAL (a process crash
 * loses nothing; the message files are fsynced apart and the index can
 * be rebuilt from them with "portcullisctl import"). Every statement is
 * prepared once with parameters: no SQL is ever built from data. The
 * schema version is PRAGMA user_version; migrations[] brings an older
 * database up to STORE_SCHEMA_VERSION in one transaction.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "store-impl.h"
#include "util.h"

#define BUSY_TIMEOUT_MS	10000

/* migrations[v] takes a database from version v to v + 1. */
static const char *const migrations[] = {
	/* 0 -> 1 */
	"CREATE TABLE message("
	" id TEXT PRIMARY KEY NOT NULL, area TEXT NOT NULL,"
	" time INTEGER NOT NULL, queue_id TEXT, sender TEXT NOT NULL,"
	" client TEXT, auth_user TEXT, direction TEXT, action TEXT,"
	" disposition TEXT, summary TEXT, size INTEGER NOT NULL,"
	" policy_version INTEGER NOT NULL, policy_source TEXT,"
	" nrcpts INTEGER NOT NULL, nfindings INTEGER NOT NULL,"
	" virus_files INTEGER NOT NULL, blocked_files INTEGER NOT NULL,"
	" encrypted_files INTEGER NOT NULL,"
	" first_rule TEXT, first_part TEXT, first_file TEXT,"
	" first_detail TEXT, first_action TEXT,"
	" released_time INTEGER, released_by TEXT);"
	"CREATE INDEX message_time ON message(time, id);"
	"CREATE INDEX message_area_time ON message(area, time, id);"
	"CREATE TABLE recipient(id TEXT NOT NULL, n INTEGER NOT NULL,"
	" time INTEGER NOT NULL, addr TEXT NOT NULL,"
	" PRIMARY KEY(id, n)) WITHOUT ROWID;"
	"CREATE INDEX recipient_time ON recipient(time, addr);"
	"CREATE TABLE finding(id TEXT NOT NULL, n INTEGER NOT NULL,"
	" time INTEGER NOT NULL, rule TEXT NOT NULL, part TEXT NOT NULL,"
	" filename TEXT, detail TEXT, action TEXT,"
	" PRIMARY KEY(id, n)) WITHOUT ROWID;"
	"CREATE INDEX finding_rule_time ON finding(rule, time, detail);"
	"CREATE TABLE traffic(tid INTEGER PRIMARY KEY, time INTEGER NOT NULL,"
	" direction TEXT NOT NULL, disposition TEXT NOT NULL,"
	" size INTEGER NOT NULL, scan_ms INTEGER NOT NULL,"
	" nhits INTEGER NOT NULL, quarantine_id TEXT);"
	"CREATE INDEX traffic_time ON traffic(time);"
	"CREATE TABLE traffic_hit(tid INTEGER NOT NULL,"
	" time INTEGER NOT NULL, rule TEXT NOT NULL, detail TEXT);"
	"CREATE INDEX traffic_hit_time ON traffic_hit(time, rule);",
	/* 1 -> 2: covering indexes, so that a report reads only them */
	"CREATE INDEX message_report ON message(time, area, size,"
	" virus_files, blocked_files, encrypted_files);"
	"CREATE INDEX message_sender ON message(time, sender);"
	"DROP INDEX finding_rule_time;"
	"CREATE INDEX finding_rule_time ON finding(rule, time, detail, id);"
	"DROP INDEX traffic_time;"
	"CREATE INDEX traffic_report ON traffic(time, direction,"
	" disposition, size, scan_ms, nhits);"
	"DROP INDEX traffic_hit_time;"
	"CREATE INDEX traffic_hit_time ON traffic_hit(time, rule, tid);",
	/* 2 -> 3: the node (host) on each row, and a unique key on each
	 * traffic row, so that a row copied twice to a shared database
	 * ("portcullisctl sync") is one row there */
	"ALTER TABLE message ADD COLUMN node TEXT;"
	"ALTER TABLE traffic ADD COLUMN node TEXT;"
	"ALTER TABLE traffic ADD COLUMN uid TEXT;"
	"UPDATE traffic SET uid = lower(hex(randomblob(16)));"
	"CREATE UNIQUE INDEX traffic_uid ON traffic(uid);",
	/* 3 -> 4: the claim of a release in progress, so that a release
	 * happens once (store_release_claim) */
	"ALTER TABLE message ADD COLUMN releasing_by TEXT;"
	"ALTER TABLE message ADD COLUMN releasing_time INTEGER;"
};

enum stmt_id {
	S_BEGIN, S_COMMIT, S_ROLLBACK,
	S_MSG_INS, S_RCPT_INS, S_FIND_INS,
	S_MSG_DEL, S_RCPT_DEL, S_FIND_DEL,
	S_GET, S_GET_RCPTS, S_GET_FINDS,
	S_LIST, S_LIST_AREA, S_OLD, S_RELEASE, S_AREA_USED, S_EXISTS,
	S_CLAIM, S_CLAIM_STATE, S_CLAIM_DONE, S_CLAIM_UNDO,
	S_TRAFFIC_INS, S_HIT_INS, S_TRAFFIC_EXP, S_HIT_EXP,
	S_TRAFFIC_LIST, S_TRAFFIC_HITS, S_TRAFFIC_DEL, S_TRAFFIC_HIT_DEL,
	S_Q_SCAN, S_Q_VIRUSES, S_Q_TYPES, S_Q_SENDERS, S_Q_RCPTS,
	S_T_SCAN, S_T_RULES,
	S__N
};

#define MSG_COLS "id, area, time, queue_id, sender, client, auth_user," \
	" direction, action, disposition, summary, size, policy_version," \
	" policy_source, nrcpts, nfindings, first_rule, first_part," \
	" first_file, first_detail, first_action, released_time, released_by," \
	" node"
static const char *const sql[S__N] = {
	[S_BEGIN] = "BEGIN IMMEDIATE",
	[S_COMMIT] = "COMMIT",
	[S_ROLLBACK] = "ROLLBACK",
	[S_MSG_INS] = "INSERT OR REPLACE INTO message(" MSG_COLS
	    ", virus_files, blocked_files, encrypted_files) VALUES (?1, ?2,"
	    " ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16,"
	    " ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?27, ?24, ?25, ?26)",
	[S_RCPT_INS] = "INSERT INTO recipient(id, n, time, addr)"
	    " VALUES (?1, ?2, ?3, ?4)",
	[S_FIND_INS] = "INSERT INTO finding(id, n, time, rule, part,"
	    " filename, detail, action) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7,"
	    " ?8)",
	[S_MSG_DEL] = "DELETE FROM message WHERE id = ?1",
	[S_RCPT_DEL] = "DELETE FROM recipient WHERE id = ?1",
	[S_FIND_DEL] = "DELETE FROM finding WHERE id = ?1",
	[S_GET] = "SELECT " MSG_COLS " FROM message WHERE id = ?1",
	[S_GET_RCPTS] = "SELECT addr FROM recipient WHERE id = ?1 ORDER BY n",
	[S_GET_FINDS] = "SELECT rule, part, filename, detail, action"
	    " FROM finding WHERE id = ?1 ORDER BY n",
	[S_LIST] = "SELECT " MSG_COLS " FROM message INDEXED BY message_time"
	    " WHERE time >= ?1 AND time < ?2 ORDER BY time, id LIMIT ?3",
	[S_LIST_AREA] = "SELECT " MSG_COLS " FROM message"
	    " INDEXED BY message_area_time WHERE area = ?4 AND time >= ?1"
	    " AND time < ?2 ORDER BY time, id LIMIT ?3",
	[S_OLD] = "SELECT id, area, time FROM message WHERE time < ?1"
	    " ORDER BY time, id",
	[S_RELEASE] = "UPDATE message SET released_time = ?2,"
	    " released_by = ?3 WHERE id = ?1",
	[S_AREA_USED] = "SELECT 1 FROM message WHERE area = ?1 LIMIT 1",
	/* The one writer at a time makes the claim atomic. */
	[S_CLAIM] = "UPDATE message SET releasing_by = ?2,"
	    " releasing_time = ?3 WHERE id = ?1"
	    " AND (releasing_by IS NULL OR releasing_time < ?4)"
	    " AND (released_time IS NULL OR ?5)",
	[S_CLAIM_STATE] = "SELECT released_time, released_by,"
	    " releasing_time, releasing_by FROM message WHERE id = ?1",
	[S_CLAIM_DONE] = "UPDATE message SET released_time = ?3,"
	    " released_by = ?4, releasing_by = NULL, releasing_time = NULL"
	    " WHERE id = ?1 AND releasing_by = ?2",
	[S_CLAIM_UNDO] = "UPDATE message SET releasing_by = NULL,"
	    " releasing_time = NULL WHERE id = ?1 AND releasing_by = ?2",
	[S_EXISTS] = "SELECT 1 FROM message WHERE id = ?1",
	[S_TRAFFIC_INS] = "INSERT OR IGNORE INTO traffic(time, direction,"
	    " disposition, size, scan_ms, nhits, quarantine_id, uid, node)"
	    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7,"
	    " coalesce(?8, lower(hex(randomblob(16)))), ?9)",
	[S_HIT_INS] = "INSERT INTO traffic_hit(tid, time, rule, detail)"
	    " VALUES (?1, ?2, ?3, ?4)",
	[S_TRAFFIC_EXP] = "DELETE FROM traffic WHERE time < ?1",
	[S_HIT_EXP] = "DELETE FROM traffic_hit WHERE time < ?1",
	[S_TRAFFIC_LIST] = "SELECT tid, uid, node, time, direction,"
	    " disposition, size, scan_ms, quarantine_id FROM traffic"
	    " ORDER BY tid LIMIT ?1",
	[S_TRAFFIC_HITS] = "SELECT rule, detail FROM traffic_hit"
	    " INDEXED BY traffic_hit_time WHERE time = ?2 AND tid = ?1",
	[S_TRAFFIC_DEL] = "DELETE FROM traffic WHERE uid = ?1",
	[S_TRAFFIC_HIT_DEL] = "DELETE FROM traffic_hit WHERE time ="
	    " (SELECT time FROM traffic WHERE uid = ?1) AND tid ="
	    " (SELECT tid FROM traffic WHERE uid = ?1)",
	/*
	 * The reports read covering indexes in time order and count in C
	 * (report_*): no GROUP BY sorts of hundreds of thousands of rows.
	 */
	[S_Q_SCAN] = "SELECT time, area, size, virus_files, blocked_files,"
	    " encrypted_files FROM message INDEXED BY message_report"
	    " WHERE time >= ?1 AND time < ?2",
	[S_Q_VIRUSES] = "SELECT detail, id FROM finding"
	    " INDEXED BY finding_rule_time WHERE rule = 'virus'"
	    " AND time >= ?1 AND time < ?2",
	[S_Q_TYPES] = "SELECT detail, id FROM finding"
	    " INDEXED BY finding_rule_time"
	    " WHERE rule IN ('blocked_extension', 'blocked_type')"
	    " AND time >= ?1 AND time < ?2",
	[S_Q_SENDERS] = "SELECT sender, NULL FROM message"
	    " INDEXED BY message_sender WHERE time >= ?1 AND time < ?2",
	[S_Q_RCPTS] = "SELECT addr, NULL FROM recipient"
	    " INDEXED BY recipient_time WHERE time >= ?1 AND time < ?2",
	[S_T_SCAN] = "SELECT time, direction, disposition, size, scan_ms,"
	    " nhits FROM traffic INDEXED BY traffic_report"
	    " WHERE time >= ?1 AND time < ?2",
	[S_T_RULES] = "SELECT rule, tid FROM traffic_hit"
	    " INDEXED BY traffic_hit_time WHERE time >= ?1 AND time < ?2",
};

struct sqstore {
	struct store	 base;	/* first: the backend's ops */
	sqlite3		*db;
	sqlite3_stmt	*st[S__N];
	pthread_mutex_t	 mu;
	bool		 in_txn;	/* store_begin .. store_commit */
};

static const struct store_ops sq_ops;
static void	sq_close(struct store *);

static struct sqstore *
sq(struct store *st)
{
	return (struct sqstore *)st;
}

static int
db_fail(struct sqstore *s, struct err *err, const char *what)
{
	return err_set(err, "database: %s: %s", what, sqlite3_errmsg(s->db));
}

/* The prepared statement id, reset and unbound; NULL with err. */
static sqlite3_stmt *
stmt(struct sqstore *s, enum stmt_id id, struct err *err)
{
	if (s->st[id] == NULL && sqlite3_prepare_v3(s->db, sql[id], -1,
	    SQLITE_PREPARE_PERSISTENT, &s->st[id], NULL) != SQLITE_OK) {
		db_fail(s, err, "prepare");
		return NULL;
	}
	sqlite3_reset(s->st[id]);
	sqlite3_clear_bindings(s->st[id]);
	return s->st[id];
}

static void
bind_str(sqlite3_stmt *q, int i, const char *v)
{
	if (v == NULL)
		sqlite3_bind_null(q, i);
	else
		sqlite3_bind_text(q, i, v, -1, SQLITE_STATIC);
}

/* Runs a statement that returns no rows. */
static int
step_done(struct sqstore *s, sqlite3_stmt *q, struct err *err)
{
	int	rc = sqlite3_step(q);

	sqlite3_reset(q);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		return db_fail(s, err, "write");
	return 0;
}

static int
exec_simple(struct sqstore *s, enum stmt_id id, struct err *err)
{
	sqlite3_stmt	*q = stmt(s, id, err);

	return q == NULL ? -1 : step_done(s, q, err);
}

static char *
col_str(sqlite3_stmt *q, int i)
{
	const unsigned char	*t = sqlite3_column_text(q, i);

	return t != NULL ? xstrdup((const char *)t) : NULL;
}

static int
migrate(struct sqstore *s, struct err *err)
{
	sqlite3_stmt	*q = NULL;
	int		 v = 0;
	char		*msg = NULL, pragma[64];
	size_t		 i;

	if (sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &q,
	    NULL) != SQLITE_OK)
		return db_fail(s, err, "schema version");
	if (sqlite3_step(q) == SQLITE_ROW)
		v = sqlite3_column_int(q, 0);
	sqlite3_finalize(q);
	if (v > STORE_SCHEMA_VERSION)
		return err_set(err, "database: schema version %d is newer "
		    "than this program's (%d)", v, STORE_SCHEMA_VERSION);
	if (v == STORE_SCHEMA_VERSION)
		return 0;
	if (sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, &msg) !=
	    SQLITE_OK)
		goto fail;
	/* Another process may have migrated while we waited. */
	if (sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &q,
	    NULL) != SQLITE_OK)
		goto fail;
	if (sqlite3_step(q) == SQLITE_ROW)
		v = sqlite3_column_int(q, 0);
	sqlite3_finalize(q);
	for (i = (size_t)v; i < sizeof migrations / sizeof migrations[0];
	    i++)
		if (sqlite3_exec(s->db, migrations[i], NULL, NULL, &msg) !=
		    SQLITE_OK)
			goto fail;
	/* UNSAFE: an integer into a fixed pragma, not data. */
	snprintf(pragma, sizeof pragma, "PRAGMA user_version = %d",
	    STORE_SCHEMA_VERSION);
	if (sqlite3_exec(s->db, pragma, NULL, NULL, &msg) != SQLITE_OK ||
	    sqlite3_exec(s->db, "COMMIT", NULL, NULL, &msg) != SQLITE_OK)
		goto fail;
	return 0;
fail:
	err_set(err, "database: migration to version %d: %s",
	    STORE_SCHEMA_VERSION, msg != NULL ? msg : sqlite3_errmsg(s->db));
	sqlite3_free(msg);
	sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	return -1;
}

int
store_open(const char *path, unsigned flags, struct store **st_r,
    struct err *err)
{
	struct sqstore		*s;
	struct stat		 sb;
	pthread_mutexattr_t	 ma;
	char			*msg = NULL;
	int		 oflags = SQLITE_OPEN_FULLMUTEX |
			    SQLITE_OPEN_NOFOLLOW;

	*st_r = NULL;
	if (path == NULL || path[0] == '\0')
		return err_set(err, "no quarantine database configured");
	if (stat(path, &sb) == -1) {
		if (errno != ENOENT || !(flags & STORE_CREATE))
			return err_set(err, "quarantine database %s: %s", path,
			    strerror(errno));
	}
	oflags |= (flags & STORE_CREATE) ? SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE : SQLITE_OPEN_READWRITE;
	s = xcalloc(1, sizeof *s);
	s->base.ops = &sq_ops;
	/* Recursive: store_begin holds it until store_commit, and the
	 * puts in between take it again. */
	pthread_mutexattr_init(&ma);
	pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_RECURSIVE);
	pthread_mutex_init(&s->mu, &ma);
	pthread_mutexattr_destroy(&ma);
	if (sqlite3_open_v2(path, &s->db, oflags, NULL) != SQLITE_OK) {
		err_set(err, "quarantine database %s: %s", path,
		    s->db != NULL ? sqlite3_errmsg(s->db) : "out of memory");
		goto fail;
	}
	(void)chmod(path, 0600);
	sqlite3_busy_timeout(s->db, BUSY_TIMEOUT_MS);
	if (sqlite3_exec(s->db, "PRAGMA journal_mode = WAL;"
	    "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = OFF",
	    NULL, NULL, &msg) != SQLITE_OK) {
		err_set(err, "quarantine database %s: %s", path,
		    msg != NULL ? msg : sqlite3_errmsg(s->db));
		sqlite3_free(msg);
		goto fail;
	}
	if (migrate(s, err) == -1)
		goto fail;
	*st_r = &s->base;
	return 0;
fail:
	sq_close(&s->base);
	return -1;
}

static void
sq_close(struct store *st)
{
	struct sqstore	*s = sq(st);
	size_t		 i;

	for (i = 0; i < S__N; i++)
		sqlite3_finalize(s->st[i]);
	sqlite3_close(s->db);
	pthread_mutex_destroy(&s->mu);
	free(s);
}

/* ---- records ---- */

static int
put_locked(struct sqstore *s, const struct qmeta *m, struct err *err)
{
	sqlite3_stmt		*q;
	const struct qfinding	*f0 = m->nfindings > 0 ? &m->findings[0] :
				    NULL;
	size_t			 i;
	enum stmt_id		 del[] = { S_RCPT_DEL, S_FIND_DEL };

	for (i = 0; i < 2; i++) {
		if ((q = stmt(s, del[i], err)) == NULL)
			return -1;
		bind_str(q, 1, m->id);
		if (step_done(s, q, err) == -1)
			return -1;
	}
	if ((q = stmt(s, S_MSG_INS, err)) == NULL)
		return -1;
	bind_str(q, 1, m->id);
	bind_str(q, 2, m->area);
	sqlite3_bind_int64(q, 3, m->time);
	bind_str(q, 4, m->queue_id);
	bind_str(q, 5, m->sender != NULL ? m->sender : "");
	bind_str(q, 6, m->client);
	bind_str(q, 7, m->auth_user);
	bind_str(q, 8, m->direction);
	bind_str(q, 9, m->action);
	bind_str(q, 10, m->disposition);
	bind_str(q, 11, m->summary);
	sqlite3_bind_int64(q, 12, (sqlite3_int64)m->size);
	sqlite3_bind_int64(q, 13, (sqlite3_int64)m->policy_version);
	bind_str(q, 14, m->policy_source);
	sqlite3_bind_int64(q, 15, (sqlite3_int64)m->nrcpts);
	sqlite3_bind_int64(q, 16, (sqlite3_int64)m->nfindings);
	bind_str(q, 17, f0 != NULL ? f0->rule : NULL);
	bind_str(q, 18, f0 != NULL ? f0->part : NULL);
	bind_str(q, 19, f0 != NULL ? f0->filename : NULL);
	bind_str(q, 20, f0 != NULL ? f0->detail : NULL);
	bind_str(q, 21, f0 != NULL ? f0->action : NULL);
	if (m->released_time != 0)
		sqlite3_bind_int64(q, 22, m->released_time);
	bind_str(q, 23, m->released_by);
	sqlite3_bind_int64(q, 24, store_files_hit(m, "virus", NULL));
	sqlite3_bind_int64(q, 25, store_files_hit(m, "blocked_extension",
	    "blocked_type"));
	sqlite3_bind_int64(q, 26, store_files_hit(m, "encrypted", NULL));
	bind_str(q, 27, m->node);
	if (step_done(s, q, err) == -1)
		return -1;
	for (i = 0; i < m->nrcpts; i++) {
		if ((q = stmt(s, S_RCPT_INS, err)) == NULL)
			return -1;
		bind_str(q, 1, m->id);
		sqlite3_bind_int64(q, 2, (sqlite3_int64)i);
		sqlite3_bind_int64(q, 3, m->time);
		bind_str(q, 4, m->rcpts[i]);
		if (step_done(s, q, err) == -1)
			return -1;
	}
	for (i = 0; i < m->nfindings; i++) {
		const struct qfinding *f = &m->findings[i];

		if ((q = stmt(s, S_FIND_INS, err)) == NULL)
			return -1;
		bind_str(q, 1, m->id);
		sqlite3_bind_int64(q, 2, (sqlite3_int64)i);
		sqlite3_bind_int64(q, 3, m->time);
		bind_str(q, 4, f->rule != NULL ? f->rule : "?");
		bind_str(q, 5, f->part != NULL ? f->part : "");
		bind_str(q, 6, f->filename);
		bind_str(q, 7, f->detail);
		bind_str(q, 8, f->action);
		if (step_done(s, q, err) == -1)
			return -1;
	}
	return 0;
}

/* Runs fn inside a transaction unless one is open (store_begin). */
static int
in_txn(struct sqstore *s, struct err *err,
    int (*fn)(struct sqstore *, const void *, struct err *), const void *arg)
{
	int	rc;

	if (s->in_txn)
		return fn(s, arg, err);
	if (exec_simple(s, S_BEGIN, err) == -1)
		return -1;
	rc = fn(s, arg, err);	/* 0 or 1 (nothing to do): commit */
	if (rc != -1 && exec_simple(s, S_COMMIT, err) == -1)
		rc = -1;
	if (rc == -1)
		(void)exec_simple(s, S_ROLLBACK, &(struct err)ERR_INIT);
	return rc;
}

static int
put_fn(struct sqstore *s, const void *arg, struct err *err)
{
	return put_locked(s, arg, err);
}

/* With STORE_PUT_KEEP: a record already there stays (1, nothing done). */
static int
put_keep_fn(struct sqstore *s, const void *arg, struct err *err)
{
	const struct qmeta	*m = arg;
	sqlite3_stmt		*q;
	int			 step;

	if ((q = stmt(s, S_EXISTS, err)) == NULL)
		return -1;
	bind_str(q, 1, m->id);
	step = sqlite3_step(q);
	sqlite3_reset(q);
	if (step != SQLITE_ROW && step != SQLITE_DONE)
		return db_fail(s, err, "read");
	return step == SQLITE_ROW ? 1 : put_locked(s, m, err);
}

static int
sq_put(struct store *st, const struct qmeta *m, const unsigned char *body,
    size_t len, unsigned flags, struct err *err)
{
	struct sqstore	*s = sq(st);
	int		 rc;

	(void)len;
	if (body != NULL)	/* the files hold the messages */
		return err_set(err, "database: an SQLite index keeps no "
		    "message bodies");
	pthread_mutex_lock(&s->mu);
	rc = in_txn(s, err, (flags & STORE_PUT_KEEP) ? put_keep_fn : put_fn,
	    m);
	pthread_mutex_unlock(&s->mu);
	return rc == -1 ? -1 : 0;
}

static enum quar_status
sq_get_body(struct store *st, const char *id, unsigned char **p_r,
    size_t *len_r, struct err *err)
{
	(void)st;
	(void)id;
	(void)p_r;
	(void)len_r;
	(void)err;
	return QUAR_NOTFOUND;	/* always a file */
}

static int
sq_begin(struct store *st, struct err *err)
{
	struct sqstore	*s = sq(st);
	int		 rc;

	pthread_mutex_lock(&s->mu);
	rc = exec_simple(s, S_BEGIN, err);
	if (rc == 0)
		s->in_txn = true;
	else
		pthread_mutex_unlock(&s->mu);
	return rc;	/* the lock stays held until store_commit */
}

static int
sq_commit(struct store *st, struct err *err)
{
	struct sqstore	*s = sq(st);
	int		 rc = exec_simple(s, S_COMMIT, err);

	if (rc == -1)
		(void)exec_simple(s, S_ROLLBACK, &(struct err)ERR_INIT);
	s->in_txn = false;
	pthread_mutex_unlock(&s->mu);
	return rc;
}

/* Fills m from a row of MSG_COLS; the first finding only. */
static void
row_to_meta(sqlite3_stmt *q, struct qmeta *m)
{
	memset(m, 0, sizeof *m);
	m->id = col_str(q, 0);
	m->area = col_str(q, 1);
	m->time = sqlite3_column_int64(q, 2);
	m->queue_id = col_str(q, 3);
	m->sender = col_str(q, 4);
	if (m->sender == NULL)
		m->sender = xstrdup("");
	m->client = col_str(q, 5);
	m->auth_user = col_str(q, 6);
	m->direction = col_str(q, 7);
	m->action = col_str(q, 8);
	m->disposition = col_str(q, 9);
	m->summary = col_str(q, 10);
	m->size = (uint64_t)sqlite3_column_int64(q, 11);
	m->policy_version = (uint64_t)sqlite3_column_int64(q, 12);
	m->policy_source = col_str(q, 13);
	m->nrcpts = 0;
	m->rcpts = xcalloc(1, sizeof *m->rcpts);
	m->nfindings = (size_t)sqlite3_column_int64(q, 15);
	m->findings = xcalloc(2, sizeof *m->findings);
	if (sqlite3_column_type(q, 16) != SQLITE_NULL) {
		m->findings[0].rule = col_str(q, 16);
		m->findings[0].part = col_str(q, 17);
		if (m->findings[0].part == NULL)
			m->findings[0].part = xstrdup("");
		m->findings[0].filename = col_str(q, 18);
		m->findings[0].detail = col_str(q, 19);
		m->findings[0].action = col_str(q, 20);
	} else
		m->nfindings = 0;
	m->released_time = sqlite3_column_int64(q, 21);
	m->released_by = col_str(q, 22);
	m->node = col_str(q, 23);
}

/* Every recipient and finding of m (which has only the first finding). */
static int
load_children(struct sqstore *s, struct qmeta *m, struct err *err)
{
	sqlite3_stmt	*q;
	size_t		 n = 0, i;
	int		 rc;

	if ((q = stmt(s, S_GET_RCPTS, err)) == NULL)
		return -1;
	bind_str(q, 1, m->id);
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		m->rcpts = xreallocarray(m->rcpts, m->nrcpts + 2,
		    sizeof *m->rcpts);
		m->rcpts[m->nrcpts++] = col_str(q, 0);
		m->rcpts[m->nrcpts] = NULL;
	}
	sqlite3_reset(q);
	if (rc != SQLITE_DONE)
		return db_fail(s, err, "read recipients");
	for (i = 0; i < m->nfindings; i++) {
		free(m->findings[i].rule);
		free(m->findings[i].part);
		free(m->findings[i].filename);
		free(m->findings[i].detail);
		free(m->findings[i].action);
	}
	memset(m->findings, 0, sizeof *m->findings);
	if ((q = stmt(s, S_GET_FINDS, err)) == NULL)
		return -1;
	bind_str(q, 1, m->id);
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		struct qfinding *f;

		m->findings = xreallocarray(m->findings, n + 1,
		    sizeof *m->findings);
		f = &m->findings[n++];
		f->rule = col_str(q, 0);
		f->part = col_str(q, 1);
		f->filename = col_str(q, 2);
		f->detail = col_str(q, 3);
		f->action = col_str(q, 4);
	}
	m->nfindings = n;
	sqlite3_reset(q);
	if (rc != SQLITE_DONE)
		return db_fail(s, err, "read findings");
	return 0;
}

static enum quar_status
sq_get(struct store *st, const char *id, struct qmeta **m_r,
    struct err *err)
{
	struct sqstore		*s = sq(st);
	sqlite3_stmt		*q;
	struct qmeta		*m = NULL;
	enum quar_status	 qs = QUAR_ERROR;
	int			 rc;

	*m_r = NULL;
	pthread_mutex_lock(&s->mu);
	if ((q = stmt(s, S_GET, err)) == NULL)
		goto out;
	bind_str(q, 1, id);
	rc = sqlite3_step(q);
	if (rc == SQLITE_DONE) {
		qs = QUAR_NOTFOUND;
		goto out;
	}
	if (rc != SQLITE_ROW) {
		db_fail(s, err, "read");
		goto out;
	}
	m = xcalloc(1, sizeof *m);
	row_to_meta(q, m);
	sqlite3_reset(q);
	if (load_children(s, m, err) == -1) {
		qmeta_free(&m);
		goto out;
	}
	*m_r = m;
	qs = QUAR_OK;
out:
	if (q != NULL)
		sqlite3_reset(q);
	pthread_mutex_unlock(&s->mu);
	return qs;
}

static int
sq_list(struct store *st, const struct store_query *qy, store_fn fn,
    void *ctx, size_t *n_r, bool *more_r, struct err *err)
{
	struct sqstore	*s = sq(st);
	sqlite3_stmt	*q;
	struct qmeta	 m;
	size_t		 n = 0;
	int		 rc = -1, step, r;

	*n_r = 0;
	*more_r = false;
	pthread_mutex_lock(&s->mu);
	if ((q = stmt(s, qy->area != NULL ? S_LIST_AREA : S_LIST,
	    err)) == NULL)
		goto out;
	sqlite3_bind_int64(q, 1, qy->since);
	sqlite3_bind_int64(q, 2, qy->until != 0 ? qy->until : INT64_MAX);
	/* One more than the limit tells "more" from "exactly". */
	sqlite3_bind_int64(q, 3, qy->limit != 0 ?
	    (sqlite3_int64)qy->limit + 1 : -1);
	if (qy->area != NULL)
		bind_str(q, 4, qy->area);
	while ((step = sqlite3_step(q)) == SQLITE_ROW) {
		if (qy->limit != 0 && n >= qy->limit) {
			*more_r = true;
			break;
		}
		row_to_meta(q, &m);
		r = 0;
		if (qy->full) {
			/* Children use other statements: q stays open. */
			r = load_children(s, &m, err);
		}
		if (r == 0)
			r = fn(ctx, &m, err);
		qmeta_clear(&m);
		if (r == -1)
			goto out;
		n++;
		if (r == 1)
			break;
	}
	if (step != SQLITE_ROW && step != SQLITE_DONE) {
		db_fail(s, err, "list");
		goto out;
	}
	*n_r = n;
	rc = 0;
out:
	if (q != NULL)
		sqlite3_reset(q);
	pthread_mutex_unlock(&s->mu);
	return rc;
}

static enum quar_status
sq_set_released(struct store *st, const char *id, int64_t when,
    const char *by, struct err *err)
{
	struct sqstore		*s = sq(st);
	sqlite3_stmt		*q;
	enum quar_status	 qs = QUAR_ERROR;

	pthread_mutex_lock(&s->mu);
	if ((q = stmt(s, S_RELEASE, err)) == NULL)
		goto out;
	bind_str(q, 1, id);
	sqlite3_bind_int64(q, 2, when);
	bind_str(q, 3, by);
	if (step_done(s, q, err) == 0)
		qs = sqlite3_changes(s->db) > 0 ? QUAR_OK : QUAR_NOTFOUND;
out:
	pthread_mutex_unlock(&s->mu);
	return qs;
}

/* The claim's atomic UPDATE (store_release_claim judges the rest). */
static int
sq_claim_try(struct store *st, const char *id, const char *token,
    int64_t now, unsigned flags, struct err *err)
{
	struct sqstore	*s = sq(st);
	sqlite3_stmt	*q;
	int		 r = -1;

	pthread_mutex_lock(&s->mu);
	if ((q = stmt(s, S_CLAIM, err)) == NULL)
		goto out;
	bind_str(q, 1, id);
	bind_str(q, 2, token);
	sqlite3_bind_int64(q, 3, now);
	sqlite3_bind_int64(q, 4, now - STORE_CLAIM_STALE);
	sqlite3_bind_int(q, 5, (flags & STORE_CLAIM_AGAIN) != 0);
	if (step_done(s, q, err) == 0)
		r = sqlite3_changes(s->db) > 0;
out:
	pthread_mutex_unlock(&s->mu);
	return r;
}

static void
col_text(sqlite3_stmt *q, int col, char *out, size_t outsz)
{
	const unsigned char	*t = sqlite3_column_text(q, col);

	snprintf(out, outsz, "%s", t != NULL ? (const char *)t : "?");
}

static int
sq_claim_read(struct store *st, const char *id, struct store_claim_row *row,
    struct err *err)
{
	struct sqstore	*s = sq(st);
	sqlite3_stmt	*q;
	int		 rc, r = -1;

	memset(row, 0, sizeof *row);
	pthread_mutex_lock(&s->mu);
	if ((q = stmt(s, S_CLAIM_STATE, err)) == NULL)
		goto out;
	bind_str(q, 1, id);
	rc = sqlite3_step(q);
	if (rc == SQLITE_DONE)
		r = 0;
	else if (rc != SQLITE_ROW)
		db_fail(s, err, "release state");
	else {
		r = 1;
		row->released = sqlite3_column_type(q, 0) != SQLITE_NULL;
		row->released_time = sqlite3_column_int64(q, 0);
		col_text(q, 1, row->released_by, sizeof row->released_by);
		row->releasing = sqlite3_column_type(q, 3) != SQLITE_NULL;
		row->releasing_time = sqlite3_column_int64(q, 2);
		col_text(q, 3, row->releasing_by, sizeof row->releasing_by);
	}
	sqlite3_reset(q);
out:
	pthread_mutex_unlock(&s->mu);
	return r;
}

static enum quar_status
sq_release_end(struct store *st, const char *id, const char *token,
    int64_t when, const char *by, struct err *err)
{
	struct sqstore		*s = sq(st);
	sqlite3_stmt		*q;
	enum quar_status	 qs = QUAR_ERROR;

	pthread_mutex_lock(&s->mu);
	if ((q = stmt(s, by != NULL ? S_CLAIM_DONE : S_CLAIM_UNDO,
	    err)) == NULL)
		goto out;
	bind_str(q, 1, id);
	bind_str(q, 2, token);
	if (by != NULL) {
		sqlite3_bind_int64(q, 3, when);
		bind_str(q, 4, by);
	}
	if (step_done(s, q, err) == 0)
		qs = sqlite3_changes(s->db) > 0 ? QUAR_OK : QUAR_NOTFOUND;
out:
	pthread_mutex_unlock(&s->mu);
	return qs;
}

static int
del_fn(struct sqstore *s, const void *arg, struct err *err)
{
	enum stmt_id	 del[] = { S_MSG_DEL, S_RCPT_DEL, S_FIND_DEL };
	sqlite3_stmt	*q;
	size_t		 i;
	int		 changed = 0;

	for (i = 0; i < 3; i++) {
		if ((q = stmt(s, del[i], err)) == NULL)
			return -1;
		bind_str(q, 1, arg);
		if (step_done(s, q, err) == -1)
			return -1;
		if (i == 0)
			changed = sqlite3_changes(s->db);
	}
	return changed > 0 ? 0 : 1;
}

static enum quar_status
sq_delete(struct store *st, const char *id, struct err *err)
{
	struct sqstore	*s = sq(st);
	int		 rc;

	pthread_mutex_lock(&s->mu);
	rc = in_txn(s, err, del_fn, id);
	pthread_mutex_unlock(&s->mu);
	return rc == -1 ? QUAR_ERROR : rc == 1 ? QUAR_NOTFOUND : QUAR_OK;
}

static int
sq_expire(struct store *st, int64_t cutoff, store_fn fn, void *ctx,
    size_t *n_r, struct err *err)
{
	struct sqstore	*s = sq(st);
	sqlite3_stmt	*q;
	struct qmeta	*old = NULL;
	size_t		 n = 0, i, removed = 0;
	int		 rc = -1, step, r;

	*n_r = 0;
	pthread_mutex_lock(&s->mu);
	/* Read first (the statement must end before the deletes). */
	if ((q = stmt(s, S_OLD, err)) == NULL)
		goto out;
	sqlite3_bind_int64(q, 1, cutoff);
	while ((step = sqlite3_step(q)) == SQLITE_ROW) {
		old = xreallocarray(old, n + 1, sizeof *old);
		memset(&old[n], 0, sizeof *old);
		old[n].id = col_str(q, 0);
		old[n].area = col_str(q, 1);
		old[n].time = sqlite3_column_int64(q, 2);
		old[n].sender = xstrdup("");
		n++;
	}
	sqlite3_reset(q);
	if (step != SQLITE_DONE) {
		db_fail(s, err, "expire");
		goto out;
	}
	if (n == 0) {
		rc = 0;
		goto out;
	}
	if (exec_simple(s, S_BEGIN, err) == -1)
		goto out;
	for (i = 0; i < n; i++) {
		if ((r = fn(ctx, &old[i], err)) == -1)
			break;
		if (r == 1)
			continue;
		if (del_fn(s, old[i].id, err) == -1) {
			r = -1;
			break;
		}
		removed++;
	}
	/* What was removed from disk leaves the index too, even on error. */
	if (exec_simple(s, S_COMMIT, i < n ? &(struct err)ERR_INIT : err) ==
	    -1) {
		(void)exec_simple(s, S_ROLLBACK, &(struct err)ERR_INIT);
		goto out;
	}
	*n_r = removed;
	rc = i < n ? -1 : 0;
out:
	qmeta_list_free(&old, n);
	pthread_mutex_unlock(&s->mu);
	return rc;
}

static int
sq_area_used(struct store *st, const char *area, bool *used_r,
    struct err *err)
{
	struct sqstore	*s = sq(st);
	sqlite3_stmt	*q;
	int		 rc = -1, step;

	*used_r = false;
	pthread_mutex_lock(&s->mu);
	if ((q = stmt(s, S_AREA_USED, err)) == NULL)
		goto out;
	bind_str(q, 1, area);
	step = sqlite3_step(q);
	sqlite3_reset(q);
	if (step != SQLITE_ROW && step != SQLITE_DONE) {
		db_fail(s, err, "read");
		goto out;
	}
	*used_r = step == SQLITE_ROW;
	rc = 0;
out:
	pthread_mutex_unlock(&s->mu);
	return rc;
}

/* ---- traffic ---- */

static int
traffic_fn(struct sqstore *s, const void *arg, struct err *err)
{
	const struct store_traffic	*t = arg;
	sqlite3_stmt			*q;
	sqlite3_int64			 tid;
	size_t				 i;

	if ((q = stmt(s, S_TRAFFIC_INS, err)) == NULL)
		return -1;
	sqlite3_bind_int64(q, 1, t->time);
	bind_str(q, 2, t->direction != NULL ? t->direction : "-");
	bind_str(q, 3, t->disposition != NULL ? t->disposition : "-");
	sqlite3_bind_int64(q, 4, (sqlite3_int64)t->size);
	sqlite3_bind_int64(q, 5, (sqlite3_int64)t->scan_ms);
	sqlite3_bind_int64(q, 6, (sqlite3_int64)t->nhits);
	bind_str(q, 7, t->quarantine_id);
	bind_str(q, 8, t->uid);
	bind_str(q, 9, t->node);
	if (step_done(s, q, err) == -1)
		return -1;
	if (sqlite3_changes(s->db) == 0)
		return 0;	/* that uid is there: added before */
	tid = sqlite3_last_insert_rowid(s->db);
	for (i = 0; i < t->nhits; i++) {
		if ((q = stmt(s, S_HIT_INS, err)) == NULL)
			return -1;
		sqlite3_bind_int64(q, 1, tid);
		sqlite3_bind_int64(q, 2, t->time);
		bind_str(q, 3, t->hits[i].rule != NULL ? t->hits[i].rule :
		    "?");
		bind_str(q, 4, t->hits[i].detail);
		if (step_done(s, q, err) == -1)
			return -1;
	}
	return 0;
}

static int
sq_traffic_add(struct store *st, const struct store_traffic *t,
    struct err *err)
{
	struct sqstore	*s = sq(st);
	int		 rc;

	pthread_mutex_lock(&s->mu);
	rc = in_txn(s, err, traffic_fn, t);
	pthread_mutex_unlock(&s->mu);
	return rc;
}

/* The hits of the traffic row tid at time t into *hits_r (rule, detail
 * strings owned by *hits_r: hits_free). */
static int
load_hits(struct sqstore *s, int64_t tid, int64_t t, struct store_hit **hits_r,
    size_t *n_r, struct err *err)
{
	sqlite3_stmt	*q;
	struct store_hit *h = NULL;
	size_t		 n = 0;
	int		 step;

	*hits_r = NULL;
	*n_r = 0;
	if ((q = stmt(s, S_TRAFFIC_HITS, err)) == NULL)
		return -1;
	sqlite3_bind_int64(q, 1, tid);
	sqlite3_bind_int64(q, 2, t);
	while ((step = sqlite3_step(q)) == SQLITE_ROW) {
		h = xreallocarray(h, n + 1, sizeof *h);
		h[n].rule = col_str(q, 0);
		h[n].detail = col_str(q, 1);
		n++;
	}
	sqlite3_reset(q);
	*hits_r = h;
	*n_r = n;
	if (step != SQLITE_DONE)
		return db_fail(s, err, "read traffic");
	return 0;
}

static void
hits_free(struct store_hit *h, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++) {
		free((char *)h[i].rule);
		free((char *)h[i].detail);
	}
	free(h);
}

/* A traffic row as read (strings owned). */
struct trow_read {
	struct store_traffic	 t;
	int64_t			 tid;
	char			*uid, *node, *dir, *disp, *qid;
};

static int
sq_traffic_list(struct store *st, size_t limit, store_traffic_fn fn,
    void *ctx, size_t *n_r, struct err *err)
{
	struct sqstore		*s = sq(st);
	sqlite3_stmt		*q;
	struct trow_read	*rows = NULL;
	struct store_hit	*hits;
	size_t			 n = 0, i, nh;
	int			 rc = -1, step, r = 0;

	*n_r = 0;
	pthread_mutex_lock(&s->mu);
	/* Read the rows first: the hits need a statement of their own. */
	if ((q = stmt(s, S_TRAFFIC_LIST, err)) == NULL)
		goto out;
	sqlite3_bind_int64(q, 1, (sqlite3_int64)limit);
	while ((step = sqlite3_step(q)) == SQLITE_ROW) {
		struct trow_read *w;

		rows = xreallocarray(rows, n + 1, sizeof *rows);
		w = &rows[n++];
		memset(w, 0, sizeof *w);
		w->tid = sqlite3_column_int64(q, 0);
		w->uid = col_str(q, 1);
		w->node = col_str(q, 2);
		w->t.time = sqlite3_column_int64(q, 3);
		w->dir = col_str(q, 4);
		w->disp = col_str(q, 5);
		w->t.size = (uint64_t)sqlite3_column_int64(q, 6);
		w->t.scan_ms = (uint64_t)sqlite3_column_int64(q, 7);
		w->qid = col_str(q, 8);
	}
	sqlite3_reset(q);
	if (step != SQLITE_DONE) {
		db_fail(s, err, "read traffic");
		goto out;
	}
	for (i = 0; i < n && r == 0; i++) {
		struct trow_read *w = &rows[i];

		if (load_hits(s, w->tid, w->t.time, &hits, &nh, err) == -1) {
			hits_free(hits, nh);
			goto out;
		}
		w->t.uid = w->uid;
		w->t.node = w->node;
		w->t.direction = w->dir;
		w->t.disposition = w->disp;
		w->t.quarantine_id = w->qid;
		w->t.hits = hits;
		w->t.nhits = nh;
		r = fn(ctx, &w->t, err);
		hits_free(hits, nh);
		if (r == -1)
			goto out;
		(*n_r)++;
	}
	rc = 0;
out:
	for (i = 0; i < n; i++) {
		free(rows[i].uid);
		free(rows[i].node);
		free(rows[i].dir);
		free(rows[i].disp);
		free(rows[i].qid);
	}
	free(rows);
	pthread_mutex_unlock(&s->mu);
	return rc;
}

static int
tdel_fn(struct sqstore *s, const void *arg, struct err *err)
{
	sqlite3_stmt	*q;

	if ((q = stmt(s, S_TRAFFIC_HIT_DEL, err)) == NULL)
		return -1;
	bind_str(q, 1, arg);
	if (step_done(s, q, err) == -1 ||
	    (q = stmt(s, S_TRAFFIC_DEL, err)) == NULL)
		return -1;
	bind_str(q, 1, arg);
	if (step_done(s, q, err) == -1)
		return -1;
	return sqlite3_changes(s->db) > 0 ? 0 : 1;
}

static enum quar_status
sq_traffic_delete(struct store *st, const char *uid, struct err *err)
{
	struct sqstore	*s = sq(st);
	int		 rc;

	pthread_mutex_lock(&s->mu);
	rc = in_txn(s, err, tdel_fn, uid);
	pthread_mutex_unlock(&s->mu);
	return rc == -1 ? QUAR_ERROR : rc == 1 ? QUAR_NOTFOUND : QUAR_OK;
}

static int
texp_fn(struct sqstore *s, const void *arg, struct err *err)
{
	const int64_t	*cutoff = arg;
	sqlite3_stmt	*q;

	if ((q = stmt(s, S_HIT_EXP, err)) == NULL)
		return -1;
	sqlite3_bind_int64(q, 1, *cutoff);
	if (step_done(s, q, err) == -1 ||
	    (q = stmt(s, S_TRAFFIC_EXP, err)) == NULL)
		return -1;
	sqlite3_bind_int64(q, 1, *cutoff);
	return step_done(s, q, err);
}

static int
sq_traffic_expire(struct store *st, int64_t cutoff, size_t *n_r,
    struct err *err)
{
	struct sqstore	*s = sq(st);
	int		 rc;

	*n_r = 0;
	pthread_mutex_lock(&s->mu);
	rc = in_txn(s, err, texp_fn, &cutoff);
	if (rc == 0)
		*n_r = (size_t)sqlite3_changes(s->db);
	pthread_mutex_unlock(&s->mu);
	return rc;
}

/* ---- reports ---- */

/* Runs a report query over [from, to); calls row(ctx, q) per row. */
static int
query_rows(struct sqstore *s, enum stmt_id id, int64_t from, int64_t to,
    void (*row)(void *, sqlite3_stmt *), void *ctx, size_t limit,
    size_t *n_r, struct err *err)
{
	sqlite3_stmt	*q;
	size_t		 n = 0;
	int		 step;

	if ((q = stmt(s, id, err)) == NULL)
		return -1;
	sqlite3_bind_int64(q, 1, from);
	sqlite3_bind_int64(q, 2, to);
	if (sqlite3_bind_parameter_count(q) >= 3)
		sqlite3_bind_int64(q, 3, (sqlite3_int64)limit);
	while ((step = sqlite3_step(q)) == SQLITE_ROW) {
		row(ctx, q);
		n++;
	}
	sqlite3_reset(q);
	if (step != SQLITE_DONE)
		return db_fail(s, err, "report");
	if (n_r != NULL)
		*n_r = n;
	return 0;
}

static uint64_t
col_u64(sqlite3_stmt *q, int i)
{
	return (uint64_t)sqlite3_column_int64(q, i);
}

/* ---- counting keys (top lists): open addressing, FNV-1a ---- */

struct cslot {
	char		*key;		/* NULL = empty */
	uint64_t	 count, messages;
	uint64_t	 last;		/* hash of the last message ID */
	uint64_t	 h;		/* hash of key */
};

struct counter {
	struct cslot	*v;
	size_t		 cap, n;
};

static uint64_t
fnv(const char *s)
{
	uint64_t	h = 14695981039346656037ULL;

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

static struct cslot *
counter_slot(struct counter *c, const char *key)
{
	size_t		i, j, k;
	struct cslot	*old;
	uint64_t	h = fnv(key);

	if (c->n * 2 >= c->cap) {	/* keep it at most half full */
		old = c->v;
		j = c->cap;
		c->cap = c->cap == 0 ? 1024 : c->cap * 2;
		c->v = xcalloc(c->cap, sizeof *c->v);
		for (i = 0; i < j; i++) {
			if (old[i].key == NULL)
				continue;
			for (k = old[i].h & (c->cap - 1); c->v[k].key != NULL;
			    k = (k + 1) & (c->cap - 1))
				;
			c->v[k] = old[i];
		}
		free(old);
	}
	for (i = h & (c->cap - 1); c->v[i].key != NULL;
	    i = (i + 1) & (c->cap - 1))
		if (c->v[i].h == h && strcmp(c->v[i].key, key) == 0)
			return &c->v[i];
	c->v[i].key = xstrdup(key);
	c->v[i].h = h;
	c->n++;
	return &c->v[i];
}

/* Rows of (key, message ID or NULL): files per key, and messages told
 * apart by the ID (the index gives one message's rows together). */
static void
counter_cb(void *ctx, sqlite3_stmt *q)
{
	const unsigned char	*k = sqlite3_column_text(q, 0);
	const unsigned char	*id = sqlite3_column_text(q, 1);
	struct cslot		*sl;
	uint64_t		 h;

	sl = counter_slot(ctx, k != NULL ? (const char *)k : "?");
	sl->count++;
	if (id == NULL) {
		sl->messages++;
		return;
	}
	h = fnv((const char *)id) | 1;	/* 0 is "none yet" */
	if (sl->last != h) {
		sl->last = h;
		sl->messages++;
	}
}

/* Same with an integer ID (traffic rows). */
static void
counter_tid_cb(void *ctx, sqlite3_stmt *q)
{
	const unsigned char	*k = sqlite3_column_text(q, 0);
	struct cslot		*sl;
	uint64_t		 h = (uint64_t)sqlite3_column_int64(q, 1) + 1;

	sl = counter_slot(ctx, k != NULL ? (const char *)k : "?");
	sl->count++;
	if (sl->last != h) {
		sl->last = h;
		sl->messages++;
	}
}

static int
cslot_cmp(const void *a, const void *b)
{
	const struct cslot	*x = a, *y = b;

	if ((x->key == NULL) != (y->key == NULL))
		return x->key == NULL ? 1 : -1;
	if (x->key == NULL)
		return 0;
	if (x->count != y->count)
		return x->count > y->count ? -1 : 1;
	return strcmp(x->key, y->key);
}

/* The max largest counts (files, then key) into *top_r; frees c. */
static void
counter_top(struct counter *c, size_t max, struct store_top **top_r,
    size_t *n_r)
{
	size_t	i, n = c->n < max ? c->n : max;

	if (c->cap > 0)
		qsort(c->v, c->cap, sizeof *c->v, cslot_cmp);
	*top_r = xcalloc(n + 1, sizeof **top_r);
	for (i = 0; i < n; i++) {
		(*top_r)[i].key = c->v[i].key;
		(*top_r)[i].count = c->v[i].count;
		(*top_r)[i].messages = c->v[i].messages;
		c->v[i].key = NULL;
	}
	*n_r = n;
	for (i = 0; i < c->cap; i++)
		free(c->v[i].key);
	free(c->v);
	memset(c, 0, sizeof *c);
}

/* A row of S_Q_SCAN: time, area, size, virus, blocked, encrypted files. */
static void
qscan_cb(void *ctx, sqlite3_stmt *q)
{
	struct store_report	*r = ctx;
	struct store_qrow	 a;
	const unsigned char	*area = sqlite3_column_text(q, 1);
	char			 day[32];

	store_day_key(sqlite3_column_int64(q, 0) / 86400, day, sizeof day);
	memset(&a, 0, sizeof a);
	a.messages = 1;
	a.bytes = col_u64(q, 2);
	a.virus_files = col_u64(q, 3);
	a.blocked_files = col_u64(q, 4);
	a.encrypted_files = col_u64(q, 5);
	a.virus_msgs = a.virus_files > 0;
	a.blocked_msgs = a.blocked_files > 0;
	a.encrypted_msgs = a.encrypted_files > 0;
	store_qrow_add(&r->qtotal, &a);
	store_qrow_add(store_row_for((void **)&r->qdays, &r->nqdays,
	    sizeof *r->qdays, day, &r->truncated), &a);
	store_qrow_add(store_row_for((void **)&r->qareas, &r->nqareas,
	    sizeof *r->qareas, area != NULL ? (const char *)area : "-",
	    &r->truncated), &a);
}

/* A row of S_T_SCAN: time, direction, disposition, size, ms, hits. */
static void
tscan_cb(void *ctx, sqlite3_stmt *q)
{
	struct store_report	*r = ctx;
	struct store_trow	 a;
	const unsigned char	*dir = sqlite3_column_text(q, 1);
	const unsigned char	*disp = sqlite3_column_text(q, 2);
	char			 day[32];

	store_day_key(sqlite3_column_int64(q, 0) / 86400, day, sizeof day);
	memset(&a, 0, sizeof a);
	a.messages = 1;
	a.bytes = col_u64(q, 3);
	a.scan_ms = col_u64(q, 4);
	a.files = col_u64(q, 5);
	store_trow_add(&r->ttotal, &a);
	store_trow_add(store_row_for((void **)&r->tdays, &r->ntdays,
	    sizeof *r->tdays, day, &r->truncated), &a);
	store_trow_add(store_row_for((void **)&r->tdirs, &r->ntdirs,
	    sizeof *r->tdirs, dir != NULL ? (const char *)dir : "-",
	    &r->truncated), &a);
	store_trow_add(store_row_for((void **)&r->tactions, &r->ntactions,
	    sizeof *r->tactions, disp != NULL ? (const char *)disp : "-",
	    &r->truncated), &a);
}

static int
sq_report(struct store *st, int64_t from, int64_t to,
    struct store_report **r_r, struct err *err)
{
	struct sqstore		*s = sq(st);
	struct store_report	*r = xcalloc(1, sizeof *r);
	struct counter		 c;
	struct store_top	*rules = NULL;
	size_t			 nrules = 0, i;
	struct {
		enum stmt_id	 id;
		struct store_top **v;
		size_t		*n;
	} t[] = {
		{ S_Q_VIRUSES, &r->viruses, &r->nviruses },
		{ S_Q_TYPES, &r->types, &r->ntypes },
		{ S_Q_SENDERS, &r->senders, &r->nsenders },
		{ S_Q_RCPTS, &r->rcpts, &r->nrcpts },
	};
	int	rc = -1;

	*r_r = NULL;
	memset(&c, 0, sizeof c);
	r->from = from;
	r->to = to;
	r->qtotal.key = xstrdup("all");
	r->ttotal.key = xstrdup("all");
	pthread_mutex_lock(&s->mu);
	/* One read transaction: every table sees the same snapshot. */
	if (sqlite3_exec(s->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK) {
		db_fail(s, err, "report");
		goto out;
	}
	if (query_rows(s, S_Q_SCAN, from, to, qscan_cb, r, 0, NULL,
	    err) == -1 || query_rows(s, S_T_SCAN, from, to, tscan_cb, r, 0,
	    NULL, err) == -1)
		goto rollback;
	for (i = 0; i < sizeof t / sizeof t[0]; i++) {
		if (query_rows(s, t[i].id, from, to, counter_cb, &c, 0, NULL,
		    err) == -1)
			goto rollback;
		counter_top(&c, STORE_TOP, t[i].v, t[i].n);
	}
	if (query_rows(s, S_T_RULES, from, to, counter_tid_cb, &c, 0, NULL,
	    err) == -1)
		goto rollback;
	/* Every rule (a few dozen at most), not a top list. */
	counter_top(&c, STORE_REPORT_ROWS, &rules, &nrules);
	r->trules = xcalloc(nrules + 1, sizeof *r->trules);
	for (i = 0; i < nrules; i++) {
		r->trules[i].key = rules[i].key;
		r->trules[i].messages = rules[i].messages;
		r->trules[i].files = rules[i].count;
	}
	r->ntrules = nrules;
	free(rules);
	store_report_sort(r);
	rc = 0;
rollback:
	/* frees what a failure left */
	counter_top(&c, 0, &rules, &nrules);
	free(rules);
	sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
out:
	pthread_mutex_unlock(&s->mu);
	if (rc == -1)
		store_report_free(&r);
	*r_r = r;
	return rc;
}

static const struct store_ops sq_ops = {
	.name = "sqlite",
	.shared = false,
	.close = sq_close,
	.put = sq_put,
	.begin = sq_begin,
	.commit = sq_commit,
	.get = sq_get,
	.get_body = sq_get_body,
	.list = sq_list,
	.set_released = sq_set_released,
	.claim_try = sq_claim_try,
	.claim_read = sq_claim_read,
	.release_end = sq_release_end,
	.del = sq_delete,
	.expire = sq_expire,
	.area_used = sq_area_used,
	.traffic_add = sq_traffic_add,
	.traffic_expire = sq_traffic_expire,
	.traffic_list = sq_traffic_list,
	.traffic_delete = sq_traffic_delete,
	.report = sq_report,
};
