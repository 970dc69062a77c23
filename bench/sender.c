/*
 * bench/sender.c - a small, bounded SMTP load generator for bench/run.
 *
 * Sends one message file N times to HOST:PORT from C concurrent sessions
 * (threads), one message per SMTP session (connect, EHLO, MAIL, RCPT,
 * DATA, QUIT), and measures each message's latency from connect() to the
 * server's final reply to the end of data. Every socket read and write has
 * a time-out, so a stuck server ends the run instead of hanging it.
 *
 * usage: sender -p PORT -f FILE [-H HOST] [-c CONC] [-n COUNT] [-m PER_CONN]
 *               [-l LATFILE] [-t TIMEOUT_S] [-T TIMELINE] [-u STOPFILE] [-U]
 * The message file is sent as it is after normalising line ends to CRLF
 * and dot-stuffing. -m sends that many messages per session (RSET-free:
 * MAIL after the previous final reply).
 * Prints one line:
 *   sent=N ok=N rej=N tmp=N err=N wall_s=X cpu_s=X p50_ms=X p99_ms=X
 * ok = 2xx after DATA, rej = 5xx anywhere, tmp = 4xx anywhere, err =
 * connection or protocol trouble. LATFILE gets one latency (microseconds,
 * status letter) per message. Exit 0 if every message got a final reply
 * (ok, rej or tmp), 1 otherwise.
 * -U: each message starts with its own "X-Bench-Seq: N" header, so no two
 * are the same bytes (the daemon remembers the digest of a message that
 * killed a worker: with -U a kill -9 makes one message poison, not all).
 * -u STOPFILE: no new message is started once STOPFILE exists (COUNT is
 * then an upper bound; sent= says how many were started), for a load
 * that runs until the caller has measured what it wanted.
 * TIMELINE gets one line per message: start and end (unix seconds, wall
 * clock, so that they can be set against a daemon's events), status
 * letter, and the last reply line for a message that was not accepted.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static const char	*host = "127.0.0.1", *stopfile;
static int		 port, conc = 1, count = 1, per_conn = 1, tmo = 120;
static int		 unique;	/* -U */
static char		*wire;		/* DATA payload incl. final ".\r\n" */
static size_t		 wirelen;
static atomic_int	 next_msg;
static atomic_int	 n_ok, n_rej, n_tmp, n_err;
static double		*lat;		/* seconds, per message index */
static char		*st;		/* status letter per message */
static double		*t_start, *t_end;	/* -T: wall clock */
static char		(*why)[128];	/* -T: last reply, not accepted */

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

struct conn {
	int	fd;
	char	buf[8192];
	size_t	have;
	char	last[128];	/* the last reply line read */
	char	final[128];	/* the reply that ended the message */
};

static double
wallclock(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Reads one (possibly multi-line) reply; returns its code or -1. */
static int
reply(struct conn *c)
{
	for (;;) {
		char	*nl;

		while ((nl = memchr(c->buf, '\n', c->have)) != NULL) {
			size_t	linelen = (size_t)(nl - c->buf) + 1;
			int	code = -1, last = 0;

			if (linelen >= 4) {
				code = atoi(c->buf);
				last = c->buf[3] != '-';
				snprintf(c->last, sizeof c->last, "%.*s",
				    (int)(linelen > 2 ? linelen - 2 : 0),
				    c->buf);
			}
			memmove(c->buf, nl + 1, c->have - linelen);
			c->have -= linelen;
			if (code < 0)
				return -1;
			if (last)
				return code;
		}
		if (c->have == sizeof c->buf)
			return -1;
		ssize_t n = read(c->fd, c->buf + c->have,
		    sizeof c->buf - c->have);
		if (n <= 0)
			return -1;
		c->have += (size_t)n;
	}
}

static int
sendall(int fd, const char *p, size_t len)
{
	while (len > 0) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int
cmd(struct conn *c, const char *s)
{
	if (sendall(c->fd, s, strlen(s)) == -1)
		return -1;
	return reply(c);
}

static int
dial(struct conn *c)
{
	struct sockaddr_in	sa;
	struct timeval		tv = { tmo, 0 };
	int			one = 1;

	c->have = 0;
	if ((c->fd = socket(AF_INET, SOCK_STREAM, 0)) == -1)
		return -1;
	setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	memset(&sa, 0, sizeof sa);
	sa.sin_family = AF_INET;
	sa.sin_port = htons((unsigned short)port);
	if (inet_pton(AF_INET, host, &sa.sin_addr) != 1 ||
	    connect(c->fd, (struct sockaddr *)&sa, sizeof sa) == -1 ||
	    reply(c) != 220 || cmd(c, "EHLO bench.portcullis.test\r\n") != 250) {
		close(c->fd);
		c->fd = -1;
		return -1;
	}
	return 0;
}

static void
hangup(struct conn *c)
{
	if (c->fd >= 0) {
		(void)cmd(c, "QUIT\r\n");
		close(c->fd);
		c->fd = -1;
	}
}

/* Message i on c (dialling if needed). Returns status letter. */
static char
one(struct conn *c, int i)
{
	char	seq[64];
	int	r;

	c->last[0] = '\0';
	if (c->fd < 0 && dial(c) == -1) {
		memcpy(c->final, c->last, sizeof c->final);
		return 'E';
	}
	r = cmd(c, "MAIL FROM:<sender@bench.example.net>\r\n");
	if (r != 250)
		goto bad;
	r = cmd(c, "RCPT TO:<rcpt@bench.example.com>\r\n");
	if (r != 250)
		goto bad;
	r = cmd(c, "DATA\r\n");
	if (r != 354)
		goto bad;
	if (unique)
		snprintf(seq, sizeof seq, "X-Bench-Seq: %d\r\n", i);
	if ((unique && sendall(c->fd, seq, strlen(seq)) == -1) ||
	    sendall(c->fd, wire, wirelen) == -1) {
		r = -1;
		goto bad;
	}
	r = reply(c);
	if (r >= 200 && r < 300)
		return 'O';
bad:
	memcpy(c->final, c->last, sizeof c->final);	/* before QUIT */
	if (r >= 400 && r < 500) {
		hangup(c);
		return 'T';
	}
	if (r >= 500 && r < 600) {
		/* A rejected message leaves a usable session; start over. */
		hangup(c);
		return 'R';
	}
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	return 'E';
}

static void *
worker(void *arg)
{
	struct conn	*c = calloc(1, sizeof *c);
	int		 done_here = 0;

	(void)arg;
	c->fd = -1;
	for (;;) {
		int	i = atomic_fetch_add(&next_msg, 1);
		double	t0;
		char	s;

		if (i >= count || (stopfile != NULL &&
		    access(stopfile, F_OK) == 0))
			break;
		if (t_start != NULL)
			t_start[i] = wallclock();
		t0 = now();
		s = one(c, i);
		lat[i] = now() - t0;
		st[i] = s;
		if (t_start != NULL) {
			t_end[i] = wallclock();
			if (s != 'O')
				snprintf(why[i], sizeof why[i], "%s", c->final);
		}
		switch (s) {
		case 'O': atomic_fetch_add(&n_ok, 1); break;
		case 'R': atomic_fetch_add(&n_rej, 1); break;
		case 'T': atomic_fetch_add(&n_tmp, 1); break;
		default: atomic_fetch_add(&n_err, 1); break;
		}
		if (c->fd >= 0 && ++done_here >= per_conn) {
			hangup(c);
			done_here = 0;
		} else if (c->fd < 0)
			done_here = 0;
	}
	hangup(c);
	free(c);
	return NULL;
}

static int
dcmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of sorted v[0..n). */
static double
pct(const double *v, int n, double p)
{
	int	k;

	if (n == 0)
		return 0;
	k = (int)(p / 100.0 * n + 0.999999) - 1;
	if (k < 0)
		k = 0;
	if (k >= n)
		k = n - 1;
	return v[k];
}

static int
load(const char *path)
{
	FILE	*fp = fopen(path, "rb");
	char	*raw = NULL;
	size_t	 cap = 0, len = 0, i, o = 0;
	int	 bol = 1;

	if (fp == NULL)
		return -1;
	for (;;) {
		if (len == cap) {
			cap = cap ? cap * 2 : 1 << 20;
			raw = realloc(raw, cap);
		}
		size_t n = fread(raw + len, 1, cap - len, fp);
		if (n == 0)
			break;
		len += n;
	}
	fclose(fp);
	/* Worst case: every byte a line of "." -> 4x; plus the end. */
	wire = malloc(len * 4 + 8);
	for (i = 0; i < len; i++) {
		char ch = raw[i];

		if (bol && ch == '.')
			wire[o++] = '.';
		if (ch == '\n' && (i == 0 || raw[i - 1] != '\r'))
			wire[o++] = '\r';
		wire[o++] = ch;
		bol = ch == '\n';
	}
	if (!bol) {
		wire[o++] = '\r';
		wire[o++] = '\n';
	}
	memcpy(wire + o, ".\r\n", 3);
	wirelen = o + 3;
	free(raw);
	return 0;
}

int
main(int argc, char **argv)
{
	const char	*file = NULL, *latfile = NULL, *tlfile = NULL;
	pthread_t	*th;
	struct rusage	 ru;
	double		 t0, wall, *ok;
	int		 ch, i, nok = 0, sent, last;

	while ((ch = getopt(argc, argv, "H:p:c:n:m:f:l:t:T:u:U")) != -1) {
		switch (ch) {
		case 'H': host = optarg; break;
		case 'p': port = atoi(optarg); break;
		case 'c': conc = atoi(optarg); break;
		case 'n': count = atoi(optarg); break;
		case 'm': per_conn = atoi(optarg); break;
		case 'f': file = optarg; break;
		case 'l': latfile = optarg; break;
		case 't': tmo = atoi(optarg); break;
		case 'T': tlfile = optarg; break;
		case 'u': stopfile = optarg; break;
		case 'U': unique = 1; break;
		default:
			fprintf(stderr, "usage: sender -p PORT -f FILE [-H HOST]"
			    " [-c CONC] [-n COUNT] [-m PER_CONN] [-l LATFILE]"
			    " [-t TIMEOUT_S] [-T TIMELINE] [-u STOPFILE] [-U]\n");
			return 2;
		}
	}
	if (port <= 0 || file == NULL || conc < 1 || count < 0 ||
	    per_conn < 1) {
		fprintf(stderr, "sender: -p PORT and -f FILE are required\n");
		return 2;
	}
	if (load(file) == -1) {
		fprintf(stderr, "sender: %s: %s\n", file, strerror(errno));
		return 2;
	}
	lat = calloc((size_t)count + 1, sizeof *lat);
	st = calloc((size_t)count + 1, 1);
	ok = calloc((size_t)count + 1, sizeof *ok);
	th = calloc((size_t)conc, sizeof *th);
	if (tlfile != NULL) {
		t_start = calloc((size_t)count + 1, sizeof *t_start);
		t_end = calloc((size_t)count + 1, sizeof *t_end);
		why = calloc((size_t)count + 1, sizeof *why);
	}
	t0 = now();
	for (i = 0; i < conc; i++)
		if (pthread_create(&th[i], NULL, worker, NULL) != 0) {
			fprintf(stderr, "sender: pthread_create failed\n");
			return 2;
		}
	for (i = 0; i < conc; i++)
		pthread_join(th[i], NULL);
	wall = now() - t0;
	getrusage(RUSAGE_SELF, &ru);
	/* with -u, a number taken after the stop file appeared was never
	 * sent (st 0): the files skip it */
	last = atomic_load(&next_msg);
	if (last > count)
		last = count;
	for (sent = 0, i = 0; i < last; i++)
		sent += st[i] != 0;

	if (latfile != NULL) {
		FILE *fp = fopen(latfile, "w");

		if (fp != NULL) {
			for (i = 0; i < last; i++)
				if (st[i] != 0)
					fprintf(fp, "%.0f %c\n", lat[i] * 1e6,
					    st[i]);
			fclose(fp);
		}
	}
	if (tlfile != NULL) {
		FILE *fp = fopen(tlfile, "w");

		if (fp != NULL) {
			for (i = 0; i < last; i++)
				if (st[i] != 0)
					fprintf(fp, "%.6f %.6f %c %s\n",
					    t_start[i], t_end[i], st[i],
					    why[i]);
			fclose(fp);
		}
	}
	/* Percentiles over messages that got a final reply. */
	for (i = 0; i < last; i++)
		if (st[i] == 'O' || st[i] == 'R')
			ok[nok++] = lat[i];
	qsort(ok, (size_t)nok, sizeof *ok, dcmp);
	printf("sent=%d ok=%d rej=%d tmp=%d err=%d wall_s=%.4f cpu_s=%.4f "
	    "p50_ms=%.3f p99_ms=%.3f\n", sent, n_ok, n_rej, n_tmp, n_err,
	    wall, ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	    ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6,
	    pct(ok, nok, 50) * 1e3, pct(ok, nok, 99) * 1e3);
	return n_err == 0 ? 0 : 1;
}
