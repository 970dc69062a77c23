/*
 * store/store-impl.h - what the store backends share (private to store/):
 * the table of a backend's functions, which store/store.c calls through,
 * and the helpers the reports of both backends use.
 *
 * A backend's own struct begins with struct store (its ops), so that
 * store.c needs no knowledge of it. Each operation has the contract of
 * the public function of the same name in store.h.
 */
#ifndef PORTCULLIS_STORE_IMPL_H
#define PORTCULLIS_STORE_IMPL_H

#include "store.h"

/* A record's release state as a backend reads it (store.c judges it). */
struct store_claim_row {
	bool			 released;	/* released_time is set */
	bool			 releasing;	/* releasing_by is set */
	int64_t			 released_time, releasing_time;
	char			 released_by[128];	/* "?" when unknown */
	char			 releasing_by[128];
};

struct store_ops {
	const char	*name;
	bool		 shared;
	void		(*close)(struct store *);
	int		(*put)(struct store *, const struct qmeta *,
			    const unsigned char *, size_t, unsigned,
			    struct err *);
	int		(*begin)(struct store *, struct err *);
	int		(*commit)(struct store *, struct err *);
	enum quar_status (*get)(struct store *, const char *,
			    struct qmeta **, struct err *);
	enum quar_status (*get_body)(struct store *, const char *,
			    unsigned char **, size_t *, struct err *);
	int		(*list)(struct store *, const struct store_query *,
			    store_fn, void *, size_t *, bool *, struct err *);
	enum quar_status (*set_released)(struct store *, const char *,
			    int64_t, const char *, struct err *);
	/* the claim's atomic UPDATE: 1 = taken, 0 = not, -1 = error */
	int		(*claim_try)(struct store *, const char *,
			    const char *, int64_t, unsigned, struct err *);
	/* the release columns of a record: 1, 0 = no such record, -1 */
	int		(*claim_read)(struct store *, const char *,
			    struct store_claim_row *, struct err *);
	enum quar_status (*release_end)(struct store *, const char *,
			    const char *, int64_t, const char *, struct err *);
	enum quar_status (*del)(struct store *, const char *, struct err *);
	int		(*expire)(struct store *, int64_t, store_fn, void *,
			    size_t *, struct err *);
	int		(*area_used)(struct store *, const char *, bool *,
			    struct err *);
	int		(*traffic_add)(struct store *,
			    const struct store_traffic *, struct err *);
	int		(*traffic_expire)(struct store *, int64_t, size_t *,
			    struct err *);
	int		(*traffic_list)(struct store *, size_t,
			    store_traffic_fn, void *, size_t *, struct err *);
	enum quar_status (*traffic_delete)(struct store *, const char *,
			    struct err *);
	int		(*report)(struct store *, int64_t, int64_t,
			    struct store_report **, struct err *);
};

struct store {
	const struct store_ops	*ops;
};

#define STORE_UID_LEN	32	/* hex digits of a traffic row's uid */

/* A new random uid in out (STORE_UID_LEN + 1 bytes). 0, or -1 with err. */
int	store_new_uid(char *out, struct err *err)
	    __attribute__((warn_unused_result));

/* Files hit by rule a (or b): distinct parts among m's findings. */
int64_t	store_files_hit(const struct qmeta *m, const char *a, const char *b);

/* The UTC day d (days since the epoch) as YYYY-MM-DD into out. */
void	store_day_key(int64_t d, char *out, size_t len);

/*
 * The row keyed key in the array *rows of *n rows of size bytes, each
 * starting with its char *key (added when missing; the last row is looked
 * at first). NULL, with *full set, when STORE_REPORT_ROWS rows exist.
 */
void	*store_row_for(void **rows, size_t *n, size_t size, const char *key,
	    bool *full);
void	 store_qrow_add(struct store_qrow *r, const struct store_qrow *a);
void	 store_trow_add(struct store_trow *r, const struct store_trow *a);
/* Sorts the by-area, by-direction and by-action tables of r by key. */
void	 store_report_sort(struct store_report *r);

#endif
