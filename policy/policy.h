/*
 * policy/policy.h - the parsed policy file.
 *
 * policy_load() reads an ini file (inih) through one table of keys (see
 * policy.c), collects every error as "file:line: [section] key: reason",
 * cross-checks the result and returns a new, immutable struct policy.
 * The live policy is never touched: reload builds a new one and swaps it.
 *
 * Ownership: struct policy is reference counted. policy_load() returns it
 * with one reference; policy_ref() adds one; policy_unref() drops one and
 * frees at zero. Everything reachable from a policy (actions, lists) is
 * owned by it and borrowed by users for as long as they hold a reference.
 * Thread-safety: a loaded policy is read-only and may be shared by all
 * threads; ref/unref are atomic. policy_load() must not run concurrently
 * with itself (inih's run-time options are process-wide).
 */
#ifndef PORTCULLIS_POLICY_H
#define PORTCULLIS_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

#include "err.h"

/* What happens to the message; ordered by severity (the worst wins). */
enum disposition {
	DISP_ACCEPT = 0,	/* deliver */
	DISP_TAG,		/* deliver, subject tag + header */
	DISP_STRIP,		/* deliver with the offending parts replaced */
	DISP_HOLD,		/* Postfix hold queue (smfi_quarantine) */
	DISP_DISCARD,		/* accept and drop; needs a quarantine copy */
	DISP_TEMPFAIL,		/* 4xx, the sender retries */
	DISP_REJECT,		/* 5xx */
	DISP__N
};

/* Every finding a message can produce; each names an action per direction. */
enum rule {
	RULE_VIRUS = 0,		/* ClamAV signature */
	RULE_UNSCANNED,		/* ClamAV could not scan it all (its limits) */
	RULE_BLOCKED_EXTENSION,	/* a name with a blocked extension */
	RULE_BLOCKED_TYPE,	/* content whose true type is blocked */
	RULE_ENCRYPTED,		/* encrypted archive or entry */
	RULE_UNREADABLE,	/* archive that cannot be read (corrupt, unsupported) */
	RULE_SIZE_LIMIT,	/* message, part, member or total decoded size */
	RULE_COUNT_LIMIT,	/* attachments, MIME parts, archive entries */
	RULE_DEPTH_LIMIT,	/* MIME or archive nesting */
	RULE_ARCHIVE_BOMB,	/* compression ratio */
	RULE_TIME_LIMIT,	/* scan time */
	RULE_MALFORMED,		/* broken MIME that every reading agrees on */
	RULE_AMBIGUOUS,		/* the readings disagree on what a client shows */
	RULE_NAME_MISMATCH,	/* file name sources disagree */
	RULE_PARTIAL,		/* message/partial */
	RULE_ARCHIVE_ANOMALY,	/* local/central name differ, overlaps, junk */
	RULE_STALE_SIGNATURES,	/* signature database older than allowed */
	RULE_CONTENT,		/* a [content:NAME] pattern matched */
	RULE_ERROR,		/* operational failure: the message was not judged */
	RULE_POISON,		/* this message killed a scanning worker before */
	RULE_ENCRYPTED_OPENED,	/* encrypted archive opened with a password */
	RULE_ENCRYPTED_MESSAGE,	/* end-to-end encrypted mail (S/MIME, PGP) */
	RULE__N
};

enum direction {
	DIR_INBOUND = 0,
	DIR_OUTBOUND,
	DIR__N
};

enum notify_who {
	NOTIFY_ADMIN = 1u << 0,
	NOTIFY_SENDER = 1u << 1,
	NOTIFY_RECIPIENTS = 1u << 2
};

enum log_level {
	LOG_LEVEL_NORMAL = 0,
	LOG_LEVEL_DIAGNOSTIC
};

enum raw_scan {
	RAW_SCAN_AUTO = 0,	/* only when the message does not parse */
	RAW_SCAN_ALWAYS,
	RAW_SCAN_NEVER
};

/* A named action: [action:NAME] or one of the built-ins. */
struct action {
	char			*name;
	enum disposition	 disposition;
	char			*quarantine;	/* area, or NULL */
	unsigned		 notify;	/* enum notify_who bits */
	char			*reply;		/* "554 5.7.1 text", templates */
	char			*replacement;	/* strip notice, templates */
	char			*replacement_file;	/* its source, NULL = inline */
	char			*subject_tag;	/* NULL = none */
	bool			 builtin;
};

/* A notice's text from a template file ([notify] *_template). */
struct notify_text {
	unsigned	 who;		/* one enum notify_who bit */
	char		*lang;		/* NULL = the only one */
	char		*subject;	/* NULL = the built-in subject */
	char		*body;
	char		*file;		/* where it came from */
};

/* The variables templates may use; %OUTCOME% only in notices. */
#define POLICY_TEMPLATE_VARS	"FILENAME VIRUS RULE DETAIL PART QUEUEID " \
				"SENDER OUTCOME"

/* [content:NAME]: a pattern on a header or on the text bodies. */
struct content_rule {
	char			*name;
	char			*header;	/* header name, NULL = bodies */
	char			*pattern;
	void			*re;		/* regex_t, compiled at load */
	const struct action	*action[DIR__N];	/* NULL = [rules] content */
	bool			 off[DIR__N];	/* "off": not applied at all */
};

struct strlist {
	char	**v;
	size_t	  n;
};

struct cidr {
	int		 family;	/* AF_INET or AF_INET6 */
	unsigned char	 addr[16];
	unsigned	 prefix;
};

struct policy;

/* One line of a [select:inbound] or [select:outbound] map. */
struct policy_select {
	char			*key;		/* lower case: addr, domain, .domain */
	const struct policy	*pol;		/* an overlay, or the base policy */
	unsigned		 line;
};

struct policy {
	/* [daemon] */
	char		*socket;
	unsigned	 socket_mode;
	char		*socket_group;
	char		*user;
	char		*pid_file;
	char		*spool_dir;
	char		*hostname;		/* NULL = gethostname() */
	enum log_level	 log_level;
	uint64_t	 memory_buffer;		/* bytes kept in RAM per message */
	unsigned	 max_scans;		/* concurrent scans; 0 = cores */
	uint64_t	 shutdown_timeout_ms;
	unsigned	 workers;		/* scanning processes; 0 = cores */
	uint64_t	 worker_memory;		/* RLIMIT_AS of a worker; 0 = none */
	uint64_t	 worker_cpu_ms;		/* RLIMIT_CPU per message */
	char		*metrics_file;		/* Prometheus text; NULL = off */
	char		*metrics_listen;	/* "ADDRESS:PORT"; NULL = off */
	char		*event_log;		/* JSON lines; "" = off */

	/* [limits] */
	uint64_t	 message_size;
	unsigned	 attachments;
	uint64_t	 attachment_size;
	unsigned	 mime_depth;
	unsigned	 mime_parts;
	uint64_t	 header_size;
	unsigned	 archive_depth;
	unsigned	 archive_entries;
	uint64_t	 archive_member_size;
	uint64_t	 decoded_size;		/* total decoded bytes per message */
	unsigned	 compression_ratio;
	unsigned	 recipients;
	unsigned	 messages_per_connection;
	uint64_t	 scan_time_ms;
	unsigned	 password_candidates;	/* words taken from a message */
	unsigned	 password_attempts;	/* passphrases tried per archive */
	uint64_t	 password_time_ms;	/* trying, per message */

	/* [antivirus] */
	bool		 av_enabled;
	char		*av_database;
	uint64_t	 av_check_interval_ms;
	uint64_t	 av_max_age_ms;		/* 0 = never stale */
	enum raw_scan	 av_raw_scan;
	uint64_t	 av_max_scansize;
	uint64_t	 av_max_filesize;
	unsigned	 av_max_recursion;
	unsigned	 av_max_files;
	bool		 av_heuristics;		/* ClamAV heuristic alerts */
	char		*av_temp_dir;		/* ClamAV's scratch (tmpfs) */

	/* [attachments] */
	struct strlist	 blocked_extensions;	/* lower case, no dot */
	struct strlist	 blocked_types;		/* true-type vocabulary */
	bool		 inspect_archives;
	bool		 lenient_reading;	/* the tolerant reading too */
	bool		 eml_by_content;	/* an attached message's .eml
						   name: judged by content */
	bool		 strip_signed;		/* strip may break a signature */
	struct strlist	 archive_formats;	/* zip 7z rar tar ... */
	char		*archive_formats_line;	/* the same, one string */
	struct strlist	 archive_passwords;	/* tried on encrypted archives */
	char		*archive_password_file;	/* one per line; NULL = none */
	struct strlist	 archive_password_list;	/* that file, read at load */
	bool		 message_passwords;	/* candidates from the message */

	/* [direction] */
	struct strlist	 internal_domains;	/* lower case */
	struct cidr	*internal_networks;
	size_t		 ninternal_networks;
	bool		 authenticated_outbound;
	bool		 sender_domain_outbound;	/* internal sender to outside */

	/* [tagging] */
	bool		 tag_header;		/* X-Portcullis on accepted mail */
	char		*subject_tag;		/* added by "tag"; NULL = none */

	/* [disclaimer] */
	char		*disclaimer;		/* outbound text; NULL = none */

	/* [quarantine] */
	char		*quarantine_dir;
	unsigned	 quarantine_expire_days;
	unsigned	 quarantine_stats_days;	/* 0 = no traffic rows */
	char		*quarantine_database;	/* PostgreSQL; NULL = SQLite */
	char		*quarantine_bodies;	/* "database" or a directory */
	char		*quarantine_node;	/* NULL = the host name */

	/* [notify] */
	char		*notify_admin;
	char		*notify_from;
	char		*notify_server_tag;
	char		*sendmail_path;
	bool		 notify_forged_senders;
	bool		 notify_attach_original;	/* admin copy */
	char		*template_dir;		/* relative template names */
	struct strlist	 languages;		/* first = the default */
	char		*tmpl_admin;		/* file names; NULL = built-in */
	char		*tmpl_sender;
	char		*tmpl_recipients;
	struct notify_text *texts;		/* loaded from those */
	size_t		 ntexts;

	/* [alerts] (milter/alerts.h); a threshold of 0 turns its check off */
	struct strlist	 alert_mail_to;		/* none = logged only */
	uint64_t	 alert_interval_ms;	/* between two checks */
	uint64_t	 alert_period_ms;	/* one mail per condition */
	uint64_t	 alert_signature_age_ms;
	uint64_t	 alert_window_ms;	/* of rates and restarts */
	unsigned	 alert_error_rate;	/* percent of messages */
	unsigned	 alert_tempfail_rate;	/* percent of messages */
	unsigned	 alert_rate_min_messages; /* in the window, to judge */
	unsigned	 alert_worker_restarts;	/* more in the window */
	unsigned	 alert_queue_size;	/* more messages queued */
	char		*alert_queue_command;	/* argv, split at spaces */
	unsigned	 alert_disk_free;	/* percent free, less */

	/* [order] */
	bool		 attachments_first;	/* attachment rules before AV */

	/* [rules] and [rules:outbound] */
	const struct action *rules[DIR__N][RULE__N];

	struct content_rule	*content;
	size_t			 ncontent;

	/* every action, built-ins first */
	struct action	*actions;
	size_t		 nactions;

	/* Overlays: every [policy:NAME] is a complete policy of its own
	 * (the base file with the overlay's keys applied), owned by the
	 * base policy and living as long as it. name is "default" for the
	 * base policy. The select maps are tried in the order of
	 * policy_select() below. */
	char		*name;
	struct policy	**overlays;
	size_t		 noverlays;
	struct strlist	 overrides;		/* overlay: "key = value" as written */
	struct policy_select *select[DIR__N];
	size_t		 nselect[DIR__N];

	char		*source;		/* file name it came from */
	uint64_t	 version;		/* mtime-based, for records */
	int		 refs;
};

struct policy_override {
	const char	*key;		/* "section.key" */
	const char	*value;
};

/*
 * Loads path (NULL = the built-in defaults only) and then applies the
 * overrides (-o section.key=value), all validated alike. Returns 0 and
 * *pol_r (caller's reference, policy_unref) or -1 with every problem in
 * *errors_r, one per line, each "file:line: [section] key: reason"
 * (caller frees *errors_r with free()); *errors_r is NULL on success.
 */
int	policy_load(const char *path, const struct policy_override *ov,
	    size_t nov, struct policy **pol_r, char **errors_r)
	    __attribute__((warn_unused_result));
/* Same, from a string; name is used in messages ("test.ini"). */
int	policy_load_string(const char *text, const char *name,
	    const struct policy_override *ov, size_t nov,
	    struct policy **pol_r, char **errors_r)
	    __attribute__((warn_unused_result));

struct policy	*policy_ref(struct policy *pol);
void		 policy_unref(struct policy **polp);

const struct action *policy_action(const struct policy *pol,
	    const char *name);

/*
 * The policy named name: the base policy ("default") or one of its
 * overlays; NULL if there is none (pol may itself be an overlay, whose
 * own name is then found). Borrowed from pol.
 */
const struct policy *policy_overlay(const struct policy *pol,
	    const char *name);

/*
 * The policy for a message in direction dir, from the select maps of the
 * base policy pol, first match wins, in this order:
 *   inbound:  the recipient address, its domain, then ".PARENT" for the
 *             domain and each parent domain (".example.com" matches
 *             example.com's subdomains and itself);
 *   outbound: the authenticated user (if any), then the sender address,
 *             its domain, then ".PARENT" as above.
 * Keys compare without regard to case. No match: pol itself. *key_r (may
 * be NULL) gets the matching map line (NULL when none matched).
 */
const struct policy *policy_select(const struct policy *pol,
	    enum direction dir, const char *rcpt, const char *sender,
	    const char *auth_user, const struct policy_select **key_r);

/*
 * The text of the notice to who (one NOTIFY_* bit) in language lang
 * (NULL or unknown = the first of [notify] languages), or NULL for the
 * built-in text. Borrowed from pol.
 */
const struct notify_text *policy_notify_text(const struct policy *pol,
	    unsigned who, const char *lang);

const char	*disposition_str(enum disposition d);
const char	*rule_str(enum rule r);
const char	*direction_str(enum direction d);

/*
 * Splits a [daemon] metrics_listen value, "ADDRESS:PORT" with a numeric
 * IPv4 address or "[IPv6]:PORT" (port 0: any free one). 0 = valid: the
 * address (without brackets) is copied to addr (addrlen bytes; may be
 * NULL) and the port to *port_r (may be NULL); -1 = not valid.
 */
int		 policy_listen_parse(const char *s, char *addr, size_t addrlen,
		    unsigned *port_r) __attribute__((warn_unused_result));

/* True when an action of pol keeps copies in a quarantine area. */
bool		 policy_uses_quarantine(const struct policy *pol);

/* Built-in compiled defaults as a policy text (the reference source). */
void		 policy_dump_keys(FILE *fp);

#endif
