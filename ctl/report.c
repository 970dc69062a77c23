/* ctl/report.c - the report in text, JSON and HTML (see report.h). */
#include "config.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "json.h"
#include "report.h"

#define NOTE_Q	"Quarantine: messages kept in the quarantine; a message " \
	"counts once however many findings it has, a file once however " \
	"many rules it hit."
#define NOTE_T	"Traffic: every judged message (kept [quarantine] " \
	"stats_days days); rules count messages and findings."

static void
day_of(int64_t t, char *out, size_t len)
{
	time_t		tt = (time_t)t;
	struct tm	tm;

	if (gmtime_r(&tt, &tm) == NULL ||
	    strftime(out, len, "%Y-%m-%d", &tm) == 0)
		snprintf(out, len, "?");
}

static unsigned long long
ull(uint64_t v)
{
	return (unsigned long long)v;
}

/* ---- text ---- */

static void
text_qrows(struct buf *b, const char *title, const char *col,
    const struct store_qrow *rows, size_t n)
{
	size_t	i;

	buf_printf(b, "\n%s:\n  %-24s %9s %13s %13s %13s %12s\n", title,
	    col, "messages", "virus m/f", "blocked m/f", "encrypt m/f",
	    "bytes");
	if (n == 0)
		buf_puts(b, "  (none)\n");
	for (i = 0; i < n; i++) {
		char	*k = str_sanitise(rows[i].key, 24), vf[32], bf[32],
			 ef[32];

		snprintf(vf, sizeof vf, "%llu/%llu", ull(rows[i].virus_msgs),
		    ull(rows[i].virus_files));
		snprintf(bf, sizeof bf, "%llu/%llu",
		    ull(rows[i].blocked_msgs), ull(rows[i].blocked_files));
		snprintf(ef, sizeof ef, "%llu/%llu",
		    ull(rows[i].encrypted_msgs), ull(rows[i].encrypted_files));
		buf_printf(b, "  %-24s %9llu %13s %13s %13s %12llu\n", k,
		    ull(rows[i].messages), vf, bf, ef, ull(rows[i].bytes));
		free(k);
	}
}

static void
text_trows(struct buf *b, const char *title, const char *col,
    const struct store_trow *rows, size_t n, bool rules)
{
	size_t	i;

	if (rules)
		buf_printf(b, "\n%s:\n  %-24s %9s %9s\n", title, col,
		    "messages", "findings");
	else
		buf_printf(b, "\n%s:\n  %-24s %9s %14s %10s\n", title, col,
		    "messages", "bytes", "avg ms");
	if (n == 0)
		buf_puts(b, "  (none)\n");
	for (i = 0; i < n; i++) {
		char *k = str_sanitise(rows[i].key, 24);

		if (rules)
			buf_printf(b, "  %-24s %9llu %9llu\n", k,
			    ull(rows[i].messages), ull(rows[i].files));
		else
			buf_printf(b, "  %-24s %9llu %14llu %10llu\n", k,
			    ull(rows[i].messages), ull(rows[i].bytes),
			    ull(rows[i].messages > 0 ? rows[i].scan_ms /
			    rows[i].messages : 0));
		free(k);
	}
}

static void
text_top(struct buf *b, const char *title, const struct store_top *t,
    size_t n, bool files)
{
	size_t	i;

	buf_printf(b, "\n%s:\n", title);
	if (n == 0)
		buf_puts(b, "  (none)\n");
	for (i = 0; i < n; i++) {
		char *k = str_sanitise(t[i].key, 100);

		if (files)
			buf_printf(b, "  %8llu files in %8llu messages  %s\n",
			    ull(t[i].count), ull(t[i].messages), k);
		else
			buf_printf(b, "  %8llu  %s\n", ull(t[i].count), k);
		free(k);
	}
}

static void
span(const struct store_report *r, char *from, char *to, size_t len)
{
	day_of(r->from, from, len);
	day_of(r->to - 1, to, len);
}

static void
write_text(const struct store_report *r, const struct report_opts *o,
    struct buf *b)
{
	char	from[32], to[32];

	span(r, from, to, sizeof from);
	if (o->days > 0)
		buf_printf(b, "Portcullis report, last %u days (%s to %s, "
		    "UTC)", o->days, from, to);
	else
		buf_puts(b, "Portcullis report, all records");
	if (o->host != NULL)
		buf_printf(b, ", %s", o->host);
	buf_printf(b, "\n\nTraffic: %llu messages judged, %llu bytes\n"
	    "Quarantine: %llu messages, %llu bytes; viruses in %llu "
	    "messages (%llu files), blocked attachments in %llu messages "
	    "(%llu files), encrypted archives in %llu messages (%llu "
	    "files)\n", ull(r->ttotal.messages), ull(r->ttotal.bytes),
	    ull(r->qtotal.messages), ull(r->qtotal.bytes),
	    ull(r->qtotal.virus_msgs), ull(r->qtotal.virus_files),
	    ull(r->qtotal.blocked_msgs), ull(r->qtotal.blocked_files),
	    ull(r->qtotal.encrypted_msgs), ull(r->qtotal.encrypted_files));
	text_trows(b, "Traffic by day", "day", r->tdays, r->ntdays, false);
	text_trows(b, "Traffic by direction", "direction", r->tdirs,
	    r->ntdirs, false);
	text_trows(b, "Traffic by action", "action", r->tactions,
	    r->ntactions, false);
	text_trows(b, "Traffic by rule", "rule", r->trules, r->ntrules,
	    true);
	text_qrows(b, "Quarantine by day", "day", r->qdays, r->nqdays);
	text_qrows(b, "Quarantine by area", "area", r->qareas, r->nqareas);
	text_top(b, "Top viruses", r->viruses, r->nviruses, true);
	text_top(b, "Top blocked types", r->types, r->ntypes, true);
	text_top(b, "Top senders hit", r->senders, r->nsenders, false);
	text_top(b, "Top recipients hit", r->rcpts, r->nrcpts, false);
	if (r->truncated)
		buf_printf(b, "\nWARNING: a table was cut at %u rows.\n",
		    STORE_REPORT_ROWS);
	buf_puts(b, "\n" NOTE_Q "\n" NOTE_T "\n");
}

/* ---- JSON ---- */

static struct json *
json_qrow(const char *keyname, const struct store_qrow *r)
{
	struct json	*o = json_obj();

	if (keyname != NULL)
		json_set_str(o, keyname, r->key);
	json_set_uint(o, "messages", r->messages);
	json_set_uint(o, "bytes", r->bytes);
	json_set_uint(o, "virus_messages", r->virus_msgs);
	json_set_uint(o, "virus_files", r->virus_files);
	json_set_uint(o, "blocked_messages", r->blocked_msgs);
	json_set_uint(o, "blocked_files", r->blocked_files);
	json_set_uint(o, "encrypted_messages", r->encrypted_msgs);
	json_set_uint(o, "encrypted_files", r->encrypted_files);
	return o;
}

static struct json *
json_trow(const char *keyname, const struct store_trow *r)
{
	struct json	*o = json_obj();

	if (keyname != NULL)
		json_set_str(o, keyname, r->key);
	json_set_uint(o, "messages", r->messages);
	json_set_uint(o, "bytes", r->bytes);
	json_set_uint(o, "scan_ms", r->scan_ms);
	json_set_uint(o, "findings", r->files);
	return o;
}

static void
json_qrows(struct json *root, const char *name, const char *keyname,
    const struct store_qrow *rows, size_t n)
{
	struct json	*a = json_arr();
	size_t		 i;

	for (i = 0; i < n; i++)
		json_push(a, json_qrow(keyname, &rows[i]));
	json_set(root, name, a);
}

static void
json_trows(struct json *root, const char *name, const char *keyname,
    const struct store_trow *rows, size_t n)
{
	struct json	*a = json_arr();
	size_t		 i;

	for (i = 0; i < n; i++)
		json_push(a, json_trow(keyname, &rows[i]));
	json_set(root, name, a);
}

static void
json_tops(struct json *root, const char *name, const struct store_top *t,
    size_t n)
{
	struct json	*a = json_arr(), *o;
	size_t		 i;

	for (i = 0; i < n; i++) {
		o = json_obj();
		json_set_str(o, "name", t[i].key);
		json_set_uint(o, "count", t[i].count);
		json_set_uint(o, "messages", t[i].messages);
		json_push(a, o);
	}
	json_set(root, name, a);
}

static void
write_json(const struct store_report *r, const struct report_opts *o,
    struct buf *b)
{
	struct json	*root = json_obj(), *q = json_obj(), *t = json_obj();
	char		 from[32], to[32];

	span(r, from, to, sizeof from);
	json_set_int(root, "version", REPORT_VERSION);
	json_set_uint(root, "days", o->days);
	json_set_str(root, "first", o->days > 0 ? from : NULL);
	json_set_str(root, "last", to);
	json_set_str(root, "host", o->host);
	json_set_bool(root, "truncated", r->truncated);
	json_set(t, "totals", json_trow(NULL, &r->ttotal));
	json_trows(t, "by_day", "day", r->tdays, r->ntdays);
	json_trows(t, "by_direction", "direction", r->tdirs, r->ntdirs);
	json_trows(t, "by_action", "action", r->tactions, r->ntactions);
	json_trows(t, "by_rule", "rule", r->trules, r->ntrules);
	json_set(root, "traffic", t);
	json_set(q, "totals", json_qrow(NULL, &r->qtotal));
	json_qrows(q, "by_day", "day", r->qdays, r->nqdays);
	json_qrows(q, "by_area", "area", r->qareas, r->nqareas);
	json_tops(q, "top_viruses", r->viruses, r->nviruses);
	json_tops(q, "top_blocked_types", r->types, r->ntypes);
	json_tops(q, "top_senders", r->senders, r->nsenders);
	json_tops(q, "top_recipients", r->rcpts, r->nrcpts);
	json_set(root, "quarantine", q);
	json_write(root, b);
	buf_puts(b, "\n");
	json_free(&root);
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

/* One day of the chart: traffic and quarantined messages. */
struct cday {
	char		key[16];
	uint64_t	traffic, quarantined, viruses;
};

/* Vertical bars per day over the window (empty days too). */
static void
html_day_chart(struct buf *b, const struct store_report *r,
    unsigned days)
{
	struct cday	*d = NULL;
	size_t		 nd = 0, i, j;
	uint64_t	 max = 1;
	unsigned	 w = 14, gap = 3, h = 160, width;
	unsigned	 step = (36 + w + gap - 1) / (w + gap);	/* labels */
	int64_t		 t;

	if (days == 0 || days > 400)
		days = (unsigned)(r->ntdays > r->nqdays ? r->ntdays :
		    r->nqdays);
	/* The days of the window, oldest first. */
	for (t = r->from; t < r->to && nd < 400; t += 86400) {
		d = xreallocarray(d, nd + 1, sizeof *d);
		memset(&d[nd], 0, sizeof *d);
		day_of(t, d[nd].key, sizeof d[nd].key);
		if (nd > 0 && strcmp(d[nd - 1].key, d[nd].key) == 0)
			continue;
		nd++;
	}
	for (i = 0; i < nd; i++) {
		for (j = 0; j < r->ntdays; j++)
			if (strcmp(r->tdays[j].key, d[i].key) == 0)
				d[i].traffic = r->tdays[j].messages;
		for (j = 0; j < r->nqdays; j++)
			if (strcmp(r->qdays[j].key, d[i].key) == 0) {
				d[i].quarantined = r->qdays[j].messages;
				d[i].viruses = r->qdays[j].virus_msgs;
			}
		if (d[i].traffic > max)
			max = d[i].traffic;
		if (d[i].quarantined > max)
			max = d[i].quarantined;
	}
	width = (unsigned)nd * (w + gap) + 60;
	buf_printf(b, "<svg role=\"img\" aria-label=\"messages by day\" "
	    "width=\"%u\" height=\"%u\" viewBox=\"0 0 %u %u\">\n", width,
	    h + 40, width, h + 40);
	buf_printf(b, "<text x=\"0\" y=\"14\" class=\"ax\">%llu</text>"
	    "<line x1=\"40\" y1=\"20\" x2=\"%u\" y2=\"20\" class=\"g\"/>"
	    "<line x1=\"40\" y1=\"%u\" x2=\"%u\" y2=\"%u\" class=\"g\"/>\n",
	    ull(max), width, 20 + h, width, 20 + h);
	for (i = 0; i < nd; i++) {
		unsigned x = 44 + (unsigned)i * (w + gap);
		unsigned th = (unsigned)(d[i].traffic * h / max);
		unsigned qh = (unsigned)(d[i].quarantined * h / max);
		unsigned vh = (unsigned)(d[i].viruses * h / max);

		buf_printf(b, "<g><title>%s: %llu judged, %llu quarantined, "
		    "%llu with a virus</title>", d[i].key, ull(d[i].traffic),
		    ull(d[i].quarantined), ull(d[i].viruses));
		buf_printf(b, "<rect class=\"t\" x=\"%u\" y=\"%u\" "
		    "width=\"%u\" height=\"%u\"/>", x, 20 + h - th, w, th);
		buf_printf(b, "<rect class=\"m\" x=\"%u\" y=\"%u\" "
		    "width=\"%u\" height=\"%u\"/>", x + 2, 20 + h - qh, w - 4,
		    qh);
		if (vh > 0)
			buf_printf(b, "<rect class=\"v\" x=\"%u\" y=\"%u\" "
			    "width=\"%u\" height=\"%u\"/>", x + 4,
			    20 + h - vh, w - 8, vh);
		buf_puts(b, "</g>\n");
		/* "MM-DD" is about 30 px wide at 10 px: one label every
		 * step bars, counted back from the last day (today), so
		 * that no two overlap */
		if ((nd - 1 - i) % step == 0)
			buf_printf(b, "<text x=\"%u\" y=\"%u\" class=\"ax\">"
			    "%.5s</text>\n", x, h + 34, d[i].key + 5);
	}
	buf_puts(b, "</svg>\n<p class=\"legend\"><span class=\"sw t\"></span>"
	    " judged <span class=\"sw m\"></span> quarantined "
	    "<span class=\"sw v\"></span> with a virus</p>\n");
	free(d);
}

static void
html_qrows(struct buf *b, const char *title, const char *col,
    const struct store_qrow *rows, size_t n)
{
	uint64_t	max = 1;
	size_t		i;

	for (i = 0; i < n; i++)
		if (rows[i].messages > max)
			max = rows[i].messages;
	buf_printf(b, "<h2>%s</h2>\n<table><tr><th>%s</th><th>messages</th>"
	    "<th></th><th>virus msgs / files</th><th>blocked msgs / files"
	    "</th><th>encrypted msgs / files</th><th>bytes</th></tr>\n",
	    title, col);
	for (i = 0; i < n; i++) {
		buf_puts(b, "<tr><td>");
		html_esc(b, rows[i].key);
		buf_printf(b, "</td><td class=\"n\">%llu</td><td class=\"bar\">"
		    "<div style=\"width:%u%%\"></div></td><td class=\"n\">"
		    "%llu / %llu</td><td class=\"n\">%llu / %llu</td>"
		    "<td class=\"n\">%llu / %llu</td><td class=\"n\">%llu</td>"
		    "</tr>\n", ull(rows[i].messages),
		    (unsigned)(rows[i].messages * 100 / max),
		    ull(rows[i].virus_msgs), ull(rows[i].virus_files),
		    ull(rows[i].blocked_msgs), ull(rows[i].blocked_files),
		    ull(rows[i].encrypted_msgs), ull(rows[i].encrypted_files),
		    ull(rows[i].bytes));
	}
	buf_puts(b, "</table>\n");
}

static void
html_trows(struct buf *b, const char *title, const char *col,
    const struct store_trow *rows, size_t n)
{
	uint64_t	max = 1;
	size_t		i;

	for (i = 0; i < n; i++)
		if (rows[i].messages > max)
			max = rows[i].messages;
	buf_printf(b, "<div class=\"top\"><h2>%s</h2>\n<table><tr><th>%s"
	    "</th><th>messages</th><th></th><th>findings</th><th>bytes</th>"
	    "</tr>\n", title, col);
	for (i = 0; i < n; i++) {
		buf_puts(b, "<tr><td>");
		html_esc(b, rows[i].key);
		buf_printf(b, "</td><td class=\"n\">%llu</td><td class=\"bar\">"
		    "<div style=\"width:%u%%\"></div></td><td class=\"n\">%llu"
		    "</td><td class=\"n\">%llu</td></tr>\n",
		    ull(rows[i].messages),
		    (unsigned)(rows[i].messages * 100 / max),
		    ull(rows[i].files), ull(rows[i].bytes));
	}
	if (n == 0)		/* say it, rather than an empty table */
		buf_puts(b, "<tr><td colspan=\"5\">no messages judged in "
		    "these days (traffic statistics are kept by the daemon: "
		    "[quarantine] stats_days)</td></tr>\n");
	buf_puts(b, "</table></div>\n");
}

static void
html_top(struct buf *b, const char *title, const struct store_top *t,
    size_t n)
{
	uint64_t	max = n > 0 && t[0].count > 0 ? t[0].count : 1;
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
		    ull(t[i].count), (unsigned)(t[i].count * 100 / max));
	}
	if (n > 0)
		buf_puts(b, "</table>\n");
	buf_puts(b, "</div>\n");
}

static void
card(struct buf *b, uint64_t n, const char *what)
{
	buf_printf(b, "<div class=\"card\"><b>%llu</b>%s</div>", ull(n), what);
}

static void
write_html(const struct store_report *r, const struct report_opts *o,
    struct buf *b)
{
	char	from[32], to[32];

	span(r, from, to, sizeof from);
	buf_puts(b, "<!DOCTYPE html>\n<html lang=\"en\"><head>"
	    "<meta charset=\"utf-8\">\n<title>Portcullis report</title>\n"
	    "<style>\n"
	    "body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222}\n"
	    "h1{font-size:1.4em}h2{font-size:1.1em;margin-top:1.5em}\n"
	    ".cards{display:flex;flex-wrap:wrap;gap:1em}\n"
	    ".card{border:1px solid #ccc;border-radius:6px;padding:.6em 1em;"
	    "min-width:8em}\n.card b{display:block;font-size:1.6em}\n"
	    "table{border-collapse:collapse}td,th{padding:2px 8px;"
	    "text-align:left}\n.n{text-align:right;"
	    "font-variant-numeric:tabular-nums}\n"
	    ".bar{width:160px}.bar div{background:#4a78b5;height:10px}\n"
	    ".k{max-width:30em;overflow-wrap:anywhere}\n"
	    "svg .t{fill:#b8c9e0}svg .m{fill:#4a78b5}svg .v{fill:#c0392b}"
	    "svg .ax{font-size:10px;fill:#555}svg .g{stroke:#ddd}\n"
	    ".sw{display:inline-block;width:10px;height:10px}"
	    ".sw.t{background:#b8c9e0}.sw.m{background:#4a78b5}"
	    ".sw.v{background:#c0392b}\n"
	    ".tops{display:flex;flex-wrap:wrap;gap:2em}\n"
	    ".warn{color:#c0392b;font-weight:bold}"
	    ".note{color:#666;margin-top:2em}\n"
	    "</style></head><body>\n<h1>Portcullis report");
	if (o->host != NULL) {
		buf_puts(b, " &mdash; ");
		html_esc(b, o->host);
	}
	buf_puts(b, "</h1>\n<p>");
	if (o->days > 0)
		buf_printf(b, "Last %u days, %s to %s (UTC).", o->days, from,
		    to);
	else
		buf_puts(b, "All records.");
	buf_puts(b, "</p>\n");
	if (r->truncated)
		buf_printf(b, "<p class=\"warn\">A table was cut at %u rows."
		    "</p>\n", STORE_REPORT_ROWS);
	buf_puts(b, "<div class=\"cards\">");
	card(b, r->ttotal.messages, "messages judged");
	card(b, r->qtotal.messages, "quarantined");
	card(b, r->qtotal.virus_msgs, "messages with a virus");
	card(b, r->qtotal.virus_files, "infected files");
	card(b, r->qtotal.blocked_files, "blocked attachments");
	card(b, r->qtotal.encrypted_files, "encrypted archives");
	card(b, r->qtotal.bytes, "bytes quarantined");
	buf_puts(b, "</div>\n<h2>Messages by day</h2>\n");
	html_day_chart(b, r, o->days);
	buf_puts(b, "<div class=\"tops\">\n");
	html_trows(b, "Traffic by direction", "direction", r->tdirs,
	    r->ntdirs);
	html_trows(b, "Traffic by action", "action", r->tactions,
	    r->ntactions);
	html_trows(b, "Traffic by rule", "rule", r->trules, r->ntrules);
	buf_puts(b, "</div>\n");
	html_qrows(b, "Quarantine by area", "area", r->qareas, r->nqareas);
	buf_puts(b, "<div class=\"tops\">\n");
	html_top(b, "Top viruses (files)", r->viruses, r->nviruses);
	html_top(b, "Top blocked types (files)", r->types, r->ntypes);
	html_top(b, "Top senders hit", r->senders, r->nsenders);
	html_top(b, "Top recipients hit", r->rcpts, r->nrcpts);
	buf_puts(b, "</div>\n");
	html_qrows(b, "Quarantine by day", "day", r->qdays, r->nqdays);
	buf_puts(b, "<p class=\"note\">" NOTE_Q "<br>" NOTE_T "</p>\n"
	    "</body></html>\n");
}

void
report_write(const struct store_report *r, const struct report_opts *o,
    struct buf *out)
{
	switch (o->format) {
	case REPORT_JSON:
		write_json(r, o, out);
		break;
	case REPORT_HTML:
		write_html(r, o, out);
		break;
	default:
		write_text(r, o, out);
		break;
	}
}
