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
#include "pg/pipeline.h"

#define STR_(x) #x
#define STR(x) STR_(x)

/* Append a quoted identifier; dies when libpq cannot quote it. */
static void add_ident(struct sb *out, PGconn *conn, const char *name)
{
	char *q = PQescapeIdentifier(conn, name, strlen(name));
	if (!q)
		die_code(EXIT_SOFTWARE, "unable to quote identifier '%s': %s", name, PQerrorMessage(conn));
	sb_adds(out, q);
	PQfreemem(q);
}

/* Append "<alias>.o1,<alias>.o2..." (order columns, qualified). */
static void add_order(struct sb *q, struct pgl *l, const char *alias, const char *suffix)
{
	for (int i = 0; i < l->work->norder; i++) {
		sb_addf(q, "%s%s.", i ? "," : "", alias);
		add_ident(q, l->conn, l->work->order[i]);
		sb_adds(q, suffix);
	}
}

/*
 * SELECT w.o1::bigint, ..., row_to_json(w)::text, p.id, p.seq
 * FROM work w LEFT JOIN LATERAL (the item just before w in the table's
 * order, processed or not) p ON true
 * WHERE NOT w.done AND (w.o1, ...) > ($1::bigint, ...) ORDER BY w.o1, ... LIMIT n
 * The row's JSON is the line; p says which item it follows (pl_prev), so
 * that the apply filter can tell that it has seen every item before it.
 */
static void build_drain(struct pgl *l, struct sb *q)
{
	const struct pip *w = l->work;
	struct sb tab = SB_INIT;
	add_ident(&tab, l->conn, w->work_table);
	sb_adds(q, "SELECT ");
	add_order(q, l, "w", "::bigint");
	sb_adds(q, ", row_to_json(w)::text, p.pl_prev_id, p.pl_prev_seq FROM ");
	sb_addf(q, "%s w LEFT JOIN LATERAL (SELECT q.", tab.buf);
	add_ident(q, l->conn, w->id_column);
	sb_adds(q, "::bigint AS pl_prev_id, q.");
	add_ident(q, l->conn, w->order[0]);
	sb_addf(q, "::bigint AS pl_prev_seq FROM %s q WHERE (", tab.buf);
	add_order(q, l, "q", "");
	sb_adds(q, ") < (");
	add_order(q, l, "w", "");
	sb_adds(q, ") ORDER BY ");
	add_order(q, l, "q", " DESC");
	sb_adds(q, " LIMIT 1) p ON true WHERE ");
	if (!l->include_done && w->done_column) { /* none: past the checkpoint only */
		sb_adds(q, "NOT w.");
		add_ident(q, l->conn, w->done_column);
		sb_adds(q, " AND ");
	}
	sb_adds(q, "(");
	add_order(q, l, "w", "");
	sb_adds(q, ") > (");
	for (int i = 0; i < w->norder; i++)
		sb_addf(q, "%s$%d::bigint", i ? "," : "", i + 1);
	sb_adds(q, ") ORDER BY ");
	add_order(q, l, "w", "");
	sb_adds(q, " LIMIT " STR(PGL_BATCH));
	sb_free(&tab);
}

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

/*
 * Session set-up on a fresh connection.  0 on success; -1 when the
 * connection was lost meanwhile (err_msg() set).  Anything else dies.
 */
static int session_setup(struct pgl *l)
{
	struct sb listen = SB_INIT, drain = SB_INIT;
	sb_adds(&listen, "LISTEN ");
	add_ident(&listen, l->conn, l->work->channel);
	build_drain(l, &drain);
	const char *const init[] = {
		"SET TimeZone = 'UTC'",
		"SET statement_timeout = '300s'",
		"SET idle_in_transaction_session_timeout = '60s'",
		/* Autocommit: LISTEN is committed before the first drain query. */
		listen.buf,
		NULL,
	};
	for (int i = 0; init[i]; i++) {
		PGresult *r = PQexecParams(l->conn, init[i], 0, NULL, NULL, NULL, NULL, 0);
		if (PQresultStatus(r) != PGRES_COMMAND_OK) {
			if (pgc_conn_lost(l->conn, r)) {
				set_error(l->conn, r);
				PQclear(r);
				sb_free(&listen);
				sb_free(&drain);
				return -1;
			}
			pgc_die(l->conn, r, EXIT_TEMPFAIL, "set up the listening session");
		}
		PQclear(r);
	}
	const struct {
		const char *name, *sql;
	} stmts[] = {{"pgl_drain", drain.buf},
		{"pgl_heartbeat", "SELECT 1 FROM pg_listening_channels() WHERE pg_listening_channels = $1::text"}};
	int ret = 0;
	/* before preparing: the work table may live in the pipeline's schema */
	if (pip_apply_search_path(l->conn, l->work) < 0) {
		sb_free(&listen);
		sb_free(&drain);
		return -1;
	}
	for (size_t i = 0; i < sizeof stmts / sizeof *stmts && ret == 0; i++) {
		PGresult *r = PQprepare(l->conn, stmts[i].name, stmts[i].sql, 0, NULL);
		if (PQresultStatus(r) != PGRES_COMMAND_OK) {
			if (pgc_conn_lost(l->conn, r)) {
				set_error(l->conn, r);
				ret = -1;
			} else {
				struct sb what = SB_INIT;
				sb_addf(&what, "prepare the query of work table \"%s\"%s", l->work->work_table,
					pgc_schema_missing(r) ? " (is the schema migrated? see pl-migrate)" : "");
				pgc_die(l->conn, r, pgc_schema_missing(r) ? EXIT_CONFIG : EXIT_TEMPFAIL, what.buf);
			}
		}
		PQclear(r);
	}
	sb_free(&listen);
	sb_free(&drain);
	return ret;
}

/*
 * Connect (and set up) until it works, a permanent failure (exit 78) or
 * connect_timeout seconds of failures (exit 69).  delay_first: back off
 * before the first attempt (a reconnection).  -1 if *l->stop was set.
 */
static int connect_loop(struct pgl *l, int delay_first)
{
	for (;;) {
		l->conn = pgc_connect_retry(l->conninfo, "pg-listen", l->connect_timeout, delay_first, l->stop);
		if (!l->conn)
			return -1;
		PQsetNoticeProcessor(l->conn, on_notice, NULL);
		if (session_setup(l) == 0)
			return 0;
		/* lost again while setting up: back off and retry */
		PQfinish(l->conn);
		l->conn = NULL;
		delay_first = 1;
	}
}

int pgl_open(struct pgl *l, const struct pip *work, int include_done, const char *conninfo, int connect_timeout,
	volatile sig_atomic_t *stop)
{
	memset(l, 0, sizeof *l);
	l->work = work;
	l->include_done = include_done;
	l->conninfo = conninfo;
	l->connect_timeout = connect_timeout;
	l->stop = stop;
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

PGresult *pgl_drain(struct pgl *l, const int64_t *after)
{
	char buf[PIP_MAX_ORDER][24];
	const char *vals[PIP_MAX_ORDER];
	for (int i = 0; i < l->work->norder; i++) {
		snprintf(buf[i], sizeof buf[i], "%lld", (long long)after[i]);
		vals[i] = buf[i];
	}
	PGresult *r = PQexecPrepared(l->conn, "pgl_drain", l->work->norder, vals, NULL, NULL, 0);
	if (PQresultStatus(r) == PGRES_TUPLES_OK)
		return r;
	if (pgc_conn_lost(l->conn, r)) {
		set_error(l->conn, r);
		PQclear(r);
		return NULL;
	}
	pgc_die(l->conn, r, pgc_schema_missing(r) ? EXIT_CONFIG : EXIT_TEMPFAIL, "query the work table");
}

static int64_t get_i64(const PGresult *res, int i, int col)
{
	const char *s = PQgetvalue(res, i, col);
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (PQgetisnull(res, i, col) || !*s || *end || errno)
		die_code(EXIT_CONFIG, "unable to read a work item: order column %d is not an integer ('%s')", col + 1, s);
	return (int64_t)v;
}

void pgl_format(const struct pgl *l, const PGresult *res, int i, struct sb *out, int64_t *pos)
{
	int n = l->work->norder;
	if (PQnfields(res) != n + 3)
		die_code(EXIT_SOFTWARE, "unable to read a work item: %d columns", PQnfields(res));
	for (int k = 0; k < n; k++)
		pos[k] = get_i64(res, i, k);
	/* the row's JSON with "pl_prev" added before its closing brace */
	size_t len = (size_t)PQgetlength(res, i, n);
	const char *row = PQgetvalue(res, i, n);
	if (len < 2 || row[len - 1] != '}')
		die_code(EXIT_SOFTWARE, "unable to read a work item: its JSON does not end with '}'");
	sb_add(out, row, len - 1);
	if (PQgetisnull(res, i, n + 1)) {
		sb_adds(out, ",\"pl_prev\":null}\n");
		return;
	}
	sb_adds(out, ",\"pl_prev\":{\"driver_id\":");
	sb_adds(out, PQgetvalue(res, i, n + 1));
	sb_adds(out, ",\"seq\":");
	sb_adds(out, PQgetvalue(res, i, n + 2));
	sb_adds(out, "}}\n");
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
	const char *vals[1] = {l->work->channel};
	PGresult *r = PQexecPrepared(l->conn, "pgl_heartbeat", 1, vals, NULL, NULL, 0);
	int ret = 0;
	if (PQresultStatus(r) != PGRES_TUPLES_OK)
		ret = set_error(l->conn, r);
	else if (PQntuples(r) != 1)
		ret = error("heartbeat: no longer listening on channel '%s'", l->work->channel);
	PQclear(r);
	return ret;
}
