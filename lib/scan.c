/* lib/scan.c - (stub) */
#include "config.h"

#include <stdlib.h>

#include "scan.h"

enum direction
scan_direction(const struct policy *pol, const struct envelope *env)
{
	(void)pol;
	return env->direction == DIR_OUTBOUND ? DIR_OUTBOUND : DIR_INBOUND;
}

struct verdict *
scan_error_verdict(const struct policy *pol, const struct envelope *env,
    const char *why)
{
	struct verdict	*v = verdict_new(scan_direction(pol, env));

	verdict_add(v, pol, RULE_ERROR, "", NULL, why);
	verdict_finish(v, env->queue_id, env->sender);
	return v;
}

int
scan_message(const struct policy *pol, const struct scan_deps *deps,
    const struct envelope *env, const unsigned char *msg, size_t len,
    struct verdict **verdict_r, struct err *err)
{
	struct verdict	*v = verdict_new(scan_direction(pol, env));

	(void)deps; (void)msg; (void)len; (void)err;
	verdict_finish(v, env->queue_id, env->sender);
	*verdict_r = v;
	return 0;
}
