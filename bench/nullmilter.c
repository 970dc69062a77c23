/*
 * bench/nullmilter.c - the do-nothing libmilter filter of bench/run, mode
 * (d): the ceiling no libmilter filter can beat.
 *
 * It registers the same callbacks as milter/milter.c and negotiates the
 * same actions and the same no-reply steps (SMFIP_NR_*, SMFIP_NOUNKNOWN:
 * see mlt_negotiate), so that the MTA sends it the same commands and waits
 * for the same replies as it does for Portcullis. Then it does nothing: it
 * keeps no state, reads no macro, copies no byte, logs nothing, and
 * accepts every message at the end of its body.
 *
 * usage: nullmilter SOCKET   (e.g. unix:/path/null.sock; it must not exist,
 * or be a stale socket: it is removed)
 * Runs in the foreground until SIGTERM (libmilter's signal handling).
 * Exits 0 when stopped, 1 on a start-up error (said on stderr).
 *
 * Built by bench/run with the project's libmilter flags (pkg-config
 * milter) and warnings; not part of the product (milter/ is the only code
 * of the daemon that includes libmilter).
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <libmilter/mfapi.h>

/* What milter/milter.c's mlt_negotiate asks for and accepts. */
#define NULL_ACTIONS	(SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_CHGBODY | \
	    SMFIF_QUARANTINE)
#define NULL_STEPS	(SMFIP_NR_CONN | SMFIP_NR_HELO | SMFIP_NR_HDR | \
	    SMFIP_NR_EOH | SMFIP_NR_DATA | SMFIP_NOUNKNOWN)

/*
 * The steps negotiated on a connection are kept in its private pointer
 * itself (never dereferenced), so that the filter allocates nothing; the
 * top bit tells "negotiated" from NULL.
 */
#define NULL_SET	((uintptr_t)1 << (sizeof(uintptr_t) * 8 - 1))

/* st, or SMFIS_NOREPLY where the connection negotiated no reply. */
static sfsistat
null_answer(SMFICTX *ctx, unsigned long nr_step, sfsistat st)
{
	uintptr_t	steps = (uintptr_t)smfi_getpriv(ctx);

	return (steps & NULL_SET) != 0 && (steps & nr_step) != 0 ?
	    SMFIS_NOREPLY : st;
}

static sfsistat
null_negotiate(SMFICTX *ctx, unsigned long f0, unsigned long f1,
    unsigned long f2, unsigned long f3, unsigned long *pf0,
    unsigned long *pf1, unsigned long *pf2, unsigned long *pf3)
{
	(void)f2;
	(void)f3;
	if ((f0 & NULL_ACTIONS) != NULL_ACTIONS)
		return SMFIS_ALL_OPTS;
	*pf0 = NULL_ACTIONS;
	*pf1 = f1 & NULL_STEPS;
	*pf2 = 0;
	*pf3 = 0;
	smfi_setpriv(ctx, (void *)(NULL_SET | (uintptr_t)*pf1));
	return SMFIS_CONTINUE;
}

static sfsistat
null_connect(SMFICTX *ctx, char *host, _SOCK_ADDR *addr)
{
	(void)host;
	(void)addr;
	return null_answer(ctx, SMFIP_NR_CONN, SMFIS_CONTINUE);
}

static sfsistat
null_helo(SMFICTX *ctx, char *helo)
{
	(void)helo;
	return null_answer(ctx, SMFIP_NR_HELO, SMFIS_CONTINUE);
}

static sfsistat
null_envfrom(SMFICTX *ctx, char **argv)
{
	(void)argv;
	return null_answer(ctx, SMFIP_NR_MAIL, SMFIS_CONTINUE);
}

static sfsistat
null_envrcpt(SMFICTX *ctx, char **argv)
{
	(void)argv;
	return null_answer(ctx, SMFIP_NR_RCPT, SMFIS_CONTINUE);
}

static sfsistat
null_data(SMFICTX *ctx)
{
	return null_answer(ctx, SMFIP_NR_DATA, SMFIS_CONTINUE);
}

static sfsistat
null_header(SMFICTX *ctx, char *name, char *value)
{
	(void)name;
	(void)value;
	return null_answer(ctx, SMFIP_NR_HDR, SMFIS_CONTINUE);
}

static sfsistat
null_eoh(SMFICTX *ctx)
{
	return null_answer(ctx, SMFIP_NR_EOH, SMFIS_CONTINUE);
}

static sfsistat
null_body(SMFICTX *ctx, unsigned char *chunk, size_t len)
{
	(void)chunk;
	(void)len;
	return null_answer(ctx, SMFIP_NR_BODY, SMFIS_CONTINUE);
}

static sfsistat
null_eom(SMFICTX *ctx)
{
	(void)ctx;
	return SMFIS_ACCEPT;
}

static sfsistat
null_abort(SMFICTX *ctx)
{
	(void)ctx;
	return SMFIS_CONTINUE;
}

static sfsistat
null_close(SMFICTX *ctx)
{
	smfi_setpriv(ctx, NULL);
	return SMFIS_CONTINUE;
}

static struct smfiDesc null_desc = {
	.xxfi_name = (char *)"nullmilter",
	.xxfi_version = SMFI_VERSION,
	.xxfi_flags = NULL_ACTIONS,
	.xxfi_connect = null_connect,
	.xxfi_helo = null_helo,
	.xxfi_envfrom = null_envfrom,
	.xxfi_envrcpt = null_envrcpt,
	.xxfi_header = null_header,
	.xxfi_eoh = null_eoh,
	.xxfi_body = null_body,
	.xxfi_eom = null_eom,
	.xxfi_abort = null_abort,
	.xxfi_close = null_close,
	.xxfi_data = null_data,
	.xxfi_negotiate = null_negotiate,
};

int
main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: nullmilter SOCKET\n");
		return 1;
	}
	if (smfi_setconn(argv[1]) != MI_SUCCESS ||
	    smfi_register(null_desc) != MI_SUCCESS ||
	    smfi_opensocket(1) != MI_SUCCESS) {
		fprintf(stderr, "nullmilter: cannot listen on %s\n", argv[1]);
		return 1;
	}
	return smfi_main() == MI_SUCCESS ? 0 : 1;
}
