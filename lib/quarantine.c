/* lib/quarantine.c - the quarantine store (see quarantine.h). */
#include "config.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "quarantine.h"

#define TMP_PREFIX	".tmp-"
#define LEFTOVER_AGE	86400	/* seconds before an orphan is removed */
#define JSON_DEPTH_MAX	8
#define JSON_NODES_MAX	200000

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

/* ---- metadata: JSON out ---- */

static void
json_str_or_null(struct buf *b, const char *s)
{
	if (s == NULL)
		buf_puts(b, "null");
	else
		buf_json_str(b, s);
}

void
qmeta_json(const struct qmeta *m, struct buf *b)
{
	char		ts[32] = "";
	struct tm	tm;
	time_t		t = (time_t)m->time;
	size_t		i;

	if (gmtime_r(&t, &tm) != NULL)
		strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
	buf_puts(b, "{\"id\":");
	buf_json_str(b, m->id);
	buf_puts(b, ",\"area\":");
	buf_json_str(b, m->area);
	buf_printf(b, ",\"time\":%lld,\"date\":\"%s\",\"queue_id\":",
	    (long long)m->time, ts);
	json_str_or_null(b, m->queue_id);
	buf_puts(b, ",\"envelope\":{\"sender\":");
	buf_json_str(b, m->sender != NULL ? m->sender : "");
	buf_puts(b, ",\"recipients\":[");
	for (i = 0; i < m->nrcpts; i++) {
		if (i > 0)
			buf_puts(b, ",");
		buf_json_str(b, m->rcpts[i]);
	}
	buf_puts(b, "],\"client\":");
	json_str_or_null(b, m->client);
	buf_puts(b, ",\"auth_user\":");
	json_str_or_null(b, m->auth_user);
	buf_puts(b, ",\"direction\":");
	json_str_or_null(b, m->direction);
	buf_puts(b, "},\"findings\":[");
	for (i = 0; i < m->nfindings; i++) {
		const struct qfinding *f = &m->findings[i];

		buf_puts(b, i > 0 ? ",{\"rule\":" : "{\"rule\":");
		buf_json_str(b, f->rule);
		buf_puts(b, ",\"part\":");
		buf_json_str(b, f->part);
		buf_puts(b, ",\"filename\":");
		json_str_or_null(b, f->filename);
		buf_puts(b, ",\"detail\":");
		json_str_or_null(b, f->detail);
		buf_puts(b, ",\"action\":");
		json_str_or_null(b, f->action);
		buf_puts(b, "}");
	}
	buf_puts(b, "],\"action\":");
	json_str_or_null(b, m->action);
	buf_puts(b, ",\"disposition\":");
	json_str_or_null(b, m->disposition);
	buf_puts(b, ",\"summary\":");
	json_str_or_null(b, m->summary);
	buf_printf(b, ",\"size\":%llu,\"policy\":{\"version\":%llu,"
	    "\"source\":", (unsigned long long)m->size,
	    (unsigned long long)m->policy_version);
	json_str_or_null(b, m->policy_source);
	buf_puts(b, "}}");
}

/* ---- metadata: a small bounded JSON reader ---- */

enum jtype { J_NULL, J_BOOL, J_NUM, J_STR, J_ARR, J_OBJ };

struct jv {
	enum jtype	 t;
	char		*s;		/* J_STR */
	int64_t		 num;		/* J_NUM (integers) */
	bool		 b;
	struct jv	*items;		/* J_ARR, J_OBJ */
	char		**keys;		/* J_OBJ */
	size_t		 n;
};

struct jparse {
	const char	*start, *p, *end;
	size_t		 nodes;
	struct err	*err;
};

static void
jv_clear(struct jv *v)
{
	size_t	i;

	free(v->s);
	for (i = 0; i < v->n; i++) {
		jv_clear(&v->items[i]);
		if (v->keys != NULL)
			free(v->keys[i]);
	}
	free(v->items);
	free(v->keys);
	memset(v, 0, sizeof *v);
}

static void
jskip(struct jparse *jp)
{
	while (jp->p < jp->end && (*jp->p == ' ' || *jp->p == '\t' ||
	    *jp->p == '\n' || *jp->p == '\r'))
		jp->p++;
}

static int
jfail(struct jparse *jp, const char *what)
{
	return err_set(jp->err, "bad record: %s at byte %zu", what,
	    (size_t)(jp->p - jp->start));
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int
jstring(struct jparse *jp, char **s_r)
{
	struct buf	b = BUF_INIT;
	unsigned	cp;
	int		i, h;

	jp->p++;	/* the opening quote */
	while (jp->p < jp->end && *jp->p != '"') {
		if (*jp->p != '\\') {
			buf_append(&b, jp->p++, 1);
			continue;
		}
		if (++jp->p >= jp->end)
			break;
		switch (*jp->p++) {
		case '"': buf_puts(&b, "\""); break;
		case '\\': buf_puts(&b, "\\"); break;
		case '/': buf_puts(&b, "/"); break;
		case 'b': buf_puts(&b, "\b"); break;
		case 'f': buf_puts(&b, "\f"); break;
		case 'n': buf_puts(&b, "\n"); break;
		case 'r': buf_puts(&b, "\r"); break;
		case 't': buf_puts(&b, "\t"); break;
		case 'u':
			if (jp->end - jp->p < 4)
				goto bad;
			for (cp = 0, i = 0; i < 4; i++) {
				if ((h = hexval(jp->p[i])) < 0)
					goto bad;
				cp = cp << 4 | (unsigned)h;
			}
			jp->p += 4;
			/* Our writer escapes only control characters; other
			 * code points (and NUL) are kept as '?'. */
			if (cp == 0 || cp > 0x7f)
				cp = '?';
			buf_append(&b, &(char){ (char)cp }, 1);
			break;
		default:
			goto bad;
		}
	}
	if (jp->p >= jp->end)
		goto bad;
	jp->p++;
	*s_r = buf_cstr(&b);
	return 0;
bad:
	buf_free(&b);
	return jfail(jp, "bad string");
}

static int
jvalue(struct jparse *jp, struct jv *v, unsigned depth)
{
	memset(v, 0, sizeof *v);
	jskip(jp);
	if (jp->p >= jp->end)
		return jfail(jp, "unexpected end");
	if (++jp->nodes > JSON_NODES_MAX)
		return jfail(jp, "too many values");
	if (*jp->p == '"') {
		v->t = J_STR;
		return jstring(jp, &v->s);
	}
	if (*jp->p == '{' || *jp->p == '[') {
		bool	obj = *jp->p == '{';
		char	close = obj ? '}' : ']';

		if (depth >= JSON_DEPTH_MAX)
			return jfail(jp, "nested too deep");
		v->t = obj ? J_OBJ : J_ARR;
		jp->p++;
		jskip(jp);
		if (jp->p < jp->end && *jp->p == close) {
			jp->p++;
			return 0;
		}
		for (;;) {
			char	*key = NULL;

			jskip(jp);
			if (obj) {
				if (jp->p >= jp->end || *jp->p != '"' ||
				    jstring(jp, &key) == -1)
					return jfail(jp, "want a key");
				jskip(jp);
				if (jp->p >= jp->end || *jp->p != ':') {
					free(key);
					return jfail(jp, "want ':'");
				}
				jp->p++;
			}
			v->items = xreallocarray(v->items, v->n + 1,
			    sizeof *v->items);
			if (obj) {
				v->keys = xreallocarray(v->keys, v->n + 1,
				    sizeof *v->keys);
				v->keys[v->n] = key;
			}
			v->n++;
			if (jvalue(jp, &v->items[v->n - 1], depth + 1) == -1)
				return -1;
			jskip(jp);
			if (jp->p < jp->end && *jp->p == ',') {
				jp->p++;
				continue;
			}
			if (jp->p < jp->end && *jp->p == close) {
				jp->p++;
				return 0;
			}
			return jfail(jp, "want ',' or a close");
		}
	}
	if (jp->end - jp->p >= 4 && memcmp(jp->p, "null", 4) == 0) {
		jp->p += 4;
		return 0;
	}
	if (jp->end - jp->p >= 4 && memcmp(jp->p, "true", 4) == 0) {
		v->t = J_BOOL;
		v->b = true;
		jp->p += 4;
		return 0;
	}
	if (jp->end - jp->p >= 5 && memcmp(jp->p, "false", 5) == 0) {
		v->t = J_BOOL;
		jp->p += 5;
		return 0;
	}
	if (*jp->p == '-' || isdigit((unsigned char)*jp->p)) {
		bool	neg = *jp->p == '-';
		int64_t	n = 0;

		if (neg)
			jp->p++;
		if (jp->p >= jp->end || !isdigit((unsigned char)*jp->p))
			return jfail(jp, "bad number");
		while (jp->p < jp->end && isdigit((unsigned char)*jp->p)) {
			if (n > (INT64_MAX - 9) / 10)
				return jfail(jp, "number too large");
			n = n * 10 + (*jp->p++ - '0');
		}
		v->t = J_NUM;
		v->num = neg ? -n : n;
		return 0;
	}
	return jfail(jp, "unexpected character");
}

static const struct jv *
jget(const struct jv *obj, const char *key)
{
	size_t	i;

	if (obj == NULL || obj->t != J_OBJ)
		return NULL;
	for (i = 0; i < obj->n; i++)
		if (strcmp(obj->keys[i], key) == 0)
			return &obj->items[i];
	return NULL;
}

/* A copy of the string at key, NULL if absent, null or not a string. */
static char *
jstrdup(const struct jv *obj, const char *key)
{
	const struct jv	*v = jget(obj, key);

	return v != NULL && v->t == J_STR ? xstrdup(v->s) : NULL;
}

static int64_t
jnum(const struct jv *obj, const char *key)
{
	const struct jv	*v = jget(obj, key);

	return v != NULL && v->t == J_NUM ? v->num : 0;
}

static void
qmeta_clear(struct qmeta *m)
{
	size_t	i;

	free(m->id);
	free(m->area);
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

int
qmeta_parse(const char *json, size_t len, struct qmeta **meta_r,
    struct err *err)
{
	struct jparse	 jp = { json, json, json + len, 0, err };
	struct jv	 root;
	const struct jv	*env, *l, *pol;
	struct qmeta	*m;
	size_t		 i;

	if (len > QUARANTINE_META_MAX)
		return err_set(err, "bad record: too large");
	if (jvalue(&jp, &root, 0) == -1) {
		jv_clear(&root);
		return -1;
	}
	jskip(&jp);
	if (jp.p != jp.end || root.t != J_OBJ) {
		jv_clear(&root);
		return err_set(err, "bad record: not one JSON object");
	}
	m = xcalloc(1, sizeof *m);
	m->id = jstrdup(&root, "id");
	m->area = jstrdup(&root, "area");
	m->time = jnum(&root, "time");
	m->queue_id = jstrdup(&root, "queue_id");
	env = jget(&root, "envelope");
	m->sender = jstrdup(env, "sender");
	if (m->sender == NULL)
		m->sender = xstrdup("");
	l = jget(env, "recipients");
	if (l != NULL && l->t == J_ARR) {
		m->rcpts = xcalloc(l->n + 1, sizeof *m->rcpts);
		for (i = 0; i < l->n; i++)
			if (l->items[i].t == J_STR)
				m->rcpts[m->nrcpts++] =
				    xstrdup(l->items[i].s);
	}
	m->client = jstrdup(env, "client");
	m->auth_user = jstrdup(env, "auth_user");
	m->direction = jstrdup(env, "direction");
	l = jget(&root, "findings");
	if (l != NULL && l->t == J_ARR) {
		m->findings = xcalloc(l->n + 1, sizeof *m->findings);
		for (i = 0; i < l->n; i++) {
			const struct jv		*o = &l->items[i];
			struct qfinding		*f;

			if (o->t != J_OBJ)
				continue;
			f = &m->findings[m->nfindings++];
			f->rule = jstrdup(o, "rule");
			if (f->rule == NULL)
				f->rule = xstrdup("?");
			f->part = jstrdup(o, "part");
			if (f->part == NULL)
				f->part = xstrdup("");
			f->filename = jstrdup(o, "filename");
			f->detail = jstrdup(o, "detail");
			f->action = jstrdup(o, "action");
		}
	}
	m->action = jstrdup(&root, "action");
	m->disposition = jstrdup(&root, "disposition");
	m->summary = jstrdup(&root, "summary");
	m->size = (uint64_t)jnum(&root, "size");
	pol = jget(&root, "policy");
	m->policy_version = (uint64_t)jnum(pol, "version");
	m->policy_source = jstrdup(pol, "source");
	jv_clear(&root);
	if (m->id == NULL || m->area == NULL) {
		qmeta_free(&m);
		return err_set(err, "bad record: no id or area");
	}
	*meta_r = m;
	return 0;
}

/* ---- store ---- */

static struct qmeta *
meta_build(const struct policy *pol, const char *id, const char *area,
    size_t len, const struct envelope *env, const struct verdict *v)
{
	struct qmeta	*m = xcalloc(1, sizeof *m);
	size_t		 i, n;

	m->id = xstrdup(id);
	m->area = xstrdup(area);
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

int
quarantine_store(const struct policy *pol, const char *area,
    const unsigned char *msg, size_t len, const struct envelope *env,
    const struct verdict *v, char **id_r, struct err *err)
{
	char		 id[QUARANTINE_ID_MAX], name[QUARANTINE_ID_MAX + 8];
	struct qmeta	*m = NULL;
	struct buf	 json = BUF_INIT;
	bool		 exists;
	int		 qfd = -1, afd = -1, rc = -1, tries;

	if (id_r != NULL)
		*id_r = NULL;
	if (pol->quarantine_dir == NULL || pol->quarantine_dir[0] == '\0')
		return err_set(err, "no quarantine directory configured");
	if (!quarantine_area_ok(area))
		return err_set(err, "bad quarantine area name");
	if ((qfd = open_dir(AT_FDCWD, pol->quarantine_dir, err)) == -1)
		goto out;
	if ((afd = open_dir(qfd, area, err)) == -1)
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
	m = meta_build(pol, id, area, len, env, v);
	qmeta_json(m, &json);
	buf_puts(&json, "\n");
	snprintf(name, sizeof name, "%s.json", id);
	if (write_atomic(afd, name, json.data, json.len, NULL, err) == -1) {
		snprintf(name, sizeof name, "%s.eml", id);
		unlinkat(afd, name, 0);
		goto out;
	}
	if (fsync(afd) == -1) {
		err_set(err, "fsync %s/%s: %s", pol->quarantine_dir, area,
		    strerror(errno));
		goto out;	/* both files stay: the record may be durable */
	}
	if (id_r != NULL)
		*id_r = xstrdup(id);
	rc = 0;
out:
	if (afd != -1)
		close(afd);
	if (qfd != -1)
		close(qfd);
	buf_free(&json);
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
list_entry(void *ctx, int afd, const char *area, const char *name,
    struct err *err)
{
	struct listctx	*lc = ctx;
	struct qmeta	*m = NULL;
	struct err	 ignored = ERR_INIT;
	char		 id[QUARANTINE_ID_MAX];

	(void)err;
	if (name[0] == '.' || !stem_of(name, ".json", id, sizeof id))
		return 0;
	if (lc->n >= QUARANTINE_LIST_MAX)
		return 0;
	if (read_meta(afd, area, id, &m, &ignored) == -1)
		return 0;	/* unreadable records are skipped */
	lc->v = xreallocarray(lc->v, lc->n + 1, sizeof *lc->v);
	lc->v[lc->n++] = *m;
	free(m);
	return 0;
}

static int
list_area(void *ctx, int afd, const char *area, struct err *err)
{
	return walk_entries(afd, area, list_entry, ctx, err);
}

static int
meta_cmp(const void *a, const void *b)
{
	const struct qmeta	*x = a, *y = b;

	if (x->time != y->time)
		return x->time < y->time ? -1 : 1;
	return strcmp(x->id, y->id);
}

int
quarantine_list(const struct policy *pol, const char *area,
    struct qmeta **list_r, size_t *n_r, struct err *err)
{
	struct listctx	lc = { NULL, 0 };

	*list_r = NULL;
	*n_r = 0;
	if (walk_areas(pol, area, list_area, &lc, err) == -1) {
		qmeta_list_free(&lc.v, lc.n);
		return -1;
	}
	if (lc.n > 1)
		qsort(lc.v, lc.n, sizeof *lc.v, meta_cmp);
	*list_r = lc.v;
	*n_r = lc.n;
	return 0;
}

/* ---- find, load, delete ---- */

struct findctx {
	const char	*id;
	char		 area[80];
	bool		 found;
};

static int
find_area(void *ctx, int afd, const char *area, struct err *err)
{
	struct findctx	*fc = ctx;
	char		 name[QUARANTINE_ID_MAX + 8];

	(void)err;
	if (fc->found)
		return 0;
	snprintf(name, sizeof name, "%s.json", fc->id);
	if (faccessat(afd, name, F_OK, AT_SYMLINK_NOFOLLOW) == 0) {
		fc->found = true;
		snprintf(fc->area, sizeof fc->area, "%s", area);
	}
	return 0;
}

/* Finds the area holding id and opens it: afd, or -1 (QUAR_* in *st). */
static int
find_record(const struct policy *pol, const char *id, char *area,
    size_t arealen, enum quar_status *st, struct err *err)
{
	struct findctx	fc;
	char		path[4096];
	int		afd;

	memset(&fc, 0, sizeof fc);
	fc.id = id;
	*st = QUAR_NOTFOUND;
	if (!quarantine_id_ok(id))
		return -1;
	if (walk_areas(pol, NULL, find_area, &fc, err) == -1) {
		*st = QUAR_ERROR;
		return -1;
	}
	if (!fc.found)
		return -1;
	snprintf(area, arealen, "%s", fc.area);
	snprintf(path, sizeof path, "%s/%s", pol->quarantine_dir, fc.area);
	afd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (afd == -1) {
		*st = QUAR_ERROR;
		err_set(err, "open %s: %s", path, strerror(errno));
		return -1;
	}
	*st = QUAR_OK;
	return afd;
}

enum quar_status
quarantine_load(const struct policy *pol, const char *id,
    struct qmeta **meta_r, unsigned char **msg_r, size_t *len_r,
    struct err *err)
{
	enum quar_status	 st;
	char			 area[80], name[QUARANTINE_ID_MAX + 8];
	struct qmeta		*m = NULL;
	int			 afd;

	*meta_r = NULL;
	if (msg_r != NULL)
		*msg_r = NULL;
	if ((afd = find_record(pol, id, area, sizeof area, &st, err)) == -1)
		return st;
	if (read_meta(afd, area, id, &m, err) == -1) {
		close(afd);
		return QUAR_ERROR;
	}
	if (msg_r != NULL) {
		snprintf(name, sizeof name, "%s.eml", id);
		if (read_at(afd, name, QUARANTINE_MSG_MAX, msg_r,
		    len_r) == -1) {
			err_set(err, "read %s/%s: %s", area, name,
			    strerror(errno));
			qmeta_free(&m);
			close(afd);
			return QUAR_ERROR;
		}
	}
	close(afd);
	*meta_r = m;
	return QUAR_OK;
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
quarantine_delete(const struct policy *pol, const char *id,
    struct err *err)
{
	enum quar_status	st;
	char			area[80];
	int			afd, rc;

	if ((afd = find_record(pol, id, area, sizeof area, &st, err)) == -1)
		return st;
	rc = remove_record(afd, area, id, err);
	if (rc == 0)
		fsync(afd);
	close(afd);
	return rc == 0 ? QUAR_OK : QUAR_ERROR;
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
	int64_t		cutoff;		/* records older than this go */
	int64_t		now;
	size_t		removed;
};

static int
expire_entry(void *ctx, int afd, const char *area, const char *name,
    struct err *err)
{
	struct expctx	*ec = ctx;
	struct qmeta	*m = NULL;
	struct err	 ignored = ERR_INIT;
	struct stat	 st;
	char		 id[QUARANTINE_ID_MAX], json[QUARANTINE_ID_MAX + 8];
	bool		 old;

	if (fstatat(afd, name, &st, AT_SYMLINK_NOFOLLOW) == -1 ||
	    !S_ISREG(st.st_mode))
		return 0;
	old = (int64_t)st.st_mtime < ec->now - LEFTOVER_AGE;
	if (strncmp(name, TMP_PREFIX, strlen(TMP_PREFIX)) == 0) {
		if (old)	/* an interrupted write */
			unlinkat(afd, name, 0);
		return 0;
	}
	if (stem_of(name, ".eml", id, sizeof id)) {
		snprintf(json, sizeof json, "%s.json", id);
		if (old && faccessat(afd, json, F_OK,
		    AT_SYMLINK_NOFOLLOW) == -1 && errno == ENOENT)
			unlinkat(afd, name, 0);	/* record never written */
		return 0;
	}
	if (!stem_of(name, ".json", id, sizeof id))
		return 0;
	if (read_meta(afd, area, id, &m, &ignored) == -1) {
		/* An unreadable record: judge it by its file time. */
		if ((int64_t)st.st_mtime > ec->cutoff)
			return 0;
	} else if (m->time > ec->cutoff) {
		qmeta_free(&m);
		return 0;
	}
	qmeta_free(&m);
	if (remove_record(afd, area, id, err) == -1)
		return -1;
	ec->removed++;
	return 0;
}

static int
expire_area(void *ctx, int afd, const char *area, struct err *err)
{
	int	rc = walk_entries(afd, area, expire_entry, ctx, err);

	fsync(afd);
	return rc;
}

int
quarantine_expire(const struct policy *pol, unsigned days, int64_t now,
    size_t *removed_r, struct err *err)
{
	struct expctx	ec;
	int		rc;

	if (now == 0)
		now = (int64_t)time(NULL);
	ec.now = now;
	ec.cutoff = now - (int64_t)days * 86400;
	ec.removed = 0;
	rc = walk_areas(pol, NULL, expire_area, &ec, err);
	if (removed_r != NULL)
		*removed_r = ec.removed;
	return rc;
}
