/*
 * httpd.c -- see httpd.h.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <microhttpd.h>

#include "core/die.h"
#include "http/httpd.h"

#if MHD_VERSION < 0x00097002
typedef int MHD_Result_;
#else
typedef enum MHD_Result MHD_Result_;
#endif

struct httpd {
	struct MHD_Daemon *d;
	http_handler_fn *fn;
	void *ctx;
	unsigned port;
};

static MHD_Result_ reply(struct MHD_Connection *c, int code, const char *type, char *body, size_t len)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
	if (!r) {
		free(body);
		return MHD_NO;
	}
	MHD_add_response_header(r, "Content-Type", type);
	MHD_add_response_header(r, "Cache-Control", "no-store");
	MHD_Result_ ret = MHD_queue_response(c, (unsigned)code, r);
	MHD_destroy_response(r);
	return ret;
}

static MHD_Result_ answer(void *cls, struct MHD_Connection *c, const char *url, const char *method,
	const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
	struct httpd *h = cls;
	(void)version;
	(void)upload;
	(void)upload_size;
	(void)con_cls;
	if (strcmp(method, "GET") && strcmp(method, "HEAD"))
		return reply(c, 405, "text/plain; charset=utf-8", xstrdup("only GET and HEAD\n"), 18);
	struct http_reply out = {404, "text/plain; charset=utf-8", NULL, 0};
	h->fn(h->ctx, url, &out);
	if (!out.body) {
		out.body = xstrdup("");
		out.len = 0;
	}
	return reply(c, out.code, out.type, out.body, out.len);
}

struct httpd *httpd_start(const char *addr, unsigned port, http_handler_fn *fn, void *ctx)
{
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof ss);
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD;
	if (!addr)
		addr = "127.0.0.1";
	if (inet_pton(AF_INET, addr, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons((unsigned short)port);
	} else if (inet_pton(AF_INET6, addr, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((unsigned short)port);
		flags |= MHD_USE_IPv6;
	} else {
		error("unable to use listen address '%s': want an IPv4 or IPv6 address", addr);
		return NULL;
	}
	struct httpd *h = xcalloc(1, sizeof *h);
	h->fn = fn;
	h->ctx = ctx;
	h->d = MHD_start_daemon(flags, (unsigned short)port, NULL, NULL, answer, h, MHD_OPTION_SOCK_ADDR,
		(struct sockaddr *)&ss, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)10, MHD_OPTION_CONNECTION_LIMIT,
		(unsigned)64, MHD_OPTION_END);
	if (!h->d) {
		free(h);
		error("unable to listen on %s port %u (in use? another pl-status, or --http-port)", addr, port);
		return NULL;
	}
	const union MHD_DaemonInfo *i = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT);
	h->port = i ? i->port : port;
	return h;
}

unsigned httpd_port(const struct httpd *h)
{
	return h->port;
}

void httpd_stop(struct httpd *h)
{
	if (!h)
		return;
	MHD_stop_daemon(h->d);
	free(h);
}
