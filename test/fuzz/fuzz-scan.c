/*
 * test/fuzz/fuzz-scan.c - libFuzzer target on the library's entry point:
 * any bytes, as a message, through scan_message() under the shipped
 * defaults (attachment rules, archives, strip), with the real libclamav
 * when FUZZ_SIGNATURES names a database directory. Must never crash, leak
 * or hang; every input gets a verdict or a clean -1.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <gmime/gmime.h>

#include "av.h"
#include "magic.h"
#include "mime.h"
#include "scan.h"

static const char	 warmup[] = "\001From: a@b.c\r\nSubject: =?utf-8?q?x?=\r\n"
    "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=q\r\n\r\n"
    "--q\r\nContent-Type: text/plain; charset=iso-8859-1\r\n\r\nhi\r\n--q\r\n"
    "Content-Type: application/octet-stream; name=a.exe\r\n"
    "Content-Transfer-Encoding: base64\r\n\r\nTVqQAAMAAAAEAAAA\r\n--q--\r\n";
static struct policy	*pol_reject, *pol_strip;
static struct typer	*typer;
static struct av_engine	*engine;

int	LLVMFuzzerInitialize(int *argc, char ***argv);
int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct policy *
load(const struct policy_override *ov, size_t n)
{
	struct policy	*pol = NULL;
	char		*errs = NULL;

	if (policy_load(NULL, ov, n, &pol, &errs) == -1)
		abort();
	return pol;
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct err			 err = ERR_INIT;
	const char			*db = getenv("FUZZ_SIGNATURES");
	static const struct policy_override strip[] = {
		{ "rules.blocked_extension", "strip" },
		{ "rules.blocked_type", "strip" },
		{ "rules.name_mismatch", "strip" },
		{ "limits.scan_time", "5s" },
		{ "content:h.header", "Subject" },
		{ "content:h.pattern", "(free|cheap) +[a-z]+" },
		{ "content:b.body", "yes" },
		{ "content:b.pattern", "wire.*transfer" },
		{ "disclaimer.text", "Sent through the gateway.\\nBye." },
		{ "direction.internal_networks", "0.0.0.0/0" },
	};
	static const struct policy_override base[] = {
		{ "limits.scan_time", "5s" },
	};

	(void)argc;
	(void)argv;
	g_mime_init();
	if (av_global_init(&err) == -1 || typer_new(&typer, &err) == -1)
		abort();
	pol_reject = load(base, 1);
	pol_strip = load(strip, sizeof strip / sizeof strip[0]);
	if (db != NULL && av_engine_load(pol_reject, db, &engine, &err) == -1)
		abort();
	/* Warm up the libraries' lazy, process-lifetime caches (GLib, GMime
	 * charsets, libmagic) so that per-input leak checks see only ours. */
	LLVMFuzzerTestOneInput((const uint8_t *)warmup, sizeof warmup - 1);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct scan_deps	 deps;
	struct envelope		 env;
	struct verdict		*v = NULL;
	struct err		 err = ERR_INIT;
	struct buf		 out = BUF_INIT;
	const struct policy	*pol = size > 0 && (data[0] & 1) ?
	    pol_strip : pol_reject;

	memset(&deps, 0, sizeof deps);
	deps.typer = typer;
	deps.explain = size > 1 && (data[1] & 1);
	if (engine != NULL) {
		deps.av_scan = av_engine_scan;
		deps.av_ctx = engine;
	}
	memset(&env, 0, sizeof env);
	env.direction = -1;
	env.client_addr = "192.0.2.1";	/* outbound under pol_strip */
	env.sender = "fuzz@example.org";
	if (scan_message(pol, &deps, &env, data, size, &v, &err) == -1)
		v = scan_error_verdict(pol, &env, err.msg);
	message_render(data, size, v, "fuzz", &out);
	verdict_json(v, "fuzz", &out);
	buf_free(&out);
	verdict_free(&v);
	return 0;
}
