/*
 * pgconn.h -- libpq connection helpers shared by the programs that talk to
 * PostgreSQL (pg-listen, block-fetch, pg-write, pg-snapshot).
 *
 * Connection: a libpq conninfo string or URI (empty = libpq defaults and the
 * usual PG* environment variables), always with TCP keepalives and an
 * application_name, so an operator sees who is connected in pg_stat_activity.
 */
#ifndef PL_PGCONN_H
#define PL_PGCONN_H

#include <libpq-fe.h>

/*
 * Connect once.  Returns the connection, or NULL with err_msg() set to
 * libpq's reason.  *permanent is set to 1 when retrying cannot help
 * (bad conninfo syntax, authentication failure, missing database).
 */
PGconn *pgc_connect(const char *conninfo, const char *appname, int *permanent);

/*
 * Connect, retrying transient failures with capped exponential backoff and
 * jitter (0.1 s doubling to 5 s) for up to wait_seconds.  Dies with exit 78
 * on a permanent failure and 69 when the server stays unreachable.
 * Sets session timeouts (statement_timeout, idle_in_transaction_session_timeout).
 */
PGconn *pgc_connect_or_die(const char *conninfo, const char *appname, int wait_seconds);

/*
 * Die with the right exit code for a failed command: 75 when the connection
 * is gone (transient: restart), otherwise the given code.  what names the
 * operation ("unable to <what>").
 */
_Noreturn void pgc_die(PGconn *conn, const PGresult *res, int code, const char *what);

/* 1 if the error of res (or the connection) is a lost connection. */
int pgc_conn_lost(PGconn *conn, const PGresult *res);

/* Run a parameterless constant command; die via pgc_die on failure. */
void pgc_exec_or_die(PGconn *conn, const char *sql, ExecStatusType want, const char *what);

/* Sleep for ms milliseconds unless PL_TEST_NO_SLEEP is set (tests). */
void pgc_sleep_ms(long ms);

#endif
