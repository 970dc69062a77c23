/*
 * milter/milter.c - the libmilter callbacks and the application of the
 * verdict in the SMTP session.
 *
 * Callbacks collect the envelope and the bytes (msgctx.c), hand the
 * message to a scanning worker at EOM (pool.h: the worker calls
 * scan_message(); this process never parses content) and map the verdict
 * to SMFIS_* and smfi_* calls; the library decides. Early refusals (SIZE=, recipients, size, messages
 * per connection) happen here, before the body is read.
 *
 * Debian's libmilter runs the callbacks of one connection on different
 * worker threads (never two at once), so per-connection state lives only
 * behind smfi_setpriv(): struct connctx, created in connect (or at the
 * first callback if the MTA skipped it), freed in close. Each message pins
 * the policy at MAIL FROM.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/types.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <ctype.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libmilter/mfapi.h>

#include "alerts.h"
#include "log.h"
#include "daemon.h"
#include "milter.h"
#include "metrics.h"
#include "msgctx.h"
#include "notify.h"
#include "outbox.h"
#include "pool.h"
#ifdef PORTCULLIS_INPROCESS_SCAN
#include "inproc.h"
#endif
#include "events.h"
#include "quarantine.h"
#include "scan.h"
#include "util.h"

#define MLT_REPLY_MAX	900	/* SMTP reply text (libmilter allows 980) */
#define MLT_HDR_MAX	900	/* X-Portcullis value before folding */
#define MLT_BODY_CHUNK	(1024 * 1024)	/* smfi_replacebody takes an int */

#define NOT_READY_REPLY	"451 4.7.1 Virus scanner not ready, try again later"
#define MLT_WAIT_MARGIN_MS	30000	/* beyond queue + scan_time */

/* One SMTP connection; created in connect, freed in close. */
struct connctx {
	unsigned long long	 cc_id;		/* c=N in the log */
	char			*cc_host;	/* PTR name or [addr], sanitised */
	char			*cc_addr;	/* numeric, NULL = unknown */
	char			*cc_helo;	/* sanitised */
	char			*cc_daemon;	/* {daemon_name}, sanitised */
	unsigned		 cc_nmsgs;	/* MAIL FROMs seen */
	unsigned long		 cc_steps;	/* negotiated SMFIP_* */
	struct msgctx		*cc_msg;
	const struct policy	*cc_ovl;	/* the message's overlay (of
						 * cc_msg->mc_pol), set by the
						 * first recipient */
};

static atomic_ullong	conn_seq;	/* c=N in the log */


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

/* The id of a line about the message (log.h): the queue id, or
 * "NOQUEUE c=N" (c=N after the event) before the MTA has told us one. */
static const char *
msg_logid(const struct connctx *cc, char *buf, size_t len)
{
	if (cc->cc_msg != NULL && cc->cc_msg->mc_qid != NULL)
		return cc->cc_msg->mc_qid;
	snprintf(buf, len, "NOQUEUE c=%llu", cc->cc_id);
	return buf;
}

/* " client=... from=<...> rcpts=N [auth=...]", sanitised, into b. */
static void
env_fields(const struct connctx *cc, struct buf *b)
{
	const struct msgctx	*mc = cc->cc_msg;
	char			*s;

	/* No reverse name: libmilter's host is "[addr]"; Postfix writes
	 * unknown[addr]. */
	buf_printf(b, " client=%s", cc->cc_host[0] == '[' &&
	    cc->cc_addr != NULL ? "unknown" : cc->cc_host);
	if (cc->cc_addr != NULL)
		buf_printf(b, "[%s]", cc->cc_addr);
	s = xasprintf("<%s>", mc->mc_sender != NULL ? mc->mc_sender : "");
	log_kv(b, "from", s, 258);		/* "<>" too */
	free(s);
	buf_printf(b, " rcpts=%zu", mc->mc_nrcpts);
	if (mc->mc_nrefused != 0)
		buf_printf(b, " rcpts_refused=%u", mc->mc_nrefused);
	log_kv(b, "auth", mc->mc_auth, 128);
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
set_reply(SMFICTX *ctx, const char *id, const char *reply, char cls)
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
		log_event(LOG_WARNING, id, "warning", "smfi_setreply failed",
		    " reply=\"%s %s\"", rcode, xcode);
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

	cc->cc_id = atomic_fetch_add(&conn_seq, 1) + 1;
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
	const char	*id = msg_logid(cc, idbuf, sizeof idbuf);
	const char	*action = st == SMFIS_REJECT ? "reject" : "tempfail";
	bool		 rcpt = strcmp(stage, "rcpt") == 0;

	if (smfi_setreply(ctx, (char *)rcode, (char *)xcode,
	    (char *)text) != MI_SUCCESS)
		log_event(LOG_WARNING, id, "warning", "smfi_setreply failed",
		    " reply=\"%s %s\"", rcode, xcode);
	/* One recipient refused: event rcpt; the message refused before
	 * its end: its verdict, with the stage. */
	env_fields(cc, &b);
	buf_printf(&b, " action=%s reason=%s", action, reason);
	if (!rcpt)
		buf_printf(&b, " stage=%s", stage);
	if (detail != NULL)
		buf_printf(&b, " %s", detail);
	buf_printf(&b, " reply=\"%s %s\"", rcode, xcode);
	log_line(LOG_INFO, id, rcpt ? "rcpt" : "verdict", buf_cstr(&b));
	buf_free(&b);
	if (!rcpt)
		msgctx_reset(cc->cc_msg);	/* abort will not be called */
	return st;
}

/* Our own trouble (spool file): 451 and end the message. */
static sfsistat
local_error(SMFICTX *ctx, struct connctx *cc, const char *stage,
    const struct err *err)
{
	char	idbuf[64];

	log_event(LOG_ERR, msg_logid(cc, idbuf, sizeof idbuf), "error",
	    err->msg, " stage=%s", stage);
	return refuse(ctx, cc, SMFIS_TEMPFAIL, "451", "4.3.0",
	    "Temporary local problem, try again later", stage, "error",
	    NULL);
}

/* ---- callbacks ------------------------------------------------------- */

/*
 * What we need of the MTA, and as few round trips as it allows: connect,
 * HELO, DATA, headers and the end of headers get no reply (a problem found
 * in the headers is answered at the first body chunk); unknown commands
 * are not sent. MAIL, RCPT and body chunks keep their replies: limits are
 * refused there, as soon as they are passed.
 */
static sfsistat
mlt_negotiate(SMFICTX *ctx, unsigned long f0, unsigned long f1,
    unsigned long f2, unsigned long f3, unsigned long *pf0,
    unsigned long *pf1, unsigned long *pf2, unsigned long *pf3)
{
	const unsigned long	 want = SMFIF_ADDHDRS | SMFIF_CHGHDRS |
	    SMFIF_CHGBODY | SMFIF_QUARANTINE;
	struct connctx		*cc;

	(void)f2;
	(void)f3;
	if ((f0 & want) != want)
		return SMFIS_ALL_OPTS;	/* libmilter refuses and logs why */
	*pf0 = want;
	*pf1 = f1 & (SMFIP_NR_CONN | SMFIP_NR_HELO | SMFIP_NR_HDR |
	    SMFIP_NR_EOH | SMFIP_NR_DATA | SMFIP_NOUNKNOWN);
	*pf2 = 0;
	*pf3 = 0;
	if ((cc = conn_get(ctx)) != NULL)
		cc->cc_steps = *pf1;
	return SMFIS_CONTINUE;
}

/* st, or SMFIS_NOREPLY where the connection negotiated no reply. */
static sfsistat
answer(SMFICTX *ctx, unsigned long nr_step, sfsistat st)
{
	const struct connctx	*cc = smfi_getpriv(ctx);

	return cc != NULL && (cc->cc_steps & nr_step) != 0 ? SMFIS_NOREPLY :
	    st;
}

static sfsistat
mlt_connect(SMFICTX *ctx, char *hostname, _SOCK_ADDR *hostaddr)
{
	struct connctx	*old = smfi_getpriv(ctx);	/* from negotiate */
	struct connctx	*cc = conn_new(ctx, hostname, hostaddr);

	cc->cc_steps = old != NULL ? old->cc_steps : 0;
	if (smfi_setpriv(ctx, cc) != MI_SUCCESS) {
		conn_free(&cc);			/* old stays in place */
		return answer(ctx, SMFIP_NR_CONN, SMFIS_TEMPFAIL);
	}
	conn_free(&old);
	return answer(ctx, SMFIP_NR_CONN, SMFIS_CONTINUE);
}

static sfsistat
mlt_helo(SMFICTX *ctx, char *helo)
{
	struct connctx	*cc = conn_get(ctx);

	if (cc == NULL)
		return answer(ctx, SMFIP_NR_HELO, SMFIS_TEMPFAIL);
	free(cc->cc_helo);
	cc->cc_helo = str_sanitise(helo != NULL ? helo : "", 255);
	return answer(ctx, SMFIP_NR_HELO, SMFIS_CONTINUE);
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
	pol = daemon_policy();
	sender = unbracket(argv != NULL ? argv[0] : NULL);
	msgctx_begin(mc, pol, sender);
	cc->cc_ovl = NULL;
	free(sender);
	msgctx_set_qid(mc, getsym(ctx, "i"));
	msgctx_set_auth(mc, getsym(ctx, "{auth_authen}"));
	cc->cc_nmsgs++;

	if (daemon_stopping())
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

/* The policy (overlay) recipient rcpt would be judged by. */
static const struct policy *
rcpt_policy(const struct connctx *cc, const char *rcpt)
{
	const struct msgctx	*mc = cc->cc_msg;
	const char		**rcpts;
	const struct policy	*pol;
	struct envelope		 env;

	rcpts = xcalloc(mc->mc_nrcpts + 1, sizeof *rcpts);
	if (mc->mc_nrcpts > 0)		/* mc_rcpts is NULL before */
		memcpy(rcpts, mc->mc_rcpts, mc->mc_nrcpts * sizeof *rcpts);
	rcpts[mc->mc_nrcpts] = rcpt;
	memset(&env, 0, sizeof env);
	env.sender = mc->mc_sender;
	env.rcpts = rcpts;
	env.nrcpts = mc->mc_nrcpts + 1;
	env.client_addr = cc->cc_addr;
	env.auth_user = mc->mc_auth;
	env.direction = -1;
	pol = policy_select(mc->mc_pol, scan_direction(mc->mc_pol, &env), rcpt,
	    mc->mc_sender, mc->mc_auth, NULL);
	free(rcpts);
	return pol;
}

static sfsistat
mlt_envrcpt(SMFICTX *ctx, char **argv)
{
	struct connctx		*cc = conn_msg(ctx);
	struct msgctx		*mc;
	const struct policy	*ovl;
	char			*rcpt, detail[64];

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
	ovl = rcpt_policy(cc, rcpt);
	if (mc->mc_nrcpts == 0)
		cc->cc_ovl = ovl;
	else if (ovl != cc->cc_ovl) {
		/* One message, one policy: Postfix sends this recipient in
		 * a transaction of its own, judged by its own policy. */
		struct buf	b = BUF_INIT;
		sfsistat	st;

		log_kv(&b, "rcpt", rcpt, 256);
		buf_printf(&b, " policy=%s rcpt_policy=%s", cc->cc_ovl->name,
		    ovl->name);
		free(rcpt);
		st = refuse(ctx, cc, SMFIS_TEMPFAIL, "452", "4.5.3",
		    "Recipient under another content policy, it will be "
		    "accepted in another transaction", "rcpt", "policy_split",
		    buf_cstr(&b) + 1);
		buf_free(&b);
		return st;
	}
	msgctx_add_rcpt(mc, rcpt);
	free(rcpt);
	return SMFIS_CONTINUE;
}

static sfsistat
mlt_data(SMFICTX *ctx)
{
	struct connctx	*cc = conn_msg(ctx);

	if (cc == NULL)
		return answer(ctx, SMFIP_NR_DATA, SMFIS_TEMPFAIL);
	msgctx_set_qid(cc->cc_msg, getsym(ctx, "i"));
	return answer(ctx, SMFIP_NR_DATA, SMFIS_CONTINUE);
}

static sfsistat
too_big(SMFICTX *ctx, struct connctx *cc, const char *stage)
{
	char	detail[64];

	snprintf(detail, sizeof detail, "limit=%llu",
	    (unsigned long long)cc->cc_msg->mc_pol->message_size);
	return refuse(ctx, cc, SMFIS_REJECT, "552", "5.3.4",
	    "Message too big for this system", stage, "size_limit", detail);
}

/*
 * After a problem in a callback the MTA may expect no reply to: answered
 * now if it does expect one, else kept for the end of the message.
 */
static sfsistat
deferred(SMFICTX *ctx, struct connctx *cc, unsigned long nr_step)
{
	struct msgctx	*mc = cc->cc_msg;

	if ((cc->cc_steps & nr_step) != 0)
		return SMFIS_NOREPLY;
	if (mc->mc_deferred == MC_ERROR)
		return local_error(ctx, cc, mc->mc_deferred_stage,
		    &mc->mc_deferred_err);
	if (mc->mc_deferred == MC_TOO_BIG)
		return too_big(ctx, cc, mc->mc_deferred_stage);
	return SMFIS_CONTINUE;
}

static void
defer(struct msgctx *mc, int what, const char *stage)
{
	if (mc->mc_deferred != MC_OK)
		return;
	mc->mc_deferred = what;
	mc->mc_deferred_stage = stage;
}

static sfsistat
mlt_header(SMFICTX *ctx, char *name, char *value)
{
	struct connctx	*cc = conn_msg(ctx);
	struct msgctx	*mc;

	if (cc == NULL)
		return answer(ctx, SMFIP_NR_HDR, SMFIS_TEMPFAIL);
	mc = cc->cc_msg;
	if (mc->mc_deferred == MC_OK && msgctx_header(mc, name != NULL ? name :
	    "", value != NULL ? value : "", &mc->mc_deferred_err) == -1)
		defer(mc, MC_ERROR, "header");
	if (mc->mc_size > mc->mc_pol->message_size)
		defer(mc, MC_TOO_BIG, "header");
	return deferred(ctx, cc, SMFIP_NR_HDR);
}

static sfsistat
mlt_eoh(SMFICTX *ctx)
{
	struct connctx	*cc = conn_msg(ctx);
	struct msgctx	*mc;

	if (cc == NULL)
		return answer(ctx, SMFIP_NR_EOH, SMFIS_TEMPFAIL);
	mc = cc->cc_msg;
	msgctx_set_qid(mc, getsym(ctx, "i"));
	if (mc->mc_deferred == MC_OK &&
	    msgctx_eoh(mc, &mc->mc_deferred_err) == -1)
		defer(mc, MC_ERROR, "header");
	return deferred(ctx, cc, SMFIP_NR_EOH);
}

static sfsistat
mlt_body(SMFICTX *ctx, unsigned char *chunk, size_t len)
{
	struct connctx	*cc = conn_msg(ctx);
	struct msgctx	*mc;

	if (cc == NULL)
		return answer(ctx, SMFIP_NR_BODY, SMFIS_TEMPFAIL);
	mc = cc->cc_msg;
	/* past the limit nothing more is stored: refused now or at EOM */
	if (mc->mc_size + len > mc->mc_pol->message_size)
		defer(mc, MC_TOO_BIG, "body");
	if (mc->mc_deferred == MC_OK &&
	    msgctx_body(mc, chunk, len, &mc->mc_deferred_err) == -1)
		defer(mc, MC_ERROR, "body");
	return deferred(ctx, cc, SMFIP_NR_BODY);
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
		    daemon_hostname(pol));
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
    enum disposition done, uint64_t ms, const char *failed, const char *qid)
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
	if (cc->cc_ovl != NULL && cc->cc_ovl != mc->mc_pol)
		buf_printf(&b, " policy=%s", cc->cc_ovl->name);
	if (f != NULL) {
		buf_printf(&b, " reason=%s", rule_str(f->rule));
		log_kv(&b, f->rule == RULE_VIRUS ? "sig" : "detail", f->detail,
		    160);
		log_kv(&b, "part", f->part, 160);
		log_kv(&b, "file", f->filename, 160);
		if (v->nfindings > 1)
			buf_printf(&b, " findings=%zu", v->nfindings);
	}
	if (failed != NULL)
		buf_printf(&b, " error=\"%s\"", failed);
	log_kv(&b, "quarantine", v->quarantine, 64);
	log_kv(&b, "quarantine_id", qid, 64);
	if (v->new_body != NULL)
		buf_puts(&b, " stripped=yes");
	if (!v->scanned)
		buf_puts(&b, " scanned=partial");
	if (msgctx_spilled(mc))
		buf_puts(&b, " spooled=yes");
	log_kv(&b, "msgid", mc->mc_msgid, 120);	/* sanitised, like Postfix's */
	buf_printf(&b, " size=%llu ms=%llu",
	    (unsigned long long)mc->mc_size, (unsigned long long)ms);
	log_line(done >= DISP_TEMPFAIL || done == DISP_HOLD ? LOG_NOTICE :
	    LOG_INFO, id, "verdict", buf_cstr(&b));
	buf_free(&b);

	if (mc->mc_pol->log_level < LOG_LEVEL_DIAGNOSTIC)
		return;
	for (i = 0; i < v->nfindings; i++) {
		f = &v->findings[i];
		buf_printf(&b, " rule=%s", rule_str(f->rule));
		log_kv(&b, "action", f->action != NULL ? f->action->name :
		    "-", 64);
		log_kv(&b, "part", f->part, 160);
		log_kv(&b, "file", f->filename, 160);
		log_kv(&b, "detail", f->detail, 160);
		log_line(LOG_INFO, id, "finding", buf_cstr(&b));
		buf_reset(&b);
	}
	for (i = 0; i < v->nexplain; i++) {
		log_kv(&b, "text", v->explain[i], LOG_VALUE_MAX);
		log_line(LOG_INFO, id, "explain", buf_cstr(&b));
		buf_reset(&b);
	}
	buf_free(&b);
}

/*
 * The quarantine copy, before the reply. A copy that cannot be written
 * must not turn into lost mail: a discard becomes a tempfail.
 */
static char *
mlt_quarantine(const struct connctx *cc, const struct envelope *env,
    const struct verdict *v, const unsigned char *msg, size_t len,
    enum disposition *done)
{
	const struct policy	*pol = cc->cc_msg->mc_pol;
	struct err		 err = ERR_INIT;
	char			*qid = NULL, idbuf[64];

	if (v->quarantine == NULL || msg == NULL)
		return NULL;
	if (quarantine_store(pol, v->quarantine, msg, len, env, v, &qid,
	    &err) == 0) {
		if (err.msg[0] != '\0')	/* kept on this node until sync */
			log_event(LOG_WARNING, msg_logid(cc, idbuf,
			    sizeof idbuf), "warning", err.msg, " what=quarantine"
			    " quarantine=%s quarantine_id=%s", v->quarantine, qid);
		return qid;
	}
	log_event(LOG_ERR, msg_logid(cc, idbuf, sizeof idbuf), "error",
	    err.msg, " stage=quarantine quarantine=%s", v->quarantine);
	if (*done == DISP_DISCARD)
		*done = DISP_TEMPFAIL;
	return NULL;
}

/* Notifications after the verdict, handed to the notification thread:
 * the reply never waits for sendmail. Failures are logged, never fatal. */
static void
mlt_notify(const struct connctx *cc, const struct envelope *env,
    const struct verdict *v, const unsigned char *msg, size_t len,
    const char *qid)
{
	struct policy		*pol = cc->cc_msg->mc_pol;
	struct notify_opts	 no;
	struct notification	*nl = NULL;
	struct err		 err = ERR_INIT;
	size_t			 nn = 0;
	char			 idbuf[64];
	const char		*id = msg_logid(cc, idbuf, sizeof idbuf);

	if (v->notify == 0 || msg == NULL)
		return;
	memset(&no, 0, sizeof no);
	no.quarantine_id = qid;
	no.attach_original = pol->notify_attach_original;
	if (notify_build(pol, env, v, msg, len, &no, &nl, &nn, &err) == -1)
		log_event(LOG_WARNING, id, "notify", err.msg, " result=failed");
	else
		outbox_post(pol, nl, nn, id);
}

static bool
loopback(const char *addr)
{
	return addr != NULL && (strncmp(addr, "127.", 4) == 0 ||
	    strcmp(addr, "::1") == 0);
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

/* A message that killed a worker before: the rule poison, not parsed. */
static struct verdict *
poison_verdict(const struct policy *pol, const struct envelope *env)
{
	struct verdict	*v = verdict_new(scan_direction(pol, env));

	verdict_add(v, pol, RULE_POISON, "", NULL, "this message made a "
	    "scanning worker fail before");
	v->scanned = false;
	verdict_finish(v, env->queue_id, env->sender);
	return v;
}

/* The worker's verdict, or the one the pool's status calls for. */
static struct verdict *
mlt_scan(const struct connctx *cc, const struct envelope *env,
    const unsigned char *msg, size_t len, SMFICTX *ctx)
{
	const struct msgctx	*mc = cc->cc_msg;
	const struct policy	*pol = cc->cc_ovl != NULL ? cc->cc_ovl :
				    mc->mc_pol;
	struct pool_job		 job;
	struct pool_result	 res;
	char			 idbuf[64];
	const char		*id = msg_logid(cc, idbuf, sizeof idbuf);

	memset(&job, 0, sizeof job);
	job.pol = pol;
	job.env = env;
	job.msg = msg;
	job.len = len;
	job.spool_fd = msgctx_spool_fd(mc);
	job.explain = pol->log_level >= LOG_LEVEL_DIAGNOSTIC;
	job.wait_ms = 2 * pol->scan_time_ms + MLT_WAIT_MARGIN_MS;
	job.progress = mlt_progress;
	job.progress_ctx = ctx;
#ifdef PORTCULLIS_INPROCESS_SCAN
	inproc_scan(&job, &res);	/* benchmark builds only */
#else
	pool_scan(&job, &res);
#endif
	switch (res.status) {
	case WS_OK:
		return res.verdict;
	case WS_POISON:
		return poison_verdict(pol, env);
	case WS_NOT_READY:
	case WS_BUSY:		/* no room or no hand-over: 4xx, never the error rule */
		if (res.detail[0] != '\0')
			log_event(LOG_ERR, id, "error", res.detail,
			    " stage=scan");
		return not_ready_verdict(pol, env);
	case WS_DIED:
		alerts_note_worker_died();
		log_event(LOG_ERR, id, "error", res.detail,
		    " stage=scan cause=worker_died");
		return scan_error_verdict(pol, env, res.detail);
	default:
		log_event(LOG_ERR, id, "error", res.detail, " stage=scan");
		return scan_error_verdict(pol, env, res.detail);
	}
}

static sfsistat
mlt_eom(SMFICTX *ctx)
{
	struct connctx		*cc = conn_msg(ctx);
	struct msgctx		*mc;
	const struct policy	*pol;
	struct verdict		*v = NULL;
	struct envelope		 env;
	struct err		 err = ERR_INIT;
	const unsigned char	*msg = NULL;
	const char		*failed = NULL;
	enum disposition	 done;
	size_t			 len = 0;
	uint64_t		 t0;
	sfsistat		 st;
	char			*qid = NULL, *released = NULL, idbuf[64];
	struct buf		 rb = BUF_INIT;
	const char		*id;

	if (cc == NULL)
		return SMFIS_TEMPFAIL;		/* invariant broken */
	mc = cc->cc_msg;
	pol = cc->cc_ovl != NULL ? cc->cc_ovl : mc->mc_pol;	/* overlay */
	msgctx_set_qid(mc, getsym(ctx, "i"));	/* Postfix sends {i} late */
	if (mc->mc_deferred != MC_OK)		/* kept from a no-reply step */
		return deferred(ctx, cc, 0);
	id = msg_logid(cc, idbuf, sizeof idbuf);
	msgctx_set_auth(mc, getsym(ctx, "{auth_authen}"));

	memset(&env, 0, sizeof env);
	env.sender = mc->mc_sender;
	env.rcpts = (const char *const *)mc->mc_rcpts;
	env.nrcpts = mc->mc_nrcpts;
	env.client_addr = cc->cc_addr;
	env.auth_user = mc->mc_auth;
	env.queue_id = mc->mc_qid;
	env.direction = -1;
	env.policy = pol->name;		/* the worker judges by the same */

	t0 = clock_ms();
	if (msgctx_bytes(mc, &msg, &len, &err) == -1) {
		log_event(LOG_ERR, id, "error", err.msg, " stage=eom");
		msg = NULL;
		len = 0;
		v = scan_error_verdict(pol, &env, err.msg);
	} else if (loopback(cc->cc_addr) &&
	    quarantine_is_released(pol, msg, len, &released)) {
		/* Released from our quarantine by portcullisctl (local
		 * sendmail): the body must match the stored copy, so the
		 * header is no key. */
		env_fields(cc, &rb);
		buf_puts(&rb, " action=accept reason=released");
		log_kv(&rb, "quarantine_id", released, 64);
		log_kv(&rb, "msgid", mc->mc_msgid, 120);
		log_line(LOG_INFO, id, "verdict", buf_cstr(&rb));
		buf_free(&rb);
		free(released);
		msgctx_reset(mc);
		return SMFIS_ACCEPT;
	} else
		v = mlt_scan(cc, &env, msg, len, ctx);

	done = v->disposition;
	qid = mlt_quarantine(cc, &env, v, msg, len, &done);
	switch (done) {
	case DISP_REJECT:
		set_reply(ctx, id, v->reply, '5');
		st = SMFIS_REJECT;
		break;
	case DISP_TEMPFAIL:
		set_reply(ctx, id, v->reply, '4');
		st = SMFIS_TEMPFAIL;
		break;
	case DISP_DISCARD:
		st = SMFIS_DISCARD;
		break;
	default:		/* accept, tag, strip, hold: deliver */
		st = SMFIS_CONTINUE;
		if (deliver_edits(ctx, cc, v, &failed) == -1) {
			/* never deliver content we meant to change */
			set_reply(ctx, id, NULL, '4');
			st = SMFIS_TEMPFAIL;
			done = DISP_TEMPFAIL;
		}
		break;
	}
	log_verdict(cc, v, done, clock_ms() - t0, failed, qid);
	metrics_message(done, v, clock_ms() - t0, mc->mc_size,
	    qid != NULL ? v->quarantine : NULL, verdict_has(v, RULE_ERROR));
	alerts_note_message(done, verdict_has(v, RULE_ERROR));
	if (quarantine_traffic(pol, v, disposition_str(done), mc->mc_size,
	    clock_ms() - t0, qid, &err) == -1)	/* said once, not per message */
		log_event(LOG_WARNING, NULL, "warning", err.msg,
		    " what=statistics");
	if (events_write(pol, &env, v, disposition_str(done), qid,
	    mc->mc_size, clock_ms() - t0, &err) == -1)	/* said once */
		log_event(LOG_WARNING, NULL, "warning", err.msg,
		    " what=event_log");
	if (done != DISP_TEMPFAIL)	/* a retry would notify again */
		mlt_notify(cc, &env, v, msg, len, qid);
	free(qid);
	verdict_free(&v);
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

struct smfiDesc milter_desc = {
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
	.xxfi_negotiate = mlt_negotiate,
};
