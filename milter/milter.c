/* milter/milter.c - the daemon (stub, to be written). */
#include "config.h"

#include <stdio.h>

#include "milter.h"

int
milter_run(const struct cli_opts *o)
{
	(void)o;
	fprintf(stderr, "portcullis: daemon not built yet\n");
	return CLI_EX_SOFTWARE;
}
