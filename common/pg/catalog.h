/*
 * catalog.h -- what pg_catalog says about a state table (columns, types,
 * primary key), and the quoting and value rendering built on it.
 *
 * Shared by pg-write (which learns every table it is asked to write from
 * here, after checking pl_state_tables) and pg-snapshot (which dumps the
 * registered tables with the same column list and value rendering), so
 * that neither knows any Pitchlake table.  See docs/pg-write.md.
 */
#ifndef PL_CATALOG_H
#define PL_CATALOG_H

#include <stddef.h>

#include <libpq-fe.h>

#include "core/io.h"

/* One column of a table, in attnum order. */
struct cat_col {
	char *name;
	unsigned typid;
	int typmod;
	char typcat; /* pg_type.typcategory: 'B' bool, 'N' numeric, ... */
	int pkpos;   /* 1-based position in the primary key, 0 if not a key column */
};

/* A table as pg_catalog describes it. */
struct cat_table {
	char *name;
	size_t namelen;
	int state; /* 0 not looked up yet, 1 usable, -1 rejected (reason says why) */
	char *reason;
	int ncols, npk;
	struct cat_col *cols;
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
int cat_table_load(PGconn *conn, struct cat_table *t, const char *pipeline);
void cat_table_free(struct cat_table *t);

/* Mark t unusable (state -1) for the reason why; returns -1 with err_msg() set. */
int cat_table_reject(struct cat_table *t, const char *why);

/*
 * Append the JSON rendering of one column value as pg-snapshot writes it:
 * SQL NULL -> null, bool -> true/false, everything else -> JSON string of
 * the value's text output.
 */
void cat_add_value(struct sb *out, const struct cat_col *col, const char *val, int isnull);

/* Append "\"c1\",\"c2\"" (quoted identifiers of every column, attnum order). */
void cat_add_collist(struct sb *out, PGconn *conn, const struct cat_table *t);
/* Append a quoted identifier (PQescapeIdentifier); dies on failure. */
void cat_add_ident(struct sb *out, PGconn *conn, const char *name);

#endif
