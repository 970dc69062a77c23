/*
 * milter/main.c - the portcullis program: "daemon", "check", "scan",
 * "replay", and
 * the hidden "keeper FD ..." the daemon executes to start its engine
 * keeper (keeper.h). The only place that exits the process (a forked
 * worker ends with _exit in keeper.c).
 */
#include "config.h"

#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "av.h"
#include "cli.h"
#include "keeper.h"
#include "milter.h"
#include "mime.h"
#include "replay.h"

int
main(int argc, char **argv)
{
	struct cli_opts	 o;
	const char	*cmd;
	struct err	 err = ERR_INIT;
	char		*end;
	long		 fd = -1;
	int		 st;

	if (argc < 2) {
		cli_usage(stderr);
		exit(CLI_EX_USAGE);
	}
	cmd = argv[1];
	if (strcmp(cmd, "-n") == 0)		/* like opendkim -n */
		cmd = "check";
	else if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0 ||
	    strcmp(cmd, "help") == 0) {
		cli_usage(stdout);
		exit(CLI_EX_OK);
	} else if (strcmp(cmd, "--version") == 0 ||
	    strcmp(cmd, "version") == 0) {
		printf("portcullis %s\n", PACKAGE_VERSION);
		exit(CLI_EX_OK);
	}
	if (strcmp(cmd, "keeper") == 0) {	/* keeper FD [options] */
		if (argc < 3 || (fd = strtol(argv[2], &end, 10)) < 3 ||
		    *end != '\0' || fd > 1024) {
			fprintf(stderr, "portcullis: keeper: started by the "
			    "daemon only\n");
			exit(CLI_EX_USAGE);
		}
		argv[2] = argv[1];
		argc--;
		argv++;
	} else if (strcmp(cmd, "daemon") != 0 && strcmp(cmd, "check") != 0 &&
	    strcmp(cmd, "scan") != 0 && strcmp(cmd, "replay") != 0) {
		fprintf(stderr, "portcullis: unknown command \"%s\"\n", cmd);
		cli_usage(stderr);
		exit(CLI_EX_USAGE);
	}
	if (cli_parse(cmd, argc - 1, argv + 1, &o) != 0)
		exit(CLI_EX_USAGE);

	/* Process-wide library setup, before any thread exists. */
	setlocale(LC_CTYPE, "C.UTF-8");
	mime_init();
	if (av_global_init(&err) == -1) {
		fprintf(stderr, "portcullis: %s\n", err.msg);
		exit(CLI_EX_SOFTWARE);
	}

	if (strcmp(cmd, "check") == 0)
		st = cmd_check(&o);
	else if (strcmp(cmd, "scan") == 0)
		st = cmd_scan(&o);
	else if (strcmp(cmd, "replay") == 0)
		st = replay_run(&o);
	else if (strcmp(cmd, "keeper") == 0)
		st = keeper_run((int)fd, &o);
	else
		st = milter_run(&o);
	cli_opts_free(&o);
	mime_shutdown();
	exit(st);
}
