/* ctl/report.c - quarantine report in text, JSON and HTML (see report.h). */
#include "config.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "report.h"

#define NOTE "Counts come from the quarantine only: verdicts that were " \
	"not quarantined are only in the mail log (syslog)."
#define ZERO_FILL_DAYS	400	/* show empty days for windows up to this */

/* One row of a by-day or by-area table. */
struct row {
	char		key[80];
	uint64_t	messages, viruses, blocked, encrypted, bytes;
};

struct top {
	const char	*key;	/* borrowed from a record */
	uint64_t	 count;
};

struct report {
	struct row	 total;
	struct row	*days, *areas;
	size_t		 ndays, nareas;
	struct top	*viruses, *types, *senders;
	size_t		 nviruses, ntypes, nsenders;
	char		 first[80], last[80];
};

static void
day_of(int64_t t, char *out, size_t len)
{
	time_t		tt = (time_t)t;
	struct tm	tm;

	if (gmtime_r(&tt, &tm) == NULL ||
	    strftime(out, len, "%Y-%m-%d", &tm) == 0)
		snprintf(out, len, "?");
}

static void
count_into(struct row *r, const struct qmeta *m)
{
	size_t	i;

	r->messages++;
	r->bytes += m->size;
	for (i = 0; i < m->nfindings; i++) {
		const char *rule = m->findings[i].rule;

		if (strcmp(rule, "virus") == 0)
			r->viruses++;
		else if (strcmp(rule, "blocked_extension") == 0 ||
		    strcmp(rule, "blocked_type") == 0)
			r->blocked++;
		else if (strcmp(rule, "encrypted") == 0)
			r->encrypted++;
	}
}

static int
row_cmp(const void *a, const void *b)
{
	return strcmp(((const struct row *)a)->key,
	    ((const struct row *)b)->key);
}

/* Finds or adds key in a sorted-on-demand row array (binary search). */
static struct row *
row_get(struct row **rows, size_t *n, const char *key)
{
	size_t	lo = 0, hi = *n, mid;
	int	c;

	while (lo < hi) {
		mid = (lo + hi) / 2;
		c = strcmp(key, (*rows)[mid].key);
		if (c == 0)
			return &(*rows)[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	*rows = xreallocarray(*rows, *n + 1, sizeof **rows);
	memmove(&(*rows)[lo + 1], &(*rows)[lo], (*n - lo) * sizeof **rows);
	memset(&(*rows)[lo], 0, sizeof **rows);
	snprintf((*rows)[lo].key, sizeof (*rows)[lo].key, "%s", key);
	(*n)++;
	return &(*rows)[lo];
}

static int
str_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int
top_cmp(const void *a, const void *b)
{
	const struct top	*x = a, *y = b;

	if (x->count != y->count)
		return x->count > y->count ? -1 : 1;
	return strcmp(x->key, y->key);
}

/* Counts equal keys (sorting them) and keeps the REPORT_TOP largest. */
static void
top_of(const char **keys, size_t n, struct top **top_r, size_t *ntop_r)
{
	struct top	*t = NULL;
	size_t		 nt = 0, i;

	if (n > 0)
		qsort(keys, n, sizeof *keys, str_cmp);
	for (i = 0; i < n; i++) {
		if (nt > 0 && strcmp(t[nt - 1].key, keys[i]) == 0) {
			t[nt - 1].count++;
			continue;
		}
		t = xreallocarray(t, nt + 1, sizeof *t);
		t[nt].key = keys[i];
		t[nt].count = 1;
		nt++;
	}
	if (nt > 0)
		qsort(t, nt, sizeof *t, top_cmp);
	*top_r = t;
	*ntop_r = nt < REPORT_TOP ? nt : REPORT_TOP;
}

static void
compute(const struct qmeta *list, size_t n, int64_t now, unsigned days,
    struct report *r)
{
	const char	**vk = NULL, **tk = NULL, **sk = NULL;
	size_t		  nv = 0, nt = 0, ns = 0, i, j;
	int64_t		  from = days > 0 ? now - (int64_t)days * 86400 : 0;
	char		  day[16];

	memset(r, 0, sizeof *r);
	vk = xcalloc(1, sizeof *vk);
	tk = xcalloc(1, sizeof *tk);
	sk = xcalloc(n + 1, sizeof *sk);
	for (i = 0; i < n; i++) {
		const struct qmeta *m = &list[i];

		if (days > 0 && (m->time < from || m->time > now))
			continue;
		count_into(&r->total, m);
		day_of(m->time, day, sizeof day);
		count_into(row_get(&r->days, &r->ndays, day), m);
		count_into(row_get(&r->areas, &r->nareas, m->area), m);
		sk[ns++] = m->sender[0] != '\0' ? m->sender : "<>";
		for (j = 0; j < m->nfindings; j++) {
			const struct qfinding	*f = &m->findings[j];
			const char		*d = f->detail != NULL ?
			    f->detail : "?";

			if (strcmp(f->rule, "virus") == 0) {
				vk = xreallocarray(vk, nv + 1, sizeof *vk);
				vk[nv++] = d;
			} else if (strcmp(f->rule, "blocked_extension") == 0 ||
			    strcmp(f->rule, "blocked_type") == 0) {
				tk = xreallocarray(tk, nt + 1, sizeof *tk);
				tk[nt++] = d;
			}
		}
	}
	/* Every day of a bounded window, empty ones too, for the chart. */
	if (days > 0 && days <= ZERO_FILL_DAYS) {
		for (i = 0; i <= days; i++) {
			day_of(from + (int64_t)i * 86400, day, sizeof day);
			(void)row_get(&r->days, &r->ndays, day);
		}
		day_of(now, day, sizeof day);
		(void)row_get(&r->days, &r->ndays, day);
	}
	if (r->ndays > 1)
		qsort(r->days, r->ndays, sizeof *r->days, row_cmp);
	if (r->ndays > 0) {
		snprintf(r->first, sizeof r->first, "%s", r->days[0].key);
		snprintf(r->last, sizeof r->last, "%s",
		    r->days[r->ndays - 1].key);
	}
	top_of(vk, nv, &r->viruses, &r->nviruses);
	top_of(tk, nt, &r->types, &r->ntypes);
	top_of(sk, ns, &r->senders, &r->nsenders);
	free(vk);
	free(tk);
	free(sk);
}

static void
report_clear(struct report *r)
{
	free(r->days);
	free(r->areas);
	free(r->viruses);
	free(r->types);
	free(r->senders);
}

/* ---- text ---- */

static void
text_rows(struct buf *b, const char *title, const char *col,
    const struct row *rows, size_t n)
{
	size_t	i;

	buf_printf(b, "\n%s:\n  %-24s %9s %8s %8s %9s %12s\n", title, col,
	    "messages", "viruses", "blocked", "encrypted", "bytes");
	for (i = 0; i < n; i++) {
		char *k;

		if (rows[i].messages == 0)
			continue;	/* the chart shows empty days */
		k = str_sanitise(rows[i].key, 24);

		buf_printf(b, "  %-24s %9llu %8llu %8llu %9llu %12llu\n", k,
		    (unsigned long long)rows[i].messages,
		    (unsigned long long)rows[i].viruses,
		    (unsigned long long)rows[i].blocked,
		    (unsigned long long)rows[i].encrypted,
		    (unsigned long long)rows[i].bytes);
		free(k);
	}
}

static void
text_top(struct buf *b, const char *title, const struct top *t, size_t n)
{
	size_t	i;

	buf_printf(b, "\n%s:\n", title);
	if (n == 0)
		buf_puts(b, "  (none)\n");
	for (i = 0; i < n; i++) {
		char *k = str_sanitise(t[i].key, 100);

		buf_printf(b, "  %8llu  %s\n", (unsigned long long)t[i].count,
		    k);
		free(k);
	}
}

static void
write_text(const struct report *r, const struct report_opts *o,
    struct buf *b)
{
	if (o->days > 0)
		buf_printf(b, "Portcullis quarantine report, last %u days",
		    o->days);
	else
		buf_puts(b, "Portcullis quarantine report, all records");
	if (r->ndays > 0)
		buf_printf(b, " (%s to %s, UTC)", r->first, r->last);
	if (o->host != NULL)
		buf_printf(b, ", %s", o->host);
	buf_printf(b, "\n\nTotal: %llu messages, %llu viruses, %llu blocked "
	    "attachments, %llu encrypted archives, %llu bytes\n",
	    (unsigned long long)r->total.messages,
	    (unsigned long long)r->total.viruses,
	    (unsigned long long)r->total.blocked,
	    (unsigned long long)r->total.encrypted,
	    (unsigned long long)r->total.bytes);
	text_rows(b, "By day", "day", r->days, r->ndays);
	text_rows(b, "By area", "area", r->areas, r->nareas);
	text_top(b, "Top viruses", r->viruses, r->nviruses);
	text_top(b, "Top blocked types", r->types, r->ntypes);
	text_top(b, "Top senders hit", r->senders, r->nsenders);
	buf_puts(b, "\n" NOTE "\n");
}

/* ---- JSON ---- */

static void
json_row(struct buf *b, const char *keyname, const struct row *r)
{
	buf_printf(b, "{\"%s\":", keyname);
	buf_json_str(b, r->key);
	buf_printf(b, ",\"messages\":%llu,\"viruses\":%llu,\"blocked\":%llu,"
	    "\"encrypted\":%llu,\"bytes\":%llu}",
	    (unsigned long long)r->messages, (unsigned long long)r->viruses,
	    (unsigned long long)r->blocked, (unsigned long long)r->encrypted,
	    (unsigned long long)r->bytes);
}

static void
json_top(struct buf *b, const char *name, const struct top *t, size_t n)
{
	size_t	i;

	buf_printf(b, ",\"%s\":[", name);
	for (i = 0; i < n; i++) {
		buf_puts(b, i > 0 ? ",{\"name\":" : "{\"name\":");
		buf_json_str(b, t[i].key);
		buf_printf(b, ",\"count\":%llu}",
		    (unsigned long long)t[i].count);
	}
	buf_puts(b, "]");
}

static void
write_json(const struct report *r, const struct report_opts *o,
    struct buf *b)
{
	size_t	i;

	buf_printf(b, "{\"days\":%u,\"first\":", o->days);
	buf_json_str(b, r->first);
	buf_puts(b, ",\"last\":");
	buf_json_str(b, r->last);
	buf_puts(b, ",\"host\":");
	buf_json_str(b, o->host);
	buf_puts(b, ",\"totals\":");
	json_row(b, "scope", &(struct row){ "all", r->total.messages,
	    r->total.viruses, r->total.blocked, r->total.encrypted,
	    r->total.bytes });
	buf_puts(b, ",\"by_day\":[");
	for (i = 0; i < r->ndays; i++) {
		if (i > 0)
			buf_puts(b, ",");
		json_row(b, "day", &r->days[i]);
	}
	buf_puts(b, "],\"by_area\":[");
	for (i = 0; i < r->nareas; i++) {
		if (i > 0)
			buf_puts(b, ",");
		json_row(b, "area", &r->areas[i]);
	}
	buf_puts(b, "]");
	json_top(b, "top_viruses", r->viruses, r->nviruses);
	json_top(b, "top_blocked_types", r->types, r->ntypes);
	json_top(b, "top_senders", r->senders, r->nsenders);
	buf_puts(b, ",\"note\":");
	buf_json_str(b, NOTE);
	buf_puts(b, "}\n");
}

/* ---- HTML ---- */

static void
html_esc(struct buf *b, const char *s)
{
	for (; s != NULL && *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '<')
			buf_puts(b, "&lt;");
		else if (c == '>')
			buf_puts(b, "&gt;");
		else if (c == '&')
			buf_puts(b, "&amp;");
		else if (c == '"')
			buf_puts(b, "&quot;");
		else if (c == '\'')
			buf_puts(b, "&#39;");
		else if (c < 0x20 || c == 0x7f)
			buf_puts(b, "?");
		else
			buf_append(b, s, 1);
	}
}

/* Vertical bars, one per day: messages (and viruses overlaid). */
static void
html_day_chart(struct buf *b, const struct report *r)
{
	uint64_t	max = 1;
	size_t		i;
	unsigned	w = 18, gap = 4, h = 160;
	unsigned	width = (unsigned)r->ndays * (w + gap) + 40;

	for (i = 0; i < r->ndays; i++)
		if (r->days[i].messages > max)
			max = r->days[i].messages;
	buf_printf(b, "<svg role=\"img\" aria-label=\"messages by day\" "
	    "width=\"%u\" height=\"%u\" viewBox=\"0 0 %u %u\">\n", width,
	    h + 40, width, h + 40);
	buf_printf(b, "<text x=\"0\" y=\"12\" class=\"ax\">%llu</text>\n",
	    (unsigned long long)max);
	for (i = 0; i < r->ndays; i++) {
		const struct row *d = &r->days[i];
		unsigned x = 30 + (unsigned)i * (w + gap);
		unsigned bh = (unsigned)(d->messages * h / max);
		unsigned vh = (unsigned)(d->viruses > d->messages ?
		    bh : d->viruses * h / max);

		buf_printf(b, "<g><title>%s: %llu messages, %llu viruses, "
		    "%llu blocked, %llu encrypted</title>", d->key,
		    (unsigned long long)d->messages,
		    (unsigned long long)d->viruses,
		    (unsigned long long)d->blocked,
		    (unsigned long long)d->encrypted);
		buf_printf(b, "<rect class=\"m\" x=\"%u\" y=\"%u\" "
		    "width=\"%u\" height=\"%u\"/>", x, 20 + h - bh, w, bh);
		if (vh > 0)
			buf_printf(b, "<rect class=\"v\" x=\"%u\" y=\"%u\" "
			    "width=\"%u\" height=\"%u\"/>", x, 20 + h - vh, w,
			    vh);
		buf_puts(b, "</g>\n");
		if (i == 0 || i + 1 == r->ndays || r->ndays <= 14)
			buf_printf(b, "<text x=\"%u\" y=\"%u\" class=\"ax\">"
			    "%.5s</text>\n", x, h + 34, d->key + 5);
	}
	buf_puts(b, "</svg>\n<p class=\"legend\"><span class=\"sw m\"></span>"
	    "messages <span class=\"sw v\"></span>with a virus (findings)"
	    "</p>\n");
}

static void
html_rows(struct buf *b, const char *title, const char *col,
    const struct row *rows, size_t n)
{
	uint64_t	max = 1;
	size_t		i;

	for (i = 0; i < n; i++)
		if (rows[i].messages > max)
			max = rows[i].messages;
	buf_printf(b, "<h2>%s</h2>\n<table><tr><th>%s</th><th>messages</th>"
	    "<th></th><th>viruses</th><th>blocked</th><th>encrypted</th>"
	    "<th>bytes</th></tr>\n", title, col);
	for (i = 0; i < n; i++) {
		buf_puts(b, "<tr><td>");
		html_esc(b, rows[i].key);
		buf_printf(b, "</td><td class=\"n\">%llu</td><td class=\"bar\">"
		    "<div style=\"width:%u%%\"></div></td><td class=\"n\">%llu"
		    "</td><td class=\"n\">%llu</td><td class=\"n\">%llu</td>"
		    "<td class=\"n\">%llu</td></tr>\n",
		    (unsigned long long)rows[i].messages,
		    (unsigned)(rows[i].messages * 100 / max),
		    (unsigned long long)rows[i].viruses,
		    (unsigned long long)rows[i].blocked,
		    (unsigned long long)rows[i].encrypted,
		    (unsigned long long)rows[i].bytes);
	}
	buf_puts(b, "</table>\n");
}

static void
html_top(struct buf *b, const char *title, const struct top *t, size_t n)
{
	uint64_t	max = n > 0 ? t[0].count : 1;
	size_t		i;

	buf_printf(b, "<div class=\"top\"><h2>%s</h2>\n", title);
	if (n == 0)
		buf_puts(b, "<p>(none)</p>\n");
	else
		buf_puts(b, "<table>\n");
	for (i = 0; i < n; i++) {
		buf_puts(b, "<tr><td class=\"k\">");
		html_esc(b, t[i].key);
		buf_printf(b, "</td><td class=\"n\">%llu</td><td class=\"bar\">"
		    "<div style=\"width:%u%%\"></div></td></tr>\n",
		    (unsigned long long)t[i].count,
		    (unsigned)(t[i].count * 100 / (max > 0 ? max : 1)));
	}
	if (n > 0)
		buf_puts(b, "</table>\n");
	buf_puts(b, "</div>\n");
}

static void
write_html(const struct report *r, const struct report_opts *o,
    struct buf *b)
{
	buf_puts(b, "<!DOCTYPE html>\n<html lang=\"en\"><head>"
	    "<meta charset=\"utf-8\">\n<title>Portcullis quarantine report"
	    "</title>\n<style>\n"
	    "body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222}\n"
	    "h1{font-size:1.4em}h2{font-size:1.1em;margin-top:1.5em}\n"
	    ".cards{display:flex;flex-wrap:wrap;gap:1em}\n"
	    ".card{border:1px solid #ccc;border-radius:6px;padding:.6em 1em;"
	    "min-width:8em}\n.card b{display:block;font-size:1.6em}\n"
	    "table{border-collapse:collapse}td,th{padding:2px 8px;"
	    "text-align:left}\n.n{text-align:right;"
	    "font-variant-numeric:tabular-nums}\n"
	    ".bar{width:200px}.bar div{background:#4a78b5;height:10px}\n"
	    ".k{max-width:30em;overflow-wrap:anywhere}\n"
	    "svg .m{fill:#4a78b5}svg .v{fill:#c0392b}"
	    "svg .ax{font-size:10px;fill:#555}\n"
	    ".sw{display:inline-block;width:10px;height:10px}"
	    ".sw.m{background:#4a78b5}.sw.v{background:#c0392b}\n"
	    ".tops{display:flex;flex-wrap:wrap;gap:2em}\n"
	    ".note{color:#666;margin-top:2em}\n"
	    "</style></head><body>\n<h1>Portcullis quarantine report");
	if (o->host != NULL) {
		buf_puts(b, " &mdash; ");
		html_esc(b, o->host);
	}
	buf_puts(b, "</h1>\n<p>");
	if (o->days > 0)
		buf_printf(b, "Last %u days", o->days);
	else
		buf_puts(b, "All records");
	if (r->ndays > 0)
		buf_printf(b, ", %s to %s (UTC)", r->first, r->last);
	buf_printf(b, ".</p>\n<div class=\"cards\">"
	    "<div class=\"card\"><b>%llu</b>messages</div>"
	    "<div class=\"card\"><b>%llu</b>viruses</div>"
	    "<div class=\"card\"><b>%llu</b>blocked attachments</div>"
	    "<div class=\"card\"><b>%llu</b>encrypted archives</div>"
	    "<div class=\"card\"><b>%llu</b>bytes</div></div>\n",
	    (unsigned long long)r->total.messages,
	    (unsigned long long)r->total.viruses,
	    (unsigned long long)r->total.blocked,
	    (unsigned long long)r->total.encrypted,
	    (unsigned long long)r->total.bytes);
	buf_puts(b, "<h2>Messages by day</h2>\n");
	html_day_chart(b, r);
	html_rows(b, "By area", "area", r->areas, r->nareas);
	buf_puts(b, "<div class=\"tops\">\n");
	html_top(b, "Top viruses", r->viruses, r->nviruses);
	html_top(b, "Top blocked types", r->types, r->ntypes);
	html_top(b, "Top senders hit", r->senders, r->nsenders);
	buf_puts(b, "</div>\n");
	html_rows(b, "By day", "day", r->days, r->ndays);
	buf_puts(b, "<p class=\"note\">" NOTE "</p>\n</body></html>\n");
}

void
report_write(const struct qmeta *list, size_t n,
    const struct report_opts *o, struct buf *out)
{
	struct report	r;
	int64_t		now = o->now != 0 ? o->now : (int64_t)time(NULL);

	compute(list, n, now, o->days, &r);
	switch (o->format) {
	case REPORT_JSON:
		write_json(&r, o, out);
		break;
	case REPORT_HTML:
		write_html(&r, o, out);
		break;
	default:
		write_text(&r, o, out);
		break;
	}
	report_clear(&r);
}
