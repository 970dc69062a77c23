/* lib/scan-clamav.c - libclamav engine (stub, to be written). */
#include "config.h"

#include <stddef.h>

#include "av.h"

int
av_global_init(struct err *err)
{
	(void)err;
	return 0;
}

int
av_engine_load(const struct policy *pol, const char *dbdir,
    struct av_engine **engine_r, struct err *err)
{
	(void)pol; (void)dbdir; *engine_r = NULL;
	return err_set(err, "antivirus not built yet");
}

struct av_engine *
av_engine_ref(struct av_engine *e)
{
	return e;
}

void
av_engine_unref(struct av_engine **ep)
{
	*ep = NULL;
}

int
av_engine_scan(void *av_ctx, const unsigned char *buf, size_t len,
    const char *name, struct av_result *res, struct err *err)
{
	(void)av_ctx; (void)buf; (void)len; (void)name; (void)res;
	return err_set(err, "antivirus not built yet");
}

unsigned av_engine_signatures(const struct av_engine *e) { (void)e; return 0; }
int64_t av_engine_db_time(const struct av_engine *e) { (void)e; return 0; }
const char *av_engine_db_version(const struct av_engine *e) { (void)e; return NULL; }
uint64_t av_engine_load_ms(const struct av_engine *e) { (void)e; return 0; }
struct av_store *av_store_new(const struct policy *pol, const char *dbdir) { (void)pol; (void)dbdir; return NULL; }
void av_store_free(struct av_store **sp) { *sp = NULL; }
struct av_engine *av_store_get(struct av_store *s) { (void)s; return NULL; }
int av_store_reload(struct av_store *s, bool force, struct err *err) { (void)s; (void)force; return err_set(err, "stub"); }
void av_store_set_policy(struct av_store *s, const struct policy *pol, const char *dbdir) { (void)s; (void)pol; (void)dbdir; }
