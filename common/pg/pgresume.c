/*
 * pgresume.c -- the resume point of a source without a work table: the
 * checkpoint (pl_checkpoint) and the newest journal blocks
 * (pl_journal_block) of one pipeline, read in one snapshot.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/die.h"
#include "pg/pgconn.h"
#include "pg/pgresume.h"

static PGresult *query(PGconn *conn, const char *sql, int n, const char *const *params)
{
	PGresult *res = PQexecParams(conn, sql, n, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		pgc_die(conn, res, pgc_schema_missing(res) ? EXIT_CONFIG : EXIT_TEMPFAIL, "read the checkpoint");
	return res;
}

static uint64_t u64(const char *s)
{
	return strtoull(s, NULL, 10);
}

void pgr_load(PGconn *conn, const char *pipeline, size_t max, struct pgr *out)
{
	memset(out, 0, sizeof(*out));
	pgc_exec_or_die(conn, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", PGRES_COMMAND_OK, "begin");
	const char *p[2] = {pipeline, NULL};
	PGresult *res = query(conn, "SELECT driver_id, seq, finalized FROM pl_checkpoint WHERE pipeline = $1", 1, p);
	if (PQntuples(res) == 1) {
		out->have_cp = 1;
		out->driver_id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
		out->seq = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
		out->finalized = u64(PQgetvalue(res, 0, 2));
	}
	PQclear(res);
	char lim[24];
	snprintf(lim, sizeof lim, "%zu", max);
	p[1] = lim;
	res = query(conn,
		"SELECT block_number::text, block_hash FROM pl_journal_block WHERE pipeline = $1 "
		"ORDER BY block_number DESC, ord DESC LIMIT $2::bigint",
		2, p);
	int n = PQntuples(res);
	out->blocks = xcalloc((size_t)n + 1, sizeof(*out->blocks));
	for (int i = 0; i < n; i++) {
		struct pgr_block *b = &out->blocks[n - 1 - i];
		b->number = u64(PQgetvalue(res, i, 0));
		snprintf(b->hash, sizeof b->hash, "%s", PQgetvalue(res, i, 1));
	}
	out->nblocks = (size_t)n;
	PQclear(res);
	pgc_exec_or_die(conn, "COMMIT", PGRES_COMMAND_OK, "commit");
}
