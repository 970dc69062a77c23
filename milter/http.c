/* milter/http.c - one page over HTTP with libmicrohttpd (see http.h). */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <syslog.h>

#include <microhttpd.h>

#include "http.h"
#include "log.h"
#include "policy.h"

#define HTTP_MEMORY	(32 * 1024)	/* per connection: headers, buffers */

struct http {
	struct MHD_Daemon	*d;
	http_page_fn		 page;
	char			*path;
	char			*type;
	char			 addr[INET6_ADDRSTRLEN + 16];
	char			 why[256];	/* the library's last word */
	atomic_bool		 started;	/* set once listening */
};

/* The library's messages: while starting, kept for the error; then
 * logged (a refused connection, a timeout: rare, bounded by the limits). */
static void
http_log(void *cls, const char *fmt, va_list ap)
{
	struct http	*h = cls;
	char		 line[256];
	size_t		 n;

	vsnprintf(line, sizeof line, fmt, ap);
	n = strlen(line);
	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		line[--n] = '\0';
	if (!atomic_load(&h->started))
		snprintf(h->why, sizeof h->why, "%s", line);
	else
		log_event(LOG_WARNING, NULL, "warning", line,
		    " what=metrics_listen listen=%s", h->addr);
}

static enum MHD_Result
http_reply(struct MHD_Connection *c, unsigned status, const char *type,
    const char *text, size_t len)
{
	struct MHD_Response	*r;
	enum MHD_Result		 ret;

	r = MHD_create_response_from_buffer(len, (void *)(uintptr_t)text,
	    MHD_RESPMEM_MUST_COPY);
	if (r == NULL)
		return MHD_NO;		/* the library closes the connection */
	if (MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
	    type) == MHD_NO ||
	    (status == MHD_HTTP_METHOD_NOT_ALLOWED &&
	    MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW,
	    "GET, HEAD") == MHD_NO)) {
		MHD_destroy_response(r);
		return MHD_NO;
	}
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result
http_request(void *cls, struct MHD_Connection *c, const char *url,
    const char *method, const char *version, const char *upload,
    size_t *upload_len, void **state)
{
	static const char	 notfound[] = "Not found. Try /metrics.\n";
	static const char	 notallowed[] = "Only GET and HEAD.\n";
	struct http		*h = cls;
	struct buf		 b = BUF_INIT;
	enum MHD_Result		 ret;

	(void)version;
	(void)upload;
	(void)state;
	if (*upload_len != 0)		/* no request has a body here */
		return MHD_NO;
	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 &&
	    strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
		return http_reply(c, MHD_HTTP_METHOD_NOT_ALLOWED,
		    "text/plain; charset=utf-8", notallowed,
		    sizeof notallowed - 1);
	if (strcmp(url, h->path) != 0)
		return http_reply(c, MHD_HTTP_NOT_FOUND,
		    "text/plain; charset=utf-8", notfound,
		    sizeof notfound - 1);
	h->page(&b);
	ret = http_reply(c, MHD_HTTP_OK, h->type, b.data != NULL ?
	    (const char *)b.data : "", b.len);
	buf_free(&b);
	return ret;
}

int
http_start(const char *listen, const char *path, const char *type,
    http_page_fn page, struct http **http_r, struct err *err)
{
	struct http		*h;
	struct sockaddr_in	 sin;
	struct sockaddr_in6	 sin6;
	struct sockaddr		*sa;
	const union MHD_DaemonInfo *di;
	char			 addr[INET6_ADDRSTRLEN + 1];
	unsigned		 port, flags;
	bool			 v6;

	*http_r = NULL;
	if (policy_listen_parse(listen, addr, sizeof addr, &port) == -1)
		return err_set(err, "metrics_listen %s: not ADDRESS:PORT",
		    listen);
	v6 = strchr(addr, ':') != NULL;
	memset(&sin, 0, sizeof sin);
	memset(&sin6, 0, sizeof sin6);
	if (v6) {
		sin6.sin6_family = AF_INET6;
		sin6.sin6_port = htons((uint16_t)port);
		if (inet_pton(AF_INET6, addr, &sin6.sin6_addr) != 1)
			return err_set(err, "metrics_listen %s: bad address",
			    listen);
		sa = (struct sockaddr *)&sin6;
	} else {
		sin.sin_family = AF_INET;
		sin.sin_port = htons((uint16_t)port);
		if (inet_pton(AF_INET, addr, &sin.sin_addr) != 1)
			return err_set(err, "metrics_listen %s: bad address",
			    listen);
		sa = (struct sockaddr *)&sin;
	}

	h = xcalloc(1, sizeof *h);
	h->page = page;
	h->path = xstrdup(path);
	h->type = xstrdup(type);
	snprintf(h->addr, sizeof h->addr, "%s", listen);
	flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO |
	    MHD_USE_ERROR_LOG | (v6 ? MHD_USE_IPv6 : 0);
	h->d = MHD_start_daemon(flags, (uint16_t)port, NULL, NULL,
	    http_request, h,
	    MHD_OPTION_EXTERNAL_LOGGER, http_log, h,
	    MHD_OPTION_SOCK_ADDR, sa,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned)HTTP_CONNECTIONS,
	    MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)HTTP_PER_IP,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)HTTP_TIMEOUT_S,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HTTP_MEMORY,
	    MHD_OPTION_END);
	if (h->d == NULL) {
		err_set(err, "metrics_listen %s: cannot listen%s%s", listen,
		    h->why[0] != '\0' ? ": " : "", h->why);
		http_stop(&h);
		return -1;
	}
	atomic_store(&h->started, true);
	/* port 0: say which one the system chose */
	if (port == 0 && (di = MHD_get_daemon_info(h->d,
	    MHD_DAEMON_INFO_BIND_PORT)) != NULL)
		snprintf(h->addr, sizeof h->addr, v6 ? "[%s]:%u" : "%s:%u",
		    addr, (unsigned)di->port);
	*http_r = h;
	return 0;
}

const char *
http_address(const struct http *h)
{
	return h->addr;
}

void
http_stop(struct http **hp)
{
	struct http	*h = *hp;

	if (h == NULL)
		return;
	if (h->d != NULL)
		MHD_stop_daemon(h->d);
	free(h->path);
	free(h->type);
	free(h);
	*hp = NULL;
}
