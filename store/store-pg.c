/*
 * store/store-pg.c - the store (see store.h) in one PostgreSQL database
 * shared by several MX hosts: the only includer of <libpq-fe.h>.
 *
 * One connection per struct store, calls serialised by its mutex (the
 * daemon's threads share one). A lost connection is made again at the
 * next call, and a call that finds it lost before its first statement is
 * tried once more on the new one; a call that fails is an error for the
 * caller, which keeps the message elsewhere (store/quarantine.c falls
 * back to the local SQLite index). Every statement is prepared once per
 * connection and takes parameters: no SQL is ever built from data;
 * message bodies go as binary parameters (bytea) and come back binary.
 * The schema version is the one row of table schema_version; migrations[]
 * brings an older database up to STORE_PG_SCHEMA_VERSION in one
 * transaction under an advisory lock, so that nodes starting together
 * migrate once. Child rows (recipients, findings, body, hits) go with
 * their message or traffic row (ON DELETE CASCADE). Reports count with
 * GROUP BY in the server, in one read-only snapshot.
 */
#include "config.h"

#include <assert.h>
#include <errno.h>
#include <stdint.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "store-impl.h"
#include "util.h"

#define PG_CONNECT_TIMEOUT	"5"	/* seconds, unless the conninfo says */
#define PG_BATCH		1000	/* rows read per round trip (list) */
#define PG_MIGRATE_LOCK		"7262851"	/* advisory lock key */
#define PG_MAXARGS		32

/* migrations[v] takes a database from version v to v + 1. */
static const char *const migrations[] = {
	/* 0 -> 1 */
	"CREATE TABLE message("
	" id TEXT COLLATE \"C\" PRIMARY KEY, node TEXT, area TEXT NOT NULL,"
	" time BIGINT NOT NULL, queue_id TEXT, sender TEXT NOT NULL,"
	" client TEXT, auth_user TEXT, direction TEXT, action TEXT,"
	" disposition TEXT, summary TEXT, size BIGINT NOT NULL,"
	" policy_version BIGINT NOT NULL, policy_source TEXT,"
	" nrcpts INTEGER NOT NULL, nfindings INTEGER NOT NULL,"
	" virus_files INTEGER NOT NULL, blocked_files INTEGER NOT NULL,"
	" encrypted_files INTEGER NOT NULL,"
	" first_rule TEXT, first_part TEXT, first_file TEXT,"
	" first_detail TEXT, first_action TEXT,"
	" released_time BIGINT, released_by TEXT);"
	"CREATE INDEX message_time ON message(time, id);"
	"CREATE INDEX message_area_time ON message(area, time, id);"
	"CREATE TABLE recipient(id TEXT COLLATE \"C\" NOT NULL"
	" REFERENCES message(id) ON DELETE CASCADE, n INTEGER NOT NULL, time BIGINT NOT NULL,"
	" addr TEXT NOT NULL, PRIMARY KEY(id, n));"
	"CREATE INDEX recipient_time ON recipient(time);"
	"CREATE TABLE finding(id TEXT COLLATE \"C\" NOT NULL"
	" REFERENCES message(id) ON DELETE CASCADE, n INTEGER NOT NULL, time BIGINT NOT NULL,"
	" rule TEXT NOT NULL, part TEXT NOT NULL, filename TEXT, detail TEXT,"
	" action TEXT, PRIMARY KEY(id, n));"
	"CREATE INDEX finding_rule_time ON finding(rule, time);"
	"CREATE TABLE body(id TEXT COLLATE \"C\" PRIMARY KEY"
	" REFERENCES message(id) ON DELETE CASCADE, data BYTEA NOT NULL);"
	"CREATE TABLE traffic(tid BIGSERIAL PRIMARY KEY,"
	" uid TEXT NOT NULL UNIQUE, node TEXT, time BIGINT NOT NULL,"
	" direction TEXT NOT NULL, disposition TEXT NOT NULL,"
	" size BIGINT NOT NULL, scan_ms BIGINT NOT NULL,"
	" nhits INTEGER NOT NULL, quarantine_id TEXT);"
	"CREATE INDEX traffic_time ON traffic(time);"
	"CREATE TABLE traffic_hit(tid BIGINT NOT NULL REFERENCES traffic(tid)"
	" ON DELETE CASCADE, time BIGINT NOT NULL, rule TEXT NOT NULL,"
	" detail TEXT);"
	"CREATE INDEX traffic_hit_time ON traffic_hit(time, rule);"
	"CREATE INDEX traffic_hit_tid ON traffic_hit(tid);",
	/* 1 -> 2: the claim of a release in progress, so that a release
	 * happens once, whichever node asks (store_release_claim) */
	"ALTER TABLE message ADD COLUMN releasing_by TEXT,"
	" ADD COLUMN releasing_time BIGINT;",
	/* 2 -> 3: covering indexes, so that a report reads only them
	 * (index-only scans) at a million records */
	"CREATE INDEX message_report ON message(time) INCLUDE (area, size,"
	" virus_files, blocked_files, encrypted_files, sender);"
	"DROP INDEX finding_rule_time;"
	"CREATE INDEX finding_rule_time ON finding(rule, time)"
	" INCLUDE (detail, id);"
	"DROP INDEX recipient_time;"
	"CREATE INDEX recipient_time ON recipient(time) INCLUDE (addr);"
	"DROP INDEX traffic_time;"
	"CREATE INDEX traffic_time ON traffic(time) INCLUDE (direction,"
	" disposition, size, scan_ms, nhits);"
	"DROP INDEX traffic_hit_time;"
	"CREATE INDEX traffic_hit_time ON traffic_hit(time)"
	" INCLUDE (rule, tid);",
};

enum stmt_id {
	S_MSG_INS, S_MSG_INS_KEEP, S_MSG_DEL, S_RCPT_INS, S_FIND_INS,
	S_BODY_INS, S_BODY_GET,
	S_GET, S_GET_RCPTS, S_GET_FINDS,
	S_LIST, S_LIST_AREA, S_OLD, S_RELEASE, S_AREA_USED,
	S_CLAIM, S_CLAIM_STATE, S_CLAIM_DONE, S_CLAIM_UNDO,
	S_TRAFFIC_INS, S_HIT_INS, S_TRAFFIC_EXP, S_TRAFFIC_LIST,
	S_TRAFFIC_HITS, S_TRAFFIC_DEL,
	S_Q_SCAN, S_Q_VIRUSES, S_Q_TYPES, S_Q_SENDERS, S_Q_RCPTS,
	S_T_SCAN, S_T_RULES,
	S__N
};

#define MSG_COLS "id, area, time, queue_id, sender, client, auth_user," \
	" direction, action, disposition, summary, size, policy_version," \
	" policy_source, nrcpts, nfindings, first_rule, first_part," \
	" first_file, first_detail, first_action, released_time," \
	" released_by, node"
#define MSG_INS "INSERT INTO message(" MSG_COLS ", virus_files," \
	" blocked_files, encrypted_files) VALUES ($1, $2, $3, $4, $5, $6," \
	" $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19," \
	" $20, $21, $22, $23, $24, $25, $26, $27)"
/* A top list: key, files (rows), messages; ties by key, bytewise (the
 * keys are selected COLLATE "C"). */
#define TOP_TAIL " GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 10"

static const char *const sql[S__N] = {
	[S_MSG_INS] = MSG_INS,
	[S_MSG_INS_KEEP] = MSG_INS " ON CONFLICT (id) DO NOTHING",
	[S_MSG_DEL] = "DELETE FROM message WHERE id = $1",
	[S_RCPT_INS] = "INSERT INTO recipient(id, n, time, addr)"
	    " VALUES ($1, $2, $3, $4)",
	[S_FIND_INS] = "INSERT INTO finding(id, n, time, rule, part,"
	    " filename, detail, action) VALUES ($1, $2, $3, $4, $5, $6, $7,"
	    " $8)",
	[S_BODY_INS] = "INSERT INTO body(id, data) VALUES ($1, $2)",
	[S_BODY_GET] = "SELECT data FROM body WHERE id = $1",
	[S_GET] = "SELECT " MSG_COLS " FROM message WHERE id = $1",
	[S_GET_RCPTS] = "SELECT addr FROM recipient WHERE id = $1 ORDER BY n",
	[S_GET_FINDS] = "SELECT rule, part, filename, detail, action"
	    " FROM finding WHERE id = $1 ORDER BY n",
	/* Keyset pages: rows after ($4, $5) in (time, id) order. */
	[S_LIST] = "SELECT " MSG_COLS " FROM message WHERE time >= $1"
	    " AND time < $2 AND (time, id) > ($4, $5)"
	    " ORDER BY time, id LIMIT $3",
	[S_LIST_AREA] = "SELECT " MSG_COLS " FROM message WHERE area = $6"
	    " AND time >= $1 AND time < $2 AND (time, id) > ($4, $5)"
	    " ORDER BY time, id LIMIT $3",
	[S_OLD] = "SELECT id, area, time FROM message WHERE time < $1"
	    " AND (time, id) > ($2, $3) ORDER BY time, id LIMIT 1000",
	[S_RELEASE] = "UPDATE message SET released_time = $2,"
	    " released_by = $3 WHERE id = $1",
	[S_AREA_USED] = "SELECT 1 FROM message WHERE area = $1 LIMIT 1",
	/* Atomic: a second UPDATE of the row waits for the first to commit,
	 * then finds its condition false (READ COMMITTED re-checks it). */
	[S_CLAIM] = "UPDATE message SET releasing_by = $2,"
	    " releasing_time = $3 WHERE id = $1"
	    " AND (releasing_by IS NULL OR releasing_time < $4)"
	    " AND (released_time IS NULL OR $5::boolean)",
	[S_CLAIM_STATE] = "SELECT released_time, released_by,"
	    " releasing_time, releasing_by FROM message WHERE id = $1",
	[S_CLAIM_DONE] = "UPDATE message SET released_time = $3,"
	    " released_by = $4, releasing_by = NULL, releasing_time = NULL"
	    " WHERE id = $1 AND releasing_by = $2",
	[S_CLAIM_UNDO] = "UPDATE message SET releasing_by = NULL,"
	    " releasing_time = NULL WHERE id = $1 AND releasing_by = $2",
	[S_TRAFFIC_INS] = "INSERT INTO traffic(uid, node, time, direction,"
	    " disposition, size, scan_ms, nhits, quarantine_id) VALUES ($1,"
	    " $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (uid) DO NOTHING"
	    " RETURNING tid",
	[S_HIT_INS] = "INSERT INTO traffic_hit(tid, time, rule, detail)"
	    " VALUES ($1, $2, $3, $4)",
	[S_TRAFFIC_EXP] = "DELETE FROM traffic WHERE time < $1",
	[S_TRAFFIC_LIST] = "SELECT tid, uid, node, time, direction,"
	    " disposition, size, scan_ms, quarantine_id FROM traffic"
	    " ORDER BY tid LIMIT $1",
	[S_TRAFFIC_HITS] = "SELECT rule, detail FROM traffic_hit"
	    " WHERE tid = $1",
	[S_TRAFFIC_DEL] = "DELETE FROM traffic WHERE uid = $1",
	[S_Q_SCAN] = "SELECT time / 86400, area COLLATE \"C\", count(*),"
	    " sum(size),"
	    " count(*) FILTER (WHERE virus_files > 0), sum(virus_files),"
	    " count(*) FILTER (WHERE blocked_files > 0), sum(blocked_files),"
	    " count(*) FILTER (WHERE encrypted_files > 0),"
	    " sum(encrypted_files) FROM message WHERE time >= $1"
	    " AND time < $2 GROUP BY 1, 2 ORDER BY 1, 2",
	/* Files and messages: counted per (key, message) first, so that
	 * no count(DISTINCT) sorts the rows. */
	[S_Q_VIRUSES] = "SELECT k COLLATE \"C\", sum(n), count(*) FROM"
	    " (SELECT coalesce(detail, '?') AS k, id, count(*) AS n"
	    " FROM finding WHERE rule = 'virus'"
	    " AND time >= $1 AND time < $2 GROUP BY 1, 2) AS x" TOP_TAIL,
	[S_Q_TYPES] = "SELECT k COLLATE \"C\", sum(n), count(*) FROM"
	    " (SELECT coalesce(detail, '?') AS k, id, count(*) AS n"
	    " FROM finding"
	    " WHERE rule IN ('blocked_extension', 'blocked_type')"
	    " AND time >= $1 AND time < $2 GROUP BY 1, 2) AS x" TOP_TAIL,
	[S_Q_SENDERS] = "SELECT sender COLLATE \"C\", count(*), count(*)"
	    " FROM message"
	    " WHERE time >= $1 AND time < $2" TOP_TAIL,
	[S_Q_RCPTS] = "SELECT addr COLLATE \"C\", count(*), count(*)"
	    " FROM recipient"
	    " WHERE time >= $1 AND time < $2" TOP_TAIL,
	[S_T_SCAN] = "SELECT time / 86400, direction COLLATE \"C\","
	    " disposition COLLATE \"C\", count(*), sum(size), sum(scan_ms),"
	    " sum(nhits) FROM traffic"
	    " WHERE time >= $1 AND time < $2 GROUP BY 1, 2, 3"
	    " ORDER BY 1, 2, 3",
	[S_T_RULES] = "SELECT k COLLATE \"C\", sum(n), count(*) FROM"
	    " (SELECT rule AS k, tid, count(*) AS n FROM traffic_hit"
	    " WHERE time >= $1 AND time < $2 GROUP BY 1, 2) AS x"
	    " GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 5001",
};

struct pgstore {
	struct store	 base;		/* first: the backend's ops */
	PGconn		*conn;
	char		*conninfo;
	bool		 prepared[S__N];	/* on this connection */
	pthread_mutex_t	 mu;
	bool		 in_txn;	/* store_begin .. store_commit */
};

/* Parameters of one statement (text, but binary for a body). */
struct args {
	const char	*v[PG_MAXARGS];
	int		 len[PG_MAXARGS];
	int		 fmt[PG_MAXARGS];
	char		 num[PG_MAXARGS][24];
	int		 n;
};

static const struct store_ops pg_ops;
static void	pg_close(struct store *);

static struct pgstore *
pg(struct store *st)
{
	return (struct pgstore *)st;
}

static void
a_str(struct args *a, const char *v)
{
	assert(a->n < PG_MAXARGS);
	a->v[a->n] = v;		/* NULL is SQL NULL */
	a->len[a->n] = 0;
	a->fmt[a->n++] = 0;
}

static void
a_i64(struct args *a, int64_t x)
{
	assert(a->n < PG_MAXARGS);
	snprintf(a->num[a->n], sizeof a->num[a->n], "%lld", (long long)x);
	a_str(a, a->num[a->n]);
}

static void
a_bin(struct args *a, const unsigned char *p, size_t len)
{
	assert(a->n < PG_MAXARGS && len <= INT32_MAX);
	a->v[a->n] = (const char *)p;
	a->len[a->n] = (int)len;
	a->fmt[a->n++] = 1;
}

/* The server's last message, one line, into err. */
static int
pg_fail(struct pgstore *s, struct err *err, const char *what)
{
	char	msg[ERR_MSG_MAX], *nl;

	snprintf(msg, sizeof msg, "%s", s->conn != NULL ?
	    PQerrorMessage(s->conn) : "no connection");
	for (nl = msg; *nl != '\0'; nl++)	/* one line for the log */
		if (*nl == '\n' || *nl == '\t')
			*nl = nl[1] != '\0' ? ' ' : '\0';
	return err_set(err, "PostgreSQL: %s: %s", what, msg);
}

static bool
conn_ok(const struct pgstore *s)
{
	return s->conn != NULL && PQstatus(s->conn) == CONNECTION_OK;
}

static void
notice_quiet(void *arg, const char *msg)
{
	(void)arg;
	(void)msg;
}

/* Connects (again); 0, or -1 with err. */
static int
pg_connect(struct pgstore *s, struct err *err)
{
	/* Defaults first: the connection string's own settings win. */
	const char *const keys[] = { "connect_timeout", "application_name",
	    "dbname", NULL };
	const char *const vals[] = { PG_CONNECT_TIMEOUT, "portcullis",
	    s->conninfo, NULL };

	if (s->conn != NULL)
		PQfinish(s->conn);
	memset(s->prepared, 0, sizeof s->prepared);
	s->conn = PQconnectdbParams(keys, vals, 1);
	if (s->conn == NULL)
		return err_set(err, "PostgreSQL: out of memory");
	if (PQstatus(s->conn) != CONNECTION_OK)
		return pg_fail(s, err, "connect");
	/* The server's notices ("already exists, skipping") are not ours
	 * to print on the daemon's or portcullisctl's stderr. */
	PQsetNoticeProcessor(s->conn, notice_quiet, NULL);
	return 0;
}

static int
ready(struct pgstore *s, struct err *err)
{
	return conn_ok(s) ? 0 : pg_connect(s, err);
}

/* Runs statement id with a's parameters; binres asks for binary
 * results. The result (PQclear), or NULL with err. */
static PGresult *
run_once(struct pgstore *s, enum stmt_id id, const struct args *a,
    int binres, struct err *err)
{
	PGresult	*r;
	char		 name[16];
	ExecStatusType	 rs;

	if (ready(s, err) == -1)
		return NULL;
	snprintf(name, sizeof name, "s%d", (int)id);
	if (!s->prepared[id]) {
		r = PQprepare(s->conn, name, sql[id], 0, NULL);
		if (r == NULL || PQresultStatus(r) != PGRES_COMMAND_OK) {
			PQclear(r);
			pg_fail(s, err, "prepare");
			return NULL;
		}
		PQclear(r);
		s->prepared[id] = true;
	}
	r = PQexecPrepared(s->conn, name, a != NULL ? a->n : 0,
	    a != NULL ? a->v : NULL, a != NULL ? a->len : NULL,
	    a != NULL ? a->fmt : NULL, binres);
	rs = r != NULL ? PQresultStatus(r) : PGRES_FATAL_ERROR;
	if (rs != PGRES_COMMAND_OK && rs != PGRES_TUPLES_OK) {
		PQclear(r);
		pg_fail(s, err, "statement");
		return NULL;
	}
	return r;
}

/* run_once, and once more on a new connection when the one that was up
 * was found lost outside a transaction (the server restarted meanwhile);
 * a server that cannot be reached is tried once, not twice. */
static PGresult *
run(struct pgstore *s, enum stmt_id id, const struct args *a, int binres,
    struct err *err)
{
	bool		 was_up = conn_ok(s);
	PGresult	*r = run_once(s, id, a, binres, err);

	if (r == NULL && was_up && !s->in_txn && !conn_ok(s))
		r = run_once(s, id, a, binres, err);
	return r;
}

/* A statement of its own (BEGIN, COMMIT, ROLLBACK). */
static int
simple(struct pgstore *s, const char *what, struct err *err)
{
	PGresult	*r;
	int		 rc = 0;

	if (ready(s, err) == -1)
		return -1;
	r = PQexec(s->conn, what);
	if (r == NULL || PQresultStatus(r) != PGRES_COMMAND_OK)
		rc = pg_fail(s, err, what);
	PQclear(r);
	return rc;
}

/* BEGIN, once more on a new connection if the one that was up was
 * lost. */
static int
begin_txn(struct pgstore *s, const char *what, struct err *err)
{
	bool	was_up = conn_ok(s);

	if (simple(s, what, err) == 0)
		return 0;
	if (was_up && !conn_ok(s))
		return simple(s, what, err);
	return -1;
}

static char *
val_str(const PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col) ? NULL :
	    xstrdup(PQgetvalue(r, row, col));
}

static int64_t
val_i64(const PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col) ? 0 :
	    (int64_t)strtoll(PQgetvalue(r, row, col), NULL, 10);
}

static int
migrate(struct pgstore *s, unsigned flags, struct err *err)
{
	PGresult	*r;
	int		 v = -1;
	size_t		 i;
	char		 q[128];

	r = PQexec(s->conn, "SELECT version FROM schema_version");
	if (r != NULL && PQresultStatus(r) == PGRES_TUPLES_OK &&
	    PQntuples(r) == 1)
		v = (int)val_i64(r, 0, 0);
	PQclear(r);
	if (v > STORE_PG_SCHEMA_VERSION)
		return err_set(err, "PostgreSQL: schema version %d is newer "
		    "than this program's (%d)", v, STORE_PG_SCHEMA_VERSION);
	if (v == STORE_PG_SCHEMA_VERSION)
		return 0;
	if (flags & STORE_READONLY)
		return err_set(err, "PostgreSQL: the database holds no "
		    "quarantine of schema version %d yet (start the daemon, or "
		    "run \"portcullisctl sync\", to create it)",
		    STORE_PG_SCHEMA_VERSION);
	if (simple(s, "BEGIN", err) == -1)
		return -1;
	r = PQexec(s->conn, "SELECT pg_advisory_xact_lock(" PG_MIGRATE_LOCK
	    ")");
	if (r == NULL || PQresultStatus(r) != PGRES_TUPLES_OK)
		goto fail;
	PQclear(r);
	r = PQexec(s->conn, "CREATE TABLE IF NOT EXISTS schema_version("
	    "version INTEGER NOT NULL)");
	if (r == NULL || PQresultStatus(r) != PGRES_COMMAND_OK)
		goto fail;
	PQclear(r);
	/* Another node may have migrated while we waited for the lock. */
	r = PQexec(s->conn, "SELECT version FROM schema_version");
	if (r == NULL || PQresultStatus(r) != PGRES_TUPLES_OK)
		goto fail;
	v = PQntuples(r) == 1 ? (int)val_i64(r, 0, 0) : 0;
	PQclear(r);
	r = NULL;
	for (i = (size_t)v; i < sizeof migrations / sizeof migrations[0];
	    i++) {
		r = PQexec(s->conn, migrations[i]);
		if (r == NULL || PQresultStatus(r) != PGRES_COMMAND_OK)
			goto fail;
		PQclear(r);
	}
	/* UNSAFE: an integer into a fixed statement, not data. */
	snprintf(q, sizeof q, "DELETE FROM schema_version; INSERT INTO "
	    "schema_version VALUES (%d)", STORE_PG_SCHEMA_VERSION);
	r = PQexec(s->conn, q);
	if (r == NULL || PQresultStatus(r) != PGRES_COMMAND_OK)
		goto fail;
	PQclear(r);
	return simple(s, "COMMIT", err);
fail:
	PQclear(r);
	pg_fail(s, err, "migration");
	(void)simple(s, "ROLLBACK", &(struct err)ERR_INIT);
	return -1;
}

int
store_open_pg(const char *conninfo, unsigned flags, struct store **st_r,
    struct err *err)
{
	struct pgstore		*s;
	pthread_mutexattr_t	 ma;

	*st_r = NULL;
	if (conninfo == NULL || conninfo[0] == '\0')
		return err_set(err, "no PostgreSQL database configured");
	s = xcalloc(1, sizeof *s);
	s->base.ops = &pg_ops;
	s->conninfo = xstrdup(conninfo);
	/* Recursive: store_begin holds it until store_commit. */
	pthread_mutexattr_init(&ma);
	pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_RECURSIVE);
	pthread_mutex_init(&s->mu, &ma);
	pthread_mutexattr_destroy(&ma);
	if (pg_connect(s, err) == -1 || migrate(s, flags, err) == -1) {
		pg_close(&s->base);
		return -1;
	}
	*st_r = &s->base;
	return 0;
}

static void
pg_close(struct store *st)
{
	struct pgstore	*s = pg(st);

	if (s->conn != NULL)
		PQfinish(s->conn);
	pthread_mutex_destroy(&s->mu);
	free(s->conninfo);
	free(s);
}

/* Runs fn inside a transaction unless one is open (store_begin). fn
 * returns 0 or 1 (nothing to do): both commit. */
static int
in_txn(struct pgstore *s, struct err *err,
    int (*fn)(struct pgstore *, const void *, struct err *), const void *arg)
{
	int	rc;

	if (s->in_txn)
		return fn(s, arg, err);
	if (begin_txn(s, "BEGIN", err) == -1)
		return -1;
	s->in_txn = true;
	rc = fn(s, arg, err);
	s->in_txn = false;
	if (rc != -1 && simple(s, "COMMIT", err) == -1)
		rc = -1;
	if (rc == -1 && conn_ok(s))
		(void)simple(s, "ROLLBACK", &(struct err)ERR_INIT);
	return rc;
}

/* Runs id and forgets the result; *n_r (may be NULL): rows affected. */
static int
run_done(struct pgstore *s, enum stmt_id id, const struct args *a,
    int64_t *n_r, struct err *err)
{
	PGresult	*r = run(s, id, a, 0, err);

	if (r == NULL)
		return -1;
	if (n_r != NULL)
		*n_r = (int64_t)strtoll(PQcmdTuples(r), NULL, 10);
	PQclear(r);
	return 0;
}

/* ---- records ---- */

struct put_arg {
	const struct qmeta	*m;
	const unsigned char	*body;
	size_t			 len;
	unsigned		 flags;
};

static int
put_fn(struct pgstore *s, const void *arg, struct err *err)
{
	const struct put_arg	*p = arg;
	const struct qmeta	*m = p->m;
	const struct qfinding	*f0 = m->nfindings > 0 ? &m->findings[0] :
				    NULL;
	struct args		 a;
	int64_t			 n;
	size_t			 i;

	if (!(p->flags & STORE_PUT_KEEP)) {
		memset(&a, 0, sizeof a);
		a_str(&a, m->id);
		if (run_done(s, S_MSG_DEL, &a, NULL, err) == -1)
			return -1;
	}
	memset(&a, 0, sizeof a);
	a_str(&a, m->id);
	a_str(&a, m->area);
	a_i64(&a, m->time);
	a_str(&a, m->queue_id);
	a_str(&a, m->sender != NULL ? m->sender : "");
	a_str(&a, m->client);
	a_str(&a, m->auth_user);
	a_str(&a, m->direction);
	a_str(&a, m->action);
	a_str(&a, m->disposition);
	a_str(&a, m->summary);
	a_i64(&a, (int64_t)m->size);
	a_i64(&a, (int64_t)m->policy_version);
	a_str(&a, m->policy_source);
	a_i64(&a, (int64_t)m->nrcpts);
	a_i64(&a, (int64_t)m->nfindings);
	a_str(&a, f0 != NULL ? f0->rule : NULL);
	a_str(&a, f0 != NULL ? f0->part : NULL);
	a_str(&a, f0 != NULL ? f0->filename : NULL);
	a_str(&a, f0 != NULL ? f0->detail : NULL);
	a_str(&a, f0 != NULL ? f0->action : NULL);
	if (m->released_time != 0)
		a_i64(&a, m->released_time);
	else
		a_str(&a, NULL);
	a_str(&a, m->released_by);
	a_str(&a, m->node);
	a_i64(&a, store_files_hit(m, "virus", NULL));
	a_i64(&a, store_files_hit(m, "blocked_extension", "blocked_type"));
	a_i64(&a, store_files_hit(m, "encrypted", NULL));
	if (run_done(s, (p->flags & STORE_PUT_KEEP) ? S_MSG_INS_KEEP :
	    S_MSG_INS, &a, &n, err) == -1)
		return -1;
	if (n == 0)
		return 1;	/* kept: the record is there already */
	for (i = 0; i < m->nrcpts; i++) {
		memset(&a, 0, sizeof a);
		a_str(&a, m->id);
		a_i64(&a, (int64_t)i);
		a_i64(&a, m->time);
		a_str(&a, m->rcpts[i]);
		if (run_done(s, S_RCPT_INS, &a, NULL, err) == -1)
			return -1;
	}
	for (i = 0; i < m->nfindings; i++) {
		const struct qfinding *f = &m->findings[i];

		memset(&a, 0, sizeof a);
		a_str(&a, m->id);
		a_i64(&a, (int64_t)i);
		a_i64(&a, m->time);
		a_str(&a, f->rule != NULL ? f->rule : "?");
		a_str(&a, f->part != NULL ? f->part : "");
		a_str(&a, f->filename);
		a_str(&a, f->detail);
		a_str(&a, f->action);
		if (run_done(s, S_FIND_INS, &a, NULL, err) == -1)
			return -1;
	}
	if (p->body != NULL) {
		memset(&a, 0, sizeof a);
		a_str(&a, m->id);
		a_bin(&a, p->body, p->len);
		if (run_done(s, S_BODY_INS, &a, NULL, err) == -1)
			return -1;
	}
	return 0;
}

static int
pg_put(struct store *st, const struct qmeta *m, const unsigned char *body,
    size_t len, unsigned flags, struct err *err)
{
	struct pgstore	*s = pg(st);
	struct put_arg	 p = { m, body, len, flags };
	int		 rc;

	if (len > INT32_MAX)
		return err_set(err, "PostgreSQL: message too large for one "
		    "parameter");
	pthread_mutex_lock(&s->mu);
	rc = in_txn(s, err, put_fn, &p);
	pthread_mutex_unlock(&s->mu);
	return rc == -1 ? -1 : 0;
}

static int
pg_begin(struct store *st, struct err *err)
{
	struct pgstore	*s = pg(st);

	pthread_mutex_lock(&s->mu);
	if (begin_txn(s, "BEGIN", err) == -1) {
		pthread_mutex_unlock(&s->mu);
		return -1;
	}
	s->in_txn = true;
	return 0;	/* the lock stays held until store_commit */
}

static int
pg_commit(struct store *st, struct err *err)
{
	struct pgstore	*s = pg(st);
	int		 rc = simple(s, "COMMIT", err);

	if (rc == -1 && conn_ok(s))
		(void)simple(s, "ROLLBACK", &(struct err)ERR_INIT);
	s->in_txn = false;
	pthread_mutex_unlock(&s->mu);
	return rc;
}

/* Fills m from row i of a MSG_COLS result; the first finding only. */
static void
row_to_meta(const PGresult *r, int i, struct qmeta *m)
{
	memset(m, 0, sizeof *m);
	m->id = val_str(r, i, 0);
	m->area = val_str(r, i, 1);
	m->time = val_i64(r, i, 2);
	m->queue_id = val_str(r, i, 3);
	if ((m->sender = val_str(r, i, 4)) == NULL)
		m->sender = xstrdup("");
	m->client = val_str(r, i, 5);
	m->auth_user = val_str(r, i, 6);
	m->direction = val_str(r, i, 7);
	m->action = val_str(r, i, 8);
	m->disposition = val_str(r, i, 9);
	m->summary = val_str(r, i, 10);
	m->size = (uint64_t)val_i64(r, i, 11);
	m->policy_version = (uint64_t)val_i64(r, i, 12);
	m->policy_source = val_str(r, i, 13);
	m->rcpts = xcalloc(1, sizeof *m->rcpts);
	m->nfindings = (size_t)val_i64(r, i, 15);
	m->findings = xcalloc(2, sizeof *m->findings);
	if (!PQgetisnull(r, i, 16)) {
		m->findings[0].rule = val_str(r, i, 16);
		if ((m->findings[0].part = val_str(r, i, 17)) == NULL)
			m->findings[0].part = xstrdup("");
		m->findings[0].filename = val_str(r, i, 18);
		m->findings[0].detail = val_str(r, i, 19);
		m->findings[0].action = val_str(r, i, 20);
	} else
		m->nfindings = 0;
	m->released_time = val_i64(r, i, 21);
	m->released_by = val_str(r, i, 22);
	m->node = val_str(r, i, 23);
}

/* Every recipient and finding of m (which has only the first finding). */
static int
load_children(struct pgstore *s, struct qmeta *m, struct err *err)
{
	PGresult	*r;
	struct args	 a;
	size_t		 i, n;

	memset(&a, 0, sizeof a);
	a_str(&a, m->id);
	if ((r = run(s, S_GET_RCPTS, &a, 0, err)) == NULL)
		return -1;
	n = (size_t)PQntuples(r);
	free(m->rcpts);
	m->rcpts = xcalloc(n + 1, sizeof *m->rcpts);
	for (i = 0; i < n; i++)
		m->rcpts[i] = val_str(r, (int)i, 0);
	m->nrcpts = n;
	PQclear(r);
	if ((r = run(s, S_GET_FINDS, &a, 0, err)) == NULL)
		return -1;
	for (i = 0; i < m->nfindings; i++) {
		free(m->findings[i].rule);
		free(m->findings[i].part);
		free(m->findings[i].filename);
		free(m->findings[i].detail);
		free(m->findings[i].action);
	}
	free(m->findings);
	n = (size_t)PQntuples(r);
	m->findings = xcalloc(n + 1, sizeof *m->findings);
	for (i = 0; i < n; i++) {
		m->findings[i].rule = val_str(r, (int)i, 0);
		m->findings[i].part = val_str(r, (int)i, 1);
		m->findings[i].filename = val_str(r, (int)i, 2);
		m->findings[i].detail = val_str(r, (int)i, 3);
		m->findings[i].action = val_str(r, (int)i, 4);
	}
	m->nfindings = n;
	PQclear(r);
	return 0;
}

static enum quar_status
pg_get(struct store *st, const char *id, struct qmeta **m_r,
    struct err *err)
{
	struct pgstore		*s = pg(st);
	PGresult		*r;
	struct qmeta		*m;
	struct args		 a;
	enum quar_status	 qs = QUAR_ERROR;

	*m_r = NULL;
	memset(&a, 0, sizeof a);
	a_str(&a, id);
	pthread_mutex_lock(&s->mu);
	if ((r = run(s, S_GET, &a, 0, err)) == NULL)
		goto out;
	if (PQntuples(r) == 0) {
		qs = QUAR_NOTFOUND;
		PQclear(r);
		goto out;
	}
	m = xcalloc(1, sizeof *m);
	row_to_meta(r, 0, m);
	PQclear(r);
	if (load_children(s, m, err) == -1) {
		qmeta_free(&m);
		goto out;
	}
	*m_r = m;
	qs = QUAR_OK;
out:
	pthread_mutex_unlock(&s->mu);
	return qs;
}

static enum quar_status
pg_get_body(struct store *st, const char *id, unsigned char **p_r,
    size_t *len_r, struct err *err)
{
	struct pgstore		*s = pg(st);
	PGresult		*r;
	struct args		 a;
	enum quar_status	 qs = QUAR_ERROR;
	size_t			 len;

	memset(&a, 0, sizeof a);
	a_str(&a, id);
	pthread_mutex_lock(&s->mu);
	if ((r = run(s, S_BODY_GET, &a, 1, err)) == NULL)
		goto out;
	if (PQntuples(r) == 0)
		qs = QUAR_NOTFOUND;
	else {
		len = (size_t)PQgetlength(r, 0, 0);
		*p_r = xmalloc(len + 1);
		memcpy(*p_r, PQgetvalue(r, 0, 0), len);
		(*p_r)[len] = '\0';
		*len_r = len;
		qs = QUAR_OK;
	}
	PQclear(r);
out:
	pthread_mutex_unlock(&s->mu);
	return qs;
}

static int
pg_list(struct store *st, const struct store_query *qy, store_fn fn,
    void *ctx, size_t *n_r, bool *more_r, struct err *err)
{
	struct pgstore	*s = pg(st);
	PGresult	*r = NULL;
	struct qmeta	 m;
	struct args	 a;
	int64_t		 last_t = qy->since - 1;
	char		*last_id = xstrdup("");
	size_t		 n = 0, want;
	int		 rc = -1, i, rows, x = 0;

	*n_r = 0;
	*more_r = false;
	pthread_mutex_lock(&s->mu);
	for (;;) {
		/* One more than the limit tells "more" from "exactly". */
		want = PG_BATCH;
		if (qy->limit != 0 && qy->limit + 1 - n < want)
			want = qy->limit + 1 - n;
		memset(&a, 0, sizeof a);
		a_i64(&a, qy->since);
		a_i64(&a, qy->until != 0 ? qy->until : INT64_MAX);
		a_i64(&a, (int64_t)want);
		a_i64(&a, last_t);
		a_str(&a, last_id);
		if (qy->area != NULL)
			a_str(&a, qy->area);
		r = run(s, qy->area != NULL ? S_LIST_AREA : S_LIST, &a, 0,
		    err);
		if (r == NULL)
			goto out;
		rows = PQntuples(r);
		for (i = 0; i < rows; i++) {
			if (qy->limit != 0 && n >= qy->limit) {
				*more_r = true;
				rc = 0;
				goto out;
			}
			row_to_meta(r, i, &m);
			x = qy->full ? load_children(s, &m, err) : 0;
			if (x == 0)
				x = fn(ctx, &m, err);
			qmeta_clear(&m);
			if (x == -1)
				goto out;
			n++;
			if (x == 1) {
				rc = 0;
				goto out;
			}
		}
		if ((size_t)rows < want)
			break;
		last_t = val_i64(r, rows - 1, 2);
		free(last_id);
		last_id = val_str(r, rows - 1, 0);
		PQclear(r);
		r = NULL;
	}
	rc = 0;
out:
	PQclear(r);
	free(last_id);
	*n_r = n;
	pthread_mutex_unlock(&s->mu);
	return rc;
}

static enum quar_status
pg_set_released(struct store *st, const char *id, int64_t when,
    const char *by, struct err *err)
{
	struct pgstore	*s = pg(st);
	struct args	 a;
	int64_t		 n = 0;
	int		 rc;

	memset(&a, 0, sizeof a);
	a_str(&a, id);
	a_i64(&a, when);
	a_str(&a, by);
	pthread_mutex_lock(&s->mu);
	rc = run_done(s, S_RELEASE, &a, &n, err);
	pthread_mutex_unlock(&s->mu);
	return rc == -1 ? QUAR_ERROR : n > 0 ? QUAR_OK : QUAR_NOTFOUND;
}

/* The claim's atomic UPDATE (store_release_claim judges the rest). */
static int
pg_claim_try(struct store *st, const char *id, const char *token,
    int64_t now, unsigned flags, struct err *err)
{
	struct pgstore	*s = pg(st);
	struct args	 a;
	int64_t		 n = 0;
	int		 r = -1;

	memset(&a, 0, sizeof a);
	a_str(&a, id);
	a_str(&a, token);
	a_i64(&a, now);
	a_i64(&a, now - STORE_CLAIM_STALE);
	a_str(&a, (flags & STORE_CLAIM_AGAIN) ? "true" : "false");
	pthread_mutex_lock(&s->mu);
	if (run_done(s, S_CLAIM, &a, &n, err) == 0)
		r = n > 0;
	pthread_mutex_unlock(&s->mu);
	return r;
}

static int
pg_claim_read(struct store *st, const char *id, struct store_claim_row *row,
    struct err *err)
{
	struct pgstore	*s = pg(st);
	PGresult	*r;
	struct args	 a;
	int		 found;

	memset(row, 0, sizeof *row);
	memset(&a, 0, sizeof a);
	a_str(&a, id);
	pthread_mutex_lock(&s->mu);
	r = run(s, S_CLAIM_STATE, &a, 0, err);
	pthread_mutex_unlock(&s->mu);
	if (r == NULL)
		return -1;
	if ((found = PQntuples(r) == 1)) {
		row->released = !PQgetisnull(r, 0, 0);
		row->released_time = row->released ? val_i64(r, 0, 0) : 0;
		snprintf(row->released_by, sizeof row->released_by, "%s",
		    PQgetisnull(r, 0, 1) ? "?" : PQgetvalue(r, 0, 1));
		row->releasing = !PQgetisnull(r, 0, 3);
		row->releasing_time = PQgetisnull(r, 0, 2) ? 0 :
		    val_i64(r, 0, 2);
		snprintf(row->releasing_by, sizeof row->releasing_by, "%s",
		    PQgetvalue(r, 0, 3));
	}
	PQclear(r);
	return found;
}

static enum quar_status
pg_release_end(struct store *st, const char *id, const char *token,
    int64_t when, const char *by, struct err *err)
{
	struct pgstore	*s = pg(st);
	struct args	 a;
	int64_t		 n = 0;
	int		 rc;

	memset(&a, 0, sizeof a);
	a_str(&a, id);
	a_str(&a, token);
	if (by != NULL) {
		a_i64(&a, when);
		a_str(&a, by);
	}
	pthread_mutex_lock(&s->mu);
	rc = run_done(s, by != NULL ? S_CLAIM_DONE : S_CLAIM_UNDO, &a, &n,
	    err);
	pthread_mutex_unlock(&s->mu);
	return rc == -1 ? QUAR_ERROR : n > 0 ? QUAR_OK : QUAR_NOTFOUND;
}

static enum quar_status
pg_delete(struct store *st, const char *id, struct err *err)
{
	struct pgstore	*s = pg(st);
	struct args	 a;
	int64_t		 n = 0;
	int		 rc;

	memset(&a, 0, sizeof a);
	a_str(&a, id);
	pthread_mutex_lock(&s->mu);
	rc = run_done(s, S_MSG_DEL, &a, &n, err);
	pthread_mutex_unlock(&s->mu);
	return rc == -1 ? QUAR_ERROR : n > 0 ? QUAR_OK : QUAR_NOTFOUND;
}

static int
pg_expire(struct store *st, int64_t cutoff, store_fn fn, void *ctx,
    size_t *n_r, struct err *err)
{
	struct pgstore	*s = pg(st);
	PGresult	*r = NULL;
	struct qmeta	 m;
	struct args	 a;
	int64_t		 last_t = INT64_MIN, n;
	char		*last_id = xstrdup("");
	int		 rc = -1, i, rows, x;

	*n_r = 0;
	pthread_mutex_lock(&s->mu);
	for (;;) {
		memset(&a, 0, sizeof a);
		a_i64(&a, cutoff);
		a_i64(&a, last_t);
		a_str(&a, last_id);
		if ((r = run(s, S_OLD, &a, 0, err)) == NULL)
			goto out;
		rows = PQntuples(r);
		for (i = 0; i < rows; i++) {
			memset(&m, 0, sizeof m);
			m.id = val_str(r, i, 0);
			m.area = val_str(r, i, 1);
			m.time = val_i64(r, i, 2);
			m.sender = xstrdup("");
			/* Each row goes on its own: what fn removed from
			 * disk leaves the index, even if a later one fails. */
			x = fn(ctx, &m, err);
			if (x == 0) {
				memset(&a, 0, sizeof a);
				a_str(&a, m.id);
				x = run_done(s, S_MSG_DEL, &a, &n, err);
				if (x == 0 && n > 0)
					(*n_r)++;
			}
			qmeta_clear(&m);
			if (x == -1)
				goto out;
		}
		if (rows < 1000)
			break;
		last_t = val_i64(r, rows - 1, 2);
		free(last_id);
		last_id = val_str(r, rows - 1, 0);
		PQclear(r);
		r = NULL;
	}
	rc = 0;
out:
	PQclear(r);
	free(last_id);
	pthread_mutex_unlock(&s->mu);
	return rc;
}

static int
pg_area_used(struct store *st, const char *area, bool *used_r,
    struct err *err)
{
	struct pgstore	*s = pg(st);
	PGresult	*r;
	struct args	 a;

	*used_r = false;
	memset(&a, 0, sizeof a);
	a_str(&a, area);
	pthread_mutex_lock(&s->mu);
	r = run(s, S_AREA_USED, &a, 0, err);
	pthread_mutex_unlock(&s->mu);
	if (r == NULL)
		return -1;
	*used_r = PQntuples(r) > 0;
	PQclear(r);
	return 0;
}

/* ---- traffic ---- */

static int
traffic_fn(struct pgstore *s, const void *arg, struct err *err)
{
	const struct store_traffic	*t = arg;
	PGresult			*r;
	struct args			 a;
	char				 uid[STORE_UID_LEN + 1], *tid;
	size_t				 i;

	if (t->uid == NULL && store_new_uid(uid, err) == -1)
		return -1;
	memset(&a, 0, sizeof a);
	a_str(&a, t->uid != NULL ? t->uid : uid);
	a_str(&a, t->node);
	a_i64(&a, t->time);
	a_str(&a, t->direction != NULL ? t->direction : "-");
	a_str(&a, t->disposition != NULL ? t->disposition : "-");
	a_i64(&a, (int64_t)t->size);
	a_i64(&a, (int64_t)t->scan_ms);
	a_i64(&a, (int64_t)t->nhits);
	a_str(&a, t->quarantine_id);
	if ((r = run(s, S_TRAFFIC_INS, &a, 0, err)) == NULL)
		return -1;
	if (PQntuples(r) == 0) {
		PQclear(r);
		return 0;	/* that uid is there: added before */
	}
	tid = xstrdup(PQgetvalue(r, 0, 0));
	PQclear(r);
	for (i = 0; i < t->nhits; i++) {
		memset(&a, 0, sizeof a);
		a_str(&a, tid);
		a_i64(&a, t->time);
		a_str(&a, t->hits[i].rule != NULL ? t->hits[i].rule : "?");
		a_str(&a, t->hits[i].detail);
		if (run_done(s, S_HIT_INS, &a, NULL, err) == -1) {
			free(tid);
			return -1;
		}
	}
	free(tid);
	return 0;
}

static int
pg_traffic_add(struct store *st, const struct store_traffic *t,
    struct err *err)
{
	struct pgstore	*s = pg(st);
	int		 rc;

	pthread_mutex_lock(&s->mu);
	rc = in_txn(s, err, traffic_fn, t);
	pthread_mutex_unlock(&s->mu);
	return rc;
}

static int
pg_traffic_expire(struct store *st, int64_t cutoff, size_t *n_r,
    struct err *err)
{
	struct pgstore	*s = pg(st);
	struct args	 a;
	int64_t		 n = 0;
	int		 rc;

	memset(&a, 0, sizeof a);
	a_i64(&a, cutoff);
	pthread_mutex_lock(&s->mu);
	rc = run_done(s, S_TRAFFIC_EXP, &a, &n, err);
	pthread_mutex_unlock(&s->mu);
	*n_r = rc == 0 ? (size_t)n : 0;
	return rc;
}

static int
pg_traffic_list(struct store *st, size_t limit, store_traffic_fn fn,
    void *ctx, size_t *n_r, struct err *err)
{
	struct pgstore		*s = pg(st);
	PGresult		*r, *h;
	struct store_traffic	 t;
	struct store_hit	*hits;
	struct args		 a;
	int			 i, j, rows, x = 0, rc = -1;

	*n_r = 0;
	memset(&a, 0, sizeof a);
	a_i64(&a, (int64_t)limit);
	pthread_mutex_lock(&s->mu);
	if ((r = run(s, S_TRAFFIC_LIST, &a, 0, err)) == NULL)
		goto out;
	rows = PQntuples(r);
	for (i = 0; i < rows && x == 0; i++) {
		memset(&a, 0, sizeof a);
		a_str(&a, PQgetvalue(r, i, 0));
		if ((h = run(s, S_TRAFFIC_HITS, &a, 0, err)) == NULL) {
			PQclear(r);
			goto out;
		}
		hits = xcalloc((size_t)PQntuples(h) + 1, sizeof *hits);
		for (j = 0; j < PQntuples(h); j++) {
			hits[j].rule = PQgetvalue(h, j, 0);
			hits[j].detail = PQgetisnull(h, j, 1) ? NULL :
			    PQgetvalue(h, j, 1);
		}
		memset(&t, 0, sizeof t);
		t.uid = PQgetvalue(r, i, 1);
		t.node = PQgetisnull(r, i, 2) ? NULL : PQgetvalue(r, i, 2);
		t.time = val_i64(r, i, 3);
		t.direction = PQgetvalue(r, i, 4);
		t.disposition = PQgetvalue(r, i, 5);
		t.size = (uint64_t)val_i64(r, i, 6);
		t.scan_ms = (uint64_t)val_i64(r, i, 7);
		t.quarantine_id = PQgetisnull(r, i, 8) ? NULL :
		    PQgetvalue(r, i, 8);
		t.hits = hits;
		t.nhits = (size_t)PQntuples(h);
		x = fn(ctx, &t, err);
		free(hits);
		PQclear(h);
		if (x == -1) {
			PQclear(r);
			goto out;
		}
		(*n_r)++;
	}
	PQclear(r);
	rc = 0;
out:
	pthread_mutex_unlock(&s->mu);
	return rc;
}

static enum quar_status
pg_traffic_delete(struct store *st, const char *uid, struct err *err)
{
	struct pgstore	*s = pg(st);
	struct args	 a;
	int64_t		 n = 0;
	int		 rc;

	memset(&a, 0, sizeof a);
	a_str(&a, uid);
	pthread_mutex_lock(&s->mu);
	rc = run_done(s, S_TRAFFIC_DEL, &a, &n, err);
	pthread_mutex_unlock(&s->mu);
	return rc == -1 ? QUAR_ERROR : n > 0 ? QUAR_OK : QUAR_NOTFOUND;
}

/* ---- reports ---- */

static uint64_t
val_u64(const PGresult *r, int row, int col)
{
	return (uint64_t)val_i64(r, row, col);
}

static void
qscan_rows(const PGresult *r, struct store_report *rp)
{
	struct store_qrow	 a;
	char			 day[32];
	int			 i;

	for (i = 0; i < PQntuples(r); i++) {
		store_day_key(val_i64(r, i, 0), day, sizeof day);
		memset(&a, 0, sizeof a);
		a.messages = val_u64(r, i, 2);
		a.bytes = val_u64(r, i, 3);
		a.virus_msgs = val_u64(r, i, 4);
		a.virus_files = val_u64(r, i, 5);
		a.blocked_msgs = val_u64(r, i, 6);
		a.blocked_files = val_u64(r, i, 7);
		a.encrypted_msgs = val_u64(r, i, 8);
		a.encrypted_files = val_u64(r, i, 9);
		store_qrow_add(&rp->qtotal, &a);
		store_qrow_add(store_row_for((void **)&rp->qdays, &rp->nqdays,
		    sizeof *rp->qdays, day, &rp->truncated), &a);
		store_qrow_add(store_row_for((void **)&rp->qareas,
		    &rp->nqareas, sizeof *rp->qareas, PQgetvalue(r, i, 1),
		    &rp->truncated), &a);
	}
}

static void
tscan_rows(const PGresult *r, struct store_report *rp)
{
	struct store_trow	 a;
	char			 day[32];
	int			 i;

	for (i = 0; i < PQntuples(r); i++) {
		store_day_key(val_i64(r, i, 0), day, sizeof day);
		memset(&a, 0, sizeof a);
		a.messages = val_u64(r, i, 3);
		a.bytes = val_u64(r, i, 4);
		a.scan_ms = val_u64(r, i, 5);
		a.files = val_u64(r, i, 6);
		store_trow_add(&rp->ttotal, &a);
		store_trow_add(store_row_for((void **)&rp->tdays, &rp->ntdays,
		    sizeof *rp->tdays, day, &rp->truncated), &a);
		store_trow_add(store_row_for((void **)&rp->tdirs, &rp->ntdirs,
		    sizeof *rp->tdirs, PQgetvalue(r, i, 1), &rp->truncated),
		    &a);
		store_trow_add(store_row_for((void **)&rp->tactions,
		    &rp->ntactions, sizeof *rp->tactions, PQgetvalue(r, i, 2),
		    &rp->truncated), &a);
	}
}

/* A top list: rows of key, files, messages. */
static void
top_rows(const PGresult *r, struct store_top **top_r, size_t *n_r)
{
	int	i, n = PQntuples(r);

	*top_r = xcalloc((size_t)n + 1, sizeof **top_r);
	for (i = 0; i < n; i++) {
		(*top_r)[i].key = xstrdup(PQgetvalue(r, i, 0));
		(*top_r)[i].count = val_u64(r, i, 1);
		(*top_r)[i].messages = val_u64(r, i, 2);
	}
	*n_r = (size_t)n;
}

static int
pg_report(struct store *st, int64_t from, int64_t to,
    struct store_report **r_r, struct err *err)
{
	struct pgstore		*s = pg(st);
	struct store_report	*rp = xcalloc(1, sizeof *rp);
	PGresult		*r;
	struct args		 a;
	size_t			 i, n;
	struct {
		enum stmt_id	 id;
		struct store_top **v;
		size_t		*n;
	} t[] = {
		{ S_Q_VIRUSES, &rp->viruses, &rp->nviruses },
		{ S_Q_TYPES, &rp->types, &rp->ntypes },
		{ S_Q_SENDERS, &rp->senders, &rp->nsenders },
		{ S_Q_RCPTS, &rp->rcpts, &rp->nrcpts },
	};
	int	rc = -1;

	*r_r = NULL;
	rp->from = from;
	rp->to = to;
	rp->qtotal.key = xstrdup("all");
	rp->ttotal.key = xstrdup("all");
	memset(&a, 0, sizeof a);
	a_i64(&a, from);
	a_i64(&a, to);
	pthread_mutex_lock(&s->mu);
	/* One snapshot: every table counts the same rows. */
	if (begin_txn(s, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
	    err) == -1)
		goto out;
	s->in_txn = true;
	if ((r = run(s, S_Q_SCAN, &a, 0, err)) == NULL)
		goto end;
	qscan_rows(r, rp);
	PQclear(r);
	if ((r = run(s, S_T_SCAN, &a, 0, err)) == NULL)
		goto end;
	tscan_rows(r, rp);
	PQclear(r);
	for (i = 0; i < sizeof t / sizeof t[0]; i++) {
		if ((r = run(s, t[i].id, &a, 0, err)) == NULL)
			goto end;
		top_rows(r, t[i].v, t[i].n);
		PQclear(r);
	}
	if ((r = run(s, S_T_RULES, &a, 0, err)) == NULL)
		goto end;
	/* Every rule (a few dozen at most), not a top list. */
	n = (size_t)PQntuples(r);
	if (n > STORE_REPORT_ROWS) {
		n = STORE_REPORT_ROWS;
		rp->truncated = true;
	}
	rp->trules = xcalloc(n + 1, sizeof *rp->trules);
	for (i = 0; i < n; i++) {
		rp->trules[i].key = xstrdup(PQgetvalue(r, (int)i, 0));
		rp->trules[i].files = val_u64(r, (int)i, 1);
		rp->trules[i].messages = val_u64(r, (int)i, 2);
	}
	rp->ntrules = n;
	PQclear(r);
	store_report_sort(rp);
	rc = 0;
end:
	s->in_txn = false;
	if (conn_ok(s))
		(void)simple(s, "COMMIT", &(struct err)ERR_INIT);
out:
	pthread_mutex_unlock(&s->mu);
	if (rc == -1)
		store_report_free(&rp);
	*r_r = rp;
	return rc;
}

static const struct store_ops pg_ops = {
	.name = "postgresql",
	.shared = true,
	.close = pg_close,
	.put = pg_put,
	.begin = pg_begin,
	.commit = pg_commit,
	.get = pg_get,
	.get_body = pg_get_body,
	.list = pg_list,
	.set_released = pg_set_released,
	.claim_try = pg_claim_try,
	.claim_read = pg_claim_read,
	.release_end = pg_release_end,
	.del = pg_delete,
	.expire = pg_expire,
	.area_used = pg_area_used,
	.traffic_add = pg_traffic_add,
	.traffic_expire = pg_traffic_expire,
	.traffic_list = pg_traffic_list,
	.traffic_delete = pg_traffic_delete,
	.report = pg_report,
};
