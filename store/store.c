/*
 * store/store.c - the store interface (store.h): each call goes to the
 * backend that opened the store (store-sqlite.c, store-pg.c); and the
 * helpers both backends' reports share (store-impl.h).
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "store-impl.h"
#include "util.h"

bool
store_is_shared(const struct store *st)
{
	return st != NULL && st->ops->shared;
}

void
store_close(struct store **stp)
{
	if (*stp == NULL)
		return;
	(*stp)->ops->close(*stp);
	*stp = NULL;
}

int
store_put(struct store *st, const struct qmeta *m, struct err *err)
{
	return st->ops->put(st, m, NULL, 0, 0, err);
}

int
store_put_body(struct store *st, const struct qmeta *m,
    const unsigned char *body, size_t len, unsigned flags, struct err *err)
{
	return st->ops->put(st, m, body, len, flags, err);
}

enum quar_status
store_get_body(struct store *st, const char *id, unsigned char **p_r,
    size_t *len_r, struct err *err)
{
	*p_r = NULL;
	*len_r = 0;
	return st->ops->get_body(st, id, p_r, len_r, err);
}

int
store_begin(struct store *st, struct err *err)
{
	return st->ops->begin(st, err);
}

int
store_commit(struct store *st, struct err *err)
{
	return st->ops->commit(st, err);
}

enum quar_status
store_get(struct store *st, const char *id, struct qmeta **m_r,
    struct err *err)
{
	return st->ops->get(st, id, m_r, err);
}

int
store_list(struct store *st, const struct store_query *q, store_fn fn,
    void *ctx, size_t *n_r, bool *more_r, struct err *err)
{
	return st->ops->list(st, q, fn, ctx, n_r, more_r, err);
}

enum quar_status
store_set_released(struct store *st, const char *id, int64_t when,
    const char *by, struct err *err)
{
	return st->ops->set_released(st, id, when, by, err);
}

enum store_claim
store_release_claim(struct store *st, const char *id, const char *token,
    int64_t now, unsigned flags, struct store_claim_info *info_r,
    struct err *err)
{
	struct store_claim_info	info;
	struct store_claim_row	row;
	int			tries, r;

	memset(&info, 0, sizeof info);
	if (info_r == NULL)
		info_r = &info;
	memset(info_r, 0, sizeof *info_r);
	/* The state read after a failed claim may have changed again
	 * meanwhile (a claim given back): a few rounds, then "busy". */
	for (tries = 0; tries < 3; tries++) {
		if ((r = st->ops->claim_try(st, id, token, now, flags,
		    err)) != 0)
			return r == 1 ? STORE_CLAIM_OK : STORE_CLAIM_ERROR;
		if ((r = st->ops->claim_read(st, id, &row, err)) != 1)
			return r == 0 ? STORE_CLAIM_NOTFOUND :
			    STORE_CLAIM_ERROR;
		if (row.releasing && row.releasing_time >= now -
		    STORE_CLAIM_STALE) {
			/* Ours already: the claim went through and its
			 * answer was lost with the connection (a backend
			 * that reconnects runs the statement again). */
			if (strcmp(row.releasing_by, token) == 0)
				return STORE_CLAIM_OK;
			info_r->time = row.releasing_time;
			snprintf(info_r->by, sizeof info_r->by, "%s",
			    row.releasing_by);
			return STORE_CLAIM_BUSY;
		}
		if (row.released && !(flags & STORE_CLAIM_AGAIN)) {
			info_r->time = row.released_time;
			snprintf(info_r->by, sizeof info_r->by, "%s",
			    row.released_by);
			return STORE_CLAIM_DONE;
		}
		/* neither (anymore): try the claim again */
	}
	info_r->time = now;
	snprintf(info_r->by, sizeof info_r->by, "another release");
	return STORE_CLAIM_BUSY;
}

enum quar_status
store_release_end(struct store *st, const char *id, const char *token,
    int64_t when, const char *by, struct err *err)
{
	return st->ops->release_end(st, id, token, when, by, err);
}

enum quar_status
store_delete(struct store *st, const char *id, struct err *err)
{
	return st->ops->del(st, id, err);
}

int
store_expire(struct store *st, int64_t cutoff, store_fn fn, void *ctx,
    size_t *n_r, struct err *err)
{
	return st->ops->expire(st, cutoff, fn, ctx, n_r, err);
}

int
store_area_used(struct store *st, const char *area, bool *used_r,
    struct err *err)
{
	return st->ops->area_used(st, area, used_r, err);
}

int
store_traffic_add(struct store *st, const struct store_traffic *t,
    struct err *err)
{
	return st->ops->traffic_add(st, t, err);
}

int
store_traffic_expire(struct store *st, int64_t cutoff, size_t *n_r,
    struct err *err)
{
	return st->ops->traffic_expire(st, cutoff, n_r, err);
}

int
store_traffic_list(struct store *st, size_t limit, store_traffic_fn fn,
    void *ctx, size_t *n_r, struct err *err)
{
	return st->ops->traffic_list(st, limit, fn, ctx, n_r, err);
}

enum quar_status
store_traffic_delete(struct store *st, const char *uid, struct err *err)
{
	return st->ops->traffic_delete(st, uid, err);
}

int
store_report(struct store *st, int64_t from, int64_t to,
    struct store_report **r_r, struct err *err)
{
	return st->ops->report(st, from, to, r_r, err);
}

void
store_report_free(struct store_report **rp)
{
	struct store_report	*r = *rp;
	size_t			 i;

	if (r == NULL)
		return;
	free(r->qtotal.key);
	free(r->ttotal.key);
#define FREE_KEYS(arr, n) do {					\
		for (i = 0; i < (n); i++)			\
			free((arr)[i].key);			\
		free(arr);					\
	} while (0)
	FREE_KEYS(r->qdays, r->nqdays);
	FREE_KEYS(r->qareas, r->nqareas);
	FREE_KEYS(r->viruses, r->nviruses);
	FREE_KEYS(r->types, r->ntypes);
	FREE_KEYS(r->senders, r->nsenders);
	FREE_KEYS(r->rcpts, r->nrcpts);
	FREE_KEYS(r->tdays, r->ntdays);
	FREE_KEYS(r->tdirs, r->ntdirs);
	FREE_KEYS(r->tactions, r->ntactions);
	FREE_KEYS(r->trules, r->ntrules);
#undef FREE_KEYS
	free(r);
	*rp = NULL;
}

/* ---- shared by the backends ---- */

int
store_new_uid(char *out, struct err *err)
{
	unsigned char	rnd[STORE_UID_LEN / 2];
	ssize_t		n;
	size_t		i;

	do
		n = getrandom(rnd, sizeof rnd, 0);
	while (n == -1 && errno == EINTR);
	if (n != (ssize_t)sizeof rnd)
		return err_set(err, "getrandom: %s", strerror(errno));
	for (i = 0; i < sizeof rnd; i++)
		snprintf(out + 2 * i, 3, "%02x", rnd[i]);
	return 0;
}

static bool
rule_is(const char *rule, const char *a, const char *b)
{
	return rule != NULL && (strcmp(rule, a) == 0 ||
	    (b != NULL && strcmp(rule, b) == 0));
}

int64_t
store_files_hit(const struct qmeta *m, const char *a, const char *b)
{
	size_t	i, j;
	int64_t	n = 0;

	for (i = 0; i < m->nfindings; i++) {
		if (!rule_is(m->findings[i].rule, a, b))
			continue;
		for (j = 0; j < i; j++)
			if (rule_is(m->findings[j].rule, a, b) &&
			    strcmp(m->findings[j].part,
			    m->findings[i].part) == 0)
				break;
		n += j == i;
	}
	return n;
}

void
store_day_key(int64_t d, char *out, size_t len)
{
	static __thread int64_t	last_d = -1;
	static __thread char	last[32];
	time_t		tt = (time_t)(d * 86400);
	struct tm	tm;

	/* Rows come in time order: the last day's name is kept. */
	if (d == last_d && len >= sizeof last) {
		memcpy(out, last, sizeof last);
		return;
	}
	if (gmtime_r(&tt, &tm) == NULL ||
	    strftime(last, sizeof last, "%Y-%m-%d", &tm) == 0)
		snprintf(last, sizeof last, "?");
	last_d = d;
	snprintf(out, len, "%s", last);
}

void *
store_row_for(void **rows, size_t *n, size_t size, const char *key,
    bool *full)
{
	size_t	i;
	char	*p;

	if (*n > 0) {
		p = (char *)*rows + (*n - 1) * size;
		if (strcmp(*(char **)p, key) == 0)
			return p;
	}
	for (i = 0; i < *n; i++) {
		p = (char *)*rows + i * size;
		if (strcmp(*(char **)p, key) == 0)
			return p;
	}
	if (*n >= STORE_REPORT_ROWS) {
		*full = true;
		return NULL;
	}
	*rows = xreallocarray(*rows, *n + 1, size);
	p = (char *)*rows + (*n)++ * size;
	memset(p, 0, size);
	*(char **)p = xstrdup(key);
	return p;
}

void
store_qrow_add(struct store_qrow *r, const struct store_qrow *a)
{
	if (r == NULL)
		return;
	r->messages += a->messages;
	r->bytes += a->bytes;
	r->virus_msgs += a->virus_msgs;
	r->virus_files += a->virus_files;
	r->blocked_msgs += a->blocked_msgs;
	r->blocked_files += a->blocked_files;
	r->encrypted_msgs += a->encrypted_msgs;
	r->encrypted_files += a->encrypted_files;
}

void
store_trow_add(struct store_trow *r, const struct store_trow *a)
{
	if (r == NULL)
		return;
	r->messages += a->messages;
	r->bytes += a->bytes;
	r->scan_ms += a->scan_ms;
	r->files += a->files;
}

static int
key_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void
store_report_sort(struct store_report *r)
{
	if (r->nqareas > 1)
		qsort(r->qareas, r->nqareas, sizeof *r->qareas, key_cmp);
	if (r->ntdirs > 1)
		qsort(r->tdirs, r->ntdirs, sizeof *r->tdirs, key_cmp);
	if (r->ntactions > 1)
		qsort(r->tactions, r->ntactions, sizeof *r->tactions,
		    key_cmp);
}
