/*
 * store/store.h - the quarantine index and the traffic statistics behind
 * one interface, whatever database holds them: SQLite on one host
 * (store/store-sqlite.c, the only includer of <sqlite3.h>) or PostgreSQL
 * shared by several MX hosts (store/store-pg.c, the only includer of
 * <libpq-fe.h>). store/store.c hands each call to the backend that
 * opened the store.
 *
 * The index holds one row per quarantined message (the record of
 * struct qmeta, one row per recipient and per finding, release state);
 * the message files themselves stay in the quarantine directory
 * (store/quarantine.c), or, with PostgreSQL, may be kept in the database
 * (store_put_body, store_get_body). Every row names the node (host) that
 * wrote it. The traffic statistics hold one row per judged
 * message: time, direction, disposition, rules hit, size and scan time,
 * never content nor addresses.
 *
 * Errors: 0/-1 with struct err; lookups by ID return enum quar_status so
 * that "not found" is told apart from failure. Ownership: struct store is
 * the opener's (store_close); records handed to callbacks are borrowed
 * for the call; records returned are the caller's (qmeta_free).
 * Thread-safety: one struct store may be used by several threads (calls
 * are serialised inside); several processes may open the same database
 * (one writer at a time, readers never blocked).
 */
#ifndef PORTCULLIS_STORE_H
#define PORTCULLIS_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define STORE_SCHEMA_VERSION	4	/* SQLite (PRAGMA user_version) */
#define STORE_PG_SCHEMA_VERSION	3	/* PostgreSQL (table schema_version) */
#define STORE_TOP		10	/* entries in each top list */
#define STORE_REPORT_ROWS	5000	/* rows of one by-X table */

enum quar_status {
	QUAR_ERROR = -1,
	QUAR_OK = 0,
	QUAR_NOTFOUND = 1
};

struct qfinding {
	char	*rule;
	char	*part;
	char	*filename;	/* NULL = none */
	char	*detail;	/* NULL = none */
	char	*action;	/* action name, NULL = none */
};

/* One record, as stored (every string owned by the struct). */
struct qmeta {
	char		*id;
	char		*area;
	int64_t		 time;		/* unix seconds */
	char		*queue_id;	/* NULL = NOQUEUE */
	char		*sender;	/* "" = null sender */
	char		**rcpts;
	size_t		 nrcpts;
	char		*client;	/* NULL = unknown */
	char		*auth_user;	/* NULL = not authenticated */
	char		*direction;	/* "inbound" / "outbound" */
	struct qfinding	*findings;
	size_t		 nfindings;
	char		*action;	/* decisive action name, NULL = none */
	char		*disposition;
	char		*summary;
	uint64_t	 size;		/* message bytes */
	uint64_t	 policy_version;
	char		*policy_source;
	int64_t		 released_time;	/* 0 = not released */
	char		*released_by;	/* NULL = not released */
	char		*node;		/* who stored it; NULL = unknown */
};

void	qmeta_free(struct qmeta **mp);
void	qmeta_clear(struct qmeta *m);
void	qmeta_list_free(struct qmeta **listp, size_t n);

struct store;

#define STORE_CREATE	0x01	/* create the database when missing */
#define STORE_READONLY	0x02	/* never write (list, show, report) */

/*
 * Opens the database at path (the SQLite file), migrating its schema to
 * STORE_SCHEMA_VERSION. A missing database is an error unless flags has
 * STORE_CREATE; a database of a newer schema is an error. 0 with
 * *st_r (store_close), or -1 with err.
 */
int	store_open(const char *path, unsigned flags, struct store **st_r,
	    struct err *err) __attribute__((warn_unused_result));

/*
 * Opens the PostgreSQL database named by conninfo (a libpq connection
 * string: "postgresql://..." or "host=... dbname=..."), creating or
 * migrating its tables to STORE_PG_SCHEMA_VERSION unless flags has
 * STORE_READONLY. The connection is made again when it was lost (each
 * call tries once). 0 with *st_r (store_close), or -1 with err (also
 * when the server cannot be reached).
 */
int	store_open_pg(const char *conninfo, unsigned flags,
	    struct store **st_r, struct err *err)
	    __attribute__((warn_unused_result));

/* True for a store shared by several hosts (PostgreSQL). */
bool	store_is_shared(const struct store *st);

void	store_close(struct store **stp);

/* Adds record m (replacing one with the same ID). 0 or -1 with err. */
int	store_put(struct store *st, const struct qmeta *m, struct err *err)
	    __attribute__((warn_unused_result));

#define STORE_PUT_KEEP	0x01	/* keep an existing row (sync): no replace */

/*
 * store_put with the message itself (body, len bytes, borrowed; NULL =
 * the record alone) written in the same transaction, for a store that
 * keeps bodies (PostgreSQL; SQLite refuses a body). With STORE_PUT_KEEP
 * a record already there is left as it is (its body too), so that
 * putting the same record twice makes one row. 0 or -1 with err.
 */
int	store_put_body(struct store *st, const struct qmeta *m,
	    const unsigned char *body, size_t len, unsigned flags,
	    struct err *err) __attribute__((warn_unused_result));

/* The stored message of record id: QUAR_OK with *p_r (caller frees,
 * NUL-terminated after *len_r bytes), QUAR_NOTFOUND when the store holds
 * no body for id (it is then a file), or QUAR_ERROR with err. */
enum quar_status store_get_body(struct store *st, const char *id,
	    unsigned char **p_r, size_t *len_r, struct err *err)
	    __attribute__((warn_unused_result));

/* Several puts in one transaction (import): begin, puts, commit. */
int	store_begin(struct store *st, struct err *err)
	    __attribute__((warn_unused_result));
int	store_commit(struct store *st, struct err *err)
	    __attribute__((warn_unused_result));

/* Loads record id (recipients and findings too). */
enum quar_status store_get(struct store *st, const char *id,
	    struct qmeta **m_r, struct err *err)
	    __attribute__((warn_unused_result));

/*
 * Called for each record listed; returns 0 to go on, 1 to stop, -1 to
 * fail (with err set).
 */
typedef int (*store_fn)(void *ctx, const struct qmeta *m, struct err *err);

struct store_query {
	const char	*area;		/* NULL = every area */
	int64_t		 since;		/* time >= since; 0 = no bound */
	int64_t		 until;		/* time < until; 0 = no bound */
	size_t		 limit;		/* 0 = no limit */
	bool		 full;		/* recipients and every finding */
};

/*
 * Lists the records matching q, oldest first (time, then ID), calling fn
 * for each. Without q->full a record carries its first finding only
 * (nfindings still tells how many there are) and no recipients. Returns
 * 0 with the number given to fn in *n_r and, in *more_r, whether more
 * records matched beyond q->limit; or -1 with err.
 */
int	store_list(struct store *st, const struct store_query *q,
	    store_fn fn, void *ctx, size_t *n_r, bool *more_r,
	    struct err *err) __attribute__((warn_unused_result));

/* Records that record id was released at when by by. */
enum quar_status store_set_released(struct store *st, const char *id,
	    int64_t when, const char *by, struct err *err)
	    __attribute__((warn_unused_result));

/*
 * A release happens once, whichever node or postmaster asks: the
 * releaser claims the record (one atomic UPDATE: PostgreSQL's row lock,
 * SQLite's one writer), sends it, then marks it released or, when sending
 * failed, gives the claim back so that the release can be tried again.
 * A claim is honoured STORE_CLAIM_STALE seconds: one older than that was
 * left by a release that died, and may be taken over.
 */
#define STORE_CLAIM_STALE	600	/* seconds; sendmail is bounded to 120 */
#define STORE_CLAIM_AGAIN	0x01	/* a record released before too */

enum store_claim {
	STORE_CLAIM_ERROR = -1,
	STORE_CLAIM_OK = 0,		/* ours: send, then store_release_end */
	STORE_CLAIM_NOTFOUND = 1,
	STORE_CLAIM_BUSY = 2,		/* another is releasing it */
	STORE_CLAIM_DONE = 3		/* released already */
};

/* Who holds a claim, or released the record, and since when. */
struct store_claim_info {
	int64_t	time;
	char	by[128];
};

/*
 * Claims record id for a release by token (unique to the releaser: user,
 * node and process), at now. Without STORE_CLAIM_AGAIN a record released
 * before is refused (STORE_CLAIM_DONE); with it, only a live claim of
 * another is. On STORE_CLAIM_BUSY and STORE_CLAIM_DONE, *info_r (may be
 * NULL) says who and when; on STORE_CLAIM_ERROR, err.
 */
enum store_claim store_release_claim(struct store *st, const char *id,
	    const char *token, int64_t now, unsigned flags,
	    struct store_claim_info *info_r, struct err *err)
	    __attribute__((warn_unused_result));

/*
 * Ends the claim token holds on record id: with by non-NULL the record is
 * marked released at when by by; with by NULL the claim is given back
 * (sending failed). QUAR_OK, QUAR_NOTFOUND when token holds no claim on
 * id (it went stale and was taken over), or QUAR_ERROR with err.
 */
enum quar_status store_release_end(struct store *st, const char *id,
	    const char *token, int64_t when, const char *by, struct err *err)
	    __attribute__((warn_unused_result));

/* Removes record id from the index. */
enum quar_status store_delete(struct store *st, const char *id,
	    struct err *err) __attribute__((warn_unused_result));

/*
 * Expiry: calls fn for every record older than cutoff (time < cutoff,
 * ID and area only), then removes from the index those for which fn
 * returned 0 (1 keeps the row; -1 stops with err). *n_r: rows removed.
 */
int	store_expire(struct store *st, int64_t cutoff, store_fn fn,
	    void *ctx, size_t *n_r, struct err *err)
	    __attribute__((warn_unused_result));

/* True when some record is in area. */
int	store_area_used(struct store *st, const char *area, bool *used_r,
	    struct err *err) __attribute__((warn_unused_result));

/* ---- traffic statistics ---- */

struct store_hit {
	const char	*rule;
	const char	*detail;	/* virus name or type; NULL = none */
};

/* One judged message (borrowed strings). */
struct store_traffic {
	const char		*uid;		/* unique key; NULL = new one */
	const char		*node;		/* NULL = unknown */
	int64_t			 time;
	const char		*direction;
	const char		*disposition;	/* what was done */
	uint64_t		 size;
	uint64_t		 scan_ms;
	const char		*quarantine_id;	/* NULL = not quarantined */
	const struct store_hit	*hits;		/* one per finding */
	size_t			 nhits;
};

/* Adds one row; a row whose uid is already there is not added again. */
int	store_traffic_add(struct store *st, const struct store_traffic *t,
	    struct err *err) __attribute__((warn_unused_result));

typedef int (*store_traffic_fn)(void *ctx, const struct store_traffic *t,
	    struct err *err);
/*
 * Calls fn for at most limit traffic rows (oldest first, with their uid
 * and hits; borrowed for the call); fn returns 0 to go on, 1 to stop, -1
 * to fail. 0 with *n_r rows given, or -1 with err. (Sync.)
 */
int	store_traffic_list(struct store *st, size_t limit,
	    store_traffic_fn fn, void *ctx, size_t *n_r, struct err *err)
	    __attribute__((warn_unused_result));
/* Removes the traffic row uid (and its hits). */
enum quar_status store_traffic_delete(struct store *st, const char *uid,
	    struct err *err) __attribute__((warn_unused_result));
/* Removes traffic rows older than cutoff; *n_r rows removed. */
int	store_traffic_expire(struct store *st, int64_t cutoff, size_t *n_r,
	    struct err *err) __attribute__((warn_unused_result));

/* ---- reports ---- */

/* Quarantine counts: messages and files told apart. */
struct store_qrow {
	char		*key;
	uint64_t	 messages, bytes;
	uint64_t	 virus_msgs, virus_files;
	uint64_t	 blocked_msgs, blocked_files;
	uint64_t	 encrypted_msgs, encrypted_files;
};

/* Traffic counts. */
struct store_trow {
	char		*key;
	uint64_t	 messages, bytes, scan_ms;
	uint64_t	 files;		/* findings (rule rows) */
};

struct store_top {
	char		*key;
	uint64_t	 count;		/* files (findings) or messages */
	uint64_t	 messages;
};

struct store_report {
	int64_t			 from, to;	/* [from, to) */
	struct store_qrow	 qtotal;
	struct store_qrow	*qdays, *qareas;
	size_t			 nqdays, nqareas;
	struct store_top	*viruses, *types, *senders, *rcpts;
	size_t			 nviruses, ntypes, nsenders, nrcpts;
	struct store_trow	 ttotal;
	struct store_trow	*tdays, *tdirs, *tactions, *trules;
	size_t			 ntdays, ntdirs, ntactions, ntrules;
	bool			 truncated;	/* a table hit STORE_REPORT_ROWS */
};

/* Computes the report over [from, to). *r_r: store_report_free. */
int	store_report(struct store *st, int64_t from, int64_t to,
	    struct store_report **r_r, struct err *err)
	    __attribute__((warn_unused_result));
void	store_report_free(struct store_report **rp);

#endif
