/*
 * milter/milter.c - the daemon: libmilter callbacks, verdict application,
 * signals, policy and signature reloads, start-up and shutdown.
 *
 * The only file that includes <libmilter/mfapi.h>. Callbacks collect the
 * envelope and the bytes (msgctx.c), call scan_message() at EOM and map
 * the verdict to SMFIS_* and smfi_* calls; the library decides.
 *
 * Threads: Debian's libmilter runs the callbacks of one connection on
 * different worker threads (never two at once), so per-connection state
 * lives only behind smfi_setpriv(). Besides libmilter's threads there are
 * two of ours: the signal thread (all of SIGHUP, SIGUSR1, SIGUSR2, SIGTERM
 * and SIGINT are blocked everywhere else) and the signature thread, which
 * loads the first ClamAV engine and rechecks the database. The current
 * policy is a refcounted pointer swapped under g.lock; each message pins
 * the policy at MAIL FROM and the engine at EOM (where it is used, so a
 * long DATA phase does not keep a replaced engine in memory).
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <libmilter/mfapi.h>

#include "av.h"
#include "cli.h"
#include "log.h"
#include "magic.h"
#include "milter.h"
#include "msgctx.h"
#include "scan.h"
#include "util.h"

#define MLT_TIMEOUT_S	600	/* libmilter: seconds to wait for the MTA */
#define MLT_REPLY_MAX	900	/* SMTP reply text (libmilter allows 980) */
#define MLT_HDR_MAX	900	/* X-Portcullis value before folding */
#define MLT_BODY_CHUNK	(1024 * 1024)	/* smfi_replacebody takes an int */

#define NOT_READY_REPLY	"451 4.7.1 Virus scanner not ready, try again later"

/* One SMTP connection; created in connect, freed in close. */
struct connctx {
	unsigned long long	 cc_id;		/* c=N in the log */
	char			*cc_host;	/* PTR name or [addr], sanitised */
	char			*cc_addr;	/* numeric, NULL = unknown */
	char			*cc_helo;	/* sanitised */
	char			*cc_daemon;	/* {daemon_name}, sanitised */
	unsigned		 cc_nmsgs;	/* MAIL FROMs seen */
	struct msgctx		*cc_msg;
};

static struct {
	pthread_mutex_t		 lock;		/* pol and the av_* flags */
	pthread_cond_t		 av_cond;
	struct policy		*pol;		/* the policy in force */
	bool			 av_wake;	/* recheck signatures now */
	bool			 av_force;	/* ... and reload them */
	bool			 av_quit;
	struct av_store		*store;
	struct typer		*typer;
	const struct cli_opts	*opts;
	const char		*conn;		/* socket spec */
	char			 host[256];	/* gethostname() */
	atomic_ullong		 conn_seq;
	atomic_bool		 stopping;
	atomic_bool		 main_returned;	/* smfi_main() is done */
	pthread_t		 main_thread;	/* runs smfi_main() */
} g = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
};

/* The signals our signal thread owns; blocked in every other thread. */
static void
our_signals(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGHUP);
	sigaddset(set, SIGUSR1);
	sigaddset(set, SIGUSR2);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGINT);
}

/*
 * libmilter's signal thread (started inside smfi_main) sigwait()s for
 * SIGHUP, SIGTERM and SIGINT and stops the filter on SIGHUP. Ours must
 * own them: SIGHUP reloads, and SIGTERM lets messages in flight finish.
 * Two threads waiting for one signal would race for it, so this program
 * defines sigwait(): the dynamic linker binds libmilter's call here (the
 * executable's symbols come first), and our signals are taken out of the
 * set libmilter waits for; its thread then waits for nothing. Our signal
 * thread calls sigwaitinfo(), not this.
 */
int
sigwait(const sigset_t *set, int *sig)
{
	sigset_t	s = *set;
	sigset_t	ours;
	int		i, r;

	our_signals(&ours);
	for (i = 1; i < NSIG; i++)
		if (sigismember(&ours, i) == 1)
			sigdelset(&s, i);
	for (;;) {
		r = sigwaitinfo(&s, NULL);
		if (r > 0) {
			*sig = r;
			return 0;
		}
		if (errno != EINTR)
			return errno;
	}
}

/* ---- helpers ---------------------------------------------------------- */

static struct policy *
current_policy(void)
{
	struct policy	*pol;

	pthread_mutex_lock(&g.lock);
	pol = policy_ref(g.pol);
	pthread_mutex_unlock(&g.lock);
	return pol;
}

static const char *
signature_dir(const struct policy *pol)
{
	return g.opts->signatures != NULL ? g.opts->signatures :
	    pol->av_database;
}

static const char *
host_name(const struct policy *pol)
{
	return pol->hostname != NULL ? pol->hostname : g.host;
}

static char *
getsym(SMFICTX *ctx, const char *name)
{
	return smfi_getsymval(ctx, (char *)name);
}

/* "<a@b>" -> "a@b" (copied). */
static char *
unbracket(const char *s)
{
	size_t	n;

	if (s == NULL)
		return xstrdup("");
	n = strlen(s);
	if (n >= 2 && s[0] == '<' && s[n - 1] == '>')
		return xstrndup(s + 1, n - 2);
	return xstrdup(s);
}

/* The line prefix: the queue id, or NOQUEUE c=N before the MTA has one. */
static const char *
msg_logid(const struct connctx *cc, char *buf, size_t len)
{
	if (cc->cc_msg != NULL && cc->cc_msg->mc_qid != NULL)
		return cc->cc_msg->mc_qid;
	snprintf(buf, len, "NOQUEUE c=%llu", cc->cc_id);
	return buf;
}

/* client=... from=<...> rcpts=N [auth=...], sanitised, into b. */
static void
env_fields(const struct connctx *cc, struct buf *b)
{
	const struct msgctx	*mc = cc->cc_msg;
	char			*s;

	buf_printf(b, "client=%s", cc->cc_host);
	if (cc->cc_addr != NULL)
		buf_printf(b, "[%s]", cc->cc_addr);
	s = str_sanitise(mc->mc_sender != NULL ? mc->mc_sender : "", 256);
	buf_printf(b, " from=<%s> rcpts=%zu", s, mc->mc_nrcpts);
	free(s);
	if (mc->mc_nrefused != 0)
		buf_printf(b, " rcpts_refused=%u", mc->mc_nrefused);
	if (mc->mc_auth != NULL) {
		s = str_sanitise(mc->mc_auth, 128);
		buf_printf(b, " auth=%s", s);
		free(s);
	}
}

/* Appends " key=value", the value sanitised, and quoted (logfmt) when it
 * holds a space; a double quote inside becomes a single one. */
static void
field(struct buf *b, const char *key, const char *val, size_t max)
{
	char	*s, *p;

	if (val == NULL || *val == '\0')
		return;
	s = str_sanitise(val, max);
	for (p = s; *p != '\0'; p++)
		if (*p == '"')
			*p = '\'';
	if (strchr(s, ' ') != NULL)
		buf_printf(b, " %s=\"%s\"", key, s);
	else
		buf_printf(b, " %s=%s", key, s);
	free(s);
}

/* Printable ASCII, '%' doubled (libmilter drops a text with a lone %),
 * no CR/LF, capped: what smfi_setreply() may be given. Caller frees. */
static char *
reply_text(const char *s)
{
	struct buf	b = BUF_INIT;

	for (; *s != '\0' && b.len < MLT_REPLY_MAX; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '%')
			buf_puts(&b, "%%");
		else if (c >= 0x20 && c < 0x7f)
			buf_append(&b, s, 1);
		else
			buf_append(&b, "?", 1);
	}
	return buf_cstr(&b);
}

/*
 * Sets the SMTP reply from "NXX [N.X.X] text". cls is '5' (reject) or '4'
 * (tempfail): libmilter ignores a 4xx with REJECT and a 5xx with TEMPFAIL,
 * so a code of the wrong class is replaced by the default.
 */
static void
set_reply(SMFICTX *ctx, const char *reply, char cls)
{
	char		 rcode[4], xcode[32];
	const char	*p = reply != NULL ? reply : "";
	const char	*q;
	char		*text;
	size_t		 n;

	snprintf(rcode, sizeof rcode, "%s", cls == '5' ? "554" : "451");
	snprintf(xcode, sizeof xcode, "%c.7.1", cls);
	if (p[0] == cls && isdigit((unsigned char)p[1]) &&
	    isdigit((unsigned char)p[2]) && (p[3] == ' ' || p[3] == '\0')) {
		memcpy(rcode, p, 3);
		p += 3;
		while (*p == ' ')
			p++;
		/* enhanced code: class.subject.detail, same class */
		q = p;
		n = strspn(q, "0123456789.");
		if (n > 0 && n < sizeof xcode && q[0] == cls && q[1] == '.' &&
		    (q[n] == ' ' || q[n] == '\0')) {
			memcpy(xcode, q, n);
			xcode[n] = '\0';
			p = q + n;
			while (*p == ' ')
				p++;
		}
	} else if (*p != '\0' && isdigit((unsigned char)p[0]))
		p = "";		/* a code of the wrong class: drop it all */
	if (*p == '\0')
		p = cls == '5' ? "Message refused by content policy" :
		    "Message could not be checked now, try again later";
	text = reply_text(p);
	if (smfi_setreply(ctx, rcode, xcode, text) != MI_SUCCESS)
		log_msg(LOG_WARNING, "smfi_setreply(%s %s) failed", rcode,
		    xcode);
	free(text);
}

/* An X-Portcullis value: printable ASCII, folded after ", " and "; "
 * once a line is long. Caller frees. */
static char *
header_value(const char *s)
{
	struct buf	b = BUF_INIT;
	size_t		col = 14, i;		/* after "X-Portcullis: " */

	for (i = 0; s[i] != '\0' && i < MLT_HDR_MAX; i++) {
		char c = s[i];

		if ((unsigned char)c < 0x20 || (unsigned char)c >= 0x7f)
			c = '?';
		if (c == ' ' && col > 60 && i > 0 &&
		    (s[i - 1] == ',' || s[i - 1] == ';')) {
			buf_puts(&b, "\n\t");
			col = 8;
			continue;
		}
		buf_append(&b, &c, 1);
		col++;
	}
	return buf_cstr(&b);
}

/* A header value built by the library: no CR, control characters out,
 * every LF followed by white space (a fold). Caller frees. */
static char *
edit_value(const char *s)
{
	struct buf	b = BUF_INIT;

	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '\r')
			continue;
		if (c == '\n') {
			if (s[1] == '\0')
				break;
			buf_append(&b, "\n", 1);
			if (s[1] != ' ' && s[1] != '\t')
				buf_append(&b, "\t", 1);
			continue;
		}
		buf_append(&b, c < 0x20 && c != '\t' ? "?" : s, 1);
	}
	return buf_cstr(&b);
}

/* ---- per connection state -------------------------------------------- */

static struct connctx *
conn_new(SMFICTX *ctx, const char *hostname, const struct sockaddr *sa)
{
	struct connctx	*cc = xcalloc(1, sizeof *cc);
	char		 addr[INET6_ADDRSTRLEN];
	const char	*dn;

	cc->cc_id = atomic_fetch_add(&g.conn_seq, 1) + 1;
	cc->cc_host = str_sanitise(hostname != NULL ? hostname : "unknown",
	    255);
	if (sa != NULL && sa->sa_family == AF_INET &&
	    inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)
	    sa)->sin_addr, addr, sizeof addr) != NULL)
		cc->cc_addr = xstrdup(addr);
	else if (sa != NULL && sa->sa_family == AF_INET6 &&
	    inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)
	    sa)->sin6_addr, addr, sizeof addr) != NULL)
		cc->cc_addr = xstrdup(addr);
	if ((dn = getsym(ctx, "{daemon_name}")) != NULL)
		cc->cc_daemon = str_sanitise(dn, 64);
	cc->cc_msg = msgctx_new();
	return cc;
}

static void
conn_free(struct connctx **ccp)
{
	struct connctx	*cc = *ccp;

	if (cc == NULL)
		return;
	msgctx_free(&cc->cc_msg);
	free(cc->cc_host);
	free(cc->cc_addr);
	free(cc->cc_helo);
	free(cc->cc_daemon);
	free(cc);
	*ccp = NULL;
}

/* The connection's state; made here if the MTA skipped connect. */
static struct connctx *
conn_get(SMFICTX *ctx)
{
	struct connctx	*cc = smfi_getpriv(ctx);

	if (cc == NULL) {
		cc = conn_new(ctx, NULL, NULL);
		if (smfi_setpriv(ctx, cc) != MI_SUCCESS) {
			conn_free(&cc);
			return NULL;
		}
	}
	return cc;
}

/* The connection's message, only while one is open. */
static struct connctx *
conn_msg(SMFICTX *ctx)
{
	struct connctx	*cc = smfi_getpriv(ctx);

	if (cc == NULL || cc->cc_msg == NULL || !cc->cc_msg->mc_active)
		return NULL;
	return cc;
}

/*
 * Refuses the message (or one recipient) before EOM: sets the reply, logs
 * one line, and ends the message unless only a recipient is refused.
 */
static sfsistat
refuse(SMFICTX *ctx, struct connctx *cc, sfsistat st, const char *rcode,
    const char *xcode, const char *text, const char *stage,
    const char *reason, const char *detail)
{
	struct buf	 b = BUF_INIT;
	char		 idbuf[64];
	const char	*action = st == SMFIS_REJECT ? "reject" : "tempfail";

	if (smfi_setreply(ctx, (char *)rcode, (char *)xcode,
	    (char *)text) != MI_SUCCESS)
		log_msg(LOG_WARNING, "smfi_setreply(%s %s) failed", rcode,
		    xcode);
	env_fields(cc, &b);
	buf_printf(&b, " action=%s reason=%s stage=%s", action, reason,
	    stage);
	if (detail != NULL)
		buf_printf(&b, " %s", detail);
	buf_printf(&b, " reply=\"%s %s\"", rcode, xcode);
	log_msg(LOG_INFO, "%s: %s", msg_logid(cc, idbuf, sizeof idbuf),
	    buf_cstr(&b));
	buf_free(&b);
	if (strcmp(stage, "rcpt") != 0)
		msgctx_reset(cc->cc_msg);	/* abort will not be called */
	return st;
}

/* Our own trouble (spool file): 451 and end the message. */
static sfsistat
local_error(SMFICTX *ctx, struct connctx *cc, const char *stage,
    const struct err *err)
{
	char	idbuf[64];

	log_msg(LOG_ERR, "%s: %s", msg_logid(cc, idbuf, sizeof idbuf),
	    err->msg);
	return refuse(ctx, cc, SMFIS_TEMPFAIL, "451", "4.3.0",
	    "Temporary local problem, try again later", stage, "error",
	    NULL);
}

/* ---- callbacks ------------------------------------------------------- */

static sfsistat
mlt_connect(SMFICTX *ctx, char *hostname, _SOCK_ADDR *hostaddr)
{
	struct connctx	*cc = smfi_getpriv(ctx);

	conn_free(&cc);			/* never expected: one per connection */
	cc = conn_new(ctx, hostname, hostaddr);
	if (smfi_setpriv(ctx, cc) != MI_SUCCESS) {
		conn_free(&cc);
		return SMFIS_TEMPFAIL;
	}
	return SMFIS_CONTINUE;
}

static sfsistat
mlt_helo(SMFICTX *ctx, char *helo)
{
	struct connctx	*cc = conn_get(ctx);

	if (cc == NULL)
		return SMFIS_TEMPFAIL;
	free(cc->cc_helo);
	cc->cc_helo = str_sanitise(helo != NULL ? helo : "", 255);
	return SMFIS_CONTINUE;
}

static sfsistat
mlt_envfrom(SMFICTX *ctx, char **argv)
{
	struct connctx	*cc = conn_get(ctx);
	struct msgctx	*mc;
	struct policy	*pol;
	char		*sender, *end, detail[64];
	unsigned long long size;
	int		 i;

	if (cc == NULL)
		return SMFIS_TEMPFAIL;
	mc = cc->cc_msg;
	msgctx_reset(mc);		/* the previous message, if any */
	pol = current_policy();
	sender = unbracket(argv != NULL ? argv[0] : NULL);
	msgctx_begin(mc, pol, sender);
	free(sender);
	msgctx_set_qid(mc, getsym(ctx, "i"));
	msgctx_set_auth(mc, getsym(ctx, "{auth_authen}"));
	cc->cc_nmsgs++;

	if (atomic_load(&g.stopping))
		return refuse(ctx, cc, SMFIS_TEMPFAIL, "421", "4.3.2",
		    "Service shutting down, try again later", "mail",
		    "shutdown", NULL);
	if (cc->cc_nmsgs > pol->messages_per_connection) {
		snprintf(detail, sizeof detail, "limit=%u",
		    pol->messages_per_connection);
		return refuse(ctx, cc, SMFIS_TEMPFAIL, "421", "4.7.0",
		    "Too many messages in one connection, reconnect", "mail",
		    "messages_per_connection", detail);
	}
	for (i = 1; argv != NULL && argv[i] != NULL; i++) {
		if (strncasecmp(argv[i], "SIZE=", 5) != 0)
			continue;
		errno = 0;
		size = strtoull(argv[i] + 5, &end, 10);
		if (end == argv[i] + 5 || *end != '\0')
			continue;	/* not a number: the MTA's business */
		if (errno == ERANGE || size > pol->message_size) {
			snprintf(detail, sizeof detail, "size=%llu limit=%llu",
			    size, (unsigned long long)pol->message_size);
			return refuse(ctx, cc, SMFIS_REJECT, "552", "5.3.4",
			    "Message too big for this system", "mail",
			    "size_limit", detail);
		}
	}
	return SMFIS_CONTINUE;
}

static sfsistat
mlt_envrcpt(SMFICTX *ctx, char **argv)
{
	struct connctx	*cc = conn_msg(ctx);
	struct msgctx	*mc;
	char		*rcpt, detail[64];

	if (cc == NULL)
		return SMFIS_TEMPFAIL;
	mc = cc->cc_msg;
	msgctx_set_qid(mc, getsym(ctx, "i"));
	if (mc->mc_nrcpts >= mc->mc_pol->recipients) {
		/* log the first one only; the count goes in the EOM line */
		if (mc->mc_nrefused++ == 0) {
			snprintf(detail, sizeof detail, "limit=%u",
			    mc->mc_pol->recipients);
			return refuse(ctx, cc, SMFIS_TEMPFAIL, "452", "4.5.3",
			    "Too many recipients", "rcpt", "recipients",
			    detail);
		}
		smfi_setreply(ctx, "452", "4.5.3", "Too many recipients");
		return SMFIS_TEMPFAIL;
	}
	rcpt = unbracket(argv != NULL ? argv[0] : NULL);
	msgctx_add_rcpt(mc, rcpt);
	free(rcpt);
	return SMFIS_CONTINUE;
}

static sfsistat
mlt_data(SMFICTX *ctx)
{
	struct connctx	*cc = conn_msg(ctx);

	if (cc == NULL)
		return SMFIS_TEMPFAIL;
	msgctx_set_qid(cc->cc_msg, getsym(ctx, "i"));
	return SMFIS_CONTINUE;
}

static sfsistat
too_big(SMFICTX *ctx, struct connctx *cc, const char *stage)
{
	char	detail[64];

	snprintf(detail, sizeof detail, "size>%llu",
	    (unsigned long long)cc->cc_msg->mc_pol->message_size);
	return refuse(ctx, cc, SMFIS_REJECT, "552", "5.3.4",
	    "Message too big for this system", stage, "size_limit", detail);
}

static sfsistat
mlt_header(SMFICTX *ctx, char *name, char *value)
{
	struct connctx	*cc = conn_msg(ctx);
	struct err	 err = ERR_INIT;

	if (cc == NULL)
		return SMFIS_TEMPFAIL;
	if (msgctx_header(cc->cc_msg, name != NULL ? name : "",
	    value != NULL ? value : "", &err) == -1)
		return local_error(ctx, cc, "header", &err);
	if (cc->cc_msg->mc_size > cc->cc_msg->mc_pol->message_size)
		return too_big(ctx, cc, "header");
	return SMFIS_CONTINUE;
}

static sfsistat
mlt_eoh(SMFICTX *ctx)
{
	struct connctx	*cc = conn_msg(ctx);
	struct err	 err = ERR_INIT;

	if (cc == NULL)
		return SMFIS_TEMPFAIL;
	msgctx_set_qid(cc->cc_msg, getsym(ctx, "i"));
	if (msgctx_eoh(cc->cc_msg, &err) == -1)
		return local_error(ctx, cc, "header", &err);
	return SMFIS_CONTINUE;
}

static sfsistat
mlt_body(SMFICTX *ctx, unsigned char *chunk, size_t len)
{
	struct connctx	*cc = conn_msg(ctx);
	struct err	 err = ERR_INIT;

	if (cc == NULL)
		return SMFIS_TEMPFAIL;
	/* refuse as soon as the limit is passed, before storing more */
	if (cc->cc_msg->mc_size + len > cc->cc_msg->mc_pol->message_size)
		return too_big(ctx, cc, "body");
	if (msgctx_body(cc->cc_msg, chunk, len, &err) == -1)
		return local_error(ctx, cc, "body", &err);
	return SMFIS_CONTINUE;
}

/* progress_fn for the library: only from the thread running EOM. */
static void
mlt_progress(void *ctx)
{
	(void)smfi_progress(ctx);
}

/*
 * The modifications of a delivered message, in the order Postfix needs:
 * header changes first, then every body replacement back to back (Postfix
 * refuses replacement bodies mixed with other requests). 0 or -1 with
 * *what naming the call that failed.
 */
static int
deliver_edits(SMFICTX *ctx, struct connctx *cc, const struct verdict *v,
    const char **what)
{
	struct msgctx		*mc = cc->cc_msg;
	const struct policy	*pol = mc->mc_pol;
	const char		*tag;
	char			*val, *s;
	unsigned		 i;
	size_t			 k, off, n;
	int			 r;

	/* X-Portcullis from outside: deleted, last first, so that the
	 * indexes (per name, as received) stay valid for Postfix and
	 * Sendmail alike. Ours cannot be forged. */
	for (i = mc->mc_nxpc; i >= 1; i--)
		if (smfi_chgheader(ctx, "X-Portcullis", (int)i, NULL) !=
		    MI_SUCCESS) {
			*what = "chgheader X-Portcullis";
			return -1;
		}

	/* top-level MIME headers that go with a replaced body */
	if (v->new_body != NULL)
		for (k = 0; k < v->nheader_edits; k++) {
			const struct header_edit *he = &v->header_edits[k];

			val = he->value != NULL ? edit_value(he->value) : NULL;
			r = smfi_chgheader(ctx, he->name, 1, val);
			free(val);
			if (r != MI_SUCCESS) {
				*what = "chgheader (strip)";
				return -1;
			}
		}

	tag = v->subject_tag;
	if (tag == NULL && v->disposition == DISP_TAG)
		tag = pol->subject_tag;
	if (tag != NULL && *tag != '\0') {
		s = str_sanitise(tag, 200);
		if (mc->mc_subject == NULL)
			r = smfi_addheader(ctx, "Subject", s);
		else if (strncmp(mc->mc_subject, s, strlen(s)) == 0)
			r = MI_SUCCESS;		/* tagged already */
		else {
			val = xasprintf("%s %s", s, mc->mc_subject);
			r = smfi_chgheader(ctx, "Subject", 1, val);
			free(val);
		}
		free(s);
		if (r != MI_SUCCESS) {
			*what = "subject tag";
			return -1;
		}
	}

	if (pol->tag_header) {
		s = xasprintf("%s (%s)", v->summary != NULL ? v->summary : "",
		    host_name(pol));
		val = header_value(s);
		r = smfi_addheader(ctx, "X-Portcullis", val);
		free(val);
		free(s);
		if (r != MI_SUCCESS) {
			*what = "addheader X-Portcullis";
			return -1;
		}
	}

	if (v->disposition == DISP_HOLD) {
		s = xasprintf("portcullis: %s", v->summary != NULL &&
		    *v->summary != '\0' ? v->summary : "hold");
		val = str_sanitise(s, 500);
		r = smfi_quarantine(ctx, val);
		free(val);
		free(s);
		if (r != MI_SUCCESS) {
			*what = "quarantine";
			return -1;
		}
	}

	/* last, and nothing in between */
	if (v->new_body != NULL) {
		for (off = 0; off < v->new_body_len; off += n) {
			n = v->new_body_len - off;
			if (n > MLT_BODY_CHUNK)
				n = MLT_BODY_CHUNK;
			if (smfi_replacebody(ctx, v->new_body + off, (int)n) !=
			    MI_SUCCESS) {
				*what = "replacebody";
				return -1;
			}
		}
		if (v->new_body_len == 0 &&
		    smfi_replacebody(ctx, (unsigned char *)"", 0) !=
		    MI_SUCCESS) {
			*what = "replacebody";
			return -1;
		}
	}
	return 0;
}

/* One line per message, and in diagnostic mode the decision path. */
static void
log_verdict(const struct connctx *cc, const struct verdict *v,
    enum disposition done, uint64_t ms, const char *failed)
{
	const struct msgctx	*mc = cc->cc_msg;
	const struct finding	*f = NULL;
	struct buf		 b = BUF_INIT;
	char			 idbuf[64];
	const char		*id = msg_logid(cc, idbuf, sizeof idbuf);
	size_t			 i;

	for (i = 0; i < v->nfindings; i++)
		if (v->findings[i].action == v->action) {
			f = &v->findings[i];
			break;
		}
	if (f == NULL && v->nfindings > 0)
		f = &v->findings[0];

	env_fields(cc, &b);
	buf_printf(&b, " dir=%s action=%s", direction_str(v->direction),
	    disposition_str(done));
	if (f != NULL) {
		buf_printf(&b, " reason=%s", rule_str(f->rule));
		field(&b, f->rule == RULE_VIRUS ? "sig" : "detail", f->detail,
		    160);
		field(&b, "part", f->part, 160);
		field(&b, "file", f->filename, 160);
		if (v->nfindings > 1)
			buf_printf(&b, " findings=%zu", v->nfindings);
	}
	if (failed != NULL)
		buf_printf(&b, " error=\"%s\"", failed);
	field(&b, "quarantine", v->quarantine, 64);
	if (v->new_body != NULL)
		buf_puts(&b, " stripped=yes");
	if (!v->scanned)
		buf_puts(&b, " scanned=partial");
	if (msgctx_spilled(mc))
		buf_puts(&b, " spooled=yes");
	buf_printf(&b, " size=%llu ms=%llu",
	    (unsigned long long)mc->mc_size, (unsigned long long)ms);
	log_msg(done >= DISP_TEMPFAIL || done == DISP_HOLD ? LOG_NOTICE :
	    LOG_INFO, "%s: %s", id, buf_cstr(&b));
	buf_free(&b);

	if (mc->mc_pol->log_level < LOG_LEVEL_DIAGNOSTIC)
		return;
	for (i = 0; i < v->nfindings; i++) {
		f = &v->findings[i];
		buf_printf(&b, "finding rule=%s action=%s", rule_str(f->rule),
		    f->action != NULL ? f->action->name : "-");
		field(&b, "part", f->part, 160);
		field(&b, "file", f->filename, 160);
		field(&b, "detail", f->detail, 160);
		log_msg(LOG_INFO, "%s: %s", id, buf_cstr(&b));
		buf_reset(&b);
	}
	for (i = 0; i < v->nexplain; i++) {
		char *s = str_sanitise(v->explain[i], 400);

		log_msg(LOG_INFO, "%s: explain: %s", id, s);
		free(s);
	}
	buf_free(&b);
}

/* Until the first engine is compiled every message waits: tempfail. */
static struct verdict *
not_ready_verdict(const struct policy *pol, const struct envelope *env)
{
	struct verdict	*v = scan_error_verdict(pol, env,
	    "virus scanner not ready");

	/* Never accept nor bounce; say why unless the postmaster wrote
	 * the reply text of an action of their own. */
	if (v->disposition != DISP_TEMPFAIL || v->action == NULL ||
	    v->action->builtin) {
		v->disposition = DISP_TEMPFAIL;
		free(v->reply);
		v->reply = xstrdup(NOT_READY_REPLY);
	}
	return v;
}

static sfsistat
mlt_eom(SMFICTX *ctx)
{
	struct connctx		*cc = conn_msg(ctx);
	struct msgctx		*mc;
	const struct policy	*pol;
	struct av_engine	*eng = NULL;
	struct verdict		*v = NULL;
	struct envelope		 env;
	struct scan_deps	 deps;
	struct err		 err = ERR_INIT;
	const unsigned char	*msg;
	const char		*failed = NULL;
	enum disposition	 done;
	size_t			 len;
	uint64_t		 t0;
	sfsistat		 st;

	if (cc == NULL)
		return SMFIS_TEMPFAIL;		/* invariant broken */
	mc = cc->cc_msg;
	pol = mc->mc_pol;
	msgctx_set_qid(mc, getsym(ctx, "i"));	/* Postfix sends {i} late */
	msgctx_set_auth(mc, getsym(ctx, "{auth_authen}"));

	memset(&env, 0, sizeof env);
	env.sender = mc->mc_sender;
	env.rcpts = (const char *const *)mc->mc_rcpts;
	env.nrcpts = mc->mc_nrcpts;
	env.client_addr = cc->cc_addr;
	env.auth_user = mc->mc_auth;
	env.queue_id = mc->mc_qid;
	env.direction = -1;

	memset(&deps, 0, sizeof deps);
	deps.typer = g.typer;
	deps.progress = mlt_progress;
	deps.progress_ctx = ctx;

	t0 = clock_ms();
	if (pol->av_enabled) {
		eng = g.store != NULL ? av_store_get(g.store) : NULL;
		if (eng == NULL)
			v = not_ready_verdict(pol, &env);
		else {
			deps.av_scan = av_engine_scan;
			deps.av_ctx = eng;
			deps.av_db_time = av_engine_db_time(eng);
			deps.av_db_version = av_engine_db_version(eng);
		}
	}
	if (v == NULL && (msgctx_bytes(mc, &msg, &len, &err) == -1 ||
	    scan_message(pol, &deps, &env, msg, len, &v, &err) == -1)) {
		v = scan_error_verdict(pol, &env, err.msg);
		char idbuf[64];

		log_msg(LOG_ERR, "%s: scan failed: %s",
		    msg_logid(cc, idbuf, sizeof idbuf), err.msg);
	}

	done = v->disposition;
	switch (v->disposition) {
	case DISP_REJECT:
		set_reply(ctx, v->reply, '5');
		st = SMFIS_REJECT;
		break;
	case DISP_TEMPFAIL:
		set_reply(ctx, v->reply, '4');
		st = SMFIS_TEMPFAIL;
		break;
	case DISP_DISCARD:
		st = SMFIS_DISCARD;
		break;
	default:		/* accept, tag, strip, hold: deliver */
		st = SMFIS_CONTINUE;
		if (deliver_edits(ctx, cc, v, &failed) == -1) {
			/* never deliver content we meant to change */
			set_reply(ctx, NULL, '4');
			st = SMFIS_TEMPFAIL;
			done = DISP_TEMPFAIL;
		}
		break;
	}
	log_verdict(cc, v, done, clock_ms() - t0, failed);
	verdict_free(&v);
	av_engine_unref(&eng);
	msgctx_reset(mc);
	return st;
}

static sfsistat
mlt_abort(SMFICTX *ctx)
{
	struct connctx	*cc = smfi_getpriv(ctx);

	if (cc != NULL)
		msgctx_reset(cc->cc_msg);
	return SMFIS_CONTINUE;
}

static sfsistat
mlt_close(SMFICTX *ctx)
{
	struct connctx	*cc = smfi_getpriv(ctx);	/* NULL without connect */

	if (cc != NULL) {
		smfi_setpriv(ctx, NULL);
		conn_free(&cc);
	}
	return SMFIS_CONTINUE;
}

static struct smfiDesc mlt_desc = {
	.xxfi_name = (char *)"portcullis",
	.xxfi_version = SMFI_VERSION,
	.xxfi_flags = SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_CHGBODY |
	    SMFIF_QUARANTINE,
	.xxfi_connect = mlt_connect,
	.xxfi_helo = mlt_helo,
	.xxfi_envfrom = mlt_envfrom,
	.xxfi_envrcpt = mlt_envrcpt,
	.xxfi_header = mlt_header,
	.xxfi_eoh = mlt_eoh,
	.xxfi_body = mlt_body,
	.xxfi_eom = mlt_eom,
	.xxfi_abort = mlt_abort,
	.xxfi_close = mlt_close,
	.xxfi_data = mlt_data,
};

/* ---- reloads ----------------------------------------------------------- */

static bool
str_differ(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a != b;
	return strcmp(a, b) != 0;
}

/* Settings that need a new engine, not just a recheck of the files. */
static bool
av_settings_differ(const struct policy *a, const struct policy *b)
{
	return a->av_enabled != b->av_enabled ||
	    str_differ(signature_dir(a), signature_dir(b)) ||
	    a->av_max_scansize != b->av_max_scansize ||
	    a->av_max_filesize != b->av_max_filesize ||
	    a->av_max_recursion != b->av_max_recursion ||
	    a->av_max_files != b->av_max_files ||
	    a->av_heuristics != b->av_heuristics ||
	    a->scan_time_ms != b->scan_time_ms ||
	    a->max_scans != b->max_scans;
}

static void
av_wake(bool force)
{
	pthread_mutex_lock(&g.lock);
	g.av_wake = true;
	g.av_force |= force;
	pthread_cond_broadcast(&g.av_cond);
	pthread_mutex_unlock(&g.lock);
}

/* Loads and validates the file anew; swaps only a good policy in. */
static void
reload_policy(int sig)
{
	const char	*path = cli_policy_path(g.opts);
	struct policy	*np = NULL, *old;
	char		*errors = NULL, *line, *next;
	unsigned	 n = 0;
	bool		 force;

	if (policy_load(path, g.opts->ov, g.opts->nov, &np, &errors) == -1) {
		for (line = errors; line != NULL && *line != '\0';
		    line = next) {
			next = strchr(line, '\n');
			if (next != NULL)
				*next++ = '\0';
			if (*line == '\0')
				continue;
			log_msg(LOG_ERR, "policy reload: %s", line);
			n++;
		}
		log_msg(LOG_ERR, "policy reload (%s) failed with %u error%s: "
		    "the policy in force is kept", strsignal(sig), n,
		    n == 1 ? "" : "s");
		free(errors);
		return;
	}
	if (g.store != NULL)
		av_store_set_policy(g.store, np, signature_dir(np));
	pthread_mutex_lock(&g.lock);
	old = g.pol;
	g.pol = np;
	force = av_settings_differ(old, np);
	pthread_mutex_unlock(&g.lock);
	av_wake(force);

	if (str_differ(old->socket, np->socket) ||
	    str_differ(old->user, np->user) ||
	    str_differ(old->pid_file, np->pid_file) ||
	    old->socket_mode != np->socket_mode ||
	    str_differ(old->socket_group, np->socket_group))
		log_msg(LOG_WARNING, "policy reload: [daemon] socket, "
		    "socket_mode, socket_group, user and pid_file take effect "
		    "at the next start");
	log_msg(LOG_INFO, "policy reloaded (%s) from %s", strsignal(sig),
	    path);
	policy_unref(&old);
}

/* ---- threads --------------------------------------------------------- */

/*
 * smfi_stop() sets libmilter's stop flag and then closes the listening
 * socket under the lock the listener holds while it sits in poll() for up
 * to 5 s, so it blocks until that poll ends. It runs in a thread of its
 * own while this one interrupts the poll with SIGALRM (its handler does
 * nothing; sent to that thread alone), repeatedly, since a signal that
 * lands outside the poll is lost, until smfi_main() has returned.
 */
static void
noop_handler(int sig)
{
	(void)sig;
}

static void *
stop_thread(void *arg)
{
	(void)arg;
	smfi_stop();
	return NULL;
}

static void
stop_milter(void)
{
	struct timespec	ts = { 0, 50 * 1000000L };
	pthread_t	tid;
	int		i;

	if (pthread_create(&tid, NULL, stop_thread, NULL) != 0) {
		smfi_stop();		/* slower, but it stops */
		return;
	}
	pthread_detach(tid);
	for (i = 0; i < 200 && !atomic_load(&g.main_returned); i++) {
		nanosleep(&ts, NULL);
		pthread_kill(g.main_thread, SIGALRM);
	}
}

/*
 * Graceful stop: libmilter stops serving open sessions once smfi_stop()
 * is called, so first drain: new MAIL FROMs get 421 (g.stopping) while
 * the messages in flight finish, up to [daemon] shutdown_timeout; then
 * stop. A second SIGTERM or SIGINT stops at once.
 */
static void
drain(void)
{
	struct timespec	 ts = { 0, 50 * 1000000L };
	struct policy	*pol = current_policy();
	uint64_t	 deadline = clock_ms() + pol->shutdown_timeout_ms;
	sigset_t	 set;
	int		 sig;

	policy_unref(&pol);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	while (msgctx_active() > 0 && clock_ms() < deadline) {
		sig = sigtimedwait(&set, NULL, &ts);
		if (sig == SIGTERM || sig == SIGINT) {
			log_msg(LOG_INFO, "stopping now (%s)", strsignal(sig));
			break;
		}
	}
	if (msgctx_active() > 0)
		log_msg(LOG_WARNING, "stopping with %u message(s) still in "
		    "flight ([daemon] shutdown_timeout); the MTA will "
		    "tempfail them", msgctx_active());
}

static void *
signal_thread(void *arg)
{
	sigset_t	set;
	int		sig;

	(void)arg;
	our_signals(&set);
	for (;;) {
		sig = sigwaitinfo(&set, NULL);
		if (sig == -1) {
			if (errno != EINTR)
				log_msg(LOG_ERR, "sigwaitinfo: %s",
				    strerror(errno));
			continue;
		}
		switch (sig) {
		case SIGHUP:
		case SIGUSR1:
			reload_policy(sig);
			break;
		case SIGUSR2:
			log_msg(LOG_INFO, "signature reload requested (%s)",
			    strsignal(sig));
			av_wake(true);
			break;
		default:	/* SIGTERM, SIGINT */
			log_msg(LOG_INFO, "stopping (%s): finishing %u "
			    "message(s) in flight", strsignal(sig),
			    msgctx_active());
			atomic_store(&g.stopping, true);
			drain();
			stop_milter();
			return NULL;
		}
	}
}

/* Loads the first engine, then rechecks the database every interval. */
static void *
av_thread(void *arg)
{
	struct timespec	 ts;
	struct err	 err;
	struct policy	*pol;
	struct av_engine *e;
	bool		 force, first;
	uint64_t	 ms;
	int		 r;

	(void)arg;
	pthread_mutex_lock(&g.lock);
	while (!g.av_quit) {
		pol = policy_ref(g.pol);
		force = g.av_force;
		g.av_force = g.av_wake = false;
		pthread_mutex_unlock(&g.lock);

		if (pol->av_enabled && g.store != NULL) {
			e = av_store_get(g.store);
			first = e == NULL;
			av_engine_unref(&e);
			err = (struct err)ERR_INIT;
			r = av_store_reload(g.store, force || first, &err);
			if (r == 1 && (e = av_store_get(g.store)) != NULL) {
				log_msg(LOG_INFO, "signatures loaded from %s: "
				    "%u signatures, version %s, %llu ms",
				    signature_dir(pol), av_engine_signatures(e),
				    av_engine_db_version(e) != NULL ?
				    av_engine_db_version(e) : "unknown",
				    (unsigned long long)av_engine_load_ms(e));
				av_engine_unref(&e);
			} else if (r == -1)
				log_msg(first ? LOG_ERR : LOG_WARNING,
				    "signatures %s: %s (%s)",
				    signature_dir(pol), err.msg, first ?
				    "messages get tempfail until the scanner "
				    "is ready" : "the loaded ones stay");
		}
		ms = pol->av_check_interval_ms;
		policy_unref(&pol);

		pthread_mutex_lock(&g.lock);
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_sec += (time_t)(ms / 1000);
		ts.tv_nsec += (long)(ms % 1000) * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		while (!g.av_quit && !g.av_wake &&
		    pthread_cond_timedwait(&g.av_cond, &g.lock, &ts) == 0)
			;
	}
	pthread_mutex_unlock(&g.lock);
	return NULL;
}

/* ---- start-up -------------------------------------------------------- */

/* Errors before the daemon is up: to the log and, if nobody reads the
 * log copy there, to stderr. */
static void
startup_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
startup_error(const char *fmt, ...)
{
	char	line[1024];
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	log_msg(LOG_ERR, "%s", line);
	if (!log_to_stderr())
		fprintf(stderr, "portcullis: %s\n", line);
}

/* The path of a unix socket spec, or NULL for inet/inet6. */
static const char *
unix_path(const char *conn)
{
	if (strncmp(conn, "unix:", 5) == 0)
		return conn + 5;
	if (strncmp(conn, "local:", 6) == 0)
		return conn + 6;
	if (conn[0] == '/')
		return conn;
	return NULL;
}

/* True when a live daemon already answers on the unix socket at path. */
static bool
socket_live(const char *path)
{
	struct sockaddr_un	sun;
	int			fd;
	bool			live;

	if (strlen(path) >= sizeof sun.sun_path)
		return false;
	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, path, strlen(path));
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return false;
	live = connect(fd, (struct sockaddr *)&sun, sizeof sun) == 0;
	close(fd);
	return live;
}

struct creds {
	bool	drop;
	uid_t	uid;
	gid_t	gid;
	char	name[64];
	bool	have_group;
	gid_t	sock_gid;
};

/* Looks the user and the socket group up before anything is opened. */
static int
resolve_creds(const struct policy *pol, struct creds *cr)
{
	struct passwd	*pw;
	struct group	*gr;
	bool		 root = geteuid() == 0;

	memset(cr, 0, sizeof *cr);
	if (root && pol->user == NULL)
		log_msg(LOG_WARNING, "[daemon] user is empty: staying root");
	else if (root) {
		if ((pw = getpwnam(pol->user)) == NULL) {
			startup_error("[daemon] user \"%s\" does not exist: "
			    "create it or set another user", pol->user);
			return -1;
		}
		cr->drop = pw->pw_uid != 0;
		cr->uid = pw->pw_uid;
		cr->gid = pw->pw_gid;
		snprintf(cr->name, sizeof cr->name, "%s", pw->pw_name);
	}
	if (pol->socket_group != NULL) {
		if ((gr = getgrnam(pol->socket_group)) != NULL) {
			cr->have_group = true;
			cr->sock_gid = gr->gr_gid;
		} else if (root) {
			startup_error("[daemon] socket_group \"%s\" does not "
			    "exist", pol->socket_group);
			return -1;
		} else
			log_msg(LOG_WARNING, "[daemon] socket_group \"%s\" "
			    "does not exist: socket group left as is",
			    pol->socket_group);
	}
	return 0;
}

static int
open_socket(const struct policy *pol, const struct creds *cr)
{
	const char	*path = unix_path(g.conn);
	mode_t		 old;
	int		 r;

	if (path != NULL && socket_live(path)) {
		startup_error("%s: another daemon is listening there", path);
		return -1;
	}
	if (smfi_setconn((char *)g.conn) != MI_SUCCESS) {
		startup_error("bad socket \"%s\": want unix:PATH, "
		    "inet:PORT@HOST or inet6:PORT@HOST", g.conn);
		return -1;
	}
	if (smfi_register(mlt_desc) != MI_SUCCESS) {
		startup_error("smfi_register failed");
		return -1;
	}
	smfi_settimeout(MLT_TIMEOUT_S);
	old = umask(007);	/* the socket is born 0660 at most */
	r = smfi_opensocket(true);	/* true: remove a stale socket */
	umask(old);
	if (r != MI_SUCCESS) {
		startup_error("cannot open socket %s (does its directory "
		    "exist? is the port free?)", g.conn);
		return -1;
	}
	if (path == NULL)
		return 0;
	if (chmod(path, pol->socket_mode) == -1) {
		startup_error("chmod %s: %s", path, strerror(errno));
		return -1;
	}
	if (cr->have_group && chown(path, cr->drop ? cr->uid : (uid_t)-1,
	    cr->sock_gid) == -1) {
		if (geteuid() == 0) {
			startup_error("chown %s: %s", path, strerror(errno));
			return -1;
		}
		log_msg(LOG_WARNING, "socket %s: cannot give it group %s: %s",
		    path, pol->socket_group, strerror(errno));
	}
	return 0;
}

/* The spool directory exists and belongs to the daemon's user. */
static int
prepare_spool(const struct policy *pol, const struct creds *cr)
{
	if (pol->spool_dir == NULL)
		return 0;
	if (mkdir(pol->spool_dir, 0700) == -1) {
		if (errno == EEXIST)
			return 0;
		startup_error("[daemon] spool_dir %s: %s", pol->spool_dir,
		    strerror(errno));
		return -1;
	}
	if (cr->drop &&
	    chown(pol->spool_dir, cr->uid, cr->gid) == -1) {
		startup_error("chown %s: %s", pol->spool_dir, strerror(errno));
		return -1;
	}
	return 0;
}

static int
write_pidfile(const struct policy *pol)
{
	char	line[32];
	int	fd, n;

	if (pol->pid_file == NULL)
		return 0;
	fd = open(pol->pid_file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0644);
	if (fd == -1) {
		startup_error("[daemon] pid_file %s: %s", pol->pid_file,
		    strerror(errno));
		return -1;
	}
	n = snprintf(line, sizeof line, "%ld\n", (long)getpid());
	if (write(fd, line, (size_t)n) != n) {
		startup_error("%s: write failed", pol->pid_file);
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

static int
drop_privileges(const struct creds *cr)
{
	if (!cr->drop)
		return 0;
	if (initgroups(cr->name, cr->gid) == -1 || setgid(cr->gid) == -1 ||
	    setuid(cr->uid) == -1) {
		startup_error("cannot become user %s: %s", cr->name,
		    strerror(errno));
		return -1;
	}
	if (setuid(0) != -1) {
		startup_error("root privileges could not be dropped");
		return -1;
	}
	return 0;
}

/*
 * Forks into the background before any thread exists. The parent waits
 * for the child to say whether it started (one status byte on a pipe) and
 * returns that status; the child gets *ready_fd to write it to.
 * Returns -1 in the child, the exit status in the parent.
 */
static int
daemonize(int *ready_fd)
{
	int		p[2], fd;
	pid_t		pid;
	unsigned char	c;
	ssize_t		n;

	fflush(NULL);
	if (pipe(p) == -1) {
		startup_error("pipe: %s", strerror(errno));
		return CLI_EX_SOFTWARE;
	}
	if ((pid = fork()) == -1) {
		startup_error("fork: %s", strerror(errno));
		return CLI_EX_SOFTWARE;
	}
	if (pid > 0) {
		close(p[1]);
		while ((n = read(p[0], &c, 1)) == -1 && errno == EINTR)
			;
		close(p[0]);
		if (n != 1) {
			fprintf(stderr, "portcullis: the daemon did not start; "
			    "see the mail log\n");
			return CLI_EX_SOFTWARE;
		}
		return c;
	}
	close(p[0]);
	setsid();
	if (chdir("/") == -1)
		log_msg(LOG_WARNING, "chdir /: %s", strerror(errno));
	if ((fd = open("/dev/null", O_RDWR)) != -1) {
		dup2(fd, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		if (fd > 2)
			close(fd);
	}
	*ready_fd = p[1];
	return -1;
}

static void
tell_parent(int *ready_fd, int status)
{
	unsigned char	c = (unsigned char)status;

	if (*ready_fd == -1)
		return;
	if (write(*ready_fd, &c, 1) != 1)
		log_msg(LOG_WARNING, "could not report start-up to the parent");
	close(*ready_fd);
	*ready_fd = -1;
}

int
milter_run(const struct cli_opts *o)
{
	struct policy		*pol = NULL;
	struct creds		 cr;
	struct err		 err = ERR_INIT;
	pthread_condattr_t	 ca;
	pthread_t		 tid;
	sigset_t		 set;
	struct sigaction	 sa;
	int			 ready_fd = -1, st, r;

	if (cli_load_policy(o, &pol) == -1)
		return CLI_EX_CONFIG;
	g.opts = o;
	g.pol = pol;
	g.main_thread = pthread_self();
	g.conn = o->socket != NULL ? o->socket : pol->socket;
	if (g.conn == NULL) {
		fprintf(stderr, "portcullis: no socket: set [daemon] socket "
		    "or give --socket\n");
		return CLI_EX_CONFIG;
	}
	if (gethostname(g.host, sizeof g.host) != 0 || g.host[0] == '\0')
		snprintf(g.host, sizeof g.host, "localhost");
	g.host[sizeof g.host - 1] = '\0';
	log_open();

	/* Before any thread: every thread inherits this mask, so only the
	 * signal thread ever takes these signals. */
	our_signals(&set);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = noop_handler;	/* no SA_RESTART: poll() returns */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, NULL);

	if (resolve_creds(pol, &cr) == -1)
		return CLI_EX_CONFIG;
	if (typer_new(&g.typer, &err) == -1) {
		startup_error("%s", err.msg);
		return CLI_EX_SOFTWARE;
	}
	if (open_socket(pol, &cr) == -1)
		return CLI_EX_CONFIG;
	if (!o->foreground && (st = daemonize(&ready_fd)) != -1)
		return st;		/* the parent */
	if (prepare_spool(pol, &cr) == -1 || write_pidfile(pol) == -1 ||
	    drop_privileges(&cr) == -1) {
		tell_parent(&ready_fd, CLI_EX_CONFIG);
		return CLI_EX_CONFIG;
	}

	/* Threads from here on. */
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&g.av_cond, &ca);
	pthread_condattr_destroy(&ca);
	g.store = av_store_new(pol, signature_dir(pol));
	if (g.store == NULL && pol->av_enabled)
		log_msg(LOG_ERR, "antivirus: no signature store; messages "
		    "get tempfail");
	if ((r = pthread_create(&tid, NULL, signal_thread, NULL)) != 0 ||
	    (r = pthread_detach(tid)) != 0 ||
	    (r = pthread_create(&tid, NULL, av_thread, NULL)) != 0 ||
	    (r = pthread_detach(tid)) != 0) {
		startup_error("pthread_create: %s", strerror(r));
		tell_parent(&ready_fd, CLI_EX_SOFTWARE);
		return CLI_EX_SOFTWARE;
	}
	log_msg(LOG_INFO, "starting: socket=%s policy=%s antivirus=%s "
	    "user=%s", g.conn, cli_policy_path(o),
	    pol->av_enabled ? signature_dir(pol) : "disabled",
	    cr.drop ? cr.name : "unchanged");
	tell_parent(&ready_fd, CLI_EX_OK);

	r = smfi_main();
	atomic_store(&g.main_returned, true);

	/* Stopped (the signal thread drained the messages in flight). */
	atomic_store(&g.stopping, true);
	pol = current_policy();
	pthread_mutex_lock(&g.lock);
	g.av_quit = true;
	pthread_cond_broadcast(&g.av_cond);
	pthread_mutex_unlock(&g.lock);
	if (pol->pid_file != NULL && unlink(pol->pid_file) == -1 &&
	    errno != ENOENT)
		log_msg(LOG_WARNING, "could not remove %s: %s", pol->pid_file,
		    strerror(errno));
	policy_unref(&pol);
	log_msg(LOG_INFO, "stopped");
	log_close();
	/* The policy, the store and the typer stay: sessions that outlived
	 * the timeout may still hold them until the process exits. */
	return r == MI_SUCCESS ? CLI_EX_OK : CLI_EX_SOFTWARE;
}
