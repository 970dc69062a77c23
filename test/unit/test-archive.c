/*
 * test/unit/test-archive.c - unit tests for lib/archive.
 *
 * Archives are built at test time with the real tools (zip, 7z, tar,
 * gzip, gcab, genisoimage, cpio) in the case's scratch directory, then
 * walked from memory. Some are patched in memory afterwards to make the
 * anomalies (a local header naming another file, duplicate names, junk
 * after the end, a cut-off archive).
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archive.h"
#include "util.h"
#include "t.h"

#define EV(x)		(1u << (x))
#define MAX_SEEN	64
#define DEF_FORMATS	"zip 7z rar tar gzip bzip2 xz cab iso cpio"
#define SETUP \
	"mkdir -p d/sub && printf 'hello\\n' > d/a.txt && " \
	"printf 'world\\n' > d/b.txt && printf 'third\\n' > d/sub/c.txt"

struct seen {
	char		name[128];
	char		alt[128];
	size_t		len;
	bool		enc, trunc, dir;
	bool		unsup;		/* enc_why is ARC_7Z_UNSUPPORTED */
	unsigned char	head[16];
};

static const struct arc_ops rec_ops;

struct rec {
	struct seen		 s[MAX_SEEN];
	size_t			 n;
	unsigned		 events;	/* EV() bits */
	char			 detail[512];	/* all details, ';'-joined */
	int			 stop_at;	/* entry index that fails, -1 */
	const struct arc_limits	*lim;		/* for nested walks */
	struct rec		*child;		/* walk .zip members into it */
	int			 child_ret;
};

static int
rec_entry(void *ctx, const struct arc_entry *e, struct err *err)
{
	struct rec	*r = ctx;
	struct seen	*s;

	if (r->stop_at >= 0 && (size_t)r->stop_at == r->n)
		return err_set(err, "stopped by the test");
	if (r->n == MAX_SEEN)
		return 0;
	s = &r->s[r->n++];
	memset(s, 0, sizeof *s);
	snprintf(s->name, sizeof s->name, "%s", e->name);
	snprintf(s->alt, sizeof s->alt, "%s",
	    e->alt_name != NULL ? e->alt_name : "");
	s->len = e->len;
	s->enc = e->encrypted;
	s->unsup = e->enc_why != NULL &&
	    strcmp(e->enc_why, ARC_7Z_UNSUPPORTED) == 0;
	s->trunc = e->truncated;
	s->dir = e->is_dir;
	if (e->data != NULL)
		memcpy(s->head, e->data, e->len < sizeof s->head ? e->len :
		    sizeof s->head);
	if (r->child != NULL && str_has_suffix_ci(e->name, ".zip"))
		r->child_ret = archive_walk(e->data, e->len, r->lim, &rec_ops,
		    r->child, err);
	return 0;
}

static void
rec_event(void *ctx, enum arc_event ev, const char *name, const char *detail)
{
	struct rec	*r = ctx;
	size_t		 l = strlen(r->detail);

	r->events |= EV(ev);
	snprintf(r->detail + l, sizeof r->detail - l, "%s%s: %s",
	    l != 0 ? "; " : "", name != NULL ? name : "-",
	    detail != NULL ? detail : "(null)");
}

static const struct arc_ops rec_ops = { rec_entry, rec_event };

static void
rec_init(struct rec *r)
{
	memset(r, 0, sizeof *r);
	r->stop_at = -1;
}

/* Non-directory member names, sorted, comma-joined. */
static void
rec_names(const struct rec *r, char *out, size_t outlen)
{
	const char	*v[MAX_SEEN];
	size_t		 n = 0, i, j;

	for (i = 0; i < r->n; i++)
		if (!r->s[i].dir)
			v[n++] = r->s[i].name;
	for (i = 1; i < n; i++)
		for (j = i; j > 0 && strcmp(v[j - 1], v[j]) > 0; j--) {
			const char *x = v[j];

			v[j] = v[j - 1];
			v[j - 1] = x;
		}
	out[0] = '\0';
	for (i = 0; i < n; i++) {
		size_t l = strlen(out);

		snprintf(out + l, outlen - l, "%s%s", i != 0 ? "," : "", v[i]);
	}
}

static const char *const ev_names[] = {
	"ENCRYPTED", "UNREADABLE", "ENTRIES", "MEMBER_SIZE", "TOTAL_SIZE",
	"RATIO", "ANOMALY", "TIMEOUT"
};

static const char *
ev_str(unsigned bits, char *buf, size_t len)
{
	size_t	i;

	buf[0] = '\0';
	for (i = 0; i < sizeof ev_names / sizeof ev_names[0]; i++)
		if (bits & EV(i)) {
			size_t l = strlen(buf);

			snprintf(buf + l, len - l, "%s%s", l != 0 ? "|" : "",
			    ev_names[i]);
		}
	if (buf[0] == '\0')
		snprintf(buf, len, "none");
	return buf;
}

/* Builds in the case's scratch dir; returns the file or NULL. */
static unsigned char *
build(struct t *t, const char *cmd, const char *file, size_t *len_r)
{
	const char	*dir = t_tmpdir(t);
	char		 path[512];
	unsigned char	*b;

	if (t_sh("cd '%s' && rm -rf ./* && { %s && %s; } >/dev/null 2>&1",
	    dir, SETUP,
	    cmd) != 0) {
		t_error(t, "build failed: %s", cmd);
		return NULL;
	}
	snprintf(path, sizeof path, "%s/%s", dir, file);
	b = t_read_file(path, len_r);
	if (b == NULL)
		t_error(t, "cannot read %s", path);
	return b;
}

/* In-place patch of the first (or every) occurrence of from by to. */
static unsigned
patch(unsigned char *b, size_t len, const char *from, const char *to,
    bool all)
{
	size_t		 fl = strlen(from);
	unsigned	 n = 0;
	unsigned char	*p = b;

	while ((p = memmem(p, len - (size_t)(p - b), from, fl)) != NULL) {
		memcpy(p, to, fl);
		p += fl;
		n++;
		if (!all)
			break;
	}
	return n;
}

enum patch_kind {
	P_NONE, P_LOCAL_NAME, P_DUP_NAME, P_TRAILER, P_CUT_HALF, P_GARBAGE
};

struct arc_case {
	const char	*name;
	const char	*cmd;		/* builds file from d/ */
	const char	*file;
	enum patch_kind	 patch;
	unsigned	 entries;	/* 0 = 1000 */
	uint64_t	 member_size;	/* 0 = 64 MiB */
	uint64_t	 budget;	/* 0 = 1 GiB */
	unsigned	 ratio;
	const char	*formats;	/* NULL = DEF_FORMATS */
	int		 want_ret;
	const char	*want_names;	/* NULL = don't check */
	unsigned	 want_events;
	const char	*want_detail;	/* substring of the details, or NULL */
	unsigned	 want_enc;	/* entries flagged encrypted */
	unsigned	 want_trunc;	/* entries flagged truncated */
};

static const struct arc_case cases_tab[] = {
	{ "zip plain", "cd d && zip -q ../x.zip a.txt b.txt", "x.zip",
	    P_NONE, 0, 0, 0, 0, NULL, 2, "a.txt,b.txt", 0, NULL, 0, 0 },
	{ "zip with directory", "cd d && zip -qr ../x.zip a.txt sub",
	    "x.zip", P_NONE, 0, 0, 0, 0, NULL, 3, "a.txt,sub/c.txt", 0,
	    NULL, 0, 0 },
	{ "tar.gz", "tar czf x.tgz -C d a.txt b.txt", "x.tgz", P_NONE,
	    0, 0, 0, 0, NULL, 2, "a.txt,b.txt", 0, NULL, 0, 0 },
	{ "tar.bz2", "tar cjf x.tbz -C d a.txt b.txt", "x.tbz", P_NONE,
	    0, 0, 0, 0, NULL, 2, "a.txt,b.txt", 0, NULL, 0, 0 },
	{ "tar.xz", "tar cJf x.txz -C d a.txt b.txt", "x.txz", P_NONE,
	    0, 0, 0, 0, NULL, 2, "a.txt,b.txt", 0, NULL, 0, 0 },
	{ "plain tar", "tar cf x.tar -C d a.txt b.txt", "x.tar", P_NONE,
	    0, 0, 0, 0, NULL, 2, "a.txt,b.txt", 0, NULL, 0, 0 },
	{ "gzip single file keeps its name", "gzip -c d/a.txt > a.txt.gz",
	    "a.txt.gz", P_NONE, 0, 0, 0, 0, NULL, 1, "a.txt", 0, NULL, 0,
	    0 },
	{ "gzip single file without name", "gzip -nc d/a.txt > a.gz",
	    "a.gz", P_NONE, 0, 0, 0, 0, NULL, 1, "data", 0, NULL, 0, 0 },
	{ "bzip2 single file", "bzip2 -c d/a.txt > a.bz2", "a.bz2",
	    P_NONE, 0, 0, 0, 0, NULL, 1, "data", 0, NULL, 0, 0 },
	{ "xz single file", "xz -c d/a.txt > a.xz", "a.xz", P_NONE, 0, 0,
	    0, 0, NULL, 1, "data", 0, NULL, 0, 0 },
	{ "gzip of a zip is one member",
	    "cd d && zip -q ../x.zip a.txt && cd .. && gzip -c x.zip > x.gz",
	    "x.gz", P_NONE, 0, 0, 0, 0, NULL, 1, "x.zip", 0, NULL, 0, 0 },
	{ "7z", "cd d && 7z a ../x.7z a.txt b.txt", "x.7z", P_NONE, 0, 0,
	    0, 0, NULL, 2, "a.txt,b.txt", 0, NULL, 0, 0 },
	{ "7z encrypted data", "cd d && 7z a -psecret ../x.7z a.txt b.txt",
	    "x.7z", P_NONE, 0, 0, 0, 0, NULL, 2, "a.txt,b.txt", 0, NULL, 2,
	    0 },
	{ "7z encrypted headers",
	    "cd d && 7z a -psecret -mhe=on ../x.7z a.txt b.txt", "x.7z",
	    P_NONE, 0, 0, 0, 0, NULL, 0, "", EV(ARC_EV_ENCRYPTED), "encrypt",
	    0, 0 },
	{ "zip encrypted entries",
	    "cd d && zip -q -P secret ../x.zip a.txt b.txt", "x.zip", P_NONE,
	    0, 0, 0, 0, NULL, 2, "a.txt,b.txt", 0, NULL, 2, 0 },
	{ "cab", "cd d && gcab -c ../x.cab a.txt b.txt", "x.cab", P_NONE, 0,
	    0, 0, 0, NULL, 2, "a.txt,b.txt", 0, NULL, 0, 0 },
	{ "iso", "genisoimage -quiet -R -J -o x.iso d", "x.iso", P_NONE, 0,
	    0, 0, 0, NULL, -2, "a.txt,b.txt,sub/c.txt", 0, NULL, 0, 0 },
	{ "cpio newc",
	    "cd d && printf 'a.txt\\nb.txt\\n' | cpio -o -H newc > ../x.cpio",
	    "x.cpio", P_NONE, 0, 0, 0, 0, NULL, 2, "a.txt,b.txt", 0, NULL, 0,
	    0 },
	{ "cpio binary",
	    "cd d && printf 'a.txt\\nb.txt\\n' | cpio -o > ../x.cpio",
	    "x.cpio", P_NONE, 0, 0, 0, 0, NULL, 2, "a.txt,b.txt", 0, NULL, 0,
	    0 },
	{ "zip bomb over ratio 100",
	    "head -c 50000000 /dev/zero > z && zip -q x.zip z", "x.zip",
	    P_NONE, 0, 0, 0, 100, NULL, 1, "z", EV(ARC_EV_RATIO), "ratio",
	    0, 1 },
	{ "zip bomb without ratio hits member_size",
	    "head -c 50000000 /dev/zero > z && zip -q x.zip z", "x.zip",
	    P_NONE, 0, 1 << 20, 0, 0, NULL, 1, "z", EV(ARC_EV_MEMBER_SIZE),
	    NULL, 0, 1 },
	{ "entries at limit",
	    "cd d && zip -q ../x.zip a.txt b.txt sub/c.txt", "x.zip", P_NONE,
	    3, 0, 0, 0, NULL, 3, "a.txt,b.txt,sub/c.txt", 0, NULL, 0, 0 },
	{ "entries over limit",
	    "cd d && zip -q ../x.zip a.txt b.txt sub/c.txt", "x.zip", P_NONE,
	    2, 0, 0, 0, NULL, 2, "a.txt,b.txt", EV(ARC_EV_ENTRIES),
	    "more than 2", 0, 0 },
	{ "member_size at limit", "cd d && zip -q ../x.zip a.txt", "x.zip",
	    P_NONE, 0, 6, 0, 0, NULL, 1, "a.txt", 0, NULL, 0, 0 },
	{ "member_size over limit", "cd d && zip -q ../x.zip a.txt",
	    "x.zip", P_NONE, 0, 5, 0, 0, NULL, 1, "a.txt",
	    EV(ARC_EV_MEMBER_SIZE), NULL, 0, 1 },
	{ "budget at limit", "cd d && zip -q ../x.zip a.txt b.txt",
	    "x.zip", P_NONE, 0, 0, 12, 0, NULL, 2, "a.txt,b.txt", 0, NULL, 0,
	    0 },
	{ "budget exhausted", "cd d && zip -q ../x.zip a.txt b.txt",
	    "x.zip", P_NONE, 0, 0, 11, 0, NULL, 2, "a.txt,b.txt",
	    EV(ARC_EV_TOTAL_SIZE), "budget", 0, 1 },
	{ "budget exhausted stops the walk",
	    "cd d && zip -q ../x.zip a.txt b.txt sub/c.txt", "x.zip", P_NONE,
	    0, 0, 8, 0, NULL, 2, "a.txt,b.txt", EV(ARC_EV_TOTAL_SIZE), NULL,
	    0, 1 },
	{ "truncated zip",
	    "head -c 200000 /dev/urandom > d/r && cd d && zip -q ../x.zip r",
	    "x.zip", P_CUT_HALF, 0, 0, 0, 0, NULL, -2, NULL,
	    EV(ARC_EV_UNREADABLE) | EV(ARC_EV_ANOMALY), "ZIP", 0, 1 },
	{ "corrupt zip", "cd d && zip -q ../x.zip a.txt b.txt", "x.zip",
	    P_GARBAGE, 0, 0, 0, 0, NULL, -2, NULL,
	    EV(ARC_EV_UNREADABLE) | EV(ARC_EV_ANOMALY), "Truncated", 0, 0 },
	{ "not an archive", "cp d/a.txt x.txt", "x.txt", P_NONE, 0, 0, 0, 0,
	    NULL, 0, "", EV(ARC_EV_UNREADABLE), "Unrecognized", 0, 0 },
	{ "duplicate names in zip", "cd d && zip -q ../x.zip a.txt b.txt",
	    "x.zip", P_DUP_NAME, 0, 0, 0, 0, NULL, 2, "a.txt,a.txt",
	    EV(ARC_EV_ANOMALY), "duplicate", 0, 0 },
	{ "duplicate names in tar",
	    "tar cf x.tar -C d a.txt && tar rf x.tar -C d a.txt", "x.tar",
	    P_NONE, 0, 0, 0, 0, NULL, 2, "a.txt,a.txt", EV(ARC_EV_ANOMALY),
	    "duplicate", 0, 0 },
	{ "zip local name differs from central",
	    "cd d && zip -q ../x.zip a.txt b.txt", "x.zip", P_LOCAL_NAME, 0,
	    0, 0, 0, NULL, 2, "b.txt,x.exe", EV(ARC_EV_ANOMALY),
	    "local header names \"x.exe\", central directory \"a.txt\"", 0,
	    0 },
	{ "zip with data after the end",
	    "cd d && zip -q ../x.zip a.txt", "x.zip", P_TRAILER, 0, 0, 0, 0,
	    NULL, 1, "a.txt", EV(ARC_EV_ANOMALY), "after the end", 0, 0 },
	{ "zip not enabled", "cd d && zip -q ../x.zip a.txt", "x.zip",
	    P_NONE, 0, 0, 0, 0, "tar 7z", 0, "", EV(ARC_EV_UNREADABLE),
	    "not enabled", 0, 0 },
	{ "gzip filter not enabled", "tar czf x.tgz -C d a.txt", "x.tgz",
	    P_NONE, 0, 0, 0, 0, "tar zip", 0, "", EV(ARC_EV_UNREADABLE),
	    "not enabled", 0, 0 },
	{ "7z non-ASCII name in the C locale", "cd d && "
	    "cp a.txt \"$(printf 'r\\303\\251sum\\303\\251.txt')\" && "
	    "LC_ALL=C.UTF-8 7z a ../x.7z r*", "x.7z", P_NONE, 0, 0, 0, 0,
	    NULL, 1, "r\303\251sum\303\251.txt", 0, NULL, 0, 0 },
	{ "zip non-ASCII name in the C locale", "cd d && "
	    "cp a.txt \"$(printf 'r\\303\\251sum\\303\\251.txt')\" && "
	    "LC_ALL=C.UTF-8 zip -q ../x.zip r*", "x.zip", P_NONE, 0, 0, 0, 0,
	    NULL, 1, "r\303\251sum\303\251.txt", 0, NULL, 0, 0 },
	{ "gzip without tar gives the tar", "tar czf x.tgz -C d a.txt",
	    "x.tgz", P_NONE, 0, 0, 0, 0, "gzip zip", 1, "data", 0, NULL, 0,
	    0 },
	/* ZIP views: what each reader sees, read once */
	{ "zip views: two zips concatenated",
	    "cd d && zip -q ../z1.zip a.txt && zip -q ../z2.zip b.txt && "
	    "cd .. && cat z1.zip z2.zip > x.zip", "x.zip", P_NONE, 0, 0, 0, 0,
	    NULL, 2, "a.txt,b.txt", EV(ARC_EV_ANOMALY),
	    "a.txt: member only in the local headers and the central "
	    "directory of the end record at", 0, 0 },
	{ "zip views: end record in the comment, past libarchive's window",
	    "cd d && zip -q ../z1.zip a.txt && zip -q ../z2.zip b.txt && "
	    "cd .. && python3 -c 'z=open(\"z1.zip\",\"rb\").read();"
	    "c=open(\"z2.zip\",\"rb\").read()+bytes(17000);"
	    "open(\"x.zip\",\"wb\").write(z[:-2]+len(c).to_bytes(2,"
	    "\"little\")+c)'", "x.zip", P_NONE, 0, 0, 0, 0, NULL, 2,
	    "a.txt,b.txt", EV(ARC_EV_ANOMALY),
	    "b.txt: member only in the central directory of the end record "
	    "at", 0, 0 },
	{ "zip views: end record in the comment, libarchive takes it",
	    "cd d && zip -q ../z1.zip a.txt && zip -q ../z2.zip b.txt && "
	    "cd .. && python3 -c 'z=open(\"z1.zip\",\"rb\").read();"
	    "c=open(\"z2.zip\",\"rb\").read();"
	    "open(\"x.zip\",\"wb\").write(z[:-2]+len(c).to_bytes(2,"
	    "\"little\")+c)'", "x.zip", P_NONE, 0, 0, 0, 0, NULL, 2,
	    "a.txt,b.txt", EV(ARC_EV_ANOMALY),
	    "a.txt: member only in the local headers and the central "
	    "directory of the end record at", 0, 0 },
	{ "zip views: a local header no directory lists",
	    "cd d && zip -q ../x0.zip a.txt b.txt && cd .. && "
	    "python3 -c 'import struct as s;z=open(\"x0.zip\",\"rb\").read();"
	    "e=z.rfind(b\"PK\\5\\6\");n,cs,co=s.unpack(\"<HII\",z[e+10:e+20]);"
	    "r=z[co:];l=46+sum(s.unpack(\"<HHH\",r[28:34]));"
	    "open(\"x.zip\",\"wb\").write(z[:co]+z[co+l:e]+z[e:e+8]+"
	    "s.pack(\"<HHII\",n-1,n-1,cs-l,co)+z[e+20:])'", "x.zip", P_NONE,
	    0, 0, 0, 0, NULL, 2, "a.txt,b.txt", EV(ARC_EV_ANOMALY),
	    "a.txt: member only in the local headers", 0, 0 },
	{ "zip views: six zips concatenated, four directories read",
	    "for i in 1 2 3 4 5 6; do echo $i > f$i && zip -q z$i.zip f$i; "
	    "done && cat z1.zip z2.zip z3.zip z4.zip z5.zip z6.zip > x.zip",
	    "x.zip", P_NONE, 0, 0, 0, 0, NULL, 4, "f1,f4,f5,f6",
	    EV(ARC_EV_ANOMALY), "5 other end of central directory records; "
	    "the first 1 and the last 2 were read", 0, 0 },
	{ "zip views: stored zips inside are not views",
	    "cd d && zip -q ../i1.zip a.txt && zip -q ../i2.zip b.txt && "
	    "cd .. && zip -q -0 x.zip i1.zip i2.zip", "x.zip", P_NONE, 0, 0,
	    0, 0, NULL, 2, "i1.zip,i2.zip", 0, NULL, 0, 0 },
	{ "zip views: entries limit counts every view",
	    "cd d && zip -q ../z1.zip a.txt && zip -q ../z2.zip b.txt && "
	    "cd .. && cat z1.zip z2.zip > x.zip", "x.zip", P_NONE, 1, 0, 0, 0,
	    NULL, 1, "b.txt", EV(ARC_EV_ENTRIES), "more than 1", 0, 0 },
};

static void
run_case(struct t *t, const struct arc_case *c)
{
	struct arc_limits	 lim;
	struct rec		*r = xcalloc(1, sizeof *r);
	struct err		 err = ERR_INIT;
	unsigned char		*b;
	size_t			 len, i;
	uint64_t		 budget;
	unsigned		 nenc = 0, ntrunc = 0;
	int			 ret;
	char			 names[1024], e1[128], e2[128];

	rec_init(r);
	b = build(t, c->cmd, c->file, &len);
	if (b == NULL)
		goto out;
	switch (c->patch) {
	case P_NONE:
		break;
	case P_LOCAL_NAME:
		t_check(t, patch(b, len, "a.txt", "x.exe", false) == 1,
		    "%s: patch failed", c->name);
		break;
	case P_DUP_NAME:
		t_check(t, patch(b, len, "b.txt", "a.txt", true) == 2,
		    "%s: patch failed", c->name);
		break;
	case P_TRAILER:
		b = xrealloc(b, len + 100);
		memset(b + len, 'J', 100);
		len += 100;
		break;
	case P_CUT_HALF:
		len /= 2;
		break;
	case P_GARBAGE:
		/* keep the local header signature, smash everything after */
		for (i = 4; i < len; i++)
			b[i] = (unsigned char)(i * 7 + 3);
		break;
	}
	budget = c->budget != 0 ? c->budget : (uint64_t)1 << 30;
	memset(&lim, 0, sizeof lim);
	lim.entries = c->entries != 0 ? c->entries : 1000;
	lim.member_size = c->member_size != 0 ? c->member_size : 64 << 20;
	lim.budget = &budget;
	lim.ratio = c->ratio;
	lim.formats = c->formats != NULL ? c->formats : DEF_FORMATS;
	ret = archive_walk(b, len, &lim, &rec_ops, r, &err);
	if (c->want_ret >= 0)
		t_check(t, ret == c->want_ret, "%s: returned %d, want %d",
		    c->name, ret, c->want_ret);
	else
		t_check(t, ret >= 0, "%s: returned %d (%s), want >= 0",
		    c->name, ret, err.msg);
	rec_names(r, names, sizeof names);
	if (c->want_names != NULL)
		t_check(t, strcmp(names, c->want_names) == 0,
		    "%s: got names \"%s\", want \"%s\"", c->name, names,
		    c->want_names);
	t_check(t, r->events == c->want_events,
	    "%s: got events %s, want %s (details: %s)", c->name,
	    ev_str(r->events, e1, sizeof e1),
	    ev_str(c->want_events, e2, sizeof e2), r->detail);
	if (c->want_detail != NULL)
		t_check(t, strstr(r->detail, c->want_detail) != NULL,
		    "%s: got details \"%s\", want one with \"%s\"", c->name,
		    r->detail, c->want_detail);
	for (i = 0; i < r->n; i++) {
		const struct seen *s = &r->s[i];

		nenc += s->enc;
		ntrunc += s->trunc;
		if (s->enc)
			t_check(t, s->len == 0, "%s: encrypted %s has %zu "
			    "bytes, want 0", c->name, s->name, s->len);
		if (c->patch == P_LOCAL_NAME && strcmp(s->name, "x.exe") == 0)
			t_check(t, strcmp(s->alt, "a.txt") == 0,
			    "%s: got alt_name \"%s\", want \"a.txt\"", c->name,
			    s->alt);
		if (strcmp(s->name, "a.txt") == 0 && !s->enc && !s->trunc &&
		    c->patch == P_NONE)
			t_check(t, s->len == 6 &&
			    memcmp(s->head, "hello\n", 6) == 0,
			    "%s: a.txt got %zu bytes \"%.*s\", want \"hello\"",
			    c->name, s->len, (int)s->len, s->head);
	}
	t_check(t, nenc == c->want_enc, "%s: got %u encrypted, want %u",
	    c->name, nenc, c->want_enc);
	t_check(t, ntrunc == c->want_trunc, "%s: got %u truncated, want %u",
	    c->name, ntrunc, c->want_trunc);
out:
	free(b);
	free(r);
}

/* One test case per table row, so that each row passes or fails alone. */
static void
run_row(struct t *t, size_t i)
{
	if (i < T_NCASES(cases_tab))
		run_case(t, &cases_tab[i]);
}

#define ROW(i)								\
	static void							\
	row_##i(struct t *t)						\
	{								\
		run_row(t, i);						\
	}
ROW(0)
ROW(1)
ROW(2)
ROW(3)
ROW(4)
ROW(5)
ROW(6)
ROW(7)
ROW(8)
ROW(9)
ROW(10)
ROW(11)
ROW(12)
ROW(13)
ROW(14)
ROW(15)
ROW(16)
ROW(17)
ROW(18)
ROW(19)
ROW(20)
ROW(21)
ROW(22)
ROW(23)
ROW(24)
ROW(25)
ROW(26)
ROW(27)
ROW(28)
ROW(29)
ROW(30)
ROW(31)
ROW(32)
ROW(33)
ROW(34)
ROW(35)
ROW(36)
ROW(37)
ROW(38)
ROW(39)
ROW(40)
ROW(41)
ROW(42)
ROW(43)
ROW(44)
ROW(45)
ROW(46)
ROW(47)

static void (*const row_fns[])(struct t *) = {
	row_0, row_1, row_2, row_3, row_4, row_5,
	row_6, row_7, row_8, row_9, row_10, row_11,
	row_12, row_13, row_14, row_15, row_16, row_17,
	row_18, row_19, row_20, row_21, row_22, row_23,
	row_24, row_25, row_26, row_27, row_28, row_29,
	row_30, row_31, row_32, row_33, row_34, row_35,
	row_36, row_37, row_38, row_39, row_40, row_41,
	row_42, row_43, row_44, row_45, row_46, row_47,
};

_Static_assert(T_NCASES(cases_tab) <= T_NCASES(row_fns),
    "more table rows than ROW() functions");

static struct arc_limits
default_limits(uint64_t *budget)
{
	struct arc_limits	lim;

	memset(&lim, 0, sizeof lim);
	*budget = (uint64_t)1 << 30;
	lim.entries = 1000;
	lim.member_size = 64 << 20;
	lim.budget = budget;
	lim.ratio = 100;
	lim.formats = DEF_FORMATS;
	return lim;
}

/* The budget goes down by exactly the bytes decoded; a truncated member
 * carries the bytes up to the limit. */
static void
budget_accounting(struct t *t)
{
	uint64_t		 budget;
	struct arc_limits	 lim = default_limits(&budget);
	struct rec		*r = xcalloc(1, sizeof *r);
	struct err		 err = ERR_INIT;
	unsigned char		*b;
	size_t			 len;
	int			 ret;

	rec_init(r);
	b = build(t, "cd d && zip -q ../x.zip a.txt b.txt", "x.zip", &len);
	if (b == NULL)
		goto out;
	budget = 100;
	ret = archive_walk(b, len, &lim, &rec_ops, r, &err);
	t_check(t, ret == 2, "got %d members, want 2", ret);
	t_check(t, budget == 88, "got budget %llu, want 88",
	    (unsigned long long)budget);
	rec_init(r);
	budget = 9;
	ret = archive_walk(b, len, &lim, &rec_ops, r, &err);
	t_check(t, ret == 2 && r->s[1].trunc && r->s[1].len == 3,
	    "got %d members, second truncated=%d len=%zu; want 2, 1, 3", ret,
	    r->n > 1 && r->s[1].trunc, r->n > 1 ? r->s[1].len : 0);
	t_check(t, budget == 0, "got budget %llu, want 0",
	    (unsigned long long)budget);
out:
	free(b);
	free(r);
}

/* Nesting: the caller walks a zip member from its entry callback. */
static void
zip_in_zip(struct t *t)
{
	uint64_t		 budget;
	struct arc_limits	 lim = default_limits(&budget);
	struct rec		*outer = xcalloc(1, sizeof *outer);
	struct rec		*inner = xcalloc(1, sizeof *inner);
	struct err		 err = ERR_INIT;
	unsigned char		*b;
	size_t			 len;
	char			 names[256];
	int			 ret;

	rec_init(outer);
	rec_init(inner);
	b = build(t, "cd d && zip -q ../in.zip a.txt b.txt && cd .. && "
	    "zip -q x.zip in.zip", "x.zip", &len);
	if (b == NULL)
		goto out;
	outer->child = inner;
	outer->lim = &lim;
	ret = archive_walk(b, len, &lim, &rec_ops, outer, &err);
	rec_names(outer, names, sizeof names);
	t_check(t, ret == 1 && strcmp(names, "in.zip") == 0,
	    "outer: got %d \"%s\", want 1 \"in.zip\"", ret, names);
	rec_names(inner, names, sizeof names);
	t_check(t, outer->child_ret == 2 && strcmp(names, "a.txt,b.txt") == 0,
	    "inner: got %d \"%s\", want 2 \"a.txt,b.txt\"", outer->child_ret,
	    names);
	t_check(t, outer->events == 0 && inner->events == 0,
	    "got events %x/%x, want none", outer->events, inner->events);
	t_check(t, budget == ((uint64_t)1 << 30) - 12 - outer->s[0].len,
	    "budget: got %llu decoded, want %zu",
	    (unsigned long long)(((uint64_t)1 << 30) - budget),
	    12 + outer->s[0].len);
out:
	free(b);
	free(outer);
	free(inner);
}

static void
callback_stops_walk(struct t *t)
{
	uint64_t		 budget;
	struct arc_limits	 lim = default_limits(&budget);
	struct rec		*r = xcalloc(1, sizeof *r);
	struct err		 err = ERR_INIT;
	unsigned char		*b;
	size_t			 len;
	int			 ret;

	rec_init(r);
	b = build(t, "cd d && zip -q ../x.zip a.txt b.txt", "x.zip", &len);
	if (b != NULL) {
		r->stop_at = 1;
		ret = archive_walk(b, len, &lim, &rec_ops, r, &err);
		t_check(t, ret == -1 && strstr(err.msg, "stopped") != NULL,
		    "got %d \"%s\", want -1 \"stopped by the test\"", ret,
		    err.msg);
		t_check(t, r->n == 1, "got %zu entries, want 1", r->n);
	}
	free(b);
	free(r);
}

static void
deadline_passed(struct t *t)
{
	uint64_t		 budget;
	struct arc_limits	 lim = default_limits(&budget);
	struct rec		*r = xcalloc(1, sizeof *r);
	struct err		 err = ERR_INIT;
	unsigned char		*b;
	size_t			 len;
	int			 ret;

	rec_init(r);
	b = build(t, "cd d && zip -q ../x.zip a.txt b.txt", "x.zip", &len);
	if (b != NULL) {
		lim.deadline_ms = clock_ms() > 1 ? clock_ms() - 1 : 1;
		ret = archive_walk(b, len, &lim, &rec_ops, r, &err);
		t_check(t, ret == 0 && r->events == EV(ARC_EV_TIMEOUT),
		    "got %d events %x, want 0 TIMEOUT", ret, r->events);
		rec_init(r);
		lim.deadline_ms = clock_ms() + 60000;
		ret = archive_walk(b, len, &lim, &rec_ops, r, &err);
		t_check(t, ret == 2 && r->events == 0,
		    "future deadline: got %d events %x, want 2 none", ret,
		    r->events);
	}
	free(b);
	free(r);
}

static void
empty_input(struct t *t)
{
	uint64_t		 budget;
	struct arc_limits	 lim = default_limits(&budget);
	struct rec		 r;
	struct err		 err = ERR_INIT;
	int			 ret;

	rec_init(&r);
	ret = archive_walk((const unsigned char *)"", 0, &lim, &rec_ops, &r,
	    &err);
	t_check(t, ret == 0 && r.events == EV(ARC_EV_UNREADABLE),
	    "got %d events %x, want 0 UNREADABLE", ret, r.events);
}

static void
format_hints(struct t *t)
{
	static const struct {
		const char	*cmd, *file, *want;
	} hints[] = {
		{ "cd d && zip -q ../x.zip a.txt", "x.zip", "zip" },
		{ "cd d && 7z a ../x.7z a.txt", "x.7z", "7z" },
		{ "tar cf x.tar -C d a.txt", "x.tar", "tar" },
		{ "tar czf x.tgz -C d a.txt", "x.tgz", "gzip" },
		{ "tar cjf x.tbz -C d a.txt", "x.tbz", "bzip2" },
		{ "tar cJf x.txz -C d a.txt", "x.txz", "xz" },
		{ "cd d && gcab -c ../x.cab a.txt", "x.cab", "cab" },
		{ "genisoimage -quiet -o x.iso d", "x.iso", "iso" },
		{ "cd d && echo a.txt | cpio -o -H newc > ../x.cpio", "x.cpio",
		    "cpio" },
		{ "cp d/a.txt x", "x", "unknown" },
	};
	size_t	i, len;

	for (i = 0; i < T_NCASES(hints); i++) {
		unsigned char	*b = build(t, hints[i].cmd, hints[i].file,
		    &len);
		const char	*got;

		if (b == NULL)
			continue;
		got = archive_format_hint(b, len);
		t_check(t, strcmp(got, hints[i].want) == 0,
		    "%s: got %s, want %s", hints[i].file, got, hints[i].want);
		free(b);
	}
}

/* Cost of one level on a 1 MiB zip of text (for the report). */
static void
timing_1mib_zip(struct t *t)
{
	uint64_t		 budget;
	struct arc_limits	 lim = default_limits(&budget);
	struct rec		*r = xcalloc(1, sizeof *r);
	struct err		 err = ERR_INIT;
	unsigned char		*b;
	size_t			 len;
	uint64_t		 t0;
	int			 i, ret = 0;

	b = build(t, "head -c 700000 /dev/urandom | base64 > d/big.txt && "
	    "head -c 300000 /dev/urandom > d/rnd && "
	    "cd d && zip -q ../x.zip big.txt rnd a.txt", "x.zip", &len);
	if (b == NULL)
		goto out;
	t0 = clock_ms();
	for (i = 0; i < 20; i++) {
		rec_init(r);
		budget = (uint64_t)1 << 30;
		ret = archive_walk(b, len, &lim, &rec_ops, r, &err);
	}
	t_log(t, "archive_walk on a %zu-byte zip: %.2f ms per walk", len,
	    (double)(clock_ms() - t0) / 20);
	t_check(t, ret == 3 && r->events == 0, "got %d events %x, want 3 none",
	    ret, r->events);
out:
	free(b);
	free(r);
}

/*
 * Damaged archives of every format: cut at many lengths and with bytes
 * overwritten. Nothing may crash (ASan watches) or fail operationally;
 * whatever cannot be read is an event.
 */
static void
mutations(struct t *t)
{
	static const struct {
		const char	*cmd, *file;
	} src[] = {
		{ "cd d && zip -q ../x.zip a.txt b.txt sub/c.txt", "x.zip" },
		{ "cd d && 7z a ../x.7z a.txt b.txt", "x.7z" },
		{ "tar czf x.tgz -C d a.txt b.txt", "x.tgz" },
		{ "tar cjf x.tbz -C d a.txt b.txt", "x.tbz" },
		{ "cd d && gcab -c ../x.cab a.txt b.txt", "x.cab" },
		{ "cd d && printf 'a.txt\\nb.txt\\n' | cpio -o -H newc > "
		    "../x.cpio", "x.cpio" },
		{ "genisoimage -quiet -R -o x.iso d", "x.iso" },
	};
	uint64_t		 budget;
	struct arc_limits	 lim = default_limits(&budget);
	struct rec		*r = xcalloc(1, sizeof *r);
	struct err		 err = ERR_INIT;
	size_t			 i, k, len, walks = 0, bad = 0;

	for (i = 0; i < T_NCASES(src); i++) {
		unsigned char	*b = build(t, src[i].cmd, src[i].file, &len);
		unsigned char	*m;

		if (b == NULL)
			continue;
		m = xmalloc(len);
		for (k = 0; k < 64; k++) {
			size_t cut = len * k / 64, at = (len * k / 64 + k) % len;

			rec_init(r);
			if (archive_walk(b, cut, &lim, &rec_ops, r, &err) < 0)
				bad++;
			memcpy(m, b, len);
			m[at] ^= 0xa5;
			if (at + 1 < len)
				m[at + 1] = 0xff;
			rec_init(r);
			if (archive_walk(m, len, &lim, &rec_ops, r, &err) < 0)
				bad++;
			walks += 2;
		}
		free(m);
		free(b);
	}
	t_check(t, bad == 0, "got %zu failed walks of %zu, want 0", bad,
	    walks);
	free(r);
}


/* archive_find_passphrase: plain, right, wrong; the attempts limit at N
 * (the right word is the Nth: found) and N-1 (not found). */
static void
passphrases(struct t *t)
{
	static const struct {
		const char	*name, *cmd, *file;
		unsigned	 attempts;
		int		 want;
	} cases[] = {
		{ "plain zip", "zip -q a.zip a.txt", "a.zip", 5,
		    ARC_PW_PLAIN },
		{ "zipcrypto, third word", "zip -q -P right a.zip a.txt",
		    "a.zip", 3, 2 },
		{ "zipcrypto, attempts 2", "zip -q -P right a.zip a.txt",
		    "a.zip", 2, ARC_PW_NONE },
		{ "zip aes, third word",
		    "7z a -tzip -mem=AES256 -pright -bd a.zip a.txt", "a.zip",
		    3, 2 },
		{ "zipcrypto, none right", "zip -q -P other a.zip a.txt",
		    "a.zip", 30, ARC_PW_NONE },
	};
	static const char *const words[] = { "wrong", "also-wrong", "right" };
	struct arc_limits	 lim;
	size_t			 i, len;

	memset(&lim, 0, sizeof lim);
	lim.entries = 1000;
	lim.member_size = 64 << 20;
	lim.formats = DEF_FORMATS;
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char		 cmd[256];
		unsigned char	*b;
		unsigned	 tried;
		int		 got;

		snprintf(cmd, sizeof cmd, "printf 'hello passwords\\n' > a.txt "
		    "&& %s", cases[i].cmd);
		if ((b = build(t, cmd, cases[i].file, &len)) == NULL)
			continue;
		got = archive_find_passphrase(b, len, &lim, words, 3,
		    cases[i].attempts, clock_ms() + 10000, &tried);
		t_check(t, got == cases[i].want, "%s: got %d, want %d (%u "
		    "tried)", cases[i].name, got, cases[i].want, tried);
		t_check(t, tried <= cases[i].attempts, "%s: %u tried, limit %u",
		    cases[i].name, tried, cases[i].attempts);
		free(b);
	}
}

/*
 * Password-protected 7z: libarchive lists the names of a 7z whose data is
 * encrypted, but decrypts neither that data nor encrypted headers, even
 * with the right passphrase. Nothing is tried, every encrypted member
 * (or the archive, when its headers are encrypted) says why; an
 * encrypted zip is not said to be unsupported.
 */
static void
sevenzip_passwords(struct t *t)
{
	static const struct {
		const char	*name, *cmd, *file;
		int		 want_pw;
		size_t		 want_entries;	/* each encrypted */
		bool		 want_unsup;	/* on entries or the event */
	} cases[] = {
		{ "7z, data encrypted", "7z a -psecret -bd a.7z a.txt b.txt",
		    "a.7z", ARC_PW_UNSUPPORTED, 2, true },
		{ "7z, headers encrypted",
		    "7z a -psecret -mhe=on -bd a.7z a.txt b.txt", "a.7z",
		    ARC_PW_UNSUPPORTED, 0, true },
		{ "zipcrypto, for contrast", "zip -q -P secret a.zip a.txt b.txt",
		    "a.zip", 0, 2, false },
	};
	static const char *const words[] = { "secret" };
	size_t	i, j;
	int	k;

	for (i = 0; i < T_NCASES(cases); i++) {
		struct arc_limits	 lim;
		struct rec		 r;
		struct err		 err = ERR_INIT;
		unsigned char		*b;
		size_t			 len, nunsup = 0, nenc = 0;
		unsigned		 tried;
		int			 got, ret;
		char			 cmd[256];

		snprintf(cmd, sizeof cmd, "cd d && %s && mv %s ..",
		    cases[i].cmd, cases[i].file);
		if ((b = build(t, cmd, cases[i].file, &len)) == NULL)
			continue;
		memset(&lim, 0, sizeof lim);
		lim.entries = 1000;
		lim.member_size = 64 << 20;
		lim.formats = DEF_FORMATS;
		got = archive_find_passphrase(b, len, &lim, words, 1, 5,
		    clock_ms() + 10000, &tried);
		t_check(t, got == cases[i].want_pw, "%s: passphrase got %d, "
		    "want %d", cases[i].name, got, cases[i].want_pw);
		t_check(t, cases[i].want_unsup ? tried == 0 : tried == 1,
		    "%s: %u tried, want %d", cases[i].name, tried,
		    cases[i].want_unsup ? 0 : 1);
		/* without and with the right passphrase: the same for 7z */
		for (k = 0; k < 2 && cases[i].want_unsup; k++) {
			rec_init(&r);
			lim.passphrase = k == 0 ? NULL : "secret";
			ret = archive_walk(b, len, &lim, &rec_ops, &r, &err);
			nunsup = nenc = 0;
			for (j = 0; j < r.n; j++) {
				nenc += r.s[j].enc;
				nunsup += r.s[j].unsup;
			}
			t_check(t, ret == (int)cases[i].want_entries &&
			    nenc == cases[i].want_entries &&
			    nunsup == cases[i].want_entries, "%s, passphrase "
			    "%s: got %d members, %zu encrypted, %zu unsupported;"
			    " want %zu of each", cases[i].name, lim.passphrase
			    != NULL ? "given" : "none", ret, nenc, nunsup,
			    cases[i].want_entries);
			if (cases[i].want_entries == 0)
				t_check(t, r.events == EV(ARC_EV_ENCRYPTED) &&
				    strstr(r.detail, ARC_7Z_UNSUPPORTED) !=
				    NULL, "%s: events %s, detail \"%s\", want "
				    "ENCRYPTED with \"%s\"", cases[i].name,
				    ev_str(r.events, cmd, sizeof cmd), r.detail,
				    ARC_7Z_UNSUPPORTED);
		}
		if (!cases[i].want_unsup) {
			rec_init(&r);
			lim.passphrase = NULL;
			ret = archive_walk(b, len, &lim, &rec_ops, &r, &err);
			for (j = 0; j < r.n; j++) {
				nenc += r.s[j].enc;
				nunsup += r.s[j].unsup;
			}
			t_check(t, ret == 2 && nenc == 2 && nunsup == 0,
			    "%s: got %d members, %zu encrypted, %zu said "
			    "unsupported; want 2, 2, 0", cases[i].name, ret,
			    nenc, nunsup);
		}
		free(b);
	}
}

static const struct t_case other_cases[] = {
	T_CASE(budget_accounting),
	T_CASE(zip_in_zip),
	T_CASE(callback_stops_walk),
	T_CASE(deadline_passed),
	T_CASE(empty_input),
	T_CASE(format_hints),
	T_CASE(mutations),
	T_CASE(timing_1mib_zip),
	T_CASE(passphrases),
	T_CASE(sevenzip_passwords),
};

int
main(int argc, char **argv)
{
	struct t_case	cases[T_NCASES(cases_tab) + T_NCASES(other_cases)];
	size_t		i, n = 0;

	for (i = 0; i < T_NCASES(cases_tab); i++) {
		cases[n].name = cases_tab[i].name;
		cases[n++].fn = row_fns[i];
	}
	for (i = 0; i < T_NCASES(other_cases); i++)
		cases[n++] = other_cases[i];
	return t_main(argc, argv, cases, n);
}
