/*
 * policy/policy.c - the policy file: one table of keys feeds the loader,
 * the defaults and the reference (see policy.h).
 *
 * Loading has two phases. inih reads the file into a list of entries
 * (section, key, value, line), joining indented continuation lines to the
 * key above; then every entry is checked against the table, converted into
 * a new struct policy, and the result is cross-checked (rules name actions
 * that exist, discard has a quarantine, ...). Every problem is collected;
 * nothing is applied unless there are none.
 */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <regex.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <ini.h>

#include "magic.h"
#include "policy.h"
#include "util.h"

enum pk_type {
	PK_STR,		/* string; "" = NULL */
	PK_TEXT,	/* string with \\n for new lines; "" = NULL */
	PK_BOOL,
	PK_UINT,
	PK_SIZE,	/* bytes, K/M/G suffixes */
	PK_TIME,	/* milliseconds; ms/s/m/h/d suffixes, bare = seconds */
	PK_MODE,	/* octal file mode */
	PK_WORDS,	/* list of words (spaces or commas) */
	PK_EXTS,	/* list of extensions: lower case, leading dot dropped */
	PK_TYPES,	/* list of true-type words */
	PK_FORMATS,	/* list of archive formats */
	PK_CIDRS,	/* list of networks */
	PK_LISTEN,	/* "ADDRESS:PORT", numeric; "" = NULL */
	PK_LOGLEVEL,
	PK_RAWSCAN,
	PK_ORDER
};

struct policy_key {
	const char	*section;
	const char	*name;
	enum pk_type	 type;
	uint64_t	 min;
	uint64_t	 max;
	const char	*def;
	size_t		 off;
};

#define OFF(f)	offsetof(struct policy, f)
#define KB	1024ull
#define MB	(1024ull * 1024)
#define GB	(1024ull * 1024 * 1024)
#define SEC	1000ull
#define DAY	(86400ull * 1000)

static const struct policy_key keys[] = {
	/* section     name                    type        min  max        default      field */
	{ "daemon", "socket", PK_STR, 0, 0,
	    "unix:/var/spool/postfix/portcullis/portcullis.sock", OFF(socket) },
	{ "daemon", "socket_mode", PK_MODE, 0, 0777, "0660", OFF(socket_mode) },
	{ "daemon", "socket_group", PK_STR, 0, 0, "postfix", OFF(socket_group) },
	{ "daemon", "user", PK_STR, 0, 0, "portcullis", OFF(user) },
	{ "daemon", "pid_file", PK_STR, 0, 0, "/run/portcullis/portcullis.pid",
	    OFF(pid_file) },
	{ "daemon", "spool_dir", PK_STR, 0, 0, "/var/lib/portcullis/spool",
	    OFF(spool_dir) },
	{ "daemon", "hostname", PK_STR, 0, 0, "", OFF(hostname) },
	{ "daemon", "log_level", PK_LOGLEVEL, 0, 0, "normal", OFF(log_level) },
	{ "daemon", "memory_buffer", PK_SIZE, 64 * KB, 1 * GB, "2M",
	    OFF(memory_buffer) },
	{ "daemon", "max_scans", PK_UINT, 0, 1024, "0", OFF(max_scans) },
	{ "daemon", "shutdown_timeout", PK_TIME, 0, 3600 * SEC, "30s",
	    OFF(shutdown_timeout_ms) },
	{ "daemon", "metrics_file", PK_STR, 0, 0, "", OFF(metrics_file) },
	{ "daemon", "metrics_listen", PK_LISTEN, 0, 0, "",
	    OFF(metrics_listen) },
	{ "daemon", "event_log", PK_STR, 0, 0, "", OFF(event_log) },
	{ "daemon", "workers", PK_UINT, 0, 256, "0", OFF(workers) },
	{ "daemon", "worker_memory", PK_SIZE, 0, 1024 * GB, "4G",
	    OFF(worker_memory) },
	{ "daemon", "worker_cpu", PK_TIME, 1 * SEC, 3600 * SEC, "150s",
	    OFF(worker_cpu_ms) },

	{ "limits", "message_size", PK_SIZE, 1 * KB, 2 * GB, "20M",
	    OFF(message_size) },
	{ "limits", "attachments", PK_UINT, 1, 100000, "20", OFF(attachments) },
	{ "limits", "attachment_size", PK_SIZE, 1 * KB, 2 * GB, "10M",
	    OFF(attachment_size) },
	{ "limits", "mime_depth", PK_UINT, 1, 100, "20", OFF(mime_depth) },
	{ "limits", "mime_parts", PK_UINT, 1, 100000, "500", OFF(mime_parts) },
	{ "limits", "header_size", PK_SIZE, 1 * KB, 64 * MB, "1M",
	    OFF(header_size) },
	{ "limits", "archive_depth", PK_UINT, 0, 64, "10", OFF(archive_depth) },
	{ "limits", "archive_entries", PK_UINT, 1, 1000000, "1000",
	    OFF(archive_entries) },
	{ "limits", "archive_member_size", PK_SIZE, 1 * KB, 4 * GB, "64M",
	    OFF(archive_member_size) },
	{ "limits", "decoded_size", PK_SIZE, 1 * KB, 16 * GB, "128M",
	    OFF(decoded_size) },
	{ "limits", "compression_ratio", PK_UINT, 0, 1000000, "200",
	    OFF(compression_ratio) },
	{ "limits", "password_candidates", PK_UINT, 0, 1000, "20",
	    OFF(password_candidates) },
	{ "limits", "password_attempts", PK_UINT, 0, 10000, "30",
	    OFF(password_attempts) },
	{ "limits", "password_time", PK_TIME, 0, 120 * SEC, "10s",
	    OFF(password_time_ms) },
	{ "limits", "recipients", PK_UINT, 1, 100000, "100", OFF(recipients) },
	{ "limits", "messages_per_connection", PK_UINT, 1, 1000000, "100",
	    OFF(messages_per_connection) },
	{ "limits", "scan_time", PK_TIME, 1 * SEC, 280 * SEC, "120s",
	    OFF(scan_time_ms) },

	{ "antivirus", "enabled", PK_BOOL, 0, 0, "yes", OFF(av_enabled) },
	{ "antivirus", "database", PK_STR, 0, 0, "/var/lib/clamav",
	    OFF(av_database) },
	{ "antivirus", "check_interval", PK_TIME, 1 * SEC, 86400 * SEC, "60s",
	    OFF(av_check_interval_ms) },
	{ "antivirus", "max_signature_age", PK_TIME, 0, 365 * DAY, "48h",
	    OFF(av_max_age_ms) },
	{ "antivirus", "raw_scan", PK_RAWSCAN, 0, 0, "auto", OFF(av_raw_scan) },
	{ "antivirus", "max_scansize", PK_SIZE, 1 * MB, 4 * GB, "400M",
	    OFF(av_max_scansize) },
	{ "antivirus", "max_filesize", PK_SIZE, 1 * MB, 2 * GB, "100M",
	    OFF(av_max_filesize) },
	{ "antivirus", "max_recursion", PK_UINT, 1, 100, "17",
	    OFF(av_max_recursion) },
	{ "antivirus", "max_files", PK_UINT, 1, 1000000, "10000",
	    OFF(av_max_files) },
	{ "antivirus", "heuristics", PK_BOOL, 0, 0, "yes", OFF(av_heuristics) },
	{ "antivirus", "temp_dir", PK_STR, 0, 0, "/dev/shm", OFF(av_temp_dir) },

	{ "attachments", "blocked_extensions", PK_EXTS, 0, 0,
	    "exe scr bat shs vbs pif dot pot com cmd lnk eml swf vbe chm "
	    "js jse wsf wsh hta iso img vhd vhdx msi ps1 jar cpl reg",
	    OFF(blocked_extensions) },
	{ "attachments", "blocked_types", PK_TYPES, 0, 0,
	    "exe-pe exe-elf exe-macho exe-dos script shortcut msi jar chm swf "
	    "iso disk-image",
	    OFF(blocked_types) },
	{ "attachments", "inspect_archives", PK_BOOL, 0, 0, "yes",
	    OFF(inspect_archives) },
	{ "attachments", "lenient_reading", PK_BOOL, 0, 0, "yes",
	    OFF(lenient_reading) },
	{ "attachments", "eml_by_content", PK_BOOL, 0, 0, "yes",
	    OFF(eml_by_content) },
	{ "attachments", "strip_signed", PK_BOOL, 0, 0, "no",
	    OFF(strip_signed) },
	{ "attachments", "archive_formats", PK_FORMATS, 0, 0,
	    "zip 7z rar tar gzip bzip2 xz cab iso cpio", OFF(archive_formats) },
	{ "attachments", "archive_passwords", PK_WORDS, 0, 0, "",
	    OFF(archive_passwords) },
	{ "attachments", "archive_password_file", PK_STR, 0, 0, "",
	    OFF(archive_password_file) },
	{ "attachments", "message_passwords", PK_BOOL, 0, 0, "yes",
	    OFF(message_passwords) },

	{ "direction", "internal_domains", PK_WORDS, 0, 0, "",
	    OFF(internal_domains) },
	{ "direction", "internal_networks", PK_CIDRS, 0, 0,
	    "127.0.0.0/8 ::1/128", OFF(internal_networks) },
	{ "direction", "authenticated_outbound", PK_BOOL, 0, 0, "yes",
	    OFF(authenticated_outbound) },
	{ "direction", "sender_domain_outbound", PK_BOOL, 0, 0, "no",
	    OFF(sender_domain_outbound) },

	{ "tagging", "header", PK_BOOL, 0, 0, "yes", OFF(tag_header) },
	{ "tagging", "subject_tag", PK_STR, 0, 0, "[SUSPICIOUS]",
	    OFF(subject_tag) },

	{ "disclaimer", "text", PK_TEXT, 0, 0, "", OFF(disclaimer) },

	{ "quarantine", "directory", PK_STR, 0, 0,
	    "/var/lib/portcullis/quarantine", OFF(quarantine_dir) },
	{ "quarantine", "expire_days", PK_UINT, 1, 36500, "60",
	    OFF(quarantine_expire_days) },
	{ "quarantine", "stats_days", PK_UINT, 0, 36500, "400",
	    OFF(quarantine_stats_days) },
	{ "quarantine", "database", PK_STR, 0, 0, "",
	    OFF(quarantine_database) },
	{ "quarantine", "bodies", PK_STR, 0, 0, "database",
	    OFF(quarantine_bodies) },
	{ "quarantine", "node", PK_STR, 0, 0, "", OFF(quarantine_node) },

	{ "notify", "admin", PK_STR, 0, 0, "postmaster", OFF(notify_admin) },
	{ "notify", "from", PK_STR, 0, 0, "MAILER-DAEMON", OFF(notify_from) },
	{ "notify", "server_tag", PK_STR, 0, 0, "[portcullis]",
	    OFF(notify_server_tag) },
	{ "notify", "sendmail", PK_STR, 0, 0, "/usr/sbin/sendmail",
	    OFF(sendmail_path) },
	{ "notify", "forged_senders", PK_BOOL, 0, 0, "no",
	    OFF(notify_forged_senders) },
	{ "notify", "attach_original", PK_BOOL, 0, 0, "yes",
	    OFF(notify_attach_original) },
	{ "notify", "template_dir", PK_STR, 0, 0, "/etc/portcullis/templates",
	    OFF(template_dir) },
	{ "notify", "languages", PK_WORDS, 0, 0, "", OFF(languages) },
	{ "notify", "admin_template", PK_STR, 0, 0, "", OFF(tmpl_admin) },
	{ "notify", "sender_template", PK_STR, 0, 0, "", OFF(tmpl_sender) },
	{ "notify", "recipients_template", PK_STR, 0, 0, "",
	    OFF(tmpl_recipients) },

	{ "alerts", "mail_to", PK_WORDS, 0, 0, "", OFF(alert_mail_to) },
	{ "alerts", "interval", PK_TIME, 1 * SEC, 86400 * SEC, "60s",
	    OFF(alert_interval_ms) },
	{ "alerts", "period", PK_TIME, 1 * SEC, 30 * DAY, "1h",
	    OFF(alert_period_ms) },
	{ "alerts", "signature_age", PK_TIME, 0, 365 * DAY, "24h",
	    OFF(alert_signature_age_ms) },
	{ "alerts", "window", PK_TIME, 1 * SEC, 7 * DAY, "15m",
	    OFF(alert_window_ms) },
	{ "alerts", "error_rate", PK_UINT, 0, 100, "5", OFF(alert_error_rate) },
	{ "alerts", "tempfail_rate", PK_UINT, 0, 100, "20",
	    OFF(alert_tempfail_rate) },
	{ "alerts", "rate_min_messages", PK_UINT, 1, 1000000, "20",
	    OFF(alert_rate_min_messages) },
	{ "alerts", "worker_restarts", PK_UINT, 0, 1000000, "5",
	    OFF(alert_worker_restarts) },
	{ "alerts", "queue_size", PK_UINT, 0, 100000000, "1000",
	    OFF(alert_queue_size) },
	{ "alerts", "queue_command", PK_STR, 0, 0, "/usr/sbin/postqueue -j",
	    OFF(alert_queue_command) },
	{ "alerts", "disk_free", PK_UINT, 0, 100, "10", OFF(alert_disk_free) },

	{ "order", "filters", PK_ORDER, 0, 0, "attachments antivirus",
	    OFF(attachments_first) },
};

static const char *const disp_names[DISP__N] = {
	"accept", "tag", "strip", "hold", "discard", "tempfail", "reject"
};

static const char *const rule_names[RULE__N] = {
	"virus", "unscanned", "blocked_extension", "blocked_type", "encrypted",
	"unreadable", "size_limit", "count_limit", "depth_limit",
	"archive_bomb", "time_limit", "malformed", "ambiguous",
	"name_mismatch", "partial",
	"archive_anomaly", "stale_signatures", "content", "error", "poison",
	"encrypted_opened", "encrypted_message"
};

/* The action each rule takes when the file does not say (both directions). */
static const char *const rule_defaults[RULE__N] = {
	"reject",	/* virus */
	"reject",	/* unscanned */
	"reject",	/* blocked_extension */
	"reject",	/* blocked_type */
	"reject",	/* encrypted */
	"reject",	/* unreadable */
	"reject",	/* size_limit */
	"reject",	/* count_limit */
	"reject",	/* depth_limit */
	"reject",	/* archive_bomb */
	"tempfail",	/* time_limit */
	"tag",		/* malformed: broken, but read alike and inspected */
	"reject",	/* ambiguous */
	"tag",		/* name_mismatch */
	"reject",	/* partial */
	"reject",	/* archive_anomaly */
	"tag",		/* stale_signatures */
	"reject",	/* content (each [content:NAME] may name its own) */
	"tempfail",	/* error */
	"reject",	/* poison (the shipped policy: reject-poison) */
	"tag",		/* encrypted_opened: opened and scanned like any
			 * archive; tagged, since a password in the body is
			 * how malware passes gateways that cannot open it */
	"tag",		/* encrypted_message: S/MIME or PGP encrypted to
			 * its recipient; ordinary mail, delivered with a
			 * header saying it was not inspected */
};

static const char *const archive_format_names[] = {
	"zip", "7z", "rar", "tar", "gzip", "bzip2", "xz", "lzma", "zstd",
	"cab", "iso", "cpio", "lha", "xar", "ar", NULL
};

static const struct {
	const char	*name;
	enum disposition disp;
	const char	*reply;
	const char	*replacement;
} builtin_actions[] = {
	{ "accept", DISP_ACCEPT, NULL, NULL },
	{ "tag", DISP_TAG, NULL, NULL },
	{ "strip", DISP_STRIP, NULL,
	    "The attachment \"%FILENAME%\" was removed by the mail gateway "
	    "(%RULE%: %DETAIL%)." },
	{ "hold", DISP_HOLD, NULL, NULL },
	{ "tempfail", DISP_TEMPFAIL,
	    "451 4.7.1 Message could not be checked now, try again later",
	    NULL },
	{ "reject", DISP_REJECT,
	    "554 5.7.1 Message refused by content policy (%RULE%: %DETAIL%)",
	    NULL },
};

const char *
disposition_str(enum disposition d)
{
	return d < DISP__N ? disp_names[d] : "?";
}

const char *
rule_str(enum rule r)
{
	return r < RULE__N ? rule_names[r] : "?";
}

const char *
direction_str(enum direction d)
{
	return d == DIR_OUTBOUND ? "outbound" : "inbound";
}

int
policy_listen_parse(const char *s, char *addr, size_t addrlen,
    unsigned *port_r)
{
	char		 a[INET6_ADDRSTRLEN + 1], buf[sizeof(struct in6_addr)];
	const char	*colon, *p;
	size_t		 n;
	unsigned long	 port = 0;
	int		 af = AF_INET;

	if (s[0] == '[') {		/* [IPv6]:PORT */
		if ((p = strchr(s, ']')) == NULL || p[1] != ':')
			return -1;
		s++;
		n = (size_t)(p - s);
		colon = p + 1;
		af = AF_INET6;
	} else {
		if ((colon = strrchr(s, ':')) == NULL)
			return -1;
		n = (size_t)(colon - s);
	}
	if (n == 0 || n >= sizeof a)
		return -1;
	memcpy(a, s, n);
	a[n] = '\0';
	if (inet_pton(af, a, buf) != 1)
		return -1;
	for (p = colon + 1; *p >= '0' && *p <= '9' && port <= 65535; p++)
		port = port * 10 + (unsigned long)(*p - '0');
	if (p == colon + 1 || *p != '\0' || port > 65535)
		return -1;
	if (addr != NULL && snprintf(addr, addrlen, "%s", a) >= (int)addrlen)
		return -1;
	if (port_r != NULL)
		*port_r = (unsigned)port;
	return 0;
}

/* ---- phase 1: read the file into entries ---------------------------- */

struct entry {
	char		*section;
	char		*name;
	char		*value;
	unsigned	 line;		/* 0 = command line override */
	bool		 used;
	bool		 ovl;		/* from a [policy:NAME] overlay */
};

struct loader {
	const char	*file;
	struct entry	*ents;
	size_t		 nents;
	struct {
		unsigned	 line;
		char		*msg;
		char		*file;	/* another file (a template), or NULL */
		unsigned	 fline;	/* its line */
	}		*errs;		/* sorted by line when reported */
	unsigned	 nerrs;
	/* reader state */
	const char	*text;
	size_t		 pos;
	unsigned	 line;		/* line number of the last line read */
	bool		 indented;	/* that line began with white space */
	bool		 bad_header;	/* a "[section" without "]" was seen */
	struct policy	*pol;
};

static void
loader_err(struct loader *ld, unsigned line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
loader_err(struct loader *ld, unsigned line, const char *fmt, ...)
{
	va_list	 ap;
	char	*msg;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		xpanic("out of memory");
	va_end(ap);
	ld->errs = xreallocarray(ld->errs, ld->nerrs + 1, sizeof *ld->errs);
	ld->errs[ld->nerrs].line = line;
	ld->errs[ld->nerrs].msg = msg;
	ld->errs[ld->nerrs].file = NULL;
	ld->errs[ld->nerrs].fline = 0;
	ld->nerrs++;
}

/* An error in another file (a template) named by the key on line. */
static void
loader_err_file(struct loader *ld, unsigned line, const char *file,
    unsigned fline, const char *msg)
{
	loader_err(ld, line, "%s", msg);
	ld->errs[ld->nerrs - 1].file = xstrdup(file);
	ld->errs[ld->nerrs - 1].fline = fline;
}

/* fgets-like reader that counts lines, for exact error lines. */
static char *
loader_reader(char *str, int num, void *stream)
{
	struct loader	*ld = stream;
	size_t		 i = 0;

	if (ld->text[ld->pos] == '\0' || num < 2)
		return NULL;
	if (ld->pos == 0 || ld->text[ld->pos - 1] == '\n') {
		ld->line++;
		ld->indented = ld->text[ld->pos] == ' ' ||
		    ld->text[ld->pos] == '\t';
	}
	while (i < (size_t)num - 1 && ld->text[ld->pos] != '\0') {
		char c = ld->text[ld->pos++];

		str[i++] = c;
		if (c == '\n')
			break;
	}
	str[i] = '\0';
	return str;
}

static int
loader_handler(void *user, const char *section, const char *name,
    const char *value)
{
	struct loader	*ld = user;
	struct entry	*e;

	if (ld->indented && ld->nents != 0) {
		e = &ld->ents[ld->nents - 1];
		if (strcmp(e->section, section) == 0 &&
		    strcmp(e->name, name) == 0) {
			char *v = xasprintf("%s %s", e->value, value);

			free(e->value);
			e->value = v;
			return 1;
		}
	}
	ld->ents = xreallocarray(ld->ents, ld->nents + 1, sizeof *ld->ents);
	e = &ld->ents[ld->nents++];
	e->section = xstrdup(section);
	e->name = xstrdup(name);
	e->value = xstrdup(value);
	e->line = ld->line;
	e->used = false;
	e->ovl = false;
	return 1;
}

/* inih reports only its first syntax error; find them all ourselves. */
static void
loader_syntax(struct loader *ld)
{
	const char	*p = ld->text;
	unsigned	 line = 0;
	bool		 in_value = false;	/* continuation allowed */

	while (*p != '\0') {
		const char	*eol = strchr(p, '\n');
		size_t		 n = eol != NULL ? (size_t)(eol - p) : strlen(p);
		char		*l = xstrndup(p, n), *s = l, *end;

		line++;
		while (isspace((unsigned char)*s))
			s++;
		end = s + strlen(s);
		while (end > s && isspace((unsigned char)end[-1]))
			*--end = '\0';
		if (line == 1 && strncmp(s, "\xef\xbb\xbf", 3) == 0)
			s += 3;
		if (*s == '\0')
			in_value = false;
		else if (*s == ';' || *s == '#')
			;
		else if (*s == '[') {
			in_value = false;
			if (strchr(s, ']') == NULL) {
				loader_err(ld, line,
				    "%s: section header without ']'", s);
				ld->bad_header = true;
			}
		} else if (s != l && in_value)
			;			/* indented continuation */
		else if (strpbrk(s, "=:") == NULL)
			loader_err(ld, line,
			    "syntax error: expected \"key = value\"");
		else
			in_value = true;
		free(l);
		p += n;
		if (*p == '\n')
			p++;
	}
}

/* ---- phase 2: values -------------------------------------------------- */

static int
parse_u64(const char *s, uint64_t *v, const char **end)
{
	char			*e;
	unsigned long long	 n;

	if (!isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	n = strtoull(s, &e, 10);
	if (errno != 0)
		return -1;
	*v = n;
	*end = e;
	return 0;
}

static int
mul_ok(uint64_t *v, uint64_t m)
{
	if (m != 0 && *v > UINT64_MAX / m)
		return -1;
	*v *= m;
	return 0;
}

static int
parse_size(const char *s, uint64_t *v)
{
	const char	*e;
	uint64_t	 m = 1;

	if (parse_u64(s, v, &e) == -1)
		return -1;
	if (*e == '\0')
		return 0;
	switch (toupper((unsigned char)*e)) {
	case 'K': m = KB; break;
	case 'M': m = MB; break;
	case 'G': m = GB; break;
	default: return -1;
	}
	e++;
	if (toupper((unsigned char)*e) == 'B' || toupper((unsigned char)*e) == 'I')
		e++;
	if (toupper((unsigned char)*e) == 'B')
		e++;
	return *e == '\0' ? mul_ok(v, m) : -1;
}

static int
parse_time(const char *s, uint64_t *v)
{
	const char	*e;
	uint64_t	 m = SEC;

	if (parse_u64(s, v, &e) == -1)
		return -1;
	if (strcmp(e, "ms") == 0)
		m = 1;
	else if (strcmp(e, "") == 0 || strcmp(e, "s") == 0)
		m = SEC;
	else if (strcmp(e, "m") == 0)
		m = 60 * SEC;
	else if (strcmp(e, "h") == 0)
		m = 3600 * SEC;
	else if (strcmp(e, "d") == 0)
		m = DAY;
	else
		return -1;
	return mul_ok(v, m);
}

static int
parse_bool(const char *s, bool *b)
{
	static const char *const yes[] = { "yes", "true", "on", "1" };
	static const char *const no[] = { "no", "false", "off", "0" };
	size_t	i;

	for (i = 0; i < 4; i++) {
		if (strcasecmp(s, yes[i]) == 0)
			return *b = true, 0;
		if (strcasecmp(s, no[i]) == 0)
			return *b = false, 0;
	}
	return -1;
}

static void
strlist_free(struct strlist *l)
{
	size_t	i;

	for (i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

static void
strlist_split(struct strlist *l, const char *s)
{
	char	*copy = xstrdup(s), *tok, *save = NULL;

	strlist_free(l);
	for (tok = strtok_r(copy, " \t,", &save); tok != NULL;
	    tok = strtok_r(NULL, " \t,", &save)) {
		l->v = xreallocarray(l->v, l->n + 1, sizeof *l->v);
		l->v[l->n++] = xstrdup(tok);
	}
	free(copy);
}

static int
parse_cidr(const char *s, struct cidr *c)
{
	char		 addr[64];
	const char	*slash = strchr(s, '/');
	size_t		 n = slash != NULL ? (size_t)(slash - s) : strlen(s);
	unsigned	 max;
	uint64_t	 p;
	const char	*e;

	if (n == 0 || n >= sizeof addr)
		return -1;
	memcpy(addr, s, n);
	addr[n] = '\0';
	memset(c, 0, sizeof *c);
	if (inet_pton(AF_INET, addr, c->addr) == 1) {
		c->family = AF_INET;
		max = 32;
	} else if (inet_pton(AF_INET6, addr, c->addr) == 1) {
		c->family = AF_INET6;
		max = 128;
	} else
		return -1;
	c->prefix = max;
	if (slash != NULL) {
		if (parse_u64(slash + 1, &p, &e) == -1 || *e != '\0' || p > max)
			return -1;
		c->prefix = (unsigned)p;
	}
	return 0;
}

static bool
word_in(const char *w, const char *const *list)
{
	for (; *list != NULL; list++)
		if (strcmp(w, *list) == 0)
			return true;
	return false;
}

/* Sets one table key from a string; 0 or -1 with a reason in why. */
static int
key_set(struct policy *pol, const struct policy_key *k, const char *val,
    char *why, size_t whylen)
{
	void		*f = (char *)pol + k->off;
	uint64_t	 n;
	bool		 b;
	size_t		 i;
	struct strlist	*l = f;

	switch (k->type) {
	case PK_STR:
		free(*(char **)f);
		*(char **)f = val[0] == '\0' ? NULL : xstrdup(val);
		return 0;
	case PK_TEXT: {
		char *d;

		free(*(char **)f);
		*(char **)f = d = val[0] == '\0' ? NULL : xstrdup(val);
		for (; d != NULL && *val != '\0'; val++)
			if (val[0] == '\\' && val[1] == 'n') {
				*d++ = '\n';
				val++;
			} else
				*d++ = *val;
		if (d != NULL)
			*d = '\0';
		return 0;
	}
	case PK_LISTEN:
		if (val[0] != '\0' &&
		    policy_listen_parse(val, NULL, 0, NULL) == -1) {
			snprintf(why, whylen, "\"%s\" is not a numeric "
			    "ADDRESS:PORT (like 127.0.0.1:9113 or [::1]:9113)",
			    val);
			return -1;
		}
		free(*(char **)f);
		*(char **)f = val[0] == '\0' ? NULL : xstrdup(val);
		return 0;
	case PK_BOOL:
		if (parse_bool(val, &b) == -1)
			goto bad;
		*(bool *)f = b;
		return 0;
	case PK_UINT:
	case PK_SIZE:
	case PK_TIME:
		if (k->type == PK_UINT) {
			const char *e;

			if (parse_u64(val, &n, &e) == -1 || *e != '\0')
				goto bad;
		} else if ((k->type == PK_SIZE ? parse_size(val, &n) :
		    parse_time(val, &n)) == -1)
			goto bad;
		if (n < k->min || n > k->max) {
			snprintf(why, whylen, "\"%s\" is out of range "
			    "(%llu..%llu%s)", val, (unsigned long long)k->min,
			    (unsigned long long)k->max,
			    k->type == PK_SIZE ? " bytes" :
			    k->type == PK_TIME ? " ms" : "");
			return -1;
		}
		if (k->type == PK_UINT)
			*(unsigned *)f = (unsigned)n;
		else
			*(uint64_t *)f = n;
		return 0;
	case PK_MODE: {
		char		*e;
		unsigned long	 m = strtoul(val, &e, 8);

		if (*val == '\0' || *e != '\0' || m > k->max)
			goto bad;
		*(unsigned *)f = (unsigned)m;
		return 0;
	}
	case PK_WORDS:
		strlist_split(l, val);
		for (i = 0; i < l->n; i++) {
			char *w = l->v[i];

			for (; *w != '\0'; w++)
				*w = (char)tolower((unsigned char)*w);
		}
		return 0;
	case PK_EXTS:
		strlist_split(l, val);
		for (i = 0; i < l->n; i++) {
			char *w = l->v[i], *d = w;

			if (*w == '.' || *w == '*') {
				while (*w == '.' || *w == '*')
					w++;
				memmove(d, w, strlen(w) + 1);
			}
			for (w = d; *w != '\0'; w++)
				*w = (char)tolower((unsigned char)*w);
			if (*d == '\0' || strchr(d, '.') != NULL) {
				snprintf(why, whylen,
				    "\"%s\" is not a file extension", val);
				return -1;
			}
		}
		return 0;
	case PK_TYPES:
	case PK_FORMATS:
		strlist_split(l, val);
		for (i = 0; i < l->n; i++) {
			bool ok = k->type == PK_TYPES ?
			    truetype_known(l->v[i]) :
			    word_in(l->v[i], archive_format_names);

			if (!ok) {
				snprintf(why, whylen, "unknown %s \"%s\"",
				    k->type == PK_TYPES ? "true type" :
				    "archive format", l->v[i]);
				return -1;
			}
		}
		return 0;
	case PK_CIDRS: {
		struct strlist	 tmp = { NULL, 0 };
		struct cidr	*c;

		strlist_split(&tmp, val);
		c = xcalloc(tmp.n, sizeof *c);
		for (i = 0; i < tmp.n; i++)
			if (parse_cidr(tmp.v[i], &c[i]) == -1) {
				snprintf(why, whylen,
				    "\"%s\" is not an address or network",
				    tmp.v[i]);
				free(c);
				strlist_free(&tmp);
				return -1;
			}
		free(pol->internal_networks);
		pol->internal_networks = c;
		pol->ninternal_networks = tmp.n;
		strlist_free(&tmp);
		return 0;
	}
	case PK_LOGLEVEL:
		if (strcmp(val, "normal") == 0)
			*(enum log_level *)f = LOG_LEVEL_NORMAL;
		else if (strcmp(val, "diagnostic") == 0)
			*(enum log_level *)f = LOG_LEVEL_DIAGNOSTIC;
		else {
			snprintf(why, whylen, "\"%s\": want normal or "
			    "diagnostic", val);
			return -1;
		}
		return 0;
	case PK_RAWSCAN:
		if (strcmp(val, "auto") == 0)
			*(enum raw_scan *)f = RAW_SCAN_AUTO;
		else if (strcmp(val, "always") == 0)
			*(enum raw_scan *)f = RAW_SCAN_ALWAYS;
		else if (strcmp(val, "never") == 0)
			*(enum raw_scan *)f = RAW_SCAN_NEVER;
		else {
			snprintf(why, whylen, "\"%s\": want auto, always or "
			    "never", val);
			return -1;
		}
		return 0;
	case PK_ORDER: {
		struct strlist	tmp = { NULL, 0 };
		bool		ok;

		strlist_split(&tmp, val);
		ok = tmp.n == 2 && ((strcmp(tmp.v[0], "attachments") == 0 &&
		    strcmp(tmp.v[1], "antivirus") == 0) ||
		    (strcmp(tmp.v[0], "antivirus") == 0 &&
		    strcmp(tmp.v[1], "attachments") == 0));
		if (ok)
			*(bool *)f = strcmp(tmp.v[0], "attachments") == 0;
		strlist_free(&tmp);
		if (!ok) {
			snprintf(why, whylen, "\"%s\": want \"attachments "
			    "antivirus\" or \"antivirus attachments\"", val);
			return -1;
		}
		return 0;
	}
	}
bad:
	snprintf(why, whylen, "\"%s\" is not a valid %s", val,
	    k->type == PK_BOOL ? "yes/no value" :
	    k->type == PK_SIZE ? "size (like 512K, 20M, 1G)" :
	    k->type == PK_TIME ? "time (like 500ms, 30s, 5m, 48h)" :
	    k->type == PK_MODE ? "octal mode" : "number");
	return -1;
}

static const struct policy_key *
key_find(const char *section, const char *name)
{
	size_t	i;

	for (i = 0; i < sizeof keys / sizeof keys[0]; i++)
		if (strcmp(keys[i].section, section) == 0 &&
		    strcmp(keys[i].name, name) == 0)
			return &keys[i];
	return NULL;
}

static bool
section_known(const char *section)
{
	size_t	i;

	for (i = 0; i < sizeof keys / sizeof keys[0]; i++)
		if (strcmp(keys[i].section, section) == 0)
			return true;
	return strcmp(section, "rules") == 0 ||
	    strcmp(section, "rules:outbound") == 0 ||
	    strcmp(section, "select:inbound") == 0 ||
	    strcmp(section, "select:outbound") == 0 ||
	    strncmp(section, "policy:", 7) == 0 ||
	    strncmp(section, "action:", 7) == 0 ||
	    strncmp(section, "content:", 8) == 0;
}

/* ---- actions ---------------------------------------------------------- */

static struct action *
action_add(struct policy *pol, const char *name)
{
	struct action	*a;

	pol->actions = xreallocarray(pol->actions, pol->nactions + 1,
	    sizeof *pol->actions);
	a = &pol->actions[pol->nactions++];
	memset(a, 0, sizeof *a);
	a->name = xstrdup(name);
	return a;
}

const struct action *
policy_action(const struct policy *pol, const char *name)
{
	size_t	i;

	for (i = 0; i < pol->nactions; i++)
		if (strcmp(pol->actions[i].name, name) == 0)
			return &pol->actions[i];
	return NULL;
}

static bool
action_name_ok(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s != '\0'; s++)
		if (!isalnum((unsigned char)*s) && *s != '-' && *s != '_')
			return false;
	return true;
}

/* "554 5.7.1 text": code class must match the enhanced code's class. */
static int
reply_check(const char *r, char *why, size_t whylen)
{
	if (!(r[0] == '4' || r[0] == '5') || !isdigit((unsigned char)r[1]) ||
	    !isdigit((unsigned char)r[2]) || r[3] != ' ' || r[4] != r[0] ||
	    r[5] != '.' || strchr(r, '\r') != NULL) {
		snprintf(why, whylen, "\"%s\": want \"4xx 4.x.x text\" or "
		    "\"5xx 5.x.x text\"", r);
		return -1;
	}
	return 0;
}

static void
action_set(struct loader *ld, struct action *a, const struct entry *e)
{
	const char	*sect = e->section, *v = e->value;
	size_t		 i;

	if (strcmp(e->name, "disposition") == 0) {
		for (i = 0; i < DISP__N; i++)
			if (strcmp(v, disp_names[i]) == 0)
				break;
		if (i == DISP__N)
			loader_err(ld, e->line, "[%s] disposition: \"%s\": want "
			    "accept, tag, strip, hold, discard, tempfail or "
			    "reject", sect, v);
		else
			a->disposition = (enum disposition)i;
	} else if (strcmp(e->name, "quarantine") == 0) {
		free(a->quarantine);
		a->quarantine = NULL;
		if (v[0] != '\0' && !action_name_ok(v))
			loader_err(ld, e->line, "[%s] quarantine: \"%s\" is "
			    "not a valid area name", sect, v);
		else if (v[0] != '\0' && strcmp(v, "no") != 0)
			a->quarantine = xstrdup(v);
	} else if (strcmp(e->name, "notify") == 0) {
		struct strlist	l = { NULL, 0 };

		strlist_split(&l, v);
		a->notify = 0;
		for (i = 0; i < l.n; i++) {
			if (strcmp(l.v[i], "admin") == 0)
				a->notify |= NOTIFY_ADMIN;
			else if (strcmp(l.v[i], "sender") == 0)
				a->notify |= NOTIFY_SENDER;
			else if (strcmp(l.v[i], "recipients") == 0)
				a->notify |= NOTIFY_RECIPIENTS;
			else if (strcmp(l.v[i], "none") != 0)
				loader_err(ld, e->line, "[%s] notify: \"%s\": "
				    "want admin, sender, recipients or none",
				    sect, l.v[i]);
		}
		strlist_free(&l);
	} else if (strcmp(e->name, "reply") == 0) {
		char	why[256];

		if (reply_check(v, why, sizeof why) == -1)
			loader_err(ld, e->line, "[%s] reply: %s", sect, why);
		free(a->reply);
		a->reply = xstrdup(v);
	} else if (strcmp(e->name, "replacement") == 0) {
		free(a->replacement);
		a->replacement = xstrdup(v);
	} else if (strcmp(e->name, "replacement_file") == 0) {
		free(a->replacement_file);	/* read by templates_load() */
		a->replacement_file = v[0] == '\0' ? NULL : xstrdup(v);
	} else if (strcmp(e->name, "subject_tag") == 0) {
		free(a->subject_tag);
		a->subject_tag = v[0] == '\0' ? NULL : xstrdup(v);
	} else
		loader_err(ld, e->line, "[%s] %s: unknown key", sect, e->name);
}

/* Line of key in [action:name], or of the section's first key. */
static unsigned
action_line(const struct loader *ld, const char *name, const char *key)
{
	size_t		i;
	unsigned	first = 0;

	for (i = 0; i < ld->nents; i++) {
		const struct entry *e = &ld->ents[i];

		if (strncmp(e->section, "action:", 7) != 0 ||
		    strcmp(e->section + 7, name) != 0)
			continue;
		if (first == 0)
			first = e->line;
		if (key != NULL && strcmp(e->name, key) == 0)
			return e->line;
	}
	return first;
}

static void
policy_builtins(struct policy *pol)
{
	size_t	i;

	for (i = 0; i < sizeof builtin_actions / sizeof builtin_actions[0];
	    i++) {
		struct action *a = action_add(pol, builtin_actions[i].name);

		a->disposition = builtin_actions[i].disp;
		a->reply = xstrdup(builtin_actions[i].reply);
		a->replacement = xstrdup(builtin_actions[i].replacement);
		a->builtin = true;
	}
}

/* ---- the load --------------------------------------------------------- */

static bool
entry_dup(const struct loader *ld, size_t i)
{
	size_t	j;

	for (j = 0; j < i; j++)
		if (ld->ents[j].line != 0 && ld->ents[i].line != 0 &&
		    ld->ents[j].ovl == ld->ents[i].ovl &&
		    strcmp(ld->ents[j].section, ld->ents[i].section) == 0 &&
		    strcmp(ld->ents[j].name, ld->ents[i].name) == 0)
			return true;
	return false;
}

static struct content_rule *
content_get(struct policy *pol, const char *name)
{
	struct content_rule	*c;
	size_t			 i;

	for (i = 0; i < pol->ncontent; i++)
		if (strcmp(pol->content[i].name, name) == 0)
			return &pol->content[i];
	pol->content = xreallocarray(pol->content, pol->ncontent + 1,
	    sizeof *pol->content);
	c = &pol->content[pol->ncontent++];
	memset(c, 0, sizeof *c);
	c->name = xstrdup(name);
	return c;
}

/* The word that switches a content rule off, where an action is named. */
#define CONTENT_OFF	"off"

/* A [content:NAME] action key's value: an action or "off". 0, or -1
 * after reporting an action that is not defined. */
static int
content_action(struct loader *ld, const struct entry *e,
    const struct action **a_r)
{
	*a_r = NULL;
	if (strcmp(e->value, CONTENT_OFF) == 0)
		return 0;
	if ((*a_r = policy_action(ld->pol, e->value)) == NULL) {
		loader_err(ld, e->line, "[%s] %s: action \"%s\" is not defined",
		    e->section, e->name, e->value);
		return -1;
	}
	return 0;
}

/* Direction d of c: action a, or off when a is NULL. */
static void
content_dir_set(struct content_rule *c, enum direction d,
    const struct action *a)
{
	c->off[d] = a == NULL;
	c->action[d] = a;
}

/* Whether the file (not an overlay) gives key in [content:name]. */
static bool
content_key_given(const struct loader *ld, const char *name, const char *key)
{
	size_t	j;

	for (j = 0; j < ld->nents; j++)
		if (!ld->ents[j].ovl &&
		    strncmp(ld->ents[j].section, "content:", 8) == 0 &&
		    strcmp(ld->ents[j].section + 8, name) == 0 &&
		    strcmp(ld->ents[j].name, key) == 0)
			return true;
	return false;
}

/*
 * [content:NAME]: header or body, pattern, nocase, action(_outbound).
 * An overlay's content.NAME (overlay_translate) arrives as action or
 * action_outbound entries marked ovl: each sets its one direction, after
 * the file's own keys and their outbound default are settled.
 */
static void
apply_content(struct loader *ld)
{
	struct policy	*pol = ld->pol;
	size_t		 i;
	bool		 nocase;

	for (i = 0; i < ld->nents; i++) {
		struct entry		*e = &ld->ents[i];
		struct content_rule	*c;
		const struct action	*a;
		bool			 b;

		if (strncmp(e->section, "content:", 8) != 0)
			continue;
		e->used = true;
		if (entry_dup(ld, i)) {
			loader_err(ld, e->line, "[%s] %s: duplicate key",
			    e->section, e->name);
			continue;
		}
		if (!action_name_ok(e->section + 8)) {
			loader_err(ld, e->line, "[%s]: bad rule name \"%s\" "
			    "(letters, digits, - and _)", e->section,
			    e->section + 8);
			continue;
		}
		c = content_get(pol, e->section + 8);
		if (strcmp(e->name, "header") == 0) {
			free(c->header);
			c->header = xstrdup(e->value);
		} else if (strcmp(e->name, "body") == 0) {
			if (parse_bool(e->value, &b) == -1 || !b)
				loader_err(ld, e->line, "[%s] body: want yes "
				    "(or give header = NAME instead)",
				    e->section);
		} else if (strcmp(e->name, "pattern") == 0) {
			free(c->pattern);
			c->pattern = xstrdup(e->value);
		} else if (strcmp(e->name, "nocase") == 0) {
			if (parse_bool(e->value, &b) == -1)
				loader_err(ld, e->line, "[%s] nocase: \"%s\" "
				    "is not a valid yes/no value", e->section,
				    e->value);
		} else if (strcmp(e->name, "action") == 0 ||
		    strcmp(e->name, "action_outbound") == 0) {
			if (content_action(ld, e, &a) == 0 && !e->ovl)
				content_dir_set(c, e->name[6] == '\0' ?
				    DIR_INBOUND : DIR_OUTBOUND, a);
		} else
			loader_err(ld, e->line, "[%s] %s: unknown key",
			    e->section, e->name);
	}
	for (i = 0; i < pol->ncontent; i++) {
		struct content_rule	*c = &pol->content[i];
		regex_t			*re;
		char			 why[256];
		unsigned		 line = 0;
		size_t			 j;
		int			 r;

		for (j = 0; j < ld->nents; j++)
			if (strncmp(ld->ents[j].section, "content:", 8) == 0 &&
			    strcmp(ld->ents[j].section + 8, c->name) == 0 &&
			    (line == 0 || strcmp(ld->ents[j].name,
			    "pattern") == 0))
				line = ld->ents[j].line;
		nocase = false;
		for (j = 0; j < ld->nents; j++)
			if (strncmp(ld->ents[j].section, "content:", 8) == 0 &&
			    strcmp(ld->ents[j].section + 8, c->name) == 0 &&
			    strcmp(ld->ents[j].name, "nocase") == 0)
				(void)parse_bool(ld->ents[j].value, &nocase);
		if (c->pattern == NULL) {
			loader_err(ld, line, "[content:%s]: no pattern given",
			    c->name);
			continue;
		}
		re = xcalloc(1, sizeof *re);
		r = regcomp(re, c->pattern, REG_EXTENDED | REG_NOSUB |
		    (nocase ? REG_ICASE : 0));
		if (r != 0) {
			regerror(r, re, why, sizeof why);
			loader_err(ld, line, "[content:%s] pattern: %s",
			    c->name, why);
			free(re);
			continue;
		}
		c->re = re;
		if (!content_key_given(ld, c->name, "action_outbound"))
			content_dir_set(c, DIR_OUTBOUND, c->off[DIR_INBOUND] ?
			    NULL : c->action[DIR_INBOUND]);
	}
	for (i = 0; i < ld->nents; i++) {	/* an overlay's, on top */
		struct entry		*e = &ld->ents[i];
		const struct action	*a;
		size_t			 j;

		if (!e->ovl || strncmp(e->section, "content:", 8) != 0 ||
		    (strcmp(e->name, "action") != 0 &&
		    strcmp(e->name, "action_outbound") != 0))
			continue;
		for (j = 0; j < pol->ncontent; j++)
			if (strcmp(pol->content[j].name, e->section + 8) == 0)
				break;
		if (j == pol->ncontent)
			continue;
		a = strcmp(e->value, CONTENT_OFF) == 0 ? NULL :
		    policy_action(pol, e->value);
		if (a == NULL && strcmp(e->value, CONTENT_OFF) != 0)
			continue;		/* reported above */
		content_dir_set(&pol->content[j], e->name[6] == '\0' ?
		    DIR_INBOUND : DIR_OUTBOUND, a);
	}
}

static void
apply_entries(struct loader *ld)
{
	struct policy	*pol = ld->pol;
	size_t		 i, j;
	char		 why[512];
	const char	*bad_section = NULL;

	/* Actions first, so that rules can refer to them in any order. */
	for (i = 0; i < ld->nents; i++) {
		struct entry	*e = &ld->ents[i];
		const char	*name = e->section + 7;
		struct action	*a;

		if (strncmp(e->section, "action:", 7) != 0)
			continue;
		e->used = true;
		if (entry_dup(ld, i)) {
			loader_err(ld, e->line, "[%s] %s: duplicate key",
			    e->section, e->name);
			continue;
		}
		if (!action_name_ok(name)) {
			loader_err(ld, e->line, "[%s]: bad action name \"%s\" "
			    "(letters, digits, - and _)", e->section, name);
			continue;
		}
		if (strcmp(name, CONTENT_OFF) == 0) {
			loader_err(ld, e->line, "[%s]: \"%s\" is reserved (it "
			    "switches a content rule off)", e->section, name);
			continue;
		}
		a = (struct action *)policy_action(pol, name);
		if (a != NULL && a->builtin) {
			loader_err(ld, e->line, "[%s]: \"%s\" is a built-in "
			    "action and cannot be redefined", e->section, name);
			continue;
		}
		if (a == NULL) {
			a = action_add(pol, name);
			a->disposition = DISP__N;	/* must be set */
		}
		action_set(ld, a, e);
	}
	for (i = 0; i < pol->nactions; i++) {
		struct action *a = &pol->actions[i];

		if (a->builtin)
			continue;
		if (a->disposition == DISP__N) {
			loader_err(ld, action_line(ld, a->name, NULL), "[action:"
			    "%s]: no disposition given", a->name);
			a->disposition = DISP_TEMPFAIL;
		}
		if (a->disposition == DISP_DISCARD && a->quarantine == NULL)
			loader_err(ld, action_line(ld, a->name, "disposition"),
			    "[action:%s]: disposition discard needs a "
			    "quarantine area", a->name);
		/* A reply is used only by reject and tempfail. */
		if (a->reply != NULL && (a->disposition == DISP_REJECT ||
		    a->disposition == DISP_TEMPFAIL) &&
		    a->reply[0] != (a->disposition == DISP_REJECT ? '5' : '4'))
			loader_err(ld, action_line(ld, a->name, "reply"),
			    "[action:%s] reply: a %s needs a %cxx code",
			    a->name, disp_names[a->disposition],
			    a->disposition == DISP_REJECT ? '5' : '4');
		if (a->reply == NULL && a->disposition == DISP_REJECT)
			a->reply = xstrdup(policy_action(pol, "reject")->reply);
		if (a->reply == NULL && a->disposition == DISP_TEMPFAIL)
			a->reply = xstrdup(policy_action(pol,
			    "tempfail")->reply);
		if (a->replacement == NULL)
			a->replacement = xstrdup(policy_action(pol,
			    "strip")->replacement);
	}

	apply_content(ld);

	for (i = 0; i < ld->nents; i++) {
		struct entry			*e = &ld->ents[i];
		const struct policy_key		*k;

		if (e->used)
			continue;
		e->used = true;
		if (strncmp(e->section, "policy:", 7) == 0 ||
		    strncmp(e->section, "select:", 7) == 0) {
			if (!section_known(e->section))
				loader_err(ld, e->line, "[%s]: unknown section "
				    "(want select:inbound or select:outbound)",
				    e->section);
			continue;	/* overlays_build(), select_build() */
		}
		if (e->section[0] == '\0' && e->line != 0) {
			if (!ld->bad_header)	/* else already reported */
				loader_err(ld, e->line, "%s: key outside any "
				    "[section]", e->name);
			continue;
		}
		if (!section_known(e->section)) {
			if (bad_section == NULL ||
			    strcmp(bad_section, e->section) != 0)
				loader_err(ld, e->line, "[%s]: unknown section",
				    e->section);
			bad_section = e->section;
			continue;
		}
		if (e->line != 0 && entry_dup(ld, i)) {
			loader_err(ld, e->line, "[%s] %s: duplicate key",
			    e->section, e->name);
			continue;
		}
		if (strcmp(e->section, "rules") == 0 ||
		    strcmp(e->section, "rules:outbound") == 0) {
			enum direction	d = e->section[5] == ':' ?
			    DIR_OUTBOUND : DIR_INBOUND;
			const struct action *a;

			for (j = 0; j < RULE__N; j++)
				if (strcmp(e->name, rule_names[j]) == 0)
					break;
			if (j == RULE__N) {
				loader_err(ld, e->line, "[%s] %s: unknown rule",
				    e->section, e->name);
				continue;
			}
			a = policy_action(pol, e->value);
			if (a == NULL && strcmp(e->value, CONTENT_OFF) == 0) {
				loader_err(ld, e->line, "[%s] %s: only a content "
				    "rule can be off; give accept (the finding "
				    "is still listed)", e->section, e->name);
				continue;
			}
			if (a == NULL) {
				loader_err(ld, e->line, "[%s] %s: action \"%s\" "
				    "is not defined", e->section, e->name,
				    e->value);
				continue;
			}
			if (j == RULE_ERROR && a->disposition != DISP_TEMPFAIL &&
			    a->disposition != DISP_REJECT &&
			    a->disposition != DISP_ACCEPT &&
			    a->disposition != DISP_HOLD) {
				loader_err(ld, e->line, "[%s] %s: \"%s\" must "
				    "tempfail, reject, hold or accept",
				    e->section, e->name, e->value);
				continue;
			}
			pol->rules[d][j] = a;	/* outbound inherits inbound */
			continue;
		}
		k = key_find(e->section, e->name);
		if (k == NULL) {
			loader_err(ld, e->line, "[%s] %s: unknown key",
			    e->section, e->name);
			continue;
		}
		if (key_set(pol, k, e->value, why, sizeof why) == -1)
			loader_err(ld, e->line, "[%s] %s: %s", e->section,
			    e->name, why);
		else if (k->off == OFF(quarantine_bodies) &&
		    strcmp(e->value, "database") != 0 && e->value[0] != '/')
			loader_err(ld, e->line, "[%s] %s: want \"database\" "
			    "or an absolute directory", e->section, e->name);
	}
}

static int
err_cmp(const void *a, const void *b)
{
	unsigned	la = *(const unsigned *)a, lb = *(const unsigned *)b;

	/* file lines in order, then command line overrides (line 0) */
	la = la == 0 ? UINT_MAX : la;
	lb = lb == 0 ? UINT_MAX : lb;
	return la < lb ? -1 : la > lb;
}

/* Every error, one per line: "file:line: ..." or "-o: ...". */
static char *
loader_report(struct loader *ld)
{
	struct buf	b = BUF_INIT;
	unsigned	i;

	qsort(ld->errs, ld->nerrs, sizeof *ld->errs, err_cmp);
	for (i = 0; i < ld->nerrs; i++)
		if (ld->errs[i].file != NULL)
			buf_printf(&b, "%s:%u: %s\n", ld->errs[i].file,
			    ld->errs[i].fline, ld->errs[i].msg);
		else if (ld->errs[i].line == 0)
			buf_printf(&b, "-o: %s\n", ld->errs[i].msg);
		else
			buf_printf(&b, "%s:%u: %s\n", ld->file,
			    ld->errs[i].line, ld->errs[i].msg);
	return buf_cstr(&b);
}

static void
loader_free(struct loader *ld)
{
	size_t	i;

	for (i = 0; i < ld->nerrs; i++) {
		free(ld->errs[i].msg);
		free(ld->errs[i].file);
	}
	free(ld->errs);

	for (i = 0; i < ld->nents; i++) {
		free(ld->ents[i].section);
		free(ld->ents[i].name);
		free(ld->ents[i].value);
	}
	free(ld->ents);
}

static void
policy_free(struct policy *pol)
{
	size_t	i;
	int	d;

	for (i = 0; i < sizeof keys / sizeof keys[0]; i++) {
		void *f = (char *)pol + keys[i].off;

		if (keys[i].type == PK_STR || keys[i].type == PK_TEXT ||
		    keys[i].type == PK_LISTEN)
			free(*(char **)f);
		else if (keys[i].type == PK_WORDS ||
		    keys[i].type == PK_EXTS || keys[i].type == PK_TYPES ||
		    keys[i].type == PK_FORMATS)
			strlist_free(f);
	}
	free(pol->internal_networks);
	free(pol->archive_formats_line);
	strlist_free(&pol->archive_password_list);
	for (i = 0; i < pol->ncontent; i++) {
		free(pol->content[i].name);
		free(pol->content[i].header);
		free(pol->content[i].pattern);
		if (pol->content[i].re != NULL)
			regfree(pol->content[i].re);
		free(pol->content[i].re);
	}
	free(pol->content);
	for (i = 0; i < pol->nactions; i++) {
		free(pol->actions[i].name);
		free(pol->actions[i].quarantine);
		free(pol->actions[i].reply);
		free(pol->actions[i].replacement);
		free(pol->actions[i].replacement_file);
		free(pol->actions[i].subject_tag);
	}
	free(pol->actions);
	for (i = 0; i < pol->noverlays; i++)
		policy_free(pol->overlays[i]);
	free(pol->overlays);
	for (d = 0; d < DIR__N; d++) {
		for (i = 0; i < pol->nselect[d]; i++)
			free(pol->select[d][i].key);
		free(pol->select[d]);
	}
	strlist_free(&pol->overrides);
	for (i = 0; i < pol->ntexts; i++) {
		free(pol->texts[i].lang);
		free(pol->texts[i].subject);
		free(pol->texts[i].body);
		free(pol->texts[i].file);
	}
	free(pol->texts);
	free(pol->name);
	free(pol->source);
	free(pol);
}

#define PASSWORD_FILE_MAX	1000	/* lines read from archive_password_file */

/* [attachments] archive_password_file: one passphrase per line, as is
 * (spaces kept, CR dropped); empty lines and lines starting with # are
 * skipped. */
static void
password_file_read(struct loader *ld, struct policy *pol)
{
	FILE		*fp;
	char		 line[256];
	unsigned	 n = 0;

	if ((fp = fopen(pol->archive_password_file, "r")) == NULL) {
		loader_err(ld, 0, "[attachments] archive_password_file: "
		    "%s: %s", pol->archive_password_file, strerror(errno));
		return;
	}
	while (fgets(line, sizeof line, fp) != NULL) {
		size_t l = strcspn(line, "\r\n");

		line[l] = '\0';
		if (l == 0 || line[0] == '#')
			continue;
		if (++n > PASSWORD_FILE_MAX) {
			loader_err(ld, 0, "[attachments] archive_password_file:"
			    " %s: more than %d passwords",
			    pol->archive_password_file, PASSWORD_FILE_MAX);
			break;
		}
		pol->archive_password_list.v = xreallocarray(
		    pol->archive_password_list.v,
		    pol->archive_password_list.n + 1, sizeof(char *));
		pol->archive_password_list.v[pol->archive_password_list.n++] =
		    xstrdup(line);
	}
	fclose(fp);
}

/* ---- templates -------------------------------------------------------- */

#define TEMPLATE_MAX	(64u * 1024)	/* bytes of one template file */

/* Drops trailing white space (new lines too) in place. */
static void
n_trim_end(char *s)
{
	size_t	n = strlen(s);

	while (n > 0 && isspace((unsigned char)s[n - 1]))
		s[--n] = '\0';
}

/* Drops leading and trailing white space in place. */
static void
str_trim(char *s)
{
	size_t	n = strspn(s, " \t");

	memmove(s, s + n, strlen(s + n) + 1);
	n_trim_end(s);
}

/* Line of [section] name in the file (0: an -o override or not given). */
static unsigned
entry_line(const struct loader *ld, const char *section, const char *name)
{
	size_t	i;

	for (i = ld->nents; i > 0; i--)
		if (strcmp(ld->ents[i - 1].section, section) == 0 &&
		    strcmp(ld->ents[i - 1].name, name) == 0)
			return ld->ents[i - 1].line;
	return 0;
}

/* Every %NAME% in text (of file) is one of vars; else errors, with the
 * template's own line. Returns the number of errors. */
static unsigned
template_vars_check(struct loader *ld, unsigned keyline, const char *file,
    const char *text, bool notice)
{
	static const char *const known[] = { "FILENAME", "VIRUS", "RULE",
	    "DETAIL", "PART", "QUEUEID", "SENDER", "OUTCOME", NULL };
	const char	*p;
	unsigned	 line = 1, bad = 0;

	for (p = text; *p != '\0'; p++) {
		const char	*q;
		char		*name, *msg;

		if (*p == '\n')
			line++;
		if (*p != '%')
			continue;
		for (q = p + 1; (*q >= 'A' && *q <= 'Z') || *q == '_'; q++)
			;
		if (*q != '%' || q == p + 1 || q - p > 40)
			continue;		/* a lone %: text */
		name = xstrndup(p + 1, (size_t)(q - p - 1));
		if (!word_in(name, known) || (!notice &&
		    strcmp(name, "OUTCOME") == 0)) {
			msg = xasprintf("unknown variable %%%s%% (known: "
			    "%%FILENAME%% %%VIRUS%% %%RULE%% %%DETAIL%% "
			    "%%PART%% %%QUEUEID%% %%SENDER%%%s)", name,
			    notice ? " %OUTCOME%" : "");
			loader_err_file(ld, keyline, file, line, msg);
			free(msg);
			bad++;
		}
		free(name);
		p = q;
	}
	return bad;
}

/* The file name for a template key: absolute, or in template_dir. */
static char *
template_path(const struct policy *pol, const char *name, const char *lang)
{
	struct buf	 b = BUF_INIT;
	const char	*p, *q;

	if (name[0] != '/' && pol->template_dir != NULL)
		buf_printf(&b, "%s/", pol->template_dir);
	for (p = name; (q = strstr(p, "%LANG%")) != NULL; p = q + 6) {
		buf_append(&b, p, (size_t)(q - p));
		buf_puts(&b, lang != NULL ? lang : "");
	}
	buf_puts(&b, p);
	return buf_cstr(&b);
}

/* Reads a template: 0 with *text_r (caller frees) or -1 (why in ld). */
static int
template_read(struct loader *ld, unsigned keyline, const char *what,
    const char *path, char **text_r)
{
	FILE		*fp;
	struct buf	 b = BUF_INIT;
	char		 chunk[4096];
	size_t		 n;

	*text_r = NULL;
	if ((fp = fopen(path, "r")) == NULL) {
		loader_err(ld, keyline, "%s: %s: %s", what, path,
		    strerror(errno));
		return -1;
	}
	while ((n = fread(chunk, 1, sizeof chunk, fp)) > 0 &&
	    b.len <= TEMPLATE_MAX)
		buf_append(&b, chunk, n);
	fclose(fp);
	if (b.len > TEMPLATE_MAX || (b.len > 0 &&
	    memchr(b.data, '\0', b.len) != NULL)) {
		loader_err(ld, keyline, "%s: %s: %s", what, path, b.len >
		    TEMPLATE_MAX ? "larger than 64 KiB" : "contains a NUL byte");
		buf_free(&b);
		return -1;
	}
	*text_r = buf_cstr(&b);
	return 0;
}

/* One notice template: "Subject: ..." on its first line (optional), a
 * blank line, then the text. */
static void
template_notice(struct loader *ld, struct policy *pol, unsigned who,
    const char *key, const char *name, const char *lang)
{
	unsigned		 line = entry_line(ld, "notify", key);
	char			*path = template_path(pol, name, lang);
	char			*text, *what = xasprintf("[notify] %s", key);
	char			*body, *nl;
	struct notify_text	*nt;

	if (template_read(ld, line, what, path, &text) == -1 ||
	    template_vars_check(ld, line, path, text, true) != 0)
		goto out;
	pol->texts = xreallocarray(pol->texts, pol->ntexts + 1,
	    sizeof *pol->texts);
	nt = &pol->texts[pol->ntexts++];
	memset(nt, 0, sizeof *nt);
	nt->who = who;
	nt->lang = lang != NULL ? xstrdup(lang) : NULL;
	nt->file = xstrdup(path);
	body = text;
	if (strncasecmp(text, "Subject:", 8) == 0) {
		nl = strchr(text, '\n');
		nt->subject = nl != NULL ? xstrndup(text + 8,
		    (size_t)(nl - text - 8)) : xstrdup(text + 8);
		str_trim(nt->subject);
		body = nl != NULL ? nl + 1 : text + strlen(text);
		if (*body == '\n')
			body++;
	}
	nt->body = xstrdup(body);
	n_trim_end(nt->body);
out:
	free(text);
	free(what);
	free(path);
}

/* [notify] *_template and every [action:NAME] replacement_file. */
static void
templates_load(struct loader *ld, struct policy *pol)
{
	static const struct {
		unsigned	 who;
		const char	*key;
		size_t		 off;
	} notices[] = {
		{ NOTIFY_ADMIN, "admin_template", OFF(tmpl_admin) },
		{ NOTIFY_SENDER, "sender_template", OFF(tmpl_sender) },
		{ NOTIFY_RECIPIENTS, "recipients_template",
		    OFF(tmpl_recipients) },
	};
	size_t	i, j;

	for (i = 0; i < sizeof notices / sizeof notices[0]; i++) {
		const char *name = *(char **)((char *)pol + notices[i].off);

		if (name == NULL)
			continue;
		/* the postmaster reads one language: the admin's is one file */
		if (pol->languages.n == 0 || notices[i].who == NOTIFY_ADMIN) {
			template_notice(ld, pol, notices[i].who,
			    notices[i].key, name, NULL);
			continue;
		}
		if (strstr(name, "%LANG%") == NULL) {
			loader_err(ld, entry_line(ld, "notify", notices[i].key),
			    "[notify] %s: \"%s\" names no %%LANG%% although "
			    "[notify] languages is set", notices[i].key, name);
			continue;
		}
		for (j = 0; j < pol->languages.n; j++)
			template_notice(ld, pol, notices[i].who,
			    notices[i].key, name, pol->languages.v[j]);
	}
	for (i = 0; i < pol->nactions; i++) {
		struct action	*a = &pol->actions[i];
		char		*path, *text, *what, *sect;
		unsigned	 line;

		if (a->replacement_file == NULL)
			continue;
		sect = xasprintf("action:%s", a->name);
		line = entry_line(ld, sect, "replacement_file");
		what = xasprintf("[%s] replacement_file", sect);
		path = template_path(pol, a->replacement_file, NULL);
		if (template_read(ld, line, what, path, &text) == 0 &&
		    template_vars_check(ld, line, path, text, false) == 0) {
			n_trim_end(text);
			free(a->replacement);
			a->replacement = text;
			text = NULL;
		}
		free(text);
		free(path);
		free(what);
		free(sect);
	}
}

const struct notify_text *
policy_notify_text(const struct policy *pol, unsigned who, const char *lang)
{
	const struct notify_text	*first = NULL;
	size_t				 i;

	for (i = 0; i < pol->ntexts; i++) {
		const struct notify_text *nt = &pol->texts[i];

		if (nt->who != who)
			continue;
		if (first == NULL)
			first = nt;	/* the first language: the default */
		if (lang != NULL && nt->lang != NULL &&
		    strcasecmp(nt->lang, lang) == 0)
			return nt;
	}
	return first;
}

/* [alerts]: the queue command is run without a shell, so it must name its
 * program by an absolute path, as [notify] sendmail does. */
static void
alerts_check(struct loader *ld, const struct policy *pol)
{
	const char	*c = pol->alert_queue_command;

	if (pol->alert_queue_size != 0 && (c == NULL || c[0] != '/'))
		loader_err(ld, entry_line(ld, "alerts", "queue_command"),
		    "[alerts] queue_command: \"%s\" must start with an "
		    "absolute path (or set queue_size = 0)",
		    c != NULL ? c : "");
}

/* A new policy from the entries of ld: defaults, built-in actions, the
 * entries, the rules' defaults. Errors go to ld. */
static struct policy *
policy_compile(struct loader *ld, const char *name)
{
	struct policy	*pol = xcalloc(1, sizeof *pol);
	char		 why[512];
	size_t		 i;
	int		 d;

	pol->refs = 1;
	pol->source = xstrdup(ld->file);
	pol->name = xstrdup(name);
	for (i = 0; i < sizeof keys / sizeof keys[0]; i++)
		if (key_set(pol, &keys[i], keys[i].def, why, sizeof why) == -1)
			xpanic("bad built-in default [%s] %s: %s",
			    keys[i].section, keys[i].name, why);
	policy_builtins(pol);
	ld->pol = pol;
	apply_entries(ld);
	templates_load(ld, pol);
	alerts_check(ld, pol);

	for (d = 0; d < DIR__N; d++)
		for (i = 0; i < RULE__N; i++)
			if (pol->rules[d][i] == NULL)
				pol->rules[d][i] = d == DIR_OUTBOUND &&
				    pol->rules[DIR_INBOUND][i] != NULL ?
				    pol->rules[DIR_INBOUND][i] :
				    policy_action(pol, rule_defaults[i]);
	{
		struct buf b = BUF_INIT;	/* for archive_walk, once */

		for (i = 0; i < pol->archive_formats.n; i++)
			buf_printf(&b, "%s%s", i == 0 ? "" : " ",
			    pol->archive_formats.v[i]);
		pol->archive_formats_line = buf_cstr(&b);
	}
	return pol;
}

/* ---- overlays and select maps ----------------------------------------- */

/* Keys an overlay may not set: decided before the recipients are known. */
static const char *const overlay_denied[] = {
	"recipients", "messages_per_connection", NULL
};

static void
entry_push(struct loader *ld, const char *section, const char *name,
    const char *value, unsigned line, bool ovl)
{
	struct entry	*e;

	ld->ents = xreallocarray(ld->ents, ld->nents + 1, sizeof *ld->ents);
	e = &ld->ents[ld->nents++];
	e->section = xstrdup(section);
	e->name = xstrdup(name);
	e->value = xstrdup(value);
	e->line = line;
	e->used = false;
	e->ovl = ovl;
}

static bool
rule_known(const char *name)
{
	size_t	i;

	for (i = 0; i < RULE__N; i++)
		if (strcmp(name, rule_names[i]) == 0)
			return true;
	return false;
}

/*
 * content.NAME = ACTION or off, in direction dir (DIR__N = both): the
 * action of the file's [content:NAME], as its action and action_outbound
 * entries marked ovl (apply_content applies them last, one direction
 * each). A name the file does not define is an error at the overlay's
 * line.
 */
static void
overlay_content(struct loader *ld, const struct policy *base,
    const struct entry *e, const char *name, enum direction dir,
    struct loader *out)
{
	char	*sect;
	size_t	 i;

	for (i = 0; i < base->ncontent; i++)
		if (strcmp(base->content[i].name, name) == 0)
			break;
	if (i == base->ncontent) {
		loader_err(ld, e->line, "[%s] %s: no content rule \"%s\" (the "
		    "file has no [content:%s])", e->section, e->name, name,
		    name);
		return;
	}
	sect = xasprintf("content:%s", name);
	if (dir != DIR_OUTBOUND)
		entry_push(out, sect, "action", e->value, e->line, true);
	if (dir != DIR_INBOUND)
		entry_push(out, sect, "action_outbound", e->value, e->line,
		    true);
	free(sect);
}

/*
 * One key of [policy:NAME] as the entries it stands for, pushed to out:
 *   KEY of [limits] or [attachments]     that key
 *   RULE                                 [rules] and [rules:outbound] RULE
 *   inbound.RULE, outbound.RULE          one direction only (the other
 *                                        keeps the base file's action)
 *   content.NAME                         the action of [content:NAME], or
 *                                        off; inbound.content.NAME and
 *                                        outbound.content.NAME likewise
 *   action.ACTION.KEY                    [action:ACTION] KEY
 * Errors go to ld (the base loader), with the overlay's line.
 */
static void
overlay_translate(struct loader *ld, const struct policy *base,
    const struct entry *e, struct loader *out)
{
	const char	*k = e->name, *dot;
	char		*sect;

	if (strncmp(k, "content.", 8) == 0) {
		overlay_content(ld, base, e, k + 8, DIR__N, out);
		return;
	}
	if (strncmp(k, "action.", 7) == 0) {
		dot = strrchr(k + 7, '.');
		sect = dot != NULL ? xasprintf("action:%.*s",
		    (int)(dot - (k + 7)), k + 7) : NULL;
		if (sect == NULL || dot[1] == '\0' ||
		    !action_name_ok(sect + 7))
			loader_err(ld, e->line, "[%s] %s: want "
			    "action.NAME.KEY", e->section, k);
		else
			entry_push(out, sect, dot + 1, e->value, e->line, true);
		free(sect);
		return;
	}
	if (strncmp(k, "inbound.", 8) == 0 || strncmp(k, "outbound.", 9) == 0) {
		bool		 in = k[0] == 'i';
		const char	*r = k + (in ? 8 : 9);

		size_t		 j, ri;

		if (strncmp(r, "content.", 8) == 0) {
			overlay_content(ld, base, e, r + 8, in ? DIR_INBOUND :
			    DIR_OUTBOUND, out);
			return;
		}
		for (ri = 0; ri < RULE__N; ri++)
			if (strcmp(r, rule_names[ri]) == 0)
				break;
		if (ri == RULE__N) {
			loader_err(ld, e->line, "[%s] %s: unknown rule",
			    e->section, k);
			return;
		}
		entry_push(out, in ? "rules" : "rules:outbound", r, e->value,
		    e->line, true);
		/* outbound would inherit the new inbound action: pin it,
		 * unless the overlay sets it too */
		for (j = 0; in && j < ld->nents; j++)
			if (strcmp(ld->ents[j].section, e->section) == 0 &&
			    strncmp(ld->ents[j].name, "outbound.", 9) == 0 &&
			    strcmp(ld->ents[j].name + 9, r) == 0)
				in = false;
		if (in)
			entry_push(out, "rules:outbound", r,
			    base->rules[DIR_OUTBOUND][ri]->name, e->line, true);
		return;
	}
	if (rule_known(k)) {
		entry_push(out, "rules", k, e->value, e->line, true);
		entry_push(out, "rules:outbound", k, e->value, e->line, true);
		return;
	}
	if (word_in(k, overlay_denied)) {
		loader_err(ld, e->line, "[%s] %s: cannot differ by overlay "
		    "(enforced before the recipients are known)", e->section,
		    k);
		return;
	}
	if (key_find("limits", k) != NULL)
		entry_push(out, "limits", k, e->value, e->line, true);
	else if (key_find("attachments", k) != NULL)
		entry_push(out, "attachments", k, e->value, e->line, true);
	else
		loader_err(ld, e->line, "[%s] %s: unknown key (an overlay "
		    "sets [limits] and [attachments] keys, RULE, inbound.RULE, "
		    "outbound.RULE, content.NAME or action.NAME.KEY)",
		    e->section, k);
}

static bool
loader_has_err(const struct loader *ld, unsigned line, const char *msg)
{
	unsigned	i;

	for (i = 0; i < ld->nerrs; i++)
		if (ld->errs[i].line == line &&
		    strcmp(ld->errs[i].msg, msg) == 0)
			return true;
	return false;
}

static void	loader_free(struct loader *ld);

/* The key of section (an overlay) written on line, or NULL. */
static const char *
overlay_key_at(const struct loader *ld, const char *section, unsigned line)
{
	size_t	i;

	for (i = 0; i < ld->nents; i++)
		if (ld->ents[i].line == line && line != 0 &&
		    strcmp(ld->ents[i].section, section) == 0)
			return ld->ents[i].name;
	return NULL;
}

static bool
overlay_line_reported(const struct loader *ld, unsigned line)
{
	unsigned	i;

	for (i = 0; i < ld->nerrs; i++)
		if (ld->errs[i].line == line)
			return true;
	return false;
}

/* Every [policy:NAME] as a policy of its own, in pol->overlays. */
static void
overlays_build(struct loader *ld, struct policy *pol)
{
	size_t	 i, j;

	for (i = 0; i < ld->nents; i++) {
		const char	*name = ld->ents[i].section + 7;
		struct loader	 ol;
		struct policy	*ovl;
		unsigned	 k;

		if (strncmp(ld->ents[i].section, "policy:", 7) != 0)
			continue;
		for (j = 0; j < i; j++)		/* built at its first key */
			if (strcmp(ld->ents[j].section,
			    ld->ents[i].section) == 0)
				break;
		if (j < i)
			continue;
		if (!action_name_ok(name) || strcmp(name, "default") == 0) {
			loader_err(ld, ld->ents[i].line, "[%s]: bad policy name "
			    "\"%s\" (letters, digits, - and _; \"default\" is "
			    "the base policy)", ld->ents[i].section, name);
			continue;
		}
		memset(&ol, 0, sizeof ol);
		ol.file = ld->file;
		for (j = 0; j < ld->nents; j++) {
			const struct entry *e = &ld->ents[j];

			if (strncmp(e->section, "policy:", 7) == 0 ||
			    strncmp(e->section, "select:", 7) == 0)
				continue;
			entry_push(&ol, e->section, e->name, e->value, e->line,
			    false);
		}
		for (j = i; j < ld->nents; j++) {
			const struct entry *e = &ld->ents[j];

			if (strcmp(e->section, ld->ents[i].section) != 0)
				continue;
			if (entry_dup(ld, j)) {
				loader_err(ld, e->line, "[%s] %s: duplicate "
				    "key", e->section, e->name);
				continue;
			}
			overlay_translate(ld, pol, e, &ol);
		}
		ovl = policy_compile(&ol, name);
		for (j = 0; j < ld->nents; j++)
			if (strcmp(ld->ents[j].section,
			    ld->ents[i].section) == 0) {
				char *kv = xasprintf("%s = %s",
				    ld->ents[j].name, ld->ents[j].value);

				ovl->overrides.v = xreallocarray(
				    ovl->overrides.v, ovl->overrides.n + 1,
				    sizeof *ovl->overrides.v);
				ovl->overrides.v[ovl->overrides.n++] = kv;
			}
		/* What the overlay broke, named after it: on its own lines
		 * as "[policy:NAME] KEY: reason", once per line; elsewhere
		 * (a combination with the base file) prefixed. */
		for (k = 0; k < ol.nerrs; k++) {
			const char	*key = overlay_key_at(ld,
			    ld->ents[i].section, ol.errs[k].line);
			const char	*why = ol.errs[k].msg;
			char		*m;

			if (key != NULL && why[0] == '[' &&
			    (why = strstr(why, ": ")) != NULL) {
				if (overlay_line_reported(ld, ol.errs[k].line))
					continue;
				m = xasprintf("[policy:%s] %s%s", name, key,
				    why);
			} else
				m = xasprintf("[policy:%s] %s", name,
				    ol.errs[k].msg);
			if (ol.errs[k].file != NULL) {	/* a template's own */
				if (!loader_has_err(ld, ol.errs[k].line,
				    ol.errs[k].msg))
					loader_err_file(ld, ol.errs[k].line,
					    ol.errs[k].file, ol.errs[k].fline,
					    ol.errs[k].msg);
			} else if (!loader_has_err(ld, ol.errs[k].line,
			    ol.errs[k].msg) &&
			    !loader_has_err(ld, ol.errs[k].line, m))
				loader_err(ld, ol.errs[k].line, "%s", m);
			free(m);
		}
		ld->pol = pol;
		loader_free(&ol);
		pol->overlays = xreallocarray(pol->overlays, pol->noverlays + 1,
		    sizeof *pol->overlays);
		pol->overlays[pol->noverlays++] = ovl;
	}
}

static bool
select_key_ok(const char *k)
{
	const char	*at = strchr(k, '@');

	if (*k == '\0' || strpbrk(k, " \t<>,;\"") != NULL)
		return false;
	if (at != NULL)
		return at != k && at[1] != '\0' && strchr(at + 1, '@') == NULL;
	return k[0] != '.' || k[1] != '\0';
}

/* [select:inbound] and [select:outbound]: KEY = POLICY. */
static void
select_build(struct loader *ld, struct policy *pol)
{
	size_t	i;

	for (i = 0; i < ld->nents; i++) {
		const struct entry	*e = &ld->ents[i];
		const struct policy	*o;
		struct policy_select	*ps;
		enum direction		 d;
		char			*key, *c;

		if (strcmp(e->section, "select:inbound") == 0)
			d = DIR_INBOUND;
		else if (strcmp(e->section, "select:outbound") == 0)
			d = DIR_OUTBOUND;
		else
			continue;
		if (entry_dup(ld, i)) {
			loader_err(ld, e->line, "[%s] %s: duplicate key",
			    e->section, e->name);
			continue;
		}
		if (!select_key_ok(e->name)) {
			loader_err(ld, e->line, "[%s] %s: want an address, a "
			    "domain or .domain", e->section, e->name);
			continue;
		}
		if ((o = policy_overlay(pol, e->value)) == NULL) {
			loader_err(ld, e->line, "[%s] %s: policy \"%s\" is not "
			    "defined (no [policy:%s])", e->section, e->name,
			    e->value, e->value);
			continue;
		}
		key = xstrdup(e->name);
		for (c = key; *c != '\0'; c++)
			*c = (char)tolower((unsigned char)*c);
		pol->select[d] = xreallocarray(pol->select[d],
		    pol->nselect[d] + 1, sizeof *pol->select[d]);
		ps = &pol->select[d][pol->nselect[d]++];
		ps->key = key;
		ps->pol = o;
		ps->line = e->line;
	}
}

const struct policy *
policy_overlay(const struct policy *pol, const char *name)
{
	size_t	i;

	if (name == NULL || strcmp(pol->name, name) == 0)
		return pol;
	for (i = 0; i < pol->noverlays; i++)
		if (strcmp(pol->overlays[i]->name, name) == 0)
			return pol->overlays[i];
	return NULL;
}

static const struct policy_select *
select_find(const struct policy *pol, enum direction d, const char *key,
    size_t len)
{
	size_t	i;

	for (i = 0; i < pol->nselect[d]; i++)
		if (strlen(pol->select[d][i].key) == len &&
		    strncasecmp(pol->select[d][i].key, key, len) == 0)
			return &pol->select[d][i];
	return NULL;
}

/* addr, its domain, then .domain and each .parent. */
static const struct policy_select *
select_addr(const struct policy *pol, enum direction d, const char *addr)
{
	const struct policy_select	*ps;
	const char			*dom, *p;
	char				 dotted[512];
	size_t				 n;

	if (addr == NULL || *addr == '\0')
		return NULL;
	n = strlen(addr);
	if (addr[0] == '<' && n >= 2 && addr[n - 1] == '>') {
		addr++;
		n -= 2;
	}
	if ((ps = select_find(pol, d, addr, n)) != NULL)
		return ps;
	for (dom = addr + n; dom > addr && dom[-1] != '@'; dom--)
		;
	if (dom == addr)
		return NULL;
	n -= (size_t)(dom - addr);
	if ((ps = select_find(pol, d, dom, n)) != NULL)
		return ps;
	/* bounded by the address: each step drops one label */
	for (p = dom; p != NULL && (size_t)(p - dom) < n; ) {
		size_t m = n - (size_t)(p - dom);

		if (m + 1 >= sizeof dotted)
			return NULL;
		dotted[0] = '.';
		memcpy(dotted + 1, p, m);
		if ((ps = select_find(pol, d, dotted, m + 1)) != NULL)
			return ps;
		p = memchr(p, '.', m);
		if (p != NULL)
			p++;
	}
	return NULL;
}

const struct policy *
policy_select(const struct policy *pol, enum direction dir, const char *rcpt,
    const char *sender, const char *auth_user,
    const struct policy_select **key_r)
{
	const struct policy_select	*ps = NULL;

	if (dir == DIR_INBOUND)
		ps = select_addr(pol, dir, rcpt);
	else {
		if (auth_user != NULL && *auth_user != '\0')
			ps = select_find(pol, dir, auth_user,
			    strlen(auth_user));
		if (ps == NULL)
			ps = select_addr(pol, dir, sender);
	}
	if (key_r != NULL)
		*key_r = ps;
	return ps != NULL ? ps->pol : pol;
}

int
policy_load_string(const char *text, const char *name,
    const struct policy_override *ov, size_t nov, struct policy **pol_r,
    char **errors_r)
{
	struct loader	 ld;
	struct policy	*pol;
	size_t		 i;
	int		 r;

	*pol_r = NULL;
	*errors_r = NULL;
	memset(&ld, 0, sizeof ld);
	ld.file = name;
	ld.text = text != NULL ? text : "";

	/* Lines up to 64 KiB, read through our line-counting reader. */
	ini_max_line = 65536;
	ini_use_stack = 0;
	ini_allow_realloc = 1;
	ini_stop_on_first_error = 0;
	loader_syntax(&ld);
	r = ini_parse_stream(loader_reader, &ld, loader_handler, &ld);
	if (r > 0 && ld.nerrs == 0)
		loader_err(&ld, (unsigned)r, "syntax error");
	else if (r < 0)
		loader_err(&ld, 0, "%s: cannot parse (out of memory)", name);

	for (i = 0; i < nov; i++) {
		const char	*dot = strrchr(ov[i].key, '.');
		char		*sect;

		if (dot == NULL || dot == ov[i].key || dot[1] == '\0') {
			loader_err(&ld, 0, "\"%s\": want section.key=value",
			    ov[i].key);
			continue;
		}
		sect = xstrndup(ov[i].key, (size_t)(dot - ov[i].key));
		ld.line = 0;
		ld.indented = false;
		loader_handler(&ld, sect, dot + 1, ov[i].value);
		free(sect);
	}
	pol = policy_compile(&ld, "default");
	overlays_build(&ld, pol);
	select_build(&ld, pol);

	if (pol->socket != NULL && strncmp(pol->socket, "unix:", 5) != 0 &&
	    strncmp(pol->socket, "local:", 6) != 0 &&
	    strncmp(pol->socket, "inet:", 5) != 0 &&
	    strncmp(pol->socket, "inet6:", 6) != 0)
		loader_err(&ld, 0, "[daemon] socket: \"%s\": want unix:PATH, "
		    "inet:PORT@HOST or inet6:PORT@HOST", pol->socket);
	else if (pol->socket != NULL && strncmp(pol->socket, "inet", 4) == 0 &&
	    strchr(pol->socket, '@') == NULL)
		loader_err(&ld, 0, "[daemon] socket: \"%s\": name the address "
		    "(inet:PORT@127.0.0.1); a bare port listens on every "
		    "interface", pol->socket);

	if (pol->archive_password_file != NULL)
		password_file_read(&ld, pol);

	if (ld.nerrs != 0) {
		*errors_r = loader_report(&ld);
		loader_free(&ld);
		policy_free(pol);
		return -1;
	}
	loader_free(&ld);
	*pol_r = pol;
	return 0;
}

int
policy_load(const char *path, const struct policy_override *ov, size_t nov,
    struct policy **pol_r, char **errors_r)
{
	FILE		*fp;
	struct buf	 b = BUF_INIT;
	char		 chunk[8192];
	size_t		 n;
	int		 r;
	struct stat	 st;

	*pol_r = NULL;
	*errors_r = NULL;
	if (path == NULL)
		return policy_load_string("", "(defaults)", ov, nov, pol_r,
		    errors_r);
	if ((fp = fopen(path, "r")) == NULL) {
		*errors_r = xasprintf("%s: cannot open: %s\n", path,
		    strerror(errno));
		return -1;
	}
	while ((n = fread(chunk, 1, sizeof chunk, fp)) > 0) {
		buf_append(&b, chunk, n);
		if (b.len > 4 * MB) {
			fclose(fp);
			buf_free(&b);
			*errors_r = xasprintf("%s: file too large\n", path);
			return -1;
		}
	}
	if (b.len > 0 && memchr(b.data, '\0', b.len) != NULL) {
		fclose(fp);
		buf_free(&b);
		*errors_r = xasprintf("%s: contains a NUL byte\n", path);
		return -1;
	}
	r = policy_load_string(buf_cstr(&b), path, ov, nov, pol_r, errors_r);
	if (r == 0 && fstat(fileno(fp), &st) == 0)
		(*pol_r)->version = (uint64_t)st.st_mtime;
	fclose(fp);
	buf_free(&b);
	return r;
}

struct policy *
policy_ref(struct policy *pol)
{
	__atomic_add_fetch(&pol->refs, 1, __ATOMIC_SEQ_CST);
	return pol;
}

void
policy_unref(struct policy **polp)
{
	struct policy	*pol = *polp;

	if (pol == NULL)
		return;
	*polp = NULL;
	if (__atomic_sub_fetch(&pol->refs, 1, __ATOMIC_SEQ_CST) == 0)
		policy_free(pol);
}

void
policy_dump_keys(FILE *fp)
{
	size_t		i;
	const char	*sect = "";

	for (i = 0; i < sizeof keys / sizeof keys[0]; i++) {
		if (strcmp(sect, keys[i].section) != 0) {
			sect = keys[i].section;
			fprintf(fp, "%s[%s]\n", i == 0 ? "" : "\n", sect);
		}
		fprintf(fp, "%s = %s\n", keys[i].name, keys[i].def);
	}
	fprintf(fp, "\n[rules]\n");
	for (i = 0; i < RULE__N; i++)
		fprintf(fp, "%s = %s\n", rule_names[i], rule_defaults[i]);
}

bool
policy_uses_quarantine(const struct policy *pol)
{
	size_t	i;

	for (i = 0; i < pol->nactions; i++)
		if (pol->actions[i].quarantine != NULL)
			return true;
	return false;
}
