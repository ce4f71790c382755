/*
 * pgsnap.c -- see pgsnap.h.  Canonical order (docs/formats.md): tables by
 * name bytewise, rows by their key columns compared as text COLLATE "C" in
 * primary-key order; journal blocks by ord, then entries by id.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/die.h"
#include "core/io.h"
#include "core/json.h"
#include "pg/catalog.h"
#include "pg/pgconn.h"
#include "pg/pgsnap.h"

#define FETCH_ROWS "1000"
#define OUT_CHUNK 65536

struct out {
	int fd;
	struct sb b;
};

static void out_flush(struct out *o, int force)
{
	if (o->b.len == 0 || (!force && o->b.len < OUT_CHUNK))
		return;
	if (o->fd == STDOUT_FILENO)
		io_out(o->b.buf, o->b.len);
	else if (io_write_all(o->fd, o->b.buf, o->b.len) < 0)
		die_errno(EXIT_TEMPFAIL, "unable to write the snapshot");
	sb_reset(&o->b);
}

/* Run a statement (constant text or built from quoted identifiers) with n text parameters. */
static PGresult *runn(PGconn *conn, const char *sql, int n, const char *const *vals, ExecStatusType want, int code,
	const char *what)
{
	PGresult *r = PQexecParams(conn, sql, n, NULL, n ? vals : NULL, NULL, NULL, 0);
	if (PQresultStatus(r) != want)
		pgc_die(conn, r, code, what);
	return r;
}

/* The same with at most one parameter. */
static PGresult *run1(PGconn *conn, const char *sql, const char *param, ExecStatusType want, int code, const char *what)
{
	const char *vals[1] = {param};
	return runn(conn, sql, param ? 1 : 0, vals, want, code, what);
}

static PGresult *run(PGconn *conn, const char *sql, ExecStatusType want, int code, const char *what)
{
	return run1(conn, sql, NULL, want, code, what);
}

/*
 * Dump one registered table, reading it through view (same columns) when the
 * registry names one: the rows ep-apply no longer holds are left out.  A
 * shard (vault_col set, shard = "K", shards = "N") dumps only the rows whose
 * vault (that column of the table or view) is in shard K of N (sql/025).
 */
static void dump_table(PGconn *conn, struct out *o, const char *name, const char *view, const char *vault_col,
	const char *shard, const char *shards)
{
	struct cat_table t;
	struct sb sql = SB_INIT;
	memset(&t, 0, sizeof t);
	t.name = xstrdup(name);
	t.namelen = strlen(name);
	if (cat_table_load(conn, &t, NULL) < 0)
		die_code(EXIT_CONFIG, "unable to dump a registered table: %s", err_msg());
	sb_adds(&sql, "DECLARE pgs_rows NO SCROLL CURSOR FOR SELECT ");
	cat_add_collist(&sql, conn, &t);
	if (view && *view) {
		sb_adds(&sql, " FROM ");
		cat_add_ident(&sql, conn, view);
	} else {
		sb_addf(&sql, " FROM %s", t.qname);
	}
	if (vault_col) {
		sb_adds(&sql, " WHERE pl_shard_of(");
		cat_add_ident(&sql, conn, vault_col);
		sb_adds(&sql, "::text, $2::int) = $1::int");
	}
	sb_adds(&sql, " ORDER BY ");
	for (int k = 0; k < t.npk; k++) {
		if (k)
			sb_addc(&sql, ',');
		cat_add_ident(&sql, conn, t.cols[t.pk[k]].name);
		sb_adds(&sql, "::text COLLATE \"C\"");
	}
	const char *sv[2] = {shard, shards};
	PQclear(runn(conn, sql.buf, vault_col ? 2 : 0, sv, PGRES_COMMAND_OK, EXIT_SOFTWARE, "open a cursor on a state table"));
	/* The line prefix is the same for every row of the table. */
	struct sb head = SB_INIT;
	sb_adds(&head, "{\"op\":\"put\",\"table\":");
	sb_add_jstr(&head, t.name, t.namelen);
	sb_adds(&head, ",\"key\":{");
	for (;;) {
		PGresult *r = run(conn, "FETCH FORWARD " FETCH_ROWS " FROM pgs_rows", PGRES_TUPLES_OK,
			EXIT_SOFTWARE, "fetch rows of a state table");
		int n = PQntuples(r);
		for (int i = 0; i < n; i++) {
			sb_add(&o->b, head.buf, head.len);
			for (int k = 0; k < t.npk; k++) {
				const struct cat_col *c = &t.cols[t.pk[k]];
				if (k)
					sb_addc(&o->b, ',');
				sb_add_jstr(&o->b, c->name, strlen(c->name));
				sb_addc(&o->b, ':');
				cat_add_value(&o->b, c, PQgetvalue(r, i, t.pk[k]), PQgetisnull(r, i, t.pk[k]));
			}
			sb_adds(&o->b, "},\"row\":{");
			for (int j = 0; j < t.ncols; j++) {
				if (j)
					sb_addc(&o->b, ',');
				sb_add_jstr(&o->b, t.cols[j].name, strlen(t.cols[j].name));
				sb_addc(&o->b, ':');
				cat_add_value(&o->b, &t.cols[j], PQgetvalue(r, i, j), PQgetisnull(r, i, j));
			}
			sb_adds(&o->b, "}}\n");
			out_flush(o, 0);
		}
		PQclear(r);
		if (n == 0)
			break;
	}
	PQclear(run(conn, "CLOSE pgs_rows", PGRES_COMMAND_OK, EXIT_SOFTWARE, "close a cursor"));
	sb_free(&head);
	sb_free(&sql);
	cat_table_free(&t);
}

/* The journal as dl_dump lists it: the blocks in the order they were
 * journaled, then the entries in the order they were recorded (ids). */
static void dump_journal(PGconn *conn, struct out *o, const char *pipeline)
{
	PQclear(run1(conn,
		"DECLARE pgs_blocks NO SCROLL CURSOR FOR"
		" SELECT block_number::text, block_hash FROM pl_journal_block WHERE pipeline = $1 ORDER BY ord",
		pipeline, PGRES_COMMAND_OK, EXIT_CONFIG, "read the undo journal"));
	for (;;) {
		PGresult *r = run(conn, "FETCH FORWARD " FETCH_ROWS " FROM pgs_blocks", PGRES_TUPLES_OK, EXIT_SOFTWARE,
			"fetch the undo journal");
		int n = PQntuples(r);
		for (int i = 0; i < n; i++) {
			const char *bh = PQgetvalue(r, i, 1);
			sb_addf(&o->b, "{\"op\":\"block\",\"block_number\":%s,\"block_hash\":", PQgetvalue(r, i, 0));
			sb_add_jstr(&o->b, bh, strlen(bh));
			sb_adds(&o->b, "}\n");
			out_flush(o, 0);
		}
		PQclear(r);
		if (n == 0)
			break;
	}
	PQclear(run(conn, "CLOSE pgs_blocks", PGRES_COMMAND_OK, EXIT_SOFTWARE, "close a cursor"));
	PQclear(run1(conn,
		"DECLARE pgs_journal NO SCROLL CURSOR FOR"
		" SELECT b.block_number::text, b.block_hash, j.tbl, j.key::text, j.before::text"
		" FROM pl_journal j"
		" JOIN pl_journal_block b ON b.pipeline = j.pipeline AND b.block_hash = j.block_hash"
		" WHERE j.pipeline = $1"
		" ORDER BY j.id",
		pipeline, PGRES_COMMAND_OK, EXIT_CONFIG, "read the undo journal"));
	for (;;) {
		PGresult *r = run(conn, "FETCH FORWARD " FETCH_ROWS " FROM pgs_journal", PGRES_TUPLES_OK,
			EXIT_SOFTWARE, "fetch the undo journal");
		int n = PQntuples(r);
		for (int i = 0; i < n; i++) {
			const char *bh = PQgetvalue(r, i, 1), *tbl = PQgetvalue(r, i, 2);
			sb_addf(&o->b, "{\"op\":\"undo\",\"block_number\":%s,\"block_hash\":", PQgetvalue(r, i, 0));
			sb_add_jstr(&o->b, bh, strlen(bh));
			sb_adds(&o->b, ",\"table\":");
			sb_add_jstr(&o->b, tbl, strlen(tbl));
			sb_adds(&o->b, ",\"key\":");
			sb_adds(&o->b, PQgetvalue(r, i, 3));
			sb_adds(&o->b, ",\"before\":");
			sb_adds(&o->b, PQgetisnull(r, i, 4) ? "null" : PQgetvalue(r, i, 4));
			sb_adds(&o->b, "}\n");
			out_flush(o, 0);
		}
		PQclear(r);
		if (n == 0)
			break;
	}
	PQclear(run(conn, "CLOSE pgs_journal", PGRES_COMMAND_OK, EXIT_SOFTWARE, "close a cursor"));
}

int pgs_dump(PGconn *conn, int fd, const char *pipeline)
{
	struct out o = {fd, SB_INIT};
	PQclear(run(conn, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", PGRES_COMMAND_OK,
		EXIT_TEMPFAIL, "start a transaction"));
	/* Append-only (history) tables are outputs, not state (docs/formats.md). */
	/* A shard (sql/025) dumps its share of the tables of the pipeline it follows. */
	PGresult *tabs = run1(conn,
		"SELECT t.table_name, t.snapshot_view, CASE WHEN p.shard_count IS NOT NULL THEN t.vault_column END,"
		" p.shard_index, p.shard_count FROM pl_state_tables t JOIN pl_pipeline p ON p.name = $1"
		" WHERE (t.pipeline = p.name OR t.pipeline = p.follows) AND NOT t.append_only"
		" ORDER BY t.table_name COLLATE \"C\"",
		pipeline, PGRES_TUPLES_OK, EXIT_CONFIG, "read pl_state_tables");
	for (int i = 0; i < PQntuples(tabs); i++)
		dump_table(conn, &o, PQgetvalue(tabs, i, 0), PQgetisnull(tabs, i, 1) ? NULL : PQgetvalue(tabs, i, 1),
			PQgetisnull(tabs, i, 2) ? NULL : PQgetvalue(tabs, i, 2), PQgetvalue(tabs, i, 3),
			PQgetvalue(tabs, i, 4));
	PQclear(tabs);
	dump_journal(conn, &o, pipeline);
	PGresult *r = run1(conn, "SELECT driver_id, seq, finalized FROM pl_checkpoint WHERE pipeline = $1", pipeline,
		PGRES_TUPLES_OK, EXIT_CONFIG, "read the checkpoint");
	if (PQntuples(r) == 1)
		sb_addf(&o.b, "{\"op\":\"checkpoint\",\"driver_id\":%s,\"seq\":%s,\"finalized\":%s}\n",
			PQgetvalue(r, 0, 0), PQgetvalue(r, 0, 1), PQgetvalue(r, 0, 2));
	PQclear(r);
	PQclear(run(conn, "COMMIT", PGRES_COMMAND_OK, EXIT_TEMPFAIL, "end the transaction"));
	out_flush(&o, 1);
	sb_free(&o.b);
	return 0;
}
