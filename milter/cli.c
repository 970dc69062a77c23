/*
 * milter/cli.c - options shared by every command, and the offline commands
 * "check" (validate policy and signatures) and "scan" (judge message files
 * exactly as the daemon would, one JSON object per file). "replay" is in
 * replay.c.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "av.h"
#include "cli.h"
#include "magic.h"
#include "mime.h"
#include "replay.h"
#include "scan.h"
#include "util.h"

void
cli_usage(FILE *fp)
{
	fputs(
"usage: portcullis daemon [--policy FILE] [--signatures DIR] [--socket SPEC]\n"
"                         [-o section.key=value]... [--foreground]\n"
"       portcullis check  [--policy FILE] [--signatures DIR] [-o ...]\n"
"                         [--for ADDR]\n"
"       portcullis -n     (same as check)\n"
"       portcullis scan   [--policy FILE] [--signatures DIR] [-o ...]\n"
"                         [--direction in|out] [--sender ADDR] [--client IP]\n"
"                         [--rcpt ADDR]\n"
"                         [--output DIR] [--explain] FILE...\n"
"       portcullis replay --policy NEW [--against OLD] [--signatures DIR]\n"
"                         [-o ...] [--direction in|out] [--sender ADDR]\n"
"                         [--client IP] [--json] [--max N]\n"
"                         DIR|MBOX|FILE... | --quarantine AREA\n"
"The default policy is " CLI_DEFAULT_POLICY ".\n"
"daemon: SPEC is unix:PATH, inet:PORT@HOST or inet6:PORT@HOST. It logs to\n"
"syslog (facility mail); PORTCULLIS_LOG_STDERR=1 copies the log to stderr\n"
"(with --foreground). SIGUSR1 or SIGHUP reloads the policy (a bad file is\n"
"logged and the old policy kept), SIGUSR2 reloads the signatures, SIGTERM\n"
"stops after the messages in flight ([daemon] shutdown_timeout).\n", fp);
}

int
cli_parse(const char *cmd, int argc, char **argv, struct cli_opts *o)
{
	static const struct option longopts[] = {
		{ "policy", required_argument, NULL, 'p' },
		{ "signatures", required_argument, NULL, 's' },
		{ "socket", required_argument, NULL, 'S' },
		{ "foreground", no_argument, NULL, 'f' },
		{ "direction", required_argument, NULL, 'd' },
		{ "output", required_argument, NULL, 'O' },
		{ "explain", no_argument, NULL, 'e' },
		{ "sender", required_argument, NULL, 'F' },
		{ "client", required_argument, NULL, 'C' },
		{ "rcpt", required_argument, NULL, 'R' },
		{ "for", required_argument, NULL, 'W' },
		{ "against", required_argument, NULL, 'A' },
		{ "quarantine", required_argument, NULL, 'Q' },
		{ "json", no_argument, NULL, 'j' },
		{ "max", required_argument, NULL, 'M' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	bool	replay = strcmp(cmd, "replay") == 0;
	bool	scan = strcmp(cmd, "scan") == 0 || replay;
	bool	daemon = strcmp(cmd, "daemon") == 0;
	bool	check = strcmp(cmd, "check") == 0 || strcmp(cmd, "-n") == 0;
	int	c;
	char	*eq, *end;
	unsigned long long	max;

	memset(o, 0, sizeof *o);
	o->direction = -1;
	optind = 1;
	while ((c = getopt_long(argc, argv, "p:c:s:o:fd:O:eh", longopts,
	    NULL)) != -1) {
		switch (c) {
		case 'p':
		case 'c':
			o->policy = optarg;
			break;
		case 's':
			o->signatures = optarg;
			break;
		case 'o':
			eq = strchr(optarg, '=');
			if (eq == NULL) {
				fprintf(stderr, "portcullis: -o %s: want "
				    "section.key=value\n", optarg);
				goto usage;
			}
			o->ov = xreallocarray(o->ov, o->nov + 1,
			    sizeof *o->ov);
			*eq = '\0';
			o->ov[o->nov].key = optarg;
			o->ov[o->nov].value = eq + 1;
			o->nov++;
			break;
		case 'S':
			if (!daemon)
				goto only;
			o->socket = optarg;
			break;
		case 'f':
			if (!daemon)
				goto only;
			o->foreground = true;
			break;
		case 'd':
			if (!scan)
				goto only;
			if (strcmp(optarg, "in") == 0 ||
			    strcmp(optarg, "inbound") == 0)
				o->direction = DIR_INBOUND;
			else if (strcmp(optarg, "out") == 0 ||
			    strcmp(optarg, "outbound") == 0)
				o->direction = DIR_OUTBOUND;
			else {
				fprintf(stderr, "portcullis: --direction: want "
				    "in or out\n");
				goto usage;
			}
			break;
		case 'O':
			if (!scan)
				goto only;
			o->output = optarg;
			break;
		case 'e':
			if (!scan)
				goto only;
			o->explain = true;
			break;
		case 'F':
			if (!scan)
				goto only;
			o->sender = optarg;
			break;
		case 'C':
			if (!scan)
				goto only;
			o->client = optarg;
			break;
		case 'R':
			if (!scan)
				goto only;
			o->rcpt = optarg;
			break;
		case 'W':
			if (!check)
				goto only;
			o->for_addr = optarg;
			break;
		case 'A':
		case 'Q':
		case 'j':
			if (!replay)
				goto only;
			if (c == 'A')
				o->against = optarg;
			else if (c == 'Q')
				o->quarantine = optarg;
			else
				o->json = true;
			break;
		case 'M':
			if (!replay)
				goto only;
			errno = 0;
			max = strtoull(optarg, &end, 10);
			if (*optarg < '0' || *optarg > '9' || *end != '\0' ||
			    errno != 0 || max == 0 || max > CLI_REPLAY_MAX) {
				fprintf(stderr, "portcullis: --max: want 1..%u\n",
				    CLI_REPLAY_MAX);
				goto usage;
			}
			o->max_messages = (size_t)max;
			break;
		case 'h':
			cli_usage(stdout);
			exit(CLI_EX_OK);
		default:
			goto usage;
		}
	}
	o->files = argv + optind;
	o->nfiles = argc - optind;
	if (replay && (o->policy == NULL ||
	    (o->nfiles == 0) == (o->quarantine == NULL))) {
		fprintf(stderr, "portcullis replay: want --policy and either "
		    "files or --quarantine AREA\n");
		goto usage;
	}
	if (scan && o->nfiles == 0 && !replay) {
		fprintf(stderr, "portcullis scan: no message files given\n");
		goto usage;
	}
	if (!scan && o->nfiles != 0) {
		fprintf(stderr, "portcullis %s: unexpected argument \"%s\"\n",
		    cmd, o->files[0]);
		goto usage;
	}
	return 0;
only:
	fprintf(stderr, "portcullis: option %s is not for \"%s\"\n",
	    argv[optind - 1], cmd);
usage:
	cli_usage(stderr);
	free(o->ov);
	o->ov = NULL;
	return CLI_EX_USAGE;
}

void
cli_opts_free(struct cli_opts *o)
{
	free(o->ov);
	o->ov = NULL;
	o->nov = 0;
}

const char *
cli_policy_path(const struct cli_opts *o)
{
	return o->policy != NULL ? o->policy : CLI_DEFAULT_POLICY;
}

int
cli_load_policy(const struct cli_opts *o, struct policy **pol_r)
{
	char	*errors = NULL;

	if (policy_load(cli_policy_path(o), o->ov, o->nov, pol_r,
	    &errors) == -1) {
		fputs(errors, stderr);
		free(errors);
		return -1;
	}
	return 0;
}

static const char *
signature_dir(const struct cli_opts *o, const struct policy *pol)
{
	return o->signatures != NULL ? o->signatures : pol->av_database;
}

/*
 * A blocked extension whose true type is not blocked: the same content
 * under an innocent name (report.pdf) passes. A warning, not an error:
 * the policy may mean it.
 */
#define CHECK_GAPS_MAX	64

static void
check_type_gaps(const struct policy *pol)
{
	const struct strlist	*ext = &pol->blocked_extensions;
	const char		*gaps[CHECK_GAPS_MAX];
	const char *const	*w;
	size_t			 n, i, j;

	n = truetype_gaps(ext->v, ext->n, pol->blocked_types.v,
	    pol->blocked_types.n, gaps, CHECK_GAPS_MAX);
	for (i = 0; i < n && i < CHECK_GAPS_MAX; i++) {
		printf("warning: [attachments] blocked_types lacks %s, the "
		    "true type of blocked", gaps[i]);
		for (j = 0; j < ext->n; j++)
			for (w = truetype_of_extension(ext->v[j]);
			    w != NULL && *w != NULL; w++)
				if (strcmp(*w, gaps[i]) == 0)
					printf(" .%s", ext->v[j]);
		printf(": under another name such content passes\n");
	}
}

/* Which policy applies to addr, as a recipient and as a sender. */
static void
check_for(const struct policy *pol, const char *addr)
{
	const struct policy_select	*ps;
	const struct policy		*p;
	size_t				 i;
	int				 d;

	for (d = 0; d < DIR__N; d++) {
		p = policy_select(pol, (enum direction)d, addr, addr, NULL,
		    &ps);
		printf("%s mail %s %s: policy %s",
		    direction_str((enum direction)d),
		    d == DIR_INBOUND ? "to" : "from", addr, p->name);
		if (ps != NULL)
			printf(" ([select:%s] %s, line %u)\n",
			    direction_str((enum direction)d), ps->key,
			    ps->line);
		else
			printf(" (no [select:%s] key matches)\n",
			    direction_str((enum direction)d));
		for (i = 0; i < p->overrides.n; i++)
			printf("  %s\n", p->overrides.v[i]);
	}
}

int
cmd_check(const struct cli_opts *o)
{
	struct policy		*pol = NULL;
	struct av_engine	*eng = NULL;
	struct err		 err = ERR_INIT;
	int			 st = CLI_EX_OK;

	if (cli_load_policy(o, &pol) == -1)
		return CLI_EX_CONFIG;
	printf("policy OK: %s (%zu actions)\n", cli_policy_path(o),
	    pol->nactions);
	check_type_gaps(pol);
	if (o->for_addr != NULL)
		check_for(pol, o->for_addr);
	if (pol->av_enabled) {
		const char *dir = signature_dir(o, pol);

		if (dir == NULL || av_engine_load(pol, dir, &eng, &err) == -1) {
			fprintf(stderr, "%s: signatures: %s\n",
			    dir != NULL ? dir : "[antivirus] database",
			    dir != NULL ? err.msg : "not set");
			st = CLI_EX_CONFIG;
		} else {
			int64_t	 t = av_engine_db_time(eng);
			int64_t	 age = t > 0 ? (int64_t)time(NULL) - t : -1;

			printf("signatures OK: %s (%u signatures, version %s, "
			    "loaded in %llu ms", dir, av_engine_signatures(eng),
			    av_engine_db_version(eng) != NULL ?
			    av_engine_db_version(eng) : "unknown",
			    (unsigned long long)av_engine_load_ms(eng));
			if (age >= 0)
				printf(", %lld hours old", (long long)age / 3600);
			printf(")\n");
			if (age >= 0 && pol->av_max_age_ms != 0 &&
			    (uint64_t)age * 1000 > pol->av_max_age_ms)
				printf("warning: signatures are older than "
				    "[antivirus] max_signature_age\n");
			av_engine_unref(&eng);
		}
	} else
		printf("antivirus: disabled by policy\n");
	policy_unref(&pol);
	return st;
}

static int
write_output(const char *dir, const char *file, const struct buf *b)
{
	char	*copy = xstrdup(file);
	char	*path = xasprintf("%s/%s", dir, basename(copy));
	FILE	*fp = fopen(path, "wb");
	int	 r = 0;

	if (fp == NULL || fwrite(b->data, 1, b->len, fp) != b->len) {
		fprintf(stderr, "portcullis scan: %s: %s\n", path,
		    strerror(errno));
		r = -1;
	}
	if (fp != NULL && fclose(fp) != 0)
		r = -1;
	free(path);
	free(copy);
	return r;
}

int
cmd_scan(const struct cli_opts *o)
{
	struct policy		*pol = NULL;
	struct replay_judge	 judge;
	struct err		 err = ERR_INIT;
	struct buf		 out = BUF_INIT;
	char			 host[256];
	int			 i, st = CLI_EX_OK;

	if (cli_load_policy(o, &pol) == -1)
		return CLI_EX_CONFIG;
	if (replay_judge_open(&judge, pol, o->signatures, NULL,
	    "portcullis scan", o->explain) == -1) {
		policy_unref(&pol);
		return CLI_EX_SOFTWARE;
	}
	if (pol->hostname != NULL)
		snprintf(host, sizeof host, "%s", pol->hostname);
	else if (gethostname(host, sizeof host) != 0)
		snprintf(host, sizeof host, "localhost");

	for (i = 0; i < o->nfiles; i++) {
		const char		*file = o->files[i];
		struct buf		 msg = BUF_INIT;
		struct verdict		*v = NULL;
		struct envelope		 env;
		FILE			*fp;
		char			 chunk[65536];
		size_t			 n, k, skip;

		if ((fp = fopen(file, "rb")) == NULL) {
			fprintf(stderr, "portcullis scan: %s: %s\n", file,
			    strerror(errno));
			st = CLI_EX_NOINPUT;
			continue;
		}
		while ((n = fread(chunk, 1, sizeof chunk, fp)) > 0)
			buf_append(&msg, chunk, n);
		if (ferror(fp)) {
			fprintf(stderr, "portcullis scan: %s: read error\n",
			    file);
			st = CLI_EX_NOINPUT;
			fclose(fp);
			buf_free(&msg);
			continue;
		}
		fclose(fp);

		skip = replay_from_line(msg.data, msg.len);
		replay_envelope_opts(o, &env);
		(void)replay_judge_message(&judge, &env, msg.data, msg.len, &v,
		    &err);

		buf_reset(&out);
		verdict_json(v, file, &out);
		printf("%s\n", buf_cstr(&out));
		if (o->explain)
			for (k = 0; k < v->nexplain; k++)
				printf("  %s\n", v->explain[k]);
		if (o->output != NULL && v->disposition < DISP_DISCARD) {
			struct buf delivered = BUF_INIT;

			message_render(msg.data + skip, msg.len - skip, v, host,
			    &delivered);
			if (write_output(o->output, file, &delivered) == -1)
				st = CLI_EX_SOFTWARE;
			buf_free(&delivered);
		}
		verdict_free(&v);
		buf_free(&msg);
	}
	buf_free(&out);
	replay_judge_close(&judge);
	policy_unref(&pol);
	return st;
}
