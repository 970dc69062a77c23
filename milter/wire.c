/* milter/wire.c - messages between milter, keeper and workers (wire.h). */
#include "config.h"

#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "wire.h"

#define WIRE_ENV_STR_MAX	(64u * 1024)
#define WIRE_ENV_RCPTS_MAX	200000u

void
wire_init(struct wire_msg *m, enum wire_type t)
{
	memset(m, 0, sizeof *m);
	m->type = (uint32_t)t;
	m->version = WIRE_VERSION;
}

void
wire_text(struct wire_msg *m, const char *s)
{
	snprintf(m->text, sizeof m->text, "%s", s != NULL ? s : "");
}

int
wire_send(int fd, const struct wire_msg *m, const int *fds, int nfds,
    bool dontwait)
{
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(sizeof(int) * WIRE_FDS_MAX)];
	}		 cm;
	struct iovec	 iov = { (void *)m, sizeof *m };
	struct msghdr	 mh;
	struct cmsghdr	*c;
	ssize_t		 n;

	if (nfds < 0 || nfds > WIRE_FDS_MAX) {
		errno = EINVAL;
		return -1;
	}
	memset(&mh, 0, sizeof mh);
	memset(&cm, 0, sizeof cm);
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	if (nfds > 0) {
		mh.msg_control = cm.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nfds);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * (size_t)nfds);
	}
	do
		n = sendmsg(fd, &mh, MSG_NOSIGNAL | (dontwait ? MSG_DONTWAIT :
		    0));
	while (n == -1 && errno == EINTR);
	if (n == -1)
		return -1;
	if ((size_t)n != sizeof *m) {
		errno = EMSGSIZE;
		return -1;
	}
	return 0;
}

bool
wire_transient(int error)
{
	return error == EAGAIN || error == EWOULDBLOCK ||
	    error == ETOOMANYREFS || error == ENOBUFS || error == ENOMEM;
}

int
wire_recv(int fd, struct wire_msg *m, int *fds, int *nfds_r, bool dontwait)
{
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(sizeof(int) * 2 * WIRE_FDS_MAX)];
	}		 cm;
	struct iovec	 iov = { m, sizeof *m };
	struct msghdr	 mh;
	struct cmsghdr	*c;
	ssize_t		 n;
	int		 got = 0, i, k, fd1;
	bool		 bad;

	*nfds_r = 0;
	memset(&mh, 0, sizeof mh);
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = cm.buf;
	mh.msg_controllen = sizeof cm.buf;
	do
		n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC | (dontwait ?
		    MSG_DONTWAIT : 0));
	while (n == -1 && errno == EINTR);
	if (n == -1)
		return -1;
	bad = (size_t)n != sizeof *m || m->version != WIRE_VERSION ||
	    (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) != 0;
	for (c = CMSG_FIRSTHDR(&mh); c != NULL; c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		k = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
		for (i = 0; i < k; i++) {
			memcpy(&fd1, CMSG_DATA(c) + sizeof(int) * (size_t)i,
			    sizeof fd1);
			if (!bad && got < WIRE_FDS_MAX)
				fds[got++] = fd1;
			else
				close(fd1);
		}
	}
	if (n == 0 && got == 0)
		return 0;
	if (bad) {
		for (i = 0; i < got; i++)
			close(fds[i]);
		errno = EPROTO;
		return -1;
	}
	*nfds_r = got;
	return 1;
}

static int
write_all(int fd, const void *p, size_t n, struct err *err)
{
	const unsigned char	*q = p;
	ssize_t			 w;

	while (n > 0) {
		w = write(fd, q, n);
		if (w == -1 && errno == EINTR)
			continue;
		if (w <= 0)
			return err_set(err, "memfd write: %s", w == -1 ?
			    strerror(errno) : "short write");
		q += w;
		n -= (size_t)w;
	}
	return 0;
}

int
wire_write(int fd, const void *p, size_t n, struct err *err)
{
	return write_all(fd, p, n, err);
}

int
wire_read(int fd, uint64_t off, void *p, size_t len, struct err *err)
{
	unsigned char	*q = p;
	ssize_t		 r;

	while (len > 0) {
		r = pread(fd, q, len, (off_t)off);
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0)
			return err_set(err, "read: %s", r == -1 ?
			    strerror(errno) : "short file");
		q += r;
		off += (uint64_t)r;
		len -= (size_t)r;
	}
	return 0;
}

int
wire_memfd(const char *name, const void *p1, size_t n1, const void *p2,
    size_t n2, struct err *err)
{
	int	fd;

	fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd == -1) {
		err_set(err, "memfd_create: %s", strerror(errno));
		return -1;
	}
	if ((n1 > 0 && write_all(fd, p1, n1, err) == -1) ||
	    (n2 > 0 && write_all(fd, p2, n2, err) == -1)) {
		close(fd);
		return -1;
	}
	if (fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_GROW |
	    F_SEAL_SHRINK | F_SEAL_SEAL) == -1) {
		err_set(err, "memfd seal: %s", strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

int
wire_map(int fd, size_t len, const unsigned char **p_r, struct err *err)
{
	static const unsigned char	empty[1];
	struct stat			st;
	void				*p;

	*p_r = NULL;
	if (fstat(fd, &st) == -1)
		return err_set(err, "fstat: %s", strerror(errno));
	if (st.st_size < 0 || (uint64_t)st.st_size < len)
		return err_set(err, "descriptor holds %lld bytes, want %zu",
		    (long long)st.st_size, len);
	if (len == 0) {
		*p_r = empty;
		return 0;
	}
	p = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
	if (p == MAP_FAILED)
		return err_set(err, "mmap %zu bytes: %s", len, strerror(errno));
	*p_r = p;
	return 0;
}

void
wire_unmap(const unsigned char *p, size_t len)
{
	if (len > 0)
		munmap((void *)(uintptr_t)p, len);
}

/* ---- the envelope ---------------------------------------------------- */

static void
put_u32(struct buf *b, uint32_t v)
{
	unsigned char	c[4] = { (unsigned char)v, (unsigned char)(v >> 8),
	    (unsigned char)(v >> 16), (unsigned char)(v >> 24) };

	buf_append(b, c, 4);
}

static void
put_str(struct buf *b, const char *s)
{
	size_t	n;

	if (s == NULL) {
		put_u32(b, UINT32_MAX);
		return;
	}
	n = strlen(s);
	if (n > WIRE_ENV_STR_MAX)
		n = WIRE_ENV_STR_MAX;
	put_u32(b, (uint32_t)n);
	buf_append(b, s, n);
}

void
wire_env_pack(const struct envelope *env, struct buf *out)
{
	size_t	i;

	put_str(out, env->sender);
	put_str(out, env->client_addr);
	put_str(out, env->auth_user);
	put_str(out, env->queue_id);
	put_str(out, env->policy);
	put_u32(out, (uint32_t)(env->direction + 1));
	put_u32(out, (uint32_t)env->nrcpts);
	for (i = 0; i < env->nrcpts; i++)
		put_str(out, env->rcpts[i]);
}

struct cursor {
	const unsigned char	*p;
	size_t			 left;
	bool			 bad;
};

static uint32_t
get_u32(struct cursor *c)
{
	uint32_t	v;

	if (c->bad || c->left < 4) {
		c->bad = true;
		return 0;
	}
	v = le32(c->p);
	c->p += 4;
	c->left -= 4;
	return v;
}

static char *
get_str(struct cursor *c)
{
	uint32_t	 n = get_u32(c);
	char		*s;

	if (c->bad || n == UINT32_MAX)
		return NULL;
	if (n > WIRE_ENV_STR_MAX || n > c->left ||
	    memchr(c->p, '\0', n) != NULL) {
		c->bad = true;
		return NULL;
	}
	s = xstrndup((const char *)c->p, n);
	c->p += n;
	c->left -= n;
	return s;
}

int
wire_env_unpack(const unsigned char *p, size_t len, struct wire_env *we,
    struct err *err)
{
	struct cursor	c = { p, len, false };
	uint32_t	i, n, dir;

	memset(we, 0, sizeof *we);
	for (i = 0; i < 5; i++)
		we->strs[i] = get_str(&c);
	dir = get_u32(&c);
	n = get_u32(&c);
	if (dir > DIR__N || n > WIRE_ENV_RCPTS_MAX || n > c.left / 4)
		c.bad = true;
	if (!c.bad)
		we->rcpts = xcalloc(n + 1, sizeof *we->rcpts);
	for (i = 0; i < n && !c.bad; i++) {
		we->rcpts[i] = get_str(&c);
		we->nrcpts++;
		if (we->rcpts[i] == NULL)
			c.bad = true;
	}
	if (c.bad || c.left != 0) {
		wire_env_free(we);
		return err_set(err, "envelope truncated or malformed");
	}
	we->env.sender = we->strs[0];
	we->env.client_addr = we->strs[1];
	we->env.auth_user = we->strs[2];
	we->env.queue_id = we->strs[3];
	we->env.policy = we->strs[4];
	we->env.direction = (int)dir - 1;
	we->env.rcpts = (const char *const *)we->rcpts;
	we->env.nrcpts = we->nrcpts;
	return 0;
}

void
wire_env_free(struct wire_env *we)
{
	size_t	i;

	for (i = 0; i < 5; i++)
		free(we->strs[i]);
	for (i = 0; i < we->nrcpts; i++)
		free(we->rcpts[i]);
	free(we->rcpts);
	memset(we, 0, sizeof *we);
}
