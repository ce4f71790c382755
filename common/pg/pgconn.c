/*
 * pgconn.c -- see pgconn.h.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/die.h"
#include "core/io.h"
#include "core/json.h"
#include "pg/pgconn.h"

/*
 * After a failed connection: can a retry help?  PQping asks the server
 * without authenticating: PQPING_OK means it is up and accepting
 * connections, so ours was refused for a reason of its own (credentials,
 * role, database, pg_hba.conf); PQPING_NO_ATTEMPT means the parameters
 * are unusable.  Not responding, or rejecting while it starts up or shuts
 * down, is transient.
 */
static int refused_for_good(const char *const *keys, const char *const *vals)
{
	PGPing p = PQpingParams(keys, vals, 1);
	return p == PQPING_OK || p == PQPING_NO_ATTEMPT;
}

PGconn *pgc_connect(const char *conninfo, const char *appname, int *permanent)
{
	const char *keys[] = {"dbname", "application_name", "keepalives", "keepalives_idle",
		"keepalives_interval", "keepalives_count", "connect_timeout", NULL};
	const char *vals[] = {conninfo && *conninfo ? conninfo : NULL, appname, "1", "10", "5",
		"3", "10", NULL};
	char *errmsg = NULL;
	*permanent = 0;
	if (conninfo && *conninfo) {
		PQconninfoOption *opts = PQconninfoParse(conninfo, &errmsg);
		if (!opts) {
			*permanent = 1;
			error("invalid connection string: %s", errmsg ? errmsg : "out of memory");
			PQfreemem(errmsg);
			return NULL;
		}
		PQconninfoFree(opts);
	}
	/* expand_dbname=1: a conninfo string in dbname is expanded; later keys
	 * (application_name, keepalives) only fill what it does not set. */
	/* A refusal counts as permanent only when the server was up both
	 * before and after a second attempt: a server that comes up between
	 * our failed attempt and the ping must not look like a refusal. */
	for (int attempt = 0;; attempt++) {
		PGconn *c = PQconnectdbParams(keys, vals, 1);
		if (!c) {
			error("out of memory");
			return NULL;
		}
		if (PQstatus(c) == CONNECTION_OK)
			return c;
		char *m = PQerrorMessage(c);
		size_t n = strlen(m);
		while (n && (m[n - 1] == '\n' || m[n - 1] == ' '))
			m[--n] = '\0';
		error("%s", m);
		PQfinish(c);
		if (!refused_for_good(keys, vals))
			return NULL;
		if (attempt == 1) {
			*permanent = 1;
			return NULL;
		}
	}
}

void pgc_sleep_ms(long ms)
{
	if (getenv("PL_TEST_NO_SLEEP") || ms <= 0)
		return;
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

PGconn *pgc_connect_retry(const char *conninfo, const char *appname, int wait_seconds, int delay_first,
	volatile sig_atomic_t *stop)
{
	long delay = 100;
	time_t deadline = time(NULL) + wait_seconds;
	unsigned seed = (unsigned)getpid() ^ (unsigned)time(NULL);
	for (int attempt = 0;; attempt++) {
		if (attempt > 0 || delay_first) {
			long jitter = (long)(rand_r(&seed) % (unsigned)(delay / 2 + 1));
			pgc_sleep_ms(delay + jitter);
			delay = delay * 2 > 5000 ? 5000 : delay * 2;
		}
		if (stop && *stop)
			return NULL;
		int permanent;
		PGconn *c = pgc_connect(conninfo, appname, &permanent);
		if (c)
			return c;
		if (permanent)
			die_code(EXIT_CONFIG, "unable to connect to the database: %s", err_msg());
		if (time(NULL) >= deadline)
			die_code(EXIT_UNAVAILABLE, "unable to connect to the database: %s", err_msg());
	}
}

PGconn *pgc_connect_or_die(const char *conninfo, const char *appname, int wait_seconds)
{
	PGconn *c = pgc_connect_retry(conninfo, appname, wait_seconds, 0, NULL);
	pgc_exec_or_die(c, "SET statement_timeout = '300s'", PGRES_COMMAND_OK, "set statement_timeout");
	pgc_exec_or_die(c, "SET idle_in_transaction_session_timeout = '60s'", PGRES_COMMAND_OK,
		"set idle_in_transaction_session_timeout");
	return c;
}

int pgc_conn_lost(PGconn *conn, const PGresult *res)
{
	if (PQstatus(conn) == CONNECTION_BAD)
		return 1;
	if (res) {
		const char *st = PQresultErrorField(res, PG_DIAG_SQLSTATE);
		/* Class 08: connection exception; 57P01..03: admin shutdown / crash / cannot connect now. */
		if (st && (!strncmp(st, "08", 2) || !strncmp(st, "57P", 3)))
			return 1;
	}
	return 0;
}

void pgc_die(PGconn *conn, const PGresult *res, int code, const char *what)
{
	const char *m = res ? PQresultErrorMessage(res) : NULL;
	if (!m || !*m)
		m = PQerrorMessage(conn);
	size_t n = strlen(m);
	while (n && (m[n - 1] == '\n' || m[n - 1] == ' '))
		n--;
	if (pgc_conn_lost(conn, res))
		code = EXIT_TEMPFAIL;
	die_code(code, "unable to %s: %.*s", what, (int)n, m);
}

void pgc_exec_or_die(PGconn *conn, const char *sql, ExecStatusType want, const char *what)
{
	/* PQexecParams: one statement only, never a concatenated string */
	PGresult *r = PQexecParams(conn, sql, 0, NULL, NULL, NULL, NULL, 0);
	if (PQresultStatus(r) != want)
		pgc_die(conn, r, EXIT_TEMPFAIL, what);
	PQclear(r);
}

int pgc_schema_missing(const PGresult *res)
{
	const char *st = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	return st && (!strcmp(st, "42P01") || !strcmp(st, "42703") || !strcmp(st, "42883") || !strcmp(st, "42804"));
}

void pgc_prepare_all(PGconn *conn, const struct pgc_stmt *stmts, const char *what)
{
	for (; stmts->name; stmts++) {
		PGresult *r = PQprepare(conn, stmts->name, stmts->sql, 0, NULL);
		if (PQresultStatus(r) != PGRES_COMMAND_OK) {
			char buf[256];
			int missing = pgc_schema_missing(r);
			snprintf(buf, sizeof buf, "prepare %s%s", what, missing ? " (is the schema migrated? see pl-migrate)" : "");
			pgc_die(conn, r, missing ? EXIT_CONFIG : EXIT_TEMPFAIL, buf);
		}
		PQclear(r);
	}
}

int pgc_quarantine(PGconn *conn, const char *pipeline, const char *program, const char *kind, int64_t driver_id,
	int64_t seq, const char *reason, const char *frame)
{
	return pgc_quarantine_n(conn, pipeline, program, kind, driver_id, seq, reason, frame, frame ? strlen(frame) : 0);
}

int pgc_quarantine_n(PGconn *conn, const char *pipeline, const char *program, const char *kind, int64_t driver_id,
	int64_t seq, const char *reason, const char *frame, size_t frame_len)
{
	char s_id[24], s_seq[24];
	struct sb why = SB_INIT, text = SB_INIT;
	snprintf(s_id, sizeof s_id, "%lld", (long long)driver_id);
	snprintf(s_seq, sizeof s_seq, "%lld", (long long)seq);
	sb_add_utf8_safe(&why, reason ? reason : "", reason ? strlen(reason) : 0);
	if (frame)
		sb_add_utf8_safe(&text, frame, frame_len);
	const char *vals[7] = {driver_id >= 0 ? s_id : NULL, seq >= 0 ? s_seq : NULL, program, kind,
		why.buf ? why.buf : "", frame ? (text.buf ? text.buf : "") : NULL, pipeline};
	PGresult *r = PQexecParams(conn,
		"INSERT INTO pl_quarantine (driver_id, seq, program, kind, reason, frame, pipeline)"
		" VALUES ($1::bigint, $2::bigint, $3, $4, $5, $6, $7)",
		7, NULL, vals, NULL, NULL, 0);
	int ret = 0;
	if (PQresultStatus(r) != PGRES_COMMAND_OK) {
		const char *m = PQresultErrorMessage(r);
		size_t n = strlen(m);
		while (n && (m[n - 1] == '\n' || m[n - 1] == ' '))
			n--;
		ret = error("%.*s", (int)n, m);
	}
	PQclear(r);
	sb_free(&why);
	sb_free(&text);
	return ret;
}
