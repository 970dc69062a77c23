/* test/unit/test-policy.c - the policy loader: values, defaults, every
 * error class with its exact message and line, overrides, the shipped file
 * and its reference. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"
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

static const struct t_case cases[] = {
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
