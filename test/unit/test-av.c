/* test/unit/test-av.c - unit tests for lib/av. */
#include "config.h"

#include "t.h"

static void
placeholder(struct t *t)
{
	t_check(t, 1 + 1 == 2, "arithmetic");
}

static const struct t_case cases[] = {
	T_CASE(placeholder),
};

int
main(int argc, char **argv)
{
	return t_main(argc, argv, cases, T_NCASES(cases));
}
