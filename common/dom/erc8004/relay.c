/*
 * relay.c -- job-relay (see jobs.h).
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "core/die.h"
#include "core/io.h"
#include "dom/erc8004/jobs.h"
#include "pg/pgconn.h"

/* SET NX marks the job as relayed; only the first call pushes it. */
static const char push_lua[] = "if redis.call('SET', KEYS[2], '1', 'NX', 'EX', ARGV[2]) then "
			       "return redis.call('LPUSH', KEYS[1], ARGV[1]) end return 0";

static const struct pgc_stmt stmts[] = {
	{"jr_todo", "SELECT id, body FROM erc8004.job_queue WHERE relayed_at IS NULL AND status = 'pending'"
		    " AND ($1::text[] IS NULL OR action_type = ANY ($1::text[]))"
		    " ORDER BY item_seq, log_index, rank LIMIT 200"},
	{"jr_done", "UPDATE erc8004.job_queue SET relayed_at = now(), updated_at = now() WHERE id = $1"},
	{"jr_recall", "SELECT id, body FROM erc8004.job_queue WHERE status IN ('cancelled', 'invalidated')"
		      " AND relayed_at IS NOT NULL AND recalled_at IS NULL ORDER BY item_seq, log_index, rank LIMIT 200"},
	{"jr_recalled", "UPDATE erc8004.job_queue SET recalled_at = now(), updated_at = now() WHERE id = $1"},
	{NULL, NULL},
};

static redisContext *redis_open(const struct jr_opts *o)
{
	struct timeval tv = {5, 0};
	redisContext *r = o->redis_socket ? redisConnectUnixWithTimeout(o->redis_socket, tv)
					  : redisConnectWithTimeout(o->redis_host, o->redis_port, tv);
	if (!r)
		die_code(EXIT_UNAVAILABLE, "unable to connect to Redis: out of memory");
	if (r->err)
		die_code(EXIT_UNAVAILABLE, "unable to connect to Redis at %s%s%d: %s",
			o->redis_socket ? o->redis_socket : o->redis_host, o->redis_socket ? "" : ":",
			o->redis_socket ? 0 : o->redis_port, r->errstr);
	redisSetTimeout(r, tv);
	return r;
}

/* A Redis command; dies 75 when Redis is gone or answers an error. */
static long long redis_int(redisContext *r, int argc, const char **argv, const size_t *len, const char *what)
{
	redisReply *rep = redisCommandArgv(r, argc, argv, len);
	if (!rep)
		die_code(EXIT_TEMPFAIL, "unable to %s: Redis: %s", what, r->errstr);
	if (rep->type != REDIS_REPLY_INTEGER) {
		struct sb m = SB_INIT;
		sb_add(&m, rep->type == REDIS_REPLY_ERROR ? rep->str : "unexpected reply",
			rep->type == REDIS_REPLY_ERROR ? rep->len : 16);
		freeReplyObject(rep);
		die_code(EXIT_TEMPFAIL, "unable to %s: Redis: %s", what, m.buf);
	}
	long long v = rep->integer;
	freeReplyObject(rep);
	return v;
}

static PGresult *q(PGconn *c, const char *stmt, int n, const char *const *vals, ExecStatusType want, const char *what)
{
	PGresult *r = PQexecPrepared(c, stmt, n, vals, NULL, NULL, 0);
	if (PQresultStatus(r) != want)
		pgc_die(c, r, EXIT_TEMPFAIL, what);
	return r;
}

/* Relay one batch; the number of jobs looked at. */
static int relay_batch(PGconn *c, redisContext *rc, const struct jr_opts *o, unsigned long *pushed)
{
	const char *vals[1] = {o->types};
	PGresult *r = q(c, "jr_todo", 1, vals, PGRES_TUPLES_OK, "read the job queue");
	int n = PQntuples(r);
	char ttl[24];
	snprintf(ttl, sizeof ttl, "%ld", o->seen_ttl);
	struct sb key = SB_INIT;
	for (int i = 0; i < n; i++) {
		const char *id = PQgetvalue(r, i, 0);
		sb_reset(&key);
		sb_adds(&key, o->list);
		sb_adds(&key, ":seen:");
		sb_adds(&key, id);
		const char *argv[7] = {"EVAL", push_lua, "2", o->list, key.buf, PQgetvalue(r, i, 1), ttl};
		size_t len[7] = {4, sizeof push_lua - 1, 1, strlen(o->list), key.len, (size_t)PQgetlength(r, i, 1),
			strlen(ttl)};
		if (redis_int(rc, 7, argv, len, "push a job") > 0)
			(*pushed)++;
		/* Marked after the push: a crash in between pushes again, and the
		 * SET NX key makes that a no-op. */
		const char *v[1] = {id};
		PQclear(q(c, "jr_done", 1, v, PGRES_COMMAND_OK, "mark a job relayed"));
	}
	sb_free(&key);
	PQclear(r);
	return n;
}

/* Take jobs of reverted blocks out of the list again (if no worker took them yet). */
static int recall_batch(PGconn *c, redisContext *rc, const struct jr_opts *o, unsigned long *recalled)
{
	PGresult *r = q(c, "jr_recall", 0, NULL, PGRES_TUPLES_OK, "read the cancelled jobs");
	int n = PQntuples(r);
	for (int i = 0; i < n; i++) {
		const char *argv[4] = {"LREM", o->list, "1", PQgetvalue(r, i, 1)};
		size_t len[4] = {4, strlen(o->list), 1, (size_t)PQgetlength(r, i, 1)};
		*recalled += (unsigned long)redis_int(rc, 4, argv, len, "recall a job");
		const char *v[1] = {PQgetvalue(r, i, 0)};
		PQclear(q(c, "jr_recalled", 1, v, PGRES_COMMAND_OK, "mark a job recalled"));
	}
	PQclear(r);
	return n;
}

/* Wait for a notification or the poll timeout; dies 75 when the connection is gone. */
static void wait_wake(PGconn *c, long ms)
{
	struct pollfd p = {PQsocket(c), POLLIN, 0};
	if (poll(&p, 1, (int)ms) < 0 && errno != EINTR)
		die_errno(EXIT_SOFTWARE, "unable to poll the database socket");
	if (!PQconsumeInput(c))
		die_code(EXIT_TEMPFAIL, "unable to wait for jobs: %s", PQerrorMessage(c));
	PGnotify *nf;
	while ((nf = PQnotifies(c)))
		PQfreemem(nf);
}

int jr_run(const struct jr_opts *o, volatile sig_atomic_t *stop)
{
	PGconn *c = pgc_connect_or_die(o->conninfo, "job-relay", 30);
	pgc_exec_or_die(c, "LISTEN erc8004_jobs", PGRES_COMMAND_OK, "listen on erc8004_jobs");
	pgc_prepare_all(c, stmts, "the job queue's statements");
	redisContext *rc = redis_open(o);
	unsigned long pushed = 0, recalled = 0;
	while (!*stop) {
		int n = relay_batch(c, rc, o, &pushed);
		n += recall_batch(c, rc, o, &recalled);
		if (n)
			continue;
		if (o->once)
			break;
		wait_wake(c, o->poll_ms);
	}
	note("relayed %lu jobs, recalled %lu", pushed, recalled);
	redisFree(rc);
	PQfinish(c);
	return 0;
}
