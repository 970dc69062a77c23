/* store/quarantine.c - the quarantine: files and index (see quarantine.h). */
#include "config.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "json.h"
#include "quarantine.h"

#define TMP_PREFIX	".tmp-"
#define LEFTOVER_AGE	86400	/* seconds before an orphan is removed */
#define JSON_DEPTH_MAX	8

/* ---- names ---- */

bool
quarantine_id_ok(const char *id)
{
	size_t	i;

	if (id == NULL || id[0] == '\0' || id[0] == '.' || id[0] == '-')
		return false;
	for (i = 0; id[i] != '\0'; i++)
		if (i >= QUARANTINE_ID_MAX || (!isalnum((unsigned char)id[i]) &&
		    id[i] != '-'))
			return false;
	return true;
}

bool
quarantine_area_ok(const char *area)
{
	size_t	i;

	/* The policy loader's rule for area names: [A-Za-z0-9_-]+. */
	if (area == NULL || area[0] == '\0' || area[0] == '-')
		return false;
	for (i = 0; area[i] != '\0'; i++)
		if (i >= 64 || (!isalnum((unsigned char)area[i]) &&
		    area[i] != '-' && area[i] != '_'))
			return false;
	return true;
}

static int
new_id(char *id, size_t idlen, struct err *err)
{
	unsigned char	rnd[8];
	char		ts[32];
	struct tm	tm;
	time_t		now = time(NULL);
	ssize_t		n;

	do
		n = getrandom(rnd, sizeof rnd, 0);
	while (n == -1 && errno == EINTR);
	if (n != (ssize_t)sizeof rnd)
		return err_set(err, "getrandom: %s", strerror(errno));
	if (gmtime_r(&now, &tm) == NULL ||
	    strftime(ts, sizeof ts, "%Y%m%dT%H%M%SZ", &tm) == 0)
		return err_set(err, "cannot format the time");
	snprintf(id, idlen, "%s-%02x%02x%02x%02x%02x%02x%02x%02x", ts,
	    rnd[0], rnd[1], rnd[2], rnd[3], rnd[4], rnd[5], rnd[6], rnd[7]);
	return 0;
}

/* ---- files ---- */

static int
write_all(int fd, const void *p, size_t len)
{
	const unsigned char	*q = p;
	ssize_t			 n;

	while (len > 0) {
		n = write(fd, q, len > (1u << 30) ? (1u << 30) : len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		q += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * Writes name in directory dfd atomically: temp file (O_EXCL, 0600),
 * fsync, rename. The caller fsyncs the directory. On EEXIST for the temp
 * file, returns -1 with *exists set so that the caller picks a new ID.
 */
static int
write_atomic(int dfd, const char *name, const void *p, size_t len,
    bool *exists, struct err *err)
{
	char	tmp[QUARANTINE_ID_MAX + 32];
	int	fd, saved;

	if (exists != NULL)
		*exists = false;
	snprintf(tmp, sizeof tmp, TMP_PREFIX "%s", name);
	fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, 0600);
	if (fd == -1) {
		if (errno == EEXIST && exists != NULL)
			*exists = true;
		return err_set(err, "create %s: %s", tmp, strerror(errno));
	}
	if (write_all(fd, p, len) == -1 || fsync(fd) == -1) {
		saved = errno;
		close(fd);
		unlinkat(dfd, tmp, 0);
		return err_set(err, "write %s: %s", tmp, strerror(saved));
	}
	if (close(fd) == -1) {
		saved = errno;
		unlinkat(dfd, tmp, 0);
		return err_set(err, "close %s: %s", tmp, strerror(saved));
	}
	if (renameat(dfd, tmp, dfd, name) == -1) {
		saved = errno;
		unlinkat(dfd, tmp, 0);
		return err_set(err, "rename %s: %s", tmp, strerror(saved));
	}
	return 0;
}

/* Reads a whole file (at most max bytes) below dfd. 0, or -1 with errno. */
static int
read_at(int dfd, const char *name, size_t max, unsigned char **p_r,
    size_t *len_r)
{
	struct stat	 st;
	unsigned char	*p;
	size_t		 len = 0;
	ssize_t		 n;
	int		 fd, saved;

	fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd == -1)
		return -1;
	if (fstat(fd, &st) == -1)
		saved = errno;
	else if (!S_ISREG(st.st_mode))
		saved = EINVAL;
	else if ((uint64_t)st.st_size > max)
		saved = EFBIG;
	else
		saved = 0;
	if (saved != 0) {
		close(fd);
		errno = saved;
		return -1;
	}
	p = xmalloc((size_t)st.st_size + 1);
	while (len < (size_t)st.st_size) {
		n = read(fd, p + len, (size_t)st.st_size - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	saved = errno;
	close(fd);
	if (len != (size_t)st.st_size) {
		free(p);
		errno = saved != 0 ? saved : EIO;
		return -1;
	}
	p[len] = '\0';
	*p_r = p;
	*len_r = len;
	return 0;
}

/*
 * Opens directory name below dfd (AT_FDCWD: the quarantine directory
 * itself, which may be a symbolic link to shared storage), creating it
 * mode 0700 when missing.
 */
static int
open_dir(int dfd, const char *name, struct err *err)
{
	int	fd;

	if (mkdirat(dfd, name, 0700) == 0 && dfd != AT_FDCWD)
		fsync(dfd);	/* make the new entry durable */
	fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC |
	    (dfd != AT_FDCWD ? O_NOFOLLOW : 0));
	if (fd == -1)
		return err_set(err, "open directory %s: %s", name,
		    strerror(errno));
	return fd;
}

/* ---- records ---- */

void
qmeta_clear(struct qmeta *m)
{
	size_t	i;

	free(m->id);
	free(m->area);
	free(m->node);
	free(m->queue_id);
	free(m->sender);
	for (i = 0; i < m->nrcpts; i++)
		free(m->rcpts[i]);
	free(m->rcpts);
	free(m->client);
	free(m->auth_user);
	free(m->direction);
	for (i = 0; i < m->nfindings; i++) {
		free(m->findings[i].rule);
		free(m->findings[i].part);
		free(m->findings[i].filename);
		free(m->findings[i].detail);
		free(m->findings[i].action);
	}
	free(m->findings);
	free(m->action);
	free(m->disposition);
	free(m->summary);
	free(m->policy_source);
	free(m->released_by);
	memset(m, 0, sizeof *m);
}

void
qmeta_free(struct qmeta **mp)
{
	if (*mp == NULL)
		return;
	qmeta_clear(*mp);
	free(*mp);
	*mp = NULL;
}

void
qmeta_list_free(struct qmeta **listp, size_t n)
{
	size_t	i;

	if (*listp == NULL)
		return;
	for (i = 0; i < n; i++)
		qmeta_clear(&(*listp)[i]);
	free(*listp);
	*listp = NULL;
}

/* ---- records as JSON (the .json files, list --json, show --json) ---- */

static void
set_time(struct json *o, const char *key, const char *datekey, int64_t t)
{
	char		ts[32] = "";
	struct tm	tm;
	time_t		tt = (time_t)t;

	if (gmtime_r(&tt, &tm) != NULL)
		strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
	json_set_int(o, key, t);
	json_set_str(o, datekey, ts);
}

struct json *
qmeta_to_json(const struct qmeta *m)
{
	struct json	*o = json_obj(), *env = json_obj(), *l, *f, *pol;
	size_t		 i;

	json_set_str(o, "id", m->id);
	json_set_str(o, "area", m->area);
	if (m->node != NULL)
		json_set_str(o, "node", m->node);
	set_time(o, "time", "date", m->time);
	json_set_str(o, "queue_id", m->queue_id);
	json_set_str(env, "sender", m->sender != NULL ? m->sender : "");
	l = json_arr();
	for (i = 0; i < m->nrcpts; i++)
		json_push(l, json_new_str(m->rcpts[i]));
	json_set(env, "recipients", l);
	json_set_str(env, "client", m->client);
	json_set_str(env, "auth_user", m->auth_user);
	json_set_str(env, "direction", m->direction);
	json_set(o, "envelope", env);
	l = json_arr();
	for (i = 0; i < m->nfindings; i++) {
		f = json_obj();
		json_set_str(f, "rule", m->findings[i].rule);
		json_set_str(f, "part", m->findings[i].part);
		json_set_str(f, "filename", m->findings[i].filename);
		json_set_str(f, "detail", m->findings[i].detail);
		json_set_str(f, "action", m->findings[i].action);
		json_push(l, f);
	}
	json_set(o, "findings", l);
	json_set_str(o, "action", m->action);
	json_set_str(o, "disposition", m->disposition);
	json_set_str(o, "summary", m->summary);
	json_set_uint(o, "size", m->size);
	pol = json_obj();
	json_set_uint(pol, "version", m->policy_version);
	json_set_str(pol, "source", m->policy_source);
	json_set(o, "policy", pol);
	if (m->released_time != 0) {
		f = json_obj();
		set_time(f, "time", "date", m->released_time);
		json_set_str(f, "by", m->released_by);
		json_set(o, "released", f);
	}
	json_set_int(o, "version", QUARANTINE_RECORD_VERSION);
	return o;
}

void
qmeta_json(const struct qmeta *m, struct buf *b)
{
	struct json	*o = qmeta_to_json(m);

	json_write(o, b);
	json_free(&o);
}

int
qmeta_parse(const char *text, size_t len, struct qmeta **meta_r,
    struct err *err)
{
	struct json		*root = NULL;
	const struct json	*env, *l, *o, *rel;
	struct qmeta		*m;
	size_t			 i, n;
	bool			 bad;

	*meta_r = NULL;
	if (len > QUARANTINE_META_MAX)
		return err_set(err, "bad record: too large");
	if (json_parse(text, len, JSON_DEPTH_MAX, &root, err) == -1) {
		char msg[ERR_MSG_MAX];

		snprintf(msg, sizeof msg, "%s", err != NULL ? err->msg : "");
		return err_set(err, "bad record: %s", msg);
	}
	if (!json_is_obj(root)) {
		json_free(&root);
		return err_set(err, "bad record: not one JSON object");
	}
	m = xcalloc(1, sizeof *m);
	m->id = json_get_strdup(root, "id");
	m->area = json_get_strdup(root, "area");
	m->node = json_get_strdup(root, "node");
	m->time = json_get_int(root, "time");
	m->queue_id = json_get_strdup(root, "queue_id");
	env = json_get(root, "envelope");
	m->sender = json_get_strdup(env, "sender");
	if (m->sender == NULL)
		m->sender = xstrdup("");
	l = json_get(env, "recipients");
	n = json_len(l);
	if (n > QUARANTINE_RCPTS_MAX)
		n = QUARANTINE_RCPTS_MAX;
	m->rcpts = xcalloc(n + 1, sizeof *m->rcpts);
	for (i = 0; i < n; i++)
		if (json_str(json_at(l, i)) != NULL)
			m->rcpts[m->nrcpts++] = xstrdup(json_str(json_at(l,
			    i)));
	m->client = json_get_strdup(env, "client");
	m->auth_user = json_get_strdup(env, "auth_user");
	m->direction = json_get_strdup(env, "direction");
	l = json_get(root, "findings");
	n = json_len(l);
	if (n > QUARANTINE_FINDINGS_MAX)
		n = QUARANTINE_FINDINGS_MAX;
	m->findings = xcalloc(n + 1, sizeof *m->findings);
	for (i = 0; i < n; i++) {
		struct qfinding	*f;

		if (!json_is_obj(o = json_at(l, i)))
			continue;
		f = &m->findings[m->nfindings++];
		if ((f->rule = json_get_strdup(o, "rule")) == NULL)
			f->rule = xstrdup("?");
		if ((f->part = json_get_strdup(o, "part")) == NULL)
			f->part = xstrdup("");
		f->filename = json_get_strdup(o, "filename");
		f->detail = json_get_strdup(o, "detail");
		f->action = json_get_strdup(o, "action");
	}
	m->action = json_get_strdup(root, "action");
	m->disposition = json_get_strdup(root, "disposition");
	m->summary = json_get_strdup(root, "summary");
	m->size = (uint64_t)json_get_int(root, "size");
	m->policy_version = (uint64_t)json_get_int(json_get(root, "policy"),
	    "version");
	m->policy_source = json_get_strdup(json_get(root, "policy"),
	    "source");
	if ((rel = json_get(root, "released")) != NULL) {
		m->released_time = json_get_int(rel, "time");
		m->released_by = json_get_strdup(rel, "by");
	}
	bad = !json_int_ok(root, "time") || !json_int_ok(root, "size") ||
	    !json_int_ok(json_get(root, "policy"), "version");
	json_free(&root);
	if (bad) {
		qmeta_free(&m);
		return err_set(err, "bad record: a number out of range");
	}
	if (m->id == NULL || m->area == NULL) {
		qmeta_free(&m);
		return err_set(err, "bad record: no id or area");
	}
	*meta_r = m;
	return 0;
}

/* ---- the index ---- */

void
quarantine_db_path(const struct policy *pol, char *out, size_t len)
{
	snprintf(out, len, "%s/%s", pol->quarantine_dir != NULL ?
	    pol->quarantine_dir : "", QUARANTINE_DB_NAME);
}

static bool	has_areas(const char *dir);
static void	mark_import_needed(const struct policy *pol);

#define IMPORT_MARK	".import-needed"

static void
import_mark_path(const struct policy *pol, char *out, size_t len)
{
	snprintf(out, len, "%s/" IMPORT_MARK, pol->quarantine_dir);
}

static void
mark_import_needed(const struct policy *pol)
{
	char	path[4096];
	int	fd;

	import_mark_path(pol, path, sizeof path);
	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd != -1)
		close(fd);
}

/* True when the index is PostgreSQL ([quarantine] database). */
static bool
pg_mode(const struct policy *pol)
{
	return pol->quarantine_database != NULL &&
	    pol->quarantine_database[0] != '\0';
}

/* Where the message files of st's records are: the quarantine
 * directory, or with PostgreSQL the shared [quarantine] bodies
 * directory; NULL when the database keeps the bodies. */
static const char *
files_dir(const struct policy *pol, const struct store *st)
{
	if (!store_is_shared(st))
		return pol->quarantine_dir;
	if (pol->quarantine_bodies != NULL &&
	    pol->quarantine_bodies[0] == '/')
		return pol->quarantine_bodies;
	return NULL;
}

const char *
quarantine_node(const struct policy *pol, char *buf, size_t len)
{
	if (pol->quarantine_node != NULL && pol->quarantine_node[0] != '\0')
		return pol->quarantine_node;
	if (gethostname(buf, len) == -1 || buf[0] == '\0')
		snprintf(buf, len, "localhost");
	buf[len - 1] = '\0';
	return buf;
}

/*
 * The daemon's handles on the index, opened on first use and kept (one
 * per process; store calls are serialised inside): shared_st is the
 * configured index (SQLite, or PostgreSQL), local_st the SQLite index of
 * the quarantine directory that takes what PostgreSQL cannot. Reopened
 * when the policy names another database. After PostgreSQL failed, no new
 * connection is tried for PG_RETRY seconds: messages go to the local
 * index without waiting for a dead server each time.
 */
#define PG_RETRY	10

static pthread_mutex_t	 shared_mu = PTHREAD_MUTEX_INITIALIZER;
static struct store	*shared_st, *local_st;
static char		 shared_path[4096], local_path[4096];
static int64_t		 pg_retry_at;

/* The SQLite index of pol's quarantine directory; shared_mu held. */
static struct store *
local_get_locked(const struct policy *pol, struct err *err)
{
	char	path[sizeof local_path];

	if (pol->quarantine_dir == NULL || pol->quarantine_dir[0] == '\0') {
		err_set(err, "no quarantine directory configured");
		return NULL;
	}
	quarantine_db_path(pol, path, sizeof path);
	if (local_st != NULL && strcmp(local_path, path) != 0)
		store_close(&local_st);
	if (local_st == NULL) {
		(void)mkdir(pol->quarantine_dir, 0700);
		/* An old quarantine (areas, no index): the daemon must keep
		 * working, but portcullisctl must not show the new index as
		 * the whole quarantine until "import" has run. */
		if (!pg_mode(pol) && access(path, F_OK) == -1 &&
		    errno == ENOENT && has_areas(pol->quarantine_dir))
			mark_import_needed(pol);
		if (store_open(path, STORE_CREATE, &local_st, err) == 0)
			snprintf(local_path, sizeof local_path, "%s", path);
	}
	return local_st;
}

static struct store *
local_get(const struct policy *pol, struct err *err)
{
	struct store	*st;

	pthread_mutex_lock(&shared_mu);
	st = local_get_locked(pol, err);
	pthread_mutex_unlock(&shared_mu);
	return st;
}

/* The configured index: the local one, or PostgreSQL (NULL with err
 * while it cannot be reached). */
static struct store *
shared_get(const struct policy *pol, struct err *err)
{
	struct store	*st = NULL;
	int64_t		 now;

	if (pol->quarantine_dir == NULL || pol->quarantine_dir[0] == '\0') {
		err_set(err, "no quarantine directory configured");
		return NULL;
	}
	if (!pg_mode(pol))
		return local_get(pol, err);
	pthread_mutex_lock(&shared_mu);
	if (shared_st != NULL &&
	    strcmp(shared_path, pol->quarantine_database) != 0)
		store_close(&shared_st);
	now = (int64_t)time(NULL);
	if (shared_st == NULL && now < pg_retry_at)
		err_set(err, "PostgreSQL unreachable a moment ago (tried "
		    "again in %lld s)", (long long)(pg_retry_at - now));
	else if (shared_st == NULL) {
		if (store_open_pg(pol->quarantine_database, STORE_CREATE,
		    &shared_st, err) == 0)
			snprintf(shared_path, sizeof shared_path, "%s",
			    pol->quarantine_database);
		else
			pg_retry_at = now + PG_RETRY;
	}
	st = shared_st;
	pthread_mutex_unlock(&shared_mu);
	return st;
}

/* A write to PostgreSQL failed: wait before trying it again. */
static void
shared_failed(void)
{
	pthread_mutex_lock(&shared_mu);
	pg_retry_at = (int64_t)time(NULL) + PG_RETRY;
	store_close(&shared_st);
	pthread_mutex_unlock(&shared_mu);
}

void
quarantine_close_shared(void)
{
	pthread_mutex_lock(&shared_mu);
	store_close(&shared_st);
	store_close(&local_st);
	pg_retry_at = 0;
	pthread_mutex_unlock(&shared_mu);
}

/* True when the quarantine directory holds at least one area directory. */
static bool
has_areas(const char *dir)
{
	DIR		*d;
	struct dirent	*de;
	struct stat	 sb;
	unsigned	 seen = 0;
	bool		 found = false;
	int		 fd;

	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return false;
	if ((d = fdopendir(fd)) == NULL) {
		close(fd);
		return false;
	}
	while (!found && (de = readdir(d)) != NULL &&
	    seen++ < QUARANTINE_AREAS_MAX * 4)
		found = quarantine_area_ok(de->d_name) && fstatat(dirfd(d),
		    de->d_name, &sb, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISDIR(sb.st_mode);
	closedir(d);
	return found;
}

int
quarantine_open_local(const struct policy *pol, unsigned flags,
    struct store **st_r, struct err *err)
{
	char		path[4096];
	struct stat	sb;

	*st_r = NULL;
	if (pol->quarantine_dir == NULL || pol->quarantine_dir[0] == '\0')
		return err_set(err, "no quarantine directory configured");
	if (stat(pol->quarantine_dir, &sb) == -1) {
		if (errno != ENOENT || !(flags & STORE_CREATE))
			return err_set(err, "quarantine directory %s: %s",
			    pol->quarantine_dir, strerror(errno));
		if (mkdir(pol->quarantine_dir, 0700) == -1)
			return err_set(err, "create %s: %s",
			    pol->quarantine_dir, strerror(errno));
	} else if (!S_ISDIR(sb.st_mode))
		return err_set(err, "quarantine directory %s: not a directory",
		    pol->quarantine_dir);
	quarantine_db_path(pol, path, sizeof path);
	if (!(flags & STORE_CREATE)) {
		char	mark[4096];

		import_mark_path(pol, mark, sizeof mark);
		if (access(mark, F_OK) == 0)
			return err_set(err, "%s: the index does not hold the "
			    "records made before it: build it with "
			    "\"portcullisctl import\"", path);
	}
	if (!(flags & STORE_CREATE) && access(path, F_OK) == -1 &&
	    errno == ENOENT) {
		/* A new quarantine has no index yet; an old one needs its
		 * records imported first, or every count would be zero. */
		if (has_areas(pol->quarantine_dir))
			return err_set(err, "%s: no index in this quarantine "
			    "directory: build it with \"portcullisctl import\"",
			    path);
		flags |= STORE_CREATE;
	}
	return store_open(path, flags, st_r, err);
}

int
quarantine_open(const struct policy *pol, unsigned flags,
    struct store **st_r, struct err *err)
{
	*st_r = NULL;
	if (pg_mode(pol))
		return store_open_pg(pol->quarantine_database, flags, st_r,
		    err);
	return quarantine_open_local(pol, flags, st_r, err);
}

bool
quarantine_area_known(const struct policy *pol, struct store *st,
    const char *area)
{
	struct err	err = ERR_INIT;
	char		path[4096];
	bool		used = false;
	size_t		i;

	if (!quarantine_area_ok(area))
		return false;
	for (i = 0; i < pol->nactions; i++)
		if (pol->actions[i].quarantine != NULL &&
		    strcmp(pol->actions[i].quarantine, area) == 0)
			return true;
	if (store_area_used(st, area, &used, &err) == 0 && used)
		return true;
	snprintf(path, sizeof path, "%s/%s", pol->quarantine_dir, area);
	return access(path, F_OK) == 0;
}

/* ---- store ---- */

static struct qmeta *
meta_build(const struct policy *pol, const char *id, const char *area,
    size_t len, const struct envelope *env, const struct verdict *v)
{
	struct qmeta	*m = xcalloc(1, sizeof *m);
	size_t		 i, n;
	char		 host[256];

	m->id = xstrdup(id);
	m->area = xstrdup(area);
	m->node = xstrdup(quarantine_node(pol, host, sizeof host));
	m->time = (int64_t)time(NULL);
	m->queue_id = xstrdup(env != NULL ? env->queue_id : NULL);
	m->sender = xstrdup(env != NULL && env->sender != NULL ?
	    env->sender : "");
	n = env != NULL ? env->nrcpts : 0;
	if (n > QUARANTINE_RCPTS_MAX)
		n = QUARANTINE_RCPTS_MAX;
	m->rcpts = xcalloc(n + 1, sizeof *m->rcpts);
	for (i = 0; i < n; i++)
		if (env->rcpts[i] != NULL)
			m->rcpts[m->nrcpts++] = xstrdup(env->rcpts[i]);
	if (env != NULL) {
		m->client = xstrdup(env->client_addr);
		m->auth_user = xstrdup(env->auth_user);
	}
	if (v != NULL) {
		m->direction = xstrdup(direction_str(v->direction));
		n = v->nfindings < QUARANTINE_FINDINGS_MAX ? v->nfindings :
		    QUARANTINE_FINDINGS_MAX;
		m->findings = xcalloc(n + 1, sizeof *m->findings);
		for (i = 0; i < n; i++) {
			const struct finding	*f = &v->findings[i];
			struct qfinding		*q = &m->findings[i];

			q->rule = xstrdup(rule_str(f->rule));
			q->part = xstrdup(f->part != NULL ? f->part : "");
			q->filename = xstrdup(f->filename);
			q->detail = xstrdup(f->detail);
			q->action = xstrdup(f->action != NULL ?
			    f->action->name : NULL);
		}
		m->nfindings = n;
		m->action = xstrdup(v->action != NULL ? v->action->name :
		    NULL);
		m->disposition = xstrdup(disposition_str(v->disposition));
		m->summary = xstrdup(v->summary);
	} else if (env != NULL && env->direction >= 0)
		m->direction = xstrdup(direction_str(env->direction));
	m->size = len;
	m->policy_version = pol->version;
	m->policy_source = xstrdup(pol->source);
	return m;
}

/*
 * The message and its record as files in dir/area (created on demand),
 * then the index row in st (with PostgreSQL, the record alone: the files
 * are on the shared storage). m->id is set to a new ID.
 */
static int
store_as_files(const char *dir, struct store *st, struct qmeta *m,
    const unsigned char *msg, size_t len, struct err *err)
{
	char		 id[QUARANTINE_ID_MAX], name[QUARANTINE_ID_MAX + 8];
	struct buf	 json = BUF_INIT;
	bool		 exists;
	int		 qfd = -1, afd = -1, rc = -1, tries;

	if ((qfd = open_dir(AT_FDCWD, dir, err)) == -1)
		goto out;
	if ((afd = open_dir(qfd, m->area, err)) == -1)
		goto out;
	/* The message first: a record never points at a missing file. */
	for (tries = 0;; tries++) {
		if (new_id(id, sizeof id, err) == -1)
			goto out;
		snprintf(name, sizeof name, "%s.eml", id);
		if (faccessat(afd, name, F_OK, AT_SYMLINK_NOFOLLOW) == 0) {
			exists = true;
			err_set(err, "no unique quarantine ID");
		}
		else if (write_atomic(afd, name, msg, len, &exists, err) == 0)
			break;
		if (!exists || tries >= 4)
			goto out;
	}
	free(m->id);
	m->id = xstrdup(id);
	qmeta_json(m, &json);
	buf_puts(&json, "\n");
	snprintf(name, sizeof name, "%s.json", id);
	if (write_atomic(afd, name, json.data, json.len, NULL, err) == -1) {
		snprintf(name, sizeof name, "%s.eml", id);
		unlinkat(afd, name, 0);
		goto out;
	}
	if (fsync(afd) == -1) {
		err_set(err, "fsync %s/%s: %s", dir, m->area,
		    strerror(errno));
		goto out;	/* both files stay: the record may be durable */
	}
	/* The index row last: listed means the files are there. */
	if (store_put(st, m, err) == -1) {
		snprintf(name, sizeof name, "%s.json", id);
		unlinkat(afd, name, 0);
		snprintf(name, sizeof name, "%s.eml", id);
		unlinkat(afd, name, 0);
		fsync(afd);
		goto out;
	}
	rc = 0;
out:
	if (afd != -1)
		close(afd);
	if (qfd != -1)
		close(qfd);
	buf_free(&json);
	return rc;
}

/* With PostgreSQL: the record, and the message in the database or as
 * files on the shared storage. */
static int
store_shared(const struct policy *pol, struct store *st, struct qmeta *m,
    const unsigned char *msg, size_t len, struct err *err)
{
	char	id[QUARANTINE_ID_MAX];

	if (files_dir(pol, st) != NULL)
		return store_as_files(files_dir(pol, st), st, m, msg, len,
		    err);
	if (new_id(id, sizeof id, err) == -1)
		return -1;
	free(m->id);
	m->id = xstrdup(id);
	return store_put_body(st, m, msg, len, 0, err);
}

int
quarantine_store(const struct policy *pol, const char *area,
    const unsigned char *msg, size_t len, const struct envelope *env,
    const struct verdict *v, char **id_r, struct err *err)
{
	struct qmeta	*m = NULL;
	struct store	*st;
	struct err	 why = ERR_INIT;
	int		 rc = -1;

	if (id_r != NULL)
		*id_r = NULL;
	if (pol->quarantine_dir == NULL || pol->quarantine_dir[0] == '\0')
		return err_set(err, "no quarantine directory configured");
	if (!quarantine_area_ok(area))
		return err_set(err, "bad quarantine area name");
	m = meta_build(pol, "-", area, len, env, v);
	if (pg_mode(pol)) {
		if ((st = shared_get(pol, &why)) != NULL &&
		    store_shared(pol, st, m, msg, len, &why) == 0) {
			rc = 0;
			goto out;
		}
		if (st != NULL)
			shared_failed();
		/* Never lost: the local index keeps it until "sync". */
	}
	/* The index before the area directory: a new index is told from an
	 * upgrade by the areas it finds (local_get). */
	if ((st = local_get(pol, err)) == NULL)
		goto out;
	if (store_as_files(pol->quarantine_dir, st, m, msg, len, err) == -1)
		goto out;
	if (why.msg[0] != '\0')
		err_set(err, "kept in this node's index until \"portcullisctl "
		    "sync\": %s", why.msg);
	rc = 0;
out:
	if (rc == 0 && id_r != NULL)
		*id_r = xstrdup(m->id);
	qmeta_free(&m);
	return rc;
}

/* ---- walking the areas ---- */

typedef int (*area_fn)(void *ctx, int afd, const char *area,
    struct err *err);

/* Calls fn for each area directory (or only area). Missing dir: no call. */
static int
walk_areas(const struct policy *pol, const char *area, area_fn fn,
    void *ctx, struct err *err)
{
	DIR		*d;
	struct dirent	*de;
	int		 qfd, afd, rc = 0;
	unsigned	 seen = 0;

	if (pol->quarantine_dir == NULL || pol->quarantine_dir[0] == '\0')
		return err_set(err, "no quarantine directory configured");
	qfd = open(pol->quarantine_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (qfd == -1) {
		if (errno == ENOENT)
			return 0;
		return err_set(err, "open %s: %s", pol->quarantine_dir,
		    strerror(errno));
	}
	if (area != NULL) {
		if (!quarantine_area_ok(area)) {
			close(qfd);
			return 0;
		}
		afd = openat(qfd, area, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
		    O_CLOEXEC);
		if (afd != -1) {
			rc = fn(ctx, afd, area, err);
			close(afd);
		} else if (errno != ENOENT)
			rc = err_set(err, "open %s/%s: %s",
			    pol->quarantine_dir, area, strerror(errno));
		close(qfd);
		return rc;
	}
	if ((d = fdopendir(qfd)) == NULL) {
		close(qfd);
		return err_set(err, "read %s: %s", pol->quarantine_dir,
		    strerror(errno));
	}
	while (rc == 0 && (de = readdir(d)) != NULL &&
	    seen < QUARANTINE_AREAS_MAX * 4) {
		seen++;
		if (!quarantine_area_ok(de->d_name))
			continue;
		afd = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY |
		    O_NOFOLLOW | O_CLOEXEC);
		if (afd == -1)
			continue;	/* a stray file */
		rc = fn(ctx, afd, de->d_name, err);
		close(afd);
	}
	closedir(d);
	return rc;
}

/* Calls fn(ctx, afd, area, name, stem) for each entry of an area dir. */
typedef int (*entry_fn)(void *ctx, int afd, const char *area,
    const char *name, struct err *err);

static int
walk_entries(int afd, const char *area, entry_fn fn, void *ctx,
    struct err *err)
{
	DIR		*d;
	struct dirent	*de;
	int		 fd, rc = 0;
	size_t		 seen = 0;

	if ((fd = dup(afd)) == -1 || (d = fdopendir(fd)) == NULL) {
		if (fd != -1)
			close(fd);
		return err_set(err, "read area %s: %s", area,
		    strerror(errno));
	}
	rewinddir(d);
	while (rc == 0 && (de = readdir(d)) != NULL &&
	    seen < (size_t)QUARANTINE_LIST_MAX * 4) {
		seen++;
		if (de->d_name[0] == '.' && (de->d_name[1] == '\0' ||
		    (de->d_name[1] == '.' && de->d_name[2] == '\0')))
			continue;
		rc = fn(ctx, afd, area, de->d_name, err);
	}
	closedir(d);
	return rc;
}

/* name is "ID.ext" with a good ID: copies ID into id (size idlen). */
static bool
stem_of(const char *name, const char *ext, char *id, size_t idlen)
{
	size_t	n = strlen(name), e = strlen(ext);

	if (n <= e || n - e >= idlen || strcmp(name + n - e, ext) != 0)
		return false;
	memcpy(id, name, n - e);
	id[n - e] = '\0';
	return quarantine_id_ok(id);
}

/* Reads and parses area/ID.json; the directory names area and ID. */
static int
read_meta(int afd, const char *area, const char *id, struct qmeta **m_r,
    struct err *err)
{
	char		 name[QUARANTINE_ID_MAX + 8];
	unsigned char	*p;
	size_t		 len;
	int		 rc;

	snprintf(name, sizeof name, "%s.json", id);
	if (read_at(afd, name, QUARANTINE_META_MAX, &p, &len) == -1)
		return err_set(err, "read %s/%s: %s", area, name,
		    strerror(errno));
	rc = qmeta_parse((const char *)p, len, m_r, err);
	free(p);
	if (rc == 0) {
		/* Where the file is wins over what it says. */
		free((*m_r)->id);
		(*m_r)->id = xstrdup(id);
		free((*m_r)->area);
		(*m_r)->area = xstrdup(area);
	}
	return rc;
}

/* ---- list ---- */

struct listctx {
	struct qmeta	*v;
	size_t		 n;
};

static int
list_one(void *ctx, const struct qmeta *m, struct err *err)
{
	struct listctx	*lc = ctx;

	(void)err;
	lc->v = xreallocarray(lc->v, lc->n + 1, sizeof *lc->v);
	lc->v[lc->n++] = *m;
	/* The row is ours now: the caller clears an empty record. */
	memset((struct qmeta *)m, 0, sizeof *m);
	return 0;
}

int
quarantine_list(const struct policy *pol, const char *area,
    struct qmeta **list_r, size_t *n_r, struct err *err)
{
	struct listctx		lc = { NULL, 0 };
	struct store_query	q;
	struct store		*st = NULL;
	size_t			n;
	bool			more;
	int			rc;

	*list_r = NULL;
	*n_r = 0;
	if (quarantine_open(pol, STORE_READONLY, &st, err) == -1)
		return -1;
	memset(&q, 0, sizeof q);
	q.area = area;
	q.full = true;
	rc = store_list(st, &q, list_one, &lc, &n, &more, err);
	store_close(&st);
	if (rc == -1) {
		qmeta_list_free(&lc.v, lc.n);
		return -1;
	}
	*list_r = lc.v;
	*n_r = lc.n;
	return 0;
}

/* Counts (store_list does): nothing to do per record. */
static int
count_one(void *ctx, const struct qmeta *m, struct err *err)
{
	(void)ctx;
	(void)m;
	(void)err;
	return 0;
}

static int
count_traffic(void *ctx, const struct store_traffic *t, struct err *err)
{
	(void)ctx;
	(void)t;
	(void)err;
	return 0;
}

/* ---- load, delete ---- */

/* Opens the area directory below dir. */
static int
open_area(const char *dir, const char *area, struct err *err)
{
	char	path[4096];
	int	afd;

	if (!quarantine_area_ok(area))
		return err_set(err, "bad area name in the index");
	snprintf(path, sizeof path, "%s/%s", dir, area);
	afd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (afd == -1)
		return err_set(err, "open %s: %s", path, strerror(errno));
	return afd;
}

/* The message of record m: from the database, else its file. */
static enum quar_status
load_body(const struct policy *pol, struct store *st, const struct qmeta *m,
    unsigned char **msg_r, size_t *len_r, struct err *err)
{
	enum quar_status	 qs;
	const char		*dir = files_dir(pol, st);
	char			 name[QUARANTINE_ID_MAX + 8];
	int			 afd;

	if (store_is_shared(st) && (qs = store_get_body(st, m->id, msg_r,
	    len_r, err)) != QUAR_NOTFOUND)
		return qs;
	if (dir == NULL) {
		err_set(err, "%s: the database holds no message for this "
		    "record", m->id);
		return QUAR_ERROR;
	}
	if ((afd = open_area(dir, m->area, err)) == -1)
		return QUAR_ERROR;
	snprintf(name, sizeof name, "%s.eml", m->id);
	if (read_at(afd, name, QUARANTINE_MSG_MAX, msg_r, len_r) == -1) {
		err_set(err, "read %s/%s: %s", m->area, name,
		    strerror(errno));
		close(afd);
		return QUAR_ERROR;
	}
	close(afd);
	return QUAR_OK;
}

enum quar_status
quarantine_load_from(const struct policy *pol, struct store *st,
    const char *id, struct qmeta **meta_r, unsigned char **msg_r,
    size_t *len_r, struct err *err)
{
	enum quar_status	 qs;
	struct qmeta		*m = NULL;

	*meta_r = NULL;
	if (msg_r != NULL)
		*msg_r = NULL;
	if (!quarantine_id_ok(id))
		return QUAR_NOTFOUND;
	if ((qs = store_get(st, id, &m, err)) != QUAR_OK)
		return qs;
	if (msg_r != NULL &&
	    load_body(pol, st, m, msg_r, len_r, err) != QUAR_OK) {
		qmeta_free(&m);
		return QUAR_ERROR;
	}
	*meta_r = m;
	return QUAR_OK;
}

enum quar_status
quarantine_load(const struct policy *pol, const char *id,
    struct qmeta **meta_r, unsigned char **msg_r, size_t *len_r,
    struct err *err)
{
	struct store		*st = NULL;
	enum quar_status	 qs;

	*meta_r = NULL;
	if (msg_r != NULL)
		*msg_r = NULL;
	if (!quarantine_id_ok(id))
		return QUAR_NOTFOUND;
	if (quarantine_open(pol, STORE_READONLY, &st, err) == -1)
		return QUAR_ERROR;
	qs = quarantine_load_from(pol, st, id, meta_r, msg_r, len_r, err);
	store_close(&st);
	return qs;
}

/* Removes ID.json (the record: it disappears first), then ID.eml. */
static int
remove_record(int afd, const char *area, const char *id, struct err *err)
{
	char	name[QUARANTINE_ID_MAX + 8];

	snprintf(name, sizeof name, "%s.json", id);
	if (unlinkat(afd, name, 0) == -1 && errno != ENOENT)
		return err_set(err, "remove %s/%s: %s", area, name,
		    strerror(errno));
	snprintf(name, sizeof name, "%s.eml", id);
	if (unlinkat(afd, name, 0) == -1 && errno != ENOENT)
		return err_set(err, "remove %s/%s: %s", area, name,
		    strerror(errno));
	return 0;
}

enum quar_status
quarantine_delete_from(const struct policy *pol, struct store *st,
    const char *id, struct err *err)
{
	enum quar_status	 qs;
	struct qmeta		*m = NULL;
	const char		*dir = files_dir(pol, st);
	int			 afd = -1, rc;

	if (!quarantine_id_ok(id))
		return QUAR_NOTFOUND;
	if ((qs = store_get(st, id, &m, err)) != QUAR_OK)
		return qs;
	/* Files first: an index row without files is found and removed
	 * again; files without a row would be forgotten. (A body in the
	 * database goes with its row.) */
	if (dir != NULL && (afd = open_area(dir, m->area, err)) == -1 &&
	    errno != ENOENT) {
		qmeta_free(&m);
		return QUAR_ERROR;
	}
	rc = afd == -1 ? 0 : remove_record(afd, m->area, id, err);
	if (afd != -1) {
		fsync(afd);
		close(afd);
	}
	qmeta_free(&m);
	if (rc == -1)
		return QUAR_ERROR;
	return store_delete(st, id, err);
}

enum quar_status
quarantine_delete(const struct policy *pol, const char *id,
    struct err *err)
{
	struct store		*st = NULL;
	enum quar_status	 qs;

	if (!quarantine_id_ok(id))
		return QUAR_NOTFOUND;
	if (quarantine_open(pol, 0, &st, err) == -1)
		return QUAR_ERROR;
	qs = quarantine_delete_from(pol, st, id, err);
	store_close(&st);
	return qs;
}

/* ---- released mail ---- */

/* Offset of the body (after the blank line), len if none. */
static size_t
body_offset(const unsigned char *p, size_t len)
{
	size_t	i;

	for (i = 0; i + 1 < len; i++) {
		if (p[i] != '\n')
			continue;
		if (p[i + 1] == '\n')
			return i + 2;
		if (p[i + 1] == '\r' && i + 2 < len && p[i + 2] == '\n')
			return i + 3;
	}
	return len;
}

/* Equal apart from CRLF versus LF. */
static bool
same_lines(const unsigned char *a, size_t alen, const unsigned char *b,
    size_t blen)
{
	size_t	i = 0, j = 0;

	for (;;) {
		if (i + 1 < alen && a[i] == '\r' && a[i + 1] == '\n')
			i++;
		if (j + 1 < blen && b[j] == '\r' && b[j + 1] == '\n')
			j++;
		if (i == alen || j == blen)
			return i == alen && j == blen;
		if (a[i++] != b[j++])
			return false;
	}
}

bool
quarantine_is_released(const struct policy *pol, const unsigned char *msg,
    size_t len, char **id_r)
{
	static const char	 name[] = "X-Portcullis-Released:";
	size_t			 hdr = body_offset(msg, len), i, n;
	char			 id[QUARANTINE_ID_MAX + 1];
	struct qmeta		*m = NULL;
	unsigned char		*stored = NULL;
	size_t			 slen = 0;
	struct err		 err = ERR_INIT;
	bool			 ok = false;

	if (id_r != NULL)
		*id_r = NULL;
	for (i = 0; i < hdr; i++) {
		if ((i == 0 || msg[i - 1] == '\n') && hdr - i > sizeof name &&
		    strncasecmp((const char *)msg + i, name,
		    sizeof name - 1) == 0)
			break;
	}
	if (i >= hdr)
		return false;
	i += sizeof name - 1;
	while (i < hdr && (msg[i] == ' ' || msg[i] == '\t'))
		i++;
	for (n = 0; i < hdr && n < QUARANTINE_ID_MAX &&
	    (isalnum(msg[i]) || msg[i] == '-'); i++)
		id[n++] = (char)msg[i];
	id[n] = '\0';
	if (!quarantine_id_ok(id) ||
	    quarantine_load(pol, id, &m, &stored, &slen, &err) != QUAR_OK)
		return false;
	n = body_offset(stored, slen);
	ok = same_lines(msg + hdr, len - hdr, stored + n, slen - n);
	free(stored);
	qmeta_free(&m);
	if (ok && id_r != NULL)
		*id_r = xstrdup(id);
	return ok;
}

/* ---- expire ---- */

struct expctx {
	const struct policy	*pol;
	int			 qfd;
	int64_t			 now;
};

/* Removes the files of an expired record; 0 = its row goes too. */
static int
expire_one(void *ctx, const struct qmeta *m, struct err *err)
{
	struct expctx	*ec = ctx;
	int		 afd, rc;

	if (ec->qfd == -1 || !quarantine_area_ok(m->area) ||
	    !quarantine_id_ok(m->id))
		return 0;	/* no files, or a row no file can belong to */
	afd = openat(ec->qfd, m->area, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC);
	if (afd == -1)
		return errno == ENOENT ? 0 : err_set(err, "open %s/%s: %s",
		    ec->pol->quarantine_dir, m->area, strerror(errno));
	rc = remove_record(afd, m->area, m->id, err);
	close(afd);
	return rc;
}

/* A message file whose record was never written (a crash between). */
static bool
orphan(int afd, const char *name)
{
	char	id[QUARANTINE_ID_MAX], json[QUARANTINE_ID_MAX + 8];

	if (!stem_of(name, ".eml", id, sizeof id))
		return false;
	snprintf(json, sizeof json, "%s.json", id);
	return faccessat(afd, json, F_OK, AT_SYMLINK_NOFOLLOW) == -1 &&
	    errno == ENOENT;
}

/* Leftovers of interrupted writes (temporary files, messages without a
 * record) older than a day. */
static void
sweep_area(int qfd, const char *area, int64_t now)
{
	DIR		*d;
	struct dirent	*de;
	struct stat	 st;
	size_t		 seen = 0;
	int		 afd;

	afd = openat(qfd, area, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC);
	if (afd == -1)
		return;
	if ((d = fdopendir(afd)) == NULL) {
		close(afd);
		return;
	}
	while ((de = readdir(d)) != NULL &&
	    seen++ < (size_t)QUARANTINE_LIST_MAX * 4) {
		if (strncmp(de->d_name, TMP_PREFIX, strlen(TMP_PREFIX)) != 0 &&
		    !orphan(dirfd(d), de->d_name))
			continue;
		if (fstatat(dirfd(d), de->d_name, &st,
		    AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode) &&
		    (int64_t)st.st_mtime < now - LEFTOVER_AGE)
			unlinkat(dirfd(d), de->d_name, 0);
	}
	fsync(dirfd(d));
	closedir(d);
}

int
quarantine_expire(const struct policy *pol, unsigned days, int64_t now,
    size_t *removed_r, struct err *err)
{
	struct expctx	 ec;
	struct store	*st = NULL;
	const char	*dir;
	DIR		*d;
	struct dirent	*de;
	unsigned	 seen = 0;
	size_t		 removed = 0, nt = 0;
	int		 rc = -1, fd = -1;

	if (removed_r != NULL)
		*removed_r = 0;
	if (now == 0)
		now = (int64_t)time(NULL);
	if (quarantine_open(pol, 0, &st, err) == -1)
		return -1;
	ec.pol = pol;
	ec.now = now;
	ec.qfd = -1;
	if ((dir = files_dir(pol, st)) != NULL &&
	    (ec.qfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1) {
		err_set(err, "open %s: %s", dir, strerror(errno));
		goto out;
	}
	/* days 0 removes everything, even what was stored this second. */
	if (store_expire(st, days > 0 ? now - (int64_t)days * 86400 + 1 :
	    INT64_MAX, expire_one, &ec, &removed, err) == -1)
		goto out;
	if (store_traffic_expire(st, now - (int64_t)pol->quarantine_stats_days
	    * 86400, &nt, err) == -1)
		goto out;
	if (ec.qfd == -1)
		;	/* the database holds the messages */
	else if ((fd = dup(ec.qfd)) != -1 && (d = fdopendir(fd)) != NULL) {
		while ((de = readdir(d)) != NULL &&
		    seen++ < QUARANTINE_AREAS_MAX * 4)
			if (quarantine_area_ok(de->d_name))
				sweep_area(ec.qfd, de->d_name, now);
		closedir(d);
	} else if (fd != -1)
		close(fd);
	rc = 0;
out:
	if (removed_r != NULL)
		*removed_r = removed;
	if (ec.qfd != -1)
		close(ec.qfd);
	store_close(&st);
	return rc;
}

/* ---- import ---- */

struct impctx {
	struct store	*st;
	size_t		 imported, bad, batch;
	struct err	*bad_err;	/* the first bad record's reason */
	bool		 open;		/* inside store_begin */
};

static int
import_entry(void *ctx, int afd, const char *area, const char *name,
    struct err *err)
{
	struct impctx	*ic = ctx;
	struct qmeta	*m = NULL;
	struct err	 why = ERR_INIT;
	char		 id[QUARANTINE_ID_MAX];

	if (name[0] == '.' || !stem_of(name, ".json", id, sizeof id))
		return 0;
	if (read_meta(afd, area, id, &m, &why) == -1) {
		if (ic->bad++ == 0)
			err_set(ic->bad_err, "%s/%s.json: %s", area, id,
			    why.msg);
		return 0;
	}
	if (store_put(ic->st, m, err) == -1) {
		qmeta_free(&m);
		return -1;
	}
	qmeta_free(&m);
	ic->imported++;
	/* Commit every few thousand records: bounded journal. */
	if (++ic->batch >= 10000) {
		ic->batch = 0;
		ic->open = false;
		if (store_commit(ic->st, err) == -1 ||
		    store_begin(ic->st, err) == -1)
			return -1;
		ic->open = true;
	}
	return 0;
}

static int
import_area(void *ctx, int afd, const char *area, struct err *err)
{
	return walk_entries(afd, area, import_entry, ctx, err);
}

int
quarantine_import(const struct policy *pol, size_t *imported_r,
    size_t *bad_r, struct err *bad_err, struct err *err)
{
	struct impctx	ic;
	int		rc;

	memset(&ic, 0, sizeof ic);
	ic.bad_err = bad_err;
	*imported_r = 0;
	*bad_r = 0;
	if (pol->quarantine_dir == NULL || pol->quarantine_dir[0] == '\0')
		return err_set(err, "no quarantine directory configured");
	if (access(pol->quarantine_dir, F_OK) == -1)
		return err_set(err, "quarantine directory %s: %s",
		    pol->quarantine_dir, strerror(errno));
	if (quarantine_open_local(pol, STORE_CREATE, &ic.st, err) == -1)
		return -1;
	if (store_begin(ic.st, err) == -1) {
		store_close(&ic.st);
		return -1;
	}
	ic.open = true;
	rc = walk_areas(pol, NULL, import_area, &ic, err);
	if (ic.open && store_commit(ic.st, rc == 0 ? err :
	    &(struct err)ERR_INIT) == -1)
		rc = -1;
	store_close(&ic.st);
	if (rc == 0) {
		char	mark[4096];

		import_mark_path(pol, mark, sizeof mark);
		(void)unlink(mark);	/* the index is whole now */
	}
	*imported_r = ic.imported;
	*bad_r = ic.bad;
	return rc;
}

/* ---- traffic statistics ---- */

/* A failure is reported once (-1), then not again (0) until a row is
 * written: a database problem is not news with every message. */
static bool	traffic_failing;

static int
traffic_failed(void)
{
	bool	was;

	pthread_mutex_lock(&shared_mu);
	was = traffic_failing;
	traffic_failing = true;
	pthread_mutex_unlock(&shared_mu);
	return was ? 0 : -1;
}

int
quarantine_traffic(const struct policy *pol, const struct verdict *v,
    const char *disposition, uint64_t size, uint64_t ms, const char *qid,
    struct err *err)
{
	struct store		*st;
	struct store_traffic	 t;
	struct store_hit	*hits;
	struct err		 why = ERR_INIT;
	size_t			 i, n;
	char			 host[256];
	int			 rc = -1;

	if (pol->quarantine_stats_days == 0)
		return 0;
	n = v->nfindings < QUARANTINE_FINDINGS_MAX ? v->nfindings :
	    QUARANTINE_FINDINGS_MAX;
	hits = xcalloc(n + 1, sizeof *hits);
	for (i = 0; i < n; i++) {
		const struct finding *f = &v->findings[i];

		hits[i].rule = rule_str(f->rule);
		/* Names of viruses and types only: never message text. */
		if (f->rule == RULE_VIRUS ||
		    f->rule == RULE_BLOCKED_EXTENSION ||
		    f->rule == RULE_BLOCKED_TYPE)
			hits[i].detail = f->detail;
	}
	memset(&t, 0, sizeof t);
	t.node = quarantine_node(pol, host, sizeof host);
	t.time = (int64_t)time(NULL);
	t.direction = direction_str(v->direction);
	t.disposition = disposition;
	t.size = size;
	t.scan_ms = ms;
	t.quarantine_id = qid;
	t.hits = hits;
	t.nhits = n;
	if (pg_mode(pol)) {
		if ((st = shared_get(pol, &why)) != NULL &&
		    (rc = store_traffic_add(st, &t, &why)) == -1)
			shared_failed();
	}
	/* Without PostgreSQL, the local index keeps it until "sync". */
	if (rc == -1 && (st = local_get(pol, err)) != NULL)
		rc = store_traffic_add(st, &t, err);
	free(hits);
	if (rc == 0) {
		pthread_mutex_lock(&shared_mu);
		traffic_failing = false;
		pthread_mutex_unlock(&shared_mu);
		return 0;
	}
	return traffic_failed();
}

/* ---- sync: the local index into PostgreSQL ---- */

#define SYNC_BATCH	500

struct syncctx {
	const struct policy	*pol;
	struct store		*pg, *local;
	const char		*node;
	size_t			 msgs, traffic;
};

/* Copies one local record (and its message) to PostgreSQL, then removes
 * it here: the message file, the record file, the row. 0, 1 when its
 * message cannot be read here (it stays, *why says why), -1 with err. */
static int
sync_one(struct syncctx *sc, struct qmeta *m, struct err *why,
    struct err *err)
{
	const char	*dir = files_dir(sc->pol, sc->pg);
	unsigned char	*msg = NULL;
	size_t		 len = 0;
	struct buf	 json = BUF_INIT;
	char		 name[QUARANTINE_ID_MAX + 8];
	int		 afd = -1, qfd = -1, rc = -1;

	if (!quarantine_id_ok(m->id)) {
		err_set(why, "bad ID in the local index");
		return 1;
	}
	if (load_body(sc->pol, sc->local, m, &msg, &len, why) != QUAR_OK)
		return 1;
	if (m->node == NULL)	/* imported from before nodes were named */
		m->node = xstrdup(sc->node);
	if (dir != NULL) {
		/* Shared storage: the same names; writing twice is the same
		 * file (rename over it). */
		if ((qfd = open_dir(AT_FDCWD, dir, err)) == -1 ||
		    (afd = open_dir(qfd, m->area, err)) == -1)
			goto out;
		qmeta_json(m, &json);
		buf_puts(&json, "\n");
		snprintf(name, sizeof name, "%s.eml", m->id);
		if (write_atomic(afd, name, msg, len, NULL, err) == -1)
			goto out;
		snprintf(name, sizeof name, "%s.json", m->id);
		if (write_atomic(afd, name, json.data, json.len, NULL,
		    err) == -1 || fsync(afd) == -1)
			goto out;
	}
	/* A record already there (synced before a crash) stays one row. */
	if (store_put_body(sc->pg, m, dir == NULL ? msg : NULL, len,
	    STORE_PUT_KEEP, err) == -1)
		goto out;
	if (quarantine_delete_from(sc->pol, sc->local, m->id, err) ==
	    QUAR_ERROR)
		goto out;
	sc->msgs++;
	rc = 0;
out:
	if (afd != -1)
		close(afd);
	if (qfd != -1)
		close(qfd);
	buf_free(&json);
	free(msg);
	return rc;
}

static int
sync_traffic_one(void *ctx, const struct store_traffic *t, struct err *err)
{
	struct syncctx		*sc = ctx;
	struct store_traffic	 c = *t;

	if (c.node == NULL)
		c.node = sc->node;
	/* The uid makes a second copy no copy at all. */
	if (store_traffic_add(sc->pg, &c, err) == -1 ||
	    store_traffic_delete(sc->local, t->uid, err) == QUAR_ERROR)
		return -1;
	sc->traffic++;
	return 0;
}

/*
 * One sync at a time per quarantine directory: the daemon's own rounds
 * and "portcullisctl sync" take a lock on the directory (flock), so that
 * neither sees a record vanish under it that the other just copied. With
 * wait false, a lock held elsewhere returns 1 at once. The lock's
 * descriptor in *fd_r (close it), or -1 with err.
 */
static int
sync_lock(const struct policy *pol, bool wait, int *fd_r, struct err *err)
{
	int	fd;

	*fd_r = -1;
	if ((fd = open(pol->quarantine_dir, O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC)) == -1)
		return err_set(err, "quarantine directory %s: %s",
		    pol->quarantine_dir, strerror(errno));
	while (flock(fd, LOCK_EX | (wait ? 0 : LOCK_NB)) == -1) {
		if (errno == EINTR)
			continue;
		if (errno == EWOULDBLOCK) {
			close(fd);
			return 1;
		}
		err_set(err, "lock %s: %s", pol->quarantine_dir,
		    strerror(errno));
		close(fd);
		return -1;
	}
	*fd_r = fd;
	return 0;
}

static bool
past(uint64_t deadline_ms)
{
	return deadline_ms != 0 && clock_ms() >= deadline_ms;
}

/*
 * The sync: 0 done, 1 stopped at deadline_ms (0 = none) with more to
 * copy, or -1 with err. The sync lock held.
 */
static int
sync_locked(const struct policy *pol, uint64_t deadline_ms, size_t *msgs_r,
    size_t *traffic_r, struct err *err)
{
	struct syncctx		 sc;
	struct listctx		 lc;
	struct store_query	 q;
	struct err		 why = ERR_INIT, first = ERR_INIT;
	char			 host[256];
	size_t			 n, i, skipped = 0;
	bool			 more, stopped = false;
	int			 rc = -1, r = 0;

	memset(&sc, 0, sizeof sc);
	sc.pol = pol;
	sc.node = quarantine_node(pol, host, sizeof host);
	if (store_open_pg(pol->quarantine_database, STORE_CREATE, &sc.pg,
	    err) == -1)
		return -1;
	if (quarantine_open_local(pol, 0, &sc.local, err) == -1)
		goto out;
	/* Oldest first; what cannot be read stays, first in the list, and
	 * is skipped in the next batches. */
	while (!stopped) {
		memset(&lc, 0, sizeof lc);
		memset(&q, 0, sizeof q);
		q.limit = skipped + SYNC_BATCH;
		q.full = true;
		if (store_list(sc.local, &q, list_one, &lc, &n, &more,
		    err) == -1) {
			qmeta_list_free(&lc.v, lc.n);
			goto out;
		}
		for (i = skipped; i < lc.n && !stopped; i++) {
			if ((r = sync_one(&sc, &lc.v[i], &why, err)) == -1)
				break;
			if (r == 1 && skipped++ == 0)
				err_set(&first, "%s: %s", lc.v[i].id, why.msg);
			stopped = past(deadline_ms);
		}
		qmeta_list_free(&lc.v, lc.n);
		if (r == -1)
			goto out;
		if (!more)
			break;
	}
	while (!stopped) {
		if (store_traffic_list(sc.local, SYNC_BATCH, sync_traffic_one,
		    &sc, &n, err) == -1)
			goto out;
		if (n < SYNC_BATCH)
			break;
		stopped = past(deadline_ms);
	}
	if (skipped > 0) {
		err_set(err, "%zu record%s kept here, their messages unreadable; "
		    "the first: %s", skipped, skipped == 1 ? "" : "s",
		    first.msg);
		goto out;
	}
	rc = stopped ? 1 : 0;
out:
	*msgs_r = sc.msgs;
	*traffic_r = sc.traffic;
	store_close(&sc.local);
	store_close(&sc.pg);
	return rc;
}

int
quarantine_sync(const struct policy *pol, size_t *msgs_r,
    size_t *traffic_r, struct err *err)
{
	char	path[4096];
	int	fd, rc;

	*msgs_r = 0;
	*traffic_r = 0;
	if (!pg_mode(pol))
		return err_set(err, "[quarantine] database names no "
		    "PostgreSQL database: nothing to sync to");
	quarantine_db_path(pol, path, sizeof path);
	if (access(path, F_OK) == -1 && errno == ENOENT)
		return 0;	/* never fell back: nothing waits */
	/* The daemon's round holds the lock for a bounded time. */
	if (sync_lock(pol, true, &fd, err) == -1)
		return -1;
	rc = sync_locked(pol, 0, msgs_r, traffic_r, err);
	close(fd);
	return rc;
}

/* True when this node's index holds a record or a traffic row (it does
 * only while PostgreSQL is, or was, unreachable). */
static int
sync_waiting(const struct policy *pol, bool *waiting_r, struct err *err)
{
	struct store		*st = NULL;
	struct store_query	 q;
	size_t			 n = 0, nt = 0;
	bool			 more;
	int			 rc = -1;

	*waiting_r = false;
	if (quarantine_open_local(pol, 0, &st, err) == -1)
		return -1;
	memset(&q, 0, sizeof q);
	q.limit = 1;
	if (store_list(st, &q, count_one, NULL, &n, &more, err) == 0 &&
	    (n > 0 || store_traffic_list(st, 1, count_traffic, NULL, &nt,
	    err) == 0)) {
		*waiting_r = n > 0 || nt > 0;
		rc = 0;
	}
	store_close(&st);
	return rc;
}

int
quarantine_sync_round(const struct policy *pol, uint64_t deadline_ms,
    size_t *msgs_r, size_t *traffic_r, struct err *err)
{
	char	path[4096];
	bool	waiting;
	int	fd, rc;

	*msgs_r = 0;
	*traffic_r = 0;
	if (!pg_mode(pol) || pol->quarantine_dir == NULL ||
	    pol->quarantine_dir[0] == '\0')
		return 0;
	quarantine_db_path(pol, path, sizeof path);
	if (access(path, F_OK) == -1 && errno == ENOENT)
		return 0;
	/* Nothing kept here: PostgreSQL is not even asked. */
	if (sync_waiting(pol, &waiting, err) == -1)
		return -1;
	if (!waiting)
		return 0;
	if ((rc = sync_lock(pol, false, &fd, err)) != 0)
		return rc;	/* 1: another sync runs */
	rc = sync_locked(pol, deadline_ms, msgs_r, traffic_r, err);
	close(fd);
	return rc;
}

int
quarantine_pending(const struct policy *pol, size_t *n_r, struct err *err)
{
	struct store		*st = NULL;
	struct store_query	 q;
	char			 path[4096];
	bool			 more;
	int			 rc;

	*n_r = 0;
	quarantine_db_path(pol, path, sizeof path);
	if (!pg_mode(pol) || (access(path, F_OK) == -1 && errno == ENOENT))
		return 0;
	if (quarantine_open_local(pol, STORE_READONLY, &st, err) == -1)
		return -1;
	memset(&q, 0, sizeof q);
	rc = store_list(st, &q, count_one, NULL, n_r, &more, err);
	store_close(&st);
	return rc;
}
