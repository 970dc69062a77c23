/* milter/msgctx.c - per-message state and the spill buffer (msgctx.h). */
#include "config.h"

#include <sys/mman.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "msgctx.h"
#include "util.h"

static atomic_uint	active_msgs;

/* ---- the spill buffer ------------------------------------------------ */

static void
spill_init(struct spill *sp, uint64_t memmax, const char *dir)
{
	memset(sp, 0, sizeof *sp);
	sp->sp_fd = -1;
	sp->sp_memmax = memmax;
	sp->sp_dir = dir;
}

static void
spill_reset(struct spill *sp)
{
	if (sp->sp_map != NULL)
		munmap(sp->sp_map, sp->sp_maplen);
	if (sp->sp_fd != -1)
		close(sp->sp_fd);
	free(sp->sp_mem);
	memset(sp, 0, sizeof *sp);
	sp->sp_fd = -1;
}

static int
write_all(int fd, const unsigned char *p, size_t n, struct err *err)
{
	ssize_t	w;

	while (n > 0) {
		w = write(fd, p, n);
		if (w == -1 && errno == EINTR)
			continue;
		if (w <= 0)
			return err_set(err, "spool file write: %s",
			    w == -1 ? strerror(errno) : "short write");
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Moves what is in memory to an unlinked file in the spool directory. */
static int
spill_to_file(struct spill *sp, struct err *err)
{
	const char	*dir = sp->sp_dir;
	char		*path;
	int		 fd;

	if (dir == NULL && (dir = getenv("TMPDIR")) == NULL)
		dir = "/tmp";
	path = xasprintf("%s/portcullis-msg.XXXXXX", dir);
	fd = mkostemp(path, O_CLOEXEC);		/* mode 0600 */
	if (fd == -1) {
		err_set(err, "spool file in %s: %s", dir, strerror(errno));
		free(path);
		return -1;
	}
	unlink(path);		/* nothing is left behind, whatever happens */
	free(path);
	if (write_all(fd, sp->sp_mem, (size_t)sp->sp_len, err) == -1) {
		close(fd);
		return -1;
	}
	sp->sp_fd = fd;
	free(sp->sp_mem);
	sp->sp_mem = NULL;
	sp->sp_cap = 0;
	return 0;
}

static int
spill_append(struct spill *sp, const void *p, size_t n, struct err *err)
{
	size_t	cap;

	if (n == 0)
		return 0;
	if (sp->sp_fd == -1 && sp->sp_len + n > sp->sp_memmax &&
	    spill_to_file(sp, err) == -1)
		return -1;
	if (sp->sp_fd != -1) {
		if (write_all(sp->sp_fd, p, n, err) == -1)
			return -1;
		sp->sp_len += n;
		return 0;
	}
	if (sp->sp_len + n > sp->sp_cap) {
		cap = sp->sp_cap != 0 ? sp->sp_cap : 16384;
		while (cap < sp->sp_len + n)
			cap *= 2;
		if (cap > sp->sp_memmax)
			cap = (size_t)sp->sp_memmax;
		sp->sp_mem = xrealloc(sp->sp_mem, cap);
		sp->sp_cap = cap;
	}
	memcpy(sp->sp_mem + sp->sp_len, p, n);
	sp->sp_len += n;
	return 0;
}

static int
spill_bytes(struct spill *sp, const unsigned char **p_r, size_t *len_r,
    struct err *err)
{
	static const unsigned char	empty[1];

	*len_r = (size_t)sp->sp_len;
	if (sp->sp_fd == -1) {
		*p_r = sp->sp_mem != NULL ? sp->sp_mem : empty;
		return 0;
	}
	if (sp->sp_map == NULL) {
		if (sp->sp_len == 0) {
			*p_r = empty;
			return 0;
		}
		sp->sp_map = mmap(NULL, (size_t)sp->sp_len, PROT_READ,
		    MAP_PRIVATE, sp->sp_fd, 0);
		if (sp->sp_map == MAP_FAILED) {
			sp->sp_map = NULL;
			return err_set(err, "mmap of the spool file: %s",
			    strerror(errno));
		}
		sp->sp_maplen = (size_t)sp->sp_len;
	}
	*p_r = sp->sp_map;
	return 0;
}

/* ---- the message ----------------------------------------------------- */

struct msgctx *
msgctx_new(void)
{
	struct msgctx	*mc = xcalloc(1, sizeof *mc);

	spill_init(&mc->mc_buf, 0, NULL);
	return mc;
}

void
msgctx_free(struct msgctx **mcp)
{
	if (*mcp == NULL)
		return;
	msgctx_reset(*mcp);
	free(*mcp);
	*mcp = NULL;
}

void
msgctx_reset(struct msgctx *mc)
{
	size_t	i;

	if (mc == NULL)
		return;
	if (mc->mc_active)
		atomic_fetch_sub(&active_msgs, 1);
	spill_reset(&mc->mc_buf);
	for (i = 0; i < mc->mc_nrcpts; i++)
		free(mc->mc_rcpts[i]);
	free(mc->mc_rcpts);
	free(mc->mc_qid);
	free(mc->mc_sender);
	free(mc->mc_auth);
	free(mc->mc_subject);
	free(mc->mc_msgid);
	policy_unref(&mc->mc_pol);
	memset(mc, 0, sizeof *mc);
	mc->mc_buf.sp_fd = -1;
}

void
msgctx_begin(struct msgctx *mc, struct policy *pol, const char *sender)
{
	msgctx_reset(mc);
	mc->mc_pol = pol;
	mc->mc_sender = xstrdup(sender != NULL ? sender : "");
	mc->mc_start_ms = clock_ms();
	spill_init(&mc->mc_buf, pol->memory_buffer, pol->spool_dir);
	mc->mc_active = true;
	atomic_fetch_add(&active_msgs, 1);
}

void
msgctx_set_qid(struct msgctx *mc, const char *val)
{
	if (val == NULL || *val == '\0' ||
	    (mc->mc_qid != NULL && strcmp(mc->mc_qid, val) == 0))
		return;
	free(mc->mc_qid);
	mc->mc_qid = str_sanitise(val, 64);
}

void
msgctx_set_auth(struct msgctx *mc, const char *val)
{
	if (val == NULL || *val == '\0')
		return;
	free(mc->mc_auth);
	mc->mc_auth = xstrdup(val);
}

void
msgctx_add_rcpt(struct msgctx *mc, const char *rcpt)
{
	mc->mc_rcpts = xreallocarray(mc->mc_rcpts, mc->mc_nrcpts + 1,
	    sizeof *mc->mc_rcpts);
	mc->mc_rcpts[mc->mc_nrcpts++] = xstrdup(rcpt != NULL ? rcpt : "");
}

int
msgctx_header(struct msgctx *mc, const char *name, const char *value,
    struct err *err)
{
	struct buf	 b = BUF_INIT;
	const char	*p;
	int		 r;

	if (strcasecmp(name, "X-Portcullis") == 0)
		mc->mc_nxpc++;
	else if (strcasecmp(name, "Subject") == 0 && mc->mc_subject == NULL)
		mc->mc_subject = xstrdup(value);
	else if (strcasecmp(name, "Message-ID") == 0 && mc->mc_msgid == NULL) {
		value += strspn(value, " \t");
		mc->mc_msgid = xstrndup(value, strnlen(value, 998));
	}

	buf_puts(&b, name);
	buf_puts(&b, ": ");
	for (p = value; *p != '\0'; p++) {
		if (*p == '\n' && (p == value || p[-1] != '\r'))
			buf_append(&b, "\r", 1);
		buf_append(&b, p, 1);
	}
	buf_puts(&b, "\r\n");
	mc->mc_size += b.len;
	r = spill_append(&mc->mc_buf, b.data, b.len, err);
	buf_free(&b);
	return r;
}

int
msgctx_eoh(struct msgctx *mc, struct err *err)
{
	mc->mc_size += 2;
	return spill_append(&mc->mc_buf, "\r\n", 2, err);
}

int
msgctx_body(struct msgctx *mc, const unsigned char *p, size_t n,
    struct err *err)
{
	mc->mc_size += n;
	return spill_append(&mc->mc_buf, p, n, err);
}

bool
msgctx_spilled(const struct msgctx *mc)
{
	return mc->mc_buf.sp_fd != -1;
}

int
msgctx_bytes(struct msgctx *mc, const unsigned char **p_r, size_t *len_r,
    struct err *err)
{
	return spill_bytes(&mc->mc_buf, p_r, len_r, err);
}

int
msgctx_spool_fd(const struct msgctx *mc)
{
	return mc->mc_buf.sp_fd;
}

unsigned
msgctx_active(void)
{
	return atomic_load(&active_msgs);
}
