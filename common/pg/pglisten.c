/*
 * pglisten.c -- see pglisten.h.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/die.h"
#include "core/json.h"
#include "pg/pgconn.h"
#include "pg/pglisten.h"

#define STR_(x) #x
#define STR(x) STR_(x)

/* Column order is what pgl_format() expects. */
static const char drain_sql[] =
	"SELECT sequence_index, id, type, to_json(\"timestamp\") #>> '{}', is_processed,"
	" block_hash, start_block_hash, end_block_hash, vault_address"
	" FROM driver_events"
	" WHERE NOT is_processed AND (sequence_index, id) > ($1::bigint, $2::bigint)"
	" ORDER BY sequence_index, id"
	" LIMIT " STR(PGL_BATCH);

static const char heartbeat_sql[] =
	"SELECT 1 FROM pg_listening_channels() WHERE pg_listening_channels = 'driver_events'";

static long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * err_msg() := the connection's or the result's error on one line (libpq's
 * messages have embedded newlines and tabs).
 */
static int set_error(PGconn *c, const PGresult *r)
{
	const char *m = r ? PQresultErrorMessage(r) : NULL;
	char buf[1024];
	size_t n = 0;
	if (!m || !*m)
		m = PQerrorMessage(c);
	for (; *m && n < sizeof buf - 1; m++) {
		if (*m == '\n' || *m == '\t' || *m == '\r') {
			if (n && buf[n - 1] != ' ')
				buf[n++] = ' ';
		} else {
			buf[n++] = *m;
		}
	}
	while (n && buf[n - 1] == ' ')
		n--;
	buf[n] = '\0';
	return error("%s", buf);
}

/* Server messages arriving outside a query (e.g. "terminating connection"). */
static void on_notice(void *arg, const char *msg)
{
	size_t n = strlen(msg);
	(void)arg;
	while (n && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
		n--;
	note("server: %.*s", (int)n, msg);
}

static int schema_missing(const PGresult *r)
{
	const char *st = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
	/* undefined_table, undefined_column, undefined_function */
	return st && (!strcmp(st, "42P01") || !strcmp(st, "42703") || !strcmp(st, "42883"));
}

/*
 * Session set-up on a fresh connection.  0 on success; -1 when the
 * connection was lost meanwhile (err_msg() set).  Anything else dies.
 */
static int session_setup(struct pgl *l)
{
	static const char *const init[] = {
		"SET TimeZone = 'UTC'",
		"SET statement_timeout = '300s'",
		"SET idle_in_transaction_session_timeout = '60s'",
		/* Autocommit: LISTEN is committed before the first drain query. */
		"LISTEN driver_events",
		NULL,
	};
	for (int i = 0; init[i]; i++) {
		PGresult *r = PQexecParams(l->conn, init[i], 0, NULL, NULL, NULL, NULL, 0);
		if (PQresultStatus(r) != PGRES_COMMAND_OK) {
			if (pgc_conn_lost(l->conn, r)) {
				set_error(l->conn, r);
				PQclear(r);
				return -1;
			}
			pgc_die(l->conn, r, EXIT_TEMPFAIL, "set up the listening session");
		}
		PQclear(r);
	}
	static const struct {
		const char *name, *sql;
	} stmts[] = {{"pgl_drain", drain_sql}, {"pgl_heartbeat", heartbeat_sql}};
	for (size_t i = 0; i < sizeof stmts / sizeof *stmts; i++) {
		PGresult *r = PQprepare(l->conn, stmts[i].name, stmts[i].sql, 0, NULL);
		if (PQresultStatus(r) != PGRES_COMMAND_OK) {
			if (pgc_conn_lost(l->conn, r)) {
				set_error(l->conn, r);
				PQclear(r);
				return -1;
			}
			if (schema_missing(r))
				pgc_die(l->conn, r, EXIT_CONFIG,
					"prepare the driver_events query (is the schema migrated? see pl-migrate)");
			pgc_die(l->conn, r, EXIT_TEMPFAIL, "prepare the driver_events query");
		}
		PQclear(r);
	}
	return 0;
}

/*
 * Connect (and set up) until it works, a permanent failure (exit 78) or
 * connect_timeout seconds of failures (exit 69).  delay_first: back off
 * before the first attempt (a reconnection).  -1 if *l->stop was set.
 */
static int connect_loop(struct pgl *l, int delay_first)
{
	long delay = 100;
	long deadline = now_ms() + (long)l->connect_timeout * 1000;
	for (int attempt = 0;; attempt++) {
		if (attempt > 0 || delay_first) {
			long jitter = (long)(rand_r(&l->seed) % (unsigned)(delay / 2 + 1));
			pgc_sleep_ms(delay + jitter);
			delay = delay * 2 > 5000 ? 5000 : delay * 2;
		}
		int permanent;
		if (l->stop && *l->stop)
			return -1;
		l->conn = pgc_connect(l->conninfo, "pg-listen", &permanent);
		if (l->conn) {
			PQsetNoticeProcessor(l->conn, on_notice, NULL);
			if (session_setup(l) == 0)
				return 0;
			PQfinish(l->conn);
			l->conn = NULL;
		} else if (permanent) {
			die_code(EXIT_CONFIG, "unable to connect to the database: %s", err_msg());
		}
		if (now_ms() >= deadline)
			die_code(EXIT_UNAVAILABLE, "unable to connect to the database: %s", err_msg());
	}
}

int pgl_open(struct pgl *l, const char *conninfo, int connect_timeout, volatile sig_atomic_t *stop)
{
	memset(l, 0, sizeof *l);
	l->conninfo = conninfo;
	l->connect_timeout = connect_timeout;
	l->stop = stop;
	l->seed = (unsigned)getpid() ^ (unsigned)now_ms();
	return connect_loop(l, 0);
}

int pgl_reconnect(struct pgl *l, const char *why)
{
	note("connection lost (%s); reconnecting", why);
	if (l->conn)
		PQfinish(l->conn);
	l->conn = NULL;
	if (connect_loop(l, 1) < 0)
		return -1;
	l->reconnects++;
	note("reconnected (reconnects: %lu)", l->reconnects);
	return 0;
}

void pgl_close(struct pgl *l)
{
	if (l->conn)
		PQfinish(l->conn);
	l->conn = NULL;
}

PGresult *pgl_drain(struct pgl *l, int64_t seq, int64_t id)
{
	char a[24], b[24];
	snprintf(a, sizeof a, "%lld", (long long)seq);
	snprintf(b, sizeof b, "%lld", (long long)id);
	const char *vals[2] = {a, b};
	PGresult *r = PQexecPrepared(l->conn, "pgl_drain", 2, vals, NULL, NULL, 0);
	if (PQresultStatus(r) == PGRES_TUPLES_OK)
		return r;
	if (pgc_conn_lost(l->conn, r)) {
		set_error(l->conn, r);
		PQclear(r);
		return NULL;
	}
	if (schema_missing(r))
		pgc_die(l->conn, r, EXIT_CONFIG, "query driver_events");
	pgc_die(l->conn, r, EXIT_TEMPFAIL, "query driver_events");
}

static int64_t get_i64(const PGresult *res, int i, int col)
{
	const char *s = PQgetvalue(res, i, col);
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (PQgetisnull(res, i, col) || !*s || *end || errno)
		die_code(EXIT_SOFTWARE, "unable to read driver_events row: bad integer '%s'", s);
	return (int64_t)v;
}

static void add_str_or_null(struct sb *out, const PGresult *res, int i, int col)
{
	if (PQgetisnull(res, i, col))
		sb_adds(out, "null");
	else
		sb_add_jstr(out, PQgetvalue(res, i, col), (size_t)PQgetlength(res, i, col));
}

void pgl_format(const PGresult *res, int i, struct sb *out, int64_t *seq, int64_t *id)
{
	if (PQnfields(res) != 9)
		die_code(EXIT_SOFTWARE, "unable to read driver_events row: %d columns", PQnfields(res));
	*seq = get_i64(res, i, 0);
	*id = get_i64(res, i, 1);
	sb_adds(out, "{\"id\":");
	sb_add_i64(out, *id);
	sb_adds(out, ",\"sequence_index\":");
	sb_add_i64(out, *seq);
	sb_adds(out, ",\"type\":");
	add_str_or_null(out, res, i, 2);
	sb_adds(out, ",\"timestamp\":");
	add_str_or_null(out, res, i, 3);
	sb_adds(out, ",\"is_processed\":");
	if (PQgetisnull(res, i, 4))
		sb_adds(out, "null");
	else
		sb_adds(out, PQgetvalue(res, i, 4)[0] == 't' ? "true" : "false");
	sb_adds(out, ",\"block_hash\":");
	add_str_or_null(out, res, i, 5);
	sb_adds(out, ",\"start_block_hash\":");
	add_str_or_null(out, res, i, 6);
	sb_adds(out, ",\"end_block_hash\":");
	add_str_or_null(out, res, i, 7);
	sb_adds(out, ",\"vault_address\":");
	add_str_or_null(out, res, i, 8);
	sb_adds(out, "}\n");
}

/* Consume every notification libpq has buffered; how many there were. */
static int drop_notifies(struct pgl *l)
{
	int n = 0;
	PGnotify *nf;
	while ((nf = PQnotifies(l->conn))) {
		PQfreemem(nf);
		n++;
	}
	return n;
}

enum pgl_wake pgl_wait(struct pgl *l, long timeout_ms, int extra_fd)
{
	if (drop_notifies(l))
		return PGL_NOTIFY;
	long deadline = now_ms() + (timeout_ms > 0 ? timeout_ms : 0);
	for (;;) {
		int sock = PQsocket(l->conn);
		if (sock < 0 || PQstatus(l->conn) == CONNECTION_BAD) {
			set_error(l->conn, NULL);
			return PGL_LOST;
		}
		struct pollfd p[2] = {{sock, POLLIN, 0}, {extra_fd, POLLIN, 0}};
		nfds_t nfds = extra_fd >= 0 ? 2 : 1;
		long left = deadline - now_ms();
		if (left < 0)
			left = 0;
		if (left > 1000000000L)
			left = 1000000000L;
		int r = poll(p, nfds, (int)left);
		if (r < 0) {
			if (errno == EINTR)
				continue; /* a signal handler wrote to extra_fd */
			die_errno(EXIT_SOFTWARE, "unable to poll the database socket");
		}
		if (r == 0)
			return PGL_TIMEOUT;
		if (nfds == 2 && p[1].revents)
			return PGL_FD;
		if (p[0].revents) {
			if (!PQconsumeInput(l->conn)) {
				set_error(l->conn, NULL);
				return PGL_LOST;
			}
			if (drop_notifies(l))
				return PGL_NOTIFY;
			/* Something else (a notice, the server's goodbye): look again. */
		}
	}
}

int pgl_heartbeat(struct pgl *l)
{
	PGresult *r = PQexecPrepared(l->conn, "pgl_heartbeat", 0, NULL, NULL, NULL, 0);
	int ret = 0;
	if (PQresultStatus(r) != PGRES_TUPLES_OK)
		ret = set_error(l->conn, r);
	else if (PQntuples(r) != 1)
		ret = error("heartbeat: no longer listening on driver_events");
	PQclear(r);
	return ret;
}
