/*
 * rconn.c -- see rconn.h.
 */
#include <hiredis/hiredis.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/die.h"
#include "redis/rconn.h"

static void nap(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

static struct redisContext *connect_once(struct rconn *r)
{
	struct timeval tv = {5, 0};
	if (r->socket)
		return redisConnectUnixWithTimeout(r->socket, tv);
	const char *u = r->url ? r->url : "redis://127.0.0.1:6379";
	char host[256] = "127.0.0.1";
	int port = 6379;
	if (!strncmp(u, "redis://", 8))
		u += 8;
	const char *at = strchr(u, '@');
	if (at)
		u = at + 1;
	size_t hl = strcspn(u, ":/");
	if (hl && hl < sizeof host) {
		memcpy(host, u, hl);
		host[hl] = 0;
	}
	if (u[hl] == ':')
		port = atoi(u + hl + 1);
	return redisConnectWithTimeout(host, port, tv);
}

int rc_connect(struct rconn *r)
{
	long delay = 100;
	int warned = 0;
	rc_close(r);
	while (!*r->stop) {
		struct redisContext *c = connect_once(r);
		if (c && !c->err) {
			struct timeval tv = {30, 0};
			redisSetTimeout(c, tv);
			r->c = c;
			if (warned)
				note("connected to Redis again");
			return 0;
		}
		if (!warned)
			warn("unable to connect to Redis at %s: %s (retrying)", r->socket ? r->socket : r->url ? r->url
													       : "127.0.0.1:6379",
				c ? c->errstr : "out of memory");
		warned = 1;
		if (c)
			redisFree(c);
		nap(delay);
		delay = delay * 2 > 5000 ? 5000 : delay * 2;
	}
	return -1;
}

void rc_close(struct rconn *r)
{
	if (r->c)
		redisFree(r->c);
	r->c = NULL;
}

struct redisReply *rc_cmd(struct rconn *r, int argc, const char **argv, const size_t *lens, const char *ok_err)
{
	if (!r->c)
		return NULL;
	redisReply *rep = redisCommandArgv(r->c, argc, argv, lens);
	if (!rep) {
		warn("lost the connection to Redis: %s", r->c->errstr);
		rc_close(r);
		return NULL;
	}
	if (rep->type == REDIS_REPLY_ERROR && !(ok_err && strstr(rep->str, ok_err))) {
		if (!strncmp(rep->str, "LOADING", 7) || !strncmp(rep->str, "BUSY", 4) || !strncmp(rep->str, "MASTERDOWN", 10)) {
			warn("Redis is not ready: %s", rep->str);
			freeReplyObject(rep);
			rc_close(r);
			return NULL;
		}
		die_code(70, "unable to run %s: Redis says: %s", argv[0], rep->str);
	}
	return rep;
}
