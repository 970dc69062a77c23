/*
 * milter/http.h - a small HTTP server for one page: GET /metrics for a
 * Prometheus scraper ([daemon] metrics_listen). libmicrohttpd sits behind
 * this file alone; its own thread answers, so no milter thread waits.
 *
 * Bounded: HTTP_CONNECTIONS connections at once (HTTP_PER_IP from one
 * address), HTTP_TIMEOUT_S seconds of silence close a connection, and a
 * request may not carry a body. Other paths get 404, other methods 405.
 *
 * Ownership: http_start returns a server that the caller stops and frees
 * with http_stop. The page function is called from the server's thread,
 * once per request, and must be thread-safe.
 * Thread-safety: start and stop from one thread.
 */
#ifndef PORTCULLIS_HTTP_H
#define PORTCULLIS_HTTP_H

#include "err.h"
#include "util.h"

#define HTTP_CONNECTIONS	16
#define HTTP_PER_IP		8
#define HTTP_TIMEOUT_S		10

/* Appends the page to b (the server frees it after sending). */
typedef void	(*http_page_fn)(struct buf *b);

struct http;

/*
 * Listens on listen (a [daemon] metrics_listen value, "ADDRESS:PORT";
 * port 0 takes a free one) and answers path with page's text, of
 * Content-Type type. 0 = serving, *http_r is the caller's (http_stop);
 * -1 = not started (bad address, port in use), see *err.
 */
int		 http_start(const char *listen, const char *path,
		    const char *type, http_page_fn page, struct http **http_r,
		    struct err *err) __attribute__((warn_unused_result));

/* The address and port served, "127.0.0.1:9113" (for the log). Borrowed
 * until http_stop. */
const char	*http_address(const struct http *h);

/* Stops serving (requests in progress are cut) and frees; NULL is fine;
 * sets *hp to NULL. */
void		 http_stop(struct http **hp);

#endif
