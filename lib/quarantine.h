/*
 * lib/quarantine.h - the quarantine store: whole messages plus a metadata
 * record, one directory per area under [quarantine] directory.
 *
 * Layout: DIR/AREA/ID.eml (the message exactly as received) and
 * DIR/AREA/ID.json (the record). A record exists once its .json exists:
 * quarantine_store() writes the message first, then the record, each to a
 * temporary file in the same directory that is fsync'd and renamed, and
 * then fsyncs the directory. Directories are created mode 0700, files
 * 0600. IDs are "YYYYMMDDTHHMMSSZ-" plus 16 random hex digits: unique,
 * sortable and safe as file names; every ID and area coming from outside
 * is checked before it is used in a path.
 *
 * Errors: 0/-1 with struct err; lookups by ID return enum quar_status so
 * that "not found" is told apart from failure.
 * Ownership: struct qmeta is the caller's (qmeta_free / qmeta_list_free).
 * Pure library code: no logging, no exit. Thread-safety: reentrant; the
 * store is safe against concurrent writers (unique IDs, atomic renames)
 * and against readers (a half-written record is never visible).
 */
#ifndef PORTCULLIS_QUARANTINE_H
#define PORTCULLIS_QUARANTINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "policy.h"
#include "scan.h"
#include "util.h"
#include "verdict.h"

#define QUARANTINE_ID_MAX	64
#define QUARANTINE_AREAS_MAX	1000	/* sub-directories looked at */
#define QUARANTINE_LIST_MAX	1000000	/* records returned by one list */
#define QUARANTINE_FINDINGS_MAX	1000	/* findings kept in a record */
#define QUARANTINE_RCPTS_MAX	10000	/* recipients kept in a record */
#define QUARANTINE_META_MAX	(8u << 20)	/* bytes of one record */
#define QUARANTINE_MSG_MAX	(1024u << 20)	/* bytes of one message */

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
};

/*
 * Stores msg (len bytes, borrowed) in area with a record built from env
 * and v (borrowed). Creates the quarantine directory and the area's on
 * demand. Returns 0 and the new ID in *id_r (caller frees; id_r may be
 * NULL), or -1 with err (nothing is left behind, not even a temp file).
 */
int	quarantine_store(const struct policy *pol, const char *area,
	    const unsigned char *msg, size_t len, const struct envelope *env,
	    const struct verdict *v, char **id_r, struct err *err)
	    __attribute__((warn_unused_result));

/*
 * Lists the records of area (NULL = every area), oldest first (time, then
 * ID). A record that cannot be read is skipped. A missing quarantine
 * directory is an empty list. Returns 0 with *list_r (caller frees with
 * qmeta_list_free) and *n_r, or -1 with err. At most QUARANTINE_LIST_MAX.
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

/* Removes record id and its message. QUAR_OK, QUAR_NOTFOUND, QUAR_ERROR. */
enum quar_status quarantine_delete(const struct policy *pol, const char *id,
	    struct err *err) __attribute__((warn_unused_result));

/*
 * Removes every record stored days days or more before now (0 = time();
 * days 0 removes everything),
 * together with leftovers of interrupted writes older than a day. Returns
 * 0 with the number of records removed in *removed_r (may be NULL), or
 * -1 with err (what was removed before the failure stays removed).
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

/* Appends the record as one JSON object (the format stored on disk). */
void	qmeta_json(const struct qmeta *m, struct buf *out);
/* Parses a record (bounded: size, depth, counts). 0 or -1 with err. */
int	qmeta_parse(const char *json, size_t len, struct qmeta **meta_r,
	    struct err *err) __attribute__((warn_unused_result));

void	qmeta_free(struct qmeta **mp);
void	qmeta_list_free(struct qmeta **listp, size_t n);

/* True for a well formed ID or area name (safe as a path component). */
bool	quarantine_id_ok(const char *id);
bool	quarantine_area_ok(const char *area);

#endif
