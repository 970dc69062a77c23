/* test/unit/test-policy.c - the policy loader: values, defaults, every
 * error class with its exact message and line, overrides, the shipped file
 * and its reference. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "magic.h"
#include "mime.h"
#include "notify.h"
#include "policy.h"
#include "scan.h"
#include "t.h"

struct err_case {
	const char	*name;
	const char	*text;
	const char	*want;		/* the whole error report */
};

static const struct err_case err_cases[] = {
	{ "unknown section", "[bogus]\na = 1\nb = 2\n",
	    "t.ini:2: [bogus]: unknown section\n" },
	{ "unknown key", "[limits]\nfoo = 1\n",
	    "t.ini:2: [limits] foo: unknown key\n" },
	{ "bad size", "[limits]\nmessage_size = 20Q\n",
	    "t.ini:2: [limits] message_size: \"20Q\" is not a valid size "
	    "(like 512K, 20M, 1G)\n" },
	{ "bad time", "[limits]\nscan_time = soon\n",
	    "t.ini:2: [limits] scan_time: \"soon\" is not a valid time "
	    "(like 500ms, 30s, 5m, 48h)\n" },
	{ "bad bool", "[antivirus]\nenabled = maybe\n",
	    "t.ini:2: [antivirus] enabled: \"maybe\" is not a valid yes/no "
	    "value\n" },
	{ "out of range", "[limits]\narchive_depth = 65\n",
	    "t.ini:2: [limits] archive_depth: \"65\" is out of range (0..64)\n" },
	{ "duplicate key", "[limits]\nattachments = 5\n\n[limits]\n"
	    "attachments = 6\n",
	    "t.ini:5: [limits] attachments: duplicate key\n" },
	{ "undefined action", "[rules]\nvirus = quarantine-it\n",
	    "t.ini:2: [rules] virus: action \"quarantine-it\" is not "
	    "defined\n" },
	{ "unknown rule", "[rules]\nspam = reject\n",
	    "t.ini:2: [rules] spam: unknown rule\n" },
	{ "syntax", "[limits]\nattachments 5\n",
	    "t.ini:2: syntax error: expected \"key = value\"\n" },
	{ "unclosed section", "[limits\nattachments = 5\n",
	    "t.ini:1: [limits: section header without ']'\n" },
	{ "discard needs quarantine", "[action:drop]\ndisposition = discard\n",
	    "t.ini:2: [action:drop]: disposition discard needs a quarantine "
	    "area\n" },
	{ "reply class", "[action:r]\ndisposition = reject\n"
	    "reply = 451 4.7.1 later\n",
	    "t.ini:3: [action:r] reply: a reject needs a 5xx code\n" },
	{ "reply format", "[action:r]\ndisposition = reject\n"
	    "reply = 554 4.7.1 mismatch\n",
	    "t.ini:3: [action:r] reply: \"554 4.7.1 mismatch\": want "
	    "\"4xx 4.x.x text\" or \"5xx 5.x.x text\"\n" },
	{ "builtin redefined", "[action:reject]\ndisposition = accept\n",
	    "t.ini:2: [action:reject]: \"reject\" is a built-in action and "
	    "cannot be redefined\n" },
	{ "unknown type", "[attachments]\nblocked_types = exe-pe nonsense\n",
	    "t.ini:2: [attachments] blocked_types: unknown true type "
	    "\"nonsense\"\n" },
	{ "bare inet port", "[daemon]\nsocket = inet:8899\n",
	    "-o: [daemon] socket: \"inet:8899\": name the address "
	    "(inet:PORT@127.0.0.1); a bare port listens on every interface\n" },
	{ "metrics_listen: a name", "[daemon]\nmetrics_listen = localhost:9113\n",
	    "t.ini:2: [daemon] metrics_listen: \"localhost:9113\" is not a "
	    "numeric ADDRESS:PORT (like 127.0.0.1:9113 or [::1]:9113)\n" },
	{ "five mistakes, one run",
	    "[limits]\nmessage_size = 20Q\nattachments = 0\nbogus = 1\n"
	    "[rules]\nvirus = nope\n[nosuch]\nx = y\n",
	    "t.ini:2: [limits] message_size: \"20Q\" is not a valid size "
	    "(like 512K, 20M, 1G)\n"
	    "t.ini:3: [limits] attachments: \"0\" is out of range "
	    "(1..100000)\n"
	    "t.ini:4: [limits] bogus: unknown key\n"
	    "t.ini:6: [rules] virus: action \"nope\" is not defined\n"
	    "t.ini:8: [nosuch]: unknown section\n" },
	{ "overlay: unknown key", "[policy:p]\nbogus = 1\n",
	    "t.ini:2: [policy:p] bogus: unknown key (an overlay sets [limits] "
	    "and [attachments] keys, RULE, inbound.RULE, outbound.RULE, "
	    "content.NAME or action.NAME.KEY)\n" },
	{ "overlay: key of another section", "[policy:p]\nsocket = x\n",
	    "t.ini:2: [policy:p] socket: unknown key (an overlay sets [limits] "
	    "and [attachments] keys, RULE, inbound.RULE, outbound.RULE, "
	    "content.NAME or action.NAME.KEY)\n" },
	{ "overlay: unknown rule", "[policy:p]\noutbound.spam = tag\n",
	    "t.ini:2: [policy:p] outbound.spam: unknown rule\n" },
	{ "overlay: undefined action, once", "[policy:p]\nvirus = nope\n",
	    "t.ini:2: [policy:p] virus: action \"nope\" is not defined\n" },
	{ "overlay: bad value", "[policy:p]\n\nmessage_size = big\n",
	    "t.ini:3: [policy:p] message_size: \"big\" is not a valid size "
	    "(like 512K, 20M, 1G)\n" },
	{ "overlay: envelope limit", "[policy:p]\nrecipients = 5\n",
	    "t.ini:2: [policy:p] recipients: cannot differ by overlay "
	    "(enforced before the recipients are known)\n" },
	{ "overlay: action key", "[policy:p]\naction.x = 1\n"
	    "action.reject.reply = 550 5.7.1 no\n",
	    "t.ini:2: [policy:p] action.x: want action.NAME.KEY\n"
	    "t.ini:3: [policy:p] action.reject.reply: \"reject\" is a "
	    "built-in action and cannot be redefined\n" },
	{ "overlay: duplicate key", "[policy:p]\nvirus = tag\nvirus = hold\n",
	    "t.ini:3: [policy:p] virus: duplicate key\n" },
	{ "overlay: reserved name", "[policy:default]\nvirus = tag\n",
	    "t.ini:2: [policy:default]: bad policy name \"default\" (letters, "
	    "digits, - and _; \"default\" is the base policy)\n" },
	{ "select: undefined overlay", "[policy:p]\nvirus = tag\n"
	    "[select:inbound]\na.example = p\nb.example = q\n",
	    "t.ini:5: [select:inbound] b.example: policy \"q\" is not defined "
	    "(no [policy:q])\n" },
	{ "select: bad key and duplicate", "[select:outbound]\n@x = default\n"
	    "a@b = default\nA@b = default\na@b = default\n",
	    "t.ini:2: [select:outbound] @x: want an address, a domain or "
	    ".domain\n"
	    "t.ini:5: [select:outbound] a@b: duplicate key\n" },
	{ "overlay: unknown content rule", "[content:inv]\nheader = Subject\n"
	    "pattern = x\n[policy:p]\ncontent.inv = tag\n"
	    "content.nosuch = tag\n",
	    "t.ini:6: [policy:p] content.nosuch: no content rule \"nosuch\" "
	    "(the file has no [content:nosuch])\n" },
	{ "overlay: content rule, one direction, undefined action",
	    "[content:inv]\nheader = Subject\npattern = x\n[policy:p]\n"
	    "inbound.content.inv = nope\noutbound.content. = tag\n",
	    "t.ini:5: [policy:p] inbound.content.inv: action \"nope\" is not "
	    "defined\n"
	    "t.ini:6: [policy:p] outbound.content.: no content rule \"\" (the "
	    "file has no [content:])\n" },
	{ "off: only content rules", "[rules]\nvirus = off\n[policy:p]\n"
	    "encrypted = off\n",
	    "t.ini:2: [rules] virus: only a content rule can be off; give "
	    "accept (the finding is still listed)\n"
	    "t.ini:4: [policy:p] encrypted: only a content rule can be off; "
	    "give accept (the finding is still listed)\n" },
	{ "off: not an action name", "[action:off]\ndisposition = accept\n",
	    "t.ini:2: [action:off]: \"off\" is reserved (it switches a "
	    "content rule off)\n" },
	{ "select: unknown map", "[select:sideways]\nx = default\n",
	    "t.ini:2: [select:sideways]: unknown section (want select:inbound "
	    "or select:outbound)\n" },
};

static void
errors_reported(struct t *t)
{
	size_t	i;

	for (i = 0; i < T_NCASES(err_cases); i++) {
		const struct err_case	*c = &err_cases[i];
		struct policy		*pol = NULL;
		char			*errs = NULL;
		int			 r;

		r = policy_load_string(c->text, "t.ini", NULL, 0, &pol, &errs);
		if (!t_check(t, r == -1 && pol == NULL, "%s: got %d, want -1",
		    c->name, r)) {
			policy_unref(&pol);
			continue;
		}
		t_check(t, errs != NULL && strcmp(errs, c->want) == 0,
		    "%s: got \"%s\", want \"%s\"", c->name,
		    errs != NULL ? errs : "(null)", c->want);
		free(errs);
	}
}

static void
long_lines_keep_line_numbers(struct t *t)
{
	char		 text[4096];
	char		 pad[1500];
	struct policy	*pol = NULL;
	char		*errs = NULL;

	memset(pad, 'x', sizeof pad - 1);
	pad[sizeof pad - 1] = '\0';
	snprintf(text, sizeof text, "[tagging]\nsubject_tag = %s\n"
	    "[limits]\nattachments = lots\n", pad);
	t_check(t, policy_load_string(text, "t.ini", NULL, 0, &pol,
	    &errs) == -1, "got success, want an error");
	t_check(t, errs != NULL && strncmp(errs, "t.ini:4: ", 9) == 0,
	    "got \"%s\", want line 4", errs != NULL ? errs : "(null)");
	free(errs);
}

static void
values_and_defaults(struct t *t)
{
	struct policy	*pol = NULL;
	char		*errs = NULL;
	const char	*text =
	    "; comment\n[limits]\nmessage_size = 10M\nscan_time = 90s\n"
	    "archive_member_size = 512K\n"
	    "[attachments]\nblocked_extensions = .EXE, scr\n    *.Js\n"
	    "[direction]\ninternal_networks = 10.0.0.0/8 2001:db8::/32\n"
	    "[rules]\nvirus = hold\n[rules:outbound]\nblocked_extension = "
	    "strip\n";

	if (!t_check(t, policy_load_string(text, "t.ini", NULL, 0, &pol,
	    &errs) == 0, "load: %s", errs != NULL ? errs : "")) {
		free(errs);
		return;
	}
	t_check(t, pol->message_size == 10u * 1024 * 1024, "message_size "
	    "got %llu", (unsigned long long)pol->message_size);
	t_check(t, pol->scan_time_ms == 90000, "scan_time got %llu",
	    (unsigned long long)pol->scan_time_ms);
	t_check(t, pol->archive_member_size == 512 * 1024, "member size");
	t_check(t, pol->attachments == 20, "default attachments got %u, "
	    "want 20", pol->attachments);
	t_check(t, pol->archive_depth == 10, "default archive_depth");
	t_check(t, pol->decoded_size == 128ull * 1024 * 1024,
	    "default decoded_size");
	t_check(t, pol->blocked_extensions.n == 3 &&
	    strcmp(pol->blocked_extensions.v[0], "exe") == 0 &&
	    strcmp(pol->blocked_extensions.v[2], "js") == 0,
	    "extensions normalised across a continuation line: got %zu",
	    pol->blocked_extensions.n);
	t_check(t, pol->ninternal_networks == 2 &&
	    pol->internal_networks[1].prefix == 32, "networks");
	t_check(t, strcmp(pol->rules[DIR_INBOUND][RULE_VIRUS]->name,
	    "hold") == 0, "inbound virus action");
	t_check(t, strcmp(pol->rules[DIR_OUTBOUND][RULE_VIRUS]->name,
	    "hold") == 0, "outbound inherits inbound");
	t_check(t, strcmp(pol->rules[DIR_OUTBOUND][RULE_BLOCKED_EXTENSION]
	    ->name, "strip") == 0, "outbound override");
	t_check(t, strcmp(pol->rules[DIR_INBOUND][RULE_TIME_LIMIT]->name,
	    "tempfail") == 0, "time limits tempfail by default");
	t_check(t, strcmp(pol->rules[DIR_INBOUND][RULE_ERROR]->name,
	    "tempfail") == 0, "errors tempfail by default");
	policy_unref(&pol);
}

static void
overrides(struct t *t)
{
	struct policy		*pol = NULL;
	char			*errs = NULL;
	struct policy_override	 ok[] = {
		{ "limits.attachments", "3" },
		{ "action:q.disposition", "hold" },
		{ "rules.virus", "q" },
	};
	struct policy_override	 bad[] = { { "limits.attachments", "x" } };

	t_check(t, policy_load_string("[limits]\nattachments = 7\n", "t.ini",
	    ok, 3, &pol, &errs) == 0, "overrides: %s", errs ? errs : "");
	if (pol != NULL) {
		t_check(t, pol->attachments == 3, "got %u, want 3",
		    pol->attachments);
		t_check(t, strcmp(pol->rules[DIR_INBOUND][RULE_VIRUS]->name,
		    "q") == 0, "-o defines and uses an action");
	}
	policy_unref(&pol);
	free(errs);
	errs = NULL;
	t_check(t, policy_load_string("", "t.ini", bad, 1, &pol, &errs) == -1,
	    "bad override accepted");
	t_check(t, errs != NULL && strcmp(errs, "-o: [limits] attachments: "
	    "\"x\" is not a valid number\n") == 0, "got \"%s\"",
	    errs != NULL ? errs : "");
	free(errs);
}

static void
shipped_policy_and_reference(struct t *t)
{
	char		 path[512], line[512];
	struct policy	*pol = NULL;
	char		*errs = NULL, *ref, *ini, *dump = NULL;
	size_t		 len, dlen = 0;
	FILE		*fp;

	snprintf(path, sizeof path, "%s/policy/portcullis.ini", t_srcdir());
	t_check(t, policy_load(path, NULL, 0, &pol, &errs) == 0,
	    "shipped policy: %s", errs != NULL ? errs : "");
	free(errs);
	policy_unref(&pol);

	/* Every key of the table is in the shipped file and documented. */
	snprintf(path, sizeof path, "%s/policy/README.md", t_srcdir());
	ref = (char *)t_read_file(path, &len);
	snprintf(path, sizeof path, "%s/policy/portcullis.ini", t_srcdir());
	ini = (char *)t_read_file(path, &len);
	if (!t_check(t, ref != NULL && ini != NULL, "cannot read reference"))
		goto out;
	fp = open_memstream(&dump, &dlen);
	policy_dump_keys(fp);
	fclose(fp);
	fp = fmemopen(dump, dlen, "r");
	while (fgets(line, sizeof line, fp) != NULL) {
		char *eq = strstr(line, " = "), needle[600];

		if (eq == NULL)
			continue;
		*eq = '\0';
		snprintf(needle, sizeof needle, "`%s`", line);
		t_check(t, strstr(ref, needle) != NULL,
		    "policy/README.md does not document %s", line);
		snprintf(needle, sizeof needle, "\n%s =", line);
		if (strstr(ini, needle) == NULL) {
			snprintf(needle, sizeof needle, "\n; %s =", line);
			t_check(t, strstr(ini, needle) != NULL,
			    "policy/portcullis.ini does not show %s", line);
		} else
			t_check(t, true, "shown");
	}
	fclose(fp);
out:
	free(dump);
	free(ref);
	free(ini);
}

static void
refcount(struct t *t)
{
	struct policy	*pol = NULL, *p2;
	char		*errs = NULL;

	t_check(t, policy_load(NULL, NULL, 0, &pol, &errs) == 0,
	    "defaults load");
	p2 = policy_ref(pol);
	policy_unref(&pol);
	t_check(t, pol == NULL && p2->refs == 1, "unref nulls the pointer");
	policy_unref(&p2);
	policy_unref(&p2);	/* NULL is fine */
	t_check(t, policy_load("/nonexistent/p.ini", NULL, 0, &pol,
	    &errs) == -1 && errs != NULL && strstr(errs, "cannot open") !=
	    NULL, "missing file: %s", errs != NULL ? errs : "");
	free(errs);
}

/* Overlays: complete policies of their own; the base stays as written. */
static void
overlay_values(struct t *t)
{
	struct policy		*pol = NULL;
	const struct policy	*p, *q;
	char			*errs = NULL;
	const char		*text =
	    "[limits]\nattachments = 7\n"
	    "[action:tag-partner]\ndisposition = tag\nsubject_tag = [P]\n"
	    "[rules:outbound]\nvirus = hold\n"
	    "[policy:partner]\nblocked_extension = tag-partner\n"
	    "attachments = 30\nblocked_extensions = exe\n"
	    "[policy:strict]\ninbound.virus = tempfail\n"
	    "action.tag-partner.subject_tag = [S]\n"
	    "outbound.encrypted = tag\n";

	if (!t_check(t, policy_load_string(text, "t.ini", NULL, 0, &pol,
	    &errs) == 0, "load: %s", errs != NULL ? errs : "")) {
		free(errs);
		return;
	}
	p = policy_overlay(pol, "partner");
	q = policy_overlay(pol, "strict");
	t_check(t, pol->noverlays == 2 && p != NULL && q != NULL,
	    "got %zu overlays, want partner and strict", pol->noverlays);
	t_check(t, strcmp(pol->name, "default") == 0 &&
	    policy_overlay(pol, "default") == pol, "base is \"default\"");
	t_check(t, policy_overlay(pol, "nosuch") == NULL, "unknown name");
	if (p == NULL || q == NULL)
		goto out;
	t_check(t, policy_overlay(p, "partner") == p, "an overlay finds itself");
	t_check(t, pol->attachments == 7 && p->attachments == 30 &&
	    q->attachments == 7, "attachments: got %u/%u/%u, want 7/30/7",
	    pol->attachments, p->attachments, q->attachments);
	t_check(t, pol->blocked_extensions.n > 10 &&
	    p->blocked_extensions.n == 1, "blocked_extensions: got %zu/%zu",
	    pol->blocked_extensions.n, p->blocked_extensions.n);
	t_check(t, strcmp(pol->rules[DIR_INBOUND][RULE_BLOCKED_EXTENSION]->name,
	    "reject") == 0, "base rule untouched");
	t_check(t, strcmp(p->rules[DIR_INBOUND][RULE_BLOCKED_EXTENSION]->name,
	    "tag-partner") == 0 && strcmp(p->rules[DIR_OUTBOUND]
	    [RULE_BLOCKED_EXTENSION]->name, "tag-partner") == 0,
	    "a bare RULE sets both directions");
	t_check(t, strcmp(p->rules[DIR_OUTBOUND][RULE_VIRUS]->name,
	    "hold") == 0, "the base's [rules:outbound] holds in overlays");
	t_check(t, strcmp(q->rules[DIR_INBOUND][RULE_VIRUS]->name,
	    "tempfail") == 0 && strcmp(q->rules[DIR_OUTBOUND][RULE_VIRUS]->name,
	    "hold") == 0, "inbound.virus: got %s/%s, want tempfail/hold",
	    q->rules[DIR_INBOUND][RULE_VIRUS]->name,
	    q->rules[DIR_OUTBOUND][RULE_VIRUS]->name);
	t_check(t, strcmp(q->rules[DIR_INBOUND][RULE_ENCRYPTED]->name,
	    "reject") == 0 && strcmp(q->rules[DIR_OUTBOUND][RULE_ENCRYPTED]
	    ->name, "tag") == 0, "outbound.encrypted only outbound");
	t_check(t, strcmp(policy_action(q, "tag-partner")->subject_tag,
	    "[S]") == 0 && strcmp(policy_action(pol, "tag-partner")
	    ->subject_tag, "[P]") == 0, "action.NAME.KEY in the overlay only");
	t_check(t, p->overrides.n == 3 && strcmp(p->overrides.v[0],
	    "blocked_extension = tag-partner") == 0, "overrides: got %zu",
	    p->overrides.n);
out:
	policy_unref(&pol);
}

/* content.NAME in overlays: an action or off, per direction; the file's
 * [content:NAME] action may be off too, and an overlay switch it on. */
static void
overlay_content_rules(struct t *t)
{
	static const struct {
		const char	*policy, *rule;
		const char	*want_in, *want_out;	/* action, "off", or
							 * "-" = [rules] */
	} cases[] = {
		{ "default", "inv", "hold", "hold" },
		{ "default", "wire", "-", "tag" },
		{ "default", "dormant", "off", "off" },
		{ "partner", "inv", "accept", "accept" },
		{ "partner", "wire", "off", "off" },
		{ "partner", "dormant", "reject", "reject" },
		{ "split", "inv", "off", "hold" },
		{ "split", "wire", "-", "accept" },
		{ "split", "dormant", "off", "tag" },
	};
	struct policy		*pol = NULL;
	char			*errs = NULL;
	size_t			 i, j;
	int			 d;
	const char		*text =
	    "[content:inv]\nheader = Subject\npattern = invoice\n"
	    "action = hold\n"
	    "[content:wire]\nbody = yes\npattern = wire\n"
	    "action_outbound = tag\n"
	    "[content:dormant]\nheader = Subject\npattern = x\n"
	    "action = off\n"
	    "[policy:partner]\ncontent.inv = accept\ncontent.wire = off\n"
	    "content.dormant = reject\n"
	    "[policy:split]\ninbound.content.inv = off\n"
	    "outbound.content.wire = accept\n"
	    "outbound.content.dormant = tag\n";

	if (!t_check(t, policy_load_string(text, "t.ini", NULL, 0, &pol,
	    &errs) == 0, "load: %s", errs != NULL ? errs : "")) {
		free(errs);
		return;
	}
	for (i = 0; i < T_NCASES(cases); i++) {
		const struct policy		*p = policy_overlay(pol,
		    cases[i].policy);
		const struct content_rule	*c = NULL;

		if (!t_check(t, p != NULL, "%s: no policy", cases[i].policy))
			continue;
		for (j = 0; j < p->ncontent; j++)
			if (strcmp(p->content[j].name, cases[i].rule) == 0)
				c = &p->content[j];
		if (!t_check(t, c != NULL && p->ncontent == 3, "%s: rule %s "
		    "missing or %zu rules", cases[i].policy, cases[i].rule,
		    p->ncontent))
			continue;
		for (d = 0; d < DIR__N; d++) {
			const char *want = d == DIR_INBOUND ?
			    cases[i].want_in : cases[i].want_out;
			const char *got = c->off[d] ? "off" :
			    c->action[d] == NULL ? "-" : c->action[d]->name;

			t_check(t, strcmp(got, want) == 0, "%s %s %s: got %s, "
			    "want %s", cases[i].policy, cases[i].rule,
			    direction_str(d), got, want);
		}
	}
	policy_unref(&pol);
}

/* A content rule judged under the overlay that changes it. */
static void
overlay_content_scan(struct t *t)
{
	static const char	 msg[] =
	    "From: a@partner.example\r\nTo: x@example.com\r\n"
	    "Subject: invoice 42\r\n\r\nsee the invoice\r\n";
	static const struct {
		const char	*name;
		const char	*policy;	/* env.policy */
		int		 direction;
		enum disposition want;
		bool		 want_finding;
	} cases[] = {
		{ "the file's action", "default", DIR_INBOUND, DISP_HOLD, true },
		{ "overlay: accept, still listed", "partner", DIR_INBOUND,
		    DISP_ACCEPT, true },
		{ "overlay: off, not applied", "quiet", DIR_INBOUND,
		    DISP_ACCEPT, false },
		{ "overlay: off inbound only, inbound", "half", DIR_INBOUND,
		    DISP_ACCEPT, false },
		{ "overlay: off inbound only, outbound", "half", DIR_OUTBOUND,
		    DISP_HOLD, true },
	};
	struct policy		*pol = NULL;
	struct typer		*typer = NULL;
	struct scan_deps	 deps;
	struct err		 err = ERR_INIT;
	char			*errs = NULL;
	size_t			 i;

	mime_init();
	if (!t_check(t, typer_new(&typer, &err) == 0, "typer: %s", err.msg))
		return;
	if (!t_check(t, policy_load_string("[antivirus]\nenabled = no\n"
	    "[content:invoices]\nheader = Subject\npattern = invoice [0-9]\n"
	    "action = hold\n"
	    "[policy:partner]\ncontent.invoices = accept\n"
	    "[policy:quiet]\ncontent.invoices = off\n"
	    "[policy:half]\ninbound.content.invoices = off\n", "t.ini", NULL,
	    0, &pol, &errs) == 0, "load: %s", errs != NULL ? errs : "")) {
		free(errs);
		typer_free(&typer);
		return;
	}
	memset(&deps, 0, sizeof deps);
	deps.typer = typer;
	for (i = 0; i < T_NCASES(cases); i++) {
		const char *const	 rcpt[] = { "x@example.com" };
		struct envelope		 env;
		struct verdict		*v = NULL;

		memset(&env, 0, sizeof env);
		env.sender = "a@partner.example";
		env.rcpts = rcpt;
		env.nrcpts = 1;
		env.direction = cases[i].direction;
		env.policy = cases[i].policy;
		if (!t_check(t, scan_message(pol, &deps, &env,
		    (const unsigned char *)msg, sizeof msg - 1, &v, &err) == 0,
		    "%s: scan: %s", cases[i].name, err.msg))
			continue;
		t_check(t, v->disposition == cases[i].want, "%s: got %s, want %s",
		    cases[i].name, disposition_str(v->disposition),
		    disposition_str(cases[i].want));
		t_check(t, verdict_has(v, RULE_CONTENT) ==
		    cases[i].want_finding, "%s: content finding got %s, want %s",
		    cases[i].name, t_findings(v),
		    cases[i].want_finding ? "one" : "none");
		verdict_free(&v);
	}
	policy_unref(&pol);
	typer_free(&typer);
}

struct select_case {
	const char	*name;
	enum direction	 dir;
	const char	*rcpt, *sender, *auth;
	const char	*want;		/* policy name */
	const char	*want_key;	/* NULL = no match */
};

static const struct select_case select_cases[] = {
	{ "address before domain", DIR_INBOUND, "boss@partner.example", NULL,
	    NULL, "vip", "boss@partner.example" },
	{ "domain", DIR_INBOUND, "x@partner.example", NULL, NULL, "partner",
	    "partner.example" },
	{ "case and brackets", DIR_INBOUND, "<X@Partner.EXAMPLE>", NULL, NULL,
	    "partner", "partner.example" },
	{ "exact domain before .parent", DIR_INBOUND, "x@a.sub.example",
	    NULL, NULL, "default", "a.sub.example" },
	{ ".parent for subdomains", DIR_INBOUND, "x@b.c.sub.example", NULL,
	    NULL, "vip", ".sub.example" },
	{ ".parent for the domain itself", DIR_INBOUND, "x@sub.example", NULL,
	    NULL, "vip", ".sub.example" },
	{ "no match", DIR_INBOUND, "x@elsewhere.example", NULL, NULL,
	    "default", NULL },
	{ "no domain", DIR_INBOUND, "postmaster", NULL, NULL, "default",
	    NULL },
	{ "inbound ignores the sender", DIR_INBOUND, "x@other.example",
	    "alice@example.com", NULL, "default", NULL },
	{ "outbound: sender", DIR_OUTBOUND, "x@partner.example",
	    "alice@example.com", NULL, "partner", "alice@example.com" },
	{ "outbound: user before sender", DIR_OUTBOUND, NULL,
	    "alice@example.com", "bob", "vip", "bob" },
	{ "outbound: sender domain", DIR_OUTBOUND, NULL, "carol@example.com",
	    "nobody", "vip", "example.com" },
	{ "outbound: bounce", DIR_OUTBOUND, NULL, "", NULL, "default", NULL },
};

static void
overlay_select(struct t *t)
{
	struct policy			*pol = NULL;
	const struct policy		*p;
	const struct policy_select	*ps;
	char				*errs = NULL;
	size_t				 i;
	const char			*text =
	    "[policy:partner]\nvirus = tag\n"
	    "[policy:vip]\nvirus = hold\n"
	    "[select:inbound]\n.sub.example = vip\npartner.example = partner\n"
	    "Boss@partner.example = vip\na.sub.example = default\n"
	    "[select:outbound]\nalice@example.com = partner\nbob = vip\n"
	    "example.com = vip\n";

	if (!t_check(t, policy_load_string(text, "t.ini", NULL, 0, &pol,
	    &errs) == 0, "load: %s", errs != NULL ? errs : "")) {
		free(errs);
		return;
	}
	for (i = 0; i < T_NCASES(select_cases); i++) {
		const struct select_case *c = &select_cases[i];

		p = policy_select(pol, c->dir, c->rcpt, c->sender, c->auth,
		    &ps);
		t_check(t, strcmp(p->name, c->want) == 0, "%s: got %s, want %s",
		    c->name, p->name, c->want);
		t_check(t, c->want_key == NULL ? ps == NULL : ps != NULL &&
		    strcmp(ps->key, c->want_key) == 0, "%s: key got %s, want %s",
		    c->name, ps != NULL ? ps->key : "(none)",
		    c->want_key != NULL ? c->want_key : "(none)");
	}
	policy_unref(&pol);
}

/* The message is judged by its overlay, which names itself. */
static void
overlay_scan(struct t *t)
{
	static const char	 msg[] =
	    "From: a@example.net\r\nTo: x@partner.example\r\n"
	    "Subject: s\r\nMIME-Version: 1.0\r\n"
	    "Content-Type: multipart/mixed; boundary=B\r\n\r\n"
	    "--B\r\nContent-Type: text/plain\r\n\r\nhi\r\n"
	    "--B\r\nContent-Type: application/octet-stream\r\n"
	    "Content-Disposition: attachment; filename=\"x.exe\"\r\n\r\n"
	    "just text\r\n--B--\r\n";
	static const struct {
		const char	*name;
		const char	*rcpt;
		const char	*policy;	/* env.policy */
		int		 want_r;
		enum disposition want;
		const char	*want_summary;	/* a substring, NULL = none */
	} cases[] = {
		{ "selected by recipient", "x@partner.example", NULL, 0,
		    DISP_TAG, "; policy=partner" },
		{ "base", "x@other.example", NULL, 0, DISP_REJECT, NULL },
		{ "named by the job", "x@other.example", "partner", 0,
		    DISP_TAG, "; policy=partner" },
		{ "named default", "x@partner.example", "default", 0,
		    DISP_REJECT, NULL },
		{ "named, since removed", "x@partner.example", "gone", -1,
		    DISP_ACCEPT, NULL },
	};
	struct policy		*pol = NULL;
	struct typer		*typer = NULL;
	struct scan_deps	 deps;
	struct err		 err = ERR_INIT;
	char			*errs = NULL;
	size_t			 i;

	mime_init();
	if (!t_check(t, typer_new(&typer, &err) == 0, "typer: %s", err.msg))
		return;
	if (!t_check(t, policy_load_string("[antivirus]\nenabled = no\n"
	    "[policy:partner]\nblocked_extension = tag\n"
	    "[select:inbound]\npartner.example = partner\n", "t.ini", NULL, 0,
	    &pol, &errs) == 0, "load: %s", errs != NULL ? errs : "")) {
		free(errs);
		typer_free(&typer);
		return;
	}
	memset(&deps, 0, sizeof deps);
	deps.typer = typer;
	for (i = 0; i < T_NCASES(cases); i++) {
		const char *const	 rcpt[] = { cases[i].rcpt };
		struct envelope		 env;
		struct verdict		*v = NULL;
		int			 r;

		memset(&env, 0, sizeof env);
		env.sender = "a@example.net";
		env.rcpts = rcpt;
		env.nrcpts = 1;
		env.direction = -1;
		env.policy = cases[i].policy;
		r = scan_message(pol, &deps, &env, (const unsigned char *)msg,
		    sizeof msg - 1, &v, &err);
		t_check(t, r == cases[i].want_r, "%s: got %d, want %d (%s)",
		    cases[i].name, r, cases[i].want_r, r == -1 ? err.msg : "");
		if (r == -1) {
			t_check(t, strstr(err.msg, "\"gone\" is not defined") !=
			    NULL, "%s: error got \"%s\"", cases[i].name,
			    err.msg);
			continue;
		}
		t_check(t, v->disposition == cases[i].want, "%s: got %s, want %s",
		    cases[i].name, disposition_str(v->disposition),
		    disposition_str(cases[i].want));
		t_check(t, cases[i].want_summary != NULL ?
		    strstr(v->summary, cases[i].want_summary) != NULL :
		    strstr(v->summary, "policy=") == NULL,
		    "%s: X-Portcullis got \"%s\"", cases[i].name, v->summary);
		verdict_free(&v);
	}
	policy_unref(&pol);
	typer_free(&typer);
}

/* Writes text to dir/name. */
static void
put_file(struct t *t, const char *dir, const char *name, const char *text)
{
	char	 path[512];
	FILE	*fp;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	if ((fp = fopen(path, "w")) == NULL) {
		t_error(t, "cannot write %s", path);
		return;
	}
	fputs(text, fp);
	fclose(fp);
}

/* Template files: loaded, checked (file:line), falling back to nothing. */
static void
templates_checked(struct t *t)
{
	const char	*dir = t_tmpdir(t);
	struct policy	*pol = NULL;
	char		*errs = NULL, text[2048], want[2048];
	const struct notify_text *nt;
	const struct action *a;

	put_file(t, dir, "sender.en", "Subject: Refused: %RULE%\n\n"
	    "The attachment (%FILENAME%) was infected with a virus and "
	    "removed.\n\n");
	put_file(t, dir, "sender.de", "Subject: Abgelehnt: %RULE% \xc3\xa4\n"
	    "\nDer Anhang (%FILENAME%) wurde entfernt.\n");
	put_file(t, dir, "admin", "No subject line: %RULE% %OUTCOME%\n");
	put_file(t, dir, "strip", "Removed: %FILENAME% (%RULE%)\n");
	put_file(t, dir, "bad", "Subject: fine %RULE%\n\nline two\n"
	    "line %NOPE% and 100%% and %OUTCOME%\n");
	snprintf(text, sizeof text, "[notify]\ntemplate_dir = %s\n"
	    "languages = en de\nsender_template = sender.%%LANG%%\n"
	    "admin_template = admin\n"
	    "[action:strip-it]\ndisposition = strip\n"
	    "replacement_file = strip\n", dir);
	if (!t_check(t, policy_load_string(text, "t.ini", NULL, 0, &pol,
	    &errs) == 0, "load: %s", errs != NULL ? errs : "")) {
		free(errs);
		return;
	}
	nt = policy_notify_text(pol, NOTIFY_SENDER, "de");
	t_check(t, nt != NULL && strcmp(nt->lang, "de") == 0 &&
	    strcmp(nt->subject, "Abgelehnt: %RULE% \xc3\xa4") == 0 &&
	    strcmp(nt->body, "Der Anhang (%FILENAME%) wurde entfernt.") == 0,
	    "de: got %s / %s", nt != NULL ? nt->subject : "(none)",
	    nt != NULL ? nt->body : "");
	nt = policy_notify_text(pol, NOTIFY_SENDER, "fr");
	t_check(t, nt != NULL && strcmp(nt->lang, "en") == 0,
	    "an unknown language gets the first: got %s",
	    nt != NULL ? nt->lang : "(none)");
	nt = policy_notify_text(pol, NOTIFY_ADMIN, NULL);
	t_check(t, nt != NULL && nt->subject == NULL &&
	    strcmp(nt->body, "No subject line: %RULE% %OUTCOME%") == 0,
	    "admin: one file, the built-in subject");
	t_check(t, policy_notify_text(pol, NOTIFY_RECIPIENTS, "en") == NULL,
	    "recipients: no template, the built-in text");
	a = policy_action(pol, "strip-it");
	t_check(t, a != NULL && strcmp(a->replacement,
	    "Removed: %FILENAME% (%RULE%)") == 0, "replacement_file: got %s",
	    a != NULL ? a->replacement : "(none)");
	policy_unref(&pol);

	/* every problem, with the template's own line where it has one */
	snprintf(text, sizeof text, "[notify]\ntemplate_dir = %s\n"
	    "languages = en fr\nsender_template = sender.%%LANG%%\n"
	    "recipients_template = bad\n"
	    "[action:strip-it]\ndisposition = strip\n"
	    "replacement_file = bad\n", dir);
	snprintf(want, sizeof want,
	    "t.ini:4: [notify] sender_template: %s/sender.fr: No such file "
	    "or directory\n"
	    "t.ini:5: [notify] recipients_template: \"bad\" names no "
	    "%%LANG%% although [notify] languages is set\n"
	    "%s/bad:4: unknown variable %%NOPE%% (known: %%FILENAME%% "
	    "%%VIRUS%% %%RULE%% %%DETAIL%% %%PART%% %%QUEUEID%% %%SENDER%%)\n"
	    "%s/bad:4: unknown variable %%OUTCOME%% (known: %%FILENAME%% "
	    "%%VIRUS%% %%RULE%% %%DETAIL%% %%PART%% %%QUEUEID%% %%SENDER%%)\n",
	    dir, dir, dir);
	t_check(t, policy_load_string(text, "t.ini", NULL, 0, &pol,
	    &errs) == -1, "bad templates accepted");
	t_check(t, errs != NULL && strcmp(errs, want) == 0,
	    "got \"%s\", want \"%s\"", errs != NULL ? errs : "(null)", want);
	free(errs);
	policy_unref(&pol);
}

/* The notices built from the templates, in the message's language. */
static void
templates_in_notices(struct t *t)
{
	static const char	 msg_de[] = "From: alice@example.net\r\n"
	    "Content-Language: de-DE\r\nSubject: s\r\n\r\nhi\r\n";
	static const char	 msg_en[] = "From: alice@example.net\r\n"
	    "Subject: s\r\n\r\nhi\r\n";
	const char		*dir = t_tmpdir(t);
	const char *const	 rcpt[] = { "bob@example.com" };
	struct policy		*pol = NULL;
	struct envelope		 env;
	char			*errs = NULL, text[1024];
	int			 k;

	put_file(t, dir, "n.en", "Subject: Refused: %RULE%\n\n"
	    "The attachment (%FILENAME%) was removed; the message "
	    "%OUTCOME%.\n");
	put_file(t, dir, "n.de", "Subject: Abgelehnt: %RULE% \xc3\xa4\n\n"
	    "Der Anhang (%FILENAME%) wurde entfernt. Gr\xc3\xbc\xc3\x9f"
	    "e\n");
	snprintf(text, sizeof text, "[notify]\ntemplate_dir = %s\n"
	    "server_tag =\nlanguages = en de\nsender_template = n.%%LANG%%\n",
	    dir);
	if (!t_check(t, policy_load_string(text, "t.ini", NULL, 0, &pol,
	    &errs) == 0, "load: %s", errs != NULL ? errs : "")) {
		free(errs);
		return;
	}
	memset(&env, 0, sizeof env);
	env.sender = "alice@example.net";
	env.rcpts = rcpt;
	env.nrcpts = 1;
	env.queue_id = "4QID1";
	for (k = 0; k < 2; k++) {
		const char		*m = k == 0 ? msg_en : msg_de;
		struct verdict		*v = verdict_new(DIR_INBOUND);
		struct notification	*l = NULL;
		struct err		 err = ERR_INIT;
		size_t			 n = 0, i;
		const char		*got;

		verdict_add(v, pol, RULE_BLOCKED_EXTENSION, "2", "x.exe",
		    "extension .exe");
		verdict_finish(v, env.queue_id, env.sender);
		v->notify = NOTIFY_SENDER | NOTIFY_RECIPIENTS;
		if (!t_check(t, notify_build(pol, &env, v,
		    (const unsigned char *)m, strlen(m), NULL, &l, &n,
		    &err) == 0 && n == 2, "build: n=%zu %s", n, err.msg)) {
			verdict_free(&v);
			continue;
		}
		for (i = 0; i < n; i++) {
			got = buf_cstr(&l[i].message);
			if (l[i].who == NOTIFY_RECIPIENTS) {
				t_check(t, strstr(got, "A message to you was "
				    "refused") != NULL, "recipients: built-in "
				    "text expected:\n%s", got);
				continue;
			}
			if (k == 0)
				t_check(t, strstr(got, "\nSubject: Refused: "
				    "blocked_extension\n") != NULL &&
				    strstr(got, "The attachment (x.exe) was "
				    "removed; the message was refused.\n") !=
				    NULL && strstr(got, "charset=us-ascii") !=
				    NULL, "en notice:\n%s", got);
			else
				t_check(t, strstr(got, "\nSubject: =?UTF-8?B?"
				    "QWJnZWxlaG50OiBibG9ja2VkX2V4dGVuc2lvbiDD"
				    "pA==?=\n") != NULL && strstr(got,
				    "Der Anhang (x.exe) wurde entfernt. "
				    "Gr\xc3\xbc\xc3\x9f" "e") != NULL &&
				    strstr(got, "charset=utf-8\n"
				    "Content-Transfer-Encoding: 8bit") != NULL,
				    "de notice:\n%s", got);
		}
		notify_list_free(&l, n);
		verdict_free(&v);
	}
	policy_unref(&pol);
}

/* [daemon] metrics_listen values: split, or refused. */
static void
listen_values(struct t *t)
{
	static const struct {
		const char	*in;
		int		 want;
		const char	*addr;
		unsigned	 port;
	} c[] = {
		{ "127.0.0.1:9113", 0, "127.0.0.1", 9113 },
		{ "0.0.0.0:0", 0, "0.0.0.0", 0 },
		{ "[::1]:9113", 0, "::1", 9113 },
		{ "127.0.0.1:65535", 0, "127.0.0.1", 65535 },
		{ "127.0.0.1:65536", -1, NULL, 0 },
		{ "127.0.0.1:99999999999999999999", -1, NULL, 0 },
		{ "127.0.0.1:", -1, NULL, 0 },
		{ "127.0.0.1:91x", -1, NULL, 0 },
		{ "127.0.0.1", -1, NULL, 0 },
		{ ":9113", -1, NULL, 0 },
		{ "::1:9113", -1, NULL, 0 },
		{ "[::1]9113", -1, NULL, 0 },
		{ "[127.0.0.1]:9113", -1, NULL, 0 },
		{ "localhost:9113", -1, NULL, 0 },
	};
	char		addr[64];
	unsigned	port;
	size_t		i;
	int		r;

	for (i = 0; i < sizeof c / sizeof c[0]; i++) {
		addr[0] = '\0';
		port = 12345;
		r = policy_listen_parse(c[i].in, addr, sizeof addr, &port);
		if (!t_check(t, r == c[i].want, "%s: got %d, want %d",
		    c[i].in, r, c[i].want) || r != 0)
			continue;
		t_check(t, strcmp(addr, c[i].addr) == 0 && port == c[i].port,
		    "%s: got %s port %u, want %s port %u", c[i].in, addr, port,
		    c[i].addr, c[i].port);
	}
}

static const struct t_case cases[] = {
	T_CASE(listen_values),
	T_CASE(templates_checked),
	T_CASE(templates_in_notices),
	T_CASE(overlay_values),
	T_CASE(overlay_select),
	T_CASE(overlay_scan),
	T_CASE(overlay_content_rules),
	T_CASE(overlay_content_scan),
	T_CASE(errors_reported),
	T_CASE(long_lines_keep_line_numbers),
	T_CASE(values_and_defaults),
	T_CASE(overrides),
	T_CASE(shipped_policy_and_reference),
	T_CASE(refcount),
};

int
main(int argc, char **argv)
{
	return t_main(argc, argv, cases, T_NCASES(cases));
}
