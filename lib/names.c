/* lib/names.c - (stub) */
#include "config.h"

#include <stdlib.h>

#include "names.h"
#include "util.h"

char *
name_normalise(const char *name, bool *tricks_r)
{
	if (tricks_r != NULL)
		*tricks_r = false;
	return xstrdup(name);
}

const char *
name_blocked_ext(const char *normalised, const struct strlist *list)
{
	(void)normalised; (void)list;
	return NULL;
}

char *
name_display(const char *name)
{
	return str_sanitise(name, 200);
}
