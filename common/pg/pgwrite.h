/*
 * pgwrite.h -- the generic delta-frame writer behind pg-write, and the
 * catalog helpers it shares with pg-snapshot.
 *
 * pg-write knows no Pitchlake: it learns every table it is asked to write
 * (columns, types, primary key) from pg_catalog, after checking that the
 * table is registered in pl_state_tables, and applies "put" (upsert) and
 * "del" lines with per-table prepared statements in libpq pipeline mode.
 * One transaction per work item (several in catch-up), committed together
 * with the undo journal, the checkpoint and the work-table row; acks are
 * printed only after COMMIT.  See docs/pg-write.md.
 */
#ifndef PL_PGWRITE_H
#define PL_PGWRITE_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "core/io.h"

/* One column of a table, in attnum order. */
struct pgw_col {
	char *name;
	unsigned typid;
	int typmod;
	char typcat; /* pg_type.typcategory: 'B' bool, 'N' numeric, ... */
	int pkpos;   /* 1-based position in the primary key, 0 if not a key column */
};

/* A table as pg_catalog describes it. */
struct pgw_table {
	char *name;
	size_t namelen;
	int state; /* 0 not looked up yet, 1 usable, -1 rejected (reason says why) */
	char *reason;
	int ncols, npk;
	struct pgw_col *cols;
	int *pk;     /* column indexes in primary-key order */
	int id;	     /* number used in prepared-statement names */
	char *qname; /* the quoted identifier */
};

/*
 * Look t->name up in the catalog and fill the columns and key.  With a
 * pipeline name, the table must be registered in pl_state_tables for that
 * pipeline.  Returns 0,
 * or -1 with err_msg() set when the table cannot be written (not
 * registered, absent, no primary key).  Dies (75, or 70) when the query
 * itself fails.  Must not be called in pipeline mode.
 */
int pgw_table_load(PGconn *conn, struct pgw_table *t, const char *pipeline);
void pgw_table_free(struct pgw_table *t);

/*
 * Append the JSON rendering of one column value as pg-snapshot writes it:
 * SQL NULL -> null, bool -> true/false, everything else -> JSON string of
 * the value's text output.
 */
void pgw_add_value(struct sb *out, const struct pgw_col *col, const char *val, int isnull);

/* Append "\"c1\",\"c2\"" (quoted identifiers of every column, attnum order). */
void pgw_add_collist(struct sb *out, PGconn *conn, const struct pgw_table *t);
/* Append a quoted identifier (PQescapeIdentifier); dies on failure. */
void pgw_add_ident(struct sb *out, PGconn *conn, const char *name);

struct pip;
struct pgw_opts {
	const struct pip *pip;	/* the pipeline: bookkeeping key, work table (pipeline.h) */
	int batch_max;		/* frames per transaction at most (>= 1) */
	int verify_before;	/* compare current rows with 'before' first */
};

/*
 * Prepare the fixed statements (checkpoint, journal, quarantine, work
 * table) on conn, which must hold the single-writer lock.  Dies with 78
 * when a processor table is missing, 75 when the connection is lost.
 */
struct pgw *pgw_new(PGconn *conn, const struct pgw_opts *opts);

/*
 * Read delta frames from fd until EOF or until *stop becomes non-zero
 * (checked between transactions; stop_fd, if >= 0, is polled while waiting
 * for input and wakes the reader).  Applies them and writes one ack line
 * per frame to stdout after the frame's transaction commits.  Returns the
 * exit status: 0 at EOF or on stop.  Bad input and rejected frames die
 * with 65 (after recording a pl_quarantine row), a lost connection with 75.
 */
int pgw_run(struct pgw *w, int fd, int stop_fd, volatile sig_atomic_t *stop);

void pgw_free(struct pgw *w);

#endif
