/*
 * bench/genstore.c - fills a quarantine index with generated records and
 * traffic rows, for the scale figures of bench/README.md ("The quarantine
 * index at a million records"). Not installed.
 *
 * usage: genstore DB RECORDS DAYS [TRAFFIC_ROWS]
 * Records are spread evenly over the DAYS days before now (deterministic
 * names, areas, senders, recipients and findings); the index only: no
 * message files are written.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store.h"
#include "util.h"

static unsigned long long	rng = 88172645463325252ULL;

static unsigned
rnd(unsigned n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (unsigned)(rng % n);
}

static int
commit_batch(struct store *st, size_t i, struct err *err)
{
	if (i % 20000 != 0)
		return 0;
	if (store_commit(st, err) == -1 || store_begin(st, err) == -1)
		return -1;
	return 0;
}

int
main(int argc, char **argv)
{
	static const char *areas[] = { "virus", "virus", "attachment",
	    "attachment", "encrypted", "limits", "content" };
	static const char *rules[] = { "virus", "virus", "blocked_extension",
	    "blocked_type", "encrypted", "size_limit", "content" };
	static const char *dirs[] = { "inbound", "inbound", "inbound",
	    "outbound" };
	static const char *disps[] = { "accept", "accept", "accept", "accept",
	    "accept", "accept", "tag", "reject", "reject", "tempfail" };
	struct store	*st = NULL;
	struct err	 err = ERR_INIT;
	struct qmeta	 m;
	struct qfinding	 f[2];
	struct store_hit hits[2];
	struct store_traffic tr;
	char		 id[64], sender[64], r0[64], r1[64], det[2][64], ts[32];
	char		*rcpts[2] = { r0, r1 };
	size_t		 n, ntraffic, i, k;
	unsigned	 days, a;
	int64_t		 now = (int64_t)time(NULL), span, t;
	struct tm	 tm;
	time_t		 tt;

	if (argc < 4)
		xpanic("usage: genstore DB RECORDS DAYS [TRAFFIC_ROWS]");
	n = strtoull(argv[2], NULL, 10);
	days = (unsigned)strtoul(argv[3], NULL, 10);
	ntraffic = argc > 4 ? strtoull(argv[4], NULL, 10) : n;
	span = (int64_t)days * 86400;
	if (store_open(argv[1], STORE_CREATE, &st, &err) == -1 ||
	    store_begin(st, &err) == -1)
		xpanic("%s", err.msg);
	for (i = 0; i < n; i++) {
		t = now - span + (int64_t)((double)span * (double)i /
		    (double)n);
		tt = (time_t)t;
		gmtime_r(&tt, &tm);
		strftime(ts, sizeof ts, "%Y%m%dT%H%M%SZ", &tm);
		snprintf(id, sizeof id, "%s-%016zx", ts, i);
		snprintf(sender, sizeof sender, "user%u@sender%u.example",
		    rnd(50), rnd(2000));
		snprintf(r0, sizeof r0, "staff%u@example.org", rnd(5000));
		snprintf(r1, sizeof r1, "staff%u@example.org", rnd(5000));
		a = rnd(7);
		memset(&m, 0, sizeof m);
		m.id = id;
		m.area = (char *)areas[a];
		m.time = t;
		m.queue_id = "4QGEN0";
		m.sender = rnd(20) == 0 ? "" : sender;
		m.rcpts = rcpts;
		m.nrcpts = 1 + rnd(2);
		m.client = "192.0.2.1";
		m.direction = (char *)dirs[rnd(4)];
		for (k = 0; k < 2; k++) {
			const char *rule = rules[a];

			if (k == 1 && a == 2)
				rule = "blocked_type";
			snprintf(det[k], sizeof det[k], "%s.%u",
			    strcmp(rule, "virus") == 0 ? "Win.Trojan.Gen" :
			    rule, rnd(200));
			f[k].rule = (char *)rule;
			f[k].part = k == 0 ? "2" : "3";
			f[k].filename = "invoice.zip";
			f[k].detail = det[k];
			f[k].action = "reject";
		}
		m.findings = f;
		m.nfindings = 1 + rnd(2);
		m.action = "reject";
		m.disposition = "discard";
		m.summary = "generated";
		m.size = 2000 + rnd(500000);
		m.policy_version = 1;
		m.policy_source = "/etc/portcullis/portcullis.ini";
		if (store_put(st, &m, &err) == -1 ||
		    commit_batch(st, i + 1, &err) == -1)
			xpanic("%s", err.msg);
	}
	for (i = 0; i < ntraffic; i++) {
		memset(&tr, 0, sizeof tr);
		tr.time = now - span + (int64_t)((double)span * (double)i /
		    (double)ntraffic);
		tr.direction = dirs[rnd(4)];
		tr.disposition = disps[rnd(10)];
		tr.size = 2000 + rnd(500000);
		tr.scan_ms = 5 + rnd(200);
		tr.nhits = strcmp(tr.disposition, "accept") == 0 ? 0 : 1;
		hits[0].rule = rules[rnd(7)];
		hits[0].detail = NULL;
		tr.hits = hits;
		if (store_traffic_add(st, &tr, &err) == -1 ||
		    commit_batch(st, i + 1, &err) == -1)
			xpanic("%s", err.msg);
	}
	if (store_commit(st, &err) == -1)
		xpanic("%s", err.msg);
	store_close(&st);
	printf("%zu records, %zu traffic rows over %u days\n", n, ntraffic,
	    days);
	return 0;
}
