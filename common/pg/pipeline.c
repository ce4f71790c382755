/*
 * pipeline.c -- see pipeline.h.
 */
#include <stdlib.h>
#include <string.h>

#include "core/die.h"
#include "core/io.h"
#include "pg/pgconn.h"
#include "pg/pipeline.h"

static int valid_name(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 63 || s[0] < 'a' || s[0] > 'z')
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_' || s[i] == '-'))
			return 0;
	return 1;
}

const char *pip_default_name(const char *name)
{
	if (name && *name)
		return name;
	const char *e = getenv("PL_PIPELINE");
	return e && *e ? e : NULL;
}

void pip_set(char **field, const char *value)
{
	if (!value)
		return;
	free(*field);
	*field = *value ? xstrdup(value) : NULL;
}

int pip_set_order(struct pip *p, const char *list)
{
	if (!list || !*list)
		return 0;
	for (int i = 0; i < p->norder; i++)
		free(p->order[i]);
	p->norder = 0;
	const char *s = list;
	for (;;) {
		size_t n = strcspn(s, ",");
		if (n == 0)
			return error("empty column name in '%s'", list);
		if (p->norder == PIP_MAX_ORDER)
			return error("more than %d order columns in '%s'", PIP_MAX_ORDER, list);
		p->order[p->norder++] = xstrndup(s, n);
		if (!s[n])
			return 0;
		s += n + 1;
	}
}

/* "{a,b}" (a text[] of plain identifiers, as the CHECK allows) into p->order. */
static int parse_order(struct pip *p, const char *arr)
{
	size_t n = strlen(arr);
	if (n < 2 || arr[0] != '{' || arr[n - 1] != '}')
		return error("bad order_columns '%s'", arr);
	char *inner = xstrndup(arr + 1, n - 2);
	/* identifiers that needed quoting come back as "a b": strip the quotes */
	char *o = inner;
	for (char *c = inner; *c; c++)
		if (*c != '"')
			*o++ = *c;
	*o = '\0';
	int r = pip_set_order(p, inner);
	free(inner);
	return r;
}

void pip_resolve(PGconn *conn, const char *name, struct pip *p)
{
	memset(p, 0, sizeof *p);
	name = pip_default_name(name);
	if (name && !valid_name(name))
		die_code(EXIT_CONFIG, "unable to use pipeline name '%s': want [a-z][a-z0-9_-]*, at most 63 bytes", name);
	const char *vals[1] = {name};
	PGresult *r = PQexecParams(conn,
		"SELECT name, work_table, channel, order_columns::text, id_column, done_column,"
		" follows, shard_index, shard_count,"
		/* (read through to_jsonb: a registry without sql/040 has no such column) */
		" to_jsonb(p)->>'search_path' FROM pl_pipeline p"
		" WHERE name = $1 OR $1 IS NULL ORDER BY work_table IS NULL, name LIMIT 2",
		1, NULL, vals, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		const char *st = PQresultErrorField(r, PG_DIAG_SQLSTATE);
		if (st && !strcmp(st, "42P01"))
			pgc_die(conn, r, EXIT_CONFIG, "read pl_pipeline (is the schema migrated? see pl-migrate)");
		pgc_die(conn, r, EXIT_CONFIG, "read pl_pipeline");
	}
	int n = PQntuples(r);
	/* No name given: a pipeline without a work table (a Redis or JSON-RPC
	 * source, sql/010) is never the implicit default beside one that has
	 * one -- pg-listen cannot serve it, its supervisor names it. */
	if (!name && n == 2 && !PQgetisnull(r, 0, 1) && PQgetisnull(r, 1, 1))
		n = 1; /* rows with a work table sort first: row 0 is the only one */
	if (n == 0) {
		PQclear(r);
		if (name)
			die_code(EXIT_CONFIG, "unable to find pipeline '%s' in pl_pipeline", name);
		die_code(EXIT_CONFIG, "unable to choose a pipeline: none is registered in pl_pipeline");
	}
	if (n > 1) {
		PQclear(r);
		die_code(EXIT_CONFIG, "unable to choose a pipeline: several are registered in pl_pipeline "
				      "(name one with --pipeline or PL_PIPELINE)");
	}
	p->name = xstrdup(PQgetvalue(r, 0, 0));
	/* no work table (sql/010): the work items come from elsewhere */
	if (!PQgetisnull(r, 0, 1)) {
		p->work_table = xstrdup(PQgetvalue(r, 0, 1));
		p->channel = xstrdup(PQgetvalue(r, 0, 2));
		p->id_column = xstrdup(PQgetvalue(r, 0, 4));
		if (!PQgetisnull(r, 0, 5))
			p->done_column = xstrdup(PQgetvalue(r, 0, 5));
		if (parse_order(p, PQgetvalue(r, 0, 3)) < 0)
			die_code(EXIT_CONFIG, "unable to use pipeline '%s': %s", p->name, err_msg());
	}
	if (!PQgetisnull(r, 0, 9))
		p->search_path = xstrdup(PQgetvalue(r, 0, 9));
	if (!PQgetisnull(r, 0, 6)) {
		p->follows = xstrdup(PQgetvalue(r, 0, 6));
		p->shard_index = atoi(PQgetvalue(r, 0, 7));
		p->shard_count = atoi(PQgetvalue(r, 0, 8));
	}
	PQclear(r);
	if (pip_apply_search_path(conn, p) < 0)
		die_code(EXIT_TEMPFAIL, "unable to set the search_path of pipeline '%s': %s", p->name, err_msg());
}

int pip_apply_search_path(PGconn *conn, const struct pip *p)
{
	if (!p->search_path)
		return 0;
	const char *vals[1] = {p->search_path};
	PGresult *r = PQexecParams(conn, "SELECT set_config('search_path', $1, false)", 1, NULL, vals, NULL, NULL, 0);
	if (PQresultStatus(r) == PGRES_TUPLES_OK) {
		PQclear(r);
		return 0;
	}
	if (pgc_conn_lost(conn, r)) {
		int e = error("%s", PQerrorMessage(conn));
		PQclear(r);
		return e;
	}
	pgc_die(conn, r, EXIT_CONFIG, "set the search_path of the pipeline");
}

void pip_free(struct pip *p)
{
	free(p->name);
	free(p->work_table);
	free(p->channel);
	free(p->id_column);
	free(p->done_column);
	free(p->search_path);
	free(p->follows);
	for (int i = 0; i < p->norder; i++)
		free(p->order[i]);
	memset(p, 0, sizeof *p);
}

int pip_try_lock(PGconn *conn, const struct pip *p, const char *key)
{
	const char *vals[2] = {key, p->name};
	/* hashtextextended: a stable 64-bit hash of the name, namespaced so
	 * that other users of advisory locks are unlikely to collide */
	PGresult *r = PQexecParams(conn,
		"SELECT pg_try_advisory_lock(coalesce($1::bigint, hashtextextended('pl_pipeline:' || $2, 0)))",
		2, NULL, vals, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_TUPLES_OK)
		pgc_die(conn, r, EXIT_TEMPFAIL, "take the advisory lock");
	int got = PQgetvalue(r, 0, 0)[0] == 't';
	PQclear(r);
	return got;
}
