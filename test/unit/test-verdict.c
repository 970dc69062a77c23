/*
 * test/unit/test-verdict.c - verdict_pack/verdict_unpack: a verdict made by
 * scan_message() survives the trip between processes (findings, actions by
 * name, reply, edits, explain), and truncated, corrupted or foreign input
 * is refused, never read past its end.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "magic.h"
#include "mime.h"
#include "policy.h"
#include "scan.h"
#include "t.h"
#include "verdict.h"

static const char *const ini =
    "[antivirus]\nenabled = no\n"
    "[action:reject-x]\ndisposition = reject\nquarantine = xq\n"
    "notify = admin\nreply = 554 5.7.1 no %FILENAME%\n"
    "[rules]\nblocked_extension = reject-x\n";

static const char *const msg =
    "From: a@example.net\r\nTo: b@example.com\r\nSubject: s\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n"
    "--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n"
    "--b\r\nContent-Type: application/octet-stream; name=\"x.exe\"\r\n"
    "Content-Disposition: attachment; filename=\"x.exe\"\r\n\r\n"
    "MZ\r\n--b--\r\n";

static struct typer	*typer;

static struct verdict *
judge(struct t *t, struct policy *pol)
{
	struct scan_deps	deps;
	struct envelope		env;
	struct verdict		*v = NULL;
	struct err		err = ERR_INIT;

	memset(&deps, 0, sizeof deps);
	memset(&env, 0, sizeof env);
	env.direction = -1;
	deps.explain = true;
	if (typer == NULL && typer_new(&typer, &err) == -1)
		t_error(t, "typer_new: %s", err.msg);
	deps.typer = typer;
	if (scan_message(pol, &deps, &env, (const unsigned char *)msg,
	    strlen(msg), &v, &err) == -1)
		t_error(t, "scan_message: %s", err.msg);
	return v;
}

static void
t_roundtrip(struct t *t)
{
	struct policy	*pol = NULL;
	struct verdict	*v, *w = NULL;
	struct buf	 b = BUF_INIT, b2 = BUF_INIT;
	struct err	 err = ERR_INIT;
	char		*errs = NULL;
	size_t		 i;

	if (!t_check(t, policy_load_string(ini, "t.ini", NULL, 0, &pol,
	    &errs) == 0, "policy: %s", errs != NULL ? errs : ""))
		return;
	v = judge(t, pol);
	if (v == NULL)
		goto out;
	verdict_add_header_edit(v, "Content-Type", "text/plain");
	t_check(t, verdict_pack(v, &b, &err) == 0, "pack: %s", err.msg);
	t_check(t, verdict_unpack(b.data, b.len, pol, &w, &err) == 0,
	    "unpack: %s", err.msg);
	if (w == NULL)
		goto out;
	t_check(t, w->disposition == v->disposition, "disposition: got %s, "
	    "want %s", disposition_str(w->disposition),
	    disposition_str(v->disposition));
	t_check(t, w->action == v->action, "decisive action: got %s, want %s",
	    w->action != NULL ? w->action->name : "-",
	    v->action != NULL ? v->action->name : "-");
	t_check(t, w->nfindings == v->nfindings && w->nfindings > 0,
	    "findings: got %zu, want %zu", w->nfindings, v->nfindings);
	for (i = 0; i < w->nfindings && i < v->nfindings; i++)
		t_check(t, w->findings[i].rule == v->findings[i].rule &&
		    w->findings[i].action == v->findings[i].action &&
		    strcmp(w->findings[i].part, v->findings[i].part) == 0,
		    "finding %zu: got %s/%s, want %s/%s", i,
		    rule_str(w->findings[i].rule), w->findings[i].part,
		    rule_str(v->findings[i].rule), v->findings[i].part);
	t_check(t, w->reply != NULL && v->reply != NULL &&
	    strcmp(w->reply, v->reply) == 0, "reply: got %s, want %s",
	    w->reply != NULL ? w->reply : "NULL",
	    v->reply != NULL ? v->reply : "NULL");
	t_check(t, w->quarantine != NULL && strcmp(w->quarantine, "xq") == 0,
	    "quarantine: got %s, want xq", w->quarantine != NULL ?
	    w->quarantine : "NULL");
	t_check(t, w->notify == v->notify, "notify: got %u, want %u",
	    w->notify, v->notify);
	t_check(t, strcmp(w->summary, v->summary) == 0, "summary: got %s, "
	    "want %s", w->summary, v->summary);
	t_check(t, w->nheader_edits == 1 && w->header_edits[0].value != NULL &&
	    strcmp(w->header_edits[0].value, "text/plain") == 0,
	    "header edits: got %zu", w->nheader_edits);
	t_check(t, w->nexplain == v->nexplain, "explain: got %zu, want %zu",
	    w->nexplain, v->nexplain);
	/* packing what was unpacked gives the same bytes */
	t_check(t, verdict_pack(w, &b2, &err) == 0 && b2.len == b.len &&
	    memcmp(b2.data, b.data, b.len) == 0, "repack differs (%zu vs %zu "
	    "bytes)", b2.len, b.len);
out:
	verdict_free(&v);
	verdict_free(&w);
	buf_free(&b);
	buf_free(&b2);
	policy_unref(&pol);
}

/* Every truncation and a flipped byte at every offset: refused or read
 * within bounds (ASan watches), never a crash. */
static void
t_damaged(struct t *t)
{
	struct policy	*pol = NULL;
	struct verdict	*v, *w = NULL;
	struct buf	 b = BUF_INIT;
	struct err	 err = ERR_INIT;
	unsigned char	*copy;
	char		*errs = NULL;
	size_t		 cut, bad = 0;

	if (!t_check(t, policy_load_string(ini, "t.ini", NULL, 0, &pol,
	    &errs) == 0, "policy: %s", errs != NULL ? errs : ""))
		return;
	v = judge(t, pol);
	if (v == NULL || verdict_pack(v, &b, &err) == -1)
		goto out;
	for (cut = 0; cut < b.len; cut++) {
		copy = malloc(cut + 1);		/* exact size for ASan */
		memcpy(copy, b.data, cut);
		if (verdict_unpack(copy, cut, pol, &w, &err) == 0) {
			bad++;
			verdict_free(&w);
		}
		free(copy);
	}
	t_check(t, bad == 0, "%zu truncations accepted, want 0", bad);
	copy = malloc(b.len);
	for (cut = 0; cut < b.len; cut++) {
		memcpy(copy, b.data, b.len);
		copy[cut] ^= 0xa5;
		if (verdict_unpack(copy, b.len, pol, &w, &err) == 0)
			verdict_free(&w);
	}
	memcpy(copy, b.data, b.len);
	copy[3] = VERDICT_PACK_VERSION + 1;
	t_check(t, verdict_unpack(copy, b.len, pol, &w, &err) == -1 &&
	    strstr(err.msg, "version") != NULL, "another version: got \"%s\"",
	    err.msg);
	free(copy);
out:
	verdict_free(&v);
	buf_free(&b);
	policy_unref(&pol);
}

/* An action the receiving policy does not have: the rule's action there. */
static void
t_unknown_action(struct t *t)
{
	struct policy	*pol = NULL, *other = NULL;
	struct verdict	*v, *w = NULL;
	struct buf	 b = BUF_INIT;
	struct err	 err = ERR_INIT;
	char		*errs = NULL;

	if (!t_check(t, policy_load_string(ini, "t.ini", NULL, 0, &pol,
	    &errs) == 0, "policy") || !t_check(t, policy_load_string(
	    "[antivirus]\nenabled = no\n", "o.ini", NULL, 0, &other, &errs) ==
	    0, "other policy"))
		goto out;
	v = judge(t, pol);
	if (v != NULL && verdict_pack(v, &b, &err) == 0 &&
	    verdict_unpack(b.data, b.len, other, &w, &err) == 0) {
		t_check(t, w->findings[0].action ==
		    other->rules[w->direction][w->findings[0].rule],
		    "fallback action: got %s", w->findings[0].action != NULL ?
		    w->findings[0].action->name : "NULL");
		t_check(t, w->action != NULL && w->action->disposition ==
		    DISP_REJECT, "decisive: got %s", w->action != NULL ?
		    w->action->name : "NULL");
	} else
		t_error(t, "pack/unpack: %s", err.msg);
	verdict_free(&v);
	verdict_free(&w);
out:
	buf_free(&b);
	policy_unref(&pol);
	policy_unref(&other);
}

static const struct t_case cases[] = {
	T_CASE(t_roundtrip),
	T_CASE(t_damaged),
	T_CASE(t_unknown_action),
};

int
main(int argc, char **argv)
{
	int	r;

	mime_init();
	r = t_main(argc, argv, cases, T_NCASES(cases));
	typer_free(&typer);
	mime_shutdown();
	return r;
}
