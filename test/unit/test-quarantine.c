/*
 * test/unit/test-quarantine.c - the quarantine store (store, list, load,
 * delete, expire, atomicity, modes, metadata round trip, unique IDs), the
 * notification builder (the bytes), notify_send with a fake sendmail
 * program written here (a test double for the external binary: it records
 * its argv and stdin), the report, and the portcullisctl commands.
 */
#include "config.h"

#include <dirent.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "notify.h"
#include "json.h"
#include "quarantine.h"
#include "report.h"
#include "t.h"

static char	ctl_path[4096];		/* the portcullisctl binary */

static const char msg_text[] =
    "From: Alice <alice@example.net>\r\n"
    "To: bob@example.com\r\n"
    "Subject: invoice\r\n"
    "MIME-Version: 1.0\r\n"
    "\r\n"
    "body line\r\n";

static struct policy *
load_policy(struct t *t, const char *extra)
{
	struct policy	*pol = NULL;
	char		*errs = NULL, *text;

	text = xasprintf("[quarantine]\ndirectory = %s/q\n%s", t_tmpdir(t),
	    extra != NULL ? extra : "");
	if (policy_load_string(text, "t.ini", NULL, 0, &pol, &errs) == -1) {
		t_error(t, "policy: %s", errs);
		free(errs);
		pol = NULL;
	}
	free(text);
	return pol;
}

static struct verdict *
virus_verdict(const struct policy *pol, const char *sender)
{
	struct verdict	*v = verdict_new(DIR_INBOUND);

	verdict_add(v, pol, RULE_VIRUS, "1.2", "eicar.com", "Eicar-Signature");
	verdict_add(v, pol, RULE_BLOCKED_EXTENSION, "1.3", "a.exe",
	    "extension .exe");
	verdict_finish(v, "4QID1", sender);
	return v;
}

static const char *const rcpts2[] = { "bob@example.com", "carol@example.com" };

static struct envelope
envelope(const char *sender)
{
	struct envelope	e;

	memset(&e, 0, sizeof e);
	e.sender = sender;
	e.rcpts = rcpts2;
	e.nrcpts = 2;
	e.client_addr = "192.0.2.7";
	e.auth_user = NULL;
	e.queue_id = "4QID1";
	e.direction = -1;
	return e;
}

static int
mode_of(const char *path)
{
	struct stat	st;

	if (lstat(path, &st) == -1)
		return -1;
	return (int)(st.st_mode & 07777);
}

/* Counts entries of dir whose name starts with prefix. */
static unsigned
count_prefix(const char *dir, const char *prefix)
{
	DIR		*d = opendir(dir);
	struct dirent	*de;
	unsigned	 n = 0;

	if (d == NULL)
		return 0;
	while ((de = readdir(d)) != NULL)
		if (strncmp(de->d_name, prefix, strlen(prefix)) == 0)
			n++;
	closedir(d);
	return n;
}

/* ---- the store ---- */

static void
store_list_load_delete(struct t *t)
{
	struct policy	*pol = load_policy(t, NULL);
	struct verdict	*v;
	struct envelope	 env = envelope("alice@example.net");
	struct err	 err = ERR_INIT;
	struct qmeta	*list = NULL, *m = NULL;
	unsigned char	*msg = NULL;
	size_t		 n = 0, len = 0;
	char		*id = NULL, *path;

	if (pol == NULL)
		return;
	v = virus_verdict(pol, env.sender);
	if (!t_check(t, quarantine_store(pol, "virus",
	    (const unsigned char *)msg_text, strlen(msg_text), &env, v, &id,
	    &err) == 0, "store: %s", err.msg))
		goto out;
	t_check(t, quarantine_id_ok(id) && strlen(id) == 33 &&
	    id[15] == 'Z' && id[16] == '-', "id %s: want YYYYMMDDTHHMMSSZ-"
	    "16hex", id);

	/* modes and no temp files */
	path = xasprintf("%s/q", t_tmpdir(t));
	t_check(t, mode_of(path) == 0700, "quarantine dir mode %o, want 700",
	    mode_of(path));
	free(path);
	path = xasprintf("%s/q/virus", t_tmpdir(t));
	t_check(t, mode_of(path) == 0700, "area dir mode %o, want 700",
	    mode_of(path));
	t_check(t, count_prefix(path, ".tmp") == 0, "temp files left");
	free(path);
	path = xasprintf("%s/q/virus/%s.eml", t_tmpdir(t), id);
	t_check(t, mode_of(path) == 0600, "message mode %o, want 600",
	    mode_of(path));
	free(path);
	path = xasprintf("%s/q/virus/%s.json", t_tmpdir(t), id);
	t_check(t, mode_of(path) == 0600, "record mode %o, want 600",
	    mode_of(path));
	free(path);

	/* list: every area, one area, another area */
	t_check(t, quarantine_list(pol, NULL, &list, &n, &err) == 0 && n == 1,
	    "list all: got %zu (%s), want 1", n, err.msg);
	if (n == 1) {
		t_check(t, strcmp(list[0].id, id) == 0, "list id %s",
		    list[0].id);
		t_check(t, strcmp(list[0].area, "virus") == 0, "area %s",
		    list[0].area);
		t_check(t, list[0].nfindings == 2 &&
		    strcmp(list[0].findings[0].rule, "virus") == 0 &&
		    strcmp(list[0].findings[0].detail,
		    "Eicar-Signature") == 0 &&
		    strcmp(list[0].findings[0].filename, "eicar.com") == 0 &&
		    strcmp(list[0].findings[0].part, "1.2") == 0,
		    "findings not kept");
		t_check(t, list[0].nrcpts == 2 &&
		    strcmp(list[0].rcpts[1], "carol@example.com") == 0,
		    "recipients not kept");
		t_check(t, strcmp(list[0].sender, "alice@example.net") == 0 &&
		    strcmp(list[0].client, "192.0.2.7") == 0 &&
		    list[0].auth_user == NULL &&
		    strcmp(list[0].queue_id, "4QID1") == 0 &&
		    strcmp(list[0].direction, "inbound") == 0,
		    "envelope not kept");
		t_check(t, list[0].size == strlen(msg_text), "size %llu",
		    (unsigned long long)list[0].size);
		t_check(t, list[0].policy_version == pol->version &&
		    strcmp(list[0].policy_source, pol->source) == 0,
		    "policy version/source not kept");
		t_check(t, llabs((long long)(list[0].time - time(NULL))) < 5,
		    "time %lld", (long long)list[0].time);
	}
	qmeta_list_free(&list, n);
	t_check(t, quarantine_list(pol, "virus", &list, &n, &err) == 0 &&
	    n == 1, "list virus: got %zu", n);
	qmeta_list_free(&list, n);
	t_check(t, quarantine_list(pol, "spam", &list, &n, &err) == 0 &&
	    n == 0, "list spam: got %zu, want 0", n);
	qmeta_list_free(&list, n);

	/* load */
	t_check(t, quarantine_load(pol, id, &m, &msg, &len, &err) == QUAR_OK,
	    "load: %s", err.msg);
	t_check(t, msg != NULL && len == strlen(msg_text) &&
	    memcmp(msg, msg_text, len) == 0, "message bytes differ");
	free(msg);
	msg = NULL;
	qmeta_free(&m);
	t_check(t, m == NULL, "qmeta_free must set NULL");

	/* delete */
	t_check(t, quarantine_delete(pol, id, &err) == QUAR_OK, "delete: %s",
	    err.msg);
	t_check(t, quarantine_delete(pol, id, &err) == QUAR_NOTFOUND,
	    "delete twice: want not found");
	t_check(t, quarantine_load(pol, id, &m, NULL, NULL, &err) ==
	    QUAR_NOTFOUND, "load after delete: want not found");
	path = xasprintf("%s/q/virus", t_tmpdir(t));
	t_check(t, count_prefix(path, "2") == 0, "files left after delete");
	free(path);
out:
	free(id);
	verdict_free(&v);
	policy_unref(&pol);
}

static void
bad_names(struct t *t)
{
	static const struct {
		const char	*s;
		bool		 id_ok, area_ok;
	} cases[] = {
		{ "20240101T000000Z-0123456789abcdef", true, true },
		{ "virus", true, true },
		{ "spam_2", false, true },
		{ "../etc", false, false },
		{ "a/b", false, false },
		{ ".hidden", false, false },
		{ "-rf", false, false },
		{ "", false, false },
		{ "a b", false, false },
		{ "a\nb", false, false },
	};
	struct policy	*pol = load_policy(t, NULL);
	struct err	 err = ERR_INIT;
	struct qmeta	*m = NULL;
	size_t		 i;
	char		*id = NULL;

	for (i = 0; i < T_NCASES(cases); i++) {
		t_check(t, quarantine_id_ok(cases[i].s) == cases[i].id_ok,
		    "id_ok(\"%s\"): got %d, want %d", cases[i].s,
		    !cases[i].id_ok, cases[i].id_ok);
		t_check(t, quarantine_area_ok(cases[i].s) == cases[i].area_ok,
		    "area_ok(\"%s\"): got %d, want %d", cases[i].s,
		    !cases[i].area_ok, cases[i].area_ok);
	}
	if (pol == NULL)
		return;
	t_check(t, quarantine_store(pol, "../x", (const unsigned char *)"x",
	    1, NULL, NULL, &id, &err) == -1 && id == NULL,
	    "store to ../x must fail");
	t_check(t, quarantine_load(pol, "../../etc/passwd", &m, NULL, NULL,
	    &err) == QUAR_NOTFOUND, "load ../../etc/passwd: want not found");
	t_check(t, quarantine_delete(pol, "../q", &err) == QUAR_NOTFOUND,
	    "delete ../q: want not found");
	policy_unref(&pol);
}

static void
store_fails_cleanly(struct t *t)
{
	struct policy	*pol;
	struct err	 err = ERR_INIT;
	char		*id = NULL, *f;
	FILE		*fp;

	/* The quarantine directory is a file: an error, nothing written. */
	f = xasprintf("%s/q", t_tmpdir(t));
	fp = fopen(f, "w");
	if (fp != NULL)
		fclose(fp);
	pol = load_policy(t, NULL);
	if (pol != NULL) {
		t_check(t, quarantine_store(pol, "virus",
		    (const unsigned char *)"x", 1, NULL, NULL, &id, &err) == -1,
		    "store under a file must fail");
		t_check(t, err.msg[0] != '\0', "no error message");
		t_check(t, id == NULL, "id set on failure");
	}
	free(f);
	policy_unref(&pol);
}

static void
unique_ids(struct t *t)
{
	struct policy	*pol = load_policy(t, NULL);
	struct err	 err = ERR_INIT;
	struct qmeta	*list = NULL;
	char		*ids[300];
	size_t		 i, j, n = 0, stored = 0;

	if (pol == NULL)
		return;
	for (i = 0; i < T_NCASES(ids); i++) {
		ids[i] = NULL;
		if (quarantine_store(pol, i % 2 ? "virus" : "attachment",
		    (const unsigned char *)msg_text, strlen(msg_text), NULL,
		    NULL, &ids[i], &err) == 0)
			stored++;
	}
	t_check(t, stored == T_NCASES(ids), "stored %zu of %zu: %s", stored,
	    T_NCASES(ids), err.msg);
	for (i = 0; i < stored; i++)
		for (j = i + 1; j < stored; j++)
			if (strcmp(ids[i], ids[j]) == 0)
				t_error(t, "duplicate id %s", ids[i]);
	t_check(t, quarantine_list(pol, NULL, &list, &n, &err) == 0 &&
	    n == stored, "list: got %zu, want %zu", n, stored);
	for (i = 1; i < n; i++)
		if (list[i - 1].time > list[i].time ||
		    (list[i - 1].time == list[i].time &&
		    strcmp(list[i - 1].id, list[i].id) >= 0))
			t_error(t, "list not ordered at %zu", i);
	qmeta_list_free(&list, n);
	for (i = 0; i < T_NCASES(ids); i++)
		free(ids[i]);
	policy_unref(&pol);
}

static void
expire(struct t *t)
{
	struct policy	*pol = load_policy(t, NULL);
	struct err	 err = ERR_INIT;
	struct timespec	 old[2];
	size_t		 removed = 99, i;
	char		*path, *id = NULL;
	int64_t		 now = (int64_t)time(NULL);
	FILE		*fp;

	if (pol == NULL)
		return;
	for (i = 0; i < 3; i++) {
		t_check(t, quarantine_store(pol, "limits",
		    (const unsigned char *)msg_text, strlen(msg_text), NULL,
		    NULL, &id, &err) == 0, "store: %s", err.msg);
		free(id);
		id = NULL;
	}
	/* leftovers: an old temp file, an old orphan message, a fresh temp */
	old[0].tv_sec = old[1].tv_sec = (time_t)(now - 3 * 86400);
	old[0].tv_nsec = old[1].tv_nsec = 0;
	for (i = 0; i < 3; i++) {
		static const char *const names[] = { ".tmp-old.eml",
		    "20000101T000000Z-0000000000000000.eml", ".tmp-new.eml" };

		path = xasprintf("%s/q/limits/%s", t_tmpdir(t), names[i]);
		if ((fp = fopen(path, "w")) != NULL)
			fclose(fp);
		if (i < 2)
			utimensat(AT_FDCWD, path, old, 0);
		free(path);
	}
	t_check(t, quarantine_expire(pol, 60, 0, &removed, &err) == 0 &&
	    removed == 0, "expire now: removed %zu, want 0", removed);
	path = xasprintf("%s/q/limits", t_tmpdir(t));
	t_check(t, count_prefix(path, ".tmp-old") == 0 &&
	    count_prefix(path, "2000") == 0, "old leftovers not removed");
	t_check(t, count_prefix(path, ".tmp-new") == 1,
	    "a fresh temp file (a write in progress) was removed");
	t_check(t, quarantine_expire(pol, 60, now + 59 * 86400, &removed,
	    &err) == 0 && removed == 0, "expire at 59 days: removed %zu, "
	    "want 0", removed);
	t_check(t, quarantine_expire(pol, 60, now + 61 * 86400, &removed,
	    &err) == 0 && removed == 3, "expire at 61 days: removed %zu, "
	    "want 3", removed);
	t_check(t, count_prefix(path, "2") == 0, "records left after expire");
	free(path);
	policy_unref(&pol);
}

/* ---- metadata round trip ---- */

static bool
str_eq(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

static void
meta_round_trip(struct t *t)
{
	static char *rc[] = { "a\"b@example.com", "back\\slash@x",
		"ctl\x01\x1f@x", "utf8-\xc3\xa9@x" };
	struct qfinding	 f[2] = {
		{ "virus", "1.2/a.zip/b.exe", "na\"me\n.exe", "Win.Test\t1",
		  "reject-virus" },
		{ "encrypted", "2", NULL, NULL, NULL },
	};
	struct qmeta	 m = {
		"20240101T000000Z-0123456789abcdef", "virus", 1704067200,
		NULL, "", rc, 4, "2001:db8::1", "user\r\nX-Evil: 1",
		"outbound", f, 2, "reject-virus", "reject", "sum \x7f mary",
		12345, 99, "/etc/p.ini", 0, NULL, NULL
	};
	struct qmeta	*r = NULL;
	struct buf	 b = BUF_INIT;
	struct err	 err = ERR_INIT;
	size_t		 i;

	qmeta_json(&m, &b);
	if (!t_check(t, qmeta_parse((const char *)b.data, b.len, &r, &err) ==
	    0, "parse own output: %s\n%s", err.msg, buf_cstr(&b)))
		goto out;
	t_check(t, memchr(b.data, '\n', b.len) == NULL &&
	    memchr(b.data, '\r', b.len) == NULL, "record has a raw newline");
	t_check(t, str_eq(r->id, m.id) && str_eq(r->area, m.area) &&
	    r->time == m.time && r->queue_id == NULL &&
	    str_eq(r->sender, "") && str_eq(r->client, m.client) &&
	    str_eq(r->auth_user, m.auth_user) &&
	    str_eq(r->direction, m.direction) && str_eq(r->action, m.action) &&
	    str_eq(r->disposition, m.disposition) &&
	    str_eq(r->summary, m.summary) && r->size == m.size &&
	    r->policy_version == m.policy_version &&
	    str_eq(r->policy_source, m.policy_source), "scalars differ");
	t_check(t, r->nrcpts == m.nrcpts, "rcpts: got %zu", r->nrcpts);
	for (i = 0; i < r->nrcpts && i < m.nrcpts; i++)
		t_check(t, str_eq(r->rcpts[i], m.rcpts[i]), "rcpt %zu: got "
		    "\"%s\"", i, r->rcpts[i]);
	t_check(t, r->nfindings == 2, "findings: got %zu", r->nfindings);
	for (i = 0; i < r->nfindings && i < 2; i++)
		t_check(t, str_eq(r->findings[i].rule, f[i].rule) &&
		    str_eq(r->findings[i].part, f[i].part) &&
		    str_eq(r->findings[i].filename, f[i].filename) &&
		    str_eq(r->findings[i].detail, f[i].detail) &&
		    str_eq(r->findings[i].action, f[i].action),
		    "finding %zu differs", i);
out:
	qmeta_free(&r);
	buf_free(&b);
}

static void
meta_bad_input(struct t *t)
{
	static const struct {
		const char	*name, *json;
	} cases[] = {
		{ "empty", "" },
		{ "not an object", "[1,2]" },
		{ "truncated", "{\"id\":\"x\",\"area\":\"v" },
		{ "trailing garbage", "{\"id\":\"x\",\"area\":\"v\"} x" },
		{ "no id", "{\"area\":\"v\"}" },
		{ "bad escape", "{\"id\":\"\\q\",\"area\":\"v\"}" },
		{ "short unicode", "{\"id\":\"\\u12\",\"area\":\"v\"}" },
		{ "deep", "{\"id\":\"x\",\"area\":\"v\",\"a\":"
		    "[[[[[[[[[[[[1]]]]]]]]]]]]}" },
		{ "huge number", "{\"id\":\"x\",\"area\":\"v\",\"time\":"
		    "99999999999999999999999}" },
		{ "bare word", "{\"id\":x}" },
		{ "missing colon", "{\"id\" \"x\"}" },
	};
	struct qmeta	*m = NULL;
	struct err	 err = ERR_INIT;
	size_t		 i;

	for (i = 0; i < T_NCASES(cases); i++) {
		int r = qmeta_parse(cases[i].json, strlen(cases[i].json), &m,
		    &err);

		t_check(t, r == -1 && m == NULL, "%s: got %d, want -1",
		    cases[i].name, r);
		qmeta_free(&m);
	}
	t_check(t, qmeta_parse("{\"id\":\"x\",\"area\":\"v\"}", 21, &m,
	    &err) == 0 && m != NULL && m->nfindings == 0 && m->nrcpts == 0,
	    "minimal record: %s", err.msg);
	qmeta_free(&m);
}

/* ---- notifications ---- */

static bool
has_line(const struct buf *b, const char *line)
{
	const char	*s = (const char *)b->data;
	size_t		 l = strlen(line), i = 0;

	while (i < b->len) {
		const char *nl = memchr(s + i, '\n', b->len - i);
		size_t	    n = nl != NULL ? (size_t)(nl - (s + i)) :
			    b->len - i;

		if (n == l && memcmp(s + i, line, l) == 0)
			return true;
		i += n + 1;
	}
	return false;
}

static bool
has_prefix_line(const struct buf *b, const char *prefix)
{
	const char	*s = (const char *)b->data;
	size_t		 l = strlen(prefix), i = 0;

	while (i < b->len) {
		const char *nl = memchr(s + i, '\n', b->len - i);
		size_t	    n = nl != NULL ? (size_t)(nl - (s + i)) :
			    b->len - i;

		if (n >= l && memcmp(s + i, prefix, l) == 0)
			return true;
		i += n + 1;
	}
	return false;
}

struct ncase {
	const char	*name;
	const char	*extra_ini;	/* policy lines */
	const char	*sender;
	unsigned	 notify;
	bool		 virus;
	const char	*headers;	/* prepended to msg_text */
	unsigned	 want;		/* NOTIFY_* bits built */
};

static const struct ncase ncases[] = {
	{ "admin about a virus", NULL, "alice@example.net", NOTIFY_ADMIN,
	  true, NULL, NOTIFY_ADMIN },
	{ "virus sender is forged", NULL, "alice@example.net",
	  NOTIFY_SENDER | NOTIFY_ADMIN, true, NULL, NOTIFY_ADMIN },
	{ "virus sender when configured",
	  "[notify]\nforged_senders = yes\n", "alice@example.net",
	  NOTIFY_SENDER, true, NULL, NOTIFY_SENDER },
	{ "sender of a blocked file", NULL, "alice@example.net",
	  NOTIFY_SENDER, false, NULL, NOTIFY_SENDER },
	{ "null sender", "[notify]\nforged_senders = yes\n", "",
	  NOTIFY_SENDER, false, NULL, 0 },
	{ "<> sender", NULL, "<>", NOTIFY_SENDER, false, NULL, 0 },
	{ "NULL sender", NULL, NULL, NOTIFY_SENDER, false, NULL, 0 },
	{ "MAILER-DAEMON", NULL, "MAILER-DAEMON@example.net", NOTIFY_SENDER,
	  false, NULL, 0 },
	{ "postmaster", NULL, "<Postmaster@example.net>", NOTIFY_SENDER,
	  false, NULL, 0 },
	{ "list owner", NULL, "owner-list@example.net", NOTIFY_SENDER, false,
	  NULL, 0 },
	{ "list request", NULL, "list-request@example.net", NOTIFY_SENDER,
	  false, NULL, 0 },
	{ "auto-submitted message: nobody", NULL, "alice@example.net",
	  NOTIFY_SENDER | NOTIFY_ADMIN | NOTIFY_RECIPIENTS, false,
	  "Auto-Submitted: auto-replied\r\n", 0 },
	{ "folded auto-submitted", NULL, "alice@example.net",
	  NOTIFY_ADMIN, false, "auto-submitted:\r\n auto-generated\r\n", 0 },
	{ "auto-submitted: no", NULL, "alice@example.net", NOTIFY_ADMIN,
	  false, "Auto-Submitted: no\r\n", NOTIFY_ADMIN },
	{ "our own notification", NULL, "alice@example.net", NOTIFY_ADMIN,
	  false, "X-Portcullis-Notification: admin\r\n", 0 },
	{ "list mail: not the sender", NULL, "alice@example.net",
	  NOTIFY_SENDER | NOTIFY_RECIPIENTS, false,
	  "Precedence: bulk\r\n", NOTIFY_RECIPIENTS },
	{ "recipients", NULL, "alice@example.net", NOTIFY_RECIPIENTS, false,
	  NULL, NOTIFY_RECIPIENTS },
	{ "nothing asked", NULL, "alice@example.net", 0, true, NULL, 0 },
	{ "tempfail: retried, not notified", "[rules]\nblocked_extension = "
	  "tempfail\n", "alice@example.net", NOTIFY_ADMIN, false, NULL, 0 },
	{ "no admin address", "[notify]\nadmin =\n", "alice@example.net",
	  NOTIFY_ADMIN, true, NULL, 0 },
};

static void
notify_who_gets_what(struct t *t)
{
	size_t	i, j;

	for (i = 0; i < T_NCASES(ncases); i++) {
		const struct ncase	*c = &ncases[i];
		struct policy		*pol = load_policy(t, c->extra_ini);
		struct verdict		*v;
		struct envelope		 env = envelope(c->sender);
		struct notification	*l = NULL;
		struct err		 err = ERR_INIT;
		struct buf		 m = BUF_INIT;
		size_t			 n = 0;
		unsigned		 got = 0;

		if (pol == NULL)
			continue;
		v = verdict_new(DIR_INBOUND);
		if (c->virus)
			verdict_add(v, pol, RULE_VIRUS, "1.2", "e.com",
			    "Eicar");
		else
			verdict_add(v, pol, RULE_BLOCKED_EXTENSION, "1.3",
			    "a.exe", "extension .exe");
		verdict_finish(v, "4QID1", c->sender);
		v->notify = c->notify;
		buf_puts(&m, c->headers != NULL ? c->headers : "");
		buf_puts(&m, msg_text);
		if (t_check(t, notify_build(pol, &env, v, m.data, m.len, NULL,
		    &l, &n, &err) == 0, "%s: build: %s", c->name, err.msg))
			for (j = 0; j < n; j++)
				got |= l[j].who;
		t_check(t, got == c->want, "%s: got who=%#x, want %#x", c->name,
		    got, c->want);
		notify_list_free(&l, n);
		buf_free(&m);
		verdict_free(&v);
		policy_unref(&pol);
	}
}

static void
notify_bytes(struct t *t)
{
	struct policy		*pol = load_policy(t, "[notify]\nserver_tag = "
				    "[gw1]\nadmin = pm@example.com, "
				    "sec@example.com\n"
				    "forged_senders = yes\n");
	struct verdict		*v;
	struct envelope		 env = envelope("alice@example.net");
	struct notification	*l = NULL;
	struct notify_opts	 o = { "20240101T000000Z-0123456789abcdef",
				    true, 1704067200, "gw1.example.com" };
	struct err		 err = ERR_INIT;
	size_t			 n = 0, i;

	if (pol == NULL)
		return;
	v = virus_verdict(pol, env.sender);
	v->notify = NOTIFY_ADMIN | NOTIFY_SENDER | NOTIFY_RECIPIENTS;
	if (!t_check(t, notify_build(pol, &env, v,
	    (const unsigned char *)msg_text, strlen(msg_text), &o, &l, &n,
	    &err) == 0 && n == 3, "build: n=%zu %s", n, err.msg))
		goto out;
	for (i = 0; i < n; i++) {
		const struct buf *b = &l[i].message;

		t_check(t, has_line(b, "Auto-Submitted: auto-generated"),
		    "%u: no Auto-Submitted", l[i].who);
		t_check(t, has_prefix_line(b, "Subject: [gw1] "),
		    "%u: subject without the server tag", l[i].who);
		t_check(t, has_line(b, "From: <MAILER-DAEMON@gw1.example.com>"),
		    "%u: From not qualified", l[i].who);
		t_check(t, has_line(b, "Date: Mon, 01 Jan 2024 00:00:00 +0000"),
		    "%u: Date", l[i].who);
		t_check(t, has_prefix_line(b, "Message-ID: <1704067200.") &&
		    has_line(b, "MIME-Version: 1.0"), "%u: Message-ID/MIME",
		    l[i].who);
		t_check(t, memchr(b->data, '\r', b->len) == NULL,
		    "%u: CR in a notification (LF for sendmail)", l[i].who);
		t_check(t, strcmp(l[i].from, "MAILER-DAEMON") == 0,
		    "%u: envelope from %s", l[i].who, l[i].from);
	}
	/* admin: both admins, the quarantine ID, the original attached */
	t_check(t, l[0].who == NOTIFY_ADMIN && l[0].nrcpts == 2 &&
	    strcmp(l[0].rcpts[1], "sec@example.com") == 0, "admin rcpts");
	t_check(t, has_line(&l[0].message, "Subject: [gw1] virus "
	    "(Eicar-Signature) in 4QID1 from alice@example.net"),
	    "admin subject:\n%s", buf_cstr(&l[0].message));
	t_check(t, strstr(buf_cstr(&l[0].message), "ID 20240101T000000Z-"
	    "0123456789abcdef") != NULL, "admin text lacks the quarantine ID");
	t_check(t, has_line(&l[0].message, "Content-Type: message/rfc822") &&
	    has_line(&l[0].message, "Subject: invoice") &&
	    has_line(&l[0].message, "body line"), "original not attached");
	t_check(t, has_prefix_line(&l[0].message, "Content-Type: multipart/"
	    "mixed; boundary=\"=_pc_"), "admin copy not multipart");
	/* sender and recipients: no attachment, recipients hidden */
	t_check(t, l[1].who == NOTIFY_SENDER && l[1].nrcpts == 1 &&
	    strcmp(l[1].rcpts[0], "alice@example.net") == 0 &&
	    has_line(&l[1].message, "To: <alice@example.net>"), "sender");
	t_check(t, !has_prefix_line(&l[1].message, "Content-Type: message"),
	    "sender got the original");
	t_check(t, has_prefix_line(&l[1].message, "Subject: [gw1] Your "
	    "message was refused") || has_prefix_line(&l[1].message,
	    "Subject: [gw1] Your message "), "sender subject");
	t_check(t, l[2].who == NOTIFY_RECIPIENTS && l[2].nrcpts == 2 &&
	    has_line(&l[2].message, "To: undisclosed-recipients:;"),
	    "recipients");
	t_check(t, strstr(buf_cstr(&l[2].message), "carol@") == NULL,
	    "recipients see each other");
out:
	notify_list_free(&l, n);
	t_check(t, l == NULL, "notify_list_free must set NULL");
	verdict_free(&v);
	policy_unref(&pol);
}

static void
notify_no_injection(struct t *t)
{
	struct policy		*pol = load_policy(t, "[notify]\n"
				    "forged_senders = yes\n");
	struct verdict		*v;
	struct envelope		 env = envelope("a@b\r\nBcc: evil@x");
	struct notification	*l = NULL;
	struct notify_opts	 o = { NULL, true, 0, "h" };
	struct err		 err = ERR_INIT;
	struct buf		 msg = BUF_INIT;
	size_t			 n = 0, i;

	if (pol == NULL)
		return;
	v = verdict_new(DIR_INBOUND);
	verdict_add(v, pol, RULE_BLOCKED_EXTENSION, "1", "x\r\nBcc: e@x.exe",
	    "extension .exe");
	verdict_finish(v, "Q\r\nBcc: q@x", env.sender);
	v->notify = NOTIFY_ADMIN | NOTIFY_SENDER;
	env.queue_id = "Q\r\nBcc: q@x";
	/* An original with a NUL byte travels base64-encoded. */
	buf_puts(&msg, "Subject: bin\r\n\r\n");
	buf_append(&msg, "a\0b", 3);
	if (t_check(t, notify_build(pol, &env, v, msg.data, msg.len, &o, &l,
	    &n, &err) == 0 && n == 2, "build: n=%zu", n)) {
		for (i = 0; i < n; i++)
			t_check(t, !has_prefix_line(&l[i].message, "Bcc:"),
			    "%u: header injected:\n%s", l[i].who,
			    buf_cstr(&l[i].message));
		t_check(t, has_prefix_line(&l[0].message, "Content-Type: "
		    "application/octet-stream") && has_line(&l[0].message,
		    "U3ViamVjdDogYmluDQoNCmEAYg=="), "binary original not "
		    "base64:\n%s", buf_cstr(&l[0].message));
	}
	notify_list_free(&l, n);
	buf_free(&msg);
	verdict_free(&v);
	policy_unref(&pol);
}

static void
released_recognised(struct t *t)
{
	static const char *const fakes[] = {
		"X-Portcullis-Released: 20000101T000000Z-00\r\n\r\n"
		    "body line\r\n",
		"Subject: invoice\r\n\r\nbody line\r\n",
		"X-Portcullis-Released: ../../x\r\n\r\n",
		"X-Portcullis-Released:\r\n\r\n",
		"X-Portcullis-Released: ",
	};
	struct policy	*pol = load_policy(t, NULL);
	struct err	 err = ERR_INIT;
	struct buf	 rel = BUF_INIT, crlf = BUF_INIT;
	char		*id = NULL, *got = NULL, *s;
	size_t		 i;

	if (pol == NULL)
		return;
	if (!t_check(t, quarantine_store(pol, "virus",
	    (const unsigned char *)msg_text, strlen(msg_text), NULL, NULL,
	    &id, &err) == 0, "store: %s", err.msg))
		goto out;
	/* As the MTA hands it back: a Received: on top, CRLF again. */
	notify_build_release(id, (const unsigned char *)msg_text,
	    strlen(msg_text), &rel);
	buf_puts(&crlf, "Received: by mx (Postfix, from userid 0)\r\n");
	for (i = 0; i < rel.len; i++)
		if (rel.data[i] == '\n')
			buf_puts(&crlf, "\r\n");
		else
			buf_append(&crlf, &rel.data[i], 1);
	t_check(t, quarantine_is_released(pol, crlf.data, crlf.len, &got) &&
	    got != NULL && strcmp(got, id) == 0, "released message not "
	    "recognised:\n%s", buf_cstr(&crlf));
	free(got);
	got = NULL;
	/* Another body under the same ID: not released. */
	s = strstr(buf_cstr(&crlf), "body line");
	if (s != NULL)
		s[0] = 'B';
	t_check(t, !quarantine_is_released(pol, crlf.data, crlf.len, &got) &&
	    got == NULL, "changed body accepted as released");
	/* An unknown ID, no header, hostile IDs. */
	for (i = 0; i < T_NCASES(fakes); i++)
		t_check(t, !quarantine_is_released(pol,
		    (const unsigned char *)fakes[i], strlen(fakes[i]), NULL),
		    "accepted as released: %s", fakes[i]);
	/* Deleted from the quarantine: no longer released. */
	t_check(t, quarantine_delete(pol, id, &err) == QUAR_OK, "delete");
	buf_reset(&rel);
	notify_build_release(id, (const unsigned char *)msg_text,
	    strlen(msg_text), &rel);
	t_check(t, !quarantine_is_released(pol, rel.data, rel.len, NULL),
	    "deleted record still releases");
out:
	free(id);
	buf_free(&rel);
	buf_free(&crlf);
	policy_unref(&pol);
}

static void
release_bytes(struct t *t)
{
	struct buf	b = BUF_INIT;

	notify_build_release("ID-1", (const unsigned char *)msg_text,
	    strlen(msg_text), &b);
	t_check(t, strncmp(buf_cstr(&b), "X-Portcullis-Released: ID-1\n"
	    "From: Alice <alice@example.net>\nTo: bob@example.com\n", 76) == 0,
	    "release message:\n%s", buf_cstr(&b));
	t_check(t, memchr(b.data, '\r', b.len) == NULL, "CR left");
	buf_free(&b);
}

/* ---- notify_send with a fake sendmail ---- */

/* Writes the fake: records argc, each argument, stdin; exits with st. */
static char *
fake_sendmail(struct t *t, const char *name, const char *body)
{
	char	*path = xasprintf("%s/%s", t_tmpdir(t), name);
	FILE	*fp = fopen(path, "w");

	if (fp == NULL) {
		t_error(t, "cannot write %s", path);
		return path;
	}
	fprintf(fp, "#!/bin/sh\nout='%s/out'\n%s\n", t_tmpdir(t), body);
	fclose(fp);
	chmod(path, 0755);
	return path;
}

static const char record_body[] =
    "echo $# > \"$out.argc\"\n"
    "i=0\n"
    "for a in \"$@\"; do printf '%s' \"$a\" > \"$out.arg$i\"; "
    "i=$((i+1)); done\n"
    "cat > \"$out.stdin\"\n"
    "if [ -e /proc/$$/fd/57 ]; then echo leak > \"$out.fdleak\"; fi\n"
    "exit 0";

static char *
read_out(struct t *t, const char *what)
{
	char		*p = xasprintf("%s/out.%s", t_tmpdir(t), what);
	unsigned char	*s;
	size_t		 len;

	s = t_read_file(p, &len);
	free(p);
	return (char *)s;
}

static void
send_argv_is_not_a_shell(struct t *t)
{
	static const char *const hostile[] = {
		"x;rm -rf /tmp/pc-never@example.com",
		"$(touch PWNED)@example.com",
		"`touch PWNED`@example.com",
		"a b|c>d@example.com",
		"-oQ/tmp@example.com",
	};
	struct policy	*pol;
	struct buf	 m = BUF_INIT;
	struct err	 err = ERR_INIT;
	char		*sm = fake_sendmail(t, "sendmail", record_body);
	char		*ini = xasprintf("[notify]\nsendmail = %s\n", sm);
	char		*s, *pwned;
	size_t		 i;
	int		 fd, r;

	pol = load_policy(t, ini);
	free(ini);
	if (pol == NULL)
		goto out;
	buf_puts(&m, "Subject: hi\n\nline $(touch PWNED)\n");
	/* A descriptor without close-on-exec must not reach sendmail. */
	fd = open("/dev/null", O_RDONLY);
	dup2(fd, 57);
	r = notify_send(pol, &m, "from@example.net", hostile,
	    T_NCASES(hostile), 10000, &err);
	close(57);
	close(fd);
	if (!t_check(t, r == 0, "send: %s", err.msg))
		goto out;
	s = read_out(t, "fdleak");
	t_check(t, s == NULL, "descriptor 57 leaked into sendmail");
	free(s);
	s = read_out(t, "argc");
	t_check(t, s != NULL && atoi(s) == (int)(4 + T_NCASES(hostile)),
	    "argc: got %s", s != NULL ? s : "(none)");
	free(s);
	for (i = 0; i < 4 + T_NCASES(hostile); i++) {
		static const char *const fixed[] = { "-i", "-f",
		    "from@example.net", "--" };
		char	    what[16];
		const char *want = i < 4 ? fixed[i] : hostile[i - 4];

		snprintf(what, sizeof what, "arg%zu", i);
		s = read_out(t, what);
		t_check(t, s != NULL && strcmp(s, want) == 0, "argv[%zu]: got "
		    "\"%s\", want \"%s\"", i + 1, s != NULL ? s : "(none)",
		    want);
		free(s);
	}
	s = read_out(t, "stdin");
	t_check(t, s != NULL && strcmp(s, buf_cstr(&m)) == 0,
	    "stdin: got \"%s\"", s != NULL ? s : "(none)");
	free(s);
	pwned = xasprintf("%s/PWNED", t_tmpdir(t));
	t_check(t, access(pwned, F_OK) == -1 && access("PWNED", F_OK) == -1,
	    "a shell ran");
	free(pwned);
	/* the null sender */
	t_check(t, notify_send(pol, &m, "", hostile, 1, 10000, &err) == 0,
	    "send <>: %s", err.msg);
	s = read_out(t, "arg2");
	t_check(t, s != NULL && strcmp(s, "<>") == 0, "null sender: got %s",
	    s != NULL ? s : "(none)");
	free(s);
out:
	buf_free(&m);
	free(sm);
	policy_unref(&pol);
}

static void
send_failures(struct t *t)
{
	static const struct {
		const char	*name;
		const char	*body;		/* NULL = no such program */
		size_t		 msg_bytes;
		uint64_t	 timeout_ms;
		const char	*want_err;
	} cases[] = {
		{ "exit status", "cat >/dev/null; exit 75", 100, 5000,
		  "exit status 75" },
		{ "hangs", "exec sleep 30", 100, 300, "killed" },
		{ "does not read (no SIGPIPE)", "exit 0", 4u << 20, 5000,
		  "read only" },
		{ "missing program", NULL, 100, 5000, "cannot be run" },
		{ "large message", "cat >/dev/null", 8u << 20, 20000, NULL },
	};
	static const char *const one[] = { "a@example.com" };
	size_t	i;

	for (i = 0; i < T_NCASES(cases); i++) {
		struct policy	*pol;
		struct buf	 m = BUF_INIT;
		struct err	 err = ERR_INIT;
		char		 name[32], *sm, *ini;
		uint64_t	 t0;
		int		 r;

		snprintf(name, sizeof name, "sm%zu", i);
		if (cases[i].body != NULL)
			sm = fake_sendmail(t, name, cases[i].body);
		else
			sm = xasprintf("%s/nonexistent", t_tmpdir(t));
		ini = xasprintf("[notify]\nsendmail = %s\n", sm);
		pol = load_policy(t, ini);
		free(ini);
		free(sm);
		if (pol == NULL)
			continue;
		while (m.len < cases[i].msg_bytes)
			buf_puts(&m, "0123456789012345678901234567890123456789"
			    "012345678901234567890123456789012345678\n");
		t0 = clock_ms();
		r = notify_send(pol, &m, "f@example.net", one, 1,
		    cases[i].timeout_ms, &err);
		if (cases[i].want_err == NULL)
			t_check(t, r == 0, "%s: got -1 (%s), want 0",
			    cases[i].name, err.msg);
		else
			t_check(t, r == -1 && strstr(err.msg,
			    cases[i].want_err) != NULL, "%s: got %d \"%s\", "
			    "want -1 \"%s\"", cases[i].name, r, err.msg,
			    cases[i].want_err);
		t_check(t, clock_ms() - t0 < cases[i].timeout_ms + 3000,
		    "%s: took %llu ms", cases[i].name,
		    (unsigned long long)(clock_ms() - t0));
		buf_free(&m);
		policy_unref(&pol);
	}
}

static void
send_refuses_bad_input(struct t *t)
{
	static const char *const nl[] = { "a@b\nc" };
	static const char *const empty[] = { "" };
	static const char *const ok[] = { "a@b" };
	struct policy	*pol = load_policy(t,
			    "[notify]\nsendmail = sendmail\n");
	struct policy	*pol2 = load_policy(t, NULL);
	struct buf	 m = BUF_INIT;
	struct err	 err = ERR_INIT;

	if (pol == NULL || pol2 == NULL)
		goto out;
	buf_puts(&m, "x\n");
	t_check(t, notify_send(pol, &m, "f", ok, 1, 0, &err) == -1 &&
	    strstr(err.msg, "absolute") != NULL, "relative sendmail path");
	t_check(t, notify_send(pol2, &m, "f", nl, 1, 0, &err) == -1,
	    "recipient with a newline");
	t_check(t, notify_send(pol2, &m, "f", empty, 1, 0, &err) == -1,
	    "empty recipient");
	t_check(t, notify_send(pol2, &m, "f", ok, 0, 0, &err) == -1,
	    "no recipients");
	t_check(t, notify_send(pol2, &m, "f\r\n", ok, 1, 0, &err) == -1,
	    "sender with CRLF");
out:
	buf_free(&m);
	policy_unref(&pol);
	policy_unref(&pol2);
}

/* ---- report ---- */

static void
report_counts(struct t *t)
{
	/* x.exe hit twice (extension and true type) is one file. */
	struct qfinding	 fv = { "virus", "1", "e.com", "Eicar", "a" };
	struct qfinding	 fb[3] = {
		{ "blocked_extension", "2", "x.exe", ".exe", "a" },
		{ "blocked_type", "2", "x.exe", "application/x-dosexec", "a" },
		{ "encrypted", "3", "x.zip", "encrypted zip", "a" },
	};
	static char	*rcpts[] = { "bob@example.org" };
	struct qmeta	 list[4];
	struct store_hit hits[2] = { { "virus", "Eicar" },
				     { "blocked_type", "application/x" } };
	struct store_traffic tr;
	struct report_opts o = { 7, REPORT_JSON, "gw<1>" };
	struct store_report *r = NULL;
	struct store	*st = NULL;
	struct buf	 b = BUF_INIT;
	struct err	 err = ERR_INIT;
	int64_t		 day = 1704067200;	/* 2024-01-01 */
	char		*path, ids[4][40], *s;
	size_t		 i;

	path = xasprintf("%s/r.sqlite", t_tmpdir(t));
	if (!t_check(t, store_open(path, STORE_CREATE, &st, &err) == 0,
	    "open: %s", err.msg))
		goto out;
	memset(list, 0, sizeof list);
	for (i = 0; i < 4; i++) {
		snprintf(ids[i], sizeof ids[i], "20240101T000000Z-%016zx", i);
		list[i].id = ids[i];
		list[i].area = i < 2 ? "virus" : "attachment";
		list[i].time = day + 60 - (int64_t)i * 86400;
		list[i].sender = i == 3 ? "" : "<script>@x";
		list[i].rcpts = rcpts;
		list[i].nrcpts = 1;
		list[i].findings = i < 2 ? &fv : fb;
		list[i].nfindings = i < 2 ? 1 : 3;
		list[i].size = 1000;
	}
	list[3].time = day - 30 * 86400;		/* outside 7 days */
	for (i = 0; i < 4; i++)
		t_check(t, store_put(st, &list[i], &err) == 0, "put %zu: %s",
		    i, err.msg);
	memset(&tr, 0, sizeof tr);
	for (i = 0; i < 5; i++) {
		tr.time = day + 100 - (int64_t)(i % 2) * 86400;
		tr.direction = i < 4 ? "inbound" : "outbound";
		tr.disposition = i < 3 ? "accept" : "reject";
		tr.size = 500;
		tr.scan_ms = 10;
		tr.hits = hits;
		tr.nhits = i < 3 ? 0 : 2;
		t_check(t, store_traffic_add(st, &tr, &err) == 0,
		    "traffic: %s", err.msg);
	}
	if (!t_check(t, store_report(st, day + 86400 - 7 * 86400,
	    day + 86400, &r, &err) == 0, "report: %s", err.msg))
		goto out;
	report_write(r, &o, &b);
	s = buf_cstr(&b);
	t_check(t, strstr(s, "\"quarantine\":{\"totals\":{\"messages\":3,"
	    "\"bytes\":3000,\"virus_messages\":2,\"virus_files\":2,"
	    "\"blocked_messages\":1,\"blocked_files\":1,"
	    "\"encrypted_messages\":1,\"encrypted_files\":1}") != NULL,
	    "json quarantine totals:\n%s", s);
	t_check(t, strstr(s, "\"traffic\":{\"totals\":{\"messages\":5,"
	    "\"bytes\":2500,\"scan_ms\":50,\"findings\":4}") != NULL,
	    "json traffic totals");
	t_check(t, strstr(s, "{\"direction\":\"inbound\",\"messages\":4,")
	    != NULL && strstr(s, "{\"action\":\"reject\",\"messages\":2,")
	    != NULL && strstr(s, "{\"rule\":\"virus\",\"messages\":2,")
	    != NULL, "traffic by direction, action, rule");
	t_check(t, strstr(s, "{\"area\":\"virus\",\"messages\":2,") != NULL,
	    "by area");
	t_check(t, strstr(s, "{\"day\":\"2024-01-01\",\"messages\":1,") !=
	    NULL, "by day");
	t_check(t, strstr(s, "\"top_viruses\":[{\"name\":\"Eicar\","
	    "\"count\":2,\"messages\":2}]") != NULL, "top viruses");
	t_check(t, strstr(s, "\"top_blocked_types\":[{\"name\":\".exe\","
	    "\"count\":1,") != NULL, "top blocked types");
	t_check(t, strstr(s, "\"top_senders\":[{\"name\":\"<script>@x\","
	    "\"count\":3,") != NULL, "top senders");
	t_check(t, strstr(s, "\"top_recipients\":[{\"name\":"
	    "\"bob@example.org\",\"count\":3,") != NULL, "top recipients");
	{
		struct json	*j = NULL;

		t_check(t, json_parse(s, strlen(s), 16, &j, &err) == 0 &&
		    json_get_int(j, "version") == REPORT_VERSION,
		    "report JSON does not parse: %s", err.msg);
		json_free(&j);
	}

	buf_reset(&b);
	o.format = REPORT_HTML;
	report_write(r, &o, &b);
	s = buf_cstr(&b);
	t_check(t, strstr(s, "<svg") != NULL && strstr(s, "</html>") != NULL,
	    "html chart");
	t_check(t, strstr(s, "<script") == NULL && strstr(s,
	    "&lt;script&gt;@x") != NULL && strstr(s, "gw&lt;1&gt;") != NULL,
	    "html not escaped");
	t_check(t, strstr(s, "src=") == NULL && strstr(s, "href=") == NULL &&
	    strstr(s, "http") == NULL && strstr(s, "@import") == NULL,
	    "html has external assets");

	buf_reset(&b);
	o.format = REPORT_TEXT;
	report_write(r, &o, &b);
	s = buf_cstr(&b);
	t_check(t, strstr(s, "Quarantine: 3 messages, 3000 bytes; viruses in "
	    "2 messages (2 files), blocked attachments in 1 messages (1 "
	    "files)") != NULL && strstr(s, "Traffic: 5 messages judged") !=
	    NULL, "text totals:\n%s", s);
out:
	store_report_free(&r);
	store_close(&st);
	buf_free(&b);
	free(path);
}

/* ---- the index ---- */

static int
count_cb(void *ctx, const struct qmeta *m, struct err *err)
{
	(void)m;
	(void)err;
	(*(size_t *)ctx)++;
	return 0;
}

static void
store_index(struct t *t)
{
	struct qfinding	 f = { "virus", "1", "e.com", "Eicar", "a" };
	static char	*rcpts[] = { "a@x", "b@x", "c@x" };
	struct qmeta	 m, *got = NULL;
	struct store	*st = NULL;
	struct store_query q;
	struct err	 err = ERR_INIT;
	char		*path, *cmd, ids[5][40];
	size_t		 i, n = 0, seen = 0, removed = 0;
	bool		 more = false;

	/* A schema 1 database (as the first release wrote it) is migrated
	 * when opened; a newer one is refused. */
	path = xasprintf("%s/i.sqlite", t_tmpdir(t));
	cmd = xasprintf("sqlite3 '%s' 'CREATE TABLE message(id TEXT); "
	    "PRAGMA user_version = 99'", path);
	t_check(t, t_sh("%s", cmd) == 0, "sqlite3 failed: %s", cmd);
	t_check(t, store_open(path, 0, &st, &err) == -1 &&
	    strstr(err.msg, "newer") != NULL, "schema 99 opened: %s",
	    err.msg);
	free(cmd);
	unlink(path);
	t_check(t, store_open(path, 0, &st, &err) == -1,
	    "a missing database opened without STORE_CREATE");
	if (!t_check(t, store_open(path, STORE_CREATE, &st, &err) == 0,
	    "create: %s", err.msg))
		goto out;
	for (i = 0; i < 5; i++) {
		memset(&m, 0, sizeof m);
		snprintf(ids[i], sizeof ids[i], "20240101T000000Z-%016zx", i);
		m.id = ids[i];
		m.area = i < 3 ? "virus" : "spam";
		m.time = 1704067200 + (int64_t)i * 3600;
		m.sender = "s@x";
		m.rcpts = rcpts;
		m.nrcpts = 3;
		m.findings = &f;
		m.nfindings = 1;
		m.size = 10;
		t_check(t, store_put(st, &m, &err) == 0, "put: %s", err.msg);
	}
	/* the same ID again replaces, never doubles */
	t_check(t, store_put(st, &m, &err) == 0, "put again: %s", err.msg);
	memset(&q, 0, sizeof q);
	t_check(t, store_list(st, &q, count_cb, &seen, &n, &more, &err) ==
	    0 && n == 5 && seen == 5 && !more, "list all: got %zu, want 5",
	    n);
	q.limit = 5;
	seen = 0;
	t_check(t, store_list(st, &q, count_cb, &seen, &n, &more, &err) ==
	    0 && n == 5 && !more, "limit 5 of 5: got %zu more %d", n, more);
	q.limit = 4;
	t_check(t, store_list(st, &q, count_cb, &seen, &n, &more, &err) ==
	    0 && n == 4 && more, "limit 4 of 5: got %zu more %d", n, more);
	q.limit = 0;
	q.area = "spam";
	q.since = 1704067200 + 4 * 3600;
	t_check(t, store_list(st, &q, count_cb, &seen, &n, &more, &err) ==
	    0 && n == 1, "spam since 4h: got %zu, want 1", n);
	t_check(t, store_get(st, ids[2], &got, &err) == QUAR_OK &&
	    got->nrcpts == 3 && str_eq(got->rcpts[2], "c@x") &&
	    got->nfindings == 1 && str_eq(got->findings[0].detail, "Eicar") &&
	    got->released_time == 0, "get: %s", err.msg);
	qmeta_free(&got);
	t_check(t, store_set_released(st, ids[2], 1704100000, "alice",
	    &err) == QUAR_OK && store_get(st, ids[2], &got, &err) ==
	    QUAR_OK && got->released_time == 1704100000 &&
	    str_eq(got->released_by, "alice"), "released state kept");
	qmeta_free(&got);
	t_check(t, store_set_released(st, "nope", 1, "x", &err) ==
	    QUAR_NOTFOUND, "release of a missing ID");
	t_check(t, store_delete(st, ids[0], &err) == QUAR_OK &&
	    store_delete(st, ids[0], &err) == QUAR_NOTFOUND &&
	    store_get(st, ids[0], &got, &err) == QUAR_NOTFOUND,
	    "delete, then not found");
	t_check(t, store_expire(st, 1704067200 + 2 * 3600, count_cb, &seen,
	    &removed, &err) == 0 && removed == 1, "expire: removed %zu, "
	    "want 1 (%s)", removed, err.msg);
out:
	store_close(&st);
	free(path);
}

/* An old quarantine (record files only) is refused, then imported. */
static void
import_records(struct t *t)
{
	struct policy	*pol = load_policy(t, NULL);
	struct verdict	*v;
	struct envelope	 env = envelope("alice@example.net");
	struct qmeta	*list = NULL;
	struct err	 err = ERR_INIT, bad = ERR_INIT;
	char		*id = NULL, *db = NULL;
	size_t		 n = 0, nbad = 0;

	if (pol == NULL)
		return;
	v = virus_verdict(pol, env.sender);
	t_check(t, quarantine_store(pol, "virus", (const unsigned char *)
	    msg_text, strlen(msg_text), &env, v, &id, &err) == 0, "store: %s",
	    err.msg);
	verdict_free(&v);
	quarantine_close_shared();
	db = xasprintf("%s/q/" QUARANTINE_DB_NAME, t_tmpdir(t));
	t_check(t, unlink(db) == 0, "no index at %s", db);
	t_check(t, quarantine_list(pol, NULL, &list, &n, &err) == -1 &&
	    strstr(err.msg, "import") != NULL, "list without an index: %s",
	    err.msg);
	/* The daemon, upgraded, stores before anyone imported: its new
	 * index must not pass for the whole quarantine. */
	v = virus_verdict(pol, env.sender);
	t_check(t, quarantine_store(pol, "virus", (const unsigned char *)
	    msg_text, strlen(msg_text), &env, v, NULL, &err) == 0,
	    "store: %s", err.msg);
	verdict_free(&v);
	quarantine_close_shared();
	t_check(t, quarantine_list(pol, NULL, &list, &n, &err) == -1 &&
	    strstr(err.msg, "import") != NULL, "list of a partial index: %s",
	    err.msg);
	t_check(t, quarantine_import(pol, &n, &nbad, &bad, &err) == 0 &&
	    n == 2 && nbad == 0, "import: %zu, bad %zu: %s %s", n, nbad,
	    err.msg, bad.msg);
	t_check(t, quarantine_list(pol, NULL, &list, &n, &err) == 0 &&
	    n == 2 && id != NULL && (str_eq(list[0].id, id) ||
	    str_eq(list[1].id, id)) && list[0].nrcpts == 2,
	    "list after import: %zu (%s)", n, err.msg);
	qmeta_list_free(&list, n);
	free(db);
	free(id);
	policy_unref(&pol);
}

/* ---- portcullisctl ---- */

/* Runs portcullisctl; its stderr goes to the test log when it fails. */
static int
ctl(struct t *t, const char *ini, const char *args)
{
	int	r = t_sh("'%s' --policy '%s' %s >'%s/ctl.out' 2>'%s/ctl.err'",
		    ctl_path, ini, args, t_tmpdir(t), t_tmpdir(t));

	if (r != 0 && r != 1 && r != 64 && r != 78)
		t_sh("sed 's/^/  .. ctl: /' '%s/ctl.err'", t_tmpdir(t));
	return r;
}

static char *
ctl_out(struct t *t)
{
	char		*p = xasprintf("%s/ctl.out", t_tmpdir(t));
	unsigned char	*s;
	size_t		 len;

	s = t_read_file(p, &len);
	free(p);
	return s != NULL ? (char *)s : xstrdup("");
}

static void
ctl_commands(struct t *t)
{
	struct policy	*pol;
	struct verdict	*v;
	struct envelope	 env = envelope("alice@example.net");
	struct err	 err = ERR_INIT;
	char		*sm, *ini, *ini_path, *id = NULL, *id2 = NULL, *s, *a;
	FILE		*fp;
	int		 r;

	if (access(ctl_path, X_OK) != 0) {
		t_error(t, "no portcullisctl at %s", ctl_path);
		return;
	}
	sm = fake_sendmail(t, "sendmail", record_body);
	ini = xasprintf("[quarantine]\ndirectory = %s/q\n[notify]\n"
	    "sendmail = %s\n", t_tmpdir(t), sm);
	ini_path = xasprintf("%s/p.ini", t_tmpdir(t));
	if ((fp = fopen(ini_path, "w")) != NULL) {
		fputs(ini, fp);
		fclose(fp);
	}
	a = xasprintf("[notify]\nsendmail = %s\n", sm);
	pol = load_policy(t, a);
	free(a);
	if (pol == NULL)
		goto out;
	v = virus_verdict(pol, env.sender);
	t_check(t, quarantine_store(pol, "virus",
	    (const unsigned char *)msg_text, strlen(msg_text), &env, v, &id,
	    &err) == 0 && quarantine_store(pol, "attachment",
	    (const unsigned char *)msg_text, strlen(msg_text), &env, v, &id2,
	    &err) == 0, "store: %s", err.msg);
	verdict_free(&v);
	if (id == NULL || id2 == NULL)
		goto out;

	r = ctl(t, ini_path, "list");
	s = ctl_out(t);
	t_check(t, r == 0 && strstr(s, id) != NULL && strstr(s, id2) != NULL,
	    "list: rc %d\n%s", r, s);
	free(s);
	r = ctl(t, ini_path, "list virus --json");
	s = ctl_out(t);
	t_check(t, r == 0 && strncmp(s, "{\"id\":", 6) == 0 &&
	    strstr(s, id) != NULL && strstr(s, id2) == NULL,
	    "list virus --json: rc %d\n%s", r, s);
	free(s);
	a = xasprintf("show %s", id);
	r = ctl(t, ini_path, a);
	free(a);
	s = ctl_out(t);
	t_check(t, r == 0 && strstr(s, "Eicar-Signature") != NULL &&
	    strstr(s, "Subject: invoice") != NULL, "show: rc %d\n%s", r, s);
	free(s);
	a = xasprintf("show --json %s", id);
	r = ctl(t, ini_path, a);
	free(a);
	s = ctl_out(t);
	t_check(t, r == 0 && strstr(s, "\"area\":\"virus\"") != NULL,
	    "show --json: rc %d\n%s", r, s);
	free(s);
	r = ctl(t, ini_path, "show 20000101T000000Z-00000000000000");
	t_check(t, r == 1, "show missing: rc %d, want 1", r);
	r = ctl(t, ini_path, "show ../../etc/passwd");
	t_check(t, r == 1,
	    "show ../: rc %d, want 1", r);
	r = ctl(t, ini_path, "frobnicate");
	t_check(t, r == 64,
	    "unknown command: rc %d, want 64", r);
	r = ctl(t, ini_path, "show");
	t_check(t, r == 64,
	    "show without ID: rc %d, want 64", r);
	r = ctl(t, ini_path, "delete --json x");
	t_check(t, r == 64,
	    "option not for delete: rc %d, want 64", r);
	r = ctl(t, "/nonexistent/p.ini", "list");
	t_check(t, r == 78,
	    "missing policy: rc %d, want 78", r);

	/* release: to the original recipients, then to a hostile --to */
	a = xasprintf("release %s", id);
	r = ctl(t, ini_path, a);
	free(a);
	s = read_out(t, "stdin");
	t_check(t, r == 0 && s != NULL && strncmp(s, "X-Portcullis-Released: ",
	    23) == 0 && strstr(s, id) != NULL && strstr(s, "Subject: invoice\n")
	    != NULL, "release: rc %d, stdin:\n%s", r, s != NULL ? s : "");
	free(s);
	s = read_out(t, "argc");
	t_check(t, s != NULL && atoi(s) == 6, "release argc %s", s);
	free(s);
	s = read_out(t, "arg2");
	t_check(t, s != NULL && strcmp(s, "alice@example.net") == 0,
	    "release sender %s", s);
	free(s);
	/* Released already: refused (exit 2), unless asked again. */
	a = xasprintf("release %s", id);
	r = ctl(t, ini_path, a);
	free(a);
	t_check(t, r == 2, "release twice: rc %d, want 2", r);
	a = xasprintf("release %s --again --to 'x;touch PWNED@example.com'",
	    id);
	r = ctl(t, ini_path, a);
	free(a);
	s = read_out(t, "arg4");
	t_check(t, r == 0 && s != NULL &&
	    strcmp(s, "x;touch PWNED@example.com") == 0,
	    "release --to: rc %d, arg %s", r, s);
	free(s);

	/* report, delete, expire */
	r = ctl(t, ini_path, "report --html");
	s = ctl_out(t);
	t_check(t, r == 0 && strstr(s, "<svg") != NULL, "report --html: rc %d",
	    r);
	free(s);
	r = ctl(t, ini_path, "report --json --days 1");
	s = ctl_out(t);
	t_check(t, r == 0 && strstr(s, "\"messages\":2") != NULL,
	    "report --json: rc %d\n%s", r, s);
	free(s);
	a = xasprintf("delete %s", id);
	r = ctl(t, ini_path, a);
	t_check(t, r == 0, "delete: rc %d", r);
	r = ctl(t, ini_path, a);
	t_check(t, r == 1, "delete again: rc %d", r);
	free(a);
	r = ctl(t, ini_path, "expire");
	t_check(t, r == 0, "expire: rc %d", r);
	r = ctl(t, ini_path, "expire --days 0");
	s = ctl_out(t);
	t_check(t, r == 0 && strstr(s, "expired 1 record") != NULL,
	    "expire --days 0: rc %d\n%s", r, s);
	free(s);
out:
	free(id);
	free(id2);
	free(sm);
	free(ini);
	free(ini_path);
	policy_unref(&pol);
}

static const struct t_case cases[] = {
	T_CASE(store_list_load_delete),
	T_CASE(bad_names),
	T_CASE(store_fails_cleanly),
	T_CASE(unique_ids),
	T_CASE(expire),
	T_CASE(meta_round_trip),
	T_CASE(meta_bad_input),
	T_CASE(notify_who_gets_what),
	T_CASE(notify_bytes),
	T_CASE(notify_no_injection),
	T_CASE(release_bytes),
	T_CASE(released_recognised),
	T_CASE(send_argv_is_not_a_shell),
	T_CASE(send_failures),
	T_CASE(send_refuses_bad_input),
	T_CASE(report_counts),
	T_CASE(store_index),
	T_CASE(import_records),
	T_CASE(ctl_commands),
};

int
main(int argc, char **argv)
{
	char	*self = xstrdup(argv[0]);
	char	*env = getenv("PORTCULLISCTL");

	/* The test runs from the build tree: test/unit/ -> ../../ */
	if (env != NULL)
		snprintf(ctl_path, sizeof ctl_path, "%s", env);
	else
		snprintf(ctl_path, sizeof ctl_path, "%s/../../portcullisctl",
		    dirname(self));
	free(self);
	return t_main(argc, argv, cases, T_NCASES(cases));
}
