/*
 * catalog.c -- see catalog.h.  Plain queries (the pl_state_tables check,
 * then pg_attribute/pg_type/pg_index), never in pipeline mode; pg-write
 * keeps what they return for the whole process.
 */
#include <stdlib.h>
#include <string.h>

#include "core/die.h"
#include "core/io.h"
#include "core/json.h"
#include "pg/catalog.h"
#include "pg/pgconn.h"

/* int2vector subscripts start at 0: the key position is made 1-based. */
static const char cat_sql[] =
	"SELECT a.attname, a.atttypid::int8, a.atttypmod, t.typcategory,"
	" coalesce(array_position(i.indkey::int2[], a.attnum) - array_lower(i.indkey::int2[], 1) + 1, 0)"
	" FROM pg_catalog.pg_attribute a"
	" JOIN pg_catalog.pg_type t ON t.oid = a.atttypid"
	" LEFT JOIN pg_catalog.pg_index i ON i.indrelid = a.attrelid AND i.indisprimary"
	" WHERE a.attrelid = to_regclass(quote_ident($1)) AND a.attnum > 0 AND NOT a.attisdropped"
	" ORDER BY a.attnum";

int cat_table_reject(struct cat_table *t, const char *why)
{
	t->state = -1;
	free(t->reason);
	t->reason = xstrdup(why);
	return error("%s", why);
}

void cat_add_ident(struct sb *out, PGconn *conn, const char *name)
{
	char *q = PQescapeIdentifier(conn, name, strlen(name));
	if (!q)
		die_code(EXIT_SOFTWARE, "unable to quote identifier '%s': %s", name, PQerrorMessage(conn));
	sb_adds(out, q);
	PQfreemem(q);
}

void cat_add_collist(struct sb *out, PGconn *conn, const struct cat_table *t)
{
	for (int i = 0; i < t->ncols; i++) {
		if (i)
			sb_addc(out, ',');
		cat_add_ident(out, conn, t->cols[i].name);
	}
}

int cat_table_load(PGconn *conn, struct cat_table *t, const char *pipeline)
{
	const char *p[2] = {t->name, pipeline};
	struct sb why = SB_INIT;
	PGresult *r;
	if (pipeline) {
		r = PQexecParams(conn, "SELECT 1 FROM pl_state_tables WHERE table_name = $1 AND (pipeline = $2"
				       " OR pipeline = (SELECT follows FROM pl_pipeline WHERE name = $2))",
			2, NULL, p,
			NULL, NULL, 0);
		if (PQresultStatus(r) != PGRES_TUPLES_OK)
			pgc_die(conn, r, EXIT_CONFIG, "look up pl_state_tables");
		int n = PQntuples(r);
		PQclear(r);
		if (!n) {
			sb_addf(&why, "table \"%s\" is not registered in pl_state_tables for pipeline '%s'", t->name, pipeline);
			int rc = cat_table_reject(t, why.buf);
			sb_free(&why);
			return rc;
		}
	}
	r = PQexecParams(conn, cat_sql, 1, NULL, p, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_TUPLES_OK)
		pgc_die(conn, r, EXIT_SOFTWARE, "look up a table in pg_catalog");
	int n = PQntuples(r);
	if (n == 0)
		sb_addf(&why, "table \"%s\" does not exist", t->name);
	t->ncols = n;
	t->cols = xcalloc((size_t)(n ? n : 1), sizeof *t->cols);
	t->pk = xcalloc((size_t)(n ? n : 1), sizeof *t->pk);
	t->npk = 0;
	for (int i = 0; i < n; i++) {
		struct cat_col *c = &t->cols[i];
		c->name = xstrdup(PQgetvalue(r, i, 0));
		c->typid = (unsigned)strtoul(PQgetvalue(r, i, 1), NULL, 10);
		c->typmod = atoi(PQgetvalue(r, i, 2));
		c->typcat = PQgetvalue(r, i, 3)[0];
		c->pkpos = atoi(PQgetvalue(r, i, 4));
		if (c->pkpos > 0 && c->pkpos <= n) {
			t->pk[c->pkpos - 1] = i;
			t->npk++;
		}
	}
	PQclear(r);
	if (n && t->npk == 0)
		sb_addf(&why, "table \"%s\" has no primary key", t->name);
	if (why.len) {
		int rc = cat_table_reject(t, why.buf);
		sb_free(&why);
		return rc;
	}
	sb_reset(&why);
	cat_add_ident(&why, conn, t->name);
	free(t->qname);
	t->qname = xstrdup(why.buf);
	sb_free(&why);
	t->state = 1;
	return 0;
}

void cat_table_free(struct cat_table *t)
{
	for (int i = 0; i < t->ncols; i++)
		free(t->cols[i].name);
	free(t->cols);
	free(t->pk);
	free(t->name);
	free(t->reason);
	free(t->qname);
	memset(t, 0, sizeof *t);
}

void cat_add_value(struct sb *out, const struct cat_col *col, const char *val, int isnull)
{
	if (isnull)
		sb_add(out, "null", 4);
	else if (col->typcat == 'B')
		sb_adds(out, val[0] == 't' ? "true" : "false");
	else
		sb_add_jstr(out, val, strlen(val));
}
