/*
 * milter/cli.h - command line of the portcullis program: the options shared
 * by "daemon", "check", "scan" and "replay", and the offline commands
 * "check" and "scan" ("replay" is in replay.h).
 *
 * Ownership: struct cli_opts borrows argv strings; cli_opts_free() releases
 * the override array. Only main.c exits; these functions return status codes.
 */
#ifndef PORTCULLIS_CLI_H
#define PORTCULLIS_CLI_H

#include <stdbool.h>
#include <stddef.h>

#include "policy.h"

#define CLI_DEFAULT_POLICY SYSCONFDIR "/portcullis/portcullis.ini"

/* sysexits.h values, as milters and Postfix use them */
#define CLI_EX_OK	0
#define CLI_EX_FOUND	1	/* scan: at least one message not accepted */
#define CLI_EX_USAGE	64
#define CLI_EX_NOINPUT	66	/* replay: some message not read */
#define CLI_EX_SOFTWARE	70
#define CLI_EX_CONFIG	78

#define CLI_REPLAY_MAX	10000000u	/* replay --max: messages at most */

struct cli_opts {
	const char		*policy;	/* NULL = CLI_DEFAULT_POLICY */
	const char		*signatures;	/* overrides [antivirus] database */
	const char		*socket;	/* daemon: overrides [daemon] socket */
	struct policy_override	*ov;
	size_t			 nov;
	bool			 foreground;
	int			 direction;	/* -1 = from the envelope */
	const char		*output;	/* scan --output DIR */
	bool			 explain;
	const char		*sender;	/* scan --sender */
	const char		*client;	/* scan --client */
	const char		*rcpt;		/* scan --rcpt */
	const char		*for_addr;	/* check --for */
	const char		*against;	/* replay: NULL = default */
	const char		*quarantine;	/* replay --quarantine AREA */
	bool			 json;		/* replay --json */
	size_t			 max_messages;	/* replay --max, 0 = default */
	char			**files;
	int			 nfiles;
};

/* Parses argv after the command word. 0 or CLI_EX_USAGE (message printed). */
int	cli_parse(const char *cmd, int argc, char **argv, struct cli_opts *o);
void	cli_opts_free(struct cli_opts *o);
/* Loads the policy named by o, printing every error to stderr. */
int	cli_load_policy(const struct cli_opts *o, struct policy **pol_r);
const char *cli_policy_path(const struct cli_opts *o);

int	cmd_check(const struct cli_opts *o);
int	cmd_scan(const struct cli_opts *o);
void	cli_usage(FILE *fp);

#endif
