/*
 * ctl/report.h - "portcullisctl report": the counts of store_report()
 * written as text, JSON or one self-contained HTML page (inline CSS and
 * SVG, no external assets).
 *
 * Two sources, told apart on the page: the quarantine index (quarantined
 * messages; messages and files counted apart, so that one x.exe hit by
 * two rules is one file) and the traffic statistics (every judged
 * message, by day, direction, action and rule).
 *
 * Ownership: borrows the report for the call; appends to the caller's
 * buffer. Thread-safety: reentrant.
 */
#ifndef PORTCULLIS_REPORT_H
#define PORTCULLIS_REPORT_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"
#include "util.h"

enum report_format {
	REPORT_TEXT = 0,
	REPORT_JSON,
	REPORT_HTML
};

#define REPORT_VERSION	2	/* "version" of the JSON report */

struct report_opts {
	unsigned		 days;		/* window; 0 = every record */
	enum report_format	 format;
	const char		*host;		/* for the title, may be NULL */
};

void	report_write(const struct store_report *r,
	    const struct report_opts *o, struct buf *out);

#endif
