/*
 * rconn.h -- a Redis connection (hiredis) for redis-read and redis-ack:
 * connect by URL or Unix socket with capped backoff, commands whose
 * failures are classified (lost connection: retry; a Redis error: stop).
 */
#ifndef PL_RCONN_H
#define PL_RCONN_H

#include <signal.h>

struct redisContext;
struct redisReply;

struct rconn {
	const char *url, *socket;
	struct redisContext *c;
	volatile sig_atomic_t *stop;
};

/* Connect (again), retrying with capped backoff (0.1 s .. 5 s) until *stop. 0, or -1 when stopped. */
int rc_connect(struct rconn *r);
void rc_close(struct rconn *r);
/* A command (argv form).  NULL when the connection was lost (closed; reconnect); dies 70 on a Redis error reply unless ok_err. */
struct redisReply *rc_cmd(struct rconn *r, int argc, const char **argv, const size_t *lens, const char *ok_err);

#endif
