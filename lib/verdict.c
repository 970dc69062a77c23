/* lib/verdict.c - findings and the final decision (see verdict.h). */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "verdict.h"

struct verdict *
verdict_new(enum direction dir)
{
	struct verdict	*v = xcalloc(1, sizeof *v);

	v->direction = dir;
	v->scanned = true;
	return v;
}

void
verdict_free(struct verdict **vp)
{
	struct verdict	*v = *vp;
	size_t		 i;

	if (v == NULL)
		return;
	*vp = NULL;
	for (i = 0; i < v->nfindings; i++) {
		free(v->findings[i].part);
		free(v->findings[i].filename);
		free(v->findings[i].detail);
	}
	free(v->findings);
	for (i = 0; i < v->nheader_edits; i++) {
		free(v->header_edits[i].name);
		free(v->header_edits[i].value);
	}
	free(v->header_edits);
	for (i = 0; i < v->nexplain; i++)
		free(v->explain[i]);
	free(v->explain);
	free(v->reply);
	free(v->quarantine);
	free(v->subject_tag);
	free(v->summary);
	free(v->new_body);
	free(v);
}

static void
finding_append(struct verdict *v, enum rule rule, const struct action *a,
    const char *part, const char *filename, const char *detail)
{
	struct finding	*f;

	v->findings = xreallocarray(v->findings, v->nfindings + 1,
	    sizeof *v->findings);
	f = &v->findings[v->nfindings++];
	f->rule = rule;
	f->part = xstrdup(part != NULL ? part : "");
	f->filename = xstrdup(filename);
	f->detail = xstrdup(detail);
	f->action = a;
	if (rule == RULE_UNSCANNED || rule == RULE_UNREADABLE ||
	    rule == RULE_SIZE_LIMIT || rule == RULE_COUNT_LIMIT ||
	    rule == RULE_DEPTH_LIMIT || rule == RULE_ARCHIVE_BOMB ||
	    rule == RULE_TIME_LIMIT || rule == RULE_ENCRYPTED ||
	    rule == RULE_ENCRYPTED_MESSAGE || rule == RULE_ERROR)
		v->scanned = false;
}

enum disposition
verdict_worst(const struct verdict *v)
{
	return verdict_worst_but(v, RULE__N);
}

enum disposition
verdict_worst_but(const struct verdict *v, enum rule except)
{
	enum disposition	d = DISP_ACCEPT;
	size_t			i;

	for (i = 0; i < v->nfindings; i++)
		if (v->findings[i].action != NULL &&
		    v->findings[i].rule != except &&
		    v->findings[i].action->disposition > d)
			d = v->findings[i].action->disposition;
	return d;
}

void
verdict_add(struct verdict *v, const struct policy *pol, enum rule rule,
    const char *part, const char *filename, const char *detail)
{
	verdict_add_as(v, pol, pol->rules[v->direction][rule], rule, part,
	    filename, detail);
}

void
verdict_add_as(struct verdict *v, const struct policy *pol,
    const struct action *a, enum rule rule, const char *part,
    const char *filename, const char *detail)
{
	size_t	i;

	/* The same rule on the same part with the same detail is one finding. */
	for (i = 0; i < v->nfindings; i++) {
		const struct finding *f = &v->findings[i];

		if (f->rule == rule && strcmp(f->part, part != NULL ? part :
		    "") == 0 && strcmp(f->detail != NULL ? f->detail : "",
		    detail != NULL ? detail : "") == 0)
			return;
	}
	/* Bounded (a zip of a thousand zips...): past VERDICT_FINDINGS_MAX a
	 * count_limit finding says so, and only findings that make the
	 * verdict more severe are still kept. */
	if (v->nfindings == VERDICT_FINDINGS_MAX)
		finding_append(v, RULE_COUNT_LIMIT,
		    pol->rules[v->direction][RULE_COUNT_LIMIT], "", NULL,
		    "more findings than can be listed");
	if (v->nfindings > VERDICT_FINDINGS_MAX &&
	    (v->nfindings >= VERDICT_FINDINGS_MAX + 64 || a == NULL ||
	    a->disposition <= verdict_worst(v)))
		return;
	finding_append(v, rule, a, part, filename, detail);
}

bool
verdict_has(const struct verdict *v, enum rule rule)
{
	size_t	i;

	for (i = 0; i < v->nfindings; i++)
		if (v->findings[i].rule == rule)
			return true;
	return false;
}

void
verdict_explain(struct verdict *v, const char *fmt, ...)
{
	va_list	 ap;
	char	*s;

	if (v == NULL || !v->want_explain || v->nexplain >= 10000)
		return;		/* bounded even for 10000-part mail */
	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		xpanic("out of memory");
	va_end(ap);
	v->explain = xreallocarray(v->explain, v->nexplain + 1,
	    sizeof *v->explain);
	v->explain[v->nexplain++] = s;
}

void
verdict_add_header_edit(struct verdict *v, const char *name,
    const char *value)
{
	size_t	i;

	for (i = 0; i < v->nheader_edits; i++)	/* the later edit wins */
		if (str_ieq(v->header_edits[i].name, name)) {
			free(v->header_edits[i].value);
			v->header_edits[i].value = xstrdup(value);
			return;
		}
	v->header_edits = xreallocarray(v->header_edits, v->nheader_edits + 1,
	    sizeof *v->header_edits);
	v->header_edits[v->nheader_edits].name = xstrdup(name);
	v->header_edits[v->nheader_edits].value = xstrdup(value);
	v->nheader_edits++;
}

char *
verdict_expand(const char *tmpl, const struct finding *f,
    const char *queue_id, const char *sender)
{
	static const char *const vars[] = {
		"%FILENAME%", "%VIRUS%", "%RULE%", "%QUEUEID%", "%SENDER%",
		"%PART%", "%DETAIL%"
	};
	struct buf	 b = BUF_INIT;
	const char	*p = tmpl != NULL ? tmpl : "";
	size_t		 i;

	while (*p != '\0') {
		const char	*val = NULL;
		bool		 matched = false;
		char		*clean;

		if (*p == '%')
			for (i = 0; i < sizeof vars / sizeof vars[0]; i++)
				if (strncmp(p, vars[i], strlen(vars[i])) == 0) {
					matched = true;
					break;
				}
		if (!matched) {
			buf_append(&b, p++, 1);
			continue;
		}
		switch (i) {
		case 0: val = f != NULL ? f->filename : NULL; break;
		case 1: val = f != NULL && f->rule == RULE_VIRUS ?
			    f->detail : NULL; break;
		case 2: val = f != NULL ? rule_str(f->rule) : NULL; break;
		case 3: val = queue_id != NULL ? queue_id : "NOQUEUE"; break;
		case 4: val = sender != NULL && *sender != '\0' ? sender :
			    "<>"; break;
		case 5: val = f != NULL ? f->part : NULL; break;
		case 6: val = f != NULL ? f->detail : NULL; break;
		}
		clean = str_sanitise(val != NULL ? val : "-", 200);
		buf_puts(&b, clean);
		free(clean);
		p += strlen(vars[i]);
	}
	return buf_cstr(&b);
}

void
verdict_finish(struct verdict *v, const char *queue_id, const char *sender)
{
	const struct finding	*decisive = NULL;
	struct buf		 s = BUF_INIT;
	size_t			 i;

	v->disposition = DISP_ACCEPT;
	v->action = NULL;
	for (i = 0; i < v->nfindings; i++) {
		const struct finding	*f = &v->findings[i];
		const struct action	*a = f->action;

		if (a == NULL)
			continue;
		if (decisive == NULL || a->disposition > v->disposition) {
			v->disposition = a->disposition;
			v->action = a;
			decisive = f;
		}
		v->notify |= a->notify;
		if (a->quarantine != NULL && v->quarantine == NULL)
			v->quarantine = xstrdup(a->quarantine);
		if (a->subject_tag != NULL && v->subject_tag == NULL)
			v->subject_tag = verdict_expand(a->subject_tag, f,
			    queue_id, sender);
	}
	/* The decisive action's quarantine area wins over the others'. */
	if (v->action != NULL && v->action->quarantine != NULL) {
		free(v->quarantine);
		v->quarantine = xstrdup(v->action->quarantine);
	}
	if (decisive != NULL && v->action->reply != NULL &&
	    (v->disposition == DISP_REJECT || v->disposition == DISP_TEMPFAIL))
		v->reply = verdict_expand(v->action->reply, decisive, queue_id,
		    sender);
	if (v->disposition == DISP_STRIP && v->new_body == NULL)
		v->disposition = DISP_TAG;	/* nothing could be stripped */

	/* X-Portcullis: verdict; findings (bounded) */
	if (v->nfindings == 0)
		buf_puts(&s, v->scanned ? "clean" : "accepted, not fully "
		    "scanned");
	else {
		buf_printf(&s, "%s", disposition_str(v->disposition));
		if (!v->scanned)
			buf_puts(&s, ", not fully scanned");
		for (i = 0; i < v->nfindings && i < 8; i++) {
			const struct finding *f = &v->findings[i];
			char *d = str_sanitise(f->detail != NULL ? f->detail :
			    (f->filename != NULL ? f->filename : ""), 80);

			buf_printf(&s, "%s %s part=%s%s%s", i == 0 ? ";" : ",",
			    rule_str(f->rule), f->part, *d != '\0' ? " " : "",
			    d);
			free(d);
		}
		if (v->nfindings > 8)
			buf_printf(&s, ", +%zu more", v->nfindings - 8);
	}
	v->summary = buf_cstr(&s);
	if (v->new_body != NULL || v->subject_tag != NULL)
		v->modified = true;
}

struct json *
verdict_to_json(const struct verdict *v, const char *file)
{
	struct json	*o = json_obj(), *l = json_arr(), *f;
	const char	*action = disposition_str(v->disposition);
	size_t		 i;

	/* "strip" and "tag" deliver the message: the action is accept. */
	if (v->disposition <= DISP_STRIP)
		action = "accept";
	if (file != NULL)
		json_set_str(o, "file", file);
	json_set_str(o, "action", action);
	json_set_str(o, "disposition", disposition_str(v->disposition));
	json_set_str(o, "direction", direction_str(v->direction));
	json_set_bool(o, "modified", v->modified);
	json_set_bool(o, "quarantined", v->quarantine != NULL);
	json_set_bool(o, "scanned", v->scanned);
	if (v->quarantine != NULL)
		json_set_str(o, "quarantine", v->quarantine);
	if (v->reply != NULL)
		json_set_str(o, "reply", v->reply);
	json_set_str(o, "x_portcullis", v->summary != NULL ? v->summary : "");
	for (i = 0; i < v->nfindings; i++) {
		const struct finding *fi = &v->findings[i];

		f = json_obj();
		json_set_str(f, "rule", rule_str(fi->rule));
		json_set_str(f, "part", fi->part != NULL ? fi->part : "");
		json_set_str(f, "filename", fi->filename);
		json_set_str(f, "detail", fi->detail != NULL ? fi->detail : "");
		json_set_str(f, "action", fi->action != NULL ?
		    fi->action->name : "");
		json_push(l, f);
	}
	json_set(o, "findings", l);
	json_set_uint(o, "parts", v->parts);
	json_set_uint(o, "decoded_bytes", v->decoded_bytes);
	json_set_uint(o, "ms", v->ms);
	return o;
}

void
verdict_json(const struct verdict *v, const char *file, struct buf *out)
{
	struct json	*o = verdict_to_json(v, file);

	json_write(o, out);
	json_free(&o);
}

/* ---- packing ---------------------------------------------------------- */

#define PACK_MAGIC	"PCV"
#define PACK_STR_MAX	(256u * 1024)	/* one string */
#define PACK_NULL	0xffffffffu	/* length of a NULL string */
#define PACK_EDITS_MAX	256
#define PACK_EXPLAIN_MAX 10000

static void
pack_u32(struct buf *b, uint32_t v)
{
	unsigned char	c[4] = { (unsigned char)v, (unsigned char)(v >> 8),
	    (unsigned char)(v >> 16), (unsigned char)(v >> 24) };

	buf_append(b, c, 4);
}

static void
pack_u64(struct buf *b, uint64_t v)
{
	pack_u32(b, (uint32_t)v);
	pack_u32(b, (uint32_t)(v >> 32));
}

static void
pack_str(struct buf *b, const char *s)
{
	size_t	n;

	if (s == NULL) {
		pack_u32(b, PACK_NULL);
		return;
	}
	n = strlen(s);
	if (n > PACK_STR_MAX)
		n = PACK_STR_MAX;	/* cut: strings are for people */
	pack_u32(b, (uint32_t)n);
	buf_append(b, s, n);
}

int
verdict_pack(const struct verdict *v, struct buf *out, struct err *err)
{
	size_t	start = out->len, i;

	if (v->nfindings > VERDICT_FINDINGS_MAX + 65 ||
	    v->nheader_edits > PACK_EDITS_MAX ||
	    v->nexplain > PACK_EXPLAIN_MAX)
		return err_set(err, "verdict too large to pack");
	buf_append(out, PACK_MAGIC, 3);
	buf_append(out, (unsigned char[]){ VERDICT_PACK_VERSION }, 1);
	pack_u32(out, (uint32_t)v->direction);
	pack_u32(out, (uint32_t)v->disposition);
	pack_u32(out, (uint32_t)(v->scanned | v->modified << 1 |
	    v->disclaimer << 2 | v->want_explain << 3));
	pack_u32(out, v->notify);
	pack_u32(out, v->parts);
	pack_u64(out, v->decoded_bytes);
	pack_u64(out, v->ms);
	pack_u64(out, v->new_body != NULL ? (uint64_t)v->new_body_len :
	    UINT64_MAX);
	pack_str(out, v->action != NULL ? v->action->name : NULL);
	pack_str(out, v->reply);
	pack_str(out, v->quarantine);
	pack_str(out, v->subject_tag);
	pack_str(out, v->summary);
	pack_u32(out, (uint32_t)v->nfindings);
	for (i = 0; i < v->nfindings; i++) {
		const struct finding *f = &v->findings[i];

		pack_u32(out, (uint32_t)f->rule);
		pack_str(out, f->part);
		pack_str(out, f->filename);
		pack_str(out, f->detail);
		pack_str(out, f->action != NULL ? f->action->name : NULL);
	}
	pack_u32(out, (uint32_t)v->nheader_edits);
	for (i = 0; i < v->nheader_edits; i++) {
		pack_str(out, v->header_edits[i].name);
		pack_str(out, v->header_edits[i].value);
	}
	pack_u32(out, (uint32_t)v->nexplain);
	for (i = 0; i < v->nexplain; i++)
		pack_str(out, v->explain[i]);
	if (out->len - start > VERDICT_PACK_MAX) {
		out->len = start;
		return err_set(err, "packed verdict over %u bytes",
		    VERDICT_PACK_MAX);
	}
	return 0;
}

struct unpack {
	const unsigned char	*p;
	size_t			 left;
	bool			 bad;
};

static uint32_t
unpack_u32(struct unpack *u)
{
	uint32_t	v;

	if (u->bad || u->left < 4) {
		u->bad = true;
		return 0;
	}
	v = le32(u->p);
	u->p += 4;
	u->left -= 4;
	return v;
}

static uint64_t
unpack_u64(struct unpack *u)
{
	uint64_t	lo = unpack_u32(u);

	return lo | (uint64_t)unpack_u32(u) << 32;
}

/* A copy (caller frees), NULL for a NULL string or bad input. */
static char *
unpack_str(struct unpack *u)
{
	uint32_t	n = unpack_u32(u);
	char		*s;

	if (u->bad || n == PACK_NULL)
		return NULL;
	if (n > PACK_STR_MAX || n > u->left || memchr(u->p, '\0', n) != NULL) {
		u->bad = true;
		return NULL;
	}
	s = xstrndup((const char *)u->p, n);
	u->p += n;
	u->left -= n;
	return s;
}

static const struct action *
unpack_action(const struct policy *pol, const char *name, enum direction d,
    enum rule r)
{
	const struct action	*a = name != NULL ? policy_action(pol, name) :
	    NULL;

	if (a == NULL && name != NULL && r < RULE__N)
		a = pol->rules[d][r];
	return a;
}

int
verdict_unpack(const unsigned char *p, size_t len, const struct policy *pol,
    struct verdict **v_r, struct err *err)
{
	struct unpack	 u = { p, len, false };
	struct verdict	*v;
	char		*name;
	uint32_t	 dir, disp, flags, n, i, rule;
	uint64_t	 bl;

	*v_r = NULL;
	if (len > VERDICT_PACK_MAX)
		return err_set(err, "packed verdict over %u bytes",
		    VERDICT_PACK_MAX);
	if (len < 4 || memcmp(p, PACK_MAGIC, 3) != 0)
		return err_set(err, "not a packed verdict");
	if (p[3] != VERDICT_PACK_VERSION)
		return err_set(err, "packed verdict of version %u, want %u",
		    p[3], VERDICT_PACK_VERSION);
	u.p += 4;
	u.left -= 4;
	dir = unpack_u32(&u);
	disp = unpack_u32(&u);
	if (u.bad || dir >= DIR__N || disp >= DISP__N)
		return err_set(err, "packed verdict: bad direction or "
		    "disposition");
	v = verdict_new((enum direction)dir);
	v->disposition = (enum disposition)disp;
	flags = unpack_u32(&u);
	v->scanned = (flags & 1) != 0;
	v->modified = (flags & 2) != 0;
	v->disclaimer = (flags & 4) != 0;
	v->want_explain = (flags & 8) != 0;
	v->notify = unpack_u32(&u);
	v->parts = unpack_u32(&u);
	v->decoded_bytes = unpack_u64(&u);
	v->ms = unpack_u64(&u);
	bl = unpack_u64(&u);
	v->new_body_len = bl == UINT64_MAX ? 0 : (size_t)bl;
	name = unpack_str(&u);
	v->action = unpack_action(pol, name, v->direction, RULE__N);
	if (name != NULL && v->action == NULL)
		v->action = policy_action(pol, disposition_str(v->disposition));
	free(name);
	v->reply = unpack_str(&u);
	v->quarantine = unpack_str(&u);
	v->subject_tag = unpack_str(&u);
	v->summary = unpack_str(&u);

	n = unpack_u32(&u);
	if (n > VERDICT_FINDINGS_MAX + 65)
		u.bad = true;
	for (i = 0; i < n && !u.bad; i++) {
		struct finding	*f;

		rule = unpack_u32(&u);
		if (rule >= RULE__N) {
			u.bad = true;
			break;
		}
		v->findings = xreallocarray(v->findings, v->nfindings + 1,
		    sizeof *v->findings);
		f = &v->findings[v->nfindings++];
		f->rule = (enum rule)rule;
		f->part = unpack_str(&u);
		f->filename = unpack_str(&u);
		f->detail = unpack_str(&u);
		name = unpack_str(&u);
		f->action = unpack_action(pol, name, v->direction, f->rule);
		free(name);
		if (f->part == NULL)
			f->part = xstrdup("");
	}
	n = unpack_u32(&u);
	if (n > PACK_EDITS_MAX)
		u.bad = true;
	for (i = 0; i < n && !u.bad; i++) {
		v->header_edits = xreallocarray(v->header_edits,
		    v->nheader_edits + 1, sizeof *v->header_edits);
		v->header_edits[v->nheader_edits].name = unpack_str(&u);
		v->header_edits[v->nheader_edits].value = unpack_str(&u);
		if (v->header_edits[v->nheader_edits++].name == NULL)
			u.bad = true;
	}
	n = unpack_u32(&u);
	if (n > PACK_EXPLAIN_MAX)
		u.bad = true;
	for (i = 0; i < n && !u.bad; i++) {
		v->explain = xreallocarray(v->explain, v->nexplain + 1,
		    sizeof *v->explain);
		v->explain[v->nexplain] = unpack_str(&u);
		if (v->explain[v->nexplain++] == NULL)
			u.bad = true;
	}
	if (u.bad || u.left != 0) {
		verdict_free(&v);
		return err_set(err, "packed verdict truncated or malformed");
	}
	*v_r = v;
	return 0;
}
