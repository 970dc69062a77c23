/* lib/notify.c - notification messages and sendmail (see notify.h). */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "notify.h"

extern char **environ;

#define HEADER_SCAN_MAX	(256u << 10)	/* header bytes looked at */
#define OUR_MARK	"X-Portcullis-Notification"

/*
 * The texts. Each is expanded with verdict_expand() for the decisive
 * finding (%RULE% %DETAIL% %FILENAME% %VIRUS% %PART% %QUEUEID% %SENDER%)
 * after %OUTCOME% has been replaced by the disposition's phrase below.
 */
static const struct ntemplate {
	unsigned	 who;
	const char	*subject;
	const char	*intro;
} templates[] = {
	{ NOTIFY_ADMIN,
	  "%RULE% (%DETAIL%) in %QUEUEID% from %SENDER%",
	  "The mail gateway found %RULE% (%DETAIL%) in part %PART% of\n"
	  "message %QUEUEID% from %SENDER%; the message %OUTCOME%." },
	{ NOTIFY_SENDER,
	  "Your message %OUTCOME% (%RULE%)",
	  "This is an automatic notice from the mail gateway. Your message\n"
	  "%OUTCOME%, because the gateway found %RULE% (%DETAIL%)\n"
	  "in it. Please do not reply to this notice." },
	{ NOTIFY_RECIPIENTS,
	  "A message to you %OUTCOME% (%RULE%)",
	  "This is an automatic notice from the mail gateway. A message from\n"
	  "%SENDER% to you %OUTCOME%, because the gateway found\n"
	  "%RULE% (%DETAIL%) in it." },
};

/* What happened to the message, by disposition. */
static const char *const outcome[DISP__N] = {
	[DISP_ACCEPT] = "was delivered",
	[DISP_TAG] = "was delivered with a warning",
	[DISP_STRIP] = "was delivered with parts removed",
	[DISP_HOLD] = "is held for review",
	[DISP_DISCARD] = "was not delivered",
	[DISP_TEMPFAIL] = "was not delivered yet",
	[DISP_REJECT] = "was refused",
};

/*
 * Local parts that are roles or robots: never notified (RFC 3834 and
 * common practice). Exact names, then prefixes and suffixes.
 */
static const char *const role_exact[] = {
	"mailer-daemon", "postmaster", "abuse", "noreply", "no-reply",
	"do-not-reply", "donotreply", "no_reply", "bounce", "bounces",
	"listserv", "majordomo", "mailman", "root", "nobody"
};
static const char *const role_prefix[] = { "owner-", "bounce-", "bounces-",
	"bounce+", "bounces+", "noreply-", "no-reply-", "mailer-daemon" };
static const char *const role_suffix[] = { "-request", "-owner",
	"-bounces", "-noreply" };

/* ---- small helpers ---- */

static bool
has_prefix_ci(const char *s, const char *p)
{
	return strncasecmp(s, p, strlen(p)) == 0;
}

bool
notify_address_is_role(const char *addr)
{
	char	*local, *at;
	size_t	 i;
	bool	 role = false;

	if (addr == NULL)
		return true;
	while (*addr == '<' || *addr == ' ')
		addr++;
	if (*addr == '\0' || *addr == '>')
		return true;			/* <> */
	local = xstrdup(addr);
	if ((at = strrchr(local, '@')) != NULL)
		*at = '\0';
	if ((at = strchr(local, '>')) != NULL)
		*at = '\0';
	for (i = 0; i < sizeof role_exact / sizeof role_exact[0]; i++)
		if (str_ieq(local, role_exact[i]))
			role = true;
	for (i = 0; i < sizeof role_prefix / sizeof role_prefix[0]; i++)
		if (has_prefix_ci(local, role_prefix[i]))
			role = true;
	for (i = 0; i < sizeof role_suffix / sizeof role_suffix[0]; i++)
		if (str_has_suffix_ci(local, role_suffix[i]))
			role = true;
	free(local);
	return role;
}

/*
 * Finds header name in the header block of msg; returns its unfolded
 * value (caller frees) or NULL. Bounded by HEADER_SCAN_MAX.
 */
static char *
header_get(const unsigned char *msg, size_t len, const char *name)
{
	size_t		 nl = strlen(name), i = 0, eol;
	struct buf	 b = BUF_INIT;
	bool		 in = false;

	if (msg == NULL)
		return NULL;
	if (len > HEADER_SCAN_MAX)
		len = HEADER_SCAN_MAX;
	while (i < len) {
		const unsigned char	*nlp = memchr(msg + i, '\n', len - i);
		size_t			 l;

		eol = nlp != NULL ? (size_t)(nlp - msg) : len;
		l = eol - i;
		if (l > 0 && msg[i + l - 1] == '\r')
			l--;
		if (l == 0)
			break;			/* end of the header block */
		if (msg[i] == ' ' || msg[i] == '\t') {
			if (in)
				buf_append(&b, msg + i, l);
		} else if (b.data != NULL || in) {
			break;			/* first match is complete */
		} else if (l > nl && msg[i + nl] == ':' &&
		    strncasecmp((const char *)msg + i, name, nl) == 0) {
			in = true;
			buf_append(&b, msg + i + nl + 1, l - nl - 1);
		}
		i = eol + 1;
	}
	if (!in)
		return NULL;
	return buf_cstr(&b);
}

static const char *
skip_ws(const char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	return s;
}

/* 1 = auto-submitted or our own notification: no notification at all;
 * 2 = bulk or list mail: no notification to its sender (RFC 3834 2). */
static int
message_autoness(const unsigned char *msg, size_t len)
{
	char	*v;
	int	 r = 0;

	if ((v = header_get(msg, len, "Auto-Submitted")) != NULL) {
		if (!has_prefix_ci(skip_ws(v), "no"))
			r = 1;
		free(v);
		if (r != 0)
			return r;
	}
	if ((v = header_get(msg, len, OUR_MARK)) != NULL) {
		free(v);
		return 1;
	}
	if ((v = header_get(msg, len, "Precedence")) != NULL) {
		const char *p = skip_ws(v);

		if (has_prefix_ci(p, "bulk") || has_prefix_ci(p, "junk") ||
		    has_prefix_ci(p, "list"))
			r = 2;
		free(v);
		if (r != 0)
			return r;
	}
	if ((v = header_get(msg, len, "List-Id")) != NULL) {
		free(v);
		return 2;
	}
	return 0;
}

const char *
notify_skip_reason(const struct policy *pol, const struct envelope *env,
    const struct verdict *v, const unsigned char *msg, size_t len,
    unsigned who)
{
	int	auto_ = message_autoness(msg, len);

	if ((v->notify & who) == 0)
		return "not asked for";
	if (auto_ == 1)
		return "the message is auto-submitted";
	if (v->disposition == DISP_TEMPFAIL)	/* once per retry: no */
		return "the message will be retried";
	switch (who) {
	case NOTIFY_ADMIN:
		if (pol->notify_admin == NULL || pol->notify_admin[0] == '\0')
			return "no admin address";
		return NULL;
	case NOTIFY_SENDER:
		if (env == NULL || notify_address_is_role(env->sender))
			return "null or role sender";
		if (verdict_has(v, RULE_VIRUS) && !pol->notify_forged_senders)
			return "virus senders are forged";
		if (auto_ == 2)
			return "bulk or list mail";
		return NULL;
	case NOTIFY_RECIPIENTS:
		if (env == NULL || env->nrcpts == 0)
			return "no recipients";
		return NULL;
	}
	return "unknown party";
}

static void
random_hex(char *out, size_t n)	/* n-1 hex digits + NUL */
{
	unsigned char	rnd[16];
	size_t		i;

	memset(rnd, 0, sizeof rnd);
	if (getrandom(rnd, sizeof rnd, GRND_NONBLOCK) != (ssize_t)sizeof rnd) {
		/* Uniqueness, not secrecy: the clock will do. */
		uint64_t t = clock_ms() ^ (uint64_t)getpid() << 32;

		memcpy(rnd, &t, sizeof t);
	}
	for (i = 0; i + 1 < n && i < 32; i++)
		out[i] = "0123456789abcdef"[(rnd[i / 2] >> (i % 2 ? 0 : 4)) &
		    0xf];
	out[i] = '\0';
}

static void
rfc5322_date(int64_t now, struct buf *b)
{
	static const char *const days[] = { "Sun", "Mon", "Tue", "Wed", "Thu",
		"Fri", "Sat" };
	static const char *const months[] = { "Jan", "Feb", "Mar", "Apr",
		"May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	time_t		t = (time_t)now;
	struct tm	tm;

	if (gmtime_r(&t, &tm) == NULL)
		memset(&tm, 0, sizeof tm);
	buf_printf(b, "%s, %02d %s %04d %02d:%02d:%02d +0000",
	    days[tm.tm_wday % 7], tm.tm_mday, months[tm.tm_mon % 12],
	    tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* Replaces %OUTCOME% then expands the verdict_expand() variables. */
static char *
expand(const char *tmpl, const struct verdict *v, const struct finding *f,
    const struct envelope *env)
{
	struct buf	 b = BUF_INIT;
	const char	*p = tmpl, *q;
	char		*out;

	while ((q = strstr(p, "%OUTCOME%")) != NULL) {
		buf_append(&b, p, (size_t)(q - p));
		buf_puts(&b, v->disposition < DISP__N ?
		    outcome[v->disposition] : "was handled");
		p = q + strlen("%OUTCOME%");
	}
	buf_puts(&b, p);
	out = verdict_expand(buf_cstr(&b), f, env != NULL ? env->queue_id :
	    NULL, env != NULL ? env->sender : NULL);
	buf_free(&b);
	return out;
}

/* The finding the text is about: the decisive action's, else the first. */
static const struct finding *
decisive(const struct verdict *v)
{
	size_t	i;

	for (i = 0; i < v->nfindings; i++)
		if (v->action != NULL && v->findings[i].action == v->action)
			return &v->findings[i];
	return v->nfindings > 0 ? &v->findings[0] : NULL;
}

static void
put_addr_list(struct buf *b, const char *const *a, size_t n)
{
	size_t	i;

	for (i = 0; i < n && i < NOTIFY_RCPTS_MAX; i++) {
		char *s = str_sanitise(a[i], 256);

		buf_printf(b, "%s<%s>", i > 0 ? ", " : "", s);
		free(s);
	}
	if (n > NOTIFY_RCPTS_MAX)
		buf_printf(b, ", ... (%zu in all)", n);
}

/* The body's fact sheet and findings (admin gets every detail). */
static void
put_details(struct buf *b, const struct policy *pol,
    const struct envelope *env, const struct verdict *v,
    const struct notify_opts *o, const char *subject, unsigned who)
{
	size_t	i;
	char	*s;

	buf_puts(b, "\n\n");
	if (subject != NULL) {
		s = str_sanitise(skip_ws(subject), 200);
		buf_printf(b, "  Subject:     %s\n", s);
		free(s);
	}
	s = str_sanitise(env != NULL && env->sender != NULL &&
	    env->sender[0] != '\0' ? env->sender : "", 256);
	buf_printf(b, "  Sender:      <%s>\n", s);
	free(s);
	if (who != NOTIFY_RECIPIENTS && env != NULL) {
		buf_puts(b, "  Recipients:  ");
		put_addr_list(b, env->rcpts, env->nrcpts);
		buf_puts(b, "\n");
	}
	s = str_sanitise(env != NULL && env->queue_id != NULL ?
	    env->queue_id : "NOQUEUE", 64);
	buf_printf(b, "  Queue ID:    %s\n", s);
	free(s);
	if (who == NOTIFY_ADMIN) {
		s = str_sanitise(env != NULL && env->client_addr != NULL ?
		    env->client_addr : "unknown", 64);
		buf_printf(b, "  Client:      %s\n", s);
		free(s);
		if (env != NULL && env->auth_user != NULL) {
			s = str_sanitise(env->auth_user, 128);
			buf_printf(b, "  Auth user:   %s\n", s);
			free(s);
		}
		buf_printf(b, "  Direction:   %s\n",
		    direction_str(v->direction));
		buf_printf(b, "  Action:      %s%s%s\n",
		    disposition_str(v->disposition),
		    v->action != NULL ? " by action " : "",
		    v->action != NULL ? v->action->name : "");
		if (o->quarantine_id != NULL) {
			char *q = str_sanitise(o->quarantine_id, 80);

			buf_printf(b, "  Quarantine:  %s, ID %s\n"
			    "               (portcullisctl show %s)\n",
			    v->quarantine != NULL ? v->quarantine : "-", q, q);
			free(q);
		}
		buf_printf(b, "  Policy:      %s (version %llu)\n",
		    pol->source != NULL ? pol->source : "built-in",
		    (unsigned long long)pol->version);
	}
	buf_puts(b, "\nFindings:\n");
	for (i = 0; i < v->nfindings && i < 50; i++) {
		const struct finding	*f = &v->findings[i];
		char			*fn = str_sanitise(f->filename, 120);
		char			*d = str_sanitise(f->detail, 160);

		buf_printf(b, "  - %s", rule_str(f->rule));
		if (who == NOTIFY_ADMIN && f->part != NULL && *f->part != '\0')
			buf_printf(b, " in part %s", f->part);
		if (f->filename != NULL)
			buf_printf(b, ", file \"%s\"", fn);
		if (f->detail != NULL)
			buf_printf(b, ": %s", d);
		buf_puts(b, "\n");
		free(fn);
		free(d);
	}
	if (v->nfindings > 50)
		buf_printf(b, "  ... and %zu more\n", v->nfindings - 50);
	buf_puts(b, "\n-- \n");
	s = str_sanitise(pol->notify_server_tag, 80);
	buf_printf(b, "%s mail gateway\n", s);
	free(s);
}

/* Copies msg with CRLF as LF. */
static void
append_lf(struct buf *b, const unsigned char *msg, size_t len)
{
	size_t	i, start = 0;

	for (i = 0; i + 1 < len; i++)
		if (msg[i] == '\r' && msg[i + 1] == '\n') {
			buf_append(b, msg + start, i - start);
			start = i + 1;
		}
	buf_append(b, msg + start, len - start);
	if (len > 0 && msg[len - 1] != '\n')
		buf_puts(b, "\n");
}

/* True if msg can travel as message/rfc822 (no NUL, lines <= 998). */
static bool
rfc822_safe(const unsigned char *msg, size_t len, bool *eightbit)
{
	size_t	i, line = 0;

	*eightbit = false;
	for (i = 0; i < len; i++) {
		if (msg[i] == '\0')
			return false;
		if (msg[i] >= 0x80)
			*eightbit = true;
		if (msg[i] == '\n')
			line = 0;
		else if (++line > 998)
			return false;
	}
	return true;
}

static void
append_base64(struct buf *b, const unsigned char *p, size_t n)
{
	static const char tbl[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t	i, col = 0;

	for (i = 0; i < n; i += 3) {
		unsigned v = (unsigned)p[i] << 16;
		char	 q[4];

		if (i + 1 < n)
			v |= (unsigned)p[i + 1] << 8;
		if (i + 2 < n)
			v |= p[i + 2];
		q[0] = tbl[v >> 18 & 63];
		q[1] = tbl[v >> 12 & 63];
		q[2] = i + 1 < n ? tbl[v >> 6 & 63] : '=';
		q[3] = i + 2 < n ? tbl[v & 63] : '=';
		buf_append(b, q, 4);
		if ((col += 4) >= 76) {
			buf_puts(b, "\n");
			col = 0;
		}
	}
	if (col != 0)
		buf_puts(b, "\n");
}

static void
put_header_addr(struct buf *b, const char *name, const char *addr)
{
	char	*s = str_sanitise(addr, 256);

	buf_printf(b, "%s: <%s>\n", name, s);
	free(s);
}

static const char *const who_name[] = { "admin", "sender", "recipients" };

static const char *
who_str(unsigned who)
{
	return who == NOTIFY_ADMIN ? who_name[0] : who == NOTIFY_SENDER ?
	    who_name[1] : who_name[2];
}

static bool
has_8bit(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s >= 0x80)
			return true;
	return false;
}

/* A subject from a template may be UTF-8: RFC 2047 encoded words of at
 * most 45 bytes each (never cutting a character), folded. */
static void
put_subject_text(struct buf *b, const char *s)
{
	size_t	n = strlen(s), off = 0, k;

	if (!has_8bit(s)) {
		buf_puts(b, s);
		return;
	}
	while (off < n) {
		struct buf	enc = BUF_INIT;

		k = n - off > 45 ? 45 : n - off;
		while (k > 1 && off + k < n &&
		    ((unsigned char)s[off + k] & 0xc0) == 0x80)
			k--;
		append_base64(&enc, (const unsigned char *)s + off, k);
		if (enc.len > 0 && enc.data[enc.len - 1] == '\n')
			enc.len--;
		buf_printf(b, "%s=?UTF-8?B?%.*s?=", off > 0 ? "\n " : "",
		    (int)enc.len, (const char *)enc.data);
		buf_free(&enc);
		off += k;
	}
}

/* The language of the message (its Content-Language, primary subtag,
 * lower case), or "" when it has none. */
static void
message_lang(const unsigned char *msg, size_t len, char *out, size_t outsz)
{
	char		*v = header_get(msg, len, "Content-Language");
	const char	*p = v != NULL ? skip_ws(v) : "";
	size_t		 i = 0;

	while (i + 1 < outsz && isalpha((unsigned char)p[i])) {
		out[i] = (char)tolower((unsigned char)p[i]);
		i++;
	}
	out[i] = '\0';
	free(v);
}

/* Header, text and (admin) the original, for one party. */
static void
compose(struct notification *n, const struct policy *pol,
    const struct envelope *env, const struct verdict *v,
    const unsigned char *msg, size_t len, const struct notify_opts *o,
    const char *from_hdr, const char *host, const struct ntemplate *tp)
{
	struct buf		*b = &n->message;
	const struct finding	*f = decisive(v);
	const struct notify_text *nt;
	char			 lang[16];
	char			*subj, *intro;
	char			*tag = str_sanitise(pol->notify_server_tag, 80);
	char			*orig_subject = header_get(msg, len, "Subject");
	char			 rnd[33], bound[33];
	bool			 attach, eightbit = false, safe = false;

	/* The postmaster's template, in the language of the message for
	 * its sender and recipients; else the built-in text. */
	lang[0] = '\0';
	if (n->who != NOTIFY_ADMIN)
		message_lang(msg, len, lang, sizeof lang);
	nt = policy_notify_text(pol, n->who, lang[0] != '\0' ? lang : NULL);
	subj = expand(nt != NULL && nt->subject != NULL ? nt->subject :
	    tp->subject, v, f, env);
	intro = expand(nt != NULL ? nt->body : tp->intro, v, f, env);
	attach = n->who == NOTIFY_ADMIN && o->attach_original &&
	    msg != NULL && len > 0 && len <= NOTIFY_ATTACH_MAX;
	if (attach)
		safe = rfc822_safe(msg, len, &eightbit);
	put_header_addr(b, "From", from_hdr);
	if (n->nrcpts == 1)
		put_header_addr(b, "To", n->rcpts[0]);
	else {
		buf_puts(b, "To: ");
		if (n->who == NOTIFY_ADMIN) {
			put_addr_list(b, (const char *const *)n->rcpts,
			    n->nrcpts);
			buf_puts(b, "\n");
		} else	/* recipients do not see each other */
			buf_puts(b, "undisclosed-recipients:;\n");
	}
	buf_printf(b, "Subject: %s%s", tag, tag[0] != '\0' ? " " : "");
	put_subject_text(b, subj);
	buf_puts(b, "\n");
	buf_puts(b, "Date: ");
	rfc5322_date(o->now, b);
	random_hex(rnd, sizeof rnd);
	buf_printf(b, "\nMessage-ID: <%lld.%s.portcullis@%s>\n",
	    (long long)o->now, rnd, host);
	buf_puts(b, "Auto-Submitted: auto-generated\n");
	buf_printf(b, OUR_MARK ": %s\n", who_str(n->who));
	buf_puts(b, "MIME-Version: 1.0\n");
	if (attach) {
		random_hex(bound, sizeof bound);
		buf_printf(b, "Content-Type: multipart/mixed; "
		    "boundary=\"=_pc_%s\"\n\nThis is a MIME message.\n\n"
		    "--=_pc_%s\n", bound, bound);
	}
	if (has_8bit(intro))
		buf_puts(b, "Content-Type: text/plain; charset=utf-8\n"
		    "Content-Transfer-Encoding: 8bit\n\n");
	else
		buf_puts(b, "Content-Type: text/plain; charset=us-ascii\n"
		    "Content-Transfer-Encoding: 7bit\n\n");
	buf_puts(b, intro);
	put_details(b, pol, env, v, o, orig_subject, n->who);
	if (n->who == NOTIFY_ADMIN && o->attach_original && msg != NULL &&
	    !attach)
		buf_printf(b, "\n(The original, %zu bytes, is too large to "
		    "attach.)\n", len);
	if (attach) {
		buf_printf(b, "\n--=_pc_%s\n", bound);
		if (safe) {
			buf_printf(b, "Content-Type: message/rfc822\n"
			    "Content-Disposition: attachment\n"
			    "Content-Transfer-Encoding: %s\n\n",
			    eightbit ? "8bit" : "7bit");
			append_lf(b, msg, len);
		} else {
			buf_puts(b, "Content-Type: application/octet-stream; "
			    "name=\"original.eml\"\nContent-Disposition: "
			    "attachment; filename=\"original.eml\"\n"
			    "Content-Transfer-Encoding: base64\n\n");
			append_base64(b, msg, len);
		}
		buf_printf(b, "\n--=_pc_%s--\n", bound);
	}
	free(orig_subject);
	free(tag);
	free(intro);
	free(subj);
}

static void
add_rcpt(struct notification *n, const char *addr)
{
	n->rcpts = xreallocarray(n->rcpts, n->nrcpts + 1, sizeof *n->rcpts);
	n->rcpts[n->nrcpts++] = xstrdup(addr);
}

/* Envelope addresses may come as "<a@b>"; sendmail wants a@b. */
static char *
bare_addr(const char *a)
{
	size_t	n;

	while (*a == ' ' || *a == '<')
		a++;
	n = strlen(a);
	while (n > 0 && (a[n - 1] == '>' || a[n - 1] == ' '))
		n--;
	return xstrndup(a, n);
}

int
notify_build(const struct policy *pol, const struct envelope *env,
    const struct verdict *v, const unsigned char *msg, size_t len,
    const struct notify_opts *opts, struct notification **list_r,
    size_t *n_r, struct err *err)
{
	struct notify_opts	 o;
	struct notification	*list = NULL;
	size_t			 n = 0, i, t;
	char			 host[256];
	char			*from_hdr;

	(void)err;
	*list_r = NULL;
	*n_r = 0;
	memset(&o, 0, sizeof o);
	if (opts != NULL)
		o = *opts;
	if (o.now == 0)
		o.now = (int64_t)time(NULL);
	if (o.hostname == NULL)
		o.hostname = pol->hostname;
	if (o.hostname == NULL) {
		if (gethostname(host, sizeof host) != 0 || host[0] == '\0')
			snprintf(host, sizeof host, "localhost");
		host[sizeof host - 1] = '\0';
		o.hostname = host;
	}
	/* MAILER-DAEMON alone is no address: qualify it with the host. */
	from_hdr = strchr(pol->notify_from, '@') != NULL ?
	    xstrdup(pol->notify_from) : xasprintf("%s@%s", pol->notify_from,
	    o.hostname);

	for (t = 0; t < sizeof templates / sizeof templates[0]; t++) {
		const struct ntemplate	*tp = &templates[t];
		struct notification	*nn;

		if (notify_skip_reason(pol, env, v, msg, len, tp->who) != NULL)
			continue;
		list = xreallocarray(list, n + 1, sizeof *list);
		nn = &list[n++];
		memset(nn, 0, sizeof *nn);
		nn->who = tp->who;
		nn->from = xstrdup(pol->notify_from);
		if (tp->who == NOTIFY_ADMIN) {
			struct buf	 a = BUF_INIT;
			char		*tok, *save = NULL;

			buf_puts(&a, pol->notify_admin);
			for (tok = strtok_r(buf_cstr(&a), ", \t", &save);
			    tok != NULL && nn->nrcpts < NOTIFY_RCPTS_MAX;
			    tok = strtok_r(NULL, ", \t", &save))
				add_rcpt(nn, tok);
			buf_free(&a);
		} else if (tp->who == NOTIFY_SENDER) {
			char *s = bare_addr(env->sender);

			add_rcpt(nn, s);
			free(s);
		} else {
			for (i = 0; i < env->nrcpts && i < NOTIFY_RCPTS_MAX;
			    i++) {
				char *s = bare_addr(env->rcpts[i]);

				if (*s != '\0')
					add_rcpt(nn, s);
				free(s);
			}
		}
		if (nn->nrcpts == 0) {
			free(nn->from);
			free(nn->rcpts);
			n--;
			continue;
		}
		compose(nn, pol, env, v, msg, len, &o, from_hdr, o.hostname,
		    tp);
	}
	free(from_hdr);
	*list_r = list;
	*n_r = n;
	return 0;
}

void
notify_list_free(struct notification **listp, size_t n)
{
	struct notification	*l = *listp;
	size_t			 i, j;

	if (l == NULL)
		return;
	*listp = NULL;
	for (i = 0; i < n; i++) {
		free(l[i].from);
		for (j = 0; j < l[i].nrcpts; j++)
			free(l[i].rcpts[j]);
		free(l[i].rcpts);
		buf_free(&l[i].message);
	}
	free(l);
}

void
notify_build_release(const char *id, const unsigned char *msg, size_t len,
    struct buf *out)
{
	char	*s = str_sanitise(id, 128);

	buf_printf(out, NOTIFY_RELEASED_HEADER ": %s\n", s);
	free(s);
	append_lf(out, msg, len);
}

/* ---- sending ---- */

static bool
arg_ok(const char *a)
{
	for (; *a != '\0'; a++)
		if ((unsigned char)*a < 0x20 || *a == 0x7f)
			return false;
	return true;
}

int
notify_send(const struct policy *pol, const struct buf *message,
    const char *from, const char *const *rcpts, size_t nrcpts,
    uint64_t timeout_ms, struct err *err)
{
	const char	**argv = NULL;
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t sa;
	struct pollfd	 pfd;
	uint64_t	 deadline;
	size_t		 i, off = 0;
	pid_t		 pid, w;
	int		 sv[2], st = 0, e, rc = -1;
	bool		 timed_out = false;

	if (pol->sendmail_path == NULL || pol->sendmail_path[0] != '/')
		return err_set(err, "[notify] sendmail must be an absolute "
		    "path");
	if (nrcpts == 0)
		return err_set(err, "no recipients");
	if (from == NULL || !arg_ok(from))
		return err_set(err, "bad envelope sender");
	for (i = 0; i < nrcpts; i++)
		if (rcpts[i] == NULL || rcpts[i][0] == '\0' ||
		    !arg_ok(rcpts[i]))
			return err_set(err, "bad recipient address");
	if (timeout_ms == 0)
		timeout_ms = NOTIFY_SEND_TIMEOUT_MS;

	argv = xcalloc(nrcpts + 6, sizeof *argv);
	argv[0] = pol->sendmail_path;
	argv[1] = "-i";
	argv[2] = "-f";
	argv[3] = from[0] == '\0' ? "<>" : from;
	argv[4] = "--";
	for (i = 0; i < nrcpts; i++)
		argv[5 + i] = rcpts[i];

	/* A socket, not a pipe: MSG_NOSIGNAL spares us SIGPIPE. */
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1) {
		err_set(err, "socketpair: %s", strerror(errno));
		goto out;
	}
	/*
	 * posix_spawn, not fork: glibc spawns with CLONE_VM|CLONE_VFORK, so a
	 * daemon holding a large signature engine copies no page tables. The
	 * child gets the socket as stdin, no other descriptor, default
	 * signal handling and an empty signal mask (libmilter blocks some).
	 */
	posix_spawn_file_actions_init(&fa);
	spawnattr_clean(&sa);
	posix_spawn_file_actions_adddup2(&fa, sv[1], STDIN_FILENO);
#if defined(__GLIBC__) && (__GLIBC__ > 2 || __GLIBC_MINOR__ >= 34)
	posix_spawn_file_actions_addclosefrom_np(&fa, 3);
#endif
	e = posix_spawn(&pid, argv[0], &fa, &sa, (char *const *)argv,
	    environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&sa);
	if (e != 0) {
		err_set(err, "%s: cannot be run: %s", pol->sendmail_path,
		    strerror(e));
		close(sv[0]);
		close(sv[1]);
		goto out;
	}
	close(sv[1]);
	deadline = clock_ms() + timeout_ms;
	fcntl(sv[0], F_SETFL, fcntl(sv[0], F_GETFL) | O_NONBLOCK);
	while (off < message->len) {
		uint64_t	now = clock_ms();
		ssize_t		n;

		if (now >= deadline) {
			timed_out = true;
			break;
		}
		pfd.fd = sv[0];
		pfd.events = POLLOUT;
		if (poll(&pfd, 1, (int)(deadline - now)) == -1 &&
		    errno != EINTR)
			break;
		n = send(sv[0], message->data + off, message->len - off,
		    MSG_NOSIGNAL);
		if (n == -1 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n <= 0)
			break;	/* the child stopped reading (or died) */
		off += (size_t)n;
	}
	close(sv[0]);	/* end of input */
	for (;;) {
		w = waitpid(pid, &st, WNOHANG);
		if (w == pid || (w == -1 && errno != EINTR))
			break;
		if (timed_out || clock_ms() >= deadline) {
			timed_out = true;
			kill(pid, SIGKILL);
			while (waitpid(pid, &st, 0) == -1 && errno == EINTR)
				;
			w = pid;
			break;
		}
		usleep(5000);
	}
	if (timed_out)
		err_set(err, "%s: no answer within %llu ms, killed",
		    pol->sendmail_path, (unsigned long long)timeout_ms);
	else if (w != pid)
		err_set(err, "waitpid: %s", strerror(errno));
	else if (WIFEXITED(st) && WEXITSTATUS(st) == 127)
		err_set(err, "%s: cannot be run", pol->sendmail_path);
	else if (!WIFEXITED(st))
		err_set(err, "%s: killed by signal %d", pol->sendmail_path,
		    WIFSIGNALED(st) ? WTERMSIG(st) : 0);
	else if (WEXITSTATUS(st) != 0)
		err_set(err, "%s: exit status %d", pol->sendmail_path,
		    WEXITSTATUS(st));
	else if (off < message->len)
		err_set(err, "%s: read only %zu of %zu bytes",
		    pol->sendmail_path, off, message->len);
	else
		rc = 0;
out:
	free(argv);
	return rc;
}
