/*
 * pgconn.c -- see pgconn.h.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/die.h"
#include "core/io.h"
#include "core/json.h"
#include "pg/pgconn.h"

/* Set by pgc_use_options / pgc_set_stop / pgc_catch_signals (pgconn.h). */
static struct opt_conn conn_opts = {NULL, NULL, NULL, NULL, -1};
static volatile sig_atomic_t own_stop;
static volatile sig_atomic_t *stop_flag;

void pgc_use_options(const struct opt_conn *c)
{
	conn_opts = *c;
}

int pgc_wait_seconds(int dflt)
{
	return conn_opts.wait_seconds >= 0 ? conn_opts.wait_seconds : dflt;
}

void pgc_set_stop(volatile sig_atomic_t *stop)
{
	stop_flag = stop;
}

static void on_stop_signal(int sig)
{
	(void)sig;
	own_stop = 1;
}

void pgc_catch_signals(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_stop_signal;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0; /* no SA_RESTART: a wait ends at once */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	stop_flag = &own_stop;
}

int pgc_stopping(void)
{
	return stop_flag && *stop_flag;
}

static long mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

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

/* The connect_timeout libpq resolved for c (conninfo, $PGCONNECT_TIMEOUT, ours): ms, 0 none. */
static long attempt_timeout_ms(PGconn *c)
{
	long ms = 0;
	PQconninfoOption *o = PQconninfo(c);
	for (PQconninfoOption *p = o; p && p->keyword; p++)
		if (!strcmp(p->keyword, "connect_timeout") && p->val && *p->val) {
			long v = strtol(p->val, NULL, 10);
			/* libpq: values below 2 s are raised to 2 s */
			ms = v <= 0 ? 0 : (v < 2 ? 2000 : v * 1000);
		}
	PQconninfoFree(o);
	return ms;
}

/*
 * One attempt, polled: libpq's non-blocking connection with our own
 * deadline, so that SIGTERM/SIGINT (pgc_set_stop) ends it within 100 ms.
 * Returns the connection (CONNECTION_OK or BAD), NULL on out of memory;
 * *timed_out when the deadline passed, *stopped when asked to stop.
 */
static PGconn *connect_polled(const char *const *keys, const char *const *vals, int *timed_out, int *stopped)
{
	*timed_out = *stopped = 0;
	PGconn *c = PQconnectStartParams(keys, vals, 1);
	if (!c)
		return NULL;
	if (PQstatus(c) == CONNECTION_BAD)
		return c;
	long limit = attempt_timeout_ms(c);
	long deadline = limit ? mono_ms() + limit : 0;
	PostgresPollingStatusType st = PGRES_POLLING_WRITING;
	for (;;) {
		if (st == PGRES_POLLING_OK || st == PGRES_POLLING_FAILED)
			return c;
		struct pollfd pfd = {PQsocket(c), st == PGRES_POLLING_READING ? POLLIN : POLLOUT, 0};
		for (;;) {
			if (pgc_stopping()) {
				*stopped = 1;
				return c;
			}
			long now = mono_ms();
			if (deadline && now >= deadline) {
				*timed_out = 1;
				return c;
			}
			long wait = deadline && deadline - now < 100 ? deadline - now : 100;
			int r = pfd.fd < 0 ? 1 : poll(&pfd, 1, (int)wait);
			if (r > 0 || (r < 0 && errno != EINTR))
				break;
		}
		st = PQconnectPoll(c);
	}
}

PGconn *pgc_connect(const char *conninfo, const char *appname, int *permanent)
{
	char *errmsg = NULL;
	const char *timeout = NULL;
	*permanent = 0;
	/* a conninfo string or a URI is checked here; a plain name is a database name (psql's -d) */
	if (conninfo && (strchr(conninfo, '=') || !strncmp(conninfo, "postgres://", 11) ||
				!strncmp(conninfo, "postgresql://", 13))) {
		PQconninfoOption *opts = PQconninfoParse(conninfo, &errmsg);
		if (!opts) {
			*permanent = 1;
			error("invalid connection string: %s", errmsg ? errmsg : "out of memory");
			PQfreemem(errmsg);
			return NULL;
		}
		for (PQconninfoOption *p = opts; p->keyword; p++)
			if (!strcmp(p->keyword, "connect_timeout") && p->val && *p->val)
				timeout = "";
		PQconninfoFree(opts);
	}
	/* Each attempt's timeout: the conninfo's, else $PGCONNECT_TIMEOUT, else 10 s. */
	if (!timeout && !(getenv("PGCONNECT_TIMEOUT") && *getenv("PGCONNECT_TIMEOUT")))
		timeout = "10";
	if (timeout && !*timeout)
		timeout = NULL;
	/* expand_dbname=1: a conninfo string in dbname is expanded; the keys
	 * after it (-h, -p, -U, application_name, keepalives) override what it
	 * sets, and NULL values are skipped (the PG* environment fills them). */
	const char *keys[] = {"dbname", "host", "port", "user", "application_name", "keepalives", "keepalives_idle",
		"keepalives_interval", "keepalives_count", "connect_timeout", NULL};
	const char *vals[] = {conninfo && *conninfo ? conninfo : NULL, conn_opts.host, conn_opts.port, conn_opts.user,
		appname, "1", "10", "5", "3", timeout, NULL};
	/* A refusal counts as permanent only when the server was up both
	 * before and after a second attempt: a server that comes up between
	 * our failed attempt and the ping must not look like a refusal. */
	for (int attempt = 0;; attempt++) {
		int timed_out, stopped;
		PGconn *c = connect_polled(keys, vals, &timed_out, &stopped);
		if (!c) {
			error("out of memory");
			return NULL;
		}
		if (!timed_out && !stopped && PQstatus(c) == CONNECTION_OK)
			return c;
		if (stopped) {
			error("interrupted by a signal");
			PQfinish(c);
			return NULL;
		}
		if (timed_out) {
			error("no answer from the server within the connect timeout (connect_timeout, $PGCONNECT_TIMEOUT)");
			PQfinish(c);
			return NULL;
		}
		char *m = PQerrorMessage(c);
		size_t n = strlen(m);
		while (n && (m[n - 1] == '\n' || m[n - 1] == ' '))
			m[--n] = '\0';
		/* libpq's multi-line message: one line for the log */
		char *q = m;
		for (char *p = m; *p; p++) {
			if (*p == '\n' || *p == '\t') {
				if (q > m && q[-1] != ' ')
					*q++ = ' ';
			} else {
				*q++ = *p;
			}
		}
		*q = '\0';
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
	/* PL_TEST_NO_SLEEP (tests): 10 ms at most, never a busy loop (a retry
	 * loop without any sleep made 850,000 attempts in 30 s on a full disk) */
	if (getenv("PL_TEST_NO_SLEEP") && ms > 10)
		ms = 10;
	if (ms <= 0)
		return;
	long end = mono_ms() + ms;
	for (long now = mono_ms(); now < end && !pgc_stopping(); now = mono_ms()) {
		long left = end - now > 100 ? 100 : end - now;
		struct timespec ts = {0, left * 1000000L};
		nanosleep(&ts, NULL); /* EINTR: look at the stop flag */
	}
}

PGconn *pgc_connect_retry(const char *conninfo, const char *appname, int wait_seconds, int delay_first,
	volatile sig_atomic_t *stop)
{
	long delay = 100;
	long start = mono_ms(), deadline = start + (long)wait_seconds * 1000, logged = 0;
	unsigned seed = (unsigned)getpid() ^ (unsigned)time(NULL);
	volatile sig_atomic_t *saved = stop_flag;
	if (stop)
		stop_flag = stop;
	for (int attempt = 0;; attempt++) {
		long wait_ms = 0;
		if (attempt > 0 || delay_first) {
			long jitter = (long)(rand_r(&seed) % (unsigned)(delay / 2 + 1));
			wait_ms = delay + jitter;
			delay = delay * 2 > 5000 ? 5000 : delay * 2;
		}
		/* every retry is logged; without sleeps (PL_TEST_NO_SLEEP) at most one a second */
		int say = attempt > 0 && (!getenv("PL_TEST_NO_SLEEP") || mono_ms() - logged >= 1000);
		if (say) {
			logged = mono_ms();
			warn("unable to connect to the database: %s; retrying in %.1f s (attempt %d; giving up %d s "
			     "after the first, --connect-timeout)",
				err_msg(), (double)wait_ms / 1000.0, attempt + 1, wait_seconds);
		}
		pgc_sleep_ms(wait_ms);
		int permanent = 0;
		PGconn *c = pgc_stopping() ? NULL : pgc_connect(conninfo, appname, &permanent);
		if (c) {
			if (attempt > 0)
				note("connected to the database after %d attempts", attempt + 1);
			stop_flag = saved;
			return c;
		}
		if (pgc_stopping()) {
			stop_flag = saved;
			if (stop)
				return NULL;
			note("stopped by a signal while connecting to the database");
			exit(0);
		}
		if (permanent)
			die_code(EXIT_CONFIG, "unable to connect to the database: %s (check the connection options: "
					      "-d/--dbname, -h, -p, -U, the PG* environment, pg_hba.conf)",
				err_msg());
		if (mono_ms() >= deadline)
			die_code(EXIT_UNAVAILABLE, "unable to connect to the database: %s (gave up after %d s; "
						   "is the server running? --connect-timeout sets how long to retry)",
				err_msg(), wait_seconds);
	}
}

PGconn *pgc_connect_or_die(const char *conninfo, const char *appname, int wait_seconds)
{
	PGconn *c = pgc_connect_retry(conninfo, appname, pgc_wait_seconds(wait_seconds), 0, NULL);
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
