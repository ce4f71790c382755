/*
 * httpd.h -- a small read-only HTTP server (libmicrohttpd) for status
 * endpoints: GET and HEAD only, one handler for every path, answers built
 * by the caller.  The handler runs on the server's own thread: it must only
 * copy what the main loop prepared (under the caller's lock), never touch
 * a database connection.
 */
#ifndef PL_HTTPD_H
#define PL_HTTPD_H

#include <stddef.h>

struct http_reply {
	int code;	  /* HTTP status */
	const char *type; /* Content-Type */
	char *body;	  /* malloc'd; the server frees it */
	size_t len;
};
/* Fill out for path (the URL path, without the query string). */
typedef void http_handler_fn(void *ctx, const char *path, struct http_reply *out);

struct httpd;
/*
 * Listen on addr (an IPv4 or IPv6 literal; NULL: 127.0.0.1) and port
 * (0: any free port; httpd_port() tells which).  NULL with err_msg() set
 * when the socket cannot be bound.
 */
struct httpd *httpd_start(const char *addr, unsigned port, http_handler_fn *fn, void *ctx);
unsigned httpd_port(const struct httpd *h);
void httpd_stop(struct httpd *h);

#endif
