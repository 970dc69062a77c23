/*
 * milter/main.c - the portcullis program: "daemon", "check", "scan".
 * The only place that exits the process.
 */
#include "config.h"

#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "av.h"
#include "cli.h"
#include "milter.h"
#include "mime.h"

int
main(int argc, char **argv)
{
	struct cli_opts	 o;
	const char	*cmd;
	struct err	 err = ERR_INIT;
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
	if (strcmp(cmd, "daemon") != 0 && strcmp(cmd, "check") != 0 &&
	    strcmp(cmd, "scan") != 0) {
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
	else
		st = milter_run(&o);
	cli_opts_free(&o);
	mime_shutdown();
	exit(st);
}
