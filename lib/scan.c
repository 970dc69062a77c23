/*
 * lib/scan.c - decide one message (see scan.h).
 *
 * The data path: mime_open/mime_walk decode every leaf once; then two
 * passes run in the policy's order, attachment rules (names, true types,
 * archives, recursively) and the virus scan (each leaf from memory, plus
 * archive members ClamAV cannot open, plus the raw message when a text part
 * hides an encoding we do not decode). If the first pass already rejects,
 * the second is skipped. Strip findings are then carried out on the MIME
 * tree, and the findings become one verdict.
 */
#include "config.h"

#include <arpa/inet.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "archive.h"
#include "magic.h"
#include "mime.h"
#include "names.h"
#include "passwords.h"
#include "scan.h"

/* A buffer the scanner has seen in this message: identical bytes (same
 * length and flags, equal digest, then memcmp) are scanned once. */
struct av_seen {
	const unsigned char	*data;	/* a leaf's, or a member in kept[] */
	size_t			 len;
	unsigned		 flags;	/* AV_SCAN_* */
	bool			 hashed;
	uint64_t		 hash;
	char			*path;	/* where it was scanned */
	struct av_result	 res;
};

/* A leaf inspect_blob() has seen, and whether it opened it completely. */
struct leaf_done {
	const unsigned char	*data;
	size_t			 len;
	bool			 opened;
};

struct sctx {
	const struct policy	*pol;
	const struct scan_deps	*deps;
	struct verdict		*v;
	uint64_t		 budget;	/* decoded bytes left */
	uint64_t		 deadline;	/* clock_ms() */
	size_t			*first;		/* per leaf: first with its bytes */
	unsigned		 attachments[2];	/* per reading */
	bool			 timed_out;
	struct av_seen		*seen;		/* scanned buffers */
	size_t			 nseen;
	unsigned char		**kept;		/* member bytes seen[] uses */
	size_t			 nkept;
	struct leaf_done	*done;		/* leaves inspected */
	size_t			 ndone;
	bool			 av_failed;	/* a member scan failed: */
	struct err		 av_err;	/* av_pass returns it */
	/* passphrases, gathered once, when the first archive needs them */
	const unsigned char	*msg;
	size_t			 hlen;
	const struct mime_leaf	*leaves;
	size_t			 nleaves;
	struct pwlist		*pw;
	uint64_t		 pw_deadline;	/* 0 until the first try */
};

/* Per archive level, for the archive callbacks. */
struct arcctx {
	struct sctx	*sc;
	const char	*path;		/* the archive's own path */
	unsigned	 adepth;	/* nesting of this archive */
	bool		 incomplete;	/* a member not read or not scanned */
};

static bool	inspect_blob(struct sctx *sc, const char *path,
		    const char *prefix, const char *name,
		    const unsigned char *data, size_t len, unsigned adepth);
static int	av_scan_buf(struct sctx *sc, const char *path,
		    const char *name, const unsigned char *data, size_t len,
		    unsigned flags, bool *kept_r, struct err *err);

static bool
strlist_has(const struct strlist *l, const char *w)
{
	size_t	i;

	for (i = 0; i < l->n; i++)
		if (strcmp(l->v[i], w) == 0)
			return true;
	return false;
}

static bool
past_deadline(struct sctx *sc, const char *path)
{
	char	*s;

	if (sc->timed_out)
		return true;
	if (clock_ms() < sc->deadline)
		return false;
	sc->timed_out = true;
	s = xasprintf("scan time over %llu ms",
	    (unsigned long long)sc->pol->scan_time_ms);
	verdict_add(sc->v, sc->pol, RULE_TIME_LIMIT, path, NULL, s);
	free(s);
	return true;
}

static void
mime_finding(void *ctx, enum rule rule, const char *path,
    const char *filename, const char *detail)
{
	struct sctx	*sc = ctx;

	verdict_add(sc->v, sc->pol, rule, path, filename, detail);
	verdict_explain(sc->v, "part %s: %s: %s", *path != '\0' ? path :
	    "message", rule_str(rule), detail);
}

/*
 * Name rules for one name: blocked extension and name tricks. message:
 * the name is an attached message's (message/rfc822, walked as a message
 * in this reading): with eml_by_content its .eml is judged by what the
 * message holds, every part of which is inspected on its own.
 */
static void
check_name(struct sctx *sc, const char *path, const char *name,
    bool message)
{
	bool		 tricks;
	char		*norm = name_normalise(name, &tricks);
	char		*disp = name_display(name);
	const char	*inner, *hit;

	hit = name_blocked_ext(norm, &sc->pol->blocked_extensions, &inner);
	if (hit != NULL && message && sc->pol->eml_by_content &&
	    strcmp(hit, "eml") == 0) {
		verdict_explain(sc->v, "part %s: \"%s\" is an attached message: "
		    "judged by what it holds, not by its .eml name "
		    "(eml_by_content)", path, disp);
		hit = NULL;
		inner = NULL;
	}
	if (hit != NULL) {
		char *d = xasprintf("extension .%s", hit);

		verdict_add(sc->v, sc->pol, RULE_BLOCKED_EXTENSION, path, disp,
		    d);
		verdict_explain(sc->v, "part %s: name \"%s\" has the blocked "
		    "extension .%s", path, disp, hit);
		free(d);
	} else if (inner != NULL)
		verdict_explain(sc->v, "part %s: name \"%s\" hides .%s inside; "
		    "the true type decides", path, disp, inner);
	if (tricks)
		verdict_explain(sc->v, "part %s: name \"%s\" carries invisible "
		    "or direction characters or an NTFS stream; matched as "
		    "\"%s\"", path, disp, norm);
	free(disp);
	free(norm);
}

static const char *
arc_rule_detail(enum arc_event ev, enum rule *rule)
{
	switch (ev) {
	case ARC_EV_ENCRYPTED: *rule = RULE_ENCRYPTED; return "encrypted archive";
	case ARC_EV_UNREADABLE: *rule = RULE_UNREADABLE; return "unreadable archive";
	case ARC_EV_ENTRIES: *rule = RULE_COUNT_LIMIT; return "too many archive entries";
	case ARC_EV_MEMBER_SIZE: *rule = RULE_SIZE_LIMIT; return "archive member too large";
	case ARC_EV_TOTAL_SIZE: *rule = RULE_SIZE_LIMIT; return "decoded size limit";
	case ARC_EV_RATIO: *rule = RULE_ARCHIVE_BOMB; return "compression ratio";
	case ARC_EV_ANOMALY: *rule = RULE_ARCHIVE_ANOMALY; return "archive anomaly";
	case ARC_EV_TIMEOUT: *rule = RULE_TIME_LIMIT; return "scan time";
	}
	*rule = RULE_UNREADABLE;
	return "archive";
}

static void
arc_event(void *ctx, enum arc_event ev, const char *name, const char *detail)
{
	struct arcctx	*ac = ctx;
	enum rule	 rule;
	const char	*what = arc_rule_detail(ev, &rule);
	char		*path = name != NULL ?
	    xasprintf("%s/%s", ac->path, name) : xstrdup(ac->path);
	char		*d = xasprintf("%s%s%s", what, detail != NULL ? ": " : "",
	    detail != NULL ? detail : "");
	char		*disp = name != NULL ? name_display(name) : NULL;

	if (ev == ARC_EV_TIMEOUT)
		ac->sc->timed_out = true;
	if (ev != ARC_EV_ANOMALY)
		ac->incomplete = true;	/* the scanner unpacks it too */
	verdict_add(ac->sc->v, ac->sc->pol, rule, path, disp, d);
	verdict_explain(ac->sc->v, "part %s: %s: %s", path, rule_str(rule), d);
	free(disp);
	free(d);
	free(path);
}

/* Whether archive members are scanned as the walk meets them: the
 * antivirus runs, and (attachment rules first) the message is not
 * already rejected, in which case the antivirus pass is skipped too. */
static bool
member_scan_wanted(struct sctx *sc)
{
	return sc->pol->av_enabled && sc->deps->av_scan != NULL &&
	    !sc->av_failed && !(sc->pol->attachments_first &&
	    verdict_worst(sc->v) == DISP_REJECT);
}

/*
 * One archive member: its names, its true type and the archives inside it
 * (inspect_blob, recursively), then its virus scan from memory. A member
 * that is itself an archive the walk opened completely is scanned with
 * AV_SCAN_CONTAINER: its members were scanned one by one already.
 */
static int
arc_entry(void *ctx, const struct arc_entry *e, struct err *err)
{
	struct arcctx	*ac = ctx;
	struct sctx	*sc = ac->sc;
	char		*path = xasprintf("%s/%s", ac->path, e->name);
	char		*disp = name_display(e->name);
	bool		 opened, kept = false;
	int		 r = 0;

	check_name(sc, path, e->name, false);
	if (e->alt_name != NULL)
		check_name(sc, path, e->alt_name, false);
	if (e->truncated)
		ac->incomplete = true;
	if (e->encrypted) {
		char *d = xasprintf("encrypted archive entry%s%s",
		    e->enc_why != NULL ? ": " : "",
		    e->enc_why != NULL ? e->enc_why : "");

		ac->incomplete = true;
		verdict_add(sc->v, sc->pol, RULE_ENCRYPTED, path, disp, d);
		verdict_explain(sc->v, "part %s: encrypted entry, content "
		    "cannot be inspected%s%s", path, e->enc_why != NULL ?
		    ": " : "", e->enc_why != NULL ? e->enc_why : "");
		free(d);
	} else if (!e->is_dir && e->len > 0) {
		opened = inspect_blob(sc, path, NULL, e->name, e->data, e->len,
		    ac->adepth + 1);
		if (sc->av_failed)
			r = -1;
		else if (!member_scan_wanted(sc))
			ac->incomplete = true;
		else {
			if (sc->deps->progress != NULL)
				sc->deps->progress(sc->deps->progress_ctx);
			if (av_scan_buf(sc, path, e->name, e->data, e->len,
			    opened ? AV_SCAN_CONTAINER : 0, &kept, err) == -1) {
				sc->av_failed = true;
				sc->av_err = *err;
				r = -1;
			}
		}
		if (kept) {		/* seen[] points to it */
			*e->keep_r = true;
			sc->kept = xreallocarray(sc->kept, sc->nkept + 1,
			    sizeof *sc->kept);
			sc->kept[sc->nkept++] = (unsigned char *)e->data;
		}
	}
	free(disp);
	free(path);
	if (r == -1)
		return -1;
	return past_deadline(sc, ac->path) ? -1 : 0;
}

/*
 * A passphrase that opens this encrypted zip or 7z: the policy's and the
 * message's candidates (gathered on the first call), within
 * [limits] password_attempts per archive and password_time per message.
 * Returns the word (borrowed from sc->pw) and its source, or NULL.
 */
static const char *
arc_passphrase(struct sctx *sc, const char *path, const unsigned char *data,
    size_t len, const struct arc_limits *lim, const char **source_r)
{
	const struct policy	*pol = sc->pol;
	unsigned		 tried;
	int			 i;

	if (pol->password_attempts == 0)
		return NULL;
	if (sc->pw == NULL)
		sc->pw = passwords_gather(pol, sc->msg, sc->hlen, sc->leaves,
		    sc->nleaves);
	if (passwords_count(sc->pw) == 0)
		return NULL;
	if (sc->pw_deadline == 0)
		sc->pw_deadline = clock_ms() + pol->password_time_ms;
	i = archive_find_passphrase(data, len, lim, passwords_words(sc->pw),
	    passwords_count(sc->pw), pol->password_attempts,
	    sc->pw_deadline < sc->deadline ? sc->pw_deadline : sc->deadline,
	    &tried);
	if (i == ARC_PW_PLAIN)
		return NULL;
	if (i == ARC_PW_UNSUPPORTED) {
		verdict_explain(sc->v, "part %s: encrypted; %s: none of the "
		    "%zu candidate passwords tried", path, ARC_7Z_UNSUPPORTED,
		    passwords_count(sc->pw));
		return NULL;
	}
	if (i < 0) {
		verdict_explain(sc->v, "part %s: encrypted; %u of %zu candidate "
		    "passwords tried, none opens it", path, tried,
		    passwords_count(sc->pw));
		return NULL;
	}
	*source_r = passwords_source(sc->pw, (size_t)i);
	verdict_explain(sc->v, "part %s: encrypted; candidate password %d "
	    "(from %s) opens it, after %u tries", path, i + 1, *source_r,
	    tried);
	return passwords_words(sc->pw)[i];
}

/*
 * True type, blocked types, and archives inside, for one buffer. Members
 * of an archive get paths under prefix (NULL = path): a MIME part's
 * members are "2/a.zip/dir/b.exe", a member's members "2/a.zip/b.zip/c".
 * Returns true if the buffer is an archive whose every member was read
 * and scanned: the scanner then need not unpack it (AV_SCAN_CONTAINER).
 * A leaf (adepth 0) is inspected once, whichever pass asks first.
 */
static bool
inspect_blob(struct sctx *sc, const char *path, const char *prefix,
    const char *name, const unsigned char *data, size_t len,
    unsigned adepth)
{
	const struct policy	*pol = sc->pol;
	char			 desc[128] = "";
	const char		*type;
	struct arc_limits	 lim;
	struct arc_ops		 ops = { arc_entry, arc_event };
	struct arcctx		 ac;
	struct err		 err = ERR_INIT;
	size_t			 i, me = SIZE_MAX;
	bool			 opened;
	const char		*pw_src = NULL;

	if (adepth == 0) {
		for (i = 0; i < sc->ndone; i++)
			if (sc->done[i].data == data && sc->done[i].len == len)
				return sc->done[i].opened;
		sc->done = xreallocarray(sc->done, sc->ndone + 1,
		    sizeof *sc->done);
		me = sc->ndone++;
		sc->done[me].data = data;
		sc->done[me].len = len;
		sc->done[me].opened = false;
	}
	if (past_deadline(sc, path))
		return false;
	type = typer_detect(sc->deps->typer, data, len,
	    sc->v->want_explain ? desc : NULL, sizeof desc);
	verdict_explain(sc->v, "part %s: %zu bytes, true type %s (%s)", path,
	    len, type, desc[0] != '\0' ? desc : "-");
	if (strlist_has(&pol->blocked_types, type)) {
		char *d = xasprintf("true type %s", type);
		char *disp = name != NULL ? name_display(name) : NULL;

		verdict_add(sc->v, pol, RULE_BLOCKED_TYPE, path, disp, d);
		verdict_explain(sc->v, "part %s: true type %s is blocked",
		    path, type);
		free(disp);
		free(d);
	}
	if (!truetype_is_archive(type) || !pol->inspect_archives)
		return false;
	if (adepth >= pol->archive_depth) {
		char *d = xasprintf("archive nesting deeper than %u",
		    pol->archive_depth);

		verdict_add(sc->v, pol, RULE_DEPTH_LIMIT, path, NULL, d);
		verdict_explain(sc->v, "part %s: %s, not opened", path, d);
		free(d);
		return false;
	}
	memset(&lim, 0, sizeof lim);
	lim.entries = pol->archive_entries;
	lim.member_size = pol->archive_member_size;
	lim.budget = &sc->budget;
	lim.ratio = pol->compression_ratio;
	lim.deadline_ms = sc->deadline;
	lim.formats = pol->archive_formats_line;
	ac.sc = sc;
	ac.path = prefix != NULL ? prefix : path;
	ac.adepth = adepth;
	ac.incomplete = false;
	lim.passphrase = arc_passphrase(sc, path, data, len, &lim, &pw_src);
	if (lim.passphrase != NULL) {
		char *d = xasprintf("opened with a password from %s", pw_src);
		char *disp = name != NULL ? name_display(name) : NULL;

		verdict_add(sc->v, pol, RULE_ENCRYPTED_OPENED, path, disp, d);
		free(disp);
		free(d);
	}
	verdict_explain(sc->v, "part %s: opening %s archive (level %u)", path,
	    archive_format_hint(data, len), adepth + 1);
	if (archive_walk(data, len, &lim, &ops, &ac, &err) == -1) {
		if (!sc->timed_out && !sc->av_failed) {
			verdict_add(sc->v, pol, RULE_UNREADABLE, path, NULL,
			    err.msg);
			verdict_explain(sc->v, "part %s: archive walk "
			    "stopped: %s", path, err.msg);
		}
		ac.incomplete = true;
	}
	opened = !ac.incomplete && !sc->timed_out;
	if (me != SIZE_MAX)
		sc->done[me].opened = opened;
	verdict_explain(sc->v, "part %s: %s", path, opened ? "every member "
	    "read: the scanner matches the archive's own bytes only" :
	    "not every member read: the scanner unpacks the archive too");
	return opened;
}

/* ---- every reading, identical leaves once ------------------------------ */

/* For each leaf, the leaf whose inspection stands for it: the tolerant
 * reading's copies of GMime's leaves (mime.h, same_as) are inspected
 * once, as GMime's. */
static size_t *
leaf_firsts(const struct mime_leaf *l, size_t n)
{
	size_t	*first = xcalloc(n + 1, sizeof *first);
	size_t	 i;

	for (i = 0; i < n; i++)
		first[i] = l[i].same_as != MIME_LEAF_NONE ? l[i].same_as : i;
	return first;
}

/* A leaf with the bytes of an earlier one: only its names are new. */
static void
same_as(struct sctx *sc, const struct mime_leaf *leaves, size_t i)
{
	const struct mime_leaf	*l = &leaves[i], *f = &leaves[sc->first[i]];
	size_t			 k, m;

	verdict_explain(sc->v, "part %s (%s reading): same bytes as part %s "
	    "(%s reading), inspected once", l->path, l->reading, f->path,
	    f->reading);
	for (k = 0; k < l->nnames; k++) {
		for (m = 0; m < f->nnames; m++)
			if (strcmp(l->names[k], f->names[m]) == 0)
				break;
		if (m == f->nnames)
			check_name(sc, f->path, l->names[k],
			    l->container);
	}
}

/* The extension a client would open the file by ("" if none). */
static void
last_ext(const char *name, char *out, size_t outsz)
{
	char		*norm = name_normalise(name, NULL);
	const char	*dot = strrchr(norm, '.');

	snprintf(out, outsz, "%s", dot != NULL ? dot + 1 : "");
	free(norm);
}

/* Leaves that stand for files; a message/rfc822 leaf is walked by both
 * readings (GMime keeps its bytes as a leaf, the tolerant one does not). */
static bool
file_like(const struct mime_leaf *l)
{
	return !l->container && l->len > 0 && !l->truncated &&
	    (!l->textual || l->attachment) &&
	    strncmp(l->ctype, "message/", 8) != 0;
}

/* A part a client would offer as a file: it has a name, or content of a
 * type something opens (not text, not unknown bytes). */
static bool
shown_as_file(struct sctx *sc, const struct mime_leaf *l)
{
	const char	*type;

	if (l->nnames > 0)
		return true;
	type = typer_detect(sc->deps->typer, l->data, l->len, NULL, 0);
	return strcmp(type, "text") != 0 && strcmp(type, "data") != 0;
}

/* The leaf of the other reading at the same place: GMime's "P" and the
 * tolerant reading's "lenient:P" (its first decoding). NULL if none. */
static const struct mime_leaf *
counterpart(const struct mime_leaf *leaves, size_t n,
    const struct mime_leaf *l)
{
	const size_t	 pl = strlen(READING_LENIENT ":");
	size_t		 k;

	for (k = 0; k < n; k++) {
		const struct mime_leaf *o = &leaves[k];

		if (o->lenient == l->lenient || o->container)
			continue;
		if (l->lenient ? strcmp(o->path, l->path + pl) == 0 :
		    strncmp(o->path, READING_LENIENT ":", pl) == 0 &&
		    strcmp(o->path + pl, l->path) == 0)
			return o;
	}
	return NULL;
}

/* True if GMime's leaf l was taken out of another of GMime's leaves (a
 * file in its text, TNEF, HTML, S/MIME: path "P/x" or "P.1") that the
 * tolerant reading has too: that reading did not look inside its copy. */
static bool
inside_copy(const struct mime_leaf *leaves, size_t n,
    const unsigned char *mask, const size_t *first,
    const struct mime_leaf *l)
{
	size_t	k, pl;

	for (k = 0; k < n; k++) {
		const struct mime_leaf *a = &leaves[k];

		if (a->lenient || a == l || (mask[first[k]] & 2) == 0)
			continue;
		pl = strlen(a->path);
		if (strncmp(l->path, a->path, pl) == 0 &&
		    (l->path[pl] == '/' || l->path[pl] == '.'))
			return true;
	}
	return false;
}

/* The true type, "" for text and unknown bytes: what a reader that could
 * not decode a part shows instead of a file. */
static const char *
file_type(struct sctx *sc, const struct mime_leaf *l)
{
	const char *t = typer_detect(sc->deps->typer, l->data, l->len, NULL, 0);

	return strcmp(t, "text") == 0 || strcmp(t, "data") == 0 ? "" : t;
}

static void
readings_finding(struct sctx *sc, enum rule rule, const struct mime_leaf *l,
    const char *why)
{
	char *disp = l->nnames > 0 ? name_display(l->names[0]) : NULL;

	verdict_add(sc->v, sc->pol, rule, l->path, disp, why);
	verdict_explain(sc->v, "part %s: %s: %s", l->path, rule_str(rule), why);
	free(disp);
}

/*
 * The readings judged together (every leaf of both was inspected anyway).
 * They are ambiguous where a client could be shown one file and another
 * client another: the same bytes under different extensions, or, at the
 * same place, two different files (types or extensions). A reading that
 * finds a file where the other finds nothing, or only text it could not
 * decode, read the message better: malformed, not ambiguous.
 */
static void
readings_pass(struct sctx *sc, const struct mime_leaf *leaves, size_t n,
    bool gmime_parsed)
{
	unsigned char	*mask = xcalloc(n + 1, 1);
	size_t		 i, k;
	char		 e1[16], e2[16];

	for (i = 0; i < n; i++)
		mask[sc->first[i]] |= leaves[i].lenient ? 2 : 1;
	for (i = 0; i < n; i++) {
		const struct mime_leaf	*l = &leaves[i], *o;
		unsigned		 want = l->lenient ? 1 : 2;
		const char		*t1, *t2;

		if (!file_like(l) || (!l->lenient && !gmime_parsed))
			continue;
		if (past_deadline(sc, l->path))
			break;		/* the pairing below is quadratic */
		if ((mask[sc->first[i]] & want) != 0) {
			if (!l->lenient || l->nnames == 0)
				continue;
			for (k = 0; k < n; k++)	/* GMime's leaf, same bytes */
				if (sc->first[k] == sc->first[i] &&
				    !leaves[k].lenient)
					break;
			if (k < n && leaves[k].nnames > 0) {
				last_ext(l->names[0], e1, sizeof e1);
				last_ext(leaves[k].names[0], e2, sizeof e2);
				if (strcasecmp(e1, e2) != 0)
					readings_finding(sc, RULE_AMBIGUOUS, l,
					    "the readings name this file "
					    "differently");
			}
			continue;
		}
		/* another decoding of the same part may match */
		for (k = 0; k < n; k++)
			if (k != i && leaves[k].lenient == l->lenient &&
			    strcmp(leaves[k].path, l->path) == 0 &&
			    (mask[sc->first[k]] & want) != 0)
				break;
		if (k < n || !shown_as_file(sc, l))
			continue;
		if (!l->lenient && inside_copy(leaves, n, mask, sc->first, l))
			continue;
		o = counterpart(leaves, n, l);
		if (o == NULL || o->len == 0) {
			readings_finding(sc, RULE_MALFORMED, l, l->lenient ?
			    "only the tolerant reading finds this file" :
			    "only GMime's reading finds this file");
			continue;
		}
		t1 = file_type(sc, l);
		t2 = file_type(sc, o);
		e1[0] = e2[0] = '\0';
		if (l->nnames > 0 && o->nnames > 0) {
			last_ext(l->names[0], e1, sizeof e1);
			last_ext(o->names[0], e2, sizeof e2);
		}
		if (*t1 != '\0' && *t2 != '\0' && (strcmp(t1, t2) != 0 ||
		    strcasecmp(e1, e2) != 0))
			readings_finding(sc, RULE_AMBIGUOUS, l, "the readings "
			    "show different files here");
		else if (l->lenient)	/* once per pair */
			readings_finding(sc, RULE_MALFORMED, l, "the readings "
			    "decode this part differently");
	}
	free(mask);
}

/* True type and archives of one leaf (body text is scanned, not typed).
 * Members of a named leaf's archive are "PART/NAME/member". */
static void
inspect_leaf(struct sctx *sc, const struct mime_leaf *l)
{
	const char	*first = l->nnames > 0 ? l->names[0] : NULL;
	char		*prefix = NULL;

	if ((l->textual && l->nnames == 0) || l->container)
		return;
	if (first != NULL) {
		char *norm = name_normalise(first, NULL);

		prefix = xasprintf("%s/%s", l->path, norm);
		free(norm);
	}
	(void)inspect_blob(sc, l->path, prefix, first, l->data, l->len, 0);
	free(prefix);
}

static void
attachment_pass(struct sctx *sc, const struct mime_leaf *leaves, size_t n)
{
	const struct policy	*pol = sc->pol;
	size_t			 i, k;

	for (i = 0; i < n; i++) {
		const struct mime_leaf	*l = &leaves[i];
		const char		*first = l->nnames > 0 ? l->names[0] :
		    NULL;
		bool			 lenient = l->lenient;

		if (past_deadline(sc, l->path))
			return;
		if (sc->deps->progress != NULL)
			sc->deps->progress(sc->deps->progress_ctx);
		if (l->attachment && !l->variant && !l->container &&
		    ++sc->attachments[lenient] == pol->attachments + 1) {
			char *d = xasprintf("more than %u attachments",
			    pol->attachments);

			verdict_add(sc->v, pol, RULE_COUNT_LIMIT, l->path, NULL,
			    d);
			free(d);
		}
		if (sc->first[i] != i) {
			same_as(sc, leaves, i);
			continue;
		}
		verdict_explain(sc->v, "part %s (%s reading): %s%s%s%s%s",
		    l->path, l->reading, l->ctype, first != NULL ?
		    ", name \"" : "", first != NULL ? first : "",
		    first != NULL ? "\"" : "", l->variant ?
		    ", another decoding" : "");
		for (k = 0; k < l->nnames; k++)
			check_name(sc, l->path, l->names[k],
			    l->container);
		if (l->nnames > 1) {
			char	*a = name_normalise(l->names[0], NULL);

			for (k = 1; k < l->nnames; k++) {
				char *b = name_normalise(l->names[k], NULL);

				if (strcmp(a, b) != 0) {
					char *da = name_display(l->names[0]);
					char *db = name_display(l->names[k]);
					char *d = xasprintf("names differ: "
					    "\"%s\" / \"%s\"", da, db);

					verdict_add(sc->v, pol,
					    RULE_NAME_MISMATCH, l->path, da, d);
					free(d);
					free(da);
					free(db);
				}
				free(b);
			}
			free(a);
		}
		if (l->len > pol->attachment_size) {
			char *d = xasprintf("part of %zu bytes, limit %llu",
			    l->len, (unsigned long long)pol->attachment_size);
			char *disp = first != NULL ? name_display(first) : NULL;

			verdict_add(sc->v, pol, RULE_SIZE_LIMIT, l->path, disp,
			    d);
			free(disp);
			free(d);
		}
		inspect_leaf(sc, l);
	}
}

static void	av_embedded(struct sctx *sc, const char *path,
		    const struct av_result *res);

/* ---- content rules ---------------------------------------------------- */

#define CONTENT_SCAN_MAX	(1024 * 1024)	/* bytes of a body matched */

static void
content_hit(struct sctx *sc, const struct content_rule *c, const char *part,
    const char *where)
{
	const struct action	*a = c->action[sc->v->direction];
	char			*d = xasprintf("content rule %s matched %s",
	    c->name, where);

	verdict_add_as(sc->v, sc->pol, a != NULL ? a :
	    sc->pol->rules[sc->v->direction][RULE_CONTENT], RULE_CONTENT,
	    part, NULL, d);
	verdict_explain(sc->v, "%s: %s", *part != '\0' ? part : "message", d);
	free(d);
}

/* Header rules on the top-level header block (values unfolded), body
 * rules on the decoded text parts (the first CONTENT_SCAN_MAX bytes). */
static void
content_pass(struct sctx *sc, const unsigned char *msg, size_t hlen,
    const struct mime_leaf *leaves, size_t n)
{
	const struct policy	*pol = sc->pol;
	const unsigned char	*p = msg, *end = msg + hlen;
	struct buf		 val = BUF_INIT;
	size_t			 i, k;

	if (pol->ncontent == 0)
		return;
	while (p < end) {			/* one header field per turn */
		const unsigned char	*colon, *f = p;
		size_t			 nlen;

		do {
			const unsigned char *eol = memchr(p, '\n',
			    (size_t)(end - p));

			p = eol != NULL ? eol + 1 : end;
		} while (p < end && (*p == ' ' || *p == '\t'));
		colon = memchr(f, ':', (size_t)(p - f));
		if (colon == NULL)
			continue;
		nlen = (size_t)(colon - f);
		buf_reset(&val);
		for (k = (size_t)(colon + 1 - f); f + k < p; k++)
			if (f[k] != '\r' && f[k] != '\n' && f[k] != '\0')
				buf_append(&val, &f[k], 1);
		for (i = 0; i < pol->ncontent; i++) {
			const struct content_rule *c = &pol->content[i];

			if (c->off[sc->v->direction])
				continue;
			if (c->header != NULL && strlen(c->header) == nlen &&
			    strncasecmp(c->header, (const char *)f, nlen) == 0 &&
			    regexec(c->re, buf_cstr(&val), 0, NULL, 0) == 0)
				content_hit(sc, c, "", c->header);
		}
	}
	for (k = 0; k < n; k++) {
		const struct mime_leaf *l = &leaves[k];

		if (!l->textual || sc->first[k] != k)
			continue;
		buf_reset(&val);
		buf_append(&val, l->data, l->len < CONTENT_SCAN_MAX ? l->len :
		    CONTENT_SCAN_MAX);
		for (i = 0; i < val.len; i++)	/* regexec stops at a NUL */
			if (val.data[i] == '\0')
				val.data[i] = ' ';
		for (i = 0; i < pol->ncontent; i++) {
			const struct content_rule *c = &pol->content[i];

			if (c->header == NULL && !c->off[sc->v->direction] &&
			    regexec(c->re, buf_cstr(&val), 0, NULL, 0) == 0)
				content_hit(sc, c, l->path, "the text");
		}
	}
	buf_free(&val);
}

/* ---- virus scan: each buffer once --------------------------------- */

/*
 * Digest for bucketing identical buffers; equality is then confirmed with
 * memcmp, so a collision costs a comparison, never a skipped scan. Only
 * computed for buffers of a length already seen, so distinct members
 * cost nothing. Eight bytes per multiply.
 */
static uint64_t
buf_digest(const unsigned char *p, size_t n)
{
	uint64_t	h = 0x9e3779b97f4a7c15ULL ^ (uint64_t)n, w;
	size_t		i;

	for (i = 0; i + 8 <= n; i += 8) {
		memcpy(&w, p + i, 8);
		h = (h ^ w) * 0xff51afd7ed558ccdULL;
		h ^= h >> 29;
	}
	for (; i < n; i++)
		h = (h ^ p[i]) * 0x100000001b3ULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	return h ^ (h >> 33);
}

static struct av_seen *
av_seen_find(struct sctx *sc, const unsigned char *data, size_t len,
    unsigned flags)
{
	uint64_t	h = 0;
	bool		hashed = false;
	size_t		i;

	for (i = 0; i < sc->nseen; i++) {
		struct av_seen *s = &sc->seen[i];

		if (s->len != len || s->flags != flags)
			continue;
		if (s->data == data)
			return s;
		if (!s->hashed) {
			s->hash = buf_digest(s->data, s->len);
			s->hashed = true;
		}
		if (!hashed) {
			h = buf_digest(data, len);
			hashed = true;
		}
		if (s->hash == h && memcmp(s->data, data, len) == 0)
			return s;
	}
	return NULL;
}

/*
 * One buffer (leaf, member, raw message) to the scanner, unless the same
 * bytes were scanned with the same flags in this message: then the first
 * result stands for this path too. Adds the findings. *kept_r (may be
 * NULL) is set when the result was remembered with data: the caller keeps
 * the bytes until the message is done. -1 = scanner failure.
 */
static int
av_scan_buf(struct sctx *sc, const char *path, const char *name,
    const unsigned char *data, size_t len, unsigned flags, bool *kept_r,
    struct err *err)
{
	struct av_result	 res;
	struct av_seen		*s;
	char			*disp;

	if (kept_r != NULL)
		*kept_r = false;
	if ((s = av_seen_find(sc, data, len, flags)) != NULL) {
		res = s->res;
		if (s->data != data)
			verdict_explain(sc->v, "part %s: same bytes as %s: "
			    "scanned once", path, *s->path != '\0' ? s->path :
			    "message");
	} else {
		memset(&res, 0, sizeof res);
		if (sc->deps->av_scan(sc->deps->av_ctx, data, len, path,
		    flags, &res, err) == -1)
			return -1;
		res.name[sizeof res.name - 1] = '\0';
		if (res.nembedded > AV_EMBEDDED_MAX)
			res.nembedded = AV_EMBEDDED_MAX;
		sc->seen = xreallocarray(sc->seen, sc->nseen + 1,
		    sizeof *sc->seen);
		s = &sc->seen[sc->nseen++];
		memset(s, 0, sizeof *s);
		s->data = data;
		s->len = len;
		s->flags = flags;
		s->path = xstrdup(path);
		s->res = res;
		if (kept_r != NULL)
			*kept_r = true;
	}
	av_embedded(sc, path, &res);
	if (res.status == AV_CLEAN)
		return 0;
	disp = name != NULL ? name_display(name) : NULL;
	switch (res.status) {
	case AV_VIRUS:
		verdict_add(sc->v, sc->pol, RULE_VIRUS, path, disp,
		    res.name[0] != '\0' ? res.name : "unnamed signature");
		break;
	case AV_UNSCANNED:
		verdict_add(sc->v, sc->pol, RULE_UNSCANNED, path, disp,
		    res.name[0] != '\0' ? res.name : "scanner limit");
		break;
	case AV_ENCRYPTED:
		verdict_add(sc->v, sc->pol, RULE_ENCRYPTED, path, disp,
		    res.name[0] != '\0' ? res.name : "encrypted content");
		break;
	case AV_CLEAN:
		break;
	}
	verdict_explain(sc->v, "part %s: scanner: %s", path, res.name);
	free(disp);
	return 0;
}

/* One leaf (or the raw message) to the scanner. A leaf whose archive the
 * walk opened completely is scanned as a container: its members were
 * scanned as the walk met them. -1 = scanner failure. */
static int
av_one(struct sctx *sc, const char *path, const char *name,
    const unsigned char *data, size_t len, struct err *err)
{
	unsigned	flags = 0;
	size_t		i;

	for (i = 0; i < sc->ndone; i++)
		if (sc->done[i].data == data && sc->done[i].len == len &&
		    sc->done[i].opened)
			flags = AV_SCAN_CONTAINER;
	return av_scan_buf(sc, path, name, data, len, flags, NULL, err);
}

/*
 * Antivirus before the attachment rules: the archives are opened here,
 * before the leaves are scanned, so that their members are scanned in
 * this pass and the scanner does not unpack them again; the attachment
 * pass then finds these leaves done (inspect_blob). With the attachment
 * rules first this finds every leaf done already.
 */
static void
av_open_archives(struct sctx *sc, const struct mime_leaf *leaves, size_t n)
{
	size_t	i;

	if (!sc->pol->inspect_archives)
		return;
	for (i = 0; i < n && !sc->av_failed; i++) {
		if (leaves[i].len == 0 || sc->first[i] != i)
			continue;
		if (past_deadline(sc, leaves[i].path))
			return;
		inspect_leaf(sc, &leaves[i]);
	}
}

static void
av_state_free(struct sctx *sc)
{
	size_t	i;

	for (i = 0; i < sc->nseen; i++)
		free(sc->seen[i].path);
	free(sc->seen);
	for (i = 0; i < sc->nkept; i++)
		free(sc->kept[i]);
	free(sc->kept);
	free(sc->done);
	sc->seen = NULL;
	sc->kept = NULL;
	sc->done = NULL;
	sc->nseen = sc->nkept = sc->ndone = 0;
}

/* True if a blocked_* finding already covers something under path. */
static bool
blocked_under(const struct verdict *v, const char *path)
{
	size_t	i, n = strlen(path);

	for (i = 0; i < v->nfindings; i++) {
		const struct finding *f = &v->findings[i];

		if ((f->rule == RULE_BLOCKED_TYPE ||
		    f->rule == RULE_BLOCKED_EXTENSION) &&
		    strncmp(f->part, path, n) == 0 &&
		    (f->part[n] == '\0' || f->part[n] == '/'))
			return true;
	}
	return false;
}

/* Executables the scanner unpacked (from OLE, PDF, installers... that the
 * archive walk does not open) meet the blocked true types too. */
static void
av_embedded(struct sctx *sc, const char *path, const struct av_result *res)
{
	unsigned	i;

	for (i = 0; i < res->nembedded && i < AV_EMBEDDED_MAX; i++) {
		const struct av_embedded *em = &res->embedded[i];
		char	*p, *d, *name;

		if (!strlist_has(&sc->pol->blocked_types, em->type) ||
		    blocked_under(sc->v, path))
			continue;
		p = xasprintf("%s/%s", path, em->path);
		d = xasprintf("true type %s (unpacked by the scanner)",
		    em->type);
		name = name_display(strrchr(em->path, '/') != NULL ?
		    strrchr(em->path, '/') + 1 : em->path);
		verdict_add(sc->v, sc->pol, RULE_BLOCKED_TYPE, p, name, d);
		verdict_explain(sc->v, "part %s: %s", p, d);
		free(name);
		free(d);
		free(p);
	}
}

static int
av_pass(struct sctx *sc, struct mime_doc *doc, const unsigned char *msg,
    size_t len, const struct mime_leaf *leaves, size_t n, struct err *err)
{
	const struct policy	*pol = sc->pol;
	const struct scan_deps	*deps = sc->deps;
	size_t			 i;
	bool			 raw;

	if (!pol->av_enabled) {
		verdict_explain(sc->v, "antivirus: disabled by policy");
		return 0;
	}
	if (deps->av_scan == NULL)
		return err_set(err, "virus scanner not available");
	if (pol->av_max_age_ms != 0 && deps->av_db_time > 0) {
		int64_t	now = deps->now != 0 ? deps->now : (int64_t)time(NULL);
		int64_t	age = now - deps->av_db_time;

		if (age > 0 && (uint64_t)age * 1000 > pol->av_max_age_ms) {
			char *d = xasprintf("signatures %lld hours old",
			    (long long)age / 3600);

			verdict_add(sc->v, pol, RULE_STALE_SIGNATURES, "", NULL,
			    d);
			free(d);
		}
	}
	/* archive members are scanned where the walk meets them */
	av_open_archives(sc, leaves, n);
	if (sc->av_failed) {
		*err = sc->av_err;
		return -1;
	}
	for (i = 0; i < n; i++) {
		if (past_deadline(sc, leaves[i].path))
			return 0;
		if (deps->progress != NULL)
			deps->progress(deps->progress_ctx);
		if (leaves[i].len == 0 || sc->first[i] != i)
			continue;
		if (av_one(sc, leaves[i].path, leaves[i].nnames > 0 ?
		    leaves[i].names[0] : NULL, leaves[i].data, leaves[i].len,
		    err) == -1)
			return -1;
	}
	raw = pol->av_raw_scan == RAW_SCAN_ALWAYS ||
	    (pol->av_raw_scan == RAW_SCAN_AUTO && (mime_hidden_content(doc) ||
	    verdict_has(sc->v, RULE_AMBIGUOUS)));
	if (raw) {
		verdict_explain(sc->v, "antivirus: the clamav reading: ClamAV's "
		    "own mail parser on the raw message (it is broken or the "
		    "other readings disagree)");
		if (av_one(sc, "", NULL, msg, len, err) == -1)
			return -1;
	}
	return 0;
}

/* Carries out the strip findings; parts that cannot be stripped reject. */
static int
do_strip(struct sctx *sc, struct mime_doc *doc, const struct envelope *env,
    struct err *err)
{
	struct verdict	*v = sc->v;
	const char	**paths = NULL, **notices = NULL;
	size_t		 i, n = 0;
	int		 missed;

	if (verdict_worst(v) > DISP_HOLD)
		return 0;	/* not delivered: nothing to rebuild */
	for (i = 0; i < v->nfindings; i++) {
		struct finding *f = &v->findings[i];

		if (f->action == NULL || f->action->disposition != DISP_STRIP)
			continue;
		if (strncmp(f->part, READING_LENIENT ":",
		    strlen(READING_LENIENT ":")) == 0) {
			/* GMime's tree, which the rebuild edits, does not
			 * have it: what a client would show stays */
			verdict_explain(v, "part %s: only the tolerant reading "
			    "finds it, so it cannot be stripped; rejecting "
			    "instead", f->part);
			f->action = policy_action(sc->pol, "reject");
			continue;
		}
		paths = xreallocarray(paths, n + 1, sizeof *paths);
		notices = xreallocarray(notices, n + 1, sizeof *notices);
		paths[n] = f->part;
		notices[n] = verdict_expand(f->action->replacement, f,
		    env->queue_id, env->sender);
		n++;
	}
	if (n == 0)
		return 0;
	if (mime_is_signed(doc) && !sc->pol->strip_signed) {
		verdict_explain(v, "message is signed and [attachments] "
		    "strip_signed is off: rejecting instead of stripping");
		missed = (int)n;
	} else
		missed = mime_strip(doc, paths, notices, n, v, err);
	for (i = 0; i < n; i++)
		free((char *)notices[i]);
	free(notices);
	free(paths);
	if (missed < 0)
		return -1;
	if (missed > 0)
		for (i = 0; i < v->nfindings; i++) {
			struct finding *f = &v->findings[i];

			if (f->action == NULL ||
			    f->action->disposition != DISP_STRIP)
				continue;
			if (v->new_body != NULL && *f->part != '\0' &&
			    strstr(f->part, "prologue") == NULL &&
			    strstr(f->part, "epilogue") == NULL)
				continue;
			verdict_explain(v, "part %s: cannot be stripped; "
			    "rejecting instead", *f->part != '\0' ? f->part :
			    "message");
			f->action = policy_action(sc->pol, "reject");
		}
	return 0;
}

static size_t
header_block_len(const unsigned char *msg, size_t len)
{
	const unsigned char	*p = msg, *end = msg + len;

	while (p < end) {
		const unsigned char *eol = memchr(p, '\n', (size_t)(end - p));

		if (eol == NULL)
			return len;
		if (eol == p || (eol == p + 1 && *p == '\r'))
			return (size_t)(p - msg);
		p = eol + 1;
	}
	return len;
}

/* An overlay names itself in X-Portcullis: every exception is visible. */
static void
policy_summary(struct verdict *v, const struct policy *pol)
{
	char	*s;

	if (pol->name == NULL || strcmp(pol->name, "default") == 0)
		return;
	s = xasprintf("%s; policy=%s", v->summary != NULL ? v->summary : "",
	    pol->name);
	free(v->summary);
	v->summary = s;
}

const struct policy *
scan_policy(const struct policy *pol, const struct envelope *env)
{
	if (env->policy != NULL)
		return policy_overlay(pol, env->policy);
	return policy_select(pol, scan_direction(pol, env),
	    env->nrcpts > 0 ? env->rcpts[0] : NULL, env->sender,
	    env->auth_user, NULL);
}

int
scan_message(const struct policy *pol, const struct scan_deps *deps,
    const struct envelope *env, const unsigned char *msg, size_t len,
    struct verdict **verdict_r, struct err *err)
{
	struct sctx		 sc;
	struct mime_doc		*doc = NULL;
	const struct mime_leaf	*leaves;
	size_t			 n, i, hlen;
	uint64_t		 t0 = clock_ms();
	int			 r = -1, pass;

	*verdict_r = NULL;
	if ((pol = scan_policy(pol, env)) == NULL)
		return err_set(err, "policy \"%s\" is not defined (the "
		    "policy was reloaded since the message began)",
		    env->policy);
	memset(&sc, 0, sizeof sc);
	sc.pol = pol;
	sc.deps = deps;
	sc.v = verdict_new(scan_direction(pol, env));
	sc.v->want_explain = deps->explain;
	sc.budget = pol->decoded_size;
	sc.deadline = t0 + pol->scan_time_ms;
	verdict_explain(sc.v, "direction: %s", direction_str(sc.v->direction));
	verdict_explain(sc.v, "policy: %s", pol->name);

	if (len > pol->message_size) {
		char *d = xasprintf("message of %zu bytes, limit %llu", len,
		    (unsigned long long)pol->message_size);

		verdict_add(sc.v, pol, RULE_SIZE_LIMIT, "", NULL, d);
		free(d);
		goto done;	/* not inspected: the finding says so */
	}
	if ((hlen = header_block_len(msg, len)) > pol->header_size) {
		char *d = xasprintf("header block of %zu bytes, limit %llu",
		    hlen, (unsigned long long)pol->header_size);

		verdict_add(sc.v, pol, RULE_SIZE_LIMIT, "", NULL, d);
		free(d);
		goto done;
	}

	doc = mime_open(msg, len);
	mime_walk(doc, pol, mime_finding, &sc, sc.v);
	leaves = mime_leaves(doc, &n);
	sc.first = leaf_firsts(leaves, n);
	sc.msg = msg;			/* for passwords_gather, if needed */
	sc.hlen = hlen;
	sc.leaves = leaves;
	sc.nleaves = n;
	/* past a limit the message is refused anyway, and cut leaves differ */
	if (pol->lenient_reading && !verdict_has(sc.v, RULE_SIZE_LIMIT) &&
	    !verdict_has(sc.v, RULE_COUNT_LIMIT) &&
	    !verdict_has(sc.v, RULE_DEPTH_LIMIT))
		readings_pass(&sc, leaves, n, mime_parsed(doc));
	for (i = 0; i < n; i++)
		if (!leaves[i].lenient) {
			sc.v->parts++;
			sc.v->decoded_bytes += leaves[i].len;
		}
	if (sc.v->decoded_bytes > sc.budget) {
		char *d = xasprintf("%llu decoded bytes, limit %llu",
		    (unsigned long long)sc.v->decoded_bytes,
		    (unsigned long long)pol->decoded_size);

		verdict_add(sc.v, pol, RULE_SIZE_LIMIT, "", NULL, d);
		free(d);
		sc.budget = 0;
	} else
		sc.budget -= sc.v->decoded_bytes;

	for (pass = 0; pass < 2; pass++) {
		bool attachments = (pass == 0) == pol->attachments_first;

		if (pass == 1 && verdict_worst_but(sc.v, RULE_AMBIGUOUS) ==
		    DISP_REJECT) {
			verdict_explain(sc.v, "%s: skipped, the message is "
			    "already rejected", attachments ?
			    "attachment rules" : "antivirus");
			break;
		}
		if (attachments) {
			content_pass(&sc, msg, hlen, leaves, n);
			attachment_pass(&sc, leaves, n);
		}
		else if (av_pass(&sc, doc, msg, len, leaves, n, err) == -1)
			goto out;
	}
	if (do_strip(&sc, doc, env, err) == -1)
		goto out;
	if (pol->disclaimer != NULL && sc.v->direction == DIR_OUTBOUND &&
	    verdict_worst(sc.v) <= DISP_HOLD &&
	    mime_disclaimer(doc, pol->disclaimer, sc.v) == 0) {
		sc.v->disclaimer = true;
		verdict_explain(sc.v, "disclaimer added (outbound)");
	}
done:
	verdict_finish(sc.v, env->queue_id, env->sender);
	policy_summary(sc.v, pol);
	if (sc.v->disposition == DISP_TAG && sc.v->subject_tag == NULL &&
	    pol->subject_tag != NULL) {
		sc.v->subject_tag = xstrdup(pol->subject_tag);
		sc.v->modified = true;
	}
	sc.v->ms = clock_ms() - t0;
	*verdict_r = sc.v;
	sc.v = NULL;
	r = 0;
out:
	av_state_free(&sc);
	passwords_free(&sc.pw);
	free(sc.first);
	verdict_free(&sc.v);
	mime_close(&doc);
	return r;
}

struct verdict *
scan_error_verdict(const struct policy *pol, const struct envelope *env,
    const char *why)
{
	struct verdict		*v = verdict_new(scan_direction(pol, env));
	const struct policy	*p = scan_policy(pol, env);

	if (p != NULL)
		pol = p;
	verdict_add(v, pol, RULE_ERROR, "", NULL, why);
	verdict_finish(v, env->queue_id, env->sender);
	policy_summary(v, pol);
	return v;
}

static bool
cidr_match(const struct cidr *c, int family, const unsigned char *addr)
{
	unsigned	bytes = c->prefix / 8, bits = c->prefix % 8;

	if (c->family != family)
		return false;
	if (memcmp(c->addr, addr, bytes) != 0)
		return false;
	if (bits == 0)
		return true;
	return ((c->addr[bytes] ^ addr[bytes]) & (0xff << (8 - bits))) == 0;
}

static bool
domain_internal(const struct policy *pol, const char *addr)
{
	const char	*at = addr != NULL ? strrchr(addr, '@') : NULL;
	char		*dom;
	size_t		 i, n;
	bool		 hit = false;

	if (at == NULL)
		return false;
	dom = xstrdup(at + 1);
	n = strlen(dom);
	if (n > 0 && dom[n - 1] == '>')
		dom[--n] = '\0';
	for (i = 0; i < pol->internal_domains.n && !hit; i++)
		hit = strcasecmp(dom, pol->internal_domains.v[i]) == 0;
	free(dom);
	return hit;
}

enum direction
scan_direction(const struct policy *pol, const struct envelope *env)
{
	unsigned char	a[16];
	size_t		i;

	if (env->direction == DIR_INBOUND || env->direction == DIR_OUTBOUND)
		return (enum direction)env->direction;
	if (env->auth_user != NULL && *env->auth_user != '\0' &&
	    pol->authenticated_outbound)
		return DIR_OUTBOUND;
	if (env->client_addr != NULL) {
		int fam = strchr(env->client_addr, ':') != NULL ? AF_INET6 :
		    AF_INET;

		if (inet_pton(fam, env->client_addr, a) == 1)
			for (i = 0; i < pol->ninternal_networks; i++)
				if (cidr_match(&pol->internal_networks[i], fam,
				    a))
					return DIR_OUTBOUND;
	}
	if (pol->sender_domain_outbound && domain_internal(pol, env->sender))
		for (i = 0; i < env->nrcpts; i++)
			if (!domain_internal(pol, env->rcpts[i]))
				return DIR_OUTBOUND;
	return DIR_INBOUND;
}
