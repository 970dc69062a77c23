/*
 * test/unit/test-av.c - lib/av (scan-clamav.c) with the real libclamav and
 * the tiny test database (test/signatures/make-testdb): load, scan from
 * memory, limits as findings, load errors, reload, reload under load.
 */
#include "config.h"

#include <sys/stat.h>

#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "av.h"
#include "policy.h"
#include "util.h"
#include "t.h"

#define TESTFILES	"/usr/share/clamav-testfiles"
#define NAME_EICAR	"Test.EICAR.NDB.UNOFFICIAL"
#define NAME_CLAMEXE	"ClamAV.Test.File.HDB.UNOFFICIAL"
#define EMAX		"clam_cache_emax.tgz"

static const char *
status_str(enum av_status s)
{
	switch (s) {
	case AV_CLEAN:
		return "clean";
	case AV_VIRUS:
		return "virus";
	case AV_UNSCANNED:
		return "unscanned";
	case AV_ENCRYPTED:
		return "encrypted";
	}
	return "?";
}

/* A policy from the defaults plus ini text; NULL (and a failure) if bad. */
static struct policy *
test_policy(struct t *t, const char *ini)
{
	struct policy	*pol = NULL;
	char		*errs = NULL;

	if (policy_load_string(ini != NULL ? ini : "", "test.ini", NULL, 0,
	    &pol, &errs) == -1) {
		t_error(t, "policy: %s", errs != NULL ? errs : "?");
		free(errs);
		return NULL;
	}
	return pol;
}

/* Builds the test database in the case's tmpdir; returns its path. */
static const char *
make_db(struct t *t, const char *sub)
{
	static __thread char	dir[512];

	snprintf(dir, sizeof dir, "%s/%s", t_tmpdir(t), sub);
	if (t_sh("'%s/test/signatures/make-testdb' '%s'", t_srcdir(),
	    dir) != 0) {
		t_error(t, "make-testdb %s failed", dir);
		return NULL;
	}
	return dir;
}

static int
write_file(const char *path, const void *p, size_t n)
{
	FILE	*fp = fopen(path, "wb");

	if (fp == NULL)
		return -1;
	if (fwrite(p, 1, n, fp) != n) {
		fclose(fp);
		return -1;
	}
	return fclose(fp) == 0 ? 0 : -1;
}

/* Writes "Name:0:*:<hex of marker>" as dir/file. */
static int
write_ndb(const char *dir, const char *file, const char *name,
    const char *marker)
{
	char	 path[600], line[512];
	size_t	 i, n;

	n = (size_t)snprintf(line, sizeof line, "%s:0:*:", name);
	for (i = 0; marker[i] != '\0' && n + 3 < sizeof line; i++)
		n += (size_t)snprintf(line + n, sizeof line - n, "%02x",
		    (unsigned char)marker[i]);
	snprintf(line + n, sizeof line - n, "\n");
	snprintf(path, sizeof path, "%s/%s", dir, file);
	return write_file(path, line, strlen(line));
}

static struct av_engine *
load_engine(struct t *t, const struct policy *pol, const char *dir)
{
	struct av_engine	*e = NULL;
	struct err		 err = ERR_INIT;

	if (dir == NULL || pol == NULL)
		return NULL;
	if (av_engine_load(pol, dir, &e, &err) == -1) {
		t_error(t, "load %s: got -1 (%s), want 0", dir, err.msg);
		return NULL;
	}
	return e;
}

/* Scans and checks status and name (want_name NULL = any). */
static void
check_scan(struct t *t, struct av_engine *e, const char *what,
    const void *buf, size_t len, enum av_status want,
    const char *want_name)
{
	struct av_result	 res;
	struct err		 err = ERR_INIT;

	if (av_engine_scan(e, buf, len, what, 0, &res, &err) == -1) {
		t_error(t, "%s: got error (%s), want %s", what, err.msg,
		    status_str(want));
		return;
	}
	t_check(t, res.status == want, "%s: got %s (%s), want %s", what,
	    status_str(res.status), res.name, status_str(want));
	if (want_name != NULL)
		t_check(t, strcmp(res.name, want_name) == 0,
		    "%s: got name \"%s\", want \"%s\"", what, res.name,
		    want_name);
}

static long
rss_kib(void)
{
	FILE	*fp = fopen("/proc/self/status", "r");
	char	 line[256];
	long	 kb = -1;

	if (fp == NULL)
		return -1;
	while (fgets(line, sizeof line, fp) != NULL)
		if (strncmp(line, "VmRSS:", 6) == 0)
			kb = strtol(line + 6, NULL, 10);
	fclose(fp);
	return kb;
}

static double
now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

/* Reads a file made by the test; NULL (and a failure) if missing. */
static unsigned char *
read_made(struct t *t, const char *path, size_t *len_r)
{
	unsigned char	*p = t_read_file(path, len_r);

	if (p == NULL)
		t_error(t, "cannot read %s", path);
	return p;
}

/* ---- cases ---- */

static void
init_twice(struct t *t)
{
	struct err	err = ERR_INIT;

	t_check(t, av_global_init(&err) == 0, "first init: got -1 (%s), "
	    "want 0", err.msg);
	t_check(t, av_global_init(&err) == 0, "second init: got -1 (%s), "
	    "want 0", err.msg);
}

static void
load_stats(struct t *t)
{
	struct policy		*pol = test_policy(t, NULL);
	const char		*dir = make_db(t, "db");
	struct av_engine	*e, *e2;
	long			 rss0, rss1;
	double			 t0;

	rss0 = rss_kib();
	t0 = now_ms();
	e = load_engine(t, pol, dir);
	if (e != NULL) {
		rss1 = rss_kib();
		t_log(t, "test db: %u signatures, load+compile %llu ms "
		    "(wall %.1f ms), RSS %ld -> %ld KiB (+%ld KiB)",
		    av_engine_signatures(e),
		    (unsigned long long)av_engine_load_ms(e), now_ms() - t0,
		    rss0, rss1, rss1 - rss0);
		t_check(t, av_engine_signatures(e) == 2,
		    "signatures: got %u, want 2", av_engine_signatures(e));
		t_check(t, av_engine_load_ms(e) < 5000,
		    "load ms: got %llu, want < 5000",
		    (unsigned long long)av_engine_load_ms(e));
		/* no .cvd: version unknown, time = newest file mtime */
		t_check(t, av_engine_db_version(e) == NULL,
		    "db version: got %s, want NULL",
		    av_engine_db_version(e));
		t_check(t, av_engine_db_time(e) > time(NULL) - 600 &&
		    av_engine_db_time(e) <= time(NULL) + 1,
		    "db time: got %lld, want about now (%lld)",
		    (long long)av_engine_db_time(e), (long long)time(NULL));
		e2 = av_engine_ref(e);
		t_check(t, e2 == e, "ref: got %p, want %p", (void *)e2,
		    (void *)e);
		av_engine_unref(&e2);
		t_check(t, e2 == NULL, "unref: pointer not cleared");
		check_scan(t, e, "eicar after unref of a second ref",
		    t_eicar(), strlen(t_eicar()), AV_VIRUS, NAME_EICAR);
		av_engine_unref(&e);
	}
	av_engine_unref(&e);		/* NULL is fine */
	policy_unref(&pol);
}

static void
scan_buffers(struct t *t)
{
	static const struct {
		const char	*name;
		const char	*prefix;	/* before the payload */
		int		 payload;	/* 1 eicar, 2 clam.exe */
		enum av_status	 want;
		const char	*want_name;
	} cases[] = {
		{ "eicar alone", "", 1, AV_VIRUS, NAME_EICAR },
		{ "eicar after text", "Hello\r\nworld\r\n", 1, AV_VIRUS,
		    NAME_EICAR },
		{ "clean text", "Just a plain message body.\r\n", 0,
		    AV_CLEAN, "" },
		{ "one byte", "x", 0, AV_CLEAN, "" },
		{ "empty", "", 0, AV_CLEAN, "" },
		{ "clam.exe", "", 2, AV_VIRUS, NAME_CLAMEXE },
	};
	struct policy		*pol = test_policy(t, NULL);
	struct av_engine	*e = load_engine(t, pol, make_db(t, "db"));
	unsigned char		*exe;
	size_t			 exelen = 0, i;
	struct buf		 b = BUF_INIT;

	exe = t_read_file(TESTFILES "/clam.exe", &exelen);
	t_check(t, exe != NULL, "cannot read " TESTFILES "/clam.exe "
	    "(install clamav-testfiles)");
	for (i = 0; e != NULL && i < T_NCASES(cases); i++) {
		buf_reset(&b);
		buf_puts(&b, cases[i].prefix);
		if (cases[i].payload == 1)
			buf_puts(&b, t_eicar());
		else if (cases[i].payload == 2 && exe != NULL)
			buf_append(&b, exe, exelen);
		check_scan(t, e, cases[i].name, b.data, b.len, cases[i].want,
		    cases[i].want_name);
	}
	buf_free(&b);
	free(exe);
	av_engine_unref(&e);
	policy_unref(&pol);
}

static void
scan_errors(struct t *t)
{
	struct av_result	res;
	struct err		err = ERR_INIT;

	t_check(t, av_engine_scan(NULL, (const unsigned char *)"x", 1, "x", 0,
	    &res, &err) == -1, "NULL engine: got 0, want -1");
	t_check(t, err.msg[0] != '\0', "NULL engine: no error message");
}

/* Scans one buffer that must hold the ClamAV test file; 1 = found. */
static int
testfile_found(struct t *t, struct av_engine *e, const char *what,
    const unsigned char *p, size_t len)
{
	struct av_result	res;
	struct err		err = ERR_INIT;

	if (av_engine_scan(e, p, len, what, 0, &res, &err) == -1) {
		t_error(t, "%s: got error (%s), want virus", what, err.msg);
		return 0;
	}
	if (res.status != AV_VIRUS || strcmp(res.name, NAME_CLAMEXE) != 0) {
		t_error(t, "%s: got %s \"%s\", want virus \"%s\"", what,
		    status_str(res.status), res.name, NAME_CLAMEXE);
		return 0;
	}
	return 1;
}

/*
 * Each file of clamav-testfiles, scanned from memory as it is and again
 * inside a zip made here. Every one holds clam.exe somewhere (packed,
 * archived, encoded); the .hdb of clam.exe finds it once libclamav has
 * unpacked it. clam_cache_emax.tgz nests clam.exe 17 levels deep: zipped,
 * it is a recursion finding at the default limit and found at 18.
 */
static void
clamav_testfiles(struct t *t)
{
	struct policy		*pol = test_policy(t, NULL);
	struct policy		*pol18 = test_policy(t,
	    "[antivirus]\nmax_recursion = 18\n");
	struct av_engine	*e = load_engine(t, pol, make_db(t, "db"));
	struct av_engine	*e18 = load_engine(t, pol18, make_db(t, "db"));
	const char		*tmp = t_tmpdir(t);
	struct dirent		*de;
	DIR			*d;
	unsigned		 n = 0, found = 0, zfound = 0;
	char			 path[512], what[300];

	if (e == NULL)
		goto out;
	if ((d = opendir(TESTFILES)) == NULL) {
		t_error(t, "%s: cannot open (install clamav-testfiles)",
		    TESTFILES);
		goto out;
	}
	while ((de = readdir(d)) != NULL) {
		unsigned char	*p;
		size_t		 len;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof path, "%s/%s", TESTFILES, de->d_name);
		if ((p = t_read_file(path, &len)) == NULL)
			continue;
		n++;
		found += testfile_found(t, e, de->d_name, p, len);
		free(p);

		snprintf(what, sizeof what, "%s in a zip", de->d_name);
		if (t_sh("cd '%s' && rm -f tf.zip && zip -q -j tf.zip '%s'",
		    tmp, path) != 0) {
			t_error(t, "%s: zip failed", what);
			continue;
		}
		snprintf(path, sizeof path, "%s/tf.zip", tmp);
		if ((p = read_made(t, path, &len)) == NULL)
			continue;
		if (strcmp(de->d_name, EMAX) == 0) {
			/* built to sit exactly at the default recursion
			 * limit (17): the zip adds one level */
			check_scan(t, e, what, p, len, AV_UNSCANNED,
			    "Heuristics.Limits.Exceeded.MaxRecursion");
			snprintf(what, sizeof what, "%s in a zip, "
			    "max_recursion 18", de->d_name);
			zfound += e18 != NULL ?
			    testfile_found(t, e18, what, p, len) : 0;
		} else
			zfound += testfile_found(t, e, what, p, len);
		free(p);
	}
	closedir(d);
	t_log(t, "found %u of %u files from memory, %u of %u zipped", found,
	    n, zfound, n);
	t_check(t, n == 44, "test files: got %u, want 44", n);
out:
	av_engine_unref(&e);
	av_engine_unref(&e18);
	policy_unref(&pol);
	policy_unref(&pol18);
}

/* EICAR in a zip, nested zips around the recursion limit. */
static void
zips(struct t *t)
{
	struct policy		*pol = test_policy(t,
	    "[antivirus]\nmax_recursion = 4\n");
	struct policy		*pol_noh = test_policy(t,
	    "[antivirus]\nmax_recursion = 4\nheuristics = no\n");
	struct av_engine	*e = load_engine(t, pol, make_db(t, "db"));
	struct av_engine	*e_noh = load_engine(t, pol_noh,
	    make_db(t, "db"));
	const char		*tmp = t_tmpdir(t);
	unsigned char		*p;
	size_t			 len;
	unsigned		 depth;
	char			 path[512], what[64];

	/*
	 * The zip is level 1 below the top-level buffer, its member level
	 * 2, and so on; with max_recursion R the member of R-1 nested
	 * zips is the deepest object ClamAV still opens (measured).
	 */
	static const struct {
		unsigned	 depth;		/* zips around eicar */
		enum av_status	 want;
	} cases[] = {
		{ 1, AV_VIRUS },
		{ 2, AV_VIRUS },
		{ 3, AV_VIRUS },	/* = max_recursion - 1 */
		{ 4, AV_UNSCANNED },	/* one past */
		{ 6, AV_UNSCANNED },
	};
	size_t		i;
	struct buf	b = BUF_INIT;

	if (e == NULL)
		goto out;
	/* Padded so that zip deflates it: a stored member would leave the
	 * EICAR bytes in plain sight at every level. */
	buf_puts(&b, t_eicar());
	for (i = 0; i < 200; i++)
		buf_puts(&b, "\npadding padding padding padding");
	snprintf(path, sizeof path, "%s/eicar.txt", tmp);
	if (write_file(path, b.data, b.len) == -1) {
		t_error(t, "cannot write %s", path);
		goto out;
	}
	if (t_sh("cd '%s' && zip -q -j z1.zip eicar.txt", tmp) != 0) {
		t_error(t, "zip failed (is zip installed?)");
		goto out;
	}
	for (depth = 2; depth <= 8; depth++)
		if (t_sh("cd '%s' && zip -q -j z%u.zip z%u.zip", tmp, depth,
		    depth - 1) != 0)
			t_error(t, "zip z%u failed", depth);
	for (i = 0; i < T_NCASES(cases); i++) {
		snprintf(path, sizeof path, "%s/z%u.zip", tmp, cases[i].depth);
		snprintf(what, sizeof what, "eicar in %u zip(s), recursion 4",
		    cases[i].depth);
		if ((p = read_made(t, path, &len)) == NULL)
			continue;
		check_scan(t, e, what, p, len, cases[i].want,
		    cases[i].want == AV_VIRUS ? NAME_EICAR :
		    "Heuristics.Limits.Exceeded.MaxRecursion");
		/* heuristics = no turns off the optional alerts only */
		snprintf(what, sizeof what, "eicar in %u zip(s), heuristics "
		    "off", cases[i].depth);
		if (e_noh != NULL)
			check_scan(t, e_noh, what, p, len, cases[i].want,
			    cases[i].want == AV_VIRUS ? NAME_EICAR :
			    "Heuristics.Limits.Exceeded.MaxRecursion");
		free(p);
	}
out:
	buf_free(&b);
	av_engine_unref(&e);
	av_engine_unref(&e_noh);
	policy_unref(&pol);
	policy_unref(&pol_noh);
}

/* max_filesize at N and N+1, at the top level and inside a zip. */
static void
filesize_limit(struct t *t)
{
	static const struct {
		const char	*name;
		const char	*ini;
		size_t		 len;
		bool		 zipped;
		enum av_status	 want;
	} cases[] = {
		{ "1 MiB top, limit 1M", "", 1048576, false, AV_CLEAN },
		{ "1 MiB + 1 top, limit 1M", "", 1048577, false,
		    AV_UNSCANNED },
		{ "1 MiB member, limit 1M", "", 1048576, true, AV_CLEAN },
		{ "1 MiB + 1 member, limit 1M", "", 1048577, true,
		    AV_UNSCANNED },
		{ "1 MiB + 1 top, heuristics off", "heuristics = no\n",
		    1048577, false, AV_UNSCANNED },
	};
	const char	*dir = make_db(t, "db");
	const char	*tmp = t_tmpdir(t);
	unsigned char	*big = xcalloc(1, 1048577 + 1), *p;
	size_t		 i, len;
	int		 k;
	char		 ini[256], path[512];

	/* Text, so nothing is mistaken for a format; no zeros-only file. */
	for (i = 0; i < 1048577; i++)
		big[i] = (unsigned char)('a' + i % 26);
	for (i = 0; i < T_NCASES(cases); i++) {
		struct policy		*pol;
		struct av_engine	*e;

		snprintf(ini, sizeof ini,
		    "[antivirus]\nmax_filesize = 1M\n%s", cases[i].ini);
		pol = test_policy(t, ini);
		if ((e = load_engine(t, pol, dir)) == NULL) {
			policy_unref(&pol);
			continue;
		}
		if (!cases[i].zipped)
			check_scan(t, e, cases[i].name, big, cases[i].len,
			    cases[i].want, cases[i].want == AV_UNSCANNED ?
			    "Heuristics.Limits.Exceeded.MaxFileSize" : "");
		else {
			snprintf(path, sizeof path, "%s/big%zu.txt", tmp,
			    cases[i].len);
			if (write_file(path, big, cases[i].len) == -1 ||
			    t_sh("cd '%s' && rm -f big.zip && zip -q -j "
			    "big.zip big%zu.txt", tmp, cases[i].len) != 0)
				t_error(t, "%s: cannot make the zip",
				    cases[i].name);
			else {
				snprintf(path, sizeof path, "%s/big.zip", tmp);
				/* twice: libclamav's clean cache must not
				 * turn the second scan clean */
				p = read_made(t, path, &len);
				for (k = 0; p != NULL && k < 2; k++)
					check_scan(t, e, cases[i].name, p, len,
					    cases[i].want,
					    cases[i].want == AV_UNSCANNED ?
					    "Heuristics.Limits.Exceeded."
					    "MaxFileSize" : "");
				free(p);
				p = NULL;
			}
		}
		av_engine_unref(&e);
		policy_unref(&pol);
	}
	free(big);
}

static void
encrypted_zip(struct t *t)
{
	struct policy		*pol = test_policy(t, NULL);
	struct policy		*pol_noh = test_policy(t,
	    "[antivirus]\nheuristics = no\n");
	struct av_engine	*e = load_engine(t, pol, make_db(t, "db"));
	struct av_engine	*e_noh = load_engine(t, pol_noh,
	    make_db(t, "db"));
	const char		*tmp = t_tmpdir(t);
	unsigned char		*p;
	size_t			 len;
	char			 path[512];

	if (e == NULL)
		goto out;
	snprintf(path, sizeof path, "%s/note.txt", tmp);
	if (write_file(path, "nothing to see here\n", 20) == -1 ||
	    t_sh("cd '%s' && zip -q -j -P secret enc.zip note.txt",
	    tmp) != 0) {
		t_error(t, "cannot make the encrypted zip");
		goto out;
	}
	snprintf(path, sizeof path, "%s/enc.zip", tmp);
	if ((p = read_made(t, path, &len)) != NULL) {
		check_scan(t, e, "zip -P", p, len, AV_ENCRYPTED,
		    "Heuristics.Encrypted.Zip");
		check_scan(t, e, "zip -P again", p, len, AV_ENCRYPTED,
		    "Heuristics.Encrypted.Zip");
		if (e_noh != NULL)
			check_scan(t, e_noh, "zip -P, heuristics off", p, len,
			    AV_ENCRYPTED, "Heuristics.Encrypted.Zip");
		free(p);
	}
out:
	av_engine_unref(&e);
	av_engine_unref(&e_noh);
	policy_unref(&pol);
	policy_unref(&pol_noh);
}

static void
load_errors(struct t *t)
{
	static const struct {
		const char	*name;
		const char	*sub;		/* under tmpdir */
		const char	*setup;		/* sh, run in tmpdir */
		const char	*want_in_msg;
	} cases[] = {
		{ "missing dir", "nope", "true", "nope" },
		{ "empty dir", "empty", "mkdir empty", "empty" },
		{ "no database files", "other", "mkdir other && echo hi > "
		    "other/README", "other" },
		{ "empty ndb", "zero", "mkdir zero && : > zero/zero.ndb",
		    "zero.ndb" },
		{ "only an ignore list", "ign", "mkdir ign && echo Foo.Bar > "
		    "ign/x.ign2", "no signatures" },
		{ "corrupt ndb", "bad", "mkdir bad && printf "
		    "'Broken:0:*:zz-not-hex\\n' > bad/broken.ndb",
		    "broken.ndb" },
		{ "corrupt ndb beside good ones", "db",
		    "printf 'Half:0:\\n' > db/zz-half.ndb", "zz-half.ndb" },
		{ "corrupt hdb", "badh", "mkdir badh && printf "
		    "'nothex:12:X\\n' > badh/x.hdb", "x.hdb" },
	};
	struct policy	*pol = test_policy(t, NULL);
	size_t		 i;
	char		 dir[512];

	if (make_db(t, "db") == NULL)
		goto out;
	for (i = 0; i < T_NCASES(cases); i++) {
		struct av_engine	*e = NULL;
		struct err		 err = ERR_INIT;
		int			 rc;

		if (t_sh("cd '%s' && %s", t_tmpdir(t), cases[i].setup) != 0) {
			t_error(t, "%s: setup failed", cases[i].name);
			continue;
		}
		snprintf(dir, sizeof dir, "%s/%s", t_tmpdir(t), cases[i].sub);
		rc = av_engine_load(pol, dir, &e, &err);
		t_check(t, rc == -1 && e == NULL, "%s: got %d, want -1",
		    cases[i].name, rc);
		t_check(t, strstr(err.msg, cases[i].want_in_msg) != NULL,
		    "%s: got message \"%s\", want it to name \"%s\"",
		    cases[i].name, err.msg, cases[i].want_in_msg);
		t_log(t, "%s: %s", cases[i].name, err.msg);
		av_engine_unref(&e);
	}
out:
	policy_unref(&pol);
}

/* Scans buf with the store's current engine. */
static void
check_store_scan(struct t *t, struct av_store *s, const char *what,
    const char *buf, enum av_status want, const char *want_name)
{
	struct av_engine	*e = av_store_get(s);

	if (e == NULL) {
		t_error(t, "%s: no engine in the store", what);
		return;
	}
	check_scan(t, e, what, buf, strlen(buf), want, want_name);
	av_engine_unref(&e);
}

static void
reload(struct t *t)
{
	struct policy		*pol = test_policy(t, NULL);
	const char		*dir = make_db(t, "db");
	struct av_store		*s = NULL;
	struct av_engine	*e, *pinned;
	struct err		 err = ERR_INIT;
	char			 path[600];
	int			 rc;

	if (pol == NULL || dir == NULL)
		goto out;
	s = av_store_new(pol, dir);
	e = av_store_get(s);
	t_check(t, e == NULL, "before the first load: got an engine, "
	    "want NULL");
	av_engine_unref(&e);

	rc = av_store_reload(s, false, &err);
	t_check(t, rc == 1, "first load: got %d (%s), want 1", rc, err.msg);
	rc = av_store_reload(s, false, &err);
	t_check(t, rc == 0, "no change: got %d (%s), want 0", rc, err.msg);
	check_store_scan(t, s, "marker before it has a signature",
	    "PORTCULLIS-MARKER-ONE", AV_CLEAN, "");
	pinned = av_store_get(s);

	write_ndb(dir, "one.ndb", "Test.Marker.One", "PORTCULLIS-MARKER-ONE");
	rc = av_store_reload(s, false, &err);
	t_check(t, rc == 1, "new .ndb: got %d (%s), want 1", rc, err.msg);
	check_store_scan(t, s, "marker after reload", "PORTCULLIS-MARKER-ONE",
	    AV_VIRUS, "Test.Marker.One.UNOFFICIAL");
	/* the old engine, still pinned, keeps working */
	check_scan(t, pinned, "pinned old engine: eicar", t_eicar(),
	    strlen(t_eicar()), AV_VIRUS, NAME_EICAR);
	check_scan(t, pinned, "pinned old engine: marker",
	    "PORTCULLIS-MARKER-ONE", 21, AV_CLEAN, "");
	av_engine_unref(&pinned);

	write_ndb(dir, "two.ndb", "Test.Marker.Two", "PORTCULLIS-MARKER-TWO");
	snprintf(path, sizeof path, "%s/zz-corrupt.ndb", dir);
	write_file(path, "Corrupt:0:*:not hex at all\n", 27);
	rc = av_store_reload(s, false, &err);
	t_check(t, rc == -1, "corrupt db: got %d, want -1", rc);
	t_check(t, strstr(err.msg, "zz-corrupt.ndb") != NULL,
	    "corrupt db: got message \"%s\", want it to name zz-corrupt.ndb",
	    err.msg);
	check_store_scan(t, s, "old engine after failed reload: eicar",
	    t_eicar(), AV_VIRUS, NAME_EICAR);
	check_store_scan(t, s, "old engine after failed reload: marker one",
	    "PORTCULLIS-MARKER-ONE", AV_VIRUS, "Test.Marker.One.UNOFFICIAL");
	check_store_scan(t, s, "old engine after failed reload: marker two",
	    "PORTCULLIS-MARKER-TWO", AV_CLEAN, "");
	rc = av_store_reload(s, false, &err);
	t_check(t, rc == -1, "still corrupt: got %d, want -1 (retried)", rc);

	unlink(path);			/* a removal is a change too */
	rc = av_store_reload(s, false, &err);
	t_check(t, rc == 1, "corrupt file removed: got %d (%s), want 1", rc,
	    err.msg);
	check_store_scan(t, s, "marker two after repair",
	    "PORTCULLIS-MARKER-TWO", AV_VIRUS, "Test.Marker.Two.UNOFFICIAL");

	rc = av_store_reload(s, true, &err);
	t_check(t, rc == 1, "forced: got %d (%s), want 1", rc, err.msg);

	/* a new directory through set_policy is loaded by the next reload */
	av_store_set_policy(s, pol, make_db(t, "db2"));
	rc = av_store_reload(s, false, &err);
	t_check(t, rc == 1, "new directory: got %d (%s), want 1", rc,
	    err.msg);
	check_store_scan(t, s, "marker one in the new directory",
	    "PORTCULLIS-MARKER-ONE", AV_CLEAN, "");
out:
	av_store_free(&s);
	t_check(t, s == NULL, "store_free: pointer not cleared");
	av_store_free(&s);
	policy_unref(&pol);
}

static void
store_missing_db(struct t *t)
{
	struct policy		*pol = test_policy(t, NULL);
	struct av_store		*s;
	struct av_engine	*e;
	struct err		 err = ERR_INIT;
	char			 dir[512];
	int			 rc;

	if (pol == NULL)
		return;
	snprintf(dir, sizeof dir, "%s/none", t_tmpdir(t));
	s = av_store_new(pol, dir);
	rc = av_store_reload(s, false, &err);
	t_check(t, rc == -1, "missing db: got %d, want -1", rc);
	t_check(t, strstr(err.msg, dir) != NULL,
	    "missing db: got \"%s\", want it to name %s", err.msg, dir);
	e = av_store_get(s);
	t_check(t, e == NULL, "no engine yet: got one, want NULL");
	av_engine_unref(&e);
	av_store_free(&s);
	policy_unref(&pol);
}

/* ---- reload under load ---- */

struct load {
	struct av_store	*l_store;
	const char	*l_eicar;	/* t_eicar() is not thread-safe */
	int		 l_stop;	/* atomic */
	pthread_mutex_t	 l_lock;
	unsigned long	 l_scans;
	unsigned long	 l_bad;
	double		 l_max_ms;	/* get + 2 scans + unref */
	double		 l_max_get;	/* slowest av_store_get */
	double		 l_max_unref;	/* unref (may free) */
	char		 l_first[ERR_MSG_MAX + 64];
};

static void
load_bad(struct load *l, const char *fmt, const char *a, const char *b)
{
	pthread_mutex_lock(&l->l_lock);
	if (l->l_bad++ == 0)
		snprintf(l->l_first, sizeof l->l_first, fmt, a, b);
	pthread_mutex_unlock(&l->l_lock);
}

static void *
load_worker(void *arg)
{
	struct load	*l = arg;
	const char	*clean = "A perfectly ordinary line of text.\r\n";
	unsigned long	 scans = 0;
	double		 max_ms = 0, max_get = 0, max_unref = 0;

	while (!__atomic_load_n(&l->l_stop, __ATOMIC_ACQUIRE)) {
		struct av_engine	*e;
		struct av_result	 res;
		struct err		 err = ERR_INIT;
		double			 t0 = now_ms(), t1, dt;
		int			 i;

		e = av_store_get(l->l_store);
		if (now_ms() - t0 > max_get)
			max_get = now_ms() - t0;
		if (e == NULL) {
			load_bad(l, "%s%s", "no engine", "");
			continue;
		}
		for (i = 0; i < 2; i++) {
			const char	*b = i == 0 ? l->l_eicar : clean;

			if (av_engine_scan(e, (const unsigned char *)b,
			    strlen(b), "load", 0, &res, &err) == -1)
				load_bad(l, "scan failed: %s%s", err.msg, "");
			else if (res.status != (i == 0 ? AV_VIRUS : AV_CLEAN))
				load_bad(l, "wrong result %s %s",
				    status_str(res.status), res.name);
			scans++;
		}
		t1 = now_ms();
		av_engine_unref(&e);
		if (now_ms() - t1 > max_unref)
			max_unref = now_ms() - t1;
		dt = now_ms() - t0;
		if (dt > max_ms)
			max_ms = dt;
	}
	pthread_mutex_lock(&l->l_lock);
	l->l_scans += scans;
	if (max_ms > l->l_max_ms)
		l->l_max_ms = max_ms;
	if (max_get > l->l_max_get)
		l->l_max_get = max_get;
	if (max_unref > l->l_max_unref)
		l->l_max_unref = max_unref;
	pthread_mutex_unlock(&l->l_lock);
	return NULL;
}

static int
load_start(struct load *l, pthread_t *th, int n)
{
	int	i, started = 0;

	__atomic_store_n(&l->l_stop, 0, __ATOMIC_RELEASE);
	l->l_scans = 0;
	l->l_max_ms = l->l_max_get = l->l_max_unref = 0;
	for (i = 0; i < n; i++)
		if (pthread_create(&th[started], NULL, load_worker, l) == 0)
			started++;
	return started;
}

static void
load_stop(struct load *l, pthread_t *th, int started)
{
	int	i;

	__atomic_store_n(&l->l_stop, 1, __ATOMIC_RELEASE);
	for (i = 0; i < started; i++)
		pthread_join(th[i], NULL);
}

/*
 * 4 threads scan EICAR and a clean line in a loop, first with no reload
 * (the baseline: how long a scan can take on this host), then while the
 * main thread adds a signature file and reloads 6 times.
 */
static void
reload_under_load(struct t *t)
{
	struct policy	*pol = test_policy(t, NULL);
	const char	*dir = make_db(t, "db");
	struct load	 l;
	pthread_t	 th[4];
	struct err	 err = ERR_INIT;
	double		 max_reload = 0, base_ms;
	int		 i, rc, started;
	char		 file[64], name[64], marker[64], want[96];

	memset(&l, 0, sizeof l);
	pthread_mutex_init(&l.l_lock, NULL);
	if (pol == NULL || dir == NULL)
		goto out;
	l.l_store = av_store_new(pol, dir);
	l.l_eicar = t_eicar();
	rc = av_store_reload(l.l_store, false, &err);
	if (!t_check(t, rc == 1, "first load: got %d (%s), want 1", rc,
	    err.msg))
		goto out;

	started = load_start(&l, th, 4);
	usleep(150000);
	load_stop(&l, th, started);
	base_ms = l.l_max_ms;
	t_log(t, "baseline: %lu scans, slowest get+2 scans+unref %.1f ms",
	    l.l_scans, base_ms);

	started = load_start(&l, th, 4);
	t_check(t, started == 4, "threads: got %d, want 4", started);
	for (i = 1; i <= 6; i++) {
		double	t0;

		usleep(20000);
		snprintf(file, sizeof file, "load-%d.ndb", i);
		snprintf(name, sizeof name, "Test.Load.%d", i);
		snprintf(marker, sizeof marker, "PORTCULLIS-LOAD-MARK-%d-END",
		    i);
		write_ndb(dir, file, name, marker);
		t0 = now_ms();
		rc = av_store_reload(l.l_store, false, &err);
		if (now_ms() - t0 > max_reload)
			max_reload = now_ms() - t0;
		t_check(t, rc == 1, "reload %d: got %d (%s), want 1", i, rc,
		    err.msg);
		snprintf(want, sizeof want, "%s.UNOFFICIAL", name);
		check_store_scan(t, l.l_store, name, marker, AV_VIRUS, want);
	}
	usleep(20000);
	load_stop(&l, th, started);
	t_log(t, "under reload: %lu scans in 4 threads across 6 reloads "
	    "(%ld CPUs); slowest get+2 scans+unref %.1f ms (get %.1f, "
	    "unref %.1f), slowest reload %.1f ms", l.l_scans,
	    sysconf(_SC_NPROCESSORS_ONLN), l.l_max_ms, l.l_max_get,
	    l.l_max_unref, max_reload);
	t_check(t, l.l_bad == 0, "bad scans: got %lu (first: %s), want 0",
	    l.l_bad, l.l_first);
	t_check(t, l.l_scans > 0, "scans: got 0, want some");
	/* Taking the engine never waits for a compile. */
	t_check(t, l.l_max_get < 50.0, "slowest av_store_get: got %.1f ms, "
	    "want < 50", l.l_max_get);
	/* A scan may share the CPU with the compile but never waits for
	 * it to finish: at most the baseline plus one reload (+ slack for a
	 * busy host). */
	t_check(t, l.l_max_ms <= base_ms + max_reload + 100.0,
	    "slowest scan under reload: got %.1f ms, want <= baseline "
	    "(%.1f) + reload (%.1f) + 100", l.l_max_ms, base_ms, max_reload);
out:
	av_store_free(&l.l_store);
	pthread_mutex_destroy(&l.l_lock);
	policy_unref(&pol);
}

/* max_scans = 1: many threads share one slot; none fails. */
struct cap {
	struct av_engine	*c_engine;
	const unsigned char	*c_buf;
	size_t			 c_len;
	int			 c_bad;		/* atomic */
};

static void *
cap_worker(void *arg)
{
	struct cap	*c = arg;
	int		 i;

	for (i = 0; i < 20; i++) {
		struct av_result	res;
		struct err		err = ERR_INIT;

		if (av_engine_scan(c->c_engine, c->c_buf, c->c_len, "cap", 0,
		    &res, &err) == -1 || res.status != AV_VIRUS)
			__atomic_add_fetch(&c->c_bad, 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

static void
max_scans(struct t *t)
{
	struct policy	*pol = test_policy(t, "[daemon]\nmax_scans = 1\n");
	struct cap	 c;
	pthread_t	 th[6];
	int		 i, started = 0;

	memset(&c, 0, sizeof c);
	c.c_engine = load_engine(t, pol, make_db(t, "db"));
	if (c.c_engine == NULL)
		goto out;
	c.c_buf = (const unsigned char *)t_eicar();
	c.c_len = strlen(t_eicar());
	for (i = 0; i < 6; i++)
		if (pthread_create(&th[i], NULL, cap_worker, &c) == 0)
			started++;
	for (i = 0; i < started; i++)
		pthread_join(th[i], NULL);
	t_check(t, started == 6, "threads: got %d, want 6", started);
	t_check(t, c.c_bad == 0, "failed scans with one slot: got %d, want 0",
	    c.c_bad);
out:
	av_engine_unref(&c.c_engine);
	policy_unref(&pol);
}

/*
 * Scan time of a 100 KiB buffer and of a ~100 KiB zip. Each round scans
 * different bytes (one byte changed): libclamav caches clean results by
 * hash, and a repeat of the same bytes only measures the cache.
 */
static void
timings(struct t *t)
{
	struct policy		*pol = test_policy(t, NULL);
	struct av_engine	*e = load_engine(t, pol, make_db(t, "db"));
	const char		*tmp = t_tmpdir(t);
	unsigned char		*text = xmalloc(100 * 1024), *zip = NULL;
	size_t			 i, ziplen = 0;
	unsigned		 seed = 12345;
	char			 path[512];
	int			 k, r, rounds = 10, bad = 0;
	double			 sum[3] = { 0, 0, 0 }, t0;

	if (e == NULL)
		goto out;
	/* Pseudo-random printable lines: zip gets them to about 85 KiB. */
	for (i = 0; i < 100 * 1024; i++) {
		seed = seed * 1103515245u + 12345u;
		text[i] = (unsigned char)(' ' + (seed >> 16) % 95);
		if (i % 72 == 71)
			text[i] = '\n';
	}
	for (r = 0; r < rounds; r++) {
		text[0] = (unsigned char)('A' + r);
		snprintf(path, sizeof path, "%s/text.txt", tmp);
		if (write_file(path, text, 100 * 1024) == -1 ||
		    t_sh("cd '%s' && rm -f t.zip && zip -q -j t.zip text.txt",
		    tmp) != 0) {
			t_error(t, "cannot make t.zip");
			goto out;
		}
		snprintf(path, sizeof path, "%s/t.zip", tmp);
		free(zip);
		if ((zip = read_made(t, path, &ziplen)) == NULL)
			goto out;
		for (k = 0; k < 3; k++) {
			const unsigned char	*b = k == 0 ? text : zip;
			size_t			 n = k == 0 ? 100 * 1024 :
			    ziplen;
			struct av_result	 res;
			struct err		 err = ERR_INIT;

			t0 = now_ms();
			if (av_engine_scan(e, b, n, "timing", 0, &res, &err) ==
			    -1 || res.status != AV_CLEAN)
				bad++;
			sum[k] += now_ms() - t0;	/* k 2: cached zip */
		}
	}
	t_log(t, "100 KiB text: %.2f ms per scan; zip of it (%zu bytes): "
	    "%.2f ms; the same zip again (clean cache): %.2f ms",
	    sum[0] / rounds, ziplen, sum[1] / rounds, sum[2] / rounds);
	t_check(t, bad == 0, "timing scans: got %d not clean, want 0", bad);
out:
	free(zip);
	free(text);
	av_engine_unref(&e);
	policy_unref(&pol);
}

/* An executable inside a container is reported for the attachment rules,
 * also the second time the same bytes are scanned (no clean cache). */
static void
embedded_executables(struct t *t)
{
	struct policy		*pol = NULL;
	char			*errs = NULL;
	const char		*db = make_db(t, "db");
	struct av_engine	*e;
	char			 zip[600];
	unsigned char		*buf;
	size_t			 len;
	int			 round;

	if (policy_load(NULL, NULL, 0, &pol, &errs) == -1) {
		t_error(t, "policy: %s", errs);
		free(errs);
		return;
	}
	e = load_engine(t, pol, db);
	snprintf(zip, sizeof zip, "%s/true.zip", t_tmpdir(t));
	if (e == NULL || t_sh("cd '%s' && cp /bin/true prog && zip -q t.zip "
	    "prog && mv t.zip '%s'", t_tmpdir(t), zip) != 0 ||
	    (buf = read_made(t, zip, &len)) == NULL) {
		av_engine_unref(&e);
		policy_unref(&pol);
		return;
	}
	for (round = 0; round < 2; round++) {
		struct av_result	res;
		struct err		err = ERR_INIT;

		if (!t_check(t, av_engine_scan(e, buf, len, "true.zip", 0, &res,
		    &err) == 0, "scan: %s", err.msg))
			break;
		t_check(t, res.status == AV_CLEAN && res.nembedded == 1 &&
		    strcmp(res.embedded[0].type, "exe-elf") == 0 &&
		    strcmp(res.embedded[0].path, "prog") == 0,
		    "round %d: got %s, %u embedded (%s %s), want clean, 1 "
		    "exe-elf prog", round, status_str(res.status),
		    res.nembedded, res.nembedded ? res.embedded[0].type : "",
		    res.nembedded ? res.embedded[0].path : "");
	}
	free(buf);
	av_engine_unref(&e);
	policy_unref(&pol);
}

/* One scan with flags; checks status, name (NULL = any) and how many
 * embedded executables libclamav reported. */
static void
check_flags(struct t *t, struct av_engine *e, const char *what,
    const unsigned char *buf, size_t len, unsigned flags,
    enum av_status want, const char *want_name, unsigned want_embedded)
{
	struct av_result	res;
	struct err		err = ERR_INIT;

	if (av_engine_scan(e, buf, len, what, flags, &res, &err) == -1) {
		t_error(t, "%s: got error (%s), want %s", what, err.msg,
		    status_str(want));
		return;
	}
	t_check(t, res.status == want && (want_name == NULL ||
	    strcmp(res.name, want_name) == 0) &&
	    res.nembedded == want_embedded,
	    "%s: got %s \"%s\" (%u embedded), want %s \"%s\" (%u embedded)",
	    what, status_str(res.status), res.name, res.nembedded,
	    status_str(want), want_name != NULL ? want_name : "*",
	    want_embedded);
}

/*
 * AV_SCAN_CONTAINER: libclamav does not unpack the archive (a deflated
 * EICAR inside is not seen, nor an executable reported), but the
 * archive's own bytes still meet the body signatures (a stored EICAR)
 * and a hash signature of the whole zip; documents (PDF) stay parsed.
 */
static void
container_flag(struct t *t)
{
	struct policy		*pol = test_policy(t, NULL);
	const char		*db = make_db(t, "db"), *tmp = t_tmpdir(t);
	struct av_engine	*e = NULL, *e2 = NULL;
	unsigned char		*dz = NULL, *sz = NULL, *tz = NULL, *pdf = NULL;
	size_t			 dlen, slen, tlen, plen;
	char			 path[600];
	FILE			*fp;

	snprintf(path, sizeof path, "%s/eicar.txt", tmp);
	if ((fp = fopen(path, "w")) == NULL) {
		t_error(t, "cannot write %s", path);
		goto out;
	}
	fputs(t_eicar(), fp);
	for (int i = 0; i < 200; i++)	/* so that deflate hides it */
		fputs("padding line of harmless text\n", fp);
	fclose(fp);
	if (t_sh("cd '%s' && zip -q d.zip eicar.txt && zip -q -0 s.zip "
	    "eicar.txt && cp /bin/true prog && zip -q t.zip prog && "
	    "mkdir -p db2 && cp db/* db2/ && md5sum < d.zip | "
	    "{ read h _; printf '%%s:%%s:Whole.Zip.HDB\\n' \"$h\" "
	    "$(wc -c < d.zip); } > db2/whole.hdb", tmp) != 0) {
		t_error(t, "building the zips failed");
		goto out;
	}
	snprintf(path, sizeof path, "%s/d.zip", tmp);
	dz = read_made(t, path, &dlen);
	snprintf(path, sizeof path, "%s/s.zip", tmp);
	sz = read_made(t, path, &slen);
	snprintf(path, sizeof path, "%s/t.zip", tmp);
	tz = read_made(t, path, &tlen);
	snprintf(path, sizeof path, "%s/db2", tmp);
	e = load_engine(t, pol, db);
	e2 = load_engine(t, pol, path);
	if (dz == NULL || sz == NULL || tz == NULL || e == NULL || e2 == NULL)
		goto out;
	check_flags(t, e, "deflated eicar zip, unpacked", dz, dlen, 0,
	    AV_VIRUS, NAME_EICAR, 0);
	check_flags(t, e, "deflated eicar zip, container only", dz, dlen,
	    AV_SCAN_CONTAINER, AV_CLEAN, "", 0);
	check_flags(t, e, "stored eicar zip, container only", sz, slen,
	    AV_SCAN_CONTAINER, AV_VIRUS, NAME_EICAR, 0);
	check_flags(t, e2, "hash of the whole zip, container only", dz, dlen,
	    AV_SCAN_CONTAINER, AV_VIRUS, "Whole.Zip.HDB.UNOFFICIAL", 0);
	check_flags(t, e, "zip of an ELF, unpacked", tz, tlen, 0, AV_CLEAN,
	    "", 1);
	check_flags(t, e, "zip of an ELF, container only", tz, tlen,
	    AV_SCAN_CONTAINER, AV_CLEAN, "", 0);
	pdf = t_read_file(TESTFILES "/clam.pdf", &plen);
	if (pdf != NULL)
		check_flags(t, e, "clam.pdf, container flag", pdf, plen,
		    AV_SCAN_CONTAINER, AV_VIRUS, NAME_CLAMEXE, 1);
	else
		t_log(t, "no %s/clam.pdf (clamav-testfiles): PDF not checked",
		    TESTFILES);
out:
	free(dz);
	free(sz);
	free(tz);
	free(pdf);
	av_engine_unref(&e);
	av_engine_unref(&e2);
	policy_unref(&pol);
}

static const struct t_case cases[] = {
	T_CASE(container_flag),
	T_CASE(embedded_executables),
	T_CASE(init_twice),
	T_CASE(load_stats),
	T_CASE(scan_buffers),
	T_CASE(scan_errors),
	T_CASE(clamav_testfiles),
	T_CASE(zips),
	T_CASE(filesize_limit),
	T_CASE(encrypted_zip),
	T_CASE(load_errors),
	T_CASE(reload),
	T_CASE(store_missing_db),
	T_CASE(reload_under_load),
	T_CASE(max_scans),
	T_CASE(timings),
};

int
main(int argc, char **argv)
{
	struct err	err = ERR_INIT;

	if (av_global_init(&err) == -1) {
		printf("av_global_init: %s\n", err.msg);
		return 1;
	}
	return t_main(argc, argv, cases, T_NCASES(cases));
}
