/*
 * lib/verdict.h - what the inspection decided about one message.
 *
 * A verdict is built by scan_message() and owned by its caller, who
 * releases it with verdict_free(). Findings point at actions inside the
 * policy the scan ran under (borrowed: keep that policy referenced while
 * the verdict lives). Strings in the verdict are copies owned by it.
 * Not thread-safe; one verdict belongs to one message.
 */
#ifndef PORTCULLIS_VERDICT_H
#define PORTCULLIS_VERDICT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "policy.h"
#include "util.h"

struct finding {
	enum rule		 rule;
	char			*part;		/* "1.2" or "1.2/a.zip/b.exe" */
	char			*filename;	/* display name, NULL if none */
	char			*detail;	/* virus name, type, limit */
	const struct action	*action;	/* borrowed from the policy */
};

struct header_edit {
	char	*name;
	char	*value;		/* folded with "\n\t"; NULL = delete */
};

struct verdict {
	enum direction		 direction;
	enum disposition	 disposition;	/* the worst action's */
	const struct action	*action;	/* decisive action, NULL = clean */

	struct finding		*findings;
	size_t			 nfindings;

	bool			 scanned;	/* every byte inspected + AV */
	bool			 modified;	/* body replaced or subject tag */
	bool			 disclaimer;	/* outbound disclaimer added */
	char			*reply;		/* expanded "5xx x.y.z text" */
	char			*quarantine;	/* area, NULL = none */
	unsigned		 notify;	/* union of enum notify_who */
	char			*subject_tag;	/* expanded, NULL = none */
	char			*summary;	/* X-Portcullis value (no host) */

	/* Strip result: the new body (CRLF, after the header block) and the
	 * top-level headers to replace along with it. */
	unsigned char		*new_body;
	size_t			 new_body_len;
	struct header_edit	*header_edits;
	size_t			 nheader_edits;

	/* --explain / diagnostic log: one line per decision, kept only when
	 * want_explain (building them costs a second libmagic pass) */
	bool			 want_explain;
	char			**explain;
	size_t			 nexplain;

	uint64_t		 decoded_bytes;
	unsigned		 parts;
	uint64_t		 ms;
};

#define VERDICT_FINDINGS_MAX	1000	/* then: count_limit, severer only */

struct verdict	*verdict_new(enum direction dir);
void		 verdict_free(struct verdict **vp);

/* Adds a finding; strings are copied (NULL allowed for name and detail). */
void		 verdict_add(struct verdict *v, const struct policy *pol,
		    enum rule rule, const char *part, const char *filename,
		    const char *detail);
/* The same with the action given (a [content:NAME] rule's own). */
void		 verdict_add_as(struct verdict *v, const struct policy *pol,
		    const struct action *a, enum rule rule, const char *part,
		    const char *filename, const char *detail);
bool		 verdict_has(const struct verdict *v, enum rule rule);
/* The most severe disposition among the findings so far (but those of
 * rule except: RULE__N = none excepted). */
enum disposition verdict_worst(const struct verdict *v);
enum disposition verdict_worst_but(const struct verdict *v,
		    enum rule except);
/* Adds a line to v->explain when v wants them (v may be NULL). */
void		 verdict_explain(struct verdict *v, const char *fmt, ...)
		    __attribute__((format(printf, 2, 3)));
void		 verdict_add_header_edit(struct verdict *v, const char *name,
		    const char *value);

/*
 * Fixes disposition, decisive action, reply, quarantine, notify, tag and
 * summary from the findings. queue_id and sender feed %QUEUEID% and
 * %SENDER% (NULL allowed). Called once, by scan_message().
 */
void		 verdict_finish(struct verdict *v, const char *queue_id,
		    const char *sender);

/*
 * Expands %FILENAME% %VIRUS% %RULE% %QUEUEID% %SENDER% %PART% in tmpl for
 * finding f (NULL allowed). Values from the message are sanitised (no
 * control characters). Caller frees.
 */
char		*verdict_expand(const char *tmpl, const struct finding *f,
		    const char *queue_id, const char *sender);

/*
 * Serialising a verdict between processes (a scanning worker and the
 * milter). The form is versioned (VERDICT_PACK_VERSION), every count and
 * string is length-prefixed and bounded (VERDICT_PACK_MAX in all), and
 * actions travel by name: verdict_unpack() looks each up in the receiving
 * side's policy (a name it does not know falls back to that policy's
 * action for the finding's rule). The new body is not included: it is
 * passed beside the packed verdict (new_body_len is).
 *
 * verdict_pack appends to out; 0, or -1 (err) when the verdict is over
 * the bounds. verdict_unpack: 0 with *v_r (caller: verdict_free; its
 * new_body is NULL, new_body_len as packed) or -1 (err) for input that is
 * truncated, malformed, of another version or over the bounds. pol is
 * borrowed: keep it referenced while the verdict lives.
 */
#define VERDICT_PACK_VERSION	1
#define VERDICT_PACK_MAX	(16u * 1024 * 1024)
int		 verdict_pack(const struct verdict *v, struct buf *out,
		    struct err *err) __attribute__((warn_unused_result));
int		 verdict_unpack(const unsigned char *p, size_t len,
		    const struct policy *pol, struct verdict **v_r,
		    struct err *err) __attribute__((warn_unused_result));

/* The verdict as a JSON object (json_free); "file" only when file is not
 * NULL. Written through json-c (lib/json.c). */
struct json;
struct json	*verdict_to_json(const struct verdict *v, const char *file);
/* Appends the verdict as one JSON object (no newline) for file name. */
void		 verdict_json(const struct verdict *v, const char *file,
		    struct buf *out);

#endif
