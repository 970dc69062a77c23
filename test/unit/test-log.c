/*
 * test/unit/test-log.c - milter/log.c, the one shape of every log line of
 * the daemon and of portcullisctl: "[ID: ]event=NAME key=value ...", values
 * sanitised and quoted when they hold a space, "NOQUEUE c=N" split into the
 * id and a pair after the event; and the whole line as syslog writes it
 * (ident[pid]: ...), read back from the stderr copy.
 */
#include "config.h"

#include <fcntl.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "t.h"
#include "util.h"

/* The shape README "Log lines" documents, as a POSIX ERE. */
#define SHAPE	"^([A-Za-z0-9]+: )?event=[a-z_]+" \
		"( [a-z_0-9]+=(\"[ -!#-~]*\"|[!#-~]+))*$"

static bool
has_shape(const char *line)
{
	regex_t	re;
	bool	ok;

	if (regcomp(&re, SHAPE, REG_EXTENDED | REG_NOSUB) != 0)
		return false;
	ok = regexec(&re, line, 0, NULL, 0) == 0;
	regfree(&re);
	return ok;
}

static void
t_kv(struct t *t)
{
	static const struct {
		const char	*name, *val;
		size_t		 max;
		const char	*want;
	} c[] = {
		{ "plain", "virus", 64, " k=virus" },
		{ "space quoted", "extension .exe", 64, " k=\"extension .exe\"" },
		{ "quote made single", "a \"b\"", 64, " k=\"a 'b'\"" },
		{ "quote, no space", "x\"y", 64, " k=x'y" },
		{ "CR LF out", "a\r\nb=c", 64, " k=a??b=c" },
		{ "non-ASCII out", "caf\xc3\xa9", 64, " k=caf??" },
		{ "null", NULL, 64, "" },
		{ "empty", "", 64, "" },
		{ "msgid kept", "<20261203.4Qx9Z1@mail.example.net>", 120,
		    " k=<20261203.4Qx9Z1@mail.example.net>" },
	};
	struct buf	b = BUF_INIT;
	size_t		i;
	char		*s;

	for (i = 0; i < T_NCASES(c); i++) {
		buf_reset(&b);
		log_kv(&b, "k", c[i].val, c[i].max);
		t_check(t, strcmp(buf_cstr(&b), c[i].want) == 0,
		    "%s: got '%s', want '%s'", c[i].name, buf_cstr(&b),
		    c[i].want);
	}
	/* cut to max (and "..."): short, and still one quoted value */
	buf_reset(&b);
	log_kv(&b, "k", "a b c d e f g h i j k l m n o p", 10);
	s = log_format(NULL, "x", buf_cstr(&b));
	t_check(t, b.len <= strlen(" k=\"\"") + 10 + 3 && has_shape(s),
	    "cut: got '%s'", s);
	free(s);
	buf_free(&b);
}

static void
t_format(struct t *t)
{
	static const struct {
		const char	*name, *id, *event, *pairs, *want;
		bool		 shape;
	} c[] = {
		{ "message", "4Qx9Z1", "verdict", " action=accept size=10",
		    "4Qx9Z1: event=verdict action=accept size=10", true },
		{ "daemon", NULL, "reload", " what=policy result=ok",
		    "event=reload what=policy result=ok", true },
		{ "empty id", "", "stop", NULL, "event=stop", true },
		{ "NOQUEUE c=N", "NOQUEUE c=12", "rcpt", " action=tempfail",
		    "NOQUEUE: event=rcpt c=12 action=tempfail", true },
		{ "id sanitised", "Q\nX", "verdict", NULL,
		    "Q?X: event=verdict", false },
	};
	size_t	i;
	char	*s;

	for (i = 0; i < T_NCASES(c); i++) {
		s = log_format(c[i].id, c[i].event, c[i].pairs);
		t_check(t, strcmp(s, c[i].want) == 0, "%s: got '%s', want "
		    "'%s'", c[i].name, s, c[i].want);
		if (c[i].shape)
			t_check(t, has_shape(s), "%s: '%s' is not of the "
			    "shape %s", c[i].name, s, SHAPE);
		free(s);
	}
}

/* log_event() through syslog's stderr copy: ident[pid]: and the shape. */
static void
t_line(struct t *t)
{
	char		 path[4096], want[128], *got = NULL;
	const char	*line;
	size_t		 len = 0;
	int		 fd, saved;

	snprintf(path, sizeof path, "%s/log.txt", t_tmpdir(t));
	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600)) == -1 ||
	    (saved = dup(2)) == -1) {
		t_error(t, "cannot open %s", path);
		return;
	}
	fflush(stderr);
	dup2(fd, 2);
	setenv("PORTCULLIS_LOG_STDERR", "1", 1);
	log_open_as("portcullisctl");
	log_event(LOG_INFO, "4Qx9Z1", "release", "sendmail said \"no\"",
	    " result=failed rcpts=%u", 2u);
	log_close();
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	close(fd);
	unsetenv("PORTCULLIS_LOG_STDERR");

	got = (char *)t_read_file(path, &len);
	snprintf(want, sizeof want, "portcullisctl[%ld]: ", (long)getpid());
	t_check(t, got != NULL && strncmp(got, want, strlen(want)) == 0,
	    "got '%s', want a line starting '%s'", got != NULL ? got : "-",
	    want);
	if (got == NULL || strlen(got) < strlen(want))
		goto out;
	line = got + strlen(want);
	got[len > 0 && got[len - 1] == '\n' ? len - 1 : len] = '\0';
	t_check(t, strcmp(line, "4Qx9Z1: event=release result=failed "
	    "rcpts=2 detail=\"sendmail said 'no'\"") == 0, "got '%s'", line);
	t_check(t, has_shape(line), "'%s' is not of the shape %s", line,
	    SHAPE);
out:
	free(got);
}

static const struct t_case cases[] = {
	T_CASE(t_kv),
	T_CASE(t_format),
	T_CASE(t_line),
};

int
main(int argc, char **argv)
{
	return t_main(argc, argv, cases, T_NCASES(cases));
}
