/*
 * test/unit/test-scan.c - the library entry point, scan_message(), on
 * messages built here: verdicts, limits at N and N+1, strip output that
 * re-parses, render, direction, filter order, and faults injected through
 * a fake scanner (the only fake: the real libclamav is tested in test-av).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <gmime/gmime.h>

#include "magic.h"
#include "mime.h"
#include "scan.h"
#include "t.h"

/* ---- the fake scanner: "EVIL" is a virus, "FAIL" a scanner error ---- */

struct fake {
	unsigned	calls;
	unsigned	sleep_ms;
};

static int
fake_scan(void *ctx, const unsigned char *buf, size_t len, const char *name,
    unsigned flags, struct av_result *res, struct err *err)
{
	struct fake	*f = ctx;

	(void)name;
	(void)flags;
	f->calls++;
	if (f->sleep_ms != 0)
		usleep(f->sleep_ms * 1000);
	memset(res, 0, sizeof *res);
	if (memmem(buf, len, "FAIL", 4) != NULL)
		return err_set(err, "scanner exploded");
	if (memmem(buf, len, "EVIL", 4) != NULL) {
		res->status = AV_VIRUS;
		snprintf(res->name, sizeof res->name, "Fake.Evil");
	}
	return 0;
}

/* ---- building messages ---- */

struct part {
	const char	*ctype;
	const char	*filename;	/* NULL = none */
	const char	*body;		/* raw content */
	size_t		 len;		/* 0 = strlen */
};

static void
b64(struct buf *b, const unsigned char *p, size_t n)
{
	gchar	*s = g_base64_encode(p, n);
	size_t	 i, l = strlen(s);

	for (i = 0; i < l; i += 76) {
		buf_append(b, s + i, l - i < 76 ? l - i : 76);
		buf_puts(b, "\r\n");
	}
	g_free(s);
}

static char *
multipart(const struct part *parts, size_t n, const char *extra_headers)
{
	struct buf	b = BUF_INIT;
	size_t		i;

	buf_printf(&b, "From: a@example.net\r\nTo: b@example.com\r\n"
	    "Subject: test\r\n%sMIME-Version: 1.0\r\nContent-Type: "
	    "multipart/mixed; boundary=\"BOUND\"\r\n\r\npreamble\r\n",
	    extra_headers != NULL ? extra_headers : "");
	for (i = 0; i < n; i++) {
		size_t len = parts[i].len != 0 ? parts[i].len :
		    strlen(parts[i].body);

		buf_printf(&b, "--BOUND\r\nContent-Type: %s\r\n",
		    parts[i].ctype);
		if (parts[i].filename != NULL)
			buf_printf(&b, "Content-Disposition: attachment; "
			    "filename=\"%s\"\r\n", parts[i].filename);
		buf_puts(&b, "Content-Transfer-Encoding: base64\r\n\r\n");
		b64(&b, (const unsigned char *)parts[i].body, len);
	}
	buf_puts(&b, "--BOUND--\r\n");
	return buf_cstr(&b);
}

static const char plain[] = "From: a@example.net\r\nTo: b@example.com\r\n"
    "Subject: hello\r\n\r\nJust text that mentions setup.exe.\r\n";

/* A minimal PE: enough for the true-type detector. */
static size_t
fake_pe(unsigned char *p, size_t cap)
{
	memset(p, 0, cap);
	p[0] = 'M';
	p[1] = 'Z';
	p[0x3c] = 0x80;
	memcpy(p + 0x80, "PE\0\0", 4);
	p[0x84] = 0x4c;
	p[0x85] = 0x01;
	return cap;
}

struct env_opts {
	int		 direction;
	const char	*auth;
	const char	*client;
};

static struct policy	*held;

static struct verdict *
judge(struct t *t, const char *ini, const struct policy_override *ov,
    size_t nov, struct fake *fake, const void *msg, size_t len, int *r_r,
    const struct env_opts *eo)
{
	struct policy		*pol = NULL;
	char			*errs = NULL;
	struct scan_deps	 deps;
	struct envelope		 env;
	struct verdict		*v = NULL;
	struct err		 err = ERR_INIT;
	static struct typer	*typer;
	const char *const	 rcpt[] = { "b@example.com" };
	int			 r;

	if (typer == NULL && typer_new(&typer, &err) == -1) {
		t_error(t, "typer_new: %s", err.msg);
		return NULL;
	}
	if (policy_load_string(ini != NULL ? ini : "", "t.ini", ov, nov, &pol,
	    &errs) == -1) {
		t_error(t, "policy: %s", errs);
		free(errs);
		return NULL;
	}
	memset(&deps, 0, sizeof deps);
	deps.typer = typer;
	deps.explain = true;
	deps.av_scan = fake != NULL ? fake_scan : NULL;
	deps.av_ctx = fake;
	memset(&env, 0, sizeof env);
	env.sender = "a@example.net";
	env.rcpts = rcpt;
	env.nrcpts = 1;
	env.direction = eo != NULL ? eo->direction : -1;
	env.auth_user = eo != NULL ? eo->auth : NULL;
	env.client_addr = eo != NULL ? eo->client : NULL;
	r = scan_message(pol, &deps, &env, msg, len, &v, &err);
	if (r == -1)
		v = scan_error_verdict(pol, &env, err.msg);
	if (r_r != NULL)
		*r_r = r;
	/* Findings point into the policy: it lives until the next judge(). */
	policy_unref(&held);
	held = pol;
	return v;
}

static bool
has(const struct verdict *v, enum rule rule, const char *part)
{
	size_t	i;

	for (i = 0; v != NULL && i < v->nfindings; i++)
		if (v->findings[i].rule == rule && (part == NULL ||
		    strcmp(v->findings[i].part, part) == 0))
			return true;
	return false;
}


static void
plain_text_accepted(struct t *t)
{
	struct fake	 f = { 0, 0 };
	struct verdict	*v = judge(t, NULL, NULL, 0, &f, plain, strlen(plain),
	    NULL, NULL);

	T_CHECK_DISP(t, v, DISP_ACCEPT);
	t_check(t, v != NULL && v->nfindings == 0 && v->scanned &&
	    strcmp(v->summary, "clean") == 0, "summary got %s",
	    v ? v->summary : "-");
	t_check(t, f.calls == 1, "scanner calls got %u, want 1", f.calls);
	verdict_free(&v);
}

static void
blocked_attachment_rejected(struct t *t)
{
	unsigned char	 pe[512];
	struct part	 parts[] = {
		{ "text/plain", NULL, "see attached", 0 },
		{ "application/pdf", "invoice.pdf", (char *)pe, fake_pe(pe,
		    sizeof pe) },
		{ "application/octet-stream", "run.exe", "harmless", 0 },
	};
	char		*msg = multipart(parts, 3, NULL);
	struct fake	 f = { 0, 0 };
	struct verdict	*v = judge(t, NULL, NULL, 0, &f, msg, strlen(msg),
	    NULL, NULL);

	T_CHECK_DISP(t, v, DISP_REJECT);
	t_check(t, has(v, RULE_BLOCKED_TYPE, "2"), "exe renamed .pdf: %s",
	    t_findings(v));
	t_check(t, has(v, RULE_BLOCKED_EXTENSION, "3"), ".exe name: %s",
	    t_findings(v));
	t_check(t, f.calls == 0, "antivirus skipped after a reject, got %u "
	    "calls", f.calls);
	t_check(t, v != NULL && v->reply != NULL &&
	    strncmp(v->reply, "554 5.7.1 ", 10) == 0, "reply got %s",
	    v && v->reply ? v->reply : "none");
	verdict_free(&v);
	free(msg);
}

static void
antivirus_first_order(struct t *t)
{
	struct part	 parts[] = {
		{ "application/octet-stream", "a.exe", "EVIL", 0 },
	};
	char		*msg = multipart(parts, 1, NULL);
	struct fake	 f = { 0, 0 };
	struct verdict	*v = judge(t, "[order]\nfilters = antivirus "
	    "attachments\n", NULL, 0, &f, msg, strlen(msg), NULL, NULL);

	T_CHECK_DISP(t, v, DISP_REJECT);
	t_check(t, has(v, RULE_VIRUS, "1") && !has(v, RULE_BLOCKED_EXTENSION,
	    NULL), "virus first, attachments skipped: %s", t_findings(v));
	t_check(t, v != NULL && v->nfindings > 0 && strcmp(
	    v->findings[0].detail, "Fake.Evil") == 0, "virus name");
	verdict_free(&v);
	free(msg);
}

static void
scanner_failure_tempfails(struct t *t)
{
	struct part	 parts[] = { { "application/pdf", "a.pdf", "FAIL", 0 } };
	char		*msg = multipart(parts, 1, NULL);
	struct fake	 f = { 0, 0 };
	int		 r = 0;
	struct verdict	*v = judge(t, NULL, NULL, 0, &f, msg, strlen(msg), &r,
	    NULL);

	t_check(t, r == -1, "scan_message got %d, want -1", r);
	T_CHECK_DISP(t, v, DISP_TEMPFAIL);
	t_check(t, has(v, RULE_ERROR, NULL) && v->reply != NULL &&
	    v->reply[0] == '4', "error rule with a 4xx: %s",
	    v && v->reply ? v->reply : "none");
	t_check(t, v != NULL && strstr(v->summary, "clean") == NULL,
	    "never clean: %s", v ? v->summary : "-");
	verdict_free(&v);
	v = judge(t, NULL, NULL, 0, NULL, plain, strlen(plain), &r, NULL);
	t_check(t, r == -1 && v != NULL && v->disposition == DISP_TEMPFAIL,
	    "no scanner loaded: got %d", r);
	verdict_free(&v);
	free(msg);
}

static void
stale_signatures_tag(struct t *t)
{
	struct policy		*pol = NULL;
	char			*errs = NULL;
	struct scan_deps	 deps;
	struct envelope		 env;
	struct verdict		*v = NULL;
	struct err		 err = ERR_INIT;
	struct fake		 f = { 0, 0 };
	struct buf		 out = BUF_INIT;

	t_check(t, policy_load_string("", "t.ini", NULL, 0, &pol, &errs) == 0,
	    "policy");
	memset(&deps, 0, sizeof deps);
	deps.av_scan = fake_scan;
	deps.av_ctx = &f;
	deps.now = 1000000;
	deps.av_db_time = 1000000 - 49 * 3600;
	memset(&env, 0, sizeof env);
	env.direction = -1;
	t_check(t, scan_message(pol, &deps, &env, (const void *)plain,
	    strlen(plain), &v, &err) == 0, "scan");
	T_CHECK_DISP(t, v, DISP_TAG);
	t_check(t, has(v, RULE_STALE_SIGNATURES, NULL), "stale: %s",
	    t_findings(v));
	if (v != NULL) {
		message_render((const void *)plain, strlen(plain), v, "mx",
		    &out);
		t_check(t, strstr(buf_cstr(&out), "Subject: [SUSPICIOUS] hello"
		    "\r\n") != NULL, "subject tagged: %s", buf_cstr(&out));
	}
	verdict_free(&v);
	deps.av_db_time = 1000000 - 47 * 3600;
	t_check(t, scan_message(pol, &deps, &env, (const void *)plain,
	    strlen(plain), &v, &err) == 0, "scan");
	T_CHECK_DISP(t, v, DISP_ACCEPT);
	verdict_free(&v);
	buf_free(&out);
	policy_unref(&pol);
}

/* Re-parses a rendered message and returns its leaf count (-1 = bad). */
static int
reparse_leaves(const struct buf *b, struct t *t)
{
	GMimeStream	*st = g_mime_stream_mem_new_with_buffer(
	    (const char *)b->data, b->len);
	GMimeParser	*p = g_mime_parser_new_with_stream(st);
	GMimeMessage	*m = g_mime_parser_construct_message(p, NULL);
	GMimePartIter	*it;
	int		 n = 0;

	g_object_unref(st);
	g_object_unref(p);
	if (!t_check(t, m != NULL, "rendered message does not parse"))
		return -1;
	it = g_mime_part_iter_new(GMIME_OBJECT(m));
	if (GMIME_IS_MULTIPART(g_mime_message_get_mime_part(m))) {
		do {
			if (GMIME_IS_PART(g_mime_part_iter_get_current(it)))
				n++;
		} while (g_mime_part_iter_next(it));
	} else
		n = 1;
	g_mime_part_iter_free(it);
	g_object_unref(m);
	return n;
}

static void
strip_multipart(struct t *t)
{
	unsigned char		 pe[512];
	struct part		 parts[] = {
		{ "text/plain", NULL, "Hello, the report is attached.", 0 },
		{ "application/octet-stream", "tool.exe", (char *)pe,
		    fake_pe(pe, sizeof pe) },
		{ "text/plain", "notes.txt", "keep me", 0 },
	};
	char			*msg = multipart(parts, 3,
	    "X-Portcullis: clean (forged)\r\n");
	struct policy_override	 ov[] = {
		{ "rules.blocked_extension", "strip" },
		{ "rules.blocked_type", "strip" },
	};
	struct fake		 f = { 0, 0 };
	struct verdict		*v = judge(t, NULL, ov, 2, &f, msg,
	    strlen(msg), NULL, NULL);
	struct buf		 out = BUF_INIT;
	char			*s, *exe_b64 = g_base64_encode(pe, 60);

	T_CHECK_DISP(t, v, DISP_STRIP);
	t_check(t, v != NULL && v->modified && v->new_body != NULL &&
	    v->nheader_edits == 0, "body replaced, top headers kept");
	if (v == NULL || v->new_body == NULL)
		goto out;
	message_render((const void *)msg, strlen(msg), v, "mx.test", &out);
	s = buf_cstr(&out);
	t_check(t, strstr(s, exe_b64) == NULL, "executable bytes gone");
	t_check(t, strstr(s, "tool.exe\" was removed") != NULL,
	    "notice present");
	t_check(t, strstr(s, "X-Portcullis: clean (forged)") == NULL,
	    "forged header removed");
	t_check(t, strstr(s, "X-Portcullis: strip; ") != NULL,
	    "our header added: %s", s);
	t_check(t, strstr(s, "a2VlcCBtZQ==") != NULL, "other part intact");
	t_check(t, reparse_leaves(&out, t) == 3, "three leaves after strip");
	t_check(t, memmem(v->new_body, v->new_body_len, "\n", 1) != NULL &&
	    !memmem(v->new_body, v->new_body_len, "\r\r", 2),
	    "CRLF body");
out:
	g_free(exe_b64);
	buf_free(&out);
	verdict_free(&v);
	free(msg);
}

static void
strip_single_part(struct t *t)
{
	const char		*msg = "From: a@example.net\r\nSubject: x\r\n"
	    "Content-Type: application/octet-stream; name=\"a.scr\"\r\n"
	    "Content-Transfer-Encoding: base64\r\n\r\naGVsbG8=\r\n";
	struct policy_override	 ov[] = { { "rules.blocked_extension",
	    "strip" } };
	struct verdict		*v = judge(t, NULL, ov, 1, NULL, msg,
	    strlen(msg), NULL, NULL);
	struct buf		 out = BUF_INIT;

	(void)v;
	verdict_free(&v);
	{
		struct fake f = { 0, 0 };

		v = judge(t, NULL, ov, 1, &f, msg, strlen(msg), NULL, NULL);
	}
	T_CHECK_DISP(t, v, DISP_STRIP);
	t_check(t, v != NULL && v->nheader_edits >= 2 && strcmp(
	    v->header_edits[0].name, "Content-Type") == 0 &&
	    strncmp(v->header_edits[0].value, "text/plain", 10) == 0,
	    "top-level Content-Type replaced");
	if (v != NULL) {
		message_render((const void *)msg, strlen(msg), v, "mx", &out);
		t_check(t, strstr(buf_cstr(&out), "aGVsbG8=") == NULL &&
		    strstr(buf_cstr(&out), "a.scr\" was removed") != NULL &&
		    strstr(buf_cstr(&out), "name=\"a.scr\"") == NULL,
		    "rendered: %s", buf_cstr(&out));
		t_check(t, reparse_leaves(&out, t) == 1, "one leaf");
	}
	buf_free(&out);
	verdict_free(&v);
}

static void
signed_messages_not_stripped(struct t *t)
{
	const char		*msg = "From: a@example.net\r\nMIME-Version: 1.0\r\n"
	    "Content-Type: multipart/signed; protocol=\"application/pgp-"
	    "signature\"; micalg=pgp-sha256; boundary=\"s\"\r\n\r\n--s\r\n"
	    "Content-Type: multipart/mixed; boundary=\"m\"\r\n\r\n--m\r\n"
	    "Content-Type: text/plain\r\n\r\nhi\r\n--m\r\nContent-Type: "
	    "application/octet-stream; name=\"x.exe\"\r\n\r\nzz\r\n--m--\r\n"
	    "--s\r\nContent-Type: application/pgp-signature\r\n\r\nsig\r\n"
	    "--s--\r\n";
	struct policy_override	 ov[] = {
		{ "rules.blocked_extension", "strip" },
		{ "attachments.strip_signed", "yes" },
	};
	struct fake		 f = { 0, 0 };
	struct verdict		*v;

	v = judge(t, NULL, ov, 1, &f, msg, strlen(msg), NULL, NULL);
	T_CHECK_DISP(t, v, DISP_REJECT);
	t_check(t, v != NULL && v->new_body == NULL, "signed: not rewritten");
	verdict_free(&v);
	v = judge(t, NULL, ov, 2, &f, msg, strlen(msg), NULL, NULL);
	T_CHECK_DISP(t, v, DISP_STRIP);
	verdict_free(&v);
}

static void
disclaimer_outbound(struct t *t)
{
	const char		*msg = "From: a@example.net\r\nSubject: s\r\n"
	    "MIME-Version: 1.0\r\nContent-Type: multipart/alternative; "
	    "boundary=\"a\"\r\n\r\n--a\r\nContent-Type: text/plain\r\n\r\n"
	    "Hello\r\n--a\r\nContent-Type: text/html\r\n\r\n<html><body>"
	    "<p>Hello</p></body></html>\r\n--a--\r\n";
	const char		*ini = "[disclaimer]\ntext = Example Ltd.\\n"
	    "Registered in <Nowhere>\n";
	struct env_opts		 out = { DIR_OUTBOUND, NULL, NULL };
	struct env_opts		 in = { DIR_INBOUND, NULL, NULL };
	struct fake		 f = { 0, 0 };
	struct verdict		*v;
	struct buf		 b = BUF_INIT;

	v = judge(t, ini, NULL, 0, &f, msg, strlen(msg), NULL, &in);
	t_check(t, v != NULL && v->new_body == NULL && !v->modified,
	    "inbound: unchanged");
	verdict_free(&v);
	v = judge(t, ini, NULL, 0, &f, msg, strlen(msg), NULL, &out);
	t_check(t, v != NULL && v->disclaimer && v->modified &&
	    v->new_body != NULL, "outbound: disclaimer");
	if (v != NULL && v->new_body != NULL) {
		message_render((const void *)msg, strlen(msg), v, "h", &b);
		t_check(t, strstr(buf_cstr(&b), "Hello\r\n\r\nExample Ltd.\r\n"
		    "Registered in <Nowhere>") != NULL, "plain text: %s",
		    buf_cstr(&b));
		t_check(t, strstr(buf_cstr(&b), "<p>Example Ltd.<br>\r\n"
		    "Registered in &lt;Nowhere&gt;</p>\r\n</body>") != NULL,
		    "html before </body>");
		t_check(t, reparse_leaves(&b, t) == 2, "still two parts");
	}
	buf_free(&b);
	verdict_free(&v);
}

/* Limit at N passes, N+1 is a finding. */
static void
limits_n_and_n_plus_1(struct t *t)
{
	struct part	 three[] = {
		{ "text/plain", "a.txt", "a", 0 },
		{ "text/plain", "b.txt", "b", 0 },
		{ "text/plain", "c.txt", "c", 0 },
	};
	char		 filler[1300];
	char		*msg;
	struct fake	 f = { 0, 0 };
	struct verdict	*v;
	char		 ini[128];
	size_t		 len;

	/* over the 1K minimum of message_size */
	memset(filler, 'x', sizeof filler);
	memcpy(filler, "X-Filler: ", 10);
	memcpy(filler + sizeof filler - 3, "\r\n", 3);
	msg = multipart(three, 3, filler);
	len = strlen(msg);

	v = judge(t, "[limits]\nattachments = 3\n", NULL, 0, &f, msg, len,
	    NULL, NULL);
	T_CHECK_DISP(t, v, DISP_ACCEPT);
	verdict_free(&v);
	v = judge(t, "[limits]\nattachments = 2\n", NULL, 0, &f, msg, len,
	    NULL, NULL);
	t_check(t, has(v, RULE_COUNT_LIMIT, "3"), "3 attachments, limit 2: "
	    "%s", t_findings(v));
	T_CHECK_DISP(t, v, DISP_REJECT);
	verdict_free(&v);

	snprintf(ini, sizeof ini, "[limits]\nmessage_size = %zu\n", len);
	v = judge(t, ini, NULL, 0, &f, msg, len, NULL, NULL);
	T_CHECK_DISP(t, v, DISP_ACCEPT);
	verdict_free(&v);
	snprintf(ini, sizeof ini, "[limits]\nmessage_size = %zu\n", len - 1);
	v = judge(t, ini, NULL, 0, &f, msg, len, NULL, NULL);
	t_check(t, has(v, RULE_SIZE_LIMIT, ""), "size N+1: %s",
	    t_findings(v));
	verdict_free(&v);

	/* attachment_size: parts are 1 byte; minimum limit is 1K */
	free(msg);
	{
		static char	big[1025];
		struct part	p1[] = { { "text/plain", "big.txt", big, 1024 } };
		struct part	p2[] = { { "text/plain", "big.txt", big, 1025 } };

		memset(big, 'x', sizeof big);
		msg = multipart(p1, 1, NULL);
		v = judge(t, "[limits]\nattachment_size = 1K\n", NULL, 0, &f,
		    msg, strlen(msg), NULL, NULL);
		T_CHECK_DISP(t, v, DISP_ACCEPT);
		verdict_free(&v);
		free(msg);
		msg = multipart(p2, 1, NULL);
		v = judge(t, "[limits]\nattachment_size = 1K\n", NULL, 0, &f,
		    msg, strlen(msg), NULL, NULL);
		t_check(t, has(v, RULE_SIZE_LIMIT, "1"), "1025 bytes, limit "
		    "1K: %s", t_findings(v));
		verdict_free(&v);
	}
	free(msg);
}

/* depth levels of multipart/mixed around one text part */
static char *
nested(unsigned depth)
{
	struct buf	b = BUF_INIT;
	unsigned	i;

	buf_puts(&b, "From: a@example.net\r\nMIME-Version: 1.0\r\n");
	for (i = 0; i < depth; i++)
		buf_printf(&b, "Content-Type: multipart/mixed; boundary=\"b%u\""
		    "\r\n\r\n--b%u\r\n", i, i);
	buf_puts(&b, "Content-Type: text/plain\r\n\r\ndeep\r\n");
	for (i = depth; i-- > 0; )
		buf_printf(&b, "--b%u--\r\n", i);
	return buf_cstr(&b);
}

static void
mime_depth_and_parts(struct t *t)
{
	struct fake	 f = { 0, 0 };
	struct verdict	*v;
	char		*msg;
	struct buf	 b = BUF_INIT;
	unsigned	 i;
	uint64_t	 t0;

	/* 4 multipart levels + the leaf = depth 5 */
	msg = nested(4);
	v = judge(t, "[limits]\nmime_depth = 5\n", NULL, 0, &f, msg,
	    strlen(msg), NULL, NULL);
	T_CHECK_DISP(t, v, DISP_ACCEPT);
	verdict_free(&v);
	v = judge(t, "[limits]\nmime_depth = 4\n", NULL, 0, &f, msg,
	    strlen(msg), NULL, NULL);
	t_check(t, has(v, RULE_DEPTH_LIMIT, NULL), "depth 5, limit 4: %s",
	    t_findings(v));
	verdict_free(&v);
	free(msg);

	t0 = clock_ms();
	msg = nested(2000);
	v = judge(t, NULL, NULL, 0, &f, msg, strlen(msg), NULL, NULL);
	t_check(t, has(v, RULE_DEPTH_LIMIT, NULL) && v->disposition ==
	    DISP_REJECT, "2000 levels: %s", t_findings(v));
	verdict_free(&v);
	free(msg);

	buf_puts(&b, "From: a@example.net\r\nMIME-Version: 1.0\r\nContent-Type:"
	    " multipart/mixed; boundary=\"x\"\r\n\r\n");
	for (i = 0; i < 10000; i++)
		buf_puts(&b, "--x\r\nContent-Type: text/plain\r\n\r\nhi\r\n");
	buf_puts(&b, "--x--\r\n");
	v = judge(t, NULL, NULL, 0, &f, b.data, b.len, NULL, NULL);
	t_check(t, has(v, RULE_COUNT_LIMIT, NULL) && v->disposition ==
	    DISP_REJECT, "10000 parts: %s", t_findings(v));
	t_check(t, clock_ms() - t0 < 20000, "bounded time: %llu ms",
	    (unsigned long long)(clock_ms() - t0));
	verdict_free(&v);
	buf_free(&b);
}

static void
hidden_containers(struct t *t)
{
	struct fake	 f = { 0, 0 };
	struct verdict	*v;
	struct buf	 b = BUF_INIT;
	struct buf	 inner = BUF_INIT;
	const char	*uu = "From: a@example.net\r\nSubject: uu\r\n\r\n"
	    "Here it is:\r\n\r\nbegin 644 setup.exe\r\n#35H;&\\`\r\n`\r\nend\r\n";
	const char	*partial = "From: a@example.net\r\nMIME-Version: 1.0\r\n"
	    "Content-Type: message/partial; id=\"abc\"; number=1; total=2\r\n"
	    "\r\nFrom: x\r\n";

	v = judge(t, NULL, NULL, 0, &f, uu, strlen(uu), NULL, NULL);
	t_check(t, has(v, RULE_BLOCKED_EXTENSION, "1/setup.exe"),
	    "uuencoded exe: %s", t_findings(v));
	verdict_free(&v);

	/* a base64-encoded message/rfc822 holding an .exe attachment */
	buf_puts(&inner, "From: x@example.org\r\nMIME-Version: 1.0\r\n"
	    "Content-Type: multipart/mixed; boundary=\"in\"\r\n\r\n--in\r\n"
	    "Content-Type: text/plain\r\n\r\nhi\r\n--in\r\nContent-Type: "
	    "application/octet-stream; name=\"inner.exe\"\r\n\r\nzz\r\n"
	    "--in--\r\n");
	buf_puts(&b, "From: a@example.net\r\nMIME-Version: 1.0\r\nContent-Type:"
	    " multipart/mixed; boundary=\"o\"\r\n\r\n--o\r\nContent-Type: "
	    "text/plain\r\n\r\nfwd\r\n--o\r\nContent-Type: message/rfc822\r\n"
	    "Content-Transfer-Encoding: base64\r\n\r\n");
	b64(&b, inner.data, inner.len);
	buf_puts(&b, "--o--\r\n");
	v = judge(t, NULL, NULL, 0, &f, b.data, b.len, NULL, NULL);
	t_check(t, has(v, RULE_BLOCKED_EXTENSION, "2.2"),
	    "exe in encoded rfc822: %s", t_findings(v));
	verdict_free(&v);

	v = judge(t, NULL, NULL, 0, &f, partial, strlen(partial), NULL, NULL);
	t_check(t, has(v, RULE_PARTIAL, NULL), "message/partial: %s",
	    t_findings(v));
	verdict_free(&v);

	/* broken, but read alike and inspected: delivered and tagged */
	v = judge(t, NULL, NULL, 0, &f, "\x00\x01garbage", 9, NULL, NULL);
	t_check(t, has(v, RULE_MALFORMED, NULL) && v->disposition ==
	    DISP_TAG, "garbage judged: %s", t_findings(v));
	verdict_free(&v);
	buf_free(&b);
	buf_free(&inner);
}

static void
direction(struct t *t)
{
	struct fake		f = { 0, 0 };
	struct verdict		*v;
	struct env_opts		auth = { -1, "alice", NULL };
	struct env_opts		net = { -1, NULL, "10.1.2.3" };
	struct env_opts		ext = { -1, NULL, "192.0.2.1" };
	const char		*ini = "[direction]\ninternal_networks = "
	    "10.0.0.0/8\n";

	v = judge(t, ini, NULL, 0, &f, plain, strlen(plain), NULL, &auth);
	t_check(t, v && v->direction == DIR_OUTBOUND, "authenticated");
	verdict_free(&v);
	v = judge(t, ini, NULL, 0, &f, plain, strlen(plain), NULL, &net);
	t_check(t, v && v->direction == DIR_OUTBOUND, "internal network");
	verdict_free(&v);
	v = judge(t, ini, NULL, 0, &f, plain, strlen(plain), NULL, &ext);
	t_check(t, v && v->direction == DIR_INBOUND, "outside client");
	verdict_free(&v);
}

static void
time_limit_tempfails(struct t *t)
{
	struct part	 parts[] = {
		{ "text/plain", NULL, "one", 0 },
		{ "text/plain", NULL, "two", 0 },
	};
	char		*msg = multipart(parts, 2, NULL);
	struct fake	 f = { 0, 1100 };
	struct verdict	*v = judge(t, "[limits]\nscan_time = 1s\n", NULL, 0,
	    &f, msg, strlen(msg), NULL, NULL);

	t_check(t, has(v, RULE_TIME_LIMIT, NULL), "time: %s",
	    t_findings(v));
	T_CHECK_DISP(t, v, DISP_TEMPFAIL);
	t_check(t, v != NULL && !v->scanned, "not marked scanned");
	verdict_free(&v);
	free(msg);
}

static void
content_rules(struct t *t)
{
	const char	*ini = "[content:pills]\nheader = Subject\npattern = "
	    "v[i1]agra\nnocase = yes\naction = hold\n"
	    "[content:wire]\nbody = yes\npattern = wire (the )?transfer "
	    "urgently\n";
	const char	*hit = "From: a@example.net\r\nSubject: cheap "
	    "VIAGRA\r\n\r\nhello\r\n";
	const char	*body = "From: a@example.net\r\nSubject: hi\r\n"
	    "\r\nPlease wire the transfer urgently.\r\n";
	struct fake	 f = { 0, 0 };
	struct verdict	*v;
	struct policy	*pol = NULL;
	char		*errs = NULL;

	v = judge(t, ini, NULL, 0, &f, hit, strlen(hit), NULL, NULL);
	T_CHECK_DISP(t, v, DISP_HOLD);
	t_check(t, has(v, RULE_CONTENT, ""), "header rule: %s",
	    t_findings(v));
	verdict_free(&v);
	v = judge(t, ini, NULL, 0, &f, body, strlen(body), NULL, NULL);
	T_CHECK_DISP(t, v, DISP_REJECT);		/* [rules] content default */
	t_check(t, has(v, RULE_CONTENT, "1"), "body rule: %s",
	    t_findings(v));
	verdict_free(&v);
	v = judge(t, ini, NULL, 0, &f, plain, strlen(plain), NULL, NULL);
	T_CHECK_DISP(t, v, DISP_ACCEPT);
	verdict_free(&v);
	t_check(t, policy_load_string("[content:x]\nheader = Subject\n"
	    "pattern = (unclosed\n", "t.ini", NULL, 0, &pol, &errs) == -1 &&
	    errs != NULL && strncmp(errs, "t.ini:3: [content:x] pattern: ",
	    30) == 0, "bad pattern: %s", errs != NULL ? errs : "");
	free(errs);
}

/* A verdict stays bounded, and still as severe as its worst finding. */
static void
findings_bounded(struct t *t)
{
	struct policy	*pol = NULL;
	char		*errs = NULL, part[32];
	struct verdict	*v = verdict_new(DIR_INBOUND);
	int		 i;

	if (!t_check(t, policy_load_string("[rules]\nblocked_extension = tag\n"
	    "count_limit = tag\n", "t.ini", NULL, 0, &pol, &errs) == 0,
	    "policy"))
		return;
	for (i = 0; i < 3000; i++) {
		snprintf(part, sizeof part, "2/a.zip/%d.exe", i);
		verdict_add(v, pol, RULE_BLOCKED_EXTENSION, part, "x.exe",
		    "extension .exe");
	}
	verdict_add(v, pol, RULE_VIRUS, "2/a.zip/last.exe", NULL, "Bad.Virus");
	verdict_finish(v, NULL, NULL);
	t_check(t, v->nfindings <= VERDICT_FINDINGS_MAX + 64, "got %zu "
	    "findings, want at most %d", v->nfindings,
	    VERDICT_FINDINGS_MAX + 64);
	t_check(t, verdict_has(v, RULE_COUNT_LIMIT), "count_limit noted");
	t_check(t, verdict_has(v, RULE_VIRUS) && v->disposition == DISP_REJECT,
	    "a later virus still rejects: got %s",
	    disposition_str(v->disposition));
	verdict_free(&v);
	policy_unref(&pol);
}

static const struct t_case cases[] = {
	T_CASE(findings_bounded),
	T_CASE(content_rules),
	T_CASE(plain_text_accepted),
	T_CASE(blocked_attachment_rejected),
	T_CASE(antivirus_first_order),
	T_CASE(scanner_failure_tempfails),
	T_CASE(stale_signatures_tag),
	T_CASE(strip_multipart),
	T_CASE(strip_single_part),
	T_CASE(signed_messages_not_stripped),
	T_CASE(disclaimer_outbound),
	T_CASE(limits_n_and_n_plus_1),
	T_CASE(mime_depth_and_parts),
	T_CASE(hidden_containers),
	T_CASE(direction),
	T_CASE(time_limit_tempfails),
};

int
main(int argc, char **argv)
{
	int	r;

	g_mime_init();
	r = t_main(argc, argv, cases, T_NCASES(cases));
	policy_unref(&held);
	g_mime_shutdown();
	return r;
}
