/*
 * ctl/report.h - "portcullisctl report": counts over quarantine records.
 *
 * Pure computation over records read by quarantine_list(): messages,
 * viruses, blocked attachments, encrypted archives and bytes, by day (UTC)
 * and by area, and the top viruses, blocked types and senders, written as
 * text, JSON or one self-contained HTML page (inline CSS and SVG, no
 * external assets). Only quarantined messages are counted: verdicts that
 * were not quarantined are only in the mail log.
 *
 * Ownership: borrows the records for the call; appends to the caller's
 * buffer. Thread-safety: reentrant.
 */
#ifndef PORTCULLIS_REPORT_H
#define PORTCULLIS_REPORT_H

#include <stddef.h>
#include <stdint.h>

#include "quarantine.h"
#include "util.h"

enum report_format {
	REPORT_TEXT = 0,
	REPORT_JSON,
	REPORT_HTML
};

#define REPORT_TOP	10	/* entries in each top list */

struct report_opts {
	unsigned		 days;		/* window; 0 = every record */
	int64_t			 now;		/* 0 = time() */
	enum report_format	 format;
	const char		*host;		/* for the title, may be NULL */
};

/* Appends the report on list[0..n) (any order) to out. */
void	report_write(const struct qmeta *list, size_t n,
	    const struct report_opts *o, struct buf *out);

#endif
