/*
 * store/quarantine.h - the quarantine: whole messages plus a metadata
 * record, one directory per area under [quarantine] directory, and the
 * index of every record in a database beside them (store.h).
 *
 * Layout: DIR/AREA/ID.eml (the message exactly as received),
 * DIR/AREA/ID.json (the record) and DIR/index.sqlite (the index).
 * quarantine_store() writes the message first, then the record, each to a
 * temporary file in the same directory that is fsync'd and renamed, then
 * fsyncs the directory and adds the index row: a record is listed once
 * its row exists, and its files are then on disk. Directories are created
 * mode 0700, files 0600. IDs are "YYYYMMDDTHHMMSSZ-" plus 16 random hex
 * digits: unique, sortable and safe as file names; every ID and area
 * coming from outside is checked before it is used in a path. The .json
 * files are what "portcullisctl import" rebuilds the index from.
 *
 * With [quarantine] database naming a PostgreSQL database (several MX
 * hosts), that database is the index of the whole site, and the messages
 * are kept in it ([quarantine] bodies = database) or as the same files
 * below the shared directory [quarantine] bodies names. When PostgreSQL
 * cannot be written, the message goes to this node's quarantine directory
 * and SQLite index as above (never lost, never refused for it), and
 * quarantine_sync() (portcullisctl) or quarantine_sync_round() (the
 * daemon's thread) later copies those records and messages, and the
 * traffic rows, to PostgreSQL and removes them here.
 *
 * Errors: 0/-1 with struct err; lookups by ID return enum quar_status so
 * that "not found" is told apart from failure.
 * Ownership: struct qmeta is the caller's (qmeta_free / qmeta_list_free).
 * No logging, no exit. Thread-safety: reentrant; the daemon's index handle
 * is shared by its threads (quarantine_store, quarantine_traffic).
 */
#ifndef PORTCULLIS_QUARANTINE_H
#define PORTCULLIS_QUARANTINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "json.h"
#include "policy.h"
#include "scan.h"
#include "store.h"
#include "util.h"
#include "verdict.h"

#define QUARANTINE_ID_MAX	64
#define QUARANTINE_AREAS_MAX	1000	/* sub-directories looked at */
#define QUARANTINE_LIST_MAX	1000000	/* records returned by one list */
#define QUARANTINE_FINDINGS_MAX	1000	/* findings kept in a record */
#define QUARANTINE_RCPTS_MAX	10000	/* recipients kept in a record */
#define QUARANTINE_META_MAX	(8u << 20)	/* bytes of one record */
#define QUARANTINE_MSG_MAX	(1024u << 20)	/* bytes of one message */

#define QUARANTINE_DB_NAME	"index.sqlite"
#define QUARANTINE_RECORD_VERSION	1	/* "version" of a record */

/*
 * Stores msg (len bytes, borrowed) in area with a record built from env
 * and v (borrowed). Creates the quarantine directory and the area's on
 * demand. Returns 0 and the new ID in *id_r (caller frees; id_r may be
 * NULL), or -1 with err (nothing is left behind, not even a temp file).
 * With PostgreSQL, 0 may come with a note in err: the shared database
 * could not be written and the copy is kept on this node until sync.
 */
int	quarantine_store(const struct policy *pol, const char *area,
	    const unsigned char *msg, size_t len, const struct envelope *env,
	    const struct verdict *v, char **id_r, struct err *err)
	    __attribute__((warn_unused_result));

/* The index's file name for pol, in out (len bytes). */
void	quarantine_db_path(const struct policy *pol, char *out, size_t len);

/* This node's name: [quarantine] node, else the host name (in buf). */
const char *quarantine_node(const struct policy *pol, char *buf,
	    size_t len);

/*
 * Opens the index (store_close). A missing quarantine directory is an
 * error unless flags has STORE_CREATE. A missing index is created in a
 * quarantine that holds no area yet; in one that does, it is an error
 * that says to run "portcullisctl import".
 */
int	quarantine_open(const struct policy *pol, unsigned flags,
	    struct store **st_r, struct err *err)
	    __attribute__((warn_unused_result));
/* The same for this node's SQLite index, whatever the policy's index
 * (with PostgreSQL: what waits for sync). */
int	quarantine_open_local(const struct policy *pol, unsigned flags,
	    struct store **st_r, struct err *err)
	    __attribute__((warn_unused_result));

/*
 * With PostgreSQL: copies every record of this node's SQLite index, with
 * its message, and every traffic row there, to PostgreSQL, removing each
 * here once it is there. A record or row copied twice (a crash between
 * the two steps) is one row in PostgreSQL. 0 with the counts copied, or
 * -1 with err (what was copied stays copied). An error without
 * [quarantine] database. One sync at a time per quarantine directory
 * (a lock on it): this one waits for a round of the daemon's.
 */
int	quarantine_sync(const struct policy *pol, size_t *msgs_r,
	    size_t *traffic_r, struct err *err)
	    __attribute__((warn_unused_result));
/*
 * For the daemon's background sync: one round of quarantine_sync that
 * asks PostgreSQL nothing unless this node's index holds something, stops
 * copying at deadline_ms (clock_ms(); 0 = no bound), and does not wait
 * for a sync already running (portcullisctl sync, which waits for this
 * one instead: one sync at a time per quarantine directory). 0 when
 * nothing waits any more (also without PostgreSQL), 1 when more waits
 * (the deadline came, or another sync runs), -1 with err; the counts
 * copied in either case.
 */
int	quarantine_sync_round(const struct policy *pol, uint64_t deadline_ms,
	    size_t *msgs_r, size_t *traffic_r, struct err *err)
	    __attribute__((warn_unused_result));
/* Records waiting for quarantine_sync (0 without PostgreSQL). */
int	quarantine_pending(const struct policy *pol, size_t *n_r,
	    struct err *err) __attribute__((warn_unused_result));

/* True when area is named by an action of pol, used in the index, or has
 * a directory: an area that is none of these is a mistake. */
bool	quarantine_area_known(const struct policy *pol, struct store *st,
	    const char *area);

/*
 * Lists the records of area (NULL = every area) from the index, oldest
 * first (time, then ID), with every recipient and finding. Returns 0 with
 * *list_r (caller frees with qmeta_list_free) and *n_r, or -1 with err
 * (also for a missing quarantine directory). For large lists use
 * store_list(), which streams.
 */
int	quarantine_list(const struct policy *pol, const char *area,
	    struct qmeta **list_r, size_t *n_r, struct err *err)
	    __attribute__((warn_unused_result));

/*
 * Loads record id. With msg_r non-NULL also reads the message (caller
 * frees *msg_r with free()). QUAR_OK with *meta_r (caller frees with
 * qmeta_free), QUAR_NOTFOUND (also for an ID that is not well formed),
 * or QUAR_ERROR with err.
 */
enum quar_status quarantine_load(const struct policy *pol, const char *id,
	    struct qmeta **meta_r, unsigned char **msg_r, size_t *len_r,
	    struct err *err) __attribute__((warn_unused_result));

/* quarantine_load with an open index. */
enum quar_status quarantine_load_from(const struct policy *pol,
	    struct store *st, const char *id, struct qmeta **meta_r,
	    unsigned char **msg_r, size_t *len_r, struct err *err)
	    __attribute__((warn_unused_result));

/* quarantine_delete with an open index. */
enum quar_status quarantine_delete_from(const struct policy *pol,
	    struct store *st, const char *id, struct err *err)
	    __attribute__((warn_unused_result));

/* Removes record id and its message. QUAR_OK, QUAR_NOTFOUND, QUAR_ERROR. */
enum quar_status quarantine_delete(const struct policy *pol, const char *id,
	    struct err *err) __attribute__((warn_unused_result));

/*
 * Removes every record stored days days or more before now (0 = time();
 * days 0 removes everything), with its files, together with leftovers of
 * interrupted writes older than a day, and the traffic statistics older
 * than [quarantine] stats_days. Returns 0 with the number of records
 * removed in *removed_r (may be NULL), or -1 with err (what was removed
 * before the failure stays removed, from the disk and from the index).
 */
int	quarantine_expire(const struct policy *pol, unsigned days,
	    int64_t now, size_t *removed_r, struct err *err)
	    __attribute__((warn_unused_result));

/*
 * For the daemon: true when msg (as received, CRLF or LF) carries
 * "X-Portcullis-Released: ID" for a record that is still in the
 * quarantine and whose stored body is the same as msg's (line endings
 * aside). The random ID is only known to those who can read the
 * quarantine or the admin notice, so the header alone proves nothing;
 * ID and body together show that an admin released this very content.
 * The MTA adds header fields on re-injection, so only bodies are
 * compared. Copies the ID into *id_r (caller frees; may be NULL). Any
 * failure counts as false. Honour it only for locally submitted mail.
 */
bool	quarantine_is_released(const struct policy *pol,
	    const unsigned char *msg, size_t len, char **id_r);

/*
 * Builds the index from the .json records of every area (the upgrade from
 * a quarantine without an index; records already indexed are replaced).
 * Always this node's SQLite index; with PostgreSQL, sync then copies it.
 * A record that cannot be read is counted in *bad_r, the first one's
 * reason in *bad_err. 0 with *imported_r, or -1 with err.
 */
int	quarantine_import(const struct policy *pol, size_t *imported_r,
	    size_t *bad_r, struct err *bad_err, struct err *err)
	    __attribute__((warn_unused_result));

/*
 * For the daemon: one traffic row for a judged message (v borrowed; what
 * was done, its size, scan milliseconds, quarantine ID or NULL). Nothing
 * when [quarantine] stats_days is 0. 0, or -1 with err for the first
 * failure since the last row written (later failures return 0 until a
 * row is written again: the caller logs -1 and stays quiet).
 */
int	quarantine_traffic(const struct policy *pol, const struct verdict *v,
	    const char *disposition, uint64_t size, uint64_t ms,
	    const char *qid, struct err *err)
	    __attribute__((warn_unused_result));

/* Closes the daemon's index handles (at exit; idempotent). */
void	quarantine_close_shared(void);

/* The record as a JSON object (json_free), the format stored on disk. */
struct json *qmeta_to_json(const struct qmeta *m);
/* Appends the record as one JSON object (the format stored on disk). */
void	qmeta_json(const struct qmeta *m, struct buf *out);
/* Parses a record (bounded: size, depth, counts). 0 or -1 with err. */
int	qmeta_parse(const char *json, size_t len, struct qmeta **meta_r,
	    struct err *err) __attribute__((warn_unused_result));


/* True for a well formed ID or area name (safe as a path component). */
bool	quarantine_id_ok(const char *id);
bool	quarantine_area_ok(const char *area);

#endif
