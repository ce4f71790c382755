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

#include <signal.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "core/opt.h"

/*
 * The connection options the program was given (core/opt.h: -h, -p, -U,
 * --connect-timeout; -d is the conninfo every connect call passes): the
 * host, port and user override the conninfo's, unset ones come from the
 * PG* environment.  Each attempt times out after the conninfo's
 * connect_timeout, else $PGCONNECT_TIMEOUT, else 10 s.
 */
void pgc_use_options(const struct opt_conn *c);
/* --connect-timeout if it was given, else dflt: how long to retry. */
int pgc_wait_seconds(int dflt);
/*
 * The flag a signal handler sets to stop the program: every wait here
 * (an attempt in progress, the backoff between attempts) ends within
 * 100 ms once it is set; pgc_connect_or_die then exits 0 ("stopped by a
 * signal while connecting").  pgc_catch_signals installs a handler of its
 * own for SIGTERM and SIGINT that sets such a flag (for a program that has
 * none); pgc_stopping() reads it.
 */
void pgc_set_stop(volatile sig_atomic_t *stop);
void pgc_catch_signals(void);
int pgc_stopping(void);

/*
 * Connect once.  Returns the connection, or NULL with err_msg() set to
 * libpq's reason.  *permanent is set to 1 when retrying cannot help: the
 * conninfo does not parse, or the server is up and answering (PQping) but
 * refuses this connection -- authentication, a missing role or database,
 * pg_hba.conf, too many connections for the pipeline's configuration.
 * Decided by kind, never by the text of libpq's message.
 */
PGconn *pgc_connect(const char *conninfo, const char *appname, int *permanent);

/*
 * Connect, retrying transient failures with capped exponential backoff and
 * jitter (0.1 s doubling to 5 s) for up to wait_seconds (--connect-timeout
 * overrides it).  Every failed attempt is logged at once with the delay
 * before the next.  Dies with exit 78 on a permanent failure and 69 when
 * the server stays unreachable; exits 0 when stopped by a signal.
 * Sets session timeouts (statement_timeout, idle_in_transaction_session_timeout).
 */
PGconn *pgc_connect_or_die(const char *conninfo, const char *appname, int wait_seconds);

/*
 * The retry loop alone: backoff before every attempt but the first (and
 * before the first too with delay_first: a reconnection), no session
 * settings.  Same exits as pgc_connect_or_die; NULL when *stop (may be
 * NULL) became set.
 */
PGconn *pgc_connect_retry(const char *conninfo, const char *appname, int wait_seconds, int delay_first,
	volatile sig_atomic_t *stop);

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

/*
 * 1 if res failed because the schema lacks what the statement names
 * (SQLSTATE 42P01 undefined table, 42703 column, 42883 function, 42804
 * datatype mismatch): a configuration error, not a transient one.
 */
int pgc_schema_missing(const PGresult *res);

/* A set of statements to prepare (name, text), ended by a NULL name. */
struct pgc_stmt {
	const char *name, *sql;
};
/*
 * Prepare every statement; on failure die: 78 when the schema is missing
 * ("... (is the schema migrated? see pl-migrate)"), 75 otherwise.  what
 * names the set in the message.
 */
void pgc_prepare_all(PGconn *conn, const struct pgc_stmt *stmts, const char *what);

/*
 * Record refused input in pl_quarantine (its own autocommit statement).
 * driver_id / seq < 0: unknown.  kind: a reject kind name (frame.h);
 * frame may be NULL.  0, or -1 with err_msg() set when the row could not
 * be written (the caller warns and goes on dying).
 *
 * The frame and the reason are stored whatever their bytes: refused input
 * is often refused for its bytes, and PostgreSQL refuses text that is not
 * valid UTF-8 or holds NUL.  Each invalid byte and each NUL is stored as
 * the four characters \xNN (sb_add_utf8_safe; docs/formats.md), valid
 * text unchanged.
 */
int pgc_quarantine(PGconn *conn, const char *pipeline, const char *program, const char *kind, int64_t driver_id,
	int64_t seq, const char *reason, const char *frame);
/* The same with the frame's length, for a frame that may contain NUL bytes. */
int pgc_quarantine_n(PGconn *conn, const char *pipeline, const char *program, const char *kind, int64_t driver_id,
	int64_t seq, const char *reason, const char *frame, size_t frame_len);

/* Sleep for ms milliseconds (10 ms at most when PL_TEST_NO_SLEEP is set: tests). */
void pgc_sleep_ms(long ms);

#endif
