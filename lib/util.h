/*
 * lib/util.h - allocation, growable byte buffers, string helpers.
 *
 * Allocation failure in the x* functions is fatal (xpanic), as in Postfix's
 * mymalloc: every size handed to them is bounded by a policy limit, so
 * running out of memory means the host is broken, and the MTA turns the
 * lost milter connection into a temporary failure (nothing is lost).
 *
 * struct buf owns its data; buf_free() releases it. Nothing here keeps
 * state between calls; all functions are thread-safe.
 */
#ifndef PORTCULLIS_UTIL_H
#define PORTCULLIS_UTIL_H

#include <spawn.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

void	xpanic(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2), noreturn));
void	*xmalloc(size_t n);
void	*xcalloc(size_t n, size_t size);
void	*xrealloc(void *p, size_t n);
void	*xreallocarray(void *p, size_t n, size_t size);
char	*xstrdup(const char *s);		/* NULL in, NULL out */
char	*xstrndup(const char *s, size_t n);
char	*xasprintf(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2)));

struct buf {
	unsigned char	*data;
	size_t		 len;
	size_t		 cap;
};

#define BUF_INIT { NULL, 0, 0 }

void	buf_append(struct buf *b, const void *p, size_t n);
void	buf_puts(struct buf *b, const char *s);
void	buf_printf(struct buf *b, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
/* Appends s as a JSON string literal (with quotes). */
void	buf_json_str(struct buf *b, const char *s);
/* NUL-terminates without counting the NUL in len; returns data. */
char	*buf_cstr(struct buf *b);
void	buf_reset(struct buf *b);
void	buf_free(struct buf *b);

/*
 * Copies s into a new string keeping printable ASCII only: control
 * characters (CR, LF, ...) and non-ASCII bytes become '?', and the result
 * is cut to max bytes (with "..." when cut). For log lines and header
 * values built from message data. Caller frees.
 */
char	*str_sanitise(const char *s, size_t max);

bool	str_ieq(const char *a, const char *b);
bool	str_has_suffix_ci(const char *s, const char *suffix);

/* Integers stored in binary formats; the caller checks the bounds. */
static inline uint16_t
le16(const unsigned char *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static inline uint32_t
le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24;
}

static inline uint32_t
be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

/* True if buf (len bytes) holds the n bytes of sig at offset off. */
static inline bool
has_at(const unsigned char *buf, size_t len, size_t off, const void *sig,
    size_t n)
{
	return len >= off && len - off >= n && memcmp(buf + off, sig, n) == 0;
}

/* Monotonic clock in milliseconds. */
uint64_t clock_ms(void);

/* A fast 64-bit hash of n bytes, for bucketing identical buffers (not a
 * digest: confirm a match with memcmp). */
uint64_t hash64(const void *p, size_t n);

/* Initialises *sa (the caller destroys it) for a helper program started
 * from the daemon: an empty signal mask (the daemon blocks its signals)
 * and default handling of SIGPIPE, SIGCHLD, SIGHUP, SIGINT and SIGTERM. */
void	spawnattr_clean(posix_spawnattr_t *sa);

#endif
